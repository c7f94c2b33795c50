//! Freeing big values on a background thread (Redis's lazyfree.c): UNLINK, DEL under
//! lazyfree-lazy-user-del, keys expired under lazyfree-lazy-expire and keys evicted under
//! lazyfree-lazy-eviction hand a value whose free effort is above Redis's
//! LAZYFREE_THRESHOLD to the `lazyfree` thread, so the worker that drops it (holding its
//! shard) does not stall on millions of frees; the others are freed at once, where that
//! costs less than the hand-over. Under lazyfree-lazy-server-del the server's own deletions
//! and overwrites, and the big temporary results of SUNION/SDIFF/SPOP and
//! ZUNION/ZINTER/ZDIFF, go the same way. INFO memory's lazyfree_pending_objects and
//! lazyfreed_objects count what was handed over, as Redis counts its lazyfree jobs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::dict::Entry;
use super::value::Value;

/// Objects handed to the lazyfree thread and not yet freed, and those it (or a flush's
/// thread) has freed: lazyfree_pending_objects and lazyfreed_objects.
pub static PENDING: AtomicU64 = AtomicU64::new(0);
pub static FREED: AtomicU64 = AtomicU64::new(0);

/// Redis's LAZYFREE_THRESHOLD: a free effort above it goes to the background.
pub const THRESHOLD: usize = 64;

/// Redis's lazyfreeGetFreeEffort: the allocations freeing `v` takes, roughly. Lists count
/// their quicklist nodes, hashtable-encoded sets and hashes and skiplist sorted sets their
/// elements, streams their nodes plus groups times (1 + the first group's pending
/// entries); anything compact (listpack, intset, strings) is one allocation.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::List(l) if l.encoding_name() == "quicklist" => l.quicklist_figures().0,
        Value::Set(s) if s.encoding_name() == "hashtable" => s.len(),
        Value::Hash(h) if h.encoding_name() == "hashtable" => h.len(),
        Value::ZSet(z) if z.encoding_name() == "skiplist" => z.len(),
        Value::Stream(s) => {
            let groups = s.groups.len();
            let pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            s.node_count() + groups * (1 + pel)
        }
        _ => 1,
    }
}

/// Free the value of a removed entry: in the background if its effort is above the
/// threshold (Redis's freeObjAsync), at once otherwise. True if it was handed over.
pub fn free_entry(mut e: Entry) -> bool {
    match take_if_big(&mut e) {
        Some(v) => {
            drop(e);
            hand_over(v);
            true
        }
        None => false,
    }
}

/// Free an overwritten value: in the background if its effort is above the threshold.
pub fn free_value(v: Value) {
    if free_effort(&v) > THRESHOLD {
        hand_over(v);
    }
}

/// The entry's value if freeing it is worth a background free (an empty string left in its
/// place).
pub fn take_if_big(e: &mut Entry) -> Option<Value> {
    (free_effort(&e.value) > THRESHOLD).then(|| std::mem::replace(&mut e.value, Value::Int(0)))
}

/// Free `v` on the lazyfree thread (started on first use); at once if it cannot start.
pub fn hand_over(v: Value) {
    hand_over_any(Box::new(v));
}

/// Free a structure a command built for its reply only, as Redis frees such an object
/// under lazyfree-lazy-server-del (freeObjAsync): in the background when `effort` (its
/// elements) is above the threshold, else at once. ZUNION/ZINTER/ZDIFF's result.
pub fn free_temporary<T: Send + 'static>(v: T, effort: usize) {
    if effort > THRESHOLD {
        hand_over_any(Box::new(v));
    }
}

fn hand_over_any(v: Box<dyn Send>) {
    type Garbage = Box<dyn Send>;
    static TX: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Garbage>>> = std::sync::OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Garbage>();
        let worker = move || {
            for v in rx {
                drop(v);
                // jemalloc counts what this thread's cache holds as allocated: give it
                // back once the queue is empty, so the memory figure sees the frees.
                if PENDING.fetch_sub(1, Relaxed) == 1 {
                    crate::util::alloc::flush_thread_cache();
                }
                FREED.fetch_add(1, Relaxed);
            }
        };
        std::thread::Builder::new().name("lazyfree".into()).spawn(worker).ok().map(|_| tx)
    });
    let Some(tx) = tx else {
        drop(v);
        FREED.fetch_add(1, Relaxed);
        return;
    };
    PENDING.fetch_add(1, Relaxed);
    if let Err(std::sync::mpsc::SendError(v)) = tx.send(v) {
        drop(v);
        PENDING.fetch_sub(1, Relaxed);
        FREED.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_values_are_one_allocation() {
        assert_eq!(free_effort(&Value::Int(5)), 1);
        assert_eq!(free_effort(&Value::from_string(b"hello")), 1);
    }
}
