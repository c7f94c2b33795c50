//! Dispatch: from an argument vector to a reply. One admission path, `admit`, decides in
//! Redis's processCommand order whether a command may run: unknown command / subcommand,
//! arity, authentication, a no-multi command inside MULTI, the ACL, cluster-redirect and
//! deny-oom hooks (checks that pass until their issues fill them in), the RESP2 subscribed
//! context, BUSY, CLIENT PAUSE, MULTI queueing. It answers refusals and QUEUED itself and
//! returns a `Verdict` the connection acts on (run, wait for the pause, hand a script to
//! the scripts thread): `net` reads, parses, hands the argument vector over and writes,
//! and knows no command. Then `run_admitted`: the locks the command table asks for, the
//! handler, and per-command statistics.

use super::spec::{flags, lock_key_positions};
use super::table::{Command, Lock};
use super::{blocking, multi, Ctx, Error};
use crate::keyspace::now_ms;
use crate::persist::propagate::{Op, Propagate};
use crate::resp::write::ReplyWriter;
use crate::server::client::{Client, ReplyMode};
use crate::server::Server;

/// `%.Ns` of a C string: stops at the first NUL and after `max` bytes.
fn c_str(s: &[u8], max: usize) -> String {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(max);
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Resolve argv to a command, or Redis's unknown command / subcommand / arity error.
pub fn resolve<'t>(srv: &'t Server, args: &[&[u8]]) -> Result<&'t Command, Error> {
    resolve_in(base_command(srv, args)?, args)
}

/// Redis's lookupCommand: the entry `args` names (a subcommand's when it has them), arity
/// unchecked; None if the command or subcommand is unknown. What CLIENT LIST shows as the
/// `cmd=` of a command refused before it ran.
pub fn lookup<'t>(srv: &'t Server, args: &[&[u8]]) -> Option<&'t Command> {
    let base = srv.commands.get(args[0])?;
    if args.len() < 2 || base.def.subcommands.is_empty() {
        return Some(base);
    }
    base.subcommands.get(&args[1].to_ascii_lowercase())
}

/// The table entry named by `args[0]` (any case), or the unknown-command error.
fn base_command<'t>(srv: &'t Server, args: &[&[u8]]) -> Result<&'t Command, Error> {
    let Some(base) = srv.commands.get(args[0]) else {
        let mut list = String::new();
        for a in &args[1..] {
            if list.len() >= 128 {
                break;
            }
            let room = 128 - list.len();
            list.push('\'');
            list.push_str(&c_str(a, room));
            list.push_str("' ");
        }
        return Err(Error::msg(format!(
            "ERR unknown command '{}', with args beginning with: {}",
            c_str(args[0], 128),
            list
        )));
    };
    Ok(base)
}

/// The subcommand of `base` that `args` names, if it has subcommands, with its arity
/// checked.
#[inline]
fn resolve_in<'t>(base: &'t Command, args: &[&[u8]]) -> Result<&'t Command, Error> {
    let cmd = if args.len() >= 2 && !base.def.subcommands.is_empty() {
        let mut sub = args[1].to_vec();
        sub.make_ascii_lowercase();
        match base.subcommands.get(&sub) {
            Some(c) => c,
            None => {
                return Err(Error::msg(format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    c_str(args[1], 128),
                    c_str(args[0], usize::MAX).to_ascii_uppercase()
                )))
            }
        }
    } else {
        base
    };
    let arity = cmd.def.arity;
    let argc = args.len() as i32;
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", cmd.def.name)));
    }
    Ok(cmd)
}

/// The clock a batch of commands runs with: wall time read once per batch (commands of one
/// pipeline see one "now", microseconds apart in Redis), and a monotonic mark advanced once
/// per command to time it for INFO commandstats: a command's time runs from the end of the
/// one before it in the batch (or the start of the batch), which adds only the parsing of
/// its request. One clock read per command instead of three.
pub struct BatchClock {
    pub now_ms: i64,
    /// `util::clock::now_ns` at the previous mark.
    last: u64,
    /// What the last `lap` measured.
    pub last_lap_us: u64,
}

impl BatchClock {
    pub fn new() -> BatchClock {
        BatchClock { now_ms: now_ms(), last: crate::util::clock::now_ns(), last_lap_us: 0 }
    }

