//! The Lua 5.1 state scripts run in, set up as Redis 7.2 sets up its own: the libraries it
//! loads (base without print/dofile/loadfile/newproxy, table, string, math, coroutine, cjson,
//! cmsgpack, bit, struct), the `redis` API, protected globals and library tables, and the
//! error handler that records where a script failed.
//!
//! Protection: scripts see a proxy `_G` whose reads of a missing name fail with "Script
//! attempted to access nonexistent global variable" and whose writes fail with "Attempt to
//! modify a readonly table"; library tables and the strings' metatable are proxies the
//! same way (Redis patches its Lua VM with read-only tables; stock Lua gets there with
//! proxies). The base functions that reach tables, environments, metatables and chunks
//! (`next`, `pairs`, `rawget`, `rawset`, `getmetatable`, `setmetatable`, `getfenv`,
//! `setfenv`, `loadstring`, `load`, `pcall`) are C functions around Lua's own that know the
//! proxies (`sandbox.rs`); no chunk is ever loaded as bytecode.
//!
//! Errors raised by the `redis` API are `{err="CODE message"}` tables thrown from C
//! functions (`call_c`, and the trampolines of `raising` around Rust functions), so `pcall`
//! in a script receives the same values as in Redis; the error handler skips C frames and
//! the prelude's own (chunk "=redis") when it records the script's line.

use std::cell::Cell;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::convert;
use crate::command::dispatch;
use crate::command::spec::flags;
use crate::keyspace::Access;
use crate::resp::write::ReplyWriter;
use crate::server::client::Client;
use crate::server::Server;

/// What `redis.call` needs while a script runs: set by `Vm::run` for the duration of the
/// call, on the thread running it.
pub struct RunCtx {
    pub srv: *const Server,
    pub ks: *mut Access<'static>,
    /// The script's own client (Redis's "lua client"): its database, RESP version.
    pub client: Client,
    /// EVAL_RO, FCALL_RO or a no-writes script: write commands are refused.
    pub read_only: bool,
    /// The script declared allow-oom: its commands run whatever the memory.
    pub allow_oom: bool,
    /// redis.setresp(3) was called.
    pub resp3: bool,
    /// redis.set_repl's flags (REPL_AOF = 1, REPL_REPLICA = 2; REPL_ALL at the start).
    pub repl: u8,
}

thread_local! {
    static CURRENT: Cell<*mut RunCtx> = const { Cell::new(std::ptr::null_mut()) };
}

/// Make `rc` the context of `redis.call` on this thread until the guard drops.
pub struct Entered(*mut RunCtx);

