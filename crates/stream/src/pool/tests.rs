//! The pool with a test owner that records what it is given: order per mailbox, one worker at
//! a time per mailbox, timers, finishing, and a blocked owner not holding up the others.

use super::*;
use std::sync::mpsc;
use std::time::Instant;

/// What a test owner is told to do.
enum Cmd {
    /// Record this number.
    Num(u64),
    /// Ask to be woken this many ms from now.
    WakeIn(i64),
    /// Block until the receiver gets something (a slow disk).
    Block(Arc<Mutex<mpsc::Receiver<()>>>),
    /// Say the step has begun, then block until the receiver gets something.
    Hold(mpsc::Sender<()>, Arc<Mutex<mpsc::Receiver<()>>>),
    /// Finish.
    Stop,
    /// Panic (a bug in an owner).
    Panic,
}

#[derive(Default)]
struct Seen {
    nums: Vec<u64>,
    /// Steps with nothing in the batch (timer or wake).
    empty_steps: usize,
}

struct Recorder {
    seen: Arc<Mutex<Seen>>,
    /// Set while a step runs: a second worker entering the same owner would find it set.
    running: Arc<AtomicBool>,
    overlap: Arc<AtomicBool>,
    events: mpsc::Sender<u64>,
}

impl Owner for Recorder {
    type Cmd = Cmd;

    fn step(&mut self, batch: &mut Vec<Cmd>) -> Step {
        if self.running.swap(true, Ordering::AcqRel) {
            self.overlap.store(true, Ordering::Release);
        }
        let mut step = Step::default();
        if batch.is_empty() {
            self.seen.lock().empty_steps += 1;
            let _ = self.events.send(u64::MAX);
        }
        for cmd in batch.drain(..) {
            match cmd {
                Cmd::Num(n) => {
                    self.seen.lock().nums.push(n);
                    let _ = self.events.send(n);
                }
                Cmd::WakeIn(ms) => step.wake_at = Some(crate::time::now_ns() + ms * 1_000_000),
                Cmd::Block(rx) => {
                    let _ = rx.lock().recv();
                }
                Cmd::Hold(entered, rx) => {
                    let _ = entered.send(());
                    let _ = rx.lock().recv();
                }
                Cmd::Stop => step.done = true,
                Cmd::Panic => panic!("an owner's bug"),
            }
        }
        self.running.store(false, Ordering::Release);
        step
    }
}

struct Handle {
    mb: Arc<Mailbox<Recorder>>,
    seen: Arc<Mutex<Seen>>,
    overlap: Arc<AtomicBool>,
    events: mpsc::Receiver<u64>,
}

fn recorder(pool: &Pool<Recorder>) -> Handle {
    let (tx, rx) = mpsc::channel();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let overlap = Arc::new(AtomicBool::new(false));
    let mb = pool.add(Recorder {
        seen: seen.clone(),
        running: Arc::default(),
        overlap: overlap.clone(),
        events: tx,
    });
    Handle {
        mb,
        seen,
        overlap,
        events: rx,
    }
}

const LONG: Duration = Duration::from_secs(10);

#[test]
fn each_owner_gets_its_commands_in_order_and_never_on_two_workers() {
    let pool = Pool::start("t", 3).unwrap();
    let owners: Vec<Handle> = (0..50).map(|_| recorder(&pool)).collect();
    // Several threads push into every mailbox at once; each thread's numbers must arrive in
    // the order it pushed them.
    let mailboxes: Vec<Arc<Mailbox<Recorder>>> = owners.iter().map(|h| h.mb.clone()).collect();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let owners = &mailboxes;
            scope.spawn(move || {
                for i in 0..500u64 {
                    for mb in owners {
                        mb.push(Cmd::Num(t * 1_000_000 + i)).ok().unwrap();
                    }
                }
            });
        }
    });
    for h in &owners {
        h.mb.push(Cmd::Stop).ok().unwrap();
        h.mb.wait_done();
        let seen = h.seen.lock();
        assert_eq!(seen.nums.len(), 2000);
        for t in 0..4u64 {
            let mine: Vec<u64> = seen
                .nums
                .iter()
                .copied()
                .filter(|n| n / 1_000_000 == t)
                .collect();
            let want: Vec<u64> = (0..500).map(|i| t * 1_000_000 + i).collect();
            assert_eq!(mine, want, "thread {t}'s numbers out of order");
        }
        assert!(
            !h.overlap.load(Ordering::Acquire),
            "two workers ran one owner"
        );
    }
    pool.stop();
}

