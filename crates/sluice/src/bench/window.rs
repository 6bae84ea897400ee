//! End-to-end flow control for the publisher (`--in-flight`): at most N messages published
//! and not yet received.
//!
//! On one server, a subscriber slower than its publisher paces it (both servers stall a
//! producer whose subscribers' buffers fill). Across a route nothing paces a publisher on the
//! other server: a faster publisher fills a buffer on the way (the route's, or the
//! subscriber's on the far node) until the server cuts that connection as a slow consumer and
//! messages are lost. So across a cluster the load generator paces itself instead: the
//! receivers publish how many messages they have, and the publisher waits (having written out
//! what it buffered) while it is more than N messages ahead of the slowest.

use super::conn::{Conn, Result, STALL};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default window across a cluster: messages whose bytes (payload plus this much framing
/// each) fit in [`DEFAULT_BYTES`].
pub const FRAMING: usize = 48;
/// See [`FRAMING`]: well under the 64 MiB both servers let a connection's buffer reach.
pub const DEFAULT_BYTES: usize = 8 << 20;

/// The default `--in-flight` for payloads of `size` bytes across a cluster.
pub fn default_in_flight(size: usize) -> usize {
    (DEFAULT_BYTES / (size + FRAMING)).max(1)
}

/// How often (in messages) the publisher looks at the receivers, at most.
const CHECK_EVERY: usize = 256;

/// The publisher's side: the limit, and the receivers' counts.
pub struct Window {
    limit: usize,
    /// Looks every this many messages: [`CHECK_EVERY`], or the limit if smaller.
    every: usize,
    received: Vec<Arc<AtomicUsize>>,
}

impl Window {
    /// A window of `limit` messages over `receivers` receivers; their counters, one each, to
    /// be given to the receivers (who [`AtomicUsize::store`] their count into them).
    pub fn new(limit: usize, receivers: usize) -> (Window, Vec<Arc<AtomicUsize>>) {
        let received: Vec<_> = (0..receivers)
            .map(|_| Arc::new(AtomicUsize::new(0)))
            .collect();
        let w = Window {
            limit,
            every: limit.clamp(1, CHECK_EVERY),
            received: received.clone(),
        };
        (w, received)
    }

    /// The slowest receiver's count.
    fn slowest(&self) -> usize {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Before message `next` is published on `c`: if the publisher is more than the limit
    /// ahead of the slowest receiver, writes out what `c` has buffered and waits until it is
    /// not (an error if the receivers make no progress for [`STALL`]).
    #[inline]
    pub fn wait(&self, c: &mut Conn, next: usize) -> Result<()> {
        if !next.is_multiple_of(self.every)
            || next <= self.limit
            || next - self.limit <= self.slowest()
        {
            return Ok(());
        }
        c.flush()?;
        let (mut seen, mut since) = (self.slowest(), Instant::now());
        while next - self.limit > seen {
            std::thread::sleep(Duration::from_micros(100));
            let now = self.slowest();
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() > STALL {
                return Err(format!(
                    "message {next} waits for the slowest receiver (at {seen}, --in-flight \
                     {}), which got nothing for {STALL:?}",
                    self.limit
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_window_fits_in_8_mib() {
        assert_eq!(default_in_flight(16), (8 << 20) / 64);
        assert_eq!(default_in_flight(1024), (8 << 20) / 1072);
        assert_eq!(default_in_flight(64 << 20), 1, "never 0");
    }

    #[test]
    fn the_slowest_receiver_counts() {
        let (w, rx) = Window::new(10, 3);
        assert_eq!(w.slowest(), 0);
        rx[0].store(50, Ordering::Relaxed);
        rx[1].store(20, Ordering::Relaxed);
        rx[2].store(30, Ordering::Relaxed);
        assert_eq!(w.slowest(), 20);
        let (none, _) = Window::new(10, 0);
        assert_eq!(none.slowest(), usize::MAX);
    }
}
