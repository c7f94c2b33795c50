//! Networking: listeners, worker threads, and the per-connection loop.
//!
//! Each worker is a thread running its own single-threaded tokio runtime; the acceptor
//! hands each new connection to the next worker, and the connection stays there. A
//! connection's loop (`connection_loop`) waits for input (`Conn::wait_for_input`), runs
//! the batch: parses every complete command in the buffer and hands each argument vector
//! to dispatch (`run_batch`, `run_command`), which decides whether it runs, waits for
//! CLIENT PAUSE (`Conn::hold_while_paused`) or goes to the scripts thread
//! (`Conn::run_scripts`); a command that blocked waits (`Conn::wait_blocked`); then all
//! replies go with one write (`Conn::write_replies`). Nothing here knows what a command
//! does.
//!
//! Listeners (`Listener`: TCP, the Unix socket, TLS) and connections (`Transport`) are
//! generic over the byte stream, so the loop is written once and compiled for each kind of
//! stream (TLS: `tls`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::command::dispatch::{self, BatchClock};
use crate::resp::parse::{ArgLoc, Limits, Parsed, Parser, BIG_ARG};
use crate::resp::write::ReplyWriter;
use crate::server::client::{self, Client};
use crate::server::log::{log, log_at};
use crate::server::scripting::Scripting;
use crate::server::Server;

pub mod tls;

/// Time commands with the CPU's time-stamp counter (`util::clock`) when the kernel says it
/// is invariant and is itself timing with it (the clocksource is "tsc"): then the counter
/// agrees with the monotonic clock on every core.
fn use_tsc_if_invariant() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource").unwrap_or_default();
    if has("constant_tsc") && has("nonstop_tsc") && source.trim() == "tsc" {
        if let Some(m) = crate::util::clock::measure_tsc(Duration::from_millis(5)) {
            crate::util::clock::use_tsc(m);
        }
    }
}

/// Task polls a worker makes before it polls its sockets again (tokio's default is 61).
const EVENT_INTERVAL: u32 = 256;

pub fn run(srv: Arc<Server>, binds: Vec<String>, port: u16) -> std::io::Result<()> {
    use_tsc_if_invariant();
    let threads = srv.threads;
    let mut handles = Vec::with_capacity(threads);
    for w in 0..threads {
        let (tx, rx) = std::sync::mpsc::channel();
        let (park, unpark, wake) = (srv.clone(), srv.clone(), srv.clone());
        std::thread::Builder::new().name(format!("worker-{w}")).spawn(move || {
            crate::server::pubsub::WorkerWakes::enter(w);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .event_interval(EVENT_INTERVAL)
                // Pushes from other threads to this worker's clients are woken here, before
                // the worker sleeps (and after each batch, `wake_pushed`), instead of each
                // push waking the worker's thread.
                .on_thread_park(move || {
                    park.worker_wakes[w].parking();
                    park.aof.before_sleep();
                })
                .on_thread_unpark(move || unpark.worker_wakes[w].awake())
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start worker runtime: {e}");
                    std::process::exit(1);
                }
            };
            let _ = tx.send(rt.handle().clone());
            let relay = wake.clone();
            rt.block_on(async move {
                tokio::spawn(async move { relay.aof.relay_durable(w).await });
                spin::spinner(move || {
                    wake.worker_wakes[w].wake_pushed();
                    wake.aof.before_sleep();
                })
                .await
            });
        })?;
        handles.push(rx.recv().map_err(std::io::Error::other)?);
    }
    Scripting::start_executor(&srv);
    // After the Lua state is made, as Redis measures it after its own set-up.
    crate::server::info::record_startup_memory();
    {
        let s = srv.clone();
        std::thread::Builder::new().name("cron".into()).spawn(move || s.cron())?;
        let s = srv.clone();
        // (The cron's gate: the evictor enters it shared, as the cron does.)
        std::thread::Builder::new()
            .name("evictor".into())
            .spawn(move || crate::server::evict::continue_evicting(&s, s.threads))?;
    }
    // Port 0: no TCP listening (a server reached through its Unix socket only).
    let listeners = match bind_all(&srv, if port == 0 { &[] } else { &binds }, port) {
        Ok(l) => l,
        Err(e) => {
            log(&srv, &format!("Warning: Could not create server TCP listening socket {e}"));
            std::process::exit(1);
        }
    };
    // tls-port: the same addresses, TLS (its contexts were built at start-up:
    // `tls::start_up`).
    let tls_port = srv.config.read().int("tls-port") as u16;
    let tls_listeners = match bind_all(&srv, if tls_port == 0 { &[] } else { &binds }, tls_port) {
        Ok(l) => l,
        Err(e) => {
            log(&srv, &format!("Warning: Could not create server TCP listening socket {e}"));
            log_at(&srv, 3, &format!("Failed listening on port {tls_port} (tls), aborting."));
            std::process::exit(1);
        }
    };
    let unix = match listen_unix(&srv) {
        Ok(l) => l,
        Err(e) => {
            log_at(&srv, 3, &format!("Failed opening Unix socket: {e}"));
            std::process::exit(1);
        }
    };
    if port == 0 && tls_port == 0 && unix.is_none() {
        log_at(&srv, 3, "Configured to not listen anywhere, exiting.");
        std::process::exit(1);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Relisten>();
    *srv.rebind.lock() = Some(tx);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let server = srv.clone();
    let request = rt.block_on(async move {
        // In Redis's order of connection types: tcp, unix, tls.
        if port != 0 {
            log(&srv, "Ready to accept connections tcp");
        }
        // The Unix socket stays as it is through CONFIG SET port / bind (unixsocket is
        // immutable).
        let mut unix_task = None;
        if let Some(listener) = unix.and_then(|l| UnixListener::from_std(l).ok()) {
            let path = srv.config.read().str("unixsocket").to_string();
            unix_task = Some(tokio::spawn(accept_loop(srv.clone(), UnixSocket { listener, path }, handles.clone())));
            log(&srv, "Ready to accept connections unix");
        }
        if tls_port != 0 {
            log(&srv, "Ready to accept connections tls");
        }
        // The accept tasks of a kind of listener (plain or TLS) on `listeners`.
        let spawn_all = |listeners: Vec<std::net::TcpListener>, tls: bool| {
            listeners
                .into_iter()
                .filter_map(|l| TcpListener::from_std(l).ok())
                .map(|l| match tls {
                    false => tokio::spawn(accept_loop(srv.clone(), l, handles.clone())),
                    true => tokio::spawn(accept_loop(srv.clone(), tls::TlsListener { tcp: l }, handles.clone())),
                })
                .collect::<Vec<_>>()
        };
        let mut tasks = [spawn_all(listeners, false), spawn_all(tls_listeners, true)];
        let stop = |tasks: &mut Vec<tokio::task::JoinHandle<()>>| {
            let tasks = std::mem::take(tasks);
            async move {
                for t in tasks {
                    t.abort();
                    let _ = t.await;
                }
            }
        };
        // CONFIG SET port / bind / tls-port: the new sockets replace the old ones of their
        // kind, which are closed (their accept tasks gone) before the sender is told. A
        // shutdown closes them all before the server stops (`server::shutdown`).
        loop {
            tokio::select! {
                relisten = rx.recv() => match relisten {
                    Some(Relisten { tls, listeners, done }) => {
                        stop(&mut tasks[tls as usize]).await;
                        tasks[tls as usize] = spawn_all(listeners, tls);
                        let _ = done.send(());
                    }
                    None => std::future::pending().await,
                },
                request = srv.shutdown.requested() => {
                    let [mut all, tls_tasks] = tasks;
                    all.extend(tls_tasks);
                    all.extend(unix_task.take());
                    stop(&mut all).await;
                    break request;
                }
            }
        }
    });
    crate::server::shutdown::finish(&server, request)
}

