//! Limits that need a non-default configuration: keepalive, slow consumers, max connections,
//! max payload, control line length, auth timeout; and the listen backlog.

mod common;

use common::*;
use sluice_server::{Auth, ServerConfig};
use std::io::{Read, Write};
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn stale_connection_is_closed_after_max_pings_out() {
    let srv = start(ServerConfig {
        ping_interval: Duration::from_millis(100),
        max_pings_out: 2,
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    send(&mut s, b"CONNECT {\"verbose\":false}\r\n").await;
    let seen = read_until(&mut s, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    assert!(seen.closed);
    srv.stop().await;
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let srv = start(ServerConfig {
        ping_interval: Duration::from_millis(50),
        max_pings_out: 1,
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    send(&mut s, b"CONNECT {\"verbose\":false}\r\n").await;
    for _ in 0..5 {
        let seen = read_until(&mut s, Duration::from_secs(2), |t| t.contains("PING\r\n")).await;
        assert_eq!(seen.text, "PING\r\n");
        send(&mut s, b"PONG\r\n").await;
    }
    send(&mut s, b"PING\r\n").await;
    let seen = read_until(&mut s, Duration::from_secs(2), |t| t.contains("PONG")).await;
    assert!(
        seen.text.contains("PONG\r\n") && !seen.closed,
        "{}",
        seen.text
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_off_and_others_get_everything() {
    let srv = start(ServerConfig {
        max_pending: 8 * 1024 * 1024,
        ..ServerConfig::default()
    })
    .await;
    let mut slow = connect(srv.addr).await;
    send(
        &mut slow,
        b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n",
    )
    .await;
    let seen = read_until(&mut slow, Duration::from_secs(2), |t| t.contains("PONG")).await;
    assert_eq!(seen.text, "PONG\r\n");

    // The fast subscriber reads on its own OS thread with blocking reads, counting bytes.
    const MSGS: usize = 60_000;
    let frame_len = "MSG flood 1 1024\r\n".len() + 1024 + 2;
    let mut fast = std::net::TcpStream::connect(srv.addr).unwrap();
    fast.write_all(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
        .unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // INFO line, then PONG.
    while !String::from_utf8_lossy(&line).ends_with("PONG\r\n") {
        fast.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    let reader = std::thread::spawn(move || {
        fast.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // Counts message bytes: the server's keepalive PINGs (whole lines between frames) are
        // left out.
        let mut buf = vec![0u8; 256 * 1024];
        let mut data = Vec::with_capacity(MSGS * frame_len + 1024);
        let msg_bytes = |d: &[u8]| d.len() - 6 * d.windows(6).filter(|w| w == b"PING\r\n").count();
        while data.len() < MSGS * frame_len || msg_bytes(&data) < MSGS * frame_len {
            match fast.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        msg_bytes(&data)
    });

    // The publisher floods in batches of 1,000 (1 MiB), syncing with PING/PONG after each as
    // a real publisher's flush would. The server paces it for at most STALL_MAX per batch
    // while the slow subscriber is behind, then cuts that subscriber off at max_pending.
    let mut publ = connect(srv.addr).await;
    send(&mut publ, b"CONNECT {\"verbose\":false}\r\n").await;
    let payload = vec![b'x'; 1024];
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(b"PUB flood 1024\r\n");
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    batch.extend_from_slice(b"PING\r\n");
    for _ in 0..MSGS / 1000 {
        send(&mut publ, &batch).await;
        let pong = read_until(&mut publ, Duration::from_secs(20), |t| t.contains("PONG")).await;
        // (The server's own keepalive PING may come along: the batches now take a while.)
        assert!(
            pong.text.replace("PING\r\n", "") == "PONG\r\n",
            "the publisher keeps being served: {:.200}",
            pong.text
        );
    }

    let received = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        received,
        MSGS * frame_len,
        "the fast subscriber loses nothing"
    );
    // The slow one, which never read, has been closed before getting everything.
    let mut seen_bytes = 0usize;
    let mut closed = false;
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(r) = tokio::time::timeout_at(deadline, slow.read(&mut buf)).await {
        match r {
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(n) => seen_bytes += n,
        }
    }
    assert!(closed, "the slow consumer was not closed");
    assert!(
        seen_bytes < MSGS * frame_len,
        "the slow consumer got everything"
    );
    srv.stop().await;
}

#[tokio::test]
async fn max_connections_refuses_the_next_client() {
    let srv = start(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    })
    .await;
    let mut first = connect(srv.addr).await;
    let mut second = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let seen = read_until(&mut second, Duration::from_secs(3), |_| false).await;
    let (info, rest) = seen.text.split_once("\r\n").unwrap();
    assert!(info.starts_with("INFO {"), "{info}");
    assert_eq!(rest, "-ERR 'maximum connections exceeded'\r\n");
    assert!(seen.closed);
    send(&mut first, b"PING\r\n").await;
    assert_eq!(
        read_until(&mut first, Duration::from_secs(3), |t| t.contains("PONG"))
            .await
            .text,
        "PONG\r\n"
    );
    drop(first);
    // The slot is free again once the first client leaves.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect(srv.addr).await;
    send(&mut third, b"PING\r\n").await;
    assert_eq!(
        read_until(&mut third, Duration::from_secs(3), |t| t.contains("PONG"))
            .await
            .text,
        "PONG\r\n"
    );
    srv.stop().await;
}

#[tokio::test]
async fn payload_over_max_payload_is_refused_and_closed() {
    let srv = start(ServerConfig {
        max_payload: 1024,
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    send(&mut s, b"CONNECT {\"verbose\":false}\r\nPUB foo 1024\r\n").await;
    send(&mut s, &[b'x'; 1024]).await;
    send(&mut s, b"\r\nPING\r\n").await;
    assert_eq!(
        read_until(&mut s, Duration::from_secs(3), |t| t.contains("PONG"))
            .await
            .text,
        "PONG\r\n"
    );
    send(&mut s, b"PUB foo 1025\r\n").await;
    let seen = read_until(&mut s, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "-ERR 'Maximum Payload Violation'\r\n");
    assert!(seen.closed);
    srv.stop().await;
}

#[tokio::test]
async fn control_line_over_the_limit_is_refused() {
    let srv = start(ServerConfig {
        max_control_line: 64,
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    let subject = "a".repeat(100);
    send(&mut s, format!("SUB {subject} 1\r\n").as_bytes()).await;
    let seen = read_until(&mut s, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "-ERR 'maximum control line exceeded'\r\n");
    assert!(seen.closed);
    srv.stop().await;
}

#[tokio::test]
async fn auth_timeout_closes_a_silent_client() {
    let srv = start(ServerConfig {
        auth: Auth::Token("s3cret".into()),
        auth_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    let seen = read_until(&mut s, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authentication Timeout'\r\n");
    assert!(seen.closed);
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_flushes_what_was_routed() {
    let srv = start(ServerConfig::default()).await;
    let mut sub = connect(srv.addr).await;
    send(
        &mut sub,
        b"CONNECT {\"verbose\":false}\r\nSUB last 1\r\nPING\r\n",
    )
    .await;
    read_until(&mut sub, Duration::from_secs(2), |t| t.contains("PONG")).await;
    let mut publ = connect(srv.addr).await;
    send(
        &mut publ,
        b"CONNECT {\"verbose\":false}\r\nPUB last 3\r\nbye\r\nPING\r\n",
    )
    .await;
    read_until(&mut publ, Duration::from_secs(2), |t| t.contains("PONG")).await;
    srv.stop().await;
    let seen = read_until(&mut sub, Duration::from_secs(3), |_| false).await;
    assert_eq!(seen.text, "MSG last 1 3\r\nbye\r\n");
    assert!(seen.closed);
}

/// Regression: the listener was bound with the standard library's backlog of 128, so a burst
/// of connections (10,000 clients at once, or reconnecting after a restart) overflowed the
/// accept queue; the kernel dropped their SYNs and each waited a second for its retry.
/// nats-server listens with the system's maximum (`net.core.somaxconn`, 4096 by default).
/// Here nothing accepts at all (the server is bound, not running), so every connection has
/// to wait in the backlog.
#[tokio::test]
async fn a_burst_of_connections_fits_in_the_listen_backlog() {
    const BURST: usize = 512;
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if somaxconn <= BURST {
        eprintln!("note: net.core.somaxconn is {somaxconn}: skipping");
        return;
    }
    let server = sluice_server::Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..BURST {
        attempts.spawn(tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr),
        ));
    }
    let conns = attempts.join_all().await;
    let queued = conns.iter().filter(|c| matches!(c, Ok(Ok(_)))).count();
    assert_eq!(
        queued, BURST,
        "only {queued} of {BURST} connections got into the listen backlog"
    );
    drop(server);
}
