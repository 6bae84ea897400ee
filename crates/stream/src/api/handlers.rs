//! `$JS.API.*` request handling: one function per endpoint, dispatched on the subject.
//! Every request gets exactly nats-server's answer shape; nothing here can panic on input.
//!
//! Nothing here waits for a stream's owner: reads of a stream's state (INFO, LIST, account
//! info) use the snapshot its owner published last; changes and reads of the store or the
//! consumers are checked here and handed to the owner, which answers them (`deferred.rs`).

use crate::api::deferred::{answer_is_error, respond, status_answer, OpAnswer, Read, Request};
use crate::api::errors::ApiError;
use crate::api::types::*;
use crate::cluster::api::{route, route_direct, Routed};
use crate::config::{subjects_overlap, StorageType, StreamConfig};
use crate::jetstream::{Entry, Inner};
use crate::limits::{check_stream, AccountUsage, LimitError, Reservation, StreamAsk};
use crate::op::StreamOp;
use crate::store::{Purge, StoreState};
use crate::time::{now_ns, Timestamp};
use sluice_protocol::HeaderMap;
use sluice_server::InternalMsg;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// How a handler answers: now, or later by the stream's owner.
pub(crate) enum Handled {
    Now(Vec<u8>),
    /// Handed to the stream's owner, which answers.
    Deferred,
}

impl<T: ApiResponse> From<Result<T, ApiError>> for Handled {
    fn from(r: Result<T, ApiError>) -> Handled {
        Handled::Now(respond(r))
    }
}

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
    let cluster = js.cluster.get();
    if let Some(name) = direct {
        if let Some(Routed::Done) =
            cluster.map(|_| route_direct(js, name.split('.').next().unwrap_or("")))
        {
            return;
        }
        direct_get(js, reply, subject, name, body);
        return;
    }
    let tokens: Vec<&str> = rest.split('.').collect();
    if let Some(Routed::Done) = cluster.map(|c| route(js, c, &tokens, reply, body)) {
        return;
    }
    let handled = match tokens[..] {
        ["INFO"] => Handled::Now(account_info(js)),
        ["STREAM", "CREATE", name] => create(js, name, body).into(),
        ["STREAM", "UPDATE", name] => update(js, reply, name, body),
        ["STREAM", "INFO", name] => info(js, reply, name, body),
        ["STREAM", "DELETE", name] => delete(js, reply, name, body),
        ["STREAM", "PURGE", name] => purge(js, reply, name, body),
        ["STREAM", "NAMES"] => names(js, body).into(),
        ["STREAM", "LIST"] => list(js, body).into(),
        ["STREAM", "MSG", "GET", name] => msg_get(js, reply, name, body),
        ["STREAM", "MSG", "DELETE", name] => msg_delete(js, reply, name, body),
        ["STREAM", "LEADER", "STEPDOWN", _] => {
            Handled::Now(cluster_required(response_type::STREAM_LEADER_STEPDOWN))
        }
        ["STREAM", "PEER", "REMOVE", _] => {
            Handled::Now(cluster_required(response_type::STREAM_REMOVE_PEER))
        }
        ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
            Handled::Now(cluster_required(response_type::CONSUMER_LEADER_STEPDOWN))
        }
        ["CONSUMER", ..] => crate::api::consumer_handlers::handle(js, reply, subject, body)
            .unwrap_or_else(|| Handled::Now(not_served())),
        ["META", "LEADER", "STEPDOWN"] | ["SERVER", "REMOVE"] | ["ACCOUNT", ..] => return,
        _ => Handled::Now(not_served()),
    };
    let Handled::Now(answer) = handled else {
        return;
    };
    if answer_is_error(&answer) {
        js.api_errors.fetch_add(1, Ordering::Relaxed);
    }
    js.server.publish(reply, None, None, &answer);
}

