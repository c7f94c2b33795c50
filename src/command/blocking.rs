//! The command side of blocking operations (the mechanism is described in
//! `keyspace::blocking`): registering a blocked command, serving ready keys by executing
//! waiters' commands again on their behalf, CLIENT UNBLOCK, and cleanup.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dispatch::{call, command_keys};
use super::{CmdResult, Ctx, Error};
use crate::keyspace::blocking::Waiter;
use crate::keyspace::{key_hash, Access};
use crate::resp::write::ReplyWriter;
use crate::server::client::Client;
use crate::server::Server;

/// What a blocking command replies when it times out, or runs where it may not block
/// (inside MULTI or a script).
#[derive(Clone, Copy)]
pub enum OnTimeout {
    /// A null array either way (BLPOP, BRPOP, BLMPOP, BZPOP*...).
    NullArray,
    /// BLMOVE/BRPOPLPUSH: a null array on timeout but a null bulk when not allowed to block,
    /// as Redis answers them.
    Move,
}

fn timeout_reply(kind: OnTimeout, resp3: bool, denied: bool) -> Vec<u8> {
    let mut w = ReplyWriter::new(resp3);
    match kind {
        OnTimeout::Move if denied => w.nil(),
        _ => w.nil_array(),
    }
    w.buf
}

/// Parse a blocking timeout in seconds (float) the way Redis 7.2 does; None = wait forever.
/// Redis multiplies the long double by 1000, refuses what is beyond LLONG_MAX ms (1e400, inf)
/// as out of range, and rounds the milliseconds up (0.0001 waits 1 ms, it does not block forever).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Error> {
    use crate::util::number::{c_double_to_i64, is_valid_long_double, parse_f64};
    let out_of_range = || Error::msg("ERR timeout is out of range");
    if !is_valid_long_double(arg) {
        return Err(Error::msg("ERR timeout is not a float or out of range"));
    }
    // A valid long double beyond f64's range: string2d refuses it, Rust's parser gives ±inf
    // (or 0 for 1e-400), as the long double arithmetic would end up.
    let secs =
        parse_f64(arg).or_else(|| std::str::from_utf8(arg).ok()?.trim().parse::<f64>().ok()).unwrap_or(f64::INFINITY);
    let ms = secs * 1000.0;
    if ms >= 9223372036854775808.0 {
        return Err(out_of_range());
    }
    // (long long)ceill(ms): x86 turns -inf into LLONG_MIN.
    let ms = c_double_to_i64(ms.ceil());
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    if ms > i64::MAX - crate::keyspace::now_ms() {
        return Err(out_of_range());
    }
    Ok(if ms == 0 { None } else { Some(Duration::from_millis(ms as u64)) })
}

/// A timeout in milliseconds (XREAD/XREADGROUP BLOCK: getTimeoutFromObjectOrReply with
/// UNIT_MILLISECONDS); None = wait forever.
pub fn parse_timeout_ms(arg: &[u8]) -> Result<Option<Duration>, Error> {
    let ms = crate::util::number::parse_i64(arg)
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    if ms > i64::MAX - crate::keyspace::now_ms() {
        return Err(Error::msg("ERR timeout is out of range"));
    }
    Ok(if ms == 0 { None } else { Some(Duration::from_millis(ms as u64)) })
}

/// Nothing to serve now: block the client on `keys` (all in its database, all locked by
/// the command table), or, where blocking is not allowed (inside MULTI or a script),
/// reply as if the timeout had expired. During a re-execution for a waiter, signal that
/// there was nothing after all.
pub fn block(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    wants: &'static str,
    on_timeout: OnTimeout,
) -> CmdResult {
    let args = ctx.args.iter().map(|a| a.to_vec()).collect();
    block_as(ctx, keys, timeout, wants, on_timeout, args, false)
}

/// `block` for XREAD / XREADGROUP: the command stored for re-execution is `args` (with
/// `$` resolved), and an XREADGROUP (`unblock_on_nokey`) is also re-executed when its key
/// is deleted or no longer a stream, to answer its error.
pub fn block_stream(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    args: Vec<Vec<u8>>,
    unblock_on_nokey: bool,
) -> CmdResult {
    block_as(ctx, keys, timeout, "stream", OnTimeout::NullArray, args, unblock_on_nokey)
}

