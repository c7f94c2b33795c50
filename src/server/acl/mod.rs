//! ACL: the users (`rules::User`), which user each client runs as, the permission check
//! of the admission path (Redis's ACLCheckAllPerm), authentication, the ACL LOG, and
//! loading and saving users (config `user` lines, `aclfile`, ACL LOAD / SAVE). The ACL
//! command itself is in `cmd`.
//!
//! Users live in one map behind a lock; a client keeps an `Arc` of its user's rules and
//! the registry's epoch when it took them. Any change (SETUSER, DELUSER, LOAD,
//! requirepass) installs new `Arc`s and bumps the epoch, so a client sees it at its next
//! command with one relaxed load, as Redis clients see their user changed in place.

pub mod cmd;
pub mod rules;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::command::spec::CommandDef;
use crate::command::Error;
use crate::server::client::Client;
pub use rules::{Denied, User};

/// Where a denial happened (ACL LOG's context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

struct LogEntry {
    count: u64,
    reason: Denied,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
    /// Last update, ms.
    ctime: i64,
    cinfo: String,
    entry_id: u64,
    created: i64,
}

#[derive(Default)]
struct Log {
    /// Newest first.
    entries: VecDeque<LogEntry>,
    next_id: u64,
}

/// Entries this close in time (ms) with the same reason, context, object and user are
/// counted in one (Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA).
const LOG_GROUPING_MS: i64 = 60_000;

pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    /// Bumped after every change of `users`.
    epoch: AtomicU64,
    /// The default user is on and nopass: new connections start authenticated.
    default_open: AtomicBool,
    log: Mutex<Log>,
    /// INFO acl_access_denied_auth / _cmd / _key / _channel.
    pub denied_auth: AtomicU64,
    pub denied_cmd: AtomicU64,
    pub denied_key: AtomicU64,
    pub denied_channel: AtomicU64,
    /// acllog-max-len.
    pub log_max_len: AtomicU64,
    /// acl-pubsub-default is allchannels.
    pub pubsub_all: AtomicBool,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            epoch: AtomicU64::new(1),
            default_open: AtomicBool::new(true),
            log: Mutex::new(Log::default()),
            denied_auth: AtomicU64::new(0),
            denied_cmd: AtomicU64::new(0),
            denied_key: AtomicU64::new(0),
            denied_channel: AtomicU64::new(0),
            log_max_len: AtomicU64::new(128),
            pubsub_all: AtomicBool::new(false),
        }
    }
}

/// The reply text of a denial (Redis's getAclErrorMessage, not verbose unless asked).
pub fn denial_message(reason: Denied, user: &[u8], def: &CommandDef, object: &[u8], verbose: bool) -> String {
    let user = String::from_utf8_lossy(user);
    let object = String::from_utf8_lossy(object);
    match reason {
        Denied::Command | Denied::Auth => format!("User {user} has no permissions to run the '{}' command", def.name),
        Denied::Key if verbose => format!("User {user} has no permissions to access the '{object}' key"),
        Denied::Key => "No permissions to access a key".to_string(),
        Denied::Channel if verbose => format!("User {user} has no permissions to access the '{object}' channel"),
        Denied::Channel => "No permissions to access a channel".to_string(),
    }
}

impl Acl {
    pub fn allchannels_default(&self) -> bool {
        self.pubsub_all.load(Ordering::Relaxed)
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default").expect("the default user always exists")
    }