impl Entered {
    pub fn new(rc: &mut RunCtx) -> Entered {
        let prev = CURRENT.with(|c| c.replace(rc as *mut RunCtx));
        Entered(prev)
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

fn with_ctx<R>(f: impl FnOnce(&mut RunCtx) -> R) -> Option<R> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: set by `Entered` from a live `&mut RunCtx` owned by the frame that runs the
    // script; that frame does not touch it until the Lua call returns.
    Some(f(unsafe { &mut *p }))
}

/// Internal Lua code; its frames are skipped when locating a script error.
const PRELUDE: &str = r#"
local raw, R, version, version_num = ...
local dbg = debug
local error, type, tostring, rawget, setmetatable, getmetatable =
      error, type, tostring, rawget, setmetatable, getmetatable

-- What Redis does not expose; and newproxy, which Redis 7.2 does: the __gc of its userdata
-- runs with hooks off (Lua's GCTM), so a finalizer that never ends hangs the server for
-- good, with no BUSY and no SCRIPT KILL (as it hangs Redis 7.2.6).
for _, name in ipairs({'debug', 'print', 'dofile', 'loadfile', 'module', 'require', 'package', 'os', 'io',
                       'newproxy'}) do
  R[name] = nil
end

-- proxy -> the table it protects, and proxy -> what getmetatable answers for it (sandbox.rs).
local readonly = setmetatable({}, {__mode = 'k'})
local public_mt = setmetatable({}, {__mode = 'k'})
local registry = dbg.getregistry()
registry['cinnabar.readonly'] = readonly
registry['cinnabar.public_mt'] = public_mt
local function ro_error() error('Attempt to modify a readonly table', 2) end
local function protect(t)
  local p = {}
  readonly[p] = t
  return setmetatable(p, {__index = t, __newindex = ro_error, __metatable = false})
end

local redis = {}
-- The raising functions are C functions (redis.call, and the trampolines of `raising` in
-- vm.rs): called directly, they keep the caller's frame, so errors point at the script's
-- line as in Redis.
redis.call = raw.call
redis.pcall = raw.redis_pcall
redis.error_reply = raw.error_reply
redis.status_reply = raw.status_reply
redis.sha1hex = raw.sha1hex
redis.log = raw.log
redis.setresp = raw.setresp
redis.set_repl = raw.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = raw.acl_check_cmd
redis.REDIS_VERSION = version
redis.REDIS_VERSION_NUM = version_num
redis.LOG_DEBUG = 0; redis.LOG_VERBOSE = 1; redis.LOG_NOTICE = 2; redis.LOG_WARNING = 3
redis.REPL_NONE = 0; redis.REPL_AOF = 1; redis.REPL_SLAVE = 2; redis.REPL_REPLICA = 2; redis.REPL_ALL = 3
R.redis = redis

for _, name in ipairs({'redis', 'string', 'table', 'math', 'coroutine', 'cjson', 'cmsgpack', 'bit', 'struct'}) do
  if type(rawget(R, name)) == 'table' then R[name] = protect(R[name]) end
end
-- Strings' methods come from the protected string table, and their metatable is read-only
-- (getmetatable('') answers this proxy).
local string_mt = getmetatable('')
string_mt.__index = R.string
registry['cinnabar.string_mt'] = protect(string_mt)

local function lookup_in(t)
  return function(_, k)
    local v = rawget(t, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end
end
-- Reads of a script's globals go G -> R (a table: no Lua call for a name that exists) ->
-- R's own __index (the error, a C function) for a name that does not. getmetatable(_G)
-- answers a read-only table like Redis's globals' metatable.
setmetatable(R, {__index = raw.missing_global})
local G = setmetatable({}, {__index = R, __newindex = ro_error, __metatable = false})
readonly[G] = R
public_mt[G] = protect({__index = raw.missing_global})
R._G = G
registry['cinnabar.globals'] = R
registry['cinnabar.env'] = G

-- The base functions that see through the proxies, refuse to change them, and never load
-- bytecode (sandbox.rs).
for _, name in ipairs({'next', 'pairs', 'rawget', 'rawset', 'getmetatable', 'setmetatable', 'getfenv',
                       'setfenv', 'loadstring', 'load', 'pcall'}) do
  R[name] = raw[name]
end
local function handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=redis') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  local interrupted = raw.interrupted()
  if interrupted then
    err = {err = interrupted}
  elseif type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
R.__redis__err__handler = handler

-- A function library's globals: only `load_api` while its code loads, then what scripts
-- see (Redis gives library code nothing but redis.register_function and redis.log).
local function library_env(load_api)
  if type(load_api.redis) == 'table' then
    local api = load_api.redis
    load_api.redis = setmetatable({}, {__index = lookup_in(api), __newindex = ro_error, __metatable = false})
    readonly[load_api.redis] = api
  end
  local mt = {__index = lookup_in(load_api), __newindex = ro_error, __metatable = false}
  local E = setmetatable({}, mt)
  readonly[E] = R
  return E, function() mt.__index = R end
end

return handler, G, library_env
"#;

/// KEYS, ARGV, and whether they are set as globals (EVAL) or passed as arguments (FCALL).
type ScriptArgs<'a, 'b> = (&'a [&'b [u8]], &'a [&'b [u8]], bool);

#[derive(Clone)]
pub struct Vm {
    pub lua: Lua,
    /// The real globals (KEYS and ARGV are set here).
    pub globals: Table,
    /// What scripts see as their globals.
    pub env: Table,
    /// The error handler every call of a script runs under.
    handler: Function,
    /// library_env(load_api) -> (env, switch_to_runtime), for FUNCTION LOAD.
    pub library_env: Function,
    /// The heap once the state is set up and collected (`new_vm`): paces the collector.
    pub base_heap: usize,
}

fn ok_pair(v: Value) -> mlua::Result<(bool, Value)> {
    Ok((true, v))
}

fn err_pair(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::Table(convert::error_table(lua, msg.as_bytes())?)))
}

