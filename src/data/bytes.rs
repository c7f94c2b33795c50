//! `CompactBytes`: a 24-byte byte string that stores up to 22 bytes inline.
//!
//! Most keys and many values are short ("user:1000:session", a counter, a 16-byte token).
//! Redis pays a separate sds allocation for each key and an robj (+ embedded sds) for each
//! value; storing the bytes inside the table entry removes one or two allocations per key,
//! which is most of our memory advantage on small keys. Longer strings live in a boxed slice
//! (exactly sized: no capacity word).
//!
//! A string value also carries Redis's embstr/raw distinction (OBJECT ENCODING) here: the
//! inline length byte has one range of codes per kind and the heap form one variant per kind.
//! The length byte's unused codes then leave a niche for `Value`'s discriminant, so a string
//! `Value` is these 24 bytes and no more (a keyspace node fits a 64-byte allocation).
//! Other users (hash fields, set members, keys) only ever make the embstr kind.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

pub const INLINE_CAP: usize = 22;

/// The inline length and kind: `E<n>` an embstr of n bytes, `R<n>` a raw string of n bytes.
#[rustfmt::skip]
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, E16, E17, E18, E19, E20, E21, E22,
    R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22,
}

#[rustfmt::skip]
const TAGS: [Tag; 2 * (INLINE_CAP + 1)] = {
    use Tag::*;
    [E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, E16, E17, E18, E19, E20, E21, E22,
     R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22]
};

impl Tag {
    #[inline]
    fn new(len: usize, raw: bool) -> Tag {
        TAGS[len + if raw { INLINE_CAP + 1 } else { 0 }]
    }
    #[inline]
    fn len(self) -> usize {
        let t = self as usize;
        if t > INLINE_CAP {
            t - INLINE_CAP - 1
        } else {
            t
        }
    }
    #[inline]
    fn raw(self) -> bool {
        self as usize > INLINE_CAP
    }
}

#[derive(Clone)]
pub struct CompactBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { tag: Tag, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
    HeapRaw(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(s: &[u8]) -> Self {
        Self::with_kind(s, false)
    }

    /// `s` as a string of the given kind (`raw`: Redis's "raw" encoding, else "embstr").
    pub fn with_kind(s: &[u8], raw: bool) -> Self {
        if s.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..s.len()].copy_from_slice(s);
            CompactBytes(Repr::Inline { tag: Tag::new(s.len(), raw), data })
        } else if raw {
            CompactBytes(Repr::HeapRaw(s.into()))
        } else {
            CompactBytes(Repr::Heap(s.into()))
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        Self::from_vec_kind(v, false)
    }

    pub fn from_vec_kind(v: Vec<u8>, raw: bool) -> Self {
        if v.len() <= INLINE_CAP {
            Self::with_kind(&v, raw)
        } else if raw {
            CompactBytes(Repr::HeapRaw(v.into_boxed_slice()))
        } else {
            CompactBytes(Repr::Heap(v.into_boxed_slice()))
        }
    }

    pub fn empty() -> Self {
        CompactBytes(Repr::Inline { tag: Tag::E0, data: [0; INLINE_CAP] })
    }

    /// Redis's "raw" string encoding (as opposed to "embstr").
    #[inline]
    pub fn is_raw(&self) -> bool {
        match &self.0 {
            Repr::Inline { tag, .. } => tag.raw(),
            Repr::Heap(_) => false,
            Repr::HeapRaw(_) => true,
        }
    }

    /// Make the string "raw" (an in-place change, as Redis's dbUnshareStringValue does).
    pub fn set_raw(&mut self) {
        match &mut self.0 {
            Repr::Inline { tag, .. } => *tag = Tag::new(tag.len(), true),
            Repr::Heap(b) => self.0 = Repr::HeapRaw(std::mem::take(b)),
            Repr::HeapRaw(_) => {}
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { tag, data } => &data[..tag.len()],
            Repr::Heap(b) | Repr::HeapRaw(b) => b,
        }
    }

    /// The bytes for in-place changes (SETBIT, BITFIELD, PFADD): the length stays.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { tag, data } => &mut data[..tag.len()],
            Repr::Heap(b) | Repr::HeapRaw(b) => b,
        }
    }

    /// Grow to `new_len` bytes, zero-filled (a SETBIT or BITFIELD past the end), or cut to it.
    pub fn resize_zeroed(&mut self, new_len: usize) {
        if new_len != self.len() {
            self.with_vec(|v| v.resize(new_len, 0));
        }
    }

    /// Apply `f` to the bytes as a Vec, keeping the kind (one reallocation at most when it
    /// gives them back, however many edits it makes).
    pub fn with_vec<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let raw = self.is_raw();
        let mut v = std::mem::replace(self, CompactBytes::empty()).into_vec();
        let r = f(&mut v);
        *self = CompactBytes::from_vec_kind(v, raw);
        r
    }

    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// Heap bytes owned beyond the struct itself (for MEMORY USAGE-style accounting).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) | Repr::HeapRaw(b) => b.len(),
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { tag, data } => data[..tag.len()].to_vec(),
            Repr::Heap(b) | Repr::HeapRaw(b) => b.into_vec(),
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
            for raw in [false, true] {
                let mut c = CompactBytes::with_kind(&v, raw);
                assert_eq!((c.as_slice(), c.is_raw(), c.is_inline()), (&v[..], raw, n <= INLINE_CAP));
                c.set_raw();
                assert_eq!((c.as_slice(), c.is_raw()), (&v[..], true));
                c.resize_zeroed(n + 30);
                assert_eq!((c.len(), c.is_raw()), (n + 30, true));
            }
        }
        // The unused length codes are the niche of `Value`'s discriminant.
        assert_eq!(std::mem::size_of::<crate::data::value::Value>(), 24);
    }
}
