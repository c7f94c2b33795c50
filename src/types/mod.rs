//! Command handlers, one module per data type (Redis's t_*.c): parse options, call the
//! representation (`crate::data`), write replies. `generic` holds the type-agnostic key
//! commands (Redis's db.c and expire.c).

pub mod bitfield;
pub mod bitmap;
pub mod dump;
pub mod generic;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod list;
pub mod list_block;
pub mod migrate;
pub mod set;
pub mod sort;
pub mod stream;
pub mod stream_group;
pub mod string;
pub mod zset;

use crate::command::{err, Ctx, Error};
use crate::data::value::{Kind, Value};
use crate::keyspace::Access;
use crate::resp::write::ReplyWriter;
use crate::server::TypeLimits;

// One lookup of "the key as a T, or WRONGTYPE" for every type (Redis's lookupKeyRead /
// lookupKeyWrite followed by checkType), in the keyspace's two flavours: `read` (ks.get:
// counts a hit or miss, stamps the access clock) and `write` (ks.get_mut: no hit/miss
// accounting; notes an existing key as written, for WATCH and blocked clients), plus
// `write_or_create` (a missing key is created empty first).

/// The value as a `T`, or WRONGTYPE.
#[inline]
pub fn expect<T: Kind>(v: &Value) -> Result<&T, Error> {
    match T::of(v) {
        Some(x) => Ok(x),
        None => Err(err::WRONGTYPE),
    }
}

/// `expect` for a value about to be changed.
#[inline]
pub fn expect_mut<T: Kind>(v: &mut Value) -> Result<&mut T, Error> {
    match T::of_mut(v) {
        Some(x) => Ok(x),
        None => Err(err::WRONGTYPE),
    }
}

/// The `T` at `key` for reading: None if missing, WRONGTYPE if another type.
#[inline]
pub fn read<'k, T: Kind>(ks: &'k mut Access<'_>, key: &[u8]) -> Result<Option<&'k mut T>, Error> {
    match ks.get(key) {
        None => Ok(None),
        Some(e) => expect_mut(&mut e.value).map(Some),
    }
}

/// The `T` at `key` for writing (an existing key is noted as written).
#[inline]
pub fn write<'k, T: Kind>(ks: &'k mut Access<'_>, key: &[u8]) -> Result<Option<&'k mut T>, Error> {
    match ks.get_mut(key) {
        None => Ok(None),
        Some(e) => expect_mut(&mut e.value).map(Some),
    }
}

/// The `T` at `key` for writing, created empty if missing (hashTypeLookupWriteOrCreate).
#[inline]
pub fn write_or_create<'k, T: Kind + Default>(ks: &'k mut Access<'_>, key: &[u8]) -> Result<&'k mut T, Error> {
    match ks.get_mut_or_insert_with(key, || Box::<T>::default().into_value()) {
        Some(e) => expect_mut(&mut e.value),
        None => Err(err::WRONGTYPE),
    }
}

/// A representation's thresholds (the `*-max-listpack-*` family), read once per command from
/// the configuration the server caches; the representation takes them as a parameter.
/// `from_limits` serves readers without a command context (RDB and DUMP loading).
pub trait FromConfig: Sized {
    fn from_limits(l: &TypeLimits) -> Self;

    fn of(ctx: &Ctx) -> Self {
        Self::from_limits(&ctx.srv.limits)
    }
}

impl FromConfig for crate::data::list::Fill {
    fn from_limits(l: &TypeLimits) -> Self {
        crate::data::list::Fill(TypeLimits::get(&l.list_max_listpack_size))
    }
}

/// A size threshold of the configuration (a negative one reads as 0).
fn size_limit(slot: &std::sync::atomic::AtomicI64) -> usize {
    TypeLimits::get(slot).max(0) as usize
}

impl FromConfig for crate::data::hash::HashLimits {
    fn from_limits(l: &TypeLimits) -> Self {
        let (max_entries, max_value) =
            (size_limit(&l.hash_max_listpack_entries), size_limit(&l.hash_max_listpack_value));
        crate::data::hash::HashLimits { max_entries, max_value }
    }
}

impl FromConfig for crate::data::set::SetLimits {
    fn from_limits(l: &TypeLimits) -> Self {
        crate::data::set::SetLimits {
            // Redis caps intsets at 2^30 entries whatever the configuration says.
            intset_entries: size_limit(&l.set_max_intset_entries).min(1 << 30),
            listpack_entries: size_limit(&l.set_max_listpack_entries),
            listpack_value: size_limit(&l.set_max_listpack_value),
        }
    }
}

impl FromConfig for crate::data::zset::Limits {
    fn from_limits(l: &TypeLimits) -> Self {
        let (entries, value) = (size_limit(&l.zset_max_listpack_entries), size_limit(&l.zset_max_listpack_value));
        crate::data::zset::Limits { entries, value }
    }
}

impl FromConfig for crate::data::stream::NodeLimits {
    fn from_limits(l: &TypeLimits) -> Self {
        // 0 means "no limit" for both, as in Redis; the representation reads it so.
        let (max_bytes, max_entries) = (size_limit(&l.stream_node_max_bytes), size_limit(&l.stream_node_max_entries));
        crate::data::stream::NodeLimits { max_bytes, max_entries }
    }
}

/// An element of a packed encoding replied as a bulk string (integers formatted on the way).
pub trait BulkElem {
    fn reply(&self, out: &mut ReplyWriter);
}

impl BulkElem for crate::data::listpack::Entry<'_> {
    fn reply(&self, out: &mut ReplyWriter) {
        match *self {
            Self::Int(n) => out.bulk_int(n),
            Self::Str(s) => out.bulk(s),
        }
    }
}

impl BulkElem for crate::data::hash::Elem<'_> {
    fn reply(&self, out: &mut ReplyWriter) {
        match *self {
            Self::Int(n) => out.bulk_int(n),
            Self::Str(s) => out.bulk(s),
        }
    }
}
