//! A fixed pool of worker threads that runs any number of owners (one per stream), and one
//! timer thread that wakes owners at the times they ask for.
//!
//! An owner is a state machine with a mailbox: senders push commands into its [`Mailbox`];
//! the first push into an idle mailbox puts it on the pool's ready queue, and a worker takes
//! it, hands the owner what is queued (up to [`MAX_BATCH`]) in one [`Owner::step`], and puts it
//! back on the queue if more came in meanwhile (or the owner asks to go again). A mailbox is
//! run by at most one worker at a time, so an owner needs no lock of its own, and commands
//! reach it in the order they were pushed. An owner that has nothing to do costs no thread
//! and no wakeups: it is a struct in a mailbox, woken by a push or by the timer it asked for
//! ([`Step::wake_at`]).
//!
//! Owners may block (a stream's owner fsyncs), so the pool has more workers than cores: one
//! slow disk holds one worker, and the others go on with other streams.
//!
//! Knows nothing about streams: the owner type is a parameter.

use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// Most commands handed to an owner in one step.
pub(crate) const MAX_BATCH: usize = 8192;

/// A state machine run by the pool.
pub(crate) trait Owner: Send + 'static {
    type Cmd: Send + 'static;
    /// Handles `batch` (the pool clears it afterwards; empty when woken by its timer or by
    /// [`Mailbox::wake`]).
    fn step(&mut self, batch: &mut Vec<Self::Cmd>) -> Step;
}

/// What an owner wants after a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Step {
    /// Wake it at this time (Unix ns) even if nothing is pushed.
    pub wake_at: Option<i64>,
    /// Run it again soon, with or without new commands (it has more work).
    pub again: bool,
    /// It has finished: drop it, refuse further pushes, and tell [`Mailbox::wait_done`].
    pub done: bool,
}

struct Queue<C> {
    cmds: VecDeque<C>,
    /// On the ready queue or being run.
    scheduled: bool,
    /// Woken ([`Mailbox::wake`]) since its last step began: a wake that comes while a step
    /// runs (with nothing queued) runs it once more, or it would be lost.
    woken: bool,
    /// The owner has finished: pushes are refused.
    closed: bool,
}

/// One owner and the commands waiting for it.
pub(crate) struct Mailbox<O: Owner> {
    id: u64,
    queue: Mutex<Queue<O::Cmd>>,
    owner: Mutex<Option<(O, Vec<O::Cmd>)>>,
    pool: Weak<Shared<O>>,
    done: Mutex<bool>,
    done_cv: Condvar,
}

impl<O: Owner> Mailbox<O> {
    /// Queues `cmd` for the owner; gives it back if the owner has finished (or the pool is
    /// gone).
    pub(crate) fn push(self: &Arc<Self>, cmd: O::Cmd) -> Result<(), O::Cmd> {
        let mut q = self.queue.lock();
        if q.closed {
            return Err(cmd);
        }
        q.cmds.push_back(cmd);
        self.schedule_locked(q);
        Ok(())
    }

    /// Runs the owner soon even if nothing is queued.
    pub(crate) fn wake(self: &Arc<Self>) {
        let mut q = self.queue.lock();
        if !q.closed {
            q.woken = true;
            self.schedule_locked(q);
        }
    }

    /// Runs the owner by `at` (Unix ns) at the latest, even if nothing is pushed: an earlier
    /// timer of its own stays, a later one is brought forward. Its next step sets its timer
    /// anew.
    pub(crate) fn wake_by(self: &Arc<Self>, at: i64) {
        if let Some(pool) = self.pool.upgrade() {
            pool.set_timer_by(self, at);
        }
    }

    fn schedule_locked(self: &Arc<Self>, mut q: parking_lot::MutexGuard<'_, Queue<O::Cmd>>) {
        if q.scheduled {
            return;
        }
        q.scheduled = true;
        drop(q);
        match self.pool.upgrade() {
            Some(pool) => pool.ready(self.clone()),
            // No pool (tests that only collect what is pushed): nothing runs it.
            None => self.queue.lock().scheduled = false,
        }
    }

    /// Blocks until the owner has finished (its step said `done`).
    pub(crate) fn wait_done(&self) {
        let mut done = self.done.lock();
        while !*done {
            self.done_cv.wait(&mut done);
        }
    }

    /// Gives the mailbox its owner (see [`Pool::add_empty`]) and runs it if anything was
    /// pushed meanwhile.
    pub(crate) fn set_owner(self: &Arc<Self>, owner: O) {
        *self.owner.lock() = Some((owner, Vec::new()));
        let pending = {
            let q = self.queue.lock();
            !q.cmds.is_empty() || q.woken
        };
        if pending {
            self.wake();
        }
    }

