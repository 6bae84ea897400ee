//! Acknowledgements (ack, nak, progress, term), max_deliver, and the stream changing
//! underneath (reconcile).

use super::types::NO_DEADLINE;
use super::{AckOutcome, AckPolicy, ConsumerState, Event, Pending};
use crate::store::{MsgStore, StoreError};
use std::collections::VecDeque;

impl ConsumerState {
    /// Acknowledges `stream_seq` (with `AckPolicy::All`, everything delivered up to it).
    pub fn ack(&mut self, stream_seq: u64, now_ns: i64) -> AckOutcome {
        let out = match self.policy.ack_policy {
            AckPolicy::None => AckOutcome::default(),
            AckPolicy::Explicit => self.ack_one(stream_seq),
            AckPolicy::All => self.ack_upto(stream_seq),
        };
        if out.changed() {
            self.last_ack_ns = Some(now_ns);
        }
        out
    }

    /// Terminates `stream_seq`: never redelivered, counts as acked (with `AckPolicy::All`,
    /// acks everything up to it, as nats-server does).
    pub fn term(&mut self, stream_seq: u64, now_ns: i64) -> AckOutcome {
        self.ack(stream_seq, now_ns)
    }

    fn ack_one(&mut self, seq: u64) -> AckOutcome {
        let was = self.remove_pending(seq).is_some() | self.exhausted.remove(&seq).is_some();
        AckOutcome {
            acked: if was { vec![seq] } else { Vec::new() },
        }
    }

    fn ack_upto(&mut self, seq: u64) -> AckOutcome {
        if seq <= self.ack_floor().stream_seq || seq > self.delivered().stream_seq {
            return AckOutcome::default();
        }
        let mut acked: Vec<u64> = self.pending.range(..=seq).map(|(&s, _)| s).collect();
        for &s in &acked {
            self.remove_pending(s);
        }
        let gone: Vec<u64> = self.exhausted.range(..=seq).map(|(&s, _)| s).collect();
        for &s in &gone {
            self.exhausted.remove(&s);
        }
        acked.extend(gone);
        acked.sort_unstable();
        AckOutcome { acked }
    }

    /// Negative ack: redeliver `stream_seq` now, or once `delay_ns` (> 0) has passed. A
    /// message already delivered max_deliver times is exhausted instead. False if it is not
    /// pending, or already queued and no delay is given.
    pub fn nak(&mut self, stream_seq: u64, delay_ns: Option<i64>, now_ns: i64) -> bool {
        let Some(p) = self.pending.get(&stream_seq).copied() else {
            return false;
        };
        if self.at_max_deliver(stream_seq) {
            self.exhaust(stream_seq);
            return true;
        }
        match delay_ns {
            Some(d) if d > 0 => {
                self.unindex(stream_seq, &p);
                self.redeliver.remove(&stream_seq);
                let deadline = now_ns.saturating_add(d).min(NO_DEADLINE - 1);
                self.pending
                    .get_mut(&stream_seq)
                    .expect("pending")
                    .deadline_ns = deadline;
                self.deadlines.insert((deadline, stream_seq));
                true
            }
            _ => {
                if self.redeliver.contains(&stream_seq) {
                    return false;
                }
                self.unindex(stream_seq, &p);
                self.redeliver.insert(stream_seq);
                true
            }
        }
    }

    /// Work in progress (+WPI): restarts the ack wait of `stream_seq`. False if it is not
    /// pending or already queued for redelivery.
    pub fn progress(&mut self, stream_seq: u64, now_ns: i64) -> bool {
        let Some(p) = self.pending.get(&stream_seq).copied() else {
            return false;
        };
        if self.redeliver.contains(&stream_seq) {
            return false;
        }
        self.unindex(stream_seq, &p);
        let deadline = self.policy.deadline(now_ns, p.deliveries);
        self.pending
            .get_mut(&stream_seq)
            .expect("pending")
            .deadline_ns = deadline;
        if deadline != NO_DEADLINE {
            self.deadlines.insert((deadline, stream_seq));
        }
        true
    }

    pub(super) fn at_max_deliver(&self, seq: u64) -> bool {
        match (self.policy.max_deliver(), self.pending.get(&seq)) {
            (Some(max), Some(p)) => p.deliveries >= max,
            _ => false,
        }
    }

    pub(super) fn exhaust(&mut self, seq: u64) {
        if let Some(p) = self.remove_pending(seq) {
            self.exhausted.insert(seq, p.deliveries);
            self.events.push(Event::MaxDeliveries {
                stream_seq: seq,
                deliveries: p.deliveries,
            });
        }
    }

    fn unindex(&mut self, seq: u64, p: &Pending) {
        self.deadlines.remove(&(p.deadline_ns, seq));
    }

    pub(super) fn remove_pending(&mut self, seq: u64) -> Option<Pending> {
        let p = self.pending.remove(&seq)?;
        self.unindex(seq, &p);
        self.redeliver.remove(&seq);
        Some(p)
    }

    // ---- stream changes ----

    /// Forgets what refers to messages no longer in `store` (after a purge, a delete or
    /// limits): pending and exhausted entries, the deliver-last-per-subject list, and moves the
    /// next sequence up to the stream's first (nats-server's `purge`/`checkRedelivered`).
    /// Returns the stream sequences dropped from pending.
    pub fn reconcile(&mut self, store: &dyn MsgStore) -> Result<Vec<u64>, StoreError> {
        let st = store.state();
        let mut dropped = Vec::new();
        for &seq in self.pending.keys() {
            if seq < st.first_seq || store.get(seq)?.is_none() {
                dropped.push(seq);
            }
        }
        for &seq in &dropped {
            self.remove_pending(seq);
        }
        let mut gone = Vec::new();
        for &seq in self.exhausted.keys() {
            if seq < st.first_seq || store.get(seq)?.is_none() {
                gone.push(seq);
            }
        }
        for seq in gone {
            self.exhausted.remove(&seq);
        }
        if !self.skip.is_empty() {
            let mut kept = VecDeque::with_capacity(self.skip.len());
            for &seq in &self.skip {
                if seq >= st.first_seq && store.get(seq)?.is_some() {
                    kept.push_back(seq);
                }
            }
            self.skip = kept;
            self.resume_seq = self.resume_seq.max(st.first_seq);
            if self.skip.is_empty() {
                self.next_stream_seq = self.next_stream_seq.max(self.resume_seq);
            }
        }
        if self.skip.is_empty() {
            self.next_stream_seq = self.next_stream_seq.max(st.first_seq);
        }
        self.np_cache.set(None);
        Ok(dropped)
    }
}
