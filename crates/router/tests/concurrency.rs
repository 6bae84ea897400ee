//! Readers match from several threads while a writer inserts and removes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use sluice_protocol::subject::subject_matches;
use sluice_router::Sublist;

const SUBJECTS: [&str; 6] = ["a.b.c", "a.b", "a.x.c", "b.b.c", "a.b.c.d", "c"];
const PATTERNS: [&str; 7] = ["a.b.c", "a.*.c", "a.>", "*.b.*", ">", "a.b", "c"];

#[test]
fn concurrent_matches_during_churn() {
    let s: Arc<Sublist<u32>> = Arc::new(Sublist::new());
    // A permanent subscriber every reader must always see.
    s.insert("a.b.c", None, 1_000_000).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers = 3;
    let start = Arc::new(Barrier::new(readers + 1));

    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let (s, done, start) = (s.clone(), done.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) || n < 1000 {
                    let subj = SUBJECTS[(n as usize + r) % SUBJECTS.len()];
                    let m = s.matches(subj);
                    if subj == "a.b.c" {
                        assert!(m.plain.contains(&1_000_000), "permanent subscriber lost");
                    }
                    assert!(m.queues.iter().all(|g| !g.members.is_empty()));
                    let _ = s.has_interest(subj);
                    n += 1;
                }
                n
            })
        })
        .collect();

    start.wait();
    let mut live: Vec<(&str, Option<&str>, u32)> = Vec::new();
    for i in 0..20_000u32 {
        let p = PATTERNS[(i as usize * 7) % PATTERNS.len()];
        let q = [None, Some("q1"), Some("q2")][(i % 3) as usize];
        s.insert(p, q, i).unwrap();
        live.push((p, q, i));
        if i % 3 != 0 {
            let (p, q, v) = live.swap_remove((i as usize * 31) % live.len());
            assert!(s.remove(p, q, &v));
        }
    }
    done.store(true, Ordering::Relaxed);
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total >= 1000 * readers as u64);

    assert_eq!(s.count(), live.len() + 1);
    live.push(("a.b.c", None, 1_000_000));
    for subj in SUBJECTS {
        let m = s.matches(subj);
        let mut got = m.plain.clone();
        got.sort_unstable();
        let mut want: Vec<u32> = live
            .iter()
            .filter(|(p, q, _)| q.is_none() && subject_matches(p, subj))
            .map(|e| e.2)
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "{subj}");
        for qn in ["q1", "q2"] {
            let mut want: Vec<u32> = live
                .iter()
                .filter(|(p, q, _)| *q == Some(qn) && subject_matches(p, subj))
                .map(|e| e.2)
                .collect();
            want.sort_unstable();
            let mut got = m.queue(qn).map(|g| g.members.clone()).unwrap_or_default();
            got.sort_unstable();
            assert_eq!(got, want, "{subj} {qn}");
        }
    }
}

#[test]
fn generation_tag_never_hides_a_change() {
    // A reader that tags results with the generation read *before* matching must never keep a
    // result that misses a subscription inserted before the generation it observes.
    let s: Arc<Sublist<u32>> = Arc::new(Sublist::new());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, done) = (s.clone(), done.clone());
        thread::spawn(move || {
            let mut cached: Option<(u64, Arc<sluice_router::MatchResult<u32>>)> = None;
            while !done.load(Ordering::Acquire) {
                let g = s.generation();
                let r = match &cached {
                    Some((cg, r)) if *cg == g => r.clone(),
                    _ => {
                        let r = s.matches("x.y");
                        cached = Some((g, r.clone()));
                        r
                    }
                };
                // Value v is inserted as the v-th change, so generation g implies all
                // values < g are present (inserts only in this test).
                let have = r.plain.len() as u64;
                assert!(have >= g, "generation {g} but only {have} subscribers");
            }
        })
    };
    for v in 0..5000u32 {
        let p = if v % 2 == 0 { "x.y" } else { "x.*" };
        s.insert(p, None, v).unwrap();
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();
    assert_eq!(s.matches("x.y").plain.len(), 5000);
}
