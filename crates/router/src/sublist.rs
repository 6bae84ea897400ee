//! [`Sublist`]: the thread-safe subscription registry (trie + lock + result cache).
//!
//! Locking discipline (keeps the cache from ever serving a stale result):
//! - writers hold the trie write lock while they mutate the trie, invalidate the affected
//!   cache entries and bump the generation (in that order);
//! - a cache miss computes its result and stores it in the cache while holding the trie read
//!   lock, so no writer can slip in between computing and caching;
//! - a cache hit only takes one cache shard's read lock.
//!
//! Lock order is always trie, then cache shard; nobody waits for the trie while holding a
//! shard lock.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use sluice_protocol::subject::{is_valid_queue, is_valid_subject};

use crate::cache::Cache;
use crate::error::RouterError;
use crate::result::MatchResult;
use crate::trie::Trie;

/// Default number of subjects whose match results are cached.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// The subscription registry: maps literal subjects to interested subscriptions.
///
/// Built for many concurrent [`matches`](Sublist::matches) and rare
/// [`insert`](Sublist::insert)/[`remove`](Sublist::remove).
pub struct Sublist<T> {
    trie: RwLock<Trie<T>>,
    cache: Cache<T>,
    generation: AtomicU64,
    count: AtomicUsize,
    /// Successful inserts and removes since creation (monitoring; counted under the write
    /// lock, never on the match path).
    inserts: AtomicU64,
    removes: AtomicU64,
}

impl<T> fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("count", &self.count.load(Ordering::Relaxed))
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq + Send + Sync + 'static> Sublist<T> {
    /// An empty registry with a [`DEFAULT_CACHE_CAPACITY`]-entry result cache.
    pub fn new() -> Self {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty registry caching the results of about `capacity` subjects (rounded up to a
    /// multiple of the internal shard count); 0 disables the cache.
    pub fn with_cache_capacity(capacity: usize) -> Self {
        Self {
            trie: RwLock::new(Trie::default()),
            cache: Cache::new(capacity),
            generation: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
        }
    }

    /// Registers `value` for `subject` (wildcards allowed), in queue group `queue` if given.
    ///
    /// Registering the same value twice stores two entries.
    pub fn insert(&self, subject: &str, queue: Option<&str>, value: T) -> Result<(), RouterError> {
        if !is_valid_subject(subject) {
            return Err(RouterError::InvalidSubject);
        }
        if queue.is_some_and(|q| !is_valid_queue(q)) {
            return Err(RouterError::InvalidQueue);
        }
        let mut trie = self.trie.write();
        trie.insert(subject, queue, value);
        self.changed(&trie, subject);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes one entry equal to `value` registered for exactly `subject` and `queue`.
    /// Returns true if one was found. Emptied trie nodes are pruned.
    pub fn remove(&self, subject: &str, queue: Option<&str>, value: &T) -> bool {
        let mut trie = self.trie.write();
        let found = trie.remove(subject, queue, value);
        if found {
            self.changed(&trie, subject);
            self.removes.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Bookkeeping after a successful change to `pattern`; called under the write lock.
    fn changed(&self, trie: &Trie<T>, pattern: &str) {
        self.cache.invalidate(pattern);
        self.count.store(trie.count(), Ordering::Relaxed);
        // Release: whoever sees the new generation also sees the invalidated cache.
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Everything interested in the literal `subject` (the caller validated it).
    ///
    /// Served from the cache when possible: a hit takes one shard read lock, does not
    /// allocate and returns a shared result.
    #[inline]
    pub fn matches(&self, subject: &str) -> Arc<MatchResult<T>> {
        if let Some(hit) = self.cache.get(subject) {
            return hit;
        }
        self.match_slow(subject)
    }

    #[inline(never)]
    fn match_slow(&self, subject: &str) -> Arc<MatchResult<T>> {
        let trie = self.trie.read();
        let mut out = MatchResult::default();
        trie.collect(subject, &mut out);
        let out = Arc::new(out);
        // Still under the read lock: no writer has changed the trie since `collect`. Only
        // subjects that come back are cached (see the cache's admission filter).
        if self.cache.seen_before(subject) {
            self.cache.insert(subject, &out);
        }
        out
    }

    /// Incremented by every successful [`insert`](Sublist::insert) and
    /// [`remove`](Sublist::remove).
    ///
    /// To keep a private cache of results, read the generation *before* calling
    /// [`matches`](Sublist::matches) and tag the result with it; the result is current for as
    /// long as the generation stays equal to the tag.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions stored.
    #[inline]
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// True if anything matches the literal `subject`. Uses the cache but does not fill it
    /// and does not allocate.
    pub fn has_interest(&self, subject: &str) -> bool {
        if let Some(hit) = self.cache.get(subject) {
            return !hit.is_empty();
        }
        self.trie.read().any(subject)
    }

    /// Successful [`insert`](Sublist::insert)s since creation.
    pub fn inserts(&self) -> u64 {
        self.inserts.load(Ordering::Relaxed)
    }

    /// Successful [`remove`](Sublist::remove)s since creation.
    pub fn removes(&self) -> u64 {
        self.removes.load(Ordering::Relaxed)
    }

    /// Number of subjects currently cached (for diagnostics and tests).
    pub fn cached_subjects(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_bumps_only_on_success() {
        let s = Sublist::new();
        assert_eq!(s.generation(), 0);
        s.insert("a", None, 1u32).unwrap();
        assert_eq!(s.generation(), 1);
        assert!(s.insert("a..b", None, 1).is_err());
        assert_eq!(s.generation(), 1);
        assert!(!s.remove("a", None, &2));
        assert_eq!(s.generation(), 1);
        assert!(s.remove("a", None, &1));
        assert_eq!(s.generation(), 2);
    }

    #[test]
    fn cache_filled_by_matches_not_has_interest() {
        let s = Sublist::new();
        s.insert("a.*", None, 1u32).unwrap();
        assert!(s.has_interest("a.b"));
        assert_eq!(s.cached_subjects(), 0);
        assert_eq!(s.matches("a.b").plain, vec![1]);
        assert_eq!(
            s.cached_subjects(),
            0,
            "cached on the second miss, not the first"
        );
        assert_eq!(s.matches("a.b").plain, vec![1]);
        assert_eq!(s.cached_subjects(), 1);
        assert!(s.has_interest("a.b"));
        assert!(!s.has_interest("b.b"));
        s.insert("x.>", None, 2).unwrap();
        assert_eq!(s.cached_subjects(), 1, "unrelated wildcard keeps the entry");
        s.insert("a.>", None, 3).unwrap();
        assert_eq!(s.cached_subjects(), 0, "related wildcard evicts the entry");
    }

    #[test]
    fn cached_result_is_shared() {
        let s = Sublist::new();
        s.insert("a", None, 1u32).unwrap();
        let _first_miss = s.matches("a");
        let r1 = s.matches("a");
        let r2 = s.matches("a");
        assert!(Arc::ptr_eq(&r1, &r2));
        let u = Sublist::with_cache_capacity(0);
        u.insert("a", None, 1u32).unwrap();
        assert!(!Arc::ptr_eq(&u.matches("a"), &u.matches("a")));
    }
}