    /// Users in name order (Redis's rax order).
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    fn changed(&self) {
        let d = self.default_user();
        self.default_open.store(d.nopass && d.enabled, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// Install (create or replace) a user.
    pub fn put(&self, user: User) {
        self.users.write().insert(user.name.clone(), Arc::new(user));
        self.changed();
    }

    /// Remove users (never the default one); the number removed.
    pub fn remove(&self, names: &[&[u8]]) -> usize {
        let mut n = 0;
        {
            let mut users = self.users.write();
            for name in names {
                if users.remove(*name).is_some() {
                    n += 1;
                }
            }
        }
        self.changed();
        n
    }

    /// Replace every user at once (ACL LOAD, start-up); the default user is created if
    /// the set lacks it.
    pub fn replace_all(&self, mut set: BTreeMap<Vec<u8>, User>) {
        set.entry(b"default".to_vec()).or_insert_with(User::default_user);
        *self.users.write() = set.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        self.changed();
    }

    /// requirepass: the default user's password (Redis's ACLUpdateDefaultUserPassword).
    pub fn set_default_password(&self, pass: Option<&[u8]>) {
        let mut d = (*self.default_user()).clone();
        let all = self.allchannels_default();
        let _ = d.apply(b"resetpass", all);
        match pass {
            Some(p) => {
                let _ = d.apply(&[&b">"[..], p].concat(), all);
            }
            None => {
                let _ = d.apply(b"nopass", all);
            }
        }
        self.put(d);
    }

    /// Whether a client that has not authenticated must (Redis's authRequired).
    #[inline]
    pub fn auth_required(&self) -> bool {
        !self.default_open.load(Ordering::Relaxed)
    }

    /// The client's user, taking the registry's current rules if they changed. A client
    /// whose user was deleted falls back to the default user, unauthenticated (it is being
    /// disconnected, as Redis does).
    #[inline]
    pub fn user_of<'c>(&self, client: &'c mut Client) -> &'c Arc<User> {
        let e = self.epoch.load(Ordering::Acquire);
        if client.acl_epoch != e {
            self.refresh(client, e);
        }
        &client.user
    }

    #[cold]
    fn refresh(&self, client: &mut Client, epoch: u64) {
        match self.get(&client.user.name) {
            Some(u) => client.user = u,
            None => {
                client.user = self.default_user();
                client.authenticated = false;
                client.handle.info.lock().user = b"default".to_vec();
            }
        }
        client.acl_epoch = epoch;
    }

    /// Set the client's user after a successful authentication.
    pub fn login(&self, client: &mut Client, user: Arc<User>) {
        client.handle.info.lock().user = user.name.clone();
        client.user = user;
        client.acl_epoch = self.epoch.load(Ordering::Acquire);
        client.authenticated = true;
    }

    /// A `Client` made to run a command on a connection's behalf (a blocked command
    /// served): the connection's current user.
    pub fn adopt(&self, client: &mut Client) {
        let name = crate::server::client::user_of(&client.handle);
        client.user = self.get(&name).unwrap_or_else(|| self.default_user());
        client.acl_epoch = self.epoch.load(Ordering::Acquire);
    }

    /// A connection's initial state (Redis's clientSetDefaultAuth).
    pub fn start(&self, client: &mut Client) {
        let d = self.default_user();
        client.authenticated = d.nopass && d.enabled;
        client.handle.info.lock().user = b"default".to_vec();
        client.user = d;
        client.acl_epoch = self.epoch.load(Ordering::Acquire);
    }

    /// Check a username / password pair: the user, or None (logged as an auth denial with
    /// `object` the command name as typed).
    pub fn authenticate(&self, client: &Client, name: &[u8], pass: &[u8], object: &[u8]) -> Option<Arc<User>> {
        match self.get(name) {
            Some(u) if u.accepts(pass) => Some(u),
            _ => {
                let ctx = if client.multi.is_some() { Context::Multi } else { Context::Toplevel };
                self.log(Denied::Auth, ctx, object, name, shared_line(client));
                None
            }
        }
    }

