//! Tests of [`Slots`]: it behaves as a `VecDeque` of slots, with and without paging.

use super::*;
use crate::store::index::pager::{PageOut, Paged, Pager, PagingConfig};

/// Test entries: a flag byte and the value.
impl Paged for u64 {
    const BYTES: usize = 9;

    fn put(slot: Option<&Self>, out: &mut [u8]) {
        out[0] = u8::from(slot.is_some());
        out[1..9].copy_from_slice(&slot.copied().unwrap_or(0).to_le_bytes());
    }

    fn get(b: &[u8]) -> Option<Self> {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[1..9]);
        (b[0] == 1).then_some(u64::from_le_bytes(v))
    }
}

fn all(s: &Slots<u64>) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    assert!(s.scan(0..s.len(), |_, v| {
        out.push(v.copied());
        true
    }));
    out
}

fn all_rev(s: &Slots<u64>) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    s.scan_rev(0..s.len(), |_, v| {
        out.push(v.copied());
        true
    });
    out
}

/// The same operations on a `VecDeque` and on `Slots` give the same contents; with `pager`,
/// also while most chunks are paged out.
fn behaves_as_a_vecdeque(pager: Option<PagingConfig>) {
    let dir = tempfile::tempdir().unwrap();
    let mut model: VecDeque<Option<u64>> = VecDeque::new();
    let mut s: Slots<u64> = Slots::default();
    if let Some(config) = pager {
        s.set_pager(Box::new(Pager::<u64>::new(dir.path().into(), config)));
    }
    // A deterministic mix: long runs of pushes, pops, takes in the middle, clears.
    let mut x: u64 = 12345;
    for step in 0..60_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        match (x >> 33) % 10 {
            0..=5 => {
                let v = (step % 7 != 0).then_some(step);
                model.push_back(v);
                s.push_back(v);
            }
            6 | 7 => assert_eq!(model.pop_front(), s.pop_front(), "pop at {step}"),
            8 if !model.is_empty() => {
                let i = (x as usize) % model.len();
                let want = model.get_mut(i).map(Option::take);
                if step % 2 == 0 {
                    assert_eq!(want, s.get_mut(i).map(Option::take));
                } else {
                    assert_eq!(want.flatten(), s.take(i));
                }
            }
            9 if step % 5000 == 9 => {
                model.clear();
                s.clear();
            }
            _ => {}
        }
        assert_eq!(model.len(), s.len());
        if let Some(config) = pager {
            // A change to an old chunk keeps it and the newest in memory, whatever the budget.
            assert!(s.resident() <= config.resident.max(2), "resident at {step}");
        }
        if step % 997 == 0 {
            assert!(model.iter().copied().eq(all(&s)), "contents at {step}");
            assert!(
                model.iter().rev().copied().eq(all_rev(&s)),
                "reversed at {step}"
            );
            let n = model.len();
            let mut part = Vec::new();
            s.scan(n / 3..n / 2, |i, v| {
                part.push((i, v.copied()));
                true
            });
            let want: Vec<_> = (n / 3..n / 2).map(|i| (i, model[i])).collect();
            assert_eq!(part, want);
            for i in [0, n / 5, n / 2, n.saturating_sub(1)] {
                assert_eq!(s.get(i).map(|e| *e), model.get(i).copied().flatten());
            }
        }
    }
    let mut drained = Vec::new();
    s.drain_all(|i, v| drained.push((i, v)));
    let want: Vec<_> = model
        .drain(..)
        .enumerate()
        .filter_map(|(i, v)| Some((i, v?)))
        .collect();
    assert_eq!(drained, want);
    assert_eq!(s.len(), 0);
    s.push_back(Some(1));
    assert_eq!(s.get(0).map(|e| *e), Some(1));
}

#[test]
fn behaves_as_a_vecdeque_in_memory() {
    behaves_as_a_vecdeque(None);
}

#[test]
fn behaves_as_a_vecdeque_when_paged() {
    for (chunk_bits, resident, cached) in [(4, 1, 0), (5, 2, 1), (6, 3, 4)] {
        behaves_as_a_vecdeque(Some(PagingConfig {
            chunk_bits,
            resident,
            cached,
        }));
    }
}

