//! RDB encoding primitives (rdb.c's rdbSaveLen / rdbSaveRawString and their loaders), byte
//! for byte as Redis 7.2 writes them, for RDB files and DUMP payloads.
//!
//! Length: the top two bits of the first byte say how it goes on.
//!
//! ```text
//! 00LLLLLL                 6-bit length
//! 01LLLLLL LLLLLLLL        14-bit length, big endian
//! 0x80 <u32 BE>            32-bit length
//! 0x81 <u64 BE>            64-bit length
//! 11EEEEEE                 not a length: a special string encoding E follows
//! ```
//!
//! String: a length and the bytes, or one of the special encodings: 0, 1, 2 = a signed
//! 8/16/32-bit little-endian integer whose decimal form is the string; 3 = LZF, followed by
//! the compressed and the original length and the compressed bytes. Redis writes a string
//! of at most 11 bytes that is a canonical integer (string2ll) fitting 32 bits as an
//! integer, else, with `rdbcompression` on and more than 20 bytes, LZF-compressed when that
//! saves at least 4 bytes, else raw; `put_string` makes the same choices, and `util::lzf`
//! compresses as Redis's liblzf does, so the bytes are the same.
//!
//! The readers take a buffer from outside (a DUMP payload, an RDB file) and a cursor; they
//! return None on anything malformed or truncated and never panic. They do not allocate
//! more than the input can hold: an LZF string may claim at most what its compressed bytes
//! can expand to.
//!
//! A DUMP payload is the value's RDB encoding, then the RDB version (2 bytes LE) and a
//! CRC64 of everything before it (8 bytes LE): `seal_payload` / `open_payload`.

use std::borrow::Cow;

use crate::util::number::parse_i64;
use crate::util::{crc64, lzf};

/// The RDB version Redis 7.2 writes (and the newest it reads).
pub const VERSION: u16 = 11;

const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENCODED: u8 = 0xC0;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Longest string Redis tries to write as an integer (LONG_STR_SIZE of a 32-bit value).
const MAX_INT_STRING: usize = 11;
/// Shortest string Redis tries to compress.
const MIN_COMPRESS: usize = 21;
/// Compression must save this many bytes to be used.
const MIN_GAIN: usize = 4;
/// Most bytes one LZF byte can expand to (a 3-byte back reference of 264 bytes).
const LZF_MAX_RATIO: usize = 88;
/// Longest string a reader accepts (proto-max-bulk-len's default, Redis's string limit).
const MAX_STRING: usize = 512 << 20;

/// What a length field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Len {
    Plain(u64),
    /// A special string encoding (0..=63) instead of a length.
    Encoded(u8),
}

/// rdbSaveLen.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A length field at `*pos` (advanced past it), or a special encoding.
pub fn get_len_or_encoding(data: &[u8], pos: &mut usize) -> Option<Len> {
    let b = *data.get(*pos)?;
    let start = *pos + 1;
    let (len, size) = match b >> 6 {
        0 => (Len::Plain((b & 0x3F) as u64), 0),
        1 => (Len::Plain((((b & 0x3F) as u64) << 8) | *data.get(start)? as u64), 1),
        3 => (Len::Encoded(b & 0x3F), 0),
        _ => match b {
            LEN_32BIT => (Len::Plain(u32::from_be_bytes(data.get(start..start + 4)?.try_into().ok()?) as u64), 4),
            LEN_64BIT => (Len::Plain(u64::from_be_bytes(data.get(start..start + 8)?.try_into().ok()?)), 8),
            _ => return None,
        },
    };
    *pos = start + size;
    Some(len)
}

/// A length at `*pos`: None if malformed or a special encoding.
pub fn get_len(data: &[u8], pos: &mut usize) -> Option<u64> {
    match get_len_or_encoding(data, pos)? {
        Len::Plain(n) => Some(n),
        Len::Encoded(_) => None,
    }
}

/// rdbEncodeInteger: the special encoding of `v` if it fits 32 bits.
fn put_int(out: &mut Vec<u8>, v: i64) -> bool {
    let le = v.to_le_bytes();
    let (enc, n) = if i8::try_from(v).is_ok() {
        (ENC_INT8, 1)
    } else if i16::try_from(v).is_ok() {
        (ENC_INT16, 2)
    } else if i32::try_from(v).is_ok() {
        (ENC_INT32, 4)
    } else {
        return false;
    };
    out.push(ENCODED | enc);
    out.extend_from_slice(&le[..n]);
    true
}

/// rdbSaveRawString: `s` as an integer, LZF-compressed (when `compress`, Redis's
/// `rdbcompression`) or raw, whichever Redis would choose.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= MAX_INT_STRING && parse_i64(s).is_some_and(|v| put_int(out, v)) {
        return;
    }
    if compress && s.len() >= MIN_COMPRESS {
        if let Some(packed) = lzf::compress(s, s.len() - MIN_GAIN) {
            out.push(ENCODED | ENC_LZF);
            put_len(out, packed.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// rdbSaveLongLongAsStringObject: an integer as a string.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    if !put_int(out, v) {
        put_string(out, itoa::Buffer::new().format(v).as_bytes(), false);
    }
}

/// `n` bytes at `*pos`, advancing past them.
fn take<'a>(data: &'a [u8], pos: &mut usize, n: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    let s = data.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

/// A string at `*pos` (advanced past it), in any of its encodings: borrowed when raw.
pub fn get_string<'a>(data: &'a [u8], pos: &mut usize) -> Option<Cow<'a, [u8]>> {
    let int = |bytes: &[u8]| -> Vec<u8> {
        let v = match *bytes {
            [a] => a as i8 as i64,
            [a, b] => i16::from_le_bytes([a, b]) as i64,
            [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
            _ => 0,
        };
        itoa::Buffer::new().format(v).as_bytes().to_vec()
    };
    match get_len_or_encoding(data, pos)? {
        Len::Plain(n) => take(data, pos, n).map(Cow::Borrowed),
        Len::Encoded(ENC_INT8) => take(data, pos, 1).map(|b| Cow::Owned(int(b))),
        Len::Encoded(ENC_INT16) => take(data, pos, 2).map(|b| Cow::Owned(int(b))),
        Len::Encoded(ENC_INT32) => take(data, pos, 4).map(|b| Cow::Owned(int(b))),
        Len::Encoded(ENC_LZF) => {
            let packed_len = get_len(data, pos)?;
            let len = usize::try_from(get_len(data, pos)?).ok()?;
            let packed = take(data, pos, packed_len)?;
            if len > MAX_STRING || len > packed.len().saturating_mul(LZF_MAX_RATIO) {
                return None;
            }
            lzf::decompress(packed, len).map(Cow::Owned)
        }
        Len::Encoded(_) => None,
    }
}

/// Append the DUMP footer: the RDB version and the CRC64 of everything in `payload`.
pub fn seal_payload(payload: &mut Vec<u8>) {
    payload.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64::crc64(0, payload);
    payload.extend_from_slice(&crc.to_le_bytes());
}

/// verifyDumpPayload: the body of a DUMP payload whose version we read and whose CRC64
/// matches, else None.
pub fn open_payload(data: &[u8]) -> Option<&[u8]> {
    let body_len = data.len().checked_sub(10)?;
    let (body, footer) = data.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().ok()?);
    (version <= VERSION && crc64::crc64(0, &data[..data.len() - 8]) == crc).then_some(body)
}

#[cfg(test)]
mod tests;
