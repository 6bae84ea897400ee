//! Accounts: each is a subject space of its own (nothing published in one is seen in
//! another, whatever the subscriber's wildcard), users are bound to their account at
//! CONNECT, `no_auth_user` stands in for a client without credentials, and monitoring names
//! each connection's account.

mod common;

use common::*;
use sluice_server::{AccountConfig, Auth, ServerConfig, User};
use std::time::Duration;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);
/// How long a delivery that must not happen is waited for.
const QUIET: Duration = Duration::from_millis(300);

fn user(name: &str, account: Option<&str>) -> User {
    User {
        user: name.into(),
        password: format!("{name}-pw"),
        permissions: None,
        account: account.map(str::to_owned),
        nkey: None,
    }
}

/// Users `a1`, `a2` in account A, `b` in B, `g` in the global account.
fn config(no_auth_user: Option<&str>) -> ServerConfig {
    ServerConfig {
        auth: Auth::Users(vec![
            user("a1", Some("A")),
            user("a2", Some("A")),
            user("b", Some("B")),
            user("g", None),
        ]),
        accounts: vec![AccountConfig::new("A"), AccountConfig::new("B")],
        no_auth_user: no_auth_user.map(str::to_owned),
        ..ServerConfig::default()
    }
}

/// Connects as `user` (its password is `<user>-pw`; `None`: no credentials), and waits for
/// the PONG that shows the CONNECT was taken.
async fn login(srv: &Running, user: Option<&str>) -> TcpStream {
    let mut s = connect(srv.addr).await;
    let creds = user
        .map(|u| format!("\"user\":\"{u}\",\"pass\":\"{u}-pw\","))
        .unwrap_or_default();
    let line = format!("CONNECT {{{creds}\"verbose\":false}}\r\nPING\r\n");
    send(&mut s, line.as_bytes()).await;
    let seen = read_until(&mut s, WAIT, |t| {
        t.contains("PONG\r\n") || t.contains("-ERR")
    })
    .await;
    assert!(
        seen.text.contains("PONG\r\n") && !seen.text.contains("-ERR"),
        "login as {user:?}: {}",
        seen.text
    );
    s
}

/// Sends `CONNECT <connect_json>` and checks it is refused as nats-server refuses it.
async fn refused(srv: &Running, connect_json: &str) {
    let mut s = connect(srv.addr).await;
    send(
        &mut s,
        format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes(),
    )
    .await;
    let seen = read_until(&mut s, WAIT, |t| t.contains("-ERR")).await;
    assert!(
        seen.text.contains("-ERR 'Authorization Violation'"),
        "{connect_json}: {}",
        seen.text
    );
}

/// Subscribes and waits until the server has taken it.
async fn sub(s: &mut TcpStream, subject: &str, sid: u32) {
    send(s, format!("SUB {subject} {sid}\r\nPING\r\n").as_bytes()).await;
    let seen = read_until(s, WAIT, |t| t.contains("PONG\r\n")).await;
    assert!(seen.text.contains("PONG"), "{}", seen.text);
}

/// Publishes and waits until the server has taken it; what came back meanwhile (the
/// publisher's own deliveries, echoed).
async fn publish(s: &mut TcpStream, subject: &str, payload: &str) -> String {
    let line = format!("PUB {subject} {}\r\n{payload}\r\nPING\r\n", payload.len());
    send(s, line.as_bytes()).await;
    let seen = read_until(s, WAIT, |t| t.contains("PONG\r\n")).await;
    assert!(seen.text.contains("PONG"), "{}", seen.text);
    seen.text
}

/// What `s` receives within `wait` (until `want` shows up, if given).
async fn received(s: &mut TcpStream, want: Option<&str>, wait: Duration) -> String {
    read_until(s, wait, |t| want.is_some_and(|w| t.contains(w)))
        .await
        .text
}

