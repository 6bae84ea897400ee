//! Per-connection publish and subscribe permissions, with nats-server's semantics.
//!
//! A connection whose user has no permissions has no [`ConnPerms`] at all (`Option::None`
//! in the reader), so the hot path costs one branch for it. A connection with permissions
//! caches publish decisions in a small map.
//!
//! The rules, as nats-server 2.9 applies them:
//! - Publish: allowed if the allow list is absent or matches, and the deny list does not
//!   match. `allow_responses` without a publish allow list turns publishing off except for
//!   replies to requests the connection received (up to `max` replies each, within
//!   `expires`).
//! - Subscribe: the subject must match the allow list (if any) and not the deny list. Entries
//!   may be `"subject queue"`: `"foo v1"` in the allow list lets the client queue-subscribe to
//!   `foo` in group `v1` only; in the deny list it refuses that group.
//! - A wildcard subscription that overlaps the deny list is accepted, but messages whose
//!   subject the deny list matches are not delivered to the connection (nats-server's
//!   "deny filter" on delivery).
//!
//! One deliberate difference: nats-server checks a subscription against the allow list
//! token by token, so an allow entry `foo.*` also admits `SUB foo.>` (whose `>` a `*`
//! matches) and then delivers `foo.a.b`. Sluice admits a wildcard subscription only if every
//! subject it can match is allowed (`foo.*` admits `foo.*` and `foo.x`, not `foo.>`).

use crate::config::{Permissions, ResponsePermission, SubjectPermission};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// Decisions kept per connection before the cache is trimmed (nats-server: 128).
const CACHE_MAX: usize = 128;
/// Entries removed when the cache is full (nats-server: 32).
const CACHE_PRUNE: usize = 32;
/// Reply permissions kept before expired or used-up ones are pruned (nats-server: 4096).
const REPLIES_MAX: usize = 4096;

/// One allow or deny entry: a subject pattern, and optionally a queue group.
#[derive(Debug, Clone)]
struct Entry {
    tokens: Vec<String>,
    queue: Option<String>,
}

/// An allow or deny list.
#[derive(Debug, Clone, Default)]
pub(crate) struct PermList {
    entries: Vec<Entry>,
}

impl PermList {
    fn new(list: &[String]) -> PermList {
        let entries = list
            .iter()
            .filter_map(|e| {
                let mut parts = e.split_whitespace();
                let subject = parts.next()?;
                Some(Entry {
                    tokens: subject.split('.').map(str::to_owned).collect(),
                    queue: parts.next().map(str::to_owned),
                })
            })
            .collect();
        PermList { entries }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a plain entry matches `subject` (its tokens taken literally, as nats-server's
    /// sublist does), and the queue groups of the queue entries that match it.
    fn matches<'a>(&'a self, subject: &str, subset: bool) -> (bool, Vec<&'a str>) {
        let mut plain = false;
        let mut queues = Vec::new();
        if subject.split('.').any(str::is_empty) {
            // An invalid subject matches nothing (as in nats-server).
            return (false, queues);
        }
        for e in &self.entries {
            if pattern_matches(&e.tokens, subject, subset) {
                match &e.queue {
                    None => plain = true,
                    Some(q) => queues.push(q.as_str()),
                }
            }
        }
        (plain, queues)
    }

    fn matches_plain(&self, subject: &str) -> bool {
        self.matches(subject, false).0
    }

    /// True if some plain entry shares at least one subject with `subject`.
    fn intersects(&self, subject: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.queue.is_none() && intersect(&e.tokens, subject))
    }
}

/// Does `pattern` match `subject`? Pattern `*` matches one token, `>` one or more. The
/// subject's tokens are literals, except that with `subset`, a subject `>` is only matched
/// by a pattern `>` (so that the subject's every match is inside the pattern).
fn pattern_matches(pattern: &[String], subject: &str, subset: bool) -> bool {
    let mut toks = subject.split('.');
    for (i, p) in pattern.iter().enumerate() {
        match p.as_str() {
            ">" => return toks.next().is_some(),
            "*" => match toks.next() {
                Some(">") if subset => return false,
                Some(_) => {}
                None => return false,
            },
            lit => match toks.next() {
                Some(t) if t == lit => {}
                _ => return false,
            },
        }
        if i + 1 == pattern.len() {
            return toks.next().is_none();
        }
    }
    subject.is_empty()
}

/// Could a message subject match both `pattern` and `subject` (both may have wildcards)?
fn intersect(pattern: &[String], subject: &str) -> bool {
    let sub: Vec<&str> = subject.split('.').collect();
    let (mut i, mut j) = (0, 0);
    while i < pattern.len() && j < sub.len() {
        let (p, s) = (pattern[i].as_str(), sub[j]);
        if p == ">" || s == ">" {
            return true;
        }
        if p != "*" && s != "*" && p != s {
            return false;
        }
        i += 1;
        j += 1;
    }
    i == pattern.len() && j == sub.len()
}

