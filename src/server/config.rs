//! Configuration: Redis's names, types, defaults and errors, from one table.
//!
//! The same table serves the config file, `--name value` command-line options, CONFIG GET
//! (glob over names and aliases), CONFIG SET (several pairs, all-or-nothing) and CONFIG
//! REWRITE. Values are kept typed; `render` prints them the way CONFIG GET does (memory
//! sizes as plain bytes, booleans as yes/no, enums by their canonical name).
//!
//! The table mirrors Redis's `static_configs[]` (config.c): every numeric parameter carries
//! the C type's flavour that decides its error texts (`Int` = signed types whose bounds are
//! printed with %lld, `UInt` = unsigned types whose negative inputs wrap, memory sizes,
//! memory-or-percent, octal), and the special parameters (save, bind, dir, ...) have their
//! own kinds with Redis's validation and rendering.

use std::collections::HashMap;

use crate::command::{CmdResult, Ctx, Error};
use crate::util::glob::glob_match;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Bool,
    /// Signed integer (int, long, long long, time_t, off_t): strict string2ll.
    Int {
        min: i64,
        max: i64,
    },
    /// Unsigned integer (unsigned int, size_t): negative input wraps and fails the bound check.
    UInt {
        min: u64,
        max: u64,
    },
    /// Byte size of a signed type, accepting b/k/kb/m/mb/g/gb suffixes.
    Memory {
        min: i64,
        max: i64,
    },
    /// Byte size of an unsigned type.
    UMemory {
        min: u64,
        max: u64,
    },
    /// Byte size or "N%" (stored as -N), e.g. maxmemory-clients.
    MemoryPercent {
        min: i64,
        max: i64,
    },
    /// Octal number (unixsocketperm).
    Octal {
        min: u64,
        max: u64,
    },
    /// One of the names (case-insensitive on input, canonical lowercase on output).
    Enum(&'static [&'static str]),
    /// Several flag names at once (shutdown-on-sigint): (name, bit), bit 0 is the default name.
    Flags(&'static [(&'static str, u32)]),
    Str,
    Save,
    Bind,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Dir,
    ReplicaOf,
    Percentiles,
}

