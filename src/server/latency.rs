//! The latency monitor (LATENCY, latency-monitor-threshold) and the per-command latency
//! histograms' commands (LATENCY HISTOGRAM, INFO latencystats; the histograms themselves
//! are `util::hdr::CmdHist`, one per command in the command table).
//!
//! An event is a named operation that can stall the server: "command" and "fast-command"
//! (a command, by its `fast` flag), "expire-cycle" (the cron's active expiry), the AOF's
//! writes and fsyncs, "eviction-cycle" / "eviction-del". When one takes at least
//! latency-monitor-threshold milliseconds (0: off) `add_sample_if_needed` keeps a sample:
//! per event a ring of 160 (unix second, ms) samples, one per second (a second spike in
//! the same second raises that second's sample), and the all-time maximum, as Redis keeps
//! them. The samples live in one process-wide table, as Redis's server.latency_events:
//! the AOF writer thread and the cron record events where no `Server` is at hand, and a
//! sample is taken only by something already slow, so its mutex costs nothing that
//! matters. Reading the threshold is one relaxed load.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::now_ms;
use crate::util::hdr;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
const SAMPLES: usize = 160;
/// The width of LATENCY GRAPH's rule and of a row of its graph.
const GRAPH_COLUMNS: usize = 80;

#[derive(Clone)]
struct Series {
    /// (unix seconds, ms); time 0: an empty place.
    samples: [(i64, u64); SAMPLES],
    /// Where the next sample goes.
    idx: usize,
    max: u64,
}

impl Series {
    fn new() -> Series {
        Series { samples: [(0, 0); SAMPLES], idx: 0, max: 0 }
    }

    fn add(&mut self, now: i64, ms: u64) {
        self.max = self.max.max(ms);
        let prev = (self.idx + SAMPLES - 1) % SAMPLES;
        if self.samples[prev].0 == now {
            self.samples[prev].1 = self.samples[prev].1.max(ms);
            return;
        }
        self.samples[self.idx] = (now, ms);
        self.idx = (self.idx + 1) % SAMPLES;
    }

    /// The samples, oldest first.
    fn ordered(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (0..SAMPLES).map(move |j| self.samples[(self.idx + j) % SAMPLES]).filter(|s| s.0 != 0)
    }
}

/// latency-monitor-threshold in ms (0: off), refreshed from the configuration.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);
/// The events in the order they first happened.
static EVENTS: Mutex<Vec<(String, Series)>> = Mutex::new(Vec::new());

/// What dispatch looks at after each call (`dispatch::record_call`), on one cache line:
/// latency-tracking, and the smallest duration (µs) anything wants to see (the slow log's
/// threshold, the latency monitor's; u64::MAX when both are off), so a call under it costs
/// one compare.
#[repr(align(64))]
pub struct CallWatch {
    pub watch_us: AtomicU64,
    pub tracking: AtomicBool,
}

impl Default for CallWatch {
    fn default() -> Self {
        CallWatch { watch_us: AtomicU64::new(u64::MAX), tracking: AtomicBool::new(true) }
    }
}

/// Copy the slow log's and the latency monitor's parameters from the configuration.
pub fn refresh(srv: &super::Server, cfg: &super::config::Config) {
    let slower_than = cfg.int("slowlog-log-slower-than");
    let threshold = cfg.int("latency-monitor-threshold").max(0) as u64;
    srv.slowlog.slower_than.store(slower_than, Ordering::Relaxed);
    srv.slowlog.max_len.store(cfg.int("slowlog-max-len"), Ordering::Relaxed);
    THRESHOLD_MS.store(threshold, Ordering::Relaxed);
    let mut watch = if slower_than < 0 { u64::MAX } else { slower_than as u64 };
    if threshold > 0 {
        watch = watch.min(threshold.saturating_mul(1000));
    }
    srv.call_watch.watch_us.store(watch, Ordering::Relaxed);
    srv.call_watch.tracking.store(cfg.bool("latency-tracking"), Ordering::Relaxed);
}

/// A call at or over `CallWatch::watch_us`: the slow log, and the "command" /
/// "fast-command" event.
#[cold]
pub fn slow_call(srv: &super::Server, client: &super::client::Client, flags: u64, args: &[&[u8]], us: u64) {
    use crate::command::spec::flags as f;
    if flags & f::SKIP_SLOWLOG == 0 {
        srv.slowlog.push_if_needed(client, args, us);
    }
    add_sample_if_needed(if flags & f::FAST != 0 { "fast-command" } else { "command" }, us / 1000);
}

