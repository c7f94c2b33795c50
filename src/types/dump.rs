//! DUMP and RESTORE (Redis's cluster.c dumpCommand / restoreCommand): a value moved between
//! servers as its RDB encoding (`persist::value`) sealed with the RDB version and a CRC64
//! (`persist::rdb::seal_payload`), so payloads travel between cinnabar and Redis 7.2 both
//! ways. RESTORE-ASKING is RESTORE (there is no cluster mode to ask).
//!
//! RESTORE checks in Redis's order, each with Redis's error: the options (a syntax error,
//! IDLETIME and FREQ values, and the two are exclusive: the second one is a syntax
//! error), then BUSYKEY without REPLACE, then the TTL, then the payload's footer, then the
//! value itself ("Bad data format" for anything `persist::value` refuses, an empty
//! collection included). A TTL already in the past creates nothing: with REPLACE the old
//! key is deleted ("del" event) and the reply is still OK. Otherwise the key is stored, its
//! access clock set from IDLETIME (LRU policies) or FREQ (LFU policies) as
//! objectSetLRUOrLFU does, and "restore" is notified.

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::keyspace::SetExpire;
use crate::persist::rdb;
use crate::persist::value::{self, LoadOpts};
use crate::server::notify;

/// LRU_CLOCK_MAX: the LRU field is 24 bits in Redis; an IDLETIME past it wraps as there.
const LRU_CLOCK_MAX: i64 = (1 << 24) - 1;

pub fn dump(ctx: &mut Ctx) -> CmdResult {
    let compress = ctx.srv.config.read().bool("rdbcompression");
    let Some(e) = ctx.ks.get(ctx.args[1]) else {
        ctx.out.nil();
        return Ok(());
    };
    let mut payload = Vec::new();
    value::save(&mut payload, &e.value, compress);
    rdb::seal_payload(&mut payload);
    ctx.out.bulk(&payload);
    Ok(())
}

/// The access-clock options of RESTORE.
#[derive(Default)]
struct Access {
    idle: Option<i64>,
    freq: Option<u32>,
}

pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut replace, mut absttl, mut access) = (false, false, Access::default());
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1 > 0;
        if eq(args[j], "replace") {
            replace = true;
        } else if eq(args[j], "absttl") {
            absttl = true;
        } else if eq(args[j], "idletime") && more && access.freq.is_none() {
            let idle = int(args[j + 1])?;
            if idle < 0 {
                return Err(Error::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            access.idle = Some(idle);
            j += 1;
        } else if eq(args[j], "freq") && more && access.idle.is_none() {
            let freq = int(args[j + 1])?;
            if !(0..=255).contains(&freq) {
                return Err(Error::msg("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            access.freq = Some(freq as u32);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let key = args[1];
    if !replace && ctx.ks.exists(key) {
        return Err(Error::msg("BUSYKEY Target key name already exists."));
    }
    let mut ttl = int(args[2])?;
    if ttl < 0 {
        return Err(Error::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = args[3];
    if rdb::open_payload(payload).is_none() {
        return Err(Error::msg("ERR DUMP payload version or checksum are wrong"));
    }
    // Redis reads the value from the whole payload, footer included: a value that runs
    // into the footer's bytes loads there too.
    let opts = load_opts(ctx);
    let mut pos = 1;
    let loaded = payload.first().and_then(|&ty| value::load(ty, payload, &mut pos, &opts));
    let Some(v) = loaded else {
        return Err(Error::msg("ERR Bad data format"));
    };
    let deleted = replace && ctx.ks.delete_implicitly(ctx.ks.db, key);
    if ttl != 0 && !absttl {
        // Wrapping as in Redis: a huge relative TTL lands in the past and stores nothing.
        ttl = ttl.wrapping_add(ctx.ks.now_ms);
    }
    if ttl != 0 && ttl <= ctx.ks.now_ms {
        if deleted {
            ctx.ks.mark_dirty(1);
            let lazy = ctx.ks.lazy_server_del();
            ctx.ks.propagate_as(|| crate::persist::propagate::deletion(key, lazy));
            notify::notify(ctx, notify::GENERIC, "del", key, ctx.ks.db);
        }
        ctx.out.ok();
        return Ok(());
    }
    if ttl != 0 && !absttl {
        // Replayed with the absolute time (Redis appends ABSTTL).
        let args = ctx.args;
        ctx.ks.propagate_as(|| {
            let mut argv = crate::persist::propagate::argv(args);
            argv[2] = crate::persist::propagate::int_arg(ttl);
            argv.push(b"ABSTTL".to_vec());
            argv
        });
    }
    let expire = if ttl == 0 { SetExpire::Clear } else { SetExpire::At(ttl) };
    ctx.ks.set(key, v, expire);
    set_access(ctx, key, &access);
    notify::notify(ctx, notify::GENERIC, "restore", key, ctx.ks.db);
    ctx.out.ok();
    ctx.ks.mark_dirty(1);
    Ok(())
}

/// `sanitize-dump-payload`: yes, or clients for a client that is not our master (there
/// is no replication yet, so every client) unless its ACL user is skip-sanitize-payload.
/// `persist::value` validates completely either way (see its module comment); the flag is
/// passed on for what may come to depend on it.
fn load_opts(ctx: &Ctx) -> LoadOpts {
    let deep = match ctx.srv.config.read().str("sanitize-dump-payload") {
        "yes" => true,
        "clients" => !ctx.client.user.skip_sanitize,
        _ => false,
    };
    LoadOpts::from_limits(&ctx.srv.limits, deep)
}

/// objectSetLRUOrLFU: FREQ under an LFU policy sets the counter (at this minute), IDLETIME
/// under any other sets the last access that many seconds back; the other is ignored.
fn set_access(ctx: &mut Ctx, key: &[u8], a: &Access) {
    let lru = match (ctx.ks.lfu, a.freq, a.idle) {
        (Some(_), Some(freq), _) => {
            let minutes = ((ctx.ks.now_ms / 60_000) & 0xffff) as u32;
            (minutes << 8) | freq
        }
        (None, _, Some(idle)) => {
            // Redis's clock and field are 24 bits: the idle time it will report is the
            // one its wrapped arithmetic leaves; our clock is wider, so set that one.
            let clock = (ctx.ks.lru_clock / crate::keyspace::LRU_TICKS_PER_SEC) as i64 & LRU_CLOCK_MAX;
            // Scaled to the clock's resolution as Redis does (seconds: * 1000 / 1000, which
            // wraps for a huge IDLETIME there too).
            let idle = idle.wrapping_mul(1000) / 1000;
            let mut at = clock - idle;
            if at < 0 {
                at += LRU_CLOCK_MAX;
            }
            let at = at & LRU_CLOCK_MAX; // the 24-bit field keeps the low bits
            let reported = if clock >= at { clock - at } else { clock + (LRU_CLOCK_MAX - at) };
            crate::keyspace::lru_seconds_ago(ctx.ks.lru_clock, reported as u64)
        }
        _ => return,
    };
    if let Some(e) = ctx.ks.peek(key) {
        e.set_lru(lru);
    }
}
