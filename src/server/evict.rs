//! maxmemory: the memory figure eviction goes by, the eight policies, and what an eviction
//! tells the rest of the server (Redis's evict.c). Which keys go is the keyspace's part
//! (`keyspace::evict`).
//!
//! Admission (`command::dispatch`) calls `perform` before every command while maxmemory is
//! set, as Redis's processCommand calls performEvictions; with maxmemory 0 the whole cost is
//! one relaxed load. The memory figure is jemalloc's allocated bytes (INFO's used_memory)
//! less the AOF buffer, which Redis does not count either; client buffers count. Reading it
//! means refreshing jemalloc's statistics (an epoch, which merges every arena's counters), so
//! it is read at most once per `REFRESH_NS` by whichever thread finds it stale, and kept in
//! between with what evictions freed taken off. The bytes an eviction frees are measured
//! exactly, as the difference of the evicting thread's own jemalloc counter of freed bytes
//! around the free (one thread-local load each side), where Redis measures its global
//! counter around the delete.
//!
//! One thread evicts at a time (the candidate pool's lock): another that finds memory over
//! the limit meanwhile waits for that turn to end (a turn is bounded by the time limit,
//! maxmemory-eviction-tenacity) and looks again, as every Redis command runs
//! performEvictions itself before it runs. A thread whose eviction ran past its time limit
//! before memory was back under the limit goes on with its command (EVICT_RUNNING). Only
//! when nothing more can be evicted (noeviction, no key the policy may take) is memory out
//! (EVICT_FAIL): admission then refuses deny-oom commands with -OOM.
//!
//! An eviction that ran out of time wakes the evictor thread, which goes on evicting in
//! turns of the same time limit until memory is under the limit (or nothing can go), as
//! Redis's evictionTimeProc goes on between event-loop iterations. Without it, memory stays
//! over the limit while the server is otherwise idle, and the next command of any kind,
//! a read included, pays for the rest of the eviction and evicts by the state of then.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

use parking_lot::Mutex;

use super::Server;
use crate::keyspace::evict::{Candidate, Occupancy, Sampling, Score};
use crate::keyspace::KeyEvent;

/// Redis's shared.oomerr.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// How often at most jemalloc's statistics are refreshed for the memory figure. Each
/// refresh merges every arena's counters (tens of µs): once a millisecond it took 7% of the
/// server's CPU in a cache evicting at 200k requests a second (perf), once in 5 ms the
/// CPU per request went from 2.0-2.1 to 1.7 µs. Each thread adds its own allocations since
/// the reading; other threads' show at the next one.
const REFRESH_NS: u64 = 5_000_000;

/// maxmemory-policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn from_u8(v: u8) -> Policy {
        [
            Policy::NoEviction,
            Policy::AllkeysLru,
            Policy::AllkeysLfu,
            Policy::AllkeysRandom,
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(Policy::NoEviction)
    }

    /// Only keys with a TTL may go.
    fn volatile(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    /// How candidates are scored; None for the random policies (and noeviction).
    fn score(self, decay: u32) -> Option<Score> {
        match self {
            Policy::AllkeysLru | Policy::VolatileLru => Some(Score::Lru),
            Policy::AllkeysLfu | Policy::VolatileLfu => Some(Score::Lfu(decay)),
            Policy::VolatileTtl => Some(Score::Ttl),
            _ => None,
        }
    }
}

/// What `perform` came to (Redis's EVICT_OK, EVICT_RUNNING, EVICT_FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit.
    Ok,
    /// Still over, but evicting goes on (another thread evicts, or this one ran out of time).
    Running,
    /// Over the limit and nothing can be evicted: deny-oom commands are refused.
    Fail,
}

