//! Listpack: Redis 7.2's flat encoding of a small sequence of strings and integers
//! (listpack.c), byte for byte, so that RDB files, DUMP payloads and replication streams
//! carry the listpacks Redis writes and reads.
//!
//! Format
//! ------
//!
//! ```text
//! <total bytes: u32 LE> <count: u16 LE> <entry> ... <entry> <0xFF>
//! entry = <encoding + data> <backlen>
//! ```
//!
//! The count saturates: 65535 means "unknown, walk the entries" (Redis stores the real count
//! again once it drops below that). An entry's first byte says what follows:
//!
//! | first byte  | entry                     | size of encoding + data |
//! |-------------|---------------------------|-------------------------|
//! | `0xxxxxxx`  | uint 0..127               | 1                       |
//! | `10LLLLLL`  | string of 0..63 bytes     | 1 + len                 |
//! | `110xxxxx`  | int -4096..4095 (13 bits) | 2                       |
//! | `1110LLLL`  | string < 4096 bytes       | 2 + len (12-bit len)    |
//! | `0xF0`      | string, u32 LE length     | 5 + len                 |
//! | `0xF1..F4`  | int 16/24/32/64 bits, LE  | 3, 4, 5, 9              |
//! | `0xF5..FE`  | invalid                   |                         |
//!
//! `backlen` is the size of encoding + data, in 1..5 groups of 7 bits, most significant
//! first, every group but the first flagged with 128: read right to left, the low group
//! comes first and the unflagged byte ends it, so a listpack can be walked backwards.
//!
//! A string is stored as an integer exactly when it is the canonical decimal form of an
//! i64 (lpStringToInt64 = string2ll: "42", "-7", not "007", "-0", "+1", " 1"), in the
//! smallest integer encoding that holds it; reading such an entry back gives `Entry::Int`.
//! Anything else is a string in the smallest string encoding.
//!
//! Untrusted input (a DUMP payload, an RDB file) goes through `ListPack::parse`, which is
//! lpValidateIntegrity with deep checking: header size, total bytes equal to the buffer,
//! terminator, every entry inside the buffer with a valid encoding and a backlen that
//! matches it, and the count (unless 65535). It never panics; after it, iteration cannot
//! fail. The entry-level functions (`Entry::encoded_len`, `Entry::write`, `read_entry`,
//! `entry_before`) are public so that a representation holding entries in this format
//! (a list chunk, `data::list`) shares them. Reading is one per-encoding table (`body`,
//! `backlen`) generic over how it checks bounds: `read_entry` and `entry_before` check
//! every access; `read_entry_trusted` and `entry_before_trusted` are the same table with
//! plain indexing, for bytes this process wrote, so the list's hot path pays nothing for
//! the checks it does not need.

use std::borrow::Cow;
use std::fmt;

use smallvec::SmallVec;

use crate::util::number::parse_i64;

/// Total bytes (u32) + count (u16).
pub const HEADER_SIZE: usize = 6;
/// The terminator, and the first byte that is no entry.
pub const EOF: u8 = 0xFF;
/// The header's count when the listpack holds 65535 entries or more.
pub const COUNT_UNKNOWN: u16 = u16::MAX;
/// An empty listpack: header and terminator (lpNew's 7 bytes).
pub const EMPTY_SIZE: usize = HEADER_SIZE + 1;

const ENC_32BIT_STR: u8 = 0xF0;
const ENC_16BIT_INT: u8 = 0xF1;
const ENC_24BIT_INT: u8 = 0xF2;
const ENC_32BIT_INT: u8 = 0xF3;
const ENC_64BIT_INT: u8 = 0xF4;

