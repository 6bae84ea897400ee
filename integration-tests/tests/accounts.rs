//! Accounts from a configuration file, against both brokers with the same file: each account
//! is a subject space of its own, `no_auth_user` stands in for a client without credentials,
//! and, over a route between a Sluice node and a nats-server node, interest and messages
//! stay in their account (`RS+ A ...`, `RMSG A ...`).

use integration_tests::cluster::free_port;
use integration_tests::raw::Raw;
use integration_tests::{both, skip_without_nats_server, Broker, Kind};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a delivery that must not happen is waited for.
const QUIET: Duration = Duration::from_millis(400);

/// Users `a1`, `a2` in account A, `b` in B, `g` in the global account; `extra` appended.
fn config_text(extra: &str) -> String {
    format!(
        r#"
accounts {{
  A: {{ users: [ {{user: a1, password: a1pw}}, {{user: a2, password: a2pw}} ] }}
  B: {{ users: [ {{user: b, password: bpw}} ] }}
}}
authorization {{ users: [ {{user: g, password: gpw}} ] }}
{extra}
"#
    )
}

/// Writes `text` to a fresh config file named for `tag`.
fn write_conf(tag: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-accounts-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(kind: Kind, tag: &str, extra: &str) -> Broker {
    let conf = write_conf(&format!("{tag}-{kind:?}"), &config_text(extra));
    Broker::start(kind, &["-c", conf.to_str().unwrap()])
}

/// A client logged in as `user` (password `<user>pw`; `None`: no credentials).
#[track_caller]
fn login(addr: SocketAddr, user: Option<&str>) -> Raw {
    let creds = user
        .map(|u| format!(r#""user":"{u}","pass":"{u}pw","#))
        .unwrap_or_default();
    Raw::connected(addr, &format!(r#"{{{creds}"verbose":false}}"#))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

both!(
    fn nothing_published_in_one_account_reaches_another(kind) {
        let broker = start(kind, "iso", "");
        let mut a1 = login(broker.addr, Some("a1"));
        let mut a2 = login(broker.addr, Some("a2"));
        let mut b = login(broker.addr, Some("b"));
        let mut g = login(broker.addr, Some("g"));
        for c in [&mut a1, &mut b, &mut g] {
            c.send(b"SUB > 1\r\n");
            c.sync();
        }
        a2.send(b"PUB orders.new 6\r\nfrom-a\r\n");
        a2.sync();
        let got = text(a1.read_until(Duration::from_secs(5), |t| t.ends_with(b"from-a\r\n")));
        assert_eq!(got, "MSG orders.new 1 6\r\nfrom-a\r\n");
        assert_eq!(text(b.read_for(QUIET)), "", "B sees nothing of A");
        assert_eq!(text(g.read_for(QUIET)), "", "the global account sees nothing of A");

        b.send(b"PUB orders.new 6\r\nfrom-b\r\n");
        let own = text(b.sync());
        assert!(own.contains("from-b"), "B's own subscriber: {own:?}");
        assert_eq!(text(a1.read_for(QUIET)), "");
        assert_eq!(text(g.read_for(QUIET)), "");
    }
);

both!(
    fn a_client_without_credentials_is_the_no_auth_user(kind) {
        let broker = start(kind, "noauth", "no_auth_user: a1");
        let mut anon = login(broker.addr, None);
        let mut a2 = login(broker.addr, Some("a2"));
        let mut g = login(broker.addr, Some("g"));
        anon.send(b"SUB x 1\r\n");
        anon.sync();
        g.send(b"SUB x 1\r\n");
        g.sync();
        a2.send(b"PUB x 4\r\nin-a\r\n");
        a2.sync();
        let got = text(anon.read_until(Duration::from_secs(5), |t| t.ends_with(b"in-a\r\n")));
        assert_eq!(got, "MSG x 1 4\r\nin-a\r\n", "the anonymous client is in A");
        assert_eq!(text(g.read_for(QUIET)), "");

        // Credentials that are given are checked.
        let (mut bad, _) = Raw::connect(broker.addr);
        bad.send(b"CONNECT {\"user\":\"a1\",\"pass\":\"nope\",\"verbose\":false}\r\nPING\r\n");
        let got = text(bad.read_until(Duration::from_secs(5), |t| {
            String::from_utf8_lossy(t).contains("Authorization Violation")
        }));
        assert!(got.contains("-ERR 'Authorization Violation'"), "{got:?}");
    }
);

both!(
    fn without_no_auth_user_a_client_without_credentials_is_refused(kind) {
        let broker = start(kind, "refused", "");
        let (mut anon, info) = Raw::connect(broker.addr);
        assert_eq!(info["auth_required"], true, "{info}");
        anon.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        let got = text(anon.read_until(Duration::from_secs(5), |t| {
            String::from_utf8_lossy(t).contains("Authorization Violation")
        }));
        assert!(got.contains("-ERR 'Authorization Violation'"), "{got:?}");
        assert!(anon.is_closed(Duration::from_secs(2)));
    }
);

/// Publishes `payload` on `subject` from `from` until `to` receives it (interest crosses the
/// route asynchronously), at most 10 s; what `to` received.
fn publish_until_received(from: &mut Raw, to: &mut Raw, subject: &str, payload: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = String::new();
    while Instant::now() < deadline {
        from.send(format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()).as_bytes());
        from.sync();
        got.push_str(&text(to.read_for(Duration::from_millis(200))));
        if got.contains(payload) {
            return got;
        }
    }
    got
}

/// A Sluice node and a nats-server node routed together, both with the same accounts: a
/// subscriber in A on either receives what A publishes on the other, and nothing that B or
/// the global account publishes on the same subject.
#[test]
fn accounts_cross_a_route_between_sluice_and_nats_server() {
    if skip_without_nats_server() {
        return;
    }
    let (sp, np) = (free_port(), free_port());
    let cluster = |own: u16, other: u16| {
        format!(
            "cluster {{ name: acc, listen: 127.0.0.1:{own}, routes: [nats-route://127.0.0.1:{other}] }}"
        )
    };
    let sluice = start(Kind::Sluice, "route", &cluster(sp, np));
    let nats = start(Kind::NatsServer, "route", &cluster(np, sp));

    for (pub_at, sub_at) in [(sluice.addr, nats.addr), (nats.addr, sluice.addr)] {
        let mut a_sub = login(sub_at, Some("a1"));
        let mut b_sub = login(sub_at, Some("b"));
        a_sub.send(b"SUB t.> 1\r\n");
        a_sub.sync();
        b_sub.send(b"SUB t.> 1\r\n");
        b_sub.sync();
        let mut a_pub = login(pub_at, Some("a2"));
        let got = publish_until_received(&mut a_pub, &mut a_sub, "t.x", "in-a");
        assert!(
            got.contains("MSG t.x 1 4\r\nin-a\r\n"),
            "A across the route: {got:?}"
        );
        assert_eq!(text(b_sub.read_for(QUIET)), "", "B hears nothing of A");

        for user in ["b", "g"] {
            let mut other = login(pub_at, Some(user));
            other.send(b"PUB t.x 5\r\nother\r\n");
            other.sync();
        }
        let got = text(b_sub.read_until(Duration::from_secs(5), |t| {
            String::from_utf8_lossy(t).contains("other")
        }));
        assert!(
            got.contains("other"),
            "B's publish reaches B's subscriber: {got:?}"
        );
        assert_eq!(
            text(a_sub.read_for(QUIET)),
            "",
            "A hears nothing of B or $G"
        );
    }
}

/// `$JS.API` request `subject` as `user` (a fresh connection): the JSON answer.
fn js_request(addr: SocketAddr, user: &str, subject: &str, body: &str) -> serde_json::Value {
    let mut c = login(addr, Some(user));
    c.send(format!("SUB _r 1\r\nPUB {subject} _r {}\r\n{body}\r\n", body.len()).as_bytes());
    let got = text(c.read_until(Duration::from_secs(5), |t| {
        t.ends_with(b"}\r\n") && t.starts_with(b"MSG")
    }));
    let json = got.split("\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{subject}: {e}: {got:?}"))
}

both!(
    /// An account without JetStream gets nats-server's 503 10039 for every API request, in
    /// the response type of the request.
    fn jetstream_is_not_enabled_for_an_account(kind) {
        let store = std::env::temp_dir().join(format!(
            "sluice-accounts-js-{kind:?}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&store);
        let broker = start(
            kind,
            "js",
            &format!("jetstream {{ store_dir: {:?} }}", store.display().to_string()),
        );
        let cases = [
            ("$JS.API.INFO", "", "account_info_response"),
            (
                "$JS.API.STREAM.CREATE.S",
                r#"{"name":"S","subjects":["s"]}"#,
                "stream_create_response",
            ),
            ("$JS.API.STREAM.NAMES", "", "stream_names_response"),
        ];
        // With accounts configured, `$G` (user g) has no JetStream either (nats-server's rule).
        for (user, (subject, body, kind_of)) in ["a1", "g"]
            .into_iter()
            .flat_map(|u| cases.iter().map(move |c| (u, *c)))
        {
            let got = js_request(broker.addr, user, subject, body);
            assert_eq!(
                got["type"],
                format!("io.nats.jetstream.api.v1.{kind_of}"),
                "{got}"
            );
            assert_eq!(got["error"]["err_code"], 10039, "{subject}: {got}");
            assert_eq!(got["error"]["code"], 503, "{got}");
            assert_eq!(
                got["error"]["description"],
                "JetStream not enabled for account",
                "{got}"
            );
        }
        let _ = std::fs::remove_dir_all(&store);
    }
);

/// The next MSG `c` receives on a subject starting with `prefix` (5 s) whose JSON body
/// `wanted` takes.
fn next_event(
    c: &mut Raw,
    prefix: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Some(line) = c.read_line(Duration::from_millis(200)) else {
            continue;
        };
        if line.starts_with("MSG ") {
            let body = c.read_line(Duration::from_secs(2)).unwrap_or_default();
            if line
                .split(' ')
                .nth(1)
                .is_some_and(|s| s.starts_with(prefix))
            {
                let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
                if wanted(&v) {
                    return v;
                }
            }
        } else if line == "PING" {
            c.send(b"PONG\r\n");
        }
    }
    panic!("no event on {prefix}");
}

both!(
    /// The system account sees connect and disconnect advisories of every account and answers
    /// `$SYS.REQ.SERVER.PING` with the server's statistics; other accounts see none of it.
    fn the_system_account_sees_the_servers_events(kind) {
        let conf = write_conf(
            &format!("sys-{kind:?}"),
            "accounts {\n  A: { users: [ {user: a1, password: a1pw}, {user: a2, password: a2pw} ] }\n  \
             SYS: { users: [ {user: s, password: spw} ] }\n}\nsystem_account: SYS\n",
        );
        let broker = Broker::start(kind, &["-c", conf.to_str().unwrap()]);
        let mut s = login(broker.addr, Some("s"));
        s.send(b"SUB $SYS.ACCOUNT.*.CONNECT 1\r\nSUB $SYS.ACCOUNT.*.DISCONNECT 2\r\n");
        s.sync();
        let mut a_spy = login(broker.addr, Some("a2"));
        a_spy.send(b"SUB $SYS.> 1\r\n");
        a_spy.sync();

        let (mut a1, info) = Raw::connect(broker.addr);
        a1.send(b"CONNECT {\"user\":\"a1\",\"pass\":\"a1pw\",\"name\":\"evt\",\"verbose\":false}\r\nPUB x 2\r\nhi\r\nPING\r\n");
        a1.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
        let evt = |v: &serde_json::Value| v["client"]["name"] == "evt";
        let connect = next_event(&mut s, "$SYS.ACCOUNT.A.CONNECT", evt);
        assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect", "{connect}");
        assert_eq!(connect["client"]["acc"], "A", "{connect}");
        assert_eq!(connect["client"]["name"], "evt", "{connect}");
        assert_eq!(connect["client"]["user"], "a1", "{connect}");
        assert_eq!(connect["server"]["id"], info["server_id"], "{connect}");
        drop(a1);
        let gone = next_event(&mut s, "$SYS.ACCOUNT.A.DISCONNECT", evt);
        assert_eq!(gone["type"], "io.nats.server.advisory.v1.client_disconnect", "{gone}");
        assert_eq!(gone["client"]["name"], "evt", "{gone}");
        assert_eq!(gone["reason"], "Client Closed", "{gone}");
        assert_eq!(gone["sent"]["msgs"], 1, "what the client published: {gone}");
        assert_eq!(gone["sent"]["bytes"], 2, "{gone}");

        s.send(b"SUB _ping 9\r\nPUB $SYS.REQ.SERVER.PING _ping 0\r\n\r\n");
        let stats = next_event(&mut s, "_ping", |_| true);
        assert_eq!(stats["server"]["id"], info["server_id"], "{stats}");
        assert!(stats["statsz"]["connections"].as_u64().unwrap() >= 2, "{stats}");
        assert!(stats["statsz"]["mem"].as_u64().unwrap() > 0, "{stats}");

        let seen = text(a_spy.read_for(QUIET));
        assert!(!seen.contains("$SYS"), "account A sees no system events: {seen:?}");
    }
);

both!(
    /// A user listed without a password logs in with its name and no password (or an empty
    /// one); any other password is refused.
    fn a_user_without_a_password_logs_in_without_one(kind) {
        let conf = write_conf(
            &format!("nopass-{kind:?}"),
            "accounts { A: { users: [ {user: foo} ] } }\n",
        );
        let broker = Broker::start(kind, &["-c", conf.to_str().unwrap()]);
        for (connect, ok) in [
            (r#"{"user":"foo","verbose":false}"#, true),
            (r#"{"user":"foo","pass":"","verbose":false}"#, true),
            (r#"{"user":"foo","pass":"x","verbose":false}"#, false),
        ] {
            let (mut c, _) = Raw::connect(broker.addr);
            c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
            let got = text(c.read_until(Duration::from_secs(5), |t| {
                let t = String::from_utf8_lossy(t);
                t.contains("PONG") || t.contains("-ERR")
            }));
            if ok {
                assert_eq!(got, "PONG\r\n", "{connect}");
            } else {
                assert!(got.contains("-ERR 'Authorization Violation'"), "{connect}: {got}");
            }
        }
    }
);
