//! `$JS.API` in a cluster: every JetStream server receives every request (each subscribes to
//! `$JS.API.>`, and the routes carry requests to every server with interest), so each decides
//! whether it is the one that answers, as nats-server's servers do:
//!
//! - the meta leader answers what the assignments decide or know: stream create, update and
//!   delete (proposed to the meta group; the server holding the stream answers once it is
//!   done), names, list (gathered from the holders), account info (from every server's
//!   report), meta leader step-down, and anything about a stream no assignment names ("stream
//!   not found") or no endpoint serves;
//! - the server holding a stream answers what concerns it (info, purge, messages, consumers,
//!   direct gets) with the single-server handlers ([`Routed::Here`]);
//! - everybody else stays silent.
//!
//! Without a meta leader nobody answers the meta leader's requests, and the client times out,
//! as with nats-server; a proposal that does not commit in time is answered 10008.

use crate::api::deferred::{answer_is_error, respond};
use crate::api::errors::ApiError;
use crate::api::types::*;
use crate::cluster::meta::{MetaOp, StreamAssignment};
use crate::cluster::meta_machine::MetaEntry;
use crate::cluster::placement::{self, PeerInfo};
use crate::cluster::service::JsCluster;
use crate::config::{subjects_overlap, StreamConfig};
use crate::jetstream::Inner;
use crate::time::now_ns;
use sluice_server::{InternalMsg, InternalSink};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Who answers a request here.
pub(crate) enum Routed {
    /// This server, with the single-server handler.
    Here,
    /// Answered, handed on, or not this server's to answer.
    Done,
}

/// How long STREAM.LIST waits for the holders' infos.
const GATHER: Duration = Duration::from_secs(2);

/// The stream a stream-specific request names.
fn stream_of<'a>(tokens: &[&'a str]) -> Option<&'a str> {
    match tokens {
        ["STREAM", "INFO" | "PURGE", name]
        | ["STREAM", "MSG", "GET" | "DELETE", name]
        | ["CONSUMER", "CREATE" | "NAMES" | "LIST", name, ..]
        | ["CONSUMER", "INFO" | "DELETE" | "PAUSE", name, ..]
        | ["CONSUMER", "DURABLE", "CREATE", name, ..] => Some(name),
        _ => None,
    }
}

/// Decides who answers `tokens` (the subject after `$JS.API.`), and answers what the meta
/// leader answers.
pub(crate) fn route(
    js: &Inner,
    c: &Arc<JsCluster>,
    tokens: &[&str],
    reply: &str,
    body: &[u8],
) -> Routed {
    let leader = c.is_meta_leader();
    let answer = |bytes: Vec<u8>| {
        if answer_is_error(&bytes) {
            js.api_errors.fetch_add(1, Ordering::Relaxed);
        }
        js.server.publish(reply, None, None, &bytes);
    };
    match tokens {
        ["INFO"] => {
            if leader {
                answer(account_info(js, c));
            }
        }
        ["STREAM", "CREATE", name] => {
            if leader {
                if let Err(e) = create(c, name, reply, body) {
                    answer(respond::<StreamCreateResponse>(Err(e)));
                }
            }
        }
        ["STREAM", "UPDATE", name] => {
            if leader {
                if let Err(e) = update(c, name, reply, body) {
                    answer(respond::<StreamUpdateResponse>(Err(e)));
                }
            }
        }
        ["STREAM", "DELETE", name] => {
            if leader {
                if let Err(e) = delete(c, name, reply, body) {
                    answer(respond::<StreamDeleteResponse>(Err(e)));
                }
            }
        }
        ["STREAM", "NAMES"] => {
            if leader {
                answer(respond(names(c, body)));
            }
        }
        ["STREAM", "LIST"] => {
            if leader {
                match parse_optional_request::<StreamListRequest>(body) {
                    Ok(req) => list(c, req, reply),
                    Err(e) => answer(respond::<StreamListResponse>(Err(e))),
                }
            }
        }
        ["META", "LEADER", "STEPDOWN"] => {
            if leader {
                c.step_down();
                answer(crate::cluster::manage::success(
                    response_type::META_LEADER_STEPDOWN,
                ));
            }
        }
        ["SERVER", "REMOVE"] => {
            if leader {
                if let Some(a) = crate::cluster::manage::server_remove(c, reply, body) {
                    answer(a);
                }
            }
        }
        ["STREAM", "LEADER", "STEPDOWN", _]
        | ["STREAM", "PEER", "REMOVE", _]
        | ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
            if let Some(a) = crate::cluster::manage::stream_request(js, c, tokens, reply, body) {
                answer(a);
            }
        }
        ["ACCOUNT", ..] => {}
        _ => match stream_of(tokens) {
            Some(name) if js.streams.read().get(name).is_some_and(|e| e.serves()) => {
                return Routed::Here
            }
            // A follower replica: its leader answers.
            Some(name) if js.streams.read().contains_key(name) => {}
            Some(name) if leader && !c.state.read().streams.contains_key(name) => {
                return Routed::Here; // "stream not found", from the single-server handler
            }
            None if leader => return Routed::Here,
            _ => {}
        },
    }
    Routed::Done
}