/// Listening sockets for `binds` (Redis's bind syntax: "*" and "::*" for every IPv4 / IPv6
/// address, a leading '-' for an address that may be missing) on `port`.
fn bind_all(srv: &Server, binds: &[String], port: u16) -> Result<Vec<std::net::TcpListener>, String> {
    let mut listeners = Vec::new();
    for b in binds {
        let host = b.trim_start_matches('-');
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let optional = b.starts_with('-');
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        match listen(&addr) {
            Ok(l) => listeners.push(l),
            Err(e) if optional => log(srv, &format!("Warning: could not bind {addr}: {e}")),
            Err(e) => return Err(format!("{addr}: {e}")),
        }
    }
    Ok(listeners)
}

/// New listening sockets for the accept thread (the plain port's or, `tls`, the TLS
/// port's), and how it says the old ones are closed.
pub struct Relisten {
    tls: bool,
    listeners: Vec<std::net::TcpListener>,
    done: std::sync::mpsc::Sender<()>,
}

/// Hand `listeners` to the accept thread in place of the current ones of their kind; back
/// once the old sockets are closed.
fn relisten(srv: &Server, tls: bool, listeners: Vec<std::net::TcpListener>) -> Result<(), String> {
    let (done, wait) = std::sync::mpsc::channel();
    let sent = srv.rebind.lock().as_ref().map(|tx| tx.send(Relisten { tls, listeners, done }).is_ok());
    if sent != Some(true) {
        return Err("not listening".into());
    }
    wait.recv_timeout(Duration::from_secs(5)).map_err(|_| "the accept thread did not answer".to_string())
}

/// CONFIG SET port / bind / tls-port, as Redis: a new port is bound before the old sockets
/// close; new addresses on the same port need the old sockets closed first, and are given
/// up for the old ones again if they cannot all be bound. Connections already open stay.
/// `tls`: the TLS port's listeners (port 0: none).
pub fn rebind(srv: &Server, tls: bool, old: (&[String], u16), new: (&[String], u16)) -> Result<(), String> {
    let bind = |(binds, port): (&[String], u16)| if port == 0 { Ok(Vec::new()) } else { bind_all(srv, binds, port) };
    if new.1 != old.1 {
        return relisten(srv, tls, bind(new)?);
    }
    relisten(srv, tls, Vec::new())?;
    match bind(new) {
        Ok(listeners) => relisten(srv, tls, listeners),
        Err(e) => {
            log(srv, &format!("Warning: Could not create server TCP listening socket {e}"));
            if let Ok(listeners) = bind(old) {
                let _ = relisten(srv, tls, listeners);
            }
            Err(e)
        }
    }
}

/// A listening socket like Redis's: SO_REUSEADDR, IPV6_V6ONLY on IPv6 (so "*" and "::*"
/// can both be bound), backlog 511 (tcp-backlog's default).
fn listen(addr: &str) -> std::io::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let domain = if sa.is_ipv6() { socket2::Domain::IPV6 } else { socket2::Domain::IPV4 };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if sa.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&sa.into())?;
    sock.listen(511)?;
    Ok(sock.into())
}

/// Apply tcp-keepalive (seconds; 0 = off) to an accepted connection.
fn set_keepalive(stream: &std::net::TcpStream, secs: u64) {
    if secs == 0 {
        return;
    }
    let sock = socket2::SockRef::from(stream);
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)));
    let _ = sock.set_tcp_keepalive(&ka);
}

/// The byte stream of a connection: everything the connection loop needs of it, so that
/// the loop is written once for TCP, Unix sockets and TLS, and compiled once for each
/// (generic, not `dyn`: no virtual call per request). Reads and writes go through tokio's
/// `AsyncRead` / `AsyncWrite`; the two methods here are what those lack.
///
/// A stream that can hold written bytes of its own (TLS: records encrypted for a full
/// socket) sends them from its reads and `poll_input`, which is where the loop waits
/// (`tls::TlsStream`).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Ready when a read would find input (or the end of the stream, or an error), without
    /// a buffer to read into: an idle connection gives its read buffer back
    /// (`resize_buffers`) and gets one only when a request arrives.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Write what the stream takes now without waiting; `WouldBlock` when it takes nothing.
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize>;
}

/// tokio's sockets have both natively (readiness without a buffer, a non-blocking write).
macro_rules! socket_transport {
    ($($stream:ty),*) => {$(
        impl Transport for $stream {
            #[inline]
            fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_read_ready(cx)
            }

            #[inline]
            fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.try_write(buf)
            }
        }
    )*};
}

socket_transport!(TcpStream, UnixStream);

/// What CLIENT LIST shows of an accepted connection's ends (`addr`, `laddr`, `fd`, flag U).
pub struct Peer {
    pub addr: String,
    pub laddr: String,
    pub unix: bool,
    pub fd: i32,
}

/// A listening socket of one kind: TCP, the Unix socket, TLS (`tls::TlsListener`). The
/// accept loop is written once for all of them.
trait Listener: Send + 'static {
    /// An accepted connection on its way to its worker, not yet tied to a runtime.
    type Accepted: Send + 'static;
    type Stream: Transport;

    /// The next connection, set up as Redis sets it up (TCP: keepalive, no delay).
    fn accept(&self, srv: &Server) -> impl Future<Output = io::Result<(Self::Accepted, Peer)>> + Send;

    /// The connection on its worker's runtime (run on the worker: TLS's handshake).
    fn register(
        accepted: Self::Accepted,
        srv: &Server,
        peer: &Peer,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for TcpListener {
    type Accepted = std::net::TcpStream;
    type Stream = TcpStream;

    async fn accept(&self, srv: &Server) -> io::Result<(std::net::TcpStream, Peer)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        let stream = stream.into_std()?;
        set_keepalive(&stream, srv.config.read().int("tcp-keepalive").max(0) as u64);
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().map(|a| fmt_addr(&a)).unwrap_or_default();
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(&stream);
        Ok((stream, Peer { addr: fmt_addr(&peer), laddr, unix: false, fd }))
    }

    async fn register(accepted: std::net::TcpStream, _srv: &Server, _peer: &Peer) -> io::Result<TcpStream> {
        TcpStream::from_std(accepted)
    }
}

/// The Unix socket (`unixsocket`) and its path, which is what CLIENT LIST shows as both ends
/// of its connections (`addr=/path:0 laddr=/path:0`, as Redis 7.2).
struct UnixSocket {
    listener: UnixListener,
    path: String,
}

impl Listener for UnixSocket {
    type Accepted = std::os::unix::net::UnixStream;
    type Stream = UnixStream;

    async fn accept(&self, _srv: &Server) -> io::Result<(std::os::unix::net::UnixStream, Peer)> {
        let (stream, _) = self.listener.accept().await?;
        let stream = stream.into_std()?;
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(&stream);
        let addr = format!("{}:0", self.path);
        Ok((stream, Peer { laddr: addr.clone(), addr, unix: true, fd }))
    }

    async fn register(accepted: std::os::unix::net::UnixStream, _srv: &Server, _peer: &Peer) -> io::Result<UnixStream> {
        UnixStream::from_std(accepted)
    }
}

/// The Unix socket `unixsocket` names, if any, as Redis makes it: a file already at the
/// path (a stale socket) removed first, backlog 511, mode `unixsocketperm` when not 0
/// (else the umask's).
fn listen_unix(srv: &Server) -> io::Result<Option<std::os::unix::net::UnixListener>> {
    let (path, perm) = {
        let cfg = srv.config.read();
        (cfg.str("unixsocket").to_string(), cfg.int("unixsocketperm"))
    };
    if path.is_empty() {
        return Ok(None);
    }
    let _ = std::fs::remove_file(&path);
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    sock.bind(&socket2::SockAddr::unix(&path)?)?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm as u32))?;
    }
    sock.listen(511)?;
    sock.set_nonblocking(true)?;
    Ok(Some(std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(sock))))
}

