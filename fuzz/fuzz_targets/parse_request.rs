//! Feeds arbitrary bytes to the request parser the way the connection loop (src/net.rs)
//! does: the input arrives in chunks, each `parse` call sees the unconsumed tail of the
//! read buffer, complete commands and empty lines are consumed, `Incomplete` waits for
//! the next chunk (parser state kept), and the first protocol error ends the connection.
//!
//! Input layout: byte 0 = flags (bit 0: authenticated; bits 1..=3: max_bulk_len choice),
//! byte 1 = number N (0..=15) of chunk-size bytes that follow; the rest is the stream,
//! cut into chunks of those sizes (cycled; N = 0: one chunk).
//!
//! The prefetcher's `peek_key` (the one-pass `scan_request` the parser also uses for whole
//! plain requests) looks at the same bytes (never panicking, and agreeing with
//! the parser on every command it recognises).
//!
//! Besides "no panic", it checks: offsets within the buffer, progress on every
//! Command/Empty, argument ranges inside the consumed command, `args` bounded by the
//! bytes consumed, the `want` hint bounded by max_bulk_len, and that the outcome (the
//! commands with their argument bytes, then the error or the wait) does not depend on
//! how the stream was cut into reads.
#![no_main]

use cinnabar::resp::parse::{peek_key, ArgLoc, Limits, Parsed, Parser, ProtoError, INLINE_MAX};
use libfuzzer_sys::fuzz_target;

const BULK_LIMITS: [i64; 8] = [512 * 1024 * 1024, 0, 1, 3, 16, 100, 16384, i64::MAX];

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Command(Vec<Vec<u8>>),
    Empty,
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Waiting,
    Error(ProtoError),
}

/// Smallest number of bytes one multibulk argument can occupy: "$0\r\n" + "\r\n".
const MIN_ARG_BYTES: usize = 6;

fn check_args(p: &Parser, buf: &[u8], end: usize) -> Vec<Vec<u8>> {
    let multibulk = buf[0] == b'*';
    let mut owned_total = 0usize;
    let mut out = Vec::with_capacity(p.args.len());
    for a in &p.args {
        match a {
            ArgLoc::Range(s, e) => {
                assert!(multibulk, "range argument in an inline command");
                assert!(s <= e, "argument range reversed: {s}..{e}");
                assert!(*s >= 4, "argument starts inside the *N header: {s}");
                assert!(e + 2 <= end, "argument {s}..{e} not inside the command (end {end})");
                out.push(buf[*s..*e].to_vec());
            }
            ArgLoc::Owned(v) => {
                assert!(!multibulk, "owned argument in a multibulk command");
                owned_total += v.len();
                out.push(v.clone());
            }
        }
    }
    if multibulk {
        assert!(p.args.len() * MIN_ARG_BYTES + 4 <= end, "{} args in {end} bytes", p.args.len());
    } else {
        assert!(owned_total <= end, "inline args total {owned_total} > line {end}");
        assert!(p.args.len() <= end, "{} inline args in {end} bytes", p.args.len());
    }
    out
}

/// One connection: `chunks` arrive one read at a time.
fn run(chunks: &[&[u8]], limits: &Limits) -> (Vec<Event>, End) {
    let mut parser = Parser::default();
    let mut rbuf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut max_args = 0usize;
    for chunk in chunks {
        rbuf.extend_from_slice(chunk);
        let mut consumed = 0usize;
        loop {
            let buf = &rbuf[consumed..];
            let _ = peek_key(buf);
            let r = parser.parse(buf, limits);
            max_args = max_args.max(parser.args.len());
            assert!(
                parser.args.capacity() <= 1024usize.max(2 * max_args),
                "args capacity {} for at most {} args",
                parser.args.capacity(),
                max_args
            );
            match r {
                Ok(Parsed::Command(end)) => {
                    assert!(end > 0 && end <= buf.len(), "Command({end}) with {} bytes", buf.len());
                    assert!(!parser.args.is_empty(), "Command with no arguments");
                    let args = check_args(&parser, buf, end);
                    // The prefetcher's quick look, when it sees a request, sees this one.
                    if let Some(p) = peek_key(buf) {
                        assert_eq!(p.len, end, "peek_key length");
                        // A script call's key is its first declared key (none with 0 keys).
                        let script = args.len() >= 4
                            && ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]
                                .iter()
                                .any(|n| args[0].eq_ignore_ascii_case(n.as_bytes()));
                        let key = match script {
                            true if args[2].first() == Some(&b'0') => None,
                            true => args.get(3),
                            false => args.get(1),
                        };
                        assert_eq!(p.key.map(|(s, e)| buf[s..e].to_vec()), key.cloned(), "peek_key key");
                        let zset = args.len() == 4 && matches!(args[0].first(), Some(b'z' | b'Z'));
                        let guess = if script {
                            None
                        } else if zset {
                            args.get(3)
                        } else {
                            args.get(2)
                        };
                        assert_eq!(p.member.map(|(s, e)| buf[s..e].to_vec()), guess.cloned(), "peek_key member");
                    }
                    events.push(Event::Command(args));
                    consumed += end;
                }
                Ok(Parsed::Empty(n)) => {
                    assert!(n > 0 && n <= buf.len(), "Empty({n}) with {} bytes", buf.len());
                    events.push(Event::Empty);
                    consumed += n;
                }
                Ok(Parsed::Incomplete { want }) => {
                    if !buf.is_empty() && buf[0] == b'*' {
                        assert!(parser.args.len() * MIN_ARG_BYTES <= buf.len());
                    }
                    let cap = limits.max_bulk_len.max(0) as u64 + 2;
                    assert!(want as u64 <= cap, "want {want} beyond max_bulk_len");
                    break;
                }
                Err(e) => {
                    assert!(e.message().starts_with(b"ERR Protocol error: "));
                    return (events, End::Error(e));
                }
            }
        }
        rbuf.drain(..consumed);
    }
    (events, End::Waiting)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let flags = data[0];
    let limits = Limits { authenticated: flags & 1 != 0, max_bulk_len: BULK_LIMITS[((flags >> 1) & 7) as usize] };
    let n = (data[1] & 15) as usize;
    if data.len() < 2 + n {
        return;
    }
    let sizes = &data[2..2 + n];
    let stream = &data[2 + n..];

    let mut chunks: Vec<&[u8]> = Vec::new();
    if sizes.is_empty() {
        chunks.push(stream);
    } else {
        let mut rest = stream;
        let mut i = 0;
        while !rest.is_empty() {
            let k = (sizes[i % sizes.len()] as usize).clamp(1, rest.len());
            chunks.push(&rest[..k]);
            rest = &rest[k..];
            i += 1;
        }
    }
    let chunked = run(&chunks, &limits);

    // Byte-at-a-time and all-at-once must agree with the fuzzer's cut, as long as the
    // 64k no-newline limits cannot trigger (those depend on read boundaries, as in Redis).
    if stream.len() <= INLINE_MAX {
        let whole = run(&[stream], &limits);
        assert_eq!(chunked, whole, "outcome depends on how the stream is cut");
        if stream.len() <= 512 {
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            let single = run(&bytes, &limits);
            assert_eq!(single, whole, "byte-at-a-time outcome differs");
        }
    }
});
