//! Clients: the per-connection state a worker owns (`Client`), the part other threads may
//! read or act on (`ClientHandle`: CLIENT LIST, CLIENT KILL, idle timeouts), and the CLIENT
//! command.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{PauseMode, Server};
use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::keyspace::blocking::Waiter;
use crate::keyspace::now_ms;
use crate::resp::write::ReplyWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// CLIENT REPLY SKIP was just run: the next command's reply is dropped.
    SkipNext,
    Skip,
}

/// What other threads may see or change of a client.
pub struct ClientHandle {
    pub id: u64,
    /// The worker thread the connection lives on.
    pub worker: usize,
    pub addr: String,
    pub laddr: String,
    /// Connected through the Unix socket (CLIENT LIST flag U; a local client for DEBUG).
    pub unix: bool,
    pub fd: i32,
    pub created_ms: i64,
    pub last_interaction_ms: AtomicI64,
    pub killed: AtomicBool,
    pub kill_notify: tokio::sync::Notify,
    pub db: AtomicUsize,
    pub resp: AtomicUsize,
    /// The query buffer's unread bytes and free room (CLIENT LIST qbuf, qbuf-free) between
    /// batches (`Client::query_buf` while one runs).
    pub qbuf: AtomicU64,
    pub qbuf_free: AtomicU64,
    /// The reply buffer's allocation, as of the end of the last batch (CLIENT LIST tot-mem).
    pub reply_cap: AtomicU64,
    /// Reply bytes waiting for the socket (INFO client_recent_max_output_buffer, CLIENT LIST
    /// obl/oll/omem).
    pub writing: AtomicU64,
    /// The queued commands' argument bytes plus a pointer each, Redis's
    /// mstate.argv_len_sums (CLIENT LIST multi-mem; meaningful while `multi` >= 0).
    pub multi_mem: AtomicU64,
    /// Set by the cron for an idle connection whose buffers it should shrink.
    pub resize_due: AtomicBool,
    pub info: Mutex<SharedInfo>,
    /// The waiter while the client is blocked (for CLIENT UNBLOCK).
    pub blocked: Mutex<Option<Arc<Waiter>>>,
    /// A command of the client is held by CLIENT PAUSE (blocked too, for CLIENT LIST and
    /// INFO blocked_clients, as Redis counts it).
    pub paused: AtomicBool,
    /// Commands queued since MULTI, -1 outside a transaction (CLIENT LIST multi=).
    pub multi: AtomicI64,
    /// WATCH flags, for CLIENT LIST: a watched key was modified.
    pub cas: crate::keyspace::watch::CasFlag,
    /// Pub/Sub messages waiting to be written to this client.
    pub outbox: super::pubsub::Outbox,
    /// Subscriptions (channels, patterns, shard channels), for CLIENT LIST.
    pub sub_counts: [AtomicUsize; 3],
    /// In MONITOR mode, for CLIENT LIST.
    pub monitoring: AtomicBool,
    /// CLIENT TRACKING settings (server::tracking), and whether tracking is on (read
    /// without the lock on every command).
    pub tracking: Mutex<super::tracking::ClientTracking>,
    pub tracking_on: AtomicBool,
}

#[derive(Default, Clone)]
pub struct SharedInfo {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
    /// The ACL user's name (CLIENT LIST user=, CLIENT KILL USER); empty = default.
    pub user: Vec<u8>,
}

impl ClientHandle {
    /// Reply bytes not yet on the socket: Pub/Sub messages waiting, and the write under way.
    pub fn pending_output(&self) -> u64 {
        self.outbox.pending_bytes() as u64 + self.writing.load(Ordering::Relaxed)
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_notify.notify_one();
        // A connection waiting to read waits on its outbox's notification only.
        self.outbox.notify.notify_one();
    }
}

