//! The JSON bodies of CONNECT (client -> server) and INFO (server -> client).
//!
//! Field names and JSON shapes are nats-server's. Unknown fields are accepted: on CONNECT they
//! are ignored, on INFO they are kept in `extra` so a client sees everything a server sent.

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// The CONNECT options a client sends.
///
/// Flags are `Option`s because nats-server merges each CONNECT onto the connection's current
/// options: a field the client leaves out keeps its previous value (verbose and pedantic start
/// out true, echo true), so "absent" must be told apart from "false".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectInfo {
    /// Ask for `+OK` after every accepted op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    /// Ask for strict checks (subjects are validated on publish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pedantic: Option<bool>,
    /// The client requires TLS.
    #[serde(default)]
    pub tls_required: bool,
    /// Token authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// User name authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Client name, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Client implementation language, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Client library version, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Protocol level: 0 original, 1 supports dynamic INFO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<i64>,
    /// Whether the client receives its own publishes (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Signed nonce (nkey auth), not supported by Sluice; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// User JWT, not supported by Sluice; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Public nkey, not supported by Sluice; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// The client understands HMSG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<bool>,
    /// The client wants a 503 status message when a request has no responders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_responders: Option<bool>,
}

/// The INFO a server sends on connect. Fields are in the order nats-server writes them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    /// The nats-server version whose feature level the server implements.
    pub version: String,
    #[serde(default)]
    pub proto: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub headers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(default)]
    pub max_payload: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// Sluice's own version (nats-server does not send this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sluice_version: Option<String>,
    /// Any other fields the server sent, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
