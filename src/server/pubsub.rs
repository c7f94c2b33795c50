//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH,
//! PUBSUB (Redis's pubsub.c).
//!
//! Delivery: every client has a push buffer in its `ClientHandle` (`Outbox`). PUBLISH
//! encodes the message once per protocol and appends it to each receiver's outbox, then
//! wakes the receiver's connection task, which writes the outbox to its socket. A message for
//! the publishing client itself (RESP3) follows PUBLISH's own reply, as in Redis 7.2
//! (`Outbox::late`). An outbox that grows past the pubsub class of
//! client-output-buffer-limit (hard limit, or soft limit for longer than its seconds) gets
//! its client disconnected, so a slow subscriber cannot take the server's memory.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::client::{Client, ClientHandle};
use super::Server;
use crate::command::{CmdResult, Ctx, Error};
use crate::resp::write::ReplyWriter;
use crate::util::glob::glob_match;

/// Pushed bytes waiting for a client's connection task.
#[derive(Default)]
pub struct Outbox {
    pub buf: Mutex<Vec<u8>>,
    /// Pushes that must follow the reply of the command that caused them: what a client's
    /// own command sends it (its keyspace events, a PUBLISH to itself, then its tracking
    /// invalidations), after the whole EXEC or EVAL reply, as in Redis 7.2, which keeps them
    /// in pending_push_messages until the command is done. `buf` goes before the reply.
    pub late: Mutex<Vec<u8>>,
    /// Pushes from other clients that arrived after the running command registered a
    /// subscription or BCAST prefix (`split_here`): they follow its reply.
    after: Mutex<Vec<u8>>,
    /// Set (under `buf`'s lock) by `split_here` until the command's pushes are drained.
    split: AtomicBool,
    /// Bumped (under `buf`'s lock) after the client left channels or patterns: a publisher
    /// that found it subscribed before then checks again before delivering (`deliver`).
    unsubs: std::sync::atomic::AtomicU64,
    pub notify: tokio::sync::Notify,
    /// When the buffer first went over the soft limit (unix ms), 0 if it is under.
    pub soft_since_ms: AtomicI64,
    /// Dropped for exceeding the output buffer limit.
    pub overflowed: AtomicBool,
    /// Something is in `buf` (lets the connection skip the lock when nothing is).
    pub pending: AtomicBool,
}

impl Outbox {
    /// Move what was pushed to this client into its reply buffer, after the replies
    /// already there.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        self.drain_around(out, out.len());
    }

    /// Bytes waiting to be written (INFO client_recent_max_output_buffer).
    pub fn pending_bytes(&self) -> usize {
        self.buf.lock().len() + self.late.lock().len() + self.after.lock().len()
    }

    /// The client has just left channels or patterns (removed from the registries).
    fn note_unsubscribed(&self) {
        let _b = self.buf.lock();
        self.unsubs.fetch_add(1, Ordering::Relaxed);
    }

    /// The running command is about to register something that makes other clients push
    /// to this one (a subscription, a BCAST prefix): what they push from now on follows the
    /// command's reply, as in Redis, where no push can come between the two.
    pub fn split_here(&self) {
        let _b = self.buf.lock();
        self.split.store(true, Ordering::Relaxed);
        // So that the drain after the command runs (and ends the split).
        self.pending.store(true, Ordering::Release);
    }

    /// After a command whose reply starts at `mark` in `out`: what other clients pushed to
    /// this one goes before the reply, its own command's `late` pushes after it, and then
    /// what arrived after the command's `split_here`.
    pub fn drain_around(&self, out: &mut Vec<u8>, mark: usize) {
        // A plain load first: this runs around every command.
        if !(self.pending.load(Ordering::Acquire) && self.pending.swap(false, Ordering::AcqRel)) {
            return;
        }
        let after = {
            let mut pushed = self.buf.lock();
            if !pushed.is_empty() {
                out.splice(mark..mark, pushed.drain(..));
            }
            if self.split.swap(false, Ordering::Relaxed) {
                std::mem::take(&mut *self.after.lock())
            } else {
                Vec::new()
            }
        };
        let mut late = self.late.lock();
        if !late.is_empty() {
            out.extend_from_slice(&late);
            late.clear();
        }
        out.extend_from_slice(&after);
        self.soft_since_ms.store(0, Ordering::Relaxed);
    }
}

