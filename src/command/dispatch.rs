//! Dispatch: from an argument vector to a reply, with Redis's checks in Redis's order
//! (unknown command / subcommand, arity, authentication), then the locks the command table
//! asks for, the handler, and per-command statistics.

use std::time::Instant;

use super::spec::{flags, key_positions};
use super::table::{Command, Lock};
use super::{blocking, Ctx, Error};
use crate::keyspace::now_ms;
use crate::resp::write::ReplyWriter;
use crate::server::client::{Client, ReplyMode};
use crate::server::Server;

/// `%.Ns` of a C string: stops at the first NUL and after `max` bytes.
fn c_str(s: &[u8], max: usize) -> String {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(max);
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Resolve argv to a command, or Redis's unknown command / subcommand / arity error.
pub fn resolve<'t>(srv: &'t Server, args: &[&[u8]]) -> Result<&'t Command, Error> {
    let Some(base) = srv.commands.get(args[0]) else {
        let mut list = String::new();
        for a in &args[1..] {
            if list.len() >= 128 {
                break;
            }
            let room = 128 - list.len();
            list.push('\'');
            list.push_str(&c_str(a, room));
            list.push_str("' ");
        }
        return Err(Error::msg(format!(
            "ERR unknown command '{}', with args beginning with: {}",
            c_str(args[0], 128),
            list
        )));
    };
    let cmd = if args.len() >= 2 && !base.def.subcommands.is_empty() {
        let mut sub = args[1].to_vec();
        sub.make_ascii_lowercase();
        match base.subcommands.get(&sub) {
            Some(c) => c,
            None => {
                return Err(Error::msg(format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    c_str(args[1], 128),
                    c_str(args[0], usize::MAX).to_ascii_uppercase()
                )))
            }
        }
    } else {
        base
    };
    let arity = cmd.def.arity;
    let argc = args.len() as i32;
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", cmd.def.name)));
    }
    Ok(cmd)
}

/// The clock a batch of commands runs with: wall time read once per batch (commands of one
/// pipeline see one "now", microseconds apart in Redis), and a monotonic mark advanced once
/// per command to time it for INFO commandstats. One clock read per command instead of three.
pub struct BatchClock {
    pub now_ms: i64,
    last: Instant,
}

impl BatchClock {
    pub fn new() -> BatchClock {
        BatchClock { now_ms: now_ms(), last: Instant::now() }
    }

    /// Microseconds since the previous mark.
    fn lap(&mut self) -> u64 {
        let t = Instant::now();
        let us = t.duration_since(self.last).as_micros() as u64;
        self.last = t;
        us
    }
}

impl Default for BatchClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Execute one command and append its reply to `out`.
pub fn execute(srv: &Server, client: &mut Client, args: &[&[u8]], out: &mut ReplyWriter, clock: &mut BatchClock) {
    debug_assert!(!args.is_empty());
    let slot = client.worker;
    srv.stats.commands.add(slot, 1);
    let mark = out.len();
    let cmd = match resolve(srv, args) {
        Ok(c) => c,
        Err(e) => {
            srv.stats.rejected_calls.add(slot, 1);
            srv.count_error(&e.0);
            out.error(&e.0);
            client.after_reply(out, mark);
            return;
        }
    };
    if srv.auth_required() && !client.authenticated && !cmd.def.has(flags::NO_AUTH) {
        cmd.rejected_calls.add(slot, 1);
        srv.count_error("NOAUTH");
        out.error("NOAUTH Authentication required.");
        client.after_reply(out, mark);
        return;
    }
    clock.lap();
    let failed = run(srv, client, cmd, args, out, clock.now_ms);
    cmd.record(slot, clock.lap(), failed);
    client.last_command = cmd.def.name;
    client.after_reply(out, mark);
}

/// The key arguments of a command, from the table. Commands without movable keys use the
/// legacy (first, last, step) range, which Redis derives from their key specs and which is
/// exact for them; the others go through the full key-spec extraction.
pub fn command_keys<'x>(cmd: &Command, args: &[&'x [u8]]) -> smallvec::SmallVec<[&'x [u8]; 4]> {
    let def = cmd.def;
    if def.has(flags::MOVABLE_KEYS) {
        return key_positions(def, args).iter().filter_map(|&i| args.get(i).copied()).collect();
    }
    let mut keys = smallvec::SmallVec::new();
    if def.first_key <= 0 {
        return keys;
    }
    let argc = args.len() as i32;
    let last = if def.last_key < 0 { argc + def.last_key } else { def.last_key };
    let step = def.key_step.max(1);
    let mut i = def.first_key;
    while i <= last && i < argc {
        keys.push(args[i as usize]);
        i += step;
    }
    keys
}

/// Lock what the command needs and call its handler. Returns true if it replied an error.
fn run(srv: &Server, client: &mut Client, cmd: &Command, args: &[&[u8]], out: &mut ReplyWriter, now: i64) -> bool {
    let (failed, deferred) = {
        // Guards are declared before the access so they are released after it.
        let _shared;
        let _exclusive;
        let mut ks = match cmd.lock {
            Lock::Keys => {
                _shared = srv.ks.enter(client.worker);
                let keys = command_keys(cmd, args);
                srv.ks.access(client.db, &keys, now)
            }
            Lock::Exclusive => {
                _exclusive = srv.ks.enter_exclusive();
                srv.ks.access_exclusive(client.db, now)
            }
        };
        ks.no_touch = client.no_touch && cmd.def.name != "touch";
        ks.slot = client.worker;
        ks.lfu = srv.lfu_params();
        let failed = call(srv, client, cmd.handler, args, out, &mut ks);
        // Clients blocked on keys this command filled are served before its locks are
        // released and before its reply is sent (see command::blocking).
        let deferred = if ks.ready.is_empty() { Vec::new() } else { blocking::serve_ready(srv, &mut ks) };
        (failed, deferred)
    };
    if !deferred.is_empty() {
        blocking::serve_deferred(srv, client.worker, deferred, now);
    }
    failed
}

/// Call a handler with a locked keyspace view; an error becomes the reply. True if it failed.
pub fn call<'a>(
    srv: &'a Server,
    client: &mut Client,
    handler: super::Handler,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    ks: &mut crate::keyspace::Access<'a>,
) -> bool {
    let mut ctx = Ctx { srv, client, out, ks, args };
    match handler(&mut ctx) {
        Ok(()) => false,
        Err(e) => {
            srv.count_error(&e.0);
            ctx.out.error(&e.0);
            true
        }
    }
}

impl Client {
    /// Apply CLIENT REPLY OFF/SKIP to the reply just written.
    fn after_reply(&mut self, out: &mut ReplyWriter, mark: usize) {
        match self.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => out.truncate(mark),
            ReplyMode::SkipNext => self.reply_mode = ReplyMode::Skip,
            ReplyMode::Skip => {
                out.truncate(mark);
                self.reply_mode = ReplyMode::On;
            }
        }
    }
}
