//! Stream commands (Redis's t_stream.c command half): XADD XLEN XDEL XTRIM XRANGE
//! XREVRANGE XSETID. Consumer groups and reads (XREAD, XREADGROUP, XGROUP, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM, XINFO) are in `stream_group`. The representation is
//! `data::stream`.

use crate::command::Error;
use crate::data::stream::StreamId;
use crate::util::number::parse_u64_c;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Parse a stream id argument as Redis's streamGenericParseIDOrReply does: "ms" (seq =
/// `missing_seq`) or "ms-seq", each part by `string2ull`; "-" and "+" are the minimum and
/// maximum unless `strict`; with `seq_star`, "ms-*" gives (ms-0, false) — the bool says
/// whether the sequence was given. Redis copies the argument into a C string of at most
/// 127 bytes, so a longer one is invalid and a NUL ends it.
pub fn parse_id_full(arg: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Result<(StreamId, bool), Error> {
    let invalid = || Error::msg(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(d) => (&arg[..d], Some(&arg[d + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64_c(ms).ok_or_else(invalid)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64_c(s).ok_or_else(invalid)?), true)),
    }
}

/// `parse_id_full` without the "ms-*" form (streamParseIDOrReply / streamParseStrictIDOrReply).
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Error> {
    parse_id_full(arg, missing_seq, strict, false).map(|(id, _)| id)
}
