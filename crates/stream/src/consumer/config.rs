//! Consumer configuration: nats-server's `ConsumerConfig` JSON, its defaults, and its checks.
//!
//! The JSON is nats-server v2.10's (`server/consumer.go`, plus v2.11's `pause_until`): the same
//! names, the same always-present fields (`deliver_policy`, `ack_policy`, `replay_policy`,
//! `num_replicas`) and the same `omitempty` ones, so a config round-trips through clients
//! unchanged. Durations are integer nanoseconds. Unknown fields are ignored and `null` leaves a
//! field's default, as Go's decoder does, except for the three policies: nats-server decodes
//! those with its own `UnmarshalJSON`, which refuses `null` (and anything but the exact lower
//! case names), so there `null` is "invalid JSON" too.
//!
//! A config as received is "raw" (Go zero values: `max_deliver: 0` means "unset"). What a
//! consumer keeps and reports is the normalised form: [`ConsumerConfig::with_defaults`]
//! (nats-server's `setConsumerConfigDefaults`), checked by [`ConsumerConfig::check`]
//! (`checkConsumerCfg`); [`plan_create`] runs the whole of nats-server's consumer create/update
//! decision (`addConsumerWithAssignment` and `updateConfig`) against the stream's other
//! consumers.

use crate::api::errors::ApiError;
use crate::config::{
    is_valid_name, is_valid_subject, subject_is_subset_match, subjects_collide, RetentionPolicy,
    StreamConfig, MAX_DESCRIPTION_LEN, MAX_METADATA_LEN, MAX_NAME_LEN,
};
use crate::serde_util::{is_false, is_zero_i64, is_zero_u64, null_default};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

mod check;
mod duration;
mod plan;

pub use check::parse_sample_frequency;
pub use duration::{parse_go_duration, GoDuration};
pub use plan::{filters_unique, generate_consumer_name, plan_create, CreatePlan, ExistingConsumer};

/// Default `ack_wait` for ack policies `explicit` and `all`: 30 s (`JsAckWaitDefault`).
pub const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
/// Default `max_ack_pending` for ack policies `explicit` and `all` (`JsDefaultMaxAckPending`).
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default `max_waiting` of a pull consumer (`JSWaitQueueDefaultMax`).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// `inactive_threshold` stamped on a non-durable consumer that sets none: 5 s
/// (`JsDeleteWaitTimeDefault`).
pub const DEFAULT_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
/// Smallest non-zero `idle_heartbeat` of a push consumer: 100 ms.
pub const MIN_IDLE_HEARTBEAT_NS: i64 = 100_000_000;
/// Smallest non-zero `max_expires` of a pull consumer: 1 ms.
pub const MIN_MAX_EXPIRES_NS: i64 = 1_000_000;

/// Defines a policy enum with nats-server's exact JSON strings. Decoding refuses anything else,
/// `null` included (nats-server's `UnmarshalJSON` does), with the message Go's decoder gives.
macro_rules! policy_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident => $text:literal $(| $alias:literal)* ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
        }

        impl $name {
            /// The JSON string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// Parses the exact JSON string (no other spelling).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $text $(| $alias)* => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                match &v {
                    serde_json::Value::String(s) => $name::parse(s),
                    _ => None,
                }
                .ok_or_else(|| serde::de::Error::custom(format!("can not unmarshal {v}")))
            }
        }
    };
}

policy_enum! {
    /// Where a consumer starts: `"all"` (Go's zero value, and what `"undefined"` decodes to),
    /// `"last"`, `"new"`, `"by_start_sequence"` (with `opt_start_seq`), `"by_start_time"` (with
    /// `opt_start_time`), `"last_per_subject"` (needs a filter).
    DeliverPolicy {
        #[default]
        All => "all" | "undefined",
        Last => "last",
        New => "new",
        ByStartSequence => "by_start_sequence",
        ByStartTime => "by_start_time",
        LastPerSubject => "last_per_subject",
    }
}

policy_enum! {
    /// How deliveries are acknowledged: `"none"` (Go's zero value: what a config without
    /// `ack_policy` gets), `"all"` (an ack acks everything before it), `"explicit"`.
    AckPolicy {
        #[default]
        None => "none",
        All => "all",
        Explicit => "explicit",
    }
}

