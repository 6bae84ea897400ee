//! The consumer API goldens, replayed against a live broker.
//!
//! `crates/stream/tests/golden/consumer/*.json` are request/answer pairs captured in order from
//! nats-server v2.9.10 by `crates/stream/tests/golden/consumer/capture.py`. This test starts a
//! broker with JetStream, does the capture's setup (the same streams and messages, in the same
//! order), then sends every golden request in the order captured (by `n`) and compares the
//! answer with the golden one:
//!
//! * API requests (`$JS.API.CONSUMER.*`) go through `client.request` with the golden request's
//!   bytes (the JSON re-serialised, or `request_raw` as sent); the reply JSON must equal the
//!   golden response after [`normalise`]: timestamps (`created`, `last_active`) are replaced by a
//!   placeholder (they must be there, their value is not compared), `ts` (the reply time v2.10
//!   adds to consumer infos) is dropped, and generated ephemeral names are mapped to the golden's.
//! * Pull requests (`MSG.NEXT`, golden `messages`) are published with the capture's reply inbox
//!   (`_INBOX.pull.<case>`); the messages that come back must be the golden ones (subject, reply
//!   with the ack timestamp masked, status/header block, data), and no more arrive shortly after.
//!   After the first pull the first message is acked with a request, as the capture does.
//! * NAMES and LIST pages are sorted by (generated) name, so a page at an offset is computed from
//!   the golden full list ordered by the names this broker generated.
//!
//! For Sluice, the cases where Sluice deliberately answers as nats-server v2.10 does (the table
//! in `crates/stream/tests/consumer_json.rs`, `v2_10_create_answer`, copied below as
//! [`v2_10_create_answer`]) are checked against that documented answer instead, with their
//! effect on the later NAMES/LIST answers.
//!
//! Both halves run ([`both_async!`]): the nats-server half proves the harness reproduces the
//! goldens; the Sluice half is the test. Every mismatch is collected and reported together.
//! Everything runs well inside 5 s, as the capture did: the ephemerals it made (5 s inactive
//! threshold) must still be there for the NAMES and LIST cases at the end.

use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;
use integration_tests::client;
use integration_tests::js::{json_includes, start_js, StoreDir};
use integration_tests::{both_async, Broker, Kind};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::time::Duration;

/// The longest one request may take (the capture's read timeout).
const STEP: Duration = Duration::from_secs(2);
/// How long to wait for an unexpected extra message after a pull's expected ones.
const EXTRA_WAIT: Duration = Duration::from_millis(50);
/// The longest the whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Placeholder for a volatile timestamp that must be present.
const VOLATILE: &str = "<volatile>";

/// Awaits `f` for at most [`STEP`]; `None` on timeout.
async fn within<T>(f: impl IntoFuture<Output = T>) -> Option<T> {
    tokio::time::timeout(STEP, f).await.ok()
}

/// Runs a test body under [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    client::bounded(TEST_LIMIT, body).await
}

// ---------------------------------------------------------------------------------------------
// Golden files.

struct Golden {
    name: String,
    g: Value,
}

impl Golden {
    fn n(&self) -> u64 {
        self.g["n"].as_u64().unwrap()
    }

    fn subject(&self) -> &str {
        self.g["subject"].as_str().unwrap()
    }

    /// The request body as the capture sent it (modulo JSON whitespace and key order).
    fn body(&self) -> Vec<u8> {
        match (self.g.get("request"), self.g.get("request_raw")) {
            (Some(v), _) => serde_json::to_vec(v).unwrap(),
            (None, Some(Value::String(s))) => s.clone().into_bytes(),
            _ => Vec::new(),
        }
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }

    /// The request's `config`, if it is an object.
    fn request_config(&self) -> Option<&serde_json::Map<String, Value>> {
        self.g.get("request")?.get("config")?.as_object()
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/stream/tests/golden/consumer")
}

/// Every golden, in the order the capture sent them.
fn goldens() -> Vec<Golden> {
    let mut v: Vec<Golden> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| Golden {
                name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                g: serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            })
        })
        .collect();
    v.sort_by_key(Golden::n);
    assert!(v.len() > 100, "golden files missing");
    v
}

// ---------------------------------------------------------------------------------------------
// Known differences (Sluice follows nats-server v2.10).

/// What Sluice (as v2.10) answers instead of the golden (v2.9.10) answer.
enum V210 {
    /// This error (`code`, `err_code`, `description`).
    Error(Value),
    /// The consumer is created (v2.9.10 refused it).
    Created,
}

