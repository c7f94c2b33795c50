//! The slow log (SLOWLOG, slowlog-log-slower-than, slowlog-max-len): the last commands
//! that took at least slowlog-log-slower-than microseconds (negative: none, 0: all), newest
//! first, each with a unique id, its unix time, its duration, its arguments as Redis
//! truncates them (at most 32, the last then saying how many more there were; each at
//! most 128 bytes, then how many more bytes), the client's address and name.
//!
//! Dispatch times every command already (INFO commandstats); it compares that duration
//! with `Monitor::watch_us` (the smallest threshold anything watches) and only a command
//! at or over it comes here (`dispatch::record_call`): a fast command costs one compare.
//! The log is shared by every worker, under a mutex taken only to add or read entries.
//! Like Redis, the length limit is applied when an entry is added (CONFIG SET
//! slowlog-max-len alone trims nothing).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::blocking::Waiter;
use crate::keyspace::now_ms;
use crate::server::client::{Client, ClientHandle};

/// Arguments kept per entry, and bytes kept per argument (Redis's SLOWLOG_ENTRY_MAX_*).
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    time: i64,
    us: u64,
    args: Vec<Vec<u8>>,
    addr: String,
    name: Vec<u8>,
}

#[derive(Default)]
struct Log {
    next_id: u64,
    entries: VecDeque<Entry>,
}

pub struct SlowLog {
    /// slowlog-log-slower-than (µs; negative: off) and slowlog-max-len, from the config.
    pub slower_than: AtomicI64,
    pub max_len: AtomicI64,
    log: Mutex<Log>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog { slower_than: AtomicI64::new(10000), max_len: AtomicI64::new(128), log: Mutex::default() }
    }
}

/// Arguments the slow log and MONITOR show as "(redacted)" (Redis's
/// redactClientCommandArgument): passwords of AUTH, HELLO AUTH and MIGRATE AUTH/AUTH2,
/// every argument of ACL SETUSER after the subcommand, and the values of CONFIG SET's
/// sensitive parameters.
pub fn redacted(args: &[&[u8]], i: usize) -> bool {
    use crate::command::args::eq;
    let name = args[0];
    if eq(name, "auth") {
        return args.len() <= 3 && i >= 1;
    }
    if eq(name, "hello") {
        return (2..args.len()).any(|j| eq(args[j], "auth") && (i == j + 1 || i == j + 2));
    }
    if eq(name, "migrate") {
        return crate::types::migrate::is_password(args, i);
    }
    if eq(name, "acl") {
        return args.len() >= 3 && eq(args[1], "setuser") && i >= 2;
    }
    if eq(name, "config")
        && args.len() >= 4
        && args.len().is_multiple_of(2)
        && eq(args[1], "set")
        && i >= 3
        && i % 2 == 1
    {
        return ["requirepass", "masterauth", "masteruser"].iter().any(|p| eq(args[i - 1], p));
    }
    false
}

