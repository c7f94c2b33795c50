//! Sets (Redis's t_set.c, intset.c): the representation. The commands are in `types::set`.
//!
//! Three encodings, reported by OBJECT ENCODING with Redis 7.2's names and
//! switched at the same thresholds and by the same rules as Redis 7.2 (t_set.c's
//! setTypeCreate / setTypeAddAux / setTypeMaybeConvert), so the encoding a client observes
//! after any sequence of commands is Redis's:
//!
//! * "intset": every member is an integer (canonical decimal) and there are at most
//!   `set-max-intset-entries` of them: a sorted array of little-endian integers, all of the
//!   width (2, 4 or 8 bytes) the largest magnitude needs, in one exactly sized allocation:
//!   Redis's intset body without its 8-byte header, read with `data::intset`'s `member`
//!   and `search` (`intset::encode` adds the header when saving). Membership is a binary search;
//!   iteration is ascending order, as in Redis.
//! * "listpack": at most `set-max-listpack-entries` members of at most
//!   `set-max-listpack-value` bytes: the same flat tagged buffer as small hashes
//!   (`data::hash::Packed`: integers in binary, short strings with a one-byte header, in
//!   insertion order). Lookups are linear over a buffer of a few hundred bytes.
//! * "hashtable": the keyspace's own chained table (`data::dict::Dict`) of members
//!   held as `CompactBytes` (inline up to 22 bytes), so a typical member is one 32-byte
//!   node plus an 8-byte bucket pointer, against Redis's dictEntry + sds (about 64 bytes
//!   plus the bucket). The table gives SSCAN the SCAN guarantee (reverse-binary cursor
//!   across incremental rehashing) and bucket access for uniform random members.
//!
//! Random members (SRANDMEMBER, SPOP) are uniform; see `data::hash::random_entry` and
//! `Dict::sample`.

use rand::Rng;

use super::bytes::CompactBytes;
use super::dict::{key_hash, Dict, Keyed};
use super::hash::{as_canonical_int, random_entry, ChainBound, Elem, Packed, Probe};
use super::intset;

// ------------------------------------------------------------------ intset

/// Sorted integers of one width (2, 4 or 8 bytes, little endian), exactly sized.
#[derive(Clone)]
pub struct IntSet {
    width: u8,
    data: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet { width: 2, data: Box::default() }
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        intset::member(&self.data, self.width as usize, i)
    }

    pub fn search(&self, v: i64) -> Result<usize, usize> {
        intset::search(&self.data, self.width as usize, v)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Redis's intset bytes (RDB, DUMP): the header, then the members in their width,
    /// which like Redis's never narrows after a removal.
    pub fn to_intset_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(intset::HEADER_SIZE + self.data.len());
        out.extend_from_slice(&(self.width as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    /// An intset from outside, validated (`intset::IntSet::parse`), keeping its width.
    pub fn from_intset_bytes(buf: &[u8]) -> Result<IntSet, intset::Error> {
        let parsed = intset::IntSet::parse(buf)?;
        Ok(IntSet { width: parsed.width() as u8, data: buf[intset::HEADER_SIZE..].into() })
    }

    fn rebuild(&self, width: u8, insert: Option<(usize, i64)>, skip: Option<usize>) -> IntSet {
        let n = self.len() + insert.is_some() as usize - skip.is_some() as usize;
        let mut v = Vec::with_capacity(n * width as usize);
        let put = |v: &mut Vec<u8>, x: i64| v.extend_from_slice(&x.to_le_bytes()[..width as usize]);
        for i in 0..=self.len() {
            if let Some((at, x)) = insert {
                if at == i {
                    put(&mut v, x);
                }
            }
            if i < self.len() && skip != Some(i) {
                put(&mut v, self.get(i));
            }
        }
        IntSet { width, data: v.into_boxed_slice() }
    }

    pub fn insert(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                let width = self.width.max(intset::width_of(v) as u8);
                *self = self.rebuild(width, Some((at, v)), None);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(at) => {
                *self = self.rebuild(self.width, None, Some(at));
                true
            }
            Err(_) => false,
        }
    }

    /// Remove the members at sorted positions `idx`.
    fn remove_at(&mut self, idx: &[usize]) {
        let w = self.width as usize;
        let mut v = Vec::with_capacity(self.data.len() - idx.len() * w);
        let mut k = 0;
        for i in 0..self.len() {
            if k < idx.len() && idx[k] == i {
                k += 1;
                continue;
            }
            v.extend_from_slice(&self.data[i * w..i * w + w]);
        }
        self.data = v.into_boxed_slice();
    }
}

// ------------------------------------------------------------------ representation

/// A member of a table-encoded set.
#[derive(Clone)]
pub struct Member(pub CompactBytes);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Clone)]
pub struct SetTable {
    pub dict: Dict<Member>,
    bound: ChainBound,
}

