//! The append-only file, in Redis 7's multi-part layout (aof.c), interchangeable with Redis
//! 7.2: in `dir`/`appenddirname` a manifest (`appendonly.aof.manifest`) names one base file
//! (an RDB preamble, `appendonly.aof.N.base.rdb`, or AOF commands, `.base.aof`), the incr
//! files written since that base (`appendonly.aof.N.incr.aof`, RESP commands), and history
//! files a rewrite has replaced and not yet deleted:
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Writing. `AofSink` is the propagation seam's sink (`persist::propagate`): `unit` turns an
//! execution unit into RESP commands (SELECT when the database changes, MULTI/EXEC around a
//! wrapped unit, a `#TS:unix` annotation when `aof-timestamp-enabled` and the second has
//! changed, as feedAppendOnlyFile writes them) appended to an in-memory buffer under a
//! short lock. A round of writing (`AofSink::round`) takes the whole buffer (swapping it
//! with a spare, no copy), writes it and fsyncs per policy, holding the output side
//! (`Output`) so rounds reach the file in the order they took the buffer:
//!
//! - `appendfsync always`: `unit` returns the unit's ticket and the connection holds its
//!   replies until its ticket is durable (`Aof::wait_durable`, async). The worker writes
//!   the round itself when it runs out of ready work (`Aof::before_sleep`, from the
//!   runtime's park hook and each turn of its polling window: Redis's beforeSleep), so
//!   what all its clients sent in that turn shares one write and one fsync (group
//!   commit); it fsyncs a small round there too, and leaves a big one's fsync to the
//!   writer thread while it goes on serving (`AofSink::flush_awaited`). The tasks waiting are woken on their own worker (`Waits`:
//!   one relay wake per worker per round). Units appended by other threads (the scripts
//!   thread, the cron's expiry) wake the writer thread, which runs the round for them.
//!   A failed write or fsync under `always` exits, as Redis does ("Can't recover from AOF
//!   write error..."): nothing unsynced was acknowledged, and nothing else can be promised.
//! - `everysec`: a thread of its own ("aof-writer") runs the rounds: it wakes when a burst
//!   starts (the first unit into an empty buffer), then takes what accumulated every
//!   millisecond while writes keep coming (one wake and one write per millisecond, not per
//!   unit), fsynced once a second; an fsync holds the writes back meanwhile (Redis's
//!   postponed flush), in memory, not the clients. An acknowledged write is in the kernel
//!   within about a millisecond (Redis writes it before replying).
//! - `no`: written by the thread as for everysec, never fsynced by us.
//!
//! A failed write (full disk) under everysec/no keeps the data, removes a short write with
//! ftruncate, logs as Redis does (at most every 30 s), sets `aof_last_write_status:err`
//! and makes writes fail with MISCONF (`misconf`) until a retry (once a second) succeeds.
//!
//! Loading (`load`): the manifest, then the base (an RDB preamble or commands) and the incr
//! files in order, each command run through dispatch by a client of its own (Redis's fake
//! client: its replies dropped, MULTI/EXEC and SELECT honoured). A torn tail of the last
//! file is cut when `aof-load-truncated` (Redis's log lines), else start-up fails.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::propagate::{Op, Sink};
use crate::keyspace::now_ms;
use crate::server::config::strerror;
use crate::server::log::{log, log_at, WARNING};
use crate::server::Server;

// ------------------------------------------------------------------------------ encoding

/// `*<n>\r\n` / `$<n>\r\n`.
fn put_header(buf: &mut Vec<u8>, kind: u8, n: usize) {
    buf.push(kind);
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// A command as catAppendOnlyGenericCommand writes it: a RESP array of bulk strings.
pub fn put_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, argv: &[A]) {
    put_header(buf, b'*', argv.len());
    for a in argv {
        let a = a.as_ref();
        put_header(buf, b'$', a.len());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

fn put_select(buf: &mut Vec<u8>, db: usize) {
    put_command(buf, &[b"SELECT" as &[u8], itoa::Buffer::new().format(db).as_bytes()]);
}

/// The `#TS:<unix seconds>\r\n` annotation (genAofTimestampAnnotationIfNeeded).
fn put_timestamp(buf: &mut Vec<u8>, unix: i64) {
    buf.extend_from_slice(b"#TS:");
    buf.extend_from_slice(itoa::Buffer::new().format(unix).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

// -------------------------------------------------------------------------- the policy

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    Everysec = 1,
    No = 2,
}

impl Fsync {
    pub fn from_config(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

// ------------------------------------------------------------------------ the manifest

/// What a manifest line says a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub ty: FileType,
}

/// The manifest (aofManifest): the base, the history files, the incr files in order, and
/// the sequence numbers the next base and incr file take after.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incrs: Vec<AofFile>,
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Longest manifest line Redis reads (AOF_MANIFEST_MAX_LINE... its buffer of 1024).
const MANIFEST_MAX_LINE: usize = 1024;

/// sdsneedsrepr: a name with a space, a quote, a backslash or an unprintable byte is
/// written quoted.
fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8 | b' ' | 11 | 12) || !(0x20..0x7f).contains(&c)
    })
}

impl Manifest {
    /// getAofManifestAsString: base, history, incr files, one line each.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incrs) {
            out.extend_from_slice(b"file ");
            if needs_repr(f.name.as_bytes()) {
                crate::server::pubsub::repr(&mut out, f.name.as_bytes());
            } else {
                out.extend_from_slice(f.name.as_bytes());
            }
            out.extend_from_slice(format!(" seq {} type {}\n", f.seq, f.ty.letter()).as_bytes());
        }
        out
    }

    /// aofLoadManifestFromFile's parse: Err is Redis's reason (logged, start-up stops).
    pub fn parse(text: &[u8]) -> Result<Manifest, &'static str> {
        let mut m = Manifest::default();
        let mut lines = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) if i < MANIFEST_MAX_LINE => (&rest[..i], &rest[i + 1..]),
                _ if rest.len() < MANIFEST_MAX_LINE => (rest, &rest[rest.len()..]),
                _ => return Err("The AOF manifest file contains too long line"),
            };
            rest = next;
            lines += 1;
            if line.first() == Some(&b'#') {
                continue;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(argv) = crate::resp::parse::split_args(line) else {
                return Err("Invalid AOF manifest file format");
            };
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format");
            }
            let (mut name, mut seq, mut ty) = (None, None, None);
            for kv in argv.chunks(2) {
                match &kv[0][..] {
                    b"file" => name = Some(String::from_utf8_lossy(&kv[1]).into_owned()),
                    b"seq" => seq = std::str::from_utf8(&kv[1]).ok().and_then(|s| s.parse::<u64>().ok()),
                    b"type" => ty = kv[1].first().copied(),
                    // Unknown keys: Redis ignores them (forward compatibility).
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(ty)) = (name, seq, ty) else {
                return Err("Invalid AOF manifest file format");
            };
            match ty {
                b'b' => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information");
                    }
                    m.base_seq = seq;
                    m.base = Some(AofFile { name, seq, ty: FileType::Base });
                }
                b'h' => m.history.push(AofFile { name, seq, ty: FileType::History }),
                b'i' => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number");
                    }
                    m.incr_seq = seq;
                    m.incrs.push(AofFile { name, seq, ty: FileType::Incr });
                }
                _ => return Err("Unknown AOF file type"),
            }
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest");
        }
        Ok(m)
    }

    /// A new base file name (the next seq), the current base becoming history.
    pub fn next_base(&mut self, filename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.ty = FileType::History;
            self.history.push(old);
        }
        self.base_seq += 1;
        let name = format!("{filename}.{}.base.{}", self.base_seq, if rdb { "rdb" } else { "aof" });
        self.base = Some(AofFile { name: name.clone(), seq: self.base_seq, ty: FileType::Base });
        name
    }

    /// After a rewrite: every incr file before `keep` (the one opened when the rewrite
    /// started) becomes history.
    pub fn retire_incrs_before(&mut self, keep: u64) {
        let (old, new): (Vec<_>, Vec<_>) = std::mem::take(&mut self.incrs).into_iter().partition(|f| f.seq < keep);
        self.history.extend(old.into_iter().map(|f| AofFile { ty: FileType::History, ..f }));
        self.incrs = new;
    }

    /// A new incr file name (the next seq), appended to the incr files.
    pub fn next_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile { name: name.clone(), seq: self.incr_seq, ty: FileType::Incr });
        name
    }
}

