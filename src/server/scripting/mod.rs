//! Scripting: EVAL and friends on an embedded Lua 5.1 (mlua), the script cache, SCRIPT,
//! and the machinery shared with functions (`functions.rs`): running a Lua function with
//! the keyspace held, busy scripts, SCRIPT KILL / FUNCTION KILL.
//!
//! Execution: a script holds the whole keyspace (every gate) for its run, so it sees and
//! changes the keyspace atomically and may touch keys it did not declare, as Sidekiq,
//! BullMQ, Celery and python-rq scripts do. Scripts sent by clients run on a dedicated
//! thread (`executor`), not on the connection's worker: while a script runs past
//! busy-reply-threshold, the workers stay free to answer every other client with BUSY
//! (and to run SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE), as Redis answers from inside
//! its Lua hook. A script inside MULTI/EXEC runs inline with the transaction's hold, on the
//! scripts thread too: EXEC of a transaction that queued one is sent there (`net`).

pub mod convert;
pub mod functions;
pub mod libs;
mod sandbox;
pub mod vm;

use ahash::AHashMap as HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{Function, HookTriggers, VmState};
use parking_lot::Mutex;

use crate::command::args::{eq, int};
use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::Access;
use crate::server::client::Client;
use vm::{RunCtx, Vm};

/// Shebang flags (`#!lua flags=...`).
pub mod sflags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 2;
    pub const ALLOW_STALE: u32 = 4;
    pub const NO_CLUSTER: u32 = 8;
    pub const ALLOW_CROSS_SLOT: u32 = 16;
    /// No shebang: Redis's "EVAL compatibility mode".
    pub const EVAL_COMPAT: u32 = 32;

    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];
}

thread_local! {
    /// This thread runs the EVALSHA at hand on a connection's worker (`execute_timed`).
    static RUN_INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The script this thread just ran inline was stopped to run again on the scripts
    /// thread (kill state 3); read by `execute_timed` on the same thread.
    static MIGRATED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What is running now, for SCRIPT KILL, FUNCTION KILL/STATS and BUSY replies.
#[derive(Default)]
pub struct RunState {
    pub running: AtomicBool,
    /// EVAL family (true) or FCALL (false).
    pub eval_mode: AtomicBool,
    /// The script called a write command: it can no longer be killed.
    pub wrote: AtomicBool,
    /// 1: SCRIPT KILL / FUNCTION KILL asked for; 2: FUNCTION LOAD ran out of time.
    pub killed: Arc<AtomicU8>,
    /// While FUNCTION LOAD runs library code: its deadline (`mono_ms`), else 0.
    pub load_deadline_ms: AtomicI64,
    /// Running for longer than busy-reply-threshold: other clients get BUSY.
    pub busy: AtomicBool,
    pub started_ms: AtomicI64,
    pub threshold_ms: AtomicI64,
    /// The running script runs on a connection's worker (`Scripting::runs_inline`); set
    /// by `begin` from the running thread's `RUN_INLINE`.
    pub inline: AtomicBool,
    /// Scripts run so far (paces the garbage collector).
    pub runs: std::sync::atomic::AtomicU64,
    /// (function name, command line) of the running function, for FUNCTION STATS.
    pub current: Mutex<(String, Vec<Vec<u8>>)>,
}

impl RunState {
    /// The BUSY error other clients receive, if a script is busy.
    pub fn busy_error(&self) -> Option<Error> {
        if !self.busy.load(Ordering::Acquire) {
            return None;
        }
        Some(Error::msg(if self.eval_mode.load(Ordering::Relaxed) {
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        } else {
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        }))
    }

    /// Start a run of Lua code in `lua` under the hook: the only way a run starts. The
    /// returned guard ends it, on every path out (errors and kills included), so nothing
    /// a run or a kill of it changes outlives the run.
    fn enter<'a>(self: &'a Arc<Self>, lua: &'a mlua::Lua, run: Run) -> Running<'a> {
        // Per run, from the thread that runs it (under the exclusive hold): a worker may
        // be waiting for the keyspace with an inline script while another one runs.
        let script = matches!(run, Run::Script { .. });
        self.inline.store(script && RUN_INLINE.with(|r| r.get()), Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        self.killed.store(0, Ordering::Release);
        self.busy.store(false, Ordering::Release);
        let now = crate::util::clock::mono_ms();
        self.started_ms.store(now, Ordering::Release);
        match run {
            Run::Script { eval_mode, threshold_ms } => {
                self.eval_mode.store(eval_mode, Ordering::Release);
                self.threshold_ms.store(threshold_ms, Ordering::Release);
                self.load_deadline_ms.store(0, Ordering::Release);
                self.running.store(true, Ordering::Release);
            }
            // Library code is not a script: Redis runs it under its own hook, which only
            // enforces the load timeout (no BUSY, no SCRIPT KILL / FUNCTION KILL).
            Run::Load => self.load_deadline_ms.store(now + LOAD_TIMEOUT_MS, Ordering::Release),
        }
        Running { state: self, lua }
    }
}

/// What `RunState::enter` starts.
enum Run {
    /// A script or function called by a client (EVAL family, FCALL family).
    Script { eval_mode: bool, threshold_ms: i64 },
    /// A library's code at FUNCTION LOAD / RESTORE.
    Load,
}

/// FUNCTION LOAD's limit on a library's code, as Redis's (LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT_MS: i64 = 500;

/// A run in progress (`RunState::enter`); dropping it ends the run.
struct Running<'a> {
    state: &'a Arc<RunState>,
    lua: &'a mlua::Lua,
}

impl Running<'_> {
    /// Why the run was stopped: 0 not, 1 SCRIPT KILL / FUNCTION KILL, 2 load timeout,
    /// 3 stopped to run again on the scripts thread.
    fn killed(&self) -> u8 {
        self.state.killed.load(Ordering::Acquire)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let st = self.state;
        // A kill switches the hook to every line (`install_hook`): back to the cheap one.
        // Only `enter` and this clear `killed`, so it still says whether that happened.
        if st.killed.load(Ordering::Acquire) != 0 {
            install_hook(self.lua, st.clone(), false);
        }
        st.inline.store(false, Ordering::Release);
        st.running.store(false, Ordering::Release);
        st.busy.store(false, Ordering::Release);
        st.load_deadline_ms.store(0, Ordering::Release);
        st.killed.store(0, Ordering::Release);
    }
}

