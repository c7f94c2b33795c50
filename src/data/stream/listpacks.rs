//! The nodes as Redis holds them, for RDB files and DUMP payloads (`persist::stream`
//! writes RDB type 21 with these): each node's listpack rebuilt from our encoding, the
//! master entry (count, deleted, field count, fields, 0), then per entry flags, ms and seq
//! differences from the master id (64-bit wrapping, as Redis subtracts), [field count,
//! fields,] values, lp-count.

use crate::data::listpack::Encoder;

use super::node::{Node, SAME_FIELDS};
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
