//! The server: shared state (config, keyspace, command table, client registry, statistics),
//! start-up (config file and `--name value` options, as redis-server takes them) and the
//! cron thread (active expiry, background rehashing, client timeouts).

pub mod acl;
pub mod aof_cmds;
pub mod client;
pub mod config;
pub mod conn;
pub mod debug;
pub mod evict;
pub mod info;
pub mod latency;
pub mod log;
pub mod lolwut;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod pubsub;
pub mod save;
pub mod scripting;
pub mod shutdown;
pub mod slowlog;
pub mod tracking;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::command::table::CommandTable;
use crate::keyspace::{now_ms, Keyspace};
use crate::util::counter::Counter;
use client::ClientHandle;
use config::Config;

/// Shards per database: 2^SHARD_BITS. Enough that a multi-key command (MSET of 10 keys)
/// rarely meets another thread's command on one of its shards, small enough that
/// whole-database operations (DBSIZE, FLUSHDB, RANDOMKEY) stay cheap.
pub const SHARD_BITS: u32 = 8;

/// Server-wide statistics, one cache line per thread each (see `util::counter`).
pub struct Stats {
    pub connections: Counter,
    pub rejected_connections: Counter,
    pub commands: Counter,
    pub rejected_calls: Counter,
    pub net_input_bytes: Counter,
    pub net_output_bytes: Counter,
    /// Clients closed for client-query-buffer-limit / client-output-buffer-limit.
    pub query_buffer_disconnections: Counter,
    pub output_buffer_disconnections: Counter,
    /// Clients closed by maxmemory-clients (evicted_clients).
    pub evicted_clients: Counter,
    /// Reads from and writes to client sockets (total_reads_processed,
    /// total_writes_processed).
    pub reads: Counter,
    pub writes: Counter,
    /// instantaneous_ops_per_sec and instantaneous_input/output_kbps, sampled by the cron.
    pub instantaneous: Mutex<[InstMetric; 3]>,
}

/// A rate as Redis tracks it: a sample every 100 ms (the change of a counter per second
/// since the previous sample), reported as the mean of the last 16.
#[derive(Default, Clone, Copy)]
pub struct InstMetric {
    samples: [u64; 16],
    idx: usize,
    last_ms: i64,
    last_value: u64,
}

impl InstMetric {
    pub fn track(&mut self, now_ms: i64, value: u64) {
        if self.last_ms > 0 {
            let ms = (now_ms - self.last_ms).max(0) as u64;
            let delta = value.saturating_sub(self.last_value);
            self.samples[self.idx] = delta.saturating_mul(1000).checked_div(ms).unwrap_or(0);
            self.idx = (self.idx + 1) % self.samples.len();
        }
        self.last_ms = now_ms;
        self.last_value = value;
    }

    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len() as u64
    }
}

impl Stats {
    fn new(slots: usize) -> Stats {
        Stats {
            connections: Counter::new(slots),
            rejected_connections: Counter::new(slots),
            commands: Counter::new(slots),
            rejected_calls: Counter::new(slots),
            net_input_bytes: Counter::new(slots),
            net_output_bytes: Counter::new(slots),
            query_buffer_disconnections: Counter::new(slots),
            output_buffer_disconnections: Counter::new(slots),
            evicted_clients: Counter::new(slots),
            reads: Counter::new(slots),
            writes: Counter::new(slots),
            instantaneous: Mutex::new([InstMetric::default(); 3]),
        }
    }

    /// The cron's sample of the instantaneous rates (commands, bytes in, bytes out).
    pub fn track_instantaneous(&self, now_ms: i64) {
        let values = [self.commands.get(), self.net_input_bytes.get(), self.net_output_bytes.get()];
        let mut m = self.instantaneous.lock();
        for (metric, value) in m.iter_mut().zip(values) {
            metric.track(now_ms, value);
        }
    }

    fn reset(&self) {
        for c in [
            &self.connections,
            &self.rejected_connections,
            &self.commands,
            &self.rejected_calls,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.query_buffer_disconnections,
            &self.output_buffer_disconnections,
            &self.evicted_clients,
            &self.reads,
            &self.writes,
        ] {
            c.reset();
        }
        *self.instantaneous.lock() = [InstMetric::default(); 3];
    }
}

