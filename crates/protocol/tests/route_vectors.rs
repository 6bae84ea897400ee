//! Runs every case of protocol-spec/vectors/route/*.txt (format: the README.md there) through
//! `parse_route_bytes`, re-encodes every op, and checks captured nats-server bytes are
//! reproduced exactly.

mod route_support;

use bytes::Bytes;
use route_support::{check, load_all, parse_vector_file, End};
use sluice_protocol::{parse_route, parse_route_bytes, Limits};
use std::collections::{BTreeMap, HashSet};

/// Fewer cases than this means files went missing or stopped parsing.
const MIN_CASES: usize = 150;

#[test]
fn every_route_vector_passes() {
    let cases = load_all();
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per_file.entry(c.file.as_str()).or_default() += 1;
    }
    eprintln!("loaded {} route vector cases: {per_file:?}", cases.len());
    assert!(cases.len() >= MIN_CASES, "only {} route cases", cases.len());
    for file in ["routes.txt", "route-forms.txt", "route-malformed.txt"] {
        assert!(per_file.contains_key(file), "no cases loaded from {file}");
    }
    let mut names = HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name.as_str()), "{}: duplicate name", c.id());
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("  {}\n    {e}", c.id())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} route cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The captured file is all nats-server bytes, reproduced exactly, and holds the ops the
/// capture was made for.
#[test]
fn captured_vectors_are_wire_exact_and_cover_the_grammar() {
    let cases: Vec<_> = load_all()
        .into_iter()
        .filter(|c| c.file == "routes.txt")
        .collect();
    let non_wire: Vec<_> = cases.iter().filter(|c| !c.wire).map(|c| &c.name).collect();
    assert_eq!(
        non_wire,
        ["rmsg size with leading zeros"],
        "every captured case but the 005 one is wire-exact"
    );
    let all: Vec<u8> = cases.iter().flat_map(|c| c.input.clone()).collect();
    let text = String::from_utf8_lossy(&all);
    for needle in [
        "CONNECT {\"echo\":true",
        "\"user\":\"ruser\",\"pass\":\"rpass\"",
        "INFO {\"server_id\":",
        "\"auth_required\":true",
        "-ERR 'Authorization Violation'",
        "RS+ $G work q1 3\r\n",
        "RS- $G work q1\r\n",
        "RMSG $G work | q1 q2 4\r\n",
        "RMSG $G work + rep.1 q1 q2 4\r\n",
        "HMSG $G work + rep.3 q1 q2 20 24\r\n",
        "HMSG $G foo reply.h 20 25\r\n",
        "RMSG ACC1 acct.q + r grp 2\r\n",
        "PING\r\n",
        "PONG\r\n",
    ] {
        assert!(text.contains(needle), "captured vectors lack {needle:?}");
    }
}

/// Every error kind the route parser reports is pinned by some vector.
#[test]
fn every_route_error_kind_has_a_vector() {
    let kinds: HashSet<String> = load_all()
        .iter()
        .filter_map(|c| match &c.end {
            End::Err { kind, .. } if !kind.is_empty() => Some(kind.clone()),
            _ => None,
        })
        .collect();
    for kind in [
        "UnknownOp",
        "BadArguments",
        "ControlLineTooLong",
        "PayloadTooLarge",
        "InvalidSubject",
        "PayloadSizeMismatch",
        "BadHeaderSize",
        "BadJson",
    ] {
        assert!(
            kinds.contains(kind),
            "no route vector names error kind {kind}"
        );
    }
}

/// The copying parser gives the same results as the zero-copy one on every vector.
#[test]
fn parse_route_and_parse_route_bytes_agree() {
    for c in load_all() {
        let mut pos = 0;
        loop {
            let a = parse_route(&c.input[pos..], &c.limits);
            let b = parse_route_bytes(&Bytes::copy_from_slice(&c.input[pos..]), &c.limits);
            assert_eq!(a, b, "{}", c.id());
            match a {
                Ok(sluice_protocol::Parsed::Op { len, .. }) if pos + len < c.input.len() => {
                    pos += len
                }
                _ => break,
            }
        }
    }
}

#[test]
fn route_vector_file_format() {
    let text = "== one\ndir: route\nin: PING\\r\\n\nout: PING\\r\\n\nwire\n\n\
                == two\ndir: route\nlimits: payload=2\nin: RMSG $G a 3\\r\\n\n\
                err: Maximum Payload Violation\nkind: PayloadTooLarge\n";
    let cases = parse_vector_file("t.txt", text).unwrap();
    assert_eq!(cases.len(), 2);
    assert!(cases[0].wire);
    assert_eq!(cases[1].limits.max_payload, 2);
    for c in &cases {
        check(c).unwrap();
    }
    assert!(
        parse_vector_file("t", "== a\nin: PING\\r\\n\n").is_err(),
        "no dir"
    );
    assert!(
        parse_vector_file("t", "== a\ndir: client\nin: x\n").is_err(),
        "dir must be route"
    );
    // A wrong expectation fails the check, and so does a wire case that is not exact.
    let wrong =
        parse_vector_file("t", "== a\ndir: route\nin: PING\\r\\n\nout: PONG\\r\\n\n").unwrap();
    assert!(check(&wrong[0]).is_err());
    let inexact = parse_vector_file(
        "t",
        "== a\ndir: route\nin: ping\\r\\n\nout: PING\\r\\n\nwire\n",
    )
    .unwrap();
    assert!(check(&inexact[0]).is_err());
    let _ = Limits::default();
}