struct Script {
    func: Function,
    flags: u32,
}

/// What INFO memory reports of scripting. Kept in atomics by the threads that change it:
/// INFO must not lock a Lua state that another thread may be running a script in.
#[derive(Default)]
pub struct Footprint {
    /// Lua heap of the EVAL state (bytes): sampled when it is created and every 50 runs.
    pub vm_eval: AtomicUsize,
    /// Lua heap of the function libraries' state, sampled the same way and after loads.
    pub vm_functions: AtomicUsize,
    /// Scripts in the EVAL cache, and about their size as Redis counts it (`script_bytes`).
    pub scripts: AtomicUsize,
    pub scripts_bytes: AtomicUsize,
}

impl Footprint {
    /// Record `vm`'s heap for its engine (EVAL or functions); its size.
    pub fn sample(&self, eval: bool, vm: &Vm) -> usize {
        // Whole KB, as Redis reports it (lua_gc COUNT * 1024).
        let used = vm.lua.used_memory() / 1024 * 1024;
        if eval { &self.vm_eval } else { &self.vm_functions }.store(used, Ordering::Relaxed);
        used
    }
}

/// One cached script's size as INFO counts it: its SHA-1 and body, and about 100 bytes of
/// bookkeeping (Redis 7.0 reports 136 for "return 1").
fn script_bytes(body_len: usize) -> usize {
    40 + body_len + 88
}

struct Cache {
    vm: Vm,
    scripts: HashMap<String, Script>,
}

type Job = (Client, Vec<Vec<Vec<u8>>>, bool, tokio::sync::oneshot::Sender<(Client, Vec<u8>)>);

pub struct Scripting {
    cache: Mutex<Option<Cache>>,
    pub functions: Mutex<functions::Registry>,
    pub state: Arc<RunState>,
    executor: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    /// EVALSHA scripts by SHA-1: seen to finish quickly every time (true), or not (false).
    speed: parking_lot::RwLock<HashMap<[u8; 40], bool>>,
    pub footprint: Footprint,
}

