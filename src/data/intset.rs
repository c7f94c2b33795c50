//! Intset: Redis's encoding of a small set of integers (intset.c), byte for byte, as RDB
//! files and DUMP payloads carry it (RDB type 11).
//!
//! ```text
//! <encoding: u32 LE = 2, 4 or 8> <length: u32 LE> <length integers of `encoding` bytes, LE>
//! ```
//!
//! The integers are sorted ascending and unique, all in the width of the widest one. Redis
//! upgrades the width when a wider member arrives and never downgrades it (SREM of the only
//! wide member leaves the set wide), so a valid intset may be wider than its members need;
//! `encode` writes the smallest width, as a freshly built Redis intset has.
//!
//! `IntSet::parse` is intsetValidateIntegrity with deep checking: a known width, a size that
//! is exactly header + length * width, at least one member (RDB never holds an empty set),
//! and strictly ascending members. It never panics on any input.

use std::fmt;

pub const HEADER_SIZE: usize = 8;

/// Why a buffer is not a valid intset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header.
    TooShort,
    /// The width is not 2, 4 or 8.
    BadEncoding,
    /// The size is not header + length * width.
    LengthMismatch,
    /// No members.
    Empty,
    /// Members out of order or repeated.
    NotSorted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::TooShort => "intset shorter than its header",
            Error::BadEncoding => "intset with an invalid encoding",
            Error::LengthMismatch => "intset length differs from its size",
            Error::Empty => "empty intset",
            Error::NotSorted => "intset not sorted or with duplicates",
        })
    }
}

impl std::error::Error for Error {}

/// The smallest width (2, 4 or 8 bytes) that holds `v`.
pub fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// The intset of `sorted`, which must be ascending and without duplicates (a set's members
/// in order), in the smallest width that holds them all.
pub fn encode(sorted: &[i64]) -> Vec<u8> {
    debug_assert!(sorted.windows(2).all(|w| w[0] < w[1]), "intset members must be sorted and unique");
    // Sorted: the extremes decide the width.
    let width = match (sorted.first(), sorted.last()) {
        (Some(&lo), Some(&hi)) => width_of(lo).max(width_of(hi)),
        _ => 2,
    };
    let mut out = Vec::with_capacity(HEADER_SIZE + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// A validated intset borrowed from its buffer.
#[derive(Clone, Copy, Debug)]
pub struct IntSet<'a> {
    width: usize,
    members: &'a [u8],
}

impl<'a> IntSet<'a> {
    /// Validate `buf` from outside (intsetValidateIntegrity, deep).
    pub fn parse(buf: &'a [u8]) -> Result<IntSet<'a>, Error> {
        let header = buf.get(..HEADER_SIZE).ok_or(Error::TooShort)?;
        let width = match u32::from_le_bytes([header[0], header[1], header[2], header[3]]) {
            w @ (2 | 4 | 8) => w as usize,
            _ => return Err(Error::BadEncoding),
        };
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let members = &buf[HEADER_SIZE..];
        if len.checked_mul(width) != Some(members.len()) {
            return Err(Error::LengthMismatch);
        }
        if len == 0 {
            return Err(Error::Empty);
        }
        let set = IntSet { width, members };
        let mut it = set.iter();
        let mut prev = it.next().ok_or(Error::Empty)?;
        for v in it {
            if v <= prev {
                return Err(Error::NotSorted);
            }
            prev = v;
        }
        Ok(set)
    }

    /// Bytes per member: 2, 4 or 8.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        self.members.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member at `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        let start = i.checked_mul(self.width)?;
        self.members.get(start..start.checked_add(self.width)?).map(read_member)
    }

    pub fn contains(&self, v: i64) -> bool {
        search(self.members, self.width, v).is_ok()
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + 'a {
        self.members.chunks_exact(self.width).map(read_member)
    }
}

/// Member `i` of `members`, integers of `width` bytes (2, 4 or 8) back to back: an intset's
/// body, and the in-memory intset's buffer (`data::set`), which is one without the header.
#[inline]
pub fn member(members: &[u8], width: usize, i: usize) -> i64 {
    read_member(&members[i * width..i * width + width])
}

/// Where `v` is among the ascending `members` (as `member` reads them): `Ok(index)`, or
/// `Err(index)` to insert it at. Never indexes past `members`.
#[inline]
pub fn search(members: &[u8], width: usize, v: i64) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, members.len() / width);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match member(members, width, mid).cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// One member of 2, 4 or 8 bytes (the only widths `parse` lets through).
#[inline]
fn read_member(b: &[u8]) -> i64 {
    match *b {
        [a, b] => i16::from_le_bytes([a, b]) as i64,
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
        [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// The members of an intset from outside, validated.
pub fn decode(buf: &[u8]) -> Result<Vec<i64>, Error> {
    Ok(IntSet::parse(buf)?.iter().collect())
}

#[cfg(test)]
mod tests;
