//! The keys sluice reads from a parsed configuration file, and what each may hold.
//!
//! Every key is optional; [`FileOptions`] keeps what the file said (`None`: not written) so
//! that defaults and command-line flags can be layered around it. Unknown keys, wrong types
//! and bad combinations are errors that name the file and line.

use super::accounts;
use super::cluster::{self, ClusterOptions};
use super::lexer::classify;
pub use super::tls::TlsOptions;
use super::tls::{tls, ClientTls};
use super::value::{ConfError, Entry, Kind, Map, Pos, Value};
use sluice_server::{AccountConfig, Auth, Permissions, ResponsePermission, SubjectPermission};
use sluice_stream::SyncPolicy;
use std::path::PathBuf;
use std::time::Duration;

/// What a configuration file sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileOptions {
    /// `host`/`net`, or the host part of `listen`.
    pub host: Option<String>,
    /// `port`, or the port part of `listen` (-1 written is 0 here: any free port).
    pub port: Option<u16>,
    pub server_name: Option<String>,
    /// `server_tags: [..]` (or one comma-separated string): this server's tags for placement.
    pub server_tags: Option<Vec<String>>,
    /// `http: HOST:PORT` or `http_port: PORT`: HTTP monitoring on (`http_port: 0`: off).
    pub monitoring: Option<HttpListen>,
    pub max_payload: Option<usize>,
    pub max_pending: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_control_line: Option<usize>,
    pub ping_interval: Option<Duration>,
    pub ping_max: Option<u32>,
    pub write_deadline: Option<Duration>,
    pub debug: Option<bool>,
    pub trace: Option<bool>,
    pub logfile: Option<PathBuf>,
    /// From `authorization { ... }`, with the users of `accounts { ... }` (see
    /// [`super::accounts`]).
    pub auth: Option<Auth>,
    /// `authorization { timeout }`.
    pub auth_timeout: Option<Duration>,
    /// `jetstream ...`.
    pub jetstream: Option<JetStreamOptions>,
    /// `tls { ... }`.
    pub tls: Option<TlsOptions>,
    /// `allow_non_tls` (nats-server reads it at the top level, not in `tls {}`).
    pub allow_non_tls: Option<bool>,
    pub lame_duck_duration: Option<Duration>,
    pub lame_duck_grace_period: Option<Duration>,
    /// `cluster { ... }` (see [`super::cluster`]).
    pub cluster: Option<ClusterOptions>,
    /// `accounts { ... }` (their users are in `auth`).
    pub accounts: Option<Vec<AccountConfig>>,
    /// The accounts whose `jetstream` key enables JetStream, with their limits
    /// (`account_jetstream.rs`).
    pub jetstream_accounts: Vec<(String, sluice_stream::api::types::AccountLimits)>,
    /// `no_auth_user`: the user a client that presents no credentials connects as.
    pub no_auth_user: Option<String>,
    /// `system_account`: the account whose users see the server's events.
    pub system_account: Option<String>,
    /// Operator mode (`operator`, `resolver`, `resolver_preload`; see [`super::operator`]).
    pub operator: Option<super::operator::OperatorConfig>,
}

/// Where HTTP monitoring listens, as the file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpListen {
    /// The host part of `http: HOST:PORT`; `None`: the client listener's host.
    pub host: Option<String>,
    /// 0: any free port.
    pub port: u16,
}

/// The `jetstream` key: `jetstream: true`, `jetstream: enabled`, or a block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JetStreamOptions {
    pub enabled: bool,
    pub store_dir: Option<PathBuf>,
    pub max_memory_store: Option<i64>,
    pub max_file_store: Option<i64>,
    /// `sync_interval: always | DURATION` (nats-server's key; sluice's `--sync`).
    pub sync: Option<SyncPolicy>,
    /// `max_queued: SIZE` (Sluice's own): bytes that may wait for one stream's writer, or for
    /// the API, before the connections sending them stop being read.
    pub max_queued: Option<usize>,
    /// `unique_tag: PREFIX`: servers sharing a tag with this prefix never hold replicas of
    /// the same stream.
    pub unique_tag: Option<String>,
    /// `domain: NAME`: the JetStream domain (`$JS.<domain>.API`).
    pub domain: Option<String>,
}

