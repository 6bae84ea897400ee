//! One stream: its store, its limits, its duplicate window, and what a publish does to it.
//!
//! [`Stream::publish`] runs the checks nats-server runs, in its order (sealed, expected stream,
//! duplicate id, expected last sequence / subject sequence / msg id, size, rollup, TTL, discard
//! new limits), appends, records the id, and applies discard-old limits and rollups. It does
//! not sync: the caller batches publishes and syncs once (group commit) before acking.

use crate::dedup::Dedup;
use crate::headers::{PublishHeaders, Rollup, Ttl};
use crate::store::{MsgStore, Purge, StoreError, StoreState};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

mod image;
pub use image::{ImageError, ImageMsg, StreamImage, IMAGE_VERSION};

/// The parts of a stream's config that govern what a publish does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// -1 or 0: unlimited.
    pub max_msgs: i64,
    pub max_bytes: i64,
    /// Nanoseconds; 0: unlimited.
    pub max_age_ns: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    /// Discard policy `new`: refuse publishes over the limits instead of dropping old ones.
    pub discard_new: bool,
    /// With `discard_new`, also refuse a publish that would exceed max_msgs_per_subject.
    pub discard_new_per_subject: bool,
    pub duplicate_window_ns: i64,
    pub allow_rollup: bool,
    pub deny_purge: bool,
    pub sealed: bool,
    pub allow_msg_ttl: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: String::new(),
            max_msgs: -1,
            max_bytes: -1,
            max_age_ns: 0,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard_new: false,
            discard_new_per_subject: false,
            duplicate_window_ns: 120_000_000_000,
            allow_rollup: false,
            deny_purge: false,
            sealed: false,
            allow_msg_ttl: false,
        }
    }
}

fn limited(v: i64) -> Option<u64> {
    (v > 0).then_some(v as u64)
}

/// Why a publish was refused. Mapped to the API's error JSON in one place (`api::errors`).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("stream is sealed")]
    Sealed,
    #[error("expected stream does not match")]
    WrongStream,
    #[error("wrong last sequence: {0}")]
    WrongLastSeq(u64),
    #[error("wrong last msg ID: {0}")]
    WrongLastMsgId(String),
    #[error("message size exceeds maximum allowed")]
    TooLarge,
    #[error("maximum messages exceeded")]
    MaxMsgs,
    #[error("maximum bytes exceeded")]
    MaxBytes,
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    #[error("rollup not permitted")]
    RollupNotPermitted,
    #[error("invalid rollup value {0:?}")]
    InvalidRollup(String),
    #[error("per-message TTL is disabled")]
    TtlDisabled,
    #[error("invalid per-message TTL {0:?}")]
    InvalidTtl(String),
    /// The stored message took the account over its `max_file` / `max_memory` (removed again).
    #[error("resource limits exceeded for account")]
    AccountLimits,
    /// The server already stores more than its `max_file_store` / `max_memory_store`.
    #[error("insufficient resources")]
    InsufficientResources,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored at this sequence.
    New(u64),
    /// Already stored at this sequence (same `Nats-Msg-Id` inside the window).
    Duplicate(u64),
}

/// A stream's state and storage.
pub struct Stream {
    policy: Policy,
    store: Box<dyn MsgStore>,
    dedup: Dedup,
    /// The `Nats-Msg-Id` of the newest stored message, for `Nats-Expected-Last-Msg-Id`.
    last_msg_id: Option<String>,
    /// Per-message TTL deadlines: (expires_at_ns, seq), soonest first.
    ttls: BinaryHeap<Reverse<(i64, u64)>>,
    /// Sequences that carry `Nats-TTL: never` (exempt from max_age).
    never_expire: std::collections::BTreeSet<u64>,
    /// What its bytes count against, when its account or the server limits them.
    quota: Option<crate::quota::Quota>,
}

