//! A consumer's delivery and acknowledgement state machine: what to deliver next, what awaits
//! an ack, when to redeliver, and where the ack floor is.
//!
//! Pure and synchronous: no I/O, no clock, no JSON, no network. Every operation that depends
//! on time takes `now_ns` (Unix nanoseconds); messages are read through `&dyn MsgStore`. The
//! layer serving pull and push consumers owns one [`ConsumerState`] per consumer and:
//! - asks [`ConsumerState::next_to_deliver`] for messages (or [`ConsumerState::peek_next`]
//!   first, to check a pull request's `max_bytes` before committing to the delivery);
//! - feeds it acks from the ack subjects ([`ConsumerState::ack`], [`ConsumerState::nak`],
//!   [`ConsumerState::progress`], [`ConsumerState::term`]) and applies the returned
//!   [`AckOutcome::acked`] to workqueue / interest retention;
//! - arms a timer at [`ConsumerState::next_deadline`] and calls
//!   [`ConsumerState::check_pending`] when it fires;
//! - publishes the advisories in [`ConsumerState::take_events`];
//! - persists [`ConsumerState::encode`] (sled) after any change it must not lose, and
//!   restores with [`ConsumerState::decode`];
//! - calls [`ConsumerState::reconcile`] after messages leave the stream by purge or limits.
//!
//! nats-server (server/consumer.go) is the spec. The decisions, and what each follows:
//! - **Sequences.** Every delivery, redeliveries included, takes the next consumer sequence
//!   (`deliverMsg`: `o.dseq++`); a pending entry keeps the consumer sequence of its first
//!   delivery (`trackPending`). `delivered.stream_seq` is one below the next stream sequence
//!   to look at, which jumps to the stream's last sequence when a scan finds nothing more
//!   (`getNextMsg` on `ErrStoreEOF`).
//! - **Ack floor.** `ack_floor.stream_seq` is one below the lowest stream sequence awaiting an
//!   ack, and `ack_floor.consumer_seq` one below that entry's consumer sequence; with nothing
//!   awaiting an ack, the floor is `delivered` (`moveAckFloor`); before the first delivery it
//!   is (0, 0) wherever the consumer starts (what v2.9 reports). With `AckPolicy::None`
//!   everything delivered counts as acked (`deliverMsg`). It is computed, never stored, so it
//!   cannot drift, and it never decreases.
//! - **Ack.** Explicit: removes that one message. All: removes everything up to it, if it lies
//!   above the floor and was delivered; otherwise nothing (`processAckMsg`). None: no-op.
//!   Acking a message that is beyond the delivered sequence does nothing.
//! - **Nak.** Only for a pending message (`processNak`). Without a delay (or a delay <= 0) it
//!   is queued for redelivery at once; with a delay it leaves the queue and becomes due after
//!   the delay (nats-server shifts the timestamp so that it expires then; here the deadline is
//!   set directly). A nak does not count a delivery and ignores backoff.
//! - **Progress (+WPI).** Restarts the ack wait of a pending message that is not already queued
//!   for redelivery (`progressUpdate`; a queued message is redelivered anyway).
//! - **Term.** Like an ack (`processTerm` calls `processAckMsg`, so with `AckPolicy::All` it
//!   acks everything up to it): never redelivered, counts as acked for the floor and for
//!   retention.
//! - **Redelivery.** When a deadline passes, the message is queued (`checkPending`); queued
//!   messages go out before any new one, lowest stream sequence first, and even when
//!   max_ack_pending is reached (`getNextMsg` serves the redelivery queue before the max
//!   pending check). nats-server keeps the queue in the order it noticed expiries; here it is
//!   stream order. A queued message deleted from the store meanwhile is dropped from pending
//!   and reported as [`Event::DeletedWhilePending`] (`getNextMsg` terms it with
//!   "Unacknowledged message was deleted").
//! - **Deadlines.** Delivery number `d` (1 = first) waits `backoff[d-1]` (the last entry once
//!   past the end) when backoff is set, else `ack_wait` (`checkPending`/`trackPending`). An
//!   `ack_wait <= 0` without backoff means never redeliver (`checkPending` stops on ttl 0).
//! - **max_deliver.** A message delivered max_deliver times is, when its deadline passes or it
//!   is nacked, removed from pending without being redelivered (the floor moves past it, so
//!   max_ack_pending is freed), kept as un-acked "exhausted" for interest retention and
//!   `num_redelivered`, and reported once as [`Event::MaxDeliveries`]
//!   (`hasMaxDeliveries`/`notifyDeliveryExceeded`; `needAck` keeps it via `rdc`). Acking or
//!   terminating it later clears it. nats-server notices a nacked one only when it reaches the
//!   head of the queue; here the nak itself exhausts it.
//! - **max_ack_pending** (> 0, not with `AckPolicy::None`): no new message while that many
//!   await an ack, redeliveries still go out (`getNextMsg`: `errMaxAckPending`).
//! - **Start positions** follow `selectStartingSeqNo`, including its clamps (an empty stream
//!   delivers only new messages; a start beyond the stream is clamped to the next sequence,
//!   an explicit start sequence too, as v2.9 does; a start below the first sequence moves up
//!   to it).
//!   `Last` without filters uses the newest present message rather than `last_seq` (which may
//!   have been deleted). `LastPerSubject` delivers the last message of each matching subject,
//!   in stream order, from a list computed at the start, then everything after the stream's
//!   last sequence at that moment (`lastSeqSkipList`).
//! - **num_pending** counts what is still to be delivered for the first time (see
//!   `state/num_pending.rs` for how it is kept cheap). For `LastPerSubject` that is
//!   the remaining start list plus everything new, which is what nats-server reports at the
//!   start and what its running count tracks afterwards.
//! - **num_redelivered** counts pending messages delivered more than once plus exhausted ones
//!   (`len(o.rdc)`).

