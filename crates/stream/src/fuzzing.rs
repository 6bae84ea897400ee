//! The check behind the `js_api` fuzz target in `fuzz/`, kept here so that the stable test
//! suite replays it on the committed inputs (`tests/fuzz_replay.rs`) without cargo-fuzz.
//! Nothing in the stream layer calls it.
//!
//! The `$JS.API` handlers need a running server and a store, so the target drives what they
//! do with a request before touching either, in the handlers' order: decoding the body,
//! parsing the API subject, and the config checks that decide create and update (all pure).
//! The input's first byte picks the request ([`JsApiOp`]); for the requests that have one,
//! the rest up to the first LF is the subject and what follows the body. Besides "no panic",
//! the invariants are:
//!
//! * a stream config that `STREAM.CREATE` accepts is stored as JSON and read back on restart,
//!   so it must come back equal; updating the stream with the request it was created with,
//!   or with the config it reports, is accepted and changes nothing;
//! * the same for a consumer config that `CONSUMER.CREATE` accepts, and creating a named or
//!   durable consumer again with the same request is an update that changes nothing;
//! * a pull request body read from JSON reads back the same from its JSON;
//! * a timestamp or base64 text that parses prints as text that parses to the same value;
//! * every answer (success or error) serialises.

use crate::api::consumer_types::{
    ConsumerCreateResponse, ConsumerCreateSubject, ConsumerInfo, ConsumerNamesRequest,
    ConsumerNamesResponse, CreateConsumerRequest, PullRequest,
};
use crate::api::errors::ApiError;
use crate::api::types::{
    base64_decode, base64_encode, is_empty_request, parse_optional_request, parse_request,
    ApiResponse, ErrorResponse, MsgDeleteRequest, MsgGetRequest, StreamCreateResponse, StreamInfo,
    StreamInfoRequest, StreamInfoResponse, StreamNamesRequest, StreamNamesResponse,
    StreamPurgeRequest, StreamState, StreamUpdateResponse,
};
use crate::config::{RetentionPolicy, StreamConfig};
use crate::consumer::ack_subject::{AckKind, AckSubject};
use crate::consumer::config::{
    parse_go_duration, parse_sample_frequency, plan_create, ConsumerConfig, CreatePlan,
    ExistingConsumer, LimitOpts,
};
use crate::headers::{parse_ttl, PublishHeaders};
use crate::time::{parse_rfc3339_nanos, Timestamp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The requests the first input byte chooses from (modulo their number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsApiOp {
    /// `STREAM.CREATE`: the body.
    StreamCreate,
    /// `STREAM.UPDATE`: the body, against an existing stream of the same name.
    StreamUpdate,
    /// `CONSUMER.CREATE` / `DURABLE.CREATE`: subject LF body.
    ConsumerCreate,
    /// A pull request body (`CONSUMER.MSG.NEXT`, or after `+NXT`).
    Pull,
    /// `STREAM.MSG.GET` and `DIRECT.GET`: subject LF body.
    MsgGet,
    /// The optional bodies: `STREAM.INFO`, `NAMES`, `LIST`, `PURGE`, `CONSUMER.NAMES`,
    /// `STREAM.MSG.DELETE`, with their paged answers.
    Optional,
    /// An ack: subject (`$JS.ACK....`) LF payload.
    Ack,
    /// A publish's header block, as the stream reads it.
    PublishHeaders,
    /// The texts inside requests: RFC 3339 times, Go durations, sample frequencies, base64.
    Texts,
}

impl JsApiOp {
    /// Every op, in the order the first byte counts them.
    pub const ALL: [JsApiOp; 9] = [
        JsApiOp::StreamCreate,
        JsApiOp::StreamUpdate,
        JsApiOp::ConsumerCreate,
        JsApiOp::Pull,
        JsApiOp::MsgGet,
        JsApiOp::Optional,
        JsApiOp::Ack,
        JsApiOp::PublishHeaders,
        JsApiOp::Texts,
    ];

    /// The fuzz input for this op with `rest` after the selector byte; for seed corpora.
    pub fn input(self, rest: &[u8]) -> Vec<u8> {
        let i = Self::ALL.iter().position(|o| *o == self).unwrap_or(0);
        let mut out = vec![i as u8];
        out.extend_from_slice(rest);
        out
    }
}

/// The `js_api` fuzz target (see the module docs).
pub fn js_api(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let op = JsApiOp::ALL[usize::from(sel) % JsApiOp::ALL.len()];
    // Which stream the consumer checks run against: the selector's high bits.
    let variant = sel / JsApiOp::ALL.len() as u8;
    let (subject, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&rest[..i]), &rest[i + 1..]),
        None => (String::from_utf8_lossy(&[]), rest),
    };
    match op {
        JsApiOp::StreamCreate => stream_create(rest),
        JsApiOp::StreamUpdate => stream_update(rest),
        JsApiOp::ConsumerCreate => consumer_create(&subject, body, variant),
        JsApiOp::Pull => pull(rest),
        JsApiOp::MsgGet => msg_get(&subject, body),
        JsApiOp::Optional => optional(rest),
        JsApiOp::Ack => ack(&subject, body),
        JsApiOp::PublishHeaders => {
            let _ = PublishHeaders::parse(Some(rest));
        }
        JsApiOp::Texts => texts(rest),
    }
}

