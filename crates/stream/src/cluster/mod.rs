//! Clustered JetStream (issue 18), the parts that are pure: where replicas go
//! (`placement.rs`, nats-server's peer selection) and the meta group's machine of stream
//! assignments (`meta.rs`). The Raft groups that carry them are `sluice_raft`'s.
//!
//! Not served yet: a server with JetStream and a cluster is still refused at startup (the
//! stream groups and the API's routing to leaders are not wired); these modules are tested on
//! their own.

pub mod meta;
pub mod placement;
