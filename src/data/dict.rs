//! `Dict`: the keyspace hash table of one shard.
//!
//! A chained table over power-of-two bucket arrays, with Redis's two-table incremental
//! rehashing: when the table grows or shrinks a second table is allocated and every
//! operation moves one bucket across, so a shard of millions of keys never stalls for a
//! full rehash. We own the table (instead of using a std or hashbrown map) because two
//! Redis guarantees depend on its shape:
//!
//! * SCAN: the cursor walks bucket indices in reverse-binary order, which (with both
//!   tables consulted while rehashing) returns every element present for the whole scan
//!   even while the table grows or shrinks between calls;
//! * RANDOMKEY and eviction sampling need to pick a random bucket.
//!
//! The table is generic over what it stores (`Keyed`): the keyspace stores `Entry`, and the
//! hash, set and sorted-set types reuse it for their large encodings, so HSCAN/SSCAN/ZSCAN
//! get the same cursor guarantee as SCAN.
//!
//! Keyspace entries hold the key inline (up to 16 bytes), the value, the expiry time and the
//! access clock, so a small string key costs one allocation of 64 bytes plus one bucket pointer.
//! Hashes come from the keyspace's randomly seeded hasher (keys are attacker controlled).

use std::sync::OnceLock;

use super::value::Value;

static HASHER: OnceLock<ahash::RandomState> = OnceLock::new();

/// The keyspace hash: seeded randomly once per process, so clients cannot aim collisions.
/// Also the hash of the members of the hash, set and sorted-set tables. Not `#[inline]`:
/// inlined into its callers, ahash's `hash_one` stayed out of line (callgrind, SETs at
/// pipeline 16: about 30 instructions a request more than one call of this function).
pub fn key_hash(key: &[u8]) -> u64 {
    HASHER.get_or_init(ahash::RandomState::new).hash_one(key)
}

/// Millisecond unix time at which the key expires; `NO_EXPIRE` when it has none.
pub const NO_EXPIRE: i64 = 0;

/// What a `Dict` stores: anything that can name its key.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

/// A keyspace entry: 56 bytes, so its chained node is one 64-byte allocation.
///
/// The key's bytes sit inline when there are at most `KEY_INLINE` of them (`key:000000123456`
/// and most keys users write), else in a boxed slice; which one, and the inline length, is a
/// byte of `meta` rather than a tag inside the key (a tag would cost the inline room a
/// 16-byte key needs). `meta` also holds the access clock and the snapshot stamp.
pub struct Entry {
    key: KeyBytes,
    pub value: Value,
    pub expire_at_ms: i64,
    /// Bits 0-31: the LRU clock (10 ms ticks, wrapping: `keyspace::lru_clock_at`) or, under
    /// an LFU policy, Redis's 16-bit minutes + 8-bit counter. Bits 32-55: the snapshot stamp
    /// (`snap`). Bits 56-63: the key's inline length, or `KEY_HEAP`.
    meta: u64,
}

/// The most key bytes an entry holds inline.
pub const KEY_INLINE: usize = 16;
const KEY_HEAP: u64 = 0xFF;
/// Snapshot stamps are 24 bits (`Entry::snap`).
pub const SNAP_MASK: u32 = 0xFF_FFFF;

/// A key's bytes: inline (the length is in the entry's `meta`) or a boxed slice.
union KeyBytes {
    inline: [u8; KEY_INLINE],
    heap: std::mem::ManuallyDrop<Box<[u8]>>,
}

impl Entry {
    pub fn new(key: &[u8], value: Value, expire_at_ms: i64, lru: u32) -> Entry {
        let (key, tag) = if key.len() <= KEY_INLINE {
            let mut inline = [0u8; KEY_INLINE];
            inline[..key.len()].copy_from_slice(key);
            (KeyBytes { inline }, key.len() as u64)
        } else {
            (KeyBytes { heap: std::mem::ManuallyDrop::new(key.into()) }, KEY_HEAP)
        };
        Entry { key, value, expire_at_ms, meta: lru as u64 | tag << 56 }
    }

    #[inline]
    fn key_tag(&self) -> u64 {
        self.meta >> 56
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let tag = self.key_tag();
        if tag == KEY_HEAP {
            // SAFETY: the tag says `heap` is the field in use (set in `new`, never changed).
            unsafe { &self.key.heap }
        } else {
            // SAFETY: `inline` is plain bytes; the tag is at most KEY_INLINE here.
            unsafe { &self.key.inline[..tag as usize] }
        }
    }

