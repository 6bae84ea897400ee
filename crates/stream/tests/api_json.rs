//! The `$JS.API` JSON layer against nats-server's own answers.
//!
//! `tests/golden/*.json` are requests sent to a real nats-server v2.9.10 (`-js`, single
//! server) and its answers, captured by `tests/golden/capture.py` (one file per request, in
//! the order the script sends them; see protocol-spec/jetstream-api.md). Sluice targets the
//! v2.10 feature level, so before comparing, [`upgrade`] adds to the v2.9.10 answers exactly
//! the fields v2.10/v2.11 always add: `compression`, `consumer_limits`, `allow_msg_ttl` in a
//! stream config, `ts` in a stream info, `reserved_memory`/`reserved_storage` in account info.
//! Where v2.10 answers differently from v2.9.10 the test says so and expects v2.10's answer
//! (from nats-server's source).

use bytes::Bytes;
use serde_json::{json, Value};
use sluice_protocol::HeaderMap;
use sluice_stream::api::errors::{codes, ApiError};
use sluice_stream::api::types::*;
use sluice_stream::config::*;
use sluice_stream::time::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str) -> Value {
    let path = golden_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn all_goldens() -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = std::fs::read_dir(golden_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                let val = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                (name, val)
            })
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() > 100, "golden files missing");
    v
}

/// The request body as sent.
fn request_bytes(g: &Value) -> Vec<u8> {
    match (g.get("request"), g.get("request_raw")) {
        (Some(v), _) => serde_json::to_vec(v).unwrap(),
        (None, Some(Value::String(s))) => s.clone().into_bytes(),
        _ => Vec::new(),
    }
}

fn response(g: &Value) -> Value {
    g["response"].clone()
}

/// The stream name an API subject addresses (`$JS.API.STREAM.CREATE.<name>`).
fn subject_name(g: &Value) -> String {
    g["subject"]
        .as_str()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap()
        .to_owned()
}

/// v2.9.10's answer as v2.10 (plus v2.11's `allow_msg_ttl`) writes it.
fn upgrade(v: &Value) -> Value {
    let mut v = v.clone();
    upgrade_in_place(&mut v);
    v
}

fn upgrade_in_place(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("config") && m.contains_key("state") && m.contains_key("created") {
                m.entry("ts").or_insert(json!(GO_ZERO_TIME));
                let cfg = m.get_mut("config").unwrap().as_object_mut().unwrap();
                cfg.entry("compression").or_insert(json!("none"));
                cfg.entry("consumer_limits").or_insert(json!({}));
                cfg.entry("allow_msg_ttl").or_insert(json!(false));
            }
            if m.get("type") == Some(&json!(response_type::ACCOUNT_INFO))
                && m.contains_key("limits")
            {
                m.entry("reserved_memory").or_insert(json!(0));
                m.entry("reserved_storage").or_insert(json!(0));
            }
            for (_, x) in m.iter_mut() {
                upgrade_in_place(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(upgrade_in_place),
        _ => {}
    }
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

fn json_of<T: ApiResponse>(r: &T) -> Value {
    serde_json::from_slice(&r.to_json()).unwrap()
}

fn err_json<T: ApiResponse>(e: ApiError) -> Value {
    json_of(&T::from_error(e))
}

fn parse_cfg(g: &Value) -> StreamConfig {
    parse_request::<StreamConfig>(&request_bytes(g)).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn golden_state(g: &Value) -> StreamState {
    serde_json::from_value(response(g)["state"].clone()).unwrap()
}

fn golden_created(g: &Value) -> Timestamp {
    ts(response(g)["created"].as_str().unwrap())
}

/// The endpoint a golden file's subject addresses.
fn endpoint(subject: &str) -> &'static str {
    let prefixes = [
        ("$JS.API.INFO", "account_info"),
        ("$JS.API.STREAM.CREATE.", "create"),
        ("$JS.API.STREAM.UPDATE.", "update"),
        ("$JS.API.STREAM.INFO.", "info"),
        ("$JS.API.STREAM.DELETE.", "delete"),
        ("$JS.API.STREAM.PURGE.", "purge"),
        ("$JS.API.STREAM.NAMES", "names"),
        ("$JS.API.STREAM.LIST", "list"),
        ("$JS.API.STREAM.MSG.GET.", "msg_get"),
        ("$JS.API.STREAM.MSG.DELETE.", "msg_delete"),
        ("$JS.API.DIRECT.GET.", "direct_get"),
    ];
    for (p, e) in prefixes {
        if subject.starts_with(p) {
            return e;
        }
    }
    assert!(
        !subject.starts_with("$JS."),
        "unknown API subject {subject}"
    );
    "publish"
}

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("decode {v}: {e}"));
    to_value(&t)
}

// ---------------------------------------------------------------------------------------------
// Every captured answer decodes with our types and re-encodes to the same JSON (as v2.10).

#[test]
fn every_golden_answer_roundtrips() {
    let mut seen = BTreeMap::<&str, usize>::new();
    for (name, g) in all_goldens() {
        let subject = g["subject"].as_str().unwrap();
        let ep = endpoint(subject);
        *seen.entry(ep).or_default() += 1;
        let resp = response(&g);
        let ours = match ep {
            "account_info" => roundtrip::<AccountInfoResponse>(&resp),
            "create" => roundtrip::<StreamCreateResponse>(&resp),
            "update" => roundtrip::<StreamUpdateResponse>(&resp),
            "info" => roundtrip::<StreamInfoResponse>(&resp),
            "delete" => roundtrip::<StreamDeleteResponse>(&resp),
            "purge" => roundtrip::<StreamPurgeResponse>(&resp),
            "names" => roundtrip::<StreamNamesResponse>(&resp),
            "list" => roundtrip::<StreamListResponse>(&resp),
            "msg_get" => roundtrip::<MsgGetResponse>(&resp),
            "msg_delete" => roundtrip::<MsgDeleteResponse>(&resp),
            "direct_get" => continue,
            "publish" => {
                let ack: PubAckResponse = serde_json::from_value(resp.clone()).unwrap();
                let raw = g["response_raw"].as_str().unwrap();
                assert_eq!(
                    String::from_utf8(ack.to_wire()).unwrap(),
                    raw,
                    "{name}: pub ack bytes"
                );
                to_value(&ack)
            }
            _ => unreachable!(),
        };
        assert_eq!(ours, upgrade(&resp), "{name}: re-encoded answer differs");
    }
    for ep in [
        "account_info",
        "create",
        "update",
        "info",
        "delete",
        "purge",
        "names",
        "list",
        "msg_get",
        "msg_delete",
        "direct_get",
        "publish",
    ] {
        assert!(seen.get(ep).copied().unwrap_or(0) > 0, "no golden for {ep}");
    }
}

