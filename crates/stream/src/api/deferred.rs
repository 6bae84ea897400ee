//! `$JS.API` requests the API hands to a stream's owner, and how the owner answers them.
//!
//! The API task checks a request (its body, that the stream exists, what the stream's config
//! allows) and then never waits: a change goes to the owner as a [`StreamOp`] with an
//! [`OpAnswer`] saying which response to build from its [`OpOutcome`]; a read that needs the
//! store or the consumers goes as a [`Read`]. The owner answers both itself, after the step
//! that handled them is durable and its snapshot published. So a slow disk delays only the
//! requests for its own stream, and the API goes on serving every other one.
//!
//! Building the answers is pure: [`answer_op`] and [`answer_read`] return the bytes to
//! publish.

use crate::api::consumer_types::{
    ConsumerCreateResponse, ConsumerDeleteResponse, ConsumerInfoResponse, ConsumerListResponse,
};
use crate::api::errors::ApiError;
use crate::api::types::*;
use crate::consumer::set::Consumers;
use crate::op::{OpOutcome, StreamOp};
use crate::store::StoredMsg;
use crate::stream::Stream;
use crate::time::Timestamp;
use sluice_protocol::HeaderMap;
use std::collections::BTreeMap;

/// A request for a stream's owner.
// Boxed as a whole in the owner's mailbox (`Cmd::Api`), so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Request {
    /// Apply `op` and answer `reply` with the response `answer` names.
    Op {
        op: StreamOp,
        answer: OpAnswer,
        reply: String,
    },
    /// Answer `reply` with what `read` asks for.
    Read { read: Read, reply: String },
}

/// Which response an op's outcome is turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpAnswer {
    StreamUpdate,
    StreamPurge,
    /// The sequence asked for (named in the not-found error).
    MsgDelete(u64),
    ConsumerCreate,
    ConsumerDelete,
}

/// A read that needs the stream's store or consumers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// STREAM.INFO with `subjects_filter`: the info plus the matching subjects' counts.
    StreamInfoSubjects { filter: String, offset: usize },
    /// STREAM.MSG.GET.
    MsgGet(MsgGetKind),
    /// DIRECT.GET (the request already parsed; a bad one is answered without the owner).
    DirectGet(MsgGetKind),
    /// CONSUMER.INFO.
    ConsumerInfo { name: String },
    /// CONSUMER.LIST.
    ConsumerList { offset: usize },
}

/// What the owner publishes in answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub reply: String,
    pub headers: Option<bytes::Bytes>,
    pub payload: Vec<u8>,
    /// An API error response (counted in the API's error total).
    pub is_error: bool,
}

impl Answer {
    pub(crate) fn json(reply: String, payload: Vec<u8>) -> Answer {
        let is_error = answer_is_error(&payload);
        Answer {
            reply,
            headers: None,
            payload,
            is_error,
        }
    }
}

/// Whether a JSON response carries an `error`.
pub(crate) fn answer_is_error(json: &[u8]) -> bool {
    json.windows(8).any(|w| w == b"\"error\":")
}

pub(crate) fn respond<T: ApiResponse>(r: Result<T, ApiError>) -> Vec<u8> {
    match r {
        Ok(t) => t.to_json(),
        Err(e) => T::from_error(e).to_json(),
    }
}

/// The error answer to `answer`'s request when the stream is stopping (its owner refused the
/// request).
pub(crate) fn answer_stopping(answer: OpAnswer) -> Vec<u8> {
    answer_error(answer, "stream is stopping")
}

