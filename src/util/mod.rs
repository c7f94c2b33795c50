//! Pure helpers with Redis-exact semantics, shared by every layer: no I/O, no
//! keyspace, no allocation beyond their results. `glob` is Redis's
//! `stringmatchlen`; `number` is string2ll / string2d / d2string / ld2string; `counter` is a
//! per-thread statistics counter.
pub mod counter;
pub mod glob;
pub mod number;
