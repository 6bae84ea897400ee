//! [`Backlog`]: a byte budget in front of an in-process consumer of published messages (a
//! stream's writer, the JetStream API), so that a client publishing faster than that consumer
//! works is paced by TCP instead of growing the server's memory.
//!
//! The sink adds what it takes ([`Backlog::add`]) and the consumer gives it back when done
//! ([`Backlog::release`]). Nothing is ever refused or dropped: a message read from a socket is
//! always handed on. Once the backlog is over its limit, a client connection that delivered
//! into it stops reading its socket after the current read batch until the backlog is back
//! under the limit ([`Backlog::wait_for_room`]), so the overshoot is at most one read batch per
//! publishing connection. In-process publishers (a stream's acks and deliveries, advisories)
//! never wait: nothing in the server waits on a client, so pacing cannot deadlock.

use crate::sink::InternalMsg;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Bytes a message costs in a backlog besides its subject, reply, headers and payload (its
/// queue entry and buffers).
pub const MSG_OVERHEAD: usize = 96;

/// A bounded (in bytes) queue's fill level, shared by its senders, its consumer and the
/// connections waiting for room.
#[derive(Debug)]
pub struct Backlog {
    used: AtomicUsize,
    limit: usize,
    room: Notify,
    closed: AtomicBool,
}

impl Backlog {
    /// An empty backlog that holds publishers back above `limit` bytes (at least 1).
    pub fn new(limit: usize) -> Self {
        Backlog {
            used: AtomicUsize::new(0),
            limit: limit.max(1),
            room: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// What `msg` counts for in a backlog: its subject, reply, headers and payload, plus
    /// [`MSG_OVERHEAD`].
    pub fn cost(msg: &InternalMsg) -> usize {
        msg.subject.len()
            + msg.reply.as_deref().map_or(0, str::len)
            + msg.headers.as_ref().map_or(0, |h| h.len())
            + msg.payload.len()
            + MSG_OVERHEAD
    }

    /// Counts `bytes` taken in.
    #[inline]
    pub fn add(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Gives back `bytes` that were counted in and are now handled; wakes the waiting
    /// publishers when that brings the backlog back to its limit.
    pub fn release(&self, bytes: usize) {
        let before = self.used.fetch_sub(bytes, Ordering::AcqRel);
        debug_assert!(before >= bytes, "released more than was added");
        if before > self.limit && before.saturating_sub(bytes) <= self.limit {
            self.room.notify_waiters();
        }
    }

    /// Bytes counted in and not yet released.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The limit above which publishers wait.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// True while publishers should wait.
    #[inline]
    pub fn is_over(&self) -> bool {
        self.used.load(Ordering::Acquire) > self.limit && !self.closed.load(Ordering::Acquire)
    }

    /// The consumer is gone: nobody waits any more (what is still counted never comes back).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.room.notify_waiters();
    }

    /// Waits until the backlog is at or under its limit, or closed.
    pub async fn wait_for_room(&self) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if !self.is_over() {
                return;
            }
            room.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn over_only_past_the_limit() {
        let b = Backlog::new(100);
        b.add(100);
        assert!(!b.is_over());
        b.add(1);
        assert!(b.is_over());
        b.release(1);
        assert!(!b.is_over());
        assert_eq!(b.used(), 100);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_consumer_catches_up() {
        let b = Arc::new(Backlog::new(10));
        b.add(50);
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.wait_for_room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "still over the limit");
        b.release(30);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "20 is still over 10");
        b.release(10);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
    }

    #[tokio::test]
    async fn closing_releases_every_waiter() {
        let b = Arc::new(Backlog::new(1));
        b.add(5);
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.wait_for_room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        b.close();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
    }
}
