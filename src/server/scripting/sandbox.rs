//! The base functions through which scripts reach protected tables, environments, metatables
//! and chunks: C functions around Lua's own (vm.rs's prelude installs them).
//!
//! Redis patches its Lua VM with read-only tables; stock Lua gets there with proxies (see
//! vm.rs), so these functions must see through a proxy (next, pairs, rawget), refuse to
//! change what it protects (rawset, setmetatable: "Attempt to modify a readonly table", as
//! Redis's VM raises it), answer for it what Redis answers (getmetatable, getfenv), refuse
//! what would reach past it (setfenv of the thread or of the prelude's own functions), and
//! never load bytecode (loadstring, load). Each one fixes up its arguments and then calls
//! Lua's own function in the same C frame: argument errors, the function name in them
//! ("bad argument #1 to 'rawget'") and the position of the script line are Lua's own,
//! exactly as in Redis (a Lua wrapper would name its own line and the wrapped function).
//!
//! Nothing with a destructor lives in these frames: Lua's errors longjmp over them.

use std::os::raw::c_int;
use std::sync::OnceLock;

use mlua::ffi::{self, lua_CFunction, lua_State};

/// Registry fields the prelude fills: proxy -> the table it protects (weak keys).
pub const READONLY: &std::ffi::CStr = c"cinnabar.readonly";
/// proxy -> what getmetatable answers for it (absent: nil, as for Redis's library tables).
pub const PUBLIC_MT: &std::ffi::CStr = c"cinnabar.public_mt";
/// The real globals table, and the `_G` proxy scripts see in its place.
pub const GLOBALS: &std::ffi::CStr = c"cinnabar.globals";
pub const ENV: &std::ffi::CStr = c"cinnabar.env";
/// The read-only proxy of the strings' metatable (what getmetatable('') answers).
pub const STRING_MT: &std::ffi::CStr = c"cinnabar.string_mt";

/// Lua's own base functions (static C functions of the Lua library: the same in every state).
struct Builtins {
    next: lua_CFunction,
    rawget: lua_CFunction,
    rawset: lua_CFunction,
    getmetatable: lua_CFunction,
    setmetatable: lua_CFunction,
    getfenv: lua_CFunction,
    setfenv: lua_CFunction,
    loadstring: lua_CFunction,
    load: lua_CFunction,
    pcall: lua_CFunction,
}

static BUILTINS: OnceLock<Builtins> = OnceLock::new();

/// Record Lua's own base functions from the globals of `l`, before the prelude replaces
/// them. False if one is missing or not a C function.
///
/// # Safety
/// `l` is a state with the base library open and room on its stack.
pub unsafe fn capture_builtins(l: *mut lua_State) -> bool {
    if BUILTINS.get().is_some() {
        return true;
    }
    let get = |name: &std::ffi::CStr| -> Option<lua_CFunction> {
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        let f = ffi::lua_tocfunction(l, -1);
        ffi::lua_settop(l, -2);
        f
    };
    let captured = (|| {
        Some(Builtins {
            next: get(c"next")?,
            rawget: get(c"rawget")?,
            rawset: get(c"rawset")?,
            getmetatable: get(c"getmetatable")?,
            setmetatable: get(c"setmetatable")?,
            getfenv: get(c"getfenv")?,
            setfenv: get(c"setfenv")?,
            loadstring: get(c"loadstring")?,
            load: get(c"load")?,
            pcall: get(c"pcall")?,
        })
    })();
    match captured {
        Some(b) => {
            let _ = BUILTINS.set(b);
            true
        }
        None => false,
    }
}

fn builtins() -> &'static Builtins {
    // Set by `capture_builtins` in `Vm::new` before any of these functions exists.
    BUILTINS.get().expect("Lua builtins captured at state creation")
}

