//! Sets (Redis's t_set.c): the commands. The representation ("intset", "listpack" and
//! "hashtable" encodings, uniform random members) is `data::set`.
//!
//! Multi-key commands (SINTER, SUNIONSTORE, SDIFF ...) have every shard they touch locked
//! by dispatch. To read several sets at once through the keyspace's `&mut` lookups, the
//! values are lifted out of their entries (a placeholder stays, TTL and clock untouched)
//! and put back before the command returns; nothing else can observe the gap.

use rand::Rng;

use crate::command::args::int;
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::hash::{distinct_draws, distinct_indices, Packed, Probe};
use crate::data::value::Value;
use crate::keyspace::SetExpire;
use crate::persist::propagate;
use crate::resp::write::ReplyWriter;
use crate::server::notify;
use crate::types::generic::parse_cursor;
use crate::types::hash::{empty_scan, parse_scan_opts, pattern_ok, MAX_RANDOM_REPLY};

use crate::data::set::{IntSet, Set, SetLimits};
use crate::types::{read, write, BulkElem, FromConfig};

// ------------------------------------------------------------------ lookups

/// Sets lifted out of the keyspace for a multi-key command (see the module comment).
struct Lifted<'k> {
    /// For each requested key: index into `held`, or None if the key does not exist.
    slots: Vec<Option<usize>>,
    held: Vec<(&'k [u8], Box<Set>)>,
}

