//! One behaviour suite, run against both stores. The file store additionally checks after
//! every scenario that a reopen restores exactly the same state and messages.

use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::{MsgStore, Purge, StoreState, StoredMsg};
use std::sync::Arc;

type Snapshot = (StoreState, Vec<StoredMsg>, Vec<(Arc<str>, u64)>);

fn snapshot(s: &dyn MsgStore) -> Snapshot {
    let st = s.state();
    let msgs = (st.first_seq..=st.last_seq)
        .filter_map(|seq| s.get(seq).unwrap())
        .collect();
    let mut subjects = s.subjects();
    subjects.sort();
    (st, msgs, subjects)
}

fn run_memory(f: fn(&mut dyn MsgStore)) {
    let mut s = MemoryStore::new();
    f(&mut s);
}

fn run_file(f: fn(&mut dyn MsgStore)) {
    // Small segments so the scenarios cross segment boundaries too.
    for segment_bytes in [FileStoreConfig::default().segment_bytes, 200] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = FileStoreConfig { segment_bytes };
        let mut s = FileStore::open(dir.path(), cfg).unwrap();
        f(&mut s);
        let before = snapshot(&s);
        drop(s);
        let s = FileStore::open(dir.path(), cfg).unwrap();
        assert_eq!(snapshot(&s), before, "reopen changed the store");
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $name() { super::run_memory(super::$name) } )*
        }
        mod file {
            $( #[test] fn $name() { super::run_file(super::$name) } )*
        }
    };
}

conformance!(
    empty_store,
    append_and_get,
    headers_kept_apart,
    state_counts,
    delete_leaves_gaps,
    delete_everything,
    purge_all,
    purge_by_filter,
    purge_keep,
    purge_filter_keep,
    purge_up_to,
    purge_up_to_with_filter,
    purge_up_to_past_the_end,
    set_next_seq_on_empty,
    subjects_and_last_matching,
    first_seq_of_subject_moves,
    expire_before,
    expire_before_out_of_order,
    next_matching_filters_and_gaps,
    many_subjects_wildcards,
    append_at_keeps_sequences_with_gaps,
    skip_to_leaves_a_gap_at_the_end,
    skip_to_on_an_empty_store_starts_there,
    clear_to_empties_and_sets_the_next_sequence,
);

fn add(s: &mut dyn MsgStore, subject: &str, payload: &str, ts: i64) -> u64 {
    s.append(subject, None, payload.as_bytes(), ts).unwrap()
}

fn seqs(s: &dyn MsgStore) -> Vec<u64> {
    let st = s.state();
    (st.first_seq..=st.last_seq)
        .filter(|&q| s.get(q).unwrap().is_some())
        .collect()
}

fn purge(s: &mut dyn MsgStore, filter: Option<&str>, up_to: Option<u64>, keep: Option<u64>) -> u64 {
    s.purge(&Purge {
        filter: filter.map(str::to_string),
        up_to_seq: up_to,
        keep,
    })
    .unwrap()
}

fn empty_store(s: &mut dyn MsgStore) {
    assert_eq!(
        s.state(),
        StoreState {
            first_seq: 1,
            ..StoreState::default()
        }
    );
    assert_eq!(s.get(0).unwrap(), None);
    assert_eq!(s.get(1).unwrap(), None);
    assert_eq!(s.next_matching(0, None).unwrap(), None);
    assert_eq!(s.last_matching(">").unwrap(), None);
    assert!(s.subjects().is_empty());
    assert_eq!(s.purge(&Purge::default()).unwrap(), 0);
    assert_eq!(s.expire_before(i64::MAX).unwrap(), 0);
    assert!(!s.delete(1).unwrap());
    s.sync().unwrap();
}

