//! `Tree`: the order-statistic B+-tree of a large sorted set, ordered by (score, member).
//!
//! Leaves hold `Slot`s: the score (so comparisons rarely leave the leaf) and a pointer to
//! the member's `ZEntry`, which lives in the sorted set's member dictionary. The member
//! bytes are therefore stored once; a slot costs 16 bytes. Inner nodes hold, per child,
//! the number of elements below it (rank and range-by-rank in O(log n)) and owned copies
//! of separator keys: separators may outlive the element they were copied from, so they
//! must not point into the dictionary.
//!
//! Invariant of an inner node with children c0..ck and separators s1..sk:
//! max(c(i-1)) < s(i) <= min(c(i)). A key is routed to the child whose index is the
//! number of separators <= key; lookups, inserts and removals all route the same way, so
//! a stale separator (its element removed) is harmless.
//!
//! SAFETY contract with the owner (`zset::Big`): every slot points to a `ZEntry` that is
//! alive in the owner's dictionary, whose entries never move while they are in it (each
//! lives in its own heap node; rehashing relinks nodes). The owner removes a slot from the
//! tree before it removes the entry from the dictionary, and rebuilds the tree when it
//! clones the dictionary.

use std::cmp::Ordering;
use std::ptr::NonNull;

use crate::data::bytes::CompactBytes;
use crate::data::dict::Keyed;

/// A member and its score, as the member dictionary stores them.
pub struct ZEntry {
    pub member: CompactBytes,
    pub score: f64,
}

impl Keyed for ZEntry {
    fn key(&self) -> &[u8] {
        &self.member
    }
}

impl Clone for ZEntry {
    fn clone(&self) -> Self {
        ZEntry { member: self.member.clone(), score: self.score }
    }
}

/// Redis's order: by score, then by member bytes (memcmp, shorter first on a tie).
/// Scores are never NaN; -0.0 and 0.0 compare equal, as they do in Redis.
#[inline]
pub fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a_member.cmp(b_member),
        Some(o) => o,
    }
}

#[derive(Clone, Copy)]
pub struct Slot {
    pub score: f64,
    entry: NonNull<ZEntry>,
}

impl Slot {
    pub fn new(entry: &ZEntry) -> Slot {
        Slot { score: entry.score, entry: NonNull::from(entry) }
    }

    #[inline]
    pub fn member<'t>(&self) -> &'t [u8] {
        // SAFETY: see the module contract: the entry is alive while the slot is in the
        // tree, and callers only use the bytes while they borrow the tree's owner.
        unsafe { &(*self.entry.as_ptr()).member }
    }

    /// Start loading the entry (its member bytes, when inline) into the cache.
    #[inline]
    pub fn prefetch_member(&self) {
        crate::data::dict::prefetch_line(self.entry.as_ptr() as *const u8);
    }

    /// `cmp_key` against this slot (tests; searches use `leaf_lower_bound`).
    #[cfg(test)]
    fn cmp(&self, score: f64, member: &[u8]) -> Ordering {
        cmp_key(self.score, self.member(), score, member)
    }
}

/// An owned separator key.
struct Sep {
    score: f64,
    member: CompactBytes,
}

impl Sep {
    fn of(s: &Slot) -> Sep {
        Sep { score: s.score, member: CompactBytes::new(s.member()) }
    }
}

/// Number of slots scored below `score` in a sorted leaf. A full scan rather than a binary
/// search: a leaf is usually cold, and the scan's independent loads fetch its lines in
/// parallel where a binary search waits for one miss after another.
#[inline]
fn count_below(v: &[Slot], score: f64) -> usize {
    v.iter().map(|s| (s.score < score) as usize).sum()
}

/// Index of the first slot not below (score, member) in a sorted leaf. Scores decide, read
/// inside the leaf; members, which live in the dictionary's nodes and cost a cache miss
/// each, are read only among slots of equal score.
#[inline]
fn leaf_lower_bound(v: &[Slot], score: f64, member: &[u8]) -> usize {
    let lo = count_below(v, score);
    if v.get(lo).is_none_or(|s| s.score != score) {
        return lo;
    }
    let ties = v[lo..].partition_point(|s| s.score == score);
    lo + v[lo..lo + ties].partition_point(|s| s.member() < member)
}

pub const LEAF_CAP: usize = 64;
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_CAP: usize = 64;
const INNER_MIN: usize = INNER_CAP / 4;

enum Node {
    Leaf(Vec<Slot>),
    Inner(Box<Inner>),
}

struct Inner {
    /// seps[i] separates children[i] and children[i + 1].
    seps: Vec<Sep>,
    counts: Vec<usize>,
    children: Vec<Node>,
}

