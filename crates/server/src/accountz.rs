//! Account monitoring: `/accountz` in nats-server's shape: the accounts by name, or one
//! account's detail with `?acc=NAME`.

use crate::config::{Export, ExportKind, Import, ResponseType};
use crate::shared::Shared;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// `/accountz` (`acc`: `?acc=NAME`). `Err`: no such account (nats-server answers with an
/// error object then).
pub(crate) fn accountz(shared: &Shared, now: String, acc: Option<&str>) -> Result<Value, String> {
    let Some(name) = acc else {
        let names: Vec<String> = shared
            .accounts()
            .iter()
            .map(|a| a.name.to_string())
            .collect();
        return Ok(json!({
            "server_id": shared.server_id,
            "now": now,
            "system_account": &*shared.system.name,
            "accounts": names,
        }));
    };
    let Some(a) = shared.account(name) else {
        return Err(format!("Account {name} does not exist"));
    };
    let global = &*a.name == crate::handle::GLOBAL_ACCOUNT;
    let mut detail = json!({
        "server_id": shared.server_id,
        "now": now,
        "system_account": &*shared.system.name,
        "account_detail": {
            "account_name": &*a.name,
            "is_system": std::sync::Arc::ptr_eq(a, &shared.system),
            "expired": false,
            "complete": true,
            // The stream layer serves the global account only (so far).
            "jetstream_enabled": global && shared.config.jetstream,
            "leafnode_connections": 0,
            "client_connections": a.conns.load(Ordering::Relaxed),
            "subscriptions": a.sublist.count(),
        },
    });
    if let Some(config) = shared.config.accounts.iter().find(|c| c.name == name) {
        let d = &mut detail["account_detail"];
        if !config.exports.is_empty() {
            d["exports"] = config.exports.iter().map(export).collect();
        }
        if !config.imports.is_empty() {
            d["imports"] = config.imports.iter().map(import).collect();
        }
    }
    Ok(detail)
}

/// One export, as nats-server's `ExportInfo`.
fn export(e: &Export) -> Value {
    let mut v = json!({ "subject": e.subject });
    match &e.kind {
        ExportKind::Stream => v["type"] = json!("stream"),
        ExportKind::Service { response, .. } => {
            v["type"] = json!("service");
            v["response_type"] = json!(match response {
                ResponseType::Singleton => "Singleton",
                ResponseType::Stream => "Streamed",
                ResponseType::Chunked => "Chunked",
            });
        }
    }
    if let Some(accounts) = &e.accounts {
        v["approved_accounts"] = json!(accounts);
    }
    v
}

/// One import, as nats-server's `ImportInfo`: a stream import's `subject` is the exporter's
/// and `local_subject` the importer's; a service import's `subject` is the importer's and
/// `to` the exporter's.
fn import(i: &Import) -> Value {
    let mut v = if i.stream {
        json!({ "subject": i.subject, "account": i.account, "local_subject": i.to, "type": "stream" })
    } else {
        json!({ "subject": i.to, "account": i.account, "to": i.subject, "type": "service" })
    };
    v["invalid"] = json!(false);
    v["share"] = json!(false);
    v["tracking"] = json!(false);
    v
}
