//! Routing one message to every matching subscription: the middle of the hot path.
//!
//! A [`Publisher`] is one publishing party's routing state (a client connection, or the
//! in-process publisher behind [`crate::ServerHandle`]): its id and echo flag, its random
//! source for queue groups, and the connections that got data and need their writers woken
//! once the current batch is done.

use crate::handle::{
    Account, Admit, ClientHandle, Owner, RouteHandle, Shadow, SubRef, DENY_FILTER, HEADERS,
    TRACK_REPLIES,
};
use crate::outbound::Pushed;
use crate::pressure::Backlog;
use crate::shared::Shared;
use crate::sink::InternalMsg;
use bytes::{Bytes, BytesMut};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use sluice_protocol::encode_msg;
use std::sync::Arc;
use tracing::trace;

pub(crate) struct Publisher {
    /// The publishing party's id (client id, or an internal id).
    pub(crate) id: u64,
    /// Deliver to the publisher's own subscriptions too.
    pub(crate) echo: bool,
    pub(crate) trace: bool,
    rng: SmallRng,
    /// Connections that got data during this batch and whose writers need a wake-up.
    to_wake: Vec<Arc<ClientHandle>>,
    /// Routes that got data during this batch and whose writers need a wake-up.
    routes_to_wake: Vec<Arc<RouteHandle>>,
    /// The routes the message being routed goes to, each with the queue groups it is to
    /// deliver to (at most one RMSG per route per message).
    targets: Vec<(Arc<RouteHandle>, Vec<Arc<str>>)>,
    /// A route this batch filled past its stall threshold (as `stalled`).
    pub(crate) stalled_route: Option<Arc<RouteHandle>>,
    /// A connection this batch filled past its stall threshold: a client publisher waits for
    /// it after the batch (see `outbound.rs`).
    pub(crate) stalled: Option<Arc<ClientHandle>>,
    /// An in-process sink's backlog this batch found over its limit: a client publisher stops
    /// reading until it has room (see `pressure.rs`).
    pub(crate) blocked: Option<Arc<Backlog>>,
    /// How many service imports the message being routed has gone through.
    pub(crate) import_depth: u8,
}

impl Publisher {
    pub(crate) fn new(id: u64) -> Self {
        Publisher {
            id,
            echo: true,
            trace: tracing::enabled!(tracing::Level::TRACE),
            rng: SmallRng::from_rng(rand::thread_rng())
                .unwrap_or_else(|_| SmallRng::seed_from_u64(id)),
            to_wake: Vec::new(),
            routes_to_wake: Vec::new(),
            targets: Vec::new(),
            stalled_route: None,
            stalled: None,
            blocked: None,
            import_depth: 0,
        }
    }

    /// Routes one message to every matching subscription of account `acc` (one member per
    /// queue group), and through the account's service imports that take it. True if anyone
    /// received it.
    #[inline]
    pub(crate) fn publish(
        &mut self,
        shared: &Shared,
        acc: &Account,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut delivered = self.publish_as(shared, acc, subject, subject, reply, headers, payload);
        if acc.service_imports().is_some() {
            delivered |=
                self.through_service_imports(shared, acc, subject, reply, headers, payload);
        }
        delivered
    }

