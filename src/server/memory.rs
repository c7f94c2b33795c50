//! MEMORY (Redis's object.c memoryCommand): USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
//!
//! The figures are the allocator's own: cinnabar runs on jemalloc, so `total.allocated`,
//! `allocator.*` and the fragmentation ratios are jemalloc's statistics (refreshed on each
//! call), and the overhead / dataset split is INFO memory's (`info::memory_figures`), so the
//! two always agree.
//!
//! USAGE sizes a key as it lies in memory here, not as Redis would lay it out: the table
//! node that holds the key, its expiry and LRU word and the value's inline part (rounded
//! to jemalloc's size class), the key's spilled bytes if it is too long to be inline, and
//! the value's own allocations (`Value::heap_size`). A big hash, set or sorted set is
//! sized from SAMPLES of its elements, scaled to its length (default 5, 0 = all), which is
//! what Redis's SAMPLES means; a list or stream is cheap to size whole (one step per chunk
//! or node), so it always is.

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx};
use crate::data::dict::{Dict, Entry};
use crate::server::conn::help_reply;
use crate::server::info::{memory_figures, MemoryFigures};

/// Redis's default number of elements MEMORY USAGE samples (OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const DEFAULT_SAMPLES: i64 = 5;

/// The bytes jemalloc really hands out for a request of `n` bytes (its size class).
fn allocation(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // SAFETY: nallocx only computes a size class; flags 0 is the default alignment.
    let real = unsafe { tikv_jemalloc_sys::nallocx(n, 0) };
    if real == 0 {
        n
    } else {
        real
    }
}

/// MEMORY USAGE's estimate for one entry (see the module comment).
pub fn entry_usage(e: &Entry, samples: usize) -> usize {
    use crate::data::value::Value;
    // A collection's header is a box of its own beside what `heap_size` counts.
    let boxed = match &e.value {
        Value::Int(_) | Value::Str(_) => 0,
        Value::List(b) => std::mem::size_of_val(&**b),
        Value::Hash(b) => std::mem::size_of_val(&**b),
        Value::Set(b) => std::mem::size_of_val(&**b),
        Value::ZSet(b) => std::mem::size_of_val(&**b),
        Value::Stream(b) => std::mem::size_of_val(&**b),
    };
    let value = match &e.value {
        // A string's bytes are one allocation of their own when they do not fit inline.
        Value::Str(bytes) => allocation(bytes.heap_size()),
        v => allocation(boxed) + v.heap_size(samples),
    };
    allocation(Dict::<Entry>::node_size()) + allocation(e.key_heap_size()) + value
}

pub fn usage(ctx: &mut Ctx) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut i = 3;
    while i < ctx.args.len() {
        if eq(ctx.args[i], "samples") && i + 1 < ctx.args.len() {
            samples = int(ctx.args[i + 1])?;
            if samples < 0 {
                return Err(err::SYNTAX);
            }
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let samples = if samples == 0 { 0 } else { samples as usize };
    match ctx.ks.get_untouched(ctx.args[2]) {
        Some(e) => {
            let n = entry_usage(e, samples);
            ctx.out.int(n as i64);
        }
        None => ctx.out.nil(),
    }
    Ok(())
}

/// Redis's float fields: computed in single precision, as Redis's `float` struct members.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f32 / b as f32) as f64
    }
}

