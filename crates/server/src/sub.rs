//! A subscription, as stored in the router and in its connection's sid table.

use crate::client::ClientHandle;
use crate::internal::InternalOwner;
use sluice_protocol::ByteStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Who a subscription delivers to.
pub(crate) enum Owner {
    /// A client connection: messages are encoded into its outbound buffer.
    Client(Arc<ClientHandle>),
    /// An in-process client: messages are handed to its sink.
    Internal(Arc<InternalOwner>),
}

impl Owner {
    /// The owning party's id (client ids and internal ids share one counter).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        match self {
            Owner::Client(c) => c.id,
            Owner::Internal(i) => i.id,
        }
    }
}

/// One `SUB`: who it belongs to, its sid, and its auto-unsubscribe state.
pub(crate) struct Subscription {
    pub(crate) owner: Owner,
    pub(crate) sid: ByteStr,
    pub(crate) subject: ByteStr,
    pub(crate) queue: Option<ByteStr>,
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    max: AtomicU64,
    delivered: AtomicU64,
}

/// Whether a delivery may go ahead, and whether it is the subscription's last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Deliver; more may follow.
    Yes,
    /// Deliver; this was the last one: unsubscribe now.
    Last,
    /// Do not deliver: the limit was already reached.
    No,
}

impl Subscription {
    pub(crate) fn new(
        owner: Owner,
        sid: ByteStr,
        subject: ByteStr,
        queue: Option<ByteStr>,
    ) -> Self {
        Subscription {
            owner,
            sid,
            subject,
            queue,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// Counts one delivery against the auto-unsubscribe limit.
    #[inline]
    pub(crate) fn admit(&self) -> Admit {
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max == 0 || n < max {
            Admit::Yes
        } else if n == max {
            Admit::Last
        } else {
            Admit::No
        }
    }

    /// Messages delivered so far (monitoring: /connz `subs=detail`).
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit; true if it is already reached.
    pub(crate) fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Relaxed);
        self.delivered.load(Ordering::Relaxed) >= max
    }
}

impl PartialEq for Subscription {
    /// Identity: two subscriptions are equal only if they are the same one.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// What the router stores.
pub(crate) type SubRef = Arc<Subscription>;