/// Why a buffer is not a valid listpack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than a header and a terminator.
    TooShort,
    /// The header's total bytes differ from the buffer's size.
    TotalMismatch,
    /// The last byte is not 0xFF.
    NoTerminator,
    /// An entry's first byte is none of the encodings (0xF5..0xFE).
    BadEncoding,
    /// An entry (or its length field) runs past the terminator.
    EntryOutOfBounds,
    /// An entry's backlen does not match its size.
    BadBacklen,
    /// The entries end before the terminator (a stray 0xFF inside).
    EarlyEnd,
    /// The header's count differs from the entries (and is not 65535).
    CountMismatch,
    /// Encoding: more than 4 GB, which the u32 total cannot say.
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::TooShort => "listpack shorter than its header",
            Error::TotalMismatch => "listpack total bytes differ from its size",
            Error::NoTerminator => "listpack without terminator",
            Error::BadEncoding => "listpack entry with an invalid encoding",
            Error::EntryOutOfBounds => "listpack entry out of bounds",
            Error::BadBacklen => "listpack entry with a wrong backlen",
            Error::EarlyEnd => "listpack terminator before its end",
            Error::CountMismatch => "listpack count differs from its entries",
            Error::TooLarge => "listpack larger than 4 GB",
        })
    }
}

impl std::error::Error for Error {}

/// One entry as Redis stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Entry<'a> {
    /// The entry Redis stores for the string `s`: an integer if `s` is canonical. Such a
    /// string is never stored as bytes, so `==` between entries is equality of strings.
    #[inline]
    pub fn of(s: &'a [u8]) -> Entry<'a> {
        match parse_i64(s) {
            Some(v) => Entry::Int(v),
            None => Entry::Str(s),
        }
    }

    /// The string form (an integer in decimal).
    pub fn to_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Entry::Int(v) => Cow::Owned(itoa::Buffer::new().format(v).as_bytes().to_vec()),
            Entry::Str(s) => Cow::Borrowed(s),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }

    /// Owned copy without a heap allocation for short entries.
    pub fn to_small(self) -> SmallVec<[u8; 48]> {
        match self {
            Entry::Int(v) => SmallVec::from_slice(itoa::Buffer::new().format(v).as_bytes()),
            Entry::Str(s) => SmallVec::from_slice(s),
        }
    }

    /// Length of the string form (what Redis counts as an element's size).
    pub fn str_len(self) -> usize {
        match self {
            Entry::Int(v) => itoa::Buffer::new().format(v).len(),
            Entry::Str(s) => s.len(),
        }
    }

    /// Size of encoding + data (what backlen says).
    #[inline]
    pub fn body_len(self) -> usize {
        match self {
            Entry::Int(v) => int_body_len(v),
            Entry::Str(s) if s.len() < 64 => 1 + s.len(),
            Entry::Str(s) if s.len() < 4096 => 2 + s.len(),
            Entry::Str(s) => 5 + s.len(),
        }
    }

    /// Size of the whole entry, backlen included.
    #[inline]
    pub fn encoded_len(self) -> usize {
        let body = self.body_len();
        body + backlen_len(body)
    }

    /// Write the entry at the start of `dst` (at least `encoded_len` bytes); returns its size.
    /// A string must be shorter than 4 GB (the caller checks sizes: `Encoder` does).
    #[inline]
    pub fn write(self, dst: &mut [u8]) -> usize {
        let body = match self {
            Entry::Int(v) => write_int(v, dst),
            Entry::Str(s) => {
                let n = s.len();
                let head = if n < 64 {
                    dst[0] = 0x80 | n as u8;
                    1
                } else if n < 4096 {
                    dst[0] = 0xE0 | (n >> 8) as u8;
                    dst[1] = n as u8;
                    2
                } else {
                    dst[0] = ENC_32BIT_STR;
                    dst[1..5].copy_from_slice(&(n as u32).to_le_bytes());
                    5
                };
                dst[head..head + n].copy_from_slice(s);
                head + n
            }
        };
        body + write_backlen(body, &mut dst[body..])
    }
}

#[inline]
fn int_body_len(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    }
}

