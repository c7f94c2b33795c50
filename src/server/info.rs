//! INFO: Redis's sections and field names, so dashboards, exporters and redis-py's
//! `info()` parse our output unchanged.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::command::{CmdResult, Ctx};
use crate::keyspace::{now_ms, Figures};
use crate::server::Server;

/// Every section, in the order Redis prints them whatever order they were asked in; `true`
/// for those INFO shows by default (the others come with "all" / "everything" or by name).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Resident set size in bytes, from /proc.
pub fn rss_bytes() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|p| p * page)
        .unwrap_or(0)
}

/// jemalloc's allocated (used_memory), active and resident bytes, after refreshing its
/// statistics.
pub(crate) fn allocator_bytes() -> (u64, u64, u64) {
    use tikv_jemalloc_ctl::stats;
    let _ = tikv_jemalloc_ctl::epoch::advance();
    let read = |r: tikv_jemalloc_ctl::Result<usize>| r.unwrap_or(0) as u64;
    (read(stats::allocated::read()), read(stats::active::read()), read(stats::resident::read()))
}

/// The machine's memory (/proc/meminfo's MemTotal), as total_system_memory.
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// used_memory_startup: what was allocated once the server was set up, before clients.
static STARTUP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// used_memory now (RDB's used-mem aux field).
pub fn used_memory() -> u64 {
    allocator_bytes().0
}

pub fn record_startup_memory() {
    STARTUP.store(allocator_bytes().0, Ordering::Relaxed);
}

/// used_memory_peak: the most `allocated_bytes` seen by the cron (every 100 ms) or by INFO
/// (which also raises it, as Redis does, so the peak is never below the current figure).
static PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Record the bytes allocated now in the peak; the peak.
pub fn sample_used_memory() -> u64 {
    note_peak(allocator_bytes().0)
}

fn note_peak(used: u64) -> u64 {
    PEAK.fetch_max(used, Ordering::Relaxed).max(used)
}

/// CONFIG RESETSTAT: the peak starts over (from the next sample), as in Redis.
pub fn reset_peak() {
    PEAK.store(0, Ordering::Relaxed);
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

fn cpu_times() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

/// One section of INFO being written: its header, then one `name:value` line per field, in
/// Redis 7.2's order. Fields are named one by one so that a feature (persistence,
/// replication) can make its fields live without touching the others.
struct Section<'o> {
    out: &'o mut String,
}

impl<'o> Section<'o> {
    fn new(out: &'o mut String, title: &str) -> Section<'o> {
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
        Section { out }
    }

    fn field(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.out, "{name}:{value}\r\n");
        self
    }
}

/// A figure with two decimals (Redis's "%.2f").
struct F2(f64);

impl std::fmt::Display for F2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

/// A percentage with two decimals and its sign ("%.2f%%").
struct Percent(f64);

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}%", self.0)
    }
}

/// CPU seconds with six decimals ("%ld.%06ld").
struct Secs(f64);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.6}", self.0)
    }
}

fn server_section(srv: &Server, out: &mut String) {
    let now = now_ms();
    let uptime = srv.started.elapsed().as_secs();
    let cfg = srv.config.read();
    let hz = cfg.int("hz");
    let port = cfg.int("port");
    let mut s = Section::new(out, "Server");
    s.field("redis_version", crate::REDIS_VERSION)
        .field("redis_git_sha1", "00000000")
        .field("redis_git_dirty", 0)
        .field("redis_build_id", 0)
        .field("redis_mode", "standalone")
        .field("os", format_args!("{} {}", std::env::consts::OS, std::env::consts::ARCH))
        .field("arch_bits", 64)
        .field("monotonic_clock", "POSIX clock_gettime")
        .field("multiplexing_api", "epoll")
        .field("atomicvar_api", "c11-builtin")
        .field("gcc_version", "0.0.0")
        .field("process_id", std::process::id())
        .field("process_supervised", "no")
        .field("run_id", &srv.run_id)
        // (Redis: the TLS port when there is no plain one.)
        .field("tcp_port", if port != 0 { port } else { cfg.int("tls-port") })
        .field("server_time_usec", now * 1000)
        .field("uptime_in_seconds", uptime)
        .field("uptime_in_days", uptime / 86400)
        .field("hz", hz)
        .field("configured_hz", hz)
        .field("lru_clock", (now / 1000) & ((1 << 24) - 1))
        .field("executable", &srv.executable)
        .field("config_file", &srv.config_file)
        .field("io_threads_active", 0);
    // Redis's listeners (getListensInfoString), numbered by connection type: tcp 0, unix 1,
    // tls 2.
    let on_port = |name: &str, port: i64| {
        let mut line = format!("name={name}");
        for addr in cfg.str("bind").split_whitespace() {
            let _ = write!(line, ",bind={addr}");
        }
        let _ = write!(line, ",port={port}");
        line
    };
    if port != 0 {
        s.field("listener0", on_port("tcp", port));
    }
    let unix = cfg.str("unixsocket");
    if !unix.is_empty() {
        s.field("listener1", format_args!("name=unix,bind={unix}"));
    }
    let tls_port = cfg.int("tls-port");
    if tls_port != 0 {
        s.field("listener2", on_port("tls", tls_port));
    }
    // cinnabar's own, after Redis's fields.
    s.field("cinnabar_version", env!("CARGO_PKG_VERSION")).field("cinnabar_threads", srv.threads);
}

