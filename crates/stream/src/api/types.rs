//! Request and response bodies of the `$JS.API` stream endpoints, publish acks and direct
//! gets, as nats-server v2.10 writes and reads them.
//!
//! Every response carries `"type"` (one of [`response_type`]) and, on failure, `"error"`
//! ([`ApiError`]). Field order and presence follow nats-server's Go structs, including their
//! quirks: STREAM.INFO answers always carry `total`/`offset`/`limit` (zeros unless subject
//! details were asked for), even with an error; a purge error still has `"purged":0`; an empty
//! STREAM.NAMES answer has `"streams":null`, an empty STREAM.LIST one `"streams":[]`.
//! Each response type implements [`ApiResponse`], whose `from_error` builds exactly the error
//! form nats-server sends for that endpoint.
//!
//! Byte slices (stored headers and payloads) are base64 (standard alphabet, padded), as Go's
//! `encoding/json` writes `[]byte`. Times are [`Timestamp`]s.

use crate::api::errors::ApiError;
use crate::config::StreamConfig;
use crate::time::Timestamp;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sluice_protocol::HeaderMap;
use std::collections::BTreeMap;

/// The `type` of each response.
pub mod response_type {
    pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
    pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
    pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
    pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
    pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
    pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
    pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
    pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
    pub const STREAM_MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
    pub const STREAM_MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
    /// Sent by nats-server when a request cannot be attributed to an endpoint's type.
    pub const SYSTEM: &str = "io.nats.jetstream.api.v1.system_response";
}

/// API subjects (nats-server's `JSApi*` constants); `*` is the stream name.
pub mod subjects {
    pub const API_PREFIX: &str = "$JS.API";
    pub const ACCOUNT_INFO: &str = "$JS.API.INFO";
    pub const STREAM_CREATE: &str = "$JS.API.STREAM.CREATE.*";
    pub const STREAM_UPDATE: &str = "$JS.API.STREAM.UPDATE.*";
    pub const STREAM_NAMES: &str = "$JS.API.STREAM.NAMES";
    pub const STREAM_LIST: &str = "$JS.API.STREAM.LIST";
    pub const STREAM_INFO: &str = "$JS.API.STREAM.INFO.*";
    pub const STREAM_DELETE: &str = "$JS.API.STREAM.DELETE.*";
    pub const STREAM_PURGE: &str = "$JS.API.STREAM.PURGE.*";
    pub const STREAM_MSG_GET: &str = "$JS.API.STREAM.MSG.GET.*";
    pub const STREAM_MSG_DELETE: &str = "$JS.API.STREAM.MSG.DELETE.*";
    /// Direct get with a JSON body ([`super::MsgGetRequest`]); served by the stream itself.
    pub const DIRECT_GET: &str = "$JS.API.DIRECT.GET.*";
    /// Direct get of the last message on a subject: `$JS.API.DIRECT.GET.<stream>.<subject>`,
    /// empty body.
    pub const DIRECT_GET_LAST_BY_SUBJECT: &str = "$JS.API.DIRECT.GET.*.>";
}

/// Headers JetStream adds to direct-get answers and republished messages (nats-server's
/// `JSStream`...; the headers a publisher sets are in `crate::headers`).
pub mod headers {
    pub const STREAM: &str = "Nats-Stream";
    pub const SUBJECT: &str = "Nats-Subject";
    pub const SEQUENCE: &str = "Nats-Sequence";
    pub const TIME_STAMP: &str = "Nats-Time-Stamp";
    pub const LAST_SEQUENCE: &str = "Nats-Last-Sequence";
}

