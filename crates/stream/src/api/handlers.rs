//! `$JS.API.*` request handling: one function per endpoint, dispatched on the subject.
//! Every request gets exactly nats-server's answer shape; nothing here can panic on input.

use crate::api::errors::ApiError;
use crate::api::types::*;
use crate::config::{subjects_overlap, StorageType, StreamConfig};
use crate::jetstream::{Entry, Inner};
use crate::op::{OpOutcome, StreamOp};
use crate::store::{Purge, StoredMsg};
use crate::stream::Stream;
use crate::time::{now_ns, Timestamp};
use sluice_protocol::HeaderMap;
use sluice_server::InternalMsg;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// Handles one request published to `$JS.API.>`.
///
/// Endpoints are matched token for token, as nats-server's API subscriptions match
/// (`$JS.API.STREAM.INFO.*` takes exactly one name token). A subject no endpoint serves is
/// answered as nats-server v2.10.8+ does: `system_response` with 10003 "bad request"
/// (v2.9 does not answer; protocol-spec/differences.md 18). `META.LEADER.STEPDOWN`,
/// `SERVER.REMOVE` and `ACCOUNT.*` are system-account requests nats-server ignores here.
pub(crate) fn handle(js: &Inner, msg: InternalMsg) {
    let Some(reply) = msg.reply.as_deref() else {
        return; // nowhere to answer
    };
    if msg.subject.starts_with("$JS.API.CONSUMER.MSG.NEXT.") {
        return; // served by the consumer's own subscription, not an API request
    }
    js.api_requests.fetch_add(1, Ordering::Relaxed);
    let subject = &msg.subject[..];
    let body = &msg.payload[..];
    let rest = subject.strip_prefix("$JS.API.").unwrap_or("");
    // `DIRECT.GET[.<stream>[.<subject>]]`: served by the stream (or nobody), not the API.
    let direct = match rest.strip_prefix("DIRECT.GET") {
        Some("") => Some(""),
        Some(after) => after.strip_prefix('.'),
        None => None,
    };
    if let Some(name) = direct {
        direct_get(js, reply, subject, name, body);
        return;
    }
    let tokens: Vec<&str> = rest.split('.').collect();
    let answer = match tokens[..] {
        ["INFO"] => account_info(js),
        ["STREAM", "CREATE", name] => respond(create(js, name, body)),
        ["STREAM", "UPDATE", name] => respond(update(js, name, body)),
        ["STREAM", "INFO", name] => respond(info(js, name, body)),
        ["STREAM", "DELETE", name] => respond(delete(js, name, body)),
        ["STREAM", "PURGE", name] => respond(purge(js, name, body)),
        ["STREAM", "NAMES"] => respond(names(js, body)),
        ["STREAM", "LIST"] => respond(list(js, body)),
        ["STREAM", "MSG", "GET", name] => respond(msg_get(js, name, body)),
        ["STREAM", "MSG", "DELETE", name] => respond(msg_delete(js, name, body)),
        ["STREAM", "LEADER", "STEPDOWN", _] => {
            cluster_required(response_type::STREAM_LEADER_STEPDOWN)
        }
        ["STREAM", "PEER", "REMOVE", _] => cluster_required(response_type::STREAM_REMOVE_PEER),
        ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
            cluster_required(response_type::CONSUMER_LEADER_STEPDOWN)
        }
        ["CONSUMER", ..] => {
            crate::api::consumer_handlers::handle(js, subject, body).unwrap_or_else(not_served)
        }
        ["META", "LEADER", "STEPDOWN"] | ["SERVER", "REMOVE"] | ["ACCOUNT", ..] => return,
        _ => not_served(),
    };
    if answer_is_error(&answer) {
        js.api_errors.fetch_add(1, Ordering::Relaxed);
    }
    js.server.publish(reply, None, None, &answer);
}

/// The answer to a subject no endpoint serves (nats-server v2.10.8+).
fn not_served() -> Vec<u8> {
    ErrorResponse::new(response_type::SYSTEM, ApiError::bad_request()).to_json()
}

