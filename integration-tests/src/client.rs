//! Async client helpers for the black-box tests that talk to a broker with async-nats: bounded
//! waits, connecting, `$JS.API` requests with JSON replies, and pull batches.

use crate::js::{start_js, StoreDir};
use crate::Broker;
use crate::Kind;
use async_nats::jetstream::{self, consumer::PullConsumer};
use async_nats::{Client, ConnectOptions};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use std::future::{Future, IntoFuture};
use std::time::Duration;

/// The longest any single wait in [`within`] may take.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `f` for at most [`STEP`]; panics naming `what` if it takes longer.
pub async fn within<T>(what: &str, f: impl IntoFuture<Output = T>) -> T {
    within_for(STEP, what, f).await
}

/// Awaits `f` for at most `step` (for a test file with a step of its own); panics naming `what`
/// if it takes longer.
pub async fn within_for<T>(step: Duration, what: &str, f: impl IntoFuture<Output = T>) -> T {
    tokio::time::timeout(step, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Runs a test body for at most `limit`; panics if it takes longer.
pub async fn bounded(limit: Duration, body: impl Future<Output = ()>) {
    tokio::time::timeout(limit, body)
        .await
        .expect("test exceeded its time limit");
}

/// Connects to `url` with async-nats' default options (within [`STEP`]).
pub async fn connect(url: &str) -> Client {
    connect_for(STEP, url).await
}

/// As [`connect`], waiting at most `step`.
pub async fn connect_for(step: Duration, url: &str) -> Client {
    within_for(step, "connect", async_nats::connect(url))
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// Connects to `url`, reconnecting every 50 ms when the connection drops (instead of the default
/// exponential backoff), so a client rides over a restart on the same port quickly.
pub async fn connect_fast_reconnect(url: &str) -> Client {
    connect_fast_reconnect_for(STEP, url).await
}

/// As [`connect_fast_reconnect`], waiting at most `step`.
pub async fn connect_fast_reconnect_for(step: Duration, url: &str) -> Client {
    within_for(
        step,
        "connect",
        ConnectOptions::new()
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .connect(url),
    )
    .await
    .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// A broker with JetStream on (its store in a fresh [`StoreDir`]) and a connected client with its
/// JetStream context. Fields drop in order: the client disconnects, then the broker is killed,
/// then its store directory is removed.
pub struct JsNode {
    /// The connected client.
    pub client: Client,
    /// A JetStream context on [`JsNode::client`].
    pub js: jetstream::Context,
    /// The broker, started with [`start_js`].
    pub broker: Broker,
    /// The broker's store directory.
    pub store: StoreDir,
}

impl JsNode {
    /// Starts a broker of `kind` with `-js -sd <fresh dir>` (`tag` goes into the directory's
    /// name) and connects to it within `step`; with `fast_reconnect` the client reconnects as
    /// [`connect_fast_reconnect`] does, otherwise with async-nats' defaults.
    pub async fn start(kind: Kind, tag: &str, step: Duration, fast_reconnect: bool) -> JsNode {
        let store = StoreDir::new(tag);
        let broker = start_js(kind, &store);
        let url = broker.url();
        let client = if fast_reconnect {
            connect_fast_reconnect_for(step, &url).await
        } else {
            connect_for(step, &url).await
        };
        let js = jetstream::new(client.clone());
        JsNode {
            client,
            js,
            broker,
            store,
        }
    }
}

/// Parses a reply payload as JSON; panics naming `what` and showing the payload if it is not.
pub fn json_reply(what: &str, payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or_else(|e| {
        panic!(
            "{what}: reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(payload)
        )
    })
}

/// Sends `payload` to `subject` as a request (within [`STEP`]) and returns the JSON reply.
pub async fn api(client: &Client, subject: &str, payload: &str) -> Value {
    let reply = within(
        subject,
        client.request(subject.to_string(), Bytes::from(payload.to_string())),
    )
    .await
    .unwrap_or_else(|e| panic!("request {subject}: {e}"));
    json_reply(subject, &reply.payload)
}

/// Up to `max` messages from one pull request that waits at most `expires` (the whole pull is
/// given `expires` + 2 s); an error (the broker is away, say) yields what came before it.
pub async fn pull_batch(
    consumer: &PullConsumer,
    max: usize,
    expires: Duration,
) -> Vec<jetstream::Message> {
    let fetched = tokio::time::timeout(expires + Duration::from_secs(2), async {
        let mut got = Vec::new();
        let Ok(mut batch) = consumer
            .batch()
            .max_messages(max)
            .expires(expires)
            .messages()
            .await
        else {
            return got;
        };
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => got.push(m),
                Err(_) => break,
            }
        }
        got
    })
    .await;
    fetched.unwrap_or_default()
}
