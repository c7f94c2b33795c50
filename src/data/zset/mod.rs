//! Sorted sets (Redis's t_zset.c, its skiplist and listpack halves): the representation and
//! the range specifications. The commands are in `types::zset`.
//!
//! Two encodings, reported by OBJECT ENCODING with Redis's names:
//!
//! * "listpack": a small set is a `Vec` of (score, member) kept in order. Redis's listpack
//!   is a byte blob scanned linearly; ours is an array of 32-byte items (members up to 22
//!   bytes inline), binary-searched by score and scanned for a member, with the same
//!   thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
//! * "skiplist": past either threshold the set converts, one way, to a member dictionary
//!   (`Dict<ZEntry>`: member -> score, which gives ZSCORE in O(1) and ZSCAN its SCAN
//!   guarantee) plus an order-statistic B+-tree over (score, member) (`tree::Tree`) for
//!   rank, range by rank and range by score or lex in O(log n).
//!
//! Why a B+-tree and not Redis's skiplist: a skiplist node carries the score, a member
//! pointer, a backward pointer and 1.33 (pointer, span) levels on average, ~52 bytes in
//! its own allocation per element. Our leaves pack 64 slots of (score, entry pointer), 16
//! bytes each, in one allocation, with element counts in the inner nodes only; at the
//! typical ~70% fill that is ~23 bytes per element, and sequential inserts (timestamps,
//! the rate-limiter pattern) fill leaves completely because a split at the edge of the
//! tree leaves the full node alone. Range scans walk contiguous arrays instead of chasing
//! one pointer per element. The costs: an insert or delete moves up to 64 slots inside a
//! leaf (a 1 KiB memmove at worst, cheaper than the cache misses it saves), and the tree
//! points into the dictionary's nodes, which is the one `unsafe` contract of this module
//! (see `tree`): the member bytes are stored once, not twice.
//!
//! Ordering is Redis's: by score, then by member bytes; -0.0 equals 0.0 (a ZADD of -0 to
//! a member scored 0 is not an update) and NaN never enters (parsing rejects it, INCR
//! that would produce it fails with Redis's error).

pub mod tree;

use std::cmp::Ordering;
use std::marker::PhantomData;

use super::bytes::CompactBytes;
use super::dict::{key_hash, Dict};
use tree::{cmp_key, Slot, Tree, ZEntry};

/// A listpack item.
#[derive(Clone)]
struct Item {
    score: f64,
    member: CompactBytes,
}

/// A listpack stores the score as text and reads "-0" back as 0: Redis's small sets
/// lose the sign of a negative zero, its large ones keep it.
#[inline]
pub fn listpack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// The large encoding: member dictionary + order-statistic tree (see the module header).
struct Big {
    dict: Dict<ZEntry>,
    tree: Tree,
}

// SAFETY: the tree's raw pointers point only into this value's own dictionary, which it
// owns exclusively; moving the whole `Big` between threads moves that ownership with it.
unsafe impl Send for Big {}
unsafe impl Sync for Big {}

impl Big {
    fn new() -> Big {
        Big { dict: Dict::new(key_hash), tree: Tree::default() }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(key_hash(member), member).map(|e| e.score)
    }

    /// Insert a member known to be absent.
    fn insert_new(&mut self, member: &[u8], score: f64) {
        let e = self.dict.insert_new(key_hash(member), ZEntry { member: CompactBytes::new(member), score });
        let slot = Slot::new(e);
        self.tree.insert(slot);
    }

    fn update(&mut self, member: &[u8], new: f64) {
        // One dictionary lookup: the tree finds the old slot by the entry itself.
        let Some(e) = self.dict.get_mut(key_hash(member), member) else { return };
        let removed = self.tree.remove(e);
        debug_assert!(removed);
        e.score = new;
        self.tree.insert(Slot::new(e));
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let h = key_hash(member);
        let Some(e) = self.dict.get(h, member) else { return false };
        // Tree first: its slot points into the dictionary entry.
        let in_tree = self.tree.remove(e);
        debug_assert!(in_tree, "member in the dictionary but not in the tree");
        self.dict.remove(h, member);
        true
    }
}

