//! The types every part of the crate names: openraft's type configuration, node and group ids.
//!
//! A leaf module: it names types and does nothing.

use std::io::Cursor;

openraft::declare_raft_types!(
    /// openraft's type configuration for every group on a node. An entry's application data is
    /// opaque bytes: this crate replicates them and hands them back in order, and never looks
    /// inside (what they mean is the layer above's business). Entries answer nothing through
    /// openraft (`R = ()`): the layer above learns of a committed entry when it is applied.
    pub TypeConfig:
        D = bytes::Bytes,
        R = (),
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node (server) in every group it belongs to: a stable hash of its server name
/// ([`node_id`]), so that every node computes the same id for a peer it has only heard named.
pub type NodeId = u64;

/// The name of a group (`_meta_`, or one per replicated stream), unique on the cluster.
pub type GroupId = String;

/// The id of the node named `name` (64-bit FNV-1a of the name's bytes).
pub fn node_id(name: &str) -> NodeId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An entry as openraft stores and sends it.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log position (term, leader and index).
pub type LogId = openraft::LogId<NodeId>;
/// A node's vote.
pub type Vote = openraft::Vote<NodeId>;
/// A storage failure as openraft wants it reported.
pub type StorageError = openraft::StorageError<NodeId>;
/// The membership as the log and snapshots carry it.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_stable_and_differ_by_name() {
        // FNV-1a 64 of the empty string is its offset basis; of "a", a published vector.
        assert_eq!(node_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(node_id("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(node_id("n1"), node_id("n2"));
    }
}
