//! Type-agnostic key commands (Redis's db.c and expire.c): DEL UNLINK EXISTS TYPE KEYS SCAN
//! RANDOMKEY RENAME RENAMENX TOUCH OBJECT, the EXPIRE/TTL family, PERSIST, and the
//! database commands DBSIZE FLUSHDB FLUSHALL SWAPDB MOVE COPY.
//!
//! Whole-database commands (KEYS, FLUSH*, SWAPDB, MOVE, COPY) run with the keyspace held
//! exclusively (see `command::table::Lock`). SCAN and RANDOMKEY instead lock one shard at
//! a time: they hold no other shard lock, so the order discipline holds trivially, and a
//! long SCAN never stalls writers.

use std::sync::atomic::Ordering;

use rand::Rng;

use crate::command::args::{eq, int, parse_expire_cond};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::dict::{Dict, NO_EXPIRE};
use crate::data::value::Value;
use crate::keyspace::{key_hash, KeyEvent, SetExpire};
use crate::persist::propagate;
use crate::server::notify;
use crate::util::glob::glob_match;

pub fn del(ctx: &mut Ctx) -> CmdResult {
    let lazy = ctx.ks.keyspace().lazy_user_del.load(Ordering::Relaxed);
    delete_keys(ctx, lazy)
}

/// A time already past given to EXPIRE and the like, or GETEX: the key is deleted (freed in
/// the background under lazyfree-lazy-expire) and propagated as DEL or UNLINK.
pub fn delete_as_expired(ctx: &mut Ctx, key: &[u8]) {
    let lazy = ctx.ks.keyspace().lazy_expire.load(Ordering::Relaxed);
    notify::delete_lazily(ctx, key, lazy);
    ctx.ks.propagate_as(|| propagate::expire_deletion(ctx.srv, key));
}

/// UNLINK: DEL with big values freed in the background.
pub fn unlink(ctx: &mut Ctx) -> CmdResult {
    delete_keys(ctx, true)
}

fn delete_keys(ctx: &mut Ctx, lazy: bool) -> CmdResult {
    let mut n = 0;
    for k in &ctx.args[1..] {
        if notify::delete_lazily(ctx, k, lazy) {
            n += 1;
        }
    }
    ctx.ks.mark_dirty(n);
    ctx.out.int(n as i64);
    Ok(())
}

