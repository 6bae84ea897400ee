//! Counters for monitoring: per connection and server-wide.
//!
//! Hot-path cost: a connection's inbound counters are written only by its own reader task
//! (plain Relaxed load + store, no locked instruction), its outbound counters by whoever
//! delivers to it (one Relaxed `fetch_add` next to the outbound lock it already takes).
//! Nothing is shared server-wide per message: the server's totals are the sum over open
//! connections plus what closed ones handed over when they closed.

use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What CONNECT said about the client (for /connz).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientMeta {
    pub(crate) name: String,
    pub(crate) lang: String,
    pub(crate) version: String,
    /// The account the connection is bound to (empty until CONNECT).
    pub(crate) account: String,
}

/// One connection's counters and identity.
pub(crate) struct ConnStats {
    pub(crate) peer: SocketAddr,
    /// When the connection was accepted (Unix nanoseconds).
    pub(crate) start_ns: u64,
    /// Last message in or out, or subscription (Unix nanoseconds), updated per read batch.
    pub(crate) last_activity_ns: AtomicU64,
    pub(crate) in_msgs: AtomicU64,
    pub(crate) in_bytes: AtomicU64,
    pub(crate) out_msgs: AtomicU64,
    pub(crate) out_bytes: AtomicU64,
    pub(crate) meta: Mutex<ClientMeta>,
}

impl ConnStats {
    pub(crate) fn new(peer: SocketAddr) -> ConnStats {
        let now = unix_nanos();
        ConnStats {
            peer,
            start_ns: now,
            last_activity_ns: AtomicU64::new(now),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            meta: Mutex::new(ClientMeta::default()),
        }
    }

    /// One message received from this connection. Only its own reader calls this, so a
    /// load and a store suffice (no read-modify-write).
    #[inline]
    pub(crate) fn record_in(&self, bytes: usize) {
        let n = self.in_msgs.load(Ordering::Relaxed);
        self.in_msgs.store(n + 1, Ordering::Relaxed);
        let b = self.in_bytes.load(Ordering::Relaxed);
        self.in_bytes.store(b + bytes as u64, Ordering::Relaxed);
    }

    /// One message delivered to this connection (any publisher may call this).
    #[inline]
    pub(crate) fn record_out(&self, bytes: usize) {
        self.out_msgs.fetch_add(1, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The connection did something just now.
    #[inline]
    pub(crate) fn touch(&self) {
        self.last_activity_ns.store(unix_nanos(), Ordering::Relaxed);
    }

    pub(crate) fn totals(&self) -> Totals {
        Totals {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: self.out_msgs.load(Ordering::Relaxed),
            out_bytes: self.out_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Message and byte counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) in_msgs: u64,
    pub(crate) in_bytes: u64,
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.in_msgs += o.in_msgs;
        self.in_bytes += o.in_bytes;
        self.out_msgs += o.out_msgs;
        self.out_bytes += o.out_bytes;
    }
}

/// Server-wide counters that change once per connection, never per message.
#[derive(Default)]
pub(crate) struct ServerStats {
    /// Totals of the connections that have closed.
    closed_in_msgs: AtomicU64,
    closed_in_bytes: AtomicU64,
    closed_out_msgs: AtomicU64,
    closed_out_bytes: AtomicU64,
    /// Client connections accepted since start.
    pub(crate) total_connections: AtomicU64,
    /// Connections cut off as slow consumers since start.
    pub(crate) slow_consumers: AtomicU64,
}

impl ServerStats {
    /// A connection closed: keep its counts in the server's totals.
    pub(crate) fn closed(&self, conn: &ConnStats, slow: bool) {
        let t = conn.totals();
        self.closed_in_msgs.fetch_add(t.in_msgs, Ordering::Relaxed);
        self.closed_in_bytes
            .fetch_add(t.in_bytes, Ordering::Relaxed);
        self.closed_out_msgs
            .fetch_add(t.out_msgs, Ordering::Relaxed);
        self.closed_out_bytes
            .fetch_add(t.out_bytes, Ordering::Relaxed);
        if slow {
            self.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn closed_totals(&self) -> Totals {
        Totals {
            in_msgs: self.closed_in_msgs.load(Ordering::Relaxed),
            in_bytes: self.closed_in_bytes.load(Ordering::Relaxed),
            out_msgs: self.closed_out_msgs.load(Ordering::Relaxed),
            out_bytes: self.closed_out_bytes.load(Ordering::Relaxed),
        }
    }
}
