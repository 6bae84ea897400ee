//! Request and response bodies of the `$JS.API.CONSUMER.*` endpoints and pull requests, as
//! nats-server v2.10 writes and reads them.
//!
//! Like the stream endpoints ([`crate::api::types`]), every response carries `"type"` (one of
//! [`consumer_response_type`]) and, on failure, `"error"`, and implements [`ApiResponse`]
//! (whose `from_error` is the exact error form of that endpoint). Quirks, all seen on
//! nats-server: CONSUMER.NAMES and CONSUMER.LIST always carry `total`/`offset`/`limit` and an
//! array `consumers` (`[]` when empty, unlike STREAM.NAMES's `null`), also on errors; create and
//! info errors are just `type` and `error`; a single server's `ConsumerInfo` has no `cluster`.
//!
//! The consumer config itself is [`ConsumerConfig`] ([`crate::consumer::config`]).

use crate::api::errors::ApiError;
use crate::api::types::{
    impl_response, ApiPaged, ApiResponse, ClusterInfo, LIST_LIMIT, NAMES_LIMIT,
};
use crate::consumer::config::{object_only_serde, ConsumerAction, ConsumerConfig};
use crate::serde_util::{is_false, is_zero_i64, null_default, paging_offset};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `type` of each consumer response.
pub mod consumer_response_type {
    pub const CONSUMER_CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
    pub const CONSUMER_INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
    pub const CONSUMER_DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
    pub const CONSUMER_NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
    pub const CONSUMER_LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
}

/// Consumer API subjects (nats-server's `JSApi*` constants): the first `*` is the stream, the
/// second the consumer.
pub mod consumer_subjects {
    /// Legacy ephemeral create: `$JS.API.CONSUMER.CREATE.<stream>`.
    pub const CONSUMER_CREATE: &str = "$JS.API.CONSUMER.CREATE.*";
    /// Named create (v2.9+): `$JS.API.CONSUMER.CREATE.<stream>.<consumer>[.<filter>]`; the
    /// filter may have any number of tokens.
    pub const CONSUMER_CREATE_EX: &str = "$JS.API.CONSUMER.CREATE.*.>";
    /// Legacy durable create: `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    pub const CONSUMER_DURABLE_CREATE: &str = "$JS.API.CONSUMER.DURABLE.CREATE.*.*";
    pub const CONSUMER_NAMES: &str = "$JS.API.CONSUMER.NAMES.*";
    pub const CONSUMER_LIST: &str = "$JS.API.CONSUMER.LIST.*";
    pub const CONSUMER_INFO: &str = "$JS.API.CONSUMER.INFO.*.*";
    pub const CONSUMER_DELETE: &str = "$JS.API.CONSUMER.DELETE.*.*";
    /// Pull request: `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`, body a [`super::PullRequest`].
    pub const CONSUMER_MSG_NEXT: &str = "$JS.API.CONSUMER.MSG.NEXT.*.*";
    /// Prefix of the reply subjects of delivered messages (see
    /// `crate::consumer::ack_subject`).
    pub const ACK_PREFIX: &str = "$JS.ACK";
}

/// Headers of pull answers (nats-server's `JSPullRequestPending*`).
pub mod pull_headers {
    pub const PENDING_MESSAGES: &str = "Nats-Pending-Messages";
    pub const PENDING_BYTES: &str = "Nats-Pending-Bytes";
}

/// nats-server's `tokenAt`: the `index`th (1-based) `.`-separated token of `subject`, or `""`.
/// For `$JS.API.CONSUMER.INFO.<stream>.<consumer>` (and DELETE) the stream is token 5 and the
/// consumer token 6; for `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` they are 6 and 7;
/// NAMES and LIST have the stream at 5.
pub fn token_at(subject: &str, index: usize) -> &str {
    index
        .checked_sub(1)
        .and_then(|i| subject.split('.').nth(i))
        .unwrap_or("")
}

// --- ConsumerInfo ----------------------------------------------------------------------------

