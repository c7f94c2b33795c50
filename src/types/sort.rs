//! SORT and SORT_RO (Redis's sort.c): sort the elements of a list, set or sorted set,
//! optionally by weights read from other keys, and return or STORE them.
//!
//! ```text
//! SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dst]
//! ```
//!
//! What the command does, in Redis's order (every step is observable, so it is kept):
//!
//! 1. Options are parsed left to right; the last ASC/DESC, LIMIT, BY and STORE win, GET
//!    repeats. A bad LIMIT number is "value is not an integer", anything else that does
//!    not fit (LIMIT with fewer than two arguments, STORE on SORT_RO) a syntax error.
//!    These errors come before the key is even looked up.
//! 2. A BY pattern without '*' means "don't sort" (BY nosort), and that sticks even if a
//!    later BY has a '*'. A list or sorted set is then returned in its own order (DESC
//!    walks it backwards and LIMIT is applied while walking); a set in its iteration order
//!    (DESC ignored) -- except with STORE (and in scripts), where Redis sorts the set
//!    with ALPHA after all so replicas and AOF see a deterministic result.
//! 3. A missing key is an empty list; a key of another type is WRONGTYPE. A sorted set in
//!    the listpack encoding is converted to skiplist, even by SORT_RO (Redis does it so it
//!    can walk its skiplist; OBJECT ENCODING shows it).
//! 4. Weights: numeric by default (strtod over the C string: leading spaces, hex, "inf"
//!    and an empty string (0) are fine; trailing bytes, overflow, underflow to a
//!    denormal/zero and NaN are not), or ALPHA (byte order, see below). A weight that
//!    cannot be read from the pattern's key counts as 0 (numeric) or sorts first (ALPHA).
//!    Numeric ties are broken by comparing the elements themselves, so the numeric order
//!    is total and deterministic. ALPHA ties are not broken.
//! 5. "One or more scores can't be converted into double" is only reported after the
//!    whole vector was loaded (every pattern key was looked up), and nothing is stored.
//! 6. The LIMIT window of the sorted vector is replied (array of bulks and nils, in both
//!    protocols) or pushed to a new list at STORE's key (a missing GET value becomes an
//!    empty string there; an empty result deletes the key) and the count replied.
//!
//! Patterns (lookupKeyByPattern): "#" alone is the element itself. Otherwise the first
//! '*' is replaced by the element; if a "->" follows the '*' with something after it,
//! the part after "->" is a hash field and the key before it must be a hash, else the key
//! must be a string; anything else (no such key, other type, no such field, no '*' at
//! all) is "no value". Redis reads the pattern as a C string for finding '*' and "->"
//! (so a NUL byte hides what follows it) but copies the full bytes, and we reproduce that.
//!
//! ALPHA order: Redis compares with strcoll() unless STORE is given, where it uses a
//! binary comparison. Under the C / C.UTF-8 locales redis-server runs with, strcoll is
//! strcmp: byte order up to the first NUL. We implement exactly that, so two elements
//! that differ only after a NUL compare equal without STORE, as in Redis.
//!
//! Ties under ALPHA keep the order the elements were loaded in (list order, set
//! iteration order, sorted-set rank order): glibc's qsort, which Redis calls, is a stable
//! merge sort and so is ours. With BY and a LIMIT that cuts the result Redis switches to
//! its own partial quicksort, which is not stable; there the order among ALPHA ties is
//! unspecified (it differs between Redis builds too) and ours stays the stable one.
//!
//! Locking: the BY/GET keys are not known before the elements are read, so SORT and
//! SORT_RO hold the whole keyspace (`Lock::Exclusive`) and look keys up lazily.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::list::{Fill, List};
use crate::data::value::Value;
use crate::keyspace::{Access, SetExpire};
use crate::server::notify;
use crate::types::FromConfig;

pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

const CONVERSION_ERROR: &str = "ERR One or more scores can't be converted into double";

struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// A BY pattern without '*' was given (sticky, as in Redis).
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    /// Run from a script: a set's order must be deterministic, as with STORE.
    in_script: bool,
}

