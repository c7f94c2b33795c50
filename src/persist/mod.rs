//! Persistence: RDB files, the AOF, and DUMP/RESTORE payloads (later replication's RDB
//! transfer too). It sits beside `command`, on top of `keyspace` and `data`: it reads and
//! writes values through the representations in `data` alone, never through a command.
//!
//! `rdb`: the RDB encoding primitives (lengths, strings, integer-encoded and LZF-compressed
//! as Redis writes them, the DUMP payload footer); `value`: a value's RDB type and payload,
//! every type; `stream`: a stream as RDB type 21; `digest`: DEBUG DIGEST; `rdbfile`: the
//! RDB file (header, aux fields, databases, checksum); `snapshot`: point-in-time snapshots
//! without fork; `propagate`: the seam every effect goes through; `aof`: the append-only
//! file.
pub mod aof;
pub mod digest;
pub mod propagate;
pub mod rdb;
pub mod rdbfile;
pub mod snapshot;
pub mod stream;
pub mod value;