fn clients_section(srv: &Server, figures: &Figures, out: &mut String) {
    // The biggest unparsed input and pending output among the clients now (Redis keeps the
    // peak of the last seconds; both are 0 for idle clients).
    let (n, max_in, max_out) = {
        let clients = srv.clients.lock();
        let max_in = clients.values().map(|h| h.qbuf.load(Ordering::Relaxed)).max();
        let max_out = clients.values().map(|h| h.pending_output()).max();
        (clients.len(), max_in.unwrap_or(0), max_out.unwrap_or(0))
    };
    Section::new(out, "Clients")
        .field("connected_clients", n)
        .field("cluster_connections", 0)
        .field("maxclients", srv.maxclients.load(Ordering::Relaxed))
        .field("client_recent_max_input_buffer", max_in)
        .field("client_recent_max_output_buffer", max_out)
        .field("blocked_clients", srv.blocked_clients.load(Ordering::Relaxed).max(0))
        .field("tracking_clients", srv.tracking.figures().0)
        .field("clients_in_timeout_table", 0)
        .field("total_blocking_keys", figures.blocking_keys)
        .field("total_blocking_keys_on_nokey", 0);
}

/// The memory figures INFO memory and MEMORY STATS / DOCTOR share (Redis's
/// getMemoryOverheadData).
pub struct MemoryFigures {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
    pub clients: usize,
    pub clients_normal: u64,
    pub lua: crate::server::scripting::Memory,
    /// Redis's used_memory_overhead: the memory at startup, clients' buffers, the script
    /// caches and the keyspace's own structure; the rest of `used` is the dataset.
    pub overhead: u64,
    pub dataset: u64,
}

pub fn memory_figures(srv: &Server, figures: &Figures) -> MemoryFigures {
    let (used, active, resident) = allocator_bytes();
    let (clients, clients_normal) = {
        let clients = srv.clients.lock();
        let bytes = clients.values().map(|h| h.qbuf.load(Ordering::Relaxed) + h.pending_output()).sum();
        (clients.len(), bytes)
    };
    let startup = STARTUP.load(Ordering::Relaxed);
    let lua = crate::server::scripting::memory(srv);
    let overhead = startup + clients_normal + lua.scripts_bytes + lua.functions_bytes + figures.table_bytes as u64;
    MemoryFigures {
        used,
        peak: note_peak(used),
        startup,
        active,
        resident,
        rss: rss_bytes(),
        clients,
        clients_normal,
        lua,
        overhead,
        dataset: used.saturating_sub(overhead),
    }
}

