//! `struct`: struct 0.2's `pack`, `unpack` and `size`, with Redis's bounds checks.
//!
//! Format: `<` little endian, `>` big endian, `!n` maximum alignment (default 8), ` ` ignored,
//! `x` pad byte, `b/B` char, `h/H` short, `l/L` long (8), `T` size_t (8), `i/In` int of n
//! bytes (default 4, at most 32), `f` float, `d` double, `s` zero-terminated string, `cn`
//! n bytes (`c0`: the whole string when packing, the previous result's length when
//! unpacking). Values travel as Lua numbers (doubles); integers wider than 8 bytes keep only
//! their low 8 bytes, with the quirks of the x86-64 build of the original.

use std::os::raw::c_int;

use mlua::ffi::{self, lua_State};

use super::{
    arg_err, c_double_to_i64, c_double_to_u64, check_lstring, check_number, check_stack, err, lua_cfn, opt_integer,
    push_bytes, set_funcs, LRes, LuaBuffer,
};

const MAXINTSIZE: i32 = 32;
const MAXALIGN: i32 = 8;

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header { little: cfg!(target_endian = "little"), align: 1 }
    }
}

/// A format string as the C code sees it: up to the first NUL.
fn c_format(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

fn getnum(fmt: &[u8], pos: &mut usize, df: i32) -> LRes<i32> {
    if !fmt.get(*pos).is_some_and(u8::is_ascii_digit) {
        return Ok(df);
    }
    let mut a: i32 = 0;
    while let Some(&c) = fmt.get(*pos).filter(|c| c.is_ascii_digit()) {
        let d = (c - b'0') as i32;
        if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
            return Err(err("integral size overflow"));
        }
        a = a * 10 + d;
        *pos += 1;
    }
    Ok(a)
}