    /// Microseconds since the previous mark, or since this thread last evicted if that is
    /// later. After a command that took a millisecond or
    /// more, the wall time is read again, so the commands after it in the batch (a script
    /// after a long script) do not see a stale "now".
    pub fn lap(&mut self) -> u64 {
        let t = crate::util::clock::now_ns();
        // (The eviction admission ran before the command is not the command's time.)
        let us = t.saturating_sub(self.last.max(crate::server::evict::evicted_until())) / 1000;
        self.last = t;
        self.last_lap_us = us;
        if us >= 1000 {
            self.now_ms = now_ms();
        }
        us
    }
}

impl Default for BatchClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Show an executed command to MONITOR clients (one atomic load when there are none).
pub fn feed_monitors(srv: &Server, client: &Client, cmd: &Command, args: &[&[u8]]) {
    if srv.monitors.count.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        let addr = if client.in_script { "lua" } else { client.handle.addr.as_str() };
        crate::server::pubsub::feed_monitors(srv, cmd, client.db, addr, args, client.id);
    }
}

/// A command refused before running (Redis's rejectCommand): counted as rejected (`cmd`:
/// the table entry Redis found, None for an unknown command or subcommand), its error,
/// which also dooms an open transaction (EXEC will answer EXECABORT). A refused EXEC ends
/// the transaction at once with the reason (Redis's execCommandAbort: the error without
/// its "ERR " code, as Redis builds these errors without one), and MONITOR sees it.
#[allow(clippy::too_many_arguments)]
fn reject<'a>(
    srv: &Server,
    client: &mut Client,
    cmd: Option<&Command>,
    args: &[&[u8]],
    msg: &str,
    out: &mut ReplyWriter,
    mark: usize,
    sticky: &mut Sticky<'a>,
) {
    match cmd {
        Some(c) => c.rejected_calls.add(client.worker, 1),
        None => srv.stats.rejected_calls.add(client.worker, 1),
    }
    match cmd {
        Some(exec) if exec.lock == Lock::Transaction => {
            // (Unwatching locks shards: the batch's kept hold goes first.)
            sticky.release();
            multi::reset(srv, client);
            let msg =
                format!("EXECABORT Transaction discarded because of: {}", msg.strip_prefix("ERR ").unwrap_or(msg));
            srv.count_error(&msg);
            out.error(&msg);
            feed_monitors(srv, client, exec, args);
        }
        _ => {
            srv.count_error(msg);
            out.error(msg);
            if let Some(q) = client.multi.as_mut() {
                q.doomed = true;
            }
        }
    }
    client.after_reply(out, mark);
}

/// What the connection does with a command, as `admit` decided.
pub enum Verdict<'t> {
    /// Admitted: run it on this worker (`run_admitted`).
    Run(&'t Command),
    /// Answered already: refused with its error, or queued by MULTI.
    Answered,
    /// CLIENT PAUSE holds it: the connection waits while `Server::pause_remaining(is_write)`
    /// says so (reading meanwhile), then asks `admit` again, as Redis reprocesses a
    /// postponed client's command. `name`: what CLIENT LIST shows meanwhile.
    Pause { name: &'static str, is_write: bool },
    /// Admitted, and a script (or EXEC of a transaction that queued one): the connection
    /// runs it inline or hands it to the scripts thread, where `execute` runs it.
    Script,
}

/// Redis's processCommand: may this command run? In Redis's order: unknown command or
/// subcommand, arity, a protected command (DEBUG's enable-debug-command), authentication
/// (NOAUTH), a no-multi command inside MULTI, the hooks
/// (ACL, cluster redirect, deny-oom), the RESP2 subscribed context, BUSY, CLIENT PAUSE,
/// MULTI queueing; then the script hand-off. Refusals and QUEUED are written to `out`
/// here (a refusal inside MULTI makes EXEC answer EXECABORT); `net` acts on the rest.
pub fn admit<'a>(
    srv: &'a Server,
    client: &mut Client,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    sticky: &mut Sticky<'a>,
) -> Verdict<'a> {
    admit_in(srv, client, args, out, sticky, true)
}