/// Encoding thresholds of the collection types (the `*-max-listpack-*` family), cached
/// from the configuration so type modules read them without the config lock.
#[derive(Default)]
pub struct TypeLimits {
    pub hash_max_listpack_entries: AtomicI64,
    pub hash_max_listpack_value: AtomicI64,
    pub set_max_intset_entries: AtomicI64,
    pub set_max_listpack_entries: AtomicI64,
    pub set_max_listpack_value: AtomicI64,
    pub zset_max_listpack_entries: AtomicI64,
    pub zset_max_listpack_value: AtomicI64,
    pub list_max_listpack_size: AtomicI64,
    pub list_compress_depth: AtomicI64,
    pub stream_node_max_bytes: AtomicI64,
    pub stream_node_max_entries: AtomicI64,
    pub hll_sparse_max_bytes: AtomicI64,
}

impl TypeLimits {
    fn refresh(&self, cfg: &Config) {
        let pairs: [(&AtomicI64, &str, i64); 12] = [
            (&self.hash_max_listpack_entries, "hash-max-listpack-entries", 512),
            (&self.hash_max_listpack_value, "hash-max-listpack-value", 64),
            (&self.set_max_intset_entries, "set-max-intset-entries", 512),
            (&self.set_max_listpack_entries, "set-max-listpack-entries", 128),
            (&self.set_max_listpack_value, "set-max-listpack-value", 64),
            (&self.zset_max_listpack_entries, "zset-max-listpack-entries", 128),
            (&self.zset_max_listpack_value, "zset-max-listpack-value", 64),
            (&self.list_max_listpack_size, "list-max-listpack-size", -2),
            (&self.list_compress_depth, "list-compress-depth", 0),
            (&self.stream_node_max_bytes, "stream-node-max-bytes", 4096),
            (&self.stream_node_max_entries, "stream-node-max-entries", 100),
            (&self.hll_sparse_max_bytes, "hll-sparse-max-bytes", 3000),
        ];
        for (slot, name, default) in pairs {
            let v = match cfg.get(name) {
                Some(config::Val::Int(v)) => *v,
                _ => default,
            };
            slot.store(v, Ordering::Relaxed);
        }
    }

    pub fn get(slot: &AtomicI64) -> i64 {
        slot.load(Ordering::Relaxed)
    }

    /// The thresholds of a default configuration (Redis's defaults).
    pub fn defaults() -> TypeLimits {
        let l = TypeLimits::default();
        l.refresh(&Config::new());
        l
    }
}

/// CLIENT PAUSE state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseMode {
    Write,
    All,
}

