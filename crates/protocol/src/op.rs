//! The typed operations of both directions of the protocol.

use crate::bytestr::ByteStr;
use crate::info::{ConnectInfo, ServerInfo};
use bytes::Bytes;

/// An operation a client sends to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientOp {
    /// `CONNECT <json>`
    Connect(Box<ConnectInfo>),
    /// `PUB <subject> [reply] <size>\r\n<payload>\r\n`
    Pub {
        subject: ByteStr,
        reply: Option<ByteStr>,
        payload: Bytes,
    },
    /// `HPUB <subject> [reply] <header size> <total size>\r\n<headers><payload>\r\n`.
    /// `headers` is the raw header block (starting `NATS/1.0`, ending with an empty line).
    Hpub {
        subject: ByteStr,
        reply: Option<ByteStr>,
        headers: Bytes,
        payload: Bytes,
    },
    /// `SUB <subject> [queue group] <sid>`
    Sub {
        subject: ByteStr,
        queue: Option<ByteStr>,
        sid: ByteStr,
    },
    /// `UNSUB <sid> [max msgs]`. As in nats-server, a max that is not 1 to 9 decimal digits
    /// (negative, not a number, too long) parses as `Some(0)`: unsubscribe now. So a max of
    /// 1,000,000,000 or more does not survive the wire.
    Unsub { sid: ByteStr, max: Option<u64> },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// An operation the server sends to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerOp {
    /// `INFO <json>`
    Info(Box<ServerInfo>),
    /// `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`
    Msg {
        subject: ByteStr,
        sid: ByteStr,
        reply: Option<ByteStr>,
        payload: Bytes,
    },
    /// `HMSG <subject> <sid> [reply] <header size> <total size>\r\n<headers><payload>\r\n`
    Hmsg {
        subject: ByteStr,
        sid: ByteStr,
        reply: Option<ByteStr>,
        headers: Bytes,
        payload: Bytes,
    },
    /// `+OK`
    Ok,
    /// `-ERR '<text>'`; the text is stored without the quotes.
    Err(String),
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// The result of parsing from the front of a buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<T> {
    /// A whole op, which used the first `len` bytes of the buffer.
    Op { op: T, len: usize },
    /// `len` bytes to skip, with nothing to do: an empty line or one of blanks only (which
    /// nats-server would refuse; Sluice forgives it), or a line nats-server ignores from a
    /// client (`+OK`, or `INFO` with well-formed JSON).
    Blank { len: usize },
    /// Not enough bytes yet; read more and call again with the same buffer, extended.
    Incomplete,
}
