//! Clustered JetStream in process: three servers joined by routes, each with the stream layer
//! and a meta group (on the in-memory test log), driven by a real client (async-nats) through
//! different servers: streams with one replica live on one server and are served by all.

mod common;

use async_nats::jetstream;
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r1_stream_is_created_through_one_server_and_served_by_every_server() {
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let (a, b, c) = (
        client(&nodes[0]).await,
        client(&nodes[1]).await,
        client(&nodes[2]).await,
    );

    // Created through the second server: placed somewhere, answered by its holder.
    let mut stream = b
        .create_stream(jetstream::stream::Config {
            name: "orders".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("create through n2");
    let info = stream.info().await.unwrap();
    let cluster = info.cluster.clone().expect("cluster info");
    assert_eq!(cluster.name.as_deref(), Some("c1"));
    let holder = cluster.leader.clone().expect("a leader");
    assert!(["n1", "n2", "n3"].contains(&holder.as_str()), "{holder}");

    // Published through the third, read through the first.
    for k in 0..10 {
        c.publish(format!("orders.{k}"), format!("m{k}").into())
            .await
            .unwrap()
            .await
            .expect("acked");
    }
    let info = a
        .get_stream("orders")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.state.messages, 10);

    // Names from any server; a second stream whose subjects overlap is refused cluster-wide.
    let names: Vec<String> = {
        use futures::TryStreamExt;
        c.stream_names().try_collect().await.unwrap()
    };
    assert_eq!(names, ["orders"]);
    let overlap = a
        .create_stream(jetstream::stream::Config {
            name: "other".into(),
            subjects: vec!["orders.1".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(overlap.to_string().contains("overlap"), "{overlap}");
    // A consumer through the first server reads what the third published.
    let consumer = a
        .get_stream("orders")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("d".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got = 0;
    {
        use futures::StreamExt;
        let mut msgs = consumer.fetch().max_messages(10).messages().await.unwrap();
        while let Some(m) = msgs.next().await {
            m.unwrap().ack().await.unwrap();
            got += 1;
        }
    }
    assert_eq!(got, 10);

    // Step-downs and peer removal of a one-replica stream are refused with the reason, not
    // answered success for nothing; unknown names as nats-server.
    let q = |subject: &'static str, body: &'static str| {
        let n = &nodes[1];
        async move {
            raw_request(n, subject, body, Duration::from_secs(5))
                .await
                .unwrap()
        }
    };
    let r = q("$JS.API.STREAM.LEADER.STEPDOWN.orders", "").await;
    assert_eq!(r["error"]["err_code"], 10003, "{r}");
    assert!(
        r["error"]["description"]
            .as_str()
            .unwrap()
            .contains("one replica"),
        "{r}"
    );
    assert_eq!(
        r["type"],
        "io.nats.jetstream.api.v1.stream_leader_stepdown_response"
    );
    let r = q("$JS.API.STREAM.LEADER.STEPDOWN.nope", "").await;
    assert_eq!(r["error"]["err_code"], 10059, "{r}");
    let r = q("$JS.API.CONSUMER.LEADER.STEPDOWN.orders.nope", "").await;
    assert_eq!(r["error"]["err_code"], 10014, "{r}");
    let r = q("$JS.API.CONSUMER.LEADER.STEPDOWN.orders.d", "").await;
    assert_eq!(r["error"]["err_code"], 10003, "{r}");
    let r = q("$JS.API.STREAM.PEER.REMOVE.orders", r#"{"peer":"zz"}"#).await;
    assert_eq!(r["error"]["err_code"], 10040, "{r}");
    let body: &'static str = Box::leak(format!(r#"{{"peer":"{holder}"}}"#).into_boxed_str());
    let r = q("$JS.API.STREAM.PEER.REMOVE.orders", body).await;
    assert_eq!(r["error"]["err_code"], 10075, "{r}");
    let r = q("$JS.API.STREAM.PEER.REMOVE.orders", "").await;
    assert_eq!(r["error"]["err_code"], 10003, "{r}");
    let r = q("$JS.API.SERVER.REMOVE", "").await;
    assert_eq!(r["error"]["err_code"], 10003, "{r}");
    let r = q("$JS.API.SERVER.REMOVE", r#"{"peer":"zz"}"#).await;
    assert_eq!(r["error"]["err_code"], 10044, "{r}");
    assert_eq!(
        r["type"],
        "io.nats.jetstream.api.v1.meta_server_remove_response"
    );

    // Deleted through another server: gone everywhere.
    assert!(c.delete_stream("orders").await.unwrap().success);
    let names: Vec<String> = {
        use futures::TryStreamExt;
        b.stream_names().try_collect().await.unwrap()
    };
    assert!(names.is_empty(), "{names:?}");
    let _ = &mut stream;
    stop(nodes).await;
}

/// Stops one node (its cluster, stream layer and server), keeping the others running.
async fn stop_one(nodes: &mut [Node], i: usize) {
    let n = &mut nodes[i];
    if let Some(js) = n.js.take() {
        js.stop_cluster().await;
        tokio::task::spawn_blocking(move || js.shutdown())
            .await
            .unwrap();
    }
    n.stop.cancel();
}

async fn raw_request(
    n: &Node,
    subject: &str,
    body: &str,
    wait: Duration,
) -> Result<serde_json::Value, String> {
    let c = async_nats::connect(format!("nats://{}", n.addr))
        .await
        .unwrap();
    match tokio::time::timeout(
        wait,
        c.request(subject.to_string(), body.to_string().into()),
    )
    .await
    {
        Ok(Ok(m)) => serde_json::from_slice(&m.payload).map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_leader_steps_down_and_a_lost_one_is_replaced() {
    let mut nodes = start(3).await;
    let first = wait_meta_leader(&nodes).await;
    let other = (first + 1) % 3;
    // /jsz's meta_cluster: the leader and its peer id everywhere, the others on the leader.
    let deadline = Instant::now() + Duration::from_secs(10);
    let meta = loop {
        let m = nodes[first]
            .js
            .as_ref()
            .unwrap()
            .monitor()
            .stats(false)
            .meta
            .unwrap();
        if m.replicas.len() == 2 && m.replicas.iter().all(|r| r.current && !r.offline) {
            break m;
        }
        assert!(Instant::now() < deadline, "replicas never current: {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let leader_name = format!("n{}", first + 1);
    assert_eq!(meta.name, "c1");
    assert_eq!(meta.leader, leader_name);
    assert_eq!(
        meta.peer,
        sluice_stream::cluster::peers::peer_id(&leader_name)
    );
    assert_eq!(meta.cluster_size, 3);
    assert!(meta.replicas.iter().all(|r| r.name != leader_name));
    let seen_by_other = nodes[other]
        .js
        .as_ref()
        .unwrap()
        .monitor()
        .stats(false)
        .meta
        .unwrap();
    assert_eq!(seen_by_other.leader, leader_name);
    assert!(seen_by_other.replicas.is_empty());
    let r = raw_request(
        &nodes[other],
        "$JS.API.META.LEADER.STEPDOWN",
        "",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r["success"], true, "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let l = wait_meta_leader(&nodes).await;
        if l != first {
            break l;
        }
        assert!(Instant::now() < deadline, "leadership did not move");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The new leader is lost: the remaining two elect one and serve creates again.
    stop_one(&mut nodes, second).await;
    let rest: Vec<usize> = (0..3).filter(|&i| i != second).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = raw_request(
            &nodes[rest[0]],
            "$JS.API.STREAM.CREATE.after",
            r#"{"name":"after","subjects":["after.>"]}"#,
            Duration::from_secs(5),
        )
        .await;
        if let Ok(v) = &r {
            if v.get("error").is_none() {
                assert_eq!(v["config"]["name"], "after");
                assert_eq!(v["did_create"], true);
                assert_eq!(v["cluster"]["name"], "c1", "{v}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no create after losing the meta leader: {r:?}"
        );
    }
    // Once the lost server has been silent for 5 s, nothing is placed on it: every create
    // is answered (nats-server 2.9.10 places on a killed server for ~150 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    for k in 0..6 {
        let body = format!(r#"{{"name":"s{k}","subjects":["s{k}"]}}"#);
        let subject = format!("$JS.API.STREAM.CREATE.s{k}");
        let v = raw_request(&nodes[rest[1]], &subject, &body, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("create s{k}: {e}"));
        assert!(v.get("error").is_none(), "{v}");
        assert_ne!(v["cluster"]["leader"], format!("n{}", second + 1));
    }
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_leader_without_quorum_answers_10008() {
    let mut nodes = start(3).await;
    let l = wait_meta_leader(&nodes).await;
    for i in (0..3).filter(|&i| i != l) {
        stop_one(&mut nodes, i).await;
    }
    let started = Instant::now();
    let r = raw_request(
        &nodes[l],
        "$JS.API.STREAM.CREATE.s",
        r#"{"name":"s","subjects":["s"]}"#,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(r["error"]["err_code"], 10008, "{r}");
    assert_eq!(r["error"]["code"], 503);
    assert_eq!(r["type"], "io.nats.jetstream.api.v1.stream_create_response");
    assert!(started.elapsed() < Duration::from_secs(8));
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_remove_takes_a_server_out_of_the_meta_group() {
    let nodes = start(3).await;
    let l = wait_meta_leader(&nodes).await;
    let victim = (l + 1) % 3;
    let body = format!(r#"{{"peer":"n{}"}}"#, victim + 1);
    let r = raw_request(
        &nodes[(l + 2) % 3],
        "$JS.API.SERVER.REMOVE",
        &body,
        Duration::from_secs(12),
    )
    .await
    .unwrap();
    assert_eq!(r["success"], true, "{r}");
    // Still connected, it is not added back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let peers = nodes[l]
        .js
        .as_ref()
        .unwrap()
        .cluster()
        .unwrap()
        .meta_peers();
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert!(!peers.contains(&format!("n{}", victim + 1)));
    // Removed again: no longer a member.
    let r = raw_request(
        &nodes[l],
        "$JS.API.SERVER.REMOVE",
        &body,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r["error"]["err_code"], 10044, "{r}");
    stop(nodes).await;
}
