//! `num_pending`: how many messages in the store this consumer has still to deliver for the
//! first time, kept cheap enough to put in every delivery's ack reply.
//!
//! A full count walks the undelivered matching messages (see [`super::filter`]), so the last
//! count is cached with the store's `(msgs, last_seq)` at that moment. Messages are immutable
//! and only ever appended (each append raises `last_seq` by one) or removed, so if
//! `msgs_then + (last_now - last_then) == msgs_now` nothing was removed since, and the count is
//! still exact after adding the matches among the new sequences and subtracting our own first
//! deliveries. When something was removed, the count is redone from scratch, unless the backlog
//! is larger than [`RECOUNT_BUDGET`] and the caller asked for a cheap answer (a delivery's
//! ack reply): then the old count plus the new matches is clamped by what the store could still
//! hold (as nats-server's `checkNumPending` clamps its running count) and marked inexact, so the
//! next exact request ([`super::ConsumerState::num_pending`]) recounts.

use super::filter::Filters;
use crate::store::{MsgStore, StoreError};
use std::cell::Cell;
use std::collections::VecDeque;

/// Above this many candidate sequences, a delivery does not recount after removals.
pub(super) const RECOUNT_BUDGET: u64 = 4096;

/// The last count and the store state it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NpCache {
    count: u64,
    msgs: u64,
    last_seq: u64,
    exact: bool,
}

/// What is still to be delivered for the first time: the remaining `skip` sequences (deliver
/// last per subject), then every matching message from `first_new`.
pub(super) struct Undelivered<'a> {
    pub filters: &'a Filters,
    pub skip: &'a VecDeque<u64>,
    pub first_new: u64,
}

impl Undelivered<'_> {
    fn full_count(&self, store: &dyn MsgStore, last_seq: u64) -> Result<u64, StoreError> {
        let mut n = 0;
        for &seq in self.skip {
            if store.get(seq)?.is_some() {
                n += 1;
            }
        }
        Ok(n + self.filters.count_range(store, self.first_new, last_seq)?)
    }

    /// Sequences that could still be counted: an upper bound on the count.
    fn bound(&self, last_seq: u64) -> u64 {
        self.skip.len() as u64 + (last_seq + 1).saturating_sub(self.first_new)
    }

    /// The count, from `cache` when it is still valid (see the module doc). `exact: false`
    /// allows the clamped estimate after removals when the backlog is large.
    pub(super) fn count(
        &self,
        cache: &Cell<Option<NpCache>>,
        store: &dyn MsgStore,
        exact: bool,
    ) -> Result<u64, StoreError> {
        let st = store.state();
        if let Some(c) = cache.get() {
            if st.last_seq >= c.last_seq {
                let unchanged = c.msgs + (st.last_seq - c.last_seq) == st.msgs;
                let cheap = !exact && self.bound(st.last_seq) > RECOUNT_BUDGET;
                if (unchanged && (c.exact || !exact)) || cheap {
                    let from = (c.last_seq + 1).max(self.first_new);
                    let mut count = c.count + self.filters.count_range(store, from, st.last_seq)?;
                    let still_exact = c.exact && unchanged;
                    if !still_exact {
                        count = count.min(st.msgs).min(self.bound(st.last_seq));
                    }
                    cache.set(Some(NpCache {
                        count,
                        msgs: st.msgs,
                        last_seq: st.last_seq,
                        exact: still_exact,
                    }));
                    return Ok(count);
                }
            }
        }
        let count = self.full_count(store, st.last_seq)?;
        cache.set(Some(NpCache {
            count,
            msgs: st.msgs,
            last_seq: st.last_seq,
            exact: true,
        }));
        Ok(count)
    }
}

/// Our own first delivery of `seq`: it no longer counts.
pub(super) fn note_first_delivery(cache: &Cell<Option<NpCache>>, seq: u64) {
    if let Some(mut c) = cache.get() {
        // Sequences above `last_seq` were appended after the count and are not in it.
        if seq <= c.last_seq {
            c.count = c.count.saturating_sub(1);
            cache.set(Some(c));
        }
    }
}
