//! Choosing and removing keys for eviction (maxmemory; the policy, the memory figures and
//! what an eviction tells the rest of the server live in `server::evict`).
//!
//! Candidates are sampled as Redis's evictionPoolPopulate samples them: a few keys of a
//! database at a time, each given a score (idle seconds under LRU, 255 minus the decayed
//! counter under LFU, the nearness of its expiry under volatile-ttl), the best kept in a
//! pool of `POOL_SIZE` that outlives one eviction, and the highest score evicted first.
//! The samples of one round come from one random shard of the database: a shard holds a
//! random share of the keys (by hash), so this samples the database as Redis's
//! dictGetSomeKeys does, at the price of one lock per round. Draws are uniform over the
//! shard's buckets (`Dict::random_entry`), not runs of neighbouring buckets as in Redis, and
//! a key already in the pool is not taken twice, so the pool holds more distinct
//! candidates.

use super::{key_hash, Keyspace, Shard};
use crate::data::dict::{Entry, NO_EXPIRE};

/// Candidates kept between evictions (Redis's EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;

/// How candidates are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Idle time (the LRU clock minus the key's, in its ticks).
    Lru,
    /// 255 minus the key's decayed LFU counter (lfu-decay-time).
    Lfu(u32),
    /// The sooner a key expires, the higher (volatile-ttl).
    Ttl,
}

/// How one round samples candidates.
pub struct Sampling {
    /// Only keys with a TTL.
    pub volatile: bool,
    pub score: Score,
    /// Keys per database and round (maxmemory-samples).
    pub samples: usize,
    pub now_ms: i64,
}

/// A key that may be evicted, with its score (the highest goes first).
pub struct Candidate {
    pub score: u64,
    pub db: usize,
    pub key: Vec<u8>,
}

/// The score of `e` at `now_ms`.
fn score_of(e: &Entry, how: Score, now_ms: i64) -> u64 {
    match how {
        Score::Lru => {
            // A key stamped by a command whose clock is a little ahead is not idle.
            let ticks = super::lru_clock_at(now_ms).wrapping_sub(e.lru());
            if ticks > u32::MAX / 2 {
                0
            } else {
                ticks as u64
            }
        }
        Score::Lfu(decay) => 255 - super::lfu_counter_at(e.lru(), now_ms, decay).min(255) as u64,
        Score::Ttl => u64::MAX - e.expire_at_ms as u64,
    }
}

/// Put a candidate into `pool` (ascending by score, at most `POOL_SIZE`): when full, only
/// if it beats the worst, which then leaves (its key buffer reused). The score is looked at
/// before the pool is searched for the key: most samples of a full pool stop there.
fn pool_insert(pool: &mut Vec<Candidate>, score: u64, db: usize, key: &[u8]) {
    let full = pool.len() >= POOL_SIZE;
    if full && score <= pool[0].score {
        return;
    }
    if pool.iter().any(|c| c.db == db && c.key == key) {
        return;
    }
    let mut buf = if full { pool.remove(0).key } else { Vec::new() };
    buf.clear();
    buf.extend_from_slice(key);
    let at = pool.partition_point(|c| c.score <= score);
    pool.insert(at, Candidate { score, db, key: buf });
}

/// Shards of a database tried from its `Occupancy` list before it is taken as having no key
/// to give (they may have emptied since the list was made).
const SHARD_TRIES: usize = 8;

/// Which shards of each database held keys, and keys with a TTL, when last looked at: where
/// sampling looks, so that a database with few keys (or none) in its 256 shards costs no
/// search through empty shards. Made by `Keyspace::occupancy` (a look at every shard's
/// counts) and kept for a while by the caller; a shard that got its first keys since is
/// not sampled until the next one.
#[derive(Default)]
pub struct Occupancy {
    pub all: Vec<Vec<u32>>,
    pub volatile: Vec<Vec<u32>>,
}

impl Occupancy {
    /// The shards of `db` to sample.
    pub fn of(&self, db: usize, volatile: bool) -> &[u32] {
        let lists = if volatile { &self.volatile } else { &self.all };
        lists.get(db).map_or(&[], |l| &l[..])
    }
}