/// Scripts remembered by `Scripting::speed` (past this it starts over).
const SPEED_ENTRIES: usize = 4096;

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

/// The hook: every 100k VM instructions, notice a busy script and honour SCRIPT KILL.
/// After a kill it fires on every line, so a script cannot swallow the error with pcall.
fn install_hook(lua: &mlua::Lua, state: Arc<RunState>, every_line: bool) {
    let triggers = if every_line {
        HookTriggers::new().every_line().every_nth_instruction(1000)
    } else {
        HookTriggers::new().every_nth_instruction(100_000)
    };
    lua.set_hook(triggers, move |lua, _| {
        let deadline = state.load_deadline_ms.load(Ordering::Relaxed);
        if deadline > 0 && crate::util::clock::mono_ms() > deadline {
            state.killed.store(2, Ordering::Release);
        }
        // A script run on a worker that has not written and is halfway to BUSY: stop it,
        // to start over on the scripts thread, where it holds up no worker.
        if state.inline.load(Ordering::Relaxed) && !state.wrote.load(Ordering::Acquire) {
            let elapsed = crate::util::clock::mono_ms() - state.started_ms.load(Ordering::Relaxed);
            if elapsed * 2 >= state.threshold_ms.load(Ordering::Relaxed) {
                let _ = state.killed.compare_exchange(0, 3, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        if state.killed.load(Ordering::Acquire) != 0 {
            if !every_line {
                install_hook(lua, state.clone(), true);
            }
            return Err(mlua::Error::RuntimeError("ERR Script killed by user with SCRIPT KILL...".into()));
        }
        // Only a script turns busy: library code at FUNCTION LOAD has its own limit.
        if state.running.load(Ordering::Relaxed) && !state.busy.load(Ordering::Relaxed) {
            let elapsed = crate::util::clock::mono_ms() - state.started_ms.load(Ordering::Relaxed);
            let threshold = state.threshold_ms.load(Ordering::Relaxed);
            if threshold > 0 && elapsed >= threshold {
                state.busy.store(true, Ordering::Release);
                vm::log_notice(&format!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command.",
                    if state.eval_mode.load(Ordering::Relaxed) { "SCRIPT KILL" } else { "FUNCTION KILL" }
                ));
            }
        }
        Ok(VmState::Continue)
    });
}

/// A new Lua state with the hook installed.
pub fn new_vm(state: &Arc<RunState>) -> Result<Vm, Error> {
    let mut vm =
        Vm::new(state.killed.clone()).map_err(|e| Error::msg(format!("ERR could not create the Lua state: {e}")))?;
    install_hook(&vm.lua, state.clone(), false);
    // Setting the state up leaves garbage (the prelude's chunk and temporaries): collect it
    // now, so the heap the collector works over starts at what stays.
    let _ = vm.lua.gc_collect();
    vm.base_heap = vm.lua.used_memory();
    Ok(vm)
}

/// Split a `#!lua ...` first line off a script body: its flags, and the body to compile
/// (the shebang line blanked, so line numbers stay right).
/// A script's shebang flags, its `name=` (functions only), and the body to compile.
pub type Shebang = (u32, Option<Vec<u8>>, Vec<u8>);

pub fn parse_shebang(body: &[u8], allow_name: bool) -> Result<Shebang, Error> {
    if !body.starts_with(b"#!") {
        return Ok((sflags::EVAL_COMPAT, None, body.to_vec()));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(Error::msg("ERR Invalid script shebang"));
    };
    let line = &body[..end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"");
    if engine != b"#!lua" {
        return Err(Error::msg(format!("ERR Unexpected engine in script shebang: {}", String::from_utf8_lossy(line))));
    }
    let mut flags = 0;
    let mut name = None;
    for p in parts {
        if let Some(list) = p.strip_prefix(b"flags=") {
            for f in list.split(|&b| b == b',').filter(|_| !list.is_empty()) {
                match sflags::NAMES.iter().find(|(n, _)| n.as_bytes() == f) {
                    Some((_, bit)) => flags |= bit,
                    None => {
                        return Err(Error::msg(format!(
                            "ERR Unexpected flag in script shebang: {}",
                            String::from_utf8_lossy(f)
                        )))
                    }
                }
            }
        } else if let (true, Some(n)) = (allow_name, p.strip_prefix(b"name=")) {
            name = Some(n.to_vec());
        } else {
            return Err(Error::msg(format!("ERR Unknown lua shebang option: {}", String::from_utf8_lossy(p))));
        }
    }
    let mut code = body[end..].to_vec();
    if code.is_empty() {
        code.push(b'\n');
    }
    Ok((flags, name, code))
}

/// The first key a script command declares (EVALSHA sha 1 key ...), if any: a prefetch
/// hint only, so a quick look at numkeys instead of the command table's key extraction
/// (`dispatch::command_keys`), which measured 3-6% more CPU per EVALSHA at pipeline 16.
fn first_key(args: &[Vec<u8>]) -> Option<&[u8]> {
    let declared = args.get(2).and_then(|n| n.first()).is_some_and(|c| (b'1'..=b'9').contains(c));
    if declared {
        args.get(3).map(|k| &k[..])
    } else {
        None
    }
}

impl Scripting {
    pub fn new() -> Scripting {
        Scripting {
            cache: Mutex::new(None),
            functions: Mutex::new(functions::Registry::default()),
            state: Arc::new(RunState::default()),
            executor: Mutex::new(None),
            speed: Default::default(),
            footprint: Footprint::default(),
        }
    }

    /// Start the thread scripts sent by clients run on. The EVAL Lua state is created now,
    /// as Redis creates its own at startup (INFO reports its heap from the start).
    pub fn start_executor(srv: &Arc<crate::server::Server>) {
        if let Err(e) = srv.scripting.with_cache(|_| Ok(())) {
            crate::server::log::log(srv, &format!("Lua state not created at startup: {}", e.0));
        }
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let s = srv.clone();
        let spawned = std::thread::Builder::new().name("scripts".into()).stack_size(64 << 20).spawn(move || {
            while let Ok((mut client, batch, resp3, done)) = rx.recv() {
                // Small: the replies travel back to the worker (a 16 KiB buffer per job
                // would be a large allocation freed on another thread every time).
                let mut out = crate::resp::write::ReplyWriter::small(resp3);
                let mut clock = crate::command::dispatch::BatchClock::new();
                // The first keys of the next scripts, prefetched as the connection loop
                // does for a pipeline (its slot two scripts ahead, its entry one ahead).
                let db = client.db;
                let prefetch = |i: usize, entry: bool| {
                    if let Some(key) = batch.get(i).and_then(|a| first_key(a)) {
                        s.ks.prefetch(db, key, entry);
                    }
                };
                prefetch(1, false);
                for (i, args) in batch.iter().enumerate() {
                    prefetch(i + 1, true);
                    prefetch(i + 2, false);
                    let argv: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    s.scripting.execute_timed(&s, &mut client, &argv, &mut out, &mut clock, false);
                }
                let _ = done.send((client, out.buf));
            }
        });
        if spawned.is_ok() {
            *srv.scripting.executor.lock() = Some(tx);
        }
    }

    /// The key of `args` in `speed`: the lowercase SHA-1 of an EVALSHA / EVALSHA_RO.
    fn speed_key(args: &[&[u8]]) -> Option<[u8; 40]> {
        if args.len() < 3 || !(eq(args[0], "evalsha") || eq(args[0], "evalsha_ro")) {
            return None;
        }
        let sha: [u8; 40] = args[1].try_into().ok()?;
        Some(sha.map(|c| c.to_ascii_lowercase()))
    }

    /// May this script command run on the connection's own worker? Yes for an EVALSHA whose
    /// script has run before and was always short (`execute_timed`): the hop to the
    /// scripts thread and back costs more than such a script. Scripts not known to be short
    /// go to the scripts thread, so a long one never holds up its worker's other clients
    /// (they get BUSY and can SCRIPT KILL it).
    pub fn runs_inline(&self, args: &[&[u8]]) -> bool {
        Self::speed_key(args).is_some_and(|k| self.speed.read().get(&k) == Some(&true))
    }

    /// Run a script command, remembering how long an EVALSHA took (`runs_inline`). On a
    /// worker (`inline`), false when the script turned long before writing anything and was
    /// stopped (nothing written to `out`): the caller hands it to the scripts thread.
    pub fn execute_timed(
        &self,
        srv: &crate::server::Server,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut crate::resp::write::ReplyWriter,
        clock: &mut crate::command::dispatch::BatchClock,
        inline: bool,
    ) -> bool {
        let Some(key) = Self::speed_key(args) else {
            crate::command::dispatch::execute(srv, client, args, out, clock);
            return true;
        };
        let mark = out.len();
        // The command's time, as commandstats measures it (0 if it was refused before it
        // ran: then no time counts as slow).
        clock.last_lap_us = 0;
        RUN_INLINE.with(|r| r.set(inline));
        crate::command::dispatch::execute(srv, client, args, out, clock);
        RUN_INLINE.with(|r| r.set(false));
        if MIGRATED.with(|m| m.replace(false)) {
            out.buf.truncate(mark);
            self.speed.write().insert(key, false);
            return false;
        }
        // Short: well within busy-reply-threshold, so that running it on the worker holds
        // up that worker's other clients no longer than Redis holds up every client, and
        // never into the time they should be answered BUSY instead. (Wall time: it counts
        // waiting for the keyspace and being descheduled too.)
        let threshold = self.state.threshold_ms.load(Ordering::Relaxed).max(0) as u64;
        let fast = threshold == 0 || clock.last_lap_us / 1000 * 2 < threshold;
        if out.buf[mark..].starts_with(b"-NOSCRIPT") || self.speed.read().get(&key) == Some(&fast) {
            return true;
        }
        let mut speed = self.speed.write();
        if speed.len() >= SPEED_ENTRIES {
            speed.clear();
        }
        // Once slow, always slow.
        let known = speed.entry(key).or_insert(fast);
        *known &= fast;
        true
    }

    /// Run script commands on the script thread, in order. Err gives everything back if
    /// there is no such thread (the caller runs them inline). The client travels with the
    /// job and comes back with the replies.
    // The Err hands the batch back on the cold path (no scripts thread): boxing it would
    // cost an allocation per submit for nothing.
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    pub fn submit(
        &self,
        client: Client,
        batch: Vec<Vec<Vec<u8>>>,
        resp3: bool,
    ) -> Result<tokio::sync::oneshot::Receiver<(Client, Vec<u8>)>, (Client, Vec<Vec<Vec<u8>>>)> {
        let guard = self.executor.lock();
        let Some(tx) = guard.as_ref() else { return Err((client, batch)) };
        let (done, wait) = tokio::sync::oneshot::channel();
        match tx.send((client, batch, resp3, done)) {
            Ok(()) => Ok(wait),
            Err(std::sync::mpsc::SendError((client, batch, ..))) => Err((client, batch)),
        }
    }

    fn with_cache<R>(&self, f: impl FnOnce(&mut Cache) -> Result<R, Error>) -> Result<R, Error> {
        f(self.cache_in(&mut self.cache.lock())?)
    }

    /// The EVAL cache behind `guard`, its Lua state created on first use (and after SCRIPT
    /// FLUSH).
    /// The flags the script or function of a script command declared, as Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags find them before the command runs (CLIENT
    /// PAUSE WRITE holds it by them). None where Redis keeps the command's own flags: no
    /// shebang, a bad one, an unknown script or function. EVALSHA and FCALL look without
    /// waiting: while a script runs (holding the cache) the command's own flags are used.
    pub fn declared_flags(&self, name: &str, args: &[&[u8]]) -> Option<u32> {
        let flags = match name {
            // A cached script's flags are its body's: the shebang line is enough.
            "eval" | "eval_ro" => {
                let body = args.get(1)?;
                let line = body.iter().position(|&b| b == b'\n').map_or(&body[..], |end| &body[..=end]);
                parse_shebang(line, false).ok()?.0
            }
            "evalsha" | "evalsha_ro" => {
                let sha = std::str::from_utf8(args.get(1)?).ok().filter(|s| s.len() == 40)?.to_ascii_lowercase();
                self.cache.try_lock()?.as_ref()?.scripts.get(&sha)?.flags
            }
            "fcall" | "fcall_ro" => self.functions.try_lock()?.find(&String::from_utf8_lossy(args.get(1)?))?.flags,
            _ => return None,
        };
        (flags & sflags::EVAL_COMPAT == 0).then_some(flags)
    }

    fn cache_in<'g>(&self, guard: &'g mut Option<Cache>) -> Result<&'g mut Cache, Error> {
        if guard.is_none() {
            let vm = new_vm(&self.state)?;
            self.footprint.sample(true, &vm);
            *guard = Some(Cache { vm, scripts: HashMap::new() });
        }
        guard.as_mut().ok_or_else(|| Error::msg("ERR scripting unavailable"))
    }
}