/// A script error as Redis replies it: the `err` text, then where it happened.
pub fn format_error(err: &Value, name: &str) -> String {
    let Value::Table(t) = err else {
        // Lua's own errors never reach the error handler, so they are not error tables:
        // "not enough memory" (the cap on the Lua heap) and "error in error handling".
        // Redis's luaCallFunction replies those as "Error running script <name>, <at most
        // 100 bytes of the message>" (newlines become spaces in an error reply).
        let msg = match err {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Number(n) => fmt_lua_number(*n).into_bytes(),
            Value::Integer(n) => n.to_string().into_bytes(),
            _ => b"execution failure".to_vec(),
        };
        let msg = String::from_utf8_lossy(&msg[..msg.len().min(100)]);
        let msg: String =
            msg.trim_end_matches(['\r', '\n']).chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        return format!("ERR Error running script {name}, {msg}");
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR unknown error".into(),
    };
    let source = t.raw_get::<Value>("source").ok();
    let line = t.raw_get::<Value>("line").ok();
    let text = match (source, line) {
        (Some(Value::String(s)), Some(Value::Number(l))) => {
            format!("{msg} script: {name}, on {}:{}.", s.to_string_lossy(), l as i64)
        }
        (Some(Value::String(s)), Some(Value::Integer(l))) => {
            format!("{msg} script: {name}, on {}:{l}.", s.to_string_lossy())
        }
        _ => msg,
    };
    // Redis 7.2 replies a script's error table with addReplyErrorSdsEx, which keeps CR and LF
    // (7.0 and every formatted error turn them into spaces): the leading '-' asks
    // ReplyWriter::error for the raw line. A text that starts with '-' itself goes after
    // Redis's own '-' too: `error({err='-q z'})` replies "--q z ..." (counted as "-q").
    if text.contains(['\r', '\n']) || text.starts_with('-') {
        format!("-{text}")
    } else {
        text
    }
}

