//! The on-disk format: segment files of CRC-checked records.
//!
//! A segment file `<dir>/<id:020>.seg` (ids grow by one per new segment, so name order is
//! write order) starts with a 40-byte header:
//!
//! ```text
//! 0  magic "SLSG"      4  version u8 (1)   5  flags u8 (bit 0: reset)   6  reserved u16
//! 8  segment id u64    16 base seq u64 (next seq when created)   24 last_ts i64
//! 32 reserved u32      36 crc32 of bytes 0..36
//! ```
//!
//! A reset segment discards everything before it (purge of all, `set_next_seq`). Otherwise
//! the header only raises last_seq to `base - 1`, so dropping older segments loses nothing.
//! Then records, all integers little-endian:
//!
//! ```text
//! 0  len u32 (bytes after crc)   4  crc32 of the len bytes after it
//! 8  kind u8 (1 msg, 2 tombstone, 3 purge marker, 4 apply mark)
//! 9  flags u8 (bit 0: has headers)
//! 10 subject len u16   12 headers len u32   16 seq u64   24 time_ns i64
//! 32 subject, headers, payload
//! ```
//!
//! A tombstone removes `seq`; a purge marker removes everything below `seq` (and raises
//! last_seq to `seq - 1`, with `time_ns` as last_ts, if lower). An apply mark (replicated
//! streams: the Raft log index and term the records before it apply up to) holds the index in
//! `seq` and the term in `time_ns` (as its bits), with no subject, headers or payload; it
//! changes no message (see `store/file/marks.rs`). Code from before marks reads a mark as a
//! bad record: a store with marks cannot be opened by an older Sluice.

use super::StoreError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(crate) const MAGIC: [u8; 4] = *b"SLSG";
pub(crate) const VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 40;
pub(crate) const FLAG_RESET: u8 = 1;

/// Fixed part of a record: len, crc and the fields before the subject.
pub(crate) const REC_FIXED: usize = 32;
pub(crate) const KIND_MSG: u8 = 1;
pub(crate) const KIND_TOMB: u8 = 2;
pub(crate) const KIND_PURGE: u8 = 3;
pub(crate) const KIND_MARK: u8 = 4;
const FLAG_HDRS: u8 = 1;