/// Reads the top-level block of a configuration file.
pub fn from_map(map: &Map) -> Result<FileOptions, ConfError> {
    let mut o = FileOptions::default();
    let (mut authorization, mut accounts, mut no_auth_user) = (None, None, None);
    let mut system_account = None;
    o.operator = super::operator::operator_config(map)?;
    for entry in &map.entries {
        let v = &entry.value;
        let key = entry.key.as_str();
        if o.operator.is_some() {
            // Operator mode: users and accounts come from JWTs.
            match key {
                "authorization" | "accounts" | "no_auth_user" => {
                    return Err(ConfError::at(
                        &entry.pos,
                        format!(
                            "{key:?} cannot be used with an operator (operator mode takes users \
                             and accounts from JWTs)"
                        ),
                    ))
                }
                _ if super::operator::is_operator_key(key) => continue,
                _ => {}
            }
        }
        match key {
            "listen" => {
                let (host, port) = listen(key, v)?;
                if let Some(host) = host {
                    o.host = Some(host);
                }
                o.port = Some(port);
            }
            "host" | "net" => o.host = Some(string(key, v)?),
            "port" => o.port = Some(port(key, v)?),
            "server_name" => o.server_name = Some(string(key, v)?),
            "server_tags" => o.server_tags = Some(tags(key, v)?),
            "http" => {
                let (host, port) = listen(key, v)?;
                o.monitoring = Some(HttpListen { host, port });
            }
            "http_port" => {
                // As with `-m`: 0 means monitoring off, -1 any free port.
                o.monitoring = http_port(key, v)?.map(|port| HttpListen { host: None, port });
            }
            "max_payload" => o.max_payload = Some(positive_size(key, v)?),
            "max_pending" => o.max_pending = Some(positive_size(key, v)?),
            "max_connections" | "max_conn" => o.max_connections = Some(positive_size(key, v)?),
            "max_control_line" => o.max_control_line = Some(positive_size(key, v)?),
            "ping_interval" => o.ping_interval = Some(positive_duration(key, v)?),
            "ping_max" => {
                let n = integer(key, v)?;
                o.ping_max = Some(u32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                    ConfError::at(&v.pos, format!("{key}: must be between 1 and {}", u32::MAX))
                })?);
            }
            "write_deadline" => o.write_deadline = Some(positive_duration(key, v)?),
            "debug" => o.debug = Some(boolean(key, v)?),
            "trace" => o.trace = Some(boolean(key, v)?),
            "logfile" | "log_file" => o.logfile = Some(PathBuf::from(string(key, v)?)),
            "authorization" => {
                let block = accounts::authorization(key, v)?;
                if block.timeout.is_some() {
                    o.auth_timeout = block.timeout;
                }
                authorization = Some(block);
            }
            "accounts" => accounts = Some(accounts::accounts(key, v)?),
            "no_auth_user" => {
                let name = string(key, v)?;
                // As nats-server: empty is none.
                no_auth_user = (!name.is_empty()).then(|| (name, v.pos.clone()));
            }
            "system_account" | "system" => system_account = Some((string(key, v)?, v.pos.clone())),
            _ if super::operator::is_operator_key(key) => {
                // operator_config refuses these without an operator; kept for safety.
                return Err(accounts::not_served(entry, None));
            }
            _ if accounts::NOT_SERVED.contains(&key) => {
                return Err(accounts::not_served(entry, None));
            }
            "jetstream" => o.jetstream = Some(jetstream(key, v)?),
            "tls" => o.tls = Some(tls(key, v, ClientTls::Clients)?),
            "allow_non_tls" => o.allow_non_tls = Some(boolean(key, v)?),
            "cluster" => o.cluster = Some(cluster::cluster(key, v)?),
            "lame_duck_duration" => o.lame_duck_duration = Some(positive_duration(key, v)?),
            "lame_duck_grace_period" => o.lame_duck_grace_period = Some(duration(key, v)?),
            _ => unknown(entry, None)?,
        }
    }
    accounts::finish(authorization, accounts, no_auth_user, &mut o)?;
    if let Some((name, pos)) = system_account {
        accounts::check_system_account(&name, &pos, o.accounts.as_deref())?;
        o.system_account = Some(name);
    }
    if let Some(payload) = o.max_payload {
        let pending = o
            .max_pending
            .unwrap_or_else(|| sluice_server::ServerConfig::default().max_pending);
        if payload > pending {
            let pos = &map_pos(map, "max_payload");
            return Err(ConfError::at(
                pos,
                format!("max_payload ({payload}) cannot be higher than max_pending ({pending})"),
            ));
        }
    }
    Ok(o)
}

