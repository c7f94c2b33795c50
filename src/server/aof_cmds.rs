//! The AOF's commands and the server side of the rewrite: BGREWRITEAOF, the base file of a
//! rewrite (an RDB preamble or AOF commands), and the RDB preamble of a base file read at
//! start-up. The file format and the sink are `persist::aof`'s.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::command::{CmdResult, Ctx, Error};
use crate::keyspace::now_ms;
use crate::persist::aof::{self, Layout, Manifest};
use crate::persist::rdb;
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

/// RDB opcodes a preamble uses (rdb.h).
const OP_AUX: u8 = 0xFA;
const OP_EOF: u8 = 0xFF;

/// An RDB file holding no key: the header, the aux fields with aof-base 1, the end.
fn empty_preamble(srv: &Server) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("REDIS{:04}", rdb::VERSION).as_bytes());
    let aux_str = |out: &mut Vec<u8>, k: &str, v: &[u8]| {
        out.push(OP_AUX);
        rdb::put_string(out, k.as_bytes(), false);
        rdb::put_string(out, v, false);
    };
    let aux_int = |out: &mut Vec<u8>, k: &str, v: i64| {
        out.push(OP_AUX);
        rdb::put_string(out, k.as_bytes(), false);
        rdb::put_i64(out, v);
    };
    aux_str(&mut out, "redis-ver", crate::REDIS_VERSION.as_bytes());
    aux_int(&mut out, "redis-bits", 64);
    aux_int(&mut out, "ctime", crate::keyspace::now_ms() / 1000);
    aux_int(&mut out, "used-mem", crate::server::info::allocator_bytes().0 as i64);
    aux_int(&mut out, "aof-base", 1);
    out.push(OP_EOF);
    let crc = if srv.config.read().bool("rdbchecksum") { crate::util::crc64::crc64(0, &out) } else { 0 };
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The base file's bytes for the current dataset (the caller holds every gate): with
/// `rdb_preamble` an RDB file with aof-base 1 (rdbSaveRio with RDBFLAGS_AOF_PREAMBLE), else
/// the commands that rebuild the dataset (rewriteAppendOnlyFileRio).
///
/// (Until the RDB snapshot writer is merged, the preamble holds no key and the dataset
/// follows it as an AOF tail: Redis and redis-check-aof read such a base as they read
/// their own, "RDB preamble is OK, proceeding with AOF tail".)
pub fn base_bytes(srv: &Server, rdb_preamble: bool) -> Vec<u8> {
    let timestamps = srv.config.read().bool("aof-timestamp-enabled");
    let mut out = if rdb_preamble { empty_preamble(srv) } else { Vec::new() };
    out.extend_from_slice(&aof::commands_base(srv, timestamps && !rdb_preamble));
    out
}

/// Load the RDB preamble at the start of `data` into the keyspace: Ok(where the AOF tail
/// starts). (Until the RDB loader lands: the header, aux fields and the end only.)
pub fn load_rdb_preamble(_srv: &Server, data: &[u8]) -> Option<usize> {
    let mut pos = 9;
    let version = std::str::from_utf8(data.get(5..9)?).ok().and_then(|v| v.parse::<u16>().ok())?;
    if !(1..=rdb::VERSION).contains(&version) {
        return None;
    }
    loop {
        let op = *data.get(pos)?;
        pos += 1;
        match op {
            OP_AUX => {
                rdb::get_string(data, &mut pos)?;
                rdb::get_string(data, &mut pos)?;
            }
            OP_EOF => {
                if version >= 5 {
                    let sum = data.get(pos..pos + 8)?;
                    let expected = u64::from_le_bytes(sum.try_into().ok()?);
                    if expected != 0 && crate::util::crc64::crc64(0, &data[..pos]) != expected {
                        return None;
                    }
                    pos += 8;
                }
                return Some(pos);
            }
            _ => return None,
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
        if !start_rewrite(srv, true) {
            log_at(srv, WARNING, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        }
    } else if !on && appendonly_was {
        srv.aof.uninstall(srv);
    }
}

/// BGREWRITEAOF.
pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.aof.rewrite.lock().in_progress.is_some() {
        return Err(Error::msg("ERR Background append only file rewriting already in progress"));
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
        let res = rewrite(&me, enable);
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
        (m.incr_seq, base_bytes(srv, rdb_preamble))
    };
    log(srv, "Background append only file rewriting started");
    aof::write_file(&layout, &tmp, &base, srv.config.read().bool("aof-rewrite-incremental-fsync"))?;
    log(srv, &format!("Successfully created the temporary AOF base file {tmp}"));
    let mut m = srv.aof.manifest.lock();
    // (The rewritten incr files become history before the old base, as in Redis.)
    m.retire_incrs_before(incr_seq);
    let base_name = m.next_base(&layout.filename, rdb_preamble);
    std::fs::rename(layout.path(&tmp), layout.path(&base_name))?;
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
    s.base_size.store(base.len() as u64, Ordering::Relaxed);
    s.current_size.fetch_add(base.len() as u64, Ordering::Relaxed);
    Ok(())
}
