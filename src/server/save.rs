//! RDB persistence as a server feature (Redis's rdb.c server side and the save parts of
//! server.c): SAVE, BGSAVE [SCHEDULE], LASTSAVE, the save points the cron checks, the
//! MISCONF refusal after a failed background save (stop-writes-on-bgsave-error), loading
//! dir/dbfilename at start-up with LOADING answers meanwhile, DEBUG RELOAD, the shutdown's
//! final save, FLUSHALL's save, and INFO persistence's rdb_* and loading_* fields.
//!
//! Every save is a `persist::snapshot`: SAVE and the other synchronous saves run one to
//! the end while holding every gate (nothing else runs, as in Redis's SAVE); BGSAVE starts
//! one under the gates and lets a "bgsave" thread write it while the server goes on. A
//! file is written to `temp-<pid>.rdb` in `dir`, fsynced, then renamed to `dbfilename`, so
//! a failed save never hurts the last good file.
//!
//! The request path pays one relaxed load per command for all this (`Rdb::admission`,
//! non-zero only while loading or while writes are refused).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::command::args::eq;
use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::now_ms;
use crate::persist::rdbfile::{self, AccessInfo, Aux, LoadError, LoadHooks, LoadOpts, LoadStats, SaveOpts};
use crate::persist::snapshot::Snapshot;
use crate::server::log::{log, log_at, WARNING};
use crate::server::Server;

/// `Rdb::admission` bits.
const LOADING: u8 = 1;
const DISK_ERROR: u8 = 2;
/// The AOF cannot be written (persist::aof sets it).
const AOF_ERROR: u8 = 4;
/// min-replicas-to-write and min-replicas-max-lag are both set, and fewer good replicas are
/// connected (there are none until replication exists): writes get NOREPLICAS.
const NO_REPLICAS: u8 = 8;

/// A save failed; why is in the log already.
#[derive(Debug)]
pub struct SaveFailed;