/// `admit`; `connection`: the command comes from the connection loop, which can wait for
/// CLIENT PAUSE and hand scripts over (not the scripts thread, nor a script run inline:
/// they were admitted already). A command is counted (total_commands_processed) when it
/// is answered, queued or run, not when it waits or goes to the scripts thread (counted
/// there).
fn admit_in<'a>(
    srv: &'a Server,
    client: &mut Client,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    sticky: &mut Sticky<'a>,
    connection: bool,
) -> Verdict<'a> {
    debug_assert!(!args.is_empty());
    let mark = out.len();
    let cmd = match sticky.resolve(srv, args) {
        Ok(c) => c,
        Err(e) => {
            // The entry of a command with the wrong arity; None if unknown.
            let found = lookup(srv, args);
            client.last_command = found.map_or("NULL", |c| c.def.name);
            reject(srv, client, found, args, &e.0, out, mark, sticky);
            return Verdict::Answered;
        }
    };
    // As Redis's processCommand: the command is the client's last one (CLIENT LIST cmd=)
    // from here, whether it is refused, queued by MULTI or run.
    client.last_command = cmd.def.name;
    if let Err(e) = checks(srv, client, cmd, args, sticky, out) {
        reject(srv, client, Some(cmd), args, &e.0, out, mark, sticky);
        return Verdict::Answered;
    }
    if connection && srv.pause_until_ms.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        // Under WRITE: those that write or may replicate, and EXEC of a transaction that
        // queued one.
        let is_write = pauses_as_write(srv, cmd, args)
            || (cmd.lock == Lock::Transaction && client.multi.as_ref().is_some_and(|q| q.writes));
        if srv.pause_remaining(is_write).is_some() {
            return Verdict::Pause { name: cmd.def.name, is_write };
        }
    }
    if client.multi.is_some() && !multi::runs_in_multi(cmd) {
        multi::queue(client, args, pauses_as_write(srv, cmd, args), is_denyoom(srv, cmd, args));
        out.simple("QUEUED");
        client.after_reply(out, mark);
        return Verdict::Answered;
    }
    if connection && runs_as_script(srv, client, cmd, args) {
        return Verdict::Script;
    }
    Verdict::Run(cmd)
}

/// The checks between authentication and CLIENT PAUSE, in Redis's order, for a command
/// that exists with the right arity: the first refusal's error.
#[inline]
fn checks<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    sticky: &mut Sticky<'a>,
    out: &ReplyWriter,
) -> Result<(), Error> {
    // Redis's protected commands (DEBUG; MODULE does not exist here), refused before
    // authentication and at MULTI's queueing time. DEBUG holds the keyspace exclusively,
    // which keeps the name comparison off every other command's path.
    if cmd.lock == Lock::Exclusive && cmd.def.name == "debug" {
        crate::server::debug::allowed(srv, client)?;
    }
    if !client.authenticated && srv.auth_required() && !cmd.def.has(flags::NO_AUTH) {
        return Err(Error::msg("NOAUTH Authentication required."));
    }
    if client.multi.is_some() && cmd.def.has(flags::NO_MULTI) && !multi::runs_in_multi(cmd) {
        return Err(Error::msg("ERR Command not allowed inside a transaction"));
    }
    srv.acl.check(client, cmd.def, args, |c| {
        crate::server::client::describe(&c.handle, Some(&crate::server::client::Running { client: c, args, out }))
    })?;
    cluster_redirect(srv, cmd, args)?;
    deny_oom(srv, client, cmd, args, sticky)?;
    if srv.rdb.admission() != 0 {
        disk_and_loading(srv, client, cmd, args)?;
    }
    if client.subs.total() > 0 {
        crate::server::pubsub::check_subscribed_mode(client, cmd.def.name)?;
    }
    if !cmd.def.has(flags::ALLOW_BUSY) {
        if let Some(e) = srv.scripting.state.busy_error() {
            return Err(e);
        }
    }
    Ok(())
}

/// Cluster: are the command's keys served here (Redis's getNodeByQuery, refused with
/// -MOVED / -ASK / -CROSSSLOT / -CLUSTERDOWN)? Always, until the cluster issue fills this
/// in (cluster-enabled is off).
#[inline(always)]
fn cluster_redirect(_srv: &Server, _cmd: &Command, _args: &[&[u8]]) -> Result<(), Error> {
    Ok(())
}

/// maxmemory: evict what the policy lets go (Redis's performEvictions, server::evict), and
/// refuse with -OOM a command that may grow memory when it is still over the limit. One
/// relaxed load while maxmemory is 0.
#[inline(always)]
fn deny_oom<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    sticky: &mut Sticky<'a>,
) -> Result<(), Error> {
    if srv.evict.maxmemory.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        client.oom = false;
        return Ok(());
    }
    evict_or_refuse(srv, client, cmd, args, sticky)
}

