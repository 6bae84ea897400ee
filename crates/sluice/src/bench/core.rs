//! The core NATS workloads: pub, pubsub, fanout, queue, reqrep.
//!
//! The publisher runs on the calling thread and writes in large buffered chunks; each
//! subscriber (or the responder) has its own connection and thread. Every payload carries its
//! message number (see [`Payload`]), so the receivers can check order and uniqueness.
//! With `--sub-server` the receivers are on another server of the cluster (see [`probe`]).

use super::conn::{Conn, Result, STALL};
use super::probe::{self, is_probe, Probes};
use super::progress::Counter;
use super::report::{Latency, Report};
use super::window::Window;
use super::{Settings, Workload};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A payload of the benchmark's size whose first `min(size, 8)` bytes hold the message number
/// (little-endian); the rest is `x`.
pub struct Payload {
    buf: Vec<u8>,
    width: usize,
}

impl Payload {
    /// A payload of `size` bytes able to number `msgs` messages distinctly.
    pub fn new(size: usize, msgs: usize) -> Result<Payload> {
        let width = size.min(8);
        let room = 256u64.checked_pow(width as u32).unwrap_or(u64::MAX);
        if (msgs as u64) > room {
            return Err(format!(
                "--size {size} is too small to number {msgs} messages (use --size 8 or more)"
            ));
        }
        Ok(Payload {
            buf: vec![b'x'; size],
            width,
        })
    }

    /// The payload for message `seq`.
    #[inline]
    pub fn stamp(&mut self, seq: usize) -> &[u8] {
        self.buf[..self.width].copy_from_slice(&(seq as u64).to_le_bytes()[..self.width]);
        &self.buf
    }

    /// The message number in a received payload of the expected size.
    #[inline]
    pub fn read(&self, payload: &[u8]) -> Option<usize> {
        if payload.len() != self.buf.len() {
            return None;
        }
        let mut n = [0u8; 8];
        n[..self.width].copy_from_slice(&payload[..self.width]);
        Some(u64::from_le_bytes(n) as usize)
    }
}

/// Publishes `msgs` numbered messages to `subject` as fast as the socket takes them (and
/// `window` lets them).
fn publish_all(
    c: &mut Conn,
    s: &Settings,
    subject: &str,
    progress: Option<&Counter>,
    window: Option<&Window>,
) -> Result<()> {
    let mut payload = Payload::new(s.size, s.msgs)?;
    for i in 0..s.msgs {
        if let Some(w) = window {
            w.wait(c, i)?;
        }
        c.publish(subject, None, payload.stamp(i))?;
        if i % 8192 == 0 {
            if let Some(p) = progress {
                p.set(i as u64);
            }
        }
    }
    c.flush()
}

/// `pub`: one publisher, no subscribers; the clock stops when the final PING's PONG arrives
/// (so every message has been read and processed by the server).
pub fn publish(s: &Settings, progress: &Counter) -> Result<Report> {
    let mut c = Conn::connect(&s.server)?;
    let start = Instant::now();
    publish_all(&mut c, s, run_subject("pub"), Some(progress), None)?;
    c.ping(|m, _| unexpected(m.subject))?;
    Ok(report(s, start.elapsed().as_secs_f64()))
}

/// `bench.<workload>.<pid>`: a subject of this run only, so that messages still in flight from
/// an earlier run against the same server (one that failed half-way) never count here.
fn run_subject(workload: &str) -> &'static str {
    // Leaked once per run, so the reader threads can share it.
    Box::leak(format!("bench.{workload}.{}", std::process::id()).into_boxed_str())
}

fn unexpected(subject: &str) {
    eprintln!("sluice bench: warning: unexpected message on {subject}");
}

fn report(s: &Settings, secs: f64) -> Report {
    Report {
        workload: s.workload.name(),
        msgs: s.msgs,
        size: s.size,
        secs,
        subs: matches!(s.workload, Workload::Fanout | Workload::Queue).then_some(s.subs),
        window: None,
        latency: None,
        in_flight: s.in_flight,
        probes: None,
        remote_msgs: None,
    }
}

