//! Static command specifications: what Redis 7.2 defines for every command (arity, flags,
//! key positions, ACL categories, documentation). This is data, not behaviour; the runtime
//! table in `command::table` joins it with our handlers.

/// Command flags, as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const MODULE: u64 = 1 << 3;
    pub const ADMIN: u64 = 1 << 4;
    pub const PUBSUB: u64 = 1 << 5;
    pub const NOSCRIPT: u64 = 1 << 6;
    pub const BLOCKING: u64 = 1 << 7;
    pub const LOADING: u64 = 1 << 8;
    pub const STALE: u64 = 1 << 9;
    pub const SKIP_MONITOR: u64 = 1 << 10;
    pub const SKIP_SLOWLOG: u64 = 1 << 11;
    pub const ASKING: u64 = 1 << 12;
    pub const FAST: u64 = 1 << 13;
    pub const NO_AUTH: u64 = 1 << 14;
    pub const MAY_REPLICATE: u64 = 1 << 15;
    pub const SENTINEL: u64 = 1 << 16;
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    pub const PROTECTED: u64 = 1 << 19;
    pub const NO_ASYNC_LOADING: u64 = 1 << 20;
    pub const NO_MULTI: u64 = 1 << 21;
    pub const MOVABLE_KEYS: u64 = 1 << 22;
    pub const ALLOW_BUSY: u64 = 1 << 23;

    /// Names in COMMAND INFO order.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// One command or subcommand of Redis 7.2.
pub struct CommandDef {
    /// Lower-case name; subcommands carry the container's name: "config|get".
    pub name: &'static str,
    pub arity: i32,
    pub flags: u64,
    /// Legacy key range (COMMAND INFO positions 4-6).
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub subcommands: &'static [CommandDef],
}

impl CommandDef {
    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }
}

use flags::*;

const fn cmd(name: &'static str, arity: i32, flags: u64, first_key: i32, last_key: i32, key_step: i32) -> CommandDef {
    CommandDef { name, arity, flags, first_key, last_key, key_step, subcommands: &[] }
}

/// Temporary hand-written subset; replaced by the generated table.
pub static COMMANDS: &[CommandDef] = &[
    cmd("get", 2, READONLY | FAST, 1, 1, 1),
    cmd("set", -3, WRITE | DENYOOM, 1, 1, 1),
    cmd("ping", -1, FAST | STALE, 0, 0, 0),
];

/// Positions in `args` (args[0] is the command name) of the keys `def` names.
/// Arity has already been checked.
pub fn key_positions(def: &CommandDef, args: &[&[u8]]) -> Vec<usize> {
    if def.first_key <= 0 {
        return Vec::new();
    }
    let argc = args.len() as i32;
    let last = if def.last_key < 0 { argc + def.last_key } else { def.last_key };
    let step = def.key_step.max(1);
    let mut out = Vec::new();
    let mut i = def.first_key;
    while i <= last && i < argc {
        out.push(i as usize);
        i += step;
    }
    out
}