pub struct Server {
    pub config: RwLock<Config>,
    pub ks: Keyspace,
    pub commands: CommandTable,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub started: Instant,
    pub started_unix_ms: i64,
    pub run_id: String,
    pub threads: usize,
    pub tcp_port: u16,
    pub config_file: String,
    pub executable: String,
    /// CLIENT PAUSE: deadline (unix ms, 0 = not paused) and mode.
    pub pause_until_ms: AtomicI64,
    pub pause_mode: Mutex<PauseMode>,
    /// Rung when CLIENT PAUSE or UNPAUSE changes the pause: held clients look again.
    pub pause_changed: tokio::sync::Notify,
    /// SIGTERM, SIGINT and SHUTDOWN: the request, and whether clients are being closed.
    pub shutdown: shutdown::Shutdown,
    /// RDB: saves, save points, loading, MISCONF (server::save).
    pub rdb: save::Rdb,
    pub stats_reset_ms: AtomicI64,
    // Hot configuration, cached so the request path does not read the config lock.
    /// ACL users (requirepass is the default user's password).
    pub acl: acl::Acl,
    pub maxclients: AtomicU64,
    pub timeout_secs: AtomicU64,
    pub proto_max_bulk_len: AtomicI64,
    pub query_buffer_limit: AtomicU64,
    /// busy-reply-threshold (lua-time-limit), read by every script run.
    pub busy_threshold_ms: AtomicI64,
    pub limits: TypeLimits,
    /// Clients currently blocked (INFO blocked_clients).
    pub blocked_clients: AtomicI64,
    /// INFO errorstats: error replies by code (the first word), in code order as Redis lists them.
    pub error_stats: Mutex<std::collections::BTreeMap<String, u64>>,
    /// LFU policy in force: (lfu-log-factor << 32 | lfu-decay-time) + flag bit 63; 0 = LRU.
    pub lfu: AtomicU64,
    /// Lua: the script cache, functions, the running script's state.
    pub scripting: scripting::Scripting,
    pub pubsub: pubsub::PubSub,
    pub monitors: pubsub::Monitors,
    /// Per worker: receivers pushed to from other threads, woken by the worker itself
    /// (`pubsub::WorkerWakes`).
    pub worker_wakes: Box<[pubsub::WorkerWakes]>,
    pub tracking: tracking::Tracking,
    /// Where CONFIG SET port / bind sends new listening sockets (net::rebind).
    pub rebind: Mutex<Option<tokio::sync::mpsc::UnboundedSender<crate::net::Relisten>>>,
    /// The TLS contexts new connections on tls-port use (net::tls).
    pub tls: crate::net::tls::Tls,
    /// DEBUG SET-ACTIVE-EXPIRE: the cron expires keys in the background.
    pub active_expire: AtomicBool,
    /// MIGRATE's cached connections to its targets.
    pub migrate_sockets: crate::types::migrate::Sockets,
    /// client-output-buffer-limit, pubsub class: (hard bytes, soft bytes, soft seconds).
    pub pubsub_limit: [AtomicI64; 3],
    /// client-output-buffer-limit, normal class.
    pub normal_limit: [AtomicI64; 3],
    /// notify-keyspace-events as flags (`notify`), shared with the keyspace's event hook.
    pub notify_flags: Arc<AtomicU32>,
    /// Where propagated writes go (the AOF; replication later): persist::propagate.
    pub sinks: crate::persist::propagate::Sinks,
    /// The append-only file: its sink, status and rewrite (persist::aof).
    pub aof: crate::persist::aof::Aof,
    /// SLOWLOG (server::slowlog), and what dispatch checks after each call to feed it and
    /// the latency monitor (server::latency).
    pub slowlog: slowlog::SlowLog,
    pub call_watch: latency::CallWatch,
    /// maxmemory and eviction (server::evict).
    pub evict: evict::Eviction,
}

impl Server {
    pub fn new(config: Config, threads: usize, config_file: String) -> Server {
        let databases = config.int("databases").max(1) as usize;
        let port = config.int("port") as u16;
        let mut run_id = String::with_capacity(40);
        for _ in 0..40 {
            run_id.push(char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'));
        }
        let ks = Keyspace::new(databases, SHARD_BITS, threads + 1);
        let tracking = tracking::Tracking::new(ks.tracking.clone());
        let mut commands = CommandTable::build(threads + 2);
        for (from, to) in &config.renames {
            commands.rename(from, to);
        }
        let srv = Server {
            ks,
            stats: Stats::new(threads + 2),
            config: RwLock::new(config),
            commands,
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            started: Instant::now(),
            started_unix_ms: now_ms(),
            run_id,
            threads,
            tcp_port: port,
            config_file,
            executable: std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
            pause_until_ms: AtomicI64::new(0),
            pause_mode: Mutex::new(PauseMode::All),
            pause_changed: tokio::sync::Notify::new(),
            shutdown: shutdown::Shutdown::default(),
            rdb: save::Rdb::default(),
            stats_reset_ms: AtomicI64::new(now_ms()),
            acl: acl::Acl::default(),
            maxclients: AtomicU64::new(10000),
            timeout_secs: AtomicU64::new(0),
            proto_max_bulk_len: AtomicI64::new(512 * 1024 * 1024),
            query_buffer_limit: AtomicU64::new(1 << 30),
            busy_threshold_ms: AtomicI64::new(5000),
            lfu: AtomicU64::new(0),
            error_stats: Mutex::new(std::collections::BTreeMap::new()),
            limits: TypeLimits::default(),
            blocked_clients: AtomicI64::new(0),
            scripting: scripting::Scripting::new(),
            pubsub: pubsub::PubSub::default(),
            monitors: pubsub::Monitors::default(),
            worker_wakes: (0..threads).map(|_| Default::default()).collect(),
            tracking,
            active_expire: AtomicBool::new(true),
            migrate_sockets: Default::default(),
            rebind: Mutex::new(None),
            tls: Default::default(),
            pubsub_limit: [AtomicI64::new(32 << 20), AtomicI64::new(8 << 20), AtomicI64::new(60)],
            normal_limit: [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)],
            notify_flags: Arc::new(AtomicU32::new(0)),
            sinks: Default::default(),
            aof: Default::default(),
            slowlog: Default::default(),
            call_watch: Default::default(),
            evict: Default::default(),
        };
        srv.aof.status.init_workers(threads);
        srv.refresh_hot_config();
        acl::cmd::apply_config(&srv);
        let pass = srv.config.read().str("requirepass").to_string();
        if !pass.is_empty() {
            srv.acl.set_default_password(Some(pass.as_bytes()));
        }
        srv
    }

