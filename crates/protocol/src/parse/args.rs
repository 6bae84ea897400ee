//! The arguments of a control line, as nom grammars.
//!
//! Each op's arguments are a fixed sequence of tokens, some optional, separated (and
//! surrounded) by runs of separator bytes: `all_consuming(terminated(tuple((token, ..,
//! opt(token))), separators))`. A wrong number of tokens is [`ProtocolError::BadArguments`],
//! as nats-server has it. Sizes are 1 to 9 ASCII digits (read by hand, see `parse_size`),
//! checked here against the payload limit. Errors come in nats-server's order: the number of
//! arguments, then the sizes, then (in [`scan`](super::scan), with [`text`]) the UTF-8 of
//! subjects, replies, queues and sids.
//!
//! Inputs are `&[u8]` and the error type is `()`, so the combinators compile to plain loops
//! over the bytes: no error values are built and nothing is allocated.

use super::Span;
use crate::error::ProtocolError;
use crate::limits::Limits;
use nom::bytes::complete::{take_till1, take_while};
use nom::combinator::{all_consuming, opt};
use nom::sequence::{preceded, terminated, tuple};
use nom::IResult;

/// A nom result over the bytes of a line, with no error detail.
pub(super) type PResult<'a, O> = IResult<&'a [u8], O, ()>;

/// A space or a tab. (Most bytes are above `b' '`, so one compare usually settles it.)
#[inline(always)]
pub(super) fn blank(b: u8) -> bool {
    b <= b' ' && (b == b' ' || b == b'\t')
}

/// The run of blanks at the front of `i` (perhaps empty): `(rest, blanks)`.
#[inline(always)]
pub(super) fn blanks(i: &[u8]) -> (&[u8], &[u8]) {
    let run: PResult<'_, &[u8]> = take_while(blank)(i);
    run.unwrap_or((i, &[]))
}

/// SUB, UNSUB, MSG and HMSG also split on CR (nats-server's and nats.go's `splitArg`); PUB
/// and HPUB split on blanks only, so a CR is part of a token there, as in nats-server.
#[inline(always)]
fn blank_or_cr(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// One argument: the separators before it, then at least one other byte.
#[inline(always)]
fn token<'a>(sep: impl Fn(u8) -> bool + Copy) -> impl FnMut(&'a [u8]) -> PResult<'a, &'a [u8]> {
    preceded(take_while(sep), take_till1(sep))
}

/// `args` read by `grammar`, which must account for every token; trailing separators are
/// allowed. Any mismatch is `BadArguments`.
#[inline(always)]
fn whole<'a, O>(
    args: &'a [u8],
    sep: impl Fn(u8) -> bool,
    grammar: impl FnMut(&'a [u8]) -> PResult<'a, O>,
) -> Result<O, ProtocolError> {
    all_consuming(terminated(grammar, take_while(sep)))(args)
        .map(|(_, out)| out)
        .map_err(|_| ProtocolError::BadArguments)
}

/// A PUB or HPUB (`hdr: Some`): its subject and reply, and its checked sizes.
pub(super) struct PubArgs<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub hdr: Option<usize>,
    pub total: usize,
}

/// The arguments of a PUB: `<subject> [reply] <#bytes>`, blank-separated.
#[inline(always)]
pub(super) fn pub_args<'a>(a: &'a [u8], limits: &Limits) -> Result<PubArgs<'a>, ProtocolError> {
    let t = || token(blank);
    let (subject, reply, total) = match whole(a, blank, tuple((t(), t(), opt(t()))))? {
        (subject, total, None) => (subject, None, total),
        (subject, reply, Some(total)) => (subject, Some(reply), total),
    };
    Ok(PubArgs {
        subject,
        reply,
        hdr: None,
        total: size(total, limits)?,
    })
}

/// The arguments of an HPUB: `<subject> [reply] <#header bytes> <#total bytes>`.
pub(super) fn hpub_args<'a>(a: &'a [u8], limits: &Limits) -> Result<PubArgs<'a>, ProtocolError> {
    let t = || token(blank);
    let (subject, reply, hdr, total) = match whole(a, blank, tuple((t(), t(), t(), opt(t()))))? {
        (subject, hdr, total, None) => (subject, None, hdr, total),
        (subject, reply, hdr, Some(total)) => (subject, Some(reply), hdr, total),
    };
    let (hdr, total) = hdr_total(hdr, total, limits)?;
    Ok(PubArgs {
        subject,
        reply,
        hdr: Some(hdr),
        total,
    })
}