pub fn stats(ctx: &mut Ctx) -> CmdResult {
    let figures = ctx.ks.figures();
    let m = memory_figures(ctx.srv, &figures);
    let keys: usize = figures.dbs.iter().map(|d| d.0).sum();
    let dbs: Vec<(usize, usize)> = (0..figures.dbs.len())
        .filter(|&db| figures.dbs[db].0 > 0)
        .map(|db| (db, figures.db_table_bytes.get(db).copied().unwrap_or(0)))
        .collect();
    let net = m.used.saturating_sub(m.startup);
    let out = &mut *ctx.out;
    out.map(27 + dbs.len());
    let field = |out: &mut crate::resp::write::ReplyWriter, name: &str, v: u64| {
        out.bulk(name.as_bytes());
        out.int(v as i64);
    };
    field(out, "peak.allocated", m.peak);
    field(out, "total.allocated", m.used);
    field(out, "startup.allocated", m.startup);
    field(out, "replication.backlog", 0);
    field(out, "clients.slaves", 0);
    field(out, "clients.normal", m.clients_normal);
    field(out, "cluster.links", 0);
    field(out, "aof.buffer", 0);
    field(out, "lua.caches", m.lua.scripts_bytes);
    field(out, "functions.caches", m.lua.functions_bytes);
    for (db, table) in dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        // The expiry time lives in the key's own entry here, so the main table carries it
        // and there is no second table to report.
        field(out, "overhead.hashtable.main", table as u64);
        field(out, "overhead.hashtable.expires", 0);
        field(out, "overhead.hashtable.slot-to-keys", 0);
    }
    field(out, "overhead.total", m.overhead);
    field(out, "keys.count", keys as u64);
    field(out, "keys.bytes-per-key", if keys > 0 { net / keys as u64 } else { 0 });
    field(out, "dataset.bytes", m.dataset);
    out.bulk(b"dataset.percentage");
    out.double(ratio(m.dataset * 100, net));
    out.bulk(b"peak.percentage");
    out.double(ratio(m.used * 100, m.peak));
    field(out, "allocator.allocated", m.used);
    field(out, "allocator.active", m.active);
    field(out, "allocator.resident", m.resident);
    // `<name>.ratio` and `<name>.bytes` of one layer over the one below it.
    let over = |out: &mut crate::resp::write::ReplyWriter, name: &str, top: u64, below: u64| {
        out.bulk(format!("{name}.ratio").as_bytes());
        out.double(ratio(top, below));
        out.bulk(format!("{name}.bytes").as_bytes());
        out.int(top as i64 - below as i64);
    };
    over(out, "allocator-fragmentation", m.active, m.used);
    over(out, "allocator-rss", m.resident, m.active);
    over(out, "rss-overhead", m.rss, m.resident);
    out.bulk(b"fragmentation");
    out.double(ratio(m.rss, m.used));
    out.bulk(b"fragmentation.bytes");
    out.int(m.rss as i64 - m.used as i64);
    Ok(())
}

const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_FINE: &str =
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_PEAK: &str = "Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.";
const DOCTOR_RSS: &str = "High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".";
const DOCTOR_ALLOC_FRAG: &str = "High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.";
const DOCTOR_ALLOC_RSS: &str = "High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.";
const DOCTOR_PROC_RSS: &str = "High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.";
const DOCTOR_CLIENT_BUF: &str = "Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.";
const DOCTOR_SCRIPTS: &str = "Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.";

/// Redis's getMemoryDoctorReport: its thresholds (an instance under 5 MB is "empty"; a
/// ratio counts only past 10 MB of difference) and its texts. There are no replicas here,
/// so the replica-buffer diagnosis never applies.
fn doctor_report(m: &MemoryFigures) -> String {
    const MB: i64 = 1024 * 1024;
    if m.used < 5 * MB as u64 {
        return DOCTOR_EMPTY.to_string();
    }
    let over = |a: u64, b: u64, limit: f64| ratio(a, b) > limit && a as i64 - b as i64 > 10 * MB;
    let mut issues = Vec::new();
    if m.peak as f64 / m.used as f64 > 1.5 {
        issues.push(DOCTOR_PEAK);
    }
    if over(m.rss, m.used, 1.4) {
        issues.push(DOCTOR_RSS);
    }
    if over(m.active, m.used, 1.1) {
        issues.push(DOCTOR_ALLOC_FRAG);
    }
    if over(m.resident, m.active, 1.1) {
        issues.push(DOCTOR_ALLOC_RSS);
    }
    if over(m.rss, m.resident, 1.1) {
        issues.push(DOCTOR_PROC_RSS);
    }
    if m.clients > 0 && m.clients_normal / m.clients as u64 > 1024 * 200 {
        issues.push(DOCTOR_CLIENT_BUF);
    }
    if m.lua.scripts > 1000 {
        issues.push(DOCTOR_SCRIPTS);
    }
    if issues.is_empty() {
        return DOCTOR_FINE.to_string();
    }
    let mut s = String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for issue in issues {
        s.push_str(" * ");
        s.push_str(issue);
        s.push_str("\n\n");
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

pub fn doctor(ctx: &mut Ctx) -> CmdResult {
    let figures = ctx.ks.figures();
    let report = doctor_report(&memory_figures(ctx.srv, &figures));
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// jemalloc's malloc_stats_print, collected into one text (Redis's jemalloc build replies
/// the same report).
pub fn malloc_stats(ctx: &mut Ctx) -> CmdResult {
    unsafe extern "C" fn append(opaque: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
        // SAFETY: `opaque` is the Vec passed below, alive for the whole call; jemalloc hands
        // NUL-terminated strings.
        let out = unsafe { &mut *(opaque as *mut Vec<u8>) };
        out.extend_from_slice(unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes());
    }
    let mut text: Vec<u8> = Vec::with_capacity(64 * 1024);
    // SAFETY: the callback only appends to `text`, which outlives the call; null options
    // ask for the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(Some(append), (&mut text as *mut Vec<u8>).cast(), std::ptr::null());
    }
    ctx.out.verbatim("txt", &text);
    Ok(())
}

pub fn purge(ctx: &mut Ctx) -> CmdResult {
    crate::util::alloc::purge();
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
