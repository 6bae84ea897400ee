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

/// A Go `time.Duration` in nanoseconds, displayed as Go's `Duration.String()` does (`1m0s`,
/// `1.5s`, `500ms`, `2µs`, `0s`): the text nats-server puts in errors and pull statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoDuration(pub i64);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `v / 10^prec` split into integer part and `.fraction` with trailing zeros trimmed.
        fn split(v: u64, prec: u32) -> (u64, String) {
            let p = 10u64.pow(prec);
            let frac = v % p;
            if frac == 0 {
                return (v / p, String::new());
            }
            let digits = format!("{frac:0width$}", width = prec as usize);
            (v / p, format!(".{}", digits.trim_end_matches('0')))
        }
        let ns = self.0;
        let u = ns.unsigned_abs();
        if ns < 0 {
            f.write_str("-")?;
        }
        if u < 1_000_000_000 {
            let (unit, prec) = match u {
                0 => return f.write_str("0s"),
                1..=999 => ("ns", 0),
                1_000..=999_999 => ("µs", 3),
                _ => ("ms", 6),
            };
            let (int, frac) = split(u, prec);
            return write!(f, "{int}{frac}{unit}");
        }
        let (secs, frac) = split(u, 9);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h{m}m{s}{frac}s")
        } else if m > 0 {
            write!(f, "{m}m{s}{frac}s")
        } else {
            write!(f, "{s}{frac}s")
        }
    }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units `ns`, `us`, `µs`,
/// `μs`, `ms`, `s`, `m`, `h` (e.g. `1.5s`, `1h2m`, `-3ms`), or `0`. `None` if not a duration or
/// out of `i64` nanoseconds. Used for `-NAK <duration>` ack payloads.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        // Integer part.
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..int_len] {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            if v > LIMIT {
                return None;
            }
        }
        rest = &rest[int_len..];
        // Fraction.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in after[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                f = f * 10 + u64::from(c - b'0');
                scale *= 10.0;
            }
            post = frac_len > 0;
            rest = &after[frac_len..];
        }
        if int_len == 0 && !post {
            return None;
        }
        // Unit.
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return None;
        }
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).ok()
}

/// nats-server's `subjectIsLiteral`: no token is exactly `*` or `>`.
fn subject_is_literal(subject: &str) -> bool {
    subject.split('.').all(|t| t != "*" && t != ">")
}

/// Go's `strconv.Atoi` error text for `s` (`strconv.Atoi: parsing "abc": invalid syntax`).
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}

/// The sampling percentage of a `sample_freq` (`"50%"` or `"50"`), as nats-server reads it.
pub fn parse_sample_frequency(sample_freq: &str) -> Result<i64, ApiError> {
    let s = sample_freq.strip_suffix('%').unwrap_or(sample_freq);
    match atoi(s) {
        Ok(n) if n >= 0 => Ok(n),
        // A negative number is refused with Go's nil error, printed as `<nil>`.
        Ok(_) => Err(ApiError::consumer_invalid_sampling("<nil>")),
        Err(e) => Err(ApiError::consumer_invalid_sampling(e)),
    }
}

fn invalid_policy(text: String) -> ApiError {
    ApiError::consumer_invalid_policy(text)
}

fn bad_start(dp: &str, start: &str) -> ApiError {
    invalid_policy(format!(
        "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
    ))
}

fn not_set(dp: &str, what: &str) -> ApiError {
    invalid_policy(format!(
        "consumer delivery policy is deliver {dp}, but optional {what} is not set"
    ))
}

