//! Stream reads and consumer groups (Redis's t_stream.c, second half): XREAD, XREADGROUP,
//! XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO. The representation is
//! `data::stream` (entries) and `data::stream::group` (groups, PELs, consumers).
//!
//! XREAD and XREADGROUP are one handler, as in Redis (xreadCommand): the same option
//! parser, the same per-key loop that resolves `$` and `>` and serves what it can, and the
//! same blocking path. A blocked read is executed again when a key it waits on is written
//! (`command::blocking`); for that, `$` is replaced in the waiter's stored command by the
//! last id it stood for, as Redis 7.2 rewrites the argv, or a re-execution would always
//! find "nothing after the current last id". An XREADGROUP waiter is also re-executed when
//! its key is deleted, replaced by another type or its group destroyed (Redis's
//! unblock_on_nokey), which makes it answer NOGROUP or WRONGTYPE; an XREAD waiter keeps
//! waiting then.
//!
//! Which writes wake blocked readers follows Redis: XADD, a new key, a deleted or
//! replaced key and XGROUP DESTROY. The group commands here (XREADGROUP itself, XACK,
//! XCLAIM, XAUTOCLAIM, XGROUP CREATE/SETID/...) change the stream without waking anyone
//! and without touching WATCH or client tracking (Redis does not signal them as
//! modified), so they look the key up without noting it as written.
//!
//! Times (delivery times, seen/active times) are the command's frozen `now`, Redis's
//! commandTimeSnapshot.

use crate::command::args::{eq, int};
use crate::command::blocking::{block_stream, parse_timeout_ms};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::stream::group::PendingEntry;
use crate::data::stream::{ConsumerGroup, Stream, StreamId};
use crate::persist::propagate::{argv, int_arg};
use crate::resp::write::{Agg, ReplyWriter};
use crate::server::notify;
use crate::types::stream::{parse_id, range_end, range_start, reply_entry, reply_id, signal_readers};
use crate::types::{expect_mut, read};

/// Work on group `name` of `s` while reading the stream's entries: the groups are taken
/// out of the stream for the call (a move of the map's root, no copy) and put back.
fn with_group<R>(s: &mut Stream, name: &[u8], f: impl FnOnce(&Stream, &mut ConsumerGroup) -> R) -> Option<R> {
    let mut groups = std::mem::take(&mut s.groups);
    let r = groups.get_mut(name).map(|g| f(s, g));
    s.groups = groups;
    r
}

/// `>` as an id: Redis marks it with the maximum id (so an explicit maximum id in
/// XREADGROUP reads new entries too, as in Redis).
const NEW_ENTRIES: StreamId = StreamId::MAX;

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn nogroup_read(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        lossy(key),
        lossy(group)
    ))
}

fn nogroup_key_or_group(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!("NOGROUP No such key '{}' or consumer group '{}'", lossy(key), lossy(group)))
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!("NOGROUP No such consumer group '{}' for key name '{}'", lossy(group), lossy(key)))
}

/// The stream at `key` without noting a write (see the module comment) nor counting a
/// keyspace hit or miss: None if missing.
fn peek_stream<'k>(ctx: &'k mut Ctx, key: &[u8]) -> Result<Option<&'k mut Stream>, Error> {
    peek_stream_in(ctx.ks, key)
}

fn peek_stream_in<'k>(ks: &'k mut crate::keyspace::Access<'_>, key: &[u8]) -> Result<Option<&'k mut Stream>, Error> {
    match ks.peek(key) {
        None => Ok(None),
        Some(e) => expect_mut::<Stream>(&mut e.value).map(Some),
    }
}

// ------------------------------------------------------------------ XREAD / XREADGROUP

/// XREAD's and XREADGROUP's options (xreadCommand's parser).
struct ReadArgs<'a> {
    group: Option<(&'a [u8], &'a [u8])>,
    count: u64,
    /// BLOCK given: how long (None: forever).
    block: Option<Option<std::time::Duration>>,
    noack: bool,
    /// Index of the first key.
    streams_at: usize,
    streams: usize,
}

