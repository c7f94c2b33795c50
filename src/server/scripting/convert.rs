//! Conversions between Redis replies and Lua values, exactly as Redis's script_lua.c does.
//!
//! RESP -> Lua (what `redis.call` returns): integers become numbers, bulk strings strings,
//! arrays tables, a RESP2 null (bulk or array) `false`, a RESP3 null `nil`, status replies
//! `{ok=...}`, errors `{err=...}`; under `redis.setresp(3)` also booleans, `{double=n}`,
//! `{big_number=s}`, `{map={...}}`, `{set={k=true}}` and
//! `{verbatim_string={format=..., string=...}}`.
//!
//! Lua -> RESP (what a script returns): strings are bulk strings, numbers integers
//! (truncated), `true` 1 (or a RESP3 boolean after setresp(3)), `false` and `nil` null,
//! tables with an `err` / `ok` / `double` / `big_number` / `map` / `set` /
//! `verbatim_string` field those replies, other tables arrays up to the first nil.

use mlua::{Lua, Table, Value};

use crate::resp::write::ReplyWriter;

/// Nesting deeper than this is answered with an error instead of recursing further.
const MAX_DEPTH: usize = 1000;

/// A Lua number as a C cast to long long on x86-64: out of range and NaN give i64::MIN.
pub fn lua_number_to_i64(n: f64) -> i64 {
    if n.is_nan() || n >= 9.223372036854775807e18 || n < -9.223372036854775808e18 {
        i64::MIN
    } else {
        n as i64
    }
}

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

fn bad() -> mlua::Error {
    mlua::Error::RuntimeError("ERR malformed reply".into())
}

impl<'a> Reader<'a> {
    fn line(&mut self) -> mlua::Result<&'a [u8]> {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        let end = memchr::memmem::find(rest, b"\r\n").ok_or_else(bad)?;
        self.pos += end + 2;
        Ok(&rest[..end])
    }

    fn int(&mut self) -> mlua::Result<i64> {
        let l = self.line()?;
        crate::util::number::parse_i64(l).ok_or_else(bad)
    }

    fn bytes(&mut self, n: usize) -> mlua::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e + 2 <= self.buf.len()).ok_or_else(bad)?;
        let s = &self.buf[self.pos..end];
        self.pos = end + 2;
        Ok(s)
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> mlua::Result<Value> {
        if depth > MAX_DEPTH {
            return Err(bad());
        }
        let tag = *self.buf.get(self.pos).ok_or_else(bad)?;
        self.pos += 1;
        Ok(match tag {
            b'+' => {
                let t = lua.create_table()?;
                t.raw_set("ok", lua.create_string(self.line()?)?)?;
                Value::Table(t)
            }
            b'-' => {
                let l = self.line()?;
                let mut raw = Vec::with_capacity(l.len() + 1);
                raw.push(b'-');
                raw.extend_from_slice(l);
                Value::Table(error_table(lua, &raw)?)
            }
            b':' => Value::Number(self.int()? as f64),
            b'$' => {
                let n = self.int()?;
                if n < 0 {
                    Value::Boolean(false)
                } else {
                    Value::String(lua.create_string(self.bytes(n as usize)?)?)
                }
            }
            b'*' | b'~' | b'%' => {
                let n = self.int()?;
                if n < 0 {
                    return Ok(Value::Boolean(false));
                }
                let t = lua.create_table()?;
                for i in 0..n {
                    match tag {
                        b'*' => t.raw_set(i + 1, self.value(lua, depth + 1)?)?,
                        b'~' => t.raw_set(self.value(lua, depth + 1)?, true)?,
                        _ => {
                            let k = self.value(lua, depth + 1)?;
                            let v = self.value(lua, depth + 1)?;
                            t.raw_set(k, v)?
                        }
                    }
                }
                match tag {
                    b'*' => Value::Table(t),
                    b'~' => wrap(lua, "set", Value::Table(t))?,
                    _ => wrap(lua, "map", Value::Table(t))?,
                }
            }
            b'_' => {
                self.line()?;
                Value::Nil
            }
            b'#' => Value::Boolean(self.line()? == b"t"),
            b',' => {
                let l = self.line()?;
                let n = crate::util::number::parse_f64(l).ok_or_else(bad)?;
                wrap(lua, "double", Value::Number(n))?
            }
            b'(' => {
                let l = self.line()?;
                wrap(lua, "big_number", Value::String(lua.create_string(l)?))?
            }
            b'=' => {
                let n = self.int()?;
                let s = self.bytes(n.max(0) as usize)?;
                let (format, text) = if s.len() >= 4 { (&s[..3], &s[4..]) } else { (&b""[..], s) };
                let inner = lua.create_table()?;
                inner.raw_set("format", lua.create_string(format)?)?;
                inner.raw_set("string", lua.create_string(text)?)?;
                wrap(lua, "verbatim_string", Value::Table(inner))?
            }
            b'|' => {
                // Attributes carry no data for the script: skip them.
                let n = self.int()?;
                for _ in 0..n.max(0) * 2 {
                    self.value(lua, depth + 1)?;
                }
                self.value(lua, depth)?
            }
            _ => return Err(bad()),
        })
    }
}

fn wrap(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// The Lua value of one complete reply.
pub fn reply_to_lua(lua: &Lua, reply: &[u8]) -> mlua::Result<Value> {
    Reader { buf: reply, pos: 0 }.value(lua, 0)
}

/// Write a script's return value as a reply. `script_resp3`: the script called
/// redis.setresp(3), which changes how booleans are returned.
pub fn lua_to_reply(v: &Value, out: &mut ReplyWriter, script_resp3: bool) {
    write_value(v, out, script_resp3, 0)
}

fn write_value(v: &Value, out: &mut ReplyWriter, script_resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
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
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Integer(n) => out.int(*n as i64),
        Value::Table(t) => write_table(t, out, script_resp3, depth),
        _ => out.nil(),
    }
}

fn write_table(t: &Table, out: &mut ReplyWriter, script_resp3: bool, depth: usize) {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        out.line_bytes(b'-', &e.as_bytes());
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
    if let Value::Table(m) = field("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(k, out, script_resp3, depth + 1);
            write_value(v, out, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field("set") {
        let keys: Vec<Value> = s.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| k).collect();
        out.set(keys.len());
        for k in &keys {
            write_value(k, out, script_resp3, depth + 1);
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
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        write_value(v, out, script_resp3, depth + 1);
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
        assert_eq!(lua_number_to_i64(3.99), 3);
        assert_eq!(lua_number_to_i64(-3.99), -3);
        assert_eq!(lua_number_to_i64(1e20), i64::MIN);
        assert_eq!(lua_number_to_i64(f64::NAN), i64::MIN);
    }

    #[test]
    fn replies_round_trip_through_lua() {
        let lua = Lua::new();
        let v = reply_to_lua(&lua, b"*3\r\n:1\r\n$-1\r\n+OK\r\n").unwrap();
        let mut out = ReplyWriter::new(false);
        lua_to_reply(&v, &mut out, false);
        // false (the null) ends the array conversion? No: false is a value, nil ends it.
        assert_eq!(out.buf, b"*3\r\n:1\r\n$-1\r\n+OK\r\n");
    }
}
