//! The RDB primitives against bytes taken from Redis 7.2.6.

use super::*;

// Produced by Redis 7.2.6 (rdbcompression yes): SET k <value>, then DUMP k; each constant is
// the payload without its type byte (0 = string) and its 10-byte footer.
/// SET k -5
const INT8: &[u8] = b"\xc0\xfb";
/// SET k 12345
const INT16: &[u8] = b"\xc190";
/// SET k -70000
const INT32: &[u8] = b"\xc2\x90\xee\xfe\xff";
/// SET k 2147483648
const BEYOND_INT32: &[u8] = b"\x0a2147483648";
/// SET k 007
const NOT_CANONICAL: &[u8] = b"\x03007";
/// SET k ""
const EMPTY: &[u8] = b"\x00";
/// SET k <21 times "a">
const TWENTY_ONE: &[u8] = b"\xc3\x06\x15\x01aa\xe0\x0a\x00";
/// SET k <"abc" 33 times, then "a">
const COMPRESSIBLE_100: &[u8] = b"\xc3\x0b@d\x03abca\xe0U\x02\x01ca";
/// SET k <the bytes 0..=99>
const INCOMPRESSIBLE_100: &[u8] = b"\
    @d\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\
    \x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^\
    _`abc";
/// FUNCTION LOAD of `LIBRARY`, then FUNCTION DUMP (the whole payload)
const FUNCTION_DUMP: &[u8] = b"\
    \xf5\xc3@a@\xa7\x1f#!lua\x20name=mylib\x0aredis.register_\x0bfunction('my@\x0b\x02',\x20@\x06`\x12\
    \x11keys,\x20args)\x20return`\x0c\x07[1]\x20end)\xe0\x17J\x002\xe0\x20K\x01d)\x0b\x00\xcd\x04\xae\
    \x7f\xea\xd4\x80-";

/// (constant, the string Redis was given)
fn strings() -> Vec<(&'static [u8], Vec<u8>)> {
    let mut compressible = b"abc".repeat(33);
    compressible.push(b'a');
    vec![
        (INT8, b"-5".to_vec()),
        (INT16, b"12345".to_vec()),
        (INT32, b"-70000".to_vec()),
        (BEYOND_INT32, b"2147483648".to_vec()),
        (NOT_CANONICAL, b"007".to_vec()),
        (EMPTY, b"".to_vec()),
        (TWENTY_ONE, b"a".repeat(21)),
        (COMPRESSIBLE_100, compressible),
        (INCOMPRESSIBLE_100, (0..100).collect()),
    ]
}

const LIBRARY: &[u8] =
    b"#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)\n\
redis.register_function('myfunc2', function(keys, args) return args[1] end)";

#[test]
fn strings_read_and_write_as_redis() {
    for (bytes, value) in strings() {
        let mut pos = 0;
        assert_eq!(get_string(bytes, &mut pos).as_deref(), Some(value.as_slice()), "{bytes:?}");
        assert_eq!(pos, bytes.len());
        let mut out = Vec::new();
        put_string(&mut out, &value, true);
        assert_eq!(out, bytes, "{value:?}");
    }
}

#[test]
fn uncompressed_strings_are_raw() {
    let mut out = Vec::new();
    put_string(&mut out, &b"abc".repeat(40), false);
    assert_eq!(&out[..2], &[0x40, 120]);
    assert_eq!(out.len(), 122);
    // Integers are encoded whatever rdbcompression says.
    out.clear();
    put_string(&mut out, b"12345", false);
    assert_eq!(out, INT16);
}

#[test]
fn function_dump_payload() {
    let body = open_payload(FUNCTION_DUMP).expect("Redis's footer");
    assert_eq!(body[0], 0xF5);
    let mut pos = 1;
    assert_eq!(get_string(body, &mut pos).as_deref(), Some(LIBRARY));
    assert_eq!(pos, body.len());
    let mut again = vec![0xF5];
    put_string(&mut again, LIBRARY, true);
    seal_payload(&mut again);
    assert_eq!(again, FUNCTION_DUMP);
    // A changed byte or a newer version is refused.
    let mut bad = FUNCTION_DUMP.to_vec();
    bad[3] ^= 1;
    assert_eq!(open_payload(&bad), None);
    assert_eq!(open_payload(&FUNCTION_DUMP[..9]), None);
    let mut newer = body.to_vec();
    newer.extend_from_slice(&(VERSION + 1).to_le_bytes());
    let crc = crc64::crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(open_payload(&newer), None);
}

