//! persist::value against DUMP payloads of Redis 7.2.6, and every type and encoding both
//! ways, the older encodings, and refusals.

use super::*;
use crate::data::stream::{NodeLimits, Stream, StreamId};
use crate::data::ziplist::tests::build as ziplist;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn dump(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    save(&mut out, v, true);
    rdb::seal_payload(&mut out);
    out
}

fn restore_with(payload: &[u8], opts: &LoadOpts) -> Result<Value, LoadError> {
    let body = rdb::open_payload(payload).ok_or(LoadError::Corrupt)?;
    let mut pos = 1;
    load_value(*body.first().ok_or(LoadError::Corrupt)?, body, &mut pos, opts)
}

fn restore(payload: &[u8]) -> Result<Value, LoadError> {
    restore_with(payload, &LoadOpts::default())
}

/// A raw payload (type byte + body) sealed like a DUMP.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    rdb::seal_payload(&mut p);
    p
}

/// Type, encoding and contents in a canonical order (hash and set members sorted, sorted
/// sets in order with their scores' bits).
fn describe(v: &Value) -> (String, String, Vec<Vec<u8>>) {
    let mut items = Vec::new();
    match v {
        Value::Int(_) | Value::Str(_) => {
            let mut out = Vec::new();
            save(&mut out, v, false);
            items.push(out);
        }
        Value::List(l) => items.extend(l.iter().map(|e| e.to_vec())),
        Value::Hash(h) => {
            let mut pairs = h.pairs();
            pairs.sort();
            for (f, v) in pairs {
                items.push(f);
                items.push(v);
            }
        }
        Value::Set(s) => {
            items = s.members();
            items.sort();
        }
        Value::ZSet(z) => z.visit(0, false, |s, m| {
            items.push(m.to_vec());
            items.push(s.to_bits().to_le_bytes().to_vec());
            true
        }),
        Value::Stream(_) => items.push(dump(v)),
    }
    (v.type_name().to_string(), v.encoding_name().to_string(), items)
}

fn defaults() -> LoadOpts {
    LoadOpts::default()
}

fn list(items: &[&[u8]]) -> Value {
    let mut l = List::new();
    for i in items {
        l.push_back(i, defaults().list_fill);
    }
    Value::List(Box::new(l))
}

fn hash(pairs: &[(&[u8], &[u8])], lim: HashLimits) -> Value {
    let mut h = Hash::default();
    for (f, v) in pairs {
        h.set(f, v, lim);
    }
    Value::Hash(Box::new(h))
}

fn set(members: &[&[u8]], lim: SetLimits) -> Value {
    let mut s = Set::default();
    for m in members {
        s.add(m, lim);
    }
    Value::Set(Box::new(s))
}

fn zset(items: &[(&[u8], f64)], lim: zset::Limits) -> Value {
    let mut z = ZSet::default();
    for (m, s) in items {
        z.set(m, *s, lim);
    }
    Value::ZSet(Box::new(z))
}

