//! Start the real cinnabar-server binary on a free loopback port for a test, and stop it
//! when the test is done.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
    pub dir: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Spawn a server listening on a free loopback port: `command(port)` builds its command line.
/// The port is free when picked but may be taken before the server binds it (another test's
/// server, or a connection's local port): a server that exits, or a listener that belongs to
/// another process, means another port is tried.
pub fn spawn_listening(name: &str, command: impl Fn(u16) -> Command) -> (Child, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let ours = loop {
            if !matches!(child.try_wait(), Ok(None)) {
                break false; // exited: most likely the port was taken
            }
            if let Some(ours) = listener_is(child.id(), port) {
                break ours;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not start listening on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if ours {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{name} could not listen on a free port in 5 tries");
}

/// Whether the socket listening on 127.0.0.1:`port` is process `pid`'s: None while nothing
/// listens there (from /proc/net/tcp and the process's descriptors).
fn listener_is(pid: u32, port: u16) -> Option<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| f[9].to_string())
    })?;
    let socket = format!("socket:[{inode}]");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == socket)))
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cinnabar-it-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (child, port) = spawn_listening("cinnabar-server", |port| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_cinnabar-server"));
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .arg("--dir")
                .arg(&dir)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
        Server { port, child, dir }
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        s
    }

    /// The server process's CPU time so far (utime + stime, all threads), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("stat");
        // Fields after the command name's closing parenthesis: utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Send raw bytes and read until the peer closes or `want` bytes arrived.
pub fn exchange(stream: &mut TcpStream, send: &[u8], want: usize) -> (Vec<u8>, bool) {
    stream.write_all(send).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= want {
                    return (got, false);
                }
            }
            Err(_) => return (got, false),
        }
    }
}

/// An integer field of an INFO section.
pub fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok()).unwrap()
}

/// The oracle redis-server, found as tests/support.py finds it: CINNABAR_ORACLE (exported by
/// `make test`; empty means "no 7.2 build"), else the Redis 7.2.6 that tests/oracle.sh builds
/// into the cache, else the redis-server on PATH (Debian's 7.0), which is said on stderr once.
pub fn oracle_binary() -> std::path::PathBuf {
    static FOUND: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let named = std::env::var_os("CINNABAR_ORACLE");
            if let Some(path) = named.as_ref().filter(|p| !p.is_empty()) {
                return path.into();
            }
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
            let cached = cache.map(|c| c.join("cinnabar/redis-7.2.6/src/redis-server"));
            match cached.filter(|p| named.is_none() && p.exists()) {
                Some(path) => path,
                None => {
                    eprintln!("oracle: FALLBACK to the redis-server on PATH (Debian's 7.0), not Redis 7.2.6: build it with tests/oracle.sh");
                    "redis-server".into()
                }
            }
        })
        .clone()
}

/// redis-check-rdb or redis-check-aof of the oracle's own build (on PATH for the fallback).
pub fn oracle_tool(name: &str) -> std::path::PathBuf {
    let server = oracle_binary();
    match server.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) => dir.join(name),
        None => name.into(),
    }
}
