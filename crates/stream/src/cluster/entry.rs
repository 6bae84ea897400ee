//! The Raft log entry of a replicated stream (CLUSTER.md, "The group and its entries"): one
//! owner step's batch of [`StreamOp`]s plus the answer routes of the API ops in it, and its
//! binary codec.
//!
//! Format version 1 (all integers little-endian; `varint` is unsigned LEB128, at most ten
//! bytes, no overlong forms):
//!
//! ```text
//! entry   = version:u8 (=1)  op_count:varint  op*  answer_count:varint  answer*
//! op      = tag:u8 body
//!   Publish (1), Ack (2), Next (3): flags:u8  now_ns:i64  msg
//!   FlowControl (4):                flags:u8  msg
//!   Tick (5):                       now_ns:i64
//!   Interest (16), Purge (17), DeleteMsg (18), UpdateConfig (19), CreateConsumer (20),
//!   DeleteConsumer (21):            len:u32  serde_json of the whole StreamOp
//! flags   = bit 0: reply present, bit 1: headers present (other bits must be 0)
//! msg     = subject:bytes  [reply:bytes]  [headers:bytes]  payload:bytes
//! bytes   = len:varint  raw bytes
//! answer  = op_position:varint  kind:u8 [seq:varint for MsgDelete]  reply:bytes
//!   kind: StreamUpdate (1), StreamPurge (2), MsgDelete (3), ConsumerCreate (4),
//!         ConsumerDelete (5)
//! ```
//!
//! The message ops and ticks (the hot path) are written by hand straight into the output
//! buffer; the rare API ops as JSON (their configs use serde features a compact binary serde
//! format lacks). Decoding takes the entry as one [`Bytes`] and hands out the messages'
//! subjects, replies, headers and payloads as slices of it: nothing is copied. Decoding never
//! panics: any input that is not exactly one well-formed entry is an [`EntryError`].

use crate::api::deferred::OpAnswer;
use crate::op::{Message, StreamOp};
use bytes::Bytes;
use sluice_protocol::ByteStr;
use sluice_server::InternalMsg;

/// The format version this code writes (the entry's first byte).
pub const FORMAT_VERSION: u8 = 1;

const TAG_PUBLISH: u8 = 1;
const TAG_ACK: u8 = 2;
const TAG_NEXT: u8 = 3;
const TAG_FLOW_CONTROL: u8 = 4;
const TAG_TICK: u8 = 5;
const TAG_INTEREST: u8 = 16;
const TAG_PURGE: u8 = 17;
const TAG_DELETE_MSG: u8 = 18;
const TAG_UPDATE_CONFIG: u8 = 19;
const TAG_CREATE_CONSUMER: u8 = 20;
const TAG_DELETE_CONSUMER: u8 = 21;

const FLAG_REPLY: u8 = 1;
const FLAG_HEADERS: u8 = 2;

const ANSWER_STREAM_UPDATE: u8 = 1;
const ANSWER_STREAM_PURGE: u8 = 2;
const ANSWER_MSG_DELETE: u8 = 3;
const ANSWER_CONSUMER_CREATE: u8 = 4;
const ANSWER_CONSUMER_DELETE: u8 = 5;

/// One owner step's batch, as one Raft log entry: the ops, applied in order by every replica,
/// and for each API op among them where its answer goes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamEntry {
    pub ops: Vec<StreamOp>,
    /// (position of the op in `ops`, which response its outcome becomes, reply subject).
    // `pub(crate)` as `OpAnswer` is: its responses are the crate's own business.
    pub(crate) answers: Vec<(u32, OpAnswer, String)>,
}

