//! Replicated streams in process: three servers joined by routes, a stream with three
//! replicas, driven by a real client (async-nats) through different servers; its leader's
//! server stopped, and the stream served again by the others.

mod common;

use async_nats::jetstream;
use common::*;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// Publishes `subject`/`payload` with a msg id until it is acked (retrying while the group
/// has no leader), as a client that must not lose a message does. Returns the ack's sequence.
async fn publish_until_acked(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    deadline: Instant,
) -> u64 {
    loop {
        let headers = {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Nats-Msg-Id", id);
            h
        };
        let r = js
            .publish_with_headers(subject.to_owned(), headers, "x".into())
            .await;
        if let Ok(ack) = r {
            if let Ok(Ok(ack)) = tokio::time::timeout(Duration::from_secs(1), ack).await {
                return ack.sequence;
            }
        }
        assert!(Instant::now() < deadline, "{id} never acked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn info_until(
    js: &jetstream::Context,
    name: &str,
    deadline: Instant,
    ok: impl Fn(&jetstream::stream::Info) -> bool,
) -> jetstream::stream::Info {
    loop {
        if let Ok(mut s) = js.get_stream(name).await {
            if let Ok(info) = s.info().await {
                if ok(info) {
                    return info.clone();
                }
            }
        }
        assert!(Instant::now() < deadline, "stream info never as expected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_keeps_every_acked_message_when_its_leader_stops() {
    let mut nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let clients = [
        client(&nodes[0]).await,
        client(&nodes[1]).await,
        client(&nodes[2]).await,
    ];
    let mut stream = clients[1]
        .create_stream(jetstream::stream::Config {
            name: "orders".into(),
            subjects: vec!["orders.>".into()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .expect("create an R3 stream");
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.num_replicas, 3);
    let cluster = info.cluster.clone().expect("cluster info");
    let leader = cluster.leader.clone().expect("a leader");
    assert_eq!(cluster.replicas.len(), 2, "{cluster:?}");
    assert!(cluster.replicas.iter().all(|r| r.name != leader));

    // Published through every server, each acked once the entry is committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    for k in 0..30 {
        let js = &clients[k % 3];
        let seq = publish_until_acked(js, &format!("orders.{k}"), &format!("m{k}"), deadline).await;
        assert_eq!(seq, k as u64 + 1);
    }
    // Monitoring: every server runs the meta group and the stream's; the leader (one server)
    // shows the others' lag, and every server names the same leader (eventually: leadership
    // may move on a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats: Vec<_> = nodes
            .iter()
            .map(|n| {
                n.js.as_ref()
                    .unwrap()
                    .monitor()
                    .stats(false)
                    .raft
                    .expect("raft stats")
            })
            .collect();
        assert!(stats.iter().all(|r| r.groups == 2), "{stats:?}");
        let leads = stats
            .iter()
            .filter(|r| r.streams[0].replicas.len() == 2)
            .count();
        let named = &stats[0].streams[0].leader;
        if leads == 1 && !named.is_empty() && stats.iter().all(|r| r.streams[0].leader == *named) {
            break;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A durable pull consumer, created through a follower's server, acks 10.
    let consumer = clients[2]
        .get_stream("orders")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("work".into()),
            ..Default::default()
        })
        .await
        .expect("create a consumer");
    // The consumer is replicated with its stream: its leader is the stream's.
    let mut consumer = consumer;
    let ci = consumer.info().await.unwrap().clone();
    let cc = ci.cluster.expect("consumer cluster info");
    assert!(cc.leader.is_some(), "{cc:?}");
    assert_eq!(cc.replicas.len(), 2);
    let mut msgs = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut got = 0;
    while let Some(m) = msgs.next().await {
        let m = m.unwrap();
        m.double_ack().await.expect("double ack");
        got += 1;
    }
    assert_eq!(got, 10);

    // The leader's server stops: another replica leads, and the stream is whole there.
    let leader = clients[0]
        .get_stream("orders")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .cluster
        .clone()
        .and_then(|c| c.leader)
        .expect("a leader");
    let leader_ix = ["n1", "n2", "n3"]
        .iter()
        .position(|n| *n == leader)
        .unwrap();
    let gone = nodes.remove(leader_ix);
    let failed_at = Instant::now();
    stop(vec![gone]).await;
    let rest: Vec<&jetstream::Context> = (0..3)
        .filter(|i| *i != leader_ix)
        .map(|i| &clients[i])
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    // A retry of an already stored message is not stored again.
    let seq = publish_until_acked(rest[0], "orders.0", "m0", deadline).await;
    assert_eq!(seq, 1, "a retried msg id is a duplicate");
    let seq = publish_until_acked(rest[1], "orders.new", "new", deadline).await;
    let took = failed_at.elapsed();
    assert_eq!(seq, 31);
    eprintln!("publishes succeeded again {took:?} after the leader's server stopped");
    let info = info_until(rest[0], "orders", deadline, |i| {
        i.cluster.as_ref().and_then(|c| c.leader.as_deref()) != Some(leader.as_str())
    })
    .await;
    assert_eq!(info.state.messages, 31);
    assert_eq!(info.state.last_sequence, 31);

    // The consumer goes on after the 10 acked: the next is the 11th.
    let consumer: jetstream::consumer::PullConsumer = rest[1]
        .get_stream("orders")
        .await
        .unwrap()
        .get_consumer("work")
        .await
        .expect("the consumer survived");
    let mut msgs = consumer.fetch().max_messages(1).messages().await.unwrap();
    let m = msgs.next().await.expect("a message").unwrap();
    assert_eq!(m.info().unwrap().stream_sequence, 11);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_is_deleted_everywhere_and_more_than_five_replicas_are_refused() {
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let a = client(&nodes[0]).await;
    let six = a
        .create_stream(jetstream::stream::Config {
            name: "r6".into(),
            subjects: vec!["r6".into()],
            num_replicas: 6,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(six.to_string().contains("maximum replicas is 5"), "{six}");
    let four = a
        .create_stream(jetstream::stream::Config {
            name: "r4".into(),
            subjects: vec!["r4".into()],
            num_replicas: 4,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(four.to_string().contains("no suitable peers"), "{four}");
    a.create_stream(jetstream::stream::Config {
        name: "gone".into(),
        subjects: vec!["gone.>".into()],
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    a.publish("gone.1", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(a.delete_stream("gone").await.unwrap().success);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running: usize = nodes
            .iter()
            .map(|n| n.js.as_ref().unwrap().stream_count())
            .sum();
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{running} replicas still run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let e = a.get_stream("gone").await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_leader_steps_down_to_another_replica_and_the_stream_goes_on() {
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let nc = async_nats::connect(format!("nats://{}", nodes[2].addr))
        .await
        .unwrap();
    let js = jetstream::new(nc.clone());
    let mut stream = js
        .create_stream(jetstream::stream::Config {
            name: "sd".into(),
            subjects: vec!["sd.>".into()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let before = stream.info().await.unwrap().cluster.clone().unwrap();
    let old = before
        .leader
        .clone()
        .expect("a leader in the create answer");
    let deadline = Instant::now() + Duration::from_secs(20);
    publish_until_acked(&js, "sd.1", "a", deadline).await;
    let answer = nc
        .request("$JS.API.STREAM.LEADER.STEPDOWN.sd", "".into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(v["success"], true, "{v}");
    let info = info_until(&js, "sd", deadline, |i| {
        i.cluster
            .as_ref()
            .and_then(|c| c.leader.as_deref())
            .is_some_and(|l| l != old)
    })
    .await;
    assert_eq!(info.state.messages, 1);
    let seq = publish_until_acked(&js, "sd.2", "b", deadline).await;
    assert_eq!(seq, 2);
    // A consumer's step-down names a consumer that must exist.
    let missing = nc
        .request("$JS.API.CONSUMER.LEADER.STEPDOWN.sd.nope", "".into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&missing.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10014, "{v}");
    stop(nodes).await;
}

/// How many servers run a replica of some stream, per server.
fn replicas_running(nodes: &[Node]) -> Vec<usize> {
    nodes
        .iter()
        .map(|n| n.js.as_ref().map_or(0, |j| j.stream_count()))
        .collect()
}

async fn until(what: &str, deadline: Instant, mut ok: impl FnMut() -> bool) {
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_stream_scales_down_and_up_and_loses_a_peer_safely() {
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[0]).await;
    let cfg = jetstream::stream::Config {
        name: "sc".into(),
        subjects: vec!["sc.>".into()],
        num_replicas: 3,
        ..Default::default()
    };
    js.create_stream(cfg.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for k in 0..5 {
        publish_until_acked(&js, "sc.a", &format!("a{k}"), deadline).await;
    }

    // 3 -> 2: one server leaves the group and drops its replica.
    let two = js
        .update_stream(jetstream::stream::Config {
            num_replicas: 2,
            ..cfg.clone()
        })
        .await
        .expect("scale down");
    assert_eq!(two.config.num_replicas, 2);
    until("two replicas run", deadline, || {
        replicas_running(&nodes).iter().sum::<usize>() == 2
    })
    .await;
    publish_until_acked(&js, "sc.b", "b", deadline).await;
    let info = info_until(&js, "sc", deadline, |i| {
        i.cluster.as_ref().is_some_and(|c| c.replicas.len() == 1)
    })
    .await;
    assert_eq!(info.state.messages, 6);

    // 2 -> 3: the third server comes back, catches up from the log, and is current.
    js.update_stream(cfg.clone()).await.expect("scale up");
    until("three replicas run", deadline, || {
        replicas_running(&nodes) == [1, 1, 1]
    })
    .await;
    let info = info_until(&js, "sc", deadline, |i| {
        i.cluster
            .as_ref()
            .is_some_and(|c| c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current))
    })
    .await;
    assert_eq!(info.state.messages, 6);

    // Moving between one replica and several is refused by name.
    let e = js
        .update_stream(jetstream::stream::Config {
            num_replicas: 1,
            ..cfg.clone()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("num_replicas"), "{e}");

    // A peer removed (no free server to replace it): the group goes on with two.
    let leader = info.cluster.unwrap().leader.unwrap();
    let victim = ["n1", "n2", "n3"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    let nc = async_nats::connect(format!("nats://{}", nodes[1].addr))
        .await
        .unwrap();
    let answer = nc
        .request(
            "$JS.API.STREAM.PEER.REMOVE.sc",
            format!(r#"{{"peer":"{victim}"}}"#).into(),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(v["success"], true, "{v}");
    let victim_ix = victim[1..].parse::<usize>().unwrap() - 1;
    until("the removed peer drops its replica", deadline, || {
        replicas_running(&nodes)[victim_ix] == 0
    })
    .await;
    let seq = publish_until_acked(&js, "sc.c", "c", deadline).await;
    assert_eq!(seq, 7);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_follows_server_tags_and_the_unique_tag() {
    // n1 and n2 share an availability zone; with unique_tag "az:" an R3 stream cannot be
    // placed on three servers, an R2 stream goes to two zones, and `placement.tags` picks.
    let nodes = start_tagged(
        &[vec!["az:1", "ssd"], vec!["az:1"], vec!["az:2", "ssd"]],
        "az:",
    )
    .await;
    wait_meta_leader(&nodes).await;
    // Reports (with the tags) go out every second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let js = client(&nodes[0]).await;
    let e = js
        .create_stream(jetstream::stream::Config {
            name: "r3".into(),
            subjects: vec!["r3".into()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no suitable peers"), "{e}");
    let mut s = js
        .create_stream(jetstream::stream::Config {
            name: "r2".into(),
            subjects: vec!["r2".into()],
            num_replicas: 2,
            placement: Some(jetstream::stream::Placement {
                tags: vec!["ssd".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("two zones, both with ssd");
    let c = s.info().await.unwrap().cluster.clone().unwrap();
    let mut members: Vec<String> = c.replicas.iter().map(|r| r.name.clone()).collect();
    members.push(c.leader.unwrap());
    members.sort();
    assert_eq!(members, ["n1", "n3"]);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_back_on_an_emptied_disk_is_caught_up_from_the_log() {
    let mut nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[0]).await;
    js.create_stream(jetstream::stream::Config {
        name: "w".into(),
        subjects: vec!["w.>".into()],
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for k in 0..20 {
        publish_until_acked(&js, "w.a", &format!("a{k}"), deadline).await;
    }
    // The third server goes, and comes back with nothing: no stream files, no Raft log.
    let gone = nodes.remove(2);
    let ports = gone.ports.clone();
    stop(vec![gone]).await;
    for k in 0..20 {
        publish_until_acked(&js, "w.b", &format!("b{k}"), deadline).await;
    }
    nodes.push(start_node(2, &ports, Vec::new(), "").await);
    for k in 0..5 {
        publish_until_acked(&js, "w.c", &format!("c{k}"), deadline).await;
    }
    // Its replica is rebuilt from the group's log: all 45, and the leader counts it current.
    let back = nodes[2].js.as_ref().unwrap();
    until("the emptied replica holds every message", deadline, || {
        back.monitor()
            .stats(true)
            .stream_list
            .first()
            .is_some_and(|s| s.messages == 45)
    })
    .await;
    let info = info_until(&js, "w", deadline, |i| {
        i.cluster
            .as_ref()
            .is_some_and(|c| c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current))
    })
    .await;
    assert_eq!(info.state.messages, 45);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_group_lives_past_the_snapshot_interval() {
    // Stream groups take snapshots when their machine asks (by the log's size), not every
    // `snapshot_every` entries (when they could take none, a failed snapshot stopped the
    // group: the stream stopped answering at its 10,000th entry).
    let timing = sluice_raft::Timing {
        snapshot_every: 20,
        keep_after_snapshot: 5,
        ..sluice_raft::Timing::default()
    };
    let nodes = start_timed(3, timing).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[0]).await;
    js.create_stream(jetstream::stream::Config {
        name: "long".into(),
        subjects: vec!["long".into()],
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for k in 0..60u64 {
        let seq = publish_until_acked(&js, "long", &format!("m{k}"), deadline).await;
        assert_eq!(seq, k + 1);
    }
    let info = info_until(&js, "long", deadline, |i| i.state.messages == 60).await;
    assert_eq!(info.state.last_sequence, 60);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_creates_gives_every_stream_a_leader() {
    // Each create is answered by its group's leader once it listens, so every answered create
    // is a stream with a leader. (One create in a burst of 40 was now and then answered only
    // at shutdown: the wake that told its owner it leads came while the owner was running a
    // step, and the pool dropped a wake with nothing queued; `pool::tests`.) (A group started by the periodic pass before its create was
    // handed on was never formed: runs of streams without a leader among 1,000 creates.)
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[1]).await;
    let creates = (0..40).map(|k| {
        let js = js.clone();
        async move {
            js.create_stream(jetstream::stream::Config {
                name: format!("B{k}"),
                subjects: vec![format!("b.{k}")],
                num_replicas: 3,
                ..Default::default()
            })
            .await
            .map(|_| ())
        }
    });
    let results = futures::future::join_all(creates).await;
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|r| r.1.is_err())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    for k in 0..40 {
        publish_until_acked(&js, &format!("b.{k}"), "x", deadline).await;
    }
    stop(nodes).await;
}

/// The stream's leader, once its info names one.
async fn leader_of(js: &jetstream::Context, name: &str, deadline: Instant) -> String {
    let info = info_until(js, name, deadline, |i| {
        i.cluster.as_ref().is_some_and(|c| c.leader.is_some())
    })
    .await;
    info.cluster.unwrap().leader.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_down_that_leaves_out_the_leader_is_answered_and_applied() {
    // The leader left out by a scale-down answered nothing and never changed the membership:
    // the client timed out and the group kept three members.
    let nodes = start(3).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[0]).await;
    let nc = async_nats::connect(format!("nats://{}", nodes[0].addr))
        .await
        .unwrap();
    let cfg = jetstream::stream::Config {
        name: "sl".into(),
        subjects: vec!["sl.>".into()],
        num_replicas: 3,
        ..Default::default()
    };
    js.create_stream(cfg.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    publish_until_acked(&js, "sl.a", "a", deadline).await;
    let two = |js: jetstream::Context, cfg: jetstream::stream::Config| async move {
        js.update_stream(jetstream::stream::Config {
            num_replicas: 2,
            ..cfg
        })
        .await
    };
    // A scale-down keeps the first placed peers: find the one it leaves out, and bring it
    // back as the last placed peer.
    two(js.clone(), cfg.clone()).await.expect("scale down");
    until("two replicas run", deadline, || {
        replicas_running(&nodes).iter().sum::<usize>() == 2
    })
    .await;
    let out = replicas_running(&nodes)
        .iter()
        .position(|&n| n == 0)
        .unwrap();
    let out_name = format!("n{}", out + 1);
    js.update_stream(cfg.clone()).await.expect("scale up");
    until("three replicas run", deadline, || {
        replicas_running(&nodes) == [1, 1, 1]
    })
    .await;
    info_until(&js, "sl", deadline, |i| {
        i.cluster
            .as_ref()
            .is_some_and(|c| c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current))
    })
    .await;
    // Move the leadership there.
    let mut tries = 0;
    while leader_of(&js, "sl", deadline).await != out_name {
        tries += 1;
        assert!(tries < 20, "{out_name} never led");
        let _ = nc
            .request("$JS.API.STREAM.LEADER.STEPDOWN.sl", "".into())
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let seq = publish_until_acked(&js, "sl.b", "b", deadline).await;
    assert_eq!(seq, 2);

    // Scale down again: the leader is the peer left out.
    let info = two(js.clone(), cfg.clone())
        .await
        .expect("the scale-down is answered");
    assert_eq!(info.config.num_replicas, 2);
    until("the left-out leader drops its replica", deadline, || {
        replicas_running(&nodes)[out] == 0 && replicas_running(&nodes).iter().sum::<usize>() == 2
    })
    .await;
    let info = info_until(&js, "sl", deadline, |i| {
        i.cluster.as_ref().is_some_and(|c| {
            c.replicas.len() == 1 && c.leader.as_deref().is_some_and(|l| l != out_name)
        })
    })
    .await;
    assert_eq!(info.state.messages, 2);
    let seq = publish_until_acked(&js, "sl.c", "c", deadline).await;
    assert_eq!(seq, 3);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_back_on_an_emptied_disk_after_the_log_was_purged_is_installed_from_a_snapshot() {
    // The group's log is purged below its snapshots (taken once the log since the last one
    // passes 64 KiB here and twice the stream's bytes): a replica back on an emptied disk is
    // installed from the leader's snapshot, consumer included, then goes on from the log.
    let timing = sluice_raft::Timing {
        keep_after_snapshot: 5,
        ..sluice_raft::Timing::default()
    };
    let mut nodes = start_timed(3, timing.clone()).await;
    wait_meta_leader(&nodes).await;
    let js = client(&nodes[0]).await;
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "snap".into(),
            subjects: vec!["snap.>".into()],
            num_replicas: 3,
            max_messages: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("D".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = "x".repeat(1024);
    let publish = |k: u64| {
        let js = js.clone();
        let body = body.clone();
        async move {
            loop {
                let mut h = async_nats::HeaderMap::new();
                h.insert("Nats-Msg-Id", format!("m{k}").as_str());
                if let Ok(ack) = js
                    .publish_with_headers("snap.a", h, body.clone().into())
                    .await
                {
                    if let Ok(Ok(ack)) = tokio::time::timeout(Duration::from_secs(1), ack).await {
                        return ack.sequence;
                    }
                }
                assert!(Instant::now() < deadline, "m{k} never acked");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for k in 1..=100u64 {
        assert_eq!(publish(k).await, k);
    }
    // The consumer takes and acks 10 (messages 51 to 60: the older ones are gone).
    let mut batch = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut acked = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        acked.push(m.info().unwrap().stream_sequence);
        m.double_ack().await.unwrap();
    }
    assert_eq!(acked, (51..=60).collect::<Vec<u64>>());
    // The third server goes, and comes back with nothing while more is published.
    let gone = nodes.remove(2);
    let ports = gone.ports.clone();
    stop(vec![gone]).await;
    for k in 101..=300u64 {
        assert_eq!(publish(k).await, k);
    }
    // Both servers left have taken a snapshot and purged their log below it (each decides
    // for itself; a leader that still had the entries would send them instead).
    let purged = |n: &Node| {
        n.js.as_ref()
            .unwrap()
            .monitor()
            .stats(true)
            .raft
            .and_then(|r| {
                r.streams
                    .into_iter()
                    .find(|s| s.stream == "snap")
                    .map(|s| (s.snapshot, s.purged))
            })
    };
    until("a snapshot and a purged log", deadline, || {
        nodes
            .iter()
            .all(|n| purged(n).is_some_and(|(s, p)| s > 0 && p > 100))
    })
    .await;
    nodes.push(start_node_timed(2, &ports, Vec::new(), "", timing).await);
    for k in 301..=305u64 {
        assert_eq!(publish(k).await, k);
    }
    let back = nodes[2].js.as_ref().unwrap();
    until("the emptied replica holds the stream", deadline, || {
        back.monitor()
            .stats(true)
            .stream_list
            .first()
            .is_some_and(|s| {
                s.messages == 50 && s.consumers.first().is_some_and(|c| c.num_pending == 50)
            })
    })
    .await;
    // Installed from a snapshot.
    until("the emptied replica has a snapshot", deadline, || {
        purged(&nodes[2]).is_some_and(|(s, _)| s > 100)
    })
    .await;
    info_until(&js, "snap", deadline, |i| {
        i.cluster
            .as_ref()
            .is_some_and(|c| c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current))
    })
    .await;
    // It leads: what it serves is what the log made (the acked are not delivered again, a
    // retried id is a duplicate).
    let nc = async_nats::connect(format!("nats://{}", nodes[0].addr))
        .await
        .unwrap();
    let mut tries = 0;
    while leader_of(&js, "snap", deadline).await != "n3" {
        tries += 1;
        assert!(tries < 20, "n3 never led");
        let _ = nc
            .request("$JS.API.STREAM.LEADER.STEPDOWN.snap", "".into())
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        publish(300).await,
        300,
        "a duplicate, answered with its sequence"
    );
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(info.ack_floor.stream_sequence, 60, "{info:?}");
    let mut batch = consumer.fetch().max_messages(3).messages().await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        got.push(m.info().unwrap().stream_sequence);
        m.ack().await.unwrap();
    }
    assert_eq!(
        got,
        [256, 257, 258],
        "the oldest messages still held, none acked before"
    );
    stop(nodes).await;
}
