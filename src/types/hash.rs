//! Hashes (Redis's t_hash.c): the commands. The representation ("listpack" and
//! "hashtable" encodings, uniform random fields) is `data::hash`.
//!
//! Every handler validates its arguments and the key's type before writing anything.

use rand::Rng;

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::hash::{distinct_draws, distinct_indices, Hash, HashLimits};
use crate::resp::write::ReplyWriter;
use crate::server::notify;
use crate::types::generic::parse_cursor;
use crate::types::{read, write, write_or_create, BulkElem, FromConfig};
use crate::util::glob::glob_match;
use crate::util::number::hincr_by_float;

// ------------------------------------------------------------------ SCAN options

pub use crate::command::args::{parse_scan_opts, ScanOpts};

pub fn pattern_ok(p: Option<&[u8]>, s: &[u8]) -> bool {
    p.is_none_or(|p| glob_match(p, s, false))
}

/// A missing key's scan reply: cursor "0" and no elements.
pub fn empty_scan(out: &mut ReplyWriter) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

// ------------------------------------------------------------------ commands

fn check_pairs(ctx: &Ctx) -> CmdResult {
    if ctx.args.len() % 2 == 1 {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", ctx.name_lower())));
    }
    Ok(())
}

fn hset_generic(ctx: &mut Ctx) -> Result<i64, Error> {
    check_pairs(ctx)?;
    let lim = HashLimits::of(ctx);
    let args = ctx.args;
    let h = write_or_create::<Hash>(ctx.ks, args[1])?;
    h.prepare_for(&args[2..], lim);
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        created += h.set(pair[0], pair[1], lim) as i64;
    }
    ctx.ks.mark_dirty(((args.len() - 2) / 2) as u64);
    Ok(created)
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx) -> CmdResult {
    let n = hset_generic(ctx)?;
    // Redis replies, then notifies.
    ctx.out.int(n);
    notify::event(ctx, notify::HASH, "hset", ctx.args[1]);
    Ok(())
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx)?;
    ctx.out.ok();
    notify::event(ctx, notify::HASH, "hset", ctx.args[1]);
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let lim = HashLimits::of(ctx);
    let args = ctx.args;
    let (key, field, value) = (args[1], args[2], args[3]);
    let h = write_or_create::<Hash>(ctx.ks, key)?;
    if h.get(field).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    h.prepare_for(&args[2..4], lim);
    h.set(field, value, lim);
    ctx.ks.mark_dirty(1);
    ctx.out.int(1);
    notify::event(ctx, notify::HASH, "hset", key);
    Ok(())
}