    /// One step of the owner, on a worker. True if it has more to do right away (it stays
    /// scheduled: the worker runs it again or puts it back on the ready queue).
    fn run(self: &Arc<Self>, pool: &Shared<O>) -> bool {
        let mut slot = self.owner.lock();
        let Some((owner, batch)) = slot.as_mut() else {
            // No owner yet (or any more): `set_owner` wakes it. Cleared under the owner's
            // lock, so that a `set_owner` racing with this sees it cleared.
            self.queue.lock().scheduled = false;
            return false;
        };
        pool.step_begins(self);
        {
            let mut q = self.queue.lock();
            q.woken = false;
            let n = q.cmds.len().min(MAX_BATCH);
            batch.extend(q.cmds.drain(..n));
        }
        // An owner that panics (a bug, or a store that cannot read its own files back) is
        // stopped, not left holding a dead worker: its mailbox refuses further commands.
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| owner.step(batch)))
            .unwrap_or_else(|_| {
                tracing::error!("an owner panicked: it is stopped and takes no more commands");
                Step {
                    done: true,
                    ..Step::default()
                }
            });
        batch.clear();
        if step.done {
            *slot = None;
            drop(slot);
            let left: Vec<O::Cmd> = {
                let mut q = self.queue.lock();
                q.closed = true;
                q.cmds.drain(..).collect()
            };
            drop(left);
            pool.step_begins(self);
            pool.set_timer(self, None);
            *self.done.lock() = true;
            self.done_cv.notify_all();
            return false;
        }
        drop(slot);
        pool.set_timer(self, step.wake_at);
        let mut q = self.queue.lock();
        if step.again || q.woken || !q.cmds.is_empty() {
            return true;
        }
        q.scheduled = false;
        false
    }
}

struct Timers<O: Owner> {
    by_time: BTreeSet<(i64, u64)>,
    slots: HashMap<u64, (i64, Weak<Mailbox<O>>)>,
    /// `wake_by` times asked for since the owner's last step began, by mailbox.
    asked: HashMap<u64, i64>,
    /// Until when the timer thread sleeps: `None` without a deadline, `Some(i64::MIN)` while it
    /// is awake (it looks at `by_time` before it sleeps again). A new timer wakes it only if
    /// it is due before that: an owner moving its own timer on every step must not wake the
    /// timer thread every step.
    sleeps_until: Option<i64>,
}

struct Shared<O: Owner> {
    ready: Mutex<VecDeque<Arc<Mailbox<O>>>>,
    ready_cv: Condvar,
    timers: Mutex<Timers<O>>,
    timers_cv: Condvar,
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Times the timer thread woke up (tests).
    #[cfg(test)]
    timer_wakeups: AtomicU64,
}

impl<O: Owner> Shared<O> {
    fn ready(&self, mb: Arc<Mailbox<O>>) {
        self.ready.lock().push_back(mb);
        self.ready_cv.notify_one();
    }

