//! WATCH: which clients watch which keys of a shard, and the flag a modification raises.
//!
//! Every client has one `CasFlag` (Redis's CLIENT_DIRTY_CAS). WATCH registers the flag
//! under the key in the key's shard; a command that modifies the key raises every
//! registered flag (see `Access::signal_touched`), as do deletion by expiry, FLUSHDB,
//! FLUSHALL and SWAPDB. EXEC aborts when its client's flag is up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ahash::AHashMap as HashMap;
use smallvec::SmallVec;

/// A client's "a watched key was modified" flag.
pub type CasFlag = Arc<AtomicBool>;

struct Watcher {
    flag: CasFlag,
    /// The key was already logically expired when WATCH ran: its deletion by expiry is
    /// not a change (Redis's watchedKey.expired).
    expired: bool,
}

#[derive(Default)]
pub struct Watched {
    keys: HashMap<Vec<u8>, SmallVec<[Watcher; 2]>>,
}

impl Watched {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Does anyone watch `key`? (The empty check first: the common case costs one branch.)
    #[inline]
    pub fn has(&self, key: &[u8]) -> bool {
        !self.keys.is_empty() && self.keys.contains_key(key)
    }

    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.keys.keys().cloned().collect()
    }

    pub fn add(&mut self, key: &[u8], flag: &CasFlag, expired: bool) {
        let list = self.keys.entry(key.to_vec()).or_default();
        if !list.iter().any(|w| Arc::ptr_eq(&w.flag, flag)) {
            list.push(Watcher { flag: flag.clone(), expired });
        }
    }

    pub fn remove(&mut self, key: &[u8], flag: &CasFlag) {
        if let Some(list) = self.keys.get_mut(key) {
            list.retain(|w| !Arc::ptr_eq(&w.flag, flag));
            if list.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    /// Was `key` already expired when `flag`'s client watched it?
    pub fn expired_at_watch(&self, key: &[u8], flag: &CasFlag) -> bool {
        self.keys.get(key).is_some_and(|l| l.iter().any(|w| Arc::ptr_eq(&w.flag, flag) && w.expired))
    }

    /// `key` was modified (Redis's touchWatchedKey). `exists` says whether it is still in
    /// the table: deleting a key that was already expired at WATCH time changes nothing.
    pub fn touch(&mut self, key: &[u8], exists: bool) {
        let Some(list) = self.keys.get_mut(key) else { return };
        for w in list.iter_mut() {
            if w.expired && !exists {
                w.expired = false;
                continue;
            }
            w.flag.store(true, Ordering::Release);
        }
    }

    /// The database holding `key` is emptied (FLUSHDB/FLUSHALL) or replaced by another
    /// (SWAPDB): Redis's touchAllWatchedKeysInDb. `in_emptied`: the key was in the table;
    /// `replacement`: None when nothing replaces it, else Some(Some(expired)) if the new
    /// database holds the key, Some(None) if it does not.
    pub fn touch_emptied(&mut self, key: &[u8], in_emptied: bool, replacement: Option<Option<bool>>) {
        let in_replacement = matches!(replacement, Some(Some(_)));
        if !in_emptied && !in_replacement {
            return;
        }
        let replacement_expired = matches!(replacement, Some(Some(true)));
        let Some(list) = self.keys.get_mut(key) else { return };
        for w in list.iter_mut() {
            if w.expired {
                if !in_replacement {
                    // An expired key is deleted: no logical change.
                    w.expired = false;
                    continue;
                } else if replacement_expired {
                    // Still expired.
                    continue;
                }
            } else if !in_emptied && replacement_expired {
                // A missing key replaced by an expired one.
                w.expired = true;
                continue;
            }
            w.flag.store(true, Ordering::Release);
        }
    }
}
