//! Black-box test of `sluice -m -1`: the real binary with JetStream, its monitor's port read
//! from the log line nats-server also prints (`Starting http monitor on HOST:PORT`), and
//! /varz, /jsz, /healthz and /metrics checked after some JetStream traffic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The address after `prefix` in the first log line that has it.
fn addr_after(lines: &[String], prefix: &str) -> Option<SocketAddr> {
    lines.iter().find_map(|l| {
        let at = l.find(prefix)? + prefix.len();
        let port: u16 = l[at..].trim().rsplit(':').next()?.parse().ok()?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    })
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

fn json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Sends `ops` and reads until `done` holds for what came back.
fn exchange(s: &mut TcpStream, ops: &str, done: impl Fn(&str) -> bool) -> String {
    s.write_all(ops.as_bytes()).unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&got) {
        assert!(Instant::now() < deadline, "waited for a reply, got {got:?}");
        match s.read(&mut buf) {
            Ok(0) => panic!("closed; got {got:?}"),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    got
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn monitor_reports_jetstream_and_client_traffic() {
    let dir = std::env::temp_dir().join(format!("sluice-monitor-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd"])
        .arg(&dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    let stderr = child.stderr.take().unwrap();
    let _guard = Killed(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let ready = line.contains("Server is ready");
        lines.push(line);
        if ready {
            break;
        }
    }
    let http = addr_after(&lines, "Starting http monitor on ").expect("monitor log line");
    let client = addr_after(&lines, "Listening for client connections on ").unwrap();

    let mut s = TcpStream::connect(client).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    exchange(&mut s, "", |t| t.contains("\r\n"));
    let stream = r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"memory"}"#;
    let consumer =
        r#"{"stream_name":"ORDERS","config":{"durable_name":"C","ack_policy":"explicit"}}"#;
    exchange(
        &mut s,
        &format!(
            "CONNECT {{\"verbose\":false,\"name\":\"it\"}}\r\nSUB _INBOX.r 1\r\n\
             PUB $JS.API.STREAM.CREATE.ORDERS _INBOX.r {}\r\n{stream}\r\nPING\r\n",
            stream.len()
        ),
        |t| t.contains("MSG _INBOX.r"),
    );
    exchange(
        &mut s,
        "PUB orders.a _INBOX.r 2\r\nhi\r\nPUB orders.b _INBOX.r 3\r\nhey\r\n",
        |t| t.matches("\"seq\"").count() == 2,
    );
    exchange(
        &mut s,
        &format!(
            "PUB $JS.API.CONSUMER.DURABLE.CREATE.ORDERS.C _INBOX.r {}\r\n{consumer}\r\n",
            consumer.len()
        ),
        |t| t.contains("num_pending"),
    );

    let h = json(http, "/healthz");
    assert_eq!(h["status"], "ok");

    let j = json(http, "/jsz");
    assert_eq!(j["streams"], 1);
    assert_eq!(j["consumers"], 1);
    assert_eq!(j["messages"], 2);
    assert!(j["bytes"].as_u64().unwrap() > 0);
    assert_eq!(j["memory"], j["bytes"]);
    assert_eq!(j["storage"], 0);
    assert_eq!(j["api"]["total"], 2);
    assert_eq!(j["api"]["errors"], 0);
    assert_eq!(j["config"]["store_dir"], dir.display().to_string());

    let v = json(http, "/varz");
    assert_eq!(v["connections"], 1);
    assert_eq!(v["http_port"], http.port());
    assert_eq!(v["port"], client.port());
    // Four publishes from the client: the stream create, two messages, the consumer create.
    assert_eq!(v["in_msgs"], 4);
    // Four replies to its inbox.
    assert_eq!(v["out_msgs"], 4);
    assert_eq!(v["jetstream"]["stats"]["api"]["total"], 2);

    let c = json(http, "/connz");
    assert_eq!(c["connections"][0]["name"], "it");
    assert_eq!(c["connections"][0]["in_msgs"], 4);

    let (status, m) = http_get(http, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(sample(&m, "sluice_connections"), Some(1.0));
    assert_eq!(sample(&m, "sluice_in_msgs_total"), Some(4.0));
    assert_eq!(
        sample(&m, "sluice_jetstream_stream_messages{stream=\"ORDERS\"}"),
        Some(2.0)
    );
    assert!(sample(&m, "sluice_jetstream_stream_bytes{stream=\"ORDERS\"}").unwrap() > 0.0);
    let c = "{stream=\"ORDERS\",consumer=\"C\"}";
    assert_eq!(
        sample(&m, &format!("sluice_jetstream_consumer_num_pending{c}")),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, &format!("sluice_jetstream_consumer_num_redelivered{c}")),
        Some(0.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
