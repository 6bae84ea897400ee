//! State every connection shares: config, the subscription registry, INFO, counters.

use crate::client::ClientHandle;
use crate::config::{Auth, ServerConfig};
use crate::sub::{Owner, SubRef};
use crate::{NATS_COMPAT_VERSION, SLUICE_VERSION};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use sluice_protocol::{Limits, ServerInfo};
use sluice_router::Sublist;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct Shared {
    /// The configuration the server started with (`config.auth` is the initial auth: the
    /// current one is [`Shared::auth`]).
    pub(crate) config: ServerConfig,
    /// The authorization in force: swapped whole by [`Shared::reload_auth`].
    auth: RwLock<Arc<Auth>>,
    auth_required: AtomicBool,
    /// Every open client connection, for telling them the authorization changed.
    connections: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub(crate) limits: Limits,
    pub(crate) sublist: Sublist<SubRef>,
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
    pub(crate) jetstream_monitor: RwLock<Option<crate::monitor::JsRegistration>>,
    /// Cancelled to enter lame-duck mode (see `Server::run`).
    pub(crate) lame_duck: tokio_util::sync::CancellationToken,
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
            tls_required: config.tls.is_some(),
            ..ServerInfo::default()
        };
        if config.tls.as_ref().is_some_and(|t| t.verify) {
            // As nats-server with --tlsverify.
            info.extra.insert("tls_verify".into(), true.into());
        }
        Shared {
            auth: RwLock::new(Arc::new(config.auth.clone())),
            auth_required: AtomicBool::new(config.auth != Auth::None),
            connections: Mutex::new(HashMap::new()),
            limits: Limits {
                max_control_line: config.max_control_line,
                max_payload: config.max_payload,
            },
            config,
            sublist: Sublist::new(),
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

    pub(crate) fn register(&self, client: &Arc<ClientHandle>) {
        self.connections.lock().insert(client.id, client.clone());
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.connections.lock().remove(&id);
    }

    /// The INFO line for a new client, with its id and address filled in.
    pub(crate) fn info_for(&self, cid: u64, peer: SocketAddr) -> Vec<u8> {
        let mut info = self.info.clone();
        info.client_id = Some(cid);
        info.auth_required = self.auth_required();
        info.client_ip = Some(peer.ip().to_string());
        let mut line = b"INFO ".to_vec();
        line.extend_from_slice(&serde_json::to_vec(&info).expect("INFO serializes"));
        // nats-server writes a space before the CRLF; so do we, byte for byte.
        line.extend_from_slice(b" \r\n");
        line
    }

    /// The INFO sent to every client on entering lame-duck mode: the server's INFO with
    /// `ldm: true` and no client fields (as nats-server's async INFO).
    pub(crate) fn ldm_info(&self) -> Vec<u8> {
        let mut info = self.info.clone();
        info.auth_required = self.auth_required();
        info.ldm = true;
        let mut line = b"INFO ".to_vec();
        line.extend_from_slice(&serde_json::to_vec(&info).expect("INFO serializes"));
        line.extend_from_slice(b" \r\n");
        line
    }

    /// Every open client connection.
    pub(crate) fn connections(&self) -> Vec<Arc<ClientHandle>> {
        self.connections.lock().values().cloned().collect()
    }

    /// Reserves a connection slot and an id, or `None` at max_connections.
    pub(crate) fn client_opened(&self) -> Option<u64> {
        let n = self.clients.fetch_add(1, Ordering::AcqRel);
        if n >= self.config.max_connections {
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
        self.sublist.remove(&sub.subject, sub.queue.as_deref(), sub);
    }
}
