//! What a stream's stored bytes count against: its account's total and the server's, each
//! with its limit (`max_file` / `max_memory` of the account, `max_file_store` /
//! `max_memory_store` of the server). The publish path asks it, as nats-server 2.9.10's
//! `processJetStreamMsg` does, whether the server is already over its limit (10023, before
//! storing) and whether the stored message took the account over its limit (10002: the
//! message is removed again). Counters are atomics shared by the account's streams.

use crate::config::StorageType;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes stored, by storage (an account's, or the server's).
#[derive(Debug, Default)]
pub struct StoredBytes {
    memory: AtomicU64,
    store: AtomicU64,
}

impl StoredBytes {
    fn of(&self, storage: StorageType) -> &AtomicU64 {
        match storage {
            StorageType::Memory => &self.memory,
            StorageType::File => &self.store,
        }
    }

    /// Bytes stored now.
    pub fn get(&self, storage: StorageType) -> u64 {
        self.of(storage).load(Ordering::Relaxed)
    }

    fn change(&self, storage: StorageType, from: u64, to: u64) {
        let counter = self.of(storage);
        if to >= from {
            counter.fetch_add(to - from, Ordering::Relaxed);
        } else {
            counter.fetch_sub(from - to, Ordering::Relaxed);
        }
    }
}

/// A total and its limit (-1: none).
#[derive(Debug, Clone)]
pub struct Bound {
    pub stored: Arc<StoredBytes>,
    pub limit: i64,
}

impl Bound {
    fn over(&self, storage: StorageType) -> bool {
        self.limit >= 0 && self.stored.get(storage) > self.limit as u64
    }
}

/// One stream's part of its account's and the server's totals. Gives it back when dropped.
#[derive(Debug)]
pub struct Quota {
    storage: StorageType,
    account: Bound,
    server: Bound,
    /// This stream's bytes as last added to the totals.
    counted: AtomicU64,
}

impl Quota {
    pub fn new(storage: StorageType, account: Bound, server: Bound) -> Quota {
        Quota {
            storage,
            account,
            server,
            counted: AtomicU64::new(0),
        }
    }

    /// The server already stores more than its limit of this storage (nats-server's
    /// `js.limitsExceeded`: a publish is refused with 10023 before being stored).
    pub fn server_full(&self) -> bool {
        self.server.over(self.storage)
    }

    /// The account stores more than its limit (nats-server's `jsa.limitsExceeded`, after
    /// the message is stored).
    pub fn account_over(&self) -> bool {
        self.account.over(self.storage)
    }

    /// Brings the totals up to date with the stream's `bytes` now.
    pub fn count(&self, bytes: u64) {
        let before = self.counted.swap(bytes, Ordering::Relaxed);
        if before != bytes {
            self.account.stored.change(self.storage, before, bytes);
            self.server.stored.change(self.storage, before, bytes);
        }
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        self.count(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(limit: i64) -> Bound {
        Bound {
            stored: Arc::default(),
            limit,
        }
    }

    #[test]
    fn totals_follow_each_stream_and_forget_a_dropped_one() {
        let (account, server) = (bound(100), bound(150));
        let a = Quota::new(StorageType::File, account.clone(), server.clone());
        let b = Quota::new(StorageType::File, account.clone(), server.clone());
        a.count(60);
        b.count(40);
        assert_eq!(account.stored.get(StorageType::File), 100);
        assert!(!a.account_over(), "at the limit is not over it");
        b.count(41);
        assert!(a.account_over() && b.account_over());
        assert!(!a.server_full());
        b.count(91);
        assert!(a.server_full());
        assert_eq!(server.stored.get(StorageType::Memory), 0);
        drop(b);
        assert_eq!(account.stored.get(StorageType::File), 60);
        assert_eq!(server.stored.get(StorageType::File), 60);
        a.count(10);
        assert_eq!(account.stored.get(StorageType::File), 10);
    }

    #[test]
    fn no_limit_is_never_over() {
        let q = Quota::new(StorageType::Memory, bound(-1), bound(-1));
        q.count(u64::MAX / 2);
        assert!(!q.account_over() && !q.server_full());
        let q = Quota::new(StorageType::Memory, bound(0), bound(-1));
        q.count(1);
        assert!(q.account_over());
    }
}
