//! In-process clients: how a higher layer (the stream layer) subscribes and publishes like any
//! other client, without a socket and without the server knowing what it is. A handle acts in
//! one account: the global one (`$G`) unless made with [`ServerHandle::in_account`].

use crate::config::{Auth, ServerConfig};
use crate::error::ServerError;
use crate::handle::{Account, SubRef};
use crate::js_monitor::{JetStreamLimits, JetStreamMonitor, JsRegistration};
use crate::route::Publisher;
use crate::shared::Shared;
use crate::sink::InternalSink;
use parking_lot::Mutex;
use std::sync::Arc;

/// A handle on the running server for in-process clients. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
    /// The account it subscribes and publishes in.
    account: Arc<Account>,
    publisher: Arc<Mutex<Publisher>>,
}

/// An in-process subscription; removed by [`InternalSubscription::unsubscribe`] or on drop.
pub struct InternalSubscription {
    shared: Arc<Shared>,
    sub: Option<SubRef>,
}

impl InternalSubscription {
    /// Removes the subscription from the router.
    pub fn unsubscribe(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        if let Some(sub) = self.sub.take() {
            self.shared.remove_sub(&sub);
        }
    }
}

impl Drop for InternalSubscription {
    fn drop(&mut self) {
        self.remove();
    }
}

