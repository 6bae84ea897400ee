//! The route encoder: each op appended to a caller's `BytesMut` exactly as nats-server 2.9.10
//! writes it (protocol-spec/routes.md, captured in protocol-spec/vectors/route/).
//!
//! [`encode_rmsg`] and [`encode_lmsg`] are the hot-path forms: borrowed parts in, no
//! allocation but the buffer's own growth. Sizes are written in decimal; nats-server instead
//! forwards the size digits the publisher sent (so a client's `PUB foo 005` crosses a route
//! as `RMSG $G foo 005`), which the parser accepts.

use super::op::{QueueWeight, RouteOp};
use bytes::{BufMut, BytesMut};

use crate::encode::{put_num, CRLF};

/// The reply and queue groups of an RMSG/HMSG/LMSG, each followed by a blank: `reply ` without
/// queues, `+ reply q1 q2 ` or `| q1 q2 ` with them.
#[inline]
fn put_reply_queues<I, Q>(dst: &mut BytesMut, reply: Option<&str>, queues: I)
where
    I: IntoIterator<Item = Q>,
    Q: AsRef<str>,
{
    let mut queues = queues.into_iter().peekable();
    if queues.peek().is_some() {
        match reply {
            Some(r) => {
                dst.put_slice(b"+ ");
                dst.put_slice(r.as_bytes());
                dst.put_u8(b' ');
            }
            None => dst.put_slice(b"| "),
        }
        for q in queues {
            dst.put_slice(q.as_ref().as_bytes());
            dst.put_u8(b' ');
        }
    } else if let Some(r) = reply {
        dst.put_slice(r.as_bytes());
        dst.put_u8(b' ');
    }
}

