//! The two directions: a control line ([`line`](super::line)), its arguments
//! ([`args`](super::args)), then the payload and its line end.

use super::args::{
    hmsg_args, hpub_args, msg_args, pub_args, sub_args, text, trimmed, unsub_args, MsgArgs,
    PubArgs, SubArgs,
};
use super::line::{control_line, Line, Name, CLIENT, SERVER};
use super::{RawClientOp, RawServerOp, Span};
use crate::error::ProtocolError;
use crate::info::{ConnectInfo, ServerInfo};
use crate::limits::Limits;
use crate::op::Parsed;

/// Where the payload that starts at `start` with `size` bytes ends, including its CRLF (or a
/// bare LF); `None` when more bytes are needed to tell. This is framing at a known offset, two
/// byte compares, so it is written out rather than run through nom's `line_ending`, which costs
/// a few percent of PUB throughput here.
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

/// The spans of a payload's headers (if any) and body, and the op's whole length.
type PayloadSpans = (Option<Span>, Span, usize);

/// The spans of a payload of `total` bytes, of which the first `hdr` are headers, starting at
/// `start`; `None` when incomplete.
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

/// A PUB or HPUB whose control line of `len` bytes at the front of `buf` had `args`.
#[inline(always)]
fn pub_op(buf: &[u8], len: usize, args: PubArgs<'_>) -> Result<Parsed<RawClientOp>, ProtocolError> {
    let subject = text(buf, args.subject)?;
    let reply = args.reply.map(|r| text(buf, r)).transpose()?;
    let Some((headers, payload, len)) = payload_spans(buf, len, args.hdr, args.total)? else {
        return Ok(Parsed::Incomplete);
    };
    Ok(Parsed::Op {
        op: RawClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        },
        len,
    })
}

/// A MSG or HMSG whose control line of `len` bytes at the front of `buf` had `args`.
#[inline(always)]
fn msg_op(buf: &[u8], len: usize, args: MsgArgs<'_>) -> Result<Parsed<RawServerOp>, ProtocolError> {
    let subject = text(buf, args.subject)?;
    let sid = text(buf, args.sid)?;
    let reply = args.reply.map(|r| text(buf, r)).transpose()?;
    let Some((headers, payload, len)) = payload_spans(buf, len, args.hdr, args.total)? else {
        return Ok(Parsed::Incomplete);
    };
    Ok(Parsed::Op {
        op: RawServerOp::Msg {
            subject,
            sid,
            reply,
            headers,
            payload,
        },
        len,
    })
}

/// Scans one client->server op from the front of `buf`.
///
/// Errors are fatal for the connection: the bytes that follow cannot be framed.
/// [`ProtocolError::nats_sends_err`] tells whether nats-server reports each with `-ERR`.
/// A client's `+OK`, and a client's `INFO` with well-formed JSON, are [`Parsed::Blank`]:
/// nats-server ignores both.
pub fn scan_client(buf: &[u8], limits: &Limits) -> Result<Parsed<RawClientOp>, ProtocolError> {
    let (name, args, len) = match control_line(buf, CLIENT, limits)? {
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
        // One copy of `pub_op` each, so that PUB's is specialised to no headers.
        Name::Pub => return pub_op(buf, len, pub_args(args, limits)?),
        Name::Hpub => return pub_op(buf, len, hpub_args(args, limits)?),
        Name::Sub => {
            let SubArgs {
                subject,
                queue,
                sid,
            } = sub_args(args)?;
            RawClientOp::Sub {
                subject: text(buf, subject)?,
                queue: queue.map(|q| text(buf, q)).transpose()?,
                sid: text(buf, sid)?,
            }
        }
        Name::Unsub => {
            let (sid, max) = unsub_args(args)?;
            RawClientOp::Unsub {
                sid: text(buf, sid)?,
                max,
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
    let (name, args, len) = match control_line(buf, SERVER, limits)? {
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
        Name::Msg => return msg_op(buf, len, msg_args(args, limits)?),
        Name::Hmsg => return msg_op(buf, len, hmsg_args(args, limits)?),
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