/// Largest record the format (u32 offsets within a segment) takes.
pub(crate) const MAX_RECORD: usize = (u32::MAX as usize) / 2;

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn seg_name(id: u64) -> String {
    format!("{id:020}.seg")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub id: u64,
    pub base: u64,
    pub last_ts: i64,
    pub reset: bool,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5] = if self.reset { FLAG_RESET } else { 0 };
        h[8..16].copy_from_slice(&self.id.to_le_bytes());
        h[16..24].copy_from_slice(&self.base.to_le_bytes());
        h[24..32].copy_from_slice(&self.last_ts.to_le_bytes());
        let crc = crc32fast::hash(&h[..36]);
        h[36..40].copy_from_slice(&crc.to_le_bytes());
        h
    }

    pub fn decode(h: &[u8]) -> Result<Header, String> {
        if h.len() < HEADER_LEN {
            return Err(format!("header is {} bytes, want {HEADER_LEN}", h.len()));
        }
        if h[0..4] != MAGIC {
            return Err(format!("bad magic {:02x?}", &h[0..4]));
        }
        if h[4] != VERSION {
            return Err(format!("unknown format version {}", h[4]));
        }
        if crc32fast::hash(&h[..36]) != u32_at(h, 36) {
            return Err("header checksum mismatch".into());
        }
        if h[5] & !FLAG_RESET != 0 {
            return Err(format!("unknown header flags {:#x}", h[5]));
        }
        Ok(Header {
            id: u64_at(h, 8),
            base: u64_at(h, 16),
            last_ts: u64_at(h, 24) as i64,
            reset: h[5] & FLAG_RESET != 0,
        })
    }
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Total on-disk length of a message record.
#[inline]
pub(crate) fn msg_len(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> usize {
    REC_FIXED + subject.len() + headers.map_or(0, <[u8]>::len) + payload.len()
}

/// Appends a record to `buf`; returns its total length.
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    kind: u8,
    seq: u64,
    ts: i64,
    subject: &str,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> usize {
    let start = buf.len();
    let total = msg_len(subject, headers, payload);
    let hdr = headers.unwrap_or(&[]);
    buf.reserve(total);
    buf.extend_from_slice(&((total - 8) as u32).to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.push(kind);
    buf.push(if headers.is_some() { FLAG_HDRS } else { 0 });
    buf.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    buf.extend_from_slice(&(hdr.len() as u32).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.extend_from_slice(subject.as_bytes());
    buf.extend_from_slice(hdr);
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(&buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    total
}

/// One decoded record, borrowing from its buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec<'a> {
    pub kind: u8,
    pub seq: u64,
    pub ts: i64,
    pub subject: &'a str,
    /// Range of the headers within the record (None: no headers).
    pub headers: Option<(usize, usize)>,
    /// Range of the payload within the record.
    pub payload: (usize, usize),
}

/// Checks and decodes the record at the start of `b` (which may hold more after it).
/// Errors say why it is not a valid record.
pub(crate) fn decode(b: &[u8]) -> Result<(Rec<'_>, usize), String> {
    if b.len() < 8 {
        return Err(format!("{} bytes left, short of a record length", b.len()));
    }
    let body = u32_at(b, 0) as usize;
    let total = body + 8;
    if total < REC_FIXED {
        return Err(format!("record length {body} is too small"));
    }
    if total > b.len() {
        return Err(format!(
            "record length {body} runs past the end ({} bytes left)",
            b.len()
        ));
    }
    let rec = &b[..total];
    // Cheap structural checks first: the tail scan of a torn segment tries every offset.
    let kind = rec[8];
    let flags = rec[9];
    let slen = u16::from_le_bytes([rec[10], rec[11]]) as usize;
    let hlen = u32_at(rec, 12) as usize;
    let bad_fields = !(KIND_MSG..=KIND_MARK).contains(&kind)
        || flags & !FLAG_HDRS != 0
        || REC_FIXED + slen + hlen > total
        || (kind == KIND_MARK && (total != REC_FIXED || flags != 0));
    if crc32fast::hash(&rec[8..]) != u32_at(rec, 4) {
        return Err("record checksum mismatch".into());
    }
    if bad_fields {
        return Err(format!(
            "record fields are inconsistent (kind {kind}, flags {flags})"
        ));
    }
    let subject = std::str::from_utf8(&rec[REC_FIXED..REC_FIXED + slen])
        .map_err(|_| "record subject is not UTF-8".to_string())?;
    let h0 = REC_FIXED + slen;
    Ok((
        Rec {
            kind,
            seq: u64_at(rec, 16),
            ts: u64_at(rec, 24) as i64,
            subject,
            headers: (flags & FLAG_HDRS != 0).then_some((h0, h0 + hlen)),
            payload: (h0 + hlen, total),
        },
        total,
    ))
}

/// How a scan of a segment's records ended.
pub(crate) enum ScanEnd {
    Clean,
    /// No valid record at `offset`.
    Bad {
        offset: u64,
        reason: String,
    },
}

/// Reads the records of a segment from `HEADER_LEN` to `file_len`, calling `visit(offset,
/// total_len, record)` for each valid one, and stops at the first invalid one.
pub(crate) fn scan(
    file: &File,
    path: &Path,
    file_len: u64,
    mut visit: impl FnMut(u64, u32, &Rec<'_>) -> Result<(), StoreError>,
) -> Result<ScanEnd, StoreError> {
    const WINDOW: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(WINDOW);
    let mut buf_off = HEADER_LEN as u64; // file offset of buf[0]
    let mut pos = 0usize; // read position within buf
    loop {
        let off = buf_off + pos as u64;
        if off >= file_len {
            return Ok(ScanEnd::Clean);
        }
        // Make sure buf holds the whole record (or everything left in the file).
        let avail = buf.len() - pos;
        let want = if avail >= 8 {
            u32_at(&buf, pos) as usize + 8
        } else {
            8
        };
        if avail < want && (buf_off + buf.len() as u64) < file_len {
            buf.drain(..pos);
            buf_off = off;
            pos = 0;
            let goal = want.max(WINDOW).min((file_len - off) as usize);
            let have = buf.len();
            buf.resize(goal, 0);
            if let Err(e) = file.read_exact_at(&mut buf[have..], off + have as u64) {
                return Err(io_err(path, e));
            }
            continue;
        }
        match decode(&buf[pos..]) {
            Ok((rec, total)) => {
                visit(off, total as u32, &rec)?;
                pos += total;
            }
            Err(reason) => {
                return Ok(ScanEnd::Bad {
                    offset: off,
                    reason,
                })
            }
        }
    }
}

/// Whether a valid record starts anywhere in `file` between `from` (exclusive) and the end:
/// tells damage in the middle (valid data follows) from a torn tail (nothing does).
pub(crate) fn valid_record_after(
    file: &File,
    path: &Path,
    from: u64,
    file_len: u64,
) -> Result<Option<u64>, StoreError> {
    if from + 1 >= file_len {
        return Ok(None);
    }
    let mut rest = vec![0u8; (file_len - from - 1) as usize];
    file.read_exact_at(&mut rest, from + 1)
        .map_err(|e| io_err(path, e))?;
    for i in 0..rest.len().saturating_sub(REC_FIXED - 1) {
        let body = u32_at(&rest, i) as usize;
        if body + 8 < REC_FIXED || body + 8 > rest.len() - i {
            continue;
        }
        let kind = rest.get(i + 8).copied().unwrap_or(0);
        if (KIND_MSG..=KIND_MARK).contains(&kind) && decode(&rest[i..]).is_ok() {
            return Ok(Some(from + 1 + i as u64));
        }
    }
    Ok(None)
}
