//! The keyspace: databases, shards, locks, expiry.
//!
//! Each database is split into `2^shard_bits` shards, each a `Dict` behind its own mutex.
//! A key's shard comes from the top bits of its (randomly seeded) hash and its bucket from
//! the low bits, so one hash computation serves both.
//!
//! Locking discipline (see docs/ARCHITECTURE.md):
//! * A command locks exactly the shards its keys (from the command table) fall in, in
//!   ascending (db, shard) order, holds them for the whole command, and releases them
//!   together. Single-key commands take one uncontended mutex; MSET, RENAME, MULTI/EXEC
//!   take several and are atomic for every other client without any global lock.
//! * Every thread that executes commands owns a *gate* (a reader-writer lock only it reads).
//!   It holds its own gate shared while it runs a command. Commands that must see the whole
//!   keyspace at once (FLUSHALL, SWAPDB, KEYS, scripts, MULTI with unknown keys, DEBUG SLEEP)
//!   take every gate exclusively, in index order; then no other command is running anywhere
//!   and they lock shards lazily as they touch them. Taking one's own uncontended gate costs
//!   one atomic operation on a cache line no other thread writes in the common case.
//!
//! Expiry times live in the entries. Lookups delete expired keys lazily; the cron thread
//! sweeps shards that hold keys with a TTL (see `active_expire_cycle`).

pub mod blocking;
pub mod evict;
pub mod watch;

use std::sync::OnceLock;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::data::dict::{Dict, Entry, NO_EXPIRE};
use crate::data::value::Value;
use crate::persist::propagate::{Op, Propagate};

pub use crate::data::dict::key_hash;

/// What to prefetch for `member` in the collection at `key` (hash `h`) of `shard`.
fn member_addrs(shard: &Shard, h: u64, key: &[u8], member: &[u8], entry: bool) -> Option<[*const u8; 2]> {
    shard.dict.get(h, key).and_then(|e| e.value.member_prefetch_addrs(member, entry))
}

fn prefetch_all(addrs: [*const u8; 2]) {
    for a in addrs.into_iter().filter(|a| !a.is_null()) {
        crate::data::dict::prefetch_line(a);
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Keyspace-wide figures for INFO.
#[derive(Default)]
pub struct Figures {
    pub stats: ShardStats,
    /// Keys with at least one blocked client (total_blocking_keys).
    pub blocking_keys: usize,
    /// (keys, keys with a TTL) per database.
    pub dbs: Vec<(usize, usize)>,
    /// Estimated average remaining TTL (ms) of the keys with one, per database (avg_ttl).
    pub avg_ttls: Vec<i64>,
    /// Bytes the keyspace tables take apart from the data: bucket arrays and each key's
    /// entry (INFO memory's part of used_memory_overhead, as Redis counts its dictEntry and
    /// robj per key).
    pub table_bytes: usize,
    /// `table_bytes` per database (MEMORY STATS's db.N overhead).
    pub db_table_bytes: Vec<usize>,
}

#[derive(Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
}

pub struct Shard {
    pub dict: Dict,
    /// Number of keys in `dict` with an expiry time.
    pub expires: usize,
    /// Where the active-expiry sweep resumes.
    pub expire_cursor: u64,
    /// Running estimate of the remaining TTL of this shard's keys with one (ms), from the
    /// keys active expiry looks at, as Redis keeps avg_ttl per database: 0 for none.
    pub avg_ttl_ms: i64,
    pub stats: ShardStats,
    /// Clients blocked on keys of this shard (BLPOP & co).
    pub waiters: blocking::Waiters,
    /// Clients watching keys of this shard (WATCH).
    pub watched: watch::Watched,
    /// A snapshot in progress still wants this shard's keys as they were when it began
    /// (`persist::snapshot`): whoever locks the shard first hands them over (`ShardCell`).
    pub pending: Option<Pending>,
}

/// Receives a shard's keys for a snapshot in progress (`persist::snapshot`; this layer only
/// knows that someone wants them before the shard changes).
pub trait ShardSaver: Send + Sync {
    /// Serialize the entries of `shard` (database `db`) in the segments of `mask` (bit s:
    /// segment s; all of them: the whole shard), as they are now, but those stamped with
    /// the snapshot's epoch (saved already, or made since it began); called under the
    /// shard's lock.
    fn save_entries(&self, db: usize, shard: &Shard, mask: u16);
    /// Serialize one entry of database `db` as it is now (a command is about to touch it).
    fn save_entry(&self, db: usize, e: &Entry);
}

/// Segments a pending shard is walked in, one per hold of its lock (by the saver, or by
/// whoever locks the shard without naming keys): a segment is 1/16 of the shard. A key's
/// segment is its hash's low bits, which are also its table bucket's, so a segment is every
/// 16th bucket (`Dict::for_each_in_class`).
pub const SEGMENTS: u32 = 16;

/// The segment of a key whose hash is `h`.
pub fn segment_of(h: u64) -> u32 {
    (h % SEGMENTS as u64) as u32
}

/// A shard's mark: which snapshot wants it, for which database, which of its segments
/// were walked already, and the snapshot's epoch (an entry stamped with it is saved
/// already, or was made after the snapshot began: `Entry::snap`).
pub struct Pending {
    pub db: usize,
    pub saver: std::sync::Arc<dyn ShardSaver>,
    pub saved: u16,
    pub epoch: u32,
}

/// Save the segments `mask` of a pending shard that are not saved yet; the mark goes when
/// every segment is.
fn save_segments(s: &mut Shard, mask: u16) {
    let Some(p) = s.pending.as_ref() else { return };
    let todo = mask & !p.saved;
    if todo != 0 {
        let (db, saver) = (p.db, p.saver.clone());
        saver.save_entries(db, s, todo);
        if let Some(p) = s.pending.as_mut() {
            p.saved |= todo;
        }
    }
    if s.pending.as_ref().is_some_and(|p| p.saved == u16::MAX) {
        s.pending = None;
    }
}

/// Save the keys `keys` (with their hashes) of a pending shard, those not saved yet: a
/// command that names its keys is about to touch them, and only them (copy-on-write per
/// key). Each is stamped, so the walk leaves it out; a key absent now was absent when the
/// snapshot began (whoever deleted it saved it first) or made since.
pub fn save_keys<'k>(s: &mut Shard, keys: impl Iterator<Item = (u64, &'k [u8])>) {
    let Some(p) = s.pending.as_ref() else { return };
    let (db, epoch, walked) = (p.db, p.epoch, p.saved);
    let saver = p.saver.clone();
    for (h, key) in keys {
        if walked & (1 << segment_of(h)) != 0 {
            continue;
        }
        if let Some(e) = s.dict.get_mut(h, key) {
            if e.snap() != epoch {
                saver.save_entry(db, e);
                e.set_snap(epoch);
            }
        }
    }
}

/// Save segment `seg` of a pending shard (the saver's walk).
pub fn save_segment(s: &mut Shard, seg: u32) {
    save_segments(s, 1 << seg);
}

/// A shard behind its mutex. Every lock goes through here, so a shard still marked for a
/// snapshot has its unsaved keys saved before a caller that names no keys can change any
/// (`lock_raw` and the per-key saves of `Keyspace::access_keys` are the other ways in):
/// the snapshot stays point-in-time, and the check is one test of a field under the lock
/// the caller takes anyway.
pub struct ShardCell(Mutex<Shard>);