/// EXISTS looks without stamping the access clock (Redis's LOOKUP_NOTOUCH); TOUCH stamps.
fn count_existing(ctx: &mut Ctx, touch: bool) -> CmdResult {
    let mut n = 0;
    for k in &ctx.args[1..] {
        let found = if touch { ctx.ks.get(k).is_some() } else { ctx.ks.get_no_touch(k).is_some() };
        if found {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

pub fn exists(ctx: &mut Ctx) -> CmdResult {
    count_existing(ctx, false)
}

pub fn touch(ctx: &mut Ctx) -> CmdResult {
    count_existing(ctx, true)
}

pub fn type_(ctx: &mut Ctx) -> CmdResult {
    let name = match ctx.ks.get_no_touch(ctx.args[1]) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

pub fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.args[1];
    let all = pattern == b"*";
    let now = ctx.ks.now_ms;
    let db = ctx.ks.db;
    let mut found: Vec<Vec<u8>> = Vec::new();
    for s in 0..ctx.ks.keyspace().shards_per_db() {
        let shard = ctx.ks.shard_at(db, s);
        shard.dict.for_each(|e| {
            let live = e.expire_at_ms == NO_EXPIRE || now <= e.expire_at_ms;
            if live && (all || glob_match(pattern, e.key(), false)) {
                found.push(e.key().to_vec());
            }
        });
    }
    ctx.out.bulks(found.iter());
    Ok(())
}

/// Parse a SCAN cursor like Redis's strtoul-based parser.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::msg("ERR invalid cursor");
    let s = std::str::from_utf8(arg).map_err(|_| invalid())?;
    if s.is_empty() {
        return Ok(0); // strtoul("") parses nothing and Redis accepts it as 0
    }
    if s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(invalid());
    }
    let (neg, digits) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let v: u64 = digits.parse().map_err(|_| invalid())?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor packs the shard index in its low bits and that shard's table cursor above
/// them; shards are walked in order, each with the reverse-binary table cursor.
pub fn scan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_cursor(args[1])?;
    let opts = crate::command::args::parse_scan_opts(&args[2..], true)?;
    let count = opts.count as i64;
    let pattern = opts.pattern;
    let type_name = opts.type_name.map(|t| t.to_ascii_lowercase());
    let ks = ctx.ks.keyspace();
    let ksr = ks;
    let me = ctx.ks.client;
    let nshards = ks.shards_per_db() as u64;
    let bits = nshards.trailing_zeros();
    let db = ctx.ks.db;
    let now = ctx.ks.now_ms;
    let mut shard = cursor & (nshards - 1);
    let mut dc = cursor >> bits;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut budget = count.saturating_mul(10);
    let lazy_expire = ks.lazy_expire.load(Ordering::Relaxed);
    loop {
        let (next_dc, empty) = ctx.ks.with_shard(db, shard as usize, |s| {
            let mut expired: Vec<Vec<u8>> = Vec::new();
            let empty = s.dict.is_empty();
            let next = s.dict.scan(dc, |e| {
                if e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms {
                    expired.push(e.key().to_vec());
                    return;
                }
                if let Some(p) = pattern {
                    if !glob_match(p, e.key(), false) {
                        return;
                    }
                }
                if let Some(t) = &type_name {
                    if e.value.type_name().as_bytes() != &t[..] {
                        return;
                    }
                }
                keys.push(e.key().to_vec());
            });
            for k in &expired {
                s.remove_expired(key_hash(k), k, lazy_expire);
                ksr.expired_deleted(db, k);
                ksr.key_event(KeyEvent::Expired, db, k, me);
            }
            (next, empty)
        });
        dc = next_dc;
        if dc == 0 {
            shard += 1;
            if shard == nshards {
                shard = 0;
                break;
            }
        }
        // An empty shard costs nothing, so a small database is scanned in one call, as
        // Redis scans a small table in one call.
        if !empty {
            budget -= 1;
        }
        if keys.len() as i64 >= count || budget <= 0 {
            break;
        }
    }
    let next = if shard == 0 && dc == 0 { 0 } else { (dc << bits) | shard };
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(keys.iter());
    Ok(())
}

pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.ks.db;
    let now = ctx.ks.now_ms;
    let mut rng = crate::util::rng::fast();
    let ksr = ctx.ks.keyspace();
    let me = ctx.ks.client;
    let nshards = ksr.shards_per_db();
    let lazy_expire = ksr.lazy_expire.load(Ordering::Relaxed);
    for _attempt in 0..100 {
        let sizes: Vec<usize> = (0..nshards).map(|s| ctx.ks.with_shard_read(db, s, |sh| sh.dict.len())).collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            break;
        }
        let mut pick = rng.gen_range(0..total);
        let mut idx = 0;
        while idx < sizes.len() && pick >= sizes[idx] {
            pick -= sizes[idx];
            idx += 1;
        }
        let found = ctx.ks.with_shard(db, idx.min(sizes.len() - 1), |s| {
            let e = s.dict.random_entry(&mut rng)?;
            let key = e.key().to_vec();
            if e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms {
                s.remove_expired(key_hash(&key), &key, lazy_expire);
                ksr.expired_deleted(db, &key);
                ksr.key_event(KeyEvent::Expired, db, &key, me);
                return None;
            }
            Some(key)
        });
        if let Some(key) = found {
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
    ctx.out.nil();
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    if ctx.ks.get_mut(src).is_none() {
        return Err(err::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.ks.get_mut(dst).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let db = ctx.ks.db;
    let Some(entry) = ctx.ks.remove_in(db, src) else { return Err(err::NO_SUCH_KEY) };
    let expire = if entry.expire_at_ms == NO_EXPIRE { SetExpire::Clear } else { SetExpire::At(entry.expire_at_ms) };
    // Redis deletes an existing destination and adds the key anew ("new" event).
    ctx.ks.delete_implicitly(db, dst);
    ctx.ks.set(dst, entry.into_value(), expire);
    ctx.ks.mark_dirty(1);
    notify::notify(ctx, notify::GENERIC, "rename_from", src, db);
    notify::notify(ctx, notify::GENERIC, "rename_to", dst, db);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

pub fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

pub fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

// ---- OBJECT ----

pub(crate) fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv.config.read().str("maxmemory-policy").ends_with("lfu")
}

pub fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    match ctx.ks.get_untouched(ctx.args[2]) {
        Some(e) => {
            let enc = e.value.encoding_name();
            ctx.out.bulk(enc.as_bytes());
        }
        None => ctx.out.nil(),
    }
    Ok(())
}

pub fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let Some(e) = ctx.ks.get_untouched(ctx.args[2]) else {
        ctx.out.nil();
        return Ok(());
    };
    if !lfu {
        return Err(Error::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let lru = e.lru();
    let counter = ctx.ks.lfu_counter_of(lru);
    ctx.out.int(counter as i64);
    Ok(())
}

pub fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let clock = ctx.ks.lru_clock;
    let Some(e) = ctx.ks.get_untouched(ctx.args[2]) else {
        ctx.out.nil();
        return Ok(());
    };
    if lfu {
        return Err(Error::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.out.int(crate::keyspace::idle_seconds(clock, e.lru()) as i64);
    Ok(())
}

/// Redis shares the integer objects 0..9999 (refcount INT_MAX) unless an LRU/LFU policy
/// needs per-object access times; every other value has refcount 1.
pub fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let shares = shares_integers(ctx.srv);
    match ctx.ks.get_untouched(ctx.args[2]) {
        Some(e) => ctx.out.int(refcount(shares, &e.value)),
        None => ctx.out.nil(),
    }
    Ok(())
}

/// Whether small integers are shared objects now (see `object_refcount`).
pub fn shares_integers(srv: &crate::server::Server) -> bool {
    let cfg = srv.config.read();
    let policy = cfg.str("maxmemory-policy");
    cfg.int("maxmemory") == 0 || !(policy.ends_with("lru") || policy.ends_with("lfu"))
}

/// OBJECT REFCOUNT's and DEBUG OBJECT's refcount of `v`.
pub fn refcount(shares: bool, v: &Value) -> i64 {
    let shared = shares && matches!(v, Value::Int(n) if (0..10000).contains(n));
    if shared {
        i32::MAX as i64
    } else {
        1
    }
}

pub fn object_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

// ---- expiry ----

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]
fn expire_generic(ctx: &mut Ctx, base_ms: i64, seconds: bool) -> CmdResult {
    let cond = parse_expire_cond(&ctx.args[3..])?;
    let mut when = int(ctx.args[2])?;
    let invalid = || Error::msg(format!("ERR invalid expire time in '{}' command", ctx.name_lower()));
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    if when > i64::MAX - base_ms {
        return Err(invalid());
    }
    when += base_ms;
    let key = ctx.args[1];
    let Some(e) = ctx.ks.get_mut(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = e.expire_at_ms;
    let has = current != NO_EXPIRE;
    if (cond.nx && has)
        || (cond.xx && !has)
        || (cond.gt && (!has || when <= current))
        || (cond.lt && has && when >= current)
    {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.ks.mark_dirty(1);
    if when <= ctx.ks.now_ms {
        delete_as_expired(ctx, key);
        ctx.out.int(1);
    } else {
        if seconds || base_ms != 0 {
            // As PEXPIREAT, with the conditions after the time kept.
            let args = ctx.args;
            ctx.ks.propagate_as(|| {
                let mut argv = propagate::argv(args);
                argv[0] = b"PEXPIREAT".to_vec();
                argv[2] = propagate::int_arg(when);
                argv
            });
        }
        // Redis replies, then notifies (a deletion notifies first).
        ctx.ks.set_expire(key, when);
        ctx.out.int(1);
        notify::event(ctx, notify::GENERIC, "expire", key);
    }
    Ok(())
}

pub fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ctx.ks.now_ms, true)
}

pub fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ctx.ks.now_ms, false)
}