/// A consumer and stream sequence pair with the last activity (Go's `SequenceInfo`):
/// `delivered` is the last delivered, `ack_floor` the highest with everything below acked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    /// Left out until something was delivered (acked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

/// A consumer's info (Go's `ConsumerInfo`), as create, info and list answers carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerInfo {
    pub stream_name: String,
    pub name: String,
    pub created: Timestamp,
    pub config: ConsumerConfig,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
    /// Messages matching the filters not yet delivered.
    pub num_pending: u64,
    /// Clustered servers only: nats-server leaves it out on a single server (unlike
    /// STREAM.INFO's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// A push consumer with a subscriber on its deliver subject.
    #[serde(default, skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// v2.11: `pause_until` is in the future.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// v2.11: nanoseconds until `pause_until`.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// v2.10: when the info was taken (always written).
    #[serde(default)]
    pub ts: Timestamp,
}

impl ConsumerInfo {
    /// The info of a consumer that has delivered nothing yet, taken now.
    pub fn new(
        stream_name: impl Into<String>,
        name: impl Into<String>,
        created: Timestamp,
        config: ConsumerConfig,
    ) -> Self {
        ConsumerInfo {
            stream_name: stream_name.into(),
            name: name.into(),
            created,
            config,
            ts: Timestamp::now(),
            ..Default::default()
        }
    }
}

// --- CONSUMER.CREATE -------------------------------------------------------------------------

/// Which create endpoint an API subject addresses, with the names in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerCreateSubject {
    /// `$JS.API.CONSUMER.CREATE.<stream>`: an ephemeral (name from the body, or generated).
    Ephemeral { stream: String },
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable { stream: String, durable: String },
    /// `$JS.API.CONSUMER.CREATE.<stream>.<consumer>[.<filter>]` (v2.9+): the name in the
    /// subject wins over the body's; a filter must equal the body's `filter_subject`.
    Named {
        stream: String,
        consumer: String,
        filter: Option<String>,
    },
}