impl ShardCell {
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, Shard> {
        let mut g = self.0.lock();
        if g.pending.is_some() {
            save_pending(&mut g);
        }
        g
    }

    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, Shard>> {
        let mut g = self.0.try_lock()?;
        if g.pending.is_some() {
            save_pending(&mut g);
        }
        Some(g)
    }

    /// The lock without handing a pending shard over: for readers of addresses only
    /// (prefetching) and for marking shards.
    pub fn try_lock_raw(&self) -> Option<MutexGuard<'_, Shard>> {
        self.0.try_lock()
    }

    pub fn lock_raw(&self) -> MutexGuard<'_, Shard> {
        self.0.lock()
    }
}

#[cold]
#[inline(never)]
fn save_pending(s: &mut Shard) {
    save_segments(s, u16::MAX);
}

impl Shard {
    fn new() -> Shard {
        Shard {
            dict: Dict::new(key_hash),
            expires: 0,
            expire_cursor: 0,
            avg_ttl_ms: 0,
            stats: ShardStats::default(),
            waiters: blocking::Waiters::default(),
            watched: watch::Watched::default(),
            pending: None,
        }
    }

    /// Exchange the data (not the waiters: they belong to a database number) with another
    /// shard, for SWAPDB.
    pub fn swap_data(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.dict, &mut other.dict);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.expire_cursor, &mut other.expire_cursor);
        std::mem::swap(&mut self.avg_ttl_ms, &mut other.avg_ttl_ms);
    }

    /// Remove a key, keeping the expiry count right.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let e = self.dict.remove(hash, key)?;
        if e.expire_at_ms != NO_EXPIRE {
            self.expires -= 1;
        }
        Some(e)
    }

    /// Delete a key found expired: counted in expired_keys, and a change for its watchers.
    /// `lazy` (lazyfree-lazy-expire): a big value is freed in the background.
    pub fn remove_expired(&mut self, hash: u64, key: &[u8], lazy: bool) {
        if let Some(e) = self.remove(hash, key) {
            if lazy {
                crate::data::lazyfree::free_entry(e);
            }
            self.stats.expired += 1;
            if self.watched.has(key) {
                self.watched.touch(key, false);
            }
        }
    }

    /// Drop all keys; the old table is returned so it can be freed elsewhere.
    pub fn clear(&mut self) -> Dict {
        self.expires = 0;
        self.expire_cursor = 0;
        self.avg_ttl_ms = 0;
        self.dict.take_all()
    }
}

pub struct Db {
    pub shards: Box<[ShardCell]>,
}

impl Db {
    fn new(n: usize) -> Db {
        Db { shards: (0..n).map(|_| ShardCell(Mutex::new(Shard::new()))).collect() }
    }
}

pub struct Keyspace {
    pub dbs: Vec<Db>,
    shard_bits: u32,
    gates: Box<[RwLock<()>]>,
    /// Writes since the last save (INFO rdb_changes_since_last_save).
    pub dirty: crate::util::counter::Counter,
    /// Called when a key expires (lazily or actively) and when a key is created, so the
    /// server can emit keyspace notifications without this layer knowing about it.
    pub on_event: OnceLock<EventHook>,
    /// How much client-side caching state the server keeps: while there is some, writes
    /// report the keys they modify (`KeyEvent::Modified`) so it can invalidate them.
    pub tracking: std::sync::Arc<TrackingCounts>,
    /// What active expiry measured (INFO expired_stale_perc, expire_cycle_cpu_milliseconds).
    pub expire_stats: parking_lot::Mutex<ExpireStats>,
    /// Called with (db, key) for a key deleted because its TTL passed outside any command's
    /// unit (`expired_deleted`), while its shard is still locked, so the deletion reaches
    /// the propagation sinks in order with the key's other writes (persist::propagate).
    /// Set once by the server.
    pub on_expired_delete: OnceLock<ExpiredHook>,
    /// lazyfree-lazy-expire: a deletion by expiry propagates as UNLINK instead of DEL.
    pub lazy_expire: std::sync::atomic::AtomicBool,
    /// lazyfree-lazy-user-del: DEL frees as UNLINK does.
    pub lazy_user_del: std::sync::atomic::AtomicBool,
    /// lazyfree-lazy-server-del: a value overwritten or deleted implicitly (RENAME's or
    /// RESTORE REPLACE's destination, SPOP of the whole set) is freed in the background.
    pub lazy_server_del: std::sync::atomic::AtomicBool,
    /// The epoch of the latest snapshot (`persist::snapshot`): a key made now is stamped
    /// with it (`Entry::snap`), so a snapshot in progress leaves it out.
    pub snap_epoch: std::sync::atomic::AtomicU32,
}

/// `(db, key)` of a key deleted by expiry (`Keyspace::on_expired_delete`).
pub type ExpiredHook = Box<dyn Fn(usize, &[u8]) + Send + Sync>;

#[derive(Default)]
pub struct ExpireStats {
    /// Running estimate of the share of keys with a TTL that are expired but not yet
    /// removed (each cycle's share weighs 5%, as in Redis).
    pub stale_perc: f64,
    /// Time spent in active expiry cycles.
    pub cpu_us: u64,
    /// The last cycle's time with a shard locked, waits for gates and locks aside: what
    /// the latency monitor's "expire-cycle" event measures (the work a single-threaded
    /// server would have stalled for).
    pub last_busy_us: u64,
}

/// Keys in the server's tracking table and BCAST prefixes (kept by server::tracking). A
/// key is counted before the reading command releases its shard, so a writer that locks
/// the shard afterwards sees the count and reports its write.
#[derive(Default)]
pub struct TrackingCounts {
    pub keys: std::sync::atomic::AtomicUsize,
    pub prefixes: std::sync::atomic::AtomicUsize,
}

impl TrackingCounts {
    pub fn active(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.keys.load(Relaxed) > 0 || self.prefixes.load(Relaxed) > 0
    }
}

/// What a keyspace event hook is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// A key was deleted because its TTL passed.
    Expired,
    /// A key was deleted to bring memory under maxmemory.
    Evicted,
    /// A key was added that did not exist (Redis's dbAdd).
    New,
    /// A read lookup found no key (Redis's lookupKeyRead miss).
    Miss,
    /// A command modified the key (Redis's signalModifiedKey); only reported once
    /// client-side caching state exists (`tracking`).
    Modified,
}

/// `(event, db, key, client)`, the client being the one whose command caused it (0 for
/// the server itself: active expiry); set once by the server.
pub type EventHook = Box<dyn Fn(KeyEvent, usize, &[u8], u64) + Send + Sync>;

/// How a write sets the key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetExpire {
    /// Remove any TTL (plain SET).
    Clear,
    /// Keep the existing TTL (KEEPTTL, SETRANGE, APPEND, INCR).
    Keep,
    /// Expire at this unix time in milliseconds.
    At(i64),
}

/// Keep a shard's count of keys with a TTL right when one key's expiry changes.
fn track_expire(count: &mut usize, old: i64, new: i64) {
    match (old != NO_EXPIRE, new != NO_EXPIRE) {
        (true, false) => *count -= 1,
        (false, true) => *count += 1,
        _ => {}
    }
}

/// Keep sweeping a shard while more than 10% of the examined keys had expired.
fn removed_enough(removed: usize, seen: usize) -> bool {
    seen > 0 && removed * 10 > seen
}

