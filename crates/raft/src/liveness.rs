//! Quiet idle groups, so that a node can hold a thousand groups without a thousand sets of
//! 150 ms heartbeats (openraft beats every group on its own; the measured cost of 1,000 idle
//! groups was ~10 % of a core per server).
//!
//! Servers beat each other instead ([`Rpc::Beat`](crate::rpc::Rpc), every `beat_ms` to every
//! server that shares a group; any Raft message from a server counts too), and each node's
//! control loop (every 50 ms) sets each group's openraft timers by what it sees:
//!
//! - on a leader: heartbeats on while the group is active (something appended within
//!   `idle_after_ms`), off when idle, with one heartbeat every `idle_beat_ms` then (so that
//!   followers keep hearing from it, and a leader that lost its term learns it);
//! - on a follower: elections off while its leader's server beats and the group's leader was
//!   heard from within `silent_after_ms`; on otherwise (leader unknown, its server silent for
//!   `dead_after_ms`, or the group silent), so openraft's own election timer runs; and when
//!   the leader's server is silent for `dead_after_ms`, an election at once (openraft would
//!   first wait out its leader lease);
//! - openraft's timer tick itself is off for an idle leader and a quiet follower.
//!
//! When a server starts answering again after being silent, the groups this node leads send
//! one heartbeat at once, so a leader that was cut off learns of a newer term promptly.
//!
//! Safety is Raft's and untouched: this only decides when elections may start and how often
//! an idle leader beats.

use crate::config::Timing;
use crate::node::RaftNode;
use crate::rpc::{Request, Rpc};
use crate::types::NodeId;
use bytes::Bytes;
use openraft::ServerState;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// What a node heard, from whom, when.
#[derive(Default)]
pub(crate) struct Heard {
    /// A message (beat, Raft request or answer) from each server.
    servers: Mutex<HashMap<NodeId, Instant>>,
    /// An append (entries or heartbeat) from the leader of each group.
    groups: Mutex<HashMap<String, Instant>>,
}

impl Heard {
    pub(crate) fn server(&self, id: NodeId) {
        self.servers.lock().insert(id, Instant::now());
    }

    pub(crate) fn group(&self, group: &str) {
        let now = Instant::now();
        let mut g = self.groups.lock();
        match g.get_mut(group) {
            Some(t) => *t = now,
            None => {
                g.insert(group.to_string(), now);
            }
        }
    }

    pub(crate) fn server_age(&self, id: NodeId) -> Option<Duration> {
        self.servers.lock().get(&id).map(|t| t.elapsed())
    }

    fn group_age(&self, group: &str) -> Option<Duration> {
        self.groups.lock().get(group).map(|t| t.elapsed())
    }

    pub(crate) fn forget_group(&self, group: &str) {
        self.groups.lock().remove(group);
    }
}

/// The control loop's memory of one group.
#[derive(Default)]
struct GroupCtl {
    last_index: Option<u64>,
    changed: Option<Instant>,
    heartbeat: Option<bool>,
    elect: Option<bool>,
    tick: Option<bool>,
    idle_beat: Option<Instant>,
    /// The leader (and its term) this node started an election against because its server
    /// died: once per dead leader.
    kicked: Option<(NodeId, u64)>,
}

