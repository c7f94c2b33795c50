//! Strings (Redis's t_string.c): the string group of commands.
//!
//! Representation (see `data::value`): a string is either an `i64` (encoding "int",
//! what SET chooses for a short integer-looking value and what INCR produces) or bytes
//! held inline up to 22 bytes and boxed beyond ("embstr" up to 44 bytes when created
//! whole, "raw" once modified in place by APPEND/SETRANGE). Counters therefore never
//! allocate, and INCR on an "int" is a single add.
//!
//! Every handler validates its arguments and the key's type before it writes anything,
//! so an error leaves the keyspace and the reply buffer untouched.

use std::borrow::Cow;

use crate::command::args::{eq, expire_at_ms, int, ExpiryOpts, TimeUnit};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::value::Value;
use crate::keyspace::SetExpire;
use crate::persist::propagate;
use crate::server::notify;
use crate::util::number::{incr_by_float, parse_i64, FloatIncrError};

/// The bytes of a string value (formatting an "int" on the fly); WRONGTYPE otherwise.
pub fn string_bytes(v: &Value) -> Result<Cow<'_, [u8]>, Error> {
    match v {
        Value::Str(bytes) => Ok(Cow::Borrowed(bytes.as_slice())),
        Value::Int(n) => Ok(Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec())),
        #[allow(unreachable_patterns)]
        _ => Err(err::WRONGTYPE),
    }
}

/// Run `f` on a string value's bytes (an "int" formatted on the stack, no allocation);
/// WRONGTYPE for other types.
pub fn with_string_bytes<R>(v: &Value, f: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
    match v {
        Value::Str(bytes) => Ok(f(bytes)),
        Value::Int(n) => Ok(f(itoa::Buffer::new().format(*n).as_bytes())),
        #[allow(unreachable_patterns)]
        _ => Err(err::WRONGTYPE),
    }
}

/// A string value's bytes for in-place modification (SETBIT, BITFIELD, PFADD): an "int" or
/// "embstr" first becomes "raw", as Redis's dbUnshareStringValue makes it; WRONGTYPE for
/// other types.
pub fn unshare_string(v: &mut Value) -> Result<&mut CompactBytes, Error> {
    if let Value::Int(n) = *v {
        *v = Value::Str(CompactBytes::with_kind(itoa::Buffer::new().format(n).as_bytes(), true));
    }
    match v {
        Value::Str(bytes) => {
            bytes.set_raw();
            Ok(bytes)
        }
        #[allow(unreachable_patterns)]
        _ => Err(err::WRONGTYPE),
    }
}

fn check_string(v: &Value) -> Result<(), Error> {
    if v.is_string() {
        Ok(())
    } else {
        Err(err::WRONGTYPE)
    }
}

