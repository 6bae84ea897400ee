//! A copy rebuilt mid-way from another's image (`Stream::image` and `Consumers::image`
//! through JSON, as a stream group's snapshot would carry them) goes on exactly as the
//! original: the same outcomes, effects, deliveries, statuses, advisories and double-ack
//! replies, byte for byte, for a pull consumer with a request waiting at the time of the
//! image and a bound push consumer, through redeliveries, max deliveries and an expiry.

use super::message_tests::{
    ack, acks_of, next, publish_op, pull_consumer, Copy, Nobody, StepOut, MS, T0,
};
use super::tests::server;
use super::*;
use crate::consumer::config::{AckPolicy, ConsumerAction};
use crate::consumer::image::ConsumersImage;
use crate::stream::StreamImage;
use std::sync::Arc;

fn push_consumer(now: i64) -> StreamOp {
    StreamOp::CreateConsumer {
        config: Box::new(ConsumerConfig {
            durable_name: "PU".into(),
            deliver_subject: "_INBOX.push".into(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: 1_000 * MS,
            max_deliver: 3,
            ..ConsumerConfig::default()
        }),
        action: ConsumerAction::CreateOrUpdate,
        generated_name: "unused".into(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
        advisory_id: format!("adv-push-{now}"),
    }
}

/// The ack subjects of the deliveries of consumer `name` in a step.
fn acks_for(out: &StepOut, name: &str) -> Vec<String> {
    let prefix = format!("$JS.ACK.S.{name}.");
    acks_of(out)
        .into_iter()
        .filter(|a| a.starts_with(&prefix))
        .collect()
}

#[tokio::test]
async fn a_copy_restored_from_an_image_goes_on_as_the_original() {
    let (_server, handle) = server().await;
    let _inbox = handle
        .subscribe("_INBOX.>", None, Arc::new(Nobody))
        .unwrap();
    let mut a = Copy::new(&handle);
    let mut t = T0;
    let h: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
    // The history before the image.
    a.step(
        vec![
            pull_consumer(t),
            push_consumer(t),
            publish_op("s.a", Some(h), b"one", t),
            publish_op("s.b", None, b"two", t),
            publish_op("s.c", None, b"three", t),
        ],
        t,
        false,
    );
    t += MS;
    let bound = a.step(
        vec![StreamOp::Interest {
            now_ns: t,
            replies: Vec::new(),
            push: vec![("PU".into(), true)],
        }],
        t,
        false,
    );
    let pushed = acks_for(&bound, "PU");
    assert_eq!(pushed.len(), 3, "{:?}", bound.outbox);
    t += MS;
    let pulled = a.step(vec![next("_INBOX.pull1", r#"{"batch":2}"#, t)], t, false);
    let delivered = acks_for(&pulled, "P");
    assert_eq!(delivered.len(), 2, "{:?}", pulled.outbox);
    t += MS;
    let waiting = a.step(
        vec![
            ack(&delivered[0], Some("_INBOX.dack"), "+ACK", t),
            ack(&pushed[1], None, "+ACK", t),
            // The message with id m1 goes; its id stays in the window.
            StreamOp::DeleteMsg { seq: 1 },
            next("_INBOX.pull2", r#"{"batch":5,"expires":10000000000}"#, t),
        ],
        t,
        false,
    );
    assert_eq!(acks_for(&waiting, "P").len(), 1, "the third message");
    let p = waiting.consumers.iter().find(|c| c.0 == "P").unwrap();
    assert_eq!(p.3, 1, "a request waits for four more");

    // B from A's image, through JSON.
    let stream: StreamImage =
        serde_json::from_slice(&serde_json::to_vec(&a.stream.image().unwrap()).unwrap()).unwrap();
    let consumers: ConsumersImage =
        serde_json::from_slice(&serde_json::to_vec(&a.consumers.image()).unwrap()).unwrap();
    let mut b = Copy::new(&handle.fork());
    b.stream.restore_image(&stream).unwrap();
    b.consumers.restore_image(&consumers).unwrap();
    assert_eq!(b.consumers.image(), a.consumers.image());

    let mut both = |ops: Vec<StreamOp>, tick: i64| {
        let oa = a.step(ops.clone(), tick, false);
        let ob = b.step(ops, tick, false);
        assert_eq!(oa, ob);
        oa
    };
    t += MS;
    // A retry of the removed message's id is a duplicate on both; new messages go to the
    // waiting request and the push consumer.
    let more = both(
        vec![
            publish_op("s.d", Some(h), b"again", t),
            publish_op("s.e", None, b"four", t),
            publish_op("s.f", None, b"five", t),
        ],
        t,
    );
    assert!(
        more.outcomes[0].contains("Duplicate(1)"),
        "{:?}",
        more.outcomes
    );
    assert_eq!(acks_for(&more, "P").len(), 2, "{:?}", more.outbox);
    assert_eq!(acks_for(&more, "PU").len(), 2, "{:?}", more.outbox);
    // Ack waits pass: redeliveries, then max deliveries.
    t += 1_100 * MS;
    let again = both(vec![next("_INBOX.pull3", r#"{"batch":4}"#, t)], t);
    assert!(!acks_for(&again, "P").is_empty(), "{:?}", again.outbox);
    assert!(!acks_for(&again, "PU").is_empty(), "{:?}", again.outbox);
    t += 1_100 * MS;
    let maxed = both(
        vec![next("_INBOX.pull4", r#"{"batch":4,"no_wait":true}"#, t)],
        t,
    );
    let routes: Vec<&str> = maxed.outbox.iter().map(|m| m.0.as_str()).collect();
    assert!(
        routes.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.P"),
        "{routes:?}"
    );
    // The request waiting at the time of the image expires on both.
    t += 10_000 * MS;
    both(Vec::new(), t);
    assert_eq!(a.consumers.image(), b.consumers.image());
    assert_eq!(a.stream.image().unwrap(), b.stream.image().unwrap());
}

#[tokio::test]
async fn an_image_replaces_the_consumers_a_copy_had() {
    let (_server, handle) = server().await;
    let mut a = Copy::new(&handle);
    let mut b = Copy::new(&handle.fork());
    let t = T0;
    a.step(vec![pull_consumer(t)], t, false);
    b.step(vec![push_consumer(t)], t, false);
    b.consumers.restore_image(&a.consumers.image()).unwrap();
    let names: Vec<String> = b.consumers.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(names, ["P"]);
    // An unreadable state is refused with the consumer's name.
    let mut image = a.consumers.image();
    image.consumers[0].state = vec![1, 2, 3];
    let e = b.consumers.restore_image(&image).unwrap_err();
    assert!(e.contains("consumer P"), "{e}");
}
