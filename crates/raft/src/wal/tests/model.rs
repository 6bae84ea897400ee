//! A model-based property test: random operations over three groups (append batches,
//! truncate, purge, votes, committed ids, group removal, clean reopens and crashes that tear the last
//! segment's unsynced tail at a random byte), compared with a plain in-memory model. After
//! every reopen each group's state equals the model; after a crash it equals the model with
//! some prefix of the unsynced operations applied (so nothing reported flushed is lost).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{append_wait, entry, rt};
use crate::types::{Entry, LogId, Vote};
use crate::wal::{segment, GroupLog, Wal, WalOptions};

const GROUPS: [&str; 3] = ["g0", "g1", "g2"];

#[derive(Debug, Clone)]
enum Op {
    Append {
        g: usize,
        n: u64,
        bump: bool,
        back: u64,
    },
    Truncate {
        g: usize,
        back: u64,
    },
    Purge {
        g: usize,
        upto: u64,
    },
    Vote {
        g: usize,
        term: u64,
        node: u64,
    },
    Committed {
        g: usize,
        some: bool,
        back: u64,
    },
    Remove {
        g: usize,
    },
    Reopen,
    Crash {
        pending: Vec<Op>,
        seed: u64,
    },
}

/// An operation with everything decided against the model's state.
#[derive(Debug, Clone)]
enum Concrete {
    Append(usize, Vec<Entry>),
    Truncate(usize, LogId),
    Purge(usize, LogId),
    Vote(usize, Vote),
    Committed(usize, Option<LogId>),
    Remove(usize),
}

#[derive(Debug, Clone, Default, PartialEq)]
struct MGroup {
    entries: BTreeMap<u64, Entry>,
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    groups: [MGroup; 3],
    terms: [u64; 3],
    nonce: u64,
}

impl Model {
    fn next_index(&self, g: usize) -> u64 {
        let m = &self.groups[g];
        match (m.entries.last_key_value(), m.purged) {
            (Some((i, _)), _) => i + 1,
            (None, Some(p)) => p.index + 1,
            (None, None) => 0,
        }
    }

    fn resolve(&mut self, op: &Op) -> Option<Concrete> {
        match *op {
            Op::Append { g, n, bump, back } => {
                let back = back.min(self.groups[g].entries.len() as u64);
                let start = self.next_index(g) - back;
                if bump || back > 0 {
                    self.terms[g] += 1;
                }
                let term = self.terms[g];
                let mut es = Vec::new();
                for i in start..start + n {
                    self.nonce += 1;
                    es.push(entry(term, i, &format!("{g}/{i}/{term}/{}", self.nonce)));
                }
                Some(Concrete::Append(g, es))
            }
            Op::Truncate { g, back } => {
                let m = &self.groups[g];
                let len = m.entries.len() as u64;
                if len == 0 {
                    return None;
                }
                let index = self.next_index(g) - (back % len + 1);
                Some(Concrete::Truncate(g, m.entries[&index].log_id))
            }
            Op::Purge { g, upto } => {
                let m = &self.groups[g];
                let (first, last) = (
                    m.entries.first_key_value()?.0,
                    m.entries.last_key_value()?.0,
                );
                let index = (first + upto).min(*last);
                Some(Concrete::Purge(g, m.entries[&index].log_id))
            }
            Op::Vote { g, term, node } => Some(Concrete::Vote(g, Vote::new(term, node))),
            Op::Committed { g, some, back } => {
                let m = &self.groups[g];
                let c = if some && !m.entries.is_empty() {
                    let len = m.entries.len() as u64;
                    let index = self.next_index(g) - (back % len + 1);
                    Some(m.entries[&index].log_id)
                } else {
                    None
                };
                Some(Concrete::Committed(g, c))
            }
            Op::Remove { g } => Some(Concrete::Remove(g)),
            Op::Reopen | Op::Crash { .. } => None,
        }
    }

