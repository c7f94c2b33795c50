//! Configuration: Redis's names, types, defaults and errors, from one table.
//!
//! The same table serves the config file, `--name value` command-line options, CONFIG GET
//! (glob over names and aliases) and CONFIG SET (several pairs, all-or-nothing). Values are
//! kept typed; `render` prints them the way CONFIG GET does (memory sizes as plain bytes,
//! booleans as yes/no).

use std::collections::HashMap;

use crate::command::{CmdResult, Ctx, Error};
use crate::util::glob::glob_match;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Bool,
    Int { min: i64, max: i64 },
    /// Byte sizes accepting k/kb/m/mb/g/gb suffixes.
    Memory { min: i64, max: i64 },
    Enum(&'static [&'static str]),
    Str,
    /// Whitespace-separated list kept verbatim (save, bind, ...).
    List,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
}

pub struct Def {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
}

const fn def(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Def {
    Def { name, alias: None, kind, default, mutable }
}

const fn aliased(name: &'static str, alias: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Def {
    Def { name, alias: Some(alias), kind, default, mutable }
}

const I32: Kind = Kind::Int { min: 0, max: i32::MAX as i64 };
const LL: Kind = Kind::Int { min: 0, max: i64::MAX };
const MEM: Kind = Kind::Memory { min: 0, max: i64::MAX };
const YES: &str = "yes";
const NO: &str = "no";

pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
pub const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every directive we accept. Those we parse but whose feature is not built yet are
/// listed in docs/COMPATIBILITY.md.
pub static DEFS: &[Def] = &[
    def("bind", Kind::List, "* -::*", true),
    def("port", Kind::Int { min: 0, max: 65535 }, "6379", true),
    def("databases", Kind::Int { min: 1, max: i32::MAX as i64 }, "16", false),
    def("requirepass", Kind::Str, "", true),
    def("maxclients", Kind::Int { min: 1, max: i32::MAX as i64 }, "10000", true),
    def("timeout", I32, "0", true),
    def("tcp-keepalive", I32, "300", true),
    def("tcp-backlog", I32, "511", false),
    def("proto-max-bulk-len", Kind::Memory { min: 1024 * 1024, max: i64::MAX }, "536870912", true),
    def("client-query-buffer-limit", Kind::Memory { min: 1024 * 1024, max: i64::MAX }, "1073741824", true),
    def("dir", Kind::Str, "", true),
    def("logfile", Kind::Str, "", false),
    def("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    def("daemonize", Kind::Bool, NO, false),
    def("pidfile", Kind::Str, "", false),
    def("save", Kind::List, "3600 1 300 100 60 10000", true),
    def("appendonly", Kind::Bool, NO, true),
    def("appendfilename", Kind::Str, "appendonly.aof", false),
    def("appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", true),
    def("dbfilename", Kind::Str, "dump.rdb", true),
    def("enable-debug-command", Kind::Enum(&["no", "yes", "local"]), "no", false),
    def("threads", Kind::Int { min: 1, max: 256 }, "0", false),
    def("io-threads", Kind::Int { min: 1, max: 128 }, "1", false),
    def("hz", Kind::Int { min: 0, max: i32::MAX as i64 }, "10", true),
    def("maxmemory", MEM, "0", true),
    def("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true),
    def("maxmemory-samples", Kind::Int { min: 1, max: 64 }, "5", true),
    def("lfu-log-factor", I32, "10", true),
    def("lfu-decay-time", I32, "1", true),
    aliased("busy-reply-threshold", "lua-time-limit", LL, "5000", true),
    def("slowlog-log-slower-than", Kind::Int { min: -1, max: i64::MAX }, "10000", true),
    def("slowlog-max-len", LL, "128", true),
    def("notify-keyspace-events", Kind::Str, "", true),
    def("protected-mode", Kind::Bool, YES, true),
    def("lazyfree-lazy-eviction", Kind::Bool, NO, true),
    def("lazyfree-lazy-expire", Kind::Bool, NO, true),
    def("lazyfree-lazy-server-del", Kind::Bool, NO, true),
    def("lazyfree-lazy-user-del", Kind::Bool, NO, true),
    def("lazyfree-lazy-user-flush", Kind::Bool, NO, true),
    def("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1", true),
    def("activerehashing", Kind::Bool, YES, true),
    def("latency-tracking", Kind::Bool, YES, true),
    def("supervised", Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no", false),
    def("syslog-enabled", Kind::Bool, NO, false),
    def("always-show-logo", Kind::Bool, NO, false),
    def("set-proc-title", Kind::Bool, YES, false),
    def("stop-writes-on-bgsave-error", Kind::Bool, YES, true),
    def("rdbcompression", Kind::Bool, YES, true),
    def("rdbchecksum", Kind::Bool, YES, true),
    def("unixsocket", Kind::Str, "", false),
    def("unixsocketperm", I32, "0", false),
];

pub struct Config {
    values: HashMap<&'static str, Val>,
}

/// Parse a byte size as Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb suffix.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if num.is_empty() {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mul)
}

impl Def {
    /// Validate and convert a value; the error is the reason CONFIG SET appends.
    pub fn parse(&self, raw: &str) -> Result<Val, String> {
        match self.kind {
            Kind::Bool => match raw.to_ascii_lowercase().as_str() {
                "yes" => Ok(Val::Bool(true)),
                "no" => Ok(Val::Bool(false)),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let v = crate::util::number::parse_i64(raw.as_bytes())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                Ok(Val::Int(v))
            }
            Kind::Memory { min, max } => {
                let v = parse_memory(raw).ok_or_else(|| "argument must be a memory value".to_string())?;
                if v < min || v > max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                Ok(Val::Int(v))
            }
            Kind::Enum(options) => {
                let lower = raw.to_ascii_lowercase();
                if options.contains(&lower.as_str()) {
                    Ok(Val::Str(lower))
                } else {
                    Err(format!("argument(s) must be one of the following: {}", options.join(", ")))
                }
            }
            Kind::Str | Kind::List => Ok(Val::Str(raw.to_string())),
        }
    }
}

pub fn find_def(name: &str) -> Option<&'static Def> {
    let lower = name.to_ascii_lowercase();
    DEFS.iter().find(|d| d.name == lower || d.alias == Some(lower.as_str()))
}

impl Config {
    pub fn new() -> Config {
        let mut values = HashMap::new();
        for d in DEFS {
            let v = d.parse(d.default).unwrap_or(Val::Str(d.default.to_string()));
            values.insert(d.name, v);
        }
        let mut c = Config { values };
        if let Ok(cwd) = std::env::current_dir() {
            c.values.insert("dir", Val::Str(cwd.to_string_lossy().into_owned()));
        }
        c
    }

    pub fn get(&self, name: &str) -> Option<&Val> {
        self.values.get(name)
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Val::Int(v)) => *v,
            _ => 0,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Val::Bool(true)))
    }

    pub fn str(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    pub fn render(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Val::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            Some(Val::Int(v)) => v.to_string(),
            Some(Val::Str(s)) => s.clone(),
            None => String::new(),
        }
    }

    /// Set from a config file line or command-line option (no mutability check).
    pub fn load(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let d = find_def(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let raw = match d.kind {
            Kind::List => args.join(" "),
            _ if args.len() == 1 => args[0].clone(),
            _ => return Err("wrong number of arguments".into()),
        };
        let v = d.parse(&raw)?;
        if d.name == "dir" {
            if let Val::Str(p) = &v {
                std::env::set_current_dir(p).map_err(|e| format!("No such file or directory: {e}"))?;
            }
        }
        self.values.insert(d.name, v);
        Ok(())
    }

    pub fn set_parsed(&mut self, name: &'static str, v: Val) {
        self.values.insert(name, v);
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Error text for a config file problem, as redis-server prints it before exiting.
pub fn fatal_config_error(line_no: usize, line: &str, reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.2.4) ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{reason}\n"
    )
}

