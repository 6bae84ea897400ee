//! Per-connection outbound buffer and its writer task.
//!
//! Publishers append already-encoded frames under a short lock and never wait on the socket.
//! A publisher whose messages push a connection past 1/256 of its `max_pending` (256 KiB by
//! default) waits, after its read batch, until that connection's writer catches up or
//! [`STALL_MAX`] passes (nats-server's fast-producer stall, with a much lower threshold): a
//! reader that is merely slower than the producer paces it instead of being cut off, buffers
//! stay small (measured: fanout 1 KiB went from 0.5x to 1.5x nats-server and peak RSS from
//! 213 MiB to 7 MiB), and a reader that is stuck still hits the write deadline or
//! `max_pending` and is cut off.
//! The connection's writer takes the whole buffer at once (swapping in a spare), so writes are
//! coalesced, and it is woken only when the buffer goes from empty to non-empty. Pending bytes
//! over `max_pending` make the connection a slow consumer: its buffer is dropped, it gets
//! `-ERR 'Slow Consumer'` (best effort, and only after the frames of a half-written chunk are
//! complete, never inside a frame) and it is closed, while every other connection goes on.

use crate::error::ServerError;
use bytes::BytesMut;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest a publisher waits, per read batch, for a connection it filled past its stall
/// threshold.
pub(crate) const STALL_MAX: Duration = Duration::from_millis(100);

/// A connection whose writer got no byte into its socket for this long is stuck rather than
/// slow: publishers stop waiting for it, and it is left to the write deadline and
/// `max_pending`, as if it were not paced at all.
const STUCK: Duration = Duration::from_millis(50);

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
    /// Notified (all waiters) each time the writer finished a chunk: stalled publishers wait
    /// on it (see [`Outbound::stall_at`]).
    drained: Notify,
    /// Reloadable ([`Outbound::set_limits`]): read at each push.
    max_pending: AtomicUsize,
    /// Pending bytes over which a publisher sending here is made to wait a little for the
    /// writer (nats-server's fast-producer stall); follows `max_pending`.
    stall_at: AtomicUsize,
    /// How long one write may make no progress (nanoseconds; reloadable, read per drain).
    write_deadline_ns: AtomicU64,
    /// More than `stall_at` is pending (kept by `push` and `written`, read lock-free by
    /// publishers on the hot path).
    behind: AtomicBool,
    /// When the writer last got bytes into the socket: milliseconds since `born`. A reader
    /// that takes nothing for [`STUCK`] is not waited for (it is stuck, not slow).
    progress_ms: AtomicU64,
    /// How long without a byte out counts as stuck (milliseconds): [`STUCK`], or longer for a
    /// route (see [`Outbound::set_stuck_after`]).
    stuck_ms: AtomicU64,
    born: std::time::Instant,
    slow: AtomicBool,
    /// Cancelled to abandon writes at once (slow consumer).
    abort: CancellationToken,
    /// Cancelled to close the connection (both its reader and its writer).
    pub(crate) cancel: CancellationToken,
}

impl Outbound {
    pub(crate) fn new(
        max_pending: usize,
        write_deadline: Duration,
        cancel: CancellationToken,
    ) -> Self {
        Outbound {
            inner: Mutex::new(Inner {
                buf: BytesMut::with_capacity(16 * 1024),
                in_flight: 0,
                closed: false,
            }),
            notify: Notify::new(),
            drained: Notify::new(),
            max_pending: AtomicUsize::new(max_pending),
            stall_at: AtomicUsize::new(stall_at(max_pending)),
            write_deadline_ns: AtomicU64::new(duration_ns(write_deadline)),
            behind: AtomicBool::new(false),
            progress_ms: AtomicU64::new(0),
            stuck_ms: AtomicU64::new(STUCK.as_millis() as u64),
            born: std::time::Instant::now(),
            slow: AtomicBool::new(false),
            abort: CancellationToken::new(),
            cancel,
        }
    }

    /// Takes reloaded limits: `max_pending` from the next push, `write_deadline` from the
    /// writer's next drain.
    pub(crate) fn set_limits(&self, max_pending: usize, write_deadline: Duration) {
        self.max_pending.store(max_pending, Ordering::Relaxed);
        self.stall_at
            .store(stall_at(max_pending), Ordering::Relaxed);
        self.write_deadline_ns
            .store(duration_ns(write_deadline), Ordering::Relaxed);
    }

    fn write_deadline(&self) -> Duration {
        Duration::from_nanos(self.write_deadline_ns.load(Ordering::Relaxed))
    }