impl Vm {
    pub fn new(killed: std::sync::Arc<std::sync::atomic::AtomicU8>) -> mlua::Result<Vm> {
        // SAFETY: the debug library is needed by the error handler; it is removed from the
        // globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new())
        };
        lua.set_memory_limit(1 << 30)?;
        super::libs::install(&lua)?;
        install_random(&lua)?;
        let raw = lua.create_table()?;
        // SAFETY: reads globals of a fresh state inside a protected call.
        let captured = unsafe {
            lua.exec_raw::<bool>((), |l| {
                let ok = super::sandbox::capture_builtins(l);
                mlua::ffi::lua_pushboolean(l, ok as std::os::raw::c_int);
            })?
        };
        if !captured {
            return Err(mlua::Error::RuntimeError("the Lua base library is incomplete".into()));
        }
        for (name, f) in super::sandbox::FUNCTIONS {
            // SAFETY: the sandbox functions follow the C function protocol.
            raw.set(*name, unsafe { lua.create_c_function(*f)? })?;
        }
        // SAFETY: call_c and pcall_c follow the C function protocol (see call_on_stack).
        raw.set("redis_pcall", unsafe { lua.create_c_function(pcall_c)? })?;
        raw.set("call", unsafe { lua.create_c_function(call_c)? })?;
        let error_reply = lua.create_function(|lua, args: MultiValue| Ok((true, reply_table(lua, args, "err")?)))?;
        raising(&lua, &raw, "error_reply", error_reply, error_reply_c)?;
        let status_reply = lua.create_function(|lua, args: MultiValue| Ok((true, reply_table(lua, args, "ok")?)))?;
        raising(&lua, &raw, "status_reply", status_reply, status_reply_c)?;
        raising(&lua, &raw, "sha1hex", lua.create_function(sha1hex)?, sha1hex_c)?;
        raising(&lua, &raw, "log", lua.create_function(log)?, log_c)?;
        raising(&lua, &raw, "setresp", lua.create_function(setresp)?, setresp_c)?;
        raising(&lua, &raw, "set_repl", lua.create_function(set_repl)?, set_repl_c)?;
        raising(&lua, &raw, "acl_check_cmd", lua.create_function(acl_check_cmd)?, acl_check_cmd_c)?;
        raw.set(
            "interrupted",
            lua.create_function(move |_, ()| {
                Ok(match killed.load(std::sync::atomic::Ordering::Acquire) {
                    1 => Some("ERR Script killed by user with SCRIPT KILL..."),
                    2 => Some("ERR FUNCTION LOAD timeout"),
                    _ => None,
                })
            })?,
        )?;
        let globals = lua.globals();
        let (handler, env, library_env): (Function, Table, Function) =
            lua.load(PRELUDE).set_name("=redis").call((raw, globals.clone(), crate::REDIS_VERSION, version_num()))?;
        Ok(Vm { lua, globals, env, handler, library_env, base_heap: 0 })
    }

    /// Compile a script body (chunk "@user_script", or "@user_function" for libraries).
    pub fn compile(&self, body: &[u8], chunk: &str) -> Result<Function, String> {
        self.compile_in(body, chunk, self.env.clone())
    }

    pub fn compile_in(&self, body: &[u8], chunk: &str, env: Table) -> Result<Function, String> {
        // Never bytecode (see `sandbox::loadstring_c`): a body starting with ESC is parsed
        // as text, and fails there, as in Redis.
        let text: std::borrow::Cow<[u8]> = match body.first() {
            Some(0x1b) => [&b" "[..], body].concat().into(),
            _ => body.into(),
        };
        self.lua.load(&text[..]).set_name(chunk).set_environment(env).into_function().map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
    }

    /// Run `f` with `rc` as the context of redis.call, KEYS and ARGV set as globals
    /// (EVAL, EVALSHA: `as_globals`) or passed as its two arguments (FCALL). Ok(value) or
    /// Err(error table).
    pub fn run(
        &self,
        f: &Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
        as_globals: bool,
        rc: &mut RunCtx,
    ) -> Result<Value, Value> {
        let _entered = Entered::new(rc);
        match self.protected_call(f, Some((keys, argv, as_globals))) {
            Ok((true, v)) => Ok(v),
            Ok((false, e)) => Err(e),
            // Building KEYS and ARGV failed: out of memory (as Lua reports it, see
            // `format_error`), or an error of mlua's own.
            Err(e) => {
                let msg = match e {
                    mlua::Error::MemoryError(_) => "not enough memory".to_string(),
                    e => e.to_string(),
                };
                Err(self.lua.create_string(msg).map(Value::String).unwrap_or(Value::Nil))
            }
        }
    }

    /// Run library code at FUNCTION LOAD (no redis.call context, no arguments).
    pub fn run_plain(&self, f: &Function) -> Result<Value, Value> {
        match self.protected_call(f, None) {
            Ok((true, v)) => Ok(v),
            Ok((false, e)) => Err(e),
            Err(mlua::Error::MemoryError(_)) => {
                Err(self.lua.create_string("not enough memory").map(Value::String).unwrap_or(Value::Nil))
            }
            Err(_) => Err(Value::Nil),
        }
    }

    /// One protected call does it all, as Redis's luaCallFunction does: KEYS and ARGV
    /// built, then `f` called under the error handler with lua_pcall. (ok, value or error
    /// value); Err only if building the arguments failed (out of memory).
    fn protected_call(&self, f: &Function, args: Option<ScriptArgs<'_, '_>>) -> mlua::Result<(bool, Value)> {
        use mlua::ffi;
        // SAFETY: plain stack operations inside mlua's protected call. Nothing in this
        // frame owns heap memory, so an allocation error raised while the arguments are
        // built jumps over plain frames only; errors of the script itself stop at the inner
        // lua_pcall.
        unsafe fn push_strings(l: *mut ffi::lua_State, items: &[&[u8]]) {
            ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as std::os::raw::c_int, 0);
            for (i, s) in items.iter().enumerate() {
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
            }
        }
        unsafe {
            // Stack: 1 the error handler, 2 the function.
            self.lua.exec_raw::<(bool, Value)>((&self.handler, f), |l| {
                let nargs = match args {
                    Some((keys, argv, true)) => {
                        ffi::lua_pushlstring(l, c"KEYS".as_ptr(), 4);
                        push_strings(l, keys);
                        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
                        ffi::lua_pushlstring(l, c"ARGV".as_ptr(), 4);
                        push_strings(l, argv);
                        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
                        0
                    }
                    Some((keys, argv, false)) => {
                        push_strings(l, keys);
                        push_strings(l, argv);
                        2
                    }
                    None => 0,
                };
                let status = ffi::lua_pcall(l, nargs, 1, 1);
                // Stack: the handler, the result (or the error value).
                ffi::lua_pushboolean(l, (status == 0) as std::os::raw::c_int);
                ffi::lua_replace(l, 1);
            })
        }
    }
}

/// A notice-level log line from inside a running script (the hook has no server handle).
pub fn log_notice(msg: &str) {
    let _ = with_ctx(|rc| {
        // SAFETY: see `RunCtx`.
        let srv: &Server = unsafe { &*rc.srv };
        crate::server::log::log(srv, msg);
    });
}

/// The state of Redis's rand48 generator (rand.c): one per process, shared by the EVAL and
/// functions states, kept across SCRIPT FLUSH, as in Redis.
static RAND48: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x1234_ABCD_330E);

