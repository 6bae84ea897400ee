//! Pull consumers: the queue of waiting `CONSUMER.MSG.NEXT` requests and how they are served.
//!
//! nats-server v2.9 (`processNextMsgRequest`, `nextWaiting`, `waitQueue.pop`,
//! `processWaiting`) is the spec:
//! - a request to a push consumer is answered `409 Consumer is push based`; a bad body
//!   `400 Bad Request - ...`; a batch over `max_batch`, an `expires` over `max_expires` or a
//!   `max_bytes` over the consumer's `max_bytes` the matching `409 Exceeded ...`;
//! - `no_wait` with nothing to deliver and no `expires` is answered `404 No Messages`, with
//!   fewer messages than other waiting requests already asked for `408 Requests Pending`;
//!   otherwise it waits like any request but ends, `408 Request Timeout`, as soon as nothing
//!   more is available after it got something;
//! - a full queue (`max_waiting`) first drops expired requests, then refuses with
//!   `409 Exceeded MaxWaiting`;
//! - requests are served round robin, one message each in turn; a message (subject, ack reply
//!   subject, headers and payload) larger than what is left of a request's `max_bytes` ends that
//!   request with `409 Message Size Exceeds MaxBytes` (also after it got some); one whose bytes
//!   run out exactly is done with that message, without a status;
//! - a request whose inbox has no subscriber is dropped silently, but only when it is looked
//!   at: when a message would go to it, when its heartbeat is due, when the queue is full, and
//!   by CONSUMER.INFO/LIST (which count the waiting). Until then its requester may reconnect
//!   and subscribe again (clients re-subscribe their inbox after a reconnect and expect a
//!   pending request to go on);
//! - a `no_wait` request that got something ends (`408`) when the stream has nothing more for
//!   it, not while `max_ack_pending` holds deliveries back: acks may free room;
//! - an expired request is answered `408 Request Timeout` with what it still wanted
//!   (`Nats-Pending-Messages`, `Nats-Pending-Bytes`); a request with `idle_heartbeat` gets
//!   `100 Idle Heartbeat` each time that long passes without a message to it.

use super::live::{status, Consumer, Outbox};
use crate::api::consumer_types::{ConsumerStatus, PullRequest};
use crate::store::{MsgStore, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;

/// Most messages one consumer sends in one pass of the writer loop, so that a long backlog
/// does not starve the others (the writer loops again at once).
pub(crate) const PASS_LIMIT: usize = 512;

/// One waiting pull request (also as a stream group's snapshot carries it: `consumer/image.rs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Request {
    pub reply: Arc<str>,
    /// Messages it still wants.
    pub left: i64,
    /// Payload bytes it may still take; 0: no limit.
    pub bytes_left: i64,
    pub expires_at: Option<i64>,
    pub no_wait: bool,
    pub hb_ns: i64,
    pub next_hb: i64,
    /// Messages it got.
    pub delivered: i64,
}

impl Request {
    fn timeout(&self) -> ConsumerStatus {
        ConsumerStatus::RequestTimeout {
            pending_msgs: self.left,
            pending_bytes: self.bytes_left,
        }
    }
}

/// The waiting requests of one pull consumer, served round robin.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    q: VecDeque<Request>,
    max: i64,
}

impl WaitQueue {
    pub(crate) fn new(max_waiting: i64) -> Self {
        WaitQueue {
            q: VecDeque::new(),
            max: max_waiting,
        }
    }

