//! The cluster's management requests (`api.rs` routes them here): `SERVER.REMOVE` (the meta
//! leader takes a server out of the meta group), and the step-downs and peer removal of
//! streams and consumers, which for a stream with one replica are refused: there is no other
//! server to lead it, and removing its only replica would lose its messages (nats-server
//! answers success to the first and, to the second, moves the stream to an empty store:
//! protocol-spec/differences.md).

use crate::api::errors::ApiError;
use crate::api::types::{is_empty_request, parse_request, response_type, ErrorResponse};
use crate::cluster::meta::MetaOp;
use crate::cluster::meta_machine::MetaEntry;
use crate::cluster::peers::peer_id;
use crate::cluster::service::JsCluster;
use crate::jetstream::Inner;
use openraft::ChangeMembers;
use serde::Deserialize;
use sluice_raft::node_id;
use std::sync::Arc;
use std::time::Duration;

/// `SERVER.REMOVE`'s body: the server by name or by peer id.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ServerRemove {
    peer: String,
    peer_id: String,
}

/// `STREAM.PEER.REMOVE`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PeerRemove {
    peer: String,
}

fn error(kind: &str, e: ApiError) -> Vec<u8> {
    ErrorResponse::new(kind, e).to_json()
}

pub(crate) fn success(kind: &str) -> Vec<u8> {
    format!(r#"{{"type":"{kind}","success":true}}"#).into_bytes()
}

/// `SERVER.REMOVE` on the meta leader: answered once the change is committed.
pub(crate) fn server_remove(c: &Arc<JsCluster>, reply: &str, body: &[u8]) -> Option<Vec<u8>> {
    let kind = response_type::META_SERVER_REMOVE;
    if is_empty_request(body) {
        return Some(error(kind, ApiError::bad_request()));
    }
    let req: ServerRemove = match parse_request(body) {
        Ok(r) => r,
        Err(e) => return Some(error(kind, e)),
    };
    let members = c.meta_peers();
    let Some(name) = members.into_iter().find(|m| {
        (!req.peer.is_empty() && *m == req.peer)
            || (!req.peer_id.is_empty() && peer_id(m) == req.peer_id)
    }) else {
        return Some(error(kind, ApiError::cluster_server_not_member()));
    };
    let meta = c.meta.clone();
    let server = c.server.clone();
    let reply = reply.to_owned();
    c.rt.spawn(async move {
        // First remembered as removed (so the leader does not add it back), then removed.
        let entry = MetaEntry {
            op: MetaOp::RemoveServer { name: name.clone() },
            reply: None,
        };
        let remember = meta.client_write(bytes::Bytes::from(entry.encode()));
        let id = node_id(&name);
        let done = async {
            remember.await.map_err(|e| e.to_string())?;
            meta.change_membership(ChangeMembers::RemoveVoters([id].into()), false)
                .await
                .map_err(|e| e.to_string())?;
            meta.change_membership(ChangeMembers::RemoveNodes([id].into()), false)
                .await
                .map_err(|e| e.to_string())
        };
        let answer = match tokio::time::timeout(Duration::from_secs(10), done).await {
            Ok(Ok(_)) => success(kind),
            _ => error(kind, ApiError::cluster_not_avail()),
        };
        server.publish(&reply, None, None, &answer);
    });
    None
}

/// A stream's or consumer's leader step-down, or a stream's peer removal, named `stream`.
/// `here`: the stream is held by this server; `leader`: this server leads the meta group.
/// Returns the answer this server gives, if it is the one to answer.
pub(crate) fn stream_request(
    js: &Inner,
    c: &JsCluster,
    tokens: &[&str],
    reply: &str,
    body: &[u8],
) -> Option<Vec<u8>> {
    let (kind, stream, consumer) = match tokens {
        ["STREAM", "LEADER", "STEPDOWN", s] => (response_type::STREAM_LEADER_STEPDOWN, *s, None),
        ["STREAM", "PEER", "REMOVE", s] => (response_type::STREAM_REMOVE_PEER, *s, None),
        ["CONSUMER", "LEADER", "STEPDOWN", s, name] => {
            (response_type::CONSUMER_LEADER_STEPDOWN, *s, Some(*name))
        }
        _ => return None,
    };
    let here = js.streams.read().get(stream).map(|e| e.snapshot.get());
    let assigned = c.state.read().streams.get(stream).cloned();
    let leader = c.is_meta_leader();
    let Some(sa) = assigned else {
        // Nobody holds it: the meta leader says so.
        return leader.then(|| error(kind, ApiError::stream_not_found()));
    };
    if kind == response_type::STREAM_REMOVE_PEER {
        if !leader {
            return None;
        }
        let req: PeerRemove = if is_empty_request(body) {
            PeerRemove::default()
        } else {
            match parse_request(body) {
                Ok(r) => r,
                Err(e) => return Some(error(kind, e)),
            }
        };
        if req.peer.is_empty() {
            return Some(error(kind, ApiError::bad_request()));
        }
        if !sa.peers.contains(&req.peer) {
            return Some(error(kind, ApiError::cluster_peer_not_member()));
        }
        if sa.config.num_replicas > 1 {
            // Replaced by a server that holds no replica, if one is free; else removed.
            let others: Vec<String> = sa
                .peers
                .iter()
                .filter(|p| **p != req.peer)
                .cloned()
                .collect();
            let ignore = [req.peer.clone()];
            let replacement =
                crate::cluster::api::place(c, &sa.config, crate::time::now_ns(), &others, &ignore)
                    .ok()
                    .and_then(|all| all.into_iter().find(|p| !others.contains(p)));
            c.propose(
                crate::cluster::meta_machine::MetaEntry {
                    op: crate::cluster::meta::MetaOp::RemovePeer {
                        stream: stream.to_owned(),
                        peer: req.peer,
                        replacement,
                    },
                    reply: Some(reply.to_owned()),
                },
                kind,
            );
            return None;
        }
        return Some(error(
            kind,
            ApiError::new(
                503,
                crate::api::errors::codes::PEER_REMAP,
                "peer remap failed: the stream has one replica; removing it would lose its messages",
            ),
        ));
    }
    // Step-downs: the holder (a replicated stream's leader) answers.
    let snapshot = here?;
    let replica = js
        .streams
        .read()
        .get(stream)
        .and_then(|e| e.replica.clone());
    if replica.as_ref().is_some_and(|r| !r.is_leader()) {
        return None;
    }
    if !(is_empty_request(body) || body.trim_ascii() == b"{}") {
        return Some(error(kind, ApiError::bad_request()));
    }
    if let Some(name) = consumer {
        if !snapshot.consumer_names.iter().any(|n| n == name) {
            return Some(error(kind, ApiError::consumer_not_found()));
        }
    }
    if let Some(r) = replica {
        // A consumer is replicated in its stream's group: its leader is the stream's.
        let node = c.node.clone();
        c.rt.spawn(async move {
            if let Err(e) = node.step_down(&r.group).await {
                tracing::warn!(group = %r.group, error = %e, "stream leader step-down");
            }
        });
        return Some(success(kind));
    }
    Some(error(
        kind,
        ApiError::new(
            400,
            crate::api::errors::codes::BAD_REQUEST,
            "leader step-down: the stream has one replica; there is no other server to lead it",
        ),
    ))
}