/// Redis's redisLrand48() % REDIS_LRAND48_MAX.
fn lrand48() -> u64 {
    use std::sync::atomic::Ordering;
    const MASK: u64 = (1 << 48) - 1;
    let s = (RAND48.load(Ordering::Relaxed).wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & MASK;
    RAND48.store(s, Ordering::Relaxed);
    (s >> 17) % i32::MAX as u64
}

/// math.random / math.randomseed as Redis replaces them (redis_math_random,
/// redis_math_randomseed): C functions, so their argument errors are Lua's own, and seeded
/// sequences match Redis's.
fn install_random(lua: &Lua) -> mlua::Result<()> {
    let math: Table = lua.globals().get("math")?;
    // SAFETY: both follow the C function protocol.
    math.set("random", unsafe { lua.create_c_function(random_c)? })?;
    math.set("randomseed", unsafe { lua.create_c_function(randomseed_c)? })
}

unsafe extern "C-unwind" fn random_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    // Drawn before the arguments are checked, as in Redis.
    let r = lrand48() as f64 / i32::MAX as f64;
    let int = |i| ffi::luaL_checkinteger(l, i) as i32;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let u = int(1);
            if u < 1 {
                return ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
        }
        2 => {
            let (low, up) = (int(1), int(2));
            if low > up {
                return ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * up.wrapping_sub(low).wrapping_add(1) as f64).floor() + low as f64);
        }
        _ => return ffi::luaL_error(l, c"wrong number of arguments".as_ptr()),
    }
    1
}

unsafe extern "C-unwind" fn randomseed_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    let seed = mlua::ffi::luaL_checkinteger(l, 1) as i32 as u32;
    RAND48.store(((seed as u64) << 16) | 0x330E, std::sync::atomic::Ordering::Relaxed);
    0
}

fn version_num() -> i64 {
    let mut n = 0;
    for part in crate::REDIS_VERSION.split('.') {
        n = n * 256 + part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Functions of the `redis` table that raise errors (tables, as Redis raises them) are C
/// functions: a trampoline calls the Rust function registered under "cinnabar.<name>",
/// which returns (ok, value), and raises `value` when not ok. Raising from C keeps the
/// frames right (a Lua wrapper would be tail-called and hide the script's line), and
/// nothing with a destructor lives in the trampoline's frame when lua_error jumps.
fn raising(lua: &Lua, raw: &Table, name: &str, f: Function, c: mlua::ffi::lua_CFunction) -> mlua::Result<()> {
    lua.set_named_registry_value(&format!("cinnabar.{name}"), f)?;
    // SAFETY: `c` is one of the trampolines below.
    raw.set(name, unsafe { lua.create_c_function(c)? })
}

/// The most arguments a raising function is handed. Each one handed to Rust takes a slot
/// of mlua's reference stack (about 8000 in all), and a script may pass 7999 (unpack). Past
/// this many, none of these functions looks at more than their count: with more than one or
/// two arguments every call is "wrong number of arguments", acl_check_cmd looks a command
/// up by its first ones (no command has a fixed arity this large), and redis.log gets its
/// message joined beforehand (`log_c`).
const DIRECT_ARGS: std::os::raw::c_int = 64;

/// SAFETY: called by Lua as a C function; see `raising`.
pub(crate) unsafe fn trampoline(l: *mut mlua::ffi::lua_State, key: &std::ffi::CStr) -> std::os::raw::c_int {
    use mlua::ffi;
    if ffi::lua_gettop(l) > DIRECT_ARGS {
        ffi::lua_settop(l, DIRECT_ARGS);
    }
    let nargs = ffi::lua_gettop(l);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, nargs, 2);
    if ffi::lua_toboolean(l, -2) != 0 {
        return 1;
    }
    ffi::lua_error(l)
}

macro_rules! trampolines {
    ($($name:ident => $key:literal),* $(,)?) => {$(
        unsafe extern "C-unwind" fn $name(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
            trampoline(l, $key)
        }
    )*};
}

/// redis.log: past DIRECT_ARGS arguments, the message (every argument after the level) is
/// joined here into one, as `log` joins it, so that none is lost.
unsafe extern "C-unwind" fn log_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    if n > DIRECT_ARGS {
        // Folded into slot 2 a few arguments at a time: the stack may be full to
        // LUAI_MAXCSTACK, but a C function always has LUA_MINSTACK (20) free slots.
        let is_text = |j| matches!(ffi::lua_type(l, j), ffi::LUA_TSTRING | ffi::LUA_TNUMBER);
        if !is_text(2) {
            ffi::lua_pushlstring(l, c"".as_ptr(), 0);
            ffi::lua_replace(l, 2);
        }
        let mut j = 3;
        while j <= n {
            ffi::lua_pushvalue(l, 2);
            let mut pieces = 1;
            while j <= n && pieces < 16 {
                if is_text(j) {
                    ffi::lua_pushlstring(l, c" ".as_ptr(), 1);
                    ffi::lua_pushvalue(l, j);
                    pieces += 2;
                }
                j += 1;
            }
            ffi::lua_concat(l, pieces);
            ffi::lua_replace(l, 2);
        }
        ffi::lua_settop(l, 2);
    }
    trampoline(l, c"cinnabar.log")
}