/// Why bytes are not a stream entry. Offsets are from the entry's first byte.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("empty stream entry")]
    Empty,
    #[error(
        "unknown stream entry format version {0} (this server reads version {FORMAT_VERSION})"
    )]
    UnknownVersion(u8),
    #[error("stream entry truncated at byte {offset}: {what} missing")]
    Truncated { what: &'static str, offset: usize },
    #[error("stream entry: bad varint at byte {offset}")]
    BadVarint { offset: usize },
    #[error("stream entry: unknown op tag {tag} at byte {offset}")]
    UnknownTag { tag: u8, offset: usize },
    #[error("stream entry: unknown message flags {flags:#04x} at byte {offset}")]
    BadFlags { flags: u8, offset: usize },
    #[error("stream entry: {what} at byte {offset} is not UTF-8")]
    NotUtf8 { what: &'static str, offset: usize },
    #[error(
        "stream entry: op with tag {tag} at byte {offset} is not valid JSON of the op: {source}"
    )]
    Json {
        tag: u8,
        offset: usize,
        source: serde_json::Error,
    },
    #[error("stream entry: JSON op at byte {offset} is not the op its tag {tag} names")]
    TagMismatch { tag: u8, offset: usize },
    #[error("stream entry: answer for op {position}, but the entry has {ops} ops")]
    AnswerPosition { position: u64, ops: usize },
    #[error("stream entry: unknown answer kind {kind} at byte {offset}")]
    UnknownAnswer { kind: u8, offset: usize },
    #[error("stream entry: {count} bytes after the end at byte {offset}")]
    TrailingBytes { count: usize, offset: usize },
}

impl StreamEntry {
    /// Appends the entry's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.size_hint());
        out.push(FORMAT_VERSION);
        put_varint(out, self.ops.len() as u64);
        for op in &self.ops {
            encode_op(op, out);
        }
        put_varint(out, self.answers.len() as u64);
        for (position, answer, reply) in &self.answers {
            put_varint(out, u64::from(*position));
            match *answer {
                OpAnswer::StreamUpdate => out.push(ANSWER_STREAM_UPDATE),
                OpAnswer::StreamPurge => out.push(ANSWER_STREAM_PURGE),
                OpAnswer::MsgDelete(seq) => {
                    out.push(ANSWER_MSG_DELETE);
                    put_varint(out, seq);
                }
                OpAnswer::ConsumerCreate => out.push(ANSWER_CONSUMER_CREATE),
                OpAnswer::ConsumerDelete => out.push(ANSWER_CONSUMER_DELETE),
            }
            put_bytes(out, reply.as_bytes());
        }
    }

    /// The entry's encoding.
    pub fn encode_to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Reads one entry from `bytes` (all of it). The messages' fields are slices of `bytes`.
    pub fn decode(bytes: &Bytes) -> Result<StreamEntry, EntryError> {
        let mut r = Reader { bytes, pos: 0 };
        let version = *bytes.first().ok_or(EntryError::Empty)?;
        if version != FORMAT_VERSION {
            return Err(EntryError::UnknownVersion(version));
        }
        r.pos = 1;
        let count = r.varint("op count")?;
        // Every op takes at least four bytes: a count past what is left cannot be right, and
        // must not size an allocation.
        let mut ops = Vec::with_capacity(count.min(r.left() as u64 / 4) as usize);
        for _ in 0..count {
            ops.push(decode_op(&mut r)?);
        }
        let count = r.varint("answer count")?;
        let mut answers = Vec::with_capacity(count.min(r.left() as u64 / 3) as usize);
        for _ in 0..count {
            let position = r.varint("answer position")?;
            let index = u32::try_from(position)
                .ok()
                .filter(|p| (*p as usize) < ops.len())
                .ok_or(EntryError::AnswerPosition {
                    position,
                    ops: ops.len(),
                })?;
            let offset = r.pos;
            let answer = match r.byte("answer kind")? {
                ANSWER_STREAM_UPDATE => OpAnswer::StreamUpdate,
                ANSWER_STREAM_PURGE => OpAnswer::StreamPurge,
                ANSWER_MSG_DELETE => OpAnswer::MsgDelete(r.varint("answer sequence")?),
                ANSWER_CONSUMER_CREATE => OpAnswer::ConsumerCreate,
                ANSWER_CONSUMER_DELETE => OpAnswer::ConsumerDelete,
                kind => return Err(EntryError::UnknownAnswer { kind, offset }),
            };
            let reply = r.string("answer reply")?;
            answers.push((index, answer, String::from(reply.as_str())));
        }
        if r.left() > 0 {
            return Err(EntryError::TrailingBytes {
                count: r.left(),
                offset: r.pos,
            });
        }
        Ok(StreamEntry { ops, answers })
    }

    /// About how many bytes the encoding takes (exact but for the JSON ops).
    fn size_hint(&self) -> usize {
        let ops: usize = self
            .ops
            .iter()
            .map(|op| match op {
                StreamOp::Publish { msg, .. }
                | StreamOp::Ack { msg, .. }
                | StreamOp::Next { msg, .. }
                | StreamOp::FlowControl { msg } => 10 + msg_size(&msg.0),
                _ => 64,
            })
            .sum();
        let answers: usize = self.answers.iter().map(|a| 16 + a.2.len()).sum();
        1 + 10 + ops + 10 + answers
    }
}

