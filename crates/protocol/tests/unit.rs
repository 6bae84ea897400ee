//! Unit tests for what the vectors cannot express: the public API of ByteStr, HeaderMap, the
//! encoders, Limits and spans, the default limits at their exact boundaries, and the error
//! texts.

use bytes::{Bytes, BytesMut};
use sluice_protocol::headers::{status, HEADER_VERSION};
use sluice_protocol::limits::{DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD};
use sluice_protocol::parse::RawClientOp;
use sluice_protocol::{
    encode_err, encode_msg, encode_pub, parse_client, parse_server, scan_client, ByteStr,
    ClientCodec, ClientOp, CodecError, HeaderError, HeaderMap, Limits, Parsed, ProtocolError,
    ServerCodec, ServerOp,
};
use std::collections::{BTreeSet, HashMap};
use tokio_util::codec::Decoder;

fn client(input: &[u8]) -> Result<Parsed<ClientOp>, ProtocolError> {
    parse_client(&Bytes::copy_from_slice(input), &Limits::default())
}

// ------------------------------------------------------------------------------- ByteStr

#[test]
fn bytestr_constructors_and_views() {
    let s = ByteStr::from_static("foo.bar");
    assert_eq!(s.as_str(), "foo.bar");
    assert_eq!(&s[..3], "foo", "derefs to str");
    assert_eq!(s.len(), 7);
    assert_eq!(s.as_bytes(), &Bytes::from_static(b"foo.bar"));
    assert_eq!(s.clone().into_bytes(), Bytes::from_static(b"foo.bar"));
    assert_eq!(ByteStr::from("foo.bar".to_string()), s);
    assert_eq!(ByteStr::from("foo.bar"), s);
    assert_eq!(ByteStr::default().as_str(), "");
    let r: &str = s.as_ref();
    assert_eq!(r, "foo.bar");
}

#[test]
fn bytestr_from_utf8_checks() {
    assert_eq!(
        ByteStr::from_utf8(Bytes::from_static("日本".as_bytes())).unwrap(),
        "日本"
    );
    assert!(ByteStr::from_utf8(Bytes::from_static(b"\xff")).is_err());
    assert!(ByteStr::from_utf8(Bytes::from_static(b"ok\xe6\x97")).is_err());
    assert!(ByteStr::from_utf8(Bytes::new()).is_ok());
}

#[test]
fn bytestr_comparisons_formatting_and_hashing() {
    let s = ByteStr::from("sid-1");
    assert!(s == *"sid-1");
    assert!(s == "sid-1");
    assert_eq!(format!("{s}"), "sid-1");
    assert_eq!(format!("{s:?}"), "\"sid-1\"");
    // Borrow<str>: usable as a map key looked up by &str.
    let mut m = HashMap::new();
    m.insert(s.clone(), 1);
    assert_eq!(m.get("sid-1"), Some(&1));
    // Ordering agrees with str's.
    let set: BTreeSet<ByteStr> = ["b", "a", "ab"].into_iter().map(ByteStr::from).collect();
    let order: Vec<&str> = set.iter().map(|s| s.as_str()).collect();
    assert_eq!(order, ["a", "ab", "b"]);
}

#[test]
fn bytestr_clone_shares_storage() {
    let s = ByteStr::from("a.long.subject.name");
    let t = s.clone();
    assert_eq!(s.as_bytes().as_ptr(), t.as_bytes().as_ptr());
}

// ------------------------------------------------------------------------------- HeaderMap

#[test]
fn header_map_empty_block() {
    let h = HeaderMap::new();
    assert_eq!(&h.to_bytes()[..], b"NATS/1.0\r\n\r\n");
    assert_eq!(HEADER_VERSION, "NATS/1.0");
    assert!(h.is_empty());
    assert_eq!(h.len(), 0);
    assert_eq!(h.status(), None);
    assert_eq!(h.description(), None);
    assert_eq!(HeaderMap::parse(b"NATS/1.0\r\n\r\n"), Ok(h));
}

