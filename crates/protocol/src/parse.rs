//! The parser: bytes in, typed ops out, for both directions.
//!
//! Parsing runs in two steps so that payloads are never copied. [`scan_client`] and
//! [`scan_server`] read a `&[u8]` and return an op whose fields are spans (offsets into that
//! buffer) plus the op's length; `resolve` then turns the spans into `Bytes` slices of the same
//! bytes once they are frozen. [`parse_client`] and [`parse_server`] do both on a `&Bytes`; the
//! codecs scan the read buffer, split off exactly the op's bytes, and resolve those with
//! [`RawClientOp::resolve_frame`], which hands the frame itself to the payload.
//!
//! Grammar (protocol-spec/ops.md), nats-server's: an op name in any case, matched a byte at a
//! time and refused at the first byte that cannot continue one; then, depending on the name, a
//! required blank (PUB, HPUB, SUB, UNSUB, MSG, HMSG, -ERR), optional blanks (CONNECT, INFO),
//! or text that is ignored (PING, PONG, +OK); arguments separated by runs of blanks (and, for
//! SUB, UNSUB, MSG and HMSG, CRs); then CRLF or a bare LF. [`Limits::max_control_line`] bounds
//! the arguments. PUB/HPUB/MSG/HMSG are followed by exactly the declared number of payload
//! bytes and CRLF (or a bare LF: a deliberate leniency). A line of blanks only is
//! [`Parsed::Blank`] (another). Sizes are 1 to 9 decimal digits.

use crate::bytestr::ByteStr;
use crate::error::ProtocolError;
use crate::info::{ConnectInfo, ServerInfo};
use crate::limits::Limits;
use crate::op::{ClientOp, Parsed, ServerOp};
use bytes::{Buf, Bytes};

/// A byte range of the buffer being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The bytes this span covers in `buf`, the buffer that was scanned.
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }

    /// The text this span covers in `buf`. Spans of subjects, replies, queues and sids were
    /// checked to be UTF-8 by the scan.
    #[inline]
    pub fn text_in<'a>(&self, buf: &'a [u8]) -> &'a str {
        // Checked when scanned; a non-UTF-8 slice here means the caller passed another buffer.
        std::str::from_utf8(self.get(buf)).unwrap_or("")
    }

    /// The span's offsets in the scanned buffer, as a range.
    #[inline]
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    #[inline]
    fn within(buf: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span {
            start,
            end: start + part.len(),
        }
    }

    #[inline]
    fn bytes(self, base: &Bytes) -> Bytes {
        base.slice(self.start..self.end)
    }

    #[inline]
    fn text(self, base: &Bytes) -> ByteStr {
        ByteStr::from_utf8_checked_elsewhere(self.bytes(base))
    }

    /// Narrows `frame` (which must be the scanned bytes, or start with them) to this span
    /// without touching its reference count.
    #[inline(always)]
    fn narrow(self, mut frame: Bytes) -> Bytes {
        frame.truncate(self.end);
        frame.advance(self.start);
        frame
    }
}

/// A client op whose variable fields are spans of the scanned buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum RawClientOp {
    Connect(Box<ConnectInfo>),
    /// PUB (`headers: None`) or HPUB (`headers: Some`).
    Pub {
        subject: Span,
        reply: Option<Span>,
        headers: Option<Span>,
        payload: Span,
    },
    Sub {
        subject: Span,
        queue: Option<Span>,
        sid: Span,
    },
    Unsub {
        sid: Span,
        max: Option<u64>,
    },
    Ping,
    Pong,
}

impl RawClientOp {
    /// Builds the op from `base`, the same bytes that were scanned (or a buffer with the same
    /// prefix). Only reference counts are touched; nothing is copied.
    pub fn resolve(self, base: &Bytes) -> ClientOp {
        self.resolve_frame(base.clone())
    }