    fn count(&self, reason: Denied) {
        let c = match reason {
            Denied::Auth => &self.denied_auth,
            Denied::Command => &self.denied_cmd,
            Denied::Key => &self.denied_key,
            Denied::Channel => &self.denied_channel,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Add an ACL LOG entry (Redis's addACLLogEntry): an entry like one of the last ten
    /// within a minute is counted in it and moves to the front.
    pub fn log(&self, reason: Denied, context: Context, object: &[u8], username: &[u8], cinfo: String) {
        self.count(reason);
        let now = crate::keyspace::now_ms();
        let max = self.log_max_len.load(Ordering::Relaxed) as usize;
        let mut log = self.log.lock();
        let found = log.entries.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && (e.ctime - now).abs() <= LOG_GROUPING_MS
                && e.object == object
                && e.username == username
        });
        if let Some(i) = found {
            let mut e = log.entries.remove(i).expect("found");
            e.cinfo = cinfo;
            e.ctime = now;
            e.count += 1;
            log.entries.push_front(e);
            return;
        }
        let entry_id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            ctime: now,
            cinfo,
            entry_id,
            created: now,
        });
        while log.entries.len() > max {
            log.entries.pop_back();
        }
    }

    /// The one permission check every path shares (Redis's ACLCheckAllPerm): None if the
    /// client's user may run the command on these keys and channels; else the denial,
    /// logged in `ctx` (ACL LOG, INFO's counters), with its not-verbose message.
    #[inline]
    pub fn refused(
        &self,
        client: &mut Client,
        def: &'static CommandDef,
        args: &[&[u8]],
        ctx: Context,
        cinfo: impl FnOnce(&Client) -> String,
    ) -> Option<(Denied, String)> {
        let (reason, pos) = self.user_of(client).check(def, args)?;
        Some((reason, self.deny(client, def, args, reason, pos, ctx, cinfo)))
    }

    /// The admission check (processCommand): -NOPERM and the denial.
    #[inline]
    pub fn check(
        &self,
        client: &mut Client,
        def: &'static CommandDef,
        args: &[&[u8]],
        cinfo: impl FnOnce(&Client) -> String,
    ) -> Result<(), Error> {
        let ctx = if client.multi.is_some() { Context::Multi } else { Context::Toplevel };
        match self.refused(client, def, args, ctx, cinfo) {
            None => Ok(()),
            Some((_, msg)) => Err(Error::msg(format!("NOPERM {msg}"))),
        }
    }

    /// Log a denial; its (not verbose) message.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn deny(
        &self,
        client: &Client,
        def: &'static CommandDef,
        args: &[&[u8]],
        reason: Denied,
        pos: usize,
        ctx: Context,
        cinfo: impl FnOnce(&Client) -> String,
    ) -> String {
        let object: &[u8] = match reason {
            Denied::Command | Denied::Auth => def.name.as_bytes(),
            _ => args.get(pos).copied().unwrap_or_default(),
        };
        self.log(reason, ctx, object, &client.user.name, cinfo(client));
        denial_message(reason, &client.user.name, def, object, false)
    }

    /// EXEC's check of a queued command (the user may have changed since it was queued):
    /// Redis's error text, or Ok.
    pub fn check_queued(&self, client: &mut Client, def: &'static CommandDef, args: &[&[u8]]) -> Result<(), String> {
        let Some((reason, _)) = self.refused(client, def, args, Context::Multi, shared_line) else { return Ok(()) };
        let why = match reason {
            Denied::Command | Denied::Auth => "no permission to execute the command or subcommand",
            Denied::Key => "no permission to touch the specified keys",
            Denied::Channel => "no permission to access one of the channels used as arguments",
        };
        Err(format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"
        ))
    }

    /// A script's check of a redis.call command: Redis's error text (without code), or Ok.
    pub fn check_script(&self, client: &mut Client, def: &'static CommandDef, args: &[&[u8]]) -> Result<(), String> {
        match self.refused(client, def, args, Context::Lua, shared_line) {
            None => Ok(()),
            Some((_, msg)) => Err(format!("ACL failure in script: {msg}")),
        }
    }

    /// ACL LOG [count]: the entries, newest first.
    pub fn write_log(&self, count: usize, out: &mut crate::resp::write::ReplyWriter) {
        let now = crate::keyspace::now_ms();
        let log = self.log.lock();
        let n = count.min(log.entries.len());
        out.array(n);
        for e in log.entries.iter().take(n) {
            out.map(10);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(match e.reason {
                Denied::Command => b"command",
                Denied::Key => b"key",
                Denied::Channel => b"channel",
                Denied::Auth => b"auth",
            });
            out.bulk(b"context");
            out.bulk(e.context.name().as_bytes());
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(&e.username);
            out.bulk(b"age-seconds");
            out.double((now - e.ctime) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(e.cinfo.as_bytes());
            out.bulk(b"entry-id");
            out.int(e.entry_id as i64);
            out.bulk(b"timestamp-created");
            out.int(e.created);
            out.bulk(b"timestamp-last-updated");
            out.int(e.ctime);
        }
    }

    pub fn reset_log(&self) {
        self.log.lock().entries.clear();
    }

    /// The `user ...` lines of every user (ACL SAVE, CONFIG REWRITE).
    pub fn lines(&self) -> Vec<Vec<u8>> {
        self.users()
            .iter()
            .map(|u| {
                let mut l = b"user ".to_vec();
                l.extend_from_slice(&u.name);
                l.push(b' ');
                l.extend_from_slice(&u.describe());
                l
            })
            .collect()
    }
}

/// The CLIENT LIST line of the connection as other threads see it (ACL LOG's client-info
/// where the running command's own view is not at hand).
pub fn shared_line(client: &Client) -> String {
    crate::server::client::describe(&client.handle, None)
}

