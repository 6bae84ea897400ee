//! Waiting for interest to cross a route (`--sub-server`).
//!
//! A subscription made on one server of a cluster reaches the others asynchronously (a few
//! milliseconds later), and a message published before it has arrived is not forwarded. So
//! before the clock starts, the publisher (or requester) sends probe messages on the
//! workload's subject until the receivers that must see one have. A probe is marked by its
//! reply subject, `<inbox>.probe`; receivers count probes apart from the workload's messages,
//! which are checked (and measured) exactly as on one server. The publisher's connection
//! carries probes and then messages in one order, and one route carries them on, so every
//! probe a receiver gets arrives before the first message.

use super::conn::{Conn, Result, STALL};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The last token of a probe's reply subject.
pub const PROBE_SUFFIX: &str = ".probe";

/// The payload of a probe (any size: receivers tell probes by their reply subject).
const PROBE_PAYLOAD: &[u8] = b"probe";

/// Whether a message with this reply subject is a probe.
#[inline]
pub fn is_probe(reply: Option<&str>) -> bool {
    reply.is_some_and(|r| r.ends_with(PROBE_SUFFIX))
}

/// The reply subject of `c`'s probes.
pub fn probe_reply(c: &Conn) -> String {
    format!("{}{PROBE_SUFFIX}", c.inbox)
}

/// What the receivers tell the publisher about probes.
#[derive(Debug, Default)]
pub struct Probes {
    /// Receivers that must see a probe and have seen one.
    ready: AtomicUsize,
    /// Probes received, by all receivers.
    received: AtomicUsize,
}

impl Probes {
    /// A receiver's counter; `must_see`: the publisher waits for it to see a probe.
    pub fn receiver(self: &Arc<Self>, must_see: bool) -> ProbeCounter {
        ProbeCounter {
            shared: self.clone(),
            must_see,
            seen: 0,
            reported: false,
        }
    }

    /// Probes received, by all receivers (once they have finished).
    pub fn received(&self) -> usize {
        self.received.load(Ordering::Acquire)
    }

    fn ready(&self) -> usize {
        self.ready.load(Ordering::Acquire)
    }
}

/// One receiver's probes.
pub struct ProbeCounter {
    shared: Arc<Probes>,
    must_see: bool,
    /// Probes this receiver has got: bump it for each.
    pub seen: usize,
    reported: bool,
}

impl ProbeCounter {
    /// After a read: tells the publisher (once) that this receiver has seen a probe.
    #[inline]
    pub fn after_read(&mut self) {
        if self.seen > 0 && !self.reported {
            self.reported = true;
            if self.must_see {
                self.shared.ready.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Adds this receiver's probes to the total.
    pub fn finish(self) {
        self.shared.received.fetch_add(self.seen, Ordering::AcqRel);
    }
}

/// Publishes probes on `subject` from `c`, one per PING round trip (and at most one a
/// millisecond), until `want` receivers have seen one; returns how many were published. The
/// no-responders statuses a server answers early probes with (nobody is interested yet) are
/// read and dropped by the PINGs.
pub fn publish_until_seen(
    c: &mut Conn,
    subject: &str,
    probes: &Probes,
    want: usize,
) -> Result<usize> {
    let reply = probe_reply(c);
    let deadline = Instant::now() + STALL;
    let mut sent = 0;
    while probes.ready() < want {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {want} receivers saw a probe within {STALL:?} ({sent} published): \
                 their interest did not cross the route",
                probes.ready()
            ));
        }
        c.publish(subject, Some(&reply), PROBE_PAYLOAD)?;
        c.ping(|_, _| {})?;
        sent += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(sent)
}

/// `reqrep`: sends probe requests to `subject` from `c` until one is answered (so the
/// responder's interest has reached this server, and this connection's inbox the
/// responder's); returns how many were sent. A probe gets 20 ms for its answer before the
/// next is sent; one answered with a status (no responders yet) is followed by the next a
/// millisecond later.
pub fn request_until_answered(c: &mut Conn, subject: &str) -> Result<usize> {
    let reply = probe_reply(c);
    c.set_read_timeout(Duration::from_millis(20))?;
    let deadline = Instant::now() + STALL;
    let mut sent = 0;
    let answered = loop {
        if Instant::now() > deadline {
            break Err(format!(
                "no answer to {sent} probe requests within {STALL:?}: the responder's \
                 interest (or this inbox's) did not cross the route"
            ));
        }
        c.publish(subject, Some(&reply), PROBE_PAYLOAD)?;
        c.flush()?;
        sent += 1;
        // Some(true): answered; Some(false): a status (no responders).
        let mut answer = None;
        while answer.is_none() {
            let got = c.read_some(|m, _| {
                if m.subject == reply && answer != Some(true) {
                    answer = Some(m.headers.is_none());
                }
            })?;
            c.flush()?;
            if !got {
                break;
            }
        }
        match answer {
            Some(true) => break Ok(sent),
            Some(false) => std::thread::sleep(Duration::from_millis(1)),
            None => {}
        }
    };
    c.set_read_timeout(STALL)?;
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_told_by_their_reply_subject() {
        assert!(is_probe(Some("_INBOX.bench1n2.probe")));
        assert!(!is_probe(Some("_INBOX.bench1n2.rr")));
        assert!(!is_probe(None));
    }

    #[test]
    fn receivers_report_once_and_only_if_waited_for() {
        let p = Arc::new(Probes::default());
        let mut a = p.receiver(true);
        let mut b = p.receiver(false);
        a.after_read();
        assert_eq!(p.ready(), 0, "no probe seen yet");
        a.seen += 2;
        a.after_read();
        a.after_read();
        b.seen += 1;
        b.after_read();
        assert_eq!(p.ready(), 1, "a once; b is not waited for");
        a.finish();
        b.finish();
        assert_eq!(p.received(), 3);
    }
}