#[test]
fn lengths_in_each_width() {
    let cases: [(u64, &[u8]); 8] = [
        (0, &[0x00]),
        (63, &[0x3F]),
        (64, &[0x40, 0x40]),
        (16383, &[0x7F, 0xFF]),
        (16384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
        (u32::MAX as u64, &[0x80, 0xFF, 0xFF, 0xFF, 0xFF]),
        (u32::MAX as u64 + 1, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        (u64::MAX, &[0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
    ];
    for (n, bytes) in cases {
        let mut out = Vec::new();
        put_len(&mut out, n);
        assert_eq!(out, bytes, "{n}");
        let mut pos = 0;
        assert_eq!(get_len(bytes, &mut pos), Some(n));
        assert_eq!(pos, bytes.len());
        for cut in 0..bytes.len() {
            assert_eq!(get_len(&bytes[..cut], &mut 0), None);
        }
    }
    // 0x82..0xBF are no length; 0xC0.. are encodings, not lengths.
    assert_eq!(get_len(&[0x82, 0, 0, 0, 0], &mut 0), None);
    assert_eq!(get_len(&[0xC3], &mut 0), None);
    assert_eq!(get_len_or_encoding(&[0xC3], &mut 0), Some(Len::Encoded(3)));
}

#[test]
fn integers_as_strings() {
    for (v, bytes) in [(-5i64, INT8), (12345, INT16), (-70000, INT32)] {
        let mut out = Vec::new();
        put_i64(&mut out, v);
        assert_eq!(out, bytes);
    }
    let mut out = Vec::new();
    put_i64(&mut out, 2147483648);
    assert_eq!(out, BEYOND_INT32);
}

/// Every prefix of every string is refused, every single-byte change is refused or reads
/// something, and nothing panics or allocates beyond what the input can expand to.
#[test]
fn truncated_and_corrupted_strings_never_panic() {
    let mut all: Vec<&[u8]> = strings().iter().map(|(b, _)| *b).collect();
    all.push(&FUNCTION_DUMP[1..FUNCTION_DUMP.len() - 10]);
    for bytes in all {
        for n in 0..bytes.len() {
            assert_eq!(get_string(&bytes[..n], &mut 0), None, "{bytes:?} cut at {n}");
        }
        for i in 0..bytes.len() {
            for delta in [1u8, 0x40, 0x80, 0xFF] {
                let mut bad = bytes.to_vec();
                bad[i] = bad[i].wrapping_add(delta);
                let mut pos = 0;
                if get_string(&bad, &mut pos).is_some() {
                    assert!(pos <= bad.len());
                }
            }
        }
    }
    // An LZF string claiming 512 MB from 3 compressed bytes.
    assert_eq!(get_string(&[0xC3, 0x03, 0x80, 0x20, 0, 0, 0, 0, b'a', 0xE0, 0], &mut 0), None);
    // Unknown string encoding 4.
    assert_eq!(get_string(&[0xC4, 0], &mut 0), None);
}

#[test]
fn lzf_round_trip() {
    // Long matches (up to 264 bytes), far ones (up to 8 KB back), literal runs of 32.
    let mut text: Vec<u8> = (0..=255).collect();
    for i in 0..2000u32 {
        text.extend_from_slice(format!("user:{}:{} ", i % 10, i % 20).as_bytes());
    }
    text.extend_from_slice(&[b'x'; 2000]);
    text.extend((0..9000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    text.extend_from_within(300..5000);
    for len in [21, 100, 1000, 8200, text.len()] {
        let s = &text[..len];
        let mut out = Vec::new();
        put_string(&mut out, s, true);
        assert_eq!(get_string(&out, &mut 0).as_deref(), Some(s), "{len}");
        if len >= 1000 {
            assert_eq!(out[0], ENCODED | ENC_LZF, "{len}");
        }
    }
}

/// A 25 KB listpack (HSET h:big, in data::listpack's tests) compresses into the bytes
/// Redis wrote for it.
#[test]
fn lzf_of_a_big_listpack_as_redis() {
    use crate::data::listpack::tests::{big_values, HASH_BIG_LZF};
    let values = big_values();
    let lp = crate::data::listpack::encode(values.iter().map(|v| v.as_slice())).unwrap();
    let mut out = Vec::new();
    put_string(&mut out, &lp, true);
    let mut expected = vec![0xC3, 0x41, 0x5F, 0x80, 0x00, 0x00, 0x61, 0xCD];
    expected.extend_from_slice(HASH_BIG_LZF);
    assert_eq!(out, expected);
}
