//! The cluster's shared state ([`Cluster`]): the established routes by the other server's id,
//! this server's own interest (announced to every route), the client URLs the other servers
//! announced, and gossip. A leaf of the cluster module: `link.rs` and `dial.rs` use it, it
//! uses neither.

use super::interest::LocalInterest;
use crate::cluster_config::ClusterConfig;
use crate::handle::{RouteHandle, SubRef};
use bytes::BytesMut;
use parking_lot::Mutex;
use sluice_protocol::route::RouteInfo;
use sluice_protocol::ByteStr;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::info;

/// The cluster this server belongs to.
pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    /// The cluster's name: configured, or drawn at random (then `dynamic`, and the first
    /// peer's name is adopted, as nats-server does).
    name: Mutex<String>,
    dynamic: bool,
    server_id: String,
    server_name: String,
    /// The cluster listener's address, once bound.
    pub(crate) listen: OnceLock<SocketAddr>,
    state: Mutex<State>,
    /// Numbers this server's dials (see `Link::dial_seq`).
    dial_seq: AtomicU64,
    /// Notified when the cluster's client URLs may have changed (the task that resends
    /// clients' INFO waits on it, and compares).
    pub(crate) urls_notify: tokio::sync::Notify,
    /// `permissions.import`: the subjects this server asks other servers for (announces
    /// interest in); `None`: all.
    import: Option<crate::perms::ConnPerms>,
    /// `permissions.export`: the subjects other servers may ask this one for (their `RS+`
    /// for anything else is ignored); `None`: all.
    export: Option<crate::perms::ConnPerms>,
    /// TLS for routes (`tls` configured), set when the listener is bound.
    pub(crate) tls: OnceLock<super::secure::RouteTls>,
    /// The configured routes being dialled, each with what stops its dials (and closes the
    /// route they made): a reload removes routes by cancelling.
    pub(crate) configured: Mutex<Vec<(crate::RouteUrl, tokio_util::sync::CancellationToken)>>,
    /// Where dials started by gossip run, and what stops them (set when the cluster runs).
    /// Who gets the peer messages routes bring (`peer.rs`); dropped while unset.
    pub(crate) peer_handler: parking_lot::RwLock<Option<super::peer::Handler>>,
    /// JetStream is enabled here (said in route INFO, as nats-server does).
    jetstream: bool,
    pub(crate) dials: OnceLock<(
        tokio_util::task::TaskTracker,
        tokio_util::sync::CancellationToken,
    )>,
}

#[derive(Default)]
struct State {
    interest: LocalInterest,
    /// Established routes, by the other server's id.
    routes: HashMap<String, Arc<Link>>,
    /// Servers being dialled because gossip named them (their ids).
    dialling: BTreeSet<String>,
}

/// A route's interest: per account, subject and queue group, its registry entry (in that
/// account's registry) and queue weight.
pub(crate) type RemoteSubs = HashMap<(Arc<str>, ByteStr, Option<ByteStr>), (SubRef, u32)>;

/// An established route.
pub(crate) struct Link {
    pub(crate) handle: Arc<RouteHandle>,
    pub(crate) remote_id: String,
    pub(crate) remote_name: String,
    /// This server dialled it (as opposed to accepting it).
    pub(crate) solicited: bool,
    /// Where the other server takes routes (for gossip and /routez).
    pub(crate) url: String,
    /// The client URLs the other server announced (`connect_urls`).
    pub(crate) client_urls: Mutex<Vec<String>>,
    /// Its interest: a registry entry per subject and queue group, with the queue weight.
    pub(crate) subs: Mutex<RemoteSubs>,
    /// When it was established (Unix ns).
    pub(crate) since_ns: u64,
    /// The other server is a Sluice node (its INFO says `sluice_version`): duplicate routes
    /// between the two are settled by server id, not by which registered first.
    pub(crate) sluice_peer: bool,
    /// Its INFO says JetStream is enabled there.
    pub(crate) jetstream: bool,
    /// Which of its dialler's dials made it (both sides know it): of two routes one server
    /// dialled, the later dial stays.
    pub(crate) dial_seq: u64,
    /// A second route to the same server was refused while this one stood: if this one closes,
    /// dial that server again (nats-server's `retry`: both sides may have kept opposite
    /// routes and closed the other's).
    pub(crate) retry: std::sync::atomic::AtomicBool,
}

