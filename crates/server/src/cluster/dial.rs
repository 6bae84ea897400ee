//! The cluster's connections: the listener other servers dial, the routes this server dials
//! (configured ones for ever, a second between tries; ones gossip named, once plus
//! `connect_retries` times),
//! and the task that tells clients when the cluster's client URLs change.

use super::link::{self, Ended, Side};
use super::secure::{RouteStream, RouteTls};
use super::state::{host_port_of, Cluster};
use crate::handle::ASYNC_INFO;
use crate::shared::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// Pause between two dials of a configured route (nats-server: 1 s).
const RETRY: Duration = Duration::from_secs(1);
/// Longest a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

/// This side's address of a connection, as text.
fn local_ip_of(stream: &TcpStream) -> String {
    stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// Binds the cluster listener (and reads the route TLS certificates, if any: a bad one is an
/// `InvalidInput` error saying why).
pub(crate) async fn bind_listener(cluster: &Cluster) -> std::io::Result<TcpListener> {
    let c = &cluster.config;
    if let Some(tls) = &c.tls {
        let tls = RouteTls::new(tls).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("cluster {e}"))
        })?;
        let _ = cluster.tls.set(tls);
    }
    let listener = TcpListener::bind((c.host.as_str(), c.port)).await?;
    let addr = listener.local_addr()?;
    let _ = cluster.listen.set(addr);
    info!("Listening for route connections on {addr}");
    Ok(listener)
}

