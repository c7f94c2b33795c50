//! PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST over `data::hll` (Redis's hyperloglog.c).
//!
//! An HLL is an ordinary string value (raw encoding, as createHLLObject makes it): these
//! handlers check its bytes (isHLLObjectOrReply) and edit them in place, so GET returns
//! what Redis would hold. PFCOUNT of one key stores the cardinality it computed in the
//! header, which Redis counts as a write (dirty, WATCH and tracking see the key modified,
//! no keyspace event) after a read lookup (hits, misses, keymiss); PFCOUNT of several keys and PFMERGE merge into a register array on
//! the stack.

use crate::command::args::eq;
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::hll::{self, Invalid, Raw, REGISTERS};
use crate::data::value::Value;
use crate::server::{notify, TypeLimits};
use crate::types::string::unshare_string;

const NOT_HLL: Error = Error(std::borrow::Cow::Borrowed("WRONGTYPE Key is not a valid HyperLogLog string value."));
const CORRUPT: Error = Error(std::borrow::Cow::Borrowed("INVALIDOBJ Corrupted HLL object detected"));

fn invalid(i: Invalid) -> Error {
    match i {
        Invalid::NotHll => NOT_HLL,
        Invalid::Corrupt => CORRUPT,
    }
}

/// The bytes of a valid HLL value: the generic WRONGTYPE for another type, Redis's HLL
/// WRONGTYPE for a string that is not one (an "int" included).
fn hll_bytes(v: &Value) -> Result<&[u8], Error> {
    match v {
        Value::Str(bytes) => {
            hll::check(bytes).map_err(invalid)?;
            Ok(bytes)
        }
        Value::Int(_) => Err(NOT_HLL),
        #[allow(unreachable_patterns)]
        _ => Err(err::WRONGTYPE),
    }
}

/// `hll_bytes` for a value about to change (dbUnshareStringValue: raw from here on).
fn hll_mut(v: &mut Value) -> Result<&mut CompactBytes, Error> {
    hll_bytes(v)?;
    unshare_string(v)
}

/// A new key's value: an empty sparse HLL, "raw" as Redis's createHLLObject makes it.
fn empty_hll() -> Value {
    Value::Str(CompactBytes::with_kind(&hll::new_empty(), true))
}

fn sparse_max_bytes(ctx: &Ctx) -> usize {
    TypeLimits::get(&ctx.srv.limits.hll_sparse_max_bytes).max(0) as usize
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let (key, max_bytes) = (ctx.args[1], sparse_max_bytes(ctx));
    let mut created = false;
    let e = ctx.ks.get_mut_or_insert_with(key, || {
        created = true;
        empty_hll()
    });
    let Some(e) = e else { return Err(err::WRONGTYPE) };
    let bytes = hll_mut(&mut e.value)?;
    let updated = created as u64 + hll::add(bytes, ctx.args[2..].iter().copied(), max_bytes).map_err(invalid)?;
    if updated > 0 {
        hll::invalidate(bytes.as_mut_slice());
        ctx.ks.mark_dirty(updated);
        notify::event(ctx, notify::STRING, "pfadd", key);
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

/// PFCOUNT key [key ...]
pub fn pfcount(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 2 {
        let mut max: Raw = [0; REGISTERS];
        merge_keys(ctx, 1, &mut max)?;
        ctx.out.int(hll::count_raw(&max) as i64);
        return Ok(());
    }
    // A read lookup (hits, misses, keymiss), although storing the cache is a write.
    let key = ctx.args[1];
    let Some(e) = ctx.ks.get(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let bytes = hll_mut(&mut e.value)?;
    if let Some(card) = hll::cached(bytes) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = hll::count(bytes).map_err(invalid)?;
    hll::set_cached(bytes.as_mut_slice(), card);
    ctx.ks.will_write(key);
    ctx.ks.mark_dirty(1);
    ctx.out.int(card as i64);
    Ok(())
}

/// Merge the HLLs at args[from..] into `max` (read lookups; a missing key is empty).
/// Whether one of them was dense.
fn merge_keys(ctx: &mut Ctx, from: usize, max: &mut Raw) -> Result<bool, Error> {
    let mut dense = false;
    for k in &ctx.args[from..] {
        let Some(e) = ctx.ks.get(k) else { continue };
        let b = hll_bytes(&e.value)?;
        dense |= hll::is_dense(b);
        hll::max_into(b, max).map_err(invalid)?;
    }
    Ok(dense)
}

/// PFMERGE destkey [sourcekey ...]: the destination is merged too, and stays sparse unless
/// an input was dense or the result outgrows hll-sparse-max-bytes. Its event is "pfadd".
pub fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let (key, max_bytes) = (ctx.args[1], sparse_max_bytes(ctx));
    let mut max: Raw = [0; REGISTERS];
    let dense = merge_keys(ctx, 1, &mut max)?;
    let e = ctx.ks.get_mut_or_insert_with(key, empty_hll);
    let Some(e) = e else { return Err(err::WRONGTYPE) };
    let bytes = unshare_string(&mut e.value)?;
    hll::store_merged(bytes, &max, dense, max_bytes).map_err(invalid)?;
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "pfadd", key);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
pub fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let (sub, key) = (ctx.args[1], ctx.args[2]);
    let Some(e) = ctx.ks.get_mut(key) else {
        return Err(Error::msg("ERR The specified key does not exist"));
    };
    let bytes = hll_mut(&mut e.value)?;
    let known = ["getreg", "decode", "encoding", "todense"].iter().any(|w| eq(sub, w));
    if known && ctx.args.len() != 3 {
        return Err(ctx.arity_error());
    }
    if eq(sub, "getreg") || eq(sub, "todense") {
        let converted = hll::to_dense(bytes).map_err(invalid)?;
        if eq(sub, "getreg") {
            let regs = hll::dense_registers(bytes);
            ctx.out.array(REGISTERS);
            for &r in regs.iter() {
                ctx.out.int(r as i64);
            }
        } else {
            ctx.out.int(converted as i64);
        }
        // An encoding change is propagated as a write, but Redis signals no one.
        if converted {
            ctx.ks.mark_dirty(1);
            ctx.ks.unchanged(key);
        }
    } else if eq(sub, "decode") {
        if hll::is_dense(bytes) {
            return Err(Error::msg("ERR HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::decode(bytes).as_bytes());
    } else if eq(sub, "encoding") {
        ctx.out.simple(if hll::is_dense(bytes) { "dense" } else { "sparse" });
    } else {
        return Err(Error::msg(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(sub))));
    }
    Ok(())
}

/// PFSELFTEST
pub fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    let seed = ctx.ks.now_ms as u64 ^ ctx.client.id.rotate_left(32);
    hll::selftest(sparse_max_bytes(ctx), seed).map_err(Error::msg)?;
    ctx.out.ok();
    Ok(())
}