#[test]
fn memory_follows_the_live_slots() {
    let mut s: Slots<u64> = Slots::default();
    let chunk = 1 << CHUNK_BITS;
    for i in 0..10 * chunk as u64 {
        s.push_back(Some(i));
    }
    assert_eq!(s.chunks.len(), 10);
    for _ in 0..9 * chunk {
        s.pop_front();
    }
    assert_eq!(s.chunks.len(), 1, "chunks emptied at the front are dropped");
    assert_eq!(s.get(0).map(|e| *e), Some(9 * chunk as u64));
}

/// With a pager, memory holds `resident` chunks however many slots there are, and paged-out
/// chunks read back the same.
#[test]
fn paging_keeps_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let mut s: Slots<u64> = Slots::default();
    let config = PagingConfig {
        chunk_bits: 8,
        resident: 2,
        cached: 1,
    };
    s.set_pager(Box::new(Pager::<u64>::new(dir.path().into(), config)));
    for i in 0..100 * 256u64 {
        s.push_back(Some(i));
    }
    assert_eq!(s.resident(), 2);
    // Two resident chunks and the spare (the last one paged out, kept for the next push).
    assert_eq!(
        s.resident_bytes(),
        3 * 256 * std::mem::size_of::<Option<u64>>()
    );
    // What a paged-out chunk still costs in memory: its place in the queue.
    assert!(std::mem::size_of::<Chunk<u64>>() <= 32);
    assert_eq!(s.page_reads(), 0, "appends read nothing back");
    assert_eq!(s.get(5).map(|e| *e), Some(5));
    assert_eq!(s.page_reads(), 1, "a lone read loads just its slot");
    assert_eq!(s.get(7).map(|e| *e), Some(7));
    assert_eq!(s.page_reads(), 2, "a read just after it loads the chunk");
    assert_eq!(s.get(9).map(|e| *e), Some(9));
    assert_eq!(s.get(1000).map(|e| *e), Some(1000));
    assert_eq!(
        s.page_reads(),
        3,
        "the chunk is cached, a lone read elsewhere is not"
    );
    assert_eq!(s.get(11).map(|e| *e), Some(11));
    assert_eq!(s.page_reads(), 3, "the loaded chunk is still cached");
    // Taking from an old chunk leaves it out; changing it otherwise brings it back (and sends
    // another out).
    assert_eq!(s.take(290), Some(290));
    assert_eq!(s.take(290), None);
    assert_eq!(s.get(290).map(|e| *e), None);
    assert_eq!(s.resident(), 2);
    s.get_mut(290).unwrap().replace(290);
    assert_eq!(s.get_mut(300).and_then(Option::take), Some(300));
    assert_eq!(s.resident(), 2);
    assert_eq!(s.get(290).map(|e| *e), Some(290));
    assert_eq!(s.get(300).map(|e| *e), None);
    assert_eq!(s.get(301).map(|e| *e), Some(301));
    let mut n = 0u64;
    s.scan(0..s.len(), |i, v| {
        assert_eq!(v.copied(), (i != 300).then_some(i as u64));
        n += 1;
        true
    });
    assert_eq!(n, 100 * 256);
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 0, "the page file is unlinked");
    s.clear();
    assert_eq!(s.len(), 0);
    assert_eq!(s.resident(), 0);
}

/// Slabs of dropped chunks are reused, so the page file grows only with what is paged out.
#[test]
fn pager_reuses_freed_slabs() {
    let dir = tempfile::tempdir().unwrap();
    let config = PagingConfig {
        chunk_bits: 2,
        resident: 1,
        cached: 1,
    };
    let mut p = Pager::<u64>::new(dir.path().into(), config);
    let chunk = |v: u64| vec![Some(v), None, Some(v + 1), None];
    assert_eq!(p.store(&chunk(10)).unwrap(), 0);
    assert_eq!(p.store(&chunk(20)).unwrap(), 1);
    assert_eq!(&*p.load(7, 1), &chunk(20)[..]);
    p.free(7, 1);
    assert_eq!(p.store(&chunk(30)).unwrap(), 1, "the freed slab is reused");
    assert_eq!(
        &*p.load(7, 1),
        &chunk(30)[..],
        "the cache forgot the freed chunk"
    );
    assert_eq!(p.take_one(8, 1, 2).unwrap(), Some(31));
    assert_eq!(&*p.take(8, 1), &[Some(30), None, None, None][..]);
    assert_eq!(&*p.take(9, 0), &chunk(10)[..]);
    assert_eq!(p.store(&chunk(40)).unwrap(), 0);
}
