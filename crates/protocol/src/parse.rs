//! The parser: bytes in, typed ops out, for both directions.
//!
//! Parsing runs in two steps so that payloads are never copied. [`scan_client`] and
//! [`scan_server`] read a `&[u8]` and return an op whose fields are spans (offsets into that
//! buffer) plus the op's length; `resolve` then turns the spans into `Bytes` slices of the same
//! bytes once they are frozen. [`parse_client`] and [`parse_server`] do both on a `&Bytes`; the
//! codecs scan the read buffer, split off exactly the op's bytes, and resolve those.
//!
//! Grammar (see protocol-spec/): an op name (any case), then arguments separated by runs of
//! spaces or tabs, then CRLF or a bare LF. PUB/HPUB/MSG/HMSG are followed by exactly the
//! declared number of payload bytes and CRLF (or a bare LF: a deliberate leniency).

use crate::bytestr::ByteStr;
use crate::error::ProtocolError;
use crate::info::{ConnectInfo, ServerInfo};
use crate::limits::Limits;
use crate::op::{ClientOp, Parsed, ServerOp};
use bytes::Bytes;
use nom::bytes::complete::{take_till1, take_while};
use nom::character::complete::digit1;
use nom::combinator::all_consuming;
use nom::IResult;

/// The most arguments any op takes (HMSG: subject sid reply hdr total).
const MAX_ARGS: usize = 5;

/// A byte range of the buffer being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: usize,
    end: usize,
}

impl Span {
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
}

/// A client op whose variable fields are spans of the scanned buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum RawClientOp {
    Connect(Box<ConnectInfo>),
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
        match self {
            RawClientOp::Connect(c) => ClientOp::Connect(c),
            RawClientOp::Pub {
                subject,
                reply,
                headers: None,
                payload,
            } => ClientOp::Pub {
                subject: subject.text(base),
                reply: reply.map(|r| r.text(base)),
                payload: payload.bytes(base),
            },
            RawClientOp::Pub {
                subject,
                reply,
                headers: Some(headers),
                payload,
            } => ClientOp::Hpub {
                subject: subject.text(base),
                reply: reply.map(|r| r.text(base)),
                headers: headers.bytes(base),
                payload: payload.bytes(base),
            },
            RawClientOp::Sub {
                subject,
                queue,
                sid,
            } => ClientOp::Sub {
                subject: subject.text(base),
                queue: queue.map(|q| q.text(base)),
                sid: sid.text(base),
            },
            RawClientOp::Unsub { sid, max } => ClientOp::Unsub {
                sid: sid.text(base),
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
        match self {
            RawServerOp::Info(i) => ServerOp::Info(i),
            RawServerOp::Msg {
                subject,
                sid,
                reply,
                headers: None,
                payload,
            } => ServerOp::Msg {
                subject: subject.text(base),
                sid: sid.text(base),
                reply: reply.map(|r| r.text(base)),
                payload: payload.bytes(base),
            },
            RawServerOp::Msg {
                subject,
                sid,
                reply,
                headers: Some(headers),
                payload,
            } => ServerOp::Hmsg {
                subject: subject.text(base),
                sid: sid.text(base),
                reply: reply.map(|r| r.text(base)),
                headers: headers.bytes(base),
                payload: payload.bytes(base),
            },
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

/// The control line at the front of `buf`: the line without its terminator, and the length
/// including the terminator. `None` if no line end has arrived yet.
fn control_line<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let max = limits.max_control_line;
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match memchr::memchr(b'\n', window) {
        Some(nl) => {
            let mut end = nl;
            if end > 0 && buf[end - 1] == b'\r' {
                end -= 1;
            }
            if end > max {
                return Err(ProtocolError::ControlLineTooLong);
            }
            Ok(Some((&buf[..end], nl + 1)))
        }
        None if buf.len() > max.saturating_add(1) => Err(ProtocolError::ControlLineTooLong),
        None => Ok(None),
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One whitespace-separated token, skipping the blanks before it.
fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let (input, _) = take_while(is_blank)(input)?;
    take_till1(is_blank)(input)
}

/// Splits `line` into its tokens. The first token is the op name.
fn tokens<'a>(
    mut line: &'a [u8],
    out: &mut [&'a [u8]; MAX_ARGS + 1],
) -> Result<usize, ProtocolError> {
    let mut n = 0;
    while let Ok((rest, tok)) = token(line) {
        if n == out.len() {
            return Err(ProtocolError::UnknownOp);
        }
        out[n] = tok;
        n += 1;
        line = rest;
    }
    Ok(n)
}

/// The text after the op name (for CONNECT, INFO, -ERR), trimmed of blanks.
fn rest_after_name<'a>(line: &'a [u8], name: &[u8]) -> &'a [u8] {
    let start = name.as_ptr() as usize - line.as_ptr() as usize + name.len();
    let rest = &line[start..];
    let first = rest.iter().position(|&b| !is_blank(b)).unwrap_or(rest.len());
    let last = rest.iter().rposition(|&b| !is_blank(b)).map_or(first, |p| p + 1);
    &rest[first..last]
}

/// A decimal number with no sign, fitting in a u64.
fn number(tok: &[u8]) -> Result<u64, ProtocolError> {
    let (_, digits) = all_consuming(digit1::<&[u8], nom::error::Error<&[u8]>>)(tok)
        .map_err(|_| ProtocolError::UnknownOp)?;
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(ProtocolError::UnknownOp)
    })
}