/// INFO fields, (name, value) in order.
pub type Fields = Vec<(&'static str, String)>;

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed background save, save points wait
/// this long (seconds) before trying again.
const RETRY_DELAY_SECS: i64 = 5;

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// The server's RDB state (`Server::rdb`).
pub struct Rdb {
    /// LOADING | DISK_ERROR: what admission must look at (one load per command).
    admission: AtomicU8,
    /// The dirty counter as of the last successful save (rdb_changes_since_last_save is
    /// the difference).
    dirty_saved: AtomicU64,
    /// rdb_last_save_time / LASTSAVE (unix seconds).
    pub lastsave: AtomicI64,
    state: Mutex<State>,
    /// Bytes of the file being loaded read so far (loading_loaded_bytes).
    pub loaded_bytes: AtomicU64,
    /// The server itself, for the threads a handler starts (BGSAVE's): set by `init`.
    this: std::sync::OnceLock<std::sync::Weak<Server>>,
}

#[derive(Default)]
struct State {
    bgsave: Option<Bgsave>,
    last_bgsave_ok: bool,
    last_bgsave_secs: i64,
    /// Unix seconds of the last background save attempt (the retry delay counts from it).
    last_try: i64,
    saves: u64,
    scheduled: bool,
    loading: Option<Loading>,
    last_load: LoadStats,
}

struct Bgsave {
    snap: Arc<Snapshot>,
    started: Instant,
}

struct Loading {
    start_unix: i64,
    started: Instant,
    total_bytes: u64,
}

impl Default for Rdb {
    fn default() -> Self {
        Rdb {
            admission: AtomicU8::new(0),
            dirty_saved: AtomicU64::new(0),
            lastsave: AtomicI64::new(now_ms() / 1000),
            state: Mutex::new(State { last_bgsave_ok: true, last_bgsave_secs: -1, ..State::default() }),
            loaded_bytes: AtomicU64::new(0),
            this: std::sync::OnceLock::new(),
        }
    }
}

impl Rdb {
    /// Non-zero when admission must look closer (`refusal`).
    #[inline]
    pub fn admission(&self) -> u8 {
        self.admission.load(Ordering::Relaxed)
    }

    /// The AOF's writes fail (or work again): writes get its MISCONF (`refusal`).
    pub fn set_aof_error(&self, on: bool) {
        self.set_flag(AOF_ERROR, on);
    }

    fn set_flag(&self, flag: u8, on: bool) {
        if on {
            self.admission.fetch_or(flag, Ordering::Relaxed);
        } else {
            self.admission.fetch_and(!flag, Ordering::Relaxed);
        }
    }

    /// At start-up, once the server is in its `Arc`.
    pub fn init(srv: &Arc<Server>) {
        let _ = srv.rdb.this.set(Arc::downgrade(srv));
        refresh(srv);
    }

    pub fn bgsave_in_progress(&self) -> bool {
        self.state.lock().bgsave.is_some()
    }
}

/// Save points from the `save` setting: (seconds, changes).
fn save_points(srv: &Server) -> Vec<(i64, u64)> {
    let cfg = srv.config.read();
    let words: Vec<i64> = cfg.str("save").split_whitespace().filter_map(|w| w.parse().ok()).collect();
    words.chunks_exact(2).map(|p| (p[0], p[1].max(0) as u64)).collect()
}

/// Recompute the MISCONF state (Redis's writeCommandsDeniedByDiskError, RDB part): after a
/// failed background save, with save points set and stop-writes-on-bgsave-error on. Called
/// when the save status or those settings change. Also the NOREPLICAS state (Redis's
/// checkGoodReplicasStatus): a master with both min-replicas settings non-zero and fewer
/// good replicas than the first (none connect until replication exists).
pub fn refresh(srv: &Server) {
    let (stop, points, min_replicas) = {
        let cfg = srv.config.read();
        let min_replicas = cfg.int("min-replicas-to-write") > 0 && cfg.int("min-replicas-max-lag") > 0;
        (cfg.bool("stop-writes-on-bgsave-error"), !cfg.str("save").trim().is_empty(), min_replicas)
    };
    let failed = !srv.rdb.state.lock().last_bgsave_ok;
    srv.rdb.set_flag(DISK_ERROR, stop && points && failed);
    srv.rdb.set_flag(NO_REPLICAS, min_replicas);
}

/// INFO's min_slaves_good_slaves, shown while both min-replicas settings are non-zero.
pub fn good_replicas_field(srv: &Server) -> Option<usize> {
    (srv.rdb.admission() & NO_REPLICAS != 0).then_some(0)
}

/// Admission's disk, replica and loading checks, in processCommand's order: MISCONF for a
/// write (or PING, or EXEC of a transaction that queued a write), NOREPLICAS for a write,
/// then LOADING for a command not allowed while loading. Only called when
/// `Rdb::admission` is non-zero. The AOF's write errors add their own MISCONF text here.
pub fn refusal(
    srv: &Server,
    is_write: bool,
    is_ping: bool,
    allowed_loading: bool,
) -> Option<std::borrow::Cow<'static, str>> {
    let flags = srv.rdb.admission();
    if flags & DISK_ERROR != 0 && (is_write || is_ping) {
        return Some(MISCONF.into());
    }
    if flags & AOF_ERROR != 0 && (is_write || is_ping) {
        if let Some(e) = srv.aof.misconf() {
            return Some(e.into());
        }
    }
    if flags & NO_REPLICAS != 0 && is_write {
        return Some(NOREPLICAS.into());
    }
    if flags & LOADING != 0 && !allowed_loading {
        return Some(LOADING_ERR.into());
    }
    None
}

/// rdb_changes_since_last_save.
pub fn changes_since_save(srv: &Server) -> u64 {
    srv.ks.dirty.get().saturating_sub(srv.rdb.dirty_saved.load(Ordering::Relaxed))
}

