//! Replicated streams on this server: starting a replica (its owner, then its Raft group on
//! the node's log, fed by [`StreamMachine`]), following who leads it, and removing it. The
//! roles of leader and follower in the owner's step are `writer/replicated.rs`'s.
//!
//! A replica's files are rebuilt whenever it starts: they are cleared, the group's latest
//! snapshot (if it took one: `stream_machine.rs`) is installed, and the entries after it are
//! applied from the log. An empty or replaced server catches up the same way, from the
//! leader's snapshot and log.

use crate::api::deferred::{respond, OpAnswer, Request};
use crate::api::errors::ApiError;
use crate::api::types::{ClusterInfo, PeerInfo, StreamCreateResponse, StreamDeleteResponse};
use crate::cluster::meta::{MetaOp, StreamAssignment};
use crate::cluster::service::JsCluster;
use crate::cluster::stream_machine::StreamMachine;
use crate::jetstream::Inner;
use crate::op::StreamOp;
use crate::replication::Replica;
use crate::time::now_ns;
use crate::time::Timestamp;
use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use sluice_raft::{node_id, GroupOptions, TypeConfig};
use sluice_server::CancellationToken;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, warn};

/// The directory of a group's state besides its log.
fn group_dir(js: &Inner, group: &str) -> std::path::PathBuf {
    js.config
        .store_dir
        .join("_cluster")
        .join("groups")
        .join(group)
}

/// Starts this server's replica of `sa` (unless it runs); with `initialize` (the stream was
/// just created and this server is the peer [`former`] names), forms its group.
pub(crate) fn start(
    js: &Inner,
    c: &Arc<JsCluster>,
    sa: &StreamAssignment,
    initialize: bool,
) -> Result<(), String> {
    let name = &sa.config.name;
    let running = js
        .streams
        .read()
        .get(name)
        .map(|e| e.replica.as_ref().and_then(|r| r.raft.get().cloned()));
    if let Some(raft) = running {
        // Started already: by the periodic pass (`local::ensure_placed`), which may see the
        // assignment before its create is handed here. The group is formed all the same.
        if let (true, Some(raft)) = (initialize, raft) {
            c.rt.block_on(form(&raft, sa));
        }
        return Ok(());
    }
    // The files are rebuilt from the group's log (see the module doc).
    let dir = js.replica_dir(name);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(format!("clearing {}: {e}", dir.display()));
        }
    }
    let replica = Replica::new(&sa.group, sa.peers.clone(), c.rt.clone());
    let created = Timestamp::from_unix_nanos(sa.created_ns);
    let entry = js
        .start_stream_with(sa.config.clone(), created, Some(replica.clone()))
        .map_err(|e| e.to_string())?;
    let tx = entry.tx.clone().expect("a new stream has its writer");
    let wake = tx.clone();
    replica.set_wake(Box::new(move || wake.wake()));
    let machine = StreamMachine::new(
        tx,
        &sa.group,
        replica.clone(),
        entry.snapshot.clone(),
        c.settings.snapshot_log_bytes,
    );
    js.streams.write().insert(name.clone(), entry);
    let gdir = group_dir(js, &sa.group);
    let started = c.rt.block_on(async {
        let (raft, _store) = c
            .logs
            // Snapshots when the machine asks (`StreamMachine`), not every so many entries.
            .start_group(
                &c.node,
                &sa.group,
                machine,
                &gdir,
                GroupOptions {
                    snapshots: false,
                    // A group assigned before this server came back on a wiped store: it
                    // may have been a member, and promised entries.
                    recovering: c.lost.contains(&sa.group),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        if initialize {
            form(&raft, sa).await;
        }
        Ok::<_, String>(raft)
    });
    let raft = match started {
        Ok(r) => r,
        Err(e) => {
            if let Some(mut entry) = js.streams.write().remove(name) {
                entry.stop();
            }
            return Err(e);
        }
    };
    let _ = replica.raft.set(raft.clone());
    let (weak_c, weak_r) = (Arc::downgrade(c), Arc::downgrade(&replica));
    replica.set_cluster_info(Box::new(move || {
        match (weak_c.upgrade(), weak_r.upgrade()) {
            (Some(c), Some(r)) => cluster_info(&c, &r),
            _ => ClusterInfo::default(),
        }
    }));
    c.spawn(watch_leader(raft, replica, c.node.id(), c.stop_token()));
    Ok(())
}

/// The peer that forms a new stream's group (and so usually wins its first election): picked
/// by the group's name among the peers, so that the leaders of many streams spread over the
/// servers instead of all landing on the first placed one.
pub(crate) fn former(sa: &StreamAssignment) -> Option<&str> {
    if sa.peers.is_empty() {
        return None;
    }
    let at = (node_id(&sa.group) % sa.peers.len() as u64) as usize;
    Some(sa.peers[at].as_str())
}

/// Forms a new stream's group with the assigned peers as its voters (on the peer
/// [`former`] names, when the create is committed; a group that has a log already is left
/// as it is).
async fn form(raft: &Raft<TypeConfig>, sa: &StreamAssignment) {
    let members: BTreeMap<u64, BasicNode> = sa
        .peers
        .iter()
        .map(|p| (node_id(p), BasicNode { addr: p.clone() }))
        .collect();
    if let Err(e) = raft.initialize(members).await {
        // Formed already (a replay of the create, or a restart): nothing to do.
        tracing::debug!(group = %sa.group, error = %e, "group not initialized");
    }
}

/// Keeps the replica's idea of whether it leads up to date, until the group stops.
async fn watch_leader(
    raft: Raft<TypeConfig>,
    replica: Arc<Replica>,
    me: u64,
    stop: CancellationToken,
) {
    let mut rx = raft.server_metrics();
    loop {
        let (leads, another) = {
            let m = rx.borrow_and_update();
            let leads = m.state == ServerState::Leader && m.current_leader == Some(me);
            let known = m
                .current_leader
                .is_some_and(|id| m.membership_config.nodes().any(|(n, _)| *n == id));
            (leads, known && !leads)
        };
        if another {
            // Another server leads: it answers the create.
            replica.take_create_reply();
        }
        replica.set_leader(leads);
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break },
            _ = stop.cancelled() => break,
        }
    }
    replica.set_leader(false);
}