impl ConsumerCreateSubject {
    /// Parses a create API subject: `$JS.API.CONSUMER.CREATE.<stream>`,
    /// `$JS.API.CONSUMER.CREATE.<stream>.<consumer>[.<filter>...]` or
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>` (exactly). `None` for anything
    /// else: nats-server has no create endpoint there (v2.10 answers 10003, v2.9 nothing; 10016
    /// is never sent by a single server).
    pub fn parse(subject: &str) -> Option<Self> {
        let tokens: Vec<&str> = subject.split('.').collect();
        match tokens[..] {
            ["$JS", "API", "CONSUMER", "DURABLE", "CREATE", stream, durable] => {
                Some(ConsumerCreateSubject::Durable {
                    stream: stream.to_owned(),
                    durable: durable.to_owned(),
                })
            }
            ["$JS", "API", "CONSUMER", "CREATE", stream] => {
                Some(ConsumerCreateSubject::Ephemeral {
                    stream: stream.to_owned(),
                })
            }
            ["$JS", "API", "CONSUMER", "CREATE", stream, consumer, ref filter @ ..] => {
                Some(ConsumerCreateSubject::Named {
                    stream: stream.to_owned(),
                    consumer: consumer.to_owned(),
                    filter: (!filter.is_empty()).then(|| filter.join(".")),
                })
            }
            _ => None,
        }
    }

    /// The stream named in the subject.
    pub fn stream(&self) -> &str {
        match self {
            ConsumerCreateSubject::Ephemeral { stream }
            | ConsumerCreateSubject::Durable { stream, .. }
            | ConsumerCreateSubject::Named { stream, .. } => stream,
        }
    }
}

/// `$JS.API.CONSUMER.CREATE.*` / `DURABLE.CREATE` request (Go's `CreateConsumerRequest`):
/// `{"stream_name":"S","config":{..},"action":""}`. A body that is not JSON (empty included),
/// or a bad `action`, is 10025 via [`crate::api::types::parse_request`]; `null` and a missing
/// or `null` `config` give the zero config, as in Go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct CreateConsumerRequest {
    #[serde(deserialize_with = "null_default")]
    pub stream_name: String,
    #[serde(deserialize_with = "null_default")]
    pub config: ConsumerConfig,
    /// v2.10 (v2.9 ignores it).
    pub action: ConsumerAction,
}

object_only_serde!(CreateConsumerRequest);

impl CreateConsumerRequest {
    /// A request for `config` on `stream`.
    pub fn new(stream: impl Into<String>, config: ConsumerConfig, action: ConsumerAction) -> Self {
        CreateConsumerRequest {
            stream_name: stream.into(),
            config,
            action,
        }
    }

    /// The create handler's checks of the request against its subject, in nats-server's
    /// order, giving the config to go on with (a named create takes the subject's name):
    /// stream name differs 10056; `/` or `\` in the subject's consumer name 10127; DURABLE:
    /// no durable name 10018, a different one 10017; named: a different durable name 10017;
    /// legacy ephemeral with a durable name 10020; a filter in the subject with
    /// `filter_subjects` 10137, or different from `filter_subject` (missing included) 10131;
    /// `num_replicas` > 1 10074 (single server). Then the caller looks the stream up (10059)
    /// and calls [`crate::consumer::config::plan_create`].
    pub fn resolve(&self, subject: &ConsumerCreateSubject) -> Result<ConsumerConfig, ApiError> {
        let mut cfg = self.config.clone();
        if subject.stream() != self.stream_name {
            return Err(ApiError::stream_mismatch());
        }
        let consumer = match subject {
            ConsumerCreateSubject::Durable { durable, .. } => Some(durable),
            ConsumerCreateSubject::Named { consumer, .. } => Some(consumer),
            ConsumerCreateSubject::Ephemeral { .. } => None,
        };
        if consumer.is_some_and(|c| c.contains(['/', '\\'])) {
            return Err(ApiError::consumer_name_contains_path_separators());
        }
        let mut filter = None;
        match subject {
            ConsumerCreateSubject::Durable { durable, .. } => {
                if cfg.durable_name.is_empty() {
                    return Err(ApiError::consumer_durable_name_not_set());
                }
                if *durable != cfg.durable_name {
                    return Err(ApiError::consumer_durable_name_not_match_subject());
                }
            }
            ConsumerCreateSubject::Named {
                consumer,
                filter: f,
                ..
            } => {
                if !cfg.durable_name.is_empty() && *consumer != cfg.durable_name {
                    return Err(ApiError::consumer_durable_name_not_match_subject());
                }
                cfg.name = consumer.clone();
                filter = f.as_deref();
            }
            ConsumerCreateSubject::Ephemeral { .. } => {
                if !cfg.durable_name.is_empty() {
                    return Err(ApiError::consumer_ephemeral_with_durable_name());
                }
            }
        }
        if let Some(f) = filter.filter(|f| !f.is_empty()) {
            if !cfg.filter_subjects.is_empty() {
                return Err(ApiError::consumer_multiple_filters_not_allowed());
            }
            if cfg.filter_subject != f {
                return Err(ApiError::consumer_create_filter_subject_mismatch());
            }
        }
        if cfg.num_replicas > 1 {
            return Err(ApiError::stream_replicas_not_supported());
        }
        Ok(cfg)
    }
}

/// `$JS.API.CONSUMER.CREATE.*` / `DURABLE.CREATE` answer: the consumer's info (also when it
/// existed already and was updated, or unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerCreateResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<ConsumerInfo>,
}

impl_response!(
    ConsumerCreateResponse,
    consumer_response_type::CONSUMER_CREATE
);

impl ConsumerCreateResponse {
    pub fn new(info: ConsumerInfo) -> Self {
        ConsumerCreateResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            info: Some(info),
        }
    }
}

// --- CONSUMER.INFO / DELETE ------------------------------------------------------------------

/// `$JS.API.CONSUMER.INFO.<stream>.<consumer>` answer. The request must be empty
/// ([`crate::api::types::is_empty_request`]: `{}` passes), else 10038; unknown stream 10059,
/// unknown consumer 10014.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerInfoResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<ConsumerInfo>,
}

impl_response!(ConsumerInfoResponse, consumer_response_type::CONSUMER_INFO);

impl ConsumerInfoResponse {
    pub fn new(info: ConsumerInfo) -> Self {
        ConsumerInfoResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            info: Some(info),
        }
    }
}

/// `$JS.API.CONSUMER.DELETE.<stream>.<consumer>` answer: `{"success":true}`. The request must
/// be empty (10038, checked before the stream: 10059, and the consumer: 10014).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerDeleteResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl_response!(
    ConsumerDeleteResponse,
    consumer_response_type::CONSUMER_DELETE
);

impl ConsumerDeleteResponse {
    pub fn success() -> Self {
        ConsumerDeleteResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            success: true,
        }
    }
}

// --- CONSUMER.NAMES / LIST -------------------------------------------------------------------

/// `$JS.API.CONSUMER.NAMES.<stream>` and `LIST` request (Go's `JSApiConsumersRequest`),
/// optional body ([`crate::api::types::parse_optional_request`]; bad JSON 10025).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerNamesRequest {
    #[serde(deserialize_with = "paging_offset")]
    pub offset: usize,
}

/// `$JS.API.CONSUMER.LIST.<stream>` request: the same as NAMES.
pub type ConsumerListRequest = ConsumerNamesRequest;

/// `$JS.API.CONSUMER.NAMES.<stream>` answer: names sorted, `limit` [`NAMES_LIMIT`],
/// `consumers` always an array. Direct consumers are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerNamesResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub paged: ApiPaged,
    #[serde(default, deserialize_with = "null_default")]
    pub consumers: Vec<String>,
}

impl_response!(
    ConsumerNamesResponse,
    consumer_response_type::CONSUMER_NAMES
);

impl ConsumerNamesResponse {
    /// The page of `all` (sorted here) from `offset` (clamped to the count), at most
    /// [`NAMES_LIMIT`] names; `total` is the count of `all`.
    pub fn page(mut all: Vec<String>, offset: usize) -> Self {
        all.sort();
        let (paged, consumers) = ApiPaged::page(all, offset, NAMES_LIMIT);
        ConsumerNamesResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged,
            consumers,
        }
    }
}

/// `$JS.API.CONSUMER.LIST.<stream>` answer: infos sorted by name, `limit` [`LIST_LIMIT`],
/// `consumers` always an array; `missing` (clustered only) names consumers that did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerListResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub paged: ApiPaged,
    #[serde(default, deserialize_with = "null_default")]
    pub consumers: Vec<ConsumerInfo>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub missing: Vec<String>,
}

impl_response!(ConsumerListResponse, consumer_response_type::CONSUMER_LIST);

impl ConsumerListResponse {
    /// The page of `all` (sorted here by name) from `offset` (clamped), at most
    /// [`LIST_LIMIT`] infos.
    pub fn page(mut all: Vec<ConsumerInfo>, offset: usize) -> Self {
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let (paged, consumers) = ApiPaged::page(all, offset, LIST_LIMIT);
        ConsumerListResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged,
            consumers,
            missing: Vec::new(),
        }
    }
}

// --- CONSUMER.MSG.NEXT -----------------------------------------------------------------------

/// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`, or the body after `+NXT`
/// in an ack), Go's `JSApiConsumerGetNextRequest`. Integers as Go's `int` (a client may send
/// nonsense such as a negative batch: it is passed on).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PullRequest {
    /// Nanoseconds the request stays open; 0 is no expiry.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub expires: i64,
    /// Messages asked for. 0 when a JSON body leaves it out (nats-server takes it as is).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub batch: i64,
    /// Most payload bytes to deliver; 0 is no limit.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_bytes: i64,
    /// Answer `404 No Messages` at once rather than wait (with `expires`: wait, but end the
    /// request as soon as anything was delivered).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub no_wait: bool,
    /// Nanoseconds between `100 Idle Heartbeat` statuses while the request waits.
    #[serde(
        rename = "idle_heartbeat",
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "null_default"
    )]
    pub idle_heartbeat: i64,
}