    pub(crate) fn set_max(&mut self, max_waiting: i64) {
        self.max = max_waiting;
    }

    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }

    /// The waiting requests, in their order (a stream group's snapshot).
    pub(crate) fn image(&self) -> Vec<Request> {
        self.q.iter().cloned().collect()
    }

    /// Replaces the waiting requests by a snapshot's.
    pub(crate) fn restore_image(&mut self, image: &[Request]) {
        self.q = image.iter().cloned().collect();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    fn is_full(&self) -> bool {
        self.max > 0 && self.q.len() as i64 >= self.max
    }

    /// The inboxes of the waiting requests.
    pub(crate) fn replies(&self) -> impl Iterator<Item = &Arc<str>> {
        self.q.iter().map(|r| &r.reply)
    }

    /// Messages all waiting requests still want.
    fn wanted(&self) -> i64 {
        self.q.iter().map(|r| r.left.max(0)).sum()
    }

    /// The next expiry or heartbeat.
    pub(crate) fn next_wakeup(&self) -> Option<i64> {
        self.q
            .iter()
            .flat_map(|r| [r.expires_at, (r.hb_ns > 0).then_some(r.next_hb)])
            .flatten()
            .min()
    }

    /// Ends every request (the consumer is going away), telling each `409 Consumer Deleted`.
    pub(crate) fn close(&mut self, out: &mut Outbox) {
        for r in self.q.drain(..) {
            status(out, &r.reply, &ConsumerStatus::ConsumerDeleted);
        }
    }

    /// Answers expired requests `408 Request Timeout` and sends due heartbeats, dropping a
    /// request whose heartbeat is due but whose inbox nobody listens to any more. Requests
    /// are not otherwise checked for interest here: see the module doc.
    fn tick(
        &mut self,
        now_ns: i64,
        last: (u64, u64),
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) {
        self.q.retain_mut(|r| {
            if r.expires_at.is_some_and(|t| t <= now_ns) {
                status(out, &r.reply, &r.timeout());
                return false;
            }
            if r.hb_ns > 0 && r.next_hb <= now_ns {
                if !has_interest(&r.reply) {
                    return false;
                }
                let hb = ConsumerStatus::IdleHeartbeat {
                    last_consumer_seq: last.0,
                    last_stream_seq: last.1,
                    stalled: None,
                };
                status(out, &r.reply, &hb);
                r.next_hb = now_ns.saturating_add(r.hb_ns);
            }
            true
        });
    }

    /// Answers expired requests `408 Request Timeout` and drops those nobody listens for
    /// (nats-server's `processWaiting`, run when the queue is full and by consumer info).
    pub(crate) fn prune(
        &mut self,
        now_ns: i64,
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) {
        self.q.retain(|r| {
            if r.expires_at.is_some_and(|t| t <= now_ns) {
                status(out, &r.reply, &r.timeout());
                return false;
            }
            has_interest(&r.reply)
        });
    }

    /// Makes the head the request that can take a message of `size` bytes, dropping those
    /// that cannot (nats-server's `nextWaiting`). False if none can.
    fn ready_for(
        &mut self,
        size: i64,
        now_ns: i64,
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) -> bool {
        while let Some(r) = self.q.front() {
            if r.bytes_left > 0 && size > r.bytes_left {
                let s = ConsumerStatus::MessageSizeExceedsMaxBytes {
                    pending_msgs: r.left,
                    pending_bytes: r.bytes_left,
                };
                status(out, &r.reply, &s);
                self.q.pop_front();
                continue;
            }
            if r.expires_at.is_some_and(|t| t <= now_ns) {
                status(out, &r.reply, &r.timeout());
                self.q.pop_front();
                continue;
            }
            if !has_interest(&r.reply) {
                self.q.pop_front();
                continue;
            }
            return true;
        }
        false
    }

    /// Counts one message of `size` bytes to the head request and moves it to the back (or
    /// removes it when done). Returns its inbox.
    fn pop(&mut self, size: i64, now_ns: i64) -> Arc<str> {
        let mut r = self.q.pop_front().expect("ready_for found a head");
        r.left -= 1;
        r.delivered += 1;
        if r.bytes_left > 0 {
            r.bytes_left -= size;
            if r.bytes_left <= 0 {
                r.left = 0;
            }
        }
        r.next_hb = now_ns.saturating_add(r.hb_ns);
        let reply = r.reply.clone();
        if r.left > 0 {
            self.q.push_back(r);
        }
        reply
    }

    /// Nothing more to deliver now: `no_wait` requests end here (`408 Request Timeout` after
    /// something was delivered; `404 No Messages` if nothing was and they cannot wait).
    fn end_no_wait(&mut self, out: &mut Outbox) {
        self.q.retain(|r| {
            if !r.no_wait {
                return true;
            }
            if r.delivered > 0 {
                status(out, &r.reply, &r.timeout());
                return false;
            }
            if r.expires_at.is_none() {
                status(out, &r.reply, &ConsumerStatus::NoMessages);
                return false;
            }
            true
        });
    }
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Consumer {
    /// Bytes a message counts for against a request's `max_bytes`: as nats-server counts it,
    /// subject + ack reply subject + headers + payload. The reply's delivery count and pending
    /// count are taken as one digit each (not known before the delivery is committed).
    fn size_of(&self, msg: &crate::store::StoredMsg) -> i64 {
        let reply = "$JS.ACK.".len()
            + self.stream.len()
            + self.name.len()
            + digits(msg.seq)
            + digits(self.state.delivered().consumer_seq + 1)
            + digits(msg.time_ns.max(0) as u64)
            + 2
            + 6;
        (msg.subject.len()
            + reply
            + msg.headers.as_ref().map_or(0, |h| h.len())
            + msg.payload.len()) as i64
    }
}

impl Consumer {
    /// A `CONSUMER.MSG.NEXT` request (or the request of a `+NXT` ack) answered to `reply`.
    pub(crate) fn on_pull(
        &mut self,
        reply: &str,
        body: &[u8],
        store: &dyn MsgStore,
        now_ns: i64,
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) -> Result<(), StoreError> {
        let reply: Arc<str> = reply.into();
        if self.push.is_some() {
            status(out, &reply, &ConsumerStatus::ConsumerIsPushBased);
            return Ok(());
        }
        let req = match PullRequest::parse(body) {
            Ok(r) => r,
            Err(e) => {
                status(out, &reply, &ConsumerStatus::BadRequest(e.to_string()));
                return Ok(());
            }
        };
        self.last_active_ns = now_ns;
        let cfg = &self.config;
        let batch = req.batch.max(1);
        if cfg.max_batch > 0 && batch > cfg.max_batch {
            let s = ConsumerStatus::ExceededMaxRequestBatch(cfg.max_batch);
            status(out, &reply, &s);
            return Ok(());
        }
        if req.expires > 0 && cfg.max_expires > 0 && req.expires > cfg.max_expires {
            let s = ConsumerStatus::ExceededMaxRequestExpires(cfg.max_expires);
            status(out, &reply, &s);
            return Ok(());
        }
        if req.max_bytes > 0 && cfg.max_bytes > 0 && req.max_bytes > cfg.max_bytes {
            let s = ConsumerStatus::ExceededMaxRequestMaxBytes(cfg.max_bytes);
            status(out, &reply, &s);
            return Ok(());
        }
        if self.waiting.is_full() {
            self.waiting.prune(now_ns, has_interest, out);
        }
        if req.no_wait {
            let available =
                self.state.num_pending(store)? as i64 + self.state.redeliveries_due(now_ns) as i64;
            if available == 0 && req.expires <= 0 {
                status(out, &reply, &ConsumerStatus::NoMessages);
                return Ok(());
            }
            if available > 0 {
                self.waiting.prune(now_ns, has_interest, out);
            }
            if available > 0 && available < self.waiting.wanted() {
                status(out, &reply, &ConsumerStatus::RequestsPending);
                return Ok(());
            }
        }
        if self.waiting.is_full() {
            status(out, &reply, &ConsumerStatus::ExceededMaxWaiting);
            return Ok(());
        }
        self.waiting.q.push_back(Request {
            reply,
            left: batch,
            bytes_left: req.max_bytes.max(0),
            expires_at: (req.expires > 0).then(|| now_ns.saturating_add(req.expires)),
            no_wait: req.no_wait,
            hb_ns: req.idle_heartbeat.max(0),
            next_hb: now_ns.saturating_add(req.idle_heartbeat.max(0)),
            delivered: 0,
        });
        Ok(())
    }

    /// Expiries and heartbeats of waiting requests.
    pub(crate) fn tick_pull(
        &mut self,
        now_ns: i64,
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) {
        if self.waiting.is_empty() {
            return;
        }
        let d = self.state.delivered();
        self.waiting
            .tick(now_ns, (d.consumer_seq, d.stream_seq), has_interest, out);
    }

    /// Serves waiting requests from the stream. True if it stopped at [`PASS_LIMIT`] with more
    /// to send.
    pub(crate) fn pump_pull(
        &mut self,
        store: &dyn MsgStore,
        now_ns: i64,
        has_interest: &dyn Fn(&str) -> bool,
        out: &mut Outbox,
    ) -> Result<bool, StoreError> {
        let mut sent = 0;
        self.paced_until = None;
        while !self.waiting.is_empty() {
            if sent >= PASS_LIMIT {
                return Ok(true);
            }
            let Some(msg) = self.state.peek_next(store, now_ns)? else {
                if !self.state.is_blocked() {
                    // The stream has nothing more for them (not merely max_ack_pending).
                    self.waiting.end_no_wait(out);
                }
                return Ok(false);
            };
            if let Some(due) = self.replay_wait(msg.time_ns, now_ns) {
                self.paced_until = Some(due);
                return Ok(false);
            }
            let size = self.size_of(&msg);
            if !self.waiting.ready_for(size, now_ns, has_interest, out) {
                return Ok(false);
            }
            let Some(d) = self.state.next_to_deliver(store, now_ns)? else {
                return Ok(false);
            };
            let reply = self.waiting.pop(size, now_ns);
            self.send(d, &reply, now_ns, out);
            sent += 1;
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reply: &str, left: i64, bytes_left: i64) -> Request {
        Request {
            reply: reply.into(),
            left,
            bytes_left,
            expires_at: Some(10_000),
            no_wait: false,
            hb_ns: 0,
            next_hb: 0,
            delivered: 0,
        }
    }

    fn headers(out: &Outbox) -> Vec<String> {
        out.iter()
            .map(|m| String::from_utf8_lossy(m.headers.as_deref().unwrap_or(b"")).into_owned())
            .collect()
    }

    const NOBODY: &dyn Fn(&str) -> bool = &|_| false;
    const EVERYBODY: &dyn Fn(&str) -> bool = &|_| true;

    #[test]
    fn a_request_nobody_listens_for_waits_until_looked_at() {
        let mut q = WaitQueue::new(10);
        q.q.push_back(request("_INBOX.a", 1, 0));
        let mut out = Outbox::new();
        q.tick(5_000, (0, 0), NOBODY, &mut out);
        assert_eq!(
            q.len(),
            1,
            "a periodic pass keeps it: its requester may come back"
        );
        assert!(out.is_empty());
        assert!(
            !q.ready_for(10, 5_000, NOBODY, &mut out),
            "a message would go to it"
        );
        assert!(q.is_empty() && out.is_empty(), "dropped silently");
    }

    #[test]
    fn its_heartbeat_looks_at_it() {
        let mut q = WaitQueue::new(10);
        let mut r = request("_INBOX.a", 1, 0);
        (r.hb_ns, r.next_hb) = (1_000, 1_000);
        q.q.push_back(r.clone());
        let mut out = Outbox::new();
        q.tick(1_000, (0, 0), EVERYBODY, &mut out);
        assert_eq!(q.len(), 1);
        assert!(headers(&out)[0].starts_with("NATS/1.0 100 Idle Heartbeat\r\n"));
        out.clear();
        q.tick(2_000, (0, 0), NOBODY, &mut out);
        assert!(q.is_empty() && out.is_empty());
    }

    #[test]
    fn prune_answers_the_expired_and_drops_the_unheard() {
        let mut q = WaitQueue::new(10);
        q.q.push_back(request("_INBOX.old", 3, 0));
        let mut gone = request("_INBOX.gone", 1, 0);
        gone.expires_at = None;
        q.q.push_back(gone);
        let mut live = request("_INBOX.live", 1, 0);
        live.expires_at = None;
        q.q.push_back(live);
        let mut out = Outbox::new();
        q.prune(10_000, &|s| s != "_INBOX.gone", &mut out);
        assert_eq!(q.len(), 1);
        assert_eq!(&*q.q[0].reply, "_INBOX.live");
        assert_eq!(
            headers(&out),
            ["NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n"]
        );
        assert_eq!(&*out[0].route, "_INBOX.old");
    }

    #[test]
    fn max_bytes_that_cannot_take_the_next_message_end_the_request_with_409() {
        let mut q = WaitQueue::new(10);
        q.q.push_back(request("_INBOX.a", 10, 400));
        let mut out = Outbox::new();
        for _ in 0..2 {
            assert!(q.ready_for(142, 0, EVERYBODY, &mut out));
            q.pop(142, 0);
        }
        assert!(!q.ready_for(142, 0, EVERYBODY, &mut out));
        assert!(q.is_empty());
        assert_eq!(
            headers(&out),
            ["NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 8\r\nNats-Pending-Bytes: 116\r\n\r\n"]
        );
    }

    #[test]
    fn max_bytes_used_up_exactly_end_the_request_without_a_status() {
        let mut q = WaitQueue::new(10);
        q.q.push_back(request("_INBOX.a", 10, 284));
        let mut out = Outbox::new();
        for _ in 0..2 {
            assert!(q.ready_for(142, 0, EVERYBODY, &mut out));
            q.pop(142, 0);
        }
        assert!(q.is_empty() && out.is_empty());
    }
}
