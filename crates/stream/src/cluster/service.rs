//! Clustered JetStream on one server ([`JsCluster`]): its Raft node (groups over the routes),
//! the meta group, and the tasks that keep them going:
//!
//! - the membership loop: forms the meta group once (`bootstrap.rs`), and, on the meta
//!   leader, adds the JetStream servers that join later;
//! - the report loop: tells the other servers this one's name, tags and usage (`peers.rs`);
//! - the reconciler: does on this server what the committed meta ops ask of it (start the
//!   streams placed here, change or remove them), and sends the API answers they owe
//!   (`local.rs`).
//!
//! Stopped explicitly (`JsCluster::shutdown`): the tasks end, the groups stop.

use crate::api::errors::ApiError;
use crate::api::types::ErrorResponse;
use crate::cluster::bootstrap::Bootstrap;
use crate::cluster::lost::LostGroups;
use crate::cluster::meta::MetaState;
use crate::cluster::meta_machine::{MetaEntry, MetaMachine};
use crate::cluster::peers::{PeerTable, Report, REPORT};
use crate::jetstream::Inner;
use bytes::Bytes;
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use parking_lot::RwLock;
use sluice_raft::{node_id, GroupOptions, RaftNode, RouteTransport, Timing, Transport, TypeConfig};
use sluice_server::{CancellationToken, PeerHandler, ServerHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// The meta group's name.
pub const META_GROUP: &str = "_meta_";

/// How long a proposal to the meta group may take before its request is answered 10008.
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(4);

/// Clustered JetStream's settings.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The cluster's name (placement's `cluster`, stream info's `cluster.name`).
    pub name: String,
    /// How many servers the configured routes name, this one included (0: none configured).
    pub expected: usize,
    /// This server's `server_tags`.
    pub tags: Vec<String>,
    /// `jetstream.unique_tag` (empty: none).
    pub unique_tag: String,
    pub timing: Timing,
    /// A replicated stream's group takes a snapshot (and its log is purged below it) once
    /// the entries applied since the last one exceed this and twice the stream's bytes
    /// (`cluster/replica.rs`); [`DEFAULT_SNAPSHOT_LOG_BYTES`] unless a test wants it sooner.
    pub snapshot_log_bytes: u64,
}

/// See [`ClusterSettings::snapshot_log_bytes`].
pub const DEFAULT_SNAPSHOT_LOG_BYTES: u64 = 16 << 20;

