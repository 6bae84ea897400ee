//! Inputs the fuzz targets in `fuzz/` found to break an invariant, each with the bug it showed.
//! The same inputs are in `fuzz/regressions/<target>/`, replayed by `fuzz_replay.rs`.

use sluice_protocol::{fuzzing, HeaderMap};

/// `headers`: a status with a leading zero (`NATS/1.0 072 No M`) parsed as 72 and was encoded
/// as `NATS/1.0 72 No M`, which does not parse (a status has three digits). A stored message
/// with such a block came back from DIRECT.GET with a header block no client could read.
#[test]
fn a_status_with_a_leading_zero_encodes_as_three_digits() {
    let input = b"NATS/1.0 072 No M\n";
    let map = HeaderMap::parse(input).expect("three digits are a status");
    assert_eq!(map.status(), Some(72));
    assert_eq!(map.to_bytes(), &b"NATS/1.0 072 No M\r\n\r\n"[..]);
    assert_eq!(HeaderMap::parse(&map.to_bytes()), Ok(map));
    assert!(fuzzing::headers(input).is_some());
    assert!(fuzzing::headers(b"NATS/1.0 000\r\n\r\n").is_some());
}

/// `server_parse`: an INFO with an unknown field holding a float (`3.0000000002e+115`) did not
/// survive being parsed, encoded and parsed again: serde_json's default float parsing may be
/// one unit in the last place off, so the value kept in `extra` (documented as "kept as they
/// were") was not the one sent, and re-encoding changed it again. serde_json now parses floats
/// exactly (its `float_roundtrip` feature).
#[test]
fn an_info_float_survives_a_round_trip() {
    let input = b"INFO {\"server_id\":\"S\",\"version\":\"2.10.0\",\"x\":3.0000000002e+115}\r\n";
    let mut stream = vec![0, 128];
    stream.extend_from_slice(input);
    let out = fuzzing::server_parse(&stream);
    assert_eq!(out.ops.len(), 1);
    let info = match sluice_protocol::parse_server(
        &bytes::Bytes::from_static(input),
        &sluice_protocol::Limits::default(),
    ) {
        Ok(sluice_protocol::Parsed::Op {
            op: sluice_protocol::ServerOp::Info(info),
            ..
        }) => info,
        other => panic!("{other:?}"),
    };
    assert_eq!(info.extra["x"].as_f64(), Some(3.0000000002e115));
    let replay = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/regressions/server_parse/info-float-round-trip"),
    )
    .expect("the committed input");
    fuzzing::server_parse(&replay);
}