/// The three kinds of subscription.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// Per name, its subscribers, each with the number of its subscription (`PubSub::next`):
/// leaving and joining again makes a new one.
type Subscribers = HashMap<Vec<u8>, Vec<(Arc<ClientHandle>, u64)>>;

#[derive(Default)]
pub struct PubSub {
    channels: Mutex<Subscribers>,
    patterns: Mutex<Subscribers>,
    shard_channels: Mutex<Subscribers>,
    next: std::sync::atomic::AtomicU64,
}

impl PubSub {
    fn table(&self, kind: Kind) -> &Mutex<Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// (channels with subscribers, patterns, shard channels) for INFO.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.lock().len(), self.patterns.lock().len(), self.shard_channels.lock().len())
    }
}

/// The subscriptions of one client.
#[derive(Default)]
pub struct ClientSubs {
    pub channels: HashSet<Vec<u8>>,
    /// In subscription order: Redis keeps a client's patterns in a list, so PUNSUBSCRIBE
    /// without arguments answers in that order.
    pub patterns: Vec<Vec<u8>>,
    pub shard: HashSet<Vec<u8>>,
}

impl ClientSubs {
    fn insert(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.insert(name.to_vec()),
            Kind::Shard => self.shard.insert(name.to_vec()),
            Kind::Pattern => {
                let new = !self.patterns.iter().any(|p| p == name);
                if new {
                    self.patterns.push(name.to_vec());
                }
                new
            }
        }
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.remove(name),
            Kind::Shard => self.shard.remove(name),
            Kind::Pattern => {
                let before = self.patterns.len();
                self.patterns.retain(|p| p != name);
                before != self.patterns.len()
            }
        }
    }

    fn names(&self, kind: Kind) -> Vec<Vec<u8>> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Shard => self.shard.iter().cloned().collect(),
            Kind::Pattern => self.patterns.clone(),
        }
    }

    /// The count Redis reports after (un)subscribing: channels + patterns, or shard channels.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }
}

fn publish_counts(c: &Client) {
    let s = &c.subs;
    let h = &c.handle.sub_counts;
    h[0].store(s.channels.len(), Ordering::Relaxed);
    h[1].store(s.patterns.len(), Ordering::Relaxed);
    h[2].store(s.shard.len(), Ordering::Relaxed);
}

/// The header of a push message: `>n` under RESP3, `*n` under RESP2.
fn push_header(out: &mut ReplyWriter, n: usize) {
    if out.resp3 {
        out.push(n);
    } else {
        out.array(n);
    }
}

fn confirm(out: &mut ReplyWriter, word: &[u8], name: Option<&[u8]>, count: usize) {
    push_header(out, 3);
    out.bulk(word);
    match name {
        Some(n) => out.bulk(n),
        None => out.nil(),
    }
    out.int(count as i64);
}

fn subscribe(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let ps = &ctx.srv.pubsub;
    let start = ctx.out.buf.len();
    ctx.client.handle.outbox.split_here();
    for name in &ctx.args[1..] {
        if ctx.client.subs.insert(kind, name) {
            let n = ps.next.fetch_add(1, Ordering::Relaxed);
            ps.table(kind).lock().entry(name.to_vec()).or_default().push((ctx.client.handle.clone(), n));
        }
        let n = ctx.client.subs.count(kind);
        confirm(ctx.out, kind.subscribe_word(), Some(name), n);
    }
    ctx.out.pushed_from(start);
    publish_counts(ctx.client);
    Ok(())
}

fn remove(ps: &PubSub, kind: Kind, name: &[u8], id: u64) {
    let mut t = ps.table(kind).lock();
    if let Some(list) = t.get_mut(name) {
        list.retain(|(h, _)| h.id != id);
        if list.is_empty() {
            t.remove(name);
        }
    }
}

