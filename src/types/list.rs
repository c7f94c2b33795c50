//! Lists (Redis's t_list.c): the commands LINDEX LINSERT LLEN LMOVE LMPOP LPOP LPOS LPUSH
//! LPUSHX LRANGE LREM LSET LTRIM RPOP RPOPLPUSH RPUSH RPUSHX. The representation (chunks of
//! listpack entries, `List`, `Fill`) is `data::list`; the blocking commands
//! (`types::list_block`) use the cores below.
//!
//! Every handler validates its arguments and the types of the keys it touches before it
//! changes or writes anything, so an error leaves the keyspace and the reply untouched.
//! A list emptied by a command is deleted. Read commands look keys up with `ks.get`,
//! writes with `ks.get_mut`/`ks.set`, which is where the keyspace notes keys blocked
//! clients wait on.
//!
//! Public cores (used by the blocking commands; all return `Ok(false)` without writing
//! anything when there was nothing to pop, and `Err(WRONGTYPE)` with nothing changed):
//!
//! * `parse_end(arg)` — LEFT | RIGHT, else "ERR syntax error".
//! * `parse_mpop(args, numkeys_at)` — `numkeys key... LEFT|RIGHT [COUNT n]` of LMPOP and
//!   BLMPOP, with Redis's texts ("ERR numkeys should be greater than 0", "ERR count should
//!   be greater than 0", syntax errors).
//! * `pop_and_reply(ctx, key, end, count, shape)` — pop up to `count` elements and reply in
//!   `shape` (bulk, array, [key, element] for BLPOP/BRPOP, [key, [elements]] for LMPOP).
//! * `mpop_core(ctx, keys, end, count)` — LMPOP/BLMPOP: the first non-empty list of `keys`.
//! * `lmove_core(ctx, src, dst, from, to)` — LMOVE/RPOPLPUSH/BLMOVE/BRPOPLPUSH, replying
//!   the moved element; the destination's type is checked before popping.
//! * `List::{push_front, push_back, pop_front, pop_back, len, is_empty}`.

use smallvec::SmallVec;

use crate::command::args::{self, eq, int, Mpop};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::value::Value;
use crate::keyspace::{Access, SetExpire};
use crate::persist::propagate;
use crate::server::notify;
use crate::util::number::parse_i64;

use crate::data::list::{Fill, List};
use crate::data::listpack::Entry;
use crate::types::{expect, read, write, BulkElem, FromConfig};

// ---------------------------------------------------------------------------------------
// Keyspace helpers
// ---------------------------------------------------------------------------------------

/// After removals: delete the key if the list is empty, else maybe go back to listpack.
/// Emits the "del" event when it deletes.
fn after_removal(ctx: &mut Ctx, key: &[u8], fill: Fill) {
    let ks = &mut *ctx.ks;
    let empty = match write::<List>(ks, key) {
        Ok(Some(l)) => {
            l.shrink_encoding(fill);
            l.is_empty()
        }
        _ => false,
    };
    if empty {
        ks.delete(key);
        notify::event(ctx, notify::GENERIC, "del", key);
    }
}

fn push_event(front: bool) -> &'static str {
    if front {
        "lpush"
    } else {
        "rpush"
    }
}

fn pop_event(end: End) -> &'static str {
    if end.front() {
        "lpop"
    } else {
        "rpop"
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    fn front(self) -> bool {
        self == End::Left
    }
}

/// LEFT | RIGHT (LMOVE, LMPOP and their blocking forms).
pub fn parse_end(arg: &[u8]) -> Result<End, Error> {
    if eq(arg, "left") {
        Ok(End::Left)
    } else if eq(arg, "right") {
        Ok(End::Right)
    } else {
        Err(err::SYNTAX)
    }
}

/// A count that must be a positive integer: Redis replies `msg` for anything else
/// (getRangeLongFromObjectOrReply with a message).
fn positive(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, Error> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(Error::msg(msg)),
    }
}