fn api_error(code: u16, err_code: u16, description: &str) -> V210 {
    V210::Error(json!({"code": code, "err_code": err_code, "description": description}))
}

/// Copied from `v2_10_create_answer` in `crates/stream/tests/consumer_json.rs` (keep the two in
/// step): where v2.10 answers a create differently from the oracle (v2.9.10). The errors are
/// spelled out as JSON here (this crate does not depend on sluice-stream); codes from
/// `crates/stream/src/api/errors.rs`.
fn v2_10_create_answer(name: &str) -> Option<V210> {
    Some(match name {
        // v2.9 ignores `action`; v2.10 refuses an unknown one as invalid JSON.
        "consumer_create_bad_action" => api_error(400, 10025, "invalid JSON"),
        // v2.9 checks filters against the stream's subjects (10093); v2.10 only checks that a
        // filter is a valid subject, and lets any valid one through.
        "consumer_create_filter_invalid" => api_error(500, 10052, "invalid subject"),
        "consumer_create_filter_not_in_stream" => V210::Created,
        // v2.9 refuses any backoff longer than max_deliver, also the default -1; v2.10 only a
        // set max_deliver.
        "consumer_create_backoff_default_max_deliver" => V210::Created,
        // v2.9 checks max_waiting before the deliver subject, and compares opt_start_time by
        // pointer (so any update of a consumer with a start time is "start time can not be
        // updated").
        "consumer_update_to_push" => {
            api_error(500, 10012, "can not update pull consumer to push based")
        }
        "consumer_update_heartbeat" => api_error(500, 10012, "heart beats can not be updated"),
        // v2.10 also checks work-queue filter uniqueness on updates.
        "consumer_wq_update_overlap" => api_error(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        ),
        _ => return None,
    })
}

/// Consumers on stream S that the golden NAMES/LIST show but Sluice does not have because of a
/// known difference (`consumer_create_bad_action`: v2.10 refuses it). The ones Sluice has and
/// the goldens do not (FNS, BDM) come from the [`V210::Created`] cases. As in
/// `creates_match_nats_server` in consumer_json.rs.
const REFUSED_BY_V2_10: &[&str] = &["BA"];

// ---------------------------------------------------------------------------------------------
// Normalisation.

/// A copy of `v` without what may differ between runs: `created` and `last_active` become
/// [`VOLATILE`], `ts` is dropped, and generated names (keys of `generated`) become the golden's.
fn normalise(v: &Value, generated: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "ts")
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "created" | "last_active" => json!(VOLATILE),
                        _ => normalise(v, generated),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalise(v, generated)).collect()),
        Value::String(s) => match generated.get(s) {
            Some(g) => json!(g),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

/// An ack reply subject with its timestamp token masked (`$JS.ACK.S.C.d.s.c.<ts>.p`).
fn mask_ack(reply: &str) -> String {
    let mut t: Vec<&str> = reply.split('.').collect();
    if t.len() == 9 && t[0] == "$JS" && t[1] == "ACK" {
        t[7] = VOLATILE;
    }
    t.join(".")
}

/// Every path where `actual` differs from `expected`.
fn diffs(expected: &Value, actual: &Value) -> Vec<String> {
    fn walk(e: &Value, a: &Value, path: String, out: &mut Vec<String>) {
        match (e, a) {
            (Value::Object(em), Value::Object(am)) => {
                for (k, ev) in em {
                    match am.get(k) {
                        Some(av) => walk(ev, av, format!("{path}.{k}"), out),
                        None => out.push(format!("{path}.{k}: missing (expected {ev})")),
                    }
                }
                for (k, av) in am {
                    if !em.contains_key(k) {
                        out.push(format!("{path}.{k}: unexpected {av}"));
                    }
                }
            }
            (Value::Array(ea), Value::Array(aa)) if ea.len() == aa.len() => {
                for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                    walk(ev, av, format!("{path}[{i}]"), out);
                }
            }
            _ if e == a => {}
            _ => out.push(format!("{path}: got {a}, expected {e}")),
        }
    }
    let mut out = Vec::new();
    walk(expected, actual, "$".into(), &mut out);
    out
}

