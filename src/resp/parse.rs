//! Request parsing: RESP multibulk and inline commands, resumable across reads.
//!
//! The parser never copies argument bytes: it records `(start, end)` ranges into the
//! connection's read buffer, and the connection hands the handler slices of that buffer.
//! State survives a partial read (a huge bulk or a command with a million arguments
//! arriving over many reads is parsed once, not re-scanned from the start on every read),
//! and when a large bulk length is announced the caller reserves the whole bulk up front so
//! the buffer grows once instead of doubling repeatedly.
//!
//! Errors carry Redis's exact texts; after one the connection replies and closes, as
//! redis-server does.

use memchr::{memchr, memchr2};

/// Longest inline request or header line Redis accepts without a newline (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Bulk lengths at or above this are read with a pre-sized buffer (PROTO_MBULK_BIG_ARG).
pub const BIG_ARG: usize = 32 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum ProtoError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMbulkCount,
    InvalidMbulkLen,
    UnauthMbulkLen,
    ExpectedDollar(u8),
    TooBigBulkCount,
    InvalidBulkLen,
    UnauthBulkLen,
}

impl ProtoError {
    /// The error line's text as Redis writes it: the offending byte of "expected '$'" is
    /// sent as is, even when it is not ASCII.
    pub fn message(&self) -> Vec<u8> {
        let text = match self {
            ProtoError::TooBigInline => "ERR Protocol error: too big inline request",
            ProtoError::UnbalancedQuotes => "ERR Protocol error: unbalanced quotes in request",
            ProtoError::TooBigMbulkCount => "ERR Protocol error: too big mbulk count string",
            ProtoError::InvalidMbulkLen => "ERR Protocol error: invalid multibulk length",
            ProtoError::UnauthMbulkLen => "ERR Protocol error: unauthenticated multibulk length",
            ProtoError::ExpectedDollar(c) => {
                let mut m = b"ERR Protocol error: expected '$', got '".to_vec();
                m.push(*c);
                m.push(b'\'');
                return m;
            }
            ProtoError::TooBigBulkCount => "ERR Protocol error: too big bulk count string",
            ProtoError::InvalidBulkLen => "ERR Protocol error: invalid bulk length",
            ProtoError::UnauthBulkLen => "ERR Protocol error: unauthenticated bulk length",
        };
        text.as_bytes().to_vec()
    }
}

