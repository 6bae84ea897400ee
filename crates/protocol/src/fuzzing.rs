//! The checks behind the fuzz targets in `fuzz/` (cargo-fuzz: `client_parse`, `server_parse`,
//! `headers`), kept here so that the stable test suite can replay the same checks on the
//! committed seeds and regression inputs (`tests/fuzz_replay.rs`) without cargo-fuzz.
//!
//! Nothing in the library calls this module; it is public only for those two users. Each
//! check panics, naming the input, when an invariant fails, and returns quietly otherwise.
//!
//! Invariants of [`client_parse`] / [`server_parse`] (input: a selector byte, a parameter
//! byte, then the byte stream):
//!
//! * parsing never panics, and never reports an op or blank line of length 0 or longer than
//!   the bytes it was given (either would stall or overrun a server's read loop);
//! * every op's canonical encoding parses back to the same op, using all of it;
//! * the codec ([`ServerCodec`] / [`ClientCodec`]) fed the whole stream gives the same ops and
//!   the same end (every byte used, an unfinished op, or the same [`ProtocolError`]) as
//!   parsing op by op with [`parse_client`] / [`parse_server`];
//! * so does the codec fed the stream in pieces (split at one point, or in chunks of a fixed
//!   size), as a socket delivers it;
//! * the header block of every HPUB/HMSG passes [`headers`] too.
//!
//! [`headers`]: a block that [`HeaderMap::parse`] accepts encodes to a block that parses back
//! to the same map.

use crate::error::{CodecError, ProtocolError};
use crate::headers::HeaderMap;
use crate::limits::Limits;
use crate::op::{ClientOp, Parsed, ServerOp};
use crate::parse::{parse_client, parse_server};
use crate::{ClientCodec, ServerCodec};
use bytes::{Bytes, BytesMut};
use std::fmt::Debug;
use tokio_util::codec::Decoder;

/// The limits a fuzz input's selector byte chooses from (its low two bits): nats-server's
/// defaults, small ones (control line 256, payload 1024), tiny ones (16 / 8, as some test
/// vectors use) and a client's defaults (64 KiB / 64 MiB).
pub const LIMITS: [Limits; 4] = [
    Limits {
        max_control_line: crate::limits::DEFAULT_MAX_CONTROL_LINE,
        max_payload: crate::limits::DEFAULT_MAX_PAYLOAD,
    },
    Limits {
        max_control_line: 256,
        max_payload: 1024,
    },
    Limits {
        max_control_line: 16,
        max_payload: 8,
    },
    Limits {
        max_control_line: 64 * 1024,
        max_payload: 64 * 1024 * 1024,
    },
];

/// How a fuzz input's byte stream is cut into reads: the selector byte's bit 2 picks the
/// mode, the parameter byte its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Two reads, split at this fraction (of 256) of the stream's length.
    At(u8),
    /// Reads of this many bytes (1 to 256).
    Every(usize),
}

/// A decoded fuzz input: limits, how to split, and the stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamInput<'a> {
    pub limits: Limits,
    pub split: Split,
    pub stream: &'a [u8],
}

impl<'a> StreamInput<'a> {
    /// Reads `data` as selector byte, parameter byte, stream. Shorter input is an empty
    /// stream with the default limits.
    pub fn decode(data: &'a [u8]) -> StreamInput<'a> {
        let (sel, param, stream) = match data {
            [sel, param, stream @ ..] => (*sel, *param, stream),
            _ => (0, 0, &[][..]),
        };
        let split = if sel & 4 == 0 {
            Split::At(param)
        } else {
            Split::Every(usize::from(param) + 1)
        };
        StreamInput {
            limits: LIMITS[usize::from(sel & 3)],
            split,
            stream,
        }
    }

    /// The fuzz input that decodes to `stream` with limits preset `limits` (an index into
    /// [`LIMITS`]) and `split`; for seed corpora.
    pub fn encode(limits: usize, split: Split, stream: &[u8]) -> Vec<u8> {
        let (mode, param) = match split {
            Split::At(p) => (0, p),
            Split::Every(n) => (4, u8::try_from(n.clamp(1, 256) - 1).unwrap_or(255)),
        };
        let mut out = vec![(limits as u8 & 3) | mode, param];
        out.extend_from_slice(stream);
        out
    }

    /// The stream cut into reads as [`split`](Self::split) says.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        let s = self.stream;
        match self.split {
            Split::At(p) => {
                let at = usize::from(p) * (s.len() + 1) / 256;
                vec![&s[..at], &s[at..]]
            }
            Split::Every(n) => s.chunks(n).collect(),
        }
    }
}

/// How decoding a stream ended, after its ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every byte was used.
    Complete,
    /// The bytes left are the start of an op.
    Incomplete,
    /// A protocol error.
    Err(ProtocolError),
}

/// What decoding a stream gave: each op's canonical encoding, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ops: Vec<Vec<u8>>,
    pub end: End,
}

/// One direction of the protocol, as the checks need it.
trait Direction {
    type Op: Clone + Debug + PartialEq;
    type Codec: Decoder<Item = Self::Op, Error = CodecError>;
    fn parse(buf: &Bytes, limits: &Limits) -> Result<Parsed<Self::Op>, ProtocolError>;
    fn encode(op: &Self::Op, dst: &mut BytesMut);
    fn codec(limits: Limits) -> Self::Codec;
    /// The header block of an HPUB/HMSG.
    fn headers(op: &Self::Op) -> Option<&Bytes>;
}

/// Client -> server: what the server parses.
struct ToServer;

