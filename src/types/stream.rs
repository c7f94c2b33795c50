//! Stream commands (Redis's t_stream.c command half): XADD XLEN XDEL XTRIM XRANGE
//! XREVRANGE XSETID. Consumer groups and reads (XREAD, XREADGROUP, XGROUP, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM, XINFO) are in `stream_group`. The representation is
//! `data::stream`.
//!
//! Redis's argument order is the specification here, errors included: XADD and XTRIM share
//! one option parser (`parse_add_trim_args`, streamParseAddOrTrimArgsOrReply), so a word
//! XADD does not know is taken as the id and fails as an invalid id; the field count is
//! checked after the options; 0-0 is refused before the key is looked up, so no empty
//! stream is left behind. The id of `*` is the command's frozen time (a script's start
//! time), or the last id + 1 when the clock is behind it, so ids stay monotonic.
//!
//! Which writes signal the key (WATCH, client tracking, blocked readers) follows Redis 7.2
//! too: XADD always, XDEL and XTRIM only when they removed something, XSETID never (Redis
//! does not call signalModifiedKey for it). Trimming leaves max_deleted_entry_id alone;
//! only XDEL raises it.
//!
//! `reply_id`, `reply_entry` and `reply_range` write entries the way every stream reply
//! shows them ([id, [field, value, ...]] in RESP2 and RESP3); the group commands use them.

use smallvec::SmallVec;

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::stream::{NodeLimits, Stream, StreamId, Trim};
use crate::resp::write::{Agg, ReplyWriter};
use crate::server::{notify, TypeLimits};
use crate::types::{read, write, write_or_create, FromConfig};
use crate::util::number::parse_u64_c;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Parse a stream id argument as Redis's streamGenericParseIDOrReply does: "ms" (seq =
/// `missing_seq`) or "ms-seq", each part by `string2ull`; "-" and "+" are the minimum and
/// maximum unless `strict`; with `seq_star`, "ms-*" gives (ms-0, false) — the bool says
/// whether the sequence was given. Redis copies the argument into a C string of at most
/// 127 bytes, so a longer one is invalid and a NUL ends it.
pub fn parse_id_full(arg: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Result<(StreamId, bool), Error> {
    let invalid = || Error::msg(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(d) => (&arg[..d], Some(&arg[d + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64_c(ms).ok_or_else(invalid)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64_c(s).ok_or_else(invalid)?), true)),
    }
}

/// `parse_id_full` without the "ms-*" form (streamParseIDOrReply / streamParseStrictIDOrReply).
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Error> {
    parse_id_full(arg, missing_seq, strict, false).map(|(id, _)| id)
}

// ------------------------------------------------------------------ replies

/// Longest "ms-seq" text: two 20-digit numbers and the dash.
const ID_TEXT_MAX: usize = 41;

/// An id as a bulk string, formatted on the stack (every entry of a range reply has one).
pub fn reply_id(out: &mut ReplyWriter, id: StreamId) {
    let mut buf = [0u8; ID_TEXT_MAX];
    let mut b = itoa::Buffer::new();
    let ms = b.format(id.ms).as_bytes();
    buf[..ms.len()].copy_from_slice(ms);
    buf[ms.len()] = b'-';
    let at = ms.len() + 1;
    let seq = b.format(id.seq).as_bytes();
    buf[at..at + seq.len()].copy_from_slice(seq);
    out.bulk(&buf[..at + seq.len()]);
}

/// One entry as every stream reply shows it, in RESP2 and RESP3 alike: [id, [f1, v1, ...]].
pub fn reply_entry(out: &mut ReplyWriter, id: StreamId, fields: &[&[u8]]) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.len());
    for f in fields {
        out.bulk(f);
    }
}

/// The entries with `start <= id <= end` (descending with `rev`), at most `count` of them
/// (0: all), as an array of entries (streamReplyWithRange without a group). Returns how
/// many were sent.
pub fn reply_range(out: &mut ReplyWriter, s: &Stream, start: StreamId, end: StreamId, count: u64, rev: bool) -> u64 {
    let d = out.begin_deferred(Agg::Array);
    let mut n = 0u64;
    s.visit(start, end, rev, |id, fields| {
        reply_entry(out, id, fields);
        n += 1;
        count == 0 || n < count
    });
    out.end_deferred(d, n as usize);
    n
}