/// How a pop replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopShape {
    /// LPOP key: one bulk string.
    Bulk,
    /// LPOP key count: an array.
    Array,
    /// BLPOP/BRPOP: [key, element].
    KeyElement,
    /// LMPOP/BLMPOP: [key, [elements]].
    KeyArray,
}

/// Pop up to `count` (>= 1) elements from `end` of the list at `key` and reply in `shape`.
/// `Ok(false)`: no such key (nothing written). Deletes the emptied key, marks dirty.
pub fn pop_and_reply(ctx: &mut Ctx, key: &[u8], end: End, count: usize, shape: PopShape) -> Result<bool, Error> {
    let fill = Fill::of(ctx);
    let Some(l) = write::<List>(ctx.ks, key)? else { return Ok(false) };
    let n = count.min(l.len());
    if n == 0 {
        return Ok(false);
    }
    let out = &mut *ctx.out;
    match shape {
        PopShape::Bulk => {}
        PopShape::Array => out.array(n),
        PopShape::KeyElement => {
            out.array(2);
            out.bulk(key);
        }
        PopShape::KeyArray => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for _ in 0..n {
        l.pop_with(end.front(), |e| e.reply(out));
    }
    ctx.ks.mark_dirty(n as u64);
    // The blocking and multi-key pops replay as the plain pop of what they took.
    let name: &[u8] = if end.front() { b"LPOP" } else { b"RPOP" };
    match shape {
        PopShape::KeyElement => ctx.ks.propagate_as(|| propagate::argv(&[name, key])),
        PopShape::KeyArray => ctx.ks.propagate_as(|| propagate::argv(&[name, key, &propagate::int_arg(n as i64)])),
        PopShape::Bulk | PopShape::Array => {}
    }
    notify::event(ctx, notify::LIST, pop_event(end), key);
    after_removal(ctx, key, fill);
    Ok(true)
}

/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]` of LMPOP (at 1) and BLMPOP (at 2).
pub fn parse_mpop<'a>(args: &'a [&'a [u8]], numkeys_at: usize) -> Result<Mpop<'a, End>, Error> {
    args::parse_mpop(args, numkeys_at, |a| parse_end(a).ok())
}

/// LMPOP core: pop from the first non-empty list among `keys` (a key of another type
/// met first is WRONGTYPE) and reply [key, [elements]]. `Ok(false)`: nothing to pop.
pub fn mpop_core(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: usize) -> Result<bool, Error> {
    for key in keys {
        if pop_and_reply(ctx, key, end, count, PopShape::KeyArray)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// LMOVE core: move one element from `from` of `src` to `to` of `dst`, replying it.
/// `Ok(false)`: `src` does not exist (nothing written). WRONGTYPE on either key is
/// reported before anything moves. Same source and destination rotate the list.
pub fn lmove_core(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<bool, Error> {
    let fill = Fill::of(ctx);
    // A look at the source that does not count as a write yet: Redis signals the
    // destination's modification before the source's.
    match ctx.ks.peek(src) {
        None => return Ok(false),
        Some(e) if expect::<List>(&e.value)?.is_empty() => return Ok(false),
        Some(_) => {}
    }
    if src == dst {
        let Some(l) = write::<List>(ctx.ks, src)? else { return Ok(false) };
        let Some(v) = l.pop_with(from.front(), |e| e.to_small()) else { return Ok(false) };
        l.grow_encoding(fill, v.len(), 1);
        l.push_entry(&v, to.front(), fill);
        // Redis's order: the push's event, the reply, the pop's event.
        notify::event(ctx, notify::LIST, push_event(to.front()), dst);
        ctx.out.bulk(&v);
        notify::event(ctx, notify::LIST, pop_event(from), src);
    } else {
        write::<List>(ctx.ks, dst)?; // WRONGTYPE before popping
        ctx.ks.will_write(dst); // even when it is created: it is modified first
        let Some(l) = write::<List>(ctx.ks, src)? else { return Ok(false) };
        let Some(v) = l.pop_with(from.front(), |e| e.to_small()) else { return Ok(false) };
        push_or_create(ctx.ks, dst, &[&v], to.front(), fill);
        // Redis's order: the push's event, the reply, the pop's event.
        notify::event(ctx, notify::LIST, push_event(to.front()), dst);
        ctx.out.bulk(&v);
        notify::event(ctx, notify::LIST, pop_event(from), src);
        after_removal(ctx, src, fill);
    }
    ctx.ks.mark_dirty(1);
    Ok(true)
}

/// Push onto the list at `key`, creating it if missing (the type was checked). Returns
/// the new length.
fn push_or_create(ks: &mut Access<'_>, key: &[u8], items: &[&[u8]], front: bool, fill: Fill) -> usize {
    if let Ok(Some(l)) = write::<List>(ks, key) {
        l.push_many(items, front, fill);
        return l.len();
    }
    let mut l = List::new();
    l.push_many(items, front, fill);
    let n = l.len();
    ks.set(key, Value::List(Box::new(l)), SetExpire::Clear);
    n
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, front: bool, only_existing: bool) -> CmdResult {
    let fill = Fill::of(ctx);
    let (key, items) = (ctx.args[1], &ctx.args[2..]);
    let exists = write::<List>(ctx.ks, key)?.is_some();
    if !exists && only_existing {
        ctx.out.int(0);
        return Ok(());
    }
    let n = push_or_create(ctx.ks, key, items, front, fill);
    ctx.ks.mark_dirty(items.len() as u64);
    // Redis replies before it notifies (a RESP3 client subscribed to its own events sees
    // the reply first).
    ctx.out.int(n as i64);
    notify::event(ctx, notify::LIST, push_event(front), key);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, false)
}

pub fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, false)
}

pub fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, true)
}

pub fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, true)
}

/// LPOP/RPOP key [count]
fn pop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", ctx.name_lower())));
    }
    let key = ctx.args[1];
    if ctx.args.len() == 2 {
        if !pop_and_reply(ctx, key, end, 1, PopShape::Bulk)? {
            ctx.out.nil();
        }
        return Ok(());
    }
    let count = positive(ctx.args[2], 0, "ERR value is out of range, must be positive")?;
    match write::<List>(ctx.ks, key)? {
        None => ctx.out.nil_array(),
        Some(_) if count == 0 => ctx.out.array(0),
        Some(_) => {
            pop_and_reply(ctx, key, end, count as usize, PopShape::Array)?;
        }
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Left)
}

pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Right)
}

pub fn llen(ctx: &mut Ctx) -> CmdResult {
    let n = read::<List>(ctx.ks, ctx.args[1])?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// A Redis index (negative from the tail) resolved against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

pub fn lindex(ctx: &mut Ctx) -> CmdResult {
    let Some(l) = read::<List>(ctx.ks, ctx.args[1])? else {
        ctx.out.nil();
        return Ok(());
    };
    let index = int(ctx.args[2])?;
    match resolve_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(e) => e.reply(ctx.out),
        None => ctx.out.nil(),
    }
    Ok(())
}

pub fn lset(ctx: &mut Ctx) -> CmdResult {
    let fill = Fill::of(ctx);
    let key = ctx.args[1];
    let Some(l) = write::<List>(ctx.ks, key)? else { return Err(err::NO_SUCH_KEY) };
    let index = int(ctx.args[2])?;
    let v = ctx.args[3];
    l.grow_encoding(fill, v.len(), 1);
    match resolve_index(index, l.len()) {
        Some(i) if l.set(i, v, fill) => {}
        _ => return Err(err::OUT_OF_RANGE),
    }
    l.shrink_encoding(fill);
    ctx.ks.mark_dirty(1);
    ctx.out.ok();
    notify::event(ctx, notify::LIST, "lset", key);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx) -> CmdResult {
    let fill = Fill::of(ctx);
    let after = if eq(ctx.args[2], "after") {
        true
    } else if eq(ctx.args[2], "before") {
        false
    } else {
        return Err(err::SYNTAX);
    };
    let (pivot, v) = (ctx.args[3], ctx.args[4]);
    let Some(l) = write::<List>(ctx.ks, ctx.args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    // Redis converts before searching (it cannot convert inside its iterator).
    l.grow_encoding(fill, v.len(), 1);
    if !l.insert_at_pivot(pivot, v, after, fill) {
        ctx.out.int(-1);
        return Ok(());
    }
    let n = l.len();
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::LIST, "linsert", ctx.args[1]);
    ctx.out.int(n as i64);
    Ok(())
}

/// Clamp a Redis range [start, stop] to `len`; None when empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

pub fn lrange(ctx: &mut Ctx) -> CmdResult {
    let start = int(ctx.args[2])?;
    let stop = int(ctx.args[3])?;
    let Some(l) = read::<List>(ctx.ks, ctx.args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(start, stop, l.len()) {
        None => ctx.out.array(0),
        Some((a, b)) => {
            let out = &mut *ctx.out;
            out.array(b - a + 1);
            for e in l.iter_from(a, true).take(b - a + 1) {
                e.reply(out);
            }
        }
    }
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let fill = Fill::of(ctx);
    let start = int(ctx.args[2])?;
    let stop = int(ctx.args[3])?;
    let key = ctx.args[1];
    let Some(l) = write::<List>(ctx.ks, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    let (left, right) = match clamp_range(start, stop, len) {
        None => (len, 0),
        Some((a, b)) => (a, len - b - 1),
    };
    l.trim(left, right);
    ctx.ks.mark_dirty((left + right) as u64);
    // Redis signals the key as modified even when nothing was trimmed.
    ctx.ks.signal_always = true;
    notify::event(ctx, notify::LIST, "ltrim", key);
    after_removal(ctx, key, fill);
    ctx.out.ok();
    Ok(())
}

pub fn lrem(ctx: &mut Ctx) -> CmdResult {
    let fill = Fill::of(ctx);
    let count = int(ctx.args[2])?;
    let key = ctx.args[1];
    let Some(l) = write::<List>(ctx.ks, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = l.remove_matching(ctx.args[3], limit, count < 0);
    if removed > 0 {
        ctx.ks.mark_dirty(removed as u64);
        notify::event(ctx, notify::LIST, "lrem", key);
        after_removal(ctx, key, fill);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq(args[j], "rank") && more {
            rank = int(args[j + 1])?;
            if rank == i64::MIN {
                return Err(Error::msg(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(Error::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq(args[j], "count") && more {
            count = Some(positive(args[j + 1], 0, "ERR COUNT can't be negative")?);
        } else if eq(args[j], "maxlen") && more {
            maxlen = positive(args[j + 1], 0, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(err::SYNTAX);
        }
        j += 2;
    }
    let Some(l) = read::<List>(ctx.ks, args[1])? else {
        if count.is_some() {
            ctx.out.array(0);
        } else {
            ctx.out.nil();
        }
        return Ok(());
    };
    let forward = rank > 0;
    let skip = rank.unsigned_abs() - 1; // matches to pass over before reporting
    let probe = Entry::of(args[2]);
    let len = l.len();
    let scan = if maxlen == 0 { len } else { (maxlen as u64).min(len as u64) as usize };
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
    };
    let start = if forward { 0 } else { len.saturating_sub(1) };
    let mut found: SmallVec<[usize; 8]> = SmallVec::new();
    let mut matches: u64 = 0;
    for (i, e) in l.iter_from(start, forward).take(scan).enumerate() {
        if e == probe {
            matches += 1;
            if matches > skip {
                found.push(if forward { i } else { len - 1 - i });
                if found.len() >= wanted {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.nil(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
    }
    Ok(())
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.args[3])?;
    let to = parse_end(ctx.args[4])?;
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    if !lmove_core(ctx, src, dst, from, to)? {
        ctx.out.nil();
    }
    Ok(())
}

pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    if !lmove_core(ctx, src, dst, End::Right, End::Left)? {
        ctx.out.nil();
    }
    Ok(())
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let a = parse_mpop(args, 1)?;
    if !mpop_core(ctx, a.keys, a.side, a.count)? {
        ctx.out.nil_array();
    }
    Ok(())
}
