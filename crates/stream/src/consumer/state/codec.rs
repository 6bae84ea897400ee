//! Compact binary form of a [`ConsumerSnapshot`], written after acks, so a few bytes per
//! pending message (like nats-server's `encodeConsumerState`): LEB128 varints, ascending
//! sequences as deltas, times and consumer sequences as zigzag deltas from the previous entry
//! (wrapping arithmetic, so any value round-trips).
//!
//! Layout (version 1): magic `0xC5`, version `1`, then next_stream_seq,
//! delivered_consumer_seq, resume_seq, last_delivered_ns and last_ack_ns (each a presence
//! byte and a zigzag varint), then four lists, each a count followed by its entries:
//! pending (seq delta, consumer seq delta, deliveries, timestamp delta, deadline minus
//! timestamp), exhausted (seq delta, deliveries), redeliver (seq delta), skip (seq delta).

use super::{ConsumerSnapshot, Pending};

const MAGIC: u8 = 0xC5;
const VERSION: u8 = 1;

/// Why persisted consumer state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("consumer state: not a consumer state record")]
    BadMagic,
    #[error("consumer state: unknown version {0}")]
    Version(u8),
    #[error("consumer state: truncated")]
    Truncated,
    #[error("consumer state: invalid ({0})")]
    Invalid(&'static str),
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.i64(v);
            }
        }
    }

    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.0.split_first().ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(b)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint too long"))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn opt_i64(&mut self) -> Result<Option<i64>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.i64().map(Some),
            _ => Err(DecodeError::Invalid("presence byte")),
        }
    }

    /// A list length, bounded by the bytes left (every entry takes at least one byte).
    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        if n > self.0.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    /// The next of an ascending list of sequences stored as deltas.
    fn seq(&mut self, prev: u64) -> Result<u64, DecodeError> {
        prev.checked_add(self.u64()?)
            .ok_or(DecodeError::Invalid("sequence overflow"))
    }
}

/// The binary form of `s`.
pub(super) fn encode(s: &ConsumerSnapshot) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(32 + s.pending.len() * 12));
    w.0.extend_from_slice(&[MAGIC, VERSION]);
    w.u64(s.next_stream_seq);
    w.u64(s.delivered_consumer_seq);
    w.u64(s.resume_seq);
    w.opt_i64(s.last_delivered_ns);
    w.opt_i64(s.last_ack_ns);

    w.len(s.pending.len());
    let (mut prev_seq, mut prev_cseq, mut prev_ts) = (0u64, 0u64, 0i64);
    for (&seq, p) in &s.pending {
        w.u64(seq - prev_seq);
        w.i64(p.consumer_seq.wrapping_sub(prev_cseq) as i64);
        w.u64(p.deliveries);
        w.i64(p.timestamp_ns.wrapping_sub(prev_ts));
        w.i64(p.deadline_ns.wrapping_sub(p.timestamp_ns));
        (prev_seq, prev_cseq, prev_ts) = (seq, p.consumer_seq, p.timestamp_ns);
    }

    w.len(s.exhausted.len());
    let mut prev = 0;
    for (&seq, &deliveries) in &s.exhausted {
        w.u64(seq - prev);
        w.u64(deliveries);
        prev = seq;
    }

    for list in [&s.redeliver, &s.skip] {
        let mut sorted = list.clone();
        sorted.sort_unstable();
        sorted.dedup();
        w.len(sorted.len());
        let mut prev = 0;
        for seq in sorted {
            w.u64(seq - prev);
            prev = seq;
        }
    }
    w.0
}

/// Reads [`encode`]'s output.
pub(super) fn decode(bytes: &[u8]) -> Result<ConsumerSnapshot, DecodeError> {
    let mut r = Reader(bytes);
    if r.byte().map_err(|_| DecodeError::BadMagic)? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    match r.byte()? {
        VERSION => {}
        v => return Err(DecodeError::Version(v)),
    }
    let mut s = ConsumerSnapshot {
        next_stream_seq: r.u64()?,
        delivered_consumer_seq: r.u64()?,
        resume_seq: r.u64()?,
        last_delivered_ns: r.opt_i64()?,
        last_ack_ns: r.opt_i64()?,
        ..Default::default()
    };

    let n = r.len()?;
    let (mut prev_seq, mut prev_cseq, mut prev_ts) = (0u64, 0u64, 0i64);
    for _ in 0..n {
        let seq = r.seq(prev_seq)?;
        let consumer_seq = prev_cseq.wrapping_add(r.i64()? as u64);
        let deliveries = r.u64()?;
        let timestamp_ns = prev_ts.wrapping_add(r.i64()?);
        let deadline_ns = timestamp_ns.wrapping_add(r.i64()?);
        if seq == prev_seq {
            return Err(DecodeError::Invalid("pending sequences not ascending"));
        }
        s.pending.insert(
            seq,
            Pending {
                consumer_seq,
                timestamp_ns,
                deliveries,
                deadline_ns,
            },
        );
        (prev_seq, prev_cseq, prev_ts) = (seq, consumer_seq, timestamp_ns);
    }

    let n = r.len()?;
    let mut prev = 0;
    for _ in 0..n {
        let seq = r.seq(prev)?;
        s.exhausted.insert(seq, r.u64()?);
        prev = seq;
    }

    for list in [&mut s.redeliver, &mut s.skip] {
        let n = r.len()?;
        let mut prev = 0;
        for _ in 0..n {
            let seq = r.seq(prev)?;
            list.push(seq);
            prev = seq;
        }
    }
    if !r.0.is_empty() {
        return Err(DecodeError::Invalid("trailing bytes"));
    }
    Ok(s)
}