fn parse_read_args<'a>(ctx: &Ctx<'_, '_>, args: &[&'a [u8]], xreadgroup: bool) -> Result<ReadArgs<'a>, Error> {
    let mut r = ReadArgs { group: None, count: 0, block: None, noack: false, streams_at: 0, streams: 0 };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if eq(o, "block") && more > 0 {
            if ctx.client.in_script {
                return Err(Error::msg(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    lossy(args[0])
                )));
            }
            i += 1;
            r.block = Some(parse_timeout_ms(args[i])?);
        } else if eq(o, "count") && more > 0 {
            i += 1;
            r.count = int(args[i])?.max(0) as u64;
        } else if eq(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let n = args.len() - r.streams_at;
            if !n.is_multiple_of(2) {
                let (name, symbol) = if xreadgroup { ("xreadgroup", '>') } else { ("xread", '$') };
                return Err(Error::msg(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            r.streams = n / 2;
            break;
        } else if eq(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if eq(o, "noack") {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(err::SYNTAX);
    }
    if xreadgroup && r.group.is_none() {
        return Err(Error::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx) -> CmdResult {
    read_generic(ctx, false)
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx) -> CmdResult {
    read_generic(ctx, true)
}

fn read_generic(ctx: &mut Ctx, xreadgroup: bool) -> CmdResult {
    let args = ctx.args;
    let r = parse_read_args(ctx, args, xreadgroup)?;
    let keys = &args[r.streams_at..r.streams_at + r.streams];
    let id_args = &args[r.streams_at + r.streams..];
    // Resolve every id first, key by key (type and group errors of a key come before
    // the error of its id, as in Redis).
    let mut ids: smallvec::SmallVec<[StreamId; 4]> = smallvec::SmallVec::with_capacity(r.streams);
    for (key, arg) in keys.iter().zip(id_args) {
        let s = read::<Stream>(ctx.ks, key)?;
        if let Some((group, _)) = r.group {
            if !s.as_ref().is_some_and(|s| s.groups.contains_key(group)) {
                return Err(nogroup_read(key, group));
            }
        }
        let id = match *arg {
            b"$" if xreadgroup => {
                return Err(Error::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id),
            b">" if !xreadgroup => {
                return Err(Error::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            b">" => NEW_ENTRIES,
            _ => parse_id(arg, 0, true)?,
        };
        ids.push(id);
    }

    let resp3 = ctx.out.resp3;
    let mut reply: Option<crate::resp::write::Deferred> = None;
    let mut served = 0usize;
    let prop = ctx.ks.prop;
    let mut ops = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let now = ctx.ks.now_ms;
        let Some(s) = read::<Stream>(ctx.ks, key)? else { continue };
        let out = &mut *ctx.out;
        let mut open = |out: &mut ReplyWriter| {
            if reply.is_none() {
                reply = Some(out.begin_deferred(if resp3 { Agg::Map } else { Agg::Array }));
            }
            served += 1;
            if !resp3 {
                out.array(2);
            }
            out.bulk(key);
        };
        let created = match r.group {
            None => {
                let gt = ids[i];
                if s.edge_id(true).is_some_and(|last| last > gt) {
                    open(out);
                    crate::types::stream::reply_range(out, s, next_id(gt), StreamId::MAX, r.count, false);
                }
                false
            }
            Some((group, consumer)) => {
                let counters = s.counters();
                let last_valid = s.edge_id(true);
                let (gt, count, noack) = (ids[i], r.count, r.noack);
                let created = with_group(s, group, |s, g| {
                    let (c, created) = g.consumer_or_create(consumer, now);
                    c.seen_time = now;
                    if prop && created && noack {
                        // No XCLAIM will create it.
                        ops.push(argv(&[b"XGROUP", b"CREATECONSUMER", key, group, consumer]));
                    }
                    if gt != NEW_ENTRIES {
                        open(out);
                        reply_history(out, s, g, consumer, next_id(gt), count, now);
                    } else if last_valid.is_some_and(|last| last > g.last_id) {
                        open(out);
                        let delivered = reply_group_range(out, s, next_id(g.last_id), count);
                        for &id in &delivered {
                            g.advance(id, &counters);
                            if !noack {
                                g.deliver(id, consumer, now);
                                if prop {
                                    ops.extend(claimed_op(key, group, g, id));
                                }
                            }
                        }
                        if prop && noack && !delivered.is_empty() {
                            ops.push(setid_op(key, group, g));
                        }
                        // Only a delivery that leaves something pending makes the consumer active.
                        if !noack && !delivered.is_empty() {
                            if let Some(c) = g.consumers.get_mut(consumer) {
                                c.active_time = now;
                            }
                        }
                    }
                    created
                });
                let Some(created) = created else { continue };
                ctx.ks.mark_dirty(1);
                created
            }
        };
        if created {
            notify::event(ctx, notify::STREAM, "xgroup-createconsumer", key);
        }
    }
    if r.group.is_some() {
        propagate_effects(ctx, ops);
    }
    if let Some(d) = reply {
        ctx.out.end_deferred(d, served);
        return Ok(());
    }
    match r.block {
        None => {
            ctx.out.nil_array();
            Ok(())
        }
        Some(timeout) => {
            // Re-executions must look after the ids `$` stood for now (Redis rewrites the
            // argv before blocking).
            let stored: Vec<Vec<u8>> = args
                .iter()
                .enumerate()
                .map(|(j, a)| match j.checked_sub(r.streams_at + r.streams) {
                    Some(k) if *a == b"$" => ids[k].to_bytes(),
                    _ => a.to_vec(),
                })
                .collect();
            block_stream(ctx, keys, timeout, stored, xreadgroup)
        }
    }
}

/// The id after `id` (reads start after the id given); the maximum id has none, and Redis
/// wraps to 0-0 there (streamIncrID), which never serves anything it should not: the
/// callers only read after an id below an existing one.
fn next_id(id: StreamId) -> StreamId {
    id.incr().unwrap_or(StreamId::MIN)
}

/// Reply the entries from `start` on (at most `count`, 0: all) and return their ids, for
/// the group to record as delivered.
fn reply_group_range(out: &mut ReplyWriter, s: &Stream, start: StreamId, count: u64) -> Vec<StreamId> {
    let d = out.begin_deferred(Agg::Array);
    let mut ids = Vec::new();
    s.visit(start, StreamId::MAX, false, |id, fields| {
        reply_entry(out, id, fields);
        ids.push(id);
        count == 0 || (ids.len() as u64) < count
    });
    out.end_deferred(d, ids.len());
    ids
}

/// XREADGROUP with an id: the consumer's own pending entries from `start`
/// (streamReplyWithRangeFromConsumerPEL). An entry deleted since is [id, nil]; the others
/// count as delivered again.
fn reply_history(
    out: &mut ReplyWriter,
    s: &Stream,
    g: &mut ConsumerGroup,
    consumer: &[u8],
    start: StreamId,
    count: u64,
    now: i64,
) {
    let Some(c) = g.consumers.get(consumer) else { return };
    let take = if count == 0 { usize::MAX } else { count as usize };
    let ids: Vec<StreamId> = c.pel.range(start..).take(take).copied().collect();
    out.array(ids.len());
    for id in ids {
        let mut found = false;
        s.visit(id, id, false, |id, fields| {
            reply_entry(out, id, fields);
            found = true;
            false
        });
        if !found {
            out.array(2);
            reply_id(out, id);
            out.nil_array();
        } else if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = now;
            nack.delivery_count = nack.delivery_count.wrapping_add(1);
        }
    }
}

// ------------------------------------------------------------------ propagation
// XREADGROUP, XCLAIM and XAUTOCLAIM replay by their effects on the group, as Redis
// propagates them: each entry they gave a consumer (or dropped) as an XCLAIM that forces
// the pending entry as it now is, and the group's position as XGROUP SETID.

/// Redis's streamPropagateXCLAIM: pending entry `id` as `nack` says, with the group's
/// last id.
fn xclaim_op(key: &[u8], group: &[u8], id: StreamId, nack: &PendingEntry, last_id: StreamId) -> Vec<Vec<u8>> {
    let mut v = argv(&[b"XCLAIM", key, group, &nack.consumer, b"0"]);
    v.push(id.to_bytes());
    v.extend([b"TIME".to_vec(), int_arg(nack.delivery_time), b"RETRYCOUNT".to_vec()]);
    v.extend([int_arg(nack.delivery_count as i64), b"FORCE".to_vec(), b"JUSTID".to_vec(), b"LASTID".to_vec()]);
    v.push(last_id.to_bytes());
    v
}

/// Redis's streamPropagateGroupID: the group's last id and read counter (-1: unknown).
fn setid_op(key: &[u8], group: &[u8], g: &ConsumerGroup) -> Vec<Vec<u8>> {
    let mut v = argv(&[b"XGROUP", b"SETID", key, group]);
    v.extend([g.last_id.to_bytes(), b"ENTRIESREAD".to_vec()]);
    v.push(int_arg(g.entries_read.map_or(-1, |n| n as i64)));
    v
}

/// `xclaim_op` of the pending entry `id` of `g` as it is now, if it has one.
fn claimed_op(key: &[u8], group: &[u8], g: &ConsumerGroup, id: StreamId) -> Option<Vec<Vec<u8>>> {
    g.pel.get(&id).map(|nack| xclaim_op(key, group, id, nack, g.last_id))
}

/// Hand the ops a group command collected to the unit in place of the command itself.
fn propagate_effects(ctx: &mut Ctx, ops: Vec<Vec<Vec<u8>>>) {
    if ctx.ks.prop {
        let db = ctx.client.db;
        for op in ops {
            ctx.ks.also_propagate(db, || op);
        }
        ctx.ks.prevent_propagation();
    }
}

// ------------------------------------------------------------------ XGROUP

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER: one handler, as Redis's
/// xgroupCommand (the checks before the subcommand are shared).
pub fn xgroup(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let sub = args[1];
    let key = args[2];
    let group = args[3];
    let is = |w: &str| eq(sub, w);
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    if is("create") {
        if args.len() > 8 {
            return Err(ctx.subcommand_syntax_error());
        }
        let mut i = 5;
        while i < args.len() {
            if eq(args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if eq(args[i], "entriesread") && i + 1 < args.len() {
                entries_read = parse_entries_read(args[i + 1])?;
                i += 2;
            } else {
                return Err(ctx.subcommand_syntax_error());
            }
        }
    }
    let exists = peek_stream(ctx, key)?.is_some();
    if !exists && !mkstream {
        return Err(Error::msg("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
    }
    let has_group = exists && peek_stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group && (is("setid") || is("createconsumer") || is("delconsumer")) {
        return Err(nogroup_for_key(key, group));
    }
    let now = ctx.ks.now_ms;
    if is("create") {
        let id = match args[4] {
            b"$" => peek_stream(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id),
            arg => parse_id(arg, 0, true)?,
        };
        if !exists {
            ctx.ks.set(key, crate::data::value::Value::Stream(Box::default()), crate::keyspace::SetExpire::Clear);
        }
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        if !s.create_group(group, id, entries_read) {
            return Err(Error::msg("BUSYGROUP Consumer Group name already exists"));
        }
        ctx.ks.mark_dirty(1);
        ctx.out.ok();
        notify::event(ctx, notify::STREAM, "xgroup-create", key);
    } else if is("setid") && (args.len() == 5 || args.len() == 7) {
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        let id = match args[4] {
            b"$" => s.last_id,
            arg => parse_id(arg, 0, false)?,
        };
        let mut entries_read = None;
        if args.len() == 7 {
            if !eq(args[5], "entriesread") {
                return Err(ctx.subcommand_syntax_error());
            }
            entries_read = parse_entries_read(args[6])?;
        }
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        if let Some(g) = s.groups.get_mut(group) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        ctx.ks.mark_dirty(1);
        ctx.out.ok();
        notify::event(ctx, notify::STREAM, "xgroup-setid", key);
    } else if is("destroy") && args.len() == 4 {
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        if s.groups.remove(group).is_some() {
            ctx.ks.mark_dirty(1);
            ctx.out.int(1);
            notify::event(ctx, notify::STREAM, "xgroup-destroy", key);
            signal_readers(ctx, key);
        } else {
            ctx.out.int(0);
        }
    } else if is("createconsumer") && args.len() == 5 {
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        let created = s.groups.get_mut(group).is_some_and(|g| g.consumer_or_create(args[4], now).1);
        ctx.out.int(created as i64);
        if created {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::STREAM, "xgroup-createconsumer", key);
        }
    } else if is("delconsumer") && args.len() == 5 {
        let s = peek_stream(ctx, key)?.ok_or(err::NO_SUCH_KEY)?;
        let pending = s.groups.get_mut(group).and_then(|g| g.delete_consumer(args[4]));
        ctx.out.int(pending.unwrap_or(0) as i64);
        if pending.is_some() {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::STREAM, "xgroup-delconsumer", key);
        }
    } else {
        return Err(ctx.subcommand_syntax_error());
    }
    Ok(())
}

/// ENTRIESREAD n: a count, or -1 for "unknown".
fn parse_entries_read(arg: &[u8]) -> Result<Option<u64>, Error> {
    match int(arg)? {
        -1 => Ok(None),
        n if n < 0 => Err(Error::msg("ERR value for ENTRIESREAD must be positive or -1")),
        n => Ok(Some(n as u64)),
    }
}

pub fn xgroup_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------ XACK

/// XACK key group id [id ...]: a missing key or group acknowledges nothing (the ids are
/// not even parsed); otherwise every id is checked before any is acknowledged.
pub fn xack(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let Some(s) = read::<Stream>(ctx.ks, args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(g) = s.groups.get_mut(args[2]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids =
        args[3..].iter().map(|a| parse_id(a, 0, true)).collect::<Result<smallvec::SmallVec<[StreamId; 8]>, _>>()?;
    let acked = ids.iter().filter(|&&id| g.ack(id)).count();
    ctx.ks.mark_dirty(acked as u64);
    ctx.out.int(acked as i64);
    Ok(())
}

// ------------------------------------------------------------------ XPENDING

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(err::SYNTAX);
    }
    // The range arguments are parsed before the key is looked at.
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if eq(args[3], "idle") {
            min_idle = int(args[4])?;
            if argc < 8 {
                return Err(err::SYNTAX);
            }
            at += 2;
        }
        let count = int(args[at + 2])?.max(0) as u64;
        let (start, end) = (range_start(args[at])?, range_end(args[at + 1])?);
        let consumer = args.get(at + 3).copied();
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (args[1], args[2]);
    let now = ctx.ks.now_ms;
    let out = &mut *ctx.out;
    let Some(g) = read::<Stream>(ctx.ks, key)?.and_then(|s| s.groups.get_mut(group)) else {
        return Err(nogroup_key_or_group(key, group));
    };
    let Some((min_idle, start, end, mut count, consumer)) = range else {
        reply_pending_summary(out, g);
        return Ok(());
    };
    // An empty interval (start past end) lists nothing (BTreeMap::range would panic on it).
    if start > end {
        out.array(0);
        return Ok(());
    }
    let ids: Box<dyn Iterator<Item = &StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            None => {
                out.array(0);
                return Ok(());
            }
            Some(c) => Box::new(c.pel.range(start..=end)),
        },
        None => Box::new(g.pel.range(start..=end).map(|(id, _)| id)),
    };
    let d = out.begin_deferred(Agg::Array);
    let mut n = 0;
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(nack) = g.pel.get(id) else { continue };
        if min_idle != 0 && now.wrapping_sub(nack.delivery_time) < min_idle {
            continue;
        }
        n += 1;
        count -= 1;
        out.array(4);
        reply_id(out, *id);
        out.bulk(&nack.consumer);
        out.int(now.wrapping_sub(nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
    }
    out.end_deferred(d, n);
    Ok(())
}

/// XPENDING key group: count, smallest and greatest id, and the consumers with entries.
fn reply_pending_summary(out: &mut ReplyWriter, g: &ConsumerGroup) {
    out.array(4);
    out.int(g.pel.len() as i64);
    let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value()) else {
        out.nil();
        out.nil();
        out.nil_array();
        return;
    };
    reply_id(out, *first);
    reply_id(out, *last);
    let owners = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty());
    out.array(owners.clone().count());
    for (name, c) in owners {
        out.array(2);
        out.bulk(name);
        out.bulk_int(c.pel.len() as i64);
    }
}

// ------------------------------------------------------------------ XCLAIM / XAUTOCLAIM

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (key, group, consumer) = (args[1], args[2], args[3]);
    if !read::<Stream>(ctx.ks, key)?.is_some_and(|s| s.groups.contains_key(group)) {
        return Err(nogroup_key_or_group(key, group));
    }
    let min_idle = parse_ll(args[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    // The ids run up to the first argument that is not one; options follow.
    let ids_end = 5 + args[5..].iter().take_while(|a| parse_id(a, 0, true).is_ok()).count();
    let now = ctx.ks.now_ms;
    let (mut force, mut justid) = (false, false);
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    let mut j = ids_end;
    while j < args.len() {
        let more = j + 1 < args.len();
        let o = args[j];
        if eq(o, "force") {
            force = true;
        } else if eq(o, "justid") {
            justid = true;
        } else if eq(o, "idle") && more {
            j += 1;
            let idle = parse_ll(args[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery_time = Some(now.wrapping_sub(idle));
        } else if eq(o, "time") && more {
            j += 1;
            delivery_time = Some(parse_ll(args[j], "ERR Invalid TIME option argument for XCLAIM")?);
        } else if eq(o, "retrycount") && more {
            j += 1;
            retry_count = Some(parse_ll(args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")?);
        } else if eq(o, "lastid") && more {
            j += 1;
            last_id = parse_id(args[j], 0, true)?;
        } else {
            return Err(Error::msg(format!("ERR Unrecognized XCLAIM option '{}'", lossy(o))));
        }
        j += 1;
    }
    // A bogus delivery time (negative, in the future) is taken as now, not refused.
    let delivery_time = match delivery_time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let retry_count = retry_count.filter(|&n| n >= 0).map(|n| n as u64);
    // Looked up (and counted as a hit) once above, as Redis does.
    let prop = ctx.ks.prop;
    let mut ops = Vec::new();
    let Some(s) = peek_stream_in(ctx.ks, key)? else { return Ok(()) };
    let out = &mut *ctx.out;
    let claimed = with_group(s, group, |s, g| {
        let moved = last_id > g.last_id;
        if moved {
            g.last_id = last_id;
        }
        let (c, created) = g.consumer_or_create(consumer, now);
        c.seen_time = now;
        let d = out.begin_deferred(Agg::Array);
        let (mut n, mut dirty) = (0, 0u64);
        for a in &args[5..ids_end] {
            let Ok(id) = parse_id(a, 0, true) else { continue };
            if !s.contains(id) {
                // The entry is gone: so is its pending entry.
                if prop {
                    ops.extend(claimed_op(key, group, g, id));
                }
                if g.drop_pending(id) {
                    dirty += 1;
                }
                continue;
            }
            // FORCE makes an entry pending with no owner yet, which ignores the min idle time.
            let owned = match g.pel.get(&id) {
                Some(nack) => !nack.consumer.is_empty(),
                None if force => {
                    g.force_pending(id, now);
                    false
                }
                None => continue,
            };
            if owned && !idle_enough(g, id, now, min_idle) {
                continue;
            }
            claim_and_reply(out, s, g, id, consumer, (delivery_time, retry_count, justid), now);
            if prop {
                ops.extend(claimed_op(key, group, g, id));
            }
            n += 1;
            dirty += 1;
        }
        // A new last id goes with the XCLAIMs, or alone.
        if prop && moved && ops.is_empty() {
            ops.push(setid_op(key, group, g));
        }
        out.end_deferred(d, n);
        (dirty, created)
    });
    propagate_effects(ctx, ops);
    claim_done(ctx, key, claimed.unwrap_or_default())
}

/// What XCLAIM and XAUTOCLAIM do after claiming: count the changes (`dirty`) and announce
/// the consumer if the command created it.
fn claim_done(ctx: &mut Ctx, key: &[u8], (dirty, created): (u64, bool)) -> CmdResult {
    ctx.ks.mark_dirty(dirty);
    if created {
        notify::event(ctx, notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

/// Whether pending entry `id` has been idle for `min_idle` ms (0: any entry).
fn idle_enough(g: &ConsumerGroup, id: StreamId, now: i64, min_idle: i64) -> bool {
    min_idle == 0 || g.pel.get(&id).is_some_and(|p| now.wrapping_sub(p.delivery_time) >= min_idle)
}

/// The step XCLAIM and XAUTOCLAIM share: give pending entry `id` (live in `s`) to `consumer`
/// with `(delivery time, retry count, JUSTID)`, reply it (its id alone with JUSTID) and mark
/// the consumer active.
fn claim_and_reply(
    out: &mut ReplyWriter,
    s: &Stream,
    g: &mut ConsumerGroup,
    id: StreamId,
    consumer: &[u8],
    (delivery_time, retry_count, justid): (i64, Option<u64>, bool),
    now: i64,
) {
    g.claim(id, consumer, delivery_time, retry_count, justid);
    if justid {
        reply_id(out, id);
    } else {
        reply_one_entry(out, s, id);
    }
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.active_time = now;
    }
}

/// A live entry replied alone, as [id, [fields]].
fn reply_one_entry(out: &mut ReplyWriter, s: &Stream, id: StreamId) {
    s.visit(id, id, false, |id, fields| {
        reply_entry(out, id, fields);
        false
    });
}

/// getLongLongFromObjectOrReply with a command's own message.
fn parse_ll(arg: &[u8], msg: &'static str) -> Result<i64, Error> {
    crate::util::number::parse_i64(arg).ok_or(Error::msg(msg))
}

/// Redis caps XAUTOCLAIM's COUNT so that COUNT times its attempts factor (10) and the
/// size of a deleted-id buffer (16 bytes an id) fit a long.
const AUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 16;
const AUTOCLAIM_ATTEMPTS_FACTOR: i64 = 10;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (key, group, consumer) = (args[1], args[2], args[3]);
    let min_idle = parse_ll(args[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = range_start(args[5])?;
    let mut count = 100i64;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq(args[j], "count") && more {
            count = match crate::util::number::parse_i64(args[j + 1]) {
                Some(n) if (1..=AUTOCLAIM_MAX_COUNT).contains(&n) => n,
                _ => return Err(Error::msg("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if eq(args[j], "justid") {
            justid = true;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.ks.now_ms;
    let prop = ctx.ks.prop;
    let mut ops = Vec::new();
    let Some(s) = read::<Stream>(ctx.ks, key)?.filter(|s| s.groups.contains_key(group)) else {
        return Err(nogroup_key_or_group(key, group));
    };
    let out = &mut *ctx.out;
    let claimed = with_group(s, group, |s, g| {
        let (c, created) = g.consumer_or_create(consumer, now);
        c.seen_time = now;
        let mut attempts = count.saturating_mul(AUTOCLAIM_ATTEMPTS_FACTOR);
        out.array(3);
        let cursor_at = out.len();
        let d = out.begin_deferred(Agg::Array);
        let (mut n, mut dirty) = (0usize, 0u64);
        let mut deleted: Vec<StreamId> = Vec::new();
        // Where the walk of the PEL resumes (None: past the maximum id).
        let mut from = Some(start);
        while attempts > 0 {
            attempts -= 1;
            if count == 0 {
                break;
            }
            let Some(id) = from.and_then(|f| g.pel.range(f..).next().map(|(id, _)| *id)) else {
                from = None;
                break;
            };
            from = id.incr();
            if !s.contains(id) {
                // Deleted entries leave the PEL and are listed; they count against COUNT.
                if prop {
                    ops.extend(claimed_op(key, group, g, id));
                }
                g.drop_pending(id);
                deleted.push(id);
                dirty += 1;
                count -= 1;
                continue;
            }
            if !idle_enough(g, id, now, min_idle) {
                continue;
            }
            claim_and_reply(out, s, g, id, consumer, (now, None, justid), now);
            if prop {
                ops.extend(claimed_op(key, group, g, id));
            }
            n += 1;
            count -= 1;
            dirty += 1;
        }
        out.end_deferred(d, n);
        // The cursor (the first pending id not looked at, 0-0 at the end) goes in front.
        let cursor = from.and_then(|f| g.pel.range(f..).next().map(|(id, _)| *id)).unwrap_or(StreamId::MIN);
        let mut head = ReplyWriter::small(out.resp3);
        reply_id(&mut head, cursor);
        out.buf.splice(cursor_at..cursor_at, head.buf);
        out.array(deleted.len());
        for id in deleted {
            reply_id(out, id);
        }
        (dirty, created)
    });
    propagate_effects(ctx, ops);
    claim_done(ctx, key, claimed.unwrap_or_default())
}

// ------------------------------------------------------------------ XINFO

/// XINFO STREAM|GROUPS|CONSUMERS: the key is looked up first for all of them.
pub fn xinfo(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let sub = args[1];
    let key = args[2];
    let now = ctx.ks.now_ms;
    let out = &mut *ctx.out;
    let s = read::<Stream>(ctx.ks, key)?.ok_or(err::NO_SUCH_KEY)?;
    if eq(sub, "consumers") && args.len() == 4 {
        let Some(g) = s.groups.get(args[3]) else { return Err(nogroup_for_key(key, args[3])) };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int(now.wrapping_sub(c.seen_time).max(0));
            out.bulk(b"inactive");
            out.int(if c.active_time == -1 { -1 } else { now.wrapping_sub(c.active_time) });
        }
    } else if eq(sub, "groups") && args.len() == 3 {
        let counters = s.counters();
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            reply_id(out, g.last_id);
            reply_read_and_lag(out, g, &counters);
        }
    } else if eq(sub, "stream") {
        let count = match &args[3..] {
            [] => None,
            [full] if eq(full, "full") => Some(10),
            [full, c, n] if eq(full, "full") && eq(c, "count") => Some(match int(n)? {
                n if n < 0 => 10,
                n => n as u64,
            }),
            _ => return Err(ctx.subcommand_syntax_error()),
        };
        reply_stream_info(out, s, count);
    } else {
        return Err(ctx.subcommand_syntax_error());
    }
    Ok(())
}

/// The "entries-read" and "lag" fields of a group (nil where unknown).
fn reply_read_and_lag(out: &mut ReplyWriter, g: &ConsumerGroup, counters: &crate::data::stream::group::Counters) {
    out.bulk(b"entries-read");
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.nil(),
    }
    out.bulk(b"lag");
    match g.lag(counters) {
        Some(n) => out.int(n),
        None => out.nil(),
    }
}

/// XINFO STREAM key [FULL [COUNT n]] (`full`: the COUNT of FULL, 0 for everything).
fn reply_stream_info(out: &mut ReplyWriter, s: &Stream, full: Option<u64>) {
    out.map(if full.is_some() { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_entry_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    let Some(count) = full else {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, last) in [(&b"first-entry"[..], false), (&b"last-entry"[..], true)] {
            out.bulk(name);
            match s.edge_id(last) {
                Some(id) => reply_one_entry(out, s, id),
                None => out.nil(),
            }
        }
        return;
    };
    let limit = if count == 0 { usize::MAX } else { count as usize };
    out.bulk(b"entries");
    crate::types::stream::reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups.len());
    let counters = s.counters();
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        reply_read_and_lag(out, g, &counters);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"active-time");
            out.int(c.active_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(c.pel.len().min(limit));
            for id in c.pel.iter().take(limit) {
                out.array(3);
                reply_id(out, *id);
                let nack = g.pel.get(id);
                out.int(nack.map_or(0, |p| p.delivery_time));
                out.int(nack.map_or(0, |p| p.delivery_count as i64));
            }
        }
    }
}

pub fn xinfo_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
