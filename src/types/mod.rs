//! Data types: one module per type (representation + commands), plus `generic` for the
//! type-agnostic key commands (Redis's db.c and expire.c).

pub mod generic;
pub mod hash;
pub mod list;
pub mod list_block;
pub mod set;
pub mod sort;
pub mod string;
pub mod zset;
