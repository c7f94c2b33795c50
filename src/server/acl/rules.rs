//! ACL users and their rules, as Redis 7.2 applies them (acl.c's ACLSetUser and
//! ACLSetSelector): flags, passwords (SHA-256 hex), selectors of key patterns, channel
//! patterns and command permissions, and the text ACL LIST / GETUSER / ACL SAVE describe
//! a user with. Pure: no server state, so the rule parser can be fuzzed on its own.
//!
//! Commands are those of the static command table (`command::spec::COMMANDS`, Redis's
//! orig_commands: renaming does not change what a rule names), each command and
//! subcommand numbered once (`command_id`). A selector keeps one bit per id, plus the
//! rules as given in order (Redis's command_rules), which is what describes it.

use std::sync::OnceLock;

use crate::command::spec::{self, acl, CommandDef};
use crate::util::glob::glob_match;

/// Words of the per-selector command bitmap: room for every command and subcommand
/// (a unit test checks it).
pub const WORDS: usize = 8;

/// Key pattern permissions (%R~, %W~, %RW~ = ~).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const ALL: u8 = READ | WRITE;

struct Ids {
    /// Id by the address of the command's definition.
    by_def: ahash::AHashMap<usize, u16>,
    /// Definition by id.
    defs: Vec<&'static CommandDef>,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids = Ids { by_def: ahash::AHashMap::new(), defs: Vec::new() };
        for c in spec::COMMANDS {
            for d in std::iter::once(c).chain(c.subcommands.iter()) {
                ids.by_def.insert(d as *const CommandDef as usize, ids.defs.len() as u16);
                ids.defs.push(d);
            }
        }
        ids
    })
}

/// The id of a command or subcommand of the static table.
pub fn command_id(def: &'static CommandDef) -> usize {
    ids().by_def.get(&(def as *const CommandDef as usize)).copied().unwrap_or(u16::MAX) as usize
}

/// Why a rule was refused (Redis's errno values), with ACLSetUserStringError's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
    UnknownCommand,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterAll,
    /// EISDIR
    ChannelAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// EALREADY
    Duplicate,
    /// ECHILD
    SubcommandFirstArg,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Duplicate => "Duplicate user found. A user can only be defined once in config files",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Vec<u8>,
    /// How to match it: most ACL patterns are a literal prefix and one '*'.
    shape: Shape,
}

/// A glob pattern's shape, decided once when the rule is set so that the check of every
/// command compares bytes instead of running the glob matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// No special character: the key must be the pattern.
    Literal,
    /// A literal then one final '*': the key must start with the literal.
    Prefix,
    /// Anything else: Redis's stringmatchlen.
    Glob,
}

impl KeyPattern {
    fn new(flags: u8, pattern: &[u8]) -> KeyPattern {
        let special = |c: &u8| matches!(c, b'*' | b'?' | b'[' | b'\\');
        let shape = match pattern.iter().position(special) {
            None => Shape::Literal,
            Some(i) if i == pattern.len() - 1 && pattern[i] == b'*' => Shape::Prefix,
            Some(_) => Shape::Glob,
        };
        KeyPattern { flags, pattern: pattern.to_vec(), shape }
    }

    #[inline]
    fn matches(&self, key: &[u8]) -> bool {
        match self.shape {
            Shape::Literal => self.pattern == key,
            // (Redis's matcher never matches an empty key with a '*': its loop needs a byte.)
            Shape::Prefix => {
                let lit = &self.pattern[..self.pattern.len() - 1];
                // The first byte alone rules most patterns out, without a memcmp call.
                match (lit.first(), key.first()) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(a), Some(b)) => a == b && key.starts_with(lit),
                }
            }
            Shape::Glob => glob_match(&self.pattern, key, false),
        }
    }
}

