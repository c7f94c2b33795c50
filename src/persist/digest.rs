//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a dataset's (a value's) SHA-1 fingerprint, computed
//! as Redis 7.2's debug.c computes it (computeDatasetDigest, xorObjectDigest), so that
//! cinnabar and Redis holding the same data print the same 40 hex digits. The persistence
//! tests compare the two servers (and one server before and after a save, a reload, an AOF
//! replay) with it.
//!
//! Two operations on a 20-byte digest: `xor_in(d, bytes)` is `d ^= SHA1(bytes)`, which
//! does not depend on the order things are added in; `mix_in(d, bytes)` is `xor_in` then
//! `d = SHA1(d)`, which does. Hence:
//!
//! * the dataset: for each non-empty database j (counting keys not yet reaped after their
//!   expiry, as Redis does), `mix_in(final, j as 4 big-endian bytes)`, then for each key
//!   `xor_in(final, k)` where k starts at zero, `mix_in(k, key)`, then the value mixed into
//!   k: keys are unordered, databases are not;
//! * a value: `mix_in` of Redis's type number (string 0, list 1, set 2, zset 3, hash 4,
//!   stream 6) as 4 big-endian bytes, then by type: a string `mix_in` of its bytes (an
//!   integer as its decimal text); a list `mix_in` of each element head to tail; a set
//!   `xor_in` of each member; a hash `xor_in` of each pair's digest (zero, `mix_in` field,
//!   `mix_in` value); a sorted set the same with member and score, the score as
//!   `fpconv_dtoa` writes it ("0.1", "1e+17", "-0" in a skiplist but "0" in a listpack,
//!   which reads a negative zero back as zero); a stream, for each entry in id order,
//!   `mix_in` of "ms.seq" then of each field and value (consumer groups do not count); last,
//!   a key with an expiry time gets `xor_in(d, "!!expire!!")`;
//! * DIGEST-VALUE is the value's digest alone, from zero (no key mixed in), and zero for a
//!   missing key.
//!
//! Every element is hashed where it lies (integers formatted on the stack), so a digest
//! allocates nothing per key. The encodings do not enter a digest: a listpack and a
//! hashtable hash with the same pairs have the same one, in either server.

use crate::data::dict::{Entry, NO_EXPIRE};
use crate::data::listpack;
use crate::data::set::with_bytes;
use crate::data::stream::StreamId;
use crate::data::value::Value;
use crate::keyspace::Access;
use crate::util::number::write_fpconv_dtoa;
use crate::util::sha1::sha1;

pub type Digest = [u8; 20];

/// Redis's object type numbers (server.h's OBJ_*), which start every value's digest.
mod obj {
    pub const STRING: u32 = 0;
    pub const LIST: u32 = 1;
    pub const SET: u32 = 2;
    pub const ZSET: u32 = 3;
    pub const HASH: u32 = 4;
    pub const STREAM: u32 = 6;
}

/// `d ^= SHA1(bytes)` (debug.c's xorDigest).
fn xor_in(d: &mut Digest, bytes: &[u8]) {
    for (x, y) in d.iter_mut().zip(sha1(bytes)) {
        *x ^= y;
    }
}

/// `xor_in`, then `d = SHA1(d)` (debug.c's mixDigest).
fn mix_in(d: &mut Digest, bytes: &[u8]) {
    xor_in(d, bytes);
    *d = sha1(d);
}

fn mix_int(d: &mut Digest, n: i64) {
    mix_in(d, itoa::Buffer::new().format(n).as_bytes());
}

/// Mix `v`'s digest into `d` (xorObjectDigest); `expires`: the key has an expiry time.
pub fn mix_value(d: &mut Digest, v: &Value, expires: bool) {
    match v {
        Value::Int(n) => {
            mix_in(d, &obj::STRING.to_be_bytes());
            mix_int(d, *n);
        }
        Value::Str(bytes) => {
            mix_in(d, &obj::STRING.to_be_bytes());
            mix_in(d, bytes);
        }
        Value::List(l) => {
            mix_in(d, &obj::LIST.to_be_bytes());
            for e in l.iter() {
                match e {
                    listpack::Entry::Int(n) => mix_int(d, n),
                    listpack::Entry::Str(s) => mix_in(d, s),
                }
            }
        }
        Value::Set(s) => {
            mix_in(d, &obj::SET.to_be_bytes());
            s.for_each(|e| with_bytes(e, |t| xor_in(d, t)));
        }
        Value::Hash(h) => {
            mix_in(d, &obj::HASH.to_be_bytes());
            h.for_each(|field, value| {
                let mut pair = Digest::default();
                with_bytes(field, |t| mix_in(&mut pair, t));
                with_bytes(value, |t| mix_in(&mut pair, t));
                xor_in(d, &pair);
            });
        }
        Value::ZSet(z) => {
            mix_in(d, &obj::ZSET.to_be_bytes());
            let mut score = Vec::with_capacity(32);
            z.visit(0, false, |s, member| {
                let mut pair = Digest::default();
                mix_in(&mut pair, member);
                score.clear();
                write_fpconv_dtoa(s, &mut score);
                mix_in(&mut pair, &score);
                xor_in(d, &pair);
                true
            });
        }
        Value::Stream(s) => {
            mix_in(d, &obj::STREAM.to_be_bytes());
            let mut id = Vec::with_capacity(42);
            s.visit(StreamId::MIN, StreamId::MAX, false, |at, fields| {
                // streamID printed as "%U.%U", not as XADD's "ms-seq".
                id.clear();
                id.extend_from_slice(itoa::Buffer::new().format(at.ms).as_bytes());
                id.push(b'.');
                id.extend_from_slice(itoa::Buffer::new().format(at.seq).as_bytes());
                mix_in(d, &id);
                for f in fields {
                    mix_in(d, f);
                }
                true
            });
        }
    }
    if expires {
        xor_in(d, b"!!expire!!");
    }
}

/// DEBUG DIGEST-VALUE of one key's value.
pub fn value_digest(v: &Value, expires: bool) -> Digest {
    let mut d = Digest::default();
    mix_value(&mut d, v, expires);
    d
}

/// The digest of one key and its value, as the dataset's digest adds it.
fn entry_digest(e: &Entry) -> Digest {
    let mut d = Digest::default();
    mix_in(&mut d, e.key());
    mix_value(&mut d, &e.value, e.expire_at_ms != NO_EXPIRE);
    d
}

/// DEBUG DIGEST of every database `ks` can reach: zero when all are empty. The caller holds
/// the keyspace exclusively (DEBUG does), so the digest is of one point in time.
pub fn dataset_digest(ks: &mut Access) -> Digest {
    let mut fin = Digest::default();
    let shards = ks.keyspace().shards_per_db();
    for db in 0..ks.keyspace().dbs.len() {
        if (0..shards).all(|s| ks.with_shard(db, s, |sh| sh.dict.is_empty())) {
            continue;
        }
        mix_in(&mut fin, &(db as u32).to_be_bytes());
        for s in 0..shards {
            ks.with_shard(db, s, |sh| sh.dict.for_each(|e| xor_in(&mut fin, &entry_digest(e))));
        }
    }
    fin
}

#[cfg(test)]
mod tests;
