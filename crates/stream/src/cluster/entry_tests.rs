//! Tests of the stream entry codec (`entry.rs`): every op and answer round-trips, decoded
//! messages share the entry's buffer, the format is pinned by a known encoding, and bad bytes
//! (truncated, corrupted, garbage, another version) are errors, never panics.

use super::*;
use crate::config::StreamConfig;
use crate::consumer::config::{AckPolicy, ConsumerAction, ConsumerConfig};
use crate::store::Purge;
use crate::time::Timestamp;
use proptest::prelude::*;
use std::time::Instant;

fn msg(subject: &str, reply: Option<&str>, headers: Option<&[u8]>, payload: &[u8]) -> Message {
    Message(InternalMsg {
        subject: subject.into(),
        reply: reply.map(ByteStr::from),
        headers: headers.map(Bytes::copy_from_slice),
        payload: Bytes::copy_from_slice(payload),
    })
}

fn stream_config(name: &str) -> StreamConfig {
    let raw: StreamConfig = serde_json::from_value(serde_json::json!({
        "name": name,
        "subjects": [format!("{}.>", name.to_lowercase())],
        "storage": "memory",
        "retention": "interest",
        "max_msgs": 100,
        "max_age": 60_000_000_000i64,
        "duplicate_window": 5_000_000_000i64,
        "allow_rollup_hdrs": true,
    }))
    .unwrap();
    raw.check_create(name).unwrap()
}

fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        durable_name: "D".into(),
        ack_policy: AckPolicy::Explicit,
        filter_subject: "orders.new".into(),
        max_deliver: 5,
        ack_wait: 2_000_000_000,
        description: "a consumer, ünïcödé".into(),
        ..ConsumerConfig::default()
    }
}

fn entry(ops: Vec<StreamOp>, answers: Vec<(u32, OpAnswer, String)>) -> StreamEntry {
    StreamEntry { ops, answers }
}

#[track_caller]
fn round_trip(e: &StreamEntry) -> Bytes {
    let bytes = e.encode_to_bytes();
    let mut out = vec![0xAA, 0xBB];
    e.encode(&mut out);
    assert_eq!(
        &out[2..],
        &bytes[..],
        "encode appends what encode_to_bytes gives"
    );
    let back = StreamEntry::decode(&bytes).unwrap();
    assert_eq!(&back, e);
    bytes
}

/// One op of every kind, and every shape of message.
fn every_variant() -> Vec<StreamOp> {
    let h: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n";
    let large = vec![0xA5u8; 1 << 20];
    vec![
        StreamOp::Publish {
            msg: msg("orders.new", None, None, b"hello"),
            now_ns: 1_765_000_000_000_000_003,
        },
        StreamOp::Publish {
            msg: msg("orders.new", Some("_INBOX.x"), Some(h), &[0, 1, 255, b'"']),
            now_ns: -1,
        },
        StreamOp::Publish {
            msg: msg("orders.new", None, Some(b""), b""),
            now_ns: i64::MIN,
        },
        StreamOp::Publish {
            msg: msg("commandes.élève.日本.🦀", Some("réponse.ü"), None, &large),
            now_ns: i64::MAX,
        },
        StreamOp::Publish {
            msg: msg("", Some(""), None, b""),
            now_ns: 0,
        },
        StreamOp::Ack {
            msg: msg("$JS.ACK.ORDERS.D.1.2.3.4.5", Some("r"), None, b"+ACK"),
            now_ns: 7,
        },
        StreamOp::Ack {
            msg: msg("$JS.ACK.ORDERS.D.1.2.3.4.5", None, None, b""),
            now_ns: 7,
        },
        StreamOp::Next {
            msg: msg(
                "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D",
                Some("_INBOX.p"),
                None,
                b"{\"batch\":3}",
            ),
            now_ns: 8,
        },
        StreamOp::FlowControl {
            msg: msg("$JS.FC.ORDERS.D.1", None, None, b""),
        },
        StreamOp::FlowControl {
            msg: msg("$JS.FC.ORDERS.D.1", Some("x"), Some(h), b"p"),
        },
        StreamOp::Tick { now_ns: 9 },
        StreamOp::Tick { now_ns: i64::MIN },
        StreamOp::Interest {
            now_ns: 9,
            replies: vec![("_INBOX.a".into(), false), ("_INBOX.ü".into(), true)],
            push: vec![("P".into(), true)],
        },
        StreamOp::Interest {
            now_ns: 0,
            replies: vec![],
            push: vec![],
        },
        StreamOp::Purge(Purge::default()),
        StreamOp::Purge(Purge {
            filter: Some("orders.*".into()),
            up_to_seq: Some(42),
            keep: Some(3),
        }),
        StreamOp::DeleteMsg { seq: 0 },
        StreamOp::DeleteMsg { seq: u64::MAX },
        StreamOp::UpdateConfig {
            config: Box::new(stream_config("ORDERS")),
            now_ns: 1_765_000_000_123_456_789,
        },
        StreamOp::CreateConsumer {
            config: Box::new(consumer_config()),
            action: ConsumerAction::Create,
            generated_name: "AbC123xY".into(),
            created: Timestamp::from_unix_nanos(1_765_000_000_000_000_001),
            now_ns: 1_765_000_000_000_000_001,
            advisory_id: "AbC123xYzW987654".into(),
        },
        StreamOp::CreateConsumer {
            config: Box::default(),
            action: ConsumerAction::CreateOrUpdate,
            generated_name: String::new(),
            created: Timestamp::ZERO,
            now_ns: 0,
            advisory_id: String::new(),
        },
        StreamOp::DeleteConsumer {
            name: "D".into(),
            now_ns: 1_765_000_000_000_000_002,
            advisory_id: "Zz0987654321aBcD".into(),
        },
    ]
}

