//! Parser throughput: 100,000 `PUB` ops with 16 B and with 1 KiB payloads, through the two
//! paths a server uses.
//!
//! * `scan_client`: [`scan_client`] over one `&[u8]`, advancing by each op's length (no
//!   `Bytes` are made).
//! * `server_codec`: [`ServerCodec`]'s `Decoder::decode` on a `BytesMut` holding the whole
//!   stream, as the server's read loop does: each op is split off the buffer, frozen, and
//!   resolved into a [`ClientOp`] whose fields are slices of the frame. Filling the `BytesMut`
//!   is setup and is not timed.
//!
//! Each case is measured twice, once per throughput unit, so both bytes/s (`*_bytes` groups)
//! and ops/s (`*_ops` groups, "elements") can be read off criterion's output.
//!
//! Run: `cargo bench -p sluice-protocol --bench parse -- --warm-up-time 1 --measurement-time 3`

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sluice_protocol::parse::RawClientOp;
use sluice_protocol::{scan_client, ClientOp, Limits, Parsed, ServerCodec};
use tokio_util::codec::Decoder;

const OPS: usize = 100_000;

/// `OPS` PUB ops on a few different subjects, one with a reply, each with `payload` bytes.
fn stream(payload: usize) -> Vec<u8> {
    let subjects = [
        "orders.eu.created",
        "metrics.cpu",
        "a.b.c.d",
        "telemetry.device.42",
    ];
    let body: Vec<u8> = (0..payload).map(|i| b'a' + (i % 26) as u8).collect();
    let mut buf = Vec::with_capacity(OPS * (payload + 48));
    for i in 0..OPS {
        let subject = subjects[i % subjects.len()];
        if i % 8 == 7 {
            buf.extend_from_slice(format!("PUB {subject} _INBOX.x7 {payload}\r\n").as_bytes());
        } else {
            buf.extend_from_slice(format!("PUB {subject} {payload}\r\n").as_bytes());
        }
        buf.extend_from_slice(&body);
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

/// Scans every op of `buf`; returns the payload bytes seen (so nothing is optimised away).
fn scan_all(buf: &[u8], limits: &Limits) -> usize {
    let mut pos = 0;
    let mut seen = 0;
    while pos < buf.len() {
        match scan_client(&buf[pos..], limits) {
            Ok(Parsed::Op { op, len }) => {
                if let RawClientOp::Pub { payload, .. } = &op {
                    seen += payload.get(&buf[pos..]).len();
                }
                black_box(&op);
                pos += len;
            }
            Ok(Parsed::Blank { len }) => pos += len,
            other => panic!("unexpected {other:?} at {pos}"),
        }
    }
    seen
}

/// Decodes every op out of `src`; returns the payload bytes seen, and the emptied buffer so that
/// freeing it is not timed.
fn decode_all(codec: &mut ServerCodec, mut src: BytesMut) -> (usize, BytesMut) {
    let mut seen = 0;
    while let Some(op) = codec.decode(&mut src).expect("valid stream") {
        if let ClientOp::Pub { payload, .. } = &op {
            seen += payload.len();
        }
        black_box(op);
    }
    assert!(src.is_empty());
    (seen, src)
}

fn bench_case(c: &mut Criterion, label: &str, payload: usize) {
    let buf = stream(payload);
    let limits = Limits::default();
    assert_eq!(scan_all(&buf, &limits), OPS * payload);
    let big = buf.len() > 16 << 20;

    for (unit, throughput) in [
        ("bytes", Throughput::Bytes(buf.len() as u64)),
        ("ops", Throughput::Elements(OPS as u64)),
    ] {
        let mut group = c.benchmark_group(format!("pub_{label}_{unit}"));
        group.throughput(throughput);
        if big {
            group.sample_size(10);
        }
        group.bench_function("scan_client", |b| {
            b.iter(|| black_box(scan_all(black_box(&buf), &limits)))
        });
        let mut codec = ServerCodec::new(limits);
        group.bench_function("server_codec", |b| {
            b.iter_batched(
                || BytesMut::from(&buf[..]),
                |src| black_box(decode_all(&mut codec, src)),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn parse_benches(c: &mut Criterion) {
    bench_case(c, "16B", 16);
    bench_case(c, "1KiB", 1024);
}

criterion_group!(benches, parse_benches);
criterion_main!(benches);
