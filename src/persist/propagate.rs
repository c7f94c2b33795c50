//! The propagation seam: every write that takes effect is handed, once and in order, to the
//! sinks (the AOF now, replication later), as Redis 7.2 propagates it (call()'s
//! propagation, alsoPropagate, propagatePendingCommands).
//!
//! (Skeleton: the types the seam and its sinks share; the seam itself lands with issue 23.)

/// One command as propagated: its database and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub argv: Vec<Vec<u8>>,
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
