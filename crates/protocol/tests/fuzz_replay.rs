//! The fuzz targets' checks (`sluice_protocol::fuzzing`) on the stable toolchain, without
//! cargo-fuzz: the committed inputs in `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/`
//! and every test vector. `write_fuzz_seeds` (ignored; scripts/fuzz.sh runs it) writes the
//! vector-derived seed corpora.

mod common;

use common::{load_all, Dir};
use sluice_protocol::fuzzing::{self, Split, StreamInput, LIMITS};
use sluice_protocol::{ClientOp, Limits, Parsed, ServerOp};
use std::path::{Path, PathBuf};

/// `fuzz/` at the top of the repository.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The committed inputs for `target`: its seeds and its regressions.
fn committed(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.expect("dir entry").path();
            if path.is_file() {
                let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                out.push((path, data));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn committed_fuzz_inputs_pass_their_checks() {
    let mut total = 0;
    for (target, check) in [
        (
            "client_parse",
            (|d| drop(fuzzing::client_parse(d))) as fn(&[u8]),
        ),
        ("server_parse", |d| drop(fuzzing::server_parse(d))),
        ("headers", |d| drop(fuzzing::headers(d))),
    ] {
        let inputs = committed(target);
        assert!(!inputs.is_empty(), "no committed inputs for {target}");
        for (path, data) in inputs {
            eprintln!("{target}: {}", path.display());
            check(&data);
            total += 1;
        }
    }
    eprintln!("{total} committed inputs replayed");
}

/// The preset of [`LIMITS`] closest to a vector's limits.
fn preset(limits: &Limits) -> usize {
    LIMITS
        .iter()
        .position(|l| l == limits)
        .unwrap_or(if limits.max_control_line <= 64 { 2 } else { 1 })
}

/// The fuzz inputs a vector case stands for: its limits (nearest preset) split in the middle,
/// and byte by byte.
fn inputs_of(limits: &Limits, stream: &[u8]) -> Vec<Vec<u8>> {
    vec![
        StreamInput::encode(preset(limits), Split::At(128), stream),
        StreamInput::encode(preset(limits), Split::Every(1), stream),
    ]
}

#[test]
fn every_vector_passes_the_fuzz_checks() {
    let cases = load_all();
    assert!(cases.len() >= 250, "only {} vector cases", cases.len());
    for case in &cases {
        for input in inputs_of(&case.limits, &case.input) {
            match case.dir {
                Dir::Client => drop(fuzzing::client_parse(&input)),
                Dir::Server => drop(fuzzing::server_parse(&input)),
            }
        }
    }
}

/// The header blocks of a case's HPUB/HMSG ops.
fn header_blocks(dir: Dir, limits: &Limits, input: &[u8]) -> Vec<Vec<u8>> {
    let mut buf = bytes::Bytes::copy_from_slice(input);
    let mut out = Vec::new();
    loop {
        let step = match dir {
            Dir::Client => match sluice_protocol::parse_client(&buf, limits) {
                Ok(Parsed::Op { op, len }) => {
                    if let ClientOp::Hpub { headers, .. } = op {
                        out.push(headers.to_vec());
                    }
                    len
                }
                Ok(Parsed::Blank { len }) => len,
                _ => break,
            },
            Dir::Server => match sluice_protocol::parse_server(&buf, limits) {
                Ok(Parsed::Op { op, len }) => {
                    if let ServerOp::Hmsg { headers, .. } = op {
                        out.push(headers.to_vec());
                    }
                    len
                }
                Ok(Parsed::Blank { len }) => len,
                _ => break,
            },
        };
        buf = buf.slice(step..);
    }
    out
}

/// Writes the seed corpora derived from protocol-spec/vectors/ into
/// `$SLUICE_FUZZ_CORPUS/{client_parse,server_parse,headers}/`. Run by scripts/fuzz.sh.
#[test]
#[ignore = "writes files; run by scripts/fuzz.sh with SLUICE_FUZZ_CORPUS set"]
fn write_fuzz_seeds() {
    let root = PathBuf::from(
        std::env::var_os("SLUICE_FUZZ_CORPUS").expect("set SLUICE_FUZZ_CORPUS to a directory"),
    );
    let mut written = 0;
    let mut write = |target: &str, name: String, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        std::fs::write(dir.join(name), data).expect("write seed");
        written += 1;
    };
    for (i, case) in load_all().iter().enumerate() {
        let target = match case.dir {
            Dir::Client => "client_parse",
            Dir::Server => "server_parse",
        };
        for (k, input) in inputs_of(&case.limits, &case.input).iter().enumerate() {
            write(target, format!("vector-{i:03}-{k}"), input);
        }
        for (k, block) in header_blocks(case.dir, &case.limits, &case.input)
            .iter()
            .enumerate()
        {
            write("headers", format!("vector-{i:03}-{k}"), block);
        }
    }
    eprintln!("{written} seeds written under {}", root.display());
}
