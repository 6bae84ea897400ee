//! Each stream's owner ([`StreamOwner`]): it owns the appends, batches them, syncs once per
//! batch (group commit) and only then acks. Owners are run by the stream layer's worker pool
//! ([`crate::pool`]), one step per batch, not by a thread each.
//!
//! Publishes arrive in the owner's mailbox from the stream's subject subscriptions (the
//! publisher's task only hands the message over). Everything in the mailbox is counted in the
//! stream's [`Backlog`] (`max_queued` bytes, 8 MiB by default) until the owner has stored,
//! synced and answered it; while the backlog is over its limit, the client connections that
//! publish to the stream (or ack or pull from its consumers) are not read, so a producer that
//! outruns the disk is paced by TCP instead of filling memory. A step takes everything queued
//! (up to a bound), stores each message, makes the batch durable with one fdatasync when the
//! sync policy is `always`, and then publishes every PubAck. While it syncs, new publishes
//! queue up and share the next sync, so throughput under load stays high while every ack
//! still means "on disk".
//!
//! Nothing in the mailbox is applied as it is: the step turns each command into a
//! [`StreamOp`] (a publish, ack, pull request or flow control answer moves its message into
//! the op, stamped with the step's one reading of the clock; what changed of who listens to
//! the consumers' inboxes and deliver subjects goes first, as a `StreamOp::Interest`), proposes the ops to the
//! stream's op log ([`LocalLog`], `oplog.rs`: the seam where Raft goes) and applies the
//! entries the log hands back, in order, through the one entry point (`shell::run_op`). After
//! the sync it tells the log what is durable, and sends only the PubAcks and answers of
//! entries the log reports committed; when the sync fails it abandons the rest, whose acks
//! become errors. Then a [`StreamOp::Tick`] (stamped then) expires messages, looks at the
//! consumers' deadlines and delivers what is due: only durable messages are delivered.
//!
//! The owner also owns the stream's consumers ([`Consumers`]): their acks, pull requests and
//! flow control answers come through the same mailbox, in order with the publishes. Consumer
//! state changed by double acks is flushed once per batch (group commit again) before any
//! double-ack answer goes out, and plain acks within [`ACK_FLUSH`]; deliveries only go out
//! after the batch that stored them is durable.
//!
//! API requests arrive in the same mailbox ([`Cmd::Api`]): changes (purge, message delete,
//! config update, consumer create, update and delete) as typed [`crate::op::StreamOp`]s,
//! applied in order with the publishes by `apply.rs`, which takes its times and names from
//! the op; and reads of the store or the consumers (message get, direct get, consumer info
//! and list). The owner answers them itself once the step is durable (`api/deferred.rs`).
//! At the end of every step, before any ack or answer goes out, it publishes a [`Snapshot`]
//! of the stream for readers that must not wait for it (INFO, LIST, `/jsz`).
//!
//! An idle owner costs nothing: it asks the pool to wake it only when something is due
//! (an interval sync, max_age or TTL expiry, a consumer deadline, a pending flush).

use crate::api::ack::encode_ack;
use crate::api::deferred::{
    answer_is_error, answer_op, answer_read, Answer, OpAnswer, Read, Request,
};
use crate::api::handlers::state_of;
use crate::api::types::{ClusterInfo, StreamInfo};
use crate::apply::{ApplyCtx, Outcome};
use crate::consumer::set::Consumers;
use crate::deletion::Deletion;
use crate::inline::Gate;
use crate::op::{Message, OpOutcome, StreamOp};
use crate::oplog::{Index, LocalLog, OpLog};
use crate::pool::{Mailbox, Owner, Step};
use crate::shell::{run_op, StateSaver};
use crate::snapshot::{Snapshot, SnapshotCell, STATS_EVERY_NS};
use crate::stream::{PublishError, Stored, Stream};
use crate::time::{now_ns, Timestamp};
use parking_lot::Mutex;
use sluice_protocol::ByteStr;
use sluice_server::{Backlog, ConsumerStats, InternalMsg, ServerHandle};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;
use tracing::error;