/// Connection-local state, owned by the worker serving the connection.
pub struct Client {
    pub id: u64,
    pub handle: Arc<ClientHandle>,
    pub worker: usize,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub no_touch: bool,
    pub no_evict: bool,
    /// Memory was over maxmemory with nothing left to evict when the client's last command
    /// was admitted (Redis's pre_command_oom_state): a script it runs refuses its first
    /// deny-oom command.
    pub oom: bool,
    pub close_after_reply: bool,
    pub last_command: &'static str,
    /// (last_command, no_evict, no_touch) as `publish` last stored them in `handle.info`.
    published: Option<(&'static str, bool, bool)>,
    /// Set by a blocking command that found nothing: the connection waits on it.
    pub blocked: Option<Arc<Waiter>>,
    /// Inside MULTI/EXEC or a script: blocking commands answer at once as if timed out.
    pub deny_blocking: bool,
    /// This is a re-execution of a blocked command on the client's behalf.
    pub serving: bool,
    /// A re-execution found nothing to serve after all.
    pub would_block: bool,
    /// Between MULTI and EXEC/DISCARD: the queued commands.
    pub multi: Option<crate::command::multi::Queued>,
    /// WATCHed keys, (db, key), and the flag their modification raises.
    pub watched: Vec<(usize, Vec<u8>)>,
    pub cas: crate::keyspace::watch::CasFlag,
    /// The client a script's redis.call commands run as (Redis's CLIENT_SCRIPT).
    pub in_script: bool,
    /// failed_calls the last handler's reply adds without returning an error: a script's
    /// error replies (`scripting::run_function`), counted as Redis's afterErrorReply does.
    pub reply_failures: u32,
    pub subs: super::pubsub::ClientSubs,
    /// In MONITOR mode.
    pub monitor: bool,
    /// The query buffer's length and free room as of the last read, for CLIENT LIST / INFO
    /// of the client itself (the handle's figures are those between batches).
    pub query_buf: (u64, u64),
    /// appendfsync always: the AOF ticket (`Sink::unit`) of the client's last write; its
    /// replies wait until the ticket is durable (`net`, `persist::aof::Aof::wait_durable`).
    pub aof_ticket: u64,
    /// The ACL user the client runs as, and the registry epoch it was taken at
    /// (`server::acl::Acl::user_of` takes the current rules when they changed).
    pub user: Arc<crate::server::acl::User>,
    pub acl_epoch: u64,
}

/// The user a client starts as until the registry's is taken (`Acl::start`).
fn placeholder_user() -> Arc<crate::server::acl::User> {
    static DEFAULT: std::sync::OnceLock<Arc<crate::server::acl::User>> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(crate::server::acl::User::default_user())).clone()
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, worker: usize) -> Client {
        let cas = handle.cas.clone();
        Client {
            id: handle.id,
            handle,
            worker,
            db: 0,
            resp3: false,
            authenticated: false,
            reply_mode: ReplyMode::On,
            no_touch: false,
            no_evict: false,
            oom: false,
            close_after_reply: false,
            last_command: "NULL",
            published: None,
            blocked: None,
            deny_blocking: false,
            serving: false,
            would_block: false,
            multi: None,
            watched: Vec::new(),
            cas,
            in_script: false,
            reply_failures: 0,
            subs: Default::default(),
            monitor: false,
            query_buf: (0, 0),
            aof_ticket: 0,
            user: placeholder_user(),
            acl_epoch: u64::MAX,
        }
    }

    /// Publish the fields CLIENT LIST shows that change per command (the locked ones only
    /// when they changed since the last time: a pipeline of one command takes no lock).
    pub fn publish(&mut self) {
        self.handle.db.store(self.db, Ordering::Relaxed);
        self.handle.resp.store(if self.resp3 { 3 } else { 2 }, Ordering::Relaxed);
        self.handle.last_interaction_ms.store(now_ms(), Ordering::Relaxed);
        let now = (self.last_command, self.no_evict, self.no_touch);
        if self.published != Some(now) {
            let mut info = self.handle.info.lock();
            (info.last_cmd, info.no_evict, info.no_touch) = now;
            self.published = Some(now);
        }
    }
}

