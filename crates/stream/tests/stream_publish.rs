//! What a publish does to a stream: dedup, expected-* headers, limits, rollups, TTLs.
//! Runs on the memory store (the store conformance suite covers the file store).

use sluice_stream::headers::{
    EXPECTED_LAST_MSG_ID, EXPECTED_LAST_SEQ, EXPECTED_LAST_SUBJECT_SEQ, EXPECTED_STREAM, MSG_ID,
    ROLLUP, TTL,
};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::stream::{Policy, PublishError, Stored, Stream};

const SEC: i64 = 1_000_000_000;

fn stream(policy: Policy) -> Stream {
    let policy = Policy {
        name: "S".into(),
        ..policy
    };
    Stream::open(policy, Box::new(MemoryStore::new()), 0).unwrap()
}

fn hdrs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut h = sluice_protocol::HeaderMap::new();
    for (k, v) in pairs {
        h.append(k, v).unwrap();
    }
    h.to_bytes().to_vec()
}

fn publish(
    s: &mut Stream,
    subject: &str,
    h: &[(&str, &str)],
    now: i64,
) -> Result<Stored, PublishError> {
    let block = (!h.is_empty()).then(|| hdrs(h));
    s.publish(subject, block.as_deref(), b"data", now)
}

#[test]
fn sequences_and_dedup_window() {
    let mut s = stream(Policy::default());
    assert_eq!(publish(&mut s, "a", &[], 1).unwrap(), Stored::New(1));
    assert_eq!(
        publish(&mut s, "a", &[(MSG_ID, "m1")], 2).unwrap(),
        Stored::New(2)
    );
    assert_eq!(
        publish(&mut s, "a", &[(MSG_ID, "m1")], 3).unwrap(),
        Stored::Duplicate(2)
    );
    assert_eq!(s.state().msgs, 2);
    // After the window (2 min default) the id may be stored again.
    let later = 2 + 121 * SEC;
    assert_eq!(
        publish(&mut s, "a", &[(MSG_ID, "m1")], later).unwrap(),
        Stored::New(3)
    );
}

#[test]
fn dedup_window_is_rebuilt_from_the_store() {
    let mut store = MemoryStore::new();
    use sluice_stream::store::MsgStore;
    let block = hdrs(&[(MSG_ID, "kept")]);
    store.append("a", Some(&block), b"x", 10 * SEC).unwrap();
    let mut s = Stream::open(
        Policy {
            name: "S".into(),
            ..Policy::default()
        },
        Box::new(store),
        11 * SEC,
    )
    .unwrap();
    assert_eq!(
        publish(&mut s, "a", &[(MSG_ID, "kept")], 12 * SEC).unwrap(),
        Stored::Duplicate(1)
    );
}

#[test]
fn expected_headers() {
    let mut s = stream(Policy::default());
    publish(&mut s, "a", &[(MSG_ID, "one")], 1).unwrap();
    publish(&mut s, "b", &[], 1).unwrap();
    assert!(matches!(
        publish(&mut s, "a", &[(EXPECTED_STREAM, "T")], 1),
        Err(PublishError::WrongStream)
    ));
    assert_eq!(
        publish(&mut s, "a", &[(EXPECTED_STREAM, "S")], 1).unwrap(),
        Stored::New(3)
    );
    assert!(matches!(
        publish(&mut s, "a", &[(EXPECTED_LAST_SEQ, "2")], 1),
        Err(PublishError::WrongLastSeq(3))
    ));
    assert_eq!(
        publish(&mut s, "a", &[(EXPECTED_LAST_SEQ, "3")], 1).unwrap(),
        Stored::New(4)
    );
    assert!(matches!(
        publish(&mut s, "b", &[(EXPECTED_LAST_SUBJECT_SEQ, "1")], 1),
        Err(PublishError::WrongLastSeq(2))
    ));
    assert_eq!(
        publish(&mut s, "b", &[(EXPECTED_LAST_SUBJECT_SEQ, "2")], 1).unwrap(),
        Stored::New(5)
    );
    assert_eq!(
        publish(&mut s, "c", &[(EXPECTED_LAST_SUBJECT_SEQ, "0")], 1).unwrap(),
        Stored::New(6)
    );
    publish(&mut s, "a", &[(MSG_ID, "two")], 1).unwrap();
    assert!(
        matches!(publish(&mut s, "a", &[(EXPECTED_LAST_MSG_ID, "one")], 1), Err(PublishError::WrongLastMsgId(id)) if id == "two")
    );
    assert!(publish(&mut s, "a", &[(EXPECTED_LAST_MSG_ID, "two")], 1).is_ok());
}

#[test]
fn discard_old_drops_the_oldest() {
    let mut s = stream(Policy {
        max_msgs: 3,
        ..Policy::default()
    });
    for _ in 0..5 {
        publish(&mut s, "a", &[], 1).unwrap();
    }
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (3, 3, 5));
}

