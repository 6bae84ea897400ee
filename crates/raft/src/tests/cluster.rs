use crate::machine::MachineStore;
use crate::testing::{ListMachine, MemLog, MemNet};
use crate::{node_id, NodeId, RaftNode, Timing, TypeConfig};
use bytes::Bytes;
use openraft::{BasicNode, Raft};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};

struct Member {
    name: String,
    node: Arc<RaftNode>,
    log: MemLog,
    raft: Raft<TypeConfig>,
    store: MachineStore<ListMachine>,
    dir: tempfile::TempDir,
}

struct TestCluster {
    net: Arc<MemNet>,
    timing: Timing,
    members: Vec<Member>,
}

const GROUP: &str = "g";

impl TestCluster {
    async fn start(n: usize, timing: Timing) -> TestCluster {
        let net = MemNet::new();
        let mut members = Vec::new();
        for i in 1..=n {
            let name = format!("n{i}");
            let node = RaftNode::new(&name, timing.clone(), net.transport(node_id(&name)));
            net.join(&node);
            let log = MemLog::default();
            let dir = tempfile::tempdir().unwrap();
            let (raft, store) = node
                .start_group(GROUP, log.clone(), ListMachine::default(), dir.path())
                .await
                .unwrap();
            members.push(Member {
                name,
                node,
                log,
                raft,
                store,
                dir,
            });
        }
        let all: BTreeMap<NodeId, BasicNode> = members
            .iter()
            .map(|m| (m.node.id(), BasicNode::new(m.name.clone())))
            .collect();
        members[0].raft.initialize(all).await.unwrap();
        TestCluster {
            net,
            timing,
            members,
        }
    }

