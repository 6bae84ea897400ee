//! STREAM.MSG.GET, STREAM.MSG.DELETE and DIRECT.GET on both stores (the fixture's `MEM` and
//! `FILE`: sequences 1-5, 2 erased, 4 deleted with `no_erase`), and STREAM.PURGE.

use crate::cases::{bad_request, invalid_json, stream_not_found};
use crate::{case, differs, err, same, status, Answer, Case};

/// 404 10037 `no message found`.
fn no_message() -> Answer {
    err(404, 10037, "no message found")
}

/// `sequence N not found` (400 10043).
fn seq_not_found(seq: u64) -> Answer {
    err(400, 10043, format!("sequence {seq} not found"))
}

/// The store's own error through JSStreamMsgDeleteFailedF (500 10057).
fn delete_failed(text: &str) -> Answer {
    err(500, 10057, text)
}

fn not_found_status() -> Answer {
    status(404, "Message Not Found")
}

pub fn cases() -> Vec<Case> {
    let mut t = Vec::new();
    for (name, file) in [("MEM", false), ("FILE", true)] {
        t.extend(msg_get(name));
        t.extend(msg_delete(name, file));
        t.extend(direct_get(name));
    }
    t.extend(by_stream());
    t.extend(purge());
    t
}

#[rustfmt::skip]
fn msg_get(name: &str) -> Vec<Case> {
    let p = name.to_lowercase();
    let g = format!("$JS.API.STREAM.MSG.GET.{name}");
    let n = |what: &str| format!("{p}_get_{what}");
    vec![
        case(&n("empty_body"), &g, "", same(bad_request())),
        case(&n("empty_object"), &g, "{}", same(bad_request())),
        case(&n("bad_json"), &g, "{", same(invalid_json())),
        case(&n("seq_negative"), &g, r#"{"seq":-1}"#, same(invalid_json())),
        case(&n("seq_string"), &g, r#"{"seq":"1"}"#, same(invalid_json())),
        case(&n("null"), &g, "null", same(bad_request())),
        case(&n("array"), &g, "[]", same(invalid_json())),
        case(&n("seq_zero"), &g, r#"{"seq":0}"#, same(bad_request())),
        case(&n("seq_past_end"), &g, r#"{"seq":99}"#, same(no_message())),
        case(&n("seq_one_past_end"), &g, r#"{"seq":6}"#, same(no_message())),
        case(&n("seq_erased"), &g, r#"{"seq":2}"#, same(no_message())),
        case(&n("seq_no_erase_deleted"), &g, r#"{"seq":4}"#, same(no_message())),
        case(&n("last_by_subj_none"), &g, format!(r#"{{"last_by_subj":"{p}.none"}}"#), same(no_message())),
        case(&n("next_by_subj_past_end"), &g, format!(r#"{{"seq":6,"next_by_subj":"{p}.a"}}"#), same(no_message())),
        case(&n("next_by_subj_none"), &g, format!(r#"{{"next_by_subj":"{p}.none"}}"#), same(no_message())),
        case(&n("next_by_subj_only_deleted"), &g, format!(r#"{{"seq":2,"next_by_subj":"{p}.b"}}"#), same(no_message())),
        case(&n("seq_and_last"), &g, format!(r#"{{"seq":1,"last_by_subj":"{p}.a"}}"#), same(bad_request())),
        case(&n("last_and_next"), &g, format!(r#"{{"last_by_subj":"{p}.a","next_by_subj":"{p}.a"}}"#), same(bad_request())),
        case(&n("last_by_subj_invalid"), &g, r#"{"last_by_subj":"a..b"}"#, same(no_message())),
    ]
}

#[rustfmt::skip]
fn msg_delete(name: &str, file: bool) -> Vec<Case> {
    let p = name.to_lowercase();
    let d = format!("$JS.API.STREAM.MSG.DELETE.{name}");
    let n = |what: &str| format!("{p}_delete_{what}");
    // nats-server v2.9.10 per store (handlers.rs `missing_for_delete`).
    let (zero, past_99, past_6) = if file {
        (
            delete_failed("no message found"),
            delete_failed("stream store EOF"),
            delete_failed("stream store EOF"),
        )
    } else {
        (seq_not_found(0), seq_not_found(99), seq_not_found(6))
    };
    vec![
        case(&n("empty_body"), &d, "", same(bad_request())),
        case(&n("empty_object"), &d, "{}", same(bad_request())),
        case(&n("bad_json"), &d, "{", same(invalid_json())),
        case(&n("seq_zero"), &d, r#"{"seq":0}"#, same(zero.clone())),
        case(&n("null"), &d, "null", same(zero)),
        case(&n("seq_past_end"), &d, r#"{"seq":99}"#, same(past_99)),
        case(&n("seq_one_past_end"), &d, r#"{"seq":6}"#, same(past_6)),
        case(&n("erased"), &d, r#"{"seq":2}"#, same(seq_not_found(2))),
        case(&n("erased_no_erase"), &d, r#"{"seq":2,"no_erase":true}"#, same(seq_not_found(2))),
        case(&n("no_erase_deleted"), &d, r#"{"seq":4}"#, same(seq_not_found(4))),
        case(&n("no_erase_deleted_no_erase"), &d, r#"{"seq":4,"no_erase":true}"#, same(seq_not_found(4))),
    ]
}

#[rustfmt::skip]
fn direct_get(name: &str) -> Vec<Case> {
    let p = name.to_lowercase();
    let g = format!("$JS.API.DIRECT.GET.{name}");
    let n = |what: &str| format!("{p}_direct_{what}");
    vec![
        case(&n("empty_body"), &g, "", same(status(408, "Empty Request"))),
        case(&n("empty_object"), &g, "{}", same(status(408, "Empty Request"))),
        case(&n("bad_json"), &g, "{", same(status(408, "Malformed Request"))),
        case(&n("seq_negative"), &g, r#"{"seq":-1}"#, same(status(408, "Malformed Request"))),
        case(&n("null"), &g, "null", same(status(408, "Empty Request"))),
        case(&n("array"), &g, "[]", same(status(408, "Malformed Request"))),
        case(&n("seq_zero"), &g, r#"{"seq":0}"#, same(status(408, "Empty Request"))),
        case(&n("seq_past_end"), &g, r#"{"seq":99}"#, same(not_found_status())),
        case(&n("seq_one_past_end"), &g, r#"{"seq":6}"#, same(not_found_status())),
        case(&n("seq_erased"), &g, r#"{"seq":2}"#, same(not_found_status())),
        case(&n("seq_no_erase_deleted"), &g, r#"{"seq":4}"#, same(not_found_status())),
        case(&n("last_by_subj_none"), &g, format!(r#"{{"last_by_subj":"{p}.none"}}"#), same(not_found_status())),
        case(&n("next_by_subj_past_end"), &g, format!(r#"{{"seq":6,"next_by_subj":"{p}.a"}}"#), same(not_found_status())),
        case(&n("seq_and_last"), &g, format!(r#"{{"seq":1,"last_by_subj":"{p}.a"}}"#), same(status(408, "Bad Request"))),
        case(&n("last_and_next"), &g, format!(r#"{{"last_by_subj":"{p}.a","next_by_subj":"{p}.a"}}"#), same(status(408, "Bad Request"))),
        case(&n("subject_none"), &format!("{g}.{p}.none"), "", same(not_found_status())),
        case(&n("subject_with_body"), &format!("{g}.{p}.a"), r#"{"seq":1}"#, same(status(408, "Bad Request"))),
        case(&n("found"), &g, r#"{"seq":1}"#, same(Answer::Ok)),
    ]
}

/// Lookups of the stream and the order of checks around them.
#[rustfmt::skip]
fn by_stream() -> Vec<Case> {
    vec![
        case("get_not_found", "$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#, same(stream_not_found())),
        case("get_empty_body_not_found", "$JS.API.STREAM.MSG.GET.NOPE", "", same(bad_request())),
        case("get_bad_json_not_found", "$JS.API.STREAM.MSG.GET.NOPE", "{", same(invalid_json())),
        case("delete_msg_not_found", "$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#, same(stream_not_found())),
        case("delete_msg_empty_body_not_found", "$JS.API.STREAM.MSG.DELETE.NOPE", "", same(bad_request())),
        case("delete_msg_bad_json_not_found", "$JS.API.STREAM.MSG.DELETE.NOPE", "{", same(invalid_json())),
        case("delete_msg_sealed", "$JS.API.STREAM.MSG.DELETE.SEALED", r#"{"seq":1}"#, same(err(400, 10109, "invalid operation on sealed stream"))),
        case("delete_msg_sealed_empty_body", "$JS.API.STREAM.MSG.DELETE.SEALED", "", same(bad_request())),
        case("delete_msg_denied", "$JS.API.STREAM.MSG.DELETE.DENY", r#"{"seq":1}"#, same(err(500, 10057, "message delete not permitted"))),
        case("delete_msg_denied_bad_json", "$JS.API.STREAM.MSG.DELETE.DENY", "{", same(invalid_json())),
        case("direct_not_found", "$JS.API.DIRECT.GET.NOPE", r#"{"seq":1}"#, differs(Answer::NoResponders, Answer::Silence, "differences.md 18")),
        case("direct_not_allowed", "$JS.API.DIRECT.GET.NODIRECT", r#"{"seq":1}"#, differs(Answer::NoResponders, Answer::Silence, "differences.md 18")),
    ]
}

#[rustfmt::skip]
fn purge() -> Vec<Case> {
    let m = "$JS.API.STREAM.PURGE.MEM";
    vec![
        case("purge_not_found", "$JS.API.STREAM.PURGE.NOPE", "", same(stream_not_found())),
        case("purge_bad_json", m, "{", same(invalid_json())),
        case("purge_array", m, "[]", same(invalid_json())),
        case("purge_keep_negative", m, r#"{"keep":-1}"#, same(invalid_json())),
        case("purge_seq_and_keep", m, r#"{"seq":2,"keep":1}"#, same(bad_request())),
        case("purge_bad_json_not_found", "$JS.API.STREAM.PURGE.NOPE", "{", same(invalid_json())),
        case("purge_seq_and_keep_not_found", "$JS.API.STREAM.PURGE.NOPE", r#"{"seq":2,"keep":1}"#, same(bad_request())),
        case("purge_sealed", "$JS.API.STREAM.PURGE.SEALED", "", same(err(400, 10109, "invalid operation on sealed stream"))),
        case("purge_seq_and_keep_sealed", "$JS.API.STREAM.PURGE.SEALED", r#"{"seq":2,"keep":1}"#, same(bad_request())),
        case("purge_denied", "$JS.API.STREAM.PURGE.DENY", "", same(err(500, 10110, "stream purge not permitted"))),
        case("purge_bad_filter", "$JS.API.STREAM.PURGE.P1", r#"{"filter":"a..b"}"#, same(Answer::Ok))
        .after(
            "$JS.API.STREAM.CREATE.P1",
            r#"{"name":"P1","subjects":["p1"]}"#,
        ),
    ]
}
