//! Removal plans: what a purge or an expiry takes away, chosen without changing anything.

use super::{Entry, Index, Matcher, Plan};
use crate::store::Purge;

/// Highest sequence a purge may move the store to.
pub(crate) const MAX_SEQ: u64 = 1 << 62;

impl<E: Entry> Index<E> {
    /// What `purge` removes, with nats-server's semantics (`PurgeEx`): without a filter,
    /// `up_to_seq` compacts (and wins over `keep`) and `keep` keeps the newest N; with one,
    /// both apply to the matching messages. Zero means unset, as in the API.
    pub fn plan_purge(&self, p: &Purge) -> Plan {
        let filter = p.filter.as_deref().filter(|f| !f.is_empty() && *f != ">");
        let up_to = p.up_to_seq.filter(|&s| s > 0);
        let keep = p.keep.filter(|&k| k > 0);
        let Some(filter) = filter else {
            return match (up_to, keep) {
                (None, None) => Plan::All,
                // Clamped far below u64::MAX so sequence arithmetic never overflows.
                (Some(s), _) => Plan::Below(s.min(MAX_SEQ)),
                (None, Some(k)) if k >= self.msgs => Plan::Seqs(Vec::new()),
                (None, Some(k)) => {
                    // The first kept message is the k-th live one from the end.
                    let mut left = k;
                    let mut below = self.last_seq + 1;
                    self.slots.scan_rev(0..self.slots.len(), |i, slot| {
                        if slot.is_some() {
                            below = self.base + i as u64;
                            left -= 1;
                        }
                        left > 0
                    });
                    Plan::Below(below)
                }
            };
        };
        let mut m = self.matcher(Some(filter), false);
        let total = match &m {
            Matcher::Nothing => return Plan::Seqs(Vec::new()),
            Matcher::One(id) => self.infos[*id as usize].count,
            Matcher::Set { set, .. } => self
                .ids
                .values()
                .filter(|&&id| set[id as usize])
                .map(|&id| self.infos[id as usize].count)
                .sum(),
            Matcher::All => self.msgs,
            Matcher::Lazy { .. } => unreachable!("not lazy"),
        };
        let mut max = match keep {
            Some(k) if k >= total => return Plan::Seqs(Vec::new()),
            Some(k) => total - k,
            None => total,
        };
        let end = up_to.unwrap_or(u64::MAX);
        let mut seqs = Vec::new();
        self.scan(&mut m, 0, |seq, _| {
            if seq >= end || max == 0 {
                return false;
            }
            seqs.push(seq);
            max -= 1;
            true
        });
        Plan::Seqs(seqs)
    }

    /// What expiry at `cutoff_ns` removes: everything stored before it.
    pub fn plan_expire(&self, cutoff_ns: i64) -> Plan {
        if self.monotonic {
            let mut below = self.last_seq + 1;
            self.slots.scan(0..self.slots.len(), |i, slot| match slot {
                Some(e) if e.ts() >= cutoff_ns => {
                    below = self.base + i as u64;
                    false
                }
                _ => true,
            });
            return Plan::Below(below.min(self.last_seq + 1));
        }
        let mut seqs = Vec::new();
        self.scan(&mut Matcher::All, 0, |seq, e| {
            if e.ts() < cutoff_ns {
                seqs.push(seq);
            }
            true
        });
        Plan::Seqs(seqs)
    }

    /// Whether applying `plan` would change nothing.
    pub fn is_noop(&self, plan: &Plan) -> bool {
        match plan {
            Plan::All => self.msgs == 0,
            Plan::Below(below) => *below <= self.first_seq(),
            Plan::Seqs(seqs) => seqs.is_empty(),
        }
    }

    /// Whether applying `plan` would leave the store empty.
    pub fn empties(&self, plan: &Plan) -> bool {
        match plan {
            Plan::All => true,
            Plan::Below(below) => *below > self.last_live_or_zero(),
            Plan::Seqs(seqs) => seqs.len() as u64 >= self.msgs,
        }
    }

    fn last_live_or_zero(&self) -> u64 {
        if self.msgs == 0 {
            0
        } else {
            self.last_live()
        }
    }
}