fn memory_section(srv: &Server, figures: &Figures, out: &mut String) {
    let m = memory_figures(srv, figures);
    let MemoryFigures { used, peak, startup, active, resident, rss, clients_normal, overhead, dataset, .. } = m;
    let lua = m.lua;
    let system = total_system_memory();
    let ratio = |a: u64, b: u64| F2(if b > 0 { a as f64 / b as f64 } else { 0.0 });
    let percent = |a: u64, b: u64| Percent(if b > 0 { a as f64 / b as f64 } else { 0.0 });
    let diff = |a: u64, b: u64| a as i64 - b as i64;
    let cfg = srv.config.read();
    let maxmemory = cfg.int("maxmemory") as u64;
    let vm_total = lua.vm_eval + lua.vm_functions;
    let scripts_total = lua.scripts_bytes + lua.functions_bytes;
    Section::new(out, "Memory")
        .field("used_memory", used)
        .field("used_memory_human", human(used))
        .field("used_memory_rss", rss)
        .field("used_memory_rss_human", human(rss))
        .field("used_memory_peak", peak)
        .field("used_memory_peak_human", human(peak))
        .field("used_memory_peak_perc", percent(used * 100, peak))
        .field("used_memory_overhead", overhead)
        .field("used_memory_startup", startup)
        .field("used_memory_dataset", dataset)
        .field("used_memory_dataset_perc", percent(dataset * 100, used.saturating_sub(startup).max(1)))
        .field("allocator_allocated", used)
        .field("allocator_active", active)
        .field("allocator_resident", resident)
        .field("total_system_memory", system)
        .field("total_system_memory_human", human(system))
        .field("used_memory_lua", lua.vm_eval)
        .field("used_memory_vm_eval", lua.vm_eval)
        .field("used_memory_lua_human", human(lua.vm_eval))
        .field("used_memory_scripts_eval", lua.scripts_bytes)
        .field("number_of_cached_scripts", lua.scripts)
        .field("number_of_functions", lua.functions)
        .field("number_of_libraries", lua.libraries)
        .field("used_memory_vm_functions", lua.vm_functions)
        .field("used_memory_vm_total", vm_total)
        .field("used_memory_vm_total_human", human(vm_total))
        .field("used_memory_functions", lua.functions_bytes)
        .field("used_memory_scripts", scripts_total)
        .field("used_memory_scripts_human", human(scripts_total))
        .field("maxmemory", maxmemory)
        .field("maxmemory_human", human(maxmemory))
        .field("maxmemory_policy", cfg.str("maxmemory-policy"))
        .field("allocator_frag_ratio", ratio(active, used))
        .field("allocator_frag_bytes", diff(active, used))
        .field("allocator_rss_ratio", ratio(resident, active))
        .field("allocator_rss_bytes", diff(resident, active))
        .field("rss_overhead_ratio", ratio(rss, resident))
        .field("rss_overhead_bytes", diff(rss, resident))
        .field("mem_fragmentation_ratio", ratio(rss, used))
        .field("mem_fragmentation_bytes", diff(rss, used))
        .field("mem_not_counted_for_evict", super::evict::not_counted(srv))
        .field("mem_replication_backlog", 0)
        .field("mem_total_replication_buffers", 0)
        .field("mem_clients_slaves", 0)
        .field("mem_clients_normal", clients_normal)
        .field("mem_cluster_links", 0)
        .field("mem_aof_buffer", 0)
        .field("mem_allocator", "jemalloc-5.3.0")
        .field("active_defrag_running", 0)
        .field("lazyfree_pending_objects", crate::data::lazyfree::PENDING.load(Ordering::Relaxed))
        .field("lazyfreed_objects", crate::data::lazyfree::FREED.load(Ordering::Relaxed));
}

/// The RDB fields come from server::save, the AOF's from persist::aof
/// (`Aof::info_status`, and `info_sizes` with the AOF on).
fn persistence_section(srv: &Server, out: &mut String) {
    let (rdb, loading) = crate::server::save::info_fields(srv);
    let mut section = Section::new(out, "Persistence");
    for (name, value) in rdb {
        section.field(name, value);
    }
    srv.aof.info_status(section.out);
    section.field("module_fork_in_progress", 0).field("module_fork_last_cow_size", 0);
    srv.aof.info_sizes(section.out);
    for (name, value) in loading {
        section.field(name, value);
    }
}

