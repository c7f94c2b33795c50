//! The propagation seam: every write that takes effect is handed, once and in order, to the
//! sinks (the AOF now, replication later), as Redis 7.2 propagates it (call()'s
//! propagation, alsoPropagate, propagatePendingCommands).
//!
//! The seam (docs/ARCHITECTURE.md, "Propagation"): `dispatch::call` runs every command
//! with the unit's ops collecting on the keyspace `Access` it holds. A command whose dirty
//! count grew adds its own arguments, or what its handler asked for instead
//! (`Access::propagate_as`, `also_propagate`, `prevent_propagation`, Redis's
//! rewriteClientCommandVector / alsoPropagate / preventCommandPropagation). When the unit
//! ends (the command, EXEC's transaction, a script), its ops go to `Sinks::deliver` while
//! the unit still holds its shard locks: two units that touch one key hold that key's lock
//! in turn, so they reach the sinks in the order they took effect; a transaction or script
//! is one delivery, so it stays contiguous. A key a command finds expired joins its unit as
//! DEL (UNLINK with lazyfree-lazy-expire) before the command's own op; the deletions of
//! active expiry, SCAN and RANDOMKEY are units of their own, delivered with their shard
//! locked (`Keyspace::on_expired_delete`). Blocked clients are served after the writer's
//! unit is delivered, each as a unit. With no sink, the whole cost is one relaxed load per
//! command (`Sinks::active`) and a compare (`dispatch::call`).

/// One command as propagated: its database and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub argv: Vec<Vec<u8>>,
}

/// How the running command propagates if it wrote (its dirty count grew).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Propagate {
    /// With its own arguments (most writes).
    #[default]
    Own,
    /// As this command instead (SET ... EX as SET ... PXAT).
    As(Vec<Vec<u8>>),
    /// Not itself: its effects were added as other ops, or it has none to replay.
    Nothing,
    /// With its own arguments even if it wrote nothing.
    Always,
}

/// An argument vector from its parts (the rewritten commands handlers propagate).
pub fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// A decimal argument (PXAT's milliseconds, a count).
pub fn int_arg(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// SET key value PXAT ms: how a SET with a relative or seconds expiry, SETEX and PSETEX
/// propagate.
pub fn set_pxat(key: &[u8], value: &[u8], at_ms: i64) -> Vec<Vec<u8>> {
    vec![b"SET".to_vec(), key.to_vec(), value.to_vec(), b"PXAT".to_vec(), int_arg(at_ms)]
}

/// The deletion of a key an expiry time in the past removed (EXPIRE, GETEX ... EXAT):
/// DEL, or UNLINK under lazyfree-lazy-expire.
pub fn expire_deletion(srv: &crate::server::Server, key: &[u8]) -> Vec<Vec<u8>> {
    deletion(key, srv.ks.lazy_expire.load(std::sync::atomic::Ordering::Relaxed))
}

/// A consumer of propagated writes. `unit` gets one execution unit (a command, a
/// transaction, a script or function call, an expiry's deletion), in the order the units
/// took effect; `wrap`: the unit goes inside MULTI/EXEC. The sink writes SELECT itself when
/// an op's database is not the one it last wrote. It returns a ticket the caller may wait
/// on before acknowledging (appendfsync always), 0 for none.
pub trait Sink: Send + Sync {
    fn unit(&self, ops: &[Op], wrap: bool) -> u64;
}

/// The sinks in force. `active` is read on every write, so the seam costs one relaxed load
/// when nothing consumes propagation (no AOF, no replica).
#[derive(Default)]
pub struct Sinks {
    active: std::sync::atomic::AtomicBool,
    list: parking_lot::RwLock<Vec<std::sync::Arc<dyn Sink>>>,
}

impl Sinks {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn add(&self, sink: std::sync::Arc<dyn Sink>) {
        let mut list = self.list.write();
        list.push(sink);
        self.active.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Remove a sink added before (compared by address).
    pub fn remove(&self, sink: &std::sync::Arc<dyn Sink>) {
        let mut list = self.list.write();
        list.retain(|s| !std::ptr::addr_eq(std::sync::Arc::as_ptr(s), std::sync::Arc::as_ptr(sink)));
        self.active.store(!list.is_empty(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Hand one execution unit to every sink; the highest ticket they return.
    pub fn deliver(&self, ops: &[Op], wrap: bool) -> u64 {
        if ops.is_empty() {
            return 0;
        }
        self.list.read().iter().map(|s| s.unit(ops, wrap)).max().unwrap_or(0)
    }
}

/// Deliver the unit collected on `ks` (if any) and start the next one. `wrap`: Redis wraps
/// a unit in MULTI/EXEC when it holds more than one op. The sinks' ticket (0 for none): a
/// client that caused the unit waits for it before its replies go out (`Client::aof_ticket`).
pub fn deliver_unit(srv: &crate::server::Server, ks: &mut crate::keyspace::Access<'_>) -> u64 {
    if ks.ops.is_empty() {
        return 0;
    }
    let ticket = srv.sinks.deliver(&ks.ops, ks.ops.len() > 1);
    ks.ops.clear();
    ticket
}

/// The argument vector of a key's deletion: DEL, or UNLINK when the server frees such keys
/// lazily (`lazy`: the lazyfree-lazy-* parameter that applies: -expire for expiry,
/// -server-del for SPOP and RESTORE, -eviction for eviction once it exists).
pub fn deletion(key: &[u8], lazy: bool) -> Vec<Vec<u8>> {
    argv(&[if lazy { b"UNLINK" } else { b"DEL" }, key])
}

/// Propagate the deletions by expiry that belong to no command's unit (active expiry,
/// SCAN's and RANDOMKEY's): each a unit of its own, delivered by the keyspace with the
/// key's shard still locked. Holds the server weakly.
pub fn install_expiry_hook(srv: &std::sync::Arc<crate::server::Server>) {
    let w = std::sync::Arc::downgrade(srv);
    let _ = srv.ks.on_expired_delete.set(Box::new(move |db, key| {
        let Some(s) = w.upgrade() else { return };
        if s.sinks.active() {
            s.sinks.deliver(&[Op { db, argv: expire_deletion(&s, key) }], false);
        }
    }));
}