impl Stream {
    /// Wraps a store (new or reopened). Rebuilds the duplicate window and TTL deadlines from
    /// the stored messages.
    pub fn open(
        policy: Policy,
        store: Box<dyn MsgStore>,
        now_ns: i64,
    ) -> Result<Stream, StoreError> {
        let mut stream = Stream {
            policy,
            store,
            dedup: Dedup::new(),
            last_msg_id: None,
            ttls: BinaryHeap::new(),
            never_expire: Default::default(),
            quota: None,
        };
        stream.rebuild(stream.window_start(now_ns))?;
        Ok(stream)
    }

    /// The start of the duplicate window at `now_ns`.
    fn window_start(&self, now_ns: i64) -> i64 {
        now_ns.saturating_sub(self.policy.duplicate_window_ns)
    }

    /// Scans stored messages for TTLs, and for the ids of those stored at or after
    /// `window_start` (`i64::MAX`: none) for the duplicate window and the last msg id.
    fn rebuild(&mut self, window_start: i64) -> Result<(), StoreError> {
        let state = self.store.state();
        // As nats-server's `rebuildDedupe`: the last msg id is that of the message at the last
        // sequence, if it is still there, within the duplicate window and has one; else none.
        self.last_msg_id = None;
        let mut seq = state.first_seq;
        while let Some(msg) = self.store.next_matching(seq, None)? {
            seq = msg.seq + 1;
            if msg.headers.is_none() {
                continue;
            }
            let h = PublishHeaders::parse(msg.headers.as_deref());
            if let Some(id) = &h.msg_id {
                if msg.time_ns >= window_start {
                    self.dedup.insert(id, msg.seq, msg.time_ns);
                }
            }
            if msg.seq == state.last_seq && msg.time_ns >= window_start {
                self.last_msg_id = h.msg_id.clone();
            }
            match h.ttl {
                Some(Ok(Ttl::After(ns))) => self
                    .ttls
                    .push(Reverse((msg.time_ns.saturating_add(ns), msg.seq))),
                Some(Ok(Ttl::Never)) => {
                    self.never_expire.insert(msg.seq);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy (stream update) and applies the new limits at once.
    pub fn set_policy(&mut self, policy: Policy, now_ns: i64) -> Result<(), StoreError> {
        self.policy = policy;
        self.enforce_limits(None)?;
        self.expire(now_ns)
    }

    /// Read access to the store (message get, consumers).
    pub fn store(&self) -> &dyn MsgStore {
        self.store.as_ref()
    }

    /// Write access to the store (message delete, purge).
    pub fn store_mut(&mut self) -> &mut dyn MsgStore {
        self.store.as_mut()
    }

    /// Current state of the store.
    pub fn state(&self) -> StoreState {
        self.store.state()
    }

    /// Hands every stored message to the OS (survives kill -9, not power loss).
    pub fn write_out(&mut self) -> Result<(), StoreError> {
        self.store.write_out()
    }

    /// Makes every stored message durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.store.sync()
    }

    /// After a failed [`Stream::sync`] or [`Stream::write_out`]: drops what the store could
    /// not write (see [`MsgStore::reload`]) and rebuilds the duplicate window and TTLs from
    /// what it holds, so that a refused publish leaves no trace (its id is not taken, its
    /// sequence is given again). Returns how many messages were dropped.
    pub fn reload(&mut self, now_ns: i64) -> Result<u64, StoreError> {
        let dropped = self.store.reload()?;
        self.dedup.clear();
        self.last_msg_id = None;
        self.ttls.clear();
        self.never_expire.clear();
        self.rebuild(self.window_start(now_ns))?;
        Ok(dropped)
    }

    /// Stores one published message, or says why not. Not synced: see the module doc.
    pub fn publish(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        now_ns: i64,
    ) -> Result<Stored, PublishError> {
        let p = &self.policy;
        if p.sealed {
            return Err(PublishError::Sealed);
        }
        let h = PublishHeaders::parse(headers);
        if h.expected_stream.as_deref().is_some_and(|s| s != p.name) {
            return Err(PublishError::WrongStream);
        }
        if let Some(id) = &h.msg_id {
            self.dedup
                .expire(now_ns.saturating_sub(p.duplicate_window_ns));
            if let Some(seq) = self.dedup.get(id) {
                return Ok(Stored::Duplicate(seq));
            }
        }
        let state = self.store.state();
        if let Some(expected) = h.expected_last_seq {
            if expected != state.last_seq {
                return Err(PublishError::WrongLastSeq(state.last_seq));
            }
        }
        if let Some(expected) = h.expected_last_subject_seq {
            let last = self.store.last_matching(subject)?.map_or(0, |m| m.seq);
            if expected != last {
                return Err(PublishError::WrongLastSeq(last));
            }
        }
        if let Some(expected) = &h.expected_last_msg_id {
            let last = self.last_msg_id.as_deref().unwrap_or("");
            if expected != last {
                return Err(PublishError::WrongLastMsgId(last.to_owned()));
            }
        }
        let size = headers.map_or(0, <[u8]>::len) + payload.len();
        if p.max_msg_size >= 0 && size as i64 > p.max_msg_size {
            return Err(PublishError::TooLarge);
        }
        let rollup = match h.rollup {
            None => None,
            Some(_) if !p.allow_rollup || p.deny_purge => {
                return Err(PublishError::RollupNotPermitted)
            }
            Some(Ok(r)) => Some(r),
            Some(Err(v)) => return Err(PublishError::InvalidRollup(v)),
        };
        let ttl = match h.ttl {
            None => None,
            Some(_) if !p.allow_msg_ttl => return Err(PublishError::TtlDisabled),
            Some(Ok(t)) => Some(t),
            Some(Err(v)) => return Err(PublishError::InvalidTtl(v)),
        };
        if p.discard_new && rollup.is_none() {
            if limited(p.max_msgs).is_some_and(|m| state.msgs >= m) {
                return Err(PublishError::MaxMsgs);
            }
            let rec = self.store.msg_size(subject, headers, payload);
            if limited(p.max_bytes).is_some_and(|m| state.bytes + rec > m) {
                return Err(PublishError::MaxBytes);
            }
            if p.discard_new_per_subject
                && limited(p.max_msgs_per_subject)
                    .is_some_and(|m| self.store.subject_count(subject) >= m)
            {
                return Err(PublishError::MaxMsgsPerSubject);
            }
        }

        if self.quota.as_ref().is_some_and(|q| q.server_full()) {
            return Err(PublishError::InsufficientResources);
        }
        let seq = self.store.append(subject, headers, payload, now_ns)?;
        if self.quota.is_some() {
            self.within_account(seq, subject)?;
        }
        if let Some(id) = &h.msg_id {
            self.dedup.insert(id, seq, now_ns);
        }
        self.last_msg_id = h.msg_id;
        match ttl {
            Some(Ttl::After(ns)) => self.ttls.push(Reverse((now_ns.saturating_add(ns), seq))),
            Some(Ttl::Never) => {
                self.never_expire.insert(seq);
            }
            None => {}
        }
        match rollup {
            Some(Rollup::Subject) => {
                self.store.purge(&Purge {
                    filter: Some(subject.to_owned()),
                    keep: Some(1),
                    up_to_seq: None,
                })?;
            }
            Some(Rollup::All) => {
                self.store.purge(&Purge {
                    filter: None,
                    keep: None,
                    up_to_seq: Some(seq),
                })?;
            }
            None => {}
        }
        self.enforce_limits(Some(subject))?;
        self.count_quota();
        Ok(Stored::New(seq))
    }

    /// Sets what the stream's bytes count against (counted from now).
    pub fn set_quota(&mut self, quota: Option<crate::quota::Quota>) {
        self.quota = quota;
        self.count_quota();
    }

    /// Brings the account's and the server's totals up to date with the stream's bytes.
    pub fn count_quota(&self) {
        if let Some(q) = &self.quota {
            q.count(self.store.state().bytes);
        }
    }

    /// As nats-server: once the message at `seq` is stored (and the stream's own limits
    /// applied), an account over its limit gets it removed again and the publish refused.
    fn within_account(&mut self, seq: u64, subject: &str) -> Result<(), PublishError> {
        self.enforce_limits(Some(subject))?;
        self.count_quota();
        if self.quota.as_ref().is_some_and(|q| q.account_over()) {
            self.remove(seq)?;
            self.count_quota();
            return Err(PublishError::AccountLimits);
        }
        Ok(())
    }

    /// Drops the oldest messages while the stream is over a limit (discard old), and the
    /// oldest of `subject` while it is over max_msgs_per_subject (any discard policy).
    fn enforce_limits(&mut self, subject: Option<&str>) -> Result<(), StoreError> {
        let per_subject = limited(self.policy.max_msgs_per_subject);
        let (max_msgs, max_bytes) = (
            limited(self.policy.max_msgs),
            limited(self.policy.max_bytes),
        );
        if let (Some(max), Some(subject)) = (per_subject, subject) {
            while self.store.subject_count(subject) > max {
                let Some(first) = self.store.first_seq_of_subject(subject) else {
                    break;
                };
                self.remove(first)?;
            }
        }
        if subject.is_none() {
            if let Some(max) = per_subject {
                for (subj, count) in self.store.subjects() {
                    for _ in max..count {
                        let Some(first) = self.store.first_seq_of_subject(&subj) else {
                            break;
                        };
                        self.remove(first)?;
                    }
                }
            }
        }
        loop {
            let s = self.store.state();
            let over =
                max_msgs.is_some_and(|m| s.msgs > m) || max_bytes.is_some_and(|m| s.bytes > m);
            if !over || s.msgs == 0 {
                return Ok(());
            }
            let Some(first) = self.store.next_matching(s.first_seq, None)? else {
                return Ok(());
            };
            self.remove(first.seq)?;
        }
    }

    fn remove(&mut self, seq: u64) -> Result<(), StoreError> {
        self.never_expire.remove(&seq);
        self.store.delete(seq).map(|_| ())
    }

    /// Applies max_age, per-message TTLs and the duplicate window as of `now_ns`.
    pub fn expire(&mut self, now_ns: i64) -> Result<(), StoreError> {
        self.dedup
            .expire(now_ns.saturating_sub(self.policy.duplicate_window_ns));
        while let Some(Reverse((at, seq))) = self.ttls.peek().copied() {
            if at > now_ns {
                break;
            }
            self.ttls.pop();
            self.store.delete(seq)?;
        }
        if self.policy.max_age_ns > 0 {
            let cutoff = now_ns.saturating_sub(self.policy.max_age_ns);
            if self.never_expire.is_empty() {
                self.store.expire_before(cutoff)?;
            } else {
                let mut seq = self.store.state().first_seq;
                while let Some(msg) = self.store.next_matching(seq, None)? {
                    if msg.time_ns >= cutoff {
                        break;
                    }
                    seq = msg.seq + 1;
                    if !self.never_expire.contains(&msg.seq) {
                        self.store.delete(msg.seq)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// When the next time-based removal is due (max_age or a TTL), if any.
    pub fn next_expiry(&self) -> Option<i64> {
        let ttl = self.ttls.peek().map(|Reverse((at, _))| *at);
        let age = (self.policy.max_age_ns > 0)
            .then(|| self.store.state())
            .filter(|s| s.msgs > 0)
            .map(|s| s.first_ts.saturating_add(self.policy.max_age_ns));
        match (ttl, age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes the stream's data for good; it is empty (in memory) from then on.
    pub fn destroy_in_place(&mut self) -> Result<(), StoreError> {
        let store = std::mem::replace(
            &mut self.store,
            Box::new(crate::store::memory::MemoryStore::new()),
        );
        self.ttls.clear();
        self.never_expire.clear();
        store.destroy()
    }
}