/// Looks up stream `name` and hands `request` to its owner; answers "stream not found" (as
/// `T`'s error) if there is none.
pub(crate) fn defer_to<T: ApiResponse>(
    js: &Inner,
    name: &str,
    request: impl FnOnce(&Entry) -> Result<Request, ApiError>,
) -> Handled {
    let streams = js.streams.read();
    let r = streams
        .get(name)
        .ok_or_else(ApiError::stream_not_found)
        .and_then(|entry| Ok((entry, request(entry)?)));
    match r {
        Ok((entry, request)) => {
            js.defer(entry, request);
            Handled::Deferred
        }
        Err(e) => Handled::Now(respond::<T>(Err(e))),
    }
}

/// The answer to a subject no endpoint serves (nats-server v2.10.8+).
fn not_served() -> Vec<u8> {
    ErrorResponse::new(response_type::SYSTEM, ApiError::bad_request()).to_json()
}

/// The only answer a single server gives to leader stepdowns and peer removals.
fn cluster_required(response_type: &str) -> Vec<u8> {
    ErrorResponse::new(response_type, ApiError::cluster_required()).to_json()
}

/// A stream's state as its info reports it.
pub(crate) fn state_of(s: &StoreState, consumers: u64) -> StreamState {
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

/// A stream's info from its owner's latest snapshot.
/// The `cluster` block of a stream's info: its group's when replicated, else this server.
pub(crate) fn cluster_of(js: &Inner, entry: &Entry) -> ClusterInfo {
    match (&entry.replica, js.cluster.get()) {
        (Some(r), Some(c)) => crate::cluster::replica::cluster_info(c, r),
        _ => ClusterInfo::of(
            js.cluster_name.get().map(String::as_str),
            &js.config.server_name,
        ),
    }
}

pub(crate) fn info_of(entry: &Entry) -> StreamInfo {
    let consumers = entry.consumers.load(Ordering::Relaxed);
    let state = state_of(&entry.snapshot.get().state, consumers);
    StreamInfo::new(entry.config.clone(), entry.created, state)
}

fn account_info(js: &Inner) -> Vec<u8> {
    let streams = js.streams.read();
    let (mut memory, mut storage) = (0u64, 0u64);
    let mut consumers = 0;
    for e in streams.values() {
        consumers += e.consumers.load(Ordering::Relaxed) as usize;
        let bytes = e.snapshot.get().state.bytes;
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
        limits: js.config.limits.clone(),
        api: ApiStats {
            // nats-server counts a request once answered: this one is not in its total yet.
            total: js.api_requests.load(Ordering::Relaxed).saturating_sub(1),
            errors: js.api_errors.load(Ordering::Relaxed),
            inflight: 0,
        },
        domain: js.config.domain.clone().unwrap_or_default(),
        ..Default::default()
    })
    .to_json()
}

/// The account's streams and what all but `except` reserve (`limits.rs`).
fn account_usage(streams: &BTreeMap<String, Entry>, except: &str) -> AccountUsage {
    let mut usage = AccountUsage {
        streams: streams.len(),
        ..Default::default()
    };
    for (name, e) in streams {
        if name != except {
            usage.reserved.add(&StreamAsk::from(&e.config), 1);
        }
    }
    usage
}

/// Checks `cfg` against the account's and the server's limits (single server: a clustered
/// server's meta group has decided already) and reserves its `max_bytes`: for a create
/// (`old` `None`) a new reservation, for an update `old`'s changed.
fn reserve(
    js: &Inner,
    streams: &BTreeMap<String, Entry>,
    cfg: &StreamConfig,
    old: Option<&mut Option<Reservation>>,
) -> Result<Option<Reservation>, ApiError> {
    let ask = StreamAsk::from(cfg);
    let usage = account_usage(streams, &cfg.name);
    let pool = &js.config.reservations;
    let clustered = js.cluster.get().is_some();
    let creating = old.is_none();
    let check = |server_reserved: &crate::limits::Reserved| {
        if clustered {
            return Ok(());
        }
        check_stream(
            &js.config.limits,
            &pool.limits,
            &usage,
            server_reserved,
            &ask,
            creating,
        )
        .map_err(LimitError::api)
    };
    match old {
        Some(Some(reservation)) => reservation.change(ask, check).map(|()| None),
        Some(None) | None => Reservation::take(pool, ask, check).map(Some),
    }
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
    create_checked(js, cfg, Timestamp::now())
}