/// A size argument, checked against the payload limit.
fn size(tok: &[u8], limits: &Limits) -> Result<usize, ProtocolError> {
    let n = number(tok)?;
    if n > limits.max_payload as u64 {
        return Err(ProtocolError::PayloadTooLarge);
    }
    Ok(n as usize)
}

/// A subject, reply, queue or sid: must be UTF-8.
fn text(buf: &[u8], tok: &[u8]) -> Result<Span, ProtocolError> {
    if tok.is_ascii() || std::str::from_utf8(tok).is_ok() {
        Ok(Span::within(buf, tok))
    } else {
        Err(ProtocolError::InvalidSubject)
    }
}

/// Where the payload that starts at `start` with `size` bytes ends, including its CRLF/LF.
fn payload_end(buf: &[u8], start: usize, size: usize) -> Result<Option<usize>, ProtocolError> {
    let end = start + size;
    match buf.get(end) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(end + 1)),
        Some(b'\r') => match buf.get(end + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(end + 2)),
            Some(_) => Err(ProtocolError::PayloadSizeMismatch),
        },
        Some(_) => Err(ProtocolError::PayloadSizeMismatch),
    }
}

/// Header size and total size of HPUB/HMSG, checked.
fn hdr_total(hdr: &[u8], total: &[u8], limits: &Limits) -> Result<(usize, usize), ProtocolError> {
    let hdr = number(hdr)?;
    let total = size(total, limits)?;
    if hdr as usize > total {
        return Err(ProtocolError::BadHeaderSize);
    }
    Ok((hdr as usize, total))
}

/// The spans of a payload of `total` bytes, of which the first `hdr` are headers, starting at
/// `start`; `None` when incomplete.
type PayloadSpans = (Option<Span>, Span, usize);

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

fn name_is(tok: &[u8], name: &[u8]) -> bool {
    tok.eq_ignore_ascii_case(name)
}

