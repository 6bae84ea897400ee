//! Each stream's writer: one thread that owns the appends, batches them, syncs once per batch
//! (group commit) and only then acks.
//!
//! Publishes arrive on a channel from the stream's subject subscriptions (the publisher's task
//! only hands the message over). Everything on that channel is counted in the stream's
//! [`Backlog`] (`max_queued` bytes, 8 MiB by default) until the writer has stored, synced and
//! answered it; while the backlog is over its limit, the client connections that publish to
//! the stream (or ack or pull from its consumers) are not read, so a producer that outruns the
//! disk is paced by TCP instead of filling memory. The writer takes everything queued (up to a
//! bound), stores each message, makes the batch durable with one fdatasync when the sync
//! policy is `always`, and then publishes every PubAck. While it syncs, new publishes queue up and share the next
//! sync, so throughput under load stays high while every ack still means "on disk".
//!
//! The writer also owns the stream's consumers ([`Consumers`]): their acks, pull requests and
//! flow control answers come through the same channel, in order with the publishes, and after
//! each batch it delivers what is due. Consumer state changed by double acks is flushed once per batch
//! (group commit again) before any double-ack answer goes out, and plain acks within
//! [`ACK_FLUSH`]; deliveries only go out after the batch that stored them is durable.
//!
//! Changes the `$JS.API` makes (purge, message delete, config update, consumer create, update
//! and delete) arrive on the same channel as typed [`StreamOp`]s ([`Cmd::Op`]), applied in
//! order with the publishes by `apply.rs`, which takes its times and names from the op.

use crate::api::ack::encode_ack;
use crate::apply::ApplyCtx;
use crate::consumer::set::Consumers;
use crate::inline::Gate;
use crate::op::{OpOutcome, StreamOp};
use crate::shell::run_op;
use crate::stream::{PublishError, Stored, Stream};
use crate::time::now_ns;
use parking_lot::Mutex;
use sluice_server::{Backlog, InternalMsg, ServerHandle};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{error, warn};

/// When an ack may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After the message is fsynced (fdatasync). The default.
    Always,
    /// After the message is written to the OS; fsync every interval (nats-server's default
    /// behaviour, 2 minutes).
    Every(Duration),
}

/// A closure run on a stream's writer thread (reads only: see [`Cmd::Run`]).
pub type WriterFn = Box<dyn FnOnce(&mut Stream, &mut Consumers) + Send>;

/// What a stream's writer is asked to do.
pub enum Cmd {
    /// Store a published message (and ack it if it has a reply subject).
    Publish(InternalMsg),
    /// Apply a change to the stream or its consumers (purge, message delete, config update,
    /// consumer create/update/delete), in order with publishes, and send the outcome back.
    Op(Box<StreamOp>, SyncSender<OpOutcome>),
    /// Run a closure on the stream and its consumers on the writer thread, in order with
    /// publishes. Only reads use it now (CONSUMER.INFO, NAMES and LIST, and the monitor's
    /// consumer numbers), because the consumers live on this thread; every change is a
    /// [`Cmd::Op`]. Step 5 of issue 16 replaces these reads with snapshots.
    Run(WriterFn),
    /// A message to a delivery's ack reply subject (`$JS.ACK.<stream>.<consumer>...`).
    Ack(InternalMsg),
    /// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`).
    Next(InternalMsg),
    /// An answer to a push consumer's flow control request (`$JS.FC.<stream>.<consumer>.<n>`).
    FlowControl(InternalMsg),
    /// Sync and exit. Explicit, because a router cache may keep a sink (and so a sender)
    /// alive for a while after its subscription is gone.
    Stop,
}

impl Cmd {
    /// What it counts for in the stream's [`Backlog`]: a message's size, nothing for the rest.
    fn cost(&self) -> usize {
        match self {
            Cmd::Publish(m) | Cmd::Ack(m) | Cmd::Next(m) | Cmd::FlowControl(m) => Backlog::cost(m),
            Cmd::Op(..) | Cmd::Run(_) | Cmd::Stop => 0,
        }
    }
}

