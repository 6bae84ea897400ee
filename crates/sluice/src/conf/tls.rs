//! The `tls { ... }` block, for clients (top level) and for routes (`cluster { tls {} }`), as
//! nats-server's `parseTLS` reads it, for the keys Sluice serves: `cert_file`, `key_file`,
//! `ca_file`, `verify`, `timeout`; for clients also `verify_and_map` and
//! `handshake_first` (nats-server 2.10.4+; aliases `first`, `immediate`). The top-level
//! `allow_non_tls` is read in `options.rs`, where nats-server reads it.
//!
//! `verify_cert_and_check_known_urls: true` is refused for clients with nats-server's words
//! (`not supported in this context`); for routes, it, `verify_and_map` and `handshake_first`
//! are refused as not served. Other nats-server keys (`cipher_suites`, `pinned_certs`, ...)
//! are unknown keys.

use super::options::{boolean, map, parse_go_duration, positive_duration, string, unknown};
use super::value::{ConfError, Entry, Kind, Pos, Value};
use sluice_server::HandshakeFirst;
use std::path::PathBuf;
use std::time::Duration;

/// nats-server's `DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY` (`handshake_first: auto`).
pub const DEFAULT_FALLBACK: Duration = Duration::from_millis(50);

/// Which `tls` block is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTls {
    /// The top-level one, for client connections.
    Clients,
    /// The cluster's, for routes.
    Routes,
}

impl ClientTls {
    fn block_name(self) -> &'static str {
        match self {
            ClientTls::Clients => "tls",
            ClientTls::Routes => "cluster tls",
        }
    }
}

/// A `tls { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub verify: Option<bool>,
    pub timeout: Option<Duration>,
    /// `verify_and_map` (true also sets `verify`, as in nats-server).
    pub verify_and_map: Option<bool>,
    pub handshake_first: Option<HandshakeFirst>,
    /// Where the block was written, for errors about what it lacks.
    pub pos: Pos,
}

/// Refuses a key Sluice does not serve in this block, by name.
fn not_served(entry: &Entry, which: ClientTls, why: &str) -> ConfError {
    ConfError::at(
        &entry.pos,
        format!(
            "{:?} in {} is not served yet ({why})",
            entry.key,
            which.block_name()
        ),
    )
}

/// Reads a `tls` block.
pub fn tls(key: &str, v: &Value, which: ClientTls) -> Result<TlsOptions, ConfError> {
    let block = map(key, v)?;
    let mut t = TlsOptions {
        cert_file: None,
        key_file: None,
        ca_file: None,
        verify: None,
        timeout: None,
        verify_and_map: None,
        handshake_first: None,
        pos: v.pos.clone(),
    };
    let routes = which == ClientTls::Routes;
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "cert_file" => t.cert_file = Some(PathBuf::from(string(k, v)?)),
            "key_file" => t.key_file = Some(PathBuf::from(string(k, v)?)),
            "ca_file" => t.ca_file = Some(PathBuf::from(string(k, v)?)),
            "verify" => t.verify = Some(boolean(k, v)?),
            "timeout" => t.timeout = Some(positive_duration(k, v)?),
            "verify_and_map" if routes => {
                return Err(not_served(
                    entry,
                    which,
                    "routes authenticate with the cluster's authorization",
                ));
            }
            "verify_and_map" => t.verify_and_map = Some(boolean(k, v)?),
            "verify_cert_and_check_known_urls" => {
                if boolean(k, v)? {
                    return Err(if routes {
                        not_served(
                            entry,
                            which,
                            "route certificates are checked against the CA",
                        )
                    } else {
                        // nats-server's words.
                        ConfError::at(
                            &v.pos,
                            "verify_cert_and_check_known_urls not supported in this context",
                        )
                    });
                }
            }
            "handshake_first" | "first" | "immediate" if routes => {
                return Err(not_served(
                    entry,
                    which,
                    "routes always start with the TLS handshake",
                ));
            }
            "handshake_first" | "first" | "immediate" => {
                t.handshake_first = Some(handshake_first(k, v)?);
            }
            "allow_non_tls" if !routes => {
                return Err(ConfError::at(
                    &entry.pos,
                    "unknown key \"allow_non_tls\" in tls (as in nats-server, it is a \
                     top-level key: write allow_non_tls: true outside the tls block)",
                ));
            }
            _ => unknown(entry, Some(which.block_name()))?,
        }
    }
    Ok(t)
}

/// `handshake_first`: a boolean, or `"true"`/`"on"`, `"false"`/`"off"`, `"auto"`/
/// `"auto_fallback"` (a 50ms fallback) or a duration (the fallback delay), as nats-server
/// 2.10.4+ reads it; its error texts.
fn handshake_first(key: &str, v: &Value) -> Result<HandshakeFirst, ConfError> {
    let on = |b: bool| {
        if b {
            HandshakeFirst::On
        } else {
            HandshakeFirst::Off
        }
    };
    match &v.kind {
        Kind::Bool(b) => Ok(on(*b)),
        Kind::Str(s) => match s.to_lowercase().as_str() {
            "true" | "on" => Ok(HandshakeFirst::On),
            "false" | "off" => Ok(HandshakeFirst::Off),
            "auto" | "auto_fallback" => Ok(HandshakeFirst::Fallback(DEFAULT_FALLBACK)),
            _ => match parse_go_duration(s) {
                // nats-server: a zero delay means no fallback.
                Some(d) if d.is_zero() => Ok(HandshakeFirst::On),
                Some(d) => Ok(HandshakeFirst::Fallback(d)),
                None => Err(ConfError::at(
                    &v.pos,
                    format!("field {key:?}'s value {s:?} is invalid"),
                )),
            },
        },
        // nats-server's words, with Go's names of the types (`2m` unquoted is a size there
        // too: an int64; `300ms` is a string).
        other => {
            let go_type = match other {
                Kind::Int { .. } => "int64",
                Kind::Float(_) => "float64",
                Kind::Array(_) => "[]interface {}",
                _ => "map[string]interface {}",
            };
            Err(ConfError::at(
                &v.pos,
                format!("field {key:?} should be a boolean or a string, got {go_type}"),
            ))
        }
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