fn parse_options<'a>(args: &[&'a [u8]], readonly: bool, full_access: bool) -> Result<Options<'a>, Error> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        in_script: false,
    };
    let mut j = 0;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if eq(a, "asc") {
            o.desc = false;
        } else if eq(a, "desc") {
            o.desc = true;
        } else if eq(a, "alpha") {
            o.alpha = true;
        } else if eq(a, "limit") && left >= 2 {
            o.limit_start = int(args[j + 1])?;
            o.limit_count = int(args[j + 2])?;
            j += 2;
        } else if !readonly && eq(a, "store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if eq(a, "by") && left >= 1 {
            o.by = Some(args[j + 1]);
            if star_at(args[j + 1]).is_none() {
                o.dontsort = true;
            } else if !full_access {
                return Err(Error::msg("ERR BY option of SORT denied due to insufficient ACL permissions."));
            }
            j += 1;
        } else if eq(a, "get") && left >= 1 {
            if !full_access {
                return Err(Error::msg("ERR GET option of SORT denied due to insufficient ACL permissions."));
            }
            o.gets.push(args[j + 1]);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The part of `s` a C function sees: up to the first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// Where the '*' a pattern substitutes is (strchr over the C string).
fn star_at(pattern: &[u8]) -> Option<usize> {
    memchr::memchr(b'*', c_str(pattern))
}

/// "#" (as a C string): the element itself.
fn is_self_pattern(pattern: &[u8]) -> bool {
    pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&b| b == 0)
}

/// The key a pattern names for `elem`, and the hash field when it has one ("->field"
/// after the '*'); None if the pattern has no '*'.
fn substitute<'p>(pattern: &'p [u8], elem: &[u8]) -> Option<(Vec<u8>, Option<&'p [u8]>)> {
    let c = c_str(pattern);
    let star = star_at(pattern)?;
    let arrow = memchr::memmem::find(&c[star + 1..], b"->").map(|i| star + 1 + i);
    let (postfix, field) = match arrow {
        // The field must not be empty as a C string; its bytes run to the pattern's end.
        Some(f) if f + 2 < c.len() => (&pattern[star + 1..f], Some(&pattern[f + 2..])),
        _ => (&pattern[star + 1..], None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    Some((key, field))
}

/// The value `pattern` gives for `elem`: the element, a string key's value or a hash
/// field's value; None when there is none.
fn lookup<'e>(ks: &mut Access<'_>, pattern: &[u8], elem: &'e [u8]) -> Option<Cow<'e, [u8]>> {
    if is_self_pattern(pattern) {
        return Some(Cow::Borrowed(elem));
    }
    let (key, field) = substitute(pattern, elem)?;
    let db = ks.db;
    let e = ks.get_in(db, &key)?;
    let v = match (&e.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f)?.bytes().into_owned(),
        (Value::Int(n), None) => itoa::Buffer::new().format(*n).as_bytes().to_vec(),
        (Value::Str(bytes), None) => bytes.to_vec(),
        _ => return None,
    };
    Some(Cow::Owned(v))
}

/// A numeric weight as SORT reads it: strtod over the C string, which must be consumed
/// whole, without a range error (overflow, or underflow to a denormal or zero) or NaN.
/// An empty string is 0 and leading whitespace is skipped, as strtod does.
fn parse_weight(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    if let Some(n) = crate::util::number::parse_i64(s) {
        return Some(n as f64); // the same value strtod gives, without the copy
    }
    let mut small = [0u8; 64];
    let heap;
    let c: &[u8] = if s.len() < small.len() {
        small[..s.len()].copy_from_slice(s);
        &small[..=s.len()]
    } else {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        heap = v;
        &heap
    };
    let mut endp: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated with no NUL before its end; strtod reads up to it and
    // points `endp` inside `c`. errno is this thread's.
    let (v, errno) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr() as *const libc::c_char, &mut endp);
        (v, *libc::__errno_location())
    };
    let consumed = (endp as usize).wrapping_sub(c.as_ptr() as usize);
    if consumed != s.len() || errno == libc::ERANGE || v.is_nan() {
        return None;
    }
    Some(v)
}