async fn accept_loop<L: Listener>(srv: Arc<Server>, listener: L, workers: Vec<tokio::runtime::Handle>) {
    let mut next = 0usize;
    loop {
        let (accepted, peer) = match listener.accept(&srv).await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let w = next % workers.len();
        next = next.wrapping_add(1);
        // Numbered here, in the order connections are accepted (as Redis numbers them):
        // numbered by the workers, two connections accepted one after the other could get
        // their ids the other way round, and CLIENT LIST lists by id.
        let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
        let srv = srv.clone();
        workers[w].spawn(async move {
            if let Ok(stream) = L::register(accepted, &srv, &peer).await {
                serve(srv, stream, peer, w, id).await;
            }
        });
    }
}

fn fmt_addr(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// Redis's reply to a connection refused by protected mode (clientAcceptHandler).
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (Redis's clientAcceptHandler): with protected-mode on and no password for
/// the default user, only loopback peers (127.0.0.0/8, ::1) and the Unix socket are
/// served; whatever the bind.
fn denied_by_protected_mode(protected: bool, password: bool, peer: &Peer) -> bool {
    protected && !password && !(peer.unix || peer.addr.starts_with("127.") || peer.addr.starts_with("[::1]:"))
}

async fn serve<S: Transport>(srv: Arc<Server>, mut stream: S, peer: Peer, worker: usize, id: u64) {
    // As Redis's acceptCommonHandler and clientAcceptHandler: maxclients first, then
    // protected mode; a refused connection counts in rejected_connections only.
    let max = srv.maxclients.load(Ordering::Relaxed) as usize;
    if srv.clients.lock().len() >= max {
        srv.stats.rejected_connections.add(worker, 1);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        let _ = stream.flush().await;
        return;
    }
    let protected = srv.config.read().bool("protected-mode");
    if denied_by_protected_mode(protected, !srv.acl.default_user().nopass, &peer) {
        srv.stats.rejected_connections.add(worker, 1);
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        let _ = stream.flush().await;
        return;
    }
    srv.stats.connections.add(worker, 1);
    let handle = client::register(&srv, id, peer, worker);
    let mut client = Client::new(handle.clone(), worker);
    srv.acl.start(&mut client);
    let mut conn = Conn::new(&srv, stream, handle, worker);
    connection_loop(&mut conn, &mut client).await;
    if srv.shutdown.is_closing() {
        // Closed by the shutdown: the replies it is owed go out whole first (bounded, for a
        // client that does not read them).
        let _ = tokio::time::timeout(crate::server::shutdown::GRACE, conn.close_gracefully()).await;
    }
    crate::server::conn::teardown(&srv, &mut client);
    client::unregister(&srv, client.id);
}

/// The arguments of the command the parser just completed, copied out of `buf` (the slice
/// it parsed).
fn owned_args(parser: &Parser, buf: &[u8]) -> Vec<Vec<u8>> {
    parser
        .args
        .iter()
        .map(|a| match a {
            ArgLoc::Range(s, e) => buf[*s..*e].to_vec(),
            ArgLoc::Owned(v) => v.clone(),
        })
        .collect()
}

/// The arguments of the command the parser completed at `base` in `rbuf`, borrowed.
#[inline]
fn argv<'b>(parser: &'b Parser, rbuf: &'b [u8], base: usize) -> smallvec::SmallVec<[&'b [u8]; 8]> {
    parser
        .args
        .iter()
        .map(|a| match a {
            ArgLoc::Range(s, e) => &rbuf[base + s..base + e],
            ArgLoc::Owned(v) => &v[..],
        })
        .collect()
}

/// A connection: its stream, buffers and output limits, while its commands run or it waits
/// (a blocked client, a command held by CLIENT PAUSE, a script on the scripts thread).
struct Conn<'s, S> {
    srv: &'s Server,
    worker: usize,
    stream: S,
    rbuf: Vec<u8>,
    out: ReplyWriter,
    handle: Arc<client::ClientHandle>,
    /// When the client's unsent replies stop being tolerated: past the soft
    /// client-output-buffer-limit, the soft seconds later (`Backlog::check`).
    backlog: Backlog,
    /// client-query-buffer-limit, as read at the start of the batch.
    qlimit: usize,
}

/// The state of the connection loop carried from one batch to the next, and the batch's own.
struct Batch<'s> {
    parser: Parser,
    /// Its hold is released before every wait and at the end of each batch; its
    /// command-name cache lasts for the connection (pipeline 1 is one command per batch).
    sticky: dispatch::Sticky<'s>,
    ahead: Prefetch,
    clock: BatchClock,
    /// The bytes of the read buffer the batch's commands took.
    consumed: usize,
    /// Commands of this batch (a client waiting for each reply sends one).
    commands: u32,
    /// The batch ends inside a big bulk: its buffer is being grown for it.
    mid_bulk: bool,
}

/// What the connection does after a command or a batch.
#[derive(PartialEq)]
enum Next {
    /// Go on with the next command (batch).
    Go,
    /// Write the replies so far, then close (a protocol error, QUIT, the query buffer limit).
    Close,
    /// Close now (killed, gone, past the hard output limit).
    Gone,
}

/// What the wait for input found (`Conn::wait_for_input`).
enum Input {
    Read,
    /// Pushes (Pub/Sub, invalidations) for the client: written after an empty batch.
    Pushed,
    Gone,
}

async fn connection_loop<S: Transport>(conn: &mut Conn<'_, S>, client: &mut Client) {
    let handle = conn.handle.clone();
    let mut batch = Batch {
        parser: Parser::default(),
        sticky: dispatch::Sticky::default(),
        ahead: Prefetch::default(),
        clock: BatchClock::new(),
        consumed: 0,
        commands: 0,
        mid_bulk: false,
    };
    // The only waiter on this client's outbox notification (`wait_for_input`).
    let mut pushed = std::pin::pin!(handle.outbox.notify.notified());
    loop {
        match conn.wait_for_input(pushed.as_mut()).await {
            Input::Gone => return,
            // Pub/Sub messages for this client: written below with whatever replies there
            // are. Let the other ready connections (publishers) run first, so that one
            // write carries their messages too, as Redis's one write per event-loop turn.
            Input::Pushed => {
                pushed.set(handle.outbox.notify.notified());
                tokio::task::yield_now().await
            }
            Input::Read => {}
        }
        if handle.killed.load(Ordering::Acquire) {
            return;
        }
        let mut next = run_batch(conn, client, &mut batch).await;
        if next == Next::Gone {
            return;
        }
        if !conn.write_replies(client, batch.commands).await {
            return;
        }
        conn.end_batch(batch.mid_bulk);
        if conn.rbuf.len() > conn.qlimit {
            query_buffer_overflow(conn.srv, conn.worker);
            next = Next::Close;
        }
        if next == Next::Close {
            conn.close().await;
            return;
        }
    }
}

/// Parse every complete command in the read buffer and run them in order; the replies go
/// to `conn.out`.
/// Replies of a batch beyond which each command's are held against the output limit.
const MID_BATCH_CHECK: usize = 64 * 1024;

