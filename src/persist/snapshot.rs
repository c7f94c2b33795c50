//! Point-in-time snapshots without fork: an RDB image of the whole keyspace as it was at
//! one instant, written to any `io::Write` while the server goes on serving writes. BGSAVE
//! uses it (and SAVE, the shutdown save and DEBUG RELOAD, which simply run it to the end
//! while nothing else runs); BGREWRITEAOF's RDB preamble and replication's transfer can
//! use it the same way.
//!
//! Copy-on-write per shard, at first touch:
//!
//! 1. `begin` runs while every gate is held exclusively (no command runs anywhere): it
//!    marks every non-empty shard *pending* (a field of the shard, under its mutex) with
//!    this snapshot, notes each database's key counts (RESIZEDB) and the time (idle times
//!    and LFU counters are measured at it), and writes the header. It costs one lock per
//!    shard: 256 per database.
//! 2. `run` (the saver thread's loop) walks the marked shards in order, locking each: a
//!    shard still pending is serialized, its bytes written out, the mark cleared.
//! 3. Whoever else locks a pending shard first (a command, active expiry, FLUSHALL, a
//!    SCAN...) gets it through `keyspace::ShardCell`, which hands the shard to
//!    `save_shard` before returning the guard: the shard's keys go out as they were, then
//!    the caller changes them. The file therefore holds each shard as it was at `begin`.
//!
//! Chunks go straight to the writer under its mutex (after a SELECTDB when the last chunk
//! was of another database), so the memory a snapshot holds is one shard's encoding at a
//! time, per thread saving one, whatever the write load. The price is paid by the first
//! command to touch each shard while the snapshot runs: it serializes that shard (about
//! 1/256 of a database) before it runs. docs/ARCHITECTURE.md ("Snapshots") has the
//! measurements.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::rdbfile::{self, RdbWriter, SaveOpts};
use crate::keyspace::{Keyspace, Pending, Shard, ShardSaver};

pub type Sink = Box<dyn Write + Send>;

struct Output {
    w: Option<RdbWriter<Sink>>,
    /// The database the last chunk was of.
    last_db: Option<usize>,
    /// Databases whose RESIZEDB was written.
    resized: Vec<bool>,
    error: Option<io::Error>,
}

pub struct Snapshot {
    out: Mutex<Output>,
    opts: SaveOpts,
    /// (keys, keys with a TTL) per database at `begin`.
    sizes: Vec<(u64, u64)>,
    /// The shards to walk, (db, shard), in order.
    marked: Vec<(usize, usize)>,
    aborted: AtomicBool,
    /// Keys written so far (INFO current_save_keys_processed).
    pub keys_done: AtomicU64,
    pub keys_total: u64,
    /// Microseconds the saver waits per key it writes (rdb-key-save-delay; for tests).
    key_delay_us: u64,
}

impl Snapshot {
    /// Start a snapshot of `ks` into `w`, whose header (magic, aux, functions) is `header`.
    /// The caller holds every gate exclusively (`Keyspace::enter_exclusive`), or nothing
    /// else can run (start-up, shutdown).
    pub fn begin(
        ks: &Keyspace,
        header: &[u8],
        w: Sink,
        checksum: bool,
        opts: SaveOpts,
        key_delay_us: u64,
    ) -> Arc<Snapshot> {
        let mut sizes = vec![(0u64, 0u64); ks.dbs.len()];
        let mut marked = Vec::new();
        for (dbi, db) in ks.dbs.iter().enumerate() {
            for (si, cell) in db.shards.iter().enumerate() {
                // Not the saving lock: a shard a previous snapshot left pending (none can:
                // `run` clears every mark) would otherwise go to that one.
                let s = cell.lock_raw();
                if !s.dict.is_empty() {
                    sizes[dbi].0 += s.dict.len() as u64;
                    sizes[dbi].1 += s.expires as u64;
                    marked.push((dbi, si));
                }
            }
        }
        let mut writer = RdbWriter::new(w, checksum);
        let error = writer.write(header).err();
        let snap = Arc::new(Snapshot {
            out: Mutex::new(Output { w: Some(writer), last_db: None, resized: vec![false; ks.dbs.len()], error }),
            opts,
            keys_total: sizes.iter().map(|s| s.0).sum(),
            sizes,
            marked,
            aborted: AtomicBool::new(false),
            keys_done: AtomicU64::new(0),
            key_delay_us,
        });
        for &(db, s) in &snap.marked {
            let saver: Arc<dyn ShardSaver> = snap.clone();
            ks.dbs[db].shards[s].lock_raw().pending = Some(Pending { db, saver });
        }
        snap
    }

    /// Walk the marked shards, saving those nobody saved yet, then end the file (EOF and
    /// checksum) and hand the writer back. Every mark is cleared, error or not.
    pub fn run(&self, ks: &Keyspace) -> io::Result<Sink> {
        for &(db, s) in &self.marked {
            let before = self.keys_done.load(Ordering::Relaxed);
            // Locking saves the shard if it is still pending (`ShardCell::lock`).
            drop(ks.dbs[db].shards[s].lock());
            let wrote = self.keys_done.load(Ordering::Relaxed) - before;
            if self.key_delay_us > 0 && wrote > 0 && !self.aborted.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_micros(self.key_delay_us.saturating_mul(wrote)));
            }
        }
        let mut out = self.out.lock();
        if self.aborted.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "snapshot aborted"));
        }
        if let Some(e) = out.error.take() {
            return Err(e);
        }
        match out.w.take() {
            Some(w) => w.finish(),
            None => Err(io::Error::other("snapshot already finished")),
        }
    }

    /// Stop writing (FLUSHALL during a BGSAVE, as Redis kills its child): the marks are
    /// still cleared by `run`, cheaply, and it fails.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }
}

impl ShardSaver for Snapshot {
    fn save_shard(&self, db: usize, shard: &Shard) {
        if self.aborted.load(Ordering::Relaxed) {
            return;
        }
        let mut chunk = Vec::with_capacity(64 * shard.dict.len().min(1 << 16));
        let mut scratch = Vec::new();
        shard.dict.for_each(|e| rdbfile::put_entry(&mut chunk, e, &self.opts, &mut scratch));
        let n = shard.dict.len() as u64;
        let mut out = self.out.lock();
        let out = &mut *out;
        if out.error.is_some() {
            return;
        }
        let mut head = Vec::new();
        if out.last_db != Some(db) {
            rdbfile::put_select(&mut head, db);
            out.last_db = Some(db);
        }
        if !out.resized[db] {
            out.resized[db] = true;
            rdbfile::put_resize(&mut head, self.sizes[db].0, self.sizes[db].1);
        }
        if let Some(w) = out.w.as_mut() {
            if let Err(e) = w.write(&head).and_then(|_| w.write(&chunk)) {
                out.error = Some(e);
            }
        }
        self.keys_done.fetch_add(n, Ordering::Relaxed);
    }
}