fn access_info(srv: &Server) -> AccessInfo {
    let cfg = srv.config.read();
    let policy = cfg.str("maxmemory-policy");
    if policy.ends_with("lru") {
        AccessInfo::Lru
    } else if policy.ends_with("lfu") {
        AccessInfo::Lfu(cfg.int("lfu-decay-time").max(0) as u32)
    } else {
        AccessInfo::None
    }
}

/// The header of a file saved now: magic, aux fields and the function libraries.
fn header(srv: &Server, aof_base: bool, compress: bool) -> Vec<u8> {
    let aux = Aux { ctime_secs: now_ms() / 1000, used_mem: super::info::used_memory(), repl: None, aof_base };
    let codes = crate::server::scripting::functions::library_codes(srv);
    let mut out = Vec::new();
    rdbfile::put_header(&mut out, &aux, codes.iter().map(|c| c.as_slice()), compress);
    out
}

/// Start a snapshot of the whole dataset into `w` (an RDB file, or an AOF base for the
/// "aof" part): the caller holds every gate exclusively, or nothing else runs.
pub fn begin_snapshot(srv: &Server, w: Box<dyn Write + Send>, aof_base: bool) -> Arc<Snapshot> {
    let (compress, checksum, delay) = {
        let cfg = srv.config.read();
        (cfg.bool("rdbcompression"), cfg.bool("rdbchecksum"), cfg.int("rdb-key-save-delay").max(0) as u64)
    };
    let opts = SaveOpts { compress, access: access_info(srv), now_ms: now_ms() };
    Snapshot::begin(&srv.ks, &header(srv, aof_base, compress), w, checksum, opts, delay)
}

fn cwd() -> String {
    std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into())
}

fn temp_name() -> String {
    format!("temp-{}.rdb", std::process::id())
}

/// Where the RDB file is, as an absolute path (a background save is not moved by a later
/// CONFIG SET dir).
fn rdb_path(srv: &Server) -> PathBuf {
    let name = srv.config.read().str("dbfilename").to_string();
    std::env::current_dir().unwrap_or_default().join(name)
}

/// Open the temp file a save writes, logging Redis's line on failure.
fn open_temp(srv: &Server) -> Result<(PathBuf, File), SaveFailed> {
    let temp = std::env::current_dir().unwrap_or_default().join(temp_name());
    match File::create(&temp) {
        Ok(f) => Ok((temp, f)),
        Err(e) => {
            let msg = format!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
                temp_name(),
                cwd(),
                super::config::strerror(&e)
            );
            log_at(srv, WARNING, &msg);
            Err(SaveFailed)
        }
    }
}

/// Finish a written temp file: fsync, rename over the RDB file, fsync the directory.
fn commit(
    srv: &Server,
    written: std::io::Result<Box<dyn Write + Send>>,
    temp: &Path,
    dest: &Path,
) -> Result<(), SaveFailed> {
    let fail = |what: String| {
        log_at(srv, WARNING, &what);
        let _ = std::fs::remove_file(temp);
        Err(SaveFailed)
    };
    if let Err(e) = written {
        return fail(format!("Write error saving DB on disk: {}", super::config::strerror(&e)));
    }
    if let Err(e) = File::open(temp).and_then(|f| f.sync_all()) {
        return fail(format!("Write error saving DB on disk: {}", super::config::strerror(&e)));
    }
    if let Err(e) = std::fs::rename(temp, dest) {
        return fail(format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            temp.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            cwd(),
            super::config::strerror(&e)
        ));
    }
    if let Some(dir) = dest.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// A save succeeded with the dataset as of dirty count `dirty`.
fn saved(srv: &Server, dirty: u64) {
    srv.rdb.dirty_saved.store(dirty, Ordering::Relaxed);
    srv.rdb.lastsave.store(now_ms() / 1000, Ordering::Relaxed);
}

