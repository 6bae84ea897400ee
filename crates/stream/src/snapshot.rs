//! What readers see of a stream without asking its owner: an immutable [`Snapshot`] the
//! owner publishes after each step, before it sends that step's acks and answers (so a client
//! that got an answer and then asks for info sees what it was answered about).
//!
//! STREAM.INFO and LIST, account info, CONSUMER.NAMES, `/jsz` and `/varz` read the latest
//! snapshot: none of them waits for a stream's owner, and so for a disk.
//!
//! A leaf module: it names types and holds one lock that is never held across anything but
//! an `Arc` clone or swap.

use crate::store::StoreState;
use parking_lot::RwLock;
use sluice_server::ConsumerStats;
use std::sync::Arc;

/// A stream as of the end of one of its owner's steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    /// The store's state (messages, bytes, sequences, subjects).
    pub state: StoreState,
    /// Names of the consumers CONSUMER.NAMES lists (all but direct ones), in name order.
    pub consumer_names: Vec<String>,
    /// The consumers' numbers for `/jsz?consumers=1`, refreshed at most every
    /// [`STATS_EVERY_NS`] (counting pending messages can take a walk over the index).
    pub consumer_stats: Vec<ConsumerStats>,
}

/// How stale [`Snapshot::consumer_stats`] may get while consumers are busy.
pub(crate) const STATS_EVERY_NS: i64 = 250_000_000;

/// The latest snapshot of one stream, shared by its owner (which writes it) and readers.
#[derive(Debug, Default)]
pub(crate) struct SnapshotCell(RwLock<Arc<Snapshot>>);

impl SnapshotCell {
    pub(crate) fn new(first: Snapshot) -> Self {
        SnapshotCell(RwLock::new(Arc::new(first)))
    }

    /// The latest snapshot.
    pub(crate) fn get(&self) -> Arc<Snapshot> {
        self.0.read().clone()
    }

    /// Replaces the snapshot.
    pub(crate) fn set(&self, next: Snapshot) {
        *self.0.write() = Arc::new(next);
    }
}