async fn run_batch<'s, S: Transport>(conn: &mut Conn<'s, S>, client: &mut Client, b: &mut Batch<'s>) -> Next {
    let srv = conn.srv;
    // What CLIENT LIST / INFO of this client show while the batch runs (Redis's
    // querybuf, trimmed only after it).
    client.query_buf = (conn.rbuf.len() as u64, (conn.rbuf.capacity() - conn.rbuf.len()) as u64);
    conn.qlimit = srv.query_buffer_limit.load(Ordering::Relaxed) as usize;
    b.clock = BatchClock::new();
    b.consumed = 0;
    b.commands = 0;
    b.mid_bulk = false;
    b.ahead.reset();
    let mut next = Next::Go;
    while next == Next::Go {
        let limits = Limits {
            max_bulk_len: srv.proto_max_bulk_len.load(Ordering::Relaxed),
            authenticated: client.authenticated,
        };
        let parsed = match b.ahead.scanned(b.consumed, &limits, &mut b.parser.args) {
            Some(end) => Ok(Parsed::Command(end)),
            None => b.parser.parse(&conn.rbuf[b.consumed..], &limits),
        };
        match parsed {
            Ok(Parsed::Command(end)) => {
                b.commands += 1;
                next = match run_command_now(conn, client, b, end) {
                    Ok(next) => next,
                    Err(verdict) => run_command(conn, client, b, end, &limits, verdict).await,
                };
                // Replies past the hard output limit close the client before it runs more
                // of its batch, as Redis checks the limit as replies are added: a pipeline
                // of big GETs never holds more than the limit (plus one reply).
                if next == Next::Go
                    && conn.out.pending() > MID_BATCH_CHECK
                    && !conn.backlog.check(srv, &conn.handle, conn.out.pending())
                {
                    crate::server::pubsub::drop_over_limit(srv, &conn.handle);
                    next = Next::Gone;
                }
            }
            Ok(Parsed::Empty(n)) => b.consumed += n,
            Ok(Parsed::Incomplete { want }) => {
                // A big bulk is announced: grow geometrically towards it (no quadratic
                // re-copying), but never reserve more than we already hold plus 1 MiB
                // on a header's word alone.
                if want >= BIG_ARG {
                    b.mid_bulk = true;
                    let rbuf = &mut conn.rbuf;
                    let room = rbuf.capacity() - rbuf.len();
                    let step = want.min(rbuf.len().max(1 << 20));
                    if room < step {
                        rbuf.reserve(step);
                    }
                }
                break;
            }
            Err(e) => {
                conn.out.line_bytes(b'-', &e.message());
                next = Next::Close;
            }
        }
    }
    b.sticky.release();
    if b.consumed > 0 {
        conn.rbuf.drain(..b.consumed);
    }
    next
}

/// `run_command`'s common case, without an await (so without a future to build and drop
/// per command): the command the parser completed (`end` bytes at `b.consumed`) is
/// admitted by dispatch (`dispatch::admit`) and run here, or answered, and does not block.
/// Err: what is left for `run_command`, the verdict to act on (a pause, a script), or None
/// when the command ran and blocked (only the wait is left).
#[inline]
fn run_command_now<'s, S: Transport>(
    conn: &mut Conn<'s, S>,
    client: &mut Client,
    b: &mut Batch<'s>,
    end: usize,
) -> Result<Next, Option<dispatch::Verdict<'s>>> {
    let srv = conn.srv;
    let base = b.consumed;
    let args = argv(&b.parser, &conn.rbuf, base);
    // (Commands queued by MULTI touch no key until EXEC.)
    if client.multi.is_none() {
        b.ahead.step(srv, &mut b.sticky, client.db, &conn.rbuf, base, base + end, &b.parser.args);
    }
    match dispatch::admit(srv, client, &args, &mut conn.out, &mut b.sticky) {
        dispatch::Verdict::Run(cmd) => {
            dispatch::run_admitted(srv, client, cmd, &args, &mut conn.out, &mut b.clock, &mut b.sticky)
        }
        dispatch::Verdict::Answered => {}
        v => return Err(Some(v)),
    }
    drop(args);
    b.consumed = base + end;
    if client.blocked.is_some() {
        return Err(None);
    }
    Ok(if client.close_after_reply { Next::Close } else { Next::Go })
}

/// The rest of a command `run_command_now` could not finish: wait out CLIENT PAUSE (then
/// ask `dispatch::admit` again), run a script inline or hand it to the scripts thread,
/// wait while the command is blocked.
async fn run_command<'s, S: Transport>(
    conn: &mut Conn<'s, S>,
    client: &mut Client,
    b: &mut Batch<'s>,
    end: usize,
    limits: &Limits,
    verdict: Option<dispatch::Verdict<'s>>,
) -> Next {
    let srv = conn.srv;
    if let Some(mut verdict) = verdict {
        let base = b.consumed;
        let mut args = argv(&b.parser, &conn.rbuf, base);
        // CLIENT PAUSE: this command waits; the replies before it go out, and what the
        // client sends meanwhile is read (`park`), as Redis does. Then it is admitted again
        // (the reading may have moved the buffer `args` borrows).
        while let dispatch::Verdict::Pause { name, is_write } = verdict {
            drop(args);
            b.sticky.release();
            durable(srv, client).await;
            if !conn.hold_while_paused(client, name, is_write).await {
                return Next::Gone;
            }
            b.clock = BatchClock::new();
            args = argv(&b.parser, &conn.rbuf, base);
            verdict = dispatch::admit(srv, client, &args, &mut conn.out, &mut b.sticky);
        }
        match verdict {
            dispatch::Verdict::Run(cmd) => {
                dispatch::run_admitted(srv, client, cmd, &args, &mut conn.out, &mut b.clock, &mut b.sticky);
                drop(args);
                b.consumed = base + end;
            }
            dispatch::Verdict::Script => {
                // A script holds every gate, this worker's too.
                b.sticky.release();
                // A script known to be short, alone in the buffer, runs here, as Redis runs
                // it (a pipeline of scripts goes to the scripts thread as one job: one
                // exclusive hold of the keyspace after another on this worker would stall
                // the other workers more). With one worker there are no others to stall:
                // every short script runs here. So does EXEC of a transaction that queued a
                // script.
                let ran_here = (base + end == conn.rbuf.len() || srv.threads == 1)
                    && srv.scripting.runs_inline(&args)
                    && srv.scripting.execute_timed(srv, client, &args, &mut conn.out, &mut b.clock, true);
                if ran_here {
                    drop(args);
                    b.consumed = base + end;
                } else {
                    let first: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                    drop(args);
                    b.consumed = base + end;
                    let next = conn.run_scripts(client, b, first, limits).await;
                    if next != Next::Go {
                        return next;
                    }
                }
            }
            // (Pause: waited out above, never here.)
            dispatch::Verdict::Answered | dispatch::Verdict::Pause { .. } => {
                drop(args);
                b.consumed = base + end;
            }
        }
    }
    if let Some(w) = client.blocked.take() {
        b.sticky.release();
        // A blocking command found nothing: stop processing this client's commands until
        // the waiter is served, times out or is unblocked.
        client.publish();
        // Redis trims what it ran from its query buffer when a client blocks.
        let h = &conn.handle;
        h.qbuf.store((conn.rbuf.len() - b.consumed) as u64, Ordering::Relaxed);
        h.qbuf_free.store((conn.rbuf.capacity() - conn.rbuf.len()) as u64, Ordering::Relaxed);
        durable(srv, client).await;
        let keep = conn.wait_blocked(&w).await;
        crate::command::blocking::unregister(srv, client, &w);
        if !keep {
            return Next::Gone;
        }
        b.clock = BatchClock::new();
    }
    if client.close_after_reply {
        return Next::Close;
    }
    Next::Go
}

/// appendfsync always: before replies go out (after a batch, or before a wait that writes
/// the replies so far), the client's writes must be on disk (`persist::aof`). The worker
/// serves its other connections meanwhile; concurrent clients share the fsync.
#[inline]
async fn durable(srv: &Server, client: &mut Client) {
    if client.aof_ticket != 0 {
        let ticket = std::mem::take(&mut client.aof_ticket);
        srv.aof.wait_durable(ticket).await;
    }
}

/// A worker that runs out of ready connections keeps polling its sockets for a few
/// microseconds before it sleeps (ARCHITECTURE.md, "Polling before sleeping").
mod spin {
    use std::cell::Cell;
    use std::task::{Poll, Waker};