    /// Builds the op from `frame`, the scanned bytes (or a buffer starting with them), taken by
    /// value: a PUB/HPUB payload becomes `frame` itself, narrowed, so one reference count
    /// update fewer is paid per field than with [`resolve`](Self::resolve).
    #[inline]
    pub fn resolve_frame(self, frame: Bytes) -> ClientOp {
        match self {
            RawClientOp::Pub {
                subject,
                reply,
                headers,
                payload,
            } => {
                let subject = subject.text(&frame);
                let reply = reply.map(|r| r.text(&frame));
                match headers {
                    None => ClientOp::Pub {
                        subject,
                        reply,
                        payload: payload.narrow(frame),
                    },
                    Some(h) => ClientOp::Hpub {
                        subject,
                        reply,
                        headers: h.bytes(&frame),
                        payload: payload.narrow(frame),
                    },
                }
            }
            RawClientOp::Connect(c) => ClientOp::Connect(c),
            RawClientOp::Sub {
                subject,
                queue,
                sid,
            } => ClientOp::Sub {
                subject: subject.text(&frame),
                queue: queue.map(|q| q.text(&frame)),
                sid: sid.text(&frame),
            },
            RawClientOp::Unsub { sid, max } => ClientOp::Unsub {
                sid: sid.text(&frame),
                max,
            },
            RawClientOp::Ping => ClientOp::Ping,
            RawClientOp::Pong => ClientOp::Pong,
        }
    }
}

/// A server op whose variable fields are spans of the scanned buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum RawServerOp {
    Info(Box<ServerInfo>),
    /// MSG (`headers: None`) or HMSG (`headers: Some`).
    Msg {
        subject: Span,
        sid: Span,
        reply: Option<Span>,
        headers: Option<Span>,
        payload: Span,
    },
    Ok,
    Err(String),
    Ping,
    Pong,
}

impl RawServerOp {
    /// Builds the op from `base`; see [`RawClientOp::resolve`].
    pub fn resolve(self, base: &Bytes) -> ServerOp {
        self.resolve_frame(base.clone())
    }

    /// Builds the op from `frame`, taken by value; see [`RawClientOp::resolve_frame`].
    #[inline]
    pub fn resolve_frame(self, frame: Bytes) -> ServerOp {
        match self {
            RawServerOp::Msg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => {
                let subject = subject.text(&frame);
                let sid = sid.text(&frame);
                let reply = reply.map(|r| r.text(&frame));
                match headers {
                    None => ServerOp::Msg {
                        subject,
                        sid,
                        reply,
                        payload: payload.narrow(frame),
                    },
                    Some(h) => ServerOp::Hmsg {
                        subject,
                        sid,
                        reply,
                        headers: h.bytes(&frame),
                        payload: payload.narrow(frame),
                    },
                }
            }
            RawServerOp::Info(i) => ServerOp::Info(i),
            RawServerOp::Ok => ServerOp::Ok,
            RawServerOp::Err(e) => ServerOp::Err(e),
            RawServerOp::Ping => ServerOp::Ping,
            RawServerOp::Pong => ServerOp::Pong,
        }
    }
}

/// Parses one client op from the front of `buf`.
pub fn parse_client(buf: &Bytes, limits: &Limits) -> Result<Parsed<ClientOp>, ProtocolError> {
    Ok(match scan_client(buf, limits)? {
        Parsed::Op { op, len } => Parsed::Op {
            op: op.resolve(buf),
            len,
        },
        Parsed::Blank { len } => Parsed::Blank { len },
        Parsed::Incomplete => Parsed::Incomplete,
    })
}

/// Parses one server op from the front of `buf`.
pub fn parse_server(buf: &Bytes, limits: &Limits) -> Result<Parsed<ServerOp>, ProtocolError> {
    Ok(match scan_server(buf, limits)? {
        Parsed::Op { op, len } => Parsed::Op {
            op: op.resolve(buf),
            len,
        },
        Parsed::Blank { len } => Parsed::Blank { len },
        Parsed::Incomplete => Parsed::Incomplete,
    })
}

// ---------------------------------------------------------------------------------------
// Lines: the op name, its separator, its arguments.
//
// This mirrors nats-server's byte-by-byte state machine (server/parser.go): the op name is
// matched a byte at a time and refused at the first byte that cannot continue it, so junk
// is an unknown op at once, not a long line; each name has its own rule for what may follow
// it; and the control-line limit applies to the arguments (what follows the name and the
// blanks after it), not to the whole line.
// ---------------------------------------------------------------------------------------

