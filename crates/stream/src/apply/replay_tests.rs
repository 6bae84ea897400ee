//! Replay from the store (issue 16, "Tests"): random op sequences on one file stream, applied
//! to two copies. A runs straight through; B is synced, closed and reopened from its directory
//! (as `start_stream` does on a server restart) at every restart point. After every op the two
//! must agree exactly: state, every message, the outcome of every publish (stored at which
//! sequence, duplicate of which, or refused why) and of every [`StreamOp`].
//!
//! Every change goes through the owner's one entry point (`shell::run_op`: [`apply_op`], then
//! the effects), as the owner applies what its op log hands back: publishes as
//! [`StreamOp::Publish`], the API's changes as their ops, and each is followed by the step's
//! [`StreamOp::Tick`] at the same time (expiry, the consumers' deadlines and deliveries), as
//! at the end of the owner's step; `Op::Tick` is a tick op alone (the owner woken for an
//! expiry). Every op carries its own `now`: nothing here reads the clock.
//!
//! One difference is nats-server's own and is checked as such, not as agreement: the duplicate
//! window is rebuilt on start from the `Nats-Msg-Id`s of the messages still stored (nats-server's
//! `rebuildDedupe` does the same), so the id of a message that was removed (purged, deleted,
//! dropped by a limit) before a restart is remembered by A and forgotten by B. Where that decides
//! a publish, A must answer "duplicate" and B must take it as new (store it, or refuse it by a
//! limit), and the case ends there (the two streams then differ, as two nats-servers would).
//!
//! The id `Nats-Expected-Last-Msg-Id` is checked against is also rebuilt on start, as
//! nats-server's `rebuildDedupe` does: from the message at the last sequence, if it is still
//! there and inside the duplicate window. A that did not restart remembers the id of the last
//! message it stored even after that message was removed or aged past the window; that
//! difference is nats-server's own, so those publishes leave the header out. (A bug found
//! here: the rebuild took the last message *with headers*; `last_msg_id_after_restart` pins
//! the fix.)
//!
//! `Op::Image` replaces B's stream by A's image (the stream's part of a stream group's
//! snapshot); after it B must agree with A exactly, remembered ids included.
//!
//! Durable consumers are created, updated and deleted among the other ops, through the shell
//! (`run_op`: apply, then the effects, which write and remove their records in each copy's
//! metadata store). A restart of B stops its consumers and saves their state as the writer does
//! when it stops, and the reopened B restores them from its metadata store as `start_stream`
//! does: the consumer set (names, configs, creation times, delivery state) must agree too.
//! One difference found here is compared away, not checked: apply reconciles consumers
//! with the stream after an API op, not after a publish or an expiry, so when limits drop messages
//! a consumer's next sequence (CONSUMER.INFO's `delivered.stream_seq`) lags behind the stream's
//! first until the next op, while a restart reconciles at once. Both copies are reconciled
//! before they are compared.

use super::replay_machine::{
    base_config, tmp, view, with_server, Machine, MS, SEC, SUBJECTS, T0, WINDOW,
};
use super::*;
use crate::config::DiscardPolicy;
use crate::consumer::config::{AckPolicy, ConsumerAction, DeliverPolicy};
use crate::store::StoreState;
use crate::stream::Stored;
use proptest::prelude::*;
use sluice_server::ServerHandle;
use std::collections::HashMap;
use std::path::PathBuf;

const FILTERS: [&str; 6] = ["s.a", "s.*", "s.c.>", "s.>", ">", "s.none"];
const IDS: [&str; 4] = ["id-1", "id-2", "id-3", "id-4"];
const CONSUMERS: [&str; 3] = ["C0", "C1", "C2"];
const DELIVER: [DeliverPolicy; 5] = [
    DeliverPolicy::All,
    DeliverPolicy::Last,
    DeliverPolicy::New,
    DeliverPolicy::LastPerSubject,
    DeliverPolicy::ByStartSequence,
];

/// A header a publish may expect, relative to the stream's state when it is published.
#[derive(Debug, Clone)]
enum Expect {
    /// `Nats-Expected-Last-Sequence`: the last sequence plus this (0: right).
    Seq(i64),
    /// `Nats-Expected-Last-Subject-Sequence`: the subject's last sequence plus this.
    SubjectSeq(i64),
    /// `Nats-Expected-Last-Msg-Id`: the id of the last message stored (`None`; when it had
    /// none, `IDS[0]`) or this one of `IDS`.
    MsgId(Option<usize>),
}

