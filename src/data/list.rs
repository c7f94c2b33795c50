//! Lists (Redis's quicklist.c and listpack.c): the representation. The commands are in
//! `types::list` (t_list.c).
//!
//! Representation
//! --------------
//!
//! A list is a deque of *chunks*; a chunk is one byte buffer holding a run of entries packed
//! back to back in exactly Redis's listpack entry format:
//!
//! ```text
//! <encoding+length><data><backlen>
//! ```
//!
//! A canonical integer string ("42", "-7", not "007" or "+1") is stored as a 1..9 byte
//! little-endian integer (a 0..127 value is a single byte), any other string as a 1, 2 or
//! 5 byte length header and its bytes. `backlen` is the size of the first two parts, in one
//! to five 7-bit groups read from right to left, so a chunk can be walked from either end.
//! A small element therefore costs its bytes plus 2 (strings) or 1..10 bytes in all
//! (integers), the same as a Redis listpack, and there is no pointer, no allocation and no
//! length word per element.
//!
//! The entry format itself is `data::listpack`'s: an element is a `listpack::Entry`,
//! written with `Entry::write` and read with `read_entry_trusted` / `entry_before_trusted`,
//! the unchecked instantiation of the codec's reader (the chunks hold only bytes written
//! here, so the hot path pays no validation; bytes from outside go through
//! `ListPack::parse`). A value to compare with (LPOS, LREM, LINSERT's pivot) is
//! `Entry::of` of it: a string with an integer form is never stored as bytes, so `==` on
//! entries is equality of the strings.
//!
//! Why this shape:
//!
//! * Memory. A 10M-element list of 12-byte strings is ~17,000 chunks of 8 KB: per element
//!   we pay exactly what a listpack pays; per chunk a 40-byte slot in the deque (no separate node
//!   allocation, no 7-byte listpack header/terminator, no compression bookkeeping), and
//!   interior chunks are trimmed to their exact size when a new end chunk starts, so the
//!   allocator slack stays below one element per chunk. Redis pays a 32-byte node
//!   allocation plus the listpack header per node.
//! * O(1) at both ends. Unlike a listpack, which is reallocated and memmoved on every push
//!   at its head, a chunk keeps *headroom on both sides* of its data: pushing writes the
//!   entry in place before `start` or after `end`, popping just moves `start` or `end`.
//!   Only when one side runs out is the data recentred or moved into a buffer twice as
//!   large (bounded by the node size limit), which amortizes to O(1) per push. The end
//!   chunks are the only ones with headroom.
//! * Same encoding decisions as Redis. Because the bytes are listpack bytes, a chunk's
//!   size is exactly the `lpBytes` Redis compares with `list-max-listpack-size` (plus the
//!   7 header/terminator bytes we don't store, added back in `lp_bytes`). So OBJECT
//!   ENCODING follows Redis 7.2: "listpack" while the list is one node within the limit;
//!   "quicklist" once a push would exceed it (listTypeTryConversionAppend); back to
//!   "listpack" when, after a removal, the quicklist is one node under *half* the limit
//!   (listTypeTryConvertQuicklist, the half avoiding flapping). In quicklist mode a push
//!   goes into the end chunk while `node bytes + element + 8` stays within the limit
//!   (_quicklistNodeAllowInsert), otherwise into a new chunk; an element larger than the
//!   limit gets a chunk of its own (Redis's plain node). The limit is 4/8/16/32/64 KB for
//!   list-max-listpack-size -1..-5, or N entries (and at most 8 KB) for a positive N.
//! * The middle is O(chunk): LINDEX/LSET/LINSERT walk whole chunks by their counts, then
//!   entries inside one chunk from its nearer end; LINSERT and LSET splice one chunk and
//!   split it in two when it outgrows the limit; LREM and LTRIM compact chunk by chunk.
//!
//! RDB and DUMP write each chunk as one quicklist node (`List::nodes`; a listpack-encoded
//! list as its one listpack), and loading appends each node as a chunk (`append_node`,
//! then `loaded` picks the encoding), so node boundaries survive a round trip and equal
//! Redis's as long as the list was built by pushes and pops at its ends.
//!
//! list-compress-depth is accepted as configuration but nodes are never compressed: LZF
//! on 8 KB nodes trades CPU on every access to interior nodes for memory most queue-like
//! lists never need, and it can be added per chunk later without changing the format.

