//! Wiring clustered JetStream (a server with JetStream and a cluster): the node's Raft log
//! (one write-ahead log for every group, under the store directory's `_cluster/wal`, synced as
//! the JetStream sync policy says) and the meta group's settings from the configuration.

use crate::settings::JetStreamSettings;
use sluice_raft::wal::{SyncMode, Wal, WalOptions};
use sluice_raft::Timing;
use sluice_server::{ClusterConfig, RouteUrl};
use sluice_stream::cluster::logs::Logs;
use sluice_stream::cluster::service::ClusterSettings;
use sluice_stream::{JetStream, SyncPolicy};

/// Whether a configured route points at this server's own cluster listener (nats-server
/// configs commonly list every server, this one included).
fn is_self(route: &RouteUrl, cluster: &ClusterConfig) -> bool {
    let local = |h: &str| {
        matches!(h, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0" | "::") || h == cluster.host
    };
    route.port == cluster.port && local(&route.host)
}

/// How many servers the configured routes name, this one included (0 with none).
pub fn expected_servers(cluster: &ClusterConfig) -> usize {
    let others = cluster
        .routes
        .iter()
        .filter(|r| !is_self(r, cluster))
        .count();
    if others == 0 {
        0
    } else {
        others + 1
    }
}

/// Starts clustered JetStream on `js`; returns the log, for shutting it down.
pub async fn start(
    js: &JetStream,
    cluster: &ClusterConfig,
    settings: &JetStreamSettings,
) -> Result<Wal, String> {
    let sync = settings.sync;
    let dir = settings.store_dir.join("_cluster").join("wal");
    let wal = Wal::open(
        &dir,
        WalOptions {
            sync: match sync {
                SyncPolicy::Always => SyncMode::Always,
                SyncPolicy::Every(d) => SyncMode::Interval(d),
            },
            ..WalOptions::default()
        },
    )
    .map_err(|e| format!("the cluster log at {}: {e}", dir.display()))?;
    let cs = ClusterSettings {
        name: cluster.name.clone().unwrap_or_default(),
        expected: expected_servers(cluster),
        tags: settings.server_tags.clone(),
        unique_tag: settings.unique_tag.clone(),
        timing: Timing::default(),
        snapshot_log_bytes: sluice_stream::cluster::service::DEFAULT_SNAPSHOT_LOG_BYTES,
    };
    js.start_cluster(cs, Logs::Wal(wal.clone())).await?;
    Ok(wal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_size_counts_other_servers_and_this_one() {
        let mut c = ClusterConfig::new("0.0.0.0", 6222);
        assert_eq!(expected_servers(&c), 0);
        c.routes = [
            "nats://127.0.0.1:6222",
            "nats://10.0.0.2:6222",
            "nats://b:6223",
        ]
        .iter()
        .map(|u| u.parse().unwrap())
        .collect();
        assert_eq!(expected_servers(&c), 3, "itself is not counted twice");
        c.routes.truncate(1);
        assert_eq!(
            expected_servers(&c),
            0,
            "only itself: no other server named"
        );
    }
}
