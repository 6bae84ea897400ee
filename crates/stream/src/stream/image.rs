//! A stream's whole state as data ([`StreamImage`]), and a stream rebuilt from one: the
//! stream's part of a replicated stream group's snapshot (CLUSTER.md, "Snapshots of stream
//! groups"; `writer/image.rs` puts it in one). A replica rebuilt from an image must then behave as
//! the replicas that applied the log: same messages at the same sequences (gaps too), same
//! first and last sequence and last timestamp, same duplicate window (ids whose messages were
//! removed since included) and last msg id. TTL deadlines are derived from the messages'
//! headers, as on a restart.

use super::Stream;
use crate::dedup::Dedup;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// The image format; a reader refuses another.
pub const IMAGE_VERSION: u8 = 1;

/// One stored message in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMsg {
    pub seq: u64,
    pub time_ns: i64,
    pub subject: String,
    /// The raw header block, if any.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// A stream's state: see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamImage {
    pub version: u8,
    /// The first sequence (of an empty stream: the next one).
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_ts: i64,
    /// Ascending by sequence.
    pub messages: Vec<ImageMsg>,
    /// The duplicate window as (time_ns, id, seq), oldest first.
    pub dedup: Vec<(i64, String, u64)>,
    pub last_msg_id: Option<String>,
}

/// Why an image could not be taken back.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("stream image version {0} is not {IMAGE_VERSION}")]
    Version(u8),
    #[error("stream image: message sequences are not ascending within first_seq..=last_seq")]
    Sequences,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Stream {
    /// The stream's state as data (reads every stored message).
    pub fn image(&self) -> Result<StreamImage, StoreError> {
        let state = self.store.state();
        let mut messages = Vec::with_capacity(state.msgs as usize);
        let mut seq = state.first_seq;
        while let Some(m) = self.store.next_matching(seq, None)? {
            seq = m.seq + 1;
            messages.push(ImageMsg {
                seq: m.seq,
                time_ns: m.time_ns,
                subject: m.subject.to_string(),
                headers: m.headers.map(|h| h.to_vec()),
                payload: m.payload.to_vec(),
            });
        }
        Ok(StreamImage {
            version: IMAGE_VERSION,
            first_seq: state.first_seq,
            last_seq: state.last_seq,
            last_ts: state.last_ts,
            messages,
            dedup: self.dedup.entries(),
            last_msg_id: self.last_msg_id.clone(),
        })
    }

    /// Replaces the stream's state by `image`'s: its store is emptied and refilled (written
    /// to the OS, not synced). On an error the stream may hold part of the image: the caller
    /// restores again or stops the replica.
    pub fn restore_image(&mut self, image: &StreamImage) -> Result<(), ImageError> {
        if image.version != IMAGE_VERSION {
            return Err(ImageError::Version(image.version));
        }
        let mut prev = image.first_seq.max(1) - 1;
        for m in &image.messages {
            if m.seq <= prev || m.seq > image.last_seq {
                return Err(ImageError::Sequences);
            }
            prev = m.seq;
        }
        self.store.clear_to(image.first_seq.max(1), image.last_ts)?;
        for m in &image.messages {
            self.store.append_at(
                m.seq,
                &m.subject,
                m.headers.as_deref(),
                &m.payload,
                m.time_ns,
            )?;
        }
        self.store
            .skip_to(image.last_seq.saturating_add(1), image.last_ts)?;
        self.store.write_out()?;
        // TTL deadlines from the messages (as on a restart); the window and the last id as
        // they were, not as a rebuild from what is stored would make them.
        self.ttls.clear();
        self.never_expire.clear();
        self.rebuild(i64::MAX)?;
        self.dedup = Dedup::from_entries(image.dedup.clone());
        self.last_msg_id = image.last_msg_id.clone();
        Ok(())
    }
}