/// Apply a whole config text (file contents followed by command-line options).
pub fn load_text(cfg: &mut Config, text: &str) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = match crate::resp::parse::split_args(trimmed.as_bytes()) {
            Some(w) => w,
            None => return Err(fatal_config_error(i + 1, trimmed, "Unbalanced quotes in configuration line")),
        };
        let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
        let Some((name, args)) = words.split_first() else { continue };
        if args.is_empty() && find_def(name).is_some_and(|d| d.kind != Kind::List && d.kind != Kind::Str) {
            return Err(fatal_config_error(i + 1, trimmed, "wrong number of arguments"));
        }
        if let Err(reason) = cfg.load(name, args) {
            return Err(fatal_config_error(i + 1, trimmed, &reason));
        }
    }
    Ok(())
}

// ---- CONFIG subcommands ----

pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    let cfg = ctx.srv.config.read();
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    for pat in &ctx.args[2..] {
        for d in DEFS {
            let hit_name = glob_match(pat, d.name.as_bytes(), true);
            let hit_alias = d.alias.is_some_and(|a| glob_match(pat, a.as_bytes(), true));
            if hit_name && !pairs.iter().any(|(n, _)| *n == d.name) {
                pairs.push((d.name, cfg.render(d.name)));
            }
            if let Some(a) = d.alias {
                if hit_alias && !pairs.iter().any(|(n, _)| *n == a) {
                    pairs.push((a, cfg.render(d.name)));
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (n, v) in pairs {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    if args.len() % 2 != 0 {
        return Err(Error::msg("ERR wrong number of arguments for 'config|set' command"));
    }
    let mut staged: Vec<(&'static Def, Val)> = Vec::new();
    for pair in args.chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).into_owned();
        let Some(d) = find_def(&name) else {
            return Err(Error::msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if staged.iter().any(|(s, _)| s.name == d.name) {
            return Err(Error::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
        if !d.mutable {
            return Err(Error::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            )));
        }
        let raw = String::from_utf8_lossy(pair[1]).into_owned();
        let v = d.parse(&raw).map_err(|reason| {
            Error::msg(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"))
        })?;
        staged.push((d, v));
    }
    {
        let mut cfg = ctx.srv.config.write();
        for (d, v) in staged {
            cfg.set_parsed(d.name, v);
        }
    }
    ctx.srv.refresh_hot_config();
    ctx.out.ok();
    Ok(())
}

pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.reset_stats();
    ctx.out.ok();
    Ok(())
}

pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}