mod ack;
mod codec;
mod filter;
mod num_pending;
mod persist;
mod start;
mod types;

pub use codec::DecodeError;
pub use persist::ConsumerSnapshot;
pub use types::{
    AckOutcome, AckPolicy, ConsumerPolicy, DeliverStart, Delivery, Event, Pending, SeqPair,
    NO_DEADLINE,
};

use crate::store::{MsgStore, StoreError, StoredMsg};
use filter::Filters;
use num_pending::{NpCache, Undelivered};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where a selected message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Redelivery,
    Skip,
    New,
}

/// One consumer's delivery and ack state. See the module doc.
#[derive(Debug)]
pub struct ConsumerState {
    policy: ConsumerPolicy,
    filters: Filters,
    /// The next stream sequence to look at for a new message.
    next_stream_seq: u64,
    delivered_consumer_seq: u64,
    pending: BTreeMap<u64, Pending>,
    exhausted: BTreeMap<u64, u64>,
    /// Pending entries due now, delivered before anything new.
    redeliver: BTreeSet<u64>,
    /// (deadline, seq) of pending entries not queued and with a deadline. Derived.
    deadlines: BTreeSet<(i64, u64)>,
    skip: VecDeque<u64>,
    resume_seq: u64,
    last_delivered_ns: Option<i64>,
    last_ack_ns: Option<i64>,
    events: Vec<Event>,
    np_cache: Cell<Option<NpCache>>,
}