    fn apply(&mut self, c: &Concrete) {
        match c {
            Concrete::Append(g, es) => {
                let m = &mut self.groups[*g];
                if let Some(f) = es.first() {
                    let _ = m.entries.split_off(&f.log_id.index);
                }
                for e in es {
                    m.entries.insert(e.log_id.index, e.clone());
                }
            }
            Concrete::Truncate(g, l) => {
                let _ = self.groups[*g].entries.split_off(&l.index);
            }
            Concrete::Purge(g, l) => {
                let m = &mut self.groups[*g];
                if m.purged.is_some_and(|p| p.index > l.index) {
                    return;
                }
                m.entries = m.entries.split_off(&(l.index + 1));
                m.purged = Some(*l);
            }
            Concrete::Vote(g, v) => self.groups[*g].vote = Some(*v),
            Concrete::Committed(g, c) => self.groups[*g].committed = *c,
            Concrete::Remove(g) => self.groups[*g] = MGroup::default(),
        }
    }
}

fn actual(log: &GroupLog) -> MGroup {
    MGroup {
        entries: log
            .entries_in(..)
            .unwrap()
            .into_iter()
            .map(|e| (e.log_id.index, e))
            .collect(),
        vote: log.vote(),
        committed: log.committed(),
        purged: log.log_state().last_purged_log_id,
    }
}

fn state_of(wal: &Wal) -> [MGroup; 3] {
    GROUPS.map(|n| actual(&wal.group(n)))
}

/// Issues an operation; appends and votes are awaited only if `wait`.
async fn issue(wal: &Wal, c: &Concrete, wait: bool) {
    match c {
        Concrete::Append(g, es) => {
            let log = wal.group(GROUPS[*g]);
            if wait {
                append_wait(&log, es.clone()).await;
            } else {
                log.append_with(es.clone(), Box::new(|_| {})).await.unwrap();
            }
        }
        Concrete::Truncate(g, l) => wal.group(GROUPS[*g]).truncate_inner(*l).await.unwrap(),
        Concrete::Purge(g, l) => wal.group(GROUPS[*g]).purge_inner(*l).await.unwrap(),
        Concrete::Vote(g, v) => wal.group(GROUPS[*g]).save_vote_inner(v).await.unwrap(),
        Concrete::Committed(g, c) => wal
            .group(GROUPS[*g])
            .save_committed_inner(*c)
            .await
            .unwrap(),
        Concrete::Remove(g) => wal.remove_group(GROUPS[*g]).await.unwrap(),
    }
}

fn op_strategy(pending: bool) -> BoxedStrategy<Op> {
    let g = 0..3usize;
    let base = prop_oneof![
        4 => (g.clone(), 1..5u64, any::<bool>(), prop_oneof![3 => Just(0u64), 1 => 1..4u64])
            .prop_map(|(g, n, bump, back)| Op::Append { g, n, bump, back }),
        1 => (g.clone(), 0..4u64).prop_map(|(g, back)| Op::Truncate { g, back }),
        1 => (g.clone(), 0..6u64).prop_map(|(g, upto)| Op::Purge { g, upto }),
        1 => (g.clone(), any::<bool>(), 0..4u64)
            .prop_map(|(g, some, back)| Op::Committed { g, some, back }),
    ];
    if pending {
        return base.boxed();
    }
    prop_oneof![
        8 => base,
        1 => (g.clone(), 1..50u64, 1..4u64).prop_map(|(g, term, node)| Op::Vote { g, term, node }),
        1 => g.prop_map(|g| Op::Remove { g }),
        1 => Just(Op::Reopen),
        1 => (prop::collection::vec(op_strategy(true), 0..6), any::<u64>())
            .prop_map(|(pending, seed)| Op::Crash { pending, seed }),
    ]
    .boxed()
}

