//! Functions: FUNCTION LOAD / DELETE / FLUSH / LIST / STATS / KILL / HELP, FCALL, FCALL_RO.
//!
//! Libraries live in their own Lua state (as in Redis, apart from EVAL's). A library's code
//! runs once at load time with nothing but `redis.register_function`, `redis.log` and the
//! version/log constants as globals, under a 500 ms limit; the functions it registers then
//! run with the environment scripts have, receiving (KEYS, ARGV) as arguments.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{new_vm, sflags, split_keys, vm::Vm};
use crate::command::args::eq;
use crate::command::{CmdResult, Ctx, Error};
use crate::persist::rdb;
use crate::util::glob::glob_match;

pub struct FunctionDef {
    pub name: String,
    pub func: Function,
    pub flags: u32,
    pub description: Option<Vec<u8>>,
}

pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, FunctionDef>,
}

#[derive(Default)]
pub struct Registry {
    vm: Option<Vm>,
    pub libraries: BTreeMap<String, Library>,
}

impl Registry {
    /// Function names match case-insensitively, as in Redis.
    pub(super) fn find(&self, name: &str) -> Option<&FunctionDef> {
        let key = name.to_ascii_lowercase();
        self.libraries.values().find_map(|l| l.functions.get(&key))
    }

    /// INFO memory's used_memory_functions, about as Redis 7.0 counts it: 200 bytes for the
    /// empty registry, then each library's code and each function's name with bookkeeping.
    pub fn overhead_bytes(&self) -> usize {
        200 + self
            .libraries
            .values()
            .map(|l| 64 + l.code.len() + l.functions.keys().map(|f| 64 + f.len()).sum::<usize>())
            .sum::<usize>()
    }

    pub fn function_count(&self) -> usize {
        self.libraries.values().map(|l| l.functions.len()).sum()
    }
}

thread_local! {
    /// Functions registered by the library code being loaded on this thread.
    static PENDING: RefCell<Option<Vec<FunctionDef>>> = const { RefCell::new(None) };
}

/// lua_isstring: strings, and numbers as Lua prints them.
fn lua_text(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(super::vm::fmt_lua_number(*n).into_bytes()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn valid_name(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn fail(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::Table(super::convert::error_table(lua, msg.as_bytes())?)))
}

/// redis.register_function(name, callback) or redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let (name, func, flags, description) = match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return fail(lua, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut func, mut flags, mut description) = (None, None, 0u32, None);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => return fail(lua, "named argument key given to redis.register_function is not a string"),
                };
                match &key[..] {
                    b"function_name" => match lua_text(&v) {
                        Some(s) => name = Some(s),
                        None => {
                            return fail(
                                lua,
                                "function_name argument given to redis.register_function must be a string",
                            )
                        }
                    },
                    b"callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return fail(lua, "callback argument given to redis.register_function must be a function"),
                    },
                    b"description" => match lua_text(&v) {
                        Some(s) => description = Some(s),
                        None => {
                            return fail(lua, "description argument given to redis.register_function must be a string")
                        }
                    },
                    b"flags" => {
                        let Value::Table(ft) = v else {
                            return fail(
                                lua,
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        let mut i = 1;
                        loop {
                            match ft.raw_get::<Value>(i)? {
                                Value::Nil => break,
                                Value::String(s) => {
                                    match sflags::NAMES.iter().find(|(n, _)| n.as_bytes() == &s.as_bytes()[..]) {
                                        Some((_, bit)) => flags |= bit,
                                        None => return fail(lua, "unknown flag given"),
                                    }
                                }
                                _ => return fail(lua, "unknown flag given"),
                            }
                            i += 1;
                        }
                    }
                    _ => return fail(lua, "unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail(lua, "redis.register_function must get a function name argument");
            };
            let Some(func) = func else { return fail(lua, "redis.register_function must get a callback argument") };
            (name, func, flags, description)
        }
        2 => {
            let mut it = args.iter();
            let name = match it.next().and_then(lua_text) {
                Some(s) => s,
                None => return fail(lua, "first argument to redis.register_function must be a string"),
            };
            let func = match it.next() {
                Some(Value::Function(f)) => f.clone(),
                _ => return fail(lua, "second argument to redis.register_function must be a function"),
            };
            (name, func, 0, None)
        }
        _ => return fail(lua, "wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return fail(lua, BAD_NAME);
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let outcome = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let Some(list) = p.as_mut() else {
            return Some("redis.register_function can only be called on FUNCTION LOAD command");
        };
        if list.iter().any(|f| f.name.eq_ignore_ascii_case(&name)) {
            return Some("Function already exists in the library");
        }
        list.push(FunctionDef { name: name.clone(), func: func.clone(), flags, description: description.clone() });
        None
    });
    match outcome {
        Some(msg) => fail(lua, msg),
        None => Ok((true, Value::Nil)),
    }
}

