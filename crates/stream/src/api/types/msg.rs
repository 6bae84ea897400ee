//! Message endpoints: STREAM.MSG.GET, DIRECT.GET, STREAM.MSG.DELETE.

use super::*;

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
        // As Go decodes it: `null` is the empty request, anything but an object is malformed.
        let req: MsgGetRequest =
            parse_request(body).map_err(|_| DirectGetStatus::MalformedRequest)?;
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
    /// `NATS/1.0 408 Malformed Request`: body not a JSON object (nor `null`).
    MalformedRequest,
    /// `NATS/1.0 408 Bad Request`: conflicting fields, or a body on a last-by-subject get.
    BadRequest,
    /// `NATS/1.0 503 No Responders`: the stream is stopping (shut down, or its owner failed),
    /// as a client would hear from nats-server once the stream's direct subscription is gone.
    Unavailable,
}

impl DirectGetStatus {
    pub fn code(self) -> u16 {
        match self {
            DirectGetStatus::NotFound => 404,
            DirectGetStatus::Unavailable => 503,
            _ => 408,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            DirectGetStatus::NotFound => "Message Not Found",
            DirectGetStatus::EmptyRequest => "Empty Request",
            DirectGetStatus::MalformedRequest => "Malformed Request",
            DirectGetStatus::BadRequest => "Bad Request",
            DirectGetStatus::Unavailable => "No Responders",
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

impl MsgDeleteRequest {
    /// A STREAM.MSG.DELETE body as nats-server takes it: empty (see [`is_empty_request`]:
    /// `{}` too) is 10003 "bad request", bad JSON 10025.
    pub fn parse(body: &[u8]) -> Result<MsgDeleteRequest, ApiError> {
        if is_empty_request(body) {
            return Err(ApiError::bad_request());
        }
        parse_request(body)
    }
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