/// DUMP of values built by the same commands on Redis 7.2.6 (default configuration unless
/// noted): our bytes are Redis's, and Redis's load back to the same value and bytes.
#[test]
fn dumps_are_redis_dumps() {
    let d = defaults();
    let mut i2 = set(&[b"1", b"5000000000"], d.set);
    if let Value::Set(s) = &mut i2 {
        s.remove(b"5000000000");
    }
    // (value, Redis's DUMP, whether loading keeps the encoding: a small table or skiplist
    // comes back compact, in Redis too)
    let fixtures: Vec<(Value, &str, bool)> = vec![
        // RPUSH l1 a b 1 2 300 -5000 70000 9999999999
        (
            list(&[b"a", b"b", b"1", b"2", b"300", b"-5000", b"70000", b"9999999999"]),
            "1201022727000000080081610281620201010201c12c02f178ec03f270110104f4ffe30b540200000009ff0b008e1fee456b952bcd",
            true,
        ),
        // HSET h1 f1 v1 f2 2 n -3
        (
            hash(&[(b"f1", b"v1"), (b"f2", b"2"), (b"n", b"-3")], d.hash),
            "101b1b00000006008266310382763103826632030201816e02dffd02ff0b00a92a1f2c5de472b6",
            true,
        ),
        // SADD i2 1 5000000000; SREM i2 5000000000 (the width stays 8)
        (i2, "0b10080000000100000001000000000000000b00001e8e0e84052e86", true),
        // SADD sp a b 1
        (set(&[b"a", b"b", b"1"], d.set), "140f0f00000003008161028162020101ff0b002ebbdf41d7870d64", true),
        // ZADD z1 0.1 a 1 b -0 c inf d 2.5 e -inf f 1e20 g 123456789012 h
        (
            zset(
                &[
                    (b"a", 0.1),
                    (b"b", 1.0),
                    (b"c", -0.0),
                    (b"d", f64::INFINITY),
                    (b"e", 2.5),
                    (b"f", f64::NEG_INFINITY),
                    (b"g", 1e20),
                    (b"h", 123456789012.0),
                ],
                d.zset,
            ),
            "114049490000001000816602842d696e6605816302000181610283302e3104816202010181650283322e3504816802f4141a99be\
             1c000000098167028531652b32300681640283696e6604ff0b00cd2c0c37eb426ce9",
            true,
        ),
        // SET lzf <100 x a>: LZF-compressed
        (Value::from_string(&[b'a'; 100]), "00c3094064016161e057000161610b00817c08744df21bf8", true),
        // zset-max-listpack-entries 1; ZADD zs 1.5 x -2 y 3 z
        (
            zset(&[(b"x", 1.5), (b"y", -2.0), (b"z", 3.0)], zset::Limits { entries: 1, ..d.zset }),
            "0503017a00000000000008400178000000000000f83f017900000000000000c00b002b6706c4c59b3c14",
            false,
        ),
        // hash-max-listpack-entries 0; HSET ht k v
        (hash(&[(b"k", b"v")], HashLimits { max_entries: 0, ..d.hash }), "0401016b01760b0039ff6255e6608e17", false),
    ];
    for (v, hex, keeps) in fixtures {
        let want = unhex(hex);
        assert_eq!(dump(&v), want, "{hex}");
        let back = restore(&want).unwrap();
        assert_eq!(describe(&back).2, describe(&v).2, "{hex}");
        if keeps {
            assert_eq!(describe(&back).1, describe(&v).1, "{hex}");
            assert_eq!(dump(&back), want, "{hex}");
        }
        never_panics(&want);
    }
}

/// Every prefix of a payload's body is refused and no byte change panics.
fn never_panics(payload: &[u8]) {
    let body = &payload[..payload.len() - 10];
    for n in 1..body.len() {
        assert!(restore(&sealed(&body[..n])).is_err(), "prefix {n} of {payload:02x?}");
    }
    for i in 0..body.len() {
        for b in [0u8, 1, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFE, 0xFF] {
            let mut p = body.to_vec();
            p[i] = b;
            let _ = restore(&sealed(&p));
        }
    }
}

