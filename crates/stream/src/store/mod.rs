//! Message storage: one trait, two implementations.
//!
//! [`MsgStore`] is what a stream needs from its storage: append with the next sequence, read
//! by sequence or by subject, delete, purge, and report its state. [`memory::MemoryStore`]
//! keeps everything in memory; [`file::FileStore`] keeps an append-only log of CRC-checked
//! records in segment files with an in-memory index rebuilt on open.
//!
//! A store knows nothing of limits, dedup or the API: the stream on top decides what to
//! delete and when; the store only does it.

pub mod file;
mod index;
pub mod memory;
mod recover;
mod segment;

use bytes::Bytes;
use std::sync::Arc;
use thiserror::Error;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub subject: Arc<str>,
    /// The raw header block (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// Unix time in nanoseconds when the message was stored.
    pub time_ns: i64,
}

/// Bytes a message counts for in a file stream's `state.bytes` and against its `max_bytes`:
/// nats-server's file store accounting (`fileStoreMsgSize`), whatever Sluice's own record
/// takes on disk: 22 bytes of record header + subject + payload + an 8-byte hash, and, when
/// there are headers, their length and 4 bytes more.
pub fn file_msg_size(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    let hdrs = headers.map_or(0, |h| if h.is_empty() { 0 } else { 4 + h.len() });
    (22 + subject.len() + hdrs + payload.len() + 8) as u64
}

/// Bytes a message counts for in a memory stream: nats-server's memory store accounting
/// (`memStoreMsgSize`): subject + headers + payload + 16.
pub fn memory_msg_size(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    (subject.len() + headers.map_or(0, <[u8]>::len) + payload.len() + 16) as u64
}

/// A store's state, as StreamInfo's `state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreState {
    pub msgs: u64,
    pub bytes: u64,
    /// First sequence present (or, when empty, the next sequence to be assigned).
    pub first_seq: u64,
    pub first_ts: i64,
    /// Last sequence assigned (0 if none ever).
    pub last_seq: u64,
    pub last_ts: i64,
    /// Distinct subjects with at least one message.
    pub num_subjects: u64,
    /// Sequences between first and last that were deleted (interior gaps).
    pub num_deleted: u64,
}

/// What a purge removes. All fields optional; nats-server's semantics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Purge {
    /// Only messages whose subject matches this filter (wildcards allowed).
    pub filter: Option<String>,
    /// Remove messages with sequence strictly below this one.
    pub up_to_seq: Option<u64>,
    /// Keep this many of the newest (matching) messages.
    pub keep: Option<u64>,
}

/// Storage failures. The stream maps them to API errors.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The store on disk cannot be read (not a torn tail, which is repaired, but damage
    /// elsewhere or an unknown format version).
    #[error("corrupt store at {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("message too large for the store")]
    TooLarge,
    /// [`MsgStore::append_at`] was given a sequence not above the store's last one.
    #[error("sequence {seq} is not above the store's last sequence {last}")]
    OutOfOrder { seq: u64, last: u64 },
}