/// Where an argument lives: a range of the read buffer, or (inline commands with escapes)
/// bytes the parser had to rewrite.
#[derive(Debug, Clone)]
pub enum ArgLoc {
    Range(usize, usize),
    Owned(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command ends at this offset; its arguments are in `Parser::args`.
    Command(usize),
    /// An empty line or `*0`/`*-1`: consume this many bytes, no command, no reply.
    Empty(usize),
    /// More bytes are needed. `want` is a hint of how many more in total (for big bulks).
    Incomplete { want: usize },
}

/// Resumable request parser. One per connection.
#[derive(Default)]
pub struct Parser {
    /// Arguments of the command being parsed (complete after `Parsed::Command`).
    pub args: Vec<ArgLoc>,
    /// Multibulk state: remaining arguments, and where parsing resumes.
    remaining: Option<usize>,
    pos: usize,
}

pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Parser {
    /// Forget any partial state (after the buffer start moved).
    pub fn reset(&mut self) {
        self.args.clear();
        self.remaining = None;
        self.pos = 0;
    }

    /// Parse one command from the start of `buf` (which always begins at a command boundary).
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtoError> {
        if self.remaining.is_none() {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete { want: 0 });
            }
            self.args.clear();
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            if limits.authenticated {
                if let Some((end, _)) = scan_request(buf, limits.max_bulk_len, &mut self.args) {
                    return Ok(Parsed::Command(end));
                }
                self.args.clear();
            }
            let (line, next) = match read_line(buf, 1) {
                Line::Complete(line, next) => (line, next),
                Line::NoCr if buf.len() > INLINE_MAX => return Err(ProtoError::TooBigMbulkCount),
                Line::NoCr | Line::NoLf => return Ok(Parsed::Incomplete { want: 0 }),
            };
            let count = parse_len(line).ok_or(ProtoError::InvalidMbulkLen)?;
            if count > i32::MAX as i64 {
                return Err(ProtoError::InvalidMbulkLen);
            }
            if !limits.authenticated && count > 10 {
                return Err(ProtoError::UnauthMbulkLen);
            }
            if count <= 0 {
                return Ok(Parsed::Empty(next));
            }
            self.remaining = Some(count as usize);
            self.pos = next;
            // Cap the pre-allocation: the count is attacker-controlled.
            self.args.reserve((count as usize).min(1024));
        }
        let mut remaining = self.remaining.unwrap_or(0);
        while remaining > 0 {
            let pos = self.pos;
            if pos >= buf.len() {
                self.remaining = Some(remaining);
                return Ok(Parsed::Incomplete { want: 0 });
            }
            let (line, next) = match read_line(buf, pos) {
                Line::Complete(line, next) => (line, next),
                Line::NoCr if buf.len() - pos > INLINE_MAX => return Err(ProtoError::TooBigBulkCount),
                Line::NoCr | Line::NoLf => {
                    self.remaining = Some(remaining);
                    return Ok(Parsed::Incomplete { want: 0 });
                }
            };
            if buf[pos] != b'$' {
                return Err(ProtoError::ExpectedDollar(buf[pos]));
            }
            let len = parse_len(&line[1..]).ok_or(ProtoError::InvalidBulkLen)?;
            if len < 0 || len > limits.max_bulk_len {
                return Err(ProtoError::InvalidBulkLen);
            }
            if !limits.authenticated && len > 16384 {
                return Err(ProtoError::UnauthBulkLen);
            }
            let len = len as usize;
            let end = next + len;
            if buf.len() < end + 2 {
                self.remaining = Some(remaining);
                return Ok(Parsed::Incomplete { want: end + 2 - buf.len() });
            }
            // Redis does not check the two bytes after the payload; it skips them.
            self.args.push(ArgLoc::Range(next, end));
            self.pos = end + 2;
            remaining -= 1;
        }
        self.remaining = None;
        let end = self.pos;
        self.pos = 0;
        Ok(Parsed::Command(end))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtoError> {
        // Redis finds the newline with strchr on its NUL-terminated query buffer, so a
        // NUL before the newline hides it: the request stays incomplete (until it
        // outgrows INLINE_MAX).
        let Some(nl) = memchr2(b'\n', 0, buf).filter(|&i| buf[i] == b'\n') else {
            if buf.len() > INLINE_MAX {
                return Err(ProtoError::TooBigInline);
            }
            return Ok(Parsed::Incomplete { want: 0 });
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args = split_args(line).ok_or(ProtoError::UnbalancedQuotes)?;
        if args.is_empty() {
            return Ok(Parsed::Empty(nl + 1));
        }
        self.args.extend(args.into_iter().map(ArgLoc::Owned));
        Ok(Parsed::Command(nl + 1))
    }
}

/// Most requests arrive whole and plain: `*N` and `$len` headers of digits ending in CRLF.
/// For them one pass records the arguments and gives the end and the longest argument's
/// length (the careful path below would find the same, line by line). None (with `args` partly filled) for anything else:
/// incomplete, a header that is not plain digits (`-1`, a leading zero, a NUL or a lone
/// `\r`), a count over 1024, a length over `max_bulk_len`; the careful path decides those.
pub fn scan_request(buf: &[u8], max_bulk_len: i64, args: &mut Vec<ArgLoc>) -> Option<(usize, usize)> {
    let (count, mut pos) = header(buf, 0, b'*')?;
    if count == 0 || count > 1024 {
        return None;
    }
    args.reserve(count);
    let mut longest = 0;
    for _ in 0..count {
        let (len, start) = header(buf, pos, b'$')?;
        if len as u64 > max_bulk_len.max(0) as u64 {
            return None;
        }
        let end = start + len;
        // Redis skips the two bytes after the payload without looking at them.
        if buf.len() < end + 2 {
            return None;
        }
        args.push(ArgLoc::Range(start, end));
        longest = longest.max(len);
        pos = end + 2;
    }
    Some((pos, longest))
}

/// A plain header at `pos`: `marker`, 1 to 10 digits without a leading zero (or just
/// "0"), CRLF. The number and the offset after the CRLF.
#[inline(always)]
fn header(buf: &[u8], pos: usize, marker: u8) -> Option<(usize, usize)> {
    let b = buf.get(pos..)?;
    if *b.first()? != marker {
        return None;
    }
    let mut n: usize = 0;
    let mut i = 1;
    loop {
        let d = b.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i > 10 || (i == 2 && n == 0) {
            return None;
        }
        n = n * 10 + d as usize;
        i += 1;
    }
    (i > 1 && b.get(i..i + 2)? == b"\r\n").then_some((n, pos + i + 2))
}

/// What `read_line` found.
enum Line<'a> {
    /// The line without CRLF, and the offset after CRLF.
    Complete(&'a [u8], usize),
    /// No `\r` yet (the only case where Redis applies its "too big ... count string" limit).
    NoCr,
    /// The `\r` is the last byte: wait for one more, whatever the line's length.
    NoLf,
}

/// A CRLF-terminated line starting at `from`.
/// Like Redis, only `\r` is searched for and the byte after it is assumed to be `\n`.
/// Redis searches with strchr on its NUL-terminated query buffer, so a NUL before the
/// `\r` means "no `\r` yet".
fn read_line(buf: &[u8], from: usize) -> Line<'_> {
    let Some(rel) = find_cr_or_nul(&buf[from..]) else {
        return Line::NoCr;
    };
    let cr = from + rel;
    if buf[cr] == 0 {
        return Line::NoCr;
    }
    if cr + 1 >= buf.len() {
        return Line::NoLf;
    }
    Line::Complete(&buf[from..cr], cr + 2)
}