#[derive(Debug, Clone)]
enum Op {
    Publish {
        subj: usize,
        /// Index into `IDS`.
        msg_id: Option<usize>,
        expect: Option<Expect>,
        /// Another header, so that some messages have headers without an id.
        extra_header: bool,
        len: usize,
        dt: i64,
    },
    Purge {
        filter: Option<usize>,
        /// Picks a sequence relative to the stream's (see `pick_seq`).
        up_to: Option<u64>,
        keep: Option<u64>,
        dt: i64,
    },
    Delete {
        pick: u64,
        dt: i64,
    },
    Update {
        max_msgs: i64,
        max_bytes: i64,
        max_msgs_per_subject: i64,
        max_age: i64,
        discard_new: bool,
        discard_new_per_subject: bool,
        dt: i64,
    },
    /// Creates (or updates, if it exists) durable consumer `CONSUMERS[which]`.
    CreateConsumer {
        which: usize,
        /// Index into `DELIVER`; by start sequence picks a sequence with `start`.
        deliver: usize,
        start: u64,
        /// Index into `SUBJECTS`.
        filter: Option<usize>,
        /// A description: changing only this is an update that is taken.
        described: bool,
        dt: i64,
    },
    DeleteConsumer {
        which: usize,
        dt: i64,
    },
    /// Time passes; the owner's tick op expires what is due.
    Tick {
        dt: i64,
    },
    /// B is synced, closed and reopened from its directory.
    Restart {
        dt: i64,
    },
    /// B's stream is replaced by A's image (`Stream::image` / `restore_image`, the stream's
    /// part of a stream group's snapshot): from then on B must answer exactly as A, the
    /// duplicate window and last msg id included (an image carries them as they are).
    Image {
        dt: i64,
    },
}

/// Time steps: mostly small against the 2 s window, sometimes past it. Never backwards: the
/// writer's wall clock may step back, but then the live window, which expires ids in the order
/// they came (as nats-server's `ddarr` does), can keep an id a little longer behind an older
/// one with a later time than the window rebuilt from the store does.
fn dt() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => 0i64..300 * MS,
        2 => 0i64..3 * SEC,
        1 => Just(0i64),
        1 => 3 * SEC..12 * SEC,
    ]
}

fn expect() -> impl Strategy<Value = Expect> {
    let delta = prop_oneof![4 => Just(0i64), 1 => -2i64..3];
    prop_oneof![
        delta.clone().prop_map(Expect::Seq),
        delta.prop_map(Expect::SubjectSeq),
        proptest::option::weighted(0.3, 0..IDS.len()).prop_map(Expect::MsgId),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (
            0..SUBJECTS.len(),
            proptest::option::weighted(0.6, 0..IDS.len()),
            proptest::option::weighted(0.15, expect()),
            proptest::bool::weighted(0.2),
            0usize..80,
            dt(),
        )
            .prop_map(|(subj, msg_id, expect, extra_header, len, dt)| Op::Publish {
                subj,
                msg_id,
                expect,
                extra_header,
                len,
                dt,
            }),
        2 => (
            proptest::option::of(0..FILTERS.len()),
            proptest::option::weighted(0.4, 0u64..40),
            proptest::option::weighted(0.3, 0u64..5),
            dt(),
        )
            .prop_map(|(filter, up_to, keep, dt)| Op::Purge { filter, up_to, keep, dt }),
        3 => (0u64..40, dt()).prop_map(|(pick, dt)| Op::Delete { pick, dt }),
        2 => (
            prop_oneof![Just(-1i64), Just(3), Just(8), Just(20)],
            prop_oneof![Just(-1i64), Just(400), Just(1_200), Just(4_000)],
            prop_oneof![Just(-1i64), Just(1), Just(2), Just(5)],
            prop_oneof![Just(0i64), Just(3 * SEC), Just(10 * SEC)],
            any::<bool>(),
            any::<bool>(),
            dt(),
        )
            .prop_map(
                |(max_msgs, max_bytes, max_msgs_per_subject, max_age, discard_new, per_subject, dt)| {
                    Op::Update {
                        max_msgs,
                        max_bytes,
                        max_msgs_per_subject,
                        max_age,
                        discard_new,
                        discard_new_per_subject: per_subject
                            && discard_new
                            && max_msgs_per_subject > 0,
                        dt,
                    }
                }
            ),
        2 => (
            0..CONSUMERS.len(),
            0..DELIVER.len(),
            0u64..40,
            proptest::option::weighted(0.5, 0..SUBJECTS.len()),
            any::<bool>(),
            dt(),
        )
            .prop_map(|(which, deliver, start, filter, described, dt)| Op::CreateConsumer {
                which,
                deliver,
                start,
                filter,
                described,
                dt,
            }),
        1 => (0..CONSUMERS.len(), dt()).prop_map(|(which, dt)| Op::DeleteConsumer { which, dt }),
        2 => dt().prop_map(|dt| Op::Tick { dt }),
        3 => dt().prop_map(|dt| Op::Restart { dt }),
        2 => dt().prop_map(|dt| Op::Image { dt }),
    ]
}

