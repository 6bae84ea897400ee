//! The progress line on stderr: redrawn a few times a second, only when stderr is a terminal
//! (so logs and pipes get nothing but the result).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

    /// Stops redrawing and clears the line.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

fn draw(label: &str, total: u64, counter: &Counter, stop: &AtomicBool) {
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let done = counter.done.load(Ordering::Relaxed);
        let phase = *counter.phase.lock().unwrap_or_else(|e| e.into_inner());
        let secs = start.elapsed().as_secs_f64();
        let pct = done as f64 * 100.0 / total.max(1) as f64;
        let phase = if phase.is_empty() {
            String::new()
        } else {
            format!(" {phase}")
        };
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{label}{phase}: {done}/{total} ({pct:.0}%), {secs:.1} s"
        );
    }
}