/// True if every subject in `filters` is unique among the other consumers' filters (nats-server's
/// `partitionUnique`, for work-queue streams): no other consumer is unfiltered, and none of its
/// filters collides with one of these. Consumers named `name` are skipped. Trivially true for no
/// filters.
pub fn filters_unique(name: &str, filters: &[String], others: &[ExistingConsumer<'_>]) -> bool {
    filters.iter().all(|partition| {
        others.iter().filter(|o| o.name != name).all(|o| {
            let theirs = o.config.subject_filters();
            !theirs.is_empty() && !theirs.iter().any(|f| subjects_collide(partition, f))
        })
    })
}

/// A random consumer name for an unnamed ephemeral: 8 characters of `[A-Za-z0-9]` (nats-server
/// uses 8 characters of a hash; clients treat the name as opaque).
pub fn generate_consumer_name() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
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

    /// nats-server's `checkConsumerCfg` on this (already defaulted) config for a consumer of
    /// `stream` (its normalised config): the first failure in nats-server's order (see the
    /// Consumers section of protocol-spec/jetstream-api.md for the list).
    pub fn check(&self, stream: &StreamConfig, limits: &LimitOpts) -> Result<(), ApiError> {
        let c = self;
        if c.num_replicas > 0 && c.num_replicas > stream.num_replicas {
            return Err(ApiError::consumer_replicas_exceeds_stream());
        }
        if c.num_replicas < 0 {
            return Err(ApiError::replicas_count_cannot_be_negative());
        }
        if matches!(
            stream.retention,
            RetentionPolicy::Interest | RetentionPolicy::WorkQueue
        ) && c.num_replicas != 0
            && c.num_replicas != stream.num_replicas
        {
            return Err(ApiError::consumer_replicas_should_match_stream());
        }
        let nbo = c.backoff.len() as i64;
        if nbo > 0 && c.max_deliver != -1 && nbo > c.max_deliver {
            return Err(ApiError::consumer_max_deliver_backoff());
        }
        if c.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::consumer_description_too_long(MAX_DESCRIPTION_LEN));
        }

        if c.is_push() {
            if !subject_is_literal(&c.deliver_subject) {
                return Err(ApiError::consumer_deliver_to_wildcards());
            }
            if !is_valid_subject(&c.deliver_subject) {
                return Err(ApiError::consumer_invalid_deliver_subject());
            }
            if stream
                .subjects
                .iter()
                .any(|s| subject_is_subset_match(&c.deliver_subject, s))
            {
                return Err(ApiError::consumer_deliver_cycle());
            }
            if c.max_waiting != 0 {
                return Err(ApiError::consumer_push_max_waiting());
            }
            if c.max_ack_pending > 0 && c.ack_policy == AckPolicy::None {
                return Err(ApiError::consumer_max_pending_ack_policy_required());
            }
            if c.idle_heartbeat > 0 && c.idle_heartbeat < MIN_IDLE_HEARTBEAT_NS {
                return Err(ApiError::consumer_small_heartbeat());
            }
        } else {
            if c.ack_policy == AckPolicy::None && stream.retention == RetentionPolicy::WorkQueue {
                return Err(ApiError::consumer_pull_requires_ack());
            }
            if c.rate_limit > 0 {
                return Err(ApiError::consumer_pull_with_rate_limit());
            }
            if c.max_waiting < 0 {
                return Err(ApiError::consumer_max_waiting_negative());
            }
            if c.idle_heartbeat > 0 {
                return Err(ApiError::consumer_hb_requires_push());
            }
            if c.flow_control {
                return Err(ApiError::consumer_fc_requires_push());
            }
            if c.max_batch < 0 {
                return Err(ApiError::consumer_max_request_batch_negative());
            }
            if c.max_expires != 0 && c.max_expires < MIN_MAX_EXPIRES_NS {
                return Err(ApiError::consumer_max_request_expires_too_small());
            }
            if limits.max_request_batch > 0 && c.max_batch > limits.max_request_batch {
                return Err(ApiError::consumer_max_request_batch_exceeded(
                    limits.max_request_batch,
                ));
            }
        }
        for lim in [
            limits.max_ack_pending,
            limits.account_max_ack_pending,
            stream.consumer_limits.max_ack_pending,
        ] {
            if lim > 0 && c.max_ack_pending > lim {
                return Err(ApiError::consumer_max_pending_ack_excess(lim));
            }
        }
        let it_limit = stream.consumer_limits.inactive_threshold;
        if it_limit > 0 && c.inactive_threshold > it_limit {
            return Err(ApiError::consumer_inactive_threshold_excess(GoDuration(
                it_limit,
            )));
        }

        if c.direct {
            if c.is_pull() {
                return Err(ApiError::consumer_direct_requires_push());
            }
            if c.is_durable() {
                return Err(ApiError::consumer_direct_requires_ephemeral());
            }
        }

        if !c.filter_subject.is_empty() && !c.filter_subjects.is_empty() {
            return Err(ApiError::consumer_duplicate_filter_subjects());
        }
        if !c.filter_subject.is_empty() && !is_valid_subject(&c.filter_subject) {
            return Err(ApiError::stream_invalid_config("invalid subject"));
        }
        if c.filter_subjects.iter().any(String::is_empty) {
            return Err(ApiError::consumer_empty_filter());
        }
        let filters = c.subject_filters();
        for (i, f) in filters.iter().enumerate() {
            if !is_valid_subject(f) {
                return Err(ApiError::stream_invalid_config("invalid subject"));
            }
            if filters
                .iter()
                .enumerate()
                .any(|(j, g)| i != j && subjects_collide(f, g))
            {
                return Err(ApiError::consumer_overlapping_subject_filters());
            }
        }

        let (seq, time) = (c.opt_start_seq > 0, c.opt_start_time.is_some());
        match c.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                let dp = match c.deliver_policy {
                    DeliverPolicy::All => "all",
                    DeliverPolicy::Last => "last",
                    _ => "new",
                };
                if seq {
                    return Err(bad_start(dp, "sequence"));
                }
                if time {
                    return Err(bad_start(dp, "time"));
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return Err(bad_start("last per subject", "sequence"));
                }
                if time {
                    return Err(bad_start("last per subject", "time"));
                }
                if filters.is_empty() {
                    return Err(not_set("last per subject", "filter subject"));
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return Err(not_set("by start sequence", "start sequence"));
                }
                if time {
                    return Err(bad_start("by start sequence", "time"));
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return Err(not_set("by start time", "start time"));
                }
                if c.opt_start_seq != 0 {
                    // (sic) nats-server's text says "start start sequence".
                    return Err(bad_start("by start time", "start sequence"));
                }
            }
        }

        if !c.sample_frequency.is_empty() {
            parse_sample_frequency(&c.sample_frequency)?;
        }
        if c.flow_control && c.idle_heartbeat == 0 {
            return Err(ApiError::consumer_with_flow_control_needs_heartbeats());
        }
        if !c.durable_name.is_empty() && !c.name.is_empty() && c.name != c.durable_name {
            return Err(ApiError::consumer_create_durable_and_name_mismatch());
        }
        let metadata_len: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(ApiError::consumer_metadata_length(format!(
                "{}KB",
                MAX_METADATA_LEN / 1024
            )));
        }
        Ok(())
    }

    /// [`with_defaults_limited`](Self::with_defaults_limited) then [`check`](Self::check): the
    /// normalised config, or the first error.
    pub fn checked(&self, stream: &StreamConfig, limits: &LimitOpts) -> Result<Self, ApiError> {
        let cfg = self.with_defaults_limited(stream, limits);
        cfg.check(stream, limits)?;
        Ok(cfg)
    }

    /// nats-server's `checkNewConsumerConfig`: may the consumer whose config is `self` (as
    /// stored) take the normalised config `new`? `deliver_subject_has_interest` says whether
    /// `self`'s deliver subject has a subscriber now (a push consumer still bound).
    ///
    /// Refused (all 10012, code 500, unless noted), in this order: a different
    /// `deliver_policy` ("deliver policy can not be updated"), `opt_start_seq` ("start
    /// sequence ..."), `opt_start_time` ("start time ..."), `ack_policy` ("ack policy ..."),
    /// `replay_policy` ("replay policy ..."), `idle_heartbeat` ("heart beats ..."),
    /// `flow_control` ("flow control ..."); pull to push ("can not update pull consumer to push
    /// based"), push to pull ("can not update push consumer to pull based"), another deliver
    /// subject while the old one has interest (10013); `max_waiting` ("max waiting ..."); a
    /// `backoff` longer than `max_deliver` (10116). Everything else may change.
    pub fn check_update(
        &self,
        new: &ConsumerConfig,
        deliver_subject_has_interest: bool,
    ) -> Result<(), ApiError> {
        let (old, new) = (self, new);
        if old == new {
            return Ok(());
        }
        let refuse = |what: &str| Err(ApiError::consumer_create(what));
        if old.deliver_policy != new.deliver_policy {
            return refuse("deliver policy can not be updated");
        }
        if old.opt_start_seq != new.opt_start_seq {
            return refuse("start sequence can not be updated");
        }
        if old.opt_start_time != new.opt_start_time {
            return refuse("start time can not be updated");
        }
        if old.ack_policy != new.ack_policy {
            return refuse("ack policy can not be updated");
        }
        if old.replay_policy != new.replay_policy {
            return refuse("replay policy can not be updated");
        }
        if old.idle_heartbeat != new.idle_heartbeat {
            return refuse("heart beats can not be updated");
        }
        if old.flow_control != new.flow_control {
            return refuse("flow control can not be updated");
        }
        if old.deliver_subject != new.deliver_subject {
            if old.deliver_subject.is_empty() {
                return refuse("can not update pull consumer to push based");
            }
            if new.deliver_subject.is_empty() {
                return refuse("can not update push consumer to pull based");
            }
            if deliver_subject_has_interest {
                return Err(ApiError::consumer_name_exist());
            }
        }
        if old.max_waiting != new.max_waiting {
            return refuse("max waiting can not be updated");
        }
        let nbo = new.backoff.len() as i64;
        if nbo > 0 && new.max_deliver != -1 && nbo > new.max_deliver {
            return Err(ApiError::consumer_max_deliver_backoff());
        }
        Ok(())
    }

    /// The config as stored for a consumer that is `durable` (nats-server's
    /// `updateInactiveThreshold`): a non-durable consumer with no positive
    /// `inactive_threshold` gets [`DEFAULT_INACTIVE_THRESHOLD_NS`].
    fn stamped(mut self, durable: bool) -> Self {
        if !durable && self.inactive_threshold <= 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD_NS;
        }
        self
    }
}

