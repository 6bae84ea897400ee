//! Random operation sequences: FileStore (with tiny segments, reopened at random points) and
//! MemoryStore must both agree with a plain BTreeMap model after every step.

use proptest::prelude::*;
use sluice_protocol::subject::subject_matches;
use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::{MsgStore, Purge, StoreState};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const SUBJECTS: [&str; 5] = ["a.x", "a.y", "b.x", "b.y.z", "c"];
const FILTERS: [&str; 8] = ["a.x", "a.*", "*.x", "b.>", ">", "c", "nope", "*"];

#[derive(Debug, Clone)]
enum Op {
    Append {
        subj: usize,
        hdr: bool,
        len: usize,
        dt: i64,
    },
    Delete(u64),
    Purge {
        filter: Option<usize>,
        up_to: Option<u64>,
        keep: Option<u64>,
    },
    Expire(i64),
    SetNextSeq(u64),
    /// A message this many sequences past the next one (a copy keeping another's sequences).
    AppendAt {
        gap: u64,
        subj: usize,
    },
    /// Leave this many sequences past the last one as a gap.
    SkipTo(u64),
    /// Empty the store; the next message gets this sequence.
    ClearTo(u64),
    Sync,
    Reopen,
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..SUBJECTS.len(), any::<bool>(), 0usize..60, -20i64..100)
            .prop_map(|(subj, hdr, len, dt)| Op::Append { subj, hdr, len, dt }),
        4 => (0u64..40).prop_map(Op::Delete),
        1 => (
            proptest::option::of(0..FILTERS.len()),
            proptest::option::weighted(0.4, 0u64..45),
            proptest::option::weighted(0.4, 0u64..8),
        )
            .prop_map(|(filter, up_to, keep)| Op::Purge { filter, up_to, keep }),
        1 => (0i64..3000).prop_map(Op::Expire),
        1 => (0u64..60).prop_map(Op::SetNextSeq),
        2 => (0u64..5, 0..SUBJECTS.len()).prop_map(|(gap, subj)| Op::AppendAt { gap, subj }),
        1 => (0u64..6).prop_map(Op::SkipTo),
        1 => (0u64..80).prop_map(Op::ClearTo),
        1 => Just(Op::Sync),
        2 => Just(Op::Reopen),
        1 => Just(Op::Compact),
    ]
}

type Msg = (String, Option<Vec<u8>>, Vec<u8>, i64);

/// The reference: the semantics written out as plainly as possible.
#[derive(Default)]
struct Model {
    msgs: BTreeMap<u64, Msg>,
    last_seq: u64,
    last_ts: i64,
}

impl Model {
    fn first_seq(&self) -> u64 {
        self.msgs
            .keys()
            .next()
            .copied()
            .unwrap_or(self.last_seq + 1)
    }

    /// The state `store` should report (it says how it counts message sizes).
    fn state(&self, store: &dyn MsgStore) -> StoreState {
        let mut subjects = HashMap::new();
        for m in self.msgs.values() {
            *subjects.entry(&m.0).or_insert(0) += 1;
        }
        let first_seq = self.first_seq();
        let msgs = self.msgs.len() as u64;
        StoreState {
            msgs,
            bytes: self
                .msgs
                .values()
                .map(|m| store.msg_size(&m.0, m.1.as_deref(), &m.2))
                .sum(),
            first_seq,
            first_ts: self.msgs.values().next().map_or(0, |m| m.3),
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: subjects.len() as u64,
            num_deleted: if msgs > 0 {
                self.last_seq + 1 - first_seq - msgs
            } else {
                0
            },
        }
    }