trampolines! {
    sha1hex_c => c"cinnabar.sha1hex",
    error_reply_c => c"cinnabar.error_reply",
    status_reply_c => c"cinnabar.status_reply",
    setresp_c => c"cinnabar.setresp",
    set_repl_c => c"cinnabar.set_repl",
    acl_check_cmd_c => c"cinnabar.acl_check_cmd",
}

/// redis.call and redis.pcall are plain C functions: the arguments are read straight off
/// the Lua stack and the reply is pushed straight onto it, with no intermediate values
/// (the hot path of every script). redis.pcall returns an error as its `{err=...}` table,
/// redis.call raises it.
unsafe extern "C-unwind" fn call_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    if call_on_stack(l) {
        mlua::ffi::lua_error(l)
    } else {
        1
    }
}

unsafe extern "C-unwind" fn pcall_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    call_on_stack(l);
    1
}

/// Run the command given as the function's arguments and push its reply (one value);
/// true if that value is an error table. Everything with a destructor is gone before the
/// caller may raise.
///
/// SAFETY: called from `call_c` / `pcall_c` with the running script's state.
unsafe fn call_on_stack(l: *mut mlua::ffi::lua_State) -> bool {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    // Err: the refusal, and whether it came from running the command (Redis's scriptCall,
    // whose errors are marked as counted) rather than from reading the arguments.
    let outcome: Result<Vec<u8>, (std::borrow::Cow<'static, str>, bool)> = {
        // Strings are borrowed from the stack (they stay there during the call); numbers are
        // formatted as Redis 7.2 does: integral values as integers (-0 too), others as
        // d2string.
        let mut owned: smallvec::SmallVec<[std::borrow::Cow<[u8]>; 8]> = smallvec::SmallVec::new();
        let mut bad_arg = false;
        for i in 1..=n {
            match ffi::lua_type(l, i) {
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(l, i, &mut len);
                    owned.push(std::slice::from_raw_parts(p.cast::<u8>(), len).into());
                }
                ffi::LUA_TNUMBER => {
                    let v = ffi::lua_tonumber(l, i);
                    owned.push(
                        if v == 0.0 { b"0".to_vec() } else { crate::util::number::fmt_f64(v).into_bytes() }.into(),
                    );
                }
                _ => {
                    bad_arg = true;
                    break;
                }
            }
        }
        if n == 0 {
            Err(("Please specify at least one argument for this redis lib call".into(), false))
        } else if bad_arg {
            Err(("Lua redis lib command arguments must be strings or integers".into(), false))
        } else {
            let args: smallvec::SmallVec<[&[u8]; 8]> = owned.iter().map(|a| &a[..]).collect();
            let run = std::panic::AssertUnwindSafe(|| with_ctx(|rc| execute(rc, &args)));
            match std::panic::catch_unwind(run) {
                Ok(Some(r)) => r.map_err(|e| (e, true)),
                Ok(None) => Err(("This Redis command is not allowed from script".into(), false)),
                Err(_) => Err(("internal error running the command".into(), false)),
            }
        }
    };
    // The arguments are no longer needed (nothing borrows them now): the reply gets the
    // whole stack. A call may have up to LUAI_MAXCSTACK (8000) arguments, as many as
    // unpack can produce; left there, they would leave no room for the reply.
    ffi::lua_settop(l, 0);
    match outcome {
        Ok(reply) => {
            if convert::push_reply(l, &reply) {
                reply.starts_with(b"-")
            } else {
                convert::push_error_table(l, b"ERR malformed reply");
                true
            }
        }
        Err((msg, counted)) => {
            convert::push_error_table(l, msg.as_bytes());
            if counted {
                convert::mark_counted(l);
            }
            true
        }
    }
}

/// `server::evict::OOM_ERROR` as a script's refusal (its code kept: `convert::error_text`).
const OOM_SCRIPT_ERROR: &str = "-OOM command not allowed when used memory > 'maxmemory'.";

