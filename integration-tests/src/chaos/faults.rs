//! [`ChaosTarget`] for nats-server, the reference: a [`Cluster`] of nats-server nodes with
//! JetStream on (`-js -sd <own dir>`, server names `n0`, `n1`...), every route through a proxy
//! of its own ([`Routes::MeshViaProxies`]: one proxy per directed link, gossip neutralised by
//! a dead advertised address), so any node can be cut from any other.
//!
//! The stream leader and each replica's state come from the monitoring port's
//! `/jsz?accounts=true&streams=true` (each node reports its own replicas). nats-server exposes
//! no hash of a replica's log, so [`ChaosTarget::replica_digest`] is the replica's state
//! (messages, bytes, first and last sequence), a [`Digest`] with `full: false`.

use super::{ChaosTarget, Digest};
use crate::cluster::{Cluster, ClusterOpts, Routes};
use crate::Kind;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A nats-server cluster under fault injection.
pub struct NatsServerTarget {
    cluster: Cluster,
    paused: Vec<bool>,
}

impl NatsServerTarget {
    /// The cluster (for anything the trait does not cover).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Node `i`'s `/jsz` with account and stream details, if it answers within 1 s.
    fn jsz(&self, i: usize) -> Option<Value> {
        if self.paused[i] {
            return None;
        }
        crate::cluster::http_get_json(
            self.cluster.node(i).http_addr(),
            "/jsz?accounts=true&streams=true",
            Duration::from_secs(1),
        )
        .ok()
    }

    /// Stream `stream` as node `i` reports it in `/jsz` (its own replica), if it has one.
    fn local_stream(&self, i: usize, stream: &str) -> Option<Value> {
        let jsz = self.jsz(i)?;
        jsz["account_details"]
            .as_array()?
            .iter()
            .filter_map(|a| a["stream_detail"].as_array())
            .flatten()
            .find(|s| s["name"] == stream)
            .cloned()
    }

    /// The index of the node named `name` (`n<i>`).
    fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.cluster.len()).find(|&i| self.cluster.node(i).name == name)
    }
}

impl ChaosTarget for NatsServerTarget {
    fn start(nodes: usize, _seed: u64) -> Self {
        let opts = ClusterOpts {
            routes: Routes::MeshViaProxies,
            jetstream: true,
            ..ClusterOpts::default()
        };
        let cluster = Cluster::start(&vec![Kind::NatsServer; nodes], opts);
        NatsServerTarget {
            cluster,
            paused: vec![false; nodes],
        }
    }

    fn name(&self) -> String {
        "nats-server".into()
    }

    fn len(&self) -> usize {
        self.cluster.len()
    }

    fn client_url(&self, i: usize) -> String {
        self.cluster.url(i)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        let running: Vec<usize> = (0..self.len())
            .filter(|&i| self.cluster.nodes[i].is_running() && !self.paused[i])
            .collect();
        let want = running.len().saturating_sub(1) as u64;
        self.cluster.wait_routes(&running, want, timeout)?;
        loop {
            let leaders: Vec<Option<String>> = running
                .iter()
                .map(|&i| {
                    self.jsz(i).and_then(|v| {
                        v["meta_cluster"]["leader"]
                            .as_str()
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned)
                    })
                })
                .collect();
            if leaders[0].is_some() && leaders.iter().all(|l| *l == leaders[0]) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "no agreed JetStream meta leader after {timeout:?}: {leaders:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9(&mut self, i: usize) {
        self.paused[i] = false;
        self.cluster.kill9(i);
    }

    fn restart(&mut self, i: usize) {
        self.paused[i] = false;
        self.cluster.restart(i);
    }

    fn wipe_and_restart(&mut self, i: usize) {
        self.kill9(i);
        self.cluster.wipe_store(i);
        self.cluster.restart(i);
    }

    fn pause(&mut self, i: usize) {
        self.cluster.sigstop(i);
        self.paused[i] = true;
    }

    fn resume(&mut self, i: usize) {
        self.cluster.sigcont(i);
        self.paused[i] = false;
    }

    fn is_running(&mut self, i: usize) -> bool {
        self.cluster.nodes[i].is_running()
    }

    fn is_paused(&self, i: usize) -> bool {
        self.paused[i]
    }

    fn cut_link(&mut self, a: usize, b: usize) {
        self.cluster.cut_link(a, b);
    }

    fn degrade_links(&mut self, delay: Duration, drop: f64) {
        for (_, _, p) in self.cluster.link_proxies() {
            p.delay(delay);
            p.drop_rate(drop);
        }
    }

    fn heal(&mut self) {
        self.cluster.heal_links();
    }

    fn stream_leader(&self, stream: &str) -> Option<usize> {
        // Prefer a node that names itself leader and that another node agrees with; else any
        // node that names itself; else what most nodes say.
        let views: Vec<(usize, Option<usize>)> = (0..self.len())
            .map(|i| {
                let l = self
                    .local_stream(i, stream)
                    .and_then(|s| s["cluster"]["leader"].as_str().map(str::to_owned))
                    .and_then(|name| self.index_of(&name));
                (i, l)
            })
            .collect();
        let claims: Vec<usize> = views
            .iter()
            .filter(|(i, l)| *l == Some(*i))
            .map(|(i, _)| *i)
            .collect();
        let backed = |c: usize| {
            views
                .iter()
                .filter(|(i, l)| *i != c && *l == Some(c))
                .count()
        };
        if let Some(&c) = claims.iter().max_by_key(|&&c| backed(c)) {
            return Some(c);
        }
        let mut counts = vec![0usize; self.len()];
        for l in views.iter().filter_map(|(_, l)| *l) {
            counts[l] += 1;
        }
        (0..self.len())
            .filter(|&i| counts[i] > 0)
            .max_by_key(|&i| counts[i])
    }

    fn replica_digest(&self, i: usize, stream: &str) -> Option<Digest> {
        let s = self.local_stream(i, stream)?;
        let st = &s["state"];
        Some(Digest {
            value: format!(
                "msgs={} bytes={} first={} last={}",
                st["messages"], st["bytes"], st["first_seq"], st["last_seq"]
            ),
            full: false,
        })
    }

    fn log_lines(&mut self, i: usize) -> Vec<String> {
        self.cluster.nodes[i].log_lines()
    }
}
