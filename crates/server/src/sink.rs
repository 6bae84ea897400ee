//! What in-process subscribers receive, and the trait they receive it through.

use bytes::Bytes;
use sluice_protocol::ByteStr;
use std::sync::Arc;

/// A message delivered to an in-process subscriber. Everything is owned (copied out of the
/// publisher's read buffer), so the sink may keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct InternalMsg {
    pub subject: ByteStr,
    pub reply: Option<ByteStr>,
    /// The raw header block (`NATS/1.0 ...`), if the message had one.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// Where an in-process subscription's messages go. Called on the publisher's task, on the hot
/// path: it must not block (hand the message to a channel and return).
pub trait InternalSink: Send + Sync + 'static {
    /// Takes one message.
    fn deliver(&self, msg: InternalMsg);

    /// The backlog this sink fills, if it is bounded: a client connection that delivered into
    /// it while it is over its limit stops reading until it has room (see
    /// [`crate::Backlog`]).
    fn backlog(&self) -> Option<&Arc<crate::Backlog>> {
        None
    }
}
