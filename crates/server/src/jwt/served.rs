//! An account JWT as the server's [`AccountConfig`]: its exports, and what of it Sluice does
//! not serve yet (refused at startup, naming the account, rather than ignored).

use super::account::AccountClaims;
use crate::config::{AccountConfig, Export, ExportKind, ResponseType};
use std::time::Duration;

/// nats-server's default response threshold for a service export.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

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
    let finite: Vec<String> = [
        ("subs", l.subs),
        ("data", l.data),
        ("payload", l.payload),
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
    let js = &l.jetstream;
    let js_on = js.mem_storage != 0
        || js.disk_storage != 0
        || l.tiered_limits
            .values()
            .any(|t| t.mem_storage != 0 || t.disk_storage != 0);
    if js_on {
        return Err(format!(
            "account {name}: the JWT enables JetStream, which is not served yet for \
             operator-mode accounts"
        ));
    }
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
