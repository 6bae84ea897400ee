//! The duplicate window: `Nats-Msg-Id` -> the sequence it was stored at, for
//! `duplicate_window`. It lives in memory and is rebuilt from the stream's own log on start
//! (the ids are in the stored headers), so it can never disagree with what was stored.

use std::collections::{HashMap, VecDeque};

/// Recently seen message ids of one stream.
#[derive(Debug, Default)]
pub struct Dedup {
    ids: HashMap<String, u64>,
    /// (time_ns, id) in arrival order, for expiry.
    order: VecDeque<(i64, String)>,
}

impl Dedup {
    /// An empty window.
    pub fn new() -> Self {
        Dedup::default()
    }

    /// The sequence `id` was stored at, if it is inside the window.
    pub fn get(&self, id: &str) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// Records `id` as stored at `seq` at `time_ns`.
    pub fn insert(&mut self, id: &str, seq: u64, time_ns: i64) {
        if self.ids.insert(id.to_owned(), seq).is_none() {
            self.order.push_back((time_ns, id.to_owned()));
        }
    }

    /// Forgets ids recorded before `cutoff_ns`.
    pub fn expire(&mut self, cutoff_ns: i64) {
        while let Some((t, _)) = self.order.front() {
            if *t >= cutoff_ns {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    /// The ids in the window as (time_ns, id, seq), oldest first: what
    /// [`Dedup::from_entries`] takes back (a stream's image).
    pub fn entries(&self) -> Vec<(i64, String, u64)> {
        self.order
            .iter()
            .filter_map(|(t, id)| self.ids.get(id).map(|seq| (*t, id.clone(), *seq)))
            .collect()
    }

    /// A window holding `entries` (oldest first), as [`Dedup::entries`] gave them.
    pub fn from_entries(entries: Vec<(i64, String, u64)>) -> Self {
        let mut d = Dedup::new();
        for (t, id, seq) in entries {
            d.insert(&id, seq, t);
        }
        d
    }

    /// Forgets everything (stream purge keeps the window in nats-server, so this is only for
    /// stream deletion and window changes).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }

    /// Ids in the window.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if the window holds no ids.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_expires_in_order() {
        let mut d = Dedup::new();
        d.insert("a", 1, 100);
        d.insert("b", 2, 200);
        assert_eq!(d.get("a"), Some(1));
        assert_eq!(d.get("c"), None);
        d.expire(150);
        assert_eq!(d.get("a"), None);
        assert_eq!(d.get("b"), Some(2));
        d.expire(201);
        assert!(d.is_empty());
    }

    #[test]
    fn reinserting_keeps_one_entry() {
        let mut d = Dedup::new();
        d.insert("a", 1, 100);
        d.insert("a", 5, 300);
        assert_eq!(d.len(), 1);
        assert_eq!(d.get("a"), Some(5));
    }
}