mod failures;
mod image;
mod replicated;

pub(crate) use failures::forget_unwritten;
use failures::{fail_acks, fail_answers};

/// When an ack may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After the message is fsynced (fdatasync). The default.
    Always,
    /// After the message is written to the OS; fsync every interval (nats-server's default
    /// behaviour, 2 minutes).
    Every(Duration),
}

/// What a stream's owner is asked to do.
pub(crate) enum Cmd {
    /// Store a published message (and ack it if it has a reply subject).
    Publish(InternalMsg),
    /// An API request: a change to the stream or its consumers (purge, message delete, config
    /// update, consumer create/update/delete) as a [`crate::op::StreamOp`], applied in order
    /// with publishes, or a read of its store or consumers; answered by the owner.
    Api(Box<Request>),
    /// A message to a delivery's ack reply subject (`$JS.ACK.<stream>.<consumer>...`).
    Ack(InternalMsg),
    /// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`).
    Next(InternalMsg),
    /// An answer to a push consumer's flow control request (`$JS.FC.<stream>.<consumer>.<n>`).
    FlowControl(InternalMsg),
    /// Entries of the stream's Raft group, committed (a replicated stream: `replicated.rs`),
    /// to apply in order; `done` is told once they are applied.
    Committed(Box<CommittedEntries>),
    /// A replicated stream's snapshot: the owner's state as bytes, or replaced by a
    /// snapshot's (`writer/image.rs`), in order with the committed entries.
    Image(Box<ImageCmd>),
    /// Sync and finish, or (with a [`Deletion`]) remove the stream and answer its
    /// STREAM.DELETE. Explicit, because a router cache may keep a sink (and so a sender)
    /// alive for a while after its subscription is gone.
    Stop(Option<Box<Deletion>>),
}

impl Cmd {
    /// What it counts for in the stream's [`Backlog`]: a message's size, nothing for the rest.
    fn cost(&self) -> usize {
        match self {
            Cmd::Publish(m) | Cmd::Ack(m) | Cmd::Next(m) | Cmd::FlowControl(m) => Backlog::cost(m),
            Cmd::Api(_) | Cmd::Stop(_) | Cmd::Committed(_) | Cmd::Image(_) => 0,
        }
    }
}

/// What the group's machine asks of the owner about snapshots (see [`Cmd::Image`]).
pub(crate) enum ImageCmd {
    /// The state as bytes, as of the last entry applied.
    Take(tokio::sync::oneshot::Sender<Result<Vec<u8>, String>>),
    /// Replace the state by a snapshot's.
    Restore(Vec<u8>, tokio::sync::oneshot::Sender<Result<(), String>>),
}

impl ImageCmd {
    /// Answers the request with an error.
    fn refuse(self, why: &str) {
        let _ = match self {
            ImageCmd::Take(tx) => tx.send(Err(why.to_owned())).map_err(drop),
            ImageCmd::Restore(_, tx) => tx.send(Err(why.to_owned())).map_err(drop),
        };
    }
}

/// Committed entries of a replicated stream's group, by log index (see [`Cmd::Committed`]).
pub(crate) struct CommittedEntries {
    pub entries: Vec<(Index, crate::cluster::entry::StreamEntry)>,
    pub done: tokio::sync::oneshot::Sender<()>,
}

/// The sending side of a stream owner's mailbox. Everything sent is counted in the stream's
/// [`Backlog`] until the owner has handled it, so that client connections publishing to the
/// stream (messages, acks, pull requests) stop being read while it is over its limit.
#[derive(Clone)]
pub(crate) struct WriterTx {
    mailbox: Arc<Mailbox<StreamOwner>>,
    pub backlog: Arc<Backlog>,
}

