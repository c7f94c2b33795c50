//! Sets (Redis's t_set.c): representation and commands.
//!
//! Representation. Three encodings, reported by OBJECT ENCODING with Redis 7.2's names and
//! switched at the same thresholds and by the same rules as Redis 7.2 (t_set.c's
//! setTypeCreate / setTypeAddAux / setTypeMaybeConvert), so the encoding a client observes
//! after any sequence of commands is Redis's:
//!
//! * "intset": every member is an integer (canonical decimal) and there are at most
//!   `set-max-intset-entries` of them: a sorted array of little-endian integers, all of the
//!   width (2, 4 or 8 bytes) the largest magnitude needs, in one exactly sized allocation.
//!   Membership is a binary search; iteration is ascending order, as in Redis.
//! * "listpack": at most `set-max-listpack-entries` members of at most
//!   `set-max-listpack-value` bytes: the same flat tagged buffer as small hashes
//!   (`types::hash::Packed`: integers in binary, short strings with a one-byte header, in
//!   insertion order). Lookups are linear over a buffer of a few hundred bytes.
//! * "hashtable": the keyspace's own chained table (`data::dict::Dict`) of members
//!   held as `CompactBytes` (inline up to 22 bytes), so a typical member is one 32-byte
//!   node plus an 8-byte bucket pointer, against Redis's dictEntry + sds (about 64 bytes
//!   plus the bucket). The table gives SSCAN the SCAN guarantee (reverse-binary cursor
//!   across incremental rehashing) and bucket access for uniform random members.
//!
//! Random members (SRANDMEMBER, SPOP) are uniform; see `types::hash::random_entry` and
//! `Dict::sample`.
//!
//! Multi-key commands (SINTER, SUNIONSTORE, SDIFF ...) have every shard they touch locked
//! by dispatch. To read several sets at once through the keyspace's `&mut` lookups, the
//! values are lifted out of their entries (a placeholder stays, TTL and clock untouched)
//! and put back before the command returns; nothing else can observe the gap.

use rand::Rng;

use crate::command::args::int;
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::dict::{Dict, Keyed};
use crate::data::value::Value;
use crate::keyspace::key_hash;
use crate::keyspace::SetExpire;
use crate::resp::write::ReplyWriter;
use crate::server::notify;
use crate::server::TypeLimits;
use crate::types::generic::parse_cursor;
use crate::types::hash::{
    as_canonical_int, distinct_draws, distinct_indices, empty_scan, parse_scan_opts, pattern_ok, random_entry,
    ChainBound, Elem, Packed, Probe, MAX_RANDOM_REPLY,
};

// ------------------------------------------------------------------ intset

/// Sorted integers of one width (2, 4 or 8 bytes, little endian), exactly sized.
#[derive(Clone)]
pub struct IntSet {
    width: u8,
    data: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet { width: 2, data: Box::default() }
    }
}

fn width_for(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.data[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    fn rebuild(&self, width: u8, insert: Option<(usize, i64)>, skip: Option<usize>) -> IntSet {
        let n = self.len() + insert.is_some() as usize - skip.is_some() as usize;
        let mut v = Vec::with_capacity(n * width as usize);
        let put = |v: &mut Vec<u8>, x: i64| v.extend_from_slice(&x.to_le_bytes()[..width as usize]);
        for i in 0..=self.len() {
            if let Some((at, x)) = insert {
                if at == i {
                    put(&mut v, x);
                }
            }
            if i < self.len() && skip != Some(i) {
                put(&mut v, self.get(i));
            }
        }
        IntSet { width, data: v.into_boxed_slice() }
    }

    pub fn insert(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                let width = self.width.max(width_for(v));
                *self = self.rebuild(width, Some((at, v)), None);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(at) => {
                *self = self.rebuild(self.width, None, Some(at));
                true
            }
            Err(_) => false,
        }
    }

    /// Remove the members at sorted positions `idx`.
    fn remove_at(&mut self, idx: &[usize]) {
        let w = self.width as usize;
        let mut v = Vec::with_capacity(self.data.len() - idx.len() * w);
        let mut k = 0;
        for i in 0..self.len() {
            if k < idx.len() && idx[k] == i {
                k += 1;
                continue;
            }
            v.extend_from_slice(&self.data[i * w..i * w + w]);
        }
        self.data = v.into_boxed_slice();
    }
}

// ------------------------------------------------------------------ representation

/// A member of a table-encoded set.
#[derive(Clone)]
pub struct Member(CompactBytes);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Clone)]
pub struct SetTable {
    dict: Dict<Member>,
    bound: ChainBound,
}