/// Register a new connection: `id` is from `Server::next_client_id`, taken when it was
/// accepted.
pub fn register(srv: &Server, id: u64, peer: crate::net::Peer, worker: usize) -> Arc<ClientHandle> {
    let crate::net::Peer { addr, laddr, unix, fd } = peer;
    let h = Arc::new(ClientHandle {
        id,
        worker,
        addr,
        laddr,
        unix,
        fd,
        created_ms: now_ms(),
        last_interaction_ms: AtomicI64::new(now_ms()),
        killed: AtomicBool::new(false),
        kill_notify: tokio::sync::Notify::new(),
        db: AtomicUsize::new(0),
        resp: AtomicUsize::new(2),
        qbuf: AtomicU64::new(0),
        qbuf_free: AtomicU64::new(0),
        reply_cap: AtomicU64::new(0),
        writing: AtomicU64::new(0),
        multi_mem: AtomicU64::new(0),
        resize_due: AtomicBool::new(false),
        info: Mutex::new(SharedInfo { last_cmd: "NULL", ..Default::default() }),
        blocked: Mutex::new(None),
        paused: AtomicBool::new(false),
        multi: AtomicI64::new(-1),
        cas: Default::default(),
        outbox: Default::default(),
        sub_counts: Default::default(),
        monitoring: AtomicBool::new(false),
        tracking: Default::default(),
        tracking_on: AtomicBool::new(false),
    });
    srv.clients.lock().insert(id, h.clone());
    h
}

pub fn unregister(srv: &Server, id: u64) {
    srv.clients.lock().remove(&id);
}

/// Close clients idle for longer than `timeout` seconds (0 = never).
/// maxmemory-clients in bytes (Redis's getClientEvictionLimit): the value, or its
/// percentage of maxmemory (none without maxmemory), never under 128 KB; 0: no limit.
pub fn client_eviction_limit(maxmemory_clients: i64, maxmemory: u64) -> u64 {
    let bytes = if maxmemory_clients < 0 && maxmemory > 0 {
        (maxmemory as f64 * -(maxmemory_clients as f64) / 100.0) as u64
    } else if maxmemory_clients > 0 {
        maxmemory_clients as u64
    } else {
        return 0;
    };
    bytes.max(128 << 10)
}

/// Client eviction (maxmemory-clients, Redis's evictClients), from the cron: while the
/// clients use together at least the limit, close the biggest of those that may be evicted
/// (not CLIENT NO-EVICT), each logged as Redis logs it and counted in evicted_clients. Redis looks
/// before every command, with the clients kept in buckets of powers of two of their memory
/// (the biggest bucket first, in the order clients entered it); here each client's memory
/// is its CLIENT LIST tot-mem as of its last batch, looked at hz times a second, biggest
/// first.
pub fn evict_clients(srv: &Server) {
    let limit = {
        let cfg = srv.config.read();
        client_eviction_limit(cfg.int("maxmemory-clients"), cfg.int("maxmemory") as u64)
    };
    if limit == 0 {
        return;
    }
    // Every client's memory counts, CLIENT NO-EVICT ones' too (Redis's clientsCron
    // updates their usage in stat_clients_type_memory), but only the others may go.
    let mut total = 0;
    let mut candidates: Vec<(u64, Arc<ClientHandle>)> = Vec::new();
    for h in srv.clients.lock().values() {
        if h.killed.load(Ordering::Relaxed) {
            continue;
        }
        let mem = Memory::of(h, None).total;
        total += mem;
        if !h.info.lock().no_evict {
            candidates.push((mem, h.clone()));
        }
    }
    if total < limit {
        return;
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (mem, h) in &candidates {
        if total < limit {
            return;
        }
        super::log::log(srv, &format!("Evicting client: {}", describe(h, None)));
        // Counted before the close, which the client (and whoever it tells) may see at once.
        srv.stats.evicted_clients.add(srv.threads, 1);
        h.kill();
        total -= mem;
    }
    if total >= limit {
        super::log::log_at(srv, super::log::WARNING, "Over client maxmemory after evicting all evictable clients");
    }
}

pub fn close_idle_clients(srv: &Server) {
    let timeout = srv.timeout_secs.load(Ordering::Relaxed) as i64;
    if timeout == 0 {
        return;
    }
    let now = now_ms();
    for h in srv.clients.lock().values() {
        if now - h.last_interaction_ms.load(Ordering::Relaxed) > timeout * 1000 {
            h.kill();
        }
    }
}

/// Connections idle for more than 2 s whose buffers are bigger than an idle connection
/// needs are asked to shrink them (`net::resize_buffers`), as Redis's clientsCron resizes
/// the buffers of idle clients.
pub fn resize_idle_buffers(srv: &Server) {
    let now = now_ms();
    for h in srv.clients.lock().values() {
        let big = h.qbuf_free.load(Ordering::Relaxed) > 4096 || h.reply_cap.load(Ordering::Relaxed) > 1024;
        if big
            && now - h.last_interaction_ms.load(Ordering::Relaxed) > 2000
            && !h.resize_due.swap(true, Ordering::Relaxed)
        {
            // The connection waits on its outbox's notification between requests.
            h.outbox.notify.notify_one();
        }
    }
}

/// The client whose command is running CLIENT LIST or CLIENT INFO: what of it its handle
/// does not show.
pub(crate) struct Running<'a> {
    pub client: &'a Client,
    pub args: &'a [&'a [u8]],
    pub out: &'a ReplyWriter,
}

