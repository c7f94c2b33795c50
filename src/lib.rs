//! cinnabar: a Redis-compatible in-memory data-structure server.
//!
//! Layers (see docs/ARCHITECTURE.md): `net` (sockets) -> `resp` (protocol) -> `command`
//! (table + dispatch) -> `types` (command handlers, one module per data type) -> `keyspace`
//! (databases, shards, locks, expiry) -> `data` (the value representations and Redis's byte
//! formats, which import only `util`); `persist` (RDB, AOF, DUMP/RESTORE) sits beside
//! `command` on top of `keyspace` and `data`; `server` holds configuration, INFO, CLIENT and
//! the cron.

pub mod command;
pub mod data;
pub mod keyspace;
pub mod net;
pub mod persist;
pub mod resp;
pub mod server;
pub mod types;
pub mod util;

/// The Redis version we are compatible with and report (clients gate features on it).
pub const REDIS_VERSION: &str = "7.2.6";

use std::sync::Arc;

/// Quote a command-line option value the way it must appear in a config line.
fn quote_arg(a: &str) -> String {
    let mut s = String::from("\"");
    for c in a.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Build the configuration text redis-server would: the config file (if the first
/// argument is not an option), then one line per `--name value...` option.
pub fn config_text(argv: &[String]) -> Result<(String, String), String> {
    let mut text = String::new();
    let mut file = String::new();
    let mut i = 0;
    if let Some(first) = argv.first() {
        if !first.starts_with("--") {
            file = first.clone();
            let content = if first == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| e.to_string())?;
                s
            } else {
                std::fs::read_to_string(first).map_err(|e| {
                    format!("Fatal error, can't open config file '{first}': {}", server::config::strerror(&e))
                })?
            };
            text.push_str(&content);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            i = 1;
        }
    }
    // Redis separates the file's text from the options with a newline, so an option's
    // line number in an error counts it.
    if i < argv.len() {
        text.push('\n');
    }
    let mut line = String::new();
    while i < argv.len() {
        let a = &argv[i];
        if let Some(name) = a.strip_prefix("--") {
            if !line.is_empty() {
                text.push_str(&line);
                text.push('\n');
            }
            line = name.to_string();
        } else if line.is_empty() {
            return Err(format!("Invalid argument: {a}"));
        } else {
            line.push(' ');
            line.push_str(&quote_arg(a));
        }
        i += 1;
    }
    if !line.is_empty() {
        text.push_str(&line);
        text.push('\n');
    }
    Ok((text, file))
}

