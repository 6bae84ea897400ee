//! What the stream layer reports for monitoring, and how it registers (through
//! [`crate::ServerHandle::set_jetstream_monitor`]). Plain types: the HTTP side is `monitor.rs`.

use std::sync::Arc;

/// What the stream layer reports for `/jsz`, `/varz` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JetStreamStats {
    /// Bytes in memory streams.
    pub memory: u64,
    /// Bytes in file streams.
    pub storage: u64,
    /// Bytes the streams' `max_bytes` reserve of the server's limits, by storage.
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    /// Accounts with JetStream.
    pub accounts: u64,
    pub streams: u64,
    pub consumers: u64,
    /// Messages in all streams.
    pub messages: u64,
    /// Bytes in all streams.
    pub bytes: u64,
    /// `$JS.API` requests served, and how many of them failed.
    pub api_total: u64,
    pub api_errors: u64,
    /// Per stream; filled only when asked for details.
    pub stream_list: Vec<StreamStats>,
    /// The meta group, when JetStream is clustered (`/jsz`'s `meta_cluster`).
    pub meta: Option<MetaCluster>,
    /// This server's Raft groups and log, when JetStream is clustered.
    pub raft: Option<RaftStats>,
}

/// This server's Raft groups and write-ahead log (`/jsz`'s `raft`, a Sluice extension, and
/// the `sluice_raft_*` metrics).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RaftStats {
    /// Groups running here (the meta group included).
    pub groups: u64,
    /// Groups led here.
    pub leaders: u64,
    /// Append batches, entries, bytes and fsyncs of the write-ahead log since it opened.
    pub wal_appends: u64,
    pub wal_entries: u64,
    pub wal_bytes: u64,
    pub wal_fsyncs: u64,
    /// Each replicated stream held here.
    pub streams: Vec<StreamGroup>,
}

/// A replicated stream's group as this server sees it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StreamGroup {
    pub stream: String,
    pub raft_group: String,
    /// Absent while the group has no leader.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
    /// The other members, with their lag as the leader sees it (on the leader only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<PeerReplica>,
    /// The last log index this server's latest snapshot of the group holds (absent: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub snapshot: u64,
    /// The log index up to which this server's log of the group is purged (absent: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub purged: u64,
}

/// The JetStream meta group as `/jsz` shows it (nats-server's `MetaClusterInfo`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MetaCluster {
    pub name: String,
    /// Absent while the group has no leader.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
    /// The leader's peer id (nats-server: the 8-character hash of its name), on every server.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// The other members, on the leader only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<PeerReplica>,
    pub cluster_size: usize,
}

/// A member of a Raft group as the leader sees it (nats-server's `PeerInfo`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PeerReplica {
    pub name: String,
    pub current: bool,
    /// Nanoseconds since it was last heard from.
    pub active: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub lag: u64,
    pub peer: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One stream, for details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    pub name: String,
    pub messages: u64,
    pub bytes: u64,
    pub consumers: Vec<ConsumerStats>,
}

/// One consumer, for details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerStats {
    pub name: String,
    pub num_pending: u64,
    pub num_redelivered: u64,
    pub num_ack_pending: u64,
}

/// JetStream's configured limits and store, as `/varz` and `/jsz` show them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JetStreamLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub store_dir: String,
}

/// The stream layer's side of monitoring. Called off the async runtime (on a blocking
/// thread), so it may block briefly; the stream layer answers it from published
/// snapshots and does not wait for its streams.
pub trait JetStreamMonitor: Send + Sync + 'static {
    /// Totals; with `detail`, also `stream_list` with each stream's consumers.
    fn stats(&self, detail: bool) -> JetStreamStats;
}

/// The registered JetStream monitor.
pub(crate) struct JsRegistration {
    pub(crate) limits: JetStreamLimits,
    pub(crate) source: Arc<dyn JetStreamMonitor>,
}