/// Where `key`'s (last) value was written.
fn map_pos(map: &Map, key: &str) -> Pos {
    map.entries
        .iter()
        .rev()
        .find(|e| e.key == key)
        .map(|e| e.pos.clone())
        .expect("key present")
}

/// An unknown key is an error unless it was only there to be a `$variable`.
pub(super) fn unknown(entry: &Entry, block: Option<&str>) -> Result<(), ConfError> {
    if entry.used_as_variable {
        return Ok(());
    }
    let key = &entry.key;
    Err(ConfError::at(
        &entry.pos,
        match block {
            None => format!("unknown key {key:?}"),
            Some(block) => format!("unknown key {key:?} in {block}"),
        },
    ))
}

pub(super) fn wrong_type(key: &str, v: &Value, expected: &str) -> ConfError {
    let got = match &v.kind {
        Kind::Str(s) => format!("the string {s:?}"),
        Kind::Int { text, .. } => format!("the integer {text}"),
        Kind::Float(f) => format!("the float {f}"),
        Kind::Bool(b) => format!("the boolean {b}"),
        other => other.describe().to_owned(),
    };
    ConfError::at(&v.pos, format!("{key}: expected {expected}, got {got}"))
}

pub(super) fn string(key: &str, v: &Value) -> Result<String, ConfError> {
    match &v.kind {
        Kind::Str(s) => Ok(s.clone()),
        _ => Err(wrong_type(key, v, "a string")),
    }
}

pub(super) fn boolean(key: &str, v: &Value) -> Result<bool, ConfError> {
    match v.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(wrong_type(key, v, "true or false")),
    }
}

pub(super) fn integer(key: &str, v: &Value) -> Result<i64, ConfError> {
    match v.kind {
        Kind::Int { value, .. } => Ok(value),
        _ => Err(wrong_type(key, v, "an integer")),
    }
}

pub(super) fn map<'v>(key: &str, v: &'v Value) -> Result<&'v Map, ConfError> {
    match &v.kind {
        Kind::Map(m) => Ok(m),
        _ => Err(wrong_type(key, v, "a block { ... }")),
    }
}

/// A size: an integer, with or without a suffix (`1MB`, `64KB`), or the same quoted.
fn size(key: &str, v: &Value) -> Result<i64, ConfError> {
    let expected = "a size (a number of bytes, or like 64KB, 1MB, 1GB)";
    match &v.kind {
        Kind::Int { value, .. } => Ok(*value),
        Kind::Str(s) => match classify(s.trim()) {
            Ok(Kind::Int { value, .. }) => Ok(value),
            _ => Err(wrong_type(key, v, expected)),
        },
        _ => Err(wrong_type(key, v, expected)),
    }
}

fn positive_size(key: &str, v: &Value) -> Result<usize, ConfError> {
    let n = size(key, v)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ConfError::at(&v.pos, format!("{key}: must be positive, got {n}")))
}

/// A duration: a string like `2m`, `500ms`, `1h30m` (Go's syntax), `2m` unquoted, or a
/// number of seconds.
fn duration(key: &str, v: &Value) -> Result<Duration, ConfError> {
    let expected = "a duration (like 2m, 10s, 500ms, or a number of seconds)";
    let text = match &v.kind {
        Kind::Str(s) => s.as_str(),
        // `2m` unquoted reads as the integer 2000000 (m is a size suffix); as a duration
        // it means two minutes.
        Kind::Int { value, text } => {
            if text.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Duration::from_secs(*value as u64));
            }
            text.as_str()
        }
        Kind::Float(f) if *f >= 0.0 && f.is_finite() => {
            // Not from_secs_f64, which panics on a value too large for a Duration.
            return Duration::try_from_secs_f64(*f).map_err(|_| {
                ConfError::at(&v.pos, format!("{key}: {f} seconds is too long a duration"))
            });
        }
        _ => return Err(wrong_type(key, v, expected)),
    };
    parse_go_duration(text).ok_or_else(|| wrong_type(key, v, expected))
}