/// Why a pull request body was refused. nats-server answers it with the status
/// `400 Bad Request - <text>` ([`PullRequestError::status_description`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullRequestError {
    /// The body started with `{` but is not a valid request. The text is serde's, not Go's
    /// (`json: cannot unmarshal ...`).
    #[error("{0}")]
    InvalidJson(String),
    /// `idle_heartbeat` more than half of `expires` (or with no `expires`).
    #[error("heartbeat value too large")]
    HeartbeatTooLarge,
}

impl PullRequestError {
    /// The description of the 400 status nats-server sends back: `Bad Request - <error>`.
    pub fn status_description(&self) -> String {
        format!("Bad Request - {self}")
    }
}

impl PullRequest {
    /// A request for `batch` messages, nothing else set.
    pub fn batch(batch: i64) -> Self {
        PullRequest {
            batch,
            ..Default::default()
        }
    }

    /// Reads a pull request body as nats-server's `nextReqFromMsg` does, after trimming
    /// whitespace: empty is batch 1; starting with `{` it must be a JSON request (with
    /// `idle_heartbeat` at most half of `expires`); otherwise a decimal number is the batch,
    /// and anything else is batch 1.
    pub fn parse(body: &[u8]) -> Result<PullRequest, PullRequestError> {
        let body = body.trim_ascii();
        if body.first() == Some(&b'{') {
            let req: PullRequest = serde_json::from_slice(body)
                .map_err(|e| PullRequestError::InvalidJson(e.to_string()))?;
            if req.idle_heartbeat > 0 && req.idle_heartbeat.saturating_mul(2) > req.expires {
                return Err(PullRequestError::HeartbeatTooLarge);
            }
            return Ok(req);
        }
        let batch = std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(1);
        Ok(PullRequest::batch(batch))
    }

