//! The meta group's [`Machine`]: applies committed [`MetaOp`]s to the [`MetaState`] every
//! server shares, and tells this server's reconciler (`service.rs`) what each one did.
//!
//! An entry is a [`MetaEntry`]: the op, and where its answer goes (the API request's reply
//! subject). Entries applied while the server replays its own log at startup are marked
//! `live: false`: their answers were given long ago, and nothing they would remove is removed
//! on the word of a log that may be behind the group's.
//!
//! Every assignment applied (or restored) is also shown to [`LostGroups`], which keeps those
//! applied while this server's meta group has not caught up after starting empty.

use crate::cluster::lost::LostGroups;
use crate::cluster::meta::{MetaOp, MetaOutcome, MetaState};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sluice_raft::{Committed, Machine};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A meta group log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaEntry {
    pub op: MetaOp,
    /// Where the API answer goes, if anywhere.
    pub reply: Option<String>,
}

impl MetaEntry {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<MetaEntry, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// What applying an entry did, for the reconciler.
#[derive(Debug)]
pub struct Applied {
    pub index: u64,
    pub entry: MetaEntry,
    pub outcome: MetaOutcome,
    /// Applied as it was committed now, not replayed at startup.
    pub live: bool,
}

/// The meta group's machine. The state is shared (read by the API and the reconciler).
pub struct MetaMachine {
    pub state: Arc<RwLock<MetaState>>,
    events: mpsc::Sender<Applied>,
    /// Entries up to this index are replays of this server's log (not live).
    replay_upto: u64,
    lost: LostGroups,
}

impl MetaMachine {
    pub(crate) fn new(
        state: Arc<RwLock<MetaState>>,
        events: mpsc::Sender<Applied>,
        replay_upto: u64,
        lost: LostGroups,
    ) -> MetaMachine {
        MetaMachine {
            state,
            events,
            replay_upto,
            lost,
        }
    }
}

impl Machine for MetaMachine {
    async fn apply(&mut self, entries: Vec<Committed>) {
        for c in entries {
            let entry = match MetaEntry::decode(&c.data) {
                Ok(e) => e,
                Err(e) => {
                    // Every replica decodes the same bytes the same way: all skip it.
                    tracing::error!(index = c.log_id.index, error = %e, "undecodable meta entry skipped");
                    continue;
                }
            };
            let outcome = self.state.write().apply(entry.op.clone());
            if let Ok(Some(sa)) = &outcome {
                self.lost.applied([sa.group.as_str()]);
            }
            let applied = Applied {
                index: c.log_id.index,
                entry,
                outcome,
                live: c.log_id.index > self.replay_upto,
            };
            // Bounded: a slow reconciler holds up apply, not memory. It only goes away at
            // shutdown, when nothing is waiting for these.
            let _ = self.events.send(applied).await;
        }
    }

    async fn snapshot(&mut self) -> Result<Vec<u8>, String> {
        Ok(self.state.read().encode())
    }

    async fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        let restored = MetaState::decode(data)?;
        self.lost
            .applied(restored.streams.values().map(|sa| sa.group.as_str()));
        *self.state.write() = restored;
        Ok(())
    }
}