/// A consumer already on the stream, as [`plan_create`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ExistingConsumer<'a> {
    pub name: &'a str,
    /// Its config as stored (and reported).
    pub config: &'a ConsumerConfig,
    /// A push consumer's deliver subject has a subscriber now.
    pub deliver_subject_has_interest: bool,
}

/// What a consumer create request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatePlan {
    /// Make a new consumer `name` with `config` (normalised, as it will be stored and
    /// reported: a non-durable one has its `inactive_threshold` stamped).
    Create {
        name: String,
        config: ConsumerConfig,
    },
    /// Give the existing consumer `name` this `config` (possibly the one it has: then the
    /// answer is just its info).
    Update {
        name: String,
        config: ConsumerConfig,
    },
}

/// nats-server's consumer create/update decision (`addConsumerWithAssignment` with
/// `updateConfig`, single server), after the API subject checks
/// ([`crate::api::consumer_types::CreateConsumerRequest::resolve`]):
///
/// 1. [`ConsumerConfig::checked`] (defaults, then every config check), with an existing
///    consumer's `pause_until` kept (v2.11);
/// 2. if a consumer of that name (durable name, else name) exists: action `create` with a
///    different normalised config 10148; on a work-queue stream, filters colliding with
///    another consumer's 10100; then [`ConsumerConfig::check_update`] → `Update`;
/// 3. action `update` with no such consumer 10149;
/// 4. `max_consumers` of the stream (or the account's, if lower or the stream has none)
///    reached, counting non-`direct` consumers, 10026;
/// 5. on a work-queue stream (not `direct`): ack policy not explicit 10098; with other
///    consumers, no filter 10099, or filters colliding 10100; deliver policy not `all` 10101;
/// 6. a durable name over 255 bytes 10102; the name (durable, else `name`, else one from
///    `new_name`, drawn until unused) not a valid name 10103 → `Create`.
pub fn plan_create(
    request: &ConsumerConfig,
    action: ConsumerAction,
    stream: &StreamConfig,
    limits: &LimitOpts,
    existing: &[ExistingConsumer<'_>],
    mut new_name: impl FnMut() -> String,
) -> Result<CreatePlan, ApiError> {
    let request_name = if request.is_durable() {
        &request.durable_name
    } else {
        &request.name
    };
    let mut request = request.clone();
    if let Some(eo) = existing.iter().find(|e| e.name == request_name.as_str()) {
        // v2.11: a create or update keeps the consumer's pause (CONSUMER.PAUSE changes it).
        request.pause_until = eo.config.pause_until;
    }
    let cfg = request.checked(stream, limits)?;
    let wq = stream.retention == RetentionPolicy::WorkQueue;
    let filters = cfg.subject_filters();
    let cname = if cfg.is_durable() {
        &cfg.durable_name
    } else {
        &cfg.name
    };

    if !cname.is_empty() {
        if let Some(eo) = existing.iter().find(|e| e.name == cname.as_str()) {
            if action == ConsumerAction::Create && cfg != *eo.config {
                return Err(ApiError::consumer_already_exists());
            }
            if wq && !filters_unique(cname, &filters, existing) {
                return Err(ApiError::consumer_wq_consumer_not_unique());
            }
            eo.config
                .check_update(&cfg, eo.deliver_subject_has_interest)?;
            let name = cname.clone();
            let config = cfg.stamped(eo.config.is_durable());
            return Ok(CreatePlan::Update { name, config });
        }
    }
    if action == ConsumerAction::Update {
        return Err(ApiError::consumer_does_not_exist());
    }

    let mut max = stream.max_consumers;
    let acc = limits.account_max_consumers;
    if max <= 0 || (acc > 0 && acc < max) {
        max = acc;
    }
    let public = existing.iter().filter(|e| !e.config.direct).count() as i64;
    if max > 0 && public >= max {
        return Err(ApiError::maximum_consumers_limit());
    }

    if wq && !cfg.direct {
        if cfg.ack_policy != AckPolicy::Explicit {
            return Err(ApiError::consumer_wq_requires_explicit_ack());
        }
        if !existing.is_empty() {
            if filters.is_empty() {
                return Err(ApiError::consumer_wq_multiple_unfiltered());
            }
            if !filters_unique(cname, &filters, existing) {
                return Err(ApiError::consumer_wq_consumer_not_unique());
            }
        }
        if cfg.deliver_policy != DeliverPolicy::All {
            return Err(ApiError::consumer_wq_consumer_not_deliver_all());
        }
    }

    let name = if cfg.is_durable() {
        if cfg.durable_name.len() > MAX_NAME_LEN {
            return Err(ApiError::consumer_name_too_long(MAX_NAME_LEN));
        }
        cfg.durable_name.clone()
    } else if !cfg.name.is_empty() {
        cfg.name.clone()
    } else {
        loop {
            let n = new_name();
            if !existing.iter().any(|e| e.name == n) {
                break n;
            }
        }
    };
    if !is_valid_name(&name) {
        return Err(ApiError::consumer_bad_durable_name());
    }
    let durable = cfg.is_durable();
    Ok(CreatePlan::Create {
        name,
        config: cfg.stamped(durable),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-5_000_000_000, "-5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(GoDuration(ns).to_string(), s);
        }
    }

    #[test]
    fn go_durations_parse() {
        for (s, ns) in [
            ("0", Some(0)),
            ("1s", Some(1_000_000_000)),
            ("1.5s", Some(1_500_000_000)),
            ("-3ms", Some(-3_000_000)),
            ("+2us", Some(2_000)),
            ("2µs", Some(2_000)),
            ("1h2m3s", Some(3_723_000_000_000)),
            (".5s", Some(500_000_000)),
            ("1.s", Some(1_000_000_000)),
            ("", None),
            ("1", None),
            ("s", None),
            (".s", None),
            ("1x", None),
            ("9999999999h", None),
        ] {
            assert_eq!(parse_go_duration(s), ns, "{s:?}");
        }
    }

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