/// The files' names and places, from the configuration (`dir` is the working directory).
#[derive(Clone, Debug)]
pub struct Layout {
    pub dir: PathBuf,
    pub filename: String,
}

impl Layout {
    pub fn from_config(cfg: &crate::server::config::Config) -> Layout {
        Layout { dir: PathBuf::from(cfg.str("appenddirname")), filename: cfg.str("appendfilename").to_string() }
    }

    pub fn manifest_name(&self) -> String {
        format!("{}.manifest", self.filename)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The manifest on disk, if there is one.
    pub fn read_manifest(&self) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(&self.manifest_name())) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// persistAofManifest: written to a temp file, fsynced, renamed over the manifest, the
    /// directory fsynced: a crash leaves the old manifest or the new one.
    pub fn write_manifest(&self, m: &Manifest) -> io::Result<()> {
        let tmp = self.path(&format!("temp-{}", self.manifest_name()));
        let mut f = File::create(&tmp)?;
        f.write_all(&m.render())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, self.path(&self.manifest_name()))?;
        fsync_dir(&self.dir)
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?.sync_all()
}

// ---------------------------------------------------------------------------- the sink

/// What the AOF reports (INFO persistence) and what waiters wait on, shared by the sink in
/// force and the server.
#[derive(Default)]
pub struct Status {
    /// Units durable under appendfsync always (tickets are unit counts).
    durable: AtomicU64,
    /// The highest ticket a client may be waiting on (appendfsync always): a worker about
    /// to sleep writes and fsyncs while it is above `durable`.
    awaited: AtomicU64,
    /// Units written to the file (fsynced or not).
    written: AtomicU64,
    /// Where the tasks waiting on `durable` are woken (`Waits`).
    waits: Waits,
    /// aof_last_write_status (false = err) and the errno behind it.
    write_failed: AtomicBool,
    write_errno: AtomicI32,
    /// aof_bio_fsync_status: the last everysec fsync failed.
    fsync_failed: AtomicBool,
    /// aof_current_size: the base and incr files as written.
    pub current_size: AtomicU64,
    /// aof_base_size: the size when the AOF was last loaded or rewritten.
    pub base_size: AtomicU64,
    pub delayed_fsync: AtomicU64,
    pub fsync_in_progress: AtomicBool,
    /// When the last write error was logged (rate limit, AOF_WRITE_LOG_ERROR_RATE).
    last_error_log: AtomicI64,
}

/// The tasks waiting for units to be durable, by the worker they run on (and one slot for
/// any other thread). The writer wakes a worker's slot once per round through its relay
/// task (`Aof::relay_durable`), which wakes the waiting tasks locally: waking each task
/// from the writer's thread would cost a system call per task (the worker's eventfd).
#[derive(Default)]
struct Waits {
    slots: std::sync::OnceLock<Box<[WaitSlot]>>,
}

#[derive(Default)]
struct WaitSlot {
    /// The highest ticket a task of this slot waits on.
    want: AtomicU64,
    local: tokio::sync::Notify,
    relay: tokio::sync::Notify,
}

impl Waits {
    /// Size the slots for `workers` workers (at start-up, before any wait).
    fn init(&self, workers: usize) {
        let _ = self.slots.set((0..=workers).map(|_| WaitSlot::default()).collect());
    }

    fn slots(&self) -> &[WaitSlot] {
        self.slots.get_or_init(|| vec![WaitSlot::default()].into_boxed_slice())
    }

    /// The slot of worker `w` (None or an unknown worker: the shared last slot).
    fn slot(&self, w: Option<usize>) -> &WaitSlot {
        let slots = self.slots();
        let last = slots.len() - 1;
        &slots[w.map_or(last, |w| w.min(last))]
    }
}

impl Status {
    /// Set the number of workers (their wait slots).
    pub fn init_workers(&self, workers: usize) {
        self.waits.init(workers);
    }

    /// Units up to `upto` are durable: wake whoever waits on them.
    fn publish_durable(&self, upto: u64) {
        let before = self.durable.fetch_max(upto, Ordering::SeqCst);
        if upto <= before {
            return;
        }
        let slots = self.waits.slots();
        let (workers, shared) = slots.split_at(slots.len() - 1);
        for slot in workers {
            if slot.want.load(Ordering::SeqCst) > before {
                slot.relay.notify_one();
            }
        }
        shared[0].local.notify_waiters();
    }

    /// A write or an fsync failed last (writeCommandsDeniedByDiskError's AOF part).
    pub fn failing(&self) -> bool {
        self.write_failed.load(Ordering::Relaxed) || self.fsync_failed.load(Ordering::Relaxed)
    }
}

/// Under appendfsync always, a worker's round of more units than this leaves its fsync to
/// the writer thread and goes on serving (`AofSink::flush_awaited`).
const OVERLAP_UNITS: u64 = 64;

/// How often a write error is logged at most (AOF_WRITE_LOG_ERROR_RATE, seconds).
const WRITE_ERROR_LOG_RATE: i64 = 30;

struct Inner {
    buf: Vec<u8>,
    /// The database the last SELECT written was for (aof_selected_db).
    selected_db: Option<usize>,
    /// The second of the last #TS annotation.
    last_ts: i64,
    /// Units appended: the ticket of the last one.
    appended: u64,
    /// A new incr file to go on in once the first `.0` bytes of `buf` are written (a
    /// rewrite started there).
    rotate: Option<(usize, File)>,
    /// The writer waits with nothing to do: an append wakes it.
    idle: bool,
    /// A worker wrote a round and leaves its fsync to the writer (`flush_awaited`).
    sync_wanted: bool,
    stop: bool,
}

/// The writing side: the incr file and what was taken from the buffer. One round of
/// writing holds it, by the writer thread or by a worker (`AofSink::round`), so rounds
/// write in the order they took the buffer.
struct Output {
    file: File,
    size: u64,
    /// The buffer taken from the workers (swapped with `Inner::buf`, no copy).
    taken: Vec<u8>,
    /// Bytes taken but not written yet (a failed write keeps them for the retry).
    unwritten: Vec<u8>,
    last_fsync: Instant,
    /// Written since the last fsync.
    dirty: bool,
    /// The ticket of the last unit taken.
    upto: u64,
}

/// The AOF sink: the buffer the workers append to, written by the workers before they
/// sleep (appendfsync always, as Redis's beforeSleep) or by the writer thread.
pub struct AofSink {
    inner: Mutex<Inner>,
    out: Mutex<Output>,
    wake: Condvar,
    /// Rung after a round (a rotation or a stop waits for it).
    done: Condvar,
    policy: AtomicU8,
    timestamps: AtomicBool,
    status: Arc<Status>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The server's log settings are read through it (logging from the writer thread).
    srv: std::sync::Weak<Server>,
}