/// Redis's LIMIT clamping: the (start, end) window, inclusive, over `len` elements; empty
/// when end < start. Huge or negative values are clamped first, so nothing overflows.
fn window(limit_start: i64, limit_count: i64, len: usize) -> (i64, i64) {
    let len = len.min(i64::MAX as usize / 4) as i64;
    let mut start = limit_start.clamp(0, len);
    let count = limit_count.clamp(-1, len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

/// The elements to sort (or, when not sorting, to output) and the window of them to
/// output. Lists and sorted sets that are not sorted are loaded only inside the window.
fn load(ks: &mut Access<'_>, key: &[u8], o: &mut Options) -> Result<(Vec<Vec<u8>>, Range<usize>), Error> {
    let e = ks.get(key);
    let value = match e {
        None => None,
        Some(e) => match &mut e.value {
            Value::List(_) | Value::Set(_) => Some(&mut e.value),
            Value::ZSet(z) => {
                z.convert_to_skiplist();
                Some(&mut e.value)
            }
            _ => return Err(err::WRONGTYPE),
        },
    };
    if o.dontsort && (o.store.is_some() || o.in_script) && matches!(value, Some(Value::Set(_))) {
        // A set has no order of its own: make what is stored deterministic.
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match &value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    };
    let (start, end) = window(o.limit_start, o.limit_count, len);
    let n = if end >= start { (end - start + 1) as usize } else { 0 };
    let start = start.max(0) as usize;
    let ranged = o.dontsort;
    let is_set = matches!(value, Some(Value::Set(_)));
    let mut elems = Vec::with_capacity(if ranged { n } else { len });
    match value {
        None => {}
        Some(Value::List(l)) if ranged => {
            let from = if o.desc { len.saturating_sub(1 + start) } else { start };
            elems.extend(l.iter_from(from, !o.desc).take(n).map(|e| e.to_vec()));
        }
        Some(Value::ZSet(z)) if ranged => {
            let from = if o.desc { len.saturating_sub(1 + start) } else { start };
            z.visit_n(from, n, o.desc, |_, m| elems.push(m.to_vec()));
        }
        Some(Value::List(l)) => elems.extend(l.iter().map(|e| e.to_vec())),
        Some(Value::Set(s)) => s.for_each(|e| elems.push(e.bytes().into_owned())),
        Some(Value::ZSet(z)) => z.visit(0, false, |_, m| {
            elems.push(m.to_vec());
            true
        }),
        Some(_) => return Err(err::WRONGTYPE),
    }
    // Lists and sorted sets not sorted were loaded inside the window already.
    let out = if ranged && !is_set { 0..elems.len() } else { start..start + n };
    Ok((elems, out))
}

struct Weighted {
    elem: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

/// Sort `elems` as the options say; None if a numeric weight was not a number (every
/// weight is still looked up first, as Redis does).
fn sort_elems(ks: &mut Access<'_>, elems: Vec<Vec<u8>>, o: &Options) -> Option<Vec<Vec<u8>>> {
    let mut bad = false;
    let mut v: Vec<Weighted> = Vec::with_capacity(elems.len());
    for elem in elems {
        let mut w = Weighted { elem, score: 0.0, by: None };
        let by_value = match o.by {
            Some(p) => lookup(ks, p, &w.elem).map(Cow::into_owned),
            None => None,
        };
        if o.alpha {
            w.by = by_value;
        } else {
            let weight = match (o.by, &by_value) {
                (None, _) => Some(parse_weight(&w.elem)),
                (Some(_), Some(b)) => Some(parse_weight(b)),
                (Some(_), None) => None, // no weight: 0
            };
            match weight {
                Some(Some(s)) => w.score = s,
                Some(None) => bad = true,
                None => {}
            }
        }
        v.push(w);
    }
    if bad {
        return None;
    }
    let (alpha, by, binary, desc) = (o.alpha, o.by.is_some(), o.store.is_some(), o.desc);
    // strcoll under the C locale is strcmp; STORE compares binary-safe.
    let text = |a: &[u8], b: &[u8]| if binary { a.cmp(b) } else { c_str(a).cmp(c_str(b)) };
    v.sort_by(|a, b| {
        let c = if !alpha {
            // No NaN here (rejected above), so this is a total order.
            a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
        } else if by {
            match (&a.by, &b.by) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => text(x, y),
            }
        } else {
            text(&a.elem, &b.elem)
        };
        if desc {
            c.reverse()
        } else {
            c
        }
    });
    Some(v.into_iter().map(|w| w.elem).collect())
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let key = ctx.args[1];
    // BY and GET read keys the key specs do not name: only for a user who may read every
    // key (Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess).
    let user = ctx.srv.acl.user_of(ctx.client);
    let full_access = user.unrestricted()
        || crate::command::dispatch::lookup(ctx.srv, ctx.args).is_some_and(|c| user.reads_all_keys(c.def, ctx.args));
    let mut o = parse_options(&ctx.args[2..], readonly, full_access)?;
    o.in_script = ctx.client.in_script;
    let (elems, out) = load(ctx.ks, key, &mut o)?;
    let elems = if o.dontsort { elems } else { sort_elems(ctx.ks, elems, &o).ok_or(Error::from(CONVERSION_ERROR))? };
    let selected = elems.get(out).unwrap_or(&[]);
    match o.store {
        None => reply(ctx, selected, &o.gets),
        Some(dst) => store(ctx, dst, selected, &o.gets),
    }
    Ok(())
}

fn reply(ctx: &mut Ctx, selected: &[Vec<u8>], gets: &[&[u8]]) {
    let per = gets.len().max(1);
    ctx.out.array(selected.len() * per);
    for elem in selected {
        if gets.is_empty() {
            ctx.out.bulk(elem);
        }
        for p in gets {
            match lookup(ctx.ks, p, elem) {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.nil(),
            }
        }
    }
}

fn store(ctx: &mut Ctx, dst: &[u8], selected: &[Vec<u8>], gets: &[&[u8]]) {
    let fill = Fill::of(ctx);
    let mut list = List::new();
    for elem in selected {
        if gets.is_empty() {
            list.push_back(elem, fill);
        }
        for p in gets {
            let v = lookup(ctx.ks, p, elem);
            list.push_back(v.as_deref().unwrap_or(b""), fill);
        }
    }
    let n = list.len();
    if n > 0 {
        ctx.ks.set(dst, Value::List(Box::new(list)), SetExpire::Clear);
        ctx.ks.mark_dirty(n as u64);
        notify::event(ctx, notify::LIST, "sortstore", dst);
    } else if ctx.ks.delete(dst) {
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::GENERIC, "del", dst);
    }
    ctx.out.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(p: &[u8], e: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        substitute(p, e).map(|(k, f)| (k, f.map(|f| f.to_vec())))
    }

    #[test]
    fn substitution() {
        assert_eq!(sub(b"w_*", b"a"), Some((b"w_a".to_vec(), None)));
        assert_eq!(sub(b"*", b"xy"), Some((b"xy".to_vec(), None)));
        assert_eq!(sub(b"nosort", b"a"), None);
        assert_eq!(sub(b"", b"a"), None);
        // only the first '*' is replaced
        assert_eq!(sub(b"a*b*c", b"X"), Some((b"aXb*c".to_vec(), None)));
        assert_eq!(sub(b"h_*->f", b"1"), Some((b"h_1".to_vec(), Some(b"f".to_vec()))));
        assert_eq!(sub(b"h_*x->f->g", b"1"), Some((b"h_1x".to_vec(), Some(b"f->g".to_vec()))));
        // "->" before the '*' is part of the key; an empty field means no field
        assert_eq!(sub(b"a->b_*", b"1"), Some((b"a->b_1".to_vec(), None)));
        assert_eq!(sub(b"h_*->", b"1"), Some((b"h_1->".to_vec(), None)));
        assert_eq!(sub(b"h_*->->x", b"1"), Some((b"h_1".to_vec(), Some(b"->x".to_vec()))));
        // a NUL hides a '*' or "->" after it, but the bytes are copied whole
        assert_eq!(sub(b"a\0*", b"1"), None);
        assert_eq!(sub(b"w_*\0->f", b"1"), Some((b"w_1\0->f".to_vec(), None)));
        assert_eq!(sub(b"w_*->\0f", b"1"), Some((b"w_1->\0f".to_vec(), None)));
        assert_eq!(sub(b"w_*->f\0g", b"1"), Some((b"w_1".to_vec(), Some(b"f\0g".to_vec()))));
    }

    #[test]
    fn self_pattern() {
        assert!(is_self_pattern(b"#"));
        assert!(is_self_pattern(b"#\0x"));
        assert!(!is_self_pattern(b"##"));
        assert!(!is_self_pattern(b""));
        assert!(!is_self_pattern(b"#*"));
    }

    #[test]
    fn weights() {
        assert_eq!(parse_weight(b"10"), Some(10.0));
        assert_eq!(parse_weight(b""), Some(0.0));
        assert_eq!(parse_weight(b" 4"), Some(4.0));
        assert_eq!(parse_weight(b"0x10"), Some(16.0));
        assert_eq!(parse_weight(b"1.5e3"), Some(1500.0));
        assert_eq!(parse_weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_weight(b"7\0junk"), Some(7.0));
        assert_eq!(parse_weight(b"4 "), None);
        assert_eq!(parse_weight(b"abc"), None);
        assert_eq!(parse_weight(b"nan"), None);
        assert_eq!(parse_weight(b"1e400"), None);
        assert_eq!(parse_weight(b"1e-310"), None);
        assert_eq!(parse_weight(b"2.2250738585072014e-308"), Some(f64::MIN_POSITIVE));
        let long = format!("{}1", "0".repeat(100));
        assert_eq!(parse_weight(long.as_bytes()), Some(1.0));
    }

    #[test]
    fn limit_window() {
        assert_eq!(window(0, -1, 5), (0, 4));
        assert_eq!(window(1, 2, 5), (1, 2));
        assert_eq!(window(-3, 2, 5), (0, 1));
        assert_eq!(window(3, 100, 5), (3, 4));
        assert_eq!(window(5, 1, 5), (4, 3));
        assert_eq!(window(i64::MAX, i64::MAX, 5), (4, 3));
        assert_eq!(window(i64::MIN, i64::MIN, 5), (0, 4));
        assert_eq!(window(0, 0, 5), (0, -1));
        assert_eq!(window(0, -1, 0), (-1, -2));
        assert_eq!(window(2, i64::MAX, 3), (2, 2));
    }
}