/// The first `\r` or NUL of `s`. Header lines ("*3", "$16") are a few bytes: a plain
/// loop finds their end before a vectorised search would have started.
fn find_cr_or_nul(s: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    for (i, &c) in s[..s.len().min(SHORT)].iter().enumerate() {
        if c == b'\r' || c == 0 {
            return Some(i);
        }
    }
    if s.len() <= SHORT {
        return None;
    }
    memchr2(b'\r', 0, &s[SHORT..]).map(|i| i + SHORT)
}

/// Redis's string2ll for a length header: optional '-', digits, no '+', no spaces.
fn parse_len(s: &[u8]) -> Option<i64> {
    crate::util::number::parse_i64(s)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Split an inline command line the way redis-cli and Redis's inline parser do (sdssplitargs):
/// whitespace separates arguments; "double quotes" understand \n \r \t \b \a \\ \" and \xHH;
/// 'single quotes' understand only \'; a closing quote must be followed by a space or the end.
/// Returns None for unbalanced quotes.
///
/// Like Redis (which splits a C string), parsing stops at the first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    cur.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if !closes_token(line, i) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if !closes_token(line, i) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

/// A closing quote at `i` must end the token: be followed by a space or the end of line.
fn closes_token(line: &[u8], i: usize) -> bool {
    i + 1 >= line.len() || is_space(line[i + 1])
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true }
    }

    fn args_of(p: &Parser, buf: &[u8]) -> Vec<Vec<u8>> {
        p.args
            .iter()
            .map(|a| match a {
                ArgLoc::Range(s, e) => buf[*s..*e].to_vec(),
                ArgLoc::Owned(v) => v.clone(),
            })
            .collect()
    }

    #[test]
    fn one_pass_scan_agrees_with_the_careful_path() {
        // Whole requests the one-pass scan takes, and ones it leaves to the careful path
        // (which an unauthenticated parse always uses); both must give the same outcome.
        let cases: &[&[u8]] = &[
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"*2\r\n$3\r\nGET\r\n$1\r\nkXY", // the two bytes after a payload are not checked
            b"*2\r\n$03\r\nGET\r\n$1\r\nk\r\n", // leading zero: invalid bulk length
            b"*02\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*2\r\n$-1\r\n",
            b"*2\r\n$3\0\r\nGET\r\n$1\r\nk\r\n", // NUL before CR: waits
            b"*1\r$3\r\nGET\r\n",                // byte after CR taken as LF
            b"*0\r\n",
            b"*-1\r\n",
            b"*2\r\n$3\r\nGET\r\n",
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r",
            b"*1\r\n+3\r\nGET\r\n",
            b"*1\r\n$10000000000\r\n",
            b"*1\r\n$9999\r\nab",
        ];
        for &case in cases {
            for max_bulk_len in [512 * 1024 * 1024, 2] {
                let mut fast = Parser::default();
                let mut careful = Parser::default();
                let a = fast.parse(case, &Limits { max_bulk_len, authenticated: true });
                let b = careful.parse(case, &Limits { max_bulk_len, authenticated: false });
                assert_eq!(a, b, "{:?} limit {max_bulk_len}", String::from_utf8_lossy(case));
                if let Ok(Parsed::Command(_)) = a {
                    assert_eq!(args_of(&fast, case), args_of(&careful, case));
                }
            }
        }
        let mut args = Vec::new();
        assert_eq!(scan_request(cases[0], i64::MAX, &mut args), Some((cases[0].len(), 3)));
        for &case in &cases[3..] {
            assert_eq!(scan_request(case, i64::MAX, &mut Vec::new()), None, "{:?}", String::from_utf8_lossy(case));
        }
        let many = format!("*1025\r\n{}", "$1\r\na\r\n".repeat(1025));
        assert_eq!(scan_request(many.as_bytes(), i64::MAX, &mut Vec::new()), None);
        assert_eq!(Parser::default().parse(many.as_bytes(), &lim()), Ok(Parsed::Command(many.len())));
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let mut p = Parser::default();
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 0..full.len() {
            p.reset();
            let r = p.parse(&full[..cut], &lim()).unwrap();
            assert!(matches!(r, Parsed::Incomplete { .. }), "cut {cut}: {r:?}");
            // resume with the whole buffer
            let r = p.parse(full, &lim()).unwrap();
            assert_eq!(r, Parsed::Command(full.len()));
            assert_eq!(args_of(&p, full), vec![b"GET".to_vec(), b"k".to_vec()]);
        }
    }

    #[test]
    fn inline_quotes() {
        let mut p = Parser::default();
        let buf = b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n";
        assert_eq!(p.parse(buf, &lim()).unwrap(), Parsed::Command(buf.len()));
        assert_eq!(args_of(&p, buf), vec![b"set".to_vec(), b"a b".to_vec(), b"c'd".to_vec(), b"A\n".to_vec()]);
        assert_eq!(p.parse(b"get \"abc\r\n", &lim()), Err(ProtoError::UnbalancedQuotes));
        assert_eq!(p.parse(b"get \"a\"b\r\n", &lim()), Err(ProtoError::UnbalancedQuotes));
        assert_eq!(p.parse(b"\r\n", &lim()).unwrap(), Parsed::Empty(2));
        // A NUL before the newline hides it, as strchr does in Redis: wait for more.
        assert_eq!(p.parse(b"\x00-60$\n", &lim()).unwrap(), Parsed::Incomplete { want: 0 });
        assert_eq!(split_args(b"get a\x00b c"), Some(vec![b"get".to_vec(), b"a".to_vec()]));
        // \v separates tokens only between them (isspace), not inside one (Redis's switch).
        assert_eq!(split_args(b"a\x0bb \x0bc"), Some(vec![b"a\x0bb".to_vec(), b"c".to_vec()]));
    }

    #[test]
    fn protocol_errors() {
        let mut p = Parser::default();
        assert_eq!(p.parse(b"*x\r\n", &lim()), Err(ProtoError::InvalidMbulkLen));
        p.reset();
        assert_eq!(p.parse(b"*1\r\nfoo\r\n", &lim()), Err(ProtoError::ExpectedDollar(b'f')));
        p.reset();
        assert_eq!(p.parse(b"*1\r\n$-1\r\n", &lim()), Err(ProtoError::InvalidBulkLen));
        p.reset();
        assert_eq!(p.parse(b"*0\r\n", &lim()).unwrap(), Parsed::Empty(4));
        p.reset();
        assert_eq!(p.parse(b"*-5\r\n", &lim()).unwrap(), Parsed::Empty(5));
        p.reset();
        let unauth = Limits { max_bulk_len: 100, authenticated: false };
        assert_eq!(p.parse(b"*11\r\n", &unauth), Err(ProtoError::UnauthMbulkLen));
        p.reset();
        assert_eq!(p.parse(b"*1\r\n$101\r\n", &unauth), Err(ProtoError::InvalidBulkLen));
    }

    /// Found by fuzz/ (parse_request), checked against redis-server: Redis looks for the
    /// line end with strchr, so a NUL before it means "no line end yet" (the request waits
    /// and only the 64k limit ends it); cinnabar used to parse or reject such lines at once.
    #[test]
    fn nul_before_line_end_waits_like_redis() {
        let mut p = Parser::default();
        for buf in [
            &b"PING\x00\n"[..],
            b"PING\x00\r\nPING\r\n",
            b"*1\x00\r\n$4\r\nPING\r\n",
            b"*1\r\n\x00\r\n",
            b"*1\r\n$4\x00\r\nPING\r\n",
            b"*1\r\n$\x004\r\nPING\r\n",
        ] {
            p.reset();
            assert_eq!(p.parse(buf, &lim()), Ok(Parsed::Incomplete { want: 0 }), "{buf:?}");
        }
        // NULs inside a bulk payload or after the line end are just bytes.
        p.reset();
        let buf = b"*1\r\n$4\r\nP\x00NG\r\n";
        assert_eq!(p.parse(buf, &lim()), Ok(Parsed::Command(buf.len())));
        assert_eq!(args_of(&p, buf), vec![b"P\x00NG".to_vec()]);
        p.reset();
        assert_eq!(p.parse(b"PING\r\n\x00", &lim()), Ok(Parsed::Command(6)));
        // The hidden line end only ends with the size limits.
        let mut big = b"PING\x00\n".to_vec();
        big.resize(INLINE_MAX + 1, b'x');
        p.reset();
        assert_eq!(p.parse(&big, &lim()), Err(ProtoError::TooBigInline));
        let mut big = b"*1\x00\r\n".to_vec();
        big.resize(INLINE_MAX + 2, b'x');
        p.reset();
        assert_eq!(p.parse(&big, &lim()), Err(ProtoError::TooBigMbulkCount));
        let mut big = b"*1\r\n$\x00\r\n".to_vec();
        big.resize(INLINE_MAX + 6, b'x');
        p.reset();
        assert_eq!(p.parse(&big, &lim()), Err(ProtoError::TooBigBulkCount));
    }

    /// Checked against redis-server: a header line longer than 64k whose `\r` has arrived
    /// but not its `\n` waits (the "too big ... count string" limit applies only while no
    /// `\r` has been seen); once complete it is an invalid length.
    #[test]
    fn long_header_with_lone_cr_waits_like_redis() {
        let mut p = Parser::default();
        for (prefix, err) in [(&b"*"[..], ProtoError::InvalidMbulkLen), (b"*1\r\n$", ProtoError::InvalidBulkLen)] {
            let mut line = prefix.to_vec();
            line.resize(prefix.len() + 70000, b'0');
            p.reset();
            let big = if prefix.len() == 1 { ProtoError::TooBigMbulkCount } else { ProtoError::TooBigBulkCount };
            assert_eq!(p.parse(&line, &lim()), Err(big));
            line.push(b'\r');
            p.reset();
            assert_eq!(p.parse(&line, &lim()), Ok(Parsed::Incomplete { want: 0 }));
            line.push(b'\n');
            p.reset();
            assert_eq!(p.parse(&line, &lim()), Err(err));
        }
    }
}