/// Users from `user` config lines (`user <name> rules...`, validated when read:
/// `validate_line`), applied in order as Redis's ACLLoadConfiguredUsers: a repeated
/// default user is reset first.
pub fn users_from_lines(lines: &[Vec<String>], allchannels: bool) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let mut set: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    for line in lines {
        let name = line[0].as_bytes();
        if rules::has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let rules_: Vec<&[u8]> = line[1..].iter().map(|s| s.as_bytes()).collect();
        let merged = rules::merge_selectors(&rules_).map_err(|_| "Unmatched parenthesis".to_string())?;
        let mut u = if name == b"default" {
            let mut d = User::default_user();
            let _ = d.apply(b"reset", allchannels);
            d
        } else {
            User::new(name, allchannels)
        };
        for op in &merged {
            u.apply(op, allchannels).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(op),
                    line[0],
                    e.message()
                )
            })?;
        }
        set.insert(name.to_vec(), u);
    }
    Ok(set)
}

/// A `user` config line checked as Redis's ACLAppendUserForLoading does when reading the
/// file: Err((index of the bad argument, reason)).
pub fn validate_line(args: &[String], seen: &[Vec<String>]) -> Result<(), (usize, String)> {
    if seen.iter().any(|l| l[0] == args[0]) {
        return Err((1, rules::RuleError::Duplicate.message().to_string()));
    }
    let rules_: Vec<&[u8]> = args[1..].iter().map(|s| s.as_bytes()).collect();
    let merged = rules::merge_selectors(&rules_).map_err(|i| (i, "Syntax error".to_string()))?;
    let mut fake = User::new(b"__fakeuser__", false);
    for (j, op) in merged.iter().enumerate() {
        if let Err(e) = fake.apply(op, false) {
            if e != rules::RuleError::UnknownCommand {
                return Err((j, e.message().to_string()));
            }
        }
    }
    Ok(())
}

/// Read an ACL file (Redis's ACLLoadFromFile): the users, or the one-line error text
/// Redis gives (nothing is applied then).
pub fn load_file(path: &str, allchannels: bool) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {}", crate::server::config::strerror(&e)))?;
    let mut errors = String::new();
    let mut set: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!("{path}:{linenum} should start with user keyword followed by the username. "));
            continue;
        }
        let name = argv[1];
        if rules::has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if set.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, allchannels);
        let merged = match rules::merge_selectors(&argv[2..]) {
            Ok(m) => m,
            Err(_) => {
                errors.push_str(&format!("{path}:{linenum}: Unmatched parenthesis in selector definition."));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for op in &merged {
            let op = trim(op, b"\t\r\n");
            if let Err(e) = u.apply(op, allchannels) {
                if e == rules::RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{path}:{linenum}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.message()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{path}:{linenum}: {}. ", e.message()));
                    syntax_error = true;
                }
            }
        }
        set.insert(name.to_vec(), u);
    }
    if !errors.is_empty() {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        return Err(errors);
    }
    Ok(set)
}

fn trim<'a>(s: &'a [u8], chars: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|c| !chars.contains(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !chars.contains(c)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// ACL SAVE: write every user to `path` (temporary file, fsync, rename, as Redis).
pub fn save_file(acl: &Acl, path: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = Vec::new();
    for l in acl.lines() {
        text.extend_from_slice(&l);
        text.push(b'\n');
    }
    let tmp = format!("{path}.tmp-{}-{}", std::process::id(), crate::keyspace::now_ms());
    let res = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = std::path::Path::new(path).parent() {
            let dir = if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir };
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Users at start-up (Redis's ACLLoadUsersAtStartup): the config file's `user` lines or
/// the aclfile, not both; Err(the log line) aborts start-up.
pub fn load_at_startup(srv: &crate::server::Server) -> Result<(), String> {
    let (aclfile, lines) = {
        let cfg = srv.config.read();
        (cfg.str("aclfile").to_string(), cfg.users.clone())
    };
    if !aclfile.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let all = srv.acl.allchannels_default();
    let users =
        users_from_lines(&lines, all).map_err(|e| format!("{e}\nCritical error while loading ACLs. Exiting."))?;
    for (name, u) in users {
        if !u.enabled {
            crate::server::log::log(
                srv,
                &format!(
                    "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.",
                    String::from_utf8_lossy(&name)
                ),
            );
        }
        srv.acl.put(u);
    }
    if !aclfile.is_empty() {
        let set = load_file(&aclfile, all).map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        srv.acl.replace_all(set);
    }
    Ok(())
}
