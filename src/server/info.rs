//! INFO: Redis's sections and field names, so dashboards, exporters and redis-py's
//! `info()` parse our output unchanged.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::command::{CmdResult, Ctx};
use crate::keyspace::{now_ms, Figures};
use crate::server::Server;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];
/// The order Redis prints sections in, whatever order they were asked in.
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
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
fn allocator_bytes() -> (u64, u64, u64) {
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

fn section(srv: &Server, figures: &Figures, name: &str, out: &mut String) {
    let now = now_ms();
    let uptime = srv.started.elapsed().as_secs();
    match name {
        "server" => {
            let cfg = srv.config.read();
            let _ = write!(
                out,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\ncinnabar_version:{}\r\ncinnabar_threads:{}\r\n",
                crate::REDIS_VERSION,
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                srv.run_id,
                srv.tcp_port,
                now * 1000,
                uptime,
                uptime / 86400,
                cfg.int("hz"),
                cfg.int("hz"),
                (now / 1000) & ((1 << 24) - 1),
                srv.executable,
                srv.config_file,
                env!("CARGO_PKG_VERSION"),
                srv.threads,
            );
        }
        "clients" => {
            // The biggest unparsed input and pending output among the clients now (Redis
            // keeps the peak of the last seconds; both are 0 for idle clients).
            let (n, max_in, max_out) = {
                let clients = srv.clients.lock();
                let max_in = clients.values().map(|h| h.qbuf.load(Ordering::Relaxed)).max();
                let max_out = clients.values().map(|h| h.pending_output()).max();
                (clients.len(), max_in.unwrap_or(0), max_out.unwrap_or(0))
            };
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{n}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{max_in}\r\nclient_recent_max_output_buffer:{max_out}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:0\r\n",
                srv.maxclients.load(Ordering::Relaxed),
                srv.blocked_clients.load(Ordering::Relaxed).max(0),
                srv.tracking.figures().0,
                figures.blocking_keys,
            );
        }
        "memory" => {
            let (used, active, resident) = allocator_bytes();
            let peak = note_peak(used);
            let rss = rss_bytes();
            let system = total_system_memory();
            let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            let diff = |a: u64, b: u64| a as i64 - b as i64;
            let clients_normal: u64 = {
                let clients = srv.clients.lock();
                clients.values().map(|h| h.qbuf.load(Ordering::Relaxed) + h.pending_output()).sum()
            };
            // Redis's used_memory_overhead: the memory at startup, clients' buffers, the
            // script caches and the keyspace's own structure; the rest is the dataset.
            let startup = STARTUP.load(Ordering::Relaxed);
            let lua = crate::server::scripting::memory(srv);
            let overhead =
                startup + clients_normal + lua.scripts_bytes + lua.functions_bytes + figures.table_bytes as u64;
            let dataset = used.saturating_sub(overhead);
            let cfg = srv.config.read();
            let maxmemory = cfg.int("maxmemory") as u64;
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{active}\r\nallocator_resident:{resident}\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\n",
                human(used),
                human(rss),
                human(peak),
                ratio(used * 100, peak),
                ratio(dataset * 100, used.saturating_sub(startup).max(1)),
                human(system),
            );
            let vm_total = lua.vm_eval + lua.vm_functions;
            let scripts_total = lua.scripts_bytes + lua.functions_bytes;
            let _ = write!(
                out,
                "used_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{}\r\nused_memory_scripts:{scripts_total}\r\nused_memory_scripts_human:{}\r\n",
                lua.vm_eval,
                lua.vm_eval,
                human(lua.vm_eval),
                lua.scripts_bytes,
                lua.scripts,
                lua.functions,
                lua.libraries,
                lua.vm_functions,
                human(vm_total),
                lua.functions_bytes,
                human(scripts_total),
            );
            let _ = write!(
                out,
                "maxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{clients_normal}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
                human(maxmemory),
                cfg.str("maxmemory-policy"),
                ratio(active, used),
                diff(active, used),
                ratio(resident, active),
                diff(resident, active),
                ratio(rss, resident),
                diff(rss, resident),
                ratio(rss, used),
                diff(rss, used),
                crate::types::generic::LAZYFREE_PENDING.load(Ordering::Relaxed),
                crate::types::generic::LAZYFREED.load(Ordering::Relaxed),
            );
        }
        "persistence" => {
            let _ = write!(
                out,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
                srv.ks.dirty.get(),
                srv.lastsave_unix.load(Ordering::Relaxed),
            );
        }
        "stats" => {
            let ks = figures.stats;
            let pubsub = srv.pubsub.counts();
            let s = &srv.stats;
            let cmds = s.commands.get();
            let tracking = srv.tracking.figures();
            let [ops, input, output] = s.instantaneous.lock().map(|m| m.per_sec());
            let (stale_perc, expire_ms) = {
                let e = srv.ks.expire_stats.lock();
                (e.stale_perc * 100.0, e.cpu_us / 1000)
            };
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{cmds}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nclient_query_buffer_limit_disconnections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
                s.connections.get(),
                ops,
                s.net_input_bytes.get(),
                s.net_output_bytes.get(),
                input as f64 / 1024.0,
                output as f64 / 1024.0,
                s.rejected_connections.get(),
                ks.expired,
                stale_perc,
                expire_ms,
                ks.hits,
                ks.misses,
                pubsub.0,
                pubsub.1,
                pubsub.2,
                tracking.1,
                tracking.2,
                tracking.3,
                srv.error_stats.lock().values().sum::<u64>(),
                s.reads.get(),
                s.writes.get(),
                s.query_buffer_disconnections.get(),
                s.output_buffer_disconnections.get(),
            );
        }
        "replication" => {
            let _ = write!(
                out,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                srv.run_id
            );
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            let _ = write!(
                out,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
            );
        }
        "modules" => out.push_str("# Modules\r\n"),
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (code, n) in srv.error_stats.lock().iter() {
                let _ = write!(out, "errorstat_{code}:count={n}\r\n");
            }
        }
        "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for (db, &(keys, expires)) in figures.dbs.iter().enumerate() {
                if keys > 0 {
                    let avg_ttl = figures.avg_ttls.get(db).copied().unwrap_or(0);
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n");
                }
            }
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            let mut rows: Vec<_> = srv.commands.iter().filter(|c| c.calls.get() > 0).collect();
            rows.sort_by_key(|c| c.def.name);
            for c in rows {
                let calls = c.calls.get();
                let usec = c.usec.get();
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    c.def.name,
                    usec as f64 / calls as f64,
                    c.rejected_calls.get(),
                    c.failed_calls.get()
                );
            }
        }
        "latencystats" => out.push_str("# Latencystats\r\n"),
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
    if requested.is_empty() {
        DEFAULT.iter().for_each(|n| add(n, &mut names));
    }
    for r in requested {
        let r = String::from_utf8_lossy(r).to_ascii_lowercase();
        match r.as_str() {
            "default" => DEFAULT.iter().for_each(|n| add(n, &mut names)),
            "all" | "everything" => DEFAULT.iter().chain(ALL_EXTRA).for_each(|n| add(n, &mut names)),
            other => {
                if let Some(n) = DEFAULT.iter().chain(ALL_EXTRA).find(|n| **n == other) {
                    add(n, &mut names);
                }
            }
        }
    }
    names.sort_by_key(|n| ORDER.iter().position(|o| o == n));
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