    /// The member that a majority-backed leader is, as its own metrics say, among `among`.
    async fn leader(&self, among: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for &i in among {
                let m = self.members[i].raft.metrics().borrow().clone();
                if m.current_leader == Some(self.members[i].node.id())
                    && m.state == openraft::ServerState::Leader
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader among {among:?}");
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn write(&self, i: usize, data: &str) -> Result<(), String> {
        self.members[i]
            .raft
            .client_write(Bytes::from(data.to_string()))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn applied(&self, i: usize) -> Vec<Bytes> {
        self.members[i]
            .store
            .with(|m| m.applied.iter().map(|(_, d)| d.clone()).collect())
            .await
    }

    /// Waits until members `among` applied the same `n` entries, and returns them.
    async fn converged(&self, among: &[usize], n: usize) -> Vec<Bytes> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let first = self.applied(among[0]).await;
            let mut same = first.len() == n;
            for &i in &among[1..] {
                same &= self.applied(i).await == first;
            }
            if same {
                return first;
            }
            assert!(
                Instant::now() < deadline,
                "members {among:?} did not converge on {n} entries: {:?}",
                {
                    let mut v = Vec::new();
                    for &i in among {
                        v.push(self.applied(i).await.len());
                    }
                    v
                }
            );
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops member `i` as a crash would (its log survives, its process state does not).
    async fn crash(&mut self, i: usize) {
        let id = self.members[i].node.id();
        self.net.leave(id);
        self.members[i].node.shutdown().await;
    }

    /// Restarts member `i` on its log and snapshot directory, with an empty machine.
    async fn restart(&mut self, i: usize) {
        self.restart_with(i, crate::GroupOptions::default()).await;
    }

    /// Restarts member `i` on an empty log and snapshot directory (its store was wiped), as a
    /// node that may have lost its state (`recovering`) or not.
    async fn wipe_and_restart(&mut self, i: usize, recovering: bool) {
        self.members[i].log = MemLog::default();
        self.members[i].dir = tempfile::tempdir().unwrap();
        let options = crate::GroupOptions {
            recovering,
            ..Default::default()
        };
        self.restart_with(i, options).await;
    }

    async fn restart_with(&mut self, i: usize, options: crate::GroupOptions) {
        let name = self.members[i].name.clone();
        let node = RaftNode::new(
            &name,
            self.timing.clone(),
            self.net.transport(node_id(&name)),
        );
        self.net.join(&node);
        let (raft, store) = node
            .start_group_with(
                GROUP,
                self.members[i].log.clone(),
                ListMachine::default(),
                self.members[i].dir.path(),
                options,
            )
            .await
            .unwrap();
        let m = &mut self.members[i];
        m.node = node;
        m.raft = raft;
        m.store = store;
    }

    async fn shutdown(self) {
        for m in &self.members {
            m.node.shutdown().await;
        }
    }
}

fn strings(v: &[Bytes]) -> Vec<String> {
    v.iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn three_nodes_elect_one_leader_and_apply_the_same_entries_in_order() {
    let c = TestCluster::start(3, Timing::default()).await;
    let l = c.leader(&[0, 1, 2]).await;
    for k in 0..50 {
        c.write(l, &format!("e{k}")).await.unwrap();
    }
    let got = c.converged(&[0, 1, 2], 50).await;
    let want: Vec<String> = (0..50).map(|k| format!("e{k}")).collect();
    assert_eq!(strings(&got), want);
    // A follower does not accept writes: it names the leader.
    let f = (l + 1) % 3;
    let err = c.write(f, "x").await.unwrap_err();
    assert!(err.contains("forward"), "{err}");
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_crashed_leader_is_replaced_and_writes_succeed_within_one_second() {
    // The brief asks for 2 s. Followers waited for openraft's leader lease (900 ms) plus an
    // election timeout after the leader's last append: 1.82 s for a busy group. They now
    // start an election as soon as the leader's server is known dead.
    let mut c = TestCluster::start(3, Timing::default()).await;
    let l = c.leader(&[0, 1, 2]).await;
    c.write(l, "before").await.unwrap();
    c.converged(&[0, 1, 2], 1).await;
    c.crash(l).await;
    let crashed = Instant::now();
    let rest: Vec<usize> = (0..3).filter(|&i| i != l).collect();
    // Clients retry against whoever leads now.
    loop {
        let nl = c.leader(&rest).await;
        if c.write(nl, "after").await.is_ok() {
            break;
        }
    }
    let took = crashed.elapsed();
    eprintln!("failover took {took:?}");
    assert!(took < Duration::from_secs(1), "failover took {took:?}");
    let got = c.converged(&rest, 2).await;
    assert_eq!(strings(&got), ["before", "after"]);
    // The old leader comes back as a follower and catches up.
    c.restart(l).await;
    c.converged(&[0, 1, 2], 2).await;
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_isolated_leader_commits_nothing_and_its_entries_are_dropped_after_healing() {
    let c = TestCluster::start(3, Timing::default()).await;
    let old = c.leader(&[0, 1, 2]).await;
    c.write(old, "committed").await.unwrap();
    c.converged(&[0, 1, 2], 1).await;
    c.net.partition(&[c.members[old].node.id()]);
    // The old leader keeps taking writes; none can commit.
    let stale = c.members[old].raft.clone();
    let pending = tokio::spawn(async move { stale.client_write(Bytes::from("lost")).await });
    let rest: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let new = c.leader(&rest).await;
    c.write(new, "majority").await.unwrap();
    c.converged(&rest, 2).await;
    assert_eq!(
        c.applied(old).await.len(),
        1,
        "the isolated leader applied an entry"
    );
    c.net.heal();
    let got = c.converged(&[0, 1, 2], 2).await;
    assert_eq!(strings(&got), ["committed", "majority"]);
    // Its writer learns it was not committed (told to go to the new leader).
    let answer = timeout(Duration::from_secs(30), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.is_err(),
        "an uncommitted write was reported committed"
    );
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_replica_behind_the_purged_log_catches_up_from_a_snapshot() {
    let timing = Timing {
        snapshot_every: 20,
        keep_after_snapshot: 5,
        purge_batch: 1,
        ..Timing::default()
    };
    let c = TestCluster::start(3, timing).await;
    let l = c.leader(&[0, 1, 2]).await;
    let behind = (l + 1) % 3;
    c.net.partition(&[c.members[behind].node.id()]);
    for k in 0..100 {
        c.write(l, &format!("e{k}")).await.unwrap();
    }
    let rest: Vec<usize> = (0..3).filter(|&i| i != behind).collect();
    c.converged(&rest, 100).await;
    // The leader's log no longer reaches back to what the lagging replica has.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.members[l]
        .raft
        .metrics()
        .borrow()
        .purged
        .map_or(0, |p| p.index)
        <= 20
    {
        assert!(Instant::now() < deadline, "the leader never purged its log");
        sleep(Duration::from_millis(20)).await;
    }
    c.net.heal();
    let got = c.converged(&[0, 1, 2], 100).await;
    assert_eq!(strings(&got)[99], "e99");
    let snap = c.members[behind].raft.metrics().borrow().snapshot;
    assert!(
        snap.is_some(),
        "the lagging replica did not install a snapshot"
    );
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_member_rebuilds_its_machine_from_snapshot_and_log() {
    let timing = Timing {
        snapshot_every: 10,
        keep_after_snapshot: 2,
        purge_batch: 1,
        ..Timing::default()
    };
    let mut c = TestCluster::start(3, timing).await;
    let l = c.leader(&[0, 1, 2]).await;
    for k in 0..35 {
        c.write(l, &format!("e{k}")).await.unwrap();
    }
    let before = c.converged(&[0, 1, 2], 35).await;
    let f = (l + 1) % 3;
    c.crash(f).await;
    c.restart(f).await;
    // Restored from the snapshot file, then the log after it: the same entries, once each.
    let after = c.converged(&[0, 1, 2], 35).await;
    assert_eq!(before, after);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_group_stops_its_heartbeats_and_still_fails_over_in_two_seconds() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut c = TestCluster::start(3, Timing::default()).await;
    let l = c.leader(&[0, 1, 2]).await;
    c.write(l, "first").await.unwrap();
    // Active: openraft's 150 ms heartbeats to both followers.
    let a0 = c.net.appends.load(Relaxed);
    sleep(Duration::from_secs(1)).await;
    let active = c.net.appends.load(Relaxed) - a0;
    // Idle for long: one heartbeat per follower every 2 s.
    sleep(Duration::from_secs(5)).await;
    let i0 = c.net.appends.load(Relaxed);
    sleep(Duration::from_secs(10)).await;
    let idle = c.net.appends.load(Relaxed) - i0;
    eprintln!(
        "appends per second: active {active}, idle {:.1}",
        idle as f64 / 10.0
    );
    assert!(active >= 6, "active: {active}");
    assert!(idle <= 12, "idle group still beats: {idle} appends in 10 s");
    // The idle group's leader dies: a follower takes over within 2 s all the same.
    c.crash(l).await;
    let crashed = Instant::now();
    let rest: Vec<usize> = (0..3).filter(|&i| i != l).collect();
    loop {
        let nl = c.leader(&rest).await;
        if c.write(nl, "after").await.is_ok() {
            break;
        }
    }
    let took = crashed.elapsed();
    eprintln!("idle failover took {took:?}");
    assert!(took < Duration::from_secs(2), "idle failover took {took:?}");
    assert_eq!(strings(&c.converged(&rest, 2).await), ["first", "after"]);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_cut_off_while_idle_steps_down_when_the_link_heals() {
    let c = TestCluster::start(3, Timing::default()).await;
    let old = c.leader(&[0, 1, 2]).await;
    c.write(old, "one").await.unwrap();
    sleep(Duration::from_secs(5)).await; // idle: quiet
    c.net.partition(&[c.members[old].node.id()]);
    let rest: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let new = c.leader(&rest).await;
    c.write(new, "two").await.unwrap();
    c.net.heal();
    // The old leader hears of the newer term and follows.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.members[old].raft.metrics().borrow().state == openraft::ServerState::Leader {
        assert!(
            Instant::now() < deadline,
            "the cut-off leader never stepped down"
        );
        sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(strings(&c.converged(&[0, 1, 2], 2).await), ["one", "two"]);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_steps_down_to_a_follower_even_when_the_group_is_idle() {
    let c = TestCluster::start(3, Timing::default()).await;
    let old = c.leader(&[0, 1, 2]).await;
    c.write(old, "one").await.unwrap();
    sleep(Duration::from_secs(5)).await; // idle: followers hold no elections of their own
    c.members[old].node.step_down(GROUP).await.unwrap();
    let new = c.leader(&[0, 1, 2]).await;
    assert_ne!(new, old);
    c.write(new, "two").await.unwrap();
    assert_eq!(strings(&c.converged(&[0, 1, 2], 2).await), ["one", "two"]);
    // Not the leader any more: refused.
    assert!(c.members[old].node.step_down(GROUP).await.is_err());
    c.shutdown().await;
}

/// Regression (chaos run `wipe-node`, seed 20261207, lost one acked publish): entries
/// committed by the leader and one follower; that follower's store is wiped and it comes back
/// empty under the same id; the leader dies. The third member, cut off while the entries were
/// committed, must not win an election with the empty member's vote: that would drop
/// committed entries. The wiped member votes again only once it has caught up.
async fn committed_entries_after_a_wipe(recovering: bool) -> (bool, Vec<String>) {
    let mut c = TestCluster::start(3, Timing::default()).await;
    let l = c.leader(&[0, 1, 2]).await;
    c.write(l, "before").await.unwrap();
    c.converged(&[0, 1, 2], 1).await;
    let (w, y) = ((l + 1) % 3, (l + 2) % 3);
    c.net.partition(&[c.members[y].node.id()]);
    for k in 0..5 {
        c.write(l, &format!("e{k}")).await.unwrap();
    }
    c.converged(&[l, w], 6).await;
    c.crash(w).await;
    c.wipe_and_restart(w, recovering).await;
    c.crash(l).await;
    c.net.heal();
    // Only the lagging member and the wiped one are up: give them many election timeouts.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut elected = false;
    while Instant::now() < deadline && !elected {
        for i in [w, y] {
            let m = c.members[i].raft.metrics().borrow().clone();
            elected |= m.state == openraft::ServerState::Leader;
        }
        sleep(Duration::from_millis(20)).await;
    }
    if elected {
        c.shutdown().await;
        return (true, Vec::new());
    }
    assert!(c.members[w].node.is_recovering(GROUP));
    // The old leader comes back: it leads (the lagging member votes for its longer log), and
    // the wiped member catches up and votes again.
    c.restart(l).await;
    let got = strings(&c.converged(&[0, 1, 2], 6).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.members[w].node.is_recovering(GROUP) {
        assert!(
            Instant::now() < deadline,
            "the wiped member never recovered"
        );
        sleep(Duration::from_millis(20)).await;
    }
    c.shutdown().await;
    (false, got)
}

#[tokio::test(start_paused = true)]
async fn a_wiped_member_does_not_vote_until_it_has_caught_up() {
    let (elected, got) = committed_entries_after_a_wipe(true).await;
    assert!(!elected, "a leader lacking committed entries was elected");
    assert_eq!(got, ["before", "e0", "e1", "e2", "e3", "e4"]);
}

/// The danger is real: a wiped member that votes at once elects the member lacking entries.
#[tokio::test(start_paused = true)]
async fn a_wiped_member_voting_at_once_elects_a_leader_lacking_committed_entries() {
    let (elected, _) = committed_entries_after_a_wipe(false).await;
    assert!(elected);
}

/// Liveness after wipes (regression: a wiped member that caught up but then turned candidate
/// judged its recovery by its own, uncommitted, vote and refused every vote for good, and the
/// group had no leader once the old leader was wiped in turn). One member is wiped and even
/// re-initialises the group (as a wiped former may), writes go on, then the leader is wiped:
/// each time the group elects a leader, takes writes, and keeps every acknowledged one.
#[tokio::test(start_paused = true)]
async fn a_group_stays_available_through_a_member_wipe_then_a_leader_wipe() {
    for round in 0..12u64 {
        let mut c = TestCluster::start(3, Timing::default()).await;
        let l = c.leader(&[0, 1, 2]).await;
        let mut acked = Vec::new();
        for k in 0..20 {
            c.write(l, &format!("e{k}")).await.unwrap();
            acked.push(format!("e{k}"));
        }
        c.converged(&[0, 1, 2], 20).await;
        let w = (l + 1 + (round as usize % 2)) % 3;
        c.crash(w).await;
        c.wipe_and_restart(w, true).await;
        let all: BTreeMap<NodeId, BasicNode> = c
            .members
            .iter()
            .map(|m| (m.node.id(), BasicNode::new(m.name.clone())))
            .collect();
        assert!(c.members[w].raft.initialize(all).await.is_ok());
        for k in 0..20 {
            let now = c.leader(&[0, 1, 2]).await;
            if c.write(now, &format!("f{k}")).await.is_ok() {
                acked.push(format!("f{k}"));
            }
        }
        sleep(Duration::from_millis(100 * round)).await;
        let l = c.leader(&[0, 1, 2]).await;
        c.crash(l).await;
        c.wipe_and_restart(l, true).await;
        for k in 0..20 {
            let now = c.leader(&[0, 1, 2]).await;
            if c.write(now, &format!("g{k}")).await.is_ok() {
                acked.push(format!("g{k}"));
            }
        }
        let n = c.applied(c.leader(&[0, 1, 2]).await).await.len();
        let got = strings(&c.converged(&[0, 1, 2], n).await);
        for a in &acked {
            assert!(got.contains(a), "round {round}: acked {a} lost: {got:?}");
        }
        assert!(acked.iter().filter(|a| a.starts_with('g')).count() > 0);
        for m in &c.members {
            let met = m.raft.metrics().borrow().clone();
            assert!(
                met.running_state.is_ok(),
                "round {round}: {:?}",
                met.running_state
            );
        }
        c.shutdown().await;
    }
}
