//! BITFIELD and BITFIELD_RO: integers of 1-64 bits at any bit offset of a string.
//!
//! Representation: the key is an ordinary string (Redis's bitops.c bitfieldGeneric). A field
//! is `bits` wide and starts at bit `offset`, bits numbered from the most significant bit of
//! byte 0 (the SETBIT/GETBIT order), so a field is big-endian and may straddle up to 9 bytes.
//! Signed fields (i1..i64) are two's complement; unsigned ones stop at u63 so that every
//! value fits the integer reply.
//!
//! Like Redis, the whole argument list is parsed first (a syntax error anywhere changes
//! nothing), into a small stack vector. A call with only GETs is a read: a missing key reads
//! as zeros and is not created. A call with a SET or INCRBY looks the key up for writing and
//! grows it, zero-filled, to its highest written byte *before* running the operations, even
//! when every one of them then fails under OVERFLOW FAIL (Redis does the same). Changes are
//! counted as Redis 7.2 counts them: an operation that FAIL did not stop counts if it changed
//! its field or the call created or grew the string; the dirty count, WATCH, tracking and the
//! single "setbit" event follow them (none for a SET of the value already there). The string
//! is changed in place (`unshare_string` turns "int"/"embstr" into "raw", as Redis's
//! dbUnshareStringValue does), never copied per call.
//!
//! Overflow follows Redis's checkSigned/UnsignedBitfieldOverflow: the exact sum is stored if
//! it fits, else WRAP keeps its low `bits` bits, SAT clamps to the type's range and FAIL
//! stores nothing and replies nil. Two quirks of SET OVERFLOW SAT are kept, where Redis's
//! C reads an out-of-range argument as an upward overflow and stores the maximum: an unsigned
//! SET takes its value as the 64-bit pattern of the signed argument (so SET u8 -1 is 255,
//! not 0), and a signed SET of a value within 2^63 - max of i64::MIN wraps Redis's
//! `max - value` (so SET i8 -9223372036854775808 is 127).
//!
//! `get_field`/`set_field` (n bits at a bit offset) are the generic routine a bitmap module
//! could share; they read 9 bytes into a u128 and shift, instead of Redis's bit-by-bit loop.

use smallvec::SmallVec;

use crate::command::args::eq;
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::value::Value;
use crate::keyspace::SetExpire;
use crate::resp::write::ReplyWriter;
use crate::server::notify;
use crate::types::bitmap::bit_offset;
use crate::types::string::{max_len, unshare_string, with_string_bytes};
use crate::util::number::parse_i64;

const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// What a SET or INCRBY does when the result does not fit its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    Set,
    Incrby,
}

#[derive(Clone, Copy)]
struct Op {
    kind: Kind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// A parsed BITFIELD call: its operations, and the highest bit a SET/INCRBY touches (None
/// when there is none: the call is a read).
struct Plan {
    ops: SmallVec<[Op; 4]>,
    highest_write_bit: Option<u64>,
}

/// `i<n>`/`u<n>` (lower case only, as in Redis 7.2); Redis reads the width as a C string, so it stops at a NUL.
fn parse_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Error::msg(TYPE_ERR)),
    };
    let width = &arg[1..];
    let width = &width[..width.iter().position(|&c| c == 0).unwrap_or(width.len())];
    match parse_i64(width) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(Error::msg(TYPE_ERR)),
    }
}

fn parse(args: &[&[u8]], max_bulk_len: usize) -> Result<Plan, Error> {
    let mut plan = Plan { ops: SmallVec::new(), highest_write_bit: None };
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = args[j];
        let kind = if eq(sub, "get") && rem >= 2 {
            Kind::Get
        } else if eq(sub, "set") && rem >= 3 {
            Kind::Set
        } else if eq(sub, "incrby") && rem >= 3 {
            Kind::Incrby
        } else if eq(sub, "overflow") && rem >= 1 {
            let mode = args[j + 1];
            overflow = if eq(mode, "wrap") {
                Overflow::Wrap
            } else if eq(mode, "sat") {
                Overflow::Sat
            } else if eq(mode, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(err::SYNTAX);
        };
        let (signed, bits) = parse_type(args[j + 1])?;
        let offset = bit_offset(args[j + 2], Some(bits), max_bulk_len)?;
        let mut value = 0;
        if kind != Kind::Get {
            let last = offset + bits as u64 - 1;
            plan.highest_write_bit = Some(plan.highest_write_bit.map_or(last, |h| h.max(last)));
            value = parse_i64(args[j + 3]).ok_or(err::NOT_INT)?;
        }
        plan.ops.push(Op { kind, signed, bits, offset, value, overflow });
        j += if kind == Kind::Get { 3 } else { 4 };
    }
    Ok(plan)
}