/// rdbSave: the whole dataset to dbfilename, now. The caller holds every gate exclusively
/// (or nothing else runs) and `ks` holds no shard lock. `pending`: dirty changes the
/// caller made that are not counted yet (FLUSHALL's).
pub fn save_now(srv: &Server, pending: u64) -> Result<(), SaveFailed> {
    let dirty = srv.ks.dirty.get() + pending;
    let (temp, file) = open_temp(srv)?;
    // (An AOF rewrite's base may be marked on the shards: it finishes first.)
    srv.aof.wait_base();
    let snap = begin_snapshot(srv, Box::new(BufWriter::with_capacity(1 << 16, file)), false);
    let written = snap.run(&srv.ks);
    commit(srv, written, &temp, &rdb_path(srv))?;
    log(srv, "DB saved on disk");
    saved(srv, dirty);
    srv.rdb.state.lock().last_bgsave_ok = true;
    refresh(srv);
    Ok(())
}

/// rdbSaveBackground: start a background save. The caller holds every gate exclusively
/// and no shard lock. Err: one is in progress already.
fn bgsave_start(srv: &Arc<Server>) -> Result<(), ()> {
    let mut st = srv.rdb.state.lock();
    if st.bgsave.is_some() {
        return Err(());
    }
    st.saves += 1;
    st.last_try = now_ms() / 1000;
    st.scheduled = false;
    drop(st);
    log(srv, &format!("Background saving started by pid {}", std::process::id()));
    let Ok((temp, file)) = open_temp(srv) else {
        bgsave_done(srv, false, None);
        return Ok(());
    };
    let dirty = srv.ks.dirty.get();
    let snap = begin_snapshot(srv, Box::new(BufWriter::with_capacity(1 << 16, file)), false);
    srv.rdb.state.lock().bgsave = Some(Bgsave { snap: snap.clone(), started: Instant::now() });
    let dest = rdb_path(srv);
    let server = srv.clone();
    let spawned = std::thread::Builder::new().name("bgsave".into()).spawn(move || {
        let srv = server;
        crate::persist::snapshot::background_priority();
        // A panic (a bug) must still end the save, or BGSAVE would say "in progress" for good.
        let run = std::panic::AssertUnwindSafe(|| snap.run(&srv.ks));
        let written = std::panic::catch_unwind(run)
            .unwrap_or_else(|_| Err(std::io::Error::other("the snapshot's writer panicked")));
        let aborted = snap.is_aborted();
        let ok = commit(&srv, written, &temp, &dest).is_ok();
        if ok {
            log(&srv, "DB saved on disk");
        }
        bgsave_done(&srv, ok, (!aborted).then_some(dirty));
    });
    if spawned.is_err() {
        // No thread to clear the marks: do it here (the file is abandoned).
        let snap = srv.rdb.state.lock().bgsave.take().map(|b| b.snap);
        if let Some(snap) = snap {
            snap.abort();
            let _ = snap.run(&srv.ks);
        }
        bgsave_done(srv, false, None);
    }
    Ok(())
}

/// backgroundSaveDoneHandler. `dirty`: the dirty count the snapshot saw, None when it was
/// abandoned (FLUSHALL killed it: not an error, as a child killed by SIGUSR1).
fn bgsave_done(srv: &Server, ok: bool, dirty: Option<u64>) {
    let mut st = srv.rdb.state.lock();
    let took = st.bgsave.take().map(|b| b.started.elapsed().as_secs() as i64);
    match (ok, dirty) {
        (true, Some(d)) => {
            drop(st);
            log(srv, "Background saving terminated with success");
            saved(srv, d);
            st = srv.rdb.state.lock();
            st.last_bgsave_ok = true;
        }
        (_, None) if took.is_some() => {
            log_at(srv, WARNING, "Background saving terminated by signal 10");
        }
        _ => {
            log_at(srv, WARNING, "Background saving error");
            st.last_bgsave_ok = false;
        }
    }
    if let Some(t) = took {
        st.last_bgsave_secs = t;
    } else if !ok {
        st.last_bgsave_secs = 0;
    }
    drop(st);
    refresh(srv);
}