    /// Bytes the key owns outside the entry (MEMORY USAGE).
    pub fn key_heap_size(&self) -> usize {
        if self.key_tag() == KEY_HEAP {
            self.key().len()
        } else {
            0
        }
    }

    /// The access clock: LRU ticks, or the LFU minutes and counter.
    #[inline]
    pub fn lru(&self) -> u32 {
        self.meta as u32
    }

    #[inline]
    pub fn set_lru(&mut self, lru: u32) {
        self.meta = (self.meta & !0xFFFF_FFFF) | lru as u64;
    }

    /// The snapshot this entry was already saved for, or made during (so that snapshot leaves
    /// it out): the keyspace's snapshot epoch (`persist::snapshot`), 24 bits.
    #[inline]
    pub fn snap(&self) -> u32 {
        (self.meta >> 32) as u32 & SNAP_MASK
    }

    #[inline]
    pub fn set_snap(&mut self, snap: u32) {
        self.meta = (self.meta & !((SNAP_MASK as u64) << 32)) | ((snap & SNAP_MASK) as u64) << 32;
    }

    /// The value, leaving the entry to be dropped (with its key).
    pub fn into_value(mut self) -> Value {
        std::mem::replace(&mut self.value, Value::Int(0))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.key_tag() == KEY_HEAP {
            // SAFETY: the tag says `heap` is in use; it is dropped once, here.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.key.heap) }
        }
    }
}

impl Keyed for Entry {
    #[inline]
    fn key(&self) -> &[u8] {
        Entry::key(self)
    }
}

#[derive(Clone)]
struct Node<E> {
    entry: E,
    next: Option<Box<Node<E>>>,
}

#[derive(Clone)]
struct Table<E> {
    buckets: Vec<Option<Box<Node<E>>>>,
    used: usize,
    /// Chain length per bucket, when the dictionary tracks them (`Dict::new_sampled`);
    /// empty otherwise.
    lens: Vec<u8>,
}

impl<E> Default for Table<E> {
    fn default() -> Self {
        Table { buckets: Vec::new(), used: 0, lens: Vec::new() }
    }
}

impl<E> Table<E> {
    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }
    fn with_size(n: usize, lens: bool) -> Table<E> {
        let mut buckets = Vec::with_capacity(n);
        buckets.resize_with(n, || None);
        Table { buckets, used: 0, lens: if lens { vec![0; n] } else { Vec::new() } }
    }
}

/// Buckets per window of uniform sampling (`Dict::sample`).
const WINDOW: usize = 16;

/// Entries in window `w` of `lens`.
fn window_count(lens: &[u8], w: usize) -> u32 {
    let end = ((w + 1) * WINDOW).min(lens.len());
    lens[w * WINDOW..end].iter().map(|&l| l as u32).sum()
}

const MIN_SIZE: usize = 4;

/// A prefetch hint for the cache line at `p` (never faults, whatever `p` is).
#[inline(always)]
pub fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never dereferences or faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[derive(Clone)]
pub struct Dict<E = Entry> {
    t: [Table<E>; 2],
    /// Next bucket of t[0] to move into t[1]; None when not rehashing.
    rehash_idx: Option<usize>,
    hash_of: fn(&[u8]) -> u64,
    /// Chain lengths are tracked per bucket (`Table::lens`), for exact uniform sampling.
    sampled: bool,
    /// An upper bound on the entries of any `WINDOW` of either table (raised by every
    /// insertion, recomputed when a rehash ends).
    window_max: u32,
}

impl<E: Keyed> Dict<E> {
    pub fn new(hash_of: fn(&[u8]) -> u64) -> Dict<E> {
        Dict { t: [Table::default(), Table::default()], rehash_idx: None, hash_of, sampled: false, window_max: 0 }
    }

    /// A dictionary that keeps the length of every chain (one byte per bucket), so that
    /// `sample` draws a uniformly random entry in a few probes however long the longest
    /// chain is. For the hash and set tables (HRANDFIELD, SRANDMEMBER, SPOP); the keyspace
    /// and the sorted sets (which draw by rank in their tree) do not pay for it.
    pub fn new_sampled(hash_of: fn(&[u8]) -> u64) -> Dict<E> {
        Dict { sampled: true, ..Dict::new(hash_of) }
    }

    /// Bucket `b` of table `ti` gained (`up`) or lost an entry. A chain that would pass
    /// 255 turns tracking off for good (`sample` then answers None).
    fn count(&mut self, ti: usize, b: usize, up: bool) {
        if !self.sampled {
            return;
        }
        let t = &mut self.t[ti];
        if up {
            if t.lens[b] == u8::MAX {
                self.sampled = false;
                for t in self.t.iter_mut() {
                    t.lens = Vec::new();
                }
                return;
            }
            t.lens[b] += 1;
            self.window_max = self.window_max.max(window_count(&t.lens, b / WINDOW));
        } else {
            t.lens[b] -= 1;
        }
    }

