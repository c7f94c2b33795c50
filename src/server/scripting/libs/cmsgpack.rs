//! `cmsgpack`: lua-cmsgpack 0.4.0's `pack`, `unpack`, `unpack_one` and `unpack_limit`.
//!
//! Encoding: numbers equal to an int64 become the smallest msgpack integer (fixint, uint8..64
//! for non-negative, int8..64 for negative), other numbers a float32 when the value survives
//! the round trip through float, else a float64; strings use fixstr/str8/str16/str32; a table
//! whose keys are exactly 1..n (empty included) is an array, anything else a map (in `next`
//! order); tables nested 16 deep, functions, userdata and nil encode as nil.
//! Decoding: bin/ext types and 0xc1 are "Bad data format in input."; a uint64 of 2^63 or more
//! comes back negative (Redis reads it as a signed integer); maps are filled with
//! `lua_settable` in input order, so a nil or NaN key is "table index is nil"/"... is NaN".

use std::os::raw::c_int;

use mlua::ffi::{self, lua_State};

use super::{
    arg_err, c_double_to_i32, c_double_to_i64, check_integer, check_lstring, check_stack, err, lua_cfn, opt_integer,
    push_bytes, set_field_str, set_funcs, LErr, LRes,
};

const MAX_NESTING: c_int = 16;

unsafe fn encode_value(l: *mut lua_State, buf: &mut Vec<u8>, level: c_int) -> LRes<()> {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, -1, &mut len);
            encode_bytes(buf, std::slice::from_raw_parts(p as *const u8, len));
        }
        ffi::LUA_TBOOLEAN => buf.push(if ffi::lua_toboolean(l, -1) != 0 { 0xc3 } else { 0xc2 }),
        ffi::LUA_TNUMBER => encode_number(buf, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TTABLE => encode_table(l, buf, level)?,
        _ => buf.push(0xc0),
    }
    ffi::lua_settop(l, -2);
    Ok(())
}

pub(crate) fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.push(0xd9);
        buf.push(len as u8);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

pub(crate) fn encode_number(buf: &mut Vec<u8>, n: f64) {
    if !n.is_infinite() && c_double_to_i64(n) as f64 == n {
        encode_int(buf, c_double_to_i64(n));
    } else {
        let f = n as f32;
        if n == f as f64 {
            buf.push(0xca);
            buf.extend_from_slice(&f.to_be_bytes());
        } else {
            buf.push(0xcb);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

pub(crate) fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.push(0xcc);
            buf.push(n as u8);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.push(0xd0);
        buf.push(n as i8 as u8);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(buf: &mut Vec<u8>, len: usize, fix: u8, x16: u8, x32: u8) {
    if len <= 15 {
        buf.push(fix | len as u8);
    } else if len <= 0xffff {
        buf.push(x16);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(x32);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

unsafe fn encode_table(l: *mut lua_State, buf: &mut Vec<u8>, level: c_int) -> LRes<()> {
    if table_is_an_array(l)? {
        let len = ffi::lua_objlen(l, -1);
        encode_header(buf, len, 0x90, 0xdc, 0xdd);
        check_stack(l, 1, "in function mp_encode_lua_table_as_array")?;
        for j in 1..=len {
            ffi::lua_pushnumber(l, j as f64);
            ffi::lua_gettable_(l, -2);
            encode_value(l, buf, level + 1)?;
        }
    } else {
        check_stack(l, 3, "in function mp_encode_lua_table_as_map")?;
        let mut len = 0usize;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_settop(l, -2);
            len += 1;
        }
        encode_header(buf, len, 0x80, 0xde, 0xdf);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            encode_value(l, buf, level + 1)?; // key
            encode_value(l, buf, level + 1)?; // value
        }
    }
    Ok(())
}

/// Keys exactly 1..n: all positive numbers that are C ints, as many as the largest.
unsafe fn table_is_an_array(l: *mut lua_State) -> LRes<bool> {
    let mut count: i64 = 0;
    let mut max: c_int = 0;
    let top = ffi::lua_gettop(l);
    check_stack(l, 2, "in function table_is_an_array")?;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        let n = ffi::lua_tonumber(l, -1);
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER || n <= 0.0 || n.is_infinite() || c_double_to_i32(n) as f64 != n {
            ffi::lua_settop(l, top);
            return Ok(false);
        }
        if n > max as f64 {
            max = c_double_to_i32(n);
        }
        count += 1;
    }
    ffi::lua_settop(l, top);
    Ok(max as i64 == count)
}

unsafe fn mp_pack(l: *mut lua_State) -> LRes<c_int> {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return Err(arg_err(0, "MessagePack pack needs input."));
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return Err(arg_err(0, "Too many arguments for MessagePack pack."));
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        check_stack(l, 1, "in function mp_check")?;
        ffi::lua_pushvalue(l, i);
        encode_value(l, &mut buf, 0)?;
        push_bytes(l, &buf);
        buf.clear();
    }
    ffi::lua_concat(l, nargs);
    Ok(1)
}

// ---- decoding ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum CurErr {
    None,
    Eof,
    BadFmt,
}

