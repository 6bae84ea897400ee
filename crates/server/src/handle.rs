//! Who messages are delivered to: a client connection's [`ClientHandle`] (the part of it
//! other connections touch) or an in-process sink, the [`Subscription`]s that point at
//! them, and the [`Account`] (subject space) whose registry holds them.
//!
//! One module because these types point at each other: a handle's sid table holds its
//! subscriptions, and each subscription's [`Owner`] holds the handle. Like the other leaf
//! modules, it imports nothing from the modules that use it (the read loop, the router, the
//! registry, monitoring).

use crate::config::ResponseType;
use crate::imports::mapping::Mapping;
use crate::imports::responses::Responses;
use crate::outbound::Outbound;
use crate::perms::ClientPerms;
use crate::sink::InternalSink;
use crate::stats::ConnStats;
use parking_lot::Mutex;
use sluice_protocol::ByteStr;
use sluice_router::Sublist;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// [`ClientHandle::flags`]: the client sent `headers: true`: deliver HMSG, not MSG.
pub(crate) const HEADERS: u8 = 1;
/// [`ClientHandle::flags`]: check deliveries against the subscribe deny list.
pub(crate) const DENY_FILTER: u8 = 2;
/// [`ClientHandle::flags`]: record the reply subjects of deliveries (allow_responses).
pub(crate) const TRACK_REPLIES: u8 = 4;
/// [`ClientHandle::flags`]: CONNECT said `protocol: 1` or more: the client takes INFO updates
/// (lame-duck mode's `ldm: true`), as nats-server sends them only to such clients.
pub(crate) const ASYNC_INFO: u8 = 8;

/// The part of a connection other connections touch: its outbound buffer and its sid table.
pub(crate) struct ClientHandle {
    pub(crate) id: u64,
    pub(crate) out: Outbound,
    pub(crate) subs: Mutex<HashMap<ByteStr, SubRef>>,
    /// [`HEADERS`], [`DENY_FILTER`], [`TRACK_REPLIES`]: one load tells a publisher all it
    /// needs, so a connection without permissions costs deliveries nothing more.
    pub(crate) flags: AtomicU8,
    /// Permission state publishers use (only when `flags` says so).
    pub(crate) perms: ClientPerms,
    /// Notified when the server's authorization is reloaded.
    pub(crate) reauth: Notify,
    /// Monitoring: counters (Relaxed atomics) and what CONNECT said (see `stats.rs`).
    pub(crate) stats: ConnStats,
    /// Its user's own payload limit (operator mode), `usize::MAX` if none: its INFO updates
    /// say the smaller of this and the server's `max_payload`.
    pub(crate) own_max_payload: std::sync::atomic::AtomicUsize,
}

impl ClientHandle {
    pub(crate) fn set_own_max_payload(&self, max: Option<usize>) {
        self.own_max_payload
            .store(max.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// The largest payload it may publish: its user's limit or the server's `max_payload`,
    /// whichever is smaller.
    #[inline]
    pub(crate) fn max_payload(&self, server: usize) -> usize {
        self.own_max_payload.load(Ordering::Relaxed).min(server)
    }

    /// Its user's payload limit, if smaller than the server's `max_payload`.
    pub(crate) fn smaller_max_payload(&self, shared: &crate::shared::Shared) -> Option<usize> {
        let own = self.own_max_payload.load(Ordering::Relaxed);
        (own < shared.limits.max_payload()).then_some(own)
    }

    #[inline]
    pub(crate) fn flags(&self) -> u8 {
        self.flags.load(Ordering::Relaxed)
    }

    pub(crate) fn set_flag(&self, flag: u8, on: bool) {
        if on {
            self.flags.fetch_or(flag, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!flag, Ordering::Relaxed);
        }
    }

    pub(crate) fn headers(&self) -> bool {
        self.flags() & HEADERS != 0
    }
}

/// The owner side of an in-process subscription.
pub(crate) struct InternalOwner {
    pub(crate) id: u64,
    pub(crate) sink: Arc<dyn InternalSink>,
}

/// The part of a route (a link to another server of the cluster) that publishers touch: its
/// outbound buffer. Its subscriptions stand for the other server's interest: a message that
/// matches one is forwarded to that server once (RMSG), whatever else of it matched.
pub(crate) struct RouteHandle {
    /// Shares the id counter with clients.
    pub(crate) id: u64,
    pub(crate) out: Outbound,
    /// The other server's CONNECT or INFO said it takes HMSG.
    pub(crate) headers: std::sync::atomic::AtomicBool,
    /// Monitoring: messages and bytes both ways.
    pub(crate) stats: ConnStats,
}

impl RouteHandle {
    #[inline]
    pub(crate) fn takes_headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }
}

/// Who a subscription delivers to.
#[derive(Clone)]
pub(crate) enum Owner {
    /// A client connection: messages are encoded into its outbound buffer.
    Client(Arc<ClientHandle>),
    /// An in-process client: messages are handed to its sink.
    Internal(Arc<InternalOwner>),
    /// Another server's interest, learnt over a route (`RS+`): messages are forwarded to it.
    Route(Arc<RouteHandle>),
}

impl Owner {
    /// The owning party's id (client ids and internal ids share one counter).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        match self {
            Owner::Client(c) => c.id,
            Owner::Internal(i) => i.id,
            Owner::Route(r) => r.id,
        }
    }

    /// True for this server's own subscribers (clients and in-process), whose interest it
    /// announces to its routes.
    #[inline]
    pub(crate) fn is_local(&self) -> bool {
        !matches!(self, Owner::Route(_))
    }
}