impl WriterTx {
    pub(crate) fn new(mailbox: Arc<Mailbox<StreamOwner>>, backlog: Arc<Backlog>) -> Self {
        WriterTx { mailbox, backlog }
    }

    /// Hands `cmd` to the owner; false if it has finished.
    pub(crate) fn send(&self, cmd: Cmd) -> bool {
        self.try_send(cmd).is_ok()
    }

    /// Hands `cmd` to the owner; gives it back if the owner has finished.
    // The command goes back by value on the publish path: boxing it would allocate per publish.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_send(&self, cmd: Cmd) -> Result<(), Cmd> {
        let cost = cmd.cost();
        self.backlog.add(cost);
        self.mailbox
            .push(cmd)
            .inspect_err(|_| self.backlog.release(cost))
    }

    /// Runs the owner by `at` (Unix ns) with nothing new: it owes an inline store an
    /// interval sync (see `inline.rs`).
    pub(crate) fn wake_by(&self, at: i64) {
        self.mailbox.wake_by(at);
    }

    /// Runs the owner soon with nothing new.
    pub(crate) fn wake(&self) {
        self.mailbox.wake();
    }

    /// Blocks until the owner has handled [`Cmd::Stop`] (shutdown only: the API never waits).
    pub(crate) fn wait_done(&self) {
        self.mailbox.wait_done();
    }
}

/// Under `SyncPolicy::Always`, consumer state changed by plain acks and deliveries is fsynced
/// at most this long after the change (double acks before their answer, always); under
/// `SyncPolicy::Every`, within the interval or 1 s, whichever is shorter.
pub const ACK_FLUSH: Duration = Duration::from_millis(50);
/// A publish's outcome held until its log index is committed: the index, the publish's reply
/// subject, and what the PubAck (or error) will say.
type HeldAck = (Index, Option<ByteStr>, Result<Stored, PublishError>);

/// How soon a failed write or sync is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// What a stream's owner holds besides the stream and its consumers: where its answers go
/// and what its answers say about it.
pub(crate) struct OwnerParts {
    /// The stream's own publisher (acks, deliveries, answers).
    pub server: ServerHandle,
    pub sync: SyncPolicy,
    pub gate: Arc<Gate>,
    /// Where readers find the stream's state.
    pub snapshot: Arc<SnapshotCell>,
    /// The stream's creation time and the server's name, for the info in answers.
    pub created: Timestamp,
    pub server_name: String,
    /// The cluster's name, when clustered.
    pub cluster_name: Arc<std::sync::OnceLock<String>>,
    /// The API's error count (answers given here count too).
    pub api_errors: Arc<AtomicU64>,
    /// The stream's Raft group, when it is replicated (`replicated.rs`).
    pub replica: Option<Arc<crate::replication::Replica>>,
    /// The JetStream domain, named in publish acks.
    pub domain: Option<String>,
}

/// One stream's owner: the stream, its consumers and everything needed to apply what comes
/// through its mailbox. Run by the stream layer's worker pool ([`crate::pool`]), one step per
/// batch.
pub(crate) struct StreamOwner {
    stream: Arc<Mutex<Stream>>,
    consumers: Consumers,
    ctx: ApplyCtx,
    parts: OwnerParts,
    name: String,
    /// When the store was last synced (Unix ns).
    last_sync: i64,
    /// Stored (or changed) and not yet synced.
    unsynced: bool,
    /// The last write or sync failed: try again at this time.
    retry_at: Option<i64>,
    /// The op log in front of apply (`oplog.rs`).
    log: LocalLog,
    /// Writes the consumers' changed state.
    saver: StateSaver,
    /// Ops made from the mailbox, not yet proposed to the log (kept for their capacity).
    proposed: Vec<StreamOp>,
    /// The ops of the entries the log handed back, being applied (kept for their capacity).
    entries: Vec<StreamOp>,
    /// Which API answer each proposed API op gets, by log index.
    routes: VecDeque<(Index, OpAnswer, String)>,
    /// Publish outcomes and API answers, released once the log has committed their index.
    acks: Vec<HeldAck>,
    /// Each with the op's response kind when it answers a change of the store (purge,
    /// message delete), which a failed sync turns into an error.
    answers: Vec<(Index, Option<OpAnswer>, Answer)>,
    /// Consumer numbers changed since the snapshot's were counted.
    stats_dirty: bool,
    stats_at: i64,
    /// A replicated stream's state besides the rest (`replicated.rs`).
    repl: replicated::ReplState,
}