pub(super) fn positive_duration(key: &str, v: &Value) -> Result<Duration, ConfError> {
    let d = duration(key, v)?;
    if d.is_zero() {
        return Err(ConfError::at(&v.pos, format!("{key}: must be more than 0")));
    }
    Ok(d)
}

/// Go's `time.ParseDuration` for non-negative durations: `300ms`, `1.5h`, `2h45m`, `0`.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let s = text.strip_prefix('+').unwrap_or(text);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * nanos;
        rest = after;
    }
    (total < u64::MAX as f64).then(|| Duration::from_nanos(total as u64))
}

/// nats-server's port: -1 is any free port (0 here), 0 the default port.
fn port(key: &str, v: &Value) -> Result<u16, ConfError> {
    let n = integer(key, v)?;
    match n {
        -1 => Ok(0),
        0 => Ok(crate::DEFAULT_PORT),
        n => u16::try_from(n).map_err(|_| {
            ConfError::at(
                &v.pos,
                format!("{key}: {n} is not a port (use 0-65535, or -1 for a random port)"),
            )
        }),
    }
}

/// `http_port`: `None` for 0 (monitoring off), `Some(0)` for -1 (any free port).
fn http_port(key: &str, v: &Value) -> Result<Option<u16>, ConfError> {
    match integer(key, v)? {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        n => u16::try_from(n).map(Some).map_err(|_| {
            ConfError::at(
                &v.pos,
                format!("{key}: {n} is not a port (use 1-65535, -1 for a random port, 0 for off)"),
            )
        }),
    }
}

/// `listen`/`http`: `HOST:PORT` (`[::1]:4222`, `:4222`), or a port alone.
fn listen(key: &str, v: &Value) -> Result<(Option<String>, u16), ConfError> {
    let s = match &v.kind {
        Kind::Int { .. } => return Ok((None, port(key, v)?)),
        Kind::Str(s) => s,
        _ => return Err(wrong_type(key, v, "HOST:PORT or a port")),
    };
    let bad = || wrong_type(key, v, "HOST:PORT or a port");
    let (host, port_text) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port_value = Value {
        kind: classify(port_text).map_err(|_| bad())?,
        pos: v.pos.clone(),
    };
    let port = port(key, &port_value).map_err(|_| bad())?;
    Ok(((!host.is_empty()).then(|| host.to_owned()), port))
}

/// `permissions { publish subscribe allow_responses }`.
pub(super) fn permissions(key: &str, v: &Value) -> Result<Permissions, ConfError> {
    let block = map(key, v)?;
    let mut p = Permissions::default();
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "publish" | "pub" => p.publish = Some(subject_permission(k, v)?),
            "subscribe" | "sub" => p.subscribe = Some(subject_permission(k, v)?),
            "allow_responses" | "allow_response" => p.allow_responses = allow_responses(k, v)?,
            _ => unknown(entry, Some("permissions"))?,
        }
    }
    Ok(p)
}

/// `"subj"`, `["a", "b"]` (both: allow lists), or `{ allow: ..., deny: ... }`.
pub(super) fn subject_permission(key: &str, v: &Value) -> Result<SubjectPermission, ConfError> {
    match &v.kind {
        Kind::Map(block) => {
            let mut p = SubjectPermission::default();
            for entry in &block.entries {
                let (k, v) = (entry.key.as_str(), &entry.value);
                match k {
                    "allow" => p.allow = subjects(k, v)?,
                    "deny" => p.deny = subjects(k, v)?,
                    _ => unknown(entry, Some(key))?,
                }
            }
            Ok(p)
        }
        _ => Ok(SubjectPermission {
            allow: subjects(key, v)?,
            deny: Vec::new(),
        }),
    }
}