fn unsubscribe(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let ps = &ctx.srv.pubsub;
    let id = ctx.client.id;
    let start = ctx.out.buf.len();
    let names: Vec<Vec<u8>> = if ctx.args.len() > 1 {
        ctx.args[1..].iter().map(|a| a.to_vec()).collect()
    } else {
        ctx.client.subs.names(kind)
    };
    if names.is_empty() {
        let n = ctx.client.subs.count(kind);
        confirm(ctx.out, kind.unsubscribe_word(), None, n);
    }
    for name in names {
        if ctx.client.subs.remove(kind, &name) {
            remove(ps, kind, &name, id);
        }
        let n = ctx.client.subs.count(kind);
        confirm(ctx.out, kind.unsubscribe_word(), Some(&name), n);
    }
    ctx.out.pushed_from(start);
    ctx.client.handle.outbox.note_unsubscribed();
    publish_counts(ctx.client);
    Ok(())
}

/// Drop every subscription of a client (disconnection, RESET).
pub fn unsubscribe_all(srv: &Server, client: &mut Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in client.subs.names(kind) {
            client.subs.remove(kind, &name);
            remove(&srv.pubsub, kind, &name, client.id);
        }
    }
    publish_counts(client);
}

pub fn subscribe_cmd(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Channel)
}
pub fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Pattern)
}
pub fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Shard)
}
pub fn unsubscribe_cmd(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Channel)
}
pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Pattern)
}
pub fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Shard)
}

/// The message as one protocol encodes it.
fn encode(resp3: bool, words: &[&[u8]]) -> Vec<u8> {
    let mut w = ReplyWriter::with_capacity(64 + words.iter().map(|x| x.len()).sum::<usize>(), resp3);
    push_header(&mut w, words.len());
    for x in words {
        w.bulk(x);
    }
    w.buf
}

/// The client whose command publishes, when there is one: a message for itself follows
/// the command's reply (`Outbox::late`).
pub type Own = Option<u64>;

/// A receiver as a publisher found it in a registry: its subscription's number, and its
/// `Outbox::unsubs` then.
type Found = (Arc<ClientHandle>, u64, u64);

/// The receivers registered under `name` (with the registry's lock held, so that
/// `unsubs` is read before any later unsubscription).
fn found(t: &Subscribers, name: &[u8]) -> Vec<Found> {
    t.get(name).map_or_else(Vec::new, |l| {
        l.iter().map(|(h, n)| (h.clone(), *n, h.outbox.unsubs.load(Ordering::Relaxed))).collect()
    })
}

/// Deliver to one receiver found under `name` of `kind` (`cache`: the message encoded once
/// per protocol). False if it left that channel or pattern in the meantime: in Redis no
/// message can follow the confirmation of an UNSUBSCRIBE.
fn deliver(
    srv: &Server,
    own: Own,
    (h, sub, unsubs): &Found,
    kind: Kind,
    name: &[u8],
    words: &[&[u8]],
    cache: &mut [Option<Vec<u8>>; 2],
) -> bool {
    let resp3 = h.resp.load(Ordering::Relaxed) == 3;
    let bytes = cache[resp3 as usize].get_or_insert_with(|| encode(resp3, words));
    // Only after an unsubscription since the lookup (rare): is the same subscription
    // still there (not left, nor left and made again)?
    append(srv, h, bytes, own == Some(h.id), || {
        h.outbox.unsubs.load(Ordering::Relaxed) == *unsubs
            || srv.pubsub.table(kind).lock().get(name).is_some_and(|l| l.iter().any(|(x, n)| x.id == h.id && n == sub))
    })
}