    fn purge(&mut self, filter: Option<&str>, up_to: Option<u64>, keep: Option<u64>) -> u64 {
        let before = self.msgs.len() as u64;
        let filter = filter.filter(|f| *f != ">");
        let (up_to, keep) = (up_to.filter(|&u| u > 0), keep.filter(|&k| k > 0));
        match filter {
            None => match (up_to, keep) {
                (None, None) => self.msgs.clear(),
                (Some(u), _) => {
                    self.msgs = self.msgs.split_off(&u);
                    if self.msgs.is_empty() && u > self.last_seq + 1 {
                        self.last_seq = u - 1;
                    }
                }
                (None, Some(k)) => {
                    while self.msgs.len() as u64 > k {
                        self.msgs.pop_first();
                    }
                }
            },
            Some(f) => {
                let matching: Vec<u64> = self
                    .msgs
                    .iter()
                    .filter(|(_, m)| subject_matches(f, &m.0))
                    .map(|(&q, _)| q)
                    .collect();
                let max = match keep {
                    Some(k) => (matching.len() as u64).saturating_sub(k),
                    None => matching.len() as u64,
                };
                for q in matching
                    .into_iter()
                    .filter(|&q| q < up_to.unwrap_or(u64::MAX))
                    .take(max as usize)
                {
                    self.msgs.remove(&q);
                }
            }
        }
        before - self.msgs.len() as u64
    }
}

fn check(model: &Model, s: &dyn MsgStore, what: &str) {
    let st = model.state(s);
    assert_eq!(s.state(), st, "{what}: state");
    for seq in st.first_seq.saturating_sub(2)..=st.last_seq + 2 {
        let got = s.get(seq).unwrap();
        let want = model.msgs.get(&seq);
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert_eq!(&*g.subject, w.0, "{what}: subject of {seq}");
                assert_eq!(
                    g.headers.as_deref(),
                    w.1.as_deref(),
                    "{what}: headers of {seq}"
                );
                assert_eq!(g.payload, &w.2[..], "{what}: payload of {seq}");
                assert_eq!(g.time_ns, w.3, "{what}: time of {seq}");
            }
            (g, w) => panic!("{what}: get({seq}) = {g:?}, model has {w:?}"),
        }
    }
    for subj in SUBJECTS {
        let want: Vec<u64> = model
            .msgs
            .iter()
            .filter(|(_, m)| m.0 == subj)
            .map(|(&q, _)| q)
            .collect();
        assert_eq!(
            s.subject_count(subj),
            want.len() as u64,
            "{what}: count {subj}"
        );
        assert_eq!(
            s.first_seq_of_subject(subj),
            want.first().copied(),
            "{what}: first {subj}"
        );
    }
    for f in FILTERS {
        let matching: Vec<u64> = model
            .msgs
            .iter()
            .filter(|(_, m)| subject_matches(f, &m.0))
            .map(|(&q, _)| q)
            .collect();
        let last = s.last_matching(f).unwrap().map(|m| m.seq);
        assert_eq!(last, matching.last().copied(), "{what}: last_matching {f}");
        for from in [0, st.first_seq + 1, st.last_seq.saturating_sub(3)] {
            let next = s.next_matching(from, Some(f)).unwrap().map(|m| m.seq);
            let want = matching.iter().copied().find(|&q| q >= from);
            assert_eq!(next, want, "{what}: next_matching({from}, {f})");
        }
    }
    let mut subjects: Vec<(String, u64)> = s
        .subjects()
        .into_iter()
        .map(|(n, c)| (n.to_string(), c))
        .collect();
    subjects.sort();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for m in model.msgs.values() {
        *want.entry(m.0.clone()).or_default() += 1;
    }
    assert_eq!(
        subjects,
        want.into_iter().collect::<Vec<_>>(),
        "{what}: subjects"
    );
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, FileStoreConfig { segment_bytes: 300 }).unwrap()
}