/// An op's error response saying `why`, in the op's own response type.
pub(crate) fn answer_error(answer: OpAnswer, why: &str) -> Vec<u8> {
    match answer {
        OpAnswer::StreamUpdate => {
            respond::<StreamUpdateResponse>(Err(ApiError::stream_update(why)))
        }
        OpAnswer::StreamPurge => {
            respond::<StreamPurgeResponse>(Err(ApiError::stream_purge_failed(why)))
        }
        OpAnswer::MsgDelete(_) => {
            respond::<MsgDeleteResponse>(Err(ApiError::stream_msg_delete_failed(why)))
        }
        OpAnswer::ConsumerCreate => {
            respond::<ConsumerCreateResponse>(Err(ApiError::consumer_create(why)))
        }
        OpAnswer::ConsumerDelete => {
            respond::<ConsumerDeleteResponse>(Err(ApiError::consumer_create(why)))
        }
    }
}

/// The answer to a read whose stream is stopping (shut down, or its owner failed): each
/// read's own response shape with "stream is stopping", and for a direct get a `503` status
/// (what a client would get from nats-server with the stream's subscription gone).
pub(crate) fn read_stopping(read: Read, reply: String) -> Answer {
    let e = || ApiError::stream_general("stream is stopping");
    match read {
        Read::StreamInfoSubjects { .. } => {
            Answer::json(reply, respond::<StreamInfoResponse>(Err(e())))
        }
        Read::MsgGet(_) => Answer::json(reply, respond::<MsgGetResponse>(Err(e()))),
        Read::DirectGet(_) => status_answer(reply, DirectGetStatus::Unavailable),
        Read::ConsumerInfo { .. } => Answer::json(reply, respond::<ConsumerInfoResponse>(Err(e()))),
        Read::ConsumerList { .. } => Answer::json(reply, respond::<ConsumerListResponse>(Err(e()))),
    }
}

/// The response to an op, from its outcome; `info` gives the stream's info after the op (for
/// an update's answer).
pub(crate) fn answer_op(
    answer: OpAnswer,
    outcome: OpOutcome,
    info: impl FnOnce() -> StreamInfo,
) -> Vec<u8> {
    let failed = |o: OpOutcome| match o {
        OpOutcome::Failed(e) => e,
        other => other.unexpected(),
    };
    match (answer, outcome) {
        (OpAnswer::StreamUpdate, OpOutcome::ConfigUpdated) => {
            StreamUpdateResponse::new(info()).to_json()
        }
        (OpAnswer::StreamUpdate, o) => respond::<StreamUpdateResponse>(Err(failed(o))),
        (OpAnswer::StreamPurge, OpOutcome::Purged { purged }) => {
            StreamPurgeResponse::success(purged).to_json()
        }
        (OpAnswer::StreamPurge, o) => respond::<StreamPurgeResponse>(Err(failed(o))),
        (OpAnswer::MsgDelete(_), OpOutcome::MsgDeleted { removed: true }) => {
            MsgDeleteResponse::success().to_json()
        }
        (OpAnswer::MsgDelete(seq), OpOutcome::MsgDeleted { removed: false }) => {
            respond::<MsgDeleteResponse>(Err(ApiError::sequence_not_found(seq)))
        }
        (OpAnswer::MsgDelete(_), o) => respond::<MsgDeleteResponse>(Err(failed(o))),
        (OpAnswer::ConsumerCreate, OpOutcome::Consumer(info)) => {
            ConsumerCreateResponse::new(*info).to_json()
        }
        (OpAnswer::ConsumerCreate, o) => respond::<ConsumerCreateResponse>(Err(failed(o))),
        (OpAnswer::ConsumerDelete, OpOutcome::ConsumerDeleted) => {
            ConsumerDeleteResponse::success().to_json()
        }
        (OpAnswer::ConsumerDelete, o) => respond::<ConsumerDeleteResponse>(Err(failed(o))),
    }
}

