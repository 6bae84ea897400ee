//! The arguments of a route control line: tokens split as nats-server's `splitArg` does,
//! sizes as its `parseSize`, and the reply/queue/size tail of RMSG, HMSG and LMSG as its
//! `processRouted*MsgArgs` read it (server/route.go).

use crate::error::ProtocolError;
use crate::limits::Limits;

/// nats-server's `splitArg` separators (LF cannot occur inside a line).
#[inline(always)]
pub(super) fn sep(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r' || b == b'\n'
}

/// The tokens of an argument list, on the stack for the usual counts.
pub(super) struct Tokens<'a> {
    small: [&'a [u8]; 16],
    len: usize,
    big: Vec<&'a [u8]>,
}

impl<'a> Tokens<'a> {
    pub(super) fn split(args: &'a [u8]) -> Tokens<'a> {
        let mut t = Tokens {
            small: [&[]; 16],
            len: 0,
            big: Vec::new(),
        };
        for tok in args.split(|&b| sep(b)).filter(|t| !t.is_empty()) {
            if t.len < t.small.len() {
                t.small[t.len] = tok;
            } else {
                if t.big.is_empty() {
                    t.big.extend_from_slice(&t.small);
                }
                t.big.push(tok);
            }
            t.len += 1;
        }
        t
    }

    pub(super) fn all(&self) -> &[&'a [u8]] {
        if self.big.is_empty() {
            &self.small[..self.len]
        } else {
            &self.big
        }
    }
}

/// The most digits a size may have (nats-server's `parseSize`).
const MAX_SIZE_DIGITS: usize = 9;

/// A size as nats-server reads one: 1 to 9 ASCII digits, leading zeros allowed.
pub(super) fn parse_size(tok: &[u8]) -> Option<usize> {
    if tok.is_empty() || tok.len() > MAX_SIZE_DIGITS || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(tok.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
}

/// The part of an RMSG/HMSG/LMSG after account and subject, as nats-server reads it: with
/// `nsizes` size tokens at the end, one more token is a reply; two or more start with a
/// one-byte marker, `+` (a reply follows, then queues) or `|` (queues only).
pub(super) struct MsgTail<'a, 't> {
    pub reply: Option<&'a [u8]>,
    pub queues: &'t [&'a [u8]],
    pub sizes: &'t [&'a [u8]],
}

pub(super) fn msg_tail<'a, 't>(
    t: &'t [&'a [u8]],
    nsizes: usize,
) -> Result<MsgTail<'a, 't>, ProtocolError> {
    let n = t.len();
    if n < nsizes {
        return Err(ProtocolError::BadArguments);
    }
    let sizes = &t[n - nsizes..];
    Ok(match n - nsizes {
        0 => MsgTail {
            reply: None,
            queues: &[],
            sizes,
        },
        1 => MsgTail {
            reply: Some(t[0]),
            queues: &[],
            sizes,
        },
        _ => match t[0] {
            b"+" => MsgTail {
                reply: Some(t[1]),
                queues: &t[2..n - nsizes],
                sizes,
            },
            b"|" => MsgTail {
                reply: None,
                queues: &t[1..n - nsizes],
                sizes,
            },
            _ => return Err(ProtocolError::BadArguments),
        },
    })
}

/// The header size (if `hdr`) and the total size, checked in nats-server's order.
pub(super) fn sizes(tail: &MsgTail, limits: &Limits) -> Result<(usize, usize), ProtocolError> {
    let bad = ProtocolError::BadArguments;
    let (hdr, total) = match tail.sizes {
        [total] => (0, parse_size(total).ok_or(bad)?),
        [hdr, total] => {
            let hdr = parse_size(hdr).ok_or(bad.clone())?;
            let total = parse_size(total).ok_or(bad)?;
            if hdr > total {
                return Err(ProtocolError::BadHeaderSize);
            }
            (hdr, total)
        }
        _ => return Err(bad),
    };
    if total > limits.max_payload {
        return Err(ProtocolError::PayloadTooLarge);
    }
    Ok((hdr, total))
}
