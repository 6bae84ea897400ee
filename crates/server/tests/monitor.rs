//! HTTP monitoring in process: each endpoint over real HTTP after some client traffic, the
//! JetStream provider hook, /healthz before and after JetStream starts, and /metrics parsed
//! back.

mod common;

use common::*;
use serde_json::Value;
use sluice_server::{
    ConsumerStats, JetStreamLimits, JetStreamMonitor, JetStreamStats, MetaCluster, Monitor,
    PeerReplica, RaftStats, Server, ServerConfig, ServerHandle, StreamGroup, StreamStats,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The system account's own subscriptions: `$SYS.REQ.SERVER.PING`, `.PING.STATSZ` and
/// `.<id>.STATSZ` (events.rs).
const SYSTEM_SUBS: u64 = 3;

struct Setup {
    client: SocketAddr,
    http: SocketAddr,
    handle: ServerHandle,
    stop: CancellationToken,
}

async fn setup(config: ServerConfig) -> Setup {
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..config
    })
    .await
    .unwrap();
    let handle = server.handle();
    let monitor = Monitor::bind(&handle, "127.0.0.1", 0).await.unwrap();
    let (client, http) = (server.local_addr(), monitor.local_addr());
    let stop = CancellationToken::new();
    tokio::spawn(server.run(stop.clone()));
    tokio::spawn(monitor.run(stop.clone()));
    Setup {
        client,
        http,
        handle,
        stop,
    }
}