fn append_and_get(s: &mut dyn MsgStore) {
    for i in 1..=10u64 {
        assert_eq!(
            add(
                s,
                &format!("foo.{}", i % 3),
                &format!("msg {i}"),
                i as i64 * 100
            ),
            i
        );
    }
    for i in 1..=10u64 {
        let m = s.get(i).unwrap().unwrap();
        assert_eq!(m.seq, i);
        assert_eq!(&*m.subject, format!("foo.{}", i % 3));
        assert_eq!(m.payload, format!("msg {i}").as_bytes());
        assert_eq!(m.headers, None);
        assert_eq!(m.time_ns, i as i64 * 100);
    }
    assert_eq!(s.get(0).unwrap(), None);
    assert_eq!(s.get(11).unwrap(), None);
    // Survives a sync, and reads still work after it.
    s.sync().unwrap();
    assert_eq!(s.get(7).unwrap().unwrap().payload, &b"msg 7"[..]);
    // Empty payloads are fine.
    let q = s.append("e", None, b"", 5).unwrap();
    assert_eq!(s.get(q).unwrap().unwrap().payload.len(), 0);
}

fn headers_kept_apart(s: &mut dyn MsgStore) {
    let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
    s.append("h", Some(hdr), b"body", 1).unwrap();
    s.append("h", Some(b""), b"x", 2).unwrap();
    s.append("h", None, b"", 3).unwrap();
    let m = s.get(1).unwrap().unwrap();
    assert_eq!(m.headers.as_deref(), Some(&hdr[..]));
    assert_eq!(m.payload, &b"body"[..]);
    assert_eq!(
        s.get(2).unwrap().unwrap().headers.as_deref(),
        Some(&b""[..])
    );
    assert_eq!(s.get(3).unwrap().unwrap().headers, None);
}

fn state_counts(s: &mut dyn MsgStore) {
    add(s, "a", "12345", 10);
    s.append("b", Some(b"NATS/1.0\r\n\r\n"), b"xy", 20).unwrap();
    add(s, "a", "", 30);
    let want = s.msg_size("a", None, b"12345")
        + s.msg_size("b", Some(b"NATS/1.0\r\n\r\n"), b"xy")
        + s.msg_size("a", None, b"");
    assert_eq!(
        s.state(),
        StoreState {
            msgs: 3,
            bytes: want,
            first_seq: 1,
            first_ts: 10,
            last_seq: 3,
            last_ts: 30,
            num_subjects: 2,
            num_deleted: 0,
        }
    );
    assert!(s.delete(1).unwrap());
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.first_ts), (2, 2, 20));
    assert_eq!(st.bytes, want - s.msg_size("a", None, b"12345"));
}

fn delete_leaves_gaps(s: &mut dyn MsgStore) {
    for i in 1..=5 {
        add(s, "x", "m", i);
    }
    assert!(s.delete(3).unwrap());
    assert!(!s.delete(3).unwrap());
    assert!(!s.delete(9).unwrap());
    assert!(!s.delete(0).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (4, 1, 5, 1)
    );
    assert!(s.delete(1).unwrap());
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.num_deleted), (3, 2, 1));
    // Deleting the last message keeps last_seq (and last_ts).
    assert!(s.delete(5).unwrap());
    let st = s.state();
    assert_eq!(
        (
            st.msgs,
            st.first_seq,
            st.last_seq,
            st.last_ts,
            st.num_deleted
        ),
        (2, 2, 5, 5, 2)
    );
    assert_eq!(seqs(s), vec![2, 4]);
    assert_eq!(add(s, "x", "m", 6), 6);
    assert_eq!(s.state().num_deleted, 2);
    assert_eq!(s.subject_count("x"), 3);
}

fn delete_everything(s: &mut dyn MsgStore) {
    for i in 1..=4 {
        add(s, "x", "m", i);
    }
    for q in [2, 4, 1, 3] {
        assert!(s.delete(q).unwrap());
    }
    let st = s.state();
    assert_eq!(
        (st.msgs, st.bytes, st.first_seq, st.last_seq, st.num_deleted),
        (0, 0, 5, 4, 0)
    );
    assert_eq!((st.first_ts, st.last_ts, st.num_subjects), (0, 4, 0));
    assert_eq!(add(s, "y", "m", 9), 5);
    assert_eq!(s.state().first_seq, 5);
}

