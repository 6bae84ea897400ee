//! The `$JS.API.CONSUMER.*` JSON layer, consumer config checks, pull requests and ack subjects
//! against nats-server's own answers.
//!
//! `tests/golden/consumer/*.json` are requests sent to a real nats-server v2.9.10 (`-js`,
//! single server) and its answers, captured by `tests/golden/consumer/capture.py` (one file per
//! request; `n` is its place in the order sent). Sluice targets the v2.10 feature level, so
//! before comparing, [`upgrade`] adds to the v2.9.10 answers the one field v2.10 always adds to
//! a consumer info (`ts`). Where v2.10 answers differently from v2.9.10 the test says so and
//! expects v2.10's answer (from nats-server's source, `server/consumer.go` at v2.10.29).

use serde_json::{json, Value};
use sluice_stream::api::consumer_types::*;
use sluice_stream::api::errors::{consumer_codes, ApiError};
use sluice_stream::api::types::{is_empty_request, parse_optional_request, parse_request};
use sluice_stream::api::types::{ApiPaged, ApiResponse, LIST_LIMIT, NAMES_LIMIT};
use sluice_stream::config::{ConsumerLimits, RetentionPolicy, StreamConfig};
use sluice_stream::consumer::ack_subject::*;
use sluice_stream::consumer::config::*;
use sluice_stream::time::{Timestamp, GO_ZERO_TIME};
use std::collections::BTreeMap;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// Golden files.

struct Golden {
    name: String,
    g: Value,
}

impl Golden {
    fn subject(&self) -> &str {
        self.g["subject"].as_str().unwrap()
    }

    /// The request body as sent.
    fn body(&self) -> Vec<u8> {
        match (self.g.get("request"), self.g.get("request_raw")) {
            (Some(v), _) => serde_json::to_vec(v).unwrap(),
            (None, Some(Value::String(s))) => s.clone().into_bytes(),
            _ => Vec::new(),
        }
    }

    fn response(&self) -> &Value {
        &self.g["response"]
    }

    fn is_error(&self) -> bool {
        self.response().get("error").is_some()
    }

    fn error(&self) -> ApiError {
        serde_json::from_value(self.response()["error"].clone()).unwrap()
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/consumer")
}

/// Every golden, in the order the capture sent them.
fn goldens() -> Vec<Golden> {
    let mut v: Vec<Golden> = std::fs::read_dir(golden_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| Golden {
                name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                g: serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            })
        })
        .collect();
    v.sort_by_key(|g| g.g["n"].as_u64().unwrap());
    assert!(v.len() > 100, "golden files missing");
    v
}

fn golden(name: &str) -> Golden {
    goldens()
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no golden {name}"))
}

/// v2.9.10's answer as v2.10 writes it: consumer infos gain `ts`.
fn upgrade(v: &Value) -> Value {
    let mut v = v.clone();
    upgrade_in_place(&mut v);
    v
}

fn upgrade_in_place(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("delivered") && m.contains_key("ack_floor") {
                m.entry("ts").or_insert(json!(GO_ZERO_TIME));
            }
            m.values_mut().for_each(upgrade_in_place);
        }
        Value::Array(a) => a.iter_mut().for_each(upgrade_in_place),
        _ => {}
    }
}

fn json_of<T: ApiResponse>(r: &T) -> Value {
    serde_json::from_slice(&r.to_json()).unwrap()
}

fn err_json<T: ApiResponse>(e: ApiError) -> Value {
    json_of(&T::from_error(e))
}

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("decode {v}: {e}"));
    serde_json::to_value(&t).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Create,
    Info,
    Delete,
    Names,
    List,
    Next,
}