/// A subject or an array of subjects.
fn subjects(key: &str, v: &Value) -> Result<Vec<String>, ConfError> {
    let expected = "a subject or an array of subjects";
    let one = |v: &Value| match &v.kind {
        Kind::Str(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(wrong_type(key, v, expected)),
    };
    match &v.kind {
        Kind::Array(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(v)?]),
    }
}

/// `true`/`false`, or `{ max: N, expires: DURATION }`.
fn allow_responses(key: &str, v: &Value) -> Result<Option<ResponsePermission>, ConfError> {
    match &v.kind {
        Kind::Bool(true) => Ok(Some(ResponsePermission::default())),
        Kind::Bool(false) => Ok(None),
        Kind::Map(block) => {
            let mut rp = ResponsePermission::default();
            for entry in &block.entries {
                let (k, v) = (entry.key.as_str(), &entry.value);
                match k {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        rp.max = positive_size(k, v)?;
                    }
                    "expires" | "expiration" | "ttl" => rp.expires = duration(k, v)?,
                    _ => unknown(entry, Some(key))?,
                }
            }
            Ok(Some(rp))
        }
        _ => Err(wrong_type(key, v, "true, false or { max, expires }")),
    }
}

/// `server_tags`: an array of strings, or one string of comma-separated tags; each trimmed
/// and lower-cased (as nats-server), empty ones dropped.
fn tags(key: &str, v: &Value) -> Result<Vec<String>, ConfError> {
    let raw: Vec<String> = match &v.kind {
        Kind::Str(s) => s.split(',').map(str::to_owned).collect(),
        Kind::Array(items) => items
            .iter()
            .map(|i| string(key, i))
            .collect::<Result<_, _>>()?,
        _ => return Err(wrong_type(key, v, "an array of strings or a string")),
    };
    Ok(raw
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect())
}

/// `jetstream: true|false|enabled|disabled` or `jetstream { ... }`.
fn jetstream(key: &str, v: &Value) -> Result<JetStreamOptions, ConfError> {
    let expected = "true, false, enabled, disabled or a block { ... }";
    let enabled = |enabled| {
        Ok(JetStreamOptions {
            enabled,
            ..JetStreamOptions::default()
        })
    };
    let block = match &v.kind {
        Kind::Bool(b) => return enabled(*b),
        Kind::Str(s) => {
            return match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => enabled(true),
                "disabled" | "disable" => enabled(false),
                _ => Err(wrong_type(key, v, expected)),
            };
        }
        Kind::Map(block) => block,
        _ => return Err(wrong_type(key, v, expected)),
    };
    let mut js = JetStreamOptions {
        enabled: true,
        ..JetStreamOptions::default()
    };
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "enabled" | "enable" => js.enabled = boolean(k, v)?,
            "store_dir" | "store" | "storedir" => {
                js.store_dir = Some(PathBuf::from(string(k, v)?));
            }
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                js.max_memory_store = Some(size(k, v)?);
            }
            "max_file_store" | "max_file" => js.max_file_store = Some(size(k, v)?),
            "max_queued" => js.max_queued = Some(positive_size(k, v)?),
            "unique_tag" => js.unique_tag = Some(string(k, v)?.to_lowercase()),
            "domain" => {
                let d = string(k, v)?;
                // nats-server's checks, in its words: the domain is a token of
                // `$JS.<domain>.API.>`. Empty is none.
                if d.contains(['.', '*', '>']) {
                    return Err(ConfError::at(
                        &v.pos,
                        "invalid domain name: may not contain ., * or >",
                    ));
                }
                let api = format!("$JS.{d}.API.>");
                if !d.is_empty() && !sluice_protocol::subject::is_valid_subject(&api) {
                    return Err(ConfError::at(
                        &v.pos,
                        format!("invalid domain name: derived {api:?} is not a valid subject"),
                    ));
                }
                js.domain = (!d.is_empty()).then_some(d);
            }
            "sync_interval" | "sync" => {
                js.sync = Some(match &v.kind {
                    Kind::Str(s) if s.eq_ignore_ascii_case("always") => SyncPolicy::Always,
                    _ => SyncPolicy::Every(positive_duration(k, v)?),
                });
            }
            _ => unknown(entry, Some("jetstream"))?,
        }
    }
    Ok(js)
}
