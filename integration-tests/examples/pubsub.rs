//! A minimal 1 publisher -> 1 subscriber load generator over raw TCP, for first measurements
//! against sluice and nats-server (the full `sluice bench` comes with the benchmark issue).
//!
//! usage: pubsub HOST:PORT [MSGS] [SIZE]   (defaults: 1,000,000 messages of 16 bytes)

use bytes::BytesMut;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut info = String::new();
    r.read_line(&mut info).unwrap();
    assert!(info.starts_with("INFO"), "{info}");
    let mut s = s;
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .unwrap();
    s
}

fn sync(s: &mut TcpStream) {
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !got.ends_with(b"PONG\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        got.extend_from_slice(&buf[..n]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:4222".into());
    let msgs: usize = args.get(2).map_or(1_000_000, |a| a.parse().unwrap());
    let size: usize = args.get(3).map_or(16, |a| a.parse().unwrap());

    let mut sub = connect(&addr);
    sub.write_all(b"SUB bench.pubsub 1\r\n").unwrap();
    sync(&mut sub);
    let mut publ = connect(&addr);
    sync(&mut publ);

    let counter = std::thread::spawn(move || {
        let limits = Limits {
            max_control_line: 4096,
            max_payload: 64 << 20,
        };
        let mut buf = vec![0u8; 1 << 20];
        let mut have = 0usize;
        let mut count = 0usize;
        let mut bytes = 0usize;
        sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut last = Instant::now();
        while count < msgs {
            if have == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = match sub.read(&mut buf[have..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            have += n;
            let mut off = 0;
            loop {
                match scan_server(&buf[off..have], &limits).expect("valid stream") {
                    Parsed::Op { op, len } => {
                        if matches!(op, sluice_protocol::parse::RawServerOp::Msg { .. }) {
                            count += 1;
                            bytes += size;
                        }
                        off += len;
                    }
                    Parsed::Blank { len } => off += len,
                    Parsed::Incomplete => break,
                }
            }
            buf.copy_within(off..have, 0);
            have -= off;
            last = Instant::now();
        }
        (count, bytes, last)
    });

    let payload = vec![b'x'; size];
    let mut out = BytesMut::with_capacity(256 * 1024);
    let start = Instant::now();
    for _ in 0..msgs {
        encode_pub(&mut out, "bench.pubsub", None, None, &payload);
        if out.len() >= 64 * 1024 {
            publ.write_all(&out).unwrap();
            out.clear();
        }
    }
    publ.write_all(&out).unwrap();
    sync(&mut publ);
    let pub_elapsed = start.elapsed();
    let (count, _bytes, last) = counter.join().unwrap();
    let elapsed = last.duration_since(start);
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "pubsub msgs={msgs} size={size} received={count} elapsed={:.3}s publish={:.3}s rate={:.0} msgs/s ({:.1} MB/s)",
        elapsed.as_secs_f64(),
        pub_elapsed.as_secs_f64(),
        rate,
        rate * size as f64 / 1e6
    );
}
