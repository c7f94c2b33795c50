//! Reply encoding for RESP2 and RESP3, straight into the connection's output buffer.
//!
//! Handlers never build a reply tree: like Redis's addReply* family they append protocol
//! bytes as they go, so GET costs one memcpy of the value and no allocation. The RESP2/RESP3
//! differences (null, map, set, double, boolean, verbatim, push) live here and nowhere else.
//! Aggregates whose length is unknown up front use `begin_deferred` / `end_deferred`, which
//! patches the header in place (Redis's setDeferredArrayLen).

pub struct ReplyWriter {
    pub buf: Vec<u8>,
    pub resp3: bool,
    /// Where the current command wrote Pub/Sub pushes to its own client (SUBSCRIBE's
    /// confirmations, its own messages and keyspace events): Redis sends them whatever
    /// CLIENT REPLY says (its CLIENT_PUSHING flag), so OFF/SKIP keeps them
    /// (`Client::after_reply`, which forgets them after every command).
    pub pushes: Vec<std::ops::Range<usize>>,
    /// The bytes at the front of `buf` that are on the socket already (the connection
    /// drops them once they are worth moving the rest for: `net::settle`).
    pub sent: usize,
}

/// What a deferred aggregate header will become.
#[derive(Clone, Copy)]
pub enum Agg {
    Array,
    Map,
    Set,
}

pub struct Deferred {
    at: usize,
    kind: Agg,
}

impl ReplyWriter {
    pub fn new(resp3: bool) -> Self {
        Self::with_capacity(16 * 1024, resp3)
    }

    /// A small writer, for one reply inside a script (redis.call).
    pub fn small(resp3: bool) -> Self {
        Self::with_capacity(64, resp3)
    }

    pub fn with_capacity(bytes: usize, resp3: bool) -> Self {
        ReplyWriter { buf: Vec::with_capacity(bytes), resp3, pushes: Vec::new(), sent: 0 }
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `msg` is the full error text without the leading '-', e.g. "ERR syntax error".
    /// Newlines would break the protocol; Redis replaces them with spaces. A `msg` that does
    /// start with '-' is written as it is, CR and LF included: Redis's addReplyErrorLength
    /// of a whole error line (a script's error table in 7.2).
    pub fn error(&mut self, msg: &str) {
        if msg.starts_with('-') {
            self.buf.extend_from_slice(msg.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
            return;
        }
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(msg.as_bytes());
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error or status line from arbitrary bytes (script replies), CR and LF replaced
    /// by spaces as Redis does. `tag` is b'-' or b'+'.
    pub fn line_bytes(&mut self, tag: u8, msg: &[u8]) {
        self.buf.push(tag);
        self.buf.extend(msg.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A big number: RESP3 `(`, a bulk string under RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, s: &[u8]) {
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    pub fn nil(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    pub fn nil_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs; under RESP2 a flat array of 2n elements.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    pub fn push(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'>', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    pub fn bool(&mut self, v: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A double: RESP3 `,` type, RESP2 bulk string, formatted as Redis 7.2 does.
    pub fn double(&mut self, v: f64) {
        // The text goes straight into the buffer, then its header in front of it (a
        // double's text is at most 24 bytes: the move is short).
        let start = self.buf.len();
        crate::util::number::write_f64(v, &mut self.buf);
        let n = self.buf.len() - start;
        let mut head = [b',', 0, 0, b'\r', b'\n'];
        let head: &[u8] = if self.resp3 {
            &head[..1]
        } else if n < 10 {
            head = [b'$', b'0' + n as u8, b'\r', b'\n', 0];
            &head[..4]
        } else {
            head = [b'$', b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8, b'\r', b'\n'];
            &head[..5]
        };
        self.buf.extend_from_slice(head);
        self.buf[start..].rotate_right(head.len());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Verbatim text (RESP3 `=` with a 3-letter format), a bulk string under RESP2.
    pub fn verbatim(&mut self, fmt: &str, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.extend_from_slice(fmt.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn bulks<I, T>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.array(items.len());
        for it in items {
            self.bulk(it.as_ref());
        }
    }

    pub fn begin_deferred(&mut self, kind: Agg) -> Deferred {
        let at = self.buf.len();
        Deferred { at, kind }
    }

    /// `n` counts elements (arrays/sets) or pairs (maps).
    pub fn end_deferred(&mut self, d: Deferred, n: usize) {
        let (tag, count) = match d.kind {
            Agg::Array => (b'*', n),
            Agg::Set => (if self.resp3 { b'~' } else { b'*' }, n),
            Agg::Map => {
                if self.resp3 {
                    (b'%', n)
                } else {
                    (b'*', 2 * n)
                }
            }
        };
        let mut hdr = Vec::with_capacity(24);
        hdr.push(tag);
        hdr.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        hdr.extend_from_slice(b"\r\n");
        self.buf.splice(d.at..d.at, hdr);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reply bytes not on the socket yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// What was written from `start` is a push (see `pushes`).
    pub fn pushed_from(&mut self, start: usize) {
        self.pushes.push(start..self.buf.len());
    }

    /// Drop everything written after `mark` (used when a reply must be withdrawn, e.g.
    /// CLIENT REPLY OFF/SKIP).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut w = ReplyWriter::new(false);
        w.map(1);
        w.bulk(b"a");
        w.nil();
        w.bool(true);
        assert_eq!(w.buf, b"*2\r\n$1\r\na\r\n$-1\r\n:1\r\n");
        let mut w = ReplyWriter::new(true);
        w.map(1);
        w.bulk(b"a");
        w.nil();
        w.bool(true);
        assert_eq!(w.buf, b"%1\r\n$1\r\na\r\n_\r\n#t\r\n");
    }

    #[test]
    fn doubles_after_other_replies() {
        for v in [0.0, -0.0, 3.0, -2.5, 1e-7, 0.1, -1.7976931348623157e308, f64::INFINITY, f64::NAN] {
            let text = crate::util::number::fmt_f64(v);
            let mut w = ReplyWriter::new(false);
            w.int(7);
            w.double(v);
            assert_eq!(w.buf, format!(":7\r\n${}\r\n{}\r\n", text.len(), text).as_bytes());
            let mut w = ReplyWriter::new(true);
            w.int(7);
            w.double(v);
            assert_eq!(w.buf, format!(":7\r\n,{}\r\n", text).as_bytes());
        }
    }

    #[test]
    fn deferred() {
        let mut w = ReplyWriter::new(false);
        w.int(1);
        let d = w.begin_deferred(Agg::Map);
        w.bulk(b"k");
        w.int(2);
        w.end_deferred(d, 1);
        assert_eq!(w.buf, b":1\r\n*2\r\n$1\r\nk\r\n:2\r\n");
    }

    #[test]
    fn error_newlines_replaced() {
        let mut w = ReplyWriter::new(false);
        w.error("ERR a\r\nb");
        assert_eq!(w.buf, b"-ERR a  b\r\n");
        let mut w = ReplyWriter::new(false);
        w.error("-ERR a\nb");
        assert_eq!(w.buf, b"-ERR a\nb\r\n");
    }
}
