//! Every client op over raw TCP, with the exact bytes nats-server 2.9.10 answers.
//!
//! Each test is written once with [`both!`] and runs twice: `NAME::nats_server` proves the
//! expected bytes are the reference server's, `NAME::sluice` checks Sluice against them.
//! INFO contents that must differ (version, `sluice_version`) are tested for Sluice alone.

use integration_tests::raw::{escape, expect_each, Raw};
use integration_tests::{both, silent_close, Broker, Kind};
use std::time::Duration;

/// CONNECT options for a quiet session: no +OK, no pedantic subject checks.
const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;
/// A quiet session that understands HMSG.
const HDRS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
/// A quiet session that wants 503 no-responders messages.
const NORESP: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#;

fn broker(kind: Kind) -> Broker {
    Broker::start(kind, &[])
}

/// The lines of `bytes`, sorted: for comparing deliveries whose order across different
/// subscriptions is not fixed. Drops `PING` lines: nats-server PINGs a client about two
/// seconds after it connects, and these tests send no payload that reads `PING`.
fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .filter(|l| *l != "PING")
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

// ---------------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------------

#[test]
fn sluice_info_fields() {
    let b = Broker::sluice(&[]);
    let (_raw, info) = Raw::connect(b.addr);
    let id = info["server_id"].as_str().expect("server_id is a string");
    assert_eq!(
        id.len(),
        56,
        "server_id {id:?} has nats-server's shape (N + 55 chars)"
    );
    assert!(id.starts_with('N'), "server_id {id:?} starts with N");
    assert!(
        info["server_name"].as_str().is_some_and(|n| !n.is_empty()),
        "server_name: {info}"
    );
    assert_eq!(info["version"], "2.10.0", "{info}");
    assert_eq!(info["proto"], 1, "{info}");
    assert_eq!(info["host"], "127.0.0.1", "{info}");
    assert_eq!(info["port"], b.addr.port(), "{info}");
    assert_eq!(info["headers"], true, "{info}");
    assert_eq!(info["max_payload"], 1048576, "{info}");
    assert!(info["client_id"].is_u64(), "client_id: {info}");
    assert_eq!(info["client_ip"], "127.0.0.1", "{info}");
    assert!(
        info["sluice_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "sluice_version: {info}"
    );
    assert!(
        !info.get("auth_required").is_some_and(|v| v != false),
        "no auth_required without auth: {info}"
    );
}

both!(
    fn info_common_fields(kind) {
        let b = broker(kind);
        let (_raw, info) = Raw::connect(b.addr);
        assert_eq!(info["proto"], 1, "{info}");
        assert_eq!(info["headers"], true, "{info}");
        assert_eq!(info["max_payload"], 1048576, "{info}");
        assert_eq!(info["host"], "127.0.0.1", "{info}");
        assert_eq!(info["port"], b.addr.port(), "{info}");
        assert_eq!(info["client_ip"], "127.0.0.1", "{info}");
        assert!(info.get("auth_required").is_none(), "{info}");
        assert!(info.get("tls_required").is_none(), "{info}");
    }
);

both!(
    fn info_client_ids_differ_and_server_id_is_stable(kind) {
        let b = broker(kind);
        let (_r1, i1) = Raw::connect(b.addr);
        let (_r2, i2) = Raw::connect(b.addr);
        assert_ne!(i1["client_id"], i2["client_id"]);
        assert_eq!(i1["server_id"], i2["server_id"]);
    }
);

both!(
    fn info_auth_required_with_user_pass(kind) {
        let b = Broker::start(kind, &["--user", "u", "--pass", "p"]);
        let (_raw, info) = Raw::connect(b.addr);
        assert_eq!(info["auth_required"], true, "{info}");
    }
);

both!(
    fn info_auth_required_with_token(kind) {
        let b = Broker::start(kind, &["--auth", "tok"]);
        let (_raw, info) = Raw::connect(b.addr);
        assert_eq!(info["auth_required"], true, "{info}");
    }
);

// ---------------------------------------------------------------------------------------
// CONNECT and verbose
// ---------------------------------------------------------------------------------------

both!(
    /// +OK follows CONNECT, SUB, PUB and UNSUB (even of an unknown sid); never PING or PONG.
    fn verbose_ok_for_connect_sub_pub_unsub(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB bar 2\r\nhi\r\nUNSUB 1\r\nUNSUB 99\r\nPONG\r\nPING\r\n",
            b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// The +OK for a PUB comes before the MSG it produces for the publisher's own SUB.
    fn verbose_pub_ok_precedes_own_msg(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n",
            b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Before any CONNECT a session is verbose (nats-server's client defaults are
    /// verbose:true, pedantic:true, echo:true).
    fn verbose_is_on_before_connect(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n",
            b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// CONNECT's JSON only overrides the fields it names: `CONNECT {}` leaves verbose on.
    fn connect_without_verbose_field_stays_verbose(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {}\r\nPING\r\n", b"+OK\r\nPONG\r\n", false);
    }
);

both!(
    fn connect_verbose_false_is_silent(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n",
            b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// A second CONNECT replaces the options: verbose on, then off.
    fn second_connect_changes_options(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nCONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPING\r\n",
            b"+OK\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Unknown CONNECT fields are ignored.
    fn connect_unknown_fields_ignored(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false,\"foo\":1,\"lang\":\"rust\",\"protocol\":1,\"name\":\"x\"}\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    /// Other CONNECT spellings nats-server accepts: no space, a TAB, bare LF, `null`.
    fn connect_spellings(kind) {
        let b = broker(kind);
        let ok: &[u8] = b"+OK\r\nPONG\r\n";
        expect_each(
            b.addr,
            None,
            &[
                (b"CONNECT{\"verbose\":true}\r\nPING\r\n", ok, false),
                (b"CONNECT\t{\"verbose\":true}\r\nPING\r\n", ok, false),
                (b"CONNECT {\"verbose\":true}\nPING\r\n", ok, false),
                (b"CONNECT null\r\nPING\r\n", ok, false),
            ],
        );
    }
);

both!(
    /// CONNECT `protocol` must be 0 or 1.
    fn connect_invalid_protocol_level(kind) {
        let b = broker(kind);
        let err: &[u8] = b"-ERR 'invalid client protocol'\r\n";
        expect_each(
            b.addr,
            None,
            &[
                (b"CONNECT {\"verbose\":false,\"protocol\":2}\r\nPING\r\n", err, true),
                (b"CONNECT {\"verbose\":false,\"protocol\":-1}\r\nPING\r\n", err, true),
                (b"CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n", b"PONG\r\n", false),
            ],
        );
    }
);

both!(
    /// Options persist across CONNECTs: a second `CONNECT {}` keeps verbose off.
    fn connect_options_merge(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false}\r\nCONNECT {}\r\nSUB foo 1\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    fn connect_bad_json_closes_silently(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {bad\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn connect_trailing_junk_closes_silently(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {\"verbose\":false} junk\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn connect_wrong_field_type_closes_silently(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {\"verbose\":\"yes\"}\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn connect_without_json_closes_silently(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT\r\nPING\r\n", silent_close(kind), true);
    }
);

// ---------------------------------------------------------------------------------------
// PING / PONG
// ---------------------------------------------------------------------------------------

both!(
    fn ping_pong(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"PING\r\n", b"PONG\r\n", false);
        c.expect(b"PING\r\nPING\r\n", b"PONG\r\nPONG\r\n", false);
    }
);

both!(
    /// Lines a server would send, when a client sends them: `+OK` and a valid `INFO` are
    /// ignored; `-ERR` closes silently.
    fn server_ops_from_client(kind) {
        let b = broker(kind);
        expect_each(
            b.addr,
            Some(QUIET),
            &[
                (b"+OK\r\nPING\r\n", b"PONG\r\n", false),
                (b"INFO {}\r\nPING\r\n", b"PONG\r\n", false),
                (b"-ERR 'x'\r\nPING\r\n", silent_close(kind), true),
            ],
        );
    }
);

both!(
    /// A client's PONG (the answer to a server PING) gets no reply.
    fn client_pong_is_silent(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"PONG\r\nPING\r\n", b"PONG\r\n", false);
    }
);

both!(
    /// nats-server ignores whatever follows PING on its line.
    fn ping_with_trailing_text_still_pongs(kind) {
        let b = broker(kind);
        expect_each(
            b.addr,
            None,
            &[
                (b"PING extra\r\n", b"PONG\r\n", false),
                (b"PINGPONG\r\n", b"PONG\r\n", false),
                (b"PING\rPING\r\n", b"PONG\r\n", false),
                (b"PONGXYZ\r\nPING\r\n", b"PONG\r\n", false),
            ],
        );
    }
);

// ---------------------------------------------------------------------------------------
// SUB / PUB / MSG
// ---------------------------------------------------------------------------------------

both!(
    fn pub_sub_exact_msg(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n",
            b"MSG foo 1 5\r\nhello\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn pub_with_reply_exact_msg(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo _INBOX.abc 2\r\nhi\r\nPING\r\n",
            b"MSG foo 1 _INBOX.abc 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn pub_between_connections(kind) {
        let b = broker(kind);
        let mut sub = Raw::connected(b.addr, QUIET);
        let mut publ = Raw::connected(b.addr, QUIET);
        sub.expect(b"SUB a.b sid7\r\nPING\r\n", b"PONG\r\n", false);
        publ.expect(b"PUB a.b r.x 3\r\nabc\r\nPING\r\n", b"PONG\r\n", false);
        sub.expect(b"PING\r\n", b"MSG a.b sid7 r.x 3\r\nabc\r\nPONG\r\n", false);
    }
);

both!(
    fn empty_payload(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 0\r\n\r\nPING\r\n",
            b"MSG foo 1 0\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// A payload is opaque: CRLF and `PING` inside it are data.
    fn payload_with_crlf_inside(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 9\r\na\r\nPING\r\n\r\nPING\r\n",
            b"MSG foo 1 9\r\na\r\nPING\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn binary_payload_all_byte_values(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        let payload: Vec<u8> = (0..=255u8).collect();
        let mut script = b"SUB bin 1\r\nPUB bin 256\r\n".to_vec();
        script.extend_from_slice(&payload);
        script.extend_from_slice(b"\r\nPING\r\n");
        let mut want = b"MSG bin 1 256\r\n".to_vec();
        want.extend_from_slice(&payload);
        want.extend_from_slice(b"\r\nPONG\r\n");
        c.expect(&script, &want, false);
    }
);

both!(
    fn utf8_subjects(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            "SUB 日本.語 1\r\nPUB 日本.語 1\r\nx\r\nPING\r\n".as_bytes(),
            "MSG 日本.語 1 1\r\nx\r\nPONG\r\n".as_bytes(),
            false,
        );
    }
);

both!(
    /// Two SUBs with the same sid are one subscription: one delivery.
    fn duplicate_sid_delivers_once(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"MSG foo 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Sids are any token, not only numbers.
    fn non_numeric_sid(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo bar\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"MSG foo bar 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn wildcards(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB foo.bar 4\r\nSUB *.bar 5\r\nSUB foo.*.baz 6\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
        let got = c.exchange(b"PUB foo.bar 1\r\nx\r\nPING\r\n");
        assert!(!got.closed);
        let want = b"MSG foo.bar 1 1\r\nx\r\nMSG foo.bar 2 1\r\nx\r\nMSG foo.bar 3 1\r\nx\r\nMSG foo.bar 4 1\r\nx\r\nMSG foo.bar 5 1\r\nx\r\nPONG\r\n";
        assert_eq!(sorted_lines(&got.bytes), sorted_lines(want), "got {got}");
        let got = c.exchange(b"PUB foo.bar.baz 1\r\nx\r\nPING\r\n");
        let want = b"MSG foo.bar.baz 2 1\r\nx\r\nMSG foo.bar.baz 3 1\r\nx\r\nMSG foo.bar.baz 6 1\r\nx\r\nPONG\r\n";
        assert_eq!(sorted_lines(&got.bytes), sorted_lines(want), "got {got}");
        // `foo.>` needs at least one token after foo; `>` matches foo itself.
        c.expect(b"PUB foo 1\r\nx\r\nPING\r\n", b"MSG foo 3 1\r\nx\r\nPONG\r\n", false);
        // Only `>` matches a four-token subject here.
        c.expect(
            b"PUB a.b.c.d 1\r\nx\r\nPING\r\n",
            b"MSG a.b.c.d 3 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Tokens such as `a*` and `>b` are literal, not wildcards.
    fn partial_wildcard_tokens_are_literal(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB a* 1\r\nSUB >b 2\r\nPUB ab 1\r\nx\r\nPUB a* 1\r\ny\r\nPUB >b 1\r\nz\r\nPING\r\n",
            b"MSG a* 1 1\r\ny\r\nMSG >b 2 1\r\nz\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Without pedantic, a PUB to a wildcard subject is delivered to subscriptions whose
    /// pattern matches it literally.
    fn non_pedantic_wildcard_publish_is_literal(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo.* 1\r\nSUB foo.bar 2\r\nPUB foo.* 1\r\nx\r\nPING\r\n",
            b"MSG foo.* 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// A PUB to a subject with empty tokens matches nothing, not even `>`.
    fn publish_to_malformed_subject_matches_nothing(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB > 1\r\nPUB foo..bar 1\r\nx\r\nPUB .foo 1\r\nx\r\nPUB foo. 1\r\nx\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// Queue groups
// ---------------------------------------------------------------------------------------

both!(
    fn queue_single_member_gets_message(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo q 1\r\nPUB foo r 2\r\nhi\r\nPING\r\n",
            b"MSG foo 1 r 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// One message per group, plus one per plain subscription.
    fn queue_one_per_group(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo q 1\r\nSUB foo q 2\r\nSUB foo r 3\r\nSUB foo 4\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
        for _ in 0..10 {
            let got = c.exchange(b"PUB foo 1\r\nx\r\nPING\r\n");
            let lines = sorted_lines(&got.bytes);
            let q: Vec<&String> = lines
                .iter()
                .filter(|l| *l == "MSG foo 1 1" || *l == "MSG foo 2 1")
                .collect();
            assert_eq!(q.len(), 1, "one of sid 1/2 (group q): got {got}");
            let mut want = vec![
                String::new(),
                "MSG foo 3 1".into(),
                "MSG foo 4 1".into(),
                q[0].clone(),
                "PONG".into(),
                "x".into(),
                "x".into(),
                "x".into(),
            ];
            want.sort();
            assert_eq!(lines, want, "got {got}");
        }
    }
);

both!(
    /// Members on different connections: each message goes to exactly one of them, and over
    /// many messages every member gets some.
    fn queue_across_connections(kind) {
        let b = broker(kind);
        let mut members: Vec<Raw> = (0..3).map(|_| Raw::connected(b.addr, QUIET)).collect();
        for (i, m) in members.iter_mut().enumerate() {
            m.expect(format!("SUB work grp {i}\r\nPING\r\n").as_bytes(), b"PONG\r\n", false);
        }
        let mut publ = Raw::connected(b.addr, QUIET);
        let n = 90;
        let mut script = Vec::new();
        for i in 0..n {
            script.extend_from_slice(format!("PUB work 3\r\n{i:03}\r\n").as_bytes());
        }
        script.extend_from_slice(b"PING\r\n");
        publ.expect(&script, b"PONG\r\n", false);
        let mut seen = Vec::new();
        for (i, m) in members.iter_mut().enumerate() {
            let got = m.exchange(b"PING\r\n");
            let text = String::from_utf8_lossy(&got.bytes).into_owned();
            let mut count = 0;
            let mut lines = text.split("\r\n");
            while let Some(line) = lines.next() {
                // (nats-server PINGs a client about two seconds after it connects.)
                if line == "PONG" || line == "PING" || line.is_empty() {
                    continue;
                }
                assert_eq!(line, format!("MSG work {i} 3"), "member {i}: {text:?}");
                seen.push(lines.next().expect("payload").to_owned());
                count += 1;
            }
            assert!(count > 0, "member {i} got nothing of {n}");
        }
        seen.sort();
        let want: Vec<String> = (0..n).map(|i| format!("{i:03}")).collect();
        assert_eq!(seen, want, "each message exactly once across the group");
    }
);

// ---------------------------------------------------------------------------------------
// UNSUB
// ---------------------------------------------------------------------------------------

both!(
    fn unsub_stops_delivery(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 1\r\na\r\nUNSUB 1\r\nPUB foo 1\r\nb\r\nPING\r\n",
            b"MSG foo 1 1\r\na\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn unsub_twice_and_unknown_sid_are_harmless(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nUNSUB 1\r\nUNSUB 1\r\nUNSUB nope\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    /// `UNSUB sid 2`: two more deliveries, then the subscription is gone.
    fn unsub_max_auto_unsubscribes(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n",
            b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n",
            false,
        );
        // Gone for good: a re-used sid is a new subscription.
        c.expect(
            b"PUB foo 1\r\nd\r\nSUB foo 1\r\nPUB foo 1\r\ne\r\nPING\r\n",
            b"MSG foo 1 1\r\ne\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// The max counts deliveries since the SUB: if already reached, UNSUB removes at once.
    fn unsub_max_already_reached(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 2\r\nPUB foo 1\r\nc\r\nPING\r\n",
            b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn unsub_max_counts_earlier_deliveries(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 1\r\na\r\nUNSUB 1 2\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n",
            b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn unsub_max_zero_unsubscribes_now(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    /// nats-server reads a max that is not a number as "no max": a plain unsubscribe.
    fn unsub_non_numeric_max_is_plain_unsub(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n",
            b"+OK\r\n+OK\r\n+OK\r\n+OK\r\nPONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// echo, pedantic
// ---------------------------------------------------------------------------------------

both!(
    fn echo_false_skips_own_messages(kind) {
        let b = broker(kind);
        let mut me = Raw::connected(b.addr, r#"{"verbose":false,"echo":false}"#);
        let mut other = Raw::connected(b.addr, QUIET);
        other.expect(b"SUB foo 9\r\nPING\r\n", b"PONG\r\n", false);
        me.expect(b"SUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n", b"PONG\r\n", false);
        other.expect(b"PING\r\n", b"MSG foo 9 1\r\nx\r\nPONG\r\n", false);
        // Others' messages still reach it.
        other.expect(b"PUB foo 1\r\ny\r\nPING\r\n", b"MSG foo 9 1\r\ny\r\nPONG\r\n", false);
        me.expect(b"PING\r\n", b"MSG foo 1 1\r\ny\r\nPONG\r\n", false);
    }
);

both!(
    /// Pedantic: PUB to a wildcard subject gets `-ERR 'Invalid Publish Subject'` and the
    /// connection stays open.
    fn pedantic_wildcard_publish_errors(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, r#"{"verbose":false,"pedantic":true}"#);
        c.expect(
            b"PUB foo.* 1\r\nx\r\nPUB foo.> 1\r\nx\r\nPUB foo..bar 1\r\nx\r\nPING\r\n",
            b"-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// With verbose too, the -ERR is followed by the PUB's +OK (nats-server checks the
    /// subject, complains, and carries on processing the message).
    fn pedantic_verbose_wildcard_publish_errors_then_ok(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true,\"pedantic\":true}\r\nPUB foo.* 1\r\nx\r\nPING\r\n",
            b"+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// nats-server 2.9.10 still routes a pedantic wildcard PUB after the -ERR: a `>`
    /// subscriber receives it.
    fn pedantic_wildcard_publish_still_routed(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, r#"{"verbose":false,"pedantic":true}"#);
        c.expect(
            b"SUB > 1\r\nPUB foo.* 1\r\nx\r\nPING\r\n",
            b"-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// `CONNECT {"verbose":false}` leaves pedantic at its default, on.
    fn connect_without_pedantic_field_stays_pedantic(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, r#"{"verbose":false}"#);
        c.expect(
            b"PUB foo.* 1\r\nx\r\nPING\r\n",
            b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// Invalid SUB subjects: -ERR, connection stays open
// ---------------------------------------------------------------------------------------

both!(
    fn invalid_sub_subjects(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        for subject in ["foo.", ".foo", "foo..bar", "foo.>.bar", ">.foo", ".", "..", "foo.>.>"] {
            c.expect(
                format!("SUB {subject} 1\r\nPING\r\n").as_bytes(),
                b"-ERR 'Invalid Subject'\r\nPONG\r\n",
                false,
            );
        }
        // Nothing was subscribed.
        c.expect(b"PUB foo.bar 1\r\nx\r\nPING\r\n", b"PONG\r\n", false);
    }
);

both!(
    fn invalid_sub_subject_verbose_gets_no_ok(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nSUB foo. 1\r\nSUB foo 2\r\nPING\r\n",
            b"+OK\r\n-ERR 'Invalid Subject'\r\n+OK\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn valid_unusual_subjects_and_queues(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo.*.> 1\r\nSUB * 2\r\nSUB foo*.bar 3\r\nSUB foo q.* 4\r\nSUB foo q.. 5\r\nSUB foo > 6\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// HPUB / HMSG
// ---------------------------------------------------------------------------------------

both!(
    fn hpub_hmsg_exact(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(
            b"SUB foo 1\r\nHPUB foo r 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
            b"HMSG foo 1 r 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\nHMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Repeated keys and odd spacing pass through byte for byte.
    fn hpub_repeated_keys_verbatim(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        let hdr = b"NATS/1.0\r\nX: 1\r\nX: 2\r\nx:3\r\nY:  spaced  \r\n\r\n";
        let mut script = format!("SUB h 1\r\nHPUB h {} {}\r\n", hdr.len(), hdr.len() + 3).into_bytes();
        script.extend_from_slice(hdr);
        script.extend_from_slice(b"abc\r\nPING\r\n");
        let mut want = format!("HMSG h 1 {} {}\r\n", hdr.len(), hdr.len() + 3).into_bytes();
        want.extend_from_slice(hdr);
        want.extend_from_slice(b"abc\r\nPONG\r\n");
        c.expect(&script, &want, false);
    }
);

both!(
    /// A subscriber that did not ask for headers gets MSG with the payload alone.
    fn hpub_to_non_header_subscriber_is_msg(kind) {
        let b = broker(kind);
        let mut plain = Raw::connected(b.addr, r#"{"verbose":false,"headers":false}"#);
        plain.expect(b"SUB foo 1\r\nPING\r\n", b"PONG\r\n", false);
        let mut h = Raw::connected(b.addr, HDRS);
        h.expect(
            b"HPUB foo r 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
        plain.expect(b"PING\r\n", b"MSG foo 1 r 2\r\nhi\r\nMSG foo 1 0\r\n\r\nPONG\r\n", false);
    }
);

both!(
    /// A plain PUB reaches a headers subscriber as MSG, not HMSG.
    fn pub_to_header_subscriber_is_msg(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(
            b"SUB foo 1\r\nPUB foo 2\r\nyo\r\nPING\r\n",
            b"MSG foo 1 2\r\nyo\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// HPUB with a header size of 0 is delivered as a plain MSG.
    fn hpub_zero_header_size_is_msg(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(
            b"SUB foo 1\r\nHPUB foo 0 2\r\nhi\r\nPING\r\n",
            b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn hpub_verbose_ok(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
            b"+OK\r\n+OK\r\n+OK\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// HPUB from a client that did not send `headers:true` closes the connection, silently.
    fn hpub_without_headers_negotiated_closes(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(b"SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn hpub_header_size_over_total_closes(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(b"HPUB foo 15 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn hpub_missing_size_closes(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(b"HPUB foo 2\r\nhi\r\nPING\r\n", silent_close(kind), true);
    }
);

// ---------------------------------------------------------------------------------------
// No responders
// ---------------------------------------------------------------------------------------

both!(
    /// A request (PUB with reply) nobody subscribes to: the requester gets a 503 status
    /// message on its own subscription to the reply subject.
    fn no_responders_503(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, NORESP);
        c.expect(
            b"SUB _INBOX.x 7\r\nPUB nobody _INBOX.x 2\r\nhi\r\nPING\r\n",
            b"HMSG _INBOX.x 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// The requester's subscription may be a wildcard; the HMSG names the reply subject.
    fn no_responders_via_wildcard_inbox(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, NORESP);
        c.expect(
            b"SUB _INBOX.> 7\r\nPUB svc _INBOX.y 1\r\nq\r\nHPUB svc _INBOX.z 12 13\r\nNATS/1.0\r\n\r\nq\r\nPING\r\n",
            b"HMSG _INBOX.y 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nHMSG _INBOX.z 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// echo:false does not suppress the 503 (it is not the client's own message).
    fn no_responders_with_echo_false(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(
            b.addr,
            r#"{"verbose":false,"headers":true,"no_responders":true,"echo":false}"#,
        );
        c.expect(
            b"SUB _INBOX.w 7\r\nPUB svc _INBOX.w 1\r\nq\r\nPING\r\n",
            b"HMSG _INBOX.w 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// No 503 when: a responder exists; the reply subject has no subscription of the
    /// requester's; the requester's reply subscription is a queue subscription; the client
    /// did not ask for no_responders; the message has no reply subject.
    fn no_responders_not_sent(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, NORESP);
        c.expect(
            b"SUB svc 1\r\nSUB _INBOX.a 2\r\nPUB svc _INBOX.a 1\r\nq\r\nPING\r\n",
            b"MSG svc 1 _INBOX.a 1\r\nq\r\nPONG\r\n",
            false,
        );
        c.expect(b"PUB nobody _INBOX.none 1\r\nq\r\nPING\r\n", b"PONG\r\n", false);
        c.expect(
            b"SUB _INBOX.g grp 3\r\nPUB nobody _INBOX.g 1\r\nq\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
        c.expect(b"SUB _INBOX.> 4\r\nPUB nobody 1\r\nq\r\nPING\r\n", b"PONG\r\n", false);
        let mut other = Raw::connected(b.addr, HDRS);
        other.expect(
            b"SUB _INBOX.b 1\r\nPUB nobody _INBOX.b 1\r\nq\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    /// Another connection's subscription on the reply subject does not get the 503.
    fn no_responders_only_to_requester(kind) {
        let b = broker(kind);
        let mut watcher = Raw::connected(b.addr, HDRS);
        watcher.expect(b"SUB _INBOX.v 9\r\nPING\r\n", b"PONG\r\n", false);
        let mut c = Raw::connected(b.addr, NORESP);
        c.expect(b"PUB svc _INBOX.v 1\r\nq\r\nPING\r\n", b"PONG\r\n", false);
        watcher.expect(b"PING\r\n", b"PONG\r\n", false);
    }
);

both!(
    /// no_responders without headers is refused at CONNECT.
    fn no_responders_requires_headers(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\nPING\r\n",
            b"-ERR 'no responders requires headers support'\r\n",
            true,
        );
    }
);

// ---------------------------------------------------------------------------------------
// Protocol errors
// ---------------------------------------------------------------------------------------

both!(
    fn unknown_op_closes(kind) {
        let b = broker(kind);
        let err: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
        expect_each(
            b.addr,
            None,
            &[
                (b"FOO\r\n", err, true),
                (b"SUBX foo 1\r\nPING\r\n", err, true),
                (b"PI NG\r\n", err, true),
                (b" PING\r\n", err, true),
                (b"MSG foo 1 1\r\nx\r\nPING\r\n", err, true),
                (b"HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n", err, true),
                (b"SUB\r\n", err, true),
                (b"PUB\r\n", err, true),
                (b"UNSUB\r\n", err, true),
                (b"GET / HTTP/1.1\r\n\r\n", err, true),
            ],
        );
    }
);

both!(
    /// A PUB or SUB whose arguments do not parse closes the connection without -ERR.
    fn bad_arguments_close_silently(kind) {
        let b = broker(kind);
        let cases: Vec<(&[u8], &[u8], bool)> = [
            &b"PUB foo\r\n"[..],
            b"PUB foo bar baz 1\r\nx\r\n",
            b"PUB foo x\r\nPING\r\n",
            b"PUB foo -1\r\nPING\r\n",
            b"PUB foo +1\r\nx\r\nPING\r\n",
            b"PUB foo 99999999999999999999\r\nx\r\n",
            // Sizes are at most 9 digits, leading zeros included.
            b"PUB foo 0000000001\r\nx\r\nPING\r\n",
            b"SUB foo\r\nPING\r\n",
            b"SUB a b c d\r\nPING\r\n",
            b"UNSUB 1 2 3\r\nPING\r\n",
        ]
        .into_iter()
        .map(|script| (script, silent_close(kind), true))
        .collect();
        expect_each(b.addr, Some(QUIET), &cases);
    }
);

both!(
    /// The bytes after the declared payload must be CRLF.
    fn payload_size_mismatch_closes(kind) {
        let b = broker(kind);
        let err: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
        expect_each(
            b.addr,
            Some(QUIET),
            &[
                (b"PUB foo 1\r\nhiya\r\nPING\r\n", err, true),
                (b"PUB foo 5\r\nhi\r\nPING\r\n", err, true),
                (b"PUB foo 2\r\nhi\rPING\r\n", err, true),
                (b"PUB foo 1\r\nx\r\r\nPING\r\n", err, true),
            ],
        );
    }
);

both!(
    /// The declared size over max_payload (1 MiB by default) is refused before the payload.
    fn max_payload_violation_closes(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(b"PUB foo 1048577\r\n", b"-ERR 'Maximum Payload Violation'\r\n", true);
        let mut c = Raw::connected(b.addr, HDRS);
        c.expect(b"HPUB foo 12 1048577\r\n", b"-ERR 'Maximum Payload Violation'\r\n", true);
    }
);

both!(
    fn max_payload_exactly_is_accepted(kind) {
        let b = broker(kind);
        let mut sub = Raw::connected(b.addr, QUIET);
        sub.expect(b"SUB big 1\r\nPING\r\n", b"PONG\r\n", false);
        let mut c = Raw::connected(b.addr, QUIET);
        let mut script = b"PUB big 1048576\r\n".to_vec();
        script.resize(script.len() + 1048576, b'z');
        script.extend_from_slice(b"\r\nPING\r\n");
        c.expect(&script, b"PONG\r\n", false);
        sub.send(b"PING\r\n");
        let got = sub.read_until(Duration::from_secs(10), |b| b.ends_with(b"PONG\r\n"));
        let head = b"MSG big 1 1048576\r\n";
        assert!(got.starts_with(head), "{}", escape(&got[..got.len().min(40)]));
        assert_eq!(got.len(), head.len() + 1048576 + 2 + 6);
        assert!(got[head.len()..head.len() + 1048576].iter().all(|&b| b == b'z'));
    }
);

both!(
    /// nats-server limits the arguments after the op name to 4096 bytes (max_control_line).
    fn control_line_too_long_closes(kind) {
        let b = broker(kind);
        let long = "a".repeat(5000);
        let scripts = [
            format!("SUB {long} 1\r\nPING\r\n"),
            format!("PUB {long} 1\r\nx\r\nPING\r\n"),
            format!("CONNECT {{\"name\":\"{long}\"}}\r\nPING\r\n"),
            // No line end at all: refused once the line is too long already.
            format!("SUB {long}"),
        ];
        let err: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";
        let cases: Vec<(&[u8], &[u8], bool)> =
            scripts.iter().map(|s| (s.as_bytes(), err, true)).collect();
        expect_each(b.addr, None, &cases);
    }
);

both!(
    /// The boundary: 4096 bytes of arguments pass, 4097 do not.
    fn control_line_boundary(kind) {
        let b = broker(kind);
        let ok = format!("SUB {} 1\r\nPING\r\n", "a".repeat(4094));
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(ok.as_bytes(), b"PONG\r\n", false);
        let bad = format!("SUB {} 1\r\nPING\r\n", "a".repeat(4095));
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(bad.as_bytes(), b"-ERR 'maximum control line exceeded'\r\n", true);
    }
);

both!(
    /// A long run of junk with no line end is an unknown op, not a long control line.
    fn long_junk_is_unknown_op(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect("X".repeat(5000).as_bytes(), b"-ERR 'Unknown Protocol Operation'\r\n", true);
    }
);

both!(
    /// Ops before a fatal error in the same read still take effect.
    fn ops_before_an_error_take_effect(kind) {
        let b = broker(kind);
        let mut sub = Raw::connected(b.addr, QUIET);
        sub.expect(b"SUB foo 1\r\nPING\r\n", b"PONG\r\n", false);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"PUB foo 1\r\na\r\nBOGUS\r\nPUB foo 1\r\nb\r\n",
            b"-ERR 'Unknown Protocol Operation'\r\n",
            true,
        );
        sub.expect(b"PING\r\n", b"MSG foo 1 1\r\na\r\nPONG\r\n", false);
    }
);

// ---------------------------------------------------------------------------------------
// Case and whitespace
// ---------------------------------------------------------------------------------------

both!(
    fn op_names_are_case_insensitive(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CoNnEcT {\"verbose\":false,\"headers\":true}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nhpub foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPuB foo 1\r\nx\r\nunsub 1\r\nPUB foo 1\r\ny\r\npong\r\nping\r\nPiNg\r\n",
            b"MSG foo 1 2\r\nhi\r\nHMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\nMSG foo 1 1\r\nx\r\nPONG\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn tabs_and_repeated_spaces_separate_arguments(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT \t {\"verbose\":false}\r\nSUB\tfoo\t1\r\nSUB  bar   q \t 2\r\nPUB  foo   2\r\nhi\r\nPUB\tbar\tr\t1\r\nx\r\nPING\r\n",
            b"MSG foo 1 2\r\nhi\r\nMSG bar 2 r 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    fn trailing_whitespace_is_ignored(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1 \r\nPUB foo 1 \t\r\nx\r\nPING \r\n",
            b"MSG foo 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// A leading zero in a size is still a number; the MSG carries the size as sent.
    fn size_with_leading_zero(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo 1\r\nPUB foo 01\r\nx\r\nPING\r\n",
            // protocol-spec/differences.md #9: Sluice writes sizes canonically.
            match kind {
                Kind::NatsServer => b"MSG foo 1 01\r\nx\r\nPONG\r\n",
                Kind::Sluice => b"MSG foo 1 1\r\nx\r\nPONG\r\n",
            },
            false,
        );
    }
);

both!(
    /// For SUB and UNSUB a stray CR separates arguments too.
    fn sub_stray_cr_separates(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        c.expect(
            b"SUB foo\r 1\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"MSG foo 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// Control lines may end in a bare LF (nats-server accepts it too).
    fn bare_lf_control_lines(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n",
            b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------

const USER_PASS: &[&str] = &["--user", "u", "--pass", "p"];

both!(
    fn user_pass_ops_before_connect_are_refused(kind) {
        let b = Broker::start(kind, USER_PASS);
        let err: &[u8] = b"-ERR 'Authorization Violation'\r\n";
        let cases: Vec<(&[u8], &[u8], bool)> = [
            &b"PING\r\n"[..],
            b"PONG\r\n",
            b"SUB foo 1\r\n",
            b"PUB foo 1\r\nx\r\n",
            b"UNSUB 1\r\n",
            // While auth is pending, anything not starting with C is refused as such.
            b"FOO\r\n",
        ]
        .into_iter()
        .map(|script| (script, err, true))
        .collect();
        expect_each(b.addr, None, &cases);
    }
);

both!(
    fn user_pass_wrong_or_missing_credentials(kind) {
        let b = Broker::start(kind, USER_PASS);
        let scripts: Vec<String> = [
            r#"{"verbose":false}"#,
            r#"{"verbose":false,"user":"u"}"#,
            r#"{"verbose":false,"user":"u","pass":"x"}"#,
            r#"{"verbose":false,"user":"x","pass":"p"}"#,
            r#"{"verbose":false,"user":"U","pass":"p"}"#,
            r#"{"verbose":false,"auth_token":"p"}"#,
        ]
        .iter()
        .map(|c| format!("CONNECT {c}\r\nPING\r\n"))
        .collect();
        let err: &[u8] = b"-ERR 'Authorization Violation'\r\n";
        let cases: Vec<(&[u8], &[u8], bool)> =
            scripts.iter().map(|s| (s.as_bytes(), err, true)).collect();
        expect_each(b.addr, None, &cases);
    }
);

both!(
    fn user_pass_correct_credentials_work(kind) {
        let b = Broker::start(kind, USER_PASS);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true,\"user\":\"u\",\"pass\":\"p\"}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n",
            b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\nPONG\r\n",
            false,
        );
    }
);

both!(
    /// CONNECT merges onto the current options, credentials included: after a good login a
    /// second `CONNECT {}` still passes.
    fn user_pass_second_connect_keeps_login(kind) {
        let b = Broker::start(kind, USER_PASS);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nCONNECT {}\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
    }
);

both!(
    /// CONNECT naming an account is refused even without auth configured.
    fn connect_with_account_refused(kind) {
        let b = broker(kind);
        let err: &[u8] = b"-ERR 'Authorization Violation'\r\n";
        expect_each(
            b.addr,
            None,
            &[
                (b"CONNECT {\"account\":\"x\"}\r\nPING\r\n", err, true),
                (b"CONNECT {\"new_account\":true}\r\nPING\r\n", err, true),
            ],
        );
    }
);

both!(
    fn user_pass_bad_connect_json_closes_silently(kind) {
        let b = Broker::start(kind, USER_PASS);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {bad\r\nPING\r\n", silent_close(kind), true);
    }
);

both!(
    fn token_auth(kind) {
        let b = Broker::start(kind, &["--auth", "tok"]);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(b"CONNECT {\"verbose\":false,\"auth_token\":\"tok\"}\r\nPING\r\n", b"PONG\r\n", false);
        let err: &[u8] = b"-ERR 'Authorization Violation'\r\n";
        expect_each(
            b.addr,
            None,
            &[
                (b"PING\r\n", err, true),
                (b"CONNECT {\"verbose\":false}\r\nPING\r\n", err, true),
                (b"CONNECT {\"verbose\":false,\"auth_token\":\"bad\"}\r\nPING\r\n", err, true),
                (b"CONNECT {\"verbose\":false,\"auth_token\":\"TOK\"}\r\nPING\r\n", err, true),
                (b"CONNECT {\"verbose\":false,\"user\":\"tok\",\"pass\":\"tok\"}\r\nPING\r\n", err, true),
            ],
        );
    }
);

both!(
    /// A second CONNECT is checked again: wrong credentials then close the connection.
    fn token_second_connect_rechecked(kind) {
        let b = Broker::start(kind, &["--auth", "tok"]);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":false,\"auth_token\":\"tok\"}\r\nCONNECT {\"verbose\":false,\"auth_token\":\"bad\"}\r\nPING\r\n",
            b"-ERR 'Authorization Violation'\r\n",
            true,
        );
    }
);

both!(
    /// No CONNECT within the auth timeout (2 s by default).
    fn auth_timeout(kind) {
        let b = Broker::start(kind, &["--auth", "tok"]);
        let (mut c, _) = Raw::connect(b.addr);
        let got = c.read_until(Duration::from_secs(5), |b| b.ends_with(b"\r\n"));
        assert_eq!(escape(&got), escape(b"-ERR 'Authentication Timeout'\r\n"));
        assert!(c.is_closed(Duration::from_secs(2)), "closed after the timeout");
    }
);

// ---------------------------------------------------------------------------------------
// Reserved reply subjects
// ---------------------------------------------------------------------------------------

both!(
    /// A reply subject starting `$JS.ACK.` or `_R_.` is refused: -ERR naming it, no +OK, no
    /// delivery, connection open. `$JS.ACKx` is an ordinary subject.
    fn reserved_reply_subjects(kind) {
        let b = broker(kind);
        let (mut c, _) = Raw::connect(b.addr);
        c.expect(
            b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo $JS.ACK.x 1\r\nx\r\nPUB foo _R_.y 1\r\nx\r\nPUB foo $JS.ACKx 1\r\nx\r\nPING\r\n",
            b"+OK\r\n+OK\r\n-ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.x\"'\r\n-ERR 'Permissions Violation for Publish with Reply of \"_R_.y\"'\r\n+OK\r\nMSG foo 1 $JS.ACKx 1\r\nx\r\nPONG\r\n",
            false,
        );
        let mut h = Raw::connected(b.addr, HDRS);
        h.expect(
            b"SUB foo 1\r\nHPUB foo $JS.ACK.a.b 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
            b"-ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.a.b\"'\r\nPONG\r\n",
            false,
        );
    }
);

// ---------------------------------------------------------------------------------------
// Sluice's deliberate divergence: subjects must be UTF-8
// ---------------------------------------------------------------------------------------

/// nats-server passes any bytes through as a subject; Sluice refuses a subject, reply or
/// queue that is not UTF-8 with `-ERR 'Invalid Subject'` and closes the connection.
#[test]
fn sluice_rejects_non_utf8_subjects() {
    let b = Broker::sluice(&[]);
    let err: &[u8] = b"-ERR 'Invalid Subject'\r\n";
    expect_each(
        b.addr,
        Some(QUIET),
        &[
            (b"SUB \xff\xfe 1\r\nPING\r\n", err, true),
            (b"SUB foo \xff 1\r\nPING\r\n", err, true),
            (b"PUB \xff 1\r\nx\r\nPING\r\n", err, true),
            (b"SUB foo 1\r\nPUB foo \xff 1\r\nx\r\nPING\r\n", err, true),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Flags visible in INFO, server PINGs
// ---------------------------------------------------------------------------------------

both!(
    fn server_name_flag(kind) {
        let b = Broker::start(kind, &["-n", "my-broker"]);
        let (_raw, info) = Raw::connect(b.addr);
        assert_eq!(info["server_name"], "my-broker", "{info}");
    }
);

both!(
    /// After CONNECT the first server PING comes after min(ping_interval, 2 s) plus up to 20%
    /// jitter (nats-server's short first ping); answering it keeps the connection open.
    fn first_server_ping_after_connect(kind) {
        let b = broker(kind);
        let mut c = Raw::connected(b.addr, QUIET);
        let got = c.read_until(Duration::from_secs(4), |b| b.ends_with(b"PING\r\n"));
        assert_eq!(escape(&got), "PING\\r\\n", "a server PING within 4 s of CONNECT");
        c.expect(b"PONG\r\nPING\r\n", b"PONG\r\n", false);
    }
);
