//! RESP: request parsing and reply encoding. Pure: no I/O, no keyspace.

pub mod parse;
pub mod write;