impl Keyspace {
    pub fn new(databases: usize, shard_bits: u32, gates: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases).map(|_| Db::new(1 << shard_bits)).collect(),
            shard_bits,
            gates: (0..gates).map(|_| RwLock::new(())).collect(),
            dirty: crate::util::counter::Counter::new(gates + 1),
            on_event: OnceLock::new(),
            tracking: Default::default(),
            expire_stats: Default::default(),
            on_expired_delete: OnceLock::new(),
            lazy_expire: Default::default(),
            lazy_user_del: Default::default(),
            lazy_server_del: Default::default(),
            snap_epoch: Default::default(),
        }
    }

    /// A key was deleted because its TTL passed outside any command's unit (active expiry,
    /// and SCAN / RANDOMKEY, whose deletions Redis does not wrap in MULTI/EXEC either), its
    /// shard still locked: tell the propagation hook.
    #[inline]
    pub fn expired_deleted(&self, db: usize, key: &[u8]) {
        if let Some(h) = self.on_expired_delete.get() {
            h(db, key);
        }
    }

    /// Tell the event hook, if any, about `key` in `db`.
    #[inline]
    pub fn key_event(&self, ev: KeyEvent, db: usize, key: &[u8], client: u64) {
        if let Some(h) = self.on_event.get() {
            h(ev, db, key, client);
        }
    }

    pub fn shards_per_db(&self) -> usize {
        1 << self.shard_bits
    }

    pub fn shard_of(&self, hash: u64) -> usize {
        (hash >> (64 - self.shard_bits)) as usize
    }

    /// Shared entry for gate `i` (one per executing thread).
    pub fn enter(&self, gate: usize) -> RwLockReadGuard<'_, ()> {
        self.gates[gate % self.gates.len()].read()
    }

    /// Every gate, exclusively: no other command runs until the guards drop.
    pub fn enter_exclusive(&self) -> Vec<RwLockWriteGuard<'_, ()>> {
        self.gates.iter().map(|g| g.write()).collect()
    }

    pub fn gate_count(&self) -> usize {
        self.gates.len()
    }

    /// `enter`, giving up after `wait`.
    pub fn try_enter_for(&self, gate: usize, wait: std::time::Duration) -> Option<RwLockReadGuard<'_, ()>> {
        let g = &self.gates[gate % self.gates.len()];
        g.try_read().or_else(|| g.try_read_for(wait))
    }

    /// Gate `i` exclusively, giving up after `wait` (take them in index order).
    pub fn try_enter_exclusive_for(&self, i: usize, wait: std::time::Duration) -> Option<RwLockWriteGuard<'_, ()>> {
        let g = &self.gates[i % self.gates.len()];
        g.try_write().or_else(|| g.try_write_for(wait))
    }

    /// Prefetch stage `entry` (see `Dict::prefetch`) of `key` in database `db`, if its
    /// shard is free right now.
    pub fn prefetch(&self, db: usize, key: &[u8], entry: bool) {
        self.prefetch_hashed(db, key_hash(key), entry);
    }

    /// `prefetch` of the key whose hash is `h` (`key_hash`), for a caller that asks for
    /// both stages of one key: it hashes the key once.
    pub fn prefetch_hashed(&self, db: usize, h: u64, entry: bool) {
        let Some(shard) = self.shard_by_hash(db, h) else { return };
        if let Some(s) = shard.try_lock_raw() {
            let addrs = s.dict.prefetch_addrs(h, entry);
            drop(s);
            prefetch_all(addrs);
        }
    }

    /// The shard of database `db` that holds keys hashing to `h`, if that database exists.
    fn shard_by_hash(&self, db: usize, h: u64) -> Option<&ShardCell> {
        self.dbs.get(db).and_then(|d| d.shards.get(self.shard_of(h)))
    }

    /// Prefetch stage `entry` of `member` in the collection at `key` (a hash's field, a
    /// set's or sorted set's member), if the shard is free right now. Only for a key whose
    /// entry is in cache already (a key the batch just used): finding it is a lookup.
    /// False when there is nothing to prefetch in that key's value (no such key, or not a
    /// hash, set or sorted set with a table).
    pub fn prefetch_member(&self, db: usize, key: &[u8], member: &[u8], entry: bool) -> bool {
        self.prefetch_in(db, key, member, entry)
    }

    fn prefetch_in(&self, db: usize, key: &[u8], member: &[u8], entry: bool) -> bool {
        let h = key_hash(key);
        let Some(shard) = self.shard_by_hash(db, h) else { return false };
        let addrs = match shard.try_lock_raw() {
            Some(s) => match member_addrs(&s, h, key, member, entry) {
                Some(a) => a,
                None => return false,
            },
            None => return true,
        };
        prefetch_all(addrs);
        true
    }

    /// Lock the shards of `keys` (all in database `db`) in ascending order.
    pub fn access<'a, K: AsRef<[u8]>>(&'a self, db: usize, keys: &[K], now_ms: i64) -> Access<'a> {
        self.access_shards(db, &self.shard_ids(keys), now_ms)
    }

    /// The shards of `keys`, ascending, each once.
    pub fn shard_ids<K: AsRef<[u8]>>(&self, keys: &[K]) -> smallvec::SmallVec<[u32; 8]> {
        if let [key] = keys {
            // The common case, without the sort.
            let mut one = smallvec::SmallVec::new();
            one.push(self.shard_of(key_hash(key.as_ref())) as u32);
            return one;
        }
        let mut ids: smallvec::SmallVec<[u32; 8]> =
            keys.iter().map(|k| self.shard_of(key_hash(k.as_ref())) as u32).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Lock shards `ids` (ascending, from `shard_ids`) of database `db`.
    pub fn access_shards(&self, db: usize, ids: &[u32], now_ms: i64) -> Access<'_> {
        let mut guards = Guards::new();
        for &s in ids {
            guards.push((db as u32, s, self.dbs[db].shards[s as usize].lock()));
        }
        Access::new(self, db, guards, false, now_ms)
    }

    /// `access_shards` for a command whose keys are `keys` (all in `ids`, and it touches no
    /// other): in a shard a snapshot still wants, only those keys are saved first.
    pub fn access_keys<K: AsRef<[u8]>>(&self, db: usize, ids: &[u32], keys: &[K], now_ms: i64) -> Access<'_> {
        let mut guards = Guards::new();
        for &s in ids {
            let mut g = self.dbs[db].shards[s as usize].lock_raw();
            if g.pending.is_some() {
                save_keys_of_shard(self, &mut g, s, keys);
            }
            guards.push((db as u32, s, g));
        }
        Access::new(self, db, guards, false, now_ms)
    }

    /// An access that locks shards lazily; only valid while holding `enter_exclusive`.
    pub fn access_exclusive(&self, db: usize, now_ms: i64) -> Access<'_> {
        Access::new(self, db, Guards::new(), true, now_ms)
    }

    pub fn add_dirty(&self, slot: usize, n: u64) {
        if n > 0 {
            self.dirty.add(slot, n);
        }
    }

    /// One round of active expiry over every shard holding keys with a TTL: sweep
    /// `buckets_per_shard` buckets from where the last round stopped, deleting expired keys,
    /// and keep sweeping a shard while more than a tenth of what it examined had expired
    /// (Redis's adaptive rule), until `budget` runs out. Gate `gate` is held for one sweep
    /// at a time, not for the round: a script or another exclusive command waiting for every
    /// gate waits for one sweep of one shard, not for the whole round (about a millisecond
    /// over 100k keys with a TTL). Returns the number of keys deleted, and those of them
    /// clients were blocked on, (db, key), to be served (an XREADGROUP reader answers that
    /// its group is gone, as Redis's deleted-key signal makes it).
    pub fn active_expire_cycle(
        &self,
        gate: usize,
        buckets_per_shard: usize,
        now_ms: i64,
        budget: std::time::Duration,
    ) -> (usize, Vec<(usize, Vec<u8>)>) {
        let started = std::time::Instant::now();
        let mut waited = Vec::new();
        let (expired, looked_at, busy) =
            self.active_expire_sweeps(gate, buckets_per_shard, now_ms, budget, started, &mut waited);
        let mut stats = self.expire_stats.lock();
        stats.cpu_us += started.elapsed().as_micros() as u64;
        stats.last_busy_us = busy.as_micros() as u64;
        let current = if looked_at > 0 { expired as f64 / looked_at as f64 } else { 0.0 };
        stats.stale_perc = current * 0.05 + stats.stale_perc * 0.95;
        (expired, waited)
    }

    /// The sweeps of one cycle: (keys expired, keys with a TTL looked at, time with a
    /// shard locked).
    fn active_expire_sweeps(
        &self,
        gate: usize,
        buckets_per_shard: usize,
        now_ms: i64,
        budget: std::time::Duration,
        started: std::time::Instant,
        waited: &mut Vec<(usize, Vec<u8>)>,
    ) -> (usize, usize, std::time::Duration) {
        let (mut n, mut looked_at) = (0, 0);
        let mut busy = std::time::Duration::ZERO;
        for (dbi, db) in self.dbs.iter().enumerate() {
            for shard in db.shards.iter() {
                loop {
                    let _entered = self.enter(gate);
                    // A shard without TTLs is left as it is: a snapshot that still wants it
                    // is not served by the cron for nothing.
                    let mut s = shard.lock_raw();
                    if s.expires == 0 {
                        s.avg_ttl_ms = 0;
                        break;
                    }
                    let held = std::time::Instant::now();
                    if s.pending.is_some() {
                        save_pending(&mut s);
                    }
                    let cursor = s.expire_cursor;
                    let (mut ttl_sum, mut ttl_samples, mut with_ttl) = (0i64, 0i64, 0usize);
                    let (next, removed, seen) = s.dict.sweep(cursor, buckets_per_shard, |e| {
                        if e.expire_at_ms == NO_EXPIRE {
                            return false;
                        }
                        with_ttl += 1;
                        if now_ms > e.expire_at_ms {
                            return true;
                        }
                        ttl_sum += e.expire_at_ms - now_ms;
                        ttl_samples += 1;
                        false
                    });
                    let count = removed.len();
                    // Redis's estimates: the TTL average with a 2% weight for each new
                    // sample, and the share of stale keys among those with a TTL with 5%.
                    if ttl_samples > 0 {
                        let avg = ttl_sum / ttl_samples;
                        let old = if s.avg_ttl_ms == 0 { avg } else { s.avg_ttl_ms };
                        s.avg_ttl_ms = old / 50 * 49 + avg / 50;
                    }
                    looked_at += with_ttl;
                    if !s.watched.is_empty() {
                        for e in &removed {
                            s.watched.touch(e.key(), false);
                        }
                    }
                    if !s.waiters.is_empty() {
                        for e in &removed {
                            let k: &[u8] = e.key();
                            if s.waiters.has(k) {
                                waited.push((dbi, k.to_vec()));
                            }
                        }
                    }
                    for e in &removed {
                        self.expired_deleted(dbi, e.key());
                    }
                    s.expire_cursor = next;
                    s.expires -= count;
                    s.stats.expired += count as u64;
                    n += count;
                    drop(s);
                    busy += held.elapsed();
                    for e in &removed {
                        self.key_event(KeyEvent::Expired, dbi, e.key(), 0);
                    }
                    if self.lazy_expire.load(std::sync::atomic::Ordering::Relaxed) {
                        for e in removed {
                            crate::data::lazyfree::free_entry(e);
                        }
                    } else {
                        drop(removed);
                    }
                    let again = removed_enough(count, seen) && next != 0;
                    if !again || started.elapsed() > budget {
                        break;
                    }
                }
                if started.elapsed() > budget {
                    return (n, looked_at, busy);
                }
            }
        }
        (n, looked_at, busy)
    }

    /// Give every shard's table a few incremental rehash steps (background rehashing).
    pub fn rehash_cycle(&self, steps: usize) {
        for db in &self.dbs {
            for shard in db.shards.iter() {
                // Moving entries between tables changes no key: a pending shard stays so.
                let mut s = shard.lock_raw();
                if s.dict.is_rehashing() {
                    s.dict.rehash(steps);
                }
            }
        }
    }
}