/// Compile and cache `body`; its sha.
fn load(cache: &mut Cache, body: &[u8], footprint: &Footprint) -> Result<String, Error> {
    let sha = crate::util::sha1::sha1_hex(body);
    if !cache.scripts.contains_key(&sha) {
        let (flags, _, code) = parse_shebang(body, false)?;
        let func = cache
            .vm
            .compile(&code, "@user_script")
            .map_err(|m| Error::msg(format!("ERR Error compiling script (new function): {m}")))?;
        cache.scripts.insert(sha.clone(), Script { func, flags });
        footprint.scripts.store(cache.scripts.len(), Ordering::Relaxed);
        footprint.scripts_bytes.fetch_add(script_bytes(body.len()), Ordering::Relaxed);
    }
    Ok(sha)
}

pub(crate) type KeysAndArgs<'x> = (Vec<&'x [u8]>, Vec<&'x [u8]>);

/// Parse numkeys: (keys, args).
pub(crate) fn split_keys<'x>(args: &[&'x [u8]]) -> Result<KeysAndArgs<'x>, Error> {
    let n = int(args[2])?;
    if n < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    let rest = &args[3..];
    if n as usize > rest.len() {
        return Err(Error::msg("ERR Number of keys can't be greater than number of args"));
    }
    let (k, a) = rest.split_at(n as usize);
    Ok((k.to_vec(), a.to_vec()))
}

