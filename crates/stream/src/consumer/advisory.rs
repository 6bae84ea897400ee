//! Consumer advisories (`$JS.EVENT.ADVISORY.CONSUMER.*`): their subjects and JSON bodies.
//!
//! CREATED and DELETED come from ops (consumer create and delete, and a tick's deletion of an
//! inactive consumer) and are returned as [`Effect::Advisory`] values stamped with an id and
//! a time from the op ([`Stamp`]), so that the same ops give the same bytes. MSG_TERMINATED and
//! MAX_DELIVERIES come from acks and deliveries (ack and tick ops) and go into the consumers'
//! [`Outbox`]; their stamps are derived from the op's time and what the advisory is about
//! ([`Stamp::derived`]), so they are the same bytes on every replay too.

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

    /// The stamp of an advisory that an op gives rise to without drawing its own id (an ack's
    /// MSG_TERMINATED, a tick's MAX_DELIVERIES or inactivity DELETED): the op's time, and an id
    /// of 16 characters of `[A-Za-z0-9]` hashed from `kind`, `what` and that time, the same on
    /// every replay. Two advisories of one kind about the same thing at the same nanosecond
    /// cannot both happen, so the ids stay unique.
    pub(crate) fn derived(kind: &str, what: &str, n: u64, now_ns: i64) -> Self {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        // FNV-1a over the inputs seeds a splitmix64 sequence.
        let fnv = |h: u64, b: &[u8]| {
            b.iter().fold(h, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
        };
        let mut h = fnv(0xcbf2_9ce4_8422_2325, kind.as_bytes());
        h = fnv(h, &[0]);
        h = fnv(h, what.as_bytes());
        h = fnv(h, &n.to_le_bytes());
        h = fnv(h, &now_ns.to_le_bytes());
        let mut id = String::with_capacity(16);
        for round in 1..=2u64 {
            let mut z = h.wrapping_add(round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            id.extend(
                (0..8).map(|i| CHARS[((z >> (i * 8)) % CHARS.len() as u64) as usize] as char),
            );
        }
        Stamp {
            id,
            ts: Timestamp::from_unix_nanos(now_ns),
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
    now_ns: i64,
) {
    let stamp = Stamp::derived("MSG_TERMINATED", &c.name, stream_seq, now_ns);
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
pub(crate) fn event(out: &mut Outbox, c: &Consumer, ev: &Event, now_ns: i64) {
    match *ev {
        Event::MaxDeliveries {
            stream_seq,
            deliveries,
        } => {
            let stamp = Stamp::derived("MAX_DELIVERIES", &c.name, stream_seq, now_ns);
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
            terminated(
                out,
                c,
                (stream_seq, consumer_seq),
                deliveries,
                reason,
                now_ns,
            );
        }
    }
}