fn block_as(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    wants: &'static str,
    on_timeout: OnTimeout,
    args: Vec<Vec<u8>>,
    unblock_on_nokey: bool,
) -> CmdResult {
    if ctx.client.serving {
        ctx.client.would_block = true;
        return Ok(());
    }
    if ctx.client.deny_blocking {
        let r = timeout_reply(on_timeout, ctx.out.resp3, true);
        ctx.out.buf.extend_from_slice(&r);
        return Ok(());
    }
    let mut w = Waiter::new(
        ctx.client.id,
        ctx.client.db,
        keys.iter().map(|k| k.to_vec()).collect(),
        args,
        wants,
        ctx.out.resp3,
        timeout_reply(on_timeout, ctx.out.resp3, false),
        timeout.map(|t| Instant::now() + t),
    );
    w.unblock_on_nokey = unblock_on_nokey;
    let w = Arc::new(w);
    let db = ctx.client.db;
    for k in keys {
        let shard = ctx.ks.keyspace().shard_of(key_hash(k));
        ctx.ks.shard_at(db, shard).waiters.add(k, w.clone());
    }
    *ctx.client.handle.blocked.lock() = Some(w.clone());
    ctx.srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
    ctx.client.blocked = Some(w);
    Ok(())
}

/// Serve the waiters of the keys `ks` recorded as ready, in order, while the writer's
/// locks are held. Returns the keys that need shards we could not take without waiting.
pub fn serve_ready<'a>(srv: &'a Server, ks: &mut Access<'a>) -> Vec<(usize, Vec<u8>)> {
    let mut deferred = Vec::new();
    let mut i = 0;
    // Serving can make more keys ready (BLMOVE pushes to its destination): walk the list
    // as it grows. Bounded: each step serves a waiter or finishes a key.
    while i < ks.ready.len() {
        let (db, key, signalled) = ks.ready[i].clone();
        i += 1;
        serve_key(srv, ks, db, &key, signalled, &mut deferred);
    }
    ks.ready.clear();
    // A key found expired while looking for a waiter to serve (outside any command's unit).
    // (appendfsync always: no client waits on these deletions' ticket.)
    crate::persist::propagate::deliver_unit(srv, ks);
    deferred
}

fn serve_key<'a>(
    srv: &'a Server,
    ks: &mut Access<'a>,
    db: usize,
    key: &[u8],
    signalled: bool,
    deferred: &mut Vec<(usize, Vec<u8>)>,
) {
    let shard = ks.keyspace().shard_of(key_hash(key));
    // The waiters queued when the key is served, each met once, as Redis walks the
    // initial length of the key's list: one that blocks again goes to the back and is
    // not met again, one that is not ready (an XREAD waiter whose key was deleted) keeps
    // its place, and those behind either are still served.
    for w in ks.shard_at(db, shard).waiters.queue(key) {
        if !w.is_waiting() {
            continue;
        }
        // Stream readers look again only where Redis signals the key (XADD, XGROUP DESTROY,
        // the key created, replaced or deleted), not on XDEL, XTRIM, XSETID, XGROUP SETID,
        // EXPIRE...: a group moved back by SETID is served at the next XADD, as in Redis.
        if w.wants == "stream" && !signalled {
            continue;
        }
        // A key of the wanted type serves; an XREADGROUP waiter is re-executed whatever
        // became of its key (to answer NOGROUP or WRONGTYPE).
        let ready = w.unblock_on_nokey || ks.peek_in(db, key).is_some_and(|e| e.value.type_name() == w.wants);
        if !ready {
            continue;
        }
        let Some(cmd) = srv.commands.get(&w.args[0]) else { continue };
        let args: Vec<&[u8]> = w.args.iter().map(|a| a.as_slice()).collect();
        let needed = command_keys(cmd, &args);
        if !ks.try_lock_keys(db, &needed) {
            if !deferred.iter().any(|(d, k)| *d == db && k == key) {
                deferred.push((db, key.to_vec()));
            }
            return;
        }
        let handle = srv.clients.lock().get(&w.client_id).cloned();
        let Some(handle) = handle else {
            // The client is gone: drop its waiter.
            w.cancel_with(None);
            ks.shard_at(db, shard).waiters.remove(key, &w);
            continue;
        };
        if !w.begin_serve() {
            continue;
        }
        let mut client = Client::new(handle, ks.slot);
        client.db = db;
        client.resp3 = w.resp3;
        client.serving = true;
        let mut out = ReplyWriter::new(w.resp3);
        let (saved_db, saved_now) = (ks.db, ks.now_ms);
        ks.db = db;
        // The waiter's command runs after the writer's, at the real now, as Redis
        // re-processes it with a new time snapshot: a key that expired inside the writing
        // transaction or script (which saw one frozen time) is found expired here, and
        // the client blocks again with its place in the queue and its deadline.
        ks.renew(crate::keyspace::now_ms().max(saved_now));
        // Redis processes the command again in full: the user's permissions may have
        // changed while it waited (then NOPERM, logged, ends the wait).
        srv.acl.adopt(&mut client);
        if let Err(e) = srv.acl.check(&mut client, cmd.def, &args, crate::server::acl::shared_line) {
            cmd.rejected_calls.add(ks.slot, 1);
            srv.count_error(&e.0);
            out.error(&e.0);
        } else {
            call(srv, &mut client, cmd, &args, &mut out, ks);
        }
        ks.db = saved_db;
        ks.renew(saved_now);
        if client.would_block {
            // Redis unblocks the client, re-processes its command and blocks it again: at
            // the back of each of its keys' queues (its deadline is the waiter's, kept).
            for k in &w.keys {
                let waiters = &mut ks.shard_at(db, ks.keyspace().shard_of(key_hash(k))).waiters;
                waiters.remove(k, &w);
                waiters.add(k, w.clone());
            }
            w.abort_serve();
            continue;
        }
        ks.shard_at(db, shard).waiters.remove(key, &w);
        w.aof_ticket.store(client.aof_ticket, std::sync::atomic::Ordering::Relaxed);
        w.complete(out.buf);
        crate::server::slowlog::defer_unblocked(srv, &client.handle, &w);
    }
}