    /// How long after its last batch a worker polls instead of sleeping.
    const WINDOW_NS: u64 = 6_000;

    thread_local! {
        /// When this worker's last batch ended (`util::clock::now_ns`).
        static LAST: Cell<u64> = const { Cell::new(0) };
        /// The waiting spinner's waker, taken by the next batch.
        static WAITING: Cell<Option<Waker>> = const { Cell::new(None) };
    }

    /// A connection of this worker ran a batch.
    #[inline]
    pub fn busy() {
        LAST.with(|l| l.set(crate::util::clock::now_ns()));
        if let Some(w) = WAITING.with(Cell::take) {
            w.wake();
        }
    }

    /// The worker runtime's main future. Within `WINDOW_NS` of the last batch it yields:
    /// with a yielded task pending, tokio polls the sockets without blocking and runs what
    /// became ready, so the worker does not sleep between two requests that arrive a few
    /// microseconds apart. Past the window it waits for the next batch (and the runtime
    /// sleeps in `epoll_wait` as before). `wake_pushed` (the worker's `WorkerWakes`) runs on
    /// every turn of the window: a worker that polls is not parked, so other threads'
    /// pushes to its clients wait for it to look, as they do between batches.
    pub async fn spinner(wake_pushed: impl Fn()) {
        loop {
            let idle = crate::util::clock::now_ns().saturating_sub(LAST.with(Cell::get));
            if idle < WINDOW_NS {
                wake_pushed();
                tokio::task::yield_now().await;
                continue;
            }
            let mut registered = false;
            std::future::poll_fn(|cx| {
                // Woken: `busy` took the waker this future left.
                let woken = registered && WAITING.with(|w| w.take()).is_none();
                if woken {
                    return Poll::Ready(());
                }
                WAITING.with(|w| w.set(Some(cx.waker().clone())));
                registered = true;
                Poll::Pending
            })
            .await;
        }
    }
}

/// Lets the other tasks of this worker that are ready to run go first, once: the task wakes
/// itself, which puts it at the back of the worker's run queue. (Unlike
/// `tokio::task::yield_now`, which waits for the worker to poll the sockets first.)
#[derive(Default)]
struct BackOfQueue(bool);

impl std::future::Future for BackOfQueue {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Memory prefetching across a pipelined batch. Most of the time of a cheap command over a
/// big keyspace is spent waiting for two cache misses (the table slot, then the entry);
/// before each command runs, this asks for the entry of the next command's key (whose slot
/// it asked for one command earlier) and for the slot of the one after, so the misses of
/// a batch overlap with the work instead of following one another.
///
/// Commands on one big collection (HSET myhash field ..., SADD myset member ...) miss on
/// the member instead: the key's entry is in cache, the collection's table slot and entry
/// are not. When a command names the same key as the one before it, the same two stages
/// are requested for its member (`Peek::member`) in that key's hash, set or sorted set.
#[derive(Default)]
struct Prefetch {
    /// Where in the read buffer the commands not looked at yet start.
    pos: usize,
    /// The next command's key (and member), whose slot was requested.
    pending: Option<Pending>,
    /// The key of the last command looked at.
    last_key: Option<(usize, usize)>,
    /// Gave up for this batch (incomplete, inline or unusual request ahead).
    off: bool,
    /// Member prefetching found no collection table at the batch's key.
    no_members: bool,
    /// The commands ahead it scanned (at most two not run yet), for the parser to take
    /// instead of parsing them again (`Prefetch::scanned`).
    scanned: [Scanned; 2],
    /// The slot of `scanned` the next scan fills.
    turn: usize,
}

/// A command scanned ahead (`resp::parse::scan_request`): where it starts in the read
/// buffer, its length (0: none), its longest argument, its arguments (ranges from `at`).
#[derive(Default)]
struct Scanned {
    at: usize,
    len: usize,
    longest: usize,
    args: Vec<ArgLoc>,
}

enum Pending {
    /// A key, with its hash.
    Key(u64),
    Member((usize, usize), (usize, usize)),
}

impl Prefetch {
    /// Ready for a new batch (keeping the scan slots' allocations).
    fn reset(&mut self) {
        self.pos = 0;
        self.pending = None;
        self.last_key = None;
        self.off = false;
        self.no_members = false;
        for s in &mut self.scanned {
            s.len = 0;
        }
    }

    /// The command at `at`, if it was scanned ahead and the parser, with `limits`, would
    /// take it whole as the scan did (`Parser::parse`'s one-pass path): its arguments are
    /// swapped into `args` and its length returned.
    fn scanned(&mut self, at: usize, limits: &Limits, args: &mut Vec<ArgLoc>) -> Option<usize> {
        let s = self.scanned.iter_mut().find(|s| s.len > 0 && s.at == at)?;
        if !limits.authenticated || s.longest as u64 > limits.max_bulk_len.max(0) as u64 {
            return None;
        }
        std::mem::swap(&mut s.args, args);
        Some(std::mem::take(&mut s.len))
    }

    /// Called before the command from `start` to `end` in `rbuf`, whose arguments are
    /// `args`, runs.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        srv: &Server,
        sticky: &mut dispatch::Sticky,
        db: usize,
        rbuf: &[u8],
        start: usize,
        end: usize,
        args: &[ArgLoc],
    ) {
        if self.off {
            return;
        }
        if end > self.pos {
            if end == rbuf.len() {
                // The batch is this one command (pipeline 1): nothing ahead to prefetch.
                self.off = true;
                return;
            }
            // First command of the batch: request the slots of the next two.
            self.last_key =
                crate::resp::parse::peek_args(&rbuf[start..end], args).0.map(|(s, e)| (start + s, start + e));
            self.pos = end;
            self.request(srv, sticky, db, rbuf);
            if !self.off {
                self.request(srv, sticky, db, rbuf);
            }
            return;
        }
        match self.pending.take() {
            Some(Pending::Key(h)) => srv.ks.prefetch_hashed(db, h, true),
            Some(Pending::Member(k, m)) if !Self::member(srv, sticky, db, &rbuf[k.0..k.1], &rbuf[m.0..m.1], true) => {
                self.no_members = true;
            }
            _ => {}
        }
        self.request(srv, sticky, db, rbuf);
    }

    /// Prefetch a member's stage, through the batch's kept hold if it has the shard.
    fn member(srv: &Server, sticky: &mut dispatch::Sticky, db: usize, key: &[u8], member: &[u8], entry: bool) -> bool {
        sticky.prefetch_member(db, key, member, entry).unwrap_or_else(|| srv.ks.prefetch_member(db, key, member, entry))
    }

    /// Look at the command at `pos` and request its key's slot, or its member's slot when
    /// the key is the previous command's.
    fn request(&mut self, srv: &Server, sticky: &mut dispatch::Sticky, db: usize, rbuf: &[u8]) {
        let slot = &mut self.scanned[self.turn];
        slot.args.clear();
        let Some((len, longest)) = crate::resp::parse::scan_request(&rbuf[self.pos..], i64::MAX, &mut slot.args) else {
            self.off = true;
            return;
        };
        (slot.at, slot.len, slot.longest) = (self.pos, len, longest);
        self.turn ^= 1;
        let (key, member) = crate::resp::parse::peek_args(&rbuf[self.pos..], &slot.args);
        let at = |r: Option<(usize, usize)>| r.map(|(s, e)| (self.pos + s, self.pos + e));
        let key = at(key);
        let same = |a: (usize, usize), b: (usize, usize)| rbuf[a.0..a.1] == rbuf[b.0..b.1];
        self.pending = match (key, at(member), self.last_key) {
            (Some(k), Some(m), Some(last)) if !self.no_members && same(k, last) => {
                if Self::member(srv, sticky, db, &rbuf[k.0..k.1], &rbuf[m.0..m.1], false) {
                    Some(Pending::Member(k, m))
                } else {
                    self.no_members = true;
                    None
                }
            }
            // The key of the command before: its entry is in cache already.
            (Some(k), _, Some(last)) if same(k, last) => None,
            (Some(k), ..) => {
                let h = crate::keyspace::key_hash(&rbuf[k.0..k.1]);
                srv.ks.prefetch_hashed(db, h, false);
                Some(Pending::Key(h))
            }
            (None, ..) => None,
        };
        self.last_key = key;
        self.pos += len;
    }
}

