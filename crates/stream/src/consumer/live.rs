//! One live consumer: its stored config, its delivery state machine ([`ConsumerState`]), its
//! waiting pull requests or its push target, and how one of its messages is sent.
//!
//! Everything here runs on the stream's owner (see [`super::set`]): no locks, no I/O
//! of its own. What it wants sent goes into an [`Outbox`], published after the batch; its
//! subscriptions are kept by the set, apart from it (they are made and dropped by effects).

use super::config::{self, ConsumerConfig, DeliverPolicy, ReplayPolicy};
use super::pull::WaitQueue;
use super::push::PushTarget;
use super::state::{AckPolicy, ConsumerPolicy, ConsumerState, DeliverStart, Delivery};
use crate::api::consumer_types::{ConsumerInfo, ConsumerStatus, SequenceInfo};
use crate::consumer::ack_subject::AckSubject;
use crate::store::{MsgStore, StoreError};
use crate::time::Timestamp;
use bytes::Bytes;
use std::sync::Arc;

/// A message to publish once the writer's batch is done.
pub(crate) struct OutMsg {
    /// The subject it is routed by (a deliver subject, a request's inbox, an ack's reply).
    pub route: Arc<str>,
    /// The subject receivers see, when not `route` (a stored message's own subject).
    pub subject: Option<Arc<str>>,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// Messages collected during a batch.
pub(crate) type Outbox = Vec<OutMsg>;

/// Sends a header-only status to `route`.
pub(crate) fn status(out: &mut Outbox, route: &Arc<str>, status: &ConsumerStatus) {
    out.push(OutMsg {
        route: route.clone(),
        subject: None,
        reply: None,
        headers: Some(Bytes::from(status.to_bytes())),
        payload: Bytes::new(),
    });
}

/// The state machine's policy from a (normalised) config.
pub fn policy_of(cfg: &ConsumerConfig) -> ConsumerPolicy {
    ConsumerPolicy {
        ack_policy: match cfg.ack_policy {
            config::AckPolicy::None => AckPolicy::None,
            config::AckPolicy::All => AckPolicy::All,
            config::AckPolicy::Explicit => AckPolicy::Explicit,
        },
        ack_wait_ns: cfg.ack_wait,
        max_deliver: cfg.max_deliver,
        backoff_ns: cfg.backoff.clone(),
        max_ack_pending: cfg.max_ack_pending,
        filter_subjects: cfg.subject_filters(),
    }
}

/// Where a new consumer with this config starts.
pub fn start_of(cfg: &ConsumerConfig) -> DeliverStart {
    match cfg.deliver_policy {
        DeliverPolicy::All => DeliverStart::All,
        DeliverPolicy::Last => DeliverStart::Last,
        DeliverPolicy::New => DeliverStart::New,
        DeliverPolicy::ByStartSequence => DeliverStart::ByStartSeq(cfg.opt_start_seq),
        DeliverPolicy::ByStartTime => {
            DeliverStart::ByStartTime(cfg.opt_start_time.and_then(|t| t.unix_nanos()).unwrap_or(0))
        }
        DeliverPolicy::LastPerSubject => DeliverStart::LastPerSubject,
    }
}

/// Pacing of `replay_policy: original`: the wall time and stored time of the last delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Replay {
    pub last_wall_ns: i64,
    pub last_msg_ns: i64,
}

/// One consumer of a stream.
pub struct Consumer {
    pub(crate) stream: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) config: ConsumerConfig,
    pub(crate) created: Timestamp,
    pub(crate) state: ConsumerState,
    /// Its state is kept in the metadata store (a durable consumer of a file stream).
    pub(crate) persisted: bool,
    /// Changed since its state was last written.
    pub(crate) dirty: bool,
    pub(crate) waiting: WaitQueue,
    pub(crate) push: Option<PushTarget>,
    pub(crate) replay: Option<Replay>,
    /// The next message may not go out before this (`replay_policy: original`).
    pub(crate) paced_until: Option<i64>,
    /// Last time someone showed interest (a pull request, a bound push subscriber, an ack):
    /// `inactive_threshold` counts from here.
    pub(crate) last_active_ns: i64,
}

impl Consumer {
    /// A consumer with `config` (normalised) and `state`.
    pub(crate) fn new(
        stream: &str,
        name: &str,
        config: ConsumerConfig,
        created: Timestamp,
        state: ConsumerState,
        persisted: bool,
        now_ns: i64,
    ) -> Self {
        let push = config.is_push().then(|| PushTarget::new(&config, now_ns));
        Consumer {
            stream: stream.into(),
            name: name.into(),
            waiting: WaitQueue::new(config.max_waiting),
            push,
            created,
            state,
            persisted,
            dirty: true,
            replay: None,
            paced_until: None,
            last_active_ns: now_ns,
            config,
        }
    }

    /// Takes a new config (an update that passed `check_update`).
    pub(crate) fn set_config(&mut self, config: ConsumerConfig, now_ns: i64) {
        self.state.set_policy(policy_of(&config));
        if let Some(p) = &mut self.push {
            p.reconfigure(&config, now_ns);
        }
        self.waiting.set_max(config.max_waiting);
        self.config = config;
        self.dirty = true;
    }