#[inline]
fn write_int(v: i64, dst: &mut [u8]) -> usize {
    let n = int_body_len(v);
    let le = v.to_le_bytes();
    match n {
        1 => dst[0] = v as u8,
        2 => {
            // 13-bit two's complement
            let u = (v & 0x1FFF) as u16;
            dst[0] = 0xC0 | (u >> 8) as u8;
            dst[1] = u as u8;
        }
        _ => {
            dst[0] = match n {
                3 => ENC_16BIT_INT,
                4 => ENC_24BIT_INT,
                5 => ENC_32BIT_INT,
                _ => ENC_64BIT_INT,
            };
            dst[1..n].copy_from_slice(&le[..n - 1]);
        }
    }
    n
}

/// Bytes lpEncodeBacklen uses for a body of `l` bytes (its boundaries, including the
/// strict `<` ones, are part of the format: 16383 takes three bytes).
#[inline]
pub fn backlen_len(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

#[inline]
fn write_backlen(l: usize, dst: &mut [u8]) -> usize {
    let n = backlen_len(l);
    for (i, b) in dst[..n].iter_mut().enumerate() {
        let group = ((l >> (7 * (n - 1 - i))) & 127) as u8;
        *b = if i == 0 { group } else { group | 128 };
    }
    n
}

/// How an entry read checks its bounds. The entry format is read by one function per part
/// (`body` and `backlen` below: the per-encoding table lives there once), instantiated
/// twice: `Checked` for bytes from outside, where every access is tested and a short buffer
/// or an invalid encoding gives None; `Trusted` for bytes we wrote ourselves (a list
/// chunk), where the accesses are plain indexing, the Option is always Some and folds
/// away, and the reads compile to a hand-written decoder's. A bad byte there is our bug:
/// it panics, like any out-of-range index.
trait Bounds {
    fn byte(buf: &[u8], at: usize) -> Option<u8>;
    fn bytes(buf: &[u8], from: usize, n: usize) -> Option<&[u8]>;
    fn array<const N: usize>(buf: &[u8], from: usize) -> Option<[u8; N]>;
    fn sub(a: usize, b: usize) -> Option<usize>;
}

struct Checked;
struct Trusted;

impl Bounds for Checked {
    #[inline(always)]
    fn byte(buf: &[u8], at: usize) -> Option<u8> {
        buf.get(at).copied()
    }
    #[inline(always)]
    fn bytes(buf: &[u8], from: usize, n: usize) -> Option<&[u8]> {
        buf.get(from..from.checked_add(n)?)
    }
    #[inline(always)]
    fn array<const N: usize>(buf: &[u8], from: usize) -> Option<[u8; N]> {
        Self::bytes(buf, from, N)?.try_into().ok()
    }
    #[inline(always)]
    fn sub(a: usize, b: usize) -> Option<usize> {
        a.checked_sub(b)
    }
}

impl Bounds for Trusted {
    #[inline(always)]
    fn byte(buf: &[u8], at: usize) -> Option<u8> {
        Some(buf[at])
    }
    #[inline(always)]
    fn bytes(buf: &[u8], from: usize, n: usize) -> Option<&[u8]> {
        Some(&buf[from..from + n])
    }
    #[inline(always)]
    fn array<const N: usize>(buf: &[u8], from: usize) -> Option<[u8; N]> {
        buf[from..from + N].try_into().ok()
    }
    #[inline(always)]
    fn sub(a: usize, b: usize) -> Option<usize> {
        Some(a - b)
    }
}

/// The entry at `buf[at..]` and its body size (encoding + data): the encoding table.
#[inline(always)]
fn body<B: Bounds>(buf: &[u8], at: usize) -> Option<(Entry<'_>, usize)> {
    let b = B::byte(buf, at)?;
    let string = |head: usize, n: usize| Some((Entry::Str(B::bytes(buf, at + head, n)?), head + n));
    match b {
        0x00..=0x7F => Some((Entry::Int(b as i64), 1)),
        0x80..=0xBF => string(1, (b & 0x3F) as usize),
        0xC0..=0xDF => {
            let u = (((b & 0x1F) as i64) << 8) | B::byte(buf, at + 1)? as i64;
            Some((Entry::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2))
        }
        0xE0..=0xEF => string(2, (((b & 0x0F) as usize) << 8) | B::byte(buf, at + 1)? as usize),
        ENC_32BIT_STR => string(5, u32::from_le_bytes(B::array(buf, at + 1)?) as usize),
        ENC_16BIT_INT => Some((Entry::Int(i16::from_le_bytes(B::array(buf, at + 1)?) as i64), 3)),
        ENC_24BIT_INT => {
            let [x, y, z] = B::array(buf, at + 1)?;
            Some((Entry::Int((i32::from_le_bytes([0, x, y, z]) >> 8) as i64), 4))
        }
        ENC_32BIT_INT => Some((Entry::Int(i32::from_le_bytes(B::array(buf, at + 1)?) as i64), 5)),
        ENC_64BIT_INT => Some((Entry::Int(i64::from_le_bytes(B::array(buf, at + 1)?)), 9)),
        _ => None,
    }
}

/// lpDecodeBacklen of the backlen whose last byte is `buf[last]`: None if it runs off the
/// start of `buf` or past five groups.
#[inline(always)]
fn backlen<B: Bounds>(buf: &[u8], last: usize) -> Option<usize> {
    let mut value = 0usize;
    let mut p = last;
    let mut shift = 0;
    loop {
        let b = B::byte(buf, p)?;
        value |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            return Some(value);
        }
        shift += 7;
        if shift == 35 {
            return None;
        }
        p = B::sub(p, 1)?;
    }
}

