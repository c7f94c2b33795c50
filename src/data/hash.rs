//! Hashes (Redis's t_hash.c, listpack.c, dict.c): the representation. The commands are in
//! `types::hash`.
//!
//! A hash has two encodings, reported by OBJECT ENCODING with Redis's names
//! and switched at Redis's thresholds (conversion is one-way, as in Redis):
//!
//! * "listpack": while the hash has at most `hash-max-listpack-entries` fields and every
//!   field and value is at most `hash-max-listpack-value` bytes, it is one flat, exactly
//!   sized byte buffer (`Packed`) holding field, value, field, value ... in insertion order.
//!   Each element is a one-byte tag followed by its payload: integers in canonical decimal
//!   form (what `string2ll` accepts) are stored as binary (0..127 in the tag byte itself,
//!   others in 1-8 little-endian bytes), strings of up to 63 bytes carry their length in
//!   the tag, longer ones a 2- or 4-byte length. There is no element count, no per-entry
//!   back-length and no terminator: a small hash is walked front to back anyway (lookups
//!   are linear, as in Redis's listpack, which is cheap for a few hundred bytes that sit in
//!   one or two cache lines), so those would be bytes spent on nothing. A session hash of
//!   ten short fields costs one allocation of about 150 bytes, against Redis's listpack
//!   with its 7-byte header and 2 bytes of overhead per element, plus a robj.
//!   Updates rebuild the buffer in place (memmove + realloc), which is O(n) in a buffer
//!   that is small by construction.
//! * "hashtable": beyond the thresholds, the keyspace's own chained table
//!   (`data::dict::Dict`) of `Field { name, value }`, both `CompactBytes` (inline up to
//!   22 bytes), so a small field/value pair is one 64-byte node. Reusing `Dict` gives HSCAN
//!   the SCAN guarantee (reverse-binary cursor, consistent across incremental rehashing).
//!
//! Random fields (HRANDFIELD, and SRANDMEMBER/SPOP in `data::set`, which share the helpers
//! below) are uniform: a packed hash picks an index; a table keeps the length of every
//! chain (`Dict::new_sampled`) and draws a window of buckets and an entry number against
//! the largest window count (`Dict::sample`): every entry has the same probability per
//! draw, whatever the chain lengths. (`random_entry` keeps the older (bucket, position)
//! rejection against the longest chain, `ChainBound`, for a table whose tracking stopped.)
//! Sorted sets draw by rank in their tree instead (`data::zset`).

use std::borrow::Cow;

use rand::Rng;

use super::bytes::CompactBytes;
use super::dict::{key_hash, Dict, Keyed};
use crate::util::number::parse_i64;

// ------------------------------------------------------------------ packed elements

/// One element of a packed buffer: an integer (stored in binary) or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Elem<'a> {
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match *self {
            Elem::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            Elem::Str(s) => Cow::Borrowed(s),
        }
    }

    /// Length of the string form.
    pub fn str_len(&self) -> usize {
        match *self {
            Elem::Int(n) => itoa::Buffer::new().format(n).len(),
            Elem::Str(s) => s.len(),
        }
    }

    pub fn matches(&self, probe: &Probe) -> bool {
        match (*self, probe.int) {
            (Elem::Int(a), Some(b)) => a == b,
            (Elem::Str(s), None) => s == probe.bytes,
            _ => false,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Elem::Int(n) => Some(n),
            Elem::Str(s) => as_canonical_int(s),
        }
    }
}

/// A string, classified once, to compare against packed elements.
pub struct Probe<'a> {
    pub bytes: &'a [u8],
    pub int: Option<i64>,
}

impl<'a> Probe<'a> {
    pub fn new(bytes: &'a [u8]) -> Probe<'a> {
        Probe { bytes, int: as_canonical_int(bytes) }
    }
}

/// The integer a string is the canonical decimal form of (Redis's string2ll accepts
/// exactly those), if any.
#[inline]
pub fn as_canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 || !(s[0].is_ascii_digit() || s[0] == b'-') {
        return None;
    }
    parse_i64(s)
}

const TAG_STR: u8 = 0x80; // 0x80..=0xBF: string, length in the low 6 bits
const TAG_INT: u8 = 0xC0; // 0xC0..=0xC7: integer of 1..=8 bytes
const TAG_STR16: u8 = 0xC8;
const TAG_STR32: u8 = 0xC9;

/// A flat buffer of tagged elements (see the module comment). Exactly sized.
#[derive(Clone, Default)]
pub struct Packed {
    buf: Box<[u8]>,
}