#[test]
fn header_map_status_lines() {
    let h = HeaderMap::with_status(status::NO_RESPONDERS, None);
    assert_eq!(&h.to_bytes()[..], b"NATS/1.0 503\r\n\r\n");
    assert_eq!(h.status(), Some(503));
    assert!(h.is_empty(), "a status is not an entry");
    let h = HeaderMap::with_status(status::NOT_FOUND, Some("No Messages"));
    assert_eq!(&h.to_bytes()[..], b"NATS/1.0 404 No Messages\r\n\r\n");
    assert_eq!(h.description(), Some("No Messages"));
    assert_eq!(HeaderMap::parse(&h.to_bytes()), Ok(h));
    // Blanks around a description are dropped; an empty one is none.
    assert_eq!(HeaderMap::with_status(408, Some("  ")).description(), None);
    assert_eq!(
        HeaderMap::with_status(408, Some(" Request Timeout\t")).description(),
        Some("Request Timeout")
    );
    assert_eq!(
        [
            status::CONTROL,
            status::NOT_FOUND,
            status::REQUEST_TIMEOUT,
            status::CONFLICT,
            status::NO_RESPONDERS
        ],
        [100, 404, 408, 409, 503]
    );
}

#[test]
fn header_map_parses_what_nats_servers_send() {
    let h = HeaderMap::parse(b"NATS/1.0 503\r\n\r\n").unwrap();
    assert_eq!((h.status(), h.description(), h.len()), (Some(503), None, 0));
    let h = HeaderMap::parse(
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(h.status(), Some(100));
    assert_eq!(h.description(), Some("Idle Heartbeat"));
    assert_eq!(h.get("Nats-Last-Stream"), Some("0"));
    let h = HeaderMap::parse(b"NATS/1.0 409 Consumer  Deleted \r\n\r\n").unwrap();
    assert_eq!(h.description(), Some("Consumer  Deleted"));
}

#[test]
fn header_map_repeated_keys_keep_order() {
    let mut h = HeaderMap::new();
    h.append("A", "1").unwrap();
    h.append("B", "x").unwrap();
    h.append("A", "2").unwrap();
    assert_eq!(h.get("A"), Some("1"));
    assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(h.get("a"), None, "keys are case-sensitive");
    assert_eq!(h.len(), 3);
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [("A", "1"), ("B", "x"), ("A", "2")]
    );
    assert_eq!(
        &h.to_bytes()[..],
        b"NATS/1.0\r\nA: 1\r\nB: x\r\nA: 2\r\n\r\n"
    );
    assert_eq!(HeaderMap::parse(&h.to_bytes()), Ok(h.clone()));

    h.insert("A", "3").unwrap();
    assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["3"]);
    assert_eq!(h.iter().collect::<Vec<_>>(), [("B", "x"), ("A", "3")]);
    assert!(h.remove("B"));
    assert!(!h.remove("B"));
    assert_eq!(h.len(), 1);
}

#[test]
fn header_map_refuses_what_cannot_be_carried() {
    let mut h = HeaderMap::new();
    for key in ["", "a:b", "a b", "a\tb", "a\r", "a\n", "\u{7f}", "\0"] {
        assert_eq!(h.append(key, "v"), Err(HeaderError::BadKey), "{key:?}");
    }
    for value in [
        "a\r\nInjected: 1",
        "a\n",
        "\r",
        " lead",
        "trail ",
        "\tx",
        "x\t",
    ] {
        assert_eq!(
            h.append("K", value),
            Err(HeaderError::BadValue),
            "{value:?}"
        );
        assert_eq!(
            h.insert("K", value),
            Err(HeaderError::BadValue),
            "{value:?}"
        );
    }
    assert!(h.is_empty(), "nothing was added by a failed call");
    // Empty values, inner blanks, colons and non-ASCII are fine.
    for value in [
        "",
        "a b",
        "a\tb",
        "http://x:1/",
        "日本",
        "\u{3000}x\u{3000}",
    ] {
        h.append("K", value).unwrap();
    }
    assert_eq!(HeaderMap::parse(&h.to_bytes()), Ok(h.clone()));
    h.append("日本-Ключ", "v").unwrap();
    assert_eq!(HeaderMap::parse(&h.to_bytes()), Ok(h));
}

