//! Core NATS across a cluster of three nodes joined by routes: pub/sub, headers, wildcards,
//! unsubscribe and auto-unsubscribe, queue groups, request-reply and no-responders, a node
//! killed and restarted, a mesh formed by gossip from one seed, and how interest propagates.
//!
//! Each case is one function taking the node kinds; `integration_tests::cluster_cases!` gives it three
//! wrappers: `nats_server_3` (three nats-server 2.9.10 nodes: the reference),
//! `sluice_3` and `mixed` (`[Sluice, Sluice, NatsServer]`).
//!
//! Interest crosses routes asynchronously, so before publishing on node A to a subscription on
//! node B a test waits with [`await_interest`] (see `integration_tests::cluster`): a probe
//! subscription made after the real ones, on the same client, reaching A proves A has them.
//! No fixed sleeps stand in for it. Every wait is bounded, and each body by [`TEST_LIMIT`].
//!
//! What nats-server 2.9.10 does, as these tests pin it down (on 127.0.0.1):
//!
//! - Mesh: nodes started one after another with full `--routes` lists see all their routes
//!   within milliseconds of the last one listening (the later nodes dial the earlier ones); a
//!   configured route that is refused is retried every second, so a node that solicits a
//!   route that was cut gets it back within about 1 s of the heal. A SIGKILLed peer's route is
//!   dropped at once (the kernel closes its sockets); a restarted node is back in the mesh
//!   in milliseconds. Gossip from one seed gives a full mesh as fast.
//! - Interest: the PONG after a SUB means the SUB's server has it; its routes get the RS+
//!   asynchronously. A publish on another node right after the PONG was dropped in about one
//!   round in three; the next one, 20 ms later, always arrived. Per route, interest changes
//!   from one client connection are applied in the order it made them (the probe barrier
//!   relies on that).
//! - Queue groups: for a client's publish a node picks at random among its local members and
//!   one entry per route with members (weighted by their count): no preference for local
//!   members (each of three members gets about a third of each node's messages). A message
//!   that arrived over a route goes to a local member only.
//! - `UNSUB <sid> <max>` with messages still to go keeps the route interest until the max is
//!   reached (then RS-); messages from other nodes count towards the max.
//! - A SIGSTOPped node does not hold up the others; after SIGCONT it delivers what waited.

use async_nats::{Client, HeaderMap, Message, RequestErrorKind, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use integration_tests::client::{self, within};
use integration_tests::cluster::{
    await_interest, connect_each, publish_until_received, raw_await_interest, Cluster, ClusterOpts,
    Routes,
};
use integration_tests::raw::{escape_short, Raw};
use integration_tests::Kind;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);
/// How long a cluster may take to form (every node sees every other).
const FORM: Duration = Duration::from_secs(15);
/// How long interest may take to cross the routes.
const INTEREST: Duration = Duration::from_secs(10);
/// The quiet period that shows nothing (more) arrives.
const QUIET: Duration = Duration::from_millis(300);
/// CONNECT for raw clients: headers and no-responders on, no echo of -OK.
const RAW_CONNECT: &str =
    r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}"#;

integration_tests::cluster_cases!(
    limit: super::TEST_LIMIT;

    pubsub_across_nodes,
    headers_cross_exactly,
    wildcard_interest,
    unsubscribe_propagation,
    auto_unsubscribe,
    queue_groups_across_cluster,
    request_reply_across_nodes,
    kill9_and_restart,
    gossip_from_single_seed,
    interest_propagation_is_eventual,
    frozen_node_does_not_block_others,
    route_cut_and_heal,
);

/// Starts a full-mesh cluster of `kinds`, waits for it to form, connects a client to each node.
async fn formed(kinds: &[Kind]) -> (Cluster, Vec<Client>) {
    let mut cluster = Cluster::start(kinds, ClusterOpts::default());
    let took = cluster.wait_formed(FORM);
    eprintln!("cluster {kinds:?} formed in {took:?}");
    let clients = connect_each(&cluster).await;
    (cluster, clients)
}

/// The other clients than `i`'s.
fn others(clients: &[Client], i: usize) -> Vec<&Client> {
    clients
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, c)| c)
        .collect()
}

/// The next message within [`client::STEP`].
async fn next(sub: &mut Subscriber, what: &str) -> Message {
    within(what, sub.next())
        .await
        .unwrap_or_else(|| panic!("subscription ended: {what}"))
}