impl StreamOwner {
    pub(crate) fn new(
        stream: Arc<Mutex<Stream>>,
        consumers: Consumers,
        ctx: ApplyCtx,
        parts: OwnerParts,
    ) -> StreamOwner {
        let name = stream.lock().name().to_owned();
        let mut owner = StreamOwner {
            stream,
            consumers,
            ctx,
            parts,
            name,
            last_sync: now_ns(),
            unsynced: false,
            retry_at: None,
            log: LocalLog::new(),
            saver: StateSaver::new(),
            proposed: Vec::with_capacity(256),
            entries: Vec::with_capacity(256),
            routes: VecDeque::new(),
            acks: Vec::with_capacity(256),
            answers: Vec::new(),
            stats_dirty: true,
            stats_at: 0,
            repl: replicated::ReplState::default(),
        };
        if owner.parts.replica.is_some() {
            // A replica listens only while it leads (`replicated.rs`).
            owner.consumers.set_serving(false);
        }
        let s = owner.stream.clone();
        let s = s.lock();
        owner.publish_snapshot(&s, now_ns());
        owner
    }

    /// The stream's info as answers give it.
    fn info(&self, s: &Stream) -> StreamInfo {
        let consumers = self.consumers.counter().load(Ordering::Relaxed);
        StreamInfo::new(
            self.ctx.config.clone(),
            self.parts.created,
            state_of(&s.state(), consumers),
        )
    }

    /// Publishes what readers see: the state, the consumers' names, and (at most every
    /// [`STATS_EVERY_NS`], when they changed) the consumers' numbers.
    fn publish_snapshot(&mut self, s: &Stream, now: i64) {
        // Purges, deletes, expiries and acks change the account's bytes too.
        s.count_quota();
        let old = self.parts.snapshot.get();
        let names_same = self
            .consumers
            .iter()
            .filter(|c| !c.config.direct)
            .map(|c| &*c.name)
            .eq(old.consumer_names.iter().map(String::as_str));
        let stats_due = self.stats_dirty && now.saturating_sub(self.stats_at) >= STATS_EVERY_NS;
        let state = s.state();
        if names_same && !stats_due && state == old.state {
            return;
        }
        let consumer_names = if names_same {
            old.consumer_names.clone()
        } else {
            self.consumers
                .iter()
                .filter(|c| !c.config.direct)
                .map(|c| c.name.to_string())
                .collect()
        };
        let consumer_stats = if stats_due || !names_same {
            self.stats_dirty = false;
            self.stats_at = now;
            self.consumers
                .iter()
                .map(|c| ConsumerStats {
                    name: c.name.to_string(),
                    num_pending: c.state.num_pending(s.store()).unwrap_or(0),
                    num_redelivered: c.state.num_redelivered(),
                    num_ack_pending: c.state.num_ack_pending(),
                })
                .collect()
        } else {
            old.consumer_stats.clone()
        };
        self.parts.snapshot.set(Snapshot {
            state,
            consumer_names,
            consumer_stats,
        });
    }

