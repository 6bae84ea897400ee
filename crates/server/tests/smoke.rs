//! In-process smoke tests of the server over real TCP (the black-box suite lives in
//! integration-tests/ and drives the binary).

mod common;

use common::*;
use sluice_server::ServerConfig;
use std::time::Duration;

#[tokio::test]
async fn pub_sub_roundtrip() {
    let srv = start(ServerConfig::default()).await;
    let mut s = connect(srv.addr).await;
    send(
        &mut s,
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 5\r\nhello\r\nPING\r\n",
    )
    .await;
    let got = read_until(&mut s, Duration::from_secs(3), |t| t.contains("PONG")).await;
    assert_eq!(got.text, "MSG foo 1 bar 5\r\nhello\r\nPONG\r\n");
    srv.stop().await;
}

/// An in-process subscriber that forwards to a channel.
struct ToChannel(std::sync::Mutex<std::sync::mpsc::Sender<sluice_server::InternalMsg>>);

impl sluice_server::InternalSink for ToChannel {
    fn deliver(&self, msg: sluice_server::InternalMsg) {
        let _ = self.0.lock().unwrap().send(msg);
    }
}

#[tokio::test]
async fn internal_clients_subscribe_and_publish_like_any_other() {
    let server = sluice_server::Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let token = sluice_server::CancellationToken::new();
    let t = token.clone();
    let task = tokio::spawn(async move { server.run(t).await.unwrap() });

    let (tx, rx) = std::sync::mpsc::channel();
    let sub = handle
        .subscribe(
            "svc.>",
            None,
            std::sync::Arc::new(ToChannel(std::sync::Mutex::new(tx))),
        )
        .unwrap();
    let mut s = connect(addr).await;
    send(
        &mut s,
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB answers 9\r\nHPUB svc.ask answers 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
    )
    .await;
    read_until(&mut s, Duration::from_secs(3), |t| t.contains("PONG")).await;
    let got = rx.recv_timeout(Duration::from_secs(3)).unwrap();
    assert_eq!(got.subject, "svc.ask");
    assert_eq!(got.reply.as_deref(), Some("answers"));
    assert_eq!(got.headers.as_deref(), Some(&b"NATS/1.0\r\n\r\n"[..]));
    assert_eq!(&got.payload[..], b"hi");

    assert!(handle.publish("answers", None, None, b"yes"));
    let seen = read_until(&mut s, Duration::from_secs(3), |t| t.contains("yes")).await;
    assert_eq!(seen.text, "MSG answers 9 3\r\nyes\r\n");

    sub.unsubscribe();
    assert!(!handle.has_interest("svc.ask"));
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
