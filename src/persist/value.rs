//! A value's RDB encoding (rdb.c's rdbSaveObjectType/rdbSaveObject and rdbLoadObject): the
//! type byte and the payload, for every type and encoding Redis 7.2 writes, and the older
//! ones it still reads. Shared by RDB files, DUMP/RESTORE payloads and the AOF's RDB
//! preamble; it knows nothing of keys, expiry or files.
//!
//! Saving picks the RDB type from the in-memory encoding, as Redis picks it from its own
//! (our OBJECT ENCODING mirrors Redis's, so the choice is the same):
//!
//! | value                 | RDB type                | payload                                   |
//! |-----------------------|-------------------------|-------------------------------------------|
//! | string (int/raw)      | STRING 0                | `rdb::put_string` (int, LZF or raw)       |
//! | list                  | LIST_QUICKLIST_2 18     | nodes: container (PLAIN 1 / PACKED 2) and |
//! |                       |                         | the element or the node's listpack        |
//! | hash listpack / table | HASH_LISTPACK 16 / HASH 4 | the listpack / count, field, value ...  |
//! | set intset            | SET_INTSET 11           | the intset                                |
//! | set listpack / table  | SET_LISTPACK 20 / SET 2 | the listpack / count, member ...          |
//! | zset listpack         | ZSET_LISTPACK 17        | member, score (integer or d2string) ...   |
//! | zset skiplist         | ZSET_2 5                | count, (member, binary double) from the   |
//! |                       |                         | greatest to the smallest                  |
//! | stream                | STREAM_LISTPACKS_3 21   | `persist::stream`                         |
//!
//! HyperLogLogs are strings. Every listpack and intset blob is a string, LZF-compressed
//! when `rdbcompression` is on and it pays, as Redis's rdbSaveRawString does.
//!
//! Where the bytes equal Redis's DUMP of the same value built by the same commands: strings,
//! listpack hashes, sets and sorted sets (insertion order is kept as Redis keeps it, the
//! score text is Redis's d2string), intsets (whose width, like Redis's, never narrows),
//! skiplist sorted sets (their order is the value's), lists while they are one listpack, and
//! streams. Where they cannot: hashtable hashes and sets (Redis's order is its dict's
//! iteration order, which depends on a per-process random hash seed, so two Redis
//! processes differ too) and quicklists whose node boundaries differ from Redis's (ours
//! follow the same limits when elements are pushed at the ends, but LINSERT/LSET/LREM
//! split and merge nodes differently, see `data::list`). Those values round-trip with
//! equal contents; tests/diff/test_random_dump.py checks both directions.
//!
//! Loading reads every type Redis 7.2 reads: the ones above plus LIST 1, SET 2 (plain
//! strings), ZSET 3 (scores as text), HASH_ZIPMAP 9, LIST_ZIPLIST 10, ZSET_ZIPLIST 12,
//! HASH_ZIPLIST 13, LIST_QUICKLIST 14 (ziplist nodes) and STREAM_LISTPACKS 15 and 19. A
//! loaded collection takes the encoding Redis 7.2 gives it, from the thresholds in
//! `LoadOpts`: listpack-encoded hashes, sets and sorted sets convert only when they hold
//! more than `*-max-listpack-entries` (Redis does not look at element sizes there; the
//! oracle agrees), intsets past `set-max-intset-entries`, lists of one node within
//! `list-max-listpack-size` become listpacks (but a LIST_ZIPLIST is one quicklist node,
//! left so), element-by-element types (1, 2, 3, 4, 5, 9) apply every threshold as the
//! commands would.
//!
//! Bytes from outside are checked completely whatever `sanitize-dump-payload` says:
//! our in-memory forms are rebuilt from them entry by entry, so every listpack, ziplist,
//! zipmap and intset is validated as Redis's deep sanitization does (`ListPack::parse`,
//! `ziplist::parse`, `IntSet::parse`), and duplicate members, fields or consumer-group
//! entries are rejected as Redis rejects them. With `sanitize-dump-payload no` Redis
//! accepts some of these (a listpack hash with a duplicate field) and keeps a value that
//! breaks its own invariants; we refuse them (documented in COMPATIBILITY.md). An empty
//! collection is `LoadError::Empty` (RESTORE answers "Bad data format", an RDB file skips
//! the key, as Redis does). Nothing here panics on any input or allocates more than the
//! input can hold: counts from the input never size an allocation beyond the bytes left.