/// The op names each direction knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Connect,
    Ping,
    Pong,
    Info,
    Ok,
    Err,
    Msg,
    Hmsg,
}

/// What may follow an op name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// At least one blank, then the arguments (PUB, HPUB, SUB, UNSUB, MSG, HMSG, -ERR).
    Blank,
    /// Optional blanks, then the argument (CONNECT and INFO: `CONNECT{...}` is fine).
    MaybeBlank,
    /// Anything up to the line end, which is ignored (PING, PONG, +OK).
    Anything,
}

/// Client -> server names, the hot one first.
const CLIENT_NAMES: &[(&[u8], Name, Follow)] = &[
    (b"PUB", Name::Pub, Follow::Blank),
    (b"HPUB", Name::Hpub, Follow::Blank),
    (b"SUB", Name::Sub, Follow::Blank),
    (b"UNSUB", Name::Unsub, Follow::Blank),
    (b"PING", Name::Ping, Follow::Anything),
    (b"PONG", Name::Pong, Follow::Anything),
    (b"CONNECT", Name::Connect, Follow::MaybeBlank),
    (b"INFO", Name::Info, Follow::MaybeBlank),
    (b"+OK", Name::Ok, Follow::Anything),
    (b"-ERR", Name::Err, Follow::Blank),
];

/// Server -> client names, the hot one first.
const SERVER_NAMES: &[(&[u8], Name, Follow)] = &[
    (b"MSG", Name::Msg, Follow::Blank),
    (b"HMSG", Name::Hmsg, Follow::Blank),
    (b"PING", Name::Ping, Follow::Anything),
    (b"PONG", Name::Pong, Follow::Anything),
    (b"+OK", Name::Ok, Follow::Anything),
    (b"-ERR", Name::Err, Follow::Blank),
    (b"INFO", Name::Info, Follow::MaybeBlank),
];

/// A control line found at the front of a buffer.
#[derive(Debug, Clone, Copy)]
enum Line {
    /// A line of blanks only (or empty); `len` includes its line end.
    Blank { len: usize },
    /// An op line: its name, where its arguments start and end (the end excludes the CR of a
    /// CRLF), and the line's length including its line end.
    Op {
        name: Name,
        args: usize,
        end: usize,
        len: usize,
    },
}

