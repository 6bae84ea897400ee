//! The consumer API: create (legacy ephemeral, named, durable), updates of the fixture's `D`
//! (pull, ack explicit) and `P` (push, deliver subject `dlv.p`), info, delete, names, list.

use crate::cases::{invalid_json, negative_offset, not_served, stream_not_found};
use crate::{case, differs, err, same, Answer, Case};

/// A create request for stream `C` with this `config` JSON.
fn on_c(config: &str) -> String {
    format!(r#"{{"stream_name":"C","config":{config}}}"#)
}

/// 400 10094 with `text` (deliver policy vs. optional start).
fn policy(text: &str) -> Answer {
    err(400, 10094, text)
}

/// 500 10012 with `text` (a refused update).
fn update_refused(text: &str) -> Answer {
    err(500, 10012, text)
}

pub fn cases() -> Vec<Case> {
    let mut t = Vec::new();
    t.extend(create_subject_and_body());
    t.extend(create_config());
    t.extend(update());
    t.extend(info_delete_names());
    t
}

#[rustfmt::skip]
fn create_subject_and_body() -> Vec<Case> {
    let e = "$JS.API.CONSUMER.CREATE.C";
    let long = "L".repeat(256);
    vec![
        case("cc_empty_body", e, "", same(invalid_json())),
        case("cc_bad_json", e, "{", same(invalid_json())),
        case("cc_array", e, "[]", same(invalid_json())),
        case("cc_null", e, "null", same(err(400, 10056, "stream name in subject does not match request"))),
        case("cc_no_stream_name", e, r#"{"config":{}}"#, same(err(400, 10056, "stream name in subject does not match request"))),
        case("cc_config_array", e, r#"{"stream_name":"C","config":[]}"#, same(invalid_json())),
        case("cc_bad_deliver_policy", e, on_c(r#"{"deliver_policy":"All"}"#), same(invalid_json())),
        case("cc_null_ack_policy", e, on_c(r#"{"ack_policy":null}"#), same(invalid_json())),
        case("cc_stream_mismatch", e, r#"{"stream_name":"X","config":{}}"#, same(err(400, 10056, "stream name in subject does not match request"))),
        case("cc_stream_not_found", "$JS.API.CONSUMER.CREATE.NOPE", r#"{"stream_name":"NOPE","config":{}}"#, same(stream_not_found())),
        case("cc_path_separator", "$JS.API.CONSUMER.CREATE.C.a/b", on_c("{}"), same(err(400, 10127, "Consumer name can not contain path separators"))),
        case("cc_durable_no_name", "$JS.API.CONSUMER.DURABLE.CREATE.C.DX", on_c("{}"), same(err(400, 10018, "consumer expected to be durable but a durable name was not set"))),
        case("cc_durable_mismatch", "$JS.API.CONSUMER.DURABLE.CREATE.C.DX", on_c(r#"{"durable_name":"DY"}"#), same(err(400, 10017, "consumer name in subject does not match durable name in request"))),
        case("cc_named_durable_mismatch", "$JS.API.CONSUMER.CREATE.C.NX", on_c(r#"{"durable_name":"NY"}"#), same(err(400, 10017, "consumer name in subject does not match durable name in request"))),
        case("cc_ephemeral_with_durable", e, on_c(r#"{"durable_name":"EX"}"#), same(err(400, 10020, "consumer expected to be ephemeral but a durable name was set in request"))),
        case("cc_filter_mismatch", "$JS.API.CONSUMER.CREATE.C.NX.c.x", on_c(r#"{"filter_subject":"c.y"}"#), same(err(400, 10131, "Consumer create request did not match filtered subject from create subject"))),
        case("cc_filter_missing", "$JS.API.CONSUMER.CREATE.C.NX.c.x", on_c("{}"), same(err(400, 10131, "Consumer create request did not match filtered subject from create subject"))),
        case("cc_replicas_3", "$JS.API.CONSUMER.CREATE.C.NX", on_c(r#"{"num_replicas":3}"#), same(err(500, 10074, "replicas > 1 not supported in non-clustered mode"))),
        case("cc_durable_too_long", &format!("$JS.API.CONSUMER.DURABLE.CREATE.C.{long}"), on_c(&format!(r#"{{"durable_name":"{long}"}}"#)), same(err(400, 10102, "consumer name is too long, maximum allowed is 255"))),
        case("cc_durable_and_name", "$JS.API.CONSUMER.DURABLE.CREATE.C.DN", on_c(r#"{"durable_name":"DN","name":"OTHER"}"#), same(err(400, 10132, "Consumer Durable and Name have to be equal if both are provided"))),
        case("cc_bad_name", e, on_c(r#"{"name":"a.b"}"#), same(err(400, 10103, "durable name can not contain '.', '*', '>'"))),
        // Subjects nats-server has no endpoint for.
        case("cc_no_stream_token", "$JS.API.CONSUMER.CREATE", on_c("{}"), not_served()),
        case("cc_durable_no_durable_token", "$JS.API.CONSUMER.DURABLE.CREATE.C", on_c(r#"{"durable_name":"D"}"#), not_served()),
        case("cc_durable_extra_token", "$JS.API.CONSUMER.DURABLE.CREATE.C.D.E", on_c(r#"{"durable_name":"D"}"#), not_served()),
    ]
}

#[rustfmt::skip]
fn create_config() -> Vec<Case> {
    let e = "$JS.API.CONSUMER.CREATE.C";
    let desc = format!(r#"{{"description":"{}"}}"#, "d".repeat(4097));
    vec![
        case("cc_replicas_negative", e, on_c(r#"{"num_replicas":-1}"#), same(err(400, 10133, "replicas count cannot be negative"))),
        case("cc_backoff_over_max_deliver", "$JS.API.CONSUMER.DURABLE.CREATE.C.BO", on_c(r#"{"durable_name":"BO","ack_policy":"explicit","backoff":[1000000000,2000000000],"max_deliver":1}"#), same(err(400, 10116, "max deliver is required to be > length of backoff values"))),
        case("cc_description_too_long", e, on_c(&desc), same(err(400, 10107, "consumer description is too long, maximum allowed is 4096"))),
        case("cc_deliver_wildcard", e, on_c(r#"{"deliver_subject":"dlv.*"}"#), same(err(400, 10079, "consumer deliver subject has wildcards"))),
        case("cc_deliver_invalid", e, on_c(r#"{"deliver_subject":"dlv..x"}"#), same(err(400, 10112, "invalid push consumer deliver subject"))),
        case("cc_deliver_cycle", e, on_c(r#"{"deliver_subject":"c.x"}"#), same(err(400, 10081, "consumer deliver subject forms a cycle"))),
        case("cc_push_max_waiting", e, on_c(r#"{"deliver_subject":"dlv.x","max_waiting":5}"#), same(err(400, 10080, "consumer in push mode can not set max waiting"))),
        case("cc_push_max_ack_pending_ack_none", e, on_c(r#"{"deliver_subject":"dlv.x","max_ack_pending":5}"#), same(err(400, 10082, "consumer requires ack policy for max ack pending"))),
        case("cc_push_small_heartbeat", e, on_c(r#"{"deliver_subject":"dlv.x","idle_heartbeat":1000000}"#), same(err(400, 10083, "consumer idle heartbeat needs to be >= 100ms"))),
        case("cc_pull_workqueue_ack_none", "$JS.API.CONSUMER.CREATE.WQ2", r#"{"stream_name":"WQ2","config":{}}"#, same(err(400, 10084, "consumer in pull mode requires ack policy"))),
        case("cc_pull_rate_limit", e, on_c(r#"{"rate_limit_bps":100}"#), same(err(400, 10086, "consumer in pull mode can not have rate limit set"))),
        case("cc_pull_max_waiting_negative", e, on_c(r#"{"max_waiting":-1}"#), same(err(400, 10087, "consumer max waiting needs to be positive"))),
        case("cc_pull_heartbeat", e, on_c(r#"{"idle_heartbeat":1000000000}"#), same(err(400, 10088, "consumer idle heartbeat requires a push based consumer"))),
        case("cc_pull_flow_control", e, on_c(r#"{"flow_control":true}"#), same(err(400, 10089, "consumer flow control requires a push based consumer"))),
        case("cc_pull_max_batch_negative", e, on_c(r#"{"max_batch":-1}"#), same(err(400, 10114, "consumer max request batch needs to be > 0"))),
        case("cc_pull_max_expires_small", e, on_c(r#"{"max_expires":1000}"#), same(err(400, 10115, "consumer max request expires needs to be >= 1ms"))),
        case("cc_direct_pull", e, on_c(r#"{"direct":true}"#), same(err(400, 10090, "consumer direct requires a push based consumer"))),
        case("cc_direct_durable", "$JS.API.CONSUMER.DURABLE.CREATE.C.DD", on_c(r#"{"durable_name":"DD","deliver_subject":"dlv.x","direct":true}"#), same(err(400, 10091, "consumer direct requires an ephemeral consumer"))),
        case("cc_filter_invalid", e, on_c(r#"{"filter_subject":"c..x"}"#), differs(err(500, 10052, "invalid subject"), err(400, 10093, "consumer filter subject is not a valid subset of the interest subjects"), "jetstream-api.md, consumer differences from the oracle: v2.10")),
        case("cc_filter_outside_stream", "$JS.API.CONSUMER.CREATE.C.FO", on_c(r#"{"filter_subject":"other"}"#), differs(Answer::Ok, err(400, 10093, "consumer filter subject is not a valid subset of the interest subjects"), "differences.md 10")),
        case("cc_all_with_start_seq", e, on_c(r#"{"opt_start_seq":1}"#), same(policy("consumer delivery policy is deliver all, but optional start sequence is also set"))),
        case("cc_by_seq_without_seq", e, on_c(r#"{"deliver_policy":"by_start_sequence"}"#), same(policy("consumer delivery policy is deliver by start sequence, but optional start sequence is not set"))),
        case("cc_by_time_without_time", e, on_c(r#"{"deliver_policy":"by_start_time"}"#), same(policy("consumer delivery policy is deliver by start time, but optional start time is not set"))),
        case("cc_last_per_subject_no_filter", e, on_c(r#"{"deliver_policy":"last_per_subject"}"#), same(policy("consumer delivery policy is deliver last per subject, but optional filter subject is not set"))),
        case("cc_all_with_start_time", e, on_c(r#"{"opt_start_time":"2020-01-01T00:00:00Z"}"#), same(policy("consumer delivery policy is deliver all, but optional start time is also set"))),
        case("cc_by_time_with_seq", e, on_c(r#"{"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z","opt_start_seq":1}"#), same(policy("consumer delivery policy is deliver by start time, but optional start start sequence is also set"))),
        case("cc_last_with_seq", e, on_c(r#"{"deliver_policy":"last","opt_start_seq":1}"#), same(policy("consumer delivery policy is deliver last, but optional start sequence is also set"))),
        case("cc_sample_freq_bad", e, on_c(r#"{"sample_freq":"abc"}"#), same(err(400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "abc": invalid syntax"#))),
        case("cc_sample_freq_negative", e, on_c(r#"{"sample_freq":"-1"}"#), same(err(400, 10095, "failed to parse consumer sampling configuration: <nil>"))),
        case("cc_flow_control_no_heartbeat", e, on_c(r#"{"deliver_subject":"dlv.x","flow_control":true}"#), same(err(400, 10108, "consumer with flow control also needs heartbeats"))),
        case("cc_max_consumers", "$JS.API.CONSUMER.CREATE.MAXC", r#"{"stream_name":"MAXC","config":{}}"#, same(err(400, 10026, "maximum consumers limit reached"))),
        case("cc_workqueue_ack_all", "$JS.API.CONSUMER.CREATE.WQ2", r#"{"stream_name":"WQ2","config":{"ack_policy":"all"}}"#, same(err(400, 10098, "workqueue stream requires explicit ack"))),
        case("cc_workqueue_unfiltered", "$JS.API.CONSUMER.CREATE.WQ", r#"{"stream_name":"WQ","config":{"ack_policy":"explicit"}}"#, same(err(400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"))),
        case("cc_workqueue_not_unique", "$JS.API.CONSUMER.CREATE.WQ", r#"{"stream_name":"WQ","config":{"ack_policy":"explicit","filter_subject":"wq.a"}}"#, same(err(400, 10100, "filtered consumer not unique on workqueue stream"))),
        case("cc_workqueue_not_deliver_all", "$JS.API.CONSUMER.CREATE.WQ2", r#"{"stream_name":"WQ2","config":{"ack_policy":"explicit","deliver_policy":"last"}}"#, same(err(400, 10101, "consumer must be deliver all on workqueue stream"))),
        // v2.10 request fields nats-server v2.9 does not know (it ignores them).
        case("cc_bad_action", "$JS.API.CONSUMER.CREATE.C.BA2", r#"{"stream_name":"C","config":{},"action":"upsert"}"#, differs(invalid_json(), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 action")),
        case("cc_filter_and_filters", "$JS.API.CONSUMER.CREATE.C.FB", on_c(r#"{"filter_subject":"c.a","filter_subjects":["c.b"]}"#), differs(err(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 filter_subjects")),
        case("cc_filters_with_subject_filter", "$JS.API.CONSUMER.CREATE.C.FS.c.a", on_c(r#"{"filter_subjects":["c.a"]}"#), differs(err(400, 10137, "consumer with multiple subject filters cannot use subject based API"), err(400, 10131, "Consumer create request did not match filtered subject from create subject"), "jetstream-api.md, consumer differences from the oracle: v2.10 filter_subjects")),
        case("cc_filters_overlap", "$JS.API.CONSUMER.CREATE.C.FOV", on_c(r#"{"filter_subjects":["c.*","c.a"]}"#), differs(err(400, 10138, "consumer subject filters cannot overlap"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 filter_subjects")),
        case("cc_filters_empty_entry", "$JS.API.CONSUMER.CREATE.C.FEM", on_c(r#"{"filter_subjects":["c.a",""]}"#), differs(err(400, 10139, "consumer filter in FilterSubjects cannot be empty"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 filter_subjects")),
        case("cc_metadata_too_big", "$JS.API.CONSUMER.CREATE.C.MD", on_c(&format!(r#"{{"metadata":{{"k":"{}"}}}}"#, "m".repeat(131072))), differs(err(400, 10135, "consumer metadata exceeds maximum size of 128KB"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 metadata")),
        // A stream's v2.10 `consumer_limits` (which v2.9 ignores) bound its consumers.
        case("cc_max_ack_pending_over_stream_limit", "$JS.API.CONSUMER.CREATE.CL.CL1", r#"{"stream_name":"CL","config":{"ack_policy":"explicit","max_ack_pending":20}}"#, differs(err(400, 10121, "consumer max ack pending exceeds system limit of 10"), Answer::Ok, "jetstream-api.md: v2.10 consumer_limits"))
            .after("$JS.API.STREAM.CREATE.CL", r#"{"name":"CL","subjects":["cl"],"consumer_limits":{"max_ack_pending":10,"inactive_threshold":60000000000}}"#),
        case("cc_inactive_threshold_over_stream_limit", "$JS.API.CONSUMER.CREATE.CL.CL2", r#"{"stream_name":"CL","config":{"inactive_threshold":120000000000}}"#, differs(err(400, 10153, "consumer inactive threshold exceeds system limit of 1m0s"), Answer::Ok, "jetstream-api.md: v2.10 consumer_limits")),
        case("cc_sealed_stream", "$JS.API.CONSUMER.CREATE.SEALED", r#"{"stream_name":"SEALED","config":{}}"#, same(Answer::Ok)),
    ]
}

#[rustfmt::skip]
fn update() -> Vec<Case> {
    let d = "$JS.API.CONSUMER.DURABLE.CREATE.C.D";
    let p = "$JS.API.CONSUMER.DURABLE.CREATE.C.P";
    vec![
        case("cu_deliver_policy", d, on_c(r#"{"durable_name":"D","ack_policy":"explicit","deliver_policy":"last"}"#), same(update_refused("deliver policy can not be updated"))),
        case("cu_ack_policy", d, on_c(r#"{"durable_name":"D","ack_policy":"all"}"#), same(update_refused("ack policy can not be updated"))),
        case("cu_replay_policy", d, on_c(r#"{"durable_name":"D","ack_policy":"explicit","replay_policy":"original"}"#), same(update_refused("replay policy can not be updated"))),
        case("cu_max_waiting", d, on_c(r#"{"durable_name":"D","ack_policy":"explicit","max_waiting":10}"#), same(update_refused("max waiting can not be updated"))),
        case("cu_pull_to_push", d, on_c(r#"{"durable_name":"D","ack_policy":"explicit","deliver_subject":"dlv.d"}"#), differs(update_refused("can not update pull consumer to push based"), update_refused("max waiting can not be updated"), "jetstream-api.md, consumer differences from the oracle: update pull -> push")),
        case("cu_push_to_pull", p, on_c(r#"{"durable_name":"P","ack_policy":"explicit"}"#), differs(update_refused("can not update push consumer to pull based"), update_refused("max waiting can not be updated"), "jetstream-api.md, consumer differences from the oracle: update push -> pull")),
        case("cu_heartbeat", p, on_c(r#"{"durable_name":"P","ack_policy":"explicit","deliver_subject":"dlv.p","idle_heartbeat":1000000000}"#), same(update_refused("heart beats can not be updated"))),
        case("cu_action_create_existing", "$JS.API.CONSUMER.CREATE.C.D", r#"{"stream_name":"C","config":{"durable_name":"D","ack_policy":"explicit","description":"new"},"action":"create"}"#, differs(err(400, 10148, "consumer already exists"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 action")),
        case("cu_action_update_missing", "$JS.API.CONSUMER.CREATE.C.NEWU", r#"{"stream_name":"C","config":{},"action":"update"}"#, differs(err(400, 10149, "consumer does not exist"), Answer::Ok, "jetstream-api.md, consumer differences from the oracle: v2.10 action")),
        case("cu_start_sequence", "$JS.API.CONSUMER.DURABLE.CREATE.C.SS", on_c(r#"{"durable_name":"SS","deliver_policy":"by_start_sequence","opt_start_seq":2}"#), same(update_refused("start sequence can not be updated")))
            .after("$JS.API.CONSUMER.DURABLE.CREATE.C.SS", on_c(r#"{"durable_name":"SS","deliver_policy":"by_start_sequence","opt_start_seq":1}"#)),
        case("cu_start_time", "$JS.API.CONSUMER.DURABLE.CREATE.C.ST", on_c(r#"{"durable_name":"ST","deliver_policy":"by_start_time","opt_start_time":"2021-01-01T00:00:00Z"}"#), same(update_refused("start time can not be updated")))
            .after("$JS.API.CONSUMER.DURABLE.CREATE.C.ST", on_c(r#"{"durable_name":"ST","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z"}"#)),
        case("cu_flow_control", "$JS.API.CONSUMER.DURABLE.CREATE.C.FC", on_c(r#"{"durable_name":"FC","deliver_subject":"dlv.fc","idle_heartbeat":1000000000}"#), same(update_refused("flow control can not be updated")))
            .after("$JS.API.CONSUMER.DURABLE.CREATE.C.FC", on_c(r#"{"durable_name":"FC","deliver_subject":"dlv.fc","idle_heartbeat":1000000000,"flow_control":true}"#)),
    ]
}

#[rustfmt::skip]
fn info_delete_names() -> Vec<Case> {
    let empty_needed = || err(400, 10038, "expected an empty request payload");
    let not_found = || err(404, 10014, "consumer not found");
    vec![
        case("ci_stream_not_found", "$JS.API.CONSUMER.INFO.NOPE.D", "", same(stream_not_found())),
        case("ci_not_found", "$JS.API.CONSUMER.INFO.C.NOPE", "", same(not_found())),
        case("ci_body", "$JS.API.CONSUMER.INFO.C.D", r#"{"x":1}"#, same(empty_needed())),
        case("ci_body_stream_not_found", "$JS.API.CONSUMER.INFO.NOPE.D", r#"{"x":1}"#, same(empty_needed())),
        case("cd_stream_not_found", "$JS.API.CONSUMER.DELETE.NOPE.D", "", same(stream_not_found())),
        case("cd_not_found", "$JS.API.CONSUMER.DELETE.C.NOPE", "", same(not_found())),
        case("cd_body", "$JS.API.CONSUMER.DELETE.C.DEL", r#"{"x":1}"#, same(empty_needed()))
        .after(
            "$JS.API.CONSUMER.DURABLE.CREATE.C.DEL",
            on_c(r#"{"durable_name":"DEL"}"#),
        ),
        case("cd_body_stream_not_found", "$JS.API.CONSUMER.DELETE.NOPE.D", r#"{"x":1}"#, same(empty_needed())),
        case("cn_stream_not_found", "$JS.API.CONSUMER.NAMES.NOPE", "", same(stream_not_found())),
        case("cn_bad_json", "$JS.API.CONSUMER.NAMES.C", "{", same(invalid_json())),
        case("cn_array", "$JS.API.CONSUMER.NAMES.C", "[]", same(invalid_json())),
        case("cn_offset_past_end", "$JS.API.CONSUMER.NAMES.C", r#"{"offset":1000}"#, same(Answer::Ok)),
        case("cn_bad_json_stream_not_found", "$JS.API.CONSUMER.NAMES.NOPE", "{", same(invalid_json())),
        case("cl_stream_not_found", "$JS.API.CONSUMER.LIST.NOPE", "", same(stream_not_found())),
        case("cl_bad_json", "$JS.API.CONSUMER.LIST.C", "{", same(invalid_json())),
        case("cl_offset_string", "$JS.API.CONSUMER.LIST.C", r#"{"offset":"x"}"#, same(invalid_json())),
        case("cl_offset_past_end", "$JS.API.CONSUMER.LIST.C", r#"{"offset":1000}"#, same(Answer::Ok)),
        // A pull request for a consumer that does not exist: nats-server v2.9.10 does not
        // answer, nor does Sluice (v2.10 would answer "no responders").
        case("next_no_consumer", "$JS.API.CONSUMER.MSG.NEXT.C.NOPE", "", same(Answer::Silence)),
        case("consumer_unknown_op", "$JS.API.CONSUMER.FOO.C", "", not_served()),
        case("ci_extra_token", "$JS.API.CONSUMER.INFO.C.D.E", "", not_served()),
        case("ci_no_consumer_token", "$JS.API.CONSUMER.INFO.C", "", not_served()),
        case("cn_extra_token", "$JS.API.CONSUMER.NAMES.C.X", "", not_served()),
        // A negative offset panics nats-server v2.9.10 (and v2.10); v2.11.17 takes it as 0.
        case("cn_offset_negative", "$JS.API.CONSUMER.NAMES.S", r#"{"offset":-1}"#, negative_offset())
        .after(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.*"]}"#,
        )
        .alone(),
        case("cl_offset_negative", "$JS.API.CONSUMER.LIST.S", r#"{"offset":-1}"#, negative_offset())
        .after(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.*"]}"#,
        )
        .alone(),
    ]
}
