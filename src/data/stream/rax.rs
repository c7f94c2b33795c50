//! How many nodes Redis's rax (rax.c) has for a stream's master ids (XINFO STREAM's
//! `radix-tree-nodes`), computed from the keys instead of keeping a radix tree.
//!
//! rax keeps its shape canonical through inserts (splitting compressed nodes) and deletes
//! (freeing childless non-key nodes upwards, then recompressing single-child chains), so
//! the count depends on the set of keys alone. A node sits at:
//! - the empty prefix (the head, there even in an empty tree),
//! - every key,
//! - every prefix where keys branch (a non-compressed node holding one byte per child),
//! - one byte below each branch, for each child (rax links a branch's children one byte
//!   each; the rest of the edge is a compressed node starting there).
//!
//! The keys are 16 bytes, big-endian ms then seq, so none is a prefix of another. In key
//! order, the branch points are the longest common prefixes of neighbours, and every child
//! of a branch starts a run of keys that has a neighbour in another child, so each pair of
//! neighbours names its branch and both children. Equal prefixes of one length come
//! together in key order: one "last seen" per length removes the duplicates.

use super::StreamId;

/// `key`'s first `len` bytes (as a number; each length is compared with its own kind).
#[inline]
fn prefix(key: u128, len: usize) -> u128 {
    if len == 0 {
        0
    } else {
        key >> (8 * (16 - len))
    }
}

pub(super) fn count_nodes<'a>(keys: impl Iterator<Item = &'a StreamId>) -> usize {
    let mut last: [Option<u128>; 17] = [None; 17];
    let mut count = 0;
    let mut add = |len: usize, key: u128| {
        let p = prefix(key, len);
        if last[len] != Some(p) {
            last[len] = Some(p);
            count += 1;
        }
    };
    add(0, 0);
    let mut prev: Option<u128> = None;
    for id in keys {
        let key = ((id.ms as u128) << 64) | id.seq as u128;
        if let Some(p) = prev {
            let common = ((p ^ key).leading_zeros() / 8) as usize;
            if common < 16 {
                add(common, p);
                add(common + 1, p);
                add(common + 1, key);
            }
        }
        add(16, key);
        prev = Some(key);
    }
    count
}
