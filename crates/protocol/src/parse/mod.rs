//! The parser: bytes in, typed ops out, for both directions. It is a nom parser over `&[u8]`
//! with `()` for errors: the op names (`alt` of streaming `tag_no_case`), the blanks after
//! them, each op's arguments (`tuple` of tokens, `take_while`/`take_till1` on the separator
//! bytes, `all_consuming`), the sizes (`digit1`) and the line end of a blank line
//! (`line_ending`) are nom combinators. Two byte-level steps are written out: the search for
//! a control line's LF (a word-at-a-time, `memchr`-like scan) and the CRLF after a payload
//! (two compares at a known offset); and a PUB or MSG followed by a blank, the busiest line
//! of each direction, is recognised by one word compare before the `alt` is tried.
//!
//! Parsing runs in two steps so that payloads are never copied. [`scan_client`] and
//! [`scan_server`] read a `&[u8]` and return an op whose fields are spans (offsets into that
//! buffer) plus the op's length; `resolve` then turns the spans into `Bytes` slices of the same
//! bytes once they are frozen. [`parse_client`] and [`parse_server`] do both on a `&Bytes`; the
//! codecs scan the read buffer, split off exactly the op's bytes, and resolve those with
//! [`RawClientOp::resolve_frame`], which hands the frame itself to the payload.
//!
//! Grammar (protocol-spec/ops.md), nats-server's: an op name in any case, matched a byte at a
//! time and refused at the first byte that cannot continue one (nom's streaming
//! `tag_no_case`); then, depending on the name, a required blank (PUB, HPUB, SUB, UNSUB, MSG,
//! HMSG, -ERR), optional blanks (CONNECT, INFO), or text that is ignored (PING, PONG, +OK);
//! arguments separated by runs of blanks (and, for SUB, UNSUB, MSG and HMSG, CRs); then CRLF
//! or a bare LF. [`Limits::max_control_line`] bounds the arguments. PUB/HPUB/MSG/HMSG are
//! followed by exactly the declared number of payload bytes and CRLF (or a bare LF: a
//! deliberate leniency). A line of blanks only is [`Parsed::Blank`] (another). Sizes are 1 to
//! 9 decimal digits.
//!
//! The parts: `line` (the control line: op names, the blanks after them, the line end),
//! `args` (each op's arguments, sizes and text spans), `scan` (the two directions, and the
//! payload after the line); this module has the public types and [`parse_client`] and
//! [`parse_server`].

mod args;
mod line;
mod scan;

pub use scan::{scan_client, scan_server};

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
