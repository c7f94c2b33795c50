//! A Prometheus endpoint built in (beyond Redis): `metrics-port` (0, the default: off) opens
//! an HTTP listener on `metrics-bind` (127.0.0.1) answering `GET /metrics` with the text
//! exposition format 0.0.4.
//!
//! The metrics carry redis_exporter's names, so its dashboards and alerts work on a scrape of
//! the server itself: each is read from the INFO text the server would answer at that moment
//! (`info::render` of every section, parsed back into fields), so a metric and its INFO field
//! never disagree. Per-command rows (calls, time, failures, refusals) come from the command
//! table's counters, as INFO commandstats's do, and `redis_commands_latencies_usec` is a
//! histogram per command in power-of-two microsecond buckets (redis_exporter's name and
//! buckets for Redis's LATENCY HISTOGRAM), fed by the durations dispatch measures for
//! commandstats (latency-tracking's per-command histograms, `util::hdr`).
//!
//! One thread accepts, and each exchange runs on a short-lived thread of its own (four at
//! most) with blocking std sockets: a scrape is rare (every few seconds) and must not take
//! a worker from the clients, and a silent scraper, cut off by the socket timeouts, must
//! not hold up the others.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::server::Server;

/// INFO fields exported as gauges: (INFO field, metric name without the `redis_` prefix).
const GAUGES: &[(&str, &str)] = &[
    ("uptime_in_seconds", "uptime_in_seconds"),
    ("process_id", "process_id"),
    ("io_threads_active", "io_threads_active"),
    ("connected_clients", "connected_clients"),
    ("blocked_clients", "blocked_clients"),
    ("tracking_clients", "tracking_clients"),
    ("clients_in_timeout_table", "clients_in_timeout_table"),
    ("maxclients", "max_clients"),
    ("client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes"),
    ("client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes"),
    ("used_memory", "memory_used_bytes"),
    ("used_memory_rss", "memory_used_rss_bytes"),
    ("used_memory_peak", "memory_used_peak_bytes"),
    ("used_memory_lua", "memory_used_lua_bytes"),
    ("used_memory_vm_eval", "memory_used_vm_eval_bytes"),
    ("used_memory_scripts_eval", "memory_used_scripts_eval_bytes"),
    ("used_memory_overhead", "memory_used_overhead_bytes"),
    ("used_memory_startup", "memory_used_startup_bytes"),
    ("used_memory_dataset", "memory_used_dataset_bytes"),
    ("mem_clients_slaves", "mem_clients_slaves"),
    ("mem_clients_normal", "mem_clients_normal"),
    ("total_system_memory", "total_system_memory_bytes"),
    ("maxmemory", "memory_max_bytes"),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio"),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes"),
    ("allocator_allocated", "allocator_allocated_bytes"),
    ("allocator_active", "allocator_active_bytes"),
    ("allocator_resident", "allocator_resident_bytes"),
    ("loading", "loading_dump_file"),
    ("async_loading", "async_loading"),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save"),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds"),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec"),
    ("rdb_current_bgsave_time_sec", "rdb_current_bgsave_duration_sec"),
    ("aof_enabled", "aof_enabled"),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled"),
    ("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec"),
    ("aof_current_rewrite_time_sec", "aof_current_rewrite_duration_sec"),
    ("aof_current_size", "aof_current_size_bytes"),
    ("aof_base_size", "aof_base_size_bytes"),
    ("aof_pending_rewrite", "aof_pending_rewrite"),
    ("aof_buffer_length", "aof_buffer_length"),
    ("aof_delayed_fsync", "aof_delayed_fsync"),
    ("pubsub_channels", "pubsub_channels"),
    ("pubsub_patterns", "pubsub_patterns"),
    ("pubsubshard_channels", "pubsubshard_channels"),
    ("latest_fork_usec", "latest_fork_usec"),
    ("instantaneous_ops_per_sec", "instantaneous_ops"),
    ("instantaneous_input_kbps", "instantaneous_input_kbps"),
    ("instantaneous_output_kbps", "instantaneous_output_kbps"),
    ("tracking_total_keys", "tracking_total_keys"),
    ("tracking_total_items", "tracking_total_items"),
    ("tracking_total_prefixes", "tracking_total_prefixes"),
    ("connected_slaves", "connected_slaves"),
    ("repl_backlog_size", "replication_backlog_bytes"),
    ("repl_backlog_active", "repl_backlog_is_active"),
    ("master_repl_offset", "master_repl_offset"),
];

