//! Account monitoring: `/accountz` in nats-server's shape: the accounts by name, or one
//! account's detail with `?acc=NAME`.

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
            "accounts": names,
        }));
    };
    let Some(a) = shared.account(name) else {
        return Err(format!("Account {name} does not exist"));
    };
    let global = &*a.name == crate::handle::GLOBAL_ACCOUNT;
    Ok(json!({
        "server_id": shared.server_id,
        "now": now,
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
    }))
}
