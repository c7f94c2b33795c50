//! The representations: what a key's value is in memory, apart from the commands that use
//! it (Redis's object.c, dict.c, quicklist.c, listpack.c, intset.c, t_zset.c's skiplist
//! half, as distinct from the t_*.c command files).
//!
//! This layer knows no reply, client, command, configuration or keyspace: it imports
//! nothing from `command`, `server`, `resp`, `net`, `keyspace` or `types` (only `util`),
//! so RDB, DUMP, AOF rewrite and replication can read and write every value through it
//! alone. Settings a representation depends on (the `*-max-listpack-*` thresholds) are
//! passed in by the caller; errors are plain values the command layer turns into replies.
//! `tests/layers.rs` checks the rule.
//!
//! * `bytes`: `CompactBytes`, a byte string stored inline up to 22 bytes.
//! * `dict`: `Dict`, the chained, incrementally rehashed table of the keyspace and of the
//!   large hashes, sets and sorted sets; `key_hash`, the process's seeded hash.
//! * `value`: `Value`, what a key holds (one variant per type).
//! * `list`, `hash`, `set`, `zset`: the collection types and their encodings.
//! * `stream`: stream entries and consumer groups.
//! * `listpack`, `intset`: Redis's byte formats (RDB, DUMP), read and written byte for byte.
//! * `ziplist`: the older ziplist and zipmap formats, read-only (old RDB files and payloads).

pub mod bytes;
pub mod dict;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod lazyfree;
pub mod list;
pub mod listpack;
pub mod set;
pub mod stream;
pub mod value;
pub mod ziplist;
pub mod zset;
