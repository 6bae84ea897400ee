//! TLS: INFO in plaintext with `tls_required`, then the client's handshake; a plaintext
//! client is refused with `-ERR 'Secure Connection - TLS Required'`; `verify` requires a
//! client certificate signed by the CA. Certificates are made at test time with rcgen.

mod common;

use common::{read_until, start};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sluice_server::{ServerConfig, TlsConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files
/// in a fresh directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("sluice-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sluice test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        for (who, names) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ),
            ("client", vec!["client".to_owned()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca, &ca_key)
                .unwrap();
            std::fs::write(dir.join(format!("{who}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{who}-key.pem")), key.serialize_pem()).unwrap();
        }
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn server_tls(&self, verify: bool) -> TlsConfig {
        TlsConfig {
            cert_file: self.path("server.pem"),
            key_file: self.path("server-key.pem"),
            ca_file: Some(self.path("ca.pem")),
            verify,
            timeout: Duration::from_secs(2),
            map: false,
            allow_non_tls: false,
            handshake_first: sluice_server::HandshakeFirst::Off,
        }
    }

    fn connector(&self, with_cert: bool) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_cert {
            let certs = CertificateDer::pem_file_iter(self.path("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(self.path("client-key.pem")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects, reads the plaintext INFO, and returns it with the socket.
async fn plain_info(addr: SocketAddr) -> (TcpStream, serde_json::Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let seen = read_until(&mut s, Duration::from_secs(3), |t| t.ends_with("\r\n")).await;
    let json = seen
        .text
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not an INFO: {:?}", seen.text))
        .trim_end();
    (s, serde_json::from_str(json).unwrap())
}

/// Reads from any stream until `pred` holds, EOF or an error (`None` for those), bounded.
async fn read_tls<S: AsyncRead + Unpin>(s: &mut S, pred: impl Fn(&str) -> bool) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !pred(&String::from_utf8_lossy(&got)) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, text: &str) {
    s.write_all(text.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
}

#[tokio::test]
async fn tls_client_pubs_and_subs() {
    let pki = Pki::new("pubsub");
    let srv = start(ServerConfig {
        tls: Some(pki.server_tls(false)),
        ..ServerConfig::default()
    })
    .await;
    let (tcp, info) = plain_info(srv.addr).await;
    assert_eq!(info["tls_required"], true, "{info}");
    assert!(info.get("tls_verify").is_none(), "{info}");
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = pki.connector(false).connect(name, tcp).await.unwrap();
    send(
        &mut tls,
        "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n",
    )
    .await;
    let got = read_tls(&mut tls, |t| t.contains("PONG\r\n"))
        .await
        .unwrap();
    assert_eq!(got, "MSG foo 1 5\r\nhello\r\nPONG\r\n");

    // A second TLS client's messages reach the first one.
    let (tcp, _) = plain_info(srv.addr).await;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut other = pki.connector(false).connect(name, tcp).await.unwrap();
    send(&mut other, "CONNECT {\"verbose\":false}\r\n").await;
    // Larger than one TLS record, so the payload spans several.
    let big = "x".repeat(100_000);
    send(
        &mut other,
        &format!("PUB foo {}\r\n{big}\r\nPING\r\n", big.len()),
    )
    .await;
    assert_eq!(
        read_tls(&mut other, |t| t.contains("PONG\r\n"))
            .await
            .unwrap(),
        "PONG\r\n"
    );
    let want = format!("MSG foo 1 {}\r\n{big}\r\n", big.len());
    assert_eq!(
        read_tls(&mut tls, |t| t.len() >= want.len()).await.unwrap(),
        want
    );
    srv.stop().await;
}

#[tokio::test]
async fn plaintext_client_is_refused_with_an_error() {
    let pki = Pki::new("plain");
    let srv = start(ServerConfig {
        tls: Some(pki.server_tls(false)),
        ..ServerConfig::default()
    })
    .await;
    let (mut tcp, _) = plain_info(srv.addr).await;
    tcp.write_all(b"CONNECT {}\r\nPING\r\n").await.unwrap();
    let seen = read_until(&mut tcp, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "-ERR 'Secure Connection - TLS Required'\r\n");
    assert!(seen.closed);
    srv.stop().await;
}

#[tokio::test]
async fn handshake_timeout_closes_a_silent_client() {
    let pki = Pki::new("timeout");
    let mut tls = pki.server_tls(false);
    tls.timeout = Duration::from_millis(200);
    let srv = start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .await;
    let (mut tcp, _) = plain_info(srv.addr).await;
    let seen = read_until(&mut tcp, Duration::from_secs(3), |_| false).await;
    assert!(seen.closed && seen.text.is_empty(), "{:?}", seen.text);
    srv.stop().await;
}

#[tokio::test]
async fn verify_requires_a_client_certificate() {
    let pki = Pki::new("verify");
    let srv = start(ServerConfig {
        tls: Some(pki.server_tls(true)),
        ..ServerConfig::default()
    })
    .await;
    let name = || ServerName::try_from("localhost").unwrap();

    // Without a certificate: the handshake fails (under TLS 1.3 the client may only learn
    // it on its first read), and nothing is served.
    let (tcp, info) = plain_info(srv.addr).await;
    assert_eq!(info["tls_verify"], true, "{info}");
    if let Ok(mut tls) = pki.connector(false).connect(name(), tcp).await {
        let _ = tls.write_all(b"CONNECT {}\r\nPING\r\n").await;
        let _ = tls.flush().await;
        assert_eq!(read_tls(&mut tls, |t| t.contains("PONG")).await, None);
    }

    // With one signed by the CA: served.
    let (tcp, _) = plain_info(srv.addr).await;
    let mut tls = pki.connector(true).connect(name(), tcp).await.unwrap();
    send(&mut tls, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(
        read_tls(&mut tls, |t| t.contains("PONG\r\n"))
            .await
            .unwrap(),
        "PONG\r\n"
    );
    srv.stop().await;
}

#[test]
fn bad_files_are_clear_errors() {
    let pki = Pki::new("bad");
    let mut cfg = pki.server_tls(false);
    cfg.cert_file = pki.path("missing.pem");
    let err = cfg.check().unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");
    let mut cfg = pki.server_tls(false);
    cfg.key_file = pki.path("client-key.pem");
    let err = cfg.check().unwrap_err();
    assert!(err.contains("does not go with"), "{err}");
    let mut cfg = pki.server_tls(true);
    cfg.ca_file = None;
    assert!(cfg.check().unwrap_err().contains("CA"));
    assert!(pki.server_tls(true).check().is_ok());
}
