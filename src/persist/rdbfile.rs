//! The RDB file (rdb.c's rdbSaveRio / rdbLoadRioWithLoadingCtx), version 11 as Redis 7.2
//! writes and reads it:
//!
//! ```text
//! "REDIS0011"
//! AUX redis-ver, redis-bits, ctime, used-mem, [repl-stream-db, repl-id, repl-offset], aof-base
//! FUNCTION2 <library code>            once per library
//! SELECTDB <db> RESIZEDB <keys> <keys with a TTL>
//!   [EXPIRETIME_MS <i64 LE>] [IDLE <secs> | FREQ <u8>] <type> <key> <payload>   per key
//! ... (SELECTDB again before any later run of keys of a database)
//! EOF <CRC-64 of everything before it, LE; zeros with rdbchecksum no>
//! ```
//!
//! IDLE is written under an LRU maxmemory-policy, FREQ under an LFU one, neither otherwise,
//! as Redis does. A snapshot taken without fork (`persist::snapshot`) writes a database's
//! keys in runs, one per shard, and a shard a client touched first may come before the
//! saver's turn: each run names its database again with SELECTDB, which Redis's loader and
//! redis-check-rdb take at any point. RESIZEDB comes once, before the first run.
//!
//! Loading takes the whole file in memory (the value codecs read from a slice), walks it
//! opcode by opcode, checks the CRC at the end, and stops at the first fault with the
//! lines Redis logs for it (`LoadError::log_lines`); the caller then exits, as Redis does,
//! so no server serves half a file. Keys that expired before the load are dropped and
//! counted, as a master does.

use std::io::{self, Write};

use super::{rdb, value};
use crate::data::dict::{Entry, NO_EXPIRE};
use crate::keyspace::{self, key_hash, Keyspace};
use crate::util::crc64;

pub const MAGIC: &[u8] = b"REDIS";

/// Opcodes (rdb.h).
pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Module value types (RDB_TYPE_MODULE_PRE_GA, RDB_TYPE_MODULE_2): never loadable here.
const TYPE_MODULE: [u8; 2] = [6, 7];

/// Which access information is saved with each key (per maxmemory-policy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessInfo {
    #[default]
    None,
    Lru,
    /// With lfu-decay-time.
    Lfu(u32),
}

/// How keys are written.
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    /// rdbcompression.
    pub compress: bool,
    pub access: AccessInfo,
    /// The snapshot's time: idle times and LFU decay are measured at it.
    pub now_ms: i64,
}

/// The aux fields Redis 7.2 writes.
pub struct Aux {
    pub ctime_secs: i64,
    pub used_mem: u64,
    /// (repl-stream-db, repl-id, repl-offset): only when there is replication to describe.
    pub repl: Option<(i64, String, i64)>,
    /// The file is an AOF's base (aof-base 1).
    pub aof_base: bool,
}

fn put_aux(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(op::AUX);
    rdb::put_string(out, name.as_bytes(), false);
    rdb::put_string(out, value, false);
}

/// The magic, version, aux fields and the function libraries (their code).
pub fn put_header<'a>(out: &mut Vec<u8>, aux: &Aux, libraries: impl Iterator<Item = &'a [u8]>, compress: bool) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{:04}", rdb::VERSION).as_bytes());
    let int = |v: i64| itoa::Buffer::new().format(v).as_bytes().to_vec();
    put_aux(out, "redis-ver", crate::REDIS_VERSION.as_bytes());
    put_aux(out, "redis-bits", b"64");
    put_aux(out, "ctime", &int(aux.ctime_secs));
    put_aux(out, "used-mem", &int(aux.used_mem as i64));
    if let Some((db, id, offset)) = &aux.repl {
        put_aux(out, "repl-stream-db", &int(*db));
        put_aux(out, "repl-id", id.as_bytes());
        put_aux(out, "repl-offset", &int(*offset));
    }
    put_aux(out, "aof-base", if aux.aof_base { b"1" } else { b"0" });
    for code in libraries {
        out.push(op::FUNCTION2);
        rdb::put_string(out, code, compress);
    }
}

pub fn put_select(out: &mut Vec<u8>, db: usize) {
    out.push(op::SELECTDB);
    rdb::put_len(out, db as u64);
}

