//! The nodes as Redis holds them, for RDB files and DUMP payloads (`persist::stream`
//! writes RDB type 21 with these): each node's listpack rebuilt from our encoding, the
//! master entry (count, deleted, field count, fields, 0), then per entry flags, ms and seq
//! differences from the master id (64-bit wrapping, as Redis subtracts), [field count,
//! fields,] values, lp-count. `load_listpack` goes the other way, for RDB and RESTORE.

use std::borrow::Cow;

use crate::data::listpack::{Encoder, Entry, ListPack};

use super::node::{Node, DELETED, SAME_FIELDS};
use super::{Stream, StreamId};

/// The listpack Redis holds for `node`.
pub(super) fn node_listpack(master: StreamId, node: &Node) -> Vec<u8> {
    let data = node.data();
    let mut lp = Encoder::with_capacity(node.lp_bytes);
    lp.push_int(node.live as i64);
    lp.push_int(node.deleted as i64);
    lp.push_int(node.master_field_count() as i64);
    for f in node.master_fields() {
        lp.push_entry(f.entry(data));
    }
    lp.push_int(0);
    let n = node.master_field_count() as i64;
    for e in node.cursor(master) {
        lp.push_int(e.flags as i64);
        lp.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
        if e.flags & SAME_FIELDS != 0 {
            node.pieces(&e, |_, v| lp.push_entry(v.entry(data)));
            lp.push_int(n + 3);
        } else {
            let mut count = 0i64;
            node.pieces(&e, |_, _| count += 1);
            lp.push_int(count);
            node.pieces(&e, |k, v| {
                lp.push_entry(k.entry(data));
                lp.push_entry(v.entry(data));
            });
            lp.push_int(2 * count + 4);
        }
    }
    debug_assert_eq!(lp.total_bytes(), node.lp_bytes, "tracked listpack size");
    // A node is bounded by stream-node-max-bytes (at most 1 GiB) plus one entry.
    lp.finish().expect("stream node listpack under 4 GB")
}

impl Stream {
    /// The nodes in id order: master id and the listpack Redis would hold for the node.
    pub fn listpacks(&self) -> impl Iterator<Item = (StreamId, Vec<u8>)> + '_ {
        self.nodes.iter().map(|(&master, node)| (master, node_listpack(master, node)))
    }
}

/// Why a node listpack from outside is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Not a valid listpack.
    Listpack,
    /// Not a stream node (streamValidateListpackIntegrity): missing or non-integer
    /// counters, a master entry without its 0, entries fewer or more than count + deleted,
    /// a wrong lp-count.
    Layout,
    /// A stream node Redis would never write: no entries, a first entry that is not the
    /// master id or not SAMEFIELDS, ids not increasing (within and across nodes), flags
    /// that disagree with the counts or the fields, non-canonical encodings. Refused so
    /// that the stream keeps what every operation relies on (Redis would take some).
    Inconsistent,
}

fn int(e: Option<Entry<'_>>) -> Result<i64, LoadError> {
    match e {
        Some(Entry::Int(v)) => Ok(v),
        _ => Err(LoadError::Layout),
    }
}

fn count(e: Option<Entry<'_>>) -> Result<u32, LoadError> {
    u32::try_from(int(e)?).map_err(|_| LoadError::Layout)
}

impl Stream {
    /// Append a node given as Redis's listpack (RDB type 21, a DUMP payload), after the
    /// nodes loaded before it, with `master` its rax key. The live entries count into
    /// `len`; the caller sets the counters and groups.
    pub fn load_listpack(&mut self, master: StreamId, bytes: &[u8]) -> Result<(), LoadError> {
        let lp = ListPack::parse(bytes).map_err(|_| LoadError::Listpack)?;
        let mut it = lp.iter();
        let live = count(it.next())?;
        let deleted = count(it.next())?;
        let nfields = count(it.next())? as usize;
        let mut master_fields = Vec::new();
        for _ in 0..nfields {
            master_fields.push(it.next().ok_or(LoadError::Layout)?.to_bytes());
        }
        if int(it.next())? != 0 {
            return Err(LoadError::Layout);
        }
        if (live == 0 && deleted == 0) || self.nodes.last_key_value().is_some_and(|(_, n)| n.last >= master) {
            return Err(LoadError::Inconsistent);
        }
        let mut node: Option<Node> = None;
        let mut pieces: Vec<Cow<'_, [u8]>> = Vec::new();
        for _ in 0..live as u64 + deleted as u64 {
            let flags = int(it.next())?;
            let id = StreamId::new(
                master.ms.wrapping_add(int(it.next())? as u64),
                master.seq.wrapping_add(int(it.next())? as u64),
            );
            let same = flags & SAME_FIELDS as i64 != 0;
            pieces.clear();
            let n = if same {
                for f in &master_fields {
                    pieces.push(f.clone());
                    pieces.push(it.next().ok_or(LoadError::Layout)?.to_bytes());
                }
                nfields as i64
            } else {
                let n = int(it.next())?;
                for _ in 0..n.clamp(0, i64::MAX / 4) * 2 {
                    pieces.push(it.next().ok_or(LoadError::Layout)?.to_bytes());
                }
                n
            };
            if int(it.next())? != if same { n + 3 } else { 2 * n + 4 } {
                return Err(LoadError::Layout);
            }
            if !(0..=3).contains(&flags) || n <= 0 {
                return Err(LoadError::Inconsistent);
            }
            let refs: Vec<&[u8]> = pieces.iter().map(|p| p.as_ref()).collect();
            let n = match node {
                Some(ref mut n) if id > n.last => n,
                None if id == master && same => node.insert(Node::master(&refs, id)),
                _ => return Err(LoadError::Inconsistent),
            };
            let (was_same, head) = n.push(master, id, &refs);
            if was_same != same {
                return Err(LoadError::Inconsistent);
            }
            if flags & DELETED as i64 != 0 {
                n.mark_deleted(head);
            }
        }
        if it.next().is_some() {
            return Err(LoadError::Layout);
        }
        let mut node = node.ok_or(LoadError::Inconsistent)?;
        if (node.live, node.deleted) != (live, deleted) || node.lp_bytes != bytes.len() {
            return Err(LoadError::Inconsistent);
        }
        node.seal();
        self.length += live as u64;
        self.nodes.insert(master, node);
        Ok(())
    }
}