    /// When the owner must run next, with nothing pushed.
    fn wake_at(&self, now: i64) -> Option<i64> {
        let mut at: Option<i64> = None;
        let mut add = |t: i64| at = Some(at.map_or(t, |a| a.min(t)));
        if let Some(r) = self.retry_at {
            add(r);
        } else if self.unsynced {
            add(match self.parts.sync {
                SyncPolicy::Every(every) => self.last_sync.saturating_add(every.as_nanos() as i64),
                // What the step's tick removed (expired messages), synced soon after.
                SyncPolicy::Always => now + ACK_FLUSH.as_nanos() as i64,
            });
        }
        if let Some(t) = self.consumers.next_wakeup() {
            add(t);
        }
        if let Some(t) = self.stream.lock().next_expiry() {
            add(t);
        }
        if self.consumers.flush_pending() {
            add(now + ACK_FLUSH.as_nanos() as i64);
        }
        if self.stats_dirty && self.consumers.iter().next().is_some() {
            add(self.stats_at.saturating_add(STATS_EVERY_NS));
        }
        at
    }

    /// Sends what the step owes: the publishes' acks, the consumers' deliveries and answers,
    /// and the API answers.
    ///
    /// Only what the log has committed goes (the local log commits, or abandons, everything
    /// in the step that applied it; acks of abandoned entries were made errors by then).
    fn send(&mut self, acks_ok: bool) {
        let committed = self.log.committed();
        // Both are in index order.
        let n_acks = self.acks.partition_point(|(i, _, _)| *i <= committed);
        let n_answers = self.answers.partition_point(|(i, _, _)| *i <= committed);
        self.release(n_acks, n_answers);
        self.consumers.send(acks_ok);
    }

    /// Publishes the first `n_acks` held PubAcks and `n_answers` held API answers (an answer
    /// without a reply subject is dropped), counting the error answers in the API's errors.
    fn release(&mut self, n_acks: usize, n_answers: usize) {
        if n_acks == 0 && n_answers == 0 {
            return;
        }
        let name = &self.name;
        let domain = self.parts.domain.as_deref();
        let (acks, answers) = (&mut self.acks, &mut self.answers);
        let errors = answers[..n_answers]
            .iter()
            .filter(|(_, _, a)| a.is_error)
            .count() as u64;
        if errors > 0 {
            self.parts.api_errors.fetch_add(errors, Ordering::Relaxed);
        }
        self.parts.server.batch(|b| {
            for (_, reply, r) in acks.drain(..n_acks) {
                if let (Some(reply), Some(ack)) = (reply, encode_ack(name, domain, &r)) {
                    b.publish(&reply, None, None, &ack);
                }
            }
            for (_, _, a) in answers.drain(..n_answers) {
                if !a.reply.is_empty() {
                    b.publish(&a.reply, None, a.headers.as_deref(), &a.payload);
                }
            }
        });
    }

    /// The `cluster` block of this stream's infos: its group's when replicated, the cluster
    /// and this server in a cluster, none on a single server.
    fn cluster_block(&self) -> Option<ClusterInfo> {
        match &self.parts.replica {
            Some(r) => r.cluster_info(),
            None => self
                .parts
                .cluster_name
                .get()
                .map(|c| ClusterInfo::of(Some(c), &self.parts.server_name)),
        }
    }

    /// The answer to an API op, with the `cluster` block a consumer's info carries.
    fn op_answer(&self, answer: OpAnswer, mut outcome: OpOutcome, s: &Stream) -> Vec<u8> {
        if let OpOutcome::Consumer(info) = &mut outcome {
            info.cluster = self.cluster_block();
        }
        answer_op(answer, outcome, || self.info(s))
    }

    /// The last step: sync what is stored and the consumers' state, or remove it all.
    fn finish(&mut self, deletion: Option<Box<Deletion>>) {
        self.serve(false);
        self.consumers.stop();
        if let Some(deletion) = deletion {
            return deletion.run(&self.stream);
        }
        self.save_consumers(Duration::ZERO);
        if let Err(e) = self.stream.lock().sync() {
            error!(stream = %self.name, error = %e, "final sync failed");
        }
    }
}

impl Owner for StreamOwner {
    type Cmd = Cmd;

