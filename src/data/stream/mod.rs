//! Streams (Redis's t_stream.c data half, stream.h): entries keyed by 128-bit ids, and the
//! consumer groups that read them (`group`).
//!
//! Representation
//! --------------
//!
//! Entries live in *nodes*, exactly the ones Redis would have: an ordered map from each
//! node's master id (the id of the first entry put into it) to the node. Redis keeps a node
//! as a listpack in a rax; we keep the same entries in our own, smaller encoding, and with
//! each node the numbers Redis's listpack would hold: live and deleted counts and the
//! listpack's byte size (`lp_bytes`, maintained entry by entry with `listpack::Entry`'s
//! sizes). That size and the counts decide, as in Redis 7.2's streamAppendItem, when an
//! append starts a new node (`lpBytes + the new fields' and values' lengths >=
//! stream-node-max-bytes`, or `live + deleted >= stream-node-max-entries`), so that
//! approximate trimming, which removes whole nodes only, returns Redis's counts, XINFO
//! shows Redis's `radix-tree-keys`, and each node can be written as the very listpack
//! Redis would have written.
//!
//! A node's bytes (`node.rs`):
//!
//! ```text
//! master:  <n: varint> <field piece> * n
//! entry:   <head> [id bytes] [<n: varint> <field piece> <value piece> ...] | <value piece> * n
//! head:    flags (bits 0-1: Redis's DELETED=1, SAMEFIELDS=2) | id kind << 2 | param << 4
//! piece:   <len << 1: varint> <bytes>, or <zigzag(i) << 1 | 1: varint> for a canonical
//!          integer string (the strings Redis's listpack stores as integers)
//! ```
//!
//! An entry's id is written against the previous entry's: the first entry is the master id
//! (nothing written); "same ms, seq + 1 + param" and "ms + param, seq 0" cost only the head
//! byte, which is what `*` ids look like; otherwise a varint ms difference (and seq).
//! Like Redis, an entry whose fields are the master's (SAMEFIELDS) stores only its values.
//! XDEL and exact trimming only set the DELETED flag in place and move the counts; a node
//! goes when its last live entry is deleted by XDEL, or when trimming removes it whole.
//!
//! Why not Redis's listpack bytes: for the typical small event (`name alice action login ts
//! 1700000000`, `*` ids) a listpack entry takes 28 bytes (flags, ms and seq differences,
//! three values and lp-count, each with its own backlen byte); ours takes 18. The backlens
//! and lp-count exist to walk a listpack backwards; we walk a node backwards by decoding it
//! forwards once (a node is bounded by stream-node-max-bytes / -entries, and Redis's own
//! forward seek into a node costs the same). Integer values are formatted into a scratch
//! buffer on reads, as Redis's lpGet does. See docs/ARCHITECTURE.md for the figures.
//!
//! Complexity: an append goes into the last node (O(1) amortized); finding an id is a map
//! lookup and a walk of one node; a range walks from there. The counters (`last_id`,
//! `first_id`, `max_deleted_entry_id`, `entries_added`) are Redis's, with its meaning.
//! `rax_nodes` derives the size of Redis's radix tree from the master ids (`rax.rs`), and
//! `listpacks` gives each node as Redis's listpack (`listpacks.rs`), which
//! `persist::stream` writes as RDB type 21.

pub mod group;

mod listpacks;
mod node;
mod rax;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;

use node::Node;

pub use group::{Consumer, ConsumerGroup, PendingEntry};
pub use listpacks::LoadError;

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
    /// Nodes by master id.
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    length: u64,
    /// Id of the last entry ever added (0-0 for a stream never written, or set by XSETID).
    pub last_id: StreamId,
    /// Id of the first live entry (0-0 when empty).
    pub first_id: StreamId,
    /// Highest id ever deleted by XDEL (trimming does not move it, as in Redis), 0-0 if none.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added (XADD count, or set by XSETID ENTRIESADDED).
    pub entries_added: u64,
    /// Consumer groups by name, in byte order (Redis's rax order).
    pub groups: BTreeMap<Vec<u8>, ConsumerGroup>,
}

/// Largest listpack Redis lets a node grow to (STREAM_LISTPACK_MAX_SIZE).
const NODE_MAX_SIZE: usize = 1 << 30;

