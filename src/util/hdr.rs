//! Per-command latency histograms (latency-tracking), with the bucket layout of the HDR
//! histogram Redis keeps per command: values in nanoseconds from 1 to 10^9 (a call's
//! microseconds times 1000, clamped into that range), two significant figures. That layout
//! is what makes INFO latencystats' percentiles and LATENCY HISTOGRAM's bucket keys come
//! out as Redis's (p50=1.003 for a call of 1 µs, keys 1, 2, 4, 8, 16, 33, 66 ...), so it is
//! reproduced exactly: 256 sub-buckets per power of two (the lower half of each bucket but
//! the first overlaps the previous one and is never used), 23 buckets, 3072 counters.
//!
//! `CmdHist` keeps one such counter array per worker slot, as `util::counter` does for
//! plain counters: a call costs one relaxed add on the worker's own array (allocated on
//! the command's first call on that worker, so an idle command costs a null slot), and
//! readers (INFO, LATENCY HISTOGRAM) sum the arrays.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// log2 of the sub-buckets in the upper half of a bucket (128 of 256).
const HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_MASK: u64 = 255;
/// Values above this (one second) are counted as it.
const HIGHEST: u64 = 1_000_000_000;
/// (23 buckets + 1) * 128: enough for `HIGHEST`.
pub const COUNTS_LEN: usize = 3072;

fn bucket_of(v: u64) -> u32 {
    (63 - (v | SUB_BUCKET_MASK).leading_zeros()) - HALF_MAGNITUDE
}

/// The counter index of a value in nanoseconds.
pub fn index_of(v: u64) -> usize {
    let b = bucket_of(v);
    let sub = (v >> b) as usize;
    ((b as usize + 1) << HALF_MAGNITUDE) + sub - 128
}

/// The lowest value counted at counter `i`.
pub fn value_at(i: usize) -> u64 {
    let bucket = (i >> HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (i & 127) as u64 + 128;
    let mut b = bucket;
    if b < 0 {
        sub -= 128;
        b = 0;
    }
    sub << b
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_of(v);
    (v >> b) << b
}

/// The highest value counted with `v` (the end of its sub-bucket).
pub fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + (1u64 << bucket_of(v)) - 1
}

/// The counter index of a call that took `us` microseconds.
#[inline]
pub fn index_of_us(us: u64) -> usize {
    index_of(us.saturating_mul(1000).clamp(1, HIGHEST))
}

/// The value (ns) at `percentile` of merged counts, as hdr_value_at_percentile: the end of
/// the sub-bucket holding the rank-th value (its start for percentile 0).
pub fn value_at_percentile(counts: &[u64], total: u64, percentile: f64) -> u64 {
    let p = percentile.min(100.0);
    let rank = (((p / 100.0) * total as f64) + 0.5) as u64;
    let rank = rank.max(1);
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            let v = value_at(i);
            return if percentile == 0.0 { lowest_equivalent(v) } else { highest_equivalent(v) };
        }
    }
    0
}

/// LATENCY HISTOGRAM's buckets: at each power of two from 1024 ns, (the end of the
/// sub-bucket starting there in µs, how many calls took at most that long), from the first
/// reached by any call to the one that covers them all, skipping steps that add no call (a
/// logarithmic walk of the counters, as Redis's fillCommandCDF reports it).
pub fn cumulative_log_buckets(counts: &[u64], total: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut cum = 0u64;
    let mut next = 0usize;
    let mut level = 1024u64;
    let mut previous = 0u64;
    while cum < total {
        let idx = index_of(level);
        if idx >= counts.len() {
            // Past the last counter: what is left is reported at the end of the range.
            let last = counts.len() - 1;
            out.push((highest_equivalent(value_at(last)) / 1000, total));
            break;
        }
        while next <= idx {
            cum += counts[next];
            next += 1;
        }
        if cum > previous {
            out.push((highest_equivalent(level) / 1000, cum));
        }
        previous = cum;
        level *= 2;
    }
    out
}

pub struct CmdHist {
    slots: Box<[OnceLock<Box<[AtomicU64]>>]>,
}

impl CmdHist {
    pub fn new(slots: usize) -> CmdHist {
        CmdHist { slots: (0..slots.max(1)).map(|_| OnceLock::new()).collect() }
    }

    #[inline]
    pub fn record(&self, slot: usize, us: u64) {
        let counts =
            self.slots[slot % self.slots.len()].get_or_init(|| (0..COUNTS_LEN).map(|_| AtomicU64::new(0)).collect());
        counts[index_of_us(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters summed over the slots and their total; None if nothing was counted.
    pub fn merged(&self) -> Option<(Vec<u64>, u64)> {
        let mut counts: Option<Vec<u64>> = None;
        for s in self.slots.iter() {
            if let Some(c) = s.get() {
                let sum = counts.get_or_insert_with(|| vec![0; COUNTS_LEN]);
                for (d, a) in sum.iter_mut().zip(c.iter()) {
                    *d += a.load(Ordering::Relaxed);
                }
            }
        }
        let counts = counts?;
        let total: u64 = counts.iter().sum();
        (total > 0).then_some((counts, total))
    }

    pub fn reset(&self) {
        for s in self.slots.iter() {
            if let Some(c) = s.get() {
                for a in c.iter() {
                    a.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_redis_figures() {
        // Percentile values INFO latencystats shows for calls of 0, 1, 2, 3, 6, 815 µs.
        for (us, shown) in [(0, 1), (1, 1003), (2, 2007), (3, 3007), (6, 6015), (815, 815103)] {
            let h = CmdHist::new(1);
            h.record(0, us);
            let (c, t) = h.merged().unwrap();
            assert_eq!(value_at_percentile(&c, t, 50.0), shown, "{us}");
        }
        assert!(index_of(HIGHEST) < COUNTS_LEN);
        assert_eq!(index_of((1 << 30) - 1), COUNTS_LEN - 1);
        for i in 0..COUNTS_LEN {
            assert_eq!(index_of(value_at(i)), i);
        }
    }

    #[test]
    fn log_buckets() {
        let h = CmdHist::new(2);
        for us in [5, 6, 9] {
            h.record(0, us);
        }
        h.record(1, 814);
        let (c, t) = h.merged().unwrap();
        assert_eq!(t, 4);
        assert_eq!(cumulative_log_buckets(&c, t), vec![(8, 2), (16, 3), (1056, 4)]);
        assert_eq!(value_at_percentile(&c, t, 0.0), 4992);
        h.reset();
        assert!(h.merged().is_none());
        let h = CmdHist::new(1);
        h.record(0, 5_000_000);
        let (c, t) = h.merged().unwrap();
        assert_eq!(cumulative_log_buckets(&c, t), vec![(1073741, 1)]);
    }
}
