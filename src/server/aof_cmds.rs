//! The AOF's commands and the server side of the rewrite: BGREWRITEAOF, the base file of a
//! rewrite (an RDB preamble or AOF commands), and the RDB preamble of a base file read at
//! start-up. The file format and the sink are `persist::aof`'s.

use crate::persist::rdb;
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

/// The base file's bytes for the current dataset: with `rdb`, an RDB file with the aux
/// field aof-base 1 (rdbSaveRio with RDBFLAGS_AOF_PREAMBLE); else the commands.
pub fn base_bytes(srv: &Server, rdb_preamble: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if srv.config.read().bool("aof-timestamp-enabled") && !rdb_preamble {
        out.extend_from_slice(format!("#TS:{}\r\n", crate::keyspace::now_ms() / 1000).as_bytes());
    }
    if !rdb_preamble {
        return out;
    }
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
/// the AOF on or off.
pub fn apply_config(srv: &Server, appendonly_was: bool) {
    let on = srv.config.read().bool("appendonly");
    srv.aof.configure(&srv.config.read());
    if on && !appendonly_was {
        // (Filled in with the rewrite.)
    } else if !on && appendonly_was {
        srv.aof.uninstall(srv);
    }
}
