//! TLS for client connections, the way nats-server does it: INFO goes out in plaintext with
//! `tls_required: true`, then the client starts the TLS handshake and everything after it
//! (CONNECT included) is encrypted. Certificates and keys are read with rustls's PEM reader
//! (`config.rs`, next to [`crate::TlsConfig`], so that the configuration can be checked on
//! its own); the handshake is tokio-rustls's.
//!
//! A client that sends protocol instead of a TLS ClientHello gets
//! `-ERR 'Secure Connection - TLS Required'` in plaintext and is closed (nats-server 2.9 just
//! closes it, logging a handshake error; the `-ERR` tells the person at the other end why).
//!
//! The `tls {}` block's options change that:
//! - `allow_non_tls` (nats-server's top-level key): INFO says `tls_available: true` instead
//!   of `tls_required`; the first byte the client sends decides: `0x16` (a TLS handshake
//!   record) starts TLS, anything else (or nothing within the TLS timeout, as nats-server)
//!   goes on in plaintext.
//! - `handshake_first` (nats-server 2.10): the client starts TLS at once, and INFO (with
//!   `tls_required`) goes out over TLS. With a fallback delay, a client that sends nothing
//!   within it gets the usual plaintext INFO instead (and the rules above).
//! - `verify_and_map`: after the handshake the client certificate's names are read
//!   (`cert_names.rs`) for CONNECT to match a user by (`tls_map.rs`).

use crate::auth::Credentials;
use crate::client;
use crate::config::HandshakeFirst;
use crate::error::ServerError;
use crate::shared::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The first byte of a TLS record carrying a handshake message (the ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// How a connection goes on after its first exchange.
enum Start {
    /// TLS; `info`: the INFO still to send over it (handshake first).
    Tls(Box<TlsStream<TcpStream>>, Option<Vec<u8>>),
    /// Plaintext (`allow_non_tls`); INFO was sent.
    Plain(TcpStream),
}

/// Waits for the client's first byte, within `wait` (`None`: as long as it takes).
/// `Ok(None)`: nothing came in time.
async fn first_byte(stream: &TcpStream, wait: Option<Duration>) -> std::io::Result<Option<u8>> {
    let mut first = [0u8; 1];
    let peek = stream.peek(&mut first);
    let n = match wait {
        None => peek.await?,
        Some(d) => match tokio::time::timeout(d, peek).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        },
    };
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(first[0]))
}

/// Runs one client connection with TLS configured: the exchange the module doc describes
/// (bounded by the handshake timeout), then the usual read loop over the encrypted stream,
/// or over the plain one.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let Some(cfg) = shared.config.tls.clone() else {
        shared.client_closed();
        return;
    };
    let nonce = shared.new_nonce();
    let start = async {
        let mut stream = stream;
        if cfg.handshake_first != HandshakeFirst::Off {
            let wait = match cfg.handshake_first {
                HandshakeFirst::Fallback(d) => Some(d),
                _ => None,
            };
            // Bounded by the handshake timeout around this whole block when there is no
            // fallback delay; with one, the wait is the delay.
            if first_byte(&stream, wait).await?.is_some() {
                let tls = acceptor.accept(stream).await?;
                let info = shared.info_tls_first(id, peer, nonce.as_deref());
                return Ok(Start::Tls(Box::new(tls), Some(info)));
            }
        }
        let info = shared.info_for(id, peer, nonce.as_deref());
        stream.write_all(&info).await?;
        if cfg.allow_non_tls {
            match first_byte(&stream, Some(cfg.timeout)).await? {
                Some(TLS_HANDSHAKE_RECORD) => {}
                _ => return Ok(Start::Plain(stream)),
            }
        } else if first_byte(&stream, None).await? != Some(TLS_HANDSHAKE_RECORD) {
            let mut err = bytes::BytesMut::new();
            ServerError::SecureConnectionRequired.encode(&mut err);
            stream.write_all(&err).await?;
            let _ = stream.shutdown().await;
            return Err(std::io::Error::other(
                "client sent plaintext, not a TLS handshake",
            ));
        }
        Ok(Start::Tls(Box::new(acceptor.accept(stream).await?), None))
    };
    // The fallback delay comes on top of the handshake timeout (nats-server waits for it
    // first, then gives the handshake its own deadline).
    let limit = match cfg.handshake_first {
        HandshakeFirst::Fallback(d) => cfg.timeout.saturating_add(d),
        _ => cfg.timeout,
    };
    let limit = if cfg.allow_non_tls {
        limit.saturating_add(cfg.timeout)
    } else {
        limit
    };
    let result = tokio::select! {
        r = tokio::time::timeout(limit, start) => r,
        _ = cancel.cancelled() => {
            shared.client_closed();
            return;
        }
    };
    let creds = |cert| Credentials {
        nonce: nonce.clone(),
        map_cert: cfg.map,
        cert,
        ..Credentials::default()
    };
    match result {
        Ok(Ok(Start::Tls(mut tls, info))) => {
            debug!(cid = id, %peer, "TLS handshake complete");
            let cert = if cfg.map {
                let (_, conn) = tls.get_ref();
                let names = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| crate::cert_names::parse(c));
                if names.is_none() {
                    debug!(cid = id, %peer, "client certificate's names cannot be read");
                }
                names.map(Arc::new)
            } else {
                None
            };
            if let Some(info) = info {
                if tls.write_all(&info).await.is_err() || tls.flush().await.is_err() {
                    shared.client_closed();
                    return;
                }
            }
            let (reader, writer) = tokio::io::split(*tls);
            client::run_io(shared, reader, writer, peer, id, cancel, false, creds(cert)).await;
        }
        Ok(Ok(Start::Plain(stream))) => {
            debug!(cid = id, %peer, "client went on without TLS (allow_non_tls)");
            let (reader, writer) = stream.into_split();
            client::run_io(shared, reader, writer, peer, id, cancel, false, creds(None)).await;
        }
        Ok(Err(e)) => {
            debug!(cid = id, %peer, error = %e, "TLS handshake error; closing");
            shared.client_closed();
        }
        Err(_) => {
            debug!(cid = id, %peer, "TLS handshake timeout; closing");
            shared.client_closed();
        }
    }
}
