//! Stream info and the stream management endpoints: CREATE, UPDATE, INFO, DELETE, PURGE,
//! NAMES, LIST.

use super::*;

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
/// server's name): see [`ClusterInfo::of`].
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
    /// A stream held by this server alone: `{"leader":"<server_name>"}` on a server without
    /// a cluster (as v2.10 reports it), with the cluster's `name` in a cluster (an R1 stream).
    pub fn of(cluster: Option<&str>, server_name: &str) -> Self {
        ClusterInfo {
            name: cluster.unwrap_or_default().to_owned(),
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
    #[serde(deserialize_with = "paging_offset")]
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
    #[serde(deserialize_with = "paging_offset")]
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
        let (paged, streams) = ApiPaged::page(all, offset, NAMES_LIMIT);
        StreamNamesResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged,
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
        let (paged, streams) = ApiPaged::page(all, offset, LIST_LIMIT);
        StreamListResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            paged,
            streams,
            missing: Vec::new(),
        }
    }
}
