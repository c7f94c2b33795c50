//! Number parsing and glob matching on arbitrary input. Layout: the input is split at the first 0xff byte into (a, b).
#![no_main]

use cinnabar::util::glob::glob_match;
use cinnabar::util::number::{fmt_i64, incr_by_float, parse_f64, parse_i64};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };

    // string2ll is strict: whatever it accepts is the canonical decimal of the value.
    for s in [a, b] {
        if let Some(v) = parse_i64(s) {
            let mut out = Vec::new();
            fmt_i64(v, &mut out);
            assert_eq!(out, s, "parse_i64 accepted a non-canonical form");
        }
        if let Some(v) = parse_f64(s) {
            assert!(!v.is_nan(), "parse_f64 returned NaN");
        }
    }
    let _ = incr_by_float(Some(a), b);
    let _ = incr_by_float(None, a);

    // glob: no panic either way; on ASCII-lowercase inputs nocase changes nothing.
    let m = glob_match(a, b, false);
    let mi = glob_match(a, b, true);
    if !a.iter().chain(b.iter()).any(|c| c.is_ascii_uppercase()) {
        assert_eq!(m, mi, "nocase differs on lowercase inputs");
    }
});
