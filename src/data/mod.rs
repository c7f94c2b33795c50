//! The representation layer: how values are laid out in memory and in Redis's byte formats
//! (listpack, intset), apart from any command. It imports nothing from `command`, `server`,
//! `resp`, `net`, `keyspace` or `types`, so that RDB, DUMP, AOF rewrite and replication can
//! read and write every value through it alone.
pub mod intset;
pub mod listpack;
