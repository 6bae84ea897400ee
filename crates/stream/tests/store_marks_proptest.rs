//! Random operation sequences with apply marks on a FileStore opened with
//! `truncate_after_last_mark` (tiny segments): appends, deletes, purges, expiry, marks, syncs,
//! compactions and crashes. A crash drops the store (its buffer reaches the OS), cuts the
//! newest segment at a random point after what the last sync made durable (older segments
//! were synced when they were sealed), and reopens it. The store must then report a mark at
//! least as new as the last synced one, and be exactly the model as of that mark.

use proptest::prelude::*;
use sluice_protocol::subject::subject_matches;
use sluice_stream::store::file::{FileStore, FileStoreConfig, Recovery};
use sluice_stream::store::{MsgStore, Purge, StoreState};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

const SUBJECTS: [&str; 4] = ["a.x", "a.y", "b.x", "c"];
const FILTERS: [&str; 5] = ["a.x", "a.*", "*.x", ">", "c"];

#[derive(Debug, Clone)]
enum Op {
    Append {
        subj: usize,
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
    Mark,
    Sync,
    Compact,
    /// Where to cut the newest segment, between its synced length (0) and its length (max).
    Crash(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..SUBJECTS.len(), 0usize..50, -20i64..100)
            .prop_map(|(subj, len, dt)| Op::Append { subj, len, dt }),
        4 => (0u64..30).prop_map(Op::Delete),
        1 => (
            proptest::option::of(0..FILTERS.len()),
            proptest::option::weighted(0.4, 0u64..40),
            proptest::option::weighted(0.4, 0u64..8),
        )
            .prop_map(|(filter, up_to, keep)| Op::Purge { filter, up_to, keep }),
        1 => (0i64..3000).prop_map(Op::Expire),
        1 => (0u64..60).prop_map(Op::SetNextSeq),
        4 => Just(Op::Mark),
        3 => Just(Op::Sync),
        1 => Just(Op::Compact),
        2 => prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()].prop_map(Op::Crash),
    ]
}

type Msg = (String, Vec<u8>, i64);

/// The reference, as in `store_proptest.rs`.
#[derive(Default, Clone, Debug)]
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
                .map(|m| store.msg_size(&m.0, None, &m.1))
                .sum(),
            first_seq,
            first_ts: self.msgs.values().next().map_or(0, |m| m.2),
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

fn check(model: &Model, s: &FileStore, what: &str) {
    let st = model.state(s);
    assert_eq!(s.state(), st, "{what}: state");
    for seq in st.first_seq.saturating_sub(2)..=st.last_seq + 2 {
        let got = s.get(seq).unwrap();
        match (got, model.msgs.get(&seq)) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert_eq!(&*g.subject, w.0, "{what}: subject of {seq}");
                assert_eq!(g.payload, &w.1[..], "{what}: payload of {seq}");
                assert_eq!(g.time_ns, w.2, "{what}: time of {seq}");
            }
            (g, w) => panic!("{what}: get({seq}) = {g:?}, model has {w:?}"),
        }
    }
    for subj in SUBJECTS {
        let want = model.msgs.values().filter(|m| m.0 == subj).count() as u64;
        assert_eq!(s.subject_count(subj), want, "{what}: count {subj}");
    }
    for f in FILTERS {
        let last = model
            .msgs
            .iter()
            .filter(|(_, m)| subject_matches(f, &m.0))
            .map(|(&q, _)| q)
            .next_back();
        let got = s.last_matching(f).unwrap().map(|m| m.seq);
        assert_eq!(got, last, "{what}: last_matching {f}");
    }
}

fn open(dir: &Path) -> FileStore {
    let recovery = Recovery {
        truncate_after_last_mark: true,
    };
    FileStore::open_with(dir, FileStoreConfig { segment_bytes: 300 }, recovery).unwrap()
}

fn seg_lens(dir: &Path) -> BTreeMap<PathBuf, u64> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .map(|p| {
            let len = fs::metadata(&p).unwrap().len();
            (p, len)
        })
        .collect()
}

