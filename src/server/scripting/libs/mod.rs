//! The four Lua libraries Redis exposes to scripts: `cjson`, `cmsgpack`, `bit` and `struct`.
//!
//! Each is written from the observed behaviour of Redis 7.2 (lua-cjson 2.1.0, lua-cmsgpack
//! 0.4.0, LuaBitOp 1.0.2 and struct 0.2, each with Redis's patches) and checked against a real
//! redis-server by `tests/lua_libs.rs`. Scripts can observe far more than the encoded bytes:
//! error texts, which argument an error blames, Lua stack limits ("stack overflow (...)"),
//! the iteration order of decoded tables. So the functions are plain Lua C functions working
//! on the Lua stack through `mlua::ffi`, in the same order of stack operations as the
//! originals, and they raise plain string errors exactly as `luaL_error`/`luaL_argerror` do
//! (mlua's own callbacks raise userdata errors, which a script's `pcall` would see).
//!
//! Error discipline: a library function is an `unsafe fn(*mut lua_State) -> LRes<c_int>`;
//! its wrapper (see `lua_cfn!`) turns `Err` into a Lua error only after every Rust frame of
//! the function has returned, so `lua_error`'s longjmp never crosses a frame that owns
//! anything. Inside the functions only allocation failures can still raise from the Lua API
//! (they would leak the Rust buffers in flight, nothing worse). Nesting is walked with
//! explicit stacks, not native recursion, so deep documents need no large thread stack.
//!
//! Not ours to fix but visible through these libraries: Redis's Lua VM hashes every byte of
//! a string while stock Lua 5.1 (mlua's vendored build) samples strings of 32 bytes and more,
//! so tables with such keys iterate in a different `next` order (and so encode their keys in
//! a different order) unless the VM's `luaS_newlstr` is patched to hash every byte.
//! Redis also makes these tables read-only; that is the scripting layer's business.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use mlua::ffi::{self, lua_State};

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

/// Create the globals `cjson`, `cmsgpack`, `bit` and `struct` in `lua`, as Redis does for
/// every script environment.
pub fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", open(lua, cjson::open)?)?;
    globals.raw_set("cmsgpack", open(lua, cmsgpack::open)?)?;
    globals.raw_set("bit", open(lua, bit::open)?)?;
    globals.raw_set("struct", open(lua, structlib::open)?)?;
    Ok(())
}

/// Run a library's `luaopen_*`-style C function and return the table it leaves.
fn open(lua: &mlua::Lua, f: ffi::lua_CFunction) -> mlua::Result<mlua::Table> {
    // SAFETY: `f` is one of our opener functions; it only builds a table.
    let opener = unsafe { lua.create_c_function(f)? };
    opener.call::<mlua::Table>(())
}

/// A Lua error to raise once the Rust frames are gone.
#[derive(Debug)]
pub(crate) enum LErr {
    /// `luaL_error`: prefixed with the position of the caller (`luaL_where(L, 1)`).
    Error(Vec<u8>),
    /// `luaL_argerror(L, narg, msg)`: "bad argument #n to 'name' (msg)", then as `Error`.
    Arg(c_int, Vec<u8>),
    /// Raised as is, without position (errors the Lua core raises from inside a C function,
    /// such as "table index is nil").
    Raw(Vec<u8>),
}

pub(crate) type LRes<T> = Result<T, LErr>;

pub(crate) fn err(msg: impl Into<Vec<u8>>) -> LErr {
    LErr::Error(msg.into())
}

pub(crate) fn arg_err(narg: c_int, msg: impl Into<Vec<u8>>) -> LErr {
    LErr::Arg(narg, msg.into())
}

/// Define `unsafe extern "C-unwind" fn $name(L)` calling `$body(L) -> LRes<c_int>` and raising
/// its error as a Lua string error. A panic becomes a Lua error too (never unwinds into C).
macro_rules! lua_cfn {
    ($name:ident => $body:path) => {
        pub(crate) unsafe extern "C-unwind" fn $name(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { $body(l) }));
            let e = match r {
                Ok(Ok(n)) => return n,
                Ok(Err(e)) => e,
                Err(_) => $crate::server::scripting::libs::err("internal error in Lua library"),
            };
            unsafe { $crate::server::scripting::libs::raise(l, e) }
        }
    };
}
pub(crate) use lua_cfn;

/// Push the message of `e` (all Rust values dropped when this returns).
#[inline(never)]
unsafe fn push_error(l: *mut lua_State, e: LErr) {
    match e {
        LErr::Error(m) => {
            ffi::luaL_where(l, 1);
            push_bytes(l, &m);
            ffi::lua_concat(l, 2);
        }
        LErr::Arg(narg, m) => {
            let msg = argerror_message(l, narg, &m);
            ffi::luaL_where(l, 1);
            push_bytes(l, &msg);
            ffi::lua_concat(l, 2);
        }
        LErr::Raw(m) => push_bytes(l, &m),
    }
}