/// Length of a string value without materialising an "int".
fn string_len(v: &Value) -> usize {
    match v {
        Value::Int(n) => itoa::Buffer::new().format(*n).len(),
        Value::Str(bytes) => bytes.len(),
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// Reply with a key's string value: nil if missing, WRONGTYPE if not a string.
fn reply_string(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    match ctx.ks.get(key) {
        None => ctx.out.nil(),
        Some(e) => match &e.value {
            Value::Str(bytes) => ctx.out.bulk(bytes),
            Value::Int(n) => ctx.out.bulk_int(*n),
            #[allow(unreachable_patterns)]
            _ => return Err(err::WRONGTYPE),
        },
    }
    Ok(())
}

/// `proto-max-bulk-len`: the longest string a command may create.
pub fn max_len(ctx: &Ctx) -> usize {
    ctx.srv.proto_max_bulk_len.load(std::sync::atomic::Ordering::Relaxed).max(0) as usize
}

pub fn get(ctx: &mut Ctx) -> CmdResult {
    reply_string(ctx, ctx.args[1])
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
pub fn set(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut exp = ExpiryOpts::default();
    let mut i = 3;
    while i < args.len() {
        let a = args[i];
        if eq(a, "nx") && !xx {
            nx = true;
        } else if eq(a, "xx") && !nx {
            xx = true;
        } else if eq(a, "get") {
            get = true;
        } else if !exp.take(args, &mut i, true) {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let expire = match exp.time {
        Some((unit, raw)) => {
            let at = expire_at_ms(unit, raw, ctx.ks.now_ms, "set")?;
            if unit != TimeUnit::PxAt {
                ctx.ks.propagate_as(|| propagate::set_pxat(args[1], args[2], at));
            }
            SetExpire::At(at)
        }
        None if exp.keepttl => SetExpire::Keep,
        None => SetExpire::Clear,
    };
    if get && exp.time.is_none() {
        // Replayed without its GET.
        ctx.ks.propagate_as(|| args.iter().filter(|a| !eq(a, "get")).map(|a| a.to_vec()).collect());
    }
    set_generic(ctx, args[1], args[2], nx, xx, get, expire)
}

fn set_generic(ctx: &mut Ctx, key: &[u8], val: &[u8], nx: bool, xx: bool, get: bool, expire: SetExpire) -> CmdResult {
    let found = if get {
        // Peek: reply_string below makes the counted (and notified) read lookup.
        let old = ctx.ks.peek(key);
        let found = old.is_some();
        if let Some(e) = old {
            check_string(&e.value)?;
        }
        reply_string(ctx, key)?;
        found
    } else {
        ctx.ks.get_mut(key).is_some()
    };
    if (nx && found) || (xx && !found) {
        if !get {
            ctx.out.nil();
        }
        return Ok(());
    }
    ctx.ks.set(key, Value::from_string(val), expire);
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "set", key);
    if matches!(expire, SetExpire::At(_)) {
        notify::event(ctx, notify::GENERIC, "expire", key);
    }
    if !get {
        ctx.out.ok();
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[2]);
    if ctx.ks.get_mut(key).is_some() {
        ctx.out.int(0);
    } else {
        ctx.ks.set(key, Value::from_string(val), SetExpire::Clear);
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::STRING, "set", key);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, unit: TimeUnit, cmd: &str) -> CmdResult {
    let at = expire_at_ms(unit, ctx.args[2], ctx.ks.now_ms, cmd)?;
    let (key, val) = (ctx.args[1], ctx.args[3]);
    ctx.ks.propagate_as(|| propagate::set_pxat(key, val, at));
    ctx.ks.set(key, Value::from_string(val), SetExpire::At(at));
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "set", key);
    notify::event(ctx, notify::GENERIC, "expire", key);
    ctx.out.ok();
    Ok(())
}

pub fn setex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, TimeUnit::Ex, "setex")
}

pub fn psetex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, TimeUnit::Px, "psetex")
}

pub fn getset(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[2]);
    reply_string(ctx, key)?;
    ctx.ks.set(key, Value::from_string(val), SetExpire::Clear);
    ctx.ks.mark_dirty(1);
    ctx.ks.propagate_as(|| propagate::argv(&[b"SET", key, val]));
    notify::event(ctx, notify::STRING, "set", key);
    Ok(())
}

pub fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    reply_string(ctx, key)?;
    if ctx.ks.delete(key) {
        ctx.ks.mark_dirty(1);
        ctx.ks.propagate_as(|| propagate::argv(&[b"DEL", key]));
        notify::event(ctx, notify::GENERIC, "del", key);
    }
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
pub fn getex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut exp = ExpiryOpts::default();
    let mut i = 2;
    while i < args.len() {
        if !exp.take(args, &mut i, false) {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    let key = args[1];
    match ctx.ks.get(key) {
        None => {
            ctx.out.nil();
            return Ok(());
        }
        Some(e) => check_string(&e.value)?,
    }
    let at = match exp.time {
        Some((unit, raw)) => Some(expire_at_ms(unit, raw, ctx.ks.now_ms, "getex")?),
        None => None,
    };
    reply_string(ctx, key)?;
    if let Some(at) = at {
        let absolute = matches!(exp.time, Some((TimeUnit::ExAt | TimeUnit::PxAt, _)));
        if absolute && at <= ctx.ks.now_ms {
            crate::types::generic::delete_as_expired(ctx, key);
        } else {
            ctx.ks.set_expire(key, at);
            notify::event(ctx, notify::GENERIC, "expire", key);
            ctx.ks.propagate_as(|| propagate::argv(&[b"PEXPIREAT", key, &propagate::int_arg(at)]));
        }
        ctx.ks.mark_dirty(1);
    } else if exp.persist && ctx.ks.get_mut(key).is_some_and(|e| e.expire_at_ms != crate::data::dict::NO_EXPIRE) {
        ctx.ks.propagate_as(|| propagate::argv(&[b"PERSIST", key]));
        ctx.ks.set_expire(key, crate::data::dict::NO_EXPIRE);
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::GENERIC, "persist", key);
    }
    Ok(())
}