/// Asserts nothing (more) arrives on `sub` within [`QUIET`].
async fn nothing_more(sub: &mut Subscriber, what: &str) {
    if let Ok(Some(m)) = tokio::time::timeout(QUIET, sub.next()).await {
        panic!(
            "{what}: unexpected message on {}: {:?}",
            m.subject, m.payload
        );
    }
}

/// A payload of `len` bytes that starts with `tag` (and is not all the same byte).
fn payload(tag: &str, len: usize) -> Bytes {
    let mut v: Vec<u8> = tag.as_bytes().to_vec();
    v.extend((0..len.saturating_sub(v.len())).map(|i| b'a' + (i % 26) as u8));
    v.truncate(len);
    Bytes::from(v)
}

/// Every node publishes to a subject every node subscribes to: 16 B, 1 KiB, and a message
/// with headers (HPUB); each subscriber gets all nine, each publisher's three in order.
async fn pubsub_across_nodes(kinds: &[Kind]) {
    let (_cluster, clients) = formed(kinds).await;
    let n = clients.len();
    let mut subs = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("cross.data").await.unwrap());
    }
    for (i, c) in clients.iter().enumerate() {
        await_interest(c, &others(&clients, i), INTEREST).await;
    }
    for (p, c) in clients.iter().enumerate() {
        c.publish("cross.data", payload(&format!("{p}:"), 16))
            .await
            .unwrap();
        c.publish("cross.data", payload(&format!("{p}:"), 1024))
            .await
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert("From", format!("n{p}").as_str());
        h.insert("X-Multi", "one");
        h.append("X-Multi", "two");
        c.publish_with_headers("cross.data", h, payload(&format!("{p}:h"), 5))
            .await
            .unwrap();
        c.flush().await.unwrap();
    }
    for (s, sub) in subs.iter_mut().enumerate() {
        let mut by_pub: HashMap<usize, Vec<Message>> = HashMap::new();
        for k in 0..3 * n {
            let m = next(sub, &format!("message {k} on n{s}")).await;
            let from: usize = (m.payload[0] - b'0') as usize;
            by_pub.entry(from).or_default().push(m);
        }
        for p in 0..n {
            let got = &by_pub[&p];
            let what = format!("on n{s} from n{p}");
            assert_eq!(got.len(), 3, "{what}");
            assert_eq!(got[0].payload, payload(&format!("{p}:"), 16), "{what}");
            assert!(got[0].headers.is_none(), "{what}");
            assert_eq!(got[1].payload, payload(&format!("{p}:"), 1024), "{what}");
            let h = got[2]
                .headers
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: headers"));
            assert_eq!(got[2].payload, payload(&format!("{p}:h"), 5), "{what}");
            assert_eq!(
                h.get("From").map(|v| v.as_str()),
                Some(format!("n{p}").as_str()),
                "{what}"
            );
            let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
            assert_eq!(multi, ["one", "two"], "{what}");
        }
        nothing_more(sub, &format!("n{s}")).await;
    }
}

/// With raw TCP, the exact bytes a subscriber on n1 gets for PUB and HPUB (with and without a
/// reply subject) sent on n0 and n2: the same MSG/HMSG a local publisher would produce.
async fn headers_cross_exactly(kinds: &[Kind]) {
    let (cluster, _clients) = formed(kinds).await;
    let mut sub = Raw::connected(cluster.addr(1), RAW_CONNECT);
    let mut p0 = Raw::connected(cluster.addr(0), RAW_CONNECT);
    let mut p2 = Raw::connected(cluster.addr(2), RAW_CONNECT);
    sub.send(b"SUB hx.> 7\r\n");
    raw_await_interest(&mut sub, &mut [&mut p0, &mut p2], 1000, INTEREST);
    let hdr = "NATS/1.0\r\nA: b\r\nA: c\r\nWeird-Case: x y\r\n\r\n";
    let hl = hdr.len();
    for (p, publ) in [(0, &mut p0), (2, &mut p2)] {
        let script = format!(
            "PUB hx.plain 5\r\nhello\r\n\
             PUB hx.reply _R.{p} 0\r\n\r\n\
             HPUB hx.h {hl} {}\r\n{hdr}n{p}!\r\n\
             HPUB hx.hr _R.{p} {hl} {hl}\r\n{hdr}\r\n\
             PING\r\n",
            hl + 3
        );
        publ.send(script.as_bytes());
        publ.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
        let want = format!(
            "MSG hx.plain 7 5\r\nhello\r\n\
             MSG hx.reply 7 _R.{p} 0\r\n\r\n\
             HMSG hx.h 7 {hl} {}\r\n{hdr}n{p}!\r\n\
             HMSG hx.hr 7 _R.{p} {hl} {hl}\r\n{hdr}\r\n",
            hl + 3
        );
        let got = sub.read_until(Duration::from_secs(5), |b| b.len() >= want.len());
        assert_eq!(
            escape_short(&got),
            escape_short(want.as_bytes()),
            "what n1 delivers for n{p}'s publishes"
        );
    }
    assert_eq!(sub.read_for(QUIET), b"", "nothing more on n1");
}

