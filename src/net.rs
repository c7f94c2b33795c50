//! Networking: listeners, worker threads, and the per-connection loop.
//!
//! Each worker is a thread running its own single-threaded tokio runtime; the acceptor
//! hands each new connection to the next worker, and the connection stays there. A
//! connection's loop reads what is available, parses every complete command in the
//! buffer, executes them in order inline, and writes all replies with one write. Nothing
//! here knows what a command does.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::command::dispatch::{self, BatchClock};
use crate::resp::parse::{ArgLoc, Limits, Parsed, Parser, BIG_ARG};
use crate::resp::write::ReplyWriter;
use crate::server::client::{self, Client};
use crate::server::log::log;
use crate::server::scripting::Scripting;
use crate::server::Server;

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
                .on_thread_park(move || park.worker_wakes[w].parking())
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
            rt.block_on(spin::spinner(move || wake.worker_wakes[w].wake_pushed()));
        })?;
        handles.push(rx.recv().map_err(std::io::Error::other)?);
    }
    Scripting::start_executor(&srv);
    // After the Lua state is made, as Redis measures it after its own set-up.
    crate::server::info::record_startup_memory();
    {
        let s = srv.clone();
        std::thread::Builder::new().name("cron".into()).spawn(move || s.cron())?;
    }
    let listeners = match bind_all(&srv, &binds, port) {
        Ok(l) => l,
        Err(e) => {
            log(&srv, &format!("Warning: Could not create server TCP listening socket {e}"));
            std::process::exit(1);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Relisten>();
    *srv.rebind.lock() = Some(tx);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let server = srv.clone();
    let request = rt.block_on(async move {
        log(&srv, &format!("Ready to accept connections tcp (port {port}, {threads} threads)"));
        let spawn_all = |listeners: Vec<std::net::TcpListener>| {
            listeners
                .into_iter()
                .filter_map(|l| TcpListener::from_std(l).ok())
                .map(|l| tokio::spawn(accept_loop(srv.clone(), l, handles.clone())))
                .collect::<Vec<_>>()
        };
        let mut tasks = spawn_all(listeners);
        let stop = |tasks: &mut Vec<tokio::task::JoinHandle<()>>| {
            let tasks = std::mem::take(tasks);
            async move {
                for t in tasks {
                    t.abort();
                    let _ = t.await;
                }
            }
        };
        // CONFIG SET port / bind: the new sockets replace the old ones, which are closed
        // (their accept tasks gone) before the sender is told. A shutdown closes them all
        // before the server stops (`server::shutdown`).
        loop {
            tokio::select! {
                relisten = rx.recv() => match relisten {
                    Some((listeners, done)) => {
                        stop(&mut tasks).await;
                        tasks = spawn_all(listeners);
                        let _ = done.send(());
                    }
                    None => std::future::pending().await,
                },
                request = srv.shutdown.requested() => {
                    stop(&mut tasks).await;
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

/// New listening sockets for the accept thread, and how it says the old ones are closed.
pub type Relisten = (Vec<std::net::TcpListener>, std::sync::mpsc::Sender<()>);

/// Hand `listeners` to the accept thread in place of the current ones; back once the old
/// sockets are closed.
fn relisten(srv: &Server, listeners: Vec<std::net::TcpListener>) -> Result<(), String> {
    let (done, wait) = std::sync::mpsc::channel();
    let sent = srv.rebind.lock().as_ref().map(|tx| tx.send((listeners, done)).is_ok());
    if sent != Some(true) {
        return Err("not listening".into());
    }
    wait.recv_timeout(Duration::from_secs(5)).map_err(|_| "the accept thread did not answer".to_string())
}

/// CONFIG SET port / bind, as Redis: a new port is bound before the old sockets close;
/// new addresses on the same port need the old sockets closed first, and are given up
/// for the old ones again if they cannot all be bound. Connections already open stay.
pub fn rebind(srv: &Server, old: (&[String], u16), new: (&[String], u16)) -> Result<(), String> {
    if new.1 != old.1 {
        return relisten(srv, bind_all(srv, new.0, new.1)?);
    }
    relisten(srv, Vec::new())?;
    match bind_all(srv, new.0, new.1) {
        Ok(listeners) => relisten(srv, listeners),
        Err(e) => {
            log(srv, &format!("Warning: Could not create server TCP listening socket {e}"));
            if let Ok(listeners) = bind_all(srv, old.0, old.1) {
                let _ = relisten(srv, listeners);
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

async fn accept_loop(srv: Arc<Server>, listener: TcpListener, workers: Vec<tokio::runtime::Handle>) {
    let mut next = 0usize;
    loop {
        let (stream, peer) = match listener.accept().await {
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
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(_) => continue,
        };
        set_keepalive(&std_stream, srv.config.read().int("tcp-keepalive").max(0) as u64);
        let srv = srv.clone();
        workers[w].spawn(async move {
            if let Ok(stream) = TcpStream::from_std(std_stream) {
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

async fn serve(srv: Arc<Server>, mut stream: TcpStream, peer: SocketAddr, worker: usize, id: u64) {
    let _ = stream.set_nodelay(true);
    srv.stats.connections.add(worker, 1);
    let max = srv.maxclients.load(Ordering::Relaxed) as usize;
    if srv.clients.lock().len() >= max {
        srv.stats.rejected_connections.add(worker, 1);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        return;
    }
    let laddr = stream.local_addr().map(|a| fmt_addr(&a)).unwrap_or_default();
    #[cfg(unix)]
    let fd = std::os::unix::io::AsRawFd::as_raw_fd(&stream);
    #[cfg(not(unix))]
    let fd = -1;
    let handle = client::register(&srv, id, fmt_addr(&peer), laddr, fd, worker);
    let mut client = Client::new(handle.clone(), worker);
    client.authenticated = !srv.auth_required();
    let mut out = ReplyWriter::new(false);
    connection_loop(&srv, &mut stream, &mut client, &mut out).await;
    if srv.shutdown.is_closing() {
        // Closed by the shutdown: the replies it is owed go out whole first (bounded, for a
        // client that does not read them).
        let _ = tokio::time::timeout(crate::server::shutdown::GRACE, close_gracefully(&mut stream, &mut out)).await;
    }
    crate::command::multi::reset(&srv, &mut client);
    crate::server::pubsub::unsubscribe_all(&srv, &mut client);
    crate::server::pubsub::unmonitor(&srv, &mut client);
    crate::server::tracking::disable(&srv, &client.handle);
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

/// Serve `client` until it closes or is closed, its replies written into `out` (what the
/// socket has not taken, `out.buf[out.sent..]`, is left there at the end).
async fn connection_loop(srv: &Server, stream: &mut TcpStream, client: &mut Client, out: &mut ReplyWriter) {
    let mut rbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    let handle = client.handle.clone();
    // Its hold is released before every wait below and at the end of each batch; its
    // command-name cache lasts for the connection (pipeline 1 is one command per batch).
    let mut sticky = dispatch::Sticky::default();
    let mut ahead = Prefetch::default();
    // The only waiter on this client's outbox notification (see the read below).
    let mut pushed = std::pin::pin!(handle.outbox.notify.notified());
    // When the client's unsent replies stop being tolerated: past the soft
    // client-output-buffer-limit, the soft seconds later (`Backlog::check`).
    let mut backlog = Backlog::default();
    loop {
        // Read what is available (growing the buffer for big bulks in one step). An idle
        // connection that gave its buffer back gets one when a request arrives (`pump`).
        if rbuf.capacity() - rbuf.len() < 4096 && rbuf.capacity() > 0 {
            rbuf.reserve(16 * 1024);
        }
        // `timeout`: an idle client is closed silently, as Redis does; replies the socket
        // takes count as activity (Redis's lastinteraction moves on writes too).
        let timeout = srv.timeout_secs.load(Ordering::Relaxed);
        let idle_limit =
            |timeout: u64| (timeout > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(timeout));
        let mut idle_until = idle_limit(timeout);
        // One notification for both pushes and CLIENT KILL (`ClientHandle::kill` rings the
        // outbox's too), the read polled first: no random branch order. Pushes are written
        // after every batch anyway, and a kill is looked at after every read. The waiter
        // (`pushed`) stays registered from one turn to the next until it fires, instead
        // of being added to the notification's list and removed again on every turn.
        // Replies still waiting for the socket are written as it takes them, while the
        // client's requests go on being read and run (`pump`).
        let read = async {
            loop {
                tokio::select! {
                    biased;
                    io = pump(srv, client.worker, stream, &mut rbuf, out) => match io {
                        Io::Read(n) => break Some(n),
                        Io::Closed => break Some(0),
                        Io::Wrote => {
                            settle(out, &handle);
                            backlog.check(srv, &handle, out.pending());
                            idle_until = idle_limit(timeout);
                        }
                    },
                    _ = pushed.as_mut() => {
                        break if handle.killed.load(Ordering::Acquire) { None } else { Some(usize::MAX) };
                    }
                    _ = sleep_until(backlog.soft_until) => {
                        crate::server::pubsub::drop_over_limit(srv, &handle);
                        break None;
                    }
                    _ = sleep_until(idle_until) => break Some(0),
                }
            }
        };
        match read.await {
            None => return, // CLIENT KILL
            Some(0) => return,
            // Pub/Sub messages for this client: written below with whatever replies there
            // are. Let the other ready connections (publishers) run first, so that one
            // write carries their messages too, as Redis's one write per event-loop turn.
            Some(usize::MAX) => {
                pushed.set(handle.outbox.notify.notified());
                tokio::task::yield_now().await
            }
            Some(_) => {}
        }
        if handle.killed.load(Ordering::Acquire) {
            return;
        }
        // What CLIENT LIST / INFO of this client show while the batch runs (Redis's
        // querybuf, trimmed only after it).
        client.query_buf = (rbuf.len() as u64, (rbuf.capacity() - rbuf.len()) as u64);
        let qlimit = srv.query_buffer_limit.load(Ordering::Relaxed) as usize;
        let mut clock = BatchClock::new();
        let mut consumed = 0;
        // Commands of this batch (a client waiting for each reply sends one).
        let mut commands = 0u32;
        let mut close = false;
        // The batch ends inside a big bulk: its buffer is being grown for it.
        let mut mid_bulk = false;
        ahead.reset();
        loop {
            let limits = Limits {
                max_bulk_len: srv.proto_max_bulk_len.load(Ordering::Relaxed),
                authenticated: client.authenticated,
            };
            let parsed = match ahead.scanned(consumed, &limits, &mut parser.args) {
                Some(end) => Ok(Parsed::Command(end)),
                None => parser.parse(&rbuf[consumed..], &limits),
            };
            match parsed {
                Ok(Parsed::Command(end)) => {
                    commands += 1;
                    let base = consumed;
                    // CLIENT PAUSE: this command waits; the replies before it go out, and what
                    // the client sends meanwhile is read (`park`), as Redis does. (Decided
                    // before `args` below borrows the buffer, which reading may move.)
                    let held = if srv.pause_until_ms.load(Ordering::Relaxed) == 0 {
                        None
                    } else {
                        let args: smallvec::SmallVec<[&[u8]; 8]> =
                            parser.args.iter().map(|a| arg_of(a, &rbuf[base..])).collect();
                        paused_command(srv, client, &args)
                    };
                    if let Some(held) = held {
                        sticky.release();
                        let mut io = Parked {
                            srv,
                            worker: client.worker,
                            stream: &mut *stream,
                            rbuf: &mut rbuf,
                            out,
                            handle: &handle,
                            qlimit,
                        };
                        if !hold_while_paused(&mut io, client, held).await {
                            return;
                        }
                        clock = BatchClock::new();
                    }
                    let args: smallvec::SmallVec<[&[u8]; 8]> = parser
                        .args
                        .iter()
                        .map(|a| match a {
                            ArgLoc::Range(s, e) => &rbuf[base + s..base + e],
                            ArgLoc::Owned(v) => &v[..],
                        })
                        .collect();
                    // (Commands queued by MULTI touch no key until EXEC.)
                    if client.multi.is_none() {
                        ahead.step(srv, &mut sticky, client.db, &rbuf, base, base + end, &parser.args);
                    }
                    let script_running = srv.scripting.state.running.load(Ordering::Acquire);
                    // A script known to be short, alone in the buffer, runs here, as Redis
                    // runs it (a pipeline of scripts goes to the scripts thread as one job,
                    // below: one exclusive hold of the keyspace after another on this worker
                    // would stall the other workers more). With one worker there are no
                    // others to stall: every short script runs here.
                    // So does EXEC of a transaction that queued a script.
                    let script = !script_running
                        && match &client.multi {
                            None => crate::resp::parse::is_script_call(args[0]),
                            Some(q) => q.scripts && !q.doomed && args[0].eq_ignore_ascii_case(b"exec"),
                        };
                    if script {
                        // A script holds every gate, this worker's too.
                        sticky.release();
                    }
                    let ran_here = script
                        && (base + end == rbuf.len() || srv.threads == 1)
                        && srv.scripting.runs_inline(&args)
                        && srv.scripting.execute_timed(srv, client, &args, out, &mut clock, true);
                    if ran_here {
                        drop(args);
                        consumed = base + end;
                    } else if script {
                        // Scripts run on the script thread, so this worker stays free to
                        // answer other clients (BUSY, SCRIPT KILL) while one runs long. The
                        // scripts that follow in the buffer go in the same job (one thread
                        // hop for a whole pipeline of EVALSHAs); the first other command
                        // waits for the job, then runs here.
                        let mut batch: Vec<Vec<Vec<u8>>> = vec![args.iter().map(|a| a.to_vec()).collect()];
                        drop(args);
                        consumed = base + end;
                        let mut next: Option<Vec<Vec<u8>>> = None;
                        let mut proto_error = None;
                        while batch.len() < 256 {
                            match parser.parse(&rbuf[consumed..], &limits) {
                                Ok(Parsed::Command(e)) => {
                                    let cmd = owned_args(&parser, &rbuf[consumed..]);
                                    consumed += e;
                                    if crate::resp::parse::is_script_call(&cmd[0]) {
                                        batch.push(cmd);
                                    } else {
                                        next = Some(cmd);
                                        break;
                                    }
                                }
                                Ok(Parsed::Empty(n)) => consumed += n,
                                Ok(Parsed::Incomplete { .. }) => break,
                                Err(e) => {
                                    proto_error = Some(e);
                                    break;
                                }
                            }
                        }
                        let real = std::mem::replace(client, Client::new(handle.clone(), client.worker));
                        match srv.scripting.submit(real, batch, out.resp3) {
                            Ok(wait) => match wait.await {
                                Ok((c, reply)) => {
                                    *client = c;
                                    out.buf.extend_from_slice(&reply);
                                }
                                Err(_) => return,
                            },
                            Err((real, batch)) => {
                                *client = real;
                                for cmd in &batch {
                                    let argv: smallvec::SmallVec<[&[u8]; 8]> = cmd.iter().map(|a| &a[..]).collect();
                                    dispatch::execute(srv, client, &argv, out, &mut clock);
                                }
                            }
                        }
                        clock = BatchClock::new();
                        if let Some(cmd) = next {
                            let argv: smallvec::SmallVec<[&[u8]; 8]> = cmd.iter().map(|a| &a[..]).collect();
                            dispatch::execute(srv, client, &argv, out, &mut clock);
                        }
                        if let Some(e) = proto_error {
                            out.line_bytes(b'-', &e.message());
                            close = true;
                            break;
                        }
                    } else {
                        dispatch::execute_held(srv, client, &args, out, &mut clock, &mut sticky);
                        drop(args);
                        consumed = base + end;
                    }
                    if let Some(w) = client.blocked.take() {
                        sticky.release();
                        // A blocking command found nothing: stop processing this client's
                        // commands until the waiter is served, times out or is unblocked.
                        client.publish();
                        // Redis trims what it ran from its query buffer when a client blocks.
                        handle.qbuf.store((rbuf.len() - consumed) as u64, Ordering::Relaxed);
                        handle.qbuf_free.store((rbuf.capacity() - rbuf.len()) as u64, Ordering::Relaxed);
                        let mut io = Parked {
                            srv,
                            worker: client.worker,
                            stream: &mut *stream,
                            rbuf: &mut rbuf,
                            out,
                            handle: &handle,
                            qlimit,
                        };
                        let keep = wait_blocked(&mut io, &w).await;
                        crate::command::blocking::unregister(srv, client, &w);
                        if !keep {
                            return;
                        }
                        clock = BatchClock::new();
                    }
                    if client.close_after_reply {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Empty(n)) => consumed += n,
                Ok(Parsed::Incomplete { want }) => {
                    // A big bulk is announced: grow geometrically towards it (no quadratic
                    // re-copying), but never reserve more than we already hold plus 1 MiB
                    // on a header's word alone.
                    if want >= BIG_ARG {
                        mid_bulk = true;
                        let room = rbuf.capacity() - rbuf.len();
                        let step = want.min(rbuf.len().max(1 << 20));
                        if room < step {
                            rbuf.reserve(step);
                        }
                    }
                    break;
                }
                Err(e) => {
                    out.line_bytes(b'-', &e.message());
                    close = true;
                    break;
                }
            }
        }
        sticky.release();
        if consumed > 0 {
            rbuf.drain(..consumed);
        }
        if rbuf.len() > qlimit {
            query_buffer_overflow(srv, client.worker);
            close = true;
        }
        // BCAST invalidations of the keys this batch modified (Redis sends them once per
        // event-loop iteration), then whatever was pushed to this client.
        crate::server::tracking::broadcast(srv);
        srv.worker_wakes[client.worker].wake_pushed();
        if commands > 1 && !out.is_empty() {
            // A pipelined batch writes after the other connections that are ready in this
            // turn of the worker have run their commands: the replies of one turn then go
            // out together, as Redis writes them all before it sleeps, and a client woken
            // by the first one finds the others ready instead of each write waking it
            // again. A batch of one command (a client waiting for each reply) writes at
            // once: the detour costs about 350 instructions a request for no measured gain.
            BackOfQueue::default().await;
        }
        handle.outbox.drain_into(&mut out.buf);
        // What CLIENT LIST shows of this client (its last command...) is published before
        // the replies go out: a client that reads a reply and then asks, on another
        // connection, about this one must see the command it answered.
        client.publish();
        if out.pending() > 0 {
            // client-output-buffer-limit of the client's class (`Backlog::check`); then what
            // the socket takes now. The rest waits for the socket while the client is read
            // (the read above): Redis queues the replies of a client that does not read yet,
            // within these limits only.
            if !backlog.check(srv, &handle, out.pending()) {
                crate::server::pubsub::drop_over_limit(srv, &handle);
                return;
            }
            match write_now(stream, &out.buf[out.sent..]) {
                Ok(n) => {
                    srv.stats.net_output_bytes.add(client.worker, n as u64);
                    srv.stats.writes.add(client.worker, 1);
                    out.sent += n;
                }
                Err(_) => return,
            }
            settle(out, &handle);
            backlog.check(srv, &handle, out.pending());
        }
        spin::busy();
        resize_buffers(&mut rbuf, out, mid_bulk, &handle);
        handle.qbuf.store(rbuf.len() as u64, Ordering::Relaxed);
        handle.qbuf_free.store((rbuf.capacity() - rbuf.len()) as u64, Ordering::Relaxed);
        handle.reply_cap.store(out.buf.capacity() as u64, Ordering::Relaxed);
        if close {
            // The replies still waiting go out first (Redis's close-after-reply).
            if out.pending() > 0 {
                tokio::select! {
                    _ = write_pending(stream, out) => {}
                    _ = handle.kill_notify.notified() => return,
                }
            }
            let _ = stream.shutdown().await;
            return;
        }
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

/// Wait for a blocked client's waiter while the replies before it go out and what the
/// client sends is buffered (`park`). False: close the connection.
async fn wait_blocked(io: &mut Parked<'_>, w: &crate::keyspace::blocking::Waiter) -> bool {
    loop {
        if let Some(reply) = w.outcome() {
            if let Some(reply) = reply {
                io.out.buf.extend_from_slice(&reply);
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
        match park(io, woken).await {
            None => {
                w.cancel_with(None);
                return false;
            }
            Some(true) if !w.cancel_with(Some(w.timeout_reply.clone())) => {
                // Being served right now: the reply is coming.
                w.notify.notified().await;
            }
            Some(_) => {}
        }
    }
}

/// What one step of a connection's I/O did (`pump`).
enum Io {
    Read(usize),
    Wrote,
    Closed,
}

/// One step of a connection's I/O: read what the client sent into `rbuf`, or write some of
/// the replies the socket has not taken yet (`ReplyWriter::pending`), whichever can go first
/// (the read if both). Redis reads a client whose replies wait for the socket: a client
/// that writes its whole pipeline before it reads (redis-py's pipeline) would otherwise
/// wait for us while we wait for it.
async fn pump(srv: &Server, worker: usize, stream: &mut TcpStream, rbuf: &mut Vec<u8>, out: &mut ReplyWriter) -> Io {
    let (mut rd, mut wr) = stream.split();
    let waiting = &out.buf[out.sent..];
    let read = async {
        if rbuf.capacity() == rbuf.len() {
            // An idle connection gave its buffer back (`resize_buffers`).
            rd.readable().await?;
            rbuf.reserve(16 * 1024);
        }
        rd.read_buf(rbuf).await
    };
    let r = tokio::select! {
        biased;
        r = read => Ok(r),
        r = wr.write(waiting), if !waiting.is_empty() => Err(r),
    };
    match r {
        Ok(Ok(n)) if n > 0 => {
            srv.stats.net_input_bytes.add(worker, n as u64);
            srv.stats.reads.add(worker, 1);
            Io::Read(n)
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

/// Write the replies the socket has not taken yet, `out.sent` following each write: a
/// caller that stops waiting knows exactly what went out.
async fn write_pending(stream: &mut TcpStream, out: &mut ReplyWriter) -> std::io::Result<()> {
    while out.pending() > 0 {
        match stream.write(&out.buf[out.sent..]).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => out.sent += n,
        }
    }
    Ok(())
}

/// Write the replies still owed, end the stream, and read and drop what the client still
/// sends until it closes its end or stops sending for a moment: closing a socket with
/// unread input, or receiving input after closing it, resets the connection, and the reset
/// throws away the replies the client has not received yet. (A quiet client is not waited
/// for: an idle pooled connection would otherwise hold up every shutdown.)
async fn close_gracefully(stream: &mut TcpStream, out: &mut ReplyWriter) -> std::io::Result<()> {
    write_pending(stream, out).await?;
    let _ = stream.shutdown().await;
    let mut sink = vec![0u8; 16 * 1024];
    while let Ok(n) = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut sink)).await {
        if n? == 0 {
            break;
        }
    }
    Ok(())
}

/// Write as much of `buf` as the socket takes without waiting.
fn write_now(stream: &TcpStream, buf: &[u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match stream.try_write(&buf[n..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
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

/// A connection's socket, buffers and limits while it waits without running commands
/// (`park`: a blocked client, a command held by CLIENT PAUSE).
struct Parked<'c> {
    srv: &'c Server,
    worker: usize,
    stream: &'c mut TcpStream,
    rbuf: &'c mut Vec<u8>,
    out: &'c mut ReplyWriter,
    handle: &'c client::ClientHandle,
    /// client-query-buffer-limit.
    qlimit: usize,
}

/// Wait for `until` while the replies so far go out and what the client sends is buffered,
/// not run (a command held by CLIENT PAUSE, a blocked client): Redis keeps reading a client
/// it does not serve yet, up to client-query-buffer-limit. None: close the connection.
async fn park<F: std::future::Future>(io: &mut Parked<'_>, until: F) -> Option<F::Output> {
    let mut until = std::pin::pin!(until);
    loop {
        if io.rbuf.capacity() - io.rbuf.len() < 1024 {
            io.rbuf.reserve(16 * 1024);
        }
        let step = tokio::select! {
            biased;
            v = until.as_mut() => return Some(v),
            _ = io.handle.kill_notify.notified() => return None,
            step = pump(io.srv, io.worker, io.stream, io.rbuf, io.out) => step,
        };
        match step {
            Io::Closed => return None,
            Io::Wrote => settle(io.out, io.handle),
            Io::Read(_) if io.rbuf.len() > io.qlimit => {
                query_buffer_overflow(io.srv, io.worker);
                return None;
            }
            Io::Read(_) => {}
        }
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

/// An argument of the command the parser completed in `buf`.
fn arg_of<'b>(a: &'b ArgLoc, buf: &'b [u8]) -> &'b [u8] {
    match a {
        ArgLoc::Range(s, e) => &buf[*s..*e],
        ArgLoc::Owned(v) => &v[..],
    }
}

/// Does CLIENT PAUSE hold this command? Some((its name, whether it counts as a write)) if
/// so. As Redis's processCommand: a command refused before the pause check (unknown, wrong
/// arity, not authenticated) is answered at once; under ALL every other command waits,
/// CLIENT UNPAUSE too; under WRITE those that write or may replicate, and EXEC of a
/// transaction that queued one.
fn paused_command(srv: &Server, client: &Client, args: &[&[u8]]) -> Option<(&'static str, bool)> {
    if srv.pause_until_ms.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let cmd = dispatch::resolve(srv, args).ok()?;
    use crate::command::spec::flags;
    if srv.auth_required() && !client.authenticated && !cmd.def.has(flags::NO_AUTH) {
        return None;
    }
    let is_write = dispatch::pauses_as_write(srv, cmd, args)
        || (cmd.def.name == "exec" && client.multi.as_ref().is_some_and(|q| q.writes));
    srv.pause_remaining(is_write).map(|_| (cmd.def.name, is_write))
}

/// Hold the client while CLIENT PAUSE holds its command, looking again whenever the pause
/// changes (extended, made stricter, lifted by UNPAUSE) or ends; meanwhile its replies so
/// far go out and what it sends is read (`park`). It counts as blocked (INFO
/// blocked_clients, flag b) and CLIENT LIST shows the held command, as Redis shows a
/// postponed client. False if the client was killed or went away meanwhile.
async fn hold_while_paused(io: &mut Parked<'_>, client: &mut Client, (name, is_write): (&'static str, bool)) -> bool {
    client.last_command = name;
    client.publish();
    let srv = io.srv;
    io.handle.paused.store(true, Ordering::Relaxed);
    srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
    let lifted = async {
        loop {
            // Registered before the pause is read: a change made after the read still wakes us.
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
    let alive = park(io, lifted).await.is_some() && !io.handle.killed.load(Ordering::Acquire);
    io.handle.paused.store(false, Ordering::Relaxed);
    srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    alive
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
}
