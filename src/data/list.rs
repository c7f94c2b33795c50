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
//! list-compress-depth is accepted as configuration but nodes are never compressed: LZF
//! on 8 KB nodes trades CPU on every access to interior nodes for memory most queue-like
//! lists never need, and it can be added per chunk later without changing the format.

use std::collections::VecDeque;

use smallvec::SmallVec;

use crate::util::number::parse_i64;

// ---------------------------------------------------------------------------------------
// Entry encoding (listpack's)
// ---------------------------------------------------------------------------------------

/// Header (total bytes + count) and terminator of a Redis listpack: part of the `lpBytes`
/// Redis compares against the limits, not stored here (the chunk knows both).
const LP_OVERHEAD: usize = 7;
/// Quicklist's overestimate of one insertion's cost (SIZE_ESTIMATE_OVERHEAD).
const INSERT_ESTIMATE: usize = 8;
/// A node of a count-limited list never exceeds this many bytes (SIZE_SAFETY_LIMIT).
const SAFETY_LIMIT: usize = 8192;
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// One element as stored: an integer or bytes borrowed from the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Elem::Str(s) => s.to_vec(),
        }
    }

    /// Owned copy without a heap allocation for short elements.
    pub fn to_small(self) -> SmallVec<[u8; 48]> {
        match self {
            Elem::Int(n) => SmallVec::from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Elem::Str(s) => SmallVec::from_slice(s),
        }
    }

    /// Length as a string (what Redis counts as an element's size).
    fn str_len(self) -> usize {
        match self {
            Elem::Int(n) => itoa::Buffer::new().format(n).len(),
            Elem::Str(s) => s.len(),
        }
    }

    pub fn matches(self, p: &Probe) -> bool {
        match (self, p.int) {
            (Elem::Int(a), Some(b)) => a == b,
            (Elem::Str(s), None) => s == p.bytes,
            _ => false,
        }
    }
}

/// A value about to be stored or compared, with its integer form when it has the
/// canonical one (exactly when listpack stores it as an integer; such strings are never
/// stored as bytes, so comparing forms is enough).
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Probe<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Probe { bytes, int: parse_i64(bytes) }
    }

    /// Encoding + data, without the backlen.
    fn body_len(&self) -> usize {
        match self.int {
            Some(v) => int_len(v),
            None => {
                let n = self.bytes.len();
                n + if n < 64 {
                    1
                } else if n < 4096 {
                    2
                } else {
                    5
                }
            }
        }
    }

    fn encoded_len(&self) -> usize {
        let l = self.body_len();
        l + backlen_len(l)
    }

    /// Write the whole entry into `dst` (exactly `encoded_len` bytes).
    fn encode(&self, dst: &mut [u8]) {
        let l = self.body_len();
        match self.int {
            Some(v) => encode_int(v, dst),
            None => {
                let n = self.bytes.len();
                let h = if n < 64 {
                    dst[0] = 0x80 | n as u8;
                    1
                } else if n < 4096 {
                    dst[0] = 0xE0 | (n >> 8) as u8;
                    dst[1] = n as u8;
                    2
                } else {
                    dst[0] = 0xF0;
                    dst[1..5].copy_from_slice(&(n as u32).to_le_bytes());
                    5
                };
                dst[h..h + n].copy_from_slice(self.bytes);
            }
        }
        encode_backlen(l, &mut dst[l..]);
    }
}

fn int_len(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8388608..=8388607).contains(&v) {
        4
    } else if (-2147483648..=2147483647).contains(&v) {
        5
    } else {
        9
    }
}

