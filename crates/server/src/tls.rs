//! TLS for client connections, the way nats-server does it: INFO goes out in plaintext with
//! `tls_required: true`, then the client starts the TLS handshake and everything after it
//! (CONNECT included) is encrypted. Certificates and keys are read with rustls's PEM reader;
//! the handshake is tokio-rustls's.
//!
//! A client that sends protocol instead of a TLS ClientHello gets
//! `-ERR 'Secure Connection - TLS Required'` in plaintext and is closed (nats-server 2.9 just
//! closes it, logging a handshake error; the `-ERR` tells the person at the other end why).

use crate::client;
use crate::config::TlsConfig;
use crate::error::ServerError;
use crate::shared::Shared;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The first byte of a TLS record carrying a handshake message (the ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Builds the rustls server configuration `cfg` describes, or says what is wrong with it
/// (a file that cannot be read, holds no certificate or key, or a key that does not fit).
pub(crate) fn server_config(cfg: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&cfg.cert_file, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|e| {
        format!(
            "TLS: cannot read a private key from {}: {e}",
            cfg.key_file.display()
        )
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if cfg.verify {
        let Some(ca_file) = &cfg.ca_file else {
            return Err(
                "TLS: verifying client certificates needs a CA file (--tlscacert, or ca_file \
                 in the tls block)"
                    .into(),
            );
        };
        let mut roots = rustls::RootCertStore::empty();
        for ca in read_certs(ca_file, "CA certificate")? {
            roots
                .add(ca)
                .map_err(|e| format!("TLS: bad CA certificate in {}: {e}", ca_file.display()))?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "TLS: the key in {} does not go with the certificate in {}: {e}",
            cfg.key_file.display(),
            cfg.cert_file.display()
        )
    })?;
    Ok(Arc::new(config))
}

fn read_certs(path: &std::path::Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS: cannot read {what}s from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("TLS: no {what} in {}", path.display()));
    }
    Ok(certs)
}

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
    let info = shared.info_for(id, peer);
    let handshake = async {
        stream.write_all(&info).await?;
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            let mut err = bytes::BytesMut::new();
            let e = ServerError::SecureConnectionRequired;
            sluice_protocol::encode_err(&mut err, &e.to_string());
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
            client::run_io(shared, reader, writer, peer, id, cancel, false).await;
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
