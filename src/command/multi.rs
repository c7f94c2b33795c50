//! Transactions: MULTI queues commands, EXEC runs them atomically, WATCH makes EXEC
//! conditional (Redis's multi.c).
//!
//! Queueing happens in `dispatch::admit`: once a client is in MULTI, every command but
//! the few in `runs_in_multi` is checked (unknown, arity, auth, no-multi) and queued; a
//! refused one dooms the transaction (EXECABORT). EXEC takes the keyspace once for the
//! whole transaction: the shards of every key the queued commands name (from the command
//! table) plus the watched keys, or every gate when a queued command needs the whole
//! keyspace (FLUSHALL, SELECT, KEYS, ...). Under those locks it checks the WATCH flag and
//! the watched keys' expiry, then runs the commands one after another: no other client
//! sees a state between them.

use std::sync::atomic::Ordering;

use smallvec::SmallVec;

use super::dispatch::{self, hold, serve_filled, BatchClock};
use super::table::{Command, Lock};
use super::{blocking, CmdResult, Ctx, Error};
use crate::keyspace::key_hash;
use crate::resp::write::ReplyWriter;
use crate::server::client::Client;
use crate::server::Server;

/// The commands queued since MULTI.
#[derive(Default)]
pub struct Queued {
    /// The queued commands' arguments back to back: one buffer for the transaction, not an
    /// allocation per argument.
    bytes: Vec<u8>,
    /// (start, end) in `bytes` of every queued argument.
    args: Vec<(usize, usize)>,
    /// (first argument in `args`, argument count) of every queued command.
    cmds: Vec<(usize, usize)>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub doomed: bool,
    /// A queued command writes or may replicate (Redis's mstate.cmd_flags, see
    /// `dispatch::pauses_as_write`): CLIENT PAUSE WRITE holds EXEC.
    pub writes: bool,
    /// A queued command runs a script (EVAL, FCALL, ...): EXEC goes to the scripts thread,
    /// as a script sent alone does, so that a script turning long inside it leaves the
    /// worker free to answer BUSY and SCRIPT KILL to its other clients.
    pub scripts: bool,
    /// A queued command is deny-oom (`dispatch::is_denyoom`): EXEC is refused while memory
    /// is over maxmemory.
    pub denyoom: bool,
}

impl Queued {
    /// Room for a typical transaction (a few short commands) in one allocation per vector.
    fn new() -> Queued {
        Queued {
            bytes: Vec::with_capacity(256),
            args: Vec::with_capacity(24),
            cmds: Vec::with_capacity(8),
            doomed: false,
            writes: false,
            scripts: false,
            denyoom: false,
        }
    }

    /// Redis's mstate.argv_len_sums: the queued arguments' bytes and a pointer for each.
    pub fn mem(&self) -> usize {
        self.bytes.len() + 8 * self.args.len()
    }

