//! sluice-stream: the JetStream-compatible stream layer.
//!
//! Owns: streams (config, limits, dedup, publish acks), their storage (a segment log per stream
//! on disk, or memory; sled for small transactional state), and the `$JS.API` request handlers.
//! It attaches to the server as an in-process client: it subscribes to `$JS.API.>` and to each
//! stream's subjects like any other subscriber, and answers by publishing.
//!
//! Consumers ([`consumer`]): config and API JSON, the delivery/ack state machine, pull and push
//! delivery, acks, redelivery and retention. Each stream's owner (`writer.rs`) owns its
//! consumers, so publishes, acks and deliveries of one stream are ordered without locks.
//! Owners are run by a fixed pool of worker threads (`pool.rs`), not a thread per stream.
//!
//! Every change to a stream or its consumers reaches the owner as a typed, serializable
//! [`op::StreamOp`]: the API's (purge, message delete, config update, consumer create, update
//! and delete, with the times and generated names drawn by the API beforehand), and publishes,
//! acks, pull requests, flow control answers and ticks, which the owner stamps with its step's
//! time when it takes them from its mailbox. The owner proposes them to its op log
//! (`oplog.rs`, the seam for Raft) and applies what the log hands back through one entry point,
//! without reading the clock or drawing random numbers (`apply.rs`); what an op asks of the
//! world (consumer records, subscriptions, advisories) comes back as [`effect::Effect`] values
//! that one shell function performs (`shell.rs`), and its answers go out once the log says
//! it is committed. The API never waits for an owner: the owner
//! answers changes and reads of its store itself, and stream info, lists and monitoring read
//! the snapshot each owner publishes after each step (`snapshot.rs`).
//!
//! Accounts ([`accounts`]): one layer ([`JetStream`]) per account with JetStream, subscribed in
//! that account, with its own streams, consumers, `$JS.API` and store directory; the others
//! are answered 10039. The account's and the server's limits are pure decisions in
//! [`limits`] (reservations of `max_bytes`, `max_streams`, ...) and [`quota`] (stored bytes,
//! checked on the publish path only when a limit applies).
//!
//! In a cluster ([`cluster`]), the JetStream servers share a meta group (a `sluice_raft`
//! group over the routes) that places each stream on a server; every server receives every
//! `$JS.API` request and only the one whose business it is answers. A stream with more than
//! one replica has a Raft group of its own: its owner on every replica applies the group's
//! committed entries, and only the leader's proposes, acks, answers and delivers
//! (`writer/replicated.rs`, `replication.rs`, `cluster/replica.rs`).
//!
//! Must never: reach into the server's connections or router internals (only the public
//! `ServerHandle`), block a publisher's task on a lock or an fsync (messages go to the stream's
//! owner; only under interval sync, with the owner idle and the stream lock free, is a
//! publish stored and written to the OS right on the publisher's task: see `inline.rs`), make
//! the API or a reader wait for a stream's owner, queue without bound (what waits for a
//! stream's owner or the API is counted in a `sluice_server::Backlog`; over its limit, the
//! sending connections stop being read), or send an ack before the promised durability is
//! reached.

pub mod accounts;
pub mod api;
mod apply;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod dedup;
mod deletion;
pub mod effect;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
mod inline;
pub mod jetstream;
pub mod limits;
pub mod meta;
mod monitor;
pub mod op;
mod oplog;
mod pool;
pub mod quota;
mod replication;
mod serde_util;
mod shell;
mod snapshot;
pub mod store;
pub mod stream;
pub mod time;
pub mod writer;

pub use accounts::{JetStreamAccounts, GLOBAL_ACCOUNT};
pub use jetstream::{
    default_store_dir, JetStream, JetStreamConfig, StartError, DEFAULT_QUEUE_BYTES,
};
pub use writer::SyncPolicy;
