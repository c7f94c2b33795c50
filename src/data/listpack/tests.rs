//! The listpack codec against listpacks taken from Redis 7.2.6.

use super::*;

// Produced by Redis 7.2.6 (`--save "" --appendonly no`, `CONFIG SET hash-max-listpack-value
// 70000`): these commands on an empty server, then DUMP of each key, with the RDB string (the
// listpack; for a list, each quicklist node's) cut out of the payload:
//   HSET h:ints a 0 b 127 c 128 d -1 e 4095 f -4096 g 4096 h -32768 i 32767 j 32768
//        k -8388608 l 8388607 m 8388608 n -2147483648 o 2147483647 p 2147483648
//        q -9223372036854775808 r 9223372036854775807 s -4097 t -32769 u -8388609 v -2147483649
//   HSET h:strs "" empty 007 -0 +1 "1 " 99999999999999999999 <63 x> <64 x> <127 y> <128 z> 12-bit
//   SADD s:lp a -5 007 "" -0 4096
//   ZADD z:lp 1 a 1.5 b -2 c 1e300 d inf e -inf f 100000 g 0.1 h
//   RPUSH l:lp a 1 -1 1000000 "" <70 x>
//   CONFIG SET list-max-listpack-size 3; RPUSH l:multi 1 2 3 4 5 6 7   (three nodes)
//   HSET h:big s5000 <"abcdefghij" x 500> s20000 <"0123456789ABCDEF" x 1250>
//        (the one Redis LZF-compressed in the payload: HASH_BIG_LZF is the compressed bytes)

/// h:ints (RDB type 16)
const HASH_INTS: &[u8] = b"\
    \xbd\x00\x00\x00,\x00\x81a\x02\x00\x01\x81b\x02\x7f\x01\x81c\x02\xc0\x80\x02\x81d\x02\xdf\xff\x02\
    \x81e\x02\xcf\xff\x02\x81f\x02\xd0\x00\x02\x81g\x02\xf1\x00\x10\x03\x81h\x02\xf1\x00\x80\x03\x81i\
    \x02\xf1\xff\x7f\x03\x81j\x02\xf2\x00\x80\x00\x04\x81k\x02\xf2\x00\x00\x80\x04\x81l\x02\xf2\xff\xff\
    \x7f\x04\x81m\x02\xf3\x00\x00\x80\x00\x05\x81n\x02\xf3\x00\x00\x00\x80\x05\x81o\x02\xf3\xff\xff\xff\
    \x7f\x05\x81p\x02\xf4\x00\x00\x00\x80\x00\x00\x00\x00\x09\x81q\x02\xf4\x00\x00\x00\x00\x00\x00\x00\
    \x80\x09\x81r\x02\xf4\xff\xff\xff\xff\xff\xff\xff\x7f\x09\x81s\x02\xf1\xff\xef\x03\x81t\x02\xf2\xff\
    \x7f\xff\x04\x81u\x02\xf3\xff\xff\x7f\xff\x05\x81v\x02\xf4\xff\xff\xff\x7f\xff\xff\xff\xff\x09\xff";
/// h:strs (RDB type 16)
const HASH_STRS: &[u8] = b"\
    \xca\x01\x00\x00\x0c\x00\x80\x01\x85empty\x06\x83007\x04\x82-0\x03\x82+1\x03\x821\x20\x03\x949999999\
    9999999999999\x15\xbfxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@\xe0@xxxxxxxxxx\
    xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxB\xe0\x7fyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
    yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\x01\x81\
    \xe0\x80zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\
    zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\x01\x82\x8612-bit\x07\xff";
/// s:lp (RDB type 20)
const SET_LP: &[u8] = b"\x1c\x00\x00\x00\x06\x00\x81a\x02\xdf\xfb\x02\x83007\x04\x80\x01\x82-0\x03\xf1\x00\x10\x03\xff";
/// z:lp (RDB type 17)
const ZSET_LP: &[u8] = b"\
    F\x00\x00\x00\x10\x00\x81f\x02\x84-inf\x05\x81c\x02\xdf\xfe\x02\x81h\x02\x830.1\x04\x81a\x02\x01\x01\
    \x81b\x02\x831.5\x04\x81g\x02\xf2\xa0\x86\x01\x04\x81d\x02\x861e+300\x07\x81e\x02\x83inf\x04\xff";