/// (name, function) of what the prelude installs in place of Lua's own.
pub const FUNCTIONS: &[(&str, lua_CFunction)] = &[
    ("next", next_c),
    ("pairs", pairs_c),
    ("rawget", rawget_c),
    ("rawset", rawset_c),
    ("getmetatable", getmetatable_c),
    ("setmetatable", setmetatable_c),
    ("getfenv", getfenv_c),
    ("setfenv", setfenv_c),
    ("loadstring", loadstring_c),
    ("load", load_c),
    ("pcall", pcall_c),
    ("missing_global", missing_global_c),
];

/// Push registry[`field`][value at `idx`] (nil if absent). `idx` is a positive index.
unsafe fn lookup(l: *mut lua_State, field: &std::ffi::CStr, idx: c_int) {
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, field.as_ptr());
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    ffi::lua_remove(l, -2);
}

/// Is the value at `idx` (positive) a read-only proxy?
unsafe fn is_readonly(l: *mut lua_State, idx: c_int) -> bool {
    lookup(l, READONLY, idx);
    let yes = ffi::lua_type(l, -1) != ffi::LUA_TNIL;
    ffi::lua_settop(l, -2);
    yes
}

/// Replace a proxy at `idx` (positive) with the table it protects.
unsafe fn see_through(l: *mut lua_State, idx: c_int) {
    if ffi::lua_gettop(l) < idx {
        return;
    }
    lookup(l, READONLY, idx);
    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
        ffi::lua_settop(l, -2);
    } else {
        ffi::lua_replace(l, idx);
    }
}

/// Raise Redis's read-only error as its VM does from a C function: no position.
unsafe fn raise_readonly(l: *mut lua_State) -> c_int {
    ffi::lua_pushstring(l, c"Attempt to modify a readonly table".as_ptr());
    ffi::lua_error(l)
}

/// luaL_error with a fixed message: the script's position, then `msg`.
unsafe fn raise_here(l: *mut lua_State, msg: &std::ffi::CStr) -> c_int {
    ffi::luaL_where(l, 1);
    ffi::lua_pushstring(l, msg.as_ptr());
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// A loaded chunk (the single result of Lua's loadstring/load) gets the scripts' `_G`.
unsafe fn bind_env(l: *mut lua_State, results: c_int) -> c_int {
    if results == 1 && ffi::lua_type(l, -1) == ffi::LUA_TFUNCTION {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ENV.as_ptr());
        ffi::lua_setfenv(l, -2);
    }
    results
}

/// ESC, the first byte of a Lua bytecode chunk.
const ESC: u8 = 27;

/// Does the string at `idx` start with ESC?
unsafe fn starts_binary(l: *mut lua_State, idx: c_int) -> bool {
    if ffi::lua_type(l, idx) != ffi::LUA_TSTRING {
        return false;
    }
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    len > 0 && *p.cast::<u8>() == ESC
}

/// Replace the string at `idx` (positive) with " " .. it.
unsafe fn prefix_space(l: *mut lua_State, idx: c_int) {
    ffi::lua_pushlstring(l, c" ".as_ptr(), 1);
    ffi::lua_pushvalue(l, idx);
    ffi::lua_concat(l, 2);
    ffi::lua_replace(l, idx);
}

unsafe extern "C-unwind" fn next_c(l: *mut lua_State) -> c_int {
    see_through(l, 1);
    (builtins().next)(l)
}

/// pairs(t): next, t, nil (Lua's own pairs would hand out its own next, blind to proxies).
unsafe extern "C-unwind" fn pairs_c(l: *mut lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_pushcfunction(l, next_c);
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushnil(l);
    3
}

unsafe extern "C-unwind" fn rawget_c(l: *mut lua_State) -> c_int {
    see_through(l, 1);
    (builtins().rawget)(l)
}

unsafe extern "C-unwind" fn rawset_c(l: *mut lua_State) -> c_int {
    // Lua's argument checks first, as Redis's rawset makes them before its read-only check.
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::luaL_checkany(l, 3);
    if is_readonly(l, 1) {
        return raise_readonly(l);
    }
    (builtins().rawset)(l)
}

