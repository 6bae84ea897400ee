//! What this server does about the meta group's decisions ([`reconcile_loop`]): start the
//! streams placed here, change or remove them when the group says so, and send the API
//! answers those changes owe; plus this server's own report ([`report`]).
//!
//! Removal happens only for a removal committed while this server runs (`live`), never for
//! one replayed from its own log at startup, and a stream found here that the assignments do
//! not name is kept and warned about, not deleted: a server that just came back may have a
//! log behind the group's (Jepsen's lesson from nats-server #7556).

use crate::api::deferred::respond;
use crate::api::handlers::{create_checked, delete, update_to, Handled};
use crate::api::types::{response_type, ErrorResponse};
use crate::cluster::meta::MetaOp;
use crate::cluster::meta_machine::Applied;
use crate::cluster::peers::Report;
use crate::cluster::service::JsCluster;
use crate::config::StorageType;
use crate::jetstream::Inner;
use crate::time::Timestamp;
use sluice_server::CancellationToken;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::warn;

/// This server's report to the others.
pub(crate) fn report(js: &Inner, c: &JsCluster) -> Report {
    let streams = js.streams.read();
    let mut r = Report {
        name: c.me.clone(),
        cluster: c.settings.name.clone(),
        tags: c.settings.tags.clone(),
        streams: streams.len(),
        ..Report::default()
    };
    for e in streams.values() {
        r.consumers += e.consumers.load(Ordering::Relaxed);
        let bytes = e.snapshot.get().state.bytes;
        match e.config.storage {
            StorageType::Memory => r.memory += bytes,
            StorageType::File => r.storage += bytes,
        }
    }
    r
}

/// Acts on every committed meta op, in order; every 2 s also starts any stream placed here
/// that is not running (after a restart, a snapshot install, or a failed start).
pub(crate) async fn reconcile_loop(
    c: Arc<JsCluster>,
    js: Weak<Inner>,
    mut rx: mpsc::Receiver<Applied>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        let applied = tokio::select! {
            _ = stop.cancelled() => return,
            a = rx.recv() => match a {
                Some(a) => Some(a),
                None => return,
            },
            _ = tick.tick() => None,
        };
        let Some(js) = js.upgrade() else { return };
        let c2 = c.clone();
        let work = tokio::task::spawn_blocking(move || match applied {
            Some(a) => on_applied(&c2, &js, a),
            None => ensure_placed(&c2, &js),
        });
        if let Err(e) = work.await {
            warn!(error = %e, "a meta reconciliation step failed");
        }
    }
}

fn holds(c: &JsCluster, peers: &[String]) -> bool {
    peers.contains(&c.me)
}

fn on_applied(c: &Arc<JsCluster>, js: &Inner, a: Applied) {
    let reply = a.entry.reply.as_deref().filter(|_| a.live);
    match (a.entry.op, a.outcome) {
        (op, Ok(Some(sa))) if sa.config.num_replicas > 1 => {
            crate::cluster::replica::on_assignment(c, js, op, sa, reply, a.live)
        }
        (MetaOp::AddStream(_), Ok(Some(sa))) if holds(c, &sa.peers) => {
            let created = Timestamp::from_unix_nanos(sa.created_ns);
            let r = create_checked(js, sa.config, created);
            match reply {
                Some(reply) => {
                    js.server.publish(reply, None, None, &respond(r));
                }
                None => {
                    if let Err(e) = r {
                        warn!(error = %e, "starting a stream placed here failed");
                    }
                }
            }
        }
        (MetaOp::UpdateStream { .. }, Ok(Some(sa))) if holds(c, &sa.peers) => {
            if let Some(reply) = reply {
                let name = sa.config.name.clone();
                if let Handled::Now(answer) = update_to(js, reply, &name, sa.config) {
                    js.server.publish(reply, None, None, &answer);
                }
            }
        }
        (MetaOp::RemoveStream { name }, Ok(Some(sa))) if holds(c, &sa.peers) => {
            if let Some(reply) = reply {
                if let Handled::Now(answer) = delete(js, reply, &name, b"") {
                    js.server.publish(reply, None, None, &answer);
                }
            }
        }
        (op, Err(e)) => {
            // Refused where it landed: the meta leader answers (once).
            if let (Some(reply), true) = (reply, c.is_meta_leader()) {
                let kind = match op {
                    MetaOp::AddStream(_) => response_type::STREAM_CREATE,
                    MetaOp::UpdateStream { .. } => response_type::STREAM_UPDATE,
                    MetaOp::RemoveStream { .. } => response_type::STREAM_DELETE,
                    MetaOp::RemovePeer { .. } => response_type::STREAM_REMOVE_PEER,
                    MetaOp::RemoveServer { .. } => response_type::META_SERVER_REMOVE,
                };
                js.server
                    .publish(reply, None, None, &ErrorResponse::new(kind, e).to_json());
            }
        }
        _ => {}
    }
}

/// Starts the streams placed here that are not running; warns about streams running here
/// that no assignment names (kept: see the module doc).
fn ensure_placed(c: &Arc<JsCluster>, js: &Inner) {
    let assigned: Vec<_> = c
        .state
        .read()
        .streams
        .values()
        .filter(|sa| holds(c, &sa.peers))
        .cloned()
        .collect();
    for sa in assigned {
        if js.streams.read().contains_key(&sa.config.name) {
            continue;
        }
        let name = sa.config.name.clone();
        if sa.config.num_replicas > 1 {
            if let Err(e) = crate::cluster::replica::start(js, c, &sa, false) {
                warn!(stream = %name, error = %e, "starting a replica placed here failed");
            }
            continue;
        }
        let created = Timestamp::from_unix_nanos(sa.created_ns);
        if let Err(e) = create_checked(js, sa.config, created) {
            warn!(stream = %name, error = %e, "starting a stream placed here failed");
        }
    }
    crate::cluster::replica::reconcile(c, js);
}