/// The Lua heap above which scripts step the collector every 50 calls, as Redis does: a
/// quarter past the heap of the state when it was made (`Vm::base_heap`).
fn gc_step_above(vm: &Vm) -> usize {
    vm.base_heap + vm.base_heap / 4
}

/// One run of a script or function: what `run_function` calls, with what, and how.
pub struct Call<'x> {
    pub func: &'x Function,
    pub keys: &'x [&'x [u8]],
    pub argv: &'x [&'x [u8]],
    /// Writes refused (EVAL_RO, FCALL_RO, a no-writes script).
    pub read_only: bool,
    /// EVAL rather than FCALL (error formats, the scripts' own footprint).
    pub eval_mode: bool,
    /// The script or function declared allow-oom.
    pub allow_oom: bool,
    /// The sha or function name errors name.
    pub name: &'x str,
}

/// Run `func` for the client of `ctx`: KEYS/ARGV set, redis.call wired to the held
/// keyspace, busy/kill state kept, the result converted into the reply.
pub fn run_function(ctx: &mut Ctx, vm: &Vm, call: Call<'_>) -> CmdResult {
    let Call { func, keys, argv, read_only, eval_mode, allow_oom, name } = call;
    // A script goes by its effects: the commands it runs, each added to the unit.
    ctx.ks.prevent_propagation();
    let mut client = Client::new(ctx.client.handle.clone(), ctx.client.worker);
    client.db = ctx.client.db;
    client.authenticated = true;
    client.deny_blocking = true;
    client.in_script = true;
    client.no_touch = ctx.client.no_touch;
    client.oom = ctx.client.oom;
    client.user = ctx.client.user.clone();
    // The caller's CLIENT LIST line (ACL LOG's client-info of a refused redis.call) shows
    // the script's command, as Redis's current client does.
    ctx.client.publish();
    client.acl_epoch = ctx.client.acl_epoch;
    let ks: *mut Access<'_> = &mut *ctx.ks;
    let mut rc = RunCtx {
        srv: ctx.srv as *const _,
        ks: ks.cast::<Access<'static>>(),
        client,
        read_only,
        allow_oom,
        resp3: false,
        repl: 3,
    };
    crate::server::pubsub::feed_line(ctx.srv, ctx.client.db, &ctx.client.handle.addr, ctx.args, ctx.client.id);
    let state = &ctx.srv.scripting.state;
    let threshold_ms = ctx.srv.busy_threshold_ms.load(Ordering::Relaxed);
    let running = state.enter(&vm.lua, Run::Script { eval_mode, threshold_ms });
    let result = vm.run(func, keys, argv, eval_mode, &mut rc);
    if running.killed() == 3 {
        // Stopped to run again on the scripts thread (`Scripting::execute_timed`).
        drop(running);
        MIGRATED.with(|m| m.set(true));
        return Ok(());
    }
    // A raised error table from redis.call was counted where the command refused or failed
    // (ignore_error_stats_update): the reply is not counted again, as in Redis.
    let result = result.map_err(|e| {
        let counted =
            matches!(&e, mlua::Value::Table(t) if t.raw_get::<bool>("ignore_error_stats_update").unwrap_or(false));
        (vm::format_error(&e, name), !matches!(e, mlua::Value::Table(_)), counted)
    });
    if let Err((_, true, _)) = &result {
        // Lua's own error, above all the cap on the heap: give back what the script filled
        // now rather than over the collector's next cycles. Each full cycle only halves
        // Lua's concatenation buffer, so collect until nothing shrinks.
        let mut used = vm.lua.used_memory();
        for _ in 0..64 {
            let _ = vm.lua.gc_collect();
            let now = vm.lua.used_memory();
            if now >= used {
                break;
            }
            used = now;
        }
        ctx.srv.scripting.footprint.sample(eval_mode, vm);
    } else if state.runs.fetch_add(1, Ordering::Relaxed) % 50 == 49
        && ctx.srv.scripting.footprint.sample(eval_mode, vm) > gc_step_above(vm)
    {
        // Lua's incremental collector frees a script's garbage as more is allocated (a
        // cycle each time the heap doubles). Redis also steps it every 50 calls
        // (LUA_GC_CYCLE_PERIOD), which works off what a large script left behind, and
        // keeps the heap of small scripts near its live size. On a small heap that step is
        // a whole cycle, so it is taken only once the heap is a quarter past its size at
        // creation: small scripts then leave a heap of about 60 KB (Redis about 32 KB, from
        // a 29 KB state; the collector alone let ours double to about 100 KB), for a cycle
        // every few hundred calls instead of every 50.
        let _ = vm.lua.gc_step_kbytes(50);
        ctx.srv.scripting.footprint.sample(eval_mode, vm);
    }
    drop(running);
    match result {
        Ok(v) => {
            // Error replies in the result count as Redis's afterErrorReply counts them:
            // in errorstats unless already counted, and each a failure of the call.
            let errors = convert::lua_to_reply(&v, ctx.out, rc.resp3);
            let mut fresh = false;
            for (text, counted) in &errors {
                if *counted {
                    ctx.client.reply_failures += 1;
                } else {
                    // Written after a '-' of Redis's own (a text "-s t" counts as "-s").
                    ctx.srv.count_error(&format!("-{text}"));
                    fresh = true;
                }
            }
            ctx.client.reply_failures += fresh as u32;
            Ok(())
        }
        Err((msg, _, true)) => {
            ctx.out.error(&msg);
            ctx.client.reply_failures += 1;
            Ok(())
        }
        Err((msg, _, false)) => Err(Error::msg(msg)),
    }
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, ro_cmd: bool) -> CmdResult {
    let (keys, argv) = split_keys(ctx.args)?;
    let srv = ctx.srv;
    let mut guard = srv.scripting.cache.lock();
    let cache = srv.scripting.cache_in(&mut guard)?;
    let sha = if by_sha {
        // A SHA-1 in hex: anything else (wrong length, not UTF-8) names no script.
        match std::str::from_utf8(ctx.args[1]) {
            Ok(s) if s.len() == 40 => s.to_ascii_lowercase(),
            _ => return Err(Error::msg("NOSCRIPT No matching script. Please use EVAL.")),
        }
    } else {
        load(cache, ctx.args[1], &srv.scripting.footprint)?
    };
    let Some(script) = cache.scripts.get(&sha) else {
        return Err(Error::msg("NOSCRIPT No matching script. Please use EVAL."));
    };
    if ro_cmd && script.flags & (sflags::EVAL_COMPAT | sflags::NO_WRITES) == 0 {
        return Err(Error::msg("ERR Can not execute a script with write flag using *_ro command."));
    }
    let read_only = ro_cmd || script.flags & sflags::NO_WRITES != 0;
    let func = script.func.clone();
    let allow_oom = script.flags & sflags::ALLOW_OOM != 0;
    let call = Call { func: &func, keys: &keys, argv: &argv, read_only, eval_mode: true, allow_oom, name: &sha };
    run_function(ctx, &cache.vm, call)
}

