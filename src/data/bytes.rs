//! `CompactBytes`: a 24-byte byte string that stores up to 22 bytes inline.
//!
//! Most keys and many values are short ("user:1000:session", a counter, a 16-byte token).
//! Redis pays a separate sds allocation for each key and an robj (+ embedded sds) for each
//! value; storing the bytes inside the table entry removes one or two allocations per key,
//! which is most of our memory advantage on small keys. Longer strings live in a boxed slice
//! (exactly sized: no capacity word).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

pub const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum CompactBytes {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(s: &[u8]) -> Self {
        if s.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..s.len()].copy_from_slice(s);
            CompactBytes::Inline { len: s.len() as u8, data }
        } else {
            CompactBytes::Heap(s.into())
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_CAP {
            Self::new(&v)
        } else {
            CompactBytes::Heap(v.into_boxed_slice())
        }
    }

    pub fn empty() -> Self {
        CompactBytes::Inline { len: 0, data: [0; INLINE_CAP] }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, data } => &data[..*len as usize],
            CompactBytes::Heap(b) => b,
        }
    }

    /// The bytes for in-place changes (SETBIT, BITFIELD, PFADD): the length stays.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            CompactBytes::Inline { len, data } => &mut data[..*len as usize],
            CompactBytes::Heap(b) => b,
        }
    }

    /// Grow to `new_len` bytes, zero-filled (a SETBIT or BITFIELD past the end), or cut to it.
    pub fn resize_zeroed(&mut self, new_len: usize) {
        if new_len == self.len() {
            return;
        }
        let mut v = std::mem::replace(self, CompactBytes::empty()).into_vec();
        v.resize(new_len, 0);
        *self = CompactBytes::from_vec(v);
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, CompactBytes::Inline { .. })
    }

    /// Heap bytes owned beyond the struct itself (for MEMORY USAGE-style accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            CompactBytes::Inline { .. } => 0,
            CompactBytes::Heap(b) => b.len(),
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self {
            CompactBytes::Inline { len, data } => data[..len as usize].to_vec(),
            CompactBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl Deref for CompactBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for CompactBytes {}

impl Hash for CompactBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_roundtrip() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for n in [0usize, 1, 21, 22, 23, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            let c = CompactBytes::new(&v);
            assert_eq!(c.as_slice(), &v[..]);
            assert_eq!(c.is_inline(), n <= INLINE_CAP);
            assert_eq!(CompactBytes::from_vec(v.clone()).into_vec(), v);
        }
    }
}
