//! Matching semantics of `Sublist`: literals, wildcards, queue groups, removal, cache.

use rand::rngs::StdRng;
use rand::SeedableRng;
use sluice_router::{MatchResult, RouterError, Sublist};

fn sorted_plain(m: &MatchResult<u32>) -> Vec<u32> {
    let mut v = m.plain.clone();
    v.sort_unstable();
    v
}

fn sorted_members(m: &MatchResult<u32>, q: &str) -> Vec<u32> {
    let mut v = m.queue(q).expect("group present").members.clone();
    v.sort_unstable();
    v
}

#[test]
fn literal() {
    let s = Sublist::new();
    s.insert("foo.bar", None, 1u32).unwrap();
    assert_eq!(s.matches("foo.bar").plain, vec![1]);
    assert!(s.matches("foo").is_empty());
    assert!(s.matches("foo.baz").is_empty());
    assert!(s.matches("foo.bar.baz").is_empty());
    assert_eq!(s.count(), 1);
}

#[test]
fn star_matches_exactly_one_token() {
    let s = Sublist::new();
    s.insert("foo.*", None, 1u32).unwrap();
    s.insert("*.bar", None, 2).unwrap();
    s.insert("*.*.baz", None, 3).unwrap();
    assert_eq!(sorted_plain(&s.matches("foo.bar")), vec![1, 2]);
    assert_eq!(sorted_plain(&s.matches("foo.x")), vec![1]);
    assert!(s.matches("foo").is_empty());
    assert!(s.matches("foo.bar.qux").is_empty());
    assert_eq!(sorted_plain(&s.matches("a.b.baz")), vec![3]);
}

#[test]
fn tail_matches_one_or_more_tokens() {
    let s = Sublist::new();
    s.insert("foo.>", None, 1u32).unwrap();
    s.insert(">", None, 2).unwrap();
    assert_eq!(sorted_plain(&s.matches("foo.bar")), vec![1, 2]);
    assert_eq!(sorted_plain(&s.matches("foo.bar.baz.qux")), vec![1, 2]);
    assert_eq!(sorted_plain(&s.matches("bar")), vec![2]);
}

#[test]
fn tail_does_not_match_parent() {
    let s = Sublist::new();
    s.insert("foo.>", None, 1u32).unwrap();
    s.insert("foo.*.>", None, 2).unwrap();
    assert!(s.matches("foo").is_empty());
    assert!(!s.has_interest("foo"));
    assert_eq!(sorted_plain(&s.matches("foo.bar")), vec![1]);
    assert_eq!(sorted_plain(&s.matches("foo.bar.baz")), vec![1, 2]);
}

#[test]
fn wildcard_lookalikes_are_literal() {
    let s = Sublist::new();
    s.insert("foo.a*", None, 1u32).unwrap();
    s.insert("foo.>b", None, 2).unwrap();
    assert!(s.matches("foo.ab").is_empty());
    assert_eq!(s.matches("foo.a*").plain, vec![1]);
    assert_eq!(s.matches("foo.>b").plain, vec![2]);
}

#[test]
fn duplicates_are_distinct_entries() {
    let s = Sublist::new();
    s.insert("foo", None, 7u32).unwrap();
    s.insert("foo", None, 7).unwrap();
    s.insert("foo", Some("q"), 7).unwrap();
    s.insert("foo", Some("q"), 7).unwrap();
    let m = s.matches("foo");
    assert_eq!(m.plain, vec![7, 7]);
    assert_eq!(m.queue("q").unwrap().members, vec![7, 7]);
    assert_eq!(m.len(), 3);
    assert_eq!(s.count(), 4);
    assert!(s.remove("foo", None, &7));
    assert_eq!(s.matches("foo").plain, vec![7]);
}

#[test]
fn queue_groups_merge_across_patterns() {
    let s = Sublist::new();
    s.insert("foo.*", Some("q"), 1u32).unwrap();
    s.insert("foo.>", Some("q"), 2).unwrap();
    s.insert("foo.bar", Some("q"), 3).unwrap();
    s.insert("foo.bar", Some("r"), 4).unwrap();
    s.insert("foo.*", Some("r"), 5).unwrap();
    s.insert("foo.bar", None, 6).unwrap();
    let m = s.matches("foo.bar");
    assert_eq!(m.queues.len(), 2, "one group per name: {m:?}");
    assert_eq!(sorted_members(&m, "q"), vec![1, 2, 3]);
    assert_eq!(sorted_members(&m, "r"), vec![4, 5]);
    assert_eq!(m.plain, vec![6]);
    assert_eq!(m.len(), 3);

    let m = s.matches("foo.baz.qux");
    assert_eq!(m.queues.len(), 1);
    assert_eq!(sorted_members(&m, "q"), vec![2]);
    assert!(m.queue("r").is_none());
}

#[test]
fn queue_and_plain_are_separate() {
    let s = Sublist::new();
    s.insert("foo", Some("q"), 1u32).unwrap();
    assert!(!s.remove("foo", None, &1), "plain entry does not exist");
    assert!(!s.remove("foo", Some("other"), &1));
    assert!(s.remove("foo", Some("q"), &1));
}

#[test]
fn remove() {
    let s = Sublist::new();
    s.insert("foo.*", None, 1u32).unwrap();
    s.insert("foo.*", None, 2).unwrap();
    assert!(s.remove("foo.*", None, &1));
    assert_eq!(s.matches("foo.bar").plain, vec![2]);
    assert_eq!(s.count(), 1);
}