fn stats_section(srv: &Server, figures: &Figures, out: &mut String) {
    let ks = figures.stats;
    let pubsub = srv.pubsub.counts();
    let s = &srv.stats;
    let tracking = srv.tracking.figures();
    let [ops, input, output] = s.instantaneous.lock().map(|m| m.per_sec());
    let (stale_perc, expire_ms) = {
        let e = srv.ks.expire_stats.lock();
        (e.stale_perc * 100.0, e.cpu_us / 1000)
    };
    let exceeded = srv.evict.exceeded_times();
    Section::new(out, "Stats")
        .field("total_connections_received", s.connections.get())
        .field("total_commands_processed", s.commands.get())
        .field("instantaneous_ops_per_sec", ops)
        .field("total_net_input_bytes", s.net_input_bytes.get())
        .field("total_net_output_bytes", s.net_output_bytes.get())
        .field("total_net_repl_input_bytes", 0)
        .field("total_net_repl_output_bytes", 0)
        .field("instantaneous_input_kbps", F2(input as f64 / 1024.0))
        .field("instantaneous_output_kbps", F2(output as f64 / 1024.0))
        .field("instantaneous_input_repl_kbps", "0.00")
        .field("instantaneous_output_repl_kbps", "0.00")
        .field("rejected_connections", s.rejected_connections.get())
        .field("sync_full", 0)
        .field("sync_partial_ok", 0)
        .field("sync_partial_err", 0)
        .field("expired_keys", ks.expired)
        .field("expired_stale_perc", F2(stale_perc))
        .field("expired_time_cap_reached_count", 0)
        .field("expire_cycle_cpu_milliseconds", expire_ms)
        .field("evicted_keys", srv.evict.evicted.load(Ordering::Relaxed))
        .field("evicted_clients", s.evicted_clients.get())
        .field("total_eviction_exceeded_time", exceeded.0)
        .field("current_eviction_exceeded_time", exceeded.1)
        .field("keyspace_hits", ks.hits)
        .field("keyspace_misses", ks.misses)
        .field("pubsub_channels", pubsub.0)
        .field("pubsub_patterns", pubsub.1)
        .field("pubsubshard_channels", pubsub.2)
        .field("latest_fork_usec", 0)
        .field("total_forks", 0)
        .field("migrate_cached_sockets", 0)
        .field("slave_expires_tracked_keys", 0)
        .field("active_defrag_hits", 0)
        .field("active_defrag_misses", 0)
        .field("active_defrag_key_hits", 0)
        .field("active_defrag_key_misses", 0)
        .field("total_active_defrag_time", 0)
        .field("current_active_defrag_time", 0)
        .field("tracking_total_keys", tracking.1)
        .field("tracking_total_items", tracking.2)
        .field("tracking_total_prefixes", tracking.3)
        .field("unexpected_error_replies", 0)
        .field("total_error_replies", srv.error_stats.lock().values().sum::<u64>())
        .field("dump_payload_sanitizations", 0)
        .field("total_reads_processed", s.reads.get())
        .field("total_writes_processed", s.writes.get())
        .field("io_threaded_reads_processed", 0)
        .field("io_threaded_writes_processed", 0)
        // Fields of later Redis versions (7.4), where they sit.
        .field("client_query_buffer_limit_disconnections", s.query_buffer_disconnections.get())
        .field("client_output_buffer_limit_disconnections", s.output_buffer_disconnections.get())
        .field("reply_buffer_shrinks", 0)
        .field("reply_buffer_expands", 0)
        // No event loop to measure (tokio's workers run the connections), no ACL yet.
        .field("eventloop_cycles", 0)
        .field("eventloop_duration_sum", 0)
        .field("eventloop_duration_cmd_sum", 0)
        .field("instantaneous_eventloop_cycles_per_sec", 0)
        .field("instantaneous_eventloop_duration_usec", 0)
        .field("acl_access_denied_auth", srv.acl.denied_auth.load(Ordering::Relaxed))
        .field("acl_access_denied_cmd", srv.acl.denied_cmd.load(Ordering::Relaxed))
        .field("acl_access_denied_key", srv.acl.denied_key.load(Ordering::Relaxed))
        .field("acl_access_denied_channel", srv.acl.denied_channel.load(Ordering::Relaxed));
}

/// The replication ID once DEBUG CHANGE-REPL-ID has drawn a new one (the run id until then).
static REPLID: parking_lot::Mutex<Option<String>> = parking_lot::Mutex::new(None);

/// DEBUG CHANGE-REPL-ID: a new random replication ID (and no previous one to keep, as
/// Redis's clearReplicationId2 after changeReplicationId).
pub fn change_repl_id() {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let id: String = (0..40).map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0')).collect();
    *REPLID.lock() = Some(id);
}

/// ROLE: a master without replicas until replication exists, at offset 0.
pub fn role(ctx: &mut Ctx) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}

/// Static until replication exists: a master without replicas or backlog.
fn replication_section(srv: &Server, out: &mut String) {
    let replid = REPLID.lock().clone().unwrap_or_else(|| srv.run_id.clone());
    let mut s = Section::new(out, "Replication");
    s.field("role", "master").field("connected_slaves", 0);
    if let Some(good) = crate::server::save::good_replicas_field(srv) {
        s.field("min_slaves_good_slaves", good);
    }
    s.field("master_failover_state", "no-failover")
        .field("master_replid", replid)
        .field("master_replid2", "0000000000000000000000000000000000000000")
        .field("master_repl_offset", 0)
        .field("second_repl_offset", -1)
        .field("repl_backlog_active", 0)
        .field("repl_backlog_size", 1048576)
        .field("repl_backlog_first_byte_offset", 0)
        .field("repl_backlog_histlen", 0);
}

fn cpu_section(out: &mut String) {
    let (sys, user) = cpu_times();
    Section::new(out, "CPU")
        .field("used_cpu_sys", Secs(sys))
        .field("used_cpu_user", Secs(user))
        .field("used_cpu_sys_children", "0.000000")
        .field("used_cpu_user_children", "0.000000")
        .field("used_cpu_sys_main_thread", Secs(sys))
        .field("used_cpu_user_main_thread", Secs(user));
}

