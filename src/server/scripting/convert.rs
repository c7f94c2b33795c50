//! Conversions between Redis replies and Lua values, exactly as Redis's script_lua.c does.
//!
//! RESP -> Lua (what `redis.call` returns): integers become numbers, bulk strings strings,
//! arrays tables, a RESP2 null (bulk or array) `false`, a RESP3 null `nil`, status replies
//! `{ok=...}`, errors `{err=...}` (plus Redis's ignore_error_stats_update mark); under
//! `redis.setresp(3)` also booleans, `{double=n}`, `{big_number=s}`, `{map={...}}`,
//! `{set={k=true}}` and `{verbatim_string={format=..., string=...}}`. Every table starts empty and gets its fields
//! one at a time in reply order, as Redis's lua_newtable + lua_settable: Lua 5.1 lays a table
//! out by its growth history, so this is what makes `pairs` (and the lua_next walk that
//! returns a map or set) visit the fields in Redis's order, and `#` of an array holding RESP3
//! nulls Redis's border.
//!
//! Lua -> RESP (what a script returns): strings are bulk strings, numbers integers
//! (truncated), `true` 1 (or a RESP3 boolean after setresp(3)), `false` and `nil` null,
//! tables with an `err` / `ok` / `double` / `big_number` / `map` / `set` /
//! `verbatim_string` field those replies, other tables arrays up to the first nil.

use mlua::{ffi, Lua, Table, Value};

use crate::resp::write::ReplyWriter;
use crate::util::number::c_double_to_i64;

/// Nesting deeper than this is answered with an error instead of recursing further.
const MAX_DEPTH: usize = 1000;

/// The `{err=...}` table Redis builds from an error text (luaPushErrorBuff): "-CODE msg"
/// keeps its code, a text without a leading '-' gets "ERR"; trailing CR/LF trimmed.
pub fn error_text(raw: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match raw.first() {
        Some(b'-') => match raw.iter().position(|&b| b == b' ') {
            Some(sp) => (&raw[1..sp], &raw[sp + 1..]),
            None => (b"ERR", &raw[1..]),
        },
        _ => (b"ERR", raw),
    };
    let mut msg = msg;
    while let Some((&c, rest)) = msg.split_last() {
        if c == b'\r' || c == b'\n' {
            msg = rest;
        } else {
            break;
        }
    }
    while let Some((&c, rest)) = msg.split_first() {
        if c == b'\r' || c == b'\n' {
            msg = rest;
        } else {
            break;
        }
    }
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

pub fn error_table(lua: &Lua, raw: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(raw))?)?;
    Ok(t)
}

