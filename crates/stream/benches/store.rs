//! Message store throughput: appends of 128-byte messages (buffered, no sync) and reads back
//! by sequence, for the file and the memory store.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::MsgStore;
use std::time::{Duration, Instant};

const PAYLOAD: [u8; 128] = [b'x'; 128];
const SUBJECT: &str = "orders.eu.created";
const READ_SET: u64 = 100_000;

fn file_store(dir: &tempfile::TempDir) -> FileStore {
    FileStore::open(dir.path(), FileStoreConfig::default()).unwrap()
}

/// Appends `iters` messages to a fresh store made by `make`, timing only the appends.
fn time_appends<S: MsgStore>(iters: u64, make: impl Fn() -> S) -> Duration {
    let mut s = make();
    let start = Instant::now();
    for i in 0..iters {
        s.append(SUBJECT, None, &PAYLOAD, i as i64).unwrap();
    }
    let took = start.elapsed();
    drop(s);
    took
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_128B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("memory", |b| {
        b.iter_custom(|n| time_appends(n, MemoryStore::new))
    });
    g.bench_function("file", |b| {
        b.iter_custom(|n| {
            let dir = tempfile::tempdir().unwrap();
            time_appends(n, || file_store(&dir))
        })
    });
    // Ten subjects round-robin: every append looks its subject up.
    let subjects: Vec<String> = (0..10).map(|i| format!("orders.eu.{i}")).collect();
    g.bench_function("file_10_subjects", |b| {
        b.iter_custom(|n| {
            let dir = tempfile::tempdir().unwrap();
            let mut s = file_store(&dir);
            let start = Instant::now();
            for i in 0..n {
                s.append(&subjects[i as usize % 10], None, &PAYLOAD, i as i64)
                    .unwrap();
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn fill<S: MsgStore>(s: &mut S) {
    for i in 0..READ_SET {
        s.append(SUBJECT, None, &PAYLOAD, i as i64).unwrap();
    }
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_128B");
    g.throughput(Throughput::Elements(1));
    let mut mem = MemoryStore::new();
    fill(&mut mem);
    let mut seq = 0u64;
    g.bench_function("memory", |b| {
        b.iter(|| {
            seq = seq % READ_SET + 1;
            black_box(mem.get(seq).unwrap())
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let mut file = file_store(&dir);
    fill(&mut file);
    file.sync().unwrap();
    g.bench_function("file", |b| {
        b.iter(|| {
            seq = seq % READ_SET + 1;
            black_box(file.get(seq).unwrap())
        })
    });
    let mut x = 12345u64;
    g.bench_function("file_random", |b| {
        b.iter(|| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            black_box(file.get((x >> 33) % READ_SET + 1).unwrap())
        })
    });
    g.bench_function("file_next_matching", |b| {
        b.iter(|| {
            seq = seq % READ_SET + 1;
            black_box(file.next_matching(seq, Some("orders.*.created")).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, appends, reads);
criterion_main!(benches);
