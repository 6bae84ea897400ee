//! The fault-injection ("chaos") harness for replicated JetStream streams: a cluster of 3 or 5
//! nodes on loopback with a TCP proxy on every node-to-node link, a seeded workload that
//! publishes with `Nats-Msg-Id` and double-acks what it consumes, faults injected while it
//! runs (kill -9, SIGSTOP pause, restart, restart on an emptied store, partitions), and a
//! checker that reads the stream back after the faults heal and asserts:
//!
//! - no acknowledged publish is lost;
//! - no `Nats-Msg-Id` is stored twice (publishers retry an unanswered publish with the same id);
//! - no message whose ack the server confirmed (AckAck) is delivered again afterwards;
//! - every replica holds the same log after healing (where the target can tell: see
//!   [`ChaosTarget::replica_digest`]);
//! - no fault deletes the stream or its consumer.
//!
//! The scenarios ([`scenarios`]) drive a [`ChaosTarget`]: the cluster under test. The reference
//! target is nats-server 2.9.10 ([`faults::NatsServerTarget`]); Sluice's is
//! [`sluice_target::SluiceTarget`] (real `sluice` binaries, replicas read from their segment
//! files). Layout: [`workload`] (publishers and the consumer, recording a history),
//! [`checker`] (read-back and properties), [`faults`] (the trait's nats-server
//! implementation), [`sluice_target`] (Sluice's), [`scenarios`] (one function per fault
//! schedule), [`report`] (outcome records and the table `scripts/chaos.sh` prints).

pub mod checker;
pub mod faults;
pub mod report;
pub mod scenarios;
pub mod sluice_target;
pub mod workload;

use std::time::Duration;

/// What a target says about one replica's copy of a stream, for comparing replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The value compared between replicas.
    pub value: String,
    /// True if `value` is a hash of the replica's whole log (contents and sequence numbers);
    /// false if it only summarises its state (message count, first and last sequence, bytes),
    /// which can miss two replicas with different contents of the same shape.
    pub full: bool,
}

/// A cluster the chaos scenarios can start, break and heal. Node indices run from 0 to
/// [`ChaosTarget::len`] - 1 and stay the same across restarts. Methods that change the cluster
/// block the calling thread (the scenarios call them from `block_in_place`).
///
/// Every fault is undone by the scenario before checking: a killed node is restarted, a paused
/// one resumed, links healed. A target must kill every process it started when dropped.
pub trait ChaosTarget: Send {
    /// Starts `nodes` nodes (3 or 5) with JetStream on, each with its own store, every
    /// node-to-node link breakable by [`ChaosTarget::cut_link`]. `seed` seeds whatever the target
    /// randomises itself (the proxies' drop decisions).
    fn start(nodes: usize, seed: u64) -> Self
    where
        Self: Sized;

    /// A short name for reports (`nats-server`, `sluice`).
    fn name(&self) -> String;

    /// How many nodes.
    fn len(&self) -> usize;

    /// True if the target has no nodes (never, once started).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Node `i`'s client URL (`nats://127.0.0.1:PORT`); clients connect directly, not through
    /// the proxies, so a client of a partitioned node still reaches it.
    fn client_url(&self, i: usize) -> String;

    /// Waits until every running node is routed to every other and the cluster can create a
    /// replicated stream (nats-server: its JetStream meta group has a leader).
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String>;

    /// SIGKILLs node `i` (no shutdown).
    fn kill9(&mut self, i: usize);

    /// Starts node `i` again on its store, ports and routes (after [`ChaosTarget::kill9`]).
    fn restart(&mut self, i: usize);

    /// SIGKILLs node `i`, empties its store and starts it again with the same identity (name,
    /// ports), as a machine whose disk was replaced.
    fn wipe_and_restart(&mut self, i: usize);

    /// SIGSTOPs node `i` (a process paused, or a clock jump: its sockets stay open, it answers
    /// nothing, its timers do not fire until [`ChaosTarget::resume`]).
    fn pause(&mut self, i: usize);

    /// SIGCONTs node `i` after [`ChaosTarget::pause`].
    fn resume(&mut self, i: usize);

    /// True if node `i`'s process runs (paused counts as running).
    fn is_running(&mut self, i: usize) -> bool;

    /// True if node `i` is paused.
    fn is_paused(&self, i: usize) -> bool;

    /// Breaks the link between nodes `a` and `b`, both directions (open connections closed, new
    /// ones refused), until [`ChaosTarget::heal`].
    fn cut_link(&mut self, a: usize, b: usize);

    /// Sets latency `delay` and chunk drop probability `drop` (a dropped chunk kills its
    /// connection) on every link; `Duration::ZERO` and 0.0 turn them off.
    fn degrade_links(&mut self, delay: Duration, drop: f64);

    /// Heals every cut link (latency and drops stay as [`ChaosTarget::degrade_links`] set them).
    fn heal(&mut self);

    /// Partitions the cluster into `groups`: every link between nodes of different groups is
    /// cut; a node in no group is cut from every other.
    fn partition(&mut self, groups: &[Vec<usize>]) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for a in 0..self.len() {
            for b in a + 1..self.len() {
                let (ga, gb) = (group_of(a), group_of(b));
                if ga.is_none() || ga != gb {
                    self.cut_link(a, b);
                }
            }
        }
    }

    /// The node that leads stream `stream` now, if one does and it can be told (nats-server:
    /// `cluster.leader` of the stream). Paused nodes are not asked.
    fn stream_leader(&self, stream: &str) -> Option<usize>;

    /// Node `i`'s digest of its replica of `stream`, if the target can expose one and `i` holds
    /// a replica; `None` otherwise. Compared between replicas after healing.
    fn replica_digest(&self, _i: usize, _stream: &str) -> Option<Digest> {
        None
    }

    /// Node `i`'s replica of `stream` as (sequence, payload) pairs in sequence order, if the
    /// target can read a replica's own copy (nats-server: from its message blocks); used to
    /// show where replicas part when their digests differ.
    fn replica_messages(&self, _i: usize, _stream: &str) -> Option<Vec<(u64, String)>> {
        None
    }

    /// Log lines node `i` printed since the last call (for a failure's context).
    fn log_lines(&mut self, _i: usize) -> Vec<String> {
        Vec::new()
    }
}

/// True (after a note on stderr) if nats-server is not installed and the chaos run against it
/// should pass without running; panics instead if `SLUICE_REQUIRE_NATS_SERVER` is set, so a CI
/// that means to run it cannot skip it silently.
pub fn skip_without_nats_server() -> bool {
    if crate::nats_server_available() {
        return false;
    }
    assert!(
        std::env::var_os("SLUICE_REQUIRE_NATS_SERVER").is_none(),
        "SLUICE_REQUIRE_NATS_SERVER is set but nats-server is not on PATH"
    );
    eprintln!("note: nats-server is not installed; skipping the chaos run against it");
    true
}