/// Connects `k` subscribers to `subject` (in `queue` if given), each to its server
/// ([`Settings::receiver_server`]) and confirmed by PING/PONG.
fn subscribers(s: &Settings, subject: &str, queue: Option<&str>) -> Result<Vec<Conn>> {
    (0..s.subs)
        .map(|i| {
            let mut c = Conn::connect(s.receiver_server(i))?;
            c.sub(subject, queue, "1");
            c.ping(|_, _| {})?;
            Ok(c)
        })
        .collect()
}

/// `pubsub` (1 subscriber) and `fanout` (K): every subscriber must get every message, in
/// order. The clock runs from the first publish to the last subscriber's last message (after
/// the probes, across a cluster).
pub fn fanout(s: &Settings, progress: &Counter) -> Result<Report> {
    let subject = run_subject(s.workload.name());
    let subs = subscribers(s, subject, None)?;
    let mut publisher = Conn::connect(&s.server)?;
    let probes = Arc::new(Probes::default());
    let (window, counts) = Window::new(s.in_flight.unwrap_or(usize::MAX), s.subs);
    let readers: Vec<_> = subs
        .into_iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (mut c, count))| {
            let (msgs, size) = (s.msgs, s.size);
            let progress = (i == 0).then(|| progress.clone());
            let mut rx = probes.receiver(true);
            std::thread::spawn(move || -> Result<Instant> {
                let numbers = Payload::new(size, msgs)?;
                let (mut next, mut bad) = (0usize, None);
                while next < msgs && bad.is_none() {
                    let got = c.read_some(|m, _| match numbers.read(m.payload) {
                        _ if is_probe(m.reply) => rx.seen += 1,
                        Some(n) if n == next && m.subject == subject => next += 1,
                        _ if bad.is_some() => {}
                        n => {
                            bad = Some(format!(
                                "subscriber {i}: expected message {next} on {subject}, \
                                 got {n:?} on {} ({} bytes)",
                                m.subject,
                                m.payload.len()
                            ))
                        }
                    })?;
                    rx.after_read();
                    if !got {
                        return Err(format!(
                            "subscriber {i}: got {next} of {msgs} messages, then nothing \
                             for {STALL:?}"
                        ));
                    }
                    count.store(next, Ordering::Relaxed);
                    c.flush()?;
                    if let Some(p) = &progress {
                        p.set(next as u64);
                    }
                }
                rx.finish();
                bad.map_or(Ok(Instant::now()), Err)
            })
        })
        .collect();
    let sent = match s.sub_server {
        Some(_) => Some(probe::publish_until_seen(
            &mut publisher,
            subject,
            &probes,
            s.subs,
        )?),
        None => None,
    };
    let start = Instant::now();
    let window = s.in_flight.map(|_| &window);
    let published = publish_all(&mut publisher, s, subject, None, window);
    let mut end = start;
    for r in readers {
        end = end.max(r.join().map_err(|_| "a subscriber thread panicked")??);
    }
    published?;
    publisher.ping(|_, _| {})?;
    check_probes(sent, s.subs, &probes)?;
    let mut r = report(s, (end - start).as_secs_f64());
    r.probes = sent;
    Ok(r)
}

/// Probes can be dropped (before the interest arrived) but never multiplied: each receiver
/// gets at most every probe (`copies`: each probe goes to this many receivers at most).
fn check_probes(sent: Option<usize>, copies: usize, probes: &Probes) -> Result<()> {
    let received = probes.received();
    match sent {
        Some(sent) if received > sent * copies => Err(format!(
            "{received} probes received for {sent} published to {copies} receivers"
        )),
        None if received > 0 => Err(format!("{received} unexpected probes received")),
        _ => Ok(()),
    }
}

/// What the queue members share: which message numbers arrived, and how many in all.
struct Tally {
    seen: Vec<AtomicU64>,
    total: AtomicUsize,
    done_at: Mutex<Option<Instant>>,
}

