//! One route connection, either side: the handshake as nats-server 2.9.10 does it (the
//! accepting server sends INFO at once; the dialling one answers CONNECT and its own INFO),
//! then the other server's interest (`RS+`/`RS-`, kept as registry entries owned by the
//! route), its messages (`RMSG`/`HMSG`, delivered to this server's own subscribers), gossip
//! (an INFO about another server: dial it) and keepalive.

use super::secure::RouteStream;
use super::state::{unspecified, Cluster, Link, Refused};
use crate::handle::{Account, Owner, RouteHandle, Subscription};
use crate::outbound::{run_writer, Outbound, STALL_MAX};
use crate::route::Publisher;
use crate::shared::Shared;
use bytes::{Bytes, BytesMut};
use sluice_protocol::route::{parse_route_bytes, RouteConnect, RouteInfo, RouteOp};
use sluice_protocol::{ByteStr, Limits, Parsed};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// nats-server applies no size limits to what a route sends; these only bound memory.
const ROUTE_LIMITS: Limits = Limits {
    max_control_line: 1024 * 1024,
    max_payload: 64 * 1024 * 1024,
};
/// A route's outbound buffer may hold this much before the route is cut (and redialled).
const ROUTE_MAX_PENDING: usize = 64 * 1024 * 1024;
/// A route that gets no byte out for this long is stuck: publishers stop being paced by it
/// (it is left to `ROUTE_MAX_PENDING`). Longer than a client's, as the other server's reader
/// may pause up to `STALL_MAX` at a time for its own slow subscribers.
const ROUTE_STUCK: Duration = Duration::from_secs(1);
/// The first PING after the handshake (nats-server: about a second), then every
/// ping_interval.
const FIRST_PING: Duration = Duration::from_secs(1);
const READ_CHUNK: usize = 64 * 1024;

/// How a route connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It dialled this server itself.
    Loop,
    /// Refused as a second route to a server already routed to.
    Duplicate { remote_id: String },
    /// Anything else (closed, refused, stale, shut down); `remote_id` once known.
    Closed { remote_id: Option<String> },
}

/// Which side of the route this server is.
pub(crate) enum Side {
    /// It accepted the connection on its cluster port.
    Accepted,
    /// It dialled, with these credentials (from the route URL); `seq` numbers its dials
    /// (told to a Sluice peer, so both settle two routes dialled by one server alike).
    Dialled {
        user: Option<String>,
        pass: Option<String>,
        seq: u64,
    },
}