// ------------------------------------------------------------------ trimming options

/// Redis caps the implicit LIMIT of an approximate trim from both sides (a 0 or huge
/// stream-node-max-entries).
const DEFAULT_LIMIT_MIN: u64 = 10_000;
const DEFAULT_LIMIT_MAX: u64 = 1_000_000;

/// XADD's and XTRIM's shared options (streamAddTrimArgs).
#[derive(Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    /// Entries a trim may remove (0: no limit), after the defaults are applied.
    limit: u64,
    /// XADD: NOMKSTREAM.
    no_mkstream: bool,
    /// XADD: the explicit id and whether its sequence was given ("ms-*" leaves it out).
    id: Option<(StreamId, bool)>,
    /// Where the trim's threshold argument is (0: no trim).
    threshold_at: usize,
}

/// Parse the options of XADD (`xadd`: up to and including the id, which is returned as
/// the index of the id argument) or XTRIM (all of them), as Redis's
/// streamParseAddOrTrimArgsOrReply does, with its error texts and their order.
fn parse_add_trim_args(ctx: &Ctx, xadd: bool) -> Result<(AddTrimArgs, usize), Error> {
    const BOTH: &str = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    let args = ctx.args;
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            break;
        } else if (eq(opt, "maxlen") || eq(opt, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(Error::msg(BOTH));
            }
            a.approx = false;
            if more >= 2 && args[i + 1] == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && args[i + 1] == b"=" {
                i += 1;
            }
            let value = args[i + 1];
            a.threshold_at = i + 1;
            a.trim = Some(if eq(opt, "maxlen") {
                let n = int(value)?;
                if n < 0 {
                    return Err(Error::msg("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_id(value, 0, true)?)
            });
            i += 1;
        } else if eq(opt, "limit") && more > 0 {
            let n = int(args[i + 1])?;
            if n < 0 {
                return Err(Error::msg("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            // Not an option: the id (or a syntax error, reported as an invalid id).
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if a.limit != 0 && a.trim.is_none() {
        return Err(Error::msg("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && a.trim.is_none() {
        return Err(Error::msg("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given {
        if !a.approx {
            return Err(Error::msg("ERR syntax error, LIMIT cannot be used without the special ~ option"));
        }
    } else if a.approx {
        // Without LIMIT, `~` still bounds the work of one trim; exact trimming is unbounded.
        let per_node = TypeLimits::get(&ctx.srv.limits.stream_node_max_entries).max(0) as u64;
        a.limit = per_node.saturating_mul(100);
        if a.limit == 0 {
            a.limit = DEFAULT_LIMIT_MIN;
        }
        a.limit = a.limit.min(DEFAULT_LIMIT_MAX);
    } else {
        a.limit = 0;
    }
    Ok((a, i))
}

/// How XADD and XTRIM propagate an approximate trim (Redis's streamRewriteApproxSpecifier
/// and streamRewriteTrimArgument): `~` becomes `=` and the threshold what this trim
/// reached, the stream's length (MAXLEN) or its first id (MINID), so that a replay trims
/// exactly as this run did, whatever its node sizes. `argv`: the command's arguments.
fn exact_trim(argv: &mut [Vec<u8>], opts: &AddTrimArgs, s: &Stream) {
    if !opts.approx {
        return;
    }
    argv[opts.threshold_at - 1] = b"=".to_vec();
    argv[opts.threshold_at] = match opts.trim {
        Some(Trim::MinId(_)) => s.first_id.to_bytes(),
        _ => crate::persist::propagate::int_arg(s.len() as i64),
    };
}

// ------------------------------------------------------------------ commands

/// Fields and values of one entry may not exceed what a listpack node can hold.
const ENTRY_MAX_BYTES: usize = 1 << 30;

/// The id XADD gives a new entry (streamAppendItem's choice): `*` is the current time in
/// ms (or the last id + 1 if the clock is behind it), "ms-*" the next sequence in that
/// millisecond. None: not above the stream's last id.
fn next_id(last: StreamId, given: Option<(StreamId, bool)>, now_ms: u64) -> Option<StreamId> {
    let id = match given {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => StreamId::new(id.ms, last.seq.checked_add(1)?),
        Some((id, false)) => id,
        None if now_ms > last.ms => StreamId::new(now_ms, 0),
        None => last.incr()?,
    };
    (id > last).then_some(id)
}

/// Tell the clients blocked on `key` that it has news for stream readers (XADD, XGROUP
/// DESTROY), as Redis's signalKeyAsReady: other writes (XDEL, XTRIM, XSETID, XGROUP SETID)
/// do not wake them.
pub fn signal_readers(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.ks.db;
    let shard = ctx.ks.keyspace().shard_of(crate::keyspace::key_hash(key));
    if ctx.ks.shard_at(db, shard).waiters.has(key) {
        ctx.ks.signal_ready(db, key);
    }
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(ctx: &mut Ctx) -> CmdResult {
    let (opts, id_pos) = parse_add_trim_args(ctx, true)?;
    // Options can run to the end with no id ("XADD s MAXLEN = 1"): no fields then.
    let fields = ctx.args.get(id_pos + 1..).unwrap_or_default();
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(ctx.arity_error());
    }
    // 0-0 can never be added: refused before the key is looked up (and maybe created).
    if opts.id == Some((StreamId::MIN, true)) {
        return Err(Error::msg("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let limits = NodeLimits::of(ctx);
    let key = ctx.args[1];
    if opts.no_mkstream && write::<Stream>(ctx.ks, key)?.is_none() {
        ctx.out.nil();
        return Ok(());
    }
    let now_ms = ctx.ks.now_ms.max(0) as u64;
    let prop = ctx.ks.prop;
    let s = write_or_create::<Stream>(ctx.ks, key)?;
    if s.last_id == StreamId::MAX {
        return Err(Error::msg("ERR The stream has exhausted the last possible ID, unable to add more items"));
    }
    let Some(id) = next_id(s.last_id, opts.id, now_ms) else {
        return Err(Error::msg("ERR The ID specified in XADD is equal or smaller than the target stream top item"));
    };
    if fields.iter().map(|f| f.len()).sum::<usize>() > ENTRY_MAX_BYTES {
        return Err(Error::msg("ERR Elements are too large to be stored"));
    }
    s.append(id, fields, limits);
    let trimmed = opts.trim.is_some_and(|t| s.trim(t, opts.approx, opts.limit, limits) > 0);
    // The id it got ("*", "ms-*"), and the exact trim.
    let rewritten = prop.then(|| {
        let mut argv = crate::persist::propagate::argv(ctx.args);
        if !matches!(opts.id, Some((_, true))) {
            argv[id_pos] = id.to_bytes();
        }
        exact_trim(&mut argv, &opts, s);
        argv
    });
    if let Some(argv) = rewritten {
        ctx.ks.propagate_as(|| argv);
    }
    ctx.ks.mark_dirty(1);
    signal_readers(ctx, key);
    reply_id(ctx.out, id);
    notify::event(ctx, notify::STREAM, "xadd", key);
    if trimmed {
        notify::event(ctx, notify::STREAM, "xtrim", key);
    }
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx) -> CmdResult {
    let (opts, _) = parse_add_trim_args(ctx, false)?;
    let limits = NodeLimits::of(ctx);
    let key = ctx.args[1];
    let prop = ctx.ks.prop && opts.approx;
    let (deleted, rewritten) = match (write::<Stream>(ctx.ks, key)?, opts.trim) {
        (Some(s), Some(t)) => {
            let deleted = s.trim(t, opts.approx, opts.limit, limits);
            let rewritten = (prop && deleted > 0).then(|| {
                let mut argv = crate::persist::propagate::argv(ctx.args);
                exact_trim(&mut argv, &opts, s);
                argv
            });
            (deleted, rewritten)
        }
        _ => (0, None),
    };
    if let Some(argv) = rewritten {
        ctx.ks.propagate_as(|| argv);
    }
    if deleted > 0 {
        notify::event(ctx, notify::STREAM, "xtrim", key);
        ctx.ks.mark_dirty(deleted);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx) -> CmdResult {
    let n = read::<Stream>(ctx.ks, ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]: a missing key answers 0 before the ids are looked at; every id is
/// checked before any is deleted.
pub fn xdel(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let Some(s) = write::<Stream>(ctx.ks, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = args[2..].iter().map(|a| parse_id(a, 0, true)).collect::<Result<SmallVec<[StreamId; 8]>, _>>()?;
    let mut deleted = 0u64;
    for &id in &ids {
        if s.delete(id) {
            s.max_deleted_entry_id = s.max_deleted_entry_id.max(id);
            deleted += 1;
        }
    }
    if deleted > 0 {
        notify::event(ctx, notify::STREAM, "xdel", key);
        ctx.ks.mark_dirty(deleted);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// One end of an interval (streamParseIntervalIDOrReply): "(id" excludes it (strict
/// parsing: no "-" or "+"); the bool says it was excluded.
pub fn parse_interval_end(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    match arg {
        [b'(', id @ ..] if !id.is_empty() => Ok((parse_id(id, missing_seq, true)?, true)),
        _ => Ok((parse_id(arg, missing_seq, false)?, false)),
    }
}

/// The first id an interval's start argument admits (XRANGE, XREVRANGE, XPENDING): "5" is
/// 5-0, "(5-1" is 5-2.
pub fn range_start(arg: &[u8]) -> Result<StreamId, Error> {
    match parse_interval_end(arg, 0)? {
        (id, true) => id.incr().ok_or_else(|| Error::msg("ERR invalid start ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// The last id an interval's end argument admits: "5" is 5-18446744073709551615, "(5-1" is 5-0,
/// "(5" is 5-18446744073709551614.
pub fn range_end(arg: &[u8]) -> Result<StreamId, Error> {
    match parse_interval_end(arg, u64::MAX)? {
        (id, true) => id.decr().ok_or_else(|| Error::msg("ERR invalid end ID for the interval")),
        (id, false) => Ok(id),
    }
}

fn xrange_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    let (start_arg, end_arg) = if rev { (args[3], args[2]) } else { (args[2], args[3]) };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count = None;
    let mut i = 4;
    while i < args.len() {
        if eq(args[i], "count") && i + 1 < args.len() {
            count = Some(int(args[i + 1])?.max(0) as u64);
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let Ctx { ks, out, .. } = ctx;
    match read::<Stream>(ks, args[1])? {
        None => out.array(0),
        Some(_) if count == Some(0) => out.nil_array(),
        Some(s) => {
            reply_range(out, s, start, end, count.unwrap_or(0), rev);
        }
    }
    Ok(())
}

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx) -> CmdResult {
    xrange_generic(ctx, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx) -> CmdResult {
    xrange_generic(ctx, true)
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let id = parse_id(args[2], 0, true)?;
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq(args[i], "entriesadded") && more {
            let n = int(args[i + 1])?;
            if n < 0 {
                return Err(Error::msg("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if eq(args[i], "maxdeletedid") && more {
            max_deleted = parse_id(args[i + 1], 0, true)?;
            if id < max_deleted {
                return Err(Error::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    let key = args[1];
    let s = write::<Stream>(ctx.ks, key)?.ok_or(err::NO_SUCH_KEY)?;
    if id < s.max_deleted_entry_id {
        return Err(Error::msg("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"));
    }
    if let Some(top) = s.edge_id(true) {
        if id < top {
            return Err(Error::msg("ERR The ID specified in XSETID is smaller than the target stream top item"));
        }
        if entries_added.is_some_and(|n| n < s.len()) {
            return Err(Error::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        s.max_deleted_entry_id = max_deleted;
    }
    ctx.ks.mark_dirty(1);
    // Redis 7.2 does not signal the key as modified: WATCH and client tracking miss it.
    ctx.ks.unchanged(key);
    ctx.out.ok();
    notify::event(ctx, notify::STREAM, "xsetid", key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    #[test]
    fn star_ids_follow_the_clock_and_stay_monotonic() {
        assert_eq!(next_id(id(0, 0), None, 1000), Some(id(1000, 0)));
        assert_eq!(next_id(id(1000, 0), None, 1000), Some(id(1000, 1)));
        // The clock went back (or the last id was set in the future): last id + 1.
        assert_eq!(next_id(id(5000, 7), None, 1000), Some(id(5000, 8)));
        assert_eq!(next_id(id(5000, u64::MAX), None, 1000), Some(id(5001, 0)));
        assert_eq!(next_id(StreamId::MAX, None, 1000), None);
    }

    #[test]
    fn ms_star_ids_take_the_next_sequence_of_that_millisecond() {
        assert_eq!(next_id(id(5, 3), Some((id(5, 0), false)), 0), Some(id(5, 4)));
        assert_eq!(next_id(id(5, 3), Some((id(9, 0), false)), 0), Some(id(9, 0)));
        assert_eq!(next_id(id(5, 3), Some((id(4, 0), false)), 0), None);
        assert_eq!(next_id(id(5, u64::MAX), Some((id(5, 0), false)), 0), None);
        assert_eq!(next_id(id(0, 0), Some((id(0, 0), false)), 0), Some(id(0, 1)));
    }

    #[test]
    fn explicit_ids_must_be_above_the_last() {
        assert_eq!(next_id(id(5, 3), Some((id(5, 3), true)), 0), None);
        assert_eq!(next_id(id(5, 3), Some((id(5, 2), true)), 0), None);
        assert_eq!(next_id(id(5, 3), Some((id(5, 4), true)), 0), Some(id(5, 4)));
        assert_eq!(next_id(id(5, 3), Some((StreamId::MAX, true)), 0), Some(StreamId::MAX));
    }

    #[test]
    fn interval_ends() {
        assert_eq!(parse_interval_end(b"-", 0), Ok((StreamId::MIN, false)));
        assert_eq!(parse_interval_end(b"+", 0), Ok((StreamId::MAX, false)));
        assert_eq!(parse_interval_end(b"5", u64::MAX), Ok((id(5, u64::MAX), false)));
        assert_eq!(parse_interval_end(b"(5", 0), Ok((id(5, 0), true)));
        assert_eq!(parse_interval_end(b"(5-1", u64::MAX), Ok((id(5, 1), true)));
        // "(" alone is an id of its own (invalid); "(-" and "(+" are strict ids (invalid).
        for bad in [&b"("[..], b"(-", b"(+", b"((5", b"5-x", b""] {
            assert_eq!(parse_interval_end(bad, 0), Err(Error::msg(INVALID_ID)), "{bad:?}");
        }
    }

    #[test]
    fn range_bounds() {
        assert_eq!(range_start(b"5"), Ok(id(5, 0)));
        assert_eq!(range_start(b"(5-1"), Ok(id(5, 2)));
        assert_eq!(range_start(b"(5-18446744073709551615"), Ok(id(6, 0)));
        assert_eq!(range_end(b"5"), Ok(id(5, u64::MAX)));
        assert_eq!(range_end(b"(5-0"), Ok(id(4, u64::MAX)));
        assert_eq!(range_end(b"(5"), Ok(id(5, u64::MAX - 1)));
        assert_eq!(
            range_start(b"(18446744073709551615-18446744073709551615"),
            Err(Error::msg("ERR invalid start ID for the interval"))
        );
        assert_eq!(range_end(b"(0-0"), Err(Error::msg("ERR invalid end ID for the interval")));
    }

    #[test]
    fn id_replies_fit_the_largest_id() {
        let mut out = ReplyWriter::new(false);
        reply_id(&mut out, StreamId::MAX);
        reply_id(&mut out, id(0, 0));
        assert_eq!(out.buf, b"$41\r\n18446744073709551615-18446744073709551615\r\n$3\r\n0-0\r\n");
    }
}