use std::borrow::Cow;
use std::collections::VecDeque;

use smallvec::SmallVec;

use super::listpack::{entry_before_trusted, read_entry_trusted, Entry, EMPTY_SIZE};

// ---------------------------------------------------------------------------------------
// Sizes (the entries themselves are data::listpack's)
// ---------------------------------------------------------------------------------------

/// Header (total bytes + count) and terminator of a Redis listpack: part of the `lpBytes`
/// Redis compares against the limits, not stored here (the chunk knows both).
const LP_OVERHEAD: usize = EMPTY_SIZE;
/// Quicklist's overestimate of one insertion's cost (SIZE_ESTIMATE_OVERHEAD).
const INSERT_ESTIMATE: usize = 8;
/// A node of a count-limited list never exceeds this many bytes (SIZE_SAFETY_LIMIT).
const SAFETY_LIMIT: usize = 8192;
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// An element this large is a node of its own that RDB and DUMP write as a PLAIN container
/// (Redis 7.2's packed_threshold, 1 GB: below it even a node of one element is a listpack).
/// DEBUG QUICKLIST-PACKED-THRESHOLD changes it, for the whole process as in Redis.
pub const PLAIN_THRESHOLD_DEFAULT: usize = 1 << 30;
static PLAIN_THRESHOLD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(PLAIN_THRESHOLD_DEFAULT);

/// quicklistSetPackedThreshold: 0 restores the default; false past 4 GB - 1 MB.
pub fn set_plain_threshold(bytes: u64) -> bool {
    if bytes > (1u64 << 32) - (1 << 20) {
        return false;
    }
    let v = if bytes == 0 { PLAIN_THRESHOLD_DEFAULT } else { bytes as usize };
    PLAIN_THRESHOLD.store(v, std::sync::atomic::Ordering::Relaxed);
    true
}

/// The entry's bytes, on the stack when short (an LSET or LINSERT splices them in).
fn encode(e: Entry<'_>) -> SmallVec<[u8; 64]> {
    let mut buf = SmallVec::from_elem(0, e.encoded_len());
    e.write(&mut buf);
    buf
}

// ---------------------------------------------------------------------------------------
// Node size limits (list-max-listpack-size)
// ---------------------------------------------------------------------------------------

/// The list-max-listpack-size in force for one command.
#[derive(Clone, Copy, Debug)]
pub struct Fill(pub i64);

impl Fill {
    /// (bytes, entries) a node may hold (quicklistNodeLimit).
    fn limits(self) -> (usize, usize) {
        if self.0 >= 0 {
            (usize::MAX, if self.0 == 0 { 1 } else { self.0.min(u32::MAX as i64) as usize })
        } else {
            let level = (self.0.unsigned_abs() - 1).min(4) as usize;
            (SIZE_LEVELS[level], usize::MAX)
        }
    }

    /// The fill as a quicklist stores it (quicklistSetFill: -5 ..= 32767).
    fn clamped(self) -> i16 {
        self.0.clamp(-5, i16::MAX as i64) as i16
    }

    /// quicklistNodeExceedsLimit.
    fn exceeds(self, bytes: usize, count: usize) -> bool {
        let (sz, cnt) = self.limits();
        if sz != usize::MAX {
            bytes > sz
        } else {
            bytes > SAFETY_LIMIT || count > cnt
        }
    }

    /// An element that gets a node of its own (Redis 7.2's isLargeElement / plain node):
    /// past the node limit, or at least the packed threshold once DEBUG
    /// QUICKLIST-PACKED-THRESHOLD has lowered it.
    fn is_large(self, len: usize) -> bool {
        let (sz, _) = self.limits();
        len > if sz == usize::MAX { SAFETY_LIMIT } else { sz }
            || len >= PLAIN_THRESHOLD.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The most data bytes a node holds: the bound for a chunk's buffer growth.
    fn node_bytes(self) -> usize {
        let (sz, _) = self.limits();
        (if sz == usize::MAX { SAFETY_LIMIT } else { sz }) - LP_OVERHEAD + INSERT_ESTIMATE
    }
}

// ---------------------------------------------------------------------------------------
// Chunk
// ---------------------------------------------------------------------------------------

/// A run of packed entries in `buf[start..end]`, with headroom on both sides.
#[derive(Clone)]
struct Chunk {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    count: u32,
}

impl Chunk {
    fn with_capacity(cap: usize, front: bool) -> Chunk {
        let at = if front { cap } else { 0 };
        Chunk { buf: vec![0u8; cap].into_boxed_slice(), start: at, end: at, count: 0 }
    }

