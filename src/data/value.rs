//! `Value`: what a key holds. One variant per Redis type; each type's representation lives
//! in `data::<type>`, its commands in `types::<type>`. Collections are boxed so a `Value`
//! stays 24 bytes and a string key stays one small allocation.
//!
//! Strings have two in-memory forms, matching Redis's encodings: an `i64` (OBJECT ENCODING
//! "int", set when a short string parses as an integer) and bytes ("embstr" up to 44 bytes
//! when created whole, "raw" otherwise or once modified in place by APPEND/SETRANGE).

use super::bytes::CompactBytes;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::stream::Stream;
use super::zset::ZSet;

/// Longest string Redis creates with the embstr encoding (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_LIMIT: usize = 44;

pub enum Value {
    Int(i64),
    /// Bytes, with Redis's embstr/raw distinction inside (`CompactBytes::is_raw`).
    Str(CompactBytes),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// What to prefetch for a lookup of `member` in this collection a little later (see
    /// `Dict::prefetch_addrs`); None for strings, lists and compact encodings.
    pub fn member_prefetch_addrs(&self, member: &[u8], entry: bool) -> Option<[*const u8; 2]> {
        match self {
            Value::Hash(h) => h.prefetch_addrs(member, entry),
            Value::Set(s) => s.prefetch_addrs(member, entry),
            Value::ZSet(z) => z.prefetch_addrs(member, entry),
            _ => None,
        }
    }

    /// A string value as SET stores it: integer-looking strings of up to 20 bytes become
    /// "int", others embstr/raw by length (Redis's tryObjectEncoding).
    #[inline]
    pub fn from_string(s: &[u8]) -> Value {
        if s.len() <= 20 {
            if let Some(n) = crate::util::number::parse_i64(s) {
                return Value::Int(n);
            }
        }
        Value::Str(CompactBytes::with_kind(s, s.len() > EMBSTR_LIMIT))
    }

    /// A string built by an in-place modification (APPEND, SETRANGE): always "raw".
    pub fn raw_string(v: Vec<u8>) -> Value {
        Value::Str(CompactBytes::from_vec_kind(v, true))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(b) if b.is_raw() => "raw",
            Value::Str(_) => "embstr",
            Value::List(l) => l.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(x) => x.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(x) => x.encoding_name(),
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_))
    }

    /// Approximate bytes owned outside the table entry (MEMORY USAGE): the elements of a
    /// big hash, set or sorted set are sized from `samples` of them (0 = all), as Redis's
    /// objectComputeSize does.
    pub fn heap_size(&self, samples: usize) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(bytes) => bytes.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(samples),
            Value::Set(x) => x.heap_size(samples),
            Value::ZSet(z) => z.heap_size(samples),
            Value::Stream(x) => x.heap_size(),
        }
    }

    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Int(n) => Value::Int(*n),
            Value::Str(bytes) => Value::Str(bytes.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::Set(x) => Value::Set(x.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
            Value::Stream(x) => Value::Stream(x.clone()),
        }
    }
}

/// A collection type held by one `Value` variant, so a key can be asked for "as a T"
/// generically (`types::read` and friends answer WRONGTYPE when it is not).
pub trait Kind: Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self: Box<Self>) -> Value;
}

macro_rules! kind {
    ($t:ty, $variant:ident) => {
        impl Kind for $t {
            #[inline]
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }

            #[inline]
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }

            #[inline]
            fn into_value(self: Box<Self>) -> Value {
                Value::$variant(self)
            }
        }
    };
}

kind!(List, List);
kind!(Hash, Hash);
kind!(Set, Set);
kind!(ZSet, ZSet);
kind!(Stream, Stream);