fn check(wal: &Wal, model: &Model, when: &str) {
    let got = state_of(wal);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(
            g, &model.groups[i],
            "group {} differs from the model {when}",
            GROUPS[i]
        );
        let m = &model.groups[i];
        let last = m
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(m.purged);
        assert_eq!(
            wal.group(GROUPS[i]).log_state().last_log_id,
            last,
            "group {}'s last log id {when}",
            GROUPS[i]
        );
    }
    let want: Vec<String> = (0..3)
        .filter(|i| {
            let m = &model.groups[*i];
            !m.entries.is_empty() || m.vote.is_some() || m.committed.is_some() || m.purged.is_some()
        })
        .map(|i| GROUPS[i].to_string())
        .collect();
    assert_eq!(wal.groups(), want, "groups() {when}");
}

/// Cuts the last segment at a random byte of what was written after the last sync.
fn tear(dir: &std::path::Path, durable: (u64, u64), seed: u64) {
    let segs = segment::list(dir).unwrap();
    let (seq, path) = segs.last().unwrap();
    let len = std::fs::metadata(path).unwrap().len();
    let lo = if *seq == durable.0 { durable.1 } else { 0 };
    assert!(lo <= len);
    let at = lo + seed % (len - lo + 1);
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(at).unwrap();
}

async fn run_case(ops: Vec<Op>, segment_bytes: u64, memory_per_group: u64) {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_bytes,
        memory_per_group,
        ..WalOptions::default()
    };
    let mut wal = Wal::open(dir.path(), opts).unwrap();
    let mut model = Model::default();
    for op in &ops {
        match op {
            Op::Reopen => {
                wal.shutdown().await.unwrap();
                drop(wal);
                wal = Wal::open(dir.path(), opts).unwrap();
                check(&wal, &model, "after a reopen");
            }
            Op::Crash { pending, seed } => {
                let resume = wal.pause().await;
                let mut snaps = vec![model.clone()];
                let mut scratch = model.clone();
                let mut issued = Vec::new();
                for p in pending {
                    if let Some(c) = scratch.resolve(p) {
                        scratch.apply(&c);
                        snaps.push(scratch.clone());
                        issued.push(c);
                    }
                }
                for c in &issued {
                    issue(&wal, c, false).await;
                }
                wal.crash_after(Some(resume)).await;
                let durable = wal.durable_position();
                drop(wal);
                tear(dir.path(), durable, *seed);
                wal = Wal::open(dir.path(), opts).unwrap();
                let got = state_of(&wal);
                let k = snaps
                    .iter()
                    .rposition(|s| s.groups == got)
                    .unwrap_or_else(|| {
                        panic!("after a crash the state is no prefix of the issued operations: {got:#?}\nsynced model: {:#?}", snaps[0].groups)
                    });
                // Terms and nonces run on: later entries stay unique.
                let (terms, nonce) = (scratch.terms, scratch.nonce);
                model = snaps.swap_remove(k);
                model.terms = terms;
                model.nonce = nonce;
                check(&wal, &model, "after a crash");
            }
            op => {
                if let Some(c) = model.resolve(op) {
                    model.apply(&c);
                    issue(&wal, &c, true).await;
                }
                check(&wal, &model, "in memory");
            }
        }
    }
    wal.shutdown().await.unwrap();
    drop(wal);
    let wal = Wal::open(dir.path(), opts).unwrap();
    check(&wal, &model, "at the end");
}

proptest! {
    // WAL_MODEL_CASES=n runs more cases.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("WAL_MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn wal_matches_model_across_reopens_and_crashes(
        ops in prop::collection::vec(op_strategy(false), 1..40),
        segment_bytes in prop_oneof![Just(200u64), Just(600u64), Just(1u64 << 20)],
        // None, a few entries, all.
        memory_per_group in prop_oneof![Just(0u64), Just(300u64), Just(8u64 << 20)],
    ) {
        rt().block_on(run_case(ops, segment_bytes, memory_per_group));
    }
}