unsafe extern "C-unwind" fn getmetatable_c(l: *mut lua_State) -> c_int {
    ffi::luaL_checkany(l, 1);
    if ffi::lua_type(l, 1) == ffi::LUA_TSTRING {
        // Read-only, as in Redis since CVE-2025-46818 (Redis 7.2.11; Debian's 7.0.15): a
        // script changing the strings' metatable would run code in other users' scripts.
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, STRING_MT.as_ptr());
        return 1;
    }
    if is_readonly(l, 1) {
        lookup(l, PUBLIC_MT, 1);
        return 1;
    }
    (builtins().getmetatable)(l)
}

unsafe extern "C-unwind" fn setmetatable_c(l: *mut lua_State) -> c_int {
    let t = ffi::lua_type(l, 2);
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
        return ffi::luaL_argerror(l, 2, c"nil or table expected".as_ptr());
    }
    if is_readonly(l, 1) {
        return raise_readonly(l);
    }
    (builtins().setmetatable)(l)
}

/// Is stack level `level` (of the function calling us) the C frame through which the
/// server called the script? Redis calls a script from C with nothing below it, so there
/// that level does not exist ("invalid level"); the frame under our scripts is mlua's.
unsafe fn below_the_script(l: *mut lua_State, level: c_int) -> bool {
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let main = ffi::lua_pushthread(l) == 1;
    ffi::lua_settop(l, -2);
    if !main || level < 1 || ffi::lua_getstack(l, level, &mut ar) == 0 || ffi::lua_getstack(l, level + 1, &mut ar) != 0
    {
        return false;
    }
    ffi::lua_getstack(l, level, &mut ar);
    ffi::lua_getinfo(l, c"S".as_ptr(), &mut ar);
    !ar.what.is_null() && *ar.what.cast::<u8>() == b'C'
}

/// The level in argument 1, if it is one (a number, as Lua's getfunc reads it).
unsafe fn level_arg(l: *mut lua_State) -> Option<c_int> {
    (ffi::lua_type(l, 1) == ffi::LUA_TNUMBER).then(|| ffi::lua_tointeger(l, 1) as c_int)
}

/// getfenv as Lua's, but the real globals (the environment of C functions, of the thread
/// and of the prelude's functions) are answered as the `_G` scripts see, as in Redis.
unsafe extern "C-unwind" fn getfenv_c(l: *mut lua_State) -> c_int {
    if level_arg(l).is_some_and(|level| below_the_script(l, level)) {
        return ffi::luaL_argerror(l, 1, c"invalid level".as_ptr());
    }
    (builtins().getfenv)(l);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, GLOBALS.as_ptr());
    let real = ffi::lua_rawequal(l, -1, -2) != 0;
    ffi::lua_settop(l, -2);
    if real {
        ffi::lua_settop(l, -2);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ENV.as_ptr());
    }
    1
}

const SETFENV_REFUSED: &std::ffi::CStr = c"'setfenv' cannot change environment of given object";

/// setfenv as Lua's, except on what would reach past the proxies: the thread (level 0: the
/// globals every later script is compiled with; in Redis this breaks scripting until SCRIPT
/// FLUSH) and the prelude's own Lua functions (their environment is the real globals; Redis
/// has C functions there, which Lua refuses the same way).
unsafe extern "C-unwind" fn setfenv_c(l: *mut lua_State) -> c_int {
    ffi::luaL_checktype(l, 2, ffi::LUA_TTABLE);
    if ffi::lua_type(l, 1) == ffi::LUA_TFUNCTION {
        ffi::lua_pushvalue(l, 1);
    } else {
        // Lua's getfunc: its errors, in its order.
        let level = ffi::luaL_checkinteger(l, 1) as c_int;
        if level < 0 {
            return ffi::luaL_argerror(l, 1, c"level must be non-negative".as_ptr());
        }
        if level == 0 {
            return raise_here(l, SETFENV_REFUSED);
        }
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(l, level, &mut ar) == 0 || below_the_script(l, level) {
            return ffi::luaL_argerror(l, 1, c"invalid level".as_ptr());
        }
        ffi::lua_getinfo(l, c"f".as_ptr(), &mut ar);
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TFUNCTION && ffi::lua_iscfunction(l, -1) == 0 {
        ffi::lua_getfenv(l, -1);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, GLOBALS.as_ptr());
        if ffi::lua_rawequal(l, -1, -2) != 0 {
            return raise_here(l, SETFENV_REFUSED);
        }
    }
    ffi::lua_settop(l, 2);
    (builtins().setfenv)(l)
}

