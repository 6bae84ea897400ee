//! The `cluster { ... }` block, as nats-server 2.9.10 reads it (`parseCluster` in its
//! `server/opts.go`), plus 2.10's `pool_size`.
//!
//! What the file says is kept in [`ClusterOptions`]; `settings::resolve` layers the cluster
//! flags over it and makes the [`sluice_server::ClusterConfig`]. Stricter than nats-server
//! where it would accept something and ignore it: unknown keys, duplicate routes, a
//! `user` without a `password`, `verify: false` in the cluster's `tls` (nats-server always
//! verifies routes) and `permissions` inside the cluster's `authorization` (deprecated there
//! in nats-server) are errors.

use super::options::{
    boolean, integer, map, positive_duration, string, subject_permission, unknown, wrong_type,
};
use super::tls::{tls, ClientTls, TlsOptions};
use super::value::{ConfError, Kind, Pos, Value};
use sluice_server::cluster_config::{check_advertise, check_cluster_name};
use sluice_server::{RoutePermissions, RoutePool, RouteUrl};
use std::time::Duration;

/// What a `cluster { ... }` block says (`None`: not written).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    pub name: Option<String>,
    /// `host`/`net`, or the host part of `listen`.
    pub host: Option<String>,
    /// `port`, or the port part of `listen`, as nats-server reads it: -1 any free port,
    /// 0 clustering off.
    pub port: Option<i32>,
    pub routes: Option<Vec<RouteUrl>>,
    pub authorization: Option<ClusterAuthOptions>,
    pub permissions: Option<RoutePermissions>,
    pub no_advertise: Option<bool>,
    pub connect_retries: Option<u32>,
    pub pool_size: Option<RoutePool>,
    pub advertise: Option<String>,
    pub tls: Option<TlsOptions>,
    /// Where the block was written, for errors about what it lacks.
    pub pos: Pos,
}

impl ClusterOptions {
    /// No block written (the cluster comes from `--cluster` alone).
    pub fn empty() -> ClusterOptions {
        ClusterOptions {
            name: None,
            host: None,
            port: None,
            routes: None,
            authorization: None,
            permissions: None,
            no_advertise: None,
            connect_retries: None,
            pool_size: None,
            advertise: None,
            tls: None,
            pos: Pos::new(&std::sync::Arc::new(std::path::PathBuf::new()), 0),
        }
    }
}

/// `cluster { authorization { user, password, timeout } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterAuthOptions {
    pub user: String,
    pub password: String,
    pub timeout: Option<Duration>,
}

/// Reads `cluster { ... }`.
pub fn cluster(key: &str, v: &Value) -> Result<ClusterOptions, ConfError> {
    let block = map(key, v)?;
    let mut c = ClusterOptions {
        pos: v.pos.clone(),
        ..ClusterOptions::empty()
    };
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        // nats-server lower-cases the keys of this block.
        match k.to_ascii_lowercase().as_str() {
            "name" => {
                let name = string(k, v)?;
                check_cluster_name(&name).map_err(|e| ConfError::at(&v.pos, e))?;
                c.name = Some(name);
            }
            "listen" => {
                let (host, port) = listen(k, v)?;
                if host.is_some() {
                    c.host = host;
                }
                c.port = Some(port);
            }
            "port" => c.port = Some(port(k, v)?),
            "host" | "net" => c.host = Some(string(k, v)?),
            "authorization" => c.authorization = Some(authorization(k, v)?),
            "routes" => c.routes = Some(routes(k, v)?),
            "tls" => {
                let t = tls(k, v, ClientTls::Routes)?;
                if t.verify == Some(false) {
                    return Err(ConfError::at(
                        &v.pos,
                        "cluster tls: routes always verify each other's certificates (as in \
                         nats-server); remove verify: false",
                    ));
                }
                c.tls = Some(t);
            }
            "advertise" | "cluster_advertise" => {
                let a = string(k, v)?;
                check_advertise(&a).map_err(|e| ConfError::at(&v.pos, format!("cluster {e}")))?;
                c.advertise = Some(a);
            }
            "no_advertise" => c.no_advertise = Some(boolean(k, v)?),
            "connect_retries" => {
                let n = integer(k, v)?;
                c.connect_retries = Some(u32::try_from(n).map_err(|_| {
                    ConfError::at(
                        &v.pos,
                        format!("{k}: must be between 0 and {}, got {n}", u32::MAX),
                    )
                })?);
            }
            "pool_size" => c.pool_size = Some(pool_size(k, v)?),
            "permissions" => c.permissions = Some(permissions(k, v)?),
            _ => unknown(entry, Some("cluster"))?,
        }
    }
    Ok(c)
}

/// A cluster port: -1 (any free port), 0 (nats-server: clustering off) or 1-65535.
fn port(key: &str, v: &Value) -> Result<i32, ConfError> {
    let n = integer(key, v)?;
    if (-1..=65535).contains(&n) {
        Ok(n as i32)
    } else {
        Err(ConfError::at(
            &v.pos,
            format!("cluster {key}: {n} is not a port (use 1-65535, or -1 for a random port)"),
        ))
    }
}

