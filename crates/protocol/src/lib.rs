//! sluice-protocol: the NATS client protocol's wire format, both directions.
//!
//! Owns: parsing ([`parse`]: nats-server's grammar as a zero-copy nom parser), encoding
//! ([`encode`]), the header block ([`headers`]), subject and queue-name validation
//! ([`subject`]), the CONNECT/INFO JSON bodies ([`info`]), and tokio-util codecs ([`codec`]).
//! Also nats-server's route protocol, the server-to-server links of a cluster ([`route`]:
//! RS+/RS-/RMSG/HMSG and friends, parsed and encoded as nats-server 2.9.10 does).
//! The server, the bundled load generator and any Rust client share this one implementation.
//! The wire format is specified in protocol-spec/ (with test vectors in
//! protocol-spec/vectors/).
//!
//! Must never: do I/O, spawn tasks, hold global state, or copy a payload on the hot path.
//! Incomplete input is a normal result ([`Parsed::Incomplete`]), not an error. Every
//! [`ProtocolError`]'s `Display` text is the text nats-server sends in `-ERR '...'` for the
//! same fault ([`ProtocolError::nats_sends_err`] says when it sends none).

pub mod bytestr;
pub mod codec;
pub mod encode;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
pub mod info;
pub mod limits;
pub mod op;
pub mod parse;
pub mod route;
pub mod subject;

pub use bytestr::ByteStr;
pub use codec::{ClientCodec, ServerCodec};
pub use encode::{encode_err, encode_msg, encode_pub};
pub use error::{CodecError, HeaderError, ProtocolError};
pub use headers::HeaderMap;
pub use info::{ConnectInfo, ServerInfo};
pub use limits::Limits;
pub use op::{ClientOp, Parsed, ServerOp};
pub use parse::{parse_client, parse_server, scan_client, scan_server};
pub use route::{parse_route, parse_route_bytes, RouteConnect, RouteInfo, RouteOp};