/// `queue`: K members of one queue group; every message must reach exactly one of them. The
/// clock runs from the first publish until the last message has arrived anywhere.
pub fn queue(s: &Settings, progress: &Counter) -> Result<Report> {
    let subject = run_subject("queue");
    let members = subscribers(s, subject, Some("q"))?;
    let mut publisher = Conn::connect(&s.server)?;
    let tally = Arc::new(Tally {
        seen: (0..s.msgs.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect(),
        total: AtomicUsize::new(0),
        done_at: Mutex::new(None),
    });
    let probes = Arc::new(Probes::default());
    let (window, mut counts) = Window::new(s.in_flight.unwrap_or(usize::MAX), 1);
    let count = counts.pop().expect("one counter");
    let readers: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let (msgs, size) = (s.msgs, s.size);
            let (tally, progress, count) = (tally.clone(), progress.clone(), count.clone());
            let mut rx = probes.receiver(s.receiver_is_remote(i));
            std::thread::spawn(move || -> Result<usize> {
                // Short reads: a member cannot know when the others have got the rest.
                c.set_read_timeout(Duration::from_millis(50))?;
                let numbers = Payload::new(size, msgs)?;
                let (mut mine, mut bad, mut idle_since) = (0usize, None, Instant::now());
                while tally.total.load(Ordering::Relaxed) < msgs && bad.is_none() {
                    let mut batch = 0;
                    let got = c.read_some(|m, _| {
                        if is_probe(m.reply) {
                            rx.seen += 1;
                            return;
                        }
                        batch += 1;
                        match numbers.read(m.payload).filter(|&n| n < msgs) {
                            Some(n) => {
                                let bit = 1u64 << (n % 64);
                                if tally.seen[n / 64].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
                                    bad.get_or_insert(format!("message {n} delivered twice"));
                                }
                            }
                            None => {
                                bad.get_or_insert(format!(
                                    "member {i}: not a message of this run on {} ({} bytes)",
                                    m.subject,
                                    m.payload.len()
                                ));
                            }
                        }
                    })?;
                    rx.after_read();
                    c.flush()?;
                    if got {
                        idle_since = Instant::now();
                    } else if idle_since.elapsed() > STALL {
                        return Err(format!(
                            "member {i}: nothing for {STALL:?}; {} of {msgs} messages \
                             arrived in all",
                            tally.total.load(Ordering::Relaxed)
                        ));
                    }
                    if batch > 0 {
                        mine += batch;
                        let before = tally.total.fetch_add(batch, Ordering::Relaxed);
                        count.fetch_max(before + batch, Ordering::Relaxed);
                        progress.set((before + batch) as u64);
                        if before < msgs && before + batch >= msgs {
                            *tally.done_at.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(Instant::now());
                        }
                    }
                }
                rx.finish();
                bad.map_or(Ok(mine), Err)
            })
        })
        .collect();
    let remote: Vec<usize> = (0..s.subs).filter(|&i| s.receiver_is_remote(i)).collect();
    let sent = match s.sub_server {
        Some(_) => Some(probe::publish_until_seen(
            &mut publisher,
            subject,
            &probes,
            remote.len(),
        )?),
        None => None,
    };
    let start = Instant::now();
    let window = s.in_flight.map(|_| &window);
    let published = publish_all(&mut publisher, s, subject, None, window);
    let mut per_member = Vec::new();
    for r in readers {
        per_member.push(r.join().map_err(|_| "a queue member thread panicked")??);
    }
    published?;
    publisher.ping(|_, _| {})?;
    check_probes(sent, 1, &probes)?;
    let total = tally.total.load(Ordering::Relaxed);
    if total != s.msgs {
        return Err(format!(
            "{total} deliveries for {} messages (per member: {per_member:?})",
            s.msgs
        ));
    }
    let end = tally
        .done_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or("no completion time recorded")?;
    let mut r = report(s, (end - start).as_secs_f64());
    r.probes = sent;
    r.remote_msgs = sent.map(|_| remote.iter().map(|&i| per_member[i]).sum());
    Ok(r)
}