/// Most names in one STREAM.NAMES page (`JSApiNamesLimit`).
pub const NAMES_LIMIT: usize = 1024;
/// Most infos in one STREAM.LIST page (`JSApiListLimit`).
pub const LIST_LIMIT: usize = 256;
/// Most subjects in one STREAM.INFO `subjects` map (`JSMaxSubjectDetails`).
pub const MAX_SUBJECT_DETAILS: usize = 100_000;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet, padded), as Go's encoding/json writes []byte.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard, padded base64 of `data`.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, &x) in idx.iter().enumerate() {
            if i <= chunk.len() {
                out.push(B64[x as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why base64 did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal base64 data at input byte {0}")]
pub struct Base64Error(pub usize);

/// Decodes standard, padded base64 as Go's `base64.StdEncoding` does (CR and LF ignored).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\r' && *c != b'\n')
        .collect();
    let partial = clean.len() % 4;
    if partial != 0 {
        return Err(Base64Error(clean.last().map_or(0, |(i, _)| *i)));
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let quads = clean.len() / 4;
    for (q, quad) in clean.chunks(4).enumerate() {
        let last = q + 1 == quads;
        let pads = quad.iter().rev().take_while(|(_, c)| *c == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return Err(Base64Error(quad[4 - pads].0));
        }
        let mut n = 0u32;
        for (k, &(pos, c)) in quad.iter().enumerate() {
            let v = if k >= 4 - pads {
                0
            } else {
                val(c).ok_or(Base64Error(pos))?
            };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pads]);
    }
    Ok(out)
}

/// Serde for `Bytes` as a base64 string (`null` decodes as empty).
mod b64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64_encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(Bytes::new()),
            Some(s) => base64_decode(&s)
                .map(Bytes::from)
                .map_err(serde::de::Error::custom),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests: parsing helpers.

/// nats-server's `isEmptyRequest`: no bytes, `{}`, or a JSON object with no members.
pub fn is_empty_request(body: &[u8]) -> bool {
    if body.is_empty() || body == b"{}" {
        return true;
    }
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Ok(serde_json::Value::Object(m)) if m.is_empty()
    )
}

/// Parses a request body that must be JSON (STREAM.CREATE/UPDATE, MSG.GET, MSG.DELETE): an
/// empty body or malformed JSON is 10025 "invalid JSON", as in nats-server. `null` gives the
/// default, as Go's decoder leaves the target untouched.
pub fn parse_request<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|_| ApiError::invalid_json())
}

/// Parses an optional request body (STREAM.INFO, NAMES, LIST, PURGE): an empty request (see
/// [`is_empty_request`]) is the default; anything else must be valid JSON (10025).
pub fn parse_optional_request<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if is_empty_request(body) {
        return Ok(T::default());
    }
    parse_request(body)
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// A `$JS.API` response body.
pub trait ApiResponse: Serialize + Sized {
    /// Its `type`.
    const TYPE: &'static str;

    /// The body nats-server sends for this endpoint when it fails with `error`.
    fn from_error(error: ApiError) -> Self;

    /// Compact JSON.
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("API responses always serialise")
    }
}

/// A bare `{"type":..,"error":..}` for endpoints without a response type of their own here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    pub error: ApiError,
}

impl ErrorResponse {
    pub fn new(response_type: &str, error: ApiError) -> Self {
        ErrorResponse {
            response_type: response_type.to_owned(),
            error,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("API responses always serialise")
    }
}

/// `total`, `offset`, `limit` of paged responses (Go's `ApiPaged`, always present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiPaged {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

macro_rules! impl_response {
    ($ty:ident, $type_const:expr) => {
        impl ApiResponse for $ty {
            const TYPE: &'static str = $type_const;

            fn from_error(error: ApiError) -> Self {
                $ty {
                    response_type: $type_const.to_owned(),
                    error: Some(error),
                    ..Default::default()
                }
            }
        }
    };
}

// --- $JS.API.INFO ----------------------------------------------------------------------------

/// An account's JetStream limits (-1 is unlimited; `Default` is all unlimited, as nats-server
/// reports an account without configured limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// API request counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiStats {
    pub total: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub inflight: u64,
}

/// Usage of one tier (Go's `JetStreamTier`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountTier {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: AccountLimits,
}

/// Go's `JetStreamAccountStats` (a `JetStreamTier` plus domain, api and tiers), flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountStats {
    pub memory: u64,
    pub storage: u64,
    /// v2.10.
    #[serde(default)]
    pub reserved_memory: u64,
    /// v2.10.
    #[serde(default)]
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    #[serde(default)]
    pub limits: AccountLimits,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default)]
    pub api: ApiStats,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tiers: BTreeMap<String, AccountTier>,
}

