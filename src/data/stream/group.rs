//! Consumer groups (Redis's streamCG, streamConsumer, streamNACK): where a group has read
//! up to, its pending entries list (PEL: delivered, not yet acknowledged), and its
//! consumers, each with its own view of the PEL.
//!
//! The group's PEL maps an id to its `PendingEntry` (delivery time and count, and the name
//! of the owning consumer); each consumer keeps the set of ids it owns. Redis shares one
//! NACK between the two radix trees; here the consumer's set holds ids only, so the two
//! views stay consistent through the methods below (every change of ownership goes
//! through `deliver`, `claim`, `ack` or `drop_pending`), never by editing one side alone.
//!
//! The group's logical read counter (`entries_read`) and its lag are estimated from the
//! stream's counters exactly as Redis 7.2 does (`Counters`): a counter that cannot be
//! known is `None` (Redis's SCG_INVALID_ENTRIES_READ), and the lag is then unknown too
//! unless the group's last id lets it be recomputed.

use std::collections::{BTreeMap, BTreeSet};

use super::{Stream, StreamId};

#[derive(Clone, Default)]
pub struct ConsumerGroup {
    /// Last id delivered to the group's consumers.
    pub last_id: StreamId,
    /// Entries the group has read (its logical position), or `None` where Redis holds
    /// SCG_INVALID_ENTRIES_READ (the position cannot be known).
    pub entries_read: Option<u64>,
    /// Every pending entry of the group, by id.
    pub pel: BTreeMap<StreamId, PendingEntry>,
    /// Consumers by name, in byte order.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

#[derive(Clone)]
pub struct PendingEntry {
    /// Unix time in ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer owning it (a key of `consumers`).
    pub consumer: Vec<u8>,
}

#[derive(Clone, Default)]
pub struct Consumer {
    /// Last time the consumer was seen (any read/claim attempt), ms.
    pub seen_time: i64,
    /// Last time it successfully read or claimed, ms (-1 when never).
    pub active_time: i64,
    /// The ids of the group's PEL this consumer owns.
    pub pel: BTreeSet<StreamId>,
}

impl Consumer {
    /// A consumer created at `now` (streamCreateConsumer): seen, never active.
    pub fn new(now: i64) -> Consumer {
        Consumer { seen_time: now, active_time: -1, pel: BTreeSet::new() }
    }
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup { last_id, entries_read, ..Default::default() }
    }

    pub fn heap_size(&self) -> usize {
        self.pel.values().map(|p| 64 + p.consumer.len()).sum::<usize>()
            + self.consumers.iter().map(|(k, c)| 64 + k.len() + c.pel.len() * 24).sum::<usize>()
    }

    /// The consumer `name`, created at `now` if missing; the bool says it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now: i64) -> (&mut Consumer, bool) {
        // Two lookups only on creation: the common case borrows once.
        if self.consumers.contains_key(name) {
            let c = self.consumers.get_mut(name).expect("just checked");
            return (c, false);
        }
        (self.consumers.entry(name.to_vec()).or_insert_with(|| Consumer::new(now)), true)
    }

    /// Remove a consumer with its pending entries; returns how many it had (None if it
    /// did not exist).
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Entry `id` was delivered to `consumer` at `now` by a read (streamReplyWithRange with
    /// a group): a new pending entry, or one already pending (the group's last id was moved
    /// back by XGROUP SETID) handed to this consumer with its count reset to 1.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        let nack = PendingEntry { delivery_time: now, delivery_count: 1, consumer: consumer.to_vec() };
        if let Some(old) = self.pel.insert(id, nack) {
            if old.consumer != consumer {
                if let Some(c) = self.consumers.get_mut(&old.consumer[..]) {
                    c.pel.remove(&id);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Acknowledge `id`: false if it was not pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        self.drop_pending(id)
    }

    /// Remove `id` from the group's and its owner's PEL (acknowledged, or the entry is gone).
    pub fn drop_pending(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else { return false };
        if let Some(c) = self.consumers.get_mut(&nack.consumer[..]) {
            c.pel.remove(&id);
        }
        true
    }

    /// Give pending entry `id` (which must be in the PEL) to `consumer` (which must exist),
    /// as XCLAIM / XAUTOCLAIM do: `delivery_time`, and the count set to `retry_count` or
    /// incremented unless `keep_count`.
    pub fn claim(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        delivery_time: i64,
        retry_count: Option<u64>,
        keep_count: bool,
    ) {
        let Some(nack) = self.pel.get_mut(&id) else { return };
        nack.delivery_time = delivery_time;
        match retry_count {
            Some(n) => nack.delivery_count = n,
            None if !keep_count => nack.delivery_count = nack.delivery_count.wrapping_add(1),
            None => {}
        }
        if nack.consumer != consumer {
            let old = std::mem::replace(&mut nack.consumer, consumer.to_vec());
            if let Some(c) = self.consumers.get_mut(&old[..]) {
                c.pel.remove(&id);
            }
            if let Some(c) = self.consumers.get_mut(consumer) {
                c.pel.insert(id);
            }
        }
    }

    /// XCLAIM FORCE of an entry not pending: a pending entry with no owner yet, to be
    /// given one by `claim` (Redis creates the NACK with a NULL consumer).
    pub fn force_pending(&mut self, id: StreamId, now: i64) {
        self.pel.insert(id, PendingEntry { delivery_time: now, delivery_count: 1, consumer: Vec::new() });
    }

    /// The group's read position moved to `id` by delivering it (streamReplyWithRange):
    /// count it if the counter is valid and no deleted entry lies ahead, else estimate it.
    pub fn advance(&mut self, id: StreamId, c: &Counters) {
        if id <= self.last_id {
            return;
        }
        match self.entries_read {
            Some(n) if !c.range_has_tombstones(id, StreamId::MAX) => self.entries_read = Some(n + 1),
            _ if c.entries_added != 0 => self.entries_read = c.estimate_distance(id),
            _ => {}
        }
        self.last_id = id;
    }

    /// The number of entries not yet delivered to the group (streamReplyWithCGLag), None
    /// when it cannot be known.
    /// Negative when ENTRIESREAD claimed more reads than the stream ever had, as in Redis.
    pub fn lag(&self, c: &Counters) -> Option<i64> {
        if c.entries_added == 0 {
            return Some(0);
        }
        let lag = |read: u64| (c.entries_added as i64).wrapping_sub(read as i64);
        if let Some(read) = self.entries_read {
            if !c.range_has_tombstones(self.last_id, StreamId::MAX) {
                return Some(lag(read));
            }
        }
        c.estimate_distance(self.last_id).map(lag)
    }
}

/// The stream's counters a group's read position is derived from, copied out so a group
/// can be changed while they are consulted.
#[derive(Clone, Copy, Debug)]
pub struct Counters {
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    pub entries_added: u64,
}

impl Counters {
    /// streamRangeHasTombstones: whether a deleted entry may lie in `start..=end`.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        let maxdel = self.max_deleted_entry_id;
        if self.length == 0 || maxdel == StreamId::MIN || self.first_id > maxdel {
            return false;
        }
        start <= maxdel && maxdel <= end
    }

    /// streamEstimateDistanceFromFirstEverEntry: the logical read counter of `id`, None
    /// when fragmentation (deleted entries) or an id past the last make it unknowable.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let maxdel = self.max_deleted_entry_id;
        if maxdel == StreamId::MIN || maxdel < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added.wrapping_sub(self.length)),
                std::cmp::Ordering::Equal => return Some(self.entries_added.wrapping_sub(self.length).wrapping_add(1)),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }
}

