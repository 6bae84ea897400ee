//! [`ChaosTarget`] for nats-server, the reference: a [`Cluster`] of nats-server nodes with
//! JetStream on (`-js -sd <own dir>`, server names `n0`, `n1`...), every route through a proxy
//! of its own ([`Routes::MeshViaProxies`]: one proxy per directed link, gossip neutralised by
//! a dead advertised address), so any node can be cut from any other.
//!
//! The stream leader and each replica's state come from the monitoring port's
//! `/jsz?accounts=true&streams=true` (each node reports its own replicas). nats-server exposes
//! no hash of a replica's log, so [`ChaosTarget::replica_digest`] reads the replica's own
//! message blocks from its store directory (`<sd>/jetstream/$G/streams/<S>/msgs/<n>.blk`, the
//! 2.9 file-store record layout: `len|seq|ts|subject len|subject|[hdr len|hdr]|msg|hash`) and
//! hashes every live record's sequence, subject and payload: a [`Digest`] with `full: true`.
//! If the blocks cannot be parsed (another store version), it falls back to the `/jsz` state
//! (messages, bytes, first and last sequence) with `full: false`.

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

    /// Where node `i` keeps `stream`'s message blocks.
    fn msgs_dir(&self, i: usize, stream: &str) -> Option<std::path::PathBuf> {
        let store = self.cluster.node(i).store.as_ref()?;
        Some(
            store
                .path()
                .join("jetstream")
                .join("$G")
                .join("streams")
                .join(stream)
                .join("msgs"),
        )
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
        wait_meta_ready(&mut self.cluster, &self.paused, timeout)
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
        let state = format!(
            "msgs={} bytes={} first={} last={}",
            st["messages"], st["bytes"], st["first_seq"], st["last_seq"]
        );
        match blocks_digest(&self.msgs_dir(i, stream)?) {
            Ok((count, hash)) => Some(Digest {
                value: format!("{state} records={count} content={hash:016x}"),
                full: true,
            }),
            Err(_) => Some(Digest {
                value: state,
                full: false,
            }),
        }
    }

    fn replica_messages(&self, i: usize, stream: &str) -> Option<Vec<(u64, String)>> {
        let records = read_blocks(&self.msgs_dir(i, stream)?).ok()?;
        Some(
            records
                .into_iter()
                .map(|(seq, _, payload)| (seq, String::from_utf8_lossy(&payload).into_owned()))
                .collect(),
        )
    }

    fn log_lines(&mut self, i: usize) -> Vec<String> {
        self.cluster.nodes[i].log_lines()
    }
}

/// [`ChaosTarget::wait_ready`] for a [`Cluster`] whose nodes serve nats-server's `/jsz`
/// (nats-server and Sluice): every running node not `paused` routed to every other such node,
/// then all of them naming the same JetStream meta leader (`meta_cluster.leader`).
pub fn wait_meta_ready(
    cluster: &mut Cluster,
    paused: &[bool],
    timeout: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    let running: Vec<usize> = (0..cluster.len())
        .filter(|&i| cluster.nodes[i].is_running() && !paused[i])
        .collect();
    let want = running.len().saturating_sub(1) as u64;
    cluster.wait_routes(&running, want, timeout)?;
    loop {
        let leaders: Vec<Option<String>> = running
            .iter()
            .map(|&i| {
                crate::cluster::http_get_json(
                    cluster.node(i).http_addr(),
                    "/jsz",
                    Duration::from_secs(1),
                )
                .ok()
                .and_then(|v| {
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

/// FNV-1a, 64 bits, over `bytes`, continuing from `h`.
pub(crate) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One live record of a message block: (sequence, subject, payload).
pub type Record = (u64, Vec<u8>, Vec<u8>);

/// Reads every live record of every `<n>.blk` in `dir`, in block order. `Err` if a block does
/// not parse as the 2.9 layout.
pub fn read_blocks(dir: &std::path::Path) -> Result<Vec<Record>, String> {
    let mut blocks: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_suffix(".blk")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    blocks.sort();
    let mut out = Vec::new();
    for (_, path) in blocks {
        let b = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let u32_at = |p: usize| {
            b.get(p..p + 4)
                .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        };
        let u64_at = |p: usize| {
            b.get(p..p + 8)
                .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        };
        let mut i = 0;
        while i + 22 <= b.len() {
            let raw = u32_at(i).ok_or("short record")?;
            let has_hdr = raw & (1 << 31) != 0;
            let len = (raw & !(1 << 31)) as usize;
            if len == 0 {
                break; // the unwritten tail
            }
            if len < 30 || i + len > b.len() {
                return Err(format!(
                    "{}: bad record length {len} at {i}",
                    path.display()
                ));
            }
            let seq = u64_at(i + 4).ok_or("short record")?;
            let slen = u16::from_le_bytes([b[i + 20], b[i + 21]]) as usize;
            let mut p = i + 22;
            let subject = b.get(p..p + slen).ok_or("short subject")?;
            p += slen;
            if has_hdr {
                p += 4 + u32_at(p).ok_or("short header length")? as usize;
            }
            let payload = b.get(p..i + len - 8).ok_or("short payload")?;
            // A deleted (erased) record has the top bit of its sequence set.
            if seq & (1 << 63) == 0 {
                out.push((seq, subject.to_vec(), payload.to_vec()));
            }
            i += len;
        }
    }
    Ok(out)
}

/// Hashes every live record's sequence, subject and payload in `dir`'s blocks: (records,
/// hash).
pub fn blocks_digest(dir: &std::path::Path) -> Result<(u64, u64), String> {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let records = read_blocks(dir)?;
    for (seq, subject, payload) in &records {
        hash = fnv(hash, &seq.to_le_bytes());
        hash = fnv(hash, subject);
        hash = fnv(hash, &[0]);
        hash = fnv(hash, payload);
        hash = fnv(hash, &[0]);
    }
    Ok((records.len() as u64, hash))
}