/// Appends `RMSG` (or, with `headers`, `HMSG`) for one message forwarded to a route:
/// `RMSG <account> <subject> [reply] <size>`, or with queue groups
/// `RMSG <account> <subject> + <reply> <queue>... <size>` / `... | <queue>... <size>`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_rmsg<I, Q>(
    dst: &mut BytesMut,
    account: &str,
    subject: &str,
    reply: Option<&str>,
    queues: I,
    headers: Option<&[u8]>,
    payload: &[u8],
) where
    I: IntoIterator<Item = Q>,
    Q: AsRef<str>,
{
    let hlen = headers.map_or(0, <[u8]>::len);
    dst.reserve(
        account.len() + subject.len() + reply.map_or(0, str::len) + hlen + payload.len() + 48,
    );
    dst.put_slice(if headers.is_some() {
        b"HMSG "
    } else {
        b"RMSG "
    });
    dst.put_slice(account.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(subject.as_bytes());
    dst.put_u8(b' ');
    put_reply_queues(dst, reply, queues);
    if let Some(h) = headers {
        put_num(dst, h.len());
        dst.put_u8(b' ');
    }
    put_num(dst, hlen + payload.len());
    dst.put_slice(CRLF);
    if let Some(h) = headers {
        dst.put_slice(h);
    }
    dst.put_slice(payload);
    dst.put_slice(CRLF);
}

/// Appends `LMSG <origin> <account> <subject> [reply/queues] <header size> <total size>`; the
/// header size is always written, 0 when `headers` is empty.
#[allow(clippy::too_many_arguments)]
pub fn encode_lmsg<I, Q>(
    dst: &mut BytesMut,
    origin: &str,
    account: &str,
    subject: &str,
    reply: Option<&str>,
    queues: I,
    headers: &[u8],
    payload: &[u8],
) where
    I: IntoIterator<Item = Q>,
    Q: AsRef<str>,
{
    dst.reserve(origin.len() + account.len() + subject.len() + headers.len() + payload.len() + 48);
    dst.put_slice(b"LMSG ");
    dst.put_slice(origin.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(account.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(subject.as_bytes());
    dst.put_u8(b' ');
    put_reply_queues(dst, reply, queues);
    put_num(dst, headers.len());
    dst.put_u8(b' ');
    put_num(dst, headers.len() + payload.len());
    dst.put_slice(CRLF);
    dst.put_slice(headers);
    dst.put_slice(payload);
    dst.put_slice(CRLF);
}

/// Appends `RS+ <account> <subject>` or `RS+ <account> <subject> <queue> <weight>`.
pub fn encode_rs_sub(dst: &mut BytesMut, account: &str, subject: &str, queue: Option<(&str, u32)>) {
    dst.put_slice(b"RS+ ");
    put_sub_args(dst, account, subject, queue);
}

/// Appends `RS- <account> <subject> [queue]`.
pub fn encode_rs_unsub(dst: &mut BytesMut, account: &str, subject: &str, queue: Option<&str>) {
    dst.put_slice(b"RS- ");
    put_unsub_args(dst, account, subject, queue);
}

/// Appends `LS+ <origin> <account> <subject> [<queue> <weight>]`.
pub fn encode_ls_sub(
    dst: &mut BytesMut,
    origin: &str,
    account: &str,
    subject: &str,
    queue: Option<(&str, u32)>,
) {
    dst.put_slice(b"LS+ ");
    dst.put_slice(origin.as_bytes());
    dst.put_u8(b' ');
    put_sub_args(dst, account, subject, queue);
}

/// Appends `LS-  <account> <subject> [queue]`, with the two blanks nats-server 2.9.10 writes
/// (route.go `addRouteSubOrUnsubProtoToBuf`: `"LS- "` and then `' '`).
pub fn encode_ls_unsub(dst: &mut BytesMut, account: &str, subject: &str, queue: Option<&str>) {
    dst.put_slice(b"LS-  ");
    put_unsub_args(dst, account, subject, queue);
}

fn put_sub_args(dst: &mut BytesMut, account: &str, subject: &str, queue: Option<(&str, u32)>) {
    dst.put_slice(account.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(subject.as_bytes());
    if let Some((q, weight)) = queue {
        dst.put_u8(b' ');
        dst.put_slice(q.as_bytes());
        dst.put_u8(b' ');
        put_num(dst, weight as usize);
    }
    dst.put_slice(CRLF);
}

fn put_unsub_args(dst: &mut BytesMut, account: &str, subject: &str, queue: Option<&str>) {
    dst.put_slice(account.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(subject.as_bytes());
    if let Some(q) = queue {
        dst.put_u8(b' ');
        dst.put_slice(q.as_bytes());
    }
    dst.put_slice(CRLF);
}

fn qw(q: &Option<QueueWeight>) -> Option<(&str, u32)> {
    q.as_ref().map(|q| (q.queue.as_str(), q.weight))
}

fn put_json<T: serde::Serialize>(dst: &mut BytesMut, prefix: &[u8], value: &T, suffix: &[u8]) {
    dst.put_slice(prefix);
    // Plain structs with string-keyed maps: serializing cannot fail.
    let json = serde_json::to_vec(value).expect("route INFO/CONNECT always serialize");
    dst.put_slice(&json);
    dst.put_slice(suffix);
}

impl RouteOp {
    /// Appends this op's wire form to `dst`, as nats-server 2.9.10 writes it: `INFO <json>
    /// \r\n` (a blank before CRLF), `CONNECT <json>\r\n`, `-ERR '<text>'`.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            RouteOp::Info(info) => put_json(dst, b"INFO ", info, b" \r\n"),
            RouteOp::Connect(c) => put_json(dst, b"CONNECT ", c, CRLF),
            RouteOp::Ping => dst.put_slice(b"PING\r\n"),
            RouteOp::Pong => dst.put_slice(b"PONG\r\n"),
            RouteOp::Ok => dst.put_slice(b"+OK\r\n"),
            RouteOp::Err(text) => {
                dst.put_slice(b"-ERR '");
                dst.put_slice(text.as_bytes());
                dst.put_slice(b"'\r\n");
            }
            RouteOp::Sub {
                account,
                subject,
                queue,
            } => encode_rs_sub(dst, account, subject, qw(queue)),
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => encode_rs_unsub(dst, account, subject, queue.as_deref()),
            RouteOp::LeafSub {
                origin,
                account,
                subject,
                queue,
            } => encode_ls_sub(dst, origin, account, subject, qw(queue)),
            RouteOp::LeafUnsub {
                account,
                subject,
                queue,
            } => encode_ls_unsub(dst, account, subject, queue.as_deref()),
            RouteOp::Msg {
                account,
                subject,
                reply,
                queues,
                payload,
            } => encode_rmsg(
                dst,
                account,
                subject,
                reply.as_deref(),
                queues,
                None,
                payload,
            ),
            RouteOp::Hmsg {
                account,
                subject,
                reply,
                queues,
                headers,
                payload,
            } => encode_rmsg(
                dst,
                account,
                subject,
                reply.as_deref(),
                queues,
                Some(headers),
                payload,
            ),
            RouteOp::Lmsg {
                origin,
                account,
                subject,
                reply,
                queues,
                headers,
                payload,
            } => encode_lmsg(
                dst,
                origin,
                account,
                subject,
                reply.as_deref(),
                queues,
                headers,
                payload,
            ),
        }
    }
}