/// Clustered JetStream on this server. See the module doc.
pub struct JsCluster {
    pub(crate) me: String,
    pub(crate) settings: ClusterSettings,
    pub(crate) node: Arc<RaftNode>,
    transport: Arc<RouteTransport>,
    pub(crate) meta: Raft<TypeConfig>,
    pub(crate) state: Arc<RwLock<MetaState>>,
    pub(crate) peers: Arc<PeerTable>,
    pub(crate) server: ServerHandle,
    pub(crate) rt: tokio::runtime::Handle,
    /// Where the groups' logs go.
    pub(crate) logs: crate::cluster::logs::Logs,
    /// The stream groups this server may have lost its state in (`lost.rs`).
    pub(crate) lost: LostGroups,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// Peer messages: Raft traffic to the transport, reports to the table.
struct Mux {
    raft: Arc<RouteTransport>,
    peers: Arc<PeerTable>,
}

impl PeerHandler for Mux {
    fn on_message(&self, from: &str, subject: &str, reply: Option<&str>, payload: Bytes) {
        if RouteTransport::is_raft(subject) {
            self.raft.on_message(from, subject, reply, payload);
        } else if subject == REPORT {
            match serde_json::from_slice::<Report>(&payload) {
                Ok(r) if r.name == from => self.peers.record(r),
                Ok(r) => {
                    warn!(from, named = %r.name, "a JetStream report naming another server: ignored")
                }
                Err(e) => warn!(from, error = %e, "unreadable JetStream report: ignored"),
            }
        }
    }
}

impl JsCluster {
    /// Starts this server's Raft node and meta group (on `log`, with its snapshot in `dir`)
    /// and the loops. `js` is the stream layer the reconciler acts on.
    pub(crate) async fn start(
        js: &Arc<Inner>,
        settings: ClusterSettings,
        logs: crate::cluster::logs::Logs,
        dir: &Path,
    ) -> Result<Arc<JsCluster>, String> {
        let server = js.server.clone();
        let me = server.server_name();
        let transport = RouteTransport::new(server.clone());
        let t: Arc<dyn Transport> = Arc::new(transport.clone());
        let node = RaftNode::new(&me, settings.timing.clone(), t);
        let lost = LostGroups::new(node.clone(), META_GROUP);
        transport.attach(&node);
        let peers = Arc::new(PeerTable::default());
        server.set_peer_handler(Arc::new(Mux {
            raft: transport.clone(),
            peers: peers.clone(),
        }));
        let state = Arc::new(RwLock::new(MetaState::default()));
        let (events, rx) = mpsc::channel(1024);
        let (meta, _store) = match &logs {
            crate::cluster::logs::Logs::Wal(wal) => {
                let log = wal.group(META_GROUP);
                start_meta(&node, log, state.clone(), events, lost.clone(), dir).await?
            }
            crate::cluster::logs::Logs::Memory => {
                let log = sluice_raft::testing::MemLog::default();
                start_meta(&node, log, state.clone(), events, lost.clone(), dir).await?
            }
        };
        let cluster = Arc::new(JsCluster {
            me,
            settings,
            node,
            transport,
            meta,
            state,
            peers,
            server,
            rt: tokio::runtime::Handle::current(),
            logs,
            lost,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let weak = Arc::downgrade(js);
        cluster
            .tasks
            .spawn(membership_loop(cluster.clone(), cluster.stop.clone()));
        cluster.tasks.spawn(report_loop(
            cluster.clone(),
            weak.clone(),
            cluster.stop.clone(),
        ));
        cluster.tasks.spawn(crate::cluster::local::reconcile_loop(
            cluster.clone(),
            weak,
            rx,
            cluster.stop.clone(),
        ));
        Ok(cluster)
    }

    /// Runs `task` until the cluster stops (it must end when `stop_token` is cancelled).
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn_on(task, &self.rt);
    }

    /// Cancelled when the cluster stops.
    pub(crate) fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Whether this server leads the meta group now.
    pub fn is_meta_leader(&self) -> bool {
        let m = self.meta.metrics().borrow().clone();
        m.state == ServerState::Leader && m.current_leader == Some(self.node.id())
    }

    /// The meta leader's name, if there is one.
    pub fn meta_leader(&self) -> Option<String> {
        let m = self.meta.metrics().borrow().clone();
        let leader = m.current_leader?;
        let name = m
            .membership_config
            .nodes()
            .find(|(id, _)| **id == leader)
            .map(|(_, n)| n.addr.clone());
        name
    }

    /// The meta group's voters, by name.
    pub fn meta_peers(&self) -> Vec<String> {
        let m = self.meta.metrics().borrow().clone();
        let voters: BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
        let mut v: Vec<String> = m
            .membership_config
            .nodes()
            .filter(|(id, _)| voters.contains(id))
            .map(|(_, n)| n.addr.clone())
            .collect();
        v.sort();
        v
    }

    /// The meta group for `/jsz` (`meta_cluster`): the members but the leader, with how
    /// far behind and how long unheard, on the leader only.
    pub fn meta_info(&self) -> sluice_server::MetaCluster {
        use crate::cluster::peers::{peer_id, OFFLINE_AFTER};
        let m = self.meta.metrics().borrow().clone();
        let leader = self.meta_leader().unwrap_or_default();
        let members = self.meta_peers();
        let mut replicas = Vec::new();
        if let (true, Some(repl)) = (self.is_meta_leader(), &m.replication) {
            let last = m.last_log_index.unwrap_or(0);
            for name in members.iter().filter(|n| **n != self.me) {
                let matched = repl
                    .get(&node_id(name))
                    .and_then(|l| l.map(|l| l.index))
                    .unwrap_or(0);
                let heard = self.node.last_heard(node_id(name));
                replicas.push(sluice_server::PeerReplica {
                    name: name.clone(),
                    current: matched >= last,
                    active: heard.map_or(0, |d| d.as_nanos() as u64),
                    offline: heard.is_none_or(|d| d > OFFLINE_AFTER),
                    lag: last.saturating_sub(matched),
                    peer: peer_id(name),
                });
            }
        }
        sluice_server::MetaCluster {
            name: self.settings.name.clone(),
            peer: if leader.is_empty() {
                String::new()
            } else {
                peer_id(&leader)
            },
            leader,
            replicas,
            cluster_size: members.len(),
        }
    }

    /// Proposes `entry` to the meta group; if it is not committed within
    /// [`PROPOSE_TIMEOUT`], its request (if any) is answered 10008 with `response_type`.
    pub(crate) fn propose(&self, entry: MetaEntry, response_type: &'static str) {
        let meta = self.meta.clone();
        let server = self.server.clone();
        self.rt.spawn(async move {
            let reply = entry.reply.clone();
            let bytes = Bytes::from(entry.encode());
            let r = tokio::time::timeout(PROPOSE_TIMEOUT, meta.client_write(bytes)).await;
            if !matches!(r, Ok(Ok(_))) {
                if let Some(reply) = reply {
                    let e = ErrorResponse::new(response_type, ApiError::cluster_not_avail());
                    server.publish(&reply, None, None, &e.to_json());
                }
            }
        });
    }

    /// Steps down from meta leadership: the leadership is handed to another member
    /// (`RaftNode::step_down`), in the background.
    pub(crate) fn step_down(&self) {
        let node = self.node.clone();
        self.rt.spawn(async move {
            if let Err(e) = node.step_down(META_GROUP).await {
                warn!(error = %e, "meta leader step-down");
            }
        });
    }

    /// Stops the loops and the groups, and stops answering peer messages.
    pub(crate) async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.server.clear_peer_handler();
        self.transport.detach();
        self.node.shutdown().await;
    }
}

/// Forms the meta group once; on the meta leader, adds servers that joined.
/// Starts the meta group on `log`. Entries up to what the log says is committed are replays.
async fn start_meta<L: RaftLogStorage<TypeConfig>>(
    node: &RaftNode,
    mut log: L,
    state: Arc<RwLock<MetaState>>,
    events: mpsc::Sender<crate::cluster::meta_machine::Applied>,
    lost: LostGroups,
    dir: &Path,
) -> Result<(Raft<TypeConfig>, sluice_raft::MachineStore<MetaMachine>), String> {
    let replay_upto = log
        .read_committed()
        .await
        .map_err(|e| format!("meta group log: {e}"))?
        .map_or(0, |c| c.index);
    let machine = MetaMachine::new(state, events, replay_upto, lost);
    // A server back on a wiped store must not vote in the meta group until it has caught
    // up (a new cluster's servers are declared new by the membership loop).
    let options = GroupOptions {
        recovering: true,
        ..Default::default()
    };
    node.start_group_with(META_GROUP, log, machine, dir, options)
        .await
        .map_err(|e| e.to_string())
}

async fn membership_loop(c: Arc<JsCluster>, stop: CancellationToken) {
    let mut boot = Bootstrap::new(&c.me, c.settings.expected);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let seen: Vec<String> = c
            .server
            .peers()
            .into_iter()
            .filter(|p| p.sluice && p.jetstream)
            .map(|p| p.name)
            .collect();
        let m = c.meta.metrics().borrow().clone();
        let formed = m.membership_config.nodes().next().is_some();
        if !formed {
            if let Some(formation) = boot.decide(seen, Instant::now()) {
                // A new cluster: every member may vote in the first election (unless it has
                // heard from a leader already: then it is a server back on a wiped store).
                if !c.node.declare_fresh(META_GROUP) {
                    continue;
                }
                if !formation.former {
                    continue;
                }
                let members = formation.members;
                let nodes: BTreeMap<u64, BasicNode> = members
                    .iter()
                    .map(|n| (node_id(n), BasicNode::new(n.clone())))
                    .collect();
                info!(?members, "forming the JetStream meta group");
                if let Err(e) = c.meta.initialize(nodes).await {
                    warn!(error = %e, "forming the meta group failed");
                }
            }
            continue;
        }
        if !c.is_meta_leader() {
            continue;
        }
        let known: BTreeSet<u64> = m.membership_config.nodes().map(|(id, _)| *id).collect();
        let removed = c.state.read().removed.clone();
        let voters: BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
        for name in seen.into_iter().filter(|n| !removed.contains(n)) {
            let id = node_id(&name);
            if !known.contains(&id) {
                info!(server = %name, "adding a JetStream server to the meta group");
                let add = c.meta.add_learner(id, BasicNode::new(name.clone()), true);
                match tokio::time::timeout(Duration::from_secs(10), add).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        warn!(server = %name, error = %e, "adding to the meta group failed");
                        continue;
                    }
                    Err(_) => continue,
                }
            }
            if !voters.contains(&id) {
                let change = c
                    .meta
                    .change_membership(ChangeMembers::AddVoterIds([id].into()), false);
                match tokio::time::timeout(Duration::from_secs(10), change).await {
                    Ok(Ok(_)) => info!(server = %name, "now a voter of the meta group"),
                    Ok(Err(e)) => warn!(server = %name, error = %e, "making a voter failed"),
                    Err(_) => {}
                }
            }
        }
    }
}

/// This server's report, every second, to every JetStream server it has a route to.
async fn report_loop(c: Arc<JsCluster>, js: Weak<Inner>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(js) = js.upgrade() else { return };
        let report = crate::cluster::local::report(&js, &c);
        drop(js);
        c.peers.record(report.clone());
        let bytes = Bytes::from(serde_json::to_vec(&report).unwrap_or_default());
        for p in c.server.peers() {
            if p.sluice && p.jetstream {
                let _ = c.server.send_to_peer(&p.name, REPORT, None, bytes.clone());
            }
        }
    }
}