#[test]
fn every_variant_round_trips_alone_and_together() {
    let all = every_variant();
    for op in &all {
        round_trip(&entry(vec![op.clone()], vec![]));
    }
    round_trip(&entry(all, vec![]));
    round_trip(&StreamEntry::default());
}

#[test]
fn every_answer_round_trips() {
    let ops = every_variant();
    let answers = vec![
        (18, OpAnswer::StreamUpdate, "_INBOX.u".to_string()),
        (14, OpAnswer::StreamPurge, "_INBOX.p".to_string()),
        (16, OpAnswer::MsgDelete(0), "_INBOX.d".to_string()),
        (
            17,
            OpAnswer::MsgDelete(u64::MAX),
            "_INBOX.réponse".to_string(),
        ),
        (19, OpAnswer::ConsumerCreate, String::new()),
        (21, OpAnswer::ConsumerDelete, "x".repeat(300)),
    ];
    round_trip(&entry(ops, answers));
}

#[test]
fn decoded_messages_are_slices_of_the_entry() {
    let e = entry(
        vec![StreamOp::Publish {
            msg: msg("s", Some("r"), Some(b"NATS/1.0\r\n\r\n"), &[1; 4096]),
            now_ns: 1,
        }],
        vec![],
    );
    let bytes = round_trip(&e);
    let range = bytes.as_ptr_range();
    let StreamOp::Publish { msg, .. } = &StreamEntry::decode(&bytes).unwrap().ops[0] else {
        unreachable!()
    };
    let m = &msg.0;
    for p in [
        m.subject.as_bytes().as_ptr(),
        m.reply.as_ref().unwrap().as_bytes().as_ptr(),
        m.headers.as_ref().unwrap().as_ptr(),
        m.payload.as_ptr(),
    ] {
        assert!(range.contains(&p));
    }
}