policy_enum! {
    /// Delivery pace: `"instant"` (default) or `"original"` (the messages' original spacing).
    ReplayPolicy {
        #[default]
        Instant => "instant",
        Original => "original",
    }
}

policy_enum! {
    /// A create request's `action` (v2.10): `""` create or update (default), `"create"` (fail
    /// with 10148 if a different consumer of that name exists), `"update"` (fail with 10149 if
    /// none exists). Anything else, `null` included, is "invalid JSON".
    ConsumerAction {
        #[default]
        CreateOrUpdate => "",
        Update => "update",
        Create => "create",
    }
}

/// Implements `Serialize` and `Deserialize` for a `#[serde(remote = "Self")]` struct, decoding
/// only from a JSON object: serde's derive would also take an array (`[]` as all defaults),
/// which Go's decoder refuses.
macro_rules! object_only_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
                <$ty>::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use object_only_serde;

/// A consumer's configuration, field for field as nats-server's JSON (v2.10 field order).
///
/// `Default` is the all-zero ("raw", as if `{}` was received) config, as in Go. Decodes only
/// from a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct ConsumerConfig {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub durable_name: String,
    /// v2.9+: the consumer's name (set from the API subject by `CONSUMER.CREATE.<s>.<name>`).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub opt_start_seq: u64,
    /// `Some(Timestamp::ZERO)` (Go's zero time sent explicitly) is "set", unlike `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub ack_wait: i64,
    /// -1 is unlimited (the default).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_deliver: i64,
    /// Redelivery delays, nanoseconds; the first one replaces `ack_wait`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub backoff: Vec<i64>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub filter_subject: String,
    /// v2.10: several filters (not together with `filter_subject`).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub filter_subjects: Vec<String>,
    pub replay_policy: ReplayPolicy,
    /// Bits per second (push only).
    #[serde(
        rename = "rate_limit_bps",
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "null_default"
    )]
    pub rate_limit: u64,
    /// Ack sampling, `"<n>"` or `"<n>%"`.
    #[serde(
        rename = "sample_freq",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub sample_frequency: String,
    /// Pull only: most outstanding pull requests.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_ack_pending: i64,
    /// Push only, nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub idle_heartbeat: i64,
    /// Push only; needs `idle_heartbeat`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub headers_only: bool,
    /// Pull only: largest batch a pull request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_batch: i64,
    /// Pull only: longest `expires` a pull request may ask for, nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_expires: i64,
    /// Pull only: largest `max_bytes` a pull request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_bytes: i64,
    /// Set for a push consumer: where messages are delivered.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub deliver_subject: String,
    /// Queue group of the push subscribers (nats-server accepts it on pull consumers too).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub deliver_group: String,
    /// Nanoseconds without interest after which the consumer is deleted.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub inactive_threshold: i64,
    /// Always written; 0 (inherit the stream's) unless set.
    #[serde(deserialize_with = "null_default")]
    pub num_replicas: i64,
    #[serde(
        rename = "mem_storage",
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub memory_storage: bool,
    /// Internal (mirror/source) consumers: not counted, not listed.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub direct: bool,
    /// v2.10: free-form; keys come out sorted, as Go writes maps.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub metadata: BTreeMap<String, String>,
    /// v2.11: no deliveries before this time. Accepted and echoed; a create or update of an
    /// existing consumer keeps the existing value (v2.11's `CONSUMER.PAUSE` changes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
}

object_only_serde!(ConsumerConfig);

/// Server- and account-wide limits that shape consumer defaults and checks (nats-server's
/// `JSLimitOpts` and `JetStreamAccountLimits`). Zero or negative means no limit; `Default` has
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitOpts {
    /// Server `max_ack_pending` (default lowered to it; larger refused with 10121).
    pub max_ack_pending: i64,
    /// Server `max_request_batch` (pull `max_batch` default; larger refused with 10125).
    pub max_request_batch: i64,
    /// Account `max_ack_pending` (like the server's).
    pub account_max_ack_pending: i64,
    /// Account `max_consumers` (when lower than the stream's, or the stream has none).
    pub account_max_consumers: i64,
}

