//! Lame-duck mode: the listener closes, clients that take INFO updates get `ldm: true`, and
//! after the grace period every client is closed; then `run` returns.

mod common;

use common::{connect, read_until};
use sluice_server::{CancellationToken, Server, ServerConfig};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn lame_duck_tells_clients_closes_them_and_refuses_new_ones() {
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        lame_duck_duration: Duration::from_millis(600),
        lame_duck_grace_period: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.run(CancellationToken::new()));

    let mut modern = connect(addr).await;
    modern
        .write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await
        .unwrap();
    let mut old = connect(addr).await;
    old.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .unwrap();
    for c in [&mut modern, &mut old] {
        let seen = read_until(c, Duration::from_secs(3), |t| t.contains("PONG\r\n")).await;
        assert_eq!(seen.text, "PONG\r\n");
    }

    let entered = tokio::time::Instant::now();
    handle.enter_lame_duck();
    let seen = read_until(&mut modern, Duration::from_secs(3), |t| t.ends_with("\r\n")).await;
    let info: serde_json::Value = serde_json::from_str(
        seen.text
            .strip_prefix("INFO ")
            .unwrap_or_else(|| panic!("{:?}", seen.text))
            .trim_end(),
    )
    .unwrap();
    assert_eq!(info["ldm"], true, "{info}");
    assert!(info.get("client_id").is_none(), "{info}");

    // The listener is closed: new connections are refused.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());

    // Both clients are closed, not before the grace period; a client without
    // `protocol: 1` is not sent the INFO (as nats-server).
    for c in [&mut modern, &mut old] {
        let seen = read_until(c, Duration::from_secs(5), |_| false).await;
        assert!(seen.closed && seen.text.is_empty(), "{:?}", seen.text);
    }
    assert!(entered.elapsed() >= Duration::from_millis(200));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run returns after lame-duck mode")
        .unwrap()
        .unwrap();
}