/// The encoded size of a message's fields, length prefixes and flags included.
fn msg_size(m: &InternalMsg) -> usize {
    let field = |n: usize| varint_len(n as u64) + n;
    1 + field(m.subject.len())
        + m.reply.as_ref().map_or(0, |r| field(r.len()))
        + m.headers.as_ref().map_or(0, |h| field(h.len()))
        + field(m.payload.len())
}

fn encode_op(op: &StreamOp, out: &mut Vec<u8>) {
    // No wildcard arm: a new op fails to compile here until it has an encoding.
    match op {
        StreamOp::Publish { msg, now_ns } => put_msg(out, TAG_PUBLISH, &msg.0, Some(*now_ns)),
        StreamOp::Ack { msg, now_ns } => put_msg(out, TAG_ACK, &msg.0, Some(*now_ns)),
        StreamOp::Next { msg, now_ns } => put_msg(out, TAG_NEXT, &msg.0, Some(*now_ns)),
        StreamOp::FlowControl { msg } => put_msg(out, TAG_FLOW_CONTROL, &msg.0, None),
        StreamOp::Tick { now_ns } => {
            out.push(TAG_TICK);
            out.extend_from_slice(&now_ns.to_le_bytes());
        }
        StreamOp::Interest { .. } => put_json(out, TAG_INTEREST, op),
        StreamOp::Purge(_) => put_json(out, TAG_PURGE, op),
        StreamOp::DeleteMsg { .. } => put_json(out, TAG_DELETE_MSG, op),
        StreamOp::UpdateConfig { .. } => put_json(out, TAG_UPDATE_CONFIG, op),
        StreamOp::CreateConsumer { .. } => put_json(out, TAG_CREATE_CONSUMER, op),
        StreamOp::DeleteConsumer { .. } => put_json(out, TAG_DELETE_CONSUMER, op),
    }
}

/// The tag `op` is written with, if it is one of the JSON ops.
fn json_tag(op: &StreamOp) -> Option<u8> {
    match op {
        StreamOp::Interest { .. } => Some(TAG_INTEREST),
        StreamOp::Purge(_) => Some(TAG_PURGE),
        StreamOp::DeleteMsg { .. } => Some(TAG_DELETE_MSG),
        StreamOp::UpdateConfig { .. } => Some(TAG_UPDATE_CONFIG),
        StreamOp::CreateConsumer { .. } => Some(TAG_CREATE_CONSUMER),
        StreamOp::DeleteConsumer { .. } => Some(TAG_DELETE_CONSUMER),
        StreamOp::Publish { .. }
        | StreamOp::Ack { .. }
        | StreamOp::Next { .. }
        | StreamOp::FlowControl { .. }
        | StreamOp::Tick { .. } => None,
    }
}

fn put_msg(out: &mut Vec<u8>, tag: u8, m: &InternalMsg, now_ns: Option<i64>) {
    let mut flags = 0;
    if m.reply.is_some() {
        flags |= FLAG_REPLY;
    }
    if m.headers.is_some() {
        flags |= FLAG_HEADERS;
    }
    out.push(tag);
    out.push(flags);
    if let Some(now_ns) = now_ns {
        out.extend_from_slice(&now_ns.to_le_bytes());
    }
    put_bytes(out, m.subject.as_bytes());
    if let Some(reply) = &m.reply {
        put_bytes(out, reply.as_bytes());
    }
    if let Some(headers) = &m.headers {
        put_bytes(out, headers);
    }
    put_bytes(out, &m.payload);
}