/// Answers `read` for `reply` from the stream and its consumers. `info` is the stream's info
/// (with its cluster block), needed only for [`Read::StreamInfoSubjects`].
pub(crate) fn answer_read(
    read: Read,
    reply: String,
    stream: &Stream,
    consumers: &mut Consumers,
    info: Option<StreamInfo>,
    now: i64,
) -> Answer {
    match read {
        Read::StreamInfoSubjects { filter, offset } => {
            let Some(info) = info else {
                let e = ApiError::stream_general("stream info missing");
                return Answer::json(reply, respond::<StreamInfoResponse>(Err(e)));
            };
            let all: BTreeMap<String, u64> = stream
                .store()
                .subjects()
                .into_iter()
                .filter(|(s, _)| sluice_protocol::subject::subject_matches(&filter, s))
                .map(|(s, n)| (s.to_string(), n))
                .collect();
            let json = StreamInfoResponse::with_subjects(info, all, offset).to_json();
            Answer::json(reply, json)
        }
        Read::MsgGet(kind) => {
            let r = find(stream, &kind).and_then(|m| m.ok_or_else(ApiError::no_message_found));
            let json = respond(r.map(|msg| {
                MsgGetResponse::new(StoredMessage {
                    subject: msg.subject.to_string(),
                    seq: msg.seq,
                    headers: msg.headers.unwrap_or_default(),
                    data: msg.payload,
                    time: Timestamp::from_unix_nanos(msg.time_ns),
                })
            }));
            Answer::json(reply, json)
        }
        Read::DirectGet(kind) => direct_get(reply, stream, &kind),
        Read::ConsumerInfo { name } => {
            let r = consumers
                .info(&name, stream, now)
                .ok_or_else(ApiError::consumer_not_found)
                .and_then(|r| r.map_err(ApiError::consumer_create))
                .map(ConsumerInfoResponse::new);
            Answer::json(reply, respond(r))
        }
        Read::ConsumerList { offset } => {
            let names: Vec<String> = consumers
                .iter()
                .filter(|c| !c.config.direct)
                .map(|c| c.name.to_string())
                .collect();
            let mut all = Vec::new();
            let mut failed = None;
            for name in names {
                match consumers.info(&name, stream, now) {
                    Some(Ok(info)) => all.push(info),
                    Some(Err(e)) => {
                        failed = Some(ApiError::consumer_create(e));
                        break;
                    }
                    None => {}
                }
            }
            let r = match failed {
                Some(e) => Err(e),
                None => Ok(ConsumerListResponse::page(all, offset)),
            };
            Answer::json(reply, respond(r))
        }
    }
}

fn find(stream: &Stream, kind: &MsgGetKind) -> Result<Option<StoredMsg>, ApiError> {
    let store = stream.store();
    match kind {
        MsgGetKind::Seq(seq) => store.get(*seq),
        MsgGetKind::LastBySubject(subject) => store.last_matching(subject),
        MsgGetKind::NextBySubject { subject, from_seq } => {
            store.next_matching((*from_seq).max(1), Some(subject))
        }
    }
    .map_err(ApiError::stream_general)
}

/// A direct get's answer: the message itself (its headers plus Nats-Stream/Subject/
/// Sequence/Time-Stamp) or a status-only header block.
fn direct_get(reply: String, stream: &Stream, kind: &MsgGetKind) -> Answer {
    let status = match find(stream, kind) {
        Ok(Some(msg)) => {
            let stored = msg
                .headers
                .as_deref()
                .and_then(|h| HeaderMap::parse(h).ok());
            let h = direct_get_headers(
                stored.as_ref(),
                stream.name(),
                &msg.subject,
                msg.seq,
                Timestamp::from_unix_nanos(msg.time_ns),
            )
            .to_bytes();
            return Answer {
                reply,
                headers: Some(h),
                payload: msg.payload.to_vec(),
                is_error: false,
            };
        }
        Ok(None) => DirectGetStatus::NotFound,
        Err(_) => DirectGetStatus::NotFound,
    };
    status_answer(reply, status)
}

/// A header-only direct get answer.
pub(crate) fn status_answer(reply: String, status: DirectGetStatus) -> Answer {
    Answer {
        reply,
        headers: Some(status.header_map().to_bytes()),
        payload: Vec::new(),
        is_error: false,
    }
}