    /// Routes a message by `route` but delivers it showing `subject` (how a stream consumer
    /// sends a stored message to a deliver subject or a pull request's inbox while the
    /// client sees the subject it was stored under).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn publish_as(
        &mut self,
        shared: &Shared,
        acc: &Account,
        route: &str,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let result = acc.sublist.matches(route);
        let mut delivered = false;
        for sub in &result.plain {
            if let Owner::Route(r) = &sub.owner {
                self.target(r, None);
                continue;
            }
            delivered |= self.deliver(shared, sub, subject, reply, headers, payload);
        }
        for group in &result.queues {
            // Every member equally likely, cluster-wide: another server's members are in the
            // registry once per member (its queue weight), as nats-server shadows them.
            let sub = group.pick(&mut self.rng);
            if let Owner::Route(r) = &sub.owner {
                self.target(r, Some(&group.name));
                continue;
            }
            delivered |= self.deliver(shared, sub, subject, reply, headers, payload);
        }
        if !self.targets.is_empty() {
            // Routed by `route`: the other server matches its subscribers against it.
            self.forward(&acc.name, route, reply, headers, payload);
            delivered = true;
        }
        delivered
    }

    /// Routes a message that came from another server of the cluster: to this server's own
    /// subscribers only (a message crosses at most one route), and to one local member of
    /// each queue group the sender named (`queues`), none of the others.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn publish_from_route(
        &mut self,
        shared: &Shared,
        acc: &Account,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
        queues: &[sluice_protocol::ByteStr],
    ) -> bool {
        let result = acc.sublist.matches(subject);
        let mut delivered = false;
        for sub in result.plain.iter().filter(|s| s.owner.is_local()) {
            delivered |= self.deliver(shared, sub, subject, reply, headers, payload);
        }
        for group in &result.queues {
            if !queues.iter().any(|q| **q == *group.name) {
                continue;
            }
            let local = group.members.iter().filter(|s| s.owner.is_local()).count();
            if local == 0 {
                continue;
            }
            let nth = rand::Rng::gen_range(&mut self.rng, 0..local);
            if let Some(sub) = group.members.iter().filter(|s| s.owner.is_local()).nth(nth) {
                delivered |= self.deliver(shared, sub, subject, reply, headers, payload);
            }
        }
        delivered
    }

    /// Notes that the message being routed goes to route `r` (for queue group `queue`).
    #[inline(never)]
    fn target(&mut self, r: &Arc<RouteHandle>, queue: Option<&Arc<str>>) {
        let i = match self.targets.iter().position(|(t, _)| Arc::ptr_eq(t, r)) {
            Some(i) => i,
            None => {
                self.targets.push((r.clone(), Vec::new()));
                self.targets.len() - 1
            }
        };
        if let Some(q) = queue {
            self.targets[i].1.push(q.clone());
        }
    }

    /// Sends the message being routed to each noted route, once.
    #[inline(never)]
    fn forward(
        &mut self,
        account: &str,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        for (r, queues) in self.targets.drain(..) {
            let headers = headers.filter(|_| r.takes_headers());
            let pushed = r.out.push(|b| {
                sluice_protocol::route::encode_rmsg(
                    b,
                    account,
                    subject,
                    reply,
                    queues.iter().map(|q| &**q),
                    headers,
                    payload,
                )
            });
            if pushed != Pushed::Dropped {
                r.stats
                    .record_out(payload.len() + headers.map_or(0, <[u8]>::len));
            }
            if pushed == Pushed::NeedsWake
                && !self.routes_to_wake.iter().any(|t| Arc::ptr_eq(t, &r))
            {
                self.routes_to_wake.push(r.clone());
            }
            if self.stalled_route.is_none() && r.out.over_stall() {
                self.stalled_route = Some(r);
            }
        }
    }

    /// Delivers to one of this server's own subscriptions, honouring echo and
    /// auto-unsubscribe. Callers hand another server's subscriptions to `target` instead.
    #[inline]
    fn deliver(
        &mut self,
        shared: &Shared,
        sub: &SubRef,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        if let Some(shadow) = &sub.shadow {
            return self.deliver_shadow(shared, shadow, subject, reply, headers, payload);
        }
        if !self.echo && sub.owner.id() == self.id {
            return false;
        }
        let flags = match &sub.owner {
            Owner::Client(target) => {
                let flags = target.flags();
                // A wildcard subscription overlapping the subscribe deny list: the denied
                // subjects are not delivered (nats-server's deny filter).
                if flags & DENY_FILTER != 0 && target.perms.denies_delivery(subject) {
                    return false;
                }
                flags
            }
            Owner::Internal(_) => 0,
            Owner::Route(_) => {
                unreachable!("route subscriptions are forwarded (`target`), never delivered")
            }
        };
        match sub.admit() {
            Admit::Yes => {}
            Admit::Last => shared.remove_sub(sub),
            Admit::No => return false,
        }
        match &sub.owner {
            Owner::Client(target) => {
                let headers = headers.filter(|_| flags & HEADERS != 0);
                if flags & TRACK_REPLIES != 0 {
                    if let Some(reply) = reply {
                        // allow_responses: the receiver may now publish to this reply.
                        target.perms.record_reply(reply);
                    }
                }
                if self.trace {
                    trace!(
                        cid = target.id,
                        "->> [MSG {subject} {} {}]",
                        sub.sid,
                        payload.len()
                    );
                }
                let pushed = target
                    .out
                    .push(|b| encode_msg(b, subject, &sub.sid, reply, headers, payload));
                if pushed != Pushed::Dropped {
                    let size = payload.len() + headers.map_or(0, <[u8]>::len);
                    target.stats.record_out(size);
                }
                if pushed == Pushed::NeedsWake {
                    self.wake_later(target);
                }
                if self.stalled.is_none() && target.out.over_stall() {
                    self.stalled = Some(target.clone());
                }
            }
            Owner::Route(_) => {} // ruled out above
            Owner::Internal(internal) => {
                internal.sink.deliver(InternalMsg {
                    subject: subject.into(),
                    reply: reply.map(Into::into),
                    headers: headers.map(Bytes::copy_from_slice),
                    payload: Bytes::copy_from_slice(payload),
                });
                if self.blocked.is_none() {
                    if let Some(b) = internal.sink.backlog().filter(|b| b.is_over()) {
                        self.blocked = Some(b.clone());
                    }
                }
            }
        }
        true
    }

    /// Delivers to the subscription a stream import's shadow stands for, under its
    /// account's subject.
    #[inline(never)]
    fn deliver_shadow(
        &mut self,
        shared: &Shared,
        shadow: &Shadow,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let (Some(original), Some(mapped)) =
            (shadow.original.upgrade(), shadow.mapping.f_to_q(subject))
        else {
            return false;
        };
        if shadow.filter && !sluice_protocol::subject::subject_matches(&original.subject, &mapped) {
            return false;
        }
        self.deliver(shared, &original, &mapped, reply, headers, payload)
    }

    /// Appends to `target`'s outbound buffer (a reply to a client itself).
    pub(crate) fn push_to(
        &mut self,
        target: &Arc<ClientHandle>,
        encode: impl FnOnce(&mut BytesMut),
    ) {
        if target.out.push(encode) == Pushed::NeedsWake {
            self.wake_later(target);
        }
    }

    #[inline]
    fn wake_later(&mut self, target: &Arc<ClientHandle>) {
        if !self.to_wake.iter().any(|c| Arc::ptr_eq(c, target)) {
            self.to_wake.push(target.clone());
        }
    }

    /// Wakes the writers of every connection that got data since the last call.
    pub(crate) fn wake_all(&mut self) {
        for c in self.to_wake.drain(..) {
            c.out.wake();
        }
        for r in self.routes_to_wake.drain(..) {
            r.out.wake();
        }
    }
}