/// Take every gate, giving up (None) rather than waiting long (a busy script holds them).
fn try_exclusive(srv: &Server) -> Option<Vec<parking_lot::RwLockWriteGuard<'_, ()>>> {
    let mut gates = Vec::with_capacity(srv.ks.gate_count());
    for i in 0..srv.ks.gate_count() {
        gates.push(srv.ks.try_enter_exclusive_for(i, std::time::Duration::from_millis(200))?);
    }
    Some(gates)
}

/// The cron's part (serverCron): a scheduled BGSAVE, or a save point that is due. Called
/// without the cron's gate held.
pub fn cron(srv: &Arc<Server>) {
    let now = now_ms() / 1000;
    let (due, retry_ok) = {
        let st = srv.rdb.state.lock();
        if st.bgsave.is_some() || st.loading.is_some() || srv.aof.rewrite_in_progress() {
            return;
        }
        (st.scheduled, now - st.last_try > RETRY_DELAY_SECS || st.last_bgsave_ok)
    };
    if !retry_ok {
        return;
    }
    let changes = changes_since_save(srv);
    let since = now - srv.rdb.lastsave.load(Ordering::Relaxed);
    let point = save_points(srv).into_iter().find(|&(secs, n)| changes >= n && since > secs);
    if !due && point.is_none() {
        return;
    }
    if let Some((secs, n)) = point {
        log(srv, &format!("{n} changes in {secs} seconds. Saving..."));
    }
    if let Some(_gates) = try_exclusive(srv) {
        let _ = bgsave_start(srv);
    }
}

pub fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.rdb.bgsave_in_progress() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    ctx.ks.release_shards();
    // rdb_saves counts SAVE and background saves, not the saves Redis makes itself
    // (FLUSHALL's, DEBUG RELOAD's, the shutdown's).
    ctx.srv.rdb.state.lock().saves += 1;
    save_now(ctx.srv, 0).map_err(|_| Error::msg("ERR"))?;
    ctx.out.ok();
    Ok(())
}

