//! The one way the server stops: SIGTERM, SIGINT and `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]`
//! all become a `Request`, and `finish` carries it out, as Redis's prepareForShutdown /
//! finishShutdown do:
//!
//! 1. `net::run` stops accepting connections (its accept tasks end, the listening sockets
//!    close) and hands the request to `finish`, on the main thread: no handler, lock or
//!    worker is held while the server stops.
//! 2. Every client is closed through CLIENT KILL's mechanism (`ClientHandle::kill`): a
//!    connection finishes the batch of commands it is running, and `net::serve` writes the
//!    replies it still owes whole before closing it (`is_closing`), so a client never reads
//!    half a reply. Redis exits with those replies unsent; a client that does not read them
//!    within `GRACE` is cut off as Redis would cut it. The client that sent SHUTDOWN closes
//!    itself after the replies before it (close-after-reply), and runs nothing after it.
//! 3. The hooks run in Redis's order (`HOOKS`): the final save, then the pid file and the
//!    Unix socket file are removed.
//! 4. "Redis is now ready to exit, bye bye..." and exit status 0.
//!
//! Signals are taken by a thread of their own with sigwait(2), not by a handler: SIGINT and
//! SIGTERM are blocked in every thread (`block_signals`, before the first thread starts, so
//! every thread inherits the mask), and the "signals" thread waits for them. It can then log
//! and take locks like any other thread, and needs no async runtime of its own (tokio's
//! signal feature would install a handler and a self-pipe to do the same). As in Redis, a
//! second SIGINT while a shutdown is under way exits at once with status 1 ("You
//! insist..."); a second SIGTERM is logged and changes nothing.
//!
//! There are no replicas to wait for yet, so a shutdown never pauses to wait and SHUTDOWN
//! ABORT always finds none in progress (Redis's "No shutdown in progress."); NOW is parsed
//! and passed on for when replication adds the wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::command::args::eq;
use crate::command::{err, CmdResult, Ctx, Error};
use crate::server::config::Config;
use crate::server::log::{log, log_at, log_signal, WARNING};
use crate::server::Server;

/// How long the clients get to take the replies they are owed before the server exits
/// anyway (the whole shutdown stays well within a second).
pub const GRACE: Duration = Duration::from_millis(500);

/// Where Redis writes its pid file when daemonized without `pidfile` (CONFIG_DEFAULT_PID_FILE).
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// SHUTDOWN's options, or those of `shutdown-on-sigint` / `shutdown-on-sigterm`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Save even when no save points are configured.
    pub save: bool,
    /// Do not save even when save points are configured.
    pub nosave: bool,
    /// Do not wait for replicas to catch up.
    pub now: bool,
    /// Exit even if saving fails.
    pub force: bool,
}

impl Flags {
    /// Set the option `word` names; false if it names none.
    fn set(&mut self, word: &[u8]) -> bool {
        let slot = if eq(word, "save") {
            &mut self.save
        } else if eq(word, "nosave") {
            &mut self.nosave
        } else if eq(word, "now") {
            &mut self.now
        } else if eq(word, "force") {
            &mut self.force
        } else {
            return false;
        };
        *slot = true;
        true
    }

    /// The options of `shutdown-on-sigint` / `shutdown-on-sigterm` as CONFIG renders them
    /// ("default", or words such as "save now"; the config layer refused SAVE with NOSAVE).
    fn from_config(words: &str) -> Flags {
        let mut flags = Flags::default();
        for w in words.split_whitespace() {
            flags.set(w.as_bytes());
        }
        flags
    }
}

/// What SHUTDOWN's arguments ask: Ok(None) for ABORT. Redis refuses an unknown word, ABORT
/// with any other option, and SAVE with NOSAVE, all with the syntax error.
fn parse(args: &[&[u8]]) -> Result<Option<Flags>, Error> {
    let mut flags = Flags::default();
    let mut abort = false;
    for a in args {
        if eq(a, "abort") {
            abort = true;
        } else if !flags.set(a) {
            return Err(err::SYNTAX);
        }
    }
    if (abort && flags != Flags::default()) || (flags.save && flags.nosave) {
        return Err(err::SYNTAX);
    }
    Ok((!abort).then_some(flags))
}

/// A shutdown asked for: its options, and the client that sent SHUTDOWN (it closes itself).
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub flags: Flags,
    pub client: Option<u64>,
    /// SHUTDOWN saved already (and logged "User requested shutdown..."): the final save
    /// only catches up with writes made since.
    pub saved: bool,
}