/// PUBLISH / SPUBLISH and keyspace notifications: deliver to the channel's subscribers and
/// (not for shard channels) to matching patterns. Returns the number of receivers.
fn publish_all(srv: &Server, shard: bool, channel: &[u8], message: &[u8], own: Own) -> usize {
    let mut receivers = 0;
    let kind = if shard { Kind::Shard } else { Kind::Channel };
    let word: &[u8] = if shard { b"smessage" } else { b"message" };
    let subs = found(&srv.pubsub.table(kind).lock(), channel);
    let mut cache = [None, None];
    for h in &subs {
        receivers += deliver(srv, own, h, kind, channel, &[word, channel, message], &mut cache) as usize;
    }
    if shard {
        return receivers;
    }
    let matching: Vec<(Vec<u8>, Vec<Found>)> = {
        let pats = srv.pubsub.patterns.lock();
        pats.iter().filter(|(p, _)| glob_match(p, channel, false)).map(|(p, _)| (p.clone(), found(&pats, p))).collect()
    };
    for (pattern, list) in &matching {
        let mut cache = [None, None];
        for h in list {
            let words: [&[u8]; 4] = [b"pmessage", pattern, channel, message];
            receivers += deliver(srv, own, h, Kind::Pattern, pattern, &words, &mut cache) as usize;
        }
    }
    receivers
}

/// A client went over its class's output buffer limit: close it (Redis's
/// closeClientOnOutputBufferLimitReached), gone for publishers at once.
pub fn drop_over_limit(srv: &Server, h: &ClientHandle) {
    if h.outbox.overflowed.swap(true, Ordering::Relaxed) {
        return;
    }
    srv.stats.output_buffer_disconnections.add(0, 1);
    h.outbox.buf.lock().clear();
    h.outbox.late.lock().clear();
    h.outbox.after.lock().clear();
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let mut t = srv.pubsub.table(kind).lock();
        t.retain(|_, list| {
            list.retain(|(x, _)| x.id != h.id);
            !list.is_empty()
        });
    }
    // Redis's warning, with the client's CLIENT LIST line.
    crate::server::log::log_at(
        srv,
        3,
        &format!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            super::client::describe(h, None)
        ),
    );
    h.kill();
}

/// Append pushed bytes to a client's outbox, enforcing its class's output buffer limits.
pub fn push_to(srv: &Server, h: &Arc<ClientHandle>, bytes: &[u8]) {
    push_to_outbox(srv, h, bytes, false);
}

/// `push_to`, into the pushes that follow the current command's reply when `late`.
pub fn push_to_outbox(srv: &Server, h: &Arc<ClientHandle>, bytes: &[u8], late: bool) {
    append(srv, h, bytes, late, || true);
}

/// Append to an outbox if `still()` (asked with the outbox locked) says so; whether it was.
pub(crate) fn append(
    srv: &Server,
    h: &Arc<ClientHandle>,
    bytes: &[u8],
    late: bool,
    still: impl FnOnce() -> bool,
) -> bool {
    if h.outbox.overflowed.load(Ordering::Relaxed) {
        return true;
    }
    let (hard, soft, soft_secs) = srv.output_limits(h);
    // (The limit counts the buffer appended to: `late` only ever holds a client's own few
    // invalidations.)
    // `pending` is raised with the buffer still locked: a drain that finds it down has
    // nothing to miss (the command draining after an UNSUBSCRIBE must see every message
    // appended before its unsubscription took effect).
    let mark_pending = || !h.outbox.pending.swap(true, Ordering::AcqRel);
    let (len, first) = {
        if late {
            let mut b = h.outbox.late.lock();
            b.extend_from_slice(bytes);
            (b.len() as u64, mark_pending())
        } else {
            let mut b = h.outbox.buf.lock();
            if !still() {
                return false;
            }
            if h.outbox.split.load(Ordering::Relaxed) {
                let mut a = h.outbox.after.lock();
                a.extend_from_slice(bytes);
                ((a.len() + b.len()) as u64, mark_pending())
            } else {
                b.extend_from_slice(bytes);
                (b.len() as u64, mark_pending())
            }
        }
    };
    let now = crate::keyspace::now_ms();
    let over_hard = hard > 0 && len > hard;
    let over_soft = soft > 0 && len > soft && {
        let since = h.outbox.soft_since_ms.load(Ordering::Relaxed);
        if since == 0 {
            h.outbox.soft_since_ms.store(now, Ordering::Relaxed);
            false
        } else {
            now - since >= soft_secs * 1000
        }
    };
    if over_hard || over_soft {
        drop_over_limit(srv, h);
        return true;
    }
    // Wake the connection task only when the outbox turns non-empty: a burst of messages
    // costs one wake-up, not one each.
    if first {
        match srv.worker_wakes.get(h.worker) {
            Some(w) if WorkerWakes::current() != Some(h.worker) => w.push(h),
            _ => h.outbox.notify.notify_one(),
        }
    }
    true
}