/// SAFETY: a C trampoline, as in vm.rs.
unsafe extern "C-unwind" fn register_function_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    super::vm::trampoline(l, c"cinnabar.register_function")
}

/// The load-time `redis` table.
fn load_api(vm: &Vm, state: &std::sync::Arc<super::RunState>) -> mlua::Result<Table> {
    let lua = &vm.lua;
    lua.set_named_registry_value("cinnabar.register_function", lua.create_function(register_function)?)?;
    let redis = lua.create_table()?;
    // SAFETY: the trampoline above.
    redis.set("register_function", unsafe { lua.create_c_function(register_function_c)? })?;
    let full: Table = vm.globals.get("redis")?;
    for k in ["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"] {
        redis.set(k, full.get::<Value>(k)?)?;
    }
    let _ = state;
    let api = lua.create_table()?;
    api.set("redis", redis)?;
    Ok(api)
}

/// Parse "#!lua name=<lib>" (the metadata every library starts with).
fn library_name(code: &[u8]) -> Result<String, Error> {
    if !code.starts_with(b"#!") {
        return Err(Error::msg("ERR Missing library metadata"));
    }
    let invalid = || Error::msg("ERR Invalid library metadata");
    let end = code.iter().position(|&b| b == b'\n').ok_or_else(invalid)?;
    // functionExtractLibMetaData: the shebang split as sdssplitargs does, every part after
    // the engine a case-insensitive name=; the name is checked, then the engine.
    let parts = crate::resp::parse::split_args(&code[..end]).filter(|p| !p.is_empty()).ok_or_else(invalid)?;
    let mut name = None;
    for p in &parts[1..] {
        match p.get(..5) {
            Some(prefix) if eq(prefix, "name=") => {
                if name.is_some() {
                    return Err(Error::msg("ERR Invalid metadata value, name argument was given multiple times"));
                }
                name = Some(&p[5..]);
            }
            _ => return Err(Error::msg(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(p)))),
        }
    }
    let Some(name) = name else { return Err(Error::msg("ERR Library name was not given")) };
    if !valid_name(name) {
        return Err(Error::msg(format!("ERR {BAD_NAME}")));
    }
    let engine = parts[0].get(2..).unwrap_or_default();
    if !eq(engine, "lua") {
        return Err(Error::msg(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine))));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Compile and run a library's code in `vm`: the library with its registered functions
/// (already switched to their run-time environment). No registry checks here.
fn build_library(
    vm: &Vm,
    state: &std::sync::Arc<super::RunState>,
    code: &[u8],
    name: String,
) -> Result<Library, Error> {
    let setup = || -> mlua::Result<(Table, Function)> {
        let api = load_api(vm, state)?;
        vm.library_env.call::<(Table, Function)>(api)
    };
    let (env, to_runtime) = setup().map_err(|e| Error::msg(format!("ERR {e}")))?;
    let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
    let chunk = vm
        .compile_in(&code[end..], "@user_function", env)
        .map_err(|m| Error::msg(format!("ERR Error compiling function: {m}")))?;
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
    let running = state.enter(&vm.lua, super::Run::Load);
    let result = vm.run_plain(&chunk);
    drop(running);
    let registered = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
    if let Err(e) = result {
        let msg = match &e {
            Value::Table(t) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "ERR unknown error".into(),
            },
            // Lua's own errors ("not enough memory"), as Redis's luaExtractErrorInformation.
            Value::String(s) => format!("ERR {}", s.to_string_lossy()),
            _ => "ERR unknown error".into(),
        };
        return Err(Error::msg(format!("ERR Error registering functions: {msg}")));
    }
    if registered.is_empty() {
        return Err(Error::msg("ERR No functions registered"));
    }
    let _ = to_runtime.call::<()>(());
    let functions = registered.into_iter().map(|f| (f.name.to_ascii_lowercase(), f)).collect();
    Ok(Library { name, code: code.to_vec(), functions })
}