    /// Queued commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    fn push(&mut self, argv: &[&[u8]]) {
        self.cmds.push((self.args.len(), argv.len()));
        for a in argv {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(a);
            self.args.push((start, self.bytes.len()));
        }
    }

    /// The argument vectors of the queued commands, in order.
    fn argvs(&self) -> Vec<SmallVec<[&[u8]; 8]>> {
        self.cmds
            .iter()
            .map(|&(first, n)| self.args[first..first + n].iter().map(|&(s, e)| &self.bytes[s..e]).collect())
            .collect()
    }
}

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_in_multi(cmd: &Command) -> bool {
    matches!(cmd.def.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Queue a command. A doomed transaction (refused command, or a watched key already
/// modified) keeps nothing, as Redis does: EXEC will not run it anyway (CLIENT LIST shows
/// multi=0 then).
pub fn queue(client: &mut Client, args: &[&[u8]], writes: bool, denyoom: bool) {
    let doomed = client.cas.load(Ordering::Acquire);
    if let Some(q) = client.multi.as_mut() {
        if doomed || q.doomed {
            return;
        }
        q.push(args);
        q.writes |= writes;
        q.denyoom |= denyoom;
        q.scripts |= crate::resp::parse::is_script_call(args[0]);
        client.handle.multi_mem.store(q.mem() as u64, Ordering::Relaxed);
        client.handle.multi.store(q.len() as i64, Ordering::Relaxed);
    }
}

pub fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Queued::new());
    ctx.client.handle.multi_mem.store(0, Ordering::Relaxed);
    ctx.client.handle.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

pub fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(Error::msg("ERR DISCARD without MULTI"));
    }
    reset(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

pub fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in &ctx.args[1..] {
        if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        ctx.ks.watch(db, key, &ctx.client.cas);
        ctx.client.watched.push((db, key.to_vec()));
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Leave any transaction and forget the watched keys (DISCARD, RESET, disconnection).
pub fn reset(srv: &Server, client: &mut Client) {
    client.multi = None;
    client.handle.multi.store(-1, Ordering::Relaxed);
    unwatch_all(srv, client);
}

/// Forget every watched key and lower the flag. The caller holds no shard lock.
fn unwatch_all(srv: &Server, client: &mut Client) {
    for (db, key) in client.watched.drain(..) {
        let shard = srv.ks.shard_of(key_hash(&key));
        srv.ks.dbs[db].shards[shard].lock().watched.remove(&key, &client.cas);
    }
    client.cas.store(false, Ordering::Release);
}

fn fail(srv: &Server, out: &mut ReplyWriter, msg: &str) -> bool {
    srv.count_error(msg);
    out.error(msg);
    true
}

/// EXEC. Returns true if it replied an error.
pub fn exec(srv: &Server, client: &mut Client, out: &mut ReplyWriter, clock: &mut BatchClock) -> bool {
    let Some(q) = client.multi.take() else {
        return fail(srv, out, "ERR EXEC without MULTI");
    };
    client.handle.multi.store(-1, Ordering::Relaxed);
    if q.doomed {
        unwatch_all(srv, client);
        return fail(srv, out, "EXECABORT Transaction discarded because of previous errors.");
    }
    let argvs = q.argvs();
    let mut cmds: Vec<&Command> = Vec::with_capacity(argvs.len());
    for a in &argvs {
        match dispatch::resolve(srv, a) {
            Ok(c) => cmds.push(c),
            Err(e) => {
                unwatch_all(srv, client);
                return fail(srv, out, &e.0);
            }
        }
    }
    let watched = std::mem::take(&mut client.watched);
    let db = client.db;
    // Hold every gate when a queued command needs the whole keyspace, moves to another
    // database (SELECT), or names no key (it may read the whole keyspace, as SCAN, DBSIZE
    // and INFO do, which must not lock shards out of order while others are held).
    let mut keys: Vec<&[u8]> = watched.iter().map(|(_, k)| &k[..]).collect();
    let mut exclusive = watched.iter().any(|(d, _)| *d != db);
    for (c, a) in cmds.iter().zip(&argvs) {
        let named = dispatch::command_keys(c, a);
        exclusive |= c.lock != Lock::Keys || named.is_empty();
        keys.extend(named);
    }
    let deferred = {
        let mut held = match hold(srv, client, exclusive, &keys, clock.now_ms) {
            Ok(h) => h,
            Err(e) => {
                // BUSY: the transaction stays open but can only be discarded now.
                let queued = cmds.len() as i64;
                drop(keys);
                client.watched = watched;
                client.multi = Some(Queued { doomed: true, ..Queued::default() });
                client.handle.multi.store(queued, Ordering::Relaxed);
                return fail(srv, out, &e.0);
            }
        };
        let ks = &mut held.ks;
        let cas = client.cas.clone();
        let aborted = cas.load(Ordering::Acquire) || watched.iter().any(|(d, k)| ks.watched_key_expired(*d, k, &cas));
        if aborted {
            out.nil_array();
            Vec::new()
        } else {
            out.array(cmds.len());
            client.deny_blocking = true;
            // One unit for the whole transaction (its commands nest in it), delivered
            // before the clients it filled are served.
            let collect = srv.sinks.active();
            ks.prop = collect;
            ks.depth += u32::from(collect);
            for (cmd, args) in cmds.iter().zip(&argvs) {
                ks.db = client.db;
                ks.no_touch = client.no_touch && cmd.def.name != "touch";
                clock.lap();
                // The user's permissions may have changed since the command was queued.
                if let Err(e) = srv.acl.check_queued(client, cmd.def, args) {
                    fail(srv, out, &e);
                    continue;
                }
                let failed = dispatch::call(srv, client, cmd, args, out, ks);
                dispatch::record_call(srv, client, cmd, args, clock.lap(), failed);
                dispatch::feed_monitors(srv, client, cmd, args);
            }
            client.deny_blocking = false;
            if collect {
                ks.depth -= 1;
                let ticket = crate::persist::propagate::deliver_unit(srv, ks);
                client.aof_ticket = client.aof_ticket.max(ticket);
            }
            serve_filled(srv, ks)
        }
    };
    client.watched = watched;
    unwatch_all(srv, client);
    if !deferred.is_empty() {
        blocking::serve_deferred(srv, client.worker, deferred, clock.now_ms);
    }
    false
}