/// `save_keys` for those of `keys` in shard `s`.
#[cold]
fn save_keys_of_shard<K: AsRef<[u8]>>(ks: &Keyspace, shard: &mut Shard, s: u32, keys: &[K]) {
    let named = keys.iter().map(|k| (key_hash(k.as_ref()), k.as_ref())).filter(|(h, _)| ks.shard_of(*h) as u32 == s);
    save_keys(shard, named);
}

/// Held shard locks, sorted by (db, shard); inline for the common one-to-four-shard command.
type Guards<'a> = smallvec::SmallVec<[(u32, u32, MutexGuard<'a, Shard>); 4]>;

/// The locked view of the keyspace one command (or one MULTI/EXEC, or one script) runs with.
pub struct Access<'a> {
    ks: &'a Keyspace,
    /// Held shard locks, sorted by (db, shard).
    guards: Guards<'a>,
    exclusive: bool,
    /// The client's selected database.
    pub db: usize,
    /// Time frozen for the command, as Redis does (a command sees one "now").
    pub now_ms: i64,
    /// Current LRU clock (`lru_clock_at`) stamped on accessed keys.
    pub lru_clock: u32,
    /// CLIENT NO-TOUCH: reads don't update the access clock.
    pub no_touch: bool,
    /// Under an LFU maxmemory policy: (lfu-log-factor, lfu-decay-time); None means LRU.
    pub lfu: Option<(u32, u32)>,
    /// Writes performed (added to the server's dirty counter).
    pub dirty: u64,
    /// The statistics slot (thread) this access counts in.
    pub slot: usize,
    /// Keys written that have blocked clients waiting on them, (db, key, signalled), in
    /// order. `signalled`: the key was created, replaced or deleted, or a command said it
    /// has news for stream readers (`signal_ready`, Redis's signalKeyAsReady: XADD, XGROUP
    /// DESTROY); stream readers are served only then, list and zset waiters on any write.
    pub ready: Vec<(usize, Vec<u8>, bool)>,
    /// Watched keys the command looked up for writing, (db, key): their watchers are
    /// flagged if the command turns out to have modified something (`signal_touched`).
    /// With `track`, every key looked up for writing, reported as `KeyEvent::Modified`.
    pub touched: Vec<(usize, Vec<u8>)>,
    /// Report modified keys (client-side caching state existed when the access began).
    track: bool,
    /// The client whose command this access serves (0: the server), for key events.
    pub client: u64,
    /// The command signals its keys as modified even though it changed nothing (LTRIM);
    /// reset by `signal_touched`.
    pub signal_always: bool,
    /// The running unit collects ops for the sinks (one was active when it began,
    /// `dispatch::call`): commands record how they propagate only then.
    pub prop: bool,
    /// The ops of the unit (command, transaction, script) collected so far, in the order
    /// they took effect; delivered to the sinks when the unit ends, under its locks.
    pub ops: Vec<Op>,
    /// How the running command propagates (Redis's rewriteClientCommandVector and
    /// preventCommandPropagation); saved and restored around nested commands.
    pub propagate: Propagate,
    /// Commands running in this access's collecting unit (a script's commands nest in
    /// EVAL's, a transaction's in EXEC): the unit is delivered when it returns to 0. Only
    /// counted while `prop`: a unit with no sink costs no bookkeeping.
    pub depth: u32,
    /// The running command's own op is left out of the unit (a script's redis.set_repl
    /// without REPL_AOF).
    pub own_op_off: bool,
}

