//! MIGRATE (cluster.c's migrateCommand) to a single instance, as redis-cli and tools use it:
//!
//! ```text
//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//!         [AUTH2 username password] [KEYS key ...]
//! ```
//!
//! The keys found are sent to the target as `RESTORE key ttl payload [REPLACE]` (the DUMP
//! payload, the remaining TTL in ms or 0), after `AUTH` and, when the cached connection's
//! database is not the one asked for, `SELECT db`, all in one write; then one reply line is
//! read per command sent. Keys the target acknowledged are deleted here unless COPY (and
//! count as a DEL: event, dirty, WATCH). Replies as Redis's: `+NOKEY` when no key exists,
//! `-ERR Target instance replied with error: <its error>` (keys acknowledged before the error
//! are deleted all the same), `-IOERR error or timeout connecting to the client` (the name
//! does not resolve, the connection does not come up in time), `-IOERR error or timeout
//! writing|reading to target instance`.
//!
//! Connections are cached per "host:port" for 10 s of idleness (the cron closes them, as
//! Redis's migrateCloseTimedoutSockets), 64 at most, with the database last selected, so a
//! run of MIGRATEs costs one connection and one SELECT. A command takes its connection out
//! of the cache while it uses it (two workers migrating to one target use two). As in Redis,
//! a broken connection (a cached one the target closed, a refused connect, which Redis
//! only sees when it writes) is retried once on a new one, unless the failure was a timeout;
//! a refused connect therefore ends as "writing".
//!
//! The exchange is synchronous, inside the handler, under the command's key locks: each
//! connect, write and read waits at most `timeout` ms, as Redis's connBlockingConnect,
//! connSyncWrite and connSyncReadLine do. Redis blocks its whole server meanwhile; here the
//! calling worker's other clients wait (and exclusive commands, which need every worker's
//! gate), while the other workers go on serving everything else. A MIGRATE to the server
//! itself therefore waits for its own RESTORE until the timeout, as in Redis.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::dict::NO_EXPIRE;
use crate::persist::{rdb, value};
use crate::server::notify;

/// Cached connections idle longer than this are closed (MIGRATE_SOCKET_CACHE_TTL).
const IDLE_TTL: Duration = Duration::from_secs(10);
/// At most this many cached connections (MIGRATE_SOCKET_CACHE_ITEMS).
const MAX_CACHED: usize = 64;
/// Longest reply line read, as Redis's 1024-byte buffers (the rest stays for the next read).
const MAX_LINE: usize = 1023;

/// A connection to a target, with what it has read past the last line.
pub struct Target {
    stream: TcpStream,
    pending: Vec<u8>,
    /// The database the target has selected for this connection; -1 when unknown.
    last_dbid: i64,
    last_use: Instant,
}

/// The cached connections by "host:port" (Server::migrate_sockets).
#[derive(Default)]
pub struct Sockets {
    cached: Mutex<HashMap<Vec<u8>, Target>>,
}

impl Sockets {
    /// Close the connections idle for 10 s (called by the cron once a second).
    pub fn close_idle(&self) {
        let mut cached = self.cached.lock();
        if !cached.is_empty() {
            cached.retain(|_, t| t.last_use.elapsed() < IDLE_TTL);
        }
    }

    fn take(&self, name: &[u8]) -> Option<Target> {
        self.cached.lock().remove(name)
    }

    fn put_back(&self, name: Vec<u8>, mut t: Target) {
        t.last_use = Instant::now();
        let mut cached = self.cached.lock();
        if cached.len() >= MAX_CACHED && !cached.contains_key(&name) {
            // Redis drops one at random; any one will do.
            if let Some(k) = cached.keys().next().cloned() {
                cached.remove(&k);
            }
        }
        cached.insert(name, t);
    }
}

/// How a connection attempt ended.
enum Connect {
    Ok(Target),
    /// Redis's connBlockingConnect failed: no address, or not connected within the timeout.
    Failed,
    /// Connected as far as Redis can tell (its non-blocking connect is under way) but broken
    /// (refused): its first write fails.
    Broken,
}

/// Redis's atoi of the port: leading digits (after blanks and a sign), 0 when none.
fn atoi(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| n.wrapping_mul(10).wrapping_add((c - b'0') as i64));
    if neg {
        -n
    } else {
        n
    }
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Connect {
    let port = atoi(port);
    let Ok(port) = u16::try_from(port) else { return Connect::Failed };
    let Ok(host) = std::str::from_utf8(host) else { return Connect::Failed };
    let Some(addr) = (host, port).to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return Connect::Failed;
    };
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            Connect::Ok(Target { stream, pending: Vec::new(), last_dbid: -1, last_use: Instant::now() })
        }
        Err(e) if is_timeout(&e) => Connect::Failed,
        Err(_) => Connect::Broken,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

impl Target {
    fn write_all(&mut self, buf: &[u8], timeout: Duration) -> io::Result<()> {
        self.stream.set_write_timeout(Some(timeout))?;
        self.stream.write_all(buf)
    }