#[test]
fn header_map_parse_errors() {
    let cases: &[(&[u8], HeaderError)] = &[
        (b"", HeaderError::BadVersionLine),
        (b"NATS/2.0\r\n\r\n", HeaderError::BadVersionLine),
        (b"HTTP/1.1\r\n\r\n", HeaderError::BadVersionLine),
        (b"NATS/1.0X\r\n\r\n", HeaderError::BadVersionLine),
        (b"nats/1.0\r\n\r\n", HeaderError::BadVersionLine),
        (b"NATS/1.0 50\r\n\r\n", HeaderError::BadStatus),
        (b"NATS/1.0 5030\r\n\r\n", HeaderError::BadStatus),
        (b"NATS/1.0 abc\r\n\r\n", HeaderError::BadStatus),
        (b"NATS/1.0\r\nNoColon\r\n\r\n", HeaderError::BadLine),
        (b"NATS/1.0\r\n: v\r\n\r\n", HeaderError::BadKey),
        (b"NATS/1.0\r\na b: v\r\n\r\n", HeaderError::BadKey),
        (b"NATS/1.0\r\n\xff: v\r\n\r\n", HeaderError::NotUtf8),
        (b"NATS/1.0\r\n\r\nA: 1\r\n", HeaderError::TrailingData),
    ];
    for (block, err) in cases {
        assert_eq!(
            HeaderMap::parse(block),
            Err(err.clone()),
            "{:?}",
            String::from_utf8_lossy(block)
        );
    }
}

#[test]
fn header_map_parse_leniencies() {
    // Bare LF lines, blanks around keys and values, a value holding ':', no final empty line.
    let h = HeaderMap::parse(b"NATS/1.0\nKey :  v:1 \t\nOther:x\n").unwrap();
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [("Key", "v:1"), ("Other", "x")]
    );
    assert_eq!(
        HeaderMap::parse(b"NATS/1.0\r\n\r\n\r\n"),
        Ok(HeaderMap::new()),
        "empty lines after the end"
    );
    assert_eq!(HeaderMap::parse(b"NATS/1.0"), Ok(HeaderMap::new()));
    assert_eq!(HeaderMap::parse(b"NATS/1.0 \r\n\r\n"), Ok(HeaderMap::new()));
}

// ------------------------------------------------------------------------------- encoders

