//! Routes on the wire: a fake peer speaking nats-server 2.9.10's route protocol
//! (protocol-spec/routes.md) against a Sluice node's cluster port, route authorization, and
//! routes reloaded on SIGHUP. The cluster behaviour with real nodes is in cluster_core.rs.

use integration_tests::raw::Raw;
use integration_tests::{skip_without_nats_server, Broker};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// A port free right now (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The cluster port a broker logged.
fn route_port(b: &Broker) -> u16 {
    let mark = "Listening for route connections on ";
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen: Vec<String> = b.startup_lines().to_vec();
    loop {
        if let Some(line) = seen.iter().find(|l| l.contains(mark)) {
            let hp = line[line.find(mark).unwrap() + mark.len()..].trim();
            return hp.rsplit(':').next().unwrap().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no route listener logged: {seen:?}"
        );
        seen.extend(b.log_lines());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw route connection: reads what the server sends, line by line.
struct Peer {
    raw: Raw,
}

impl Peer {
    /// Dials `port` as a nats-server would: reads the server's INFO, sends CONNECT and INFO.
    fn dial(port: u16, id: &str, user_pass: Option<(&str, &str)>) -> (Peer, serde_json::Value) {
        let (raw, info) = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        let mut p = Peer { raw };
        let creds = user_pass.map_or(String::new(), |(u, pw)| {
            format!(",\"user\":\"{u}\",\"pass\":\"{pw}\"")
        });
        let connect = format!(
            "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false{creds},\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"c\",\"lnoc\":true}}\r\n"
        );
        let info_line = format!(
            "INFO {{\"server_id\":\"{id}\",\"server_name\":\"fake\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"c\",\"connect_urls\":[\"127.0.0.1:1\"],\"lnoc\":true}} \r\n"
        );
        p.raw.send(format!("{connect}{info_line}").as_bytes());
        (p, info)
    }

    /// Lines received within `wait` (until a quiet period), keepalive PINGs answered and
    /// left out.
    fn lines_for(&mut self, wait: Duration) -> Vec<String> {
        let bytes = self.raw.read_for(wait);
        let lines: Vec<String> = String::from_utf8_lossy(&bytes)
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if lines.iter().any(|l| l == "PING") {
            self.raw.send(b"PONG\r\n");
        }
        lines.into_iter().filter(|l| l != "PING").collect()
    }

    /// Reads until a line starting with `prefix` arrives (5 s); returns it with everything
    /// before it (keepalive PINGs answered and left out).
    fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.raw.read_line(Duration::from_millis(200)) {
                Some(l) if l == "PING" && prefix != "PING" => self.raw.send(b"PONG\r\n"),
                Some(l) => {
                    let done = l.starts_with(prefix);
                    got.push(l);
                    if done {
                        return got;
                    }
                }
                None if self.raw.is_closed(Duration::ZERO) => break,
                None => {}
            }
        }
        panic!("no line starting with {prefix:?}; got {got:?}");
    }
}