#[inline(always)]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The index of the first LF in `buf`. Control lines are short, so the first 32 bytes are
/// searched a word at a time, inline; longer lines go to `memchr`.
#[inline(always)]
fn find_lf(buf: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut i = 0;
    while i + 8 <= buf.len() && i < 32 {
        let word = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let x = word ^ LFS;
        // A high bit for each zero byte of `x` (exact for the lowest one, which is all we use).
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(i + (zeros.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(b'\n', &buf[i..]).map(|p| p + i)
}

/// The op name at the front of `buf` (not empty, not starting with a blank or a line end):
/// its table entry, or `None` while `buf` is still a prefix of some name.
#[inline(always)]
fn match_name(
    buf: &[u8],
    names: &'static [(&'static [u8], Name, Follow)],
) -> Result<Option<(usize, Name, Follow)>, ProtocolError> {
    for &(text, name, follow) in names {
        let k = buf.len().min(text.len());
        if buf[..k].eq_ignore_ascii_case(&text[..k]) {
            return Ok((k == text.len()).then_some((k, name, follow)));
        }
    }
    Err(ProtocolError::UnknownOp)
}

/// True if `buf` starts with the three-letter name `hot` (any case) and a blank.
#[inline(always)]
fn is_hot(buf: &[u8], hot: &[u8]) -> bool {
    if buf.len() < 4 || hot.len() != 3 {
        return false;
    }
    // Folding case with `| 0x20` is exact for letters, and `hot` is all letters.
    let word = u32::from_le_bytes([buf[0], buf[1], buf[2], 0]) | 0x0020_2020;
    let want = u32::from_le_bytes([hot[0], hot[1], hot[2], 0]) | 0x0020_2020;
    word == want && is_blank(buf[3])
}

/// A line of blanks at the front of `buf`, which starts with a blank, CR or LF.
#[cold]
fn blank_line(buf: &[u8], limits: &Limits) -> Result<Option<Line>, ProtocolError> {
    let max = limits.max_control_line;
    let blanks = buf.iter().position(|&b| !is_blank(b)).unwrap_or(buf.len());
    if blanks > max {
        return Err(ProtocolError::ControlLineTooLong);
    }
    match (buf.get(blanks), buf.get(blanks + 1)) {
        (None, _) | (Some(b'\r'), None) => Ok(None),
        (Some(b'\n'), _) => Ok(Some(Line::Blank { len: blanks + 1 })),
        (Some(b'\r'), Some(b'\n')) => Ok(Some(Line::Blank { len: blanks + 2 })),
        // Blanks before an op name (or a stray CR): nats-server refuses the first blank.
        _ => Err(ProtocolError::UnknownOp),
    }
}

/// The control line at the front of `buf`, or `None` if more bytes are needed to tell.
///
/// Errors are reported as soon as the bytes seen prove them: a name that no known name
/// starts with, a missing blank after a name that needs one, and arguments (or a blank line,
/// or the run of blanks after a name) longer than the limit, even before the LF arrives.
#[inline(always)]
fn control_line(
    buf: &[u8],
    names: &'static [(&'static [u8], Name, Follow)],
    limits: &Limits,
) -> Result<Option<Line>, ProtocolError> {
    let max = limits.max_control_line;
    let (name, name_len, args) = if is_hot(buf, names[0].0) {
        // The direction's busiest op (PUB, MSG) with its usual single blank: no table walk.
        let mut args = 4;
        while args < buf.len() && is_blank(buf[args]) {
            args += 1;
        }
        (names[0].1, 3, args)
    } else {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if is_blank(first) || first == b'\r' || first == b'\n' {
            return blank_line(buf, limits);
        }
        let Some((name_len, name, follow)) = match_name(buf, names)? else {
            return Ok(None);
        };
        let mut args = name_len;
        match (follow, buf.get(args)) {
            (Follow::Anything, _) => {}
            (_, None) => return Ok(None),
            (_, Some(&b)) if is_blank(b) => args += 1,
            (Follow::Blank, Some(_)) => return Err(ProtocolError::UnknownOp),
            (Follow::MaybeBlank, Some(_)) => {}
        }
        if follow != Follow::Anything {
            while args < buf.len() && is_blank(buf[args]) {
                args += 1;
            }
        }
        (name, name_len, args)
    };
    // The blanks after the name: nats-server skips any number; Sluice bounds them too.
    if args - name_len > max {
        return Err(ProtocolError::ControlLineTooLong);
    }
    // Arguments of `max` bytes plus CRLF end at `args + max + 1`: look no further.
    let window = &buf[args..buf.len().min(args.saturating_add(max).saturating_add(2))];
    match find_lf(window) {
        Some(nl) => {
            let end = if nl > 0 && window[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            if end > max {
                return Err(ProtocolError::ControlLineTooLong);
            }
            Ok(Some(Line::Op {
                name,
                args,
                end: args + end,
                len: args + nl + 1,
            }))
        }
        None => {
            // Every byte seen is an argument byte, except a final CR that may start the CRLF.
            let known = window.len() - usize::from(window.last() == Some(&b'\r'));
            if known > max {
                Err(ProtocolError::ControlLineTooLong)
            } else {
                Ok(None)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------

/// Splits `args` at runs of the separator bytes into at most `N` tokens; `BadArguments` if
/// there are more.
#[inline(always)]
fn split<'a, const N: usize>(
    mut args: &'a [u8],
    is_sep: impl Fn(u8) -> bool + Copy,
    out: &mut [&'a [u8]; N],
) -> Result<usize, ProtocolError> {
    let mut n = 0;
    loop {
        let start = match args.iter().position(|&b| !is_sep(b)) {
            Some(s) => s,
            None => return Ok(n),
        };
        args = &args[start..];
        let end = args.iter().position(|&b| is_sep(b)).unwrap_or(args.len());
        if n == N {
            return Err(ProtocolError::BadArguments);
        }
        out[n] = &args[..end];
        n += 1;
        args = &args[end..];
    }
}

/// PUB/HPUB split on blanks only (a CR is part of a token), as nats-server does.
#[inline(always)]
fn pub_sep(b: u8) -> bool {
    is_blank(b)
}

/// SUB, UNSUB, MSG and HMSG also split on CR (nats-server's and nats.go's `splitArg`).
#[inline(always)]
fn arg_sep(b: u8) -> bool {
    is_blank(b) || b == b'\r'
}

/// `args` trimmed of blanks (for the JSON of CONNECT/INFO and the text of -ERR).
fn trimmed(args: &[u8]) -> &[u8] {
    let first = args
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(args.len());
    let last = args
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(first, |p| p + 1);
    &args[first..last]
}

/// The most digits a size may have (nats-server's `parseSize`: at most 999,999,999).
const MAX_SIZE_DIGITS: usize = 9;

/// A size as nats-server reads one: 1 to 9 ASCII digits, leading zeros allowed, no sign.
#[inline(always)]
fn parse_size(tok: &[u8]) -> Option<usize> {
    if tok.is_empty() || tok.len() > MAX_SIZE_DIGITS {
        return None;
    }
    let mut n = 0usize;
    for &b in tok {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + usize::from(d);
    }
    Some(n)
}

/// A PUB/MSG size: a valid number within the payload limit.
#[inline(always)]
fn size(tok: &[u8], limits: &Limits) -> Result<usize, ProtocolError> {
    let n = parse_size(tok).ok_or(ProtocolError::BadArguments)?;
    if n > limits.max_payload {
        return Err(ProtocolError::PayloadTooLarge);
    }
    Ok(n)
}

/// Header size and total size of HPUB/HMSG, checked in nats-server's order: both numbers, then
/// header size <= total size, then the payload limit.
fn hdr_total(hdr: &[u8], total: &[u8], limits: &Limits) -> Result<(usize, usize), ProtocolError> {
    let hdr = parse_size(hdr).ok_or(ProtocolError::BadArguments)?;
    let total = parse_size(total).ok_or(ProtocolError::BadArguments)?;
    if hdr > total {
        return Err(ProtocolError::BadHeaderSize);
    }
    if total > limits.max_payload {
        return Err(ProtocolError::PayloadTooLarge);
    }
    Ok((hdr, total))
}

/// A subject, reply, queue or sid: must be UTF-8.
#[inline(always)]
fn text(buf: &[u8], tok: &[u8]) -> Result<Span, ProtocolError> {
    if tok.is_ascii() || is_utf8(tok) {
        Ok(Span::within(buf, tok))
    } else {
        Err(ProtocolError::InvalidSubject)
    }
}

/// The non-ASCII case of [`text`], kept out of line.
#[inline(never)]
fn is_utf8(tok: &[u8]) -> bool {
    std::str::from_utf8(tok).is_ok()
}

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

/// Where the payload that starts at `start` with `size` bytes ends, including its CRLF/LF;
/// `None` when more bytes are needed to tell.
#[inline(always)]
fn payload_end(buf: &[u8], start: usize, size: usize) -> Result<Option<usize>, ProtocolError> {
    let end = start + size;
    match buf.get(end) {
        None => Ok(None),
        Some(b'\r') => match buf.get(end + 1) {
            Some(b'\n') => Ok(Some(end + 2)),
            None => Ok(None),
            Some(_) => Err(ProtocolError::PayloadSizeMismatch),
        },
        // A deliberate leniency: nats-server wants CRLF here.
        Some(b'\n') => Ok(Some(end + 1)),
        Some(_) => Err(ProtocolError::PayloadSizeMismatch),
    }
}

/// The spans of a payload of `total` bytes, of which the first `hdr` are headers, starting at
/// `start`, and the op's whole length; `None` when incomplete.
type PayloadSpans = (Option<Span>, Span, usize);

#[inline(always)]
fn payload_spans(
    buf: &[u8],
    start: usize,
    hdr: Option<usize>,
    total: usize,
) -> Result<Option<PayloadSpans>, ProtocolError> {
    let Some(len) = payload_end(buf, start, total)? else {
        return Ok(None);
    };
    let h = hdr.unwrap_or(0);
    let headers = hdr.map(|h| Span {
        start,
        end: start + h,
    });
    let payload = Span {
        start: start + h,
        end: start + total,
    };
    Ok(Some((headers, payload, len)))
}

// ---------------------------------------------------------------------------------------
// The two directions
// ---------------------------------------------------------------------------------------

/// Scans one client->server op from the front of `buf`.
///
/// Errors are fatal for the connection: the bytes that follow cannot be framed.
/// [`ProtocolError::nats_sends_err`] tells whether nats-server reports each with `-ERR`.
/// A client's `+OK`, and a client's `INFO` with well-formed JSON, are [`Parsed::Blank`]:
/// nats-server ignores both.
pub fn scan_client(buf: &[u8], limits: &Limits) -> Result<Parsed<RawClientOp>, ProtocolError> {
    let (name, args, len) = match control_line(buf, CLIENT_NAMES, limits)? {
        None => return Ok(Parsed::Incomplete),
        Some(Line::Blank { len }) => return Ok(Parsed::Blank { len }),
        Some(Line::Op {
            name,
            args,
            end,
            len,
        }) => (name, &buf[args..end], len),
    };
    let op = match name {
        Name::Pub => {
            let mut a: [&[u8]; 3] = [&[]; 3];
            let (subject, reply, size_tok) = match split(args, pub_sep, &mut a)? {
                2 => (a[0], None, a[1]),
                3 => (a[0], Some(a[1]), a[2]),
                _ => return Err(ProtocolError::BadArguments),
            };
            let total = size(size_tok, limits)?;
            let subject = text(buf, subject)?;
            let reply = reply.map(|r| text(buf, r)).transpose()?;
            let Some((_, payload, len)) = payload_spans(buf, len, None, total)? else {
                return Ok(Parsed::Incomplete);
            };
            return Ok(Parsed::Op {
                op: RawClientOp::Pub {
                    subject,
                    reply,
                    headers: None,
                    payload,
                },
                len,
            });
        }
        Name::Hpub => {
            let mut a: [&[u8]; 4] = [&[]; 4];
            let (subject, reply, h, t) = match split(args, pub_sep, &mut a)? {
                3 => (a[0], None, a[1], a[2]),
                4 => (a[0], Some(a[1]), a[2], a[3]),
                _ => return Err(ProtocolError::BadArguments),
            };
            let (hdr, total) = hdr_total(h, t, limits)?;
            let subject = text(buf, subject)?;
            let reply = reply.map(|r| text(buf, r)).transpose()?;
            let Some((headers, payload, len)) = payload_spans(buf, len, Some(hdr), total)? else {
                return Ok(Parsed::Incomplete);
            };
            return Ok(Parsed::Op {
                op: RawClientOp::Pub {
                    subject,
                    reply,
                    headers,
                    payload,
                },
                len,
            });
        }
        Name::Sub => {
            let mut a: [&[u8]; 3] = [&[]; 3];
            let (subject, queue, sid) = match split(args, arg_sep, &mut a)? {
                2 => (a[0], None, a[1]),
                3 => (a[0], Some(a[1]), a[2]),
                _ => return Err(ProtocolError::BadArguments),
            };
            RawClientOp::Sub {
                subject: text(buf, subject)?,
                queue: queue.map(|q| text(buf, q)).transpose()?,
                sid: text(buf, sid)?,
            }
        }
        Name::Unsub => {
            let mut a: [&[u8]; 2] = [&[]; 2];
            let n = split(args, arg_sep, &mut a)?;
            if n == 0 {
                return Err(ProtocolError::BadArguments);
            }
            RawClientOp::Unsub {
                sid: text(buf, a[0])?,
                // As nats-server: a max that is not a size (not a number, negative, more than
                // nine digits) means "unsubscribe now", as 0 does.
                max: (n == 2).then(|| parse_size(a[1]).unwrap_or(0) as u64),
            }
        }
        Name::Ping => RawClientOp::Ping,
        Name::Pong => RawClientOp::Pong,
        Name::Connect => {
            let info: Option<ConnectInfo> =
                serde_json::from_slice(trimmed(args)).map_err(|_| ProtocolError::BadJson)?;
            RawClientOp::Connect(Box::new(info.unwrap_or_default()))
        }
        Name::Info => {
            // nats-server ignores a client's INFO, once its JSON decodes.
            serde_json::from_slice::<Option<serde_json::Map<String, serde_json::Value>>>(trimmed(
                args,
            ))
            .map_err(|_| ProtocolError::BadJson)?;
            return Ok(Parsed::Blank { len });
        }
        Name::Ok => return Ok(Parsed::Blank { len }),
        Name::Err => return Err(ProtocolError::ErrFromClient),
        Name::Msg | Name::Hmsg => unreachable!("not a client op name"),
    };
    Ok(Parsed::Op { op, len })
}

/// Scans one server->client op from the front of `buf`.
///
/// The rules are nats-server's own (its parser reads server ops from routes, and nats.go's
/// follows it): MSG, HMSG and -ERR need a blank after the name, INFO does not, and anything
/// after PING, PONG or +OK is ignored.
pub fn scan_server(buf: &[u8], limits: &Limits) -> Result<Parsed<RawServerOp>, ProtocolError> {
    let (name, args, len) = match control_line(buf, SERVER_NAMES, limits)? {
        None => return Ok(Parsed::Incomplete),
        Some(Line::Blank { len }) => return Ok(Parsed::Blank { len }),
        Some(Line::Op {
            name,
            args,
            end,
            len,
        }) => (name, &buf[args..end], len),
    };
    let op = match name {
        Name::Msg | Name::Hmsg => {
            let mut a: [&[u8]; 5] = [&[]; 5];
            let n = split(args, arg_sep, &mut a)?;
            let (subject, sid, reply, hdr, total) = match (name, n) {
                (Name::Msg, 3) => (a[0], a[1], None, None, size(a[2], limits)?),
                (Name::Msg, 4) => (a[0], a[1], Some(a[2]), None, size(a[3], limits)?),
                (Name::Hmsg, 4) => {
                    let (h, t) = hdr_total(a[2], a[3], limits)?;
                    (a[0], a[1], None, Some(h), t)
                }
                (Name::Hmsg, 5) => {
                    let (h, t) = hdr_total(a[3], a[4], limits)?;
                    (a[0], a[1], Some(a[2]), Some(h), t)
                }
                _ => return Err(ProtocolError::BadArguments),
            };
            let subject = text(buf, subject)?;
            let sid = text(buf, sid)?;
            let reply = reply.map(|r| text(buf, r)).transpose()?;
            let Some((headers, payload, len)) = payload_spans(buf, len, hdr, total)? else {
                return Ok(Parsed::Incomplete);
            };
            return Ok(Parsed::Op {
                op: RawServerOp::Msg {
                    subject,
                    sid,
                    reply,
                    headers,
                    payload,
                },
                len,
            });
        }
        Name::Ping => RawServerOp::Ping,
        Name::Pong => RawServerOp::Pong,
        Name::Ok => RawServerOp::Ok,
        Name::Err => {
            let text = trimmed(args);
            let text = text
                .strip_prefix(b"'")
                .and_then(|t| t.strip_suffix(b"'"))
                .unwrap_or(text);
            RawServerOp::Err(String::from_utf8_lossy(text).into_owned())
        }
        Name::Info => {
            let info: ServerInfo =
                serde_json::from_slice(trimmed(args)).map_err(|_| ProtocolError::BadJson)?;
            RawServerOp::Info(Box::new(info))
        }
        _ => unreachable!("not a server op name"),
    };
    Ok(Parsed::Op { op, len })
}
