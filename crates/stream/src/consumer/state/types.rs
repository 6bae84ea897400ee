//! The state machine's public vocabulary: policy, start positions, deliveries, events.

use crate::store::StoredMsg;
use serde::{Deserialize, Serialize};

/// Deadline of a pending message that is never redelivered on its own (ack wait <= 0).
pub const NO_DEADLINE: i64 = i64::MAX;

/// How deliveries are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AckPolicy {
    /// Nothing is acknowledged; a delivery counts as acked.
    None,
    /// Acking a message acks every message delivered before it.
    All,
    /// Every message is acknowledged on its own.
    #[default]
    Explicit,
}

/// The parts of a consumer's config the state machine obeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerPolicy {
    pub ack_policy: AckPolicy,
    /// How long a delivery waits for an ack before redelivery, without backoff.
    pub ack_wait_ns: i64,
    /// Deliveries allowed per message; <= 0: unlimited.
    pub max_deliver: i64,
    /// Ack wait per delivery attempt (the last entry repeats); empty: `ack_wait_ns` always.
    pub backoff_ns: Vec<i64>,
    /// Messages awaiting an ack before new deliveries stop; <= 0: unlimited.
    pub max_ack_pending: i64,
    /// Subjects delivered; empty: all.
    pub filter_subjects: Vec<String>,
}

impl Default for ConsumerPolicy {
    fn default() -> Self {
        ConsumerPolicy {
            ack_policy: AckPolicy::Explicit,
            ack_wait_ns: 30_000_000_000,
            max_deliver: -1,
            backoff_ns: Vec::new(),
            max_ack_pending: -1,
            filter_subjects: Vec::new(),
        }
    }
}

impl ConsumerPolicy {
    /// How long delivery number `deliveries` (1 = first) waits for an ack.
    pub fn ack_wait_for(&self, deliveries: u64) -> i64 {
        match self.backoff_ns.len() {
            0 => self.ack_wait_ns,
            n => {
                let i = (deliveries.max(1) - 1).min(n as u64 - 1) as usize;
                self.backoff_ns[i]
            }
        }
    }

    pub(super) fn deadline(&self, now_ns: i64, deliveries: u64) -> i64 {
        match self.ack_wait_for(deliveries) {
            w if w <= 0 => NO_DEADLINE,
            w => now_ns.saturating_add(w).min(NO_DEADLINE - 1),
        }
    }

    pub(super) fn max_deliver(&self) -> Option<u64> {
        (self.max_deliver > 0).then_some(self.max_deliver as u64)
    }

    pub(super) fn max_ack_pending(&self) -> Option<usize> {
        (self.ack_policy != AckPolicy::None && self.max_ack_pending > 0)
            .then_some(self.max_ack_pending as usize)
    }
}

/// Where a new consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverStart {
    /// The first message in the stream.
    All,
    /// The newest message (the newest matching one, with filters).
    Last,
    /// Only messages stored after the consumer was created.
    New,
    /// The first message at or after this stream sequence.
    ByStartSeq(u64),
    /// The first message stored at or after this time (Unix ns).
    ByStartTime(i64),
    /// The newest message of each matching subject, then everything new.
    LastPerSubject,
}

/// A consumer sequence and the stream sequence that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeqPair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

/// A delivered message awaiting its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The consumer sequence of its first delivery.
    pub consumer_seq: u64,
    /// When it was last delivered.
    pub timestamp_ns: i64,
    /// Times delivered.
    pub deliveries: u64,
    /// When it is due for redelivery unless acked ([`NO_DEADLINE`]: never). Meaningless while
    /// it is queued for redelivery.
    pub deadline_ns: i64,
}

/// One message to send, with what its ack reply subject carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub stream_seq: u64,
    /// This delivery's consumer sequence.
    pub consumer_seq: u64,
    /// Times delivered, this one included (1 for the first).
    pub deliveries: u64,
    /// Messages still to be delivered for the first time after this one.
    pub pending: u64,
    pub msg: StoredMsg,
}

/// Something the caller should announce (advisories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message reached max_deliver and will not be redelivered
    /// (`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES`).
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
    /// A pending message was gone from the store when due for redelivery; it was dropped as
    /// if terminated (`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED`, reason "Unacknowledged
    /// message was deleted").
    DeletedWhilePending {
        stream_seq: u64,
        consumer_seq: u64,
        deliveries: u64,
    },
}

/// What an ack or term did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct AckOutcome {
    /// Stream sequences newly acknowledged by this consumer, ascending: a workqueue stream
    /// removes them; an interest stream removes each once no consumer needs it.
    pub acked: Vec<u64>,
}

impl AckOutcome {
    /// False for a duplicate or meaningless ack.
    pub fn changed(&self) -> bool {
        !self.acked.is_empty()
    }
}