    /// Its info as the API reports it, taken at `ts`.
    pub(crate) fn info(
        &self,
        store: &dyn MsgStore,
        ts: Timestamp,
    ) -> Result<ConsumerInfo, StoreError> {
        let s = &self.state;
        let delivered = s.delivered();
        let floor = s.ack_floor();
        let mut info = ConsumerInfo {
            stream_name: self.stream.to_string(),
            name: self.name.to_string(),
            created: self.created,
            config: self.config.clone(),
            ts,
            ..ConsumerInfo::default()
        };
        info.delivered = SequenceInfo {
            consumer_seq: delivered.consumer_seq,
            stream_seq: delivered.stream_seq,
            last_active: s.last_delivered_ns().map(Timestamp::from_unix_nanos),
        };
        info.ack_floor = SequenceInfo {
            consumer_seq: floor.consumer_seq,
            stream_seq: floor.stream_seq,
            last_active: s.last_ack_ns().map(Timestamp::from_unix_nanos),
        };
        info.num_ack_pending = s.num_ack_pending();
        info.num_redelivered = s.num_redelivered();
        info.num_waiting = self.waiting.len() as u64;
        info.num_pending = s.num_pending(store)?;
        info.push_bound = self.push.as_ref().is_some_and(|p| p.bound);
        Ok(info)
    }

    /// How long until `msg_ns` may go out under `replay_policy: original`, or `None` if now.
    pub(crate) fn replay_wait(&self, msg_ns: i64, now_ns: i64) -> Option<i64> {
        if self.config.replay_policy != ReplayPolicy::Original {
            return None;
        }
        let r = self.replay?;
        let due = r
            .last_wall_ns
            .saturating_add(msg_ns.saturating_sub(r.last_msg_ns).max(0));
        (due > now_ns).then_some(due)
    }

    /// Sends `d` to `route` with its ack reply subject, and notes it for pacing.
    pub(crate) fn send(&mut self, d: Delivery, route: &Arc<str>, now_ns: i64, out: &mut Outbox) {
        if self.config.replay_policy == ReplayPolicy::Original {
            self.replay = Some(Replay {
                last_wall_ns: now_ns,
                last_msg_ns: d.msg.time_ns,
            });
        }
        let reply = AckSubject::new(
            &self.stream,
            &self.name,
            d.deliveries,
            d.stream_seq,
            d.consumer_seq,
            d.msg.time_ns,
            d.pending,
        )
        .encode();
        let (headers, payload) = if self.config.headers_only {
            (
                Some(headers_only(d.msg.headers.as_deref(), d.msg.payload.len())),
                Bytes::new(),
            )
        } else {
            (d.msg.headers, d.msg.payload)
        };
        self.dirty = true;
        self.last_active_ns = now_ns;
        out.push(OutMsg {
            route: route.clone(),
            subject: Some(d.msg.subject),
            reply: Some(reply),
            headers,
            payload,
        });
    }

    /// When this consumer needs the writer's attention next (a redelivery deadline, a pull
    /// request's expiry or heartbeat, a push heartbeat, paced replay, inactivity).
    pub(crate) fn next_wakeup(&self) -> Option<i64> {
        let mut at = self.state.next_deadline();
        let mut take = |t: Option<i64>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a: i64| a.min(t)));
            }
        };
        take(self.waiting.next_wakeup());
        take(self.paced_until);
        take(self.push.as_ref().and_then(PushTarget::next_wakeup));
        take(self.inactive_deadline());
        at
    }

    /// When this consumer is deleted for inactivity, if it has a threshold and no subscriber
    /// is bound to it. Waiting pull requests are looked at then: any that somebody still
    /// listens for keep it alive (nats-server's `deleteNotActive`).
    pub(crate) fn inactive_deadline(&self) -> Option<i64> {
        if self.config.inactive_threshold <= 0 {
            return None;
        }
        if self.push.as_ref().is_some_and(|p| p.bound) {
            return None;
        }
        Some(
            self.last_active_ns
                .saturating_add(self.config.inactive_threshold),
        )
    }
}

/// The header block of a `headers_only` delivery: the stored headers plus `Nats-Msg-Size`.
fn headers_only(stored: Option<&[u8]>, size: usize) -> Bytes {
    let line = format!("Nats-Msg-Size: {size}\r\n");
    match stored {
        Some(h) if h.ends_with(b"\r\n\r\n") => {
            let mut v = h[..h.len() - 2].to_vec();
            v.extend_from_slice(line.as_bytes());
            v.extend_from_slice(b"\r\n");
            Bytes::from(v)
        }
        _ => Bytes::from(format!("NATS/1.0\r\n{line}\r\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_only_adds_the_size_to_stored_headers() {
        assert_eq!(
            &headers_only(None, 5)[..],
            b"NATS/1.0\r\nNats-Msg-Size: 5\r\n\r\n"
        );
        assert_eq!(
            &headers_only(Some(b"NATS/1.0\r\nA: b\r\n\r\n"), 12)[..],
            b"NATS/1.0\r\nA: b\r\nNats-Msg-Size: 12\r\n\r\n"
        );
    }

    #[test]
    fn start_positions_follow_the_deliver_policy() {
        let mut c = ConsumerConfig {
            deliver_policy: DeliverPolicy::ByStartSequence,
            opt_start_seq: 7,
            ..Default::default()
        };
        assert_eq!(start_of(&c), DeliverStart::ByStartSeq(7));
        c.deliver_policy = DeliverPolicy::ByStartTime;
        c.opt_start_time = Some(Timestamp::from_unix_nanos(42));
        assert_eq!(start_of(&c), DeliverStart::ByStartTime(42));
        c.deliver_policy = DeliverPolicy::LastPerSubject;
        assert_eq!(start_of(&c), DeliverStart::LastPerSubject);
    }
}
