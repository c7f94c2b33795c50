//! The stream representation: against a plain ordered map (entries, ranges both ways,
//! deletes, exact trimming), and against Redis 7.2.6 itself (`testdata/oracle.txt`, written
//! by `testdata/oracle.py`: node boundaries, trim counts, radix-tree-keys and -nodes).

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

type Model = BTreeMap<StreamId, Vec<Vec<u8>>>;

pub(crate) fn id(s: &str) -> StreamId {
    let (ms, seq) = s.split_once('-').expect("ms-seq");
    StreamId::new(ms.parse().unwrap(), seq.parse().unwrap())
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    if let Some((n, b)) = s.split_once('*') {
        return unhex(b).repeat(n.parse().unwrap());
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn add(s: &mut Stream, m: &mut Model, i: StreamId, fields: &[Vec<u8>], limits: NodeLimits) {
    let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
    s.append(i, &refs, limits);
    m.insert(i, fields.to_vec());
}

fn collect(s: &Stream, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<(StreamId, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    s.visit(start, end, rev, |i, f| {
        out.push((i, f.iter().map(|x| x.to_vec()).collect()));
        out.len() < count
    });
    out
}

/// Everything the stream says agrees with the model, and every node's tracked listpack
/// size with the listpack it gives.
fn check(s: &Stream, m: &Model, rng: &mut SmallRng) {
    assert_eq!(s.len(), m.len() as u64);
    assert_eq!(s.nodes.values().map(|n| n.live as u64).sum::<u64>(), s.len());
    let all: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(collect(s, StreamId::MIN, StreamId::MAX, false, usize::MAX), all);
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(collect(s, StreamId::MIN, StreamId::MAX, true, usize::MAX), rev);
    assert_eq!(s.edge_id(false), m.keys().next().copied());
    assert_eq!(s.edge_id(true), m.keys().next_back().copied());
    for (master, lp) in s.listpacks() {
        assert_eq!(lp.len(), s.nodes[&master].lp_bytes, "node {master:?}");
    }
    if all.is_empty() {
        return;
    }
    for _ in 0..4 {
        let a = all[rng.gen_range(0..all.len())].0;
        let b = all[rng.gen_range(0..all.len())].0;
        let (a, b) = (a.min(b), a.max(b));
        let (a, b) =
            (if rng.gen() { a } else { a.incr().unwrap_or(a) }, if rng.gen() { b } else { b.decr().unwrap_or(b) });
        let count = rng.gen_range(1..20);
        if a > b {
            assert_eq!(collect(s, a, b, false, count), vec![]);
            continue;
        }
        let want: Vec<_> = m.range(a..=b).take(count).map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(collect(s, a, b, false, count), want);
        let want: Vec<_> = m.range(a..=b).rev().take(count).map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(collect(s, a, b, true, count), want);
        assert!(s.contains(a) == m.contains_key(&a));
    }
}

/// Replays oracle.txt, checking what Redis answered; `on_dump` gets the stream and Redis's
/// DUMP of it (type byte and value) at the end of each sequence.
pub(crate) fn replay(mut on_dump: impl FnMut(&Stream, &[u8])) {
    let mut rng = SmallRng::seed_from_u64(21);
    let mut s = Stream::new();
    let mut m = Model::new();
    let mut limits = NodeLimits::default();
    for (n, line) in include_str!("testdata/oracle.txt").lines().enumerate() {
        let w: Vec<&str> = line.split(' ').collect();
        let at = format!("oracle.txt line {}: {line:.80}", n + 1);
        match w[0] {
            "config" => {
                s = Stream::new();
                m.clear();
                limits = NodeLimits { max_bytes: w[1].parse().unwrap(), max_entries: w[2].parse().unwrap() };
            }
            "add" => add(&mut s, &mut m, id(w[1]), &w[2..].iter().map(|x| unhex(x)).collect::<Vec<_>>(), limits),
            "del" => {
                let i = id(w[1]);
                let got = s.delete(i);
                if got && i > s.max_deleted_entry_id {
                    s.max_deleted_entry_id = i;
                }
                m.remove(&i);
                assert_eq!(got as u8, w[2].parse::<u8>().unwrap(), "{at}");
            }
            "trim" => {
                let strategy = match w[1] {
                    "maxlen" => Trim::MaxLen(w[3].parse().unwrap()),
                    _ => Trim::MinId(id(w[3])),
                };
                let got = s.trim(strategy, w[2] == "~", w[4].parse().unwrap(), limits);
                assert_eq!(got, w[5].parse::<u64>().unwrap(), "{at}");
                // What is left is the tail, as Redis has it.
                while m.len() as u64 > s.len() {
                    m.pop_first();
                }
            }
            "check" => {
                assert_eq!(s.len(), w[1].parse::<u64>().unwrap(), "length, {at}");
                assert_eq!(s.node_count(), w[2].parse::<usize>().unwrap(), "radix-tree-keys, {at}");
                assert_eq!(s.rax_nodes(), w[3].parse::<usize>().unwrap(), "radix-tree-nodes, {at}");
                assert_eq!(s.last_id, id(w[4]), "{at}");
                assert_eq!(s.first_id, id(w[5]), "recorded-first-entry-id, {at}");
                assert_eq!(s.max_deleted_entry_id, id(w[6]), "{at}");
                assert_eq!(s.entries_added, w[7].parse::<u64>().unwrap(), "{at}");
                check(&s, &m, &mut rng);
            }
            "dump" => on_dump(&s, &unhex(w[1])),
            _ => panic!("{at}"),
        }
    }
}

#[test]
fn matches_redis_node_boundaries_trims_and_radix_tree() {
    let mut dumps = 0;
    replay(|_, _| dumps += 1);
    assert!(dumps > 20);
}

fn event(i: u64) -> Vec<Vec<u8>> {
    vec![
        b"name".to_vec(),
        format!("user{}", i % 7).into_bytes(),
        b"ts".to_vec(),
        (1700000000 + i).to_string().into_bytes(),
    ]
}

#[test]
fn empty_stream() {
    let s = Stream::new();
    assert!(s.is_empty());
    assert_eq!(s.edge_id(false), None);
    assert_eq!(s.edge_id(true), None);
    assert!(!s.contains(StreamId::MIN));
    assert_eq!(collect(&s, StreamId::MIN, StreamId::MAX, false, 10), vec![]);
    assert_eq!(collect(&s, StreamId::MIN, StreamId::MAX, true, 10), vec![]);
    assert_eq!((s.node_count(), s.rax_nodes()), (0, 1));
    let mut s = s;
    assert_eq!(s.trim(Trim::MaxLen(0), false, 0, NodeLimits::default()), 0);
    assert!(!s.delete(StreamId::new(1, 1)));
}

#[test]
fn append_visit_both_ways_and_node_limits() {
    let mut rng = SmallRng::seed_from_u64(1);
    let mut s = Stream::new();
    let mut m = Model::new();
    let limits = NodeLimits { max_bytes: 4096, max_entries: 10 };
    for i in 0..95 {
        add(&mut s, &mut m, StreamId::new(1000 + i / 3, i % 3), &event(i), limits);
    }
    // Ten entries a node: the last node has five.
    assert_eq!(s.node_count(), 10);
    assert_eq!(s.nodes.values().last().map(|n| n.live), Some(5));
    check(&s, &m, &mut rng);
    assert_eq!(s.first_id, StreamId::new(1000, 0));
    assert_eq!(s.last_id, StreamId::new(1031, 1));
    // Exclusive-style bounds between entries, a range inside one node, COUNT both ways.
    let got = collect(&s, StreamId::new(1010, 1), StreamId::new(1012, 0), false, 100);
    assert_eq!(
        got.iter().map(|e| e.0).collect::<Vec<_>>(),
        [(1010, 1), (1010, 2), (1011, 0), (1011, 1), (1011, 2), (1012, 0)].map(|(a, b)| StreamId::new(a, b))
    );
    let got = collect(&s, StreamId::new(1010, 1), StreamId::new(1012, 0), true, 2);
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [StreamId::new(1012, 0), StreamId::new(1011, 2)]);
    assert_eq!(collect(&s, StreamId::new(5, 0), StreamId::new(4, 0), false, 10), vec![]);
}

#[test]
fn byte_limit_starts_nodes_like_redis() {
    // Redis: a new node when lpBytes + the new entry's field and value lengths >= max bytes.
    let mut s = Stream::new();
    let limits = NodeLimits { max_bytes: 100, max_entries: 0 };
    let v = [b"f".as_slice(), b"0123456789".as_slice()];
    s.append(StreamId::new(1, 0), &v, limits);
    // master: 6+1 + count, deleted, 1 field, 0 (2 each), "f" (3) = 18; entry: flags, 0, 0, lp-count
    // (2 each) and the value, not canonical so a string (12) = 20.
    assert_eq!(s.nodes[&StreamId::new(1, 0)].lp_bytes, 38);
    s.append(StreamId::new(1, 1), &v, limits); // 38 + 11 < 100
    s.append(StreamId::new(1, 2), &v, limits); // 58 + 11 < 100
    s.append(StreamId::new(1, 3), &v, limits); // 78 + 11 < 100
    assert_eq!(s.node_count(), 1);
    assert_eq!(s.nodes[&StreamId::new(1, 0)].lp_bytes, 98);
    s.append(StreamId::new(1, 4), &v, limits); // 98 + 11 >= 100
    assert_eq!(s.node_count(), 2);
}

#[test]
fn delete_flags_and_drops_empty_nodes() {
    let mut rng = SmallRng::seed_from_u64(2);
    let mut s = Stream::new();
    let mut m = Model::new();
    let limits = NodeLimits { max_bytes: 0, max_entries: 4 };
    for i in 0..12 {
        add(&mut s, &mut m, StreamId::new(i, 0), &event(i), limits);
    }
    assert!(s.delete(StreamId::new(0, 0)));
    assert!(!s.delete(StreamId::new(0, 0)));
    assert!(!s.delete(StreamId::new(0, 1)));
    m.remove(&StreamId::new(0, 0));
    assert_eq!(s.first_id, StreamId::new(1, 0));
    assert_eq!((s.nodes[&StreamId::new(0, 0)].live, s.nodes[&StreamId::new(0, 0)].deleted), (3, 1));
    for i in 4..8 {
        assert!(s.delete(StreamId::new(i, 0)));
        m.remove(&StreamId::new(i, 0));
    }
    // The middle node went with its last entry.
    assert_eq!(s.node_count(), 2);
    check(&s, &m, &mut rng);
    // The tail node keeps taking entries until it holds 4, deleted ones included.
    assert!(s.delete(StreamId::new(11, 0)));
    m.remove(&StreamId::new(11, 0));
    add(&mut s, &mut m, StreamId::new(20, 0), &event(20), limits);
    assert_eq!(s.node_count(), 3);
    check(&s, &m, &mut rng);
}

#[test]
fn trim_exact_and_approximate() {
    let mut rng = SmallRng::seed_from_u64(3);
    let limits = NodeLimits { max_bytes: 0, max_entries: 10 };
    let build = || {
        let mut s = Stream::new();
        let mut m = Model::new();
        for i in 0..35 {
            add(&mut s, &mut m, StreamId::new(1, i), &event(i), limits);
        }
        (s, m)
    };
    // ~ removes whole nodes only: 35 down to 22 can drop one node of 10.
    let (mut s, _) = build();
    assert_eq!(s.trim(Trim::MaxLen(22), true, 0, limits), 10);
    assert_eq!((s.len(), s.first_id), (25, StreamId::new(1, 10)));
    // LIMIT stops before a node that would pass it.
    assert_eq!(s.trim(Trim::MaxLen(0), true, 15, limits), 10);
    assert_eq!(s.trim(Trim::MaxLen(0), true, 9, limits), 0);
    // Exact: whole nodes, then flags in the next one.
    let (mut s, mut m) = build();
    assert_eq!(s.trim(Trim::MaxLen(12), false, 0, limits), 23);
    while m.len() > 12 {
        m.pop_first();
    }
    assert_eq!(s.node_count(), 2);
    assert_eq!((s.nodes[&StreamId::new(1, 20)].live, s.nodes[&StreamId::new(1, 20)].deleted), (7, 3));
    assert_eq!(s.first_id, StreamId::new(1, 23));
    assert_eq!(s.max_deleted_entry_id, StreamId::MIN);
    check(&s, &m, &mut rng);
    // MINID, exact and approximate.
    let (mut s, _) = build();
    assert_eq!(s.trim(Trim::MinId(StreamId::new(1, 15)), true, 0, limits), 10);
    assert_eq!(s.trim(Trim::MinId(StreamId::new(1, 15)), false, 0, limits), 5);
    assert_eq!(s.first_id, StreamId::new(1, 15));
    // MINID above a deleted last entry leaves a node with no live entry, as Redis does.
    let (mut s, _) = build();
    assert!(s.delete(StreamId::new(1, 34)));
    assert_eq!(s.trim(Trim::MinId(StreamId::new(1, 34)), false, 0, limits), 34);
    assert_eq!((s.len(), s.node_count(), s.first_id), (0, 1, StreamId::MIN));
    assert_eq!(collect(&s, StreamId::MIN, StreamId::MAX, true, 10), vec![]);
}

#[test]
fn same_fields_integers_and_odd_ids_round_trip() {
    let mut rng = SmallRng::seed_from_u64(4);
    let mut s = Stream::new();
    let mut m = Model::new();
    let limits = NodeLimits::default();
    let vals: [&[u8]; 12] = [
        b"0",
        b"-1",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"4611686018427387904",
        b"007",
        b"",
        b"-0",
        b"1e3",
        b"12345678901234567890",
        b"\x00\xff",
        b"x",
    ];
    let mut i = StreamId::new(0, 0);
    for n in 0..200u64 {
        i = match n % 5 {
            0 => StreamId::new(i.ms, i.seq + 1),
            1 => StreamId::new(i.ms + 1 + n, 0),
            2 => StreamId::new(i.ms, i.seq + 17),
            3 => StreamId::new(i.ms + (1 << 40), u64::MAX - 1000 + n),
            _ => StreamId::new(i.ms + 20, 3),
        };
        let a = vals[n as usize % vals.len()].to_vec();
        let b = vals[(n as usize / 3) % vals.len()].to_vec();
        let fields =
            if n % 7 == 0 { vec![a.clone(), b, b"k".to_vec(), a] } else { vec![b"k".to_vec(), a, b"1".to_vec(), b] };
        add(&mut s, &mut m, i, &fields, limits);
    }
    check(&s, &m, &mut rng);
}

#[test]
fn random_operations_agree_with_a_map() {
    let mut rng = SmallRng::seed_from_u64(5);
    for round in 0..20 {
        let limits =
            NodeLimits { max_bytes: [0, 60, 500, 4096][round % 4], max_entries: [0, 1, 3, 100][round / 4 % 4] };
        let mut s = Stream::new();
        let mut m = Model::new();
        let mut i = StreamId::new(1, 0);
        for _ in 0..300 {
            match rng.gen_range(0..10) {
                0..=5 => {
                    i = if rng.gen() {
                        StreamId::new(i.ms, i.seq + 1)
                    } else {
                        StreamId::new(i.ms + rng.gen_range(1..40), 0)
                    };
                    add(&mut s, &mut m, i, &event(rng.gen_range(0..1000)), limits);
                }
                6 | 7 if !m.is_empty() => {
                    let k = *m.keys().nth(rng.gen_range(0..m.len())).unwrap();
                    assert!(s.delete(k));
                    m.remove(&k);
                }
                8 => {
                    let max = rng.gen_range(0..m.len() as u64 + 2);
                    let got = s.trim(Trim::MaxLen(max), false, 0, limits);
                    assert_eq!(got, (m.len() as u64).saturating_sub(max));
                    while m.len() as u64 > max {
                        m.pop_first();
                    }
                }
                _ => {
                    let min = StreamId::new(rng.gen_range(0..=i.ms + 1), 0);
                    let before = m.len();
                    m.retain(|k, _| *k >= min);
                    assert_eq!(s.trim(Trim::MinId(min), false, 0, limits), (before - m.len()) as u64);
                }
            }
            check(&s, &m, &mut rng);
        }
    }
}

#[test]
fn a_typical_event_takes_18_bytes_where_a_listpack_takes_28() {
    let mut s = Stream::new();
    let f: [&[u8]; 6] = [b"name", b"alice", b"action", b"login", b"ts", b"1700000000"];
    let mut i = StreamId::new(1700000000000, 0);
    for n in 0..10_000 {
        // `*` ids: 50 entries a millisecond.
        i = if n % 50 == 0 { StreamId::new(i.ms + 1, 0) } else { StreamId::new(i.ms, i.seq + 1) };
        s.append(i, &f, NodeLimits::default());
    }
    assert_eq!(s.node_count(), 100);
    // Head byte, "alice" and "login" with a length byte, the integer as a 5-byte varint;
    // per node the master fields (a count byte, then "name", "action", "ts" with length bytes).
    let ours: usize = s.nodes.values().map(|n| n.data().len()).sum();
    assert_eq!(ours, 10_000 * 18 + 100 * 16);
    // Redis: flags, ms and seq differences, lp-count (2 bytes each), "alice" and "login" (7
    // each), the integer (6); per node the header and terminator (7), count, deleted, field
    // count and the 0 (2 each), the three fields (6 + 8 + 4).
    let redis: usize = s.listpacks().map(|(_, lp)| lp.len()).sum();
    assert_eq!(redis, 10_000 * 28 + 100 * 33);
}
