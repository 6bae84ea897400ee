//! The `js_api` fuzz target's check (`sluice_stream::fuzzing::js_api`) on the stable
//! toolchain, without cargo-fuzz: the committed inputs in `fuzz/seeds/js_api/` and
//! `fuzz/regressions/js_api/`, and every request of the golden files. `write_fuzz_seeds`
//! (ignored; scripts/fuzz.sh runs it) writes the golden-derived seed corpus.

use serde_json::Value;
use sluice_stream::fuzzing::{js_api, JsApiOp};
use std::path::{Path, PathBuf};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed inputs: seeds and regressions.
fn committed() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = manifest_dir().join("../../fuzz").join(kind).join("js_api");
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
fn committed_fuzz_inputs_pass_the_check() {
    let inputs = committed();
    assert!(!inputs.is_empty(), "no committed js_api inputs");
    for (path, data) in inputs {
        eprintln!("js_api: {}", path.display());
        js_api(&data);
    }
}

/// Which fuzz op a golden request's subject is, and whether the input carries the subject.
fn op_of(subject: &str) -> Option<(JsApiOp, bool)> {
    let rest = subject.strip_prefix("$JS.API.")?;
    let op = |p: &str| rest.starts_with(p);
    Some(if op("STREAM.CREATE.") {
        (JsApiOp::StreamCreate, false)
    } else if op("STREAM.UPDATE.") {
        (JsApiOp::StreamUpdate, false)
    } else if op("CONSUMER.CREATE.") || op("CONSUMER.DURABLE.CREATE.") {
        (JsApiOp::ConsumerCreate, true)
    } else if op("CONSUMER.MSG.NEXT.") {
        (JsApiOp::Pull, false)
    } else if op("STREAM.MSG.GET.") || op("DIRECT.GET.") {
        (JsApiOp::MsgGet, true)
    } else if op("STREAM.INFO.")
        || op("STREAM.NAMES")
        || op("STREAM.LIST")
        || op("STREAM.PURGE.")
        || op("STREAM.MSG.DELETE.")
        || op("CONSUMER.NAMES.")
        || op("CONSUMER.LIST.")
    {
        (JsApiOp::Optional, false)
    } else {
        return None;
    })
}

/// Every golden request as a fuzz input: (file stem, input).
fn golden_inputs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["tests/golden", "tests/golden/consumer"] {
        let dir = manifest_dir().join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files {
            let g: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let Some((op, with_subject)) = g["subject"].as_str().and_then(op_of) else {
                continue;
            };
            let body = match (g.get("request"), g.get("request_raw")) {
                (Some(v), _) => serde_json::to_vec(v).unwrap(),
                (None, Some(Value::String(s))) => s.clone().into_bytes(),
                _ => Vec::new(),
            };
            let mut rest = Vec::new();
            if with_subject {
                rest.extend_from_slice(g["subject"].as_str().unwrap_or("").as_bytes());
                rest.push(b'\n');
            }
            rest.extend_from_slice(&body);
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((stem, op.input(&rest)));
        }
    }
    out
}

#[test]
fn every_golden_request_passes_the_fuzz_check() {
    let inputs = golden_inputs();
    assert!(inputs.len() > 100, "only {} golden requests", inputs.len());
    for (name, input) in inputs {
        eprintln!("js_api: golden {name}");
        js_api(&input);
    }
}

/// Writes the seed corpus derived from the golden requests into
/// `$SLUICE_FUZZ_CORPUS/js_api/`. Run by scripts/fuzz.sh.
#[test]
#[ignore = "writes files; run by scripts/fuzz.sh with SLUICE_FUZZ_CORPUS set"]
fn write_fuzz_seeds() {
    let root = PathBuf::from(
        std::env::var_os("SLUICE_FUZZ_CORPUS").expect("set SLUICE_FUZZ_CORPUS to a directory"),
    );
    let dir = root.join("js_api");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
    let inputs = golden_inputs();
    for (name, input) in &inputs {
        std::fs::write(dir.join(format!("golden-{name}")), input).expect("write seed");
    }
    eprintln!("{} seeds written under {}", inputs.len(), dir.display());
}
