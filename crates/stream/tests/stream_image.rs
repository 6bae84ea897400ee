//! A stream rebuilt from another's image (`Stream::image` / `Stream::restore_image`, the
//! stream's part of a stream group's snapshot) behaves as the original: same messages, gaps,
//! sequences and last timestamp, same answers to duplicate ids (also ids whose messages were
//! removed since) and to `Nats-Expected-Last-Msg-Id`, same TTL deadlines. On both stores; a
//! file store also after a reopen.

use sluice_stream::headers::{EXPECTED_LAST_MSG_ID, MSG_ID, TTL};
use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::MsgStore;
use sluice_stream::stream::{Policy, PublishError, Stored, Stream, StreamImage};

const SEC: i64 = 1_000_000_000;

fn policy() -> Policy {
    Policy {
        name: "S".into(),
        max_msgs_per_subject: 2,
        duplicate_window_ns: 3600 * SEC,
        allow_msg_ttl: true,
        ..Policy::default()
    }
}

fn hdrs(pairs: &[(&str, &str)]) -> Option<Vec<u8>> {
    if pairs.is_empty() {
        return None;
    }
    let mut h = sluice_protocol::HeaderMap::new();
    for (k, v) in pairs {
        h.append(k, v).unwrap();
    }
    Some(h.to_bytes().to_vec())
}

fn publish(
    s: &mut Stream,
    subject: &str,
    h: &[(&str, &str)],
    now: i64,
) -> Result<Stored, PublishError> {
    s.publish(subject, hdrs(h).as_deref(), b"data", now)
}

/// Which store a stream runs on; a file store keeps its directory for a reopen.
enum Kind {
    Memory,
    File(tempfile::TempDir),
}

fn store(kind: &Kind) -> Box<dyn MsgStore> {
    match kind {
        Kind::Memory => Box::new(MemoryStore::new()),
        Kind::File(dir) => {
            Box::new(FileStore::open(dir.path(), FileStoreConfig { segment_bytes: 300 }).unwrap())
        }
    }
}

fn kinds() -> Vec<Kind> {
    vec![Kind::Memory, Kind::File(tempfile::tempdir().unwrap())]
}

fn file() -> Kind {
    Kind::File(tempfile::tempdir().unwrap())
}

/// (original, restored) store pairs: the same kind, and each into the other (the stores
/// count bytes differently, so states are compared only within a kind).
fn pairs() -> Vec<(Kind, Kind, bool)> {
    vec![
        (Kind::Memory, Kind::Memory, true),
        (file(), file(), true),
        (Kind::Memory, file(), false),
        (file(), Kind::Memory, false),
    ]
}

/// A stream with a history: ids whose messages the per-subject limit removed, an interior
/// delete, a deleted last message, a TTL.
fn original(kind: &Kind) -> Stream {
    let mut s = Stream::open(policy(), store(kind), 0).unwrap();
    for k in 0..6 {
        let id = format!("id{k}");
        publish(&mut s, "a", &[(MSG_ID, &id)], (k + 1) * SEC).unwrap();
    }
    publish(&mut s, "b", &[(TTL, "1h")], 7 * SEC).unwrap();
    publish(&mut s, "c", &[], 8 * SEC).unwrap();
    publish(&mut s, "d", &[(MSG_ID, "last")], 9 * SEC).unwrap();
    assert!(s.store_mut().delete(8).unwrap());
    assert!(s.store_mut().delete(9).unwrap());
    s
}

/// A stream on `kind` holding something else, then given `image`.
fn restored(kind: &Kind, image: &StreamImage) -> Stream {
    let mut s = Stream::open(policy(), store(kind), 0).unwrap();
    for k in 0..20 {
        publish(&mut s, "junk", &[(MSG_ID, &format!("j{k}"))], k).unwrap();
    }
    // Through serde, as a snapshot carries it.
    let bytes = serde_json::to_vec(image).unwrap();
    let image: StreamImage = serde_json::from_slice(&bytes).unwrap();
    s.restore_image(&image).unwrap();
    s
}

#[test]
fn a_restored_stream_is_the_same_and_answers_the_same() {
    for (ka, kb, same) in pairs() {
        let mut a = original(&ka);
        let image = a.image().unwrap();
        assert_eq!(
            image.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        assert_eq!(
            image.dedup.len(),
            7,
            "ids of removed messages stay in the window"
        );
        let mut b = restored(&kb, &image);
        assert_eq!(b.image().unwrap(), image);
        if same {
            assert_eq!(b.state(), a.state());
        }
        assert_eq!(b.next_expiry(), a.next_expiry());
        for s in [&mut a, &mut b] {
            // id1's message was removed by the per-subject limit: still a duplicate.
            assert_eq!(
                publish(s, "a", &[(MSG_ID, "id1")], 10 * SEC).unwrap(),
                Stored::Duplicate(2)
            );
            assert_eq!(
                publish(s, "a", &[(MSG_ID, "id5")], 10 * SEC).unwrap(),
                Stored::Duplicate(6)
            );
            // The last msg id is the deleted last message's.
            assert_eq!(
                publish(s, "e", &[(EXPECTED_LAST_MSG_ID, "last")], 11 * SEC).unwrap(),
                Stored::New(10)
            );
            assert_eq!(publish(s, "e", &[], 12 * SEC).unwrap(), Stored::New(11));
        }
        assert_eq!(b.image().unwrap(), a.image().unwrap());
    }
}

#[test]
fn a_restored_file_stream_keeps_its_sequences_and_gaps_across_a_reopen() {
    let (ka, kb) = (file(), file());
    let a = original(&ka);
    let image = a.image().unwrap();
    let b = restored(&kb, &image);
    drop(b);
    let b = Stream::open(policy(), store(&kb), 9 * SEC).unwrap();
    let got = b.image().unwrap();
    assert_eq!(got.messages, image.messages);
    assert_eq!(b.state(), a.state());
}

#[test]
fn an_empty_stream_after_a_purge_keeps_its_sequences_and_last_time() {
    for kind in kinds() {
        let mut a = Stream::open(policy(), Box::new(MemoryStore::new()), 0).unwrap();
        for k in 1..=4 {
            publish(&mut a, "a", &[], k * SEC).unwrap();
        }
        a.store_mut().purge(&Default::default()).unwrap();
        let image = a.image().unwrap();
        assert!(image.messages.is_empty());
        let mut b = restored(&kind, &image);
        assert_eq!(b.state(), a.state());
        assert_eq!(publish(&mut b, "a", &[], 9 * SEC).unwrap(), Stored::New(5));
    }
}

#[test]
fn an_image_of_another_version_or_out_of_order_is_refused() {
    let a = original(&Kind::Memory);
    let mut b = Stream::open(policy(), Box::new(MemoryStore::new()), 0).unwrap();
    let mut image = a.image().unwrap();
    image.version = 9;
    let e = b.restore_image(&image).unwrap_err();
    assert!(e.to_string().contains("version 9"), "{e}");
    let mut image = a.image().unwrap();
    image.messages.swap(0, 1);
    let e = b.restore_image(&image).unwrap_err();
    assert!(e.to_string().contains("not ascending"), "{e}");
    let mut image = a.image().unwrap();
    image.last_seq = 3;
    assert!(b.restore_image(&image).is_err());
}
