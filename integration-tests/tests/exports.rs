//! Exports and imports between accounts, against both brokers with the same configuration
//! file: stream imports (with `prefix`, `to` and wildcard mapping, limited to named
//! accounts, queue groups), service imports (the request crosses with a `_R_` reply and a
//! `Nats-Request-Info` header; singleton and stream response types), and both across a route
//! between a Sluice node and a nats-server node.

use integration_tests::cluster::free_port;
use integration_tests::raw::Raw;
use integration_tests::{both, skip_without_nats_server, Broker, Kind};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a delivery that must not happen is waited for.
const QUIET: Duration = Duration::from_millis(400);

const ACCOUNTS: &str = r#"
accounts {
  A: {
    users: [ {user: a, password: apw} ]
    exports: [
      {stream: "pub.>"}
      {stream: "h.*"}
      {stream: "lim.*", accounts: [B]}
      {service: "help.>"}
      {service: "st.>", response: stream}
    ]
  }
  B: {
    users: [ {user: b, password: bpw} ]
    imports: [
      {stream: {account: A, subject: "pub.>"}, prefix: "fa"}
      {stream: {account: A, subject: "h.*"}, to: "q.*.z"}
      {stream: {account: A, subject: "lim.x"}, to: "limx"}
      {service: {account: A, subject: "help.>"}, to: "ah.>"}
      {service: {account: A, subject: "st.>"}}
    ]
  }
  C: { users: [ {user: c, password: cpw} ] }
}
"#;

