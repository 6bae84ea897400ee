//! Shared helpers for the in-process server tests: start a server on an ephemeral port and
//! read from raw sockets with time bounds.

#![allow(dead_code)]

use sluice_server::{CancellationToken, Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Running {
    pub addr: SocketAddr,
    /// For what the binary does from outside (reloads, lame duck).
    pub handle: ServerHandle,
    pub token: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Cancels the server and waits (bounded) for `run` to return.
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops within 10 s")
            .expect("server task");
    }
}

/// Starts a server on 127.0.0.1 and a free port with `config`.
pub async fn start(config: ServerConfig) -> Running {
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..config
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let token = CancellationToken::new();
    let t = token.clone();
    let task = tokio::spawn(async move { server.run(t).await.unwrap() });
    Running {
        addr,
        handle,
        token,
        task,
    }
}

/// What a raw read saw.
pub struct Seen {
    pub text: String,
    pub closed: bool,
}

/// Reads until `pred` holds, the peer closes, or `wait` passes.
pub async fn read_until(s: &mut TcpStream, wait: Duration, pred: impl Fn(&str) -> bool) -> Seen {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    let mut closed = false;
    while !pred(&String::from_utf8_lossy(&got)) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    Seen {
        text: String::from_utf8_lossy(&got).into_owned(),
        closed,
    }
}

/// Connects and consumes the INFO line.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let info = read_until(&mut s, Duration::from_secs(3), |t| t.ends_with("\r\n")).await;
    assert!(info.text.starts_with("INFO {"), "{}", info.text);
    s
}

/// Sends `bytes`.
pub async fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).await.unwrap();
}
