//! Persistence: RDB files, the AOF, and DUMP/RESTORE payloads (later replication's RDB
//! transfer too). It sits beside `command`, on top of `keyspace` and `data`: it reads and
//! writes values through the representations in `data` alone, never through a command.
//!
//! For now it holds the RDB encoding primitives (`rdb`): lengths, strings (integer-encoded
//! and LZF-compressed as Redis writes them) and the DUMP payload footer, used by FUNCTION
//! DUMP/RESTORE, and the stream encoding (`stream`, RDB type 21).
pub mod rdb;
pub mod stream;
