//! The consumer delivery/ack state machine (`consumer::state`) over a MemoryStore: each rule
//! on its own, then random operation sequences against a plain model.

use proptest::prelude::*;
use sluice_protocol::subject::subject_matches;
use sluice_stream::consumer::state::{
    AckPolicy, ConsumerPolicy, ConsumerSnapshot, ConsumerState, DecodeError, DeliverStart,
    Delivery, Event, SeqPair, NO_DEADLINE,
};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::{MsgStore, Purge};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

/// A store holding one message per subject, stored one second apart from `T0`.
fn store_with(subjects: &[&str]) -> MemoryStore {
    let mut s = MemoryStore::new();
    for (i, subj) in subjects.iter().enumerate() {
        s.append(
            subj,
            None,
            format!("m{}", i + 1).as_bytes(),
            T0 + i as i64 * SEC,
        )
        .unwrap();
    }
    s
}

fn explicit() -> ConsumerPolicy {
    ConsumerPolicy {
        ack_wait_ns: 10 * SEC,
        ..ConsumerPolicy::default()
    }
}

fn with_filters(filters: &[&str]) -> ConsumerPolicy {
    ConsumerPolicy {
        filter_subjects: filters.iter().map(|s| s.to_string()).collect(),
        ..explicit()
    }
}

fn new_state(policy: ConsumerPolicy, start: DeliverStart, store: &MemoryStore) -> ConsumerState {
    ConsumerState::new(policy, start, store).unwrap()
}

fn next(c: &mut ConsumerState, s: &MemoryStore, now: i64) -> Option<Delivery> {
    c.next_to_deliver(s, now).unwrap()
}

/// Delivers until nothing is left; the stream sequences.
fn drain(c: &mut ConsumerState, s: &MemoryStore, now: i64) -> Vec<u64> {
    std::iter::from_fn(|| next(c, s, now).map(|d| d.stream_seq)).collect()
}

fn pair(consumer_seq: u64, stream_seq: u64) -> SeqPair {
    SeqPair {
        consumer_seq,
        stream_seq,
    }
}

fn pending_seqs(c: &ConsumerState) -> Vec<u64> {
    c.pending().keys().copied().collect()
}

// ---- delivery order and filters ----

#[test]
fn delivers_in_stream_order_with_sequences_and_pending() {
    let s = store_with(&["a", "b", "c"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!(
        (d.stream_seq, d.consumer_seq, d.deliveries, d.pending),
        (1, 1, 1, 2)
    );
    assert_eq!(&*d.msg.subject, "a");
    assert_eq!(&d.msg.payload[..], b"m1");
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.consumer_seq, d.pending), (2, 2, 1));
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.consumer_seq, d.pending), (3, 3, 0));
    assert!(next(&mut c, &s, T0).is_none());
    assert_eq!(c.delivered(), pair(3, 3));
    assert_eq!(c.num_ack_pending(), 3);
    assert_eq!(c.last_delivered_ns(), Some(T0));
}

#[test]
fn single_wildcard_filter() {
    let s = store_with(&["a.1", "b.1", "a.2", "a.2.x", "b.2", "a.3"]);
    let mut c = new_state(with_filters(&["a.*"]), DeliverStart::All, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 3, 6]);
    assert_eq!(c.num_pending(&s).unwrap(), 0);
}

#[test]
fn multiple_filter_subjects_interleave_in_stream_order() {
    let s = store_with(&["a", "b", "c", "b", "a", "d", "c.x"]);
    let mut c = new_state(with_filters(&["a", "c.>", "b"]), DeliverStart::All, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 5);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 2, 4, 5, 7]);
}

#[test]
fn full_wildcard_filter_is_no_filter() {
    let s = store_with(&["a", "b.c"]);
    let mut c = new_state(with_filters(&[">"]), DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 2]);
}

#[test]
fn new_messages_are_delivered_after_catching_up() {
    let mut s = store_with(&["a", "b"]);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1]);
    // The scan went past the non-matching tail.
    assert_eq!(c.delivered(), pair(1, 2));
    s.append("b", None, b"", T0).unwrap();
    s.append("a", None, b"", T0).unwrap();
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.consumer_seq, d.pending), (4, 2, 0));
}

#[test]
fn peek_does_not_deliver() {
    let s = store_with(&["a", "b"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    assert_eq!(c.peek_next(&s, T0).unwrap().unwrap().seq, 1);
    assert_eq!(c.peek_next(&s, T0).unwrap().unwrap().seq, 1);
    assert_eq!(c.num_ack_pending(), 0);
    assert_eq!(next(&mut c, &s, T0).unwrap().stream_seq, 1);
    // A due redelivery is what peek shows next.
    c.nak(1, None, T0);
    assert_eq!(c.peek_next(&s, T0).unwrap().unwrap().seq, 1);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.deliveries), (1, 2));
}

// ---- acks and the floor ----

#[test]
fn explicit_ack_moves_the_floor_only_when_contiguous() {
    let s = store_with(&["a", "a", "a", "a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    assert_eq!(c.ack_floor(), pair(0, 0));
    assert_eq!(drain(&mut c, &s, T0), vec![1, 2, 3, 4, 5]);
    assert_eq!(c.ack_floor(), pair(0, 0));

    assert_eq!(c.ack(2, T0 + 1).acked, vec![2]);
    assert_eq!(c.ack_floor(), pair(0, 0));
    assert_eq!(pending_seqs(&c), vec![1, 3, 4, 5]);
    assert_eq!(c.ack(1, T0 + 2).acked, vec![1]);
    assert_eq!(c.ack_floor(), pair(2, 2));
    assert_eq!(c.ack(4, T0 + 3).acked, vec![4]);
    assert_eq!(c.ack_floor(), pair(2, 2));
    assert_eq!(c.ack(3, T0 + 4).acked, vec![3]);
    assert_eq!(c.ack_floor(), pair(4, 4));
    // Double ack: nothing changes.
    assert!(!c.ack(3, T0 + 5).changed());
    assert_eq!(c.last_ack_ns(), Some(T0 + 4));
    assert_eq!(c.ack(5, T0 + 6).acked, vec![5]);
    assert_eq!(c.ack_floor(), pair(5, 5));
    assert_eq!(c.num_ack_pending(), 0);
    // Acks of what was never delivered do nothing.
    assert!(!c.ack(6, T0).changed());
    assert!(!c.ack(0, T0).changed());
}

#[test]
fn floor_skips_messages_the_filter_does_not_match() {
    let s = store_with(&["a", "b", "a", "b"]);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 3]);
    assert_eq!(c.delivered(), pair(2, 4));
    assert!(c.ack(1, T0).changed());
    // 2 was never ours: the floor stops right below the next pending, 3.
    assert_eq!(c.ack_floor(), pair(1, 2));
    assert!(c.ack(3, T0).changed());
    assert_eq!(c.ack_floor(), pair(2, 4));
}

