//! One client connection: its read loop and how each op is handled.
//!
//! The hot path reads top to bottom: bytes arrive in `read_buf`, `scan_client` finds an op,
//! a PUB is routed straight from the read buffer (`publish` -> `Sublist::matches` -> one
//! `encode_msg` into each subscriber's outbound buffer), and the writers of the connections
//! that received something are woken once per read batch, not once per message.

use crate::auth::{authenticate, Credentials, Outcome};
use crate::config::{Auth, Permissions};
use crate::error::ServerError;
use crate::handle::{
    ClientHandle, Owner, SubRef, Subscription, ASYNC_INFO, DENY_FILTER, HEADERS, TRACK_REPLIES,
};
use crate::outbound::{run_writer, Outbound, STALL_MAX};
use crate::perms::{ClientPerms, ConnPerms};
use crate::route::Publisher;
use crate::shared::Shared;
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use sluice_protocol::headers::status;
use sluice_protocol::parse::RawClientOp;
use sluice_protocol::subject::{is_valid_literal_subject, is_valid_queue, is_valid_subject};
use sluice_protocol::{encode_msg, scan_client, ByteStr, ClientOp, ConnectInfo, Parsed};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace};

/// Reply subjects a client may not use: nats-server reserves them for JetStream acks and
/// service imports.
fn is_reserved_reply(reply: &str) -> bool {
    reply.starts_with("$JS.ACK.") || reply.starts_with("_R_.")
}

/// Longest wait for the first server PING after CONNECT.
const FIRST_PING: std::time::Duration = std::time::Duration::from_secs(2);

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
    connected: bool,
    verbose: bool,
    pedantic: bool,
    no_responders: bool,
    /// Credentials as merged from every CONNECT so far.
    credentials: Credentials,
    /// Set once authorized.
    granted: Option<Granted>,
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
    run_io(shared, reader, writer, peer, id, cancel, true).await;
}

/// Runs a connection over any byte stream (a TCP socket's halves, or a TLS stream's; generic,
/// so the plaintext path pays nothing for TLS). `send_info`: false when INFO already went out
/// (in plaintext, before a TLS handshake).
pub(crate) async fn run_io<R, W>(
    shared: Arc<Shared>,
    mut reader: R,
    writer: W,
    peer: SocketAddr,
    id: u64,
    cancel: CancellationToken,
    send_info: bool,
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
    });
    shared.register(&handle);
    // A reload between reading the limits above and registering would have missed us.
    handle
        .out
        .set_limits(shared.limits.max_pending(), shared.limits.write_deadline());
    if send_info {
        let info = shared.info_for(id, peer);
        handle.out.push_now(|b| b.extend_from_slice(&info));
    }
    debug!(cid = id, %peer, "client connection created");

    let writer_handle = handle.clone();
    let writer_task = tokio::spawn(async move { run_writer(&writer_handle.out, writer).await });

    let mut conn = Conn {
        shared: shared.clone(),
        handle: handle.clone(),
        connected: false,
        // nats-server's defaults until a CONNECT says otherwise: a person typing at the server
        // sees +OK, and publish subjects are checked.
        verbose: true,
        pedantic: true,
        no_responders: false,
        credentials: Credentials::default(),
        granted: None,
        perms: None,
        pings_out: 0,
        active: false,
        just_connected: false,
        first_ping: false,
        publisher: Publisher::new(id),
    };
    let auth_timer = tokio::time::sleep(shared.limits.auth_timeout());
    tokio::pin!(auth_timer);
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
                // As nats-server: a client that has been sending is evidently alive (the first
                // PING after CONNECT is sent regardless).
                if std::mem::take(&mut conn.active) && conn.connected && !conn.first_ping {
                    continue;
                }
                conn.first_ping = false;
                if conn.pings_out + 1 > shared.limits.max_pings_out() {
                    conn.fail(ServerError::StaleConnection);
                    break "stale connection";
                }
                conn.pings_out += 1;
                conn.trace_out("PING");
                handle.out.push_now(|b| b.extend_from_slice(b"PING\r\n"));
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
    shared.client_closed();
}