/// Encoded size of `s` as an element.
fn encoded_len(s: &[u8]) -> usize {
    if let Some(n) = as_canonical_int(s) {
        return int_encoded_len(n);
    }
    match s.len() {
        0..=63 => 1 + s.len(),
        64..=0xFFFF => 3 + s.len(),
        _ => 5 + s.len(),
    }
}

fn int_bytes(n: i64) -> usize {
    let mut k = 1;
    while k < 8 {
        let bits = 8 * k as u32;
        let min = -(1i64 << (bits - 1));
        let max = (1i64 << (bits - 1)) - 1;
        if n >= min && n <= max {
            break;
        }
        k += 1;
    }
    k
}

fn int_encoded_len(n: i64) -> usize {
    if (0..=127).contains(&n) {
        1
    } else {
        1 + int_bytes(n)
    }
}

fn encode_into(s: &[u8], out: &mut Vec<u8>) {
    if let Some(n) = as_canonical_int(s) {
        encode_int_into(n, out);
        return;
    }
    match s.len() {
        0..=63 => out.push(TAG_STR | s.len() as u8),
        64..=0xFFFF => {
            out.push(TAG_STR16);
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        }
        _ => {
            out.push(TAG_STR32);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(s);
}

fn encode_int_into(n: i64, out: &mut Vec<u8>) {
    if (0..=127).contains(&n) {
        out.push(n as u8);
    } else {
        let k = int_bytes(n);
        out.push(TAG_INT + (k as u8 - 1));
        out.extend_from_slice(&n.to_le_bytes()[..k]);
    }
}

/// Decode the element at `pos`: (element, position after it). The buffer is only ever
/// written by `encode_into`, so it is well formed; a malformed read yields an empty
/// string and the end of the buffer rather than a panic.
#[inline]
fn decode(buf: &[u8], pos: usize) -> (Elem<'_>, usize) {
    let end = buf.len();
    let Some(&tag) = buf.get(pos) else { return (Elem::Str(b""), end) };
    let p = pos + 1;
    let (start, len) = match tag {
        0..=0x7F => return (Elem::Int(tag as i64), p),
        0x80..=0xBF => (p, (tag & 0x3F) as usize),
        0xC0..=0xC7 => {
            let k = (tag - TAG_INT) as usize + 1;
            let Some(raw) = buf.get(p..p + k) else { return (Elem::Str(b""), end) };
            let mut b = [0u8; 8];
            b[..k].copy_from_slice(raw);
            if raw[k - 1] & 0x80 != 0 {
                for x in &mut b[k..] {
                    *x = 0xFF;
                }
            }
            return (Elem::Int(i64::from_le_bytes(b)), p + k);
        }
        TAG_STR16 => match buf.get(p..p + 2) {
            Some(l) => (p + 2, u16::from_le_bytes([l[0], l[1]]) as usize),
            None => return (Elem::Str(b""), end),
        },
        TAG_STR32 => match buf.get(p..p + 4) {
            Some(l) => (p + 4, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize),
            None => return (Elem::Str(b""), end),
        },
        _ => return (Elem::Str(b""), end),
    };
    match buf.get(start..start + len) {
        Some(s) => (Elem::Str(s), start + len),
        None => (Elem::Str(b""), end),
    }
}

pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    /// (element, its start offset, offset after it)
    type Item = (Elem<'a>, usize, usize);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (e, next) = decode(self.buf, start);
        self.pos = next;
        Some((e, start, next))
    }
}

impl Packed {
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter { buf: &self.buf, pos: 0 }
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Number of elements (a walk: packed buffers are small).
    pub fn count(&self) -> usize {
        self.iter().count()
    }

    /// Replace bytes `start..end` by the encodings of `items`.
    pub fn splice(&mut self, start: usize, end: usize, items: &[&[u8]]) {
        let add: usize = items.iter().map(|s| encoded_len(s)).sum();
        let old = std::mem::take(&mut self.buf).into_vec();
        let mut v = Vec::with_capacity(old.len() - (end - start) + add);
        v.extend_from_slice(&old[..start]);
        for s in items {
            encode_into(s, &mut v);
        }
        v.extend_from_slice(&old[end..]);
        self.buf = v.into_boxed_slice();
    }

    /// Append elements at the end.
    pub fn push(&mut self, items: &[&[u8]]) {
        let n = self.buf.len();
        self.splice(n, n, items);
    }

    pub fn push_int(&mut self, n: i64) {
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(int_encoded_len(n));
        encode_int_into(n, &mut v);
        self.buf = v.into_boxed_slice();
    }

    /// Remove several byte ranges (sorted, disjoint) in one pass.
    pub fn remove_ranges(&mut self, ranges: &[(usize, usize)]) {
        let old = std::mem::take(&mut self.buf);
        let removed: usize = ranges.iter().map(|(a, b)| b - a).sum();
        let mut v = Vec::with_capacity(old.len() - removed);
        let mut at = 0;
        for &(a, b) in ranges {
            v.extend_from_slice(&old[at..a]);
            at = b;
        }
        v.extend_from_slice(&old[at..]);
        self.buf = v.into_boxed_slice();
    }

    /// Elements at `stride`-aligned positions (0, stride, 2·stride ...) matching `probe`:
    /// (element index, start, end of the element).
    pub fn find(&self, probe: &Probe, stride: usize) -> Option<(usize, usize, usize)> {
        for (i, (e, s, t)) in self.iter().enumerate() {
            if i % stride == 0 && e.matches(probe) {
                return Some((i, s, t));
            }
        }
        None
    }
}

// ------------------------------------------------------------------ uniform sampling

/// An upper bound on the chain length of a `Dict`, for rejection sampling. Recomputed
/// exactly (one pass over the buckets) when the table's size has changed by a factor of
/// two since the last computation, so the cost is amortised O(1) per operation; raised
/// whenever a draw meets a longer chain, so a stale bound corrects itself.
#[derive(Clone, Default)]
pub struct ChainBound {
    max: usize,
    at_len: usize,
}

impl ChainBound {
    fn refresh<E: Keyed>(&mut self, d: &Dict<E>) {
        let n = d.len();
        if self.max == 0 || n > self.at_len.saturating_mul(2) || n < self.at_len / 2 {
            self.max = d.max_chain_len().max(1);
            self.at_len = n;
        }
    }
}

/// A uniformly random entry of a non-empty table: `Dict::sample` when the table tracks its
/// chain lengths (every hash and set table, unless a chain passed 255). Otherwise draw
/// (slot, position < bound) pairs until one names an entry: every entry has probability
/// 1/(slots x bound) per draw, but a try succeeds only fill / bound of the time.
pub fn random_entry<'d, E: Keyed>(d: &'d Dict<E>, bound: &mut ChainBound, rng: &mut impl Rng) -> Option<&'d E> {
    if d.is_sampled() {
        return d.sample(rng);
    }
    if d.is_empty() {
        return None;
    }
    bound.refresh(d);
    let slots = d.slots();
    loop {
        let slot = rng.gen_range(0..slots);
        let pos = rng.gen_range(0..bound.max);
        let (len, e) = d.chain_entry(slot, pos);
        if len > bound.max {
            // A longer chain than we knew: draws so far were fair for the old bound only.
            bound.max = len;
            continue;
        }
        if let Some(e) = e {
            return Some(e);
        }
    }
}