/// The sending side of a writer's channel. Everything sent is counted in the stream's
/// [`Backlog`] until the writer has handled it, so that client connections publishing to the
/// stream (messages, acks, pull requests) stop being read while it is over its limit.
#[derive(Clone)]
pub(crate) struct WriterTx {
    tx: Sender<Cmd>,
    pub backlog: Arc<Backlog>,
}

impl WriterTx {
    pub(crate) fn new(tx: Sender<Cmd>, backlog: Arc<Backlog>) -> Self {
        WriterTx { tx, backlog }
    }

    /// Hands `cmd` to the writer; false if the writer is gone.
    pub(crate) fn send(&self, cmd: Cmd) -> bool {
        let cost = cmd.cost();
        self.backlog.add(cost);
        if self.tx.send(cmd).is_err() {
            self.backlog.release(cost);
            return false;
        }
        true
    }
}

/// Most publishes taken into one batch.
const MAX_BATCH: usize = 8192;
/// Under `SyncPolicy::Always`, consumer state changed by plain acks and deliveries is fsynced
/// at most this long after the change (double acks before their answer, always); under
/// `SyncPolicy::Every`, within the interval or 1 s, whichever is shorter.
pub const ACK_FLUSH: Duration = Duration::from_millis(50);
/// Under interval sync, how often an idle writer looks for publishes stored inline (they do
/// not come through its channel) that it owes a sync; and how soon a failed sync is retried.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// Longest an idle writer sleeps under `SyncPolicy::Always`, where everything reaches it
/// through its channel or is due at a time it knows (max_age, TTLs, consumer deadlines).
const IDLE_MAX: Duration = Duration::from_secs(3600);