pub fn main_with_args(argv: Vec<String>) -> i32 {
    if argv.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "Redis server v={} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=cinnabar-{}",
            REDIS_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: ./cinnabar-server [/path/to/redis.conf] [options] [-]\n       ./cinnabar-server -v or --version\n       ./cinnabar-server -h or --help\n\nExamples:\n       ./cinnabar-server (run the server with default conf)\n       ./cinnabar-server /etc/redis/6379.conf\n       ./cinnabar-server --port 7777\n       ./cinnabar-server /etc/myredis.conf --loglevel verbose -\n       ./cinnabar-server --io-threads 4");
        return 0;
    }
    let (text, file) = match config_text(&argv) {
        Ok(x) => x,
        Err(e) => {
            server::log::log_startup(None, server::log::WARNING, &e);
            return 1;
        }
    };
    let mut cfg = server::config::Config::new();
    if let Err(e) = server::config::load_text(&mut cfg, &text) {
        // The FATAL CONFIG FILE ERROR block is printed as it is, other errors (an include
        // that cannot be read) are log lines, as Redis writes them.
        if e.starts_with('\n') {
            eprint!("{e}");
        } else {
            server::log::log_startup(None, server::log::WARNING, e.trim_end());
        }
        return 1;
    }
    let threads = worker_count(&cfg);
    let binds: Vec<String> = cfg.str("bind").split_whitespace().map(|s| s.to_string()).collect();
    let port = cfg.int("port") as u16;
    let logfile = cfg.str("logfile").to_string();
    // Before any thread starts: fork(2) keeps only the calling thread, and the signal mask
    // set here is inherited by every thread started after it (`server::shutdown`).
    if cfg.bool("daemonize") {
        daemonize();
    }
    if !logfile.is_empty() {
        redirect_stderr(&logfile);
    }
    server::shutdown::block_signals();
    // Redis's start-up lines, which tools wait for in the log.
    {
        use server::log::{log_startup, NOTICE, WARNING};
        let level = Some(cfg.str("loglevel"));
        log_startup(level, NOTICE, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
        log_startup(
            level,
            NOTICE,
            &format!(
                "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={}, just started",
                std::process::id()
            ),
        );
        if argv.is_empty() {
            let exe = std::env::args().next().unwrap_or_else(|| "cinnabar-server".into());
            log_startup(level, WARNING, &format!("Warning: no config file specified, using the default config. In order to specify a config file use {exe} /path/to/redis.conf"));
        } else {
            log_startup(level, NOTICE, "Configuration loaded");
        }
    }
    let module_configs = cfg.module_configs;
    let srv = Arc::new(server::Server::new(cfg, threads, file));
    server::log::log(&srv, "monotonic clock: POSIX clock_gettime");
    // (The TLS port when there is no plain one, as Redis logs it.)
    let shown_port = if port != 0 { port as i64 } else { srv.config.read().int("tls-port") };
    server::log::log(&srv, &format!("Running mode=standalone, port={shown_port}."));
    if module_configs > 0 {
        server::log::log_at(
            &srv,
            server::log::WARNING,
            "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting",
        );
        return 1;
    }
    server::log::log(
        &srv,
        &format!("cinnabar {} (Redis {} compatible), {threads} threads", env!("CARGO_PKG_VERSION"), REDIS_VERSION),
    );
    server::log::log(&srv, "Server initialized");
    // With tls-port (or tls-replication / tls-cluster), the certificates must load, before
    // any data does (Redis's initListeners).
    if !net::tls::start_up(&srv) {
        return 1;
    }
    if let Err(e) = server::acl::load_at_startup(&srv) {
        server::log::log_at(&srv, server::log::WARNING, &e);
        return 1;
    }
    // Before the data is loaded, so a scrape can watch the load (redis_loading_dump_file),
    // and before the pid file, so a port in use leaves nothing behind.
    if let Err(e) = server::metrics::start(&srv) {
        server::log::log_at(&srv, server::log::WARNING, &format!("Warning: {e}"));
        return 1;
    }
    server::save::Rdb::init(&srv);
    server::shutdown::write_pidfile(&srv);
    // With appendonly on, the AOF is loaded instead (below): AOF wins over RDB, as in
    // Redis's loadDataFromDisk.
    if !srv.config.read().bool("appendonly") {
        server::save::load_at_startup(&srv);
    }
    if let Err(e) = server::shutdown::spawn_signal_thread(srv.clone()) {
        eprintln!("fatal: {e}");
        return 1;
    }
    // The AOF, when on, is loaded and opened before any client connects.
    if persist::aof::start_up(&srv).is_err() {
        return 1;
    }
    match net::run(srv, binds, port) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fatal: {e}");
            1
        }
    }
}

/// The number of workers: `threads` (our own name) if set, else `io-threads` (Redis's
/// name for its I/O threads; our workers do the I/O and run the commands) if above 1, else
/// one per core. CONFIG GET reports both as configured (io-threads 1 by default, as in
/// Redis, so CONFIG REWRITE pins no count); INFO's cinnabar_threads has the count in use.
fn worker_count(cfg: &server::config::Config) -> usize {
    match (cfg.int("threads"), cfg.int("io-threads")) {
        (n, _) if n > 0 => n as usize,
        (_, n) if n > 1 => n as usize,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

fn redirect_stderr(path: &str) {
    use std::os::unix::io::AsRawFd;
    if let Ok(f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        // SAFETY: dup2 onto our own stderr descriptor.
        unsafe {
            libc::dup2(f.as_raw_fd(), 2);
        }
    }
}

/// Redis's daemonize: the parent exits 0, the child leads a new session with standard input,
/// output and error on /dev/null (the log then goes to `logfile` if one is set, else nowhere).
/// `supervised` is accepted but inert: the server never notifies upstart or systemd.
fn daemonize() {
    // SAFETY: fork/setsid/dup2 before any thread is started, on descriptors we own.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {
                libc::setsid();
            }
            _ => libc::_exit(0),
        }
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0);
        if fd != -1 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}
