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
use crate::serde_util::{
    is_false, is_zero_i64, is_zero_u64, is_zero_usize, null_default, paging_offset,
};
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
    /// Answered only with 10010 (clustering required) by a single server.
    pub const STREAM_LEADER_STEPDOWN: &str =
        "io.nats.jetstream.api.v1.stream_leader_stepdown_response";
    /// Answered only with 10010 (clustering required) by a single server.
    pub const STREAM_REMOVE_PEER: &str = "io.nats.jetstream.api.v1.stream_remove_peer_response";
    /// Answered only with 10010 (clustering required) by a single server.
    pub const CONSUMER_LEADER_STEPDOWN: &str =
        "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";
    pub const META_LEADER_STEPDOWN: &str = "io.nats.jetstream.api.v1.meta_leader_stepdown_response";
    pub const META_SERVER_REMOVE: &str = "io.nats.jetstream.api.v1.meta_server_remove_response";
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
/// default, as Go's decoder leaves the target untouched. Every request is a Go struct, which
/// decodes only from a JSON object: an array (which serde would take for a struct, field by
/// field), string, number or boolean is 10025 too.
pub fn parse_request<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed == b"null" {
        return Ok(T::default());
    }
    if trimmed.first() != Some(&b'{') {
        return Err(ApiError::invalid_json());
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

impl ApiPaged {
    /// One page of `all` (already sorted): from `offset` (clamped to the count), at most
    /// `limit` items; `total` is the count of `all`.
    pub fn page<T>(all: Vec<T>, offset: usize, limit: usize) -> (ApiPaged, Vec<T>) {
        let total = all.len();
        let offset = offset.min(total);
        let items = all.into_iter().skip(offset).take(limit).collect();
        (
            ApiPaged {
                total,
                offset,
                limit,
            },
            items,
        )
    }
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
pub(crate) use impl_response;

mod account;
mod ack;
mod msg;
mod stream;

pub use account::*;
pub use ack::*;
pub use msg::*;
pub use stream::*;