impl NodeLimits {
    /// stream-node-max-bytes as streamAppendItem applies it: 0 or above 1 GiB means 1 GiB.
    fn bytes(self) -> usize {
        if self.max_bytes == 0 || self.max_bytes > NODE_MAX_SIZE {
            NODE_MAX_SIZE
        } else {
            self.max_bytes
        }
    }
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    /// Append an entry with `fields` = [f1, v1, f2, v2, ...] (non-empty, even count). The
    /// caller has checked `id > last_id`. Updates `last_id`, `entries_added`, `first_id`.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        debug_assert!(id > self.last_id || (self.entries_added == 0 && self.last_id == StreamId::MIN));
        let added: usize = fields.iter().map(|f| f.len()).sum();
        match self.nodes.last_entry() {
            Some(mut tail)
                if tail.get().lp_bytes + added < limits.bytes()
                    && (limits.max_entries == 0
                        || ((tail.get().live + tail.get().deleted) as usize) < limits.max_entries) =>
            {
                let master = *tail.key();
                tail.get_mut().push(master, id, fields);
            }
            tail => {
                if let Some(mut tail) = tail {
                    tail.get_mut().seal();
                }
                self.nodes.insert(id, Node::new(id, fields));
            }
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The node holding `id` if any: its master id and the entry.
    fn find(&self, id: StreamId) -> Option<(StreamId, node::Ent)> {
        let (&master, node) = self.nodes.range(..=id).next_back()?;
        if node.last < id {
            return None;
        }
        let e = node.cursor(master).find(|e| e.id >= id)?;
        (e.id == id && e.live()).then_some((master, e))
    }

    /// Whether an entry with this id is live.
    pub fn contains(&self, id: StreamId) -> bool {
        self.find(id).is_some()
    }

    /// Visit the live entries with `start <= id <= end`, in ascending order (descending if
    /// `rev`), as (id, [f1, v1, ...]); stop when `f` returns false.
    pub fn visit(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(StreamId, &[&[u8]]) -> bool) {
        if start > end {
            return;
        }
        let mut out = Parts::default();
        if !rev {
            let from = self.nodes.range(..=start).next_back().map_or(start, |(&k, _)| k);
            for (&master, node) in self.nodes.range(from..) {
                if master > end {
                    return;
                }
                if node.live == 0 || node.last < start {
                    continue;
                }
                for e in node.cursor(master) {
                    if e.id > end {
                        return;
                    }
                    if e.id >= start && e.live() && !out.emit(node, &e, &mut f) {
                        return;
                    }
                }
            }
        } else {
            // A node is walked forwards; its entries in range are then taken backwards.
            let mut ents = Vec::new();
            for (&master, node) in self.nodes.range(..=end).rev() {
                if node.last < start {
                    return;
                }
                if node.live == 0 {
                    continue;
                }
                ents.clear();
                ents.extend(node.cursor(master).take_while(|e| e.id <= end).filter(|e| e.id >= start && e.live()));
                for e in ents.iter().rev() {
                    if !out.emit(node, e, &mut f) {
                        return;
                    }
                }
            }
        }
    }

    /// The first (or, with `last`, the last) live entry's id.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let live = |(&master, node): (&StreamId, &Node)| {
            if node.live == 0 {
                return None;
            }
            let mut entries = node.cursor(master).filter(|e| e.live());
            if last { entries.last() } else { entries.next() }.map(|e| e.id)
        };
        if last {
            self.nodes.iter().rev().find_map(live)
        } else {
            self.nodes.iter().find_map(live)
        }
    }

    /// Delete one entry; false if it was not there. Keeps `first_id` true; the caller
    /// updates `max_deleted_entry_id` (XDEL does, trimming does its own).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((master, e)) = self.find(id) else { return false };
        let node = self.nodes.get_mut(&master).expect("found node");
        // streamIteratorRemoveEntry: the last live entry takes its node with it.
        if node.live == 1 {
            self.nodes.remove(&master);
        } else {
            node.mark_deleted(e.head);
        }
        self.length -= 1;
        if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// XTRIM/XADD trimming (streamTrim): remove entries from the head while the stream is
    /// longer than `maxlen` (MAXLEN) or they are below `minid` (MINID). With `approx`,
    /// only whole nodes go (Redis's node boundaries). A `limit` (0: none) stops before a
    /// node whose live entries would take the count removed past it. Returns the count
    /// removed; updates `first_id` as Redis does (`max_deleted_entry_id` stays: Redis's
    /// trimming leaves it).
    pub fn trim(&mut self, strategy: Trim, approx: bool, limit: u64, _limits: NodeLimits) -> u64 {
        let mut removed = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = strategy {
                if self.length <= max {
                    break;
                }
            }
            let entries = first.get().live as u64;
            if limit != 0 && removed + entries > limit {
                break;
            }
            let whole = match strategy {
                Trim::MaxLen(max) => self.length - entries >= max,
                // The node's last entry, deleted or not (lpGetEdgeStreamID).
                Trim::MinId(min) => first.get().last < min,
            };
            if whole {
                first.remove();
                self.length -= entries;
                removed += entries;
                continue;
            }
            if approx {
                break;
            }
            // Flag entries deleted up to the bound; the node stays, even with no live entry
            // left (MINID below a trailing deleted entry), as in Redis.
            let master = *first.key();
            let node = first.get_mut();
            let mut heads = Vec::new();
            let mut length = self.length;
            for e in node.cursor(master) {
                let stop = match strategy {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if e.live() {
                    heads.push(e.head);
                    length -= 1;
                }
            }
            let n = heads.len() as u32;
            for head in heads {
                node.mark_deleted(head);
            }
            debug_assert_eq!(self.length - length, n as u64);
            self.length = length;
            removed += n as u64;
            break;
        }
        self.first_id = if self.length == 0 { StreamId::MIN } else { self.edge_id(false).unwrap_or(StreamId::MIN) };
        removed
    }

    /// Nodes (XINFO STREAM radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Nodes of Redis's radix tree over the master ids (XINFO STREAM radix-tree-nodes).
    pub fn rax_nodes(&self) -> usize {
        rax::count_nodes(self.nodes.keys())
    }

    /// Bytes owned (MEMORY USAGE / INFO): node buffers, the map's slots, the groups.
    pub fn heap_size(&self) -> usize {
        const SLOT: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>();
        self.nodes.values().map(|n| n.heap_size() + SLOT).sum::<usize>()
            + self.groups.values().map(|g| g.heap_size()).sum::<usize>()
    }
}