fn optsize(opt: u8, fmt: &[u8], pos: &mut usize) -> LRes<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(fmt, pos, 1)? as isize as usize,
        b'i' | b'I' => {
            let sz = getnum(fmt, pos, 4)?;
            if sz > MAXINTSIZE {
                return Err(err(format!("integral size {sz} is larger than limit of {MAXINTSIZE}")));
            }
            sz as usize
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

fn controloptions(opt: u8, fmt: &[u8], pos: &mut usize, h: &mut Header) -> LRes<()> {
    match opt {
        b' ' => Ok(()),
        b'>' => {
            h.little = false;
            Ok(())
        }
        b'<' => {
            h.little = true;
            Ok(())
        }
        b'!' => {
            let a = getnum(fmt, pos, MAXALIGN)?;
            if !(a > 0 && (a & (a - 1)) == 0) {
                return Err(err(format!("alignment {a} is not a power of 2")));
            }
            h.align = a as usize;
            Ok(())
        }
        _ => {
            let mut msg = b"invalid format option '".to_vec();
            msg.push(opt);
            msg.push(b'\'');
            Err(arg_err(1, msg))
        }
    }
}

fn is_int_option(opt: u8) -> bool {
    matches!(opt, b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I')
}

/// The `size` bytes of an integer field holding `n`.
pub(crate) fn integer_bytes(n: f64, little: bool, size: usize) -> Vec<u8> {
    let mut value: u64 = if n < 0.0 { c_double_to_i64(n) as u64 } else { c_double_to_u64(n) };
    let mut buf = vec![0u8; size];
    for i in 0..size {
        let at = if little { i } else { size - 1 - i };
        buf[at] = (value & 0xff) as u8;
        value >>= 8;
    }
    buf
}

/// The number an integer field of `bytes` holds.
pub(crate) fn integer_value(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let size = bytes.len();
    let mut l: u64 = 0;
    for i in 0..size {
        l <<= 8;
        l |= bytes[if little { size - i - 1 } else { i }] as u64;
    }
    if !signed {
        return l as f64;
    }
    // The shift count wraps modulo 64 as the x86 shift instruction does (size 0 and sizes
    // above 8 included).
    let mask = u64::MAX << (((size as i64) * 8 - 1) & 63);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

unsafe fn b_pack(l: *mut lua_State) -> LRes<c_int> {
    let fmt = c_format(check_lstring(l, 1)?);
    let mut arg: c_int = 2;
    let mut totalsize: usize = 0;
    let mut h = Header::new();
    ffi::lua_pushnil(l); // separates the arguments from the buffer's pieces, as the original
    let mut b = Box::new(LuaBuffer::new());
    b.init(l);
    let mut pos = 0usize;
    while pos < fmt.len() {
        let opt = fmt[pos];
        pos += 1;
        let mut size = optsize(opt, fmt, &mut pos)?;
        let toalign = gettoalign(totalsize, &h, opt, size);
        totalsize = totalsize.wrapping_add(toalign);
        for _ in 0..toalign {
            b.add(&[0]);
        }
        match opt {
            _ if is_int_option(opt) => {
                let n = check_number(l, arg)?;
                arg += 1;
                b.add(&integer_bytes(n, h.little, size));
            }
            b'x' => b.add(&[0]),
            b'f' => {
                let f = check_number(l, arg)? as f32;
                arg += 1;
                let bytes = if h.little { f.to_le_bytes() } else { f.to_be_bytes() };
                b.add(&bytes);
            }
            b'd' => {
                let d = check_number(l, arg)?;
                arg += 1;
                let bytes = if h.little { d.to_le_bytes() } else { d.to_be_bytes() };
                b.add(&bytes);
            }
            b'c' | b's' => {
                let s = check_lstring(l, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_err(arg, "string too short"));
                }
                b.add(&s[..size]);
                if opt == b's' {
                    b.add(&[0]);
                    size += 1;
                }
            }
            _ => controloptions(opt, fmt, &mut pos, &mut h)?,
        }
        totalsize = totalsize.wrapping_add(size);
    }
    b.push_result();
    Ok(1)
}

unsafe fn b_unpack(l: *mut lua_State) -> LRes<c_int> {
    let fmt = c_format(check_lstring(l, 1)?);
    let data = check_lstring(l, 2)?;
    let ld = data.len();
    let mut pos = opt_integer(l, 3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(arg_err(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut h = Header::new();
    ffi::lua_settop(l, 2);
    let mut fpos = 0usize;
    while fpos < fmt.len() {
        let opt = fmt[fpos];
        fpos += 1;
        let mut size = optsize(opt, fmt, &mut fpos)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(arg_err(2, "data string too short"));
        }
        check_stack(l, 2, "too many results")?;
        match opt {
            _ if is_int_option(opt) => {
                let v = integer_value(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                ffi::lua_pushnumber(l, v);
            }
            b'x' => {}
            b'f' => {
                let mut w = [0u8; 4];
                w.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.little { f32::from_le_bytes(w) } else { f32::from_be_bytes(w) };
                ffi::lua_pushnumber(l, f as f64);
            }
            b'd' => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.little { f64::from_le_bytes(w) } else { f64::from_be_bytes(w) };
                ffi::lua_pushnumber(l, d);
            }
            b'c' => {
                if size == 0 {
                    // The previous result of this call (never an argument).
                    if ffi::lua_gettop(l) <= 2 || ffi::lua_isnumber(l, -1) == 0 {
                        return Err(err("format 'c0' needs a previous size"));
                    }
                    let n = ffi::lua_tonumber(l, -1);
                    size = if n < 0.0 { c_double_to_i64(n) as u64 as usize } else { c_double_to_u64(n) as usize };
                    ffi::lua_settop(l, -2);
                    if !(size <= ld && pos <= ld - size) {
                        return Err(arg_err(2, "data string too short"));
                    }
                }
                push_bytes(l, &data[pos..pos + size]);
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(err("unfinished string in data"));
                };
                size = e + 1;
                push_bytes(l, &data[pos..pos + e]);
            }
            _ => controloptions(opt, fmt, &mut fpos, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos.wrapping_add(1) as isize as ffi::lua_Integer);
    Ok(ffi::lua_gettop(l) - 2)
}

unsafe fn b_size(l: *mut lua_State) -> LRes<c_int> {
    let fmt = c_format(check_lstring(l, 1)?);
    let mut pos = 0usize;
    let mut h = Header::new();
    let mut fpos = 0usize;
    while fpos < fmt.len() {
        let opt = fmt[fpos];
        fpos += 1;
        let size = optsize(opt, fmt, &mut fpos)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_err(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_err(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, fmt, &mut fpos, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos as isize as ffi::lua_Integer);
    Ok(1)
}

lua_cfn!(l_pack => b_pack);
lua_cfn!(l_unpack => b_unpack);
lua_cfn!(l_size => b_size);

/// `luaopen_struct`: returns the `struct` table.
pub(crate) unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 0);
    set_funcs(l, &[(c"pack", l_pack), (c"unpack", l_unpack), (c"size", l_size)], 0);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(integer_bytes(-2.0, false, 9), [0, 255, 255, 255, 255, 255, 255, 255, 254]);
        assert_eq!(integer_bytes(18446744073709551616.0, true, 8), [0; 8]);
        assert_eq!(integer_bytes(f64::NAN, true, 8), [0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(integer_bytes(16777221.0, true, 3), [5, 0, 0]);
        assert_eq!(integer_value(&[0, 0, 0, 0, 0, 0, 0, 0, 0x80], false, true), -128.0);
        assert_eq!(integer_value(&[255, 255, 255, 255, 255, 255, 255, 255, 254], false, true), -2.0);
        assert_eq!(integer_value(&[], true, true), 0.0);
        assert_eq!(integer_value(&[255, 255], true, true), -1.0);
        assert_eq!(integer_value(&[255, 255], true, false), 65535.0);
    }

    #[test]
    fn format_numbers() {
        let mut p = 0;
        assert_eq!(getnum(b"123x", &mut p, 7).unwrap(), 123);
        assert_eq!(p, 3);
        let mut p = 0;
        assert_eq!(getnum(b"x", &mut p, 7).unwrap(), 7);
        let mut p = 0;
        assert!(getnum(b"99999999999", &mut p, 7).is_err());
    }

    #[test]
    fn alignment() {
        let h = Header { little: true, align: 8 };
        assert_eq!(gettoalign(1, &h, b'd', 8), 7);
        assert_eq!(gettoalign(1, &h, b'c', 8), 0);
        assert_eq!(gettoalign(3, &h, b'i', 4), 1);
    }
}
