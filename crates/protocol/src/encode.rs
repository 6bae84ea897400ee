//! The encoder: every op appends its wire form to a caller's `BytesMut`.
//!
//! The free functions [`encode_msg`] and [`encode_pub`] are the hot-path forms: they take
//! borrowed parts, so a server can write a MSG frame for each subscriber straight into that
//! subscriber's outbound buffer without building an op.

use crate::op::{ClientOp, ServerOp};
use bytes::{BufMut, BytesMut};

pub(crate) const CRLF: &[u8] = b"\r\n";

#[inline]
pub(crate) fn put_num(dst: &mut BytesMut, n: usize) {
    let mut buf = itoa::Buffer::new();
    dst.put_slice(buf.format(n).as_bytes());
}

/// Appends `MSG`/`HMSG` for one delivery. With `headers` it writes HMSG, whose header size is
/// `headers.len()` and total size `headers.len() + payload.len()`.
#[inline]
pub fn encode_msg(
    dst: &mut BytesMut,
    subject: &str,
    sid: &str,
    reply: Option<&str>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let hlen = headers.map_or(0, <[u8]>::len);
    dst.reserve(subject.len() + sid.len() + reply.map_or(0, str::len) + hlen + payload.len() + 40);
    dst.put_slice(if headers.is_some() { b"HMSG " } else { b"MSG " });
    dst.put_slice(subject.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(sid.as_bytes());
    dst.put_u8(b' ');
    if let Some(reply) = reply {
        dst.put_slice(reply.as_bytes());
        dst.put_u8(b' ');
    }
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

/// Appends `PUB`/`HPUB`. With `headers` it writes HPUB.
#[inline]
pub fn encode_pub(
    dst: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let hlen = headers.map_or(0, <[u8]>::len);
    dst.reserve(subject.len() + reply.map_or(0, str::len) + hlen + payload.len() + 32);
    dst.put_slice(if headers.is_some() { b"HPUB " } else { b"PUB " });
    dst.put_slice(subject.as_bytes());
    dst.put_u8(b' ');
    if let Some(reply) = reply {
        dst.put_slice(reply.as_bytes());
        dst.put_u8(b' ');
    }
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

/// Appends `-ERR '<text>'`.
pub fn encode_err(dst: &mut BytesMut, text: &str) {
    dst.put_slice(b"-ERR '");
    dst.put_slice(text.as_bytes());
    dst.put_slice(b"'\r\n");
}

fn put_json<T: serde::Serialize>(dst: &mut BytesMut, name: &[u8], value: &T) {
    dst.put_slice(name);
    dst.put_u8(b' ');
    // Serializing these plain structs cannot fail: no maps with non-string keys.
    let json = serde_json::to_vec(value).expect("CONNECT/INFO always serialize");
    dst.put_slice(&json);
    dst.put_slice(CRLF);
}

impl ClientOp {
    /// Appends this op's wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            ClientOp::Connect(info) => put_json(dst, b"CONNECT", info),
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => encode_pub(dst, subject, reply.as_deref(), None, payload),
            ClientOp::Hpub {
                subject,
                reply,
                headers,
                payload,
            } => encode_pub(dst, subject, reply.as_deref(), Some(headers), payload),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                dst.put_slice(b"SUB ");
                dst.put_slice(subject.as_bytes());
                if let Some(q) = queue {
                    dst.put_u8(b' ');
                    dst.put_slice(q.as_bytes());
                }
                dst.put_u8(b' ');
                dst.put_slice(sid.as_bytes());
                dst.put_slice(CRLF);
            }
            ClientOp::Unsub { sid, max } => {
                dst.put_slice(b"UNSUB ");
                dst.put_slice(sid.as_bytes());
                if let Some(max) = max {
                    dst.put_u8(b' ');
                    let mut buf = itoa::Buffer::new();
                    dst.put_slice(buf.format(*max).as_bytes());
                }
                dst.put_slice(CRLF);
            }
            ClientOp::Ping => dst.put_slice(b"PING\r\n"),
            ClientOp::Pong => dst.put_slice(b"PONG\r\n"),
        }
    }
}

impl ServerOp {
    /// Appends this op's wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            ServerOp::Info(info) => put_json(dst, b"INFO", info),
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => encode_msg(dst, subject, sid, reply.as_deref(), None, payload),
            ServerOp::Hmsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => encode_msg(dst, subject, sid, reply.as_deref(), Some(headers), payload),
            ServerOp::Ok => dst.put_slice(b"+OK\r\n"),
            ServerOp::Err(text) => encode_err(dst, text),
            ServerOp::Ping => dst.put_slice(b"PING\r\n"),
            ServerOp::Pong => dst.put_slice(b"PONG\r\n"),
        }
    }
}
