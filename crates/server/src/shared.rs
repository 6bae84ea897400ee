//! State every connection shares: config, the subscription registry, INFO, counters.

use crate::cluster::Cluster;
use crate::config::{Auth, ServerConfig};
use crate::handle::{
    Account, ClientHandle, InternalOwner, Owner, SubRef, Subscription, GLOBAL_ACCOUNT,
    SYSTEM_ACCOUNT,
};
use crate::js_monitor::JsRegistration;
use crate::sink::InternalSink;
use crate::{NATS_COMPAT_VERSION, SLUICE_VERSION};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use sluice_protocol::ByteStr;
use sluice_protocol::{Limits, ServerInfo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The limits a configuration reload can change ([`Shared::reload_limits`]), as Relaxed
/// atomics: connections read them where they apply (the parse limits once per read batch,
/// the ping settings at each keepalive tick), never behind a lock.
pub(crate) struct LiveLimits {
    max_payload: AtomicUsize,
    max_control_line: AtomicUsize,
    max_pending: AtomicUsize,
    max_connections: AtomicUsize,
    ping_interval_ns: AtomicU64,
    max_pings_out: AtomicU32,
    auth_timeout_ns: AtomicU64,
    write_deadline_ns: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl LiveLimits {
    fn new(c: &ServerConfig) -> Self {
        LiveLimits {
            max_payload: AtomicUsize::new(c.max_payload),
            max_control_line: AtomicUsize::new(c.max_control_line),
            max_pending: AtomicUsize::new(c.max_pending),
            max_connections: AtomicUsize::new(c.max_connections),
            ping_interval_ns: AtomicU64::new(nanos(c.ping_interval)),
            max_pings_out: AtomicU32::new(c.max_pings_out),
            auth_timeout_ns: AtomicU64::new(nanos(c.auth_timeout)),
            write_deadline_ns: AtomicU64::new(nanos(c.write_deadline)),
        }
    }

    /// What the parser enforces now.
    #[inline]
    pub(crate) fn parse(&self) -> Limits {
        Limits {
            max_control_line: self.max_control_line.load(Ordering::Relaxed),
            max_payload: self.max_payload.load(Ordering::Relaxed),
        }
    }

    #[inline]
    pub(crate) fn max_payload(&self) -> usize {
        self.max_payload.load(Ordering::Relaxed)
    }

    pub(crate) fn max_control_line(&self) -> usize {
        self.max_control_line.load(Ordering::Relaxed)
    }

    pub(crate) fn max_pending(&self) -> usize {
        self.max_pending.load(Ordering::Relaxed)
    }

    pub(crate) fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Relaxed)
    }

    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_nanos(self.ping_interval_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn max_pings_out(&self) -> u32 {
        self.max_pings_out.load(Ordering::Relaxed)
    }

    pub(crate) fn auth_timeout(&self) -> Duration {
        Duration::from_nanos(self.auth_timeout_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn write_deadline(&self) -> Duration {
        Duration::from_nanos(self.write_deadline_ns.load(Ordering::Relaxed))
    }
}

pub(crate) struct Shared {
    /// The configuration the server started with (`config.auth` is the initial auth: the
    /// current one is [`Shared::auth`]).
    pub(crate) config: ServerConfig,
    /// The authorization in force: swapped whole by [`Shared::reload_auth`].
    auth: RwLock<Arc<Auth>>,
    auth_required: AtomicBool,
    /// Every open client connection, for telling them the authorization changed.
    connections: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    /// The reloadable limits in force (`config` keeps the ones the server started with).
    pub(crate) limits: LiveLimits,
    /// The global account (`$G`): every client's when no accounts are configured.
    pub(crate) global: Arc<Account>,
    /// Every account by name, the global and system ones included (fixed while the server
    /// runs).
    accounts: HashMap<Arc<str>, Arc<Account>>,
    /// The system account: where the server's events go and its requests are answered.
    pub(crate) system: Arc<Account>,
    /// Events sent so far (the `seq` of their `server` block).
    pub(crate) event_seq: AtomicU64,
    /// A client that presents no credentials is this user (`no_auth_user`).
    pub(crate) no_auth_user: Option<String>,
    pub(crate) server_id: String,
    info: ServerInfo,
    clients: AtomicUsize,
    next_cid: AtomicU64,
    /// The client port actually bound.
    pub(crate) port: u16,
    /// Monitoring: server-wide counters, start time, the monitor's address once bound, and
    /// the stream layer's stats source once it has started (see `monitor.rs`).
    pub(crate) stats: crate::stats::ServerStats,
    pub(crate) start_ns: u64,
    pub(crate) http_addr: std::sync::OnceLock<SocketAddr>,
    pub(crate) jetstream_monitor: RwLock<Option<JsRegistration>>,
    /// Cancelled to enter lame-duck mode (see `Server::run`).
    pub(crate) lame_duck: tokio_util::sync::CancellationToken,
    /// The cluster this server is part of (`cluster` configured), told of every local
    /// subscription that comes and goes.
    pub(crate) cluster: Option<Arc<Cluster>>,
}

/// A server id in nats-server's shape: 'N' and 55 base32 characters.
fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    std::iter::once('N')
        .chain((0..55).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char))
        .collect()
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, port: u16) -> Shared {
        let server_id = new_server_id();
        let mut info = ServerInfo {
            server_id: server_id.clone(),
            server_name: config
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            version: NATS_COMPAT_VERSION.to_owned(),
            proto: 1,
            go: None,
            host: config.host.clone(),
            port,
            headers: true,
            max_payload: config.max_payload as u64,
            auth_required: config.auth != Auth::None,
            jetstream: config.jetstream,
            sluice_version: Some(SLUICE_VERSION.to_owned()),
            tls_required: config.tls.as_ref().is_some_and(|t| !t.allow_non_tls),
            ..ServerInfo::default()
        };
        if let Some(tls) = &config.tls {
            if tls.verify || tls.map {
                // As nats-server with --tlsverify (or verify_and_map).
                info.extra.insert("tls_verify".into(), true.into());
            }
            if tls.allow_non_tls {
                info.extra.insert("tls_available".into(), true.into());
            }
        }
        let cluster = config.cluster.clone().map(|c| {
            Arc::new(Cluster::new(
                c,
                &server_id,
                &info.server_name,
                config.jetstream,
            ))
        });
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let mut accounts = HashMap::new();
        accounts.insert(global.name.clone(), global.clone());
        for a in &config.accounts {
            let acc = Arc::new(Account::new(&a.name));
            accounts.insert(acc.name.clone(), acc);
        }
        let system_name = config.system_account.as_deref().unwrap_or(SYSTEM_ACCOUNT);
        let system = accounts
            .entry(Arc::from(system_name))
            .or_insert_with(|| Arc::new(Account::new(system_name)))
            .clone();
        Shared {
            global,
            accounts,
            system,
            event_seq: AtomicU64::new(0),
            no_auth_user: config.no_auth_user.clone(),
            cluster,
            auth: RwLock::new(Arc::new(config.auth.clone())),
            auth_required: AtomicBool::new(config.auth != Auth::None),
            connections: Mutex::new(HashMap::new()),
            limits: LiveLimits::new(&config),
            config,
            server_id,
            info,
            clients: AtomicUsize::new(0),
            next_cid: AtomicU64::new(1),
            port,
            stats: crate::stats::ServerStats::default(),
            start_ns: crate::stats::unix_nanos(),
            http_addr: std::sync::OnceLock::new(),
            jetstream_monitor: RwLock::new(None),
            lame_duck: tokio_util::sync::CancellationToken::new(),
        }
    }

    #[inline]
    pub(crate) fn auth_required(&self) -> bool {
        self.auth_required.load(Ordering::Relaxed)
    }

    /// The authorization in force.
    pub(crate) fn auth(&self) -> Arc<Auth> {
        self.auth.read().clone()
    }

    /// Replaces the authorization: new CONNECTs use `auth` at once, and every connection
    /// re-checks its credentials and permissions against it (see `Conn::reauthorize`).
    pub(crate) fn reload_auth(&self, auth: Auth) {
        let required = auth != Auth::None;
        *self.auth.write() = Arc::new(auth);
        self.auth_required.store(required, Ordering::Relaxed);
        let connections: Vec<_> = self.connections.lock().values().cloned().collect();
        for c in connections {
            c.reauth.notify_one();
        }
    }

    /// Replaces the reloadable limits with `new`'s (its other fields are ignored) and returns
    /// what changed, as `name: old -> new`. New connections get all of them; open ones get
    /// max_payload and max_control_line at their next read, max_pending at their next push,
    /// write_deadline at their next write, ping_interval and ping_max at their next keepalive
    /// tick. max_connections applies to the next accept, the auth timeout to new connections.
    pub(crate) fn reload_limits(&self, new: &ServerConfig) -> Vec<String> {
        let l = &self.limits;
        let mut changed = Vec::new();
        let mut usize_field = |name: &str, cell: &AtomicUsize, value: usize| {
            let old = cell.swap(value, Ordering::Relaxed);
            if old != value {
                changed.push(format!("{name}: {old} -> {value}"));
            }
        };
        usize_field("max_payload", &l.max_payload, new.max_payload);
        usize_field(
            "max_control_line",
            &l.max_control_line,
            new.max_control_line,
        );
        usize_field("max_pending", &l.max_pending, new.max_pending);
        usize_field("max_connections", &l.max_connections, new.max_connections);
        let old = l.max_pings_out.swap(new.max_pings_out, Ordering::Relaxed);
        if old != new.max_pings_out {
            changed.push(format!("ping_max: {old} -> {}", new.max_pings_out));
        }
        let mut duration_field = |name: &str, cell: &AtomicU64, value: Duration| {
            let old = Duration::from_nanos(cell.swap(nanos(value), Ordering::Relaxed));
            if old != value {
                changed.push(format!("{name}: {old:?} -> {value:?}"));
            }
        };
        duration_field("ping_interval", &l.ping_interval_ns, new.ping_interval);
        duration_field(
            "authorization timeout",
            &l.auth_timeout_ns,
            new.auth_timeout,
        );
        duration_field("write_deadline", &l.write_deadline_ns, new.write_deadline);
        if !changed.is_empty() {
            let max_pending = l.max_pending();
            let write_deadline = l.write_deadline();
            for c in self.connections() {
                c.out.set_limits(max_pending, write_deadline);
            }
        }
        changed
    }

    pub(crate) fn register(&self, client: &Arc<ClientHandle>) {
        self.connections.lock().insert(client.id, client.clone());
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.connections.lock().remove(&id);
    }

    /// The client URLs of the cluster (this server's, unless it listens on every interface
    /// or `no_advertise`, and every other server's), as INFO's `connect_urls`; `None` when
    /// not clustered.
    pub(crate) fn connect_urls(&self) -> Option<Vec<String>> {
        let cluster = self.cluster.as_ref()?;
        let mut urls = Vec::new();
        if !crate::cluster::unspecified(&self.config.host) && !cluster.config.no_advertise {
            urls.push(format!("{}:{}", self.config.host, self.port));
        }
        for u in cluster.peer_client_urls() {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        Some(urls)
    }

    /// The server's INFO as it stands now (the cluster's fields, the reloadable limits and
    /// authorization filled in; no client fields), after `edit`, as an `INFO` line.
    fn info_line(&self, edit: impl FnOnce(&mut ServerInfo)) -> Vec<u8> {
        let mut info = self.info.clone();
        if let Some(cluster) = &self.cluster {
            info.extra.insert("cluster".into(), cluster.name().into());
            info.connect_urls = self.connect_urls();
        }
        info.auth_required = self.auth_required();
        info.max_payload = self.limits.max_payload() as u64;
        edit(&mut info);
        let mut line = b"INFO ".to_vec();
        line.extend_from_slice(&serde_json::to_vec(&info).expect("INFO serializes"));
        // nats-server writes a space before the CRLF; so do we, byte for byte.
        line.extend_from_slice(b" \r\n");
        line
    }

    /// The INFO sent to clients that take INFO updates when the cluster's client URLs
    /// change (as nats-server's async INFO: no client fields).
    pub(crate) fn async_info(&self) -> Vec<u8> {
        self.info_line(|_| {})
    }

    /// [`Shared::async_info`] for one client: with its own `max_payload` (operator mode: its
    /// user's, when smaller than the server's), as nats-server's per-client INFO.
    pub(crate) fn async_info_for(&self, client: &crate::handle::ClientHandle) -> Vec<u8> {
        let own = client.smaller_max_payload(self);
        self.info_line(|info| {
            if let Some(own) = own {
                info.max_payload = own as u64;
            }
        })
    }

    /// The INFO line for a new client, with its id and address filled in.
    /// The server's name (`server_name`, or its id).
    pub(crate) fn server_name(&self) -> &str {
        &self.info.server_name
    }

    pub(crate) fn info_for(&self, cid: u64, peer: SocketAddr, nonce: Option<&str>) -> Vec<u8> {
        self.info_line(|info| {
            info.client_id = Some(cid);
            info.client_ip = Some(peer.ip().to_string());
            info.nonce = nonce.map(str::to_owned);
        })
    }

    /// The INFO for a client that did the TLS handshake first: as [`Shared::info_for`], but
    /// `tls_required` whatever `allow_non_tls` says (as nats-server).
    pub(crate) fn info_tls_first(
        &self,
        cid: u64,
        peer: SocketAddr,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        self.info_line(|info| {
            info.client_id = Some(cid);
            info.client_ip = Some(peer.ip().to_string());
            info.nonce = nonce.map(str::to_owned);
            info.tls_required = true;
        })
    }

    /// A fresh nonce for a new connection's INFO when nkey users are configured (its client
    /// signs it to prove its key), as nats-server makes them: 11 random bytes, base64
    /// URL-safe without padding.
    pub(crate) fn new_nonce(&self) -> Option<String> {
        use base64::Engine;
        let nkeys = match &*self.auth() {
            Auth::Users(users) => users.iter().any(|u| u.nkey.is_some()),
            Auth::Jwt(_) => true,
            _ => false,
        };
        nkeys.then(|| {
            let bytes: [u8; 11] = rand::random();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        })
    }

    /// The INFO sent to every client on entering lame-duck mode: the server's INFO with
    /// `ldm: true` and no client fields (as nats-server's async INFO).
    pub(crate) fn ldm_info(&self) -> Vec<u8> {
        self.info_line(|info| info.ldm = true)
    }

    /// Every open client connection.
    pub(crate) fn connections(&self) -> Vec<Arc<ClientHandle>> {
        self.connections.lock().values().cloned().collect()
    }

    /// Reserves a connection slot and an id, or `None` at max_connections.
    pub(crate) fn client_opened(&self) -> Option<u64> {
        let n = self.clients.fetch_add(1, Ordering::AcqRel);
        if n >= self.limits.max_connections() {
            self.clients.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        Some(self.next_cid.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn client_closed(&self) {
        self.clients.fetch_sub(1, Ordering::AcqRel);
    }

    /// Id for a connection that is refused (so logs can still name it).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// The account named `name`, if there is one.
    pub(crate) fn account(&self, name: &str) -> Option<&Arc<Account>> {
        self.accounts.get(name)
    }

    /// Every account, sorted by name.
    pub(crate) fn accounts(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<_> = self.accounts.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Subscriptions in every account's registry.
    pub(crate) fn sub_count(&self) -> usize {
        self.accounts.values().map(|a| a.sublist.count()).sum()
    }

    /// Subscribes in-process `sink` to `subject` (in queue group `queue`, if any) in
    /// `account`, as [`Shared::insert_local_sub`] enters it.
    pub(crate) fn subscribe_internal(
        &self,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
        sink: Arc<dyn InternalSink>,
    ) -> Result<SubRef, sluice_router::RouterError> {
        let id = self.next_id();
        let owner = Owner::Internal(Arc::new(InternalOwner { id, sink }));
        let sub = Arc::new(Subscription::new(
            owner,
            account.clone(),
            ByteStr::from(id.to_string()),
            ByteStr::from(subject),
            queue.map(ByteStr::from),
        ));
        self.insert_local_sub(&sub)?;
        Ok(sub)
    }

    /// Enters a subscription of this server's own (a client's or an in-process one) in its
    /// account's registry; the cluster's routes are told of new interest.
    pub(crate) fn insert_local_sub(&self, sub: &SubRef) -> Result<(), sluice_router::RouterError> {
        self.insert_shadow(sub, 0)
    }

    /// [`Shared::insert_local_sub`] for a subscription `depth` stream imports away from its
    /// subscriber (0: the subscriber's own), with the shadows its account's stream imports
    /// need.
    pub(crate) fn insert_shadow(
        &self,
        sub: &SubRef,
        depth: u8,
    ) -> Result<(), sluice_router::RouterError> {
        sub.account
            .sublist
            .insert(&sub.subject, sub.queue.as_deref(), sub.clone())?;
        if let Some(cluster) = &self.cluster {
            cluster.local_sub_added(&sub.account.name, &sub.subject, sub.queue.as_ref());
        }
        crate::imports::add_shadows(self, sub, depth);
        Ok(())
    }

    /// Removes a subscription from the registry and from its connection's sid table.
    pub(crate) fn remove_sub(&self, sub: &SubRef) {
        if let Owner::Client(client) = &sub.owner {
            let mut subs = client.subs.lock();
            if subs
                .get(&sub.sid)
                .is_some_and(|s| std::sync::Arc::ptr_eq(s, sub))
            {
                subs.remove(&sub.sid);
            }
        }
        self.remove_local_sub(sub);
    }

    /// Removes one of this server's own subscriptions from the registry (only); the
    /// cluster's routes are told if that was the last interest of its kind.
    pub(crate) fn remove_local_sub(&self, sub: &SubRef) {
        let removed = sub
            .account
            .sublist
            .remove(&sub.subject, sub.queue.as_deref(), sub);
        if removed {
            if let Some(cluster) = &self.cluster {
                cluster.local_sub_removed(&sub.account.name, &sub.subject, sub.queue.as_ref());
            }
        }
        let shadows = std::mem::take(&mut *sub.shadows.lock());
        for shadow in &shadows {
            self.remove_local_sub(shadow);
        }
    }
}
