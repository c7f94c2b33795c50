//! `cjson`: lua-cjson 2.1.0 as Redis ships it.
//!
//! Encoding: numbers with `%.14g` (`encode_number_precision`), NaN/Inf refused unless
//! `encode_invalid_numbers`; strings escape `"` `\` `/`, the control characters and DEL;
//! a table is an array when every key is a positive integer (missing entries become null)
//! unless it is "excessively sparse", else an object in `next` order with number keys
//! formatted as numbers; an empty table is `{}`; `cjson.null` (a NULL light userdata) is null.
//! Decoding: strtod numbers (hex, inf and nan accepted by default), \u escapes with surrogate
//! pairs, null -> `cjson.null`, errors "Expected X but found Y at character N".
//!
//! Each `cjson` table (the global one and each `cjson.new()`) has its own configuration, a
//! userdata shared by its functions as their upvalue, as in the original.

use std::os::raw::c_int;

use mlua::ffi::{self, lua_State};

use super::{
    arg_err, c_double_to_i32, check_integer, check_lstring, err, lua_cfn, push_bytes, set_field_str, set_funcs,
    type_name, LRes,
};

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Config {
    encode_sparse_convert: c_int,
    encode_sparse_ratio: c_int,
    encode_sparse_safe: c_int,
    encode_max_depth: c_int,
    encode_invalid_numbers: c_int, // 0 off, 1 on, 2 "null"
    encode_number_precision: c_int,
    encode_keep_buffer: c_int,
    decode_invalid_numbers: c_int,
    decode_max_depth: c_int,
}

const DEFAULT_CONFIG: Config = Config {
    encode_sparse_convert: 0,
    encode_sparse_ratio: 2,
    encode_sparse_safe: 10,
    encode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: 1,
    decode_invalid_numbers: 1,
    decode_max_depth: 1000,
};

unsafe fn fetch_config(l: *mut lua_State) -> LRes<*mut Config> {
    let cfg = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut Config;
    if cfg.is_null() {
        return Err(err("BUG: Unable to fetch CJSON configuration"));
    }
    Ok(cfg)
}

// ---------------------------------------------------------------------------------------
// Number formatting: C's "%.<prec>g".