impl Conn {
    /// Handles every complete op in `buf`, leaving an incomplete tail in place.
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), ServerError> {
        // Read once per batch: a reload applies from the next read.
        let limits = self.shared.limits.parse();
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
                    if self.publisher.trace {
                        self.trace_in(&buf[..len]);
                    }
                    if !self.connected && self.shared.auth_required() {
                        return Err(ServerError::AuthorizationViolation);
                    }
                    // As nats-server: payload and header bytes, before any permission check.
                    let size = payload.get(buf).len() + headers.map_or(0, |h| h.get(buf).len());
                    self.handle.stats.record_in(size);
                    if headers.is_some() && !self.handle.headers() {
                        return Err(ServerError::HeadersNotNegotiated);
                    }
                    let subject = subject.text_in(buf);
                    let reply = reply.map(|r| r.text_in(buf));
                    if self.pedantic && !is_valid_literal_subject(subject) {
                        // As nats-server: complain, but still deliver.
                        self.send_err(ServerError::InvalidPublishSubject)?;
                    }
                    let permitted = match self.perms.as_deref_mut() {
                        None => true,
                        Some(perms) => perms.can_publish(subject, &self.handle.perms),
                    };
                    if !permitted {
                        // As nats-server: the message is dropped, the connection stays.
                        self.send_err(ServerError::PublishViolation(subject.to_owned()))?;
                    } else if reply.is_some_and(is_reserved_reply) {
                        // nats-server drops these: such replies are the server's own.
                        let reply = reply.unwrap_or_default();
                        self.send_err(ServerError::ReservedReply(reply.to_owned()))?;
                    } else {
                        self.ok();
                        // An empty header block is no header block (nats-server sends MSG).
                        let headers = headers.map(|h| h.get(buf)).filter(|h| !h.is_empty());
                        self.publish(subject, reply, headers, payload.get(buf));
                    }
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
            ClientOp::Ping => {
                self.trace_out("PONG");
                self.push_own(|b| b.extend_from_slice(b"PONG\r\n"));
            }
            ClientOp::Pong => self.pings_out = 0,
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid)?,
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(&sid, max);
                self.ok();
            }
            // PUB and HPUB are routed from the read buffer in `process`.
            ClientOp::Pub { .. } | ClientOp::Hpub { .. } => unreachable!("routed in process"),
        }
        Ok(())
    }

    fn connect(&mut self, info: &ConnectInfo) -> Result<(), ServerError> {
        // As nats-server: credentials, like every other option, are merged onto the ones an
        // earlier CONNECT gave.
        let creds = &mut self.credentials;
        if info.user.is_some() {
            creds.user.clone_from(&info.user);
        }
        if info.pass.is_some() {
            creds.pass.clone_from(&info.pass);
        }
        if info.auth_token.is_some() {
            creds.auth_token.clone_from(&info.auth_token);
        }
        let auth = self.shared.auth();
        let Outcome::Granted {
            secret,
            permissions,
        } = authenticate(&auth, creds, None)
        else {
            return Err(ServerError::AuthorizationViolation);
        };
        // nats-server has no accounts to bind a plain client to: it refuses both.
        let wants_account = info.account.as_deref().is_some_and(|a| !a.is_empty())
            || info.new_account == Some(true);
        if wants_account {
            return Err(ServerError::AuthorizationViolation);
        }
        if info.protocol.is_some_and(|p| !(0..=1).contains(&p)) {
            return Err(ServerError::InvalidClientProtocol);
        }
        let headers = info.headers.unwrap_or_else(|| self.handle.headers());
        let no_responders = info.no_responders.unwrap_or(self.no_responders);
        if no_responders && !headers {
            return Err(ServerError::NoRespondersRequiresHeaders);
        }
        // As nats-server: each CONNECT is merged onto the current options.
        self.just_connected = !self.connected;
        self.connected = true;
        self.verbose = info.verbose.unwrap_or(self.verbose);
        self.pedantic = info.pedantic.unwrap_or(self.pedantic);
        self.publisher.echo = info.echo.unwrap_or(self.publisher.echo);
        self.handle.set_flag(HEADERS, headers);
        if let Some(protocol) = info.protocol {
            self.handle.set_flag(ASYNC_INFO, protocol >= 1);
        }
        self.no_responders = no_responders;
        self.granted = Some(Granted { auth, secret });
        self.set_permissions(permissions.as_ref(), false)?;
        *self.handle.stats.meta.lock() = crate::stats::ClientMeta {
            name: info.name.clone().unwrap_or_default(),
            lang: info.lang.clone().unwrap_or_default(),
            version: info.version.clone().unwrap_or_default(),
        };
        debug!(
            cid = self.handle.id,
            name = info.name.as_deref().unwrap_or(""),
            lang = info.lang.as_deref().unwrap_or(""),
            version = info.version.as_deref().unwrap_or(""),
            "client connected"
        );
        self.ok();
        Ok(())
    }

    /// Re-checks this connection against a reloaded authorization, as nats-server does: a
    /// connection whose credentials no longer pass is closed (with `Authorization Violation`,
    /// or silently if its user is gone: `Err(None)`); the others get the user's new
    /// permissions, and lose the subscriptions those no longer allow.
    fn reauthorize(&mut self) -> Result<(), Option<ServerError>> {
        let Some(granted) = &self.granted else {
            // Not connected yet: its CONNECT will be checked against the new authorization.
            return Ok(());
        };
        let auth = self.shared.auth();
        if Arc::ptr_eq(&granted.auth, &auth) {
            return Ok(());
        }
        let outcome = authenticate(&auth, &self.credentials, granted.secret.as_deref());
        match outcome {
            Outcome::Granted {
                secret,
                permissions,
            } => {
                debug!(cid = self.handle.id, "authorization reloaded");
                self.granted = Some(Granted { auth, secret });
                self.set_permissions(permissions.as_ref(), true)
                    .map_err(Some)
            }
            Outcome::Denied { unknown_user } => {
                debug!(
                    cid = self.handle.id,
                    "credentials no longer valid after reload"
                );
                Err((!unknown_user).then_some(ServerError::AuthorizationViolation))
            }
        }
    }

    /// Installs the user's permissions. On a reload (`revoke`), subscriptions they no longer
    /// allow are removed, each with an `-ERR` naming it.
    fn set_permissions(
        &mut self,
        permissions: Option<&Permissions>,
        revoke: bool,
    ) -> Result<(), ServerError> {
        let perms = permissions.and_then(ConnPerms::new).map(Box::new);
        let responses = permissions.and_then(|p| p.allow_responses);
        self.handle.perms.set_responses(responses);
        self.handle.set_flag(TRACK_REPLIES, responses.is_some());
        let mut subs: Vec<SubRef> = self.handle.subs.lock().values().cloned().collect();
        subs.sort_by(|a, b| a.sid.cmp(&b.sid));
        let mut filter = None;
        if let Some(perms) = perms.as_deref() {
            for sub in subs {
                if revoke && !perms.can_subscribe(&sub.subject, sub.queue.as_deref()) {
                    self.shared.remove_sub(&sub);
                    self.send_err(ServerError::SubscriptionRevoked {
                        subject: sub.subject.to_string(),
                        sid: sub.sid.to_string(),
                    })?;
                } else if filter.is_none() {
                    filter = perms.deny_filter_for(&sub.subject).cloned();
                }
            }
        }
        let on = self.handle.perms.set_deny_filter(filter);
        self.handle.set_flag(DENY_FILTER, on);
        self.perms = perms;
        Ok(())
    }

    fn subscribe(
        &mut self,
        subject: ByteStr,
        queue: Option<ByteStr>,
        sid: ByteStr,
    ) -> Result<(), ServerError> {
        if let Some(perms) = self.perms.as_deref() {
            // As nats-server: permissions are checked before the subject's validity.
            if !perms.can_subscribe(&subject, queue.as_deref()) {
                let err = ServerError::SubscribeViolation {
                    subject: subject.to_string(),
                    queue: queue.as_deref().map(str::to_owned),
                };
                return self.send_err(err);
            }
            // A wildcard subscription that overlaps the deny list: from now on, deliveries
            // to this connection are checked against it (set before the subscription can
            // receive anything).
            if self.handle.flags() & DENY_FILTER == 0 {
                if let Some(deny) = perms.deny_filter_for(&subject) {
                    self.handle.perms.set_deny_filter(Some(deny.clone()));
                    self.handle.set_flag(DENY_FILTER, true);
                }
            }
        }
        if !is_valid_subject(&subject) {
            return self.send_err(ServerError::InvalidSubject);
        }
        if queue.as_deref().is_some_and(|q| !is_valid_queue(q)) {
            return self.send_err(ServerError::InvalidQueue);
        }
        {
            let mut subs = self.handle.subs.lock();
            if let std::collections::hash_map::Entry::Vacant(slot) = subs.entry(sid.clone()) {
                let sub = Arc::new(Subscription::new(
                    Owner::Client(self.handle.clone()),
                    sid,
                    subject.clone(),
                    queue.clone(),
                ));
                if self
                    .shared
                    .sublist
                    .insert(&subject, queue.as_deref(), sub.clone())
                    .is_err()
                {
                    drop(subs);
                    return self.send_err(ServerError::InvalidSubject);
                }
                slot.insert(sub);
            }
        }
        self.ok();
        Ok(())
    }

    fn unsubscribe(&mut self, sid: &ByteStr, max: Option<u64>) {
        let sub = self.handle.subs.lock().get(sid).cloned();
        let Some(sub) = sub else { return };
        if let Some(max) = max.filter(|&m| m > 0) {
            if !sub.set_max(max) {
                return;
            }
        }
        self.shared.remove_sub(&sub);
    }

    /// Routes one message from this connection; answers "no responders" when asked to and
    /// nobody got it.
    #[inline]
    fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        // A subject with an empty token can match no subscription (nats-server delivers it
        // nowhere, not even to `>`).
        let routable =
            !(subject.starts_with('.') || subject.ends_with('.') || subject.contains(".."));
        let delivered = routable
            && self
                .publisher
                .publish(&self.shared, subject, reply, headers, payload);
        if !delivered && self.no_responders {
            if let Some(reply) = reply {
                self.no_responders(reply);
            }
        }
    }

    /// A request nobody listens to: tell the requester with a 503 status on its reply
    /// subscription, as nats-server does.
    fn no_responders(&mut self, reply: &str) {
        let matches = self.shared.sublist.matches(reply);
        let me = self.handle.id;
        let own = matches.plain.iter().find(|s| s.owner.id() == me).cloned();
        if let Some(sub) = own {
            let mut hdr = BytesMut::new();
            sluice_protocol::HeaderMap::with_status(status::NO_RESPONDERS, None).encode(&mut hdr);
            self.push_own(|b| encode_msg(b, reply, &sub.sid, None, Some(&hdr), b""));
        }
    }

    /// Appends to this connection's own outbound buffer; the writer is woken after the batch.
    fn push_own(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        self.publisher.push_to(&self.handle, encode);
    }

    fn ok(&mut self) {
        if self.verbose {
            self.trace_out("+OK");
            self.push_own(|b| b.extend_from_slice(b"+OK\r\n"));
        }
    }

    /// Sends `err` as `-ERR`: every error a connection reports goes through here, and
    /// [`ServerError::is_fatal`] decides what follows. After a fatal one the connection takes
    /// nothing more and closes once what is buffered has gone out, and `Err(err)` tells the
    /// caller to stop; after any other the op is refused (or, for a pedantic publish subject,
    /// only complained about) and the connection goes on: `Ok`.
    fn send_err(&mut self, err: ServerError) -> Result<(), ServerError> {
        self.trace_out(&format!("-ERR '{err}'"));
        if err.is_fatal() {
            self.handle.out.close_with(&err);
            return Err(err);
        }
        self.push_own(|b| err.encode(b));
        Ok(())
    }

    /// Reports an error the read loop stops at (one an op returned, a keepalive or auth
    /// timeout, credentials a reload no longer accepts): all fatal, so `send_err` closes the
    /// connection. (Sending one that `send_err` already sent does nothing more: a closed
    /// connection's buffer takes no second `-ERR`.)
    fn fail(&mut self, err: ServerError) {
        debug_assert!(
            err.is_fatal(),
            "the read loop stops at {err:?}, is_fatal says go on"
        );
        let _ = self.send_err(err);
    }

    fn unsubscribe_all(&mut self) {
        let subs: Vec<SubRef> = self.handle.subs.lock().drain().map(|(_, s)| s).collect();
        for sub in subs {
            self.shared
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), &sub);
        }
    }

    fn trace_in(&self, frame: &[u8]) {
        let line_end = frame
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(frame.len());
        let line = String::from_utf8_lossy(&frame[..line_end]);
        trace!(cid = self.handle.id, "<<- [{}]", line.trim_end());
    }

    fn trace_out(&self, what: &str) {
        if self.publisher.trace {
            trace!(cid = self.handle.id, "->> [{what}]");
        }
    }
}
