//! Typed stream operations: every change the `$JS.API` makes to a stream or its consumers
//! reaches the stream's writer as a [`StreamOp`] value, and the writer answers with an
//! [`OpOutcome`] (issue 16, step 3).
//!
//! An op carries everything its apply needs: the clock is read and random names and advisory
//! ids are drawn by the API task when it makes the op, never on the writer, so the same ops
//! applied to the same start give the same state and the same effects (`effect.rs`). Ops
//! (and outcomes) are serde values, so that a log can hold them (the local op log and, later,
//! Raft). The writer applies them in `apply.rs` and performs their effects in `shell.rs`.
//!
//! A leaf module: it names types and does nothing.

use crate::api::consumer_types::ConsumerInfo;
use crate::api::errors::ApiError;
use crate::config::StreamConfig;
use crate::consumer::config::{ConsumerAction, ConsumerConfig};
use crate::store::Purge;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A change to one stream or its consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamOp {
    /// `STREAM.PURGE`: removes what the purge selects.
    Purge(Purge),
    /// `STREAM.MSG.DELETE`: removes one message. Sequence 0 and sequences past the end are
    /// refused the way nats-server's store of the stream's kind refuses them.
    DeleteMsg { seq: u64 },
    /// `STREAM.UPDATE`: the new (checked) config, and the time its limits are applied at.
    UpdateConfig { config: StreamConfig, now_ns: i64 },
    /// `CONSUMER.CREATE` / `DURABLE.CREATE`: create or update a consumer.
    CreateConsumer {
        /// The request's config, resolved against the subject (not yet planned).
        config: ConsumerConfig,
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
            config: stream_config(),
            now_ns: 1_765_000_000_123_456_789,
        });
        for action in [
            ConsumerAction::CreateOrUpdate,
            ConsumerAction::Create,
            ConsumerAction::Update,
        ] {
            round_trip(StreamOp::CreateConsumer {
                config: consumer_config(),
                action,
                generated_name: "AbC123xY".into(),
                created: Timestamp::from_unix_nanos(1_765_000_000_000_000_001),
                now_ns: 1_765_000_000_000_000_001,
                advisory_id: "AbC123xYzW987654".into(),
            });
        }
        round_trip(StreamOp::CreateConsumer {
            config: ConsumerConfig::default(),
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