/// Raise `e` as a Lua error (longjmp). Call only from a wrapper frame that owns nothing.
pub(crate) unsafe fn raise(l: *mut lua_State, e: LErr) -> ! {
    push_error(l, e);
    ffi::lua_error(l)
}

unsafe fn cstr_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        b"(null)"
    } else {
        CStr::from_ptr(p).to_bytes()
    }
}

/// The text `luaL_argerror` builds (before the position prefix).
unsafe fn argerror_message(l: *mut lua_State, mut narg: c_int, extramsg: &[u8]) -> Vec<u8> {
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut out = Vec::with_capacity(64 + extramsg.len());
    if ffi::lua_getstack(l, 0, &mut ar) == 0 {
        out.extend_from_slice(format!("bad argument #{narg} (").as_bytes());
        out.extend_from_slice(extramsg);
        out.push(b')');
        return out;
    }
    ffi::lua_getinfo(l, c"n".as_ptr(), &mut ar);
    if !ar.namewhat.is_null() && cstr_bytes(ar.namewhat) == b"method" {
        narg -= 1;
        if narg == 0 {
            out.extend_from_slice(b"calling '");
            out.extend_from_slice(cstr_bytes(ar.name));
            out.extend_from_slice(b"' on bad self (");
            out.extend_from_slice(extramsg);
            out.push(b')');
            return out;
        }
    }
    let name: &[u8] = if ar.name.is_null() { b"?" } else { cstr_bytes(ar.name) };
    out.extend_from_slice(format!("bad argument #{narg} to '").as_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(b"' (");
    out.extend_from_slice(extramsg);
    out.push(b')');
    out
}

pub(crate) unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
}

pub(crate) unsafe fn push_str(l: *mut lua_State, s: &str) {
    push_bytes(l, s.as_bytes());
}

/// `lua_typename(L, lua_type(L, idx))`, "no value" for an absent argument.
pub(crate) unsafe fn typename_at(l: *mut lua_State, idx: c_int) -> &'static str {
    type_name(ffi::lua_type(l, idx))
}

pub(crate) fn type_name(t: c_int) -> &'static str {
    match t {
        ffi::LUA_TNONE => "no value",
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA => "userdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TTHREAD => "thread",
        _ => "?",
    }
}

/// `luaL_typerror`.
pub(crate) unsafe fn type_error(l: *mut lua_State, narg: c_int, tname: &str) -> LErr {
    arg_err(narg, format!("{tname} expected, got {}", typename_at(l, narg)))
}

/// `luaL_checknumber`.
pub(crate) unsafe fn check_number(l: *mut lua_State, narg: c_int) -> LRes<f64> {
    let d = ffi::lua_tonumber(l, narg);
    if d == 0.0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(d)
}

/// `luaL_checkinteger` (Lua 5.1: truncation towards zero, as `lua_tointeger` does on x86-64).
pub(crate) unsafe fn check_integer(l: *mut lua_State, narg: c_int) -> LRes<i64> {
    let d = ffi::lua_tointeger_(l, narg) as i64;
    if d == 0 && ffi::lua_isnumber(l, narg) == 0 {
        return Err(type_error(l, narg, "number"));
    }
    Ok(d)
}

/// `luaL_optinteger`.
pub(crate) unsafe fn opt_integer(l: *mut lua_State, narg: c_int, def: i64) -> LRes<i64> {
    if ffi::lua_type(l, narg) <= 0 {
        Ok(def)
    } else {
        check_integer(l, narg)
    }
}

/// `luaL_checklstring`: the bytes of the string at `narg` (numbers are converted in place).
/// The slice stays valid while the value stays on the stack.
pub(crate) unsafe fn check_lstring<'a>(l: *mut lua_State, narg: c_int) -> LRes<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, narg, &mut len);
    if p.is_null() {
        return Err(type_error(l, narg, "string"));
    }
    Ok(std::slice::from_raw_parts(p as *const u8, len))
}

/// `luaL_checkstack`.
pub(crate) unsafe fn check_stack(l: *mut lua_State, space: c_int, msg: &str) -> LRes<()> {
    if ffi::lua_checkstack(l, space) == 0 {
        return Err(err(format!("stack overflow ({msg})")));
    }
    Ok(())
}