use super::rdb::{self, get_len, get_string, put_len, put_string};
use crate::data::bytes::CompactBytes;
use crate::data::hash::{Elem, Hash, HashLimits, Packed};
use crate::data::list::{Fill, List, Node};
use crate::data::listpack::{self, Encoder, Entry, ListPack};
use crate::data::set::{IntSet, Set, SetLimits};
use crate::data::value::Value;
use crate::data::zset::{self, ZSet};
use crate::data::{intset, ziplist};
use crate::server::TypeLimits;
use crate::types::FromConfig;
use crate::util::number::{parse_f64, write_f64};

/// RDB object types (rdb.h).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// rdbIsObjectType: a value type rather than an opcode (6 and 7 are module values,
    /// which `load` refuses).
    pub fn is_object(ty: u8) -> bool {
        ty <= 7 || (9..=21).contains(&ty)
    }
}

/// Quicklist node containers (quicklist.h).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// What loading needs from the configuration: the thresholds that choose an encoding for a
/// loaded collection, and whether to check a listpack's or intset's bytes deeply
/// (`sanitize-dump-payload`; see the module comment: we always do).
#[derive(Clone, Copy)]
pub struct LoadOpts {
    pub deep_sanitize: bool,
    pub list_fill: Fill,
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: zset::Limits,
}

impl Default for LoadOpts {
    /// Redis's default thresholds.
    fn default() -> LoadOpts {
        static DEFAULT: std::sync::OnceLock<LoadOpts> = std::sync::OnceLock::new();
        *DEFAULT.get_or_init(|| LoadOpts::from_limits(&TypeLimits::defaults(), false))
    }
}

impl LoadOpts {
    /// The thresholds in force (`srv.limits`); `deep_sanitize`: the caller's reading of
    /// `sanitize-dump-payload` (RESTORE: yes, or clients for a normal client; RDB: yes).
    pub fn from_limits(limits: &TypeLimits, deep_sanitize: bool) -> LoadOpts {
        LoadOpts {
            deep_sanitize,
            list_fill: Fill::from_limits(limits),
            hash: HashLimits::from_limits(limits),
            set: SetLimits::from_limits(limits),
            zset: zset::Limits::from_limits(limits),
        }
    }
}

/// Why a value did not load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Malformed, truncated, of an unknown type, or breaking a rule of its type.
    Corrupt,
    /// A well-formed empty collection, which Redis refuses to create (an RDB file skips
    /// the key; RESTORE answers "Bad data format").
    Empty,
}

type Loaded = Result<Value, LoadError>;

/// Append `v`'s RDB type byte and payload to `out`; `compress`: `rdbcompression`.
pub fn save(out: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Int(n) => {
            out.push(types::STRING);
            rdb::put_i64(out, *n);
        }
        Value::Str(bytes) => {
            out.push(types::STRING);
            put_string(out, bytes, compress);
        }
        Value::List(l) => save_list(out, l, compress),
        Value::Hash(h) => match &**h {
            Hash::Packed(p) => {
                out.push(types::HASH_LISTPACK);
                put_string(out, &packed_listpack(p), compress);
            }
            Hash::Table(_) => {
                out.push(types::HASH);
                put_len(out, h.len() as u64);
                h.for_each(|f, v| {
                    put_string(out, &f.bytes(), compress);
                    put_string(out, &v.bytes(), compress);
                });
            }
        },
        Value::Set(s) => match &**s {
            Set::Ints(is) => {
                out.push(types::SET_INTSET);
                put_string(out, &is.to_intset_bytes(), compress);
            }
            Set::Packed(p) => {
                out.push(types::SET_LISTPACK);
                put_string(out, &packed_listpack(p), compress);
            }
            Set::Table(_) => {
                out.push(types::SET);
                put_len(out, s.len() as u64);
                s.for_each(|m| put_string(out, &m.bytes(), compress));
            }
        },
        Value::ZSet(z) => save_zset(out, z, compress),
        Value::Stream(s) => {
            out.push(types::STREAM_LISTPACKS_3);
            super::stream::encode(s, out, compress);
        }
    }
}

/// A listpack of already encoded entries (Redis's header and terminator around them).
fn listpack_around(entries: &[u8], count: usize) -> Vec<u8> {
    let mut lp = Vec::with_capacity(entries.len() + listpack::EMPTY_SIZE);
    let total = u32::try_from(entries.len() + listpack::EMPTY_SIZE).unwrap_or(u32::MAX);
    lp.extend_from_slice(&total.to_le_bytes());
    lp.extend_from_slice(&u16::try_from(count).unwrap_or(listpack::COUNT_UNKNOWN).to_le_bytes());
    lp.extend_from_slice(entries);
    lp.push(listpack::EOF);
    lp
}