#[test]
fn encode_msg_exact_bytes() {
    let mut b = BytesMut::new();
    encode_msg(&mut b, "foo.bar", "7", None, None, b"hello");
    assert_eq!(&b[..], b"MSG foo.bar 7 5\r\nhello\r\n");
    b.clear();
    encode_msg(&mut b, "foo", "7", Some("_INBOX.1"), None, b"");
    assert_eq!(&b[..], b"MSG foo 7 _INBOX.1 0\r\n\r\n");
    b.clear();
    encode_msg(&mut b, "foo", "7", None, Some(b"NATS/1.0\r\n\r\n"), b"hi");
    assert_eq!(&b[..], b"HMSG foo 7 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    b.clear();
    encode_msg(
        &mut b,
        "_INBOX.x",
        "1",
        None,
        Some(b"NATS/1.0 503\r\n\r\n"),
        b"",
    );
    assert_eq!(
        &b[..],
        b"HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
        "byte for byte nats-server's no-responders message"
    );
    b.clear();
    encode_msg(&mut b, "s", "1", Some("r"), Some(b""), b"x");
    assert_eq!(&b[..], b"HMSG s 1 r 0 1\r\nx\r\n");
}

#[test]
fn encode_msg_appends() {
    let mut b = BytesMut::from(&b"+OK\r\n"[..]);
    encode_msg(&mut b, "a", "1", None, None, b"x");
    encode_msg(&mut b, "b", "2", None, None, b"y");
    assert_eq!(&b[..], b"+OK\r\nMSG a 1 1\r\nx\r\nMSG b 2 1\r\ny\r\n");
}

#[test]
fn encode_pub_exact_bytes() {
    let mut b = BytesMut::new();
    encode_pub(&mut b, "foo", None, None, b"hello");
    assert_eq!(&b[..], b"PUB foo 5\r\nhello\r\n");
    b.clear();
    encode_pub(&mut b, "foo", Some("bar"), None, b"");
    assert_eq!(&b[..], b"PUB foo bar 0\r\n\r\n");
    b.clear();
    encode_pub(
        &mut b,
        "foo",
        Some("bar"),
        Some(b"NATS/1.0\r\nA: 1\r\n\r\n"),
        b"xy",
    );
    assert_eq!(
        &b[..],
        b"HPUB foo bar 18 20\r\nNATS/1.0\r\nA: 1\r\n\r\nxy\r\n"
    );
    let big = vec![b'z'; 100_000];
    b.clear();
    encode_pub(&mut b, "big", None, None, &big);
    assert!(b.starts_with(b"PUB big 100000\r\nzzz"));
    assert_eq!(b.len(), "PUB big 100000\r\n".len() + 100_000 + 2);
}

#[test]
fn encode_err_and_other_ops() {
    let mut b = BytesMut::new();
    encode_err(&mut b, "Unknown Protocol Operation");
    assert_eq!(&b[..], b"-ERR 'Unknown Protocol Operation'\r\n");
    let cases: Vec<(ServerOp, &[u8])> = vec![
        (ServerOp::Ok, b"+OK\r\n"),
        (ServerOp::Ping, b"PING\r\n"),
        (ServerOp::Pong, b"PONG\r\n"),
        (ServerOp::Err("it's".into()), b"-ERR 'it's'\r\n"),
    ];
    for (op, want) in cases {
        let mut b = BytesMut::new();
        op.encode(&mut b);
        assert_eq!(&b[..], want);
    }
    let cases: Vec<(ClientOp, &[u8])> = vec![
        (ClientOp::Ping, b"PING\r\n"),
        (ClientOp::Pong, b"PONG\r\n"),
        (
            ClientOp::Sub {
                subject: "a.*".into(),
                queue: Some("q".into()),
                sid: "9".into(),
            },
            b"SUB a.* q 9\r\n",
        ),
        (
            ClientOp::Sub {
                subject: "a".into(),
                queue: None,
                sid: "9".into(),
            },
            b"SUB a 9\r\n",
        ),
        (
            ClientOp::Unsub {
                sid: "9".into(),
                max: Some(0),
            },
            b"UNSUB 9 0\r\n",
        ),
        (
            ClientOp::Unsub {
                sid: "9".into(),
                max: None,
            },
            b"UNSUB 9\r\n",
        ),
        (
            ClientOp::Connect(Box::default()),
            b"CONNECT {\"tls_required\":false}\r\n",
        ),
    ];
    for (op, want) in cases {
        let mut b = BytesMut::new();
        op.encode(&mut b);
        assert_eq!(&b[..], want, "{op:?}");
    }
}

#[test]
fn codec_encoders_write_the_op() {
    use tokio_util::codec::Encoder;
    let mut b = BytesMut::new();
    ServerCodec::default()
        .encode(ServerOp::Pong, &mut b)
        .unwrap();
    ServerCodec::default()
        .encode(&ServerOp::Ok, &mut b)
        .unwrap();
    ClientCodec::default()
        .encode(ClientOp::Ping, &mut b)
        .unwrap();
    ClientCodec::default()
        .encode(&ClientOp::Pong, &mut b)
        .unwrap();
    assert_eq!(&b[..], b"PONG\r\n+OK\r\nPING\r\nPONG\r\n");
}

// ------------------------------------------------------------------------------- limits

#[test]
fn default_limits_are_nats_servers() {
    assert_eq!(DEFAULT_MAX_CONTROL_LINE, 4096);
    assert_eq!(DEFAULT_MAX_PAYLOAD, 1024 * 1024);
    let l = Limits::default();
    assert_eq!((l.max_control_line, l.max_payload), (4096, 1048576));
    assert_eq!(ServerCodec::default().limits, l);
    let c = ClientCodec::default().limits;
    assert_eq!(
        (c.max_control_line, c.max_payload),
        (64 * 1024, 64 * 1024 * 1024)
    );
}

/// A SUB control line whose arguments are exactly `n` bytes (the line is `n + 4`).
fn sub_args(n: usize) -> Vec<u8> {
    let mut line = b"SUB ".to_vec();
    line.resize(n + 2, b'a');
    line.extend_from_slice(b" 1");
    assert_eq!(line.len(), n + 4);
    line
}

#[test]
fn default_control_line_limit_exact_boundary() {
    // As nats-server: 4096 bytes of arguments pass (a 4100-byte line), 4097 do not.
    for term in [&b"\r\n"[..], b"\n"] {
        let mut ok = sub_args(4096);
        ok.extend_from_slice(term);
        assert!(matches!(client(&ok), Ok(Parsed::Op { len, .. }) if len == ok.len()));
        let mut over = sub_args(4097);
        over.extend_from_slice(term);
        assert_eq!(client(&over), Err(ProtocolError::ControlLineTooLong));
    }
    // Without its end: 4096 bytes may still be good arguments, 4097 cannot be.
    assert_eq!(client(&sub_args(4096)), Ok(Parsed::Incomplete));
    let mut cr = sub_args(4096);
    cr.push(b'\r');
    assert_eq!(client(&cr), Ok(Parsed::Incomplete));
    assert_eq!(
        client(&sub_args(4097)),
        Err(ProtocolError::ControlLineTooLong)
    );
    let mut long = b"PUB ".to_vec();
    long.resize(1 << 20, b'x');
    assert_eq!(
        client(&long),
        Err(ProtocolError::ControlLineTooLong),
        "a long line is refused without reading all of it"
    );
    assert_eq!(
        client(&vec![b'X'; 1 << 20]),
        Err(ProtocolError::UnknownOp),
        "junk is an unknown op, not a long line"
    );
}

#[test]
fn default_payload_limit_exact_boundary() {
    let mut ok = b"PUB big 1048576\r\n".to_vec();
    ok.resize(ok.len() + DEFAULT_MAX_PAYLOAD, b'p');
    ok.extend_from_slice(b"\r\n");
    match client(&ok) {
        Ok(Parsed::Op {
            op: ClientOp::Pub { payload, .. },
            len,
        }) => {
            assert_eq!(payload.len(), DEFAULT_MAX_PAYLOAD);
            assert_eq!(len, ok.len());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client(b"PUB big 1048577\r\n"),
        Err(ProtocolError::PayloadTooLarge)
    );
    assert_eq!(
        client(b"HPUB big 10 1048577\r\n"),
        Err(ProtocolError::PayloadTooLarge)
    );
}

#[test]
fn a_one_mebibyte_payload_through_the_codec_in_pieces() {
    let payload: Vec<u8> = (0..DEFAULT_MAX_PAYLOAD).map(|i| (i % 251) as u8).collect();
    let mut wire = BytesMut::new();
    encode_pub(&mut wire, "big", Some("r"), None, &payload);
    let mut codec = ServerCodec::default();
    let mut src = BytesMut::new();
    let mut got = None;
    for chunk in wire.chunks(64 * 1024 - 7) {
        assert!(got.is_none());
        src.extend_from_slice(chunk);
        got = codec.decode(&mut src).unwrap();
    }
    match got {
        Some(ClientOp::Pub { payload: p, .. }) => assert_eq!(&p[..], &payload[..]),
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------- scanning

#[test]
fn empty_input_is_incomplete() {
    assert_eq!(client(b""), Ok(Parsed::Incomplete));
    assert_eq!(
        parse_server(&Bytes::new(), &Limits::default()),
        Ok(Parsed::Incomplete)
    );
}

#[test]
fn blank_lines_report_their_length() {
    assert_eq!(client(b"\r\nPING\r\n"), Ok(Parsed::Blank { len: 2 }));
    assert_eq!(client(b" \t \nPING\r\n"), Ok(Parsed::Blank { len: 4 }));
}

#[test]
fn op_length_excludes_what_follows() {
    assert_eq!(
        client(b"PING\r\nPONG\r\n"),
        Ok(Parsed::Op {
            op: ClientOp::Ping,
            len: 6
        })
    );
    match client(b"PUB a 1\nx\nSUB") {
        Ok(Parsed::Op { len, .. }) => assert_eq!(len, 10),
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_spans_point_into_the_scanned_buffer() {
    let buf = b"PUB foo.bar _INBOX.1 5\r\nhello\r\nrest";
    let limits = Limits::default();
    match scan_client(buf, &limits).unwrap() {
        Parsed::Op {
            op:
                RawClientOp::Pub {
                    subject,
                    reply,
                    headers,
                    payload,
                },
            len,
        } => {
            assert_eq!(len, buf.len() - 4);
            assert_eq!(subject.get(buf), b"foo.bar");
            assert_eq!(subject.text_in(buf), "foo.bar");
            assert_eq!(subject.range(), 4..11);
            assert_eq!(reply.unwrap().text_in(buf), "_INBOX.1");
            assert_eq!(headers, None);
            assert_eq!(payload.get(buf), b"hello");
        }
        other => panic!("{other:?}"),
    }
    // resolve and resolve_frame build the same op.
    let frame = Bytes::copy_from_slice(buf);
    let Parsed::Op { op, .. } = scan_client(&frame, &limits).unwrap() else {
        panic!()
    };
    assert_eq!(op.clone().resolve(&frame), op.resolve_frame(frame.clone()));
}

#[test]
fn raw_hpub_spans() {
    let buf = b"HPUB s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    match scan_client(buf, &Limits::default()).unwrap() {
        Parsed::Op {
            op: RawClientOp::Pub {
                headers, payload, ..
            },
            ..
        } => {
            assert_eq!(headers.unwrap().get(buf), b"NATS/1.0\r\n\r\n");
            assert_eq!(payload.get(buf), b"hi");
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------- errors

/// The texts nats-server v2.9.10 sends (see protocol-spec/errors.md).
#[test]
fn error_texts_are_nats_servers() {
    let texts = [
        (ProtocolError::UnknownOp, "Unknown Protocol Operation"),
        (
            ProtocolError::ControlLineTooLong,
            "maximum control line exceeded",
        ),
        (ProtocolError::PayloadTooLarge, "Maximum Payload Violation"),
        (ProtocolError::InvalidSubject, "Invalid Subject"),
        (
            ProtocolError::PayloadSizeMismatch,
            "Unknown Protocol Operation",
        ),
        (ProtocolError::BadHeaderSize, "Unknown Protocol Operation"),
        (ProtocolError::BadJson, "Unknown Protocol Operation"),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
        let mut b = BytesMut::new();
        encode_err(&mut b, &e.to_string());
        assert_eq!(b, format!("-ERR '{text}'\r\n").as_bytes());
    }
    // Which faults nats-server reports with -ERR, and which it closes on silently.
    let sends: Vec<bool> = [
        ProtocolError::UnknownOp,
        ProtocolError::ControlLineTooLong,
        ProtocolError::PayloadTooLarge,
        ProtocolError::InvalidSubject,
        ProtocolError::PayloadSizeMismatch,
        ProtocolError::BadArguments,
        ProtocolError::BadHeaderSize,
        ProtocolError::BadJson,
        ProtocolError::ErrFromClient,
    ]
    .iter()
    .map(ProtocolError::nats_sends_err)
    .collect();
    assert_eq!(
        sends,
        [true, true, true, true, true, false, false, false, false]
    );
    for silent in [
        ProtocolError::BadArguments,
        ProtocolError::BadHeaderSize,
        ProtocolError::BadJson,
        ProtocolError::ErrFromClient,
    ] {
        assert_eq!(silent.to_string(), "Unknown Protocol Operation");
    }
    let io = CodecError::from(std::io::Error::other("boom"));
    assert_eq!(io.to_string(), "io error: boom");
    let proto = CodecError::from(ProtocolError::PayloadTooLarge);
    assert_eq!(proto.to_string(), "Maximum Payload Violation");
}
