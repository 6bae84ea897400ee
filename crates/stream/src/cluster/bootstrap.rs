//! When the meta group is first formed, and by whom: pure decisions the membership loop of
//! `service.rs` acts on.
//!
//! The group is initialised once, by one server: the one with the smallest name among the
//! JetStream servers it sees, once it sees as many as its configured routes say the cluster
//! has ([`Bootstrap::expected`]) and that set has not changed for [`SETTLE`]. A server with no
//! configured routes never initialises: it waits for a leader to add it. Servers that join
//! later are added by the meta leader (as learners first, voters once caught up), as
//! nats-server adds the servers it discovers. Give every server the full route list (as
//! nats-server's documentation recommends): then all of them wait for the same set and one of
//! them starts the group.
//!
//! Every server of that set also declares its meta group new ([`Formation::members`]), so
//! that it may vote in the first election: a server whose meta log is empty otherwise
//! refuses to vote until it has caught up with a leader, since it may be one whose store was
//! wiped (sluice-raft's `amnesia.rs`). A wiped server does not get here: the meta leader
//! reaches it within a beat of its return, long before [`SETTLE`], and a server that has heard
//! from a leader cannot be declared new.

use std::time::{Duration, Instant};

/// How long the set of servers seen must stay the same before the group is formed.
pub const SETTLE: Duration = Duration::from_secs(2);

/// The bootstrap state of one server.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub me: String,
    /// The number of servers the configured routes name (this one included); 0 if none
    /// are configured.
    pub expected: usize,
    seen: Vec<String>,
    since: Option<Instant>,
}

impl Bootstrap {
    pub fn new(me: &str, expected: usize) -> Bootstrap {
        Bootstrap {
            me: me.to_owned(),
            expected,
            seen: Vec::new(),
            since: None,
        }
    }

    /// Given the JetStream servers seen now (not this one), the members a new group is formed
    /// with, once that set is settled; [`Formation::former`] says whether this server
    /// initialises it.
    pub fn decide(&mut self, mut peers: Vec<String>, now: Instant) -> Option<Formation> {
        peers.retain(|p| *p != self.me);
        peers.push(self.me.clone());
        peers.sort();
        peers.dedup();
        if peers != self.seen {
            self.seen = peers.clone();
            self.since = Some(now);
        }
        let settled = self.since.is_some_and(|s| now.duration_since(s) >= SETTLE);
        let enough = self.expected >= 2 && peers.len() >= self.expected;
        (settled && enough).then(|| Formation {
            former: peers[0] == self.me,
            members: peers,
        })
    }
}

/// A settled set of servers to form the meta group with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formation {
    /// Every member, sorted (this server included).
    pub members: Vec<String>,
    /// Whether this server initialises the group (the smallest name).
    pub former: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_smallest_name_forms_the_group_once_everyone_expected_is_seen_and_settled() {
        let t0 = Instant::now();
        let mut a = Bootstrap::new("a", 3);
        let mut b = Bootstrap::new("b", 3);
        assert_eq!(a.decide(names(&["b"]), t0), None, "not everyone yet");
        assert_eq!(
            a.decide(names(&["b", "c"]), t0 + SETTLE / 2),
            None,
            "not settled"
        );
        assert_eq!(
            a.decide(names(&["b", "c"]), t0 + SETTLE / 2 + SETTLE),
            Some(Formation {
                members: names(&["a", "b", "c"]),
                former: true
            })
        );
        assert_eq!(b.decide(names(&["a", "c"]), t0), None);
        assert_eq!(
            b.decide(names(&["a", "c"]), t0 + SETTLE * 3),
            Some(Formation {
                members: names(&["a", "b", "c"]),
                former: false
            }),
            "b is a member, not the former: a is the smallest"
        );
    }

    #[test]
    fn a_server_without_routes_never_forms_a_group_alone() {
        let t0 = Instant::now();
        let mut solo = Bootstrap::new("a", 0);
        assert_eq!(solo.decide(vec![], t0), None);
        assert_eq!(solo.decide(vec![], t0 + SETTLE * 10), None);
        let mut one = Bootstrap::new("a", 1);
        assert_eq!(one.decide(vec![], t0 + SETTLE * 10), None);
    }

    #[test]
    fn a_change_in_who_is_seen_restarts_the_wait() {
        let t0 = Instant::now();
        let mut a = Bootstrap::new("a", 2);
        assert_eq!(a.decide(names(&["b"]), t0), None);
        assert_eq!(a.decide(names(&["b", "c"]), t0 + SETTLE), None);
        assert_eq!(
            a.decide(names(&["b", "c"]), t0 + SETTLE * 2)
                .map(|f| f.members),
            Some(names(&["a", "b", "c"]))
        );
    }
}