    fn from_bytes(data: &[u8], count: u32) -> Chunk {
        Chunk { buf: data.into(), start: 0, end: data.len(), count }
    }

    #[inline]
    /// One large element: Redis's plain node, which takes no other element.
    fn is_plain(&self, fill: Fill) -> bool {
        self.count == 1 && fill.is_large(read_entry_trusted(&self.buf, self.start).0.str_len())
    }

    fn used(&self) -> usize {
        self.end - self.start
    }

    /// What Redis's listpack of these entries would measure (lpBytes).
    #[inline]
    fn lp_bytes(&self) -> usize {
        LP_OVERHEAD + self.used()
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Ensure `need` free bytes before `start` (front) or after `end`. `both`: this chunk
    /// is both ends of the list, so keep headroom on the other side too. The buffer grows
    /// geometrically up to `max_cap` (the node limit), recentring in place when the
    /// buffer has room enough; each move of the data buys at least half its size in
    /// pushes, so pushes are O(1) amortized.
    fn make_room(&mut self, need: usize, front: bool, both: bool, max_cap: usize) {
        let room = if front { self.start } else { self.buf.len() - self.end };
        if room >= need {
            return;
        }
        let used = self.used();
        let required = used + need;
        let cap = self.buf.len();
        let new_cap = if cap >= required + used / 2 + 8 {
            cap
        } else {
            (2 * cap).max(required + required / 2).max(16).min(max_cap.max(required))
        };
        let free = new_cap - used;
        let before = if both {
            if front {
                free - (free - need) / 2
            } else {
                (free - need) / 2
            }
        } else if front {
            free
        } else {
            0
        };
        if new_cap == cap {
            self.buf.copy_within(self.start..self.end, before);
        } else {
            let mut nb = vec![0u8; new_cap].into_boxed_slice();
            nb[before..before + used].copy_from_slice(self.data());
            self.buf = nb;
        }
        self.start = before;
        self.end = before + used;
    }

    fn push(&mut self, p: Entry<'_>, n: usize, front: bool, both: bool, max_cap: usize) {
        self.make_room(n, front, both, max_cap);
        if front {
            self.start -= n;
            p.write(&mut self.buf[self.start..self.start + n]);
        } else {
            p.write(&mut self.buf[self.end..self.end + n]);
            self.end += n;
        }
        self.count += 1;
    }

    /// Offset of the last entry.
    #[inline]
    fn last_at(&self) -> usize {
        entry_before_trusted(&self.buf, self.end)
    }

    /// Replace `remove` bytes at absolute offset `at` with `insert`.
    fn splice(&mut self, at: usize, remove: usize, insert: &[u8]) {
        let used = self.used();
        let new_used = used - remove + insert.len();
        let tail = at + remove..self.end;
        if self.start + new_used <= self.buf.len() {
            self.buf.copy_within(tail, at + insert.len());
            self.buf[at..at + insert.len()].copy_from_slice(insert);
            self.end = self.start + new_used;
        } else {
            let mut nb = Vec::with_capacity(new_used);
            nb.extend_from_slice(&self.buf[self.start..at]);
            nb.extend_from_slice(insert);
            nb.extend_from_slice(&self.buf[tail]);
            self.buf = nb.into_boxed_slice();
            self.start = 0;
            self.end = new_used;
        }
    }

    /// Give back the headroom (a chunk that stopped being an end of the list, or one that
    /// lost most of its entries).
    fn shrink_to_fit(&mut self) {
        if self.buf.len() != self.used() {
            *self = Chunk::from_bytes(self.data(), self.count);
        }
    }

    fn shrink_if_sparse(&mut self) {
        let cap = self.buf.len();
        if cap > 256 && self.used() * 4 < cap {
            self.shrink_to_fit();
        }
    }

    /// Offset after skipping `n` entries from `from`.
    fn skip(&self, mut at: usize, n: usize) -> usize {
        for _ in 0..n {
            at += read_entry_trusted(&self.buf, at).1;
        }
        at
    }

    /// Offset of entry `i` (0-based) walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            self.skip(self.start, i)
        } else {
            let mut at = self.end;
            for _ in 0..count - i {
                at = entry_before_trusted(&self.buf, at);
            }
            at
        }
    }
}