/// `deny_oom` with a limit set. The outcome is kept on the client (Redis's
/// pre_command_oom_state): a script it admits refuses its first write under OOM.
#[inline(never)]
fn evict_or_refuse<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    sticky: &mut Sticky<'a>,
) -> Result<(), Error> {
    use crate::server::evict::{perform, Outcome, OOM_ERROR};
    // Eviction takes shard locks: the batch's kept hold goes first, when it comes to that.
    client.oom = perform(srv, client.worker, || sticky.release()) == Outcome::Fail;
    if !client.oom {
        return Ok(());
    }
    // Queueing takes memory too: inside MULTI everything is refused but the commands that
    // end the transaction (Redis's processCommand list); EXEC only if it queued a deny-oom
    // command.
    let refused = if client.multi.is_some() {
        match cmd.def.name {
            "exec" => client.multi.as_ref().is_some_and(|q| q.denyoom),
            "discard" | "reset" | "quit" => false,
            _ => true,
        }
    } else {
        is_denyoom(srv, cmd, args)
    };
    if refused {
        return Err(Error::msg(OOM_ERROR));
    }
    Ok(())
}

/// Is the command deny-oom (Redis's getCommandFlags)? A script whose script or function
/// declared flags is, unless it declared no-writes or allow-oom (scriptFlagsToCmdFlags);
/// one without declared flags is as EVAL's own flags say (not deny-oom).
pub fn is_denyoom(srv: &Server, cmd: &Command, args: &[&[u8]]) -> bool {
    use crate::server::scripting::sflags;
    if cmd.def.name == "exec" {
        return false;
    }
    match srv.scripting.declared_flags(cmd.def.name, args) {
        Some(declared) => declared & (sflags::NO_WRITES | sflags::ALLOW_OOM) == 0,
        None => cmd.def.has(flags::DENYOOM),
    }
}

/// MISCONF (a failed save with stop-writes-on-bgsave-error; the AOF's write errors),
/// NOREPLICAS (min-replicas-to-write) and LOADING, in processCommand's order; only looked
/// at while one of them may apply. A script that declared its flags writes unless it said
/// no-writes (Redis's scriptFlagsToCmdFlags); one that did not is as its command's flags.
#[cold]
fn disk_and_loading(srv: &Server, client: &Client, cmd: &Command, args: &[&[u8]]) -> Result<(), Error> {
    let exec_writes = cmd.lock == Lock::Transaction && client.multi.as_ref().is_some_and(|q| q.writes);
    let is_write = exec_writes
        || match srv.scripting.declared_flags(cmd.def.name, args) {
            Some(declared) => declared & crate::server::scripting::sflags::NO_WRITES == 0,
            None => cmd.def.has(flags::WRITE),
        };
    let is_ping = cmd.def.name == "ping";
    match crate::server::save::refusal(srv, is_write, is_ping, cmd.def.has(flags::LOADING)) {
        Some(e) => Err(Error::msg(e)),
        None => Ok(()),
    }
}

/// Does this admitted command go to the scripts thread (or run inline as a short script)?
/// A script call, or EXEC of a transaction that queued one; not while a script runs
/// already (it waits for the keyspace, or gets BUSY, here).
fn runs_as_script(srv: &Server, client: &Client, cmd: &Command, args: &[&[u8]]) -> bool {
    if srv.scripting.state.running.load(std::sync::atomic::Ordering::Acquire) {
        return false;
    }
    match &client.multi {
        None => crate::resp::parse::is_script_call(args[0]),
        Some(q) => q.scripts && !q.doomed && cmd.lock == Lock::Transaction,
    }
}

/// Execute one command and append its reply to `out` (the scripts thread, a script run
/// inline, commands after a script hand-off): admitted, without waiting for CLIENT PAUSE.
pub fn execute(srv: &Server, client: &mut Client, args: &[&[u8]], out: &mut ReplyWriter, clock: &mut BatchClock) {
    let mut sticky = Sticky::default();
    if let Verdict::Run(cmd) = admit_in(srv, client, args, out, &mut sticky, false) {
        run_admitted(srv, client, cmd, args, out, clock, &mut sticky);
    }
}

/// The keyspace kept held between the commands of one pipelined batch of one connection
/// (`run_admitted`): a run of commands whose keys all live in one shard (a hot key: LPUSH
/// mylist ..., HSET myhash ...) takes the worker's gate and that shard's lock once instead
/// of once per command, so two workers on one key trade the lock (and its cache lines)
/// once per batch. Any other command releases it first, and so must the caller before
/// anything that waits (a blocked client, CLIENT PAUSE, a script, the socket write): other
/// threads wait for this shard and for the gate while it is kept.
/// Command names a connection's `Sticky` remembers.
const NAMES: usize = 8;

