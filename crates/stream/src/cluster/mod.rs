//! Clustered JetStream (issue 18): the meta group of stream assignments over the cluster's
//! routes (`service.rs`, `meta_machine.rs`, `meta.rs`), where streams go (`placement.rs`,
//! nats-server's peer selection), who answers which `$JS.API` request (`api.rs`), what a
//! server does about the assignments (`local.rs`), the servers' reports to each other
//! (`peers.rs`), how the meta group is first formed (`bootstrap.rs`) and the log entry of a
//! replicated stream's group (`entry.rs`: one owner step's ops and answer routes). The Raft
//! groups themselves are `sluice_raft`'s; `lost.rs` names the groups a server back on a wiped
//! store may have lost its state in, which must catch up before they vote.
//!
//! Served: streams with one replica, placed on any JetStream server of the cluster and
//! reachable from every one; replicated streams (2 to 5 replicas), each on a Raft group of its
//! own started, changed and removed here (`replica.rs`: the group's machine feeds the stream's
//! owner; membership follows the assignment: scaling, peer removal); step-downs;
//! `SERVER.REMOVE`; the groups' logs in the node's write-ahead log (`logs.rs`); snapshots of
//! stream groups, which purge their logs (`stream_machine.rs`; streams over 64 MiB keep
//! their whole log).

pub(crate) mod api;
pub mod bootstrap;
pub mod entry;
pub(crate) mod local;
pub mod logs;
pub(crate) mod lost;
pub(crate) mod manage;
pub mod meta;
pub mod meta_machine;
pub mod peers;
pub mod placement;
pub(crate) mod replica;
pub mod service;
mod stream_machine;
