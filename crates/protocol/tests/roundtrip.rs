//! Property tests: whatever the encoders write, the parsers read back exactly, using exactly
//! the bytes written.

mod common;

use bytes::{Bytes, BytesMut};
use common::ops::{client_op, connect_info, header_map, server_info, server_op};
use proptest::collection::vec;
use proptest::prelude::*;
use sluice_protocol::parse::{scan_client, scan_server};
use sluice_protocol::{
    encode_msg, encode_pub, parse_client, parse_server, ClientOp, ConnectInfo, HeaderMap, Limits,
    Parsed, ServerInfo, ServerOp,
};

fn encode_client(ops: &[ClientOp]) -> Bytes {
    let mut b = BytesMut::new();
    for op in ops {
        op.encode(&mut b);
    }
    b.freeze()
}

fn encode_server(ops: &[ServerOp]) -> Bytes {
    let mut b = BytesMut::new();
    for op in ops {
        op.encode(&mut b);
    }
    b.freeze()
}

/// Parses every op of `buf` with `parse_client`; panics on anything but whole ops.
fn parse_all_client(buf: &Bytes, limits: &Limits) -> Vec<ClientOp> {
    let mut ops = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match parse_client(&buf.slice(pos..), limits) {
            Ok(Parsed::Op { op, len }) => {
                ops.push(op);
                pos += len;
            }
            other => panic!("at {pos}: {other:?}"),
        }
    }
    ops
}

fn parse_all_server(buf: &Bytes, limits: &Limits) -> Vec<ServerOp> {
    let mut ops = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match parse_server(&buf.slice(pos..), limits) {
            Ok(Parsed::Op { op, len }) => {
                ops.push(op);
                pos += len;
            }
            other => panic!("at {pos}: {other:?}"),
        }
    }
    ops
}

/// Generous limits: the generated INFO/CONNECT lines can be long.
fn limits() -> Limits {
    Limits {
        max_control_line: 1 << 16,
        max_payload: 1 << 20,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn client_op_round_trip(op in client_op()) {
        let buf = encode_client(std::slice::from_ref(&op));
        let parsed = parse_client(&buf, &limits()).expect("parses");
        prop_assert_eq!(parsed, Parsed::Op { op: op.clone(), len: buf.len() });
        // The raw scan agrees on the length, and resolves to the same op.
        match scan_client(&buf, &limits()).expect("scans") {
            Parsed::Op { op: raw, len } => {
                prop_assert_eq!(len, buf.len());
                prop_assert_eq!(raw.resolve_frame(buf.clone()), op);
            }
            other => prop_assert!(false, "scan gave {:?}", other),
        }
    }

    #[test]
    fn server_op_round_trip(op in server_op()) {
        let buf = encode_server(std::slice::from_ref(&op));
        let parsed = parse_server(&buf, &limits()).expect("parses");
        prop_assert_eq!(parsed, Parsed::Op { op: op.clone(), len: buf.len() });
        match scan_server(&buf, &limits()).expect("scans") {
            Parsed::Op { op: raw, len } => {
                prop_assert_eq!(len, buf.len());
                prop_assert_eq!(raw.resolve_frame(buf.clone()), op);
            }
            other => prop_assert!(false, "scan gave {:?}", other),
        }
    }

    #[test]
    fn client_stream_round_trip(ops in vec(client_op(), 0..24)) {
        let buf = encode_client(&ops);
        prop_assert_eq!(parse_all_client(&buf, &limits()), ops);
    }

    #[test]
    fn server_stream_round_trip(ops in vec(server_op(), 0..24)) {
        let buf = encode_server(&ops);
        prop_assert_eq!(parse_all_server(&buf, &limits()), ops);
    }

    /// Any prefix of an encoded op is Incomplete: never an error, never a different op.
    #[test]
    fn client_prefixes_are_incomplete(op in client_op(), cut in any::<prop::sample::Index>()) {
        let buf = encode_client(std::slice::from_ref(&op));
        let cut = cut.index(buf.len());
        prop_assert_eq!(parse_client(&buf.slice(..cut), &limits()), Ok(Parsed::Incomplete));
    }

    #[test]
    fn server_prefixes_are_incomplete(op in server_op(), cut in any::<prop::sample::Index>()) {
        let buf = encode_server(std::slice::from_ref(&op));
        let cut = cut.index(buf.len());
        prop_assert_eq!(parse_server(&buf.slice(..cut), &limits()), Ok(Parsed::Incomplete));
    }

    #[test]
    fn header_map_round_trip(h in header_map()) {
        let block = h.to_bytes();
        prop_assert!(block.starts_with(b"NATS/1.0"));
        prop_assert!(block.ends_with(b"\r\n\r\n"));
        prop_assert_eq!(HeaderMap::parse(&block), Ok(h.clone()));
        // Carried by HPUB, it comes back as the same bytes.
        let op = ClientOp::Hpub {
            subject: "s".into(),
            reply: None,
            headers: block.clone(),
            payload: Bytes::from_static(b"body"),
        };
        let buf = encode_client(std::slice::from_ref(&op));
        match parse_client(&buf, &limits()) {
            Ok(Parsed::Op { op: ClientOp::Hpub { headers, .. }, .. }) => {
                prop_assert_eq!(HeaderMap::parse(&headers), Ok(h));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn connect_json_round_trip(c in connect_info()) {
        let json = serde_json::to_vec(&c).unwrap();
        prop_assert_eq!(serde_json::from_slice::<ConnectInfo>(&json).unwrap(), c);
    }

    #[test]
    fn info_json_round_trip(i in server_info()) {
        let json = serde_json::to_vec(&i).unwrap();
        prop_assert_eq!(serde_json::from_slice::<ServerInfo>(&json).unwrap(), i);
    }

    /// The hot-path encoders write exactly what encoding the equivalent op writes.
    #[test]
    fn encode_pub_and_msg_match_op_encoding(op in client_op(), sid in "[0-9]{1,6}") {
        match op {
            ClientOp::Pub { subject, reply, payload } => {
                let mut a = BytesMut::new();
                encode_pub(&mut a, &subject, reply.as_deref(), None, &payload);
                let mut b = BytesMut::new();
                ClientOp::Pub { subject: subject.clone(), reply: reply.clone(), payload: payload.clone() }
                    .encode(&mut b);
                prop_assert_eq!(&a, &b);
                let mut m = BytesMut::new();
                encode_msg(&mut m, &subject, &sid, reply.as_deref(), None, &payload);
                let mut n = BytesMut::new();
                ServerOp::Msg { subject, sid: sid.as_str().into(), reply, payload }.encode(&mut n);
                prop_assert_eq!(m, n);
            }
            ClientOp::Hpub { subject, reply, headers, payload } => {
                let mut m = BytesMut::new();
                encode_msg(&mut m, &subject, &sid, reply.as_deref(), Some(&headers), &payload);
                let mut n = BytesMut::new();
                ServerOp::Hmsg { subject, sid: sid.as_str().into(), reply, headers, payload }
                    .encode(&mut n);
                prop_assert_eq!(m, n);
            }
            _ => {}
        }
    }
}