/// A direct get (`$JS.API.DIRECT.GET.<stream>...`): the holder answers.
pub(crate) fn route_direct(js: &Inner, name: &str) -> Routed {
    if js.streams.read().get(name).is_some_and(|e| e.serves()) {
        Routed::Here
    } else {
        Routed::Done
    }
}

fn create(c: &JsCluster, name: &str, reply: &str, body: &[u8]) -> Result<(), ApiError> {
    let raw: StreamConfig = parse_request(body)?;
    let cfg = raw.check_create_clustered(name)?;
    let state = c.state.read();
    if let Some(sa) = state.streams.get(&cfg.name) {
        if sa.config != cfg {
            return Err(ApiError::stream_name_exist());
        }
    } else if state
        .streams
        .values()
        .any(|sa| subjects_overlap(&sa.config.subjects, &cfg.subjects))
    {
        return Err(ApiError::stream_subject_overlap());
    }
    let existing = state.streams.get(&cfg.name).cloned();
    drop(state);
    let created_ns = now_ns();
    let sa = match existing {
        // The holder answers with the stream's info.
        Some(sa) => sa,
        None => {
            let peers = place(c, &cfg, created_ns, &[], &[])?;
            StreamAssignment {
                group: format!("S-{}-{created_ns:x}", cfg.name),
                config: cfg,
                peers,
                created_ns,
            }
        }
    };
    c.propose(
        MetaEntry {
            op: MetaOp::AddStream(Box::new(sa)),
            reply: Some(reply.to_owned()),
        },
        response_type::STREAM_CREATE,
    );
    Ok(())
}

/// Where a stream's replicas go: among the servers that reported recently, keeping
/// `existing` (scaling), never on `ignore` (a peer being removed).
pub(crate) fn place(
    c: &JsCluster,
    cfg: &StreamConfig,
    seed: i64,
    existing: &[String],
    ignore: &[String],
) -> Result<Vec<String>, ApiError> {
    let members = c.meta_peers();
    let peers: Vec<PeerInfo> = c
        .peers
        .all()
        .into_iter()
        .filter(|(r, _)| members.contains(&r.name))
        .map(|(r, online)| PeerInfo {
            name: r.name,
            cluster: r.cluster,
            tags: r.tags,
            offline: !online,
            // No storage accounting across servers yet: every server has room.
            available: u64::MAX,
            ha_assets: r.streams,
        })
        .collect();
    let placement = cfg.placement.clone().unwrap_or_default();
    let cluster = if placement.cluster.is_empty() {
        c.settings.name.as_str()
    } else {
        placement.cluster.as_str()
    };
    let req = placement::Request {
        replicas: cfg.num_replicas.max(1) as usize,
        cluster,
        tags: &placement.tags,
        max_bytes: 0,
        unique_tag: &c.settings.unique_tag,
        existing,
        ignore,
        seed: seed as u64,
    };
    placement::place(&req, &peers).map_err(ApiError::cluster_no_peers)
}

fn update(c: &JsCluster, name: &str, reply: &str, body: &[u8]) -> Result<(), ApiError> {
    let raw: StreamConfig = parse_request(body)?;
    let mut one = raw.clone();
    one.num_replicas = 1;
    if one.checked()?.name != name {
        return Err(ApiError::stream_mismatch());
    }
    let state = c.state.read();
    let sa = state
        .streams
        .get(name)
        .ok_or_else(ApiError::stream_not_found)?;
    let cfg = sa.config.check_update_clustered(&raw)?;
    let peers = if cfg.num_replicas == sa.config.num_replicas {
        sa.peers.clone()
    } else if cfg.num_replicas == 1 || sa.config.num_replicas == 1 {
        return Err(ApiError::stream_update(
            "num_replicas: a stream moves between one replica and several only by being \
             made again (a single-server stream's data is not in a Raft log); scaling \
             between 2 and 5 replicas is served",
        ));
    } else {
        // Scaling: the replicas kept first, then new ones placed as for a create.
        place(c, &cfg, now_ns(), &sa.peers, &[])?
    };
    if state
        .streams
        .values()
        .any(|o| o.config.name != name && subjects_overlap(&o.config.subjects, &cfg.subjects))
    {
        return Err(ApiError::stream_subject_overlap());
    }
    drop(state);
    c.propose(
        MetaEntry {
            op: MetaOp::UpdateStream {
                config: Box::new(cfg),
                peers,
            },
            reply: Some(reply.to_owned()),
        },
        response_type::STREAM_UPDATE,
    );
    Ok(())
}