/// Runs a route connection to its end. `local_ip` is this side's address of the
/// connection (announced as the client URL when the client listener is on every interface).
pub(crate) async fn run(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    stream: RouteStream,
    peer: SocketAddr,
    local_ip: String,
    side: Side,
    cancel: CancellationToken,
) -> Ended {
    match stream {
        RouteStream::Plain(tcp) => {
            let (reader, writer) = tcp.into_split();
            run_io(
                shared, cluster, reader, writer, peer, local_ip, side, cancel,
            )
            .await
        }
        RouteStream::Server(tls) => {
            let (reader, writer) = tokio::io::split(*tls);
            run_io(
                shared, cluster, reader, writer, peer, local_ip, side, cancel,
            )
            .await
        }
        RouteStream::Client(tls) => {
            let (reader, writer) = tokio::io::split(*tls);
            run_io(
                shared, cluster, reader, writer, peer, local_ip, side, cancel,
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_io<R, W>(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    mut reader: R,
    writer: W,
    peer: SocketAddr,
    local_ip: String,
    side: Side,
    cancel: CancellationToken,
) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = shared.next_id();
    let handle = Arc::new(RouteHandle {
        id,
        out: Outbound::new(
            ROUTE_MAX_PENDING,
            shared.limits.write_deadline(),
            cancel.clone(),
        ),
        headers: AtomicBool::new(true),
        stats: crate::stats::ConnStats::new(peer),
    });
    handle.out.set_stuck_after(ROUTE_STUCK);
    let writer_handle = handle.clone();
    let writer_task = tokio::spawn(async move { run_writer(&writer_handle.out, writer).await });
    let my_info = cluster.route_info(&shared.config.host, shared.port, &local_ip);
    let dialled = matches!(side, Side::Dialled { .. });
    if !dialled {
        push_op(&handle, &RouteOp::Info(Box::new(my_info.clone())));
    }
    let mut conn = RouteConn {
        shared: shared.clone(),
        cluster: cluster.clone(),
        handle: handle.clone(),
        side,
        peer,
        my_info,
        connected: None,
        link: None,
        publisher: Publisher::new(id),
        pings_out: 0,
        ended: None,
    };
    let auth_timeout = cluster
        .config
        .authorization
        .as_ref()
        .map_or(Duration::from_secs(2), |a| a.timeout);
    let handshake = tokio::time::sleep(auth_timeout.max(Duration::from_secs(2)));
    tokio::pin!(handshake);
    let period = shared.limits.ping_interval();
    let mut ping_timer = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_PING, period);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let reason: String = loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break if handle.out.is_slow() {
                "slow consumer: the other server took too long to read what this one sent".into()
            } else {
                "closed".into()
            },
            r = reader.read_buf(&mut buf) => match r {
                Ok(0) => break "the other server closed the route".into(),
                Ok(_) => {
                    let result = conn.process(&mut buf);
                    conn.publisher.wake_all();
                    if let Err(e) = result {
                        break e;
                    }
                    if let Some(target) = conn.publisher.stalled.take() {
                        target.out.wait_drained(STALL_MAX).await;
                    }
                    if let Some(backlog) = conn.publisher.blocked.take() {
                        tokio::select! {
                            _ = backlog.wait_for_room() => {}
                            _ = cancel.cancelled() => {}
                        }
                    }
                }
                Err(e) => break format!("read error: {e}"),
            },
            _ = &mut handshake, if conn.link.is_none() => {
                break "no handshake in time".into();
            }
            _ = ping_timer.tick(), if conn.link.is_some() => {
                conn.pings_out += 1;
                if conn.pings_out > shared.limits.max_pings_out() + 1 {
                    push_op(&handle, &RouteOp::Err("Stale Connection".into()));
                    break "stale connection".into();
                }
                push_op(&handle, &RouteOp::Ping);
            }
        }
    };
    let name = conn
        .link
        .as_ref()
        .map_or_else(|| peer.to_string(), |l| l.remote_name.clone());
    debug!(route = %name, %reason, "route closing");
    cancel.cancel();
    if let Some(link) = conn.link.take() {
        info!(route = %name, %reason, "route closed");
        let was_registered = cluster.deregister(&link);
        remove_remote_subs(&link);
        if was_registered
            && link.retry.load(std::sync::atomic::Ordering::Relaxed)
            && cluster.start_dialling(&link.remote_id)
        {
            super::dial::dial_gossiped(
                shared.clone(),
                cluster.clone(),
                link.remote_id.clone(),
                link.url.clone(),
            );
        }
    }
    let _ = writer_task.await;
    conn.ended.unwrap_or(Ended::Closed {
        remote_id: conn.connected.map(|c| c.0),
    })
}

/// Drops every subscription a route brought.
fn remove_remote_subs(link: &Link) {
    let subs: Vec<_> = link.subs.lock().drain().map(|(_, v)| v).collect();
    for (sub, weight) in subs {
        for _ in 0..weight.max(1) {
            sub.account
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), &sub);
        }
    }
}

fn push_op(handle: &RouteHandle, op: &RouteOp) {
    handle.out.push_now(|b| op.encode(b));
}

struct RouteConn {
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    handle: Arc<RouteHandle>,
    side: Side,
    peer: SocketAddr,
    my_info: RouteInfo,
    /// The other server's id and name, from its CONNECT (accepted side) or INFO.
    connected: Option<(String, String)>,
    /// Set once registered.
    link: Option<Arc<Link>>,
    publisher: Publisher,
    pings_out: u32,
    ended: Option<Ended>,
}

