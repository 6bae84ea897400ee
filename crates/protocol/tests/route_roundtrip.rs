//! Property tests: whatever the route encoder writes, the route parser reads back exactly,
//! using exactly the bytes written; every strict prefix of an encoding is `Incomplete`; and
//! no input, however broken, makes the parser panic or claim bytes it was not given.

mod route_support;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use route_support::ops::route_op;
use sluice_protocol::route::{encode_rmsg, parse_route_bytes, RouteOp};
use sluice_protocol::{parse_route, Limits, Parsed};

fn limits() -> Limits {
    Limits {
        max_control_line: 1 << 16,
        max_payload: 1 << 20,
    }
}

fn encode_all(ops: &[RouteOp]) -> Bytes {
    let mut b = BytesMut::new();
    for op in ops {
        op.encode(&mut b);
    }
    b.freeze()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn route_op_round_trip(op in route_op()) {
        let buf = encode_all(std::slice::from_ref(&op));
        let parsed = parse_route_bytes(&buf, &limits()).expect("parses");
        prop_assert_eq!(parsed, Parsed::Op { op: op.clone(), len: buf.len() });
        // The copying parser agrees.
        prop_assert_eq!(
            parse_route(&buf, &limits()).expect("parses"),
            Parsed::Op { op, len: buf.len() }
        );
    }

    #[test]
    fn route_op_sequences_round_trip(ops in vec(route_op(), 1..12)) {
        let buf = encode_all(&ops);
        let mut pos = 0;
        let mut back = Vec::new();
        while pos < buf.len() {
            match parse_route_bytes(&buf.slice(pos..), &limits()).expect("parses") {
                Parsed::Op { op, len } => {
                    back.push(op);
                    pos += len;
                }
                other => prop_assert!(false, "at {}: {:?}", pos, other),
            }
        }
        prop_assert_eq!(back, ops);
    }

    #[test]
    fn every_strict_prefix_is_incomplete(op in route_op()) {
        let buf = encode_all(std::slice::from_ref(&op));
        for i in 0..buf.len() {
            let got = parse_route_bytes(&buf.slice(..i), &limits());
            prop_assert_eq!(got, Ok(Parsed::Incomplete), "prefix of {} bytes", i);
        }
    }

    /// The hot-path encoder writes what `RouteOp::encode` writes.
    #[test]
    fn encode_rmsg_matches_op_encode(op in route_op()) {
        let mut direct = BytesMut::new();
        match &op {
            RouteOp::Msg { account, subject, reply, queues, payload } => encode_rmsg(
                &mut direct, account, subject, reply.as_deref(),
                queues.iter().map(|q| q.as_str()), None, payload,
            ),
            RouteOp::Hmsg { account, subject, reply, queues, headers, payload } => encode_rmsg(
                &mut direct, account, subject, reply.as_deref(), queues, Some(headers), payload,
            ),
            _ => return Ok(()),
        }
        prop_assert_eq!(direct.freeze(), encode_all(std::slice::from_ref(&op)));
    }

    /// Random bytes: a result, never a panic, and an op never longer than the input.
    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..200)) {
        check_no_panic(&data);
    }

    /// Encodings with one byte changed, inserted or removed.
    #[test]
    fn mutated_encodings_never_panic(
        op in route_op(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![any::<u8>(), Just(b' '), Just(b'\r'), Just(b'\n'), Just(b'+'), Just(b'|'), Just(b'0')],
        how in 0u8..3,
    ) {
        let mut data = encode_all(std::slice::from_ref(&op)).to_vec();
        let i = at.index(data.len());
        match how {
            0 => data[i] = byte,
            1 => data.insert(i, byte),
            _ => { data.remove(i); }
        }
        check_no_panic(&data);
    }

    /// Random token soup after each op name.
    #[test]
    fn random_arguments_never_panic(
        name in prop::sample::select(vec!["RS+", "RS-", "LS+", "LS-", "RMSG", "HMSG", "LMSG", "INFO", "CONNECT", "-ERR", "PING"]),
        toks in vec(prop_oneof![Just("+".to_string()), Just("|".to_string()), "[0-9]{1,3}", "[a-z$.]{1,5}", Just("\r".to_string())], 0..9),
        tail in vec(any::<u8>(), 0..40),
    ) {
        let mut data = name.as_bytes().to_vec();
        for t in toks {
            data.push(b' ');
            data.extend_from_slice(t.as_bytes());
        }
        data.extend_from_slice(b"\r\n");
        data.extend_from_slice(&tail);
        check_no_panic(&data);
    }
}

fn check_no_panic(data: &[u8]) {
    for limits in [
        limits(),
        Limits {
            max_control_line: 8,
            max_payload: 4,
        },
    ] {
        let buf = Bytes::copy_from_slice(data);
        let mut pos = 0;
        while pos < buf.len() {
            match parse_route_bytes(&buf.slice(pos..), &limits) {
                Ok(Parsed::Op { len, .. }) => {
                    assert!(
                        len > 0 && pos + len <= buf.len(),
                        "op length {len} at {pos}"
                    );
                    pos += len;
                }
                Ok(Parsed::Blank { len }) => panic!("route parser returned Blank({len})"),
                Ok(Parsed::Incomplete) | Err(_) => break,
            }
        }
    }
}

#[test]
fn rmsg_encoder_does_not_allocate_beyond_the_buffer() {
    // With room reserved up front, encoding writes in place: the buffer's storage stays put.
    let mut dst = BytesMut::with_capacity(256);
    let before = dst.as_ptr();
    encode_rmsg(
        &mut dst,
        "$G",
        "work",
        Some("rep.1"),
        ["q1", "q2"],
        Some(b"NATS/1.0\r\n\r\n".as_slice()),
        b"job",
    );
    assert_eq!(dst.as_ptr(), before);
    assert_eq!(
        &dst[..],
        b"HMSG $G work + rep.1 q1 q2 12 15\r\nNATS/1.0\r\n\r\njob\r\n"
    );
}