// ---------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------

/// A node as RDB and DUMP carry it.
pub enum Node<'a> {
    /// A listpack's entries (without header and terminator) and their number.
    Packed { entries: Cow<'a, [u8]>, count: usize },
    /// One element of at least `PLAIN_THRESHOLD` bytes, stored as a bare string.
    Plain(Entry<'a>),
}

#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Encoding as Redis would report it: false = "listpack" (one node within the limit).
    quicklist: bool,
    /// list-max-listpack-size when the list became a quicklist, as Redis's quicklist keeps
    /// it (DEBUG OBJECT's ql_listpack_max); it sits in the padding after `quicklist`.
    created_fill: i16,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>() + self.chunks.iter().map(|c| c.buf.len()).sum::<usize>()
    }

    /// (nodes, the sum of their listpack sizes, the fill it was made with) as a quicklist
    /// would have them (DEBUG OBJECT's ql_nodes, ql_uncompressed_size, ql_listpack_max).
    pub fn quicklist_figures(&self) -> (usize, usize, i16) {
        (self.chunks.len(), self.chunks.iter().map(|c| c.used() + LP_OVERHEAD).sum(), self.created_fill)
    }

    /// Redis's lpBytes of the whole list when it is a listpack.
    fn lp_bytes(&self) -> usize {
        LP_OVERHEAD + self.chunks.iter().map(|c| c.used()).sum::<usize>()
    }

    /// listTypeTryConversionAppend: become a quicklist when adding `add_count` elements of
    /// `add_bytes` string bytes would exceed the node limit.
    pub fn grow_encoding(&mut self, fill: Fill, add_bytes: usize, add_count: usize) {
        if !self.quicklist && fill.exceeds(self.lp_bytes() + add_bytes, self.len + add_count) {
            self.quicklist = true;
            self.created_fill = fill.clamped();
        }
    }

    /// listTypeTryConvertQuicklist after a removal: back to listpack when one node under
    /// half the limit remains.
    pub fn shrink_encoding(&mut self, fill: Fill) {
        self.try_listpack(fill, 2);
    }

    /// listTypeTryConvertQuicklist: back to listpack when one packed node within the
    /// limits divided by `divisor` remains (2 after a removal, 1 after loading).
    fn try_listpack(&mut self, fill: Fill, divisor: usize) {
        if !self.quicklist || self.chunks.len() != 1 {
            return;
        }
        let c = &self.chunks[0];
        if c.is_plain(fill) {
            return;
        }
        let (sz, cnt) = fill.limits();
        if c.lp_bytes() <= sz / divisor && (c.count as usize) <= cnt / divisor {
            self.quicklist = false;
        }
    }

    /// The nodes as RDB and DUMP write them (rdbSaveObject): the list's one listpack, or
    /// each quicklist node, a single element of 1 GB or more as a plain node.
    pub fn nodes(&self) -> Vec<Node<'_>> {
        if !self.quicklist && self.chunks.len() > 1 {
            let mut entries = Vec::with_capacity(self.lp_bytes());
            self.chunks.iter().for_each(|c| entries.extend_from_slice(c.data()));
            return vec![Node::Packed { entries: Cow::Owned(entries), count: self.len }];
        }
        fn node(c: &Chunk) -> Node<'_> {
            let first = read_entry_trusted(&c.buf, c.start).0;
            if c.count == 1 && first.str_len() >= PLAIN_THRESHOLD.load(std::sync::atomic::Ordering::Relaxed) {
                Node::Plain(first)
            } else {
                Node::Packed { entries: Cow::Borrowed(c.data()), count: c.count as usize }
            }
        }
        self.chunks.iter().map(node).collect()
    }

    /// Append a node loaded from outside: `entries` are listpack entries (no header or
    /// terminator) written by `listpack::Entry::write`, `count` of them (a plain node's
    /// element is one such entry). Call `loaded` once all are in.
    pub fn append_node(&mut self, entries: &[u8], count: usize) {
        if count == 0 {
            return;
        }
        let count32 = u32::try_from(count).unwrap_or(u32::MAX);
        self.chunks.push_back(Chunk::from_bytes(entries, count32));
        self.len += count;
        self.quicklist = true;
    }

    /// The encoding of a list just loaded node by node (rdbLoadObject): a listpack when
    /// one packed node within the limit remains.
    pub fn loaded(&mut self, fill: Fill) {
        self.created_fill = fill.clamped();
        self.try_listpack(fill, 1);
    }

    pub fn push_front(&mut self, v: &[u8], fill: Fill) {
        self.grow_encoding(fill, v.len(), 1);
        self.push_entry(v, true, fill);
    }

    pub fn push_back(&mut self, v: &[u8], fill: Fill) {
        self.grow_encoding(fill, v.len(), 1);
        self.push_entry(v, false, fill);
    }

    /// LPUSH/RPUSH of several elements: one encoding decision for the batch, like Redis.
    pub fn push_many(&mut self, items: &[&[u8]], front: bool, fill: Fill) {
        let bytes = items.iter().map(|v| v.len()).sum();
        self.grow_encoding(fill, bytes, items.len());
        for v in items {
            self.push_entry(v, front, fill);
        }
    }

    pub fn push_entry(&mut self, v: &[u8], front: bool, fill: Fill) {
        let p = Entry::of(v);
        let n = p.encoded_len();
        let single = self.chunks.len() == 1;
        let fits = if !self.quicklist {
            true
        } else {
            let end = if front { self.chunks.front() } else { self.chunks.back() };
            end.is_some_and(|c| {
                !(fill.is_large(v.len())
                    || fill.exceeds(c.lp_bytes() + v.len() + INSERT_ESTIMATE, c.count as usize + 1)
                    || c.is_plain(fill))
            })
        };
        let max_cap = if self.quicklist { fill.node_bytes() } else { usize::MAX };
        if fits && !self.chunks.is_empty() {
            let c = if front { self.chunks.front_mut() } else { self.chunks.back_mut() };
            if let Some(c) = c {
                c.push(p, n, front, single, max_cap);
            }
        } else {
            // A new end chunk; the old end becomes interior: give back its headroom.
            if let Some(old) = if front { self.chunks.front_mut() } else { self.chunks.back_mut() } {
                old.shrink_to_fit();
            }
            let cap = if fill.is_large(v.len()) || !self.quicklist { n } else { n.max(max_cap / 8) };
            let mut c = Chunk::with_capacity(cap, front);
            c.push(p, n, front, false, max_cap);
            if front {
                self.chunks.push_front(c);
            } else {
                self.chunks.push_back(c);
            }
        }
        self.len += 1;
    }

    /// Pop one element from an end, handing it to `f` before its bytes go away.
    pub fn pop_with<R>(&mut self, front: bool, f: impl FnOnce(Entry<'_>) -> R) -> Option<R> {
        let c = if front { self.chunks.front_mut()? } else { self.chunks.back_mut()? };
        let r;
        if front {
            let (e, size) = read_entry_trusted(&c.buf, c.start);
            r = f(e);
            c.start += size;
        } else {
            let at = c.last_at();
            r = f(read_entry_trusted(&c.buf, at).0);
            c.end = at;
        }
        c.count -= 1;
        if c.count == 0 {
            if front {
                self.chunks.pop_front();
            } else {
                self.chunks.pop_back();
            }
        } else {
            c.shrink_if_sparse();
        }
        self.len -= 1;
        Some(r)
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop_with(true, |e| e.to_vec())
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop_with(false, |e| e.to_vec())
    }

    /// (chunk, offset) of element `index`, walking from the nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        let (ci, local) = if index < self.len / 2 {
            let mut i = index;
            let mut ci = 0;
            while i >= self.chunks[ci].count as usize {
                i -= self.chunks[ci].count as usize;
                ci += 1;
            }
            (ci, i)
        } else {
            let mut from_end = self.len - 1 - index;
            let mut ci = self.chunks.len() - 1;
            while from_end >= self.chunks[ci].count as usize {
                from_end -= self.chunks[ci].count as usize;
                ci -= 1;
            }
            (ci, self.chunks[ci].count as usize - 1 - from_end)
        };
        Some((ci, self.chunks[ci].offset_of(local)))
    }

    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        let (ci, at) = self.locate(index)?;
        Some(read_entry_trusted(&self.chunks[ci].buf, at).0)
    }

    /// Elements from `index` towards the tail (`forward`) or the head.
    pub fn iter_from(&self, index: usize, forward: bool) -> Iter<'_> {
        match self.locate(index) {
            None => Iter { list: self, ci: 0, at: 0, forward, left: 0 },
            Some((ci, at)) => {
                let left = if forward { self.len - index } else { index + 1 };
                // backward iteration starts after the element: position at its end
                let at = if forward { at } else { at + read_entry_trusted(&self.chunks[ci].buf, at).1 };
                Iter { list: self, ci, at, forward, left }
            }
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, true)
    }

    /// Split a chunk that outgrew the node limit into two halves.
    fn split_if_over(&mut self, ci: usize, fill: Fill) {
        let c = &self.chunks[ci];
        if !self.quicklist || c.count < 2 || !fill.exceeds(c.lp_bytes(), c.count as usize) {
            return;
        }
        let half = c.count as usize / 2;
        let mid = c.skip(c.start, half);
        let left = Chunk::from_bytes(&c.buf[c.start..mid], half as u32);
        let right = Chunk::from_bytes(&c.buf[mid..c.end], c.count - half as u32);
        self.chunks[ci] = left;
        self.chunks.insert(ci + 1, right);
    }

    /// LSET: false if out of range.
    pub fn set(&mut self, index: usize, v: &[u8], fill: Fill) -> bool {
        let Some((ci, at)) = self.locate(index) else { return false };
        let enc = encode(Entry::of(v));
        let c = &mut self.chunks[ci];
        let old = read_entry_trusted(&c.buf, at).1;
        c.splice(at, old, &enc);
        self.split_if_over(ci, fill);
        true
    }

    /// LINSERT: insert `v` before/after the first element equal to `pivot`; false if none.
    pub fn insert_at_pivot(&mut self, pivot: &[u8], v: &[u8], after: bool, fill: Fill) -> bool {
        let probe = Entry::of(pivot);
        let mut found = None;
        'outer: for (ci, c) in self.chunks.iter().enumerate() {
            let mut at = c.start;
            while at < c.end {
                let (e, size) = read_entry_trusted(&c.buf, at);
                if e == probe {
                    found = Some((ci, if after { at + size } else { at }));
                    break 'outer;
                }
                at += size;
            }
        }
        let Some((ci, at)) = found else { return false };
        let enc = encode(Entry::of(v));
        let c = &mut self.chunks[ci];
        c.splice(at, 0, &enc);
        c.count += 1;
        self.len += 1;
        self.split_if_over(ci, fill);
        true
    }

    /// LREM: remove up to `limit` (0 = all) elements equal to `v`, from the tail when
    /// `from_tail`. Returns how many went.
    pub fn remove_matching(&mut self, v: &[u8], limit: usize, from_tail: bool) -> usize {
        let probe = Entry::of(v);
        let mut removed = 0;
        let n = self.chunks.len();
        for k in 0..n {
            if limit != 0 && removed == limit {
                break;
            }
            let ci = if from_tail { n - 1 - k } else { k };
            let c = &mut self.chunks[ci];
            let mut hits: SmallVec<[(usize, usize); 16]> = SmallVec::new();
            let mut at = c.start;
            while at < c.end {
                let (e, size) = read_entry_trusted(&c.buf, at);
                if e == probe {
                    hits.push((at, size));
                }
                at += size;
            }
            let want = if limit == 0 { hits.len() } else { (limit - removed).min(hits.len()) };
            if want == 0 {
                continue;
            }
            let sel = if from_tail { &hits[hits.len() - want..] } else { &hits[..want] };
            // compact: move the kept runs between removed entries down
            let mut w = sel[0].0;
            for (i, &(at, size)) in sel.iter().enumerate() {
                let next = sel.get(i + 1).map_or(c.end, |h| h.0);
                let run = at + size..next;
                let len = run.len();
                c.buf.copy_within(run, w);
                w += len;
            }
            c.end = w;
            c.count -= want as u32;
            removed += want;
            c.shrink_if_sparse();
        }
        self.chunks.retain(|c| c.count > 0);
        self.len -= removed;
        removed
    }

    /// LTRIM: drop `left` elements from the head and `right` from the tail.
    pub fn trim(&mut self, left: usize, right: usize) {
        let mut n = left.min(self.len);
        while n > 0 {
            let Some(c) = self.chunks.front_mut() else { break };
            let k = c.count as usize;
            if k <= n {
                self.chunks.pop_front();
                self.len -= k;
                n -= k;
            } else {
                c.start = c.skip(c.start, n);
                c.count -= n as u32;
                self.len -= n;
                c.shrink_if_sparse();
                n = 0;
            }
        }
        let mut n = right.min(self.len);
        while n > 0 {
            let Some(c) = self.chunks.back_mut() else { break };
            let k = c.count as usize;
            if k <= n {
                self.chunks.pop_back();
                self.len -= k;
                n -= k;
            } else {
                let keep = k - n;
                c.end = c.offset_of(keep);
                c.count = keep as u32;
                self.len -= n;
                c.shrink_if_sparse();
                n = 0;
            }
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let mut total = 0;
        for c in &self.chunks {
            assert!(c.count > 0, "empty chunk");
            let mut at = c.start;
            let mut k = 0;
            while at < c.end {
                let (_, size) = read_entry_trusted(&c.buf, at);
                assert_eq!(entry_before_trusted(&c.buf, at + size), at);
                at += size;
                k += 1;
            }
            assert_eq!(at, c.end);
            assert_eq!(k, c.count);
            total += k as usize;
        }
        assert_eq!(total, self.len);
    }
}