/// The only answer a single server gives to leader stepdowns and peer removals.
fn cluster_required(response_type: &str) -> Vec<u8> {
    ErrorResponse::new(response_type, ApiError::cluster_required()).to_json()
}

fn answer_is_error(json: &[u8]) -> bool {
    json.windows(8).any(|w| w == b"\"error\":")
}

fn respond<T: ApiResponse>(r: Result<T, ApiError>) -> Vec<u8> {
    match r {
        Ok(t) => t.to_json(),
        Err(e) => T::from_error(e).to_json(),
    }
}

fn state_of(stream: &Stream, consumers: u64) -> StreamState {
    let s = stream.state();
    // A stream that never held a message reports first_seq 0, as nats-server does (unless a
    // configured first_seq moved it).
    let first_seq = if s.msgs == 0 && s.last_seq == 0 && s.first_seq <= 1 {
        0
    } else {
        s.first_seq
    };
    StreamState {
        messages: s.msgs,
        bytes: s.bytes,
        first_seq,
        first_ts: if s.msgs > 0 {
            Timestamp::from_unix_nanos(s.first_ts)
        } else {
            Timestamp::ZERO
        },
        last_seq: s.last_seq,
        last_ts: if s.last_seq > 0 && s.last_ts > 0 {
            Timestamp::from_unix_nanos(s.last_ts)
        } else {
            Timestamp::ZERO
        },
        num_subjects: s.num_subjects,
        num_deleted: s.num_deleted,
        consumer_count: consumers,
        ..Default::default()
    }
}

fn info_of(entry: &Entry) -> StreamInfo {
    let consumers = entry.consumers.load(Ordering::Relaxed);
    let state = state_of(&entry.stream.lock(), consumers);
    StreamInfo::new(entry.config.clone(), entry.created, state)
}

fn account_info(js: &Inner) -> Vec<u8> {
    let streams = js.streams.read();
    let (mut memory, mut storage) = (0u64, 0u64);
    let mut consumers = 0;
    for e in streams.values() {
        consumers += e.consumers.load(Ordering::Relaxed) as usize;
        let bytes = e.stream.lock().state().bytes;
        match e.config.storage {
            StorageType::Memory => memory += bytes,
            StorageType::File => storage += bytes,
        }
    }
    AccountInfoResponse::new(AccountStats {
        memory,
        storage,
        streams: streams.len(),
        consumers,
        api: ApiStats {
            total: js.api_requests.load(Ordering::Relaxed),
            errors: js.api_errors.load(Ordering::Relaxed),
            inflight: 0,
        },
        ..Default::default()
    })
    .to_json()
}

fn overlap_with_others(
    streams: &BTreeMap<String, Entry>,
    cfg: &StreamConfig,
) -> Result<(), ApiError> {
    for (name, other) in streams {
        if name != &cfg.name && subjects_overlap(&other.config.subjects, &cfg.subjects) {
            return Err(ApiError::stream_subject_overlap());
        }
    }
    Ok(())
}

fn create(js: &Inner, name: &str, body: &[u8]) -> Result<StreamCreateResponse, ApiError> {
    let raw: StreamConfig = parse_request(body)?;
    let cfg = raw.check_create(name)?;
    let mut streams = js.streams.write();
    if let Some(existing) = streams.get(&cfg.name) {
        if existing.config == cfg {
            return Ok(StreamCreateResponse::new(info_of(existing), true));
        }
        return Err(ApiError::stream_name_exist());
    }
    overlap_with_others(&streams, &cfg)?;
    let created = Timestamp::now();
    js.save(&cfg, created)?;
    let entry = match js.start_stream(cfg.clone(), created) {
        Ok(e) => e,
        Err(e) => {
            let _ = js.meta.remove_stream(&cfg.name);
            return Err(ApiError::stream_create(e));
        }
    };
    let info = info_of(&entry);
    streams.insert(cfg.name.clone(), entry);
    Ok(StreamCreateResponse::new(info, true))
}