    /// Sets (or clears) the time `mb`'s owner asked to be woken at; a [`Mailbox::wake_by`]
    /// made since its step began and earlier than that stays.
    fn set_timer(&self, mb: &Arc<Mailbox<O>>, own: Option<i64>) {
        let mut t = self.timers.lock();
        let at = match (own, t.asked.get(&mb.id).copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.put_timer(&mut t, mb, at);
    }

    /// Brings `mb`'s timer forward to `at` if it has none or a later one, and keeps it there
    /// until the owner's next step begins.
    fn set_timer_by(&self, mb: &Arc<Mailbox<O>>, at: i64) {
        let mut t = self.timers.lock();
        let asked = t.asked.entry(mb.id).or_insert(at);
        *asked = (*asked).min(at);
        let current = t.slots.get(&mb.id).map(|(c, _)| *c);
        if current.is_none_or(|c| c > at) {
            self.put_timer(&mut t, mb, Some(at));
        }
    }

    /// A step of `mb`'s owner begins: it sees what `wake_by` was asked for.
    fn step_begins(&self, mb: &Arc<Mailbox<O>>) {
        let mut t = self.timers.lock();
        if !t.asked.is_empty() {
            t.asked.remove(&mb.id);
        }
    }

    fn put_timer(&self, t: &mut Timers<O>, mb: &Arc<Mailbox<O>>, at: Option<i64>) {
        let old = t.slots.get(&mb.id).map(|(at, _)| *at);
        if old == at {
            return;
        }
        if let Some(old) = old {
            t.by_time.remove(&(old, mb.id));
            t.slots.remove(&mb.id);
        }
        if let Some(at) = at {
            t.by_time.insert((at, mb.id));
            t.slots.insert(mb.id, (at, Arc::downgrade(mb)));
            if t.sleeps_until.is_none_or(|until| at < until) {
                self.timers_cv.notify_one();
            }
        }
    }

    fn work(&self) {
        loop {
            let mb = {
                let mut r = self.ready.lock();
                loop {
                    if let Some(mb) = r.pop_front() {
                        break mb;
                    }
                    if self.stopping.load(Ordering::Acquire) {
                        return;
                    }
                    self.ready_cv.wait(&mut r);
                }
            };
            // An owner with more to do (publishes came in while it synced) runs again on this
            // worker while nothing else waits: waking another worker for it would only cost
            // two context switches per batch. Otherwise it goes to the back of the queue.
            while mb.run(self) {
                let mut r = self.ready.lock();
                if !r.is_empty() {
                    r.push_back(mb);
                    break;
                }
            }
        }
    }

    fn time(&self) {
        let mut due = Vec::new();
        loop {
            {
                let mut t = self.timers.lock();
                loop {
                    if self.stopping.load(Ordering::Acquire) {
                        return;
                    }
                    let now = crate::time::now_ns();
                    while let Some(&(at, id)) = t.by_time.first() {
                        if at > now {
                            break;
                        }
                        t.by_time.pop_first();
                        if let Some((_, mb)) = t.slots.remove(&id) {
                            due.push(mb);
                        }
                    }
                    if !due.is_empty() {
                        break;
                    }
                    match t.by_time.first() {
                        Some(&(at, _)) => {
                            t.sleeps_until = Some(at);
                            let wait = Duration::from_nanos(at.saturating_sub(now).max(0) as u64);
                            self.timers_cv.wait_for(&mut t, wait);
                        }
                        None => {
                            t.sleeps_until = None;
                            self.timers_cv.wait(&mut t);
                        }
                    }
                    t.sleeps_until = Some(i64::MIN);
                    #[cfg(test)]
                    self.timer_wakeups.fetch_add(1, Ordering::Relaxed);
                }
            }
            for mb in due.drain(..) {
                if let Some(mb) = mb.upgrade() {
                    mb.wake();
                }
            }
        }
    }
}

/// The workers and the timer thread.
pub(crate) struct Pool<O: Owner> {
    shared: Arc<Shared<O>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl<O: Owner> Pool<O> {
    /// Starts `workers` workers (at least 1) and the timer thread; threads are named
    /// `<name>-<n>` and `<name>-timer`.
    pub(crate) fn start(name: &str, workers: usize) -> std::io::Result<Pool<O>> {
        let shared = Arc::new(Shared {
            ready: Mutex::new(VecDeque::new()),
            ready_cv: Condvar::new(),
            timers: Mutex::new(Timers {
                by_time: BTreeSet::new(),
                slots: HashMap::new(),
                asked: HashMap::new(),
                sleeps_until: Some(i64::MIN),
            }),
            timers_cv: Condvar::new(),
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            #[cfg(test)]
            timer_wakeups: AtomicU64::new(0),
        });
        let pool = Pool {
            shared: shared.clone(),
            threads: Mutex::new(Vec::new()),
        };
        for n in 0..workers.max(1) {
            let s = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || s.work())?;
            pool.threads.lock().push(t);
        }
        let s = shared;
        let t = std::thread::Builder::new()
            .name(format!("{name}-timer"))
            .spawn(move || s.time())?;
        pool.threads.lock().push(t);
        Ok(pool)
    }

    /// A mailbox for `owner`, run by this pool.
    #[cfg(test)]
    pub(crate) fn add(&self, owner: O) -> Arc<Mailbox<O>> {
        let mb = self.add_empty();
        mb.set_owner(owner);
        mb
    }

    /// A mailbox run by this pool whose owner is given later ([`Mailbox::set_owner`]): for
    /// owners that need their own mailbox's sender to be built. What is pushed before waits.
    pub(crate) fn add_empty(&self) -> Arc<Mailbox<O>> {
        new_mailbox(
            self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            Arc::downgrade(&self.shared),
            None,
        )
    }

    /// Stops the threads once the ready queue is empty. Owners should have finished first
    /// (their mailboxes said `done`); any that have not are no longer run.
    pub(crate) fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        {
            let _r = self.shared.ready.lock();
            self.shared.ready_cv.notify_all();
        }
        {
            let _t = self.shared.timers.lock();
            self.shared.timers_cv.notify_all();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

impl<O: Owner> Drop for Pool<O> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn new_mailbox<O: Owner>(id: u64, pool: Weak<Shared<O>>, owner: Option<O>) -> Arc<Mailbox<O>> {
    Arc::new(Mailbox {
        id,
        queue: Mutex::new(Queue {
            cmds: VecDeque::new(),
            scheduled: false,
            woken: false,
            closed: false,
        }),
        owner: Mutex::new(owner.map(|o| (o, Vec::new()))),
        pool,
        done: Mutex::new(false),
        done_cv: Condvar::new(),
    })
}

/// A mailbox without an owner that no pool runs: what is pushed stays queued (tests that
/// drive a stream's parts by hand).
#[cfg(test)]
pub(crate) fn detached<O: Owner>() -> Arc<Mailbox<O>> {
    new_mailbox(0, Weak::new(), None)
}

#[cfg(test)]
mod tests;
