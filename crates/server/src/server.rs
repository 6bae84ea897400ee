//! The listener: binds, accepts, and runs connections until shutdown.

use crate::client;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::shared::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// How long shutdown waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A bound server, ready to run.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
}

impl Server {
    /// Binds the listener (port 0 picks a free port).
    pub async fn bind(config: ServerConfig) -> std::io::Result<Server> {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Server {
            shared: Arc::new(Shared::new(config, port)),
            listener,
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

    /// This server's id, as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.shared.server_id
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, flushes and closes every
    /// connection, and returns.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let tracker = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
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
                    let cancel = shutdown.child_token();
                    tracker.spawn(client::run(shared, stream, peer, id, cancel));
                }
                None => {
                    let id = self.shared.next_id();
                    warn!(cid = id, %peer, "maximum connections exceeded, refusing");
                    tracker.spawn(refuse(self.shared.clone(), stream, peer, id));
                }
            }
        }
        info!("shutting down: no new connections, flushing and closing clients");
        drop(self.listener);
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
        }
        debug!("all connections closed");
        Ok(())
    }
}

/// Tells a client over max_connections why, then closes.
async fn refuse(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr, id: u64) {
    let mut out = shared.info_for(id, peer);
    let mut err = bytes::BytesMut::new();
    sluice_protocol::encode_err(&mut err, &ServerError::MaxConnections.to_string());
    out.extend_from_slice(&err);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&out).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