/// A reader over a reply our own ReplyWriter produced.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let end = memchr::memmem::find(rest, b"\r\n")?;
        self.pos += end + 2;
        Some(&rest[..end])
    }

    fn int(&mut self) -> Option<i64> {
        crate::util::number::parse_i64(self.line()?)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e + 2 <= self.buf.len())?;
        let s = &self.buf[self.pos..end];
        self.pos = end + 2;
        Some(s)
    }

    /// Push the Lua value of the next reply (Redis's redisProtocolToLuaType). None if the
    /// reply is malformed or nests too deep; the caller restores the stack.
    ///
    /// SAFETY: `l` is the live state of the running script, on this thread. Nothing here
    /// owns heap memory, so an allocation error raised by Lua jumps over plain frames.
    unsafe fn push(&mut self, l: *mut ffi::lua_State, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
            return None;
        }
        let tag = *self.buf.get(self.pos)?;
        self.pos += 1;
        match tag {
            b'+' => {
                push_bytes(l, self.line()?);
                wrap(l, "ok");
            }
            b'-' => {
                let line = self.line()?;
                let mut raw = Vec::with_capacity(line.len() + 1);
                raw.push(b'-');
                raw.extend_from_slice(line);
                push_error_table(l, &raw);
                mark_counted(l);
            }
            b':' => ffi::lua_pushnumber(l, self.int()? as f64),
            b'$' => {
                let n = self.int()?;
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                } else {
                    push_bytes(l, self.bytes(n as usize)?);
                }
            }
            b'*' | b'~' | b'%' => {
                let n = self.int()?;
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return Some(());
                }
                // An empty table grown one insertion at a time, as Redis's lua_newtable +
                // lua_settable: a table presized for n entries lays its hash part out
                // differently (no rehashes, other collision chains), so `pairs` (and the
                // lua_next walk that returns a map or set) would visit the fields in another
                // order, and an array holding RESP3 nulls would get another border (`#t`).
                ffi::lua_createtable(l, 0, 0);
                for i in 0..n {
                    if tag == b'*' {
                        self.push(l, depth + 1)?;
                        ffi::lua_rawseti(l, -2, i + 1);
                        continue;
                    }
                    self.push(l, depth + 1)?;
                    if tag == b'~' {
                        ffi::lua_pushboolean(l, 1);
                    } else {
                        self.push(l, depth + 1)?;
                    }
                    // A nil key would make lua_rawset raise.
                    if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                        return None;
                    }
                    ffi::lua_rawset(l, -3);
                }
                match tag {
                    b'~' => wrap(l, "set"),
                    b'%' => wrap(l, "map"),
                    _ => {}
                }
            }
            b'_' => {
                self.line()?;
                ffi::lua_pushnil(l);
            }
            b'#' => ffi::lua_pushboolean(l, (self.line()? == b"t") as std::os::raw::c_int),
            b',' => {
                let n = crate::util::number::parse_f64(self.line()?)?;
                ffi::lua_pushnumber(l, n);
                wrap(l, "double");
            }
            b'(' => {
                push_bytes(l, self.line()?);
                wrap(l, "big_number");
            }
            b'=' => {
                let n = self.int()?;
                let s = self.bytes(n.max(0) as usize)?;
                let (format, text) = if s.len() >= 4 { (&s[..3], &s[4..]) } else { (&b""[..], s) };
                // Grown from empty, "string" first, as Redis builds it: `pairs` visits
                // "format" before "string".
                ffi::lua_createtable(l, 0, 0);
                push_bytes(l, b"string");
                push_bytes(l, text);
                ffi::lua_rawset(l, -3);
                push_bytes(l, b"format");
                push_bytes(l, format);
                ffi::lua_rawset(l, -3);
                wrap(l, "verbatim_string");
            }
            b'|' => {
                // Attributes carry no data for the script: skip them.
                let n = self.int()?;
                for _ in 0..n.max(0) * 2 {
                    self.push(l, depth + 1)?;
                    ffi::lua_settop(l, -2);
                }
                self.push(l, depth)?;
            }
            _ => return None,
        }
        Some(())
    }
}

/// SAFETY (these helpers): `l` is the running script's state, with room on its stack.
unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

/// Replace the value on top of the stack with `{field = value}`.
unsafe fn wrap(l: *mut ffi::lua_State, field: &str) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, field.as_bytes());
    ffi::lua_pushvalue(l, -3);
    ffi::lua_rawset(l, -3);
    ffi::lua_replace(l, -2);
}

/// Push the `{err=...}` table of an error text (see `error_text`).
///
/// # Safety
/// `l` is the running script's state, on this thread, with room on its stack.
pub unsafe fn push_error_table(l: *mut ffi::lua_State, raw: &[u8]) {
    let text = error_text(raw);
    ffi::lua_createtable(l, 0, 0);
    push_bytes(l, b"err");
    push_bytes(l, &text);
    ffi::lua_rawset(l, -3);
}

/// Add `ignore_error_stats_update = true` to the error table on top of the stack: Redis marks
/// so an error the command machinery replied (already counted in errorstats), and scripts see
/// the field (`pairs`).
///
/// # Safety
/// `l` is the running script's state, on this thread, with room on its stack.
pub unsafe fn mark_counted(l: *mut ffi::lua_State) {
    push_bytes(l, b"ignore_error_stats_update");
    ffi::lua_pushboolean(l, 1);
    ffi::lua_rawset(l, -3);
}

