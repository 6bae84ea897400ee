//! sluice-server: the tokio server.
//!
//! Owns: accepting connections (plaintext, or TLS with rustls as nats-server does it: INFO
//! in plaintext, then the client's handshake; or the handshake first; or either, with
//! `allow_non_tls`; users named by their client certificate with `verify_and_map`), the per-connection read loop (socket -> codec
//! -> router -> outbound buffers -> socket), CONNECT handling and auth, limits, keepalive,
//! slow-consumer protection, graceful shutdown through a cancellation token, lame-duck mode,
//! accounts (each a subject space with its own subscription registry; a client is bound to
//! its user's account at CONNECT) and their exports and imports (`imports/`: shadow
//! subscriptions for stream imports, `_R_` reply mappings for service imports), nkey and
//! operator-mode logins (`auth`, with the pure JWT checks of `jwt/`), the system account's
//! events and requests (`events`), account JWT updates at runtime (`claim_updates`),
//! routes to the other servers of a cluster (nats-server's route protocol: interest announced
//! with `RS+`/`RS-` per account, messages forwarded one hop with `RMSG` in their account,
//! gossip to a full mesh),
//! and in-process clients ([`ServerHandle`]: subscribe a sink, publish like any client) for
//! the layers above, with backpressure from them: a sink may fill a bounded [`Backlog`], and a
//! client connection that delivered into a full one reads nothing more until it has room, so
//! TCP paces the producer.
//!
//! Must never: know about streams or JetStream (the stream layer sits above and attaches as
//! an internal client), block a publisher on a slow reader, or panic on client input.
//!
//! Modules import one way only (no import cycles). On top, the accept loop (`server`, `tls`;
//! `tls_map` finds the user a client certificate names, from what `cert_names` reads out of
//! it) and the per-connection read loop (`client`), which routes messages (`route`) through the
//! subscription registry (`shared`) into outbound buffers (`outbound`); `cluster` runs the
//! routes (a route's interest is registry entries owned by it, `handle::Owner::Route`) and
//! `routez` reports them. What several modules
//! share lives in leaf modules that import none of their users: `handle` (a connection's
//! shared half, the subscriptions that point at it, and the accounts whose registries hold
//! them), `sink` (in-process deliveries),
//! `js_monitor` (what the stream layer reports), `config`, `cluster_config` (clustering's
//! configuration), `error` and `stats`; and `jwt` (NATS JWTs for operator mode: decoding and
//! verification, pure, not wired into authentication yet).

mod accountz;
mod auth;
mod cert_names;
mod claim_updates;
mod client;
mod cluster;
pub mod cluster_config;
pub mod config;
mod error;
mod events;
mod handle;
pub mod imports;
mod internal;
mod js_monitor;
pub mod jwt;
mod monitor;
mod outbound;
mod perms;
mod pressure;
mod route;
mod routez;
mod server;
mod shared;
mod sink;
mod stats;
mod tls;
mod tls_map;

pub use auth::is_user_nkey;
pub use cluster::peer::{Peer, PeerError, PeerHandler, PEER_ACCOUNT};
pub use cluster_config::{
    ClusterConfig, RouteAuth, RoutePermissions, RoutePool, RouteScheme, RouteUrl,
};
pub use config::{
    AccountConfig, Auth, Export, ExportKind, HandshakeFirst, Import, JwtAuth, Permissions,
    ResponsePermission, ResponseType, ServerConfig, SubjectPermission, TlsConfig, User,
};
pub use error::ServerError;
pub use internal::{Batch, InternalSubscription, ServerHandle};
pub use js_monitor::{
    ConsumerStats, JetStreamLimits, JetStreamMonitor, JetStreamStats, MetaCluster, PeerReplica,
    RaftStats, StreamGroup, StreamStats,
};
pub use monitor::Monitor;
pub use pressure::Backlog;
pub use server::Server;
pub use sink::{InternalMsg, InternalSink};
pub use tokio_util::sync::CancellationToken;

/// The nats-server version whose feature level Sluice implements; INFO's `version`.
pub const NATS_COMPAT_VERSION: &str = "2.10.0";
/// Sluice's own version; INFO's `sluice_version` and `sluice --version`.
pub const SLUICE_VERSION: &str = env!("CARGO_PKG_VERSION");