/// The 9 bytes from `byte` on (zeros past the end of `buf`) as the top of a u128 (the low
/// bytes hold whatever follows: callers shift or mask them away).
#[inline]
fn load(buf: &[u8], byte: usize) -> u128 {
    if let Some(w) = buf.get(byte..byte.wrapping_add(16)) {
        return u128::from_be_bytes(w.try_into().unwrap_or_default());
    }
    // Near the end (and in the short strings counters live in): byte by byte, which keeps
    // clear of a variable-length memcpy and the store-forwarding stall of reading it back.
    let mut w = 0u128;
    for i in 0..9 {
        let b = buf.get(byte.wrapping_add(i)).copied().unwrap_or(0);
        w |= (b as u128) << (120 - 8 * i);
    }
    w
}

/// The unsigned `bits`-bit (1..=64) field at bit `offset`; bits past the end of `buf` are 0.
#[inline]
pub fn get_field(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let Ok(byte) = usize::try_from(offset >> 3) else { return 0 };
    let w = load(buf, byte) << (offset & 7);
    (w >> (128 - bits)) as u64
}

/// Store the low `bits` bits of `v` at bit `offset`; `buf` must hold the field's last byte.
#[inline]
pub fn set_field(buf: &mut [u8], offset: u64, bits: u32, v: u64) {
    let byte = (offset >> 3) as usize;
    let shift = 128 - bits - (offset & 7) as u32;
    let mask = (u128::MAX >> (128 - bits)) << shift;
    let w = (load(buf, byte) & !mask) | (((v as u128) << shift) & mask);
    let n = ((offset & 7) as usize + bits as usize).div_ceil(8);
    buf[byte..byte + n].copy_from_slice(&w.to_be_bytes()[..n]);
}

/// A field as a signed value (sign-extended from `bits`).
#[inline]
fn to_signed(raw: u64, bits: u32) -> i64 {
    ((raw << (64 - bits)) as i64) >> (64 - bits)
}

/// `value + incr` in an i`bits` field: Some(what to store), None if it overflows under FAIL.
/// The tests are Redis's checkSignedBitfieldOverflow, wrapping where its C wraps: for a SET
/// (`incr` 0) of a value so far below the range that `max - value` passes i64::MAX, the
/// wrapped difference makes the overflow count as upward, and SAT stores the maximum.
pub fn signed_add(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = i64::MAX >> (64 - bits);
    let min = -max - 1;
    let (maxincr, minincr) = (max.wrapping_sub(value), min.wrapping_sub(value));
    let high = if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        true
    } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
        false
    } else {
        return Some(value.wrapping_add(incr));
    };
    match ow {
        Overflow::Wrap => Some(to_signed(value.wrapping_add(incr) as u64, bits)),
        Overflow::Sat => Some(if high { max } else { min }),
        Overflow::Fail => None,
    }
}

/// `value + incr` in a u`bits` field (`value` may exceed the range: an unsigned SET's
/// argument, taken as u64): the wrapped sum, and which way it overflowed (Some(true) up).
fn unsigned_add(value: u64, incr: i64, bits: u32) -> (u64, Option<bool>) {
    let max = u64::MAX >> (64 - bits);
    let over = if value > max || (incr > 0 && incr as u64 > max - value) {
        Some(true)
    } else if incr < 0 && incr.unsigned_abs() > value {
        Some(false)
    } else {
        None
    };
    (value.wrapping_add(incr as u64) & max, over)
}

