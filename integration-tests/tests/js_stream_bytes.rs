//! A stream's `state.bytes` (and so what `max_bytes` limits) counts each message as
//! nats-server 2.9.10's store of the same kind does, found by a client library's own test
//! suite (issue 15: it expects 47 bytes for a 12-byte message on subject `world`):
//!
//! - file streams (`fileStoreMsgSize`): 22 + subject + payload + 8, and with headers 4 more
//!   plus the header block;
//! - memory streams (`memStoreMsgSize`): subject + headers + payload + 16.
//!
//! Run against both brokers ([`both_async!`]).

use async_nats::HeaderMap;
use integration_tests::both_async;
use integration_tests::client::{api, bounded, JsNode};
use std::time::Duration;

async fn bytes_of(n: &JsNode, stream: &str) -> u64 {
    let info = api(&n.client, &format!("$JS.API.STREAM.INFO.{stream}"), "").await;
    info["state"]["bytes"].as_u64().expect("state.bytes")
}

both_async!(
    async fn stream_bytes_count_each_message_as_nats_server_does(kind) {
        bounded(Duration::from_secs(30), async {
            let n = JsNode::start(kind, "bytes", Duration::from_secs(10), false).await;
            for (storage, plain, with_headers) in [("file", 50, 50 + 72), ("memory", 38, 38 + 56)] {
                let name = format!("B{storage}");
                let body = format!(
                    r#"{{"name":"{name}","subjects":["{storage}.>"],"storage":"{storage}"}}"#
                );
                let created = api(&n.client, &format!("$JS.API.STREAM.CREATE.{name}"), &body).await;
                assert!(created.get("error").is_none(), "{created}");
                // "file.abc" / "memory.abc", 12 bytes of payload.
                let subject = format!("{storage}.abc");
                n.js.publish(subject.clone(), "Hello world!".into())
                    .await
                    .expect("publish")
                    .await
                    .expect("ack");
                assert_eq!(bytes_of(&n, &name).await, plain, "{storage}, no headers");
                // An 18-byte header block ("NATS/1.0\r\nA: b\r\n\r\n").
                let mut headers = HeaderMap::new();
                headers.insert("A", "b");
                n.js.publish_with_headers(subject, headers, "Hello world!".into())
                    .await
                    .expect("publish")
                    .await
                    .expect("ack");
                assert_eq!(bytes_of(&n, &name).await, with_headers, "{storage}, with headers");
            }
        })
        .await;
    }
);
