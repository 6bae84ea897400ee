//! The `config_file` fuzz target's check (`sluice::fuzzing::config_file`) on the stable
//! toolchain, without cargo-fuzz: the committed inputs in `fuzz/seeds/config_file/` and
//! `fuzz/regressions/config_file/`.

use sluice::fuzzing::{config_file, ConfigOutcome};
use std::path::{Path, PathBuf};

/// The committed inputs: seeds and regressions.
fn committed() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz")
            .join(kind)
            .join("config_file");
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
    assert!(!inputs.is_empty(), "no committed config_file inputs");
    for (path, data) in inputs {
        let outcome = config_file(&data);
        eprintln!("config_file: {}: {outcome:?}", path.display());
    }
}

#[test]
fn the_fuzz_entry_point_reads_no_include_file() {
    // Even a file that exists is not read: include is refused before any path is built.
    let text = format!("include {:?}\n", file!());
    match config_file(text.as_bytes()) {
        ConfigOutcome::Syntax(e) => {
            assert!(e.to_string().contains("not allowed"), "{e}");
            assert_eq!(e.line, Some(1));
        }
        other => panic!("include accepted: {other:?}"),
    }
}

#[test]
fn the_server_seed_reads_as_options() {
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/config_file/server.conf"),
    )
    .expect("the committed seed");
    match config_file(&data) {
        ConfigOutcome::Options(Ok(_)) => {}
        other => panic!("the seed should be a valid configuration: {other:?}"),
    }
}