/// `unsigned_add` resolved under an overflow mode: Some(what to store), None under FAIL.
pub fn unsigned_apply(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = u64::MAX >> (64 - bits);
    match (unsigned_add(value, incr, bits), ow) {
        ((sum, None), _) | ((sum, Some(_)), Overflow::Wrap) => Some(sum),
        ((_, Some(high)), Overflow::Sat) => Some(if high { max } else { 0 }),
        ((_, Some(_)), Overflow::Fail) => None,
    }
}

/// Run one SET/INCRBY on `buf`: the reply value (the new value for INCRBY, the old one for
/// SET) and whether the field's bits changed; None when OVERFLOW FAIL stopped it.
fn write_op(buf: &mut [u8], op: &Op) -> Option<(i64, bool)> {
    let raw = get_field(buf, op.offset, op.bits);
    let (store, reply) = if op.signed {
        let old = to_signed(raw, op.bits);
        let new = match op.kind {
            Kind::Incrby => signed_add(old, op.value, op.bits, op.overflow)?,
            _ => signed_add(op.value, 0, op.bits, op.overflow)?,
        };
        (new as u64, if op.kind == Kind::Incrby { new } else { old })
    } else {
        let new = match op.kind {
            Kind::Incrby => unsigned_apply(raw, op.value, op.bits, op.overflow)?,
            _ => unsigned_apply(op.value as u64, 0, op.bits, op.overflow)?,
        };
        (new, if op.kind == Kind::Incrby { new as i64 } else { raw as i64 })
    };
    set_field(buf, op.offset, op.bits, store);
    Some((reply, store & (u64::MAX >> (64 - op.bits)) != raw))
}

fn read_op(buf: &[u8], op: &Op) -> i64 {
    let raw = get_field(buf, op.offset, op.bits);
    if op.signed {
        to_signed(raw, op.bits)
    } else {
        raw as i64
    }
}

pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}