thread_local! {
    /// The worker index of this thread (None off the workers).
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Receivers (on one worker) that other threads pushed to. Waking a task of another
/// worker's runtime from outside costs a write to its event fd and an extra turn of its
/// event loop; instead the worker wakes them itself, after each batch it runs and before it
/// sleeps (tokio's park hook; a task woken there keeps the runtime from sleeping). Only a
/// worker that is asleep (or on its way) is woken from outside. The pusher adds to the list,
/// then reads `parked`; the worker sets `parked`, then takes the list: with both in SeqCst
/// order, at least one of them sees the other, so no push is left waiting.
#[derive(Default)]
pub struct WorkerWakes {
    list: Mutex<Vec<Arc<ClientHandle>>>,
    any: AtomicBool,
    parked: AtomicBool,
}

impl WorkerWakes {
    /// This thread is worker `w`.
    pub fn enter(w: usize) {
        WORKER.with(|c| c.set(Some(w)));
    }

    pub fn current() -> Option<usize> {
        WORKER.with(|c| c.get())
    }

    /// This thread is a worker.
    pub fn on_worker() -> bool {
        Self::current().is_some()
    }

    fn push(&self, h: &Arc<ClientHandle>) {
        self.list.lock().push(h.clone());
        self.any.store(true, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            h.outbox.notify.notify_one();
        }
    }

    /// On the worker: wake the receivers pushed to since the last time.
    pub fn wake_pushed(&self) {
        if !self.any.load(Ordering::SeqCst) {
            return;
        }
        let list = {
            let mut l = self.list.lock();
            self.any.store(false, Ordering::SeqCst);
            std::mem::take(&mut *l)
        };
        for h in list {
            h.outbox.notify.notify_one();
        }
    }

    /// The worker is about to sleep.
    pub fn parking(&self) {
        self.parked.store(true, Ordering::SeqCst);
        self.wake_pushed();
    }

    /// The worker is awake.
    pub fn awake(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }
}

fn publish_generic(ctx: &mut Ctx, shard: bool) -> CmdResult {
    let (channel, message) = (ctx.args[1], ctx.args[2]);
    let n = publish_all(ctx.srv, shard, channel, message, Some(ctx.client.id));
    ctx.out.int(n as i64);
    Ok(())
}

/// Publish `message` on `channel` from Rust code (no publishing client), to channel and
/// pattern subscribers, as PUBLISH does (keyspace notifications). Returns the receivers.
pub(crate) fn publish_internal(srv: &Server, channel: &[u8], message: &[u8], own: Own) -> usize {
    publish_all(srv, false, channel, message, own)
}

pub fn publish(ctx: &mut Ctx) -> CmdResult {
    publish_generic(ctx, false)
}

pub fn spublish(ctx: &mut Ctx) -> CmdResult {
    publish_generic(ctx, true)
}

fn channels_list(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let pattern = ctx.args.get(2).copied();
    if ctx.args.len() > 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    let names: Vec<Vec<u8>> = ctx
        .srv
        .pubsub
        .table(kind)
        .lock()
        .keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    ctx.out.bulks(names.iter());
    Ok(())
}

fn numsub(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let t = ctx.srv.pubsub.table(kind).lock();
    let counts: Vec<(Vec<u8>, usize)> =
        ctx.args[2..].iter().map(|c| (c.to_vec(), t.get(*c).map_or(0, |l| l.len()))).collect();
    drop(t);
    ctx.out.array(counts.len() * 2);
    for (c, n) in counts {
        ctx.out.bulk(&c);
        ctx.out.int(n as i64);
    }
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    channels_list(ctx, Kind::Channel)
}
pub fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    channels_list(ctx, Kind::Shard)
}
pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    numsub(ctx, Kind::Channel)
}
pub fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    numsub(ctx, Kind::Shard)
}
pub fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.pubsub.patterns.lock().len();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

