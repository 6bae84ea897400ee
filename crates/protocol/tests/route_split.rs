//! Split-anywhere: feeding a route byte stream to the parser in pieces, as reads arrive, gives
//! the same ops and the same final error or unfinished tail as feeding it whole.

mod route_support;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use route_support::ops::route_op;
use route_support::{encode, end_of, escape, load_all, same_end, End};
use sluice_protocol::{parse_route_bytes, Limits, Parsed, RouteOp};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    outs: Vec<Vec<u8>>,
    end: End,
}

/// Appends each chunk to a read buffer and parses everything available after each, the way a
/// route connection's read loop would; stops at the first error.
fn feed(limits: &Limits, chunks: &[&[u8]]) -> Outcome {
    let mut rbuf = BytesMut::new();
    let mut outs = Vec::new();
    for chunk in chunks {
        rbuf.extend_from_slice(chunk);
        loop {
            let frozen = Bytes::copy_from_slice(&rbuf);
            match parse_route_bytes(&frozen, limits) {
                Ok(Parsed::Op { op, len }) => {
                    outs.push(encode(&op));
                    let _ = rbuf.split_to(len);
                }
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Blank { len }) => panic!("route parser returned Blank({len})"),
                Err(e) => {
                    return Outcome {
                        outs,
                        end: end_of(e),
                    }
                }
            }
        }
    }
    let end = if rbuf.is_empty() {
        End::Complete
    } else {
        End::Incomplete
    };
    Outcome { outs, end }
}

fn every_two_chunk_split(limits: &Limits, input: &[u8]) -> Result<Outcome, String> {
    let whole = feed(limits, &[input]);
    for i in 0..=input.len() {
        let split = feed(limits, &[&input[..i], &input[i..]]);
        if split != whole {
            return Err(format!(
                "split at {i} of {:?}:\n      whole: {whole:?}\n      split: {split:?}",
                escape(input)
            ));
        }
    }
    Ok(whole)
}

#[test]
fn every_route_vector_in_every_two_chunk_split() {
    let cases = load_all();
    assert!(cases.len() >= 150, "only {} route cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match every_two_chunk_split(&case.limits, &case.input) {
            Err(e) => failures.push(format!("  {}\n    {e}", case.id())),
            Ok(got) => {
                let outs_ok = (case.wire && case.outs.is_empty()) || got.outs == case.outs;
                if !outs_ok || !same_end(&case.end, &got.end) {
                    failures.push(format!(
                        "  {}\n    split feed gave {got:?}\n    vector says {:?} {:?}",
                        case.id(),
                        case.outs.iter().map(|o| escape(o)).collect::<Vec<_>>(),
                        case.end
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

/// Every well-formed vector input, one after another, as one stream fed a byte at a time.
#[test]
fn all_well_formed_vectors_as_one_stream_byte_by_byte() {
    let cases = load_all();
    let mut input = Vec::new();
    let mut want = Vec::new();
    for c in cases
        .iter()
        .filter(|c| c.end == End::Complete && c.limits == Limits::default())
    {
        input.extend_from_slice(&c.input);
        let whole = feed(&Limits::default(), &[&c.input]);
        assert_eq!(whole.end, End::Complete, "{}", c.id());
        want.extend(whole.outs);
    }
    assert!(want.len() > 400, "only {} ops in the stream", want.len());
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    let got = feed(&Limits::default(), &chunks);
    assert_eq!(got.end, End::Complete);
    assert_eq!(got.outs.len(), want.len());
    assert!(got.outs == want, "byte-at-a-time feed differs from whole");
}

fn stream(ops: &[RouteOp]) -> Vec<u8> {
    ops.iter().flat_map(encode).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random ops, encoded, fed in random chunks: the same ops come out.
    #[test]
    fn random_ops_in_random_chunks(ops in vec(route_op(), 1..8), cuts in vec(any::<prop::sample::Index>(), 0..6)) {
        let limits = Limits { max_control_line: 1 << 16, max_payload: 1 << 20 };
        let input = stream(&ops);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for p in points {
            chunks.push(&input[prev..p]);
            prev = p;
        }
        chunks.push(&input[prev..]);
        let got = feed(&limits, &chunks);
        prop_assert_eq!(got.end, End::Complete);
        prop_assert_eq!(got.outs, ops.iter().map(encode).collect::<Vec<_>>());
    }

    /// One op in every two-chunk split.
    #[test]
    fn one_op_in_every_split(op in route_op()) {
        let limits = Limits { max_control_line: 1 << 16, max_payload: 1 << 20 };
        let input = encode(&op);
        let got = every_two_chunk_split(&limits, &input).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.outs, vec![input]);
    }
}