/// Where one string handed to `visit`'s callback lies.
#[derive(Clone, Copy)]
enum Span {
    /// In the node's bytes.
    Data(usize, usize),
    /// An integer's decimal form in `Parts::nums`.
    Num(usize, usize),
}

/// `visit`'s scratch: the spans of the current entry, the decimal forms of its integers,
/// and the slice vector handed out, all reused from entry to entry.
#[derive(Default)]
struct Parts {
    nums: Vec<u8>,
    spans: Vec<Span>,
    store: Vec<&'static [u8]>,
}

/// An empty vector of slices with another lifetime, keeping the allocation (an in-place
/// collect: the element type is the same).
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| &[][..]).collect()
}

impl Parts {
    fn span(&mut self, p: node::Piece) -> Span {
        match p {
            node::Piece::Str(a, b) => Span::Data(a, b),
            node::Piece::Int(v) => {
                let a = self.nums.len();
                self.nums.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                Span::Num(a, self.nums.len())
            }
        }
    }

    fn emit(&mut self, node: &Node, e: &node::Ent, f: &mut impl FnMut(StreamId, &[&[u8]]) -> bool) -> bool {
        self.nums.clear();
        self.spans.clear();
        node.pieces(e, |k, v| {
            let k = self.span(k);
            let v = self.span(v);
            self.spans.push(k);
            self.spans.push(v);
        });
        let data = node.data();
        let mut parts = recycle(std::mem::take(&mut self.store));
        parts.extend(self.spans.iter().map(|s| match *s {
            Span::Data(a, b) => &data[a..b],
            Span::Num(a, b) => &self.nums[a..b],
        }));
        let go = f(e.id, &parts);
        self.store = recycle(parts);
        go
    }
}

/// How to trim (XADD/XTRIM's MAXLEN or MINID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}