/// Why a route could not be registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A route to that server exists and is the one both sides keep.
    Duplicate,
}

impl Cluster {
    pub(crate) fn new(
        config: ClusterConfig,
        server_id: &str,
        server_name: &str,
        jetstream: bool,
    ) -> Cluster {
        let perms = |p: Option<&crate::SubjectPermission>| {
            p.and_then(|p| {
                crate::perms::ConnPerms::new(&crate::Permissions {
                    publish: None,
                    subscribe: Some(p.clone()),
                    allow_responses: None,
                })
            })
        };
        let permissions = config.permissions.as_ref();
        let import = perms(permissions.and_then(|p| p.import.as_ref()));
        let export = perms(permissions.and_then(|p| p.export.as_ref()));
        let (name, dynamic) = match &config.name {
            Some(n) => (n.clone(), false),
            None => (random_name(), true),
        };
        Cluster {
            config,
            name: Mutex::new(name),
            dynamic,
            server_id: server_id.to_owned(),
            server_name: server_name.to_owned(),
            listen: OnceLock::new(),
            state: Mutex::new(State::default()),
            dial_seq: AtomicU64::new(0),
            urls_notify: tokio::sync::Notify::new(),
            dials: OnceLock::new(),
            peer_handler: parking_lot::RwLock::new(None),
            jetstream,
            configured: Mutex::new(Vec::new()),
            tls: OnceLock::new(),
            import,
            export,
        }
    }