    /// Copy the configuration the request path reads into atomics.
    pub fn refresh_hot_config(&self) {
        let cfg = self.config.read();
        self.maxclients.store(cfg.int("maxclients") as u64, Ordering::Relaxed);
        self.timeout_secs.store(cfg.int("timeout") as u64, Ordering::Relaxed);
        self.proto_max_bulk_len.store(cfg.int("proto-max-bulk-len"), Ordering::Relaxed);
        self.query_buffer_limit.store(cfg.int("client-query-buffer-limit") as u64, Ordering::Relaxed);
        self.busy_threshold_ms.store(cfg.int("busy-reply-threshold"), Ordering::Relaxed);
        self.ks.lazy_expire.store(cfg.bool("lazyfree-lazy-expire"), Ordering::Relaxed);
        self.ks.lazy_user_del.store(cfg.bool("lazyfree-lazy-user-del"), Ordering::Relaxed);
        self.ks.lazy_server_del.store(cfg.bool("lazyfree-lazy-server-del"), Ordering::Relaxed);
        self.tracking.max_keys.store(cfg.int("tracking-table-max-keys").max(0) as usize, Ordering::Relaxed);
        crate::util::alloc::set_background_threads(cfg.bool("jemalloc-bg-thread"));
        let cobl = cfg.render("client-output-buffer-limit");
        let words: Vec<&str> = cobl.split(' ').collect();
        for (class, slots) in [("pubsub", &self.pubsub_limit), ("normal", &self.normal_limit)] {
            if let Some(i) = words.iter().position(|w| *w == class) {
                for (slot, w) in slots.iter().zip(words.iter().skip(i + 1)) {
                    slot.store(w.parse().unwrap_or(0), Ordering::Relaxed);
                }
            }
        }
        let lfu = if cfg.str("maxmemory-policy").ends_with("lfu") {
            (1 << 63)
                | ((cfg.int("lfu-log-factor") as u64 & 0x7fff_ffff) << 32)
                | (cfg.int("lfu-decay-time") as u64 & 0xffff_ffff)
        } else {
            0
        };
        self.lfu.store(lfu, Ordering::Relaxed);
        self.evict.refresh(&cfg);
        self.limits.refresh(&cfg);
        let nke = match cfg.get("notify-keyspace-events") {
            Some(config::Val::Int(v)) => *v as u32,
            Some(config::Val::Str(s)) => notify::parse_flags(s).unwrap_or(0),
            _ => 0,
        };
        self.notify_flags.store(nke, Ordering::Relaxed);
        latency::refresh(self, &cfg);
        drop(cfg);
        save::refresh(self);
    }

    /// (lfu-log-factor, lfu-decay-time) when an LFU policy is in force.
    pub fn lfu_params(&self) -> Option<(u32, u32)> {
        let v = self.lfu.load(Ordering::Relaxed);
        (v != 0).then_some((((v >> 32) & 0x7fff_ffff) as u32, v as u32))
    }

    /// Count an error reply under its code (Redis tracks at most 128 distinct codes).
    pub fn count_error(&self, msg: &str) {
        // (A raw error line keeps its '-': ReplyWriter::error.)
        let code = msg.strip_prefix('-').unwrap_or(msg).split(' ').next().unwrap_or("ERR");
        let mut stats = self.error_stats.lock();
        if let Some(n) = stats.get_mut(code) {
            *n += 1;
        } else if stats.len() < 128 {
            stats.insert(code.to_string(), 1);
        }
    }

    /// Whether connections must authenticate (the default user has a password or is off).
    pub fn auth_required(&self) -> bool {
        self.acl.auth_required()
    }