/// Stops this server's replica of stream `name` (group `group`) and removes its data and its
/// log: the stream was deleted, or this server no longer holds a replica.
pub(crate) fn remove(js: &Inner, c: &Arc<JsCluster>, name: &str, group: &str) {
    c.rt.block_on(async {
        c.node.stop_group(group).await;
        c.logs.remove(group).await;
    });
    let entry = js.streams.write().remove(name);
    if let Some(entry) = entry {
        js.delete_stream(entry, "");
    }
    let gdir = group_dir(js, group);
    if let Err(e) = std::fs::remove_dir_all(&gdir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            warn!(group, error = %e, "removing a group's directory failed");
        }
    }
}

/// The `cluster` block of a replicated stream's info, as its leader gives it: the other
/// replicas with whether they are current, when last heard and how far behind.
pub(crate) fn cluster_info(c: &JsCluster, replica: &Replica) -> ClusterInfo {
    use crate::cluster::peers::{peer_id, OFFLINE_AFTER};
    let mut info = ClusterInfo {
        name: c.settings.name.clone(),
        raft_group: replica.group.clone(),
        ..ClusterInfo::default()
    };
    let Some(raft) = replica.raft.get() else {
        return info;
    };
    let m = raft.metrics().borrow().clone();
    let leader = m
        .current_leader
        .and_then(|id| {
            m.membership_config
                .nodes()
                .find(|(n, _)| **n == id)
                .map(|(_, n)| n.addr.clone())
        })
        .unwrap_or_default();
    info.leader = leader.clone();
    let last = m.last_log_index.unwrap_or(0);
    let peers = replica.peers.read().clone();
    for p in peers.iter().filter(|p| **p != leader) {
        let matched = m
            .replication
            .as_ref()
            .and_then(|r| r.get(&node_id(p)).cloned())
            .flatten()
            .map(|l| l.index);
        // Only the leader knows how far each replica is.
        let lag = match (&m.replication, matched) {
            (None, _) => 0,
            (Some(_), m) => m.map_or(last, |i| last.saturating_sub(i)),
        };
        let heard = if *p == c.me {
            Some(Duration::ZERO)
        } else {
            c.node.last_heard(node_id(p))
        };
        info.replicas.push(PeerInfo {
            name: p.to_string(),
            current: matched.is_some() && lag == 0,
            offline: heard.is_none_or(|d| d > OFFLINE_AFTER),
            active: heard.map_or(0, |d| d.as_nanos() as i64),
            lag,
            peer: peer_id(p),
        });
    }
    info
}