impl RouteConn {
    /// Handles every complete op in `buf`; an error ends the route (its text says why).
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), String> {
        let data: Bytes = buf.split().freeze();
        let mut pos = 0;
        let result = loop {
            if pos == data.len() {
                break Ok(());
            }
            let rest = data.slice(pos..);
            match parse_route_bytes(&rest, &ROUTE_LIMITS) {
                Ok(Parsed::Incomplete) => break Ok(()),
                Ok(Parsed::Blank { len }) => pos += len,
                Ok(Parsed::Op { op, len }) => {
                    pos += len;
                    if let Err(e) = self.handle_op(op) {
                        break Err(e);
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    push_op(&self.handle, &RouteOp::Err(text.clone()));
                    break Err(format!("protocol error: {text}"));
                }
            }
        };
        buf.extend_from_slice(&data[pos..]);
        result
    }

    fn handle_op(&mut self, op: RouteOp) -> Result<(), String> {
        match op {
            RouteOp::Ping => push_op(&self.handle, &RouteOp::Pong),
            RouteOp::Pong => self.pings_out = 0,
            RouteOp::Ok => {}
            RouteOp::Err(e) => return Err(format!("the other server said -ERR '{e}'")),
            RouteOp::Connect(c) => self.on_connect(&c)?,
            RouteOp::Info(info) => self.on_info(*info)?,
            op => {
                let Some(link) = self.link.clone() else {
                    return Err("route op before the handshake".into());
                };
                self.on_traffic(&link, op);
            }
        }
        Ok(())
    }

    /// The dialling server's CONNECT (this server accepted the route).
    fn on_connect(&mut self, c: &RouteConnect) -> Result<(), String> {
        if !matches!(self.side, Side::Accepted) || self.connected.is_some() {
            return Ok(()); // nats-server ignores a repeated CONNECT
        }
        if !c.gateway.is_empty() {
            return self.refuse("Rejecting connection from gateway on the Route port");
        }
        if let Some(auth) = &self.cluster.config.authorization {
            if !crate::auth::route_credentials_match(auth, &c.user, &c.pass) {
                return self.refuse("Authorization Violation");
            }
        }
        if !self.cluster.accepts_name(&c.cluster) {
            let text = format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                c.cluster,
                self.cluster.name()
            );
            return self.refuse(&text);
        }
        self.handle
            .headers
            .store(c.headers, std::sync::atomic::Ordering::Relaxed);
        self.connected = Some((c.name.clone(), c.name.clone()));
        Ok(())
    }

    fn refuse(&mut self, text: &str) -> Result<(), String> {
        push_op(&self.handle, &RouteOp::Err(text.to_owned()));
        Err(format!("refused: {text}"))
    }

    fn on_info(&mut self, info: RouteInfo) -> Result<(), String> {
        if let Some(link) = self.link.clone() {
            return self.on_later_info(&link, info);
        }
        if info.server_id == self.cluster.server_id() {
            self.ended = Some(Ended::Loop);
            return Err("this server dialled itself".into());
        }
        match &self.side {
            Side::Dialled { user, pass, seq } => {
                if !self.cluster.accepts_name(&info.cluster) {
                    return Err(format!(
                        "the other server's cluster is {:?}, not {:?}",
                        info.cluster,
                        self.cluster.name()
                    ));
                }
                let connect = RouteConnect {
                    echo: true,
                    user: user.clone().unwrap_or_default(),
                    pass: pass.clone().unwrap_or_default(),
                    headers: true,
                    tls_required: self.cluster.config.tls.is_some(),
                    name: self.cluster.server_id().to_owned(),
                    cluster: self.cluster.name(),
                    cluster_dynamic: false,
                    lnoc: false,
                    ..RouteConnect::default()
                };
                let mut mine = self.my_info.clone();
                mine.cluster = self.cluster.name();
                mine.extra
                    .insert("sluice_dial".to_owned(), serde_json::Value::from(*seq));
                self.handle.out.push_now(|b| {
                    RouteOp::Connect(Box::new(connect)).encode(b);
                    RouteOp::Info(Box::new(mine)).encode(b);
                });
            }
            Side::Accepted => {
                let Some((id, _)) = &self.connected else {
                    return Err("INFO before CONNECT".into());
                };
                if *id != info.server_id {
                    return Err("the INFO names another server than the CONNECT".into());
                }
            }
        }
        self.handle
            .headers
            .store(info.headers, std::sync::atomic::Ordering::Relaxed);
        let name = if info.server_name.is_empty() {
            info.server_id.clone()
        } else {
            info.server_name.clone()
        };
        self.connected = Some((info.server_id.clone(), name.clone()));
        let link = Arc::new(Link {
            handle: self.handle.clone(),
            remote_id: info.server_id.clone(),
            remote_name: name.clone(),
            solicited: matches!(self.side, Side::Dialled { .. }),
            url: route_url_of(&info, self.peer),
            client_urls: parking_lot::Mutex::new(info.connect_urls.clone().unwrap_or_default()),
            subs: Default::default(),
            since_ns: crate::stats::unix_nanos(),
            sluice_peer: info.extra.contains_key("sluice_version"),
            jetstream: info.jetstream,
            dial_seq: match &self.side {
                Side::Dialled { seq, .. } => *seq,
                Side::Accepted => info
                    .extra
                    .get("sluice_dial")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
            },
            retry: AtomicBool::new(false),
        });
        match self.cluster.register(link.clone()) {
            Ok(()) => {
                info!(route = %name, peer = %self.peer, "route connection created");
                self.link = Some(link);
                Ok(())
            }
            Err(Refused::Duplicate) => {
                self.ended = Some(Ended::Duplicate {
                    remote_id: info.server_id,
                });
                Err("duplicate route".into())
            }
        }
    }

    /// An INFO after the handshake: news of the other server itself (its client URLs, lame
    /// duck mode), or gossip about a third server to dial.
    fn on_later_info(&mut self, link: &Arc<Link>, info: RouteInfo) -> Result<(), String> {
        if info.server_id == link.remote_id || info.server_id.is_empty() {
            // An update without `connect_urls` (nats-server sends INFO on a route for other
            // reasons too) leaves them as they were.
            let urls = match (info.ldm, info.connect_urls) {
                (true, _) => Vec::new(),
                (false, Some(urls)) => urls,
                (false, None) => return Ok(()),
            };
            debug!(route = %link.remote_name, ?urls, "the other server's client URLs");
            let changed = {
                let mut mine = link.client_urls.lock();
                let changed = *mine != urls;
                *mine = urls;
                changed
            };
            if changed {
                self.cluster.urls_changed();
            }
            return Ok(());
        }
        let url = if info.ip.is_empty() {
            if info.host.is_empty() || info.port == 0 {
                return Ok(());
            }
            format!("nats-route://{}:{}/", info.host, info.port)
        } else {
            info.ip.clone()
        };
        if self.cluster.start_dialling(&info.server_id) {
            super::dial::dial_gossiped(
                self.shared.clone(),
                self.cluster.clone(),
                info.server_id,
                url,
            );
        }
        Ok(())
    }

    /// Interest and messages of an established route.
    fn on_traffic(&mut self, link: &Arc<Link>, op: RouteOp) {
        match op {
            RouteOp::Sub {
                account,
                subject,
                queue,
            } => {
                let Some(acc) = self.shared.account(&account).cloned() else {
                    debug!(%account, %subject, "a route announced interest in an account this server does not have: ignored");
                    return;
                };
                let (queue, weight) = match queue {
                    Some(q) => (Some(q.queue), q.weight.max(1)),
                    None => (None, 1),
                };
                if !self.cluster.exportable(&subject, queue.as_deref()) {
                    debug!(%subject, "a route asked for a subject this server does not export: ignored");
                    return;
                }
                self.remote_sub(link, acc, subject, queue, weight);
            }
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => {
                self.remote_unsub(link, &account, subject, queue);
            }
            RouteOp::Msg {
                account,
                subject,
                reply,
                queues,
                payload,
            } => {
                self.handle.stats.record_in(payload.len());
                if &*account == super::peer::PEER_ACCOUNT {
                    self.peer_message(link, &subject, reply.as_deref(), payload);
                } else if let Some(acc) = self.shared.account(&account) {
                    self.publisher.publish_from_route(
                        &self.shared,
                        acc,
                        &subject,
                        reply.as_deref(),
                        None,
                        &payload,
                        &queues,
                    );
                }
            }
            RouteOp::Hmsg {
                account,
                subject,
                reply,
                queues,
                headers,
                payload,
            } => {
                self.handle.stats.record_in(payload.len() + headers.len());
                if let Some(acc) = self.shared.account(&account) {
                    self.publisher.publish_from_route(
                        &self.shared,
                        acc,
                        &subject,
                        reply.as_deref(),
                        Some(&headers),
                        &payload,
                        &queues,
                    );
                }
            }
            // Leafnode-origin ops: only sent to a peer that said `lnoc` (this one does not).
            RouteOp::LeafSub { .. } | RouteOp::LeafUnsub { .. } | RouteOp::Lmsg { .. } => {}
            RouteOp::Info(_)
            | RouteOp::Connect(_)
            | RouteOp::Ping
            | RouteOp::Pong
            | RouteOp::Ok
            | RouteOp::Err(_) => unreachable!("handled by handle_op"),
        }
    }

    /// A message of the peer account: to the layer above's handler, never to subscribers;
    /// only from a Sluice peer.
    fn peer_message(&self, link: &Link, subject: &str, reply: Option<&str>, payload: Bytes) {
        if !link.sluice_peer {
            debug!(peer = %link.remote_name, "a peer message from a server that is not Sluice: dropped");
            return;
        }
        let handler = self.cluster.peer_handler.read().clone();
        if let Some(h) = handler {
            h.on_message(&link.remote_name, subject, reply, payload);
        }
    }

    /// `RS+`: the other server's interest, entered in the registry (a queue group once per
    /// member: its weight), or its queue weight changed.
    fn remote_sub(
        &self,
        link: &Link,
        acc: Arc<Account>,
        subject: ByteStr,
        queue: Option<ByteStr>,
        weight: u32,
    ) {
        let mut subs = link.subs.lock();
        let key = (acc.name.clone(), subject.clone(), queue.clone());
        if let Some((sub, old)) = subs.get_mut(&key) {
            let sub = sub.clone();
            let q = queue.as_deref();
            while *old < weight {
                if acc.sublist.insert(&subject, q, sub.clone()).is_err() {
                    return;
                }
                *old += 1;
            }
            while *old > weight {
                acc.sublist.remove(&subject, q, &sub);
                *old -= 1;
            }
            return;
        }
        let sub = Arc::new(Subscription::new(
            Owner::Route(self.handle.clone()),
            acc.clone(),
            ByteStr::from(""),
            subject.clone(),
            queue.clone(),
        ));
        let mut entered = 0;
        for _ in 0..weight {
            if acc
                .sublist
                .insert(&subject, queue.as_deref(), sub.clone())
                .is_err()
            {
                warn!(%subject, "a route announced interest in an invalid subject: ignored");
                break;
            }
            entered += 1;
        }
        if entered > 0 {
            subs.insert(key, (sub, entered));
        }
    }

    /// `RS-`: the other server's interest is gone.
    fn remote_unsub(&self, link: &Link, account: &str, subject: ByteStr, queue: Option<ByteStr>) {
        let removed = link
            .subs
            .lock()
            .remove(&(Arc::from(account), subject, queue));
        if let Some((sub, weight)) = removed {
            for _ in 0..weight {
                sub.account
                    .sublist
                    .remove(&sub.subject, sub.queue.as_deref(), &sub);
            }
        }
    }
}

/// Where a server takes routes, from its INFO: its advertised URL, else its listen host
/// (the connection's address if it listens on every interface) and port.
fn route_url_of(info: &RouteInfo, peer: SocketAddr) -> String {
    if !info.ip.is_empty() {
        return info.ip.clone();
    }
    let host = if unspecified(&info.host) {
        peer.ip().to_string()
    } else {
        info.host.clone()
    };
    format!("nats-route://{host}:{}/", info.port)
}