/// The checks of a script's command before it runs (Redis's scriptCall): its table entry,
/// or the refusal.
fn admit(
    srv: &'static Server,
    rc: &mut RunCtx,
    args: &[&[u8]],
) -> Result<&'static crate::command::table::Command, std::borrow::Cow<'static, str>> {
    let cmd = dispatch::resolve(srv, args).map_err(|e| {
        if e.0.starts_with("ERR wrong number of arguments") {
            "Wrong number of args calling Redis command from script"
        } else {
            "Unknown Redis command called from script"
        }
    })?;
    // Redis 7.2 lets scripts run blocking commands (they answer at once, as in MULTI).
    if cmd.def.has(flags::NOSCRIPT) && !cmd.def.has(flags::BLOCKING) {
        return Err("This Redis command is not allowed from script".into());
    }
    // The caller's user must be allowed the command, its keys and channels (Redis's
    // scriptVerifyACL).
    srv.acl.check_script(&mut rc.client, cmd.def, args)?;
    // Read-only scripts refuse may-replicate commands (PUBLISH...) too, as Redis does.
    if rc.read_only && (cmd.def.has(flags::WRITE) || cmd.def.has(flags::MAY_REPLICATE)) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    // A write before the script wrote anything is refused while the server cannot persist
    // (MISCONF) or lacks good replicas (NOREPLICAS): Redis's scriptVerifyWriteCommandAllow.
    // Once the script has written it cannot stop halfway, so later writes go on.
    if cmd.def.has(flags::WRITE)
        && srv.rdb.admission() != 0
        && !srv.scripting.state.wrote.load(std::sync::atomic::Ordering::Acquire)
    {
        if let Some(e) = crate::server::save::refusal(srv, true, false, true) {
            return Err(format!("-{e}").into());
        }
    }
    // Under maxmemory with nothing left to evict when the script was admitted, a deny-oom
    // command is refused unless the script has written already (it cannot stop halfway)
    // or declared allow-oom (Redis's scriptVerifyOOM).
    if rc.client.oom
        && !rc.allow_oom
        && cmd.def.has(flags::DENYOOM)
        && srv.evict.maxmemory.load(std::sync::atomic::Ordering::Relaxed) != 0
        && !srv.scripting.state.wrote.load(std::sync::atomic::Ordering::Acquire)
    {
        return Err(OOM_SCRIPT_ERROR.into());
    }
    Ok(cmd)
}

/// Run one command for a script; the raw reply, or a script-level refusal.
fn execute(rc: &mut RunCtx, args: &[&[u8]]) -> Result<Vec<u8>, std::borrow::Cow<'static, str>> {
    // SAFETY: see `RunCtx`: both pointers are live for the whole script run.
    let srv: &'static Server = unsafe { &*rc.srv };
    let cmd = match admit(srv, rc, args) {
        Ok(cmd) => cmd,
        Err(e) => {
            // Counted where it is refused, as Redis's scriptCall does (afterErrorReply,
            // and the command's rejected_calls); the script's reply is not counted again.
            let text: &str = &e;
            match text.strip_prefix('-') {
                Some(_) => srv.count_error(text),
                None => srv.count_error(&format!("ERR {text}")),
            }
            if let Some(c) = dispatch::lookup(srv, args) {
                c.rejected_calls.add(rc.client.worker, 1);
            }
            return Err(e);
        }
    };
    // SAFETY: as above.
    let ks: &mut Access<'static> = unsafe { &mut *rc.ks };
    if cmd.def.has(flags::WRITE) {
        srv.scripting.state.wrote.store(true, std::sync::atomic::Ordering::Release);
    }
    let mut out = ReplyWriter::small(rc.resp3);

    rc.client.resp3 = rc.resp3;
    ks.db = rc.client.db;
    // The caller's CLIENT NO-TOUCH holds for every command of its script, TOUCH included
    // (Redis looks at the command of the calling client, EVAL or FCALL).
    ks.no_touch = rc.client.no_touch;
    let started = crate::util::clock::now_ns();
    // Without REPL_AOF the command's own op stays out of the unit (what it adds itself, as
    // SPOP's SREMs, still goes, as in Redis). The sinks are the AOF alone so far.
    ks.own_op_off = rc.repl & 1 == 0;
    let failed = dispatch::call(srv, &mut rc.client, cmd, args, &mut out, ks);
    ks.own_op_off = false;
    let us = crate::util::clock::now_ns().saturating_sub(started) / 1000;
    dispatch::record_call(srv, &rc.client, cmd, args, us, failed);
    dispatch::feed_monitors(srv, &rc.client, cmd, args);
    Ok(out.buf)
}