pub fn put_resize(out: &mut Vec<u8>, keys: u64, expires: u64) {
    out.push(op::RESIZEDB);
    rdb::put_len(out, keys);
    rdb::put_len(out, expires);
}

/// One key as rdbSaveKeyValuePair writes it. `scratch` holds the value's encoding for the
/// moment (the key goes between its type byte and its payload).
pub fn put_entry(out: &mut Vec<u8>, e: &Entry, opts: &SaveOpts, scratch: &mut Vec<u8>) {
    if e.expire_at_ms != NO_EXPIRE {
        out.push(op::EXPIRETIME_MS);
        out.extend_from_slice(&e.expire_at_ms.to_le_bytes());
    }
    match opts.access {
        AccessInfo::None => {}
        AccessInfo::Lru => {
            out.push(op::IDLE);
            rdb::put_len(out, keyspace::idle_seconds(keyspace::lru_clock_at(opts.now_ms), e.lru()) as u64);
        }
        AccessInfo::Lfu(decay) => {
            out.push(op::FREQ);
            out.push(keyspace::lfu_counter_at(e.lru(), opts.now_ms, decay).min(255) as u8);
        }
    }
    scratch.clear();
    value::save(scratch, &e.value, opts.compress);
    out.push(scratch[0]);
    rdb::put_string(out, e.key(), opts.compress);
    out.extend_from_slice(&scratch[1..]);
}

/// A writer that keeps the CRC-64 of what goes through it (rdbchecksum), ended by `finish`.
pub struct RdbWriter<W: Write> {
    inner: W,
    crc: u64,
    checksum: bool,
    /// Bytes written so far.
    pub written: u64,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(inner: W, checksum: bool) -> Self {
        RdbWriter { inner, crc: 0, checksum, written: 0 }
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::crc64(self.crc, bytes);
        }
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    /// EOF and the checksum; the writer flushed and handed back.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&[op::EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Why a load stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Not an RDB file.
    Signature,
    Version(u32),
    /// Truncated, or a value we could not decode.
    ShortRead,
    /// A library in the file could not be created (its error).
    Function(String),
    UnknownType(u8),
    Checksum {
        expected: u64,
        got: u64,
    },
    /// A database number past `databases`.
    TooManyDbs(usize),
    Duplicate {
        key: Vec<u8>,
        db: usize,
    },
    ModuleAux(String),
    ModuleType(String),
    PreGaFunction,
}

impl LoadError {
    /// What Redis 7.2 logs (as warnings) when a load stops this way, in order.
    pub fn log_lines(&self) -> Vec<String> {
        let internal = |line: u32, what: &str| {
            format!("Internal error in RDB reading offset 0, function at rdb.c:{line} -> {what}")
        };
        let short = || {
            vec![
                "Short read or OOM loading DB. Unrecoverable error, aborting now.".to_string(),
                internal(3365, "Unexpected EOF reading RDB file"),
            ]
        };
        match self {
            LoadError::Signature => vec!["Wrong signature trying to load DB from file".into()],
            LoadError::Version(v) => vec![format!("Can't handle RDB format version {v}")],
            LoadError::ShortRead => short(),
            LoadError::Function(e) => {
                let mut lines = vec![format!("Failed loading library, {e}")];
                lines.extend(short());
                lines
            }
            LoadError::UnknownType(t) => vec![internal(2845, &format!("Unknown RDB encoding type {t}"))],
            LoadError::Checksum { expected, got } => vec![
                format!("Wrong RDB checksum expected: ({expected:x}) but got ({got:x}). Aborting now."),
                internal(3341, "RDB CRC error"),
            ],
            LoadError::TooManyDbs(n) => vec![format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {n} databases. Exiting\n"
            )],
            LoadError::Duplicate { key, db } => {
                vec![format!("RDB has duplicated key '{}' in DB {db}", String::from_utf8_lossy(key))]
            }
            LoadError::ModuleAux(name) => {
                vec![format!("The RDB file contains AUX module data I can't load: no matching module '{name}'")]
            }
            LoadError::ModuleType(name) => vec![internal(
                2845,
                &format!("The RDB file contains module data I can't load: no matching module type '{name}'"),
            )],
            LoadError::PreGaFunction => {
                let mut lines = vec!["Failed loading library, Pre-GA function format not supported".to_string()];
                lines.extend(short());
                lines
            }
        }
    }

    /// Errors of the file's framing that Redis reports before "Loading RDB produced by ..."
    /// and after which it says "Fatal error loading the DB, check server logs. Exiting."
    pub fn is_header_error(&self) -> bool {
        matches!(self, LoadError::Signature | LoadError::Version(_))
    }
}

