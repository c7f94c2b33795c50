//! Streams (Redis's t_stream.c data half, stream.h): entries keyed by 128-bit ids, and the
//! consumer groups that read them (`group`).
//!
//! SKELETON (issue 21, first step): the entries are a plain ordered map from id to the
//! entry's flat field/value list, so the command handlers can be written and tested while
//! the packed representation is built behind this same API. The counters (`last_id`,
//! `first_id`, `max_deleted_entry_id`, `entries_added`) are Redis's, with its meaning.

pub mod group;

use std::collections::BTreeMap;

pub use group::{Consumer, ConsumerGroup, PendingEntry};

/// A stream entry id: milliseconds and sequence number (Redis's streamID).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id (streamIncrID); None past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous id (streamDecrID); None before the minimum.
    pub fn decr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// "ms-seq", as replies show it.
    pub fn write(&self, buf: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        buf.extend_from_slice(b.format(self.ms).as_bytes());
        buf.push(b'-');
        buf.extend_from_slice(b.format(self.seq).as_bytes());
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        self.write(&mut v);
        v
    }
}

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`), passed by the caller.
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

#[derive(Clone, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Box<[Box<[u8]>]>>,
    /// Id of the last entry ever added (0-0 for a stream never written, or set by XSETID).
    pub last_id: StreamId,
    /// Id of the first live entry (0-0 when empty).
    pub first_id: StreamId,
    /// Highest id ever deleted (XDEL, trimming), 0-0 if none.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added (XADD count, or set by XSETID ENTRIESADDED).
    pub entries_added: u64,
    /// Consumer groups by name, in byte order (Redis's rax order).
    pub groups: BTreeMap<Vec<u8>, ConsumerGroup>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    /// Append an entry with `fields` = [f1, v1, f2, v2, ...] (non-empty, even count). The
    /// caller has checked `id > last_id`. Updates `last_id`, `entries_added`, `first_id`.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], _limits: NodeLimits) {
        debug_assert!(id > self.last_id || (self.entries_added == 0 && self.last_id == StreamId::MIN));
        if self.entries.is_empty() {
            self.first_id = id;
        }
        self.entries.insert(id, fields.iter().map(|f| Box::<[u8]>::from(*f)).collect());
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Whether an entry with this id is live.
    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Visit the live entries with `start <= id <= end`, in ascending order (descending if
    /// `rev`), as (id, [f1, v1, ...]); stop when `f` returns false.
    pub fn visit(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(StreamId, &[&[u8]]) -> bool) {
        if start > end {
            return;
        }
        let mut scratch: Vec<&[u8]> = Vec::new();
        let range = self.entries.range(start..=end);
        let iter: Box<dyn Iterator<Item = (&StreamId, &Box<[Box<[u8]>]>)>> =
            if rev { Box::new(range.rev()) } else { Box::new(range) };
        for (id, e) in iter {
            scratch.clear();
            scratch.extend(e.iter().map(|x| &**x));
            if !f(*id, &scratch) {
                return;
            }
        }
    }

    /// The first (or, with `last`, the last) live entry's id.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        if last {
            self.entries.keys().next_back().copied()
        } else {
            self.entries.keys().next().copied()
        }
    }

    /// Delete one entry; false if it was not there. Keeps `first_id` true; the caller
    /// updates `max_deleted_entry_id` (XDEL does, trimming does its own).
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// XTRIM/XADD trimming (streamTrim): remove entries from the head while the stream is
    /// longer than `maxlen` (MAXLEN) or they are below `minid` (MINID). With `approx`,
    /// only whole nodes go (Redis's node boundaries), and at most `limit` entries (0: no
    /// limit) are removed. Returns the count removed; updates `first_id`. Redis 7.2 leaves
    /// `max_deleted_entry_id` as it was (XINFO STREAM shows 0-0 after an XTRIM).
    pub fn trim(&mut self, strategy: Trim, approx: bool, limit: u64, _limits: NodeLimits) -> u64 {
        // SKELETON: exact trimming only (the packed nodes bring the approximate form).
        let _ = approx;
        let mut removed = 0u64;
        loop {
            if limit != 0 && removed >= limit && approx {
                break;
            }
            let Some(first) = self.edge_id(false) else { break };
            let go = match strategy {
                Trim::MaxLen(n) => self.len() > n,
                Trim::MinId(min) => first < min,
            };
            if !go {
                break;
            }
            self.entries.remove(&first);
            removed += 1;
        }
        self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        removed
    }

    /// Listpack nodes (XINFO STREAM radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.entries.len().div_ceil(100)
    }

    /// Approximate bytes owned (MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        self.entries.values().map(|e| 48 + e.iter().map(|f| f.len() + 16).sum::<usize>()).sum::<usize>()
            + self.groups.values().map(|g| g.heap_size()).sum::<usize>()
    }
}

/// How to trim (XADD/XTRIM's MAXLEN or MINID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}