/// The eviction state of a server.
#[derive(Default)]
pub struct Eviction {
    /// maxmemory in bytes, 0 for none: what admission loads on every command.
    pub maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    lfu_decay: AtomicU32,
    /// lazyfree-lazy-eviction: evictions propagate as UNLINK.
    lazy: AtomicBool,
    /// The memory figure as last computed (`used`), and when (`clock::now_ns`).
    used: AtomicU64,
    read_at: AtomicU64,
    /// Readings taken so far: a thread that sees a new one starts its own count over.
    generation: AtomicU64,
    /// Keys evicted (INFO evicted_keys).
    pub evicted: AtomicU64,
    /// Since when (`clock::mono_ms`, 0: not) memory has been over the limit, and the time
    /// over it before (INFO current/total_eviction_exceeded_time).
    over_since_ms: AtomicU64,
    over_total_ms: AtomicU64,
    chooser: Mutex<Chooser>,
    /// Set when an eviction ran out of time: the evictor thread's cue (`continue_evicting`).
    unfinished: Mutex<bool>,
    unfinished_cv: parking_lot::Condvar,
}

impl Eviction {
    /// Take the parameters from the configuration (`Server::refresh_hot_config`).
    pub fn refresh(&self, cfg: &super::config::Config) {
        let policy = Policy::parse(cfg.str("maxmemory-policy"));
        if policy as u8 != self.policy.load(Relaxed) {
            // Candidates scored by another policy mean nothing now.
            self.chooser.lock().pool.clear();
        }
        self.policy.store(policy as u8, Relaxed);
        self.samples.store(cfg.int("maxmemory-samples").clamp(1, 64) as u32, Relaxed);
        self.tenacity.store(cfg.int("maxmemory-eviction-tenacity").clamp(0, 100) as u32, Relaxed);
        self.lfu_decay.store(cfg.int("lfu-decay-time").max(0) as u32, Relaxed);
        self.lazy.store(cfg.bool("lazyfree-lazy-eviction"), Relaxed);
        // A new limit is looked at with a fresh figure.
        self.read_at.store(0, Relaxed);
        self.maxmemory.store(cfg.int("maxmemory") as u64, Relaxed);
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Relaxed))
    }

    /// The memory figure eviction goes by: used_memory less the AOF buffer, read afresh if
    /// the last reading is older than `REFRESH_NS`, plus what this thread allocated (less
    /// what it freed) since it saw that reading, so a pipeline of writes is not let in
    /// on a stale figure.
    pub fn used(&self, srv: &Server) -> u64 {
        let now = crate::util::clock::now_ns();
        let at = self.read_at.load(Relaxed);
        if (at == 0 || now.wrapping_sub(at) >= REFRESH_NS)
            && self.read_at.compare_exchange(at, now.max(1), Relaxed, Relaxed).is_ok()
        {
            self.reread(srv);
        }
        let generation = self.generation.load(Relaxed);
        let net = thread_net();
        let since = SEEN.with(|seen| {
            let (g, base) = seen.get();
            if g != generation {
                seen.set((generation, net));
                0
            } else {
                net.wrapping_sub(base) as i64
            }
        });
        self.used.load(Relaxed).saturating_add_signed(since)
    }

    /// Take a new reading of the shared figure (every thread's own count starts again).
    fn reread(&self, srv: &Server) {
        self.used.store(counted_memory(srv), Relaxed);
        self.generation.fetch_add(1, Relaxed);
    }

    /// A fresh reading of the memory figure (eviction waiting on the lazyfree thread).
    fn used_now(&self, srv: &Server) -> u64 {
        self.read_at.store(crate::util::clock::now_ns().max(1), Relaxed);
        self.reread(srv);
        self.used(srv)
    }

    /// This thread freed `bytes` evicting: off the shared figure now (other threads see it
    /// before the next reading), and off this thread's own count, which saw the free too.
    fn note_freed(&self, bytes: u64) {
        let _ = self.used.fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(bytes)));
        SEEN.with(|seen| {
            let (g, base) = seen.get();
            seen.set((g, base.wrapping_sub(bytes)));
        });
    }

    /// Keep the time spent over the limit (INFO total/current_eviction_exceeded_time).
    fn note_over(&self, over: bool) {
        let since = self.over_since_ms.load(Relaxed);
        if over && since == 0 {
            self.over_since_ms.store(crate::util::clock::mono_ms().max(1) as u64, Relaxed);
        } else if !over && since != 0 {
            let spent = (crate::util::clock::mono_ms() as u64).saturating_sub(since);
            self.over_total_ms.fetch_add(spent, Relaxed);
            self.over_since_ms.store(0, Relaxed);
        }
    }

    /// (total_eviction_exceeded_time, current_eviction_exceeded_time) in milliseconds.
    pub fn exceeded_times(&self) -> (u64, u64) {
        let since = self.over_since_ms.load(Relaxed);
        let current = if since == 0 { 0 } else { (crate::util::clock::mono_ms() as u64).saturating_sub(since) };
        (self.over_total_ms.load(Relaxed) + current, current)
    }

    /// Have the evictor thread go on evicting (Redis's startEvictionTimeProc).
    fn start_evictor(&self) {
        let mut unfinished = self.unfinished.lock();
        if !*unfinished {
            *unfinished = true;
            self.unfinished_cv.notify_one();
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted.store(0, Relaxed);
        self.over_total_ms.store(0, Relaxed);
    }
}