#[test]
fn a_finished_owner_refuses_pushes() {
    let pool = Pool::start("t", 1).unwrap();
    let h = recorder(&pool);
    h.mb.push(Cmd::Num(1)).ok().unwrap();
    h.mb.push(Cmd::Stop).ok().unwrap();
    h.mb.wait_done();
    assert!(matches!(h.mb.push(Cmd::Num(2)), Err(Cmd::Num(2))));
    assert_eq!(h.seen.lock().nums, vec![1]);
    pool.stop();
}

#[test]
fn an_owner_is_woken_at_the_time_it_asked_for_and_not_before() {
    let pool = Pool::start("t", 2).unwrap();
    let h = recorder(&pool);
    let asked = Instant::now();
    h.mb.push(Cmd::WakeIn(150)).ok().unwrap();
    // The step that took the command, then the timer's step (an empty batch).
    assert_eq!(h.events.recv_timeout(LONG), Ok(u64::MAX));
    let woke = asked.elapsed();
    assert!(woke >= Duration::from_millis(150), "woken after {woke:?}");
    assert_eq!(h.seen.lock().empty_steps, 1);
    // Nothing asked for since: no more wakeups.
    assert!(h.events.recv_timeout(Duration::from_millis(300)).is_err());
    pool.stop();
}