/// `count` results of `draw` with distinct `name`s (uniform draws from a collection of
/// more than `count` items), in the order first drawn.
pub fn distinct_draws<T>(count: usize, mut draw: impl FnMut() -> Option<T>, name: fn(&T) -> &[u8]) -> Vec<T> {
    let mut seen = ahash::AHashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let Some(m) = draw() else { break };
        if seen.insert(name(&m).to_vec()) {
            picked.push(m);
        }
    }
    picked
}

/// `n` distinct indices out of `0..len` in ascending order (selection sampling: each
/// subset equally likely).
pub fn distinct_indices(len: usize, n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut out = Vec::with_capacity(n.min(len));
    let mut needed = n.min(len);
    for i in 0..len {
        if needed == 0 {
            break;
        }
        if rng.gen_range(0..len - i) < needed {
            out.push(i);
            needed -= 1;
        }
    }
    out
}
// ------------------------------------------------------------------ representation

/// One field of a table-encoded hash.
#[derive(Clone)]
pub struct Field {
    pub name: CompactBytes,
    pub value: CompactBytes,
}

impl Keyed for Field {
    fn key(&self) -> &[u8] {
        &self.name
    }
}

#[derive(Clone)]
pub struct HashTable {
    pub dict: Dict<Field>,
    bound: ChainBound,
}

#[derive(Clone)]
pub enum Hash {
    /// "listpack": field, value, field, value ... (see the module comment).
    Packed(Packed),
    /// "hashtable".
    Table(Box<HashTable>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Packed::default())
    }
}

/// The hash thresholds, read once per command.
#[derive(Clone, Copy)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// Packed buffers stay well below 4 GiB (Redis's lpSafeToAdd keeps listpacks under 1 GiB).
const PACKED_MAX_BYTES: usize = 1 << 30;

