//! A stream's RDB encoding, type 21 (RDB_TYPE_STREAM_LISTPACKS_3), as Redis 7.2's
//! rdbSaveObject writes it, for RDB files and DUMP payloads (`decode_version` also reads
//! the older types 15 and 19):
//!
//! ```text
//! <nodes: len> (<master id: 16-byte big-endian string> <node listpack: string>) * nodes
//! <length: len> <last id: len ms, len seq> <first id> <max deleted id> <entries added: len>
//! <groups: len> (<name: string> <last id> <entries read: len, 2^64-1 when unknown>
//!                <PEL: len> (<id: 16 raw bytes> <delivery time: 8 bytes LE ms> <count: len>) *
//!                <consumers: len> (<name: string> <seen time: 8 bytes LE> <active time: 8 bytes LE>
//!                                  <PEL: len> <id: 16 raw bytes> *) *) *
//! ```
//!
//! The node listpacks come from `data::stream` (`Stream::listpacks`), byte for byte the ones
//! Redis holds, since our nodes end where Redis's do. `decode` reads the same from outside
//! (an RDB file, a RESTORE payload): every length and string checked, each node through
//! `Stream::load_listpack`, and the groups as rdbLoadObject checks them (no duplicate group,
//! consumer or PEL id; a consumer's PEL ids in its group's PEL, each owned by one consumer,
//! every one owned). It never panics and allocates no more than the input holds.

use std::collections::BTreeSet;

use crate::data::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamId};

use super::rdb::{get_len, get_string, put_len, put_string};

/// The RDB type byte of the encoding `encode` writes.
pub const RDB_TYPE_STREAM_LISTPACKS_3: u8 = 21;
const RDB_TYPE_STREAM_LISTPACKS: u8 = 15;
const RDB_TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// An id as rax keys and PELs hold it.
fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// The value of `s` (without the type byte), `compress` being rdbcompression.
pub fn encode(s: &Stream, out: &mut Vec<u8>, compress: bool) {
    put_len(out, s.node_count() as u64);
    for (master, lp) in s.listpacks() {
        put_string(out, &id_bytes(master), compress);
        put_string(out, &lp, compress);
    }
    put_len(out, s.len());
    put_id(out, s.last_id);
    put_id(out, s.first_id);
    put_id(out, s.max_deleted_entry_id);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, compress);
        put_id(out, g.last_id);
        // SCG_INVALID_ENTRIES_READ is -1, written as an unsigned length.
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for (&id, p) in &g.pel {
            out.extend_from_slice(&id_bytes(id));
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (name, c) in &g.consumers {
            put_string(out, name, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            out.extend_from_slice(&c.active_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for &id in &c.pel {
                out.extend_from_slice(&id_bytes(id));
            }
        }
    }
}

fn id_of(b: &[u8]) -> Option<StreamId> {
    let b: &[u8; 16] = b.try_into().ok()?;
    let (ms, seq) = b.split_at(8);
    Some(StreamId::new(u64::from_be_bytes(ms.try_into().ok()?), u64::from_be_bytes(seq.try_into().ok()?)))
}

fn raw<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let b = data.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(b)
}

fn get_raw_id(data: &[u8], pos: &mut usize) -> Option<StreamId> {
    id_of(raw(data, pos, 16)?)
}

fn get_ms_time(data: &[u8], pos: &mut usize) -> Option<i64> {
    Some(i64::from_le_bytes(raw(data, pos, 8)?.try_into().ok()?))
}

fn get_id(data: &[u8], pos: &mut usize) -> Option<StreamId> {
    Some(StreamId::new(get_len(data, pos)?, get_len(data, pos)?))
}

/// A type-21 value at `*pos` (advanced past it), or None if it is malformed.
pub fn decode(data: &[u8], pos: &mut usize) -> Option<Stream> {
    decode_version(data, pos, RDB_TYPE_STREAM_LISTPACKS_3)
}

/// A stream of RDB type `ty`: 21, or the older 19 (no consumer active time: Redis takes
/// the seen time) and 15 (neither the first and max deleted ids nor the entries-added and
/// entries-read counters: Redis derives them as below).
pub fn decode_version(data: &[u8], pos: &mut usize, ty: u8) -> Option<Stream> {
    if ![RDB_TYPE_STREAM_LISTPACKS, RDB_TYPE_STREAM_LISTPACKS_2, RDB_TYPE_STREAM_LISTPACKS_3].contains(&ty) {
        return None;
    }
    let mut s = Stream::new();
    for _ in 0..get_len(data, pos)? {
        let master = id_of(&get_string(data, pos)?)?;
        s.load_listpack(master, &get_string(data, pos)?).ok()?;
    }
    if get_len(data, pos)? != s.len() {
        return None;
    }
    s.last_id = get_id(data, pos)?;
    if s.edge_id(true).is_some_and(|last| last > s.last_id) {
        return None;
    }
    if ty >= RDB_TYPE_STREAM_LISTPACKS_2 {
        s.first_id = get_id(data, pos)?;
        s.max_deleted_entry_id = get_id(data, pos)?;
        s.entries_added = get_len(data, pos)?;
    } else {
        // streamGetEdgeID of an empty stream is the maximal id.
        s.first_id = s.edge_id(false).unwrap_or(StreamId::MAX);
        s.max_deleted_entry_id = StreamId::MIN;
        s.entries_added = s.len();
    }
    for _ in 0..get_len(data, pos)? {
        let name = get_string(data, pos)?.into_owned();
        let mut g = ConsumerGroup { last_id: get_id(data, pos)?, ..Default::default() };
        g.entries_read = if ty >= RDB_TYPE_STREAM_LISTPACKS_2 {
            Some(get_len(data, pos)?).filter(|&n| n != u64::MAX)
        } else {
            s.counters().estimate_distance(g.last_id)
        };
        for _ in 0..get_len(data, pos)? {
            let id = get_raw_id(data, pos)?;
            let delivery_time = get_ms_time(data, pos)?;
            let delivery_count = get_len(data, pos)?;
            let p = PendingEntry { delivery_time, delivery_count, consumer: Vec::new() };
            if g.pel.insert(id, p).is_some() {
                return None;
            }
        }
        let mut owned = BTreeSet::new();
        for _ in 0..get_len(data, pos)? {
            let cname = get_string(data, pos)?.into_owned();
            let seen_time = get_ms_time(data, pos)?;
            let active_time = if ty >= RDB_TYPE_STREAM_LISTPACKS_3 { get_ms_time(data, pos)? } else { seen_time };
            let mut c = Consumer { seen_time, active_time, ..Default::default() };
            for _ in 0..get_len(data, pos)? {
                let id = get_raw_id(data, pos)?;
                let p = g.pel.get_mut(&id)?;
                if !owned.insert(id) {
                    return None;
                }
                p.consumer.clone_from(&cname);
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return None;
            }
        }
        if owned.len() != g.pel.len() || s.groups.insert(name, g).is_some() {
            return None;
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests;
