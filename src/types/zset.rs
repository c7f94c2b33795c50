//! Sorted sets (Redis's t_zset.c): the commands. The representation ("listpack" and
//! "skiplist" encodings, the B+-tree, score and lex ranges) is `data::zset`. Each handler
//! parses and validates everything (in Redis's order, so the same error wins) before it
//! touches the keyspace or writes a reply.
//!
//! Shared pieces: `RangeQuery` (the ZRANGE family: ranks, BYSCORE, BYLEX, REV, LIMIT,
//! WITHSCORES, STORE), `set_op` (ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD with WEIGHTS and
//! AGGREGATE), and `pop_reply`, the core of ZPOPMIN/ZPOPMAX/ZMPOP that the blocking pops
//! (BZPOPMIN/BZPOPMAX/BZMPOP) call once a key is ready.

use std::borrow::Cow;

use rand::Rng;
use smallvec::SmallVec;

use crate::command::args::{self, eq, int, Mpop};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::hash::{Elem, Probe};
use crate::data::set::Set;
use crate::data::value::Value;
use crate::data::zset::{BadRange, LexRange, Limits, ScoreRange, ZSet};
use crate::keyspace::SetExpire;
use crate::persist::propagate;
use crate::resp::write::ReplyWriter;
use crate::server::notify;
use crate::types::{read, write, FromConfig};
use crate::util::number::{parse_f64, write_f64};

impl From<BadRange> for Error {
    fn from(b: BadRange) -> Error {
        Error::msg(match b {
            BadRange::Score => "ERR min or max is not a float",
            BadRange::Lex => "ERR min or max not valid string range item",
        })
    }
}

fn float_arg(a: &[u8]) -> Result<f64, Error> {
    parse_f64(a).ok_or(err::NOT_FLOAT)
}

/// getPositiveLongFromObjectOrReply without a custom text: one error for both a
/// non-integer and a negative value.
fn positive(a: &[u8]) -> Result<i64, Error> {
    match crate::util::number::parse_i64(a) {
        Some(v) if v >= 0 => Ok(v),
        _ => Err(err::NOT_POSITIVE),
    }
}

/// Array header for `n` elements, doubled for RESP2 WITHSCORES (flat member, score).
fn range_header(out: &mut ReplyWriter, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
}