/// Every type in every encoding goes out and back with the same contents and encoding;
/// where the order is the value's own, with the same bytes.
#[test]
fn every_encoding_round_trips() {
    let d = defaults();
    let long: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let many: Vec<Vec<u8>> = (0..700).map(|i| format!("member:{i}").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(|m| &m[..]).collect();
    let ints: Vec<Vec<u8>> = (0..700).map(|i| (i * 1000 - 300_000).to_string().into_bytes()).collect();
    let ints: Vec<&[u8]> = ints.iter().map(|m| &m[..]).collect();
    let pairs: Vec<(&[u8], &[u8])> = many.iter().zip(ints.iter()).map(|(a, b)| (*a, *b)).collect();
    let scored: Vec<(&[u8], f64)> = many.iter().enumerate().map(|(i, m)| (*m, i as f64 / 7.0 - 30.0)).collect();
    let mut stream = Stream::new();
    for i in 1..=250u64 {
        let n = i.to_string();
        stream.append(StreamId::new(1_700_000_000_000 + i, 0), &[b"f", n.as_bytes()], NodeLimits::default());
    }
    stream.last_id = StreamId::new(1_700_000_000_250, 0);
    let cases: Vec<(Value, &str, bool)> = vec![
        (Value::from_string(b"12345"), "int", true),
        (Value::from_string(b"short"), "embstr", true),
        (Value::from_string(&long), "raw", true),
        (Value::from_string(&[b'z'; 300]), "raw", true),
        (list(&[b"a", b"-1", b"1000000"]), "listpack", true),
        (list(&many), "quicklist", true),
        (list(&[b"x", &long, &long, b"y"]), "quicklist", true),
        (hash(&pairs[..10], d.hash), "listpack", true),
        (hash(&pairs, d.hash), "hashtable", false),
        (hash(&[(b"f", &long)], d.hash), "hashtable", true),
        (set(&ints[..10], d.set), "intset", true),
        (set(&many[..10], d.set), "listpack", true),
        (set(&many, d.set), "hashtable", false),
        (set(&ints, d.set), "hashtable", false),
        (zset(&scored[..10], d.zset), "listpack", true),
        (zset(&scored, d.zset), "skiplist", true),
        (zset(&[(b"neg", -0.0), (&long, 1.0)], d.zset), "skiplist", true),
        (Value::Stream(Box::new(stream)), "stream", true),
    ];
    for (v, enc, same_bytes) in cases {
        let (ty, got_enc, _) = describe(&v);
        assert_eq!(got_enc, enc, "{ty}");
        let payload = dump(&v);
        let back = restore(&payload).unwrap();
        assert_eq!(describe(&back), describe(&v), "{ty} {enc}");
        if same_bytes {
            assert_eq!(dump(&back), payload, "{ty} {enc}");
        }
        // Uncompressed too (rdbcompression no).
        let mut plain = Vec::new();
        save(&mut plain, &v, false);
        rdb::seal_payload(&mut plain);
        assert_eq!(describe(&restore(&plain).unwrap()), describe(&v));
    }
}

/// A loaded listpack converts by its entry count alone (as Redis 7.2 does: the oracle keeps
/// a listpack hash with a 200-byte field a listpack under hash-max-listpack-value 64);
/// element-by-element types apply every threshold.
#[test]
fn loading_applies_the_thresholds() {
    let d = defaults();
    let wide = HashLimits { max_entries: 1000, max_value: 1000 };
    let long = [b'f'; 200];
    let h = dump(&hash(&[(&long, b"v")], wide));
    assert_eq!(describe(&restore(&h).unwrap()).1, "listpack");
    let five: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4"), (b"e", b"5")];
    let small = LoadOpts {
        hash: HashLimits { max_entries: 3, ..d.hash },
        set: SetLimits { intset_entries: 3, listpack_entries: 3, ..d.set },
        zset: zset::Limits { entries: 3, ..d.zset },
        ..d
    };
    let cases: Vec<(Value, &str)> = vec![
        (hash(&five, d.hash), "hashtable"),
        (set(&[b"1", b"2", b"3", b"4"], d.set), "hashtable"),
        (set(&[b"a", b"b", b"c", b"d"], d.set), "hashtable"),
        (zset(&[(b"a", 1.0), (b"b", 2.0), (b"c", 3.0), (b"d", 4.0)], d.zset), "skiplist"),
    ];
    for (v, enc) in cases {
        assert_eq!(describe(&restore_with(&dump(&v), &small).unwrap()).1, enc);
    }
    // A table hash/set/skiplist within the limits comes back compact (HASH 4, SET 2, ZSET_2 5).
    let ht = hash(&[(b"k", b"v")], HashLimits { max_entries: 0, ..d.hash });
    assert_eq!(describe(&restore(&dump(&ht)).unwrap()).1, "listpack");
    let st = set(&[b"1", b"2"], SetLimits { intset_entries: 0, listpack_entries: 0, ..d.set });
    assert_eq!(describe(&st).1, "hashtable");
    assert_eq!(describe(&restore(&dump(&st)).unwrap()).1, "intset");
    let zs = zset(&[(b"a", 1.0)], zset::Limits { entries: 0, ..d.zset });
    assert_eq!(describe(&restore(&dump(&zs)).unwrap()).1, "listpack");
    // A list of one node within the limit is a listpack, past it a quicklist.
    let big = list(&[&[b'x'; 9000][..], b"y"]);
    assert_eq!(describe(&big).1, "quicklist");
    let wider = LoadOpts { list_fill: Fill(-3), ..d };
    assert_eq!(describe(&restore_with(&dump(&list(&[&[b'x'; 9000][..]])), &wider).unwrap()).1, "listpack");
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_string(&mut out, s, false);
    out
}

/// A body of `ty` followed by `parts` (each already encoded).
fn body(ty: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![ty];
    parts.iter().for_each(|p| b.extend_from_slice(p));
    b
}

fn len(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, n);
    out
}

