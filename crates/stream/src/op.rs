//! Typed stream operations: every change to a stream or its consumers reaches the stream's
//! owner as a [`StreamOp`] value (issue 16, steps 3 and 4): the `$JS.API`'s changes (answered
//! with an [`OpOutcome`]), and the messages of the stream's subscriptions (publishes, acks, pull
//! requests, flow control answers) and the passing of time ([`StreamOp::Tick`]), which the
//! owner turns into ops when it takes them from its mailbox.
//!
//! An op carries everything its apply needs: the clock is read and random names and advisory
//! ids are drawn by the API task when it makes the op, or by the owner when it turns a message
//! into an op (one time stamp per step), never during apply, so the same ops applied to the
//! same start give the same state and the same effects (`effect.rs`). Ops (and outcomes) are
//! serde values, so that a log can hold them (the local op log, `oplog.rs`, and later Raft).
//! A message op holds the message as it arrived ([`Message`]: the `Bytes` of its subject,
//! reply, headers and payload are moved in, not copied). The owner applies ops in `apply.rs`
//! and performs their effects in `shell.rs`.
//!
//! A leaf module: it names types and does nothing.

use crate::api::consumer_types::ConsumerInfo;
use crate::api::errors::ApiError;
use crate::config::StreamConfig;
use crate::consumer::config::{ConsumerAction, ConsumerConfig};
use crate::store::Purge;
use crate::time::Timestamp;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sluice_protocol::ByteStr;
use sluice_server::InternalMsg;

/// A message as a subscription handed it to the stream's owner, inside an op. Moved, never
/// copied, on the publish path; serialised by hand (its fields are `Bytes` and `ByteStr`):
/// subject and reply as strings, headers and payload as byte arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Message(pub InternalMsg);

/// The serialised form of a [`Message`] (borrowed when written).
#[derive(Serialize)]
struct MessageRef<'a> {
    subject: &'a str,
    reply: Option<&'a str>,
    headers: Option<&'a [u8]>,
    payload: &'a [u8],
}

/// The serialised form of a [`Message`] (owned when read).
#[derive(Deserialize)]
struct MessageOwned {
    subject: String,
    reply: Option<String>,
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = &self.0;
        MessageRef {
            subject: &m.subject,
            reply: m.reply.as_deref(),
            headers: m.headers.as_deref(),
            payload: &m.payload,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = MessageOwned::deserialize(d)?;
        Ok(Message(InternalMsg {
            subject: ByteStr::from(m.subject),
            reply: m.reply.map(ByteStr::from),
            headers: m.headers.map(Bytes::from),
            payload: Bytes::from(m.payload),
        }))
    }
}

/// A change to one stream or its consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamOp {
    /// A message published to one of the stream's subjects, and the time it is stored at.
    /// Its reply subject (if any) gets the PubAck or the error, once the log says committed.
    Publish { msg: Message, now_ns: i64 },
    /// A message to a delivery's ack reply subject (`$JS.ACK.<stream>.<consumer>...`): ack,
    /// nak, term, in progress or next.
    Ack { msg: Message, now_ns: i64 },
    /// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`).
    Next { msg: Message, now_ns: i64 },
    /// An answer to a push consumer's flow control request (`$JS.FC.<stream>.<consumer>.<n>`).
    FlowControl { msg: Message },
    /// Time passes: messages past max_age or their TTL expire, the consumers' deadlines
    /// (ack waits, pull request expiries, heartbeats, inactivity) are looked at, and what is
    /// due is delivered.
    Tick { now_ns: i64 },
    /// What the owner saw of the server's subscriptions since its last such op (apply never
    /// asks the server): waiting pull requests whose inbox lost its last subscriber or got
    /// one again (`replies`: inbox, listened), and push consumers whose deliver subject did
    /// (`push`: consumer, bound). Made only when something changed.
    Interest {
        now_ns: i64,
        replies: Vec<(String, bool)>,
        push: Vec<(String, bool)>,
    },
    /// `STREAM.PURGE`: removes what the purge selects.
    Purge(Purge),
    /// `STREAM.MSG.DELETE`: removes one message. Sequence 0 and sequences past the end are
    /// refused the way nats-server's store of the stream's kind refuses them.
    DeleteMsg { seq: u64 },
    /// `STREAM.UPDATE`: the new (checked) config, and the time its limits are applied at.
    UpdateConfig {
        // Boxed, as is a consumer's config: the publish path moves ops by value, so the enum
        // stays the size of a message op.
        config: Box<StreamConfig>,
        now_ns: i64,
    },
    /// `CONSUMER.CREATE` / `DURABLE.CREATE`: create or update a consumer.
    CreateConsumer {
        /// The request's config, resolved against the subject (not yet planned).
        config: Box<ConsumerConfig>,
        action: ConsumerAction,
        /// The name an unnamed ephemeral gets (drawn by the API task); if a consumer of that
        /// name exists already, the next candidates are derived from it.
        generated_name: String,
        /// The new consumer's creation time (an update keeps the consumer's own).
        created: Timestamp,
        /// Now, for the consumer's activity clock, its info's `ts` and the timestamp of its
        /// CREATED advisory.
        now_ns: i64,
        /// The id of the CREATED advisory (drawn by the API task).
        advisory_id: String,
    },
    /// `CONSUMER.DELETE`.
    DeleteConsumer {
        name: String,
        /// Now, for the timestamp of the DELETED advisory.
        now_ns: i64,
        /// The id of the DELETED advisory (drawn by the API task).
        advisory_id: String,
    },
}