pub fn mget(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.args[1..];
    ctx.out.array(keys.len());
    for k in keys {
        match ctx.ks.get(k) {
            Some(e) => match &e.value {
                Value::Str(bytes) => ctx.out.bulk(bytes),
                Value::Int(n) => ctx.out.bulk_int(*n),
                #[allow(unreachable_patterns)]
                _ => ctx.out.nil(),
            },
            None => ctx.out.nil(),
        }
    }
    Ok(())
}

fn mset_arity(ctx: &Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", ctx.name_lower())));
    }
    Ok(())
}

pub fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_arity(ctx)?;
    for pair in ctx.args[1..].chunks(2) {
        ctx.ks.set(pair[0], Value::from_string(pair[1]), SetExpire::Clear);
        notify::event(ctx, notify::STRING, "set", pair[0]);
    }
    ctx.ks.mark_dirty((ctx.args.len() / 2) as u64);
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_arity(ctx)?;
    let args = ctx.args;
    if args[1..].chunks(2).any(|pair| ctx.ks.get_mut(pair[0]).is_some()) {
        ctx.out.int(0);
        return Ok(());
    }
    for pair in args[1..].chunks(2) {
        ctx.ks.set(pair[0], Value::from_string(pair[1]), SetExpire::Clear);
        notify::event(ctx, notify::STRING, "set", pair[0]);
    }
    ctx.ks.mark_dirty((args.len() / 2) as u64);
    ctx.out.int(1);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx) -> CmdResult {
    let n = match ctx.ks.get(ctx.args[1]) {
        None => 0,
        Some(e) => {
            check_string(&e.value)?;
            string_len(&e.value)
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn append(ctx: &mut Ctx) -> CmdResult {
    let (key, tail) = (ctx.args[1], ctx.args[2]);
    let limit = max_len(ctx);
    let new = match ctx.ks.get_mut(key) {
        None => {
            ctx.ks.set(key, Value::from_string(tail), SetExpire::Clear);
            tail.len()
        }
        Some(e) => {
            let cur = string_bytes(&e.value)?;
            if cur.len() + tail.len() > limit {
                return Err(err::STRING_TOO_LONG);
            }
            let mut v = Vec::with_capacity(cur.len() + tail.len());
            v.extend_from_slice(&cur);
            v.extend_from_slice(tail);
            let n = v.len();
            e.value = Value::raw_string(v);
            n
        }
    };
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "append", key);
    ctx.out.int(new as i64);
    Ok(())
}

/// INCR/DECR/INCRBY/DECRBY: add `by` to the integer at `key` (0 if missing), keeping its TTL.
fn incr_generic(ctx: &mut Ctx, by: i64) -> CmdResult {
    let key = ctx.args[1];
    let next = match ctx.ks.get_mut(key) {
        None => by,
        Some(e) => {
            let cur = match &e.value {
                Value::Int(n) => *n,
                Value::Str(bytes) => parse_i64(bytes).ok_or(err::NOT_INT)?,
                #[allow(unreachable_patterns)]
                _ => return Err(err::WRONGTYPE),
            };
            let next = cur.checked_add(by).ok_or(err::OVERFLOW)?;
            e.value = Value::Int(next);
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::STRING, "incrby", key);
            ctx.out.int(next);
            return Ok(());
        }
    };
    ctx.ks.set(key, Value::Int(next), SetExpire::Clear);
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "incrby", key);
    ctx.out.int(next);
    Ok(())
}

pub fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, 1)
}

pub fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, -1)
}

pub fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = int(ctx.args[2])?;
    incr_generic(ctx, by)
}

pub fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = int(ctx.args[2])?;
    if by == i64::MIN {
        return Err(Error::msg("ERR decrement would overflow"));
    }
    incr_generic(ctx, -by)
}

