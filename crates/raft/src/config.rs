//! The timing every group runs with, chosen for the failover the issue asks (a killed leader
//! replaced and writes accepted again within 2 s): heartbeats every 150 ms, elections after
//! 450 to 900 ms of silence. A follower refuses to vote while its leader's lease (the longest
//! election timeout) runs, so openraft alone fails over in one to two election timeouts (up
//! to 1.8 s); the followers of a leader whose server is dead (`dead_after_ms` without a beat)
//! stand at once (`liveness.rs`), and a failover takes about half a second. nats-server 2.9
//! uses 1 s heartbeats and 4-9 s elections.

use openraft::{Config, SnapshotPolicy};
use std::sync::Arc;

/// Timing and log-retention settings of a node's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// A snapshot is built after this many entries since the last one; the log before it is
    /// then purged but for `keep_after_snapshot` entries (so a replica just behind catches up
    /// from the log, not a snapshot). 0: never (the log is kept whole).
    pub snapshot_every: u64,
    pub keep_after_snapshot: u64,
    /// Entries are purged from the log in batches of at least this many.
    pub purge_batch: u64,
    /// Quiet idle groups (`liveness.rs`): a group with nothing appended for `idle_after_ms`
    /// stops its 150 ms heartbeats (one every `idle_beat_ms` instead), and its followers hold
    /// elections only when the leader's server stops answering the servers' own beats (every
    /// `beat_ms`, a server is down after `dead_after_ms` of silence) or the group's leader
    /// has not been heard from for `silent_after_ms`.
    pub quiesce: bool,
    pub beat_ms: u64,
    pub dead_after_ms: u64,
    pub idle_after_ms: u64,
    pub idle_beat_ms: u64,
    pub silent_after_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_ms: 150,
            election_min_ms: 450,
            election_max_ms: 900,
            snapshot_every: 10_000,
            keep_after_snapshot: 1_000,
            purge_batch: 256,
            quiesce: true,
            beat_ms: 100,
            dead_after_ms: 300,
            idle_after_ms: 2_000,
            idle_beat_ms: 2_000,
            silent_after_ms: 4_500,
        }
    }
}

impl Timing {
    /// openraft's configuration for a group named `group`.
    pub fn openraft(&self, group: &str) -> Result<Arc<Config>, Box<openraft::ConfigError>> {
        let config = Config {
            cluster_name: group.to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_min_ms,
            election_timeout_max: self.election_max_ms,
            snapshot_policy: match self.snapshot_every {
                0 => SnapshotPolicy::Never,
                n => SnapshotPolicy::LogsSinceLast(n),
            },
            max_in_snapshot_log_to_keep: self.keep_after_snapshot,
            purge_batch_size: self.purge_batch,
            ..Config::default()
        };
        Ok(Arc::new(config.validate().map_err(Box::new)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timing_is_valid_for_openraft() {
        let c = Timing::default().openraft("g").unwrap();
        assert_eq!(c.heartbeat_interval, 150);
        assert_eq!(c.election_timeout_min, 450);
        assert_eq!(c.cluster_name, "g");
    }

    #[test]
    fn no_snapshots_when_snapshot_every_is_zero() {
        let t = Timing {
            snapshot_every: 0,
            ..Timing::default()
        };
        let c = t.openraft("g").unwrap();
        assert_eq!(c.snapshot_policy, SnapshotPolicy::Never);
        let c = Timing::default().openraft("g").unwrap();
        assert_eq!(c.snapshot_policy, SnapshotPolicy::LogsSinceLast(10_000));
    }

    #[test]
    fn inconsistent_timing_is_an_error_not_a_default() {
        let t = Timing {
            election_min_ms: 500,
            election_max_ms: 400,
            ..Timing::default()
        };
        assert!(t.openraft("g").is_err());
    }
}