impl Kind {
    /// Redis's MULTI_ARG_CONFIG: the value is several words (split on spaces by CONFIG SET).
    pub fn multi_arg(&self) -> bool {
        matches!(
            self,
            Kind::Flags(_)
                | Kind::Save
                | Kind::Bind
                | Kind::ClientOutputBufferLimit
                | Kind::OomScoreAdjValues
                | Kind::ReplicaOf
                | Kind::Percentiles
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
}

/// CONFIG SET may change it.
pub const MUTABLE: u8 = 0;
/// CONFIG SET refuses it ("can't set immutable config").
pub const IMMUTABLE: u8 = 1;
/// CONFIG SET allowed only with enable-protected-configs yes (or local from a local client).
pub const PROTECTED: u8 = 2;
/// Not matched by glob patterns in CONFIG GET (exact name only).
pub const HIDDEN: u8 = 4;
/// An empty string means "not set": CONFIG REWRITE drops the line.
pub const EMPTY_IS_NULL: u8 = 8;

pub struct Def {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

impl Def {
    pub fn mutable(&self) -> bool {
        self.flags & IMMUTABLE == 0
    }
    pub fn hidden(&self) -> bool {
        self.flags & HIDDEN != 0
    }
}

const fn def(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Def {
    Def { name, alias: None, kind, default, flags }
}

const fn aliased(name: &'static str, alias: &'static str, kind: Kind, default: &'static str, flags: u8) -> Def {
    Def { name, alias: Some(alias), kind, default, flags }
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const LONG_MAX: i64 = i64::MAX;
const I32: Kind = Kind::Int { min: 0, max: INT_MAX };
const LL: Kind = Kind::Int { min: 0, max: LONG_MAX };
const PORT: Kind = Kind::Int { min: 0, max: 65535 };
const SIZE: Kind = Kind::UInt { min: 0, max: LONG_MAX as u64 };
const SIZE_MEM: Kind = Kind::UMemory { min: 0, max: LONG_MAX as u64 };
const YES: &str = "yes";
const NO: &str = "no";
const M: u8 = MUTABLE;
const I: u8 = IMMUTABLE;
const N: u8 = EMPTY_IS_NULL;

pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
pub const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const FACILITIES: &[&str] = &["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const TLS_AUTH: &[&str] = &["no", "yes", "optional"];
/// "relative" is the same value as "yes" and is printed as "yes".
const OOM_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const PUBSUB_DEFAULT: &[&str] = &["allchannels", "resetchannels"];
const SANITIZE: &[&str] = &["no", "yes", "clients"];
const PROTECTED_ACTION: &[&str] = &["no", "yes", "local"];
const ENDPOINT_TYPE: &[&str] = &["ip", "hostname", "unknown-endpoint"];
const PROPAGATION_ERR: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const SHUTDOWN_FLAGS: &[(&str, u32)] = &[("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8)];

const COBL_DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

/// Every parameter Redis 7.2 has (CONFIG GET * of the 7.0 oracle, its hidden ones, the
/// 7.2 additions), plus our own `threads`, `metrics-port` and `metrics-bind`, hidden. Parameters we accept but whose feature is
/// not built are listed in docs/COMPATIBILITY.md.
pub static DEFS: &[Def] = &[
    // ---- bool
    def("rdbchecksum", Kind::Bool, YES, I),
    def("daemonize", Kind::Bool, NO, I),
    def("io-threads-do-reads", Kind::Bool, NO, I),
    def("always-show-logo", Kind::Bool, NO, I),
    def("protected-mode", Kind::Bool, YES, M),
    def("rdbcompression", Kind::Bool, YES, M),
    def("rdb-del-sync-files", Kind::Bool, NO, M),
    def("activerehashing", Kind::Bool, YES, M),
    def("stop-writes-on-bgsave-error", Kind::Bool, YES, M),
    def("set-proc-title", Kind::Bool, YES, I),
    def("dynamic-hz", Kind::Bool, YES, M),
    def("lazyfree-lazy-eviction", Kind::Bool, NO, M),
    def("lazyfree-lazy-expire", Kind::Bool, NO, M),
    def("lazyfree-lazy-server-del", Kind::Bool, NO, M),
    def("lazyfree-lazy-user-del", Kind::Bool, NO, M),
    def("lazyfree-lazy-user-flush", Kind::Bool, NO, M),
    def("repl-disable-tcp-nodelay", Kind::Bool, NO, M),
    def("repl-diskless-sync", Kind::Bool, YES, M),
    def("aof-rewrite-incremental-fsync", Kind::Bool, YES, M),
    def("no-appendfsync-on-rewrite", Kind::Bool, NO, M),
    def("cluster-require-full-coverage", Kind::Bool, YES, M),
    def("rdb-save-incremental-fsync", Kind::Bool, YES, M),
    def("aof-load-truncated", Kind::Bool, YES, M),
    def("aof-use-rdb-preamble", Kind::Bool, YES, M),
    def("aof-timestamp-enabled", Kind::Bool, NO, M),
    aliased("cluster-replica-no-failover", "cluster-slave-no-failover", Kind::Bool, NO, M),
    aliased("replica-lazy-flush", "slave-lazy-flush", Kind::Bool, NO, M),
    aliased("replica-serve-stale-data", "slave-serve-stale-data", Kind::Bool, YES, M),
    aliased("replica-read-only", "slave-read-only", Kind::Bool, YES, M),
    aliased("replica-ignore-maxmemory", "slave-ignore-maxmemory", Kind::Bool, YES, M),
    def("jemalloc-bg-thread", Kind::Bool, YES, M),
    def("activedefrag", Kind::Bool, NO, M),
    def("syslog-enabled", Kind::Bool, NO, I),
    def("cluster-enabled", Kind::Bool, NO, I),
    def("appendonly", Kind::Bool, NO, M),
    def("cluster-allow-reads-when-down", Kind::Bool, NO, M),
    def("cluster-allow-pubsubshard-when-down", Kind::Bool, YES, M),
    def("crash-log-enabled", Kind::Bool, YES, M),
    def("crash-memcheck-enabled", Kind::Bool, YES, M),
    def("use-exit-on-panic", Kind::Bool, NO, M | HIDDEN),
    def("disable-thp", Kind::Bool, YES, I),
    def("cluster-allow-replica-migration", Kind::Bool, YES, M),
    def("replica-announced", Kind::Bool, YES, M),
    def("latency-tracking", Kind::Bool, YES, M),
    // Hidden in Redis 7.2 (listed by 7.0's CONFIG GET *).
    def("aof-disable-auto-gc", Kind::Bool, NO, M | HIDDEN),
    def("replica-ignore-disk-write-errors", Kind::Bool, NO, M),
    // ---- strings
    def("aclfile", Kind::Str, "", I),
    def("unixsocket", Kind::Str, "", I | N),
    def("pidfile", Kind::Str, "", I | N),
    aliased("replica-announce-ip", "slave-announce-ip", Kind::Str, "", M | N),
    def("masteruser", Kind::Str, "", M | N),
    def("cluster-announce-ip", Kind::Str, "", M | N),
    def("cluster-config-file", Kind::Str, "nodes.conf", I),
    def("cluster-announce-hostname", Kind::Str, "", M | N),
    def("cluster-announce-human-nodename", Kind::Str, "", M | N),
    def("syslog-ident", Kind::Str, "redis", I),
    def("dbfilename", Kind::Str, "dump.rdb", PROTECTED),
    def("appendfilename", Kind::Str, "appendonly.aof", I),
    def("appenddirname", Kind::Str, "appendonlydir", I),
    def("server_cpulist", Kind::Str, "", I | N),
    def("bio_cpulist", Kind::Str, "", I | N),
    def("aof_rewrite_cpulist", Kind::Str, "", I | N),
    def("bgsave_cpulist", Kind::Str, "", I | N),
    def("ignore-warnings", Kind::Str, "", M),
    def("proc-title-template", Kind::Str, "{title} {listen-addr} {server-mode}", M),
    def("bind-source-addr", Kind::Str, "", M | N),
    def("logfile", Kind::Str, "", I),
    def("locale-collate", Kind::Str, "", M),
    def("masterauth", Kind::Str, "", M | N),
    def("requirepass", Kind::Str, "", M | N),
    def("tls-cert-file", Kind::Str, "", M | N),
    def("tls-key-file", Kind::Str, "", M | N),
    def("tls-key-file-pass", Kind::Str, "", M | N),
    def("tls-client-cert-file", Kind::Str, "", M | N),
    def("tls-client-key-file", Kind::Str, "", M | N),
    def("tls-client-key-file-pass", Kind::Str, "", M | N),
    def("tls-dh-params-file", Kind::Str, "", M | N),
    def("tls-ca-cert-file", Kind::Str, "", M | N),
    def("tls-ca-cert-dir", Kind::Str, "", M | N),
    def("tls-protocols", Kind::Str, "", M | N),
    def("tls-ciphers", Kind::Str, "", M | N),
    def("tls-ciphersuites", Kind::Str, "", M | N),
    // ---- enums
    def("supervised", Kind::Enum(SUPERVISED), "no", I),
    def("syslog-facility", Kind::Enum(FACILITIES), "local0", I),
    def("repl-diskless-load", Kind::Enum(DISKLESS_LOAD), "disabled", M),
    def("loglevel", Kind::Enum(LOGLEVELS), "notice", M),
    def("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", M),
    def("appendfsync", Kind::Enum(FSYNC), "everysec", M),
    def("oom-score-adj", Kind::Enum(OOM_ADJ), "no", M),
    def("acl-pubsub-default", Kind::Enum(PUBSUB_DEFAULT), "resetchannels", M),
    def("sanitize-dump-payload", Kind::Enum(SANITIZE), "no", M),
    def("enable-protected-configs", Kind::Enum(PROTECTED_ACTION), "no", I),
    def("enable-debug-command", Kind::Enum(PROTECTED_ACTION), "no", I),
    def("enable-module-command", Kind::Enum(PROTECTED_ACTION), "no", I),
    def("cluster-preferred-endpoint-type", Kind::Enum(ENDPOINT_TYPE), "ip", M),
    def("propagation-error-behavior", Kind::Enum(PROPAGATION_ERR), "ignore", M),
    def("shutdown-on-sigint", Kind::Flags(SHUTDOWN_FLAGS), "default", M),
    def("shutdown-on-sigterm", Kind::Flags(SHUTDOWN_FLAGS), "default", M),
    def("tls-auth-clients", Kind::Enum(TLS_AUTH), "yes", M),
    // ---- int
    def("databases", Kind::Int { min: 1, max: INT_MAX }, "16", I),
    def("port", PORT, "6379", M),
    // The worker count (cinnabar's workers do I/O and run commands): 1, Redis's default,
    // means one worker per core (`lib.rs`).
    def("io-threads", Kind::Int { min: 1, max: 128 }, "1", I),
    def("auto-aof-rewrite-percentage", I32, "100", M),
    aliased("cluster-replica-validity-factor", "cluster-slave-validity-factor", I32, "10", M),
    aliased("list-max-listpack-size", "list-max-ziplist-size", Kind::Int { min: INT_MIN, max: INT_MAX }, "-2", M),
    def("tcp-keepalive", I32, "300", M),
    def("cluster-migration-barrier", I32, "1", M),
    def("active-defrag-cycle-min", Kind::Int { min: 1, max: 99 }, "1", M),
    def("active-defrag-cycle-max", Kind::Int { min: 1, max: 99 }, "25", M),
    def("active-defrag-threshold-lower", Kind::Int { min: 0, max: 1000 }, "10", M),
    def("active-defrag-threshold-upper", Kind::Int { min: 0, max: 1000 }, "100", M),
    def("lfu-log-factor", I32, "10", M),
    def("lfu-decay-time", I32, "1", M),
    aliased("replica-priority", "slave-priority", I32, "100", M),
    def("repl-diskless-sync-delay", I32, "5", M),
    def("maxmemory-samples", Kind::Int { min: 1, max: INT_MAX }, "5", M),
    def("maxmemory-eviction-tenacity", Kind::Int { min: 0, max: 100 }, "10", M),
    def("timeout", I32, "0", M),
    aliased("replica-announce-port", "slave-announce-port", PORT, "0", M),
    def("tcp-backlog", I32, "511", I),
    def("cluster-port", PORT, "0", I),
    def("cluster-announce-bus-port", PORT, "0", M),
    def("cluster-announce-port", PORT, "0", M),
    def("cluster-announce-tls-port", PORT, "0", M),
    def("repl-timeout", Kind::Int { min: 1, max: INT_MAX }, "60", M),
    aliased("repl-ping-replica-period", "repl-ping-slave-period", Kind::Int { min: 1, max: INT_MAX }, "10", M),
    def("list-compress-depth", I32, "0", M),
    def("rdb-key-save-delay", Kind::Int { min: INT_MIN, max: INT_MAX }, "0", M | HIDDEN),
    def("key-load-delay", Kind::Int { min: INT_MIN, max: INT_MAX }, "0", M | HIDDEN),
    def("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1", M),
    def("hz", I32, "10", M),
    aliased("min-replicas-to-write", "min-slaves-to-write", I32, "0", M),
    aliased("min-replicas-max-lag", "min-slaves-max-lag", I32, "10", M),
    def("watchdog-period", I32, "0", M | HIDDEN),
    def("shutdown-timeout", I32, "10", M),
    def("repl-diskless-sync-max-replicas", I32, "0", M),
    def("tls-port", PORT, "0", M),
    def("tls-session-cache-size", I32, "20480", M),
    def("tls-session-cache-timeout", I32, "300", M),
    // ---- unsigned int
    def("maxclients", Kind::UInt { min: 1, max: u32::MAX as u64 }, "10000", M),
    def("unixsocketperm", Kind::Octal { min: 0, max: 0o777 }, "0", I),
    def("socket-mark-id", Kind::UInt { min: 0, max: u32::MAX as u64 }, "0", I),
    // ---- unsigned long (bounds checked as signed by Redis)
    def("active-defrag-max-scan-fields", Kind::Int { min: 1, max: LONG_MAX }, "1000", M),
    def("slowlog-max-len", LL, "128", M),
    def("acllog-max-len", LL, "128", M),
    // ---- long long
    aliased("busy-reply-threshold", "lua-time-limit", LL, "5000", M),
    def("cluster-node-timeout", LL, "15000", M),
    def("slowlog-log-slower-than", Kind::Int { min: -1, max: LONG_MAX }, "10000", M),
    def("latency-monitor-threshold", LL, "0", M),
    def("proto-max-bulk-len", Kind::Memory { min: 1024 * 1024, max: LONG_MAX }, "536870912", M),
    def("stream-node-max-entries", LL, "100", M),
    def("repl-backlog-size", Kind::Memory { min: 1, max: LONG_MAX }, "1048576", M),
    // ---- unsigned long long
    def("maxmemory", Kind::UMemory { min: 0, max: u64::MAX }, "0", M),
    def("cluster-link-sendbuf-limit", Kind::UMemory { min: 0, max: u64::MAX }, "0", M),
    // ---- size_t
    aliased("hash-max-listpack-entries", "hash-max-ziplist-entries", SIZE, "512", M),
    def("set-max-intset-entries", SIZE, "512", M),
    def("set-max-listpack-entries", SIZE, "128", M),
    aliased("zset-max-listpack-entries", "zset-max-ziplist-entries", SIZE, "128", M),
    def("active-defrag-ignore-bytes", Kind::UMemory { min: 1, max: LONG_MAX as u64 }, "104857600", M),
    aliased("hash-max-listpack-value", "hash-max-ziplist-value", SIZE_MEM, "64", M),
    // Not a memory size in 7.2 (no unit suffixes), unlike the hash and zset ones.
    def("set-max-listpack-value", SIZE, "64", M),
    def("stream-node-max-bytes", SIZE_MEM, "4096", M),
    aliased("zset-max-listpack-value", "zset-max-ziplist-value", SIZE_MEM, "64", M),
    def("hll-sparse-max-bytes", SIZE_MEM, "3000", M),
    def("tracking-table-max-keys", SIZE, "1000000", M),
    def("client-query-buffer-limit", Kind::UMemory { min: 1024 * 1024, max: LONG_MAX as u64 }, "1073741824", M),
    def("maxmemory-clients", Kind::MemoryPercent { min: -100, max: LONG_MAX }, "0", M),
    // ---- time_t / off_t
    def("repl-backlog-ttl", LL, "3600", M),
    def("auto-aof-rewrite-min-size", Kind::Memory { min: 0, max: LONG_MAX }, "67108864", M),
    def("loading-process-events-interval-bytes", Kind::Int { min: 1024, max: INT_MAX }, "2097152", M | HIDDEN),
    // ---- tls bools/enums kept with the rest of tls
    def("tls-cluster", Kind::Bool, NO, M),
    def("tls-replication", Kind::Bool, NO, M),
    def("tls-prefer-server-ciphers", Kind::Bool, NO, M),
    def("tls-session-caching", Kind::Bool, YES, M),
    // ---- special
    def("dir", Kind::Dir, "", PROTECTED),
    def("save", Kind::Save, "3600 1 300 100 60 10000", M),
    def("client-output-buffer-limit", Kind::ClientOutputBufferLimit, COBL_DEFAULT, M),
    def("oom-score-adj-values", Kind::OomScoreAdjValues, "0 200 800", M),
    def("notify-keyspace-events", Kind::NotifyKeyspaceEvents, "", M),
    def("bind", Kind::Bind, "* -::*", M),
    aliased("replicaof", "slaveof", Kind::ReplicaOf, "", I),
    def("latency-tracking-info-percentiles", Kind::Percentiles, "50 99 99.9", M),
    // ---- cinnabar's own: the worker count under its first name (0: as io-threads says).
    // Hidden, so CONFIG GET * lists only Redis's parameters: tools copy every listed one
    // back with CONFIG SET but for Redis's immutable ones, and this one is immutable too.
    def("threads", Kind::Int { min: 0, max: 128 }, "0", I | HIDDEN),
    // The Prometheus endpoint (`server::metrics`): a port like Redis's ports (0: off), the
    // address it listens on. Hidden and immutable for the same reason as `threads`.
    def("metrics-port", PORT, "0", I | HIDDEN),
    def("metrics-bind", Kind::Str, "127.0.0.1", I | HIDDEN),
];

#[derive(Clone)]
pub struct Config {
    values: HashMap<&'static str, Val>,
    /// While loading a config file: the first `save` line replaces the defaults, the
    /// following ones append (Redis's `save_loaded`).
    save_loaded: bool,
    /// `rename-command` lines in file order: (command, new name; "" removes it), lowercase.
    /// Applied to the command table when the server is built (`CommandTable::rename`).
    pub renames: Vec<(String, String)>,
    /// Module configuration lines ("name.param value"): with no module to take them,
    /// start-up aborts once the server is set up, as Redis does (`crate::main_with_args`).
    pub module_configs: usize,
    /// `user` lines in file order (name, then rules), checked when read and applied once
    /// the server exists (`server::acl::load_at_startup`).
    pub users: Vec<Vec<String>>,
}

// ---------------------------------------------------------------- number helpers

/// Parse a byte size as Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb
/// suffix (case-insensitive). The product wraps like C's unsigned arithmetic.
pub fn memtoull(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return None;
    }
    let digits_end = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    let (num, unit) = s.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if num.len() >= 128 {
        return None;
    }
    // strtoull of "" is 0 (no EINVAL on glibc); on overflow it saturates to ULLONG_MAX
    // with ERANGE, which Redis 7.0's memtoull does not check.
    let v: u64 = if num.is_empty() { 0 } else { num.parse::<u64>().unwrap_or(u64::MAX) };
    Some(v.wrapping_mul(mul))
}

/// Byte size as a signed value (kept for callers; wraps like Redis's casts).
pub fn parse_memory(s: &str) -> Option<i64> {
    let v = memtoull(s)?;
    if v > i64::MAX as u64 {
        return None;
    }
    Some(v as i64)
}

/// C strtoll(s, &end, base) followed by the `*end == '\0'` check.
fn strtoll_full(s: &str, base: u32) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        v = (v * base as i128 + d as i128).min(i64::MAX as i128 + 1);
        i += 1;
    }
    if i == start {
        // No digits: end points at the start of the string.
        return if b.is_empty() { Some(0) } else { None };
    }
    if i != b.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Redis's rewriteConfigFormatMemory.
fn format_memory(bytes: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    const KB: i64 = 1024;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// "%f" with trailing zeros (and a trailing dot) removed: Redis's trimDoubleString.
fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// sds sdscatrepr: a double-quoted, escaped string.
fn repr(s: &str) -> String {
    let mut out = String::from("\"");
    for &c in s.as_bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// strerror text of an io::Error ("No such file or directory").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

// ---------------------------------------------------------------- keyspace events

const NOTIFY_KEYSPACE: u32 = 1 << 0;
const NOTIFY_KEYEVENT: u32 = 1 << 1;
const NOTIFY_GENERIC: u32 = 1 << 2;
const NOTIFY_STRING: u32 = 1 << 3;
const NOTIFY_LIST: u32 = 1 << 4;
const NOTIFY_SET: u32 = 1 << 5;
const NOTIFY_HASH: u32 = 1 << 6;
const NOTIFY_ZSET: u32 = 1 << 7;
const NOTIFY_EXPIRED: u32 = 1 << 8;
const NOTIFY_EVICTED: u32 = 1 << 9;
const NOTIFY_STREAM: u32 = 1 << 10;
const NOTIFY_KEY_MISS: u32 = 1 << 11;
const NOTIFY_MODULE: u32 = 1 << 13;
const NOTIFY_NEW: u32 = 1 << 14;
const NOTIFY_ALL: u32 = NOTIFY_GENERIC
    | NOTIFY_STRING
    | NOTIFY_LIST
    | NOTIFY_SET
    | NOTIFY_HASH
    | NOTIFY_ZSET
    | NOTIFY_EXPIRED
    | NOTIFY_EVICTED
    | NOTIFY_STREAM
    | NOTIFY_MODULE;

/// Redis's keyspaceEventsStringToFlags: None on an unknown class character.
pub fn keyspace_events_flags(classes: &str) -> Option<u32> {
    let mut flags = 0;
    for c in classes.bytes() {
        flags |= match c {
            b'A' => NOTIFY_ALL,
            b'g' => NOTIFY_GENERIC,
            b'$' => NOTIFY_STRING,
            b'l' => NOTIFY_LIST,
            b's' => NOTIFY_SET,
            b'h' => NOTIFY_HASH,
            b'z' => NOTIFY_ZSET,
            b'x' => NOTIFY_EXPIRED,
            b'e' => NOTIFY_EVICTED,
            b'K' => NOTIFY_KEYSPACE,
            b'E' => NOTIFY_KEYEVENT,
            b't' => NOTIFY_STREAM,
            b'm' => NOTIFY_KEY_MISS,
            b'd' => NOTIFY_MODULE,
            b'n' => NOTIFY_NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Redis's keyspaceEventsFlagsToString (canonical order, "A" for all classes).
pub fn keyspace_events_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & NOTIFY_ALL == NOTIFY_ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (NOTIFY_GENERIC, 'g'),
            (NOTIFY_STRING, '$'),
            (NOTIFY_LIST, 'l'),
            (NOTIFY_SET, 's'),
            (NOTIFY_HASH, 'h'),
            (NOTIFY_ZSET, 'z'),
            (NOTIFY_EXPIRED, 'x'),
            (NOTIFY_EVICTED, 'e'),
            (NOTIFY_STREAM, 't'),
            (NOTIFY_MODULE, 'd'),
            (NOTIFY_NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    if flags & NOTIFY_KEYSPACE != 0 {
        s.push('K');
    }
    if flags & NOTIFY_KEYEVENT != 0 {
        s.push('E');
    }
    if flags & NOTIFY_KEY_MISS != 0 {
        s.push('m');
    }
    s
}

// ---------------------------------------------------------------- special values

/// (hard, soft, seconds) per class: normal, slave, pubsub.
type Cobl = [(u64, u64, i64); 3];

fn cobl_parse_canonical(s: &str) -> Cobl {
    let mut out: Cobl = [(0, 0, 0), (268435456, 67108864, 60), (33554432, 8388608, 60)];
    let w: Vec<&str> = s.split(' ').collect();
    for (i, chunk) in w.chunks(4).enumerate().take(3) {
        if chunk.len() == 4 {
            out[i] = (chunk[1].parse().unwrap_or(0), chunk[2].parse().unwrap_or(0), chunk[3].parse().unwrap_or(0));
        }
    }
    out
}

fn cobl_render(c: &Cobl) -> String {
    let names = ["normal", "slave", "pubsub"];
    let mut parts = Vec::new();
    for (i, (h, s, sec)) in c.iter().enumerate() {
        parts.push(format!("{} {} {} {}", names[i], h, s, sec));
    }
    parts.join(" ")
}

fn cobl_class(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None, // "master" is a class but not allowed here
    }
}

/// Redis's updateClientOutputBufferLimit: all-or-nothing, only the given classes change.
fn cobl_update(current: &str, args: &[&str]) -> Result<String, String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut c = cobl_parse_canonical(current);
    let mut staged = Vec::new();
    for chunk in args.chunks(4) {
        let class = cobl_class(chunk[0]).ok_or("Invalid client class specified in buffer limit configuration.")?;
        let hard = memtoull(chunk[1]);
        let soft = memtoull(chunk[2]);
        // soft_seconds is a C int assigned from strtoll.
        let secs = strtoll_full(chunk[3], 10).map(|v| v as i32 as i64);
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(sec)) if sec >= 0 => staged.push((class, (h, s, sec))),
            _ => return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()),
        }
    }
    for (class, v) in staged {
        c[class] = v;
    }
    Ok(cobl_render(&c))
}

/// Redis's setConfigSaveOption validation; returns the (seconds, changes) pairs.
fn save_parse(args: &[&str]) -> Result<Vec<(i64, i64)>, String> {
    // One argument holding the pairs (`save "3600 1"` in a file, `--save "3600 1"`) is
    // split at its spaces, as Redis splits a multi-argument setting given as one.
    let split: Vec<&str>;
    let args: &[&str] = if let [one] = args {
        split = one.split_whitespace().collect();
        &split
    } else {
        args
    };
    if !args.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::new();
    for pair in args.chunks(2) {
        let secs = strtoll_full(pair[0], 10).ok_or("Invalid save parameters")?;
        let changes = strtoll_full(pair[1], 10).ok_or("Invalid save parameters")?;
        // `long val` checks: seconds >= 1, changes >= 0 (before the int truncation).
        if secs < 1 || changes < 0 {
            return Err("Invalid save parameters".into());
        }
        out.push((secs, changes as i32 as i64));
    }
    Ok(out)
}

fn save_render(pairs: &[(i64, i64)]) -> String {
    pairs.iter().map(|(s, c)| format!("{s} {c}")).collect::<Vec<_>>().join(" ")
}

fn flags_parse(names: &'static [(&'static str, u32)], args: &[&str]) -> Result<u32, String> {
    let err = || {
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!("argument(s) must be one of the following: {}", list.join(", "))
    };
    if args.is_empty() {
        return Err(err());
    }
    let mut v = 0;
    for a in args {
        match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(a)) {
            Some((_, bit)) => v |= bit,
            None => return Err(err()),
        }
    }
    if v & 1 != 0 && v & 2 != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    Ok(v)
}

/// Redis's configEnumGetName for bit flags: the exact match, else the set bits' names.
fn flags_render(names: &'static [(&'static str, u32)], v: u32) -> String {
    if let Some((n, _)) = names.iter().find(|(_, b)| *b == v) {
        return n.to_string();
    }
    let mut out = Vec::new();
    for (n, b) in names {
        if *b != 0 && v & b == *b {
            out.push(*n);
        }
    }
    out.join(" ")
}

fn percentiles_parse(args: &[&str]) -> Result<String, String> {
    let args: &[&str] = if args.len() == 1 && args[0].is_empty() { &[] } else { args };
    let mut out = Vec::new();
    for a in args {
        let v = crate::util::number::parse_f64(a.as_bytes())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&v) {
            return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
        }
        out.push(format_percentile(v));
    }
    Ok(out.join(" "))
}

