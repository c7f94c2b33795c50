//! HyperLogLog values from arbitrary bytes, as a client could SET them before PFCOUNT, PFADD
//! and PFMERGE. Layout: byte 0 = flags (bits 0-1: hll-sparse-max-bytes in {0, 30, 300, 3000};
//! bit 2: dense header; bit 3: the bytes are the whole value, no header added), then the
//! value's bytes up to the first 0xff, then elements (3 bytes each) to add.
#![no_main]

use cinnabar::data::bytes::CompactBytes;
use cinnabar::data::hll::{self, DENSE_SIZE, HDR, REGISTERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let max_bytes = [0, 30, 300, 3000][(flags & 3) as usize];
    let (body, elems) = match rest.iter().position(|&c| c == 0xff) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[..0]),
    };
    let value = if flags & 8 != 0 {
        body.to_vec()
    } else {
        // A header the checks accept, so the fuzzer spends its time on the registers.
        let mut v = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
        v.extend_from_slice(body);
        if flags & 4 != 0 {
            v[4] = 0;
            v.resize(DENSE_SIZE, 0);
        }
        v
    };
    if hll::check(&value).is_err() {
        return;
    }

    // Counting: when the histogram accepts the value, merging must too, and agree.
    let counted = hll::count(&value);
    let mut max = [0u8; REGISTERS];
    let merged = hll::max_into(&value, &mut max);
    if let Ok(n) = counted {
        assert!(merged.is_ok(), "count accepted what merge refused");
        assert_eq!(hll::count_raw(&max), n, "count and count of the merge differ");
    }
    if !hll::is_dense(&value) {
        let _ = hll::decode(&value);
    }

    // Adding: the value stays an HLL, and a later merge never lowers a register.
    let mut b = CompactBytes::new(&value);
    let added = hll::add(&mut b, elems.chunks(3), max_bytes);
    assert!(hll::check(&b).is_ok(), "PFADD left a value that is not an HLL");
    if added.is_ok() && merged.is_ok() {
        let mut after = [0u8; REGISTERS];
        if hll::max_into(&b, &mut after).is_ok() {
            assert!(after.iter().zip(&max).all(|(a, m)| a >= m), "PFADD lowered a register");
        }
    }

    // PFMERGE into the value (it is merged with itself first, as Redis does).
    if merged.is_ok() {
        let mut dest = CompactBytes::new(&value);
        let dense = hll::is_dense(&value);
        if hll::store_merged(&mut dest, &max, dense, max_bytes).is_ok() {
            assert!(hll::check(&dest).is_ok(), "PFMERGE left a value that is not an HLL");
            assert!(dest.len() >= HDR);
        }
    }
    let mut d = CompactBytes::new(&value);
    if hll::to_dense(&mut d).is_ok() {
        assert_eq!(d.len(), DENSE_SIZE);
    }
});