/// The server's shutdown state: the request, once made, and whether clients are being closed.
#[derive(Default)]
pub struct Shutdown {
    request: Mutex<Option<Request>>,
    wake: tokio::sync::Notify,
    closing: AtomicBool,
}

impl Shutdown {
    /// Ask for a shutdown; false if one was already asked for (the first one stands).
    pub fn request(&self, req: Request) -> bool {
        let mut slot = self.request.lock();
        if slot.is_some() {
            return false;
        }
        *slot = Some(req);
        // A permit if `requested` is not waiting yet.
        self.wake.notify_one();
        true
    }

    pub fn in_progress(&self) -> bool {
        self.request.lock().is_some()
    }

    /// Clients are being closed: a connection that ends writes the replies it owes first.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The request, once one is made.
    pub async fn requested(&self) -> Request {
        loop {
            if let Some(req) = *self.request.lock() {
                return req;
            }
            self.wake.notified().await;
        }
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. It only asks (`Shutdown::request`): the
/// server stops in `finish`, not inside this handler and its locks. Its client sees its
/// connection closed, with the replies before SHUTDOWN, as with Redis.
pub fn command(ctx: &mut Ctx) -> CmdResult {
    let Some(flags) = parse(&ctx.args[1..])? else {
        return Err(Error::msg("ERR No shutdown in progress."));
    };
    // During a busy script only SHUTDOWN NOSAVE may stop the server (Redis's check: saving
    // would write what the script half did).
    if !flags.nosave {
        if let Some(busy) = ctx.srv.scripting.state.busy_error() {
            return Err(busy);
        }
    }
    // The save, here, where nothing else runs (SHUTDOWN holds every gate) and a failure
    // can still be answered: the server then goes on, as Redis's does.
    let srv = ctx.srv;
    let saves = crate::server::save::shutdown_saves(srv, &flags);
    if saves && !srv.shutdown.in_progress() {
        log(srv, "User requested shutdown...");
        ctx.ks.release_shards();
        if crate::server::save::shutdown_save(srv, &flags, true, false).is_err() {
            log_at(srv, WARNING, "Errors trying to shut down the server. Check the logs for more information.");
            return Err(Error::msg("ERR Errors trying to SHUTDOWN. Check logs."));
        }
    }
    ctx.srv.shutdown.request(Request { flags, client: Some(ctx.client.id), saved: saves });
    ctx.client.close_after_reply = true;
    Ok(())
}

/// Block SIGINT and SIGTERM in the calling thread and every thread it starts from now on:
/// called before the first thread starts, they then reach only `spawn_signal_thread`'s sigwait.
pub fn block_signals() {
    let set = shutdown_signals();
    // SAFETY: pthread_sigmask with a valid set and no old-set pointer.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn shutdown_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// The "signals" thread: SIGINT and SIGTERM, as Redis's sigShutdownHandler treats them.
pub fn spawn_signal_thread(srv: Arc<Server>) -> std::io::Result<()> {
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let set = shutdown_signals();
        loop {
            let mut sig = 0;
            // SAFETY: waits on a valid, initialised set; `sig` is written on success.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                on_signal(&srv, sig);
            }
        }
    })?;
    Ok(())
}

fn on_signal(srv: &Server, sig: libc::c_int) {
    let (name, option) =
        if sig == libc::SIGINT { ("SIGINT", "shutdown-on-sigint") } else { ("SIGTERM", "shutdown-on-sigterm") };
    // A second Ctrl+C: the user wants out now, without saving or waiting (exit status 1:
    // not a clean shutdown).
    if sig == libc::SIGINT && srv.shutdown.in_progress() {
        log_signal(srv, "You insist... exiting now.");
        std::process::exit(1);
    }
    log_signal(srv, &format!("Received {name} scheduling shutdown..."));
    let flags = Flags::from_config(srv.config.read().str(option));
    srv.shutdown.request(Request { flags, client: None, saved: false });
}

/// The pid file this configuration asks for: `pidfile`, or Redis's default when daemonized
/// without one.
fn pidfile_path(cfg: &Config) -> Option<String> {
    let path = cfg.str("pidfile");
    if !path.is_empty() {
        Some(path.to_string())
    } else if cfg.bool("daemonize") {
        Some(DEFAULT_PIDFILE.to_string())
    } else {
        None
    }
}

/// Write the pid file at start-up, best effort (Redis's createPidFile).
pub fn write_pidfile(srv: &Server) {
    let Some(path) = pidfile_path(&srv.config.read()) else { return };
    if let Err(e) = std::fs::write(&path, format!("{}\n", std::process::id())) {
        log_at(srv, WARNING, &format!("Failed to write PID file: {}", crate::server::config::strerror(&e)));
    }
}

