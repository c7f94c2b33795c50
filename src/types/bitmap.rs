//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP (Redis's bitops.c): bitmaps are strings.
//!
//! There is no bitmap type: the commands read and write the bytes of a string value, bit 0
//! being the most significant bit of byte 0, so GET, SETRANGE, APPEND and STRLEN see the same
//! bytes. An "int" string is read as its decimal digits, as Redis reads it.
//!
//! SETBIT changes the value in place (`unshare_string` makes an "int" or "embstr" a "raw"
//! string first, as Redis's dbUnshareStringValue does, even when no bit changes) and grows it
//! with zero bytes when the offset is past the end: one bit flip never copies the string.
//! Offsets are limited by `proto-max-bulk-len` (the string may not grow past it), checked
//! before anything else.
//!
//! BITCOUNT and BITPOS share the `start end [BYTE | BIT]` range, resolved like GETRANGE's
//! (negative from the end, clamped to the string); the scanning itself (`util::bitops`) is
//! word-at-a-time or SIMD. Their argument checks happen in Redis 7.2's order, which differs
//! between the two (BITCOUNT looks the key up first; BITPOS reads the bit, then the key, then
//! `start`, the unit and `end` in that order).
//!
//! BITOP builds the result in one buffer of the longest source's length (allocated once,
//! exactly), combining the first two sources as it writes it and folding any others in, a
//! shorter source counting as zero bytes. To read them all at once the sources are moved out
//! of the keyspace for the computation (a move, not a copy) and put back before the
//! destination is written. The
//! result is always "raw"; when every source is missing or empty the destination is deleted.

use std::borrow::Cow::{self, Borrowed};
use std::collections::HashMap;

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::value::Value;
use crate::keyspace::SetExpire;
use crate::server::notify;
use crate::types::string::{max_len, string_bytes, unshare_string, with_string_bytes};
use crate::util::bitops::{self, BitOp};
use crate::util::number::parse_i64;

const BAD_OFFSET: Error = Error(Borrowed("ERR bit offset is not an integer or out of range"));
const BAD_BIT: Error = Error(Borrowed("ERR bit is not an integer or out of range"));

/// A bit offset argument (Redis's getBitOffsetFromArgument): a non-negative integer whose
/// byte is below `max_bulk` (`proto-max-bulk-len`). With `width` (BITFIELD), `#N` means N
/// times the width, the product wrapping as Redis's does (a wrapped negative is refused).
pub fn bit_offset(arg: &[u8], width: Option<u32>, max_bulk: usize) -> Result<u64, Error> {
    let (digits, times) = match (width, arg) {
        (Some(w), [b'#', rest @ ..]) if !rest.is_empty() => (rest, w as i64),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits).ok_or(BAD_OFFSET)?.wrapping_mul(times);
    if offset < 0 || (offset as u64 >> 3) >= max_bulk as u64 {
        return Err(BAD_OFFSET);
    }
    Ok(offset as u64)
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let offset = bit_offset(ctx.args[2], None, max_len(ctx))?;
    let on = match parse_i64(ctx.args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BAD_BIT),
    };
    let byte = (offset / 8) as usize;
    let mask = 0x80u8 >> (offset % 8);
    let (was, changed) = match ctx.ks.get_mut(key) {
        None => {
            let mut v = vec![0u8; byte + 1];
            if on {
                v[byte] = mask;
            }
            ctx.ks.set(key, Value::raw_string(v), SetExpire::Clear);
            (false, true)
        }
        Some(e) => {
            let bytes = unshare_string(&mut e.value)?;
            let grows = bytes.len() <= byte;
            if grows {
                bytes.resize_zeroed(byte + 1);
            }
            let b = &mut bytes.as_mut_slice()[byte];
            let was = *b & mask != 0;
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
            (was, grows || was != on)
        }
    };
    // A bit set to the value it had (and no growth) is no write: no event, no WATCH signal.
    if changed {
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::STRING, "setbit", key);
    }
    ctx.out.int(was as i64);
    Ok(())
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let offset = bit_offset(ctx.args[2], None, max_len(ctx))?;
    let set = match ctx.ks.get(ctx.args[1]) {
        None => false,
        Some(e) => with_string_bytes(&e.value, |s| {
            s.get((offset / 8) as usize).is_some_and(|b| b & (0x80 >> (offset % 8)) != 0)
        })?,
    };
    ctx.out.int(set as i64);
    Ok(())
}

/// The `start end [BYTE | BIT]` range of BITCOUNT and BITPOS.
struct Range {
    start: i64,
    end: i64,
    bits: bool,
}

impl Range {
    /// The whole string (no range given).
    const ALL: Range = Range { start: 0, end: -1, bits: false };

    fn unit(arg: &[u8]) -> Result<bool, Error> {
        if eq(arg, "bit") {
            Ok(true)
        } else if eq(arg, "byte") {
            Ok(false)
        } else {
            Err(err::SYNTAX)
        }
    }