/// A command name as a client sent it, with its table entry.
type RecentName<'a> = (smallvec::SmallVec<[u8; 16]>, &'a Command);

#[derive(Default)]
pub struct Sticky<'a> {
    held: Option<(usize, usize, Held<'a>)>,
    /// The last command names of the connection as sent (`NAMES` of them, the oldest
    /// replaced first), with their table entries: a client mostly repeats a few commands
    /// (a pipeline of one, a transaction's MULTI ... EXEC), which then skip the table's
    /// lookup.
    last: [Option<RecentName<'a>>; NAMES],
    /// The slot of `last` the next new name goes to.
    next: usize,
}

impl<'a> Sticky<'a> {
    /// `resolve`, remembering the table entry of the last name seen.
    fn resolve(&mut self, srv: &'a Server, args: &[&[u8]]) -> Result<&'a Command, Error> {
        let known = self.last.iter().flatten().find(|(name, _)| name[..] == *args[0]).map(|&(_, base)| base);
        let base = match known {
            Some(base) => base,
            None => {
                let base = base_command(srv, args)?;
                self.last[self.next] = Some((smallvec::SmallVec::from_slice(args[0]), base));
                self.next = (self.next + 1) % NAMES;
                base
            }
        };
        resolve_in(base, args)
    }

    pub fn release(&mut self) {
        self.held = None;
    }

    /// `Keyspace::prefetch_member` through the kept hold when it holds the key's shard
    /// (the keyspace's own try-lock would fail on it): None when it does not.
    pub fn prefetch_member(&mut self, db: usize, key: &[u8], member: &[u8], entry: bool) -> Option<bool> {
        match &mut self.held {
            Some((d, _, h)) if *d == db => h.ks.prefetch_member(key, member, entry),
            _ => None,
        }
    }
}

/// Run a command `admit` let through (`Verdict::Run`), keeping the hold of a single-shard
/// command in `sticky` for the next one; its reply (or error) is appended to `out`.
pub fn run_admitted<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &'a Command,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    clock: &mut BatchClock,
    sticky: &mut Sticky<'a>,
) {
    let mark = out.len();
    // Pushes that reached this client before the command precede its reply.
    client.handle.outbox.drain_into(&mut out.buf);
    // EXEC's time covers its queued commands (timed on their own too, with `clock`), as
    // Redis's call() of EXEC includes the calls nested in it.
    let mut exec_started = 0;
    let failed = match cmd.lock {
        Lock::Transaction => {
            sticky.release();
            exec_started = crate::util::clock::now_ns();
            multi::exec(srv, client, out, clock)
        }
        _ => run(srv, client, cmd, args, out, clock.now_ms, sticky),
    };
    feed_monitors(srv, client, cmd, args);
    let mut us = clock.lap();
    if exec_started != 0 {
        us = crate::util::clock::now_ns().saturating_sub(exec_started) / 1000;
    }
    record_call(srv, client, cmd, args, us, failed);
    // Again: EXEC ran its queued commands with this client.
    client.last_command = cmd.def.name;
    client.after_reply(out, mark);
    crate::server::tracking::after_command(srv, client, cmd.def.name);
    // Pushes that arrived while the command ran: before the reply, except the client's own
    // invalidations and what followed a registration the command made (SUBSCRIBE, CLIENT
    // TRACKING ON): see `Outbox::drain_around`.
    client.handle.outbox.drain_around(&mut out.buf, mark);
}

/// Account for a call that took `us` µs: INFO commandstats, latency-tracking's histogram,
/// and when it reaches the smallest threshold watched, the slow log and the latency
/// monitor (`server::latency::slow_call`). Every place that runs a command (a client's,
/// a transaction's, a script's) ends here, as each goes through Redis's call().
#[inline]
pub fn record_call(srv: &Server, client: &Client, cmd: &Command, args: &[&[u8]], us: u64, failed: bool) {
    cmd.record(client.worker, us, failed);
    // total_commands_processed counts what commandstats' calls count, as Redis's call()
    // does: not a refused command, nor one queued by MULTI until EXEC runs it; a command
    // of a transaction or a script on its own.
    srv.stats.commands.add(client.worker, 1);
    let watch = &srv.call_watch;
    if watch.tracking.load(std::sync::atomic::Ordering::Relaxed) {
        cmd.hist.record(client.worker, us);
    }
    if us >= watch.watch_us.load(std::sync::atomic::Ordering::Relaxed) {
        match &client.blocked {
            // Logged once it is served or times out (`SlowLog::push_unblocked`), and no
            // latency sample, as Redis's call() skips a command that blocked.
            Some(w) => w.ran_us.store(us, std::sync::atomic::Ordering::Relaxed),
            None => crate::server::latency::slow_call(srv, client, cmd.def.flags, args, us),
        }
    }
    crate::server::slowlog::flush_unblocked(srv);
}

/// The key arguments of a command, from the table. Commands without movable keys use the
/// legacy (first, last, step) range, which Redis derives from their key specs and which is
/// exact for them; the others go through the full key-spec extraction.
pub fn command_keys<'x>(cmd: &Command, args: &[&'x [u8]]) -> smallvec::SmallVec<[&'x [u8]; 4]> {
    let def = cmd.def;
    if def.has(flags::MOVABLE_KEYS) {
        return lock_key_positions(def, args).iter().filter_map(|&i| args.get(i).copied()).collect();
    }
    let mut keys = smallvec::SmallVec::new();
    if def.first_key <= 0 {
        return keys;
    }
    let argc = args.len() as i32;
    let last = if def.last_key < 0 { argc + def.last_key } else { def.last_key };
    let step = def.key_step.max(1);
    let mut i = def.first_key;
    while i <= last && i < argc {
        keys.push(args[i as usize]);
        i += step;
    }
    keys
}