fn purge_all(s: &mut dyn MsgStore) {
    for i in 1..=6 {
        add(s, if i % 2 == 0 { "a" } else { "b" }, "m", i);
    }
    s.delete(2).unwrap();
    assert_eq!(purge(s, None, None, None), 5);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.bytes, st.first_seq, st.last_seq, st.last_ts),
        (0, 0, 7, 6, 6)
    );
    assert_eq!((st.num_subjects, st.num_deleted), (0, 0));
    assert_eq!(s.subject_count("a"), 0);
    assert_eq!(s.get(3).unwrap(), None);
    assert_eq!(add(s, "a", "n", 7), 7);
    assert_eq!(s.state().first_seq, 7);
    // The filter ">" is everything too.
    assert_eq!(purge(s, Some(">"), None, None), 1);
    assert_eq!(s.state().first_seq, 8);
}

fn purge_by_filter(s: &mut dyn MsgStore) {
    for (i, subj) in ["a.1", "b.1", "a.2", "a.1", "b.2", "c"].iter().enumerate() {
        add(s, subj, "m", i as i64);
    }
    assert_eq!(purge(s, Some("a.*"), None, None), 3);
    assert_eq!(seqs(s), vec![2, 5, 6]);
    assert_eq!(s.subject_count("a.1"), 0);
    assert_eq!(s.state().first_seq, 2);
    assert_eq!(purge(s, Some("nothing"), None, None), 0);
    assert_eq!(purge(s, Some("c"), None, None), 1);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_subjects),
        (2, 2, 6, 2)
    );
    assert_eq!(purge(s, Some("b.>"), None, None), 2);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 7, 6));
}

fn purge_keep(s: &mut dyn MsgStore) {
    for i in 1..=10 {
        add(s, "k", "m", i);
    }
    s.delete(8).unwrap();
    // Keep counts messages, not sequences: 10, 9, 7 stay.
    assert_eq!(purge(s, None, None, Some(3)), 6);
    assert_eq!(seqs(s), vec![7, 9, 10]);
    assert_eq!(s.state().first_seq, 7);
    assert_eq!(purge(s, None, None, Some(3)), 0);
    assert_eq!(purge(s, None, None, Some(100)), 0);
    assert_eq!(purge(s, None, None, Some(1)), 2);
    assert_eq!(seqs(s), vec![10]);
}

fn purge_filter_keep(s: &mut dyn MsgStore) {
    for i in 1..=9 {
        add(s, if i % 3 == 0 { "t.b" } else { "t.a" }, "m", i);
    }
    // t.a: 1 2 4 5 7 8; keep the newest two.
    assert_eq!(purge(s, Some("t.a"), None, Some(2)), 4);
    assert_eq!(seqs(s), vec![3, 6, 7, 8, 9]);
    assert_eq!(s.first_seq_of_subject("t.a"), Some(7));
    assert_eq!(purge(s, Some("t.*"), None, Some(4)), 1);
    assert_eq!(seqs(s), vec![6, 7, 8, 9]);
    assert_eq!(purge(s, Some("t.b"), None, Some(5)), 0);
}

fn purge_up_to(s: &mut dyn MsgStore) {
    for i in 1..=10 {
        add(s, "u", "m", i);
    }
    s.delete(5).unwrap();
    assert_eq!(purge(s, None, Some(4), None), 3);
    assert_eq!(s.state().first_seq, 4);
    // up_to wins over keep when there is no filter (nats-server's order).
    assert_eq!(purge(s, None, Some(7), Some(1)), 2);
    assert_eq!(seqs(s), vec![7, 8, 9, 10]);
    assert_eq!(purge(s, None, Some(1), None), 0);
    assert_eq!(purge(s, None, Some(7), None), 0);
    // Up to exactly last_seq + 1: everything, sequence unchanged.
    assert_eq!(purge(s, None, Some(11), None), 4);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 11, 10));
}

