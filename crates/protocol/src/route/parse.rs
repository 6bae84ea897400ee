//! The route parser: bytes in, [`RouteOp`]s out, following nats-server 2.9.10's parser
//! (server/parser.go) and its route argument readers (server/route.go).
//!
//! A control line is an op name in any case (nom's streaming `tag_no_case`, tried in order by
//! `alt`: a buffer that is still a prefix of a name is `Incomplete`, any other byte is
//! `UnknownOp` at once), then, depending on the name, a required run of blanks (RS+, RS-,
//! LS+, LS-, RMSG, HMSG, LMSG, -ERR), optional blanks (INFO, CONNECT) or text that is ignored
//! (PING, PONG, +OK); then the arguments up to CRLF or a bare LF. Arguments are split on
//! runs of space, tab and CR, as nats-server's `splitArg`. RMSG/HMSG/LMSG are followed by
//! exactly the declared number of payload bytes and CRLF (nats-server wants the CR too).
//!
//! Unlike the client protocol, nats-server applies neither `max_control_line` nor
//! `max_payload` to routes; this parser applies the [`Limits`] it is given, so callers pass
//! route limits (generous ones: a peer's INFO with many URLs is long). Blank lines and
//! blanks before an op name are refused (`UnknownOp`), as nats-server does.

use super::args::{msg_tail, parse_size, sep, sizes, Tokens};
use super::op::{QueueWeight, RouteOp};
use crate::bytestr::ByteStr;
use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::op::Parsed;
use bytes::Bytes;
use nom::branch::alt;
use nom::bytes::streaming::tag_no_case;
use nom::combinator::value;
use nom::IResult;

/// The op names of the route protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    RSub,
    RUnsub,
    LSub,
    LUnsub,
    RMsg,
    HMsg,
    LMsg,
    Ping,
    Pong,
    Info,
    Connect,
    Ok,
    Err,
}

/// What may follow an op name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// At least one blank, then the arguments.
    Blank,
    /// Optional blanks, then the argument (`INFO{...}` is fine).
    MaybeBlank,
    /// Anything up to the line end, ignored.
    Anything,
}

fn name(i: &[u8]) -> IResult<&[u8], (Name, Follow), ()> {
    use Follow::*;
    alt((
        value((Name::RMsg, Blank), tag_no_case("RMSG")),
        value((Name::RSub, Blank), tag_no_case("RS+")),
        value((Name::RUnsub, Blank), tag_no_case("RS-")),
        value((Name::HMsg, Blank), tag_no_case("HMSG")),
        value((Name::LSub, Blank), tag_no_case("LS+")),
        value((Name::LUnsub, Blank), tag_no_case("LS-")),
        value((Name::LMsg, Blank), tag_no_case("LMSG")),
        value((Name::Ping, Anything), tag_no_case("PING")),
        value((Name::Pong, Anything), tag_no_case("PONG")),
        value((Name::Info, MaybeBlank), tag_no_case("INFO")),
        value((Name::Connect, MaybeBlank), tag_no_case("CONNECT")),
        value((Name::Ok, Anything), tag_no_case("+OK")),
        value((Name::Err, Blank), tag_no_case("-ERR")),
    ))(i)
}

/// A space or a tab.
#[inline(always)]
fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where text and byte fields of an op come from: slices of a shared `Bytes` (zero-copy) or
/// copies of a borrowed slice.
trait Source {
    fn bytes(&self, part: &[u8]) -> Bytes;
}

/// Zero-copy: fields are `Bytes::slice_ref`s of the parsed buffer.
struct Shared<'a>(&'a Bytes);

impl Source for Shared<'_> {
    #[inline]
    fn bytes(&self, part: &[u8]) -> Bytes {
        if part.is_empty() {
            Bytes::new()
        } else {
            self.0.slice_ref(part)
        }
    }
}

/// Fields are copied out of a borrowed buffer.
struct Copied;

impl Source for Copied {
    fn bytes(&self, part: &[u8]) -> Bytes {
        Bytes::copy_from_slice(part)
    }
}