impl Keyspace {
    /// Which shards hold keys (with a TTL), database by database.
    pub fn occupancy(&self) -> Occupancy {
        let mut o = Occupancy::default();
        for db in &self.dbs {
            let (mut all, mut volatile) = (Vec::new(), Vec::new());
            for (i, shard) in db.shards.iter().enumerate() {
                // Counts only: a shard a snapshot still wants is not handed over for this.
                let s = shard.lock_raw();
                if !s.dict.is_empty() {
                    all.push(i as u32);
                }
                if s.expires > 0 {
                    volatile.push(i as u32);
                }
            }
            o.all.push(all);
            o.volatile.push(volatile);
        }
        o
    }

    /// A random shard of `db` among `shards` still holding keys (with a TTL for
    /// `volatile`), locked.
    fn evictable_shard(
        &self,
        db: usize,
        shards: &[u32],
        volatile: bool,
        rng: &mut impl rand::Rng,
    ) -> Option<parking_lot::MutexGuard<'_, Shard>> {
        let cells = &self.dbs.get(db)?.shards;
        if shards.is_empty() {
            return None;
        }
        for _ in 0..SHARD_TRIES {
            let i = shards[rng.gen_range(0..shards.len())] as usize;
            let s = cells.get(i)?.lock();
            if if volatile { s.expires > 0 } else { !s.dict.is_empty() } {
                return Some(s);
            }
        }
        None
    }

    /// Redis's evictionPoolPopulate for database `db`: `how.samples` keys (with a TTL if
    /// `how.volatile`) of a random shard among `shards` scored into `pool`. False if no
    /// shard with such keys was found. The caller holds its gate.
    pub fn sample_for_eviction(
        &self,
        db: usize,
        shards: &[u32],
        how: &Sampling,
        pool: &mut Vec<Candidate>,
        rng: &mut impl rand::Rng,
    ) -> bool {
        let Some(s) = self.evictable_shard(db, shards, how.volatile, rng) else { return false };
        // A run of buckets from a random one, as Redis samples; keys without a TTL are
        // passed over under a volatile policy.
        s.dict.some_entries(how.samples, rng, |e| {
            if how.volatile && e.expire_at_ms == NO_EXPIRE {
                return false;
            }
            pool_insert(pool, score_of(e, how.score, how.now_ms), db, e.key());
            true
        });
        true
    }

    /// A random key of `db` (with a TTL for `volatile`) in one of `shards`: allkeys-random,
    /// volatile-random.
    pub fn random_for_eviction(
        &self,
        db: usize,
        shards: &[u32],
        volatile: bool,
        rng: &mut impl rand::Rng,
    ) -> Option<Vec<u8>> {
        let s = self.evictable_shard(db, shards, volatile, rng)?;
        for _ in 0..64 {
            let e = s.dict.random_entry(rng)?;
            if !volatile || e.expire_at_ms != NO_EXPIRE {
                return Some(e.key().to_vec());
            }
        }
        None
    }

    /// Remove `key` of `db` for eviction, if it is still there (and still has a TTL for
    /// `volatile`): its watchers are flagged, and `removed` runs with the shard still
    /// locked (so the deletion reaches the propagation sinks in order with the key's other
    /// writes). Returns the entry, for the caller to free (and measure), and whether
    /// clients wait on the key (blocked readers, to be served: a stream reader learns that
    /// the key is gone). The caller holds its gate.
    pub fn remove_for_eviction(
        &self,
        db: usize,
        key: &[u8],
        volatile: bool,
        removed: impl FnOnce(),
    ) -> Option<(Entry, bool)> {
        let h = key_hash(key);
        let mut s = self.dbs.get(db)?.shards[self.shard_of(h)].lock();
        let e = s.dict.get(h, key)?;
        if volatile && e.expire_at_ms == NO_EXPIRE {
            return None;
        }
        let e = s.remove(h, key)?;
        if s.watched.has(key) {
            s.watched.touch(key, false);
        }
        removed();
        Some((e, s.waiters.has(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_the_best_distinct_candidates() {
        let mut pool = Vec::new();
        for i in 0..40u64 {
            pool_insert(&mut pool, i % 20, 0, format!("k{}", i % 20).as_bytes());
        }
        assert_eq!(pool.len(), POOL_SIZE);
        assert_eq!(pool.last().map(|c| c.score), Some(19));
        assert_eq!(pool[0].score, 4);
        assert!(pool.windows(2).all(|w| w[0].score <= w[1].score));
    }
}