/// The functions Lua state, created on first use.
fn vm_of(reg: &mut Registry, state: &std::sync::Arc<super::RunState>) -> Result<Vm, Error> {
    if reg.vm.is_none() {
        reg.vm = Some(new_vm(state)?);
    }
    reg.vm.clone().ok_or_else(|| Error::msg("ERR scripting unavailable"))
}

/// A function of `lib` that another library of `libs` (not one named in `except`) has.
fn function_collision(libs: &BTreeMap<String, Library>, lib: &Library, except: &[String]) -> Option<String> {
    lib.functions.iter().find_map(|(fkey, f)| {
        libs.iter().any(|(k, l)| !except.contains(k) && l.functions.contains_key(fkey)).then(|| f.name.clone())
    })
}

pub fn function_load(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    let (replace, code) = match args {
        [code] => (false, *code),
        [opt, code] if eq(opt, "replace") => (true, *code),
        [opt, ..] => return Err(Error::msg(format!("ERR Unknown option given: {}", String::from_utf8_lossy(opt)))),
        [] => return Err(Error::msg("ERR wrong number of arguments for 'function|load' command")),
    };
    let name = library_name(code)?;
    let key = name.to_ascii_lowercase();
    let srv = ctx.srv;
    let state = srv.scripting.state.clone();
    let mut reg = srv.scripting.functions.lock();
    if reg.libraries.contains_key(&key) && !replace {
        return Err(Error::msg(format!("ERR Library '{name}' already exists")));
    }
    let vm = vm_of(&mut reg, &state)?;
    let lib = build_library(&vm, &state, code, name.clone())?;
    if let Some(f) = function_collision(&reg.libraries, &lib, std::slice::from_ref(&key)) {
        return Err(Error::msg(format!("ERR Function {f} already exists")));
    }
    reg.libraries.insert(key, lib);
    drop(reg);
    srv.scripting.footprint.sample(false, &vm);
    // Redis counts a change of the functions as a write, so it reaches the AOF.
    ctx.ks.mark_dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// RDB_OPCODE_FUNCTION2 and the pre-GA RDB_OPCODE_FUNCTION.
const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// FUNCTION DUMP: every library as RDB_OPCODE_FUNCTION2 + its code as an RDB string
/// (LZF-compressed as Redis does when rdbcompression is on), then the DUMP footer.
pub fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let compress = ctx.srv.config.read().bool("rdbcompression");
    let reg = ctx.srv.scripting.functions.lock();
    let mut payload = Vec::new();
    for lib in reg.libraries.values() {
        payload.push(OPCODE_FUNCTION2);
        rdb::put_string(&mut payload, &lib.code, compress);
    }
    drop(reg);
    rdb::seal_payload(&mut payload);
    ctx.out.bulk(&payload);
    Ok(())
}