pub fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, true)
}

pub fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, false)
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx, ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.ks.now_ms;
    let reply = match ctx.ks.get_no_touch(ctx.args[1]) {
        None => -2,
        Some(e) if e.expire_at_ms == NO_EXPIRE => -1,
        Some(e) => {
            let t = if absolute { e.expire_at_ms } else { (e.expire_at_ms - now).max(0) };
            if ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

pub fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

pub fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

pub fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let had = ctx.ks.get_mut(key).is_some_and(|e| e.expire_at_ms != NO_EXPIRE);
    if had {
        ctx.ks.set_expire(key, NO_EXPIRE);
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::GENERIC, "persist", key);
    }
    ctx.out.int(had as i64);
    Ok(())
}

// ---- databases ----

pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.ks.db;
    let n = ctx.ks.db_size(db);
    ctx.out.int(n as i64);
    Ok(())
}

/// ASYNC / SYNC argument of FLUSHDB / FLUSHALL: true for ASYNC.
fn flush_mode(ctx: &Ctx) -> Result<bool, Error> {
    crate::command::args::flush_mode(ctx.srv, &ctx.args[1..]).ok_or(err::SYNTAX)
}

use crate::data::lazyfree::{FREED as LAZYFREED, PENDING as LAZYFREE_PENDING};