/// INFO fields exported as counters: (INFO field, metric name without `redis_` and `_total`).
const COUNTERS: &[(&str, &str)] = &[
    ("total_connections_received", "connections_received"),
    ("total_commands_processed", "commands_processed"),
    ("rejected_connections", "rejected_connections"),
    ("total_net_input_bytes", "net_input_bytes"),
    ("total_net_output_bytes", "net_output_bytes"),
    ("expired_keys", "expired_keys"),
    ("expired_stale_perc", "expired_stale_perc"),
    ("evicted_keys", "evicted_keys"),
    ("evicted_clients", "evicted_clients"),
    ("keyspace_hits", "keyspace_hits"),
    ("keyspace_misses", "keyspace_misses"),
    ("total_error_replies", "total_error_replies"),
    ("total_reads_processed", "total_reads_processed"),
    ("total_writes_processed", "total_writes_processed"),
    ("total_forks", "total_forks"),
    ("used_cpu_sys", "cpu_sys_seconds"),
    ("used_cpu_user", "cpu_user_seconds"),
    ("used_cpu_sys_children", "cpu_sys_children_seconds"),
    ("used_cpu_user_children", "cpu_user_children_seconds"),
    ("used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds"),
    ("used_cpu_user_main_thread", "cpu_user_main_thread_seconds"),
];

/// INFO fields whose value is a status word: 1 when it reads "ok".
const STATUSES: &[(&str, &str)] = &[
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status"),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status"),
    ("aof_last_write_status", "aof_last_write_status"),
];

/// Labels of redis_instance_info, from INFO fields of the same names.
const INSTANCE_LABELS: &[&str] =
    &["redis_version", "redis_mode", "os", "role", "tcp_port", "run_id", "process_id", "executable", "config_file"];

/// Open the endpoint when `metrics-port` is set. A port that cannot be bound stops the
/// start-up, as Redis's own listening errors do.
pub fn start(srv: &Arc<Server>) -> std::io::Result<()> {
    let (bind, port) = {
        let cfg = srv.config.read();
        (cfg.str("metrics-bind").to_string(), cfg.int("metrics-port"))
    };
    if port == 0 {
        return Ok(());
    }
    let listener = TcpListener::bind((bind.as_str(), port as u16)).map_err(|e| {
        std::io::Error::new(e.kind(), format!("Could not create the metrics listening socket {bind}:{port}: {e}"))
    })?;
    crate::server::log::log(srv, &format!("Metrics endpoint on http://{bind}:{port}/metrics"));
    let srv = srv.clone();
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        let busy = Arc::new(AtomicUsize::new(0));
        for conn in listener.incoming() {
            if srv.shutdown.is_closing() {
                break;
            }
            let Ok(conn) = conn else { continue };
            // A thread per exchange, a few at most: a scraper that connects and says
            // nothing holds its own thread until the timeout, not the endpoint.
            if busy.fetch_add(1, Ordering::AcqRel) >= MAX_EXCHANGES {
                busy.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let (server, done) = (srv.clone(), busy.clone());
            let spawned = std::thread::Builder::new().name("metrics-http".into()).spawn(move || {
                let _ = serve(&server, conn);
                done.fetch_sub(1, Ordering::AcqRel);
            });
            if spawned.is_err() {
                busy.fetch_sub(1, Ordering::AcqRel);
            }
        }
    })?;
    Ok(())
}

