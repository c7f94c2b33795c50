//! One stream node: the entries Redis would hold in one listpack of its rax, packed in our
//! own encoding (see the module comment of `data::stream` for the layout and why), with the
//! counters Redis keeps in the listpack's master entry and the size that listpack has.

use crate::data::listpack::Entry;

use super::StreamId;

/// Entry flags, with Redis's values (STREAM_ITEM_FLAG_*): the low two bits of the header.
pub(super) const DELETED: u8 = 1;
pub(super) const SAME_FIELDS: u8 = 2;

/// How an entry's id is written, relative to the entry before it (bits 2-3 of the header).
/// The first entry of a node has the node's master id: nothing to write.
const K_FIRST: u8 = 0;
/// Same ms, seq = previous seq + 1 + param (0..=15).
const K_NEXT: u8 = 1;
/// ms = previous ms + d, seq 0; d is the param (1..=15) or, when the param is 0, a varint.
const K_MS: u8 = 2;
/// ms = previous ms + varint, seq = varint (anything else).
const K_ANY: u8 = 3;

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint of bytes this process wrote.
#[inline]
fn get_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = data[*at];
        *at += 1;
        v |= ((b & 0x7F) as u64) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// A field or value as a node holds it: a canonical integer string as its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// `data[start..end]`
    Str(usize, usize),
    Int(i64),
}

impl Piece {
    /// The listpack entry Redis stores for it.
    pub(super) fn entry(self, data: &[u8]) -> Entry<'_> {
        match self {
            Piece::Int(v) => Entry::Int(v),
            // An integer too large for our tag is kept as bytes; Redis still packs it as one.
            Piece::Str(a, b) => Entry::of(&data[a..b]),
        }
    }
}

/// Bytes of a listpack integer entry (with its backlen).
#[inline]
fn lp_int(v: i64) -> usize {
    Entry::Int(v).encoded_len()
}

/// The tag of a string (even: length) or integer (odd: zigzag) piece, and the listpack size
/// of the same string. Integers whose zigzag needs all 64 bits stay strings.
#[inline]
fn classify(s: &[u8]) -> (u64, bool, usize) {
    let e = Entry::of(s);
    match e {
        Entry::Int(v) => {
            let zz = ((v << 1) ^ (v >> 63)) as u64;
            if zz < 1 << 63 {
                return ((zz << 1) | 1, true, e.encoded_len());
            }
            ((s.len() as u64) << 1, false, e.encoded_len())
        }
        Entry::Str(_) => ((s.len() as u64) << 1, false, e.encoded_len()),
    }
}

/// Append `s` as a piece; returns its listpack size.
#[inline]
fn put_piece(out: &mut Vec<u8>, s: &[u8]) -> usize {
    let (tag, int, lp) = classify(s);
    put_varint(out, tag);
    if !int {
        out.extend_from_slice(s);
    }
    lp
}

#[inline]
fn read_piece(data: &[u8], at: &mut usize) -> Piece {
    let tag = get_varint(data, at);
    if tag & 1 == 1 {
        let zz = tag >> 1;
        Piece::Int((zz >> 1) as i64 ^ -((zz & 1) as i64))
    } else {
        let start = *at;
        *at += (tag >> 1) as usize;
        Piece::Str(start, *at)
    }
}

/// Whether the piece at `*at` (advanced past it) is the string `s`.
#[inline]
fn piece_is(data: &[u8], at: &mut usize, s: &[u8]) -> bool {
    let (tag, int, _) = classify(s);
    let mut p = *at;
    let same = get_varint(data, &mut p) == tag && (int || data.get(p..p + s.len()) == Some(s));
    let _ = read_piece(data, at);
    same
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    /// Master fields (varint count, pieces), then the entries.
    data: Vec<u8>,
    /// Where the entries start.
    entries_at: u32,
    master_fields: u32,
    /// Live entries and entries flagged deleted (the master entry's count and deleted).
    pub live: u32,
    pub deleted: u32,
    /// lpBytes of Redis's listpack for this node.
    pub lp_bytes: usize,
    /// Id of the last entry, deleted or not.
    pub last: StreamId,
}

/// One entry found by a `Cursor`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ent {
    pub id: StreamId,
    pub flags: u8,
    /// The header byte (where the deleted flag is set).
    pub head: usize,
    /// The first byte after the id: the field count, or the values of a same-fields entry.
    pub body: usize,
}

impl Ent {
    pub fn live(&self) -> bool {
        self.flags & DELETED == 0
    }
}

impl Node {
    /// A node for the entry `id` (its master id), the master fields being its fields.
    pub fn new(id: StreamId, fields: &[&[u8]]) -> Node {
        let mut node = Node::master(fields, id);
        node.push(id, id, fields);
        node
    }

