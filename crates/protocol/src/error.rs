//! Protocol errors. Each variant's `Display` text is exactly the text nats-server puts inside
//! `-ERR '...'` for the same fault, so the server can send `-ERR '{err}'` without a table.

use thiserror::Error;

/// A violation of the wire protocol found while parsing. All are fatal for the connection
/// (nats-server closes it too) unless noted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The op name is not one this direction of the protocol knows, or an op has the wrong
    /// number or form of arguments.
    #[error("Unknown Protocol Operation")]
    UnknownOp,
    /// A control line (everything before CRLF) is longer than the configured limit.
    #[error("Maximum Control Line Exceeded")]
    ControlLineTooLong,
    /// A PUB/HPUB/MSG/HMSG declares a payload larger than the configured limit.
    #[error("Maximum Payload Violation")]
    PayloadTooLarge,
    /// A subject, reply subject or queue name is not valid UTF-8.
    #[error("Invalid Subject")]
    InvalidSubject,
    /// The bytes after a payload are not CRLF (or LF): the declared size did not match.
    #[error("Unknown Protocol Operation")]
    PayloadSizeMismatch,
    /// HPUB/HMSG: the header size is larger than the total size, or the header block is not a
    /// `NATS/1.0` block.
    #[error("Unknown Protocol Operation")]
    BadHeaderSize,
    /// CONNECT or INFO carried JSON that does not decode.
    #[error("Unknown Protocol Operation")]
    BadJson,
}

/// What the tokio-util codecs return: a protocol violation or an I/O error from the stream.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The peer broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The underlying transport failed.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// A header block that cannot be parsed or an entry that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// The block does not start with `NATS/1.0`.
    #[error("header block does not start with NATS/1.0")]
    BadVersionLine,
    /// The status on the version line is not a three-digit code.
    #[error("bad status code in header version line")]
    BadStatus,
    /// A line is not `Key: Value`.
    #[error("header line is not 'Key: Value'")]
    BadLine,
    /// A key is empty or holds `:` or whitespace.
    #[error("invalid header key")]
    BadKey,
    /// A value holds CR or LF.
    #[error("invalid header value")]
    BadValue,
    /// The block is not UTF-8.
    #[error("header block is not UTF-8")]
    NotUtf8,
    /// Bytes follow the empty line that ends the block.
    #[error("data after the end of the header block")]
    TrailingData,
}
