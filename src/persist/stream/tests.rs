//! RDB type 21 against DUMP payloads of Redis 7.2.6.

use std::collections::BTreeSet;

use super::*;
use crate::data::listpack::Entry;
use crate::data::stream::tests::{id, replay};
use crate::data::stream::{Consumer, ConsumerGroup, LoadError, NodeLimits, PendingEntry, Trim};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn dump(s: &Stream) -> Vec<u8> {
    let mut out = vec![RDB_TYPE_STREAM_LISTPACKS_3];
    encode(s, &mut out, true);
    out
}

/// The random sequences of data::stream's oracle test: small streams and ones of many nodes,
/// with deleted entries, different field sets, integers of every listpack width, long
/// strings (LZF-compressed listpacks), trimmed heads.
#[test]
fn streams_dump_as_redis_dumps_them() {
    let mut n = 0;
    replay(|s, want| {
        assert_eq!(dump(s), want, "sequence {n}");
        n += 1;
    });
    assert!(n > 20);
}

/// Redis 7.2.6, stream-node-max-entries 100, stream-node-max-bytes 4096:
///   XADD g 1700000000000-<1..6> name alice action login ts 1700000000
///   XGROUP CREATE g workers 0; XGROUP CREATE g late 0-3; XGROUP CREATE g empty $
///   XREADGROUP GROUP workers alice COUNT 2 STREAMS g >
///   XREADGROUP GROUP workers bob COUNT 1 STREAMS g >
///   XREADGROUP GROUP workers alice COUNT 1 STREAMS g 0
///   XGROUP CREATECONSUMER g workers carol
///   XREADGROUP GROUP late dave COUNT 1 STREAMS g >
///   XACK g workers 1700000000000-2; XDEL g 1700000000000-5; DUMP g
/// (the times are those XINFO STREAM g FULL showed.)
const GROUPS: &str = "\
    1501100000018bcfe568000000000000000001c3406140c91fc90000003100050101010301846e616d650586616374696f6e\
    078274730300010202010020011485616c69636506856c6f67696e06f300f153650506601b0001e0121b0002e0121b0003e0\
    0e1b0003206d0004e00e1b408b0005e00d1b0101ff05810000018bcfe5680006810000018bcfe5680001810000018bcfe568\
    0005060305656d707479810000018bcfe568000681ffffffffffffffff0000046c617465810000018bcfe568000101010000\
    018bcfe568000000000000000001e15f724fa201000001010464617665e15f724fa2010000e15f724fa20100000100000\
    18bcfe56800000000000000000107776f726b657273810000018bcfe568000303020000018bcfe5680000000000000000\
    01c25f724fa2010000020000018bcfe568000000000000000003bc5f724fa2010000010305616c696365c25f724fa201\
    0000b05f724fa2010000010000018bcfe56800000000000000000103626f62bc5f724fa2010000bc5f724fa2010000010\
    000018bcfe568000000000000000003056361726f6cd35f724fa2010000ffffffffffffffff000b00888ffffcc23526f8";

#[test]
fn groups_consumers_and_pels_dump_as_redis_dumps_them() {
    let mut s = Stream::new();
    for seq in 1..=6 {
        let f: [&[u8]; 6] = [b"name", b"alice", b"action", b"login", b"ts", b"1700000000"];
        s.append(StreamId::new(1700000000000, seq), &f, NodeLimits::default());
    }
    assert!(s.delete(id("1700000000000-5")));
    s.max_deleted_entry_id = id("1700000000000-5");
    let pending = |t: i64, n: u64, c: &str| PendingEntry { delivery_time: t, delivery_count: n, consumer: c.into() };
    let consumer = |seen: i64, active: i64, pel: &[&str]| Consumer {
        seen_time: seen,
        active_time: active,
        pel: pel.iter().map(|i| id(i)).collect::<BTreeSet<_>>(),
    };
    s.groups.insert(
        b"empty".to_vec(),
        ConsumerGroup { last_id: id("1700000000000-6"), entries_read: None, ..Default::default() },
    );
    s.groups.insert(
        b"late".to_vec(),
        ConsumerGroup {
            last_id: id("1700000000000-1"),
            entries_read: Some(1),
            pel: [(id("1700000000000-1"), pending(1796629225441, 1, "dave"))].into_iter().collect(),
            consumers: [(b"dave".to_vec(), consumer(1796629225441, 1796629225441, &["1700000000000-1"]))]
                .into_iter()
                .collect(),
        },
    );
    s.groups.insert(
        b"workers".to_vec(),
        ConsumerGroup {
            last_id: id("1700000000000-3"),
            entries_read: Some(3),
            pel: [
                (id("1700000000000-1"), pending(1796629225410, 2, "alice")),
                (id("1700000000000-3"), pending(1796629225404, 1, "bob")),
            ]
            .into_iter()
            .collect(),
            consumers: [
                (b"alice".to_vec(), consumer(1796629225410, 1796629225392, &["1700000000000-1"])),
                (b"bob".to_vec(), consumer(1796629225404, 1796629225404, &["1700000000000-3"])),
                (b"carol".to_vec(), consumer(1796629225427, -1, &[])),
            ]
            .into_iter()
            .collect(),
        },
    );
    let payload = unhex(GROUPS);
    assert_eq!(dump(&s), payload[..payload.len() - 10]);
}