pub fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let (key, incr) = (ctx.args[1], ctx.args[2]);
    let cur: Option<Vec<u8>> = match ctx.ks.get_mut(key) {
        None => None,
        Some(e) => Some(string_bytes(&e.value)?.into_owned()),
    };
    let result = incr_by_float(cur.as_deref(), incr).map_err(|e| match e {
        FloatIncrError::NotFloat => err::NOT_FLOAT,
        FloatIncrError::NanOrInf => Error::msg("ERR increment would produce NaN or Infinity"),
    })?;
    let v = Value::Str(crate::data::bytes::CompactBytes::with_kind(
        &result,
        result.len() > crate::data::value::EMBSTR_LIMIT,
    ));
    ctx.ks.set(key, v, SetExpire::Keep);
    ctx.ks.mark_dirty(1);
    // Its result, not the float arithmetic, is replayed.
    ctx.ks.propagate_as(|| propagate::argv(&[b"SET", key, &result, b"KEEPTTL"]));
    notify::event(ctx, notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(&result);
    Ok(())
}

/// GETRANGE (and its old name SUBSTR) with Redis's clamping of negative offsets.
pub fn getrange(ctx: &mut Ctx) -> CmdResult {
    let start = int(ctx.args[2])?;
    let end = int(ctx.args[3])?;
    let Some(e) = ctx.ks.get(ctx.args[1]) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = string_bytes(&e.value)?;
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        let (a, b) = (start as usize, end as usize);
        ctx.out.bulk(&s[a..=b]);
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let offset = int(ctx.args[2])?;
    let patch = ctx.args[3];
    if offset < 0 {
        return Err(Error::msg("ERR offset is out of range"));
    }
    let limit = max_len(ctx) as i64;
    let too_long = |extra: usize| offset.checked_add(extra as i64).is_none_or(|t| t > limit);
    let new_len = match ctx.ks.get_mut(key) {
        None => {
            if patch.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            if too_long(patch.len()) {
                return Err(err::STRING_TOO_LONG);
            }
            let mut v = vec![0u8; offset as usize + patch.len()];
            v[offset as usize..].copy_from_slice(patch);
            let n = v.len();
            ctx.ks.set(key, Value::raw_string(v), SetExpire::Clear);
            n
        }
        Some(e) => {
            let cur = string_bytes(&e.value)?;
            if patch.is_empty() {
                let n = cur.len();
                ctx.out.int(n as i64);
                return Ok(());
            }
            if too_long(patch.len()) {
                return Err(err::STRING_TOO_LONG);
            }
            let off = offset as usize;
            let mut v = cur.into_owned();
            if v.len() < off + patch.len() {
                v.resize(off + patch.len(), 0);
            }
            v[off..off + patch.len()].copy_from_slice(patch);
            let n = v.len();
            e.value = Value::raw_string(v);
            n
        }
    };
    ctx.ks.mark_dirty(1);
    notify::event(ctx, notify::STRING, "setrange", key);
    ctx.out.int(new_len as i64);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut fetch = |k: &[u8]| -> Result<Vec<u8>, Error> {
        match ctx.ks.get(k) {
            None => Ok(Vec::new()),
            Some(e) if e.value.is_string() => Ok(string_bytes(&e.value)?.into_owned()),
            Some(_) => Err(Error::msg("ERR The specified keys must contain string values")),
        }
    };
    let a = fetch(args[1]);
    let b = fetch(args[2]);
    let (a, b) = (a?, b?);
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq(args[j], "idx") {
            getidx = true;
        } else if eq(args[j], "len") {
            getlen = true;
        } else if eq(args[j], "withmatchlen") {
            withmatchlen = true;
        } else if eq(args[j], "minmatchlen") && more > 0 {
            minmatchlen = int(args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(Error::msg("ERR If you want both the length and indexes, please just use IDX."));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(Error::msg("ERR String too long for LCS"));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > max_len(ctx) as u64 {
        return Err(Error::msg("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if getlen {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the common string and the matching ranges.
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    let unset = alen;
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (unset, 0usize, 0usize, 0usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == unset {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != unset {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end - a_start + 1;
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push((a_start, a_end, b_start, b_end));
            }
            a_start = unset;
        }
    }
    if !getidx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for (as_, ae, bs, be) in ranges {
        out.array(2 + withmatchlen as usize);
        out.array(2);
        out.int(as_ as i64);
        out.int(ae as i64);
        out.array(2);
        out.int(bs as i64);
        out.int(be as i64);
        if withmatchlen {
            out.int((ae - as_ + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}
