//! Answers when the stream cannot do what was asked. A store change (purge, message delete)
//! whose step's sync failed is answered with an error, not success. A request handed to a
//! stream whose owner has finished (shut down, or failed) is answered by the API thread in the
//! request's own shape: JSON reads with their response type and
//! "stream is stopping", a direct get with a `503` status header (regression: every read got
//! a STREAM.INFO-shaped error, and a direct get a JSON body where clients expect headers).

use super::slow_disk_tests::{create, start, Client, FAIL_SYNC};
use super::*;
use crate::api::deferred::Read;
use crate::api::types::MsgGetKind;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_a_stopped_stream_get_their_own_answer_shape() {
    let (_dir, _server, handle, js) = start().await;
    let inner = js.inner.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&handle);
        create(&mut c, "GONE", "gone.>", true);
        let r = c.request("gone.a", b"x");
        assert_eq!(r["seq"], 1, "{r}");
        // The owner finishes, as at shutdown; the entry stays for the API to find.
        let mut entry = inner.streams.write().remove("GONE").unwrap();
        entry.stop();
        let reads = [
            Read::DirectGet(MsgGetKind::Seq(1)),
            Read::MsgGet(MsgGetKind::Seq(1)),
            Read::ConsumerInfo { name: "C".into() },
            Read::ConsumerList { offset: 0 },
            Read::StreamInfoSubjects {
                filter: ">".into(),
                offset: 0,
            },
        ];
        let mut answers = Vec::new();
        for (i, read) in reads.into_iter().enumerate() {
            let reply = format!("inbox.stopped.{i}");
            inner.defer(
                &entry,
                Request::Read {
                    read,
                    reply: reply.clone(),
                },
            );
            let m = c.answer(Duration::from_secs(2)).expect("an answer");
            assert_eq!(&*m.subject, reply);
            answers.push(m);
        }
        let status = answers[0].headers.as_deref().expect("a status header");
        assert!(
            String::from_utf8_lossy(status).starts_with("NATS/1.0 503"),
            "{:?}",
            String::from_utf8_lossy(status)
        );
        assert!(answers[0].payload.is_empty());
        for (m, kind) in answers[1..].iter().zip([
            "io.nats.jetstream.api.v1.stream_msg_get_response",
            "io.nats.jetstream.api.v1.consumer_info_response",
            "io.nats.jetstream.api.v1.consumer_list_response",
            "io.nats.jetstream.api.v1.stream_info_response",
        ]) {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["type"], kind, "{v}");
            assert_eq!(v["error"]["description"], "stream is stopping", "{v}");
        }
    })
    .await
    .unwrap();
    js.shutdown();
}

/// Regression: a purge or message delete whose step's sync failed was still answered
/// success (only the step's PubAcks were turned into errors). Its answer is now an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_change_whose_sync_failed_is_not_answered_success() {
    let (_dir, _server, handle, js) = start().await;
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&handle);
        create(&mut c, "FAILSYNC1", "fs.>", false);
        for _ in 0..3 {
            let r = c.request("fs.a", b"x");
            assert!(r.get("error").is_none(), "{r}");
        }
        FAIL_SYNC.store(true, std::sync::atomic::Ordering::SeqCst);
        let delete = c.request("$JS.API.STREAM.MSG.DELETE.FAILSYNC1", br#"{"seq":1}"#);
        let purge = c.request("$JS.API.STREAM.PURGE.FAILSYNC1", b"");
        FAIL_SYNC.store(false, std::sync::atomic::Ordering::SeqCst);
        for r in [&purge, &delete] {
            assert!(
                r["error"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("store failure")),
                "{r}"
            );
            assert!(r.get("success").is_none_or(|s| s != true), "{r}");
        }
    })
    .await
    .unwrap();
    js.shutdown();
}