/// Pins format version 1: a change to these bytes needs a new version.
#[test]
fn a_known_encoding() {
    let e = entry(
        vec![
            StreamOp::Publish {
                msg: msg("a.b", Some("r"), None, b"hi"),
                now_ns: 0x0102,
            },
            StreamOp::Tick { now_ns: -1 },
            StreamOp::DeleteMsg { seq: 5 },
        ],
        vec![(2, OpAnswer::MsgDelete(300), "in".into())],
    );
    let json = br#"{"delete_msg":{"seq":5}}"#;
    let mut want = vec![1, 3];
    want.extend([
        1, 0b01, 2, 1, 0, 0, 0, 0, 0, 0, 3, b'a', b'.', b'b', 1, b'r', 2, b'h', b'i',
    ]);
    want.extend([5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    want.extend([18, json.len() as u8, 0, 0, 0]);
    want.extend(json);
    want.extend([1, 2, 3, 0xac, 0x02, 2, b'i', b'n']);
    assert_eq!(&round_trip(&e)[..], &want[..]);
}

#[test]
fn unknown_versions_are_refused_by_name() {
    let mut bytes = entry(every_variant(), vec![]).encode_to_bytes().to_vec();
    for v in [0u8, 2, 255] {
        bytes[0] = v;
        let err = StreamEntry::decode(&Bytes::from(bytes.clone())).unwrap_err();
        assert!(
            matches!(err, EntryError::UnknownVersion(x) if x == v),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("version {v}")), "{err}");
    }
    let err = StreamEntry::decode(&Bytes::new()).unwrap_err();
    assert!(matches!(err, EntryError::Empty), "{err}");
}

#[track_caller]
fn refused(bytes: &[u8]) -> EntryError {
    StreamEntry::decode(&Bytes::copy_from_slice(bytes)).unwrap_err()
}

#[test]
fn malformed_entries_are_refused() {
    use EntryError as E;
    // Trailing bytes after a complete entry.
    assert!(matches!(
        refused(&[1, 0, 0, 0]),
        E::TrailingBytes {
            count: 1,
            offset: 3
        }
    ));
    // An answer for an op the entry does not have.
    let e = refused(&[1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]);
    assert!(
        matches!(
            e,
            E::AnswerPosition {
                position: 1,
                ops: 1
            }
        ),
        "{e}"
    );
    let e = refused(&[1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0]);
    assert!(matches!(e, E::UnknownAnswer { kind: 9, .. }), "{e}");
    // Unknown op tag, unknown message flags.
    assert!(matches!(
        refused(&[1, 1, 6]),
        E::UnknownTag { tag: 6, offset: 2 }
    ));
    assert!(matches!(
        refused(&[1, 1, 4, 4, 0, 0, 0]),
        E::BadFlags { flags: 4, .. }
    ));
    // A subject or reply that is not UTF-8.
    let e = refused(&[1, 1, 4, 0, 1, 0xff, 0, 0]);
    assert!(
        matches!(
            e,
            E::NotUtf8 {
                what: "subject",
                offset: 4
            }
        ),
        "{e}"
    );
    let e = refused(&[1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0xc3]);
    assert!(
        matches!(
            e,
            E::NotUtf8 {
                what: "answer reply",
                ..
            }
        ),
        "{e}"
    );
    // Overlong, too long and unfinished varints; a length past the end.
    assert!(matches!(
        refused(&[1, 0x80, 0x00, 0]),
        E::BadVarint { offset: 1 }
    ));
    let e = refused(&[
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
    ]);
    assert!(matches!(e, E::BadVarint { offset: 1 }), "{e}");
    let e = refused(&[
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    assert!(matches!(e, E::Truncated { what: "op tag", .. }), "{e}");
    assert!(matches!(
        refused(&[1, 0x80]),
        E::Truncated {
            what: "op count",
            ..
        }
    ));
    let e = refused(&[1, 1, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(
        matches!(
            e,
            E::Truncated {
                what: "subject",
                ..
            }
        ),
        "{e}"
    );
    // JSON that is not an op, or an op other than the one its tag names.
    let mut b = vec![1, 1, TAG_PURGE, 2, 0, 0, 0, b'{', b'}', 0];
    assert!(matches!(
        refused(&b),
        E::Json {
            tag: TAG_PURGE,
            offset: 2,
            ..
        }
    ));
    let json = serde_json::to_vec(&StreamOp::DeleteMsg { seq: 1 }).unwrap();
    b = vec![1, 1, TAG_PURGE, json.len() as u8, 0, 0, 0];
    b.extend(&json);
    b.push(0);
    assert!(matches!(
        refused(&b),
        E::TagMismatch {
            tag: TAG_PURGE,
            offset: 2
        }
    ));
    let json = serde_json::to_vec(&StreamOp::Tick { now_ns: 1 }).unwrap();
    b = vec![1, 1, TAG_INTEREST, json.len() as u8, 0, 0, 0];
    b.extend(&json);
    b.push(0);
    assert!(matches!(
        refused(&b),
        E::TagMismatch {
            tag: TAG_INTEREST,
            ..
        }
    ));
}

#[test]
fn varints_round_trip_at_every_width() {
    for shift in 0..64 {
        for v in [
            (1u64 << shift) - 1,
            1u64 << shift,
            (1u64 << shift) + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let bytes = Bytes::from(out);
            let mut r = Reader {
                bytes: &bytes,
                pos: 0,
            };
            assert_eq!(r.varint("v").unwrap(), v);
            assert_eq!(r.left(), 0);
        }
    }
}

/// The numbers for the report: a step of 256 publishes of 16 bytes on a 10-byte subject.
/// Printed, not asserted (run with `--release -- --nocapture`).
#[test]
fn size_and_time_of_256_small_publishes() {
    let ops = (0..256)
        .map(|i| StreamOp::Publish {
            msg: msg(
                "orders.new",
                None,
                None,
                format!("payload-{i:08}").as_bytes(),
            ),
            now_ns: 1_765_000_000_000_000_000,
        })
        .collect();
    let e = entry(ops, vec![]);
    let size = round_trip(&e).len();
    // 256 × (tag, flags, time, 1 + 10 subject, 1 + 16 payload) + version, count(2), answers.
    assert_eq!(size, 256 * 38 + 4);
    let rounds = if cfg!(debug_assertions) { 50 } else { 20_000 };
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..rounds {
            f();
        }
        start.elapsed() / rounds
    };
    let both = time(&mut || {
        let bytes = std::hint::black_box(&e).encode_to_bytes();
        std::hint::black_box(StreamEntry::decode(&bytes).unwrap());
    });
    let mut buf = Vec::with_capacity(size);
    let encode = time(&mut || {
        buf.clear();
        std::hint::black_box(&e).encode(&mut buf);
        std::hint::black_box(&buf);
    });
    let bytes = e.encode_to_bytes();
    let decode = time(&mut || {
        std::hint::black_box(StreamEntry::decode(std::hint::black_box(&bytes)).unwrap());
    });
    println!(
        "256 publishes (16 B payload, 10 B subject): {size} B encoded; encode_to_bytes + decode \
         {both:?} per batch (encode alone into a reused buffer {encode:?}, decode alone with \
         the drop of its ops {decode:?})"
    );
}

// --- property tests ---

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_.$>*-]{0,24}",
        1 => "\\PC{0,12}",
    ]
    .boxed()
}

fn data() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..48),
        1 => prop::collection::vec(any::<u8>(), 0..5000),
    ]
    .boxed()
}