    /// Compact JSON, as a client sends it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("pull requests always serialise")
    }
}

/// The header-only status messages a consumer sends: to a pull request's reply subject (the
/// answers to MSG.NEXT that are not messages), and heartbeats / flow control on a push
/// consumer's deliver subject. nats-server builds these by hand; [`ConsumerStatus::to_bytes`]
/// gives the same bytes. Sent with an empty payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerStatus {
    /// `404 No Messages`: a `no_wait` request with nothing pending.
    NoMessages,
    /// `408 Request Timeout`, with what was left of the request.
    RequestTimeout {
        pending_msgs: i64,
        pending_bytes: i64,
    },
    /// `408 Requests Pending`: a `no_wait` request while others wait for what is pending.
    RequestsPending,
    /// `408 Interest Expired`, with what was left of the request.
    InterestExpired {
        pending_msgs: i64,
        pending_bytes: i64,
    },
    /// `400 Bad Request - <error>`: see [`PullRequestError`].
    BadRequest(String),
    /// `409 Consumer is push based`: a pull request to a push consumer.
    ConsumerIsPushBased,
    /// `409 Exceeded MaxWaiting`.
    ExceededMaxWaiting,
    /// `409 Exceeded MaxRequestBatch of <max_batch>`.
    ExceededMaxRequestBatch(i64),
    /// `409 Exceeded MaxRequestExpires of <max_expires as a Go duration>` (e.g. `1m0s`).
    ExceededMaxRequestExpires(i64),
    /// `409 Exceeded MaxRequestMaxBytes of <max_bytes>`.
    ExceededMaxRequestMaxBytes(i64),
    /// `409 Message Size Exceeds MaxBytes`, with what was left of the request.
    MessageSizeExceedsMaxBytes {
        pending_msgs: i64,
        pending_bytes: i64,
    },
    /// `409 Batch Completed`, with the bytes left when the batch count ran out first.
    BatchCompleted {
        pending_msgs: i64,
        pending_bytes: i64,
    },
    /// `409 Consumer Deleted`.
    ConsumerDeleted,
    /// `409 Leadership Change`.
    LeadershipChange,
    /// `100 Idle Heartbeat` with `Nats-Last-Consumer` and `Nats-Last-Stream`, and
    /// `Nats-Consumer-Stalled: <flow control reply>` while stalled on flow control.
    IdleHeartbeat {
        last_consumer_seq: u64,
        last_stream_seq: u64,
        stalled: Option<String>,
    },
    /// `100 FlowControl Request` (sent with a reply subject the subscriber must answer).
    FlowControlRequest,
}