#[tokio::test]
async fn nothing_published_in_one_account_reaches_another() {
    let srv = start(config(None)).await;
    let mut a1 = login(&srv, Some("a1")).await;
    let mut a2 = login(&srv, Some("a2")).await;
    let mut b = login(&srv, Some("b")).await;
    let mut g = login(&srv, Some("g")).await;
    // Everyone listens on everything.
    sub(&mut a1, ">", 1).await;
    sub(&mut b, ">", 1).await;
    sub(&mut g, ">", 1).await;

    publish(&mut a2, "orders.new", "from-a").await;
    let got = received(&mut a1, Some("from-a"), WAIT).await;
    assert!(
        got.contains("MSG orders.new 1 6\r\nfrom-a"),
        "a user of the same account receives it: {got:?}"
    );
    assert!(!received(&mut b, None, QUIET).await.contains("from-a"));
    assert!(!received(&mut g, None, QUIET).await.contains("from-a"));

    let echoed = publish(&mut g, "orders.new", "from-g").await;
    assert!(
        echoed.contains("from-g"),
        "the global account's own: {echoed:?}"
    );
    assert!(!received(&mut a1, None, QUIET).await.contains("from-g"));
    assert!(!received(&mut b, None, QUIET).await.contains("from-g"));
    srv.stop().await;
}

#[tokio::test]
async fn a_request_answered_only_in_its_account_gets_no_responders_elsewhere() {
    let srv = start(config(None)).await;
    let mut a1 = login(&srv, Some("a1")).await;
    let mut b = login(&srv, Some("b")).await;
    sub(&mut a1, "svc", 1).await;
    // b asks with headers and no_responders on: nobody in B answers `svc`.
    send(
        &mut b,
        b"CONNECT {\"user\":\"b\",\"pass\":\"b-pw\",\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB inbox.1 9\r\nPUB svc inbox.1 2\r\nhi\r\nPING\r\n",
    )
    .await;
    let got = received(&mut b, Some("PONG\r\n"), WAIT).await;
    assert!(
        got.contains("HMSG inbox.1 9") && got.contains("503"),
        "no responders in B: {got:?}"
    );
    assert!(!received(&mut a1, None, QUIET).await.contains("hi"));
    srv.stop().await;
}