/// Push the Lua value of one complete reply onto the stack of the running script; false
/// (nothing pushed) if the reply is malformed.
///
/// # Safety
/// `l` is the running script's state, on this thread.
pub unsafe fn push_reply(l: *mut ffi::lua_State, reply: &[u8]) -> bool {
    let top = ffi::lua_gettop(l);
    if (Reader { buf: reply, pos: 0 }).push(l, 0).is_none() {
        ffi::lua_settop(l, top);
        return false;
    }
    true
}

/// An error reply written from a script's result: its text, and whether its table was
/// marked counted already (`ignore_error_stats_update`).
pub type ReplyError = (String, bool);

/// Write a script's return value as a reply; the error replies in it. `script_resp3`: the
/// script called redis.setresp(3), which changes how booleans are returned.
pub fn lua_to_reply(v: &Value, out: &mut ReplyWriter, script_resp3: bool) -> Vec<ReplyError> {
    let mut errors = Vec::new();
    write_value(v, out, script_resp3, 0, &mut errors);
    errors
}

fn write_value(v: &Value, out: &mut ReplyWriter, script_resp3: bool, depth: usize, errors: &mut Vec<ReplyError>) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        errors.push(("ERR reached lua stack limit".into(), false));
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.bool(*b)
            } else if *b {
                out.int(1)
            } else {
                out.nil()
            }
        }
        Value::Number(n) => out.int(c_double_to_i64(*n)),
        Value::Integer(n) => out.int(*n),
        Value::Table(t) => write_table(t, out, script_resp3, depth, errors),
        _ => out.nil(),
    }
}