pub fn function_restore(ctx: &mut Ctx) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy = match &ctx.args[3..] {
        [] => Policy::Append,
        [p] if eq(p, "flush") => Policy::Flush,
        [p] if eq(p, "append") => Policy::Append,
        [p] if eq(p, "replace") => Policy::Replace,
        [_] => {
            return Err(Error::msg("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."))
        }
        _ => return Err(ctx.subcommand_syntax_error()),
    };
    let Some(body) = rdb::open_payload(ctx.args[2]) else {
        return Err(Error::msg("ERR DUMP payload version or checksum are wrong"));
    };
    let srv = ctx.srv;
    let state = srv.scripting.state.clone();
    let mut reg = srv.scripting.functions.lock();
    let vm = vm_of(&mut reg, &state)?;
    let mut loaded: BTreeMap<String, Library> = BTreeMap::new();
    let mut pos = 0;
    while pos < body.len() {
        let op = body[pos];
        pos += 1;
        if op == OPCODE_FUNCTION_PRE_GA {
            return Err(Error::msg("ERR Pre-GA function format not supported"));
        }
        if op != OPCODE_FUNCTION2 {
            return Err(Error::msg("ERR given type is not a function"));
        }
        let Some(code) = rdb::get_string(body, &mut pos) else {
            return Err(Error::msg("ERR Failed loading library payload"));
        };
        let name = library_name(&code)?;
        let key = name.to_ascii_lowercase();
        if loaded.contains_key(&key) {
            return Err(Error::msg(format!("ERR Library '{name}' already exists")));
        }
        let lib = build_library(&vm, &state, &code, name)?;
        if let Some(f) = function_collision(&loaded, &lib, &[]) {
            return Err(Error::msg(format!("ERR Function {f} already exists")));
        }
        loaded.insert(key, lib);
    }
    if policy == Policy::Flush {
        reg.libraries = loaded;
    } else {
        let replaced: Vec<String> = loaded.keys().filter(|k| reg.libraries.contains_key(*k)).cloned().collect();
        if policy == Policy::Append {
            if let Some(k) = replaced.first() {
                let name = loaded.get(k).map(|l| l.name.clone()).unwrap_or_default();
                return Err(Error::msg(format!("ERR Library {name} already exists")));
            }
        }
        for lib in loaded.values() {
            if let Some(f) = function_collision(&reg.libraries, lib, &replaced) {
                return Err(Error::msg(format!("ERR Function {f} already exists")));
            }
        }
        reg.libraries.extend(loaded);
    }
    drop(reg);
    srv.scripting.footprint.sample(false, &vm);
    ctx.ks.mark_dirty(1);
    ctx.out.ok();
    Ok(())
}

fn fcall_generic(ctx: &mut Ctx, ro_cmd: bool) -> CmdResult {
    let srv = ctx.srv;
    let (vm, func, flags, name) = {
        let reg = srv.scripting.functions.lock();
        let found = reg.find(&String::from_utf8_lossy(ctx.args[1]));
        let (Some(f), Some(vm)) = (found, reg.vm.clone()) else { return Err(Error::msg("ERR Function not found")) };
        (vm, f.func.clone(), f.flags, f.name.clone())
    };
    if crate::util::number::parse_i64(ctx.args[2]).is_none() {
        return Err(Error::msg("ERR Bad number of keys provided"));
    }
    let (keys, argv) = split_keys(ctx.args)?;
    if ro_cmd && flags & sflags::NO_WRITES == 0 {
        return Err(Error::msg("ERR Can not execute a script with write flag using *_ro command."));
    }
    *srv.scripting.state.current.lock() = (name.clone(), ctx.args.iter().map(|a| a.to_vec()).collect());
    let read_only = ro_cmd || flags & sflags::NO_WRITES != 0;
    super::run_function(
        ctx,
        &vm,
        super::Call {
            func: &func,
            keys: &keys,
            argv: &argv,
            read_only,
            eval_mode: false,
            allow_oom: flags & sflags::ALLOW_OOM != 0,
            name: &name,
        },
    )
}

pub fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}

pub fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

pub fn function_delete(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.args[2]).to_ascii_lowercase();
    if ctx.srv.scripting.functions.lock().libraries.remove(&name).is_none() {
        return Err(Error::msg("ERR Library not found"));
    }
    ctx.ks.mark_dirty(1);
    ctx.out.ok();
    Ok(())
}