/// The keyspace held for one command, one transaction or one script: the access (dropped
/// first: fields drop in declaration order) and the gate guards under it.
pub struct Held<'a> {
    pub ks: crate::keyspace::Access<'a>,
    _shared: Option<parking_lot::RwLockReadGuard<'a, ()>>,
    _exclusive: Vec<parking_lot::RwLockWriteGuard<'a, ()>>,
}

/// How long to wait for a gate before looking again whether a script has turned busy.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Take the keyspace for `client`: every gate (`exclusive`), or its own gate shared and
/// the shards of `keys` in its database. While a script holds the keyspace past
/// busy-reply-threshold, give up with the BUSY error instead of waiting.
pub fn hold<'a, K: AsRef<[u8]>>(
    srv: &'a Server,
    client: &Client,
    exclusive: bool,
    keys: &[K],
    now: i64,
) -> Result<Held<'a>, Error> {
    let ids = if exclusive { Default::default() } else { srv.ks.shard_ids(keys) };
    hold_shards(srv, client, exclusive, &ids, None, now)
}

/// `hold` of shards `ids` (`Keyspace::shard_ids`) instead of keys.
/// `keys`: the command touches these keys only (a snapshot in progress then saves just
/// their segments of a shard it still wants, `Keyspace::access_keys`).
fn hold_shards<'a>(
    srv: &'a Server,
    client: &Client,
    exclusive: bool,
    ids: &[u32],
    keys: Option<&[&[u8]]>,
    now: i64,
) -> Result<Held<'a>, Error> {
    let busy = || srv.scripting.state.busy_error();
    let (_shared, _exclusive, mut ks) = if exclusive {
        let mut gates = Vec::with_capacity(srv.ks.gate_count());
        for i in 0..srv.ks.gate_count() {
            loop {
                if let Some(g) = srv.ks.try_enter_exclusive_for(i, BUSY_POLL) {
                    gates.push(g);
                    break;
                }
                if let Some(e) = busy() {
                    return Err(e);
                }
            }
        }
        (None, gates, srv.ks.access_exclusive(client.db, now))
    } else {
        let g = loop {
            if let Some(g) = srv.ks.try_enter_for(client.worker, BUSY_POLL) {
                break g;
            }
            if let Some(e) = busy() {
                return Err(e);
            }
        };
        let access = match keys {
            Some(keys) => srv.ks.access_keys(client.db, ids, keys, now),
            None => srv.ks.access_shards(client.db, ids, now),
        };
        (Some(g), Vec::new(), access)
    };
    ks.no_touch = client.no_touch;
    ks.slot = client.worker;
    ks.client = client.id;
    ks.lfu = srv.lfu_params();
    Ok(Held { ks, _shared, _exclusive })
}

/// An access holding nothing, for commands that touch no keyspace (Lock::Free, and the
/// allow-busy commands while a script is busy).
fn hold_nothing<'a>(srv: &'a Server, client: &Client, now: i64) -> Held<'a> {
    let mut ks = srv.ks.access(client.db, &[] as &[&[u8]], now);
    ks.slot = client.worker;
    ks.client = client.id;
    Held { ks, _shared: None, _exclusive: Vec::new() }
}