struct Cur<'a> {
    p: &'a [u8],
    err: CurErr,
}

impl<'a> Cur<'a> {
    fn left(&self) -> usize {
        self.p.len()
    }
    /// `mp_cur_need`: false (and EOF) when fewer than `n` bytes are left.
    fn need(&mut self, n: usize) -> bool {
        if self.p.len() < n {
            self.err = CurErr::Eof;
            false
        } else {
            true
        }
    }
    fn consume(&mut self, n: usize) {
        self.p = &self.p[n..];
    }
    fn be(&self, from: usize, n: usize) -> u64 {
        self.p[from..from + n].iter().fold(0u64, |a, &b| (a << 8) | b as u64)
    }
}

/// An open container during decoding.
enum DecCtx {
    /// `left` elements to go; the next goes to `index`.
    Array { left: usize, index: c_int },
    /// `left` pairs to go; `have_key`: the key is on the Lua stack, the value is next.
    Map { left: usize, have_key: bool },
}

/// Decode one value and push it; on a cursor error (`c.err`) return early with whatever is
/// on the stack. Containers are tracked on an explicit stack (no native recursion); the Lua
/// stack sees what the recursive original does, including its `luaL_checkstack` calls.
unsafe fn decode_one(l: *mut lua_State, c: &mut Cur) -> LRes<()> {
    let mut stack: Vec<DecCtx> = Vec::new();
    'value: loop {
        // Start a value.
        if !c.need(1) {
            return Ok(());
        }
        check_stack(l, 1, "too many return values at once; use unpack_one or unpack_limit instead.")?;
        let b = c.p[0];
        macro_rules! fixed {
            ($n:expr, $conv:expr) => {{
                if !c.need(1 + $n) {
                    return Ok(());
                }
                let v = c.be(1, $n);
                #[allow(clippy::redundant_closure_call)]
                ffi::lua_pushnumber(l, ($conv)(v));
                c.consume(1 + $n);
            }};
        }
        // Some(ctx): a container was opened.
        let mut opened: Option<DecCtx> = None;
        match b {
            0xcc => fixed!(1, |v: u64| v as f64),
            0xd0 => fixed!(1, |v: u64| v as u8 as i8 as f64),
            0xcd => fixed!(2, |v: u64| v as f64),
            0xd1 => fixed!(2, |v: u64| v as u16 as i16 as f64),
            0xce => fixed!(4, |v: u64| v as f64),
            0xd2 => fixed!(4, |v: u64| v as u32 as i32 as f64),
            0xcf => fixed!(8, |v: u64| v as i64 as f64), // pushed as a signed lua_Integer
            0xd3 => fixed!(8, |v: u64| v as i64 as f64),
            0xca => fixed!(4, |v: u64| f32::from_bits(v as u32) as f64),
            0xcb => fixed!(8, f64::from_bits),
            0xc0 => {
                ffi::lua_pushnil(l);
                c.consume(1);
            }
            0xc3 | 0xc2 => {
                ffi::lua_pushboolean(l, (b == 0xc3) as c_int);
                c.consume(1);
            }
            0xd9..=0xdb => {
                let n = match b {
                    0xd9 => 1,
                    0xda => 2,
                    _ => 4,
                };
                if !c.need(1 + n) {
                    return Ok(());
                }
                let len = c.be(1, n) as usize;
                if !c.need(1 + n + len) {
                    return Ok(());
                }
                push_bytes(l, &c.p[1 + n..1 + n + len]);
                c.consume(1 + n + len);
            }
            0xdc..=0xdf => {
                let n = if b == 0xdc || b == 0xde { 2 } else { 4 };
                if !c.need(1 + n) {
                    return Ok(());
                }
                let left = c.be(1, n) as usize;
                c.consume(1 + n);
                opened = Some(if b <= 0xdd {
                    DecCtx::Array { left, index: 1 }
                } else {
                    DecCtx::Map { left, have_key: false }
                });
            }
            _ if b & 0x80 == 0 => {
                ffi::lua_pushnumber(l, b as f64);
                c.consume(1);
            }
            _ if b & 0xe0 == 0xe0 => {
                ffi::lua_pushnumber(l, b as i8 as f64);
                c.consume(1);
            }
            _ if b & 0xe0 == 0xa0 => {
                let len = (b & 0x1f) as usize;
                if !c.need(1 + len) {
                    return Ok(());
                }
                push_bytes(l, &c.p[1..1 + len]);
                c.consume(1 + len);
            }
            _ if b & 0xf0 == 0x90 => {
                c.consume(1);
                opened = Some(DecCtx::Array { left: (b & 0xf) as usize, index: 1 });
            }
            _ if b & 0xf0 == 0x80 => {
                c.consume(1);
                opened = Some(DecCtx::Map { left: (b & 0xf) as usize, have_key: false });
            }
            _ => {
                c.err = CurErr::BadFmt;
                return Ok(());
            }
        }
        if let Some(ctx) = opened {
            ffi::lua_createtable(l, 0, 0);
            if matches!(ctx, DecCtx::Array { .. }) {
                check_stack(l, 1, "in function mp_decode_to_lua_array")?;
            }
            stack.push(ctx);
        } else {
            // A value is complete: store it into its container.
            match stack.last_mut() {
                None => return Ok(()),
                Some(DecCtx::Array { .. }) => ffi::lua_settable(l, -3),
                Some(DecCtx::Map { have_key, .. }) => {
                    if !*have_key {
                        *have_key = true;
                        continue 'value; // now the value
                    }
                    *have_key = false;
                    store_pair(l)?;
                }
            }
        }
        // Continue the innermost container; a finished one is itself a complete value.
        loop {
            match stack.last_mut() {
                None => return Ok(()),
                Some(DecCtx::Array { left, index }) => {
                    if *left > 0 {
                        *left -= 1;
                        ffi::lua_pushnumber(l, *index as f64);
                        *index = index.wrapping_add(1);
                        continue 'value;
                    }
                }
                Some(DecCtx::Map { left, .. }) => {
                    if *left > 0 {
                        *left -= 1;
                        continue 'value; // the key
                    }
                }
            }
            stack.pop();
            match stack.last_mut() {
                None => return Ok(()),
                Some(DecCtx::Array { .. }) => ffi::lua_settable(l, -3),
                Some(DecCtx::Map { have_key, .. }) => {
                    if !*have_key {
                        *have_key = true;
                        continue 'value;
                    }
                    *have_key = false;
                    store_pair(l)?;
                }
            }
        }
    }
}