/// `*` and `>` subscriptions on other nodes get exactly the subjects they match.
async fn wildcard_interest(kinds: &[Kind]) {
    let (_cluster, clients) = formed(kinds).await;
    let mut star = clients[1].subscribe("wc.*").await.unwrap();
    let mut full = clients[2].subscribe("wc.>").await.unwrap();
    let mut mid = clients[2].subscribe("*.mid.*").await.unwrap();
    await_interest(&clients[1], &[&clients[0], &clients[2]], INTEREST).await;
    await_interest(&clients[2], &[&clients[0], &clients[1]], INTEREST).await;
    for s in [
        "wc", "wc.a", "wc.a.b", "wc.x.y.z", "wcx.a", "x.wc.a", "wc.mid.z", "a.mid", "wc.end",
    ] {
        clients[0].publish(s, Bytes::from(s)).await.unwrap();
    }
    clients[0].flush().await.unwrap();
    let subjects = |ms: Vec<Message>| {
        ms.into_iter()
            .map(|m| m.subject.to_string())
            .collect::<Vec<_>>()
    };
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(next(&mut star, "wc.*").await);
    }
    assert_eq!(subjects(got), ["wc.a", "wc.end"]);
    nothing_more(&mut star, "wc.*").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&mut full, "wc.>").await);
    }
    assert_eq!(
        subjects(got),
        ["wc.a", "wc.a.b", "wc.x.y.z", "wc.mid.z", "wc.end"]
    );
    nothing_more(&mut full, "wc.>").await;
    assert_eq!(next(&mut mid, "*.mid.*").await.subject.as_str(), "wc.mid.z");
    nothing_more(&mut mid, "*.mid.*").await;

    // And the other way: n2 publishes, the `*` on n1 gets it.
    clients[2].publish("wc.back", "b".into()).await.unwrap();
    clients[2].flush().await.unwrap();
    assert_eq!(
        next(&mut star, "wc.* from n2").await.subject.as_str(),
        "wc.back"
    );
    assert_eq!(
        next(&mut full, "wc.> local").await.subject.as_str(),
        "wc.back"
    );
}

