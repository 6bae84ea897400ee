//! Account JWT updates at runtime (operator mode), as nats-server 2.9.10 takes them from a
//! system account user (what `nsc push` sends):
//!
//! - `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE` (and the older `$SYS.ACCOUNT.<key>.CLAIMS.UPDATE`),
//!   with either resolver; the body is the account's new JWT, whose subject must be `<key>`;
//! - `$SYS.REQ.CLAIMS.UPDATE` with a full resolver (the key is the JWT's subject), which also
//!   writes the JWT to the resolver's directory as `<key>.jwt`, so a restart keeps it.
//!
//! The JWT is checked as one read at startup is (signed by a trusted operator key, valid now),
//! then replaces the account's JWT: every connection re-checks its login against it at once
//! (a user the update revokes gets `-ERR 'User Authentication Revoked'` and is closed; new
//! logins see new signing keys, default permissions, revocations). The reply is
//! nats-server's: `{"data":{"account":K,"code":200,"message":"jwt updated"},"server":{...}}`,
//! or `{"error":{"account":K,"code":500,"description":"... - <why>"},"server":{...}}`.
//!
//! Refused with an error reply, the account left as it was: what Sluice would not serve at
//! startup either (`jwt::account_config`: finite account limits, imports), and a change of
//! the account's exports or JetStream limits (they are installed at startup). An account this server
//! does not have is "jwt update skipped", as nats-server answers for an account it has not
//! loaded (Sluice's accounts are the ones it started with).
//!
//! [`decide`] is pure; [`install`] subscribes it and does the I/O.

use crate::config::{Auth, JwtAuth};
use crate::shared::Shared;
use crate::sink::{InternalMsg, InternalSink};
use serde_json::{json, Value};
use std::sync::{Arc, Weak};

/// What an update request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Replace account `key`'s JWT with `jwt`.
    Update { key: String, jwt: String },
    /// An account this server does not have: "jwt update skipped" (code 200), nothing done.
    Skipped { key: String },
    /// Answered with an error: `"{message} - {error}"` (code 500), nothing done.
    Refused {
        key: String,
        message: &'static str,
        error: String,
    },
}

/// The account key a claims-update subject names (`None`: `$SYS.REQ.CLAIMS.UPDATE`, whose
/// key is the JWT's subject).
fn subject_key(subject: &str) -> Option<&str> {
    let t: Vec<&str> = subject.split('.').collect();
    match t.as_slice() {
        ["$SYS", "REQ", "ACCOUNT", key, "CLAIMS", "UPDATE"] => Some(key),
        ["$SYS", "ACCOUNT", key, "CLAIMS", "UPDATE"] => Some(key),
        _ => None,
    }
}

/// Decides an update request on `subject` with `body`, against the trust in force; `now` in
/// Unix seconds.
pub(crate) fn decide(subject: &str, body: &[u8], trust: &JwtAuth, now: i64) -> Verdict {
    const ERROR: &str = "jwt update resulted in error";
    let named = subject_key(subject);
    let refused = |key: &str, message, error: String| Verdict::Refused {
        key: key.to_owned(),
        message,
        error,
    };
    let body = String::from_utf8_lossy(body).trim().to_owned();
    if body.is_empty() {
        let key = named.unwrap_or("n/a");
        return refused(key, "jwt update error", "request body is empty".into());
    }
    let claims = match crate::jwt::decode_account(&body) {
        Ok(c) => c,
        Err(e) => return refused(named.unwrap_or("n/a"), ERROR, e.to_string()),
    };
    let key = claims.public_key().to_owned();
    if named.is_some_and(|n| n != key) {
        let named = named.unwrap_or_default();
        return refused(named, ERROR, "subject does not match jwt content".into());
    }
    let Some(current) = trust.accounts.iter().find(|(k, _)| *k == key) else {
        return Verdict::Skipped { key };
    };
    let operators = crate::auth::trusted_operators(trust);
    let claims = match crate::jwt::verify_account(&body, &operators, now) {
        Ok(c) => c,
        Err(e) => return refused(&key, ERROR, e.to_string()),
    };
    let served = match crate::jwt::account_config(&claims) {
        Ok(c) => c,
        Err(e) => return refused(&key, ERROR, e),
    };
    let running = crate::jwt::decode_account(&current.1).map_err(|e| e.to_string());
    let running_exports = (running.as_ref().map_err(Clone::clone))
        .and_then(crate::jwt::account_config)
        .map(|r| r.exports);
    if running_exports != Ok(served.exports) {
        let why = "a change of the account's exports is not served at runtime (restart)";
        return refused(&key, ERROR, why.into());
    }
    let running_js =
        (running.as_ref().map_err(Clone::clone)).and_then(crate::jwt::account_jetstream);
    if running_js != crate::jwt::account_jetstream(&claims) {
        let why = "a change of the account's JetStream limits is not served at runtime (restart)";
        return refused(&key, ERROR, why.into());
    }
    Verdict::Update { key, jwt: body }
}