fn write_conf(tag: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-exports-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(kind: Kind, tag: &str, extra: &str) -> Broker {
    let conf = write_conf(&format!("{tag}-{kind:?}"), &format!("{ACCOUNTS}\n{extra}"));
    Broker::start(kind, &["-c", conf.to_str().unwrap()])
}

/// A client logged in as `user` (password `<user>pw`) that takes headers.
#[track_caller]
fn login(addr: SocketAddr, user: &str) -> Raw {
    Raw::connected(
        addr,
        &format!(r#"{{"user":"{user}","pass":"{user}pw","verbose":false,"headers":true}}"#),
    )
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

fn wait_for(c: &mut Raw, needle: &str) -> String {
    text(c.read_until(Duration::from_secs(5), |t| {
        String::from_utf8_lossy(t).contains(needle)
    }))
}

both!(
    fn stream_imports_deliver_under_the_importers_subjects(kind) {
        let broker = start(kind, "stream", "");
        let mut a = login(broker.addr, "a");
        let mut b_all = login(broker.addr, "b");
        let mut b_narrow = login(broker.addr, "b");
        let mut c = login(broker.addr, "c");
        b_all.send(b"SUB > 1\r\n");
        b_all.sync();
        b_narrow.send(b"SUB fa.pub.* 7\r\nSUB q.*.z 8\r\n");
        b_narrow.sync();
        c.send(b"SUB > 1\r\n");
        c.sync();
        a.send(b"PUB pub.x 1\r\n1\r\nPUB h.7 1\r\n2\r\nPUB lim.x 1\r\n3\r\nPUB lim.y 1\r\n4\r\nPUB other 1\r\n5\r\nPUB pub.x.y 1\r\n6\r\n");
        a.sync();
        let got = wait_for(&mut b_all, "MSG fa.pub.x.y 1 1\r\n6\r\n");
        assert_eq!(
            got,
            "MSG fa.pub.x 1 1\r\n1\r\nMSG q.7.z 1 1\r\n2\r\nMSG limx 1 1\r\n3\r\nMSG fa.pub.x.y 1 1\r\n6\r\n",
            "B sees what it imports, under its own subjects, and nothing else"
        );
        let got = wait_for(&mut b_narrow, "MSG q.7.z 8 1\r\n2\r\n");
        assert_eq!(got, "MSG fa.pub.x 7 1\r\n1\r\nMSG q.7.z 8 1\r\n2\r\n");
        assert_eq!(text(b_narrow.read_for(QUIET)), "", "fa.pub.x.y is not fa.pub.*");
        assert_eq!(text(c.read_for(QUIET)), "", "C imports nothing");

        // Unsubscribed: the import's deliveries stop too.
        b_narrow.send(b"UNSUB 7\r\nUNSUB 8\r\n");
        b_narrow.sync();
        a.send(b"PUB pub.z 1\r\n9\r\n");
        a.sync();
        assert!(wait_for(&mut b_all, "fa.pub.z").contains("MSG fa.pub.z 1 1\r\n9\r\n"));
        assert_eq!(text(b_narrow.read_for(QUIET)), "");
    }
);

both!(
    fn a_queue_group_in_the_importer_gets_each_message_once(kind) {
        let broker = start(kind, "queue", "");
        let mut a = login(broker.addr, "a");
        let mut q1 = login(broker.addr, "b");
        let mut q2 = login(broker.addr, "b");
        q1.send(b"SUB fa.pub.> workers 1\r\n");
        q1.sync();
        q2.send(b"SUB fa.pub.> workers 1\r\n");
        q2.sync();
        for i in 0..20 {
            a.send(format!("PUB pub.{i} 1\r\nx\r\n").as_bytes());
        }
        a.sync();
        std::thread::sleep(QUIET);
        let got = text(q1.read_for(QUIET)) + &text(q2.read_for(QUIET));
        assert_eq!(got.matches("MSG fa.pub.").count(), 20, "{got}");
    }
);

/// The `HMSG` line and header block of the request a responder got, and its reply subject.
fn request_reply(got: &str) -> String {
    let line = got.lines().find(|l| l.starts_with("HMSG ")).expect(got);
    line.split(' ').nth(3).expect(line).to_owned()
}

both!(
    fn a_service_import_maps_the_request_and_brings_responses_back(kind) {
        let broker = start(kind, "service", "");
        let mut a = login(broker.addr, "a");
        let mut b = login(broker.addr, "b");
        a.send(b"SUB help.> 1\r\nSUB st.> 2\r\n");
        a.sync();
        b.send(b"SUB _INBOX.b.> 9\r\n");
        b.sync();

        // Singleton: the request crosses as help.q, one response comes back.
        b.send(b"PUB ah.q _INBOX.b.1 3\r\nreq\r\n");
        b.sync();
        let got = wait_for(&mut a, "req");
        assert!(got.starts_with("HMSG help.q 1 _R_."), "{got:?}");
        assert!(got.contains("Nats-Request-Info: {\"acc\":\"B\""), "{got:?}");
        let reply = request_reply(&got);
        a.send(format!("PUB {reply} 3\r\none\r\nPUB {reply} 3\r\ntwo\r\n").as_bytes());
        a.sync();
        let got = wait_for(&mut b, "one");
        assert_eq!(got, "MSG _INBOX.b.1 9 3\r\none\r\n");
        assert_eq!(text(b.read_for(QUIET)), "", "a singleton takes one response");

        // Stream responses: all of them come back.
        b.send(b"PUB st.a _INBOX.b.2 1\r\nx\r\n");
        b.sync();
        let got = wait_for(&mut a, "st.a");
        let reply = request_reply(&got);
        for i in 0..3 {
            a.send(format!("PUB {reply} 2\r\nc{i}\r\n").as_bytes());
        }
        a.sync();
        let got = wait_for(&mut b, "c2");
        assert_eq!(got.matches("MSG _INBOX.b.2 9 2\r\n").count(), 3, "{got:?}");

        // C imports nothing: its ah.q reaches nobody.
        let mut c = login(broker.addr, "c");
        c.send(b"PUB ah.q 3\r\nreq\r\n");
        c.sync();
        assert_eq!(text(a.read_for(QUIET)), "");
    }
);

/// The imports across a route between a Sluice node and a nats-server node with the same
/// configuration: a stream import's subscriber on either node receives what A publishes on
/// the other, and a requester on either node gets the response of a responder on the other.
#[test]
fn imports_cross_a_route_between_sluice_and_nats_server() {
    if skip_without_nats_server() {
        return;
    }
    let (sp, np) = (free_port(), free_port());
    let cluster = |own: u16, other: u16| {
        format!(
            "cluster {{ name: imp, listen: 127.0.0.1:{own}, routes: [nats-route://127.0.0.1:{other}] }}"
        )
    };
    let sluice = start(Kind::Sluice, "route", &cluster(sp, np));
    let nats = start(Kind::NatsServer, "route", &cluster(np, sp));
    for (a_at, b_at) in [(sluice.addr, nats.addr), (nats.addr, sluice.addr)] {
        // Stream: A publishes on one node, B subscribes on the other.
        let mut b_sub = login(b_at, "b");
        b_sub.send(b"SUB fa.pub.> 1\r\n");
        b_sub.sync();
        let mut a_pub = login(a_at, "a");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = String::new();
        while Instant::now() < deadline && !got.contains("crossed") {
            a_pub.send(b"PUB pub.r 7\r\ncrossed\r\n");
            a_pub.sync();
            got.push_str(&text(b_sub.read_for(Duration::from_millis(200))));
        }
        assert!(
            got.contains("MSG fa.pub.r 1 7\r\ncrossed\r\n"),
            "{a_at} -> {b_at}: {got:?}"
        );

        // Service: B requests on one node, A responds on the other.
        let mut a_svc = login(a_at, "a");
        a_svc.send(b"SUB help.> 1\r\n");
        a_svc.sync();
        let mut b_req = login(b_at, "b");
        b_req.send(b"SUB _INBOX.r.> 9\r\n");
        b_req.sync();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = String::new();
        while Instant::now() < deadline && !got.contains("HMSG help.q") {
            b_req.send(b"PUB ah.q _INBOX.r.1 3\r\nreq\r\n");
            b_req.sync();
            got.push_str(&text(a_svc.read_for(Duration::from_millis(200))));
        }
        let reply = request_reply(&got);
        a_svc.send(format!("PUB {reply} 4\r\nresp\r\n").as_bytes());
        a_svc.sync();
        let got = wait_for(&mut b_req, "resp");
        assert!(
            got.contains("MSG _INBOX.r.1 9 4\r\nresp\r\n"),
            "{b_at} requests, {a_at} responds: {got:?}"
        );
    }
}

#[test]
fn imports_that_do_not_fit_stop_the_server_with_nats_servers_words() {
    let conf = write_conf(
        "bad",
        "accounts { A: { exports: [ {stream: \"lim.*\", accounts: [B]} ] }, B: {}, C: { imports: [ {stream: {account: A, subject: \"lim.*\"}} ] } }",
    );
    let out = integration_tests::command(Kind::Sluice, &["-c", conf.to_str().unwrap()])
        .output()
        .expect("sluice runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error adding stream import \"lim.*\": stream import not authorized"),
        "{err}"
    );
}