impl Clone for Big {
    fn clone(&self) -> Self {
        // The tree points into the dictionary's nodes: rebuild it over the copy's nodes,
        // in order, which also packs its leaves.
        let mut out = Big::new();
        out.dict.reserve_empty(self.dict.len());
        self.tree.for_each(|s| out.insert_new(s.member(), s.score));
        out
    }
}

#[derive(Clone)]
enum Enc {
    Listpack(Vec<Item>),
    Skiplist(Box<Big>),
}

/// A member met by `ZSet::scan_from_score`, read on demand.
#[derive(Clone, Copy)]
pub struct MemberRef<'s>(MemberAt<'s>);

#[derive(Clone, Copy)]
enum MemberAt<'s> {
    Bytes(&'s [u8]),
    Slot(Slot, PhantomData<&'s ZSet>),
}

impl<'s> MemberRef<'s> {
    /// Start fetching the member, for a `get` some time later (a result collected first and
    /// replied after: the misses overlap instead of following each other).
    #[inline]
    pub fn prefetch(self) {
        if let MemberAt::Slot(s, _) = self.0 {
            s.prefetch_member();
        }
    }

    #[inline]
    pub fn get(self) -> &'s [u8] {
        match self.0 {
            MemberAt::Bytes(b) => b,
            MemberAt::Slot(s, _) => s.member(),
        }
    }
}

/// A sorted set. The encoding thresholds are passed in by the commands (cached in
/// `Server::limits`), never read from the configuration here.
#[derive(Clone)]
pub struct ZSet {
    enc: Enc,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { enc: Enc::Listpack(Vec::new()) }
    }
}

/// `zset-max-listpack-entries` and `zset-max-listpack-value`, read once per command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Limits {
    /// Whether a set of `len` members, the longest `max_member` bytes, fits a listpack.
    pub fn fits(&self, len: usize, max_member: usize) -> bool {
        len <= self.entries && max_member <= self.value
    }
}

impl ZSet {
    /// `Dict::prefetch_key_addrs` of `member` in the member dictionary of a big skiplist-encoded set.
    pub fn prefetch_addrs(&self, member: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        match &self.enc {
            Enc::Skiplist(b) => b.dict.prefetch_key_addrs(member, entry),
            Enc::Listpack(_) => None,
        }
    }

    /// An empty set in the encoding Redis's zsetTypeCreate picks for this size hint.
    pub fn with_hint(len: usize, max_member: usize, limits: Limits) -> ZSet {
        if limits.fits(len, max_member) {
            ZSet { enc: Enc::Listpack(Vec::with_capacity(len.min(limits.entries))) }
        } else {
            ZSet { enc: Enc::Skiplist(Box::new(Big::new())) }
        }
    }

    /// Build from items sorted by (score, member), without duplicates, in the smallest
    /// encoding that fits (what every *STORE command leaves behind).
    pub fn from_sorted(items: Vec<(f64, CompactBytes)>, limits: Limits) -> ZSet {
        let max_member = items.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        if limits.fits(items.len(), max_member) {
            let items = items.into_iter().map(|(score, member)| Item { score: listpack_score(score), member });
            return ZSet { enc: Enc::Listpack(items.collect()) };
        }
        let mut big = Big::new();
        big.dict.reserve_empty(items.len());
        for (score, member) in &items {
            big.insert_new(member, *score);
        }
        ZSet { enc: Enc::Skiplist(Box::new(big)) }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self.enc {
            Enc::Listpack(_) => "listpack",
            Enc::Skiplist(_) => "skiplist",
        }
    }

    /// Bytes owned; a skiplist's members' own bytes in its dict from `samples` of them
    /// (0 = all); the tree is walked whole (its nodes hold runs of members).
    pub fn heap_size(&self, samples: usize) -> usize {
        match &self.enc {
            Enc::Listpack(v) => {
                v.capacity() * std::mem::size_of::<Item>() + v.iter().map(|i| i.member.heap_size()).sum::<usize>()
            }
            Enc::Skiplist(b) => {
                let members = b.dict.sum_sampled(samples, |e| e.member.heap_size());
                std::mem::size_of::<Big>()
                    + b.dict.bucket_bytes()
                    + b.dict.len() * (std::mem::size_of::<ZEntry>() + 8)
                    + members
                    + b.tree.heap_size()
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.enc {
            Enc::Listpack(v) => v.len(),
            Enc::Skiplist(b) => b.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.enc, Enc::Listpack(_))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.enc {
            Enc::Listpack(v) => v.iter().find(|i| &i.member[..] == member).map(|i| i.score),
            Enc::Skiplist(b) => b.score(member),
        }
    }

    /// 0-based ascending rank and score of a member.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.enc {
            Enc::Listpack(v) => v.iter().position(|i| &i.member[..] == member).map(|r| (r, v[r].score)),
            Enc::Skiplist(b) => {
                let score = b.score(member)?;
                b.tree.rank(score, member).map(|r| (r, score))
            }
        }
    }