pub fn function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    crate::command::args::flush_mode(ctx.srv, &ctx.args[2..])
        .ok_or_else(|| Error::msg("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"))?;
    clear_libraries(ctx.srv);
    ctx.ks.mark_dirty(1);
    ctx.out.ok();
    Ok(())
}

/// Drop every library and the functions' Lua VM (FUNCTION FLUSH; DEBUG RELOAD's flush).
pub fn clear_libraries(srv: &crate::server::Server) {
    let mut reg = srv.scripting.functions.lock();
    reg.libraries.clear();
    reg.vm = None;
    drop(reg);
    srv.scripting.footprint.vm_functions.store(0, Ordering::Relaxed);
}

/// The code of every library, as an RDB file saves them.
pub fn library_codes(srv: &crate::server::Server) -> Vec<Vec<u8>> {
    srv.scripting.functions.lock().libraries.values().map(|l| l.code.clone()).collect()
}

/// Create a library read from an RDB file (its FUNCTION2 entry); `replace`: a library of
/// the same name is replaced (DEBUG RELOAD MERGE), else it is an error. Err: the reason,
/// as Redis logs it after "Failed loading library, ".
pub fn load_library(srv: &crate::server::Server, code: &[u8], replace: bool) -> Result<(), String> {
    let plain = |e: Error| e.0.strip_prefix("ERR ").unwrap_or(&e.0).to_string();
    let name = library_name(code).map_err(plain)?;
    let key = name.to_ascii_lowercase();
    let state = srv.scripting.state.clone();
    let mut reg = srv.scripting.functions.lock();
    if reg.libraries.contains_key(&key) && !replace {
        return Err(format!("Library '{name}' already exists"));
    }
    let vm = vm_of(&mut reg, &state).map_err(plain)?;
    let lib = build_library(&vm, &state, code, name).map_err(plain)?;
    if let Some(f) = function_collision(&reg.libraries, &lib, std::slice::from_ref(&key)) {
        return Err(format!("Function {f} already exists"));
    }
    reg.libraries.insert(key, lib);
    drop(reg);
    srv.scripting.footprint.sample(false, &vm);
    Ok(())
}

pub fn function_list(ctx: &mut Ctx) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < ctx.args.len() {
        let a = ctx.args[i];
        if eq(a, "withcode") && !with_code {
            with_code = true;
        } else if eq(a, "libraryname") && pattern.is_none() {
            match ctx.args.get(i + 1) {
                Some(p) => pattern = Some(p),
                None => return Err(Error::msg("ERR library name argument was not given")),
            }
            i += 1;
        } else {
            return Err(Error::msg(format!("ERR Unknown argument {}", String::from_utf8_lossy(a))));
        }
        i += 1;
    }
    let reg = ctx.srv.scripting.functions.lock();
    let libs: Vec<&Library> =
        reg.libraries.values().filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), true))).collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for l in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(l.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(l.functions.len());
        for f in l.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.nil(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = sflags::NAMES.iter().filter(|(_, b)| f.flags & b != 0).map(|(n, _)| *n).collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&l.code);
        }
    }
    Ok(())
}

pub fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let st = &ctx.srv.scripting.state;
    if st.running.load(Ordering::Acquire) && st.eval_mode.load(Ordering::Acquire) {
        return Err(Error::msg(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        ));
    }
    let running = st.running.load(Ordering::Acquire);
    let (libraries, functions) = match ctx.srv.scripting.functions.try_lock() {
        Some(reg) => (reg.libraries.len(), reg.function_count()),
        None => (0, 0),
    };
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    if running {
        let (name, cmd) = st.current.lock().clone();
        out.map(3);
        out.bulk(b"name");
        out.bulk(name.as_bytes());
        out.bulk(b"command");
        out.bulks(cmd.iter());
        out.bulk(b"duration_ms");
        out.int(crate::util::clock::mono_ms() - st.started_ms.load(Ordering::Relaxed));
    } else {
        out.nil();
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(())
}

pub fn function_kill(ctx: &mut Ctx) -> CmdResult {
    super::kill(ctx, false)
}

pub fn function_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
