//! One client connection: its read loop here, and one file per protocol op.
//!
//! The hot path reads top to bottom: bytes arrive in `read_buf`, `scan_client` finds an op,
//! a PUB is routed straight from the read buffer (`handle_pub` -> `publish` ->
//! `Sublist::matches` -> one `encode_msg` into each subscriber's outbound buffer), and the
//! writers of the connections that received something are woken once per read batch, not
//! once per message.
//!
//! - `mod.rs`: the connection's state ([`Conn`]), the read loop, and which op goes where.
//! - `connect.rs`: CONNECT: authentication and permissions, and re-checking them when the
//!   authorization is reloaded.
//! - `publish.rs`: PUB and HPUB: the checks, routing, and no-responders replies.
//! - `subscribe.rs`: SUB and UNSUB.
//! - `ping.rs`: PING and PONG, both ways (keepalive).
//! - `respond.rs`: what a connection sends its own client besides messages (`+OK`, `-ERR`
//!   and whether it then closes) and the protocol trace.
//!
//! The op files only add methods to [`Conn`]; this file imports nothing from them.

use crate::auth::Credentials;
use crate::config::Auth;
use crate::error::ServerError;
use crate::handle::{Account, ClientHandle};
use crate::outbound::{run_writer, Outbound, STALL_MAX};
use crate::perms::{ClientPerms, ConnPerms};
use crate::route::Publisher;
use crate::shared::Shared;
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use sluice_protocol::parse::RawClientOp;
use sluice_protocol::{scan_client, ClientOp, Parsed};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::debug;

mod connect;
mod ping;
mod publish;
mod respond;
mod subscribe;

/// Longest wait for the first server PING after CONNECT.
const FIRST_PING: std::time::Duration = std::time::Duration::from_secs(2);

/// How long after its CONNECT a user allowed no subscriptions is told so and closed
/// (nats-server's 20 ms: what came with the CONNECT, a PING say, is answered first).
const NO_SUBS_CLOSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Smallest free space kept in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;

/// What a connection was last authorized as.
struct Granted {
    /// The authorization it was checked against.
    auth: Arc<Auth>,
    /// The configured password or token its credentials matched.
    secret: Option<String>,
}

/// The reader's own state.
struct Conn {
    shared: Arc<Shared>,
    handle: Arc<ClientHandle>,
    /// The account it publishes and subscribes in: the global one until a CONNECT names a
    /// user of another.
    account: Arc<Account>,
    connected: bool,
    verbose: bool,
    pedantic: bool,
    no_responders: bool,
    /// Operator mode: when the user's JWT expires (Unix seconds); the connection is then
    /// closed with `User Authentication Expired`, as nats-server does.
    expires: Option<i64>,
    /// Operator mode: the most subscriptions its user may hold (its payload limit is on the
    /// handle, which INFO updates from other tasks read too).
    max_subs: Option<usize>,
    /// Its user may publish less than the INFO it got said: a new INFO follows the first
    /// PONG (as nats-server).
    tell_payload: bool,
    /// Its user may hold no subscriptions at all: told so, and closed, [`NO_SUBS_CLOSE`]
    /// after the CONNECT (as nats-server).
    no_subs: bool,
    /// Credentials as merged from every CONNECT so far.
    credentials: Credentials,
    /// Set once authorized.
    granted: Option<Granted>,
    /// The user its client certificate named (`verify_and_map`), if any.
    cert_user: Option<String>,
    /// The user's permissions; `None` (no checks at all) when it has none.
    perms: Option<Box<ConnPerms>>,
    pings_out: u32,
    /// Routing state: echo flag, queue-group picker, writers to wake after a batch.
    publisher: Publisher,
    /// CONNECT was just accepted for the first time: schedule the first PING.
    just_connected: bool,
    /// The next PING is the first after CONNECT.
    first_ping: bool,
    /// Something arrived since the last keepalive tick: no PING needed this time.
    active: bool,
    /// The cluster's client URLs as of the INFO the client was sent (`None`: not clustered).
    /// A CONNECT that asks for INFO updates gets one if they changed meanwhile.
    told_urls: Option<Vec<String>>,
}

/// Runs a plaintext connection to completion: INFO, then ops until EOF, a fatal error or
/// cancellation.
pub(crate) async fn run(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let creds = Credentials {
        nonce: shared.new_nonce(),
        ..Credentials::default()
    };
    run_io(shared, reader, writer, peer, id, cancel, true, creds).await;
}