/// The name of nats-server's global account: users not in any configured account, and
/// every client when no accounts are configured.
pub(crate) const GLOBAL_ACCOUNT: &str = "$G";

/// The name of nats-server's system account when `system_account` names none.
pub(crate) const SYSTEM_ACCOUNT: &str = "$SYS";

/// A subject space of its own (nats-server's account): a message published in one account
/// reaches only the subscriptions of that account, whatever their subjects, and the
/// accounts that import them.
pub(crate) struct Account {
    pub(crate) name: Arc<str>,
    /// The account's subscriptions: its clients', in-process ones', and other servers'
    /// interest in it learnt over the routes.
    pub(crate) sublist: Sublist<SubRef>,
    /// Client connections bound to it now (monitoring).
    pub(crate) conns: AtomicUsize,
    /// What it imports from other accounts and the replies it maps for them (set once,
    /// before the server takes connections; see `imports/`).
    pub(crate) imports: OnceLock<AccountImports>,
}

impl Account {
    pub(crate) fn new(name: &str) -> Account {
        Account {
            name: Arc::from(name),
            sublist: Sublist::new(),
            conns: AtomicUsize::new(0),
            imports: OnceLock::new(),
        }
    }

    /// Its service imports, if it has any.
    #[inline]
    pub(crate) fn service_imports(&self) -> Option<&[ServiceImport]> {
        self.imports
            .get()
            .map(|i| i.services.as_slice())
            .filter(|s| !s.is_empty())
    }
}

/// An account's part in exports and imports.
#[derive(Default)]
pub(crate) struct AccountImports {
    /// Messages it takes from other accounts.
    pub(crate) streams: Vec<StreamImport>,
    /// Requests its clients send to other accounts' services.
    pub(crate) services: Vec<ServiceImport>,
    /// When it exports services: where its responders' replies go back to.
    pub(crate) responses: Option<Responses<Weak<Account>>>,
}

/// A stream import: the exporter's messages on the mapping's export side are delivered to
/// the importer's subscriptions on its import side (through [`Shadow`] subscriptions).
pub(crate) struct StreamImport {
    pub(crate) exporter: Weak<Account>,
    pub(crate) mapping: Arc<Mapping>,
    /// The importer's subjects (the mapping's import side).
    pub(crate) to: String,
}

/// A service import: what the importer's clients publish on `to` is also published in the
/// exporter, mapped, with a reply subject that brings the responses back.
pub(crate) struct ServiceImport {
    pub(crate) importer: Weak<Account>,
    pub(crate) exporter: Weak<Account>,
    pub(crate) mapping: Mapping,
    pub(crate) to: String,
    pub(crate) response: ResponseType,
    pub(crate) threshold: Duration,
}

/// What makes a subscription a shadow: one the server enters in an exporting account for an
/// importer's subscription, delivering to it under the importer's subject.
pub(crate) struct Shadow {
    pub(crate) original: Weak<Subscription>,
    pub(crate) mapping: Arc<Mapping>,
    /// The shadow covers more than the original's subject: check each delivery against it.
    pub(crate) filter: bool,
}

/// One `SUB`: who it belongs to, its sid, and its auto-unsubscribe state.
pub(crate) struct Subscription {
    pub(crate) owner: Owner,
    /// The account whose registry holds it.
    pub(crate) account: Arc<Account>,
    pub(crate) sid: ByteStr,
    pub(crate) subject: ByteStr,
    pub(crate) queue: Option<ByteStr>,
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    max: AtomicU64,
    delivered: AtomicU64,
    /// Set when this is a shadow of another subscription (a stream import's).
    pub(crate) shadow: Option<Shadow>,
    /// The shadows entered for it, removed with it.
    pub(crate) shadows: Mutex<Vec<SubRef>>,
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
        account: Arc<Account>,
        sid: ByteStr,
        subject: ByteStr,
        queue: Option<ByteStr>,
    ) -> Self {
        Subscription {
            owner,
            account,
            sid,
            subject,
            queue,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            shadow: None,
            shadows: Mutex::new(Vec::new()),
        }
    }

    /// A shadow of `original` in `account` on `subject` (same owner, sid and queue group).
    pub(crate) fn shadow_of(
        original: &SubRef,
        account: Arc<Account>,
        subject: &str,
        mapping: Arc<Mapping>,
        filter: bool,
    ) -> Self {
        let mut sub = Subscription::new(
            original.owner.clone(),
            account,
            original.sid.clone(),
            ByteStr::from(subject),
            original.queue.clone(),
        );
        sub.shadow = Some(Shadow {
            original: Arc::downgrade(original),
            mapping,
            filter,
        });
        sub
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