impl Hash {
    /// `Dict::prefetch_key_addrs` of `field` when this hash is a big table (None for a listpack,
    /// which is one allocation).
    pub fn prefetch_addrs(&self, field: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        match self {
            Hash::Table(t) => t.dict.prefetch_key_addrs(field, entry),
            Hash::Packed(_) => None,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Bytes owned; a table's fields' own bytes from `samples` of them (0 = all).
    pub fn heap_size(&self, samples: usize) -> usize {
        match self {
            Hash::Packed(p) => p.bytes(),
            Hash::Table(t) => {
                t.dict.bucket_bytes()
                    + t.dict.len() * (std::mem::size_of::<Field>() + 8)
                    + t.dict.sum_sampled(samples, |f| f.name.heap_size() + f.value.heap_size())
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.count() / 2,
            Hash::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Packed(p) => p.is_empty(),
            Hash::Table(t) => t.dict.is_empty(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match self {
            Hash::Packed(p) => {
                let (_, _, end) = p.find(&Probe::new(field), 2)?;
                Some(decode(&p.buf, end).0)
            }
            Hash::Table(t) => t.dict.get(key_hash(field), field).map(|f| Elem::Str(&f.value)),
        }
    }

    /// Visit every (field, value) in the encoding's order.
    pub fn for_each(&self, mut f: impl FnMut(Elem, Elem)) {
        match self {
            Hash::Packed(p) => {
                let mut it = p.iter();
                while let (Some((k, _, _)), Some((v, _, _))) = (it.next(), it.next()) {
                    f(k, v);
                }
            }
            Hash::Table(t) => t.dict.for_each(|e| f(Elem::Str(&e.name), Elem::Str(&e.value))),
        }
    }

    /// Convert to the table encoding (one-way), sized for `expect` fields.
    pub fn convert_to_table(&mut self, expect: usize) {
        let Hash::Packed(p) = self else { return };
        let mut dict = Dict::new_sampled(key_hash);
        dict.reserve_empty(expect.max(p.count() / 2));
        let mut it = p.iter();
        while let (Some((k, _, _)), Some((v, _, _))) = (it.next(), it.next()) {
            let name = CompactBytes::new(&k.bytes());
            let value = CompactBytes::new(&v.bytes());
            dict.insert_new(key_hash(&name), Field { name, value });
        }
        *self = Hash::Table(Box::new(HashTable { dict, bound: ChainBound::default() }));
    }

    /// HSET's early check (hashTypeTryConversion): Redis 7.2 converts at once when the
    /// command brings more pairs than a listpack may hold, or any argument too long.
    pub fn prepare_for(&mut self, pairs: &[&[u8]], lim: HashLimits) {
        let Hash::Packed(p) = self else { return };
        let new_fields = pairs.len() / 2;
        if new_fields > lim.max_entries {
            self.convert_to_table(new_fields);
            return;
        }
        let mut sum = 0;
        for a in pairs {
            if a.len() > lim.max_value {
                self.convert_to_table(0);
                return;
            }
            sum += a.len();
        }
        if p.bytes() + sum > PACKED_MAX_BYTES {
            self.convert_to_table(0);
        }
    }

    /// Set `field` to `value`; true if the field is new. Converts to the table encoding
    /// when a length or the entry count passes the thresholds (hashTypeSet).
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        if let Hash::Packed(p) = self {
            if field.len() > lim.max_value
                || value.len() > lim.max_value
                || p.bytes() + field.len() + value.len() > PACKED_MAX_BYTES
            {
                self.convert_to_table(0);
            }
        }
        match self {
            Hash::Packed(p) => {
                if let Some((_, _, fend)) = p.find(&Probe::new(field), 2) {
                    let (_, vend) = decode(&p.buf, fend);
                    p.splice(fend, vend, &[value]);
                    return false;
                }
                p.push(&[field, value]);
                if p.count() / 2 > lim.max_entries {
                    self.convert_to_table(0);
                }
                true
            }
            Hash::Table(t) => {
                let h = key_hash(field);
                if let Some(f) = t.dict.get_mut(h, field) {
                    f.value = CompactBytes::new(value);
                    return false;
                }
                t.dict.insert_new(h, Field { name: CompactBytes::new(field), value: CompactBytes::new(value) });
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => {
                let Some((_, fstart, fend)) = p.find(&Probe::new(field), 2) else { return false };
                let (_, vend) = decode(&p.buf, fend);
                p.remove_ranges(&[(fstart, vend)]);
                true
            }
            Hash::Table(t) => t.dict.remove(key_hash(field), field).is_some(),
        }
    }

    /// All (field, value) pairs as owned bytes, in the encoding's order.
    pub fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|k, val| v.push((k.bytes().into_owned(), val.bytes().into_owned())));
        v
    }

    /// A uniformly random pair.
    pub fn random_pair(&mut self, rng: &mut impl Rng) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Hash::Packed(p) => {
                let n = p.count() / 2;
                if n == 0 {
                    return None;
                }
                let want = rng.gen_range(0..n) * 2;
                let mut it = p.iter().skip(want);
                let k = it.next()?.0.bytes().into_owned();
                let v = it.next()?.0.bytes().into_owned();
                Some((k, v))
            }
            Hash::Table(t) => {
                let HashTable { dict, bound } = &mut **t;
                let f = random_entry(dict, bound, rng)?;
                Some((f.name.to_vec(), f.value.to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(entries: usize, value: usize) -> HashLimits {
        HashLimits { max_entries: entries, max_value: value }
    }

    #[test]
    fn packed_roundtrip_every_element_kind() {
        let samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-129".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"01".to_vec(),
            b"-0".to_vec(),
            b"+1".to_vec(),
            b"abc".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 70000],
        ];
        let mut p = Packed::default();
        let refs: Vec<&[u8]> = samples.iter().map(|s| &s[..]).collect();
        p.push(&refs);
        let back: Vec<Vec<u8>> = p.iter().map(|(e, _, _)| e.bytes().into_owned()).collect();
        assert_eq!(back, samples);
        for s in &samples {
            assert!(p.find(&Probe::new(s), 1).is_some());
        }
        assert!(p.find(&Probe::new(b"nope"), 1).is_none());
        assert_eq!(p.bytes(), samples.iter().map(|s| encoded_len(s)).sum::<usize>());
    }

    #[test]
    fn set_get_remove_and_conversion_at_thresholds() {
        let l = lim(4, 8);
        let mut h = Hash::default();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", l));
        }
        assert_eq!(h.encoding_name(), "listpack");
        assert!(!h.set(b"f0", b"12345678", l));
        assert_eq!(h.encoding_name(), "listpack");
        assert_eq!(h.get(b"f0").map(|e| e.bytes().into_owned()), Some(b"12345678".to_vec()));
        assert!(h.set(b"f4", b"v", l));
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 5);
        assert!(h.remove(b"f4"));
        assert_eq!(h.encoding_name(), "hashtable", "conversion is one-way");

        let mut h = Hash::default();
        h.set(b"a", b"123456789", l);
        assert_eq!(h.encoding_name(), "hashtable");

        let mut h = Hash::default();
        h.set(b"a", b"1", l);
        h.set(b"b", b"2", l);
        let order: Vec<Vec<u8>> = {
            let mut v = Vec::new();
            h.for_each(|k, _| v.push(k.bytes().into_owned()));
            v
        };
        assert_eq!(order, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert!(h.remove(b"b"));
        assert!(h.is_empty());
    }

    #[test]
    fn prepare_for_converts_on_many_pairs_or_long_args() {
        let l = lim(2, 4);
        let mut h = Hash::default();
        h.prepare_for(&[b"a", b"1", b"b", b"2", b"a", b"3"], l);
        assert_eq!(h.encoding_name(), "hashtable");
        let mut h = Hash::default();
        h.prepare_for(&[b"abcde", b"1"], l);
        assert_eq!(h.encoding_name(), "hashtable");
        let mut h = Hash::default();
        h.prepare_for(&[b"abcd", b"1"], l);
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn table_random_is_roughly_uniform() {
        let l = lim(0, 64);
        let mut h = Hash::default();
        let n = 50;
        for i in 0..n {
            h.set(format!("field:{i}").as_bytes(), b"v", l);
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut counts = std::collections::HashMap::new();
        let draws = 50_000;
        for _ in 0..draws {
            let (k, _) = h.random_pair(&mut rng).unwrap();
            *counts.entry(k).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), n);
        let expect = draws as f64 / n as f64;
        let chi: f64 = counts.values().map(|&c| (c as f64 - expect).powi(2) / expect).sum();
        // 49 degrees of freedom: p = 1e-6 at about 105.
        assert!(chi < 110.0, "chi-square {chi}");
    }

    #[test]
    fn distinct_indices_are_distinct_sorted_and_complete() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for (len, n) in [(10, 3), (10, 10), (10, 20), (0, 5), (100, 1)] {
            let v = distinct_indices(len, n, &mut rng);
            assert_eq!(v.len(), n.min(len));
            assert!(v.windows(2).all(|w| w[0] < w[1]));
            assert!(v.iter().all(|&i| i < len));
        }
    }

    use rand::SeedableRng;
}