/// Parses one route op from the front of `buf`, copying its fields out of `buf`. For
/// zero-copy parsing of a `Bytes`, use [`parse_route_bytes`].
pub fn parse_route(buf: &[u8], limits: &Limits) -> Result<Parsed<RouteOp>, ProtocolError> {
    parse_with(buf, limits, &Copied)
}

/// Parses one route op from the front of `buf`; subjects, payloads and headers are slices of
/// `buf` (reference counts only, nothing copied).
pub fn parse_route_bytes(buf: &Bytes, limits: &Limits) -> Result<Parsed<RouteOp>, ProtocolError> {
    parse_with(buf, limits, &Shared(buf))
}

/// A control line: the op name, its arguments (blanks after the name skipped, the CR of a
/// CRLF excluded), and the line's length with its LF.
type Line<'a> = (Name, &'a [u8], usize);

/// The control line at the front of `buf`; `None`: more bytes are needed.
fn control_line<'a>(buf: &'a [u8], limits: &Limits) -> Result<Option<Line<'a>>, ProtocolError> {
    let max = limits.max_control_line;
    let (rest, (op, follow)) = match name(buf) {
        Ok(r) => r,
        Err(nom::Err::Incomplete(_)) => return Ok(None),
        Err(_) => return Err(ProtocolError::UnknownOp),
    };
    let name_len = buf.len() - rest.len();
    let skip = match follow {
        Follow::Anything => 0,
        _ if rest.is_empty() => return Ok(None),
        Follow::Blank if !blank(rest[0]) => return Err(ProtocolError::UnknownOp),
        _ => rest.iter().take_while(|&&b| blank(b)).count(),
    };
    if skip > max {
        return Err(ProtocolError::ControlLineTooLong);
    }
    let start = name_len + skip;
    // Arguments of `max` bytes plus CRLF end within `max + 2` bytes: look no further.
    let window = &buf[start..buf.len().min(start.saturating_add(max).saturating_add(2))];
    match memchr::memchr(b'\n', window) {
        Some(nl) => {
            let end = if nl > 0 && window[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            if end > max {
                return Err(ProtocolError::ControlLineTooLong);
            }
            Ok(Some((op, &window[..end], start + nl + 1)))
        }
        None => {
            let known = window.len() - usize::from(window.last() == Some(&b'\r'));
            if known > max {
                Err(ProtocolError::ControlLineTooLong)
            } else {
                Ok(None)
            }
        }
    }
}

/// A subject, account, reply, queue or origin: must be UTF-8.
fn text<S: Source>(src: &S, tok: &[u8]) -> Result<ByteStr, ProtocolError> {
    if tok.is_ascii() || std::str::from_utf8(tok).is_ok() {
        Ok(ByteStr::from_utf8_checked_elsewhere(src.bytes(tok)))
    } else {
        Err(ProtocolError::InvalidSubject)
    }
}

/// The queue group (and weight) of an RS+/LS+: none, or a queue and a size-like weight.
fn sub_queue<S: Source>(src: &S, rest: &[&[u8]]) -> Result<Option<QueueWeight>, ProtocolError> {
    match rest {
        [] => Ok(None),
        [queue, weight] => {
            let weight = parse_size(weight).ok_or(ProtocolError::BadArguments)? as u32;
            Ok(Some(QueueWeight {
                queue: text(src, queue)?,
                weight,
            }))
        }
        _ => Err(ProtocolError::BadArguments),
    }
}

fn json<'de, T: serde::Deserialize<'de>>(args: &'de [u8]) -> Result<T, ProtocolError> {
    let end = args.iter().rposition(|&b| !sep(b)).map_or(0, |p| p + 1);
    serde_json::from_slice(&args[..end]).map_err(|_| ProtocolError::BadJson)
}