fn bitfield_generic(ctx: &mut Ctx, ro_command: bool) -> CmdResult {
    let plan = parse(ctx.args, max_len(ctx))?;
    let key = ctx.args[1];
    let Some(highest) = plan.highest_write_bit else {
        let out = &mut *ctx.out;
        let mut reply = |buf: &[u8]| {
            out.array(plan.ops.len());
            for op in &plan.ops {
                out.int(read_op(buf, op));
            }
        };
        match ctx.ks.get(key) {
            None => reply(&[]),
            Some(e) => with_string_bytes(&e.value, reply)?,
        }
        return Ok(());
    };
    if ro_command {
        return Err(Error::msg("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    let need = (highest >> 3) as usize + 1;
    // One lookup when the key exists; a missing key is created zero-filled, as Redis does
    // before it runs the operations (even when all of them then fail).
    let changes = match ctx.ks.get_mut(key) {
        Some(e) => run_writes(ctx.out, &mut e.value, need, false, &plan.ops)?,
        None => {
            ctx.ks.set(key, Value::raw_string(vec![0; need]), SetExpire::Clear);
            // Just stored, so found; the error only keeps this path free of a panic.
            let Some(e) = ctx.ks.get_mut(key) else { return Err(err::NO_SUCH_KEY) };
            run_writes(ctx.out, &mut e.value, need, true, &plan.ops)?
        }
    };
    if changes > 0 {
        ctx.ks.mark_dirty(changes);
        notify::event(ctx, notify::STRING, "setbit", key);
    }
    Ok(())
}

/// A call with writes on the key's value: grow it to `need` bytes, run every operation in
/// order, reply; how many operations count as changes. As in Redis 7.2, an operation counts
/// if OVERFLOW FAIL did not stop it and it changed the field's bits or the call created
/// (`created`) or grew the string.
fn run_writes(out: &mut ReplyWriter, value: &mut Value, need: usize, created: bool, ops: &[Op]) -> Result<u64, Error> {
    let bytes = unshare_string(value)?;
    let mut grown = created;
    if bytes.len() < need {
        bytes.resize_zeroed(need);
        grown = true;
    }
    let buf = bytes.as_mut_slice();
    out.array(ops.len());
    let mut changes = 0;
    for op in ops {
        if op.kind == Kind::Get {
            out.int(read_op(buf, op));
        } else if let Some((v, changed)) = write_op(buf, op) {
            out.int(v);
            changes += (grown || changed) as u64;
        } else {
            out.nil();
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: exact i128 arithmetic, then the overflow rule from the documentation,
    /// plus Redis's quirk for a SET far below the range (counted as upward, see signed_add).
    fn ref_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
        let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
        let sum = value as i128 + incr as i128;
        let quirk = incr == 0 && bits < 64 && max - value as i128 > i64::MAX as i128;
        if (min..=max).contains(&sum) {
            return Some(sum as i64);
        }
        if quirk && ow == Overflow::Sat {
            return Some(max as i64);
        }
        match ow {
            Overflow::Wrap => {
                let m = sum.rem_euclid(1i128 << bits);
                Some(if m > max { (m - (1i128 << bits)) as i64 } else { m as i64 })
            }
            Overflow::Sat => Some(if sum > max { max as i64 } else { min as i64 }),
            Overflow::Fail => None,
        }
    }

    fn ref_unsigned(value: i128, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
        let max = (1i128 << bits) - 1;
        let sum = value + incr as i128;
        if (0..=max).contains(&sum) {
            return Some(sum as u64);
        }
        match ow {
            Overflow::Wrap => Some(sum.rem_euclid(1i128 << bits) as u64),
            Overflow::Sat => Some(if sum > max { max as u64 } else { 0 }),
            Overflow::Fail => None,
        }
    }

    const MODES: [Overflow; 3] = [Overflow::Wrap, Overflow::Sat, Overflow::Fail];

    /// Values around every edge of an n-bit type and of i64.
    fn edges(bits: u32, signed: bool) -> Vec<i64> {
        let (min, max) =
            if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        let mut v =
            vec![0i128, 1, -1, 2, -2, i64::MIN as i128, i64::MAX as i128, i64::MIN as i128 + 1, i64::MAX as i128 - 1];
        for e in [min, max, max - min, min - max, max + 1, min - 1, max - i64::MAX as i128] {
            v.extend([e - 1, e, e + 1]);
        }
        v.into_iter().filter(|x| *x >= i64::MIN as i128 && *x <= i64::MAX as i128).map(|x| x as i64).collect()
    }

    #[test]
    fn signed_matches_i128_at_every_width() {
        for bits in 1..=64 {
            let vals: Vec<i64> = edges(bits, true)
                .into_iter()
                .filter(|&v| v >= i64::MIN >> (64 - bits) && v <= i64::MAX >> (64 - bits))
                .collect();
            for &value in &vals {
                for incr in edges(bits, true) {
                    for ow in MODES {
                        assert_eq!(
                            signed_add(value, incr, bits, ow),
                            ref_signed(value, incr, bits, ow),
                            "i{bits} {value}+{incr} {ow:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn signed_set_of_any_i64_matches_redis() {
        for bits in 1..=64 {
            for value in edges(bits, true).into_iter().chain(edges(64, true)) {
                for ow in MODES {
                    assert_eq!(
                        signed_add(value, 0, bits, ow),
                        ref_signed(value, 0, bits, ow),
                        "i{bits} set {value} {ow:?}"
                    );
                }
            }
        }
        // Checked against redis-server 7.2.6.
        assert_eq!(signed_add(i64::MIN, 0, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_add(i64::MIN + 127, 0, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_add(i64::MIN + 128, 0, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_add(-(1 << 62) - 1, 0, 63, Overflow::Sat), Some((1 << 62) - 1));
        assert_eq!(signed_add(i64::MIN, 0, 64, Overflow::Sat), Some(i64::MIN));
    }

    #[test]
    fn unsigned_matches_i128_at_every_width() {
        for bits in 1..=63 {
            let max = (1i64 << bits) - 1;
            let vals: Vec<i64> = edges(bits, false).into_iter().filter(|&v| (0..=max).contains(&v)).collect();
            for &value in &vals {
                for incr in edges(bits, false) {
                    for ow in MODES {
                        let want = ref_unsigned(value as i128, incr, bits, ow);
                        assert_eq!(unsigned_apply(value as u64, incr, bits, ow), want, "u{bits} {value}+{incr} {ow:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn unsigned_set_takes_the_u64_pattern() {
        // SET u8 -1: 2^64-1 is above the range, so SAT stores 255 (Redis), WRAP the low bits.
        for bits in 1..=63 {
            let max = u64::MAX >> (64 - bits);
            for v in edges(bits, false) {
                let pattern = v as u64 as i128;
                for ow in MODES {
                    assert_eq!(
                        unsigned_apply(v as u64, 0, bits, ow),
                        ref_unsigned(pattern, 0, bits, ow),
                        "u{bits} set {v}"
                    );
                }
                if v < 0 {
                    assert_eq!(unsigned_apply(v as u64, 0, bits, Overflow::Sat), Some(max));
                }
            }
        }
    }

    /// Bit-by-bit reference for fields (Redis's own loop).
    fn ref_get(buf: &[u8], offset: u64, bits: u32) -> u64 {
        let mut v = 0u64;
        for i in 0..bits as u64 {
            let b = offset + i;
            let byte = (b >> 3) as usize;
            let bit = buf.get(byte).map_or(0, |x| (x >> (7 - (b & 7))) & 1);
            v = (v << 1) | bit as u64;
        }
        v
    }

    #[test]
    fn fields_round_trip_at_every_alignment() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut buf: Vec<u8> = (0..24).map(|_| next() as u8).collect();
        for bits in 1..=64u32 {
            for offset in 0..(24 * 8 - bits as u64) {
                assert_eq!(get_field(&buf, offset, bits), ref_get(&buf, offset, bits));
                let before = buf.clone();
                let v = next();
                set_field(&mut buf, offset, bits, v);
                let mask = u64::MAX >> (64 - bits);
                assert_eq!(get_field(&buf, offset, bits), v & mask);
                // Nothing outside the field moved.
                for b in (0..offset).chain(offset + bits as u64..24 * 8) {
                    assert_eq!(ref_get(&buf, b, 1), ref_get(&before, b, 1), "bit {b} i{bits}@{offset}");
                }
            }
        }
        // Past the end reads as zero; a field straddling the end keeps its real bits.
        assert_eq!(get_field(&[0xff], 4, 8), 0xf0);
        assert_eq!(get_field(&[0xff], 8, 64), 0);
        assert_eq!(get_field(&[], u64::MAX - 64, 64), 0);
    }

    #[test]
    fn parsing_follows_redis() {
        assert_eq!(parse_type(b"i64"), Ok((true, 64)));
        assert_eq!(parse_type(b"u63"), Ok((false, 63)));
        assert_eq!(parse_type(b"i8\0junk"), Ok((true, 8)));
        for bad in [&b"u64"[..], b"i65", b"i0", b"u", b"", b"x8", b"i+8", b"i08", b"i-1", b"I8", b"U8"] {
            assert_eq!(parse_type(bad), Err(Error::msg(TYPE_ERR)), "{bad:?}");
        }
        let max = 512 << 20;
        assert_eq!(bit_offset(b"#3", Some(8), max), Ok(24));
        assert_eq!(bit_offset(b"17", Some(8), max), Ok(17));
        // 2^58+1 fields of 64 bits wrap to bit 64, as in Redis.
        assert_eq!(bit_offset(b"#288230376151711745", Some(64), max), Ok(64));
        for bad in [&b"#"[..], b"", b"-1", b"#-1", b"+1", b"#9223372036854775807", b"4294967296"] {
            assert_eq!(
                bit_offset(bad, Some(2), max),
                Err(Error::msg("ERR bit offset is not an integer or out of range")),
                "{bad:?}"
            );
        }
        assert_eq!(bit_offset(b"8388607", Some(8), 1 << 20), Ok(8388607));
        assert!(bit_offset(b"8388608", Some(8), 1 << 20).is_err());
    }
}