/// The start of the entry that ends (backlen included) just before `end`.
#[inline(always)]
fn before<B: Bounds>(buf: &[u8], end: usize) -> Option<usize> {
    let body = backlen::<B>(buf, B::sub(end, 1)?)?;
    B::sub(end, body + backlen_len(body))
}

/// The entry at `buf[at..]` and its body size (encoding + data, without backlen), checking
/// only that it lies inside `buf`: None on an invalid encoding (or EOF) or a short buffer.
pub fn read_body(buf: &[u8], at: usize) -> Option<(Entry<'_>, usize)> {
    body::<Checked>(buf, at)
}

/// The entry at `buf[at..]` and its whole size (with backlen), for a buffer already
/// validated (a listpack from `ListPack::parse`): None rather than a panic if it is not.
pub fn read_entry(buf: &[u8], at: usize) -> Option<(Entry<'_>, usize)> {
    let (e, body) = read_body(buf, at)?;
    Some((e, body + backlen_len(body)))
}

/// The start of the entry that ends (backlen included) just before `end`.
pub fn entry_before(buf: &[u8], end: usize) -> Option<usize> {
    before::<Checked>(buf, end)
}

/// `read_entry` for entries this process wrote (a list chunk's): no checks beyond indexing.
#[inline]
pub fn read_entry_trusted(buf: &[u8], at: usize) -> (Entry<'_>, usize) {
    match body::<Trusted>(buf, at) {
        Some((e, body)) => (e, body + backlen_len(body)),
        None => corrupt(),
    }
}

/// `entry_before` for entries this process wrote (a list chunk's).
#[inline]
pub fn entry_before_trusted(buf: &[u8], end: usize) -> usize {
    match before::<Trusted>(buf, end) {
        Some(at) => at,
        None => corrupt(),
    }
}

/// An entry this process wrote does not decode: a bug here, not bad input.
#[cold]
#[inline(never)]
fn corrupt() -> ! {
    panic!("listpack entry written by this process is corrupt")
}