/// Serialises an answer; it must be JSON.
fn answer<T: ApiResponse>(r: Result<T, ApiError>) {
    let json = match r {
        Ok(t) => t.to_json(),
        Err(e) => T::from_error(e).to_json(),
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&json) {
        panic!(
            "an answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&json)
        );
    }
}

/// `value` as its JSON, read back: what a restart does with a stored record.
fn stored_and_read_back<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_vec(value).expect("records serialise");
    let back: Result<T, _> = serde_json::from_slice(&json);
    match back {
        Ok(back) => assert_eq!(
            &back,
            value,
            "stored as {}, read back different",
            String::from_utf8_lossy(&json)
        ),
        Err(e) => panic!(
            "{value:?} stored as {}, which does not read back: {e}",
            String::from_utf8_lossy(&json)
        ),
    }
}

fn info(cfg: StreamConfig) -> StreamInfo {
    StreamInfo::new(cfg, Timestamp::from_unix_nanos(1), StreamState::default())
}

fn stream_create(body: &[u8]) {
    let raw: StreamConfig = match parse_request(body) {
        Ok(raw) => raw,
        Err(e) => return answer::<StreamCreateResponse>(Err(e)),
    };
    // The name in the API subject is the body's, so the checks go past the name check.
    let cfg = match raw.check_create(&raw.name.clone()) {
        Ok(cfg) => cfg,
        Err(e) => return answer::<StreamCreateResponse>(Err(e)),
    };
    stored_and_read_back(&cfg);
    assert_eq!(
        cfg.check_update(&raw).as_ref(),
        Ok(&cfg),
        "updating a stream with the request {raw:?} it was created with"
    );
    assert_eq!(
        cfg.check_update(&cfg).as_ref(),
        Ok(&cfg),
        "updating a stream with the config it reports"
    );
    answer(Ok(StreamCreateResponse::new(info(cfg), true)));
}

fn stream_update(body: &[u8]) {
    let raw: StreamConfig = match parse_request(body) {
        Ok(raw) => raw,
        Err(e) => return answer::<StreamUpdateResponse>(Err(e)),
    };
    if let Err(e) = raw.checked() {
        return answer::<StreamUpdateResponse>(Err(e));
    }
    let mut retention = StreamConfig::new(raw.name.clone(), &["fuzz.>"]);
    retention.retention = RetentionPolicy::WorkQueue;
    for old in [StreamConfig::new(raw.name.clone(), &["fuzz.>"]), retention] {
        let Ok(old) = old.checked() else { continue };
        match old.check_update(&raw) {
            Ok(cfg) => {
                stored_and_read_back(&cfg);
                answer(Ok(StreamUpdateResponse::new(info(cfg))));
            }
            Err(e) => answer::<StreamUpdateResponse>(Err(e)),
        }
    }
}

fn name_gen() -> String {
    "GENERATED".to_owned()
}