impl Sink for AofSink {
    fn unit(&self, ops: &[Op], wrap: bool) -> u64 {
        let always = self.policy() == Fsync::Always;
        let mut g = self.inner.lock();
        let was_empty = g.buf.is_empty();
        if self.timestamps.load(Ordering::Relaxed) {
            let now = now_ms() / 1000;
            if now > g.last_ts {
                g.last_ts = now;
                put_timestamp(&mut g.buf, now);
            }
        }
        if wrap {
            put_command(&mut g.buf, &[b"MULTI"]);
        }
        for op in ops {
            if g.selected_db != Some(op.db) {
                put_select(&mut g.buf, op.db);
                g.selected_db = Some(op.db);
            }
            put_command(&mut g.buf, &op.argv);
        }
        if wrap {
            put_command(&mut g.buf, &[b"EXEC"]);
        }
        g.appended += 1;
        let ticket = g.appended;
        if always {
            // The worker that appended writes and fsyncs it before it sleeps
            // (`Aof::before_sleep`); a unit from another thread wakes the writer.
            self.status.awaited.fetch_max(ticket, Ordering::Release);
            if g.idle && !crate::server::pubsub::WorkerWakes::on_worker() {
                g.idle = false;
                drop(g);
                self.wake.notify_one();
            }
            return ticket;
        }
        if g.idle && was_empty {
            g.idle = false;
            drop(g);
            self.wake.notify_one();
        }
        0
    }
}