fn write_table(t: &Table, out: &mut ReplyWriter, script_resp3: bool, depth: usize, errors: &mut Vec<ReplyError>) {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        out.line_bytes(b'-', &e.as_bytes());
        let counted = matches!(field("ignore_error_stats_update"), Value::Boolean(true));
        errors.push((String::from_utf8_lossy(&e.as_bytes()).into_owned(), counted));
        return;
    }
    if let Value::String(s) = field("ok") {
        out.line_bytes(b'+', &s.as_bytes());
        return;
    }
    match field("double") {
        Value::Number(n) => return out.double(n),
        Value::Integer(n) => return out.double(n as f64),
        _ => {}
    }
    if let Value::String(s) = field("big_number") {
        let digits: Vec<u8> = s.as_bytes().iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        out.big_number(&digits);
        return;
    }
    // Counted in one pass and written in another: every Lua value held on the Rust side
    // takes a slot of mlua's reference stack (at most about 8000), so a reply of thousands of
    // elements must never be collected first.
    if let Value::Table(m) = field("map") {
        out.map(m.pairs::<Value, Value>().filter_map(Result::ok).count());
        for (k, v) in m.pairs::<Value, Value>().filter_map(Result::ok) {
            write_value(&k, out, script_resp3, depth + 1, errors);
            write_value(&v, out, script_resp3, depth + 1, errors);
        }
        return;
    }
    if let Value::Table(s) = field("set") {
        out.set(s.pairs::<Value, Value>().filter_map(Result::ok).count());
        for (k, _) in s.pairs::<Value, Value>().filter_map(Result::ok) {
            write_value(&k, out, script_resp3, depth + 1, errors);
        }
        return;
    }
    if let Value::Table(vs) = field("verbatim_string") {
        let format = vs.raw_get::<Value>("format").unwrap_or(Value::Nil);
        let text = vs.raw_get::<Value>("string").unwrap_or(Value::Nil);
        if let (Value::String(f), Value::String(s)) = (format, text) {
            let f = f.as_bytes();
            if f.len() == 3 {
                out.verbatim(&String::from_utf8_lossy(&f), &s.as_bytes());
                return;
            }
        }
    }
    // An array up to the first nil (see the reference stack above).
    let item = |i: usize| match t.raw_get::<Value>(i) {
        Ok(Value::Nil) | Err(_) => None,
        Ok(v) => Some(v),
    };
    let len = (1..).find(|&i| item(i).is_none()).map_or(0, |end| end - 1);
    out.array(len);
    for i in 1..=len {
        write_value(&item(i).unwrap_or(Value::Nil), out, script_resp3, depth + 1, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_follow_redis() {
        assert_eq!(error_text(b"-oops"), b"ERR oops");
        assert_eq!(error_text(b"-MY oops"), b"MY oops");
        assert_eq!(error_text(b"oops"), b"ERR oops");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"-ERR bad\r\n"), b"ERR bad");
    }

    #[test]
    fn casts_like_c() {
        assert_eq!(c_double_to_i64(3.99), 3);
        assert_eq!(c_double_to_i64(-3.99), -3);
        assert_eq!(c_double_to_i64(1e20), i64::MIN);
        assert_eq!(c_double_to_i64(f64::NAN), i64::MIN);
        assert_eq!(c_double_to_i64(9.223_372_036_854_776e18), i64::MIN);
        assert_eq!(c_double_to_i64(-9.223_372_036_854_776e18), i64::MIN);
    }

    /// The Lua value `push_reply` makes of `reply` (None if it refused it).
    fn to_lua(lua: &Lua, reply: &[u8]) -> Option<Value> {
        let mut ok = false;
        // SAFETY: push_reply on the state of a protected call.
        let v: Value = unsafe { lua.exec_raw((), |l| ok = push_reply(l, reply)) }.unwrap();
        ok.then_some(v)
    }

    #[test]
    fn replies_round_trip_through_lua() {
        let lua = Lua::new();
        let v = to_lua(&lua, b"*3\r\n:1\r\n$-1\r\n+OK\r\n").unwrap();
        let mut out = ReplyWriter::new(false);
        lua_to_reply(&v, &mut out, false);
        // false (the null) is a value: only nil ends the array conversion.
        assert_eq!(out.buf, b"*3\r\n:1\r\n$-1\r\n+OK\r\n");
        for resp3 in [
            &b"%1\r\n$1\r\nk\r\n,1.5\r\n"[..],
            b"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"#t\r\n",
            b"(12\r\n",
        ] {
            let v = to_lua(&lua, resp3).unwrap();
            let mut out = ReplyWriter::new(true);
            lua_to_reply(&v, &mut out, true);
            if resp3.starts_with(b"~") {
                // (a set's order is the Lua table's)
                assert!(out.buf.starts_with(b"~2\r\n"), "{:?}", String::from_utf8_lossy(&out.buf));
            } else {
                assert_eq!(out.buf, resp3, "{:?}", String::from_utf8_lossy(&out.buf));
            }
        }
    }

    #[test]
    fn maps_come_back_in_redis_order() {
        // The order Redis 7.2.6 returns this map in after a script's round trip (the issue's
        // repro): Lua 5.1's hash order when the table grows one field at a time.
        let lua = Lua::new();
        let fields = ["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"];
        let mut reply = format!("%{}\r\n", fields.len());
        for f in fields {
            reply += &format!("${}\r\n{f}\r\n:1\r\n", f.len());
        }
        let v = to_lua(&lua, reply.as_bytes()).unwrap();
        let mut out = ReplyWriter::new(true);
        lua_to_reply(&v, &mut out, true);
        let text = String::from_utf8_lossy(&out.buf);
        let order: Vec<&str> = text.split("\r\n").filter(|l| fields.contains(l)).collect();
        assert_eq!(order, ["last-delivered-id", "name", "consumers", "pending", "entries-read", "lag"]);
    }

    #[test]
    fn malformed_or_too_deep_replies_push_nothing() {
        let lua = Lua::new();
        for bad in [&b"*2\r\n:1\r\n"[..], b"$5\r\nab\r\n", b"?\r\n", b"", b"%1\r\n_\r\n:1\r\n"] {
            assert!(to_lua(&lua, bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 5) + ":1\r\n";
        assert!(to_lua(&lua, deep.as_bytes()).is_none());
    }
}