    /// The number of this server's next dial.
    pub(crate) fn next_dial(&self) -> u64 {
        self.dial_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn name(&self) -> String {
        self.name.lock().clone()
    }

    pub(crate) fn server_id(&self) -> &str {
        &self.server_id
    }

    /// A peer of a cluster whose name is `theirs` may join: names match, or ours was drawn
    /// at random and is replaced by theirs.
    pub(crate) fn accepts_name(&self, theirs: &str) -> bool {
        let mut name = self.name.lock();
        if *name == theirs {
            return true;
        }
        if self.dynamic && !theirs.is_empty() {
            info!(cluster = theirs, "adopting the cluster name of a peer");
            *name = theirs.to_owned();
            return true;
        }
        false
    }

    /// The INFO this server sends on a route; `local_ip` is the address the route's socket
    /// has here (announced as the client URL when the client listener is on every
    /// interface).
    pub(crate) fn route_info(
        &self,
        client_host: &str,
        client_port: u16,
        local_ip: &str,
    ) -> RouteInfo {
        let listen = self.listen.get().copied();
        let host = if unspecified(&self.config.host) {
            local_ip.to_owned()
        } else {
            self.config.host.clone()
        };
        let client_host = if unspecified(client_host) {
            local_ip
        } else {
            client_host
        };
        let connect_urls =
            (!self.config.no_advertise).then(|| vec![format!("{client_host}:{client_port}")]);
        RouteInfo {
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            version: crate::NATS_COMPAT_VERSION.to_owned(),
            // RouteProtoV2: accounts in RS+, RS-, RMSG and HMSG.
            proto: 2,
            host,
            port: listen.map_or(self.config.port, |a| a.port()),
            headers: true,
            jetstream: self.jetstream,
            auth_required: self.config.authorization.is_some(),
            tls_required: self.config.tls.is_some(),
            tls_verify: self.config.tls.is_some(),
            max_payload: 1024 * 1024,
            ip: self
                .config
                .advertise
                .as_ref()
                .map(|a| format!("nats-route://{a}/"))
                .unwrap_or_default(),
            cluster: self.name(),
            cluster_dynamic: self.dynamic,
            connect_urls,
            import: self
                .config
                .permissions
                .as_ref()
                .and_then(|p| p.import.as_ref())
                .map(route_permission),
            export: self
                .config
                .permissions
                .as_ref()
                .and_then(|p| p.export.as_ref())
                .map(route_permission),
            // Tells a Sluice peer it is one (nats-server ignores the field).
            extra: [(
                "sluice_version".to_owned(),
                serde_json::Value::from(crate::SLUICE_VERSION),
            )]
            .into_iter()
            .collect(),
            ..RouteInfo::default()
        }
    }

    /// Lame-duck mode: every route is told (`ldm: true`), so the other servers stop offering
    /// this server's client URLs to their clients (as nats-server's `sendLDMToRoutes`).
    pub(crate) fn announce_lame_duck(&self, client_host: &str, client_port: u16) {
        let mut info = self.route_info(client_host, client_port, "");
        info.ldm = true;
        info.connect_urls = None;
        let mut line = BytesMut::new();
        sluice_protocol::route::RouteOp::Info(Box::new(info)).encode(&mut line);
        broadcast(&self.state.lock(), &line);
    }

    /// May this server ask other servers for `subject` (`permissions.import`)? Interest it
    /// may not ask for is not announced, so no such message is sent to it.
    pub(crate) fn importable(&self, subject: &str, queue: Option<&str>) -> bool {
        self.import
            .as_ref()
            .is_none_or(|p| p.can_subscribe(subject, queue))
    }

    /// May another server ask this one for `subject` (`permissions.export`)?
    pub(crate) fn exportable(&self, subject: &str, queue: Option<&str>) -> bool {
        self.export
            .as_ref()
            .is_none_or(|p| p.can_subscribe(subject, queue))
    }

    /// A local subscriber was added: the routes are told if this is new interest.
    pub(crate) fn local_sub_added(
        &self,
        account: &Arc<str>,
        subject: &ByteStr,
        queue: Option<&ByteStr>,
    ) {
        if !self.importable(subject, queue.map(|q| &**q)) {
            return;
        }
        let mut st = self.state.lock();
        let mut line = BytesMut::new();
        st.interest.add(account, subject, queue, &mut line);
        broadcast(&st, &line);
    }

    /// A local subscriber is gone: the routes are told if that was the last of its kind.
    pub(crate) fn local_sub_removed(
        &self,
        account: &Arc<str>,
        subject: &ByteStr,
        queue: Option<&ByteStr>,
    ) {
        if !self.importable(subject, queue.map(|q| &**q)) {
            return;
        }
        let mut st = self.state.lock();
        let mut line = BytesMut::new();
        st.interest.remove(account, subject, queue, &mut line);
        broadcast(&st, &line);
    }

    /// Registers an established route and tells it this server's whole interest (under the
    /// same lock as interest changes, so it misses none and gets none twice). Of two routes
    /// between two Sluice nodes, both keep the one dialled by the server with the lower id;
    /// the other is refused (or, if it is the one to keep, replaces the old one, which is
    /// closed). With a nats-server peer, nats-server 2.9's rule: the first registered stays.
    pub(crate) fn register(&self, link: Arc<Link>) -> Result<(), Refused> {
        let mut st = self.state.lock();
        if let Some(old) = st.routes.get(&link.remote_id) {
            if !link.sluice_peer {
                // nats-server 2.9's rule: the route registered first stays, the new one is
                // closed, and the one kept is dialled again if it closes.
                old.retry.store(true, Ordering::Relaxed);
                return Err(Refused::Duplicate);
            }
            // Which server dialled a route: this one, or the other.
            let dialler = |l: &Link| -> String {
                if l.solicited {
                    self.server_id.clone()
                } else {
                    l.remote_id.clone()
                }
            };
            let (old_by, new_by) = (dialler(old), dialler(&link));
            tracing::debug!(
                server = %link.remote_name,
                %old_by,
                old_seq = old.dial_seq,
                %new_by,
                new_seq = link.dial_seq,
                "two routes to one server"
            );
            if old_by < new_by || (old_by == new_by && old.dial_seq > link.dial_seq) {
                return Err(Refused::Duplicate);
            }
            // Dialled by the lower id, or by the same server later (a second dial, or a
            // reconnect the old route has not noticed yet): the new one stays.
            info!(server = %link.remote_name, "replacing the route to a server");
            old.handle.out.cancel.cancel();
        }
        let mut dump = BytesMut::new();
        st.interest.all(&mut dump);
        if !dump.is_empty() {
            link.handle.out.push_now(|b| b.extend_from_slice(&dump));
        }
        st.dialling.remove(&link.remote_id);
        if !link.solicited {
            // Gossip, as nats-server: the servers already routed to learn of the new one,
            // and dial it if they have no route to it yet.
            let mut about = BytesMut::new();
            gossip_info(&link, &mut about);
            broadcast(&st, &about);
        }
        st.routes.insert(link.remote_id.clone(), link);
        drop(st);
        self.urls_changed();
        Ok(())
    }

    /// Forgets a closed route (if it is still the registered one); true if it was.
    pub(crate) fn deregister(&self, link: &Arc<Link>) -> bool {
        let mut st = self.state.lock();
        if st
            .routes
            .get(&link.remote_id)
            .is_some_and(|l| Arc::ptr_eq(l, link))
        {
            st.routes.remove(&link.remote_id);
            drop(st);
            self.urls_changed();
            return true;
        }
        false
    }

    /// True if a route to server `id` is established (or it is this server).
    pub(crate) fn routed_to(&self, id: &str) -> bool {
        id == self.server_id || self.state.lock().routes.contains_key(id)
    }

    /// The id of the server routed to whose route URL is `host_port`, if any.
    pub(crate) fn routed_to_url(&self, host_port: &str) -> Option<String> {
        let st = self.state.lock();
        st.routes
            .values()
            .find(|l| host_port_of(&l.url).as_deref() == Some(host_port))
            .map(|l| l.remote_id.clone())
    }

    /// Marks server `id` as being dialled because gossip named it; false if it is routed to,
    /// this server, or already being dialled.
    pub(crate) fn start_dialling(&self, id: &str) -> bool {
        let mut st = self.state.lock();
        if id == self.server_id || st.routes.contains_key(id) {
            return false;
        }
        st.dialling.insert(id.to_owned())
    }

    pub(crate) fn stop_dialling(&self, id: &str) {
        self.state.lock().dialling.remove(id);
    }

    /// The established routes.
    pub(crate) fn links(&self) -> Vec<Arc<Link>> {
        let mut v: Vec<_> = self.state.lock().routes.values().cloned().collect();
        v.sort_by(|a, b| a.remote_name.cmp(&b.remote_name));
        v
    }

    /// The client URLs the other servers announced, sorted, without duplicates.
    pub(crate) fn peer_client_urls(&self) -> Vec<String> {
        let st = self.state.lock();
        let mut urls: BTreeSet<String> = BTreeSet::new();
        for l in st.routes.values() {
            urls.extend(l.client_urls.lock().iter().cloned());
        }
        urls.into_iter().collect()
    }

    /// The client URLs of the cluster may have changed: clients get a new INFO if they did.
    pub(crate) fn urls_changed(&self) {
        self.urls_notify.notify_one();
    }
}

/// Sends `line` to every established route.
fn broadcast(st: &State, line: &[u8]) {
    if line.is_empty() {
        return;
    }
    for l in st.routes.values() {
        l.handle.out.push_now(|b| b.extend_from_slice(line));
    }
}

/// The INFO that tells other servers about `link`'s server (its id and route URL), so they
/// dial it.
fn gossip_info(link: &Link, out: &mut BytesMut) {
    let info = RouteInfo {
        server_id: link.remote_id.clone(),
        server_name: link.remote_name.clone(),
        ip: link.url.clone(),
        connect_urls: Some(link.client_urls.lock().clone()),
        ..RouteInfo::default()
    };
    sluice_protocol::route::RouteOp::Info(Box::new(info)).encode(out);
}

/// A permission list as route INFO carries it.
fn route_permission(p: &crate::SubjectPermission) -> sluice_protocol::route::SubjectPermission {
    let list = |l: &[String]| (!l.is_empty()).then(|| l.to_vec());
    sluice_protocol::route::SubjectPermission {
        allow: list(&p.allow),
        deny: list(&p.deny),
    }
}

/// `host:port` of `nats-route://[user@]host:port/`.
pub(crate) fn host_port_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hp = rest.trim_end_matches('/');
    (!hp.is_empty()).then(|| hp.to_owned())
}

/// True for a listen host meaning every interface.
pub(crate) fn unspecified(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::" | "[::]")
}

/// A cluster name for a server given none (nats-server draws one likewise).
fn random_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
