//! Hashes (t_hash.c): representation and commands. Being built (see its issue); until then the type
//! exists only so `Value` can name it.

#[derive(Clone, Default)]
pub struct Hash {}

impl Hash {
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