/// Scans one client->server op from the front of `buf`.
pub fn scan_client(buf: &[u8], limits: &Limits) -> Result<Parsed<RawClientOp>, ProtocolError> {
    let Some((line, line_len)) = control_line(buf, limits)? else {
        return Ok(Parsed::Incomplete);
    };
    let mut toks: [&[u8]; MAX_ARGS + 1] = [&[]; MAX_ARGS + 1];
    let n = match tokens(line, &mut toks) {
        Ok(n) => n,
        // CONNECT's JSON may hold any number of blanks; decide on the name alone.
        Err(_) if line.len() >= 7 && name_is(&line[..7], b"CONNECT") => 1,
        Err(e) => return Err(e),
    };
    if n == 0 {
        return Ok(Parsed::Blank { len: line_len });
    }
    let name = toks[0];
    let args = &toks[1..n];
    let op = if name_is(name, b"PUB") {
        let (subject, reply, size_tok) = match args {
            [s, z] => (*s, None, *z),
            [s, r, z] => (*s, Some(*r), *z),
            _ => return Err(ProtocolError::UnknownOp),
        };
        let total = size(size_tok, limits)?;
        let subject = text(buf, subject)?;
        let reply = reply.map(|r| text(buf, r)).transpose()?;
        let Some((_, payload, len)) = payload_spans(buf, line_len, None, total)? else {
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
    } else if name_is(name, b"HPUB") {
        let (subject, reply, h, t) = match args {
            [s, h, t] => (*s, None, *h, *t),
            [s, r, h, t] => (*s, Some(*r), *h, *t),
            _ => return Err(ProtocolError::UnknownOp),
        };
        let (hdr, total) = hdr_total(h, t, limits)?;
        let subject = text(buf, subject)?;
        let reply = reply.map(|r| text(buf, r)).transpose()?;
        let Some((headers, payload, len)) = payload_spans(buf, line_len, Some(hdr), total)? else {
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
    } else if name_is(name, b"SUB") {
        let (subject, queue, sid) = match args {
            [s, i] => (*s, None, *i),
            [s, q, i] => (*s, Some(*q), *i),
            _ => return Err(ProtocolError::UnknownOp),
        };
        RawClientOp::Sub {
            subject: text(buf, subject)?,
            queue: queue.map(|q| text(buf, q)).transpose()?,
            sid: text(buf, sid)?,
        }
    } else if name_is(name, b"UNSUB") {
        match args {
            [sid] => RawClientOp::Unsub {
                sid: text(buf, sid)?,
                max: None,
            },
            [sid, max] => RawClientOp::Unsub {
                sid: text(buf, sid)?,
                max: Some(number(max)?),
            },
            _ => return Err(ProtocolError::UnknownOp),
        }
    } else if name_is(name, b"PING") && args.is_empty() {
        RawClientOp::Ping
    } else if name_is(name, b"PONG") && args.is_empty() {
        RawClientOp::Pong
    } else if name_is(name, b"CONNECT") {
        let json = rest_after_name(line, name);
        let info: ConnectInfo =
            serde_json::from_slice(json).map_err(|_| ProtocolError::BadJson)?;
        RawClientOp::Connect(Box::new(info))
    } else {
        return Err(ProtocolError::UnknownOp);
    };
    Ok(Parsed::Op { op, len: line_len })
}

/// Scans one server->client op from the front of `buf`.
pub fn scan_server(buf: &[u8], limits: &Limits) -> Result<Parsed<RawServerOp>, ProtocolError> {
    let Some((line, line_len)) = control_line(buf, limits)? else {
        return Ok(Parsed::Incomplete);
    };
    let mut toks: [&[u8]; MAX_ARGS + 1] = [&[]; MAX_ARGS + 1];
    let n = match tokens(line, &mut toks) {
        Ok(n) => n,
        // INFO's JSON and -ERR's text may hold any number of blanks.
        Err(_) => 1,
    };
    if n == 0 {
        return Ok(Parsed::Blank { len: line_len });
    }
    let name = toks[0];
    let args = &toks[1..n];
    let is_msg = name_is(name, b"MSG");
    if is_msg || name_is(name, b"HMSG") {
        let (subject, sid, reply, hdr, total) = match (is_msg, args) {
            (true, [s, i, z]) => (*s, *i, None, None, size(z, limits)?),
            (true, [s, i, r, z]) => (*s, *i, Some(*r), None, size(z, limits)?),
            (false, [s, i, h, t]) => {
                let (h, t) = hdr_total(h, t, limits)?;
                (*s, *i, None, Some(h), t)
            }
            (false, [s, i, r, h, t]) => {
                let (h, t) = hdr_total(h, t, limits)?;
                (*s, *i, Some(*r), Some(h), t)
            }
            _ => return Err(ProtocolError::UnknownOp),
        };
        let subject = text(buf, subject)?;
        let sid = text(buf, sid)?;
        let reply = reply.map(|r| text(buf, r)).transpose()?;
        let Some((headers, payload, len)) = payload_spans(buf, line_len, hdr, total)? else {
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
    let op = if name_is(name, b"PING") && args.is_empty() {
        RawServerOp::Ping
    } else if name_is(name, b"PONG") && args.is_empty() {
        RawServerOp::Pong
    } else if name_is(name, b"+OK") && args.is_empty() {
        RawServerOp::Ok
    } else if name_is(name, b"-ERR") {
        let text = rest_after_name(line, name);
        let text = text
            .strip_prefix(b"'")
            .and_then(|t| t.strip_suffix(b"'"))
            .unwrap_or(text);
        RawServerOp::Err(String::from_utf8_lossy(text).into_owned())
    } else if name_is(name, b"INFO") {
        let json = rest_after_name(line, name);
        let info: ServerInfo = serde_json::from_slice(json).map_err(|_| ProtocolError::BadJson)?;
        RawServerOp::Info(Box::new(info))
    } else {
        return Err(ProtocolError::UnknownOp);
    };
    Ok(Parsed::Op { op, len: line_len })
}