fn save_list(out: &mut Vec<u8>, l: &List, compress: bool) {
    out.push(types::LIST_QUICKLIST_2);
    let nodes = l.nodes();
    put_len(out, nodes.len() as u64);
    for node in nodes {
        match node {
            Node::Plain(e) => {
                put_len(out, CONTAINER_PLAIN);
                put_string(out, &e.to_bytes(), compress);
            }
            Node::Packed { entries, count } => {
                put_len(out, CONTAINER_PACKED);
                put_string(out, &listpack_around(&entries, count), compress);
            }
        }
    }
}

/// A small hash's or set's packed buffer as Redis's listpack of the same elements.
fn packed_listpack(p: &Packed) -> Vec<u8> {
    let mut enc = Encoder::with_capacity(p.bytes());
    for (e, _, _) in p.iter() {
        enc.push_entry(match e {
            Elem::Int(n) => Entry::Int(n),
            Elem::Str(s) => Entry::Str(s),
        });
    }
    // A packed buffer stays under 1 GB, far from the listpack's 4 GB limit.
    enc.finish().unwrap_or_default()
}

fn save_zset(out: &mut Vec<u8>, z: &ZSet, compress: bool) {
    if z.is_listpack() {
        out.push(types::ZSET_LISTPACK);
        let mut enc = Encoder::new();
        let mut text = Vec::with_capacity(32);
        z.visit(0, false, |score, member| {
            enc.push(member);
            // zzlInsertAt: an integral score within 2^62 as an integer, else d2string's
            // text, which is exactly `write_f64`'s and which `Entry::of` reads as such.
            text.clear();
            write_f64(score, &mut text);
            enc.push(&text);
            true
        });
        put_string(out, &enc.finish().unwrap_or_default(), compress);
    } else {
        out.push(types::ZSET_2);
        put_len(out, z.len() as u64);
        // From the greatest to the smallest, as Redis walks its skiplist backwards.
        z.visit(z.len().saturating_sub(1), true, |score, member| {
            put_string(out, member, compress);
            out.extend_from_slice(&score.to_le_bytes());
            true
        });
    }
}