/// Free dropped tables on a background thread (FLUSH* ASYNC), like Redis's lazyfree, which
/// counts their keys as pending, then as freed.
fn free_tables(tables: Vec<Dict>, lazy: bool) {
    if lazy && !tables.is_empty() {
        let keys = tables.iter().map(|t| t.len() as u64).sum::<u64>();
        LAZYFREE_PENDING.fetch_add(keys, Ordering::Relaxed);
        let job = move || {
            drop(tables);
            LAZYFREE_PENDING.fetch_sub(keys, Ordering::Relaxed);
            LAZYFREED.fetch_add(keys, Ordering::Relaxed);
        };
        if std::thread::Builder::new().name("lazyfree".into()).spawn(job).is_err() {
            // No thread: the tables went with the closure; only the counts are left to fix.
            LAZYFREE_PENDING.fetch_sub(keys, Ordering::Relaxed);
            LAZYFREED.fetch_add(keys, Ordering::Relaxed);
        }
    } else {
        drop(tables);
    }
}

/// Every key of `db` that clients wait on is ready to be looked at again (its value was
/// flushed or swapped): they may find it filled, or, blocked on a group, find it gone.
fn note_waited_ready(ctx: &mut Ctx, db: usize) {
    for s in 0..ctx.ks.keyspace().shards_per_db() {
        let waited: Vec<Vec<u8>> = ctx.ks.shard_at(db, s).waiters.keys().cloned().collect();
        for k in waited {
            ctx.ks.signal_ready(db, &k);
        }
    }
}

fn flush_db(ctx: &mut Ctx, db: usize) -> (Vec<Dict>, usize) {
    let mut tables = Vec::new();
    let mut removed = 0;
    ctx.ks.touch_all_watched(db, None);
    note_waited_ready(ctx, db);
    for s in 0..ctx.ks.keyspace().shards_per_db() {
        let shard = ctx.ks.shard_at(db, s);
        removed += shard.dict.len();
        if !shard.dict.is_empty() {
            tables.push(shard.clear());
        }
    }
    (tables, removed)
}