#[test]
fn an_idle_owner_is_not_run() {
    let pool = Pool::start("t", 2).unwrap();
    let h = recorder(&pool);
    h.mb.push(Cmd::Num(7)).ok().unwrap();
    assert_eq!(h.events.recv_timeout(LONG), Ok(7));
    assert!(h.events.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(h.seen.lock().empty_steps, 0);
    h.mb.wake();
    assert_eq!(h.events.recv_timeout(LONG), Ok(u64::MAX));
    pool.stop();
}

#[test]
fn a_wake_while_the_owner_runs_runs_it_again() {
    // A replicated stream's owner is woken when its server becomes the group's leader; a wake
    // that came while a step was running (and had already read who leads) was dropped when
    // nothing was queued, and a create stayed unanswered until something else ran the owner.
    let pool = Pool::start("t", 2).unwrap();
    let h = recorder(&pool);
    let (entered_tx, entered) = mpsc::channel();
    let (release, rx) = mpsc::channel();
    h.mb.push(Cmd::Hold(entered_tx, Arc::new(Mutex::new(rx))))
        .ok()
        .unwrap();
    entered.recv_timeout(LONG).unwrap();
    h.mb.wake();
    release.send(()).unwrap();
    assert_eq!(
        h.events.recv_timeout(LONG),
        Ok(u64::MAX),
        "the wake was lost"
    );
    assert_eq!(h.seen.lock().empty_steps, 1);
    pool.stop();
}

#[test]
fn a_blocked_owner_holds_one_worker_and_the_others_go_on() {
    let pool = Pool::start("t", 2).unwrap();
    let slow = recorder(&pool);
    let fast = recorder(&pool);
    let (unblock, blocked) = mpsc::channel();
    slow.mb
        .push(Cmd::Block(Arc::new(Mutex::new(blocked))))
        .ok()
        .unwrap();
    slow.mb.push(Cmd::Num(1)).ok().unwrap();
    for i in 0..100 {
        fast.mb.push(Cmd::Num(i)).ok().unwrap();
    }
    for i in 0..100 {
        assert_eq!(fast.events.recv_timeout(LONG), Ok(i));
    }
    assert!(
        slow.seen.lock().nums.is_empty(),
        "the blocked owner went on"
    );
    unblock.send(()).unwrap();
    assert_eq!(slow.events.recv_timeout(LONG), Ok(1));
    pool.stop();
}

#[test]
fn commands_pushed_before_the_owner_is_set_wait_for_it() {
    let pool: Pool<Recorder> = Pool::start("t", 1).unwrap();
    let mb = pool.add_empty();
    for i in 0..10 {
        mb.push(Cmd::Num(i)).ok().unwrap();
    }
    let (tx, rx) = mpsc::channel();
    let seen = Arc::new(Mutex::new(Seen::default()));
    mb.set_owner(Recorder {
        seen: seen.clone(),
        running: Arc::default(),
        overlap: Arc::default(),
        events: tx,
    });
    for i in 0..10 {
        assert_eq!(rx.recv_timeout(LONG), Ok(i));
    }
    pool.stop();
}

#[test]
fn many_idle_owners_cost_no_threads() {
    let pool = Pool::start("t", 2).unwrap();
    let owners: Vec<Handle> = (0..10_000).map(|_| recorder(&pool)).collect();
    for (i, h) in owners.iter().enumerate() {
        h.mb.push(Cmd::Num(i as u64)).ok().unwrap();
    }
    for (i, h) in owners.iter().enumerate() {
        assert_eq!(h.events.recv_timeout(LONG), Ok(i as u64));
    }
    // Two workers and the timer thread, whatever the number of owners.
    assert_eq!(pool.threads.lock().len(), 3);
    pool.stop();
}

#[test]
fn a_panicking_owner_is_stopped_and_the_workers_go_on() {
    let pool = Pool::start("t", 1).unwrap();
    let bad = recorder(&pool);
    let good = recorder(&pool);
    bad.mb.push(Cmd::Panic).ok().unwrap();
    bad.mb.wait_done();
    assert!(matches!(bad.mb.push(Cmd::Num(1)), Err(Cmd::Num(1))));
    // The one worker survived it.
    good.mb.push(Cmd::Num(2)).ok().unwrap();
    assert_eq!(good.events.recv_timeout(LONG), Ok(2));
    pool.stop();
}

#[test]
fn wake_by_brings_a_timer_forward_and_never_back() {
    let pool = Pool::start("t", 1).unwrap();
    let h = recorder(&pool);
    let t0 = Instant::now();
    // Its own timer in 5 s (asked for by a step that has begun: the 1 it records); a
    // wake_by(100 ms) then brings it forward, even if the step sets its timer after it.
    h.mb.push(Cmd::WakeIn(5_000)).ok().unwrap();
    h.mb.push(Cmd::Num(1)).ok().unwrap();
    assert_eq!(h.events.recv_timeout(LONG), Ok(1));
    h.mb.wake_by(crate::time::now_ns() + 100_000_000);
    // A later wake_by does not push it back.
    h.mb.wake_by(crate::time::now_ns() + 10_000_000_000);
    assert_eq!(h.events.recv_timeout(LONG), Ok(u64::MAX));
    let woke = t0.elapsed();
    assert!(
        woke >= Duration::from_millis(100) && woke < Duration::from_secs(4),
        "woken after {woke:?}"
    );
    pool.stop();
}

#[test]
fn an_owner_moving_its_timer_later_every_step_does_not_wake_the_timer_thread() {
    let pool = Pool::start("t", 1).unwrap();
    let h = recorder(&pool);
    // Each step asks to be woken 10 s after it, so each moves the owner's timer later (as a
    // stream's owner does with its ack-flush deadline): the timer thread, asleep until the
    // first of them, has no reason to wake.
    for i in 0..500u64 {
        h.mb.push(Cmd::WakeIn(10_000)).ok().unwrap();
        h.mb.push(Cmd::Num(i)).ok().unwrap();
        assert_eq!(h.events.recv_timeout(LONG), Ok(i));
    }
    let wakeups = pool.shared.timer_wakeups.load(Ordering::Relaxed);
    assert!(wakeups <= 3, "the timer thread woke {wakeups} times");
    pool.stop();
}
