//! Ziplist and zipmap: the compact encodings Redis used before listpacks (ziplist.c up to
//! 6.2, zipmap.c up to 2.6), read-only. Redis 7.2 still loads them from old RDB files and
//! DUMP payloads (RDB types 9, 10, 12, 13 and 14) and converts them on the way in; so do
//! we, so `parse` and `parse_zipmap` only validate and list the entries.
//!
//! Ziplist:
//!
//! ```text
//! <zlbytes: u32 LE> <zltail: u32 LE, offset of the last entry> <zllen: u16 LE> <entry>* <0xFF>
//! entry = <prevlen> <encoding> <data>
//! prevlen = <byte < 254> | 0xFE <u32 LE>     size of the previous entry
//! encoding:
//!   00LLLLLL            string, 6-bit length
//!   01LLLLLL LLLLLLLL   string, 14-bit length, big endian
//!   10xxxxxx <u32 BE>   string, 32-bit length (the low bits are ignored, as Redis does)
//!   0xC0 / 0xD0 / 0xE0  int16 / int32 / int64, little endian
//!   0xF0                int24, little endian
//!   0xFE                int8
//!   0xF1..=0xFD         immediate 0..=12 (the low nibble minus one)
//! ```
//!
//! `zllen` saturates at 65535 ("count them"). Validation is ziplistValidateIntegrity with
//! deep checking: the header's byte count equals the buffer, the tail offset points at
//! the last entry, every entry lies inside with a valid encoding and a prevlen equal to
//! the previous entry's size, the terminator ends the buffer, the count matches.
//!
//! Zipmap (a whole hash):
//!
//! ```text
//! <zmlen: u8, 254 = count them> (<len> <field> <len> <free: u8> <value> <free bytes>)* <0xFF>
//! len = <byte < 254> | 0xFE <u32 LE>
//! ```
//!
//! Both readers take bytes from outside and never panic or read out of bounds.

use super::listpack::Entry;

const ZIP_END: u8 = 0xFF;
const ZIP_BIG_PREVLEN: u8 = 0xFE;
const HEADER_SIZE: usize = 10;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Why a buffer is not a valid ziplist or zipmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The entry at `at` (its prevlen first): the entry, its prevlen and its whole size.
fn entry(buf: &[u8], at: usize) -> Option<(Entry<'_>, usize, usize)> {
    let first = *buf.get(at)?;
    let (prevlen, mut p) = if first < ZIP_BIG_PREVLEN {
        (first as usize, at + 1)
    } else if first == ZIP_BIG_PREVLEN {
        (u32_le(buf, at + 1)? as usize, at + 5)
    } else {
        return None;
    };
    let enc = *buf.get(p)?;
    p += 1;
    let int = |p: usize, n: usize| -> Option<i64> {
        let b = buf.get(p..p.checked_add(n)?)?;
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(b);
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        Some((i64::from_le_bytes(le) << shift) >> shift)
    };
    let (e, end) = match enc >> 6 {
        0..=2 => {
            let (len, hdr) = match enc >> 6 {
                0 => ((enc & 0x3F) as usize, 0),
                1 => ((((enc & 0x3F) as usize) << 8) | *buf.get(p)? as usize, 1),
                _ => (u32::from_be_bytes(buf.get(p..p + 4)?.try_into().ok()?) as usize, 4),
            };
            let start = p + hdr;
            let end = start.checked_add(len)?;
            (Entry::Str(buf.get(start..end)?), end)
        }
        _ => match enc {
            0xC0 => (Entry::Int(int(p, 2)?), p + 2),
            0xD0 => (Entry::Int(int(p, 4)?), p + 4),
            0xE0 => (Entry::Int(int(p, 8)?), p + 8),
            0xF0 => (Entry::Int(int(p, 3)?), p + 3),
            0xFE => (Entry::Int(int(p, 1)?), p + 1),
            0xF1..=0xFD => (Entry::Int((enc & 0x0F) as i64 - 1), p),
            _ => return None,
        },
    };
    Some((e, prevlen, end - at))
}

/// The entries of a ziplist from outside, validated (see the module comment).
pub fn parse(buf: &[u8]) -> Result<Vec<Entry<'_>>, Invalid> {
    if buf.len() < HEADER_SIZE + 1 || u32_le(buf, 0) != Some(buf.len() as u32) || buf[buf.len() - 1] != ZIP_END {
        return Err(Invalid);
    }
    let tail = u32_le(buf, 4).ok_or(Invalid)? as usize;
    let count = u16::from_le_bytes([buf[8], buf[9]]);
    let end = buf.len() - 1;
    let body = &buf[..end];
    let mut out = Vec::with_capacity((count as usize).min(end / 2));
    let (mut at, mut prev_size, mut last) = (HEADER_SIZE, 0usize, HEADER_SIZE);
    while at < end {
        let (e, prevlen, size) = entry(body, at).ok_or(Invalid)?;
        if prevlen != prev_size {
            return Err(Invalid);
        }
        out.push(e);
        last = at;
        prev_size = size;
        at += size;
    }
    if at != end || tail != last || (count != COUNT_UNKNOWN && count as usize != out.len()) {
        return Err(Invalid);
    }
    Ok(out)
}

