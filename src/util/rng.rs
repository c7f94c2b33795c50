//! The random generator of commands' random picks (SPOP, SRANDMEMBER, HRANDFIELD,
//! ZRANDMEMBER, RANDOMKEY): a small, fast generator per thread, seeded once from the
//! operating system. Not for secrets (nothing here is one; Redis uses a plain PRNG too).
//! Uniform sampling of big tables draws several numbers per pick (rejection sampling), so
//! the generator's speed shows: ChaCha (`thread_rng`) made SPOP on a 100k set twice as slow.

use std::cell::RefCell;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_entropy());
}

/// This thread's generator.
#[derive(Clone, Copy, Default)]
pub struct Fast;

pub fn fast() -> Fast {
    Fast
}

impl RngCore for Fast {
    fn next_u32(&mut self) -> u32 {
        RNG.with(|r| r.borrow_mut().next_u32())
    }

    fn next_u64(&mut self) -> u64 {
        RNG.with(|r| r.borrow_mut().next_u64())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        RNG.with(|r| r.borrow_mut().fill_bytes(dest))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        RNG.with(|r| r.borrow_mut().try_fill_bytes(dest))
    }
}