    pub fn databases(&self) -> usize {
        self.ks.dbs.len()
    }

    /// (hard, soft, soft seconds) of the output buffer limit of `h`'s class (0 = none):
    /// pubsub for a subscribed client, normal otherwise.
    pub fn output_limits(&self, h: &client::ClientHandle) -> (u64, u64, i64) {
        let subscribed = h.sub_counts.iter().any(|c| c.load(Ordering::Relaxed) > 0);
        let [h, s, t] = if subscribed { &self.pubsub_limit } else { &self.normal_limit };
        (h.load(Ordering::Relaxed) as u64, s.load(Ordering::Relaxed) as u64, t.load(Ordering::Relaxed))
    }

    /// CONFIG RESETSTAT (the shard counters are reset through the command's access).
    pub fn reset_stats(&self) {
        self.stats.reset();
        self.error_stats.lock().clear();
        for c in self.commands.iter() {
            c.reset_stats();
        }
        self.stats_reset_ms.store(now_ms(), Ordering::Relaxed);
        info::reset_peak();
        *self.ks.expire_stats.lock() = Default::default();
        self.evict.reset_stats();
    }

    /// Remaining pause for a command of this kind, if CLIENT PAUSE is in force.
    pub fn pause_remaining(&self, is_write: bool) -> Option<Duration> {
        let until = self.pause_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let now = now_ms();
        if now >= until {
            return None;
        }
        if *self.pause_mode.lock() == PauseMode::Write && !is_write {
            return None;
        }
        Some(Duration::from_millis((until - now) as u64))
    }

    /// The cron: ~hz times a second, expire keys, rehash, close idle clients, sample memory.
    pub fn cron(self: Arc<Self>) {
        let gate = self.threads; // the cron's own gate
        notify::install_hook(&self);
        crate::persist::propagate::install_expiry_hook(&self);
        let mut memory_sampled = Instant::now();
        let mut buffers_resized = Instant::now();
        while !self.shutdown.is_closing() {
            let hz = self.config.read().int("hz").clamp(1, 500) as u64;
            std::thread::sleep(Duration::from_millis(1000 / hz));
            {
                let now = now_ms();
                // Sweep budget per shard per cycle: enough to cover a million TTL keys
                // within a few seconds, small enough to keep each lock hold short.
                let effort = self.config.read().int("active-expire-effort").max(1) as usize;
                // Redis's slow cycle may use 25% of a core (more with a higher effort).
                let budget = Duration::from_micros(1_000_000 / hz * (25 + 2 * effort as u64) / 100);
                if self.active_expire.load(Ordering::Relaxed) {
                    // (Enters the cron's gate one shard at a time.)
                    let (_, waited) = self.ks.active_expire_cycle(gate, 16 * effort, now, budget);
                    if latency::threshold_ms() != 0 {
                        let busy_us = self.ks.expire_stats.lock().last_busy_us;
                        latency::add_sample_if_needed("expire-cycle", busy_us / 1000);
                    }
                    if !waited.is_empty() {
                        crate::command::blocking::serve_deferred(&self, gate, waited, now);
                    }
                }
                let _g = self.ks.enter(gate);
                tracking::broadcast(&self);
                if self.config.read().bool("activerehashing") {
                    self.ks.rehash_cycle(100);
                }
            }
            save::cron(&self);
            client::close_idle_clients(&self);
            client::evict_clients(&self);
            aof_cmds::cron(&self);
            // The peak of used_memory and the instantaneous rates, every 100 ms whatever hz
            // is (as Redis's run_with_period(100); refreshing jemalloc's statistics is not
            // free); freed memory back to the system (util::alloc); once a second, idle
            // connections asked to shrink their buffers (Redis's clientsCron resizing).
            if memory_sampled.elapsed() >= Duration::from_millis(100) {
                info::sample_used_memory();
                crate::util::alloc::purge_if_dirty();
                self.stats.track_instantaneous(now_ms());
                memory_sampled = Instant::now();
            }
            if buffers_resized.elapsed() >= Duration::from_secs(1) {
                client::resize_idle_buffers(&self);
                self.migrate_sockets.close_idle();
                buffers_resized = Instant::now();
            }
        }
    }
}