/// Builds a listpack entry by entry.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
    count: usize,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::with_capacity(0)
    }

    /// `bytes`: the expected size of the entries (without header and terminator).
    pub fn with_capacity(bytes: usize) -> Encoder {
        let mut buf = Vec::with_capacity(EMPTY_SIZE + bytes);
        buf.resize(HEADER_SIZE, 0);
        Encoder { buf, count: 0 }
    }

    /// Append a string, stored as Redis would (an integer if canonical).
    pub fn push(&mut self, s: &[u8]) {
        self.push_entry(Entry::of(s));
    }

    pub fn push_int(&mut self, v: i64) {
        self.push_entry(Entry::Int(v));
    }

    pub fn push_entry(&mut self, e: Entry<'_>) {
        let at = self.buf.len();
        self.buf.resize(at + e.encoded_len(), 0);
        e.write(&mut self.buf[at..]);
        self.count += 1;
    }

    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The listpack's total bytes once finished (Redis's lpBytes).
    pub fn total_bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// The listpack: header filled in, terminator appended.
    pub fn finish(mut self) -> Result<Vec<u8>, Error> {
        let total = u32::try_from(self.total_bytes()).map_err(|_| Error::TooLarge)?;
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf.push(EOF);
        Ok(self.buf)
    }
}

/// Encode a whole sequence of strings.
pub fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new();
    for s in items {
        enc.push(s);
    }
    enc.finish()
}

/// A validated listpack borrowed from its buffer.
#[derive(Clone, Copy, Debug)]
pub struct ListPack<'a> {
    buf: &'a [u8],
    len: usize,
}

impl<'a> ListPack<'a> {
    /// Validate `buf` from outside (lpValidateIntegrity, deep).
    pub fn parse(buf: &'a [u8]) -> Result<ListPack<'a>, Error> {
        if buf.len() < EMPTY_SIZE {
            return Err(Error::TooShort);
        }
        if header_total(buf) as usize != buf.len() {
            return Err(Error::TotalMismatch);
        }
        let end = buf.len() - 1;
        if buf[end] != EOF {
            return Err(Error::NoTerminator);
        }
        // The entries' region ends before the terminator: an entry reaching into it is
        // out of bounds, and a 0xFF first byte before it is a premature end.
        let entries = &buf[..end];
        let mut at = HEADER_SIZE;
        let mut len = 0usize;
        while at < end {
            if buf[at] == EOF {
                return Err(Error::EarlyEnd);
            }
            let (_, body) = read_body(entries, at).ok_or(match buf[at] {
                0xF5..=0xFE => Error::BadEncoding,
                _ => Error::EntryOutOfBounds,
            })?;
            let next = at + body + backlen_len(body);
            if next > end {
                return Err(Error::EntryOutOfBounds);
            }
            if backlen::<Checked>(buf, next - 1) != Some(body) {
                return Err(Error::BadBacklen);
            }
            at = next;
            len += 1;
        }
        let count = header_count(buf);
        if count != COUNT_UNKNOWN && count as usize != len {
            return Err(Error::CountMismatch);
        }
        Ok(ListPack { buf, len })
    }

    /// The header's total bytes (equal to the buffer's size).
    pub fn total_bytes(&self) -> u32 {
        header_total(self.buf)
    }

    /// The header's count: the number of entries, or `COUNT_UNKNOWN`.
    pub fn header_count(&self) -> u16 {
        header_count(self.buf)
    }

    /// The number of entries (counted when the header says unknown).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The entries, front to back (`.rev()` walks them back to front by their backlens).
    pub fn iter(&self) -> Iter<'a> {
        Iter { buf: self.buf, front: HEADER_SIZE, back: self.buf.len() - 1, left: self.len }
    }
}

impl<'a> IntoIterator for ListPack<'a> {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

fn header_total(buf: &[u8]) -> u32 {
    u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])
}

fn header_count(buf: &[u8]) -> u16 {
    u16::from_le_bytes([buf[4], buf[5]])
}

/// Entries of a validated listpack between `front` and `back` (the end of the last one not
/// yet taken from the back).
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (e, size) = read_entry(self.buf, self.front)?;
        self.front += size;
        self.left = self.left.saturating_sub(1);
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let start = entry_before(self.buf, self.back)?;
        let (e, _) = read_entry(self.buf, start)?;
        self.back = start;
        self.left = self.left.saturating_sub(1);
        Some(e)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
pub(crate) mod tests;