fn update(js: &Inner, name: &str, body: &[u8]) -> Result<StreamUpdateResponse, ApiError> {
    let raw: StreamConfig = parse_request(body)?;
    let checked = raw.checked()?;
    if checked.name != name {
        return Err(ApiError::stream_mismatch());
    }
    let mut streams = js.streams.write();
    let old = streams
        .get(name)
        .ok_or_else(ApiError::stream_not_found)?
        .config
        .clone();
    let cfg = old.check_update(&raw)?;
    overlap_with_others(&streams, &cfg)?;
    let entry = streams
        .get_mut(name)
        .ok_or_else(ApiError::stream_not_found)?;
    js.save(&cfg, entry.created)?;
    let op = StreamOp::UpdateConfig {
        config: cfg.clone(),
        now_ns: now_ns(),
    };
    match Inner::apply(entry, op, || ApiError::stream_update("stream is stopping"))? {
        OpOutcome::ConfigUpdated => {}
        other => return Err(other.unexpected()),
    }
    let resubscribe = entry.config.subjects != cfg.subjects;
    entry.config = cfg;
    if resubscribe {
        js.subscribe_entry(entry).map_err(ApiError::stream_update)?;
    }
    Ok(StreamUpdateResponse::new(info_of(entry)))
}

fn info(js: &Inner, name: &str, body: &[u8]) -> Result<StreamInfoResponse, ApiError> {
    let req: StreamInfoRequest = parse_optional_request(body)?;
    let streams = js.streams.read();
    let entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    let mut info = info_of(entry);
    info.cluster = Some(ClusterInfo::single(&js.config.server_name));
    if req.subjects_filter.is_empty() {
        return Ok(StreamInfoResponse::new(info));
    }
    let filter = req.subjects_filter.as_str();
    let all: BTreeMap<String, u64> = entry
        .stream
        .lock()
        .store()
        .subjects()
        .into_iter()
        .filter(|(s, _)| sluice_protocol::subject::subject_matches(filter, s))
        .map(|(s, n)| (s.to_string(), n))
        .collect();
    Ok(StreamInfoResponse::with_subjects(info, all, req.offset))
}

fn delete(js: &Inner, name: &str, body: &[u8]) -> Result<StreamDeleteResponse, ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::not_empty_request());
    }
    let entry = js
        .streams
        .write()
        .remove(name)
        .ok_or_else(ApiError::stream_not_found)?;
    js.delete_stream(entry)?;
    Ok(StreamDeleteResponse::success())
}

/// nats-server's order: the body (bad JSON 10025, `seq` with `keep` 10003), then the stream
/// (10059), sealed (10109), `deny_purge` (10110).
fn purge(js: &Inner, name: &str, body: &[u8]) -> Result<StreamPurgeResponse, ApiError> {
    let req: StreamPurgeRequest = parse_optional_request(body)?;
    req.validate()?;
    let streams = js.streams.read();
    let entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    if entry.config.sealed {
        return Err(ApiError::stream_sealed());
    }
    if entry.config.deny_purge {
        return Err(ApiError::stream_purge_not_permitted());
    }
    let purge = Purge {
        filter: (!req.filter.is_empty()).then(|| req.filter.clone()),
        up_to_seq: (req.sequence > 0).then_some(req.sequence),
        keep: (req.keep > 0).then_some(req.keep),
    };
    let stopping = || ApiError::stream_purge_failed("stream is stopping");
    match Inner::apply(entry, StreamOp::Purge(purge), stopping)? {
        OpOutcome::Purged { purged } => Ok(StreamPurgeResponse::success(purged)),
        other => Err(other.unexpected()),
    }
}

fn matching_names(js: &Inner, filter: &str) -> Vec<String> {
    js.streams
        .read()
        .values()
        .filter(|e| filter.is_empty() || subjects_overlap(&e.config.subjects, &[filter.to_owned()]))
        .map(|e| e.config.name.clone())
        .collect()
}

fn names(js: &Inner, body: &[u8]) -> Result<StreamNamesResponse, ApiError> {
    let req: StreamNamesRequest = parse_optional_request(body)?;
    Ok(StreamNamesResponse::page(
        matching_names(js, &req.subject),
        req.offset,
    ))
}