/// One element of a range reply: a [member, score] pair under RESP3 WITHSCORES.
#[inline]
fn range_element(out: &mut ReplyWriter, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

// ------------------------------------------------------------------ ZADD / ZINCRBY

#[derive(Default, Clone, Copy)]
pub(crate) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if eq(a, "nx") {
            f.nx = true;
        } else if eq(a, "xx") {
            f.xx = true;
        } else if eq(a, "gt") {
            f.gt = true;
        } else if eq(a, "lt") {
            f.lt = true;
        } else if eq(a, "ch") {
            f.ch = true;
        } else if eq(a, "incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    if f.nx && f.xx {
        return Err(Error::msg("ERR XX and NX options at the same time are not compatible"));
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&on| on).count() > 1 {
        return Err(Error::msg("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && pairs.len() > 2 {
        return Err(Error::msg("ERR INCR option supports a single increment-element pair"));
    }
    add_generic(ctx, f, pairs)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    add_generic(ctx, AddFlags { incr: true, ..AddFlags::default() }, &args[2..4])
}

fn add_generic(ctx: &mut Ctx, f: AddFlags, pairs: &[&[u8]]) -> CmdResult {
    let n = pairs.len() / 2;
    let mut scores: SmallVec<[f64; 8]> = SmallVec::with_capacity(n);
    for j in 0..n {
        scores.push(float_arg(pairs[2 * j])?);
    }
    add_scored(ctx, f, &scores, |j| pairs[2 * j + 1])
}

/// ZADD's work once the scores are numbers: GEOADD comes here too (Redis's geoadd
/// rewrites itself into a ZADD), with `member(j)` the j-th member.
pub(crate) fn add_scored<'m>(
    ctx: &mut Ctx,
    f: AddFlags,
    scores: &[f64],
    member: impl Fn(usize) -> &'m [u8],
) -> CmdResult {
    let n = scores.len();
    let limits = Limits::of(ctx);
    let key = ctx.args[1];
    let exists = write::<ZSet>(ctx.ks, key)?.is_some();
    if !exists {
        if f.xx {
            if f.incr {
                ctx.out.nil();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        // Redis 7.2 sizes the new set by the pair count and the first member's length.
        let hint = ZSet::with_hint(n, member(0).len(), limits);
        ctx.ks.set(key, Value::ZSet(Box::new(hint)), SetExpire::Clear);
    }
    let Some(z) = write::<ZSet>(ctx.ks, key)? else { return Ok(()) };
    if exists {
        z.maybe_convert_for(n, limits);
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    for (j, &score) in scores.iter().enumerate() {
        let member = member(j);
        let mut score = score;
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        // INCR takes a single pair: nothing was changed.
                        return Err(Error::msg("ERR resulting score is not a number (NaN)"));
                    }
                }
                if (f.lt && score >= cur) || (f.gt && score <= cur) {
                    continue;
                }
                if score != cur {
                    z.update(member, score);
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert_new(member, score, limits);
                added += 1;
            }
        }
        processed += 1;
        last = score;
    }
    ctx.ks.mark_dirty((added + updated) as u64);
    // Redis replies, then notifies.
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.nil();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    if added + updated > 0 {
        notify::event(ctx, notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(())
}

// ------------------------------------------------------------------ simple reads / ZREM

pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let n = read::<ZSet>(ctx.ks, ctx.args[1])?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    match read::<ZSet>(ctx.ks, ctx.args[1])?.and_then(|z| z.score(ctx.args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.nil(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let z = read::<ZSet>(ctx.ks, args[1])?.map(|z| &*z);
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.nil(),
        }
    }
    Ok(())
}

pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let Some(z) = write::<ZSet>(ctx.ks, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in &args[2..] {
        if z.remove(m) {
            removed += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let empty = z.is_empty();
    if removed > 0 {
        notify::event(ctx, notify::ZSET, "zrem", key);
    }
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(removed as u64);
    ctx.out.int(removed);
    Ok(())
}

/// ZRANK / ZREVRANK key member [WITHSCORE]
fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 4 {
        return Err(Error::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            if rev { "zrevrank" } else { "zrank" }
        )));
    }
    let withscore = if args.len() == 4 {
        if !eq(args[3], "withscore") {
            return Err(err::SYNTAX);
        }
        true
    } else {
        false
    };
    let found = read::<ZSet>(ctx.ks, args[1])?.and_then(|z| z.rank(args[2]).map(|(r, s)| (r, s, z.len())));
    match found {
        Some((r, s, len)) => {
            let r = if rev { len - 1 - r } else { r };
            if withscore {
                ctx.out.array(2);
            }
            ctx.out.int(r as i64);
            if withscore {
                ctx.out.double(s);
            }
        }
        None if withscore => ctx.out.nil_array(),
        None => ctx.out.nil(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let range = ScoreRange::parse(ctx.args[2], ctx.args[3])?;
    let n = read::<ZSet>(ctx.ks, ctx.args[1])?.map_or(0, |z| {
        let (s, e) = range.ranks(z);
        e - s
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let range = LexRange::parse(ctx.args[2], ctx.args[3])?;
    let n = read::<ZSet>(ctx.ks, ctx.args[1])?.map_or(0, |z| {
        let (s, e) = range.ranks(z);
        e - s
    });
    ctx.out.int(n as i64);
    Ok(())
}

// ------------------------------------------------------------------ the ZRANGE family

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// What a range command selected, before the key is read.
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// Resolve a range against a set: (first ascending rank, count, descending?).
fn window(z: &ZSet, bounds: &Bounds, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    let len = z.len() as i64;
    let (start, end) = match bounds {
        Bounds::Rank(s, e) => {
            let (mut s, mut e) = (*s, *e);
            if s < 0 {
                s += len;
            }
            if e < 0 {
                e += len;
            }
            if s < 0 {
                s = 0;
            }
            if s > e || s >= len {
                return (0, 0);
            }
            if e >= len {
                e = len - 1;
            }
            let n = (e - s + 1) as usize;
            return if rev { ((len - 1 - s) as usize, n) } else { (s as usize, n) };
        }
        Bounds::Score(r) => r.ranks(z),
        Bounds::Lex(r) => r.ranks(z),
    };
    // Redis skips `offset` elements one by one (a negative offset skips everything) and
    // then emits up to `limit` (a negative limit means all).
    if offset < 0 {
        return (0, 0);
    }
    let avail = (end - start).saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
    let n = if limit < 0 { avail } else { avail.min(limit as usize) };
    if n == 0 {
        return (0, 0);
    }
    let offset = offset as usize;
    if rev {
        (end - 1 - offset, n)
    } else {
        (start + offset, n)
    }
}

/// Redis's zrangeGenericCommand. `first`: index of the source key; `dst`: ZRANGESTORE's
/// destination; `by`/`rev`: fixed by the legacy commands, None when options choose.
fn range_generic(ctx: &mut Ctx, first: usize, dst: Option<&[u8]>, by: Option<By>, rev: Option<bool>) -> CmdResult {
    let args = ctx.args;
    let store = dst.is_some();
    let (mut by_opt, mut rev_opt) = (by, rev);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if !store && eq(a, "withscores") {
            withscores = true;
        } else if eq(a, "limit") && left >= 2 {
            offset = int(args[j + 1])?;
            limit = int(args[j + 2])?;
            j += 2;
        } else if rev.is_none() && rev_opt.is_none() && eq(a, "rev") {
            rev_opt = Some(true);
        } else if by.is_none() && by_opt.is_none() && eq(a, "bylex") {
            by_opt = Some(By::Lex);
        } else if by.is_none() && by_opt.is_none() && eq(a, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    let by = by_opt.unwrap_or(By::Rank);
    if limit != -1 && by == By::Rank {
        return Err(Error::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Error::msg("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut lo, mut hi) = (args[first + 1], args[first + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let bounds = match by {
        By::Rank => Bounds::Rank(int(lo)?, int(hi)?),
        By::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
    };
    let key = args[first];
    let z = read::<ZSet>(ctx.ks, key)?;
    if let Some(dst) = dst {
        let mut items: Vec<(f64, CompactBytes)> = Vec::new();
        if let Some(z) = z {
            let (from, n) = window(z, &bounds, rev, offset, limit);
            items.reserve_exact(n);
            z.visit_n(from, n, rev, |s, m| items.push((s, CompactBytes::new(m))));
            // Redis creates the destination small (zsetTypeCreate(length, 0): whatever the
            // members' lengths) when a range by rank fits, and always for one by score or lex
            // (length unknown), then adds the range in the order it reads it: the entries
            // stored before it converts (at the first member too long, or past the count)
            // go through the listpack and lose the sign of a negative zero; later ones keep it.
            let limits = Limits::of(ctx);
            if by != By::Rank || n <= limits.entries {
                for it in items.iter_mut().take(limits.entries).take_while(|(_, m)| m.len() <= limits.value) {
                    it.0 = crate::data::zset::listpack_score(it.0);
                }
            }
            if rev {
                items.reverse();
            }
        }
        return store_result(ctx, dst, items, "zrangestore", 1);
    }
    let Some(z) = z else {
        ctx.out.array(0);
        return Ok(());
    };
    let (from, n) = window(z, &bounds, rev, offset, limit);
    let out = &mut *ctx.out;
    range_header(out, n, withscores);
    z.visit_n(from, n, rev, |s, m| range_element(out, m, s, withscores));
    Ok(())
}

/// Store a sorted result at `dst` (or delete `dst` when empty) and reply its size; `dirty`:
/// the changes counted for a stored result (GEOSEARCHSTORE counts each member).
pub(crate) fn store_result(
    ctx: &mut Ctx,
    dst: &[u8],
    items: Vec<(f64, CompactBytes)>,
    event: &str,
    dirty: u64,
) -> CmdResult {
    let n = items.len();
    // Redis replies before it notifies.
    ctx.out.int(n as i64);
    if n == 0 {
        if ctx.ks.delete(dst) {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::GENERIC, "del", dst);
        }
        return Ok(());
    }
    let z = ZSet::from_sorted(items, Limits::of(ctx));
    ctx.ks.set(dst, Value::ZSet(Box::new(z)), SetExpire::Clear);
    ctx.ks.mark_dirty(dirty);
    notify::event(ctx, notify::ZSET, event, dst);
    Ok(())
}

pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, None, None)
}

pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1];
    range_generic(ctx, 2, Some(dst), None, None)
}

pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, Some(By::Rank), Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, Some(By::Score), Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, Some(By::Score), Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, Some(By::Lex), Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, None, Some(By::Lex), Some(true))
}

// ------------------------------------------------------------------ ZREMRANGEBY*

fn remrange_generic(ctx: &mut Ctx, by: By) -> CmdResult {
    let args = ctx.args;
    let bounds = match by {
        By::Rank => Bounds::Rank(int(args[2])?, int(args[3])?),
        By::Score => Bounds::Score(ScoreRange::parse(args[2], args[3])?),
        By::Lex => Bounds::Lex(LexRange::parse(args[2], args[3])?),
    };
    let key = args[1];
    let Some(z) = write::<ZSet>(ctx.ks, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (from, n) = window(z, &bounds, false, 0, -1);
    z.remove_ranks(from, n);
    let empty = z.is_empty();
    if n > 0 {
        let event = match by {
            By::Rank => "zremrangebyrank",
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
        };
        notify::event(ctx, notify::ZSET, event, key);
    }
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(n as u64);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    remrange_generic(ctx, By::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    remrange_generic(ctx, By::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    remrange_generic(ctx, By::Lex)
}

// ------------------------------------------------------------------ pops

/// The reply shapes of the pop family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PopShape {
    /// ZPOPMIN/ZPOPMAX in RESP2, or without COUNT: member, score, member, score ...
    Flat,
    /// ZPOPMIN/ZPOPMAX with COUNT in RESP3: [[member, score], ...]
    Nested,
    /// BZPOPMIN/BZPOPMAX: key, member, score
    KeyFlat,
    /// ZMPOP/BZMPOP: [key, [[member, score], ...]]
    KeyNested,
}

/// Pop up to `count` members of the sorted set at `key` (which exists) and reply in
/// `shape`, with the events where Redis emits them: the pop event after the reply's
/// header (a RESP3 client subscribed to its own events sees it there), `del` at the end if
/// the set is now empty. Returns how many were popped.
pub fn pop_reply(ctx: &mut Ctx, key: &[u8], max: bool, count: usize, shape: PopShape) -> usize {
    // Every caller looked the key up for writing first (`write`): plain lookups here.
    let n = match ctx.ks.peek(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => count.min(z.len()),
        _ => return 0,
    };
    let out = &mut *ctx.out;
    match shape {
        PopShape::Flat => out.array(n * 2),
        PopShape::Nested => out.array(n),
        PopShape::KeyFlat => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        PopShape::KeyNested => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    notify::event(ctx, notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    // The set again (a plain lookup: it is already noted as written), for the elements.
    let Some(Value::ZSet(z)) = ctx.ks.peek(key).map(|e| &mut e.value) else { return 0 };
    let nested = matches!(shape, PopShape::Nested | PopShape::KeyNested);
    for _ in 0..n {
        let Some((score, member)) = z.pop(max) else { break };
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(&member);
        ctx.out.double(score);
    }
    let empty = z.is_empty();
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(n as u64);
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    match shape {
        PopShape::KeyFlat => ctx.ks.propagate_as(|| propagate::argv(&[name, key])),
        PopShape::KeyNested => ctx.ks.propagate_as(|| propagate::argv(&[name, key, &propagate::int_arg(n as i64)])),
        PopShape::Flat | PopShape::Nested => {}
    }
    n
}

/// ZPOPMIN / ZPOPMAX key [count]
fn zpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = match args.get(2) {
        Some(a) => Some(positive(a)?),
        None => None,
    };
    let key = args[1];
    if write::<ZSet>(ctx.ks, key)?.is_none() || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let shape = if ctx.out.resp3 && count.is_some() { PopShape::Nested } else { PopShape::Flat };
    pop_reply(ctx, key, max, count.unwrap_or(1) as usize, shape);
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, false)
}

pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, true)
}

/// getRangeLongFromObjectOrReply(1, LONG_MAX) with a custom message.
/// `numkeys key [key ...] MIN|MAX [COUNT count]` of ZMPOP (at 1) and BZMPOP (at 2); the
/// side is whether to pop the highest scores.
fn parse_mpop<'a>(args: &'a [&'a [u8]], numkeys_at: usize) -> Result<Mpop<'a, bool>, Error> {
    args::parse_mpop(args, numkeys_at, |a| {
        if eq(a, "min") {
            Some(false)
        } else if eq(a, "max") {
            Some(true)
        } else {
            None
        }
    })
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let Mpop { keys, side: max, count } = parse_mpop(ctx.args, 1)?;
    for key in keys {
        if write::<ZSet>(ctx.ks, key)?.is_some() {
            pop_reply(ctx, key, max, count, PopShape::KeyNested);
            return Ok(());
        }
    }
    ctx.out.nil_array();
    Ok(())
}

// ------------------------------------------------------------------ ZRANDMEMBER

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() >= 3 {
        let l = int(args[2])?;
        if l == i64::MIN {
            return Err(Error::msg(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if args.len() > 4 || (args.len() == 4 && !eq(args[3], "withscores")) {
            return Err(err::SYNTAX);
        }
        let withscores = args.len() == 4;
        if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return Err(Error::msg("ERR value is out of range"));
        }
        return randmember_count(ctx, l, withscores);
    }
    let mut rng = crate::util::rng::fast();
    match read::<ZSet>(ctx.ks, args[1])? {
        None => ctx.out.nil(),
        Some(z) => match z.at(rng.gen_range(0..z.len())) {
            Some((_, m)) => ctx.out.bulk(m),
            None => ctx.out.nil(),
        },
    }
    Ok(())
}

fn randmember_count(ctx: &mut Ctx, l: i64, withscores: bool) -> CmdResult {
    let Some(z) = read::<ZSet>(ctx.ks, ctx.args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    let out = &mut *ctx.out;
    if l == 0 {
        out.array(0);
        return Ok(());
    }
    let size = z.len();
    let mut rng = crate::util::rng::fast();
    if l < 0 {
        // With repetitions: every pick uniform and independent.
        let count = l.unsigned_abs() as usize;
        range_header(out, count, withscores);
        for _ in 0..count {
            if let Some((s, m)) = z.at(rng.gen_range(0..size)) {
                range_element(out, m, s, withscores);
            }
        }
        return Ok(());
    }
    let count = l as usize;
    if count >= size {
        range_header(out, size, withscores);
        z.visit(0, false, |s, m| {
            range_element(out, m, s, withscores);
            true
        });
        return Ok(());
    }
    // Distinct members: a uniform sample of ranks, in random order.
    let picks = rand::seq::index::sample(&mut rng, size, count);
    range_header(out, count, withscores);
    for r in picks.iter() {
        if let Some((s, m)) = z.at(r) {
            range_element(out, m, s, withscores);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ ZSCAN

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = crate::types::generic::parse_cursor(args[2])?;
    let Some(z) = read::<ZSet>(ctx.ks, args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = crate::command::args::parse_scan_opts(&args[3..], false)?;
    let count = opts.count as i64;
    let pattern = opts.pattern;
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = match z.scan(0, |_, _| {}) {
        None => {
            z.visit(0, false, |s, m| {
                found.push((m, s));
                true
            });
            0
        }
        Some(_) => {
            let mut c = cursor;
            let mut iterations = count.saturating_mul(10);
            loop {
                c = z.scan(c, |m, s| found.push((m, s))).unwrap_or(0);
                iterations -= 1;
                if c == 0 || iterations <= 0 || found.len() as i64 >= count {
                    break;
                }
            }
            c
        }
    };
    if let Some(p) = pattern {
        found.retain(|(m, _)| crate::util::glob::glob_match(p, m, false));
    }
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len() * 2);
    let mut buf = Vec::with_capacity(24);
    for (m, s) in found {
        out.bulk(m);
        buf.clear();
        write_f64(s, &mut buf);
        out.bulk(&buf);
    }
    Ok(())
}

// ------------------------------------------------------------------ set operations

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's zunionInterAggregate: +inf + -inf is taken as 0.
#[inline]
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// An input of a set operation. The pointers are to the boxed values of keys looked up
/// by this command: every shard of its keys is locked for the whole command, and nothing
/// is written until the result is owned, so the boxes stay alive and unmoved.
#[derive(Clone, Copy)]
enum Src {
    Missing,
    Zset(*const ZSet),
    Set(*const Set),
}

/// A member of an input: borrowed from the input (alive for the whole command, see `Src`)
/// or, for a plain set's integer-encoded member, formatted into an owned buffer.
type Member<'a> = Cow<'a, [u8]>;

impl Src {
    fn zset<'a>(&self) -> Option<&'a ZSet> {
        match self {
            // SAFETY: see the type's comment.
            Src::Zset(p) => Some(unsafe { &**p }),
            _ => None,
        }
    }

    fn set<'a>(&self) -> Option<&'a Set> {
        match self {
            // SAFETY: see the type's comment.
            Src::Set(p) => Some(unsafe { &**p }),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Zset(_) => self.zset().map_or(0, |z| z.len()),
            Src::Set(_) => self.set().map_or(0, |s| s.len()),
        }
    }

    /// Every member with its score (1 for a plain set's members).
    fn for_each<'a>(&self, f: &mut dyn FnMut(Member<'a>, f64)) {
        if let Some(z) = self.zset() {
            z.visit(0, false, |s, m| {
                f(Cow::Borrowed(m), s);
                true
            });
        } else if let Some(set) = self.set() {
            set.for_each(|e| match e {
                Elem::Int(n) => f(Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()), 1.0),
                // SAFETY: string members live in the set's own storage (its table entries or
                // its packed buffer), which outlives the command (see `Src`).
                Elem::Str(b) => f(Cow::Borrowed(unsafe { &*(b as *const [u8]) }), 1.0),
            });
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Zset(_) => self.zset().and_then(|z| z.score(member)),
            Src::Set(_) => self.set().and_then(|s| s.contains(&Probe::new(member)).then_some(1.0)),
        }
    }

    fn same(&self, other: &Src) -> bool {
        match (self, other) {
            (Src::Zset(a), Src::Zset(b)) => std::ptr::eq(*a, *b),
            (Src::Set(a), Src::Set(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// Redis's zunionInterDiffGenericCommand.
fn set_op(ctx: &mut Ctx, dst: Option<&[u8]>, numkeys_idx: usize, op: Op, card_only: bool, name: &str) -> CmdResult {
    let args = ctx.args;
    let setnum = int(args[numkeys_idx])?;
    if setnum < 1 {
        return Err(Error::msg(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if setnum > (args.len() - numkeys_idx - 1) as i64 {
        return Err(err::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let mut srcs: Vec<Src> = Vec::with_capacity(setnum);
    for k in keys {
        let src = match ctx.ks.get(k) {
            None => Src::Missing,
            Some(e) => match &e.value {
                Value::ZSet(z) => Src::Zset(&**z as *const ZSet),
                Value::Set(s) => Src::Set(&**s as *const Set),
                _ => return Err(err::WRONGTYPE),
            },
        };
        srcs.push(src);
    }
    let mut weights: SmallVec<[f64; 8]> = SmallVec::from_elem(1.0, setnum);
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: i64 = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != Op::Diff && !card_only && remaining > setnum && eq(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_f64(args[j]).ok_or_else(|| Error::msg("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != Op::Diff && !card_only && remaining >= 2 && eq(a, "aggregate") {
            let v = args[j + 1];
            how = if eq(v, "sum") {
                Aggregate::Sum
            } else if eq(v, "min") {
                Aggregate::Min
            } else if eq(v, "max") {
                Aggregate::Max
            } else {
                return Err(err::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq(a, "limit") {
            limit = match crate::util::number::parse_i64(args[j + 1]) {
                Some(v) if v >= 0 => v,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }

    // Smallest inputs first (a stable sort, as glibc's qsort is in practice), as Redis
    // does for union and intersection; the order of the sums follows it.
    let mut order: SmallVec<[usize; 8]> = (0..setnum).collect();
    if op != Op::Diff {
        order.sort_by_key(|&i| srcs[i].len());
    }
    let mut result: Vec<(f64, Member)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        Op::Inter => {
            let first = order[0];
            if srcs[first].len() > 0 {
                let first_src = srcs[first];
                first_src.for_each(&mut |m, s0| {
                    if card_only && limit > 0 && cardinality >= limit as usize {
                        return;
                    }
                    let mut score = weights[first] * s0;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for &k in &order[1..] {
                        let v = if srcs[k].same(&first_src) { Some(s0) } else { srcs[k].score(&m) };
                        match v {
                            Some(v) => aggregate(&mut score, v * weights[k], how),
                            None => return,
                        }
                    }
                    cardinality += 1;
                    if !card_only {
                        result.push((score, m));
                    }
                });
            }
        }
        Op::Union => {
            let mut acc: hashbrown::HashMap<Member, f64, ahash::RandomState> =
                hashbrown::HashMap::with_hasher(ahash::RandomState::new());
            for &k in &order {
                let w = weights[k];
                srcs[k].for_each(&mut |m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.entry(m) {
                        hashbrown::hash_map::Entry::Occupied(mut e) => aggregate(e.get_mut(), score, how),
                        hashbrown::hash_map::Entry::Vacant(e) => {
                            e.insert(score);
                        }
                    }
                });
            }
            result = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        Op::Diff => {
            let first = srcs[0];
            first.for_each(&mut |m, s| {
                if srcs[1..].iter().any(|o| o.same(&first) || o.score(&m).is_some()) {
                    return;
                }
                result.push((s, m));
            });
        }
    }
    if card_only {
        ctx.out.int(cardinality as i64);
        return Ok(());
    }
    result.sort_unstable_by(|a, b| crate::data::zset::tree::cmp_key(a.0, &a.1, b.0, &b.1));
    match dst {
        Some(dst) => {
            let items: Vec<(f64, CompactBytes)> = result.iter().map(|(s, m)| (*s, CompactBytes::new(m))).collect();
            drop(result);
            store_result(ctx, dst, items, name, 1)
        }
        None => {
            let out = &mut *ctx.out;
            range_header(out, result.len(), withscores);
            for (s, m) in &result {
                range_element(out, m, *s, withscores);
            }
            // Redis builds this result as a skiplist and frees it as it frees a deleted key.
            if ctx.ks.lazy_server_del() {
                let n = result.len();
                crate::data::lazyfree::free_temporary(result, n);
            }
            Ok(())
        }
    }
}

pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    set_op(ctx, None, 1, Op::Union, false, "zunion")
}

pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    set_op(ctx, None, 1, Op::Inter, false, "zinter")
}

pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    set_op(ctx, None, 1, Op::Diff, false, "zdiff")
}

pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    set_op(ctx, None, 1, Op::Inter, true, "zintercard")
}

pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1];
    set_op(ctx, Some(dst), 2, Op::Union, false, "zunionstore")
}

pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1];
    set_op(ctx, Some(dst), 2, Op::Inter, false, "zinterstore")
}

pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.args[1];
    set_op(ctx, Some(dst), 2, Op::Diff, false, "zdiffstore")
}

// ------------------------------------------------------------------ BZPOPMIN BZPOPMAX BZMPOP
// Blocking forms: answer now when a sorted set has members, else block (command::blocking);
// the handler runs again on the client's behalf when a key it waits on is filled.

fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    let n = args.len();
    let timeout = crate::command::blocking::parse_timeout(args[n - 1])?;
    let keys = &args[1..n - 1];
    for key in keys {
        if write::<ZSet>(ctx.ks, key)?.is_some() {
            pop_reply(ctx, key, max, 1, PopShape::KeyFlat);
            return Ok(());
        }
    }
    crate::command::blocking::block(ctx, keys, timeout, "zset", crate::command::blocking::OnTimeout::NullArray)
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let Mpop { keys, side: max, count } = parse_mpop(ctx.args, 2)?;
    let timeout = crate::command::blocking::parse_timeout(ctx.args[1])?;
    for key in keys {
        if write::<ZSet>(ctx.ks, key)?.is_some() {
            pop_reply(ctx, key, max, count, PopShape::KeyNested);
            return Ok(());
        }
    }
    crate::command::blocking::block(ctx, keys, timeout, "zset", crate::command::blocking::OnTimeout::NullArray)
}