/// `$JS.API.INFO` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountInfoResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub stats: Option<AccountStats>,
}

impl_response!(AccountInfoResponse, response_type::ACCOUNT_INFO);

impl AccountInfoResponse {
    pub fn new(stats: AccountStats) -> Self {
        AccountInfoResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            stats: Some(stats),
        }
    }
}

// --- StreamInfo ------------------------------------------------------------------------------

/// Messages a store lost (corruption), as StreamState reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LostStreamData {
    #[serde(deserialize_with = "null_default")]
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

/// A stream's state (Go's `StreamState`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    /// With no messages: the next sequence to be assigned (last_seq + 1), except 0 for a
    /// stream that never had one.
    pub first_seq: u64,
    /// Go's zero time when there is no first message.
    pub first_ts: Timestamp,
    pub last_seq: u64,
    pub last_ts: Timestamp,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    /// Per-subject counts, only when STREAM.INFO asked with `subjects_filter` (keys sorted).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub subjects: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    /// Interior deleted sequences, only when STREAM.INFO asked with `deleted_details`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    pub consumer_count: u64,
}

/// A replica's state (clustered servers only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerInfo {
    pub name: String,
    pub current: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub offline: bool,
    /// Nanoseconds since last heard from.
    pub active: i64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub lag: u64,
    pub peer: String,
}

/// Who serves a stream. On a single v2.10 server STREAM.INFO reports just the leader (this
/// server's name): see [`ClusterInfo::single`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub raft_group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub replicas: Vec<PeerInfo>,
}

impl ClusterInfo {
    /// `{"leader":"<server_name>"}`: what a non-clustered v2.10 server reports.
    pub fn single(server_name: &str) -> Self {
        ClusterInfo {
            leader: server_name.to_owned(),
            ..Default::default()
        }
    }
}

/// State of a mirror or source (Go's `StreamSourceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSourceInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<crate::config::ExternalStream>,
    pub lag: u64,
    /// Nanoseconds since last active, -1 if never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subject_transforms: Vec<crate::config::SubjectTransform>,
}

/// A mirror of this stream elsewhere (clustered/super-clustered only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamAlternate {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub cluster: String,
}

/// Go's `StreamInfo`: config, creation time, state, and when the info was taken (`ts`, v2.10:
/// always present in create, update, info and list answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: Timestamp,
    pub state: StreamState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Set by STREAM.INFO only (v2.10 reports `{"leader": server_name}` on a single server);
    /// create, update and list answers leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub sources: Vec<StreamSourceInfo>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub alternates: Vec<StreamAlternate>,
    #[serde(default)]
    pub ts: Timestamp,
}

impl StreamInfo {
    /// An info with the given parts, no cluster/mirror/sources, taken now.
    pub fn new(config: StreamConfig, created: Timestamp, state: StreamState) -> Self {
        StreamInfo {
            config,
            created,
            state,
            domain: String::new(),
            cluster: None,
            mirror: None,
            sources: Vec::new(),
            alternates: Vec::new(),
            ts: Timestamp::now(),
        }
    }
}

// --- STREAM.CREATE / UPDATE / INFO -----------------------------------------------------------

/// `$JS.API.STREAM.CREATE.<name>` answer. The request body is a [`StreamConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamCreateResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
    /// nats-server sets it on every successful create, also when an identical stream existed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub did_create: bool,
}

impl_response!(StreamCreateResponse, response_type::STREAM_CREATE);

impl StreamCreateResponse {
    pub fn new(info: StreamInfo, did_create: bool) -> Self {
        StreamCreateResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            info: Some(info),
            did_create,
        }
    }
}

/// `$JS.API.STREAM.UPDATE.<name>` answer. The request body is a [`StreamConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamUpdateResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl_response!(StreamUpdateResponse, response_type::STREAM_UPDATE);

impl StreamUpdateResponse {
    pub fn new(info: StreamInfo) -> Self {
        StreamUpdateResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            info: Some(info),
        }
    }
}

