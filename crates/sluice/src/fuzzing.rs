//! The check behind the `config_file` fuzz target in `fuzz/`, kept here so that the stable
//! test suite replays it on the committed inputs (`tests/fuzz_replay.rs`) without cargo-fuzz.
//! Nothing in the binary calls it.

use crate::conf::{options, parser, ConfError, FileOptions};
use std::path::Path;

/// The name parse errors carry for fuzz input.
pub const FUZZ_FILE: &str = "fuzz.conf";

/// Whether parsing got through the syntax and then through sluice's keys.
#[derive(Debug)]
pub enum ConfigOutcome {
    /// Not UTF-8: a configuration file must be text (`-c` refuses it before parsing).
    NotText,
    /// The syntax was refused.
    Syntax(ConfError),
    /// The syntax was fine; the keys were read (or refused).
    Options(Result<Box<FileOptions>, ConfError>),
}

/// The `config_file` fuzz target: `data` as the text of a configuration file, through the
/// parser (with `include` refused, so no input reads a file) and then sluice's key reader.
/// Neither may panic, and every error must point into the text: the fuzz file's name and a
/// line from 1 to the text's last line.
pub fn config_file(data: &[u8]) -> ConfigOutcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return ConfigOutcome::NotText;
    };
    let lines = text.matches('\n').count() + 1;
    let check = |e: &ConfError| {
        assert_eq!(e.file, Path::new(FUZZ_FILE), "{e} for {text:?}");
        assert!(
            e.line.is_some_and(|l| l >= 1 && l as usize <= lines),
            "{e}: not a line of the {lines} of {text:?}"
        );
    };
    let map = match parser::parse_str_without_includes(text, Path::new(FUZZ_FILE)) {
        Ok(map) => map,
        Err(e) => {
            check(&e);
            return ConfigOutcome::Syntax(e);
        }
    };
    let opts = options::from_map(&map);
    if let Err(e) = &opts {
        check(e);
    }
    ConfigOutcome::Options(opts.map(Box::new))
}
