//! The intset codec against intsets taken from Redis 7.2.6.

use super::*;

// Produced by Redis 7.2.6 (`--save "" --appendonly no`): these commands on an empty server,
// then DUMP of each key (RDB type 11), with the RDB string (the intset) cut out of the payload:
//   SADD s:i16 3 1 2 -7
//   SADD s:i32 5 -40000 70000
//   SADD s:i64 0 -1 1099511627776 -9223372036854775808 9223372036854775807
//   SADD s:wide 1 2 4294967296; SREM s:wide 4294967296   (stays 8 bytes wide)
/// s:i16 (RDB type 11)
const INTSET16: &[u8] = b"\x02\x00\x00\x00\x04\x00\x00\x00\xf9\xff\x01\x00\x02\x00\x03\x00";
/// s:i32 (RDB type 11)
const INTSET32: &[u8] = b"\x04\x00\x00\x00\x03\x00\x00\x00\xc0c\xff\xff\x05\x00\x00\x00p\x11\x01\x00";
/// s:i64 (RDB type 11)
const INTSET64: &[u8] = b"\
    \x08\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\xff\xff\xff\xff\xff\xff\xff\xff\x00\
    \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f";
/// s:wide (RDB type 11)
const INTSET_WIDE: &[u8] =
    b"\x08\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00";

fn fixtures() -> [(&'static str, &'static [u8], Vec<i64>); 4] {
    [
        ("INTSET16", INTSET16, vec![-7, 1, 2, 3]),
        ("INTSET32", INTSET32, vec![-40000, 5, 70000]),
        ("INTSET64", INTSET64, vec![i64::MIN, -1, 0, 1 << 40, i64::MAX]),
        ("INTSET_WIDE", INTSET_WIDE, vec![1, 2]),
    ]
}

#[test]
fn decodes_and_reencodes_redis_intsets() {
    for (name, bytes, values) in fixtures() {
        let set = IntSet::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(set.len(), values.len(), "{name}");
        assert_eq!(set.iter().collect::<Vec<_>>(), values, "{name}");
        assert_eq!(set.iter().rev().collect::<Vec<_>>(), values.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(decode(bytes).unwrap(), values, "{name}");
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(set.get(i), Some(v));
            assert!(set.contains(v));
            assert!(!set.contains(v.wrapping_add(1)) || values.contains(&v.wrapping_add(1)));
        }
        assert_eq!(set.get(values.len()), None);
        if name == "INTSET_WIDE" {
            // Redis never narrows an intset; a fresh one is as narrow as its members allow.
            assert_eq!(set.width(), 8);
            assert_eq!(encode(&values), b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x02\x00");
        } else {
            assert_eq!(encode(&values), bytes, "{name}");
        }
    }
}

#[test]
fn width_follows_the_extremes() {
    assert_eq!(width_of(i16::MIN as i64), 2);
    assert_eq!(width_of(i16::MAX as i64 + 1), 4);
    assert_eq!(width_of(i32::MIN as i64 - 1), 8);
    assert_eq!(encode(&[i16::MIN as i64 - 1, 0])[0], 4);
    assert_eq!(encode(&[0, i32::MAX as i64 + 1])[0], 8);
}

#[test]
fn truncated_and_corrupted_intsets_never_panic() {
    for (name, bytes, _) in fixtures() {
        for n in 0..bytes.len() {
            assert!(IntSet::parse(&bytes[..n]).is_err(), "{name} cut at {n}");
        }
        for i in 0..bytes.len() {
            for delta in [1u8, 0x40, 0x80, 0xFF] {
                let mut bad = bytes.to_vec();
                bad[i] = bad[i].wrapping_add(delta);
                if let Ok(set) = IntSet::parse(&bad) {
                    assert!(i >= HEADER_SIZE, "{name}: header byte {i} + {delta} accepted");
                    let v: Vec<i64> = set.iter().collect();
                    assert!(v.windows(2).all(|w| w[0] < w[1]), "{name}: {v:?}");
                }
            }
        }
    }
}

#[test]
fn malformed_intsets() {
    assert_eq!(IntSet::parse(b"\x02\x00\x00\x00").unwrap_err(), Error::TooShort);
    assert_eq!(IntSet::parse(b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00").unwrap_err(), Error::BadEncoding);
    assert_eq!(IntSet::parse(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00").unwrap_err(), Error::LengthMismatch);
    assert_eq!(IntSet::parse(b"\x08\x00\x00\x00\xff\xff\xff\xff").unwrap_err(), Error::LengthMismatch);
    assert_eq!(IntSet::parse(b"\x02\x00\x00\x00\x00\x00\x00\x00").unwrap_err(), Error::Empty);
    assert_eq!(IntSet::parse(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00").unwrap_err(), Error::NotSorted);
    assert_eq!(IntSet::parse(b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00").unwrap_err(), Error::NotSorted);
}
