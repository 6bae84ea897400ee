//! The JSON bodies of CONNECT (client -> server) and INFO (server -> client).
//!
//! Field names and JSON shapes are nats-server's. Unknown fields are accepted: on CONNECT they
//! are ignored, on INFO they are kept in `extra` so a client sees everything a server sent.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The CONNECT options a client sends.
///
/// Flags are `Option`s because nats-server merges each CONNECT onto the connection's current
/// options: a field the client leaves out keeps its previous value (verbose and pedantic start
/// out true, echo true), so "absent" must be told apart from "false".
///
/// Decoding follows nats-server (Go's `encoding/json` decoding onto its options) rather than
/// serde's usual rules, so every CONNECT nats-server accepts means the same here:
///
/// * `null` is the same as leaving the field out (`None`; for `tls_required`, false);
/// * keys match case-insensitively (`"Verbose"` sets `verbose`), and when a key repeats the
///   last non-null value wins;
/// * unknown keys are ignored; a known key whose value has the wrong JSON type is an error, as
///   is anything but one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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
    /// The nonce of the server's INFO, signed with the client's nkey (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// User JWT, not supported by Sluice; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// The client's public nkey (an nkey user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// The client understands HMSG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<bool>,
    /// The client wants a 503 status message when a request has no responders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_responders: Option<bool>,
    /// An account to bind to. nats-server refuses a CONNECT with a non-empty `account` with
    /// `Authorization Violation`, with or without auth configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Ask for a new account. nats-server refuses `"new_account": true` with
    /// `Authorization Violation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_account: Option<bool>,
}

/// Sets `slot` to the next value, unless that is `null`.
fn set<'de, A, T>(map: &mut A, slot: &mut T) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if let Some(v) = map.next_value::<Option<T>>()? {
        *slot = v;
    }
    Ok(())
}

/// Sets an optional `slot` to the next value, unless that is `null`.
fn set_some<'de, A, T>(map: &mut A, slot: &mut Option<T>) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if let Some(v) = map.next_value::<Option<T>>()? {
        *slot = Some(v);
    }
    Ok(())
}

struct ConnectVisitor;

impl<'de> Visitor<'de> for ConnectVisitor {
    type Value = ConnectInfo;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CONNECT JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectInfo, A::Error> {
        let mut c = ConnectInfo::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.to_ascii_lowercase().as_str() {
                "verbose" => set_some(&mut map, &mut c.verbose)?,
                "pedantic" => set_some(&mut map, &mut c.pedantic)?,
                "tls_required" => set(&mut map, &mut c.tls_required)?,
                "auth_token" => set_some(&mut map, &mut c.auth_token)?,
                "user" => set_some(&mut map, &mut c.user)?,
                "pass" => set_some(&mut map, &mut c.pass)?,
                "name" => set_some(&mut map, &mut c.name)?,
                "lang" => set_some(&mut map, &mut c.lang)?,
                "version" => set_some(&mut map, &mut c.version)?,
                "protocol" => set_some(&mut map, &mut c.protocol)?,
                "echo" => set_some(&mut map, &mut c.echo)?,
                "sig" => set_some(&mut map, &mut c.sig)?,
                "jwt" => set_some(&mut map, &mut c.jwt)?,
                "nkey" => set_some(&mut map, &mut c.nkey)?,
                "headers" => set_some(&mut map, &mut c.headers)?,
                "no_responders" => set_some(&mut map, &mut c.no_responders)?,
                "account" => set_some(&mut map, &mut c.account)?,
                "new_account" => set_some(&mut map, &mut c.new_account)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(c)
    }
}

impl<'de> Deserialize<'de> for ConnectInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ConnectVisitor)
    }
}

/// The INFO a server sends on connect. Fields are in the order nats-server writes them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server_id: String,
    /// Absent from the INFO of nats-server before 2.2; empty then.
    #[serde(default)]
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
