//! Sets (t_set.c): representation and commands. Being built (see its issue); until then the type
//! exists only so `Value` can name it.

#[derive(Clone, Default)]
pub struct Set {}

impl Set {
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
