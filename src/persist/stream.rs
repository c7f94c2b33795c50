//! A stream's RDB encoding, type 21 (RDB_TYPE_STREAM_LISTPACKS_3), as Redis 7.2's
//! rdbSaveObject writes it, for RDB files and DUMP payloads:
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
//! Redis holds, since our nodes end where Redis's do.

use crate::data::stream::{Stream, StreamId};

use super::rdb::{put_len, put_string};

/// The RDB type byte of the encoding `encode` writes.
pub const RDB_TYPE_STREAM_LISTPACKS_3: u8 = 21;

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

#[cfg(test)]
mod tests;