/// What this server does about a committed change to a replicated stream's assignment
/// (`local.rs` hands them here): start, change or remove its replica, and answer `reply`
/// (when the op was proposed while this server runs) if it is this server's to answer.
pub(crate) fn on_assignment(
    c: &Arc<JsCluster>,
    js: &Inner,
    op: MetaOp,
    sa: StreamAssignment,
    reply: Option<&str>,
    live: bool,
) {
    let holds = sa.peers.contains(&c.me);
    let first = former(&sa) == Some(c.me.as_str());
    match op {
        MetaOp::AddStream(_) if holds => {
            // A group this server may have lost its state in exists elsewhere already: it
            // is not formed again from here.
            let r = start(js, c, &sa, live && first && !c.lost.contains(&sa.group));
            match (r, reply) {
                (Err(e), Some(reply)) if first => {
                    let a = respond::<StreamCreateResponse>(Err(ApiError::stream_create(e)));
                    js.server.publish(reply, None, None, &a);
                }
                (Err(e), _) => {
                    warn!(stream = %sa.config.name, error = %e, "starting a replica placed here failed")
                }
                // The group's leader answers once it listens on the stream's subjects, so
                // that a publish right after the answer finds it (`writer/replicated.rs`).
                (Ok(()), Some(reply)) => {
                    if let Some(r) = js
                        .streams
                        .read()
                        .get(&sa.config.name)
                        .and_then(|e| e.replica.clone())
                    {
                        r.set_create_reply(reply);
                    }
                }
                (Ok(()), None) => {}
            }
        }
        MetaOp::UpdateStream { .. } | MetaOp::RemovePeer { .. } => {
            let running = js.streams.read().contains_key(&sa.config.name);
            if holds && !running {
                // A new member: it joins once the group's leader adds it.
                if let Err(e) = start(js, c, &sa, false) {
                    warn!(stream = %sa.config.name, error = %e, "starting a replica placed here failed");
                }
            }
            if let MetaOp::RemovePeer { .. } = op {
                if let (Some(reply), true) = (reply, c.is_meta_leader()) {
                    let a = crate::cluster::manage::success(
                        crate::api::types::response_type::STREAM_REMOVE_PEER,
                    );
                    js.server.publish(reply, None, None, &a);
                }
            } else if running {
                // Its leader proposes the new config and answers, even when this change
                // leaves it out (it hands over afterwards: `reconcile`).
                update(js, sa, reply);
            }
            reconcile(c, js);
        }
        MetaOp::RemoveStream { .. } => {
            if holds {
                remove(js, c, &sa.config.name, &sa.group);
            }
            if let (Some(reply), true) = (reply, c.is_meta_leader()) {
                let a = respond::<StreamDeleteResponse>(Ok(StreamDeleteResponse::success()));
                js.server.publish(reply, None, None, &a);
            }
        }
        _ => {}
    }
}

