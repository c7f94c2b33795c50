//! Pure helpers with Redis-exact semantics, shared by every layer: no I/O, no
//! keyspace, no allocation beyond their results. `glob` is Redis's
//! `stringmatchlen`; `number` is string2ll / string2d / d2string / ld2string; `counter` is a
//! per-thread statistics counter; `rng` the generator of commands' random picks; `clock`
//! the cheap monotonic clock commands are timed with; `alloc` gives freed memory back;
//! `sha1` and `sha256` are the digests scripts and the default user's password line use.
pub mod alloc;
pub mod bitops;
pub mod clock;
pub mod counter;
pub mod crc64;
pub mod glob;
pub mod hdr;
pub mod lzf;
pub mod number;
pub mod rng;
pub mod sha1;
pub mod sha256;

/// The xorshift generator the oracle-derived test tables were computed with (tests only).
#[cfg(test)]
pub(crate) mod test_rng {
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }
}