/// Runs the beats and the control loop until the node is dropped or shut down.
pub(crate) async fn run(node: Weak<RaftNode>, timing: Timing) {
    let tick = Duration::from_millis(timing.beat_ms.clamp(10, 100));
    let beat_every = Duration::from_millis(timing.beat_ms);
    let dead_after = Duration::from_millis(timing.dead_after_ms);
    let idle_after = Duration::from_millis(timing.idle_after_ms);
    let idle_beat = Duration::from_millis(timing.idle_beat_ms);
    let silent_after = Duration::from_millis(timing.silent_after_ms);
    let mut last_beat = Instant::now() - beat_every;
    let mut ctl: HashMap<String, GroupCtl> = HashMap::new();
    // Servers seen silent, to notice when they come back.
    let mut silent: HashMap<NodeId, bool> = HashMap::new();
    let mut due_beats = Vec::new();
    let mut due_elections = Vec::new();
    loop {
        tokio::time::sleep(tick).await;
        let Some(node) = node.upgrade() else { return };
        if node.stopping() {
            return;
        }
        let now = Instant::now();
        let groups = node.groups_snapshot();
        // Who shares a group with this node, by id, with the name to reach it by.
        let mut peers: BTreeMap<NodeId, String> = BTreeMap::new();
        for (_, raft) in &groups {
            let m = raft.metrics();
            let m = m.borrow();
            for (id, n) in m.membership_config.nodes() {
                if *id != node.id() && !peers.contains_key(id) {
                    peers.insert(*id, n.addr.clone());
                }
            }
        }
        if now.duration_since(last_beat) >= beat_every {
            last_beat = now;
            for (id, name) in &peers {
                beat(&node, *id, name, beat_every * 2);
            }
        }
        let alive = |id: NodeId| node.heard.server_age(id).is_some_and(|a| a < dead_after);
        let mut came_back = false;
        for id in peers.keys() {
            let now_alive = alive(*id);
            let was_silent = silent.insert(*id, !now_alive).unwrap_or(false);
            came_back |= was_silent && now_alive;
        }
        if ctl.len() > groups.len() {
            let names: std::collections::HashSet<&str> =
                groups.iter().map(|(g, _)| g.as_str()).collect();
            ctl.retain(|name, _| names.contains(name.as_str()));
        }
        due_beats.clear();
        due_elections.clear();
        for (name, raft) in &groups {
            if node.is_stepping_down(name) {
                ctl.remove(name); // settings are re-applied once it is over
                continue;
            }
            let c = match ctl.get_mut(name) {
                Some(c) => c,
                None => ctl.entry(name.clone()).or_default(),
            };
            let rc = raft.runtime_config();
            let m = raft.metrics();
            let m = m.borrow();
            if c.last_index != m.last_log_index {
                c.last_index = m.last_log_index;
                c.changed = Some(now);
            }
            if m.state == ServerState::Leader {
                let idle = c
                    .changed
                    .is_none_or(|t| now.duration_since(t) >= idle_after);
                set(&mut c.heartbeat, !idle, |on| rc.heartbeat(on));
                // An idle leader's timers have nothing to do (its beats come from here).
                set(&mut c.tick, !idle, |on| rc.tick(on));
                let due = c
                    .idle_beat
                    .is_none_or(|t| now.duration_since(t) >= idle_beat);
                if idle && (due || came_back) {
                    c.idle_beat = Some(now);
                    due_beats.push(raft.clone());
                }
                set(&mut c.elect, true, |on| rc.elect(on));
            } else {
                let leader = m.current_leader.filter(|l| *l != node.id());
                let member =
                    leader.is_some_and(|l| m.membership_config.nodes().any(|(id, _)| *id == l));
                let heard = node.heard.group_age(name).is_some_and(|a| a < silent_after);
                let quiet = member && leader.is_some_and(alive) && heard;
                set(&mut c.elect, !quiet, |on| rc.elect(on));
                // The leader's server is dead: elect now rather than after openraft's leader
                // lease and an election timeout (1.8 s after a busy leader's last append).
                // The other followers see the same death within a beat and stand too; votes
                // for the greater candidate of a term win (openraft's vote order), so one
                // round decides.
                if let Some(l) = leader.filter(|l| member && !alive(*l)) {
                    if c.kicked != Some((l, m.current_term)) {
                        c.kicked = Some((l, m.current_term));
                        due_elections.push(raft.clone());
                    }
                }
                set(&mut c.heartbeat, true, |on| rc.heartbeat(on));
                // A quiet follower's timers have nothing to do either.
                set(&mut c.tick, !quiet, |on| rc.tick(on));
            }
        }
        drop(groups);
        for raft in due_beats.drain(..) {
            let _ = raft.trigger().heartbeat().await;
        }
        for raft in due_elections.drain(..) {
            let _ = raft.trigger().elect().await;
        }
    }
}

/// Applies a setting when it differs from the last one applied.
fn set(last: &mut Option<bool>, want: bool, apply: impl FnOnce(bool)) {
    if *last != Some(want) {
        *last = Some(want);
        apply(want);
    }
}

/// One beat to `id`: its answer counts as hearing from it.
fn beat(node: &Arc<RaftNode>, id: NodeId, name: &str, timeout: Duration) {
    let frame = Request {
        group: String::new(),
        rpc: Rpc::Beat { from: node.id() },
    }
    .encode();
    let transport = node.transport();
    let weak = Arc::downgrade(node);
    let name = name.to_string();
    tokio::spawn(async move {
        if transport
            .call(id, &name, Bytes::from(frame), timeout)
            .await
            .is_ok()
        {
            if let Some(n) = weak.upgrade() {
                n.heard.server(id);
            }
        }
    });
}
