//! Property test: the trie (with its cache) agrees with a naive matcher over a Vec of all live
//! subscriptions, for random interleavings of inserts, removes and matches.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sluice_protocol::subject::subject_matches;
use sluice_router::{MatchResult, Sublist};

/// Plain values sorted, and group name -> sorted members.
type Normalized = (Vec<u32>, BTreeMap<String, Vec<u32>>);

#[derive(Debug, Clone)]
enum Op {
    Insert(String, Option<String>, u32),
    /// Remove the live entry at this index (modulo the number of live entries), if any.
    RemoveLive(usize),
    /// Remove an arbitrary (often nonexistent) entry.
    RemoveAny(String, Option<String>, u32),
    Match(String),
}

fn literal_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c"])
}

fn pattern() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec!["a", "b", "c", "*"]);
    (prop::collection::vec(token, 0..4), any::<bool>()).prop_filter_map(
        "non-empty pattern",
        |(mut toks, tail)| {
            if tail {
                toks.push(">");
            }
            (!toks.is_empty()).then(|| toks.join("."))
        },
    )
}

fn subject() -> BoxedStrategy<String> {
    prop::collection::vec(literal_token(), 1..5)
        .prop_map(|t| t.join("."))
        .boxed()
}

/// Subjects a careless caller might pass unvalidated: wildcard and empty tokens.
fn unvalidated_subject() -> BoxedStrategy<String> {
    let token = prop::sample::select(vec!["a", "b", "*", ">", ""]);
    prop::collection::vec(token, 1..5)
        .prop_map(|t| t.join("."))
        .boxed()
}

fn queue() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec!["q1", "q2"]).prop_map(String::from))
}

fn op(subject: fn() -> BoxedStrategy<String>) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (pattern(), queue(), 0u32..6).prop_map(|(p, q, v)| Op::Insert(p, q, v)),
        2 => any::<usize>().prop_map(Op::RemoveLive),
        1 => (pattern(), queue(), 0u32..6).prop_map(|(p, q, v)| Op::RemoveAny(p, q, v)),
        5 => subject().prop_map(Op::Match),
    ]
}

#[derive(Default)]
struct Naive {
    live: Vec<(String, Option<String>, u32)>,
}

impl Naive {
    fn remove(&mut self, p: &str, q: Option<&str>, v: u32) -> bool {
        match self
            .live
            .iter()
            .position(|(lp, lq, lv)| lp == p && lq.as_deref() == q && *lv == v)
        {
            Some(i) => {
                self.live.remove(i);
                true
            }
            None => false,
        }
    }

    fn matches(&self, subject: &str) -> Normalized {
        let mut plain = Vec::new();
        let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (p, q, v) in &self.live {
            if subject_matches(p, subject) {
                match q {
                    None => plain.push(*v),
                    Some(q) => groups.entry(q.clone()).or_default().push(*v),
                }
            }
        }
        plain.sort_unstable();
        groups.values_mut().for_each(|m| m.sort_unstable());
        (plain, groups)
    }
}

fn normalize(m: &MatchResult<u32>) -> Normalized {
    let mut plain = m.plain.clone();
    plain.sort_unstable();
    let mut groups = BTreeMap::new();
    for g in &m.queues {
        assert!(!g.members.is_empty(), "empty group {}", g.name);
        let mut members = g.members.clone();
        members.sort_unstable();
        let prev = groups.insert(g.name.to_string(), members);
        assert!(prev.is_none(), "group {} appears twice", g.name);
    }
    (plain, groups)
}

fn run(ops: Vec<Op>, probes: Vec<String>, cache_capacity: usize) {
    let s = Sublist::with_cache_capacity(cache_capacity);
    let mut naive = Naive::default();
    let mut generation = s.generation();
    let check = |s: &Sublist<u32>, naive: &Naive, subj: &str| {
        let got = normalize(&s.matches(subj));
        assert_eq!(
            got,
            naive.matches(subj),
            "subject {subj:?}, live {:?}",
            naive.live
        );
        // A second call (now possibly cached) agrees too.
        assert_eq!(normalize(&s.matches(subj)), got);
        assert_eq!(s.has_interest(subj), !got.0.is_empty() || !got.1.is_empty());
    };
    for op in ops {
        let changed = match op {
            Op::Insert(p, q, v) => {
                s.insert(&p, q.as_deref(), v).unwrap();
                naive.live.push((p, q, v));
                true
            }
            Op::RemoveLive(i) => {
                if naive.live.is_empty() {
                    false
                } else {
                    let (p, q, v) = naive.live[i % naive.live.len()].clone();
                    assert!(s.remove(&p, q.as_deref(), &v));
                    assert!(naive.remove(&p, q.as_deref(), v));
                    true
                }
            }
            Op::RemoveAny(p, q, v) => {
                let found = s.remove(&p, q.as_deref(), &v);
                assert_eq!(found, naive.remove(&p, q.as_deref(), v));
                found
            }
            Op::Match(subj) => {
                check(&s, &naive, &subj);
                false
            }
        };
        let now = s.generation();
        if changed {
            assert!(now > generation);
        } else {
            assert_eq!(now, generation);
        }
        generation = now;
        assert_eq!(s.count(), naive.live.len());
    }
    for subj in &probes {
        check(&s, &naive, subj);
    }
    // Remove everything: the trie must prune back to nothing.
    for (p, q, v) in std::mem::take(&mut naive.live) {
        assert!(s.remove(&p, q.as_deref(), &v));
    }
    assert_eq!(s.count(), 0);
    for subj in &probes {
        assert!(s.matches(subj).is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_naive(
        ops in prop::collection::vec(op(subject), 0..80),
        probes in prop::collection::vec(subject(), 0..16),
    ) {
        run(ops, probes, sluice_router::DEFAULT_CACHE_CAPACITY);
    }

    /// A tiny cache, so eviction happens constantly alongside invalidation.
    #[test]
    fn agrees_with_naive_tiny_cache(
        ops in prop::collection::vec(op(subject), 0..80),
        probes in prop::collection::vec(subject(), 0..16),
    ) {
        run(ops, probes, 16);
    }

    /// Unvalidated subjects never panic and still agree with the naive matcher (which the
    /// cache relies on when it invalidates by pattern).
    #[test]
    fn agrees_with_naive_unvalidated_subjects(
        ops in prop::collection::vec(op(unvalidated_subject), 0..80),
        probes in prop::collection::vec(unvalidated_subject(), 0..16),
    ) {
        run(ops, probes, sluice_router::DEFAULT_CACHE_CAPACITY);
    }

    #[test]
    fn agrees_with_naive_no_cache(
        ops in prop::collection::vec(op(subject), 0..80),
        probes in prop::collection::vec(subject(), 0..16),
    ) {
        run(ops, probes, 0);
    }
}