impl Stream {
    pub fn counters(&self) -> Counters {
        Counters {
            length: self.len(),
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_entry_id: self.max_deleted_entry_id,
            entries_added: self.entries_added,
        }
    }

    /// Create group `name` reading after `last_id`; false if it exists (BUSYGROUP).
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<u64>) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(name.to_vec(), ConsumerGroup::new(last_id, entries_read));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::stream::NodeLimits;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    fn stream(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.append(id(i), &[b"f", b"v"], NodeLimits::default());
        }
        s
    }

    #[test]
    fn deliver_claim_ack_keep_both_views() {
        let mut g = ConsumerGroup::new(StreamId::MIN, Some(0));
        g.consumer_or_create(b"a", 1);
        g.consumer_or_create(b"b", 1);
        g.deliver(id(1), b"a", 5);
        g.deliver(id(2), b"a", 5);
        assert_eq!(g.consumers[&b"a"[..]].pel.len(), 2);
        // Delivered again to b after a SETID: moves, count back to 1.
        g.deliver(id(1), b"b", 6);
        assert_eq!(g.pel[&id(1)].consumer, b"b");
        assert!(!g.consumers[&b"a"[..]].pel.contains(&id(1)));
        g.claim(id(2), b"b", 9, None, false);
        assert_eq!(g.pel[&id(2)].delivery_count, 2);
        assert!(g.consumers[&b"a"[..]].pel.is_empty());
        assert!(g.ack(id(2)));
        assert!(!g.ack(id(2)));
        assert_eq!(g.delete_consumer(b"b"), Some(1));
        assert!(g.pel.is_empty());
        assert_eq!(g.delete_consumer(b"b"), None);
    }

    #[test]
    fn lag_and_estimates() {
        let mut s = stream(5);
        let c = s.counters();
        assert_eq!(c.estimate_distance(id(5)), Some(5));
        assert_eq!(c.estimate_distance(id(1)), Some(1));
        assert_eq!(c.estimate_distance(StreamId::MIN), Some(0));
        assert_eq!(c.estimate_distance(id(3)), None);
        assert_eq!(c.estimate_distance(id(6)), None);
        let mut g = ConsumerGroup::new(StreamId::MIN, None);
        assert_eq!(g.lag(&c), Some(5));
        g.advance(id(1), &c);
        assert_eq!(g.entries_read, Some(1));
        g.advance(id(2), &c);
        assert_eq!((g.entries_read, g.lag(&c)), (Some(2), Some(3)));
        // A deletion ahead of the group makes its lag unknown.
        s.delete(id(4));
        s.max_deleted_entry_id = id(4);
        let c = s.counters();
        assert_eq!(g.lag(&c), None);
        assert!(c.range_has_tombstones(id(3), StreamId::MAX));
        assert!(!c.range_has_tombstones(id(5), StreamId::MAX));
    }
}