/// `$JS.API.STREAM.INFO.<name>` request (optional body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamInfoRequest {
    /// Offset into the sorted subjects when they are more than [`MAX_SUBJECT_DETAILS`].
    #[serde(deserialize_with = "null_default")]
    pub offset: usize,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub deleted_details: bool,
    /// Report per-subject counts for subjects matching this filter (may have wildcards).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub subjects_filter: String,
}

/// `$JS.API.STREAM.INFO.<name>` answer. `total`/`offset`/`limit` are 0 unless subject
/// details were asked for and found (then: number of matching subjects, the offset, and
/// [`MAX_SUBJECT_DETAILS`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamInfoResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub paged: ApiPaged,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl_response!(StreamInfoResponse, response_type::STREAM_INFO);

impl StreamInfoResponse {
    /// An answer without subject details (`total`, `offset`, `limit` all 0).
    pub fn new(info: StreamInfo) -> Self {
        StreamInfoResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged: ApiPaged::default(),
            info: Some(info),
        }
    }

    /// An answer with subject details: `all_subjects` are every matching subject's count;
    /// the page from `offset` (at most [`MAX_SUBJECT_DETAILS`], in sorted order) goes into
    /// `state.subjects`, and `total`/`offset`/`limit` are set as nats-server does. No matching
    /// subject leaves all three 0.
    pub fn with_subjects(
        mut info: StreamInfo,
        all_subjects: BTreeMap<String, u64>,
        offset: usize,
    ) -> Self {
        let mut paged = ApiPaged::default();
        if !all_subjects.is_empty() {
            let total = all_subjects.len();
            paged = ApiPaged {
                total,
                offset,
                limit: MAX_SUBJECT_DETAILS,
            };
            let start = offset.min(total);
            info.state.subjects = all_subjects
                .into_iter()
                .skip(start)
                .take(MAX_SUBJECT_DETAILS)
                .collect();
        }
        StreamInfoResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged,
            info: Some(info),
        }
    }
}

// --- STREAM.DELETE ---------------------------------------------------------------------------

/// `$JS.API.STREAM.DELETE.<name>` answer (the request has no body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamDeleteResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl_response!(StreamDeleteResponse, response_type::STREAM_DELETE);

impl StreamDeleteResponse {
    pub fn success() -> Self {
        StreamDeleteResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            success: true,
        }
    }
}

// --- STREAM.PURGE ----------------------------------------------------------------------------

/// `$JS.API.STREAM.PURGE.<name>` request (optional body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamPurgeRequest {
    /// Purge up to, not including, this sequence.
    #[serde(
        rename = "seq",
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "null_default"
    )]
    pub sequence: u64,
    /// Only messages on subjects matching this (wildcards allowed).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub filter: String,
    /// Keep this many of the newest messages.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub keep: u64,
}

impl StreamPurgeRequest {
    /// `seq` and `keep` together are 10003 "bad request".
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.sequence > 0 && self.keep > 0 {
            return Err(ApiError::bad_request());
        }
        Ok(())
    }
}

/// `$JS.API.STREAM.PURGE.<name>` answer; `purged` is always present (0 on errors).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamPurgeResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
    #[serde(default)]
    pub purged: u64,
}

impl_response!(StreamPurgeResponse, response_type::STREAM_PURGE);

impl StreamPurgeResponse {
    pub fn success(purged: u64) -> Self {
        StreamPurgeResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            success: true,
            purged,
        }
    }
}

// --- STREAM.NAMES / LIST ---------------------------------------------------------------------

/// `$JS.API.STREAM.NAMES` request (optional body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamNamesRequest {
    #[serde(deserialize_with = "null_default")]
    pub offset: usize,
    /// Only streams with a subject colliding with this one (wildcards allowed).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub subject: String,
}

/// `$JS.API.STREAM.LIST` request (optional body): same fields as NAMES.
pub type StreamListRequest = StreamNamesRequest;

/// Go's nil slice: an empty list is written `null` (and `null` reads as empty).
mod null_when_empty {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        if v.is_empty() {
            s.serialize_none()
        } else {
            v.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        null_default(d)
    }
}