/// One selector: the root one (rules outside parentheses) or one in parentheses.
#[derive(Clone, Debug)]
pub struct Selector {
    root: bool,
    pub allkeys: bool,
    pub allchannels: bool,
    allcommands: bool,
    /// Set by +@all / allcommands (Redis's reserved "future commands" bit).
    future: bool,
    allowed: [u64; WORDS],
    /// First arguments allowed of an otherwise refused command (+select|0), by id.
    firstargs: Vec<(u16, Vec<Vec<u8>>)>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
    /// The command and category rules in the order they apply, lower case.
    rules: Vec<u8>,
}

/// C's isspace, or a NUL byte: characters usernames and patterns may not hold.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0))
}

fn is(op: &[u8], word: &str) -> bool {
    op.eq_ignore_ascii_case(word.as_bytes())
}

/// The command a rule names, as Redis's ACLLookupCommand: "name" or "container|sub",
/// case-insensitive; None for more parts or a subcommand of a command without any.
fn lookup(name: &[u8]) -> Option<&'static CommandDef> {
    spec::lookup_full(name)
}

impl Selector {
    fn new(root: bool, allchannels: bool) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels,
            allcommands: false,
            future: false,
            allowed: [0; WORDS],
            firstargs: Vec::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
            rules: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        id < WORDS * 64 && self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if id >= WORDS * 64 {
            return;
        }
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// Allow or refuse a command, and all its subcommands if it is a container.
    fn change(&mut self, def: &'static CommandDef, allow: bool) {
        let id = command_id(def);
        self.set_bit(id, allow);
        self.firstargs.retain(|(i, _)| *i as usize != id);
        for sub in def.subcommands {
            self.set_bit(command_id(sub), allow);
        }
    }

    fn set_category(&mut self, cat: u64, allow: bool) {
        for c in spec::COMMANDS {
            if c.acl & cat != 0 {
                self.change(c, allow);
            }
            for s in c.subcommands {
                if s.acl & cat != 0 {
                    self.change(s, allow);
                }
            }
        }
    }

    /// Record a command rule (Redis's ACLUpdateCommandRules): drop earlier rules for the
    /// same command (and its subcommands), then append this one.
    fn update_rules(&mut self, rule: &[u8], allow: bool) {
        let rule = rule.to_ascii_lowercase();
        let mut kept: Vec<&[u8]> = Vec::new();
        for r in self.rules.split(|&b| b == b' ').filter(|r| !r.is_empty()) {
            let name = &r[1..];
            let same =
                name == &rule[..] || (name.len() > rule.len() && name.starts_with(&rule) && name[rule.len()] == b'|');
            if !same {
                kept.push(r);
            }
        }
        let mut out = kept.join(&b' ');
        if !out.is_empty() {
            out.push(b' ');
        }
        out.push(if allow { b'+' } else { b'-' });
        out.extend_from_slice(&rule);
        self.rules = out;
    }