impl<'a> Access<'a> {
    fn new(ks: &'a Keyspace, db: usize, guards: Guards<'a>, exclusive: bool, now_ms: i64) -> Self {
        let track = ks.tracking.active();
        Access {
            ks,
            guards,
            exclusive,
            db,
            now_ms,
            lru_clock: lru_clock_at(now_ms),
            no_touch: false,
            lfu: None,
            dirty: 0,
            slot: 0,
            ready: Vec::new(),
            touched: Vec::new(),
            track,
            client: 0,
            signal_always: false,
            prop: false,
            ops: Vec::new(),
            propagate: Propagate::Own,
            depth: 0,
            own_op_off: false,
        }
    }

    /// Propagate the running command as `argv` instead of its own arguments (Redis's
    /// rewriteClientCommandVector), if it turns out to have written: SET ... EX as SET ...
    /// PXAT, INCRBYFLOAT as SET ... KEEPTTL. `argv` is only built while a sink is active.
    #[inline]
    pub fn propagate_as(&mut self, argv: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.prop {
            self.propagate = Propagate::As(argv());
        }
    }

    /// Add an op for database `db` to the unit now, before the running command's own
    /// (Redis's alsoPropagate): SPOP's batches of SREM, XREADGROUP's XCLAIMs.
    #[inline]
    pub fn also_propagate(&mut self, db: usize, argv: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.prop {
            self.ops.push(Op { db, argv: argv() });
        }
    }

    /// A lookup of the running command deleted `key` because its TTL passed: its DEL (or
    /// UNLINK) joins the unit before the command's own op, as Redis's alsoPropagate puts it.
    fn expired_in_unit(&mut self, db: usize, key: &[u8]) {
        if self.prop {
            let lazy = self.ks.lazy_expire.load(std::sync::atomic::Ordering::Relaxed);
            self.ops.push(Op { db, argv: crate::persist::propagate::deletion(key, lazy) });
        }
    }

    /// Propagate the running command with its own arguments even if it changed nothing
    /// (Redis's forceCommandPropagation): FLUSHDB of an empty database.
    #[inline]
    pub fn force_propagation(&mut self) {
        self.propagate = Propagate::Always;
    }

    /// The running command itself is not propagated, whatever it wrote (Redis's
    /// preventCommandPropagation): scripts, which go by their effects, and commands whose
    /// `also_propagate` ops say it all.
    #[inline]
    pub fn prevent_propagation(&mut self) {
        self.propagate = Propagate::Nothing;
    }

    /// Ready this access for the next command of a batch (`dispatch::Sticky`): the
    /// command's time, and whether key events are reported (client-side caching may have
    /// begun since the access was made).
    pub fn renew(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        self.lru_clock = lru_clock_at(now_ms);
        self.track = self.ks.tracking.active();
    }

    /// Trade the one shard this access holds for shard `shard` of its database (a batch's
    /// kept hold serving a command on another shard, `dispatch::Sticky`). The old lock goes
    /// first: holding one shard while waiting for another would break the lock order.
    pub fn rehold<K: AsRef<[u8]>>(&mut self, shard: usize, keys: &[K]) {
        debug_assert!(!self.exclusive);
        self.guards.clear();
        let db = self.db;
        self.guards.push((db as u32, shard as u32, self.ks.dbs[db].shards[shard].lock_raw()));
        self.keys_saved(db, keys);
    }

    /// The next command of a kept hold names `keys` of `db` (in the held shards): a shard
    /// a snapshot still wants has those keys saved first.
    #[inline]
    pub fn keys_saved<K: AsRef<[u8]>>(&mut self, db: usize, keys: &[K]) {
        let ks = self.ks;
        for (d, s, g) in self.guards.iter_mut() {
            if *d as usize == db && g.pending.is_some() {
                save_keys_of_shard(ks, g, *s, keys);
            }
        }
    }

    /// Let go of every shard lock this exclusive access took (every gate stays held, so
    /// nothing changes): for a command that then walks the shards itself, as a save does.
    pub fn release_shards(&mut self) {
        debug_assert!(self.exclusive || self.guards.is_empty());
        if self.exclusive {
            self.guards.clear();
        }
    }

    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The locked shard for (db, shard), locking it now in exclusive mode.
    pub fn shard_at(&mut self, db: usize, shard: usize) -> &mut Shard {
        let id = (db as u32, shard as u32);
        // One held shard, the one asked for: most commands.
        if self.guards.len() == 1 && (self.guards[0].0, self.guards[0].1) == id {
            return &mut self.guards[0].2;
        }
        let pos = self.guards.binary_search_by(|(d, s, _)| (*d, *s).cmp(&id));
        let i = match pos {
            Ok(i) => i,
            Err(i) => {
                debug_assert!(self.exclusive, "shard {id:?} touched without being locked by the command table's keys");
                let g = self.ks.dbs[db].shards[shard].lock();
                self.guards.insert(i, (id.0, id.1, g));
                i
            }
        };
        &mut self.guards[i].2
    }

    /// Run `f` on shard `s` of `db`: through the guard if this access holds it (or, in
    /// exclusive mode, takes it), else locking it for the call only. Keyless commands that
    /// read the whole keyspace (SCAN, DBSIZE, INFO ...) go through here, so they work
    /// inside EXEC and scripts, whose access may already hold some shards.
    pub fn with_shard<R>(&mut self, db: usize, s: usize, f: impl FnOnce(&mut Shard) -> R) -> R {
        if self.exclusive {
            return f(self.shard_at(db, s));
        }
        let id = (db as u32, s as u32);
        match self.guards.binary_search_by(|(d, x, _)| (*d, *x).cmp(&id)) {
            Ok(i) => f(&mut self.guards[i].2),
            Err(_) => f(&mut self.ks.dbs[db].shards[s].lock()),
        }
    }

    /// `with_shard` for a look that changes no key (counts, statistics): a shard a
    /// snapshot still wants is not saved for it (`ShardCell::lock_raw`).
    pub fn with_shard_read<R>(&mut self, db: usize, s: usize, f: impl FnOnce(&mut Shard) -> R) -> R {
        let id = (db as u32, s as u32);
        match self.guards.binary_search_by(|(d, x, _)| (*d, *x).cmp(&id)) {
            Ok(i) => f(&mut self.guards[i].2),
            Err(_) => f(&mut self.ks.dbs[db].shards[s].lock_raw()),
        }
    }

    /// Prefetch the table slots, then the first chain entries, of `keys` (a multi-key
    /// command's, in this access's database, in shards it holds), so that their cache
    /// misses overlap instead of following one another as the command walks its keys.
    pub fn prefetch_keys(&mut self, keys: &[&[u8]]) {
        let db = self.db;
        let mut held: smallvec::SmallVec<[(u64, usize); 16]> = smallvec::SmallVec::new();
        for k in keys {
            let h = key_hash(k);
            let id = (db as u32, self.ks.shard_of(h) as u32);
            if let Ok(i) = self.guards.binary_search_by(|(d, x, _)| (*d, *x).cmp(&id)) {
                prefetch_all(self.guards[i].2.dict.prefetch_addrs(h, false));
                held.push((h, i));
            }
        }
        for (h, i) in held {
            prefetch_all(self.guards[i].2.dict.prefetch_addrs(h, true));
        }
    }