/// What the loader needs from the server above it.
pub trait LoadHooks {
    fn log(&mut self, msg: &str);
    /// Create a function library from its code (FUNCTION2); Err: Redis's error text.
    fn function(&mut self, code: &[u8]) -> Result<(), String>;
    /// The loader got this far into the file (INFO loading_loaded_bytes).
    fn progress(&mut self, pos: usize);
}

/// How a load treats the keyspace.
#[derive(Clone, Copy, Default)]
pub struct LoadOpts {
    pub value: value::LoadOpts,
    /// rdbchecksum: check the CRC (a file whose CRC is 0 is never checked).
    pub checksum: bool,
    /// Replace keys already present instead of refusing the file (DEBUG RELOAD MERGE).
    pub allow_dup: bool,
    pub access: AccessInfo,
    pub now_ms: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_skipped: u64,
}

/// moduleTypeNameByID: the 9-character name encoded in a module type id.
fn module_name(id: u64) -> String {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut id = id >> 10;
    for slot in name.iter_mut().rev() {
        *slot = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

fn byte(data: &[u8], pos: &mut usize) -> Result<u8, LoadError> {
    let b = *data.get(*pos).ok_or(LoadError::ShortRead)?;
    *pos += 1;
    Ok(b)
}

fn fixed<const N: usize>(data: &[u8], pos: &mut usize) -> Result<[u8; N], LoadError> {
    let b: [u8; N] = data.get(*pos..*pos + N).and_then(|s| s.try_into().ok()).ok_or(LoadError::ShortRead)?;
    *pos += N;
    Ok(b)
}

fn len(data: &[u8], pos: &mut usize) -> Result<u64, LoadError> {
    rdb::get_len(data, pos).ok_or(LoadError::ShortRead)
}

fn string<'a>(data: &'a [u8], pos: &mut usize) -> Result<std::borrow::Cow<'a, [u8]>, LoadError> {
    rdb::get_string(data, pos).ok_or(LoadError::ShortRead)
}

/// Files this big have their CRC computed on a second thread while they are parsed.
const PARALLEL_CRC: usize = 1 << 20;

/// Load the RDB file `data` into `ks`: every key, and the libraries through `hooks`. On an
/// error, what was loaded before it stays: the caller exits (as Redis does) or empties.
pub fn load(data: &[u8], ks: &Keyspace, opts: &LoadOpts, hooks: &mut dyn LoadHooks) -> Result<LoadStats, LoadError> {
    if !opts.checksum || data.len() < PARALLEL_CRC {
        return load_with(data, ks, opts, hooks, None);
    }
    // The checksum of a whole file (one that ends right after its CRC) needs no parsing:
    // it is computed beside the parse, which then only compares.
    std::thread::scope(|s| {
        let crc = s.spawn(|| crc64::crc64(0, &data[..data.len() - 8]));
        load_with(data, ks, opts, hooks, Some(crc))
    })
}