#[tokio::test]
async fn a_client_without_credentials_is_the_no_auth_user() {
    let srv = start(config(Some("a1"))).await;
    let mut anon = login(&srv, None).await;
    let mut a2 = login(&srv, Some("a2")).await;
    let mut g = login(&srv, Some("g")).await;
    sub(&mut anon, "x", 1).await;
    sub(&mut g, "x", 1).await;
    publish(&mut a2, "x", "in-a").await;
    assert!(received(&mut anon, Some("in-a"), WAIT)
        .await
        .contains("in-a"));
    assert!(!received(&mut g, None, QUIET).await.contains("in-a"));

    // Credentials that are given are checked: a wrong password is not the no_auth_user.
    refused(&srv, r#"{"user":"a1","pass":"wrong","verbose":false}"#).await;
    srv.stop().await;
}

#[tokio::test]
async fn without_no_auth_user_a_client_without_credentials_is_refused() {
    let srv = start(config(None)).await;
    refused(&srv, r#"{"verbose":false}"#).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_client_cannot_name_another_account_in_connect() {
    let srv = start(config(None)).await;
    refused(
        &srv,
        r#"{"user":"a1","pass":"a1-pw","account":"B","verbose":false}"#,
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn monitoring_names_each_connections_account() {
    let mut cfg = config(None);
    cfg.jetstream = false;
    let srv = start(cfg).await;
    let monitor = sluice_server::Monitor::bind(&srv.handle, "127.0.0.1", 0)
        .await
        .unwrap();
    let http = monitor.local_addr();
    let t = srv.token.clone();
    let mtask = tokio::spawn(async move { monitor.run(t).await });
    let mut a1 = login(&srv, Some("a1")).await;
    let _b = login(&srv, Some("b")).await;
    sub(&mut a1, "foo.>", 1).await;
    sub(&mut a1, "bar", 2).await;

    let connz = get_json(http, "/connz").await;
    let mut accounts: Vec<String> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["account"].as_str().unwrap_or("").to_owned())
        .collect();
    accounts.sort();
    assert_eq!(accounts, ["A", "B"], "{connz}");

    let list = get_json(http, "/accountz").await;
    assert_eq!(
        list["accounts"],
        serde_json::json!(["$G", "$SYS", "A", "B"]),
        "{list}"
    );
    let a = get_json(http, "/accountz?acc=A").await;
    let d = &a["account_detail"];
    assert_eq!(d["account_name"], "A");
    assert_eq!(d["client_connections"], 1, "{a}");
    assert_eq!(d["subscriptions"], 2, "{a}");
    assert_eq!(d["is_system"], false, "{a}");
    let sys = get_json(http, "/accountz?acc=$SYS").await;
    assert_eq!(sys["account_detail"]["is_system"], true, "{sys}");
    let g = get_json(http, "/accountz?acc=$G").await;
    assert_eq!(g["account_detail"]["client_connections"], 0, "{g}");
    let none = get_json(http, "/accountz?acc=NOPE").await;
    assert!(
        none["error"]["description"]
            .as_str()
            .is_some_and(|e| e.contains("NOPE")),
        "{none}"
    );
    srv.stop().await;
    let _ = mtask.await;
}

#[tokio::test]
async fn accountz_shows_the_system_account_and_exports_and_imports_as_nats_server() {
    use sluice_server::{Export, ExportKind, Import, ResponseType};
    let mut cfg = config(None);
    cfg.jetstream = false;
    cfg.accounts[0].exports = vec![
        Export {
            subject: "pub.>".into(),
            kind: ExportKind::Stream,
            accounts: Some(vec!["B".into()]),
        },
        Export {
            subject: "help.>".into(),
            kind: ExportKind::Service {
                response: ResponseType::Stream,
                threshold: Duration::from_secs(120),
            },
            accounts: None,
        },
    ];
    cfg.accounts[1].imports = vec![
        Import {
            stream: true,
            account: "A".into(),
            subject: "pub.>".into(),
            to: "fa.pub.>".into(),
        },
        Import {
            stream: false,
            account: "A".into(),
            subject: "help.>".into(),
            to: "ah.>".into(),
        },
    ];
    let srv = start(cfg).await;
    let monitor = sluice_server::Monitor::bind(&srv.handle, "127.0.0.1", 0)
        .await
        .unwrap();
    let http = monitor.local_addr();
    let t = srv.token.clone();
    let mtask = tokio::spawn(async move { monitor.run(t).await });
    let list = get_json(http, "/accountz").await;
    assert_eq!(list["system_account"], "$SYS", "{list}");
    let a = get_json(http, "/accountz?acc=A").await;
    assert_eq!(a["system_account"], "$SYS", "{a}");
    assert_eq!(
        a["account_detail"]["exports"],
        serde_json::json!([
            {"subject": "pub.>", "type": "stream", "approved_accounts": ["B"]},
            {"subject": "help.>", "type": "service", "response_type": "Streamed"},
        ]),
        "{a}"
    );
    let b = get_json(http, "/accountz?acc=B").await;
    assert_eq!(
        b["account_detail"]["imports"],
        serde_json::json!([
            {"subject": "pub.>", "account": "A", "local_subject": "fa.pub.>", "type": "stream",
             "invalid": false, "share": false, "tracking": false},
            {"subject": "ah.>", "account": "A", "to": "help.>", "type": "service",
             "invalid": false, "share": false, "tracking": false},
        ]),
        "{b}"
    );
    srv.stop().await;
    let _ = mtask.await;
}

/// GET `path` from the monitor at `addr`, as JSON.
async fn get_json(addr: std::net::SocketAddr, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("monitor answers")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// The accounts a layer above serves on its own (the stream layer's "not enabled" answers):
/// neither the global one nor the system one.
#[tokio::test]
async fn account_names_leave_out_the_global_and_system_accounts() {
    let srv = start(config(None)).await;
    assert_eq!(srv.handle.account_names(), ["A", "B"]);
    let mut cfg = config(None);
    cfg.accounts.push(AccountConfig::new("SYS"));
    cfg.system_account = Some("SYS".into());
    let with_sys = start(cfg).await;
    assert_eq!(with_sys.handle.account_names(), ["A", "B"]);
    srv.stop().await;
    with_sys.stop().await;
}