    /// `Keyspace::prefetch_member` through the shard this access holds (a batch's kept
    /// hold, `dispatch::Sticky`): None if it does not hold the key's shard.
    pub fn prefetch_member(&mut self, key: &[u8], member: &[u8], entry: bool) -> Option<bool> {
        let h = key_hash(key);
        let id = (self.db as u32, self.ks.shard_of(h) as u32);
        let i = self.guards.binary_search_by(|(d, x, _)| (*d, *x).cmp(&id)).ok()?;
        match member_addrs(&self.guards[i].2, h, key, member, entry) {
            Some(a) => {
                prefetch_all(a);
                Some(true)
            }
            None => Some(false),
        }
    }

    /// Number of keys in `db` (DBSIZE).
    pub fn db_size(&mut self, db: usize) -> usize {
        (0..self.ks.shards_per_db()).map(|s| self.with_shard_read(db, s, |sh| sh.dict.len())).sum()
    }

    /// Keyspace-wide counts for INFO.
    pub fn figures(&mut self) -> Figures {
        let mut f = Figures::default();
        for db in 0..self.ks.dbs.len() {
            let (mut keys, mut expires, mut table_bytes) = (0, 0, 0);
            let (mut ttl_weighted, mut ttl_weight) = (0i128, 0i128);
            for s in 0..self.ks.shards_per_db() {
                self.with_shard_read(db, s, |sh| {
                    keys += sh.dict.len();
                    expires += sh.expires;
                    if sh.avg_ttl_ms > 0 && sh.expires > 0 {
                        ttl_weighted += sh.avg_ttl_ms as i128 * sh.expires as i128;
                        ttl_weight += sh.expires as i128;
                    }
                    table_bytes += sh.dict.table_bytes();
                    f.blocking_keys += sh.waiters.len();
                    f.stats.hits += sh.stats.hits;
                    f.stats.misses += sh.stats.misses;
                    f.stats.expired += sh.stats.expired;
                });
            }
            f.table_bytes += table_bytes;
            f.db_table_bytes.push(table_bytes);
            f.dbs.push((keys, expires));
            f.avg_ttls.push(if ttl_weight > 0 { (ttl_weighted / ttl_weight) as i64 } else { 0 });
        }
        f
    }

    /// CONFIG RESETSTAT: zero the per-shard hit/miss/expired counts.
    pub fn reset_stats(&mut self) {
        for db in 0..self.ks.dbs.len() {
            for s in 0..self.ks.shards_per_db() {
                self.with_shard_read(db, s, |sh| sh.stats = ShardStats::default());
            }
        }
    }

    /// SWAPDB: exchange the data of two databases, shard by shard (exclusive mode).
    pub fn swap_db_data(&mut self, a: usize, b: usize) {
        for s in 0..self.ks.shards_per_db() {
            self.shard_at(a, s);
            self.shard_at(b, s);
            let pos = |g: &Guards, db: usize| g.iter().position(|(d, x, _)| *d as usize == db && *x as usize == s);
            let (Some(i), Some(j)) = (pos(&self.guards, a), pos(&self.guards, b)) else { continue };
            let (lo, hi) = (i.min(j), i.max(j));
            let (left, right) = self.guards.split_at_mut(hi);
            left[lo].2.swap_data(&mut right[0].2);
        }
    }

    /// Make sure the shards of `keys` (in `db`) are held, taking missing ones with
    /// `try_lock` (never blocking, so holding shards out of order cannot deadlock).
    /// False if one was busy.
    pub fn try_lock_keys<K: AsRef<[u8]>>(&mut self, db: usize, keys: &[K]) -> bool {
        // Keys of shards held already (a waiter's other key, served under the pushing
        // command's access) may lie in segments a snapshot has not saved.
        self.keys_saved(db, keys);
        for k in keys {
            let id = (db as u32, self.ks.shard_of(key_hash(k.as_ref())) as u32);
            if let Err(i) = self.guards.binary_search_by(|(d, s, _)| (*d, *s).cmp(&id)) {
                match self.ks.dbs[db].shards[id.1 as usize].try_lock() {
                    Some(g) => self.guards.insert(i, (id.0, id.1, g)),
                    None => return false,
                }
            }
        }
        true
    }

    /// Note that `key`, which clients wait on, was written.
    pub fn note_ready(&mut self, db: usize, key: &[u8]) {
        self.mark_ready(db, key, false);
    }