fn consumer_create(subject: &str, body: &[u8], variant: u8) {
    let Some(target) = ConsumerCreateSubject::parse(subject) else {
        return;
    };
    let req: CreateConsumerRequest = match parse_request(body) {
        Ok(r) => r,
        Err(e) => return answer::<ConsumerCreateResponse>(Err(e)),
    };
    let cfg = match req.resolve(&target) {
        Ok(c) => c,
        Err(e) => return answer::<ConsumerCreateResponse>(Err(e)),
    };
    let mut stream = StreamConfig::new(target.stream(), &["fuzz.>"]);
    if variant & 1 == 1 {
        stream.retention = RetentionPolicy::WorkQueue;
    }
    if variant & 2 == 2 {
        stream.max_consumers = 1;
    }
    let Ok(stream) = stream.checked() else {
        return;
    };
    let limits = if variant & 4 == 4 {
        LimitOpts {
            max_ack_pending: 100,
            max_request_batch: 10,
            account_max_ack_pending: 50,
            account_max_consumers: 2,
        }
    } else {
        LimitOpts::default()
    };
    let plan = match plan_create(&cfg, req.action, &stream, &limits, &[], name_gen) {
        Ok(p) => p,
        Err(e) => return answer::<ConsumerCreateResponse>(Err(e)),
    };
    let CreatePlan::Create { name, config } = plan else {
        panic!("{cfg:?} on a stream without consumers: {plan:?}, not a create");
    };
    stored_and_read_back(&config);
    if !cfg.durable_name.is_empty() || !cfg.name.is_empty() {
        let existing = [ExistingConsumer {
            name: &name,
            config: &config,
            deliver_subject_has_interest: false,
        }];
        let again = plan_create(&cfg, req.action, &stream, &limits, &existing, name_gen);
        assert_eq!(
            again,
            Ok(CreatePlan::Update {
                name: name.clone(),
                config: config.clone()
            }),
            "creating {cfg:?} ({:?}) again",
            req.action
        );
    }
    answer(Ok(ConsumerCreateResponse::new(ConsumerInfo::new(
        stream.name.clone(),
        name,
        Timestamp::from_unix_nanos(1),
        config,
    ))));
}

fn pull(body: &[u8]) {
    let Ok(req) = PullRequest::parse(body) else {
        return;
    };
    if body.trim_ascii().first() == Some(&b'{') {
        let json = req.to_json();
        assert_eq!(
            PullRequest::parse(&json),
            Ok(req),
            "pull request written as {}",
            String::from_utf8_lossy(&json)
        );
    }
}

fn msg_get(subject: &str, body: &[u8]) {
    let _ = MsgGetRequest::parse_api(body);
    let _ = MsgGetRequest::parse_direct(body);
    let _ = MsgGetRequest::parse_direct_last_by_subject(subject, body);
}

fn optional(body: &[u8]) {
    let _ = is_empty_request(body);
    let names: Vec<String> = (0..300).map(|i| format!("S{i}")).collect();
    match parse_optional_request::<StreamNamesRequest>(body) {
        Ok(req) => answer(Ok(StreamNamesResponse::page(names.clone(), req.offset))),
        Err(e) => answer::<StreamNamesResponse>(Err(e)),
    }
    match parse_optional_request::<StreamInfoRequest>(body) {
        Ok(req) => {
            let subjects: BTreeMap<String, u64> = names.iter().map(|n| (n.clone(), 1)).collect();
            let cfg = StreamConfig::new("S", &["fuzz.>"]);
            answer(Ok(StreamInfoResponse::with_subjects(
                info(cfg),
                subjects,
                req.offset,
            )));
        }
        Err(e) => answer::<StreamInfoResponse>(Err(e)),
    }
    match parse_optional_request::<ConsumerNamesRequest>(body) {
        Ok(req) => answer(Ok(ConsumerNamesResponse::page(names, req.offset))),
        Err(e) => answer::<ConsumerNamesResponse>(Err(e)),
    }
    if let Ok(req) = parse_optional_request::<StreamPurgeRequest>(body) {
        let _ = req.validate();
    }
    let _ = MsgDeleteRequest::parse(body);
    let _ = ErrorResponse::new("io.nats.jetstream.api.v1.fuzz", ApiError::bad_request()).to_json();
}

fn ack(subject: &str, payload: &[u8]) {
    let _ = AckSubject::parse(subject);
    let _ = AckKind::parse(payload);
}

fn texts(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    let text = text.as_ref();
    let _ = parse_rfc3339_nanos(text);
    if let Ok(ts) = Timestamp::parse(text) {
        stored_and_read_back(&ts);
    }
    let _ = parse_go_duration(text);
    let _ = parse_sample_frequency(text);
    let _ = parse_ttl(text);
    if let Ok(bytes) = base64_decode(text) {
        let enc = base64_encode(&bytes);
        assert_eq!(
            base64_decode(&enc).as_deref(),
            Ok(&bytes[..]),
            "{text:?} decodes to {bytes:?}, which encodes as {enc:?}"
        );
    }
    // A Go duration where JSON has one (ack_wait, backoff, ...), as a consumer config reads it.
    let json = format!(
        "{{\"ack_wait\":{}}}",
        serde_json::to_string(text).unwrap_or_default()
    );
    let _ = serde_json::from_str::<ConsumerConfig>(&json);
}
