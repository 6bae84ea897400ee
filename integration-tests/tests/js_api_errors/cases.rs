//! The table: the fixture every case runs after, and the cases, by endpoint. This file has the
//! account, unknown-subject and stream CRUD cases; `messages.rs` the MSG.GET, MSG.DELETE,
//! DIRECT.GET and PURGE ones; `consumers.rs` the consumer API's.

use crate::{case, differs, err, same, Answer, Case, Req, Want};
use crate::{consumers, messages};

/// The streams (and consumers) the cases use, made before the first case:
///
/// * `MEM` (memory) and `FILE` (file), subjects `mem.*` / `file.*`, `allow_direct`: five
///   messages `x.a x.b x.a x.c x.a` (sequences 1-5), then 2 deleted (erased) and 4 deleted
///   with `no_erase`;
/// * `NODIRECT` (`nd`), without `allow_direct`, one message;
/// * `SEALED` (`sealed`): one message, then sealed by an update;
/// * `DENY` (`deny`): `deny_delete` and `deny_purge`, one message;
/// * `C` (`c.>`): durable pull consumer `D` (ack explicit), push consumer `P` (deliver subject
///   `dlv.p`, nobody subscribed);
/// * `WQ` (`wq.>`, work queue) with the unfiltered consumer `W1`; `WQ2` (`wq2.>`, work queue)
///   without consumers;
/// * `MAXC` (`maxc`, `max_consumers` 1) with consumer `M1`;
/// * `MIR`, a mirror of `MEM`.
pub fn fixture() -> Vec<Req> {
    let mut f = Vec::new();
    let mut add = |subject: &str, body: &str| {
        f.push(Req {
            subject: subject.to_owned(),
            body: body.as_bytes().to_vec(),
        })
    };
    for (name, storage) in [("MEM", "memory"), ("FILE", "file")] {
        let p = name.to_lowercase();
        add(
            &format!("$JS.API.STREAM.CREATE.{name}"),
            &format!(
                r#"{{"name":"{name}","subjects":["{p}.*"],"storage":"{storage}","allow_direct":true}}"#
            ),
        );
        for s in ["a", "b", "a", "c", "a"] {
            add(&format!("{p}.{s}"), "x");
        }
        add(&format!("$JS.API.STREAM.MSG.DELETE.{name}"), r#"{"seq":2}"#);
        add(
            &format!("$JS.API.STREAM.MSG.DELETE.{name}"),
            r#"{"seq":4,"no_erase":true}"#,
        );
    }
    add(
        "$JS.API.STREAM.CREATE.NODIRECT",
        r#"{"name":"NODIRECT","subjects":["nd"]}"#,
    );
    add("nd", "x");
    add(
        "$JS.API.STREAM.CREATE.SEALED",
        r#"{"name":"SEALED","subjects":["sealed"]}"#,
    );
    add("sealed", "x");
    add(
        "$JS.API.STREAM.UPDATE.SEALED",
        r#"{"name":"SEALED","subjects":["sealed"],"sealed":true}"#,
    );
    add(
        "$JS.API.STREAM.CREATE.DENY",
        r#"{"name":"DENY","subjects":["deny"],"deny_delete":true,"deny_purge":true}"#,
    );
    add("deny", "x");
    add(
        "$JS.API.STREAM.CREATE.C",
        r#"{"name":"C","subjects":["c.>"]}"#,
    );
    add(
        "$JS.API.CONSUMER.DURABLE.CREATE.C.D",
        r#"{"stream_name":"C","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
    );
    add(
        "$JS.API.CONSUMER.DURABLE.CREATE.C.P",
        r#"{"stream_name":"C","config":{"durable_name":"P","deliver_subject":"dlv.p","ack_policy":"explicit"}}"#,
    );
    add(
        "$JS.API.STREAM.CREATE.WQ",
        r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue"}"#,
    );
    add(
        "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W1",
        r#"{"stream_name":"WQ","config":{"durable_name":"W1","ack_policy":"explicit"}}"#,
    );
    add(
        "$JS.API.STREAM.CREATE.WQ2",
        r#"{"name":"WQ2","subjects":["wq2.>"],"retention":"workqueue"}"#,
    );
    add(
        "$JS.API.STREAM.CREATE.MAXC",
        r#"{"name":"MAXC","subjects":["maxc"],"max_consumers":1}"#,
    );
    add(
        "$JS.API.CONSUMER.DURABLE.CREATE.MAXC.M1",
        r#"{"stream_name":"MAXC","config":{"durable_name":"M1"}}"#,
    );
    add(
        "$JS.API.STREAM.CREATE.MIR",
        r#"{"name":"MIR","mirror":{"name":"MEM"}}"#,
    );
    f
}

/// Every case, in the order they run.
pub fn table() -> Vec<Case> {
    let mut t = Vec::new();
    t.extend(general());
    t.extend(stream_create());
    t.extend(stream_update());
    t.extend(stream_info_delete_names());
    t.extend(messages::cases());
    t.extend(consumers::cases());
    t
}

/// 400 10003 `bad request`.
pub fn bad_request() -> Answer {
    err(400, 10003, "bad request")
}

/// 400 10025 `invalid JSON`.
pub fn invalid_json() -> Answer {
    err(400, 10025, "invalid JSON")
}

/// 404 10059 `stream not found`.
pub fn stream_not_found() -> Answer {
    err(404, 10059, "stream not found")
}

/// 503 10010 `JetStream clustering support required`.
pub fn cluster_required() -> Answer {
    err(503, 10010, "JetStream clustering support required")
}

/// A subject nats-server has no endpoint for: v2.10.8+ (and Sluice) answer 10003 in a
/// `system_response`, v2.9.10 nothing.
pub fn not_served() -> Want {
    differs(bad_request(), Answer::Silence, "differences.md 18")
}

/// A negative paging offset: taken as 0 (nats-server v2.11.17); v2.9.10 panics.
pub fn negative_offset() -> Want {
    differs(Answer::Ok, Answer::Crash, "differences.md 19")
}

/// 500 10052 with `text` (stream config invalid).
pub fn invalid_config(text: &str) -> Answer {
    err(500, 10052, text)
}

#[rustfmt::skip]
fn general() -> Vec<Case> {
    vec![
        case("account_info", "$JS.API.INFO", "", same(Answer::Ok)),
        // nats-server ignores the body of an account info request, even bad JSON.
        case("account_info_bad_json", "$JS.API.INFO", "{", same(Answer::Ok)),
        // Subjects nats-server has no endpoint for.
        case("unknown_subject", "$JS.API.FOO", "", not_served()),
        case("templates", "$JS.API.STREAM.TEMPLATE.NAMES", "", differs(bad_request(), Answer::Ok, "differences.md 18: stream templates are not served")),
        // Sluice serves no snapshots; nats-server refuses an empty snapshot request with the
        // same error Sluice gives every subject it does not serve.
        case("stream_snapshot_empty_body", "$JS.API.STREAM.SNAPSHOT.MEM", "", same(bad_request())),
        case("stream_restore_empty_body", "$JS.API.STREAM.RESTORE.MEM", "", same(bad_request())),
        // System-account requests, ignored here.
        case("meta_leader_stepdown", "$JS.API.META.LEADER.STEPDOWN", "", same(Answer::Silence)),
        case("server_remove", "$JS.API.SERVER.REMOVE", "", same(Answer::Silence)),
        // A single server is never clustered.
        case("stream_leader_stepdown", "$JS.API.STREAM.LEADER.STEPDOWN.MEM", "", same(cluster_required())),
        case("stream_leader_stepdown_not_found", "$JS.API.STREAM.LEADER.STEPDOWN.NOPE", "", same(cluster_required())),
        case("stream_peer_remove", "$JS.API.STREAM.PEER.REMOVE.MEM", r#"{"peer":"x"}"#, same(cluster_required())),
        case("consumer_leader_stepdown", "$JS.API.CONSUMER.LEADER.STEPDOWN.C.D", "", same(cluster_required())),
    ]
}

#[rustfmt::skip]
fn stream_create() -> Vec<Case> {
    let c = "$JS.API.STREAM.CREATE.X";
    let long = "N".repeat(256);
    let long_subject = format!("$JS.API.STREAM.CREATE.{long}");
    let long_body = format!(r#"{{"name":"{long}","subjects":["long"]}}"#);
    let desc = format!(
        r#"{{"name":"X","subjects":["x"],"description":"{}"}}"#,
        "d".repeat(4097)
    );
    vec![
        case("create_empty_body", c, "", same(invalid_json())),
        case("create_bad_json", c, "{", same(invalid_json())),
        case("create_array", c, r#"["X"]"#, same(invalid_json())),
        case("create_null", c, "null", same(err(400, 10056, "stream name in subject does not match request"))),
        case("create_no_name", c, r#"{"subjects":["x"]}"#, same(err(400, 10056, "stream name in subject does not match request"))),
        case("create_name_mismatch", c, r#"{"name":"Y","subjects":["x"]}"#, same(err(400, 10056, "stream name in subject does not match request"))),
        case("create_path_separator", "$JS.API.STREAM.CREATE.A/B", r#"{"name":"A/B","subjects":["x"]}"#, same(err(400, 10128, "Stream name can not contain path separators"))),
        case("create_name_too_long", &long_subject, &long_body, same(invalid_config("stream name is too long, maximum allowed is 255"))),
        case("create_description_too_long", c, &desc, same(invalid_config("stream description is too long, maximum allowed is 4096"))),
        case("create_sealed", c, r#"{"name":"X","subjects":["x"],"sealed":true}"#, same(invalid_config("stream configuration for create can not be sealed"))),
        case("create_mirror_direct", c, r#"{"name":"X","subjects":["x"],"mirror_direct":true}"#, same(invalid_config("stream has no mirror but does have mirror direct"))),
        case("create_replicas_6", c, r#"{"name":"X","subjects":["x"],"num_replicas":6}"#, same(invalid_config("maximum replicas is 5"))),
        case("create_replicas_negative", c, r#"{"name":"X","subjects":["x"],"num_replicas":-1}"#, same(err(400, 10133, "replicas count cannot be negative"))),
        case("create_replicas_3", c, r#"{"name":"X","subjects":["x"],"num_replicas":3}"#, same(err(500, 10074, "replicas > 1 not supported in non-clustered mode"))),
        case("create_max_age_small", c, r#"{"name":"X","subjects":["x"],"max_age":1000000}"#, same(invalid_config("max age needs to be >= 100ms"))),
        case("create_dup_window_negative", c, r#"{"name":"X","subjects":["x"],"duplicate_window":-1}"#, same(invalid_config("duplicates window can not be negative"))),
        case("create_dup_window_over_age", c, r#"{"name":"X","subjects":["x"],"max_age":1000000000,"duplicate_window":2000000000}"#, same(invalid_config("duplicates window can not be larger then max age"))),
        case("create_dup_window_small", c, r#"{"name":"X","subjects":["x"],"duplicate_window":1000000}"#, same(invalid_config("duplicates window needs to be >= 100ms"))),
        case("create_rollup_deny_purge", c, r#"{"name":"X","subjects":["x"],"deny_purge":true,"allow_rollup_hdrs":true}"#, same(invalid_config("roll-ups require the purge permission"))),
        case("create_dnps_discard_old", c, r#"{"name":"X","subjects":["x"],"discard_new_per_subject":true,"max_msgs_per_subject":1}"#, same(invalid_config("discard new per subject requires discard new policy to be set"))),
        case("create_dnps_no_per_subject", c, r#"{"name":"X","subjects":["x"],"discard":"new","discard_new_per_subject":true}"#, same(invalid_config("discard new per subject requires max msgs per subject > 0"))),
        case("create_bad_storage", c, r#"{"name":"X","subjects":["x"],"storage":"Memory"}"#, same(invalid_json())),
        case("create_bad_retention", c, r#"{"name":"X","subjects":["x"],"retention":"all"}"#, same(invalid_json())),
        case("create_bad_discard", c, r#"{"name":"X","subjects":["x"],"discard":"newest"}"#, same(invalid_json())),
        case("create_subjects_string", c, r#"{"name":"X","subjects":"x"}"#, same(invalid_json())),
        case("create_mirror_array", "$JS.API.STREAM.CREATE.MA", r#"{"name":"MA","mirror":["MEM"]}"#, same(invalid_json())),
        case("create_mirror_with_subjects", c, r#"{"name":"X","subjects":["x"],"mirror":{"name":"MEM"}}"#, same(err(400, 10034, "stream mirrors can not contain subjects"))),
        case("create_mirror_with_sources", c, r#"{"name":"X","mirror":{"name":"MEM"},"sources":[{"name":"FILE"}]}"#, same(err(400, 10031, "stream mirrors can not also contain other sources"))),
        case("create_mirror_bad_name", "$JS.API.STREAM.CREATE.MB", r#"{"name":"MB","mirror":{"name":"a.b"}}"#, differs(err(400, 10142, "mirrored stream name is invalid"), Answer::Ok, "jetstream-api.md, differences from the oracle: v2.10 checks the mirror's name")),
        case("create_source_bad_name", "$JS.API.STREAM.CREATE.SB", r#"{"name":"SB","subjects":["sb"],"sources":[{"name":"a.b"}]}"#, differs(err(400, 10141, "sourced stream name is invalid"), Answer::Ok, "jetstream-api.md, differences from the oracle: v2.10 checks sources")),
        case("create_source_duplicate", "$JS.API.STREAM.CREATE.SD", r#"{"name":"SD","subjects":["sd"],"sources":[{"name":"MEM"},{"name":"MEM"}]}"#, differs(err(400, 10140, "duplicate source configuration detected"), Answer::Ok, "jetstream-api.md, differences from the oracle: v2.10 checks sources")),
        case("create_invalid_subject", c, r#"{"name":"X","subjects":["a..b"]}"#, same(invalid_config("invalid subject"))),
        case("create_duplicate_subjects", c, r#"{"name":"X","subjects":["x","x"]}"#, same(invalid_config("duplicate subjects detected"))),
        case("create_all_subjects", "$JS.API.STREAM.CREATE.ALL", r#"{"name":"ALL","subjects":[">"]}"#, differs(invalid_config("capturing all subjects requires no-ack to be true"), err(400, 10065, "subjects overlap with an existing stream"), "jetstream-api.md, differences from the oracle: v2.10 checks `>` first")),
        case("create_js_api_subjects", c, r#"{"name":"X","subjects":["$JS.API.>"]}"#, differs(invalid_config("subjects that overlap with jetstream api require no-ack to be true"), invalid_config("subjects overlap with jetstream api"), "jetstream-api.md, differences from the oracle: v2.10 text")),
        case("create_sys_subjects", "$JS.API.STREAM.CREATE.SYS", r#"{"name":"SYS","subjects":["$SYS.X.>"]}"#, differs(invalid_config("subjects that overlap with system api require no-ack to be true"), Answer::Ok, "jetstream-api.md, differences from the oracle: v2.10 refuses $SYS.> without no_ack")),
        case("create_own_subjects_overlap", c, r#"{"name":"X","subjects":["so.*","so.a"]}"#, same(invalid_config(r#"subject "so.*" overlaps with "so.a""#))),
        case("create_republish_cycle", c, r#"{"name":"X","subjects":["rp.>"],"republish":{"src":">","dest":"rp.x"}}"#, same(invalid_config("stream configuration for republish destination forms a cycle"))),
        case("create_republish_bad_transform", c, r#"{"name":"X","subjects":["rp.*"],"republish":{"src":"rp.*","dest":"out.$2"}}"#, differs(invalid_config("stream configuration for republish with transform from 'rp.*' to 'out.$2' not valid"), invalid_config("stream configuration for republish not valid"), "jetstream-api.md, differences from the oracle: v2.10 text")),
        case("create_name_in_use", "$JS.API.STREAM.CREATE.MEM", r#"{"name":"MEM","subjects":["mem.*"]}"#, same(err(400, 10058, "stream name already in use with a different configuration"))),
        case("create_same_again", "$JS.API.STREAM.CREATE.MEM", r#"{"name":"MEM","subjects":["mem.*"],"storage":"memory","allow_direct":true}"#, same(Answer::Ok)),
        case("create_overlap", "$JS.API.STREAM.CREATE.OV", r#"{"name":"OV","subjects":["mem.a"]}"#, same(err(400, 10065, "subjects overlap with an existing stream"))),
        // v2.10/v2.11 fields nats-server v2.9 does not know (it ignores them and creates).
        case("create_metadata_too_big", "$JS.API.STREAM.CREATE.V1", format!(r#"{{"name":"V1","subjects":["v1"],"metadata":{{"k":"{}"}}}}"#, "m".repeat(131072)), differs(invalid_config("stream metadata exceeds maximum size of 131072 bytes"), Answer::Ok, "jetstream-api.md: v2.10 field")),
        case("create_transform_bad_source", "$JS.API.STREAM.CREATE.V2", r#"{"name":"V2","subjects":["v2"],"subject_transform":{"src":"a..b","dest":"x"}}"#, differs(err(400, 10155, "stream transform source: invalid subject a..b"), Answer::Ok, "jetstream-api.md: v2.10 field, v2.11 code")),
        case("create_mirror_first_seq", "$JS.API.STREAM.CREATE.V3", r#"{"name":"V3","mirror":{"name":"MEM"},"first_seq":5}"#, differs(err(400, 10143, "stream mirrors can not have first sequence configured"), Answer::Ok, "jetstream-api.md: v2.10 field")),
        case("create_marker_ttl_small", "$JS.API.STREAM.CREATE.V4", r#"{"name":"V4","subjects":["v4"],"allow_rollup_hdrs":true,"subject_delete_marker_ttl":1}"#, differs(invalid_config("subject delete marker TTL must be at least 1 second"), Answer::Ok, "jetstream-api.md: v2.11 field")),
        // Subjects nats-server does not serve.
        case("create_no_name_in_subject", "$JS.API.STREAM.CREATE", r#"{"name":"X","subjects":["x"]}"#, not_served()),
        case("create_two_tokens", "$JS.API.STREAM.CREATE.A.B", r#"{"name":"A.B","subjects":["x"]}"#, not_served()),
    ]
}

#[rustfmt::skip]
fn stream_update() -> Vec<Case> {
    let u = "$JS.API.STREAM.UPDATE.MEM";
    let mem = |extra: &str| {
        format!(
            r#"{{"name":"MEM","subjects":["mem.*"],"storage":"memory","allow_direct":true{extra}}}"#
        )
    };
    vec![
        case("update_empty_body", u, "", same(invalid_json())),
        case("update_null", u, "null", same(invalid_config("stream name is required and can not contain '.', '*', '>'"))),
        case("update_array", u, r#"["MEM"]"#, same(invalid_json())),
        case("update_bad_json", u, "{", same(invalid_json())),
        case("update_not_found", "$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE","subjects":["nope"]}"#, same(stream_not_found())),
        case("update_mismatch", u, r#"{"name":"FILE","subjects":["file.*"]}"#, same(err(400, 10056, "stream name in subject does not match request"))),
        case("update_invalid_before_mismatch", u, r#"{"name":"FILE","num_replicas":-1}"#, same(err(400, 10133, "replicas count cannot be negative"))),
        case("update_invalid_before_not_found", "$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE","max_age":1}"#, same(invalid_config("max age needs to be >= 100ms"))),
        case("update_storage", u, r#"{"name":"MEM","subjects":["mem.*"],"storage":"file","allow_direct":true}"#, same(invalid_config("stream configuration update can not change storage type"))),
        case("update_max_consumers", u, mem(r#","max_consumers":5"#), same(invalid_config("stream configuration update can not change MaxConsumers"))),
        case("update_to_workqueue", u, mem(r#","retention":"workqueue""#), differs(invalid_config("stream configuration update can not change retention policy to/from workqueue"), invalid_config("stream configuration update can not change retention policy"), "jetstream-api.md, differences from the oracle: v2.10 allows limits <-> interest")),
        case("update_to_interest", "$JS.API.STREAM.UPDATE.U1", r#"{"name":"U1","subjects":["u1"],"retention":"interest"}"#, differs(Answer::Ok, invalid_config("stream configuration update can not change retention policy"), "jetstream-api.md, differences from the oracle: v2.10 allows limits <-> interest"))
        .after(
            "$JS.API.STREAM.CREATE.U1",
            r#"{"name":"U1","subjects":["u1"]}"#,
        ),
        case("update_replicas_3", "$JS.API.STREAM.UPDATE.U2", r#"{"name":"U2","subjects":["u2"],"num_replicas":3}"#, differs(err(500, 10074, "replicas > 1 not supported in non-clustered mode"), Answer::Ok, "jetstream-api.md, deliberate differences: num_replicas > 1 on update"))
        .after(
            "$JS.API.STREAM.CREATE.U2",
            r#"{"name":"U2","subjects":["u2"]}"#,
        ),
        case("update_unseal", "$JS.API.STREAM.UPDATE.SEALED", r#"{"name":"SEALED","subjects":["sealed"]}"#, same(invalid_config("stream configuration update can not unseal a sealed stream"))),
        case("update_cancel_deny_delete", "$JS.API.STREAM.UPDATE.DENY", r#"{"name":"DENY","subjects":["deny"],"deny_purge":true}"#, same(invalid_config("stream configuration update can not cancel deny message deletes"))),
        case("update_cancel_deny_purge", "$JS.API.STREAM.UPDATE.DENY", r#"{"name":"DENY","subjects":["deny"],"deny_delete":true}"#, same(invalid_config("stream configuration update can not cancel deny purge"))),
        case("update_mirror", "$JS.API.STREAM.UPDATE.MIR", r#"{"name":"MIR","mirror":{"name":"FILE"}}"#, same(err(400, 10055, "stream mirror configuration can not be updated"))),
        case("update_dnps", u, mem(r#","discard_new_per_subject":true"#), same(invalid_config("discard new per subject requires discard new policy to be set"))),
        case("update_template_owner", u, mem(r#","template_owner":"T""#), same(invalid_config("stream configuration update can not be owned by a template"))),
        case("update_overlap", "$JS.API.STREAM.UPDATE.FILE", r#"{"name":"FILE","subjects":["file.*","mem.a"],"allow_direct":true}"#, same(err(400, 10065, "subjects overlap with an existing stream"))),
        case("update_ttl_off", "$JS.API.STREAM.UPDATE.U3", r#"{"name":"U3","subjects":["u3"]}"#, differs(invalid_config("message TTL status can not be disabled"), Answer::Ok, "jetstream-api.md: v2.11 field"))
        .after(
            "$JS.API.STREAM.CREATE.U3",
            r#"{"name":"U3","subjects":["u3"],"allow_msg_ttl":true}"#,
        ),
    ]
}

#[rustfmt::skip]
fn stream_info_delete_names() -> Vec<Case> {
    vec![
        case("info_not_found", "$JS.API.STREAM.INFO.NOPE", "", same(stream_not_found())),
        case("info_bad_json", "$JS.API.STREAM.INFO.MEM", "{", same(invalid_json())),
        case("info_bad_json_not_found", "$JS.API.STREAM.INFO.NOPE", "{", same(invalid_json())),
        case("info_array", "$JS.API.STREAM.INFO.MEM", "[]", same(invalid_json())),
        case("info_deleted_details_string", "$JS.API.STREAM.INFO.MEM", r#"{"deleted_details":"yes"}"#, same(invalid_json())),
        case("info_two_tokens", "$JS.API.STREAM.INFO.MEM.X", "", not_served()),
        case("names_extra_token", "$JS.API.STREAM.NAMES.X", "", not_served()),
        case("delete_not_found", "$JS.API.STREAM.DELETE.NOPE", "", same(stream_not_found())),
        case("delete_body", "$JS.API.STREAM.DELETE.DEL1", r#"{"x":1}"#, same(err(400, 10038, "expected an empty request payload")))
        .after(
            "$JS.API.STREAM.CREATE.DEL1",
            r#"{"name":"DEL1","subjects":["del1"]}"#,
        ),
        case("delete_body_not_found", "$JS.API.STREAM.DELETE.NOPE", r#"{"x":1}"#, same(err(400, 10038, "expected an empty request payload"))),
        case("delete_null_not_found", "$JS.API.STREAM.DELETE.NOPE", "null", same(err(400, 10038, "expected an empty request payload"))),
        case("names_bad_json", "$JS.API.STREAM.NAMES", "{", same(invalid_json())),
        case("names_array", "$JS.API.STREAM.NAMES", "[]", same(invalid_json())),
        case("names_offset_past_end", "$JS.API.STREAM.NAMES", r#"{"offset":1000}"#, same(Answer::Ok)),
        case("names_offset_string", "$JS.API.STREAM.NAMES", r#"{"offset":"1"}"#, same(invalid_json())),
        case("names_bad_subject", "$JS.API.STREAM.NAMES", r#"{"subject":"a..b"}"#, same(Answer::Ok)),
        case("list_bad_json", "$JS.API.STREAM.LIST", "{", same(invalid_json())),
        case("list_array", "$JS.API.STREAM.LIST", "[]", same(invalid_json())),
        case("list_offset_past_end", "$JS.API.STREAM.LIST", r#"{"offset":1000}"#, same(Answer::Ok)),
        // A negative offset panics nats-server v2.9.10 (and v2.10); v2.11.17 takes it as 0.
        case("names_offset_negative", "$JS.API.STREAM.NAMES", r#"{"offset":-1}"#, negative_offset())
        .after(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.*"]}"#,
        )
        .alone(),
        case("list_offset_negative", "$JS.API.STREAM.LIST", r#"{"offset":-1}"#, negative_offset())
        .after(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.*"]}"#,
        )
        .alone(),
        case("info_offset_negative", "$JS.API.STREAM.INFO.S", r#"{"subjects_filter":">","offset":-1}"#, negative_offset())
        .after(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.*"]}"#,
        )
        .after("s.a", "x")
        .alone(),
    ]
}