fn oom_values_parse(args: &[&str]) -> Result<String, String> {
    if args.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::new();
    for a in args {
        match strtoll_full(a, 10) {
            Some(v) if (-2000..=2000).contains(&v) => out.push(v.to_string()),
            _ => return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into()),
        }
    }
    Ok(out.join(" "))
}

fn is_basename(s: &str) -> bool {
    !s.contains('/')
}

fn valid_hostname(s: &str) -> Result<(), String> {
    if s.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".into());
    }
    if !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
    }
    Ok(())
}

/// Redis's validateProcTitleTemplate: known {variables} only, balanced braces, and not
/// blank once expanded the way Redis expands it to validate: `{title}` as "", the server
/// mode as "" (standalone), `{unixsocket}` as "" (its default; the oracle's answer for a
/// server with a socket differs), the others as non-empty text.
fn valid_proc_title(s: &str) -> bool {
    const VARS: &[(&str, bool)] = &[
        ("title", false),
        ("listen-addr", true),
        ("server-mode", false),
        ("port", true),
        ("tls-port", true),
        ("unixsocket", false),
        ("config-file", true),
    ];
    let mut rest = s;
    let mut visible = false;
    while let Some(p) = rest.find(['{', '}']) {
        if rest.as_bytes()[p] == b'}' {
            return false;
        }
        visible |= rest[..p].bytes().any(|c| c != b' ');
        let after = &rest[p + 1..];
        let Some(end) = after.find('}') else { return false };
        match VARS.iter().find(|(v, _)| *v == &after[..end]) {
            Some((_, expands)) => visible |= expands,
            None => return false,
        }
        rest = &after[end + 1..];
    }
    visible || rest.bytes().any(|c| c != b' ')
}

