//! Persistence: RDB files, the AOF, and DUMP/RESTORE payloads (later replication's RDB
//! transfer too). It sits beside `command`, on top of `keyspace` and `data`: it reads and
//! writes values through the representations in `data` alone, never through a command.
//!
//! `rdb`: the RDB encoding primitives (lengths, strings, integer-encoded and LZF-compressed
//! as Redis writes them, the DUMP payload footer); `value`: a value's RDB type and payload,
//! every type; `stream`: a stream as RDB type 21; `digest`: DEBUG DIGEST; `rdbfile`: the
//! RDB file (header, aux fields, databases, checksum); `snapshot`: point-in-time snapshots
//! without fork; `propagate`: the seam every effect goes through; `aof`: the append-only
//! file.
pub mod aof;
pub mod digest;
pub mod propagate;
pub mod rdb;
pub mod rdbfile;
pub mod snapshot;
pub mod stream;
pub mod value;

/// For the loaders' robustness tests: `rounds` damaged copies of `good` (1-4 bytes set,
/// flipped or inserted; every `cut_every`-th copy also cut short), from a fixed seed, each
/// handed to `check` with its round.
#[cfg(test)]
pub(crate) fn damaged_copies(good: &[u8], rounds: usize, cut_every: usize, mut check: impl FnMut(usize, &[u8])) {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for round in 0..rounds {
        let mut bad = good.to_vec();
        for _ in 0..1 + next(4) {
            let at = next(bad.len());
            match next(3) {
                0 => bad[at] = next(256) as u8,
                1 => bad[at] ^= 1 << next(8),
                _ => bad.insert(at, next(256) as u8),
            }
        }
        if round % cut_every == 0 {
            bad.truncate(next(bad.len()));
        }
        check(round, &bad);
    }
}