/// Read a value of RDB type `ty` at `*pos` (advanced past it). None on anything malformed,
/// truncated, empty or unknown; never panics on any input.
pub fn load(ty: u8, data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Option<Value> {
    load_value(ty, data, pos, opts).ok()
}

/// `load`, telling an empty collection (which an RDB file skips) from a corrupt one.
pub fn load_value(ty: u8, data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Loaded {
    use types::*;
    let corrupt = LoadError::Corrupt;
    match ty {
        STRING => Ok(Value::from_string(&get_string(data, pos).ok_or(corrupt)?)),
        LIST => load_plain_list(data, pos, opts),
        LIST_ZIPLIST => {
            // Redis 7.2 makes the whole ziplist one quicklist node and leaves it so.
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let entries = packed_entries(true, &blob)?;
            let mut l = List::new();
            l.append_node(canonical_entries(&entries, &mut Vec::new()), entries.len());
            Ok(Value::List(Box::new(l)))
        }
        LIST_QUICKLIST | LIST_QUICKLIST_2 => load_quicklist(ty, data, pos, opts),
        SET => load_plain_set(data, pos, opts),
        SET_INTSET => {
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let is = IntSet::from_intset_bytes(&blob).map_err(|e| match e {
                intset::Error::Empty => LoadError::Empty,
                _ => corrupt,
            })?;
            let n = is.len();
            let mut s = Set::Ints(is);
            if n > opts.set.intset_entries {
                s.convert_to_table(n);
            }
            Ok(Value::Set(Box::new(s)))
        }
        SET_LISTPACK => {
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let lp = ListPack::parse(&blob).map_err(|_| corrupt)?;
            non_empty(lp.len())?;
            let mut s = Set::Packed(Packed::default());
            let lim = SetLimits { listpack_value: usize::MAX, ..opts.set };
            for e in lp.iter() {
                if !s.add_elem(elem(e), lim) {
                    return Err(corrupt);
                }
            }
            Ok(Value::Set(Box::new(s)))
        }
        ZSET | ZSET_2 => load_plain_zset(ty, data, pos, opts),
        ZSET_ZIPLIST | ZSET_LISTPACK => {
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let entries = packed_entries(ty == ZSET_ZIPLIST, &blob)?;
            if entries.len() % 2 != 0 {
                return Err(corrupt);
            }
            let mut items = Vec::with_capacity(entries.len() / 2);
            for pair in entries.chunks_exact(2) {
                let score = match pair[1] {
                    Entry::Int(n) => n as f64,
                    Entry::Str(s) => parse_f64(s).ok_or(corrupt)?,
                };
                items.push((score, CompactBytes::new(&pair[0].to_bytes())));
            }
            // Redis converts a loaded listpack by its length alone.
            let limits = zset::Limits { value: usize::MAX, ..opts.zset };
            zset_of(items, limits)
        }
        HASH => {
            let n = get_len(data, pos).ok_or(corrupt)?;
            non_empty(n as usize)?;
            let mut h = Hash::default();
            if n > opts.hash.max_entries as u64 {
                h.convert_to_table(bounded(n, data, *pos));
            }
            for _ in 0..n {
                let f = get_string(data, pos).ok_or(corrupt)?;
                let v = get_string(data, pos).ok_or(corrupt)?;
                if !h.set(&f, &v, opts.hash) {
                    return Err(corrupt);
                }
            }
            Ok(Value::Hash(Box::new(h)))
        }
        HASH_ZIPMAP => {
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let pairs = ziplist::parse_zipmap(&blob).map_err(|_| corrupt)?;
            non_empty(pairs.len())?;
            let mut h = Hash::default();
            for (f, v) in pairs {
                if !h.set(f, v, opts.hash) {
                    return Err(corrupt);
                }
            }
            Ok(Value::Hash(Box::new(h)))
        }
        HASH_ZIPLIST | HASH_LISTPACK => {
            let blob = get_string(data, pos).ok_or(corrupt)?;
            let entries = packed_entries(ty == HASH_ZIPLIST, &blob)?;
            if entries.len() % 2 != 0 {
                return Err(corrupt);
            }
            let mut h = Hash::default();
            let lim = HashLimits { max_value: usize::MAX, ..opts.hash };
            for pair in entries.chunks_exact(2) {
                if !h.set(&pair[0].to_bytes(), &pair[1].to_bytes(), lim) {
                    return Err(corrupt);
                }
            }
            Ok(Value::Hash(Box::new(h)))
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            let s = super::stream::decode_version(data, pos, ty).ok_or(corrupt)?;
            Ok(Value::Stream(Box::new(s)))
        }
        _ => Err(corrupt),
    }
}

fn non_empty(n: usize) -> Result<(), LoadError> {
    if n == 0 {
        Err(LoadError::Empty)
    } else {
        Ok(())
    }
}

/// A count from the input, as a capacity: never more than the bytes left could hold.
fn bounded(n: u64, data: &[u8], pos: usize) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(data.len().saturating_sub(pos))
}

fn elem(e: Entry<'_>) -> Elem<'_> {
    match e {
        Entry::Int(n) => Elem::Int(n),
        Entry::Str(s) => Elem::Str(s),
    }
}

/// The entries of a ziplist (`ziplist`) or listpack blob, validated and not empty.
fn packed_entries(ziplist: bool, blob: &[u8]) -> Result<Vec<Entry<'_>>, LoadError> {
    let entries: Vec<Entry> = if ziplist {
        ziplist::parse(blob).map_err(|_| LoadError::Corrupt)?
    } else {
        ListPack::parse(blob).map_err(|_| LoadError::Corrupt)?.iter().collect()
    };
    non_empty(entries.len())?;
    Ok(entries)
}

/// RDB type 1: the elements one by one, pushed as RPUSH would.
fn load_plain_list(data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Loaded {
    let n = get_len(data, pos).ok_or(LoadError::Corrupt)?;
    non_empty(n as usize)?;
    let mut l = List::new();
    for _ in 0..n {
        l.push_back(&get_string(data, pos).ok_or(LoadError::Corrupt)?, opts.list_fill);
    }
    Ok(Value::List(Box::new(l)))
}

/// RDB types 14 (ziplist nodes) and 18 (listpack or plain nodes): each node as it comes,
/// empty ones skipped as Redis skips them; a listpack if one small packed node remains.
/// (A plain node is not remembered as such: it is written back as a listpack of one
/// element unless it reaches 1 GB, see `List::nodes`.)
fn load_quicklist(ty: u8, data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Loaded {
    let corrupt = LoadError::Corrupt;
    let nodes = get_len(data, pos).ok_or(corrupt)?;
    let mut l = List::new();
    let mut buf = Vec::new();
    let mut plain = false;
    for _ in 0..nodes {
        let container =
            if ty == types::LIST_QUICKLIST_2 { get_len(data, pos).ok_or(corrupt)? } else { CONTAINER_PACKED };
        let blob = get_string(data, pos).ok_or(corrupt)?;
        match container {
            CONTAINER_PLAIN => {
                buf.clear();
                push_entry(&mut buf, Entry::of(&blob));
                l.append_node(&buf, 1);
                plain = true;
            }
            CONTAINER_PACKED => {
                let entries: Vec<Entry> = if ty == types::LIST_QUICKLIST {
                    ziplist::parse(&blob).map_err(|_| corrupt)?
                } else {
                    ListPack::parse(&blob).map_err(|_| corrupt)?.iter().collect()
                };
                l.append_node(canonical_entries(&entries, &mut buf), entries.len());
            }
            _ => return Err(corrupt),
        }
    }
    non_empty(l.len())?;
    // A plain node keeps the list a quicklist (listTypeTryConvertQuicklist).
    if !plain {
        l.loaded(opts.list_fill);
    }
    Ok(Value::List(Box::new(l)))
}

/// `entries` encoded into `buf` canonically (a string with an integer form as the
/// integer), the form every list operation compares in; Redis's own nodes come out as
/// they were.
fn canonical_entries<'b>(entries: &[Entry<'_>], buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    for &e in entries {
        push_entry(
            buf,
            match e {
                Entry::Str(s) => Entry::of(s),
                int => int,
            },
        );
    }
    buf
}

fn push_entry(buf: &mut Vec<u8>, e: Entry<'_>) {
    let at = buf.len();
    buf.resize(at + e.encoded_len(), 0);
    e.write(&mut buf[at..]);
}

/// RDB type 2: members one by one, the encoding evolving as rdbLoadObject's does (an
/// intset while every member is an integer and the count allows, then a listpack while
/// the limits allow, then a table).
fn load_plain_set(data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Loaded {
    let n = get_len(data, pos).ok_or(LoadError::Corrupt)?;
    non_empty(n as usize)?;
    let mut s = Set::default();
    if n > opts.set.intset_entries as u64 {
        s.convert_to_table(bounded(n, data, *pos));
    }
    for _ in 0..n {
        let m = get_string(data, pos).ok_or(LoadError::Corrupt)?;
        if !s.add(&m, opts.set) {
            return Err(LoadError::Corrupt);
        }
    }
    Ok(Value::Set(Box::new(s)))
}

/// rdbLoadDoubleValue: a length byte (253 NaN, 254 +inf, 255 -inf) and the text.
fn get_text_double(data: &[u8], pos: &mut usize) -> Option<f64> {
    let len = *data.get(*pos)?;
    *pos += 1;
    match len {
        253 => Some(f64::NAN),
        254 => Some(f64::INFINITY),
        255 => Some(f64::NEG_INFINITY),
        n => {
            let text = data.get(*pos..*pos + n as usize)?;
            *pos += n as usize;
            // Redis reads it with sscanf("%lg"): no NaN here either (refused below).
            parse_f64(text)
        }
    }
}

/// RDB types 3 and 5: (member, score) pairs, built as a skiplist then converted to a
/// listpack when every threshold allows (zsetConvertToListpackIfNeeded).
fn load_plain_zset(ty: u8, data: &[u8], pos: &mut usize, opts: &LoadOpts) -> Loaded {
    let corrupt = LoadError::Corrupt;
    let n = get_len(data, pos).ok_or(corrupt)?;
    non_empty(n as usize)?;
    let mut items = Vec::new();
    for _ in 0..n {
        let member = CompactBytes::new(&get_string(data, pos).ok_or(corrupt)?);
        let score = if ty == types::ZSET_2 {
            let b = data.get(*pos..*pos + 8).ok_or(corrupt)?;
            *pos += 8;
            f64::from_le_bytes(b.try_into().map_err(|_| corrupt)?)
        } else {
            get_text_double(data, pos).ok_or(corrupt)?
        };
        items.push((score, member));
    }
    zset_of(items, opts.zset)
}

/// A sorted set of `items` in any order: refused with a NaN score or a duplicate member.
fn zset_of(mut items: Vec<(f64, CompactBytes)>, limits: zset::Limits) -> Loaded {
    if items.iter().any(|(s, _)| s.is_nan()) {
        return Err(LoadError::Corrupt);
    }
    items.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    if items.windows(2).any(|w| w[0].1 == w[1].1) {
        return Err(LoadError::Corrupt);
    }
    items.sort_by(|a, b| zset::tree::cmp_key(a.0, &a.1, b.0, &b.1));
    Ok(Value::ZSet(Box::new(ZSet::from_sorted(items, limits))))
}

#[cfg(test)]
mod tests;