// ---------------------------------------------------------------------------------------------
// STREAM.CREATE: the config we derive from the request is the one nats-server reported.

fn expected_create(g: &Value) -> Value {
    let mut expected = upgrade(&response(g));
    // v2.9.10 drops `metadata` (a v2.10 field); v2.10 echoes it.
    if let Some(md) = g["request"].get("metadata") {
        expected["config"]["metadata"] = md.clone();
    }
    expected
}

#[test]
fn create_configs_match_nats_server() {
    let cases = [
        "create_minimal",
        "create_minimal_again",
        "create_no_subjects",
        "create_full",
        "create_short_age",
        "create_noack",
        "direct_create",
        "dn_create",
        "db_create",
        "dps_create",
        "gap_create",
    ];
    for name in cases {
        let g = golden(name);
        let cfg = parse_cfg(&g)
            .check_create(&subject_name(&g))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut info = StreamInfo::new(cfg, golden_created(&g), golden_state(&g));
        info.ts = Timestamp::ZERO;
        let ours = json_of(&StreamCreateResponse::new(info, true));
        assert_eq!(ours, expected_create(&g), "{name}");
    }
}

#[test]
fn create_defaults_for_minimal_config() {
    let raw: StreamConfig = parse_request(br#"{"name":"S","subjects":["s.>"]}"#).unwrap();
    assert_eq!(raw.max_msgs, 0, "raw config keeps Go's zero values");
    let cfg = raw.checked().unwrap();
    assert_eq!(cfg.retention, RetentionPolicy::Limits);
    assert_eq!(cfg.storage, StorageType::File);
    assert_eq!(cfg.discard, DiscardPolicy::Old);
    assert_eq!(
        (
            cfg.max_consumers,
            cfg.max_msgs,
            cfg.max_bytes,
            cfg.max_msgs_per_subject,
            cfg.max_msg_size
        ),
        (-1, -1, -1, -1, -1)
    );
    assert_eq!(cfg.max_age, 0);
    assert_eq!(cfg.num_replicas, 1);
    assert_eq!(cfg.duplicate_window, DEFAULT_DUPLICATE_WINDOW_NS);
    assert_eq!(cfg.compression, Compression::None);
    assert_eq!(cfg.subjects, vec!["s.>".to_owned()]);
    assert_eq!(cfg, cfg.checked().unwrap(), "normalising is idempotent");
    assert_eq!(cfg, raw.with_defaults());

    assert_eq!(
        to_value(&cfg),
        json!({
            "name": "S", "subjects": ["s.>"], "retention": "limits", "max_consumers": -1,
            "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": -1,
            "max_msg_size": -1, "discard": "old", "storage": "file", "num_replicas": 1,
            "duplicate_window": 120000000000u64, "compression": "none", "allow_direct": false,
            "mirror_direct": false, "sealed": false, "deny_delete": false, "deny_purge": false,
            "allow_rollup_hdrs": false, "consumer_limits": {}, "allow_msg_ttl": false
        })
    );

    // No subjects: the name is the subject.
    let cfg = StreamConfig::new("ORDERS", &[]).checked().unwrap();
    assert_eq!(cfg.subjects, vec!["ORDERS".to_owned()]);
    // A max_age shorter than 2 minutes is the duplicate window.
    let mut c = StreamConfig::new("A", &["a"]);
    c.max_age = 30_000_000_000;
    assert_eq!(c.checked().unwrap().duplicate_window, 30_000_000_000);
}

#[test]
fn unknown_fields_and_nulls_are_ignored() {
    let cfg: StreamConfig = parse_request(
        br#"{"name":"S","subjects":["a"],"bogus":1,"nested":{"x":[1,2]},"max_msgs":null,
            "description":null,"subjects_extra":true,"placement":null,"mirror":null,
            "sources":null,"metadata":null,"republish":null,"compression":"s2"}"#,
    )
    .unwrap();
    assert_eq!(cfg.max_msgs, 0);
    assert_eq!(cfg.compression, Compression::S2);
    assert!(cfg.placement.is_none() && cfg.mirror.is_none() && cfg.metadata.is_empty());
    // `discard` is matched without case, as in nats-server; the other enums are not.
    let cfg: StreamConfig = parse_request(br#"{"name":"S","discard":"NEW"}"#).unwrap();
    assert_eq!(cfg.discard, DiscardPolicy::New);
    // Requests too.
    let r: StreamInfoRequest =
        parse_optional_request(br#"{"subjects_filter":">","what":1}"#).unwrap();
    assert_eq!(r.subjects_filter, ">");
    assert_eq!(
        parse_optional_request::<StreamInfoRequest>(b"{}").unwrap(),
        StreamInfoRequest::default()
    );
    assert_eq!(
        parse_optional_request::<StreamInfoRequest>(b"").unwrap(),
        StreamInfoRequest::default()
    );
    assert_eq!(
        parse_request::<StreamConfig>(b"null").unwrap(),
        StreamConfig::default()
    );
}

#[test]
fn v2_10_and_v2_11_fields_roundtrip() {
    let input = json!({
        "name": "N", "subjects": ["n.>"], "retention": "interest", "max_consumers": 3,
        "max_msgs": 10, "max_bytes": 1000, "max_age": 60000000000u64, "max_msgs_per_subject": 2,
        "max_msg_size": 512, "discard": "new", "storage": "memory", "num_replicas": 1,
        "duplicate_window": 1000000000, "placement": {"cluster": "c", "tags": ["t"]},
        "compression": "s2", "first_seq": 100,
        "subject_transform": {"src": "n.>", "dest": "m.>"},
        "republish": {"src": "n.>", "dest": "r.>", "headers_only": true},
        "allow_direct": true, "mirror_direct": false, "discard_new_per_subject": true,
        "sealed": false, "deny_delete": true, "deny_purge": false, "allow_rollup_hdrs": true,
        "consumer_limits": {"inactive_threshold": 5000000000u64, "max_ack_pending": 10},
        "allow_msg_ttl": true, "subject_delete_marker_ttl": 2000000000,
        "metadata": {"b": "2", "a": "1"}
    });
    let cfg: StreamConfig = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(to_value(&cfg), input);
    assert_eq!(cfg.checked().unwrap(), cfg, "already normal");
    let text = serde_json::to_string(&cfg).unwrap();
    assert!(
        text.contains(r#""metadata":{"a":"1","b":"2"}"#),
        "sorted keys"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors: byte-for-byte JSON, and which check produces which.

#[test]
fn error_json_is_exact() {
    let e = ApiError::stream_not_found();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"code":404,"err_code":10059,"description":"stream not found"}"#
    );
    assert_eq!(e.to_string(), "stream not found (10059)");
    assert_eq!(
        String::from_utf8(StreamDeleteResponse::from_error(e.clone()).to_json()).unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#
    );
    assert_eq!(
        String::from_utf8(StreamInfoResponse::from_error(e.clone()).to_json()).unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
    );
    assert_eq!(
        String::from_utf8(StreamPurgeResponse::from_error(e.clone()).to_json()).unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"purged":0}"#
    );
    assert_eq!(
        String::from_utf8(PubAckResponse::error("S", ApiError::stream_sealed()).to_wire()).unwrap(),
        r#"{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"},"stream":"S","seq":0}"#
    );
    assert_eq!(
        String::from_utf8(
            ErrorResponse::new(response_type::SYSTEM, ApiError::bad_request()).to_json()
        )
        .unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.system_response","error":{"code":400,"err_code":10003,"description":"bad request"}}"#
    );
    // A foreign error without err_code re-encodes the same.
    let bare: ApiError = serde_json::from_str(r#"{"code":503}"#).unwrap();
    assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"code":503}"#);
}

/// What v2.10 answers where v2.9.10 (the oracle) answered differently: (case, v2.10 answer).
fn v2_10_create_description(name: &str) -> Option<&'static str> {
    match name {
        "create_js_api_overlap" => {
            Some("subjects that overlap with jetstream api require no-ack to be true")
        }
        _ => None,
    }
}

#[test]
fn create_errors_match_nats_server() {
    let cases = [
        "create_replicas3",
        "create_replicas6",
        "create_replicas_neg",
        "create_invalid_json",
        "create_empty_body",
        "create_name_mismatch",
        "create_no_name",
        "create_dupwin_gt_age",
        "create_age_small",
        "create_dupwin_small",
        "create_dupwin_neg",
        "create_invalid_subject",
        "create_dup_subjects",
        "create_self_overlap",
        "create_js_api_overlap",
        "create_sealed",
        "create_mirror_direct",
        "create_rollup_denypurge",
        "create_dnps_no_discard_new",
        "create_dnps_no_per_subject",
        "create_bad_retention",
        "create_bad_storage",
        "create_bad_discard",
        "create_storage_caps",
        "create_long_name",
        "create_path_sep",
        "create_republish_cycle",
    ];
    for name in cases {
        let g = golden(name);
        let err = parse_request::<StreamConfig>(&request_bytes(&g))
            .and_then(|c| c.check_create(&subject_name(&g)))
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        let mut expected = response(&g);
        if let Some(d) = v2_10_create_description(name) {
            expected["error"]["description"] = json!(d);
        }
        assert_eq!(err_json::<StreamCreateResponse>(err), expected, "{name}");
    }

    // A name too long, a description too long (texts from the oracle).
    let e = StreamConfig::new("N".repeat(256), &["x"])
        .validate()
        .unwrap_err();
    assert_eq!(
        e.description,
        "stream name is too long, maximum allowed is 255"
    );
    let mut c = StreamConfig::new("D", &["d"]);
    c.description = "x".repeat(5000);
    let e = c.validate().unwrap_err();
    assert_eq!(
        (e.code, e.err_code, e.description.as_str()),
        (
            500,
            codes::STREAM_INVALID_CONFIG,
            "stream description is too long, maximum allowed is 4096"
        )
    );
}

#[test]
fn create_against_existing_streams() {
    let existing = parse_cfg(&golden("create_minimal"))
        .check_create("S")
        .unwrap();
    // Same config again: nats-server answers with the existing stream.
    let again = parse_cfg(&golden("create_minimal_again"))
        .check_create("S")
        .unwrap();
    assert_eq!(existing, again);
    // A different one: 10058.
    let g = golden("create_name_in_use");
    let other = parse_cfg(&g).check_create("S").unwrap();
    assert_ne!(existing, other);
    assert_eq!(
        err_json::<StreamCreateResponse>(ApiError::stream_name_exist()),
        response(&g)
    );
    // Overlapping subjects with another stream: 10065.
    let g = golden("create_overlap");
    let t = parse_cfg(&g).check_create("T").unwrap();
    assert!(subjects_overlap(&t.subjects, &existing.subjects));
    assert_eq!(
        err_json::<StreamCreateResponse>(ApiError::stream_subject_overlap()),
        response(&g)
    );
}

#[test]
fn validation_codes() {
    let check = |json: &str| -> (u16, u16, String) {
        let e = parse_request::<StreamConfig>(json.as_bytes())
            .unwrap()
            .validate()
            .unwrap_err();
        (e.code, e.err_code, e.description)
    };
    let invalid = |d: &str| (500, codes::STREAM_INVALID_CONFIG, d.to_owned());
    let name_err = invalid("stream name is required and can not contain '.', '*', '>'");
    for bad in ["", "a.b", "a*", "a>", "a b", "a\tb", "a\nb"] {
        assert_eq!(
            check(&json!({"name": bad, "subjects": ["x"]}).to_string()),
            name_err,
            "{bad:?}"
        );
    }
    assert_eq!(
        check(r#"{"name":"R","subjects":["r"],"num_replicas":3}"#),
        (
            500,
            codes::STREAM_REPLICAS_NOT_SUPPORTED,
            "replicas > 1 not supported in non-clustered mode".to_owned()
        )
    );
    assert_eq!(
        check(r#"{"name":"R","subjects":["r"],"num_replicas":-1}"#).1,
        codes::REPLICAS_COUNT_CANNOT_BE_NEGATIVE
    );
    assert_eq!(
        check(r#"{"name":"F","subjects":[">"]}"#),
        invalid("capturing all subjects requires no-ack to be true")
    );
    assert!(
        parse_request::<StreamConfig>(br#"{"name":"F","subjects":[">"],"no_ack":true}"#)
            .unwrap()
            .validate()
            .is_ok()
    );
    assert_eq!(
        check(r#"{"name":"Y","subjects":["$SYS.>"]}"#),
        invalid("subjects that overlap with system api require no-ack to be true")
    );
    // Exceptions nats-server makes.
    for ok in [
        r#"{"name":"E","subjects":["$JS.EVENT.>"]}"#,
        r#"{"name":"E","subjects":["$SYS.ACCOUNT.>"]}"#,
    ] {
        assert!(
            parse_request::<StreamConfig>(ok.as_bytes())
                .unwrap()
                .validate()
                .is_ok(),
            "{ok}"
        );
    }
    for bad in ["a..b", "a.>.b", "a b", ".a", "a."] {
        assert_eq!(
            check(&json!({"name": "S", "subjects": [bad]}).to_string()),
            invalid("invalid subject"),
            "{bad:?}"
        );
    }
    assert_eq!(
        check(r#"{"name":"M","mirror":{"name":"O"},"subjects":["m"]}"#).1,
        codes::MIRROR_WITH_SUBJECTS
    );
    assert_eq!(
        check(r#"{"name":"M","mirror":{"name":"O"},"first_seq":5}"#).1,
        codes::MIRROR_WITH_FIRST_SEQ
    );
    assert_eq!(
        check(r#"{"name":"M","sources":[{"name":"a"},{"name":"a"}]}"#).1,
        codes::SOURCE_DUPLICATE_DETECTED
    );
    assert_eq!(
        check(r#"{"name":"M","sources":[{"name":"a.b"}]}"#).1,
        codes::SOURCE_INVALID_STREAM_NAME
    );
    assert_eq!(
        check(r#"{"name":"T","subjects":["t.>"],"subject_transform":{"src":"t..x","dest":"u.>"}}"#)
            .1,
        codes::STREAM_TRANSFORM_INVALID_SOURCE
    );
    assert_eq!(
        check(r#"{"name":"T","subjects":["t.>"],"subject_transform":{"src":"t.>","dest":"u.*"}}"#)
            .1,
        codes::STREAM_TRANSFORM_INVALID_DESTINATION
    );
    assert!(parse_request::<StreamConfig>(
        br#"{"name":"T","subjects":["t.*.*"],"subject_transform":{"src":"t.*.*","dest":"u.{{wildcard(2)}}.$1"}}"#
    )
    .unwrap()
    .validate()
    .is_ok());
    assert_eq!(
        check(r#"{"name":"S","subjects":["s"],"subject_delete_marker_ttl":500}"#),
        invalid("subject delete marker TTL must be at least 1 second")
    );
    assert_eq!(
        check(r#"{"name":"S","subjects":["s"],"subject_delete_marker_ttl":1000000000}"#),
        invalid("subject delete marker cannot be set if roll-ups are disabled")
    );
    let ok: StreamConfig = parse_request(
        br#"{"name":"S","subjects":["s"],"subject_delete_marker_ttl":1000000000,"allow_rollup_hdrs":true}"#,
    )
    .unwrap();
    assert!(ok.checked().unwrap().allow_msg_ttl, "markers imply TTLs");
    let mut big = StreamConfig::new("S", &["s"]);
    big.metadata
        .insert("k".into(), "v".repeat(MAX_METADATA_LEN));
    assert_eq!(
        big.validate().unwrap_err().description,
        "stream metadata exceeds maximum size of 131072 bytes"
    );
}

// ---------------------------------------------------------------------------------------------
// STREAM.UPDATE.

fn created_config(name: &str) -> StreamConfig {
    let g = golden(name);
    parse_cfg(&g).check_create(&subject_name(&g)).unwrap()
}

#[test]
fn updates_match_nats_server() {
    let s = created_config("create_minimal");
    let g = golden("update_ok");
    let cfg = s.check_update(&parse_cfg(&g)).unwrap();
    let mut info = StreamInfo::new(cfg, golden_created(&g), golden_state(&g));
    info.ts = Timestamp::ZERO;
    assert_eq!(
        json_of(&StreamUpdateResponse::new(info)),
        upgrade(&response(&g))
    );

    // Sealing adjusts the config as nats-server does.
    let age = created_config("create_short_age");
    let g = golden("update_seal");
    let sealed = age.check_update(&parse_cfg(&g)).unwrap();
    assert_eq!(to_value(&sealed), upgrade(&response(&g))["config"]);

    // Refusals: (case, old config).
    let after_update_ok: StreamConfig =
        serde_json::from_value(response(&golden("update_ok"))["config"].clone()).unwrap();
    let full = created_config("create_full");
    for (name, old) in [
        ("update_bad_name", &after_update_ok),
        ("update_empty_name", &after_update_ok),
        ("update_space_name", &after_update_ok),
        ("update_storage", &after_update_ok),
        ("update_max_consumers", &after_update_ok),
        ("update_undeny_delete", &full),
        ("update_unseal", &sealed),
        ("update_invalid_json", &after_update_ok),
        ("update_retention_wq", &after_update_ok),
    ] {
        let g = golden(name);
        let err = parse_request::<StreamConfig>(&request_bytes(&g))
            .and_then(|new| old.check_update(&new))
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        let mut expected = response(&g);
        if name == "update_retention_wq" {
            // v2.10 allows limits <-> interest and says so.
            expected["error"]["description"] = json!(
                "stream configuration update can not change retention policy to/from workqueue"
            );
        }
        assert_eq!(err_json::<StreamUpdateResponse>(err), expected, "{name}");
    }
    // Name in subject vs body, and an unknown stream: the caller's checks, our errors.
    assert_eq!(
        err_json::<StreamUpdateResponse>(ApiError::stream_mismatch()),
        response(&golden("update_mismatch"))
    );
    assert_eq!(
        err_json::<StreamUpdateResponse>(ApiError::stream_not_found()),
        response(&golden("update_not_found"))
    );

    // v2.10 allows limits -> interest (v2.9.10 refused: update_retention_interest).
    let nosubj = created_config("create_no_subjects");
    let to_interest = nosubj
        .check_update(&parse_cfg(&golden("update_retention_interest")))
        .unwrap();
    assert_eq!(to_interest.retention, RetentionPolicy::Interest);
    // ... so update_overlap gets as far as the caller's overlap check (10065).
    let overlap = nosubj
        .check_update(&parse_cfg(&golden("update_overlap")))
        .unwrap();
    assert!(subjects_overlap(
        &overlap.subjects,
        &after_update_ok.subjects
    ));

    // v2.9.10 accepted num_replicas 3 on a single server (update_replicas3); Sluice refuses.
    let e = s
        .check_update(&parse_cfg(&golden("update_replicas3")))
        .unwrap_err();
    assert_eq!(e.err_code, codes::STREAM_REPLICAS_NOT_SUPPORTED);

    // v2.11: TTLs can not be turned off again.
    let mut ttl = s.clone();
    ttl.allow_msg_ttl = true;
    assert_eq!(
        ttl.check_update(&StreamConfig::new("S", &["s.>"]))
            .unwrap_err()
            .description,
        "message TTL status can not be disabled"
    );
    // Work queue is fixed; mirror is fixed.
    let mut wq = StreamConfig::new("S", &["s.>"]);
    wq.retention = RetentionPolicy::WorkQueue;
    assert!(s.check_update(&wq).is_err());
    let mut m = StreamConfig::new("M", &[]);
    m.mirror = Some(StreamSource {
        name: "O".into(),
        ..Default::default()
    });
    let mcfg = m.checked().unwrap();
    assert!(mcfg.subjects.is_empty(), "a mirror gets no default subject");
    let mut m2 = m.clone();
    m2.mirror.as_mut().unwrap().name = "P".into();
    assert_eq!(
        mcfg.check_update(&m2).unwrap_err().err_code,
        codes::STREAM_MIRROR_NOT_UPDATABLE
    );
}

// ---------------------------------------------------------------------------------------------
// Publish acks.

#[test]
fn pub_acks_match_nats_server() {
    let ok = [
        ("pub_1", PubAck::new("S", 1)),
        ("pub_2", PubAck::new("S", 2)),
        ("pub_dup", PubAck::duplicate("S", 2)),
        ("dn_pub1", PubAck::new("DNEW", 1)),
    ];
    for (name, ack) in ok {
        let raw = golden(name)["response_raw"].as_str().unwrap().to_owned();
        assert_eq!(String::from_utf8(ack.to_wire()).unwrap(), raw, "{name}");
        assert_eq!(
            String::from_utf8(PubAckResponse::ok(ack).to_wire()).unwrap(),
            raw
        );
    }
    let mut d = PubAck::new("S", 7);
    d.domain = "hub".into();
    assert_eq!(d.to_wire(), br#"{"stream":"S", "domain":"hub", "seq":7}"#);

    let errs = [
        ("pub_expected_stream_bad", "S", ApiError::stream_not_match()),
        (
            "pub_expected_last_seq_bad",
            "S",
            ApiError::stream_wrong_last_sequence(2),
        ),
        (
            "pub_expected_last_subj_seq_bad",
            "S",
            ApiError::stream_wrong_last_sequence(1),
        ),
        (
            "pub_expected_last_msgid_bad",
            "S",
            ApiError::stream_wrong_last_msg_id("m2"),
        ),
        (
            "pub_rollup_not_permitted",
            "S",
            ApiError::rollup_not_permitted(),
        ),
        (
            "pub_full_too_big",
            "FULL",
            ApiError::stream_message_exceeds_maximum(),
        ),
        ("pub_sealed", "AGE", ApiError::stream_sealed()),
        ("dn_pub2", "DNEW", ApiError::maximum_messages_exceeded()),
        ("db_pub2", "DBYTES", ApiError::maximum_bytes_exceeded()),
        (
            "dps_pub2",
            "DPS",
            ApiError::maximum_messages_per_subject_exceeded(),
        ),
    ];
    for (name, stream, e) in errs {
        let raw = golden(name)["response_raw"].as_str().unwrap().to_owned();
        assert_eq!(
            String::from_utf8(PubAckResponse::error(stream, e).to_wire()).unwrap(),
            raw,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// STREAM.INFO.

fn golden_info(g: &Value) -> StreamInfo {
    let mut v = response(g);
    let m = v.as_object_mut().unwrap();
    for k in ["type", "total", "offset", "limit"] {
        m.remove(k);
    }
    let mut info: StreamInfo = serde_json::from_value(v).unwrap();
    info.state.subjects.clear();
    info.ts = Timestamp::ZERO;
    info
}

#[test]
fn stream_info_matches_nats_server() {
    let g = golden("info_stream");
    assert_eq!(
        json_of(&StreamInfoResponse::new(golden_info(&g))),
        upgrade(&response(&g))
    );

    // With subject details: every matching subject's count, paged.
    for (name, offset) in [
        ("info_stream_subjects", 0),
        ("info_stream_subjects_filtered", 0),
        ("gap_info_deleted", 0),
        ("gap_info_offset", 1),
        ("gap_info_nomatch", 0),
    ] {
        let g = golden(name);
        let req: StreamInfoRequest = parse_optional_request(&request_bytes(&g)).unwrap();
        assert_eq!(req.offset, offset, "{name}");
        let all: BTreeMap<String, u64> = match name {
            "gap_info_offset" => [("gap.a".to_owned(), 2)].into(),
            _ => serde_json::from_value(
                response(&g)["state"]
                    .get("subjects")
                    .cloned()
                    .unwrap_or(json!({})),
            )
            .unwrap(),
        };
        let ours = StreamInfoResponse::with_subjects(golden_info(&g), all, req.offset);
        assert_eq!(json_of(&ours), upgrade(&response(&g)), "{name}");
    }
    let g = golden("gap_info_deleted");
    assert!(
        parse_optional_request::<StreamInfoRequest>(&request_bytes(&g))
            .unwrap()
            .deleted_details
    );
    assert_eq!(golden_state(&g).deleted, vec![2]);

    assert_eq!(
        err_json::<StreamInfoResponse>(ApiError::stream_not_found()),
        response(&golden("info_not_found"))
    );
    let e = parse_optional_request::<StreamInfoRequest>(b"{").unwrap_err();
    assert_eq!(
        err_json::<StreamInfoResponse>(e),
        response(&golden("info_bad_json"))
    );

    // v2.10 on a single server: cluster {leader}, and a `ts`.
    let mut info = golden_info(&golden("info_stream"));
    info.cluster = Some(ClusterInfo::of(None, "NSERVER"));
    info.ts = ts("2026-11-22T23:42:05.1Z");
    let v = json_of(&StreamInfoResponse::new(info));
    assert_eq!(v["cluster"], json!({"leader": "NSERVER"}));
    assert_eq!(v["ts"], json!("2026-11-22T23:42:05.1Z"));
}

// ---------------------------------------------------------------------------------------------
// STREAM.MSG.GET / DIRECT.GET.

#[test]
fn msg_get_matches_nats_server() {
    let kinds = [
        ("msg_get_seq", Ok(MsgGetKind::Seq(1))),
        ("msg_get_hdr", Ok(MsgGetKind::LastBySubject("s.h".into()))),
        ("msg_get_last", Ok(MsgGetKind::LastBySubject("s.a".into()))),
        (
            "msg_get_next",
            Ok(MsgGetKind::NextBySubject {
                subject: "s.a".into(),
                from_seq: 2,
            }),
        ),
        ("msg_get_not_found", Ok(MsgGetKind::Seq(99))),
        ("msg_get_empty", Err(ApiError::bad_request())),
        ("msg_get_seq_and_last", Err(ApiError::bad_request())),
        ("msg_get_bad_json", Err(ApiError::invalid_json())),
    ];
    for (name, want) in kinds {
        let g = golden(name);
        let got = MsgGetRequest::parse_api(&request_bytes(&g));
        assert_eq!(got, want, "{name}");
        if let Err(e) = got {
            assert_eq!(err_json::<MsgGetResponse>(e), response(&g), "{name}");
        }
    }
    for name in [
        "msg_get_not_found",
        "msg_get_next",
        "msg_get_last_not_found",
    ] {
        assert_eq!(
            err_json::<MsgGetResponse>(ApiError::no_message_found()),
            response(&golden(name)),
            "{name}"
        );
    }
    assert_eq!(
        err_json::<MsgGetResponse>(ApiError::stream_not_found()),
        response(&golden("msg_get_stream_not_found"))
    );

    // The message with headers, built from its parts: headers base64 as nats-server stores them.
    let g = golden("msg_get_hdr");
    let mut h = HeaderMap::new();
    h.append("X-A", "1").unwrap();
    h.append("X-B", "two").unwrap();
    let msg = StoredMessage {
        subject: "s.h".into(),
        seq: 4,
        headers: h.to_bytes(),
        data: Bytes::from_static(b"with headers"),
        time: ts(response(&g)["message"]["time"].as_str().unwrap()),
    };
    assert_eq!(json_of(&MsgGetResponse::new(msg)), response(&g));
    // No payload, no headers: both left out.
    let g = golden("gap_msg_get_empty_payload");
    let msg = StoredMessage {
        subject: "gap.e".into(),
        seq: 4,
        headers: Bytes::new(),
        data: Bytes::new(),
        time: ts(response(&g)["message"]["time"].as_str().unwrap()),
    };
    assert_eq!(json_of(&MsgGetResponse::new(msg)), response(&g));
}

#[test]
fn direct_get_matches_nats_server() {
    let g = golden("direct_get_seq");
    assert_eq!(
        MsgGetRequest::parse_direct(&request_bytes(&g)),
        Ok(MsgGetKind::Seq(1))
    );
    let want = g["response_headers"].as_str().unwrap();
    let stamp = want.split("Nats-Time-Stamp: ").nth(1).unwrap().trim_end();
    let mut stored = HeaderMap::new();
    stored.append("X-H", "y").unwrap();
    let h = direct_get_headers(Some(&stored), "KV", "kv.a", 1, ts(stamp));
    assert_eq!(String::from_utf8(h.to_bytes().to_vec()).unwrap(), want);
    assert_eq!(g["response"], json!("va"));

    let g = golden("direct_get_last");
    assert_eq!(
        MsgGetRequest::parse_direct_last_by_subject(g["subject"].as_str().unwrap(), b""),
        Ok("kv.a".to_owned())
    );
    assert_eq!(g["response_headers"].as_str().unwrap(), want);
    assert_eq!(
        MsgGetRequest::parse_direct_last_by_subject("$JS.API.DIRECT.GET.KV.a.b.>", b""),
        Ok("a.b.>".to_owned())
    );
    assert_eq!(
        MsgGetRequest::parse_direct_last_by_subject("$JS.API.DIRECT.GET.KV", b""),
        Err(DirectGetStatus::BadRequest)
    );
    assert_eq!(
        MsgGetRequest::parse_direct_last_by_subject("$JS.API.DIRECT.GET.KV.a", b"{}"),
        Err(DirectGetStatus::BadRequest)
    );

    for (name, status) in [
        ("direct_get_missing", DirectGetStatus::NotFound),
        ("direct_get_bad", DirectGetStatus::MalformedRequest),
        ("direct_get_empty", DirectGetStatus::EmptyRequest),
    ] {
        let g = golden(name);
        let want = g["response_headers"].as_str().unwrap();
        assert_eq!(
            String::from_utf8(status.header_map().to_bytes().to_vec()).unwrap(),
            want,
            "{name}"
        );
        if status != DirectGetStatus::NotFound {
            assert_eq!(
                MsgGetRequest::parse_direct(&request_bytes(&g)),
                Err(status),
                "{name}"
            );
        }
    }
    assert_eq!(
        MsgGetRequest::parse_direct(br#"{"seq":1,"last_by_subj":"a"}"#),
        Err(DirectGetStatus::BadRequest)
    );
    assert_eq!(
        MsgGetRequest::parse_direct(b"{}"),
        Err(DirectGetStatus::EmptyRequest)
    );
    // Without stored headers the block is just the four.
    let h = direct_get_headers(
        None,
        "KV",
        "kv.a",
        3,
        Timestamp::from_unix_nanos(1_500_000_000),
    );
    assert_eq!(
        h.to_bytes().as_ref(),
        b"NATS/1.0\r\nNats-Stream: KV\r\nNats-Subject: kv.a\r\nNats-Sequence: 3\r\nNats-Time-Stamp: 1970-01-01T00:00:01.5Z\r\n\r\n"
    );
}

// ---------------------------------------------------------------------------------------------
// STREAM.MSG.DELETE, STREAM.PURGE, STREAM.DELETE.

#[test]
fn deletes_and_purges_match_nats_server() {
    let g = golden("msg_delete_no_erase");
    let req: MsgDeleteRequest = parse_request(&request_bytes(&g)).unwrap();
    assert_eq!(
        req,
        MsgDeleteRequest {
            seq: 2,
            no_erase: true
        }
    );
    assert_eq!(json_of(&MsgDeleteResponse::success()), response(&g));
    for (name, e) in [
        (
            "msg_delete_again",
            ApiError::stream_msg_delete_failed("no message found"),
        ),
        (
            "msg_delete_missing",
            ApiError::stream_msg_delete_failed("stream store EOF"),
        ),
        (
            "msg_delete_denied",
            ApiError::message_delete_not_permitted(),
        ),
        ("msg_delete_sealed", ApiError::stream_sealed()),
        ("msg_delete_empty", ApiError::bad_request()),
    ] {
        assert_eq!(
            err_json::<MsgDeleteResponse>(e),
            response(&golden(name)),
            "{name}"
        );
    }
    assert!(is_empty_request(&request_bytes(&golden(
        "msg_delete_empty"
    ))));

    assert_eq!(
        json_of(&StreamPurgeResponse::success(1)),
        response(&golden("purge_filter"))
    );
    assert_eq!(
        json_of(&StreamPurgeResponse::success(0)),
        response(&golden("purge_keep"))
    );
    let req: StreamPurgeRequest =
        parse_optional_request(&request_bytes(&golden("purge_filter"))).unwrap();
    assert_eq!(req.filter, "s.h");
    let e =
        parse_optional_request::<StreamPurgeRequest>(&request_bytes(&golden("purge_seq_and_keep")))
            .unwrap()
            .validate()
            .unwrap_err();
    assert_eq!(
        err_json::<StreamPurgeResponse>(e),
        response(&golden("purge_seq_and_keep"))
    );
    for (name, e) in [
        ("purge_denied", ApiError::stream_purge_not_permitted()),
        ("purge_sealed", ApiError::stream_sealed()),
        ("purge_not_found", ApiError::stream_not_found()),
        ("purge_bad_json", ApiError::invalid_json()),
    ] {
        assert_eq!(
            err_json::<StreamPurgeResponse>(e),
            response(&golden(name)),
            "{name}"
        );
    }

    assert_eq!(
        json_of(&StreamDeleteResponse::success()),
        response(&golden("delete"))
    );
    assert!(is_empty_request(&request_bytes(&golden(
        "delete_with_body"
    ))));
    assert_eq!(
        err_json::<StreamDeleteResponse>(ApiError::stream_not_found()),
        response(&golden("delete_not_found"))
    );
}

// ---------------------------------------------------------------------------------------------
// STREAM.NAMES / LIST, $JS.API.INFO.

#[test]
fn names_and_list_match_nats_server() {
    let all: Vec<String> =
        serde_json::from_value(response(&golden("names"))["streams"].clone()).unwrap();
    let mut shuffled = all.clone();
    shuffled.reverse();
    for (name, names, offset) in [
        ("names", shuffled.clone(), 0),
        ("names_offset", shuffled.clone(), 2),
        ("names_subject", vec!["S".to_owned()], 0),
        ("names_none", vec![], 0),
    ] {
        let g = golden(name);
        let req: StreamNamesRequest = parse_optional_request(&request_bytes(&g)).unwrap();
        assert_eq!(req.offset, offset);
        assert_eq!(
            json_of(&StreamNamesResponse::page(names, req.offset)),
            response(&g),
            "{name}"
        );
    }
    assert_eq!(
        response(&golden("names_none"))["streams"],
        Value::Null,
        "nats-server writes no names as null"
    );
    assert_eq!(
        err_json::<StreamNamesResponse>(ApiError::invalid_json()),
        response(&golden("names_bad_json"))
    );

    for name in ["list", "list_subject", "list_none"] {
        let g = golden(name);
        let mut infos: Vec<StreamInfo> =
            serde_json::from_value(response(&g)["streams"].clone()).unwrap();
        infos.reverse();
        let ours = StreamListResponse::page(infos, 0);
        assert_eq!(json_of(&ours), upgrade(&response(&g)), "{name}");
    }
    assert_eq!(
        err_json::<StreamListResponse>(ApiError::invalid_json()),
        response(&golden("list_bad_json"))
    );
}

#[test]
fn account_info_matches_nats_server() {
    let g = golden("info_empty");
    assert_eq!(
        json_of(&AccountInfoResponse::new(AccountStats::default())),
        upgrade(&response(&g))
    );
    let g = golden("info_account");
    let r = response(&g);
    let stats = AccountStats {
        memory: r["memory"].as_u64().unwrap(),
        storage: r["storage"].as_u64().unwrap(),
        streams: r["streams"].as_u64().unwrap() as usize,
        api: ApiStats {
            total: r["api"]["total"].as_u64().unwrap(),
            errors: r["api"]["errors"].as_u64().unwrap(),
            inflight: 0,
        },
        ..Default::default()
    };
    assert_eq!(json_of(&AccountInfoResponse::new(stats)), upgrade(&r));
    assert_eq!(
        json_of(&AccountInfoResponse::from_error(
            ApiError::not_enabled_for_account()
        )),
        json!({"type": response_type::ACCOUNT_INFO,
               "error": {"code": 503, "err_code": 10039, "description": "JetStream not enabled for account"}})
    );
}

// ---------------------------------------------------------------------------------------------
// Time, base64, subjects.

#[test]
fn rfc3339_like_go() {
    // Every timestamp nats-server wrote in the goldens formats back identically.
    let mut n = 0;
    for (_, g) in all_goldens() {
        let text = g.to_string();
        for piece in text.split('"') {
            if piece.len() >= 20 && piece.starts_with("20") && piece.ends_with('Z') {
                let t = Timestamp::parse(piece).unwrap();
                assert_eq!(t.to_string(), piece);
                n += 1;
            }
        }
    }
    assert!(n > 50, "only {n} timestamps");
    // Trailing zeros trimmed, down to no fraction at all.
    for (ns, s) in [
        (1_779_493_801_123_456_789, "2026-05-22T23:50:01.123456789Z"),
        (1_779_493_801_123_456_780, "2026-05-22T23:50:01.12345678Z"),
        (1_779_493_801_120_000_000, "2026-05-22T23:50:01.12Z"),
        (1_779_493_801_000_000_100, "2026-05-22T23:50:01.0000001Z"),
        (1_779_493_801_000_000_000, "2026-05-22T23:50:01Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
    ] {
        assert_eq!(format_rfc3339_nanos(ns), s);
        assert_eq!(parse_rfc3339_nanos(s), Ok(ns));
        assert_eq!(Timestamp::from_unix_nanos(ns).to_string(), s);
    }
    // Go's zero time.
    assert_eq!(Timestamp::parse(GO_ZERO_TIME), Ok(Timestamp::ZERO));
    assert_eq!(Timestamp::ZERO.to_string(), GO_ZERO_TIME);
    assert_eq!(Timestamp::from_unix_nanos_or_zero(0), Timestamp::ZERO);
    assert!(parse_rfc3339_nanos(GO_ZERO_TIME).is_err());
    // Offsets and any precision are accepted.
    assert_eq!(
        parse_rfc3339_nanos("2026-05-23T01:50:01.5+02:00"),
        Ok(1_779_493_801_500_000_000)
    );
    assert!(Timestamp::parse("yesterday").is_err());
    // JSON: a string; null is the zero time.
    assert_eq!(
        serde_json::to_string(&Timestamp::from_unix_nanos(1)).unwrap(),
        r#""1970-01-01T00:00:00.000000001Z""#
    );
    assert_eq!(
        serde_json::from_str::<Timestamp>("null").unwrap(),
        Timestamp::ZERO
    );
    let now = now_ns();
    assert!(now > 1_700_000_000_000_000_000);
}

#[test]
fn base64_like_go() {
    for (plain, enc) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
        ("hello", "aGVsbG8="),
    ] {
        assert_eq!(base64_encode(plain.as_bytes()), enc);
        assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
    assert_eq!(base64_decode("Zm9v\r\nYmFy").unwrap(), b"foobar");
    for bad in ["Zm9", "Zm=v", "Z===", "Zm9v!A==", "Zg==Zg=="] {
        assert!(base64_decode(bad).is_err(), "{bad}");
    }
    // In a message: `data` null is empty, bad base64 is an error.
    let m: StoredMessage = serde_json::from_str(
        r#"{"subject":"a","seq":1,"data":null,"time":"1970-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert!(m.data.is_empty());
    assert!(serde_json::from_str::<StoredMessage>(
        r#"{"subject":"a","seq":1,"data":"@@","time":"1970-01-01T00:00:00Z"}"#
    )
    .is_err());
}

#[test]
fn subject_collisions_like_nats_server() {
    for (a, b, want) in [
        ("foo", "foo", true),
        ("foo", "bar", false),
        ("foo.*", "foo.bar", true),
        ("foo.*", "foo.bar.baz", false),
        ("foo.>", "foo.bar.baz", true),
        ("foo.>", "foo", false),
        ("foo.*", "*.bar", true),
        ("foo.*.baz", "*.bar.>", true),
        ("foo.*", "foo.*.*", false),
        ("foo.>", "*.*", true),
        (">", "a.b.c", true),
        ("a.*", "b.>", false),
        ("s.>", "s2", false),
    ] {
        assert_eq!(subjects_collide(a, b), want, "{a} vs {b}");
        assert_eq!(subjects_collide(b, a), want, "{b} vs {a}");
    }
    assert!(subject_is_subset_match(
        "$JS.EVENT.ADVISORY.x",
        "$JS.EVENT.>"
    ));
    assert!(!subject_is_subset_match("$JS.>", "$JS.EVENT.>"));
    assert!(subject_is_subset_match("foo.*", "*.*"));
    assert!(!subject_is_subset_match("foo.*", "foo.bar"));
    assert!(is_valid_name("ORDERS-1_x"));
    assert!(!is_valid_name("a\x0cb"));
    assert!(is_valid_literal_subject("a.b") && !is_valid_literal_subject("a.*"));
}
