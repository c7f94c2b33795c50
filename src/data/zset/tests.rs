//! Structure invariants and rank/range correctness against a naive model.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const BIG: Limits = Limits { entries: 0, value: 0 };
const SMALL: Limits = Limits { entries: 128, value: 64 };

fn model_sorted(m: &std::collections::HashMap<Vec<u8>, f64>) -> Vec<(f64, Vec<u8>)> {
    let mut v: Vec<(f64, Vec<u8>)> = m.iter().map(|(k, s)| (*s, k.clone())).collect();
    v.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
    v
}

fn check_against(z: &ZSet, m: &std::collections::HashMap<Vec<u8>, f64>, rng: &mut SmallRng) {
    z.check();
    let want = model_sorted(m);
    assert_eq!(z.len(), want.len());
    let mut got = Vec::new();
    z.visit(0, false, |s, mem| {
        got.push((s, mem.to_vec()));
        true
    });
    assert_eq!(got, want);
    if want.is_empty() {
        return;
    }
    for _ in 0..20 {
        let r = rng.gen_range(0..want.len());
        assert_eq!(z.at(r).map(|(s, m)| (s, m.to_vec())), Some(want[r].clone()));
        assert_eq!(z.rank(&want[r].1), Some((r, want[r].0)));
        assert_eq!(z.score(&want[r].1), Some(want[r].0));
        // reverse visit from r
        let mut back = Vec::new();
        z.visit(r, true, |s, mem| {
            back.push((s, mem.to_vec()));
            true
        });
        let mut expect: Vec<_> = want[..=r].to_vec();
        expect.reverse();
        assert_eq!(back, expect);
        // score ranges
        let lo = rng.gen_range(-5..60) as f64;
        let hi = lo + rng.gen_range(0..20) as f64;
        let range = ScoreRange { min: lo, max: hi, minex: rng.gen(), maxex: rng.gen() };
        let (s, e) = range.ranks(z);
        let naive: Vec<usize> =
            (0..want.len()).filter(|&i| !range.below(want[i].0) && range.not_above(want[i].0)).collect();
        assert_eq!(e - s, naive.len());
        if let Some(&f) = naive.first() {
            assert_eq!(s, f);
        }
    }
}

fn run(limits: Limits, seed: u64, ops: usize, key_space: u32, score_space: i32) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut z = ZSet::with_hint(0, 0, limits);
    let mut m = std::collections::HashMap::new();
    for i in 0..ops {
        let member = format!("m{}", rng.gen_range(0..key_space)).into_bytes();
        match rng.gen_range(0..10) {
            0..=5 => {
                let score = rng.gen_range(0..score_space) as f64 / 2.0;
                z.set(&member, score, limits);
                m.insert(member, score);
            }
            6..=7 => {
                assert_eq!(z.remove(&member), m.remove(&member).is_some());
            }
            8 => {
                if let Some((s, mem)) = z.pop(rng.gen()) {
                    assert_eq!(m.remove(&mem[..]), Some(s));
                }
            }
            _ => {
                if !z.is_empty() {
                    let start = rng.gen_range(0..z.len());
                    let n = rng.gen_range(0..8);
                    let want = model_sorted(&m);
                    for (_, mem) in want.iter().skip(start).take(n) {
                        m.remove(mem);
                    }
                    z.remove_ranks(start, n);
                }
            }
        }
        if i % 997 == 0 || i + 1 == ops || std::env::var("ZCHECK").is_ok() {
            check_against(&z, &m, &mut rng);
        }
    }
    check_against(&z.clone(), &m, &mut rng);
}

#[test]
fn tree_random_small_keyspace() {
    run(BIG, 1, 20_000, 300, 50);
}

#[test]
fn tree_random_large_keyspace() {
    run(BIG, 2, 60_000, 20_000, 100);
}

#[test]
fn tree_one_score_orders_by_member() {
    // Every score equal: leaf searches, routing and removal all run on member ties.
    run(BIG, 4, 20_000, 3_000, 1);
}

#[test]
fn tree_negative_zero_ties_with_zero() {
    // -0.0 and 0.0 are one score: members of both interleave by member bytes and each is
    // found again (rank, removal) under the sign it was stored with.
    let mut z = ZSet::with_hint(0, 0, BIG);
    for i in 0..500 {
        let score = if i % 2 == 0 { -0.0 } else { 0.0 };
        z.insert_new(format!("m{i:04}").as_bytes(), score, BIG);
    }
    z.check();
    for i in 0..500 {
        assert_eq!(z.rank(format!("m{i:04}").as_bytes()).map(|(r, _)| r), Some(i));
    }
    for i in (0..500).step_by(3) {
        assert!(z.remove(format!("m{i:04}").as_bytes()));
    }
    z.check();
    assert_eq!(z.len(), 500 - 167);
}

#[test]
fn listpack_random_and_conversion() {
    run(SMALL, 3, 20_000, 200, 40);
}

#[test]
fn sequential_appends_fill_leaves() {
    let mut z = ZSet::with_hint(0, 0, BIG);
    for i in 0..100_000 {
        z.insert_new(format!("t{i}").as_bytes(), i as f64, BIG);
    }
    z.check();
    if let Enc::Skiplist(b) = &z.enc {
        // nearly full leaves: ~16 bytes per element in the leaves
        assert!(b.tree.heap_size() < 100_000 * 20, "{}", b.tree.heap_size());
    }
    // and drain from the front
    for i in 0..100_000 {
        let (s, _) = z.pop(false).unwrap();
        assert_eq!(s, i as f64);
        if i % 9973 == 0 {
            z.check();
        }
    }
    assert!(z.is_empty());
}

#[test]
fn entries_do_not_move_when_the_dict_grows() {
    // The tree's contract with Dict: entries stay put while the table grows and rehashes.
    let mut b = Big::new();
    b.insert_new(b"first", 1.0);
    let p = b.dict.get(key_hash(b"first"), b"first").unwrap() as *const ZEntry;
    for i in 0..10_000 {
        b.insert_new(format!("x{i}").as_bytes(), i as f64);
    }
    while b.dict.rehash(100) {}
    let q = b.dict.get(key_hash(b"first"), b"first").unwrap() as *const ZEntry;
    assert_eq!(p, q);
}

#[test]
fn negative_zero_equals_zero() {
    let mut z = ZSet::with_hint(0, 0, BIG);
    z.set(b"a", -0.0, BIG);
    z.set(b"a", 0.0, BIG);
    assert!(z.score(b"a").unwrap().is_sign_negative());
}

#[test]
fn range_parsing() {
    let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
    assert!(r.minex && r.max == f64::INFINITY);
    assert!(ScoreRange::parse(b"", b" 2").is_ok());
    assert!(ScoreRange::parse(b"nan", b"1").is_err());
    assert!(ScoreRange::parse(b"1x", b"1").is_err());
    assert!(LexRange::parse(b"[a", b"+").is_ok());
    assert!(LexRange::parse(b"a", b"+").is_err());
    assert!(LexRange::parse(b"++", b"+").is_err());
}