/// A delivered message as the capture wrote it: subject, reply, header block, data.
fn message_json(m: &async_nats::Message) -> Value {
    let headers = m.headers.as_ref().map(|h| {
        let mut s = String::from("NATS/1.0");
        if let Some(code) = m.status {
            s.push_str(&format!(" {}", code.as_u16()));
        }
        if let Some(d) = &m.description {
            s.push(' ');
            s.push_str(d);
        }
        s.push_str("\r\n");
        let mut lines: Vec<String> = h
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}: {}\r\n", v.as_str())))
            .collect();
        lines.sort();
        s.extend(lines);
        s.push_str("\r\n");
        s
    });
    json!({
        "subject": m.subject.as_str(),
        "reply": m.reply.as_ref().map(|r| r.as_str()),
        "headers": headers,
        "data": String::from_utf8_lossy(&m.payload),
    })
}

/// A golden or received message with its ack timestamp masked.
fn normalise_message(m: &Value) -> Value {
    let mut m = m.clone();
    if let Some(r) = m["reply"].as_str() {
        m["reply"] = json!(mask_ack(r));
    }
    m
}

// ---------------------------------------------------------------------------------------------
// The replay.

/// `$JS.API.CONSUMER.<OP>` of a subject.
fn op(subject: &str) -> &str {
    let rest = subject.strip_prefix("$JS.API.CONSUMER.").unwrap_or("");
    if rest.starts_with("DURABLE.CREATE.") {
        "CREATE"
    } else if rest.starts_with("MSG.NEXT.") {
        "NEXT"
    } else {
        rest.split('.').next().unwrap_or("")
    }
}

struct Replay {
    kind: Kind,
    client: Client,
    /// Names this broker generated for ephemerals -> the golden's generated names.
    generated: BTreeMap<String, String>,
    /// Sluice's own answers (normalised, without `type`) to the [`V210::Created`] creates, by
    /// consumer name: what LIST must show for them.
    v2_10_created: BTreeMap<String, Value>,
    /// The full (offset 0) golden NAMES and LIST pages seen last, as this broker should have
    /// them (known differences applied), normalised.
    full_names: Vec<Value>,
    full_list: Vec<Value>,
    /// The first delivered message's reply of the first pull, for the capture's ack.
    first_reply: Option<String>,
    failures: Vec<String>,
}

impl Replay {
    fn fail(&mut self, g: &Golden, what: &str, expected: &Value, actual: &Value) {
        let d = diffs(expected, actual);
        self.failures.push(format!(
            "#{} {} ({what})\n  subject:  {}\n  request:  {}\n  diffs:    {}\n  expected: {expected}\n  actual:   {actual}",
            g.n(),
            g.name,
            g.subject(),
            g.body_text(),
            d.join("; "),
        ));
    }