fn purge_up_to_with_filter(s: &mut dyn MsgStore) {
    for i in 1..=8 {
        add(s, if i % 2 == 0 { "e" } else { "o" }, "m", i);
    }
    assert_eq!(purge(s, Some("e"), Some(6), None), 2);
    assert_eq!(seqs(s), vec![1, 3, 5, 6, 7, 8]);
    // Both up_to and keep: at most count - keep, oldest first, below up_to.
    assert_eq!(purge(s, Some("o"), Some(8), Some(3)), 1);
    assert_eq!(seqs(s), vec![3, 5, 6, 7, 8]);
    // A filter with up_to past the end does not move the sequence.
    assert_eq!(purge(s, Some("o"), Some(100), None), 3);
    assert_eq!(s.state().last_seq, 8);
}

fn purge_up_to_past_the_end(s: &mut dyn MsgStore) {
    for i in 1..=3 {
        add(s, "p", "m", i);
    }
    // nats-server's Compact past the end: the next message gets up_to.
    assert_eq!(purge(s, None, Some(50), None), 3);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts),
        (0, 50, 49, 3)
    );
    assert_eq!(add(s, "p", "m", 4), 50);
    assert_eq!(s.state().first_seq, 50);
    assert_eq!(s.state().num_deleted, 0);
    // Absurd values are clamped (2^62) rather than overflowing later.
    assert_eq!(purge(s, None, Some(u64::MAX), None), 1);
    let q = add(s, "p", "m", 5);
    assert_eq!(q, 1 << 62);
    assert_eq!(add(s, "p", "m", 6), q + 1);
}

fn set_next_seq_on_empty(s: &mut dyn MsgStore) {
    s.set_next_seq(100).unwrap();
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 100, 99));
    assert_eq!(add(s, "s", "m", 1), 100);
    assert_eq!(add(s, "s", "m", 2), 101);
    // Not empty: ignored.
    s.set_next_seq(500).unwrap();
    assert_eq!(add(s, "s", "m", 3), 102);
    let st = s.state();
    assert_eq!((st.first_seq, st.last_seq, st.num_deleted), (100, 102, 0));
    // Empty again (after a purge): allowed again.
    purge(s, None, None, None);
    s.set_next_seq(1000).unwrap();
    assert_eq!(s.state().first_seq, 1000);
    assert_eq!(add(s, "s", "m", 4), 1000);
}

fn subjects_and_last_matching(s: &mut dyn MsgStore) {
    let subs = [
        "foo.a", "foo.b", "bar.a", "foo.a", "foo.b.c", "bar.a", "baz",
    ];
    for (i, subj) in subs.iter().enumerate() {
        add(s, subj, &format!("{i}"), i as i64);
    }
    let mut got = s.subjects();
    got.sort();
    let want: Vec<(Arc<str>, u64)> = [
        ("bar.a", 2),
        ("baz", 1),
        ("foo.a", 2),
        ("foo.b", 1),
        ("foo.b.c", 1),
    ]
    .iter()
    .map(|&(n, c)| (Arc::from(n), c))
    .collect();
    assert_eq!(got, want);
    assert_eq!(s.state().num_subjects, 5);
    assert_eq!(s.subject_count("foo.a"), 2);
    assert_eq!(s.subject_count("foo.*"), 0, "subject_count is literal");
    let last = |s: &dyn MsgStore, f: &str| s.last_matching(f).unwrap().map(|m| m.seq);
    assert_eq!(last(s, "foo.a"), Some(4));
    assert_eq!(last(s, "foo.*"), Some(4));
    assert_eq!(last(s, "foo.>"), Some(5));
    assert_eq!(last(s, "*.a"), Some(6));
    assert_eq!(last(s, ">"), Some(7));
    assert_eq!(last(s, "*"), Some(7));
    assert_eq!(last(s, "nope"), None);
    assert_eq!(last(s, "nope.*"), None);
    s.delete(6).unwrap();
    s.delete(7).unwrap();
    assert_eq!(last(s, "*.a"), Some(4));
    assert_eq!(last(s, "bar.a"), Some(3));
    assert_eq!(last(s, ">"), Some(5));
    assert_eq!(last(s, "*"), None);
    assert_eq!(s.state().num_subjects, 4);
}

