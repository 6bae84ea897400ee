//! Tests of an account's `exports` and `imports`: what the file gives, and the refusals
//! (nats-server 2.9.10's words where it refuses the same thing, checked against its binary).

use crate::conf::options::{from_map, FileOptions};
use crate::conf::parser::parse_str;
use sluice_server::{Export, ExportKind, Import, ResponseType};
use std::path::Path;
use std::time::Duration;

fn options(text: &str) -> FileOptions {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    from_map(&map).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn options_err(text: &str) -> String {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match from_map(&map) {
        Ok(o) => panic!("{text:?} read as {o:?}"),
        Err(e) => e.to_string(),
    }
}

const EXAMPLE: &str = r#"
accounts {
  A: {
    exports: [
      {stream: "pub.>"}
      {service: "help.>", response: Stream, response_threshold: "5s"}
      {stream: "lim.*", accounts: [B]}
    ]
  }
  B: {
    imports: [
      {stream: {account: A, subject: "pub.>"}, prefix: "fa"}
      {stream: {account: A, subject: "lim.x"}, to: "limx"}
      {service: {account: A, subject: "help.>"}, to: "ah.>"}
      {service: {account: A, subject: "help.x"}}
    ]
  }
}
"#;

#[test]
fn exports_and_imports_are_read() {
    let o = options(EXAMPLE);
    let accounts = o.accounts.expect("accounts");
    assert_eq!(
        accounts[0].exports,
        vec![
            Export {
                subject: "pub.>".into(),
                kind: ExportKind::Stream,
                accounts: None
            },
            Export {
                subject: "help.>".into(),
                kind: ExportKind::Service {
                    response: ResponseType::Stream,
                    threshold: Duration::from_secs(5)
                },
                accounts: None
            },
            Export {
                subject: "lim.*".into(),
                kind: ExportKind::Stream,
                accounts: Some(vec!["B".into()])
            },
        ]
    );
    let import = |stream, subject: &str, to: &str| Import {
        stream,
        account: "A".into(),
        subject: subject.into(),
        to: to.into(),
    };
    assert_eq!(
        accounts[1].imports,
        vec![
            import(true, "pub.>", "fa.pub.>"),
            import(true, "lim.x", "limx"),
            import(false, "help.>", "ah.>"),
            import(false, "help.x", "help.x"),
        ]
    );
    // A service export's defaults: one response, within 2 minutes.
    let o = options("accounts { A: { exports: [ {service: x} ] } }");
    assert_eq!(
        o.accounts.unwrap()[0].exports[0].kind,
        ExportKind::Service {
            response: ResponseType::Singleton,
            threshold: Duration::from_secs(120)
        }
    );
}

#[test]
fn refusals_in_nats_server_words() {
    let cases = [
        (
            "accounts { A: { exports: [ {stream: \"h.*\", accounts: [Q]} ] } }",
            "\"Q\" account not defined for stream export",
        ),
        (
            "accounts { A: { exports: [ {service: h} ] }, B: { imports: [ {service: {account: Z, subject: h}} ] } }",
            "\"Z\" account not defined for service import",
        ),
        (
            "accounts { A: { exports: [ {stream: \"lim.*\", accounts: [B]} ] }, B: {}, C: { imports: [ {stream: {account: A, subject: \"lim.*\"}} ] } }",
            "Error adding stream import \"lim.*\": stream import not authorized",
        ),
        (
            "accounts { A: { exports: [ {stream: \"h.>\"} ] }, B: { imports: [ {stream: {account: A, subject: \"h.>\"}, prefix: p, to: q} ] } }",
            "Stream import can not have a 'prefix' and a 'to' property",
        ),
        (
            "accounts { A: { exports: [ {stream: \"h.>\"} ] }, B: { imports: [ {stream: {account: A, subject: \"h.x\"}, prefix: \"p.*\"} ] } }",
            "Error adding stream import \"h.x\": stream import prefix can not contain wildcard tokens",
        ),
        (
            "accounts { A: { exports: [ {service: \"h.*\", response: bogus} ] } }",
            "Unknown response type: \"bogus\"",
        ),
        (
            "accounts { A: { exports: [ {stream: \"h.*\", response: stream} ] } }",
            "Detected response directive on non-service",
        ),
        (
            "accounts { A: { exports: [ {stream: \"h.*\", service: x} ] } }",
            "Detected service \"x\" but already saw a stream",
        ),
        (
            "accounts { A: { exports: \"x\" } }",
            "Exports should be an array, got string",
        ),
        (
            "accounts { A: { exports: [ {service: x} ] }, B: { imports: [ {service: {account: A}} ] } }",
            "Expect an account name and a subject",
        ),
        (
            "accounts { A: { exports: [ {service: \"h.*\"} ] }, B: { imports: [ {service: {account: A, subject: \"h.*\"}, to: \"a.>\"} ] } }",
            "Error adding service import \"h.*\": failed to create mapping transform for service import subject \"a.>\" to \"h.*\": invalid subject",
        ),
        (
            "accounts { A: { exports: [ {stream: \"h.*.*\"} ] }, B: { imports: [ {stream: {account: A, subject: \"h.*.*\"}, to: \"q.*\"} ] } }",
            "Error adding stream import \"h.*.*\": failed to create mapping transform for stream import subject \"h.*.*\" to \"q.*\": invalid mapping destination: not using all of the token wildcard(s) in q.$1",
        ),
        // Stricter than nats-server, which accepts these and does nothing with them.
        (
            "accounts { A: { exports: [ {accounts: [A]} ] } }",
            "an export needs a stream or a service subject",
        ),
        (
            "accounts { A: { exports: [ {service: x} ] }, B: { imports: [ {to: x} ] } }",
            "an import needs a stream or a service: { account, subject }",
        ),
        (
            "accounts { A: { exports: [ {service: x} ] }, B: { imports: [ {service: {account: A, subject: x}, prefix: p} ] } }",
            "a service import takes `to`, not `prefix` (nats-server ignores it)",
        ),
        (
            "accounts { A: { exports: [ {service: \"x y\"} ] } }",
            "service: invalid subject \"x y\"",
        ),
        (
            "accounts { A: { exports: [ {service: x, latency: {sampling: 50, subject: lat}} ] } }",
            "key \"latency\" in an export is not served yet",
        ),
        (
            "accounts { A: { exports: [ {service: x} ] }, B: { imports: [ {service: {account: A, subject: x}, share: true} ] } }",
            "key \"share\" in an import is not served yet",
        ),
    ];
    for (text, want) in cases {
        let got = options_err(text);
        assert!(
            got.ends_with(want) && got.starts_with("t.conf:1: "),
            "{text}\n got: {got}\nwant: {want}"
        );
    }
}
