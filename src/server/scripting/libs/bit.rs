//! `bit`: LuaBitOp 1.0.2's API. Numbers are taken to 32-bit integers by adding 2^52+2^51
//! and keeping the low word of the double (round half to even, wrapping modulo 2^32, the
//! low mantissa bits for values beyond 2^51), results are returned as signed 32-bit numbers.

use std::os::raw::c_int;

use mlua::ffi::{self, lua_State};

use super::{lua_cfn, set_funcs, type_error, LRes};

/// The 32-bit integer LuaBitOp makes of argument `idx` (Lua 5.1 variant: any value that is
/// not a number and converts to 0 is a "number expected" error).
unsafe fn barg(l: *mut lua_State, idx: c_int) -> LRes<u32> {
    let n = ffi::lua_tonumber(l, idx);
    let b = tobit_bits(n);
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        return Err(type_error(l, idx, "number"));
    }
    Ok(b)
}

/// The normalisation itself.
pub(crate) fn tobit_bits(n: f64) -> u32 {
    (n + 6755399441055744.0).to_bits() as u32
}

unsafe fn ret(l: *mut lua_State, b: u32) -> LRes<c_int> {
    ffi::lua_pushnumber(l, b as i32 as f64);
    Ok(1)
}

unsafe fn tobit(l: *mut lua_State) -> LRes<c_int> {
    let b = barg(l, 1)?;
    ret(l, b)
}

unsafe fn bnot(l: *mut lua_State) -> LRes<c_int> {
    let b = barg(l, 1)?;
    ret(l, !b)
}

unsafe fn fold(l: *mut lua_State, op: fn(u32, u32) -> u32) -> LRes<c_int> {
    let mut b = barg(l, 1)?;
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, barg(l, i)?);
        i -= 1;
    }
    ret(l, b)
}

unsafe fn band(l: *mut lua_State) -> LRes<c_int> {
    fold(l, |a, b| a & b)
}
unsafe fn bor(l: *mut lua_State) -> LRes<c_int> {
    fold(l, |a, b| a | b)
}
unsafe fn bxor(l: *mut lua_State) -> LRes<c_int> {
    fold(l, |a, b| a ^ b)
}

unsafe fn shift(l: *mut lua_State, op: fn(u32, u32) -> u32) -> LRes<c_int> {
    let b = barg(l, 1)?;
    let n = barg(l, 2)? & 31;
    ret(l, op(b, n))
}

unsafe fn lshift(l: *mut lua_State) -> LRes<c_int> {
    shift(l, |b, n| b << n)
}
unsafe fn rshift(l: *mut lua_State) -> LRes<c_int> {
    shift(l, |b, n| b >> n)
}
unsafe fn arshift(l: *mut lua_State) -> LRes<c_int> {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}
unsafe fn rol(l: *mut lua_State) -> LRes<c_int> {
    shift(l, |b, n| b.rotate_left(n))
}
unsafe fn ror(l: *mut lua_State) -> LRes<c_int> {
    shift(l, |b, n| b.rotate_right(n))
}

unsafe fn bswap(l: *mut lua_State) -> LRes<c_int> {
    let b = barg(l, 1)?;
    ret(l, b.swap_bytes())
}

unsafe fn tohex(l: *mut lua_State) -> LRes<c_int> {
    let b = barg(l, 1)?;
    let n = if ffi::lua_isnone(l, 2) != 0 { 8 } else { barg(l, 2)? as i32 };
    let s = hex_string(b, n);
    ffi::lua_pushlstring_(l, s.as_ptr() as *const _, s.len());
    Ok(1)
}

/// `bit.tohex(b, n)`: |n| hex digits (at most 8), upper case when n is negative.
pub(crate) fn hex_string(mut b: u32, n: i32) -> Vec<u8> {
    let mut n = if n == i32::MIN { i32::MIN + 1 } else { n };
    let digits: &[u8; 16] = if n < 0 {
        n = -n;
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.min(8) as usize;
    let mut out = vec![0u8; n];
    for i in (0..n).rev() {
        out[i] = digits[(b & 15) as usize];
        b >>= 4;
    }
    out
}

lua_cfn!(l_tobit => tobit);
lua_cfn!(l_bnot => bnot);
lua_cfn!(l_band => band);
lua_cfn!(l_bor => bor);
lua_cfn!(l_bxor => bxor);
lua_cfn!(l_lshift => lshift);
lua_cfn!(l_rshift => rshift);
lua_cfn!(l_arshift => arshift);
lua_cfn!(l_rol => rol);
lua_cfn!(l_ror => ror);
lua_cfn!(l_bswap => bswap);
lua_cfn!(l_tohex => tohex);

/// `luaopen_bit`: returns the `bit` table.
pub(crate) unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 0);
    set_funcs(
        l,
        &[
            (c"tobit", l_tobit),
            (c"bnot", l_bnot),
            (c"band", l_band),
            (c"bor", l_bor),
            (c"bxor", l_bxor),
            (c"lshift", l_lshift),
            (c"rshift", l_rshift),
            (c"arshift", l_arshift),
            (c"rol", l_rol),
            (c"ror", l_ror),
            (c"bswap", l_bswap),
            (c"tohex", l_tohex),
        ],
        0,
    );
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_normalisation() {
        assert_eq!(tobit_bits(5.0), 5);
        assert_eq!(tobit_bits(-1.0) as i32, -1);
        assert_eq!(tobit_bits(4294967301.0), 5);
        assert_eq!(tobit_bits(1.5), 2);
        assert_eq!(tobit_bits(2.5), 2);
        assert_eq!(tobit_bits(-1.5) as i32, -2);
        assert_eq!(tobit_bits(2251799813685255.0), 4); // 2^51+7
        assert_eq!(tobit_bits(1e300) as i32, -2013235812);
        assert_eq!(tobit_bits(f64::INFINITY), 0);
        assert_eq!(tobit_bits(f64::NAN), 0);
    }

    #[test]
    fn hex() {
        assert_eq!(hex_string(255, 8), b"000000ff");
        assert_eq!(hex_string(255, 2), b"ff");
        assert_eq!(hex_string(255, -4), b"00FF");
        assert_eq!(hex_string(u32::MAX, 0), b"");
        assert_eq!(hex_string(1, 20), b"00000001");
        assert_eq!(hex_string(255, i32::MIN), b"000000FF");
    }
}