pub fn threshold_ms() -> u64 {
    THRESHOLD_MS.load(Ordering::Relaxed)
}

/// Record that `event` took `ms` milliseconds, if that reaches latency-monitor-threshold
/// (Redis's latencyAddSampleIfNeeded). What the eviction and persistence code calls.
#[inline]
pub fn add_sample_if_needed(event: &str, ms: u64) {
    let t = threshold_ms();
    if t != 0 && ms >= t {
        add_sample(event, ms);
    }
}

/// `add_sample_if_needed` of the time since `started`.
#[inline]
pub fn add_sample_since(event: &str, started: std::time::Instant) {
    if threshold_ms() != 0 {
        add_sample_if_needed(event, started.elapsed().as_millis() as u64);
    }
}

#[cold]
fn add_sample(event: &str, ms: u64) {
    let now = now_ms() / 1000;
    let mut events = EVENTS.lock();
    match events.iter_mut().find(|(name, _)| name == event) {
        Some((_, s)) => s.add(now, ms),
        None => {
            let mut s = Series::new();
            s.add(now, ms);
            events.push((event.to_string(), s));
        }
    }
}

fn series(event: &[u8]) -> Option<Series> {
    EVENTS.lock().iter().find(|(name, _)| name.as_bytes() == event).map(|(_, s)| s.clone())
}

// ---------------------------------------------------------------- LATENCY

pub fn latest(ctx: &mut Ctx) -> CmdResult {
    let events = EVENTS.lock().clone();
    ctx.out.array(events.len());
    for (name, s) in &events {
        let last = s.samples[(s.idx + SAMPLES - 1) % SAMPLES];
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(last.0);
        ctx.out.int(last.1 as i64);
        ctx.out.int(s.max as i64);
    }
    Ok(())
}

