//! Operator mode's top-level keys, as nats-server 2.9.10's `processConfigFileLine` reads
//! them: `operator` (also `operators`, `root`, `roots`, `root_operator`, `root_operators`),
//! `system_account` (also `system`), `resolver` (also `account_resolver`,
//! `accounts_resolver`) and `resolver_preload`, into an [`OperatorConfig`].
//!
//! [`operator_config`] reads these keys out of a parsed file and ignores every other key;
//! `options::from_map` calls it first, and in operator mode refuses `authorization`,
//! `accounts` and `no_auth_user`. `settings` turns the result into the server's
//! `Auth::Jwt` and one account per account JWT ([`server_accounts`]).
//!
//! Errors are nats-server's words where it has them (checked with `nats-server -c FILE -t`
//! and by starting it): "error parsing operator JWT: ...", "dir has no value and needs to
//! point to a directory", "error parsing account resolver, should be MEM or  URL(\"url\") or
//! a map containing dir and type state=[FULL|CACHE])", "CACHE does not accept allow_delete",
//! "preload should be a map of account_public_key:account_jwt", "invalid account JWT", "error
//! resolving system account: ...". Stricter than nats-server where it would start and then
//! fail or serve something Sluice does not: an operator without a resolver (nats-server then
//! fetches from the operator's `account_server_url`), `URL(...)` and `type: cache` resolvers
//! (not served), unknown keys in the resolver block, a preload entry whose key is not its
//! JWT's subject, a resolver or preload without an operator. Looser in one way, as asked of
//! it: `operator` may be a list (nats-server 2.9.10 refuses one with "error parsing
//! operators: unsupported type []interface {}").

use super::options::{boolean, integer, map, string, wrong_type};
use super::value::{ConfError, Entry, Kind, Map, Value};
use sluice_server::jwt::{self, AccountClaims, OperatorClaims};
use std::path::PathBuf;
use std::time::Duration;

/// The keys nats-server reads as `operator`.
const OPERATOR_KEYS: &[&str] = &[
    "operator",
    "operators",
    "root",
    "roots",
    "root_operator",
    "root_operators",
];
const RESOLVER_KEYS: &[&str] = &["resolver", "account_resolver", "accounts_resolver"];
const SYSTEM_KEYS: &[&str] = &["system_account", "system"];

/// Is `key` one of the top-level keys [`operator_config`] reads (`system_account` too)?
pub fn is_operator_key(key: &str) -> bool {
    OPERATOR_KEYS.contains(&key)
        || RESOLVER_KEYS.contains(&key)
        || SYSTEM_KEYS.contains(&key)
        || key == "resolver_preload"
}

/// nats-server's message for a resolver it cannot read.
const RESOLVER_SHAPE: &str = "error parsing account resolver, should be MEM or  URL(\"url\") \
                              or a map containing dir and type state=[FULL|CACHE])";

/// Operator mode as a configuration file sets it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// The trusted operators, in the order written.
    pub operators: Vec<TrustedOperator>,
    /// `system_account`: the system account's public key.
    pub system_account: Option<String>,
    pub resolver: Resolver,
    /// `resolver_preload`: account public key -> account JWT, in the order written.
    pub preload: Vec<(String, String)>,
}

/// One `operator` entry: where it came from, the JWT and its decoded claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedOperator {
    /// The file it was read from; `None`: the JWT was written inline.
    pub file: Option<PathBuf>,
    pub jwt: String,
    pub claims: OperatorClaims,
}

/// Where account JWTs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// `resolver: MEMORY` (or `MEM`, any case): only `resolver_preload`.
    Memory,
    /// `resolver: { type: full, dir: "...", allow_delete, interval, limit }`: a directory of
    /// account JWTs kept in sync through the system account.
    Full {
        dir: PathBuf,
        /// Accounts may be deleted through `$SYS.REQ.CLAIMS.DELETE` (default false).
        allow_delete: bool,
        /// How often the directory is synced with other servers (nats-server's default: 2m).
        interval: Option<Duration>,
        /// At most this many JWTs (nats-server's default: no limit).
        limit: Option<i64>,
        /// How long a lookup asks other servers (nats-server's `timeout`).
        timeout: Option<Duration>,
    },
}