impl AofSink {
    /// A sink appending to `file` (an incr file open for append), its writer started.
    pub fn start(srv: &Server, file: File, status: Arc<Status>) -> io::Result<Arc<AofSink>> {
        let cfg = srv.config.read();
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let sink = Arc::new(AofSink {
            inner: Mutex::new(Inner {
                buf: Vec::new(),
                selected_db: None,
                last_ts: 0,
                appended: status.durable.load(Ordering::Acquire),
                rotate: None,
                idle: false,
                sync_wanted: false,
                stop: false,
            }),
            out: Mutex::new(Output {
                file,
                size,
                taken: Vec::new(),
                unwritten: Vec::new(),
                last_fsync: Instant::now(),
                dirty: false,
                upto: status.durable.load(Ordering::Acquire),
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
            policy: AtomicU8::new(Fsync::from_config(cfg.str("appendfsync")) as u8),
            timestamps: AtomicBool::new(cfg.bool("aof-timestamp-enabled")),
            status,
            writer: Mutex::new(None),
            srv: srv.aof.me.get().cloned().unwrap_or_default(),
        });
        drop(cfg);
        let s = sink.clone();
        let handle = std::thread::Builder::new().name("aof-writer".into()).spawn(move || s.writer_loop())?;
        *sink.writer.lock() = Some(handle);
        Ok(sink)
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// CONFIG SET appendfsync / aof-timestamp-enabled.
    pub fn configure(&self, policy: Fsync, timestamps: bool) {
        self.policy.store(policy as u8, Ordering::Relaxed);
        self.timestamps.store(timestamps, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Bytes waiting to be written (aof_buffer_length).
    pub fn buffered(&self) -> usize {
        self.inner.lock().buf.len()
    }

    /// Go on in `file` from now on: what was appended before goes to the current file
    /// (written and fsynced), what comes after to `file`, whose first unit SELECTs again.
    /// Called with the keyspace held, so the switch is one point in the history.
    pub fn rotate(&self, file: File) {
        let mut g = self.inner.lock();
        while g.rotate.is_some() {
            self.done.wait(&mut g);
        }
        let at = g.buf.len();
        g.rotate = Some((at, file));
        g.selected_db = None;
        g.idle = false;
        drop(g);
        self.wake.notify_one();
    }

    /// Wait until the writer has gone on in the file `rotate` gave it.
    pub fn wait_rotated(&self) {
        let mut g = self.inner.lock();
        while g.rotate.is_some() && !g.stop {
            self.done.wait_for(&mut g, Duration::from_millis(10));
        }
    }

    /// Stop: everything appended is written and fsynced (stopAppendOnly's flush and fsync),
    /// then the writer ends. Waiters on tickets are released.
    pub fn stop(&self) {
        {
            let mut g = self.inner.lock();
            g.stop = true;
        }
        self.wake.notify_one();
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
    }

    /// Tell admission whether writes must get the AOF's MISCONF (`Status::failing`).
    fn flag_error(&self) {
        if let Some(srv) = self.srv.upgrade() {
            srv.rdb.set_aof_error(self.status.failing());
        }
    }

    fn log(&self, level: usize, msg: &str) {
        if let Some(srv) = self.srv.upgrade() {
            log_at(&srv, level, msg);
        }
    }

    /// appendfsync always, from a worker about to sleep (Redis's beforeSleep flush): write
    /// what was appended and have it fsynced, so the replies held for it can go. A small
    /// round (up to `OVERLAP_UNITS` units: pipeline 1) is fsynced here, the worker waiting
    /// as Redis's event loop does: requests that arrive meanwhile make the next round
    /// together (group commit), one fsync for all of them. A bigger round's fsync goes to
    /// the writer thread and the worker goes on serving, so the next round is made while
    /// the disk works (the worker waits only if it has the next round written before that
    /// fsync ends: the writer holds the output during it).
    fn flush_awaited(&self) {
        let mut o = self.out.lock();
        if self.status.durable.load(Ordering::Acquire) >= self.status.awaited.load(Ordering::Acquire) {
            return;
        }
        let policy = self.policy();
        if policy != Fsync::Always {
            return;
        }
        let before = o.upto;
        let (upto, _, _) = self.write_round(&mut o, policy);
        if upto - before > OVERLAP_UNITS {
            drop(o);
            let mut g = self.inner.lock();
            g.sync_wanted = true;
            if g.idle {
                g.idle = false;
                drop(g);
                self.wake.notify_one();
            }
        } else {
            self.sync_round(&mut o, policy, upto, false);
        }
    }

    /// One round of writing: take what the workers appended (and a rotation), write it,
    /// fsync per policy, publish what is durable. Returns (written all, stop asked).
    fn round(&self, o: &mut Output, policy: Fsync) -> (bool, bool) {
        let (upto, ok, stop) = self.write_round(o, policy);
        if ok {
            self.sync_round(o, policy, upto, stop);
        }
        self.done.notify_all();
        (ok, stop)
    }

    /// A round's first half: take the buffer (and a rotation) and write it. Returns (the
    /// last unit taken, written all, stop asked).
    fn write_round(&self, o: &mut Output, policy: Fsync) -> (u64, bool, bool) {
        let (upto, rotate, stop) = {
            let mut g = self.inner.lock();
            std::mem::swap(&mut g.buf, &mut o.taken);
            (g.appended, g.rotate.take(), g.stop)
        };
        o.upto = upto;
        let mut ok = true;
        if let Some((at, next)) = rotate {
            // The part before the rotation goes to the old file, fsynced, then the rest
            // to the new one.
            let (before, after) = o.taken.split_at(at.min(o.taken.len()));
            o.unwritten.extend_from_slice(before);
            ok = self.write_out(&mut o.file, &mut o.unwritten, &mut o.size, policy);
            if ok && !o.unwritten.is_empty() {
                ok = false;
            }
            let _ = o.file.sync_data();
            o.file = next;
            o.size = o.file.metadata().map(|m| m.len()).unwrap_or(0);
            // aof_current_size counts the new incr file from here; the rewrite adds
            // its base once written.
            self.status.current_size.store(o.size, Ordering::Relaxed);
            o.unwritten.extend_from_slice(after);
            self.done.notify_all();
        } else {
            o.unwritten.extend_from_slice(&o.taken);
        }
        o.taken.clear();
        if ok && !o.unwritten.is_empty() {
            ok = self.write_out(&mut o.file, &mut o.unwritten, &mut o.size, policy);
            o.dirty |= ok;
        }
        if ok {
            self.status.written.fetch_max(upto, Ordering::AcqRel);
        }
        (upto, ok, stop)
    }

    /// A round's second half, once everything taken up to unit `upto` is written: fsync
    /// per policy and publish what is durable.
    fn sync_round(&self, o: &mut Output, policy: Fsync, upto: u64, stop: bool) {
        let fsync_now = match policy {
            Fsync::Always => o.dirty,
            Fsync::Everysec => o.dirty && (stop || o.last_fsync.elapsed() >= Duration::from_secs(1)),
            Fsync::No => false,
        };
        if fsync_now {
            self.fsync(&o.file, policy);
            o.last_fsync = Instant::now();
            o.dirty = false;
        } else if stop && o.dirty {
            let _ = o.file.sync_data();
            o.dirty = false;
        }
        if !o.dirty || policy != Fsync::Always {
            // Written (and fsynced when the policy says so): a flush or an always waiter
            // may go on.
            self.status.publish_durable(upto);
        }
    }

    /// The writer thread: wait for appends (or the everysec fsync due), then run a round.
    /// Under everysec and no it does all the writing; under always it writes what threads
    /// other than the workers appended, and the workers do the rest.
    fn writer_loop(self: Arc<Self>) {
        loop {
            let (dirty, pending, since_fsync) = {
                let o = self.out.lock();
                (o.dirty, !o.unwritten.is_empty(), o.last_fsync.elapsed())
            };
            {
                let mut g = self.inner.lock();
                let policy = self.policy();
                if g.buf.is_empty() && g.rotate.is_none() && !g.stop && !pending && !g.sync_wanted {
                    // Nothing to write: wait for an append, or for the everysec fsync due.
                    g.idle = true;
                    if dirty && policy == Fsync::Everysec {
                        self.wake.wait_for(&mut g, Duration::from_secs(1).saturating_sub(since_fsync));
                    } else {
                        self.wake.wait(&mut g);
                    }
                    g.idle = false;
                }
                g.sync_wanted = false;
                if policy != Fsync::Always && !g.buf.is_empty() && !g.stop && g.rotate.is_none() && !pending {
                    // Writes are coming (the one that woke us, or a stream of them): take
                    // what a millisecond gathers, so a burst costs one wake and one write,
                    // not one per unit.
                    drop(g);
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let mut o = self.out.lock();
            let (ok, stop) = self.round(&mut o, self.policy());
            if stop && (o.unwritten.is_empty() || !ok) {
                // Everything written; or the disk refuses the data and it is lost, as with
                // Redis stopping the AOF after a failed final flush.
                self.status.publish_durable(u64::MAX >> 1);
                return;
            }
            drop(o);
            if !ok {
                // Retried once a second, as Redis's serverCron retries a failed flush.
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// flushAppendOnlyFile's write: all of `data` or an error handled as Redis handles it.
    /// True when everything was written.
    fn write_out(&self, file: &mut File, data: &mut Vec<u8>, size: &mut u64, policy: Fsync) -> bool {
        let mut written = 0;
        let started = Instant::now();
        let err = loop {
            if written == data.len() {
                break None;
            }
            match file.write(&data[written..]) {
                Ok(0) => break Some(io::Error::from_raw_os_error(libc::ENOSPC)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        self.write_latency(started);
        let Some(e) = err else {
            *size += written as u64;
            self.status.current_size.fetch_add(written as u64, Ordering::Relaxed);
            data.clear();
            if self.status.write_failed.swap(false, Ordering::Relaxed) {
                self.log(crate::server::log::NOTICE, "AOF write error looks solved, Redis can write again.");
                self.flag_error();
            }
            return true;
        };
        let now = now_ms() / 1000;
        let can_log = now - self.status.last_error_log.load(Ordering::Relaxed) > WRITE_ERROR_LOG_RATE;
        if can_log {
            self.status.last_error_log.store(now, Ordering::Relaxed);
        }
        let errno = if written == 0 {
            if can_log {
                self.log(WARNING, &format!("Error writing to the AOF file: {}", strerror(&e)));
            }
            e.raw_os_error().unwrap_or(libc::EIO)
        } else {
            if can_log {
                self.log(
                    WARNING,
                    &format!(
                        "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                        data.len()
                    ),
                );
            }
            match file.set_len(*size) {
                Ok(()) => {
                    written = 0;
                }
                Err(te) if can_log => self.log(
                    WARNING,
                    &format!(
                        "Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}",
                        strerror(&te)
                    ),
                ),
                Err(_) => {}
            }
            libc::ENOSPC
        };
        self.status.write_errno.store(errno, Ordering::Relaxed);
        if policy == Fsync::Always {
            self.log(WARNING, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
            std::process::exit(1);
        }
        self.status.write_failed.store(true, Ordering::Relaxed);
        self.flag_error();
        if written > 0 {
            *size += written as u64;
            self.status.current_size.fetch_add(written as u64, Ordering::Relaxed);
            data.drain(..written);
        }
        false
    }

    /// The latency monitor's events of a write (Redis's flushAppendOnlyFile): by what it
    /// may have waited behind (an fsync under way; there are no child processes here for
    /// "aof-write-active-child"), and "aof-write" for all of them.
    fn write_latency(&self, started: Instant) {
        if crate::server::latency::threshold_ms() == 0 {
            return;
        }
        let ms = started.elapsed().as_millis() as u64;
        let event = if self.status.fsync_in_progress.load(Ordering::Relaxed) {
            "aof-write-pending-fsync"
        } else {
            "aof-write-alone"
        };
        crate::server::latency::add_sample_if_needed(event, ms);
        crate::server::latency::add_sample_if_needed("aof-write", ms);
    }

    fn fsync(&self, file: &File, policy: Fsync) {
        self.status.fsync_in_progress.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let res = file.sync_data();
        if policy == Fsync::Always {
            crate::server::latency::add_sample_since("aof-fsync-always", started);
        }
        self.status.fsync_in_progress.store(false, Ordering::Relaxed);
        if started.elapsed() >= Duration::from_secs(2) {
            self.status.delayed_fsync.fetch_add(1, Ordering::Relaxed);
        }
        match res {
            Ok(()) => {
                if self.status.fsync_failed.swap(false, Ordering::Relaxed) {
                    self.flag_error();
                }
            }
            Err(e) if policy == Fsync::Always => {
                self.log(
                    WARNING,
                    &format!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        strerror(&e)
                    ),
                );
                std::process::exit(1);
            }
            Err(e) => {
                self.log(WARNING, &format!("Fail to fsync the AOF file: {}", strerror(&e)));
                self.status.write_errno.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
                self.status.fsync_failed.store(true, Ordering::Relaxed);
                self.flag_error();
            }
        }
    }
}

// --------------------------------------------------------------------- server state

/// The AOF's part of the server (one field, `Server::aof`): the sink in force, what INFO
/// reports, the rewrite's state.
#[derive(Default)]
pub struct Aof {
    /// The server itself, for the writer thread's log lines (set at start-up).
    pub me: std::sync::OnceLock<std::sync::Weak<Server>>,
    sink: Mutex<Option<Arc<AofSink>>>,
    pub status: Arc<Status>,
    /// aof_state != AOF_OFF, read without a lock.
    enabled: AtomicBool,
    pub manifest: Mutex<Manifest>,
    pub rewrite: Mutex<crate::server::aof_cmds::RewriteState>,
    /// A rewrite's base snapshot is marked on the shards (from its hold until written): a
    /// snapshot of the RDB side must not begin meanwhile (one saver per shard mark).
    base_running: AtomicBool,
}

impl Aof {
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// BGREWRITEAOF (or the rewrite of CONFIG SET appendonly yes) runs.
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite.lock().in_progress.is_some()
    }

    /// Wait until no rewrite's base snapshot is marked on the shards (SAVE and the other
    /// synchronous saves, which hold every gate: the base needs none to finish).
    pub fn wait_base(&self) {
        while self.base_running.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub(crate) fn set_base_running(&self, on: bool) {
        self.base_running.store(on, Ordering::Release);
    }

    pub fn sink(&self) -> Option<Arc<AofSink>> {
        self.sink.lock().clone()
    }

    /// A worker is about to sleep, or ends a turn of its polling window (Redis's
    /// beforeSleep): under appendfsync always, units clients wait on are written and
    /// fsynced here, on the worker, with no other thread to wake and be woken by. Two
    /// atomic loads when nothing waits.
    #[inline]
    pub fn before_sleep(&self) {
        let s = &self.status;
        // Units awaited that are not written yet (written ones are being fsynced by the
        // writer thread, whose publication wakes their clients).
        if s.awaited.load(Ordering::Acquire) > s.written.load(Ordering::Acquire) {
            if let Some(sink) = self.sink() {
                sink.flush_awaited();
            }
        }
    }

    /// Wait (without blocking the worker) until the unit of `ticket` is durable.
    pub async fn wait_durable(&self, ticket: u64) {
        let s = &self.status;
        let slot = s.waits.slot(crate::server::pubsub::WorkerWakes::current());
        slot.want.fetch_max(ticket, Ordering::SeqCst);
        loop {
            let changed = slot.local.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if s.durable.load(Ordering::SeqCst) >= ticket {
                return;
            }
            changed.await;
        }
    }

    /// Worker `w`'s relay (a task on that worker, `net`): each time the writer publishes
    /// units this worker's clients wait on, it wakes their tasks from here, on their own
    /// thread (one cross-thread wake per worker per round, not one per waiting client).
    pub async fn relay_durable(&self, w: usize) {
        let slot = self.status.waits.slot(Some(w));
        loop {
            slot.relay.notified().await;
            slot.local.notify_waiters();
        }
    }

    /// writeCommandsDeniedByDiskError's AOF part: the MISCONF error a write gets while the
    /// AOF cannot be written.
    pub fn misconf(&self) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        let s = &self.status;
        if s.failing() {
            let e = io::Error::from_raw_os_error(s.write_errno.load(Ordering::Relaxed));
            return Some(format!("MISCONF Errors writing to the AOF file: {}", strerror(&e)));
        }
        None
    }

    /// Put `sink` in force: registered on the propagation seam.
    pub fn install(&self, srv: &Server, sink: Arc<AofSink>) {
        srv.sinks.add(sink.clone());
        *self.sink.lock() = Some(sink);
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Take the sink out of force (CONFIG SET appendonly no, shutdown): unregistered, its
    /// buffer written and fsynced.
    pub fn uninstall(&self, srv: &Server) {
        let sink = self.sink.lock().take();
        self.enabled.store(false, Ordering::Relaxed);
        if let Some(sink) = sink {
            let dyn_sink: Arc<dyn Sink> = sink.clone();
            srv.sinks.remove(&dyn_sink);
            sink.stop();
        }
        // With the AOF off its errors no longer refuse writes (aof_state == AOF_OFF).
        self.status.write_failed.store(false, Ordering::Relaxed);
        self.status.fsync_failed.store(false, Ordering::Relaxed);
        srv.rdb.set_aof_error(false);
    }

    /// CONFIG SET of appendfsync / aof-timestamp-enabled: the sink follows.
    pub fn configure(&self, cfg: &crate::server::config::Config) {
        if let Some(sink) = self.sink() {
            sink.configure(Fsync::from_config(cfg.str("appendfsync")), cfg.bool("aof-timestamp-enabled"));
        }
    }

    /// INFO persistence's aof_* fields after aof_last_cow_size... (the status ones).
    pub fn info_status(&self, out: &mut String) {
        let rw = self.rewrite.lock();
        let s = &self.status;
        let write_ok = !s.failing();
        let now = now_ms();
        out.push_str(&format!(
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\n",
            self.enabled() as u8,
            rw.in_progress.is_some() as u8,
            rw.scheduled as u8,
            rw.last_time_sec,
            rw.in_progress.map_or(-1, |start| (now - start) / 1000),
            if rw.last_ok { "ok" } else { "err" },
            rw.count,
            rw.consecutive_failures,
            if write_ok { "ok" } else { "err" },
        ));
    }

    /// The fields INFO shows with the AOF on (after module_fork_last_cow_size).
    pub fn info_sizes(&self, out: &mut String) {
        if !self.enabled() {
            return;
        }
        let s = &self.status;
        let buffered = self.sink().map_or(0, |k| k.buffered());
        out.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            s.current_size.load(Ordering::Relaxed),
            s.base_size.load(Ordering::Relaxed),
            self.rewrite.lock().scheduled as u8,
            buffered,
            s.fsync_in_progress.load(Ordering::Relaxed) as u8,
            s.delayed_fsync.load(Ordering::Relaxed),
        ));
    }
}

/// Open an incr file for appending (created if missing).
pub fn open_incr(layout: &Layout, name: &str) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(layout.path(name))
}

/// The size of a file in the AOF directory (0 if missing).
fn file_size(layout: &Layout, name: &str) -> u64 {
    std::fs::metadata(layout.path(name)).map_or(0, |m| m.len())
}

// ------------------------------------------------------------------------ the base file

/// Bytes written between two fsyncs with aof-rewrite-incremental-fsync
/// (REDIS_AUTOSYNC_BYTES).
const AUTOSYNC_BYTES: usize = 4 << 20;

/// A base file being written, fsynced every 4 MB on the way when `incremental`
/// (aof-rewrite-incremental-fsync), so the final fsync has little left to do.
struct SyncingFile {
    f: File,
    incremental: bool,
    since_sync: usize,
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.f.write(buf)?;
        self.since_sync += n;
        if self.incremental && self.since_sync >= AUTOSYNC_BYTES {
            self.f.sync_data()?;
            self.since_sync = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.f.flush()
    }
}

/// A base file being taken (rewriteAppendOnlyFile): `begin` runs while the caller holds
/// every gate (the base is the dataset at that point of the history); `finish` writes it
/// out while the server serves. With aof-use-rdb-preamble the base is an RDB file taken by
/// a snapshot without fork (server::save, persist::snapshot: copy-on-write per shard),
/// else the commands that rebuild the dataset, built under the hold.
pub enum BaseJob {
    Snapshot(Arc<super::snapshot::Snapshot>, File),
    Commands(Vec<u8>, SyncingFileHandle),
}

/// The file a commands base goes to.
pub struct SyncingFileHandle(SyncingFile);

impl BaseJob {
    /// Start the base into `tmp` in the AOF directory.
    pub fn begin(srv: &Server, layout: &Layout, tmp: &str, rdb: bool) -> io::Result<BaseJob> {
        let (incremental, timestamps) = {
            let cfg = srv.config.read();
            (cfg.bool("aof-rewrite-incremental-fsync"), cfg.bool("aof-timestamp-enabled"))
        };
        let f = File::create(layout.path(tmp))?;
        if rdb {
            let sync = f.try_clone()?;
            let w = io::BufWriter::with_capacity(64 << 10, SyncingFile { f, incremental, since_sync: 0 });
            Ok(BaseJob::Snapshot(crate::server::save::begin_snapshot(srv, Box::new(w), true), sync))
        } else {
            let file = SyncingFileHandle(SyncingFile { f, incremental, since_sync: 0 });
            Ok(BaseJob::Commands(commands_base(srv, timestamps), file))
        }
    }

    /// Write the rest and fsync: the base's size.
    pub fn finish(self, srv: &Server) -> io::Result<u64> {
        match self {
            BaseJob::Snapshot(snap, sync) => {
                let mut w = snap.run(&srv.ks)?;
                w.flush()?;
                drop(w);
                sync.sync_all()?;
                Ok(sync.metadata()?.len())
            }
            BaseJob::Commands(bytes, mut file) => {
                file.0.write_all(&bytes)?;
                file.0.f.sync_all()?;
                Ok(bytes.len() as u64)
            }
        }
    }
}

// ------------------------------------------------------------- the base as commands

/// Elements per command of a rewritten collection (AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// A command being built for a rewrite: its arguments as borrowed or owned bytes.
type Args<'a> = Vec<std::borrow::Cow<'a, [u8]>>;

fn id_bytes(id: crate::data::stream::StreamId) -> Vec<u8> {
    format!("{}-{}", id.ms, id.seq).into_bytes()
}

/// Emit `items` (each one or two arguments) as `name key items...` commands of at most
/// ITEMS_PER_CMD items each, as rewriteListObject & co batch them.
fn put_batched<'a>(out: &mut Vec<u8>, name: &'a [u8], key: &'a [u8], items: impl Iterator<Item = Args<'a>>) {
    let mut cmd: Args = Vec::new();
    let mut n = 0;
    for item in items {
        if n == 0 {
            cmd.clear();
            cmd.push(name.into());
            cmd.push(key.into());
        }
        cmd.extend(item);
        n += 1;
        if n == ITEMS_PER_CMD {
            put_command(out, &cmd);
            n = 0;
        }
    }
    if n > 0 {
        put_command(out, &cmd);
    }
}

/// One key as rewriteAppendOnlyFileRio writes it: the commands that rebuild its value,
/// then PEXPIREAT if it has a TTL.
pub fn put_entry_commands(out: &mut Vec<u8>, e: &crate::data::dict::Entry) {
    use crate::data::value::Value;
    use std::borrow::Cow;
    let key: &[u8] = e.key();
    match &e.value {
        Value::Int(n) => put_command(out, &[b"SET" as &[u8], key, itoa::Buffer::new().format(*n).as_bytes()]),
        Value::Str(bytes) => put_command(out, &[b"SET" as &[u8], key, bytes]),
        Value::List(l) => put_batched(out, b"RPUSH", key, l.iter().map(|x| vec![x.to_bytes()])),
        Value::Set(set) => {
            let mut members: Vec<Vec<u8>> = Vec::with_capacity(set.len());
            set.for_each(|m| members.push(m.bytes().into_owned()));
            put_batched(out, b"SADD", key, members.iter().map(|m| vec![Cow::Borrowed(&m[..])]));
        }
        Value::ZSet(z) => {
            let mut pairs: Vec<(Vec<u8>, &[u8])> = Vec::with_capacity(z.len());
            z.visit(0, false, |score, member| {
                pairs.push((crate::util::number::fmt_f64_g17(score).into_bytes(), member));
                true
            });
            put_batched(out, b"ZADD", key, pairs.iter().map(|(s, m)| vec![Cow::Borrowed(&s[..]), Cow::Borrowed(*m)]));
        }
        Value::Hash(h) => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(h.len());
            h.for_each(|f, v| pairs.push((f.bytes().into_owned(), v.bytes().into_owned())));
            put_batched(
                out,
                b"HMSET",
                key,
                pairs.iter().map(|(f, v)| vec![Cow::Borrowed(&f[..]), Cow::Borrowed(&v[..])]),
            );
        }
        Value::Stream(st) => put_stream_commands(out, key, st),
    }
    if e.expire_at_ms != crate::data::dict::NO_EXPIRE {
        put_command(out, &[b"PEXPIREAT" as &[u8], key, itoa::Buffer::new().format(e.expire_at_ms).as_bytes()]);
    }
}

/// rewriteStreamObject: the entries (XADD each, or the XADD MAXLEN 0 trick for an empty
/// stream), XSETID with the counters, then each group, its consumers and their pending
/// entries (XCLAIM ... JUSTID FORCE) or XGROUP CREATECONSUMER for a consumer with none.
fn put_stream_commands(out: &mut Vec<u8>, key: &[u8], st: &crate::data::stream::Stream) {
    use crate::data::stream::StreamId;
    let int = |n: i64| itoa::Buffer::new().format(n).as_bytes().to_vec();
    if !st.is_empty() {
        let (min, max) = (StreamId { ms: 0, seq: 0 }, StreamId { ms: u64::MAX, seq: u64::MAX });
        st.visit(min, max, false, |id, fields| {
            let idb = id_bytes(id);
            let mut cmd: Vec<&[u8]> = vec![b"XADD", key, &idb];
            cmd.extend_from_slice(fields);
            put_command(out, &cmd);
            true
        });
    } else {
        let last = id_bytes(st.last_id);
        put_command(out, &[b"XADD" as &[u8], key, b"MAXLEN", b"0", &last, b"x", b"y"]);
    }
    put_command(
        out,
        &[
            b"XSETID" as &[u8],
            key,
            &id_bytes(st.last_id),
            b"ENTRIESADDED",
            &int(st.entries_added as i64),
            b"MAXDELETEDID",
            &id_bytes(st.max_deleted_entry_id),
        ],
    );
    for (name, g) in &st.groups {
        let read = int(g.entries_read.map_or(-1, |n| n as i64));
        put_command(out, &[b"XGROUP" as &[u8], b"CREATE", key, name, &id_bytes(g.last_id), b"ENTRIESREAD", &read]);
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                put_command(out, &[b"XGROUP" as &[u8], b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &c.pel {
                let Some(p) = g.pel.get(id) else { continue };
                put_command(
                    out,
                    &[
                        b"XCLAIM" as &[u8],
                        key,
                        name,
                        cname,
                        b"0",
                        &id_bytes(*id),
                        b"TIME",
                        &int(p.delivery_time),
                        b"RETRYCOUNT",
                        &int(p.delivery_count as i64),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

/// The base as AOF commands (aof-use-rdb-preamble no), of the keyspace as it is: the
/// caller holds every gate (nothing changes while it runs). A #TS annotation first when
/// `timestamp`, the function libraries, then each database after its SELECT.
pub fn commands_base(srv: &Server, timestamp: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if timestamp {
        put_timestamp(&mut out, now_ms() / 1000);
    }
    for lib in srv.scripting.functions.lock().libraries.values() {
        put_command(&mut out, &[b"FUNCTION" as &[u8], b"LOAD", &lib.code]);
    }
    for (db, d) in srv.ks.dbs.iter().enumerate() {
        let mut selected = false;
        for cell in d.shards.iter() {
            let shard = cell.lock();
            shard.dict.for_each(|e| {
                if !selected {
                    put_select(&mut out, db);
                    selected = true;
                }
                put_entry_commands(&mut out, e);
            });
        }
    }
    out
}

// ------------------------------------------------------------------------- start-up

/// Start-up cannot go on: the reason is in the log already.
#[derive(Debug)]
pub struct Logged;

/// Start-up with `appendonly yes` (loadDataFromDisk's AOF branch, then
/// aofOpenIfNeededOnServerStart): load the AOF the manifest names, or create the files of
/// a fresh AOF; then the sink goes in force. Err: start-up fails (logged already).
/// aofOpenIfNeededOnServerStart): load the AOF the manifest names, or create the files of
/// a fresh AOF; then the sink goes in force. Err: start-up fails (logged already).
pub fn start_up(srv: &Arc<Server>) -> Result<(), Logged> {
    let _ = srv.aof.me.set(Arc::downgrade(srv));
    if !srv.config.read().bool("appendonly") {
        return Ok(());
    }
    let layout = Layout::from_config(&srv.config.read());
    if let Err(e) = std::fs::create_dir_all(&layout.dir) {
        log_at(
            srv,
            WARNING,
            &format!("Can't open or create append-only dir {}: {}", layout.dir.display(), strerror(&e)),
        );
        return Err(Logged);
    }
    let manifest = match layout.read_manifest() {
        Ok(Some(text)) => match Manifest::parse(&text) {
            Ok(m) => Some(m),
            Err(reason) => {
                log_at(srv, WARNING, reason);
                return Err(Logged);
            }
        },
        Ok(None) => upgrade_single_file(srv, &layout)?,
        Err(e) => {
            log_at(srv, WARNING, &format!("Fail to open AOF manifest file: {}", strerror(&e)));
            return Err(Logged);
        }
    };
    let (mut m, sizes) = match manifest {
        Some(m) => {
            let sizes = load(srv, &layout, &m)?;
            (m, Some(sizes))
        }
        None => (Manifest::default(), None),
    };
    open_files(srv, &layout, &mut m, true).map_err(|e| {
        log_at(srv, WARNING, &format!("Can't open the append-only file: {}", strerror(&e)));
        Logged
    })?;
    // After a load, Redis reports the files' sizes as they were read (a cut tail included)
    // and the base file's.
    if let Some((total, base)) = sizes {
        srv.aof.status.current_size.store(total, Ordering::Relaxed);
        srv.aof.status.base_size.store(base, Ordering::Relaxed);
    }
    Ok(())
}

/// aofUpgradePrepare: an AOF of Redis before 7 (one file, `appendfilename` in `dir`) moves
/// into the AOF directory as the base of a new manifest.
fn upgrade_single_file(srv: &Server, layout: &Layout) -> Result<Option<Manifest>, Logged> {
    if !Path::new(&layout.filename).is_file() {
        return Ok(None);
    }
    let mut m = Manifest { base_seq: 1, ..Manifest::default() };
    m.base = Some(AofFile { name: layout.filename.clone(), seq: 1, ty: FileType::Base });
    let moved = layout
        .write_manifest(&m)
        .and_then(|()| std::fs::rename(&layout.filename, layout.path(&layout.filename)))
        .and_then(|()| fsync_dir(&layout.dir));
    if let Err(e) = moved {
        log_at(srv, WARNING, &format!("Error moving the old-style AOF file {}: {}", layout.filename, strerror(&e)));
        return Err(Logged);
    }
    log(
        srv,
        &format!(
            "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
            layout.filename,
            layout.dir.display()
        ),
    );
    Ok(Some(m))
}

/// aofOpenIfNeededOnServerStart / startAppendOnly's files: a base if there is none (the
/// current dataset), an incr file if there is none, the manifest; then the sink.
pub fn open_files(srv: &Server, layout: &Layout, m: &mut Manifest, at_start: bool) -> io::Result<()> {
    let rdb = srv.config.read().bool("aof-use-rdb-preamble");
    let mut changed = false;
    if m.base.is_none() && m.incrs.is_empty() {
        let name = m.next_base(&layout.filename, rdb);
        // (Nothing else runs at start-up: the base is taken and written at once.)
        let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
        BaseJob::begin(srv, layout, &tmp, rdb)?.finish(srv)?;
        std::fs::rename(layout.path(&tmp), layout.path(&name))?;
        if at_start {
            log(srv, &format!("Creating AOF base file {name} on server start"));
        }
        changed = true;
    }
    let incr = match m.incrs.last() {
        Some(f) => {
            if at_start {
                log(srv, &format!("Opening AOF incr file {} on server start", f.name));
            }
            f.name.clone()
        }
        None => {
            let name = m.next_incr(&layout.filename);
            if at_start {
                log(srv, &format!("Creating AOF incr file {name} on server start"));
            }
            changed = true;
            name
        }
    };
    let file = open_incr(layout, &incr)?;
    if changed {
        layout.write_manifest(m)?;
    }
    let aof = &srv.aof;
    // A fresh AOF counts its size from here, as Redis's after creating the files.
    aof.status.current_size.store(0, Ordering::Relaxed);
    aof.status.base_size.store(0, Ordering::Relaxed);
    *aof.manifest.lock() = m.clone();
    let sink = AofSink::start(srv, file, aof.status.clone())?;
    aof.install(srv, sink);
    Ok(())
}

// -------------------------------------------------------------------------- loading

/// Why a file stopped loading.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The file ends inside a command: it was valid up to this offset (the first torn
    /// command's start, or the MULTI of an unfinished transaction).
    Truncated(usize),
    /// Not a command where one should start.
    BadFormat,
    /// A command the table does not know (its name).
    Unknown(String),
}

/// The next command of an AOF at `*pos`: its arguments, or None at a clean end. `#`
/// annotations (#TS) are skipped.
pub fn next_command<'a>(data: &'a [u8], pos: &mut usize) -> Result<Option<Argv<'a>>, Stop> {
    let start = *pos;
    let torn = Stop::Truncated(start);
    // A line up to \r\n, without it.
    let line = |p: &mut usize| -> Result<&[u8], Stop> {
        let rest = data.get(*p..).unwrap_or_default();
        let nl = memchr::memchr(b'\n', rest).ok_or(Stop::Truncated(start))?;
        let l = &rest[..nl];
        *p += nl + 1;
        Ok(l.strip_suffix(b"\r").unwrap_or(l))
    };
    loop {
        if *pos >= data.len() {
            return Ok(None);
        }
        if data[*pos] != b'#' {
            break;
        }
        line(pos).map_err(|_| Stop::Truncated(*pos))?;
    }
    let header = line(pos)?;
    let n = match header.split_first() {
        Some((b'*', n)) => crate::util::number::parse_i64(n).filter(|&n| n >= 1).ok_or(Stop::BadFormat)?,
        _ => return Err(Stop::BadFormat),
    };
    let mut argv = Argv::new();
    for _ in 0..n {
        let h = line(pos)?;
        let len = match h.split_first() {
            Some((b'$', n)) => crate::util::number::parse_i64(n).filter(|&n| n >= 0).ok_or(Stop::BadFormat)? as usize,
            _ => return Err(Stop::BadFormat),
        };
        let end = pos.checked_add(len).ok_or(Stop::BadFormat)?;
        if end + 2 > data.len() {
            return Err(torn);
        }
        argv.push(&data[*pos..end]);
        *pos = end + 2;
    }
    Ok(Some(argv))
}

/// A loaded command's arguments, borrowed from the file's bytes.
pub type Argv<'a> = smallvec::SmallVec<[&'a [u8]; 8]>;

/// Runs loaded commands: Redis's fake client (no replies, MULTI/EXEC and SELECT as sent).
struct Replayer<'s> {
    srv: &'s Server,
    client: crate::server::client::Client,
    out: crate::resp::write::ReplyWriter,
    clock: crate::command::dispatch::BatchClock,
}

impl<'s> Replayer<'s> {
    fn new(srv: &'s Server) -> Replayer<'s> {
        let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
        let peer = crate::net::Peer { addr: String::new(), laddr: String::new(), unix: false, fd: -1 };
        // (The cron's gate: loading runs before the cron and the workers start.)
        let handle = crate::server::client::register(srv, id, peer, srv.threads);
        crate::server::client::unregister(srv, id);
        let mut client = crate::server::client::Client::new(handle, srv.threads);
        client.authenticated = true;
        Replayer {
            srv,
            client,
            out: crate::resp::write::ReplyWriter::new(false),
            clock: crate::command::dispatch::BatchClock::new(),
        }
    }

    fn known(&self, argv: &[&[u8]]) -> bool {
        crate::command::dispatch::resolve(self.srv, argv).is_ok()
    }

    fn run(&mut self, argv: &[&[u8]]) {
        crate::command::dispatch::execute(self.srv, &mut self.client, argv, &mut self.out, &mut self.clock);
        self.out.buf.clear();
        self.out.pushes.clear();
    }

    fn in_multi(&self) -> bool {
        self.client.multi.is_some()
    }

    /// Forget a transaction the file left open.
    fn discard(&mut self) {
        if self.in_multi() {
            self.run(&[b"DISCARD"]);
        }
    }
}

/// loadSingleAppendOnlyFile's command loop over `data` from `pos`: Ok(commands run), or why
/// it stopped and where the file was valid up to.
fn replay(r: &mut Replayer, data: &[u8], mut pos: usize) -> Result<u64, (Stop, u64)> {
    let mut count = 0;
    // Where the file was valid before an open MULTI (a torn transaction is dropped whole).
    let mut before_multi = None;
    loop {
        let at = pos;
        match next_command(data, &mut pos) {
            Ok(None) => break,
            Ok(Some(argv)) => {
                if !r.known(&argv) {
                    return Err((Stop::Unknown(String::from_utf8_lossy(argv[0]).into_owned()), count));
                }
                if crate::command::args::eq(argv[0], "multi") {
                    before_multi = Some(at);
                } else if crate::command::args::eq(argv[0], "exec") {
                    before_multi = None;
                }
                r.run(&argv);
                count += 1;
            }
            Err(Stop::Truncated(_)) => {
                return Err((Stop::Truncated(before_multi.unwrap_or(at)), count));
            }
            Err(e) => return Err((e, count)),
        }
    }
    if let Some(at) = before_multi {
        // The file ends inside a transaction: Redis reverts it (truncated at its MULTI).
        return Err((Stop::Truncated(at), count));
    }
    Ok(count)
}

/// Load the AOF `m` names (loadAppendOnlyFiles): the base, then each incr file. Err: start-up
/// stops (logged).
pub fn load(srv: &Server, layout: &Layout, m: &Manifest) -> Result<(u64, u64), Logged> {
    let started = Instant::now();
    let files: Vec<&AofFile> = m.base.iter().chain(&m.incrs).collect();
    let total = files.iter().map(|f| file_size(layout, &f.name)).sum();
    let base = m.base.as_ref().map_or(0, |f| file_size(layout, &f.name));
    if files.is_empty() {
        return Ok((0, 0));
    }
    let truncated_ok = srv.config.read().bool("aof-load-truncated");
    let mut r = Replayer::new(srv);
    let last = files.len() - 1;
    for (i, f) in files.iter().enumerate() {
        let path = layout.path(&f.name);
        let file_started = Instant::now();
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound && f.ty == FileType::Incr => {
                // (Redis: an incr file listed but missing is fatal.)
                log_at(srv, WARNING, &format!("The AOF file {} doesn't exist", f.name));
                return Err(Logged);
            }
            Err(e) => {
                log_at(
                    srv,
                    WARNING,
                    &format!("Fatal error: can't open the append log file {} for reading: {}", f.name, strerror(&e)),
                );
                return Err(Logged);
            }
        };
        if data.is_empty() {
            continue;
        }
        let mut pos = 0;
        if data.starts_with(b"REDIS") {
            log(srv, "Reading RDB base file on AOF loading...");
            match crate::server::save::load_bytes(srv, &data, false) {
                Ok(stats) => {
                    crate::server::save::log_loaded(srv, &stats);
                    pos = srv.rdb.loaded_bytes.load(Ordering::Relaxed) as usize;
                }
                Err(e) => {
                    if let crate::server::save::LoadFailure::Bad(e) = e {
                        for line in e.log_lines() {
                            log_at(srv, WARNING, &line);
                        }
                    }
                    log_at(srv, WARNING, &format!("Error reading the RDB base file {}, AOF loading aborted", f.name));
                    return Err(Logged);
                }
            }
        }
        match replay(&mut r, &data, pos) {
            Ok(_) => {}
            Err((Stop::Truncated(valid), _)) => {
                let tail_in_multi = r.in_multi();
                r.discard();
                if i != last {
                    log_at(srv, WARNING, "Fatal error: the truncated file is not the last file");
                    return Err(Logged);
                }
                if !truncated_ok {
                    log_at(srv, WARNING, &format!("Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", f.name));
                    return Err(Logged);
                }
                if tail_in_multi {
                    log_at(srv, WARNING, &format!("Revert incomplete MULTI/EXEC transaction in AOF file {}", f.name));
                } else {
                    log_at(srv, WARNING, &format!("!!! Warning: short read while loading the AOF file {}!!!", f.name));
                    log_at(srv, WARNING, &format!("!!! Truncating the AOF {} at offset {} !!!", f.name, valid));
                }
                let cut = OpenOptions::new().write(true).open(&path).and_then(|file| file.set_len(valid as u64));
                if let Err(e) = cut {
                    log_at(srv, WARNING, &format!("Error truncating the AOF file {}: {}", f.name, strerror(&e)));
                    return Err(Logged);
                }
                log_at(srv, WARNING, &format!("AOF {} loaded anyway because aof-load-truncated is enabled", f.name));
            }
            Err((Stop::BadFormat, _)) => {
                log_at(srv, WARNING, &format!("Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", f.name));
                return Err(Logged);
            }
            Err((Stop::Unknown(name), _)) => {
                log_at(srv, WARNING, &format!("Unknown command '{}' reading the append only file {}", name, f.name));
                return Err(Logged);
            }
        }
        let kind = if f.ty == FileType::Base { "base" } else { "incr" };
        log(
            srv,
            &format!("DB loaded from {kind} file {}: {:.3} seconds", f.name, file_started.elapsed().as_secs_f64()),
        );
    }
    log(srv, &format!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64()));
    Ok((total, base))
}

#[cfg(test)]
mod tests;