pub fn hget(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let Ctx { ks, out, .. } = ctx;
    match read::<Hash>(ks, key)?.and_then(|h| h.get(field)) {
        Some(v) => v.reply(out),
        None => out.nil(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let Ctx { ks, out, .. } = ctx;
    let hash = read::<Hash>(ks, args[1])?.map(|h| &*h);
    out.array(args.len() - 2);
    for f in &args[2..] {
        match hash.and_then(|h| h.get(f)) {
            Some(v) => v.reply(out),
            None => out.nil(),
        }
    }
    Ok(())
}

pub fn hexists(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.args[2];
    let n = read::<Hash>(ctx.ks, ctx.args[1])?.is_some_and(|h| h.get(field).is_some());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.args[2];
    let n = read::<Hash>(ctx.ks, ctx.args[1])?.and_then(|h| h.get(field).map(|v| v.str_len())).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx) -> CmdResult {
    let n = read::<Hash>(ctx.ks, ctx.args[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hdel(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let (deleted, empty) = match write::<Hash>(ctx.ks, key)? {
        None => (0, false),
        Some(h) => {
            let mut n = 0;
            for f in &args[2..] {
                if h.remove(f) {
                    n += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (n, h.is_empty())
        }
    };
    if deleted > 0 {
        notify::event(ctx, notify::HASH, "hdel", key);
    }
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(deleted as u64);
    ctx.out.int(deleted);
    Ok(())
}

#[derive(Clone, Copy)]
enum Part {
    Keys,
    Values,
    Both,
}

fn getall_generic(ctx: &mut Ctx, part: Part) -> CmdResult {
    let key = ctx.args[1];
    let Ctx { ks, out, .. } = ctx;
    let hash = read::<Hash>(ks, key)?.map(|h| &*h);
    let n = hash.map_or(0, |h| h.len());
    match part {
        Part::Both => out.map(n),
        _ => out.array(n),
    }
    if let Some(h) = hash {
        h.for_each(|k, v| match part {
            Part::Keys => k.reply(out),
            Part::Values => v.reply(out),
            Part::Both => {
                k.reply(out);
                v.reply(out);
            }
        });
    }
    Ok(())
}

pub fn hkeys(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Keys)
}

pub fn hvals(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Values)
}

pub fn hgetall(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Both)
}

pub fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let by = int(ctx.args[3])?;
    let lim = HashLimits::of(ctx);
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let h = write_or_create::<Hash>(ctx.ks, key)?;
    let cur = match h.get(field) {
        None => 0,
        Some(v) => v.as_int().ok_or(Error::msg("ERR hash value is not an integer"))?,
    };
    let next = cur.checked_add(by).ok_or(err::OVERFLOW)?;
    let mut buf = itoa::Buffer::new();
    h.set(field, buf.format(next).as_bytes(), lim);
    ctx.ks.mark_dirty(1);
    ctx.out.int(next);
    notify::event(ctx, notify::HASH, "hincrby", key);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let incr = ctx.args[3];
    // The increment is validated before the key is looked up, as Redis does.
    hincr_by_float(None, incr).map_err(|e| Error::msg(e.message()))?;
    let lim = HashLimits::of(ctx);
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let h = write_or_create::<Hash>(ctx.ks, key)?;
    let cur = h.get(field).map(|v| v.bytes().into_owned());
    let next = hincr_by_float(cur.as_deref(), incr).map_err(|e| Error::msg(e.message()))?;
    h.set(field, &next, lim);
    ctx.ks.mark_dirty(1);
    ctx.ks.propagate_as(|| crate::persist::propagate::argv(&[b"HSET", key, field, &next]));
    ctx.out.bulk(&next);
    notify::event(ctx, notify::HASH, "hincrbyfloat", key);
    Ok(())
}

/// Largest |count| HRANDFIELD / SRANDMEMBER serve with repetitions. Redis would try to
/// build such a reply (and run out of memory); we refuse past this many elements.
pub const MAX_RANDOM_REPLY: u64 = 1 << 32;

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() == 2 {
        let key = args[1];
        let mut rng = crate::util::rng::fast();
        let pair = match read::<Hash>(ctx.ks, key)? {
            None => None,
            Some(h) => h.random_pair(&mut rng),
        };
        match pair {
            Some((k, _)) => ctx.out.bulk(&k),
            None => ctx.out.nil(),
        }
        return Ok(());
    }
    let count = int(args[2])?;
    if count == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withvalues = match args.len() {
        3 => false,
        4 if eq(args[3], "withvalues") => true,
        _ => return Err(err::SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::msg("ERR value is out of range"));
    }
    let key = args[1];
    let resp3 = ctx.out.resp3;
    let mut rng = crate::util::rng::fast();
    let Ctx { ks, out, .. } = ctx;
    let Some(h) = read::<Hash>(ks, key)? else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let header = |out: &mut ReplyWriter, n: usize| {
        if withvalues && !resp3 {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    let emit = |out: &mut ReplyWriter, k: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(k);
        if withvalues {
            out.bulk(v);
        }
    };
    let h: &mut Hash = h;
    let size = h.len();
    if count < 0 {
        let n = count.unsigned_abs();
        if n > MAX_RANDOM_REPLY {
            return Err(Error::msg("ERR value is out of range"));
        }
        header(out, n as usize);
        match h {
            Hash::Packed(_) => {
                let pairs = h.pairs();
                for _ in 0..n {
                    let (k, v) = &pairs[rng.gen_range(0..pairs.len())];
                    emit(out, k, v);
                }
            }
            Hash::Table(_) => {
                for _ in 0..n {
                    if let Some((k, v)) = h.random_pair(&mut rng) {
                        emit(out, &k, &v);
                    }
                }
            }
        }
        return Ok(());
    }
    let count = count as usize;
    if count >= size {
        header(out, size);
        h.for_each(|k, v| emit(out, &k.bytes(), &v.bytes()));
        return Ok(());
    }
    header(out, count);
    if matches!(h, Hash::Table(_)) && count * 3 < size {
        // Few of many (Redis's case 4): uniform draws, repeats dropped, instead of copying
        // the whole hash.
        for (k, v) in distinct_draws(count, || h.random_pair(&mut rng), |p| &p.0) {
            emit(out, &k, &v);
        }
        return Ok(());
    }
    let pairs = h.pairs();
    for i in distinct_indices(pairs.len(), count, &mut rng) {
        let (k, v) = &pairs[i];
        emit(out, k, v);
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_cursor(args[2])?;
    let Ctx { ks, out, .. } = ctx;
    let Some(h) = read::<Hash>(ks, args[1])? else {
        empty_scan(out);
        return Ok(());
    };
    let h: &Hash = h;
    let opts = parse_scan_opts(&args[3..], false)?;
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let next = match h {
        Hash::Packed(_) => {
            h.for_each(|k, v| {
                let k = k.bytes();
                if pattern_ok(opts.pattern, &k) {
                    items.push((k.into_owned(), v.bytes().into_owned()));
                }
            });
            0
        }
        Hash::Table(t) => {
            let mut c = cursor;
            let mut budget = opts.count.saturating_mul(10);
            loop {
                c = t.dict.scan(c, |f| {
                    if pattern_ok(opts.pattern, &f.name) {
                        items.push((f.name.to_vec(), f.value.to_vec()));
                    }
                });
                budget = budget.saturating_sub(1);
                if c == 0 || items.len() >= opts.count || budget == 0 {
                    break;
                }
            }
            c
        }
    };
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items.len() * 2);
    for (k, v) in &items {
        out.bulk(k);
        out.bulk(v);
    }
    Ok(())
}