#[derive(Clone)]
pub enum Set {
    Ints(IntSet),
    Packed(Packed),
    Table(Box<SetTable>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// The set thresholds, read once per command.
#[derive(Clone, Copy)]
pub struct SetLimits {
    pub intset_entries: usize,
    pub listpack_entries: usize,
    pub listpack_value: usize,
}

impl SetLimits {
    pub fn of(ctx: &Ctx) -> SetLimits {
        let l = &ctx.srv.limits;
        let get = |a| TypeLimits::get(a).max(0) as usize;
        SetLimits {
            // Redis caps intsets at 2^30 entries whatever the configuration says.
            intset_entries: get(&l.set_max_intset_entries).min(1 << 30),
            listpack_entries: get(&l.set_max_listpack_entries),
            listpack_value: get(&l.set_max_listpack_value),
        }
    }
}

const PACKED_MAX_BYTES: usize = 1 << 30;

/// Run `f` with the string form of `e` (integers formatted on the stack).
#[inline]
fn with_bytes<R>(e: Elem, f: impl FnOnce(&[u8]) -> R) -> R {
    match e {
        Elem::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        Elem::Str(s) => f(s),
    }
}

fn digits(n: i64) -> usize {
    itoa::Buffer::new().format(n).len()
}

impl Set {
    /// `Dict::prefetch_key_addrs` of `member` when this set is a big table.
    pub fn prefetch_addrs(&self, member: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        match self {
            Set::Table(t) => t.dict.prefetch_key_addrs(member, entry),
            _ => None,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Packed(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(i) => i.data.len(),
            Set::Packed(p) => p.bytes(),
            Set::Table(t) => {
                let mut n = t.dict.bucket_bytes() + t.dict.len() * (std::mem::size_of::<Member>() + 8);
                t.dict.for_each(|m| n += m.0.heap_size());
                n
            }
        }
    }

    /// setTypeCreate: the encoding a new set starts in, from its first member and the
    /// number of members about to be added.
    pub fn create(first: &[u8], size_hint: usize, lim: SetLimits) -> Set {
        if as_canonical_int(first).is_some() && size_hint <= lim.intset_entries {
            Set::Ints(IntSet::default())
        } else if size_hint <= lim.listpack_entries {
            Set::Packed(Packed::default())
        } else {
            Set::Table(Box::new(SetTable { dict: table_with(size_hint), bound: ChainBound::default() }))
        }
    }

    /// setTypeMaybeConvert: go to the table at once when `size_hint` members are coming
    /// and the compact encoding could not hold them.
    pub fn maybe_convert(&mut self, size_hint: usize, lim: SetLimits) {
        let big = match self {
            Set::Packed(_) => size_hint > lim.listpack_entries,
            Set::Ints(_) => size_hint > lim.intset_entries,
            Set::Table(_) => false,
        };
        if big {
            self.convert_to_table(size_hint);
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(i) => i.len(),
            Set::Packed(p) => p.count(),
            Set::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Set::Ints(i) => i.is_empty(),
            Set::Packed(p) => p.is_empty(),
            Set::Table(t) => t.dict.is_empty(),
        }
    }

    /// Visit every member in the encoding's order.
    pub fn for_each(&self, mut f: impl FnMut(Elem)) {
        match self {
            Set::Ints(i) => i.iter().for_each(|n| f(Elem::Int(n))),
            Set::Packed(p) => p.iter().for_each(|(e, _, _)| f(e)),
            Set::Table(t) => t.dict.for_each(|m| f(Elem::Str(&m.0))),
        }
    }

    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|e| v.push(e.bytes().into_owned()));
        v
    }

    pub fn contains(&self, p: &Probe) -> bool {
        match self {
            Set::Ints(i) => p.int.is_some_and(|n| i.contains(n)),
            Set::Packed(pk) => pk.find(p, 1).is_some(),
            Set::Table(t) => t.dict.get(key_hash(p.bytes), p.bytes).is_some(),
        }
    }

    pub fn contains_elem(&self, e: Elem) -> bool {
        match (self, e) {
            (Set::Ints(i), Elem::Int(n)) => i.contains(n),
            (Set::Ints(_), Elem::Str(s)) => as_canonical_int(s).is_some_and(|n| self.contains_elem(Elem::Int(n))),
            _ => with_bytes(e, |s| self.contains(&Probe::new(s))),
        }
    }

    pub fn convert_to_table(&mut self, cap: usize) {
        if let Set::Table(_) = self {
            return;
        }
        let mut dict = table_with(cap.max(self.len()));
        self.for_each(|e| {
            let m = CompactBytes::new(&e.bytes());
            dict.insert_new(key_hash(&m), Member(m));
        });
        *self = Set::Table(Box::new(SetTable { dict, bound: ChainBound::default() }));
    }

    fn convert_to_packed(&mut self) {
        let mut p = Packed::default();
        if let Set::Ints(i) = self {
            for n in i.iter() {
                p.push_int(n);
            }
            *self = Set::Packed(p);
        }
    }

    /// maybeConvertToIntset: every member is known to be an integer.
    fn maybe_to_intset(&mut self, lim: SetLimits) {
        if matches!(self, Set::Ints(_)) || self.len() > lim.intset_entries {
            return;
        }
        let mut is = IntSet::default();
        let mut ok = true;
        self.for_each(|e| match e.as_int() {
            Some(n) => {
                is.insert(n);
            }
            None => ok = false,
        });
        if ok {
            *self = Set::Ints(is);
        }
    }

    /// setTypeAddAux: add `m`, converting as Redis 7.2 does. True if it was new.
    pub fn add(&mut self, m: &[u8], lim: SetLimits) -> bool {
        match self {
            Set::Table(t) => {
                let h = key_hash(m);
                if t.dict.get(h, m).is_some() {
                    return false;
                }
                t.dict.insert_new(h, Member(CompactBytes::new(m)));
                true
            }
            Set::Packed(p) => {
                if p.find(&Probe::new(m), 1).is_some() {
                    return false;
                }
                if p.count() < lim.listpack_entries
                    && m.len() <= lim.listpack_value
                    && p.bytes() + m.len() < PACKED_MAX_BYTES
                {
                    p.push(&[m]);
                } else {
                    let n = p.count();
                    self.convert_to_table(n + 1);
                    self.add(m, lim);
                }
                true
            }
            Set::Ints(is) => {
                if let Some(n) = as_canonical_int(m) {
                    if !is.insert(n) {
                        return false;
                    }
                    if is.len() > lim.intset_entries {
                        self.convert_to_table(0);
                    }
                    return true;
                }
                let n = is.len();
                let maxelelen = if n == 0 { 0 } else { digits(is.get(0)).max(digits(is.get(n - 1))) };
                if n < lim.listpack_entries && m.len() <= lim.listpack_value && maxelelen <= lim.listpack_value {
                    self.convert_to_packed();
                } else {
                    self.convert_to_table(n + 1);
                }
                self.add(m, lim)
            }
        }
    }

    fn add_elem(&mut self, e: Elem, lim: SetLimits) -> bool {
        match (&mut *self, e) {
            (Set::Ints(is), Elem::Int(n)) => {
                if !is.insert(n) {
                    return false;
                }
                if is.len() > lim.intset_entries {
                    self.convert_to_table(0);
                }
                true
            }
            _ => with_bytes(e, |s| self.add(s, lim)),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(i) => as_canonical_int(m).is_some_and(|n| i.remove(n)),
            Set::Packed(p) => match p.find(&Probe::new(m), 1) {
                Some((_, s, e)) => {
                    p.remove_ranges(&[(s, e)]);
                    true
                }
                None => false,
            },
            Set::Table(t) => t.dict.remove(key_hash(m), m).is_some(),
        }
    }

    fn remove_elem(&mut self, e: Elem) -> bool {
        match (&mut *self, e) {
            (Set::Ints(i), Elem::Int(n)) => i.remove(n),
            _ => with_bytes(e, |s| self.remove(s)),
        }
    }

    /// A uniformly random member.
    pub fn random_member(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        match self {
            Set::Ints(i) => (!i.is_empty()).then(|| {
                let n = i.get(rng.gen_range(0..i.len()));
                itoa::Buffer::new().format(n).as_bytes().to_vec()
            }),
            Set::Packed(p) => {
                let n = p.count();
                if n == 0 {
                    return None;
                }
                p.iter().nth(rng.gen_range(0..n)).map(|(e, _, _)| e.bytes().into_owned())
            }
            Set::Table(t) => {
                let SetTable { dict, bound } = &mut **t;
                random_entry(dict, bound, rng).map(|m| m.0.to_vec())
            }
        }
    }

    /// Remove and return a uniformly random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        let m = self.random_member(rng)?;
        self.remove(&m);
        if let Set::Table(t) = self {
            // Keep the table at least half full while popping: a uniform draw probes about
            // max-window / (16 x fill) windows (`Dict::sample`).
            t.dict.shrink_below(2);
        }
        Some(m)
    }

