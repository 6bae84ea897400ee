//! Split-anywhere: feeding a byte stream to the codecs in pieces gives the same ops, and the
//! same final error or unfinished tail, as feeding it whole.

mod common;

use bytes::{Bytes, BytesMut};
use common::ops::{client_op, server_op};
use common::{escape, load_all, Case, Dir, End};
use proptest::collection::vec;
use proptest::prelude::*;
use sluice_protocol::{ClientCodec, ClientOp, CodecError, Limits, ServerCodec, ServerOp};
use tokio_util::codec::Decoder;

/// What decoding a stream produced: canonical encodings of the ops, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    outs: Vec<Vec<u8>>,
    end: End,
}

/// A codec of either direction, reduced to "decode one op and encode it canonically".
trait Decode {
    fn next(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, CodecError>;
}

impl Decode for ServerCodec {
    fn next(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, CodecError> {
        Ok(self.decode(src)?.map(|op: ClientOp| {
            let mut b = BytesMut::new();
            op.encode(&mut b);
            b.to_vec()
        }))
    }
}

impl Decode for ClientCodec {
    fn next(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, CodecError> {
        Ok(self.decode(src)?.map(|op: ServerOp| {
            let mut b = BytesMut::new();
            op.encode(&mut b);
            b.to_vec()
        }))
    }
}

fn codec(dir: Dir, limits: Limits) -> Box<dyn Decode> {
    match dir {
        Dir::Client => Box::new(ServerCodec::new(limits)),
        Dir::Server => Box::new(ClientCodec::new(limits)),
    }
}

/// Feeds `chunks` one after another into one `BytesMut`, decoding everything available after
/// each; stops at the first error.
fn feed(dir: Dir, limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut codec = codec(dir, limits);
    let mut src = BytesMut::new();
    let mut outs = Vec::new();
    for chunk in chunks {
        src.extend_from_slice(chunk);
        loop {
            match codec.next(&mut src) {
                Ok(Some(op)) => outs.push(op),
                Ok(None) => break,
                Err(CodecError::Protocol(e)) => {
                    return Outcome {
                        outs,
                        end: End::Err {
                            text: e.to_string(),
                            kind: format!("{e:?}"),
                        },
                    }
                }
                Err(e) => panic!("io error from a codec: {e}"),
            }
        }
    }
    let end = if src.is_empty() {
        End::Complete
    } else {
        End::Incomplete
    };
    Outcome { outs, end }
}

/// Checks every 2-chunk split of `input` against feeding it whole; returns the whole outcome.
fn every_two_chunk_split(dir: Dir, limits: Limits, input: &[u8]) -> Result<Outcome, String> {
    let whole = feed(dir, limits, &[input]);
    for i in 0..=input.len() {
        let split = feed(dir, limits, &[&input[..i], &input[i..]]);
        if split != whole {
            return Err(format!(
                "split at {i} of {:?}:\n      whole: {whole:?}\n      split: {split:?}",
                escape(input)
            ));
        }
    }
    Ok(whole)
}

/// What a case expects, in codec terms (the codecs skip blank lines silently).
fn expected(case: &Case) -> Outcome {
    Outcome {
        outs: case.outs.clone(),
        end: case.end.clone(),
    }
}

fn same_end(want: &End, got: &End) -> bool {
    match (want, got) {
        (End::Err { text, kind }, End::Err { text: t, kind: k }) => {
            text == t && (kind.is_empty() || kind == k)
        }
        (a, b) => a == b,
    }
}

#[test]
fn every_vector_through_the_codec_in_every_two_chunk_split() {
    let cases = load_all();
    assert!(cases.len() >= 250, "only {} vector cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match every_two_chunk_split(case.dir, case.limits, &case.input) {
            Err(e) => failures.push(format!("  {}\n    {e}", case.id())),
            Ok(got) => {
                let want = expected(case);
                if got.outs != want.outs || !same_end(&want.end, &got.end) {
                    failures.push(format!(
                        "  {}\n    codec gave {got:?}\n    vector says {want:?}",
                        case.id()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// All well-formed inputs of one direction (default limits) run together as one stream, with
/// blank lines between them.
fn long_stream(dir: Dir) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut input = Vec::new();
    let mut outs = Vec::new();
    for case in load_all() {
        if case.dir == dir && case.end == End::Complete && case.limits == Limits::default() {
            input.extend_from_slice(&case.input);
            input.extend_from_slice(b"\r\n");
            outs.extend(case.outs);
        }
    }
    (input, outs)
}

#[test]
fn long_client_stream_in_every_two_chunk_split() {
    let (input, outs) = long_stream(Dir::Client);
    assert!(outs.len() >= 100, "only {} ops", outs.len());
    let got = every_two_chunk_split(Dir::Client, Limits::default(), &input).unwrap();
    assert_eq!(got.end, End::Complete);
    assert_eq!(got.outs, outs);
}

#[test]
fn long_server_stream_in_every_two_chunk_split() {
    let (input, outs) = long_stream(Dir::Server);
    assert!(outs.len() >= 30, "only {} ops", outs.len());
    let got = every_two_chunk_split(Dir::Server, Limits::default(), &input).unwrap();
    assert_eq!(got.end, End::Complete);
    assert_eq!(got.outs, outs);
}

#[test]
fn byte_at_a_time() {
    for dir in [Dir::Client, Dir::Server] {
        let (input, outs) = long_stream(dir);
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let got = feed(dir, Limits::default(), &chunks);
        assert_eq!(got.end, End::Complete);
        assert_eq!(got.outs, outs);
    }
}

/// Cuts `input` at the given (unsorted, possibly repeated) points.
fn chunks_at<'a>(input: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

fn limits() -> Limits {
    Limits {
        max_control_line: 1 << 16,
        max_payload: 1 << 20,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_client_ops_in_random_chunks(
        ops in vec(client_op(), 1..16),
        cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut buf = BytesMut::new();
        let mut outs = Vec::new();
        for op in &ops {
            let mut one = BytesMut::new();
            op.encode(&mut one);
            outs.push(one.to_vec());
            buf.extend_from_slice(&one);
        }
        let chunks = chunks_at(&buf, &cuts);
        let got = feed(Dir::Client, limits(), &chunks);
        prop_assert_eq!(got, Outcome { outs, end: End::Complete });
    }

    #[test]
    fn random_server_ops_in_random_chunks(
        ops in vec(server_op(), 1..16),
        cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut buf = BytesMut::new();
        let mut outs = Vec::new();
        for op in &ops {
            let mut one = BytesMut::new();
            op.encode(&mut one);
            outs.push(one.to_vec());
            buf.extend_from_slice(&one);
        }
        let chunks = chunks_at(&buf, &cuts);
        let got = feed(Dir::Server, limits(), &chunks);
        prop_assert_eq!(got, Outcome { outs, end: End::Complete });
    }

    /// Random bytes (mostly protocol-looking) give the same outcome however they are cut:
    /// errors and unfinished tails included.
    #[test]
    fn random_bytes_same_outcome_in_any_chunks(
        parts in vec(prop_oneof![
            Just(&b"PUB "[..]), Just(&b"HPUB "[..]), Just(&b"SUB "[..]), Just(&b"MSG "[..]),
            Just(&b"PING"[..]), Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..]),
            Just(&b" "[..]), Just(&b"\t"[..]), Just(&b"foo"[..]), Just(&b"1"[..]), Just(&b"2"[..]),
            Just(&b"12"[..]), Just(&b"NATS/1.0"[..]), Just(&b"\xff"[..]), Just(&b"+OK"[..]),
        ], 0..40),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
        small in any::<bool>(),
    ) {
        let input: Vec<u8> = parts.concat();
        let limits = if small {
            Limits { max_control_line: 12, max_payload: 6 }
        } else {
            Limits::default()
        };
        for dir in [Dir::Client, Dir::Server] {
            let whole = feed(dir, limits, &[&input]);
            let chunks = chunks_at(&input, &cuts);
            prop_assert_eq!(feed(dir, limits, &chunks), whole);
        }
    }
}

#[test]
fn decoded_payload_is_a_slice_of_the_read_buffer() {
    let mut src = BytesMut::with_capacity(4096);
    src.extend_from_slice(
        b"SUB a 1\r\nPUB foo bar 5\r\nhello\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    );
    let base = src.as_ptr() as usize;
    let end = base + src.len();
    let within = |b: &[u8]| {
        let p = b.as_ptr() as usize;
        p >= base && p + b.len() <= end
    };
    let mut codec = ServerCodec::default();
    match codec.decode(&mut src).unwrap() {
        Some(ClientOp::Sub { subject, sid, .. }) => {
            assert!(within(subject.as_bytes()) && within(sid.as_bytes()));
        }
        other => panic!("{other:?}"),
    }
    match codec.decode(&mut src).unwrap() {
        Some(ClientOp::Pub {
            subject,
            reply,
            payload,
        }) => {
            assert_eq!(&payload[..], b"hello");
            assert!(within(&payload), "payload was copied");
            assert!(within(subject.as_bytes()), "subject was copied");
            assert!(within(reply.unwrap().as_bytes()), "reply was copied");
        }
        other => panic!("{other:?}"),
    }
    match codec.decode(&mut src).unwrap() {
        Some(ClientOp::Hpub {
            headers, payload, ..
        }) => {
            assert!(
                within(&headers) && within(&payload),
                "hpub parts were copied"
            );
            assert_eq!(&headers[..], b"NATS/1.0\r\n\r\n");
            assert_eq!(&payload[..], b"hi");
        }
        other => panic!("{other:?}"),
    }
    assert!(src.is_empty());
}

#[test]
fn parse_client_payload_is_a_slice_of_the_input() {
    let buf = Bytes::from_static(b"PUB foo 5\r\nhello\r\n");
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    match sluice_protocol::parse_client(&buf, &Limits::default()).unwrap() {
        sluice_protocol::Parsed::Op {
            op: ClientOp::Pub {
                payload, subject, ..
            },
            ..
        } => {
            assert!(range.contains(&(payload.as_ptr() as usize)));
            assert!(range.contains(&(subject.as_bytes().as_ptr() as usize)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn codec_partial_input_keeps_the_buffer() {
    let mut codec = ServerCodec::default();
    let mut src = BytesMut::from(&b"PUB foo 5\r\nhel"[..]);
    assert!(codec.decode(&mut src).unwrap().is_none());
    assert_eq!(
        &src[..],
        b"PUB foo 5\r\nhel",
        "nothing consumed while incomplete"
    );
    src.extend_from_slice(b"lo\r\n\r\n\r\nPING\r\n");
    assert!(matches!(
        codec.decode(&mut src).unwrap(),
        Some(ClientOp::Pub { .. })
    ));
    // The blank lines are skipped inside one decode call.
    assert_eq!(codec.decode(&mut src).unwrap(), Some(ClientOp::Ping));
    assert!(src.is_empty());
    assert!(codec.decode(&mut src).unwrap().is_none());
}

#[test]
fn codec_error_is_a_protocol_error() {
    let mut codec = ServerCodec::new(Limits {
        max_control_line: 8,
        max_payload: 4,
    });
    let mut src = BytesMut::from(&b"PUB a 5\r\n"[..]);
    match codec.decode(&mut src) {
        Err(CodecError::Protocol(e)) => assert_eq!(e.to_string(), "Maximum Payload Violation"),
        other => panic!("{other:?}"),
    }
    let mut src = BytesMut::from(&b"PUB abcdefgh 1\r\n"[..]);
    match codec.decode(&mut src) {
        Err(e) => assert_eq!(e.to_string(), "maximum control line exceeded"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_codec_defaults_allow_long_info() {
    let mut line = b"INFO {\"server_id\":\"S\",\"version\":\"2.10.0\",\"connect_urls\":[".to_vec();
    for i in 0..400 {
        line.extend_from_slice(format!("\"10.0.{}.{}:4222\",", i / 250, i % 250).as_bytes());
    }
    line.extend_from_slice(b"\"x:1\"]}\r\n");
    assert!(line.len() > 4096);
    let mut src = BytesMut::from(&line[..]);
    match ClientCodec::default().decode(&mut src).unwrap() {
        Some(ServerOp::Info(info)) => assert_eq!(info.connect_urls.unwrap().len(), 401),
        other => panic!("{other:?}"),
    }
    // A server's codec keeps nats-server's 4096.
    let mut src = BytesMut::from(&line[..]);
    assert!(ClientCodec::new(Limits::default())
        .decode(&mut src)
        .is_err());
}