#[test]
fn discard_new_refuses() {
    let mut s = stream(Policy {
        max_msgs: 2,
        discard_new: true,
        ..Policy::default()
    });
    publish(&mut s, "a", &[], 1).unwrap();
    publish(&mut s, "a", &[], 1).unwrap();
    assert!(matches!(
        publish(&mut s, "a", &[], 1),
        Err(PublishError::MaxMsgs)
    ));
    let mut s = stream(Policy {
        max_bytes: 40,
        discard_new: true,
        ..Policy::default()
    });
    publish(&mut s, "a", &[], 1).unwrap();
    assert!(matches!(
        publish(&mut s, "a", &[], 1),
        Err(PublishError::MaxBytes)
    ));
}

#[test]
fn max_bytes_discard_old_keeps_within_the_limit() {
    let mut s = stream(Policy {
        max_bytes: 100,
        ..Policy::default()
    });
    for _ in 0..10 {
        publish(&mut s, "a", &[], 1).unwrap();
    }
    assert!(s.state().bytes <= 100, "{:?}", s.state());
    assert_eq!(s.state().last_seq, 10);
}

#[test]
fn per_subject_limit() {
    let mut s = stream(Policy {
        max_msgs_per_subject: 2,
        ..Policy::default()
    });
    for subject in ["a", "b", "a", "a", "b"] {
        publish(&mut s, subject, &[], 1).unwrap();
    }
    assert_eq!(s.store().subject_count("a"), 2);
    assert_eq!(s.store().subject_count("b"), 2);
    assert_eq!(s.store().first_seq_of_subject("a"), Some(3));
}

#[test]
fn max_msg_size() {
    let mut s = stream(Policy {
        max_msg_size: 3,
        ..Policy::default()
    });
    assert!(matches!(
        publish(&mut s, "a", &[], 1),
        Err(PublishError::TooLarge)
    ));
}

#[test]
fn max_age_expires() {
    let mut s = stream(Policy {
        max_age_ns: SEC,
        ..Policy::default()
    });
    publish(&mut s, "a", &[], 0).unwrap();
    publish(&mut s, "a", &[], SEC / 2).unwrap();
    assert_eq!(s.next_expiry(), Some(SEC));
    s.expire(SEC + 1).unwrap();
    assert_eq!(s.state().msgs, 1);
    s.expire(2 * SEC).unwrap();
    assert_eq!(s.state().msgs, 0);
}

#[test]
fn rollups() {
    let mut s = stream(Policy::default());
    publish(&mut s, "a", &[], 1).unwrap();
    assert!(matches!(
        publish(&mut s, "a", &[(ROLLUP, "sub")], 1),
        Err(PublishError::RollupNotPermitted)
    ));
    let mut s = stream(Policy {
        allow_rollup: true,
        ..Policy::default()
    });
    for subject in ["a", "a", "b"] {
        publish(&mut s, subject, &[], 1).unwrap();
    }
    publish(&mut s, "a", &[(ROLLUP, "sub")], 1).unwrap();
    assert_eq!(s.store().subject_count("a"), 1);
    assert_eq!(s.store().subject_count("b"), 1);
    publish(&mut s, "c", &[(ROLLUP, "all")], 1).unwrap();
    assert_eq!(s.state().msgs, 1);
    assert!(matches!(
        publish(&mut s, "c", &[(ROLLUP, "everything")], 1),
        Err(PublishError::InvalidRollup(_))
    ));
}

#[test]
fn per_message_ttl() {
    let mut s = stream(Policy::default());
    assert!(matches!(
        publish(&mut s, "a", &[(TTL, "1s")], 0),
        Err(PublishError::TtlDisabled)
    ));
    let mut s = stream(Policy {
        allow_msg_ttl: true,
        max_age_ns: 10 * SEC,
        ..Policy::default()
    });
    assert!(matches!(
        publish(&mut s, "a", &[(TTL, "soon")], 0),
        Err(PublishError::InvalidTtl(_))
    ));
    publish(&mut s, "a", &[(TTL, "1s")], 0).unwrap();
    publish(&mut s, "a", &[], 0).unwrap();
    publish(&mut s, "a", &[(TTL, "never")], 0).unwrap();
    s.expire(2 * SEC).unwrap();
    assert_eq!(s.state().msgs, 2, "the 1s message expired");
    s.expire(11 * SEC).unwrap();
    assert_eq!(
        s.state().msgs,
        1,
        "max_age took the plain one, not the never-expiring one"
    );
}

#[test]
fn sealed_refuses() {
    let mut s = stream(Policy {
        sealed: true,
        ..Policy::default()
    });
    assert!(matches!(
        publish(&mut s, "a", &[], 1),
        Err(PublishError::Sealed)
    ));
}