/// `lua_settable(L, -3)` for a decoded key and value; the errors Lua would raise for a nil
/// or NaN key are raised by us instead (with the same text).
unsafe fn store_pair(l: *mut lua_State) -> LRes<()> {
    match ffi::lua_type(l, -2) {
        ffi::LUA_TNIL => return Err(LErr::Raw(b"table index is nil".to_vec())),
        ffi::LUA_TNUMBER if ffi::lua_tonumber(l, -2).is_nan() => return Err(LErr::Raw(b"table index is NaN".to_vec())),
        _ => {}
    }
    ffi::lua_settable(l, -3);
    Ok(())
}

unsafe fn unpack_full(l: *mut lua_State, limit: i64, offset: i64) -> LRes<c_int> {
    let s = check_lstring(l, 1)?;
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(err(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(err(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cur { p: &s[offset as usize..], err: CurErr::None };
    let mut cnt: c_int = 0;
    while c.left() > 0 && (cnt as i64) < limit {
        decode_one(l, &mut c)?;
        match c.err {
            CurErr::Eof => return Err(err("Missing bytes in input.")),
            CurErr::BadFmt => return Err(err("Bad data format in input.")),
            CurErr::None => {}
        }
        cnt += 1;
    }
    if !decode_all {
        let next = (len - c.left()) as c_int;
        check_stack(l, 1, "in function mp_unpack_full")?;
        ffi::lua_pushinteger(l, if c.left() == 0 { -1 } else { next as ffi::lua_Integer });
        ffi::lua_insert(l, 2);
        cnt += 1;
    }
    Ok(cnt)
}

unsafe fn mp_unpack(l: *mut lua_State) -> LRes<c_int> {
    unpack_full(l, 0, 0)
}

unsafe fn mp_unpack_one(l: *mut lua_State) -> LRes<c_int> {
    let offset = opt_integer(l, 2, 0)?;
    ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
    unpack_full(l, 1, offset)
}

unsafe fn mp_unpack_limit(l: *mut lua_State) -> LRes<c_int> {
    let limit = check_integer(l, 2)?;
    let offset = opt_integer(l, 3, 0)?;
    ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
    unpack_full(l, limit, offset)
}

lua_cfn!(l_pack => mp_pack);
lua_cfn!(l_unpack => mp_unpack);
lua_cfn!(l_unpack_one => mp_unpack_one);
lua_cfn!(l_unpack_limit => mp_unpack_limit);

/// `luaopen_cmsgpack`: returns the `cmsgpack` table.
pub(crate) unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 0);
    set_funcs(
        l,
        &[(c"pack", l_pack), (c"unpack", l_unpack), (c"unpack_one", l_unpack_one), (c"unpack_limit", l_unpack_limit)],
        0,
    );
    set_field_str(l, c"_NAME", "cmsgpack");
    set_field_str(l, c"_VERSION", "lua-cmsgpack 0.4.0");
    set_field_str(l, c"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo");
    set_field_str(l, c"_DESCRIPTION", "MessagePack C implementation for Lua");
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: f64) -> Vec<u8> {
        let mut b = Vec::new();
        encode_number(&mut b, n);
        b
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1.0), [0x01]);
        assert_eq!(num(128.0), [0xcc, 0x80]);
        assert_eq!(num(-33.0), [0xd0, 0xdf]);
        assert_eq!(num(-0.0), [0x00]);
        assert_eq!(num(0.5), [0xca, 0x3f, 0, 0, 0]);
        assert_eq!(num(9223372036854775808.0), [0xca, 0x5f, 0, 0, 0]);
        assert_eq!(num(-9223372036854775808.0), [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(num(f64::INFINITY), [0xca, 0x7f, 0x80, 0, 0]);
        assert_eq!(num(0.1), [0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]);
    }

    #[test]
    fn strings() {
        let mut b = Vec::new();
        encode_bytes(&mut b, &[b'a'; 32]);
        assert_eq!(&b[..2], [0xd9, 32]);
        b.clear();
        encode_bytes(&mut b, &[b'a'; 256]);
        assert_eq!(&b[..3], [0xda, 1, 0]);
    }
}
