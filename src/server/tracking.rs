//! Client-side caching (Redis's tracking.c): CLIENT TRACKING, CLIENT CACHING, CLIENT
//! GETREDIR, CLIENT TRACKINGINFO, and the invalidation messages.
//!
//! Default mode: a read-only command run by a tracking client records its keys in the
//! tracking table (key -> ids of the clients that may have cached it). Keys are recorded
//! without their database, as Redis does, so a write in any database invalidates. The
//! first modification of a recorded key (a write, an expiry, FLUSHALL/FLUSHDB, or its
//! eviction from a table grown past `tracking-table-max-keys`) removes it from the table
//! and sends each of those clients one invalidation. The table is sharded by key hash
//! under its own small locks, and a key is recorded and invalidated while the command
//! holds the key's keyspace shard, so a read cannot record a key after a write it did not
//! see has already looked for its readers.
//!
//! BCAST mode: the client names key prefixes (none = every key) and is told about every
//! modified key under them, whether it read it or not. Modified keys are collected per
//! prefix and sent as one message per prefix when the connection that wrote them has run
//! its batch of commands (Redis sends them once per event-loop iteration), keys sorted.
//!
//! Delivery: RESP3 clients get `>2 invalidate [keys]` pushes (`_` for a flush); with
//! REDIRECT the message goes to the other client instead, as a push if it speaks RESP3
//! or, if it is in RESP2 Pub/Sub mode, as a message on `__redis__:invalidate`. Pushes go
//! through the target's outbox (pubsub.rs); a client's own invalidations therefore follow
//! the reply of the command that caused them, as in Redis 7.2.
//!
//! Lock order: keyspace shard -> table shard -> clients map -> a client's tracking
//! state -> outbox. The prefix table is never held while sending.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::client::{Client, ClientHandle};
use super::Server;
use crate::command::args::{eq, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::keyspace::{key_hash, TrackingCounts};

const TABLE_SHARDS: usize = 64;
const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One client's tracking settings (in its `ClientHandle`, so writers on other threads
/// can read them).
#[derive(Default)]
pub struct ClientTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING yes (OPTIN) / no (OPTOUT) was given for the next command.
    pub caching: bool,
    /// The redirection target went away.
    pub broken_redirect: bool,
    /// REDIRECT client id, 0 for none.
    pub redirect: u64,
    /// BCAST prefixes (sorted, as Redis lists them).
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// A BCAST prefix: its clients and the keys modified under it since the last broadcast
/// (key -> id of the client that modified it last, for NOLOOP; 0 for none).
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Vec<u8>, u64>,
}

pub struct Tracking {
    table: Vec<Mutex<HashMap<Vec<u8>, Vec<u64>>>>,
    /// Keys in the table and BCAST prefixes (INFO tracking_total_keys / _prefixes), shared
    /// with the keyspace, which reports writes while they are not both 0.
    counts: Arc<TrackingCounts>,
    /// (key, client) pairs in the table (INFO tracking_total_items).
    items: AtomicUsize,
    /// Clients with tracking on (INFO tracking_clients).
    clients: AtomicUsize,
    prefixes: Mutex<BTreeMap<Vec<u8>, Prefix>>,
    /// Some prefix has keys waiting for the broadcast.
    bcast_pending: AtomicBool,
    /// tracking-table-max-keys (0: no limit).
    pub max_keys: AtomicUsize,
    /// Consecutive table-limit rounds that could not get under the limit (Redis's effort
    /// grows with them).
    limit_rounds: AtomicUsize,
}

