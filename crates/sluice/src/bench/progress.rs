//! The progress bar on stderr (indicatif, as the client subcommands'): redrawn a few times a
//! second from a counter the workload bumps with one relaxed store, and only when stderr is a
//! terminal (so logs and pipes get nothing but the result).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the workload updates: messages done so far in the current phase.
#[derive(Clone, Default)]
pub struct Counter {
    done: Arc<AtomicU64>,
    phase: Arc<Mutex<&'static str>>,
}

impl Counter {
    /// Sets the count.
    #[inline]
    pub fn set(&self, n: u64) {
        self.done.store(n, Ordering::Relaxed);
    }

    /// Starts a named phase (js-consume: "fill", then "consume"), counting from 0.
    pub fn phase(&self, name: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = name;
        self.set(0);
    }
}

/// The line's redraw thread, if stderr is a terminal.
pub struct Progress {
    counter: Counter,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &'static str, total: u64) -> Progress {
        let counter = Counter::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let (counter, stop) = (counter.clone(), stop.clone());
            std::thread::spawn(move || draw(label, total, &counter, &stop))
        });
        Progress {
            counter,
            stop,
            thread,
        }
    }

    pub fn counter(&self) -> Counter {
        self.counter.clone()
    }

    /// Stops redrawing and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw(label: &str, total: u64, counter: &Counter, stop: &AtomicBool) {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} ({percent}%) {per_sec} {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let phase = *counter.phase.lock().unwrap_or_else(|e| e.into_inner());
        bar.set_prefix(if phase.is_empty() {
            label.to_owned()
        } else {
            format!("{label} {phase}")
        });
        bar.set_position(counter.done.load(Ordering::Relaxed));
    }
    bar.finish_and_clear();
}