/// Iterator over elements in one direction (see `List::iter_from`).
pub struct Iter<'a> {
    list: &'a List,
    ci: usize,
    at: usize,
    forward: bool,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    #[inline]
    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let chunks = &self.list.chunks;
        if self.forward {
            if self.at >= chunks[self.ci].end {
                self.ci += 1;
                self.at = chunks[self.ci].start;
            }
            let (e, size) = read_entry_trusted(&chunks[self.ci].buf, self.at);
            self.at += size;
            Some(e)
        } else {
            if self.at <= chunks[self.ci].start {
                self.ci -= 1;
                self.at = chunks[self.ci].end;
            }
            let s = entry_before_trusted(&chunks[self.ci].buf, self.at);
            self.at = s;
            Some(read_entry_trusted(&chunks[self.ci].buf, s).0)
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn model_check(l: &List, m: &VecDeque<Vec<u8>>) {
        l.check_invariants();
        assert_eq!(l.len(), m.len());
        let got: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
        assert_eq!(got, m.iter().cloned().collect::<Vec<_>>());
        if !m.is_empty() {
            let back: Vec<Vec<u8>> = l.iter_from(m.len() - 1, false).map(|e| e.to_vec()).collect();
            let mut want: Vec<Vec<u8>> = m.iter().cloned().collect();
            want.reverse();
            assert_eq!(back, want);
        }
    }

    fn random_value(r: &mut impl Rng) -> Vec<u8> {
        match r.gen_range(0..6) {
            0 => r.gen_range(-200i64..200).to_string().into_bytes(),
            1 => r.gen::<i64>().to_string().into_bytes(),
            2 => vec![b'a' + r.gen_range(0..3u8); r.gen_range(0..4)],
            3 => vec![b'z'; r.gen_range(60..140)],
            4 => vec![b'q'; r.gen_range(0..10000)],
            _ => r.gen_range(0..5i64).to_string().into_bytes(),
        }
    }

    #[test]
    fn random_ops_against_vecdeque() {
        for (seed, fill) in [(1u64, -2i64), (2, -1), (3, 5), (4, 1), (5, -5), (6, 0), (7, 128)] {
            let fill = Fill(fill);
            let mut r = rand::rngs::StdRng::seed_from_u64(seed);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000 {
                match r.gen_range(0..12) {
                    0..=2 => {
                        let v = random_value(&mut r);
                        l.push_front(&v, fill);
                        m.push_front(v);
                    }
                    3..=5 => {
                        let v = random_value(&mut r);
                        l.push_back(&v, fill);
                        m.push_back(v);
                    }
                    6 => assert_eq!(l.pop_front(), m.pop_front()),
                    7 => assert_eq!(l.pop_back(), m.pop_back()),
                    8 if !m.is_empty() => {
                        let i = r.gen_range(0..m.len());
                        let v = random_value(&mut r);
                        assert!(l.set(i, &v, fill));
                        m[i] = v;
                    }
                    9 => {
                        let pivot = random_value(&mut r);
                        let v = random_value(&mut r);
                        let after = r.gen_bool(0.5);
                        let pos = m.iter().position(|x| *x == pivot);
                        assert_eq!(l.insert_at_pivot(&pivot, &v, after, fill), pos.is_some());
                        if let Some(p) = pos {
                            m.insert(if after { p + 1 } else { p }, v);
                        }
                    }
                    10 => {
                        let v = random_value(&mut r);
                        let limit = r.gen_range(0..3usize);
                        let tail = r.gen_bool(0.5);
                        let mut idx: Vec<usize> =
                            m.iter().enumerate().filter(|(_, x)| **x == v).map(|(i, _)| i).collect();
                        if tail {
                            idx.reverse();
                        }
                        if limit > 0 {
                            idx.truncate(limit);
                        }
                        idx.sort_unstable();
                        for &i in idx.iter().rev() {
                            m.remove(i);
                        }
                        assert_eq!(l.remove_matching(&v, limit, tail), idx.len());
                    }
                    11 if step % 50 == 0 => {
                        let a = r.gen_range(0..=m.len());
                        let b = r.gen_range(0..=m.len() - a);
                        l.trim(a, b);
                        m.drain(..a);
                        for _ in 0..b {
                            m.pop_back();
                        }
                    }
                    _ => {}
                }
                if !m.is_empty() {
                    let i = r.gen_range(0..m.len());
                    assert_eq!(l.get(i).map(|e| e.to_vec()).as_ref(), m.get(i));
                }
                if step % 97 == 0 {
                    model_check(&l, &m);
                }
            }
            model_check(&l, &m);
        }
    }

    #[test]
    fn chunk_boundaries_and_encodings() {
        let fill = Fill(-2);
        let mut l = List::new();
        // 5-byte entries ("abc"): listpack until lpBytes + add > 8192
        let mut n = 0;
        while l.encoding_name() == "listpack" {
            l.push_back(b"abc", fill);
            n += 1;
        }
        // converted at the push that would exceed: 7 + 5*(n-1) + 3 > 8192
        assert!(7 + 5 * (n - 1) + 3 > 8192 && 7 + 5 * (n - 2) + 3 <= 8192, "n={n}");
        for _ in 0..10000 {
            l.push_front(b"abc", fill);
        }
        assert!(l.chunks.len() > 5);
        for c in &l.chunks {
            assert!(c.lp_bytes() <= 8192);
        }
        l.check_invariants();
        // shrink back: one node under half the limit
        while l.len() > 100 {
            l.pop_back();
        }
        l.shrink_encoding(fill);
        assert_eq!(l.encoding_name(), "listpack");
        // count-limited fill
        let fill = Fill(4);
        let mut l = List::new();
        l.push_many(&[b"a", b"b", b"c", b"d"], false, fill);
        assert_eq!(l.encoding_name(), "listpack");
        l.push_back(b"e", fill);
        assert_eq!(l.encoding_name(), "quicklist");
        assert_eq!(l.chunks.len(), 2);
        l.pop_back();
        l.pop_back();
        l.pop_back();
        l.shrink_encoding(fill);
        assert_eq!(l.encoding_name(), "listpack");
        // large element: own chunk, never listpack
        let mut l = List::new();
        l.push_back(&vec![b'x'; 9000], Fill(-2));
        assert_eq!(l.encoding_name(), "quicklist");
        l.push_back(b"a", Fill(-2));
        assert_eq!(l.chunks.len(), 2);
        l.check_invariants();
    }

    #[test]
    fn created_fill_costs_no_space() {
        // The quicklist's fill sits in the padding after the encoding flag.
        assert_eq!(std::mem::size_of::<List>(), std::mem::size_of::<VecDeque<Chunk>>() + 16);
    }

    #[test]
    fn interior_chunks_are_tight() {
        let fill = Fill(-2);
        let mut l = List::new();
        for i in 0..200_000 {
            l.push_back(i.to_string().as_bytes(), fill);
        }
        let data: usize = l.chunks.iter().map(|c| c.used()).sum();
        let cap: usize = l.chunks.iter().map(|c| c.buf.len()).sum();
        assert!(cap - data < 16 * 1024, "slack {}", cap - data);
        assert_eq!(l.get(123_456), Some(Entry::Int(123_456)));
    }
}