    fn add_firstarg(&mut self, id: usize, arg: &[u8]) {
        let i = match self.firstargs.iter().position(|(c, _)| *c as usize == id) {
            Some(i) => i,
            None => {
                self.firstargs.push((id as u16, Vec::new()));
                self.firstargs.len() - 1
            }
        };
        let list = &mut self.firstargs[i].1;
        if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
            list.push(arg.to_vec());
        }
    }

    /// Apply one selector rule (Redis's ACLSetSelector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if is(op, "allkeys") || is(op, "~*") {
            self.allkeys = true;
            self.patterns.clear();
        } else if is(op, "resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if is(op, "allchannels") || is(op, "&*") {
            self.allchannels = true;
            self.channels.clear();
        } else if is(op, "resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is(op, "allcommands") || is(op, "+@all") {
            self.allowed = [u64::MAX; WORDS];
            self.allcommands = true;
            self.future = true;
            self.rules.clear();
            self.firstargs.clear();
        } else if is(op, "nocommands") || is(op, "-@all") {
            self.allowed = [0; WORDS];
            self.allcommands = false;
            self.future = false;
            self.rules.clear();
            self.firstargs.clear();
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            if self.allkeys {
                return Err(RuleError::KeyAfterAll);
            }
            let mut flags = 0u8;
            let mut offset = 1;
            if op[0] == b'%' {
                while offset < op.len() {
                    let c = op[offset];
                    if c.eq_ignore_ascii_case(&b'r') && flags & READ == 0 {
                        flags |= READ;
                    } else if c.eq_ignore_ascii_case(&b'w') && flags & WRITE == 0 {
                        flags |= WRITE;
                    } else if c == b'~' && flags != 0 {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
                // "%" alone would give a pattern without permissions, which Redis cannot
                // describe (it aborts on ACL LIST): refused here.
                if flags == 0 {
                    return Err(RuleError::Syntax);
                }
            } else {
                flags = ALL;
            }
            let pattern = &op[offset.min(op.len())..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => p.flags |= flags,
                None => self.patterns.push(KeyPattern::new(flags, pattern)),
            }
            self.allkeys = false;
        } else if op.first() == Some(&b'&') {
            if self.allchannels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.allchannels = false;
        } else if op.first() == Some(&b'+') && op.get(1) != Some(&b'@') {
            let name = &op[1..];
            match name.iter().rposition(|&b| b == b'|') {
                None => {
                    let def = lookup(name).ok_or(RuleError::UnknownCommand)?;
                    self.change(def, true);
                    self.update_rules(def.name.as_bytes(), true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let def = lookup(base).ok_or(RuleError::UnknownCommand)?;
                    if def.name.contains('|') {
                        return Err(RuleError::SubcommandFirstArg);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !def.subcommands.is_empty() {
                        let sub = lookup(name).ok_or(RuleError::UnknownCommand)?;
                        self.change(sub, true);
                    } else {
                        // Allowing one first argument of an otherwise refused command
                        // (deprecated in Redis, still accepted).
                        self.add_firstarg(command_id(def), sub);
                    }
                    self.update_rules(name, true);
                }
            }
        } else if op.first() == Some(&b'-') && op.get(1) != Some(&b'@') {
            let def = lookup(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change(def, false);
            self.update_rules(def.name.as_bytes(), false);
        } else if matches!(op.first(), Some(b'+' | b'-')) && op.get(1) == Some(&b'@') {
            let allow = op[0] == b'+';
            let cat = acl::by_name(&op[2..]);
            if cat == 0 {
                return Err(RuleError::UnknownCommand);
            }
            self.update_rules(&op[1..], allow);
            self.set_category(cat, allow);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// A selector from "(rule rule ...)" (Redis's aclCreateSelectorFromOpSet).
    fn from_opset(op: &[u8], allchannels: bool) -> Result<Selector, RuleError> {
        let mut s = Selector::new(false, allchannels);
        let inner = &op[1..op.len() - 1];
        for rule in crate::resp::parse::split_args(inner).unwrap_or_default() {
            s.apply(&rule)?;
        }
        Ok(s)
    }

    /// The command rules as ACL GETUSER's "commands" shows them.
    pub fn describe_commands(&self) -> Vec<u8> {
        let mut out = if self.future { b"+@all".to_vec() } else { b"-@all".to_vec() };
        if !self.rules.is_empty() {
            out.push(b' ');
            out.extend_from_slice(&self.rules);
        }
        out
    }

    /// The key patterns as ACL GETUSER's "keys" shows them.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.allkeys {
            return b"~*".to_vec();
        }
        let parts: Vec<Vec<u8>> = self.patterns.iter().map(pattern_text).collect();
        parts.join(&b' ')
    }

    /// The channel patterns as ACL GETUSER's "channels" shows them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.allchannels {
            return b"&*".to_vec();
        }
        let parts: Vec<Vec<u8>> = self.channels.iter().map(|c| [&b"&"[..], c].concat()).collect();
        parts.join(&b' ')
    }

    /// The whole selector as ACL LIST shows it (Redis's ACLDescribeSelector).
    fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.allkeys {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                out.extend_from_slice(&pattern_text(p));
                out.push(b' ');
            }
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
        out
    }

    /// Everything allowed: any command, key and channel.
    fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    /// May this selector run the command at all (its bit, or an allowed first argument)?
    fn may_run(&self, def: &'static CommandDef, args: &[&[u8]]) -> bool {
        if self.allcommands || def.has(spec::flags::NO_AUTH) {
            return true;
        }
        let id = command_id(def);
        if self.bit(id) {
            return true;
        }
        let idx = if def.name.contains('|') { 2 } else { 1 };
        match (self.firstargs.iter().find(|(i, _)| *i as usize == id), args.get(idx)) {
            (Some((_, allowed)), Some(arg)) if args.len() >= 2 => allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)),
            _ => false,
        }
    }

    /// May this selector touch `key` with a key spec's `key::*` flags?
    pub fn may_access_key(&self, key: &[u8], spec_flags: u32) -> bool {
        if self.allkeys {
            return true;
        }
        let want = access_bits(spec_flags);
        self.patterns.iter().any(|p| p.flags & want == want && p.matches(key))
    }

    /// Whether the selector grants `spec_flags` access to every key (Redis's
    /// ACLSelectorHasUnrestrictedKeyAccess).
    fn all_keys_for(&self, spec_flags: u32) -> bool {
        if self.allkeys {
            return true;
        }
        let want = access_bits(spec_flags);
        self.patterns.iter().any(|p| p.flags & want == want && p.pattern == b"*")
    }

    /// May this selector use a channel (a pattern of PSUBSCRIBE is compared literally)?
    pub fn may_use_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.allchannels || channel_allowed(&self.channels, channel, is_pattern)
    }
}