#[test]
fn floor_counts_the_first_delivery_consumer_seq() {
    let s = store_with(&["a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    c.nak(1, None, T0);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.consumer_seq, d.deliveries), (1, 3, 2));
    assert_eq!(c.pending()[&1].consumer_seq, 1);
    assert!(c.ack(1, T0).changed());
    assert_eq!(c.ack_floor(), pair(1, 1));
    assert!(c.ack(2, T0).changed());
    assert_eq!(c.ack_floor(), pair(3, 2));
}

#[test]
fn ack_all_acks_everything_up_to_it() {
    let s = store_with(&["a", "b", "a", "a", "a"]);
    let policy = ConsumerPolicy {
        ack_policy: AckPolicy::All,
        ..with_filters(&["a"])
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 3, 4, 5]);
    assert_eq!(c.ack(3, T0).acked, vec![1, 3]);
    assert_eq!(c.ack_floor(), pair(2, 3));
    // At or below the floor, or beyond what was delivered: nothing.
    assert!(!c.ack(2, T0).changed());
    assert!(!c.ack(3, T0).changed());
    assert!(!c.ack(9, T0).changed());
    assert_eq!(pending_seqs(&c), vec![4, 5]);
    assert_eq!(c.ack(5, T0).acked, vec![4, 5]);
    assert_eq!(c.ack_floor(), c.delivered());
    assert_eq!(c.num_ack_pending(), 0);
}

#[test]
fn ack_all_on_a_sequence_the_filter_skips() {
    let s = store_with(&["a", "b", "a"]);
    let policy = ConsumerPolicy {
        ack_policy: AckPolicy::All,
        ..with_filters(&["a"])
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert_eq!(c.ack(2, T0).acked, vec![1]);
    assert_eq!(c.ack_floor(), pair(1, 2));
}

#[test]
fn ack_none_counts_deliveries_as_acked() {
    let s = store_with(&["a", "b", "c"]);
    let policy = ConsumerPolicy {
        ack_policy: AckPolicy::None,
        max_ack_pending: 1,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 2, 3]);
    assert_eq!(c.num_ack_pending(), 0);
    assert_eq!(c.ack_floor(), c.delivered());
    assert_eq!(c.ack_floor(), pair(3, 3));
    assert!(!c.ack(1, T0).changed());
    assert!(!c.nak(1, None, T0));
    assert!(!c.progress(1, T0));
    assert!(!c.term(1, T0).changed());
    assert!(next(&mut c, &s, T0 + 100 * SEC).is_none());
    assert_eq!(c.next_deadline(), None);
}

// ---- redelivery ----

#[test]
fn redelivers_after_ack_wait() {
    let s = store_with(&["a", "b"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    next(&mut c, &s, T0).unwrap();
    next(&mut c, &s, T0 + SEC).unwrap();
    assert_eq!(c.next_deadline(), Some(T0 + 10 * SEC));
    assert!(next(&mut c, &s, T0 + 10 * SEC - 1).is_none());
    assert!(!c.has_redeliveries());
    let d = next(&mut c, &s, T0 + 10 * SEC).unwrap();
    assert_eq!(
        (d.stream_seq, d.consumer_seq, d.deliveries, d.pending),
        (1, 3, 2, 0)
    );
    assert_eq!(c.pending()[&1].timestamp_ns, T0 + 10 * SEC);
    assert_eq!(c.pending()[&1].deadline_ns, T0 + 20 * SEC);
    assert_eq!(c.num_redelivered(), 1);
    assert_eq!(c.next_deadline(), Some(T0 + 11 * SEC));
    assert!(next(&mut c, &s, T0 + 10 * SEC).is_none());
    let d = next(&mut c, &s, T0 + 11 * SEC).unwrap();
    assert_eq!((d.stream_seq, d.consumer_seq, d.deliveries), (2, 4, 2));
    assert_eq!(c.num_redelivered(), 2);
    assert_eq!(c.delivered(), pair(4, 2));
    assert_eq!(c.ack_floor(), pair(0, 0));
}

#[test]
fn check_pending_queues_for_the_timer() {
    let s = store_with(&["a", "b"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert!(!c.check_pending(T0 + 9 * SEC));
    assert!(c.check_pending(T0 + 10 * SEC));
    assert!(c.has_redeliveries());
    assert_eq!(c.next_deadline(), None);
    // A late +WPI does not save a message already queued.
    assert!(!c.progress(1, T0 + 10 * SEC));
    assert_eq!(drain(&mut c, &s, T0 + 10 * SEC), vec![1, 2]);
}

#[test]
fn redeliveries_come_before_new_messages_in_stream_order() {
    let mut s = store_with(&["a", "a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    s.append("a", None, b"", T0).unwrap();
    assert!(c.nak(3, None, T0));
    assert!(c.nak(1, None, T0));
    assert_eq!(drain(&mut c, &s, T0), vec![1, 3, 4]);
}

#[test]
fn nak_redelivers_at_once() {
    let s = store_with(&["a", "a", "a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    for _ in 0..3 {
        next(&mut c, &s, T0).unwrap();
    }
    assert!(c.nak(2, None, T0 + SEC));
    assert!(!c.nak(2, None, T0 + SEC), "already queued");
    assert!(!c.nak(4, None, T0 + SEC), "not delivered");
    let d = next(&mut c, &s, T0 + SEC).unwrap();
    assert_eq!((d.stream_seq, d.deliveries, d.consumer_seq), (2, 2, 4));
    assert_eq!(c.pending()[&2].deadline_ns, T0 + 11 * SEC);
    assert_eq!(next(&mut c, &s, T0 + SEC).unwrap().stream_seq, 4);
    // A zero or negative delay is a plain nak.
    assert!(c.nak(1, Some(0), T0 + SEC));
    assert!(c.nak(3, Some(-5), T0 + SEC));
    assert_eq!(drain(&mut c, &s, T0 + SEC), vec![1, 3]);
}

#[test]
fn nak_with_delay() {
    let s = store_with(&["a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    next(&mut c, &s, T0).unwrap();
    assert!(c.nak(1, Some(3 * SEC), T0 + SEC));
    assert_eq!(c.next_deadline(), Some(T0 + 4 * SEC));
    assert_eq!(next(&mut c, &s, T0 + 2 * SEC).unwrap().stream_seq, 2);
    assert!(next(&mut c, &s, T0 + 4 * SEC - 1).is_none());
    let d = next(&mut c, &s, T0 + 4 * SEC).unwrap();
    assert_eq!((d.stream_seq, d.deliveries), (1, 2));
    // A delayed nak takes a queued message off the queue.
    assert!(c.nak(2, None, T0 + 4 * SEC));
    assert!(c.nak(2, Some(SEC), T0 + 4 * SEC));
    assert!(!c.has_redeliveries());
    assert!(next(&mut c, &s, T0 + 4 * SEC).is_none());
    assert_eq!(next(&mut c, &s, T0 + 5 * SEC).unwrap().stream_seq, 2);
}

#[test]
fn progress_restarts_the_ack_wait() {
    let s = store_with(&["a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    next(&mut c, &s, T0).unwrap();
    assert!(c.progress(1, T0 + 8 * SEC));
    assert_eq!(c.next_deadline(), Some(T0 + 18 * SEC));
    assert!(next(&mut c, &s, T0 + 10 * SEC).is_none());
    assert!(next(&mut c, &s, T0 + 18 * SEC - 1).is_none());
    assert_eq!(next(&mut c, &s, T0 + 18 * SEC).unwrap().deliveries, 2);
    assert!(!c.progress(7, T0), "not pending");
}

#[test]
fn term_stops_redelivery_and_counts_as_acked() {
    let s = store_with(&["a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert_eq!(c.term(1, T0).acked, vec![1]);
    assert!(!c.term(1, T0).changed());
    assert_eq!(c.ack_floor(), pair(1, 1));
    assert_eq!(drain(&mut c, &s, T0 + 10 * SEC), vec![2]);
    assert_eq!(drain(&mut c, &s, T0 + 100 * SEC), vec![2]);
    assert!(c.term(2, T0).changed());
    assert!(drain(&mut c, &s, T0 + 1000 * SEC).is_empty());
    assert_eq!(c.ack_floor(), c.delivered());
}

#[test]
fn term_with_ack_all_acks_up_to_it() {
    let s = store_with(&["a", "a", "a"]);
    let policy = ConsumerPolicy {
        ack_policy: AckPolicy::All,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert_eq!(c.term(2, T0).acked, vec![1, 2]);
    assert_eq!(pending_seqs(&c), vec![3]);
}

#[test]
fn max_deliver_stops_redelivery() {
    let s = store_with(&["a", "a"]);
    let policy = ConsumerPolicy {
        max_deliver: 2,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert!(c.ack(2, T0).changed());
    assert_eq!(next(&mut c, &s, T0 + 10 * SEC).unwrap().deliveries, 2);
    assert!(c.take_events().is_empty());
    // Second deadline: no third delivery.
    assert!(next(&mut c, &s, T0 + 20 * SEC).is_none());
    assert_eq!(
        c.take_events(),
        vec![Event::MaxDeliveries {
            stream_seq: 1,
            deliveries: 2
        }]
    );
    assert_eq!(c.num_ack_pending(), 0);
    assert_eq!(c.exhausted().get(&1), Some(&2));
    assert_eq!(c.num_redelivered(), 1);
    // The floor moves past it (nats-server), but it is still un-acked for retention.
    assert_eq!(c.ack_floor(), c.delivered());
    assert!(c.needs_ack(1, "a"));
    assert_eq!(c.next_deadline(), None);
    assert!(drain(&mut c, &s, T0 + 100 * SEC).is_empty());
    assert!(c.take_events().is_empty(), "advisory only once");
    // A late ack clears it.
    assert_eq!(c.ack(1, T0 + 100 * SEC).acked, vec![1]);
    assert!(!c.needs_ack(1, "a"));
    assert_eq!(c.num_redelivered(), 0);
}

#[test]
fn max_deliver_one_and_nak_at_the_limit() {
    let s = store_with(&["a", "a"]);
    let policy = ConsumerPolicy {
        max_deliver: 1,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    drain(&mut c, &s, T0);
    assert!(c.nak(1, None, T0));
    assert_eq!(
        c.take_events(),
        vec![Event::MaxDeliveries {
            stream_seq: 1,
            deliveries: 1
        }]
    );
    assert!(!c.nak(1, None, T0));
    assert_eq!(pending_seqs(&c), vec![2]);
    assert!(drain(&mut c, &s, T0 + 10 * SEC).is_empty());
    assert_eq!(
        c.exhausted().keys().copied().collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(c.num_ack_pending(), 0);
    assert_eq!(c.term(2, T0).acked, vec![2]);
}

#[test]
fn backoff_sets_each_attempts_deadline() {
    let s = store_with(&["a"]);
    let policy = ConsumerPolicy {
        backoff_ns: vec![SEC, 5 * SEC, 20 * SEC],
        ..explicit()
    };
    assert_eq!(policy.ack_wait_for(1), SEC);
    assert_eq!(policy.ack_wait_for(3), 20 * SEC);
    assert_eq!(policy.ack_wait_for(9), 20 * SEC);
    let mut c = new_state(policy, DeliverStart::All, &s);
    let mut now = T0;
    let mut expected = vec![];
    for (attempt, wait) in [(1, SEC), (2, 5 * SEC), (3, 20 * SEC), (4, 20 * SEC)] {
        let d = next(&mut c, &s, now).unwrap();
        assert_eq!(d.deliveries, attempt);
        expected.push(now + wait);
        assert_eq!(c.next_deadline(), Some(now + wait));
        assert!(next(&mut c, &s, now + wait - 1).is_none());
        now += wait;
    }
    assert_eq!(
        expected,
        vec![T0 + SEC, T0 + 6 * SEC, T0 + 26 * SEC, T0 + 46 * SEC]
    );
    // A nak without delay ignores backoff.
    assert!(c.nak(1, None, now - SEC));
    assert_eq!(next(&mut c, &s, now - SEC).unwrap().deliveries, 5);
}

#[test]
fn no_ack_wait_means_no_timed_redelivery() {
    let s = store_with(&["a"]);
    let policy = ConsumerPolicy {
        ack_wait_ns: 0,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    next(&mut c, &s, T0).unwrap();
    assert_eq!(c.pending()[&1].deadline_ns, NO_DEADLINE);
    assert_eq!(c.next_deadline(), None);
    assert!(next(&mut c, &s, i64::MAX - 1).is_none());
    assert!(c.nak(1, None, T0));
    assert_eq!(next(&mut c, &s, T0).unwrap().deliveries, 2);
}

#[test]
fn max_ack_pending_blocks_new_deliveries_until_an_ack() {
    let s = store_with(&["a", "a", "a", "a"]);
    let policy = ConsumerPolicy {
        max_ack_pending: 2,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1, 2]);
    assert!(c.is_blocked());
    assert!(c.peek_next(&s, T0).unwrap().is_none());
    // Redeliveries still go out while blocked.
    assert!(c.nak(2, None, T0));
    assert_eq!(drain(&mut c, &s, T0), vec![2]);
    assert!(c.ack(1, T0).changed());
    assert!(!c.is_blocked());
    assert_eq!(drain(&mut c, &s, T0), vec![3]);
    // Max deliveries frees a slot too.
    let policy = ConsumerPolicy {
        max_ack_pending: 1,
        max_deliver: 1,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![1]);
    assert_eq!(drain(&mut c, &s, T0 + 10 * SEC), vec![2]);
}

// ---- the store changing underneath ----

#[test]
fn deleted_messages_are_skipped() {
    let mut s = store_with(&["a", "a", "a", "a", "a"]);
    let mut c = new_state(explicit(), DeliverStart::All, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 5);
    s.delete(2).unwrap();
    s.delete(5).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.pending), (1, 2));
    assert_eq!(next(&mut c, &s, T0).unwrap().stream_seq, 3);
    // A pending message deleted before its redelivery is dropped, as if terminated.
    s.delete(1).unwrap();
    let d = next(&mut c, &s, T0 + 10 * SEC).unwrap();
    assert_eq!((d.stream_seq, d.deliveries), (3, 2));
    assert_eq!(
        c.take_events(),
        vec![Event::DeletedWhilePending {
            stream_seq: 1,
            consumer_seq: 1,
            deliveries: 1
        }]
    );
    assert_eq!(pending_seqs(&c), vec![3]);
    assert_eq!(c.ack_floor(), pair(1, 2));
    assert_eq!(drain(&mut c, &s, T0 + 10 * SEC), vec![4]);
}

#[test]
fn reconcile_after_purge() {
    let mut s = store_with(&["a", "b", "a", "b", "a", "b"]);
    let policy = ConsumerPolicy {
        max_deliver: 1,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::All, &s);
    for _ in 0..3 {
        next(&mut c, &s, T0).unwrap();
    }
    c.nak(1, None, T0); // exhausted
    s.purge(&Purge {
        filter: None,
        up_to_seq: Some(3),
        keep: None,
    })
    .unwrap();
    s.purge(&Purge {
        filter: Some("b".into()),
        up_to_seq: None,
        keep: None,
    })
    .unwrap();
    assert_eq!(c.reconcile(&s).unwrap(), vec![2]);
    assert_eq!(pending_seqs(&c), vec![3]);
    assert!(c.exhausted().is_empty());
    assert_eq!(c.ack_floor(), pair(2, 2));
    // Purging everything moves the next sequence past the end.
    s.purge(&Purge::default()).unwrap();
    assert_eq!(c.reconcile(&s).unwrap(), vec![3]);
    assert_eq!(c.delivered(), pair(3, 6));
    assert_eq!(c.ack_floor(), pair(3, 6));
    assert_eq!(c.num_pending(&s).unwrap(), 0);
    s.append("a", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![7]);
}

// ---- start positions ----

fn start_seq(start: DeliverStart, policy: ConsumerPolicy, s: &MemoryStore) -> Vec<u64> {
    let mut c = new_state(policy, start, s);
    drain(&mut c, s, T0)
}

#[test]
fn deliver_all_and_new() {
    let mut s = store_with(&["a", "b", "a"]);
    s.delete(1).unwrap();
    assert_eq!(start_seq(DeliverStart::All, explicit(), &s), vec![2, 3]);
    let mut c = new_state(explicit(), DeliverStart::New, &s);
    assert_eq!(c.delivered(), pair(0, 3));
    // Nothing delivered yet: the floor is (0, 0), as nats-server reports it.
    assert_eq!(c.ack_floor(), pair(0, 0));
    assert!(next(&mut c, &s, T0).is_none());
    s.append("a", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![4]);
}

#[test]
fn deliver_last() {
    let mut s = store_with(&["a", "b", "a", "c", "b"]);
    assert_eq!(start_seq(DeliverStart::Last, explicit(), &s), vec![5]);
    assert_eq!(
        start_seq(DeliverStart::Last, with_filters(&["a"]), &s),
        vec![3]
    );
    // Several filters: the newest of their last messages, then what follows.
    assert_eq!(
        start_seq(DeliverStart::Last, with_filters(&["a", "c"]), &s),
        vec![4]
    );
    assert_eq!(
        start_seq(DeliverStart::Last, with_filters(&["zz"]), &s),
        Vec::<u64>::new()
    );
    // The newest present message, even when the last sequence was deleted.
    s.delete(5).unwrap();
    assert_eq!(start_seq(DeliverStart::Last, explicit(), &s), vec![4]);
    let mut c = new_state(with_filters(&["zz"]), DeliverStart::Last, &s);
    s.append("zz", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![6]);
}

#[test]
fn deliver_by_start_seq() {
    let mut s = store_with(&["a", "b", "a", "b", "a"]);
    assert_eq!(
        start_seq(DeliverStart::ByStartSeq(3), explicit(), &s),
        vec![3, 4, 5]
    );
    assert_eq!(
        start_seq(DeliverStart::ByStartSeq(2), with_filters(&["a"]), &s),
        vec![3, 5]
    );
    s.delete(1).unwrap();
    s.delete(2).unwrap();
    let c = new_state(explicit(), DeliverStart::ByStartSeq(1), &s);
    assert_eq!(c.delivered(), pair(0, 2), "moved up to the first sequence");
    // Beyond the end: clamped to the next sequence (nats-server v2.9's selectStartingSeqNo).
    let mut c = new_state(explicit(), DeliverStart::ByStartSeq(8), &s);
    assert_eq!(c.delivered(), pair(0, 5));
    for _ in 0..4 {
        s.append("a", None, b"", T0).unwrap();
    }
    assert_eq!(drain(&mut c, &s, T0), vec![6, 7, 8, 9]);
}

#[test]
fn deliver_by_start_time() {
    let mut s = store_with(&["a", "b", "a", "b", "a", "b", "a"]);
    let at = |i: i64| T0 + i * SEC;
    assert_eq!(
        start_seq(DeliverStart::ByStartTime(at(3)), explicit(), &s),
        vec![4, 5, 6, 7]
    );
    assert_eq!(
        start_seq(DeliverStart::ByStartTime(at(3) - 1), explicit(), &s),
        vec![4, 5, 6, 7]
    );
    assert_eq!(
        start_seq(
            DeliverStart::ByStartTime(at(3) + 1),
            with_filters(&["a"]),
            &s
        ),
        vec![5, 7]
    );
    assert_eq!(
        start_seq(DeliverStart::ByStartTime(0), explicit(), &s).len(),
        7
    );
    assert!(start_seq(DeliverStart::ByStartTime(at(7)), explicit(), &s).is_empty());
    // With gaps.
    for seq in [3, 4, 5] {
        s.delete(seq).unwrap();
    }
    assert_eq!(
        start_seq(DeliverStart::ByStartTime(at(2)), explicit(), &s),
        vec![6, 7]
    );
    assert_eq!(
        start_seq(DeliverStart::ByStartTime(at(1)), explicit(), &s),
        vec![2, 6, 7]
    );
    // Exhaustively against a linear scan.
    let present: Vec<(u64, i64)> = (1..=7)
        .filter_map(|q| s.get(q).unwrap().map(|m| (q, m.time_ns)))
        .collect();
    for t in (T0 - SEC..=T0 + 8 * SEC).step_by((SEC / 2) as usize) {
        let want: Vec<u64> = present
            .iter()
            .filter(|(_, ts)| *ts >= t)
            .map(|p| p.0)
            .collect();
        assert_eq!(
            start_seq(DeliverStart::ByStartTime(t), explicit(), &s),
            want
        );
    }
}

#[test]
fn deliver_last_per_subject() {
    let mut s = store_with(&["a", "b", "a", "c", "b", "a", "d.x"]);
    let mut c = new_state(explicit(), DeliverStart::LastPerSubject, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 4);
    assert_eq!(c.delivered(), pair(0, 3));
    s.append("a", None, b"", T0).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 5);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.pending), (4, 4));
    assert_eq!(drain(&mut c, &s, T0), vec![5, 6, 7, 8]);
    assert_eq!(c.num_pending(&s).unwrap(), 0);

    // Filtered, with one of the last messages deleted before its turn.
    let mut c = new_state(
        with_filters(&["a", "b", "d.*"]),
        DeliverStart::LastPerSubject,
        &s,
    );
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    assert!(c.needs_ack(5, "b"));
    assert!(!c.needs_ack(2, "b"), "superseded, never delivered");
    s.delete(7).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 2);
    s.append("c", None, b"", T0).unwrap();
    s.append("b", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![5, 8, 10]);

    // Nothing matches: only new messages.
    let mut c = new_state(with_filters(&["zz"]), DeliverStart::LastPerSubject, &s);
    s.append("zz", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![11]);
}

#[test]
fn last_per_subject_respects_max_ack_pending_and_acks() {
    let s = store_with(&["a", "b", "a", "b", "c"]);
    let policy = ConsumerPolicy {
        max_ack_pending: 1,
        ..explicit()
    };
    let mut c = new_state(policy, DeliverStart::LastPerSubject, &s);
    assert_eq!(drain(&mut c, &s, T0), vec![3]);
    assert!(c.ack(3, T0).changed());
    assert_eq!(c.ack_floor(), pair(1, 3));
    assert_eq!(drain(&mut c, &s, T0), vec![4]);
    assert!(c.ack(4, T0).changed());
    assert_eq!(drain(&mut c, &s, T0), vec![5]);
    assert!(c.ack(5, T0).changed());
    assert!(drain(&mut c, &s, T0).is_empty());
    assert_eq!(c.ack_floor(), pair(3, 5));
}

#[test]
fn every_start_on_an_empty_stream_delivers_only_new() {
    let mut s = MemoryStore::new();
    let starts = [
        DeliverStart::All,
        DeliverStart::Last,
        DeliverStart::New,
        DeliverStart::ByStartTime(0),
        DeliverStart::LastPerSubject,
    ];
    let mut cs: Vec<ConsumerState> = starts
        .iter()
        .map(|&st| new_state(explicit(), st, &s))
        .collect();
    s.append("a", None, b"", T0).unwrap();
    for c in &mut cs {
        assert_eq!(c.delivered(), pair(0, 0));
        assert_eq!(drain(c, &s, T0), vec![1]);
    }
    // A purged stream is empty too.
    s.purge(&Purge::default()).unwrap();
    let mut cs: Vec<ConsumerState> = starts
        .iter()
        .map(|&st| new_state(explicit(), st, &s))
        .collect();
    s.append("a", None, b"", T0).unwrap();
    for c in &mut cs {
        assert_eq!(drain(c, &s, T0), vec![2]);
    }
}

#[test]
fn reconcile_drops_purged_start_list_entries() {
    let mut s = store_with(&["a", "b", "a", "b", "c"]);
    let mut c = new_state(explicit(), DeliverStart::LastPerSubject, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    s.purge(&Purge {
        filter: Some("b".into()),
        up_to_seq: None,
        keep: None,
    })
    .unwrap();
    assert!(c.reconcile(&s).unwrap().is_empty());
    assert_eq!(c.num_pending(&s).unwrap(), 2);
    assert!(!c.needs_ack(4, "b"));
    s.purge(&Purge::default()).unwrap();
    c.reconcile(&s).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 0);
    assert_eq!(c.delivered(), pair(0, 5));
    s.append("a", None, b"", T0).unwrap();
    assert_eq!(drain(&mut c, &s, T0), vec![6]);
}

#[test]
fn set_policy_applies_from_now_on() {
    let s = store_with(&["a", "b", "a", "b"]);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert_eq!(next(&mut c, &s, T0).unwrap().stream_seq, 1);
    c.set_policy(ConsumerPolicy {
        ack_wait_ns: 2 * SEC,
        ..with_filters(&["b"])
    });
    assert_eq!(c.policy().ack_wait_ns, 2 * SEC);
    assert_eq!(c.num_pending(&s).unwrap(), 2);
    let d = next(&mut c, &s, T0).unwrap();
    assert_eq!((d.stream_seq, d.pending), (2, 1));
    // The old deadline stays, the new delivery gets the new wait.
    assert_eq!(c.pending()[&1].deadline_ns, T0 + 10 * SEC);
    assert_eq!(c.pending()[&2].deadline_ns, T0 + 2 * SEC);
}

// ---- num_pending and needs_ack ----

#[test]
fn num_pending_is_exact_through_appends_and_deletes() {
    let mut s = store_with(&["a", "b", "a", "b"]);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert_eq!(c.num_pending(&s).unwrap(), 2);
    s.append("a", None, b"", T0).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 3);
    assert_eq!(next(&mut c, &s, T0).unwrap().pending, 2);
    s.delete(3).unwrap();
    assert_eq!(next(&mut c, &s, T0).unwrap().pending, 0);
    s.append("b", None, b"", T0).unwrap();
    assert_eq!(c.num_pending(&s).unwrap(), 0);
}

#[test]
fn num_pending_estimate_on_a_large_backlog() {
    let subjects: Vec<&str> = (0..6000)
        .map(|i| if i % 2 == 0 { "a" } else { "b" })
        .collect();
    let mut s = store_with(&subjects);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert_eq!(next(&mut c, &s, T0).unwrap().pending, 2999);
    // Undelivered messages disappear: a delivery estimates (never below the truth)...
    for seq in (3..200).step_by(2) {
        s.delete(seq).unwrap();
    }
    let d = next(&mut c, &s, T0).unwrap();
    let exact = c.num_pending(&s).unwrap();
    assert_eq!(exact, 2999 - 99 - 1);
    assert!(d.pending >= exact && d.pending <= 2998);
    // ...and an exact count resets the estimate.
    assert_eq!(next(&mut c, &s, T0).unwrap().pending, exact - 1);
}

#[test]
fn needs_ack_for_interest_retention() {
    let s = store_with(&["a", "b", "a", "a"]);
    let mut c = new_state(with_filters(&["a"]), DeliverStart::All, &s);
    assert!(c.needs_ack(1, "a"));
    assert!(!c.needs_ack(2, "b"));
    next(&mut c, &s, T0).unwrap();
    next(&mut c, &s, T0).unwrap();
    assert!(c.ack(1, T0).changed());
    assert!(!c.needs_ack(1, "a"));
    assert!(c.needs_ack(3, "a"), "pending");
    assert!(c.needs_ack(4, "a"), "not yet delivered");
    assert!(c.needs_ack(99, "a"), "future");
}

// ---- persistence ----

/// A consumer with a bit of everything: pending, queued, delayed, exhausted, a start list.
fn busy(s: &mut MemoryStore) -> (ConsumerPolicy, ConsumerState) {
    for subj in ["a", "b", "a", "c", "b", "a", "c", "d", "e"] {
        s.append(subj, None, b"x", T0).unwrap();
    }
    let policy = ConsumerPolicy {
        max_deliver: 2,
        backoff_ns: vec![2 * SEC, 4 * SEC],
        max_ack_pending: 4,
        ..explicit()
    };
    // Start list: 5 (b), 6 (a), 7 (c), 8 (d), 9 (e); then 10 onwards.
    let mut c = ConsumerState::new(policy.clone(), DeliverStart::LastPerSubject, &*s).unwrap();
    s.append("b", None, b"y", T0).unwrap();
    s.append("a", None, b"y", T0).unwrap();
    assert_eq!(next(&mut c, s, T0).unwrap().stream_seq, 5);
    assert_eq!(next(&mut c, s, T0 + 1).unwrap().stream_seq, 6);
    assert_eq!(next(&mut c, s, T0 + 2).unwrap().stream_seq, 7);
    assert!(c.nak(7, None, T0 + 3));
    assert_eq!(next(&mut c, s, T0 + 3).unwrap().deliveries, 2);
    assert!(c.nak(7, None, T0 + 3)); // exhausted
    assert!(c.nak(5, None, T0 + 3));
    assert!(c.nak(6, Some(7 * SEC), T0 + 3));
    assert_eq!(c.take_events().len(), 1);
    (policy, c)
}

fn run_script(c: &mut ConsumerState, s: &mut MemoryStore) -> Vec<String> {
    let mut log = Vec::new();
    let mut now = T0 + 5;
    for step in 0..60u64 {
        now += SEC / 2;
        if step % 7 == 3 {
            s.append(if step % 2 == 0 { "a" } else { "c" }, None, b"z", now)
                .unwrap();
        }
        if let Some(d) = next(c, s, now) {
            log.push(format!(
                "d {} {} {} {}",
                d.stream_seq, d.consumer_seq, d.deliveries, d.pending
            ));
            match step % 5 {
                0 => log.push(format!("a {:?}", c.ack(d.stream_seq, now))),
                1 => log.push(format!("n {}", c.nak(d.stream_seq, Some(SEC), now))),
                2 => log.push(format!("t {:?}", c.term(d.stream_seq, now))),
                _ => {}
            }
        }
        log.push(format!(
            "s {:?} {:?} {:?} {} {}",
            c.take_events(),
            c.ack_floor(),
            c.next_deadline(),
            c.num_pending(s).unwrap(),
            c.num_redelivered()
        ));
    }
    log
}

#[test]
fn persistence_round_trip_gives_identical_future() {
    let mut s = MemoryStore::new();
    let (policy, mut c) = busy(&mut s);
    let snap = c.snapshot();
    assert_eq!(snap.pending.keys().copied().collect::<Vec<_>>(), vec![5, 6]);
    assert_eq!(snap.redeliver, vec![5]);
    assert_eq!(snap.skip, vec![8, 9]);
    assert_eq!(snap.exhausted.len(), 1);

    let bytes = c.encode();
    let mut from_bin = ConsumerState::decode(policy.clone(), &bytes).unwrap();
    assert_eq!(from_bin.snapshot(), snap);
    let json = serde_json::to_string(&snap).unwrap();
    let back: ConsumerSnapshot = serde_json::from_str(&json).unwrap();
    let mut from_json = ConsumerState::restore(policy, back);
    assert_eq!(from_json.snapshot(), snap);
    assert!(
        bytes.len() < json.len() / 3,
        "{} vs {}",
        bytes.len(),
        json.len()
    );

    let mut s2 = MemoryStore::new();
    let mut s3 = MemoryStore::new();
    let _ = busy(&mut s2);
    let _ = busy(&mut s3);
    let want = run_script(&mut c, &mut s);
    assert_eq!(run_script(&mut from_bin, &mut s2), want);
    assert_eq!(run_script(&mut from_json, &mut s3), want);
    assert!(want
        .iter()
        .any(|l| l.starts_with("d ") && !l.ends_with(" 1 0")));
}

#[test]
fn decode_rejects_damage() {
    let mut s = MemoryStore::new();
    let (policy, c) = busy(&mut s);
    let bytes = c.encode();
    assert_eq!(
        ConsumerState::decode(policy.clone(), &[]).unwrap_err(),
        DecodeError::BadMagic
    );
    assert_eq!(
        ConsumerState::decode(policy.clone(), b"{}").unwrap_err(),
        DecodeError::BadMagic
    );
    let mut v2 = bytes.clone();
    v2[1] = 9;
    assert_eq!(
        ConsumerState::decode(policy.clone(), &v2).unwrap_err(),
        DecodeError::Version(9)
    );
    for n in 2..bytes.len() {
        assert!(ConsumerState::decode(policy.clone(), &bytes[..n]).is_err());
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(ConsumerState::decode(policy.clone(), &long).is_err());
    // A fresh consumer encodes in a few bytes.
    let fresh = new_state(explicit(), DeliverStart::All, &s);
    assert!(fresh.encode().len() < 16);
    assert_eq!(
        ConsumerState::decode(policy, &fresh.encode())
            .unwrap()
            .snapshot(),
        fresh.snapshot()
    );
}

// ---- random operation sequences against a model ----

const SUBJECTS: [&str; 4] = ["a.x", "a.y", "b.z", "c"];
const FILTER_SETS: [&[&str]; 4] = [&[], &["a.*"], &["a.x", "b.>"], &["c"]];

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Delete(u64),
    Deliver,
    Peek,
    Ack(u64),
    Nak(u64, Option<i64>),
    Progress(u64),
    Term(u64),
    Advance(i64),
    CheckPending,
    Reconcile,
    RoundTrip(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SUBJECTS.len()).prop_map(Op::Publish),
        2 => (1u64..24).prop_map(Op::Delete),
        8 => Just(Op::Deliver),
        1 => Just(Op::Peek),
        4 => (0u64..24).prop_map(Op::Ack),
        2 => (0u64..24, prop_oneof![Just(None), Just(Some(0)), Just(Some(-1)), Just(Some(4))])
            .prop_map(|(s, d)| Op::Nak(s, d)),
        1 => (0u64..24).prop_map(Op::Progress),
        1 => (0u64..24).prop_map(Op::Term),
        4 => (0i64..15).prop_map(Op::Advance),
        1 => Just(Op::CheckPending),
        1 => Just(Op::Reconcile),
        1 => any::<bool>().prop_map(Op::RoundTrip),
    ]
}

fn policy_strategy() -> impl Strategy<Value = ConsumerPolicy> {
    (
        prop_oneof![
            Just(AckPolicy::Explicit),
            Just(AckPolicy::All),
            Just(AckPolicy::None)
        ],
        prop_oneof![Just(0i64), Just(5), Just(10)],
        prop_oneof![Just(-1i64), Just(1), Just(2), Just(3)],
        prop_oneof![Just(vec![]), Just(vec![3i64, 7]), Just(vec![2i64])],
        prop_oneof![Just(-1i64), Just(1), Just(3)],
        0..FILTER_SETS.len(),
    )
        .prop_map(
            |(ack_policy, ack_wait_ns, max_deliver, backoff_ns, max_ack_pending, f)| {
                ConsumerPolicy {
                    ack_policy,
                    ack_wait_ns,
                    max_deliver,
                    backoff_ns,
                    max_ack_pending,
                    filter_subjects: FILTER_SETS[f].iter().map(|s| s.to_string()).collect(),
                }
            },
        )
}

#[derive(Debug, Clone, Copy)]
struct MPending {
    consumer_seq: u64,
    deliveries: u64,
    deadline: i64,
    queued: bool,
}

/// The rules written out plainly: linear scans, no indexes, no caches.
struct Model {
    p: ConsumerPolicy,
    now: i64,
    pending: BTreeMap<u64, MPending>,
    exhausted: BTreeMap<u64, u64>,
    /// Acked, terminated or dropped: must never be delivered again.
    finished: BTreeSet<u64>,
    deliveries: HashMap<u64, u64>,
    /// Next stream sequence to look at for a new message.
    cursor: u64,
    consumer_seq: u64,
    events: Vec<Event>,
}

impl Model {
    fn matches(&self, subject: &str) -> bool {
        self.p.filter_subjects.is_empty()
            || self
                .p
                .filter_subjects
                .iter()
                .any(|f| subject_matches(f, subject))
    }

    fn deadline(&self, deliveries: u64) -> i64 {
        let w = if self.p.backoff_ns.is_empty() {
            self.p.ack_wait_ns
        } else {
            self.p.backoff_ns[((deliveries - 1) as usize).min(self.p.backoff_ns.len() - 1)]
        };
        if w <= 0 {
            NO_DEADLINE
        } else {
            self.now + w
        }
    }

    fn at_max(&self, deliveries: u64) -> bool {
        self.p.max_deliver > 0 && deliveries >= self.p.max_deliver as u64
    }

    fn exhaust(&mut self, seq: u64) {
        let p = self.pending.remove(&seq).unwrap();
        self.exhausted.insert(seq, p.deliveries);
        self.events.push(Event::MaxDeliveries {
            stream_seq: seq,
            deliveries: p.deliveries,
        });
    }

    fn check(&mut self) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.queued && p.deadline <= self.now)
            .map(|(&s, _)| s)
            .collect();
        for seq in due {
            if self.at_max(self.pending[&seq].deliveries) {
                self.exhaust(seq);
            } else {
                self.pending.get_mut(&seq).unwrap().queued = true;
            }
        }
    }

    fn blocked(&self) -> bool {
        self.p.ack_policy != AckPolicy::None
            && self.p.max_ack_pending > 0
            && self.pending.len() >= self.p.max_ack_pending as usize
    }

    /// (seq, is_redelivery) of what is next, with the same housekeeping as the real thing.
    fn select(&mut self, s: &MemoryStore) -> Option<(u64, bool)> {
        self.check();
        let queued: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.queued)
            .map(|(&q, _)| q)
            .collect();
        for seq in queued {
            if s.get(seq).unwrap().is_some() {
                return Some((seq, true));
            }
            let p = self.pending.remove(&seq).unwrap();
            self.finished.insert(seq);
            self.events.push(Event::DeletedWhilePending {
                stream_seq: seq,
                consumer_seq: p.consumer_seq,
                deliveries: p.deliveries,
            });
        }
        if self.blocked() {
            return None;
        }
        let last = s.state().last_seq;
        for seq in self.cursor..=last {
            if let Some(m) = s.get(seq).unwrap() {
                if self.matches(&m.subject) {
                    return Some((seq, false));
                }
            }
        }
        self.cursor = self.cursor.max(last + 1);
        None
    }

    fn deliver(&mut self, s: &MemoryStore) -> Option<(u64, u64, u64)> {
        let (seq, redelivery) = self.select(s)?;
        self.consumer_seq += 1;
        *self.deliveries.entry(seq).or_default() += 1;
        if redelivery {
            let d = self.pending[&seq].deliveries + 1;
            let deadline = self.deadline(d);
            let p = self.pending.get_mut(&seq).unwrap();
            p.deliveries = d;
            p.deadline = deadline;
            p.queued = false;
        } else {
            self.cursor = seq + 1;
            if self.p.ack_policy != AckPolicy::None {
                let deadline = self.deadline(1);
                self.pending.insert(
                    seq,
                    MPending {
                        consumer_seq: self.consumer_seq,
                        deliveries: 1,
                        deadline,
                        queued: false,
                    },
                );
            }
        }
        let d = self.pending.get(&seq).map_or(1, |p| p.deliveries);
        Some((seq, self.consumer_seq, d))
    }

    fn delivered(&self) -> SeqPair {
        pair(self.consumer_seq, self.cursor - 1)
    }

    fn floor(&self) -> SeqPair {
        if self.consumer_seq == 0 {
            return pair(0, 0); // nothing delivered yet
        }
        match self.pending.iter().next() {
            Some((&seq, p)) => pair(p.consumer_seq - 1, seq - 1),
            None => self.delivered(),
        }
    }

    fn ack(&mut self, seq: u64) -> Vec<u64> {
        let acked: Vec<u64> = match self.p.ack_policy {
            AckPolicy::None => vec![],
            AckPolicy::Explicit => {
                let was =
                    self.pending.remove(&seq).is_some() | self.exhausted.remove(&seq).is_some();
                if was {
                    vec![seq]
                } else {
                    vec![]
                }
            }
            AckPolicy::All => {
                if seq <= self.floor().stream_seq || seq > self.delivered().stream_seq {
                    vec![]
                } else {
                    let mut v: Vec<u64> =
                        self.pending.keys().copied().filter(|&q| q <= seq).collect();
                    v.extend(self.exhausted.keys().copied().filter(|&q| q <= seq));
                    v.sort_unstable();
                    for q in &v {
                        self.pending.remove(q);
                        self.exhausted.remove(q);
                    }
                    v
                }
            }
        };
        self.finished.extend(acked.iter().copied());
        acked
    }

    fn nak(&mut self, seq: u64, delay: Option<i64>) -> bool {
        let Some(p) = self.pending.get(&seq).copied() else {
            return false;
        };
        if self.at_max(p.deliveries) {
            self.exhaust(seq);
            return true;
        }
        let now = self.now;
        let p = self.pending.get_mut(&seq).unwrap();
        match delay {
            Some(d) if d > 0 => {
                p.queued = false;
                p.deadline = now + d;
                true
            }
            _ if p.queued => false,
            _ => {
                p.queued = true;
                true
            }
        }
    }

    fn progress(&mut self, seq: u64) -> bool {
        match self.pending.get(&seq).copied() {
            Some(p) if !p.queued => {
                let deadline = self.deadline(p.deliveries);
                self.pending.get_mut(&seq).unwrap().deadline = deadline;
                true
            }
            _ => false,
        }
    }

    fn reconcile(&mut self, s: &MemoryStore) -> Vec<u64> {
        let gone = |q: &u64| s.get(*q).unwrap().is_none();
        let dropped: Vec<u64> = self.pending.keys().copied().filter(gone).collect();
        for q in &dropped {
            self.pending.remove(q);
            self.finished.insert(*q);
        }
        let ex: Vec<u64> = self.exhausted.keys().copied().filter(gone).collect();
        for q in ex {
            self.exhausted.remove(&q);
        }
        self.cursor = self.cursor.max(s.state().first_seq);
        dropped
    }

    /// Present matching messages not yet considered.
    fn num_pending(&self, s: &MemoryStore) -> u64 {
        (self.cursor..=s.state().last_seq)
            .filter(|&q| s.get(q).unwrap().is_some_and(|m| self.matches(&m.subject)))
            .count() as u64
    }
}

fn sorted_events(mut e: Vec<Event>) -> Vec<String> {
    let mut v: Vec<String> = e.drain(..).map(|x| format!("{x:?}")).collect();
    v.sort();
    v
}

fn check_invariants(c: &ConsumerState, m: &Model, s: &MemoryStore, last_floor: &mut SeqPair) {
    let pend: Vec<(u64, u64, u64)> = c
        .pending()
        .iter()
        .map(|(&q, p)| (q, p.consumer_seq, p.deliveries))
        .collect();
    let mpend: Vec<(u64, u64, u64)> = m
        .pending
        .iter()
        .map(|(&q, p)| (q, p.consumer_seq, p.deliveries))
        .collect();
    assert_eq!(pend, mpend, "pending");
    assert_eq!(c.exhausted(), &m.exhausted, "exhausted");
    assert_eq!(c.delivered(), m.delivered(), "delivered");
    let floor = c.ack_floor();
    assert_eq!(floor, m.floor(), "ack floor");
    assert!(
        floor.stream_seq >= last_floor.stream_seq && floor.consumer_seq >= last_floor.consumer_seq,
        "ack floor went back: {last_floor:?} -> {floor:?}"
    );
    assert!(floor.stream_seq <= c.delivered().stream_seq);
    *last_floor = floor;
    if m.p.max_ack_pending > 0 && m.p.ack_policy != AckPolicy::None {
        assert!(c.num_ack_pending() <= m.p.max_ack_pending as u64);
    }
    assert_eq!(c.num_pending(s).unwrap(), m.num_pending(s), "num_pending");
    let redelivered = m.pending.values().filter(|p| p.deliveries > 1).count() + m.exhausted.len();
    assert_eq!(c.num_redelivered(), redelivered as u64);
    let deadline = m
        .pending
        .values()
        .filter(|p| !p.queued && p.deadline != NO_DEADLINE)
        .map(|p| p.deadline)
        .min();
    assert_eq!(c.next_deadline(), deadline, "next deadline");
    assert_eq!(c.has_redeliveries(), m.pending.values().any(|p| p.queued));
    for q in 1..=s.state().last_seq {
        let Some(msg) = s.get(q).unwrap() else {
            continue;
        };
        let want = m.matches(&msg.subject)
            && (m.pending.contains_key(&q) || m.exhausted.contains_key(&q) || q >= m.cursor);
        assert_eq!(c.needs_ack(q, &msg.subject), want, "needs_ack {q}");
    }
}

fn check_delivery(d: &Delivery, want: (u64, u64, u64), m: &Model, s: &MemoryStore) {
    assert_eq!(
        (d.stream_seq, d.consumer_seq, d.deliveries),
        want,
        "delivery"
    );
    assert!(m.matches(&d.msg.subject));
    assert_eq!(d.msg.seq, d.stream_seq);
    assert!(
        !m.finished.contains(&d.stream_seq),
        "delivered a finished message again"
    );
    if m.p.max_deliver > 0 {
        assert!(
            d.deliveries <= m.p.max_deliver as u64,
            "max_deliver exceeded"
        );
    }
    assert_eq!(d.pending, m.num_pending(s), "delivery pending");
}

fn run(policy: ConsumerPolicy, start: DeliverStart, initial: Vec<usize>, ops: Vec<Op>) {
    let mut s = MemoryStore::new();
    for &i in &initial {
        s.append(SUBJECTS[i], None, b"p", 0).unwrap();
    }
    let first = match start {
        DeliverStart::New => initial.len() as u64 + 1,
        // nats-server v2.9 clamps a start past the end to the next sequence.
        DeliverStart::ByStartSeq(q) => q.max(1).min(initial.len() as u64 + 1),
        _ => 1,
    };
    let mut c = ConsumerState::new(policy.clone(), start, &s).unwrap();
    let mut m = Model {
        p: policy.clone(),
        now: 0,
        pending: BTreeMap::new(),
        exhausted: BTreeMap::new(),
        finished: BTreeSet::new(),
        deliveries: HashMap::new(),
        cursor: first,
        consumer_seq: 0,
        events: vec![],
    };
    let mut last_floor = c.ack_floor();
    for op in ops {
        match op {
            Op::Publish(i) => {
                s.append(SUBJECTS[i], None, b"p", m.now).unwrap();
            }
            Op::Delete(q) => {
                s.delete(q).unwrap();
            }
            Op::Deliver => {
                let want = m.deliver(&s);
                let got = c.next_to_deliver(&s, m.now).unwrap();
                match (got, want) {
                    (Some(d), Some(w)) => check_delivery(&d, w, &m, &s),
                    (None, None) => {}
                    (got, want) => panic!("deliver: got {got:?}, want {want:?}"),
                }
            }
            Op::Peek => {
                let want = m.select(&s).map(|x| x.0);
                assert_eq!(c.peek_next(&s, m.now).unwrap().map(|x| x.seq), want);
            }
            Op::Ack(q) => assert_eq!(c.ack(q, m.now).acked, m.ack(q), "ack {q}"),
            Op::Term(q) => assert_eq!(c.term(q, m.now).acked, m.ack(q), "term {q}"),
            Op::Nak(q, d) => assert_eq!(c.nak(q, d, m.now), m.nak(q, d), "nak {q}"),
            Op::Progress(q) => assert_eq!(c.progress(q, m.now), m.progress(q), "progress {q}"),
            Op::Advance(dt) => m.now += dt,
            Op::CheckPending => {
                m.check();
                assert_eq!(c.check_pending(m.now), m.pending.values().any(|p| p.queued));
            }
            Op::Reconcile => assert_eq!(c.reconcile(&s).unwrap(), m.reconcile(&s)),
            Op::RoundTrip(binary) => {
                let before = c.snapshot();
                let events = c.take_events();
                c = if binary {
                    ConsumerState::decode(policy.clone(), &c.encode()).unwrap()
                } else {
                    let json = serde_json::to_vec(&before).unwrap();
                    ConsumerState::restore(policy.clone(), serde_json::from_slice(&json).unwrap())
                };
                assert_eq!(c.snapshot(), before);
                m.events.clear();
                assert_eq!(
                    sorted_events(events),
                    sorted_events(std::mem::take(&mut m.events))
                );
            }
        }
        assert_eq!(
            sorted_events(c.take_events()),
            sorted_events(std::mem::take(&mut m.events)),
            "events after {op:?}"
        );
        check_invariants(&c, &m, &s, &mut last_floor);
    }

    // Ack everything from here on: every matching message left in the store gets delivered.
    let mut rounds = 0;
    loop {
        m.now += 100;
        let mut any = false;
        while let Some(d) = c.next_to_deliver(&s, m.now).unwrap() {
            let w = m.deliver(&s).expect("model agrees");
            check_delivery(&d, w, &m, &s);
            assert_eq!(c.ack(d.stream_seq, m.now).acked, m.ack(d.stream_seq));
            any = true;
        }
        assert!(m.deliver(&s).is_none());
        let left: Vec<u64> = c.pending().keys().copied().collect();
        for &q in &left {
            assert_eq!(c.ack(q, m.now).acked, m.ack(q));
        }
        c.take_events();
        m.events.clear();
        check_invariants(&c, &m, &s, &mut last_floor);
        rounds += 1;
        if !any && left.is_empty() {
            break;
        }
        assert!(rounds < 100, "never settles");
    }
    let last = s.state().last_seq;
    for q in first..=last {
        if let Some(msg) = s.get(q).unwrap() {
            if m.matches(&msg.subject) {
                assert!(m.deliveries.contains_key(&q), "seq {q} never delivered");
            }
        }
    }
    assert_eq!(c.num_pending(&s).unwrap(), 0);
    assert_eq!(c.num_ack_pending(), 0);
    if c.delivered().consumer_seq == 0 {
        assert_eq!(c.ack_floor(), SeqPair::default(), "nothing delivered");
    } else {
        assert_eq!(c.ack_floor(), c.delivered());
    }
}

proptest! {
    // PROPTEST_CASES overrides the default of 512.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn state_machine_matches_model(
        policy in policy_strategy(),
        start in prop_oneof![
            4 => Just(DeliverStart::All),
            1 => Just(DeliverStart::New),
            1 => (1u64..10).prop_map(DeliverStart::ByStartSeq),
        ],
        initial in proptest::collection::vec(0..SUBJECTS.len(), 0..8),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(policy, start, initial, ops);
    }
}