/// `listen`: `HOST:PORT` (`[::1]:6222`, `:6222`) or a port. A host alone is an error, as in
/// nats-server (there is no default cluster port).
fn listen(key: &str, v: &Value) -> Result<(Option<String>, i32), ConfError> {
    let s = match &v.kind {
        Kind::Int { .. } => return Ok((None, port(key, v)?)),
        Kind::Str(s) => s,
        _ => return Err(wrong_type(key, v, "HOST:PORT or a port")),
    };
    let Some((host, port_text)) = s.rsplit_once(':') else {
        return Err(ConfError::at(
            &v.pos,
            format!(
                "cluster {key}: {s:?} has no port (expected HOST:PORT or a port; nats-server \
                 has no default cluster port)"
            ),
        ));
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.contains(':') && !s.starts_with('[') {
        return Err(ConfError::at(
            &v.pos,
            format!("cluster {key}: {s:?}: too many colons (write an IPv6 host in brackets)"),
        ));
    }
    let n: i64 = port_text.parse().map_err(|_| {
        ConfError::at(
            &v.pos,
            format!("cluster {key}: could not parse port {port_text:?}"),
        )
    })?;
    let port = port(
        key,
        &Value {
            kind: Kind::Int {
                value: n,
                text: port_text.to_owned(),
            },
            pos: v.pos.clone(),
        },
    )?;
    Ok(((!host.is_empty()).then(|| host.to_owned()), port))
}

/// `routes: [ URL, ... ]`: each `nats://[user[:pass]@]host:port` or `nats-route://...`.
fn routes(key: &str, v: &Value) -> Result<Vec<RouteUrl>, ConfError> {
    let Kind::Array(items) = &v.kind else {
        return Err(wrong_type(key, v, "an array of route URLs"));
    };
    let mut out: Vec<RouteUrl> = Vec::with_capacity(items.len());
    for item in items {
        let text = match &item.kind {
            Kind::Str(s) => s,
            _ => return Err(wrong_type(key, item, "a route URL (nats://host:port)")),
        };
        let url: RouteUrl = text
            .parse()
            .map_err(|e| ConfError::at(&item.pos, format!("cluster routes: {e}")))?;
        if out.contains(&url) {
            // nats-server warns and drops it; a route written twice is a mistake to show.
            return Err(ConfError::at(
                &item.pos,
                format!("cluster routes: {url} is listed twice"),
            ));
        }
        out.push(url);
    }
    Ok(out)
}

/// `authorization { user password timeout }`: one user, no token, no users list.
fn authorization(key: &str, v: &Value) -> Result<ClusterAuthOptions, ConfError> {
    let block = map(key, v)?;
    let (mut user, mut password, mut timeout) = (None, None, None);
    let refuse = |pos: &Pos, msg: &str| Err(ConfError::at(pos, format!("cluster {msg}")));
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "user" | "username" => user = Some(string(k, v)?),
            "password" | "pass" => password = Some(string(k, v)?),
            "timeout" => timeout = Some(positive_duration(k, v)?),
            // nats-server's own errors for these.
            "token" => return refuse(&entry.pos, "authorization does not support tokens"),
            "users" => return refuse(&entry.pos, "authorization does not allow multiple users"),
            "permissions" => {
                return refuse(
                    &entry.pos,
                    "authorization: permissions here are deprecated in nats-server; write \
                     permissions { import, export } in the cluster block",
                )
            }
            _ => unknown(entry, Some("cluster authorization"))?,
        }
    }
    match (user, password) {
        (Some(user), Some(password)) => Ok(ClusterAuthOptions {
            user,
            password,
            timeout,
        }),
        (Some(_), None) => refuse(&v.pos, "authorization: user without a password"),
        (None, Some(_)) => refuse(&v.pos, "authorization: password without a user"),
        (None, None) => refuse(&v.pos, "authorization: needs a user and a password"),
    }
}

/// `permissions { import, export }` (`publish`/`pub` and `subscribe`/`sub` are nats-server's
/// other spellings of them); no `allow_responses`.
fn permissions(key: &str, v: &Value) -> Result<RoutePermissions, ConfError> {
    let block = map(key, v)?;
    let mut p = RoutePermissions::default();
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "import" | "publish" | "pub" => p.import = Some(subject_permission(k, v)?),
            "export" | "subscribe" | "sub" => p.export = Some(subject_permission(k, v)?),
            "allow_responses" | "allow_response" => {
                return Err(ConfError::at(
                    &entry.pos,
                    "cluster permissions do not support dynamic responses (allow_responses)",
                ))
            }
            _ => unknown(entry, Some("cluster permissions"))?,
        }
    }
    Ok(p)
}

/// `pool_size` (nats-server 2.10): N >= 1 connections per route, 0 the default (3), -1 off.
fn pool_size(key: &str, v: &Value) -> Result<RoutePool, ConfError> {
    match integer(key, v)? {
        -1 => Ok(RoutePool::Off),
        0 => Ok(RoutePool::default()),
        n => u32::try_from(n).map(RoutePool::Size).map_err(|_| {
            ConfError::at(
                &v.pos,
                format!("{key}: {n} (use a number of connections, 0 for the default 3, -1 for no pooling)"),
            )
        }),
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