/// The types Redis 7.2 no longer writes but still reads.
#[test]
fn older_encodings_load() {
    let check = |b: Vec<u8>, enc: &str, items: &[&[u8]]| {
        let v = restore(&sealed(&b)).unwrap_or_else(|e| panic!("{e:?} {b:02x?}"));
        let (_, got_enc, got) = describe(&v);
        assert_eq!(got_enc, enc, "{b:02x?}");
        let want: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
        if !matches!(v, Value::ZSet(_)) {
            assert_eq!(got, want, "{b:02x?}");
        }
        never_panics(&sealed(&b));
        v
    };
    // LIST 1
    check(body(types::LIST, &[len(3), string(b"a"), string(b"17"), string(b"c")]), "listpack", &[b"a", b"17", b"c"]);
    // SET 2: integers make an intset, a string a listpack
    check(body(types::SET, &[len(2), string(b"7"), string(b"-3")]), "intset", &[b"-3", b"7"]);
    check(body(types::SET, &[len(2), string(b"7"), string(b"x")]), "listpack", &[b"7", b"x"]);
    // ZSET 3: scores as text, 254/255 the infinities
    let v = check(
        body(
            types::ZSET,
            &[len(3), string(b"a"), b"\x031.5".to_vec(), string(b"b"), vec![254], string(b"c"), vec![255]],
        ),
        "listpack",
        &[],
    );
    let Value::ZSet(z) = v else { unreachable!() };
    assert_eq!(
        (z.score(b"a"), z.score(b"b"), z.score(b"c")),
        (Some(1.5), Some(f64::INFINITY), Some(f64::NEG_INFINITY))
    );
    // HASH 4
    check(body(types::HASH, &[len(1), string(b"f"), string(b"v")]), "listpack", &[b"f", b"v"]);
    // HASH_ZIPMAP 9
    check(
        body(types::HASH_ZIPMAP, &[string(b"\x02\x01a\x01\x00b\x01c\x02\x01dex\xff")]),
        "listpack",
        &[b"a", b"b", b"c", b"de"],
    );
    // LIST_ZIPLIST 10
    let zl = ziplist(&[b"\x01a".to_vec(), vec![0xF3], vec![0xC0, 0x10, 0x27]]);
    check(body(types::LIST_ZIPLIST, &[string(&zl)]), "quicklist", &[b"a", b"2", b"10000"]);
    // ZSET_ZIPLIST 12: member, score pairs
    let zl = ziplist(&[b"\x01m".to_vec(), b"\x031.5".to_vec(), b"\x01n".to_vec(), vec![0xF3]]);
    let v = check(body(types::ZSET_ZIPLIST, &[string(&zl)]), "listpack", &[]);
    let Value::ZSet(z) = v else { unreachable!() };
    assert_eq!((z.score(b"m"), z.score(b"n")), (Some(1.5), Some(2.0)));
    // HASH_ZIPLIST 13
    let zl = ziplist(&[b"\x01f".to_vec(), vec![0xF5]]);
    check(body(types::HASH_ZIPLIST, &[string(&zl)]), "listpack", &[b"f", b"4"]);
    // LIST_QUICKLIST 14: ziplist nodes
    let a = ziplist(&[b"\x01a".to_vec(), b"\x01b".to_vec()]);
    let b = ziplist(&[b"\x01c".to_vec()]);
    check(body(types::LIST_QUICKLIST, &[len(2), string(&a), string(&b)]), "quicklist", &[b"a", b"b", b"c"]);
    check(body(types::LIST_QUICKLIST, &[len(1), string(&a)]), "listpack", &[b"a", b"b"]);
    // LIST_QUICKLIST_2 18 with a plain node
    check(body(types::LIST_QUICKLIST_2, &[len(1), len(1), string(b"plain")]), "quicklist", &[b"plain"]);
}

