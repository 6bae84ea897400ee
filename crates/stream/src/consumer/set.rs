//! The consumers of one stream, owned by the stream's owner (`writer.rs`).
//!
//! Applying the ops of consumer-bound messages (`apply.rs`), in order with the stream's
//! publishes, calls [`Consumers::on_ack`] (acks), [`Consumers::on_next`] (pull requests) and
//! [`Consumers::on_fc`] (flow control answers); applying a tick op calls [`Consumers::tick`]
//! (expiries, heartbeats, inactivity) and [`Consumers::pump`] (deliveries). All of them take
//! their time from the op and collect what is to be sent in the set's outbox, and mark the
//! consumers whose state changed. The set does no store I/O: the owner's shell then writes the
//! changed state (`shell::StateSaver`, through [`Consumers::take_dirty_states`]: into sled,
//! flushed when acks changed it, before any double-ack reply goes out) and calls
//! [`Consumers::send`] (everything collected, published under one lock).
//!
//! Creating and deleting a consumer is part of applying an op (`apply.rs`), so
//! [`Consumers::insert`] and [`Consumers::remove`] do no I/O: the consumer's subscriptions,
//! the removal of its records and its CREATED/DELETED advisory are returned as
//! [`Effect`]s, which the shell performs (`shell::run_effects`, through
//! [`Consumers::subscribe`] and [`Consumers::unsubscribe`] for the subscriptions, which this
//! set keeps apart from the consumers).
//!
//! Retention: a work-queue stream removes a message once a consumer acks (or terminates) it;
//! an interest stream once no consumer still needs it, and at once when stored if none does.

use super::ack_subject::{AckKind, AckSubject};
use super::advisory::{self, Stamp};
use super::live::{Consumer, Outbox};
use super::subs::{subscriptions, Subscriptions};
use crate::config::RetentionPolicy;
use crate::effect::{Effect, Inbox};
use crate::op::StreamOp;
use crate::stream::Stream;
use crate::time::{now_ns, Timestamp};
use crate::writer::WriterTx;
use serde::{Deserialize, Serialize};
use sluice_server::{InternalMsg, ServerHandle};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tracing::{debug, info, warn};

/// What sled keeps per consumer, besides its state.
#[derive(Serialize, Deserialize)]
pub(crate) struct ConsumerRecord {
    pub config: super::config::ConsumerConfig,
    pub created: Timestamp,
}

/// One stream's consumers.
pub struct Consumers {
    stream: Arc<str>,
    tx: WriterTx,
    server: ServerHandle,
    /// Whether durable consumers' state is kept in the metadata store (a file stream). The
    /// shell writes it (`shell::StateSaver`); the set only marks what changed.
    persists: bool,
    retention: RetentionPolicy,
    map: BTreeMap<String, Consumer>,
    /// The consumers' subscriptions (the shell's: made and dropped by effects).
    subs: Subscriptions,
    /// The `cluster` block of this stream's consumers' infos (in a cluster), as the owner
    /// last set it.
    pub(crate) cluster: Option<crate::api::types::ClusterInfo>,
    /// Reply subjects of double acks, answered once their acks are durable.
    double_acks: Vec<String>,
    /// The server's interest generation when the owner last looked at the push consumers'
    /// subscribers (the owner's, see [`Consumers::observe_interest`]).
    seen_gen: u64,
    /// Inboxes of waiting pull requests that had no subscriber when the owner last looked
    /// (set by [`StreamOp::Interest`] ops; apply never asks the server).
    unheard: std::collections::HashSet<Arc<str>>,
    out: Outbox,
    /// How many consumers there are, readable without the writer (stream and account info).
    count: Arc<AtomicU64>,
}

impl Consumers {
    /// An empty set for `stream`; `tx` is its writer's channel.
    pub(crate) fn new(
        stream: &str,
        tx: WriterTx,
        server: ServerHandle,
        persists: bool,
        retention: RetentionPolicy,
    ) -> Self {
        Consumers {
            stream: stream.into(),
            tx,
            server,
            persists,
            retention,
            map: BTreeMap::new(),
            subs: Subscriptions::default(),
            cluster: None,
            double_acks: Vec::new(),
            seen_gen: u64::MAX,
            unheard: Default::default(),
            out: Vec::new(),
            count: Arc::default(),
        }
    }