/// What applying a [`StreamOp`] came to: what the API needs for its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpOutcome {
    /// [`StreamOp::Purge`]: how many messages went.
    Purged { purged: u64 },
    /// [`StreamOp::DeleteMsg`]: false if there was no message at that sequence.
    MsgDeleted { removed: bool },
    /// [`StreamOp::UpdateConfig`].
    ConfigUpdated,
    /// [`StreamOp::CreateConsumer`]: the consumer's info as created or updated.
    Consumer(Box<ConsumerInfo>),
    /// [`StreamOp::DeleteConsumer`].
    ConsumerDeleted,
    /// The op was refused or failed; nothing (or, for a failed store write, what the store
    /// managed) changed.
    Failed(ApiError),
}

impl OpOutcome {
    /// The error to answer with when an op's outcome is not one that op gives (a bug).
    pub(crate) fn unexpected(self) -> ApiError {
        ApiError::stream_general(format!("unexpected outcome of a stream op: {self:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RetentionPolicy, StorageType};
    use crate::consumer::config::AckPolicy;

    fn round_trip(op: StreamOp) {
        let json = serde_json::to_string(&op).unwrap();
        let back: StreamOp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, op, "{json}");
    }

    fn stream_config() -> StreamConfig {
        let raw: StreamConfig = serde_json::from_value(serde_json::json!({
            "name": "ORDERS",
            "subjects": ["orders.>"],
            "storage": "memory",
            "retention": "interest",
            "max_msgs": 100,
            "max_age": 60_000_000_000i64,
            "duplicate_window": 5_000_000_000i64,
            "allow_rollup_hdrs": true,
        }))
        .unwrap();
        let cfg = raw.check_create("ORDERS").unwrap();
        assert_eq!(cfg.storage, StorageType::Memory);
        assert_eq!(cfg.retention, RetentionPolicy::Interest);
        cfg
    }

    fn consumer_config() -> ConsumerConfig {
        ConsumerConfig {
            durable_name: "D".into(),
            ack_policy: AckPolicy::Explicit,
            filter_subject: "orders.new".into(),
            max_deliver: 5,
            ack_wait: 2_000_000_000,
            description: "a consumer".into(),
            ..ConsumerConfig::default()
        }
    }

    #[test]
    fn every_op_round_trips_through_json() {
        round_trip(StreamOp::Purge(Purge::default()));
        round_trip(StreamOp::Purge(Purge {
            filter: Some("orders.*".into()),
            up_to_seq: Some(42),
            keep: Some(3),
        }));
        round_trip(StreamOp::DeleteMsg { seq: 7 });
        round_trip(StreamOp::DeleteMsg { seq: 0 });
        round_trip(StreamOp::UpdateConfig {
            config: Box::new(stream_config()),
            now_ns: 1_765_000_000_123_456_789,
        });
        for action in [
            ConsumerAction::CreateOrUpdate,
            ConsumerAction::Create,
            ConsumerAction::Update,
        ] {
            round_trip(StreamOp::CreateConsumer {
                config: Box::new(consumer_config()),
                action,
                generated_name: "AbC123xY".into(),
                created: Timestamp::from_unix_nanos(1_765_000_000_000_000_001),
                now_ns: 1_765_000_000_000_000_001,
                advisory_id: "AbC123xYzW987654".into(),
            });
        }
        round_trip(StreamOp::CreateConsumer {
            config: Box::default(),
            action: ConsumerAction::CreateOrUpdate,
            generated_name: String::new(),
            created: Timestamp::ZERO,
            now_ns: 0,
            advisory_id: String::new(),
        });
        round_trip(StreamOp::DeleteConsumer {
            name: "D".into(),
            now_ns: 1_765_000_000_000_000_002,
            advisory_id: "Zz0987654321aBcD".into(),
        });
    }

    fn msg(subject: &str, reply: Option<&str>, headers: Option<&[u8]>, payload: &[u8]) -> Message {
        Message(InternalMsg {
            subject: subject.into(),
            reply: reply.map(ByteStr::from),
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
        })
    }

    #[test]
    fn message_ops_round_trip_through_json() {
        let h: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n";
        round_trip(StreamOp::Publish {
            msg: msg("orders.new", Some("_INBOX.x"), Some(h), &[0, 1, 255, b'"']),
            now_ns: 1_765_000_000_000_000_003,
        });
        round_trip(StreamOp::Publish {
            msg: msg("orders.new", None, None, b""),
            now_ns: 0,
        });
        round_trip(StreamOp::Ack {
            msg: msg("$JS.ACK.ORDERS.D.1.2.3.4.5", Some("r"), None, b"+ACK"),
            now_ns: 7,
        });
        round_trip(StreamOp::Next {
            msg: msg(
                "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D",
                Some("_INBOX.p"),
                None,
                b"{\"batch\":3}",
            ),
            now_ns: 8,
        });
        round_trip(StreamOp::FlowControl {
            msg: msg("$JS.FC.ORDERS.D.1", None, None, b""),
        });
        round_trip(StreamOp::Tick { now_ns: 9 });
        round_trip(StreamOp::Interest {
            now_ns: 9,
            replies: vec![("_INBOX.a".into(), false)],
            push: vec![("P".into(), true)],
        });
    }

    /// A publish op holds the message's own buffers: making the op copies nothing. And an op
    /// is not much bigger than the message it holds (it is moved by value on the publish path).
    #[test]
    fn a_publish_op_moves_the_payload() {
        let size = std::mem::size_of::<StreamOp>();
        assert!(size <= std::mem::size_of::<InternalMsg>() + 16, "{size}");
        let payload = Bytes::from(vec![7u8; 4096]);
        let ptr = payload.as_ptr();
        let op = StreamOp::Publish {
            msg: msg_of(payload),
            now_ns: 1,
        };
        let StreamOp::Publish { msg, .. } = op else {
            unreachable!()
        };
        assert_eq!(msg.0.payload.as_ptr(), ptr);
    }

    fn msg_of(payload: Bytes) -> Message {
        Message(InternalMsg {
            subject: "s".into(),
            reply: None,
            headers: None,
            payload,
        })
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let info = ConsumerInfo {
            stream_name: "ORDERS".into(),
            name: "D".into(),
            created: Timestamp::from_unix_nanos(1_000),
            config: consumer_config(),
            ts: Timestamp::from_unix_nanos(2_000),
            ..ConsumerInfo::default()
        };
        for out in [
            OpOutcome::Purged { purged: 3 },
            OpOutcome::MsgDeleted { removed: false },
            OpOutcome::ConfigUpdated,
            OpOutcome::Consumer(Box::new(info)),
            OpOutcome::ConsumerDeleted,
            OpOutcome::Failed(ApiError::sequence_not_found(9)),
        ] {
            let json = serde_json::to_string(&out).unwrap();
            let back: OpOutcome = serde_json::from_str(&json).unwrap();
            assert_eq!(back, out, "{json}");
        }
    }
}
