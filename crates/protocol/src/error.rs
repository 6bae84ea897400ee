//! Protocol errors. Each variant's `Display` text is exactly the text nats-server puts inside
//! `-ERR '...'` for the same fault, so the server can send `-ERR '{err}'` without a table.
//! For faults nats-server answers by closing the connection silently, see each variant.

use thiserror::Error;

/// A violation of the wire protocol found while parsing. All are fatal for the connection:
/// after one, the rest of the byte stream cannot be framed (nats-server closes it too).
///
/// The `Display` texts were checked against nats-server v2.9.10 (see
/// protocol-spec/errors.md). For some faults nats-server closes the connection without
/// sending any `-ERR`; [`nats_sends_err`](Self::nats_sends_err) says which. Their text is then
/// the one nats-server uses for the nearest fault it does report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The line does not start with an op name this direction of the protocol knows: an
    /// unknown or misspelled name, a name not followed by the blank it needs (`PUB\r\n`,
    /// `SUBX`), blanks before the name, or a server op sent by a client (`MSG`).
    #[error("Unknown Protocol Operation")]
    UnknownOp,
    /// A known op with the wrong number of arguments, or a size that is not 1 to 9 decimal
    /// digits. nats-server closes the connection without an `-ERR`.
    #[error("Unknown Protocol Operation")]
    BadArguments,
    /// A control line's arguments (what follows the op name and its blanks, up to the line
    /// end), a blank line, or the run of blanks after an op name, is longer than the limit.
    /// nats-server sends exactly this text, in lower case.
    #[error("maximum control line exceeded")]
    ControlLineTooLong,
    /// A PUB/HPUB/MSG/HMSG declares a payload (for HPUB/HMSG the total size) larger than the
    /// configured limit.
    #[error("Maximum Payload Violation")]
    PayloadTooLarge,
    /// A subject, reply subject, queue name or sid is not valid UTF-8. nats-server accepts
    /// these bytes (a deliberate difference, see protocol-spec/differences.md); the text is the
    /// one it sends for a SUB with an invalid subject.
    #[error("Invalid Subject")]
    InvalidSubject,
    /// The bytes after a payload are not CRLF (or LF): the declared size did not match the
    /// payload sent.
    #[error("Unknown Protocol Operation")]
    PayloadSizeMismatch,
    /// HPUB/HMSG: the header size is larger than the total size. nats-server closes the
    /// connection without an `-ERR`.
    #[error("Unknown Protocol Operation")]
    BadHeaderSize,
    /// CONNECT (or a client's INFO, or a server's INFO) carried no JSON, JSON that does not
    /// decode, JSON with a field of the wrong type, or text after the JSON. nats-server closes
    /// the connection without an `-ERR`.
    #[error("Unknown Protocol Operation")]
    BadJson,
    /// A client sent `-ERR`. nats-server logs it and closes the connection without an
    /// `-ERR` of its own.
    #[error("Unknown Protocol Operation")]
    ErrFromClient,
}

impl ProtocolError {
    /// True if nats-server answers this fault with `-ERR '<Display text>'` before closing the
    /// connection; false if it closes the connection without a word (only its log says why).
    ///
    /// [`ProtocolError::InvalidSubject`] (non-UTF-8 bytes, which nats-server accepts) is
    /// reported, with the text nats-server uses for an invalid SUB subject.
    pub fn nats_sends_err(&self) -> bool {
        match self {
            ProtocolError::UnknownOp
            | ProtocolError::ControlLineTooLong
            | ProtocolError::PayloadTooLarge
            | ProtocolError::InvalidSubject
            | ProtocolError::PayloadSizeMismatch => true,
            ProtocolError::BadArguments
            | ProtocolError::BadHeaderSize
            | ProtocolError::BadJson
            | ProtocolError::ErrFromClient => false,
        }
    }
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