    /// The element at ascending rank `r`.
    pub fn at(&self, r: usize) -> Option<(f64, &[u8])> {
        match &self.enc {
            Enc::Listpack(v) => v.get(r).map(|i| (i.score, &i.member[..])),
            Enc::Skiplist(b) => b.tree.get(r).map(|s| (s.score, s.member())),
        }
    }

    /// Number of elements for which `before` holds; `before` must be true on a prefix of
    /// the (score, member) order.
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.enc {
            Enc::Listpack(v) => v.partition_point(|i| before(i.score, &i.member)),
            Enc::Skiplist(b) => b.tree.count_before(before),
        }
    }

    /// Visit elements from ascending rank `from`, upwards (or downwards when `rev`), while
    /// `f` returns true.
    pub fn visit<'s>(&'s self, from: usize, rev: bool, mut f: impl FnMut(f64, &'s [u8]) -> bool) {
        match &self.enc {
            Enc::Listpack(v) => {
                if from >= v.len() {
                    return;
                }
                if rev {
                    for i in v[..=from].iter().rev() {
                        if !f(i.score, &i.member) {
                            return;
                        }
                    }
                } else {
                    for i in &v[from..] {
                        if !f(i.score, &i.member) {
                            return;
                        }
                    }
                }
            }
            Enc::Skiplist(b) => b.tree.visit(from, rev, &mut |s| f(s.score, s.member())),
        }
    }

    /// Start loading what `scan_from_score(min)` will read first (the large encoding's leaf).
    pub fn prefetch_from_score(&self, min: f64) {
        if let Enc::Skiplist(b) = &self.enc {
            b.tree.prefetch_leaf_of_score(min);
        }
    }

    /// Visit in ascending order the elements scored `min` or more, while `f` returns true.
    /// Only scores are read on the way: a member's bytes are fetched when its `MemberRef` is
    /// asked for them (GEOSEARCH filters most candidates by score alone).
    pub fn scan_from_score<'s>(&'s self, min: f64, mut f: impl FnMut(f64, MemberRef<'s>) -> bool) {
        match &self.enc {
            Enc::Listpack(v) => {
                let from = v.partition_point(|i| i.score < min);
                for i in &v[from..] {
                    if !f(i.score, MemberRef(MemberAt::Bytes(&i.member))) {
                        return;
                    }
                }
            }
            Enc::Skiplist(b) => {
                let from = b.tree.count_below_score(min);
                b.tree.visit(from, false, &mut |s| f(s.score, MemberRef(MemberAt::Slot(*s, PhantomData))));
            }
        }
    }

    /// Visit `n` elements of the ascending rank window starting at `from` (or, when `rev`,
    /// the `n` elements going down from `from`).
    pub fn visit_n<'s>(&'s self, from: usize, n: usize, rev: bool, mut f: impl FnMut(f64, &'s [u8])) {
        let mut left = n;
        if left == 0 {
            return;
        }
        self.visit(from, rev, |s, m| {
            f(s, m);
            left -= 1;
            left > 0
        });
    }

    /// Convert to the large encoding (one way, as Redis; SORT does it too).
    pub fn convert_to_skiplist(&mut self) {
        if let Enc::Listpack(v) = &mut self.enc {
            let mut big = Big::new();
            big.dict.reserve_empty(v.len());
            for i in v.iter() {
                big.insert_new(&i.member, i.score);
            }
            self.enc = Enc::Skiplist(Box::new(big));
        }
    }

    /// Redis's zsetTypeMaybeConvert: a ZADD of more pairs than a listpack may hold
    /// converts before adding.
    pub fn maybe_convert_for(&mut self, incoming: usize, limits: Limits) {
        if self.is_listpack() && incoming > limits.entries {
            self.convert_to_skiplist();
        }
    }

    /// Insert a member known to be absent, converting first if it would not fit.
    pub fn insert_new(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let Enc::Listpack(v) = &self.enc {
            if !limits.fits(v.len() + 1, member.len()) {
                self.convert_to_skiplist();
            }
        }
        match &mut self.enc {
            Enc::Listpack(v) => {
                let score = listpack_score(score);
                let at = v.partition_point(|i| cmp_key(i.score, &i.member, score, member) == Ordering::Less);
                v.insert(at, Item { score, member: CompactBytes::new(member) });
            }
            Enc::Skiplist(b) => b.insert_new(member, score),
        }
    }

    /// Change an existing member's score to `new`.
    pub fn update(&mut self, member: &[u8], new: f64) {
        match &mut self.enc {
            Enc::Listpack(v) => {
                let Some(from) = v.iter().position(|i| &i.member[..] == member) else { return };
                let mut item = v.remove(from);
                let new = listpack_score(new);
                item.score = new;
                let at = v.partition_point(|i| cmp_key(i.score, &i.member, new, member) == Ordering::Less);
                v.insert(at, item);
            }
            Enc::Skiplist(b) => b.update(member, new),
        }
    }

    /// Add or update a member with a plain score (no ZADD flags).
    pub fn set(&mut self, member: &[u8], score: f64, limits: Limits) {
        match self.score(member) {
            None => self.insert_new(member, score, limits),
            Some(old) if old != score => self.update(member, score),
            Some(_) => {}
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.enc {
            Enc::Listpack(v) => match v.iter().position(|i| &i.member[..] == member) {
                Some(p) => {
                    v.remove(p);
                    true
                }
                None => false,
            },
            Enc::Skiplist(b) => b.remove(member),
        }
    }

    /// Remove the ascending rank window [start, start + n).
    pub fn remove_ranks(&mut self, start: usize, n: usize) {
        if n == 0 {
            return;
        }
        match &mut self.enc {
            Enc::Listpack(v) => {
                let end = (start + n).min(v.len());
                v.drain(start.min(end)..end);
            }
            Enc::Skiplist(b) => {
                let mut doomed: Vec<CompactBytes> = Vec::with_capacity(n.min(b.tree.len()));
                b.tree.visit(start, false, &mut |s| {
                    doomed.push(CompactBytes::new(s.member()));
                    doomed.len() < n
                });
                for m in &doomed {
                    b.remove(m);
                }
            }
        }
    }

    /// Remove and return the lowest (or highest) element.
    pub fn pop(&mut self, max: bool) -> Option<(f64, CompactBytes)> {
        match &mut self.enc {
            Enc::Listpack(v) => {
                if v.is_empty() {
                    return None;
                }
                let i = if max { v.pop() } else { Some(v.remove(0)) }?;
                Some((i.score, i.member))
            }
            Enc::Skiplist(b) => {
                let n = b.tree.len();
                if n == 0 {
                    return None;
                }
                let s = b.tree.get(if max { n - 1 } else { 0 })?;
                let member = CompactBytes::new(s.member());
                b.remove(&member);
                Some((s.score, member))
            }
        }
    }

    /// One ZSCAN step over the large encoding (None for a listpack, which Redis returns
    /// whole in one reply).
    pub fn scan<'s>(&'s self, cursor: u64, mut f: impl FnMut(&'s [u8], f64)) -> Option<u64> {
        match &self.enc {
            Enc::Listpack(_) => None,
            Enc::Skiplist(b) => Some(b.dict.scan(cursor, |e| {
                // SAFETY: the entries belong to `self`'s dictionary, borrowed for 's.
                let m: &'s [u8] = unsafe { &*(e.member.as_slice() as *const [u8]) };
                f(m, e.score)
            })),
        }
    }

    #[cfg(test)]
    fn check(&self) {
        match &self.enc {
            Enc::Listpack(v) => {
                for w in v.windows(2) {
                    assert_eq!(cmp_key(w[0].score, &w[0].member, w[1].score, &w[1].member), Ordering::Less);
                }
            }
            Enc::Skiplist(b) => {
                b.tree.check();
                assert_eq!(b.tree.len(), b.dict.len());
                b.tree.for_each(|s| {
                    let e = b.dict.get(key_hash(s.member()), s.member()).expect("tree member in dict");
                    assert_eq!(e.score.to_bits(), s.score.to_bits());
                });
            }
        }
    }
}