impl Node {
    fn new_leaf() -> Node {
        Node::Leaf(Vec::with_capacity(LEAF_CAP))
    }

    fn count(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.counts.iter().sum(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(v) => v.len() < LEAF_MIN,
            Node::Inner(n) => n.children.len() < INNER_MIN,
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(v) => v.capacity() * std::mem::size_of::<Slot>(),
            Node::Inner(n) => {
                std::mem::size_of::<Inner>()
                    + n.seps.capacity() * std::mem::size_of::<Sep>()
                    + n.seps.iter().map(|s| s.member.heap_size()).sum::<usize>()
                    + n.counts.capacity() * 8
                    + n.children.capacity() * std::mem::size_of::<Node>()
                    + n.children.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }
}

impl Inner {
    /// The child a key routes to: the number of separators <= the key. Scores decide (a
    /// branch-free count, like `count_below`); members are compared only among equal
    /// scores.
    #[inline]
    fn route(&self, score: f64, member: &[u8]) -> usize {
        let lo: usize = self.seps.iter().map(|s| (s.score < score) as usize).sum();
        if self.seps.get(lo).is_none_or(|s| s.score != score) {
            return lo;
        }
        lo + self.seps[lo..].partition_point(|s| s.score == score && &s.member[..] <= member)
    }
}

pub struct Tree {
    root: Node,
    len: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree { root: Node::new_leaf(), len: 0 }
    }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn heap_size(&self) -> usize {
        self.root.heap_size()
    }

    /// Insert a slot whose key is not in the tree.
    pub fn insert(&mut self, slot: Slot) {
        if let Some((sep, right)) = insert_rec(&mut self.root, slot, true, true) {
            let left = std::mem::replace(&mut self.root, Node::new_leaf());
            let counts = vec![left.count(), right.count()];
            self.root = Node::Inner(Box::new(Inner { seps: vec![sep], counts, children: vec![left, right] }));
        }
        self.len += 1;
    }

    /// Remove the slot of `entry` (at its current score); false if absent.
    pub fn remove(&mut self, entry: &ZEntry) -> bool {
        let found = remove_rec(&mut self.root, entry);
        if found {
            self.len -= 1;
            loop {
                match &mut self.root {
                    Node::Inner(n) if n.children.len() == 1 => {
                        let child = n.children.pop().expect("one child");
                        self.root = child;
                    }
                    _ => break,
                }
            }
        }
        found
    }

    /// 0-based rank of the key, if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Inner(n) => {
                    let i = n.route(score, member);
                    rank += n.counts[..i].iter().sum::<usize>();
                    node = &n.children[i];
                }
                Node::Leaf(v) => {
                    let i = leaf_lower_bound(v, score, member);
                    let found = v.get(i).is_some_and(|s| s.score == score && s.member() == member);
                    return found.then_some(rank + i);
                }
            }
        }
    }

    /// How many elements satisfy `before`, a predicate true on a prefix of the order.
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Inner(n) => {
                    let i = n.seps.partition_point(|s| before(s.score, &s.member));
                    rank += n.counts[..i].iter().sum::<usize>();
                    node = &n.children[i];
                }
                Node::Leaf(v) => return rank + v.partition_point(|s| before(s.score, s.member())),
            }
        }
    }

    /// Number of slots scored below `score`, by scores alone: no member bytes are read (they
    /// live in the dictionary's nodes, one cache miss each), which suits a scan by score.
    pub fn count_below_score(&self, score: f64) -> usize {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Inner(n) => {
                    let i = n.seps.partition_point(|s| s.score < score);
                    rank += n.counts[..i].iter().sum::<usize>();
                    node = &n.children[i];
                }
                Node::Leaf(v) => return rank + count_below(v, score),
            }
        }
    }

    /// Start loading the leaf where `count_below_score(score)` ends, whole: a caller about
    /// to scan from several scores asks for all of them first, so the leaves' misses overlap.
    pub fn prefetch_leaf_of_score(&self, score: f64) {
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => node = &n.children[n.seps.partition_point(|s| s.score < score)],
                Node::Leaf(v) => {
                    let bytes = std::mem::size_of_val(v.as_slice());
                    let base = v.as_ptr() as *const u8;
                    for off in (0..bytes).step_by(64) {
                        crate::data::dict::prefetch_line(base.wrapping_add(off));
                    }
                    return;
                }
            }
        }
    }

    /// The slot at `rank`.
    pub fn get(&self, mut rank: usize) -> Option<Slot> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => {
                    let mut i = 0;
                    while i + 1 < n.counts.len() && rank >= n.counts[i] {
                        rank -= n.counts[i];
                        i += 1;
                    }
                    node = &n.children[i];
                }
                Node::Leaf(v) => return v.get(rank).copied(),
            }
        }
    }

    /// Visit slots from rank `from`: upwards, or downwards when `rev`, while `f` says so.
    pub fn visit(&self, from: usize, rev: bool, f: &mut dyn FnMut(&Slot) -> bool) {
        if from >= self.len {
            return;
        }
        if rev {
            visit_rev(&self.root, from, f);
        } else {
            visit_fwd(&self.root, from, f);
        }
    }

    /// Every slot in order (tests, conversions).
    pub fn for_each(&self, mut f: impl FnMut(&Slot)) {
        self.visit(0, false, &mut |s| {
            f(s);
            true
        });
    }

    /// Check the structure (tests): order, counts, separators, fill.
    #[cfg(test)]
    pub fn check(&self) {
        fn rec(node: &Node, lo: Option<(f64, &[u8])>, hi: Option<(f64, &[u8])>, root: bool) -> usize {
            match node {
                Node::Leaf(v) => {
                    assert!(v.len() <= LEAF_CAP && (root || !v.is_empty()));
                    for w in v.windows(2) {
                        assert_eq!(w[0].cmp(w[1].score, w[1].member()), Ordering::Less);
                    }
                    for s in v {
                        if let Some((ls, lm)) = lo {
                            assert_ne!(s.cmp(ls, lm), Ordering::Less);
                        }
                        if let Some((hs, hm)) = hi {
                            assert_eq!(s.cmp(hs, hm), Ordering::Less);
                        }
                    }
                    v.len()
                }
                Node::Inner(n) => {
                    assert_eq!(n.seps.len() + 1, n.children.len());
                    assert_eq!(n.counts.len(), n.children.len());
                    assert!(n.children.len() <= INNER_CAP);
                    assert!(if root { n.children.len() >= 2 } else { n.children.len() >= INNER_MIN });
                    let mut total = 0;
                    for (i, c) in n.children.iter().enumerate() {
                        let clo = if i == 0 { lo } else { Some((n.seps[i - 1].score, &n.seps[i - 1].member[..])) };
                        let chi = if i == n.seps.len() { hi } else { Some((n.seps[i].score, &n.seps[i].member[..])) };
                        let c_count = rec(c, clo, chi, false);
                        assert_eq!(c_count, n.counts[i]);
                        total += c_count;
                    }
                    total
                }
            }
        }
        assert_eq!(rec(&self.root, None, None, true), self.len);
    }
}