    /// Note that `key`, which clients wait on, was created, replaced or deleted, or has
    /// news for its stream readers (Redis's signalKeyAsReady / signalDeletedKeyAsReady).
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        self.mark_ready(db, key, true);
    }

    fn mark_ready(&mut self, db: usize, key: &[u8], signalled: bool) {
        match self.ready.iter_mut().find(|(d, k, _)| *d == db && k == key) {
            Some(r) => r.2 |= signalled,
            None => self.ready.push((db, key.to_vec(), signalled)),
        }
    }

    /// `signal_ready` if clients wait on `key`.
    fn signal_if_waited(&mut self, db: usize, h: u64, key: &[u8]) {
        if self.shard_hashed(db, h).waiters.has(key) {
            self.signal_ready(db, key);
        }
    }

    /// The command is going to modify `key` in the selected db (whether it exists or not):
    /// note it now, for the order in which modified keys are signalled.
    pub fn will_write(&mut self, key: &[u8]) {
        let db = self.db;
        self.note_write(db, key);
    }

    /// Whether `note_write` would record `key` (cheap: usually empty registries).
    #[inline]
    fn wants_note(&mut self, db: usize, h: u64, key: &[u8]) -> bool {
        if self.track {
            return true;
        }
        let shard = self.shard_hashed(db, h);
        shard.waiters.has(key) || shard.watched.has(key)
    }

    /// A key is about to be written: remember it if clients block on it or watch it.
    #[inline]
    fn note_write(&mut self, db: usize, key: &[u8]) {
        self.note_write_hashed(db, key_hash(key), key);
    }

    /// `note_write` of a key whose hash the caller has (`key_hash`).
    fn note_write_hashed(&mut self, db: usize, h: u64, key: &[u8]) {
        let shard = self.shard_hashed(db, h);
        let (waited, watched) = (shard.waiters.has(key), shard.watched.has(key));
        if waited {
            self.note_ready(db, key);
        }
        if watched || self.track {
            self.touched.push((db, key.to_vec()));
        }
    }

    /// The command looked `key` (selected db) up for writing but left it as it was,
    /// although it changed other keys: its watchers and tracking clients are not told
    /// (Redis signals each key that changes, e.g. not SMOVE's destination that already
    /// held the member).
    pub fn unchanged(&mut self, key: &[u8]) {
        let db = self.db;
        self.touched.retain(|(d, k)| *d != db || k != key);
    }

    /// The command modified something (its dirty count grew): flag the clients watching
    /// the keys it looked up for writing. Otherwise (a no-op write) just forget them.
    pub fn signal_touched(&mut self, modified: bool) {
        let modified = modified || std::mem::take(&mut self.signal_always);
        let touched = std::mem::take(&mut self.touched);
        if modified {
            let (ks, client, track) = (self.ks, self.client, self.track);
            for (db, key) in touched {
                let (h, shard) = self.shard_for(db, &key);
                if shard.watched.has(&key) {
                    let exists = shard.dict.get(h, &key).is_some();
                    shard.watched.touch(&key, exists);
                }
                if track {
                    ks.key_event(KeyEvent::Modified, db, &key, client);
                }
            }
        }
    }

    /// Flag the watchers of every key of `emptied` before it is flushed or swapped with
    /// `replaced_with` (exclusive access only).
    pub fn touch_all_watched(&mut self, emptied: usize, replaced_with: Option<usize>) {
        let now = self.now_ms;
        for s in 0..self.ks.shards_per_db() {
            if self.shard_at(emptied, s).watched.is_empty() {
                continue;
            }
            for key in self.shard_at(emptied, s).watched.keys() {
                let h = key_hash(&key);
                let in_emptied = self.shard_at(emptied, s).dict.get(h, &key).is_some();
                let replacement = replaced_with.map(|db| {
                    self.shard_at(db, s).dict.get(h, &key).map(|e| e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms)
                });
                self.shard_at(emptied, s).watched.touch_emptied(&key, in_emptied, replacement);
            }
        }
    }

    /// WATCH `key` in `db` for the client owning `flag` (its shard must be held).
    pub fn watch(&mut self, db: usize, key: &[u8], flag: &watch::CasFlag) {
        let now = self.now_ms;
        let (h, shard) = self.shard_for(db, key);
        let expired = shard.dict.get(h, key).is_some_and(|e| e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms);
        shard.watched.add(key, flag, expired);
    }

    pub fn unwatch(&mut self, db: usize, key: &[u8], flag: &watch::CasFlag) {
        self.shard_for(db, key).1.watched.remove(key, flag);
    }

    /// EXEC's check: a key that was live when watched has expired since (isWatchedKeyExpired).
    pub fn watched_key_expired(&mut self, db: usize, key: &[u8], flag: &watch::CasFlag) -> bool {
        let now = self.now_ms;
        let (h, shard) = self.shard_for(db, key);
        if shard.watched.expired_at_watch(key, flag) {
            return false;
        }
        shard.dict.get(h, key).is_some_and(|e| e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms)
    }

    fn shard_for(&mut self, db: usize, key: &[u8]) -> (u64, &mut Shard) {
        let h = key_hash(key);
        (h, self.shard_hashed(db, h))
    }

    /// The locked shard of the key whose hash is `h` (`key_hash`).
    fn shard_hashed(&mut self, db: usize, h: u64) -> &mut Shard {
        let s = self.ks.shard_of(h);
        self.shard_at(db, s)
    }

    /// Find a live key in `db`, deleting it first if it has expired.
    fn find(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.find_hashed(db, key_hash(key), key)
    }

    /// `find` of a key whose hash the caller has (`key_hash`).
    fn find_hashed(&mut self, db: usize, h: u64, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now_ms;
        let (ks, client) = (self.ks, self.client);
        let shard = self.shard_hashed(db, h);
        let expired = match shard.dict.get(h, key) {
            None => return None,
            Some(e) => e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms,
        };
        if expired {
            let waited = shard.waiters.has(key);
            shard.remove_expired(h, key, ks.lazy_expire.load(std::sync::atomic::Ordering::Relaxed));
            ks.key_event(KeyEvent::Expired, db, key, client);
            self.expired_in_unit(db, key);
            // A deleted key is news for blocked clients too (XREADGROUP answers NOGROUP).
            if waited {
                self.signal_ready(db, key);
            }
            return None;
        }
        // The shard again (its held guard, a compare): the borrow above may not outlive
        // the branch that notes the key ready.
        self.shard_hashed(db, h).dict.get_mut(h, key)
    }

    /// Read lookup in the selected db: counts a hit or miss and stamps the access clock.
    pub fn get(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.get_in(self.db, key)
    }

    pub fn get_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_read(db, key, !self.no_touch, true)
    }

    /// OBJECT's read lookup (Redis's LOOKUP_NOTOUCH|LOOKUP_NONOTIFY): a hit or miss is counted,
    /// but the access clock is not stamped and a miss sends no keymiss event.
    pub fn get_untouched(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_read(self.db, key, false, false)
    }

    /// TYPE's and TTL's read lookup (Redis's LOOKUP_NOTOUCH): a hit or miss is counted and a
    /// miss sends keymiss, but the access clock is not stamped.
    pub fn get_no_touch(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_read(self.db, key, false, true)
    }

    #[inline]
    fn lookup_read(&mut self, db: usize, key: &[u8], touch: bool, notify: bool) -> Option<&mut Entry> {
        let stamp = self.stamp();
        let now = self.now_ms;
        let (h, shard) = self.shard_for(db, key);
        let (found, live) = match shard.dict.get(h, key) {
            None => (false, false),
            Some(e) => (true, !(e.expire_at_ms != NO_EXPIRE && now > e.expire_at_ms)),
        };
        if live {
            shard.stats.hits += 1;
        } else {
            shard.stats.misses += 1;
        }
        if !live {
            // Expired first (the lookup deletes it), then the miss, as in Redis.
            let (ks, client) = (self.ks, self.client);
            if found {
                self.find_hashed(db, h, key);
            }
            if notify {
                ks.key_event(KeyEvent::Miss, db, key, client);
            }
            return None;
        }
        let e = self.shard_hashed(db, h).dict.get_mut(h, key)?;
        if touch {
            stamp.apply(e);
        }
        Some(e)
    }

    /// Write lookup in the selected db (no hit/miss accounting).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let stamp = self.stamp();
        let touch = !self.no_touch;
        let db = self.db;
        let h = key_hash(key);
        // Only a key that exists is noted here (one that gets created is noted by `set`).
        if self.wants_note(db, h, key) {
            self.find_hashed(db, h, key)?;
            self.note_write_hashed(db, h, key);
        }
        let e = self.find_hashed(db, h, key)?;
        if touch {
            stamp.apply(e);
        }
        Some(e)
    }

    /// `get_mut`, storing `make()` at `key` first (`set`) if it is missing: a collection
    /// command's "lookup write or create". None only if the key is still missing after.
    pub fn get_mut_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> Value) -> Option<&mut Entry> {
        if self.get_mut(key).is_none() {
            self.set(key, make(), SetExpire::Clear);
        }
        // Found live (or just stored) by the lookup above: the table's entry as it is.
        let (db, h) = (self.db, key_hash(key));
        self.shard_hashed(db, h).dict.get_mut(h, key)
    }

    /// Lookup that neither counts stats nor touches the access clock (TYPE-less probes).
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.db;
        self.find(db, key)
    }

    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.find(db, key)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.find(self.db, key).is_some()
    }

    /// Store `value` at `key` in the selected db, replacing any previous value.
    pub fn set(&mut self, key: &[u8], value: Value, expire: SetExpire) {
        let db = self.db;
        self.set_in(db, key, value, expire);
    }

    pub fn set_in(&mut self, db: usize, key: &[u8], value: Value, expire: SetExpire) {
        let clock = self.stamp().initial();
        let lfu = self.lfu.is_some();
        let now = self.now_ms;
        let h = key_hash(key);
        self.note_write_hashed(db, h, key);
        // A key created or replaced (Redis's dbAdd / dbSetValue signal it).
        self.signal_if_waited(db, h, key);
        let (ks, client) = (self.ks, self.client);
        let shard = self.shard_hashed(db, h);
        let new_expire = |old: i64| match expire {
            SetExpire::Clear => NO_EXPIRE,
            SetExpire::Keep => old,
            SetExpire::At(t) => t,
        };
        let expired = match shard.dict.get_mut(h, key) {
            Some(e) if e.expire_at_ms == NO_EXPIRE || now <= e.expire_at_ms => {
                let at = new_expire(e.expire_at_ms);
                track_expire(&mut shard.expires, e.expire_at_ms, at);
                let old = std::mem::replace(&mut e.value, value);
                if ks.lazy_server_del.load(std::sync::atomic::Ordering::Relaxed) {
                    crate::data::lazyfree::free_value(old);
                }
                e.expire_at_ms = at;
                // A new value is a new object in Redis, stamped now; under LFU it takes the
                // old one's counter (dbSetValue), which the command's lookup has counted.
                if !lfu {
                    e.set_lru(clock);
                }
                return;
            }
            found => found.is_some(),
        };
        if expired {
            // Expired but not yet deleted: it goes first (as Redis's lookup would).
            shard.remove_expired(h, key, ks.lazy_expire.load(std::sync::atomic::Ordering::Relaxed));
            ks.key_event(KeyEvent::Expired, db, key, client);
            self.expired_in_unit(db, key);
        }
        ks.key_event(KeyEvent::New, db, key, client);
        let at = new_expire(NO_EXPIRE);
        let snap = self.ks.snap_epoch.load(std::sync::atomic::Ordering::Relaxed);
        let shard = self.shard_hashed(db, h);
        let mut entry = Entry::new(key, value, at, clock);
        entry.set_snap(snap);
        shard.dict.insert_new(h, entry);
        if at != NO_EXPIRE {
            shard.expires += 1;
        }
    }

    /// Delete a key from the selected db; true if it existed (and was not expired).
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.remove_in(self.db, key).is_some()
    }

    /// A deletion the server makes on its own (Redis's dbDelete): lazy under
    /// lazyfree-lazy-server-del.
    pub fn delete_implicitly(&mut self, db: usize, key: &[u8]) -> bool {
        let lazy = self.lazy_server_del();
        self.delete_in(db, key, lazy)
    }

    /// lazyfree-lazy-server-del.
    #[inline]
    pub fn lazy_server_del(&self) -> bool {
        self.ks.lazy_server_del.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `delete`, a big value freed in the background when `lazy` (UNLINK; DEL under
    /// lazyfree-lazy-user-del).
    pub fn delete_lazily(&mut self, key: &[u8], lazy: bool) -> bool {
        let db = self.db;
        self.delete_in(db, key, lazy)
    }

    fn delete_in(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        match self.remove_in(db, key) {
            Some(e) => {
                if lazy {
                    crate::data::lazyfree::free_entry(e);
                }
                true
            }
            None => false,
        }
    }

    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.find(db, key)?;
        self.note_write(db, key);
        let h = key_hash(key);
        self.signal_if_waited(db, h, key);
        self.shard_hashed(db, h).remove(h, key)
    }

    /// Change a live key's expiry (NO_EXPIRE removes it). False if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        let db = self.db;
        self.note_write(db, key);
        let (h, shard) = self.shard_for(db, key);
        let Some(e) = shard.dict.get_mut(h, key) else { return false };
        track_expire(&mut shard.expires, e.expire_at_ms, at_ms);
        e.expire_at_ms = at_ms;
        true
    }

    pub fn mark_dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    fn stamp(&self) -> Stamp {
        Stamp { lru_clock: self.lru_clock, minutes: lfu_minutes(self.now_ms), lfu: self.lfu }
    }

    /// Redis's LFUDecrAndReturn: the access counter decayed by the time since last access.
    pub fn lfu_counter_of(&self, lru: u32) -> u32 {
        self.stamp().decayed(lru)
    }
}