/// Streams of the older types 15 and 19: the fields they lack are derived as Redis does.
#[test]
fn older_streams_load() {
    let mut s = Stream::new();
    for i in 1..=3u64 {
        s.append(StreamId::new(i, 0), &[b"f", b"v"], NodeLimits::default());
    }
    s.last_id = StreamId::new(3, 0);
    s.entries_added = 3;
    s.first_id = StreamId::new(1, 0);
    s.create_group(b"g", StreamId::new(3, 0), Some(3));
    let v21 = dump(&Value::Stream(Box::new(s)));
    let body21 = &v21[1..v21.len() - 10];
    // Type 21 body: nodes, length, last id, first id, max deleted, entries added, groups ...
    // Rebuild the type-15 body: drop first id, max deleted and entries added, the group's
    // entries read, and the consumers' active time (none here).
    let mut pos = 0;
    let nodes = get_len(body21, &mut pos).unwrap();
    for _ in 0..nodes * 2 {
        get_string(body21, &mut pos).unwrap();
    }
    get_len(body21, &mut pos).unwrap(); // length
    get_len(body21, &mut pos).unwrap();
    get_len(body21, &mut pos).unwrap(); // last id
    let head = pos;
    for _ in 0..5 {
        get_len(body21, &mut pos).unwrap(); // first id, max deleted, entries added
    }
    let groups_at = pos;
    get_len(body21, &mut pos).unwrap();
    get_string(body21, &mut pos).unwrap();
    get_len(body21, &mut pos).unwrap();
    get_len(body21, &mut pos).unwrap(); // group last id
    let read_at = pos;
    get_len(body21, &mut pos).unwrap(); // entries read
    let mut v15 = vec![types::STREAM_LISTPACKS];
    v15.extend_from_slice(&body21[..head]);
    v15.extend_from_slice(&body21[groups_at..read_at]);
    v15.extend_from_slice(&body21[pos..]);
    let Value::Stream(got) = restore(&sealed(&v15)).unwrap() else { panic!("not a stream") };
    assert_eq!((got.entries_added, got.first_id, got.max_deleted_entry_id), (3, StreamId::new(1, 0), StreamId::MIN));
    assert_eq!(got.groups[&b"g"[..]].entries_read, Some(3));
    never_panics(&sealed(&v15));
    let mut v19 = body21.to_vec();
    v19.insert(0, types::STREAM_LISTPACKS_2);
    assert!(restore(&sealed(&v19)).is_ok());
}

#[test]
fn refusals() {
    let corrupt = Err(LoadError::Corrupt);
    let empty = Err(LoadError::Empty);
    let cases: Vec<(Vec<u8>, Result<(), LoadError>)> = vec![
        (body(types::SET, &[len(0)]), empty),
        (body(types::LIST, &[len(0)]), empty),
        (body(types::HASH, &[len(0)]), empty),
        (body(types::ZSET_2, &[len(0)]), empty),
        (body(types::LIST_QUICKLIST_2, &[len(0)]), empty),
        (body(types::SET_LISTPACK, &[string(&listpack::encode([]).unwrap())]), empty),
        (body(types::SET_INTSET, &[string(&intset::encode(&[]))]), empty),
        // duplicates
        (body(types::SET, &[len(2), string(b"a"), string(b"a")]), corrupt),
        (body(types::SET, &[len(2), string(b"1"), string(b"1")]), corrupt),
        (body(types::HASH, &[len(2), string(b"f"), string(b"1"), string(b"f"), string(b"2")]), corrupt),
        (
            body(
                types::ZSET_2,
                &[len(2), string(b"m"), 1f64.to_le_bytes().to_vec(), string(b"m"), 2f64.to_le_bytes().to_vec()],
            ),
            corrupt,
        ),
        (body(types::SET_LISTPACK, &[string(&listpack::encode([&b"x"[..], b"x"]).unwrap())]), corrupt),
        (body(types::HASH_LISTPACK, &[string(&listpack::encode([&b"f"[..], b"1", b"f", b"2"]).unwrap())]), corrupt),
        (body(types::ZSET_LISTPACK, &[string(&listpack::encode([&b"m"[..], b"1", b"m", b"2"]).unwrap())]), corrupt),
        // odd listpacks for pairs, NaN scores, scores that are no number
        (body(types::HASH_LISTPACK, &[string(&listpack::encode([&b"f"[..]]).unwrap())]), corrupt),
        (body(types::ZSET_LISTPACK, &[string(&listpack::encode([&b"m"[..], b"x"]).unwrap())]), corrupt),
        (body(types::ZSET_2, &[len(1), string(b"m"), f64::NAN.to_le_bytes().to_vec()]), corrupt),
        (body(types::ZSET, &[len(1), string(b"m"), vec![253]]), corrupt),
        // an unknown container, module values, unknown types
        (body(types::LIST_QUICKLIST_2, &[len(1), len(3), string(b"x")]), corrupt),
        (body(6, &[len(0)]), corrupt),
        (body(7, &[len(0)]), corrupt),
        (body(8, &[len(0)]), corrupt),
        (body(22, &[len(0)]), corrupt),
    ];
    for (b, want) in cases {
        assert_eq!(restore(&sealed(&b)).map(|_| ()), want, "{b:02x?}");
    }
    // A count far beyond the input allocates nothing it cannot fill.
    for ty in [types::LIST, types::SET, types::ZSET, types::HASH, types::ZSET_2, types::LIST_QUICKLIST_2] {
        assert_eq!(restore(&sealed(&body(ty, &[len(u32::MAX as u64)]))).map(|_| ()), corrupt);
    }
}