fn has_wildcard(subject: &str) -> bool {
    subject.split('.').any(|t| t == "*" || t == ">")
}

/// nats-server's `queueMatches`: the queue is one of `queues`, literally or by wildcard.
fn queue_matches(queue: &str, queues: &[&str]) -> bool {
    queues.iter().any(|q| {
        queue == *q || {
            let tokens: Vec<String> = q.split('.').map(str::to_owned).collect();
            has_wildcard(q) && pattern_matches(&tokens, queue, false)
        }
    })
}

/// The permissions of one connection, owned by its reader.
pub(crate) struct ConnPerms {
    /// `None`: publishing is not restricted (nor checked).
    publish: Option<PubPerms>,
    sub_allow: Option<PermList>,
    sub_deny: Option<PermList>,
    /// Replies are tracked (on the connection's [`ClientPerms`]) and may be published to.
    responses: bool,
    /// Publish decisions from the allow and deny lists.
    cache: HashMap<Box<str>, bool>,
}

struct PubPerms {
    /// `None`: everything not denied; `Some(empty)`: nothing (allow_responses alone).
    allow: Option<PermList>,
    deny: PermList,
}

impl ConnPerms {
    /// `None` if `perms` restricts nothing.
    pub(crate) fn new(perms: &Permissions) -> Option<ConnPerms> {
        let list = |l: &[String]| (!l.is_empty()).then(|| PermList::new(l));
        let responses = perms.allow_responses.is_some();
        let publish = match &perms.publish {
            Some(p) => {
                let allow = list(&p.allow).or_else(|| responses.then(PermList::default));
                let deny = PermList::new(&p.deny);
                (allow.is_some() || !deny.is_empty()).then_some(PubPerms { allow, deny })
            }
            // As nats-server: allow_responses without publish permissions means "publish
            // nothing but replies".
            None => responses.then(|| PubPerms {
                allow: Some(PermList::default()),
                deny: PermList::default(),
            }),
        };
        let (sub_allow, sub_deny) = match &perms.subscribe {
            Some(SubjectPermission { allow, deny }) => (list(allow), list(deny)),
            None => (None, None),
        };
        if publish.is_none() && sub_allow.is_none() && sub_deny.is_none() && !responses {
            return None;
        }
        Some(ConnPerms {
            publish,
            sub_allow,
            sub_deny,
            responses,
            cache: HashMap::new(),
        })
    }

    /// May this connection publish to `subject`? Uses (and may consume) a reply permission
    /// from `client` when the lists say no.
    #[inline]
    pub(crate) fn can_publish(&mut self, subject: &str, client: &ClientPerms) -> bool {
        let Some(publish) = &self.publish else {
            return true;
        };
        let allowed = match self.cache.get(subject) {
            Some(&a) => a,
            None => {
                let allowed = publish
                    .allow
                    .as_ref()
                    .is_none_or(|a| a.matches_plain(subject))
                    && !publish.deny.matches_plain(subject);
                if self.cache.len() >= CACHE_MAX {
                    prune(&mut self.cache);
                }
                self.cache.insert(subject.into(), allowed);
                allowed
            }
        };
        allowed || (self.responses && client.use_reply(subject))
    }

    /// May this connection subscribe to `subject` (in `queue`)? nats-server's `canSubscribe`.
    pub(crate) fn can_subscribe(&self, subject: &str, queue: Option<&str>) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.sub_allow {
            let (plain, queues) = allow.matches(subject, true);
            allowed = plain;
            if let Some(q) = queue.filter(|_| !queues.is_empty()) {
                allowed = queue_matches(q, &queues);
            }
        }
        if allowed {
            if let Some(deny) = &self.sub_deny {
                let (plain, queues) = deny.matches(subject, false);
                allowed = !plain;
                if let Some(q) = queue.filter(|_| !queues.is_empty()) {
                    allowed = !queue_matches(q, &queues);
                }
            }
        }
        allowed
    }

    /// The deny list to filter deliveries with, if a subscription to `subject` (already
    /// allowed) could receive a denied subject.
    pub(crate) fn deny_filter_for(&self, subject: &str) -> Option<&PermList> {
        self.sub_deny
            .as_ref()
            .filter(|d| has_wildcard(subject) && d.intersects(subject))
    }
}

fn prune<V>(cache: &mut HashMap<Box<str>, V>) {
    let mut n = 0;
    cache.retain(|_, _| {
        n += 1;
        n > CACHE_PRUNE
    });
}

/// The permission state other connections touch while delivering to this one: the deny
/// filter on deliveries and the replies it may answer. Only used when the connection's
/// flags say so (see `ClientHandle::flags`).
#[derive(Default)]
pub(crate) struct ClientPerms {
    deny: Mutex<Option<DenyFilter>>,
    replies: Mutex<Replies>,
}