pub fn history(ctx: &mut Ctx) -> CmdResult {
    let Some(s) = series(ctx.args[2]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let samples: Vec<_> = s.ordered().collect();
    ctx.out.array(samples.len());
    for (t, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(t);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    let mut events = EVENTS.lock();
    let n = if ctx.args.len() == 2 {
        std::mem::take(&mut *events).len()
    } else {
        let mut n = 0;
        for name in &ctx.args[2..] {
            if let Some(i) = events.iter().position(|(e, _)| e.as_bytes() == *name) {
                events.remove(i);
                n += 1;
            }
        }
        n
    };
    drop(events);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn graph(ctx: &mut Ctx) -> CmdResult {
    let event = ctx.args[2];
    let Some(s) = series(event) else {
        return Err(Error::msg(format!("ERR No samples available for event '{}'", String::from_utf8_lossy(event))));
    };
    let text = render_graph(&String::from_utf8_lossy(event), &s, now_ms() / 1000);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// "how long ago" as LATENCY GRAPH labels a column: 5s, 3m, 2h, 1d.
fn ago_label(elapsed: i64) -> String {
    match elapsed {
        e if e < 60 => format!("{e}s"),
        e if e < 3600 => format!("{}m", e / 60),
        e if e < 86400 => format!("{}h", e / 3600),
        e => format!("{}d", e / 86400),
    }
}

/// LATENCY GRAPH's text: a title line, a rule, then the samples as a filled sparkline of
/// 4 rows (`_o#` climbing through the rows, `|` under a higher mark), a blank row and each
/// column's age label written downwards; 80 columns per band, bands separated by an empty
/// line.
fn render_graph(event: &str, s: &Series, now: i64) -> String {
    let samples: Vec<(u64, String)> = s.ordered().map(|(t, ms)| (ms, ago_label(now - t))).collect();
    let min = samples.iter().map(|x| x.0).min().unwrap_or(0);
    let max = samples.iter().map(|x| x.0).max().unwrap_or(0);
    let mut out = format!("{event} - high {max} ms, low {min} ms (all time high {} ms)\n", s.max);
    out.push_str(&"-".repeat(GRAPH_COLUMNS));
    out.push('\n');
    const ROWS: i64 = 4;
    const FILL: &[u8] = b"_o#";
    let steps = FILL.len() as i64 * ROWS;
    let range = if max == min { 1.0 } else { (max - min) as f64 };
    for (band, chunk) in samples.chunks(GRAPH_COLUMNS).enumerate() {
        if band > 0 {
            out.push('\n');
        }
        let step_of = |v: u64| -> i64 {
            let rel = (v - min) as f64;
            let step = ((rel * steps as f64) as i64 as f64 / range) as i64;
            step.clamp(0, steps - 1)
        };
        for row in 0..ROWS {
            let line: String = chunk
                .iter()
                .map(|(v, _)| {
                    let idx = step_of(*v) - (ROWS - row - 1) * FILL.len() as i64;
                    if (0..FILL.len() as i64).contains(&idx) {
                        FILL[idx as usize] as char
                    } else if idx >= FILL.len() as i64 {
                        '|'
                    } else {
                        ' '
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        // The row between the graph and the labels, then the labels one character a row.
        out.push_str(&" ".repeat(chunk.len()));
        out.push('\n');
        let longest = chunk.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        for i in 0..longest {
            let line: String = chunk.iter().map(|(_, l)| l.as_bytes().get(i).map_or(' ', |&b| b as char)).collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

pub fn doctor(ctx: &mut Ctx) -> CmdResult {
    let text = doctor_report(ctx.srv);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// (samples, average, mean absolute deviation, seconds since the oldest sample (at least
/// 1)) of an event's ring, as Redis's analyzeLatencyForEvent (integer arithmetic).
fn analyze(s: &Series, now: i64) -> (u64, u64, u64, i64) {
    let samples: Vec<(i64, u64)> = s.ordered().collect();
    let n = samples.len() as u64;
    if n == 0 {
        return (0, 0, 0, 0);
    }
    let avg = samples.iter().map(|x| x.1).sum::<u64>() / n;
    let oldest = samples.iter().map(|x| x.0).min().unwrap_or(now);
    let period = (now - oldest).max(0);
    let period = if period == 0 { 1 } else { period };
    let mad = samples.iter().map(|x| (avg as i64 - x.1 as i64).unsigned_abs()).sum::<u64>() / n;
    (n, avg, mad, period)
}

/// AnonHugePages of this process (transparent huge pages), from /proc.
fn anon_huge_pages() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else { return 0 };
    text.lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum()
}

/// LATENCY DOCTOR: Redis's report, its texts word for word: each event's figures, then
/// the advice its events call for.
fn doctor_report(srv: &super::Server) -> String {
    let events = EVENTS.lock().clone();
    let threshold = threshold_ms();
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let (slower_than, slowlog_len, hz, fsync_always) = {
        let cfg = srv.config.read();
        (
            cfg.int("slowlog-log-slower-than"),
            cfg.int("slowlog-max-len"),
            cfg.int("hz"),
            cfg.str("appendfsync") == "always",
        )
    };
    #[derive(Default)]
    struct Advice {
        slowlog_enabled: bool,
        slowlog_tuning: bool,
        slowlog_inspect: bool,
        scheduler: bool,
        local_disk: bool,
        ssd: bool,
        data_writeback: bool,
        disk_contention: bool,
        no_appendfsync: bool,
        relax_fsync: bool,
        write_load_info: bool,
        hz: bool,
        large_objects: bool,
        mass_eviction: bool,
        disable_thp: bool,
    }
    let mut a = Advice::default();
    let mut advices = 0;
    let now = now_ms() / 1000;
    let mut out = String::new();
    for (n, (event, s)) in events.iter().enumerate() {
        if n == 0 {
            out.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (samples, avg, mad, period) = analyze(s, now);
        let _ = write!(
            out,
            "{}. {event}: {samples} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            period as f64 / samples as f64,
            s.max
        );
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                if slower_than < 0 || slowlog_len == 0 {
                    a.slowlog_enabled = true;
                    advices += 1;
                } else if (slower_than / 1000) as u64 > threshold {
                    a.slowlog_tuning = true;
                    advices += 1;
                }
                a.slowlog_inspect = true;
                a.large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                a.scheduler = true;
                advices += 1;
            }
            "aof-write-pending-fsync" => {
                a.local_disk = true;
                a.disk_contention = true;
                a.ssd = true;
                a.data_writeback = true;
                advices += 4;
            }
            "aof-write-active-child" => {
                a.no_appendfsync = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-write-alone" => {
                a.local_disk = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-fsync-always" => {
                a.relax_fsync = true;
                advices += 1;
            }
            "aof-fstat" | "rdb-unlink-temp-file" => {
                a.disk_contention = true;
                a.local_disk = true;
                advices += 2;
            }
            "aof-rewrite-diff-write" | "aof-rename" => {
                a.write_load_info = true;
                a.data_writeback = true;
                a.ssd = true;
                a.local_disk = true;
                advices += 4;
            }
            "expire-cycle" => {
                a.hz = true;
                a.large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                a.large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                a.mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        out.push('\n');
    }
    if anon_huge_pages() > 0 {
        a.disable_thp = true;
        advices += 1;
    }
    if events.is_empty() && advices == 0 {
        out.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return out;
    }
    if !events.is_empty() && advices == 0 {
        out.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return out;
    }
    out.push_str("\nI have a few advices for you:\n\n");
    let us = threshold * 1000;
    if a.slowlog_enabled {
        let _ = writeln!(out, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if a.slowlog_tuning {
        let _ = writeln!(out, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {us}'.");
    }
    let texts: [(bool, &str); 13] = [
        (a.slowlog_inspect, "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"),
        (a.scheduler, "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n"),
        (a.local_disk, "- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n"),
        (a.ssd, "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n"),
        (a.data_writeback, "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n"),
        (a.disk_contention, "- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n"),
        (a.no_appendfsync, "- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n"),
        (a.relax_fsync && fsync_always, "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n"),
        (a.write_load_info, "- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n"),
        (a.hz && hz < 100, "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"),
        (a.large_objects, "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"),
        (a.mass_eviction, "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n"),
        (a.disable_thp, "- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n"),
    ];
    for (on, text) in texts {
        if on {
            out.push_str(text);
        }
    }
    out
}

// ---------------------------------------------------------------- histograms

/// A command (or subcommand) with calls counted by its histogram: its name and
/// (counters, total).
type Counted<'a> = (&'a str, (Vec<u64>, u64));

fn counted(c: &crate::command::table::Command) -> Option<Counted<'_>> {
    c.hist.merged().map(|m| (c.def.name, m))
}

/// LATENCY HISTOGRAM [command ...]: each named command (and each subcommand of a named
/// container) that has calls, in the order named (every command when none is named):
/// {name: {calls, histogram_usec: {µs: calls up to it}}}.
pub fn histogram(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv;
    let mut rows: Vec<Counted> = Vec::new();
    if ctx.args.len() == 2 {
        rows.extend(srv.commands.iter().filter_map(counted));
        rows.sort_by_key(|r| r.0);
    } else {
        for name in &ctx.args[2..] {
            let cmd = match name.iter().position(|&b| b == b'|') {
                None => srv.commands.get(name),
                Some(i) => {
                    srv.commands.get(&name[..i]).and_then(|c| c.subcommands.get(&name[i + 1..].to_ascii_lowercase()))
                }
            };
            let Some(cmd) = cmd else { continue };
            rows.extend(counted(cmd));
            rows.extend(cmd.subcommands.values().filter_map(counted));
        }
    }
    let out = &mut *ctx.out;
    out.map(rows.len());
    for (name, (counts, total)) in &rows {
        out.bulk(name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(*total as i64);
        out.bulk(b"histogram_usec");
        let buckets = hdr::cumulative_log_buckets(counts, *total);
        out.map(buckets.len());
        for (us, n) in buckets {
            out.int(us as i64);
            out.int(n as i64);
        }
    }
    Ok(())
}

/// INFO latencystats' line of one command: `p50=1.003,p99=2.007,p99.9=3.007` for
/// percentiles as latency-tracking-info-percentiles renders them.
pub fn percentiles_line(counts: &[u64], total: u64, percentiles: &str) -> String {
    let mut line = String::new();
    for (i, p) in percentiles.split_whitespace().enumerate() {
        let v = hdr::value_at_percentile(counts, total, p.parse().unwrap_or(0.0));
        let _ = write!(line, "{}p{p}={:.3}", if i > 0 { "," } else { "" }, v as f64 / 1000.0);
    }
    line
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    super::conn::help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_of_one_sample() {
        let mut s = Series::new();
        s.add(100, 20);
        s.add(100, 5);
        assert_eq!(s.max, 20);
        assert_eq!(
            render_graph("command", &s, 100),
            format!("command - high 20 ms, low 20 ms (all time high 20 ms)\n{}\n \n \n \n_\n \n0\ns\n", "-".repeat(80))
        );
        s.add(101, 40);
        s.add(102, 30);
        let g = render_graph("command", &s, 150);
        assert!(g.starts_with("command - high 40 ms, low 20 ms (all time high 40 ms)\n"), "{g}");
        // Steps (of 12): 40 is 11 (top row '#'), 30 is 6 (second row '_'), 20 is 0.
        assert!(g.ends_with("\n # \n |_\n ||\n_||\n   \n544\n098\nsss\n"), "{g}");
    }
}