/// Serve the clients blocked on keys the held command(s) filled, before the locks are
/// released and before the command's own reply is sent (see command::blocking). Returns
/// the keys left for `blocking::serve_deferred` once the locks are gone.
pub fn serve_filled<'a>(srv: &'a Server, ks: &mut crate::keyspace::Access<'a>) -> Vec<(usize, Vec<u8>)> {
    if ks.ready.is_empty() {
        Vec::new()
    } else {
        blocking::serve_ready(srv, ks)
    }
}

/// Lock what the command needs and call its handler. Returns true if it replied an error.
fn run<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    now: i64,
    sticky: &mut Sticky<'a>,
) -> bool {
    let (failed, deferred) = {
        let free = cmd.lock == Lock::Free
            || (cmd.def.has(flags::ALLOW_BUSY) && srv.scripting.state.busy.load(std::sync::atomic::Ordering::Acquire));
        let keys = if !free && cmd.lock == Lock::Keys { command_keys(cmd, args) } else { Default::default() };
        let ids = srv.ks.shard_ids(&keys);
        // The one shard all the keys live in, if so.
        let shard = (ids.len() == 1).then(|| ids[0] as usize);
        // A kept hold serves this command too: as it is when the command is on its shard,
        // moved to the command's shard when it is on another (one shard lock traded for
        // another under the same gate, instead of a new hold).
        let kept = match (&mut sticky.held, shard) {
            (Some((db, s, h)), Some(shard)) if *db == client.db => {
                if *s != shard {
                    h.ks.rehold(shard, &keys);
                    *s = shard;
                } else {
                    h.ks.keys_saved(client.db, &keys);
                }
                h.ks.renew(now);
                h.ks.lfu = srv.lfu_params();
                true
            }
            _ => {
                sticky.release();
                false
            }
        };
        let mut fresh = None;
        let held = match &mut sticky.held {
            Some((_, _, h)) if kept => h,
            _ => {
                let made = if free {
                    Ok(hold_nothing(srv, client, now))
                } else {
                    match cmd.lock {
                        Lock::Keys => hold_shards(srv, client, false, &ids, Some(&keys), now),
                        // (EXEC never gets here: `execute` hands it to multi::exec.)
                        _ => hold_shards(srv, client, true, &[], None, now),
                    }
                };
                match made {
                    Ok(h) => fresh.insert(h),
                    Err(e) => {
                        cmd.rejected_calls.add(client.worker, 1);
                        srv.count_error(&e.0);
                        out.error(&e.0);
                        return true;
                    }
                }
            }
        };
        let ks = &mut held.ks;
        if keys.len() > 2 {
            ks.prefetch_keys(&keys);
        }
        ks.no_touch = client.no_touch && cmd.def.name != "touch";
        let failed = call(srv, client, cmd, args, out, ks);
        let deferred = serve_filled(srv, ks);
        // (`fresh` is tested before it is moved: a move of a hold is a copy of its bytes.)
        match (shard, deferred.is_empty(), fresh.is_some()) {
            (Some(s), true, true) => sticky.held = fresh.take().map(|h| (h.ks.db, s, h)),
            (_, false, false) => sticky.release(),
            _ => {}
        }
        (failed, deferred)
    };
    if !deferred.is_empty() {
        blocking::serve_deferred(srv, client.worker, deferred, now);
    }
    failed
}

/// Does CLIENT PAUSE WRITE hold the command (Redis's getCommandFlags having CMD_WRITE or
/// CMD_MAY_REPLICATE)? A script command whose script or function declared flags writes
/// unless it declared no-writes (scriptFlagsToCmdFlags).
pub fn pauses_as_write(srv: &Server, cmd: &Command, args: &[&[u8]]) -> bool {
    match srv.scripting.declared_flags(cmd.def.name, args) {
        Some(declared) => declared & crate::server::scripting::sflags::NO_WRITES == 0,
        None => cmd.def.has(flags::WRITE) || cmd.def.has(flags::MAY_REPLICATE),
    }
}

/// Call a command's handler with a locked keyspace view; an error becomes the reply. True
/// if it failed. Clients watching keys it modified are flagged; the keys a tracking
/// client reads are remembered for invalidation (server::tracking).
pub fn call<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    ks: &mut crate::keyspace::Access<'a>,
) -> bool {
    // Inside a unit that collects (EXEC's, a script's), or a sink to collect for: the one
    // load the propagation seam costs when there is none.
    if ks.depth > 0 || srv.sinks.active() {
        return call_collecting(srv, client, cmd, args, out, ks);
    }
    ks.prop = false;
    run_handler(srv, client, cmd, args, out, ks)
}