    /// A node with the master entry only, for entries from `id` on.
    pub fn master(fields: &[&[u8]], id: StreamId) -> Node {
        let n = fields.len() / 2;
        let mut data = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 1).sum::<usize>());
        put_varint(&mut data, n as u64);
        // header + terminator, count, deleted, field count, fields, the 0 ending the master entry
        let mut lp = 7 + lp_int(0) + lp_int(0) + lp_int(n as i64) + lp_int(0);
        for f in fields.iter().step_by(2) {
            lp += put_piece(&mut data, f);
        }
        Node {
            entries_at: data.len() as u32,
            data,
            master_fields: n as u32,
            live: 0,
            deleted: 0,
            lp_bytes: lp,
            last: id,
        }
    }

    /// Append an entry (id above every entry of the node) to a node with master id `master`;
    /// returns whether its fields are the master's (Redis's SAMEFIELDS) and where its head is.
    pub fn push(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]]) -> (bool, usize) {
        debug_assert!(fields.len().is_multiple_of(2));
        let n = fields.len() / 2;
        let same = n == self.master_fields as usize && {
            let mut at = 0;
            get_varint(&self.data, &mut at);
            fields.iter().step_by(2).all(|f| piece_is(&self.data, &mut at, f))
        };
        let first = self.live + self.deleted == 0;
        let prev = self.last;
        let (kind, param) = if first {
            (K_FIRST, 0)
        } else if id.ms == prev.ms && id.seq.wrapping_sub(prev.seq).wrapping_sub(1) < 16 {
            (K_NEXT, id.seq - prev.seq - 1)
        } else if id.ms > prev.ms && id.seq == 0 {
            (K_MS, if id.ms - prev.ms < 16 { id.ms - prev.ms } else { 0 })
        } else {
            (K_ANY, 0)
        };
        let flags = if same { SAME_FIELDS } else { 0 };
        let head = self.data.len();
        self.data.push(flags | kind << 2 | (param as u8) << 4);
        match kind {
            K_MS if param == 0 => put_varint(&mut self.data, id.ms - prev.ms),
            K_ANY => {
                put_varint(&mut self.data, id.ms.wrapping_sub(prev.ms));
                put_varint(&mut self.data, id.seq);
            }
            _ => {}
        }
        // flags, ms and seq differences from the master id, lp-count
        let mut lp = lp_int(flags as i64)
            + lp_int(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            for v in fields.iter().skip(1).step_by(2) {
                lp += put_piece(&mut self.data, v);
            }
            lp += lp_int(n as i64 + 3);
        } else {
            put_varint(&mut self.data, n as u64);
            lp += lp_int(n as i64);
            for f in fields {
                lp += put_piece(&mut self.data, f);
            }
            lp += lp_int(2 * n as i64 + 4);
        }
        self.lp_bytes += lp + lp_int(self.live as i64 + 1) - lp_int(self.live as i64);
        self.live += 1;
        self.last = id;
        (same, head)
    }

    /// Flag a live entry (by its header) deleted.
    pub fn mark_deleted(&mut self, head: usize) {
        debug_assert!(self.data[head] & DELETED == 0);
        self.data[head] |= DELETED;
        self.set_counts(self.live - 1, self.deleted + 1);
    }

    /// Replace the master entry's counts, as lpReplaceInteger resizes them.
    pub fn set_counts(&mut self, live: u32, deleted: u32) {
        self.lp_bytes = self.lp_bytes + lp_int(live as i64) + lp_int(deleted as i64)
            - lp_int(self.live as i64)
            - lp_int(self.deleted as i64);
        self.live = live;
        self.deleted = deleted;
    }

    /// No more appends: give back the growth headroom.
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity()
    }

    /// The master fields.
    pub fn master_fields(&self) -> impl Iterator<Item = Piece> + '_ {
        let mut at = 0;
        let n = get_varint(&self.data, &mut at);
        (0..n).map(move |_| read_piece(&self.data, &mut at))
    }

    pub fn master_field_count(&self) -> usize {
        self.master_fields as usize
    }

    /// The entries in order; `master` is the node's key.
    pub fn cursor(&self, master: StreamId) -> Cursor<'_> {
        Cursor {
            data: &self.data,
            at: self.entries_at as usize,
            prev: master,
            master,
            master_fields: self.master_fields as usize,
        }
    }

    /// The pieces of an entry: (field, value) pairs, fields of a same-fields entry taken from
    /// the master entry.
    pub fn pieces(&self, e: &Ent, mut each: impl FnMut(Piece, Piece)) {
        let mut at = e.body;
        if e.flags & SAME_FIELDS != 0 {
            let mut m = 0;
            let n = get_varint(&self.data, &mut m);
            for _ in 0..n {
                let f = read_piece(&self.data, &mut m);
                each(f, read_piece(&self.data, &mut at));
            }
        } else {
            let n = get_varint(&self.data, &mut at);
            for _ in 0..n {
                let f = read_piece(&self.data, &mut at);
                each(f, read_piece(&self.data, &mut at));
            }
        }
    }
}

pub(super) struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
    prev: StreamId,
    master: StreamId,
    master_fields: usize,
}

impl Iterator for Cursor<'_> {
    type Item = Ent;

    #[inline]
    fn next(&mut self) -> Option<Ent> {
        let data = self.data;
        if self.at >= data.len() {
            return None;
        }
        let head = self.at;
        let h = data[head];
        let mut at = head + 1;
        let param = (h >> 4) as u64;
        let prev = self.prev;
        let id = match (h >> 2) & 3 {
            K_FIRST => self.master,
            K_NEXT => StreamId::new(prev.ms, prev.seq.wrapping_add(1 + param)),
            K_MS => {
                let d = if param == 0 { get_varint(data, &mut at) } else { param };
                StreamId::new(prev.ms.wrapping_add(d), 0)
            }
            _ => {
                let ms = prev.ms.wrapping_add(get_varint(data, &mut at));
                StreamId::new(ms, get_varint(data, &mut at))
            }
        };
        let body = at;
        let n = if h & SAME_FIELDS != 0 { self.master_fields as u64 } else { 2 * get_varint(data, &mut at) };
        for _ in 0..n {
            let tag = get_varint(data, &mut at);
            if tag & 1 == 0 {
                at += (tag >> 1) as usize;
            }
        }
        self.at = at;
        self.prev = id;
        Some(Ent { id, flags: h & 3, head, body })
    }
}