impl ServerHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let global = shared.global.clone();
        Self::acting_in(shared, global)
    }

    /// A handle with a publisher of its own (its own lock and id) that acts in `account`.
    fn acting_in(shared: Arc<Shared>, account: Arc<Account>) -> Self {
        let id = shared.next_id();
        ServerHandle {
            account,
            shared,
            publisher: Arc::new(Mutex::new(Publisher::new(id))),
        }
    }

    /// A handle (with a publisher of its own) that acts in account `name`; `None` if the
    /// server has no such account.
    pub fn in_account(&self, name: &str) -> Option<ServerHandle> {
        let account = self.shared.account(name)?.clone();
        Some(Self::acting_in(self.shared.clone(), account))
    }

    /// The names of the accounts besides the global one and the system one, sorted.
    pub fn account_names(&self) -> Vec<String> {
        self.shared
            .accounts()
            .iter()
            .filter(|a| {
                !Arc::ptr_eq(a, &self.shared.global) && !Arc::ptr_eq(a, &self.shared.system)
            })
            .map(|a| a.name.to_string())
            .collect()
    }

    /// Subscribes `sink` to `subject` (wildcards allowed), optionally in a queue group.
    pub fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        sink: Arc<dyn InternalSink>,
    ) -> Result<InternalSubscription, ServerError> {
        let sub = self
            .shared
            .subscribe_internal(&self.account, subject, queue, sink)
            .map_err(|e| match e {
                sluice_router::RouterError::InvalidQueue => ServerError::InvalidQueue,
                sluice_router::RouterError::InvalidSubject => ServerError::InvalidSubject,
            })?;
        Ok(InternalSubscription {
            shared: self.shared.clone(),
            sub: Some(sub),
        })
    }

    /// Publishes a message as an in-process client. True if anyone received it.
    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut publisher = self.publisher.lock();
        let delivered = publisher.publish(
            &self.shared,
            &self.account,
            subject,
            reply,
            headers,
            payload,
        );
        publisher.wake_all();
        publisher.stalled = None;
        publisher.blocked = None;
        delivered
    }

    /// Publishes a message routed by `route` but showing `subject` to its receivers (see
    /// [`Batch::publish_as`]). True if anyone received it.
    pub fn publish_as(
        &self,
        route: &str,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.batch(|b| b.publish_as(route, subject, reply, headers, payload))
    }

    /// Runs `f` with this handle's publisher locked once, and wakes the receivers' writers once
    /// at the end: for sending many messages in a row. `f` must not publish through this
    /// handle itself (it would wait for its own lock).
    pub fn batch<R>(&self, f: impl FnOnce(&mut Batch<'_>) -> R) -> R {
        let mut publisher = self.publisher.lock();
        let mut batch = Batch {
            shared: &self.shared,
            account: &self.account,
            publisher: &mut publisher,
        };
        let r = f(&mut batch);
        publisher.wake_all();
        // In-process publishers never wait for a reader or a backlog (their callers are not
        // tasks, and nothing may wait on a client: see `pressure.rs`).
        publisher.stalled = None;
        publisher.blocked = None;
        r
    }

    /// A handle with a publisher of its own (its own lock and id), for a party that publishes
    /// a lot from its own thread and should not contend with the others.
    pub fn fork(&self) -> ServerHandle {
        Self::acting_in(self.shared.clone(), self.account.clone())
    }

    /// True if any subscription matches `subject`.
    pub fn has_interest(&self, subject: &str) -> bool {
        self.account.sublist.has_interest(subject)
    }

    /// Replaces the server's authorization at runtime (a config reload), as nats-server
    /// does: new CONNECTs are checked against `auth` at once; each open connection re-checks
    /// the credentials it connected with and is closed if they no longer pass (with
    /// `-ERR 'Authorization Violation'`, or silently if its user was removed); the others stay
    /// connected with their user's new permissions, and subscriptions those no longer allow
    /// are removed with `-ERR 'Permissions Violation for Subscription to "<subj>" (sid
    /// "<sid>")'`. Returns at once; connections apply it on their own tasks.
    pub fn reload_auth(&self, auth: Auth) {
        self.shared.reload_auth(auth);
    }

    /// Replaces the server's reloadable limits at runtime (a config reload) with those in
    /// `config`: `max_payload`, `max_control_line`, `max_pending`, `max_connections`,
    /// `ping_interval`, `max_pings_out`, `write_deadline` and `auth_timeout` (its other
    /// fields are ignored). No connection is dropped: new connections get all of them (and
    /// INFO advertises the new `max_payload`); open ones apply `max_payload` and
    /// `max_control_line` from their next read, `max_pending` from their next push,
    /// `write_deadline` from their next write, and `ping_interval`/`max_pings_out` at their
    /// next keepalive tick. A lower `max_connections` refuses new connections only.
    /// Returns what changed, one `name: old -> new` per limit.
    pub fn reload_limits(&self, config: &ServerConfig) -> Vec<String> {
        self.shared.reload_limits(config)
    }

    /// Replaces the cluster's configured routes (a configuration reload): routes no longer
    /// listed stop being dialled and the routes they made close; new ones are dialled.
    /// Returns what changed; nothing when the server is not clustered.
    pub fn reload_routes(&self, routes: &[crate::RouteUrl]) -> Vec<String> {
        match &self.shared.cluster {
            Some(cluster) => crate::cluster::reload_routes(&self.shared, cluster, routes),
            None => Vec::new(),
        }
    }

    /// Enters lame-duck mode, as nats-server on SIGUSR2: the listener closes (new connections
    /// are refused), clients that take INFO updates get one with `ldm: true`, and after
    /// `lame_duck_grace_period` the clients are closed one by one over the rest of
    /// `lame_duck_duration`; then [`crate::Server::run`] returns, as after a shutdown.
    /// Returns at once; a second call does nothing.
    pub fn enter_lame_duck(&self) {
        self.shared.lame_duck.cancel();
    }

    /// True if `subject` has a subscriber that is in queue group `queue` (`Some`), or that is
    /// in no queue group (`None`): how nats-server decides that a push consumer with (or
    /// without) a deliver group is bound.
    pub fn has_subscribers(&self, subject: &str, queue: Option<&str>) -> bool {
        let m = self.account.sublist.matches(subject);
        match queue {
            Some(q) => m.queue(q).is_some_and(|g| !g.members.is_empty()),
            None => !m.plain.is_empty(),
        }
    }

    /// Registers the stream layer's stats for monitoring (`/jsz`, `/varz`, `/metrics`); until
    /// then, a server configured with JetStream answers `/healthz` with 503. `None` removes it
    /// (the stream layer stopped).
    pub fn set_jetstream_monitor(
        &self,
        monitor: Option<(JetStreamLimits, Arc<dyn JetStreamMonitor>)>,
    ) {
        *self.shared.jetstream_monitor.write() =
            monitor.map(|(limits, source)| JsRegistration { limits, source });
    }

    /// A number that changes whenever any subscription of this handle's account is added or
    /// removed: poll it to learn cheaply that interest may have changed.
    pub fn interest_generation(&self) -> u64 {
        self.account.sublist.generation()
    }
}

/// Messages published under one lock of a handle's publisher ([`ServerHandle::batch`]).
pub struct Batch<'a> {
    shared: &'a Shared,
    account: &'a Account,
    publisher: &'a mut Publisher,
}

impl Batch<'_> {
    /// Publishes a message. True if anyone received it.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.publisher
            .publish(self.shared, self.account, subject, reply, headers, payload)
    }

    /// Publishes a message routed by `route` (the subscriptions matching it receive it) but
    /// showing `subject` in the MSG line, as nats-server delivers a stream's messages to a
    /// consumer's deliver subject or inbox. True if anyone received it.
    pub fn publish_as(
        &mut self,
        route: &str,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.publisher.publish_as(
            self.shared,
            self.account,
            route,
            subject,
            reply,
            headers,
            payload,
        )
    }

    /// True if any subscription matches `subject`.
    pub fn has_interest(&self, subject: &str) -> bool {
        self.account.sublist.has_interest(subject)
    }
}