/// `$JS.API.STREAM.NAMES` answer: names sorted, `limit` [`NAMES_LIMIT`]; no streams is
/// `"streams":null` (as nats-server).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamNamesResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub paged: ApiPaged,
    #[serde(default, with = "null_when_empty")]
    pub streams: Vec<String>,
}

impl_response!(StreamNamesResponse, response_type::STREAM_NAMES);

impl StreamNamesResponse {
    /// The page of `all` (sorted here) from `offset` (clamped to the count), at most
    /// [`NAMES_LIMIT`] names; `total` is the count of `all`.
    pub fn page(mut all: Vec<String>, offset: usize) -> Self {
        all.sort();
        let total = all.len();
        let offset = offset.min(total);
        let streams = all.into_iter().skip(offset).take(NAMES_LIMIT).collect();
        StreamNamesResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged: ApiPaged {
                total,
                offset,
                limit: NAMES_LIMIT,
            },
            streams,
        }
    }
}

/// `$JS.API.STREAM.LIST` answer: infos sorted by name, `limit` [`LIST_LIMIT`], `streams`
/// always an array; `missing` (clustered only) lists streams that did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamListResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub paged: ApiPaged,
    #[serde(default, deserialize_with = "null_default")]
    pub streams: Vec<StreamInfo>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub missing: Vec<String>,
}

impl_response!(StreamListResponse, response_type::STREAM_LIST);

impl StreamListResponse {
    /// The page of `all` (sorted here by name) from `offset` (clamped), at most
    /// [`LIST_LIMIT`] infos.
    pub fn page(mut all: Vec<StreamInfo>, offset: usize) -> Self {
        all.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        let total = all.len();
        let offset = offset.min(total);
        let streams = all.into_iter().skip(offset).take(LIST_LIMIT).collect();
        StreamListResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged: ApiPaged {
                total,
                offset,
                limit: LIST_LIMIT,
            },
            streams,
            missing: Vec::new(),
        }
    }
}

// --- STREAM.MSG.GET / DIRECT.GET -------------------------------------------------------------

/// `$JS.API.STREAM.MSG.GET.<name>` and `$JS.API.DIRECT.GET.<name>` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgGetRequest {
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub seq: u64,
    #[serde(
        rename = "last_by_subj",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub last_by_subject: String,
    #[serde(
        rename = "next_by_subj",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub next_by_subject: String,
    /// v2.11 batch direct get: accepted, not served yet.
    #[serde(
        skip_serializing_if = "is_zero_usize",
        deserialize_with = "null_default"
    )]
    pub batch: usize,
    /// v2.11.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_bytes: i64,
    /// v2.11.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// v2.11.
    #[serde(
        rename = "multi_last",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub multi_last: Vec<String>,
    /// v2.11.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub up_to_seq: u64,
    /// v2.11.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_time: Option<Timestamp>,
}

/// What a [`MsgGetRequest`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgGetKind {
    /// The message with this sequence.
    Seq(u64),
    /// The last message on this subject (wildcards allowed).
    LastBySubject(String),
    /// The first message at or after `from_seq` on `subject` (wildcards allowed).
    NextBySubject { subject: String, from_seq: u64 },
}

impl MsgGetRequest {
    fn kind_unchecked(&self) -> MsgGetKind {
        if !self.next_by_subject.is_empty() {
            MsgGetKind::NextBySubject {
                subject: self.next_by_subject.clone(),
                from_seq: self.seq,
            }
        } else if self.seq > 0 {
            MsgGetKind::Seq(self.seq)
        } else {
            MsgGetKind::LastBySubject(self.last_by_subject.clone())
        }
    }

    /// STREAM.MSG.GET's checks: nothing asked, `seq` with `last_by_subj`, or `last_by_subj`
    /// with `next_by_subj` are 10003 "bad request". (An empty body is also 10003, checked
    /// before parsing: see [`MsgGetRequest::parse_api`].)
    pub fn kind(&self) -> Result<MsgGetKind, ApiError> {
        let (seq, last, next) = (
            self.seq,
            !self.last_by_subject.is_empty(),
            !self.next_by_subject.is_empty(),
        );
        if (seq > 0 && last) || (seq == 0 && !last && !next) || (last && next) {
            return Err(ApiError::bad_request());
        }
        Ok(self.kind_unchecked())
    }