    /// Remove the members at positions `idx` (sorted) of a compact encoding, returning them.
    fn take_positions(&mut self, idx: &[usize]) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(idx.len());
        match self {
            Set::Ints(i) => {
                out.extend(idx.iter().map(|&k| itoa::Buffer::new().format(i.get(k)).as_bytes().to_vec()));
                i.remove_at(idx);
            }
            Set::Packed(p) => {
                let mut ranges = Vec::with_capacity(idx.len());
                let mut k = 0;
                for (n, (e, s, t)) in p.iter().enumerate() {
                    if k < idx.len() && idx[k] == n {
                        out.push(e.bytes().into_owned());
                        ranges.push((s, t));
                        k += 1;
                    }
                }
                p.remove_ranges(&ranges);
            }
            Set::Table(_) => {}
        }
        out
    }
}

fn table_with(cap: usize) -> Dict<Member> {
    let mut d = Dict::new_sampled(key_hash);
    d.reserve_empty(cap);
    d
}

// ------------------------------------------------------------------ lookups

fn set_of(v: &mut Value) -> Result<&mut Set, Error> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(err::WRONGTYPE),
    }
}

/// The set at `key` for reading: None if missing, WRONGTYPE if another type.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Set>, Error> {
    match ctx.ks.get(key) {
        None => Ok(None),
        Some(e) => set_of(&mut e.value).map(Some),
    }
}

fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Set>, Error> {
    match ctx.ks.get_mut(key) {
        None => Ok(None),
        Some(e) => set_of(&mut e.value).map(Some),
    }
}

/// Sets lifted out of the keyspace for a multi-key command (see the module comment).
struct Lifted<'k> {
    /// For each requested key: index into `held`, or None if the key does not exist.
    slots: Vec<Option<usize>>,
    held: Vec<(&'k [u8], Box<Set>)>,
}

impl<'k> Lifted<'k> {
    fn take(ctx: &mut Ctx, keys: &[&'k [u8]]) -> Result<Lifted<'k>, Error> {
        // Type-check everything first (Redis stops at the first wrong type).
        let mut exists = Vec::with_capacity(keys.len());
        for k in keys {
            exists.push(match ctx.ks.get(k) {
                None => false,
                Some(e) => {
                    set_of(&mut e.value)?;
                    true
                }
            });
        }
        let mut held: Vec<(&[u8], Box<Set>)> = Vec::new();
        let mut slots = Vec::with_capacity(keys.len());
        for (k, there) in keys.iter().zip(exists) {
            if !there {
                slots.push(None);
                continue;
            }
            if let Some(i) = held.iter().position(|(h, _)| h == k) {
                slots.push(Some(i));
                continue;
            }
            let Some(e) = ctx.ks.peek(k) else {
                slots.push(None);
                continue;
            };
            match std::mem::replace(&mut e.value, Value::Int(0)) {
                Value::Set(s) => {
                    held.push((k, s));
                    slots.push(Some(held.len() - 1));
                }
                other => {
                    e.value = other;
                    slots.push(None);
                }
            }
        }
        Ok(Lifted { slots, held })
    }

    fn get(&self, i: usize) -> Option<&Set> {
        self.slots[i].map(|h| &*self.held[h].1)
    }

    fn restore(self, ctx: &mut Ctx) {
        for (k, s) in self.held {
            if let Some(e) = ctx.ks.peek(k) {
                e.value = Value::Set(s);
            }
        }
    }
}

// ------------------------------------------------------------------ single-key commands

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let lim = SetLimits::of(ctx);
    let args = ctx.args;
    let (key, members) = (args[1], &args[2..]);
    let mut added = 0;
    match write(ctx, key)? {
        Some(s) => {
            s.maybe_convert(members.len(), lim);
            for m in members {
                added += s.add(m, lim) as i64;
            }
        }
        None => {
            let mut s = Set::create(members[0], members.len(), lim);
            for m in members {
                added += s.add(m, lim) as i64;
            }
            ctx.ks.set(key, Value::Set(Box::new(s)), SetExpire::Clear);
        }
    }
    ctx.ks.mark_dirty(added as u64);
    if added > 0 {
        notify::event(ctx, notify::SET, "sadd", key);
    }
    ctx.out.int(added);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let (mut removed, mut empty) = (0, false);
    if let Some(s) = write(ctx, key)? {
        for m in &args[2..] {
            if s.remove(m) {
                removed += 1;
                if s.is_empty() {
                    empty = true;
                    break;
                }
            }
        }
    }
    if removed > 0 {
        notify::event(ctx, notify::SET, "srem", key);
    }
    if empty {
        notify::delete(ctx, key);
    }
    ctx.ks.mark_dirty(removed as u64);
    ctx.out.int(removed);
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let lim = SetLimits::of(ctx);
    let (src, dst, m) = (ctx.args[1], ctx.args[2], ctx.args[3]);
    if ctx.ks.get_mut(src).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    write(ctx, src)?;
    write(ctx, dst)?;
    if src == dst {
        let there = write(ctx, src)?.is_some_and(|s| s.contains(&Probe::new(m)));
        ctx.out.int(there as i64);
        return Ok(());
    }
    let (removed, empty) = match write(ctx, src)? {
        Some(s) => (s.remove(m), s.is_empty()),
        None => (false, false),
    };
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    notify::event(ctx, notify::SET, "srem", src);
    if empty {
        notify::delete(ctx, src);
    }
    ctx.ks.mark_dirty(1);
    let added = match write(ctx, dst)? {
        Some(s) => s.add(m, lim),
        None => {
            let mut s = Set::create(m, 1, lim);
            s.add(m, lim);
            ctx.ks.set(dst, Value::Set(Box::new(s)), SetExpire::Clear);
            true
        }
    };
    if added {
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::SET, "sadd", dst);
    } else {
        ctx.ks.unchanged(dst);
    }
    ctx.out.int(1);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let m = ctx.args[2];
    let n = read(ctx, ctx.args[1])?.is_some_and(|s| s.contains(&Probe::new(m)));
    ctx.out.int(n as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let Ctx { ks, out, .. } = ctx;
    let set = match ks.get(args[1]) {
        None => None,
        Some(e) => Some(&*set_of(&mut e.value)?),
    };
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(set.is_some_and(|s| s.contains(&Probe::new(m))) as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = read(ctx, ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// Reply with every member of `s` as a RESP3 set (RESP2 array), in the encoding's order.
fn reply_all(out: &mut ReplyWriter, s: &Set) {
    out.set(s.len());
    s.for_each(|e| e.reply(out));
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let key = args[1];
    let mut rng = crate::util::rng::fast();
    if args.len() == 2 {
        let (m, empty) = match write(ctx, key)? {
            None => {
                ctx.out.nil();
                return Ok(());
            }
            Some(s) => (s.pop_random(&mut rng), s.is_empty()),
        };
        notify::event(ctx, notify::SET, "spop", key);
        if empty {
            notify::delete(ctx, key);
        }
        ctx.ks.mark_dirty(1);
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.nil(),
        }
        return Ok(());
    }
    let count = match int(args[2]) {
        Ok(n) if n >= 0 => n as u64,
        _ => return Err(err::NOT_POSITIVE),
    };
    let lim = SetLimits::of(ctx);
    let Some(s) = write(ctx, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = s.len();
    notify::event(ctx, notify::SET, "spop", key);
    let Some(s) = write(ctx, key)? else { return Ok(()) };
    if count >= size as u64 {
        // The whole set goes, replied in its own order (as SUNION of the one key would).
        let mut whole = Set::default();
        s.for_each(|e| {
            whole.add_elem(e, lim);
        });
        reply_all(ctx.out, &whole);
        notify::delete(ctx, key);
        ctx.ks.mark_dirty(size as u64);
        return Ok(());
    }
    let count = count as usize;
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * 5 > count {
        match s {
            Set::Table(_) => (0..count).filter_map(|_| s.pop_random(&mut rng)).collect(),
            _ => {
                let mut idx = distinct_indices(size, count, &mut rng);
                let mut taken = s.take_positions(&idx);
                if matches!(s, Set::Ints(_)) {
                    // Redis pops intset members one random draw at a time: random order.
                    shuffle(&mut taken, &mut rng);
                }
                idx.clear();
                taken
            }
        }
    } else {
        // Few members stay: draw those into a new set (which starts compact, as in Redis)
        // and hand the rest of the old one to the client.
        let keep = distinct_indices(size, remaining, &mut rng);
        let all = s.members();
        let mut fresh = match s {
            Set::Ints(_) => Set::Ints(IntSet::default()),
            _ => Set::Packed(Packed::default()),
        };
        let mut popped = Vec::with_capacity(count);
        let mut k = 0;
        let mut kept = Vec::with_capacity(remaining);
        for (i, m) in all.into_iter().enumerate() {
            if k < keep.len() && keep[k] == i {
                kept.push(m);
                k += 1;
            } else {
                popped.push(m);
            }
        }
        if matches!(s, Set::Table(_)) {
            shuffle(&mut kept, &mut rng);
        }
        for m in &kept {
            fresh.add(m, lim);
        }
        *s = fresh;
        popped
    };
    ctx.ks.mark_dirty(count as u64);
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn shuffle<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let key = args[1];
    let mut rng = crate::util::rng::fast();
    if args.len() == 2 {
        let m = match read(ctx, key)? {
            None => None,
            Some(s) => s.random_member(&mut rng),
        };
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.nil(),
        }
        return Ok(());
    }
    let l = int(args[2])?;
    if l == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let Ctx { ks, out, .. } = ctx;
    let s = match ks.get(key) {
        None => {
            out.array(0);
            return Ok(());
        }
        Some(e) => set_of(&mut e.value)?,
    };
    if l == 0 {
        out.array(0);
        return Ok(());
    }
    let count = l.unsigned_abs();
    if l < 0 || count == 1 {
        if count > MAX_RANDOM_REPLY {
            return Err(Error::msg("ERR value is out of range"));
        }
        out.array(count as usize);
        match s {
            Set::Table(_) => {
                for _ in 0..count {
                    if let Some(m) = s.random_member(&mut rng) {
                        out.bulk(&m);
                    }
                }
            }
            _ => {
                let all = s.members();
                for _ in 0..count {
                    out.bulk(&all[rng.gen_range(0..all.len())]);
                }
            }
        }
        return Ok(());
    }
    let size = s.len();
    if count >= size as u64 {
        out.array(size);
        s.for_each(|e| e.reply(out));
        return Ok(());
    }
    let count = count as usize;
    out.array(count);
    match s {
        Set::Packed(_) => {
            // Redis samples a listpack in its own order.
            let all = s.members();
            for i in distinct_indices(all.len(), count, &mut rng) {
                out.bulk(&all[i]);
            }
        }
        Set::Table(_) if count * 3 < size => {
            // Few of many (Redis's case 4): uniform draws, repeats dropped, instead of
            // copying the whole set. Every subset is as likely, in a random order.
            for m in distinct_draws(count, || s.random_member(&mut rng), |m| m) {
                out.bulk(&m);
            }
        }
        _ => {
            let mut all = s.members();
            let idx = distinct_indices(all.len(), count, &mut rng);
            let mut picked: Vec<Vec<u8>> = idx.iter().map(|&i| std::mem::take(&mut all[i])).collect();
            shuffle(&mut picked, &mut rng);
            for m in &picked {
                out.bulk(m);
            }
        }
    }
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_cursor(args[2])?;
    let Ctx { ks, out, .. } = ctx;
    let s = match ks.get(args[1]) {
        None => {
            empty_scan(out);
            return Ok(());
        }
        Some(e) => &*set_of(&mut e.value)?,
    };
    let opts = parse_scan_opts(&args[3..], false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = match s {
        Set::Table(t) => {
            let mut c = cursor;
            let mut budget = opts.count.saturating_mul(10);
            loop {
                c = t.dict.scan(c, |m| {
                    if pattern_ok(opts.pattern, &m.0) {
                        items.push(m.0.to_vec());
                    }
                });
                budget = budget.saturating_sub(1);
                if c == 0 || items.len() >= opts.count || budget == 0 {
                    break;
                }
            }
            c
        }
        _ => {
            s.for_each(|e| {
                let b = e.bytes();
                if pattern_ok(opts.pattern, &b) {
                    items.push(b.into_owned());
                }
            });
            0
        }
    };
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(items.iter());
    Ok(())
}

// ------------------------------------------------------------------ multi-key commands

/// Store `result` at `dst` (any previous value and TTL replaced), or delete `dst` when the
/// result is empty; reply with the result's size. Redis replies before it notifies, except
/// for an emptied destination when `delete_first`.
fn store(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str, delete_first: bool) {
    let n = result.len();
    let reply_first = !(delete_first && n == 0);
    if reply_first {
        ctx.out.int(n as i64);
    }
    if n == 0 {
        if ctx.ks.delete(dst) {
            ctx.ks.mark_dirty(1);
            notify::event(ctx, notify::GENERIC, "del", dst);
        }
        if !reply_first {
            ctx.out.int(0);
        }
    } else {
        ctx.ks.set(dst, Value::Set(Box::new(result)), SetExpire::Clear);
        ctx.ks.mark_dirty(1);
        notify::event(ctx, notify::SET, event, dst);
    }
}

/// What SINTER computes: the reply (members in the smallest set's order), a count, or a
/// set to store.
enum InterOut<'o> {
    Reply(&'o mut ReplyWriter),
    Count { limit: usize, n: usize },
    Build(Set, bool),
}

/// sinterGenericCommand over lifted sets.
fn inter(l: &Lifted, out: &mut InterOut, lim: SetLimits) {
    let n = l.slots.len();
    if l.slots.iter().any(|s| s.is_none()) {
        if let InterOut::Reply(o) = out {
            o.set(0);
        }
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| l.get(i).map_or(0, |s| s.len()));
    let first_slot = l.slots[order[0]];
    let Some(first) = l.get(order[0]) else { return };
    let others: Vec<&Set> =
        order[1..].iter().filter(|&&i| l.slots[i] != first_slot).filter_map(|&i| l.get(i)).collect();
    if let InterOut::Build(dst, _) = out {
        *dst = match first {
            Set::Ints(_) => Set::Ints(IntSet::default()),
            _ => Set::Packed(Packed::default()),
        };
    }
    let mut deferred = None;
    let mut found = 0usize;
    if let InterOut::Reply(o) = out {
        deferred = Some(o.begin_deferred(crate::resp::write::Agg::Set));
    }
    let mut stop = false;
    first.for_each(|e| {
        if stop || !others.iter().all(|s| s.contains_elem(e)) {
            return;
        }
        match out {
            InterOut::Reply(o) => {
                e.reply(o);
                found += 1;
            }
            InterOut::Count { limit, n } => {
                *n += 1;
                if *limit > 0 && *n >= *limit {
                    stop = true;
                }
            }
            InterOut::Build(dst, only_ints) => {
                if e.as_int().is_none() {
                    *only_ints = false;
                }
                dst.add_elem(e, lim);
            }
        }
    });
    match out {
        InterOut::Reply(o) => {
            if let Some(d) = deferred {
                o.end_deferred(d, found);
            }
        }
        InterOut::Build(dst, only_ints) => {
            if *only_ints && !dst.is_empty() {
                dst.maybe_to_intset(lim);
            }
        }
        InterOut::Count { .. } => {}
    }
}

pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.args[1..];
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    inter(&l, &mut InterOut::Reply(ctx.out), lim);
    l.restore(ctx);
    Ok(())
}

/// SMEMBERS key: SINTER of one key.
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let Ctx { ks, out, .. } = ctx;
    match ks.get(key) {
        None => out.set(0),
        Some(e) => reply_all(out, set_of(&mut e.value)?),
    }
    Ok(())
}

pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let (dst, keys) = (ctx.args[1], &ctx.args[2..]);
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    let mut out = InterOut::Build(Set::default(), true);
    inter(&l, &mut out, lim);
    l.restore(ctx);
    let InterOut::Build(result, _) = out else { return Ok(()) };
    // Redis's SINTERSTORE deletes an emptied destination (and notifies) before it
    // replies, unlike SUNIONSTORE / SDIFFSTORE.
    store(ctx, dst, result, "sinterstore", true);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let numkeys = match int(args[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(Error::msg("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(Error::msg("ERR Number of keys can't be greater than number of args"));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if crate::command::args::eq(args[j], "limit") && j + 1 < args.len() {
            limit = match int(args[j + 1]) {
                Ok(n) if n >= 0 => n.min(isize::MAX as i64) as usize,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, &args[2..2 + numkeys])?;
    let mut out = InterOut::Count { limit, n: 0 };
    inter(&l, &mut out, lim);
    l.restore(ctx);
    let InterOut::Count { n, .. } = out else { return Ok(()) };
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// sunionDiffGenericCommand over lifted sets: the result set, built with the encoding
/// rules of SADD starting from an intset (so its order is Redis's).
fn union_diff(l: &Lifted, op: Op, lim: SetLimits) -> Set {
    let n = l.slots.len();
    let mut dst = Set::default();
    match op {
        Op::Union => {
            for i in 0..n {
                if let Some(s) = l.get(i) {
                    s.for_each(|e| {
                        dst.add_elem(e, lim);
                    });
                }
            }
        }
        Op::Diff => {
            let Some(first) = l.get(0) else { return dst };
            let first_slot = l.slots[0];
            if (1..n).any(|i| l.slots[i] == first_slot) {
                return dst;
            }
            let others: Vec<&Set> = (1..n).filter_map(|i| l.get(i)).collect();
            let (mut one, mut two) = (0usize, 0usize);
            for i in 0..n {
                if let Some(s) = l.get(i) {
                    one += first.len();
                    two += s.len();
                }
            }
            if one / 2 <= two {
                first.for_each(|e| {
                    if !others.iter().any(|s| s.contains_elem(e)) {
                        dst.add_elem(e, lim);
                    }
                });
            } else {
                first.for_each(|e| {
                    dst.add_elem(e, lim);
                });
                for s in others {
                    if dst.is_empty() {
                        break;
                    }
                    s.for_each(|e| {
                        dst.remove_elem(e);
                    });
                }
            }
        }
    }
    dst
}

fn union_diff_cmd(ctx: &mut Ctx, op: Op, store_to: bool) -> CmdResult {
    let (dst, keys) = if store_to { (Some(ctx.args[1]), &ctx.args[2..]) } else { (None, &ctx.args[1..]) };
    let lim = SetLimits::of(ctx);
    let l = Lifted::take(ctx, keys)?;
    let result = union_diff(&l, op, lim);
    l.restore(ctx);
    match dst {
        Some(d) => store(ctx, d, result, if matches!(op, Op::Union) { "sunionstore" } else { "sdiffstore" }, false),
        None => reply_all(ctx.out, &result),
    }
    Ok(())
}

pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Union, false)
}

pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Union, true)
}

pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Diff, false)
}

pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_cmd(ctx, Op::Diff, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn lim(ints: usize, lp: usize, val: usize) -> SetLimits {
        SetLimits { intset_entries: ints, listpack_entries: lp, listpack_value: val }
    }

    fn build(members: &[&str], l: SetLimits) -> Set {
        let mut s = Set::create(members[0].as_bytes(), members.len(), l);
        for m in members {
            s.add(m.as_bytes(), l);
        }
        s
    }

    #[test]
    fn intset_widths_order_and_removal() {
        let mut i = IntSet::default();
        for v in [5, -3, 70000, i64::MIN, 0, 5] {
            i.insert(v);
        }
        assert_eq!(i.width, 8);
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 0, 5, 70000]);
        assert!(i.remove(0));
        assert!(!i.remove(0));
        assert_eq!(i.len(), 4);
        i.remove_at(&[0, 3]);
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![-3, 5]);
    }

    #[test]
    fn encodings_follow_redis_7_2_rules() {
        let l = lim(2, 3, 5);
        let mut s = build(&["1", "2"], l);
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"3", l);
        assert_eq!(s.encoding_name(), "hashtable", "intset overflow goes to the table");

        let mut s = build(&["1", "2"], l);
        s.add(b"x", l);
        assert_eq!(s.encoding_name(), "listpack");
        assert_eq!(s.members(), vec![b"1".to_vec(), b"2".to_vec(), b"x".to_vec()]);
        s.add(b"y", l);
        assert_eq!(s.encoding_name(), "hashtable");

        let s = build(&["abcde"], l);
        assert_eq!(s.encoding_name(), "listpack");
        let mut s = build(&["abcdef"], l);
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.remove(b"abcdef"));
        assert!(s.is_empty());
        assert_eq!(build(&["a", "b", "c", "d"], l).encoding_name(), "hashtable", "size hint");
        assert_eq!(build(&["1", "2", "3"], l).encoding_name(), "listpack", "size hint past intset");
    }

    #[test]
    fn membership_across_encodings() {
        let l = lim(512, 128, 64);
        for members in [vec!["1", "2", "-7"], vec!["a", "1", "b"]] {
            let mut s = build(&members, l);
            for m in &members {
                assert!(s.contains(&Probe::new(m.as_bytes())));
            }
            assert!(!s.contains(&Probe::new(b"01")));
            s.convert_to_table(0);
            for m in &members {
                assert!(s.contains(&Probe::new(m.as_bytes())));
            }
        }
    }

    #[test]
    fn pop_random_is_uniform_and_drains() {
        let l = lim(0, 0, 64);
        let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        let mut s = build(&refs, l);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut counts = std::collections::HashMap::new();
        let draws = 40_000;
        for _ in 0..draws {
            *counts.entry(s.random_member(&mut rng).unwrap()).or_insert(0usize) += 1;
        }
        let expect = draws as f64 / 40.0;
        let chi: f64 = counts.values().map(|&c| (c as f64 - expect).powi(2) / expect).sum();
        assert_eq!(counts.len(), 40);
        assert!(chi < 95.0, "chi-square {chi}"); // 39 dof, p ~ 1e-6
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = s.pop_random(&mut rng) {
            assert!(seen.insert(m));
        }
        assert_eq!(seen.len(), 40);
    }

    #[test]
    fn scan_sees_every_member_while_growing() {
        let l = lim(0, 0, 64);
        let mut s = build(&["seed"], l);
        for i in 0..300 {
            s.add(format!("stable:{i}").as_bytes(), l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let Set::Table(t) = &s else { panic!("table expected") };
            cursor = t.dict.scan(cursor, |m| {
                seen.insert(m.0.to_vec());
            });
            round += 1;
            // Grow for a while, then stop: a table that grows faster than the scan
            // advances would never let any scan finish (true of Redis too).
            if round < 50 {
                for j in 0..30 {
                    s.add(format!("new:{round}:{j}").as_bytes(), l);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..300 {
            assert!(seen.contains(format!("stable:{i}").as_bytes()));
        }
    }
}
