//! Consumer groups (Redis's streamCG, streamConsumer, streamNACK): where a group has read
//! up to, its pending entries list (PEL: delivered, not yet acknowledged), and its
//! consumers, each with its own view of the PEL.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;

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

impl ConsumerGroup {
    pub fn heap_size(&self) -> usize {
        self.pel.values().map(|p| 64 + p.consumer.len()).sum::<usize>()
            + self.consumers.iter().map(|(k, c)| 64 + k.len() + c.pel.len() * 24).sum::<usize>()
    }
}