/// The R/W permissions a key spec's flags need.
fn access_bits(spec_flags: u32) -> u8 {
    use spec::key;
    let mut want = 0;
    if spec_flags & key::ACCESS != 0 {
        want |= READ;
    }
    if spec_flags & (key::INSERT | key::DELETE | key::UPDATE) != 0 {
        want |= WRITE;
    }
    want
}

/// Whether a channel list allows `channel` (Redis's ACLCheckChannelAgainstList).
pub fn channel_allowed(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| if is_pattern { p == channel } else { glob_match(p, channel, false) })
}

fn pattern_text(p: &KeyPattern) -> Vec<u8> {
    let prefix: &[u8] = match p.flags {
        READ => b"%R~",
        WRITE => b"%W~",
        _ => b"~",
    };
    [prefix, &p.pattern].concat()
}

/// Why a command was refused (ACL_DENIED_*; their order picks the error to report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key,
    Auth,
    Channel,
}

/// A user: flags, password hashes and selectors (the first is the root selector).
#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    pub skip_sanitize: bool,
    /// SHA-256 hex digests.
    pub passwords: Vec<Vec<u8>>,
    pub selectors: Vec<Selector>,
    /// Some selector allows everything: checks can stop at once.
    unrestricted: bool,
}

/// Redis's channel positions of the Pub/Sub commands that name channels (db.c's
/// getChannelsFromCommand), restricted to those ACLs check: (first arg, all the rest or
/// only one, patterns).
fn channel_args(def: &CommandDef) -> Option<(bool, bool)> {
    // (many, pattern)
    match def.name {
        "subscribe" | "ssubscribe" => Some((true, false)),
        "psubscribe" => Some((true, true)),
        "publish" | "spublish" => Some((false, false)),
        _ => None,
    }
}