/// Runs a connection over any byte stream (a TCP socket's halves, or a TLS stream's; generic,
/// so the plaintext path pays nothing for TLS). `send_info`: false when INFO already went out
/// (in plaintext, before a TLS handshake, or over TLS after it). `creds`: what the client
/// has proved before CONNECT: the nonce its INFO carries (nkey users sign it), and its
/// certificate's names (`verify_and_map`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_io<R, W>(
    shared: Arc<Shared>,
    mut reader: R,
    writer: W,
    peer: SocketAddr,
    id: u64,
    cancel: CancellationToken,
    send_info: bool,
    creds: Credentials,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let handle = Arc::new(ClientHandle {
        id,
        out: Outbound::new(
            shared.limits.max_pending(),
            shared.limits.write_deadline(),
            cancel.clone(),
        ),
        subs: Mutex::new(HashMap::new()),
        flags: AtomicU8::new(0),
        perms: ClientPerms::default(),
        reauth: Notify::new(),
        stats: crate::stats::ConnStats::new(peer),
        own_max_payload: std::sync::atomic::AtomicUsize::new(usize::MAX),
    });
    shared.register(&handle);
    // A reload between reading the limits above and registering would have missed us.
    handle
        .out
        .set_limits(shared.limits.max_pending(), shared.limits.write_deadline());
    // Read before the INFO is made (a change in between only costs an extra update).
    let told_urls = shared.connect_urls();
    if send_info {
        let info = shared.info_for(id, peer, creds.nonce.as_deref());
        handle.out.push_now(|b| b.extend_from_slice(&info));
    }
    debug!(cid = id, %peer, "client connection created");

    let writer_handle = handle.clone();
    let writer_task = tokio::spawn(async move { run_writer(&writer_handle.out, writer).await });

    shared
        .global
        .conns
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut conn = Conn {
        shared: shared.clone(),
        handle: handle.clone(),
        account: shared.global.clone(),
        connected: false,
        // nats-server's defaults until a CONNECT says otherwise: a person typing at the server
        // sees +OK, and publish subjects are checked.
        verbose: true,
        pedantic: true,
        no_responders: false,
        expires: None,
        max_subs: None,
        tell_payload: false,
        no_subs: false,
        credentials: creds,
        granted: None,
        cert_user: None,
        perms: None,
        pings_out: 0,
        active: false,
        told_urls,
        just_connected: false,
        first_ping: false,
        publisher: Publisher::new(id),
    };
    let auth_timer = tokio::time::sleep(shared.limits.auth_timeout());
    tokio::pin!(auth_timer);
    // Armed when a CONNECT's user JWT has an expiry.
    let expiry = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(expiry);
    let mut expiring: Option<i64> = None;
    // Armed when a CONNECT's user JWT allows no subscriptions.
    let doom = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(doom);
    let mut doomed = false;
    // Reloadable: a new ping_interval takes effect at the next tick.
    let mut period = shared.limits.ping_interval();
    let mut ping_timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);

    let reason: &str = loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break if handle.out.is_slow() { "slow consumer" } else { "closed" },
            r = reader.read_buf(&mut buf) => match r {
                Ok(0) => break "client closed connection",
                Ok(_) => {
                    conn.active = true;
                    handle.stats.touch();
                    let result = conn.process(&mut buf);
                    if std::mem::take(&mut conn.just_connected) {
                        // As nats-server: the first PING comes soon after CONNECT (at most 2 s,
                        // plus up to 20% jitter), then every ping_interval.
                        let first = period.min(FIRST_PING);
                        let jitter = first.mul_f64(rand::random::<f64>() * 0.2);
                        ping_timer.reset_at(tokio::time::Instant::now() + first + jitter);
                        conn.first_ping = true;
                    }
                    conn.publisher.wake_all();
                    if conn.no_subs && !doomed {
                        doom.as_mut().reset(tokio::time::Instant::now() + NO_SUBS_CLOSE);
                        doomed = true;
                    }
                    if conn.expires != expiring {
                        // A CONNECT's user JWT expires: arm (or re-arm) the timer.
                        if let Some(at) = conn.expires {
                            let now = crate::stats::unix_nanos() / 1_000_000_000;
                            let left = u64::try_from(at).unwrap_or(0).saturating_sub(now);
                            let left = std::time::Duration::from_secs(left);
                            expiry.as_mut().reset(tokio::time::Instant::now() + left);
                        }
                        expiring = conn.expires;
                    }
                    if let Err(e) = result {
                        debug!(cid = id, error = %e, "closing after protocol error");
                        conn.fail(e);
                        break "protocol error";
                    }
                    if let Some(target) = conn.publisher.stalled.take() {
                        // A reader we filled is behind: give its writer a moment (bounded).
                        if !Arc::ptr_eq(&target, &handle) {
                            target.out.wait_drained(STALL_MAX).await;
                        }
                    }
                    if let Some(route) = conn.publisher.stalled_route.take() {
                        // A route we filled is behind (the other server reads it no faster
                        // than its own subscribers take what it carries): the same bounded
                        // wait, so the producer is paced instead of the route cut off.
                        route.out.wait_drained(STALL_MAX).await;
                    }
                    if let Some(backlog) = conn.publisher.blocked.take() {
                        // An in-process consumer (a stream's writer) is behind: read nothing
                        // more until it catches up, so TCP paces the producer.
                        tokio::select! {
                            _ = backlog.wait_for_room() => {}
                            _ = cancel.cancelled() => {}
                        }
                    }
                }
                Err(_) => break "read error",
            },
            _ = ping_timer.tick() => {
                let now_period = shared.limits.ping_interval();
                if now_period != period {
                    period = now_period;
                    ping_timer = tokio::time::interval_at(
                        tokio::time::Instant::now() + period,
                        period,
                    );
                }
                if let Err(e) = conn.keepalive() {
                    conn.fail(e);
                    break "stale connection";
                }
            },
            _ = &mut doom, if doomed => {
                conn.fail(ServerError::NoSubsAllowed);
                break "maximum subscriptions exceeded";
            },
            _ = &mut expiry, if expiring.is_some() => {
                conn.fail(ServerError::AuthExpired);
                break "user JWT expired";
            },
            _ = &mut auth_timer, if !conn.connected && shared.auth_required() => {
                conn.fail(ServerError::AuthTimeout);
                break "authentication timeout";
            },
            _ = handle.reauth.notified() => {
                let result = conn.reauthorize();
                conn.publisher.wake_all();
                match result {
                    Ok(()) => {}
                    Err(Some(e)) => {
                        conn.fail(e);
                        break "authorization revoked";
                    }
                    Err(None) => break "user removed",
                }
            },
        }
    };
    debug!(cid = id, %peer, reason, "client connection closing");
    cancel.cancel();
    conn.unsubscribe_all();
    shared.unregister(id);
    shared.stats.closed(&handle.stats, handle.out.is_slow());
    let _ = writer_task.await;
    if conn.connected {
        // After the writer is done, so the advisory counts everything it sent.
        crate::events::client_disconnected(
            &shared,
            &handle,
            &conn.account.name,
            &conn.user_name(),
            advisory_reason(reason),
        );
    }
    shared.client_closed();
}