fn load_with(
    data: &[u8],
    ks: &Keyspace,
    opts: &LoadOpts,
    hooks: &mut dyn LoadHooks,
    whole_crc: Option<std::thread::ScopedJoinHandle<'_, u64>>,
) -> Result<LoadStats, LoadError> {
    if data.len() < 9 || &data[..5] != MAGIC {
        return Err(LoadError::Signature);
    }
    let version = std::str::from_utf8(&data[5..9]).ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    if !(1..=rdb::VERSION as u32).contains(&version) {
        return Err(LoadError::Version(version));
    }
    let mut pos = 9;
    let mut stats = LoadStats::default();
    let mut db = 0usize;
    let (mut expire_at, mut lru): (i64, Option<u32>) = (NO_EXPIRE, None);
    let mut since_progress = 0u32;
    loop {
        let ty = byte(data, &mut pos)?;
        match ty {
            op::EXPIRETIME => {
                expire_at = i32::from_le_bytes(fixed(data, &mut pos)?) as i64 * 1000;
                continue;
            }
            op::EXPIRETIME_MS => {
                expire_at = i64::from_le_bytes(fixed(data, &mut pos)?);
                continue;
            }
            op::FREQ => {
                let freq = byte(data, &mut pos)?;
                if let AccessInfo::Lfu(_) = opts.access {
                    lru = Some(keyspace::lfu_loaded(freq, opts.now_ms));
                }
                continue;
            }
            op::IDLE => {
                let idle = len(data, &mut pos)?;
                if opts.access == AccessInfo::Lru {
                    lru = Some(keyspace::lru_seconds_ago(keyspace::lru_clock_at(opts.now_ms), idle));
                }
                continue;
            }
            op::EOF => break,
            op::SELECTDB => {
                let n = len(data, &mut pos)? as usize;
                if n >= ks.dbs.len() {
                    return Err(LoadError::TooManyDbs(ks.dbs.len()));
                }
                db = n;
                continue;
            }
            op::RESIZEDB => {
                len(data, &mut pos)?;
                len(data, &mut pos)?;
                continue;
            }
            op::AUX => {
                let name = string(data, &mut pos)?;
                let value = string(data, &mut pos)?;
                aux_field(&name, &value, opts.now_ms, hooks);
                continue;
            }
            op::MODULE_AUX => {
                let id = len(data, &mut pos)?;
                return Err(LoadError::ModuleAux(module_name(id)));
            }
            op::FUNCTION_PRE_GA => return Err(LoadError::PreGaFunction),
            op::FUNCTION2 => {
                let code = rdb::get_string(data, &mut pos)
                    .ok_or_else(|| LoadError::Function("Failed loading library payload".into()))?;
                hooks.function(&code).map_err(LoadError::Function)?;
                continue;
            }
            _ => {}
        }
        // A key: its type, name and value.
        if TYPE_MODULE.contains(&ty) {
            let key_end = {
                let mut p = pos;
                string(data, &mut p)?;
                p
            };
            let mut p = key_end;
            return Err(LoadError::ModuleType(module_name(len(data, &mut p)?)));
        }
        let key = string(data, &mut pos)?;
        if !known_type(ty) {
            return Err(LoadError::UnknownType(ty));
        }
        let expire = std::mem::replace(&mut expire_at, NO_EXPIRE);
        let access = lru.take();
        let v = match value::load_value(ty, data, &mut pos, &opts.value) {
            Ok(v) => v,
            // An empty collection a buggy writer left: skipped, as Redis does.
            Err(value::LoadError::Empty) => {
                stats.empty_skipped += 1;
                continue;
            }
            Err(_) => return Err(LoadError::ShortRead),
        };
        if expire != NO_EXPIRE && expire < opts.now_ms {
            stats.keys_expired += 1;
            continue;
        }
        let h = key_hash(&key);
        let mut shard = ks.dbs[db].shards[ks.shard_of(h)].lock();
        let lru =
            access.unwrap_or_else(|| keyspace::initial_lru(opts.now_ms, matches!(opts.access, AccessInfo::Lfu(_))));
        if shard.dict.get(h, &key).is_some() {
            if !opts.allow_dup {
                return Err(LoadError::Duplicate { key: key.into_owned(), db });
            }
            shard.remove(h, &key);
        }
        shard.dict.insert_new(h, Entry::new(&key, v, expire, lru));
        if expire != NO_EXPIRE {
            shard.expires += 1;
        }
        drop(shard);
        stats.keys_loaded += 1;
        since_progress += 1;
        if since_progress == 1024 {
            since_progress = 0;
            hooks.progress(pos);
        }
    }
    // The checksum, from version 5 on.
    if version >= 5 {
        // Redis's words: "expected" is what the data gives, "got" what the file says.
        let stored = u64::from_le_bytes(fixed(data, &mut pos)?);
        if opts.checksum && stored != 0 {
            let computed = match whole_crc.and_then(|h| h.join().ok()) {
                Some(crc) if pos == data.len() => crc,
                _ => crc64::crc64(0, &data[..pos - 8]),
            };
            if computed != stored {
                return Err(LoadError::Checksum { expected: computed, got: stored });
            }
        }
    }
    hooks.progress(pos);
    Ok(stats)
}

