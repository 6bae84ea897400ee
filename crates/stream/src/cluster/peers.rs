//! What the JetStream servers of a cluster tell each other every second (a report: name,
//! cluster, tags, and their JetStream usage), so that the meta leader can place streams by
//! tags and answer account info for the whole cluster, as nats-server's statsz updates let it.
//!
//! Reports travel as peer messages (`js.report`) over the routes; a server not heard from for
//! [`OFFLINE_AFTER`] is offline for placement.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The peer message subject of reports.
pub const REPORT: &str = "js.report";

/// A server not heard from for this long is offline.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(5);

/// One server's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub name: String,
    pub cluster: String,
    pub tags: Vec<String>,
    pub streams: usize,
    pub consumers: u64,
    pub memory: u64,
    pub storage: u64,
}

/// The latest report of every server heard from.
#[derive(Default)]
pub struct PeerTable {
    reports: Mutex<HashMap<String, (Report, Instant)>>,
}

impl PeerTable {
    pub fn record(&self, report: Report) {
        self.reports
            .lock()
            .insert(report.name.clone(), (report, Instant::now()));
    }

    /// Every report, with whether its server is online.
    pub fn all(&self) -> Vec<(Report, bool)> {
        let now = Instant::now();
        let mut v: Vec<_> = self
            .reports
            .lock()
            .values()
            .map(|(r, at)| (r.clone(), now.duration_since(*at) < OFFLINE_AFTER))
            .collect();
        v.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        v
    }

    pub fn get(&self, name: &str) -> Option<(Report, bool)> {
        let now = Instant::now();
        self.reports
            .lock()
            .get(name)
            .map(|(r, at)| (r.clone(), now.duration_since(*at) < OFFLINE_AFTER))
    }
}

/// nats-server's peer id of the server named `name` (`getHash`): the first 8 bytes of the
/// name's SHA-256, each as a base-62 digit.
pub fn peer_id(name: &str) -> String {
    use sha2::Digest;
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let sum = sha2::Sha256::digest(name.as_bytes());
    sum[..8]
        .iter()
        .map(|b| DIGITS[usize::from(*b) % 62] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_nats_servers() {
        // Captured from nats-server 2.9.10 (protocol-spec/jetstream-cluster.md).
        assert_eq!(peer_id("n1"), "fjFyEjc1");
        assert_eq!(peer_id(""), "fqA4S4SK");
    }
}
