//! Reloading limits at runtime (`ServerHandle::reload_limits`, what `kill -HUP` calls):
//! connections stay up and get the new limits.

mod common;

use common::{connect, read_until, send, start};
use sluice_server::ServerConfig;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn lowered_max_payload_applies_to_open_and_new_connections() {
    let config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    };
    let server = start(config.clone()).await;
    let (addr, handle) = (server.addr, server.handle.clone());

    // Open before the reload: 100 bytes pass.
    let mut old = connect(addr).await;
    send(&mut old, b"CONNECT {\"verbose\":false}\r\nSUB s 1\r\n").await;
    let body = "x".repeat(100);
    send(
        &mut old,
        format!("PUB s 100\r\n{body}\r\nPING\r\n").as_bytes(),
    )
    .await;
    let seen = read_until(&mut old, WAIT, |t| t.contains("PONG")).await;
    assert!(seen.text.contains("MSG s 1 100"), "{}", seen.text);

    let changed = handle.reload_limits(&ServerConfig {
        max_payload: 64,
        ..config.clone()
    });
    assert_eq!(
        changed,
        [format!("max_payload: {} -> 64", config.max_payload)]
    );
    // Nothing else changed: reloading the same values again reports nothing.
    assert!(handle
        .reload_limits(&ServerConfig {
            max_payload: 64,
            ..config.clone()
        })
        .is_empty());

    // The open connection is not dropped by the reload, and its next read uses the new
    // limit: 64 bytes pass, 100 do not.
    let small = "y".repeat(64);
    send(
        &mut old,
        format!("PUB s 64\r\n{small}\r\nPING\r\n").as_bytes(),
    )
    .await;
    let seen = read_until(&mut old, WAIT, |t| t.contains("PONG")).await;
    assert!(seen.text.contains("MSG s 1 64"), "{}", seen.text);
    send(&mut old, format!("PUB s 100\r\n{body}\r\n").as_bytes()).await;
    let seen = read_until(&mut old, WAIT, |t| t.contains("Violation")).await;
    assert!(
        seen.text.contains("-ERR 'Maximum Payload Violation'"),
        "{}",
        seen.text
    );

    // A new connection is told the new limit.
    let mut new = tokio::net::TcpStream::connect(addr).await.unwrap();
    let info = read_until(&mut new, WAIT, |t| t.ends_with("\r\n")).await;
    assert!(info.text.contains("\"max_payload\":64"), "{}", info.text);

    server.stop().await;
}

#[tokio::test]
async fn lowered_max_connections_refuses_new_connections_only() {
    let config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    };
    let server = start(config.clone()).await;
    let (addr, handle) = (server.addr, server.handle.clone());

    let mut first = connect(addr).await;
    send(&mut first, b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(read_until(&mut first, WAIT, |t| t.contains("PONG"))
        .await
        .text
        .contains("PONG"));
    handle.reload_limits(&ServerConfig {
        max_connections: 1,
        ..config
    });
    let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let seen = read_until(&mut second, WAIT, |t| t.contains("-ERR")).await;
    assert!(
        seen.text.contains("-ERR 'maximum connections exceeded'"),
        "{}",
        seen.text
    );
    // The first connection is still served.
    send(&mut first, b"PING\r\n").await;
    let seen = read_until(&mut first, WAIT, |t| t.contains("PONG")).await;
    assert!(seen.text.contains("PONG") && !seen.closed, "{}", seen.text);

    server.stop().await;
}