/// l:lp (RDB type 18)
const LIST_LP: &[u8] = b"\
    _\x00\x00\x00\x06\x00\x81a\x02\x01\x01\xdf\xff\x02\xf2@B\x0f\x04\x80\x01\xe0Fxxxxxxxxxxxxxxxxxxxxxxx\
    xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxH\xff";
/// l:multi (RDB type 18)
const LIST_MULTI_0: &[u8] = b"\x0d\x00\x00\x00\x03\x00\x01\x01\x02\x01\x03\x01\xff";
/// l:multi (RDB type 18)
const LIST_MULTI_1: &[u8] = b"\x0d\x00\x00\x00\x03\x00\x04\x01\x05\x01\x06\x01\xff";
/// l:multi (RDB type 18)
const LIST_MULTI_2: &[u8] = b"\x09\x00\x00\x00\x01\x00\x07\x01\xff";
/// h:big, LZF-compressed (RDB string encoding 3), 25037 bytes uncompressed
pub(crate) const HASH_BIG_LZF: &[u8] = b"\
    \x1b\xcda\x00\x00\x04\x00\x85s5000\x06\xf0\x88\x13\x00\x00abcdefghij\xe0\xff\x09\xe1\xff\x0d\xe2\xff\
    \x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\
    \xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xff\x11\xe2\xe5\x11\x04\
    '\x8d\x86s23\x95\x160\x07\xf0\x20N\x00\x000123456789ABCDEF\xe0\xff\x0f\xe1\xff\x0f\xe2\xff\x0f\xe2\
    \xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\
    \x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\
    \xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\
    \xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\
    \x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\
    \xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\
    \xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\
    \x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\
    \xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xff\x0f\xe2\xaf\x0f\x03\x01\x9c\xa5\xff";

fn rep(unit: &[u8], n: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(n).collect()
}

/// The strings HSET h:big sent.
pub(crate) fn big_values() -> Vec<Vec<u8>> {
    vec![b"s5000".to_vec(), rep(b"abcdefghij", 5000), b"s20000".to_vec(), rep(b"0123456789ABCDEF", 20000)]
}