/// A client's query buffer went over client-query-buffer-limit: log and count it (the
/// caller closes the connection).
fn query_buffer_overflow(srv: &Server, worker: usize) {
    log(srv, "Closing client that reached max query buffer length");
    srv.stats.query_buffer_disconnections.add(worker, 1);
}

impl<'s, S: Transport> Conn<'s, S> {
    fn new(srv: &'s Server, stream: S, handle: Arc<client::ClientHandle>, worker: usize) -> Self {
        Conn {
            srv,
            worker,
            stream,
            rbuf: Vec::with_capacity(16 * 1024),
            out: ReplyWriter::new(false),
            handle,
            backlog: Backlog::default(),
            qlimit: 0,
        }
    }

    /// Wait until the client sent something (read into `rbuf`), writing the replies still
    /// waiting for the socket as it takes them (`pump`). One notification for both pushes
    /// and CLIENT KILL (`ClientHandle::kill` rings the outbox's too), the read polled
    /// first: no random branch order. Pushes are written after every batch anyway, and a
    /// kill is looked at after every read. The waiter (`pushed`) stays registered from one
    /// turn to the next until it fires, instead of being added to the notification's list
    /// and removed again on every turn.
    async fn wait_for_input(&mut self, mut pushed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) -> Input {
        // Read what is available (growing the buffer for big bulks in one step). An idle
        // connection that gave its buffer back gets one when a request arrives (`pump`).
        if self.rbuf.capacity() - self.rbuf.len() < 4096 && self.rbuf.capacity() > 0 {
            self.rbuf.reserve(16 * 1024);
        }
        // `timeout`: an idle client is closed silently, as Redis does; replies the socket
        // takes count as activity (Redis's lastinteraction moves on writes too).
        let timeout = self.srv.timeout_secs.load(Ordering::Relaxed);
        let idle_limit =
            |timeout: u64| (timeout > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(timeout));
        let mut idle_until = idle_limit(timeout);
        loop {
            let soft_until = self.backlog.soft_until;
            tokio::select! {
                biased;
                io = pump(self.srv, self.worker, &mut self.stream, &mut self.rbuf, &mut self.out) => match io {
                    Io::Read => return Input::Read,
                    Io::Closed => return Input::Gone,
                    Io::Wrote => {
                        settle(&mut self.out, &self.handle);
                        self.backlog.check(self.srv, &self.handle, self.out.pending());
                        idle_until = idle_limit(timeout);
                    }
                },
                _ = pushed.as_mut() => {
                    return if self.handle.killed.load(Ordering::Acquire) { Input::Gone } else { Input::Pushed };
                }
                _ = sleep_until(soft_until) => {
                    crate::server::pubsub::drop_over_limit(self.srv, &self.handle);
                    return Input::Gone;
                }
                _ = sleep_until(idle_until) => return Input::Gone,
            }
        }
    }

    /// Hand a script call (`first`, just taken from the buffer) to the scripts thread, so
    /// that this worker stays free to answer other clients (BUSY, SCRIPT KILL) while one
    /// runs long. The script calls that follow it in the buffer go in the same job (one
    /// thread hop for a whole pipeline of EVALSHAs); the first other command waits for the
    /// job, then runs here.
    async fn run_scripts(
        &mut self,
        client: &mut Client,
        b: &mut Batch<'s>,
        first: Vec<Vec<u8>>,
        limits: &Limits,
    ) -> Next {
        let srv = self.srv;
        let mut batch: Vec<Vec<Vec<u8>>> = vec![first];
        let mut next: Option<Vec<Vec<u8>>> = None;
        let mut proto_error = None;
        while batch.len() < 256 {
            match b.parser.parse(&self.rbuf[b.consumed..], limits) {
                Ok(Parsed::Command(e)) => {
                    let cmd = owned_args(&b.parser, &self.rbuf[b.consumed..]);
                    b.consumed += e;
                    if crate::resp::parse::is_script_call(&cmd[0]) {
                        batch.push(cmd);
                    } else {
                        next = Some(cmd);
                        break;
                    }
                }
                Ok(Parsed::Empty(n)) => b.consumed += n,
                Ok(Parsed::Incomplete { .. }) => break,
                Err(e) => {
                    proto_error = Some(e);
                    break;
                }
            }
        }
        let real = std::mem::replace(client, Client::new(self.handle.clone(), client.worker));
        match srv.scripting.submit(real, batch, self.out.resp3) {
            Ok(wait) => match wait.await {
                Ok((c, reply)) => {
                    *client = c;
                    self.out.buf.extend_from_slice(&reply);
                }
                Err(_) => return Next::Gone,
            },
            Err((real, batch)) => {
                *client = real;
                for cmd in &batch {
                    let argv: smallvec::SmallVec<[&[u8]; 8]> = cmd.iter().map(|a| &a[..]).collect();
                    dispatch::execute(srv, client, &argv, &mut self.out, &mut b.clock);
                }
            }
        }
        b.clock = BatchClock::new();
        if let Some(cmd) = next {
            let argv: smallvec::SmallVec<[&[u8]; 8]> = cmd.iter().map(|a| &a[..]).collect();
            dispatch::execute(srv, client, &argv, &mut self.out, &mut b.clock);
        }
        if let Some(e) = proto_error {
            self.out.line_bytes(b'-', &e.message());
            return Next::Close;
        }
        Next::Go
    }

    /// After a batch: BCAST invalidations and pushes, then the replies, with what the socket
    /// takes now. False: close the connection now (past the hard output limit, a write
    /// error).
    async fn write_replies(&mut self, client: &mut Client, commands: u32) -> bool {
        let srv = self.srv;
        durable(srv, client).await;
        // BCAST invalidations of the keys this batch modified (Redis sends them once per
        // event-loop iteration), then whatever was pushed to this client.
        crate::server::tracking::broadcast(srv);
        srv.worker_wakes[self.worker].wake_pushed();
        if commands > 1 && !self.out.is_empty() {
            // A pipelined batch writes after the other connections that are ready in this
            // turn of the worker have run their commands: the replies of one turn then go
            // out together, as Redis writes them all before it sleeps, and a client woken
            // by the first one finds the others ready instead of each write waking it
            // again. A batch of one command (a client waiting for each reply) writes at
            // once: the detour costs about 350 instructions a request for no measured gain.
            BackOfQueue::default().await;
        }
        self.handle.outbox.drain_into(&mut self.out.buf);
        // What CLIENT LIST shows of this client (its last command...) is published before
        // the replies go out: a client that reads a reply and then asks, on another
        // connection, about this one must see the command it answered.
        client.publish();
        if self.out.pending() > 0 {
            // client-output-buffer-limit of the client's class (`Backlog::check`); then what
            // the socket takes now. The rest waits for the socket while the client is read
            // (`wait_for_input`): Redis queues the replies of a client that does not read
            // yet, within these limits only.
            if !self.backlog.check(srv, &self.handle, self.out.pending()) {
                crate::server::pubsub::drop_over_limit(srv, &self.handle);
                return false;
            }
            match write_now(&mut self.stream, &self.out.buf[self.out.sent..]) {
                Ok(n) => {
                    srv.stats.net_output_bytes.add(self.worker, n as u64);
                    srv.stats.writes.add(self.worker, 1);
                    self.out.sent += n;
                }
                Err(_) => return false,
            }
            settle(&mut self.out, &self.handle);
            self.backlog.check(srv, &self.handle, self.out.pending());
        }
        true
    }