/// `reqrep`: one request at a time from a requester to a responder connection, which echoes
/// the payload back; each round trip is timed. Across a cluster, probe requests are answered
/// (and not counted) until one round trip has crossed the route both ways.
pub fn reqrep(s: &Settings, progress: &Counter) -> Result<Report> {
    let subject = run_subject("reqrep");
    let mut responder = Conn::connect(s.receiver_server(0))?;
    responder.sub(subject, None, "1");
    responder.ping(|_, _| {})?;
    let msgs = s.msgs;
    let answering = std::thread::spawn(move || -> Result<usize> {
        let (mut answered, mut probes) = (0usize, 0usize);
        while answered < msgs {
            let got = responder.read_some(|m, out| {
                if let Some(reply) = m.reply {
                    sluice_protocol::encode_pub(out, reply, None, None, m.payload);
                    if is_probe(m.reply) {
                        probes += 1;
                    } else {
                        answered += 1;
                    }
                }
            })?;
            if !got {
                return Err(format!(
                    "responder: answered {answered} of {msgs}, then no request for {STALL:?}"
                ));
            }
            responder.flush()?;
        }
        Ok(probes)
    });

    let mut c = Conn::connect(&s.server)?;
    let inbox = format!("{}.rr", c.inbox);
    let probe_reply = probe::probe_reply(&c);
    let sent = match s.sub_server {
        Some(_) => Some(probe::request_until_answered(&mut c, subject)?),
        None => None,
    };
    let mut payload = Payload::new(s.size, msgs)?;
    let mut samples = Vec::with_capacity(msgs);
    let start = Instant::now();
    for i in 0..msgs {
        let sent = Instant::now();
        c.publish(subject, Some(&inbox), payload.stamp(i))?;
        c.flush()?;
        let (mut answered, mut bad) = (false, None);
        while !answered {
            let got = c.read_some(|m, _| match payload.read(m.payload) {
                // A late answer to a probe (the first answered one ended the probing).
                _ if m.subject == probe_reply => {}
                Some(n) if n == i && m.subject == inbox => answered = true,
                n => {
                    bad.get_or_insert(format!(
                        "request {i}: unexpected reply {n:?} on {} ({} bytes)",
                        m.subject,
                        m.payload.len()
                    ));
                }
            })?;
            if let Some(e) = bad {
                return Err(e);
            }
            if !got {
                return Err(format!("request {i}: no reply within {STALL:?}"));
            }
            c.flush()?;
        }
        samples.push(sent.elapsed().as_nanos() as u64);
        if i % 256 == 0 {
            progress.set(i as u64);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let probes_answered = answering
        .join()
        .map_err(|_| "the responder thread panicked")??;
    if probes_answered > sent.unwrap_or(0) {
        return Err(format!(
            "the responder answered {probes_answered} probes, {} were sent",
            sent.unwrap_or(0)
        ));
    }
    let mut r = report(s, secs);
    r.latency = Latency::from_ns(&mut samples);
    r.probes = sent;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::Payload;

    #[test]
    fn payload_numbers_round_trip() {
        let mut p = Payload::new(16, 1_000_000).unwrap();
        for n in [0, 1, 255, 256, 999_999] {
            let bytes = p.stamp(n).to_vec();
            assert_eq!(bytes.len(), 16);
            assert_eq!(&bytes[8..], b"xxxxxxxx");
            assert_eq!(p.read(&bytes), Some(n));
        }
        assert_eq!(p.read(b"short"), None, "wrong size");
    }

    #[test]
    fn small_payloads_number_what_they_can() {
        let mut p = Payload::new(2, 65_536).unwrap();
        let b = p.stamp(65_535).to_vec();
        assert_eq!(p.read(&b), Some(65_535));
        let e = Payload::new(2, 65_537).err().unwrap();
        assert!(e.contains("--size 2 is too small"), "{e}");
        let mut p = Payload::new(0, 1).unwrap();
        assert_eq!(p.stamp(0), b"");
        assert_eq!(p.read(b""), Some(0));
        assert!(Payload::new(0, 2).is_err());
    }
}