/// loadstring as Lua's, but never bytecode: Lua 5.1 loads a chunk starting with ESC as
/// bytecode, which it does not verify (crafted bytecode reads and writes the server's
/// memory). Redis's Lua parses every chunk as text, so such a chunk fails at its first byte;
/// a space in front makes stock Lua parse it as text too, with the same error ("unexpected
/// symbol near 'char(27)'", line 1) under the same chunk name.
unsafe extern "C-unwind" fn loadstring_c(l: *mut lua_State) -> c_int {
    if starts_binary(l, 1) {
        ffi::lua_settop(l, 2);
        if ffi::lua_type(l, 2) == ffi::LUA_TNIL {
            // The chunk's name defaults to its text.
            ffi::lua_pushvalue(l, 1);
            ffi::lua_replace(l, 2);
        }
        prefix_space(l, 1);
    }
    let results = (builtins().loadstring)(l);
    bind_env(l, results)
}

/// load(reader) as Lua's, with the reader's first piece kept from starting a bytecode chunk
/// (see `loadstring_c`).
unsafe extern "C-unwind" fn load_c(l: *mut lua_State) -> c_int {
    if ffi::lua_type(l, 1) == ffi::LUA_TFUNCTION {
        ffi::lua_pushvalue(l, 1);
        ffi::lua_pushboolean(l, 0);
        ffi::lua_pushcclosure(l, first_piece_as_text, 2);
        ffi::lua_replace(l, 1);
    }
    let results = (builtins().load)(l);
    bind_env(l, results)
}

/// The reader `load_c` hands Lua: upvalue 1 the script's reader, upvalue 2 whether its
/// first piece was read.
unsafe extern "C-unwind" fn first_piece_as_text(l: *mut lua_State) -> c_int {
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_call(l, 0, 1);
    if ffi::lua_toboolean(l, ffi::lua_upvalueindex(2)) == 0 {
        ffi::lua_pushboolean(l, 1);
        ffi::lua_replace(l, ffi::lua_upvalueindex(2));
        let top = ffi::lua_gettop(l);
        if starts_binary(l, top) {
            prefix_space(l, top);
        }
    }
    1
}

/// pcall as Lua's, but the `err` field of an error table (`{err=...}`, raised by
/// redis.call) reaches the script instead of the table, as Redis's pcall does it.
unsafe extern "C-unwind" fn pcall_c(l: *mut lua_State) -> c_int {
    let results = (builtins().pcall)(l);
    if ffi::lua_toboolean(l, 1) == 0 && ffi::lua_type(l, 2) == ffi::LUA_TTABLE {
        ffi::lua_getfield(l, 2, c"err".as_ptr());
        if ffi::lua_isstring(l, -1) != 0 {
            ffi::lua_replace(l, 2);
        } else {
            ffi::lua_settop(l, -2);
        }
    }
    results
}

/// The `__index` of the globals: reading a name that does not exist is an error, with
/// Redis's texts (its luaProtectedTableError).
unsafe extern "C-unwind" fn missing_global_c(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 2 {
        return ffi::luaL_error(l, c"Wrong number of arguments to luaProtectedTableError".as_ptr());
    }
    if ffi::lua_isstring(l, -1) == 0 {
        return ffi::luaL_error(l, c"Second argument to luaProtectedTableError must be a string or number".as_ptr());
    }
    let name = ffi::lua_tostring(l, -1);
    ffi::luaL_error(l, c"Script attempted to access nonexistent global variable '%s'".as_ptr(), name)
}
