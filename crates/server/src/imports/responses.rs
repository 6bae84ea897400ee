//! The reply mappings of service imports: a request that crosses into the exporting account
//! gets a reply subject there, `_R_.<prefix>.<token>`, and the responder's answers on it go
//! back to the requester's own reply subject in the importing account.
//!
//! A pure table: time comes in as an argument. It is bounded: at [`MAX_PENDING`] mappings,
//! expired ones are dropped and then, if still full, the oldest.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Reply mappings one exporting account keeps at most.
pub(crate) const MAX_PENDING: usize = 65_536;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_token(len: usize) -> String {
    (0..len)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

struct Entry<T> {
    target: T,
    reply: String,
    /// One response ends it.
    singleton: bool,
    expires: Instant,
}

struct Table<T> {
    map: HashMap<String, Entry<T>>,
    /// Tokens by when they were added (a token already taken is skipped).
    order: VecDeque<String>,
}

/// One exporting account's reply mappings; `T` says which account a reply goes back to.
pub(crate) struct Responses<T> {
    /// `_R_.<6 random characters>.`: this server's replies for this account.
    prefix: String,
    table: Mutex<Table<T>>,
    cap: usize,
}

impl<T: Clone> Responses<T> {
    pub(crate) fn new() -> Self {
        Self::with_capacity(MAX_PENDING)
    }

    pub(crate) fn with_capacity(cap: usize) -> Self {
        Responses {
            prefix: format!("_R_.{}.", random_token(6)),
            table: Mutex::new(Table {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            cap,
        }
    }

    /// The wildcard subject the exporting account's responses arrive on.
    pub(crate) fn subject(&self) -> String {
        format!("{}>", self.prefix)
    }

    /// Maps a new reply subject in the exporting account to `reply` in `target`, for
    /// `ttl`; returns the new subject.
    pub(crate) fn add(
        &self,
        target: T,
        reply: &str,
        singleton: bool,
        ttl: Duration,
        now: Instant,
    ) -> String {
        let mut t = self.table.lock();
        if t.map.len() >= self.cap {
            t.map.retain(|_, e| e.expires > now);
            let Table { map, order } = &mut *t;
            order.retain(|k| map.contains_key(k));
        }
        while t.map.len() >= self.cap {
            let Some(oldest) = t.order.pop_front() else {
                break;
            };
            t.map.remove(&oldest);
        }
        let token = loop {
            let token = random_token(8);
            if !t.map.contains_key(&token) {
                break token;
            }
        };
        t.map.insert(
            token.clone(),
            Entry {
                target,
                reply: reply.to_owned(),
                singleton,
                expires: now + ttl,
            },
        );
        t.order.push_back(token.clone());
        // Keep the order queue from growing with tokens already answered.
        if t.order.len() > 2 * t.map.len() + 64 {
            let Table { map, order } = &mut *t;
            order.retain(|k| map.contains_key(k));
        }
        format!("{}{token}", self.prefix)
    }

    /// Where a response on `subject` goes: its account and reply subject. A singleton's
    /// mapping ends here; an expired one is dropped and gives `None`.
    pub(crate) fn take(&self, subject: &str, now: Instant) -> Option<(T, String)> {
        let token = subject.strip_prefix(&self.prefix)?;
        let mut t = self.table.lock();
        let entry = t.map.get(token)?;
        if entry.expires <= now {
            t.map.remove(token);
            return None;
        }
        let found = (entry.target.clone(), entry.reply.clone());
        if entry.singleton {
            t.map.remove(token);
        }
        Some(found)
    }

    /// Mappings held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singleton_answers_once_stream_until_expiry() {
        let r: Responses<&str> = Responses::new();
        let now = Instant::now();
        let ttl = Duration::from_secs(2);
        let one = r.add("B", "_INBOX.1", true, ttl, now);
        assert!(one.starts_with("_R_.") && r.subject().ends_with(".>"));
        assert_eq!(r.take(&one, now), Some(("B", "_INBOX.1".to_owned())));
        assert_eq!(r.take(&one, now), None);
        let many = r.add("B", "_INBOX.2", false, ttl, now);
        assert!(r.take(&many, now).is_some());
        assert!(r.take(&many, now + Duration::from_secs(1)).is_some());
        assert_eq!(r.take(&many, now + ttl), None);
        assert_eq!(r.len(), 0);
        // Another prefix's subject is not ours.
        assert_eq!(r.take("_R_.zzzzzz.abc", now), None);
    }

    #[test]
    fn bounded_expired_first_then_oldest() {
        let r: Responses<u32> = Responses::with_capacity(3);
        let now = Instant::now();
        let short = r.add(0, "r0", true, Duration::from_millis(1), now);
        let a = r.add(1, "r1", true, Duration::from_secs(9), now);
        let b = r.add(2, "r2", true, Duration::from_secs(9), now);
        let later = now + Duration::from_secs(1);
        // Full: the expired one goes first.
        let c = r.add(3, "r3", true, Duration::from_secs(9), later);
        assert_eq!(r.len(), 3);
        assert_eq!(r.take(&short, later), None);
        // Full again: the oldest goes.
        let d = r.add(4, "r4", true, Duration::from_secs(9), later);
        assert_eq!(r.len(), 3);
        assert_eq!(r.take(&a, later), None);
        for (s, n) in [(&b, 2), (&c, 3), (&d, 4)] {
            assert_eq!(r.take(s, later).map(|x| x.0), Some(n));
        }
    }
}