    /// Appends whatever `encode` writes. Never blocks on I/O.
    #[inline]
    pub(crate) fn push(&self, encode: impl FnOnce(&mut BytesMut)) -> Pushed {
        let mut g = self.inner.lock();
        if g.closed {
            return Pushed::Dropped;
        }
        let was_empty = g.buf.is_empty();
        if was_empty && g.in_flight == 0 {
            // The writer was idle, not stuck: its clock starts now.
            self.progressed();
        }
        encode(&mut g.buf);
        let pending = g.buf.len() + g.in_flight;
        if pending > self.max_pending.load(Ordering::Relaxed) {
            drop(g);
            self.cut_off_slow();
            return Pushed::Dropped;
        }
        if pending > self.stall_at.load(Ordering::Relaxed) {
            self.behind.store(true, Ordering::Relaxed);
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
            err.encode(&mut g.buf);
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

    /// Bytes waiting to go out (monitoring: /connz `pending_bytes`).
    pub(crate) fn pending(&self) -> usize {
        let g = self.inner.lock();
        g.buf.len() + g.in_flight
    }

    /// Takes everything buffered into `spare` (which must be empty).
    fn take(&self, spare: &mut BytesMut) {
        let mut g = self.inner.lock();
        std::mem::swap(&mut g.buf, spare);
        g.in_flight = spare.len();
    }

    fn written(&self) {
        {
            let mut g = self.inner.lock();
            g.in_flight = 0;
            if g.buf.len() <= self.stall_at.load(Ordering::Relaxed) {
                self.behind.store(false, Ordering::Relaxed);
            }
        }
        self.drained.notify_waiters();
    }

    /// True if a publisher that just sent here should wait for the writer: more than
    /// `stall_at` is pending (and the connection is not cut off).
    #[inline]
    pub(crate) fn over_stall(&self) -> bool {
        self.behind.load(Ordering::Relaxed) && !self.cancel.is_cancelled() && !self.is_stuck()
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// The writer got bytes out just now.
    fn progressed(&self) {
        self.progress_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// No byte went out for [`STUCK`] (or this connection's own threshold) while data is
    /// pending.
    fn is_stuck(&self) -> bool {
        let last = self.progress_ms.load(Ordering::Relaxed);
        self.now_ms().saturating_sub(last) > self.stuck_ms.load(Ordering::Relaxed)
    }

    /// Counts the writer as stuck only after `d` without progress. A route's reader (the
    /// other server) itself pauses up to [`STALL_MAX`] for its slow subscribers, so a route
    /// is given longer than a client before publishers stop being paced by it.
    pub(crate) fn set_stuck_after(&self, d: Duration) {
        self.stuck_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Waits until pending bytes fall to the stall threshold, the connection closes, or
    /// `max` passes: a fast producer is paced by its slowest reader for a moment, so that a
    /// reader that keeps up only more slowly is not cut off, while a reader that is stuck
    /// still reaches `max_pending` (or the write deadline) and is cut off.
    pub(crate) async fn wait_drained(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if !self.over_stall() {
                return;
            }
            tokio::select! {
                _ = drained => {}
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                // If no byte goes out meanwhile, it is stuck by then: no longer waited for.
                _ = tokio::time::sleep(self.until_stuck()) => {}
            }
        }
    }

    /// How long until the writer counts as stuck if it gets no byte out meanwhile (at least
    /// 1 ms while it is not stuck yet).
    fn until_stuck(&self) -> Duration {
        let stuck_at =
            self.progress_ms.load(Ordering::Relaxed) + self.stuck_ms.load(Ordering::Relaxed) + 1;
        Duration::from_millis(stuck_at.saturating_sub(self.now_ms()))
    }
}

/// Pending bytes over which publishers are paced, for a given `max_pending`.
fn stall_at(max_pending: usize) -> usize {
    (max_pending / 256).max(64 * 1024)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Writes `chunk[*pos..]`, advancing `pos` as bytes go out. False if the connection was cut
/// off (abort), the write failed, or no byte went out for `deadline`.
async fn write_chunk<W: AsyncWrite + Unpin>(
    out: &Outbound,
    socket: &mut W,
    chunk: &[u8],
    pos: &mut usize,
    deadline: Duration,
) -> bool {
    while *pos < chunk.len() {
        let r = tokio::select! {
            biased;
            r = tokio::time::timeout(deadline, socket.write(&chunk[*pos..])) => r,
            _ = out.abort.cancelled() => return false,
        };
        match r {
            Ok(Ok(n)) if n > 0 => {
                *pos += n;
                out.progressed();
            }
            _ => return false,
        }
    }
    // A TLS stream may hold its last records until flushed (on a TCP socket this is a no-op).
    let flushed = tokio::select! {
        biased;
        r = tokio::time::timeout(deadline, socket.flush()) => r,
        _ = out.abort.cancelled() => return false,
    };
    matches!(flushed, Ok(Ok(())))
}

/// Writes everything buffered, until the buffer stays empty. False if the connection was cut
/// off meanwhile (slow consumer, failed or stuck write); then `spare[..*pos]` is what of the
/// chunk in flight went out.
async fn drain<W: AsyncWrite + Unpin>(
    out: &Outbound,
    socket: &mut W,
    spare: &mut BytesMut,
    pos: &mut usize,
    max_deadline: Option<Duration>,
) -> bool {
    loop {
        // The write deadline in force now (it can be reloaded), capped for the final drain.
        let deadline = match max_deadline {
            Some(cap) => out.write_deadline().min(cap),
            None => out.write_deadline(),
        };
        out.take(spare);
        *pos = 0;
        if spare.is_empty() {
            return true;
        }
        if !write_chunk(out, socket, spare, pos, deadline).await {
            // A write that failed or made no progress for the deadline: the reader is gone or
            // too slow.
            out.cut_off_slow();
            return false;
        }
        out.written();
        spare.clear();
        *pos = 0;
        if spare.capacity() > KEEP_CAPACITY {
            *spare = BytesMut::with_capacity(16 * 1024);
        }
    }
}

/// Drains `out` into the socket until the connection is cancelled, then flushes what is left
/// (bounded by the write deadline, read at each drain as it can be reloaded) and shuts the
/// socket down.
pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(out: &Outbound, mut socket: W) {
    let mut spare = BytesMut::with_capacity(16 * 1024);
    let mut pos = 0;
    loop {
        tokio::select! {
            biased;
            _ = out.notify.notified() => {}
            _ = out.cancel.cancelled() => break,
        }
        if !drain(out, &mut socket, &mut spare, &mut pos, None).await {
            break;
        }
    }
    let final_deadline = out.write_deadline().min(Duration::from_secs(2));
    if out.is_slow() {
        // Best effort, as the client is not keeping up: first the rest of the chunk that was
        // cut off half way (whole frames only ever go out), then the -ERR on a frame boundary.
        // If the rest does not go out in time, no -ERR: it would land inside a frame.
        let rest = spare.split_off(pos.min(spare.len()));
        let mut err = BytesMut::new();
        ServerError::SlowConsumer.encode(&mut err);
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            socket.write_all(&rest).await?;
            socket.write_all(&err).await?;
            socket.flush().await
        })
        .await;
    } else {
        // Whatever is still buffered: a last -ERR, messages routed before shutdown.
        drain(out, &mut socket, &mut spare, &mut pos, Some(final_deadline)).await;
    }
    let _ = tokio::time::timeout(final_deadline, socket.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    const FRAME: &[u8] = b"MSG s 1 5\r\nhello\r\n";

    /// Regression: a publisher waiting for a reader that had stopped reading waited its whole
    /// `max` (STALL_MAX per read batch), although a reader that takes nothing for STUCK is
    /// not to be waited for. It must return about STUCK after the reader's last progress.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_reader_is_not_waited_for_past_stuck() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        let out = Arc::new(Outbound::new(
            64 << 20,
            Duration::from_secs(10),
            CancellationToken::new(),
        ));
        let writer = {
            let out = out.clone();
            tokio::spawn(async move { run_writer(&out, server_side).await })
        };
        // 16 MiB: more than the socket buffers hold while the peer never reads, and far
        // over the stall threshold.
        out.push_now(|b| b.extend_from_slice(&vec![b'x'; 16 << 20]));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(out.over_stall(), "behind, and not stuck yet");
        let started = tokio::time::Instant::now();
        out.wait_drained(Duration::from_secs(5)).await;
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(1),
            "waited {waited:?} for a reader that takes nothing"
        );
        assert!(out.is_stuck());
        out.cancel.cancel();
        out.abort.cancel();
        writer.await.unwrap();
    }