impl ConsumerConfig {
    /// A durable pull consumer with explicit acks (everything else unset).
    pub fn durable_pull(name: impl Into<String>) -> Self {
        ConsumerConfig {
            durable_name: name.into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }
    }

    /// Has a durable name (nats-server's `isDurableConsumer`). Everything else is ephemeral,
    /// named or not, and gets an `inactive_threshold`.
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// No deliver subject: served by `CONSUMER.MSG.NEXT` pull requests.
    pub fn is_pull(&self) -> bool {
        self.deliver_subject.is_empty()
    }

    /// Has a deliver subject.
    pub fn is_push(&self) -> bool {
        !self.is_pull()
    }

    /// Ack policy `explicit` or `all`.
    pub fn needs_acks(&self) -> bool {
        self.ack_policy != AckPolicy::None
    }

    /// All filter subjects (nats-server's `gatherSubjectFilters`): `filter_subjects`, then
    /// `filter_subject` if set. Empty means every subject of the stream.
    pub fn subject_filters(&self) -> Vec<String> {
        let mut v = self.filter_subjects.clone();
        if !self.filter_subject.is_empty() {
            v.push(self.filter_subject.clone());
        }
        v
    }

    /// The defaults nats-server fills in (`setConsumerConfigDefaults`) with no server or
    /// account limits: see [`with_defaults_limited`](Self::with_defaults_limited).
    pub fn with_defaults(&self, stream: &StreamConfig) -> ConsumerConfig {
        self.with_defaults_limited(stream, &LimitOpts::default())
    }

    /// nats-server's `setConsumerConfigDefaults`, in its order: a pull consumer's
    /// `max_waiting` 512; `ack_wait` 30 s for ack `explicit`/`all`; `max_deliver` -1; a
    /// `backoff` overrides `ack_wait` with its first value; unset `max_ack_pending` and
    /// `inactive_threshold` from the stream's `consumer_limits`; then for ack
    /// `explicit`/`all` a still unset `max_ack_pending` 1000 (or the server's or account's
    /// limit if lower); a pull consumer's unset `max_batch` from the server limit. Idempotent.
    /// (The 5 s `inactive_threshold` of ephemerals is stamped later, on creation: see
    /// [`plan_create`].)
    pub fn with_defaults_limited(&self, stream: &StreamConfig, limits: &LimitOpts) -> Self {
        let mut cfg = self.clone();
        if cfg.deliver_subject.is_empty() && cfg.max_waiting == 0 {
            cfg.max_waiting = DEFAULT_MAX_WAITING;
        }
        if cfg.ack_wait == 0 && cfg.needs_acks() {
            cfg.ack_wait = DEFAULT_ACK_WAIT_NS;
        }
        if cfg.max_deliver == 0 {
            cfg.max_deliver = -1;
        }
        if let Some(first) = cfg.backoff.first() {
            cfg.ack_wait = *first;
        }
        if cfg.max_ack_pending == 0 {
            cfg.max_ack_pending = stream.consumer_limits.max_ack_pending;
        }
        if cfg.inactive_threshold == 0 {
            cfg.inactive_threshold = stream.consumer_limits.inactive_threshold;
        }
        if cfg.needs_acks() && cfg.max_ack_pending == 0 {
            let mut pending = DEFAULT_MAX_ACK_PENDING;
            for lim in [limits.max_ack_pending, limits.account_max_ack_pending] {
                if lim > 0 && lim < pending {
                    pending = lim;
                }
            }
            cfg.max_ack_pending = pending;
        }
        if cfg.deliver_subject.is_empty() && cfg.max_batch == 0 && limits.max_request_batch > 0 {
            cfg.max_batch = limits.max_request_batch;
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_exact() {
        assert_eq!(DeliverPolicy::parse("undefined"), Some(DeliverPolicy::All));
        assert_eq!(DeliverPolicy::parse("All"), None);
        assert_eq!(
            ConsumerAction::parse(""),
            Some(ConsumerAction::CreateOrUpdate)
        );
        assert!(serde_json::from_str::<AckPolicy>("null").is_err());
        assert_eq!(
            serde_json::to_string(&ReplayPolicy::Original).unwrap(),
            "\"original\""
        );
    }
}
