//! An account JWT as the server's [`AccountConfig`]: its exports, its JetStream limits
//! ([`account_jetstream`]), and what of it Sluice does not serve yet (refused at startup,
//! naming the account, rather than ignored).

use super::account::{AccountClaims, JetStreamLimits};
use crate::config::{AccountConfig, Export, ExportKind, ResponseType};
use std::time::Duration;

/// nats-server's default response threshold for a service export.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

/// The account's JetStream limits if the JWT enables JetStream (either storage limit not
/// 0, as nats-server reads it), or why Sluice cannot serve them yet (per-tier limits).
pub fn account_jetstream(claims: &AccountClaims) -> Result<Option<JetStreamLimits>, String> {
    let l = &claims.nats.limits;
    if l.tiered_limits
        .values()
        .any(|t| t.mem_storage != 0 || t.disk_storage != 0)
    {
        return Err(format!(
            "account {}: the JWT's per-tier JetStream limits (tiered_limits) are not served yet",
            claims.public_key()
        ));
    }
    let js = &l.jetstream;
    Ok((js.mem_storage != 0 || js.disk_storage != 0).then_some(*js))
}

/// The account `claims` describe, named by its public key, or why Sluice cannot serve it yet.
pub fn account_config(claims: &AccountClaims) -> Result<AccountConfig, String> {
    let key = claims.public_key();
    let name = if claims.claims.name.is_empty() {
        key.to_owned()
    } else {
        format!("{key} ({})", claims.claims.name)
    };
    let n = &claims.nats;
    let l = &n.limits;
    // `subs` and `payload` are served (each connection is held to them, `auth.rs`).
    let finite: Vec<String> = [
        ("data", l.data),
        ("imports", l.imports),
        ("exports", l.exports),
        ("conn", l.conn),
        ("leaf", l.leaf),
    ]
    .into_iter()
    .filter(|(_, v)| *v != -1)
    .map(|(k, v)| format!("{k} {v}"))
    .collect();
    if !finite.is_empty() {
        return Err(format!(
            "account {name}: the JWT's limits {} are not served yet (only -1, no limit)",
            finite.join(", ")
        ));
    }
    account_jetstream(claims)?;
    if !n.imports.is_empty() {
        return Err(format!(
            "account {name}: the JWT's imports are not served yet in operator mode"
        ));
    }
    let mut exports = Vec::new();
    for e in &n.exports {
        let kind = match e.export_type.as_str() {
            "stream" => ExportKind::Stream,
            "service" => ExportKind::Service {
                response: match e.response_type.as_str() {
                    "Stream" => ResponseType::Stream,
                    "Chunked" => ResponseType::Chunked,
                    _ => ResponseType::Singleton,
                },
                threshold: DEFAULT_THRESHOLD,
            },
            other => {
                return Err(format!(
                    "account {name}: export {:?} has an unknown type {other:?}",
                    e.subject
                ))
            }
        };
        exports.push(Export {
            subject: e.subject.clone(),
            kind,
            // An export that needs an activation token: no account may import it without
            // one, and Sluice does not take activation tokens yet.
            accounts: e.token_req.then(Vec::new),
        });
    }
    Ok(AccountConfig {
        name: key.to_owned(),
        exports,
        imports: Vec::new(),
    })
}
