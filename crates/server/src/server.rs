//! The listener: binds, accepts, and runs connections until shutdown.

use crate::client;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::handle::ASYNC_INFO;
use crate::shared::Shared;
use crate::tls;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The listen backlog asked for; the kernel caps it at `net.core.somaxconn` (4096 on Linux
/// since 5.4), which is what nats-server gets. The standard library's 128 (tokio's too)
/// overflows under a burst of connections: their SYNs are dropped and each waits a second
/// for its retry.
const LISTEN_BACKLOG: u32 = 65_535;

/// A bound server, ready to run.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// The cluster listener, when a cluster is configured.
    cluster_listener: Option<TcpListener>,
    /// `Some` when clients must use TLS.
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// Binds the listener (port 0 picks a free port). A TLS configuration that cannot be
    /// loaded is an `InvalidInput` error saying why (see [`crate::TlsConfig::check`]).
    pub async fn bind(config: ServerConfig) -> std::io::Result<Server> {
        let tls = match &config.tls {
            Some(cfg) => Some(TlsAcceptor::from(
                crate::config::server_config(cfg)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
            )),
            None => None,
        };
        crate::imports::check_accounts(&config.accounts)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = listen(&config.host, config.port).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(config, port));
        crate::events::install(&shared);
        crate::imports::install(&shared);
        let cluster_listener = match &shared.cluster {
            Some(cluster) => Some(crate::cluster::bind_listener(cluster).await?),
            None => None,
        };
        Ok(Server {
            shared,
            listener,
            cluster_listener,
            tls,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// A handle for in-process clients (the stream layer attaches through it).
    pub fn handle(&self) -> crate::ServerHandle {
        crate::ServerHandle::new(self.shared.clone())
    }

    /// Replaces the authorization at runtime: see [`crate::ServerHandle::reload_auth`].
    pub fn reload_auth(&self, auth: crate::Auth) {
        self.shared.reload_auth(auth);
    }

    /// Replaces the reloadable limits at runtime: see [`crate::ServerHandle::reload_limits`].
    pub fn reload_limits(&self, config: &ServerConfig) -> Vec<String> {
        self.shared.reload_limits(config)
    }

    /// This server's id, as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.shared.server_id
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, flushes and closes every
    /// connection, and returns. Lame-duck mode ([`crate::ServerHandle::enter_lame_duck`])
    /// also ends here: once its clients are closed, `run` returns as after a shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) -> std::io::Result<()> {
        let tracker = TaskTracker::new();
        // What connections are cancelled by: a shutdown, or the end of lame-duck mode.
        crate::claim_updates::install(&self.shared, shutdown.clone());
        let conns = shutdown.child_token();
        // Routes stay up through lame-duck mode, and close with the client connections.
        let cluster_task = match (self.shared.cluster.clone(), self.cluster_listener.take()) {
            (Some(cluster), Some(listener)) => Some(tokio::spawn(crate::cluster::run(
                self.shared.clone(),
                cluster,
                listener,
                conns.clone(),
            ))),
            _ => None,
        };
        let ldm = self.shared.lame_duck.clone();
        let mut entered_lame_duck = false;
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = ldm.cancelled() => {
                    entered_lame_duck = true;
                    break;
                }
                r = self.listener.accept() => r,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            match self.shared.client_opened() {
                Some(id) => {
                    let shared = self.shared.clone();
                    let cancel = conns.child_token();
                    match &self.tls {
                        None => {
                            tracker.spawn(client::run(shared, stream, peer, id, cancel));
                        }
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tracker.spawn(tls::serve(shared, acceptor, stream, peer, id, cancel));
                        }
                    }
                }
                None => {
                    let id = self.shared.next_id();
                    warn!(cid = id, %peer, "maximum connections exceeded, refusing");
                    tracker.spawn(refuse(self.shared.clone(), stream, peer, id));
                }
            }
        }
        drop(self.listener);
        if entered_lame_duck {
            run_lame_duck(&self.shared, &shutdown).await;
        } else {
            info!("shutting down: no new connections, flushing and closing clients");
        }
        conns.cancel();
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
        }
        if let Some(task) = cluster_task {
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                warn!("some routes did not close within {SHUTDOWN_GRACE:?}");
            }
        }
        debug!("all connections closed");
        Ok(())
    }
}

/// Lame-duck mode, as nats-server: the listener is already closed; every client that
/// takes INFO updates is told `ldm: true`; after the grace period the clients are closed
/// one by one, spread over the rest of `lame_duck_duration` (at most 1 s apart). Returns
/// early if `shutdown` is cancelled meanwhile.
async fn run_lame_duck(shared: &Shared, shutdown: &CancellationToken) {
    let config = &shared.config;
    info!("Entering lame duck mode, stop accepting new clients");
    if let Some(cluster) = &shared.cluster {
        cluster.announce_lame_duck(&config.host, shared.port);
    }
    let clients = shared.connections();
    if clients.is_empty() {
        return;
    }
    let ldm = shared.ldm_info();
    for c in &clients {
        if c.flags() & ASYNC_INFO != 0 {
            c.out.push_now(|b| b.extend_from_slice(&ldm));
        }
    }
    let grace = config.lame_duck_grace_period;
    let spread = config
        .lame_duck_duration
        .checked_sub(grace)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(1));
    let interval = (spread / clients.len() as u32).min(Duration::from_secs(1));
    tokio::select! {
        _ = tokio::time::sleep(grace) => {}
        _ = shutdown.cancelled() => return,
    }
    info!("Closing existing clients");
    let last = clients.len() - 1;
    for (i, c) in clients.iter().enumerate() {
        c.out.cancel.cancel();
        if i == last {
            break;
        }
        // As nats-server: a random pause of at least half the interval.
        let pause = interval.mul_f64(rand::random::<f64>()).max(interval / 2);
        if pause.is_zero() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Tells a client over max_connections why, then closes.
async fn refuse(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr, id: u64) {
    let mut out = shared.info_for(id, peer, None);
    let mut err = bytes::BytesMut::new();
    ServerError::MaxConnections.encode(&mut err);
    out.extend_from_slice(&err);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&out).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Listens on the first address `host:port` resolves to that can be bound, as
/// `TcpListener::bind` does, but with a backlog of [`LISTEN_BACKLOG`].
async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match listen_on(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host}:{port} resolves to no address"),
        )
    }))
}

fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As TcpListener::bind: rebinding right after a restart works (not on Windows, where it
    // would allow taking over a port in use).
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