/// A replica takes a new config: the server's copy (for checking requests) and the
/// subscriptions at once; the stream's own config through its group, proposed by the leader,
/// which answers.
fn update(js: &Inner, sa: StreamAssignment, reply: Option<&str>) {
    let name = sa.config.name.clone();
    let mut streams = js.streams.write();
    let Some(entry) = streams.get_mut(&name) else {
        return;
    };
    if entry.serves() {
        let op = StreamOp::UpdateConfig {
            config: Box::new(sa.config.clone()),
            now_ns: now_ns(),
        };
        js.defer(
            entry,
            Request::Op {
                op,
                answer: OpAnswer::StreamUpdate,
                reply: reply.unwrap_or_default().to_owned(),
            },
        );
    }
    let resubscribe = entry.config.subjects != sa.config.subjects;
    entry.config = sa.config;
    if resubscribe {
        if let Err(e) = js.subscribe_entry(entry) {
            error!(stream = %name, error = %e, "resubscribing after an update failed");
        }
    }
}

/// Brings this server's replicas in line with the assignments: a leader changes its group's
/// membership to the assigned peers (new ones added as learners first, then the voters
/// replaced); a replica whose server is no longer assigned leaves once its group's
/// membership no longer names it (or at once if its stream is gone). Run after every
/// assignment change and every 2 s.
pub(crate) fn reconcile(c: &Arc<JsCluster>, js: &Inner) {
    let running: Vec<(String, Arc<Replica>)> = js
        .streams
        .read()
        .iter()
        .filter_map(|(n, e)| e.replica.clone().map(|r| (n.clone(), r)))
        .collect();
    let me = c.node.id();
    for (name, r) in running {
        let sa = c.state.read().streams.get(&name).cloned();
        match sa {
            Some(sa) if sa.group == r.group => {
                *r.peers.write() = sa.peers.clone();
                let holds = sa.peers.contains(&c.me);
                let Some(raft) = r.raft.get().cloned() else {
                    continue;
                };
                if holds {
                    if r.is_leader() && r.start_membership_change() {
                        let r2 = r.clone();
                        c.spawn(async move {
                            change_membership(&raft, &sa.peers).await;
                            r2.membership_changed();
                        });
                    }
                } else if r.is_leader() {
                    // Left out while leading: hand over to a member that stays, which then
                    // changes the membership.
                    if r.start_membership_change() {
                        let (node, r2) = (c.node.clone(), r.clone());
                        c.spawn(async move {
                            if let Err(e) = node.step_down(&r2.group).await {
                                warn!(group = %r2.group, error = %e, "handing over a group this server leaves");
                            }
                            r2.membership_changed();
                        });
                    }
                } else if has_left(&raft, me) {
                    remove(js, c, &name, &r.group);
                }
            }
            // Deleted (or made again, with another group) while this replica ran.
            _ => remove(js, c, &name, &r.group),
        }
    }
}

/// Whether a server no longer assigned to a group may drop its replica: the group's
/// membership no longer names it, or the newest configuration it has applied keeps it only as
/// a learner (a voter removed by [`change_membership`] stays a learner until it has applied
/// that configuration, so that it learns it is out; the leader removes it afterwards). Once a
/// configuration leaving it out is committed, a majority of the remaining voters holds every
/// committed entry, so nothing acknowledged depends on this copy.
fn has_left(raft: &Raft<TypeConfig>, me: u64) -> bool {
    let m = raft.metrics().borrow().clone();
    let stored = &m.membership_config;
    let membership = stored.membership();
    if membership.get_node(&me).is_none() {
        return true;
    }
    let voter = membership
        .get_joint_config()
        .iter()
        .any(|config| config.contains(&me));
    !voter && stored.log_id().is_some() && m.last_applied >= *stored.log_id()
}