pub fn bgsave(ctx: &mut Ctx) -> CmdResult {
    // SCHEDULE only matters while another background job runs (the AOF's rewrite, when
    // it comes), where it schedules instead of failing.
    match &ctx.args[1..] {
        [] => {}
        [a] if eq(a, "schedule") => {}
        _ => return Err(crate::command::err::SYNTAX),
    }
    if ctx.srv.rdb.bgsave_in_progress() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    // Inside EXEC, or with SCHEDULE while the AOF is rewritten, the save is only scheduled,
    // as Redis does (the cron starts it).
    let rewriting = ctx.srv.aof.rewrite_in_progress();
    if rewriting && ctx.args.len() == 1 {
        return Err(Error::msg(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    if ctx.client.deny_blocking || rewriting {
        ctx.srv.rdb.state.lock().scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    ctx.ks.release_shards();
    // The bgsave thread owns the server through an `Arc` (`Rdb::this`, set at start-up).
    let Some(srv) = ctx.srv.rdb.this.get().and_then(|w| w.upgrade()) else { return Err(Error::msg("ERR")) };
    bgsave_start(&srv).map_err(|_| Error::msg("ERR Background save already in progress"))?;
    ctx.out.simple("Background saving started");
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.rdb.lastsave.load(Ordering::Relaxed));
    Ok(())
}

/// FLUSHALL's part (flushAllDataAndResetRDB), after the data is gone: with save points
/// set the empty dataset is saved. The caller holds every gate; `dirty`: the changes it
/// counts for itself, not counted yet (none are left to save after it, as in Redis).
pub fn after_flushall(ctx: &mut Ctx, dirty: u64) {
    let srv = ctx.srv;
    if !save_points(srv).is_empty() {
        ctx.ks.release_shards();
        // The abandoned background save ends first: it clears its marks, and its temp file
        // is the one this save writes.
        wait_bgsave(srv);
        let _ = save_now(srv, dirty + ctx.ks.dirty);
    }
}

/// The shutdown's final save (prepareForShutdown): when save points are set and NOSAVE
/// was not given, or SAVE was. Err: it failed and has said so in the log. `in_command`:
/// SHUTDOWN's handler, which holds every gate; else the shutdown's last steps, the clients
/// gone, which save only when something changed since a save SHUTDOWN made
/// (`only_if_changed`), taking every gate against the cron.
pub fn shutdown_save(
    srv: &Server,
    flags: &super::shutdown::Flags,
    in_command: bool,
    only_if_changed: bool,
) -> Result<(), SaveFailed> {
    if !shutdown_saves(srv, flags) {
        return Ok(());
    }
    if only_if_changed && changes_since_save(srv) == 0 {
        return Ok(());
    }
    if srv.rdb.bgsave_in_progress() {
        // As Redis kills its child: the final save supersedes it.
        log_at(srv, WARNING, "There is a child saving an .rdb. Killing it!");
        abort_bgsave(srv);
    }
    wait_bgsave(srv);
    log(srv, "Saving the final RDB snapshot before exiting.");
    let gates = (!in_command).then(|| srv.ks.enter_exclusive());
    let res = save_now(srv, 0);
    drop(gates);
    match res {
        Ok(()) => Ok(()),
        Err(SaveFailed) if flags.force => {
            log_at(srv, WARNING, "Error trying to save the DB. Exit anyway.");
            Ok(())
        }
        Err(SaveFailed) => {
            log_at(srv, WARNING, "Error trying to save the DB, can't exit.");
            Err(SaveFailed)
        }
    }
}

/// Whether a shutdown with `flags` saves.
pub fn shutdown_saves(srv: &Server, flags: &super::shutdown::Flags) -> bool {
    (!save_points(srv).is_empty() && !flags.nosave) || flags.save
}

/// FLUSHALL's first step: a background save in progress is abandoned (Redis kills its
/// child), so the flush does not save the shards it empties.
pub fn abort_bgsave(srv: &Server) {
    if let Some(b) = srv.rdb.state.lock().bgsave.as_ref() {
        b.snap.abort();
    }
}

/// Wait for an abandoned background save to clear its marks.
fn wait_bgsave(srv: &Server) {
    while srv.rdb.bgsave_in_progress() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The loader's link to the server: logs, libraries, progress.
struct Hooks<'a> {
    srv: &'a Server,
    replace_libraries: bool,
}

impl LoadHooks for Hooks<'_> {
    fn log(&mut self, msg: &str) {
        log(self.srv, msg);
    }

    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        crate::server::scripting::functions::load_library(self.srv, code, self.replace_libraries)
    }

    fn progress(&mut self, pos: usize) {
        self.srv.rdb.loaded_bytes.store(pos as u64, Ordering::Relaxed);
    }
}

/// Why `load_file` did not load.
#[derive(Debug)]
pub enum LoadFailure {
    /// No such file: nothing to load.
    Missing,
    /// It could not be read (logged).
    Unreadable,
    /// It is not a good RDB file: Redis's lines, to be logged.
    Bad(LoadError),
}

/// Load the RDB file at `path` into the keyspace (which should be empty, unless
/// `allow_dup`), with INFO's loading state and LOADING answers meanwhile. The "aof" part
/// loads an AOF's RDB base through here too.
pub fn load_file(srv: &Server, path: &Path, allow_dup: bool) -> Result<LoadStats, LoadFailure> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadFailure::Missing),
        Err(e) => {
            let msg = format!(
                "Fatal error: can't open the RDB file {} for reading: {}",
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                super::config::strerror(&e)
            );
            log_at(srv, WARNING, &msg);
            return Err(LoadFailure::Unreadable);
        }
    };
    load_bytes(srv, &data, allow_dup)
}