fn list(js: &Inner, body: &[u8]) -> Result<StreamListResponse, ApiError> {
    let req: StreamListRequest = parse_optional_request(body)?;
    let wanted = matching_names(js, &req.subject);
    let streams = js.streams.read();
    let infos = wanted
        .iter()
        .filter_map(|n| streams.get(n))
        .map(info_of)
        .collect();
    Ok(StreamListResponse::page(infos, req.offset))
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

/// nats-server's order: the body (empty 10003, bad JSON 10025, nothing or too much asked
/// 10003), then the stream (10059), then the message (10037).
fn msg_get(js: &Inner, name: &str, body: &[u8]) -> Result<MsgGetResponse, ApiError> {
    let kind = MsgGetRequest::parse_api(body)?;
    let streams = js.streams.read();
    let entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    let msg = find(&entry.stream.lock(), &kind)?.ok_or_else(ApiError::no_message_found)?;
    Ok(MsgGetResponse::new(StoredMessage {
        subject: msg.subject.to_string(),
        seq: msg.seq,
        headers: msg.headers.unwrap_or_default(),
        data: msg.payload,
        time: Timestamp::from_unix_nanos(msg.time_ns),
    }))
}

/// nats-server's order: the body (empty, `{}` included, 10003; bad JSON 10025), then the
/// stream (10059), sealed (10109), `deny_delete` (10057), then the sequence (on the writer:
/// how a sequence that cannot be there is refused depends on the store, see `apply.rs`).
fn msg_delete(js: &Inner, name: &str, body: &[u8]) -> Result<MsgDeleteResponse, ApiError> {
    let req = MsgDeleteRequest::parse(body)?;
    let streams = js.streams.read();
    let entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    if entry.config.sealed {
        return Err(ApiError::stream_sealed());
    }
    if entry.config.deny_delete {
        return Err(ApiError::message_delete_not_permitted());
    }
    let seq = req.seq;
    let stopping = || ApiError::stream_msg_delete_failed("stream is stopping");
    match Inner::apply(entry, StreamOp::DeleteMsg { seq }, stopping)? {
        OpOutcome::MsgDeleted { removed: true } => Ok(MsgDeleteResponse::success()),
        OpOutcome::MsgDeleted { removed: false } => Err(ApiError::sequence_not_found(seq)),
        other => Err(other.unexpected()),
    }
}

/// `$JS.API.DIRECT.GET.<stream>[.<subject>]`: answered with the message itself (its headers
/// plus Nats-Stream/Subject/Sequence/Time-Stamp) or a status-only header block.
fn direct_get(js: &Inner, reply: &str, api_subject: &str, rest: &str, body: &[u8]) {
    let (name, by_subject) = match rest.split_once('.') {
        Some((n, _)) => (n, true),
        None => (rest, false),
    };
    let streams = js.streams.read();
    let Some(entry) = streams.get(name).filter(|e| e.config.allow_direct) else {
        // nats-server only listens here for streams with allow_direct: nobody answers.
        let h = HeaderMap::with_status(503, None).to_bytes();
        js.server.publish(reply, None, Some(&h), b"");
        return;
    };
    let kind = if by_subject {
        MsgGetRequest::parse_direct_last_by_subject(api_subject, body)
            .map(MsgGetKind::LastBySubject)
    } else {
        MsgGetRequest::parse_direct(body)
    };
    let found = kind.map(|k| find(&entry.stream.lock(), &k));
    let status = match found {
        Ok(Ok(Some(msg))) => {
            let stored = msg
                .headers
                .as_deref()
                .and_then(|h| HeaderMap::parse(h).ok());
            let h = direct_get_headers(
                stored.as_ref(),
                name,
                &msg.subject,
                msg.seq,
                Timestamp::from_unix_nanos(msg.time_ns),
            )
            .to_bytes();
            js.server.publish(reply, None, Some(&h), &msg.payload);
            return;
        }
        Ok(_) => DirectGetStatus::NotFound,
        Err(status) => status,
    };
    let h = status.header_map().to_bytes();
    js.server.publish(reply, None, Some(&h), b"");
}