pub fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let db = ctx.ks.db;
    let (tables, removed) = flush_db(ctx, db);
    crate::server::tracking::flush(ctx.srv, ctx.client.id);
    ctx.ks.mark_dirty(removed as u64);
    // Replayed even when the database was empty already, as Redis does.
    ctx.ks.force_propagation();
    free_tables(tables, lazy);
    ctx.out.ok();
    Ok(())
}

pub fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    // Replayed even when it removed nothing, as Redis does.
    ctx.ks.force_propagation();
    crate::server::save::abort_bgsave(ctx.srv);
    let mut all = Vec::new();
    let mut removed = 0;
    for db in 0..ctx.srv.databases() {
        let (t, n) = flush_db(ctx, db);
        all.extend(t);
        removed += n;
    }
    crate::server::tracking::flush(ctx.srv, ctx.client.id);
    // Redis 7.2 counts the removed keys only (INFO rdb_changes_since_last_save).
    crate::server::save::after_flushall(ctx, removed as u64);
    ctx.ks.mark_dirty(removed as u64);
    free_tables(all, lazy);
    ctx.out.ok();
    Ok(())
}

pub fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.databases() as i64;
    let a = int(ctx.args[1]).map_err(|_| Error::msg("ERR invalid first DB index"))?;
    let b = int(ctx.args[2]).map_err(|_| Error::msg("ERR invalid second DB index"))?;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(err::DB_INDEX);
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        ctx.ks.touch_all_watched(a, Some(b));
        ctx.ks.touch_all_watched(b, Some(a));
        ctx.ks.swap_db_data(a, b);
        for db in [a, b] {
            note_waited_ready(ctx, db);
        }
    }
    // A change even when a database is swapped with itself, as Redis counts it.
    ctx.ks.mark_dirty(1);
    ctx.out.ok();
    Ok(())
}

pub fn move_(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let dst = int(ctx.args[2])?;
    let src = ctx.ks.db;
    if dst < 0 || dst >= ctx.srv.databases() as i64 {
        return Err(err::DB_INDEX);
    }
    let dst = dst as usize;
    if dst == src {
        return Err(Error::msg("ERR source and destination objects are the same"));
    }
    if ctx.ks.get_mut(key).is_none() || ctx.ks.peek_in(dst, key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(entry) = ctx.ks.remove_in(src, key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let expire = if entry.expire_at_ms == NO_EXPIRE { SetExpire::Clear } else { SetExpire::At(entry.expire_at_ms) };
    ctx.ks.set_in(dst, key, entry.into_value(), expire);
    ctx.ks.mark_dirty(1);
    notify::notify(ctx, notify::GENERIC, "move_from", key, src);
    notify::notify(ctx, notify::GENERIC, "move_to", key, dst);
    ctx.out.int(1);
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let src_db = ctx.ks.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq(args[j], "replace") {
            replace = true;
        } else if eq(args[j], "db") && more > 0 {
            let n = int(args[j + 1])?;
            if n < 0 || n >= ctx.srv.databases() as i64 {
                return Err(err::DB_INDEX);
            }
            dst_db = n as usize;
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let (src, dst) = (args[1], args[2]);
    if src_db == dst_db && src == dst {
        return Err(Error::msg("ERR source and destination objects are the same"));
    }
    let Some(e) = ctx.ks.get(src) else {
        ctx.out.int(0);
        return Ok(());
    };
    let value = e.value.deep_clone();
    let expire = if e.expire_at_ms == NO_EXPIRE { SetExpire::Clear } else { SetExpire::At(e.expire_at_ms) };
    if ctx.ks.peek_in(dst_db, dst).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.ks.delete_implicitly(dst_db, dst);
    }
    ctx.ks.set_in(dst_db, dst, value, expire);
    ctx.ks.mark_dirty(1);
    notify::notify(ctx, notify::GENERIC, "copy_to", dst, dst_db);
    ctx.out.int(1);
    Ok(())
}