/// What the server is given in operator mode: the trust (operators and account JWTs), one
/// account per account JWT (named by its public key), and the system account's key. The
/// full resolver's directory is read now (`<dir>/*.jwt`, as nats-server stores it); its
/// JWTs and the preloaded ones are all the accounts there are until a restart (their JWTs
/// may be updated at runtime: sluice-server's `claim_updates.rs`).
pub fn server_accounts(
    op: &OperatorConfig,
) -> Result<
    (
        sluice_server::JwtAuth,
        Vec<sluice_server::AccountConfig>,
        Option<String>,
    ),
    String,
> {
    let mut jwts: Vec<(String, String)> = op.preload.clone();
    if let Resolver::Full {
        allow_delete,
        interval,
        limit,
        timeout,
        ..
    } = &op.resolver
    {
        // What these set happens on claim deletes, lookups and the sync between servers,
        // which are not served yet: refused rather than accepted and ignored.
        let set: Vec<&str> = [
            ("allow_delete", *allow_delete),
            ("interval", interval.is_some()),
            ("limit", limit.is_some()),
            ("timeout", timeout.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if !set.is_empty() {
            return Err(format!(
                "resolver: {} not served yet (claim deletes, lookups and the directory's \
                 sync between servers are not served)",
                set.join(", ")
            ));
        }
    }
    if let Resolver::Full { dir, .. } = &op.resolver {
        std::fs::create_dir_all(dir).map_err(|e| format!("resolver dir {}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("resolver dir {}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jwt"))
            .collect();
        files.sort();
        for path in files {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let token = jwt::parse_decorated_jwt(&text);
            let claims = jwt::decode_account(&token)
                .map_err(|e| format!("{}: not an account JWT: {e}", path.display()))?;
            let key = claims.public_key().to_owned();
            if !jwts.iter().any(|(k, _)| *k == key) {
                jwts.push((key, token));
            }
        }
    }
    let mut accounts = Vec::with_capacity(jwts.len());
    for (key, token) in &jwts {
        let claims = jwt::decode_account(token).map_err(|e| format!("account {key}: {e}"))?;
        accounts.push(jwt::account_config(&claims)?);
    }
    let system = op.system_account.clone().or_else(|| {
        op.operators
            .iter()
            .map(|o| o.claims.nats.system_account.clone())
            .find(|s| !s.is_empty())
    });
    if let Some(sys) = &system {
        if !accounts.iter().any(|a| a.name == *sys) {
            return Err(format!(
                "error resolving system account: account {sys} has no JWT (preload it, or put \
                 it in the resolver's directory)"
            ));
        }
    }
    let resolver_dir = match &op.resolver {
        Resolver::Full { dir, .. } => Some(dir.clone()),
        _ => None,
    };
    let auth = sluice_server::JwtAuth {
        operators: op.operators.iter().map(|o| o.jwt.clone()).collect(),
        accounts: jwts,
        resolver_dir,
    };
    Ok((auth, accounts, system))
}

/// The accounts whose JWT enables JetStream, with their limits as nats-server 2.9.10 takes
/// them from the JWT (`mem_storage` -> max_memory, `disk_storage` -> max_storage, `streams`,
/// `consumer`; `mem_max_stream_bytes`, `disk_max_stream_bytes` and `max_ack_pending` of 0 or
/// less are no limit). Per-tier limits are refused (`jwt::account_jetstream`).
pub fn jetstream_accounts(
    trust: &sluice_server::JwtAuth,
) -> Result<Vec<(String, sluice_stream::api::types::AccountLimits)>, String> {
    let unlimited = |v: i64| if v > 0 { v } else { -1 };
    let mut out = Vec::new();
    for (key, jwt) in &trust.accounts {
        let claims = sluice_server::jwt::decode_account(jwt).map_err(|e| e.to_string())?;
        let Some(js) = sluice_server::jwt::account_jetstream(&claims)? else {
            continue;
        };
        out.push((
            key.clone(),
            sluice_stream::api::types::AccountLimits {
                max_memory: js.mem_storage,
                max_storage: js.disk_storage,
                max_streams: js.streams,
                max_consumers: js.consumer,
                max_ack_pending: unlimited(js.max_ack_pending),
                memory_max_stream_bytes: unlimited(js.mem_max_stream_bytes),
                storage_max_stream_bytes: unlimited(js.disk_max_stream_bytes),
                max_bytes_required: js.max_bytes_required,
            },
        ));
    }
    Ok(out)
}

/// Reads the operator-mode keys of the top-level `map`; `None` if it has none of them.
pub fn operator_config(map: &Map) -> Result<Option<OperatorConfig>, ConfError> {
    let (mut operators, mut system, mut resolver, mut preload) = (None, None, None, None);
    for entry in &map.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        if OPERATOR_KEYS.contains(&k) {
            operators = Some((entry, read_operators(v)?));
        } else if SYSTEM_KEYS.contains(&k) {
            system = Some((entry, string(k, v)?));
        } else if RESOLVER_KEYS.contains(&k) {
            resolver = Some((entry, read_resolver(v)?));
        } else if k == "resolver_preload" {
            preload = Some((entry, read_preload(v)?));
        }
    }
    let Some((op_entry, operators)) = operators else {
        // `system_account` alone is not operator mode (it names a configured account).
        let stray = resolver.map(|r| r.0).or(preload.map(|p| p.0));
        return match stray {
            Some(e) => Err(ConfError::at(
                &e.pos,
                format!("{:?} needs an operator (operator mode)", e.key),
            )),
            None => Ok(None),
        };
    };
    let (_, resolver) = resolver.ok_or_else(|| {
        ConfError::at(
            &op_entry.pos,
            "operator mode needs a resolver: MEMORY or { type: full, dir: ... }",
        )
    })?;
    let preload: Vec<(String, AccountClaims, String)> = preload.map(|p| p.1).unwrap_or_default();
    let system_account = match system {
        None => None,
        Some((entry, key)) => {
            check_system_account(entry, &key, &resolver, &preload)?;
            Some(key)
        }
    };
    if system_account.is_none() && matches!(resolver, Resolver::Full { .. }) {
        let from_operator = operators
            .iter()
            .any(|o| !o.claims.nats.system_account.is_empty());
        if !from_operator {
            return Err(ConfError::at(
                &op_entry.pos,
                "using nats based account resolver - the system account needs to be \
                 specified in configuration or the operator jwt",
            ));
        }
    }
    Ok(Some(OperatorConfig {
        operators,
        system_account,
        resolver,
        preload: preload.into_iter().map(|(k, _, jwt)| (k, jwt)).collect(),
    }))
}

/// `system_account` must be an account key, and with MEMORY a preloaded one.
fn check_system_account(
    entry: &Entry,
    key: &str,
    resolver: &Resolver,
    preload: &[(String, AccountClaims, String)],
) -> Result<(), ConfError> {
    let err = |why: &str| {
        ConfError::at(
            &entry.value.pos,
            format!("error resolving system account: {why}"),
        )
    };
    if !jwt::is_account_key(key) {
        return Err(err("will only fetch valid account keys"));
    }
    if *resolver == Resolver::Memory && !preload.iter().any(|(k, _, _)| k == key) {
        return Err(err("account missing"));
    }
    Ok(())
}

/// One operator (a JWT or a file holding one) or an array of them.
fn read_operators(v: &Value) -> Result<Vec<TrustedOperator>, ConfError> {
    match &v.kind {
        Kind::Array(items) => items.iter().map(read_operator).collect(),
        _ => Ok(vec![read_operator(v)?]),
    }
}

/// nats-server's `readOperatorJWT`: a file, or (the file cannot be read and the text starts
/// like a JWT, `eyJ`) the JWT itself; decorated or bare.
fn read_operator(v: &Value) -> Result<TrustedOperator, ConfError> {
    let Kind::Str(text) = &v.kind else {
        let what = v.kind.go_type();
        return Err(ConfError::at(
            &v.pos,
            format!("error parsing operators: unsupported type {what}"),
        ));
    };
    let fail = |why: String| ConfError::at(&v.pos, format!("error parsing operator JWT: {why}"));
    let (file, contents) = match std::fs::read_to_string(text) {
        Ok(contents) => (Some(PathBuf::from(text)), contents),
        Err(_) if text.starts_with("eyJ") => (None, text.clone()),
        Err(e) => return Err(fail(format!("open {text}: {e}"))),
    };
    let jwt = jwt::parse_decorated_jwt(&contents);
    let claims = jwt::verify_operator(&jwt).map_err(|e| fail(e.to_string()))?;
    Ok(TrustedOperator { file, jwt, claims })
}

/// `MEMORY`/`MEM`, `URL(...)` (refused), or `{ type, dir, allow_delete, interval, limit,
/// timeout }`.
fn read_resolver(v: &Value) -> Result<Resolver, ConfError> {
    let shape = || ConfError::at(&v.pos, RESOLVER_SHAPE);
    match &v.kind {
        Kind::Str(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("MEM") || s.eq_ignore_ascii_case("MEMORY") {
                Ok(Resolver::Memory)
            } else if s.len() >= 3 && s[..3].eq_ignore_ascii_case("URL") {
                Err(ConfError::at(
                    &v.pos,
                    "resolver URL(...) is not served yet (use MEMORY or { type: full, dir })",
                ))
            } else {
                Err(shape())
            }
        }
        Kind::Map(block) => read_dir_resolver(v, block, shape),
        other => Err(ConfError::at(
            &v.pos,
            format!(
                "error parsing operator resolver, wrong type {}",
                match other {
                    Kind::Int { .. } => "int64",
                    Kind::Bool(_) => "bool",
                    Kind::Float(_) => "float64",
                    _ => "[]interface {}",
                }
            ),
        )),
    }
}

fn read_dir_resolver(
    v: &Value,
    block: &Map,
    shape: impl Fn() -> ConfError,
) -> Result<Resolver, ConfError> {
    let (mut kind, mut dir, mut allow_delete) = (None, None, None);
    let (mut interval, mut limit, mut timeout) = (None, None, None);
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        match k {
            "type" => kind = Some(string(k, v)?.to_ascii_lowercase()),
            "dir" => dir = Some(string(k, v)?),
            "allow_delete" => allow_delete = Some(boolean(k, v)?),
            "interval" => interval = Some(go_duration(k, v)?),
            "timeout" => timeout = Some(go_duration(k, v)?),
            "limit" => limit = Some(integer(k, v)?),
            "ttl" => {
                return Err(ConfError::at(&entry.pos, "FULL does not accept ttl"));
            }
            _ => super::options::unknown(entry, Some("resolver"))?,
        }
    }
    let dir = dir.filter(|d| !d.is_empty()).ok_or_else(|| {
        ConfError::at(&v.pos, "dir has no value and needs to point to a directory")
    })?;
    match kind.as_deref() {
        Some("full") => Ok(Resolver::Full {
            dir: PathBuf::from(dir),
            allow_delete: allow_delete.unwrap_or(false),
            interval,
            limit,
            timeout,
        }),
        Some("cache") if allow_delete.is_some() => {
            Err(ConfError::at(&v.pos, "CACHE does not accept allow_delete"))
        }
        Some("cache") => Err(ConfError::at(
            &v.pos,
            "resolver type cache is not served yet (use MEMORY or { type: full, dir })",
        )),
        _ => Err(shape()),
    }
}

/// A duration as nats-server's resolver block takes it: a Go duration string (`"2m"`).
fn go_duration(key: &str, v: &Value) -> Result<Duration, ConfError> {
    let Kind::Str(s) = &v.kind else {
        return Err(wrong_type(key, v, "a duration string like \"2m\""));
    };
    super::options::parse_go_duration(s)
        .ok_or_else(|| ConfError::at(&v.pos, format!("time: invalid duration {s:?}")))
}

/// `resolver_preload { PUBKEY: JWT ... }`: each JWT decoded (signature, an account JWT) and
/// its subject the key it is listed under.
fn read_preload(v: &Value) -> Result<Vec<(String, AccountClaims, String)>, ConfError> {
    let block = map("resolver_preload", v).map_err(|_| {
        ConfError::at(
            &v.pos,
            "preload should be a map of account_public_key:account_jwt",
        )
    })?;
    let mut out = Vec::new();
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        let token = string(k, v).map_err(|_| ConfError::at(&v.pos, "invalid account JWT"))?;
        let claims = jwt::decode_account(&token)
            .map_err(|_| ConfError::at(&v.pos, "invalid account JWT"))?;
        if claims.public_key() != k {
            return Err(ConfError::at(
                &entry.pos,
                format!(
                    "resolver_preload: {k} is given the account JWT of {}",
                    claims.public_key()
                ),
            ));
        }
        out.retain(|(key, _, _): &(String, AccountClaims, String)| key != k);
        out.push((k.to_owned(), claims, token));
    }
    Ok(out)
}