/// Exchanges served at once; connections beyond are closed unanswered.
const MAX_EXCHANGES: usize = 4;

/// One HTTP/1.x exchange, then the connection is closed.
fn serve(srv: &Server, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut req = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && !req.windows(2).any(|w| w == b"\n\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
        if req.len() > 16 * 1024 {
            return respond(&mut conn, "431 Request Header Fields Too Large", "text/plain", "request too large\n");
        }
    }
    let line = req.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = render(srv);
            let body = if method == "HEAD" { String::new() } else { body };
            respond(&mut conn, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body)
        }
        ("GET" | "HEAD", _) => respond(&mut conn, "404 Not Found", "text/plain", "try /metrics\n"),
        _ => respond(&mut conn, "405 Method Not Allowed", "text/plain", "GET /metrics\n"),
    }
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

/// The exposition text: the INFO fields above, the keyspace per database, the command
/// table's rows and histograms, errors by code.
pub fn render(srv: &Server) -> String {
    let figures = {
        // The cron's gate, shared: figures() reads each shard under its own lock briefly.
        let _g = srv.ks.enter(srv.threads);
        let mut access = srv.ks.access_shards(0, &[], crate::keyspace::now_ms());
        access.figures()
    };
    let info = crate::server::info::render(srv, &figures, &[b"everything"]);
    let fields: HashMap<&str, &str> =
        info.split("\r\n").filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once(':')).collect();
    let mut out = String::with_capacity(16 * 1024);
    family(&mut out, "redis_up", "gauge", "Information about the Redis instance");
    out.push_str("redis_up 1\n");
    let labels: Vec<String> =
        INSTANCE_LABELS.iter().map(|l| format!("{l}=\"{}\"", escape(fields.get(l).copied().unwrap_or("")))).collect();
    family(&mut out, "redis_instance_info", "gauge", "Information about the Redis instance");
    let _ = writeln!(out, "redis_instance_info{{{}}} 1", labels.join(","));
    family(&mut out, "redis_start_time_seconds", "gauge", "Start time of the Redis instance since unix epoch");
    let _ = writeln!(out, "redis_start_time_seconds {}", srv.started_unix_ms / 1000);
    for (field, name) in GAUGES {
        if let Some(v) = fields.get(field).and_then(|v| number(v)) {
            let metric = format!("redis_{name}");
            family(&mut out, &metric, "gauge", &format!("INFO {field}"));
            let _ = writeln!(out, "{metric} {v}");
        }
    }
    for (field, name) in STATUSES {
        if let Some(v) = fields.get(field) {
            let metric = format!("redis_{name}");
            family(&mut out, &metric, "gauge", &format!("INFO {field} (1: ok)"));
            let _ = writeln!(out, "{metric} {}", (*v == "ok") as u8);
        }
    }
    for (field, name) in COUNTERS {
        if let Some(v) = fields.get(field).and_then(|v| number(v)) {
            let metric = format!("redis_{name}_total");
            family(&mut out, &metric, "counter", &format!("INFO {field}"));
            let _ = writeln!(out, "{metric} {v}");
        }
    }
    keyspace(&mut out, &figures);
    commands(&mut out, srv);
    family(&mut out, "redis_errors_total", "counter", "Error replies by error code (INFO errorstats)");
    for (code, n) in srv.error_stats.lock().iter() {
        let _ = writeln!(out, "redis_errors_total{{err=\"{}\"}} {n}", escape(code));
    }
    out
}