/// `GET path` over HTTP/1.0: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .expect("the monitor answers")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The value of the Prometheus sample `name{labels}` (labels exactly as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn endpoints_report_client_traffic() {
    let srv = setup(ServerConfig {
        server_name: Some("mon".into()),
        ..ServerConfig::default()
    })
    .await;
    let mut a = connect(srv.client).await;
    send(
        &mut a,
        b"CONNECT {\"verbose\":false,\"headers\":true,\"name\":\"alpha\",\"lang\":\"rust\",\"version\":\"9.9\"}\r\n\
          SUB foo 1\r\nSUB bar q 2\r\nPING\r\n",
    )
    .await;
    read_until(&mut a, Duration::from_secs(3), |t| t.contains("PONG")).await;
    let mut b = connect(srv.client).await;
    send(
        &mut b,
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nPUB foo 5\r\nhello\r\nPUB foo 3\r\nabc\r\n\
          HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
    )
    .await;
    read_until(&mut b, Duration::from_secs(3), |t| t.contains("PONG")).await;
    read_until(&mut a, Duration::from_secs(3), |t| {
        t.matches("foo 1").count() == 3
    })
    .await;

    let v = get_json(srv.http, "/varz").await;
    assert_eq!(v["server_name"], "mon");
    assert_eq!(v["port"], srv.client.port());
    assert_eq!(v["http_port"], srv.http.port());
    assert_eq!(v["connections"], 2);
    assert_eq!(v["total_connections"], 2);
    // The clients' 2, and the system account's 3 (the server's requests), as nats-server
    // counts its own.
    assert_eq!(v["subscriptions"], 2 + SYSTEM_SUBS);
    assert_eq!(v["in_msgs"], 3);
    assert_eq!(v["out_msgs"], 3);
    // Payload and header bytes, as nats-server counts them: 5 + 3 + 14.
    assert_eq!(v["in_bytes"], 22);
    assert_eq!(v["out_bytes"], 22);
    assert_eq!(v["slow_consumers"], 0);
    assert_eq!(v["max_payload"], 1024 * 1024);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    for key in ["server_id", "version", "host", "uptime", "now", "start"] {
        assert!(v[key].is_string(), "{key}: {v}");
    }
    assert!(v["mem"].as_u64().unwrap() > 0);
    assert!(v["cores"].as_u64().unwrap() > 0);
    assert!(v.get("jetstream").is_none(), "no JetStream registered");

    let c = get_json(srv.http, "/connz?subs=1").await;
    assert_eq!(c["num_connections"], 2);
    assert_eq!(c["total"], 2);
    assert_eq!(
        (c["offset"].as_u64(), c["limit"].as_u64()),
        (Some(0), Some(1024))
    );
    let conns = c["connections"].as_array().unwrap();
    let alpha = &conns[0];
    assert!(
        conns[0]["cid"].as_u64() < conns[1]["cid"].as_u64(),
        "cid order"
    );
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["lang"], "rust");
    assert_eq!(alpha["version"], "9.9");
    assert_eq!(alpha["ip"], "127.0.0.1");
    assert_eq!(alpha["subscriptions"], 2);
    assert_eq!(
        alpha["subscriptions_list"],
        serde_json::json!(["foo", "bar"])
    );
    assert_eq!(
        (alpha["out_msgs"].as_u64(), alpha["in_msgs"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(conns[1]["in_msgs"], 3);
    assert_eq!(conns[1]["in_bytes"], 22);
    for key in ["start", "last_activity", "uptime", "idle"] {
        assert!(alpha[key].is_string(), "{key}");
    }
    assert!(alpha["port"].as_u64().unwrap() > 0);
    assert!(alpha["pending_bytes"].is_u64());

    // Sorting (biggest first), limit and offset.
    let c = get_json(srv.http, "/connz?sort=msgs_from").await;
    assert_eq!(c["connections"][0]["in_msgs"], 3);
    assert!(c["connections"][0].get("subscriptions_list").is_none());
    let c = get_json(srv.http, "/connz?sort=subs&limit=1").await;
    assert_eq!(c["num_connections"], 1);
    assert_eq!(c["total"], 2);
    assert_eq!(c["connections"][0]["name"], "alpha");
    let c = get_json(srv.http, "/connz?sort=bytes_to&offset=1").await;
    assert_eq!(c["num_connections"], 1);
    assert_eq!(c["connections"][0]["out_bytes"], 0);
    let c = get_json(srv.http, "/connz?subs=detail").await;
    let detail = &c["connections"][0]["subscriptions_list_detail"];
    assert_eq!(detail[0]["subject"], "foo");
    assert_eq!(detail[0]["msgs"], 3);
    assert_eq!(detail[1]["qgroup"], "q");
    let (status, body) = get(srv.http, "/connz?sort=nope").await;
    assert_eq!(status, 400);
    assert!(body.contains("Invalid sorting option"), "{body}");

    let s = get_json(srv.http, "/subsz").await;
    assert_eq!(s["num_subscriptions"], 2 + SYSTEM_SUBS);
    assert_eq!(s["num_inserts"], 2 + SYSTEM_SUBS);
    assert_eq!(s["num_removes"], 0);
    for key in [
        "num_cache",
        "num_matches",
        "cache_hit_rate",
        "max_fanout",
        "avg_fanout",
    ] {
        assert!(s[key].is_number(), "{key}");
    }

    let r = get_json(srv.http, "/routez").await;
    assert_eq!(r["num_routes"], 0);
    assert_eq!(r["routes"], serde_json::json!([]));

    let j = get_json(srv.http, "/jsz").await;
    assert_eq!(j["disabled"], true);

    let h = get_json(srv.http, "/healthz").await;
    assert_eq!(h, serde_json::json!({"status": "ok"}));

    let (status, m) = get(srv.http, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&m, "sluice_connections"), Some(2.0));
    assert_eq!(
        sample(&m, "sluice_subscriptions"),
        Some((2 + SYSTEM_SUBS) as f64)
    );
    assert_eq!(sample(&m, "sluice_in_msgs_total"), Some(3.0));
    assert_eq!(sample(&m, "sluice_out_msgs_total"), Some(3.0));
    assert_eq!(sample(&m, "sluice_in_bytes_total"), Some(22.0));
    assert_eq!(sample(&m, "sluice_out_bytes_total"), Some(22.0));
    assert_eq!(sample(&m, "sluice_slow_consumers_total"), Some(0.0));
    assert!(m.contains("# TYPE sluice_in_msgs counter"), "{m}");
    assert!(m.trim_end().ends_with("# EOF"));

    // A closed connection's counts stay in the totals.
    drop(b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = get_json(srv.http, "/varz").await;
        if v["connections"] == 1 {
            assert_eq!(v["in_msgs"], 3);
            assert_eq!(v["total_connections"], 2);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    srv.stop.cancel();
}

struct FakeJs;

impl JetStreamMonitor for FakeJs {
    fn stats(&self, detail: bool) -> JetStreamStats {
        JetStreamStats {
            memory: 10,
            storage: 20,
            reserved_memory: 4,
            reserved_storage: 5,
            accounts: 3,
            streams: 1,
            consumers: 1,
            messages: 3,
            bytes: 30,
            api_total: 7,
            api_errors: 2,
            stream_list: if detail {
                vec![StreamStats {
                    name: "ORDERS".into(),
                    messages: 3,
                    bytes: 30,
                    consumers: vec![ConsumerStats {
                        name: "C".into(),
                        num_pending: 2,
                        num_redelivered: 1,
                        num_ack_pending: 1,
                    }],
                }]
            } else {
                Vec::new()
            },
            meta: Some(MetaCluster {
                name: "c1".into(),
                leader: "n1".into(),
                peer: "fjFyEjc1".into(),
                replicas: vec![PeerReplica {
                    name: "n2".into(),
                    current: true,
                    active: 5,
                    offline: false,
                    lag: 0,
                    peer: "x".into(),
                }],
                cluster_size: 3,
            }),
            raft: Some(RaftStats {
                groups: 2,
                leaders: 1,
                wal_appends: 4,
                wal_entries: 9,
                wal_bytes: 900,
                wal_fsyncs: 3,
                streams: vec![StreamGroup {
                    stream: "ORDERS".into(),
                    raft_group: "S-ORDERS-1".into(),
                    leader: "n1".into(),
                    replicas: vec![PeerReplica {
                        name: "n2".into(),
                        current: false,
                        active: 7,
                        offline: false,
                        lag: 12,
                        peer: "y".into(),
                    }],
                    snapshot: 40,
                    purged: 35,
                }],
            }),
        }
    }
}

#[tokio::test]
async fn jetstream_provider_and_health() {
    let srv = setup(ServerConfig {
        jetstream: true,
        ..ServerConfig::default()
    })
    .await;
    // JetStream is configured but has not registered yet: not healthy.
    let (status, body) = get(srv.http, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "unavailable");
    assert!(h["error"].is_string());

    let limits = JetStreamLimits {
        max_memory: 1000,
        max_storage: 2000,
        store_dir: "/js".into(),
    };
    srv.handle
        .set_jetstream_monitor(Some((limits, Arc::new(FakeJs))));
    assert_eq!(get(srv.http, "/healthz").await.0, 200);

    let j = get_json(srv.http, "/jsz").await;
    assert!(j.get("disabled").is_none());
    assert_eq!(j["config"]["max_memory"], 1000);
    assert_eq!(j["config"]["store_dir"], "/js");
    assert_eq!(
        (j["streams"].as_u64(), j["consumers"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (j["messages"].as_u64(), j["bytes"].as_u64()),
        (Some(3), Some(30))
    );
    assert_eq!(
        (j["memory"].as_u64(), j["storage"].as_u64()),
        (Some(10), Some(20))
    );
    assert_eq!(j["api"], serde_json::json!({"total": 7, "errors": 2}));
    assert_eq!(
        (
            &j["accounts"],
            &j["reserved_memory"],
            &j["reserved_storage"]
        ),
        (
            &serde_json::json!(3),
            &serde_json::json!(4),
            &serde_json::json!(5)
        )
    );
    // nats-server's MetaClusterInfo: offline and lag only when set.
    assert_eq!(
        j["meta_cluster"],
        serde_json::json!({"name": "c1", "leader": "n1", "peer": "fjFyEjc1", "cluster_size": 3,
            "replicas": [{"name": "n2", "current": true, "active": 5, "peer": "x"}]})
    );

    // The groups held here (a Sluice extension) and ha_assets, nats-server's count of them.
    assert_eq!(j["ha_assets"], 1);
    assert_eq!(j["raft"]["groups"], 2);
    assert_eq!(j["raft"]["wal_fsyncs"], 3);
    assert_eq!(
        j["raft"]["streams"],
        serde_json::json!([{"stream": "ORDERS", "raft_group": "S-ORDERS-1", "leader": "n1",
            "replicas": [{"name": "n2", "current": false, "active": 7, "lag": 12, "peer": "y"}],
            "snapshot": 40, "purged": 35}])
    );

    let v = get_json(srv.http, "/varz").await;
    assert_eq!(v["jetstream"]["config"]["max_storage"], 2000);
    assert_eq!(v["jetstream"]["stats"]["api"]["total"], 7);
    assert_eq!(v["jetstream"]["stats"]["storage"], 20);
    assert_eq!(v["jetstream"]["stats"]["accounts"], 3);
    assert_eq!(v["jetstream"]["stats"]["reserved_storage"], 5);

    let (_, m) = get(srv.http, "/metrics").await;
    assert_eq!(sample(&m, "sluice_raft_groups"), Some(2.0));
    assert_eq!(sample(&m, "sluice_raft_leaders"), Some(1.0));
    assert_eq!(sample(&m, "sluice_raft_wal_fsyncs_total"), Some(3.0));
    assert_eq!(sample(&m, "sluice_raft_wal_bytes_total"), Some(900.0));
    assert_eq!(
        sample(&m, "sluice_raft_replica_lag{stream=\"ORDERS\",peer=\"n2\"}"),
        Some(12.0)
    );
    assert_eq!(
        sample(&m, "sluice_jetstream_stream_messages{stream=\"ORDERS\"}"),
        Some(3.0)
    );
    assert_eq!(
        sample(&m, "sluice_jetstream_stream_bytes{stream=\"ORDERS\"}"),
        Some(30.0)
    );
    let c = "{stream=\"ORDERS\",consumer=\"C\"}";
    assert_eq!(
        sample(&m, &format!("sluice_jetstream_consumer_num_pending{c}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&m, &format!("sluice_jetstream_consumer_num_redelivered{c}")),
        Some(1.0)
    );
    assert_eq!(sample(&m, "sluice_jetstream_api_requests_total"), Some(7.0));

    srv.handle.set_jetstream_monitor(None);
    assert_eq!(get(srv.http, "/healthz").await.0, 503);
    srv.stop.cancel();
}
