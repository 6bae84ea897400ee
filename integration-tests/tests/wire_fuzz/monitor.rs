//! Reading the server's HTTP monitoring endpoint: where it listens (from the broker's startup
//! log), a minimal HTTP/1.0 GET of a JSON document, and the /varz `connections` and
//! `subscriptions` counts that the test compares with the healthy clients' baseline.

use integration_tests::Broker;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The monitoring address the broker logged at startup.
pub fn monitor_addr(b: &Broker) -> SocketAddr {
    const MARK: &str = "Starting http monitor on ";
    b.startup_lines()
        .iter()
        .find_map(|l| {
            let at = l.find(MARK)? + MARK.len();
            let port: u16 = l[at..].trim().rsplit(':').next()?.parse().ok()?;
            Some(SocketAddr::from(([127, 0, 0, 1], port)))
        })
        .expect("the broker logged its monitoring address")
}

/// GET `path` from the monitor, as JSON.
fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).expect("connect to the monitor");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read response");
    let (_, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// /varz `connections` and `subscriptions`.
pub fn counts(monitor: SocketAddr) -> (u64, u64) {
    let v = get_json(monitor, "/varz");
    (
        v["connections"].as_u64().expect("varz connections"),
        v["subscriptions"].as_u64().expect("varz subscriptions"),
    )
}