/// Makes `peers` the group's voters (idempotent; on the leader): new members are added as
/// learners and caught up first; removed voters are kept as learners until they have the
/// configuration that demotes them (see [`has_left`]), then removed.
async fn change_membership(raft: &Raft<TypeConfig>, peers: &[String]) {
    let want: BTreeSet<u64> = peers.iter().map(|p| node_id(p)).collect();
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership().clone();
    let have: BTreeSet<u64> = membership.voter_ids().collect();
    if want.is_empty() {
        return;
    }
    if want != have {
        for p in peers {
            let id = node_id(p);
            if have.contains(&id) {
                continue;
            }
            let node = BasicNode { addr: p.clone() };
            let added =
                tokio::time::timeout(Duration::from_secs(30), raft.add_learner(id, node, true));
            match added.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    warn!(peer = %p, error = %e, "adding a replica to its group failed; tried again later");
                    return;
                }
                Err(_) => {
                    warn!(peer = %p, "a new replica did not catch up within 30 s; tried again later");
                    return;
                }
            }
        }
        if let Err(e) = raft.change_membership(want, true).await {
            warn!(error = %e, "changing a group's members failed; tried again later");
        }
        return;
    }
    // Learners left from removed voters: removed once they have the configuration that
    // demoted them.
    let Some(at) = m.membership_config.log_id().map(|l| l.index) else {
        return;
    };
    let caught_up: BTreeSet<u64> = membership
        .learner_ids()
        .filter(|id| !want.contains(id))
        .filter(|id| {
            m.replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .is_some_and(|l| l.index >= at)
        })
        .collect();
    if caught_up.is_empty() {
        return;
    }
    if let Err(e) = raft
        .change_membership(ChangeMembers::RemoveNodes(caught_up), false)
        .await
    {
        warn!(error = %e, "removing departed replicas from a group failed; tried again later");
    }
}

/// This server's groups and log for monitoring (`/jsz` `raft`, `sluice_raft_*`).
pub(crate) fn raft_stats(
    c: &JsCluster,
    streams: &BTreeMap<String, crate::jetstream::Entry>,
) -> sluice_server::RaftStats {
    let mut out = sluice_server::RaftStats::default();
    for (_, raft) in c.node.groups_snapshot() {
        out.groups += 1;
        let m = raft.metrics().borrow().clone();
        if m.state == ServerState::Leader {
            out.leaders += 1;
        }
    }
    if let crate::cluster::logs::Logs::Wal(wal) = &c.logs {
        let w = wal.stats();
        out.wal_appends = w.appends;
        out.wal_entries = w.entries;
        out.wal_bytes = w.bytes_written;
        out.wal_fsyncs = w.fsyncs;
    }
    for (name, e) in streams {
        let Some(r) = &e.replica else { continue };
        let info = cluster_info(c, r);
        let leads = r.is_leader();
        let (snapshot, purged) = r.raft.get().map_or((0, 0), |raft| {
            let m = raft.metrics().borrow().clone();
            (
                m.snapshot.map_or(0, |l| l.index),
                m.purged.map_or(0, |l| l.index),
            )
        });
        out.streams.push(sluice_server::StreamGroup {
            stream: name.clone(),
            raft_group: r.group.clone(),
            leader: info.leader,
            snapshot,
            purged,
            replicas: if leads {
                info.replicas
                    .into_iter()
                    .map(|p| sluice_server::PeerReplica {
                        name: p.name,
                        current: p.current,
                        active: p.active.max(0) as u64,
                        offline: p.offline,
                        lag: p.lag,
                        peer: p.peer,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(group: &str) -> StreamAssignment {
        StreamAssignment {
            config: serde_json::from_str(r#"{"name":"s","subjects":["s"],"num_replicas":3}"#)
                .unwrap(),
            group: group.to_owned(),
            peers: vec!["n1".into(), "n2".into(), "n3".into()],
            created_ns: 1,
        }
    }

    #[test]
    fn groups_are_formed_by_peers_spread_by_group_name() {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for k in 0..300 {
            let sa = assignment(&format!("S-s{k}-18eefe527beaa{k:03x}"));
            let f = former(&sa).unwrap();
            assert_eq!(former(&sa), Some(f), "the same group, the same peer");
            *count.entry(f.to_owned()).or_default() += 1;
        }
        assert_eq!(count.len(), 3, "{count:?}");
        assert!(
            count.values().all(|&n| (60..=140).contains(&n)),
            "{count:?}"
        );
        let mut none = assignment("g");
        none.peers.clear();
        assert_eq!(former(&none), None);
    }
}
