//! A real client, async-nats, against the broker: what an application sees.
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` shows the same client code behaves that way with the reference.
//! Every wait is bounded: each await goes through [`within`], and each body through
//! [`TEST_LIMIT`].

use async_nats::{Client, ConnectOptions, HeaderMap, Message, RequestErrorKind, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use integration_tests::client;
use integration_tests::{both_async, Broker, Kind};
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

/// The longest any single wait may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Awaits `f` for at most [`STEP`]; panics naming `what` if it takes longer.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    client::within_for(STEP, what, f).await
}

/// Starts a broker of `kind` and connects a client to it.
async fn setup(kind: Kind, args: &[&str]) -> (Broker, Client) {
    let broker = Broker::start(kind, args);
    let client = within("connect", async_nats::connect(broker.url()))
        .await
        .expect("connect");
    (broker, client)
}

/// The next message, within [`STEP`].
async fn next(sub: &mut Subscriber, what: &str) -> Message {
    within(what, sub.next())
        .await
        .unwrap_or_else(|| panic!("subscription ended: {what}"))
}

/// Asserts nothing more arrives on `sub` within a short quiet period.
async fn nothing_more(sub: &mut Subscriber) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

/// Waits until the server has processed everything `client` sent so far. (async-nats's
/// `flush` only writes the socket buffer out; it does not wait for the server.) A message to a
/// fresh inbox coming back proves the server got to it, and the server handles one
/// connection's ops in order.
async fn round_trip(client: &Client) {
    let inbox = client.new_inbox();
    let mut probe = within("probe subscribe", client.subscribe(inbox.clone()))
        .await
        .unwrap();
    within("probe publish", client.publish(inbox, Bytes::new()))
        .await
        .unwrap();
    within("flush", client.flush()).await.unwrap();
    next(&mut probe, "round trip probe").await;
}

/// Runs a test body under [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    client::bounded(TEST_LIMIT, body).await
}

both_async!(
    async fn server_info(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let info = client.server_info();
            assert!(info.headers, "{info:?}");
            assert_eq!(info.max_payload, 1048576);
            assert_eq!(info.proto, 1);
            assert!(!info.server_id.is_empty());
            assert_eq!(client.max_payload(), 1048576);
        })
        .await
    }
);

both_async!(
    async fn publish_subscribe(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let mut sub = within("subscribe", client.subscribe("greet.joe")).await.unwrap();
            within("flush", client.flush()).await.unwrap();
            for word in ["hello", "", "bye"] {
                within("publish", client.publish("greet.joe", Bytes::from(word))).await.unwrap();
            }
            within("flush", client.flush()).await.unwrap();
            for word in ["hello", "", "bye"] {
                let m = next(&mut sub, word).await;
                assert_eq!(m.subject.as_str(), "greet.joe");
                assert_eq!(m.payload, Bytes::from(word));
                assert!(m.reply.is_none());
            }
            nothing_more(&mut sub).await;
        })
        .await
    }
);

both_async!(
    async fn publish_between_clients_with_reply(kind) {
        bounded(async {
            let (b, publisher) = setup(kind, &[]).await;
            let subscriber = within("connect", async_nats::connect(b.url())).await.unwrap();
            let mut sub = within("subscribe", subscriber.subscribe("x.y")).await.unwrap();
            round_trip(&subscriber).await;
            within("publish", publisher.publish_with_reply("x.y", "back.here", "data".into()))
                .await
                .unwrap();
            within("flush", publisher.flush()).await.unwrap();
            let m = next(&mut sub, "x.y").await;
            assert_eq!(m.payload, Bytes::from("data"));
            assert_eq!(m.reply.as_ref().map(|r| r.as_str()), Some("back.here"));
        })
        .await
    }
);

both_async!(
    async fn wildcards(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let mut star = within("sub", client.subscribe("a.*")).await.unwrap();
            let mut tail = within("sub", client.subscribe("a.>")).await.unwrap();
            let mut all = within("sub", client.subscribe(">")).await.unwrap();
            let mut mid = within("sub", client.subscribe("*.b.*")).await.unwrap();
            within("flush", client.flush()).await.unwrap();
            for subject in ["a.b", "a.b.c", "a", "x.b.y"] {
                within("publish", client.publish(subject, subject.into())).await.unwrap();
            }
            within("flush", client.flush()).await.unwrap();
            let expect: [(&mut Subscriber, &[&str]); 4] = [
                (&mut star, &["a.b"]),
                (&mut tail, &["a.b", "a.b.c"]),
                (&mut all, &["a.b", "a.b.c", "a", "x.b.y"]),
                (&mut mid, &["a.b.c", "x.b.y"]),
            ];
            for (sub, subjects) in expect {
                for subject in subjects {
                    let m = next(sub, subject).await;
                    assert_eq!(m.subject.as_str(), *subject);
                    assert_eq!(m.payload, Bytes::from(*subject));
                }
                nothing_more(sub).await;
            }
        })
        .await
    }
);

both_async!(
    /// Three members of one queue group, 300 messages: each is delivered exactly once across
    /// the group and every member gets some. A plain subscriber on the side gets all 300.
    async fn queue_group(kind) {
        bounded(async {
            let (b, publisher) = setup(kind, &[]).await;
            let mut members = Vec::new();
            let mut clients = Vec::new();
            for _ in 0..3 {
                let c = within("connect", async_nats::connect(b.url())).await.unwrap();
                let s = within("queue_subscribe", c.queue_subscribe("jobs", "workers".into()))
                    .await
                    .unwrap();
                round_trip(&c).await;
                members.push(s);
                clients.push(c);
            }
            let mut plain = within("subscribe", publisher.subscribe("jobs")).await.unwrap();
            within("flush", publisher.flush()).await.unwrap();
            const N: usize = 300;
            for i in 0..N {
                within("publish", publisher.publish("jobs", i.to_string().into())).await.unwrap();
            }
            within("flush", publisher.flush()).await.unwrap();

            let collectors: Vec<_> = members
                .into_iter()
                .map(|mut s| {
                    tokio::spawn(async move {
                        let mut got = Vec::new();
                        // Stop after a quiet second: all 300 are sent and flushed by now.
                        while let Ok(Some(m)) =
                            tokio::time::timeout(Duration::from_secs(1), s.next()).await
                        {
                            got.push(String::from_utf8(m.payload.to_vec()).unwrap());
                        }
                        got
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for (i, c) in collectors.into_iter().enumerate() {
                let got = within("collect", c).await.unwrap();
                assert!(!got.is_empty(), "member {i} got no message");
                seen.extend(got);
            }
            assert_eq!(seen.len(), N, "each message delivered exactly once in the group");
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), N, "no message delivered twice");
            for i in 0..N {
                let m = next(&mut plain, "plain subscriber").await;
                assert_eq!(m.payload, Bytes::from(i.to_string()));
            }
        })
        .await
    }
);

both_async!(
    async fn request_reply(kind) {
        bounded(async {
            let (b, client) = setup(kind, &[]).await;
            let service = within("connect", async_nats::connect(b.url())).await.unwrap();
            let mut requests = within("subscribe", service.subscribe("svc.reverse")).await.unwrap();
            round_trip(&service).await;
            let responder = tokio::spawn(async move {
                while let Some(m) = requests.next().await {
                    let mut body = m.payload.to_vec();
                    body.reverse();
                    if let Some(reply) = m.reply {
                        service.publish(reply, body.into()).await.unwrap();
                        service.flush().await.unwrap();
                    }
                }
            });
            for word in ["abc", "hello", ""] {
                let answer = within("request", client.request("svc.reverse", Bytes::from(word)))
                    .await
                    .expect("request answered");
                let want: String = word.chars().rev().collect();
                assert_eq!(answer.payload, Bytes::from(want));
            }
            responder.abort();
        })
        .await
    }
);

both_async!(
    /// A request to a subject nobody subscribes to fails fast with NoResponders (the server's
    /// 503), not with a timeout.
    async fn no_responders(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let started = std::time::Instant::now();
            let err = within("request", client.request("nobody.home", "hi".into()))
                .await
                .expect_err("no responders");
            assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err:?}");
            assert!(started.elapsed() < Duration::from_secs(5), "answered by the server, not a timeout");
        })
        .await
    }
);

both_async!(
    async fn headers_round_trip(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let mut sub = within("subscribe", client.subscribe("h")).await.unwrap();
            within("flush", client.flush()).await.unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("Single", "one");
            headers.append("Multi", "first");
            headers.append("Multi", "second");
            headers.insert("Spaces", "a value with spaces");
            within("publish", client.publish_with_headers("h", headers, "body".into()))
                .await
                .unwrap();
            within("publish", client.publish_with_headers("h", HeaderMap::new(), "".into()))
                .await
                .unwrap();
            within("flush", client.flush()).await.unwrap();
            let m = next(&mut sub, "with headers").await;
            assert_eq!(m.payload, Bytes::from("body"));
            let h = m.headers.expect("headers arrived");
            assert_eq!(h.get("Single").map(|v| v.as_str()), Some("one"));
            let multi: Vec<&str> = h.get_all("Multi").map(|v| v.as_str()).collect();
            assert_eq!(multi, ["first", "second"]);
            assert_eq!(h.get("Spaces").map(|v| v.as_str()), Some("a value with spaces"));
            let m = next(&mut sub, "empty headers").await;
            assert_eq!(m.payload, Bytes::new());
        })
        .await
    }
);

both_async!(
    async fn unsubscribe_after(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let mut sub = within("subscribe", client.subscribe("limited")).await.unwrap();
            within("unsubscribe_after", sub.unsubscribe_after(3)).await.unwrap();
            within("flush", client.flush()).await.unwrap();
            for i in 0..5 {
                within("publish", client.publish("limited", i.to_string().into())).await.unwrap();
            }
            within("flush", client.flush()).await.unwrap();
            for i in 0..3 {
                let m = next(&mut sub, "limited").await;
                assert_eq!(m.payload, Bytes::from(i.to_string()));
            }
            assert!(
                within("end of subscription", sub.next()).await.is_none(),
                "the subscription ends after 3 messages"
            );
        })
        .await
    }
);

both_async!(
    async fn unsubscribe(kind) {
        bounded(async {
            let (b, client) = setup(kind, &[]).await;
            let publisher = within("connect", async_nats::connect(b.url())).await.unwrap();
            let mut sub = within("subscribe", client.subscribe("u")).await.unwrap();
            round_trip(&client).await;
            within("publish", publisher.publish("u", "1".into())).await.unwrap();
            within("flush", publisher.flush()).await.unwrap();
            assert_eq!(next(&mut sub, "before unsubscribe").await.payload, Bytes::from("1"));
            within("unsubscribe", sub.unsubscribe()).await.unwrap();
            round_trip(&client).await;
            within("publish", publisher.publish("u", "2".into())).await.unwrap();
            within("flush", publisher.flush()).await.unwrap();
            assert!(within("end", sub.next()).await.is_none());
        })
        .await
    }
);

both_async!(
    /// Draining a subscription ends it after the messages that had reached it; draining the
    /// client closes it. (async-nats drains without a server round trip, so each test first
    /// makes sure the messages have come back from the server.)
    async fn drain(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            let mut sub = within("subscribe", client.subscribe("d")).await.unwrap();
            for i in 0..100 {
                within("publish", client.publish("d", i.to_string().into())).await.unwrap();
            }
            round_trip(&client).await;
            within("drain", sub.drain()).await.unwrap();
            let mut got = Vec::new();
            while let Some(m) = within("drained messages", sub.next()).await {
                got.push(m.payload);
            }
            let want: Vec<Bytes> = (0..100).map(|i| Bytes::from(i.to_string())).collect();
            assert_eq!(got, want);

            let mut other = within("subscribe", client.subscribe("e")).await.unwrap();
            within("publish", client.publish("e", "last".into())).await.unwrap();
            round_trip(&client).await;
            within("client drain", client.drain()).await.unwrap();
            let mut rest = Vec::new();
            while let Some(m) = within("client drain messages", other.next()).await {
                rest.push(m.payload);
            }
            assert_eq!(rest, [Bytes::from("last")]);
            assert!(
                within("publish after drain", client.publish("e", "late".into())).await.is_err()
                    || within("flush after drain", client.flush()).await.is_err(),
                "a drained client is closed"
            );
        })
        .await
    }
);

both_async!(
    async fn ten_thousand_in_order(kind) {
        bounded(async {
            let (b, publisher) = setup(kind, &[]).await;
            let subscriber = within("connect", async_nats::connect(b.url())).await.unwrap();
            let mut sub = within("subscribe", subscriber.subscribe("seq")).await.unwrap();
            round_trip(&subscriber).await;
            const N: u32 = 10_000;
            let sender = tokio::spawn(async move {
                for i in 0..N {
                    publisher.publish("seq", i.to_be_bytes().to_vec().into()).await.unwrap();
                }
                publisher.flush().await.unwrap();
                publisher
            });
            for i in 0..N {
                let m = next(&mut sub, "sequence").await;
                assert_eq!(m.payload.as_ref(), i.to_be_bytes(), "message {i} in order");
            }
            within("sender", sender).await.unwrap();
            nothing_more(&mut sub).await;
        })
        .await
    }
);

both_async!(
    /// flush writes out everything buffered: 1000 messages published without awaiting
    /// anything else all arrive, and flush with nothing pending returns at once.
    async fn flush(kind) {
        bounded(async {
            let (_b, client) = setup(kind, &[]).await;
            within("flush", client.flush()).await.expect("flush with nothing pending");
            let mut sub = within("subscribe", client.subscribe("f")).await.unwrap();
            for i in 0..1000u32 {
                within("publish", client.publish("f", i.to_string().into())).await.unwrap();
            }
            within("flush", client.flush()).await.expect("flush");
            for i in 0..1000u32 {
                let m = next(&mut sub, "after flush").await;
                assert_eq!(m.payload, Bytes::from(i.to_string()));
            }
            within("flush", client.flush()).await.expect("flush again");
        })
        .await
    }
);

both_async!(
    async fn user_password_auth(kind) {
        bounded(async {
            let b = Broker::start(kind, &["--user", "alice", "--pass", "s3cret"]);
            let good = within(
                "connect",
                ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
                    .connect(b.url()),
            )
            .await
            .expect("right credentials are accepted");
            let mut sub = within("subscribe", good.subscribe("ok")).await.unwrap();
            within("publish", good.publish("ok", "yes".into())).await.unwrap();
            within("flush", good.flush()).await.unwrap();
            assert_eq!(next(&mut sub, "ok").await.payload, Bytes::from("yes"));

            let bad = within(
                "connect",
                ConnectOptions::with_user_and_password("alice".into(), "wrong".into())
                    .connect(b.url()),
            )
            .await;
            assert!(bad.is_err(), "wrong password is refused");
            let none = within("connect", async_nats::connect(b.url())).await;
            assert!(none.is_err(), "no credentials is refused");
        })
        .await
    }
);

both_async!(
    async fn token_auth(kind) {
        bounded(async {
            let b = Broker::start(kind, &["--auth", "t0ken"]);
            let good = within(
                "connect",
                ConnectOptions::with_token("t0ken".into()).connect(b.url()),
            )
            .await
            .expect("right token is accepted");
            within("flush", good.flush()).await.unwrap();
            let bad = within(
                "connect",
                ConnectOptions::with_token("nope".into()).connect(b.url()),
            )
            .await;
            assert!(bad.is_err(), "wrong token is refused");
        })
        .await
    }
);