/// A sequence around the stream's current range, from a generated number.
fn pick_seq(state: &StoreState, pick: u64) -> u64 {
    let (lo, hi) = (state.first_seq.saturating_sub(2), state.last_seq + 3);
    lo + pick % (hi - lo + 1)
}

fn headers(msg_id: Option<&str>, expect: Option<(&str, String)>, extra: bool) -> Option<Vec<u8>> {
    if msg_id.is_none() && expect.is_none() && !extra {
        return None;
    }
    let mut h = String::from("NATS/1.0\r\n");
    if extra {
        h.push_str("X-Extra: yes\r\n");
    }
    if let Some(id) = msg_id {
        h.push_str(&format!("{}: {id}\r\n", crate::headers::MSG_ID));
    }
    if let Some((name, v)) = expect {
        h.push_str(&format!("{name}: {v}\r\n"));
    }
    h.push_str("\r\n");
    Some(h.into_bytes())
}

/// How a case ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Every op applied; A and B agreed throughout.
    Agreed,
    /// A publish's id was the id of a message removed before B's last restart: A (which still
    /// remembers it) answered duplicate, B stored it, as nats-server does after a restart.
    ForgottenId,
}

/// The config of a durable consumer for `Op::CreateConsumer`.
fn consumer_config(
    which: usize,
    deliver: usize,
    start: u64,
    filter: Option<usize>,
    described: bool,
    st: &StoreState,
) -> ConsumerConfig {
    let deliver_policy = DELIVER[deliver];
    ConsumerConfig {
        durable_name: CONSUMERS[which].into(),
        ack_policy: AckPolicy::Explicit,
        deliver_policy,
        opt_start_seq: if deliver_policy == DeliverPolicy::ByStartSequence {
            pick_seq(st, start).max(1)
        } else {
            0
        },
        filter_subject: filter.map_or_else(String::new, |f| SUBJECTS[f].to_owned()),
        description: if described { "described" } else { "" }.into(),
        ..ConsumerConfig::default()
    }
}

