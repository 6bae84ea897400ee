//! The JSON bodies of a route's INFO and CONNECT, as nats-server 2.9.10 writes them.
//!
//! Field names, order and `omitempty` rules are those of nats-server's `Info` and
//! `connectInfo` structs (server/server.go, server/route.go), so that encoding a value decoded
//! from nats-server gives back its bytes. Unknown fields are tolerated, as Go's
//! `encoding/json` does: INFO keeps them in [`RouteInfo::extra`] (written after the known
//! ones), CONNECT keeps them in [`RouteConnect::extra`].

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// A subject permission list, as in INFO's `import` and `export` (nats-server's
/// `SubjectPermission`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubjectPermission {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

/// The INFO one server sends another on a route: first by the accepting side as soon as the
/// connection is up, then by the soliciting side right after its CONNECT, and again (with
/// changed fields) when the cluster's membership or URLs change. nats-server writes it as
/// `INFO <json> \r\n` (note the blank before CRLF).
///
/// Fields in nats-server's order; the ones marked "seen" were in every captured route INFO of
/// 2.9.10 (protocol-spec/routes.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RouteInfo {
    /// Seen. The server's unique id (an nkey-style string); routes are keyed by it.
    pub server_id: String,
    /// Seen. The configured server name (the id when none is configured).
    #[serde(default)]
    pub server_name: String,
    /// Seen. nats-server's version, e.g. `2.9.10`.
    #[serde(default)]
    pub version: String,
    /// Seen. Route protocol level: 2 (`RouteProtoV2`, accounts on RS+/RMSG) in 2.9.10.
    #[serde(default)]
    pub proto: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    /// Seen. The Go version nats-server was built with.
    #[serde(default)]
    pub go: String,
    /// Seen. The host of the route listener (or its advertise address).
    #[serde(default)]
    pub host: String,
    /// Seen. The port of the route listener.
    #[serde(default)]
    pub port: u16,
    /// Seen. The server supports headers (HMSG).
    #[serde(default)]
    pub headers: bool,
    /// Seen when the cluster has `authorization`: CONNECT must carry user/pass.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_available: bool,
    /// Seen. The server's max payload.
    #[serde(default)]
    pub max_payload: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub jetstream: bool,
    /// The route URL to reach this server at (`nats-route://host:port/`), set when the cluster
    /// listener has an advertise address or a host that is not "any"; used for gossip.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(default, skip_serializing_if = "is_u64_zero")]
    pub client_id: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    /// Seen. A random nonce (unused by routes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// Seen. The cluster name; CONNECT's must match it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// The cluster name was not configured but picked at random.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Seen. The client URLs of this server, gossiped to clients in their INFO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_connect_urls: Option<Vec<String>>,
    /// Lame-duck mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// Route permissions: what the peer may import from us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    /// Route permissions: what the peer may export to us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    /// Seen. "Leafnode origin cluster": the server understands LS+/LS-/LMSG.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnoc: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub info_on_connect: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_urls: Option<Vec<String>>,
    /// This server's gateway URL, sent on routes when gateways are configured.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway_url: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gateway_cmd: u8,
    /// Base64, as Go writes a `[]byte`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway_cmd_payload: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gateway_nrp: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gateway_iom: bool,
    /// This server's leafnode URLs, sent on routes when leafnodes are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leafnode_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// Any other fields, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn is_u64_zero(n: &u64) -> bool {
    *n == 0
}

/// The CONNECT the soliciting server sends on a route, before its INFO. nats-server writes it
/// as `CONNECT <json>\r\n`; 2.9.10 sends `echo: true`, `verbose: false`, `pedantic: false`,
/// `headers: true`, its server id as `name`, the cluster name and `lnoc: true`, plus
/// `user`/`pass` from the route URL.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RouteConnect {
    #[serde(default)]
    pub echo: bool,
    /// With `true` the acceptor answers every op with `+OK`; nats-server sends `false`.
    #[serde(default)]
    pub verbose: bool,
    #[serde(default)]
    pub pedantic: bool,
    /// Route authorization user, from the route URL's user info.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pass: String,
    #[serde(default)]
    pub tls_required: bool,
    /// The soliciting server supports HMSG.
    #[serde(default)]
    pub headers: bool,
    /// The soliciting server's id (its `server_id`, not its name).
    #[serde(default)]
    pub name: String,
    /// The cluster name; the acceptor refuses a mismatch with
    /// `-ERR 'Rejecting connection, cluster name "x" does not match "y"'`.
    #[serde(default)]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// The solicitor understands LS+/LS-/LMSG. A peer that sends `false` gets RS+/RS-/RMSG
    /// only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lnoc: bool,
    /// Set by a gateway connecting to a route port by mistake; the acceptor refuses it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Any other fields (a client's CONNECT has `lang`, which makes nats-server answer
    /// `-ERR 'attempted to connect to route port'`).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