fn keyspace(out: &mut String, figures: &crate::keyspace::Figures) {
    family(out, "redis_db_keys", "gauge", "Total number of keys by DB");
    for (db, (keys, _)) in figures.dbs.iter().enumerate() {
        let _ = writeln!(out, "redis_db_keys{{db=\"db{db}\"}} {keys}");
    }
    family(out, "redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB");
    for (db, (_, expires)) in figures.dbs.iter().enumerate() {
        let _ = writeln!(out, "redis_db_keys_expiring{{db=\"db{db}\"}} {expires}");
    }
    family(out, "redis_db_avg_ttl_seconds", "gauge", "Avg TTL in seconds");
    for (db, ttl) in figures.avg_ttls.iter().enumerate() {
        if figures.dbs.get(db).is_some_and(|d| d.0 > 0) {
            let _ = writeln!(out, "redis_db_avg_ttl_seconds{{db=\"db{db}\"}} {}", *ttl as f64 / 1000.0);
        }
    }
}

/// INFO commandstats's rows as redis_exporter names them, and the latency histograms.
fn commands(out: &mut String, srv: &Server) {
    let rows = srv.commands.with_stats();
    let each = |out: &mut String, name: &str, kind: &str, help: &str, value: &dyn Fn(&Cmd) -> String| {
        family(out, name, kind, help);
        for c in &rows {
            let _ = writeln!(out, "{name}{{cmd=\"{}\"}} {}", escape(c.def.name), value(c));
        }
    };
    each(out, "redis_commands_total", "counter", "Total number of calls per command", &|c| c.calls.get().to_string());
    each(
        out,
        "redis_commands_duration_seconds_total",
        "counter",
        "Total amount of time in seconds spent per command",
        &|c| (c.usec.get() as f64 / 1e6).to_string(),
    );
    each(
        out,
        "redis_commands_rejected_calls_total",
        "counter",
        "Total number of errors prior command execution per command",
        &|c| c.rejected_calls.get().to_string(),
    );
    each(
        out,
        "redis_commands_failed_calls_total",
        "counter",
        "Total number of errors within command execution per command",
        &|c| c.failed_calls.get().to_string(),
    );
    family(out, "redis_commands_latencies_usec", "histogram", "A histogram of latencies per command");
    for c in &rows {
        if let Some((counts, total)) = c.hist.merged() {
            histogram(out, c.def.name, &counts, total, c.usec.get());
        }
    }
}

type Cmd = crate::command::table::Command;

/// Bucket bounds: at most 1, 2, 4, ... 2^20 microseconds, then +Inf.
const BUCKETS: u32 = 21;

/// A command's latency-tracking histogram (`util::hdr`, nanosecond counters) as cumulative
/// power-of-two microsecond buckets: a counter goes in the first bucket its lowest value
/// fits under.
fn histogram(out: &mut String, cmd: &str, counts: &[u64], total: u64, sum_usec: u64) {
    let cmd = escape(cmd);
    let mut per_bucket = [0u64; BUCKETS as usize];
    for (i, &n) in counts.iter().enumerate() {
        if n > 0 {
            let us = crate::util::hdr::value_at(i) / 1000;
            let b = if us <= 1 { 0 } else { 64 - (us - 1).leading_zeros() };
            if b < BUCKETS {
                per_bucket[b as usize] += n;
            }
        }
    }
    let mut cumulative = 0;
    for (i, n) in per_bucket.iter().enumerate() {
        cumulative += n;
        let _ =
            writeln!(out, "redis_commands_latencies_usec_bucket{{cmd=\"{cmd}\",le=\"{}\"}} {cumulative}", 1u64 << i);
    }
    let _ = writeln!(out, "redis_commands_latencies_usec_bucket{{cmd=\"{cmd}\",le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "redis_commands_latencies_usec_sum{{cmd=\"{cmd}\"}} {sum_usec}");
    let _ = writeln!(out, "redis_commands_latencies_usec_count{{cmd=\"{cmd}\"}} {total}");
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A sample value: INFO's numbers as they are (integers or decimals); None for text.
fn number(v: &str) -> Option<&str> {
    v.parse::<f64>().ok().filter(|f| f.is_finite()).map(|_| v)
}

/// A label value in the exposition format: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(super::number("1.5"), Some("1.5"));
        assert_eq!(super::number("ok"), None);
    }
}
