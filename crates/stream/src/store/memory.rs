//! In-memory storage: the shared index (`store/index.rs`) holding the messages themselves.

use super::index::{Entry, Index, Plan, MAX_SEQ};
use super::{memory_msg_size, MsgStore, Purge, StoreError, StoreState, StoredMsg};
use bytes::Bytes;
use std::sync::Arc;

/// One message: headers and payload share one allocation.
struct MemEntry {
    subj: u32,
    ts: i64,
    /// Header block followed by the payload.
    data: Bytes,
    /// Length of the header block, or `u32::MAX` for no headers.
    hdr_len: u32,
    size: u64,
}

impl Entry for MemEntry {
    #[inline]
    fn subj(&self) -> u32 {
        self.subj
    }
    #[inline]
    fn ts(&self) -> i64 {
        self.ts
    }
    #[inline]
    fn size(&self) -> u64 {
        self.size
    }
}

/// A stream's messages, in memory only.
#[derive(Default)]
pub struct MemoryStore {
    index: Index<MemEntry>,
    /// The last apply mark (kept in memory, as everything here).
    last_mark: Option<(u64, u64)>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            index: Index::new(),
            last_mark: None,
        }
    }

    fn msg(&self, seq: u64, e: &MemEntry) -> StoredMsg {
        let (headers, payload) = if e.hdr_len == u32::MAX {
            (None, e.data.clone())
        } else {
            let h = e.hdr_len as usize;
            (Some(e.data.slice(..h)), e.data.slice(h..))
        };
        StoredMsg {
            seq,
            subject: self.index.subject_name(e.subj).clone(),
            headers,
            payload,
            time_ns: e.ts,
        }
    }

    fn apply(&mut self, plan: &Plan) -> u64 {
        self.index.apply(plan, |_, _| {})
    }
}

impl MsgStore for MemoryStore {
    fn msg_size(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        memory_msg_size(subject, headers, payload)
    }

    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.index.last_seq() + 1;
        self.append_at(seq, subject, headers, payload, time_ns)?;
        Ok(seq)
    }

    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<(), StoreError> {
        let last = self.index.last_seq();
        if seq <= last {
            return Err(StoreError::OutOfOrder { seq, last });
        }
        let hdr = headers.unwrap_or(&[]);
        if hdr.len() >= u32::MAX as usize {
            return Err(StoreError::TooLarge);
        }
        let mut data = Vec::with_capacity(hdr.len() + payload.len());
        data.extend_from_slice(hdr);
        data.extend_from_slice(payload);
        let subj = self.index.intern(subject);
        self.index.push(
            seq,
            MemEntry {
                subj,
                ts: time_ns,
                data: Bytes::from(data),
                hdr_len: headers.map_or(u32::MAX, |h| h.len() as u32),
                size: memory_msg_size(subject, headers, payload),
            },
        );
        Ok(())
    }

    fn skip_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        let next = next.min(MAX_SEQ);
        if next > self.index.last_seq() + 1 {
            self.index.set_floor(next, last_ts);
        }
        Ok(())
    }

    fn clear_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        self.index.reset(next.clamp(1, MAX_SEQ), last_ts);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn mark(&mut self, index: u64, term: u64) -> Result<(), StoreError> {
        self.last_mark = Some((index, term));
        Ok(())
    }

    fn last_mark(&self) -> Option<(u64, u64)> {
        self.last_mark
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.index.get(seq).map(|e| self.msg(seq, &e)))
    }

    fn next_matching(
        &self,
        from_seq: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self
            .index
            .next_matching(from_seq, filter)
            .map(|(seq, e)| self.msg(seq, &e)))
    }

    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self
            .index
            .last_matching(filter)
            .map(|(seq, e)| self.msg(seq, &e)))
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.index.subject_count(subject)
    }

    fn first_seq_of_subject(&self, subject: &str) -> Option<u64> {
        self.index.first_seq_of_subject(subject)
    }

    fn delete(&mut self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.index.remove(seq).is_some())
    }

    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError> {
        let plan = self.index.plan_purge(purge);
        Ok(self.apply(&plan))
    }

    fn expire_before(&mut self, cutoff_ns: i64) -> Result<u64, StoreError> {
        let plan = self.index.plan_expire(cutoff_ns);
        Ok(self.apply(&plan))
    }

    fn state(&self) -> StoreState {
        self.index.state()
    }

    fn set_next_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        if self.index.msgs() == 0 {
            let ts = self.index.last_ts();
            self.index.reset(seq.min(MAX_SEQ), ts);
        }
        Ok(())
    }

    fn subjects(&self) -> Vec<(Arc<str>, u64)> {
        self.index.subjects()
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
