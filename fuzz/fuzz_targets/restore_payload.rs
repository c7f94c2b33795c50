//! RESTORE payloads from arbitrary bytes: `persist::value::load_value` on a value of any RDB
//! type (the footer's CRC64 is checked before it in RESTORE, so the fuzzer feeds the body).
//! Layout: byte 0 = flags (bits 0-1: the thresholds: Redis's defaults, tiny, 1-entry
//! listpacks, huge; bit 2: sanitize), then the type byte and the value's bytes.
//!
//! Besides "no panic, no allocation beyond the input": a value that loads saves and loads
//! again to the same contents and the same bytes (save is a fixed point after one load),
//! and the usual edits on it (push, pop, insert, set, remove) keep it consistent.
#![no_main]

use std::cmp::Ordering;

use cinnabar::data::hash::HashLimits;
use cinnabar::data::list::Fill;
use cinnabar::data::set::SetLimits;
use cinnabar::data::value::Value;
use cinnabar::data::zset::{self, tree::cmp_key};
use cinnabar::persist::value::{load_value, save, LoadError, LoadOpts};
use libfuzzer_sys::fuzz_target;

fn opts(flags: u8) -> LoadOpts {
    let d = LoadOpts::default();
    let (entries, value, fill) = match flags & 3 {
        0 => return LoadOpts { deep_sanitize: flags & 4 != 0, ..d },
        1 => (2, 4, 2),
        2 => (1, 64, -1),
        _ => (100_000, 100_000, -5),
    };
    LoadOpts {
        deep_sanitize: flags & 4 != 0,
        list_fill: Fill(fill),
        hash: HashLimits { max_entries: entries, max_value: value },
        set: SetLimits { intset_entries: entries, listpack_entries: entries, listpack_value: value },
        zset: zset::Limits { entries, value },
    }
}

/// Type, encoding and contents in a canonical order.
fn contents(v: &Value) -> (&'static str, Vec<Vec<u8>>) {
    let mut items = Vec::new();
    match v {
        Value::Int(_) | Value::Str { .. } | Value::Stream(_) => {
            let mut out = Vec::new();
            save(&mut out, v, false);
            items.push(out);
        }
        Value::List(l) => items.extend(l.iter().map(|e| e.to_vec())),
        Value::Hash(h) => {
            let mut p = h.pairs();
            p.sort();
            p.into_iter().for_each(|(f, v)| items.extend([f, v]));
        }
        Value::Set(s) => {
            items = s.members();
            items.sort();
        }
        Value::ZSet(z) => z.visit(0, false, |s, m| {
            items.extend([m.to_vec(), s.to_bits().to_le_bytes().to_vec()]);
            true
        }),
    }
    (v.encoding_name(), items)
}

fn dump(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    save(&mut out, v, true);
    out
}

fn edit(v: &mut Value, o: &LoadOpts) {
    match v {
        Value::List(l) => {
            l.push_back(b"tail", o.list_fill);
            l.push_front(b"-7", o.list_fill);
            l.insert_at_pivot(b"tail", b"mid", false, o.list_fill);
            l.set(l.len() / 2, b"set", o.list_fill);
            l.remove_matching(b"mid", 0, false);
            l.pop_back();
            l.shrink_encoding(o.list_fill);
            assert_eq!(l.iter().count(), l.len());
        }
        Value::Hash(h) => {
            let (n, had) = (h.len(), h.get(b"new field").is_some());
            assert_eq!(h.set(b"new field", b"1", o.hash), !had);
            assert!(h.remove(b"new field"));
            assert_eq!(h.len(), n - had as usize);
        }
        Value::Set(s) => {
            let n = s.len();
            s.add(b"12345", o.set);
            s.add(b"member", o.set);
            assert!(s.remove(b"member"));
            assert!(s.len() >= n);
            assert_eq!(s.members().len(), s.len());
        }
        Value::ZSet(z) => {
            let (n, had) = (z.len(), z.score(b"zz new").is_some());
            z.set(b"zz new", 1.5, o.zset);
            assert!(z.remove(b"zz new"));
            assert_eq!(z.len(), n - had as usize);
            let mut prev: Option<(f64, Vec<u8>)> = None;
            z.visit(0, false, |s, m| {
                if let Some((ps, pm)) = &prev {
                    assert_eq!(cmp_key(*ps, pm, s, m), Ordering::Less, "sorted set out of order");
                }
                prev = Some((s, m.to_vec()));
                true
            });
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&ty, _)) = rest.split_first() else { return };
    let o = opts(flags);
    let mut pos = 1;
    let Ok(mut v) = load_value(ty, rest, &mut pos, &o) else { return };
    assert!(pos <= rest.len());
    let saved = dump(&v);
    let mut p = 1;
    let again = load_value(saved[0], &saved, &mut p, &o).expect("a saved value loads");
    assert_eq!(p, saved.len(), "a saved value is read to its end");
    assert_eq!(contents(&again).1, contents(&v).1, "contents changed by save and load");
    let enc = again.encoding_name();
    if enc != "hashtable" && enc != "quicklist" {
        assert_eq!(dump(&again), saved, "save is not a fixed point");
    }
    edit(&mut v, &o);
    let empty = match &v {
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        _ => false,
    };
    let saved = dump(&v);
    let mut p = 1;
    let want = if empty { Err(LoadError::Empty) } else { Ok(()) };
    assert_eq!(load_value(saved[0], &saved, &mut p, &o).map(|_| ()), want, "an edited value does not load back");
});
