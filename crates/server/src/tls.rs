//! TLS for client connections, the way nats-server does it: INFO goes out in plaintext with
//! `tls_required: true`, then the client starts the TLS handshake and everything after it
//! (CONNECT included) is encrypted. Certificates and keys are read with rustls's PEM reader
//! (`config.rs`, next to [`crate::TlsConfig`], so that the configuration can be checked on
//! its own); the handshake is tokio-rustls's.
//!
//! A client that sends protocol instead of a TLS ClientHello gets
//! `-ERR 'Secure Connection - TLS Required'` in plaintext and is closed (nats-server 2.9 just
//! closes it, logging a handshake error; the `-ERR` tells the person at the other end why).

use crate::client;
use crate::error::ServerError;
use crate::shared::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The first byte of a TLS record carrying a handshake message (the ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Runs one client connection over TLS: plaintext INFO, the client's handshake (within
/// `timeout`), then the usual read loop over the encrypted stream.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    timeout: std::time::Duration,
    mut stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let nonce = shared.new_nonce();
    let info = shared.info_for(id, peer, nonce.as_deref());
    let handshake = async {
        stream.write_all(&info).await?;
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            let mut err = bytes::BytesMut::new();
            ServerError::SecureConnectionRequired.encode(&mut err);
            stream.write_all(&err).await?;
            let _ = stream.shutdown().await;
            return Err(std::io::Error::other(
                "client sent plaintext, not a TLS handshake",
            ));
        }
        acceptor.accept(stream).await
    };
    let result = tokio::select! {
        r = tokio::time::timeout(timeout, handshake) => r,
        _ = cancel.cancelled() => {
            shared.client_closed();
            return;
        }
    };
    match result {
        Ok(Ok(tls)) => {
            debug!(cid = id, %peer, "TLS handshake complete");
            let (reader, writer) = tokio::io::split(tls);
            client::run_io(shared, reader, writer, peer, id, cancel, false, nonce).await;
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