/// The reply's body (without its `server` block), as nats-server's `respondToUpdate`.
fn reply_body(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Update { key, .. } => json!({
            "data": {"account": key, "code": 200, "message": "jwt updated"}
        }),
        Verdict::Skipped { key } => json!({
            "data": {"account": key, "code": 200, "message": "jwt update skipped"}
        }),
        Verdict::Refused {
            key,
            message,
            error,
        } => json!({
            "error": {"account": key, "code": 500, "description": format!("{message} - {error}")}
        }),
    }
}

/// Update requests waiting for the worker; more are dropped (the requester times out).
const QUEUE: usize = 64;

/// Hands requests to the worker (a sink must not block the publisher).
struct Updates {
    tx: tokio::sync::mpsc::Sender<InternalMsg>,
}

impl InternalSink for Updates {
    fn deliver(&self, msg: InternalMsg) {
        if self.tx.try_send(msg).is_err() {
            tracing::warn!("account JWT update dropped: {QUEUE} already waiting");
        }
    }
}

/// Takes update requests one at a time until `stop`.
async fn worker(
    shared: Weak<Shared>,
    mut rx: tokio::sync::mpsc::Receiver<InternalMsg>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => return,
            m = rx.recv() => match m {
                Some(m) => m,
                None => return,
            },
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        handle(&shared, msg).await;
    }
}

async fn handle(shared: &Shared, msg: InternalMsg) {
    let auth = shared.auth();
    let Auth::Jwt(trust) = &*auth else {
        return;
    };
    let now = i64::try_from(crate::stats::unix_nanos() / 1_000_000_000).unwrap_or(i64::MAX);
    let mut verdict = decide(&msg.subject, &msg.payload, trust, now);
    if let Verdict::Update { key, jwt } = &verdict {
        if let Err(error) = apply(shared, trust, key, jwt).await {
            verdict = Verdict::Refused {
                key: key.clone(),
                message: "jwt update resulted in error",
                error,
            };
        }
    }
    match &verdict {
        Verdict::Update { key, .. } => tracing::info!(account = %key, "account JWT updated"),
        Verdict::Skipped { key } => tracing::debug!(account = %key, "jwt update skipped"),
        Verdict::Refused {
            key,
            message,
            error,
        } => tracing::warn!(account = %key, "{message} - {error}"),
    }
    if let Some(reply) = msg.reply.as_deref() {
        let mut body = reply_body(&verdict);
        body["server"] = crate::events::server_block(shared);
        crate::events::publish(shared, reply, &body);
    }
}

/// Writes the JWT to the full resolver's directory (if any), then puts it in force.
async fn apply(shared: &Shared, trust: &JwtAuth, key: &str, jwt: &str) -> Result<(), String> {
    if let Some(dir) = &trust.resolver_dir {
        let path = dir.join(format!("{key}.jwt"));
        let tmp = dir.join(format!(".{key}.jwt.tmp"));
        let stored = match tokio::fs::write(&tmp, jwt).await {
            Ok(()) => tokio::fs::rename(&tmp, &path).await,
            Err(e) => Err(e),
        };
        stored.map_err(|e| format!("storing {}: {e}", path.display()))?;
    }
    let mut updated = trust.clone();
    for (k, j) in &mut updated.accounts {
        if k == key {
            *j = jwt.to_owned();
        }
    }
    shared.reload_auth(Auth::Jwt(updated));
    Ok(())
}

/// Operator mode: subscribes the update subjects in the system account, and runs their
/// worker until `stop`.
pub(crate) fn install(shared: &Arc<Shared>, stop: tokio_util::sync::CancellationToken) {
    let full = match &*shared.auth() {
        Auth::Jwt(trust) => trust.resolver_dir.is_some(),
        _ => return,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
    let sink: Arc<dyn InternalSink> = Arc::new(Updates { tx });
    let mut subjects = vec![
        "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
        "$SYS.ACCOUNT.*.CLAIMS.UPDATE",
    ];
    if full {
        // Only a full resolver takes these (nats-server's memory resolver has no
        // subscription: the requester gets no responders).
        subjects.push("$SYS.REQ.CLAIMS.UPDATE");
    }
    for subject in subjects {
        if let Err(e) = shared.subscribe_internal(&shared.system, subject, None, sink.clone()) {
            tracing::warn!(%subject, error = %e, "account JWT updates not served");
        }
    }
    tokio::spawn(worker(Arc::downgrade(shared), rx, stop));
}

#[cfg(test)]
#[path = "claim_updates_tests.rs"]
mod tests;