/// Serve keys whose waiters needed shards that were busy: lock everything the front
/// waiter needs, in order, and serve; repeat while progress is made.
pub fn serve_deferred(srv: &Server, worker: usize, mut todo: Vec<(usize, Vec<u8>)>, now: i64) {
    let mut rounds = 0;
    while let Some((db, key)) = todo.pop() {
        rounds += 1;
        if rounds > 10_000 {
            return;
        }
        let _gate = srv.ks.enter(worker);
        let mut keys: Vec<Vec<u8>> = vec![key.clone()];
        {
            let mut probe = srv.ks.access(db, &[&key], now);
            let shard = srv.ks.shard_of(key_hash(&key));
            if let Some(w) = probe.shard_at(db, shard).waiters.front(&key) {
                if let Some(cmd) = srv.commands.get(&w.args[0]) {
                    let args: Vec<&[u8]> = w.args.iter().map(|a| a.as_slice()).collect();
                    keys.extend(command_keys(cmd, &args).iter().map(|k| k.to_vec()));
                }
            }
        }
        let mut ks = srv.ks.access(db, &keys, now);
        ks.slot = worker;
        // Deferred keys passed the readiness checks already; expired ones were deleted.
        ks.ready.push((db, key, true));
        let more = serve_ready(srv, &mut ks);
        drop(ks);
        todo.extend(more);
    }
    crate::server::slowlog::flush_unblocked(srv);
}

/// The blocked client stopped waiting (served, timed out, unblocked, gone): remove its
/// waiter from every key it was queued on.
pub fn unregister(srv: &Server, client: &Client, w: &Arc<Waiter>) {
    let _gate = srv.ks.enter(client.worker);
    let mut ks = srv.ks.access(w.db, &w.keys, crate::keyspace::now_ms());
    for k in &w.keys {
        let shard = srv.ks.shard_of(key_hash(k));
        ks.shard_at(w.db, shard).waiters.remove(k, w);
    }
    *client.handle.blocked.lock() = None;
    srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: true if the client was blocked and is now released.
pub fn unblock(srv: &Server, id: u64, error: bool) -> bool {
    let Some(handle) = srv.clients.lock().get(&id).cloned() else { return false };
    let Some(w) = handle.blocked.lock().clone() else { return false };
    let reply = if error {
        let mut out = ReplyWriter::new(w.resp3);
        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        out.buf
    } else {
        w.timeout_reply.clone()
    };
    let released = w.cancel_with(Some(reply));
    if released {
        srv.slowlog.push_unblocked(&handle, &w);
    }
    released
}
