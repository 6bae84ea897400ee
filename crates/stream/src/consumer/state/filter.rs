//! A consumer's subject filters over a [`MsgStore`]: the next matching message, and how many
//! match in a range of sequences.
//!
//! The store answers one filter at a time, so with several filters the next match is the
//! smallest of each filter's next match (one store read per filter), and a count over a range
//! is a walk over the matching messages. Both are fine for a handful of filters and for the
//! incremental counts [`super::num_pending`] asks for; a store-side `num_pending(from, filters)`
//! would make the full recount O(subjects) instead of O(messages).

use crate::store::{MsgStore, StoreError, StoredMsg};
use sluice_protocol::subject::{has_wildcard, subject_matches};

/// Normalised filter subjects: empty means every subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Filters {
    subjects: Vec<String>,
}

impl Filters {
    /// Drops empty strings and duplicates; any `>` means no filtering at all.
    pub(super) fn new(subjects: &[String]) -> Self {
        let mut out: Vec<String> = subjects.iter().filter(|s| !s.is_empty()).cloned().collect();
        if out.iter().any(|s| s == ">") {
            out.clear();
        }
        out.sort();
        out.dedup();
        Filters { subjects: out }
    }

    pub(super) fn is_all(&self) -> bool {
        self.subjects.is_empty()
    }

    pub(super) fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// True if a message stored under the literal `subject` is for this consumer.
    pub(super) fn matches(&self, subject: &str) -> bool {
        self.is_all() || self.subjects.iter().any(|f| subject_matches(f, subject))
    }

    /// The first message with sequence >= `from` that matches.
    pub(super) fn next(
        &self,
        store: &dyn MsgStore,
        from: u64,
    ) -> Result<Option<StoredMsg>, StoreError> {
        match self.subjects.as_slice() {
            [] => store.next_matching(from, None),
            [one] => store.next_matching(from, Some(one)),
            many => {
                let mut best: Option<StoredMsg> = None;
                for f in many {
                    if let Some(m) = store.next_matching(from, Some(f))? {
                        match &best {
                            Some(b) if b.seq <= m.seq => {}
                            _ => best = Some(m),
                        }
                    }
                }
                Ok(best)
            }
        }
    }

    /// Matching messages with `from <= seq <= to`.
    pub(super) fn count_range(
        &self,
        store: &dyn MsgStore,
        from: u64,
        to: u64,
    ) -> Result<u64, StoreError> {
        if from > to {
            return Ok(0);
        }
        let st = store.state();
        if st.msgs == 0 || from > st.last_seq {
            return Ok(0);
        }
        if from <= st.first_seq && to >= st.last_seq {
            // The whole store: per-subject counts, no walk.
            if self.is_all() {
                return Ok(st.msgs);
            }
            if !self.subjects.iter().any(|f| has_wildcard(f)) {
                return Ok(self.subjects.iter().map(|f| store.subject_count(f)).sum());
            }
            return Ok(store
                .subjects()
                .iter()
                .filter(|(s, _)| self.matches(s))
                .map(|(_, n)| n)
                .sum());
        }
        let mut n = 0;
        let mut seq = from;
        while let Some(m) = self.next(store, seq)? {
            if m.seq > to {
                break;
            }
            n += 1;
            seq = m.seq + 1;
        }
        Ok(n)
    }
}
