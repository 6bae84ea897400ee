//! Inputs that broke the `config_file` fuzz check, each with the bug it showed. The same
//! inputs are in `fuzz/regressions/config_file/`, replayed by `fuzz_replay.rs`.

use sluice::fuzzing::{config_file, ConfigOutcome};

fn syntax_error(text: &str) -> String {
    match config_file(text.as_bytes()) {
        ConfigOutcome::Syntax(e) => e.to_string(),
        other => panic!("{:?}...: {other:?}", &text[..text.len().min(40)]),
    }
}

/// Blocks and arrays nested thousands deep (`a: [[[[...`, `a { a { a {...`) overflowed the
/// parser's stack (it recurses once per level) and aborted the process: the server at
/// startup, or on a SIGHUP reload. Nesting is now limited to 128 levels, an error at the line
/// of the level that goes over.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for n in [129, 1_000, 50_000] {
        let e = syntax_error(&format!("a: {}\n", "[".repeat(n)));
        assert!(e.starts_with("fuzz.conf:1: ") && e.contains("nest"), "{e}");
        let e = syntax_error(&"a {".repeat(n));
        assert!(e.starts_with("fuzz.conf:1: ") && e.contains("nest"), "{e}");
    }
    // 128 levels are fine.
    let ok = format!("a: {}{}\n", "[".repeat(128), "]".repeat(128));
    assert!(matches!(
        config_file(ok.as_bytes()),
        ConfigOutcome::Options(_)
    ));
    let ok = format!("{}{}", "a {".repeat(128), "}".repeat(128));
    assert!(matches!(
        config_file(ok.as_bytes()),
        ConfigOutcome::Options(_)
    ));
}

/// A duration written as a float too large for a `Duration` (`timeout: 444...440.5`, 91
/// digits, in `authorization`) panicked in `Duration::from_secs_f64` and took the process
/// down (exit 101 at startup; a SIGHUP reload's task) instead of reporting a bad value.
#[test]
fn a_huge_float_duration_is_an_error_not_a_panic() {
    let text = format!(
        "authorization {{\n  timeout: {}0.5\n  token: t\n}}\n",
        "4".repeat(90)
    );
    match config_file(text.as_bytes()) {
        ConfigOutcome::Options(Err(e)) => {
            let e = e.to_string();
            assert!(e.starts_with("fuzz.conf:2: timeout"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    for big in ["1e300", "18446744073709551616.0"] {
        let text = format!("write_deadline: {big}\n");
        assert!(
            matches!(config_file(text.as_bytes()), ConfigOutcome::Options(Err(_))),
            "{big}"
        );
    }
    // Fractional seconds still work.
    let ok = "authorization {\n  timeout: 0.5\n  token: t\n}\n";
    assert!(matches!(
        config_file(ok.as_bytes()),
        ConfigOutcome::Options(Ok(_))
    ));
}
