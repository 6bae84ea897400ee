//! The record format of the write-ahead log: framing (length, CRC32, kind, group name,
//! payload), the record kinds, and the bincode encoding of their payloads.
//!
//! A frame is `len: u32 LE | crc: u32 LE | body`, `body = kind: u8 | name_len: u16 LE | name |
//! payload`, and the CRC32 (crc32fast) covers the body. Nothing here touches a file.

use serde::{de::DeserializeOwned, Serialize};

use crate::types::{Entry, LogId, Vote};

/// Bytes before a record's body: its length and its CRC.
pub(crate) const FRAME_HEADER: usize = 8;

/// The largest body a record may have (a bigger length field is corruption, not a record).
pub(crate) const MAX_BODY: u32 = 1 << 30;

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// One append batch of a group: `Vec<Entry>`.
    Entries = 1,
    /// A group's vote: `Vote`.
    Vote = 2,
    /// A group's committed log id: `Option<LogId>`.
    Committed = 3,
    /// Delete a group's entries at index >= the log id's: `LogId`.
    Truncate = 4,
    /// Delete a group's entries at index <= the log id's: `LogId`.
    Purge = 5,
    /// Forget a group: empty payload.
    RemoveGroup = 6,
    /// Every group's vote, committed, purge mark and last live index at the start of a
    /// segment (empty name): `Vec<CheckpointGroup>`. Replaying one forgets groups it does not
    /// list and entries past each group's last index, so that no record of an older segment
    /// (a vote, a truncation, a removal) is ever needed once its entries are dead.
    Checkpoint = 7,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Entries,
            2 => Kind::Vote,
            3 => Kind::Committed,
            4 => Kind::Truncate,
            5 => Kind::Purge,
            6 => Kind::RemoveGroup,
            7 => Kind::Checkpoint,
            _ => return None,
        })
    }
}

/// One group's line in a checkpoint record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CheckpointGroup {
    pub name: String,
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub purged: Option<LogId>,
    /// The index of the group's last live entry (`None`: no live entry).
    pub last: Option<u64>,
}

/// A decoded record.
#[derive(Debug)]
pub(crate) enum Record {
    Entries(String, Vec<Entry>),
    Vote(String, Vote),
    Committed(String, Option<LogId>),
    Truncate(String, LogId),
    Purge(String, LogId),
    RemoveGroup(String),
    Checkpoint(Vec<CheckpointGroup>),
}

fn bincode_opts() -> impl bincode::Options {
    use bincode::Options;
    bincode::DefaultOptions::new().with_limit(u64::from(MAX_BODY))
}

/// Encodes a payload with the log's bincode options.
pub(crate) fn encode_payload<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    use bincode::Options;
    bincode_opts().serialize(v).map_err(|e| e.to_string())
}

fn decode_payload<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    use bincode::Options;
    bincode_opts().deserialize(b).map_err(|e| e.to_string())
}

/// Frames a record of `kind` for group `name` with an already encoded `payload`.
pub(crate) fn frame(kind: Kind, name: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    let name_len = u16::try_from(name.len()).map_err(|_| "group name longer than 65535 bytes")?;
    let body_len = 1 + 2 + name.len() + payload.len();
    let len = u32::try_from(body_len)
        .ok()
        .filter(|l| *l <= MAX_BODY)
        .ok_or_else(|| format!("record of {body_len} bytes is too large"))?;
    let mut out = Vec::with_capacity(FRAME_HEADER + body_len);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind as u8);
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[FRAME_HEADER..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Encodes and frames a record with a bincode payload.
pub(crate) fn encode<T: Serialize + ?Sized>(
    kind: Kind,
    name: &str,
    payload: &T,
) -> Result<Vec<u8>, String> {
    frame(kind, name, &encode_payload(payload)?)
}

/// Why the bytes at an offset are not a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The frame runs past the end of the bytes (a torn write if at the end of the log).
    Short,
    /// The length field is impossible, or the CRC does not match.
    Bad(String),
}

/// Reads the frame at the start of `buf`: its body and its total length.
pub(crate) fn read_frame(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if buf.len() < FRAME_HEADER {
        return Err(FrameError::Short);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if !(3..=MAX_BODY).contains(&len) {
        return Err(FrameError::Bad(format!("impossible record length {len}")));
    }
    let end = FRAME_HEADER + len as usize;
    if buf.len() < end {
        return Err(FrameError::Short);
    }
    let body = &buf[FRAME_HEADER..end];
    if crc32fast::hash(body) != crc {
        return Err(FrameError::Bad("CRC mismatch".into()));
    }
    Ok((body, end))
}

/// Decodes a body whose CRC matched.
pub(crate) fn decode_body(body: &[u8]) -> Result<Record, String> {
    if body.len() < 3 {
        return Err("record body too short".into());
    }
    let kind = Kind::from_u8(body[0]).ok_or_else(|| format!("unknown record kind {}", body[0]))?;
    let name_len = usize::from(u16::from_le_bytes([body[1], body[2]]));
    let rest = &body[3..];
    if rest.len() < name_len {
        return Err("group name runs past the record".into());
    }
    let name = std::str::from_utf8(&rest[..name_len])
        .map_err(|_| "group name is not UTF-8".to_string())?
        .to_string();
    let payload = &rest[name_len..];
    Ok(match kind {
        Kind::Entries => Record::Entries(name, decode_payload(payload)?),
        Kind::Vote => Record::Vote(name, decode_payload(payload)?),
        Kind::Committed => Record::Committed(name, decode_payload(payload)?),
        Kind::Truncate => Record::Truncate(name, decode_payload(payload)?),
        Kind::Purge => Record::Purge(name, decode_payload(payload)?),
        Kind::RemoveGroup => Record::RemoveGroup(name),
        Kind::Checkpoint => Record::Checkpoint(decode_payload(payload)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let vote = Vote::new(3, 7);
        let f = encode(Kind::Vote, "g1", &vote).unwrap();
        let (body, used) = read_frame(&f).unwrap();
        assert_eq!(used, f.len());
        match decode_body(body).unwrap() {
            Record::Vote(name, v) => {
                assert_eq!(name, "g1");
                assert_eq!(v, vote);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(read_frame(&f[..f.len() - 1]), Err(FrameError::Short));
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert!(matches!(read_frame(&bad), Err(FrameError::Bad(_))));
        assert!(matches!(read_frame(&[0u8; 16]), Err(FrameError::Bad(_))));
    }
}
