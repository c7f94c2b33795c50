//! Blocking operations: waiters on keys, and serving them when a key becomes ready.
//!
//! A blocking command (BLPOP, BLMOVE, BZPOPMIN, ...) runs like any command with the shards
//! of all its keys locked. If it can answer at once it does; otherwise it registers a
//! `Waiter` in the FIFO of every key it waits on (in those keys' shards, under the locks
//! it already holds, so no push can slip between "it was empty" and "I am waiting"), and
//! its connection stops processing commands until the waiter is served, times out, is
//! unblocked (CLIENT UNBLOCK) or the connection goes away.
//!
//! Any write that touches a key with waiters records it as *ready* in the `Access`. When
//! the writing command's handler returns, and before its locks are released or its reply
//! is sent, dispatch serves the ready keys: for each, waiters are taken in FIFO order and
//! their command is **executed again on their behalf** (as Redis 7 does), with the
//! waiter's database and protocol, producing the waiter's reply. So the pushing client,
//! when it reads its reply, already sees the element gone, and a key filled inside a
//! MULTI/EXEC or a script is served only after the whole transaction.
//!
//! Serving may need shards the writer does not hold (BLMOVE's destination, BLPOP's other
//! keys). They are taken with `try_lock` — never blocking, so lock order cannot deadlock —
//! and if one is busy the key is served right after the writer releases its locks, by
//! locking everything the waiter needs in order.
//!
//! A waiter's state moves WAITING -> SERVING -> SERVED, or WAITING -> CANCELLED (timeout,
//! CLIENT UNBLOCK, disconnect, kill); the compare-and-swap decides races, so an element
//! is never popped for a client that already gave up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

const WAITING: u8 = 0;
const SERVING: u8 = 1;
const SERVED: u8 = 2;
const CANCELLED: u8 = 3;

/// A blocked client's pending command.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    /// Every key it waits on (for cleanup).
    pub keys: Vec<Vec<u8>>,
    /// The command as the client sent it, executed again when a key is ready.
    pub args: Vec<Vec<u8>>,
    /// The Redis type whose arrival can serve it ("list", "zset", "stream").
    pub wants: &'static str,
    pub resp3: bool,
    /// Reply sent on timeout (null bulk or null array, in the client's protocol).
    pub timeout_reply: Vec<u8>,
    pub deadline: Option<std::time::Instant>,
    /// Re-executed when its key is deleted or changes type too, not only when a value of
    /// `wants` arrives (XREADGROUP: its group is gone, it must answer the error).
    pub unblock_on_nokey: bool,
    /// appendfsync always: the AOF ticket of the serving command's unit; the client's
    /// reply waits until it is durable.
    pub aof_ticket: std::sync::atomic::AtomicU64,
    /// How long the command ran when it blocked (µs): the duration of its slow log entry,
    /// made when it is served or times out, as Redis logs a blocked command then.
    pub ran_us: std::sync::atomic::AtomicU64,
    state: AtomicU8,
    reply: Mutex<Option<Vec<u8>>>,
    pub notify: tokio::sync::Notify,
}

impl Waiter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client_id: u64,
        db: usize,
        keys: Vec<Vec<u8>>,
        args: Vec<Vec<u8>>,
        wants: &'static str,
        resp3: bool,
        timeout_reply: Vec<u8>,
        deadline: Option<std::time::Instant>,
    ) -> Waiter {
        Waiter {
            client_id,
            db,
            keys,
            args,
            wants,
            resp3,
            timeout_reply,
            deadline,
            unblock_on_nokey: false,
            aof_ticket: Default::default(),
            ran_us: Default::default(),
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Claim the waiter for serving; false if it is no longer waiting.
    pub fn begin_serve(&self) -> bool {
        self.state.compare_exchange(WAITING, SERVING, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Finish serving: deliver the reply.
    pub fn complete(&self, reply: Vec<u8>) {
        *self.reply.lock() = Some(reply);
        self.state.store(SERVED, Ordering::Release);
        self.notify.notify_one();
    }

    /// Serving found nothing to give after all: back to waiting (and wake the client so a
    /// deadline that passed meanwhile is honoured).
    pub fn abort_serve(&self) {
        self.state.store(WAITING, Ordering::Release);
        self.notify.notify_one();
    }

    /// Give up waiting with `reply` (timeout, CLIENT UNBLOCK); false if already served.
    pub fn cancel_with(&self, reply: Option<Vec<u8>>) -> bool {
        // The reply is stored under its lock before the state says CANCELLED, so a reader
        // that sees CANCELLED (and then takes the lock) finds it.
        let mut slot = self.reply.lock();
        if self.state.compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        *slot = reply;
        drop(slot);
        self.notify.notify_one();
        true
    }

    /// None while waiting or being served; once served or cancelled, the reply to send
    /// (None: cancelled without one, the client is going away). One load of the state
    /// decides, so a reply completed between two checks cannot be missed.
    pub fn outcome(&self) -> Option<Option<Vec<u8>>> {
        match self.state.load(Ordering::Acquire) {
            SERVED | CANCELLED => Some(self.reply.lock().take()),
            _ => None,
        }
    }
}

/// The waiters of one shard: key -> FIFO. Entries of waiters served or cancelled through
/// another key are dropped when met, and removed eagerly by the client when it resumes.
#[derive(Default)]
pub struct Waiters {
    map: std::collections::HashMap<Vec<u8>, VecDeque<Arc<Waiter>>>,
}

impl Waiters {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn has(&self, key: &[u8]) -> bool {
        !self.map.is_empty() && self.map.contains_key(key)
    }

    pub fn add(&mut self, key: &[u8], w: Arc<Waiter>) {
        self.map.entry(key.to_vec()).or_default().push_back(w);
    }

    /// The first waiter still waiting on `key` (dropping finished ones on the way).
    pub fn front(&mut self, key: &[u8]) -> Option<Arc<Waiter>> {
        let q = self.map.get_mut(key)?;
        while let Some(w) = q.front() {
            if w.is_waiting() {
                return Some(w.clone());
            }
            q.pop_front();
        }
        self.map.remove(key);
        None
    }

    /// The waiters still waiting on `key`, in FIFO order (a copy: serving reorders the queue).
    pub fn queue(&self, key: &[u8]) -> Vec<Arc<Waiter>> {
        self.map.get(key).map_or_else(Vec::new, |q| q.iter().filter(|w| w.is_waiting()).cloned().collect())
    }

    pub fn remove(&mut self, key: &[u8], w: &Arc<Waiter>) {
        if let Some(q) = self.map.get_mut(key) {
            q.retain(|x| !Arc::ptr_eq(x, w));
            if q.is_empty() {
                self.map.remove(key);
            }
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.map.keys()
    }

    /// Number of keys with at least one waiter.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