    /// A STREAM.MSG.GET body as nats-server takes it: empty (see [`is_empty_request`]) is
    /// 10003, bad JSON 10025, then [`kind`](Self::kind).
    pub fn parse_api(body: &[u8]) -> Result<MsgGetKind, ApiError> {
        if is_empty_request(body) {
            return Err(ApiError::bad_request());
        }
        parse_request::<MsgGetRequest>(body)?.kind()
    }

    /// A `$JS.API.DIRECT.GET.<stream>` body as nats-server takes it; failures are the
    /// header-only status answers it sends instead of JSON.
    pub fn parse_direct(body: &[u8]) -> Result<MsgGetKind, DirectGetStatus> {
        if body.is_empty() {
            return Err(DirectGetStatus::EmptyRequest);
        }
        let req: MsgGetRequest =
            serde_json::from_slice(body).map_err(|_| DirectGetStatus::MalformedRequest)?;
        let (seq, last, next) = (
            req.seq,
            !req.last_by_subject.is_empty(),
            !req.next_by_subject.is_empty(),
        );
        if seq == 0 && !last && !next {
            return Err(DirectGetStatus::EmptyRequest);
        }
        if last && (seq > 0 || next) {
            return Err(DirectGetStatus::BadRequest);
        }
        Ok(req.kind_unchecked())
    }

    /// `$JS.API.DIRECT.GET.<stream>.<subject>`: the subject asked for (everything after the
    /// fifth token), or [`DirectGetStatus::BadRequest`] when it is missing or the body is not
    /// empty.
    pub fn parse_direct_last_by_subject(
        api_subject: &str,
        body: &[u8],
    ) -> Result<String, DirectGetStatus> {
        if !body.is_empty() {
            return Err(DirectGetStatus::BadRequest);
        }
        match api_subject.splitn(6, '.').nth(5) {
            Some(key) if !key.is_empty() => Ok(key.to_owned()),
            _ => Err(DirectGetStatus::BadRequest),
        }
    }
}

/// A stored message in a STREAM.MSG.GET answer (Go's `StoredMsg`). `hdrs` and `data` are
/// base64 and left out when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoredMessage {
    pub subject: String,
    pub seq: u64,
    /// The raw header block (`NATS/1.0\r\n...\r\n\r\n`).
    #[serde(
        default,
        rename = "hdrs",
        skip_serializing_if = "Bytes::is_empty",
        with = "b64_bytes"
    )]
    pub headers: Bytes,
    #[serde(default, skip_serializing_if = "Bytes::is_empty", with = "b64_bytes")]
    pub data: Bytes,
    pub time: Timestamp,
}

/// `$JS.API.STREAM.MSG.GET.<name>` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MsgGetResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMessage>,
}

impl_response!(MsgGetResponse, response_type::STREAM_MSG_GET);

impl MsgGetResponse {
    pub fn new(message: StoredMessage) -> Self {
        MsgGetResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            message: Some(message),
        }
    }
}

/// The header-only failure answers of a direct get (status line, no entries, no payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectGetStatus {
    /// `NATS/1.0 404 Message Not Found`.
    NotFound,
    /// `NATS/1.0 408 Empty Request`: no body, or nothing asked.
    EmptyRequest,
    /// `NATS/1.0 408 Malformed Request`: body not JSON.
    MalformedRequest,
    /// `NATS/1.0 408 Bad Request`: conflicting fields, or a body on a last-by-subject get.
    BadRequest,
}

impl DirectGetStatus {
    pub fn code(self) -> u16 {
        match self {
            DirectGetStatus::NotFound => 404,
            _ => 408,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            DirectGetStatus::NotFound => "Message Not Found",
            DirectGetStatus::EmptyRequest => "Empty Request",
            DirectGetStatus::MalformedRequest => "Malformed Request",
            DirectGetStatus::BadRequest => "Bad Request",
        }
    }

    /// The header block to send (with an empty payload).
    pub fn header_map(self) -> HeaderMap {
        HeaderMap::with_status(self.code(), Some(self.description()))
    }
}