impl User {
    /// A new user: off, no password, no permissions (channels per acl-pubsub-default).
    pub fn new(name: &[u8], allchannels: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, allchannels)],
            unrestricted: false,
        }
    }

    /// The default user of a fresh server: on, nopass, everything allowed.
    pub fn default_user() -> User {
        let mut u = User::new(b"default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(op.as_bytes(), false).expect("default rules");
        }
        u
    }

    pub fn unrestricted(&self) -> bool {
        self.unrestricted
    }

    fn refresh(&mut self) {
        self.unrestricted = self.selectors.iter().any(Selector::unrestricted);
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Apply one rule (Redis's ACLSetUser); `allchannels`: acl-pubsub-default is
    /// allchannels. On error the user may be half changed: callers apply rules to a copy.
    pub fn apply(&mut self, op: &[u8], allchannels: bool) -> Result<(), RuleError> {
        let r = self.apply_inner(op, allchannels);
        self.refresh();
        r
    }

    fn apply_inner(&mut self, op: &[u8], allchannels: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        if is(op, "on") {
            self.enabled = true;
        } else if is(op, "off") {
            self.enabled = false;
        } else if is(op, "skip-sanitize-payload") {
            self.skip_sanitize = true;
        } else if is(op, "sanitize-payload") {
            self.skip_sanitize = false;
        } else if is(op, "nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is(op, "resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' { hash_password(&op[1..]) } else { checked_hash(&op[1..])? };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' { hash_password(&op[1..]) } else { checked_hash(&op[1..])? };
            let i = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(i);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' && op.len() >= 2 {
            let s = Selector::from_opset(op, allchannels)?;
            self.selectors.push(s);
        } else if is(op, "clearselectors") {
            self.selectors.truncate(1);
        } else if is(op, "reset") {
            for r in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply_inner(r.as_bytes(), allchannels)?;
            }
            if allchannels {
                self.apply_inner(b"allchannels", allchannels)?;
            }
            for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply_inner(r.as_bytes(), allchannels)?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Apply rules as ACL SETUSER does (merged selector arguments, all or nothing): the
    /// changed copy, or the error text.
    pub fn with_rules(&self, rules: &[&[u8]], allchannels: bool) -> Result<User, Vec<u8>> {
        let merged = merge_selectors(rules).map_err(|start| {
            let mut e = b"ERR Unmatched parenthesis in acl selector starting at '".to_vec();
            e.extend_from_slice(rules[start]);
            e.extend_from_slice(b"'.");
            e
        })?;
        let mut u = self.clone();
        for op in &merged {
            if let Err(e) = u.apply(op, allchannels) {
                let mut msg = b"ERR Error in ACL SETUSER modifier '".to_vec();
                msg.extend_from_slice(op);
                msg.extend_from_slice(b"': ");
                msg.extend_from_slice(e.message().as_bytes());
                return Err(msg);
            }
        }
        Ok(u)
    }

    /// The flags ACL GETUSER lists, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        f.push(if self.skip_sanitize { "skip-sanitize-payload" } else { "sanitize-payload" });
        f
    }

    /// The user's rules as ACL LIST and ACL SAVE write them (after "user <name> ").
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.flag_names() {
            out.extend_from_slice(f.as_bytes());
            out.push(b' ');
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p);
            out.push(b' ');
        }
        for s in &self.selectors {
            if s.root {
                out.extend_from_slice(&s.describe());
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&s.describe());
                out.push(b')');
            }
        }
        out
    }

    /// Whether `password` authenticates this user (enabled, and nopass or a hash match).
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(password);
        // Compare every byte whatever the first difference (time-independent).
        self.passwords.iter().any(|p| p.iter().zip(&h).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0)
    }

    /// Redis's ACLCheckAllUserCommandPerm: None if some selector allows the command on
    /// its keys and channels, else the reason and the position of the argument that
    /// failed (0 for the command itself) as Redis picks them.
    #[inline]
    pub fn check(&self, def: &'static CommandDef, args: &[&[u8]]) -> Option<(Denied, usize)> {
        if self.unrestricted {
            return None;
        }
        self.check_restricted(def, args)
    }

    fn check_restricted(&self, def: &'static CommandDef, args: &[&[u8]]) -> Option<(Denied, usize)> {
        let mut keys: Option<spec::Keys> = None;
        let mut worst = (Denied::Command, 0usize);
        for s in &self.selectors {
            let r = self.check_selector(s, def, args, &mut keys);
            match r {
                None => return None,
                Some(r) => {
                    if r.0 > worst.0 || (r.0 == worst.0 && r.1 > worst.1) {
                        worst = r;
                    }
                }
            }
        }
        Some(worst)
    }

    fn check_selector(
        &self,
        s: &Selector,
        def: &'static CommandDef,
        args: &[&[u8]],
        keys: &mut Option<spec::Keys>,
    ) -> Option<(Denied, usize)> {
        if !s.may_run(def, args) {
            return Some((Denied::Command, 0));
        }
        if !s.allkeys && def.has_keys() {
            let keys = keys.get_or_insert_with(|| spec::keys_with_flags(def, args));
            for &(pos, flags) in keys.iter() {
                if let Some(k) = args.get(pos) {
                    if !s.may_access_key(k, flags) {
                        return Some((Denied::Key, pos));
                    }
                }
            }
        }
        if !s.allchannels && def.acl & acl::PUBSUB != 0 {
            if let Some((many, pattern)) = channel_args(def) {
                let end = if many { args.len() } else { 2.min(args.len()) };
                for (pos, ch) in args.iter().enumerate().take(end).skip(1) {
                    if !channel_allowed(&s.channels, ch, pattern) {
                        return Some((Denied::Channel, pos));
                    }
                }
            }
        }
        None
    }

    /// Whether some selector runs the command and reads every key (SORT's BY and GET:
    /// Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess with CMD_KEY_ACCESS).
    pub fn reads_all_keys(&self, def: &'static CommandDef, args: &[&[u8]]) -> bool {
        let mut keys = None;
        self.selectors
            .iter()
            .any(|s| self.check_selector(s, def, args, &mut keys).is_none() && s.all_keys_for(spec::key::ACCESS))
    }

    /// Whether some selector allows every channel, or the channels of all selectors
    /// (for ACLKillPubsubClientsIfNeeded).
    pub fn channel_lists(&self) -> Option<Vec<Vec<u8>>> {
        if self.selectors.iter().any(|s| s.allchannels) {
            return None;
        }
        Some(self.selectors.iter().flat_map(|s| s.channels.iter().cloned()).collect())
    }

    /// Whether this user, changed to `new`, may have lost channels it could use (Redis
    /// keeps subscribers unless the new channels are not a superset of the old).
    pub fn channels_shrunk(&self, new: &User) -> Option<Vec<Vec<u8>>> {
        let upcoming = new.channel_lists()?;
        for s in &self.selectors {
            if s.allchannels || s.channels.iter().any(|c| !upcoming.contains(c)) {
                return Some(upcoming);
            }
        }
        None
    }
}

pub fn hash_password(password: &[u8]) -> Vec<u8> {
    crate::util::sha256::sha256_hex(password).into_bytes()
}

fn checked_hash(h: &[u8]) -> Result<Vec<u8>, RuleError> {
    if h.len() != 64 || !h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    Ok(h.to_vec())
}

/// Join selector rules spread over several arguments ("(~a" "+get)") into one, as Redis's
/// ACLMergeSelectorArguments; Err(index) of an unclosed '('.
pub fn merge_selectors<T: AsRef<[u8]>>(args: &[T]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, a) in args.iter().enumerate() {
        let op = a.as_ref();
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().expect("open").1);
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

/// ACL CAT <category>: the commands and subcommands of a category, in table order.
pub fn category_commands(cat: u64) -> Vec<&'static str> {
    let mut out = Vec::new();
    for c in spec::COMMANDS {
        if c.acl & cat != 0 {
            out.push(c.name);
        }
        for s in c.subcommands {
            if s.acl & cat != 0 {
                out.push(s.name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
