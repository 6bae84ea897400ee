//! Cluster monitoring: `/routez` (the routes, their interest and traffic) and `/varz`'s
//! `cluster` block, in nats-server's shapes.

use crate::shared::Shared;
use serde_json::{json, Value};

/// `/routez`: one entry per established route.
pub(crate) fn routez(shared: &Shared, now: String, rfc3339: fn(u64) -> String) -> Value {
    let links = shared
        .cluster
        .as_ref()
        .map(|c| c.links())
        .unwrap_or_default();
    let routes: Vec<Value> = links
        .iter()
        .map(|l| {
            let s = &l.handle.stats;
            let load =
                |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            json!({
                "rid": l.handle.id,
                "remote_id": l.remote_id,
                "remote_name": l.remote_name,
                "did_solicit": l.solicited,
                "ip": s.peer.ip().to_string(),
                "port": s.peer.port(),
                "start": rfc3339(l.since_ns),
                "url": l.url,
                "pending_size": l.handle.out.pending(),
                "in_msgs": load(&s.in_msgs),
                "out_msgs": load(&s.out_msgs),
                "in_bytes": load(&s.in_bytes),
                "out_bytes": load(&s.out_bytes),
                "subscriptions": l.subs.lock().len(),
            })
        })
        .collect();
    json!({
        "server_id": shared.server_id,
        "now": now,
        "num_routes": routes.len(),
        "routes": routes,
    })
}

/// `/varz`'s `cluster` block (`None` when not clustered).
pub(crate) fn varz_cluster(shared: &Shared) -> Option<Value> {
    let c = shared.cluster.as_ref()?;
    let listen = c.listen.get();
    let urls: Vec<String> = c.config.routes.iter().map(|r| r.host_port()).collect();
    Some(json!({
        "name": c.name(),
        "addr": listen.map_or_else(|| c.config.host.clone(), |a| a.ip().to_string()),
        "cluster_port": listen.map_or(c.config.port, |a| a.port()),
        "auth_timeout": c.config.authorization.as_ref().map_or(2.0, |a| a.timeout.as_secs_f64()),
        "urls": urls,
    }))
}

/// Number of established routes.
pub(crate) fn num_routes(shared: &Shared) -> u64 {
    shared
        .cluster
        .as_ref()
        .map_or(0, |c| c.links().len() as u64)
}

/// Route totals for `/metrics`: (routes, in_msgs, out_msgs, in_bytes, out_bytes).
pub(crate) fn route_totals(shared: &Shared) -> (u64, u64, u64, u64, u64) {
    let links = shared
        .cluster
        .as_ref()
        .map(|c| c.links())
        .unwrap_or_default();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let mut t = (links.len() as u64, 0, 0, 0, 0);
    for l in &links {
        let s = &l.handle.stats;
        t.1 += load(&s.in_msgs);
        t.2 += load(&s.out_msgs);
        t.3 += load(&s.in_bytes);
        t.4 += load(&s.out_bytes);
    }
    t
}
