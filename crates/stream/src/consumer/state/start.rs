//! Where a new consumer starts: nats-server's `selectStartingSeqNo`.

use super::filter::Filters;
use super::DeliverStart;
use crate::store::{MsgStore, StoreError, StoreState};
use std::collections::VecDeque;

/// A starting position.
pub(super) struct Start {
    /// The next stream sequence to look at.
    pub next: u64,
    /// Deliver-last-per-subject: sequences to deliver first, ascending.
    pub skip: VecDeque<u64>,
    /// Where new deliveries continue once `skip` is done.
    pub resume: u64,
}

/// The position `start` selects in `store` for a consumer with `filters`.
pub(super) fn select(
    start: DeliverStart,
    filters: &Filters,
    store: &dyn MsgStore,
) -> Result<Start, StoreError> {
    let st = store.state();
    let at = |next| Start {
        next,
        skip: VecDeque::new(),
        resume: 0,
    };
    Ok(match start {
        DeliverStart::All => at(clamp_start(st.first_seq, &st)),
        DeliverStart::New => at(st.last_seq + 1),
        DeliverStart::ByStartSeq(seq) => at(clamp_start(seq.max(st.first_seq), &st)),
        DeliverStart::ByStartTime(t) => at(clamp_start(seq_from_time(store, t)?, &st)),
        DeliverStart::Last => {
            let last = if filters.is_all() {
                store.last_matching(">")?.map(|m| m.seq)
            } else {
                let mut best = None;
                for f in filters.subjects() {
                    if let Some(m) = store.last_matching(f)? {
                        best = best.max(Some(m.seq));
                    }
                }
                best
            };
            at(clamp_start(last.unwrap_or(0), &st))
        }
        DeliverStart::LastPerSubject => {
            let mut seqs = Vec::new();
            for (subject, _) in store.subjects() {
                if filters.matches(&subject) {
                    if let Some(m) = store.last_matching(&subject)? {
                        seqs.push(m.seq);
                    }
                }
            }
            seqs.sort_unstable();
            match seqs.first() {
                None => at(clamp_start(st.last_seq, &st)),
                Some(&first) => Start {
                    next: first,
                    skip: seqs.into(),
                    resume: st.last_seq + 1,
                },
            }
        }
    })
}

/// nats-server's (v2.9) clamps: an empty stream, or a start past its end, starts at the next
/// sequence; a start below the first message moves up to it.
fn clamp_start(seq: u64, st: &StoreState) -> u64 {
    if st.msgs == 0 || seq > st.last_seq {
        st.last_seq + 1
    } else {
        seq.max(st.first_seq)
    }
}

/// The first sequence whose message was stored at or after `t`, or `last_seq + 1`: a binary
/// search over sequences (deleted ones skipped), assuming stored times never go backwards.
fn seq_from_time(store: &dyn MsgStore, t: i64) -> Result<u64, StoreError> {
    let st = store.state();
    if st.msgs == 0 {
        return Ok(st.last_seq + 1);
    }
    // Every present message below `lo` is older than `t`; every one at or above `hi` is not.
    let (mut lo, mut hi) = (st.first_seq, st.last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.next_matching(mid, None)? {
            Some(m) if m.seq < hi => {
                if m.time_ns >= t {
                    hi = m.seq;
                } else {
                    lo = m.seq + 1;
                }
            }
            _ => hi = mid,
        }
    }
    Ok(lo)
}