pub fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}

pub fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}

pub fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

pub fn script_load(ctx: &mut Ctx) -> CmdResult {
    let body = ctx.args[2];
    let sha = ctx.srv.scripting.with_cache(|c| load(c, body, &ctx.srv.scripting.footprint))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let shas: Vec<String> = ctx.args[2..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let found: Vec<bool> =
        ctx.srv.scripting.with_cache(|c| Ok(shas.iter().map(|s| c.scripts.contains_key(s)).collect()))?;
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx) -> CmdResult {
    crate::command::args::flush_mode(ctx.srv, &ctx.args[2..])
        .ok_or_else(|| Error::msg("ERR SCRIPT FLUSH only support SYNC|ASYNC option"))?;
    // A new Lua state, as Redis does: nothing a script left behind survives.
    let scripting = &ctx.srv.scripting;
    let mut guard = scripting.cache.lock();
    *guard = None;
    scripting.footprint.scripts.store(0, Ordering::Relaxed);
    scripting.footprint.scripts_bytes.store(0, Ordering::Relaxed);
    // Made now, as Redis makes its new state; if it cannot be made now (no memory), the
    // flush still succeeded and the next script makes it.
    let _ = scripting.cache_in(&mut guard);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL and FUNCTION KILL (they run without taking the keyspace).
pub fn kill(ctx: &mut Ctx, eval_mode: bool) -> CmdResult {
    let st = &ctx.srv.scripting.state;
    if !st.running.load(Ordering::Acquire) {
        return Err(Error::msg("NOTBUSY No scripts in execution right now."));
    }
    if st.wrote.load(Ordering::Acquire) {
        return Err(Error::msg("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
    }
    let running_eval = st.eval_mode.load(Ordering::Acquire);
    if eval_mode && !running_eval {
        return Err(Error::msg(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        ));
    }
    if !eval_mode && running_eval {
        return Err(Error::msg(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        ));
    }
    st.killed.store(1, Ordering::Release);
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    kill(ctx, true)
}

pub fn script_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

/// Scripting's memory figures for INFO memory (its used_memory_vm_*, *scripts*,
/// *functions* and *libraries* fields).
pub struct Memory {
    /// The Lua heaps, sampled (see `Footprint`).
    pub vm_eval: u64,
    pub vm_functions: u64,
    /// The EVAL script cache: scripts and their size.
    pub scripts: u64,
    pub scripts_bytes: u64,
    /// The function libraries: functions, libraries and their size.
    pub functions: u64,
    pub libraries: u64,
    pub functions_bytes: u64,
}

pub fn memory(srv: &crate::server::Server) -> Memory {
    let fp = &srv.scripting.footprint;
    let reg = srv.scripting.functions.lock();
    Memory {
        vm_eval: fp.vm_eval.load(Ordering::Relaxed) as u64,
        vm_functions: fp.vm_functions.load(Ordering::Relaxed) as u64,
        scripts: fp.scripts.load(Ordering::Relaxed) as u64,
        scripts_bytes: fp.scripts_bytes.load(Ordering::Relaxed) as u64,
        functions: reg.function_count() as u64,
        libraries: reg.libraries.len() as u64,
        functions_bytes: reg.overhead_bytes() as u64,
    }
}