/// Creates stream `cfg` (checked) here, or answers with it if it exists with that config.
pub(crate) fn create_checked(
    js: &Inner,
    cfg: StreamConfig,
    created: Timestamp,
) -> Result<StreamCreateResponse, ApiError> {
    let mut streams = js.streams.write();
    // nats-server checks the limits before looking for a stream of that name.
    let reservation = reserve(js, &streams, &cfg, None)?;
    if let Some(existing) = streams.get(&cfg.name) {
        if existing.config == cfg {
            return Ok(StreamCreateResponse::new(info_of(existing), true));
        }
        return Err(ApiError::stream_name_exist());
    }
    if js.deleting.contains(&cfg.name) {
        return Err(ApiError::stream_create(
            "a stream of this name is being deleted; try again once its deletion is answered",
        ));
    }
    overlap_with_others(&streams, &cfg)?;
    js.save(&cfg, created)?;
    let entry = match js.start_stream(cfg.clone(), created) {
        Ok(e) => e,
        Err(e) => {
            let _ = js.meta.remove_stream(&cfg.name);
            return Err(ApiError::stream_create(e));
        }
    };
    let mut entry = entry;
    entry.reservation = reservation;
    let mut info = info_of(&entry);
    if let Some(cluster) = js.cluster_name.get() {
        // In a cluster, the holder's answer names the cluster and itself, as nats-server's.
        info.cluster = Some(ClusterInfo::of(Some(cluster), &js.config.server_name));
    }
    streams.insert(cfg.name.clone(), entry);
    Ok(StreamCreateResponse::new(info, true))
}

fn update(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    match parse_request::<StreamConfig>(body) {
        Ok(raw) => update_to(js, reply, name, raw),
        Err(e) => Handled::Now(respond::<StreamUpdateResponse>(Err(e))),
    }
}

/// Updates stream `name` here to `raw` (checked against its config); its owner answers.
pub(crate) fn update_to(js: &Inner, reply: &str, name: &str, raw: StreamConfig) -> Handled {
    let r = (|| {
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
        let mut held = streams
            .get_mut(name)
            .ok_or_else(ApiError::stream_not_found)?
            .reservation
            .take();
        let reserved = reserve(js, &streams, &cfg, Some(&mut held));
        let entry = streams
            .get_mut(name)
            .ok_or_else(ApiError::stream_not_found)?;
        entry.reservation = match reserved {
            Ok(new) => held.or(new),
            Err(e) => {
                entry.reservation = held;
                return Err(e);
            }
        };
        js.save(&cfg, entry.created)?;
        let op = StreamOp::UpdateConfig {
            config: Box::new(cfg.clone()),
            now_ns: now_ns(),
        };
        // The owner applies the new limits and answers; the API's copy of the config (for
        // checking later requests) and the subscriptions change now. Subscribed after the op
        // is queued, so that nothing on a new subject reaches the owner before it.
        js.defer(
            entry,
            Request::Op {
                op,
                answer: OpAnswer::StreamUpdate,
                reply: reply.to_owned(),
            },
        );
        let resubscribe = entry.config.subjects != cfg.subjects;
        entry.config = cfg;
        if resubscribe {
            if let Err(e) = js.subscribe_entry(entry) {
                tracing::error!(stream = %name, error = %e, "resubscribing after an update failed");
            }
        }
        Ok(())
    })();
    match r {
        Ok(()) => Handled::Deferred,
        Err(e) => Handled::Now(respond::<StreamUpdateResponse>(Err(e))),
    }
}