fn delete(c: &JsCluster, name: &str, reply: &str, body: &[u8]) -> Result<(), ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::not_empty_request());
    }
    if !c.state.read().streams.contains_key(name) {
        return Err(ApiError::stream_not_found());
    }
    c.propose(
        MetaEntry {
            op: MetaOp::RemoveStream {
                name: name.to_owned(),
            },
            reply: Some(reply.to_owned()),
        },
        response_type::STREAM_DELETE,
    );
    Ok(())
}

fn matching(c: &JsCluster, filter: &str) -> Vec<String> {
    crate::config::names_matching(c.state.read().streams.values().map(|sa| &sa.config), filter)
}

fn names(c: &JsCluster, body: &[u8]) -> Result<StreamNamesResponse, ApiError> {
    let req: StreamNamesRequest = parse_optional_request(body)?;
    Ok(StreamNamesResponse::page(
        matching(c, &req.subject),
        req.offset,
    ))
}

/// Every server's last report, added up; the stream count is the assignments'.
fn account_info(js: &Inner, c: &JsCluster) -> Vec<u8> {
    let (mut memory, mut storage, mut consumers) = (0, 0, 0);
    let members = c.meta_peers();
    for (r, _) in c.peers.all() {
        if members.contains(&r.name) || r.name == c.me {
            memory += r.memory;
            storage += r.storage;
            consumers += r.consumers as usize;
        }
    }
    AccountInfoResponse::new(AccountStats {
        memory,
        storage,
        streams: c.state.read().streams.len(),
        consumers,
        api: ApiStats {
            total: js.api_requests.load(Ordering::Relaxed),
            errors: js.api_errors.load(Ordering::Relaxed),
            inflight: 0,
        },
        domain: js.config.domain.clone().unwrap_or_default(),
        ..Default::default()
    })
    .to_json()
}

/// Collects replies on an inbox.
struct Gather(mpsc::Sender<InternalMsg>);

impl InternalSink for Gather {
    fn deliver(&self, msg: InternalMsg) {
        let _ = self.0.try_send(msg);
    }
}

/// STREAM.LIST: asks each holder for its stream's info (at most [`GATHER`]), then answers;
/// streams whose holder did not answer are listed as `missing`, as nats-server does.
fn list(c: &Arc<JsCluster>, req: StreamListRequest, reply: &str) {
    let mut all = matching(c, &req.subject);
    all.sort();
    let (paged, page) = ApiPaged::page(all, req.offset, LIST_LIMIT);
    let server = c.server.clone();
    let reply = reply.to_owned();
    let inbox = format!("_INBOX.sluice-list.{:x}", now_ns());
    c.rt.spawn(async move {
        let (tx, mut rx) = mpsc::channel(page.len().max(1));
        let sub = server.subscribe(&format!("{inbox}.*"), None, Arc::new(Gather(tx)));
        let mut infos: Vec<Option<StreamInfo>> = vec![None; page.len()];
        if let Ok(_sub) = &sub {
            for (i, name) in page.iter().enumerate() {
                let subject = format!("$JS.API.STREAM.INFO.{name}");
                server.publish(&subject, Some(&format!("{inbox}.{i}")), None, b"");
            }
            let deadline = tokio::time::Instant::now() + GATHER;
            let mut got = 0;
            while got < page.len() {
                let Ok(Some(msg)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                    break;
                };
                let i: Option<usize> = msg.subject.rsplit('.').next().and_then(|t| t.parse().ok());
                if let (Some(i), Ok(info)) = (i, serde_json::from_slice::<StreamInfo>(&msg.payload))
                {
                    if i < infos.len() && infos[i].is_none() {
                        infos[i] = Some(info);
                        got += 1;
                    }
                }
            }
        }
        let mut resp = StreamListResponse::page(Vec::new(), 0);
        resp.paged = paged;
        for (name, info) in page.into_iter().zip(infos) {
            match info {
                Some(info) => resp.streams.push(info),
                None => resp.missing.push(name),
            }
        }
        server.publish(&reply, None, None, &respond::<StreamListResponse>(Ok(resp)));
    });
}