/// A name, the listpack Redis wrote, the strings it holds.
type Fixture = (&'static str, Vec<u8>, Vec<Vec<u8>>);

/// The strings the commands above sent, in the order Redis keeps them.
fn fixtures() -> Vec<Fixture> {
    let strs = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let ints = [
        "0",
        "127",
        "128",
        "-1",
        "4095",
        "-4096",
        "4096",
        "-32768",
        "32767",
        "32768",
        "-8388608",
        "8388607",
        "8388608",
        "-2147483648",
        "2147483647",
        "2147483648",
        "-9223372036854775808",
        "9223372036854775807",
        "-4097",
        "-32769",
        "-8388609",
        "-2147483649",
    ];
    let hash_ints = ints.iter().enumerate().flat_map(|(i, v)| [vec![b'a' + i as u8], v.as_bytes().to_vec()]).collect();
    let mut hash_strs = strs(&["", "empty", "007", "-0", "+1", "1 ", "99999999999999999999"]);
    hash_strs.extend([rep(b"x", 63), rep(b"x", 64), rep(b"y", 127), rep(b"z", 128), b"12-bit".to_vec()]);
    let mut list = strs(&["a", "1", "-1", "1000000", ""]);
    list.push(rep(b"x", 70));
    let big = crate::util::lzf::decompress(HASH_BIG_LZF, 25037).expect("Redis's LZF");
    vec![
        ("HASH_INTS", HASH_INTS.to_vec(), hash_ints),
        ("HASH_STRS", HASH_STRS.to_vec(), hash_strs),
        ("SET_LP", SET_LP.to_vec(), strs(&["a", "-5", "007", "", "-0", "4096"])),
        (
            "ZSET_LP",
            ZSET_LP.to_vec(),
            strs(&["f", "-inf", "c", "-2", "h", "0.1", "a", "1", "b", "1.5", "g", "100000", "d", "1e+300", "e", "inf"]),
        ),
        ("LIST_LP", LIST_LP.to_vec(), list),
        ("LIST_MULTI_0", LIST_MULTI_0.to_vec(), strs(&["1", "2", "3"])),
        ("LIST_MULTI_1", LIST_MULTI_1.to_vec(), strs(&["4", "5", "6"])),
        ("LIST_MULTI_2", LIST_MULTI_2.to_vec(), strs(&["7"])),
        ("HASH_BIG", big, big_values()),
    ]
}

#[test]
fn decodes_and_reencodes_redis_listpacks() {
    for (name, bytes, values) in fixtures() {
        let lp = ListPack::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(lp.len(), values.len(), "{name}");
        assert_eq!(lp.header_count() as usize, values.len(), "{name}");
        assert_eq!(lp.total_bytes() as usize, bytes.len(), "{name}");
        // Redis's int/string decision is lpStringToInt64's, which Entry::of makes.
        let expected: Vec<Entry> = values.iter().map(|v| Entry::of(v)).collect();
        let got: Vec<Entry> = lp.iter().collect();
        assert_eq!(got, expected, "{name}");
        let back: Vec<Entry> = lp.iter().rev().collect();
        assert_eq!(back, expected.iter().rev().copied().collect::<Vec<_>>(), "{name}");
        let strings: Vec<Vec<u8>> = lp.iter().map(|e| e.to_bytes().into_owned()).collect();
        assert_eq!(strings, values, "{name}");
        assert_eq!(encode(values.iter().map(|v| v.as_slice())).unwrap(), bytes, "{name}");
    }
}

#[test]
fn every_entry_encoding_is_covered() {
    // The first byte of every entry of the fixtures, classified: each encoding Redis has
    // must appear at least once, so the tests above check each against Redis's bytes.
    let mut seen = std::collections::BTreeSet::new();
    for (_, bytes, _) in fixtures() {
        let lp = ListPack::parse(&bytes).unwrap();
        let mut at = HEADER_SIZE;
        for _ in 0..lp.len() {
            let (_, size) = read_entry(&bytes, at).unwrap();
            seen.insert(match bytes[at] {
                0x00..=0x7F => "7-bit uint",
                0x80..=0xBF => "6-bit str",
                0xC0..=0xDF => "13-bit int",
                0xE0..=0xEF => "12-bit str",
                0xF0 => "32-bit str",
                0xF1 => "16-bit int",
                0xF2 => "24-bit int",
                0xF3 => "32-bit int",
                _ => "64-bit int",
            });
            seen.insert(["1-byte backlen", "2-byte backlen", "3-byte backlen"][backlen_len(size) - 1]);
            at += size;
        }
    }
    assert_eq!(seen.len(), 12, "{seen:?}");
}

/// Every prefix is rejected; every single-byte change is rejected or still reads back as
/// a consistent listpack (a changed byte inside a string stays valid); nothing panics.
#[test]
fn truncated_and_corrupted_listpacks_never_panic() {
    for (name, bytes, _) in fixtures() {
        if bytes.len() > 1000 {
            continue; // the 25 KB one: its header and entry bytes are the small ones' kinds
        }
        for n in 0..bytes.len() {
            assert!(ListPack::parse(&bytes[..n]).is_err(), "{name} cut at {n}");
        }
        for i in 0..bytes.len() {
            for delta in [1u8, 0x40, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] = bad[i].wrapping_add(delta);
                match ListPack::parse(&bad) {
                    Err(_) => {}
                    Ok(lp) => {
                        assert!(i >= HEADER_SIZE && i < bytes.len() - 1, "{name}: byte {i} + {delta} accepted");
                        assert_eq!(lp.iter().count(), lp.len());
                        assert_eq!(lp.iter().rev().count(), lp.len());
                    }
                }
            }
        }
    }
}