/// A step of the shutdown, after the clients are closed. Err: it failed and has logged why;
/// the shutdown goes on only with FORCE.
type Hook = fn(&Server, &Request) -> Result<(), ()>;

/// The hooks, in the order Redis's finishShutdown runs them.
const HOOKS: &[(&str, Hook)] =
    &[("aof", flush_aof), ("save", save), ("pidfile", remove_pidfile), ("unixsocket", remove_unix_socket)];

/// The AOF's buffer written and fsynced (finishShutdown's flushAppendOnlyFile and fsync).
fn flush_aof(srv: &Server, _: &Request) -> Result<(), ()> {
    if srv.aof.enabled() {
        log(srv, "Calling fsync() on the AOF file.");
        srv.aof.uninstall(srv);
    }
    Ok(())
}

/// The final save (server::save): when save points are configured and NOSAVE was not
/// given, or SAVE was. SHUTDOWN saved already before its clients were closed (and answered
/// a failure); here the save only catches up with writes made in between. A signal's
/// shutdown saves here, the clients closed: its failure ends the server with status 1
/// unless FORCE (Redis would go on serving; our listeners are closed by then).
fn save(srv: &Server, req: &Request) -> Result<(), ()> {
    crate::server::save::shutdown_save(srv, &req.flags, false, req.saved).map_err(|_| ())
}

fn remove_pidfile(srv: &Server, _: &Request) -> Result<(), ()> {
    if let Some(path) = pidfile_path(&srv.config.read()) {
        log(srv, "Removing the pid file.");
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The Unix socket's file (`net::listen_unix` binds it): removed, as Redis's
/// closeListeningSockets does.
fn remove_unix_socket(srv: &Server, _: &Request) -> Result<(), ()> {
    let path = srv.config.read().str("unixsocket").to_string();
    if !path.is_empty() {
        log(srv, "Removing the unix socket file.");
        if let Err(e) = std::fs::remove_file(&path) {
            let msg = format!("Error removing the unix socket file: {}", crate::server::config::strerror(&e));
            log_at(srv, WARNING, &msg);
        }
    }
    Ok(())
}

/// Carry out `req` once `net::run` has stopped accepting connections, and exit.
pub fn finish(srv: &Server, req: Request) -> ! {
    if !req.saved {
        log(srv, "User requested shutdown...");
    }
    close_clients(srv, req.client);
    for (_name, hook) in HOOKS {
        if hook(srv, &req).is_err() && !req.flags.force {
            // The clients are gone and the listeners closed: there is nothing to go back
            // to, so the server exits with an error rather than serving again.
            log_at(srv, WARNING, "Errors trying to shut down the server. Check the logs for more information.");
            std::process::exit(1);
        }
    }
    log_at(srv, WARNING, "Redis is now ready to exit, bye bye...");
    std::process::exit(0);
}

/// Close every client (but the one that sent SHUTDOWN, which closes itself) and wait, up to
/// `GRACE`, until each connection has written what it owes and gone. Clients that connected
/// just before the listeners closed are registered late: each turn kills what is left.
fn close_clients(srv: &Server, except: Option<u64>) {
    srv.shutdown.closing.store(true, Ordering::Release);
    let deadline = Instant::now() + GRACE;
    loop {
        let left: Vec<_> = srv.clients.lock().values().cloned().collect();
        if left.is_empty() || Instant::now() >= deadline {
            return;
        }
        for h in left.iter().filter(|h| Some(h.id) != except && !h.killed.load(Ordering::Acquire)) {
            h.kill();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Flags};

    fn words(s: &str) -> Vec<&[u8]> {
        s.split_whitespace().map(str::as_bytes).collect()
    }

    #[test]
    fn options_as_redis_parses_them() {
        assert_eq!(parse(&words("")).ok(), Some(Some(Flags::default())));
        let all = Flags { save: true, now: true, force: true, nosave: false };
        assert_eq!(parse(&words("force NOW save")).ok(), Some(Some(all)));
        assert_eq!(parse(&words("abort")).ok(), Some(None));
        for bad in ["foo", "nosave save", "abort now", "now abort", "nosave foo"] {
            assert!(parse(&words(bad)).is_err(), "{bad}");
        }
        assert_eq!(Flags::from_config("default"), Flags::default());
        assert_eq!(Flags::from_config("save now"), Flags { save: true, now: true, ..Flags::default() });
    }
}