    /// Whether this set's consumers listen (a replicated stream's leader) or not (a
    /// follower: its consumers' subjects are kept and subscribed once it leads).
    pub(crate) fn set_serving(&mut self, serving: bool) {
        self.subs.set_muted(&self.server, &self.tx, !serving);
    }

    /// The writer's sending side (a replicated stream's owner subscribes with it).
    pub(crate) fn tx(&self) -> &WriterTx {
        &self.tx
    }

    /// The number of consumers, kept current as they come and go.
    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        self.count.clone()
    }

    /// The stream's retention changed (stream update).
    pub(crate) fn set_retention(&mut self, retention: RetentionPolicy) {
        self.retention = retention;
    }

    /// Whether consumers of this set are persisted (a file stream).
    pub(crate) fn persists(&self) -> bool {
        self.persists
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Consumer> {
        self.map.get(name)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Consumer> {
        self.map.get_mut(name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Consumer> {
        self.map.values()
    }

    /// Adds `c` (apply): its subscriptions and its CREATED advisory are effects.
    pub(crate) fn insert(&mut self, c: Consumer, stamp: &Stamp, fx: &mut Vec<Effect>) {
        fx.push(Effect::Subscribe {
            name: c.name.to_string(),
            subjects: subscriptions(&c),
        });
        fx.push(advisory::action(&c, "CREATED", "create", stamp));
        self.put(c);
    }

    /// Starts serving `c`, restored from the metadata store at startup: subscribes it at once
    /// (restored consumers are not announced as created).
    pub(crate) fn add(&mut self, c: Consumer) -> Result<(), String> {
        self.subscribe(&c.name, &subscriptions(&c))?;
        self.put(c);
        Ok(())
    }

    fn put(&mut self, c: Consumer) {
        self.seen_gen = u64::MAX;
        self.map.insert(c.name.to_string(), c);
        self.count.store(self.map.len() as u64, Ordering::Relaxed);
    }

    /// Subscribes consumer `name` to `subjects` (the shell's, for [`Effect::Subscribe`]).
    /// Nothing is kept if one of them fails.
    pub(crate) fn subscribe(
        &mut self,
        name: &str,
        subjects: &[(String, Inbox)],
    ) -> Result<(), String> {
        self.subs.subscribe(&self.server, &self.tx, name, subjects)
    }

    /// Drops the subscriptions of consumer `name` (the shell's, for [`Effect::Unsubscribe`]).
    pub(crate) fn unsubscribe(&mut self, name: &str) {
        self.subs.drop_all(name);
    }

    /// Inboxes of waiting requests found unheard (an image of the set carries them).
    pub(crate) fn unheard(&self) -> Vec<String> {
        let mut v: Vec<String> = self.unheard.iter().map(|r| r.to_string()).collect();
        v.sort();
        v
    }

    pub(crate) fn set_unheard(&mut self, unheard: &[String]) {
        self.unheard = unheard.iter().map(|r| r.as_str().into()).collect();
    }

    /// The stream's name.
    pub(crate) fn stream_name(&self) -> &str {
        &self.stream
    }

    /// Takes what was collected to send (tests compare it between runs).
    #[cfg(test)]
    pub(crate) fn take_outbox(&mut self) -> Outbox {
        std::mem::take(&mut self.out)
    }

    /// Takes the double-ack replies waiting for their answer (tests compare them).
    #[cfg(test)]
    pub(crate) fn take_double_acks(&mut self) -> Vec<String> {
        std::mem::take(&mut self.double_acks)
    }

    /// Forgets what was collected to send (consumers restored at startup are not announced
    /// as created).
    pub(crate) fn discard_outbox(&mut self) {
        self.out.clear();
    }

    /// Stops and forgets consumer `name` (apply): waiting requests are told `409 Consumer
    /// Deleted`, and on an interest stream the messages nobody needs any more are removed.
    /// Dropping its subscriptions, removing its records from the metadata store and its
    /// DELETED advisory are effects.
    pub(crate) fn remove(
        &mut self,
        name: &str,
        stream: &mut Stream,
        stamp: &Stamp,
        fx: &mut Vec<Effect>,
    ) -> Option<Consumer> {
        let mut c = self.map.remove(name)?;
        fx.push(advisory::action(&c, "DELETED", "delete", stamp));
        self.count.store(self.map.len() as u64, Ordering::Relaxed);
        c.waiting.close(&mut self.out);
        fx.push(Effect::Unsubscribe {
            name: name.to_owned(),
        });
        if c.persisted {
            fx.push(Effect::RemoveConsumerRecords {
                stream: self.stream.to_string(),
                name: name.to_owned(),
            });
        }
        if self.retention == RetentionPolicy::Interest {
            self.drop_unneeded(stream);
        }
        Some(c)
    }

    /// Forgets consumer `name` without a word (no advisory, no 409s, no retention): the shell
    /// undoing the create of a consumer whose record or subscriptions could not be made.
    pub(crate) fn forget(&mut self, name: &str) {
        if self.map.remove(name).is_some() {
            self.count.store(self.map.len() as u64, Ordering::Relaxed);
        }
        self.subs.drop_all(name);
    }

    /// Hands a collected advisory to the batch's outbox (the shell's, for
    /// [`Effect::Advisory`]).
    pub(crate) fn publish_advisory(&mut self, subject: &str, payload: Vec<u8>) {
        self.out.push(super::live::OutMsg {
            route: subject.into(),
            subject: None,
            reply: None,
            headers: None,
            payload: payload.into(),
        });
    }

    /// Removes every message no consumer needs (interest retention).
    fn drop_unneeded(&self, stream: &mut Stream) {
        let mut seq = stream.state().first_seq;
        let mut gone = Vec::new();
        while let Ok(Some(m)) = stream.store().next_matching(seq, None) {
            seq = m.seq + 1;
            if !self
                .map
                .values()
                .any(|c| c.state.needs_ack(m.seq, &m.subject))
            {
                gone.push(m.seq);
            }
        }
        for s in gone {
            let _ = stream.store_mut().delete(s);
        }
    }

    /// A message was stored at `seq`: on an interest stream nobody wants, it goes at once.
    pub(crate) fn on_stored(&mut self, seq: u64, subject: &str, stream: &mut Stream) {
        if self.retention == RetentionPolicy::Interest
            && !self.map.values().any(|c| c.state.needs_ack(seq, subject))
        {
            let _ = stream.store_mut().delete(seq);
        }
    }

    /// An ack (or nak, progress, term, next) sent to a delivery's reply subject.
    pub(crate) fn on_ack(&mut self, msg: &InternalMsg, stream: &mut Stream, now: i64) {
        let Ok(ack) = AckSubject::parse(&msg.subject) else {
            return;
        };
        if *ack.stream != *self.stream {
            return;
        }
        let Some(c) = self.map.get_mut(ack.consumer) else {
            return;
        };
        c.last_active_ns = now;
        let seq = ack.stream_seq;
        // A delivery this consumer has no record of (its state was saved before that delivery
        // and the server restarted): the ack cannot be applied, and a double ack must not be
        // answered, or the client would count as done a message that is delivered again.
        let unknown = seq > c.state.delivered().stream_seq;
        let mut acked = Vec::new();
        let mut changed = false;
        let kind = AckKind::parse(&msg.payload);
        match &kind {
            AckKind::Ack => {
                let o = c.state.ack(seq, now);
                changed = o.changed();
                acked = o.acked;
            }
            AckKind::Term { reason } => {
                let o = c.state.term(seq, now);
                changed = o.changed();
                if changed {
                    let (cseq, reason) = (ack.consumer_seq, reason.as_deref().unwrap_or(""));
                    let delivered = ack.delivered;
                    advisory::terminated(&mut self.out, c, (seq, cseq), delivered, reason, now);
                }
                acked = o.acked;
            }
            AckKind::Nak { delay } => changed = c.state.nak(seq, *delay, now),
            AckKind::Progress => changed = c.state.progress(seq, now),
            AckKind::Next(req) => {
                let o = c.state.ack(seq, now);
                changed = o.changed();
                acked = o.acked;
                if let Some(reply) = msg.reply.as_deref() {
                    let body = match req {
                        Ok(r) => r.to_json(),
                        Err(e) => {
                            let s = crate::api::consumer_types::ConsumerStatus::BadRequest(
                                e.to_string(),
                            );
                            super::live::status(&mut self.out, &reply.into(), &s);
                            Vec::new()
                        }
                    };
                    if req.is_ok() {
                        let store = stream.store();
                        let unheard = &self.unheard;
                        let has_interest = |s: &str| !unheard.contains(s);
                        if let Err(e) =
                            c.on_pull(reply, &body, store, now, &has_interest, &mut self.out)
                        {
                            warn!(stream = %self.stream, error = %e, "pull request failed");
                        }
                    }
                }
            }
            AckKind::Unknown => {}
        }
        if changed {
            c.dirty = true;
        }
        if let (Some(reply), false) = (&msg.reply, matches!(kind, AckKind::Next(_))) {
            if unknown {
                debug!(stream = %self.stream, consumer = %c.name, seq, "ack of a delivery this consumer has no record of (lost in a restart?): not confirmed");
            } else {
                self.double_acks.push(reply.to_string());
            }
        }
        self.retain_after_ack(&acked, stream);
    }

    fn retain_after_ack(&mut self, acked: &[u64], stream: &mut Stream) {
        match self.retention {
            RetentionPolicy::Limits => {}
            RetentionPolicy::WorkQueue => {
                for &s in acked {
                    let _ = stream.store_mut().delete(s);
                }
            }
            RetentionPolicy::Interest => {
                for &s in acked {
                    let Ok(Some(m)) = stream.store().get(s) else {
                        continue;
                    };
                    if !self.map.values().any(|c| c.state.needs_ack(s, &m.subject)) {
                        let _ = stream.store_mut().delete(s);
                    }
                }
            }
        }
    }

    /// The info of consumer `name`, as CONSUMER.INFO and LIST report it: its waiting requests
    /// are looked at first (expired ones answered, those nobody listens for dropped), so
    /// `num_waiting` counts live requests, as nats-server's does.
    pub(crate) fn info(
        &mut self,
        name: &str,
        stream: &Stream,
        now: i64,
    ) -> Option<Result<crate::api::consumer_types::ConsumerInfo, crate::store::StoreError>> {
        let unheard = &self.unheard;
        let has_interest = |s: &str| !unheard.contains(s);
        let c = self.map.get_mut(name)?;
        c.waiting.prune(now, &has_interest, &mut self.out);
        let cluster = self.cluster.clone();
        Some(c.info(stream.store(), Timestamp::now()).map(|mut i| {
            i.cluster = cluster;
            i
        }))
    }

    /// A `CONSUMER.MSG.NEXT.<stream>.<consumer>` request.
    pub(crate) fn on_next(&mut self, msg: &InternalMsg, stream: &Stream, now: i64) {
        let Some(reply) = msg.reply.as_deref() else {
            return;
        };
        let name = crate::api::consumer_types::token_at(&msg.subject, 7);
        let Some(c) = self.map.get_mut(name) else {
            return;
        };
        let unheard = &self.unheard;
        let has_interest = |s: &str| !unheard.contains(s);
        let store = stream.store();
        if let Err(e) = c.on_pull(
            reply,
            &msg.payload,
            store,
            now,
            &has_interest,
            &mut self.out,
        ) {
            warn!(stream = %self.stream, consumer = name, error = %e, "pull request failed");
        }
    }

    /// An answer to a flow control request (`$JS.FC.<stream>.<consumer>.<n>`).
    pub(crate) fn on_fc(&mut self, msg: &InternalMsg) {
        let name = crate::api::consumer_types::token_at(&msg.subject, 4);
        if let Some(p) = self.map.get_mut(name).and_then(|c| c.push.as_mut()) {
            p.on_fc_reply(&msg.subject);
        }
    }

    /// Messages left the stream by other means (purge, delete, limits).
    pub(crate) fn reconcile(&mut self, stream: &Stream) {
        for c in self.map.values_mut() {
            match c.state.reconcile(stream.store()) {
                Ok(dropped) if !dropped.is_empty() => c.dirty = true,
                Ok(_) => {}
                Err(e) => warn!(stream = %self.stream, error = %e, "reconciling a consumer failed"),
            }
        }
    }

    /// What the owner sees of the server's subscriptions that the consumers do not know yet,
    /// as a [`StreamOp::Interest`] (`None` if nothing changed): waiting requests whose inbox
    /// lost or regained its subscribers, and push consumers whose deliver subject did (looked
    /// at only when the server's interest generation moved). The shell's read, made before
    /// the ops that use it; apply itself never asks the server.
    pub(crate) fn observe_interest(&mut self, now: i64) -> Option<StreamOp> {
        let mut replies = Vec::new();
        for c in self.map.values() {
            for reply in c.waiting.replies() {
                let listened = self.server.has_interest(reply);
                if listened == self.unheard.contains(reply) {
                    replies.push((reply.to_string(), listened));
                }
            }
        }
        let mut push = Vec::new();
        let gen = self.server.interest_generation();
        if gen != self.seen_gen {
            self.seen_gen = gen;
            for c in self.map.values() {
                if let Some(p) = &c.push {
                    let bound = self.server.has_subscribers(&p.deliver, p.group.as_deref());
                    if bound != p.bound {
                        push.push((c.name.to_string(), bound));
                    }
                }
            }
        }
        (!replies.is_empty() || !push.is_empty()).then_some(StreamOp::Interest {
            now_ns: now,
            replies,
            push,
        })
    }

    /// Applies a [`StreamOp::Interest`]: inboxes heard or not, push consumers bound or not.
    pub(crate) fn on_interest(
        &mut self,
        replies: &[(String, bool)],
        push: &[(String, bool)],
        now: i64,
    ) {
        for (reply, listened) in replies {
            if *listened {
                self.unheard.remove(reply.as_str());
            } else {
                self.unheard.insert(reply.as_str().into());
            }
        }
        // Only inboxes still waiting are remembered.
        if !self.unheard.is_empty() {
            let waiting: std::collections::HashSet<&str> = self
                .map
                .values()
                .flat_map(|c| c.waiting.replies().map(|r| &**r))
                .collect();
            self.unheard.retain(|r| waiting.contains(&**r));
        }
        for (name, bound) in push {
            if let Some(c) = self.map.get_mut(name.as_str()) {
                if let Some(p) = &mut c.push {
                    if p.bound != *bound {
                        p.bound = *bound;
                        c.last_active_ns = now;
                    }
                }
            }
        }
    }

    /// Time-driven work: pull request expiries and heartbeats, push heartbeats, and consumers
    /// deleted for inactivity (their DELETED advisories, stamped from `now`, and the removal of
    /// their records are effects, added to `fx`).
    pub(crate) fn tick(&mut self, stream: &mut Stream, now: i64, fx: &mut Vec<Effect>) {
        let unheard = &self.unheard;
        let has_interest = |s: &str| !unheard.contains(s);
        let mut inactive = Vec::new();
        for (name, c) in self.map.iter_mut() {
            // Moves what is past its ack wait to the redelivery queue even when nothing can
            // be delivered now (no pull request, no subscriber), so its deadline is not seen
            // again as a reason to wake up.
            c.state.check_pending(now);
            c.tick_pull(now, &has_interest, &mut self.out);
            c.tick_push(now, &mut self.out);
            if c.inactive_deadline().is_some_and(|t| t <= now) {
                // Requests still waiting keep it alive, if somebody listens for them.
                c.waiting.prune(now, &has_interest, &mut self.out);
                if c.waiting.is_empty() {
                    inactive.push(name.clone());
                } else {
                    c.last_active_ns = now;
                }
            }
        }
        for name in inactive {
            info!(stream = %self.stream, consumer = %name, "deleting inactive consumer");
            let stamp = Stamp::derived("DELETED", &name, 0, now);
            self.remove(&name, stream, &stamp, fx);
        }
    }

    /// Delivers what is due to every consumer. True if some consumer has more to send right
    /// away.
    pub(crate) fn pump(&mut self, stream: &Stream, now: i64) -> bool {
        let unheard = &self.unheard;
        let has_interest = |s: &str| !unheard.contains(s);
        let store = stream.store();
        let mut more = false;
        for c in self.map.values_mut() {
            let r = if c.push.is_some() {
                c.pump_push(store, now, &mut self.out)
            } else {
                c.pump_pull(store, now, &has_interest, &mut self.out)
            };
            match r {
                Ok(m) => more |= m,
                Err(e) => {
                    warn!(stream = %self.stream, consumer = %c.name, error = %e, "delivery failed")
                }
            }
            for ev in c.state.take_events() {
                advisory::event(&mut self.out, c, &ev, now);
            }
        }
        more
    }

    /// When the writer must wake up next for its consumers.
    pub(crate) fn next_wakeup(&self) -> Option<i64> {
        let mut at = self.map.values().filter_map(Consumer::next_wakeup).min();
        if self.map.values().any(|c| c.push.is_some()) {
            // Subscribers coming and going are noticed by polling.
            let poll = now_ns() + 50_000_000;
            at = Some(at.map_or(poll, |a| a.min(poll)));
        }
        at
    }

    /// The encoded state of every persisted consumer changed since the last call, marked
    /// clean (the shell writes it: `shell::StateSaver`).
    pub(crate) fn take_dirty_states(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut states = Vec::new();
        for c in self.map.values_mut().filter(|c| c.persisted && c.dirty) {
            c.dirty = false;
            states.push((c.name.to_string(), c.state.encode()));
        }
        states
    }

    /// Marks consumers changed again (their state could not be written).
    pub(crate) fn mark_dirty<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            if let Some(c) = self.map.get_mut(name) {
                c.dirty = true;
            }
        }
    }

    /// Whether double acks wait for their consumers' state to be durable.
    pub(crate) fn has_double_acks(&self) -> bool {
        !self.double_acks.is_empty()
    }

    /// True while changed consumer state waits for its flush (the writer wakes up for it).
    pub(crate) fn flush_pending(&self) -> bool {
        self.persists && self.map.values().any(|c| c.persisted && c.dirty)
    }

    /// Publishes everything collected, double-ack answers included (unless `acks_ok` is
    /// false: their acks may not be durable, so they get no answer and the client retries).
    pub(crate) fn send(&mut self, acks_ok: bool) {
        let replies = std::mem::take(&mut self.double_acks);
        if self.out.is_empty() && (replies.is_empty() || !acks_ok) {
            return;
        }
        let out = std::mem::take(&mut self.out);
        self.server.batch(|b| {
            if acks_ok {
                for r in &replies {
                    b.publish(r, None, None, b"");
                }
            }
            for m in &out {
                let subject = m.subject.as_deref().unwrap_or(&m.route);
                b.publish_as(
                    &m.route,
                    subject,
                    m.reply.as_deref(),
                    m.headers.as_deref(),
                    &m.payload,
                );
            }
        });
        self.out = out;
        self.out.clear();
    }

    /// Stops every consumer (stream deleted or server stopping). Waiting pull requests are
    /// not answered: nats-server leaves them to expire on shutdown.
    pub(crate) fn stop(&mut self) {
        self.subs = Subscriptions::default();
    }
}