fn encode_int(v: i64, dst: &mut [u8]) {
    let le = v.to_le_bytes();
    match int_len(v) {
        1 => dst[0] = v as u8,
        2 => {
            let u = if v < 0 { (1i64 << 13) + v } else { v };
            dst[0] = 0xC0 | (u >> 8) as u8;
            dst[1] = u as u8;
        }
        3 => {
            dst[0] = 0xF1;
            dst[1..3].copy_from_slice(&le[..2]);
        }
        4 => {
            dst[0] = 0xF2;
            dst[1..4].copy_from_slice(&le[..3]);
        }
        5 => {
            dst[0] = 0xF3;
            dst[1..5].copy_from_slice(&le[..4]);
        }
        _ => {
            dst[0] = 0xF4;
            dst[1..9].copy_from_slice(&le);
        }
    }
}

fn backlen_len(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Most significant group first, every group but the first flagged with 128, so that
/// reading right to left yields the low group first and stops at the unflagged one.
fn encode_backlen(l: usize, dst: &mut [u8]) {
    let n = backlen_len(l);
    for (i, b) in dst[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let group = ((l >> shift) & 127) as u8;
        *b = if i == 0 { group } else { group | 128 };
    }
}

/// The entry starting at `at`: its value and its total size (with backlen).
#[inline]
fn decode(buf: &[u8], at: usize) -> (Elem<'_>, usize) {
    let b = buf[at];
    let (elem, body) = if b & 0x80 == 0 {
        (Elem::Int(b as i64), 1)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3F) as usize;
        (Elem::Str(&buf[at + 1..at + 1 + n]), 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let u = (((b & 0x1F) as i64) << 8) | buf[at + 1] as i64;
        (Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2)
    } else if b & 0xF0 == 0xE0 {
        let n = (((b & 0x0F) as usize) << 8) | buf[at + 1] as usize;
        (Elem::Str(&buf[at + 2..at + 2 + n]), 2 + n)
    } else {
        let le = |k: usize| {
            let mut x = [0u8; 8];
            x[..k].copy_from_slice(&buf[at + 1..at + 1 + k]);
            // sign-extend from k bytes
            let shift = 64 - 8 * k as u32;
            ((i64::from_le_bytes(x)) << shift) >> shift
        };
        match b {
            0xF0 => {
                let mut x = [0u8; 4];
                x.copy_from_slice(&buf[at + 1..at + 5]);
                let n = u32::from_le_bytes(x) as usize;
                (Elem::Str(&buf[at + 5..at + 5 + n]), 5 + n)
            }
            0xF1 => (Elem::Int(le(2)), 3),
            0xF2 => (Elem::Int(le(3)), 4),
            0xF3 => (Elem::Int(le(4)), 5),
            _ => (Elem::Int(le(8)), 9),
        }
    };
    (elem, body + backlen_len(body))
}

/// Start of the entry that ends just before `end`.
#[inline]
fn prev_start(buf: &[u8], end: usize) -> usize {
    let mut p = end - 1;
    let mut l = 0usize;
    let mut shift = 0;
    loop {
        l |= ((buf[p] & 127) as usize) << shift;
        if buf[p] & 128 == 0 {
            break;
        }
        shift += 7;
        p -= 1;
    }
    end - backlen_len(l) - l
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

    /// quicklistNodeExceedsLimit.
    fn exceeds(self, bytes: usize, count: usize) -> bool {
        let (sz, cnt) = self.limits();
        if sz != usize::MAX {
            bytes > sz
        } else {
            bytes > SAFETY_LIMIT || count > cnt
        }
    }

    /// An element that gets a node of its own (Redis 7.2's isLargeElement / plain node).
    fn is_large(self, len: usize) -> bool {
        let (sz, _) = self.limits();
        len > if sz == usize::MAX { SAFETY_LIMIT } else { sz }
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

    fn push(&mut self, p: &Probe, n: usize, front: bool, both: bool, max_cap: usize) {
        self.make_room(n, front, both, max_cap);
        if front {
            self.start -= n;
            p.encode(&mut self.buf[self.start..self.start + n]);
        } else {
            p.encode(&mut self.buf[self.end..self.end + n]);
            self.end += n;
        }
        self.count += 1;
    }

    /// Offset of the last entry.
    #[inline]
    fn last_at(&self) -> usize {
        prev_start(&self.buf, self.end)
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
            at += decode(&self.buf, at).1;
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
                at = prev_start(&self.buf, at);
            }
            at
        }
    }
}