    /// One reply line without its CRLF (connSyncReadLine), at most MAX_LINE bytes.
    fn read_line(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        self.stream.set_read_timeout(Some(timeout))?;
        loop {
            if let Some(i) = self.pending.iter().take(MAX_LINE).position(|&c| c == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.pending.len() >= MAX_LINE {
                return Ok(self.pending.drain(..MAX_LINE).collect());
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

struct Options<'a> {
    copy: bool,
    replace: bool,
    /// (username, password) of AUTH / AUTH2.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// Index of the first key argument, and how many.
    first_key: usize,
    num_keys: usize,
}

fn parse<'a>(args: &[&'a [u8]]) -> Result<Options<'a>, Error> {
    let mut o = Options { copy: false, replace: false, auth: None, first_key: 3, num_keys: 1 };
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = args[j];
        if eq(a, "copy") {
            o.copy = true;
        } else if eq(a, "replace") {
            o.replace = true;
        } else if eq(a, "auth") {
            if more < 1 {
                return Err(err::SYNTAX);
            }
            o.auth = Some((None, args[j + 1]));
            j += 1;
        } else if eq(a, "auth2") {
            if more < 2 {
                return Err(err::SYNTAX);
            }
            o.auth = Some((Some(args[j + 1]), args[j + 2]));
            j += 2;
        } else if eq(a, "keys") {
            if !args[3].is_empty() {
                return Err(Error::msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.first_key = j + 1;
            o.num_keys = more;
            break;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// Whether argument `i` is a credential MONITOR shows as "(redacted)": AUTH's password,
/// AUTH2's username and password, among the options `parse` got through before it stopped.
pub fn is_password(args: &[&[u8]], i: usize) -> bool {
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq(args[j], "auth") && more >= 1 {
            if i == j + 1 {
                return true;
            }
            j += 1;
        } else if eq(args[j], "auth2") && more >= 2 {
            if i == j + 1 || i == j + 2 {
                return true;
            }
            j += 2;
        } else if !eq(args[j], "copy") && !eq(args[j], "replace") {
            return false;
        }
        j += 1;
    }
    false
}

fn io_error(what: &str) -> Error {
    Error::msg(format!("IOERR error or timeout {what} to target instance"))
}

/// What one attempt at the exchange came to.
enum Attempt {
    /// Nothing was acknowledged, and the failure allows one more try on a new connection.
    Retry,
    /// The exchange is over: which keys (indexes into the RESTOREs) the target acknowledged,
    /// and the reply.
    Done(Vec<usize>, CmdResult),
}

pub fn migrate(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let o = parse(args)?;
    let timeout = int(args[5])?;
    let dbid = int(args[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys here (one past its expiry is not found), with their RESTORE commands.
    let compress = ctx.srv.config.read().bool("rdbcompression");
    let now = ctx.ks.now_ms;
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut restores = Vec::new();
    let mut payload = Vec::new();
    for &key in &args[o.first_key..o.first_key + o.num_keys] {
        let Some(e) = ctx.ks.get(key) else { continue };
        let ttl = if e.expire_at_ms == NO_EXPIRE { 0 } else { (e.expire_at_ms - now).max(1) };
        payload.clear();
        value::save(&mut payload, &e.value, compress);
        rdb::seal_payload(&mut payload);
        let ttl = itoa::Buffer::new().format(ttl).to_owned();
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), &payload];
        if o.replace {
            argv.push(b"REPLACE");
        }
        crate::persist::aof::put_command(&mut restores, &argv);
        keys.push(key);
    }
    if keys.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }

    let mut name = args[1].to_vec();
    name.push(b':');
    name.extend_from_slice(args[2]);
    let sockets = &ctx.srv.migrate_sockets;
    let mut may_retry = true;
    let (acked, reply) = loop {
        let target = match sockets.take(&name) {
            Some(t) => Connect::Ok(t),
            None => connect(args[1], args[2], timeout),
        };
        let mut t = match target {
            Connect::Ok(t) => t,
            Connect::Failed => return Err(Error::msg("IOERR error or timeout connecting to the client")),
            Connect::Broken if may_retry => {
                may_retry = false;
                continue;
            }
            Connect::Broken => return Err(io_error("writing")),
        };
        match exchange(&mut t, &o, dbid, &restores, keys.len(), timeout, may_retry) {
            (Attempt::Retry, _) => may_retry = false,
            (Attempt::Done(acked, reply), keep) => {
                if keep {
                    sockets.put_back(name, t);
                }
                break (acked, reply);
            }
        }
    };
    if !o.copy {
        for &i in &acked {
            notify::delete(ctx, keys[i]);
        }
        ctx.ks.mark_dirty(acked.len() as u64);
        // Replayed as the deletion of the keys the target took.
        ctx.ks.propagate_as(|| {
            let mut argv = crate::persist::propagate::argv(&[b"DEL"]);
            argv.extend(acked.iter().map(|&i| keys[i].to_vec()));
            argv
        });
    }
    reply.map(|()| ctx.out.ok())
}

/// One attempt on connection `t`: the commands written, the replies read. The bool says
/// whether `t` is still good for the cache.
fn exchange(
    t: &mut Target,
    o: &Options,
    dbid: i64,
    restores: &[u8],
    n: usize,
    timeout: Duration,
    may_retry: bool,
) -> (Attempt, bool) {
    let failed = |e: io::Error, what: &str| {
        if may_retry && !is_timeout(&e) {
            (Attempt::Retry, false)
        } else {
            (Attempt::Done(Vec::new(), Err(io_error(what))), false)
        }
    };
    let mut cmd = Vec::with_capacity(restores.len() + 64);
    if let Some((user, pass)) = o.auth {
        match user {
            Some(u) => crate::persist::aof::put_command(&mut cmd, &[b"AUTH", u, pass]),
            None => crate::persist::aof::put_command(&mut cmd, &[b"AUTH", pass]),
        }
    }
    let select = t.last_dbid != dbid;
    if select {
        crate::persist::aof::put_command(&mut cmd, &[b"SELECT", itoa::Buffer::new().format(dbid).as_bytes()]);
    }
    cmd.extend_from_slice(restores);
    if let Err(e) = t.write_all(&cmd, timeout) {
        return failed(e, "writing");
    }
    // AUTH's and SELECT's replies; an error there makes every RESTORE count as failed.
    let mut early_error: Option<Vec<u8>> = None;
    for _ in 0..(o.auth.is_some() as usize + select as usize) {
        match t.read_line(timeout) {
            Ok(line) if line.first() == Some(&b'-') => {
                early_error.get_or_insert(line);
            }
            Ok(_) => {}
            Err(e) => return failed(e, "reading"),
        }
    }
    let mut acked = Vec::new();
    let mut target_error: Option<Vec<u8>> = None;
    for j in 0..n {
        let line = match t.read_line(timeout) {
            Ok(line) => line,
            Err(e) => {
                // Only a failure on the first reply can be retried: nothing was done yet.
                if j == 0 && may_retry && !is_timeout(&e) {
                    return (Attempt::Retry, false);
                }
                let reply = Err(target_error.as_deref().map_or_else(|| io_error("reading"), target_reply));
                return (Attempt::Done(acked, reply), false);
            }
        };
        if early_error.is_some() || line.first() == Some(&b'-') {
            if target_error.is_none() {
                target_error = Some(early_error.clone().unwrap_or(line));
            }
        } else {
            acked.push(j);
        }
    }
    if let Some(line) = target_error {
        // The database the target is in is no longer known.
        t.last_dbid = -1;
        return (Attempt::Done(acked, Err(target_reply(&line))), true);
    }
    t.last_dbid = dbid;
    (Attempt::Done(acked, Ok(())), true)
}

/// "Target instance replied with error: <the target's error line without its '-'>".
fn target_reply(line: &[u8]) -> Error {
    let text = line.get(1..).unwrap_or_default();
    Error::msg(format!("ERR Target instance replied with error: {}", String::from_utf8_lossy(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_as_c() {
        assert_eq!(atoi(b"6379"), 6379);
        assert_eq!(atoi(b" 12abc"), 12);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"-1"), -1);
        assert_eq!(atoi(b""), 0);
    }

    #[test]
    fn options_in_redis_order() {
        let a = |s: &[&'static str]| s.iter().map(|x| x.as_bytes()).collect::<Vec<_>>();
        let o =
            parse(&a(&["MIGRATE", "h", "1", "", "0", "5", "copy", "AUTH2", "u", "p", "KEYS", "a", "b"])).ok().unwrap();
        assert!(o.copy && !o.replace);
        assert_eq!(o.auth, Some((Some(&b"u"[..]), &b"p"[..])));
        assert_eq!((o.first_key, o.num_keys), (11, 2));
        // KEYS ends the options: what follows are keys, whatever they look like.
        let o = parse(&a(&["MIGRATE", "h", "1", "", "0", "5", "KEYS", "copy"])).ok().unwrap();
        assert!(!o.copy && o.num_keys == 1);
        for bad in [
            &["MIGRATE", "h", "1", "k", "0", "5", "AUTH"][..],
            &["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u"],
            &["MIGRATE", "h", "1", "k", "0", "5", "nope"],
        ] {
            assert!(parse(&a(bad)).is_err());
        }
        assert!(parse(&a(&["MIGRATE", "h", "1", "k", "0", "5", "KEYS", "a"])).is_err());
    }

    #[test]
    fn credentials_redacted_as_redis_does() {
        let a = |s: &[&'static str]| s.iter().map(|x| x.as_bytes()).collect::<Vec<_>>();
        let redacted = |s: &[&'static str]| (0..s.len()).filter(|&i| is_password(&a(s), i)).collect::<Vec<_>>();
        assert_eq!(redacted(&["MIGRATE", "h", "1", "k", "0", "5", "COPY", "AUTH", "pw"]), [8]);
        assert_eq!(redacted(&["MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "pw", "KEYS", "auth", "x"]), [7, 8]);
        assert_eq!(redacted(&["MIGRATE", "h", "1", "k", "0", "5", "AUTH"]), Vec::<usize>::new());
        assert_eq!(redacted(&["MIGRATE", "h", "1", "k", "0", "5", "AUTH", "pw", "bogus", "AUTH", "x"]), [7]);
    }
}