struct DenyFilter {
    list: PermList,
    cache: HashMap<Box<str>, bool>,
}

#[derive(Default)]
struct Replies {
    perm: Option<ResponsePermission>,
    /// Reply subject -> when it was received and how many replies were sent to it.
    map: HashMap<Box<str>, (Instant, usize)>,
}

impl ClientPerms {
    /// True if a message on `subject` must not be delivered to this connection.
    pub(crate) fn denies_delivery(&self, subject: &str) -> bool {
        let mut guard = self.deny.lock();
        let Some(f) = guard.as_mut() else {
            return false;
        };
        if let Some(&d) = f.cache.get(subject) {
            return d;
        }
        let denied = f.list.matches_plain(subject);
        if f.cache.len() >= CACHE_MAX {
            prune(&mut f.cache);
        }
        f.cache.insert(subject.into(), denied);
        denied
    }

    /// Sets (or clears) the deny filter; true if one is set.
    pub(crate) fn set_deny_filter(&self, list: Option<PermList>) -> bool {
        let on = list.is_some();
        *self.deny.lock() = list.map(|list| DenyFilter {
            list,
            cache: HashMap::new(),
        });
        on
    }

    /// Starts (or stops) tracking reply subjects of delivered messages.
    pub(crate) fn set_responses(&self, perm: Option<ResponsePermission>) {
        let mut r = self.replies.lock();
        if perm != r.perm {
            r.map.clear();
        }
        r.perm = perm;
    }

    /// A message with reply subject `reply` was delivered to this connection.
    pub(crate) fn record_reply(&self, reply: &str) {
        let mut r = self.replies.lock();
        let Some(perm) = r.perm else { return };
        r.map.insert(reply.into(), (Instant::now(), 0));
        if r.map.len() > REPLIES_MAX {
            // nats-server's pruneReplyPerms: drop the used-up and the expired.
            let now = Instant::now();
            r.map.retain(|_, (t, n)| {
                !(perm.max > 0 && *n >= perm.max
                    || !perm.expires.is_zero() && now.duration_since(*t) > perm.expires)
            });
        }
    }

    /// Uses one reply permission for `subject`, if there is one left.
    fn use_reply(&self, subject: &str) -> bool {
        let mut r = self.replies.lock();
        let Some(perm) = r.perm else { return false };
        let Some((t, n)) = r.map.get_mut(subject) else {
            return false;
        };
        *n += 1;
        let used_up = perm.max > 0 && *n > perm.max;
        let expired = !perm.expires.is_zero() && t.elapsed() > perm.expires;
        if used_up || expired {
            r.map.remove(subject);
            false
        } else {
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn literal_matching_is_nats_servers() {
        assert!(pattern_matches(&toks("foo.*"), "foo.bar", false));
        assert!(pattern_matches(&toks("foo.*"), "foo.*", false));
        assert!(pattern_matches(&toks("foo.*"), "foo.>", false));
        assert!(!pattern_matches(&toks("foo.*"), "foo.>", true));
        assert!(pattern_matches(&toks("foo.>"), "foo.>", true));
        assert!(pattern_matches(&toks("foo.>"), "foo.a.b", false));
        assert!(!pattern_matches(&toks("foo.>"), "foo", false));
        assert!(!pattern_matches(&toks("foo"), "foo.*", false));
        assert!(!pattern_matches(&toks("foo.bar"), "foo", false));
        assert!(pattern_matches(&toks(">"), ">", false));
        assert!(!pattern_matches(&toks("q.>"), ">", false));
    }

    #[test]
    fn intersection() {
        assert!(intersect(&toks("foo.bar.*"), "foo.>"));
        assert!(intersect(&toks("*.bar"), "foo.*"));
        assert!(intersect(&toks("q.>"), ">"));
        assert!(!intersect(&toks("q.>"), "r.*"));
        assert!(!intersect(&toks("a.b"), "a.*.c"));
    }

    #[test]
    fn queue_entries() {
        let p = ConnPerms::new(&Permissions {
            subscribe: Some(SubjectPermission {
                allow: vec!["foo v1".into(), "bar".into(), "w.*".into()],
                deny: vec!["bar v2".into(), "w.x".into()],
            }),
            ..Permissions::default()
        })
        .unwrap();
        let ok = |s, q| p.can_subscribe(s, q);
        assert!(!ok("foo", None));
        assert!(ok("foo", Some("v1")));
        assert!(!ok("foo", Some("v2")));
        assert!(ok("bar", None));
        assert!(ok("bar", Some("v1")));
        assert!(!ok("bar", Some("v2")));
        assert!(ok("w.*", None));
        assert!(!ok("w.x", None));
        assert!(!ok("w.>", None));
        assert!(p.deny_filter_for("w.*").is_some());
        assert!(p.deny_filter_for("bar").is_none());
    }
}