impl<'k> Lifted<'k> {
    fn take(ctx: &mut Ctx, keys: &[&'k [u8]]) -> Result<Lifted<'k>, Error> {
        // Type-check everything first (Redis stops at the first wrong type).
        let mut exists = Vec::with_capacity(keys.len());
        for k in keys {
            exists.push(read::<Set>(ctx.ks, k)?.is_some());
        }
        let mut held: Vec<(&[u8], Box<Set>)> = Vec::new();
        let mut slots = Vec::with_capacity(keys.len());
        for (k, there) in keys.iter().zip(exists) {
            if !there {
                slots.push(None);
                continue;
            }
            if let Some(i) = held.iter().position(|(h, _)| h == k) {
                slots.push(Some(i));
                continue;
            }
            let Some(e) = ctx.ks.peek(k) else {
                slots.push(None);
                continue;
            };
            match std::mem::replace(&mut e.value, Value::Int(0)) {
                Value::Set(s) => {
                    held.push((k, s));
                    slots.push(Some(held.len() - 1));
                }
                other => {
                    e.value = other;
                    slots.push(None);
                }
            }
        }
        Ok(Lifted { slots, held })
    }

    fn get(&self, i: usize) -> Option<&Set> {
        self.slots[i].map(|h| &*self.held[h].1)
    }

    fn restore(self, ctx: &mut Ctx) {
        for (k, s) in self.held {
            if let Some(e) = ctx.ks.peek(k) {
                e.value = Value::Set(s);
            }
        }
    }
}

// ------------------------------------------------------------------ single-key commands

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let lim = SetLimits::of(ctx);
    let args = ctx.args;
    let (key, members) = (args[1], &args[2..]);
    let mut added = 0;
    match write::<Set>(ctx.ks, key)? {
        Some(s) => {
            s.maybe_convert(members.len(), lim);
            for m in members {
                added += s.add(m, lim) as i64;
            }
        }
        None => {
            let mut s = Set::create(members[0], members.len(), lim);
            for m in members {
                added += s.add(m, lim) as i64;
            }
            ctx.ks.set(key, Value::Set(Box::new(s)), SetExpire::Clear);
        }
    }
    ctx.ks.mark_dirty(added as u64);
    if added > 0 {
        notify::event(ctx, notify::SET, "sadd", key);
    }
    ctx.out.int(added);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let (mut removed, mut empty) = (0, false);
    if let Some(s) = write::<Set>(ctx.ks, key)? {
        for m in &args[2..] {
            if s.remove(m) {
                removed += 1;
                if s.is_empty() {
                    empty = true;
                    break;
                }
            }
        }
    }
    if removed > 0 {
        notify::event(ctx, notify::SET, "srem", key);
    }
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(removed as u64);
    ctx.out.int(removed);
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let lim = SetLimits::of(ctx);
    let (src, dst, m) = (ctx.args[1], ctx.args[2], ctx.args[3]);
    if ctx.ks.get_mut(src).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    write::<Set>(ctx.ks, src)?;
    write::<Set>(ctx.ks, dst)?;
    if src == dst {
        let there = write::<Set>(ctx.ks, src)?.is_some_and(|s| s.contains(&Probe::new(m)));
        ctx.out.int(there as i64);
        return Ok(());
    }
    let (removed, empty) = match write::<Set>(ctx.ks, src)? {
        Some(s) => (s.remove(m), s.is_empty()),
        None => (false, false),
    };
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    notify::event(ctx, notify::SET, "srem", src);
    if empty {
        notify::delete(ctx, src);
    }
    ctx.ks.mark_dirty(1);
    let added = match write::<Set>(ctx.ks, dst)? {
        Some(s) => s.add(m, lim),
        None => {
            let mut s = Set::create(m, 1, lim);
            s.add(m, lim);
            ctx.ks.set(dst, Value::Set(Box::new(s)), SetExpire::Clear);
            true
        }
    };
    if added {
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::SET, "sadd", dst);
    } else {
        ctx.ks.unchanged(dst);
    }
    ctx.out.int(1);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let m = ctx.args[2];
    let n = read::<Set>(ctx.ks, ctx.args[1])?.is_some_and(|s| s.contains(&Probe::new(m)));
    ctx.out.int(n as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let Ctx { ks, out, .. } = ctx;
    let set = read::<Set>(ks, args[1])?.map(|s| &*s);
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(set.is_some_and(|s| s.contains(&Probe::new(m))) as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = read::<Set>(ctx.ks, ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// Reply with every member of `s` as a RESP3 set (RESP2 array), in the encoding's order.
fn reply_all(out: &mut ReplyWriter, s: &Set) {
    out.set(s.len());
    s.for_each(|e| e.reply(out));
}

/// Members per SREM SPOP with a count propagates (Redis's SPOP_MOVE_STRATEGY batch).
const SPOP_PROPAGATE_BATCH: usize = 1024;

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let key = args[1];
    let mut rng = crate::util::rng::fast();
    if args.len() == 2 {
        let (m, empty) = match write::<Set>(ctx.ks, key)? {
            None => {
                ctx.out.nil();
                return Ok(());
            }
            Some(s) => (s.pop_random(&mut rng), s.is_empty()),
        };
        notify::event(ctx, notify::SET, "spop", key);
        if empty {
            notify::delete(ctx, key);
        }
        ctx.ks.mark_dirty(1);
        if let Some(m) = &m {
            ctx.ks.propagate_as(|| propagate::argv(&[b"SREM", key, m]));
        }
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.nil(),
        }
        return Ok(());
    }
    let count = match int(args[2]) {
        Ok(n) if n >= 0 => n as u64,
        _ => return Err(err::NOT_POSITIVE),
    };
    let lim = SetLimits::of(ctx);
    let Some(s) = write::<Set>(ctx.ks, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = s.len();
    notify::event(ctx, notify::SET, "spop", key);
    let Some(s) = write::<Set>(ctx.ks, key)? else { return Ok(()) };
    if count >= size as u64 {
        // The whole set goes, replied in its own order (as SUNION of the one key would).
        let mut whole = Set::default();
        s.for_each(|e| {
            whole.add_elem(e, lim);
        });
        reply_all(ctx.out, &whole);
        free_temporary(ctx, whole);
        let lazy = ctx.ks.lazy_server_del();
        notify::delete_lazily(ctx, key, lazy);
        ctx.ks.mark_dirty(size as u64);
        ctx.ks.propagate_as(|| propagate::deletion(key, lazy));
        return Ok(());
    }
    let count = count as usize;
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * 5 > count {
        match s {
            Set::Table(_) => (0..count).filter_map(|_| s.pop_random(&mut rng)).collect(),
            _ => {
                let mut idx = distinct_indices(size, count, &mut rng);
                let mut taken = s.take_positions(&idx);
                if matches!(s, Set::Ints(_)) {
                    // Redis pops intset members one random draw at a time: random order.
                    shuffle(&mut taken, &mut rng);
                }
                idx.clear();
                taken
            }
        }
    } else {
        // Few members stay: draw those into a new set (which starts compact, as in Redis)
        // and hand the rest of the old one to the client.
        let keep = distinct_indices(size, remaining, &mut rng);
        let all = s.members();
        let mut fresh = match s {
            Set::Ints(_) => Set::Ints(IntSet::default()),
            _ => Set::Packed(Packed::default()),
        };
        let mut popped = Vec::with_capacity(count);
        let mut k = 0;
        let mut kept = Vec::with_capacity(remaining);
        for (i, m) in all.into_iter().enumerate() {
            if k < keep.len() && keep[k] == i {
                kept.push(m);
                k += 1;
            } else {
                popped.push(m);
            }
        }
        if matches!(s, Set::Table(_)) {
            shuffle(&mut kept, &mut rng);
        }
        for m in &kept {
            fresh.add(m, lim);
        }
        *s = fresh;
        popped
    };
    ctx.ks.mark_dirty(count as u64);
    if ctx.ks.prop {
        // What was drawn, as SREMs of Redis's batch size.
        let db = ctx.client.db;
        for batch in popped.chunks(SPOP_PROPAGATE_BATCH) {
            ctx.ks.also_propagate(db, || {
                let mut argv = propagate::argv(&[b"SREM", key]);
                argv.extend(batch.iter().cloned());
                argv
            });
        }
        ctx.ks.prevent_propagation();
    }
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn shuffle<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let key = args[1];
    let mut rng = crate::util::rng::fast();
    if args.len() == 2 {
        let m = match read::<Set>(ctx.ks, key)? {
            None => None,
            Some(s) => s.random_member(&mut rng),
        };
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.nil(),
        }
        return Ok(());
    }
    let l = int(args[2])?;
    if l == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let Ctx { ks, out, .. } = ctx;
    let Some(s) = read::<Set>(ks, key)? else {
        out.array(0);
        return Ok(());
    };
    if l == 0 {
        out.array(0);
        return Ok(());
    }
    let count = l.unsigned_abs();
    if l < 0 || count == 1 {
        if count > MAX_RANDOM_REPLY {
            return Err(Error::msg("ERR value is out of range"));
        }
        out.array(count as usize);
        match s {
            Set::Table(_) => {
                for _ in 0..count {
                    if let Some(m) = s.random_member(&mut rng) {
                        out.bulk(&m);
                    }
                }
            }
            _ => {
                let all = s.members();
                for _ in 0..count {
                    out.bulk(&all[rng.gen_range(0..all.len())]);
                }
            }
        }
        return Ok(());
    }
    let size = s.len();
    if count >= size as u64 {
        out.array(size);
        s.for_each(|e| e.reply(out));
        return Ok(());
    }
    let count = count as usize;
    out.array(count);
    match s {
        Set::Packed(_) => {
            // Redis samples a listpack in its own order.
            let all = s.members();
            for i in distinct_indices(all.len(), count, &mut rng) {
                out.bulk(&all[i]);
            }
        }
        Set::Table(_) if count * 3 < size => {
            // Few of many (Redis's case 4): uniform draws, repeats dropped, instead of
            // copying the whole set. Every subset is as likely, in a random order.
            for m in distinct_draws(count, || s.random_member(&mut rng), |m| m) {
                out.bulk(&m);
            }
        }
        _ => {
            let mut all = s.members();
            let idx = distinct_indices(all.len(), count, &mut rng);
            let mut picked: Vec<Vec<u8>> = idx.iter().map(|&i| std::mem::take(&mut all[i])).collect();
            shuffle(&mut picked, &mut rng);
            for m in &picked {
                out.bulk(m);
            }
        }
    }
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_cursor(args[2])?;
    let Ctx { ks, out, .. } = ctx;
    let Some(s) = read::<Set>(ks, args[1])?.map(|s| &*s) else {
        empty_scan(out);
        return Ok(());
    };
    let opts = parse_scan_opts(&args[3..], false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = match s {
        Set::Table(t) => {
            let mut c = cursor;
            let mut budget = opts.count.saturating_mul(10);
            loop {
                c = t.dict.scan(c, |m| {
                    if pattern_ok(opts.pattern, &m.0) {
                        items.push(m.0.to_vec());
                    }
                });
                budget = budget.saturating_sub(1);
                if c == 0 || items.len() >= opts.count || budget == 0 {
                    break;
                }
            }
            c
        }
        _ => {
            s.for_each(|e| {
                let b = e.bytes();
                if pattern_ok(opts.pattern, &b) {
                    items.push(b.into_owned());
                }
            });
            0
        }
    };
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(items.iter());
    Ok(())
}

// ------------------------------------------------------------------ multi-key commands

/// Store `result` at `dst` (any previous value and TTL replaced), or delete `dst` when the
/// result is empty; reply with the result's size. Redis replies before it notifies, except
/// for an emptied destination when `delete_first`.
fn store(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str, delete_first: bool) {
    let n = result.len();
    let reply_first = !(delete_first && n == 0);
    if reply_first {
        ctx.out.int(n as i64);
    }
    if n == 0 {
        if ctx.ks.delete(dst) {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::GENERIC, "del", dst);
        }
        if !reply_first {
            ctx.out.int(0);
        }
    } else {
        ctx.ks.set(dst, Value::Set(Box::new(result)), SetExpire::Clear);
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::SET, event, dst);
    }
}

/// What SINTER computes: the reply (members in the smallest set's order), a count, or a
/// set to store.
enum InterOut<'o> {
    Reply(&'o mut ReplyWriter),
    Count { limit: usize, n: usize },
    Build(Set, bool),
}

/// sinterGenericCommand over lifted sets.
fn inter(l: &Lifted, out: &mut InterOut, lim: SetLimits) {
    let n = l.slots.len();
    if l.slots.iter().any(|s| s.is_none()) {
        if let InterOut::Reply(o) = out {
            o.set(0);
        }
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| l.get(i).map_or(0, |s| s.len()));
    let first_slot = l.slots[order[0]];
    let Some(first) = l.get(order[0]) else { return };
    let others: Vec<&Set> =
        order[1..].iter().filter(|&&i| l.slots[i] != first_slot).filter_map(|&i| l.get(i)).collect();
    if let InterOut::Build(dst, _) = out {
        *dst = match first {
            Set::Ints(_) => Set::Ints(IntSet::default()),
            _ => Set::Packed(Packed::default()),
        };
    }
    let mut deferred = None;
    let mut found = 0usize;
    if let InterOut::Reply(o) = out {
        deferred = Some(o.begin_deferred(crate::resp::write::Agg::Set));
    }
    let mut stop = false;
    first.for_each(|e| {
        if stop || !others.iter().all(|s| s.contains_elem(e)) {
            return;
        }
        match out {
            InterOut::Reply(o) => {
                e.reply(o);
                found += 1;
            }
            InterOut::Count { limit, n } => {
                *n += 1;
                if *limit > 0 && *n >= *limit {
                    stop = true;
                }
            }
            InterOut::Build(dst, only_ints) => {
                if e.as_int().is_none() {
                    *only_ints = false;
                }
                dst.add_elem(e, lim);
            }
        }
    });
    match out {
        InterOut::Reply(o) => {
            if let Some(d) = deferred {
                o.end_deferred(d, found);
            }
        }
        InterOut::Build(dst, only_ints) => {
            if *only_ints && !dst.is_empty() {
                dst.maybe_to_intset(lim);
            }
        }
        InterOut::Count { .. } => {}
    }
}

pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.args[1..];
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    inter(&l, &mut InterOut::Reply(ctx.out), lim);
    l.restore(ctx);
    Ok(())
}