/// Append `x` formatted as printf's `%.{prec}g` (glibc: exact decimal value, ties to even).
pub(crate) fn format_g(out: &mut Vec<u8>, x: f64, prec: usize) {
    let prec = prec.max(1);
    if x.is_nan() {
        out.extend_from_slice(if x.is_sign_negative() { b"-nan" } else { b"nan" });
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // Rust's exact formatting gives the correctly rounded significant digits.
    let sci = format!("{:.*e}", prec - 1, x.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    if x < 0.0 {
        out.push(b'-');
    }
    if exp < -4 || exp >= prec as i32 {
        out.push(digits[0]);
        let frac = trim_zeros(&digits[1..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.extend_from_slice(&digits[..int_len]);
        let frac = trim_zeros(&digits[int_len..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(&digits));
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().rposition(|&c| c != b'0').map_or(0, |p| p + 1);
    &d[..n]
}

// ---------------------------------------------------------------------------------------
// Encoding.

unsafe fn encode_exception(l: *mut lua_State, idx: c_int, reason: &str) -> super::LErr {
    err(format!("Cannot serialise {}: {}", type_name(ffi::lua_type(l, idx)), reason))
}

/// Whether `c` is written as an escape sequence.
#[inline]
fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\' || c == b'/' || c == 0x7f
}

/// The JSON text of a string: quoted, with `"` `\` `/`, the control characters and DEL
/// escaped (`\b \f \n \r \t` short, the others as `\u00xx`); other bytes are copied.
pub(crate) fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut run = 0; // start of the pending run of bytes copied as they are
    for (i, &c) in s.iter().enumerate() {
        if !needs_escape(c) {
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        run = i + 1;
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

unsafe fn string_at<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    std::slice::from_raw_parts(p as *const u8, len)
}

unsafe fn append_number(l: *mut lua_State, cfg: &Config, out: &mut Vec<u8>, idx: c_int) -> LRes<()> {
    let num = ffi::lua_tonumber(l, idx);
    match cfg.encode_invalid_numbers {
        0 => {
            if !num.is_finite() {
                return Err(encode_exception(l, idx, "must not be NaN or Inf"));
            }
        }
        1 => {
            if num.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if !num.is_finite() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    format_g(out, num, cfg.encode_number_precision as usize);
    Ok(())
}

/// Array length of the table on top: the largest key when every key is an integer >= 1
/// (and the array is not excessively sparse), -1 otherwise. As in the original the largest
/// key is kept in a C int (keys of 2^31 and more make it INT_MIN).
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> LRes<c_int> {
    let mut max: c_int = 0;
    let mut items: c_int = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > max as f64 {
                    max = c_double_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_settop(l, -2);
                continue;
            }
        }
        ffi::lua_settop(l, -3);
        return Ok(-1);
    }
    if cfg.encode_sparse_ratio > 0 && max > items.wrapping_mul(cfg.encode_sparse_ratio) && max > cfg.encode_sparse_safe
    {
        if cfg.encode_sparse_convert == 0 {
            return Err(encode_exception(l, -1, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// An open table during encoding.
enum EncFrame {
    /// Emitting elements 1..=len; `i` is the last one started.
    Array { i: c_int, len: c_int },
    /// Iterating with `lua_next`; the key is on the Lua stack while its value is encoded.
    Object { comma: bool },
}

/// Encode the value on top of the Lua stack (left there). Tables are walked with an explicit
/// stack of frames rather than recursion, so deep nesting needs no native stack; the Lua
/// stack operations (and so the `lua_checkstack` limits) are those of the recursive original:
/// per open array the element, per open object the key and the value.
unsafe fn encode_value(l: *mut lua_State, cfg: &Config, out: &mut Vec<u8>) -> LRes<()> {
    let mut frames: Vec<EncFrame> = Vec::new();
    // true: the value on top of the Lua stack is to be encoded; false: a value was just
    // finished and the innermost frame continues.
    let mut fresh = true;
    loop {
        if fresh {
            match ffi::lua_type(l, -1) {
                ffi::LUA_TSTRING => append_string(out, string_at(l, -1)),
                ffi::LUA_TNUMBER => append_number(l, cfg, out, -1)?,
                ffi::LUA_TBOOLEAN => {
                    out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 { b"true" } else { b"false" })
                }
                ffi::LUA_TTABLE => {
                    let depth = frames.len() as c_int + 1;
                    if !(depth <= cfg.encode_max_depth && ffi::lua_checkstack(l, 3) != 0) {
                        return Err(err(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    let len = array_length(l, cfg)?;
                    if len > 0 {
                        out.push(b'[');
                        frames.push(EncFrame::Array { i: 0, len });
                    } else {
                        out.push(b'{');
                        ffi::lua_pushnil(l);
                        frames.push(EncFrame::Object { comma: false });
                    }
                    fresh = false;
                    continue;
                }
                ffi::LUA_TNIL => out.extend_from_slice(b"null"),
                ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => out.extend_from_slice(b"null"),
                _ => return Err(encode_exception(l, -1, "type not supported")),
            }
            // A scalar is done: drop it if it was an element or a member value.
            if frames.is_empty() {
                return Ok(());
            }
            ffi::lua_settop(l, -2);
            fresh = false;
            continue;
        }
        // Continue the innermost open table.
        let Some(frame) = frames.last_mut() else { return Ok(()) };
        let finished = match frame {
            EncFrame::Array { i, len } => {
                if *i < *len {
                    *i += 1;
                    if *i > 1 {
                        out.push(b',');
                    }
                    ffi::lua_rawgeti_(l, -1, *i);
                    fresh = true;
                    false
                } else {
                    out.push(b']');
                    true
                }
            }
            EncFrame::Object { comma } => {
                if ffi::lua_next(l, -2) != 0 {
                    if *comma {
                        out.push(b',');
                    } else {
                        *comma = true;
                    }
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNUMBER => {
                            out.push(b'"');
                            append_number(l, cfg, out, -2)?;
                            out.extend_from_slice(b"\":");
                        }
                        ffi::LUA_TSTRING => {
                            append_string(out, string_at(l, -2));
                            out.push(b':');
                        }
                        _ => return Err(encode_exception(l, -2, "table key must be a number or string")),
                    }
                    fresh = true;
                    false
                } else {
                    out.push(b'}');
                    true
                }
            }
        };
        if finished {
            frames.pop();
            if frames.is_empty() {
                return Ok(());
            }
            ffi::lua_settop(l, -2); // the finished table was an element or a member value
        }
    }
}

unsafe fn json_encode(l: *mut lua_State) -> LRes<c_int> {
    let cfg = *fetch_config(l)?;
    if ffi::lua_gettop(l) != 1 {
        return Err(arg_err(1, "expected 1 argument"));
    }
    let mut out = Vec::new();
    encode_value(l, &cfg, &mut out)?;
    push_bytes(l, &out);
    Ok(1)
}

// ---------------------------------------------------------------------------------------
// strtod, as glibc's accepts numbers in the C locale.

/// Parse the longest prefix of `s` that glibc's `strtod` accepts (no leading white space
/// here). Returns the value and the number of bytes used, or `None` when nothing converts.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i.min(s.len())..];
    if starts_with_ci(rest, b"inf") {
        let n = if starts_with_ci(rest, b"infinity") { 8 } else { 3 };
        return Some((sign(f64::INFINITY), i + n));
    }
    if starts_with_ci(rest, b"nan") {
        let mut n = 3;
        let mut bits = 0x7ff8_0000_0000_0000u64;
        if at(i + 3) == b'(' {
            let body_start = i + 4;
            let mut j = body_start;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                if let Some(payload) = strtoull_all(&s[body_start..j]) {
                    bits |= payload & ((1u64 << 51) - 1);
                }
                n = j + 1 - i;
            }
        }
        if neg {
            bits |= 1 << 63;
        }
        return Some((f64::from_bits(bits), i + n));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        if let Some((v, n)) = hex_float(&s[i + 2..]) {
            return Some((sign(v), i + 2 + n));
        }
        // "0x" without hex digits: just the "0".
        return Some((sign(0.0), i + 1));
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    let start = i;
    let mut j = i;
    let mut ndig = 0;
    while at(j).is_ascii_digit() {
        j += 1;
        ndig += 1;
    }
    if at(j) == b'.' {
        j += 1;
        while at(j).is_ascii_digit() {
            j += 1;
            ndig += 1;
        }
    }
    if ndig == 0 {
        return None;
    }
    if at(j) | 0x20 == b'e' {
        let mut k = j + 1;
        if at(k) == b'+' || at(k) == b'-' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).ok()?;
    let v: f64 = parse_decimal(text);
    Some((sign(v), j))
}

/// Correctly rounded value of a decimal literal (digits, optional point, optional exponent).
fn parse_decimal(text: &str) -> f64 {
    if let Ok(v) = text.parse::<f64>() {
        return v;
    }
    // Rust rejects some forms strtod takes ("1." is fine, but a huge exponent may not be):
    // clamp the exponent, which cannot change the result beyond +-99999.
    let (mant, exp) = match text.find(['e', 'E']) {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, "0"),
    };
    let (eneg, edigits) = match exp.as_bytes().first() {
        Some(b'-') => (true, &exp[1..]),
        Some(b'+') => (false, &exp[1..]),
        _ => (false, exp),
    };
    let e: i64 = edigits.bytes().fold(0i64, |a, d| (a * 10 + (d - b'0') as i64).min(1_000_000_000));
    let e = if eneg { -e } else { e };
    format!("{mant}e{e}").parse::<f64>().unwrap_or(0.0)
}

fn starts_with_ci(s: &[u8], pat: &[u8]) -> bool {
    s.len() >= pat.len() && s[..pat.len()].eq_ignore_ascii_case(pat)
}

/// `strtoull(s, &end, 0)` when it consumes all of `s` (glibc's NaN payload rule).
fn strtoull_all(s: &[u8]) -> Option<u64> {
    let (digits, radix) = if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit() {
        (&s[2..], 16)
    } else if s.first() == Some(&b'0') {
        (s, 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for &c in digits {
        let d = (c as char).to_digit(radix)? as u64;
        match v.checked_mul(radix as u64).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    Some(if overflow { u64::MAX } else { v })
}

/// A hexadecimal floating constant after "0x": hex digits [. hex digits] [p [sign] digits],
/// rounded to nearest even like glibc. Returns the value and the bytes used.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut mant: u64 = 0; // up to 60 significant bits
    let mut exp: i64 = 0; // binary exponent adjustment
    let mut sticky = false;
    let mut ndig = 0;
    let add_digit = |d: u64, frac: bool, mant: &mut u64, exp: &mut i64, sticky: &mut bool| {
        if *mant >> 56 == 0 {
            *mant = (*mant << 4) | d;
            if frac {
                *exp -= 4;
            }
        } else {
            if d != 0 {
                *sticky = true;
            }
            if !frac {
                *exp += 4;
            }
        }
    };
    while at(i).is_ascii_hexdigit() {
        let d = (at(i) as char).to_digit(16).unwrap() as u64;
        add_digit(d, false, &mut mant, &mut exp, &mut sticky);
        i += 1;
        ndig += 1;
    }
    if at(i) == b'.' {
        let save = i;
        i += 1;
        let mut nfrac = 0;
        while at(i).is_ascii_hexdigit() {
            let d = (at(i) as char).to_digit(16).unwrap() as u64;
            add_digit(d, true, &mut mant, &mut exp, &mut sticky);
            i += 1;
            nfrac += 1;
        }
        if ndig == 0 && nfrac == 0 {
            i = save;
        }
        ndig += nfrac;
    }
    if ndig == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut k = i + 1;
        let mut eneg = false;
        if at(k) == b'+' || at(k) == b'-' {
            eneg = at(k) == b'-';
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(k).is_ascii_digit() {
                e = (e * 10 + (at(k) - b'0') as i64).min(1_000_000_000);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            i = k;
        }
    }
    Some((make_f64(mant, exp, sticky), i))
}

/// The double nearest to (mant + sticky fraction) * 2^exp, ties to even.
fn make_f64(mut mant: u64, mut exp: i64, mut sticky: bool) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    // Normalise to 64-bit with the top bit set.
    let lz = mant.leading_zeros();
    mant <<= lz;
    exp -= lz as i64;
    // Value = mant * 2^exp, mant in [2^63, 2^64). The double's exponent: e2 = exp + 63.
    let e2 = exp + 63;
    if e2 > 1023 {
        return f64::INFINITY;
    }
    // Number of low bits to drop: 11 for normals, more for subnormals.
    let drop: i64 = if e2 >= -1022 { 11 } else { 11 + (-1022 - e2) };
    if drop >= 65 {
        return 0.0; // far below the smallest subnormal (even the sticky bit cannot round up)
    }
    let (kept, half, rest_nonzero) = if drop == 64 {
        (0u64, mant >> 63 == 1, (mant << 1) != 0)
    } else {
        let kept = mant >> drop;
        let rem = mant & ((1u64 << drop) - 1);
        let halfbit = 1u64 << (drop - 1);
        (kept, rem & halfbit != 0, rem & (halfbit - 1) != 0)
    };
    sticky |= rest_nonzero;
    let mut kept = kept;
    if half && (sticky || kept & 1 == 1) {
        kept += 1;
    }
    if e2 >= -1022 {
        // kept in [2^52, 2^53]; rounding may carry to 2^53.
        let mut e = e2;
        if kept >> 53 != 0 {
            kept >>= 1;
            e += 1;
        }
        if e > 1023 {
            return f64::INFINITY;
        }
        f64::from_bits((((e + 1023) as u64) << 52) | (kept & ((1u64 << 52) - 1)))
    } else {
        // Subnormal: kept is the raw mantissa (a carry to 2^52 yields the smallest normal).
        f64::from_bits(kept)
    }
}

// ---------------------------------------------------------------------------------------
// Decoding.

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(m) => m,
        }
    }
}

#[derive(Clone, Copy)]
struct Token {
    tok: Tok,
    index: usize,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    cfg: Config,
    depth: c_int,
    /// The value of the last string token.
    tmp: Vec<u8>,
}

impl Parser<'_> {
    /// The byte at `i`, 0 past the end (the C string's terminator and beyond).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error_token(&self, msg: &'static str) -> Token {
        Token { tok: Tok::Error(msg), index: self.pos }
    }

    fn next_token(&mut self) -> Token {
        while let b' ' | b'\t' | b'\n' | b'\r' = self.at(self.pos) {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let simple = match ch {
            0 => return Token { tok: Tok::End, index },
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            b'"' | b'+' | b'-' | b'0'..=b'9' | b'f' | b'i' | b'I' | b'n' | b'N' | b't' => None,
            _ => return self.error_token("invalid token"),
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return Token { tok, index };
        }
        let rest = &self.data[self.pos.min(self.data.len())..];
        if ch == b'"' {
            return self.parse_string(index);
        } else if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return self.error_token("invalid number");
            }
            return self.number_token(index);
        } else if rest.starts_with(b"true") {
            self.pos += 4;
            return Token { tok: Tok::Bool(true), index };
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            return Token { tok: Tok::Bool(false), index };
        } else if rest.starts_with(b"null") {
            self.pos += 4;
            return Token { tok: Tok::Null, index };
        } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            return self.number_token(index);
        }
        self.error_token("invalid token")
    }

    /// Numbers JSON does not allow: leading '+', hex, leading zeros, inf, nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let rest = &self.data[p.min(self.data.len())..];
        starts_with_ci(rest, b"inf") || starts_with_ci(rest, b"nan")
    }

    fn number_token(&mut self, index: usize) -> Token {
        // strtod stops at the C string's terminator.
        let end = self.data[self.pos..].iter().position(|&c| c == 0).map_or(self.data.len(), |n| self.pos + n);
        match strtod(&self.data[self.pos..end]) {
            Some((v, n)) => {
                self.pos += n;
                Token { tok: Tok::Num(v), index }
            }
            None => self.error_token("invalid number"),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v = (v << 4) | (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// At a backslash-u escape: decode it (and a following low surrogate) into `tmp`.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else { return false };
        let mut escape_len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        let mut utf8 = [0u8; 4];
        let n = if cp <= 0x7F {
            utf8[0] = cp as u8;
            1
        } else if cp <= 0x7FF {
            utf8[0] = 0xC0 | (cp >> 6) as u8;
            utf8[1] = 0x80 | (cp & 0x3F) as u8;
            2
        } else if cp <= 0xFFFF {
            utf8[0] = 0xE0 | (cp >> 12) as u8;
            utf8[1] = 0x80 | ((cp >> 6) & 0x3F) as u8;
            utf8[2] = 0x80 | (cp & 0x3F) as u8;
            3
        } else {
            utf8[0] = 0xF0 | (cp >> 18) as u8;
            utf8[1] = 0x80 | ((cp >> 12) & 0x3F) as u8;
            utf8[2] = 0x80 | ((cp >> 6) & 0x3F) as u8;
            utf8[3] = 0x80 | (cp & 0x3F) as u8;
            4
        };
        self.tmp.extend_from_slice(&utf8[..n]);
        self.pos += escape_len;
        true
    }

    fn parse_string(&mut self, index: usize) -> Token {
        self.pos += 1; // opening quote
        self.tmp.clear();
        loop {
            let mut ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error_token("unexpected end of string");
            }
            if ch == b'\\' {
                ch = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return self.error_token("invalid unicode escape code");
                    }
                    _ => return self.error_token("invalid escape code"),
                };
                self.pos += 1;
            }
            self.tmp.push(ch);
            self.pos += 1;
        }
        self.pos += 1; // closing quote
        Token { tok: Tok::Str, index }
    }
}

fn parse_error(exp: &str, t: Token) -> super::LErr {
    err(format!("Expected {} but found {} at character {}", exp, t.tok.name(), t.index + 1))
}

unsafe fn descend(l: *mut lua_State, p: &mut Parser, slots: c_int) -> LRes<()> {
    p.depth += 1;
    if p.depth <= p.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
        return Ok(());
    }
    Err(err(format!("Found too many nested data structures ({}) at character {}", p.depth, p.pos)))
}

/// An open container during decoding.
enum DecCtx {
    /// The next element goes to index `i`.
    Array { i: c_int },
    /// A key is on the Lua stack, its value is being parsed.
    Object,
}

/// After '{' and a token that is not '}': the key, the colon, and the value's first token.
unsafe fn object_member(l: *mut lua_State, p: &mut Parser, t: Token) -> LRes<Token> {
    if t.tok != Tok::Str {
        return Err(parse_error("object key string", t));
    }
    push_bytes(l, &p.tmp);
    let t = p.next_token();
    if t.tok != Tok::Colon {
        return Err(parse_error("colon", t));
    }
    Ok(p.next_token())
}

/// Parse the value starting with token `t` and push it. Containers are tracked on an
/// explicit stack (no native recursion); the Lua stack sees what the recursive original does:
/// per open object the table and a key, per open array the table.
unsafe fn parse_value(l: *mut lua_State, p: &mut Parser, mut t: Token) -> LRes<()> {
    let mut stack: Vec<DecCtx> = Vec::new();
    'value: loop {
        match t.tok {
            Tok::Str => push_bytes(l, &p.tmp),
            Tok::Num(v) => ffi::lua_pushnumber(l, v),
            Tok::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Tok::ObjBegin => {
                descend(l, p, 3)?;
                ffi::lua_createtable(l, 0, 0);
                t = p.next_token();
                if t.tok == Tok::ObjEnd {
                    p.depth -= 1;
                } else {
                    t = object_member(l, p, t)?;
                    stack.push(DecCtx::Object);
                    continue 'value;
                }
            }
            Tok::ArrBegin => {
                descend(l, p, 2)?;
                ffi::lua_createtable(l, 0, 0);
                t = p.next_token();
                if t.tok == Tok::ArrEnd {
                    p.depth -= 1;
                } else {
                    stack.push(DecCtx::Array { i: 1 });
                    continue 'value;
                }
            }
            _ => return Err(parse_error("value", t)),
        }
        // A value is complete on top of the Lua stack: store it, close finished containers.
        loop {
            match stack.last_mut() {
                None => return Ok(()),
                Some(DecCtx::Array { i }) => {
                    ffi::lua_rawseti_(l, -2, *i);
                    *i = i.wrapping_add(1);
                    t = p.next_token();
                    if t.tok == Tok::ArrEnd {
                        p.depth -= 1;
                        stack.pop();
                        continue;
                    }
                    if t.tok != Tok::Comma {
                        return Err(parse_error("comma or array end", t));
                    }
                    t = p.next_token();
                    continue 'value;
                }
                Some(DecCtx::Object) => {
                    ffi::lua_rawset(l, -3);
                    t = p.next_token();
                    if t.tok == Tok::ObjEnd {
                        p.depth -= 1;
                        stack.pop();
                        continue;
                    }
                    if t.tok != Tok::Comma {
                        return Err(parse_error("comma or object end", t));
                    }
                    t = p.next_token();
                    t = object_member(l, p, t)?;
                    continue 'value;
                }
            }
        }
    }
}