/// A zipmap length at `*at`.
fn zipmap_len(buf: &[u8], at: &mut usize) -> Option<usize> {
    let b = *buf.get(*at)?;
    match b {
        0..=253 => {
            *at += 1;
            Some(b as usize)
        }
        254 => {
            let n = u32_le(buf, *at + 1)? as usize;
            *at += 5;
            Some(n)
        }
        _ => None,
    }
}

fn take<'a>(buf: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = buf.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(s)
}

/// A zipmap's (field, value).
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// The (field, value) pairs of a zipmap from outside, validated (zipmapValidateIntegrity).
pub fn parse_zipmap(buf: &[u8]) -> Result<Vec<Pair<'_>>, Invalid> {
    let count = *buf.first().ok_or(Invalid)?;
    let mut at = 1;
    let mut out = Vec::new();
    loop {
        match buf.get(at) {
            None => return Err(Invalid),
            Some(&ZIP_END) => break,
            Some(_) => {}
        }
        let pair = (|| {
            let flen = zipmap_len(buf, &mut at)?;
            let field = take(buf, &mut at, flen)?;
            let vlen = zipmap_len(buf, &mut at)?;
            let free = *buf.get(at)? as usize;
            at += 1;
            let value = take(buf, &mut at, vlen)?;
            take(buf, &mut at, free)?;
            Some((field, value))
        })()
        .ok_or(Invalid)?;
        out.push(pair);
    }
    if at + 1 != buf.len() || (count < 254 && count as usize != out.len()) {
        return Err(Invalid);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ziplist of `entries` (each: encoding + data), prevlens and header filled in.
    pub fn build(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let (mut prev, mut last) = (0usize, HEADER_SIZE);
        for e in entries {
            last = HEADER_SIZE + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((HEADER_SIZE + body.len() + 1) as u32).to_le_bytes());
        out.extend_from_slice(&(last as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(ZIP_END);
        out
    }

    #[test]
    fn every_encoding() {
        let long = vec![b'x'; 300];
        let mut s14 = vec![0x40 | (300 >> 8) as u8, 300u16 as u8];
        s14.extend_from_slice(&long);
        let entries = vec![
            b"\x03abc".to_vec(),
            s14,
            vec![0xF1],
            vec![0xFD],
            vec![0xFE, 0x80],
            vec![0xC0, 0x34, 0x12],
            vec![0xF0, 0xFF, 0xFF, 0xFF],
            vec![0xD0, 0, 0, 0, 0x80],
            [vec![0xE0], i64::MAX.to_le_bytes().to_vec()].concat(),
        ];
        let zl = build(&entries);
        let got = parse(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                Entry::Str(b"abc"),
                Entry::Str(&long),
                Entry::Int(0),
                Entry::Int(12),
                Entry::Int(-128),
                Entry::Int(0x1234),
                Entry::Int(-1),
                Entry::Int(i32::MIN as i64),
                Entry::Int(i64::MAX),
            ]
        );
        // Every truncation and every single-byte change is rejected or parses, never panics.
        for n in 0..zl.len() {
            assert!(parse(&zl[..n]).is_err());
        }
        for i in 0..zl.len() {
            for b in [0u8, 1, 0x7F, 0xFE, 0xFF] {
                let mut z = zl.clone();
                z[i] = b;
                let _ = parse(&z);
            }
        }
    }

    #[test]
    fn bad_prevlen_tail_and_count() {
        let zl = build(&[b"\x01a".to_vec(), b"\x01b".to_vec()]);
        assert!(parse(&zl).is_ok());
        let mut z = zl.clone();
        z[HEADER_SIZE + 3] = 9; // second entry's prevlen
        assert!(parse(&z).is_err());
        let mut z = zl.clone();
        z[4] = 0; // tail
        assert!(parse(&z).is_err());
        let mut z = zl.clone();
        z[8] = 3; // count
        assert!(parse(&z).is_err());
        z[8] = 0xFF;
        z[9] = 0xFF;
        assert_eq!(parse(&z).unwrap().len(), 2);
    }

    #[test]
    fn zipmaps() {
        let zm = b"\x02\x03foo\x03\x02barxx\x01k\x00\x00\xff";
        assert_eq!(parse_zipmap(zm).unwrap(), vec![(&b"foo"[..], &b"bar"[..]), (&b"k"[..], &b""[..])]);
        for n in 0..zm.len() {
            assert!(parse_zipmap(&zm[..n]).is_err());
        }
        let mut bad = zm.to_vec();
        bad[0] = 3;
        assert!(parse_zipmap(&bad).is_err());
        bad[0] = 254;
        assert_eq!(parse_zipmap(&bad).unwrap().len(), 2);
    }
}