/// SMEMBERS key: SINTER of one key.
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let Ctx { ks, out, .. } = ctx;
    match read::<Set>(ks, key)? {
        None => out.set(0),
        Some(s) => reply_all(out, s),
    }
    Ok(())
}

pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let (dst, keys) = (ctx.args[1], &ctx.args[2..]);
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    let mut out = InterOut::Build(Set::default(), true);
    inter(&l, &mut out, lim);
    l.restore(ctx);
    let InterOut::Build(result, _) = out else { return Ok(()) };
    // Redis's SINTERSTORE deletes an emptied destination (and notifies) before it
    // replies, unlike SUNIONSTORE / SDIFFSTORE.
    store(ctx, dst, result, "sinterstore", true);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let numkeys = match int(args[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(Error::msg("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(Error::msg("ERR Number of keys can't be greater than number of args"));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if crate::command::args::eq(args[j], "limit") && j + 1 < args.len() {
            limit = match int(args[j + 1]) {
                Ok(n) if n >= 0 => n.min(isize::MAX as i64) as usize,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, &args[2..2 + numkeys])?;
    let mut out = InterOut::Count { limit, n: 0 };
    inter(&l, &mut out, lim);
    l.restore(ctx);
    let InterOut::Count { n, .. } = out else { return Ok(()) };
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// sunionDiffGenericCommand over lifted sets: the result set, built with the encoding
/// rules of SADD starting from an intset (so its order is Redis's).
fn union_diff(l: &Lifted, op: Op, lim: SetLimits) -> Set {
    let n = l.slots.len();
    let mut dst = Set::default();
    match op {
        Op::Union => {
            for i in 0..n {
                if let Some(s) = l.get(i) {
                    s.for_each(|e| {
                        dst.add_elem(e, lim);
                    });
                }
            }
        }
        Op::Diff => {
            let Some(first) = l.get(0) else { return dst };
            let first_slot = l.slots[0];
            if (1..n).any(|i| l.slots[i] == first_slot) {
                return dst;
            }
            let others: Vec<&Set> = (1..n).filter_map(|i| l.get(i)).collect();
            let (mut one, mut two) = (0usize, 0usize);
            for i in 0..n {
                if let Some(s) = l.get(i) {
                    one += first.len();
                    two += s.len();
                }
            }
            if one / 2 <= two {
                first.for_each(|e| {
                    if !others.iter().any(|s| s.contains_elem(e)) {
                        dst.add_elem(e, lim);
                    }
                });
            } else {
                first.for_each(|e| {
                    dst.add_elem(e, lim);
                });
                for s in others {
                    if dst.is_empty() {
                        break;
                    }
                    s.for_each(|e| {
                        dst.remove_elem(e);
                    });
                }
            }
        }
    }
    dst
}

fn union_diff_cmd(ctx: &mut Ctx, op: Op, store_to: bool) -> CmdResult {
    let (dst, keys) = if store_to { (Some(ctx.args[1]), &ctx.args[2..]) } else { (None, &ctx.args[1..]) };
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    let result = union_diff(&l, op, lim);
    l.restore(ctx);
    match dst {
        Some(d) => store(ctx, d, result, if matches!(op, Op::Union) { "sunionstore" } else { "sdiffstore" }, false),
        None => {
            reply_all(ctx.out, &result);
            free_temporary(ctx, result);
        }
    }
    Ok(())
}

/// A set made for a reply only (SUNION, SDIFF, SPOP of the whole set): freed in the
/// background under lazyfree-lazy-server-del when big (Redis frees its dstset so).
fn free_temporary(ctx: &Ctx, s: Set) {
    if ctx.ks.lazy_server_del() {
        crate::data::lazyfree::free_value(crate::data::value::Value::Set(Box::new(s)));
    }
}

pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Union, false)
}

pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Union, true)
}

pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Diff, false)
}

pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Diff, true)
}