/// Serves the cluster until `cancel`: accepts routes, dials the configured ones, and keeps
/// clients' INFO current. Returns once every route is closed.
pub(crate) async fn run(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    listener: TcpListener,
    cancel: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let _ = cluster.dials.set((tracker.clone(), cancel.clone()));
    for url in cluster.config.routes.clone() {
        spawn_configured(&shared, &cluster, url);
    }
    {
        let (shared, cluster, cancel) = (shared.clone(), cluster.clone(), cancel.clone());
        tracker.spawn(async move { tell_clients(shared, cluster, cancel).await });
    }
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                debug!(%peer, "route connection accepted");
                let (shared, cluster, cancel) =
                    (shared.clone(), cluster.clone(), cancel.child_token());
                tracker.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let local_ip = local_ip_of(&stream);
                    let stream = match cluster.tls.get() {
                        None => RouteStream::Plain(stream),
                        Some(tls) => match tls.accept(stream).await {
                            Ok(s) => s,
                            Err(e) => {
                                warn!(%peer, error = %e, "route TLS handshake failed");
                                return;
                            }
                        },
                    };
                    link::run(
                        shared,
                        cluster,
                        stream,
                        peer,
                        local_ip,
                        Side::Accepted,
                        cancel,
                    )
                    .await;
                });
            }
            Err(e) => {
                warn!(error = %e, "route accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// Starts dialling a configured route (until the server stops or a reload removes it).
fn spawn_configured(shared: &Arc<Shared>, cluster: &Arc<Cluster>, url: crate::RouteUrl) {
    let Some((tracker, cancel)) = cluster.dials.get().cloned() else {
        return;
    };
    let cancel = cancel.child_token();
    cluster
        .configured
        .lock()
        .push((url.clone(), cancel.clone()));
    let (shared, cluster) = (shared.clone(), cluster.clone());
    tracker.spawn(async move { dial_configured(shared, cluster, url, cancel).await });
}

/// Makes the configured routes `routes` (a configuration reload, as nats-server's): routes
/// no longer listed stop being dialled and the routes they made are closed; new ones are
/// dialled. Returns what changed, as `route added: URL` / `route removed: URL`.
pub(crate) fn reload_routes(
    shared: &Arc<Shared>,
    cluster: &Arc<Cluster>,
    routes: &[crate::RouteUrl],
) -> Vec<String> {
    let mut changed = Vec::new();
    let added: Vec<crate::RouteUrl> = {
        let mut configured = cluster.configured.lock();
        configured.retain(|(url, cancel)| {
            let keep = routes.contains(url);
            if !keep {
                cancel.cancel();
                changed.push(format!("route removed: {url}"));
            }
            keep
        });
        routes
            .iter()
            .filter(|r| !configured.iter().any(|(u, _)| u == *r))
            .cloned()
            .collect()
    };
    for url in added {
        changed.push(format!("route added: {url}"));
        spawn_configured(shared, cluster, url);
    }
    changed
}

/// Dials a configured route for as long as the server runs: again after it closes, and
/// (once the other server is known) only while no route to it exists.
async fn dial_configured(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    url: crate::RouteUrl,
    cancel: CancellationToken,
) {
    let mut known: Option<String> = None;
    loop {
        if known.is_none() {
            // A route the server at this URL dialled itself makes dialling it again useless
            // (and the second route would replace the first: a moment without a route).
            known = cluster.routed_to_url(&url.host_port());
        }
        if known.as_deref().is_some_and(|id| cluster.routed_to(id)) {
            // Routed to already (it dialled us, or our route won): look again later.
        } else {
            match dial(
                &shared,
                &cluster,
                &url.host_port(),
                url.user.clone(),
                url.password.clone(),
                &cancel,
            )
            .await
            {
                Some(Ended::Loop) => {
                    info!(route = %url, "a configured route leads to this server itself: not dialled again");
                    return;
                }
                Some(
                    Ended::Duplicate { remote_id }
                    | Ended::Closed {
                        remote_id: Some(remote_id),
                    },
                ) => {
                    known = Some(remote_id);
                }
                Some(Ended::Closed { remote_id: None }) | None => {}
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Dials a server gossip named: once, and again `connect_retries` times a second apart (as
/// nats-server does for discovered routes; 0 by default: no retry).
pub(crate) fn dial_gossiped(shared: Arc<Shared>, cluster: Arc<Cluster>, id: String, url: String) {
    let Some((tracker, cancel)) = cluster.dials.get().cloned() else {
        cluster.stop_dialling(&id);
        return;
    };
    tracker.spawn(async move {
        let Some(host_port) = host_port_of(&url) else {
            warn!(%url, "gossip named a route URL that cannot be dialled");
            cluster.stop_dialling(&id);
            return;
        };
        let tries = cluster.config.connect_retries.saturating_add(1);
        for _ in 0..tries {
            if cluster.routed_to(&id) || cancel.is_cancelled() {
                break;
            }
            match dial(&shared, &cluster, &host_port, None, None, &cancel).await {
                Some(Ended::Loop) => break,
                // Connected, then closed: the server is known; its own dials or ours (if
                // gossip names it again) bring the route back.
                Some(Ended::Closed { remote_id: Some(_) } | Ended::Duplicate { .. }) => break,
                _ => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
        cluster.stop_dialling(&id);
    });
}

/// One dial and the route's life; `None` if the connection could not be made.
async fn dial(
    shared: &Arc<Shared>,
    cluster: &Arc<Cluster>,
    host_port: &str,
    user: Option<String>,
    pass: Option<String>,
    cancel: &CancellationToken,
) -> Option<Ended> {
    let stream = tokio::select! {
        _ = cancel.cancelled() => return None,
        r = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(host_port)) => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                debug!(route = host_port, error = %e, "route dial failed");
                return None;
            }
            Err(_) => return None,
        },
    };
    let peer = stream.peer_addr().ok()?;
    let _ = stream.set_nodelay(true);
    let local_ip = local_ip_of(&stream);
    let stream = match cluster.tls.get() {
        None => RouteStream::Plain(stream),
        Some(tls) => {
            let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
            match tls.connect(host, stream).await {
                Ok(s) => s,
                Err(e) => {
                    warn!(route = host_port, error = %e, "route TLS handshake failed");
                    return None;
                }
            }
        }
    };
    let ended = link::run(
        shared.clone(),
        cluster.clone(),
        stream,
        peer,
        local_ip,
        Side::Dialled {
            user,
            pass,
            seq: cluster.next_dial(),
        },
        cancel.child_token(),
    )
    .await;
    Some(ended)
}

/// Sends every client that takes INFO updates a new INFO when the cluster's client URLs
/// change (nats-server's async INFO with `connect_urls`).
async fn tell_clients(shared: Arc<Shared>, cluster: Arc<Cluster>, cancel: CancellationToken) {
    let mut last_urls = shared.connect_urls();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = cluster.urls_notify.notified() => {}
        }
        let urls = shared.connect_urls();
        if urls == last_urls {
            continue;
        }
        last_urls = urls;
        let info = shared.async_info();
        for c in shared.connections() {
            if c.flags() & ASYNC_INFO != 0 {
                if c.smaller_max_payload(&shared).is_some() {
                    let own = shared.async_info_for(&c);
                    c.out.push_now(|b| b.extend_from_slice(&own));
                } else {
                    c.out.push_now(|b| b.extend_from_slice(&info));
                }
            }
        }
    }
}