fn visit_fwd(node: &Node, mut skip: usize, f: &mut dyn FnMut(&Slot) -> bool) -> bool {
    match node {
        Node::Leaf(v) => {
            for s in v.iter().skip(skip) {
                if !f(s) {
                    return false;
                }
            }
            true
        }
        Node::Inner(n) => {
            for (i, c) in n.children.iter().enumerate() {
                if skip >= n.counts[i] {
                    skip -= n.counts[i];
                    continue;
                }
                if !visit_fwd(c, skip, f) {
                    return false;
                }
                skip = 0;
            }
            true
        }
    }
}

/// Visit downwards starting at position `at` within this subtree.
fn visit_rev(node: &Node, at: usize, f: &mut dyn FnMut(&Slot) -> bool) -> bool {
    match node {
        Node::Leaf(v) => {
            if v.is_empty() {
                return true;
            }
            for s in v[..=at.min(v.len() - 1)].iter().rev() {
                if !f(s) {
                    return false;
                }
            }
            true
        }
        Node::Inner(n) => {
            // Find the child holding position `at`.
            let mut i = 0;
            let mut base = 0;
            while i + 1 < n.children.len() && at >= base + n.counts[i] {
                base += n.counts[i];
                i += 1;
            }
            if !visit_rev(&n.children[i], at - base, f) {
                return false;
            }
            for j in (0..i).rev() {
                if n.counts[j] == 0 {
                    continue;
                }
                if !visit_rev(&n.children[j], n.counts[j] - 1, f) {
                    return false;
                }
            }
            true
        }
    }
}