fn info(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    let req: StreamInfoRequest = match parse_optional_request(body) {
        Ok(r) => r,
        Err(e) => return Handled::Now(respond::<StreamInfoResponse>(Err(e))),
    };
    if !req.subjects_filter.is_empty() {
        // The subjects' counts come from the store's index: the owner answers.
        return defer_to::<StreamInfoResponse>(js, name, |_| {
            Ok(Request::Read {
                read: Read::StreamInfoSubjects {
                    filter: req.subjects_filter.clone(),
                    offset: req.offset,
                },
                reply: reply.to_owned(),
            })
        });
    }
    let streams = js.streams.read();
    let r = streams
        .get(name)
        .ok_or_else(ApiError::stream_not_found)
        .map(|entry| {
            let mut info = info_of(entry);
            info.cluster = Some(cluster_of(js, entry));
            StreamInfoResponse::new(info)
        });
    r.into()
}

/// Takes the stream out of the map and hands its deletion to its owner, which answers once
/// its records and files are gone (`deletion.rs`).
pub(crate) fn delete(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    if !is_empty_request(body) {
        return Err::<StreamDeleteResponse, _>(ApiError::not_empty_request()).into();
    }
    let Some(entry) = js.streams.write().remove(name) else {
        return Err::<StreamDeleteResponse, _>(ApiError::stream_not_found()).into();
    };
    js.delete_stream(entry, reply);
    Handled::Deferred
}

/// nats-server's order: the body (bad JSON 10025, `seq` with `keep` 10003), then the stream
/// (10059), sealed (10109), `deny_purge` (10110).
fn purge(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    let req = parse_optional_request::<StreamPurgeRequest>(body)
        .and_then(|req| req.validate().map(|()| req));
    let req = match req {
        Ok(req) => req,
        Err(e) => return Handled::Now(respond::<StreamPurgeResponse>(Err(e))),
    };
    defer_to::<StreamPurgeResponse>(js, name, |entry| {
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
        Ok(Request::Op {
            op: StreamOp::Purge(purge),
            answer: OpAnswer::StreamPurge,
            reply: reply.to_owned(),
        })
    })
}

fn matching_names(js: &Inner, filter: &str) -> Vec<String> {
    crate::config::names_matching(js.streams.read().values().map(|e| &e.config), filter)
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

/// nats-server's order: the body (empty 10003, bad JSON 10025, nothing or too much asked
/// 10003), then the stream (10059), then the message (10037, by the owner).
fn msg_get(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    match MsgGetRequest::parse_api(body) {
        Ok(kind) => defer_to::<MsgGetResponse>(js, name, |_| {
            Ok(Request::Read {
                read: Read::MsgGet(kind),
                reply: reply.to_owned(),
            })
        }),
        Err(e) => Handled::Now(respond::<MsgGetResponse>(Err(e))),
    }
}

/// nats-server's order: the body (empty, `{}` included, 10003; bad JSON 10025), then the
/// stream (10059), sealed (10109), `deny_delete` (10057), then the sequence (by the owner:
/// how a sequence that cannot be there is refused depends on the store, see `apply.rs`).
fn msg_delete(js: &Inner, reply: &str, name: &str, body: &[u8]) -> Handled {
    let req = match MsgDeleteRequest::parse(body) {
        Ok(req) => req,
        Err(e) => return Handled::Now(respond::<MsgDeleteResponse>(Err(e))),
    };
    defer_to::<MsgDeleteResponse>(js, name, |entry| {
        if entry.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if entry.config.deny_delete {
            return Err(ApiError::message_delete_not_permitted());
        }
        Ok(Request::Op {
            op: StreamOp::DeleteMsg { seq: req.seq },
            answer: OpAnswer::MsgDelete(req.seq),
            reply: reply.to_owned(),
        })
    })
}

/// `$JS.API.DIRECT.GET.<stream>[.<subject>]`: answered by the stream's owner with the message
/// itself (its headers plus Nats-Stream/Subject/Sequence/Time-Stamp) or a status-only header
/// block; a request that cannot be served is answered here.
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
    match kind {
        Ok(kind) => js.defer(
            entry,
            Request::Read {
                read: Read::DirectGet(kind),
                reply: reply.to_owned(),
            },
        ),
        Err(status) => {
            let a = status_answer(reply.to_owned(), status);
            js.server
                .publish(reply, None, a.headers.as_deref(), &a.payload);
        }
    }
}