    fn step(&mut self, batch: &mut Vec<Cmd>) -> Step {
        if let Some(replica) = self.parts.replica.clone() {
            return self.step_replicated(&replica, batch);
        }
        // Given back to the backlog once the batch is stored, synced and answered.
        let handled: usize = batch.iter().map(Cmd::cost).sum();
        let gate = self.parts.gate.clone();
        let stream = self.stream.clone();
        let mut s = stream.lock();
        // The step's one time stamp: every op made from the mailbox carries it.
        let now = now_ns();
        let mut stop = false;
        let mut deletion = None;
        let mut publishes = 0;
        if gate.dirty.swap(false, AtomicOrdering::AcqRel) {
            self.unsynced = true; // stored inline (see inline.rs)
        }
        if !batch.is_empty() {
            self.stats_dirty = true;
        }
        // What the step's ops may ask of the server's subscriptions, read once, as an op.
        self.proposed.extend(self.consumers.observe_interest(now));
        for cmd in batch.drain(..) {
            let op = match cmd {
                Cmd::Publish(msg) => {
                    publishes += 1;
                    StreamOp::Publish {
                        msg: Message(msg),
                        now_ns: now,
                    }
                }
                Cmd::Ack(msg) => StreamOp::Ack {
                    msg: Message(msg),
                    now_ns: now,
                },
                Cmd::Next(msg) => StreamOp::Next {
                    msg: Message(msg),
                    now_ns: now,
                },
                Cmd::FlowControl(msg) => StreamOp::FlowControl { msg: Message(msg) },
                Cmd::Api(req) => match *req {
                    Request::Op { op, answer, reply } => {
                        let index = self.log.last_index() + self.proposed.len() as Index + 1;
                        self.routes.push_back((index, answer, reply));
                        op
                    }
                    Request::Read { read, reply } => {
                        // Reads see every op before them, and the consumers' view of who
                        // listens as of now (CONSUMER.INFO counts live requests): apply
                        // those first.
                        self.proposed.extend(self.consumers.observe_interest(now));
                        self.apply_proposed(&mut s);
                        self.consumers.cluster = self.cluster_block();
                        let info = matches!(read, Read::StreamInfoSubjects { .. }).then(|| {
                            let mut info = self.info(&s);
                            info.cluster = Some(ClusterInfo::of(
                                self.parts.cluster_name.get().map(String::as_str),
                                &self.parts.server_name,
                            ));
                            info
                        });
                        let a = answer_read(read, reply, &s, &mut self.consumers, info, now);
                        // Released with the ops it has seen.
                        self.answers.push((self.log.last_index(), None, a));
                        continue;
                    }
                },
                Cmd::Stop(d) => {
                    stop = true;
                    deletion = deletion.or(d);
                    continue;
                }
                // Only a replicated stream's group commits entries to its owner.
                // Only a replicated stream's group takes or installs snapshots.
                Cmd::Image(c) => {
                    c.refuse("not a replicated stream");
                    continue;
                }
                Cmd::Committed(c) => {
                    drop(c.done);
                    continue;
                }
            };
            self.proposed.push(op);
        }
        self.apply_proposed(&mut s);
        let due = match self.parts.sync {
            SyncPolicy::Always => self.unsynced,
            SyncPolicy::Every(every) => {
                self.unsynced
                    && (stop || now.saturating_sub(self.last_sync) >= every.as_nanos() as i64)
            }
        };
        self.retry_at = None;
        let mut failed = None;
        if !due && self.unsynced {
            // Interval mode still promises that an ack survives kill -9: the batch reaches
            // the OS before any of it is acked.
            if let Err(e) = s.write_out() {
                error!(stream = %self.name, error = %e, "write failed: publishes in this batch are not acknowledged");
                failed = Some(e);
            }
        }
        if due {
            match s.sync() {
                Ok(()) => {
                    self.unsynced = false;
                    self.last_sync = now_ns();
                }
                Err(e) => {
                    error!(stream = %self.name, error = %e, "sync failed: publishes in this batch are not acknowledged");
                    failed = Some(e);
                }
            }
        }
        match failed {
            None => self.log.persisted(self.log.last_index()),
            Some(e) => {
                let lost = self.log.abandon();
                fail_answers(&mut self.answers, lost.clone(), &e);
                fail_acks(&mut self.acks, lost, &self.name, &e);
                self.unsynced = !forget_unwritten(&mut s, &mut self.consumers, &self.name, now);
                self.retry_at = self.unsynced.then(|| now + RETRY.as_nanos() as i64);
            }
        }
        let acks_ok = self.save_consumers(match self.parts.sync {
            SyncPolicy::Always => ACK_FLUSH,
            SyncPolicy::Every(every) => every.min(Duration::from_secs(1)),
        });
        let mut again = false;
        if !stop {
            // After the sync: what the tick delivers is durable. Its own changes (expired
            // messages, consumers deleted for inactivity) are synced with the next batch.
            let now = now_ns();
            if s.next_expiry().is_some_and(|t| t <= now) {
                self.unsynced = true;
            }
            self.proposed.push(StreamOp::Tick { now_ns: now });
            again = self.apply_proposed(&mut s);
        }
        let now = now_ns();
        self.publish_snapshot(&s, now);
        drop(s);
        self.send(acks_ok);
        gate.backlog.release(handled);
        if publishes > 0 {
            // Stored and acked: publishes after these may be stored inline again.
            gate.queued.fetch_sub(publishes, AtomicOrdering::AcqRel);
        }
        if stop {
            self.finish(deletion);
            return Step {
                done: true,
                ..Step::default()
            };
        }
        Step {
            wake_at: self.wake_at(now),
            again,
            done: false,
        }
    }
}

