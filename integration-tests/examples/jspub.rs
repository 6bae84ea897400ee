//! Acked JetStream publishes over raw TCP, for first measurements against sluice -js and
//! nats-server -js (the full `sluice bench` comes with the benchmark issue).
//!
//! usage: jspub HOST:PORT [MSGS] [SIZE] [IN_FLIGHT]   (defaults: 20,000 x 128 B, 1 in flight)
//!
//! Creates (or reuses) a file stream BENCH on `bench.js`, purges it, publishes MSGS messages
//! each with a reply subject, keeping at most IN_FLIGHT unacknowledged, and checks that every
//! ack is a PubAck with the next sequence.

use bytes::BytesMut;
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn request(s: &mut TcpStream, subject: &str, body: &[u8]) -> String {
    let mut out = BytesMut::new();
    encode_pub(&mut out, subject, Some("_INBOX.setup"), None, body);
    s.write_all(&out).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = Vec::new();
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        got.extend_from_slice(&buf[..n]);
        if let Ok(Parsed::Op {
            op: RawServerOp::Msg { payload, .. },
            ..
        }) = scan_server(&got, &Limits::default())
        {
            return String::from_utf8_lossy(payload.get(&got)).into_owned();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:4222".into());
    let msgs: usize = args.get(2).map_or(20_000, |a| a.parse().unwrap());
    let size: usize = args.get(3).map_or(128, |a| a.parse().unwrap());
    let window: usize = args.get(4).map_or(1, |a| a.parse().unwrap());

    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut info = String::new();
    BufReader::new(s.try_clone().unwrap())
        .read_line(&mut info)
        .unwrap();
    s.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\nSUB _INBOX.> 1\r\n",
    )
    .unwrap();
    let created = request(
        &mut s,
        "$JS.API.STREAM.CREATE.BENCH",
        br#"{"name":"BENCH","subjects":["bench.js"],"storage":"file"}"#,
    );
    assert!(
        !created.contains("\"error\"") || created.contains("10058"),
        "{created}"
    );
    let purged = request(&mut s, "$JS.API.STREAM.PURGE.BENCH", b"");
    assert!(purged.contains("\"success\":true"), "{purged}");
    let info = request(&mut s, "$JS.API.STREAM.INFO.BENCH", b"");
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    let first_seq = v["state"]["last_seq"].as_u64().unwrap() + 1;

    let (credit_tx, credit_rx) = mpsc::channel::<()>();
    let mut reader = s.try_clone().unwrap();
    let counter = std::thread::spawn(move || {
        let limits = Limits {
            max_control_line: 4096,
            max_payload: 64 << 20,
        };
        let mut buf = vec![0u8; 1 << 20];
        let (mut have, mut acks, mut expect) = (0usize, 0usize, first_seq);
        reader
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        while acks < msgs {
            let n = match reader.read(&mut buf[have..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            have += n;
            let mut off = 0;
            while let Parsed::Op { op, len } =
                scan_server(&buf[off..have], &limits).expect("valid stream")
            {
                if let RawServerOp::Msg { payload, .. } = op {
                    let ack = payload.get(&buf[off..have]);
                    let v: serde_json::Value = serde_json::from_slice(ack).expect("PubAck JSON");
                    assert_eq!(
                        v["seq"].as_u64(),
                        Some(expect),
                        "ack {}",
                        String::from_utf8_lossy(ack)
                    );
                    expect += 1;
                    acks += 1;
                    let _ = credit_tx.send(());
                }
                off += len;
            }
            buf.copy_within(off..have, 0);
            have -= off;
        }
        acks
    });

    let payload = vec![b'x'; size];
    let mut out = BytesMut::with_capacity(1 << 16);
    let mut sent = 0usize;
    let mut credits = window;
    let start = Instant::now();
    while sent < msgs {
        if credits == 0 {
            credit_rx.recv().expect("acks stopped");
            credits += 1;
        }
        while let Ok(()) = credit_rx.try_recv() {
            credits += 1;
        }
        while credits > 0 && sent < msgs {
            encode_pub(&mut out, "bench.js", Some("_INBOX.ack"), None, &payload);
            credits -= 1;
            sent += 1;
        }
        s.write_all(&out).unwrap();
        out.clear();
    }
    let acks = counter.join().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(acks, msgs, "every publish acked");
    println!(
        "jspub msgs={msgs} size={size} in_flight={window} elapsed={:.3}s rate={:.0} acked msgs/s",
        elapsed.as_secs_f64(),
        msgs as f64 / elapsed.as_secs_f64()
    );
}