impl ConsumerState {
    /// A new consumer positioned at `start` in `store`.
    pub fn new(
        policy: ConsumerPolicy,
        start: DeliverStart,
        store: &dyn MsgStore,
    ) -> Result<Self, StoreError> {
        let filters = Filters::new(&policy.filter_subjects);
        let start = start::select(start, &filters, store)?;
        Ok(ConsumerState {
            policy,
            filters,
            next_stream_seq: start.next,
            delivered_consumer_seq: 0,
            pending: BTreeMap::new(),
            exhausted: BTreeMap::new(),
            redeliver: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            skip: start.skip,
            resume_seq: start.resume,
            last_delivered_ns: None,
            last_ack_ns: None,
            events: Vec::new(),
            np_cache: Cell::new(None),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &ConsumerPolicy {
        &self.policy
    }

    /// Replaces the policy (consumer update). Deadlines already set stay; new ones use the new
    /// waits. Filters apply to what is delivered from now on.
    pub fn set_policy(&mut self, policy: ConsumerPolicy) {
        self.filters = Filters::new(&policy.filter_subjects);
        self.policy = policy;
        self.np_cache.set(None);
    }

    // ---- delivery ----

    /// Queues for redelivery every pending message whose deadline has passed, and exhausts
    /// those at max_deliver instead. True if something is queued for redelivery. Call it when
    /// the [`next_deadline`](Self::next_deadline) timer fires; delivery calls it itself.
    pub fn check_pending(&mut self, now_ns: i64) -> bool {
        while let Some(&(deadline, seq)) = self.deadlines.first() {
            if deadline > now_ns {
                break;
            }
            self.deadlines.pop_first();
            if self.at_max_deliver(seq) {
                self.exhaust(seq);
            } else {
                self.redeliver.insert(seq);
            }
        }
        !self.redeliver.is_empty()
    }

    /// The message [`next_to_deliver`](Self::next_to_deliver) would deliver at `now_ns`,
    /// without delivering it (housekeeping such as expiries still happens).
    pub fn peek_next(
        &mut self,
        store: &dyn MsgStore,
        now_ns: i64,
    ) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.select(store, now_ns)?.map(|(_, msg)| msg))
    }

    /// Delivers the next message: the lowest one due for redelivery, else the next new one
    /// (unless max_ack_pending is reached). None when there is nothing to deliver now.
    pub fn next_to_deliver(
        &mut self,
        store: &dyn MsgStore,
        now_ns: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let Some((source, msg)) = self.select(store, now_ns)? else {
            return Ok(None);
        };
        // Counted before anything changes, so that a store error leaves no trace. A first
        // delivery is the lowest undelivered message: afterwards there is exactly one fewer.
        let mut pending = self.undelivered().count(&self.np_cache, store, false)?;
        let seq = msg.seq;
        self.delivered_consumer_seq += 1;
        let consumer_seq = self.delivered_consumer_seq;
        self.last_delivered_ns = Some(now_ns);
        let deliveries = match source {
            Source::Redelivery => {
                self.redeliver.remove(&seq);
                let policy = &self.policy;
                let p = self
                    .pending
                    .get_mut(&seq)
                    .expect("queued entries are pending");
                p.deliveries += 1;
                p.timestamp_ns = now_ns;
                p.deadline_ns = policy.deadline(now_ns, p.deliveries);
                let (d, deadline) = (p.deliveries, p.deadline_ns);
                if deadline != NO_DEADLINE {
                    self.deadlines.insert((deadline, seq));
                }
                d
            }
            Source::Skip | Source::New => {
                if source == Source::Skip {
                    self.pop_skip();
                } else {
                    self.next_stream_seq = seq + 1;
                }
                num_pending::note_first_delivery(&self.np_cache, seq);
                pending = pending.saturating_sub(1);
                if self.policy.ack_policy != AckPolicy::None {
                    let p = Pending {
                        consumer_seq,
                        timestamp_ns: now_ns,
                        deliveries: 1,
                        deadline_ns: self.policy.deadline(now_ns, 1),
                    };
                    self.pending.insert(seq, p);
                    if p.deadline_ns != NO_DEADLINE {
                        self.deadlines.insert((p.deadline_ns, seq));
                    }
                }
                1
            }
        };
        Ok(Some(Delivery {
            stream_seq: seq,
            consumer_seq,
            deliveries,
            pending,
            msg,
        }))
    }

    fn select(
        &mut self,
        store: &dyn MsgStore,
        now_ns: i64,
    ) -> Result<Option<(Source, StoredMsg)>, StoreError> {
        self.check_pending(now_ns);
        while let Some(&seq) = self.redeliver.first() {
            match store.get(seq)? {
                Some(msg) => return Ok(Some((Source::Redelivery, msg))),
                None => {
                    if let Some(p) = self.remove_pending(seq) {
                        self.events.push(Event::DeletedWhilePending {
                            stream_seq: seq,
                            consumer_seq: p.consumer_seq,
                            deliveries: p.deliveries,
                        });
                    }
                }
            }
        }
        if self.is_blocked() {
            return Ok(None);
        }
        while let Some(&seq) = self.skip.front() {
            match store.get(seq)? {
                Some(msg) => return Ok(Some((Source::Skip, msg))),
                None => self.pop_skip(),
            }
        }
        match self.filters.next(store, self.next_stream_seq)? {
            Some(msg) => Ok(Some((Source::New, msg))),
            None => {
                // Nothing more for us up to the end of the stream: skip past it.
                let last = store.state().last_seq;
                if last >= self.next_stream_seq {
                    self.next_stream_seq = last + 1;
                }
                Ok(None)
            }
        }
    }

    /// True while max_ack_pending stops new deliveries.
    pub fn is_blocked(&self) -> bool {
        self.policy
            .max_ack_pending()
            .is_some_and(|max| self.pending.len() >= max)
    }

    fn pop_skip(&mut self) {
        if let Some(seq) = self.skip.pop_front() {
            self.next_stream_seq = if self.skip.is_empty() {
                self.resume_seq
            } else {
                seq + 1
            };
        }
    }

    // ---- state ----

    /// The last delivery: consumer sequence, and the stream sequence up to which messages
    /// have been considered.
    pub fn delivered(&self) -> SeqPair {
        SeqPair {
            consumer_seq: self.delivered_consumer_seq,
            stream_seq: self.next_stream_seq.saturating_sub(1),
        }
    }

    /// Everything at or below it is acknowledged (see the module doc). (0, 0) until the first
    /// delivery, wherever the consumer starts, as nats-server reports it.
    pub fn ack_floor(&self) -> SeqPair {
        if self.delivered_consumer_seq == 0 {
            return SeqPair::default();
        }
        match self.pending.first_key_value() {
            Some((&seq, p)) => SeqPair {
                consumer_seq: p.consumer_seq.saturating_sub(1),
                stream_seq: seq.saturating_sub(1),
            },
            None => self.delivered(),
        }
    }

    /// Messages delivered and awaiting an ack.
    pub fn num_ack_pending(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Pending messages delivered more than once, plus those that reached max_deliver.
    pub fn num_redelivered(&self) -> u64 {
        let redelivered = self.pending.values().filter(|p| p.deliveries > 1).count();
        (redelivered + self.exhausted.len()) as u64
    }

    /// Messages in `store` still to be delivered for the first time. Exact; cheap while
    /// nothing is removed from the stream, a walk over the undelivered messages otherwise.
    pub fn num_pending(&self, store: &dyn MsgStore) -> Result<u64, StoreError> {
        self.undelivered().count(&self.np_cache, store, true)
    }

    fn undelivered(&self) -> Undelivered<'_> {
        Undelivered {
            filters: &self.filters,
            skip: &self.skip,
            first_new: if self.skip.is_empty() {
                self.next_stream_seq
            } else {
                self.resume_seq
            },
        }
    }

    /// The messages awaiting an ack, by stream sequence.
    pub fn pending(&self) -> &BTreeMap<u64, Pending> {
        &self.pending
    }

    /// Messages that reached max_deliver un-acked: stream seq -> deliveries.
    pub fn exhausted(&self) -> &BTreeMap<u64, u64> {
        &self.exhausted
    }

    /// When the earliest pending deadline passes, for the caller's timer. Messages already
    /// queued for redelivery are not included: see [`has_redeliveries`](Self::has_redeliveries).
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// How many messages are due for redelivery at `now_ns` (queued now or past their
    /// deadline).
    pub fn redeliveries_due(&mut self, now_ns: i64) -> usize {
        self.check_pending(now_ns);
        self.redeliver.len()
    }

    /// True if messages are queued for redelivery now.
    pub fn has_redeliveries(&self) -> bool {
        !self.redeliver.is_empty()
    }

    /// Whether this consumer still needs `stream_seq` (stored under `subject`) to stay in an
    /// interest-retention stream: it matches, and is awaiting an ack, still to be delivered,
    /// or exhausted un-acked (nats-server's `needAck`).
    pub fn needs_ack(&self, stream_seq: u64, subject: &str) -> bool {
        if !self.filters.matches(subject) {
            return false;
        }
        if self.exhausted.contains_key(&stream_seq) || self.pending.contains_key(&stream_seq) {
            return true;
        }
        if stream_seq <= self.ack_floor().stream_seq {
            return false;
        }
        if self.skip.is_empty() {
            stream_seq >= self.next_stream_seq
        } else {
            stream_seq >= self.resume_seq || self.skip.binary_search(&stream_seq).is_ok()
        }
    }

    /// When the last delivery happened.
    pub fn last_delivered_ns(&self) -> Option<i64> {
        self.last_delivered_ns
    }

    /// When the last ack (or term) that changed something happened.
    pub fn last_ack_ns(&self) -> Option<i64> {
        self.last_ack_ns
    }

    /// Advisories to send, oldest first; the list is emptied.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}
