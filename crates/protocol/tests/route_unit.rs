//! The fields the route parser gives for the ops nats-server 2.9.10 sent in the capture
//! (protocol-spec/routes.md), checked one by one, and zero-copy parsing.

use bytes::Bytes;
use sluice_protocol::route::{QueueWeight, RouteOp};
use sluice_protocol::{parse_route_bytes, Limits, Parsed, ProtocolError};

fn one(input: &[u8]) -> RouteOp {
    let buf = Bytes::copy_from_slice(input);
    match parse_route_bytes(&buf, &Limits::default()) {
        Ok(Parsed::Op { op, len }) => {
            assert_eq!(len, input.len(), "whole input used");
            op
        }
        other => panic!("{other:?}"),
    }
}

fn strs(v: &[sluice_protocol::ByteStr]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

#[test]
fn rmsg_queue_markers() {
    let RouteOp::Msg {
        account,
        subject,
        reply,
        queues,
        payload,
    } = one(b"RMSG $G work + rep.1 q1 q2 4\r\njob2\r\n")
    else {
        panic!()
    };
    assert_eq!((&*account, &*subject), ("$G", "work"));
    assert_eq!(reply.as_deref(), Some("rep.1"));
    assert_eq!(strs(&queues), ["q1", "q2"]);
    assert_eq!(&payload[..], b"job2");

    let RouteOp::Msg { reply, queues, .. } = one(b"RMSG $G work | q1 q2 4\r\njob1\r\n") else {
        panic!()
    };
    assert_eq!(reply, None);
    assert_eq!(strs(&queues), ["q1", "q2"]);

    let RouteOp::Msg { reply, queues, .. } = one(b"RMSG $G foo reply.x 5\r\nhello\r\n") else {
        panic!()
    };
    assert_eq!(reply.as_deref(), Some("reply.x"));
    assert!(queues.is_empty());
}

#[test]
fn hmsg_splits_headers_and_payload() {
    let RouteOp::Hmsg {
        reply,
        queues,
        headers,
        payload,
        ..
    } = one(b"HMSG $G work + rep.3 q1 q2 20 24\r\nNATS/1.0\r\nX-A: 1\r\n\r\njob5\r\n")
    else {
        panic!()
    };
    assert_eq!(reply.as_deref(), Some("rep.3"));
    assert_eq!(strs(&queues), ["q1", "q2"]);
    assert_eq!(&headers[..], b"NATS/1.0\r\nX-A: 1\r\n\r\n");
    assert_eq!(&payload[..], b"job5");
}

#[test]
fn rs_plus_weight_and_rs_minus_queue() {
    assert_eq!(
        one(b"RS+ $G work q1 3\r\n"),
        RouteOp::Sub {
            account: "$G".into(),
            subject: "work".into(),
            queue: Some(QueueWeight {
                queue: "q1".into(),
                weight: 3
            }),
        }
    );
    assert_eq!(
        one(b"RS- $G work q1\r\n"),
        RouteOp::Unsub {
            account: "$G".into(),
            subject: "work".into(),
            queue: Some("q1".into()),
        }
    );
}

#[test]
fn connect_and_info_fields() {
    let RouteOp::Connect(c) = one(br#"CONNECT {"echo":true,"verbose":false,"pedantic":false,"user":"ruser","pass":"rpass","tls_required":false,"headers":true,"name":"NCHLG","cluster":"c","lnoc":true}"#.iter().chain(b"\r\n").copied().collect::<Vec<_>>().as_slice()) else {
        panic!()
    };
    assert!(c.echo && c.headers && c.lnoc && !c.verbose);
    assert_eq!((c.user.as_str(), c.pass.as_str()), ("ruser", "rpass"));
    assert_eq!((c.name.as_str(), c.cluster.as_str()), ("NCHLG", "c"));

    let RouteOp::Info(i) = one(b"INFO {\"server_id\":\"N1\",\"proto\":2,\"port\":16311,\"auth_required\":true,\"connect_urls\":[\"127.0.0.1:14311\"],\"lnoc\":true,\"new_thing\":1} \r\n") else {
        panic!()
    };
    assert_eq!((i.server_id.as_str(), i.proto, i.port), ("N1", 2, 16311));
    assert!(i.auth_required && i.lnoc);
    assert_eq!(
        i.connect_urls.as_deref(),
        Some(&["127.0.0.1:14311".to_string()][..])
    );
    assert_eq!(i.extra.get("new_thing"), Some(&serde_json::json!(1)));
}

#[test]
fn err_text_is_unquoted() {
    assert_eq!(
        one(b"-ERR 'Authorization Violation'\r\n"),
        RouteOp::Err("Authorization Violation".into())
    );
}

#[test]
fn payload_and_subject_share_the_buffer() {
    let buf = Bytes::from_static(b"RMSG $G foo r 5\r\nhello\r\n");
    let Ok(Parsed::Op {
        op: RouteOp::Msg {
            subject, payload, ..
        },
        ..
    }) = parse_route_bytes(&buf, &Limits::default())
    else {
        panic!()
    };
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    assert!(
        range.contains(&(payload.as_ptr() as usize)),
        "payload not copied"
    );
    assert!(
        range.contains(&(subject.as_ptr() as usize)),
        "subject not copied"
    );
}

#[test]
fn errors_name_the_fault() {
    let err = |b: &[u8]| parse_route_bytes(&Bytes::copy_from_slice(b), &Limits::default());
    assert_eq!(
        err(b"RMSG $G foo x r q 2\r\nhi\r\n"),
        Err(ProtocolError::BadArguments)
    );
    assert_eq!(
        err(b"RMSG $G foo 2\r\nhello\r\n"),
        Err(ProtocolError::PayloadSizeMismatch)
    );
    assert_eq!(err(b"MSG foo 1 2\r\nhi\r\n"), Err(ProtocolError::UnknownOp));
    assert_eq!(
        err(b"HMSG $G foo 5 2\r\n"),
        Err(ProtocolError::BadHeaderSize)
    );
    // nats-server's -ERR text for each, where it sends one.
    assert_eq!(
        ProtocolError::UnknownOp.to_string(),
        "Unknown Protocol Operation"
    );
}
