//! Persistence: the plain snapshot (serde) and the compact binary form (layout in `codec.rs`).

use super::codec::{self, DecodeError};
use super::filter::Filters;
use super::{ConsumerPolicy, ConsumerState, Pending, NO_DEADLINE};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

/// Everything [`ConsumerState`] persists, in plain form (serde).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSnapshot {
    pub next_stream_seq: u64,
    pub delivered_consumer_seq: u64,
    pub pending: BTreeMap<u64, Pending>,
    /// Stream seq -> deliveries of messages that reached max_deliver un-acked.
    pub exhausted: BTreeMap<u64, u64>,
    /// Pending stream sequences queued for redelivery now.
    pub redeliver: Vec<u64>,
    /// Deliver-last-per-subject sequences still to deliver, ascending.
    pub skip: Vec<u64>,
    /// Where new deliveries continue once `skip` is done.
    pub resume_seq: u64,
    pub last_delivered_ns: Option<i64>,
    pub last_ack_ns: Option<i64>,
}

impl ConsumerState {
    /// Everything persisted, in plain form.
    pub fn snapshot(&self) -> ConsumerSnapshot {
        ConsumerSnapshot {
            next_stream_seq: self.next_stream_seq,
            delivered_consumer_seq: self.delivered_consumer_seq,
            pending: self.pending.clone(),
            exhausted: self.exhausted.clone(),
            redeliver: self.redeliver.iter().copied().collect(),
            skip: self.skip.iter().copied().collect(),
            resume_seq: self.resume_seq,
            last_delivered_ns: self.last_delivered_ns,
            last_ack_ns: self.last_ack_ns,
        }
    }

    /// A consumer continuing from `snapshot` under `policy`. Unsent events are not part of a
    /// snapshot. Inconsistent parts are repaired: queued sequences that are not pending are
    /// dropped, and the start list is sorted.
    pub fn restore(policy: ConsumerPolicy, snapshot: ConsumerSnapshot) -> Self {
        let ConsumerSnapshot {
            next_stream_seq,
            delivered_consumer_seq,
            pending,
            exhausted,
            redeliver,
            mut skip,
            resume_seq,
            last_delivered_ns,
            last_ack_ns,
        } = snapshot;
        let redeliver: BTreeSet<u64> = redeliver
            .into_iter()
            .filter(|s| pending.contains_key(s))
            .collect();
        let deadlines = pending
            .iter()
            .filter(|(s, p)| p.deadline_ns != NO_DEADLINE && !redeliver.contains(s))
            .map(|(&s, p)| (p.deadline_ns, s))
            .collect();
        skip.sort_unstable();
        skip.dedup();
        ConsumerState {
            filters: Filters::new(&policy.filter_subjects),
            policy,
            next_stream_seq,
            delivered_consumer_seq,
            pending,
            exhausted,
            redeliver,
            deadlines,
            skip: skip.into(),
            resume_seq,
            last_delivered_ns,
            last_ack_ns,
            events: Vec::new(),
            np_cache: Cell::new(None),
        }
    }

    /// The persisted state in a compact binary form (varints, deltas): a few bytes per
    /// pending message.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.snapshot())
    }

    /// A consumer continuing from [`encode`](Self::encode)'s output under `policy`.
    pub fn decode(policy: ConsumerPolicy, bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self::restore(policy, codec::decode(bytes)?))
    }
}