    /// The bits `first..=last` it selects in a string of `len` bytes (negative indexes count
    /// from the end, then both are clamped to the string), or None if that is empty.
    fn resolve(&self, len: usize) -> Option<(u64, u64)> {
        let total = if self.bits { len as i64 * 8 } else { len as i64 };
        let from_end = |i: i64| if i < 0 { (total + i).max(0) } else { i };
        let start = from_end(self.start);
        let end = from_end(self.end).min(total - 1);
        if start > end {
            return None;
        }
        let (start, end) = (start as u64, end as u64);
        Some(if self.bits { (start, end) } else { (start * 8, end * 8 + 7) })
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    // Redis 7.2 looks the key up before it reads the range: a missing key counts 0 whatever
    // follows it.
    let Some(e) = ctx.ks.get(args[1]) else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = with_string_bytes(&e.value, |s| -> Result<u64, Error> {
        let range = match args.len() {
            2 => Range::ALL,
            4 | 5 => {
                let (start, end) = (int(args[2])?, int(args[3])?);
                // Both from the end with start after end: empty even where clamping to the
                // start of the string would make them meet (and before the unit is read).
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let bits = match args.get(4) {
                    Some(u) => Range::unit(u)?,
                    None => false,
                };
                Range { start, end, bits }
            }
            _ => return Err(err::SYNTAX),
        };
        Ok(range.resolve(s.len()).map_or(0, |(first, last)| bitops::popcount_bits(s, first, last)))
    })??;
    ctx.out.int(n as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let bit = match int(args[2])? {
        0 => false,
        1 => true,
        _ => return Err(Error::msg("ERR The bit argument must be 1 or 0.")),
    };
    // A missing key is an endless run of zeros.
    let Some(e) = ctx.ks.get(args[1]) else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let pos = with_string_bytes(&e.value, |s| -> Result<i64, Error> {
        let (range, end_given) = match args.len() {
            3 => (Range::ALL, false),
            4..=6 => {
                let start = int(args[3])?;
                let bits = match args.get(5) {
                    Some(u) => Range::unit(u)?,
                    None => false,
                };
                match args.get(4) {
                    Some(end) => (Range { start, end: int(end)?, bits }, true),
                    None => (Range { start, end: -1, bits }, false),
                }
            }
            _ => return Err(err::SYNTAX),
        };
        let Some((first, last)) = range.resolve(s.len()) else { return Ok(-1) };
        Ok(match bitops::find_bit(s, first, last, bit) {
            Some(p) => p as i64,
            // Without an end the string continues with zeros: the first clear bit is the
            // one just past it.
            None if !bit && !end_given => last as i64 + 1,
            None => -1,
        })
    })??;
    ctx.out.int(pos);
    Ok(())
}

/// The destination's own buffer, emptied, when it is a heap string of exactly the result's
/// length and not a source: rewriting it spares an allocation and a free of 1 MB per call when
/// a report BITOPs into the same key again (and its memory is already in cache).
fn reuse_destination(ctx: &mut Ctx, dst: &[u8], sources: &[&[u8]], len: usize) -> Option<Vec<u8>> {
    if sources.contains(&dst) {
        return None;
    }
    match &mut ctx.ks.peek(dst)?.value {
        Value::Str(bytes) if bytes.len() == len && !bytes.is_inline() => {
            let mut v = std::mem::replace(bytes, CompactBytes::empty()).into_vec();
            v.clear();
            Some(v)
        }
        _ => None,
    }
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let op = [("and", BitOp::And), ("or", BitOp::Or), ("xor", BitOp::Xor), ("not", BitOp::Not)]
        .into_iter()
        .find(|(name, _)| eq(args[1], name))
        .ok_or(err::SYNTAX)?
        .1;
    if op == BitOp::Not && args.len() != 4 {
        return Err(Error::msg("ERR BITOP NOT must be called with a single source key."));
    }
    let (dst, sources) = (args[2], &args[3..]);
    // Type-check every source (stopping at the first that is not a string, as Redis does)
    // and size the result before writing anything.
    let mut result_len = 0;
    for k in sources {
        if let Some(e) = ctx.ks.get(k) {
            result_len = result_len.max(with_string_bytes(&e.value, <[u8]>::len)?);
        }
    }
    if result_len == 0 {
        if ctx.ks.delete(dst) {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::GENERIC, "del", dst);
        }
        ctx.out.int(0);
        return Ok(());
    }
    // The sources are moved out of the keyspace (not copied) so that all of them can be read
    // in one pass, and put back before the destination (maybe one of them) is written.
    // A key named twice is moved once (a map, not a search: BITOP may name thousands of keys).
    let mut held: Vec<(&[u8], Value)> = Vec::with_capacity(sources.len());
    let mut slot_of: HashMap<&[u8], usize> = HashMap::with_capacity(sources.len());
    let mut slots: Vec<Option<usize>> = Vec::with_capacity(sources.len());
    for &k in sources {
        let slot = match slot_of.get(k) {
            Some(&i) => Some(i),
            None => ctx.ks.peek(k).map(|e| {
                held.push((k, std::mem::replace(&mut e.value, Value::Int(0))));
                slot_of.insert(k, held.len() - 1);
                held.len() - 1
            }),
        };
        slots.push(slot);
    }
    let mut out = reuse_destination(ctx, dst, sources, result_len).unwrap_or_else(|| Vec::with_capacity(result_len));
    {
        let texts: Vec<Cow<'_, [u8]>> = slots
            .iter()
            .map(|slot| match slot {
                Some(i) => string_bytes(&held[*i].1).unwrap_or_default(),
                None => Cow::Borrowed(&[][..]),
            })
            .collect();
        let slices: Vec<&[u8]> = texts.iter().map(|t| &t[..]).collect();
        bitops::bitop_into(&mut out, &slices, op);
    }
    for (k, v) in held {
        if let Some(e) = ctx.ks.peek(k) {
            e.value = v;
        }
    }
    ctx.ks.set(dst, Value::raw_string(out), SetExpire::Clear);
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "set", dst);
    ctx.out.int(result_len as i64);
    Ok(())
}
