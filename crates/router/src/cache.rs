//! A bounded, sharded cache of match results keyed by literal subject.
//!
//! Lookups take one shard's read lock and never allocate. The shard is chosen by a cheap
//! seeded hash so unrelated subjects published from different threads rarely share a lock
//! word; each shard's map uses the standard (DoS-resistant) hasher.
//!
//! The cache knows nothing about the trie: [`crate::Sublist`] keeps it correct by calling
//! [`Cache::invalidate`] for every changed pattern while it holds the trie's write lock, and
//! by inserting freshly computed results only while it holds the trie's read lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use sluice_protocol::subject::{has_wildcard, subject_matches};

use crate::result::MatchResult;

/// Number of shards; a power of two.
const SHARDS: usize = 16;
/// Slots of the admission filter; a power of two.
const DOORKEEPER: usize = 4096;

/// One shard, padded to its own cache lines so shards don't false-share.
#[repr(align(128))]
struct Shard<T>(RwLock<HashMap<Box<str>, Arc<MatchResult<T>>>>);

pub(crate) struct Cache<T> {
    shards: Box<[Shard<T>]>,
    /// Admission filter: the hash of the last subject that missed, per slot. A result is
    /// cached only when its subject misses a second time, so subjects seen once (reply
    /// inboxes, `$JS.ACK.` subjects: unique per message) never churn the cache or evict
    /// the subjects that repeat.
    doorkeeper: Box<[AtomicU64]>,
    /// Maximum entries per shard; 0 disables the cache.
    shard_cap: usize,
    seed: u64,
}

impl<T> Cache<T> {
    /// A cache holding about `capacity` entries in total (0 disables caching).
    pub(crate) fn new(capacity: usize) -> Self {
        let shard_cap = capacity.div_ceil(SHARDS);
        let shards = (0..SHARDS)
            .map(|_| Shard(RwLock::new(HashMap::new())))
            .collect();
        Self {
            shards,
            doorkeeper: (0..DOORKEEPER).map(|_| AtomicU64::new(0)).collect(),
            shard_cap,
            seed: RandomState::new().hash_one(0u8),
        }
    }

    /// Total capacity (a multiple of the shard count).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.shard_cap * SHARDS
    }

    /// FxHash-style word mixing: quick on short subjects; spreads load over shards and
    /// doorkeeper slots (not a defence against chosen collisions, which only cost a miss).
    #[inline]
    fn hash(&self, subject: &str) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.seed;
        let mut chunks = subject.as_bytes().chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        h
    }

    #[inline]
    fn shard(&self, subject: &str) -> &Shard<T> {
        &self.shards[(self.hash(subject) >> 59) as usize & (SHARDS - 1)]
    }

    /// True if `subject` missed the cache recently already (its result is then worth
    /// caching); otherwise remembers it and says false.
    pub(crate) fn seen_before(&self, subject: &str) -> bool {
        if self.shard_cap == 0 {
            return false;
        }
        let h = self.hash(subject) | 1; // never 0, the empty slot
        let slot = &self.doorkeeper[h as usize & (DOORKEEPER - 1)];
        slot.swap(h, Ordering::Relaxed) == h
    }

    /// The cached result for `subject`, if any. Never allocates.
    #[inline]
    pub(crate) fn get(&self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        if self.shard_cap == 0 {
            return None;
        }
        self.shard(subject).0.read().get(subject).cloned()
    }

    /// Stores `result` for `subject`, evicting about a quarter of the shard when it is full.
    ///
    /// The caller must hold the trie's read lock, so `result` is current.
    pub(crate) fn insert(&self, subject: &str, result: &Arc<MatchResult<T>>) {
        if self.shard_cap == 0 {
            return;
        }
        let mut map = self.shard(subject).0.write();
        if map.len() >= self.shard_cap && !map.contains_key(subject) {
            let mut evict = (self.shard_cap / 4).max(1);
            map.retain(|_, _| {
                if evict == 0 {
                    return true;
                }
                evict -= 1;
                false
            });
        }
        map.insert(subject.into(), Arc::clone(result));
    }

    /// Drops every cached result that `pattern` (a subscription subject) could affect.
    ///
    /// The caller must hold the trie's write lock.
    pub(crate) fn invalidate(&self, pattern: &str) {
        if self.shard_cap == 0 {
            return;
        }
        if !has_wildcard(pattern) {
            // A literal pattern only matches the identical subject.
            self.shard(pattern).0.write().remove(pattern);
            return;
        }
        for shard in self.shards.iter() {
            let mut map = shard.0.write();
            if !map.is_empty() {
                map.retain(|subject, _| !subject_matches(pattern, subject));
            }
        }
    }

    /// Number of cached subjects.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: u32) -> Arc<MatchResult<u32>> {
        Arc::new(MatchResult {
            plain: vec![v],
            queues: Vec::new(),
        })
    }

    #[test]
    fn bounded() {
        let c = Cache::new(64);
        for i in 0..10_000u32 {
            c.insert(&format!("s.{i}"), &result(i));
            assert!(c.len() <= c.capacity());
        }
        assert!(c.len() > 0);
    }

    #[test]
    fn admission_needs_a_second_miss() {
        let c: Cache<u32> = Cache::new(64);
        assert!(!c.seen_before("a.b"));
        assert!(c.seen_before("a.b"));
        assert!(!c.seen_before("a.c"));
        // Unique subjects never pass.
        assert!((0..1000).all(|i| !c.seen_before(&format!("_INBOX.x.{i}"))));
        assert!(!Cache::<u32>::new(0).seen_before("a.b"));
    }

    #[test]
    fn disabled() {
        let c = Cache::new(0);
        c.insert("a", &result(1));
        assert!(c.get("a").is_none());
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn invalidate_literal_and_wildcard() {
        let c = Cache::new(1024);
        for s in ["a.b", "a.c", "a.b.c", "x.y"] {
            c.insert(s, &result(0));
        }
        c.invalidate("a.b");
        assert!(c.get("a.b").is_none());
        assert!(c.get("a.c").is_some());
        c.invalidate("a.>");
        assert!(c.get("a.c").is_none());
        assert!(c.get("a.b.c").is_none());
        assert!(c.get("x.y").is_some());
        c.invalidate("*.y");
        assert_eq!(c.len(), 0);
    }
}
