//! Keyspace notifications (Redis's notify.c): `notify-keyspace-events` parsed once into a
//! bitmask cached in `Server::notify_flags`, so a command pays one atomic load when
//! notifications are off. An event is published, through the normal Pub/Sub delivery, on
//! `__keyspace@<db>__:<key>` (message: the event) when K is set and on
//! `__keyevent@<db>__:<event>` (message: the key) when E is set.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::Server;
use crate::command::Ctx;
use crate::keyspace::KeyEvent;

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;

/// The flags of a `notify-keyspace-events` value (None for an unknown character).
pub(crate) fn parse_flags(classes: &str) -> Option<u32> {
    super::config::keyspace_events_flags(classes)
}

/// Publish one event if its class is enabled (Redis's notifyKeyspaceEvent).
#[inline]
pub fn notify(ctx: &Ctx, class: u32, event: &str, key: &[u8], db: usize) {
    notify_as(ctx.srv, class, event, key, db, Some(ctx.client.id));
}

/// `notify` for the selected database of the command.
#[inline]
pub fn event(ctx: &mut Ctx, class: u32, event: &str, key: &[u8]) {
    let flags = ctx.srv.notify_flags.load(Ordering::Relaxed);
    if flags & class == 0 {
        return;
    }
    // A RESP3 client subscribed to its own events gets them after the command's reply (after
    // the whole EXEC or EVAL), as Redis 7.2 does (a script's client has the caller's id).
    publish(ctx.srv, flags, event, key, ctx.ks.db, Some(ctx.client.id));
}

/// Delete `key` from the selected database and, if it was there, emit `del` (a collection
/// emptied by the command, an expiry set in the past, GETDEL...).
pub fn delete(ctx: &mut Ctx, key: &[u8]) -> bool {
    delete_lazily(ctx, key, false)
}

/// `delete`, a big value freed in the background when `lazy` (`data::lazyfree`).
pub fn delete_lazily(ctx: &mut Ctx, key: &[u8], lazy: bool) -> bool {
    let existed = ctx.ks.delete_lazily(key, lazy);
    if existed {
        event(ctx, GENERIC, "del", key);
    }
    existed
}

/// An event no client's command caused (active expiry).
#[inline]
pub fn notify_srv(srv: &Server, class: u32, event: &str, key: &[u8], db: usize) {
    notify_as(srv, class, event, key, db, None);
}

/// An event caused by the command of client `own` (its own pushes follow the reply).
#[inline]
fn notify_as(srv: &Server, class: u32, event: &str, key: &[u8], db: usize, own: super::pubsub::Own) {
    let flags = srv.notify_flags.load(Ordering::Relaxed);
    if flags & class == 0 {
        return;
    }
    publish(srv, flags, event, key, db, own);
}

#[cold]
fn publish(srv: &Server, flags: u32, event: &str, key: &[u8], db: usize, own: super::pubsub::Own) {
    let mut dbs = itoa::Buffer::new();
    let dbs = dbs.format(db).as_bytes();
    if flags & KEYSPACE != 0 {
        let mut chan = Vec::with_capacity(16 + dbs.len() + key.len());
        chan.extend_from_slice(b"__keyspace@");
        chan.extend_from_slice(dbs);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(key);
        super::pubsub::publish_internal(srv, &chan, event.as_bytes(), own);
    }
    if flags & KEYEVENT != 0 {
        let mut chan = Vec::with_capacity(16 + dbs.len() + event.len());
        chan.extend_from_slice(b"__keyevent@");
        chan.extend_from_slice(dbs);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(event.as_bytes());
        super::pubsub::publish_internal(srv, &chan, key, own);
    }
}

/// Install the keyspace's event hook: keyspace notifications for expired, new and missed
/// keys, and client-side caching invalidation for modified and expired keys. It holds the
/// server weakly.
pub fn install_hook(srv: &Arc<Server>) {
    let w: Weak<Server> = Arc::downgrade(srv);
    let flags = srv.notify_flags.clone();
    let _ = srv.ks.on_event.set(Box::new(move |ev, db, key, client| {
        let class = match ev {
            KeyEvent::Expired => EXPIRED,
            KeyEvent::Evicted => EVICTED,
            KeyEvent::New => NEW,
            KeyEvent::Miss => KEY_MISS,
            KeyEvent::Modified => 0,
        };
        let notify = flags.load(Ordering::Relaxed) & class != 0;
        let maybe_tracked = matches!(ev, KeyEvent::Modified | KeyEvent::Expired | KeyEvent::Evicted);
        if !notify && !maybe_tracked {
            return;
        }
        let Some(s) = w.upgrade() else { return };
        let invalidate = maybe_tracked && s.ks.tracking.active();
        if notify {
            // `client`: whose command found the key expired, missing or new (0: none).
            let own = (client != 0).then_some(client);
            match ev {
                KeyEvent::Expired => notify_as(&s, EXPIRED, "expired", key, db, own),
                KeyEvent::Evicted => notify_as(&s, EVICTED, "evicted", key, db, own),
                KeyEvent::New => notify_as(&s, NEW, "new", key, db, own),
                KeyEvent::Miss => notify_as(&s, KEY_MISS, "keymiss", key, db, own),
                KeyEvent::Modified => {}
            }
        }
        if invalidate {
            super::tracking::invalidate(&s, key, client, true);
        }
    }));
}