fn run(ops: Vec<Op>) {
    // tmpfs when there is one: the file store fsyncs on rollover and purge, and thousands of
    // cases on a real disk are slow. Same code paths either way.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let mut file = open(dir.path());
    let mut mem = MemoryStore::new();
    let mut model = Model::default();
    let mut ts = 1000i64;
    for (i, op) in ops.into_iter().enumerate() {
        let what = format!("op {i} {op:?}");
        match op {
            Op::Append { subj, hdr, len, dt } => {
                ts += dt;
                let subject = SUBJECTS[subj];
                let headers = hdr.then(|| format!("NATS/1.0\r\nN: {i}\r\n\r\n").into_bytes());
                let payload: Vec<u8> = (0..len).map(|b| (b + i) as u8).collect();
                let h = headers.as_deref();
                let q = file.append(subject, h, &payload, ts).unwrap();
                assert_eq!(mem.append(subject, h, &payload, ts).unwrap(), q, "{what}");
                model.last_seq += 1;
                model.last_ts = ts;
                assert_eq!(q, model.last_seq, "{what}");
                model
                    .msgs
                    .insert(q, (subject.to_string(), headers, payload, ts));
            }
            Op::Delete(off) => {
                let seq = model.first_seq().saturating_sub(2) + off;
                let want = model.msgs.remove(&seq).is_some();
                assert_eq!(file.delete(seq).unwrap(), want, "{what}");
                assert_eq!(mem.delete(seq).unwrap(), want, "{what}");
            }
            Op::Purge {
                filter,
                up_to,
                keep,
            } => {
                let filter = filter.map(|f| FILTERS[f]);
                let up_to = up_to.map(|u| model.first_seq().saturating_sub(3) + u);
                let p = Purge {
                    filter: filter.map(str::to_string),
                    up_to_seq: up_to,
                    keep,
                };
                let want = model.purge(filter, up_to, keep);
                assert_eq!(file.purge(&p).unwrap(), want, "{what}");
                assert_eq!(mem.purge(&p).unwrap(), want, "{what}");
            }
            Op::Expire(back) => {
                let cutoff = ts - back;
                let before = model.msgs.len();
                model.msgs.retain(|_, m| m.3 >= cutoff);
                let want = (before - model.msgs.len()) as u64;
                assert_eq!(file.expire_before(cutoff).unwrap(), want, "{what}");
                assert_eq!(mem.expire_before(cutoff).unwrap(), want, "{what}");
            }
            Op::SetNextSeq(n) => {
                if model.msgs.is_empty() {
                    model.last_seq = n.max(1) - 1;
                }
                file.set_next_seq(n).unwrap();
                mem.set_next_seq(n).unwrap();
            }
            Op::AppendAt { gap, subj } => {
                ts += 1;
                let seq = model.last_seq + 1 + gap;
                let subject = SUBJECTS[subj];
                file.append_at(seq, subject, None, b"at", ts).unwrap();
                mem.append_at(seq, subject, None, b"at", ts).unwrap();
                // Not above the last sequence now: refused by both.
                assert!(
                    file.append_at(seq, subject, None, b"at", ts).is_err(),
                    "{what}"
                );
                assert!(
                    mem.append_at(seq, subject, None, b"at", ts).is_err(),
                    "{what}"
                );
                model.last_seq = seq;
                model.last_ts = ts;
                model
                    .msgs
                    .insert(seq, (subject.to_string(), None, b"at".to_vec(), ts));
            }
            Op::SkipTo(gap) => {
                let next = model.last_seq + 1 + gap;
                file.skip_to(next, ts - 1).unwrap();
                mem.skip_to(next, ts - 1).unwrap();
                if next > model.last_seq + 1 {
                    model.last_seq = next - 1;
                    model.last_ts = ts - 1;
                }
            }
            Op::ClearTo(next) => {
                file.clear_to(next, ts - 2).unwrap();
                mem.clear_to(next, ts - 2).unwrap();
                model.msgs.clear();
                model.last_seq = next.max(1) - 1;
                model.last_ts = ts - 2;
            }
            Op::Sync => file.sync().unwrap(),
            Op::Compact => {
                file.compact().unwrap();
            }
            Op::Reopen => {
                drop(file);
                file = open(dir.path());
            }
        }
        check(&model, &file, &format!("file after {what}"));
        check(&model, &mem, &format!("memory after {what}"));
    }
    drop(file);
    let file = open(dir.path());
    check(&model, &file, "file after the final reopen");
}

proptest! {
    // PROPTEST_CASES overrides the default of 256.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn stores_match_the_model(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
