//! Control lines: the op name, what follows it, and where the line ends.
//!
//! This mirrors nats-server's byte-by-byte state machine (server/parser.go): the op name is
//! matched a byte at a time and refused at the first byte that cannot continue it, so junk
//! is an unknown op at once, not a long line; each name has its own rule for what may follow
//! it; and the control-line limit applies to the arguments (what follows the name and the
//! blanks after it), not to the whole line.
//!
//! The names are nom's streaming [`tag_no_case`] tried in order by [`alt`]: a buffer that is
//! still a prefix of a name is `Incomplete`, one that no name starts with is an error. The
//! busiest name of each direction (PUB, MSG) followed by a blank is first checked by one word
//! compare, ahead of the `alt`. The line end is found by [`find_lf`], a `memchr`-like scan.

use super::args::{blank, blanks, PResult};
use crate::error::ProtocolError;
use crate::limits::Limits;
use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::bytes::streaming::tag_no_case;
use nom::character::streaming::line_ending;
use nom::combinator::value;
use nom::Err;

/// The op names each direction knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
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
pub(super) enum Follow {
    /// At least one blank, then the arguments (PUB, HPUB, SUB, UNSUB, MSG, HMSG, -ERR).
    Blank,
    /// Optional blanks, then the argument (CONNECT and INFO: `CONNECT{...}` is fine).
    MaybeBlank,
    /// Anything up to the line end, which is ignored (PING, PONG, +OK).
    Anything,
}

/// The op names of one direction.
#[derive(Clone, Copy)]
pub(super) struct Names {
    /// The busiest op's three-letter name (uppercase) and its name, checked first.
    hot: ([u8; 3], Name),
    /// All the direction's names, the hot one included: nom's `alt` over `tag_no_case`.
    name: for<'a> fn(&'a [u8]) -> PResult<'a, (Name, Follow)>,
}

/// Client -> server names, the hot one first.
pub(super) const CLIENT: Names = Names {
    hot: (*b"PUB", Name::Pub),
    name: client_name,
};

/// Server -> client names, the hot one first.
pub(super) const SERVER: Names = Names {
    hot: (*b"MSG", Name::Msg),
    name: server_name,
};

/// A client->server op name (any case), and what may follow it.
fn client_name(i: &[u8]) -> PResult<'_, (Name, Follow)> {
    alt((
        value((Name::Pub, Follow::Blank), tag_no_case("PUB")),
        value((Name::Hpub, Follow::Blank), tag_no_case("HPUB")),
        value((Name::Sub, Follow::Blank), tag_no_case("SUB")),
        value((Name::Unsub, Follow::Blank), tag_no_case("UNSUB")),
        value((Name::Ping, Follow::Anything), tag_no_case("PING")),
        value((Name::Pong, Follow::Anything), tag_no_case("PONG")),
        value((Name::Connect, Follow::MaybeBlank), tag_no_case("CONNECT")),
        value((Name::Info, Follow::MaybeBlank), tag_no_case("INFO")),
        value((Name::Ok, Follow::Anything), tag_no_case("+OK")),
        value((Name::Err, Follow::Blank), tag_no_case("-ERR")),
    ))(i)
}

/// A server->client op name (any case), and what may follow it.
fn server_name(i: &[u8]) -> PResult<'_, (Name, Follow)> {
    alt((
        value((Name::Msg, Follow::Blank), tag_no_case("MSG")),
        value((Name::Hmsg, Follow::Blank), tag_no_case("HMSG")),
        value((Name::Ping, Follow::Anything), tag_no_case("PING")),
        value((Name::Pong, Follow::Anything), tag_no_case("PONG")),
        value((Name::Ok, Follow::Anything), tag_no_case("+OK")),
        value((Name::Err, Follow::Blank), tag_no_case("-ERR")),
        value((Name::Info, Follow::MaybeBlank), tag_no_case("INFO")),
    ))(i)
}

/// A control line found at the front of a buffer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Line {
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
/// its length, name and rule, or `None` while `buf` is still a prefix of some name.
#[inline(always)]
fn match_name(buf: &[u8], names: Names) -> Result<Option<(usize, Name, Follow)>, ProtocolError> {
    match (names.name)(buf) {
        Ok((rest, (name, follow))) => Ok(Some((buf.len() - rest.len(), name, follow))),
        Err(Err::Incomplete(_)) => Ok(None),
        Err(_) => Err(ProtocolError::UnknownOp),
    }
}

/// True if `buf` starts with the three-letter name `hot` (any case) and a blank.
#[inline(always)]
fn is_hot(buf: &[u8], hot: [u8; 3]) -> bool {
    if buf.len() < 4 {
        return false;
    }
    // Folding case with `| 0x20` is exact for letters, and `hot` is all letters.
    let word = u32::from_le_bytes([buf[0], buf[1], buf[2], 0]) | 0x0020_2020;
    let want = u32::from_le_bytes([hot[0], hot[1], hot[2], 0]) | 0x0020_2020;
    word == want && blank(buf[3])
}

/// A line of blanks at the front of `buf`, which starts with a blank, CR or LF: the blanks,
/// then nom's streaming `line_ending` (LF or CRLF; `Incomplete` on nothing or a lone CR).
#[cold]
fn blank_line(buf: &[u8], limits: &Limits) -> Result<Option<Line>, ProtocolError> {
    let (rest, run) = blanks(buf);
    if run.len() > limits.max_control_line {
        return Err(ProtocolError::ControlLineTooLong);
    }
    match line_ending::<_, ()>(rest) {
        Ok((after, _)) => Ok(Some(Line::Blank {
            len: buf.len() - after.len(),
        })),
        Err(Err::Incomplete(_)) => Ok(None),
        // Blanks before an op name (or a stray CR): nats-server refuses the first blank.
        Err(_) => Err(ProtocolError::UnknownOp),
    }
}

/// The control line at the front of `buf`, or `None` if more bytes are needed to tell.
///
/// Errors are reported as soon as the bytes seen prove them: a name that no known name
/// starts with, a missing blank after a name that needs one, and arguments (or a blank line,
/// or the run of blanks after a name) longer than the limit, even before the LF arrives.
#[inline(always)]
pub(super) fn control_line(
    buf: &[u8],
    names: Names,
    limits: &Limits,
) -> Result<Option<Line>, ProtocolError> {
    let max = limits.max_control_line;
    let (name, name_len, args) = if is_hot(buf, names.hot.0) {
        // The direction's busiest op (PUB, MSG) with its usual single blank: no `alt`.
        let (_, more) = blanks(&buf[4..]);
        (names.hot.1, 3, 4 + more.len())
    } else {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if blank(first) || first == b'\r' || first == b'\n' {
            return blank_line(buf, limits);
        }
        let Some((name_len, name, follow)) = match_name(buf, names)? else {
            return Ok(None);
        };
        let after = &buf[name_len..];
        let rest = match follow {
            Follow::Anything => after,
            // Whether a blank follows cannot be told yet.
            _ if after.is_empty() => return Ok(None),
            Follow::Blank => match take_while1::<_, _, ()>(blank)(after) {
                Ok((rest, _)) => rest,
                Err(_) => return Err(ProtocolError::UnknownOp),
            },
            Follow::MaybeBlank => blanks(after).0,
        };
        (name, name_len, buf.len() - rest.len())
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