/// nats-server's words for why a client went, as its disconnect advisories give them.
fn advisory_reason(reason: &str) -> &'static str {
    match reason {
        "client closed connection" | "read error" => "Client Closed",
        "slow consumer" => "Slow Consumer (Write Deadline)",
        "stale connection" => "Stale Connection",
        "authentication timeout" => "Authentication Timeout",
        "authorization revoked" | "user removed" => "Authentication Failure",
        "protocol error" => "Parse Error",
        _ => "Server Shutdown",
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.account
            .conns
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Conn {
    /// The user the connection logged in as (its nkey for an nkey user), as advisories name
    /// it; empty without one.
    fn user_name(&self) -> String {
        let c = &self.credentials;
        self.cert_user
            .clone()
            .or_else(|| c.nkey.clone())
            .or_else(|| c.user.clone())
            .or_else(|| self.shared.no_auth_user.clone())
            .unwrap_or_default()
    }

    /// Moves the connection to `account` (before it has subscribed anywhere).
    fn bind_account(&mut self, account: Arc<Account>) {
        use std::sync::atomic::Ordering::Relaxed;
        account.conns.fetch_add(1, Relaxed);
        self.account.conns.fetch_sub(1, Relaxed);
        self.account = account;
    }

    /// Handles every complete op in `buf`, leaving an incomplete tail in place.
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), ServerError> {
        // Read once per batch: a reload applies from the next read.
        let mut limits = self.shared.limits.parse();
        limits.max_payload = self.handle.max_payload(limits.max_payload);
        loop {
            // As nats-server: until an auth server has seen CONNECT, anything else is refused
            // on its first byte, before it is even parsed.
            if !self.connected
                && self.shared.auth_required()
                && buf.first().is_some_and(|b| !matches!(b, b'C' | b'c'))
            {
                return Err(ServerError::AuthorizationViolation);
            }
            let parsed = scan_client(buf, &limits)?;
            match parsed {
                Parsed::Incomplete => return Ok(()),
                Parsed::Blank { len } => buf.advance(len),
                Parsed::Op {
                    op:
                        RawClientOp::Pub {
                            subject,
                            reply,
                            headers,
                            payload,
                        },
                    len,
                } => {
                    self.handle_pub(buf, len, subject, reply, headers, payload)?;
                    buf.advance(len);
                }
                Parsed::Op { op, len } => {
                    let frame = buf.split_to(len).freeze();
                    if self.publisher.trace {
                        self.trace_in(&frame);
                    }
                    self.handle_op(op.resolve(&frame))?;
                }
            }
        }
    }

    fn handle_op(&mut self, op: ClientOp) -> Result<(), ServerError> {
        if !self.connected && self.shared.auth_required() && !matches!(op, ClientOp::Connect(_)) {
            return Err(ServerError::AuthorizationViolation);
        }
        match op {
            ClientOp::Connect(info) => self.connect(&info)?,
            ClientOp::Ping => self.ping(),
            ClientOp::Pong => self.pong(),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid)?,
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(&sid, max);
                self.ok();
            }
            // PUB and HPUB are routed from the read buffer in `process` (`handle_pub`).
            ClientOp::Pub { .. } | ClientOp::Hpub { .. } => unreachable!("routed in process"),
        }
        Ok(())
    }
}
