//! The stream layer's numbers for the server's HTTP monitoring (`/jsz`, `/varz`, `/metrics`):
//! an implementation of [`sluice_server::JetStreamMonitor`] that `main` registers once the
//! layer has started.

use crate::config::StorageType;
use crate::jetstream::{Inner, JetStream};
use sluice_server::{JetStreamMonitor, JetStreamStats, StreamStats};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Reads the running layer's counters and each stream's latest snapshot (never waits for a
/// stream's owner). Holds the layer's state alive, not its threads: after `shutdown` it
/// reports the streams as they were stopped.
struct Stats(Arc<Inner>);

impl JetStreamMonitor for Stats {
    fn stats(&self, detail: bool) -> JetStreamStats {
        let js = &self.0;
        let streams = js.streams.read();
        let mut out = JetStreamStats {
            streams: streams.len() as u64,
            api_total: js.api_requests.load(Ordering::Relaxed),
            api_errors: js.api_errors.load(Ordering::Relaxed),
            meta: js.cluster.get().map(|c| c.meta_info()),
            accounts: 1,
            reserved_memory: js.config.reservations.reserved().memory.max(0) as u64,
            reserved_storage: js.config.reservations.reserved().store.max(0) as u64,
            ..JetStreamStats::default()
        };
        if let Some(c) = js.cluster.get() {
            out.raft = Some(crate::cluster::replica::raft_stats(c, &streams));
        }
        for (name, entry) in streams.iter() {
            let snap = entry.snapshot.get();
            let state = &snap.state;
            out.consumers += entry.consumers.load(Ordering::Relaxed);
            out.messages += state.msgs;
            out.bytes += state.bytes;
            match entry.config.storage {
                StorageType::Memory => out.memory += state.bytes,
                StorageType::File => out.storage += state.bytes,
            }
            if detail {
                out.stream_list.push(StreamStats {
                    name: name.clone(),
                    messages: state.msgs,
                    bytes: state.bytes,
                    consumers: snap.consumer_stats.clone(),
                });
            }
        }
        out
    }
}

impl JetStream {
    /// The layer's stats source for [`sluice_server::ServerHandle::set_jetstream_monitor`].
    pub fn monitor(&self) -> Arc<dyn JetStreamMonitor> {
        Arc::new(Stats(self.inner.clone()))
    }
}
