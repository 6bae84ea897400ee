//! TLS on routes (`cluster { tls {} }`): Sluice nodes, and a Sluice node with a nats-server
//! 2.9.10 node, join over TLS (the handshake first, both sides verified against the CA) and
//! messages cross both ways; a route that will not do TLS does not join. Certificates are made
//! at test time with rcgen.

use integration_tests::raw::Raw;
use integration_tests::{skip_without_nats_server, Broker, Kind};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A CA and one certificate for 127.0.0.1 / localhost that every node uses, as PEM files.
fn pki(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-route-tls-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sluice route test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("node.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("node-key.pem"), key.serialize_pem()).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a node of `kind` with a TLS cluster on `port`, dialling `routes`.
fn node(
    kind: Kind,
    pki: &std::path::Path,
    name: &str,
    port: u16,
    routes: &[u16],
    tls: bool,
) -> Broker {
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .collect();
    let tls_block = if tls {
        format!(
            "  tls {{\n    cert_file: \"{0}/node.pem\"\n    key_file: \"{0}/node-key.pem\"\n    ca_file: \"{0}/ca.pem\"\n    timeout: 2\n  }}\n",
            pki.display()
        )
    } else {
        String::new()
    };
    let conf = pki.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "server_name: {name}\ncluster {{\n  name: c\n  listen: 127.0.0.1:{port}\n  routes: [{}]\n{tls_block}}}\n",
            routes.join(", ")
        ),
    )
    .unwrap();
    Broker::start(kind, &["-c", conf.to_str().unwrap()])
}

/// True once a message published on `from` reaches a subscriber on `to` (tries for `wait`).
fn crosses(from: SocketAddr, to: SocketAddr, wait: Duration) -> bool {
    let mut sub = Raw::connected(to, r#"{"verbose":false}"#);
    sub.send(b"SUB probe 1\r\n");
    sub.sync();
    let mut publ = Raw::connected(from, r#"{"verbose":false}"#);
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        publ.send(b"PUB probe 1\r\nx\r\n");
        if String::from_utf8_lossy(&sub.read_for(Duration::from_millis(100))).contains("MSG probe")
        {
            return true;
        }
    }
    false
}

#[test]
fn sluice_nodes_route_over_tls() {
    let pki = pki("ss");
    let (p0, p1) = (free_port(), free_port());
    let n0 = node(Kind::Sluice, &pki, "n0", p0, &[], true);
    let n1 = node(Kind::Sluice, &pki, "n1", p1, &[p0], true);
    assert!(crosses(n0.addr, n1.addr, Duration::from_secs(5)));
    assert!(crosses(n1.addr, n0.addr, Duration::from_secs(5)));
    // A node that will not do TLS does not join.
    let p2 = free_port();
    let plain = node(Kind::Sluice, &pki, "n2", p2, &[p0], false);
    assert!(!crosses(plain.addr, n0.addr, Duration::from_secs(2)));
    let _ = std::fs::remove_dir_all(&pki);
}

/// Mixed: a nats-server node dials a Sluice node over TLS, and the other way round.
#[test]
fn sluice_and_nats_server_route_over_tls() {
    if skip_without_nats_server() {
        return;
    }
    let pki = pki("mixed");
    let (p0, p1, p2) = (free_port(), free_port(), free_port());
    let sl = node(Kind::Sluice, &pki, "s0", p0, &[], true);
    let ns = node(Kind::NatsServer, &pki, "ns1", p1, &[p0], true);
    assert!(
        crosses(ns.addr, sl.addr, Duration::from_secs(10)),
        "nats-server dialled sluice"
    );
    assert!(crosses(sl.addr, ns.addr, Duration::from_secs(5)));
    let sl2 = node(Kind::Sluice, &pki, "s2", p2, &[p1], true);
    assert!(
        crosses(sl2.addr, ns.addr, Duration::from_secs(10)),
        "sluice dialled nats-server"
    );
    assert!(crosses(ns.addr, sl2.addr, Duration::from_secs(5)));
    let _ = std::fs::remove_dir_all(&pki);
}