/// How an access marks an entry: LRU clock, or LFU minutes + logarithmic counter.
struct Stamp {
    lru_clock: u32,
    minutes: u32,
    lfu: Option<(u32, u32)>,
}

/// What RDB's FREQ opcode saves for an entry's `lru` under an LFU policy: Redis's
/// LFUDecrAndReturn at `now_ms` with lfu-decay-time `decay`.
pub fn lfu_counter_at(lru: u32, now_ms: i64, decay: u32) -> u32 {
    Stamp { lru_clock: 0, minutes: lfu_minutes(now_ms), lfu: Some((0, decay)) }.decayed(lru)
}

/// An entry's `lru` for a key loaded with `counter` (RDB's FREQ) under an LFU policy.
pub fn lfu_loaded(counter: u8, now_ms: i64) -> u32 {
    (lfu_minutes(now_ms) << 8) | counter as u32
}

/// Ticks of the LRU clock per second. Redis's clock counts seconds in 24 bits, so keys used
/// within the same second tie, and a cache evicting thousands of keys a second picks among
/// them at random; ours counts 10 ms ticks in the entry's 32 bits, which wraps after 497 days
/// where Redis's wraps after 194.
pub const LRU_TICKS_PER_SEC: u32 = 100;

/// The LRU clock entries are stamped with at `now_ms` (`LRU_TICKS_PER_SEC`).
pub fn lru_clock_at(now_ms: i64) -> u32 {
    (now_ms / (1000 / LRU_TICKS_PER_SEC as i64)) as u32
}

/// Whole seconds since an entry stamped `lru` was used, at LRU clock `clock` (OBJECT
/// IDLETIME, RDB's IDLE); a stamp ahead of the clock (a clock set back) reads as 0.
pub fn idle_seconds(clock: u32, lru: u32) -> u32 {
    let ticks = clock.wrapping_sub(lru);
    if ticks > u32::MAX / 2 {
        0
    } else {
        ticks / LRU_TICKS_PER_SEC
    }
}

/// The stamp of an entry last used `secs` seconds before LRU clock `clock` (RESTORE
/// IDLETIME, RDB's IDLE), as far back as the clock reaches.
pub fn lru_seconds_ago(clock: u32, secs: u64) -> u32 {
    clock.wrapping_sub(secs.min((u32::MAX / 2 / LRU_TICKS_PER_SEC) as u64) as u32 * LRU_TICKS_PER_SEC)
}

/// A new key's `lru` at `now_ms` (the LRU clock, or under LFU the minutes and LFU_INIT_VAL).
pub fn initial_lru(now_ms: i64, lfu: bool) -> u32 {
    if lfu {
        (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
    } else {
        lru_clock_at(now_ms)
    }
}

fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// Counter given to new keys under LFU (LFU_INIT_VAL), so they are not evicted at once.
const LFU_INIT_VAL: u32 = 5;

impl Stamp {
    fn initial(&self) -> u32 {
        match self.lfu {
            None => self.lru_clock,
            Some(_) => (self.minutes << 8) | LFU_INIT_VAL,
        }
    }

    fn decayed(&self, lru: u32) -> u32 {
        let Some((_, decay)) = self.lfu else { return lru & 0xff };
        let last = lru >> 8;
        let counter = lru & 0xff;
        let elapsed = if self.minutes >= last { self.minutes - last } else { 65535 - last + self.minutes };
        let periods = elapsed.checked_div(decay).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    fn apply(&self, e: &mut Entry) {
        match self.lfu {
            None => e.set_lru(self.lru_clock),
            Some((factor, _)) => {
                let mut counter = self.decayed(e.lru());
                if counter < 255 {
                    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
                    let p = 1.0 / (base * factor as f64 + 1.0);
                    if rand::random::<f64>() < p {
                        counter += 1;
                    }
                }
                e.set_lru((self.minutes << 8) | counter);
            }
        }
    }
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        self.ks.add_dirty(self.slot, self.dirty);
    }
}
