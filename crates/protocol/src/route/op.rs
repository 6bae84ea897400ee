//! The operations of nats-server's route protocol (server <-> server), as data.

use super::info::{RouteConnect, RouteInfo};
use crate::bytestr::ByteStr;
use bytes::Bytes;

/// A queue group of an RS+/LS+, with its weight: how many members the sending server has
/// (nats-server sends the count again each time it changes, and RS- when it drops to 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWeight {
    pub queue: ByteStr,
    pub weight: u32,
}

/// An operation on a route. Both directions use the same set.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteOp {
    /// `INFO <json>`
    Info(Box<RouteInfo>),
    /// `CONNECT <json>`
    Connect(Box<RouteConnect>),
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
    /// `+OK` (only sent to a peer whose CONNECT asked for `verbose`).
    Ok,
    /// `-ERR '<text>'`; the text is kept without the quotes.
    Err(String),
    /// `RS+ <account> <subject> [<queue> <weight>]`: the sender has interest in `subject`.
    Sub {
        account: ByteStr,
        subject: ByteStr,
        queue: Option<QueueWeight>,
    },
    /// `RS- <account> <subject> [<queue>]`: the sender's interest is gone.
    Unsub {
        account: ByteStr,
        subject: ByteStr,
        queue: Option<ByteStr>,
    },
    /// `LS+ <origin> <account> <subject> [<queue> <weight>]`: an RS+ for a subscription of a
    /// leafnode whose cluster is `origin`; only sent to a peer whose CONNECT had `lnoc`.
    LeafSub {
        origin: ByteStr,
        account: ByteStr,
        subject: ByteStr,
        queue: Option<QueueWeight>,
    },
    /// `LS- <account> <subject> [<queue>]` (nats-server 2.9.10 writes two blanks after `LS-`).
    LeafUnsub {
        account: ByteStr,
        subject: ByteStr,
        queue: Option<ByteStr>,
    },
    /// `RMSG <account> <subject> [<reply>] <size>` without queue groups, or
    /// `RMSG <account> <subject> (+ <reply> | \|) <queue>... <size>` with them.
    /// `queues` are the queue groups of the receiver that should get one copy each.
    Msg {
        account: ByteStr,
        subject: ByteStr,
        reply: Option<ByteStr>,
        queues: Vec<ByteStr>,
        payload: Bytes,
    },
    /// `HMSG <account> <subject> [reply/queues as RMSG] <header size> <total size>`.
    /// `headers` is the raw header block (`NATS/1.0...` up to and including the empty line).
    Hmsg {
        account: ByteStr,
        subject: ByteStr,
        reply: Option<ByteStr>,
        queues: Vec<ByteStr>,
        headers: Bytes,
        payload: Bytes,
    },
    /// `LMSG <origin> <account> <subject> [reply/queues as RMSG] <header size> <total size>`:
    /// a message published by a leafnode of cluster `origin`; always has a header size, which
    /// may be 0 (then `headers` is empty). Only sent to a peer whose CONNECT had `lnoc`.
    Lmsg {
        origin: ByteStr,
        account: ByteStr,
        subject: ByteStr,
        reply: Option<ByteStr>,
        queues: Vec<ByteStr>,
        headers: Bytes,
        payload: Bytes,
    },
}