/// redis.error_reply / redis.status_reply: one string argument, else an error table
/// (returned, not raised).
fn reply_table(lua: &Lua, args: MultiValue, field: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => {
            if field == "err" {
                let raw = s.as_bytes();
                let mut text = Vec::with_capacity(raw.len() + 1);
                if raw.first() != Some(&b'-') {
                    text.push(b'-');
                }
                text.extend_from_slice(&raw);
                t.raw_set("err", lua.create_string(convert::error_text(&text))?)?;
            } else {
                t.raw_set("ok", s.clone())?;
            }
        }
        _ => t.raw_set("err", "ERR wrong number or type of arguments")?,
    }
    Ok(Value::Table(t))
}

/// lua_tolstring: strings as they are, numbers as Lua prints them (%.14g), else None.
fn to_lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(fmt_lua_number(*n).into_bytes()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// Lua 5.1's number to string conversion, "%.14g".
pub fn fmt_lua_number(n: f64) -> String {
    crate::util::number::fmt_g(n, 14)
}

fn sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return err_pair(lua, "wrong number of arguments");
    }
    let data = args.front().and_then(to_lua_string).unwrap_or_default();
    ok_pair(Value::String(lua.create_string(crate::util::sha1::sha1_hex(&data))?))
}

fn log(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() < 2 {
        return err_pair(lua, "redis.log() requires two arguments or more.");
    }
    // lua_isnumber: numbers, and strings that read as one.
    let level = match args.front() {
        Some(Value::Number(n)) => Some(*n as i64),
        Some(Value::Integer(n)) => Some(*n),
        Some(Value::String(s)) => s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()).map(|n| n as i64),
        _ => None,
    };
    let Some(level) = level else { return err_pair(lua, "First argument must be a number (log level).") };
    if !(0..=3).contains(&level) {
        return err_pair(lua, "Invalid debug level.");
    }
    // Strings and numbers, a space before each but the first argument's, as Redis glues them.
    let mut msg = Vec::new();
    for (i, v) in args.iter().skip(1).enumerate() {
        if let Some(s) = to_lua_string(v) {
            if i > 0 {
                msg.push(b' ');
            }
            msg.extend_from_slice(&s);
        }
    }
    let _ = with_ctx(|rc| {
        // SAFETY: see `RunCtx`.
        let srv: &Server = unsafe { &*rc.srv };
        crate::server::log::log_at(srv, level as usize, &String::from_utf8_lossy(&msg));
    });
    ok_pair(Value::Nil)
}

fn setresp(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return err_pair(lua, "redis.setresp() requires one argument.");
    }
    let v = match args.front() {
        Some(Value::Number(n)) => *n as i64,
        Some(Value::Integer(n)) => *n,
        Some(Value::String(s)) => {
            s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()).map(|n| n as i64).unwrap_or(0)
        }
        _ => 0,
    };
    if v != 2 && v != 3 {
        return err_pair(lua, "RESP version must be 2 or 3.");
    }
    let _ = with_ctx(|rc| rc.resp3 = v == 3);
    ok_pair(Value::Nil)
}

fn set_repl(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        // Redis 7.2's text (7.0 said "two arguments").
        return err_pair(lua, "redis.set_repl() requires one argument.");
    }
    let v = match args.front() {
        Some(Value::Number(n)) => *n as i64,
        Some(Value::Integer(n)) => *n,
        _ => -1,
    };
    if !(0..=3).contains(&v) {
        return err_pair(lua, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    }
    let _ = with_ctx(|rc| rc.repl = v as u8);
    ok_pair(Value::Nil)
}

fn acl_check_cmd(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let argv: Vec<Vec<u8>> = args.iter().filter_map(to_lua_string).collect();
    if argv.is_empty() || argv.len() != args.len() {
        return err_pair(lua, "Please specify at least one argument for this redis lib call");
    }
    // Redis's lookupCommand, not strict: the command (and its subcommand, if it has
    // some), whatever the number of arguments; then the caller's ACL on it, its keys and
    // channels (nothing logged).
    let allowed = with_ctx(|rc| {
        // SAFETY: see `RunCtx`.
        let srv: &Server = unsafe { &*rc.srv };
        let refs: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        let cmd = dispatch::lookup(srv, &refs)?;
        Some(srv.acl.user_of(&mut rc.client).check(cmd.def, &refs).is_none())
    })
    .flatten();
    match allowed {
        None => err_pair(lua, "Invalid command passed to redis.acl_check_cmd()"),
        Some(ok) => ok_pair(Value::Boolean(ok)),
    }
}