/// A range of a buffer: start and end offsets.
pub type Span = (usize, usize);

/// What `peek_key` saw of a request: ranges in the buffer it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek {
    /// The second argument (the first key of most commands); for a script call (EVAL,
    /// EVALSHA, FCALL and their _RO forms) with keys, its first key (the fourth argument).
    pub key: Option<(usize, usize)>,
    /// A guess at the member a collection command names: the fourth argument of a
    /// four-argument command starting with 'z' (ZADD key score member, ZINCRBY key incr
    /// member), the third argument of any other command (HSET key field value, SADD key
    /// member, ZSCORE key member ...). A wrong guess only costs a useless prefetch.
    pub member: Option<(usize, usize)>,
    /// The request's length in bytes.
    pub len: usize,
}

/// Is `name` (any case) a command that runs a script: EVAL, EVALSHA, FCALL or their _RO
/// forms? (The scripts thread takes these; `peek_key` finds their keys after numkeys.)
#[inline]
pub fn is_script_call(name: &[u8]) -> bool {
    // Asked for every command: the first byte rules out nearly all of them at once.
    matches!(name.first(), Some(b'e' | b'E' | b'f' | b'F'))
        && matches!(name.len(), 4..=10)
        && ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// The prefetcher's look at a whole plain request (`scan_request`): its key and member
/// guess. None for what the one-pass scan leaves to the careful path.
pub fn peek_key(buf: &[u8]) -> Option<Peek> {
    let mut args = Vec::new();
    let (len, _) = scan_request(buf, i64::MAX, &mut args)?;
    let (key, member) = peek_args(buf, &args);
    Some(Peek { key, member, len })
}

/// The key and member guess (`Peek`) of a request whose arguments are `args`, ranges of
/// `buf` (an inline request's rewritten arguments give neither).
pub fn peek_args(buf: &[u8], args: &[ArgLoc]) -> (Option<Span>, Option<Span>) {
    let at = |i: usize| match args.get(i) {
        Some(ArgLoc::Range(s, e)) => Some((*s, *e)),
        _ => None,
    };
    let Some((s, e)) = at(0) else {
        return (None, None);
    };
    let name = &buf[s..e];
    let argc = args.len();
    if argc >= 4 && is_script_call(name) {
        // A script call: its keys follow the script and their count (an empty count is no
        // "0": the byte after it is the bulk's terminator, not the count).
        let keys = at(2).is_some_and(|(s, e)| buf[s..e].first() != Some(&b'0'));
        return (if keys { at(3) } else { None }, None);
    }
    let zset = argc == 4 && matches!(name.first(), Some(b'z' | b'Z'));
    (at(1), if zset { at(3) } else { at(2) })
}

#[cfg(test)]
mod peek_tests {
    use super::{peek_key, Peek};

    #[test]
    fn peeks_the_second_argument() {
        let req = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n";
        let p = peek_key(req).unwrap();
        let at = |r: Option<(usize, usize)>| &req[r.unwrap().0..r.unwrap().1];
        assert_eq!(at(p.key), b"key");
        assert_eq!(at(p.member), b"v");
        assert_eq!(peek_key(&req[p.len..]), Some(Peek { key: None, member: None, len: 14 }));
        let z = b"*4\r\n$4\r\nzadd\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\nm\r\n";
        let p = peek_key(z).unwrap();
        assert_eq!(&z[p.member.unwrap().0..p.member.unwrap().1], b"m");
        let e = b"*6\r\n$7\r\nEvalSha\r\n$3\r\nabc\r\n$1\r\n1\r\n$2\r\nk1\r\n$3\r\n100\r\n$2\r\n60\r\n";
        let p = peek_key(e).unwrap();
        assert_eq!((&e[p.key.unwrap().0..p.key.unwrap().1], p.member), (&b"k1"[..], None));
        let e0 = b"*4\r\n$4\r\neval\r\n$3\r\nabc\r\n$1\r\n0\r\n$1\r\nx\r\n";
        assert_eq!(peek_key(e0).unwrap().key, None);
        // Found by fuzz/parse_request: an empty numkeys was read as "0" from the byte after
        // it (a bulk's terminator is skipped unchecked, as in Redis).
        let e_empty = b"*4\r\n$5\r\nfcall\r\n$1\r\nf\r\n$0\r\n0\n$1\r\nx\r\n";
        let p = peek_key(e_empty).unwrap();
        assert_eq!(&e_empty[p.key.unwrap().0..p.key.unwrap().1], b"x");
        let h = b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n";
        let p = peek_key(h).unwrap();
        assert_eq!(&h[p.member.unwrap().0..p.member.unwrap().1], b"f");
        assert_eq!(peek_key(b"*2\r\n$3\r\nGET\r\n$3\r\nke"), None);
        assert_eq!(peek_key(b"GET key\r\n"), None);
        assert_eq!(peek_key(b"*\r\n"), None);
        assert_eq!(peek_key(b"*99999999999999999999\r\n"), None);
        assert_eq!(peek_key(b"*1\r\n$18446744073709551615\r\n"), None);
    }
}
