//! In-process smoke tests of the server over real TCP (the black-box suite lives in
//! integration-tests/ and drives the binary).

use sluice_server::{CancellationToken, Server, ServerConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(
    config: ServerConfig,
) -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..config
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let token = CancellationToken::new();
    let t = token.clone();
    let h = tokio::spawn(async move { server.run(t).await.unwrap() });
    (addr, token, h)
}

/// Reads until `pred` holds for what was read or the timeout passes.
async fn read_until(s: &mut TcpStream, pred: impl Fn(&str) -> bool) -> String {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    while !pred(&String::from_utf8_lossy(&got)) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn pub_sub_roundtrip() {
    let (addr, token, h) = start(ServerConfig::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let info = read_until(&mut s, |t| t.ends_with("\r\n")).await;
    assert!(info.starts_with("INFO {"), "{info}");
    s.write_all(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 5\r\nhello\r\nPING\r\n")
        .await
        .unwrap();
    let got = read_until(&mut s, |t| t.contains("PONG")).await;
    assert_eq!(got, "MSG foo 1 bar 5\r\nhello\r\nPONG\r\n");
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), h)
        .await
        .unwrap()
        .unwrap();
}