/// The arguments as an entry keeps them.
fn truncated(args: &[&[u8]]) -> Vec<Vec<u8>> {
    let kept = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (j, a) in args[..kept].iter().enumerate() {
        if kept != args.len() && j == kept - 1 {
            out.push(format!("... ({} more arguments)", args.len() - kept + 1).into_bytes());
        } else if redacted(args, j) {
            out.push(b"(redacted)".to_vec());
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(s);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

impl SlowLog {
    /// Log a command that took `us` µs if that is slow enough (Redis's
    /// slowlogPushEntryIfNeeded). Commands run by a script are logged with an empty address
    /// and name, as Redis logs its script client's.
    pub fn push_if_needed(&self, client: &Client, args: &[&[u8]], us: u64) {
        self.push(if client.in_script { None } else { Some(&client.handle) }, args, us);
    }

    /// The entry of a command that blocked, once it is served or times out (not when its
    /// client goes away meanwhile), with the time it ran when it blocked.
    pub fn push_unblocked(&self, client: &ClientHandle, w: &Waiter) {
        let us = w.ran_us.load(Ordering::Relaxed);
        let args: Vec<&[u8]> = w.args.iter().map(|a| &a[..]).collect();
        self.push(Some(client), &args, us);
    }

    /// The entries of the waiters served meanwhile on this thread (`defer_unblocked`).
    fn flush_deferred(&self) {
        let served = SERVED.with(|s| std::mem::take(&mut *s.borrow_mut()));
        for (client, w) in served {
            self.push_unblocked(&client, &w);
        }
    }

    /// `client`: None for a script's command (an empty address and name).
    fn push(&self, client: Option<&ClientHandle>, args: &[&[u8]], us: u64) {
        let t = self.slower_than.load(Ordering::Relaxed);
        if t < 0 || us < t as u64 {
            return;
        }
        let (addr, name) = match client {
            None => (String::new(), Vec::new()),
            Some(h) => (h.addr.clone(), h.info.lock().name.clone()),
        };
        let args = truncated(args);
        let max = self.max_len.load(Ordering::Relaxed).max(0) as usize;
        let mut log = self.log.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(Entry { id, time: now_ms() / 1000, us, args, addr, name });
        log.entries.truncate(max);
    }

    pub fn reset(&self) {
        self.log.lock().entries.clear();
    }
}

thread_local! {
    /// Blocked commands served by the command running on this thread: logged after it
    /// (`flush_unblocked`), as Redis serves them after the command's call() has logged it.
    static SERVED: RefCell<Vec<(Arc<ClientHandle>, Arc<Waiter>)>> = const { RefCell::new(Vec::new()) };
}

/// A blocked command was just served, by the command running on this thread: kept for
/// `flush_unblocked` if it is slow enough to be logged.
pub fn defer_unblocked(srv: &super::Server, client: &Arc<ClientHandle>, w: &Arc<Waiter>) {
    let t = srv.slowlog.slower_than.load(Ordering::Relaxed);
    if t >= 0 && w.ran_us.load(Ordering::Relaxed) >= t as u64 {
        SERVED.with(|s| s.borrow_mut().push((client.clone(), w.clone())));
    }
}

/// Log the blocked commands served since the last flush on this thread (after the command
/// that served them is logged; `dispatch::record_call`, and where waiters are served outside
/// a command).
#[inline]
pub fn flush_unblocked(srv: &super::Server) {
    if SERVED.with(|s| !s.borrow().is_empty()) {
        srv.slowlog.flush_deferred();
    }
}

pub fn get(ctx: &mut Ctx) -> CmdResult {
    let count = match ctx.args.len() {
        2 => 10,
        3 => match crate::util::number::parse_i64(ctx.args[2]) {
            Some(n) if n >= -1 => n,
            _ => return Err(Error::msg("ERR count should be greater than or equal to -1")),
        },
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(&ctx.args[1][..ctx.args[1].len().min(128)])
            )))
        }
    };
    let log = ctx.srv.slowlog.log.lock();
    let n = if count == -1 { log.entries.len() } else { log.entries.len().min(count as usize) };
    let out = &mut *ctx.out;
    out.array(n);
    for e in log.entries.iter().take(n) {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time);
        out.int(e.us as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.addr.as_bytes());
        out.bulk(&e.name);
    }
    Ok(())
}

pub fn len(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.slowlog.log.lock().entries.len();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    super::conn::help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn truncation() {
        let long = vec![b'x'; 200];
        let t = truncated(&[b"set", b"k", &long]);
        assert_eq!(t[2].len(), 128 + "... (72 more bytes)".len());
        assert!(t[2].ends_with(b"x... (72 more bytes)"));
        let many: Vec<Vec<u8>> = (0..42).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = many.iter().map(|v| &v[..]).collect();
        let t = truncated(&refs);
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], b"30");
        assert_eq!(t[31], b"... (11 more arguments)");
        assert_eq!(truncated(&refs[..32]).len(), 32);
        assert_eq!(truncated(&refs[..32])[31], b"31");
    }
}
