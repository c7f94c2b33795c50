//! Point-in-time snapshots without fork: an RDB image of the whole keyspace as it was at
//! one instant, written to any `io::Write` while the server goes on serving writes. BGSAVE
//! uses it (and SAVE, the shutdown save and DEBUG RELOAD, which simply run it to the end
//! while nothing else runs); BGREWRITEAOF's RDB preamble and replication's transfer can
//! use it the same way.
//!
//! Copy-on-write per key, with shards as the unit of marking:
//!
//! 1. `begin` runs while every gate is held exclusively (no command runs anywhere): it
//!    takes a new epoch (`Keyspace::snap_epoch`: keys made from now on carry it in
//!    `Entry::snap`, so this snapshot leaves them out), marks every non-empty shard
//!    *pending* (a field of the shard, under its mutex) with this snapshot and epoch, notes
//!    each database's key counts (RESIZEDB) and the time (idle times and LFU counters are
//!    measured at it), and writes the header. It costs one lock per shard: 256 per database.
//! 2. `run` (the saver thread's loop) walks the marked shards, one segment (1/16 of a
//!    shard) per hold of its lock, writing each entry not stamped with the epoch.
//! 3. A command that names its keys saves each of them that is still unsaved before it
//!    runs, and stamps it (`keyspace::save_keys`, through `ShardSaver::save_entry`).
//! 4. Whoever locks a pending shard without naming keys (`keyspace::ShardCell`) walks its
//!    remaining segments first. The file therefore holds each key as it was at `begin`.
//!
//! Chunks and single keys go straight to the writer under its mutex (after a SELECTDB when
//! the last chunk was of another database), so the memory a snapshot holds is one
//! segment's encoding at a time, whatever the write load. docs/ARCHITECTURE.md
//! ("Snapshots") has the measurements.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::rdbfile::{self, RdbWriter, SaveOpts};
use crate::data::dict::{Entry, SNAP_MASK};
use crate::keyspace::{self, Keyspace, Pending, Shard, ShardSaver};

pub type Sink = Box<dyn Write + Send>;

