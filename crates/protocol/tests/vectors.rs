//! Runs every case of protocol-spec/vectors/*.txt (format: protocol-spec/vectors/README.md)
//! through `parse_client`/`parse_server`, looping over the buffer as a server does.

mod common;

use common::{check, load_all, parse_vector_file, unescape, Dir, End};
use std::collections::{BTreeMap, HashSet};

/// Fewer cases than this means files went missing or stopped parsing.
const MIN_CASES: usize = 250;

#[test]
fn every_vector_passes() {
    let cases = load_all();
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per_file.entry(c.file.as_str()).or_default() += 1;
    }
    eprintln!("loaded {} vector cases: {per_file:?}", cases.len());
    assert!(
        cases.len() >= MIN_CASES,
        "only {} vector cases loaded from {} (expected at least {MIN_CASES})",
        cases.len(),
        common::vectors_dir().display()
    );
    for file in [
        "client.txt",
        "client-malformed.txt",
        "server.txt",
        "limits.txt",
        "differences.txt",
    ] {
        assert!(per_file.contains_key(file), "no cases loaded from {file}");
    }
    assert!(cases.iter().any(|c| c.dir == Dir::Client));
    assert!(cases.iter().any(|c| c.dir == Dir::Server));

    let mut names = HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.as_str()),
            "{}: duplicate case name",
            c.id()
        );
    }

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("  {}\n    {e}", c.id())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vector cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every fault class the parser can report appears in some vector, so the error texts are
/// all pinned by the spec.
#[test]
fn every_error_kind_has_a_vector() {
    let cases = load_all();
    let kinds: HashSet<String> = cases
        .iter()
        .filter_map(|c| match &c.end {
            End::Err { kind, .. } if !kind.is_empty() => Some(kind.clone()),
            _ => None,
        })
        .collect();
    for kind in [
        "UnknownOp",
        "ControlLineTooLong",
        "PayloadTooLarge",
        "InvalidSubject",
        "PayloadSizeMismatch",
        "BadHeaderSize",
        "BadJson",
    ] {
        assert!(kinds.contains(kind), "no vector names error kind {kind}");
    }
}

#[test]
fn escapes() {
    assert_eq!(
        unescape(r"a\r\n\t\\\x00\xFFb").unwrap(),
        b"a\r\n\t\\\x00\xffb"
    );
    assert_eq!(unescape("日本").unwrap(), "日本".as_bytes());
    assert!(unescape(r"\q").is_err());
    assert!(unescape(r"\x4").is_err());
    assert!(unescape(r"\xzz").is_err());
}

#[test]
fn vector_file_format() {
    let text = "# comment\n\
                == one\n\
                dir: client\n\
                in: PING\\r\\n\n\
                in: PONG\\r\\n\n\
                out: PING\\r\\n\n\
                out: PONG\\r\\n\n\
                \n\
                == two\n\
                dir: server\n\
                limits: control_line=16 payload=2\n\
                in: MSG a 1 3\\r\\n\n\
                err: Maximum Payload Violation\n\
                kind: PayloadTooLarge\n\
                nats: -ERR 'Maximum Payload Violation'\n";
    let cases = parse_vector_file("t.txt", text).unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].input, b"PING\r\nPONG\r\n");
    assert_eq!(cases[0].outs.len(), 2);
    assert_eq!(cases[1].dir, Dir::Server);
    assert_eq!(cases[1].limits.max_control_line, 16);
    assert_eq!(cases[1].limits.max_payload, 2);
    for c in &cases {
        check(c).unwrap();
    }
    // Mistakes in a vector file are reported, not skipped.
    assert!(
        parse_vector_file("t", "== a\nin: PING\\r\\n\n").is_err(),
        "no dir"
    );
    assert!(
        parse_vector_file("t", "== a\ndir: client\n").is_err(),
        "no in"
    );
    assert!(
        parse_vector_file("t", "== a\ndir: up\nin: x\n").is_err(),
        "bad dir"
    );
    assert!(parse_vector_file("t", "== a\ndir: client\nin: x\nfoo: y\n").is_err());
    assert!(parse_vector_file("t", "in: x\n").is_err(), "no case");
    assert!(
        parse_vector_file("t", "== a\ndir: client\nin: x\nincomplete\nout: x\n").is_err(),
        "out after end"
    );
    // A wrong expectation fails the check.
    let wrong =
        parse_vector_file("t", "== a\ndir: client\nin: PING\\r\\n\nout: PONG\\r\\n\n").unwrap();
    assert!(check(&wrong[0]).is_err());
}