// ---------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Encoding as Redis would report it: false = "listpack" (one node within the limit).
    quicklist: bool,
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

    /// Redis's lpBytes of the whole list when it is a listpack.
    fn lp_bytes(&self) -> usize {
        LP_OVERHEAD + self.chunks.iter().map(|c| c.used()).sum::<usize>()
    }

    /// listTypeTryConversionAppend: become a quicklist when adding `add_count` elements of
    /// `add_bytes` string bytes would exceed the node limit.
    pub fn grow_encoding(&mut self, fill: Fill, add_bytes: usize, add_count: usize) {
        if !self.quicklist && fill.exceeds(self.lp_bytes() + add_bytes, self.len + add_count) {
            self.quicklist = true;
        }
    }

    /// listTypeTryConvertQuicklist after a removal: back to listpack when one node under
    /// half the limit remains.
    pub fn shrink_encoding(&mut self, fill: Fill) {
        if !self.quicklist || self.chunks.len() != 1 {
            return;
        }
        let c = &self.chunks[0];
        if c.count == 1 && fill.is_large(decode(&c.buf, c.start).0.str_len()) {
            return; // a plain node
        }
        let (sz, cnt) = fill.limits();
        if c.lp_bytes() <= sz / 2 && (c.count as usize) <= cnt / 2 {
            self.quicklist = false;
        }
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
        let p = Probe::new(v);
        let n = p.encoded_len();
        let single = self.chunks.len() == 1;
        let fits = if !self.quicklist {
            true
        } else {
            let end = if front { self.chunks.front() } else { self.chunks.back() };
            end.is_some_and(|c| {
                !fill.is_large(v.len()) && !fill.exceeds(c.lp_bytes() + v.len() + INSERT_ESTIMATE, c.count as usize + 1)
            })
        };
        let max_cap = if self.quicklist { fill.node_bytes() } else { usize::MAX };
        if fits && !self.chunks.is_empty() {
            let c = if front { self.chunks.front_mut() } else { self.chunks.back_mut() };
            if let Some(c) = c {
                c.push(&p, n, front, single, max_cap);
            }
        } else {
            // A new end chunk; the old end becomes interior: give back its headroom.
            if let Some(old) = if front { self.chunks.front_mut() } else { self.chunks.back_mut() } {
                old.shrink_to_fit();
            }
            let cap = if fill.is_large(v.len()) || !self.quicklist { n } else { n.max(max_cap / 8) };
            let mut c = Chunk::with_capacity(cap, front);
            c.push(&p, n, front, false, max_cap);
            if front {
                self.chunks.push_front(c);
            } else {
                self.chunks.push_back(c);
            }
        }
        self.len += 1;
    }

    /// Pop one element from an end, handing it to `f` before its bytes go away.
    pub fn pop_with<R>(&mut self, front: bool, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
        let c = if front { self.chunks.front_mut()? } else { self.chunks.back_mut()? };
        let r;
        if front {
            let (e, size) = decode(&c.buf, c.start);
            r = f(e);
            c.start += size;
        } else {
            let at = c.last_at();
            r = f(decode(&c.buf, at).0);
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

    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        let (ci, at) = self.locate(index)?;
        Some(decode(&self.chunks[ci].buf, at).0)
    }

    /// Elements from `index` towards the tail (`forward`) or the head.
    pub fn iter_from(&self, index: usize, forward: bool) -> Iter<'_> {
        match self.locate(index) {
            None => Iter { list: self, ci: 0, at: 0, forward, left: 0 },
            Some((ci, at)) => {
                let left = if forward { self.len - index } else { index + 1 };
                // backward iteration starts after the element: position at its end
                let at = if forward { at } else { at + decode(&self.chunks[ci].buf, at).1 };
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
        let p = Probe::new(v);
        let mut enc: SmallVec<[u8; 64]> = SmallVec::from_elem(0, p.encoded_len());
        p.encode(&mut enc);
        let c = &mut self.chunks[ci];
        let old = decode(&c.buf, at).1;
        c.splice(at, old, &enc);
        self.split_if_over(ci, fill);
        true
    }

    /// LINSERT: insert `v` before/after the first element equal to `pivot`; false if none.
    pub fn insert_at_pivot(&mut self, pivot: &[u8], v: &[u8], after: bool, fill: Fill) -> bool {
        let probe = Probe::new(pivot);
        let mut found = None;
        'outer: for (ci, c) in self.chunks.iter().enumerate() {
            let mut at = c.start;
            while at < c.end {
                let (e, size) = decode(&c.buf, at);
                if e.matches(&probe) {
                    found = Some((ci, if after { at + size } else { at }));
                    break 'outer;
                }
                at += size;
            }
        }
        let Some((ci, at)) = found else { return false };
        let p = Probe::new(v);
        let mut enc: SmallVec<[u8; 64]> = SmallVec::from_elem(0, p.encoded_len());
        p.encode(&mut enc);
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
        let probe = Probe::new(v);
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
                let (e, size) = decode(&c.buf, at);
                if e.matches(&probe) {
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
                let (_, size) = decode(&c.buf, at);
                assert_eq!(prev_start(&c.buf, at + size), at);
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
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
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
            let (e, size) = decode(&chunks[self.ci].buf, self.at);
            self.at += size;
            Some(e)
        } else {
            if self.at <= chunks[self.ci].start {
                self.ci -= 1;
                self.at = chunks[self.ci].end;
            }
            let s = prev_start(&chunks[self.ci].buf, self.at);
            self.at = s;
            Some(decode(&chunks[self.ci].buf, s).0)
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

    fn enc_dec(v: &[u8]) {
        let p = Probe::new(v);
        let mut buf = vec![0u8; p.encoded_len()];
        p.encode(&mut buf);
        let (e, size) = decode(&buf, 0);
        assert_eq!(size, buf.len());
        assert_eq!(e.to_vec(), v);
        assert_eq!(prev_start(&buf, buf.len()), 0);
    }

    #[test]
    fn encoding_roundtrip() {
        for v in [
            "0",
            "1",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "a",
            "007",
            "+1",
            "-0",
            "1.5",
            "9223372036854775808",
        ] {
            enc_dec(v.as_bytes());
        }
        for n in [63, 64, 65, 120, 127, 128, 4095, 4096, 16383, 20000, 70000] {
            enc_dec(&vec![b'x'; n]);
        }
    }

    #[test]
    fn listpack_sizes_match_redis() {
        // entry sizes as Redis's listpack computes them
        assert_eq!(Probe::new(b"5").encoded_len(), 2);
        assert_eq!(Probe::new(b"1000").encoded_len(), 3);
        assert_eq!(Probe::new(b"100000").encoded_len(), 5);
        assert_eq!(Probe::new(b"abc").encoded_len(), 5);
        assert_eq!(Probe::new(&[b'x'; 63]).encoded_len(), 65);
        assert_eq!(Probe::new(&[b'x'; 126]).encoded_len(), 128 + 2);
    }

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
    fn interior_chunks_are_tight() {
        let fill = Fill(-2);
        let mut l = List::new();
        for i in 0..200_000 {
            l.push_back(i.to_string().as_bytes(), fill);
        }
        let data: usize = l.chunks.iter().map(|c| c.used()).sum();
        let cap: usize = l.chunks.iter().map(|c| c.buf.len()).sum();
        assert!(cap - data < 16 * 1024, "slack {}", cap - data);
        assert_eq!(l.get(123_456), Some(Elem::Int(123_456)));
    }
}