/// Insert below `node`; returns the separator and new right sibling on a split.
/// `leftmost`/`rightmost`: the node is at the edge of the whole tree, where a split
/// caused by a prepend/append leaves the full node alone (sequential scores, such as
/// timestamps, then fill leaves completely instead of half).
fn insert_rec(node: &mut Node, slot: Slot, leftmost: bool, rightmost: bool) -> Option<(Sep, Node)> {
    match node {
        Node::Leaf(v) => {
            let idx = leaf_lower_bound(v, slot.score, slot.member());
            if v.len() < LEAF_CAP {
                v.insert(idx, slot);
                return None;
            }
            let at = if rightmost && idx == v.len() {
                idx
            } else if leftmost && idx == 0 {
                0
            } else {
                v.len() / 2
            };
            let mut right = Vec::with_capacity(LEAF_CAP);
            right.extend_from_slice(&v[at..]);
            v.truncate(at);
            if idx < at || (idx == at && at == 0) {
                v.insert(idx, slot);
            } else {
                right.insert(idx - at, slot);
            }
            let sep = Sep::of(&right[0]);
            Some((sep, Node::Leaf(right)))
        }
        Node::Inner(n) => {
            let i = n.route(slot.score, slot.member());
            n.counts[i] += 1;
            let last = n.children.len() - 1;
            let split = insert_rec(&mut n.children[i], slot, leftmost && i == 0, rightmost && i == last)?;
            let (sep, right) = split;
            n.counts[i] = n.children[i].count();
            n.counts.insert(i + 1, right.count());
            n.children.insert(i + 1, right);
            n.seps.insert(i, sep);
            if n.children.len() <= INNER_CAP {
                return None;
            }
            let mid = n.children.len() / 2;
            let children = n.children.split_off(mid);
            let counts = n.counts.split_off(mid);
            let seps = n.seps.split_off(mid);
            let promoted = n.seps.pop().expect("mid >= 1");
            Some((promoted, Node::Inner(Box::new(Inner { seps, counts, children }))))
        }
    }
}

fn remove_rec(node: &mut Node, entry: &ZEntry) -> bool {
    match node {
        Node::Leaf(v) => {
            // Among the slots of equal score, the entry's own is found by identity: no
            // member is read.
            let lo = count_below(v, entry.score);
            let target = NonNull::from(entry);
            let at = v[lo..].iter().take_while(|s| s.score == entry.score).position(|s| s.entry == target);
            match at {
                Some(i) => {
                    v.remove(lo + i);
                    true
                }
                None => false,
            }
        }
        Node::Inner(n) => {
            let i = n.route(entry.score, &entry.member);
            if !remove_rec(&mut n.children[i], entry) {
                return false;
            }
            n.counts[i] -= 1;
            if n.children[i].underfull() && n.children.len() >= 2 {
                rebalance(n, i);
            }
            true
        }
    }
}

/// Merge child `i` with a sibling, or share elements evenly with it.
fn rebalance(n: &mut Inner, i: usize) {
    let l = if i + 1 < n.children.len() { i } else { i - 1 };
    let r = l + 1;
    let right = n.children.remove(r);
    let right_count = n.counts.remove(r);
    let sep = n.seps.remove(l);
    match (&mut n.children[l], right) {
        (Node::Leaf(a), Node::Leaf(mut b)) => {
            if a.len() + b.len() <= LEAF_CAP {
                a.extend_from_slice(&b);
                n.counts[l] += right_count;
                return;
            }
            let total = a.len() + b.len();
            let target = total / 2;
            if a.len() > target {
                let moved: Vec<Slot> = a.drain(target..).collect();
                b.splice(0..0, moved);
            } else {
                let k = target - a.len();
                a.extend(b.drain(..k));
            }
            n.counts[l] = a.len();
            let new_sep = Sep::of(&b[0]);
            let bc = b.len();
            n.children.insert(r, Node::Leaf(b));
            n.counts.insert(r, bc);
            n.seps.insert(l, new_sep);
        }
        (Node::Inner(a), Node::Inner(b)) => {
            let b = *b;
            a.seps.push(sep);
            a.seps.extend(b.seps);
            a.counts.extend(b.counts);
            a.children.extend(b.children);
            if a.children.len() <= INNER_CAP {
                n.counts[l] += right_count;
                return;
            }
            let mid = a.children.len() / 2;
            let children = a.children.split_off(mid);
            let counts = a.counts.split_off(mid);
            let seps = a.seps.split_off(mid);
            let promoted = a.seps.pop().expect("mid >= 1");
            let right = Node::Inner(Box::new(Inner { seps, counts, children }));
            n.counts[l] = a.counts.iter().sum();
            n.counts.insert(r, right.count());
            n.children.insert(r, right);
            n.seps.insert(l, promoted);
        }
        // Siblings are always at the same depth.
        (_, right) => {
            n.children.insert(r, right);
            n.counts.insert(r, right_count);
            n.seps.insert(l, sep);
        }
    }
}
