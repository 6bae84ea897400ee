//! Match benchmarks on a sublist with 10,000 subscriptions:
//! - 9,000 literal `svc.<a>.<b>.req` (a < 100, b < 90);
//! - for each a < 100: 4 × `evt.<a>.*` and 4 × `evt.<a>.>` (800);
//! - for each b < 100: 2 members of queue group `workers` on `evt.*.<b>` (200).
//!
//! So `svc.42.17.req` matches 1 literal subscription, and `evt.42.17` matches 8 plain
//! subscriptions through `*`/`>` plus one queue group of 2 members.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use sluice_router::Sublist;

fn build(cache: usize) -> Sublist<Arc<u64>> {
    let s = Sublist::with_cache_capacity(cache);
    let mut n = 0u64;
    let mut add = |subject: &str, queue: Option<&str>| {
        s.insert(subject, queue, Arc::new(n)).unwrap();
        n += 1;
    };
    for a in 0..100 {
        for b in 0..90 {
            add(&format!("svc.{a}.{b}.req"), None);
        }
        for _ in 0..4 {
            add(&format!("evt.{a}.*"), None);
            add(&format!("evt.{a}.>"), None);
        }
    }
    for b in 0..100 {
        for _ in 0..2 {
            add(&format!("evt.*.{b}"), Some("workers"));
        }
    }
    assert_eq!(s.count(), 10_000);
    s
}

fn bench(c: &mut Criterion) {
    let uncached = build(0);
    let cached = build(sluice_router::DEFAULT_CACHE_CAPACITY);

    let mut g = c.benchmark_group("match_10k");
    g.bench_function("literal_uncached", |b| {
        b.iter(|| uncached.matches(black_box("svc.42.17.req")))
    });
    g.bench_function("wildcard_uncached", |b| {
        b.iter(|| uncached.matches(black_box("evt.42.17")))
    });
    g.bench_function("no_interest_uncached", |b| {
        b.iter(|| uncached.matches(black_box("svc.42.17.rsp")))
    });
    g.bench_function("has_interest_uncached", |b| {
        b.iter(|| uncached.has_interest(black_box("evt.42.17")))
    });
    cached.matches("evt.42.17");
    g.bench_function("wildcard_cached", |b| {
        b.iter(|| cached.matches(black_box("evt.42.17")))
    });
    let subjects: Vec<String> = (0..1000)
        .map(|i| format!("svc.{}.{}.req", i % 100, i % 90))
        .collect();
    for s in &subjects {
        cached.matches(s);
    }
    g.bench_function("cached_1000_subjects", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % subjects.len();
            cached.matches(black_box(&subjects[i]))
        })
    });
    g.finish();

    c.bench_function("insert_remove_wildcard_10k_cached", |b| {
        let v = Arc::new(u64::MAX);
        b.iter(|| {
            cached.insert("evt.3.*", None, v.clone()).unwrap();
            cached.remove("evt.3.*", None, &v)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
