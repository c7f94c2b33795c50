//! `Counter`: a statistics counter with one cache line per thread.
//!
//! Every command bumps several counters (commands processed, calls and time of that command,
//! bytes in and out, writes since the last save). A single shared atomic would bounce its
//! cache line between the worker cores on every command; here each thread adds to its own
//! slot and readers (INFO) sum the slots.

use std::sync::atomic::{AtomicU64, Ordering};

#[repr(align(64))]
struct Slot(AtomicU64);

pub struct Counter {
    slots: Box<[Slot]>,
}

impl Counter {
    pub fn new(slots: usize) -> Counter {
        Counter { slots: (0..slots.max(1)).map(|_| Slot(AtomicU64::new(0))).collect() }
    }

    #[inline]
    pub fn add(&self, slot: usize, v: u64) {
        self.slots[slot % self.slots.len()].0.fetch_add(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }

    pub fn reset(&self) {
        for s in self.slots.iter() {
            s.0.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_slots() {
        let c = super::Counter::new(3);
        c.add(0, 2);
        c.add(1, 3);
        c.add(7, 5);
        assert_eq!(c.get(), 10);
        c.reset();
        assert_eq!(c.get(), 0);
    }
}