fn message(data: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Message> {
    (
        text(),
        prop::option::of(text()),
        prop::option::of(data.clone()),
        data,
    )
        .prop_map(|(subject, reply, headers, payload)| {
            Message(InternalMsg {
                subject: subject.into(),
                reply: reply.map(ByteStr::from),
                headers: headers.map(Bytes::from),
                payload: Bytes::from(payload),
            })
        })
}

fn op(data: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = StreamOp> {
    let flags = prop::collection::vec((text(), any::<bool>()), 0..4);
    let time = prop_oneof![
        Just(Timestamp::ZERO),
        any::<i64>().prop_map(Timestamp::from_unix_nanos)
    ];
    let action = prop_oneof![
        Just(ConsumerAction::CreateOrUpdate),
        Just(ConsumerAction::Create),
        Just(ConsumerAction::Update),
    ];
    let timed = || (message(data.clone()), any::<i64>());
    let publish = timed().prop_map(|(msg, now_ns)| StreamOp::Publish { msg, now_ns });
    let ack = timed().prop_map(|(msg, now_ns)| StreamOp::Ack { msg, now_ns });
    let next = timed().prop_map(|(msg, now_ns)| StreamOp::Next { msg, now_ns });
    let flow_control = message(data.clone()).prop_map(|msg| StreamOp::FlowControl { msg });
    let tick = any::<i64>().prop_map(|now_ns| StreamOp::Tick { now_ns });
    let interest = (any::<i64>(), flags.clone(), flags).prop_map(|(now_ns, replies, push)| {
        StreamOp::Interest {
            now_ns,
            replies,
            push,
        }
    });
    let purge = (
        prop::option::of(text()),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
    )
        .prop_map(|(filter, up_to_seq, keep)| {
            StreamOp::Purge(Purge {
                filter,
                up_to_seq,
                keep,
            })
        });
    let delete_msg = any::<u64>().prop_map(|seq| StreamOp::DeleteMsg { seq });
    let names = prop_oneof![Just("ORDERS"), Just("Ünï_CODE"), Just("X")];
    let update = (names, any::<i64>()).prop_map(|(name, now_ns)| StreamOp::UpdateConfig {
        config: Box::new(stream_config(name)),
        now_ns,
    });
    let create = (any::<bool>(), action, text(), time, any::<i64>(), text()).prop_map(
        |(default, action, generated_name, created, now_ns, advisory_id)| {
            StreamOp::CreateConsumer {
                config: Box::new(match default {
                    true => ConsumerConfig::default(),
                    false => consumer_config(),
                }),
                action,
                generated_name,
                created,
                now_ns,
                advisory_id,
            }
        },
    );
    let delete = (text(), any::<i64>(), text()).prop_map(|(name, now_ns, advisory_id)| {
        StreamOp::DeleteConsumer {
            name,
            now_ns,
            advisory_id,
        }
    });
    prop_oneof![
        8 => publish,
        2 => ack,
        1 => next,
        1 => flow_control,
        1 => tick,
        1 => interest,
        1 => purge,
        1 => delete_msg,
        1 => update,
        1 => create,
        1 => delete,
    ]
}

fn answer() -> impl Strategy<Value = OpAnswer> {
    prop_oneof![
        Just(OpAnswer::StreamUpdate),
        Just(OpAnswer::StreamPurge),
        any::<u64>().prop_map(OpAnswer::MsgDelete),
        Just(OpAnswer::ConsumerCreate),
        Just(OpAnswer::ConsumerDelete),
    ]
}

fn batch(data: BoxedStrategy<Vec<u8>>, max_ops: usize) -> impl Strategy<Value = StreamEntry> {
    prop::collection::vec(op(data), 0..max_ops).prop_flat_map(|ops| {
        let n = ops.len() as u32;
        let answers = if n == 0 {
            Just(Vec::new()).boxed()
        } else {
            prop::collection::vec((0..n, answer(), text()), 0..4).boxed()
        };
        answers.prop_map(move |answers| StreamEntry {
            ops: ops.clone(),
            answers,
        })
    })
}

fn small_data() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batches_round_trip(e in batch(data(), 40)) {
        let bytes = e.encode_to_bytes();
        prop_assert_eq!(StreamEntry::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn every_truncation_is_an_error(e in batch(small_data(), 6)) {
        let bytes = e.encode_to_bytes();
        for len in 0..bytes.len() {
            prop_assert!(StreamEntry::decode(&bytes.slice(..len)).is_err(), "prefix of {}", len);
        }
    }

    #[test]
    fn corrupted_entries_never_panic(
        e in batch(small_data(), 8),
        hits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = e.encode_to_bytes().to_vec();
        for (at, b) in hits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = StreamEntry::decode(&Bytes::from(bytes));
    }

    #[test]
    fn garbage_never_panics(
        version in prop_oneof![Just(FORMAT_VERSION), any::<u8>()],
        rest in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![version];
        bytes.extend(rest);
        if let Ok(e) = StreamEntry::decode(&Bytes::from(bytes)) {
            // What decodes encodes and decodes to the same.
            prop_assert_eq!(StreamEntry::decode(&e.encode_to_bytes()).unwrap(), e);
        }
    }
}