fn put_json(out: &mut Vec<u8>, tag: u8, op: &StreamOp) {
    out.push(tag);
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    // The ops are serde values the local op log already writes as JSON; writing to a Vec
    // fails only if a Serialize impl does.
    serde_json::to_writer(&mut *out, op).expect("a stream op serialises as JSON");
    let len = u32::try_from(out.len() - at - 4).expect("a JSON op under 4 GiB");
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn decode_op(r: &mut Reader) -> Result<StreamOp, EntryError> {
    let offset = r.pos;
    let tag = r.byte("op tag")?;
    Ok(match tag {
        TAG_PUBLISH => {
            let (msg, now_ns) = msg_with_time(r)?;
            StreamOp::Publish { msg, now_ns }
        }
        TAG_ACK => {
            let (msg, now_ns) = msg_with_time(r)?;
            StreamOp::Ack { msg, now_ns }
        }
        TAG_NEXT => {
            let (msg, now_ns) = msg_with_time(r)?;
            StreamOp::Next { msg, now_ns }
        }
        TAG_FLOW_CONTROL => {
            let flags = r.flags()?;
            StreamOp::FlowControl { msg: r.msg(flags)? }
        }
        TAG_TICK => StreamOp::Tick {
            now_ns: r.i64("tick time")?,
        },
        TAG_INTEREST | TAG_PURGE | TAG_DELETE_MSG | TAG_UPDATE_CONFIG | TAG_CREATE_CONSUMER
        | TAG_DELETE_CONSUMER => {
            let len = r.u32("JSON op length")? as usize;
            let json = r.take(len, "JSON op")?;
            let op: StreamOp = serde_json::from_slice(json).map_err(|source| EntryError::Json {
                tag,
                offset,
                source,
            })?;
            if json_tag(&op) != Some(tag) {
                return Err(EntryError::TagMismatch { tag, offset });
            }
            op
        }
        tag => return Err(EntryError::UnknownTag { tag, offset }),
    })
}

fn msg_with_time(r: &mut Reader) -> Result<(Message, i64), EntryError> {
    let flags = r.flags()?;
    let now_ns = r.i64("message time")?;
    Ok((r.msg(flags)?, now_ns))
}

/// A cursor over the entry being decoded.
struct Reader<'a> {
    bytes: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn truncated(&self, what: &'static str) -> EntryError {
        EntryError::Truncated {
            what,
            offset: self.pos,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], EntryError> {
        if n > self.left() {
            return Err(self.truncated(what));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, EntryError> {
        Ok(self.take(1, what)?[0])
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, EntryError> {
        let b = self.take(8, what)?;
        Ok(i64::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, EntryError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, EntryError> {
        let offset = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(what)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte holds only the top bit; a last byte of 0 is an overlong form.
            if (i == 9 && b > 1) || (i > 0 && b == 0) {
                return Err(EntryError::BadVarint { offset });
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(EntryError::BadVarint { offset })
    }

    /// A length-prefixed field, as a slice of the entry's bytes.
    fn field(&mut self, what: &'static str) -> Result<Bytes, EntryError> {
        let len = self.varint(what)?;
        if len > self.left() as u64 {
            return Err(self.truncated(what));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(self.bytes.slice(start..self.pos))
    }

    fn string(&mut self, what: &'static str) -> Result<ByteStr, EntryError> {
        let offset = self.pos;
        ByteStr::from_utf8(self.field(what)?).map_err(|_| EntryError::NotUtf8 { what, offset })
    }

    fn flags(&mut self) -> Result<u8, EntryError> {
        let offset = self.pos;
        let flags = self.byte("message flags")?;
        if flags & !(FLAG_REPLY | FLAG_HEADERS) != 0 {
            return Err(EntryError::BadFlags { flags, offset });
        }
        Ok(flags)
    }

    fn msg(&mut self, flags: u8) -> Result<Message, EntryError> {
        let subject = self.string("subject")?;
        let reply = match flags & FLAG_REPLY {
            0 => None,
            _ => Some(self.string("reply")?),
        };
        let headers = match flags & FLAG_HEADERS {
            0 => None,
            _ => Some(self.field("headers")?),
        };
        let payload = self.field("payload")?;
        Ok(Message(InternalMsg {
            subject,
            reply,
            headers,
            payload,
        }))
    }
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