/// A client connected and ready (CONNECT with headers, verbose off; protocol 0, so no INFO
/// updates arrive among its messages).
fn client(addr: SocketAddr) -> Raw {
    Raw::connected(addr, r#"{"verbose":false,"headers":true}"#)
}

/// A sluice node with a cluster port, named `name`, and extra args.
fn node(name: &str, extra: &[&str]) -> Broker {
    let cluster = format!("nats://127.0.0.1:{}", free_port());
    let mut args = vec!["-n", name, "--cluster", &cluster, "--cluster_name", "c"];
    args.extend_from_slice(extra);
    Broker::sluice(&args)
}

/// What a Sluice node says on a route, in nats-server 2.9.10's words: its INFO at once,
/// then (once the peer's CONNECT and INFO are in) an `RS+` per subject and queue group its
/// clients want, weights updated as members come and go, `RS-` when the last goes, messages
/// as `RMSG`/`HMSG` with the account and the queue groups it chose, and PONG to PING.
#[test]
fn a_node_speaks_the_route_protocol_as_nats_server_does() {
    let n = node("n0", &[]);
    let port = route_port(&n);
    let mut c = client(n.addr);
    c.send(b"SUB foo 1\r\nSUB bar.> 2\r\nSUB work q1 3\r\nSUB work q1 4\r\n");
    c.sync();
    let (mut p, info) = Peer::dial(port, "NFAKEPEER", None);
    assert_eq!(info["proto"], 2, "{info}");
    assert_eq!(info["cluster"], "c", "{info}");
    assert_eq!(info["server_name"], "n0", "{info}");
    assert_eq!(info["headers"], true, "{info}");
    assert_eq!(info["port"], port, "{info}");
    let mut lines = p.lines_for(Duration::from_millis(400));
    lines.sort();
    // The system account's interest too, as nats-server announces its own (the server's
    // requests: protocol-spec/routes.md).
    let server_id = info["server_id"].as_str().unwrap();
    assert_eq!(
        lines,
        [
            "RS+ $G bar.>".to_owned(),
            "RS+ $G foo".to_owned(),
            "RS+ $G work q1 2".to_owned(),
            format!("RS+ $SYS $SYS.REQ.SERVER.{server_id}.STATSZ"),
            "RS+ $SYS $SYS.REQ.SERVER.PING".to_owned(),
            "RS+ $SYS $SYS.REQ.SERVER.PING.STATSZ".to_owned(),
        ],
        "the node's whole interest on joining"
    );
    // Interest changes as they happen.
    c.send(b"SUB work q1 5\r\nUNSUB 1\r\nSUB foo 6\r\nUNSUB 6\r\n");
    c.sync();
    let lines = p.lines_for(Duration::from_millis(300));
    assert_eq!(
        lines,
        ["RS+ $G work q1 3", "RS- $G foo", "RS+ $G foo", "RS- $G foo"]
    );
    // The peer's interest: a message for it crosses once, with the queue group named.
    p.raw
        .send(b"RS+ $G peer.*\r\nRS+ $G peer.x pq 2\r\nPING\r\n");
    assert_eq!(p.until("PONG"), ["PONG"]);
    c.send(b"PUB peer.x reply.1 5\r\nhello\r\nHPUB peer.y 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    c.sync();
    let lines = p.lines_for(Duration::from_millis(300));
    assert_eq!(
        lines,
        [
            "RMSG $G peer.x + reply.1 pq 5",
            "hello",
            "HMSG $G peer.y 12 14",
            "NATS/1.0",
            "hi"
        ]
    );
    // A message from the peer reaches the node's clients (one of the queue group it named).
    p.raw
        .send(b"RMSG $G work | q1 3\r\nabc\r\nRMSG $G bar.baz 2\r\nok\r\n");
    let got = c.read_until(Duration::from_secs(2), |b| {
        String::from_utf8_lossy(b).matches("MSG ").count() >= 2
    });
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("MSG work ").count(), 1, "{text}");
    assert!(text.contains("MSG bar.baz 2 2\r\nok\r\n"), "{text}");
    // Its interest withdrawn: nothing more crosses.
    p.raw.send(b"RS- $G peer.*\r\nRS- $G peer.x pq\r\nPING\r\n");
    p.until("PONG");
    c.send(b"PUB peer.x 1\r\nx\r\n");
    c.sync();
    assert!(p.lines_for(Duration::from_millis(300)).is_empty());
}

/// With `cluster { authorization }`, a route with the wrong password gets
/// `-ERR 'Authorization Violation'` and is closed (as nats-server); the right one joins.
#[test]
fn route_authorization_is_checked() {
    let dir = std::env::temp_dir().join(format!("sluice-route-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("n.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster {{\n  name: c\n  listen: 127.0.0.1:{}\n  authorization {{ user: ruser, password: rpass }}\n}}\n",
            free_port()
        ),
    )
    .unwrap();
    let n = Broker::sluice(&["-c", conf.to_str().unwrap()]);
    let port = route_port(&n);
    let (mut bad, info) = Peer::dial(port, "NBAD", Some(("ruser", "wrong")));
    assert_eq!(info["auth_required"], true, "{info}");
    assert_eq!(bad.until("-ERR"), ["-ERR 'Authorization Violation'"]);
    assert!(bad.raw.is_closed(Duration::from_secs(2)));
    let (mut good, _) = Peer::dial(port, "NGOOD", Some(("ruser", "rpass")));
    good.raw.send(b"PING\r\n");
    assert_eq!(good.until("PONG").last().unwrap(), "PONG");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Sluice node dialling a nats-server node that requires route credentials joins with
/// the URL's user and password, and messages cross both ways.
#[test]
fn a_node_joins_a_nats_server_that_requires_route_credentials() {
    if skip_without_nats_server() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sluice-route-auth-ns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("ns.conf");
    let ns_port = free_port();
    std::fs::write(
        &conf,
        format!(
            "cluster {{\n  name: c\n  listen: 127.0.0.1:{ns_port}\n  authorization {{ user: ruser, password: rpass }}\n}}\n"
        ),
    )
    .unwrap();
    let ns = Broker::nats_server(&["-c", conf.to_str().unwrap()]);
    let route = format!("nats://ruser:rpass@127.0.0.1:{ns_port}");
    let sl = node("s1", &["--routes", &route]);
    let mut on_ns = client(ns.addr);
    let mut on_sl = client(sl.addr);
    on_sl.send(b"SUB from.ns 1\r\n");
    on_sl.sync();
    on_ns.send(b"SUB from.sl 1\r\n");
    on_ns.sync();
    // Interest crosses asynchronously: publish until a message arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while Instant::now() < deadline && !String::from_utf8_lossy(&got).contains("MSG from.ns") {
        on_ns.send(b"PUB from.ns 2\r\nhi\r\n");
        got.extend(on_sl.read_for(Duration::from_millis(100)));
    }
    assert!(String::from_utf8_lossy(&got).contains("MSG from.ns 1 2\r\nhi\r\n"));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !String::from_utf8_lossy(&got).contains("MSG from.sl") {
        on_sl.send(b"PUB from.sl 2\r\nho\r\n");
        got.extend(on_ns.read_for(Duration::from_millis(100)));
    }
    assert!(String::from_utf8_lossy(&got).contains("MSG from.sl 1 2\r\nho\r\n"));
    drop(sl);
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
}

/// True once a message published on `from` reaches a subscriber on `to` (tries for `wait`).
fn crosses(from: SocketAddr, to: SocketAddr, wait: Duration) -> bool {
    let mut sub = client(to);
    sub.send(b"SUB probe 1\r\n");
    sub.sync();
    let mut publ = client(from);
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

/// `routes` reload on SIGHUP, as nats-server's: a route added to the file is dialled, one
/// removed is closed; other cluster settings are refused on reload, naming them.
#[test]
fn routes_reload_on_sighup() {
    let n0 = node("n0", &[]);
    let p0 = route_port(&n0);
    let dir = std::env::temp_dir().join(format!("sluice-route-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("n1.conf");
    let p1 = free_port();
    let write = |routes: &str, extra: &str| {
        std::fs::write(
            &conf,
            format!(
                "server_name: n1\ncluster {{\n  name: c\n  listen: 127.0.0.1:{p1}\n  {routes}\n  {extra}\n}}\n"
            ),
        )
        .unwrap();
    };
    write("", "");
    let mut n1 = Broker::sluice(&["-c", conf.to_str().unwrap()]);
    assert!(!crosses(n0.addr, n1.addr, Duration::from_millis(500)));
    write(&format!("routes: [nats://127.0.0.1:{p0}]"), "");
    hup(&mut n1);
    assert!(crosses(n0.addr, n1.addr, Duration::from_secs(5)));
    write("", "");
    hup(&mut n1);
    let wait = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    while Instant::now() < wait && !lines.iter().any(|l: &String| l.contains("route removed")) {
        lines.extend(n1.log_lines());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reload: route removed: nats://127.0.0.1:")),
        "{lines:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !crosses(n0.addr, n1.addr, Duration::from_millis(500)),
        "the route is closed"
    );
    write("", "no_advertise: true");
    hup(&mut n1);
    let wait = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    while Instant::now() < wait
        && !lines
            .iter()
            .any(|l: &String| l.contains("Failed to reload"))
    {
        lines.extend(n1.log_lines());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cluster no_advertise") && l.contains("not served")),
        "{lines:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends SIGHUP (a reload), without waiting for anything.
fn hup(b: &mut Broker) {
    let _ = b.signal("HUP", Duration::ZERO);
}

/// The `connect_urls` a client that takes INFO updates was last told, waiting up to `wait`
/// for them to satisfy `done`.
fn told_urls(c: &mut Raw, wait: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut last = Vec::new();
    while Instant::now() < deadline {
        if let Some(line) = c.read_line(Duration::from_millis(100)) {
            if let Some(json) = line.strip_prefix("INFO ") {
                let info: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
                last = info["connect_urls"]
                    .as_array()
                    .map(|a| a.iter().map(|u| u.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default();
                if done(&last) {
                    break;
                }
            }
        }
    }
    last
}

/// Clients learn the cluster's servers (`connect_urls`, and an INFO update when one joins),
/// and when a server enters lame-duck mode the others stop offering it: its peers' clients
/// get an INFO without its URL (nats-server's LDM INFO to routes). Checked with a nats-server
/// peer too: it understands Sluice's lame-duck INFO.
#[test]
fn clients_learn_servers_and_lame_duck_takes_one_away() {
    for peer_kind in [
        integration_tests::Kind::Sluice,
        integration_tests::Kind::NatsServer,
    ] {
        if peer_kind == integration_tests::Kind::NatsServer && skip_without_nats_server() {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("sluice-ldm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("n0.conf");
        std::fs::write(
            &conf,
            format!(
                "server_name: n0\nlame_duck_duration: 5s\nlame_duck_grace_period: 4s\ncluster {{\n  name: c\n  listen: 127.0.0.1:{}\n}}\n",
                free_port()
            ),
        )
        .unwrap();
        let mut n0 = Broker::sluice(&["-c", conf.to_str().unwrap()]);
        let p0 = route_port(&n0);
        let cluster = format!("nats://127.0.0.1:{}", free_port());
        let route = format!("nats://127.0.0.1:{p0}");
        let n1 = Broker::start(
            peer_kind,
            &[
                "-n",
                "n1",
                "--cluster",
                &cluster,
                "--cluster_name",
                "c",
                "--routes",
                &route,
            ],
        );
        let url0 = n0.addr.to_string();
        let url1 = n1.addr.to_string();
        let (mut c, info) = Raw::connect(n1.addr);
        c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        let first: Vec<String> = info["connect_urls"]
            .as_array()
            .map(|a| a.iter().map(|u| u.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let urls = if first.contains(&url0) {
            first
        } else {
            told_urls(&mut c, Duration::from_secs(5), |u| u.contains(&url0))
        };
        assert!(
            urls.contains(&url0) && urls.contains(&url1),
            "{peer_kind:?}: {urls:?}"
        );
        let _ = n0.signal("USR2", Duration::ZERO);
        let urls = told_urls(&mut c, Duration::from_secs(3), |u| !u.contains(&url0));
        assert_eq!(
            urls,
            std::slice::from_ref(&url1),
            "{peer_kind:?}: n0 is in lame-duck mode"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Regression: a publisher on one node that outran the route to a subscriber on another
/// filled the route's buffer until the route was cut as a slow consumer (and everything in
/// flight lost; found by the cluster bench). The publisher is paced by the route as by a
/// local reader: every message arrives, the route stays up. A proxy slows the route, so that
/// it, not the servers, is the bottleneck.
#[test]
fn a_fast_publisher_is_paced_by_the_route_not_cut_off() {
    use std::io::{Read, Write};
    let n0 = node("n0", &[]);
    let p0 = route_port(&n0);
    // The route goes through a proxy that carries 40 MB/s; the publisher on n0 writes 96 MiB
    // at once (more than a route's 64 MiB buffer), faster than that.
    let proxy = integration_tests::proxy::Proxy::start(SocketAddr::from(([127, 0, 0, 1], p0)));
    proxy.rate(40_000_000);
    let n1 = node("n1", &["--routes", &proxy.url()]);
    assert!(crosses(n0.addr, n1.addr, Duration::from_secs(5)));
    const N: usize = 96 * 1024;
    let payload = vec![b'x'; 1024];
    let frame_len = "MSG flood 1 1024\r\n".len() + 1024 + 2;
    let reader = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(n1.addr).unwrap();
        s.write_all(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let want = N * frame_len;
        while got < want {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    got += k;
                }
            }
        }
        (got, n1)
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut publ = std::net::TcpStream::connect(n0.addr).unwrap();
    publ.write_all(b"CONNECT {\"verbose\":false}\r\n").unwrap();
    let mut batch = Vec::with_capacity(1024 * 1100);
    for i in 0..N {
        batch.extend_from_slice(b"PUB flood 1024\r\n");
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
        if i % 1024 == 1023 {
            publ.write_all(&batch).unwrap();
            batch.clear();
        }
    }
    let (got, n1) = reader.join().unwrap();
    let lines: Vec<String> = n0.log_lines().into_iter().chain(n1.log_lines()).collect();
    // Everything after the reader's PONG is the messages.
    assert!(
        got >= N * frame_len,
        "{got} bytes of {}: {lines:?}",
        N * frame_len
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("route closed") || l.contains("Slow Consumer")),
        "{lines:?}"
    );
}

/// `cluster { permissions }`, as nats-server: `import` is what this server asks others for
/// (only that interest is announced), `export` what others may ask it for (an `RS+` for
/// anything else is ignored, so no such message is sent to them).
#[test]
fn route_permissions_filter_interest_both_ways() {
    let dir = std::env::temp_dir().join(format!("sluice-route-perms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("n.conf");
    std::fs::write(
        &conf,
        format!(
            "cluster {{\n  name: c\n  listen: 127.0.0.1:{}\n  permissions {{\n    import: [\"in.>\"]\n    export: {{ allow: [\"out.>\"], deny: [\"out.secret\"] }}\n  }}\n}}\n",
            free_port()
        ),
    )
    .unwrap();
    let n = Broker::sluice(&["-c", conf.to_str().unwrap()]);
    let port = route_port(&n);
    let mut c = client(n.addr);
    c.send(b"SUB in.a 1\r\nSUB other.a 2\r\n");
    c.sync();
    let (mut p, info) = Peer::dial(port, "NPERMPEER", None);
    assert_eq!(
        info["import"]["allow"],
        serde_json::json!(["in.>"]),
        "{info}"
    );
    assert_eq!(
        info["export"]["deny"],
        serde_json::json!(["out.secret"]),
        "{info}"
    );
    assert_eq!(
        p.lines_for(Duration::from_millis(400)),
        ["RS+ $G in.a"],
        "only imported interest is announced"
    );
    p.raw
        .send(b"RS+ $G out.x\r\nRS+ $G out.secret\r\nRS+ $G elsewhere\r\nPING\r\n");
    p.until("PONG");
    c.send(b"PUB out.x 1\r\na\r\nPUB out.secret 1\r\nb\r\nPUB elsewhere 1\r\nc\r\n");
    c.sync();
    assert_eq!(
        p.lines_for(Duration::from_millis(300)),
        ["RMSG $G out.x 1", "a"],
        "only exported interest is served"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: a second route from a peer calling itself a Sluice node, with a server id
/// shorter than six bytes (or not cut at a character boundary), made the node panic while
/// logging (at debug level) which of the two routes it keeps. A peer's id is input: the
/// second route is settled, the node goes on.
#[test]
fn a_short_peer_id_on_a_second_route_is_not_a_panic() {
    let n = node("n0", &["-D"]);
    let port = route_port(&n);
    let dial = |id: &str| {
        let (raw, _) = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        let mut p = Peer { raw };
        p.raw.send(
            format!(
                "CONNECT {{\"echo\":true,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"c\"}}\r\nINFO {{\"server_id\":\"{id}\",\"server_name\":\"short\",\"version\":\"2.10.0\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"cluster\":\"c\",\"sluice_version\":\"0.1.0\",\"sluice_dial\":1}} \r\n"
            )
            .as_bytes(),
        );
        p
    };
    let mut first = dial("é");
    first.raw.send(b"PING\r\n");
    first.until("PONG");
    let mut second = dial("é");
    second.raw.send(b"PING\r\n");
    let _ = second.raw.read_for(Duration::from_millis(300));
    let lines = n.log_lines();
    assert!(
        lines.iter().any(|l| l.contains("two routes to one server")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
    // The node still serves.
    let mut c = client(n.addr);
    assert!(String::from_utf8_lossy(&c.sync()).contains("PONG"));
}

/// Regression: a client told the cluster's servers in its INFO, whose CONNECT (saying it
/// takes INFO updates) came after a server joined, never heard of that server: the update went
/// out before the client could take it. Its CONNECT now brings it the current list.
#[test]
fn a_client_connecting_while_a_server_joins_learns_of_it() {
    let n1 = node("n1", &[]);
    let p1 = route_port(&n1);
    let (mut c, info) = Raw::connect(n1.addr);
    assert_eq!(
        info["connect_urls"],
        serde_json::json!([n1.addr.to_string()])
    );
    // A second server joins before the client's CONNECT.
    let n0 = node("n0", &["--routes", &format!("nats://127.0.0.1:{p1}")]);
    assert!(crosses(n0.addr, n1.addr, Duration::from_secs(5)));
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    let urls = told_urls(&mut c, Duration::from_secs(3), |u| {
        u.contains(&n0.addr.to_string())
    });
    assert!(urls.contains(&n0.addr.to_string()), "{urls:?}");
}
