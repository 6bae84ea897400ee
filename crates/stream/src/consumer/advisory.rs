//! Consumer advisories (`$JS.EVENT.ADVISORY.CONSUMER.*`): their subjects and JSON bodies.
//!
//! CREATED and DELETED come from ops (consumer create and delete, and the writer's deletion of
//! an inactive consumer) and are returned as [`Effect::Advisory`] values stamped with an id and
//! a time from the op ([`Stamp`]), so that the same ops give the same bytes. MSG_TERMINATED and
//! MAX_DELIVERIES come from acks and deliveries, which are not ops yet: they go straight into
//! the writer's [`Outbox`] with a random id and the clock.

use super::live::{Consumer, OutMsg, Outbox};
use super::state::Event;
use crate::effect::Effect;
use crate::time::Timestamp;
use bytes::Bytes;

/// The id and time of an advisory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stamp {
    pub id: String,
    pub ts: Timestamp,
}

impl Stamp {
    /// The stamp of an op's advisory: the id and time the API task drew for it.
    pub(crate) fn new(id: &str, now_ns: i64) -> Self {
        Stamp {
            id: id.to_owned(),
            ts: Timestamp::from_unix_nanos(now_ns),
        }
    }

    /// A random id and the clock, for advisories of what is not an op yet (ticks, acks).
    pub(crate) fn now() -> Self {
        Stamp {
            id: advisory_id(),
            ts: Timestamp::now(),
        }
    }
}

/// A random advisory id: 16 characters of `[A-Za-z0-9]`. The API task draws one for each
/// consumer create and delete op.
pub fn advisory_id() -> String {
    super::config::generate_consumer_name() + &super::config::generate_consumer_name()
}

fn subject(kind: &str, c: &Consumer) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.{kind}.{}.{}", c.stream, c.name)
}

fn publish(out: &mut Outbox, kind: &str, c: &Consumer, body: serde_json::Value) {
    let payload = serde_json::to_vec(&body).unwrap_or_default();
    out.push(OutMsg {
        route: subject(kind, c).into(),
        subject: None,
        reply: None,
        headers: None,
        payload: Bytes::from(payload),
    });
}

/// `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,DELETED}.<stream>.<consumer>`, as an effect.
pub(crate) fn action(c: &Consumer, kind: &str, action: &str, stamp: &Stamp) -> Effect {
    let body = serde_json::json!({
        "type": "io.nats.jetstream.advisory.v1.consumer_action",
        "id": stamp.id,
        "timestamp": stamp.ts,
        "stream": &*c.stream,
        "consumer": &*c.name,
        "action": action,
    });
    Effect::Advisory {
        subject: subject(kind, c),
        payload: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.<stream>.<consumer>` for the message at
/// `(stream seq, consumer seq)`.
pub(crate) fn terminated(
    out: &mut Outbox,
    c: &Consumer,
    (stream_seq, consumer_seq): (u64, u64),
    deliveries: u64,
    reason: &str,
) {
    let stamp = Stamp::now();
    let body = serde_json::json!({
        "type": "io.nats.jetstream.advisory.v1.terminated",
        "id": stamp.id,
        "timestamp": stamp.ts,
        "stream": &*c.stream,
        "consumer": &*c.name,
        "consumer_seq": consumer_seq,
        "stream_seq": stream_seq,
        "deliveries": deliveries,
        "reason": reason,
    });
    publish(out, "MSG_TERMINATED", c, body);
}

/// The advisory of a state machine event (max deliveries reached, a pending message deleted).
pub(crate) fn event(out: &mut Outbox, c: &Consumer, ev: &Event) {
    match *ev {
        Event::MaxDeliveries {
            stream_seq,
            deliveries,
        } => {
            let stamp = Stamp::now();
            let body = serde_json::json!({
                "type": "io.nats.jetstream.advisory.v1.max_deliver",
                "id": stamp.id,
                "timestamp": stamp.ts,
                "stream": &*c.stream,
                "consumer": &*c.name,
                "stream_seq": stream_seq,
                "deliveries": deliveries,
            });
            publish(out, "MAX_DELIVERIES", c, body);
        }
        Event::DeletedWhilePending {
            stream_seq,
            consumer_seq,
            deliveries,
        } => {
            let reason = "Unacknowledged message was deleted";
            terminated(out, c, (stream_seq, consumer_seq), deliveries, reason);
        }
    }
}
