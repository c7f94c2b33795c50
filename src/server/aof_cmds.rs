//! The AOF's commands and the server side of the rewrite: BGREWRITEAOF, the base file of a
//! rewrite (an RDB preamble or AOF commands), and the RDB preamble of a base file read at
//! start-up. The file format and the sink are `persist::aof`'s.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::now_ms;
use crate::persist::aof::{self, Layout, Manifest};
use crate::server::log::{log, log_at, WARNING};
use crate::server::Server;

/// The rewrite's state (INFO aof_rewrite_*).
pub struct RewriteState {
    /// When the rewrite in progress started (unix ms).
    pub in_progress: Option<i64>,
    /// BGREWRITEAOF was asked for while a save ran: it starts when that ends.
    pub scheduled: bool,
    /// aof_last_rewrite_time_sec (-1: none yet).
    pub last_time_sec: i64,
    pub last_ok: bool,
    pub count: u64,
    pub consecutive_failures: u64,
}

impl Default for RewriteState {
    fn default() -> Self {
        RewriteState {
            in_progress: None,
            scheduled: false,
            last_time_sec: -1,
            last_ok: true,
            count: 0,
            consecutive_failures: 0,
        }
    }
}

/// After CONFIG SET: appendfsync / aof-timestamp-enabled reach the sink; appendonly turns
/// the AOF on (startAppendOnly: a rewrite writes the base of the dataset as it is) or off
/// (stopAppendOnly: the buffer written and fsynced, the sink gone).
pub fn apply_config(srv: &Server, appendonly_was: bool) {
    let on = srv.config.read().bool("appendonly");
    srv.aof.configure(&srv.config.read());
    if on && !appendonly_was {
        if srv.rdb.bgsave_in_progress() {
            srv.aof.rewrite.lock().scheduled = true;
            log(srv, "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        } else if !start_rewrite(srv, true) {
            log_at(srv, WARNING, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        }
    } else if !on && appendonly_was {
        srv.aof.uninstall(srv);
    }
}

/// The cron's part (serverCron): a scheduled rewrite starts; with the AOF on and
/// auto-aof-rewrite-percentage set, a rewrite starts once the AOF is past
/// auto-aof-rewrite-min-size and has grown by that percentage over its base.
pub fn cron(srv: &Server) {
    let (in_progress, scheduled) = {
        let rw = srv.aof.rewrite.lock();
        (rw.in_progress.is_some(), rw.scheduled)
    };
    if in_progress || srv.rdb.bgsave_in_progress() {
        return;
    }
    if scheduled {
        // (CONFIG SET appendonly yes that waited for a BGSAVE turns the AOF on now.)
        let enable = !srv.aof.enabled() && srv.config.read().bool("appendonly");
        start_rewrite(srv, enable);
        return;
    }
    if !srv.aof.enabled() {
        return;
    }
    let (perc, min_size) = {
        let cfg = srv.config.read();
        (cfg.int("auto-aof-rewrite-percentage"), cfg.int("auto-aof-rewrite-min-size").max(0) as u64)
    };
    let s = &srv.aof.status;
    let current = s.current_size.load(Ordering::Relaxed);
    if perc == 0 || current <= min_size {
        return;
    }
    let base = s.base_size.load(Ordering::Relaxed).max(1);
    let growth = (current * 100 / base) as i64 - 100;
    if growth >= perc {
        log(srv, &format!("Starting automatic rewriting of AOF on {growth}% growth"));
        start_rewrite(srv, false);
    }
}

/// BGREWRITEAOF.
pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    // (Asked before the rewrite's lock: the RDB side takes its own lock, then this one.)
    let bgsave = ctx.srv.rdb.bgsave_in_progress();
    {
        let mut rw = ctx.srv.aof.rewrite.lock();
        if rw.in_progress.is_some() {
            return Err(Error::msg("ERR Background append only file rewriting already in progress"));
        }
        // A BGSAVE runs: the rewrite starts from the cron once it ends, as Redis waits for
        // its child.
        if bgsave {
            rw.scheduled = true;
            ctx.out.simple("Background append only file rewriting scheduled");
            return Ok(());
        }
    }
    match start_rewrite(ctx.srv, false) {
        true => {
            ctx.out.simple("Background append only file rewriting started");
            Ok(())
        }
        false => Err(Error::msg(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        )),
    }
}

/// Start a rewrite on a thread of its own; `enable`: it turns the AOF on (CONFIG SET
/// appendonly yes), its new incr file receiving the writes from the switch on. False: it
/// could not start (one runs already).
pub fn start_rewrite(srv: &Server, enable: bool) -> bool {
    let Some(me) = srv.aof.me.get().and_then(|w| w.upgrade()) else { return false };
    {
        let mut rw = srv.aof.rewrite.lock();
        if rw.in_progress.is_some() {
            return false;
        }
        rw.in_progress = Some(now_ms());
        rw.scheduled = false;
    }
    let spawned = std::thread::Builder::new().name("aof-rewrite".into()).spawn(move || {
        let started = now_ms();
        crate::persist::snapshot::background_priority();
        // (A bug in the rewrite must not leave it "in progress" for ever.)
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rewrite(&me, enable)))
            .unwrap_or_else(|_| Err(io::Error::other("the rewrite failed")));
        let mut rw = me.aof.rewrite.lock();
        rw.in_progress = None;
        rw.last_time_sec = (now_ms() - started) / 1000;
        match res {
            Ok(()) => {
                rw.last_ok = true;
                rw.count += 1;
                rw.consecutive_failures = 0;
                drop(rw);
                log(&me, "Background AOF rewrite finished successfully");
            }
            Err(e) => {
                rw.last_ok = false;
                rw.consecutive_failures += 1;
                drop(rw);
                log_at(
                    &me,
                    WARNING,
                    &format!("Background AOF rewrite failed: {}", crate::server::config::strerror(&e)),
                );
            }
        }
    });
    if spawned.is_err() {
        srv.aof.rewrite.lock().in_progress = None;
        return false;
    }
    true
}