/// used_memory less what Redis leaves out of the eviction figure (freeMemoryGetNotCountedMemory):
/// the AOF buffer (replication buffers when they exist).
fn counted_memory(srv: &Server) -> u64 {
    let aof = srv.aof.sink().map_or(0, |k| k.buffered()) as u64;
    allocated_bytes().saturating_sub(aof)
}

/// INFO memory's mem_not_counted_for_evict.
pub fn not_counted(srv: &Server) -> u64 {
    srv.aof.sink().map_or(0, |k| k.buffered()) as u64
}

/// jemalloc's allocated bytes after refreshing its statistics, through MIBs looked up once.
fn allocated_bytes() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    static MIBS: std::sync::OnceLock<Option<(epoch_mib, stats::allocated_mib)>> = std::sync::OnceLock::new();
    #[allow(non_camel_case_types)]
    type epoch_mib = tikv_jemalloc_ctl::epoch_mib;
    match MIBS.get_or_init(|| Some((epoch::mib().ok()?, stats::allocated::mib().ok()?))) {
        Some((e, a)) => {
            let _ = e.advance();
            a.read().unwrap_or(0) as u64
        }
        None => super::info::used_memory(),
    }
}

thread_local! {
    /// This thread's jemalloc counters of bytes it ever allocated and freed.
    static COUNTERS: Option<(tikv_jemalloc_ctl::thread::ThreadLocal<u64>, tikv_jemalloc_ctl::thread::ThreadLocal<u64>)> =
        tikv_jemalloc_ctl::thread::allocatedp::read().ok().zip(tikv_jemalloc_ctl::thread::deallocatedp::read().ok());
    /// (`Eviction::generation` this thread last saw, its `thread_net` then).
    static SEEN: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Bytes this thread has freed so far (jemalloc's thread.deallocated).
fn freed_by_thread() -> u64 {
    COUNTERS.with(|c| c.as_ref().map_or(0, |(_, freed)| freed.get()))
}

/// Bytes this thread allocated less those it freed, wrapping (thread.allocated less
/// thread.deallocated): only differences of it mean something.
fn thread_net() -> u64 {
    COUNTERS.with(|c| c.as_ref().map_or(0, |(a, f)| a.get().wrapping_sub(f.get())))
}

/// Redis's evictionTimeLimitUs: the time one eviction may take, from
/// maxmemory-eviction-tenacity (None: no limit).
fn time_limit(tenacity: u32) -> Option<std::time::Duration> {
    let us = match tenacity {
        0..=10 => 50 * tenacity as u64,
        11..=99 => (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        _ => return None,
    };
    Some(std::time::Duration::from_micros(us))
}

/// Redis's performEvictions: evict keys as the policy says until memory is under
/// maxmemory (the caller saw it set). `gate`: the calling thread's gate in the keyspace,
/// taken shared while keys are removed; `release` is called first, to let go of any
/// keyspace lock the caller holds (eviction locks shards one by one).
pub fn perform(srv: &Server, gate: usize, release: impl FnOnce()) -> Outcome {
    let outcome = perform_once(srv, gate, release);
    if outcome == Outcome::Running {
        srv.evict.start_evictor();
    }
    outcome
}

/// CONFIG SET changed maxmemory to `limit` (Redis's updateMaxmemory): the warning when it
/// is under the memory in use, and eviction started without waiting for a command.
pub fn apply_config(srv: &Server, limit: u64) {
    if limit == 0 {
        return;
    }
    let used = counted_memory(srv);
    if limit < used {
        super::log::log_at(
            srv,
            super::log::WARNING,
            &format!(
                "WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
            ),
        );
    }
    srv.evict.start_evictor();
}

thread_local! {
    /// `clock::now_ns` when this thread last finished evicting.
    static EVICTED_UNTIL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// When this thread last finished evicting (`clock::now_ns`; 0: never): a command's time is
/// counted from after it, as Redis times call() and not processCommand's eviction before it.
#[inline]
pub fn evicted_until() -> u64 {
    EVICTED_UNTIL.with(|t| t.get())
}

/// Marks the end of an eviction when dropped (`evicted_until`).
struct EvictionTimed;

impl Drop for EvictionTimed {
    fn drop(&mut self) {
        EVICTED_UNTIL.with(|t| t.set(crate::util::clock::now_ns()));
    }
}

/// The evictor thread (started with the server): while an eviction is left unfinished,
/// evict in turns of maxmemory-eviction-tenacity's time limit, a short pause between them
/// (Redis's evictionTimeProc, run again at once while it returns EVICT_RUNNING). `gate`:
/// the thread's gate in the keyspace.
pub fn continue_evicting(srv: &Server, gate: usize) {
    // Woken on a worker's core, it would take the CPU from the worker for a time slice
    // (measured: the CONFIG SET that woke it took 3-4 ms instead of 0.1). Its share is a
    // worker's: at nice 10 a loaded machine starved it for seconds.
    crate::persist::snapshot::batch_scheduling();
    let ev = &srv.evict;
    while !srv.shutdown.is_closing() {
        {
            let mut unfinished = ev.unfinished.lock();
            if !*unfinished {
                ev.unfinished_cv.wait_for(&mut unfinished, std::time::Duration::from_millis(100));
                continue;
            }
            // Never while a load runs (Redis's isSafeToPerformEvictions): after it.
            if super::save::is_loading(srv) {
                drop(unfinished);
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            *unfinished = false;
        }
        while !srv.shutdown.is_closing() && perform_once(srv, gate, || {}) == Outcome::Running {
            // Room for the workers between turns (they evict, too, while it is over).
            std::thread::yield_now();
        }
        crate::util::alloc::flush_thread_cache();
    }
}

/// Redis's cant_free: nothing is left to evict while values are being freed on the
/// lazyfree thread: wait for them within the cycle's time limit, looking at the memory
/// between sleeps of at most 1 ms; Ok once under the limit (the "eviction-lazyfree"
/// latency event times the wait).
fn wait_for_lazyfree(
    srv: &Server,
    started: std::time::Instant,
    limit_time: Option<std::time::Duration>,
    limit: u64,
) -> Outcome {
    let waiting = std::time::Instant::now();
    let step = limit_time.map_or(std::time::Duration::from_millis(1), |t| t.min(std::time::Duration::from_millis(1)));
    let mut outcome = Outcome::Fail;
    while crate::data::lazyfree::PENDING.load(Relaxed) > 0 && limit_time.is_none_or(|t| started.elapsed() < t) {
        if srv.evict.used_now(srv) <= limit {
            outcome = Outcome::Ok;
            break;
        }
        std::thread::sleep(step);
    }
    super::latency::add_sample_since("eviction-lazyfree", waiting);
    outcome
}

fn perform_once(srv: &Server, gate: usize, release: impl FnOnce()) -> Outcome {
    let ev = &srv.evict;
    let limit = ev.maxmemory.load(Relaxed);
    let used = ev.used(srv);
    if limit == 0 || used <= limit {
        ev.note_over(false);
        return Outcome::Ok;
    }
    ev.note_over(true);
    // From here on the time is eviction's, not the command's.
    let _timed = EvictionTimed;
    let policy = ev.policy();
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    // Whoever evicts now (the evictor thread, another worker) has its turn first; bounded
    // by the time limit. Any shard lock of the caller goes first: the evictor takes them.
    release();
    let mut chooser = match ev.chooser.try_lock() {
        Some(chooser) => chooser,
        None => ev.chooser.lock(),
    };
    let used = ev.used(srv);
    if used <= limit {
        ev.note_over(false);
        return Outcome::Ok;
    }
    // A script holding every gate (or the busy one) leaves eviction for later.
    let Some(_entered) = srv.ks.try_enter_for(gate, std::time::Duration::from_millis(1)) else {
        return Outcome::Running;
    };
    let to_free = used - limit;
    let started = std::time::Instant::now();
    let limit_time = time_limit(ev.tenacity.load(Relaxed));
    let mut waited = Vec::new();
    let (mut freed, mut keys) = (0u64, 0u64);
    let mut rng = rand::thread_rng();
    let outcome = loop {
        if freed >= to_free {
            break Outcome::Ok;
        }
        let Some((db, key)) = choose(srv, policy, &mut chooser, &mut rng) else { break Outcome::Fail };
        let deleting = std::time::Instant::now();
        let evicted = evict_key(srv, db, &key, policy.volatile(), &mut waited);
        super::latency::add_sample_since("eviction-del", deleting);
        if let Some(bytes) = evicted {
            freed += bytes;
            keys += 1;
            // Redis looks at the clock every 16 keys.
            if keys % 16 == 0 && limit_time.is_some_and(|t| started.elapsed() > t) {
                break Outcome::Running;
            }
        }
    };
    ev.note_freed(freed);
    let outcome = if outcome == Outcome::Fail { wait_for_lazyfree(srv, started, limit_time, limit) } else { outcome };
    super::latency::add_sample_since("eviction-cycle", started);
    if outcome == Outcome::Ok {
        ev.note_over(false);
    }
    if !waited.is_empty() {
        // Clients blocked on evicted keys run their commands again (a stream reader gets
        // its error), as for a deleted key; with the gate and the pool let go.
        drop(_entered);
        drop(chooser);
        crate::command::blocking::serve_deferred(srv, gate, waited, crate::keyspace::now_ms());
    }
    outcome
}

/// What one evicting thread at a time keeps: the candidate pool, and where the keys are.
#[derive(Default)]
struct Chooser {
    pool: Vec<Candidate>,
    occupancy: Occupancy,
    /// When `occupancy` was made (`clock::mono_ms`; 0: never).
    looked_ms: i64,
}

/// How long a look at which shards hold keys serves (`Keyspace::occupancy`, a lock of every
/// shard): new keys in a shard that held none wait that long to be sampled, unless nothing
/// else can go (then it is looked at again at once).
const OCCUPANCY_MS: i64 = 100;

/// The next key to evict: the best candidate of the pool after a round of sampling every
/// database (Redis's loop over evictionPoolPopulate), or a random key for the random
/// policies. None if the policy finds none.
fn choose(srv: &Server, policy: Policy, ch: &mut Chooser, rng: &mut rand::rngs::ThreadRng) -> Option<(usize, Vec<u8>)> {
    let now = crate::util::clock::mono_ms().max(1);
    let mut fresh = false;
    if ch.looked_ms == 0 || now - ch.looked_ms > OCCUPANCY_MS {
        ch.occupancy = srv.ks.occupancy();
        ch.looked_ms = now;
        fresh = true;
    }
    // A round may draw no key with a TTL where they are few: a few more rounds then.
    let mut rounds = 0;
    loop {
        rounds += 1;
        if let Some(found) = choose_once(srv, policy, ch, rng) {
            return Some(found);
        }
        if rounds >= 8 || (fresh && ch.pool.is_empty() && !any_listed(&ch.occupancy, policy.volatile())) {
            return None;
        }
        if !fresh {
            // Nothing where keys were: look where they are now.
            ch.occupancy = srv.ks.occupancy();
            ch.looked_ms = now;
            fresh = true;
        }
    }
}

/// Does `o` list any shard to sample?
fn any_listed(o: &Occupancy, volatile: bool) -> bool {
    (0..o.all.len()).any(|db| !o.of(db, volatile).is_empty())
}

/// One round of `choose`.
fn choose_once(
    srv: &Server,
    policy: Policy,
    ch: &mut Chooser,
    rng: &mut rand::rngs::ThreadRng,
) -> Option<(usize, Vec<u8>)> {
    let dbs = srv.ks.dbs.len();
    let volatile = policy.volatile();
    let Some(score) = policy.score(srv.evict.lfu_decay.load(Relaxed)) else {
        // Random: the databases in turn from a random one, as Redis goes through them.
        let first = rand::Rng::gen_range(rng, 0..dbs);
        return (0..dbs).map(|i| (first + i) % dbs).find_map(|db| {
            let shards = ch.occupancy.of(db, volatile);
            srv.ks.random_for_eviction(db, shards, volatile, rng).map(|k| (db, k))
        });
    };
    let samples = srv.evict.samples.load(Relaxed) as usize;
    let how = Sampling { volatile, score, samples, now_ms: crate::keyspace::now_ms() };
    for db in 0..dbs {
        let shards = ch.occupancy.of(db, volatile);
        if !shards.is_empty() {
            srv.ks.sample_for_eviction(db, shards, &how, &mut ch.pool, rng);
        }
    }
    ch.pool.pop().map(|c| (c.db, c.key))
}

/// Evict `key` of `db` if it is still there: counted, propagated as DEL (UNLINK under
/// lazyfree-lazy-eviction) with its shard still locked, its watchers flagged, then the
/// `evicted` event and client-side caching invalidation. The bytes freed; a key clients
/// were blocked on is added to `waited`, for them to be served once the gate is let go.
fn evict_key(srv: &Server, db: usize, key: &[u8], volatile: bool, waited: &mut Vec<(usize, Vec<u8>)>) -> Option<u64> {
    let lazy = srv.evict.lazy.load(Relaxed);
    let (mut e, blocked_on) = srv.ks.remove_for_eviction(db, key, volatile, || {
        if srv.sinks.active() {
            let op = crate::persist::propagate::Op { db, argv: crate::persist::propagate::deletion(key, lazy) };
            srv.sinks.deliver(&[op], false);
        }
    })?;
    let lazy_value = if lazy { crate::data::lazyfree::take_if_big(&mut e) } else { None };
    let before = freed_by_thread();
    drop(e);
    let mut bytes = freed_by_thread().saturating_sub(before);
    if let Some(v) = lazy_value {
        // Freed on the lazyfree thread: counted as freed now, as its size says.
        bytes += v.heap_size(5) as u64;
        crate::data::lazyfree::hand_over(v);
    }
    srv.evict.evicted.fetch_add(1, Relaxed);
    srv.ks.key_event(KeyEvent::Evicted, db, key, 0);
    if blocked_on {
        waited.push((db, key.to_vec()));
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_follow_redis() {
        assert_eq!(time_limit(0), Some(std::time::Duration::ZERO));
        assert_eq!(time_limit(10), Some(std::time::Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(std::time::Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }

    #[test]
    fn policies_round_trip() {
        for name in [
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let p = Policy::parse(name);
            assert_eq!(Policy::from_u8(p as u8), p);
            assert_eq!(p.volatile(), name.starts_with("volatile"));
        }
    }
}