    /// After the write: the buffers resized, and what CLIENT LIST shows of them published.
    fn end_batch(&mut self, mid_bulk: bool) {
        spin::busy();
        resize_buffers(&mut self.rbuf, &mut self.out, mid_bulk, &self.handle);
        let h = &self.handle;
        h.qbuf.store(self.rbuf.len() as u64, Ordering::Relaxed);
        h.qbuf_free.store((self.rbuf.capacity() - self.rbuf.len()) as u64, Ordering::Relaxed);
        h.reply_cap.store(self.out.buf.capacity() as u64, Ordering::Relaxed);
    }

    /// Close after the replies still waiting went out (Redis's close-after-reply). The end
    /// of the stream waits for the socket too (TLS: the records rustls holds, then
    /// close_notify), so CLIENT KILL ends the wait for a client that does not read.
    async fn close(&mut self) {
        let handle = self.handle.clone();
        tokio::select! {
            _ = async {
                let _ = self.write_pending().await;
                let _ = self.stream.shutdown().await;
            } => {}
            _ = handle.kill_notify.notified() => {}
        }
    }

    /// Write the replies the stream has not taken yet, `out.sent` following each write: a
    /// caller that stops waiting knows exactly what went out.
    async fn write_pending(&mut self) -> io::Result<()> {
        while self.out.pending() > 0 {
            match self.stream.write(&self.out.buf[self.out.sent..]).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.out.sent += n,
            }
        }
        Ok(())
    }

    /// Write the replies still owed, end the stream, and read and drop what the client still
    /// sends until it closes its end or stops sending for a moment: closing a socket with
    /// unread input, or receiving input after closing it, resets the connection, and the
    /// reset throws away the replies the client has not received yet. (A quiet client is not
    /// waited for: an idle pooled connection would otherwise hold up every shutdown.)
    async fn close_gracefully(&mut self) -> io::Result<()> {
        self.write_pending().await?;
        let _ = self.stream.shutdown().await;
        let mut sink = vec![0u8; 16 * 1024];
        while let Ok(n) = tokio::time::timeout(Duration::from_millis(100), self.stream.read(&mut sink)).await {
            if n? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Wait for `until` while the replies so far go out and what the client sends is
    /// buffered, not run (a command held by CLIENT PAUSE, a blocked client): Redis keeps
    /// reading a client it does not serve yet, up to client-query-buffer-limit. None: close
    /// the connection.
    async fn park<F: Future>(&mut self, until: F) -> Option<F::Output> {
        let mut until = std::pin::pin!(until);
        loop {
            if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                self.rbuf.reserve(16 * 1024);
            }
            let step = tokio::select! {
                biased;
                v = until.as_mut() => return Some(v),
                _ = self.handle.kill_notify.notified() => return None,
                step = pump(self.srv, self.worker, &mut self.stream, &mut self.rbuf, &mut self.out) => step,
            };
            match step {
                Io::Closed => return None,
                Io::Wrote => settle(&mut self.out, &self.handle),
                Io::Read if self.rbuf.len() > self.qlimit => {
                    query_buffer_overflow(self.srv, self.worker);
                    return None;
                }
                Io::Read => {}
            }
        }
    }

    /// Wait for a blocked client's waiter while the replies before it go out and what the
    /// client sends is buffered (`park`). False: close the connection.
    async fn wait_blocked(&mut self, w: &crate::keyspace::blocking::Waiter) -> bool {
        loop {
            if let Some(reply) = w.outcome() {
                if let Some(reply) = reply {
                    // (The ticket of the pop that served it: durable before the reply.)
                    let ticket = w.aof_ticket.load(Ordering::Relaxed);
                    if ticket != 0 {
                        self.srv.aof.wait_durable(ticket).await;
                    }
                    self.out.buf.extend_from_slice(&reply);
                }
                return true;
            }
            // True: the timeout passed.
            let woken = async move {
                tokio::select! {
                    _ = w.notify.notified() => false,
                    _ = sleep_until(w.deadline.map(tokio::time::Instant::from_std)) => true,
                }
            };
            match self.park(woken).await {
                None => {
                    w.cancel_with(None);
                    return false;
                }
                Some(true) => {
                    if w.cancel_with(Some(w.timeout_reply.clone())) {
                        self.srv.slowlog.push_unblocked(&self.handle, w);
                    } else {
                        // Being served right now: the reply is coming.
                        w.notify.notified().await;
                    }
                }
                Some(false) => {}
            }
        }
    }

    /// Hold the client while CLIENT PAUSE holds its command (`dispatch::Verdict::Pause`),
    /// looking again whenever the pause changes (extended, made stricter, lifted by
    /// UNPAUSE) or ends; meanwhile its replies so far go out and what it sends is read
    /// (`park`). It counts as blocked (INFO blocked_clients, flag b) and CLIENT LIST shows
    /// the held command, as Redis shows a postponed client. False if the client was killed
    /// or went away meanwhile.
    async fn hold_while_paused(&mut self, client: &mut Client, name: &'static str, is_write: bool) -> bool {
        client.last_command = name;
        client.publish();
        let srv = self.srv;
        self.handle.paused.store(true, Ordering::Relaxed);
        srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
        let lifted = async {
            loop {
                // Registered before the pause is read: a change made after the read still
                // wakes us.
                let changed = srv.pause_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let Some(wait) = srv.pause_remaining(is_write) else { break };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = changed => {}
                }
            }
        };
        let alive = self.park(lifted).await.is_some() && !self.handle.killed.load(Ordering::Acquire);
        self.handle.paused.store(false, Ordering::Relaxed);
        srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
        alive
    }
}

/// What one step of a connection's I/O did (`pump`).
enum Io {
    Read,
    Wrote,
    Closed,
}

/// One step of a connection's I/O: read what the client sent into `rbuf`, or write some of
/// the replies the socket has not taken yet (`ReplyWriter::pending`), whichever can go first
/// (the read if both). Redis reads a client whose replies wait for the socket: a client
/// that writes its whole pipeline before it reads (redis-py's pipeline) would otherwise
/// wait for us while we wait for it. Both directions are polled on the one stream (no
/// split halves, which a TLS stream does not have).
async fn pump<S: Transport>(
    srv: &Server,
    worker: usize,
    stream: &mut S,
    rbuf: &mut Vec<u8>,
    out: &mut ReplyWriter,
) -> Io {
    let waiting = &out.buf[out.sent..];
    let r = std::future::poll_fn(|cx| {
        if rbuf.capacity() == rbuf.len() {
            // An idle connection gave its buffer back (`resize_buffers`).
            match stream.poll_input(cx) {
                Poll::Ready(Ok(())) => rbuf.reserve(16 * 1024),
                Poll::Ready(Err(e)) => return Poll::Ready(Ok(Err(e))),
                Poll::Pending => {}
            }
        }
        if rbuf.capacity() > rbuf.len() {
            let mut buf = ReadBuf::uninit(rbuf.spare_capacity_mut());
            if let Poll::Ready(r) = Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                let n = buf.filled().len();
                // SAFETY: `poll_read` initialised the `n` bytes it filled, which follow
                // `rbuf`'s length within its capacity.
                unsafe { rbuf.set_len(rbuf.len() + n) };
                return Poll::Ready(Ok(r.map(|()| n)));
            }
        }
        if !waiting.is_empty() {
            if let Poll::Ready(r) = Pin::new(&mut *stream).poll_write(cx, waiting) {
                return Poll::Ready(Err(r));
            }
        }
        Poll::Pending
    })
    .await;
    match r {
        Ok(Ok(n)) if n > 0 => {
            srv.stats.net_input_bytes.add(worker, n as u64);
            srv.stats.reads.add(worker, 1);
            Io::Read
        }
        Err(Ok(n)) if n > 0 => {
            srv.stats.net_output_bytes.add(worker, n as u64);
            srv.stats.writes.add(worker, 1);
            out.sent += n;
            Io::Wrote
        }
        _ => Io::Closed,
    }
}