    /// Regression: a slow consumer cut off while a chunk was half written got its
    /// `-ERR 'Slow Consumer'` in the middle of a frame (`MSG bench.pubsub.242-ERR ...`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_consumer_err_never_lands_inside_a_frame() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        let (_read_half, write_half) = server_side.into_split();
        let out = Arc::new(Outbound::new(
            64 << 20,
            Duration::from_secs(10),
            CancellationToken::new(),
        ));
        let writer = {
            let out = out.clone();
            tokio::spawn(async move { run_writer(&out, write_half).await })
        };
        // 16 MiB of whole frames: more than the socket buffers hold while the peer does not
        // read, so the writer is stuck in the middle of this chunk.
        let frames = (16 << 20) / FRAME.len();
        out.push_now(|b| {
            for _ in 0..frames {
                b.extend_from_slice(FRAME);
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Over max_pending: cut off while the first chunk is in flight. The peer starts reading
        // at once, so the -ERR can get through.
        out.push(|b| b.extend_from_slice(&vec![b'x'; 60 << 20]));
        assert!(out.is_slow());
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), peer.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("the connection was not closed"),
            }
        }
        writer.await.unwrap();
        let whole = got.len() / FRAME.len();
        let mut rest = &got[..];
        while rest.starts_with(FRAME) {
            rest = &rest[FRAME.len()..];
        }
        let err = b"-ERR 'Slow Consumer'\r\n";
        assert!(
            rest.is_empty() || rest == err || FRAME.starts_with(rest),
            "after about {whole} whole frames: {:?}",
            String::from_utf8_lossy(&rest[..rest.len().min(80)])
        );
    }
}