/// Redis's reply buffer before its reply list (CLIENT LIST rbs), and the size of a list
/// block (PROTO_REPLY_CHUNK_BYTES).
const REPLY_CHUNK: u64 = 16 * 1024;

/// The memory figures of a CLIENT LIST line, as Redis's catClientInfoString computes them.
struct Memory {
    qbuf: u64,
    qbuf_free: u64,
    argv: u64,
    multi: u64,
    /// The reply buffer's allocation (rbs; rbp too: we keep no peak).
    reply: u64,
    /// Bytes in the reply buffer, blocks of the reply list and their memory (obl, oll, omem).
    obl: u64,
    oll: u64,
    omem: u64,
    total: u64,
}

impl Memory {
    fn of(h: &ClientHandle, own: Option<&Running>) -> Memory {
        let sum = |args: &mut dyn Iterator<Item = usize>| args.fold((0, 0), |(n, len), a| (n + 1, len + a as u64));
        // The arguments of the command running: the client's own, or the one it is blocked
        // in (Redis frees a client's argv between commands).
        let (argc, argv) = match own {
            Some(r) => sum(&mut r.args.iter().map(|a| a.len())),
            None => h.blocked.lock().as_ref().map(|w| sum(&mut w.args.iter().map(|a| a.len()))).unwrap_or((0, 0)),
        };
        let multi = match own {
            Some(r) => r.client.multi.as_ref().map_or(0, |q| q.mem() as u64),
            None if h.multi.load(Ordering::Relaxed) >= 0 => h.multi_mem.load(Ordering::Relaxed),
            None => 0,
        };
        let pending = match own {
            Some(r) => r.out.pending() as u64 + h.outbox.pending_bytes() as u64,
            None => h.pending_output(),
        };
        // Redis fills its 16 KiB buffer, then 16 KiB blocks of a list (a list node and a
        // block header each) once it is full; a client that far behind has had its
        // buffer written, and what waits is in the list.
        let (obl, oll) = if pending <= REPLY_CHUNK { (pending, 0) } else { (0, pending.div_ceil(REPLY_CHUNK)) };
        let omem = oll * (REPLY_CHUNK + 40);
        let (qbuf, qfree) = match own {
            Some(r) => r.client.query_buf,
            None => (h.qbuf.load(Ordering::Relaxed), h.qbuf_free.load(Ordering::Relaxed)),
        };
        let reply = match own {
            Some(r) => r.out.buf.capacity() as u64,
            None => h.reply_cap.load(Ordering::Relaxed),
        };
        // The query buffer, the reply buffer (pending replies included: our reply list is
        // the same buffer), the arguments and a pointer each, the transaction, the client's
        // own structures, a dictionary entry per subscription.
        let subs: u64 = h.sub_counts.iter().map(|c| c.load(Ordering::Relaxed) as u64).sum();
        let structs = (std::mem::size_of::<Client>() + std::mem::size_of::<ClientHandle>()) as u64;
        let total = qbuf + qfree + reply + argv + 8 * argc + multi + structs + 24 * subs;
        Memory { qbuf, qbuf_free: qfree, argv, multi, reply, obl, oll, omem, total }
    }
}