/// Runs the writer until [`Cmd::Stop`] (or every sender is gone), then syncs what is left.
pub(crate) fn run_writer(
    stream: Arc<Mutex<Stream>>,
    mut consumers: Consumers,
    mut ctx: ApplyCtx,
    rx: Receiver<Cmd>,
    server: ServerHandle,
    sync: SyncPolicy,
    gate: Arc<Gate>,
) {
    let name = stream.lock().name().to_owned();
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut batch: Vec<Cmd> = Vec::with_capacity(256);
    let mut acks: Vec<(
        Option<sluice_protocol::ByteStr>,
        Result<Stored, PublishError>,
    )> = Vec::with_capacity(256);
    let mut more = false;
    loop {
        let mut wait = match sync {
            SyncPolicy::Every(every) if unsynced => {
                every.saturating_sub(last_sync.elapsed()).min(IDLE_TICK)
            }
            SyncPolicy::Every(_) => IDLE_TICK,
            SyncPolicy::Always if unsynced => IDLE_TICK,
            SyncPolicy::Always => IDLE_MAX,
        };
        let next_expiry = stream.lock().next_expiry();
        for at in [consumers.next_wakeup(), next_expiry].into_iter().flatten() {
            let ns = at.saturating_sub(now_ns()).max(0) as u64;
            wait = wait.min(Duration::from_nanos(ns));
        }
        if consumers.flush_pending() {
            wait = wait.min(ACK_FLUSH);
        }
        if more {
            wait = Duration::ZERO;
        }
        match rx.recv_timeout(wait) {
            Ok(cmd) => batch.push(cmd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        // Given back to the backlog once the batch is stored, synced and answered.
        let handled: usize = batch.iter().map(Cmd::cost).sum();
        let mut s = stream.lock();
        let now = now_ns();
        let mut stop = false;
        let mut publishes = 0;
        if gate.dirty.swap(false, std::sync::atomic::Ordering::AcqRel) {
            unsynced = true; // stored inline (see inline.rs)
        }
        for cmd in batch.drain(..) {
            match cmd {
                Cmd::Publish(msg) => {
                    publishes += 1;
                    let r = s.publish(&msg.subject, msg.headers.as_deref(), &msg.payload, now);
                    if let Ok(Stored::New(seq)) = r {
                        unsynced = true;
                        consumers.on_stored(seq, &msg.subject, &mut s);
                    }
                    acks.push((msg.reply, r));
                }
                Cmd::Op(op, done) => {
                    let outcome = run_op(&mut s, &mut consumers, &mut ctx, *op);
                    consumers.reconcile(&s);
                    unsynced = true;
                    let _ = done.send(outcome);
                }
                Cmd::Run(f) => {
                    f(&mut s, &mut consumers);
                    consumers.reconcile(&s);
                    unsynced = true;
                }
                Cmd::Ack(msg) => consumers.on_ack(msg, &mut s, now),
                Cmd::Next(msg) => consumers.on_next(msg, &s, now),
                Cmd::FlowControl(msg) => consumers.on_fc(msg),
                Cmd::Stop => stop = true,
            }
        }
        if let Err(e) = s.expire(now) {
            warn!(stream = %name, error = %e, "expiring messages failed");
        }
        let due = match sync {
            SyncPolicy::Always => unsynced,
            SyncPolicy::Every(every) => unsynced && last_sync.elapsed() >= every,
        };
        if !due && unsynced {
            // Interval mode still promises that an ack survives kill -9: the batch reaches
            // the OS before any of it is acked.
            if let Err(e) = s.write_out() {
                error!(stream = %name, error = %e, "write failed: publishes in this batch are not acknowledged");
                fail_acks(&mut acks, &name, &e);
                unsynced = !forget_unwritten(&mut s, &mut consumers, &name, now);
            }
        }
        if due {
            match s.sync() {
                Ok(()) => {
                    unsynced = false;
                    last_sync = Instant::now();
                }
                Err(e) => {
                    error!(stream = %name, error = %e, "sync failed: publishes in this batch are not acknowledged");
                    fail_acks(&mut acks, &name, &e);
                    unsynced = !forget_unwritten(&mut s, &mut consumers, &name, now);
                }
            }
        }
        let acks_ok = consumers.persist(match sync {
            SyncPolicy::Always => ACK_FLUSH,
            SyncPolicy::Every(every) => every.min(Duration::from_secs(1)),
        });
        if !stop {
            let now = now_ns();
            consumers.tick(&mut s, now);
            more = consumers.pump(&s, now);
        }
        drop(s);
        if !acks.is_empty() {
            server.batch(|b| {
                for (reply, r) in acks.drain(..) {
                    if let (Some(reply), Some(ack)) = (reply, encode_ack(&name, &r)) {
                        b.publish(&reply, None, None, &ack);
                    }
                }
            });
        }
        consumers.send(acks_ok);
        gate.backlog.release(handled);
        if publishes > 0 {
            // Stored and acked: publishes after these may be stored inline again.
            gate.queued
                .fetch_sub(publishes, std::sync::atomic::Ordering::AcqRel);
        }
        if stop {
            break;
        }
    }
    consumers.stop();
    consumers.persist(Duration::ZERO);
    if let Err(e) = stream.lock().sync() {
        error!(stream = %name, error = %e, "final sync failed");
    }
}

/// After a failed write or sync: drops what the store could not write, so that refused
/// publishes are not stored after all (nor delivered) once the disk has room again. True if
/// the store is back in step with its files (nothing left to sync).
pub(crate) fn forget_unwritten(
    s: &mut Stream,
    consumers: &mut Consumers,
    name: &str,
    now: i64,
) -> bool {
    match s.reload(now) {
        Ok(dropped) => {
            let st = s.state();
            warn!(
                stream = %name,
                dropped,
                last_seq = st.last_seq,
                messages = st.msgs,
                "dropped the messages that could not be written; the stream goes on from its last written message"
            );
            consumers.reconcile(s);
            true
        }
        Err(e) => {
            error!(stream = %name, error = %e, "the store could not be re-read after a failed write: it refuses writes until the server restarts");
            false
        }
    }
}

/// Turns every successful answer in `acks` into a store failure: their batch did not reach
/// the promised durability, so none of it may be acked.
fn fail_acks(
    acks: &mut [(
        Option<sluice_protocol::ByteStr>,
        Result<Stored, PublishError>,
    )],
    name: &str,
    e: &crate::store::StoreError,
) {
    for (_, r) in acks.iter_mut() {
        if r.is_ok() {
            *r = Err(PublishError::Store(crate::store::StoreError::Io {
                path: name.to_owned(),
                source: std::io::Error::other(e.to_string()),
            }));
        }
    }
}