#[test]
fn malformed_headers_and_entries() {
    let good = SET_LP;
    assert_eq!(ListPack::parse(&[]).unwrap_err(), Error::TooShort);
    assert_eq!(ListPack::parse(&[7, 0, 0, 0, 0, 0]).unwrap_err(), Error::TooShort);
    let mut total = good.to_vec();
    total[0] += 1;
    assert_eq!(ListPack::parse(&total).unwrap_err(), Error::TotalMismatch);
    let mut term = good.to_vec();
    *term.last_mut().unwrap() = 0;
    assert_eq!(ListPack::parse(&term).unwrap_err(), Error::NoTerminator);
    let mut count = good.to_vec();
    count[4] = 5;
    assert_eq!(ListPack::parse(&count).unwrap_err(), Error::CountMismatch);
    // 65535 = unknown: accepted, entries counted.
    count[4] = 0xFF;
    count[5] = 0xFF;
    assert_eq!(ListPack::parse(&count).unwrap().len(), 6);
    // 0xF5..0xFE are no encoding; a 0xFF before the end is a premature end.
    assert_eq!(ListPack::parse(&[8, 0, 0, 0, 1, 0, 0xF5, 0xFF]).unwrap_err(), Error::BadEncoding);
    assert_eq!(ListPack::parse(&[9, 0, 0, 0, 1, 0, 0xFF, 0x01, 0xFF]).unwrap_err(), Error::EarlyEnd);
    // A 32-bit string length of 4 GB - 1 in a 13-byte buffer.
    let huge = [13, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0xFF];
    assert_eq!(ListPack::parse(&huge).unwrap_err(), Error::EntryOutOfBounds);
    // Right size, wrong backlen (2 instead of 1 for the uint 5).
    assert_eq!(ListPack::parse(&[9, 0, 0, 0, 1, 0, 0x05, 0x02, 0xFF]).unwrap_err(), Error::BadBacklen);
    // A total of 4 GB claimed by a short buffer.
    assert_eq!(ListPack::parse(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF]).unwrap_err(), Error::TotalMismatch);
}

#[test]
fn empty_listpack_is_lpnew() {
    let empty = Encoder::new().finish().unwrap();
    assert_eq!(empty, [7, 0, 0, 0, 0, 0, 0xFF]);
    let lp = ListPack::parse(&empty).unwrap();
    assert!(lp.is_empty());
    assert_eq!(lp.iter().next(), None);
    assert_eq!(lp.iter().next_back(), None);
}

#[test]
fn count_saturates_at_65535() {
    let mut enc = Encoder::new();
    for i in 0..70_000 {
        enc.push_int(i % 100);
    }
    let bytes = enc.finish().unwrap();
    assert_eq!(&bytes[4..6], &[0xFF, 0xFF]);
    let lp = ListPack::parse(&bytes).unwrap();
    assert_eq!(lp.header_count(), COUNT_UNKNOWN);
    assert_eq!(lp.len(), 70_000);
    assert_eq!(lp.iter().rev().nth(1), Some(Entry::Int(98)));

    let mut enc = Encoder::new();
    for _ in 0..65_534 {
        enc.push(b"");
    }
    assert_eq!(&enc.clone().finish().unwrap()[4..6], &[0xFE, 0xFF]);
    enc.push(b"");
    assert_eq!(&enc.finish().unwrap()[4..6], &[0xFF, 0xFF]);
}