    /// The exact `window_max` (after a rehash: windows only ever raise it otherwise).
    fn recount_windows(&mut self) {
        if self.sampled {
            let t = &self.t[0];
            self.window_max = (0..t.lens.len().div_ceil(WINDOW)).map(|w| window_count(&t.lens, w)).max().unwrap_or(0);
        }
    }

    pub fn len(&self) -> usize {
        self.t[0].used + self.t[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Bucket slots allocated (both tables), for memory accounting.
    pub fn slots(&self) -> usize {
        self.t[0].buckets.len() + self.t[1].buckets.len()
    }

    fn bucket_of(t: &Table<E>, hash: u64) -> usize {
        (hash & t.mask()) as usize
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&E> {
        for ti in 0..2 {
            let t = &self.t[ti];
            if t.buckets.is_empty() {
                continue;
            }
            let mut cur = t.buckets[Self::bucket_of(t, hash)].as_deref();
            while let Some(n) = cur {
                if n.entry.key() == key {
                    return Some(&n.entry);
                }
                cur = n.next.as_deref();
            }
            if !self.is_rehashing() {
                break;
            }
        }
        None
    }

    /// What to prefetch for a lookup of `hash` a little later: the table slot (`entry`
    /// false), or the first entry of its chain (`entry` true: the slot should be in cache by
    /// then); both tables while rehashing. The caller hints the addresses after releasing
    /// the shard (`prefetch_line`), so that the unlock does not wait for them.
    pub fn prefetch_addrs(&self, hash: u64, entry: bool) -> [*const u8; 2] {
        self.prefetch_addrs_of(hash, entry)
    }

    /// `prefetch_addrs` of `key`, hashed with this dictionary's own function; None for a
    /// table small enough to stay in cache (under 8192 slots: 64 KiB of bucket pointers),
    /// where prefetching only costs.
    pub fn prefetch_key_addrs(&self, key: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        (self.slots() >= 8192).then(|| self.prefetch_addrs_of((self.hash_of)(key), entry))
    }

    fn prefetch_addrs_of(&self, hash: u64, entry: bool) -> [*const u8; 2] {
        let mut addrs = [std::ptr::null(); 2];
        for (i, t) in self.t.iter().enumerate() {
            if let Some(slot) = t.buckets.get(Self::bucket_of(t, hash)) {
                addrs[i] = if entry {
                    slot.as_deref().map_or(std::ptr::null(), |n| n as *const Node<E> as *const u8)
                } else {
                    slot as *const Option<Box<Node<E>>> as *const u8
                };
            }
            if !self.is_rehashing() {
                break;
            }
        }
        addrs
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut E> {
        self.rehash_step();
        let rehashing = self.is_rehashing();
        for t in self.t.iter_mut() {
            if t.buckets.is_empty() {
                continue;
            }
            let idx = Self::bucket_of(t, hash);
            let mut cur = t.buckets[idx].as_deref_mut();
            while let Some(n) = cur {
                if n.entry.key() == key {
                    return Some(&mut n.entry);
                }
                cur = n.next.as_deref_mut();
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    /// Insert an entry whose key is known to be absent.
    pub fn insert_new(&mut self, hash: u64, entry: E) -> &mut E {
        self.rehash_step();
        self.expand_if_needed();
        let ti = if self.is_rehashing() { 1 } else { 0 };
        let idx = Self::bucket_of(&self.t[ti], hash);
        self.count(ti, idx, true);
        let t = &mut self.t[ti];
        let next = t.buckets[idx].take();
        t.buckets[idx] = Some(Box::new(Node { entry, next }));
        t.used += 1;
        match t.buckets[idx].as_deref_mut() {
            Some(n) => &mut n.entry,
            None => unreachable!("bucket was just filled"),
        }
    }

    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<E> {
        self.rehash_step();
        let rehashing = self.is_rehashing();
        let mut found = None;
        for (ti, t) in self.t.iter_mut().enumerate() {
            if t.buckets.is_empty() {
                continue;
            }
            let idx = Self::bucket_of(t, hash);
            let mut cur = &mut t.buckets[idx];
            while cur.as_ref().is_some_and(|n| n.entry.key() != key) {
                cur = &mut cur.as_mut().expect("checked above").next;
            }
            if let Some(node) = cur.take() {
                let node = *node;
                *cur = node.next;
                t.used -= 1;
                found = Some((node.entry, ti, idx));
                break;
            }
            if !rehashing {
                break;
            }
        }
        let (entry, ti, idx) = found?;
        self.count(ti, idx, false);
        self.shrink_if_needed();
        Some(entry)
    }

    /// Drop every entry, returning the old tables' contents as a new Dict (so the caller
    /// may free it on another thread).
    pub fn take_all(&mut self) -> Dict<E> {
        let empty = Dict { sampled: self.sampled, ..Dict::new(self.hash_of) };
        std::mem::replace(self, empty)
    }

    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.t[0].buckets.len();
        if size == 0 {
            self.t[0] = Table::with_size(MIN_SIZE, self.sampled);
        } else if self.t[0].used >= size {
            self.start_rehash((self.t[0].used + 1).next_power_of_two());
        }
    }

    /// Start shrinking when fewer than one slot in `inv_fill` is used (the usual threshold
    /// is one in eight). A set that SPOP empties keeps a higher fill this way: a draw
    /// (`sample`) probes about max-window / (16 x fill) windows.
    pub fn shrink_below(&mut self, inv_fill: usize) {
        let size = self.t[0].buckets.len();
        if !self.is_rehashing() && size > MIN_SIZE && self.t[0].used.saturating_mul(inv_fill) < size {
            self.start_rehash(self.t[0].used.max(MIN_SIZE).next_power_of_two());
        }
    }

    fn shrink_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        self.shrink_below(8);
        if self.t[0].used == 0 && !self.t[0].buckets.is_empty() {
            self.t[0] = Table::default();
        }
    }

    fn start_rehash(&mut self, size: usize) {
        if size == self.t[0].buckets.len() {
            return;
        }
        self.t[1] = Table::with_size(size, self.sampled);
        self.rehash_idx = Some(0);
    }

    /// Move up to one non-empty bucket (visiting at most 10 empty ones) from t[0] to t[1].
    pub fn rehash_step(&mut self) {
        self.rehash(1);
    }

    /// Move up to `n` buckets; returns true if still rehashing.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else { return false };
        let mut empty_visits = n * 10;
        let mut todo = n;
        let hash_of = self.hash_of;
        while todo > 0 && self.t[0].used > 0 {
            while idx < self.t[0].buckets.len() && self.t[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            if idx >= self.t[0].buckets.len() {
                break;
            }
            let mut chain = self.t[0].buckets[idx].take();
            if self.sampled {
                self.t[0].lens[idx] = 0;
            }
            while let Some(mut node) = chain {
                chain = node.next.take();
                let h = hash_of(node.entry.key());
                let b = Self::bucket_of(&self.t[1], h);
                self.count(1, b, true);
                let t1 = &mut self.t[1];
                node.next = t1.buckets[b].take();
                t1.buckets[b] = Some(node);
                t1.used += 1;
                self.t[0].used -= 1;
            }
            idx += 1;
            todo -= 1;
        }
        if self.t[0].used == 0 {
            self.t[0] = std::mem::take(&mut self.t[1]);
            self.rehash_idx = None;
            self.recount_windows();
            false
        } else {
            self.rehash_idx = Some(idx);
            true
        }
    }

    /// One SCAN step: calls `f` for every entry of the bucket(s) the cursor names and
    /// returns the next cursor (0 when the iteration is complete).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&E)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let emit = |t: &Table<E>, idx: u64, f: &mut dyn FnMut(&E)| {
            let mut cur = t.buckets[idx as usize].as_deref();
            while let Some(n) = cur {
                f(&n.entry);
                cur = n.next.as_deref();
            }
        };
        if !self.is_rehashing() {
            let t = &self.t[0];
            let m0 = t.mask();
            emit(t, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, large) = if self.t[0].buckets.len() <= self.t[1].buckets.len() {
                (&self.t[0], &self.t[1])
            } else {
                (&self.t[1], &self.t[0])
            };
            let m0 = small.mask();
            let m1 = large.mask();
            emit(small, v & m0, &mut f);
            loop {
                emit(large, v & m1, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// Visit every entry (for KEYS, FLUSH accounting, SWAPDB helpers).
    pub fn for_each(&self, mut f: impl FnMut(&E)) {
        for t in &self.t {
            for b in &t.buckets {
                let mut cur = b.as_deref();
                while let Some(n) = cur {
                    f(&n.entry);
                    cur = n.next.as_deref();
                }
            }
        }
    }

    /// Visit every entry, mutably (a snapshot clearing the stamps it ran out of).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut E)) {
        for t in &mut self.t {
            for b in &mut t.buckets {
                let mut cur = b.as_deref_mut();
                while let Some(n) = cur {
                    f(&mut n.entry);
                    cur = n.next.as_deref_mut();
                }
            }
        }
    }

    /// The sum of `f` over the first `samples` entries (all of them when 0), scaled to the
    /// whole table: MEMORY USAGE's SAMPLES, which sizes a big collection from a few of its
    /// elements as Redis does.
    pub fn sum_sampled(&self, samples: usize, mut f: impl FnMut(&E) -> usize) -> usize {
        let want = if samples == 0 { usize::MAX } else { samples };
        let (mut seen, mut sum) = (0usize, 0usize);
        'tables: for t in &self.t {
            for b in &t.buckets {
                let mut cur = b.as_deref();
                while let Some(n) = cur {
                    if seen == want {
                        break 'tables;
                    }
                    sum += f(&n.entry);
                    seen += 1;
                    cur = n.next.as_deref();
                }
            }
        }
        if seen == 0 {
            return 0;
        }
        (sum as u128 * self.len() as u128 / seen as u128) as usize
    }

    /// Bytes of one entry's node (the entry and its chain link), as allocated.
    pub fn node_size() -> usize {
        std::mem::size_of::<Node<E>>()
    }

    /// Visit the entries whose hash is `class` modulo `classes` (a power of two): only the
    /// buckets of that class (a bucket is the hash's low bits) once a table has `classes`
    /// buckets or more, so a class costs its share of the table (a snapshot's segment).
    pub fn for_each_in_class(&self, classes: usize, class: usize, mut f: impl FnMut(&E)) {
        debug_assert!(classes.is_power_of_two() && class < classes);
        for t in &self.t {
            let n = t.buckets.len();
            let (first, step) = if n >= classes { (class, classes) } else { (0, 1) };
            let mut b = first;
            while b < n {
                let mut cur = t.buckets[b].as_deref();
                while let Some(node) = cur {
                    if step > 1 || (self.hash_of)(node.entry.key()) as usize & (classes - 1) == class {
                        f(&node.entry);
                    }
                    cur = node.next.as_deref();
                }
                b += step;
            }
        }
    }

    /// A random entry: a random non-empty bucket, then a random element of its chain
    /// (Redis's dictGetFairRandomKey trades perfect fairness for O(1) the same way).
    pub fn random_entry(&self, rng: &mut impl rand::Rng) -> Option<&E> {
        if self.is_empty() {
            return None;
        }
        let total = self.t[0].buckets.len() + self.t[1].buckets.len();
        loop {
            let mut i = rng.gen_range(0..total);
            let t = if i < self.t[0].buckets.len() {
                &self.t[0]
            } else {
                i -= self.t[0].buckets.len();
                &self.t[1]
            };
            if let Some(head) = t.buckets[i].as_deref() {
                let mut len = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.as_deref();
                }
                let mut k = rng.gen_range(0..len);
                let mut cur = head;
                while k > 0 {
                    cur = cur.next.as_deref().expect("chain length counted above");
                    k -= 1;
                }
                return Some(&cur.entry);
            }
        }
    }

    /// Entries of a run of consecutive buckets from a random one, every entry of each chain,
    /// until `f` has accepted `count` of them or `count` x 10 buckets were looked at (Redis's
    /// dictGetSomeKeys, for eviction sampling). Far fewer cache misses than `count` draws of
    /// `random_entry` (the bucket array is read in order, and no chain is walked twice); the
    /// entries are spread over the table, though not drawn one by one uniformly. A run of
    /// empty buckets longer than 5 and than `count` jumps to a new random bucket, as in Redis
    /// (which can come back to an entry already given: the eviction pool takes a key once).
    pub fn some_entries(&self, count: usize, rng: &mut impl rand::Rng, mut f: impl FnMut(&E) -> bool) {
        if self.is_empty() || count == 0 {
            return;
        }
        let size = self.t[0].buckets.len().max(self.t[1].buckets.len());
        let mask = size - 1;
        let (mut i, mut empty, mut taken) = (rng.gen::<u64>() as usize & mask, 0, 0);
        // The first nodes of the run are fetched together: their cache misses overlap
        // instead of following each other.
        for k in 0..count.min(8) {
            for t in &self.t {
                if let Some(Some(n)) = t.buckets.get((i + k) & mask) {
                    prefetch_line(&**n as *const Node<E> as *const u8);
                }
            }
        }
        for _ in 0..count * 10 {
            for t in &self.t {
                let Some(mut n) = t.buckets.get(i).and_then(|b| b.as_deref()) else {
                    empty += 1;
                    if empty >= 5 && empty > count {
                        i = rng.gen::<u64>() as usize & mask;
                        empty = 0;
                    }
                    continue;
                };
                empty = 0;
                loop {
                    if f(&n.entry) {
                        taken += 1;
                        if taken == count {
                            return;
                        }
                    }
                    match n.next.as_deref() {
                        Some(next) => n = next,
                        None => break,
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Remove the entries for which `pred` is true, scanning from `cursor` through at most
    /// `max_buckets` buckets of the (non-rehashing view of the) table; returns the next
    /// cursor (0 = wrapped around), the removed entries and how many entries were examined.
    /// Used by active expiry.
    pub fn sweep(&mut self, cursor: u64, max_buckets: usize, mut pred: impl FnMut(&E) -> bool) -> (u64, Vec<E>, usize) {
        let mut removed = Vec::new();
        let mut v = cursor;
        let mut keys = Vec::new();
        let mut seen = 0;
        for _ in 0..max_buckets {
            v = self.scan(v, |e| {
                seen += 1;
                if pred(e) {
                    keys.push(e.key().to_vec());
                }
            });
            if v == 0 {
                break;
            }
        }
        for k in keys {
            let h = (self.hash_of)(&k);
            if let Some(e) = self.remove(h, &k) {
                removed.push(e);
            }
        }
        (v, removed, seen)
    }
}

/// Bucket-level access for uniform random sampling (SRANDMEMBER, SPOP, HRANDFIELD): the
/// collection types pick (bucket slot, chain position) pairs uniformly and reject misses,
/// which, unlike "random bucket, then random element of its chain", gives every entry the
/// same probability whatever the chain lengths.
impl<E: Keyed> Dict<E> {
    /// Length of the chain at `slot` (t[0]'s buckets first, then t[1]'s, as `slots` counts
    /// them) and its entry at position `pos`, if the chain is that long.
    pub fn chain_entry(&self, slot: usize, pos: usize) -> (usize, Option<&E>) {
        let mut cur = self.bucket_at(slot).and_then(|b| b.as_deref());
        let (mut len, mut found) = (0, None);
        while let Some(n) = cur {
            if len == pos {
                found = Some(&n.entry);
            }
            len += 1;
            cur = n.next.as_deref();
        }
        (len, found)
    }

    /// Bytes of the bucket arrays (pointers, and chain lengths when tracked).
    pub fn bucket_bytes(&self) -> usize {
        self.slots() * (8 + self.sampled as usize)
    }

    /// Whether chain lengths are tracked (`new_sampled`), so `sample` works.
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// A uniformly random entry, in a few probes of the chain-length bytes: a window of
    /// `WINDOW` buckets drawn uniformly among both tables' windows and a number u below
    /// `window_max`; when u is below the window's entry count c, the answer is the window's
    /// entry number u (in bucket, then chain order), else draw again. Each entry comes out
    /// with probability 1 / (windows x window_max) per draw: exactly uniform. Windows hold
    /// many buckets so their counts vary less than chain lengths do: with about 11 entries
    /// per window on average and window_max near 28 at a million entries, a draw succeeds
    /// more than a third of the time, where a (bucket, position) draw against the longest
    /// chain succeeds about a tenth of the time. None if empty or not tracked.
    pub fn sample(&self, rng: &mut impl rand::Rng) -> Option<&E> {
        if !self.sampled || self.is_empty() {
            return None;
        }
        let w0 = self.t[0].lens.len().div_ceil(WINDOW);
        let windows = w0 + self.t[1].lens.len().div_ceil(WINDOW);
        loop {
            let w = rng.gen_range(0..windows);
            let (t, w) = if w < w0 { (&self.t[0], w) } else { (&self.t[1], w - w0) };
            let u = rng.gen_range(0..self.window_max.max(1));
            if u >= window_count(&t.lens, w) {
                continue;
            }
            let mut r = u as usize;
            for b in w * WINDOW..t.lens.len() {
                let l = t.lens[b] as usize;
                if r < l {
                    let mut cur = t.buckets[b].as_deref();
                    for _ in 0..r {
                        cur = cur.and_then(|n| n.next.as_deref());
                    }
                    return cur.map(|n| &n.entry);
                }
                r -= l;
            }
            return None; // unreachable: u < the window's count
        }
    }

    /// Slot `slot` of the two tables taken as one array (as `chain_entry`).
    fn bucket_at(&self, slot: usize) -> Option<&Option<Box<Node<E>>>> {
        let n0 = self.t[0].buckets.len();
        if slot < n0 {
            self.t[0].buckets.get(slot)
        } else {
            self.t[1].buckets.get(slot - n0)
        }
    }

    /// The longest chain in either table (O(slots)).
    pub fn max_chain_len(&self) -> usize {
        let mut max = 0;
        for t in &self.t {
            for b in &t.buckets {
                let mut len = 0;
                let mut cur = b.as_deref();
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.as_deref();
                }
                max = max.max(len);
            }
        }
        max
    }

    /// Pre-size an empty table for `n` entries (a set or hash converted from its compact
    /// encoding), so the conversion does not rehash several times.
    pub fn reserve_empty(&mut self, n: usize) {
        if self.is_empty() && !self.is_rehashing() {
            self.t[0] = Table::with_size(n.max(MIN_SIZE).next_power_of_two(), self.sampled);
        }
    }
}

impl Dict<Entry> {
    /// Bytes of the table's own structure: the bucket arrays, and each entry's node apart
    /// from its key and value (chain link, expiry, LRU clock, padding). Keys and values,
    /// inline or not, are the dataset.
    pub fn table_bytes(&self) -> usize {
        use std::mem::size_of;
        let per_entry = size_of::<Node<Entry>>() - size_of::<KeyBytes>() - size_of::<Value>();
        self.bucket_bytes() + self.len() * per_entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn h(k: &[u8]) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut s = std::collections::hash_map::RandomState::new().build_hasher();
        // deterministic for the test: a fixed FNV
        let _ = &mut s;
        let mut x: u64 = 0xcbf29ce484222325;
        for b in k {
            x ^= *b as u64;
            x = x.wrapping_mul(0x100000001b3);
        }
        let _ = s.finish();
        x
    }

    /// A keyspace node is one 64-byte allocation; the key's bytes, the access clock and the
    /// snapshot stamp share the entry without disturbing each other.
    #[test]
    fn entry_layout_and_fields() {
        assert_eq!(Dict::<Entry>::node_size(), 64);
        for n in [0usize, 1, 15, KEY_INLINE, KEY_INLINE + 1, 100] {
            let k: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut e = Entry::new(&k, Value::Int(1), 5, 0xABCD_EF01);
            assert_eq!((e.key(), e.lru(), e.snap(), e.expire_at_ms), (&k[..], 0xABCD_EF01, 0, 5));
            assert_eq!(e.key_heap_size(), if n > KEY_INLINE { n } else { 0 });
            e.set_snap(0x0123_4567);
            assert_eq!((e.key(), e.lru(), e.snap()), (&k[..], 0xABCD_EF01, 0x23_4567));
            e.set_lru(u32::MAX);
            e.set_snap(SNAP_MASK);
            assert_eq!((e.key(), e.lru(), e.snap()), (&k[..], u32::MAX, SNAP_MASK));
            e.set_lru(0);
            e.set_snap(0);
            assert_eq!((e.key(), e.lru(), e.snap()), (&k[..], 0, 0));
            assert!(matches!(e.into_value(), Value::Int(1)));
        }
    }

    fn entry(k: &str) -> Entry {
        Entry::new(k.as_bytes(), Value::Int(1), NO_EXPIRE, 0)
    }

    /// Eviction sampling: at most `count` accepted entries, only those `f`
    /// accepts; over many calls every entry comes up, also while a rehash is under way.
    #[test]
    fn some_entries_runs_of_buckets() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut d: Dict<Entry> = Dict::new(h);
        d.some_entries(5, &mut rng, |_| panic!("empty"));
        for i in 0..1000 {
            d.insert_new(h(format!("k{i}").as_bytes()), entry(&format!("k{i}")));
        }
        while d.rehash(100) {}
        for i in 1000.. {
            d.insert_new(h(format!("k{i}").as_bytes()), entry(&format!("k{i}")));
            if d.is_rehashing() {
                break;
            }
        }
        let mut seen = HashSet::new();
        for round in 0..2000 {
            if round == 1000 {
                while d.rehash(100) {}
            }
            let mut got = Vec::new();
            d.some_entries(5, &mut rng, |e| {
                let even = e.key()[1..].iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32) % 2 == 0;
                if even {
                    got.push(e.key().to_vec());
                }
                even
            });
            // A jump after a run of empty buckets may come back to one already looked at,
            // as in Redis: the eviction pool takes a key once.
            assert!(!got.is_empty() && got.len() <= 5, "{got:?}");
            seen.extend(got);
        }
        assert_eq!(seen.len(), d.len().div_ceil(2), "every even key sampled");
    }

    #[test]
    fn classes_partition_the_entries_during_rehash_and_when_small() {
        for n in [3usize, 10, 1000, 5000] {
            let mut d = Dict::new(h);
            for i in 0..n {
                let k = format!("key:{i}");
                d.insert_new(h(k.as_bytes()), entry(&k));
            }
            // (Mid-rehash for the larger sizes: both tables are walked.)
            let mut seen = Vec::new();
            for class in 0..16 {
                d.for_each_in_class(16, class, |e| {
                    assert_eq!(h(e.key()) as usize & 15, class);
                    seen.push(e.key().to_vec());
                });
            }
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n);
        }
    }

    #[test]
    fn insert_get_remove_with_rehash() {
        let mut d = Dict::new(h);
        for i in 0..10000 {
            let k = format!("key:{i}");
            assert!(d.get(h(k.as_bytes()), k.as_bytes()).is_none());
            d.insert_new(h(k.as_bytes()), entry(&k));
        }
        assert_eq!(d.len(), 10000);
        for i in 0..10000 {
            let k = format!("key:{i}");
            assert!(d.get(h(k.as_bytes()), k.as_bytes()).is_some(), "{k}");
        }
        for i in 0..9990 {
            let k = format!("key:{i}");
            assert!(d.remove(h(k.as_bytes()), k.as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        while d.rehash(100) {}
        assert!(d.slots() <= 64);
    }

    #[test]
    fn scan_sees_every_stable_key_while_growing_and_shrinking() {
        let mut d = Dict::new(h);
        for i in 0..500 {
            let k = format!("stable:{i}");
            d.insert_new(h(k.as_bytes()), entry(&k));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |e| {
                seen.insert(e.key().to_vec());
            });
            // churn between calls: grow, then shrink
            step += 1;
            if step < 50 {
                for j in 0..40 {
                    let k = format!("tmp:{step}:{j}");
                    d.insert_new(h(k.as_bytes()), entry(&k));
                }
            } else {
                for s in 0..50 {
                    for j in 0..40 {
                        let k = format!("tmp:{s}:{j}");
                        d.remove(h(k.as_bytes()), k.as_bytes());
                    }
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("stable:{i}").as_bytes()), "missing stable:{i}");
        }
    }

    /// Every tracked chain length matches its chain; no window exceeds `window_max`.
    fn check_lens(d: &Dict<Entry>) {
        assert!(d.sampled);
        for t in &d.t {
            assert_eq!(t.lens.len(), t.buckets.len());
            for (b, bucket) in t.buckets.iter().enumerate() {
                let mut len = 0;
                let mut cur = bucket.as_deref();
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.as_deref();
                }
                assert_eq!(t.lens[b] as usize, len, "bucket {b}");
            }
            for w in 0..t.lens.len().div_ceil(WINDOW) {
                assert!(window_count(&t.lens, w) <= d.window_max);
            }
        }
    }

    #[test]
    fn sampled_dict_tracks_chains_and_samples_uniformly() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut d = Dict::new_sampled(h);
        let key = |i: usize| format!("member:{i}");
        for i in 0..3000 {
            d.insert_new(h(key(i).as_bytes()), entry(&key(i)));
            if i % 97 == 0 {
                check_lens(&d);
            }
        }
        for i in 0..2800 {
            assert!(d.remove(h(key(i).as_bytes()), key(i).as_bytes()).is_some());
            if i % 97 == 0 {
                check_lens(&d);
            }
        }
        // 200 left; grow again so that a rehash is under way while sampling.
        while d.rehash(100) {}
        for i in 3000.. {
            d.insert_new(h(key(i).as_bytes()), entry(&key(i)));
            if d.is_rehashing() {
                break;
            }
        }
        d.rehash(3);
        assert!(d.is_rehashing(), "sampling while a rehash is under way");
        check_lens(&d);
        let n = d.len();
        let mut counts = std::collections::HashMap::new();
        let draws = n * 200;
        for _ in 0..draws {
            let e = d.sample(&mut rng).expect("non-empty");
            *counts.entry(e.key().to_vec()).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), n, "every entry drawn");
        // Chi-square with n-1 degrees of freedom: mean n-1, sd sqrt(2(n-1)); 5 sd is far.
        let expected = draws as f64 / n as f64;
        let chi: f64 = counts.values().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
        let df = (n - 1) as f64;
        assert!(chi < df + 5.0 * (2.0 * df).sqrt(), "chi-square {chi} with {n} entries");
        while d.rehash(100) {}
        check_lens(&d);
        let copy = d.take_all();
        assert!(d.is_sampled() && d.is_empty() && copy.len() == n);
    }
}
