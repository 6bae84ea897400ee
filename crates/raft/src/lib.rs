//! sluice-raft: a replicated log for many Raft groups on one node, on openraft.
//!
//! Owns: the groups a node takes part in (one meta group, one per replicated stream), their
//! log storage on disk, and the transport of Raft messages between nodes over the cluster's
//! routes. An entry is opaque bytes: a group replicates what the layer above proposes and hands
//! committed entries back to it, in order, on every replica ([`machine::Machine`]).
//!
//! - [`node::RaftNode`]: a node's groups, and the answers to other nodes' messages.
//! - [`wal`]: one write-ahead log per node for every group (appends of many groups share an
//!   fsync); [`machine::MachineStore`]: the adapter to the layer above's machine, with its
//!   snapshot file.
//! - [`routes::RouteTransport`]: Raft frames as peer messages over the routes, in a route
//!   account no client reaches ([`transport`] is the seam; [`testing`] has an in-memory one).
//! - `liveness.rs`: servers beat each other so that idle groups can stop their own heartbeats
//!   and timers; [`config::Timing`] holds every timing.
//! - `amnesia.rs`: a group started empty on a node that may have lost its store (the layer
//!   above says so: [`GroupOptions::recovering`]) refuses to vote until it has caught up.
//!
//! Must never: know what an entry means (streams, consumers and assignments are the stream
//! layer's), acknowledge an append before it is on disk, vote with a log that may have lost
//! what it acknowledged, or queue without bound.

mod amnesia;
pub mod config;
mod liveness;
pub mod machine;
pub mod node;
pub mod routes;
pub mod rpc;
pub mod transport;
pub mod types;
pub mod wal;

/// Test doubles (a memory log, an in-process network, a recording machine), public for the
/// layers above's tests.
pub mod testing;
#[cfg(test)]
mod tests;

pub use config::Timing;
pub use machine::{Committed, Machine, MachineStore};
pub use node::{GroupOptions, NodeError, RaftNode};
pub use routes::RouteTransport;
pub use transport::{Transport, Unreachable};
pub use types::{node_id, GroupId, NodeId, TypeConfig};