/// A SUB's subject, queue group and sid.
pub(super) struct SubArgs<'a> {
    pub subject: &'a [u8],
    pub queue: Option<&'a [u8]>,
    pub sid: &'a [u8],
}

/// The arguments of a SUB: `<subject> [queue] <sid>`.
pub(super) fn sub_args(a: &[u8]) -> Result<SubArgs<'_>, ProtocolError> {
    let t = || token(blank_or_cr);
    let (subject, queue, sid) = match whole(a, blank_or_cr, tuple((t(), t(), opt(t()))))? {
        (subject, sid, None) => (subject, None, sid),
        (subject, queue, Some(sid)) => (subject, Some(queue), sid),
    };
    Ok(SubArgs {
        subject,
        queue,
        sid,
    })
}

/// The arguments of an UNSUB, `<sid> [max]`: the sid and the max. As nats-server: a max that
/// is not a size (not a number, negative, more than nine digits) means "unsubscribe now", as 0
/// does.
pub(super) fn unsub_args(a: &[u8]) -> Result<(&[u8], Option<u64>), ProtocolError> {
    let t = || token(blank_or_cr);
    let (sid, max) = whole(a, blank_or_cr, tuple((t(), opt(t()))))?;
    Ok((sid, max.map(|m| parse_size(m).unwrap_or(0) as u64)))
}

/// A MSG or HMSG (`hdr: Some`): its subject, sid and reply, and its checked sizes.
pub(super) struct MsgArgs<'a> {
    pub subject: &'a [u8],
    pub sid: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub hdr: Option<usize>,
    pub total: usize,
}

/// The arguments of a MSG: `<subject> <sid> [reply] <#bytes>`.
#[inline(always)]
pub(super) fn msg_args<'a>(a: &'a [u8], limits: &Limits) -> Result<MsgArgs<'a>, ProtocolError> {
    let t = || token(blank_or_cr);
    let (subject, sid, reply, total) =
        match whole(a, blank_or_cr, tuple((t(), t(), t(), opt(t()))))? {
            (subject, sid, total, None) => (subject, sid, None, total),
            (subject, sid, reply, Some(total)) => (subject, sid, Some(reply), total),
        };
    Ok(MsgArgs {
        subject,
        sid,
        reply,
        hdr: None,
        total: size(total, limits)?,
    })
}

/// The arguments of an HMSG: `<subject> <sid> [reply] <#header bytes> <#total bytes>`.
pub(super) fn hmsg_args<'a>(a: &'a [u8], limits: &Limits) -> Result<MsgArgs<'a>, ProtocolError> {
    let t = || token(blank_or_cr);
    let (subject, sid, reply, hdr, total) =
        match whole(a, blank_or_cr, tuple((t(), t(), t(), t(), opt(t()))))? {
            (subject, sid, hdr, total, None) => (subject, sid, None, hdr, total),
            (subject, sid, reply, hdr, Some(total)) => (subject, sid, Some(reply), hdr, total),
        };
    let (hdr, total) = hdr_total(hdr, total, limits)?;
    Ok(MsgArgs {
        subject,
        sid,
        reply,
        hdr: Some(hdr),
        total,
    })
}

/// `args` trimmed of blanks (for the JSON of CONNECT/INFO and the text of -ERR).
pub(super) fn trimmed(args: &[u8]) -> &[u8] {
    let (text, _) = blanks(args);
    let end = text.iter().rposition(|&b| !blank(b)).map_or(0, |p| p + 1);
    &text[..end]
}

/// The most digits a size may have (nats-server's `parseSize`: at most 999,999,999).
const MAX_SIZE_DIGITS: usize = 9;

/// A size as nats-server reads one: 1 to 9 ASCII digits, leading zeros allowed, no sign.
#[inline(always)]
fn parse_size(tok: &[u8]) -> Option<usize> {
    // By hand rather than with nom's `digit1`: it runs for every PUB. Once the route parser
    // (more nom code) joined the crate, a no-subscriber publish ran 5-10 % slower; this
    // brought it back (bench/ISSUE17-AB.md).
    if tok.is_empty() || tok.len() > MAX_SIZE_DIGITS || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(tok.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
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

/// A subject, reply, queue or sid, a token of `buf`: must be UTF-8.
#[inline(always)]
pub(super) fn text(buf: &[u8], tok: &[u8]) -> Result<Span, ProtocolError> {
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