// ------------------------------------------------------------------ range specifications

/// A range argument that does not parse; the command layer turns it into Redis's error
/// ("ERR min or max is not a float", "ERR min or max not valid string range item").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRange {
    Score,
    Lex,
}

/// strtod over the whole argument, as zslParseRange uses it: leading whitespace and an
/// empty string (0) are accepted, overflow gives +-inf, NaN is rejected; parsing stops at
/// a NUL byte (the argument is a C string to Redis).
fn strtod_all(s: &[u8]) -> Option<f64> {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    let s = &s[..end];
    let mut buf = [0u8; 128];
    let heap;
    let c: &[u8] = if s.len() < buf.len() {
        buf[..s.len()].copy_from_slice(s);
        &buf[..=s.len()]
    } else {
        let mut v = s.to_vec();
        v.push(0);
        heap = v;
        &heap
    };
    let mut endp: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated; strtod reads up to the NUL and sets `endp` inside it.
    let v = unsafe { libc::strtod(c.as_ptr() as *const libc::c_char, &mut endp) };
    let consumed = (endp as usize).wrapping_sub(c.as_ptr() as usize);
    if consumed != s.len() || v.is_nan() {
        return None;
    }
    Some(v)
}

/// A score interval: "1.5", "(1.5" (exclusive), "-inf", "+inf".
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, BadRange> {
        let bound = |a: &[u8]| -> Option<(f64, bool)> {
            match a.first() {
                Some(b'(') => strtod_all(&a[1..]).map(|v| (v, true)),
                _ => strtod_all(a).map(|v| (v, false)),
            }
        };
        let (min, minex) = bound(min).ok_or(BadRange::Score)?;
        let (max, maxex) = bound(max).ok_or(BadRange::Score)?;
        Ok(ScoreRange { min, max, minex, maxex })
    }

    /// True for scores below the interval (a prefix of the order).
    pub fn below(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// True for scores not above the interval's top (a prefix of the order).
    pub fn not_above(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ascending rank window [start, end) of the interval in `z`.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_before(|s, _| self.below(s));
        let end = z.count_before(|s, _| self.not_above(s));
        (start, end.max(start))
    }
}