/// `luaL_setfuncs`-like: for the table at -(nup+1) register every function with the `nup`
/// values on top of the stack as upvalues, then pop them.
pub(crate) unsafe fn set_funcs(l: *mut lua_State, funcs: &[(&CStr, ffi::lua_CFunction)], nup: c_int) {
    for (name, f) in funcs {
        for _ in 0..nup {
            ffi::lua_pushvalue(l, -nup);
        }
        ffi::lua_pushcclosure(l, *f, nup);
        ffi::lua_setfield(l, -(nup + 2), name.as_ptr());
    }
    ffi::lua_settop(l, -nup - 1);
}

pub(crate) unsafe fn set_field_str(l: *mut lua_State, name: &CStr, value: &str) {
    push_str(l, value);
    ffi::lua_setfield(l, -2, name.as_ptr());
}

/// Lua 5.1's `luaL_Buffer` (lauxlib.h), used where the original builds its result with it:
/// the buffer spills onto the Lua stack every `LUAL_BUFFERSIZE` bytes, which scripts can
/// observe through argument positions.
#[repr(C)]
pub(crate) struct LuaBuffer {
    p: *mut c_char,
    lvl: c_int,
    l: *mut lua_State,
    buffer: [c_char; LUAL_BUFFERSIZE],
}

/// `BUFSIZ` on glibc, as Lua's luaconf.h sets it.
const LUAL_BUFFERSIZE: usize = 8192;

extern "C-unwind" {
    fn luaL_buffinit(l: *mut lua_State, b: *mut LuaBuffer);
    fn luaL_addlstring(b: *mut LuaBuffer, s: *const c_char, len: usize);
    fn luaL_pushresult(b: *mut LuaBuffer);
}

impl LuaBuffer {
    /// A zeroed buffer; call `init` once it is at its final address.
    pub(crate) fn new() -> LuaBuffer {
        LuaBuffer { p: std::ptr::null_mut(), lvl: 0, l: std::ptr::null_mut(), buffer: [0; LUAL_BUFFERSIZE] }
    }
    pub(crate) unsafe fn init(&mut self, l: *mut lua_State) {
        luaL_buffinit(l, self);
    }
    pub(crate) unsafe fn add(&mut self, s: &[u8]) {
        luaL_addlstring(self, s.as_ptr() as *const c_char, s.len());
    }
    pub(crate) unsafe fn push_result(&mut self) {
        luaL_pushresult(self);
    }
}

/// C's `(int)d` as x86-64 computes it (`cvttsd2si`): truncation, and INT_MIN when the value
/// does not fit (or is NaN).
pub(crate) fn c_double_to_i32(d: f64) -> i32 {
    if d > -2147483649.0 && d < 2147483648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

pub(crate) use crate::util::number::c_double_to_i64;

/// C's `(uint64_t)d` for `d >= 0` (or NaN) as gcc compiles it on x86-64: values from 2^63
/// are converted after subtracting 2^63; anything out of range gives the "indefinite"
/// integer 2^63 (so 2^64 and above wrap to 0, NaN gives 2^63).
pub(crate) fn c_double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    if d < TWO63 {
        c_double_to_i64(d) as u64
    } else if d.is_nan() {
        1u64 << 63
    } else {
        (c_double_to_i64(d - TWO63) as u64) ^ (1u64 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_conversions_match_x86() {
        assert_eq!(c_double_to_i32(1.9), 1);
        assert_eq!(c_double_to_i32(-1.9), -1);
        assert_eq!(c_double_to_i32(2147483648.0), i32::MIN);
        assert_eq!(c_double_to_i32(f64::NAN), i32::MIN);
        assert_eq!(c_double_to_i64(9223372036854775808.0), i64::MIN);
        assert_eq!(c_double_to_i64(-1e300), i64::MIN);
        assert_eq!(c_double_to_u64(18446744073709551616.0), 0);
        assert_eq!(c_double_to_u64(9223372036854775808.0), 1 << 63);
        assert_eq!(c_double_to_u64(f64::NAN), 1 << 63);
        assert_eq!(c_double_to_u64(12345.7), 12345);
    }

    #[test]
    fn install_creates_the_four_tables() {
        let lua = mlua::Lua::new();
        install(&lua).unwrap();
        for name in ["cjson", "cmsgpack", "bit", "struct"] {
            let t: mlua::Table = lua.globals().get(name).unwrap();
            assert!(t.pairs::<mlua::Value, mlua::Value>().count() > 0);
        }
        let s: String = lua.load("return cjson.encode({1,2,{a=cjson.null}})").eval().unwrap();
        assert_eq!(s, "[1,2,{\"a\":null}]");
        let e: String = lua.load("return select(2, pcall(cjson.decode, '[1'))").eval().unwrap();
        assert_eq!(e, "Expected comma or array end but found T_END at character 3");
        let e: String = lua.load("return select(2, pcall(bit.band))").eval().unwrap();
        assert_eq!(e, "bad argument #1 to '?' (number expected, got no value)");
    }
}