/// Redis's isValidAuxString for cluster-announce-human-nodename: any byte but these.
fn valid_human_nodename(s: &str) -> Result<(), String> {
    if s.bytes().any(|c| b"!#$%&()*+:;<>?@[]^{|}~".contains(&c)) {
        return Err("Announced human node name contained invalid character".into());
    }
    Ok(())
}

/// locale-collate: a name setlocale(LC_COLLATE) accepts ("" is the environment's).
/// Checked with newlocale, which leaves the process's locale alone: string comparisons
/// here are binary (C locale; `types::sort`), so the value is only stored.
fn valid_locale(s: &str) -> Result<(), String> {
    let invalid = || "Invalid locale name".to_string();
    let name = std::ffi::CString::new(s).map_err(|_| invalid())?;
    // SAFETY: newlocale reads a NUL-terminated name; the object it returns is freed at once.
    unsafe {
        let loc = libc::newlocale(libc::LC_COLLATE_MASK, name.as_ptr(), std::ptr::null_mut());
        if loc.is_null() {
            return Err(invalid());
        }
        libc::freelocale(loc);
    }
    Ok(())
}

fn numeric_range_err_signed(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

fn numeric_range_err_unsigned(min: u64, max: u64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

impl Def {
    /// Validate and convert a single-string value (multi-argument kinds are split on
    /// spaces, as CONFIG SET does); the error is the reason CONFIG SET appends.
    pub fn parse(&self, raw: &str) -> Result<Val, String> {
        let args = split_value(self, raw);
        self.parse_args(&args, None)
    }

    /// Validate and convert; `current` is the value being replaced (for kinds that update
    /// part of it: client-output-buffer-limit).
    fn parse_args(&self, args: &[&str], current: Option<&str>) -> Result<Val, String> {
        let one = || args.first().copied().unwrap_or("");
        match self.kind {
            Kind::Bool => {
                let a = one();
                if a.eq_ignore_ascii_case("yes") {
                    if self.name == "activedefrag" {
                        // As a Redis built without its bundled jemalloc: we cannot defragment.
                        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into());
                    }
                    Ok(Val::Bool(true))
                } else if a.eq_ignore_ascii_case("no") {
                    Ok(Val::Bool(false))
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Int { min, max } => {
                let v = crate::util::number::parse_i64(one().as_bytes())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(numeric_range_err_signed(min, max));
                }
                Ok(Val::Int(v))
            }
            Kind::UInt { min, max } => {
                let v = crate::util::number::parse_i64(one().as_bytes())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                let u = v as u64;
                if u < min || u > max {
                    return Err(numeric_range_err_unsigned(min, max));
                }
                Ok(Val::Int(v))
            }
            Kind::Memory { min, max } => {
                let v = memtoull(one()).ok_or_else(|| "argument must be a memory value".to_string())? as i64;
                if v < min || v > max {
                    return Err(numeric_range_err_signed(min, max));
                }
                Ok(Val::Int(v))
            }
            Kind::UMemory { min, max } => {
                let u = memtoull(one()).ok_or_else(|| "argument must be a memory value".to_string())?;
                if u < min || u > max {
                    return Err(numeric_range_err_unsigned(min, max));
                }
                Ok(Val::Int(u as i64))
            }
            Kind::MemoryPercent { min, max } => {
                let a = one();
                let v = match memtoull(a) {
                    Some(u) => u as i64,
                    None => {
                        let p = a
                            .strip_suffix('%')
                            .filter(|n| !n.is_empty())
                            .and_then(|n| crate::util::number::parse_i64(n.as_bytes()))
                            .filter(|n| *n >= 0)
                            .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
                        -p
                    }
                };
                if v < 0 {
                    if v < min {
                        return Err(format!("percentage argument must be less or equal to {}", -min));
                    }
                } else if v > max || v < min {
                    return Err(numeric_range_err_signed(min, max));
                }
                Ok(Val::Int(v))
            }
            Kind::Octal { min, max } => {
                let v = strtoll_full(one(), 8)
                    .ok_or_else(|| "argument couldn't be parsed as an octal number".to_string())?;
                let u = v as u64;
                if u < min || u > max {
                    return Err(format!("argument must be between {min:o} and {max:o} inclusive"));
                }
                Ok(Val::Int(v))
            }
            Kind::Enum(options) => {
                let a = one();
                match options.iter().find(|o| o.eq_ignore_ascii_case(a)) {
                    // oom-score-adj: "relative" is "yes".
                    Some(&"relative") if self.name == "oom-score-adj" => Ok(Val::Str("yes".into())),
                    Some(o) => Ok(Val::Str(o.to_string())),
                    None => Err(format!("argument(s) must be one of the following: {}", options.join(", "))),
                }
            }
            Kind::Flags(names) => Ok(Val::Str(flags_render(names, flags_parse(names, args)?))),
            Kind::Str => {
                let a = one();
                match self.name {
                    "dbfilename" if !is_basename(a) => Err("dbfilename can't be a path, just a filename".into()),
                    "appendfilename" if a.is_empty() => Err("appendfilename can't be empty".into()),
                    "appendfilename" if !is_basename(a) => {
                        Err("appendfilename can't be a path, just a filename".into())
                    }
                    "appenddirname" if a.is_empty() => Err("appenddirname can't be empty".into()),
                    "appenddirname" if !is_basename(a) => Err("appenddirname can't be a path, just a dirname".into()),
                    "cluster-announce-hostname" => {
                        valid_hostname(a)?;
                        Ok(Val::Str(a.to_string()))
                    }
                    "cluster-announce-human-nodename" => {
                        valid_human_nodename(a)?;
                        Ok(Val::Str(a.to_string()))
                    }
                    "locale-collate" => {
                        valid_locale(a)?;
                        Ok(Val::Str(a.to_string()))
                    }
                    "proc-title-template" if !valid_proc_title(a) => {
                        Err("template format is invalid or contains unknown variables".into())
                    }
                    _ => Ok(Val::Str(a.to_string())),
                }
            }
            Kind::Save => Ok(Val::Str(save_render(&save_parse(args)?))),
            Kind::Bind => {
                if args.len() > 16 {
                    return Err("Too many bind addresses specified.".into());
                }
                let args: &[&str] = if args.len() == 1 && args[0].is_empty() { &[] } else { args };
                Ok(Val::Str(args.join(" ")))
            }
            Kind::ClientOutputBufferLimit => Ok(Val::Str(cobl_update(current.unwrap_or(COBL_DEFAULT), args)?)),
            Kind::OomScoreAdjValues => Ok(Val::Str(oom_values_parse(args)?)),
            Kind::NotifyKeyspaceEvents => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let f = keyspace_events_flags(args[0])
                    .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
                // Kept as flags: the canonical string drops 'n' next to 'A', as Redis's
                // does, but the flag stays in force (server::notify reads it).
                Ok(Val::Int(f as i64))
            }
            Kind::Dir => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                Ok(Val::Str(args[0].to_string()))
            }
            Kind::ReplicaOf => {
                if args.len() != 2 {
                    return Err("wrong number of arguments".into());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    return Ok(Val::Str(String::new()));
                }
                // strtol: the port must be fully numeric and within 0..65535.
                match strtoll_full(args[1], 10) {
                    Some(p) if (0..=65535).contains(&p) => Ok(Val::Str(format!("{} {}", args[0], p))),
                    _ => Err("Invalid master port".into()),
                }
            }
            Kind::Percentiles => Ok(Val::Str(percentiles_parse(args)?)),
        }
    }

    fn default_val(&self) -> Val {
        match self.kind {
            Kind::Dir | Kind::ReplicaOf => Val::Str(String::new()),
            _ => self.parse(self.default).unwrap_or_else(|_| Val::Str(self.default.to_string())),
        }
    }
}