/// Lower the calling thread's scheduling priority (nice 10): a background save's thread
/// gives the CPU to the workers whenever they have requests, so clients do not wait behind
/// it for a time slice (measured: the longest stall during BGSAVE on two cores). Linux
/// applies nice per thread. SCHED_BATCH as well (`batch_scheduling`).
pub fn background_priority() {
    batch_scheduling();
    // SAFETY: gettid and setpriority take no pointers; a failure only leaves the priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Put the calling thread in SCHED_BATCH: when it wakes it does not preempt the thread
/// running on its core, so a worker finishes its turn first; its share of the CPU is kept.
pub fn batch_scheduling() {
    // SAFETY: sched_setscheduler reads `param`, alive for the call; 0 is the calling
    // thread. A failure only leaves the class as it was.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

thread_local! {
    /// This thread is a snapshot's saver (`Snapshot::run`), not a client's command.
    static SAVER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

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
    /// This snapshot's epoch: entries stamped with it are left out of the walk
    /// (`Entry::snap`).
    epoch: u32,
}

/// The next snapshot epoch, in 1..=SNAP_MASK (stamps are 24 bits of an entry). When they run
/// out, every entry's stamp is cleared to 0 first, so no stamp left from an earlier round
/// can equal a new epoch (once in 16.7M snapshots; the caller holds every gate).
fn next_epoch(ks: &Keyspace) -> u32 {
    let mut epoch = ks.snap_epoch.load(Ordering::Relaxed) + 1;
    if epoch > SNAP_MASK {
        for db in &ks.dbs {
            for cell in &db.shards {
                cell.lock_raw().dict.for_each_mut(|e| e.set_snap(0));
            }
        }
        epoch = 1;
    }
    ks.snap_epoch.store(epoch, Ordering::Relaxed);
    epoch
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
        // Every key there is now has an older stamp; those made from now on get this one.
        let epoch = next_epoch(ks);
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
            epoch,
        });
        for &(db, s) in &snap.marked {
            let saver: Arc<dyn ShardSaver> = snap.clone();
            ks.dbs[db].shards[s].lock_raw().pending = Some(Pending { db, saver, saved: 0, epoch: snap.epoch });
        }
        snap
    }

    /// Walk the marked shards, saving those nobody saved yet, then end the file (EOF and
    /// checksum) and hand the writer back. Every mark is cleared, error or not.
    pub fn run(&self, ks: &Keyspace) -> io::Result<Sink> {
        SAVER.with(|c| c.set(true));
        let res = self.walk(ks);
        SAVER.with(|c| c.set(false));
        res
    }

    fn walk(&self, ks: &Keyspace) -> io::Result<Sink> {
        for &(db, s) in &self.marked {
            let before = self.keys_done.load(Ordering::Relaxed);
            // One segment per hold of the shard's lock: a command waiting for the shard
            // waits for 1/16 of it at most.
            for seg in 0..keyspace::SEGMENTS {
                let mut g = ks.dbs[db].shards[s].lock_raw();
                if g.pending.is_none() {
                    break;
                }
                keyspace::save_segment(&mut g, seg);
            }
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

impl Snapshot {
    /// Write `chunk` (`n` keys of database `db`) after the SELECTDB (and the database's
    /// first RESIZEDB) it needs.
    fn write_chunk(&self, db: usize, chunk: &[u8], n: u64) {
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
            if let Err(e) = w.write(&head).and_then(|_| w.write(chunk)) {
                out.error = Some(e);
            }
        }
        self.keys_done.fetch_add(n, Ordering::Relaxed);
    }
}

thread_local! {
    /// A command's per-key saves encode here (no allocation per key).
    static ENTRY_BUF: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl ShardSaver for Snapshot {
    fn save_entries(&self, db: usize, shard: &Shard, mask: u16) {
        if self.aborted.load(Ordering::Relaxed) {
            return;
        }
        let mut chunk = Vec::new();
        let mut scratch = Vec::new();
        let mut n = 0u64;
        // A client's command that walks a shard (it locked the shard without naming keys)
        // pays for its encoding before it runs: it skips LZF (most of the cost for values
        // past 20 bytes), a file stays valid either way; the saver compresses per
        // rdbcompression.
        let opts = SaveOpts { compress: self.opts.compress && SAVER.with(|c| c.get()), ..self.opts };
        let epoch = self.epoch;
        let mut put = |e: &Entry| {
            if e.snap() != epoch {
                rdbfile::put_entry(&mut chunk, e, &opts, &mut scratch);
                n += 1;
            }
        };
        if mask == u16::MAX {
            shard.dict.for_each(&mut put);
        } else {
            for seg in (0..keyspace::SEGMENTS as usize).filter(|s| mask & (1 << s) != 0) {
                shard.dict.for_each_in_class(keyspace::SEGMENTS as usize, seg, &mut put);
            }
        }
        if n > 0 {
            self.write_chunk(db, &chunk, n);
        }
    }

    fn save_entry(&self, db: usize, e: &Entry) {
        if self.aborted.load(Ordering::Relaxed) {
            return;
        }
        ENTRY_BUF.with(|b| {
            let (chunk, scratch) = &mut *b.borrow_mut();
            chunk.clear();
            rdbfile::put_entry(chunk, e, &self.opts, scratch);
            self.write_chunk(db, chunk, 1);
            if chunk.capacity() > 1 << 16 {
                *chunk = Vec::new();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dict::key_hash;
    use crate::data::value::Value;
    use crate::keyspace::SetExpire;

    fn stamp(ks: &Keyspace, key: &[u8]) -> u32 {
        let h = key_hash(key);
        ks.dbs[0].shards[ks.shard_of(h)].lock_raw().dict.get(h, key).map(|e| e.snap()).unwrap()
    }

    /// Stamps are 24 bits: past the last epoch every stamp is cleared and epochs start again
    /// at 1, so a key stamped in the last round is saved by the next snapshots.
    #[test]
    fn stamps_are_cleared_when_epochs_run_out() {
        let ks = Keyspace::new(16, 2, 1);
        ks.snap_epoch.store(SNAP_MASK - 1, Ordering::Relaxed);
        ks.access_exclusive(0, 0).set_in(0, b"old", Value::from_string(b"1"), SetExpire::Clear);
        assert_eq!(next_epoch(&ks), SNAP_MASK);
        ks.access_exclusive(0, 0).set_in(0, b"new", Value::from_string(b"2"), SetExpire::Clear);
        assert_eq!((stamp(&ks, b"old"), stamp(&ks, b"new")), (SNAP_MASK - 1, SNAP_MASK));
        assert_eq!(next_epoch(&ks), 1);
        assert_eq!((stamp(&ks, b"old"), stamp(&ks, b"new")), (0, 0));
        assert_eq!(next_epoch(&ks), 2);
    }
}
