//! TLS identities and options, against Sluice and (where nats-server 2.9.10 has them) the
//! reference server with the same configuration: `tls { verify_and_map }` (the client
//! certificate names the user: SAN email, DNS name, URI or the subject's DN), the top-level
//! `allow_non_tls` (TLS or plaintext, the client's choice), and `handshake_first` (nats-server
//! 2.10.4+, which 2.9.10 refuses as an unknown field). Clients: async-nats with a client
//! certificate, and a raw client over tokio-rustls for the exact protocol lines.
//! Certificates are made at test time with rcgen.

use integration_tests::{both_async, skip_without_nats_server, Broker, Kind};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A CA; a server certificate for 127.0.0.1/localhost; client certificates for alice (SAN
/// email), bob (subject only), carol (SAN DNS name), dave (SAN URI) and eve (an email no user
/// has), as PEM files in a fresh directory (removed on drop).
struct Pki {
    dir: PathBuf,
}

fn ia5(s: &str) -> rcgen::Ia5String {
    rcgen::Ia5String::try_from(s).unwrap()
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("sluice-tls-id-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sluice identity test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let subject = |rdns: &[(DnType, &str)]| {
            let mut dn = DistinguishedName::new();
            for (t, v) in rdns {
                dn.push(t.clone(), *v);
            }
            dn
        };
        let certs: [(&str, Vec<SanType>, DistinguishedName); 6] = [
            (
                "server",
                vec![
                    SanType::DnsName(ia5("localhost")),
                    SanType::IpAddress([127, 0, 0, 1].into()),
                ],
                subject(&[(DnType::CommonName, "server")]),
            ),
            (
                "alice",
                vec![SanType::Rfc822Name(ia5("alice@acme.test"))],
                subject(&[
                    (DnType::OrganizationName, "Acme"),
                    (DnType::OrganizationalUnitName, "dev"),
                    (DnType::CommonName, "alice"),
                ]),
            ),
            (
                "bob",
                vec![],
                subject(&[
                    (DnType::OrganizationName, "Acme"),
                    (DnType::CommonName, "bob"),
                ]),
            ),
            (
                "carol",
                vec![SanType::DnsName(ia5("carol.acme.test"))],
                subject(&[(DnType::CommonName, "carol")]),
            ),
            (
                "dave",
                vec![SanType::URI(ia5("spiffe://acme.test/dave"))],
                subject(&[(DnType::CommonName, "dave")]),
            ),
            (
                "eve",
                vec![SanType::Rfc822Name(ia5("eve@acme.test"))],
                subject(&[(DnType::CommonName, "eve")]),
            ),
        ];
        for (who, sans, dn) in certs {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.subject_alt_names = sans;
            params.distinguished_name = dn;
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{who}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{who}-key.pem")), key.serialize_pem()).unwrap();
        }
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The server's `tls { ... }` block with `extra` keys.
    fn tls_block(&self, extra: &str) -> String {
        format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  timeout: 2\n  {extra}\n}}\n",
            self.path("server.pem").display(),
            self.path("server-key.pem").display(),
            self.path("ca.pem").display()
        )
    }

    /// Starts a broker of `kind` with `conf` as its configuration file.
    fn broker(&self, kind: Kind, name: &str, conf: &str) -> Broker {
        let file = self.path(&format!("{name}-{kind:?}.conf"));
        std::fs::write(&file, conf).unwrap();
        Broker::start(kind, &["-c", file.to_str().unwrap()])
    }

    /// A rustls client trusting the CA, presenting `who`'s certificate (`None`: none).
    fn connector(&self, who: Option<&str>) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match who {
            Some(who) => {
                let certs = CertificateDer::pem_file_iter(self.path(&format!("{who}.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key =
                    PrivateKeyDer::from_pem_file(self.path(&format!("{who}-key.pem"))).unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        TlsConnector::from(Arc::new(config))
    }

    /// async-nats options: TLS with the CA, and `who`'s certificate.
    fn nats_options(&self, who: &str) -> async_nats::ConnectOptions {
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(self.path("ca.pem"))
            .add_client_certificate(
                self.path(&format!("{who}.pem")),
                self.path(&format!("{who}-key.pem")),
            )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads until `done` holds for what came, EOF, an error or 5 s; returns what came.
async fn read_until<S: AsyncRead + Unpin>(s: &mut S, done: impl Fn(&str) -> bool) -> String {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16384];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done(&String::from_utf8_lossy(&got)) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The INFO line's JSON.
fn info_json(text: &str) -> serde_json::Value {
    let line = text.lines().next().unwrap_or_default();
    let json = line
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not an INFO: {text:?}"));
    serde_json::from_str(json.trim()).unwrap()
}

/// Sends `ops` and reads until a PONG (or the connection ends: an auth error closes it).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, ops: &str) -> String {
    if s.write_all(ops.as_bytes()).await.is_err() || s.flush().await.is_err() {
        return String::new();
    }
    read_until(s, |t| t.contains("PONG\r\n")).await
}

/// Connects as `who` (plaintext INFO, then TLS), sends `connect` (a CONNECT's JSON), any
/// `more` ops and a PING; returns what the server answered over TLS.
async fn tls_session(
    pki: &Pki,
    b: &Broker,
    who: Option<&str>,
    connect: &str,
    more: &str,
) -> String {
    let mut tcp = TcpStream::connect(b.addr).await.unwrap();
    let info = read_until(&mut tcp, |t| t.ends_with("\r\n")).await;
    assert!(info.starts_with("INFO "), "{info:?}");
    let name = ServerName::try_from("localhost").unwrap();
    let Ok(mut tls) = pki.connector(who).connect(name, tcp).await else {
        return "handshake failed".into();
    };
    exchange(&mut tls, &format!("CONNECT {connect}\r\n{more}PING\r\n")).await
}

/// Waits until `sub` (of `client`) is in place at the server: async-nats may send a SUB after
/// a flush's PING, so a flush alone does not prove it. Publishes probes on `subject` from
/// `client` itself until one comes back (5 s at most).
async fn subscribed(client: &async_nats::Client, sub: &mut async_nats::Subscriber, subject: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        client
            .publish(subject.to_owned(), "probe".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(200), futures::StreamExt::next(sub));
        if let Ok(Some(_)) = got.await {
            // Let any other probes in flight arrive, and drop them.
            while let Ok(Some(_)) =
                tokio::time::timeout(Duration::from_millis(100), futures::StreamExt::next(sub))
                    .await
            {}
            return;
        }
    }
    panic!("the subscription to {subject} never came into effect");
}

const QUIET: &str = r#"{"verbose":false,"pedantic":false,"protocol":1}"#;

/// The users each client certificate names, alice's with permissions.
const MAPPED_USERS: &str = r#"authorization {
  users: [
    { user: "alice@acme.test", permissions: { publish: "alice.>", subscribe: "alice.>" } }
    { user: "CN=bob, O=Acme" }
    { user: "carol.acme.test" }
    { user: "spiffe://acme.test/dave" }
  ]
}
"#;

both_async!(
    async fn verify_and_map_names_the_user_by_email_dns_uri_or_dn(kind) {
        let pki = Pki::new(&format!("map-{kind:?}"));
        let conf = format!("{}{MAPPED_USERS}", pki.tls_block("verify_and_map: true"));
        let b = pki.broker(kind, "map", &conf);
        for who in ["alice", "bob", "carol", "dave"] {
            let got = tls_session(&pki, &b, Some(who), QUIET, "").await;
            assert!(got.ends_with("PONG\r\n"), "{who}: {got:?}");
        }
        // A certificate that names nobody; none at all.
        let got = tls_session(&pki, &b, Some("eve"), QUIET, "").await;
        assert_eq!(got, "-ERR 'Authorization Violation'\r\n");
        let got = tls_session(&pki, &b, None, QUIET, "").await;
        assert!(!got.contains("PONG"), "no certificate, yet: {got:?}");
        // The user name in CONNECT plays no part: bob's certificate is bob, who has no
        // permissions set, whatever user the CONNECT names.
        let as_alice = r#"{"verbose":false,"pedantic":false,"user":"alice@acme.test"}"#;
        let got = tls_session(&pki, &b, Some("bob"), as_alice, "PUB elsewhere 0\r\n\r\n").await;
        assert_eq!(got, "PONG\r\n");
        // But the password is checked against the mapped user's, which is none here.
        let with_pass = r#"{"verbose":false,"pedantic":false,"user":"bob","pass":"x"}"#;
        let got = tls_session(&pki, &b, Some("bob"), with_pass, "").await;
        assert_eq!(got, "-ERR 'Authorization Violation'\r\n");
        // alice gets alice's permissions.
        let got = tls_session(&pki, &b, Some("alice"), QUIET, "PUB elsewhere 0\r\n\r\n").await;
        assert_eq!(
            got,
            "-ERR 'Permissions Violation for Publish to \"elsewhere\"'\r\nPONG\r\n"
        );
        // async-nats with a client certificate: a round trip as alice.
        let alice = pki.nats_options("alice").connect(b.url()).await.expect("alice");
        let mut sub = alice.subscribe("alice.x").await.unwrap();
        subscribed(&alice, &mut sub, "alice.x").await;
        let bob = pki.nats_options("bob").connect(b.url()).await.expect("bob");
        bob.publish("alice.x", "hi".into()).await.unwrap();
        bob.flush().await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
            .await
            .expect("a message within 5 s")
            .unwrap();
        assert_eq!(&msg.payload[..], b"hi");
        let eve = pki.nats_options("eve").connect(b.url()).await;
        let err = eve.expect_err("eve is nobody");
        assert!(err.to_string().to_lowercase().contains("authorization"), "{err}");
    }
);

both_async!(
    async fn a_mapped_user_is_in_its_account(kind) {
        let pki = Pki::new(&format!("acct-{kind:?}"));
        let conf = format!(
            "{}accounts {{\n  A {{ users: [ {{ user: \"alice@acme.test\" }}, {{ user: \"carol.acme.test\" }} ] }}\n  B {{ users: [ {{ user: \"CN=bob,O=Acme\" }} ] }}\n}}\n",
            pki.tls_block("verify_and_map: true")
        );
        let b = pki.broker(kind, "acct", &conf);
        let alice = pki.nats_options("alice").connect(b.url()).await.expect("alice");
        let mut sub = alice.subscribe("x").await.unwrap();
        subscribed(&alice, &mut sub, "x").await;
        for who in ["bob", "carol"] {
            let c = pki.nats_options(who).connect(b.url()).await.expect(who);
            c.publish("x", who.to_owned().into()).await.unwrap();
            c.flush().await.unwrap();
        }
        let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
            .await
            .expect("a message within 5 s")
            .unwrap();
        assert_eq!(&msg.payload[..], b"carol", "only account A's publish reaches alice");
        let more =
            tokio::time::timeout(Duration::from_millis(300), futures::StreamExt::next(&mut sub))
                .await;
        assert!(more.is_err(), "bob (account B) reached alice: {more:?}");
    }
);

both_async!(
    async fn allow_non_tls_serves_tls_and_plaintext(kind) {
        let pki = Pki::new(&format!("nontls-{kind:?}"));
        let conf = format!("allow_non_tls: true\n{}", pki.tls_block(""));
        let b = pki.broker(kind, "nontls", &conf);
        // INFO: TLS available, not required.
        let mut tcp = TcpStream::connect(b.addr).await.unwrap();
        let info = info_json(&read_until(&mut tcp, |t| t.ends_with("\r\n")).await);
        assert_eq!(info["tls_available"], true, "{info}");
        assert_ne!(info["tls_required"], true, "{info}");
        // Plaintext goes on.
        let got = exchange(&mut tcp, &format!("CONNECT {QUIET}\r\nPING\r\n")).await;
        assert_eq!(got, "PONG\r\n");
        // So does TLS.
        let got = tls_session(&pki, &b, None, QUIET, "").await;
        assert_eq!(got, "PONG\r\n");
        // async-nats either way.
        let plain = async_nats::connect(b.url()).await.expect("plaintext client");
        let tls = async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(pki.path("ca.pem"))
            .connect(b.url())
            .await
            .expect("TLS client");
        let mut sub = plain.subscribe("y").await.unwrap();
        subscribed(&plain, &mut sub, "y").await;
        tls.publish("y", "over tls".into()).await.unwrap();
        tls.flush().await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
            .await
            .expect("a message within 5 s")
            .unwrap();
        assert_eq!(&msg.payload[..], b"over tls");
    }
);

both_async!(
    async fn allow_non_tls_with_verify_and_map_refuses_plaintext_users(kind) {
        let pki = Pki::new(&format!("nontls-map-{kind:?}"));
        let conf = format!(
            "allow_non_tls: true\n{}{MAPPED_USERS}",
            pki.tls_block("verify_and_map: true")
        );
        let b = pki.broker(kind, "nontlsmap", &conf);
        let mut tcp = TcpStream::connect(b.addr).await.unwrap();
        let info = info_json(&read_until(&mut tcp, |t| t.ends_with("\r\n")).await);
        assert_eq!(info["tls_verify"], true, "{info}");
        assert_eq!(info["auth_required"], true, "{info}");
        let connect = r#"{"verbose":false,"pedantic":false,"user":"carol.acme.test","pass":""}"#;
        let got = exchange(&mut tcp, &format!("CONNECT {connect}\r\nPING\r\n")).await;
        assert_eq!(got, "-ERR 'Authorization Violation'\r\n");
        let got = tls_session(&pki, &b, Some("carol"), QUIET, "").await;
        assert_eq!(got, "PONG\r\n");
    }
);

/// Whether `kind` refuses `conf` at startup; what it said if so (a broker that starts is
/// killed by PID and `None` returned).
fn refused(pki: &Pki, kind: Kind, name: &str, conf: &str) -> Option<String> {
    let file = pki.path(&format!("{name}-{kind:?}.conf"));
    std::fs::write(&file, conf).unwrap();
    let mut child = integration_tests::command(kind, &["-c", file.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return Some(err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn verify_cert_and_check_known_urls_is_refused_for_clients_as_nats_server_does() {
    let pki = Pki::new("known-urls");
    let conf = pki.tls_block("verify_cert_and_check_known_urls: true");
    let mut kinds = vec![Kind::Sluice];
    if !skip_without_nats_server() {
        kinds.push(Kind::NatsServer);
    }
    for kind in kinds {
        let err = refused(&pki, kind, "known", &conf).expect("refused");
        assert!(
            err.contains("verify_cert_and_check_known_urls not supported in this context"),
            "{kind:?}: {err}"
        );
    }
}

#[tokio::test]
async fn handshake_first_sends_info_over_tls() {
    let pki = Pki::new("first");
    if !skip_without_nats_server() {
        // nats-server 2.9.10 does not know the key (2.10.4 added it).
        let err = refused(
            &pki,
            Kind::NatsServer,
            "first",
            &pki.tls_block("handshake_first: true"),
        )
        .expect("nats-server 2.9.10 refuses handshake_first");
        assert!(err.contains("unknown field [\"handshake_first\"]"), "{err}");
    }
    let b = pki.broker(
        Kind::Sluice,
        "first",
        &pki.tls_block("handshake_first: true"),
    );
    // The raw way: TLS at once, then INFO (tls_required) over it.
    let tcp = TcpStream::connect(b.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = pki.connector(None).connect(name, tcp).await.unwrap();
    let info = info_json(&read_until(&mut tls, |t| t.ends_with("\r\n")).await);
    assert_eq!(info["tls_required"], true, "{info}");
    assert_eq!(
        exchange(&mut tls, &format!("CONNECT {QUIET}\r\nPING\r\n")).await,
        "PONG\r\n"
    );
    // A client waiting for a plaintext INFO gets none.
    let mut tcp = TcpStream::connect(b.addr).await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut byte)).await;
    assert!(
        waited.is_err(),
        "the server said something first: {waited:?}"
    );
    // async-nats with tls_first.
    let c = async_nats::ConnectOptions::new()
        .tls_first()
        .add_root_certificates(pki.path("ca.pem"))
        .connect(b.url())
        .await
        .expect("a tls_first client");
    c.flush().await.unwrap();
    // One that is not refused: it waits for INFO until its own timeout.
    let late = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.path("ca.pem"))
        .connection_timeout(Duration::from_secs(3))
        .connect(b.url())
        .await;
    assert!(
        late.is_err(),
        "an INFO-first client connected to a handshake_first server"
    );
}

#[tokio::test]
async fn handshake_first_with_a_fallback_delay_serves_both_kinds_of_client() {
    let pki = Pki::new("fallback");
    let b = pki.broker(
        Kind::Sluice,
        "fallback",
        &pki.tls_block("handshake_first: \"300ms\""),
    );
    let first = async_nats::ConnectOptions::new()
        .tls_first()
        .add_root_certificates(pki.path("ca.pem"))
        .connect(b.url())
        .await
        .expect("a tls_first client");
    let mut sub = first.subscribe("z").await.unwrap();
    subscribed(&first, &mut sub, "z").await;
    // A client that waits for INFO gets it after the delay, in plaintext, as without the key.
    let mut tcp = TcpStream::connect(b.addr).await.unwrap();
    let started = std::time::Instant::now();
    let info = info_json(&read_until(&mut tcp, |t| t.ends_with("\r\n")).await);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(info["tls_required"], true, "{info}");
    drop(tcp);
    let later = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(pki.path("ca.pem"))
        .connect(b.url())
        .await
        .expect("an INFO-first client");
    later.publish("z", "fell back".into()).await.unwrap();
    later.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
        .await
        .expect("a message within 5 s")
        .unwrap();
    assert_eq!(&msg.payload[..], b"fell back");
}

/// The configuration keys are refused in the cluster's tls block by name (Sluice only:
/// nats-server accepts them there).
#[test]
fn route_tls_refuses_client_only_keys() {
    let pki = Pki::new("route-keys");
    for key in ["verify_and_map: true", "handshake_first: true"] {
        let conf = format!(
            "cluster {{\n  port: -1\n  {}}}\n",
            pki.tls_block(key).replace('\n', "\n  ")
        );
        let err = refused(&pki, Kind::Sluice, "route", &conf).expect("refused");
        assert!(
            err.contains("in cluster tls is not served yet"),
            "{key}: {err}"
        );
    }
}

/// nats-py: connects over TLS (args: url, CA, client certificate and key or "-", "first" for
/// `tls_handshake_first`), subscribes to `alice.py`, publishes to it, prints `got <payload>`.
const PY_CLIENT: &str = r#"
import asyncio, ssl, sys
import nats

async def main():
    url, ca, cert, key, mode = sys.argv[1:6]
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    nc = await nats.connect(url, tls=ctx, tls_hostname="localhost",
                            tls_handshake_first=(mode == "first"),
                            allow_reconnect=False, connect_timeout=5)
    sub = await nc.subscribe("alice.py")
    await nc.flush()
    await nc.publish("alice.py", b"from python")
    msg = await sub.next_msg(timeout=5)
    print("got", msg.data.decode())
    await nc.close()

asyncio.run(main())
"#;

/// Runs [`PY_CLIENT`] against `b`; what it printed, if it succeeded.
fn nats_py(pki: &Pki, b: &Broker, who: Option<&str>, mode: &str) -> Result<String, String> {
    let (cert, key) = match who {
        Some(who) => (
            pki.path(&format!("{who}.pem")),
            pki.path(&format!("{who}-key.pem")),
        ),
        None => ("-".into(), "-".into()),
    };
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", PY_CLIENT, &format!("tls://{}", b.addr)])
        .arg(pki.path("ca.pem"))
        .args([cert, key])
        .arg(mode);
    match integration_tests::py::run_bounded(cmd, Duration::from_secs(30)) {
        (Some(status), out) if status.success() => Ok(out),
        (_, out) => Err(out),
    }
}

both_async!(
    async fn nats_py_with_a_client_certificate_is_its_mapped_user(kind) {
        if integration_tests::py::skip_without_nats_py("nats-py over verify_and_map") {
            return;
        }
        let pki = Pki::new(&format!("py-map-{kind:?}"));
        let conf = format!("{}{MAPPED_USERS}", pki.tls_block("verify_and_map: true"));
        let b = pki.broker(kind, "pymap", &conf);
        let out = nats_py(&pki, &b, Some("alice"), "info-first").expect("alice from python");
        assert!(out.contains("got from python"), "{out}");
        let out = nats_py(&pki, &b, Some("eve"), "info-first").expect_err("eve from python");
        assert!(out.to_lowercase().contains("authorization"), "{out}");
    }
);

#[test]
fn nats_py_tls_handshake_first() {
    if integration_tests::py::skip_without_nats_py("nats-py with tls_handshake_first") {
        return;
    }
    let pki = Pki::new("py-first");
    let b = pki.broker(
        Kind::Sluice,
        "pyfirst",
        &pki.tls_block("handshake_first: true"),
    );
    let out = nats_py(&pki, &b, None, "first").expect("a tls_handshake_first client");
    assert!(out.contains("got from python"), "{out}");
    let out = nats_py(&pki, &b, None, "info-first");
    assert!(out.is_err(), "an INFO-first client got through: {out:?}");
}