    /// Sends `body` to `subject` as a request; the reply as JSON (a string if not JSON, `null`
    /// on timeout or error).
    async fn request(&self, subject: &str, body: Vec<u8>) -> Value {
        match within(self.client.request(subject.to_string(), Bytes::from(body))).await {
            Some(Ok(m)) => serde_json::from_slice(&m.payload)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&m.payload))),
            Some(Err(e)) => json!(format!("<request error: {e}>")),
            None => json!("<timeout>"),
        }
    }

    /// The capture's setup: streams and five messages (their acks must be successes).
    async fn setup(&mut self) {
        for (name, cfg) in [
            ("S", json!({"name": "S", "subjects": ["s.>"]})),
            (
                "WQ",
                json!({"name": "WQ", "subjects": ["wq.>"], "retention": "workqueue"}),
            ),
            (
                "MC",
                json!({"name": "MC", "subjects": ["mc"], "max_consumers": 1}),
            ),
            ("E", json!({"name": "E", "subjects": ["e"]})),
        ] {
            let r = self
                .request(
                    &format!("$JS.API.STREAM.CREATE.{name}"),
                    serde_json::to_vec(&cfg).unwrap(),
                )
                .await;
            assert!(
                r.get("config").is_some() && r.get("error").is_none(),
                "create stream {name}: {r}"
            );
        }
        for (subj, data) in [
            ("s.a", "1"),
            ("s.a", "2"),
            ("s.b", "3"),
            ("s.a", "4"),
            ("s.b", "5"),
        ] {
            let r = self.request(subj, data.as_bytes().to_vec()).await;
            assert!(
                r.get("seq").is_some() && r.get("error").is_none(),
                "publish {subj}: {r}"
            );
        }
    }

    async fn replay(&mut self, g: &Golden) {
        if let Some(Value::Array(want)) = g.g.get("messages") {
            self.pull(g, want).await;
            if g.name == "consumer_pull_batch2" {
                // The capture acks the first message, with a reply, and waits for the answer.
                let reply = self.first_reply.take().expect("a first message to ack");
                match within(self.client.request(reply.clone(), Bytes::from("+ACK"))).await {
                    Some(Ok(m)) if m.payload.is_empty() => {}
                    other => panic!("ack {reply}: {other:?}"),
                }
            }
            return;
        }
        let actual_raw = self.request(g.subject(), g.body()).await;
        let golden = &g.g["response"];
        let known = match self.kind {
            Kind::Sluice => v2_10_create_answer(&g.name),
            Kind::NatsServer => None,
        };
        let op = op(g.subject());

        // A generated ephemeral name: map ours to the golden's.
        if op == "CREATE"
            && g.subject().split('.').count() == 5
            && golden.get("error").is_none()
            && g.request_config()
                .is_none_or(|c| !c.contains_key("name") && !c.contains_key("durable_name"))
        {
            if let (Some(ours), Some(theirs)) =
                (actual_raw["name"].as_str(), golden["name"].as_str())
            {
                self.generated.insert(ours.to_owned(), theirs.to_owned());
            }
        }
        let actual = normalise(&actual_raw, &self.generated);

        match known {
            Some(V210::Error(e)) => {
                let expected = json!({"type": golden["type"], "error": e});
                if actual != expected {
                    self.fail(g, "known difference: v2.10 error", &expected, &actual);
                }
                return;
            }
            Some(V210::Created) => {
                let consumer = consumer_token(g.subject());
                let mut expected = json!({
                    "type": golden["type"],
                    "stream_name": golden_stream(g.subject()),
                    "name": consumer,
                    "config": g.request_config().cloned().unwrap_or_default(),
                });
                expected["config"]["name"] = json!(consumer);
                match json_includes(&actual, &expected) {
                    Ok(()) if actual.get("error").is_none() => {
                        let mut info = actual.clone();
                        info.as_object_mut().unwrap().remove("type");
                        self.v2_10_created.insert(consumer.to_owned(), info);
                    }
                    _ => self.fail(g, "known difference: v2.10 creates", &expected, &actual),
                }
                return;
            }
            None => {}
        }

        let mut expected = normalise(golden, &self.generated);
        if (op == "NAMES" || op == "LIST")
            && golden.get("consumers").is_some()
            && golden.get("error").is_none()
        {
            expected = self.expected_page(g, op, &expected);
        }
        if actual != expected {
            self.fail(g, "answer", &expected, &actual);
        }
    }

    /// The golden NAMES/LIST page as this broker should answer it: the full list (known
    /// differences applied) sorted by the names this broker uses, from the golden's offset.
    fn expected_page(&mut self, g: &Golden, op: &str, golden: &Value) -> Value {
        // The requested offset; the answer's is clamped to the total.
        let requested =
            g.g.get("request")
                .and_then(|r| r["offset"].as_u64())
                .unwrap_or(0) as usize;
        let limit = golden["limit"].as_u64().unwrap() as usize;
        let name_of = |v: &Value| -> String {
            v.as_str()
                .or_else(|| v["name"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        if requested == 0 {
            let mut full: Vec<Value> = golden["consumers"].as_array().unwrap().clone();
            let on_s = golden_stream(g.subject()) == "S";
            if self.kind == Kind::Sluice && on_s {
                full.retain(|c| !REFUSED_BY_V2_10.contains(&name_of(c).as_str()));
                for (name, info) in &self.v2_10_created {
                    full.push(if op == "NAMES" {
                        json!(name)
                    } else {
                        info.clone()
                    });
                }
            }
            if op == "NAMES" {
                self.full_names = full;
            } else {
                self.full_list = full;
            }
        }
        // Sort by the name this broker has (generated names are ours, not the golden's).
        let ours: BTreeMap<&String, &String> = self.generated.iter().map(|(o, t)| (t, o)).collect();
        let mut full = if op == "NAMES" {
            self.full_names.clone()
        } else {
            self.full_list.clone()
        };
        full.sort_by_key(|c| {
            let n = name_of(c);
            ours.get(&n).map_or(n.clone(), |o| (*o).clone())
        });
        let offset = requested.min(full.len());
        let mut expected = golden.clone();
        expected["total"] = json!(full.len());
        expected["offset"] = json!(offset);
        expected["consumers"] = Value::Array(full.into_iter().skip(offset).take(limit).collect());
        expected
    }

    /// A pull request on the capture's inbox; the messages that answer it.
    async fn pull(&mut self, g: &Golden, want: &[Value]) {
        let inbox = format!("_INBOX.pull.{}", g.name);
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .expect("subscribe");
        self.client
            .publish_with_reply(g.subject().to_string(), inbox, Bytes::from(g.body()))
            .await
            .expect("publish pull request");
        let mut got = Vec::new();
        for _ in 0..want.len() {
            match within(sub.next()).await {
                Some(Some(m)) => got.push(message_json(&m)),
                _ => break,
            }
        }
        if let Ok(Some(m)) = tokio::time::timeout(EXTRA_WAIT, sub.next()).await {
            got.push(message_json(&m));
        }
        let _ = sub.unsubscribe().await;
        if self.first_reply.is_none() && g.name == "consumer_pull_batch2" {
            self.first_reply = got
                .first()
                .and_then(|m| m["reply"].as_str())
                .map(str::to_owned);
        }
        let expected = Value::Array(want.iter().map(normalise_message).collect());
        let actual = Value::Array(got.iter().map(normalise_message).collect());
        if actual != expected {
            self.fail(g, "pull messages", &expected, &actual);
        }
    }
}

/// The stream token of a consumer API subject (`$JS.API.CONSUMER.<OP>.<STREAM>...`).
fn golden_stream(subject: &str) -> &str {
    let rest = subject.strip_prefix("$JS.API.CONSUMER.").unwrap_or("");
    let rest = rest
        .strip_prefix("DURABLE.CREATE.")
        .or_else(|| rest.strip_prefix("MSG.NEXT."))
        .unwrap_or_else(|| rest.split_once('.').map_or("", |(_, r)| r));
    rest.split('.').next().unwrap_or("")
}

/// The consumer token of a consumer API subject (after the stream), or "".
fn consumer_token(subject: &str) -> &str {
    let stream = golden_stream(subject);
    subject
        .split_once(&format!(".{stream}."))
        .map_or("", |(_, r)| r.split('.').next().unwrap_or(""))
}

/// Starts `kind` with JetStream, replays every golden, and panics listing every mismatch.
async fn replay_all(kind: Kind) {
    let store = StoreDir::new("consumer-goldens");
    let broker: Broker = start_js(kind, &store);
    let client = within(async_nats::connect(broker.url()))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut r = Replay {
        kind,
        client,
        generated: BTreeMap::new(),
        v2_10_created: BTreeMap::new(),
        full_names: Vec::new(),
        full_list: Vec::new(),
        first_reply: None,
        failures: Vec::new(),
    };
    r.setup().await;
    let all = goldens();
    for g in &all {
        r.replay(g).await;
    }
    assert!(
        r.failures.is_empty(),
        "{kind:?}: {} of {} golden cases differ:\n\n{}",
        r.failures.len(),
        all.len(),
        r.failures.join("\n\n")
    );
    drop(r);
    drop(broker);
}

both_async!(
    async fn consumer_goldens_replay(kind) {
        bounded(replay_all(kind)).await;
    }
);

#[test]
fn golden_subject_helpers() {
    assert_eq!(golden_stream("$JS.API.CONSUMER.CREATE.S.D.s.a"), "S");
    assert_eq!(golden_stream("$JS.API.CONSUMER.DURABLE.CREATE.WQ.D"), "WQ");
    assert_eq!(golden_stream("$JS.API.CONSUMER.MSG.NEXT.S.D"), "S");
    assert_eq!(golden_stream("$JS.API.CONSUMER.NAMES.E"), "E");
    assert_eq!(op("$JS.API.CONSUMER.DURABLE.CREATE.S.D"), "CREATE");
    assert_eq!(op("$JS.API.CONSUMER.LIST.S"), "LIST");
    assert_eq!(consumer_token("$JS.API.CONSUMER.CREATE.S.FNS"), "FNS");
    assert_eq!(consumer_token("$JS.API.CONSUMER.CREATE.S.F.s.a"), "F");
    assert_eq!(
        consumer_token("$JS.API.CONSUMER.DURABLE.CREATE.S.BDM"),
        "BDM"
    );
    assert_eq!(consumer_token("$JS.API.CONSUMER.CREATE.S"), "");
    assert_eq!(
        mask_ack("$JS.ACK.S.D1.1.1.1.1795394646863879758.4"),
        "$JS.ACK.S.D1.1.1.1.<volatile>.4"
    );
}