#[test]
fn remove_nonexistent_returns_false() {
    let s = Sublist::new();
    assert!(!s.remove("foo", None, &1u32));
    s.insert("foo.bar", None, 1).unwrap();
    let generation = s.generation();
    assert!(!s.remove("foo.bar", None, &2));
    assert!(!s.remove("foo", None, &1));
    assert!(!s.remove("foo.bar.baz", None, &1));
    assert!(!s.remove("foo.*", None, &1));
    assert!(!s.remove("foo.>", None, &1));
    assert!(!s.remove("foo.>.bar", None, &1));
    assert!(!s.remove("", None, &1));
    assert_eq!(s.generation(), generation);
    assert_eq!(s.count(), 1);
}

#[test]
fn prune_back_to_empty() {
    let s = Sublist::new();
    let pats = [
        "a", "a.b", "a.b.c", "a.*", "a.*.c", "a.>", "*", ">", "*.b.>",
    ];
    for (i, p) in pats.iter().enumerate() {
        s.insert(p, None, i as u32).unwrap();
        s.insert(p, Some("q"), i as u32).unwrap();
    }
    assert_eq!(s.count(), pats.len() * 2);
    assert!(!s.matches("a.b.c").is_empty());
    for (i, p) in pats.iter().enumerate() {
        assert!(s.remove(p, None, &(i as u32)));
        assert!(s.remove(p, Some("q"), &(i as u32)));
    }
    assert_eq!(s.count(), 0);
    for subj in ["a", "a.b", "a.b.c", "a.x.c", "z", "z.b.q"] {
        assert!(s.matches(subj).is_empty(), "{subj}");
        assert!(!s.has_interest(subj), "{subj}");
    }
}

#[test]
fn invalid_subject_and_queue() {
    let s = Sublist::new();
    for bad in [
        "",
        ".",
        "foo.",
        ".foo",
        "foo..bar",
        "foo bar",
        "foo.>.bar",
        ">.foo",
    ] {
        assert_eq!(
            s.insert(bad, None, 1u32),
            Err(RouterError::InvalidSubject),
            "{bad:?}"
        );
    }
    for bad in ["", "a b", "a\tb"] {
        assert_eq!(
            s.insert("foo", Some(bad), 1),
            Err(RouterError::InvalidQueue),
            "{bad:?}"
        );
    }
    assert_eq!(s.count(), 0);
    assert_eq!(s.generation(), 0);
    assert_eq!(RouterError::InvalidSubject.to_string(), "Invalid Subject");
    assert_eq!(RouterError::InvalidQueue.to_string(), "Invalid Queue Name");
}

#[test]
fn pick_touches_every_member() {
    let s = Sublist::new();
    for i in 0..5u32 {
        s.insert("work", Some("q"), i).unwrap();
    }
    let m = s.matches("work");
    let g = m.queue("q").unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let mut seen = [0usize; 5];
    for _ in 0..1000 {
        seen[*g.pick(&mut rng) as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n > 100), "roughly uniform: {seen:?}");
    // Also works through a trait object.
    let dynrng: &mut dyn rand::RngCore = &mut rng;
    assert!(*g.pick(dynrng) < 5);
}

#[test]
fn cache_invalidated_on_insert() {
    let s = Sublist::new();
    s.insert("foo.bar", None, 1u32).unwrap();
    assert_eq!(s.matches("foo.bar").plain, vec![1]);
    assert!(s.matches("foo.baz").is_empty());
    s.insert("foo.bar", None, 2).unwrap();
    assert_eq!(sorted_plain(&s.matches("foo.bar")), vec![1, 2]);
    s.insert("foo.*", Some("q"), 3).unwrap();
    assert_eq!(s.matches("foo.baz").queue("q").unwrap().members, vec![3]);
    s.insert(">", None, 4).unwrap();
    assert_eq!(sorted_plain(&s.matches("foo.bar")), vec![1, 2, 4]);
    assert!(s.has_interest("foo.baz"));
}

#[test]
fn cache_invalidated_on_remove() {
    let s = Sublist::new();
    s.insert("foo.>", None, 1u32).unwrap();
    s.insert("foo.bar", Some("q"), 2).unwrap();
    assert_eq!(s.matches("foo.bar").len(), 2);
    assert_eq!(s.matches("foo.bar.baz").len(), 1);
    assert!(s.remove("foo.>", None, &1));
    let m = s.matches("foo.bar");
    assert!(m.plain.is_empty());
    assert_eq!(m.queue("q").unwrap().members, vec![2]);
    assert!(s.matches("foo.bar.baz").is_empty());
    assert!(!s.has_interest("foo.bar.baz"));
    assert!(s.remove("foo.bar", Some("q"), &2));
    assert!(s.matches("foo.bar").is_empty());
}

#[test]
fn generation_tagging_for_private_caches() {
    let s = Sublist::new();
    let g0 = s.generation();
    let r0 = s.matches("a");
    assert!(r0.is_empty());
    assert_eq!(s.generation(), g0, "matching does not bump the generation");
    s.insert("a", None, 1u32).unwrap();
    assert_ne!(s.generation(), g0, "a private cache tagged g0 is now stale");
    assert_eq!(s.matches("a").plain, vec![1]);
}

#[test]
fn default_and_arc_values() {
    use std::sync::Arc;
    let s: Sublist<Arc<String>> = Sublist::default();
    let a = Arc::new("a".to_string());
    s.insert("x.*", None, a.clone()).unwrap();
    assert!(Arc::ptr_eq(&s.matches("x.y").plain[0], &a));
    assert!(s.remove("x.*", None, &a));
}