fn run(server: &ServerHandle, ops: &[Op]) -> End {
    let (dir_a, dir_b) = (tmp(), tmp());
    // B's metadata store stays open across its restarts (the stream and its consumers are
    // reopened from it); sled's own recovery is not what is tested here.
    let (meta_dir_a, meta_dir_b) = (tmp(), tmp());
    let meta_a = Meta::open(meta_dir_a.path()).unwrap();
    let meta_b = Meta::open(meta_dir_b.path()).unwrap();
    let path_b: PathBuf = dir_b.path().to_owned();
    let mut now = T0;
    let mut a = Machine::open(server, dir_a.path(), &meta_a, base_config(), now);
    let mut b = Some(Machine::open(server, &path_b, &meta_b, base_config(), now));
    // When B last restarted (op index), and when each sequence was stored (op index).
    let mut restarted_at: Option<usize> = None;
    // The time of B's last restart.
    let mut restart_now = T0;
    let mut stored_at: HashMap<u64, usize> = HashMap::new();
    // The id of the last message stored (index into `IDS`), for `Expect::MsgId`.
    let mut last_msg_id: Option<usize> = None;
    // When the last message was stored (op index).
    let mut last_new_at = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let what = format!("op {i} {op:?}");
        let bm = b.as_mut().unwrap();
        match op {
            Op::Publish {
                subj,
                msg_id,
                expect,
                extra_header,
                len,
                dt,
            } => {
                now += dt;
                let subject = SUBJECTS[*subj];
                let st = a.stream.state();
                // What `Nats-Expected-Last-Msg-Id` is checked against after a restart is rebuilt
                // from the store (see the module doc); the check is left out of the publishes
                // whose answer depends on what only A remembers: after a restart of B, while
                // the last message stored before it is gone or was past the window then.
                let last_stored = a.stream.store().get(st.last_seq).unwrap();
                let sensitive = restarted_at.is_some_and(|r| r > last_new_at)
                    && last_stored.is_none_or(|m| m.time_ns < restart_now - WINDOW);
                let expect = expect
                    .as_ref()
                    .filter(|e| !(sensitive && matches!(e, Expect::MsgId(_))));
                let expect = expect.map(|e| match e {
                    Expect::Seq(d) => (
                        crate::headers::EXPECTED_LAST_SEQ,
                        st.last_seq.saturating_add_signed(*d).to_string(),
                    ),
                    Expect::SubjectSeq(d) => {
                        let last = a
                            .stream
                            .store()
                            .last_matching(subject)
                            .unwrap()
                            .map_or(0, |m| m.seq);
                        (
                            crate::headers::EXPECTED_LAST_SUBJECT_SEQ,
                            last.saturating_add_signed(*d).to_string(),
                        )
                    }
                    Expect::MsgId(k) => (
                        crate::headers::EXPECTED_LAST_MSG_ID,
                        IDS[k.or(last_msg_id).unwrap_or(0)].to_owned(),
                    ),
                });
                let h = headers(msg_id.map(|k| IDS[k]), expect, *extra_header);
                let payload: Vec<u8> = (0..*len).map(|b| (b + i) as u8).collect();
                let ra = a.publish(subject, h.as_deref(), &payload, now);
                let rb = bm.publish(subject, h.as_deref(), &payload, now);
                match (&ra, &rb) {
                    (Ok(Stored::Duplicate(s)), rb) if !matches!(rb, Ok(Stored::Duplicate(_))) => {
                        // Only the nats-server difference described in the module doc may
                        // explain this: A remembers the id of a message it no longer holds,
                        // and B restarted after that message was stored, so B takes the
                        // publish as new (and stores it, or refuses it by a limit).
                        let removed = !a.has(*s);
                        let restart_since = restarted_at.is_some_and(|r| r > stored_at[s]);
                        assert!(
                            removed && restart_since,
                            "{what}: A says duplicate of {s}, B {rb:?} (removed {removed}, restart since {restart_since})"
                        );
                        return End::ForgottenId;
                    }
                    _ => {}
                }
                assert_eq!(ra, rb, "{what}: publish outcome");
                if let Ok(Stored::New(s)) = ra {
                    stored_at.insert(s, i);
                    last_msg_id = *msg_id;
                    last_new_at = i;
                }
            }
            Op::Purge {
                filter,
                up_to,
                keep,
                dt,
            } => {
                now += dt;
                let st = a.stream.state();
                let p = Purge {
                    filter: filter.map(|f| FILTERS[f].to_owned()),
                    up_to_seq: up_to.map(|u| pick_seq(&st, u)),
                    keep: *keep,
                };
                let oa = a.apply(StreamOp::Purge(p.clone()), now);
                let ob = bm.apply(StreamOp::Purge(p), now);
                assert!(!matches!(oa, OpOutcome::Failed(_)), "{what}: {oa:?}");
                assert_eq!(oa, ob, "{what}: purge outcome");
            }
            Op::Delete { pick, dt } => {
                now += dt;
                let seq = pick_seq(&a.stream.state(), *pick);
                let oa = a.apply(StreamOp::DeleteMsg { seq }, now);
                let ob = bm.apply(StreamOp::DeleteMsg { seq }, now);
                assert_eq!(oa, ob, "{what}: delete of {seq}");
            }
            Op::Update {
                max_msgs,
                max_bytes,
                max_msgs_per_subject,
                max_age,
                discard_new,
                discard_new_per_subject,
                dt,
            } => {
                now += dt;
                let old = a.ctx.config.clone();
                let mut raw = old.clone();
                raw.max_msgs = *max_msgs;
                raw.max_bytes = *max_bytes;
                raw.max_msgs_per_subject = *max_msgs_per_subject;
                raw.max_age = *max_age;
                raw.discard = if *discard_new {
                    DiscardPolicy::New
                } else {
                    DiscardPolicy::Old
                };
                raw.discard_new_per_subject = *discard_new_per_subject;
                // As the API does: only a checked config reaches the writer.
                let config = old
                    .check_update(&raw)
                    .unwrap_or_else(|e| panic!("{what}: the generated update is refused: {e:?}"));
                let op = StreamOp::UpdateConfig {
                    config: Box::new(config),
                    now_ns: now,
                };
                let oa = a.apply(op.clone(), now);
                let ob = bm.apply(op, now);
                assert_eq!(oa, OpOutcome::ConfigUpdated, "{what}");
                assert_eq!(oa, ob, "{what}: update outcome");
            }
            Op::CreateConsumer {
                which,
                deliver,
                start,
                filter,
                described,
                dt,
            } => {
                now += dt;
                let st = a.stream.state();
                let op = StreamOp::CreateConsumer {
                    config: Box::new(consumer_config(
                        *which, *deliver, *start, *filter, *described, &st,
                    )),
                    action: ConsumerAction::CreateOrUpdate,
                    generated_name: format!("gen{i}"),
                    created: crate::time::Timestamp::from_unix_nanos(now),
                    now_ns: now,
                    advisory_id: format!("adv{i}"),
                };
                let oa = a.apply(op.clone(), now);
                let ob = bm.apply(op, now);
                assert_eq!(oa, ob, "{what}: consumer create outcome");
            }
            Op::DeleteConsumer { which, dt } => {
                now += dt;
                let op = StreamOp::DeleteConsumer {
                    name: CONSUMERS[*which].into(),
                    now_ns: now,
                    advisory_id: format!("adv{i}"),
                };
                let oa = a.apply(op.clone(), now);
                let ob = bm.apply(op, now);
                assert_eq!(oa, ob, "{what}: consumer delete outcome");
            }
            Op::Tick { dt } => {
                now += dt;
                a.tick(now);
                bm.tick(now);
            }
            Op::Restart { dt } => {
                now += dt;
                let cfg = b.take().unwrap().close();
                let mut reopened = Machine::open(server, &path_b, &meta_b, cfg, now);
                // The owner's first tick after the start.
                reopened.tick(now);
                b = Some(reopened);
                a.tick(now);
                restarted_at = Some(i);
                restart_now = now;
            }
            Op::Image { dt } => {
                now += dt;
                let image = a.stream.image().unwrap();
                bm.stream.restore_image(&image).unwrap();
                bm.tick(now);
                a.tick(now);
                // B now remembers what A remembers: no restart difference is left.
                restarted_at = None;
            }
        }
        // Messages that limits drop on a publish or an expiry are reconciled away from the
        // consumers' state only by the next op (as on the writer), a restart does it at once;
        // compared as the next op would leave them (see the module doc).
        for m in [&mut a, b.as_mut().unwrap()] {
            m.consumers.reconcile(&m.stream);
        }
        let (va, vb) = (view(&a), view(b.as_ref().unwrap()));
        assert_eq!(va, vb, "after {what}");
        assert_eq!(a.ctx.config, b.as_ref().unwrap().ctx.config, "{what}");
    }
    // And once more from the store at the end.
    let cfg = b.take().unwrap().close();
    let b = Machine::open(server, &path_b, &meta_b, cfg, now);
    assert_eq!(view(&a), view(&b), "after the final restart");
    // What each copy's metadata store holds: the same consumers, the same records.
    let records = |m: &Meta| -> Vec<(String, Vec<u8>)> {
        let all = m.consumers_of("R").unwrap();
        all.into_iter().map(|(n, r, _)| (n, r)).collect()
    };
    assert_eq!(records(&meta_a), records(&meta_b));
    End::Agreed
}

proptest! {
    // PROPTEST_CASES overrides the default of 256.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_restarted_stream_matches_one_that_ran_through(
        ops in proptest::collection::vec(op(), 1..100)
    ) {
        with_server(|server| run(server, &ops));
    }
}