#[derive(Clone, Copy, Debug)]
pub enum LexBound<'a> {
    /// "-"
    Min,
    /// "+"
    Max,
    /// "[x" (inclusive) or "(x" (exclusive)
    Value(&'a [u8], bool),
}

/// A member interval for the BYLEX family: "[a", "(a", "-", "+".
#[derive(Clone, Copy, Debug)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, BadRange> {
        fn item(a: &[u8]) -> Option<LexBound<'_>> {
            // Redis checks the byte after '+'/'-' is the C string's terminator.
            let single = a.len() == 1 || a.get(1) == Some(&0);
            match a.first() {
                Some(b'+') if single => Some(LexBound::Max),
                Some(b'-') if single => Some(LexBound::Min),
                Some(b'(') => Some(LexBound::Value(&a[1..], true)),
                Some(b'[') => Some(LexBound::Value(&a[1..], false)),
                _ => None,
            }
        }
        Ok(LexRange { min: item(min).ok_or(BadRange::Lex)?, max: item(max).ok_or(BadRange::Lex)? })
    }

    /// True for members below the interval.
    pub fn below(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Value(v, ex) => {
                if ex {
                    m <= v
                } else {
                    m < v
                }
            }
        }
    }

    /// True for members not above the interval's top.
    pub fn not_above(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Value(v, ex) => {
                if ex {
                    m < v
                } else {
                    m <= v
                }
            }
        }
    }

    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_before(|_, m| self.below(m));
        let end = z.count_before(|_, m| self.not_above(m));
        (start, end.max(start))
    }
}

#[cfg(test)]
mod tests;
