//! Dispatch: from an argument vector to a reply, with Redis's checks in Redis's order
//! (unknown command / subcommand, arity, authentication), then the locks the command table
//! asks for, the handler, and per-command statistics.

use std::time::Instant;

use super::spec::{flags, key_positions};
use super::table::{Command, Lock};
use super::{Ctx, Error};
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

/// Execute one command and append its reply to `out`.
pub fn execute(srv: &Server, client: &mut Client, args: &[&[u8]], out: &mut ReplyWriter) {
    debug_assert!(!args.is_empty());
    srv.stats.commands.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mark = out.len();
    let cmd = match resolve(srv, args) {
        Ok(c) => c,
        Err(e) => {
            srv.stats.rejected_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.error(&e.0);
            client.after_reply(out, mark);
            return;
        }
    };
    if srv.auth_required() && !client.authenticated && !cmd.def.has(flags::NO_AUTH) {
        cmd.rejected_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out.error("NOAUTH Authentication required.");
        client.after_reply(out, mark);
        return;
    }
    let started = Instant::now();
    let failed = run(srv, client, cmd, args, out);
    cmd.record(started.elapsed().as_micros() as u64, failed);
    client.last_command = cmd.def.name;
    client.after_reply(out, mark);
}

/// Lock what the command needs and call its handler. Returns true if it replied an error.
fn run(srv: &Server, client: &mut Client, cmd: &Command, args: &[&[u8]], out: &mut ReplyWriter) -> bool {
    let now = now_ms();
    // Guards are declared before the access so they are released after it.
    let _shared;
    let _exclusive;
    let mut ks = match cmd.lock {
        Lock::Keys => {
            _shared = srv.ks.enter(client.worker);
            let pos = key_positions(cmd.def, args);
            let keys: smallvec::SmallVec<[&[u8]; 4]> = pos.iter().filter_map(|&i| args.get(i).copied()).collect();
            srv.ks.access(client.db, &keys, now)
        }
        Lock::Exclusive => {
            _exclusive = srv.ks.enter_exclusive();
            srv.ks.access_exclusive(client.db, now)
        }
    };
    ks.no_touch = client.no_touch && cmd.def.name != "touch";
    ks.lfu = srv.lfu_params();
    let mut ctx = Ctx { srv, client, out, ks, args };
    match (cmd.handler)(&mut ctx) {
        Ok(()) => false,
        Err(e) => {
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