#[test]
fn backlen_boundaries_walk_both_ways() {
    // Bodies of 127/128 (1 -> 2 bytes), 16382/16383 (2 -> 3) and 2097150/2097151 (3 -> 4).
    let sizes = [127, 128, 16382, 16383, 2_097_150, 2_097_151];
    let strings: Vec<Vec<u8>> = sizes.iter().map(|&body| rep(b"q", body - if body < 4096 { 2 } else { 5 })).collect();
    let mut enc = Encoder::new();
    for s in &strings {
        enc.push(s);
        enc.push_int(-1);
    }
    let expected_lens = [1, 2, 2, 3, 3, 4];
    for (s, want) in strings.iter().zip(expected_lens) {
        assert_eq!(backlen_len(Entry::Str(s).body_len()), want);
    }
    let bytes = enc.finish().unwrap();
    let lp = ListPack::parse(&bytes).unwrap();
    let forward: Vec<Entry> = lp.iter().collect();
    let mut backward: Vec<Entry> = lp.iter().rev().collect();
    backward.reverse();
    assert_eq!(forward, backward);
    assert_eq!(forward.len(), 12);
    for (i, s) in strings.iter().enumerate() {
        assert_eq!(forward[2 * i], Entry::Str(s));
    }
}

#[test]
fn integers_as_redis_decides() {
    for s in ["007", "-0", "+1", " 1", "1 ", "", "-", "99999999999999999999", "9223372036854775808", "0x10"] {
        assert_eq!(Entry::of(s.as_bytes()), Entry::Str(s.as_bytes()), "{s}");
    }
    for v in [0, -1, 127, 128, 4095, -4096, 4096, i64::MIN, i64::MAX] {
        assert_eq!(Entry::of(v.to_string().as_bytes()), Entry::Int(v));
        let mut buf = [0u8; 16];
        let n = Entry::Int(v).write(&mut buf);
        assert_eq!(read_entry(&buf, 0), Some((Entry::Int(v), n)));
    }
}

/// One entry written and read back by both readers, forwards and backwards.
fn enc_dec(v: &[u8]) {
    let p = Entry::of(v);
    let mut buf = vec![0u8; p.encoded_len()];
    assert_eq!(p.write(&mut buf), buf.len());
    let (e, size) = read_entry_trusted(&buf, 0);
    assert_eq!(size, buf.len());
    assert_eq!(e.to_vec(), v);
    assert_eq!(read_entry(&buf, 0), Some((e, size)));
    assert_eq!(entry_before_trusted(&buf, buf.len()), 0);
    assert_eq!(entry_before(&buf, buf.len()), Some(0));
}

#[test]
fn every_boundary_roundtrips() {
    for v in [
        "0",
        "1",
        "127",
        "128",
        "-1",
        "-4096",
        "4095",
        "4096",
        "-4097",
        "32767",
        "-32768",
        "32768",
        "8388607",
        "-8388608",
        "8388608",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "",
        "a",
        "007",
        "+1",
        "-0",
        "1.5",
        "9223372036854775808",
    ] {
        enc_dec(v.as_bytes());
    }
    for n in [63, 64, 65, 120, 127, 128, 4095, 4096, 16383, 20000, 70000] {
        enc_dec(&vec![b'x'; n]);
    }
}

#[test]
fn listpack_sizes_match_redis() {
    // entry sizes as Redis's listpack computes them
    assert_eq!(Entry::of(b"5").encoded_len(), 2);
    assert_eq!(Entry::of(b"1000").encoded_len(), 3);
    assert_eq!(Entry::of(b"100000").encoded_len(), 5);
    assert_eq!(Entry::of(b"abc").encoded_len(), 5);
    assert_eq!(Entry::of(&[b'x'; 63]).encoded_len(), 65);
    assert_eq!(Entry::of(&[b'x'; 126]).encoded_len(), 128 + 2);
}

/// The trusted readers (a list chunk's) read Redis's bytes as the validating ones do.
#[test]
fn trusted_reads_agree_with_checked() {
    for (name, bytes, _) in fixtures() {
        let end = bytes.len() - 1;
        let mut at = HEADER_SIZE;
        while at < end {
            let (e, size) = read_entry(&bytes, at).unwrap();
            assert_eq!(read_entry_trusted(&bytes, at), (e, size), "{name}");
            assert_eq!(entry_before_trusted(&bytes, at + size), at, "{name}");
            at += size;
        }
    }
}