fn first_seq_of_subject_moves(s: &mut dyn MsgStore) {
    for i in 1..=9 {
        add(s, if i % 3 == 0 { "three" } else { "other" }, "m", i);
    }
    assert_eq!(s.first_seq_of_subject("three"), Some(3));
    s.delete(3).unwrap();
    assert_eq!(s.first_seq_of_subject("three"), Some(6));
    s.delete(9).unwrap();
    assert_eq!(s.last_matching("three").unwrap().unwrap().seq, 6);
    s.delete(6).unwrap();
    assert_eq!(s.first_seq_of_subject("three"), None);
    assert_eq!(s.subject_count("three"), 0);
    assert_eq!(s.first_seq_of_subject("other"), Some(1));
    purge(s, None, Some(5), None);
    assert_eq!(s.first_seq_of_subject("other"), Some(5));
    assert_eq!(s.subject_count("other"), 3);
}

fn expire_before(s: &mut dyn MsgStore) {
    for i in 1..=5 {
        add(s, "t", "m", i * 10);
    }
    assert_eq!(s.expire_before(10).unwrap(), 0);
    assert_eq!(s.expire_before(25).unwrap(), 2);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.first_ts), (3, 3, 30));
    assert_eq!(s.expire_before(30).unwrap(), 0);
    assert_eq!(s.expire_before(1000).unwrap(), 3);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts),
        (0, 6, 5, 50)
    );
}

fn expire_before_out_of_order(s: &mut dyn MsgStore) {
    for ts in [10, 50, 20, 60, 5] {
        add(s, "t", "m", ts);
    }
    assert_eq!(s.expire_before(30).unwrap(), 3);
    assert_eq!(seqs(s), vec![2, 4]);
    assert_eq!(s.state().num_deleted, 2);
}

fn next_matching_filters_and_gaps(s: &mut dyn MsgStore) {
    let subs = ["a.x", "b.x", "a.y", "b.y", "a.x", "c", "a.x"];
    for (i, subj) in subs.iter().enumerate() {
        add(s, subj, "m", i as i64);
    }
    s.delete(1).unwrap();
    s.delete(5).unwrap();
    let next = |s: &dyn MsgStore, from, f| s.next_matching(from, f).unwrap().map(|m| m.seq);
    assert_eq!(next(s, 0, None), Some(2));
    assert_eq!(next(s, 1, None), Some(2));
    assert_eq!(next(s, 5, None), Some(6));
    assert_eq!(next(s, 8, None), None);
    assert_eq!(next(s, 0, Some("a.x")), Some(7));
    assert_eq!(next(s, 0, Some("a.*")), Some(3));
    assert_eq!(next(s, 4, Some("a.*")), Some(7));
    assert_eq!(next(s, 0, Some("*.y")), Some(3));
    assert_eq!(next(s, 4, Some("*.y")), Some(4));
    assert_eq!(next(s, 5, Some("*.y")), None);
    assert_eq!(next(s, 0, Some(">")), Some(2));
    assert_eq!(next(s, 0, Some("zzz")), None);
    assert_eq!(next(s, 0, Some("c")), Some(6));
    assert_eq!(next(s, 7, Some("c")), None);
    let m = s.next_matching(3, Some("b.>")).unwrap().unwrap();
    assert_eq!((m.seq, &*m.subject), (4, "b.y"));
}