/// How CONFIG SET turns one value into arguments: multi-argument kinds split on every
/// single space (sdssplitlen: "" gives no argument, "a  b" gives an empty one).
fn split_value<'a>(d: &Def, raw: &'a str) -> Vec<&'a str> {
    if !d.kind.multi_arg() {
        return vec![raw];
    }
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(' ').collect()
}

pub fn find_def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

impl Config {
    pub fn new() -> Config {
        let mut values = HashMap::new();
        for d in DEFS {
            values.insert(d.name, d.default_val());
        }
        Config { values, save_loaded: false, renames: Vec::new(), module_configs: 0, users: Vec::new() }
    }

    pub fn get(&self, name: &str) -> Option<&Val> {
        self.values.get(name)
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Int(v)) => *v,
            _ => 0,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Val::Bool(true)))
    }

    pub fn str(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    /// The value as CONFIG GET prints it (`name` may be an alias).
    pub fn render(&self, name: &str) -> String {
        let Some(d) = find_def(name) else { return String::new() };
        match (d.kind, self.values.get(d.name)) {
            (Kind::Dir, _) => std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
            (_, Some(Val::Bool(b))) => if *b { "yes" } else { "no" }.to_string(),
            (Kind::Memory { .. } | Kind::UMemory { .. }, Some(Val::Int(v))) => (*v as u64).to_string(),
            (Kind::MemoryPercent { .. }, Some(Val::Int(v))) if *v < 0 => format!("{}%", -v),
            (Kind::MemoryPercent { .. }, Some(Val::Int(v))) => (*v as u64).to_string(),
            (Kind::Octal { .. }, Some(Val::Int(v))) => format!("{v:o}"),
            (Kind::NotifyKeyspaceEvents, Some(Val::Int(v))) => keyspace_events_string(*v as u32),
            (_, Some(Val::Int(v))) => v.to_string(),
            (_, Some(Val::Str(s))) => s.clone(),
            (_, None) => String::new(),
        }
    }

    /// Set one parameter from already-split arguments. `loading`: from the config file or
    /// the command line (save lines accumulate).
    fn apply(&mut self, d: &'static Def, args: &[&str], loading: bool) -> Result<(), String> {
        let current = self.str(d.name).to_string();
        let mut v = d.parse_args(args, Some(&current))?;
        match d.kind {
            Kind::Save if loading => {
                // `save ""` empties the list (the lines after it append again).
                if self.save_loaded && !current.is_empty() {
                    if let Val::Str(s) = &v {
                        if !s.is_empty() {
                            v = Val::Str(format!("{current} {s}"));
                        }
                    }
                }
                self.save_loaded = true;
            }
            Kind::Dir => {
                if let Val::Str(p) = &v {
                    std::env::set_current_dir(p).map_err(|e| strerror(&e))?;
                }
            }
            _ => {}
        }
        if d.name == "hz" {
            if let Val::Int(h) = v {
                v = Val::Int(h.clamp(1, 500));
            }
        }
        self.values.insert(d.name, v);
        Ok(())
    }

    /// CONFIG SET of one parameter (no mutability or protection check): the value split as
    /// CONFIG SET splits it, set, then Redis's apply step. On an error the configuration may
    /// be half-changed: CONFIG SET works on a copy.
    pub fn set_value(&mut self, d: &'static Def, raw: &str) -> Result<(), String> {
        let words = split_value(d, raw);
        self.apply(d, &words, false).and_then(|()| after_set(self, d))
    }

    /// Set from a config file line or command-line option (no mutability check).
    pub fn load(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let d = find_def(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        self.apply_loaded(d, args)
    }

    /// A loaded directive's arguments applied as Redis's loadServerConfigFromString applies
    /// them: one argument unless the config takes several, and a multi-argument config given
    /// a single non-empty argument has it split as a config line is
    /// (`client-output-buffer-limit "normal 0 0 0"`, `--save "900 1 300 10"`).
    fn apply_loaded(&mut self, d: &'static Def, args: &[String]) -> Result<(), String> {
        if !d.kind.multi_arg() && args.len() != 1 {
            return Err("wrong number of arguments".into());
        }
        if d.kind.multi_arg() && args.len() == 1 && !args[0].is_empty() {
            let words = crate::resp::parse::split_args(args[0].as_bytes()).unwrap_or_default();
            let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
            let a: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
            return self.apply(d, &a, true);
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        self.apply(d, &a, true)
    }

    /// Redis's rename-command: the command must exist under that name now (earlier lines
    /// may have renamed it), and the new name must be free once the old one is gone.
    fn rename_command(&mut self, from: &str, to: &str) -> Result<(), &'static str> {
        let (from, to) = (from.to_ascii_lowercase(), to.to_ascii_lowercase());
        let exists = |renames: &[(String, String)], name: &str| {
            // The last line that touched `name`, as the source or the target, decides.
            let mut present = crate::command::spec::lookup(name.as_bytes()).is_some();
            for (f, t) in renames {
                if f == name {
                    present = false;
                }
                if t == name {
                    present = true;
                }
            }
            present
        };
        if !exists(&self.renames, &from) {
            return Err("No such command in rename-command");
        }
        self.renames.push((from, String::new()));
        if !to.is_empty() {
            if exists(&self.renames, &to) {
                return Err("Target command name already exists");
            }
            if let Some(last) = self.renames.last_mut() {
                last.1 = to;
            }
        }
        Ok(())
    }

    pub fn set_parsed(&mut self, name: &'static str, v: Val) {
        self.values.insert(name, v);
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------- config file

/// Error text for a config file problem, as redis-server prints it before exiting.
pub fn fatal_config_error(line_no: usize, line: &str, reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{reason}\n",
        crate::REDIS_VERSION
    )
}

/// The same error when it concerns no particular line (e.g. the log file).
fn fatal_config_error_noline(reason: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n{reason}\n", crate::REDIS_VERSION)
}

/// Apply a whole config text (file contents followed by command-line options).
pub fn load_text(cfg: &mut Config, text: &str) -> Result<(), String> {
    load_text_depth(cfg, text, 0)?;
    cfg.save_loaded = false;
    let logfile = cfg.str("logfile").to_string();
    if !logfile.is_empty() {
        if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(&logfile) {
            return Err(fatal_config_error_noline(&format!("Can't open the log file: {}", strerror(&e))));
        }
    }
    Ok(())
}

fn load_text_depth(cfg: &mut Config, text: &str, depth: usize) -> Result<(), String> {
    for (i, raw_line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw_line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fatal = |reason: &str| fatal_config_error(line_no, line, reason);
        let Some(words) = crate::resp::parse::split_args(line.as_bytes()) else {
            return Err(fatal("Unbalanced quotes in configuration line"));
        };
        let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
        let Some((name, args)) = words.split_first() else { continue };
        let name = name.to_ascii_lowercase();
        if let Some(d) = find_def(&name) {
            if let Err(reason) = cfg.apply_loaded(d, args) {
                return Err(fatal(&reason));
            }
            continue;
        }
        match (name.as_str(), args.len()) {
            ("list-max-ziplist-entries" | "list-max-ziplist-value" | "lua-replicate-commands", 1) => {}
            ("include", 1) => {
                if depth >= 16 {
                    return Err(fatal("Too many nested include directives"));
                }
                let path = &args[0];
                let content = std::fs::read_to_string(path)
                    .map_err(|e| format!("Fatal error, can't open config file '{path}': {}\n", strerror(&e)))?;
                load_text_depth(cfg, &content, depth + 1)?;
            }
            ("rename-command", 2) => cfg.rename_command(&args[0], &args[1]).map_err(&fatal)?,
            ("user", n) if n >= 1 => {
                if let Err((i, reason)) = crate::server::acl::validate_line(args, &cfg.users) {
                    // Redis names argv[i] of the whole line (its index of the rule, which
                    // counts from the first rule: an argument two places earlier).
                    let shown = if i == 0 { "user" } else { &args[(i - 1).min(args.len() - 1)] };
                    return Err(fatal(&format!("Error in user declaration '{shown}': {reason}")));
                }
                cfg.users.push(args.to_vec());
            }
            ("loadmodule", n) if n >= 1 => return Err(fatal("Modules are not supported by cinnabar")),
            ("sentinel", _) => return Err(fatal("sentinel directive while not in sentinel mode")),
            _ if name.contains('.') => {
                if args.len() != 1 {
                    return Err(fatal("Module config specified without value"));
                }
                cfg.module_configs += 1;
            }
            _ => return Err(fatal("Bad directive or wrong number of arguments")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- CONFIG subcommands

fn has_glob(p: &[u8]) -> bool {
    p.iter().any(|c| matches!(c, b'*' | b'?' | b'['))
}

pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    let cfg = ctx.srv.config.read();
    // (key as replied, definition); Redis dedups on the reply key.
    let mut matches: Vec<(Vec<u8>, &'static Def)> = Vec::new();
    for pat in &ctx.args[2..] {
        if !has_glob(pat) {
            if matches.iter().any(|(k, _)| k.eq_ignore_ascii_case(pat)) {
                continue;
            }
            if let Some(d) = std::str::from_utf8(pat).ok().and_then(find_def) {
                matches.push((pat.to_vec(), d));
            }
            continue;
        }
        for d in DEFS {
            if d.hidden() {
                continue;
            }
            for key in std::iter::once(d.name).chain(d.alias) {
                if matches.iter().any(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes())) {
                    continue;
                }
                if glob_match(pat, key.as_bytes(), true) {
                    matches.push((key.as_bytes().to_vec(), d));
                }
            }
        }
    }
    ctx.out.map(matches.len());
    for (k, d) in matches {
        ctx.out.bulk(&k);
        ctx.out.bulk(cfg.render(d.name).as_bytes());
    }
    Ok(())
}

fn set_failed(arg: &str, reason: &str) -> Error {
    Error::msg(format!("ERR CONFIG SET failed (possibly related to argument '{arg}') - {reason}"))
}

fn is_local_client(addr: &str) -> bool {
    addr.starts_with("127.")
        || addr.starts_with("[::1]")
        || addr.starts_with("::1")
        || addr.is_empty()
        || addr.starts_with('/')
}

pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    if !args.len().is_multiple_of(2) {
        return Err(Error::msg("ERR syntax error"));
    }
    // Pass 1, as Redis: names, immutability, protection, duplicates; the first problem wins.
    let protected_setting = ctx.srv.config.read().str("enable-protected-configs").to_string();
    let local = is_local_client(&ctx.client.handle.addr);
    let mut staged: Vec<(&'static Def, String, &[u8])> = Vec::new();
    for pair in args.chunks(2) {
        let typed = String::from_utf8_lossy(pair[0]).into_owned();
        let Some(d) = find_def(&typed) else {
            return Err(Error::msg(format!("ERR Unknown option or number of arguments for CONFIG SET - '{typed}'")));
        };
        if !d.mutable() {
            return Err(set_failed(&typed, "can't set immutable config"));
        }
        if d.flags & PROTECTED != 0 && !(protected_setting == "yes" || (protected_setting == "local" && local)) {
            return Err(set_failed(&typed, "can't set protected config"));
        }
        // Redis compares the registered entries: a name and its alias are distinct entries.
        if staged.iter().any(|(s, t, _)| std::ptr::eq(*s, d) && is_alias_spelling(d, t) == is_alias_spelling(d, &typed))
        {
            return Err(set_failed(&typed, "duplicate parameter"));
        }
        staged.push((d, typed, pair[1]));
    }
    // Pass 2: set in order on a copy; the first invalid value aborts everything.
    let old_dir = std::env::current_dir().ok();
    let mut trial = ctx.srv.config.read().clone();
    for (d, typed, raw) in &staged {
        let res = trial.set_value(d, &String::from_utf8_lossy(raw));
        if let Err(reason) = res {
            if let Some(dir) = &old_dir {
                let _ = std::env::set_current_dir(dir);
            }
            // Redis names the entry it was setting: the alias when the alias was typed.
            let shown = if is_alias_spelling(d, typed) { d.alias.unwrap_or(d.name) } else { d.name };
            return Err(set_failed(shown, &reason));
        }
    }
    let old_tls = tls_apply(ctx.srv, &staged, &trial)?;
    if let Err(e) = rebind_if_changed(ctx.srv, &trial).and_then(|()| rebind_tls_if_changed(ctx.srv, &trial)) {
        if let Some(old) = old_tls {
            ctx.srv.tls.restore(old);
        }
        return Err(e);
    }
    let appendonly_was = ctx.srv.config.read().bool("appendonly");
    let maxmemory_was = ctx.srv.config.read().int("maxmemory");
    let maxmemory = trial.int("maxmemory");
    let requirepass = trial.str("requirepass").to_string();
    let requirepass_changed = ctx.srv.config.read().str("requirepass") != requirepass;
    *ctx.srv.config.write() = trial;
    ctx.srv.refresh_hot_config();
    crate::server::acl::cmd::apply_config(ctx.srv);
    if requirepass_changed {
        // requirepass is the default user's password (Redis's updateRequirePass).
        ctx.srv.acl.set_default_password((!requirepass.is_empty()).then_some(requirepass.as_bytes()));
    }
    crate::server::aof_cmds::apply_config(ctx.srv, appendonly_was);
    if maxmemory != maxmemory_was {
        crate::server::evict::apply_config(ctx.srv, maxmemory as u64);
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG SET port / bind take effect at once, as in Redis: listen on the new addresses
/// before the setting is stored; if that fails nothing changes (Redis's errors).
fn rebind_if_changed(srv: &crate::server::Server, trial: &Config) -> Result<(), Error> {
    // (binds, port) of a configuration; port 0 means no TCP listening.
    let listen_on = |c: &Config| {
        let port = c.int("port");
        let binds: Vec<String> =
            if port == 0 { Vec::new() } else { c.str("bind").split_whitespace().map(str::to_string).collect() };
        (binds, port as u16)
    };
    let (old, port_changed) = {
        let cur = srv.config.read();
        if cur.int("port") == trial.int("port") && cur.str("bind") == trial.str("bind") {
            return Ok(());
        }
        (listen_on(&cur), cur.int("port") != trial.int("port"))
    };
    let new = listen_on(trial);
    crate::net::rebind(srv, false, (&old.0, old.1), (&new.0, new.1)).map_err(|_| {
        if port_changed {
            set_failed("port", "Unable to listen on this port. Check server logs.")
        } else {
            set_failed("bind", "Failed to bind to specified addresses.")
        }
    })
}

/// CONFIG SET tls-port, and bind with a TLS port (Redis's applyTLSPort, applyBind): the
/// TLS listeners follow, as the plain ones do (`rebind_if_changed`, which has run). If they
/// cannot, a new bind is taken back from the plain port too.
fn rebind_tls_if_changed(srv: &crate::server::Server, trial: &Config) -> Result<(), Error> {
    let listen_on = |c: &Config| {
        let binds: Vec<String> = c.str("bind").split_whitespace().map(str::to_string).collect();
        (binds, c.int("tls-port") as u16)
    };
    let (old, old_plain) = {
        let cur = srv.config.read();
        let port_same = cur.int("tls-port") == trial.int("tls-port");
        if port_same && (cur.int("tls-port") == 0 || cur.str("bind") == trial.str("bind")) {
            return Ok(());
        }
        (listen_on(&cur), (listen_on(&cur).0, cur.int("port") as u16))
    };
    let new = listen_on(trial);
    crate::net::rebind(srv, true, (&old.0, old.1), (&new.0, new.1)).map_err(|_| {
        if new.1 != old.1 {
            set_failed("tls-port", "Unable to listen on this port. Check server logs.")
        } else {
            let plain = trial.int("port") as u16;
            if plain != 0 {
                let _ = crate::net::rebind(srv, false, (&new.0, plain), (&old_plain.0, old_plain.1));
            }
            set_failed("bind", "Failed to bind to specified addresses.")
        }
    })
}

/// Redis's applyTlsCfg and applyTLSPort, each run once, as Redis runs apply functions, for
/// the settings of the CONFIG SET that changed (the certificate, key and CA settings even
/// when set to the same value: Redis's VOLATILE_CONFIG, so that setting the same path
/// reloads the files). applyTlsCfg rebuilds the contexts when TLS is in use; applyTLSPort
/// builds them if there are none yet. New contexts are installed at once (the new TLS
/// listeners need them); the ones they replace are returned, to be put back if the rest
/// of the CONFIG SET fails. A failure leaves the contexts as they were and is Redis's error.
fn tls_apply(
    srv: &crate::server::Server,
    staged: &[(&'static Def, String, &[u8])],
    trial: &Config,
) -> Result<Option<Option<std::sync::Arc<crate::net::tls::Contexts>>>, Error> {
    const VOLATILE: &[&str] = &[
        "tls-cert-file",
        "tls-key-file",
        "tls-client-cert-file",
        "tls-client-key-file",
        "tls-dh-params-file",
        "tls-ca-cert-file",
        "tls-ca-cert-dir",
    ];
    let mut built = None;
    let (mut tls_cfg_done, mut tls_port_done) = (false, false);
    for (d, ..) in staged {
        let changed = VOLATILE.contains(&d.name) || srv.config.read().get(d.name) != trial.get(d.name);
        let build = match d.name {
            "tls-port" if changed && !tls_port_done => {
                tls_port_done = true;
                built.is_none() && !srv.tls.configured()
            }
            n if changed && !tls_cfg_done && n.starts_with("tls-") && n != "tls-auth-clients" && n != "tls-port" => {
                tls_cfg_done = true;
                crate::net::tls::wants_tls(trial)
            }
            _ => false,
        };
        if build {
            let contexts = crate::net::tls::build(trial).map_err(|why| {
                crate::server::log::log_at(srv, crate::server::log::WARNING, &why);
                crate::server::log::log_at(
                    srv,
                    crate::server::log::WARNING,
                    &format!(
                        "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
                        d.name
                    ),
                );
                set_failed(d.name, "Unable to update TLS configuration. Check server logs.")
            })?;
            built = Some(contexts);
        }
    }
    Ok(built.map(|c| srv.tls.replace(Some(std::sync::Arc::new(c)))))
}

/// What Redis's apply functions do after a CONFIG SET: the replication backlog is at least
/// 16kb. (TLS: `tls_apply`.)
fn after_set(cfg: &mut Config, d: &Def) -> Result<(), String> {
    match d.name {
        "repl-backlog-size" if cfg.int(d.name) < 16 * 1024 => {
            cfg.values.insert("repl-backlog-size", Val::Int(16 * 1024));
        }
        _ => {}
    }
    Ok(())
}

fn is_alias_spelling(d: &Def, typed: &str) -> bool {
    d.alias.is_some_and(|a| a.eq_ignore_ascii_case(typed))
}

pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.reset_stats();
    ctx.ks.reset_stats();
    ctx.out.ok();
    Ok(())
}

pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------- CONFIG REWRITE

const REWRITE_SIGNATURE: &str = "# Generated by CONFIG REWRITE";

/// Redis's rewriteConfigState.
struct RewriteState {
    lines: Vec<String>,
    /// option (primary name, lowercase) -> line indexes still holding it
    option_to_line: HashMap<String, Vec<usize>>,
    rewritten: std::collections::HashSet<String>,
    needs_signature: bool,
}

impl RewriteState {
    fn read(text: &str) -> RewriteState {
        let mut st = RewriteState {
            lines: Vec::new(),
            option_to_line: HashMap::new(),
            rewritten: Default::default(),
            needs_signature: true,
        };
        if text.is_empty() {
            return st;
        }
        for raw in text.split('\n') {
            let line = raw.trim_matches(|c| matches!(c, '\r' | '\n' | '\t' | ' ')).to_string();
            if line.is_empty() || line.starts_with('#') {
                if st.needs_signature && line == REWRITE_SIGNATURE {
                    st.needs_signature = false;
                }
                st.lines.push(line);
                continue;
            }
            let words = crate::resp::parse::split_args(line.as_bytes());
            let idx = st.lines.len();
            let first = words.as_ref().and_then(|w| w.first()).map(|w| String::from_utf8_lossy(w).to_ascii_lowercase());
            st.lines.push(line);
            let Some(mut opt) = first else { continue };
            if let Some(d) = find_def(&opt) {
                opt = d.name.to_string();
            } else if let Some(p) = opt.find("slave") {
                opt = format!("{}replica{}", &opt[..p], &opt[p + 5..]);
            }
            st.option_to_line.entry(opt).or_default().push(idx);
        }
        st
    }

    fn rewrite_line(&mut self, option: &str, line: String, force: bool) {
        self.rewritten.insert(option.to_string());
        let reuse = self.option_to_line.get_mut(option).filter(|l| !l.is_empty()).map(|l| l.remove(0));
        match reuse {
            Some(idx) => self.lines[idx] = line,
            None if force => {
                if self.needs_signature {
                    self.lines.push(REWRITE_SIGNATURE.to_string());
                    self.needs_signature = false;
                }
                self.lines.push(line);
            }
            None => {}
        }
    }

    fn mark(&mut self, option: &str) {
        self.rewritten.insert(option.to_string());
    }

    fn content(mut self) -> String {
        for (opt, idxs) in &self.option_to_line {
            if self.rewritten.contains(opt) {
                for &i in idxs {
                    self.lines[i].clear();
                }
            }
        }
        let mut out = String::new();
        let mut was_empty = false;
        for l in &self.lines {
            if l.is_empty() {
                if was_empty {
                    continue;
                }
                was_empty = true;
            } else {
                was_empty = false;
            }
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// The new text of the config file `old` once rewritten with the values of `cfg`.
pub fn rewrite_text(cfg: &Config, old: &str, users: &[Vec<u8>]) -> String {
    let mut st = RewriteState::read(old);
    for d in DEFS {
        let name = d.name;
        let cur = cfg.values.get(name).cloned().unwrap_or(Val::Str(String::new()));
        let def = d.default_val();
        let force = cur != def;
        match d.kind {
            Kind::Bool | Kind::Int { .. } | Kind::UInt { .. } | Kind::Enum(_) | Kind::Flags(_) => {
                st.rewrite_line(name, format!("{name} {}", cfg.render(name)), force);
            }
            Kind::Memory { .. } | Kind::UMemory { .. } => {
                st.rewrite_line(name, format!("{name} {}", format_memory(cfg.int(name))), force);
            }
            Kind::MemoryPercent { .. } => {
                let v = cfg.int(name);
                let text = if v < 0 { format!("{}%", -v) } else { format_memory(v) };
                st.rewrite_line(name, format!("{name} {text}"), force);
            }
            Kind::Octal { .. } => st.rewrite_line(name, format!("{name} {}", cfg.render(name)), force),
            Kind::Str => {
                let v = cfg.str(name);
                if v.is_empty() && d.flags & EMPTY_IS_NULL != 0 {
                    st.mark(name);
                } else {
                    st.rewrite_line(name, format!("{name} {}", repr(v)), v != d.default);
                }
            }
            Kind::Save => {
                let v = cfg.str(name);
                if v.is_empty() {
                    st.rewrite_line(name, "save \"\"".into(), true);
                } else {
                    let w: Vec<&str> = v.split(' ').collect();
                    for p in w.chunks(2) {
                        if p.len() == 2 {
                            st.rewrite_line(name, format!("save {} {}", p[0], p[1]), true);
                        }
                    }
                }
                st.mark(name);
            }
            Kind::Dir => match std::env::current_dir() {
                Ok(p) => st.rewrite_line(name, format!("dir {}", repr(&p.to_string_lossy())), true),
                Err(_) => st.mark(name),
            },
            Kind::ReplicaOf => {
                let v = cfg.str(name);
                if v.is_empty() {
                    st.mark(name);
                } else {
                    st.rewrite_line(name, format!("{name} {v}"), true);
                }
            }
            Kind::NotifyKeyspaceEvents => {
                let v = cfg.render(name);
                st.rewrite_line(name, format!("{name} {}", repr(&v)), !v.is_empty());
            }
            Kind::ClientOutputBufferLimit => {
                let cur = cobl_parse_canonical(cfg.str(name));
                let def = cobl_parse_canonical(COBL_DEFAULT);
                for (j, class) in ["normal", "replica", "pubsub"].iter().enumerate() {
                    let (h, s, sec) = cur[j];
                    st.rewrite_line(
                        name,
                        format!("{name} {class} {} {} {sec}", format_memory(h as i64), format_memory(s as i64)),
                        cur[j] != def[j],
                    );
                }
            }
            Kind::OomScoreAdjValues => {
                st.rewrite_line(name, format!("{name} {}", cfg.str(name)), force);
            }
            Kind::Bind => {
                let v = cfg.str(name);
                if v == d.default {
                    st.mark(name);
                } else if v.is_empty() {
                    st.rewrite_line(name, format!("{name} \"\""), true);
                } else {
                    st.rewrite_line(name, format!("{name} {v}"), true);
                }
            }
            Kind::Percentiles => {
                let v = cfg.str(name);
                let line = if v.is_empty() { format!("{name} \"\"") } else { format!("{name} {v}") };
                st.rewrite_line(name, line, true);
            }
        }
    }
    // ACL users: with an aclfile, user lines are dropped (the users live there); else
    // every user is written (Redis's rewriteConfigUserOption).
    if !cfg.str("aclfile").is_empty() {
        st.mark("user");
    } else {
        for line in users {
            st.rewrite_line("user", String::from_utf8_lossy(line).into_owned(), true);
        }
    }
    // Modules: none are loaded, so their lines stay.
    st.content()
}

/// Write `content` to `path` atomically (temporary file, fsync, rename), as Redis does.
fn overwrite_file(path: &str, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let res = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        // SAFETY: umask only swaps the process's file-creation mask; set it back at once.
        let mask = unsafe {
            let m = libc::umask(0);
            libc::umask(m);
            m
        };
        f.set_permissions(std::fs::Permissions::from_mode(0o644 & !(mask as u32)))?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

pub fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let path = ctx.srv.config_file.clone();
    if path.is_empty() || path == "-" {
        return Err(Error::msg("ERR The server is running without a config file"));
    }
    let old = match std::fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::msg(format!("ERR Rewriting config file: {}", strerror(&e)))),
    };
    let users = ctx.srv.acl.lines();
    let content = rewrite_text(&ctx.srv.config.read(), &old, &users);
    match overwrite_file(&path, &content) {
        Ok(()) => {
            crate::server::log::log(ctx.srv, "CONFIG REWRITE executed with success.");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            crate::server::log::log(ctx.srv, &format!("CONFIG REWRITE failed: {}", strerror(&e)));
            Err(Error::msg(format!("ERR Rewriting config file: {}", strerror(&e))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cfg: &mut Config, name: &str, raw: &str) -> Result<(), String> {
        let d = find_def(name).unwrap();
        let words = split_value(d, raw);
        cfg.apply(d, &words, false)
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for d in DEFS {
            assert!(seen.insert(d.name), "duplicate {}", d.name);
            if let Some(a) = d.alias {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
            if !matches!(d.kind, Kind::Dir | Kind::ReplicaOf) {
                assert!(d.parse(d.default).is_ok(), "default of {} does not parse", d.name);
            }
        }
        // What Redis 7.2's CONFIG GET * lists: the 192 visible entries of the 7.0 oracle,
        // less aof-disable-auto-gc (hidden in 7.2), plus 7.2's set-max-listpack-*,
        // locale-collate and cluster-announce-human-nodename.
        let visible: usize = DEFS.iter().filter(|d| !d.hidden()).map(|d| 1 + d.alias.is_some() as usize).sum();
        assert_eq!(visible, 192 - 1 + 4);
    }

    #[test]
    fn defaults_render() {
        let c = Config::new();
        assert_eq!(c.render("maxmemory"), "0");
        assert_eq!(c.render("save"), "3600 1 300 100 60 10000");
        assert_eq!(c.render("client-output-buffer-limit"), COBL_DEFAULT);
        assert_eq!(c.render("latency-tracking-info-percentiles"), "50 99 99.9");
        assert_eq!(c.render("unixsocketperm"), "0");
        assert_eq!(c.render("list-max-ziplist-size"), "-2");
        assert_eq!(c.render("appendfsync"), "everysec");
        assert_eq!(c.render("shutdown-on-sigint"), "default");
        assert_eq!(c.render("bind"), "* -::*");
        assert_eq!(c.str("maxmemory-policy"), "noeviction");
    }

    #[test]
    fn numbers() {
        let mut c = Config::new();
        assert_eq!(set(&mut c, "hz", "abc").unwrap_err(), "argument couldn't be parsed into an integer");
        assert_eq!(set(&mut c, "timeout", "-1").unwrap_err(), "argument must be between 0 and 2147483647 inclusive");
        assert_eq!(set(&mut c, "maxclients", "-1").unwrap_err(), "argument must be between 1 and 4294967295 inclusive");
        set(&mut c, "hz", "1000").unwrap();
        assert_eq!(c.render("hz"), "500");
        set(&mut c, "hz", "0").unwrap();
        assert_eq!(c.render("hz"), "1");
        set(&mut c, "list-max-listpack-size", "-5").unwrap();
        assert_eq!(c.render("list-max-ziplist-size"), "-5");
    }

    #[test]
    fn memory() {
        let mut c = Config::new();
        set(&mut c, "maxmemory", "100mb").unwrap();
        assert_eq!(c.render("maxmemory"), "104857600");
        set(&mut c, "maxmemory", "1K").unwrap();
        assert_eq!(c.int("maxmemory"), 1000);
        assert_eq!(set(&mut c, "maxmemory", "-1").unwrap_err(), "argument must be a memory value");
        assert_eq!(set(&mut c, "maxmemory", "1xb").unwrap_err(), "argument must be a memory value");
        assert_eq!(
            set(&mut c, "proto-max-bulk-len", "1").unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        set(&mut c, "maxmemory-clients", "10%").unwrap();
        assert_eq!(c.render("maxmemory-clients"), "10%");
        assert_eq!(
            set(&mut c, "maxmemory-clients", "101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(set(&mut c, "maxmemory-clients", "-5%").unwrap_err(), "argument must be a memory or percent value");
        assert_eq!(memtoull("18446744073709551615"), Some(u64::MAX));
        assert_eq!(memtoull("18446744073709551616"), Some(u64::MAX));
        assert_eq!(format_memory(1024 * 1024 * 3), "3mb");
        assert_eq!(format_memory(1500), "1500");
    }

    #[test]
    fn bools_and_enums() {
        let mut c = Config::new();
        assert_eq!(set(&mut c, "appendonly", "maybe").unwrap_err(), "argument must be 'yes' or 'no'");
        set(&mut c, "appendonly", "YES").unwrap();
        assert!(c.bool("appendonly"));
        set(&mut c, "maxmemory-policy", "ALLKEYS-LRU").unwrap();
        assert_eq!(c.render("maxmemory-policy"), "allkeys-lru");
        assert_eq!(
            set(&mut c, "appendfsync", "x").unwrap_err(),
            "argument(s) must be one of the following: everysec, always, no"
        );
        set(&mut c, "oom-score-adj", "relative").unwrap();
        assert_eq!(c.render("oom-score-adj"), "yes");
        set(&mut c, "shutdown-on-sigint", "now save force").unwrap();
        assert_eq!(c.render("shutdown-on-sigint"), "save now force");
        set(&mut c, "shutdown-on-sigint", "default now").unwrap();
        assert_eq!(c.render("shutdown-on-sigint"), "now");
        assert!(set(&mut c, "shutdown-on-sigint", "save nosave").unwrap_err().contains("SAVE and NOSAVE"));
        assert!(set(&mut c, "shutdown-on-sigint", "").is_err());
    }

    #[test]
    fn specials() {
        let mut c = Config::new();
        assert_eq!(set(&mut c, "save", "100").unwrap_err(), "Invalid save parameters");
        assert_eq!(set(&mut c, "save", "0 5").unwrap_err(), "Invalid save parameters");
        set(&mut c, "save", "100 10 20 0").unwrap();
        assert_eq!(c.render("save"), "100 10 20 0");
        set(&mut c, "save", "").unwrap();
        assert_eq!(c.render("save"), "");
        set(&mut c, "notify-keyspace-events", "KEA").unwrap();
        assert_eq!(c.render("notify-keyspace-events"), "AKE");
        set(&mut c, "notify-keyspace-events", "Ex").unwrap();
        assert_eq!(c.render("notify-keyspace-events"), "xE");
        assert!(set(&mut c, "notify-keyspace-events", "q").is_err());
        set(&mut c, "client-output-buffer-limit", "replica 1mb 2kb 5 pubsub 1gb 0 0").unwrap();
        assert_eq!(c.render("client-output-buffer-limit"), "normal 0 0 0 slave 1048576 2048 5 pubsub 1073741824 0 0");
        assert!(set(&mut c, "client-output-buffer-limit", "master 0 0 0")
            .unwrap_err()
            .starts_with("Invalid client class"));
        assert!(set(&mut c, "client-output-buffer-limit", "normal 0 0 -1").unwrap_err().starts_with("Error in hard"));
        assert!(set(&mut c, "client-output-buffer-limit", "normal 0 0").unwrap_err().starts_with("Wrong number"));
        assert_eq!(set(&mut c, "oom-score-adj-values", "1 2").unwrap_err(), "wrong number of arguments");
        set(&mut c, "oom-score-adj-values", "10 20 30").unwrap();
        assert_eq!(c.render("oom-score-adj-values"), "10 20 30");
        set(&mut c, "latency-tracking-info-percentiles", "1.5 99.99 0").unwrap();
        assert_eq!(c.render("latency-tracking-info-percentiles"), "1.5 99.99 0");
        assert!(set(&mut c, "latency-tracking-info-percentiles", "50 101").is_err());
        set(&mut c, "bind", "127.0.0.1 ::1").unwrap();
        assert_eq!(c.str("bind"), "127.0.0.1 ::1");
        assert_eq!(set(&mut c, "dbfilename", "a/b").unwrap_err(), "dbfilename can't be a path, just a filename");
    }

    #[test]
    fn file_loading() {
        let mut c = Config::new();
        load_text(&mut c, "# c\nsave 900 1\nsave 300 10\nbind 127.0.0.1 ::1\nclient-output-buffer-limit normal 1mb 0 0\nslaveof 10.0.0.1 6380\nhash-max-ziplist-entries 7\nrequirepass \"a b\"\nlist-max-ziplist-entries 5\n").unwrap();
        assert_eq!(c.render("save"), "900 1 300 10");
        assert_eq!(c.render("bind"), "127.0.0.1 ::1");
        assert_eq!(
            c.render("client-output-buffer-limit"),
            "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(c.render("replicaof"), "10.0.0.1 6380");
        assert_eq!(c.int("hash-max-listpack-entries"), 7);
        assert_eq!(c.str("requirepass"), "a b");
        let e = load_text(&mut Config::new(), "port 1\nfoo bar\n").unwrap_err();
        assert_eq!(e, "\n*** FATAL CONFIG FILE ERROR (Redis 7.2.6) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments\n");
        let e = load_text(&mut Config::new(), "maxmemory 1xb").unwrap_err();
        assert!(e.ends_with(">>> 'maxmemory 1xb'\nargument must be a memory value\n"));
        let e = load_text(&mut Config::new(), "maxmemory").unwrap_err();
        assert!(e.ends_with("wrong number of arguments\n"));
        let e = load_text(&mut Config::new(), "port \"abc").unwrap_err();
        assert!(e.ends_with("Unbalanced quotes in configuration line\n"));
        let mut c = Config::new();
        load_text(&mut c, "save \"\"\n").unwrap();
        assert_eq!(c.render("save"), "");
        assert!(load_text(&mut Config::new(), "replicaof a\n").unwrap_err().ends_with("wrong number of arguments\n"));
        assert!(load_text(&mut Config::new(), "user default on nopass ~* &* +@all\n").is_ok());
        assert!(load_text(&mut Config::new(), "user bob on >x ~* +@all\n").is_ok());
        // Redis's checks when a user line is read: a repeated user, a bad rule (named by
        // Redis's off-by-two index), an unknown command (accepted until it is applied).
        let e = load_text(&mut Config::new(), "user bob on\nuser bob off\n").unwrap_err();
        assert!(e.ends_with("Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files\n"), "{e}");
        let e = load_text(&mut Config::new(), "user bob on bogus\n").unwrap_err();
        assert!(e.ends_with("Error in user declaration 'bob': Syntax error\n"), "{e}");
        assert!(load_text(&mut Config::new(), "user bob on +nosuchcommand\n").is_ok());
        // `save ""` empties the list; the lines after it append again.
        let mut c = Config::new();
        load_text(&mut c, "save 900 1\nsave \"\"\nsave 100 2\n").unwrap();
        assert_eq!(c.render("save"), "100 2");
    }

    #[test]
    fn rename_command_lines() {
        let mut c = Config::new();
        load_text(&mut c, "rename-command get fetch\nrename-command flushall \"\"\nrename-command set get\n").unwrap();
        assert_eq!(c.renames.len(), 3);
        assert_eq!(c.renames[2], ("set".to_string(), "get".to_string()));
        let err = |text: &str| load_text(&mut Config::new(), text).unwrap_err();
        assert!(err("rename-command nosuch x\n").ends_with("\nNo such command in rename-command\n"));
        assert!(err("rename-command get set\n").ends_with("\nTarget command name already exists\n"));
        assert!(err("rename-command get x\nrename-command get y\n").ends_with("\nNo such command in rename-command\n"));
        assert!(err("rename-command get x\nrename-command set x\n").ends_with("\nTarget command name already exists\n"));
    }

    #[test]
    fn rewrite() {
        let mut c = Config::new();
        let old = "# top\nport 16430\nsave 900 1\nsave 300 10\nhash-max-ziplist-entries 100\nslave-read-only no\nmaxmemory 10mb\ninclude /x.conf\nhz 11\nhz 12\n\n\ntimeout 5\n";
        load_text(
            &mut c,
            "port 16430\nsave 900 1\nsave 300 10\nhash-max-ziplist-entries 100\nslave-read-only no\nhz 12\n",
        )
        .unwrap();
        set(&mut c, "maxmemory", "2gb").unwrap();
        set(&mut c, "timeout", "0").unwrap();
        set(&mut c, "notify-keyspace-events", "Ex").unwrap();
        let out = rewrite_text(&c, old, &[b"user default on nopass sanitize-payload ~* &* +@all".to_vec()]);
        let dir = std::env::current_dir().unwrap();
        let expect = format!("# top\nport 16430\nsave 900 1\nsave 300 10\nhash-max-listpack-entries 100\nreplica-read-only no\nmaxmemory 2gb\ninclude /x.conf\nhz 12\n\ntimeout 0\n\n# Generated by CONFIG REWRITE\ndir {}\nnotify-keyspace-events \"xE\"\nlatency-tracking-info-percentiles 50 99 99.9\nuser default on nopass sanitize-payload ~* &* +@all\n", repr(&dir.to_string_lossy()));
        assert_eq!(out, expect);
    }
}