fn term_of(index: u64) -> u64 {
    index / 4 + 1
}

fn run(ops: Vec<Op>) {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let mut file = open(dir.path());
    let mut model = Model::default();
    // The model as of each mark not older than the last durable one, by mark index.
    let mut at_mark: BTreeMap<u64, Model> = BTreeMap::new();
    let mut next_index = 1u64;
    file.mark(next_index, term_of(next_index)).unwrap();
    file.sync().unwrap();
    at_mark.insert(next_index, model.clone());
    let (mut durable, mut written) = (next_index, next_index);
    let mut synced = seg_lens(dir.path());
    let mut ts = 1000i64;
    for (i, op) in ops.into_iter().enumerate() {
        let what = format!("op {i} {op:?}");
        match op {
            Op::Append { subj, len, dt } => {
                ts += dt;
                let subject = SUBJECTS[subj];
                let payload: Vec<u8> = (0..len).map(|b| (b + i) as u8).collect();
                let q = file.append(subject, None, &payload, ts).unwrap();
                model.last_seq += 1;
                model.last_ts = ts;
                assert_eq!(q, model.last_seq, "{what}");
                model.msgs.insert(q, (subject.to_string(), payload, ts));
            }
            Op::Delete(off) => {
                let seq = model.first_seq().saturating_sub(2) + off;
                let want = model.msgs.remove(&seq).is_some();
                assert_eq!(file.delete(seq).unwrap(), want, "{what}");
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
            }
            Op::Expire(back) => {
                let cutoff = ts - back;
                let before = model.msgs.len();
                model.msgs.retain(|_, m| m.2 >= cutoff);
                let want = (before - model.msgs.len()) as u64;
                assert_eq!(file.expire_before(cutoff).unwrap(), want, "{what}");
            }
            Op::SetNextSeq(n) => {
                if model.msgs.is_empty() {
                    model.last_seq = n.max(1) - 1;
                }
                file.set_next_seq(n).unwrap();
            }
            Op::Mark => {
                next_index += 1;
                file.mark(next_index, term_of(next_index)).unwrap();
                at_mark.insert(next_index, model.clone());
                written = next_index;
            }
            Op::Sync => {
                file.sync().unwrap();
                durable = written;
                at_mark.retain(|&k, _| k >= durable);
                synced = seg_lens(dir.path());
            }
            Op::Compact => {
                file.compact().unwrap();
            }
            Op::Crash(at) => {
                drop(file);
                let lens = seg_lens(dir.path());
                let (newest, &len) = lens.iter().next_back().unwrap();
                let lo = synced.get(newest).copied().unwrap_or(0).min(len);
                let cut = lo + (len - lo) * u64::from(at) / u64::from(u16::MAX);
                OpenOptions::new()
                    .write(true)
                    .open(newest)
                    .unwrap()
                    .set_len(cut)
                    .unwrap();
                file = open(dir.path());
                let (index, term) = file.last_mark().expect("a mark survives");
                assert!(index >= durable, "{what}: mark {index} < durable {durable}");
                assert_eq!(term, term_of(index), "{what}");
                model = at_mark
                    .get(&index)
                    .unwrap_or_else(|| panic!("{what}: no mark {index} written"))
                    .clone();
                (durable, written) = (index, index);
                at_mark.retain(|&k, _| k == index);
                synced = seg_lens(dir.path());
            }
        }
        assert_eq!(
            file.last_mark(),
            Some((written, term_of(written))),
            "{what}"
        );
        check(&model, &file, &format!("after {what}"));
    }
    // A last crash right after a sync loses nothing.
    file.sync().unwrap();
    let model = at_mark.get(&written).unwrap().clone();
    drop(file);
    let file = open(dir.path());
    assert_eq!(file.last_mark(), Some((written, term_of(written))));
    check(&model, &file, "after the final reopen");
}

proptest! {
    // PROPTEST_CASES overrides the default of 256.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn recovery_gives_the_state_as_of_the_last_durable_mark(
        ops in proptest::collection::vec(op(), 1..120)
    ) {
        run(ops);
    }
}