/// The headers of a successful direct get answer (whose payload is the stored payload): the
/// stored headers, if any, followed by `Nats-Stream`, `Nats-Subject`, `Nats-Sequence` and
/// `Nats-Time-Stamp` (RFC 3339, nanoseconds, UTC), as nats-server appends them.
pub fn direct_get_headers(
    stored: Option<&HeaderMap>,
    stream: &str,
    subject: &str,
    seq: u64,
    time: Timestamp,
) -> HeaderMap {
    let mut h = stored.cloned().unwrap_or_default();
    for (k, v) in [
        (headers::STREAM, stream.to_owned()),
        (headers::SUBJECT, subject.to_owned()),
        (headers::SEQUENCE, seq.to_string()),
        (headers::TIME_STAMP, time.to_string()),
    ] {
        // Stream names, subjects, numbers and timestamps are always valid header values.
        let appended = h.append(k, &v);
        debug_assert!(appended.is_ok(), "bad direct get header {k}: {v:?}");
    }
    h
}

// --- STREAM.MSG.DELETE -----------------------------------------------------------------------

/// `$JS.API.STREAM.MSG.DELETE.<name>` request. An empty body is 10003 (nats-server checks
/// [`is_empty_request`] first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgDeleteRequest {
    #[serde(deserialize_with = "null_default")]
    pub seq: u64,
    /// Mark deleted without overwriting the bytes.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub no_erase: bool,
}

/// `$JS.API.STREAM.MSG.DELETE.<name>` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MsgDeleteResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl_response!(MsgDeleteResponse, response_type::STREAM_MSG_DELETE);

impl MsgDeleteResponse {
    pub fn success() -> Self {
        MsgDeleteResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            success: true,
        }
    }
}

// --- Publish acks ----------------------------------------------------------------------------

/// The ack of a publish to a stream (Go's `PubAck`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PubAck {
    pub stream: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate: bool,
}

impl PubAck {
    pub fn new(stream: &str, seq: u64) -> Self {
        PubAck {
            stream: stream.to_owned(),
            seq,
            ..Default::default()
        }
    }

    /// The ack of a duplicate (`Nats-Msg-Id` seen within the window): `seq` is the original's.
    pub fn duplicate(stream: &str, seq: u64) -> Self {
        PubAck {
            duplicate: true,
            ..PubAck::new(stream, seq)
        }
    }

    /// The exact bytes nats-server sends, which it builds by hand, not with its JSON encoder:
    /// `{"stream":"S", "seq":1}`, `{"stream":"S", "domain":"D", "seq":1}`, and for a duplicate
    /// `{"stream":"S", "seq":2,"duplicate": true}` (spaces included).
    pub fn to_wire(&self) -> Vec<u8> {
        let q = |s: &str| serde_json::to_string(s).expect("strings always serialise");
        let mut out = format!("{{\"stream\":{}, ", q(&self.stream));
        if !self.domain.is_empty() {
            out.push_str(&format!("\"domain\":{}, ", q(&self.domain)));
        }
        out.push_str(&format!("\"seq\":{}", self.seq));
        if self.duplicate {
            out.push_str(",\"duplicate\": true");
        }
        out.push('}');
        out.into_bytes()
    }
}

/// A publish answer (Go's `JSPubAckResponse`): an ack, or `{"error":{..},"stream":"S","seq":0}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PubAckResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub ack: PubAck,
}

impl PubAckResponse {
    pub fn ok(ack: PubAck) -> Self {
        PubAckResponse { error: None, ack }
    }

    /// The failure answer: the error, the stream's name and `seq` 0.
    pub fn error(stream: &str, error: ApiError) -> Self {
        PubAckResponse {
            error: Some(error),
            ack: PubAck::new(stream, 0),
        }
    }

    /// The bytes to send: [`PubAck::to_wire`] for an ack, compact JSON for an error.
    pub fn to_wire(&self) -> Vec<u8> {
        match &self.error {
            None => self.ack.to_wire(),
            Some(_) => serde_json::to_vec(self).expect("pub acks always serialise"),
        }
    }
}
