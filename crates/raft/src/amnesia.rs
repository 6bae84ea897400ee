//! A member that may have lost what it promised must not vote until it has it back.
//!
//! Raft's safety rests on a voter remembering its log: a committed entry is on a majority, and
//! a candidate lacking it cannot win a vote from any of them. A server whose store was wiped
//! (a lost disk, a replaced machine) comes back under the same name, so with the same node id,
//! and an empty log. If it votes at once, it can hand a majority to a candidate that lacks
//! entries it had acknowledged itself before the wipe: in a 3-node group, the leader commits an
//! entry with this member's help, the leader dies, this member comes back empty and votes for
//! the third member, which never had the entry; acknowledged data is gone.
//! (Seen in the chaos run `wipe-node`, seed 20261207: one acked publish lost.)
//!
//! So a group started on an empty log, on a node that may have lost its state (the layer above
//! says which: [`crate::GroupOptions::recovering`]), refuses every vote until it has recovered:
//! it has applied an entry written in the term of the latest leader it heard from (every
//! leader appends a blank entry when elected, after every entry committed before), and at
//! least up to the commit index the first leader it heard from announced (entries committed
//! in that leader's term before this member came back). Entries it acknowledges after it came
//! back are on its disk like any member's. Then its log holds every committed entry, as
//! any voter's does, and it votes again. A group the layer above knows to be new here (formed
//! now, nothing yet promised) is not held back.
//!
//! The decision is pure ([`Amnesia`]): `node.rs` feeds it what the group heard and its metrics.

use crate::types::NodeId;
use openraft::LogId;

/// A group held back from voting until it has caught up with what it may have lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Amnesia {
    /// The commit index announced by the first leader heard from since the start (`Some(None)`:
    /// a leader that had committed nothing); `None` until a leader is heard.
    first_commit: Option<Option<u64>>,
    /// The term of the latest leader heard from.
    leader_term: u64,
}

impl Amnesia {
    /// An append (entries or heartbeat) arrived from the leader of `term`, announcing
    /// `leader_commit`.
    pub(crate) fn heard_leader(&mut self, term: u64, leader_commit: Option<u64>) {
        if self.first_commit.is_none() {
            self.first_commit = Some(leader_commit);
        }
        self.leader_term = self.leader_term.max(term);
    }

    /// Whether the group has what it may have lost: it has applied an entry of the term of
    /// the latest leader heard from, and at least up to the commit index the first leader
    /// heard from announced. (Not this node's current vote: once its leader is gone it may
    /// be a candidate itself, and must still be able to tell that it caught up.)
    pub(crate) fn recovered(&self, applied: Option<&LogId<NodeId>>) -> bool {
        let Some(first_commit) = self.first_commit else {
            return false;
        };
        let Some(applied) = applied else {
            return false;
        };
        applied.leader_id.term == self.leader_term
            && first_commit.is_none_or(|c| applied.index >= c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn log_id(term: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    #[test]
    fn nothing_heard_is_not_recovered() {
        let a = Amnesia::default();
        assert!(!a.recovered(None));
        assert!(!a.recovered(Some(&log_id(5, 900))));
    }

    #[test]
    fn recovered_once_an_entry_of_the_leaders_term_is_applied_past_its_first_commit() {
        let mut a = Amnesia::default();
        a.heard_leader(5, Some(835));
        // Caught up to an older term's entries only: the leader's blank entry is still ahead.
        assert!(!a.recovered(Some(&log_id(4, 834))));
        // The leader's term, but short of what it had committed when first heard.
        assert!(!a.recovered(Some(&log_id(5, 800))));
        assert!(a.recovered(Some(&log_id(5, 835))));
        assert!(a.recovered(Some(&log_id(5, 900))));
    }

    #[test]
    fn a_newer_leader_must_be_caught_up_with_too() {
        let mut a = Amnesia::default();
        a.heard_leader(5, Some(10));
        a.heard_leader(6, Some(12));
        // Up to date with term 5, but the leader of term 6 was heard: its blank entry comes
        // after everything committed before it.
        assert!(!a.recovered(Some(&log_id(5, 12))));
        assert!(a.recovered(Some(&log_id(6, 13))));
    }

    #[test]
    fn only_the_first_leaders_commit_index_counts() {
        let mut a = Amnesia::default();
        a.heard_leader(2, None);
        a.heard_leader(2, Some(50));
        assert!(a.recovered(Some(&log_id(2, 3))));
    }
}
