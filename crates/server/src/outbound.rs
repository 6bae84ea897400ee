//! Per-connection outbound buffer and its writer task.
//!
//! Publishers append already-encoded frames under a short lock and never wait on the socket.
//! The connection's writer takes the whole buffer at once (swapping in a spare), so writes are
//! coalesced, and it is woken only when the buffer goes from empty to non-empty. Pending bytes
//! over `max_pending` make the connection a slow consumer: its buffer is dropped, it gets
//! `-ERR 'Slow Consumer'` (best effort) and it is closed, while every other connection goes on.

use crate::error::ServerError;
use bytes::BytesMut;
use parking_lot::Mutex;
use sluice_protocol::encode_err;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Capacity kept for a reused write buffer; larger ones are released after a write.
const KEEP_CAPACITY: usize = 1024 * 1024;

/// What happened to an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Appended to a buffer that already held data: the writer is already due.
    Queued,
    /// Appended to an empty buffer: the writer must be woken (see [`Outbound::wake`]).
    NeedsWake,
    /// Not appended: the connection is closing or was cut off as a slow consumer.
    Dropped,
}

struct Inner {
    buf: BytesMut,
    /// Bytes taken by the writer and not yet confirmed written.
    in_flight: usize,
    closed: bool,
}

/// The outbound side of one connection.
pub(crate) struct Outbound {
    inner: Mutex<Inner>,
    notify: Notify,
    max_pending: usize,
    slow: AtomicBool,
    /// Cancelled to abandon writes at once (slow consumer).
    abort: CancellationToken,
    /// Cancelled to close the connection (both its reader and its writer).
    pub(crate) cancel: CancellationToken,
}

impl Outbound {
    pub(crate) fn new(max_pending: usize, cancel: CancellationToken) -> Self {
        Outbound {
            inner: Mutex::new(Inner {
                buf: BytesMut::with_capacity(16 * 1024),
                in_flight: 0,
                closed: false,
            }),
            notify: Notify::new(),
            max_pending,
            slow: AtomicBool::new(false),
            abort: CancellationToken::new(),
            cancel,
        }
    }

    /// Appends whatever `encode` writes. Never blocks on I/O.
    #[inline]
    pub(crate) fn push(&self, encode: impl FnOnce(&mut BytesMut)) -> Pushed {
        let mut g = self.inner.lock();
        if g.closed {
            return Pushed::Dropped;
        }
        let was_empty = g.buf.is_empty();
        encode(&mut g.buf);
        if g.buf.len() + g.in_flight > self.max_pending {
            drop(g);
            self.cut_off_slow();
            return Pushed::Dropped;
        }
        if was_empty {
            Pushed::NeedsWake
        } else {
            Pushed::Queued
        }
    }

    /// Appends and wakes the writer at once (for replies to the connection itself outside a
    /// batch, e.g. keepalive PINGs).
    pub(crate) fn push_now(&self, encode: impl FnOnce(&mut BytesMut)) {
        if self.push(encode) == Pushed::NeedsWake {
            self.wake();
        }
    }

    /// Wakes the writer.
    #[inline]
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Appends a final `-ERR`, stops accepting more, and closes the connection once what is
    /// buffered has been flushed.
    pub(crate) fn close_with(&self, err: &ServerError) {
        {
            let mut g = self.inner.lock();
            if g.closed {
                return;
            }
            encode_err(&mut g.buf, &err.to_string());
            g.closed = true;
        }
        self.cancel.cancel();
    }

    fn cut_off_slow(&self) {
        {
            let mut g = self.inner.lock();
            g.closed = true;
            g.buf.clear();
        }
        self.slow.store(true, Ordering::Relaxed);
        self.abort.cancel();
        self.cancel.cancel();
    }

    /// True once the connection was cut off as a slow consumer.
    pub(crate) fn is_slow(&self) -> bool {
        self.slow.load(Ordering::Relaxed)
    }

    /// Takes everything buffered into `spare` (which must be empty).
    fn take(&self, spare: &mut BytesMut) {
        let mut g = self.inner.lock();
        std::mem::swap(&mut g.buf, spare);
        g.in_flight = spare.len();
    }

    fn written(&self) {
        self.inner.lock().in_flight = 0;
    }
}

/// Writes everything buffered, until the buffer stays empty. False if the connection was cut
/// off meanwhile (slow consumer, failed or stuck write).
async fn drain(
    out: &Outbound,
    socket: &mut OwnedWriteHalf,
    spare: &mut BytesMut,
    deadline: Duration,
) -> bool {
    loop {
        out.take(spare);
        if spare.is_empty() {
            return true;
        }
        let ok = tokio::select! {
            biased;
            r = tokio::time::timeout(deadline, socket.write_all(spare)) => matches!(r, Ok(Ok(()))),
            _ = out.abort.cancelled() => false,
        };
        if !ok {
            // A write that failed or blocked past the deadline: the reader is gone or too slow.
            out.cut_off_slow();
            return false;
        }
        out.written();
        spare.clear();
        if spare.capacity() > KEEP_CAPACITY {
            *spare = BytesMut::with_capacity(16 * 1024);
        }
    }
}

/// Drains `out` into the socket until the connection is cancelled, then flushes what is left
/// (bounded by `deadline`) and shuts the socket down.
pub(crate) async fn run_writer(out: &Outbound, mut socket: OwnedWriteHalf, deadline: Duration) {
    let mut spare = BytesMut::with_capacity(16 * 1024);
    loop {
        tokio::select! {
            biased;
            _ = out.notify.notified() => {}
            _ = out.cancel.cancelled() => break,
        }
        if !drain(out, &mut socket, &mut spare, deadline).await {
            break;
        }
    }
    let final_deadline = deadline.min(Duration::from_secs(2));
    if out.is_slow() {
        // Best effort: the client is not reading, so this may well not arrive.
        spare.clear();
        encode_err(&mut spare, &ServerError::SlowConsumer.to_string());
        let _ = tokio::time::timeout(Duration::from_millis(50), socket.write_all(&spare)).await;
    } else {
        // Whatever is still buffered: a last -ERR, messages routed before shutdown.
        drain(out, &mut socket, &mut spare, final_deadline).await;
    }
    let _ = tokio::time::timeout(final_deadline, socket.shutdown()).await;
}