unsafe fn json_decode(l: *mut lua_State) -> LRes<c_int> {
    if ffi::lua_gettop(l) != 1 {
        return Err(arg_err(1, "expected 1 argument"));
    }
    let cfg = *fetch_config(l)?;
    let data = check_lstring(l, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(err("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser { data, pos: 0, cfg, depth: 0, tmp: Vec::new() };
    let t = p.next_token();
    parse_value(l, &mut p, t)?;
    let t = p.next_token();
    if t.tok != Tok::End {
        return Err(parse_error("the end", t));
    }
    Ok(1)
}

// ---------------------------------------------------------------------------------------
// Configuration functions.

/// Refuse more than `args` arguments, pad to `args` with nils, return the configuration.
unsafe fn arg_init(l: *mut lua_State, args: c_int) -> LRes<*mut Config> {
    if ffi::lua_gettop(l) > args {
        return Err(arg_err(args + 1, "found too many arguments"));
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    fetch_config(l)
}

unsafe fn integer_option(l: *mut lua_State, idx: c_int, setting: *mut c_int, min: c_int, max: c_int) -> LRes<()> {
    if ffi::lua_isnil(l, idx) == 0 {
        let value = check_integer(l, idx)? as c_int;
        if !(min <= value && value <= max) {
            return Err(arg_err(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
    Ok(())
}

/// `options` are the names of the values 0, 1, ...; booleans set 0 / `bool_true`.
unsafe fn enum_option(
    l: *mut lua_State,
    idx: c_int,
    setting: *mut c_int,
    options: &[&str],
    bool_true: c_int,
) -> LRes<()> {
    if ffi::lua_isnil(l, idx) == 0 {
        if bool_true != 0 && ffi::lua_isboolean(l, idx) != 0 {
            *setting = ffi::lua_toboolean(l, idx) * bool_true;
        } else {
            // luaL_checkoption: the option is compared as a C string.
            let name = check_lstring(l, idx)?;
            let name = match name.iter().position(|&c| c == 0) {
                Some(n) => &name[..n],
                None => name,
            };
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i as c_int,
                None => {
                    let mut msg = b"invalid option '".to_vec();
                    msg.extend_from_slice(name);
                    msg.push(b'\'');
                    return Err(arg_err(idx, msg));
                }
            }
        }
    }
    if bool_true != 0 && (*setting == 0 || *setting == bool_true) {
        ffi::lua_pushboolean(l, *setting);
    } else {
        super::push_str(l, options[*setting as usize]);
    }
    Ok(())
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

unsafe fn cfg_encode_sparse_array(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 3)?;
    enum_option(l, 1, &mut (*cfg).encode_sparse_convert, BOOL_OPTIONS, 1)?;
    integer_option(l, 2, &mut (*cfg).encode_sparse_ratio, 0, c_int::MAX)?;
    integer_option(l, 3, &mut (*cfg).encode_sparse_safe, 0, c_int::MAX)?;
    Ok(3)
}

unsafe fn cfg_encode_max_depth(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    integer_option(l, 1, &mut (*cfg).encode_max_depth, 1, c_int::MAX)?;
    Ok(1)
}

unsafe fn cfg_decode_max_depth(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    integer_option(l, 1, &mut (*cfg).decode_max_depth, 1, c_int::MAX)?;
    Ok(1)
}

unsafe fn cfg_encode_number_precision(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    integer_option(l, 1, &mut (*cfg).encode_number_precision, 1, 14)?;
    Ok(1)
}

unsafe fn cfg_encode_keep_buffer(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    enum_option(l, 1, &mut (*cfg).encode_keep_buffer, BOOL_OPTIONS, 1)?;
    Ok(1)
}

unsafe fn cfg_encode_invalid_numbers(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    enum_option(l, 1, &mut (*cfg).encode_invalid_numbers, &["off", "on", "null"], 1)?;
    Ok(1)
}

unsafe fn cfg_decode_invalid_numbers(l: *mut lua_State) -> LRes<c_int> {
    let cfg = arg_init(l, 1)?;
    enum_option(l, 1, &mut (*cfg).decode_invalid_numbers, BOOL_OPTIONS, 1)?;
    Ok(1)
}

unsafe fn cjson_new(l: *mut lua_State) -> LRes<c_int> {
    new_module(l);
    Ok(1)
}

lua_cfn!(l_encode => json_encode);
lua_cfn!(l_decode => json_decode);
lua_cfn!(l_encode_sparse_array => cfg_encode_sparse_array);
lua_cfn!(l_encode_max_depth => cfg_encode_max_depth);
lua_cfn!(l_decode_max_depth => cfg_decode_max_depth);
lua_cfn!(l_encode_number_precision => cfg_encode_number_precision);
lua_cfn!(l_encode_keep_buffer => cfg_encode_keep_buffer);
lua_cfn!(l_encode_invalid_numbers => cfg_encode_invalid_numbers);
lua_cfn!(l_decode_invalid_numbers => cfg_decode_invalid_numbers);
lua_cfn!(l_new => cjson_new);

/// Push a new cjson module table with its own configuration.
unsafe fn new_module(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, 0);
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()) as *mut Config;
    cfg.write(DEFAULT_CONFIG);
    set_funcs(
        l,
        &[
            (c"encode", l_encode),
            (c"decode", l_decode),
            (c"encode_sparse_array", l_encode_sparse_array),
            (c"encode_max_depth", l_encode_max_depth),
            (c"decode_max_depth", l_decode_max_depth),
            (c"encode_number_precision", l_encode_number_precision),
            (c"encode_keep_buffer", l_encode_keep_buffer),
            (c"encode_invalid_numbers", l_encode_invalid_numbers),
            (c"decode_invalid_numbers", l_decode_invalid_numbers),
            (c"new", l_new),
        ],
        1,
    );
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    set_field_str(l, c"_NAME", "cjson");
    set_field_str(l, c"_VERSION", "2.1.0");
}

/// `luaopen_cjson`: returns the `cjson` table.
pub(crate) unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    new_module(l);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64, p: usize) -> String {
        let mut v = Vec::new();
        format_g(&mut v, x, p);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn percent_g() {
        assert_eq!(g(1.0, 14), "1");
        assert_eq!(g(-0.0, 14), "-0");
        assert_eq!(g(0.1, 14), "0.1");
        assert_eq!(g(1e100, 14), "1e+100");
        assert_eq!(g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(g(9007199254740992.0, 14), "9.007199254741e+15");
        assert_eq!(g(2.5e-5, 14), "2.5e-05");
        assert_eq!(g(0.0001, 14), "0.0001");
        assert_eq!(g(1e15, 14), "1e+15");
        assert_eq!(g(1e13, 14), "10000000000000");
        assert_eq!(g(5e-324, 14), "4.9406564584125e-324");
        assert_eq!(g(std::f64::consts::PI, 3), "3.14");
        assert_eq!(g(99999.5, 5), "1e+05");
        assert_eq!(g(f64::INFINITY, 14), "inf");
        assert_eq!(g(f64::NEG_INFINITY, 14), "-inf");
    }

    #[test]
    fn string_escapes() {
        let mut v = Vec::new();
        append_string(&mut v, b"/\x7f\x01\x00\x1f\x80\xff\"\\\x08\x0c\n\r\t");
        assert_eq!(v, b"\"\\/\\u007f\\u0001\\u0000\\u001f\x80\xff\\\"\\\\\\b\\f\\n\\r\\t\"");
    }

    fn sd(s: &str) -> Option<(f64, usize)> {
        strtod(s.as_bytes())
    }

    #[test]
    fn strtod_forms() {
        assert_eq!(sd("12abc"), Some((12.0, 2)));
        assert_eq!(sd("-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(sd("1e"), Some((1.0, 1)));
        assert_eq!(sd("1."), Some((1.0, 2)));
        assert_eq!(sd("-.5e1"), Some((-5.0, 5)));
        assert_eq!(sd("-"), None);
        assert_eq!(sd("-."), None);
        assert_eq!(sd("0x1F"), Some((31.0, 4)));
        assert_eq!(sd("0x"), Some((0.0, 1)));
        assert_eq!(sd("0x.8"), Some((0.5, 4)));
        assert_eq!(sd("0x1p"), Some((1.0, 3)));
        assert_eq!(sd("0x1.8p1"), Some((3.0, 7)));
        assert_eq!(sd("0x1p-1074"), Some((5e-324, 9)));
        assert_eq!(sd("0x1.fffffffffffff8p1023").unwrap().0, f64::INFINITY);
        assert_eq!(sd("0x1.00000000000008p0").unwrap().0, 1.0);
        assert_eq!(sd("0x1.00000000000018p0").unwrap().0.to_bits(), 0x3ff0000000000002);
        assert_eq!(sd("0x1.000000000000080000001p0").unwrap().0.to_bits(), 0x3ff0000000000001);
        assert_eq!(sd("1e99999999999999999999").unwrap().0, f64::INFINITY);
        assert_eq!(sd("1e-99999999999999999999").unwrap().0, 0.0);
        assert_eq!(sd("Infinity"), Some((f64::INFINITY, 8)));
        assert_eq!(sd("-infinit"), Some((f64::NEG_INFINITY, 4)));
        assert_eq!(sd("nan").unwrap().0.to_bits(), 0x7ff8000000000000);
        assert_eq!(sd("-nan").unwrap().0.to_bits(), 0xfff8000000000000);
        assert_eq!(sd("nan(123)").map(|(v, n)| (v.to_bits(), n)), Some((0x7ff800000000007b, 8)));
        assert_eq!(sd("nan(0x7)").unwrap().0.to_bits(), 0x7ff8000000000007);
        assert_eq!(sd("nan(abc)").unwrap().0.to_bits(), 0x7ff8000000000000);
        assert_eq!(sd("-nan(99999999999999999999)").unwrap().0.to_bits(), u64::MAX);
        assert_eq!(sd("nan()").unwrap().1, 5);
        assert_eq!(sd("nan(").unwrap().1, 3);
        assert_eq!(sd("12345678901234567890").unwrap().0, 12345678901234567890.0);
    }

    #[test]
    fn make_f64_rounding() {
        assert_eq!(make_f64(1, 0, false), 1.0);
        assert_eq!(make_f64(3, -1, false), 1.5);
        assert_eq!(make_f64(1, -1075, false), 0.0); // half of the smallest subnormal: tie to 0
        assert_eq!(make_f64(1, -1075, true), 5e-324);
        assert_eq!(make_f64(3, -1076, false), 5e-324);
        assert_eq!(make_f64(1, 1024, false), f64::INFINITY);
    }
}