fn many_subjects_wildcards(s: &mut dyn MsgStore) {
    // Enough subjects for the lazy wildcard matching path.
    for i in 0..1200u64 {
        let kind = if i % 100 == 99 { "rare" } else { "common" };
        add(s, &format!("dev.{i}.{kind}"), "m", i as i64);
    }
    assert_eq!(s.state().num_subjects, 1200);
    let next = |s: &dyn MsgStore, from, f| s.next_matching(from, f).unwrap().map(|m| m.seq);
    assert_eq!(next(s, 0, Some("dev.*.rare")), Some(100));
    assert_eq!(next(s, 101, Some("dev.*.rare")), Some(200));
    assert_eq!(next(s, 1101, Some("dev.*.rare")), Some(1200));
    assert_eq!(next(s, 1201, Some("dev.*.rare")), None);
    assert_eq!(next(s, 0, Some("dev.*.none")), None);
    assert_eq!(next(s, 17, Some("dev.>")), Some(17));
    assert_eq!(s.last_matching("dev.*.rare").unwrap().unwrap().seq, 1200);
    assert_eq!(s.last_matching("dev.*.common").unwrap().unwrap().seq, 1199);
    assert_eq!(purge(s, Some("dev.*.rare"), None, Some(10)), 2);
    assert_eq!(next(s, 0, Some("dev.*.rare")), Some(300));
    assert_eq!(s.state().num_subjects, 1198);
}

fn append_at_keeps_sequences_with_gaps(s: &mut dyn MsgStore) {
    s.append_at(5, "a", None, b"m5", 5).unwrap();
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (1, 5, 5, 0)
    );
    s.append_at(9, "b", Some(b"NATS/1.0\r\n\r\n"), b"m9", 9)
        .unwrap();
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (2, 5, 9, 3)
    );
    // Only above the last sequence.
    for seq in [9, 3, 0] {
        let e = s.append_at(seq, "c", None, b"x", 10).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("sequence {seq} is not above")),
            "{e}"
        );
    }
    assert_eq!(add(s, "a", "m10", 10), 10);
    assert_eq!(seqs(s), vec![5, 9, 10]);
    assert_eq!(s.get(7).unwrap(), None);
    let m = s.next_matching(6, None).unwrap().unwrap();
    assert_eq!(
        (m.seq, &*m.subject, &m.payload[..], m.time_ns),
        (9, "b", &b"m9"[..], 9)
    );
    assert_eq!(s.subject_count("a"), 2);
    assert_eq!(s.first_seq_of_subject("a"), Some(5));
}

fn skip_to_leaves_a_gap_at_the_end(s: &mut dyn MsgStore) {
    add(s, "x", "m", 1);
    add(s, "x", "m", 2);
    // Not above the next sequence: nothing.
    s.skip_to(2, 77).unwrap();
    s.skip_to(3, 77).unwrap();
    assert_eq!((s.state().last_seq, s.state().last_ts), (2, 2));
    s.skip_to(6, 4).unwrap();
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (2, 1, 5, 3)
    );
    assert_eq!(add(s, "x", "m", 3), 6);
    // A gap with no message after it (kept across a reopen: see `run_file`).
    s.skip_to(10, 8).unwrap();
    let st = s.state();
    assert_eq!(
        (
            st.msgs,
            st.first_seq,
            st.last_seq,
            st.last_ts,
            st.num_deleted
        ),
        (3, 1, 9, 8, 6)
    );
}

fn skip_to_on_an_empty_store_starts_there(s: &mut dyn MsgStore) {
    s.skip_to(100, 0).unwrap();
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 100, 99));
    assert_eq!(add(s, "s", "m", 1), 100);
    assert_eq!(s.state().num_deleted, 0);
}

fn clear_to_empties_and_sets_the_next_sequence(s: &mut dyn MsgStore) {
    for i in 1..=5 {
        add(s, "x", "m", i);
    }
    // Lower than the last sequence.
    s.clear_to(3, 42).unwrap();
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts, st.bytes),
        (0, 3, 2, 42, 0)
    );
    assert!(s.subjects().is_empty());
    assert_eq!(s.get(4).unwrap(), None);
    assert_eq!(add(s, "y", "m", 6), 3);
    // Higher.
    s.clear_to(50, 43).unwrap();
    assert_eq!(s.state().msgs, 0);
    assert_eq!(add(s, "z", "m", 7), 50);
    assert_eq!(s.subject_count("y"), 0);
    assert_eq!(s.subject_count("z"), 1);
}