fn parse_with<S: Source>(
    buf: &[u8],
    limits: &Limits,
    src: &S,
) -> Result<Parsed<RouteOp>, ProtocolError> {
    let Some((op, args, line_len)) = control_line(buf, limits)? else {
        return Ok(Parsed::Incomplete);
    };
    let done = |op: RouteOp| Ok(Parsed::Op { op, len: line_len });
    match op {
        Name::Ping => return done(RouteOp::Ping),
        Name::Pong => return done(RouteOp::Pong),
        Name::Ok => return done(RouteOp::Ok),
        Name::Info => return done(RouteOp::Info(Box::new(json(args)?))),
        Name::Connect => return done(RouteOp::Connect(Box::new(json(args)?))),
        Name::Err => {
            let end = args.iter().rposition(|&b| !sep(b)).map_or(0, |p| p + 1);
            let mut t = &args[..end];
            if t.len() >= 2 && t[0] == b'\'' && t[t.len() - 1] == b'\'' {
                t = &t[1..t.len() - 1];
            }
            return done(RouteOp::Err(String::from_utf8_lossy(t).into_owned()));
        }
        _ => {}
    }
    let toks = Tokens::split(args);
    let t = toks.all();
    let bad = ProtocolError::BadArguments;
    match op {
        Name::RSub | Name::LSub => {
            let off = usize::from(op == Name::LSub);
            if t.len() < 2 + off {
                return Err(bad);
            }
            let queue = sub_queue(src, &t[2 + off..])?;
            let origin = if off == 1 {
                Some(text(src, t[0])?)
            } else {
                None
            };
            let account = text(src, t[off])?;
            let subject = text(src, t[off + 1])?;
            done(match origin {
                None => RouteOp::Sub {
                    account,
                    subject,
                    queue,
                },
                Some(origin) => RouteOp::LeafSub {
                    origin,
                    account,
                    subject,
                    queue,
                },
            })
        }
        Name::RUnsub | Name::LUnsub => {
            if t.len() != 2 && t.len() != 3 {
                return Err(bad);
            }
            let account = text(src, t[0])?;
            let subject = text(src, t[1])?;
            let queue = t.get(2).map(|q| text(src, q)).transpose()?;
            done(if op == Name::RUnsub {
                RouteOp::Unsub {
                    account,
                    subject,
                    queue,
                }
            } else {
                RouteOp::LeafUnsub {
                    account,
                    subject,
                    queue,
                }
            })
        }
        Name::RMsg | Name::HMsg | Name::LMsg => {
            let off = usize::from(op == Name::LMsg);
            let nsizes = if op == Name::RMsg { 1 } else { 2 };
            if t.len() < 2 + off {
                return Err(bad);
            }
            let tail = msg_tail(&t[2 + off..], nsizes)?;
            let (hdr, total) = sizes(&tail, limits)?;
            let origin = if off == 1 {
                Some(text(src, t[0])?)
            } else {
                None
            };
            let account = text(src, t[off])?;
            let subject = text(src, t[off + 1])?;
            let reply = tail.reply.map(|r| text(src, r)).transpose()?;
            let queues = tail
                .queues
                .iter()
                .map(|q| text(src, q))
                .collect::<Result<Vec<_>, _>>()?;
            // The payload, then CRLF.
            let end = line_len + total;
            if buf.len() > end && buf[end] != b'\r' || buf.len() > end + 1 && buf[end + 1] != b'\n'
            {
                return Err(ProtocolError::PayloadSizeMismatch);
            }
            if buf.len() < end + 2 {
                return Ok(Parsed::Incomplete);
            }
            let headers = src.bytes(&buf[line_len..line_len + hdr]);
            let payload = src.bytes(&buf[line_len + hdr..end]);
            let op = match (op, origin) {
                (Name::LMsg, Some(origin)) => RouteOp::Lmsg {
                    origin,
                    account,
                    subject,
                    reply,
                    queues,
                    headers,
                    payload,
                },
                (Name::HMsg, _) => RouteOp::Hmsg {
                    account,
                    subject,
                    reply,
                    queues,
                    headers,
                    payload,
                },
                _ => RouteOp::Msg {
                    account,
                    subject,
                    reply,
                    queues,
                    payload,
                },
            };
            Ok(Parsed::Op { op, len: end + 2 })
        }
        // The ops without arguments were answered above.
        _ => Err(ProtocolError::UnknownOp),
    }
}