/// `load_file` of bytes read already. The offset where the RDB file ended is then
/// `Rdb::loaded_bytes` (an AOF base with an RDB preamble goes on after it).
pub fn load_bytes(srv: &Server, data: &[u8], allow_dup: bool) -> Result<LoadStats, LoadFailure> {
    start_loading(srv, data.len() as u64);
    let opts = {
        let cfg = srv.config.read();
        LoadOpts {
            value: crate::persist::value::LoadOpts::from_limits(&srv.limits, cfg.str("sanitize-dump-payload") == "yes"),
            checksum: cfg.bool("rdbchecksum"),
            allow_dup,
            access: access_info(srv),
            now_ms: now_ms(),
        }
    };
    let mut hooks = Hooks { srv, replace_libraries: allow_dup };
    let res = rdbfile::load(data, &srv.ks, &opts, &mut hooks);
    stop_loading(srv, res.as_ref().ok().copied());
    res.map_err(LoadFailure::Bad)
}

/// Whether a load runs (INFO's loading:1).
pub fn is_loading(srv: &Server) -> bool {
    srv.rdb.state.lock().loading.is_some()
}

fn start_loading(srv: &Server, total: u64) {
    srv.rdb.loaded_bytes.store(0, Ordering::Relaxed);
    srv.rdb.state.lock().loading =
        Some(Loading { start_unix: now_ms() / 1000, started: Instant::now(), total_bytes: total });
    srv.rdb.set_flag(LOADING, true);
}

fn stop_loading(srv: &Server, stats: Option<LoadStats>) {
    let mut st = srv.rdb.state.lock();
    st.loading = None;
    if let Some(s) = stats {
        st.last_load = s;
    }
    drop(st);
    srv.rdb.set_flag(LOADING, false);
}

/// Log a successful load as Redis does.
pub(crate) fn log_loaded(srv: &Server, stats: &LoadStats) {
    let mut msg = format!("Done loading RDB, keys loaded: {}, keys expired: {}", stats.keys_loaded, stats.keys_expired);
    if stats.empty_skipped > 0 {
        msg.push_str(&format!(", empty keys skipped: {}", stats.empty_skipped));
    }
    msg.push('.');
    log(srv, &msg);
}