/// `call` while a sink is active: the command's op joins its unit, which is delivered if
/// the command is all of it (`propagate_command`).
#[inline(never)]
fn call_collecting<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    ks: &mut crate::keyspace::Access<'a>,
) -> bool {
    ks.prop = true;
    ks.depth += 1;
    let outer = std::mem::take(&mut ks.propagate);
    let dirty = ks.dirty;
    let failed = run_handler(srv, client, cmd, args, out, ks);
    ks.depth -= 1;
    let ticket = propagate_command(srv, ks, client.db, args, dirty, outer);
    client.aof_ticket = client.aof_ticket.max(ticket);
    failed
}

/// `call`'s work: the handler, its error as the reply, the watchers of what it modified,
/// the keys a tracking client read.
#[inline(always)]
fn run_handler<'a>(
    srv: &'a Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    out: &mut ReplyWriter,
    ks: &mut crate::keyspace::Access<'a>,
) -> bool {
    let dirty = ks.dirty;
    let mut ctx = Ctx { srv, client, out, ks, args };
    let mut failed = match (cmd.handler)(&mut ctx) {
        Ok(()) => false,
        Err(e) => {
            srv.count_error(&e.0);
            ctx.out.error(&e.0);
            true
        }
    };
    let extra = std::mem::take(&mut ctx.client.reply_failures);
    if extra > 0 {
        // The caller records one; the rest here (Redis counts each such error reply).
        cmd.failed_calls.add(client.worker, (extra - 1 + failed as u32) as u64);
        failed = true;
    }
    if !ks.touched.is_empty() {
        let modified = ks.dirty > dirty;
        ks.signal_touched(modified);
    }
    // Redis remembers the keys of every read-only command (read-only scripts aside: only
    // the commands they run), hit or miss, with the command's shards still held.
    if client.handle.tracking_on.load(std::sync::atomic::Ordering::Relaxed)
        && cmd.def.has(flags::READONLY)
        && !cmd.def.has(flags::PUBSUB)
        && !matches!(cmd.def.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        crate::server::tracking::remember(srv, &client.handle, &command_keys(cmd, args));
    }
    failed
}

/// After a command ran with a sink active: add it to its unit as Redis's call() does (if
/// its dirty count grew: its own arguments, or what its handler asked for instead, in the
/// database it ran in), restore the enclosing command's propagation, and deliver the
/// unit if this command was all of it: the ticket to wait on before replying (0: none).
#[cold]
fn propagate_command(
    srv: &Server,
    ks: &mut crate::keyspace::Access<'_>,
    db: usize,
    args: &[&[u8]],
    dirty: u64,
    outer: Propagate,
) -> u64 {
    let how = std::mem::replace(&mut ks.propagate, outer);
    match how {
        _ if ks.own_op_off => {}
        Propagate::Always => ks.ops.push(Op { db, argv: crate::persist::propagate::argv(args) }),
        _ if ks.dirty == dirty => {}
        Propagate::Own => ks.ops.push(Op { db, argv: crate::persist::propagate::argv(args) }),
        Propagate::As(argv) => ks.ops.push(Op { db, argv }),
        Propagate::Nothing => {}
    }
    if ks.depth == 0 {
        return crate::persist::propagate::deliver_unit(srv, ks);
    }
    0
}

impl Client {
    /// Apply CLIENT REPLY OFF/SKIP to the reply just written.
    pub(crate) fn after_reply(&mut self, out: &mut ReplyWriter, mark: usize) {
        match self.reply_mode {
            ReplyMode::On => {
                if !out.pushes.is_empty() {
                    out.pushes.clear();
                }
            }
            ReplyMode::Off => self.drop_reply(out, mark),
            ReplyMode::SkipNext => self.reply_mode = ReplyMode::Skip,
            ReplyMode::Skip => {
                self.drop_reply(out, mark);
                self.reply_mode = ReplyMode::On;
            }
        }
    }

    /// Drop the reply written since `mark`, but not the pushes in it (`ReplyWriter::pushes`).
    fn drop_reply(&mut self, out: &mut ReplyWriter, mark: usize) {
        let mut end = mark;
        for span in std::mem::take(&mut out.pushes) {
            if span.start >= end {
                out.buf.copy_within(span.clone(), end);
                end += span.len();
            }
        }
        out.truncate(end);
    }
}
