//! Push consumers: delivery to a deliver subject while someone subscribes to it, idle
//! heartbeats, and flow control.
//!
//! As nats-server does:
//! - messages go out only while the deliver subject has a subscriber (`push_bound`): a queue
//!   subscriber of its `deliver_group`, or, without a group, a plain subscriber (a mismatch in
//!   either direction delivers nothing); the router gives each message to one group member;
//! - with `idle_heartbeat`, `100 Idle Heartbeat` (with `Nats-Last-Consumer`,
//!   `Nats-Last-Stream`, and `Nats-Consumer-Stalled: <fc subject>` while stalled) goes to the
//!   deliver subject whenever that long passed without a message;
//! - with `flow_control`, after every [`FC_WINDOW`]/2 bytes a `100 FlowControl Request` goes
//!   out with the reply `$JS.FC.<stream>.<consumer>.<n>`; delivery stalls once another half
//!   window went out before the subscriber answered it (clients answer automatically).

use super::config::ConsumerConfig;
use super::live::{status, Consumer, OutMsg, Outbox};
use super::pull::PASS_LIMIT;
use crate::api::consumer_types::ConsumerStatus;
use crate::store::{MsgStore, StoreError};
use bytes::Bytes;
use std::sync::Arc;

/// Bytes in flight that flow control allows: a request every half of it.
pub(crate) const FC_WINDOW: u64 = 2 << 20;

/// A push consumer's target and its heartbeat / flow control state (also as a stream group's
/// snapshot carries it: `consumer/image.rs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PushTarget {
    pub deliver: Arc<str>,
    /// `deliver_group`, if set: only that queue group's subscribers bind the consumer.
    pub group: Option<Arc<str>>,
    /// Someone subscribes to `deliver`.
    pub bound: bool,
    hb_ns: i64,
    /// Last time something went to `deliver`.
    last_sent_ns: i64,
    flow_control: bool,
    /// Bytes sent since the last flow control request.
    fc_bytes: u64,
    /// The reply subject of the unanswered flow control request.
    fc_pending: Option<String>,
    fc_seq: u64,
}

impl PushTarget {
    pub(crate) fn new(cfg: &ConsumerConfig, now_ns: i64) -> Self {
        PushTarget {
            deliver: cfg.deliver_subject.as_str().into(),
            group: (!cfg.deliver_group.is_empty()).then(|| cfg.deliver_group.as_str().into()),
            bound: false,
            hb_ns: cfg.idle_heartbeat,
            last_sent_ns: now_ns,
            flow_control: cfg.flow_control,
            fc_bytes: 0,
            fc_pending: None,
            fc_seq: 0,
        }
    }

    pub(crate) fn reconfigure(&mut self, cfg: &ConsumerConfig, now_ns: i64) {
        let bound = self.bound
            && *self.deliver == *cfg.deliver_subject
            && self.group.as_deref().unwrap_or("") == cfg.deliver_group;
        *self = PushTarget {
            bound,
            ..PushTarget::new(cfg, now_ns)
        };
    }

    /// The next heartbeat.
    pub(crate) fn next_wakeup(&self) -> Option<i64> {
        (self.hb_ns > 0 && self.bound).then(|| self.last_sent_ns.saturating_add(self.hb_ns))
    }

    fn stalled(&self) -> bool {
        self.fc_pending.is_some() && self.fc_bytes >= FC_WINDOW / 2
    }

    /// An answer to a flow control request arrived on `subject`.
    pub(crate) fn on_fc_reply(&mut self, subject: &str) {
        if self.fc_pending.as_deref() == Some(subject) {
            self.fc_pending = None;
        }
    }
}

impl Consumer {
    /// Heartbeat of a push consumer.
    pub(crate) fn tick_push(&mut self, now_ns: i64, out: &mut Outbox) {
        let d = self.state.delivered();
        let Some(p) = &mut self.push else { return };
        if p.next_wakeup().is_some_and(|t| t <= now_ns) {
            let hb = ConsumerStatus::IdleHeartbeat {
                last_consumer_seq: d.consumer_seq,
                last_stream_seq: d.stream_seq,
                stalled: p.fc_pending.clone(),
            };
            status(out, &p.deliver, &hb);
            p.last_sent_ns = now_ns;
        }
    }

    /// Sends what is due to the deliver subject. True if it stopped at [`PASS_LIMIT`] with
    /// more to send.
    pub(crate) fn pump_push(
        &mut self,
        store: &dyn MsgStore,
        now_ns: i64,
        out: &mut Outbox,
    ) -> Result<bool, StoreError> {
        self.paced_until = None;
        let mut sent = 0;
        loop {
            let Some(p) = &self.push else {
                return Ok(false);
            };
            if !p.bound || p.stalled() {
                return Ok(false);
            }
            if sent >= PASS_LIMIT {
                return Ok(true);
            }
            let deliver = p.deliver.clone();
            if self.config.replay_policy == super::config::ReplayPolicy::Original {
                let Some(msg) = self.state.peek_next(store, now_ns)? else {
                    return Ok(false);
                };
                if let Some(due) = self.replay_wait(msg.time_ns, now_ns) {
                    self.paced_until = Some(due);
                    return Ok(false);
                }
            }
            let Some(d) = self.state.next_to_deliver(store, now_ns)? else {
                return Ok(false);
            };
            let size = (d.msg.payload.len() + d.msg.headers.as_ref().map_or(0, |h| h.len())) as u64;
            self.send(d, &deliver, now_ns, out);
            sent += 1;
            let (stream, name) = (self.stream.clone(), self.name.clone());
            let p = self.push.as_mut().expect("checked above");
            p.last_sent_ns = now_ns;
            if p.flow_control {
                p.fc_bytes += size;
                if p.fc_pending.is_none() && p.fc_bytes >= FC_WINDOW / 2 {
                    p.fc_seq += 1;
                    let reply = format!("$JS.FC.{stream}.{name}.{}", p.fc_seq);
                    out.push(OutMsg {
                        route: p.deliver.clone(),
                        subject: None,
                        reply: Some(reply.clone()),
                        headers: Some(Bytes::from(ConsumerStatus::FlowControlRequest.to_bytes())),
                        payload: Bytes::new(),
                    });
                    p.fc_pending = Some(reply);
                    p.fc_bytes = 0;
                }
            }
        }
    }
}