/// Load dir/dbfilename at start-up, on a thread of its own while the server answers
/// LOADING; a file that cannot be loaded stops the server as in Redis (exit status 1), so
/// no server ever serves half a file. The "aof" part decides here whether the AOF is
/// loaded instead (AOF wins over RDB when appendonly is on).
pub fn load_at_startup(srv: &Arc<Server>) {
    let path = rdb_path(srv);
    if !path.exists() {
        return;
    }
    // LOADING from here, before the listeners open.
    start_loading(srv, 0);
    let server = srv.clone();
    let srv = srv.clone();
    let spawned = std::thread::Builder::new().name("loader".into()).spawn(move || {
        let started = Instant::now();
        match load_file(&srv, &path, false) {
            Ok(stats) => {
                log_loaded(&srv, &stats);
                log(&srv, &format!("DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64()));
            }
            Err(LoadFailure::Missing) => stop_loading(&srv, None),
            Err(LoadFailure::Unreadable) => exit_on_load_failure(&srv, None),
            Err(LoadFailure::Bad(e)) => exit_on_load_failure(&srv, Some(e)),
        }
    });
    if let Err(e) = spawned {
        log_at(&server, WARNING, &format!("Can't start the loader thread: {e}"));
        std::process::exit(1);
    }
}

fn exit_on_load_failure(srv: &Server, e: Option<LoadError>) -> ! {
    let fatal = e.as_ref().is_none_or(|e| e.is_header_error());
    for line in e.iter().flat_map(|e| e.log_lines()) {
        log_at(srv, WARNING, &line);
    }
    if fatal {
        log_at(srv, WARNING, "Fatal error loading the DB, check server logs. Exiting.");
    }
    std::process::exit(1);
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, flush, load again.
pub fn debug_reload(ctx: &mut Ctx) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for a in &ctx.args[2..] {
        if eq(a, "merge") {
            merge = true;
        } else if eq(a, "noflush") {
            flush = false;
        } else if eq(a, "nosave") {
            save = false;
        } else {
            return Err(Error::msg("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."));
        }
    }
    let srv = ctx.srv;
    ctx.ks.release_shards();
    if save {
        if srv.rdb.bgsave_in_progress() {
            return Err(Error::msg("ERR Background save already in progress"));
        }
        save_now(srv, 0).map_err(|_| Error::msg("ERR"))?;
    }
    if flush {
        // emptyData(-1): every database and the libraries; watchers are told.
        for db in 0..srv.databases() {
            ctx.ks.touch_all_watched(db, None);
            for s in 0..srv.ks.shards_per_db() {
                drop(ctx.ks.shard_at(db, s).clear());
            }
        }
        ctx.ks.release_shards();
        crate::server::scripting::functions::clear_libraries(srv);
    }
    match load_file(srv, &rdb_path(srv), merge) {
        Ok(stats) => log_loaded(srv, &stats),
        Err(e) => {
            // As Redis outside start-up: the reasons, not its "Internal error" lines (it
            // exits only when loading at start-up), and the server goes on.
            if let LoadFailure::Bad(e) = e {
                for line in e.log_lines().iter().filter(|l| !l.starts_with("Internal error")) {
                    log_at(srv, WARNING, line);
                }
            }
            return Err(Error::msg("ERR Error trying to load the RDB dump, check server logs."));
        }
    }
    log(srv, "DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

/// INFO persistence's RDB fields, as (name, value) in Redis's order: those before the
/// AOF's, and the loading_* ones that close the section while a load runs.
pub fn info_fields(srv: &Server) -> (Fields, Fields) {
    let st = srv.rdb.state.lock();
    let (done, total, current_secs) = match &st.bgsave {
        Some(b) => (b.snap.keys_done.load(Ordering::Relaxed), b.snap.keys_total, b.started.elapsed().as_secs() as i64),
        None => (0, 0, -1),
    };
    let perc = if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 };
    let main = vec![
        ("loading", (st.loading.is_some() as u8).to_string()),
        ("async_loading", "0".into()),
        ("current_cow_peak", "0".into()),
        ("current_cow_size", "0".into()),
        ("current_cow_size_age", "0".into()),
        ("current_fork_perc", format!("{perc:.2}")),
        ("current_save_keys_processed", done.to_string()),
        ("current_save_keys_total", total.to_string()),
        ("rdb_changes_since_last_save", changes_since_save(srv).to_string()),
        ("rdb_bgsave_in_progress", (st.bgsave.is_some() as u8).to_string()),
        ("rdb_last_save_time", srv.rdb.lastsave.load(Ordering::Relaxed).to_string()),
        ("rdb_last_bgsave_status", if st.last_bgsave_ok { "ok" } else { "err" }.into()),
        ("rdb_last_bgsave_time_sec", st.last_bgsave_secs.to_string()),
        ("rdb_current_bgsave_time_sec", current_secs.to_string()),
        ("rdb_saves", st.saves.to_string()),
        ("rdb_last_cow_size", "0".into()),
        ("rdb_last_load_keys_expired", st.last_load.keys_expired.to_string()),
        ("rdb_last_load_keys_loaded", st.last_load.keys_loaded.to_string()),
    ];
    let mut loading = Vec::new();
    if let Some(l) = &st.loading {
        let loaded = srv.rdb.loaded_bytes.load(Ordering::Relaxed);
        let perc = if l.total_bytes > 0 { loaded as f64 * 100.0 / l.total_bytes as f64 } else { 0.0 };
        let elapsed = l.started.elapsed().as_secs_f64();
        let eta = if loaded > 0 {
            ((l.total_bytes - loaded.min(l.total_bytes)) as f64 * elapsed / loaded as f64) as i64
        } else {
            1
        };
        loading = vec![
            ("loading_start_time", l.start_unix.to_string()),
            ("loading_total_bytes", l.total_bytes.to_string()),
            ("loading_rdb_used_mem", "0".into()),
            ("loading_loaded_bytes", loaded.to_string()),
            ("loading_loaded_perc", format!("{perc:.2}")),
            ("loading_eta_seconds", eta.to_string()),
        ];
    }
    (main, loading)
}