/// After UNSUB on n1, a publish on n0 is no longer delivered there (raw TCP: not a byte
/// arrives); another local subscription on the same subject keeps the interest alive.
async fn unsubscribe_propagation(kinds: &[Kind]) {
    let (cluster, _clients) = formed(kinds).await;
    let mut b = Raw::connected(cluster.addr(1), RAW_CONNECT);
    let mut a = Raw::connected(cluster.addr(0), RAW_CONNECT);
    b.send(b"SUB un.x 1\r\nSUB un.y 2\r\nSUB un.y 3\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1000, INTEREST);
    a.send(b"PUB un.x 3\r\none\r\nPUB un.y 3\r\nyyy\r\nPING\r\n");
    a.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
    let want = "MSG un.x 1 3\r\none\r\n";
    let got = b.read_until(Duration::from_secs(5), |x| x.len() >= want.len() + 2 * 18);
    let got = String::from_utf8_lossy(&got).into_owned();
    assert!(got.starts_with(want), "{got:?}");
    assert!(got.contains("MSG un.y 2 3\r\nyyy\r\n"), "{got:?}");
    assert!(got.contains("MSG un.y 3 3\r\nyyy\r\n"), "{got:?}");

    b.send(b"UNSUB 1\r\nUNSUB 2\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1001, INTEREST);
    a.send(b"PUB un.x 3\r\ntwo\r\nPUB un.y 3\r\nYYY\r\nPING\r\n");
    a.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
    let want = b"MSG un.y 3 3\r\nYYY\r\n";
    let got = b.read_until(Duration::from_secs(5), |x| x.len() >= want.len());
    assert_eq!(
        escape_short(&got),
        escape_short(want),
        "only sid 3 still gets"
    );
    assert_eq!(
        escape_short(&b.read_for(QUIET)),
        "",
        "nothing for the removed sid"
    );

    // The last one goes: nothing crosses any more.
    b.send(b"UNSUB 3\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1002, INTEREST);
    a.send(b"PUB un.y 5\r\nthree\r\nPUB un.x 4\r\nfour\r\nPING\r\n");
    a.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
    assert_eq!(
        escape_short(&b.read_for(QUIET)),
        "",
        "no interest left on n1"
    );
}

/// `UNSUB <sid> <max>` across routes, as nats-server 2.9.10 does it (client.go,
/// processUnsub/deliverMsg): with messages still to go, the UNSUB only sets the max and the
/// route interest stays, so messages from other nodes count towards the max; when the max is
/// reached the subscription goes and so does the route interest (RS-). With the max already
/// reached (`UNSUB <sid> <n>`, n <= delivered) it is removed at once.
async fn auto_unsubscribe(kinds: &[Kind]) {
    let (cluster, _clients) = formed(kinds).await;
    let mut b = Raw::connected(cluster.addr(1), RAW_CONNECT);
    let mut b_pub = Raw::connected(cluster.addr(1), RAW_CONNECT);
    let mut a = Raw::connected(cluster.addr(0), RAW_CONNECT);
    let wait = Duration::from_secs(5);
    let pong = |x: &[u8]| x.ends_with(b"PONG\r\n");

    // UNSUB 4 1 before anything was delivered: the remote message is the one.
    b.send(b"SUB au.x 4\r\nUNSUB 4 1\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1000, INTEREST);
    a.send(b"PUB au.x 2\r\nr1\r\nPUB au.x 2\r\nr2\r\nPING\r\n");
    a.read_until(wait, pong);
    let want = b"MSG au.x 4 2\r\nr1\r\n";
    assert_eq!(
        escape_short(&b.read_until(wait, |x| x.len() >= want.len())),
        escape_short(want),
        "the remote message counts towards the max"
    );
    assert_eq!(escape_short(&b.read_for(QUIET)), "", "max 1 reached");
    // Gone cluster-wide: neither a remote nor a local publish reaches it.
    raw_await_interest(&mut b, &mut [&mut a], 1001, INTEREST);
    a.send(b"PUB au.x 2\r\nr3\r\nPING\r\n");
    a.read_until(wait, pong);
    b_pub.send(b"PUB au.x 2\r\nl1\r\nPING\r\n");
    b_pub.read_until(wait, pong);
    assert_eq!(escape_short(&b.read_for(QUIET)), "", "unsubscribed");

    // UNSUB 5 2 with one of two to go: one more, from whichever node.
    b.send(b"SUB au.y 5\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1002, INTEREST);
    a.send(b"PUB au.y 2\r\nm1\r\nPING\r\n");
    a.read_until(wait, pong);
    let want = b"MSG au.y 5 2\r\nm1\r\n";
    assert_eq!(
        escape_short(&b.read_until(wait, |x| x.len() >= want.len())),
        escape_short(want)
    );
    b.send(b"UNSUB 5 2\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1003, INTEREST);
    a.send(b"PUB au.y 2\r\nm2\r\nPUB au.y 2\r\nm3\r\nPING\r\n");
    a.read_until(wait, pong);
    let want = b"MSG au.y 5 2\r\nm2\r\n";
    assert_eq!(
        escape_short(&b.read_until(wait, |x| x.len() >= want.len())),
        escape_short(want),
        "route interest kept until the max is reached"
    );
    assert_eq!(escape_short(&b.read_for(QUIET)), "", "max 2 reached");

    // UNSUB 6 1 after one delivery: the max is already reached, removed at once.
    b.send(b"SUB au.z 6\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1004, INTEREST);
    b_pub.send(b"PUB au.z 2\r\nz1\r\nPING\r\n");
    b_pub.read_until(wait, pong);
    let want = b"MSG au.z 6 2\r\nz1\r\n";
    assert_eq!(
        escape_short(&b.read_until(wait, |x| x.len() >= want.len())),
        escape_short(want)
    );
    b.send(b"UNSUB 6 1\r\n");
    raw_await_interest(&mut b, &mut [&mut a], 1005, INTEREST);
    a.send(b"PUB au.z 2\r\nz2\r\nPING\r\n");
    a.read_until(wait, pong);
    assert_eq!(escape_short(&b.read_for(QUIET)), "", "removed at once");
}

/// One member of queue group `g` on each node; every node publishes 3000 messages; each is
/// delivered to exactly one member cluster-wide. nats-server 2.9.10 does not prefer the
/// publisher's local member for a client's publish: it picks at random among the local members
/// and one entry per route with members (weighted by their count), so each node's member
/// gets about a third of each node's messages. (It does keep a message that arrived over a
/// route on that node: the local member gets it, never another route.) With the local member
/// gone, the publisher's node splits them between the other two.
async fn queue_groups_across_cluster(kinds: &[Kind]) {
    const PER_NODE: usize = 3000;
    let (_cluster, clients) = formed(kinds).await;
    let n = clients.len();
    let mut members = Vec::new();
    for c in &clients {
        members.push(c.queue_subscribe("work", "g".into()).await.unwrap());
    }
    for (i, c) in clients.iter().enumerate() {
        await_interest(c, &others(&clients, i), INTEREST).await;
    }
    let publish_all = |from: Vec<usize>, tag: &'static str| {
        let clients = clients.clone();
        async move {
            for p in from {
                for k in 0..PER_NODE {
                    clients[p]
                        .publish("work", format!("{tag}{p}-{k}").into())
                        .await
                        .unwrap();
                }
                clients[p].flush().await.unwrap();
            }
        }
    };
    publish_all((0..n).collect(), "a").await;
    // member -> publisher -> ids
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut counts = vec![vec![0usize; n]; n];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut total = 0;
    while total < n * PER_NODE {
        assert!(
            Instant::now() < deadline,
            "only {total} delivered: {counts:?}"
        );
        for (m, sub) in members.iter_mut().enumerate() {
            while let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(5), sub.next()).await
            {
                let id = String::from_utf8(msg.payload.to_vec()).unwrap();
                let p: usize = id[1..2].parse().unwrap();
                counts[m][p] += 1;
                *seen.entry(id).or_default() += 1;
                total += 1;
            }
        }
    }
    for (m, sub) in members.iter_mut().enumerate() {
        nothing_more(sub, &format!("member on n{m}")).await;
    }
    assert_eq!(seen.len(), n * PER_NODE, "every message delivered");
    let dups: Vec<_> = seen.iter().filter(|(_, &c)| c != 1).collect();
    assert!(dups.is_empty(), "delivered more than once: {dups:?}");
    eprintln!("queue deliveries [member][publisher]: {counts:?}");
    // Uniform over three members: mean 1000, sd ~26; 700..1300 is > 10 sd.
    for (m, row) in counts.iter().enumerate() {
        for (p, &c) in row.iter().enumerate() {
            assert!(
                (700..=1300).contains(&c),
                "member on n{m} got {c} of n{p}'s {PER_NODE} (expected about a third): {counts:?}"
            );
        }
    }

    // Without a member on n0, n0's messages go to n1's and n2's members.
    let mut m0 = members.remove(0);
    m0.unsubscribe().await.unwrap();
    await_interest(&clients[0], &[&clients[1], &clients[2]], INTEREST).await;
    publish_all(vec![0], "b").await;
    let mut got = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.iter().sum::<usize>() < PER_NODE {
        assert!(Instant::now() < deadline, "only {got:?} delivered");
        for (m, sub) in members.iter_mut().enumerate() {
            while let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(5), sub.next()).await
            {
                assert!(msg.payload.starts_with(b"b0-"), "{:?}", msg.payload);
                got[m] += 1;
            }
        }
    }
    for sub in members.iter_mut() {
        nothing_more(sub, "after the local member left").await;
    }
    eprintln!("n0's messages without a local member, to n1/n2: {got:?}");
    for c in got {
        assert!((1200..=1800).contains(&c), "{got:?}");
    }
}

/// Requests from each node to a responder on n2 get their replies (the reply inbox lives on the
/// requester's node); a request with no responder anywhere gets no-responders (503) at once;
/// and a request whose only responder is on another node is not answered with no-responders.
async fn request_reply_across_nodes(kinds: &[Kind]) {
    let (_cluster, clients) = formed(kinds).await;
    // Before any responder exists: 503 from every node.
    for (i, c) in clients.iter().enumerate() {
        let err = within("request svc.echo", c.request("svc.echo", "x".into()))
            .await
            .expect_err("no responder anywhere");
        assert_eq!(
            err.kind(),
            RequestErrorKind::NoResponders,
            "from n{i}: {err}"
        );
    }
    let mut responder = clients[2].subscribe("svc.echo").await.unwrap();
    let rc = clients[2].clone();
    let serve = tokio::spawn(async move {
        while let Some(m) = responder.next().await {
            let Some(reply) = m.reply else { continue };
            let mut body = b"echo:".to_vec();
            body.extend_from_slice(&m.payload);
            rc.publish(reply, body.into()).await.unwrap();
        }
    });
    await_interest(&clients[2], &[&clients[0], &clients[1]], INTEREST).await;
    for round in 0..3 {
        for (i, c) in clients.iter().enumerate() {
            let body = format!("r{round}-n{i}");
            let reply = within("request", c.request("svc.echo", body.clone().into()))
                .await
                .unwrap_or_else(|e| panic!("request from n{i} (round {round}): {e}"));
            assert_eq!(reply.payload, format!("echo:{body}").as_bytes());
        }
    }
    // A subject nobody serves is still 503, from a node that has routes with interest in others.
    let err = within(
        "request svc.none",
        clients[0].request("svc.none", "x".into()),
    )
    .await
    .expect_err("no responder for svc.none");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    serve.abort();
}

/// n0 killed with -9: the other two keep their routes to each other and their traffic; n0
/// restarted on the same ports rejoins (both see it again), learns their subscriptions, and
/// traffic flows both ways again.
async fn kill9_and_restart(kinds: &[Kind]) {
    let (mut cluster, clients) = formed(kinds).await;
    let mut s1 = clients[1].subscribe("kr.x").await.unwrap();
    let mut s2 = clients[2].subscribe("kr.x").await.unwrap();
    await_interest(&clients[1], &[&clients[2]], INTEREST).await;
    await_interest(&clients[2], &[&clients[1]], INTEREST).await;

    cluster.kill9(0);
    let t = Instant::now();
    cluster
        .wait_routes(&[1, 2], 1, FORM)
        .unwrap_or_else(|e| panic!("survivors after kill -9 of n0: {e}"));
    eprintln!("survivors dropped the dead route in {:?}", t.elapsed());
    clients[1].publish("kr.x", "from1".into()).await.unwrap();
    clients[1].flush().await.unwrap();
    assert_eq!(
        next(&mut s2, "n1 -> n2 with n0 dead").await.payload,
        "from1"
    );
    assert_eq!(next(&mut s1, "n1 local").await.payload, "from1");

    cluster.restart(0);
    let took = cluster.wait_formed(FORM);
    eprintln!("n0 rejoined in {took:?} after restart");
    let c0 = client::connect(&cluster.url(0)).await;
    // Interest from n1/n2 reaches the restarted n0 with the routes' initial RS+ exchange; a
    // probe subscription made now could overtake it there, so retry the real subject.
    let tries = publish_until_received(&c0, "kr.x", &mut [&mut s1, &mut s2], INTEREST).await;
    eprintln!("restarted n0 routed to n1 and n2 after {tries} publishes");
    c0.publish("kr.x", "from0".into()).await.unwrap();
    c0.flush().await.unwrap();
    assert_eq!(next(&mut s1, "n0 -> n1").await.payload, "from0");
    assert_eq!(next(&mut s2, "n0 -> n2").await.payload, "from0");

    let mut s0 = c0.subscribe("kr.back").await.unwrap();
    await_interest(&c0, &[&clients[1], &clients[2]], INTEREST).await;
    clients[2].publish("kr.back", "from2".into()).await.unwrap();
    clients[2].flush().await.unwrap();
    assert_eq!(next(&mut s0, "n2 -> restarted n0").await.payload, "from2");
    nothing_more(&mut s0, "n0").await;
    nothing_more(&mut s1, "n1").await;
}

/// Nodes 1 and 2 are given only node 0's route URL; gossip makes a full mesh (each node's
/// /routez lists the other two by name) and n1 and n2 talk over their own route.
async fn gossip_from_single_seed(kinds: &[Kind]) {
    let mut cluster = Cluster::start(kinds, ClusterOpts::seed());
    let took = cluster.wait_formed(FORM);
    eprintln!("mesh from a single seed formed in {took:?}");
    for i in 0..3 {
        let want: Vec<usize> = (0..3).filter(|&j| j != i).collect();
        assert_eq!(cluster.route_peers(i).unwrap(), want, "routes of n{i}");
    }
    let clients = connect_each(&cluster).await;
    let mut s2 = clients[2].subscribe("gossip.x").await.unwrap();
    let mut s1 = clients[1].subscribe("gossip.y").await.unwrap();
    await_interest(&clients[2], &[&clients[1]], INTEREST).await;
    await_interest(&clients[1], &[&clients[2]], INTEREST).await;
    clients[1].publish("gossip.x", "1to2".into()).await.unwrap();
    clients[2].publish("gossip.y", "2to1".into()).await.unwrap();
    clients[1].flush().await.unwrap();
    clients[2].flush().await.unwrap();
    assert_eq!(next(&mut s2, "n1 -> n2").await.payload, "1to2");
    assert_eq!(next(&mut s1, "n2 -> n1").await.payload, "2to1");

    // The seed going away leaves n1 and n2 connected.
    cluster.kill9(0);
    cluster.wait_routes(&[1, 2], 1, FORM).unwrap();
    clients[1]
        .publish("gossip.x", "still".into())
        .await
        .unwrap();
    clients[1].flush().await.unwrap();
    assert_eq!(
        next(&mut s2, "n1 -> n2 without the seed").await.payload,
        "still"
    );
}

/// How interest propagates, measured with raw TCP: SUB on n1 and a PING/PONG round trip there
/// (n1 has the subscription), then n0 publishes every [`PROBE_EVERY`] until one arrives. The
/// PONG does not promise n0 has the interest; a bounded retry is the right wait (or the probe
/// barrier, [`raw_await_interest`]). Once one message crosses, every later one does, in order.
async fn interest_propagation_is_eventual(kinds: &[Kind]) {
    use integration_tests::cluster::PROBE_EVERY;
    let (cluster, _clients) = formed(kinds).await;
    let mut b = Raw::connected(cluster.addr(1), RAW_CONNECT);
    let mut a = Raw::connected(cluster.addr(0), RAW_CONNECT);
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let subject = format!("ev.{round}");
        b.send(format!("SUB {subject} 1\r\nPING\r\n").as_bytes());
        b.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
        let t = Instant::now();
        let mut tries = 0;
        // Each retry is delivered as `MSG ev.N 1 5\r\ntryNN\r\n`: `retry_len` bytes.
        let retry_head = format!("MSG {subject} 1 5\r\ntry");
        let retry_len = retry_head.len() + 4;
        let mut early: Vec<u8> = Vec::new();
        loop {
            assert!(
                t.elapsed() < INTEREST,
                "{subject}: no delivery after {tries} publishes"
            );
            a.send(format!("PUB {subject} 5\r\ntry{:02}\r\nPING\r\n", tries % 100).as_bytes());
            a.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
            tries += 1;
            let need = retry_len - early.len();
            early.extend(b.read_until(PROBE_EVERY, |x| x.len() >= need));
            if early.len() >= retry_len {
                assert!(
                    early.starts_with(retry_head.as_bytes()),
                    "{}",
                    escape_short(&early)
                );
                break;
            }
        }
        worst = worst.max(t.elapsed());
        eprintln!(
            "{subject}: delivered after {tries} publish(es), {:?}",
            t.elapsed()
        );
        // Retries still on their way arrive before what follows (one route, in order); they
        // are skipped below.
        let mut script = String::new();
        for k in 0..100 {
            script.push_str(&format!("PUB {subject} 3\r\n{k:03}\r\n"));
        }
        script.push_str("PING\r\n");
        a.send(script.as_bytes());
        a.read_until(Duration::from_secs(5), |x| x.ends_with(b"PONG\r\n"));
        let want: String = (0..100)
            .map(|k| format!("MSG {subject} 1 3\r\n{k:03}\r\n"))
            .collect();
        let last = format!("MSG {subject} 1 3\r\n099\r\n");
        early.extend(b.read_until(Duration::from_secs(5), |x| x.ends_with(last.as_bytes())));
        let mut got = &early[..];
        while got.starts_with(retry_head.as_bytes()) {
            got = &got[retry_len..];
        }
        assert_eq!(
            escape_short(got),
            escape_short(want.as_bytes()),
            "all 100, in order"
        );
        b.send(b"UNSUB 1\r\n");
        b.sync();
    }
    eprintln!("interest reached n0 at most {worst:?} after n1's PONG");
}

/// n2 frozen with SIGSTOP (its sockets open, nothing read): n0's messages still reach n1 at
/// once, though n2 subscribes too; after SIGCONT n2's subscriber gets them all, in order.
async fn frozen_node_does_not_block_others(kinds: &[Kind]) {
    let (mut cluster, clients) = formed(kinds).await;
    let mut s1 = clients[1].subscribe("fz.x").await.unwrap();
    let mut s2 = clients[2].subscribe("fz.x").await.unwrap();
    await_interest(&clients[1], &[&clients[0]], INTEREST).await;
    await_interest(&clients[2], &[&clients[0]], INTEREST).await;
    cluster.sigstop(2);
    for k in 0..100 {
        clients[0]
            .publish("fz.x", format!("{k}").into())
            .await
            .unwrap();
    }
    clients[0].flush().await.unwrap();
    for k in 0..100 {
        let m = next(&mut s1, "n0 -> n1 with n2 frozen").await;
        assert_eq!(m.payload, format!("{k}").as_bytes());
    }
    nothing_more(&mut s2, "frozen n2").await;
    cluster.sigcont(2);
    for k in 0..100 {
        let m = next(&mut s2, "n0 -> n2 after SIGCONT").await;
        assert_eq!(m.payload, format!("{k}").as_bytes());
    }
    cluster.wait_formed(FORM);
}

/// Two nodes (the first and last kinds) whose one route runs through a [`Proxy`]
/// ([`Routes::SeedViaProxy`]): blackholed, a message waits and arrives on heal; delayed, it
/// arrives no sooner than the delay; cut, the route drops on both sides and what is published
/// meanwhile is lost; healed, the node that dialled dials again, the route is back, the
/// subscription from before the cut and one made during it both get messages again.
async fn route_cut_and_heal(kinds: &[Kind]) {
    let kinds = [kinds[0], kinds[kinds.len() - 1]];
    let mut cluster = Cluster::start(
        &kinds,
        ClusterOpts {
            routes: Routes::SeedViaProxy,
            ..ClusterOpts::default()
        },
    );
    cluster.wait_formed(FORM);
    let clients = connect_each(&cluster).await;
    let (c0, c1) = (&clients[0], &clients[1]);
    let mut s1 = c1.subscribe("ch.x").await.unwrap();
    await_interest(c1, &[c0], INTEREST).await;

    cluster.proxy(1).blackhole();
    c0.publish("ch.x", "held".into()).await.unwrap();
    c0.flush().await.unwrap();
    nothing_more(&mut s1, "blackholed route").await;
    cluster.proxy(1).heal();
    assert_eq!(
        next(&mut s1, "held message after heal").await.payload,
        "held"
    );

    cluster.proxy(1).delay(Duration::from_millis(150));
    let t = Instant::now();
    c0.publish("ch.x", "slow".into()).await.unwrap();
    c0.flush().await.unwrap();
    assert_eq!(next(&mut s1, "delayed").await.payload, "slow");
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    cluster.proxy(1).delay(Duration::ZERO);

    cluster.proxy(1).cut();
    let t = Instant::now();
    cluster
        .wait_routes(&[0, 1], 0, FORM)
        .unwrap_or_else(|e| panic!("route not dropped after cut: {e}"));
    eprintln!("route dropped {:?} after the cut", t.elapsed());
    c0.publish("ch.x", "lost".into()).await.unwrap();
    c0.flush().await.unwrap();
    let mut s1y = c1.subscribe("ch.y").await.unwrap();
    c1.flush().await.unwrap();
    nothing_more(&mut s1, "no route").await;

    cluster.proxy(1).heal();
    let t = Instant::now();
    cluster
        .wait_routes(&[0, 1], 1, FORM)
        .unwrap_or_else(|e| panic!("route not back after heal: {e}"));
    eprintln!("route back {:?} after heal", t.elapsed());
    publish_until_received(c0, "ch.x", &mut [&mut s1], INTEREST).await;
    publish_until_received(c0, "ch.y", &mut [&mut s1y], INTEREST).await;
    c0.publish("ch.x", "after".into()).await.unwrap();
    c0.flush().await.unwrap();
    assert_eq!(next(&mut s1, "after heal").await.payload, "after");
    assert!(
        cluster.proxy(1).accepted() >= 2,
        "n1 dialled again through the proxy"
    );
}

/// The harness itself: with `jetstream`, each node gets its own store directory, and
/// nats-server puts its JetStream state there.
#[test]
fn harness_gives_each_node_its_own_store() {
    if integration_tests::skip_without_nats_server() {
        return;
    }
    let mut cluster = Cluster::start(
        &[Kind::NatsServer; 3],
        ClusterOpts {
            jetstream: true,
            ..ClusterOpts::default()
        },
    );
    cluster.wait_formed(FORM);
    let dirs: Vec<_> = cluster
        .nodes
        .iter()
        .map(|n| n.store.as_ref().expect("store dir").path().to_owned())
        .collect();
    assert_eq!(
        dirs.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    for d in &dirs {
        while !d.join("jetstream").exists() {
            assert!(
                Instant::now() < deadline,
                "{} has no jetstream/",
                d.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for i in 0..3 {
        let v = cluster.monitor(i, "/varz").unwrap();
        assert_eq!(v["server_name"], format!("n{i}"), "{v}");
        assert_eq!(v["cluster"]["name"], "c", "{v}");
    }
}