impl StreamOwner {
    /// Proposes the ops made so far to the log and applies, in order, every entry it hands
    /// back, through the one entry point (`run_op`). Keeps their outcomes until the log says
    /// they are committed. True if a tick among them left more to deliver at once.
    fn apply_proposed(&mut self, s: &mut Stream) -> bool {
        if self.proposed.is_empty() {
            return false;
        }
        self.log.append(&mut self.proposed);
        let mut entries = std::mem::take(&mut self.entries);
        let first = self.log.ready(&mut entries);
        let mut more = false;
        for (index, op) in (first..).zip(entries.drain(..)) {
            match run_op(s, &mut self.consumers, &mut self.ctx, op) {
                Outcome::Published { reply, result } => {
                    if let Ok(Stored::New(_)) = result {
                        self.unsynced = true;
                    }
                    self.acks.push((index, reply, result));
                }
                Outcome::Op(outcome) => self.answer(index, outcome, s),
                Outcome::Consumed => {}
                Outcome::Ticked { more: m } => more |= m,
            }
        }
        self.entries = entries;
        more
    }

    /// Writes the consumers' changed state if due (`shell::StateSaver`); false if that failed.
    fn save_consumers(&mut self, every: Duration) -> bool {
        let meta = self.ctx.meta.as_ref();
        self.saver
            .save(&mut self.consumers, meta, &self.name, every)
    }

    /// Keeps the answer to the API op at `index` (kept out of the publish path).
    #[inline(never)]
    fn answer(&mut self, index: Index, outcome: OpOutcome, s: &Stream) {
        self.unsynced = true;
        let Some((_, answer, reply)) = self.routes.pop_front_if(|(i, _, _)| *i == index) else {
            return;
        };
        let json = self.op_answer(answer, outcome, s);
        let a = Answer {
            is_error: answer_is_error(&json),
            reply,
            headers: None,
            payload: json,
        };
        let store_change = matches!(answer, OpAnswer::StreamPurge | OpAnswer::MsgDelete(_));
        self.answers
            .push((index, store_change.then_some(answer), a));
    }
}