#[derive(Clone)]
pub enum Set {
    Ints(IntSet),
    Packed(Packed),
    Table(Box<SetTable>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// The set thresholds, read once per command.
#[derive(Clone, Copy)]
pub struct SetLimits {
    pub intset_entries: usize,
    pub listpack_entries: usize,
    pub listpack_value: usize,
}

const PACKED_MAX_BYTES: usize = 1 << 30;

/// Run `f` with the string form of `e` (integers formatted on the stack).
#[inline]
pub fn with_bytes<R>(e: Elem, f: impl FnOnce(&[u8]) -> R) -> R {
    match e {
        Elem::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        Elem::Str(s) => f(s),
    }
}

fn digits(n: i64) -> usize {
    itoa::Buffer::new().format(n).len()
}

impl Set {
    /// `Dict::prefetch_key_addrs` of `member` when this set is a big table.
    pub fn prefetch_addrs(&self, member: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        match self {
            Set::Table(t) => t.dict.prefetch_key_addrs(member, entry),
            _ => None,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Packed(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    /// Bytes owned; a table's members' own bytes from `samples` of them (0 = all).
    pub fn heap_size(&self, samples: usize) -> usize {
        match self {
            Set::Ints(i) => i.data.len(),
            Set::Packed(p) => p.bytes(),
            Set::Table(t) => {
                t.dict.bucket_bytes()
                    + t.dict.len() * (std::mem::size_of::<Member>() + 8)
                    + t.dict.sum_sampled(samples, |m| m.0.heap_size())
            }
        }
    }

    /// setTypeCreate: the encoding a new set starts in, from its first member and the
    /// number of members about to be added.
    pub fn create(first: &[u8], size_hint: usize, lim: SetLimits) -> Set {
        if as_canonical_int(first).is_some() && size_hint <= lim.intset_entries {
            Set::Ints(IntSet::default())
        } else if size_hint <= lim.listpack_entries {
            Set::Packed(Packed::default())
        } else {
            Set::Table(Box::new(SetTable { dict: table_with(size_hint), bound: ChainBound::default() }))
        }
    }

    /// setTypeMaybeConvert: go to the table at once when `size_hint` members are coming
    /// and the compact encoding could not hold them.
    pub fn maybe_convert(&mut self, size_hint: usize, lim: SetLimits) {
        let big = match self {
            Set::Packed(_) => size_hint > lim.listpack_entries,
            Set::Ints(_) => size_hint > lim.intset_entries,
            Set::Table(_) => false,
        };
        if big {
            self.convert_to_table(size_hint);
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(i) => i.len(),
            Set::Packed(p) => p.count(),
            Set::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Set::Ints(i) => i.is_empty(),
            Set::Packed(p) => p.is_empty(),
            Set::Table(t) => t.dict.is_empty(),
        }
    }

    /// Visit every member in the encoding's order.
    pub fn for_each(&self, mut f: impl FnMut(Elem)) {
        match self {
            Set::Ints(i) => i.iter().for_each(|n| f(Elem::Int(n))),
            Set::Packed(p) => p.iter().for_each(|(e, _, _)| f(e)),
            Set::Table(t) => t.dict.for_each(|m| f(Elem::Str(&m.0))),
        }
    }

    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|e| v.push(e.bytes().into_owned()));
        v
    }

    pub fn contains(&self, p: &Probe) -> bool {
        match self {
            Set::Ints(i) => p.int.is_some_and(|n| i.contains(n)),
            Set::Packed(pk) => pk.find(p, 1).is_some(),
            Set::Table(t) => t.dict.get(key_hash(p.bytes), p.bytes).is_some(),
        }
    }

    pub fn contains_elem(&self, e: Elem) -> bool {
        match (self, e) {
            (Set::Ints(i), Elem::Int(n)) => i.contains(n),
            (Set::Ints(_), Elem::Str(s)) => as_canonical_int(s).is_some_and(|n| self.contains_elem(Elem::Int(n))),
            _ => with_bytes(e, |s| self.contains(&Probe::new(s))),
        }
    }

    pub fn convert_to_table(&mut self, cap: usize) {
        if let Set::Table(_) = self {
            return;
        }
        let mut dict = table_with(cap.max(self.len()));
        self.for_each(|e| {
            let m = CompactBytes::new(&e.bytes());
            dict.insert_new(key_hash(&m), Member(m));
        });
        *self = Set::Table(Box::new(SetTable { dict, bound: ChainBound::default() }));
    }

    fn convert_to_packed(&mut self) {
        let mut p = Packed::default();
        if let Set::Ints(i) = self {
            for n in i.iter() {
                p.push_int(n);
            }
            *self = Set::Packed(p);
        }
    }

    /// maybeConvertToIntset: every member is known to be an integer.
    pub fn maybe_to_intset(&mut self, lim: SetLimits) {
        if matches!(self, Set::Ints(_)) || self.len() > lim.intset_entries {
            return;
        }
        let mut is = IntSet::default();
        let mut ok = true;
        self.for_each(|e| match e.as_int() {
            Some(n) => {
                is.insert(n);
            }
            None => ok = false,
        });
        if ok {
            *self = Set::Ints(is);
        }
    }

    /// setTypeAddAux: add `m`, converting as Redis 7.2 does. True if it was new.
    pub fn add(&mut self, m: &[u8], lim: SetLimits) -> bool {
        match self {
            Set::Table(t) => {
                let h = key_hash(m);
                if t.dict.get(h, m).is_some() {
                    return false;
                }
                t.dict.insert_new(h, Member(CompactBytes::new(m)));
                true
            }
            Set::Packed(p) => {
                if p.find(&Probe::new(m), 1).is_some() {
                    return false;
                }
                if p.count() < lim.listpack_entries
                    && m.len() <= lim.listpack_value
                    && p.bytes() + m.len() < PACKED_MAX_BYTES
                {
                    p.push(&[m]);
                } else {
                    let n = p.count();
                    self.convert_to_table(n + 1);
                    self.add(m, lim);
                }
                true
            }
            Set::Ints(is) => {
                if let Some(n) = as_canonical_int(m) {
                    if !is.insert(n) {
                        return false;
                    }
                    if is.len() > lim.intset_entries {
                        self.convert_to_table(0);
                    }
                    return true;
                }
                let n = is.len();
                let maxelelen = if n == 0 { 0 } else { digits(is.get(0)).max(digits(is.get(n - 1))) };
                if n < lim.listpack_entries && m.len() <= lim.listpack_value && maxelelen <= lim.listpack_value {
                    self.convert_to_packed();
                } else {
                    self.convert_to_table(n + 1);
                }
                self.add(m, lim)
            }
        }
    }

    pub fn add_elem(&mut self, e: Elem, lim: SetLimits) -> bool {
        match (&mut *self, e) {
            (Set::Ints(is), Elem::Int(n)) => {
                if !is.insert(n) {
                    return false;
                }
                if is.len() > lim.intset_entries {
                    self.convert_to_table(0);
                }
                true
            }
            _ => with_bytes(e, |s| self.add(s, lim)),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(i) => as_canonical_int(m).is_some_and(|n| i.remove(n)),
            Set::Packed(p) => match p.find(&Probe::new(m), 1) {
                Some((_, s, e)) => {
                    p.remove_ranges(&[(s, e)]);
                    true
                }
                None => false,
            },
            Set::Table(t) => t.dict.remove(key_hash(m), m).is_some(),
        }
    }

    pub fn remove_elem(&mut self, e: Elem) -> bool {
        match (&mut *self, e) {
            (Set::Ints(i), Elem::Int(n)) => i.remove(n),
            _ => with_bytes(e, |s| self.remove(s)),
        }
    }

    /// A uniformly random member.
    pub fn random_member(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        match self {
            Set::Ints(i) => (!i.is_empty()).then(|| {
                let n = i.get(rng.gen_range(0..i.len()));
                itoa::Buffer::new().format(n).as_bytes().to_vec()
            }),
            Set::Packed(p) => {
                let n = p.count();
                if n == 0 {
                    return None;
                }
                p.iter().nth(rng.gen_range(0..n)).map(|(e, _, _)| e.bytes().into_owned())
            }
            Set::Table(t) => {
                let SetTable { dict, bound } = &mut **t;
                random_entry(dict, bound, rng).map(|m| m.0.to_vec())
            }
        }
    }

    /// Remove and return a uniformly random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        let m = self.random_member(rng)?;
        self.remove(&m);
        if let Set::Table(t) = self {
            // Keep the table at least half full while popping: a uniform draw probes about
            // max-window / (16 x fill) windows (`Dict::sample`).
            t.dict.shrink_below(2);
        }
        Some(m)
    }

    /// Remove the members at positions `idx` (sorted) of a compact encoding, returning them.
    pub fn take_positions(&mut self, idx: &[usize]) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(idx.len());
        match self {
            Set::Ints(i) => {
                out.extend(idx.iter().map(|&k| itoa::Buffer::new().format(i.get(k)).as_bytes().to_vec()));
                i.remove_at(idx);
            }
            Set::Packed(p) => {
                let mut ranges = Vec::with_capacity(idx.len());
                let mut k = 0;
                for (n, (e, s, t)) in p.iter().enumerate() {
                    if k < idx.len() && idx[k] == n {
                        out.push(e.bytes().into_owned());
                        ranges.push((s, t));
                        k += 1;
                    }
                }
                p.remove_ranges(&ranges);
            }
            Set::Table(_) => {}
        }
        out
    }
}

fn table_with(cap: usize) -> Dict<Member> {
    let mut d = Dict::new_sampled(key_hash);
    d.reserve_empty(cap);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn lim(ints: usize, lp: usize, val: usize) -> SetLimits {
        SetLimits { intset_entries: ints, listpack_entries: lp, listpack_value: val }
    }

    fn build(members: &[&str], l: SetLimits) -> Set {
        let mut s = Set::create(members[0].as_bytes(), members.len(), l);
        for m in members {
            s.add(m.as_bytes(), l);
        }
        s
    }

    #[test]
    fn intset_widths_order_and_removal() {
        let mut i = IntSet::default();
        for v in [5, -3, 70000, i64::MIN, 0, 5] {
            i.insert(v);
        }
        assert_eq!(i.width, 8);
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 0, 5, 70000]);
        assert!(i.remove(0));
        assert!(!i.remove(0));
        assert_eq!(i.len(), 4);
        i.remove_at(&[0, 3]);
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![-3, 5]);
    }

    #[test]
    fn encodings_follow_redis_7_2_rules() {
        let l = lim(2, 3, 5);
        let mut s = build(&["1", "2"], l);
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"3", l);
        assert_eq!(s.encoding_name(), "hashtable", "intset overflow goes to the table");

        let mut s = build(&["1", "2"], l);
        s.add(b"x", l);
        assert_eq!(s.encoding_name(), "listpack");
        assert_eq!(s.members(), vec![b"1".to_vec(), b"2".to_vec(), b"x".to_vec()]);
        s.add(b"y", l);
        assert_eq!(s.encoding_name(), "hashtable");

        let s = build(&["abcde"], l);
        assert_eq!(s.encoding_name(), "listpack");
        let mut s = build(&["abcdef"], l);
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.remove(b"abcdef"));
        assert!(s.is_empty());
        assert_eq!(build(&["a", "b", "c", "d"], l).encoding_name(), "hashtable", "size hint");
        assert_eq!(build(&["1", "2", "3"], l).encoding_name(), "listpack", "size hint past intset");
    }

    #[test]
    fn membership_across_encodings() {
        let l = lim(512, 128, 64);
        for members in [vec!["1", "2", "-7"], vec!["a", "1", "b"]] {
            let mut s = build(&members, l);
            for m in &members {
                assert!(s.contains(&Probe::new(m.as_bytes())));
            }
            assert!(!s.contains(&Probe::new(b"01")));
            s.convert_to_table(0);
            for m in &members {
                assert!(s.contains(&Probe::new(m.as_bytes())));
            }
        }
    }

    #[test]
    fn pop_random_is_uniform_and_drains() {
        let l = lim(0, 0, 64);
        let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        let mut s = build(&refs, l);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut counts = std::collections::HashMap::new();
        let draws = 40_000;
        for _ in 0..draws {
            *counts.entry(s.random_member(&mut rng).unwrap()).or_insert(0usize) += 1;
        }
        let expect = draws as f64 / 40.0;
        let chi: f64 = counts.values().map(|&c| (c as f64 - expect).powi(2) / expect).sum();
        assert_eq!(counts.len(), 40);
        assert!(chi < 95.0, "chi-square {chi}"); // 39 dof, p ~ 1e-6
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = s.pop_random(&mut rng) {
            assert!(seen.insert(m));
        }
        assert_eq!(seen.len(), 40);
    }

    #[test]
    fn scan_sees_every_member_while_growing() {
        let l = lim(0, 0, 64);
        let mut s = build(&["seed"], l);
        for i in 0..300 {
            s.add(format!("stable:{i}").as_bytes(), l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let Set::Table(t) = &s else { panic!("table expected") };
            cursor = t.dict.scan(cursor, |m| {
                seen.insert(m.0.to_vec());
            });
            round += 1;
            // Grow for a while, then stop: a table that grows faster than the scan
            // advances would never let any scan finish (true of Redis too).
            if round < 50 {
                for j in 0..30 {
                    s.add(format!("new:{round}:{j}").as_bytes(), l);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..300 {
            assert!(seen.contains(format!("stable:{i}").as_bytes()));
        }
    }
}