impl Tracking {
    pub fn new(counts: Arc<TrackingCounts>) -> Tracking {
        Tracking {
            table: (0..TABLE_SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            counts,
            items: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
            prefixes: Mutex::new(BTreeMap::new()),
            bcast_pending: AtomicBool::new(false),
            max_keys: AtomicUsize::new(1_000_000),
            limit_rounds: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<HashMap<Vec<u8>, Vec<u64>>> {
        &self.table[(key_hash(key) % TABLE_SHARDS as u64) as usize]
    }

    /// (tracking_clients, tracking_total_keys, tracking_total_items, tracking_total_prefixes).
    pub fn figures(&self) -> (usize, usize, usize, usize) {
        (
            self.clients.load(Ordering::Relaxed),
            self.counts.keys.load(Ordering::Relaxed),
            self.items.load(Ordering::Relaxed),
            self.counts.prefixes.load(Ordering::Relaxed),
        )
    }

    /// Drop the whole table (FLUSHALL / FLUSHDB).
    fn clear(&self) {
        for s in &self.table {
            let mut t = s.lock();
            let (k, i) = (t.len(), t.values().map(Vec::len).sum::<usize>());
            t.clear();
            self.counts.keys.fetch_sub(k, Ordering::Relaxed);
            self.items.fetch_sub(i, Ordering::Relaxed);
        }
    }

    /// Remove `key` from the table; the ids that had it.
    fn take(&self, key: &[u8]) -> Option<Vec<u64>> {
        if self.counts.keys.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let ids = self.shard(key).lock().remove(key)?;
        self.counts.keys.fetch_sub(1, Ordering::Relaxed);
        self.items.fetch_sub(ids.len(), Ordering::Relaxed);
        Some(ids)
    }
}

/// What an invalidation carries: keys, or "everything" (a flush).
enum Payload<'x> {
    Keys(&'x [&'x [u8]]),
    Flush,
}

fn resp3(h: &ClientHandle) -> bool {
    h.resp.load(Ordering::Relaxed) == 3
}

fn subscribed(h: &ClientHandle) -> bool {
    h.sub_counts.iter().any(|c| c.load(Ordering::Relaxed) > 0)
}

fn handle_of(srv: &Server, id: u64) -> Option<Arc<ClientHandle>> {
    srv.clients.lock().get(&id).cloned()
}

/// Redis's sendTrackingMessage: one invalidation for client `h`, to it or to its
/// redirection target. `current`: the client whose command causes it (0: none); its own
/// invalidations follow its reply.
fn send(srv: &Server, h: &Arc<ClientHandle>, payload: &Payload, current: u64) {
    let redirect = h.tracking.lock().redirect;
    let redirected_to = if redirect != 0 {
        match handle_of(srv, redirect) {
            Some(t) => Some(t),
            None => {
                h.tracking.lock().broken_redirect = true;
                if resp3(h) {
                    let mut m = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                    m.extend_from_slice(format!(":{redirect}\r\n").as_bytes());
                    super::pubsub::push_to(srv, h, &m);
                }
                return;
            }
        }
    } else {
        None
    };
    let redirected = redirected_to.is_some();
    let target: &Arc<ClientHandle> = redirected_to.as_ref().unwrap_or(h);
    let r3 = resp3(target);
    let mut m = Vec::with_capacity(64);
    if r3 {
        m.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirected && subscribed(target) {
        m.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n");
        m.extend_from_slice(CHANNEL);
        m.extend_from_slice(b"\r\n");
    } else {
        // RESP2 without a subscribed redirection target: nowhere to send it.
        return;
    }
    match payload {
        // The null of the tracking client's protocol, even when redirected (as Redis does).
        Payload::Flush => m.extend_from_slice(if resp3(h) { b"_\r\n" } else { b"$-1\r\n" }),
        Payload::Keys(keys) => {
            m.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in keys.iter() {
                m.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
                m.extend_from_slice(k);
                m.extend_from_slice(b"\r\n");
            }
        }
    }
    // Not once the client has turned tracking off: a writer that found it in the table or
    // a prefix before then delivers before the OFF's reply or not at all, as in Redis.
    super::pubsub::append(srv, target, &m, target.id == current, || h.tracking_on.load(Ordering::Relaxed));
}

/// After a read-only command of a tracking client: remember its keys (Redis's
/// trackingRememberKeys). Called with the keys' shards held.
pub fn remember(srv: &Server, h: &ClientHandle, keys: &[&[u8]]) {
    {
        let st = h.tracking.lock();
        if !st.on || st.bcast || (st.optin && !st.caching) || (st.optout && st.caching) {
            return;
        }
    }
    let t = &srv.tracking;
    for key in keys {
        let mut shard = t.shard(key).lock();
        // A key read again is the common case: no copy of it then.
        let ids = match shard.get_mut(*key) {
            Some(ids) => ids,
            None => {
                t.counts.keys.fetch_add(1, Ordering::Relaxed);
                shard.entry(key.to_vec()).or_default()
            }
        };
        if !ids.contains(&h.id) {
            ids.push(h.id);
            t.items.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `key` was modified (or expired) by client `writer` (0: by the server): tell the clients
/// that may cache it, and note it for the BCAST prefixes it falls under.
pub fn invalidate(srv: &Server, key: &[u8], writer: u64, bcast: bool) {
    let t = &srv.tracking;
    if bcast && t.counts.prefixes.load(Ordering::Relaxed) > 0 {
        let mut prefixes = t.prefixes.lock();
        for (p, state) in prefixes.iter_mut() {
            if key.starts_with(p) {
                state.keys.insert(key.to_vec(), writer);
                t.bcast_pending.store(true, Ordering::Release);
            }
        }
    }
    let Some(ids) = t.take(key) else { return };
    for id in ids {
        let Some(h) = handle_of(srv, id) else { continue };
        {
            let st = h.tracking.lock();
            // A client that switched to BCAST since it read the key no longer gets these.
            if !st.on || st.bcast || (st.noloop && id == writer) {
                continue;
            }
        }
        send(srv, &h, &Payload::Keys(&[key]), writer);
    }
}

/// FLUSHALL / FLUSHDB: every tracking client is told to drop everything; the table is
/// emptied.
pub fn flush(srv: &Server, current: u64) {
    let t = &srv.tracking;
    if t.clients.load(Ordering::Relaxed) > 0 {
        let handles: Vec<Arc<ClientHandle>> = srv.clients.lock().values().cloned().collect();
        for h in handles {
            if h.tracking.lock().on {
                send(srv, &h, &Payload::Flush, current);
            }
        }
    }
    t.clear();
}

/// Send what the BCAST prefixes collected: per prefix, one message with its keys in
/// order to each of its clients (without the keys it wrote itself, for NOLOOP clients).
pub fn broadcast(srv: &Server) {
    let t = &srv.tracking;
    if !t.bcast_pending.swap(false, Ordering::AcqRel) {
        return;
    }
    // Per prefix with news: its clients, and the keys with who wrote them.
    type Batch = (Vec<u64>, BTreeMap<Vec<u8>, u64>);
    let batches: Vec<Batch> = {
        let mut prefixes = t.prefixes.lock();
        prefixes
            .values_mut()
            .filter(|p| !p.keys.is_empty())
            .map(|p| (p.clients.iter().copied().collect(), std::mem::take(&mut p.keys)))
            .collect()
    };
    for (clients, keys) in &batches {
        let all: Vec<&[u8]> = keys.keys().map(|k| k.as_slice()).collect();
        for &id in clients {
            let Some(h) = handle_of(srv, id) else { continue };
            if h.tracking.lock().noloop {
                let own: Vec<&[u8]> = keys.iter().filter(|(_, w)| **w != id).map(|(k, _)| k.as_slice()).collect();
                if !own.is_empty() {
                    send(srv, &h, &Payload::Keys(&own), 0);
                }
            } else {
                send(srv, &h, &Payload::Keys(&all), 0);
            }
        }
    }
}

/// Keep the table within tracking-table-max-keys (Redis's trackingLimitUsedSlots): evict
/// keys, invalidating them, with an effort that grows while the limit stays exceeded.
fn limit(srv: &Server, max: usize) {
    let t = &srv.tracking;
    if t.counts.keys.load(Ordering::Relaxed) <= max {
        t.limit_rounds.store(0, Ordering::Relaxed);
        return;
    }
    let mut effort = 100 * (t.limit_rounds.load(Ordering::Relaxed) + 1);
    let start = rand::random::<usize>();
    let mut i = 0;
    while effort > 0 && t.counts.keys.load(Ordering::Relaxed) > 0 {
        effort -= 1;
        let shard = &t.table[(start + i) % TABLE_SHARDS];
        i += 1;
        let victim = shard.lock().keys().next().cloned();
        if let Some(key) = victim {
            invalidate(srv, &key, 0, false);
        }
        if t.counts.keys.load(Ordering::Relaxed) <= max {
            t.limit_rounds.store(0, Ordering::Relaxed);
            return;
        }
    }
    t.limit_rounds.fetch_add(1, Ordering::Relaxed);
}

/// Turn tracking off for `h` (CLIENT TRACKING OFF, RESET, disconnect). Keys it read stay
/// in the table until they are invalidated, as in Redis.
pub fn disable(srv: &Server, h: &ClientHandle) {
    let mut st = h.tracking.lock();
    if !st.on {
        return;
    }
    if st.bcast {
        let mut prefixes = srv.tracking.prefixes.lock();
        for p in &st.prefixes {
            if let Some(state) = prefixes.get_mut(p) {
                state.clients.remove(&h.id);
                if state.clients.is_empty() {
                    prefixes.remove(p);
                    srv.tracking.counts.prefixes.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }
    *st = ClientTracking::default();
    {
        // Under the outbox's lock: see `send`.
        let _b = h.outbox.buf.lock();
        h.tracking_on.store(false, Ordering::Relaxed);
    }
    srv.tracking.clients.fetch_sub(1, Ordering::Relaxed);
}

/// After each command: CLIENT CACHING applies to the next command only (outside MULTI;
/// CLIENT subcommands keep it); and the table is kept within tracking-table-max-keys
/// (Redis checks before each command while clients track).
pub fn after_command(srv: &Server, client: &Client, name: &str) {
    if client.handle.tracking_on.load(Ordering::Relaxed) && client.multi.is_none() && !name.starts_with("client") {
        client.handle.tracking.lock().caching = false;
    }
    let t = &srv.tracking;
    let keys = t.counts.keys.load(Ordering::Relaxed);
    if keys > 0 {
        let max = t.max_keys.load(Ordering::Relaxed);
        if max > 0 && keys > max {
            limit(srv, max);
        }
    }
}

/// Options of CLIENT TRACKING.
#[derive(Default)]
struct Options<'x> {
    redirect: u64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<&'x [u8]>,
}

fn parse_options<'x>(srv: &Server, args: &[&'x [u8]]) -> Result<Options<'x>, Error> {
    let mut o = Options::default();
    let mut j = 0;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if eq(a, "redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return Err(Error::msg("ERR A client can only redirect to a single other client"));
            }
            let id = int(args[j]).map_err(|_| err::NOT_INT)?;
            if id <= 0 || handle_of(srv, id as u64).is_none() {
                return Err(Error::msg("ERR The client ID you want redirect to does not exist"));
            }
            o.redirect = id as u64;
        } else if eq(a, "bcast") {
            o.bcast = true;
        } else if eq(a, "optin") {
            o.optin = true;
        } else if eq(a, "optout") {
            o.optout = true;
        } else if eq(a, "noloop") {
            o.noloop = true;
        } else if eq(a, "prefix") && more {
            j += 1;
            o.prefixes.push(args[j]);
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// One of two prefixes starts the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn overlap_error(new: &[u8], old: &[u8], other: &str) -> Error {
    Error::msg(format!(
        "ERR Prefix '{}' overlaps with {other} '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(new),
        String::from_utf8_lossy(old)
    ))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking_cmd(ctx: &mut Ctx) -> CmdResult {
    let o = parse_options(ctx.srv, &ctx.args[3..])?;
    let srv = ctx.srv;
    let h = ctx.client.handle.clone();
    if eq(ctx.args[2], "off") {
        disable(srv, &h);
        ctx.out.ok();
        return Ok(());
    }
    if !eq(ctx.args[2], "on") {
        return Err(err::SYNTAX);
    }
    let mut st = h.tracking.lock();
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(Error::msg("ERR PREFIX option requires BCAST mode to be enabled"));
    }
    if st.on && st.bcast != o.bcast {
        return Err(Error::msg(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(Error::msg("ERR OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if o.optin && o.optout {
        return Err(Error::msg("ERR You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if (o.optin && st.optout) || (o.optout && st.optin) {
        return Err(Error::msg(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast {
        for (i, p) in o.prefixes.iter().enumerate() {
            if let Some(old) = st.prefixes.iter().find(|old| overlap(old, p)) {
                return Err(overlap_error(p, old, "an existing prefix"));
            }
            if let Some(other) = o.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Err(overlap_error(p, other, "another provided prefix"));
            }
        }
    }
    // Redis's enableTracking. Invalidations other clients cause from here on follow the +OK.
    h.outbox.split_here();
    let t = &srv.tracking;
    if !st.on {
        t.clients.fetch_add(1, Ordering::Relaxed);
    }
    st.on = true;
    st.broken_redirect = false;
    st.redirect = o.redirect;
    st.optin = o.optin;
    st.optout = o.optout;
    st.noloop = o.noloop;
    st.bcast = o.bcast;
    if o.bcast {
        let new: Vec<&[u8]> = if o.prefixes.is_empty() { vec![b""] } else { o.prefixes.clone() };
        let mut prefixes = t.prefixes.lock();
        for p in new {
            if !st.prefixes.insert(p.to_vec()) {
                continue;
            }
            let state = prefixes.entry(p.to_vec()).or_insert_with(|| {
                t.counts.prefixes.fetch_add(1, Ordering::Relaxed);
                Prefix::default()
            });
            state.clients.insert(h.id);
        }
    }
    h.tracking_on.store(true, Ordering::Relaxed);
    drop(st);
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO
pub fn caching(ctx: &mut Ctx) -> CmdResult {
    let mut st = ctx.client.handle.tracking.lock();
    if !st.on {
        return Err(Error::msg(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    }
    let opt = ctx.args[2];
    if eq(opt, "yes") {
        if !st.optin {
            return Err(Error::msg("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
        }
    } else if eq(opt, "no") {
        if !st.optout {
            return Err(Error::msg("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
        }
    } else {
        return Err(err::SYNTAX);
    }
    st.caching = true;
    drop(st);
    ctx.out.ok();
    Ok(())
}

/// The `redir=` value of CLIENT LIST and CLIENT GETREDIR: -1 when tracking is off.
pub fn redirect_of(h: &ClientHandle) -> i64 {
    let st = h.tracking.lock();
    if st.on {
        st.redirect as i64
    } else {
        -1
    }
}

/// The CLIENT LIST flag letters of tracking: t (on), R (broken redirect), B (BCAST).
pub fn list_flags(h: &ClientHandle, flags: &mut String) {
    if !h.tracking_on.load(Ordering::Relaxed) {
        return;
    }
    let st = h.tracking.lock();
    for (on, letter) in [(st.on, 't'), (st.broken_redirect, 'R'), (st.bcast, 'B')] {
        if on {
            flags.push(letter);
        }
    }
}

pub fn getredir(ctx: &mut Ctx) -> CmdResult {
    let r = redirect_of(&ctx.client.handle);
    ctx.out.int(r);
    Ok(())
}

pub fn trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let st = ctx.client.handle.tracking.lock();
    let mut flags: Vec<&[u8]> = vec![if st.on { b"on" } else { b"off" }];
    for (on, name) in [
        (st.bcast, &b"bcast"[..]),
        (st.optin, b"optin"),
        (st.optin && st.caching, b"caching-yes"),
        (st.optout, b"optout"),
        (st.optout && st.caching, b"caching-no"),
        (st.noloop, b"noloop"),
        (st.broken_redirect, b"broken_redirect"),
    ] {
        if on {
            flags.push(name);
        }
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f);
    }
    out.bulk(b"redirect");
    out.int(if st.on { st.redirect as i64 } else { -1 });
    out.bulk(b"prefixes");
    out.array(st.prefixes.len());
    for p in &st.prefixes {
        out.bulk(p);
    }
    Ok(())
}