fn entries(s: &Stream) -> Vec<(StreamId, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    s.visit(StreamId::MIN, StreamId::MAX, false, |i, f| {
        out.push((i, f.iter().map(|x| x.to_vec()).collect()));
        true
    });
    out
}

/// Everything one can do to a stream, so that a loaded one is shown to hold together.
fn exercise(mut s: Stream) {
    let all = entries(&s);
    let mut rev = Vec::new();
    s.visit(StreamId::MIN, StreamId::MAX, true, |i, _| {
        rev.push(i);
        true
    });
    assert_eq!(rev.len(), all.len());
    let _ = (s.rax_nodes(), s.heap_size(), s.edge_id(true), s.edge_id(false));
    if let Some((i, _)) = all.get(all.len() / 2) {
        assert!(s.contains(*i));
        assert!(s.delete(*i));
    }
    let next = s.last_id.incr().unwrap_or(StreamId::MAX);
    if next > s.last_id {
        s.append(next, &[b"f", b"v"], NodeLimits::default());
    }
    s.trim(Trim::MaxLen(s.len() / 2), true, 0, NodeLimits::default());
    s.trim(Trim::MaxLen(s.len() / 2), false, 0, NodeLimits::default());
    s.trim(Trim::MinId(s.last_id), false, 0, NodeLimits::default());
    dump(&s);
}

/// Redis's payloads load, hold what Redis's stream held, and write back the same bytes.
#[test]
fn redis_payloads_load_and_round_trip() {
    let mut n = 0;
    replay(|s, want| {
        let mut pos = 1;
        let got = decode(want, &mut pos).expect("Redis's payload loads");
        assert_eq!(pos, want.len());
        assert_eq!(entries(&got), entries(s));
        assert_eq!((got.len(), got.node_count(), got.rax_nodes()), (s.len(), s.node_count(), s.rax_nodes()));
        assert_eq!(dump(&got), want);
        exercise(got);
        n += 1;
    });
    let payload = unhex(GROUPS);
    let value = &payload[..payload.len() - 10];
    let mut pos = 1;
    let got = decode(value, &mut pos).expect("loads");
    assert_eq!(pos, value.len());
    assert_eq!(got.groups[&b"workers"[..]].pel[&id("1700000000000-3")].consumer, b"bob");
    assert_eq!(got.groups[&b"empty"[..]].entries_read, None);
    assert_eq!(dump(&got), value);
    assert!(n > 20);
}

/// Every truncation and many single-byte changes of real payloads: refused, or loaded into
/// a stream that works; never a panic.
#[test]
fn corrupt_payloads_never_panic() {
    let mut payloads = Vec::new();
    replay(|_, want| {
        if want.len() < 1500 {
            payloads.push(want.to_vec());
        }
    });
    let g = unhex(GROUPS);
    payloads.push(g[..g.len() - 10].to_vec());
    assert!(payloads.len() > 5);
    let mut loaded = 0;
    for p in payloads.iter().take(12) {
        for cut in 1..p.len() {
            let mut pos = 1;
            assert!(decode(&p[..cut], &mut pos).is_none_or(|_| pos <= cut));
        }
        for at in 1..p.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xc0, 0xff, p[at] ^ 1, p[at].wrapping_add(1)] {
                let mut bad = p.clone();
                bad[at] = v;
                let mut pos = 1;
                if let Some(s) = decode(&bad, &mut pos) {
                    loaded += 1;
                    exercise(s);
                }
            }
        }
    }
    assert!(loaded > 0);
}

#[test]
fn inconsistent_nodes_are_refused() {
    let mut s = Stream::new();
    s.append(StreamId::new(5, 0), &[b"a", b"1"], NodeLimits::default());
    s.append(StreamId::new(5, 1), &[b"b", b"2"], NodeLimits::default());
    let (master, lp) = s.listpacks().next().unwrap();
    let mut fresh = Stream::new();
    assert_eq!(fresh.load_listpack(master, &lp), Ok(()));
    // The same node again, or under a lower key: ids not increasing.
    assert_eq!(fresh.load_listpack(master, &lp), Err(LoadError::Inconsistent));
    assert_eq!(fresh.load_listpack(StreamId::new(4, 0), &lp), Err(LoadError::Inconsistent));
    // Under a higher key its ids move with it.
    assert_eq!(fresh.load_listpack(StreamId::new(6, 0), &lp), Ok(()));
    assert_eq!(fresh.edge_id(true), Some(StreamId::new(6, 1)));
    // A string where Redis stores an integer: not the listpack Redis writes.
    let mut enc = crate::data::listpack::Encoder::new();
    for e in [Entry::Int(1), Entry::Int(0), Entry::Int(1), Entry::Str(b"a"), Entry::Int(0)] {
        enc.push_entry(e);
    }
    for e in [Entry::Int(2), Entry::Int(0), Entry::Int(0), Entry::Str(b"1"), Entry::Int(4)] {
        enc.push_entry(e);
    }
    assert_eq!(Stream::new().load_listpack(master, &enc.finish().unwrap()), Err(LoadError::Inconsistent));
    assert_eq!(Stream::new().load_listpack(master, b"\x07\x00\x00\x00\x00\x00\xff"), Err(LoadError::Layout));
    assert_eq!(Stream::new().load_listpack(master, b"junk"), Err(LoadError::Listpack));
}