impl ConsumerStatus {
    /// The status code.
    pub fn code(&self) -> u16 {
        use ConsumerStatus::*;
        match self {
            IdleHeartbeat { .. } | FlowControlRequest => 100,
            BadRequest(_) => 400,
            NoMessages => 404,
            RequestTimeout { .. } | RequestsPending | InterestExpired { .. } => 408,
            _ => 409,
        }
    }

    /// The status description.
    pub fn description(&self) -> String {
        use ConsumerStatus::*;
        match self {
            NoMessages => "No Messages".into(),
            RequestTimeout { .. } => "Request Timeout".into(),
            RequestsPending => "Requests Pending".into(),
            InterestExpired { .. } => "Interest Expired".into(),
            BadRequest(e) => format!("Bad Request - {e}"),
            ConsumerIsPushBased => "Consumer is push based".into(),
            ExceededMaxWaiting => "Exceeded MaxWaiting".into(),
            ExceededMaxRequestBatch(n) => format!("Exceeded MaxRequestBatch of {n}"),
            ExceededMaxRequestExpires(ns) => format!(
                "Exceeded MaxRequestExpires of {}",
                crate::consumer::config::GoDuration(*ns)
            ),
            ExceededMaxRequestMaxBytes(n) => format!("Exceeded MaxRequestMaxBytes of {n}"),
            MessageSizeExceedsMaxBytes { .. } => "Message Size Exceeds MaxBytes".into(),
            BatchCompleted { .. } => "Batch Completed".into(),
            ConsumerDeleted => "Consumer Deleted".into(),
            LeadershipChange => "Leadership Change".into(),
            IdleHeartbeat { .. } => "Idle Heartbeat".into(),
            FlowControlRequest => "FlowControl Request".into(),
        }
    }

    /// The header block, byte for byte as nats-server sends it
    /// (`NATS/1.0 409 Exceeded MaxRequestBatch of 5\r\n\r\n`).
    pub fn to_bytes(&self) -> Vec<u8> {
        use ConsumerStatus::*;
        let mut out = format!("NATS/1.0 {} {}\r\n", self.code(), self.description());
        match self {
            RequestTimeout {
                pending_msgs,
                pending_bytes,
            }
            | InterestExpired {
                pending_msgs,
                pending_bytes,
            }
            | MessageSizeExceedsMaxBytes {
                pending_msgs,
                pending_bytes,
            }
            | BatchCompleted {
                pending_msgs,
                pending_bytes,
            } => {
                out.push_str(&format!(
                    "{}: {pending_msgs}\r\n{}: {pending_bytes}\r\n",
                    pull_headers::PENDING_MESSAGES,
                    pull_headers::PENDING_BYTES
                ));
            }
            IdleHeartbeat {
                last_consumer_seq,
                last_stream_seq,
                stalled,
            } => {
                out.push_str(&format!(
                    "Nats-Last-Consumer: {last_consumer_seq}\r\nNats-Last-Stream: {last_stream_seq}\r\n"
                ));
                if let Some(fc) = stalled {
                    out.push_str(&format!("Nats-Consumer-Stalled: {fc}\r\n"));
                }
            }
            _ => {}
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}
