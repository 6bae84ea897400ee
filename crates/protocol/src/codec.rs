//! tokio-util `Decoder`/`Encoder` implementations for both ends of a connection.
//!
//! [`ServerCodec`] is the server's view (decodes client ops, encodes server ops);
//! [`ClientCodec`] is a client's view (decodes server ops, encodes client ops). Decoding scans
//! the read buffer in place, then splits off exactly one op's bytes and freezes them, so every
//! payload is a slice of the read buffer.

use crate::error::CodecError;
use crate::limits::Limits;
use crate::op::{ClientOp, Parsed, ServerOp};
use crate::parse::{scan_client, scan_server};
use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Decodes what a client sends; encodes what a server sends.
#[derive(Debug, Clone, Default)]
pub struct ServerCodec {
    /// Limits applied to every decoded op.
    pub limits: Limits,
}

impl ServerCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        ServerCodec { limits }
    }
}

impl Decoder for ServerCodec {
    type Item = ClientOp;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ClientOp>, CodecError> {
        loop {
            match scan_client(src, &self.limits)? {
                Parsed::Op { op, len } => {
                    return Ok(Some(op.resolve_frame(src.split_to(len).freeze())));
                }
                Parsed::Blank { len } => src.advance(len),
                Parsed::Incomplete => return Ok(None),
            }
        }
    }
}

impl Encoder<ServerOp> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, op: ServerOp, dst: &mut BytesMut) -> Result<(), CodecError> {
        op.encode(dst);
        Ok(())
    }
}

impl Encoder<&ServerOp> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, op: &ServerOp, dst: &mut BytesMut) -> Result<(), CodecError> {
        op.encode(dst);
        Ok(())
    }
}

/// Decodes what a server sends; encodes what a client sends.
#[derive(Debug, Clone)]
pub struct ClientCodec {
    /// Limits applied to every decoded op. A client trusts its server, so the default control
    /// line limit is larger than a server's (INFO can carry long URL lists).
    pub limits: Limits,
}

impl Default for ClientCodec {
    fn default() -> Self {
        ClientCodec {
            limits: Limits {
                max_control_line: 64 * 1024,
                max_payload: 64 * 1024 * 1024,
            },
        }
    }
}

impl ClientCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        ClientCodec { limits }
    }
}

impl Decoder for ClientCodec {
    type Item = ServerOp;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ServerOp>, CodecError> {
        loop {
            match scan_server(src, &self.limits)? {
                Parsed::Op { op, len } => {
                    return Ok(Some(op.resolve_frame(src.split_to(len).freeze())));
                }
                Parsed::Blank { len } => src.advance(len),
                Parsed::Incomplete => return Ok(None),
            }
        }
    }
}

impl Encoder<ClientOp> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, op: ClientOp, dst: &mut BytesMut) -> Result<(), CodecError> {
        op.encode(dst);
        Ok(())
    }
}

impl Encoder<&ClientOp> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, op: &ClientOp, dst: &mut BytesMut) -> Result<(), CodecError> {
        op.encode(dst);
        Ok(())
    }
}