fn endpoint(subject: &str) -> Endpoint {
    for (p, e) in [
        ("$JS.API.CONSUMER.CREATE.", Endpoint::Create),
        ("$JS.API.CONSUMER.DURABLE.CREATE.", Endpoint::Create),
        ("$JS.API.CONSUMER.INFO.", Endpoint::Info),
        ("$JS.API.CONSUMER.DELETE.", Endpoint::Delete),
        ("$JS.API.CONSUMER.NAMES.", Endpoint::Names),
        ("$JS.API.CONSUMER.LIST.", Endpoint::List),
        ("$JS.API.CONSUMER.MSG.NEXT.", Endpoint::Next),
    ] {
        if subject.starts_with(p) {
            return e;
        }
    }
    panic!("unknown consumer API subject {subject}")
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Every captured answer decodes with our types and re-encodes to the same JSON (as v2.10).

#[test]
fn every_golden_answer_roundtrips() {
    let mut seen = BTreeMap::<Endpoint, usize>::new();
    for g in goldens() {
        let ep = endpoint(g.subject());
        *seen.entry(ep).or_default() += 1;
        let resp = g.response();
        let ours = match ep {
            Endpoint::Create => roundtrip::<ConsumerCreateResponse>(resp),
            Endpoint::Info => roundtrip::<ConsumerInfoResponse>(resp),
            Endpoint::Delete => roundtrip::<ConsumerDeleteResponse>(resp),
            Endpoint::Names => roundtrip::<ConsumerNamesResponse>(resp),
            Endpoint::List => roundtrip::<ConsumerListResponse>(resp),
            Endpoint::Next => continue,
        };
        assert_eq!(ours, upgrade(resp), "{}: re-encoded answer differs", g.name);
        // Its type is the endpoint's.
        let want_type = match ep {
            Endpoint::Create => ConsumerCreateResponse::TYPE,
            Endpoint::Info => ConsumerInfoResponse::TYPE,
            Endpoint::Delete => ConsumerDeleteResponse::TYPE,
            Endpoint::Names => ConsumerNamesResponse::TYPE,
            Endpoint::List => ConsumerListResponse::TYPE,
            Endpoint::Next => unreachable!(),
        };
        assert_eq!(resp["type"], json!(want_type), "{}", g.name);
    }
    assert!(seen[&Endpoint::Create] > 80, "{seen:?}");
    assert!(seen.len() == 6, "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// Creates: the whole decision (request JSON, subject, config checks, existing consumers)
// replayed in the capture's order against a model of the oracle's streams.

/// The streams the capture created, normalised.
fn streams() -> BTreeMap<&'static str, StreamConfig> {
    let mut m = BTreeMap::new();
    m.insert("S", StreamConfig::new("S", &["s.>"]));
    let mut wq = StreamConfig::new("WQ", &["wq.>"]);
    wq.retention = RetentionPolicy::WorkQueue;
    m.insert("WQ", wq);
    let mut mc = StreamConfig::new("MC", &["mc"]);
    mc.max_consumers = 1;
    m.insert("MC", mc);
    m.insert("E", StreamConfig::new("E", &["e"]));
    m.into_iter()
        .map(|(k, v)| (k, v.checked().unwrap()))
        .collect()
}

/// Where v2.10 answers a create differently from the oracle (v2.9.10): the error v2.10 sends,
/// or `None` where v2.10 creates the consumer.
fn v2_10_create_answer(name: &str) -> Option<Option<ApiError>> {
    Some(match name {
        // v2.9 ignores `action`; v2.10 refuses an unknown one as invalid JSON.
        "consumer_create_bad_action" => Some(ApiError::invalid_json()),
        // v2.9 checks filters against the stream's subjects (10093); v2.10 only checks that a
        // filter is a valid subject, and lets any valid one through.
        "consumer_create_filter_invalid" => {
            Some(ApiError::stream_invalid_config("invalid subject"))
        }
        "consumer_create_filter_not_in_stream" => None,
        // v2.9 refuses any backoff longer than max_deliver, also the default -1; v2.10 only a
        // set max_deliver.
        "consumer_create_backoff_default_max_deliver" => None,
        // v2.9 checks max_waiting before the deliver subject, and compares opt_start_time by
        // pointer (so any update of a consumer with a start time is "start time can not be
        // updated").
        "consumer_update_to_push" => Some(ApiError::consumer_create(
            "can not update pull consumer to push based",
        )),
        "consumer_update_heartbeat" => {
            Some(ApiError::consumer_create("heart beats can not be updated"))
        }
        // v2.10 also checks work-queue filter uniqueness on updates.
        "consumer_wq_update_overlap" => Some(ApiError::consumer_wq_consumer_not_unique()),
        _ => return None,
    })
}

#[derive(Default)]
struct Model {
    /// stream -> consumer name -> stored config.
    consumers: BTreeMap<String, BTreeMap<String, ConsumerConfig>>,
}

impl Model {
    /// Runs a create request through the data layer as the handler will.
    fn create(
        &self,
        streams: &BTreeMap<&str, StreamConfig>,
        subject: &str,
        body: &[u8],
        generated: &str,
    ) -> Result<CreatePlan, ApiError> {
        let req: CreateConsumerRequest = parse_request(body)?;
        let subj = ConsumerCreateSubject::parse(subject).expect("a create subject");
        let cfg = req.resolve(&subj)?;
        let stream = streams
            .get(subj.stream())
            .ok_or_else(ApiError::stream_not_found)?;
        let empty = BTreeMap::new();
        let on_stream = self.consumers.get(subj.stream()).unwrap_or(&empty);
        let existing: Vec<ExistingConsumer> = on_stream
            .iter()
            .map(|(name, config)| ExistingConsumer {
                name,
                config,
                deliver_subject_has_interest: false,
            })
            .collect();
        plan_create(
            &cfg,
            req.action,
            stream,
            &LimitOpts::default(),
            &existing,
            || generated.to_owned(),
        )
    }

    fn apply(&mut self, stream: &str, plan: &CreatePlan) {
        let (CreatePlan::Create { name, config } | CreatePlan::Update { name, config }) = plan;
        self.consumers
            .entry(stream.to_owned())
            .or_default()
            .insert(name.clone(), config.clone());
    }
}

#[test]
fn creates_match_nats_server() {
    let streams = streams();
    let mut model = Model::default();
    let mut checked = 0;
    for g in goldens() {
        let subject = g.subject().to_owned();
        match endpoint(&subject) {
            Endpoint::Create => {}
            Endpoint::Delete if !g.is_error() => {
                let (s, c) = (token_at(&subject, 5), token_at(&subject, 6));
                let removed = model.consumers.get_mut(s).and_then(|m| m.remove(c));
                assert!(
                    removed.is_some(),
                    "{}: deleted a consumer we do not have",
                    g.name
                );
                continue;
            }
            _ => continue,
        }
        checked += 1;
        let resp = g.response();
        let generated = resp["name"].as_str().unwrap_or("unused");
        let result = model.create(&streams, &subject, &g.body(), generated);
        let expected: Option<ApiError> = match v2_10_create_answer(&g.name) {
            Some(v2_10) => v2_10,
            None => g.is_error().then(|| g.error()),
        };
        match (result, expected) {
            (Err(e), Some(want)) => {
                assert_eq!(e, want, "{}: error", g.name);
                // The error answer is byte-for-byte nats-server's (modulo v2.10 changes).
                if v2_10_create_answer(&g.name).is_none() {
                    assert_eq!(
                        err_json::<ConsumerCreateResponse>(e),
                        *resp,
                        "{}: error JSON",
                        g.name
                    );
                }
            }
            (Ok(plan), None) => {
                let stream = ConsumerCreateSubject::parse(&subject)
                    .unwrap()
                    .stream()
                    .to_owned();
                let (CreatePlan::Create { name, config } | CreatePlan::Update { name, config }) =
                    &plan;
                if v2_10_create_answer(&g.name).is_none() {
                    let want_cfg: ConsumerConfig =
                        serde_json::from_value(resp["config"].clone()).unwrap();
                    assert_eq!(*config, want_cfg, "{}: config", g.name);
                    assert_eq!(
                        serde_json::to_value(config).unwrap(),
                        resp["config"],
                        "{}: config JSON",
                        g.name
                    );
                    assert_eq!(name, resp["name"].as_str().unwrap(), "{}: name", g.name);
                }
                let existed = model
                    .consumers
                    .get(&stream)
                    .is_some_and(|m| m.contains_key(name));
                assert_eq!(
                    matches!(plan, CreatePlan::Update { .. }),
                    existed,
                    "{}: create vs update",
                    g.name
                );
                model.apply(&stream, &plan);
            }
            (got, want) => panic!("{}: got {got:?}, nats-server (v2.10) {want:?}", g.name),
        }
    }
    assert!(checked > 80, "{checked}");
    // What the replay leaves on S is what CONSUMER.NAMES reported, except BA (refused by
    // v2.10), FNS and BDM (refused by v2.9).
    let names: Vec<String> =
        serde_json::from_value(golden("consumer_names").response()["consumers"].clone()).unwrap();
    let mut ours: Vec<String> = model.consumers["S"].keys().cloned().collect();
    ours.retain(|n| n != "FNS" && n != "BDM");
    let mut theirs = names;
    theirs.retain(|n| n != "BA");
    // D0 and D2 were deleted after NAMES was taken.
    ours.extend(["D0".to_owned(), "D2".to_owned()]);
    ours.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn created_info_matches_nats_server() {
    // ConsumerInfo::new gives a fresh consumer's info: zero sequences, no last_active.
    let g = golden("consumer_durable_pull");
    let resp = g.response();
    let cfg: ConsumerConfig = serde_json::from_value(resp["config"].clone()).unwrap();
    let mut info = ConsumerInfo::new("S", "D1", ts(resp["created"].as_str().unwrap()), cfg);
    info.num_pending = 5;
    info.ts = Timestamp::ZERO;
    assert_eq!(json_of(&ConsumerCreateResponse::new(info)), upgrade(resp));

    // Info with deliveries and acks.
    let g = golden("consumer_info");
    let info: ConsumerInfo = serde_json::from_value(g.response().clone()).unwrap();
    assert_eq!(info.delivered.consumer_seq, 2);
    assert!(info.delivered.last_active.is_some());
    assert_eq!(info.ack_floor.stream_seq, 1);
    assert_eq!(info.num_ack_pending, 1);
    assert!(info.cluster.is_none(), "a single server reports no cluster");
    assert_eq!(
        json_of(&ConsumerInfoResponse::new(info)),
        upgrade(g.response())
    );
}

#[test]
fn defaults_like_nats_server() {
    let s = streams()["S"].clone();
    // A durable pull consumer with explicit acks.
    let cfg = ConsumerConfig::durable_pull("D").with_defaults(&s);
    assert_eq!(
        serde_json::to_value(&cfg).unwrap(),
        json!({"durable_name":"D","deliver_policy":"all","ack_policy":"explicit",
               "ack_wait":30000000000_i64,"max_deliver":-1,"replay_policy":"instant",
               "max_waiting":512,"max_ack_pending":1000,"num_replicas":0})
    );
    assert_eq!(cfg.with_defaults(&s), cfg, "idempotent");
    // Ack none: no ack_wait, no max_ack_pending.
    let cfg = ConsumerConfig::default().with_defaults(&s);
    assert_eq!(cfg.ack_wait, 0);
    assert_eq!(cfg.max_ack_pending, 0);
    assert_eq!(cfg.max_waiting, DEFAULT_MAX_WAITING);
    // Push: no max_waiting.
    let push = ConsumerConfig {
        deliver_subject: "d".into(),
        ack_policy: AckPolicy::All,
        ..Default::default()
    }
    .with_defaults(&s);
    assert_eq!(push.max_waiting, 0);
    assert_eq!(push.ack_wait, DEFAULT_ACK_WAIT_NS);
    // Backoff overrides ack_wait.
    let bo = ConsumerConfig {
        ack_policy: AckPolicy::Explicit,
        ack_wait: 10_000_000_000,
        backoff: vec![1_000_000_000, 2_000_000_000],
        ..Default::default()
    }
    .with_defaults(&s);
    assert_eq!(bo.ack_wait, 1_000_000_000);
    // v2.10 stream consumer limits and server/account limits.
    let mut limited = s.clone();
    limited.consumer_limits = ConsumerLimits {
        inactive_threshold: 60_000_000_000,
        max_ack_pending: 50,
    };
    let cfg = ConsumerConfig::durable_pull("D").with_defaults(&limited);
    assert_eq!(
        (cfg.max_ack_pending, cfg.inactive_threshold),
        (50, 60_000_000_000)
    );
    let lim = LimitOpts {
        max_ack_pending: 700,
        account_max_ack_pending: 300,
        max_request_batch: 10,
        ..Default::default()
    };
    let cfg = ConsumerConfig::durable_pull("D").with_defaults_limited(&s, &lim);
    assert_eq!((cfg.max_ack_pending, cfg.max_batch), (300, 10));
    // Ephemerals are stamped with a 5 s inactive threshold on creation, durables are not.
    let plan = plan_create(
        &ConsumerConfig::default(),
        ConsumerAction::CreateOrUpdate,
        &s,
        &LimitOpts::default(),
        &[],
        || "gen".into(),
    )
    .unwrap();
    assert_eq!(
        plan,
        CreatePlan::Create {
            name: "gen".into(),
            config: ConsumerConfig {
                max_deliver: -1,
                max_waiting: 512,
                inactive_threshold: DEFAULT_INACTIVE_THRESHOLD_NS,
                ..Default::default()
            }
        }
    );
    let generated = generate_consumer_name();
    assert_eq!(generated.len(), 8);
    assert!(sluice_stream::config::is_valid_name(&generated));
}

/// The error of creating `cfg` on `stream` with nothing else there.
fn create_err(cfg: ConsumerConfig, stream: &StreamConfig, limits: &LimitOpts) -> ApiError {
    plan_create(
        &cfg,
        ConsumerAction::CreateOrUpdate,
        stream,
        limits,
        &[],
        || "gen".into(),
    )
    .expect_err("should be refused")
}

#[test]
fn v2_10_checks() {
    let s = streams()["S"].clone();
    let none = LimitOpts::default();
    let cfg = |f: &dyn Fn(&mut ConsumerConfig)| {
        let mut c = ConsumerConfig::durable_pull("D");
        f(&mut c);
        c
    };
    let cases: Vec<(ConsumerConfig, ApiError)> = vec![
        (
            cfg(&|c| {
                c.filter_subject = "s.a".into();
                c.filter_subjects = vec!["s.b".into()];
            }),
            ApiError::consumer_duplicate_filter_subjects(),
        ),
        (
            cfg(&|c| c.filter_subjects = vec!["s.a".into(), "".into()]),
            ApiError::consumer_empty_filter(),
        ),
        (
            cfg(&|c| c.filter_subjects = vec!["s.*".into(), "s.a".into()]),
            ApiError::consumer_overlapping_subject_filters(),
        ),
        (
            cfg(&|c| c.filter_subjects = vec!["s.a".into(), "s..b".into()]),
            ApiError::stream_invalid_config("invalid subject"),
        ),
        (
            cfg(&|c| {
                c.metadata.insert("k".into(), "v".repeat(128 * 1024));
            }),
            ApiError::consumer_metadata_length("128KB"),
        ),
        (
            cfg(&|c| c.deliver_policy = DeliverPolicy::LastPerSubject),
            ApiError::consumer_invalid_policy("consumer delivery policy is deliver last per subject, but optional filter subject is not set"),
        ),
    ];
    for (c, want) in cases {
        assert_eq!(create_err(c.clone(), &s, &none), want, "{c:?}");
    }
    // Several filters are fine, also for last-per-subject.
    let ok = cfg(&|c| {
        c.filter_subjects = vec!["s.a".into(), "s.b".into()];
        c.deliver_policy = DeliverPolicy::LastPerSubject;
    });
    assert!(ok.checked(&s, &none).is_ok());

    // Limits: server, account, stream.
    let lim = LimitOpts {
        max_ack_pending: 100,
        ..Default::default()
    };
    let e = create_err(cfg(&|c| c.max_ack_pending = 200), &s, &lim);
    assert_eq!(e, ApiError::consumer_max_pending_ack_excess(100));
    assert_eq!(
        e.description,
        "consumer max ack pending exceeds system limit of 100"
    );
    let lim = LimitOpts {
        max_request_batch: 10,
        ..Default::default()
    };
    let e = create_err(cfg(&|c| c.max_batch = 11), &s, &lim);
    assert_eq!(
        e.err_code,
        consumer_codes::CONSUMER_MAX_REQUEST_BATCH_EXCEEDED
    );
    assert_eq!(
        e.description,
        "consumer max request batch exceeds server limit of 10"
    );
    let mut limited = s.clone();
    limited.consumer_limits.inactive_threshold = 60_000_000_000;
    let e = create_err(
        cfg(&|c| c.inactive_threshold = 61_000_000_000),
        &limited,
        &none,
    );
    assert_eq!(
        (e.code, e.err_code, e.description.as_str()),
        (
            400,
            10153,
            "consumer inactive threshold exceeds system limit of 1m0s"
        )
    );
    limited.consumer_limits.max_ack_pending = 5;
    // Quirk kept from nats-server: the stream's max_ack_pending becomes the default even with
    // ack policy none, so a push consumer with ack none is refused.
    let push_none = ConsumerConfig {
        deliver_subject: "dlv".into(),
        ..Default::default()
    };
    assert_eq!(
        create_err(push_none, &limited, &none),
        ApiError::consumer_max_pending_ack_policy_required()
    );

    // Replicas against a (hypothetical) R3 stream: checked, not reachable on a single server.
    let mut r3 = s.clone();
    r3.num_replicas = 3;
    let c4 = cfg(&|c| c.num_replicas = 4);
    assert_eq!(
        c4.checked(&r3, &none).unwrap_err(),
        ApiError::consumer_replicas_exceeds_stream()
    );
    r3.retention = RetentionPolicy::Interest;
    let c2 = cfg(&|c| c.num_replicas = 2);
    assert_eq!(
        c2.checked(&r3, &none).unwrap_err(),
        ApiError::consumer_replicas_should_match_stream()
    );
    // v2.10: backoff with the default max_deliver (-1) is fine (v2.9 refused it).
    let bo = cfg(&|c| c.backoff = vec![1, 2, 3]);
    assert!(bo.checked(&s, &none).is_ok());
    // Behaviour the brief expected but nats-server does not have: a deliver_group on a pull
    // consumer and a filter outside the stream's subjects are accepted.
    let odd = cfg(&|c| {
        c.deliver_group = "g".into();
        c.filter_subject = "other".into();
    });
    assert!(odd.checked(&s, &none).is_ok());
}

#[test]
fn create_actions_and_registry_checks() {
    let s = streams()["S"].clone();
    let none = LimitOpts::default();
    let d1 = ConsumerConfig::durable_pull("D1").with_defaults(&s);
    let existing = [ExistingConsumer {
        name: "D1",
        config: &d1,
        deliver_subject_has_interest: false,
    }];
    let plan = |cfg: &ConsumerConfig, action| {
        plan_create(cfg, action, &s, &none, &existing, || "gen".into())
    };
    // Same config, any action: the existing consumer, unchanged.
    for action in [
        ConsumerAction::CreateOrUpdate,
        ConsumerAction::Create,
        ConsumerAction::Update,
    ] {
        assert_eq!(
            plan(&ConsumerConfig::durable_pull("D1"), action).unwrap(),
            CreatePlan::Update {
                name: "D1".into(),
                config: d1.clone()
            }
        );
    }
    // A different config: create refuses (10148), the others update.
    let mut changed = ConsumerConfig::durable_pull("D1");
    changed.description = "new".into();
    assert_eq!(
        plan(&changed, ConsumerAction::Create).unwrap_err(),
        ApiError::consumer_already_exists()
    );
    assert!(matches!(
        plan(&changed, ConsumerAction::Update).unwrap(),
        CreatePlan::Update { .. }
    ));
    // Update of a missing consumer: 10149.
    assert_eq!(
        plan(&ConsumerConfig::durable_pull("D2"), ConsumerAction::Update).unwrap_err(),
        ApiError::consumer_does_not_exist()
    );
    // Account max consumers.
    let lim = LimitOpts {
        account_max_consumers: 1,
        ..Default::default()
    };
    assert_eq!(
        plan_create(
            &ConsumerConfig::durable_pull("D2"),
            ConsumerAction::Create,
            &s,
            &lim,
            &existing,
            || "gen".into()
        )
        .unwrap_err(),
        ApiError::maximum_consumers_limit()
    );
    // A push consumer moving to another deliver subject while bound: 10013.
    let push = ConsumerConfig {
        durable_name: "P".into(),
        deliver_subject: "dlv.a".into(),
        ..Default::default()
    }
    .with_defaults(&s);
    let mut moved = push.clone();
    moved.deliver_subject = "dlv.b".into();
    assert_eq!(
        push.check_update(&moved, true).unwrap_err(),
        ApiError::consumer_name_exist()
    );
    assert!(push.check_update(&moved, false).is_ok());
    let mut to_pull = push.clone();
    to_pull.deliver_subject.clear();
    assert_eq!(
        push.check_update(&to_pull, false).unwrap_err(),
        ApiError::consumer_create("can not update push consumer to pull based")
    );
    // Quirk kept from nats-server: a named ephemeral's stored config has the stamped 5 s
    // inactive threshold, so re-creating it with action create and the same request is 10148.
    let eph = plan_create(
        &ConsumerConfig {
            name: "E".into(),
            ..Default::default()
        },
        ConsumerAction::Create,
        &s,
        &none,
        &[],
        || unreachable!(),
    )
    .unwrap();
    let CreatePlan::Create { config: stored, .. } = eph else {
        panic!()
    };
    let again = plan_create(
        &ConsumerConfig {
            name: "E".into(),
            ..Default::default()
        },
        ConsumerAction::Create,
        &s,
        &none,
        &[ExistingConsumer {
            name: "E",
            config: &stored,
            deliver_subject_has_interest: false,
        }],
        || unreachable!(),
    );
    assert_eq!(again.unwrap_err(), ApiError::consumer_already_exists());

    // v2.11: a create or update keeps the existing consumer's pause_until.
    let mut paused = d1.clone();
    paused.pause_until = Some(ts("2030-01-01T00:00:00Z"));
    let mut req = ConsumerConfig::durable_pull("D1");
    req.pause_until = Some(ts("2031-01-01T00:00:00Z"));
    let plan = plan_create(
        &req,
        ConsumerAction::Create,
        &s,
        &none,
        &[ExistingConsumer {
            name: "D1",
            config: &paused,
            deliver_subject_has_interest: false,
        }],
        || unreachable!(),
    )
    .unwrap();
    assert_eq!(
        plan,
        CreatePlan::Update {
            name: "D1".into(),
            config: paused.clone()
        }
    );
}

#[test]
fn create_subjects_and_requests() {
    use ConsumerCreateSubject::*;
    let p = |s: &str| ConsumerCreateSubject::parse(s);
    assert_eq!(p("$JS.API.CONSUMER.CREATE"), None);
    assert_eq!(p("$JS.API.STREAM.CREATE.S"), None);
    assert_eq!(
        p("$JS.API.CONSUMER.CREATE.S"),
        Some(Ephemeral { stream: "S".into() })
    );
    assert_eq!(
        p("$JS.API.CONSUMER.CREATE.S.C"),
        Some(Named {
            stream: "S".into(),
            consumer: "C".into(),
            filter: None
        })
    );
    assert_eq!(
        p("$JS.API.CONSUMER.CREATE.S.C.a.*.>"),
        Some(Named {
            stream: "S".into(),
            consumer: "C".into(),
            filter: Some("a.*.>".into())
        })
    );
    assert_eq!(
        p("$JS.API.CONSUMER.DURABLE.CREATE.S.D"),
        Some(Durable {
            stream: "S".into(),
            durable: "D".into()
        })
    );
    // nats-server serves no DURABLE.CREATE subject without exactly a stream and a durable.
    assert_eq!(p("$JS.API.CONSUMER.DURABLE.CREATE.S"), None);
    assert_eq!(p("$JS.API.CONSUMER.DURABLE.CREATE.S.D.E"), None);

    // v2.10-only request checks.
    let named = p("$JS.API.CONSUMER.CREATE.S.C.s.a").unwrap();
    let mut req =
        CreateConsumerRequest::new("S", ConsumerConfig::default(), ConsumerAction::Create);
    req.config.filter_subjects = vec!["s.a".into()];
    assert_eq!(
        req.resolve(&named).unwrap_err(),
        ApiError::consumer_multiple_filters_not_allowed()
    );
    req.config.filter_subjects.clear();
    req.config.filter_subject = "s.a".into();
    req.config.name = "other".into();
    let cfg = req.resolve(&named).unwrap();
    assert_eq!(cfg.name, "C", "the subject's name wins");

    // The request JSON: action always written, "" by default.
    assert_eq!(
        serde_json::to_value(CreateConsumerRequest::new(
            "S",
            ConsumerConfig::durable_pull("D"),
            ConsumerAction::CreateOrUpdate
        ))
        .unwrap(),
        json!({"stream_name":"S","config":{"durable_name":"D","deliver_policy":"all",
               "ack_policy":"explicit","replay_policy":"instant","num_replicas":0},"action":""})
    );
    for (body, action) in [
        (
            r#"{"stream_name":"S","config":{},"action":"create"}"#,
            ConsumerAction::Create,
        ),
        (
            r#"{"stream_name":"S","config":{},"action":"update"}"#,
            ConsumerAction::Update,
        ),
        (
            r#"{"stream_name":"S","config":{},"action":""}"#,
            ConsumerAction::CreateOrUpdate,
        ),
        (
            r#"{"stream_name":"S","config":{}}"#,
            ConsumerAction::CreateOrUpdate,
        ),
    ] {
        let req: CreateConsumerRequest = parse_request(body.as_bytes()).unwrap();
        assert_eq!(req.action, action);
    }
    for bad in [
        r#"{"stream_name":"S","config":{},"action":"upsert"}"#,
        r#"{"stream_name":"S","config":{},"action":null}"#,
        r#"{"stream_name":"S","config":{"deliver_policy":null}}"#,
        r#"{"stream_name":"S","config":{"ack_policy":null}}"#,
        r#"{"stream_name":"S","config":{"replay_policy":null}}"#,
        r#"{"stream_name":"S","config":{"ack_policy":"Explicit"}}"#,
        r#"{"stream_name":"S","config":{"max_deliver":1.5}}"#,
        r#"{"stream_name":"S","config":{"opt_start_seq":-1}}"#,
        r#"{"stream_name":"S","config":{}} trailing"#,
        "[]",
        "",
        "{",
    ] {
        assert_eq!(
            parse_request::<CreateConsumerRequest>(bad.as_bytes()).unwrap_err(),
            ApiError::invalid_json(),
            "{bad}"
        );
    }
    // `null` anywhere else leaves the default, as in Go; so does a null body.
    let req: CreateConsumerRequest = parse_request(
        br#"{"stream_name":"S","config":{"max_deliver":null,"num_replicas":null,"metadata":null,"opt_start_time":null,"backoff":null},"x":1}"#,
    )
    .unwrap();
    assert_eq!(req.config, ConsumerConfig::default());
    assert_eq!(
        parse_request::<CreateConsumerRequest>(b"null").unwrap(),
        CreateConsumerRequest::default()
    );
}

#[test]
fn config_json_fields() {
    // Every field, in and out; v2.10 `filter_subjects` and `metadata`, v2.11 `pause_until`.
    let full = json!({
        "durable_name":"D","name":"D","description":"d","deliver_policy":"by_start_time",
        "opt_start_time":"2020-01-01T00:00:00.5Z","ack_policy":"explicit","ack_wait":1,
        "max_deliver":3,"backoff":[1,2],"filter_subjects":["a","b"],"replay_policy":"original",
        "rate_limit_bps":9,"sample_freq":"5%","max_waiting":4,"max_ack_pending":5,
        "idle_heartbeat":6,"flow_control":true,"headers_only":true,"max_batch":7,
        "max_expires":8,"max_bytes":9,"deliver_subject":"x","deliver_group":"g",
        "inactive_threshold":10,"num_replicas":1,"mem_storage":true,"direct":true,
        "metadata":{"a":"1","b":"2"},"pause_until":"2030-01-01T00:00:00Z"
    });
    let cfg: ConsumerConfig = serde_json::from_value(full.clone()).unwrap();
    assert_eq!(serde_json::to_value(&cfg).unwrap(), full);
    assert_eq!(cfg.opt_start_time, Some(ts("2020-01-01T00:00:00.5Z")));
    // Go's zero time sent explicitly is "set" and echoed.
    let cfg: ConsumerConfig =
        serde_json::from_value(json!({"opt_start_time": GO_ZERO_TIME})).unwrap();
    assert_eq!(cfg.opt_start_time, Some(Timestamp::ZERO));
    assert_eq!(
        serde_json::to_value(&cfg).unwrap()["opt_start_time"],
        json!(GO_ZERO_TIME)
    );
    // "undefined" reads as "all".
    let cfg: ConsumerConfig =
        serde_json::from_value(json!({"deliver_policy": "undefined"})).unwrap();
    assert_eq!(cfg.deliver_policy, DeliverPolicy::All);
    // The zero config: only the always-present fields.
    assert_eq!(
        serde_json::to_value(ConsumerConfig::default()).unwrap(),
        json!({"deliver_policy":"all","ack_policy":"none","replay_policy":"instant","num_replicas":0})
    );
}

// ---------------------------------------------------------------------------------------------
// INFO, DELETE, NAMES, LIST.

#[test]
fn info_delete_names_list_match_nats_server() {
    // Error forms.
    for (name, e) in [
        ("consumer_info_not_found", ApiError::consumer_not_found()),
        (
            "consumer_info_stream_not_found",
            ApiError::stream_not_found(),
        ),
        ("consumer_info_with_body", ApiError::not_empty_request()),
    ] {
        assert_eq!(
            err_json::<ConsumerInfoResponse>(e),
            *golden(name).response(),
            "{name}"
        );
    }
    for (name, e) in [
        ("consumer_delete_again", ApiError::consumer_not_found()),
        (
            "consumer_delete_stream_not_found",
            ApiError::stream_not_found(),
        ),
        ("consumer_delete_with_body", ApiError::not_empty_request()),
    ] {
        assert_eq!(
            err_json::<ConsumerDeleteResponse>(e),
            *golden(name).response(),
            "{name}"
        );
    }
    for (name, e) in [
        (
            "consumer_names_stream_not_found",
            ApiError::stream_not_found(),
        ),
        ("consumer_names_bad_json", ApiError::invalid_json()),
    ] {
        assert_eq!(
            err_json::<ConsumerNamesResponse>(e),
            *golden(name).response(),
            "{name}"
        );
    }
    for (name, e) in [
        (
            "consumer_list_stream_not_found",
            ApiError::stream_not_found(),
        ),
        ("consumer_list_bad_json", ApiError::invalid_json()),
    ] {
        assert_eq!(
            err_json::<ConsumerListResponse>(e),
            *golden(name).response(),
            "{name}"
        );
    }
    assert_eq!(
        json_of(&ConsumerDeleteResponse::success()),
        *golden("consumer_delete").response()
    );
    // Which bodies count as empty (INFO and DELETE refuse others with 10038).
    for (name, empty) in [
        ("consumer_info", true),
        ("consumer_info_empty_object", true),
        ("consumer_info_with_body", false),
        ("consumer_delete_empty_object", true),
        ("consumer_delete_with_body", false),
    ] {
        assert_eq!(is_empty_request(&golden(name).body()), empty, "{name}");
    }
    // NAMES/LIST request bodies.
    for (name, offset) in [
        ("consumer_names", 0),
        ("consumer_names_offset", 3),
        ("consumer_list_offset", 8),
    ] {
        let req: ConsumerNamesRequest = parse_optional_request(&golden(name).body()).unwrap();
        assert_eq!(req.offset, offset, "{name}");
    }
    assert_eq!(
        parse_optional_request::<ConsumerNamesRequest>(&golden("consumer_names_bad_json").body())
            .unwrap_err(),
        ApiError::invalid_json()
    );

    // Paging.
    let all: Vec<String> =
        serde_json::from_value(golden("consumer_names").response()["consumers"].clone()).unwrap();
    let mut shuffled = all.clone();
    shuffled.reverse();
    for (name, offset) in [
        ("consumer_names", 0),
        ("consumer_names_offset", 3),
        ("consumer_names_offset_past_end", 100),
    ] {
        assert_eq!(
            json_of(&ConsumerNamesResponse::page(shuffled.clone(), offset)),
            *golden(name).response(),
            "{name}"
        );
    }
    assert_eq!(
        json_of(&ConsumerNamesResponse::page(Vec::new(), 0)),
        *golden("consumer_names_empty_stream").response()
    );
    let infos: Vec<ConsumerInfo> =
        serde_json::from_value(golden("consumer_list").response()["consumers"].clone()).unwrap();
    let mut shuffled = infos.clone();
    shuffled.reverse();
    for (name, offset) in [("consumer_list", 0), ("consumer_list_offset", 8)] {
        assert_eq!(
            json_of(&ConsumerListResponse::page(shuffled.clone(), offset)),
            upgrade(golden(name).response()),
            "{name}"
        );
    }
    assert_eq!(
        json_of(&ConsumerListResponse::page(Vec::new(), 0)),
        *golden("consumer_list_empty_stream").response()
    );
    let big = ConsumerNamesResponse::page((0..2000).map(|i| format!("c{i:04}")).collect(), 0);
    assert_eq!(
        (big.paged, big.consumers.len()),
        (
            ApiPaged {
                total: 2000,
                offset: 0,
                limit: NAMES_LIMIT
            },
            NAMES_LIMIT
        )
    );
    assert_eq!(LIST_LIMIT, 256);
    // API subject tokens.
    assert_eq!(token_at("$JS.API.CONSUMER.INFO.S.D1", 5), "S");
    assert_eq!(token_at("$JS.API.CONSUMER.INFO.S.D1", 6), "D1");
    assert_eq!(token_at("$JS.API.CONSUMER.MSG.NEXT.S.D1", 7), "D1");
    assert_eq!(token_at("$JS.API.CONSUMER.NAMES.S", 6), "");
}

// ---------------------------------------------------------------------------------------------
// Pull requests and acks.

/// The status line of a header block (`NATS/1.0 400 Bad Request - x`): code and description.
fn status_of(headers: &str) -> (u16, String) {
    let line = headers.lines().next().unwrap();
    let rest = line.strip_prefix("NATS/1.0 ").unwrap();
    let (code, desc) = rest.split_once(' ').unwrap();
    (code.parse().unwrap(), desc.to_owned())
}

#[test]
fn pull_requests_like_nats_server() {
    let g = golden("consumer_pull_batch2");
    assert_eq!(
        PullRequest::parse(&g.body()).unwrap(),
        PullRequest {
            batch: 2,
            no_wait: true,
            ..Default::default()
        }
    );
    assert_eq!(g.g["messages"].as_array().unwrap().len(), 2);
    let g = golden("consumer_pull_empty_body");
    assert_eq!(
        PullRequest::parse(&g.body()).unwrap(),
        PullRequest::batch(1)
    );
    assert_eq!(g.g["messages"].as_array().unwrap().len(), 1);
    let g = golden("consumer_pull_number");
    assert_eq!(
        PullRequest::parse(&g.body()).unwrap(),
        PullRequest::batch(2)
    );
    assert_eq!(g.g["messages"].as_array().unwrap().len(), 2);
    // A refused request: nats-server's status is "400 Bad Request - <error>".
    let g = golden("consumer_pull_bad_hb");
    let err = PullRequest::parse(&g.body()).unwrap_err();
    assert_eq!(err, PullRequestError::HeartbeatTooLarge);
    let headers = g.g["messages"][0]["headers"].as_str().unwrap();
    assert_eq!(status_of(headers), (400, err.status_description()));
    // Other bodies.
    for (body, want) in [
        (" 5 \r\n", Ok(PullRequest::batch(5))),
        ("+7", Ok(PullRequest::batch(7))),
        ("-1", Ok(PullRequest::batch(-1))),
        ("abc", Ok(PullRequest::batch(1))),
        ("null", Ok(PullRequest::batch(1))),
        ("99999999999999999999", Ok(PullRequest::batch(1))),
        ("{}", Ok(PullRequest::batch(0))),
        (
            r#"{"batch":10,"expires":5000000000,"max_bytes":1024,"idle_heartbeat":2500000000}"#,
            Ok(PullRequest {
                batch: 10,
                expires: 5_000_000_000,
                max_bytes: 1024,
                idle_heartbeat: 2_500_000_000,
                no_wait: false,
            }),
        ),
        (
            r#"{"batch":1,"idle_heartbeat":1}"#,
            Err(PullRequestError::HeartbeatTooLarge),
        ),
    ] {
        assert_eq!(PullRequest::parse(body.as_bytes()), want, "{body:?}");
    }
    assert!(matches!(
        PullRequest::parse(br#"{"batch":"1"}"#),
        Err(PullRequestError::InvalidJson(_))
    ));
    // Written as clients write it.
    let req = PullRequest {
        batch: 2,
        no_wait: true,
        ..Default::default()
    };
    assert_eq!(req.to_json(), br#"{"batch":2,"no_wait":true}"#);
}

#[test]
fn consumer_statuses_like_nats_server() {
    // The status answers the oracle sent, byte for byte.
    for (name, status) in [
        (
            "consumer_pull_bad_hb",
            ConsumerStatus::BadRequest(PullRequestError::HeartbeatTooLarge.to_string()),
        ),
        (
            "consumer_pull_max_batch",
            ConsumerStatus::ExceededMaxRequestBatch(5),
        ),
        ("consumer_pull_no_wait_empty", ConsumerStatus::NoMessages),
        ("consumer_pull_push", ConsumerStatus::ConsumerIsPushBased),
    ] {
        let g = golden(name);
        let m = &g.g["messages"][0];
        assert_eq!(
            String::from_utf8(status.to_bytes()).unwrap(),
            m["headers"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(m["data"], json!(""), "{name}");
    }
    // The ones with headers, from nats-server's format strings.
    assert_eq!(
        ConsumerStatus::RequestTimeout {
            pending_msgs: 3,
            pending_bytes: 0
        }
        .to_bytes(),
        b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );
    assert_eq!(
        ConsumerStatus::IdleHeartbeat {
            last_consumer_seq: 2,
            last_stream_seq: 7,
            stalled: Some("$JS.FC.S.x.1".into())
        }
        .to_bytes(),
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 7\r\nNats-Consumer-Stalled: $JS.FC.S.x.1\r\n\r\n"
    );
    assert_eq!(
        ConsumerStatus::ExceededMaxRequestExpires(60_000_000_000).description(),
        "Exceeded MaxRequestExpires of 1m0s"
    );
    assert_eq!(
        ConsumerStatus::FlowControlRequest.to_bytes(),
        b"NATS/1.0 100 FlowControl Request\r\n\r\n"
    );
}

#[test]
fn ack_subjects_like_nats_server() {
    let g = golden("consumer_pull_batch2");
    let msgs = g.g["messages"].as_array().unwrap();
    for (i, m) in msgs.iter().enumerate() {
        let reply = m["reply"].as_str().unwrap();
        let a = AckSubject::parse(reply).unwrap();
        let i = i as u64;
        assert_eq!(
            (
                a.stream,
                a.consumer,
                a.delivered,
                a.stream_seq,
                a.consumer_seq,
                a.pending
            ),
            ("S", "D1", 1, i + 1, i + 1, 4 - i)
        );
        assert!(a.timestamp > 1_700_000_000_000_000_000);
        assert_eq!((a.domain, a.account_hash, a.token), (None, None, None));
        assert_eq!(a.encode(), reply, "encodes back to the same subject");
    }
    let long = "$JS.ACK.hub.ACCHASH.S.D1.2.50.9.1795393753412833871.0.rand";
    let a = AckSubject::parse(long).unwrap();
    assert_eq!(
        (
            a.domain,
            a.account_hash,
            a.stream,
            a.consumer,
            a.delivered,
            a.stream_seq
        ),
        (Some("hub"), Some("ACCHASH"), "S", "D1", 2, 50)
    );
    assert_eq!((a.consumer_seq, a.pending, a.token), (9, 0, Some("rand")));
    assert_eq!(a.encode(), "$JS.ACK.S.D1.2.50.9.1795393753412833871.0");
    let a = AckSubject::parse("$JS.ACK._.H.S.D1.1.1.1.1.0").unwrap();
    assert_eq!((a.domain, a.token), (None, None));
    assert!(AckSubject::parse("$JS.ACK._.H.S.D1.1.1.1.1.0.t.more.tokens").is_ok());
    for (bad, e) in [
        ("$JS.API.S.D1.1.1.1.1.0", AckSubjectError::NotAck),
        ("$JS.ACK.S.D1.1.1.1.1", AckSubjectError::TokenCount),
        ("$JS.ACK.x.S.D1.1.1.1.1.0", AckSubjectError::TokenCount),
        ("$JS.ACK.S.D1.1.-1.1.1.0", AckSubjectError::BadNumber),
        ("$JS.ACK.S.D1.1..1.1.0", AckSubjectError::BadNumber),
        ("$JS.ACK.S.D1.1.1.1.1.+0", AckSubjectError::BadNumber),
    ] {
        assert_eq!(AckSubject::parse(bad), Err(e), "{bad}");
    }
    assert_eq!(
        AckSubject::new("S", "C", 1, 2, 3, 4, 5).to_string(),
        "$JS.ACK.S.C.1.2.3.4.5"
    );
    assert_eq!(AckSubject::subscription("S", "C"), "$JS.ACK.S.C.*.*.*.*.*");
}

#[test]
fn ack_payloads_like_nats_server() {
    let nxt = |r: PullRequest| AckKind::Next(Ok(r));
    for (payload, want) in [
        ("", AckKind::Ack),
        ("+ACK", AckKind::Ack),
        ("+OK", AckKind::Ack),
        ("+ACK ", AckKind::Unknown),
        ("-NAK", AckKind::Nak { delay: None }),
        (
            "-NAK {\"delay\": 5000000000}",
            AckKind::Nak {
                delay: Some(5_000_000_000),
            },
        ),
        ("-NAK {\"delay\":null}", AckKind::Nak { delay: Some(0) }),
        (
            "-NAK 1.5s",
            AckKind::Nak {
                delay: Some(1_500_000_000),
            },
        ),
        ("-NAK bogus", AckKind::Nak { delay: None }),
        ("-NAK {\"delay\":\"1s\"}", AckKind::Nak { delay: None }),
        ("+WPI", AckKind::Progress),
        ("+WPI ", AckKind::Unknown),
        ("+NXT", nxt(PullRequest::batch(1))),
        ("+NXT 5", nxt(PullRequest::batch(5))),
        ("+NXT {\"batch\":3}", nxt(PullRequest::batch(3))),
        ("+TERM", AckKind::Term { reason: None }),
        (
            "+TERM  too many retries ",
            AckKind::Term {
                reason: Some("too many retries".into()),
            },
        ),
        ("nope", AckKind::Unknown),
    ] {
        assert_eq!(AckKind::parse(payload.as_bytes()), want, "{payload:?}");
        if let Some(p) = want.to_payload() {
            assert_eq!(AckKind::parse(&p), want, "{payload:?} re-encoded");
        }
    }
    assert!(matches!(
        AckKind::parse(b"+NXT {\"batch\":1,\"idle_heartbeat\":5}"),
        AckKind::Next(Err(PullRequestError::HeartbeatTooLarge))
    ));
    // What async-nats sends.
    assert_eq!(
        AckKind::parse(b"-NAK {\"delay\":1000000000}"),
        AckKind::Nak {
            delay: Some(1_000_000_000)
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn consumer_error_codes_match_errors_json() {
    // (constructor, code, err_code, description) as in nats-server v2.10.29 server/errors.json.
    let table: Vec<(ApiError, u16, u16, &str)> = vec![
        (ApiError::consumer_create("x"), 500, 10012, "x"),
        (
            ApiError::consumer_name_exist(),
            400,
            10013,
            "consumer name already in use",
        ),
        (
            ApiError::consumer_not_found(),
            404,
            10014,
            "consumer not found",
        ),
        (
            ApiError::consumer_durable_name_not_in_subject(),
            400,
            10016,
            "consumer expected to be durable but no durable name set in subject",
        ),
        (
            ApiError::consumer_durable_name_not_match_subject(),
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        ),
        (
            ApiError::consumer_durable_name_not_set(),
            400,
            10018,
            "consumer expected to be durable but a durable name was not set",
        ),
        (
            ApiError::consumer_ephemeral_with_durable_in_subject(),
            400,
            10019,
            "consumer expected to be ephemeral but detected a durable name set in subject",
        ),
        (
            ApiError::consumer_ephemeral_with_durable_name(),
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        ),
        (
            ApiError::maximum_consumers_limit(),
            400,
            10026,
            "maximum consumers limit reached",
        ),
        (
            ApiError::consumer_config_required(),
            400,
            10078,
            "consumer config required",
        ),
        (
            ApiError::consumer_deliver_to_wildcards(),
            400,
            10079,
            "consumer deliver subject has wildcards",
        ),
        (
            ApiError::consumer_push_max_waiting(),
            400,
            10080,
            "consumer in push mode can not set max waiting",
        ),
        (
            ApiError::consumer_deliver_cycle(),
            400,
            10081,
            "consumer deliver subject forms a cycle",
        ),
        (
            ApiError::consumer_max_pending_ack_policy_required(),
            400,
            10082,
            "consumer requires ack policy for max ack pending",
        ),
        (
            ApiError::consumer_small_heartbeat(),
            400,
            10083,
            "consumer idle heartbeat needs to be >= 100ms",
        ),
        (
            ApiError::consumer_pull_requires_ack(),
            400,
            10084,
            "consumer in pull mode requires ack policy",
        ),
        (
            ApiError::consumer_pull_not_durable(),
            400,
            10085,
            "consumer in pull mode requires a durable name",
        ),
        (
            ApiError::consumer_pull_with_rate_limit(),
            400,
            10086,
            "consumer in pull mode can not have rate limit set",
        ),
        (
            ApiError::consumer_max_waiting_negative(),
            400,
            10087,
            "consumer max waiting needs to be positive",
        ),
        (
            ApiError::consumer_hb_requires_push(),
            400,
            10088,
            "consumer idle heartbeat requires a push based consumer",
        ),
        (
            ApiError::consumer_fc_requires_push(),
            400,
            10089,
            "consumer flow control requires a push based consumer",
        ),
        (
            ApiError::consumer_direct_requires_push(),
            400,
            10090,
            "consumer direct requires a push based consumer",
        ),
        (
            ApiError::consumer_direct_requires_ephemeral(),
            400,
            10091,
            "consumer direct requires an ephemeral consumer",
        ),
        (
            ApiError::consumer_on_mapped(),
            400,
            10092,
            "consumer direct on a mapped consumer",
        ),
        (
            ApiError::consumer_filter_not_subset(),
            400,
            10093,
            "consumer filter subject is not a valid subset of the interest subjects",
        ),
        (ApiError::consumer_invalid_policy("x"), 400, 10094, "x"),
        (
            ApiError::consumer_invalid_sampling("e"),
            400,
            10095,
            "failed to parse consumer sampling configuration: e",
        ),
        (
            ApiError::consumer_wq_requires_explicit_ack(),
            400,
            10098,
            "workqueue stream requires explicit ack",
        ),
        (
            ApiError::consumer_wq_multiple_unfiltered(),
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        ),
        (
            ApiError::consumer_wq_consumer_not_unique(),
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        ),
        (
            ApiError::consumer_wq_consumer_not_deliver_all(),
            400,
            10101,
            "consumer must be deliver all on workqueue stream",
        ),
        (
            ApiError::consumer_name_too_long(255),
            400,
            10102,
            "consumer name is too long, maximum allowed is 255",
        ),
        (
            ApiError::consumer_bad_durable_name(),
            400,
            10103,
            "durable name can not contain '.', '*', '>'",
        ),
        (
            ApiError::consumer_store_failed("e"),
            500,
            10104,
            "error creating store for consumer: e",
        ),
        (
            ApiError::consumer_existing_active(),
            400,
            10105,
            "consumer already exists and is still active",
        ),
        (
            ApiError::consumer_replacement_with_different_name(),
            400,
            10106,
            "consumer replacement durable config not the same",
        ),
        (
            ApiError::consumer_description_too_long(4096),
            400,
            10107,
            "consumer description is too long, maximum allowed is 4096",
        ),
        (
            ApiError::consumer_with_flow_control_needs_heartbeats(),
            400,
            10108,
            "consumer with flow control also needs heartbeats",
        ),
        (
            ApiError::consumer_invalid_deliver_subject(),
            400,
            10112,
            "invalid push consumer deliver subject",
        ),
        (
            ApiError::consumer_max_request_batch_negative(),
            400,
            10114,
            "consumer max request batch needs to be > 0",
        ),
        (
            ApiError::consumer_max_request_expires_too_small(),
            400,
            10115,
            "consumer max request expires needs to be >= 1ms",
        ),
        (
            ApiError::consumer_max_deliver_backoff(),
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        ),
        (
            ApiError::consumer_offline(),
            500,
            10119,
            "consumer is offline",
        ),
        (
            ApiError::consumer_max_pending_ack_excess(7),
            400,
            10121,
            "consumer max ack pending exceeds system limit of 7",
        ),
        (
            ApiError::consumer_max_request_batch_exceeded(7),
            400,
            10125,
            "consumer max request batch exceeds server limit of 7",
        ),
        (
            ApiError::consumer_replicas_exceeds_stream(),
            400,
            10126,
            "consumer config replica count exceeds parent stream",
        ),
        (
            ApiError::consumer_name_contains_path_separators(),
            400,
            10127,
            "Consumer name can not contain path separators",
        ),
        (
            ApiError::consumer_create_filter_subject_mismatch(),
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        ),
        (
            ApiError::consumer_create_durable_and_name_mismatch(),
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided",
        ),
        (
            ApiError::replicas_count_cannot_be_negative(),
            400,
            10133,
            "replicas count cannot be negative",
        ),
        (
            ApiError::consumer_replicas_should_match_stream(),
            400,
            10134,
            "consumer config replicas must match interest retention stream's replicas",
        ),
        (
            ApiError::consumer_metadata_length("128KB"),
            400,
            10135,
            "consumer metadata exceeds maximum size of 128KB",
        ),
        (
            ApiError::consumer_duplicate_filter_subjects(),
            400,
            10136,
            "consumer cannot have both FilterSubject and FilterSubjects specified",
        ),
        (
            ApiError::consumer_multiple_filters_not_allowed(),
            400,
            10137,
            "consumer with multiple subject filters cannot use subject based API",
        ),
        (
            ApiError::consumer_overlapping_subject_filters(),
            400,
            10138,
            "consumer subject filters cannot overlap",
        ),
        (
            ApiError::consumer_empty_filter(),
            400,
            10139,
            "consumer filter in FilterSubjects cannot be empty",
        ),
        (
            ApiError::consumer_already_exists(),
            400,
            10148,
            "consumer already exists",
        ),
        (
            ApiError::consumer_does_not_exist(),
            400,
            10149,
            "consumer does not exist",
        ),
        (
            ApiError::consumer_inactive_threshold_excess(GoDuration(5_000_000_000)),
            400,
            10153,
            "consumer inactive threshold exceeds system limit of 5s",
        ),
    ];
    for (e, code, err_code, desc) in table {
        assert_eq!(
            (e.code, e.err_code, e.description.as_str()),
            (code, err_code, desc)
        );
    }
    // Every consumer error the oracle sent is one of ours, code and text.
    for g in goldens() {
        if g.g
            .get("response")
            .is_some_and(|r| r.get("error").is_some())
        {
            let e = g.error();
            assert!(
                e.code == 400 || e.code == 404 || e.code == 500,
                "{}",
                g.name
            );
        }
    }
    assert_eq!(consumer_codes::CONSUMER_NOT_FOUND, 10014);
}

#[test]
fn sampling_like_go() {
    assert_eq!(parse_sample_frequency("50%"), Ok(50));
    assert_eq!(parse_sample_frequency("7"), Ok(7));
    assert_eq!(
        parse_sample_frequency("abc%").unwrap_err(),
        golden("consumer_create_bad_sampling").error()
    );
    assert_eq!(
        parse_sample_frequency("-5").unwrap_err(),
        golden("consumer_create_neg_sampling").error()
    );
    assert_eq!(
        parse_sample_frequency("%").unwrap_err().description,
        "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"\": invalid syntax"
    );
}