/// The rewrite (rewriteAppendOnlyFileBackground and backgroundRewriteDoneHandler, without
/// a fork): at one point of the history, with no command running, the writes switch to a
/// new incr file and the base of the dataset as it is is taken; the base is written to a
/// temp file and renamed; the manifest then names the new base and incr file only, and
/// the files it no longer names are deleted.
fn rewrite(srv: &Arc<Server>, enable: bool) -> io::Result<()> {
    let layout = Layout::from_config(&srv.config.read());
    std::fs::create_dir_all(&layout.dir)?;
    let rdb_preamble = srv.config.read().bool("aof-use-rdb-preamble");
    let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
    let (incr_seq, base) = {
        let _all = srv.ks.enter_exclusive();
        let mut m = srv.aof.manifest.lock();
        if enable {
            // The AOF was off: the files a previous run left are continued from (their
            // seq numbers) and become history.
            if let Ok(Some(text)) = layout.read_manifest() {
                if let Ok(old) = Manifest::parse(&text) {
                    *m = old;
                }
            }
        }
        let name = m.next_incr(&layout.filename);
        let file = aof::open_incr(&layout, &name)?;
        match srv.aof.sink() {
            Some(sink) if !enable => {
                layout.write_manifest(&m)?;
                log(srv, &format!("Creating AOF incr file {name} on background rewrite"));
                sink.rotate(file);
            }
            _ => {
                let sink = aof::AofSink::start(srv, file, srv.aof.status.clone())?;
                srv.aof.install(srv, sink);
                srv.aof.status.current_size.store(0, Ordering::Relaxed);
            }
        }
        let job = aof::BaseJob::begin(srv, &layout, &tmp, rdb_preamble)?;
        srv.aof.set_base_running(true);
        (m.incr_seq, job)
    };
    log(srv, "Background append only file rewriting started");
    let finished = base.finish(srv);
    srv.aof.set_base_running(false);
    let base_size = match finished {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(layout.path(&tmp));
            return Err(e);
        }
    };
    log(srv, &format!("Successfully created the temporary AOF base file {tmp}"));
    let mut m = srv.aof.manifest.lock();
    // (The rewritten incr files become history before the old base, as in Redis.)
    m.retire_incrs_before(incr_seq);
    let base_name = m.next_base(&layout.filename, rdb_preamble);
    let started = std::time::Instant::now();
    std::fs::rename(layout.path(&tmp), layout.path(&base_name))?;
    crate::server::latency::add_sample_since("aof-rename", started);
    log(srv, &format!("Successfully renamed the temporary AOF base file {tmp} into {base_name}"));
    let history = std::mem::take(&mut m.history);
    layout.write_manifest(&m)?;
    drop(m);
    for f in history {
        log(srv, &format!("Removing the history file {} in the background", f.name));
        let _ = std::fs::remove_file(layout.path(&f.name));
    }
    if let Some(sink) = srv.aof.sink() {
        sink.wait_rotated();
    }
    let s = &srv.aof.status;
    s.base_size.store(base_size, Ordering::Relaxed);
    s.current_size.fetch_add(base_size, Ordering::Relaxed);
    Ok(())
}
