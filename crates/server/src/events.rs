//! The system account's events and requests, as nats-server 2.9 sends and answers them:
//! `$SYS.ACCOUNT.<account>.CONNECT` and `.DISCONNECT` advisories for every client that
//! connects (once its CONNECT is accepted) and leaves, and `$SYS.REQ.SERVER.PING`,
//! `$SYS.REQ.SERVER.PING.STATSZ` and `$SYS.REQ.SERVER.<id>.STATSZ` answered with the
//! server's statistics. Only users of the system account can see them (it is an account of
//! its own); an advisory nobody listens to is not built.

use crate::handle::ClientHandle;
use crate::route::Publisher;
use crate::shared::Shared;
use crate::sink::{InternalMsg, InternalSink};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// The `server` block of every event: who sent it.
fn server_info(shared: &Shared, seq: u64) -> Value {
    let mut v = json!({
        "name": shared.server_name(),
        "host": shared.config.host,
        "id": shared.server_id,
        "ver": crate::NATS_COMPAT_VERSION,
        "seq": seq,
        "jetstream": shared.config.jetstream,
        "time": crate::monitor::rfc3339(crate::stats::unix_nanos()),
    });
    if let Some(c) = &shared.cluster {
        v["cluster"] = json!(c.name());
    }
    v
}

/// The `server` block of a reply sent now (the next event sequence number).
pub(crate) fn server_block(shared: &Shared) -> Value {
    let seq = shared.event_seq.fetch_add(1, Ordering::Relaxed) + 1;
    server_info(shared, seq)
}

/// Publishes `body` (JSON) on `subject` in the system account.
pub(crate) fn publish(shared: &Shared, subject: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).expect("events serialize");
    let mut p = Publisher::new(shared.next_id());
    p.publish(shared, &shared.system, subject, None, None, &bytes);
    p.wake_all();
}

/// An event id, as nats-server's (a random 22-character nuid).
fn event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

/// The `client` block of a connect or disconnect advisory.
fn client_info(c: &ClientHandle, user: &str, stop: Option<u64>) -> Value {
    let meta = c.stats.meta.lock().clone();
    let mut v = json!({
        "start": crate::monitor::rfc3339(c.stats.start_ns),
        "host": c.stats.peer.ip().to_string(),
        "id": c.id,
        "acc": meta.account,
        "kind": "Client",
        "client_type": "nats",
    });
    // As nats-server: what is empty is left out.
    for (key, value) in [
        ("user", user),
        ("name", &meta.name),
        ("lang", &meta.lang),
        ("ver", &meta.version),
    ] {
        if !value.is_empty() {
            v[key] = json!(value);
        }
    }
    if let Some(stop) = stop {
        v["stop"] = json!(crate::monitor::rfc3339(stop));
    }
    v
}

/// A client's CONNECT was accepted (bound to its account): `$SYS.ACCOUNT.<acc>.CONNECT`.
pub(crate) fn client_connected(shared: &Shared, c: &ClientHandle, account: &str, user: &str) {
    let subject = format!("$SYS.ACCOUNT.{account}.CONNECT");
    if !shared.system.sublist.has_interest(&subject) {
        return;
    }
    let seq = shared.event_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let body = json!({
        "type": "io.nats.server.advisory.v1.client_connect",
        "id": event_id(),
        "timestamp": crate::monitor::rfc3339(crate::stats::unix_nanos()),
        "server": server_info(shared, seq),
        "client": client_info(c, user, None),
    });
    publish(shared, &subject, &body);
}

/// A connected client left, for `reason`: `$SYS.ACCOUNT.<acc>.DISCONNECT` with its counts.
pub(crate) fn client_disconnected(
    shared: &Shared,
    c: &ClientHandle,
    account: &str,
    user: &str,
    reason: &str,
) {
    let subject = format!("$SYS.ACCOUNT.{account}.DISCONNECT");
    if !shared.system.sublist.has_interest(&subject) {
        return;
    }
    let seq = shared.event_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let t = c.stats.totals();
    let now = crate::stats::unix_nanos();
    let body = json!({
        "type": "io.nats.server.advisory.v1.client_disconnect",
        "id": event_id(),
        "timestamp": crate::monitor::rfc3339(now),
        "server": server_info(shared, seq),
        "client": client_info(c, user, Some(now)),
        // As nats-server counts them, from the client's side: what it sent (published),
        // what it received.
        "sent": { "msgs": t.in_msgs, "bytes": t.in_bytes },
        "received": { "msgs": t.out_msgs, "bytes": t.out_bytes },
        "reason": reason,
    });
    publish(shared, &subject, &body);
}

/// The server's statistics, as `STATSZ` answers them.
pub(crate) fn statsz(shared: &Shared) -> Value {
    let conns = shared.connections();
    let t = crate::monitor::totals(shared, &conns);
    let routes: Vec<Value> = shared
        .cluster
        .as_ref()
        .map(|c| c.links())
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let s = &l.handle.stats;
            json!({
                "rid": l.handle.id,
                "name": l.remote_name,
                "sent": { "msgs": s.out_msgs.load(Ordering::Relaxed), "bytes": s.out_bytes.load(Ordering::Relaxed) },
                "received": { "msgs": s.in_msgs.load(Ordering::Relaxed), "bytes": s.in_bytes.load(Ordering::Relaxed) },
                "pending": l.handle.out.pending(),
            })
        })
        .collect();
    let active = shared
        .accounts()
        .iter()
        .filter(|a| a.conns.load(Ordering::Relaxed) > 0)
        .count();
    let seq = shared.event_seq.fetch_add(1, Ordering::Relaxed) + 1;
    json!({
        "server": server_info(shared, seq),
        "statsz": {
            "start": crate::monitor::rfc3339(shared.start_ns),
            "mem": crate::monitor::resident_memory(),
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "connections": conns.len(),
            "total_connections": shared.stats.total_connections.load(Ordering::Relaxed),
            "active_accounts": active,
            "subscriptions": shared.sub_count(),
            "sent": { "msgs": t.out_msgs, "bytes": t.out_bytes },
            "received": { "msgs": t.in_msgs, "bytes": t.in_bytes },
            "slow_consumers": shared.stats.slow_consumers.load(Ordering::Relaxed),
            "routes": routes,
        },
    })
}

/// Answers the system account's server requests.
struct Requests {
    shared: Weak<Shared>,
}

impl InternalSink for Requests {
    fn deliver(&self, msg: InternalMsg) {
        let (Some(shared), Some(reply)) = (self.shared.upgrade(), msg.reply.as_deref()) else {
            return;
        };
        publish(&shared, reply, &statsz(&shared));
    }
}

/// Subscribes the system account's server requests (for the server's lifetime).
pub(crate) fn install(shared: &Arc<Shared>) {
    let sink: Arc<dyn InternalSink> = Arc::new(Requests {
        shared: Arc::downgrade(shared),
    });
    let subjects = [
        "$SYS.REQ.SERVER.PING".to_owned(),
        "$SYS.REQ.SERVER.PING.STATSZ".to_owned(),
        format!("$SYS.REQ.SERVER.{}.STATSZ", shared.server_id),
    ];
    for subject in subjects {
        if let Err(e) = shared.subscribe_internal(&shared.system, &subject, None, sink.clone()) {
            tracing::warn!(%subject, error = %e, "system request not served");
        }
    }
}