impl Direction for ToServer {
    type Op = ClientOp;
    type Codec = ServerCodec;
    fn parse(buf: &Bytes, limits: &Limits) -> Result<Parsed<ClientOp>, ProtocolError> {
        parse_client(buf, limits)
    }
    fn encode(op: &ClientOp, dst: &mut BytesMut) {
        op.encode(dst);
    }
    fn codec(limits: Limits) -> ServerCodec {
        ServerCodec::new(limits)
    }
    fn headers(op: &ClientOp) -> Option<&Bytes> {
        match op {
            ClientOp::Hpub { headers, .. } => Some(headers),
            _ => None,
        }
    }
}

/// Server -> client: what a client parses.
struct ToClient;

impl Direction for ToClient {
    type Op = ServerOp;
    type Codec = ClientCodec;
    fn parse(buf: &Bytes, limits: &Limits) -> Result<Parsed<ServerOp>, ProtocolError> {
        parse_server(buf, limits)
    }
    fn encode(op: &ServerOp, dst: &mut BytesMut) {
        op.encode(dst);
    }
    fn codec(limits: Limits) -> ClientCodec {
        ClientCodec::new(limits)
    }
    fn headers(op: &ServerOp) -> Option<&Bytes> {
        match op {
            ServerOp::Hmsg { headers, .. } => Some(headers),
            _ => None,
        }
    }
}

fn canonical<D: Direction>(op: &D::Op) -> Bytes {
    let mut b = BytesMut::new();
    D::encode(op, &mut b);
    b.freeze()
}

/// Parses `input` op by op from the front, as a server loops over its read buffer, checking
/// each op's length and round trip.
fn parse_loop<D: Direction>(limits: &Limits, input: &[u8]) -> Outcome {
    let buf = Bytes::copy_from_slice(input);
    let mut pos = 0;
    let mut ops = Vec::new();
    let end = loop {
        if pos == buf.len() {
            break End::Complete;
        }
        let rest = buf.slice(pos..);
        match D::parse(&rest, limits) {
            Err(e) => break End::Err(e),
            Ok(Parsed::Incomplete) => break End::Incomplete,
            Ok(Parsed::Blank { len }) => {
                assert!(
                    len > 0 && len <= rest.len(),
                    "blank of length {len} with {} bytes left at {pos}",
                    rest.len()
                );
                pos += len;
            }
            Ok(Parsed::Op { op, len }) => {
                assert!(
                    len > 0 && len <= rest.len(),
                    "op {op:?} of length {len} with {} bytes left at {pos}",
                    rest.len()
                );
                let enc = canonical::<D>(&op);
                // The canonical form may be longer than the input (CONNECT/INFO JSON), so it
                // is parsed back with room for its control line; the payload limit stays.
                let relaxed = Limits {
                    max_control_line: limits.max_control_line.max(enc.len()),
                    max_payload: limits.max_payload,
                };
                let back = D::parse(&enc, &relaxed);
                assert!(
                    back == Ok(Parsed::Op {
                        op: op.clone(),
                        len: enc.len(),
                    }),
                    "op {op:?} encodes as {enc:?}, which parses back as {back:?}"
                );
                if let Some(h) = D::headers(&op) {
                    headers(h);
                }
                ops.push(enc.to_vec());
                pos += len;
            }
        }
    };
    Outcome { ops, end }
}

/// Feeds `chunks` one after another into one read buffer, decoding all that is available
/// after each, as a connection's read loop does; stops at the first error.
fn feed<D: Direction>(limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut codec = D::codec(limits);
    let mut src = BytesMut::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        src.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(op)) => ops.push(canonical::<D>(&op).to_vec()),
                Ok(None) => break,
                Err(CodecError::Protocol(e)) => {
                    return Outcome {
                        ops,
                        end: End::Err(e),
                    }
                }
                Err(e) => panic!("I/O error from a codec with no I/O: {e}"),
            }
        }
    }
    let end = if src.is_empty() {
        End::Complete
    } else {
        End::Incomplete
    };
    Outcome { ops, end }
}

fn check_stream<D: Direction>(data: &[u8]) -> Outcome {
    let input = StreamInput::decode(data);
    let whole = parse_loop::<D>(&input.limits, input.stream);
    let codec = feed::<D>(input.limits, &[input.stream]);
    assert_eq!(
        codec, whole,
        "the codec fed {:?} whole ({:?}) disagrees with the parse loop",
        input.stream, input.limits
    );
    let chunks = input.chunks();
    let split = feed::<D>(input.limits, &chunks);
    assert_eq!(
        split, whole,
        "the codec fed {:?} in the reads {chunks:?} ({:?}) disagrees with feeding it whole",
        input.stream, input.limits
    );
    whole
}

/// The `client_parse` fuzz target: client -> server bytes, as the server parses them (see the
/// module docs for the input layout and the invariants). Returns how parsing ended.
pub fn client_parse(data: &[u8]) -> Outcome {
    check_stream::<ToServer>(data)
}

/// The `server_parse` fuzz target: server -> client bytes, as a client parses them.
pub fn server_parse(data: &[u8]) -> Outcome {
    check_stream::<ToClient>(data)
}

/// The `headers` fuzz target: a header block that parses encodes to one that parses back to
/// the same map. Returns the parsed map, if any.
pub fn headers(data: &[u8]) -> Option<HeaderMap> {
    let map = HeaderMap::parse(data).ok()?;
    let enc = map.to_bytes();
    let back = HeaderMap::parse(&enc);
    assert_eq!(
        back.as_ref(),
        Ok(&map),
        "header block {data:?} parses as {map:?}, which encodes as {enc:?}"
    );
    Some(map)
}