/// The commands called so far, by name (Redis lists them in its command table's order).
fn called(srv: &Server) -> Vec<&crate::command::table::Command> {
    let mut rows: Vec<_> = srv.commands.iter().filter(|c| c.calls.get() > 0).collect();
    rows.sort_by_key(|c| c.def.name);
    rows
}

fn commandstats_section(srv: &Server, out: &mut String) {
    let mut s = Section::new(out, "Commandstats");
    let rows = srv.commands.with_stats();
    for c in rows {
        let (calls, usec) = (c.calls.get(), c.usec.get());
        s.field(
            &format!("cmdstat_{}", c.def.name),
            format_args!(
                "calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                if calls == 0 { 0.0 } else { usec as f64 / calls as f64 },
                c.rejected_calls.get(),
                c.failed_calls.get()
            ),
        );
    }
}

/// Redis's per-command latency percentiles (latency-tracking): each command whose
/// histogram counted a call, the percentiles of latency-tracking-info-percentiles.
fn latencystats_section(srv: &Server, out: &mut String) {
    let mut s = Section::new(out, "Latencystats");
    let (on, percentiles) = {
        let cfg = srv.config.read();
        (cfg.bool("latency-tracking"), cfg.render("latency-tracking-info-percentiles"))
    };
    if !on {
        return;
    }
    for c in called(srv) {
        if let Some((counts, total)) = c.hist.merged() {
            let line = crate::server::latency::percentiles_line(&counts, total, &percentiles);
            s.field(&format!("latency_percentiles_usec_{}", c.def.name), line);
        }
    }
}

fn section(srv: &Server, figures: &Figures, name: &str, out: &mut String) {
    match name {
        "server" => server_section(srv, out),
        "clients" => clients_section(srv, figures, out),
        "memory" => memory_section(srv, figures, out),
        "persistence" => persistence_section(srv, out),
        "stats" => stats_section(srv, figures, out),
        "replication" => replication_section(srv, out),
        "cpu" => cpu_section(out),
        "modules" => {
            Section::new(out, "Modules");
        }
        "errorstats" => {
            let mut s = Section::new(out, "Errorstats");
            for (code, n) in srv.error_stats.lock().iter() {
                // As Redis's getSafeInfoString: an error code can hold anything a script put
                // in its error (CR and LF too, since 7.2 replies a script's error raw), and
                // must not break INFO's lines.
                let safe = code.replace(['#', ':', '\r', '\n'], "_");
                s.field(&format!("errorstat_{safe}"), format_args!("count={n}"));
            }
        }
        "cluster" => {
            Section::new(out, "Cluster").field("cluster_enabled", 0);
        }
        "keyspace" => {
            let mut s = Section::new(out, "Keyspace");
            for (db, &(keys, expires)) in figures.dbs.iter().enumerate() {
                if keys > 0 {
                    let avg_ttl = figures.avg_ttls.get(db).copied().unwrap_or(0);
                    s.field(&format!("db{db}"), format_args!("keys={keys},expires={expires},avg_ttl={avg_ttl}"));
                }
            }
        }
        "commandstats" => commandstats_section(srv, out),
        "latencystats" => latencystats_section(srv, out),
        _ => {}
    }
}

pub fn render(srv: &Server, figures: &Figures, requested: &[&[u8]]) -> String {
    let mut names: Vec<&str> = Vec::new();
    let add = |n: &'static str, names: &mut Vec<&str>| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    let default = || SECTIONS.iter().filter(|s| s.1).map(|s| s.0);
    if requested.is_empty() {
        default().for_each(|n| add(n, &mut names));
    }
    for r in requested {
        let r = String::from_utf8_lossy(r).to_ascii_lowercase();
        match r.as_str() {
            "default" => default().for_each(|n| add(n, &mut names)),
            "all" | "everything" => SECTIONS.iter().for_each(|s| add(s.0, &mut names)),
            other => {
                if let Some(s) = SECTIONS.iter().find(|s| s.0 == other) {
                    add(s.0, &mut names);
                }
            }
        }
    }
    names.sort_by_key(|n| SECTIONS.iter().position(|s| s.0 == *n));
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(srv, figures, n, &mut out);
    }
    out
}

pub fn info(ctx: &mut Ctx) -> CmdResult {
    let figures = ctx.ks.figures();
    let text = render(ctx.srv, &figures, &ctx.args[1..]);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}
