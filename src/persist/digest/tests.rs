//! Digests of values built in each encoding, against the digests Redis 7.2.6 printed for the
//! same values (DEBUG DIGEST-VALUE / DEBUG DIGEST on the oracle), and the dataset digest's
//! composition.

use super::*;
use crate::data::hash::{Hash, HashLimits};
use crate::data::list::{Fill, List};
use crate::data::set::{Set, SetLimits};
use crate::data::stream::{NodeLimits, Stream};
use crate::data::zset::{Limits, ZSet};
use crate::keyspace::{Keyspace, SetExpire};
use crate::util::sha1::hex;

fn hex_of(v: &Value, expires: bool) -> String {
    hex(&value_digest(v, expires))
}

const SET_LIMITS: SetLimits = SetLimits { intset_entries: 512, listpack_entries: 128, listpack_value: 64 };

fn set_of(members: &[&[u8]], lim: SetLimits) -> Value {
    let mut s = Set::create(members[0], members.len(), lim);
    for m in members {
        s.add(m, lim);
    }
    Value::Set(Box::new(s))
}

fn hash_of(pairs: &[(&[u8], &[u8])], max_entries: usize) -> Value {
    let lim = HashLimits { max_entries, max_value: 64 };
    let mut h = Hash::default();
    for (f, v) in pairs {
        h.set(f, v, lim);
    }
    Value::Hash(Box::new(h))
}

fn zset_of(items: &[(&[u8], f64)], entries: usize) -> Value {
    let lim = Limits { entries, value: 64 };
    let mut z = ZSet::with_hint(items.len(), 8, lim);
    for (m, s) in items {
        z.set(m, *s, lim);
    }
    Value::ZSet(Box::new(z))
}

#[test]
fn strings_lists_and_expiry() {
    assert_eq!(hex_of(&Value::from_string(b"hello"), false), "36b23a1456b2dce2c3ed252c456761301dba8060");
    assert_eq!(hex_of(&Value::from_string(b"123"), false), "89f7f51b707418f666d5b45e053bd5bbbf82ac2b");
    // The same text as bytes (a "raw" string holding digits) has the same digest.
    assert_eq!(hex_of(&Value::raw_string(b"123".to_vec()), false), "89f7f51b707418f666d5b45e053bd5bbbf82ac2b");
    assert_eq!(hex_of(&Value::from_string(b"x"), true), "0745672cb1bf060476eedeb8a28f5ffe1ff5a2be");
    for fill in [Fill(-2), Fill(1)] {
        let mut l = List::new();
        for e in [&b"a"[..], b"b", b"3"] {
            l.push_back(e, fill);
        }
        assert_eq!(hex_of(&Value::List(Box::new(l)), false), "09eb1fc9381ee92790d59930ab462945f8cd948b");
        let mut l = List::new();
        for e in [&b"-1"[..], b"xyz", b"1000000000000000000"] {
            l.push_back(e, fill);
        }
        assert_eq!(hex_of(&Value::List(Box::new(l)), false), "513b4ad9db6bdf76c7e957b6c21d58a9da5c99c3");
    }
}

#[test]
fn sets_and_hashes_in_every_encoding() {
    let table = SetLimits { intset_entries: 0, listpack_entries: 0, listpack_value: 0 };
    for lim in [SET_LIMITS, table] {
        assert_eq!(hex_of(&set_of(&[b"a", b"b"], lim), false), "dd99329063ca0f1f28df2ac68d94b82fd95501c6");
        assert_eq!(hex_of(&set_of(&[b"1", b"2", b"3", b"-5"], lim), false), "5e497276f46b9037a75afe0286ef7a77cbed85e4");
    }
    assert_eq!(set_of(&[b"1", b"2"], SET_LIMITS).encoding_name(), "intset");
    assert_eq!(set_of(&[b"1", b"2"], table).encoding_name(), "hashtable");
    for max_entries in [128, 0] {
        let h = hash_of(&[(b"f", b"v"), (b"g", b"1")], max_entries);
        assert_eq!(hex_of(&h, false), "6679ee22f89ed8001eeb5309d0900265ea56c03a");
    }
}

#[test]
fn sorted_set_scores_as_fpconv_writes_them() {
    for entries in [128, 0] {
        let one = |s: f64| hex_of(&zset_of(&[(b"m", s)], entries), false);
        assert_eq!(one(1.5), "0b67afcf657d7aa53a5226bcca2f55ea7f2fff48");
        assert_eq!(one(0.1), "7e1bae26d61f35a2675e4748edc8fe0bff072cee");
        assert_eq!(one(1e17), "70af2b12199c199e3b8261113e3a31ab1dc7490d");
    }
    // A negative zero is "0" in a listpack (read back from its text) and "-0" in a skiplist.
    assert_eq!(hex_of(&zset_of(&[(b"m", -0.0), (b"n", 2.0)], 128), false), "fd7699a510acb954913e5be8029a26b30559622f");
    assert_eq!(hex_of(&zset_of(&[(b"m", -0.0), (b"n", 2.0)], 0), false), "318b552b5e3b70f0f3ca743cf5501fefc43bde4d");
}

#[test]
fn streams_by_entry_not_by_node() {
    let mut s = Stream::new();
    s.append(StreamId::new(1, 1), &[b"f", b"v", b"g", b"1"], NodeLimits::default());
    s.append(StreamId::new(2, 5), &[b"f", b"w"], NodeLimits::default());
    assert_eq!(hex_of(&Value::Stream(Box::new(s.clone())), false), "c21a40cefb5d85d738b7ef7ef2ba3b126933b82e");
    // One entry per node: other nodes, same digest.
    let mut t = Stream::new();
    let one = NodeLimits { max_bytes: 4096, max_entries: 1 };
    t.append(StreamId::new(1, 1), &[b"f", b"v", b"g", b"1"], one);
    t.append(StreamId::new(2, 5), &[b"f", b"w"], one);
    assert_eq!(hex_of(&Value::Stream(Box::new(t)), false), "c21a40cefb5d85d738b7ef7ef2ba3b126933b82e");
    // A deleted entry does not count.
    s.append(StreamId::new(3, 0), &[b"a", b"b"], NodeLimits::default());
    s.delete(StreamId::new(2, 5));
    assert_eq!(hex_of(&Value::Stream(Box::new(s)), false), "8901c2e4e497bd5646570e018e3645bb711091c7");
}

#[test]
fn dataset_mixes_databases_in_order_and_keys_in_any_order() {
    let ks = Keyspace::new(16, 2, 1);
    let mut a = ks.access_exclusive(0, 0);
    assert_eq!(dataset_digest(&mut a), [0u8; 20]);
    a.set_in(0, b"a", Value::from_string(b"1"), SetExpire::Clear);
    a.set_in(0, b"b", Value::from_string(b"xyz"), SetExpire::At(i64::MAX / 2));
    let mut l = List::new();
    l.push_back(b"q", Fill(-2));
    a.set_in(3, b"l", Value::List(Box::new(l)), SetExpire::Clear);
    // Redis 7.2.6: SET a 1, SET b xyz EX 100, SELECT 3, RPUSH l q, DEBUG DIGEST.
    assert_eq!(hex(&dataset_digest(&mut a)), "d69673e66274fd214dec2c4ac939a5a5cde9b734");
}