/// What a stream needs from its storage.
pub trait MsgStore: Send + 'static {
    /// Appends a message with the next sequence and returns it. Written to the OS or memory,
    /// not yet durable: call [`MsgStore::sync`] before promising durability.
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<u64, StoreError>;

    /// Appends a message at `seq`, above the last sequence; the sequences skipped are gaps,
    /// counted as deleted messages are. For a copy that keeps another's sequences (a replica
    /// rebuilt from a snapshot of its group; later, mirrors). Not yet durable, as `append`.
    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<(), StoreError>;

    /// Leaves the sequences from the last one + 1 to `next - 1` as gaps, so that the next
    /// message gets `next`, with `last_ts` as the last timestamp (that of the removed message
    /// at `next - 1`); nothing if `next` is not above the last sequence + 1. An empty store
    /// then starts at `next`. Not yet durable, as `append`.
    fn skip_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError>;

    /// Removes every message; the next one gets `next` (whatever the sequences were: lower
    /// or higher) and the last timestamp is `last_ts`. Written to the OS before it returns,
    /// not synced. A replica replacing its state by a snapshot's.
    fn clear_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError>;

    /// Makes everything appended so far durable (fdatasync for files; nothing for memory).
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Bytes a message with these parts counts for in this store's `bytes` (and `max_bytes`).
    fn msg_size(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64;

    /// Hands everything appended so far to the OS without waiting for the disk: it then
    /// survives a crash of the process (kill -9), not of the machine. Nothing for memory.
    fn write_out(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// After a failed [`MsgStore::sync`] or [`MsgStore::write_out`] (a full disk, say):
    /// forgets everything not yet written and makes the store's state what its files hold
    /// again, so that what was refused is not kept (nor read, nor delivered, nor written
    /// later). Returns how many messages were dropped. Nothing for memory. Costs a re-read of
    /// the store's files. An error means the store could not be re-read either; it then
    /// refuses writes until it is opened again. A file store opened with
    /// `truncate_after_last_mark` re-reads its files that way too: what was written after its
    /// last mark is dropped (and [`MsgStore::last_mark`] says where to apply again from).
    fn reload(&mut self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Appends an apply mark: the records written before it are the state machine's state
    /// up to Raft log entry `index` of `term` (replicated streams write one at the end of each
    /// applied batch). Durable with the next [`MsgStore::sync`], as messages are. It changes
    /// no message and counts for nothing in [`MsgStore::state`]. A file store opened with
    /// `truncate_after_last_mark` drops what was written after the last mark it finds (see
    /// [`file::Recovery`]). The default (stores that do not keep marks) refuses.
    fn mark(&mut self, index: u64, term: u64) -> Result<(), StoreError> {
        let _ = (index, term);
        Err(StoreError::Io {
            path: String::new(),
            source: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this store does not keep apply marks",
            ),
        })
    }

    /// The last apply mark written, or found when the store was opened: `(index, term)`.
    fn last_mark(&self) -> Option<(u64, u64)> {
        None
    }

    /// The message with this sequence, if present.
    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// The first message with sequence >= `from_seq` whose subject matches `filter`
    /// (wildcards allowed; `None` matches all).
    fn next_matching(
        &self,
        from_seq: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMsg>, StoreError>;

    /// The newest message whose subject matches `filter` (wildcards allowed).
    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError>;

    /// Messages stored under exactly this (literal) subject.
    fn subject_count(&self, subject: &str) -> u64;

    /// The oldest sequence stored under exactly this (literal) subject.
    fn first_seq_of_subject(&self, subject: &str) -> Option<u64>;

    /// Removes one message; false if it was not present.
    fn delete(&mut self, seq: u64) -> Result<bool, StoreError>;

    /// Removes what `purge` selects; returns how many were removed. Purging everything moves
    /// `first_seq` to `last_seq + 1`.
    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError>;

    /// Removes every message stored before `cutoff_ns`; returns how many.
    fn expire_before(&mut self, cutoff_ns: i64) -> Result<u64, StoreError>;

    /// Current counts and bounds.
    fn state(&self) -> StoreState;

    /// Sets the next sequence when the store is empty (stream `first_seq`).
    fn set_next_seq(&mut self, seq: u64) -> Result<(), StoreError>;

    /// Every distinct subject with at least one message, with its count (for
    /// `subjects_filter` in StreamInfo and `num_subjects`).
    fn subjects(&self) -> Vec<(Arc<str>, u64)>;

    /// Removes the store's data for good (stream deletion).
    fn destroy(self: Box<Self>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The figures nats-server 2.9.10 reports for these messages (stream info `state.bytes`).
    #[test]
    fn message_sizes_are_nats_servers() {
        let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
        assert_eq!(file_msg_size("world", None, b"Hello world!"), 47);
        assert_eq!(file_msg_size("file.abc", None, b"Hello world!"), 50);
        assert_eq!(file_msg_size("file.abc", Some(hdr), b"Hello world!"), 72);
        assert_eq!(file_msg_size("file.abc", Some(b""), b"Hello world!"), 50);
        assert_eq!(memory_msg_size("memory.abc", None, b"Hello world!"), 38);
        assert_eq!(
            memory_msg_size("memory.abc", Some(hdr), b"Hello world!"),
            56
        );
    }
}