/// RESP2 subscribed mode: what may run, and the error for the rest.
pub fn check_subscribed_mode(client: &Client, name: &str) -> Result<(), Error> {
    if client.resp3 || client.subs.total() == 0 {
        return Ok(());
    }
    match name {
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe" | "sunsubscribe" | "ping"
        | "quit" | "reset" => Ok(()),
        _ => Err(Error::msg(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ))),
    }
}

/// PING in RESP2 subscribed mode answers ["pong", arg or ""].
pub fn subscribed_ping(ctx: &mut Ctx) -> bool {
    if ctx.client.resp3 || ctx.client.subs.total() == 0 {
        return false;
    }
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out.bulk(ctx.args.get(1).copied().unwrap_or(b""));
    true
}

// ---------------------------------------------------------------- MONITOR

/// Clients in MONITOR mode (they receive every executed command through their outbox).
#[derive(Default)]
pub struct Monitors {
    pub list: Mutex<Vec<Arc<ClientHandle>>>,
    pub count: std::sync::atomic::AtomicUsize,
}

pub fn monitor(ctx: &mut Ctx) -> CmdResult {
    let m = &ctx.srv.monitors;
    let mut list = m.list.lock();
    if !list.iter().any(|h| h.id == ctx.client.id) {
        list.push(ctx.client.handle.clone());
        m.count.store(list.len(), Ordering::Release);
    }
    ctx.client.monitor = true;
    ctx.client.handle.monitoring.store(true, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Stop monitoring (disconnection, RESET).
pub fn unmonitor(srv: &Server, client: &mut Client) {
    if client.monitor {
        let mut list = srv.monitors.list.lock();
        list.retain(|h| h.id != client.id);
        srv.monitors.count.store(list.len(), Ordering::Release);
        client.monitor = false;
        client.handle.monitoring.store(false, Ordering::Relaxed);
    }
}

/// sdscatrepr: a double-quoted, escaped copy of `s`.
pub(crate) fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Feed an executed command to the monitors (Redis's replicationFeedMonitors): one status
/// line "+<unix seconds>.<micros> [<db> <addr>] "arg" ...".
pub fn feed_monitors(
    srv: &Server,
    cmd: &crate::command::table::Command,
    db: usize,
    addr: &str,
    args: &[&[u8]],
    from: u64,
) {
    use crate::command::spec::flags;
    if cmd.def.has(flags::SKIP_MONITOR) || cmd.def.has(flags::ADMIN) {
        return;
    }
    feed_line(srv, db, addr, args, from);
}

/// The monitor line itself (EVAL and FCALL call this before running, so their line comes
/// before the lines of the commands the script calls, as in Redis).
pub fn feed_line(srv: &Server, db: usize, addr: &str, args: &[&[u8]], from: u64) {
    if srv.monitors.count.load(Ordering::Relaxed) == 0 {
        return;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut line = format!("+{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), db, addr).into_bytes();
    for (i, a) in args.iter().enumerate() {
        line.push(b' ');
        if super::slowlog::redacted(args, i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    let list: Vec<Arc<ClientHandle>> = srv.monitors.list.lock().clone();
    for h in list {
        if h.id != from {
            push_to(srv, &h, &line);
        }
    }
}

/// ACL SETUSER took channels away from `user`: close its subscribers holding a channel,
/// pattern or shard channel `allowed` no longer permits (Redis's
/// ACLKillPubsubClientsIfNeeded; a pattern subscription must be allowed literally).
pub fn disconnect_revoked(srv: &Server, user: &[u8], allowed: &[Vec<u8>]) {
    let mut doomed: Vec<Arc<ClientHandle>> = Vec::new();
    for kind in [Kind::Pattern, Kind::Channel, Kind::Shard] {
        let pattern = kind == Kind::Pattern;
        for (name, subs) in srv.pubsub.table(kind).lock().iter() {
            if crate::server::acl::rules::channel_allowed(allowed, name, pattern) {
                continue;
            }
            for (h, _) in subs {
                if h.info.lock().user == user && !doomed.iter().any(|d| d.id == h.id) {
                    doomed.push(h.clone());
                }
            }
        }
    }
    for h in doomed {
        h.kill();
    }
}
