//! [`FileEntry`]: where a message's record is, as the file store's index holds it, and its
//! fixed-size encoding for paged-out index chunks.

use crate::store::index::{Entry, Paged};
use crate::store::segment::REC_FIXED;
use std::num::NonZeroU32;

/// Where a message's record is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileEntry {
    seg: u32,
    off: u32,
    /// The record's length, with [`HDRS_BIT`] set when the message has headers.
    len_hdrs: NonZeroU32,
    subj: u32,
    ts: i64,
}

/// Set in [`FileEntry`]'s length when the message has headers (records are at most
/// `MAX_RECORD`, which leaves the top bit free).
const HDRS_BIT: u32 = 1 << 31;

impl FileEntry {
    pub(crate) fn new(seg: u32, off: u32, len: u32, hdrs: bool, subj: u32, ts: i64) -> Self {
        debug_assert!(len & HDRS_BIT == 0 && len > 0);
        let len = if hdrs { len | HDRS_BIT } else { len };
        FileEntry {
            seg,
            off,
            len_hdrs: NonZeroU32::new(len).unwrap_or(NonZeroU32::MIN),
            subj,
            ts,
        }
    }

    pub(crate) fn seg(&self) -> u32 {
        self.seg
    }

    pub(crate) fn off(&self) -> u32 {
        self.off
    }

    pub(crate) fn len(&self) -> u32 {
        self.len_hdrs.get() & !HDRS_BIT
    }

    pub(crate) fn set_off(&mut self, off: u32) {
        self.off = off;
    }
}

/// A [`FileEntry`] in a paged-out chunk: seg, off, length with the headers bit (0: no
/// entry), subject id (u32 each) and ts (i64), little-endian.
impl Paged for FileEntry {
    const BYTES: usize = 24;

    fn put(slot: Option<&Self>, out: &mut [u8]) {
        let Some(e) = slot else {
            out.fill(0);
            return;
        };
        out[0..4].copy_from_slice(&e.seg.to_le_bytes());
        out[4..8].copy_from_slice(&e.off.to_le_bytes());
        out[8..12].copy_from_slice(&e.len_hdrs.get().to_le_bytes());
        out[12..16].copy_from_slice(&e.subj.to_le_bytes());
        out[16..24].copy_from_slice(&e.ts.to_le_bytes());
    }

    fn get(b: &[u8]) -> Option<Self> {
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[16..24]);
        Some(FileEntry {
            seg: u32_at(0),
            off: u32_at(4),
            len_hdrs: NonZeroU32::new(u32_at(8))?,
            subj: u32_at(12),
            ts: i64::from_le_bytes(ts),
        })
    }
}

impl Entry for FileEntry {
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
        // file_msg_size: subject, headers and payload (the record's length less REC_FIXED)
        // plus 30 bytes, and 4 more with headers.
        let hdrs = if self.len_hdrs.get() & HDRS_BIT != 0 {
            4
        } else {
            0
        };
        u64::from(self.len()) - REC_FIXED as u64 + 30 + hdrs
    }
}