/// RDB object types Redis 7.2 reads (rdbIsObjectType): a load failure of one of them is a
/// bad payload, anything else an unknown type.
fn known_type(ty: u8) -> bool {
    matches!(ty, 0..=7 | 9..=21)
}

/// The aux fields Redis logs on load; the others (aof-base, repl-*, redis-bits ...) are
/// read and ignored here, as by a master without replication.
fn aux_field(name: &[u8], value: &[u8], now_ms: i64, hooks: &mut dyn LoadHooks) {
    let int = || crate::util::number::parse_i64(value);
    match name {
        b"redis-ver" => hooks.log(&format!("Loading RDB produced by version {}", String::from_utf8_lossy(value))),
        b"ctime" => {
            if let Some(t) = int() {
                let age = (now_ms / 1000 - t).max(0);
                hooks.log(&format!("RDB age {age} seconds"));
            }
        }
        b"used-mem" => {
            if let Some(m) = int() {
                hooks.log(&format!("RDB memory usage when created {:.2} Mb", m as f64 / (1024.0 * 1024.0)));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::value::Value;

    struct Quiet(Vec<String>, Vec<Vec<u8>>);
    impl LoadHooks for Quiet {
        fn log(&mut self, msg: &str) {
            self.0.push(msg.to_string());
        }
        fn function(&mut self, code: &[u8]) -> Result<(), String> {
            self.1.push(code.to_vec());
            Ok(())
        }
        fn progress(&mut self, _: usize) {}
    }

    fn file(entries: &[(usize, &[u8], &[u8], i64)], checksum: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let aux = Aux { ctime_secs: 1_700_000_000, used_mem: 1 << 20, repl: None, aof_base: false };
        put_header(&mut out, &aux, [b"#!lua name=x\n".as_slice()].into_iter(), true);
        let opts = SaveOpts { compress: true, access: AccessInfo::Lru, now_ms: 1_700_000_000_000 };
        let mut scratch = Vec::new();
        for (db, k, v, exp) in entries {
            put_select(&mut out, *db);
            let e = Entry::new(k, Value::from_string(v), *exp, 0);
            put_entry(&mut out, &e, &opts, &mut scratch);
        }
        let mut w = RdbWriter::new(Vec::new(), checksum);
        w.write(&out).unwrap();
        w.finish().unwrap()
    }

    fn opts() -> LoadOpts {
        LoadOpts { checksum: true, now_ms: 1_700_000_000_000, ..Default::default() }
    }

    #[test]
    fn round_trip_with_interleaved_dbs_and_expiry() {
        let data = file(&[(0, b"a", b"1", 0), (2, b"b", b"hello", 1_800_000_000_000), (0, b"c", b"x", 1)], true);
        let ks = Keyspace::new(16, 2, 1);
        let mut hooks = Quiet(Vec::new(), Vec::new());
        let stats = load(&data, &ks, &opts(), &mut hooks).unwrap();
        assert_eq!(stats, LoadStats { keys_loaded: 2, keys_expired: 1, empty_skipped: 0 });
        assert_eq!(hooks.1, vec![b"#!lua name=x\n".to_vec()]);
        assert_eq!(hooks.0[0], format!("Loading RDB produced by version {}", crate::REDIS_VERSION));
        let h = key_hash(b"b");
        let s = ks.dbs[2].shards[ks.shard_of(h)].lock();
        assert_eq!(s.dict.get(h, b"b").map(|e| e.expire_at_ms), Some(1_800_000_000_000));
    }

    /// Bytes LZF cannot shrink.
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn big_files_check_their_crc_in_parallel() {
        let vals: Vec<(usize, Vec<u8>, Vec<u8>, i64)> =
            (0..20_000).map(|i| (i % 3, format!("k{i}").into_bytes(), noise(i as u64, 100), 0)).collect();
        let entries: Vec<(usize, &[u8], &[u8], i64)> =
            vals.iter().map(|(d, k, v, e)| (*d, k.as_slice(), v.as_slice(), *e)).collect();
        let mut data = file(&entries, true);
        assert!(data.len() > PARALLEL_CRC);
        let mut hooks = Quiet(Vec::new(), Vec::new());
        let stats = load(&data, &Keyspace::new(16, 2, 1), &opts(), &mut hooks).unwrap();
        assert_eq!(stats.keys_loaded, 20_000);
        data[100] ^= 0x20;
        let n = data.len();
        data[n - 1] ^= 1;
        assert!(load(&data, &Keyspace::new(16, 2, 1), &opts(), &mut hooks).is_err());
    }

    /// Damaged files never panic the loader: random byte changes, cuts and insertions in a
    /// file of several databases, expiries, integers, LZF and plain strings and a function,
    /// loaded with the checksum off so the damage reaches every parser behind it.
    #[test]
    fn damaged_files_never_panic() {
        let vals: Vec<(usize, Vec<u8>, Vec<u8>, i64)> = (0..40)
            .map(|i| {
                let v = match i % 4 {
                    0 => format!("{}", i * 1_000_003).into_bytes(),
                    1 => vec![b'a'; 30 + i],
                    2 => noise(i as u64, 25),
                    _ => b"short".to_vec(),
                };
                (i % 3, format!("key:{i}").into_bytes(), v, if i % 5 == 0 { 1_800_000_000_000 } else { 0 })
            })
            .collect();
        let entries: Vec<(usize, &[u8], &[u8], i64)> =
            vals.iter().map(|(d, k, v, e)| (*d, k.as_slice(), v.as_slice(), *e)).collect();
        let good = file(&entries, true);
        let no_check = LoadOpts { checksum: false, ..opts() };
        let mut hooks = Quiet(Vec::new(), Vec::new());
        let (mut loaded, mut refused) = (0, 0);
        crate::persist::damaged_copies(&good, 3000, 7, |_, bad| {
            match load(bad, &Keyspace::new(16, 2, 1), &no_check, &mut hooks) {
                // A change in a value's bytes, or one that still parses as other entries,
                // may load.
                Ok(_) => loaded += 1,
                Err(_) => refused += 1,
            }
            hooks.0.clear();
        });
        // Both outcomes were reached, so the damage went past the header.
        assert!(loaded > 0 && refused > 0, "loaded {loaded}, refused {refused}");
        let stats = load(&good, &Keyspace::new(16, 2, 1), &opts(), &mut hooks).unwrap();
        assert_eq!(stats.keys_loaded, 40);
    }

    #[test]
    fn faults_are_refused() {
        let good = file(&[(0, b"a", b"1", 0)], true);
        let ks = Keyspace::new(16, 2, 1);
        let mut hooks = Quiet(Vec::new(), Vec::new());
        for cut in 0..good.len() {
            let ks = Keyspace::new(16, 2, 1);
            assert!(load(&good[..cut], &ks, &opts(), &mut hooks).is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert!(matches!(load(&bad, &ks, &opts(), &mut hooks), Err(LoadError::Checksum { .. })));
        let no_check = LoadOpts { checksum: false, ..opts() };
        assert!(load(&bad, &Keyspace::new(16, 2, 1), &no_check, &mut hooks).is_ok());
        let zero = file(&[(0, b"z", b"1", 0)], false);
        assert!(load(&zero, &Keyspace::new(16, 2, 1), &opts(), &mut hooks).is_ok());
        let mut dup = good.clone();
        dup.truncate(n - 9);
        let tail = file(&[(0, b"a", b"2", 0)], true);
        let at = tail.iter().position(|&b| b == op::SELECTDB).unwrap();
        dup.extend_from_slice(&tail[at..]);
        let ks = Keyspace::new(16, 2, 1);
        assert!(matches!(
            load(&dup, &ks, &LoadOpts { checksum: false, ..opts() }, &mut hooks),
            Err(LoadError::Duplicate { .. })
        ));
        let mut wrong = good.clone();
        wrong[0] = b'X';
        assert_eq!(load(&wrong, &ks, &opts(), &mut hooks), Err(LoadError::Signature));
        assert_eq!(module_name(u64::MAX << 10 >> 10 << 10).len(), 9);
    }
}
