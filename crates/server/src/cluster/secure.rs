//! TLS on routes (`cluster { tls {} }`), as nats-server 2.9.10 does it: the handshake comes
//! first, before either side says anything, and both sides present a certificate that the
//! other verifies against the cluster's CA (nats-server forces verification for routes). The
//! dialling side checks the other's certificate against the host of the route URL.

use crate::config::{route_client_config, server_config, TlsConfig};
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What a route needs for TLS, built once from the cluster's `tls` block.
pub(crate) struct RouteTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    /// How long a handshake may take.
    pub(crate) timeout: Duration,
}

/// A route's stream: plain TCP, or TLS over it (either side).
pub(crate) enum RouteStream {
    Plain(TcpStream),
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl RouteTls {
    /// Reads the certificates and keys; says what is wrong if they cannot be used.
    pub(crate) fn new(cfg: &TlsConfig) -> Result<RouteTls, String> {
        let mut verified = cfg.clone();
        verified.verify = true;
        Ok(RouteTls {
            acceptor: TlsAcceptor::from(server_config(&verified)?),
            connector: TlsConnector::from(route_client_config(cfg)?),
            timeout: cfg.timeout,
        })
    }

    /// The accepting side's handshake.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> std::io::Result<RouteStream> {
        let tls = tokio::time::timeout(self.timeout, self.acceptor.accept(tcp))
            .await
            .map_err(|_| std::io::Error::other("TLS handshake timeout"))??;
        Ok(RouteStream::Server(Box::new(tls)))
    }

    /// The dialling side's handshake; `host` is the route URL's host.
    pub(crate) async fn connect(&self, host: &str, tcp: TcpStream) -> std::io::Result<RouteStream> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::other(format!("route host {host:?}: {e}")))?;
        let tls = tokio::time::timeout(self.timeout, self.connector.connect(name, tcp))
            .await
            .map_err(|_| std::io::Error::other("TLS handshake timeout"))??;
        Ok(RouteStream::Client(Box::new(tls)))
    }
}