/// Write as much of `buf` as the stream takes without waiting.
fn write_now<S: Transport>(stream: &mut S, buf: &[u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match stream.try_write_now(&buf[n..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// After a write: forget what the socket took (the buffer emptied, or its written part
/// dropped once it is at least half the buffer, so that the replies of a client far behind
/// are not moved for every write), and publish how much waits (CLIENT LIST, INFO).
fn settle(out: &mut ReplyWriter, handle: &client::ClientHandle) {
    if out.sent == out.buf.len() {
        out.buf.clear();
        out.sent = 0;
        if out.buf.capacity() > 1 << 20 {
            out.buf.shrink_to(16 * 1024);
        }
    } else if out.sent >= out.buf.len() - out.sent {
        out.buf.drain(..out.sent);
        out.sent = 0;
    }
    handle.writing.store((out.buf.len() - out.sent) as u64, Ordering::Relaxed);
}

/// Shrink a connection's buffers after a batch, as Redis's clientsCron does
/// (clientsCronResizeQueryBuffer, clientsCronResizeOutputBuffer), so that a connection does
/// not keep the memory of its biggest request or reply. Right away for a big query buffer
/// mostly unused (a big request is done; not while a big bulk is arriving): back to 16 KiB.
/// When the cron finds the connection idle for 2 s (`ClientHandle::resize_due`): the query
/// buffer's free room given back (all of it when empty: the next request gets a new one),
/// and a written reply buffer down to 1 KiB (Redis's PROTO_REPLY_MIN_BYTES). (`settle`
/// shrinks a reply buffer past 1 MiB once written.)
fn resize_buffers(rbuf: &mut Vec<u8>, out: &mut ReplyWriter, mid_bulk: bool, handle: &client::ClientHandle) {
    let idle = handle.resize_due.load(Ordering::Relaxed) && handle.resize_due.swap(false, Ordering::Relaxed);
    let room = rbuf.capacity() - rbuf.len();
    if room > 4096 && !mid_bulk {
        if idle {
            rbuf.shrink_to_fit();
        } else if rbuf.capacity() > 1 << 20 && rbuf.len() < rbuf.capacity() / 4 {
            rbuf.shrink_to(16 * 1024);
        }
    }
    if idle && out.pending() == 0 && out.buf.capacity() > 1024 {
        out.buf = Vec::with_capacity(1024);
        out.sent = 0;
    }
}

/// client-output-buffer-limit for the replies waiting for a client's socket, on what exceeds
/// the 16 KiB a Redis client buffers before its reply list: past the hard limit the client
/// is closed at once; past the soft limit, once it has stayed past it for the soft seconds.
#[derive(Default)]
struct Backlog {
    /// Past the soft limit: when the client is closed if it is still past it.
    soft_until: Option<tokio::time::Instant>,
}

impl Backlog {
    /// `pending` reply bytes wait for the socket. False: past the hard limit. Redis compares
    /// whole unix seconds for the soft limit, so a reader that empties its buffer within
    /// the second is never closed, even with 0 seconds: it gets the soft seconds plus one.
    fn check(&mut self, srv: &Server, handle: &client::ClientHandle, pending: usize) -> bool {
        let pending = pending.saturating_sub(16 * 1024) as u64;
        if pending == 0 {
            self.soft_until = None;
            return true;
        }
        let (hard, soft, soft_secs) = srv.output_limits(handle);
        if hard > 0 && pending > hard {
            return false;
        }
        if soft > 0 && pending > soft {
            let secs = Duration::from_secs(soft_secs.max(0) as u64 + 1);
            self.soft_until.get_or_insert_with(|| tokio::time::Instant::now() + secs);
        } else {
            self.soft_until = None;
        }
        true
    }
}

/// Ready at `t`; never without one.
async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::{ArgLoc, Limits, Prefetch};

    /// The commands the prefetcher scans ahead are handed to the parser whole, unless the
    /// limits in force when the parser gets there would make the careful parse differ
    /// (a command before them lowered proto-max-bulk-len, or RESET unauthenticated).
    #[test]
    fn commands_scanned_ahead_go_to_the_parser_under_the_same_limits() {
        let srv = crate::server::Server::new(crate::server::config::Config::new(), 1, String::new());
        let mut sticky = crate::command::dispatch::Sticky::default();
        let rbuf = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        let (first, second) = (20, 20 + 31);
        let text = |args: &[ArgLoc], at: usize| -> Vec<Vec<u8>> {
            args.iter()
                .map(|a| match a {
                    ArgLoc::Range(s, e) => rbuf[at + s..at + e].to_vec(),
                    ArgLoc::Owned(v) => v.clone(),
                })
                .collect()
        };
        let open = Limits { max_bulk_len: 512 << 20, authenticated: true };
        let first_args = vec![ArgLoc::Range(8, 11), ArgLoc::Range(17, 18)];
        let mut ahead = Prefetch::default();
        ahead.step(&srv, &mut sticky, 0, rbuf, 0, first, &first_args);
        let mut args = Vec::new();
        // Not at a scanned command's start: nothing.
        assert_eq!(ahead.scanned(first + 1, &open, &mut args), None);
        // Lowered below its longest argument (5 bytes), or unauthenticated: the careful parse.
        assert_eq!(ahead.scanned(first, &Limits { max_bulk_len: 4, ..open }, &mut args), None);
        assert_eq!(ahead.scanned(first, &Limits { authenticated: false, ..open }, &mut args), None);
        assert_eq!(ahead.scanned(first, &Limits { max_bulk_len: 5, ..open }, &mut args), Some(31));
        assert_eq!(text(&args, first), [&b"SET"[..], b"b", b"hello"]);
        // Taken once.
        assert_eq!(ahead.scanned(first, &open, &mut args), None);
        ahead.step(&srv, &mut sticky, 0, rbuf, first, second, &args);
        assert_eq!(ahead.scanned(second, &open, &mut args), Some(14));
        assert_eq!(text(&args, second), [&b"PING"[..]]);
        // A new batch forgets them.
        ahead.step(&srv, &mut sticky, 0, rbuf, 0, first, &first_args);
        ahead.reset();
        assert_eq!(ahead.scanned(first, &open, &mut args), None);
    }

    /// Protected mode's decision (the network side cannot be tested here: test servers
    /// listen on loopback only): loopback (127.0.0.0/8, ::1) and the Unix socket always
    /// pass; others only with protected-mode off or a password set.
    #[test]
    fn protected_mode_lets_loopback_and_unix_in() {
        use super::{denied_by_protected_mode, Peer};
        let peer = |addr: &str, unix: bool| Peer { addr: addr.into(), laddr: String::new(), unix, fd: -1 };
        for (addr, unix, local) in [
            ("127.0.0.1:5000", false, true),
            ("127.1.2.3:5000", false, true),
            ("[::1]:5000", false, true),
            ("/tmp/redis.sock:0", true, true),
            ("10.0.0.7:5000", false, false),
            ("192.168.1.2:5000", false, false),
            ("[::ffff:127.0.0.1]:5000", false, false),
            ("[2001:db8::1]:5000", false, false),
            ("1.27.0.1:5000", false, false),
        ] {
            let p = peer(addr, unix);
            assert_eq!(denied_by_protected_mode(true, false, &p), !local, "{addr}");
            assert!(!denied_by_protected_mode(false, false, &p), "{addr}");
            assert!(!denied_by_protected_mode(true, true, &p), "{addr}");
        }
    }
}
