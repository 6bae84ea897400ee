//! Clustering for core NATS: routes to the other servers of a cluster, as nats-server 2.9.10
//! speaks them (protocol-spec/routes.md), so that Sluice nodes and nats-server nodes form one
//! full mesh.
//!
//! - `state.rs`: the cluster's shared state ([`Cluster`]): the established routes by the
//!   other server's id, this server's own interest (announced to every route), the client
//!   URLs the other servers announced (for clients' `connect_urls`), and gossip.
//! - `interest.rs`: what the routes are told when local interest changes (`RS+`/`RS-`).
//! - `link.rs`: one route connection: handshake, keepalive, and the ops it receives.
//! - `secure.rs`: TLS on routes (the handshake first, both sides verified).
//! - `peer.rs`: messages between Sluice nodes for the layers above (Raft), in a route account
//!   of their own that clients cannot reach.
//! - `dial.rs`: the cluster listener and the routes this server dials (configured ones, with
//!   retries for ever; ones learnt by gossip, once plus `connect_retries` times).
//!
//! A message crosses at most one route: what arrives from a route is delivered to this
//! server's own subscribers only (`Publisher::publish_from_route`). A subscription learnt from
//! a route is an ordinary entry of the subscription registry whose owner is the route
//! (`Owner::Route`); a queue group's is entered once per member the other server has (its
//! weight), so a pick among all members cluster-wide is uniform, as nats-server's is.

mod dial;
mod interest;
mod link;
pub mod peer;
mod secure;
mod state;

pub(crate) use dial::{bind_listener, reload_routes, run};
pub(crate) use state::{unspecified, Cluster};