/// One CLIENT LIST / CLIENT INFO line (Redis 7.2 field order).
pub(crate) fn describe(h: &ClientHandle, own: Option<&Running>) -> String {
    let now = now_ms();
    let info = h.info.lock().clone();
    // Redis's order of the flag letters.
    let multi = h.multi.load(Ordering::Relaxed);
    let subs: Vec<usize> = h.sub_counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let mut flags = String::new();
    for (on, letter) in [
        (h.monitoring.load(Ordering::Relaxed), 'O'),
        (subs.iter().sum::<usize>() > 0, 'P'),
        (multi >= 0, 'x'),
        (h.blocked.lock().is_some() || h.paused.load(Ordering::Relaxed), 'b'),
    ] {
        if on {
            flags.push(letter);
        }
    }
    super::tracking::list_flags(h, &mut flags);
    for (on, letter) in
        [(h.cas.load(Ordering::Relaxed), 'd'), (h.unix, 'U'), (info.no_evict, 'e'), (info.no_touch, 'T')]
    {
        if on {
            flags.push(letter);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let mem = Memory::of(h, own);
    let own = own.map(|r| r.client);
    let last_cmd = match own {
        Some(c) => c.last_command,
        None => info.last_cmd,
    };
    let db = own.map(|c| c.db).unwrap_or_else(|| h.db.load(Ordering::Relaxed));
    let resp = own.map(|c| if c.resp3 { 3 } else { 2 }).unwrap_or_else(|| h.resp.load(Ordering::Relaxed));
    let idle = if own.is_some() { 0 } else { (now - h.last_interaction_ms.load(Ordering::Relaxed)) / 1000 };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        h.fd,
        String::from_utf8_lossy(&info.name),
        (now - h.created_ms) / 1000,
        idle,
        flags,
        db,
        subs[0],
        subs[1],
        subs[2],
        multi,
        mem.qbuf,
        mem.qbuf_free,
        mem.argv,
        mem.multi,
        mem.reply,
        mem.reply,
        mem.obl,
        mem.oll,
        mem.omem,
        mem.total,
        last_cmd,
        String::from_utf8_lossy(if info.user.is_empty() { &b"default"[..] } else { &info.user }),
        super::tracking::redirect_of(h),
        resp,
        String::from_utf8_lossy(&info.lib_name),
        String::from_utf8_lossy(&info.lib_ver),
    )
}

pub fn id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

pub fn getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.handle.info.lock().name.clone();
    if name.is_empty() {
        ctx.out.nil();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// Names and lib-name/lib-ver may not contain spaces, newlines or other special characters.
fn valid_info_string(s: &[u8]) -> bool {
    s.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn set_name(client: &Client, name: &[u8]) -> Result<(), Error> {
    if !valid_info_string(name) {
        return Err(Error::msg("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    client.handle.info.lock().name = name.to_vec();
    Ok(())
}

pub fn setname(ctx: &mut Ctx) -> CmdResult {
    set_name(ctx.client, ctx.args[2])?;
    ctx.out.ok();
    Ok(())
}

pub fn setinfo(ctx: &mut Ctx) -> CmdResult {
    let attr = ctx.args[2];
    let value = ctx.args[3];
    let lib_name = eq(attr, "lib-name");
    if !lib_name && !eq(attr, "lib-ver") {
        return Err(Error::msg(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(attr))));
    }
    if !valid_info_string(value) {
        return Err(Error::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            if lib_name { "lib-name" } else { "lib-ver" }
        )));
    }
    let mut info = ctx.client.handle.info.lock();
    if lib_name {
        info.lib_name = value.to_vec();
    } else {
        info.lib_ver = value.to_vec();
    }
    drop(info);
    ctx.out.ok();
    Ok(())
}

/// Redis's client types (getClientTypeByName). No client is a master or a replica yet.
#[derive(Clone, Copy, PartialEq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    Pubsub,
}

impl ClientType {
    fn by_name(name: &[u8]) -> Result<ClientType, Error> {
        Ok(match () {
            _ if eq(name, "normal") => ClientType::Normal,
            _ if eq(name, "slave") || eq(name, "replica") => ClientType::Replica,
            _ if eq(name, "master") => ClientType::Master,
            _ if eq(name, "pubsub") => ClientType::Pubsub,
            _ => return Err(Error::msg(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(name)))),
        })
    }

    /// Redis's getClientType: a client with subscriptions is a pubsub client (a MONITOR
    /// client is a normal one).
    fn of(h: &ClientHandle) -> ClientType {
        if h.sub_counts.iter().any(|c| c.load(Ordering::Relaxed) > 0) {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }
}

/// CLIENT LIST [TYPE type | ID id [id ...]], parsed as Redis does: the ids are listed in
/// the order given (a repeated one twice; ids no client has, 0 and negative ones among
/// them, list nothing).
pub fn list(ctx: &mut Ctx) -> CmdResult {
    enum Which {
        All(Option<ClientType>),
        Ids(Vec<i64>),
    }
    let which = match &ctx.args[2..] {
        [] => Which::All(None),
        [t, name] if eq(t, "type") => Which::All(Some(ClientType::by_name(name)?)),
        [i, ids @ ..] if eq(i, "id") && !ids.is_empty() => Which::Ids(
            ids.iter()
                .map(|a| crate::util::number::parse_i64(a).ok_or_else(|| Error::msg("ERR Invalid client ID")))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(err::SYNTAX),
    };
    ctx.client.publish();
    let handles: Vec<Arc<ClientHandle>> = {
        let reg = ctx.srv.clients.lock();
        match which {
            Which::All(ty) => {
                let mut v: Vec<_> =
                    reg.values().filter(|h| ty.is_none_or(|t| ClientType::of(h) == t)).cloned().collect();
                v.sort_by_key(|h| h.id);
                v
            }
            Which::Ids(ids) => ids.iter().filter_map(|&id| reg.get(&(id as u64))).cloned().collect(),
        }
    };
    let mut text = String::new();
    for h in handles {
        let own = (h.id == ctx.client.id).then_some(Running { client: ctx.client, args: ctx.args, out: ctx.out });
        text.push_str(&describe(&h, own.as_ref()));
        text.push('\n');
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

pub fn info(ctx: &mut Ctx) -> CmdResult {
    let own = Running { client: ctx.client, args: ctx.args, out: ctx.out };
    let mut line = describe(&ctx.client.handle, Some(&own));
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
    Ok(())
}

pub fn kill(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    // Old form: CLIENT KILL addr:port
    if args.len() == 1 {
        let addr = String::from_utf8_lossy(args[0]).into_owned();
        let target = ctx.srv.clients.lock().values().find(|h| h.addr == addr).cloned();
        return match target {
            Some(h) => {
                kill_handle(ctx, &h);
                ctx.out.ok();
                Ok(())
            }
            None => Err(Error::msg("ERR No such client")),
        };
    }
    if !args.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    let mut by_id = None;
    let mut by_addr = None;
    let mut by_laddr = None;
    let mut skipme = true;
    let mut by_type = None;
    let mut by_user: Option<Vec<u8>> = None;
    for pair in args.chunks(2) {
        let (k, v) = (pair[0], pair[1]);
        if eq(k, "id") {
            let n = crate::util::number::parse_i64(v)
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::msg("ERR client-id should be greater than 0"))?;
            by_id = Some(n as u64);
        } else if eq(k, "addr") {
            by_addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if eq(k, "laddr") {
            by_laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if eq(k, "type") {
            by_type = Some(ClientType::by_name(v)?);
        } else if eq(k, "user") {
            if ctx.srv.acl.get(v).is_none() {
                return Err(Error::msg(format!("ERR No such user '{}'", String::from_utf8_lossy(v))));
            }
            by_user = Some(v.to_vec());
        } else if eq(k, "skipme") {
            if eq(v, "yes") {
                skipme = true;
            } else if eq(v, "no") {
                skipme = false;
            } else {
                return Err(err::SYNTAX);
            }
        } else {
            return Err(err::SYNTAX);
        }
    }
    let targets: Vec<Arc<ClientHandle>> = ctx
        .srv
        .clients
        .lock()
        .values()
        .filter(|h| by_id.is_none_or(|id| h.id == id))
        .filter(|h| by_addr.as_ref().is_none_or(|a| &h.addr == a))
        .filter(|h| by_laddr.as_ref().is_none_or(|a| &h.laddr == a))
        .filter(|h| by_type.is_none_or(|t| ClientType::of(h) == t))
        .filter(|h| by_user.as_ref().is_none_or(|u| user_of(h) == *u))
        .filter(|h| !(skipme && h.id == ctx.client.id))
        .cloned()
        .collect();
    for h in &targets {
        kill_handle(ctx, h);
    }
    ctx.out.int(targets.len() as i64);
    Ok(())
}

/// The ACL user a connection runs as.
pub fn user_of(h: &ClientHandle) -> Vec<u8> {
    let u = h.info.lock().user.clone();
    if u.is_empty() {
        b"default".to_vec()
    } else {
        u
    }
}

/// Close a connection: at once, or after its reply for the one running the command.
pub fn kill_handle(ctx: &mut Ctx, h: &ClientHandle) {
    if h.id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        h.kill();
    }
}

pub fn reply(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args[2];
    if eq(a, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq(a, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if eq(a, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(err::SYNTAX);
    }
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, Error> {
    if eq(arg, "on") {
        Ok(true)
    } else if eq(arg, "off") {
        Ok(false)
    } else {
        Err(err::SYNTAX)
    }
}

pub fn no_evict(ctx: &mut Ctx) -> CmdResult {
    ctx.client.no_evict = on_off(ctx.args[2])?;
    ctx.out.ok();
    Ok(())
}

pub fn no_touch(ctx: &mut Ctx) -> CmdResult {
    ctx.client.no_touch = on_off(ctx.args[2])?;
    ctx.out.ok();
    Ok(())
}

pub fn pause(ctx: &mut Ctx) -> CmdResult {
    let ms = int(ctx.args[2]).map_err(|_| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let mode = match ctx.args.get(3) {
        None => PauseMode::All,
        Some(a) if eq(a, "all") => PauseMode::All,
        Some(a) if eq(a, "write") => PauseMode::Write,
        Some(_) => return Err(Error::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let until = now_ms().saturating_add(ms);
    let srv = ctx.srv;
    let mut cur_mode = srv.pause_mode.lock();
    let cur_until = srv.pause_until_ms.load(Ordering::Relaxed);
    // A new pause never shortens or weakens one in force (Redis keeps the stronger/longer).
    if cur_until > now_ms() {
        if mode == PauseMode::All {
            *cur_mode = PauseMode::All;
        }
        srv.pause_until_ms.store(cur_until.max(until), Ordering::Relaxed);
    } else {
        *cur_mode = mode;
        srv.pause_until_ms.store(until, Ordering::Relaxed);
    }
    drop(cur_mode);
    srv.pause_changed.notify_waiters();
    ctx.out.ok();
    Ok(())
}

pub fn unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.pause_until_ms.store(0, Ordering::Relaxed);
    ctx.srv.pause_changed.notify_waiters();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
pub fn unblock(ctx: &mut Ctx) -> CmdResult {
    let id = int(ctx.args[2])?;
    let error = match ctx.args.get(3) {
        None => false,
        Some(a) if eq(a, "timeout") => false,
        Some(a) if eq(a, "error") => true,
        Some(_) => return Err(Error::msg("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let done = id > 0 && crate::command::blocking::unblock(ctx.srv, id as u64, error);
    ctx.out.int(done as i64);
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    super::conn::help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}
