//! Black-box tests of the `sluice` binary: flags, exit codes, startup lines, signals.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Is `line` a nats-server-style log line: `[pid] YYYY/MM/DD HH:MM:SS.uuuuuu [LVL] msg`?
fn is_log_line(line: &str, level: &str, msg: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once("] ") else {
        return false;
    };
    let stamp_ok = rest.len() > 27 && {
        let b = rest.as_bytes();
        let digits = [
            0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25,
        ];
        digits.iter().all(|&i| b[i].is_ascii_digit())
            && b[4] == b'/'
            && b[7] == b'/'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[26] == b' '
    };
    pid.parse::<u32>().is_ok() && stamp_ok && rest[27..] == format!("[{level}] {msg}")
}

#[test]
fn version_prints_one_line_and_exits_zero() {
    for flag in ["-v", "--version", "-version"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("sluice v0."), "{flag}: {stdout}");
        assert!(
            stdout.ends_with("(nats-server compatible v2.10.0)\n"),
            "{flag}: {stdout}"
        );
    }
}

#[test]
fn help_lists_nats_server_flags_and_exits_zero() {
    for flag in ["-h", "--help", "-help"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = text(&out.stdout);
        for needle in [
            "--port",
            "--addr",
            "--jetstream",
            "-js",
            "--store_dir",
            "-sd",
            "--user",
        ] {
            assert!(stdout.contains(needle), "{flag}: no {needle} in {stdout}");
        }
    }
}

#[test]
fn bad_monitoring_port_fails_clearly_before_binding() {
    let cases: &[(&[&str], &str)] = &[(&["-m", "-5"], "-m/--http_port: -5 is not a port")];
    for (args, expected) in cases {
        // If the check were missed, sluice would serve on a random port and `run` would
        // report that it did not exit.
        let mut all = args.to_vec();
        all.extend(["-p", "-1", "-a", "127.0.0.1"]);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr}"
        );
        assert!(stderr.starts_with("sluice: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains(LISTENING), "{args:?} bound: {stderr}");
    }
}

#[test]
fn usage_errors_exit_two() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "'--bogus'"),
        (&["-bogus"], "'--bogus'"),
        (&["--user", "u"], "--pass"),
        (&["--pass", "p"], "--user"),
        (
            &["--user", "u", "--pass", "p", "--auth", "t"],
            "cannot be used with",
        ),
        (&["-p", "-2"], "is not a port"),
        (&["-p", "http"], "is not a port"),
        (&["-p"], "a value is required"),
        (&["-D=maybe"], "invalid boolean value"),
        (&["serve"], "'serve'"),
    ];
    for (args, expected) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn port_in_use_is_one_clear_error_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["-a", "127.0.0.1", "-p", &port]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("[ERR]")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("Error listening on port: 127.0.0.1:{port}, ")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(LISTENING), "{stderr}");
}

#[test]
fn log_file_gets_nats_style_lines_and_errors_reach_stderr_too() {
    let log = temp_path("bind-error.log");
    let _ = std::fs::remove_file(&log);
    std::fs::write(&log, "earlier line\n").unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["-a=127.0.0.1", "-p", &port, "-l", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));

    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines[0], "earlier line", "the log file is appended to");
    assert!(is_log_line(lines[1], "INF", "Starting sluice"), "{logged}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[ERR] Error listening on port")),
        "{logged}"
    );

    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sluice: error: Error listening on port"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

#[test]
fn unopenable_log_file_is_an_error() {
    let out = run(&["-l", "/nonexistent-dir/for/sure/sluice.log", "-p", "-1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("sluice: error: cannot open log file"),
        "{stderr}"
    );
}

/// Starts sluice with `extra` flags, checks a client gets INFO and PONG, signals it and
/// checks a clean exit; returns its stderr lines.
fn serve_then_signal(signal: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["-p", "-1", "-a", "127.0.0.1"];
    args.extend(extra);
    let mut sluice = Running::start(&args);
    let addr = sluice.client_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0, "the line must carry the bound port");
    sluice.wait_for("Server is ready");

    let (mut client, info) = connect(addr);
    assert!(info.starts_with("INFO {"), "{info:?}");
    client.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_line(&mut client), "PONG\r\n");

    sluice.signal(signal);
    let status = sluice.wait_exit();
    assert_eq!(
        status.code(),
        Some(0),
        "stderr:\n{}",
        sluice.seen.join("\n")
    );
    let last = sluice.seen.last().cloned().unwrap_or_default();
    assert!(is_log_line(&last, "INF", "Server Exiting.."), "{last:?}");
    assert!(
        sluice.seen.iter().all(|l| !l.contains("panicked")),
        "{}",
        sluice.seen.join("\n")
    );
    std::mem::take(&mut sluice.seen)
}

#[test]
fn serves_on_a_random_port_and_stops_on_sigterm() {
    let lines = serve_then_signal("TERM", &[]);
    assert!(lines
        .iter()
        .any(|l| l.ends_with("[INF] Trapped \"terminated\" signal")));
    let noisy = lines
        .iter()
        .find(|l| l.contains("[DBG]") || l.contains("[TRC]"));
    assert!(noisy.is_none(), "debug/trace without -D/-V: {noisy:?}");
}

#[test]
fn serves_and_stops_on_sigint_with_go_style_flags() {
    let lines = serve_then_signal("INT", &["-DV", "-n=cli-test"]);
    assert!(lines
        .iter()
        .any(|l| l.ends_with("[INF] Trapped \"interrupt\" signal")));
    assert!(lines
        .iter()
        .any(|l| l.ends_with("[INF]   Name:     cli-test")));
    assert!(
        lines.iter().any(|l| l.contains("[DBG] ")),
        "-DV enables debug lines"
    );
    let pong = lines
        .iter()
        .any(|l| l.contains("[TRC] ") && l.contains("PONG"));
    assert!(pong, "-DV traces protocol ops:\n{}", lines.join("\n"));
}

#[test]
fn startup_lines_look_like_nats_server() {
    let mut sluice = Running::start(&["-p=-1", "--addr=127.0.0.1"]);
    let first = sluice.wait_for("Starting");
    assert!(is_log_line(&first, "INF", "Starting sluice"), "{first:?}");
    let listening = sluice.wait_for(LISTENING);
    let addr = listening.split_once(LISTENING).unwrap().1;
    assert!(
        is_log_line(&listening, "INF", &format!("{LISTENING}{addr}")),
        "{listening:?}"
    );
    let ready = sluice.wait_for("ready");
    assert!(is_log_line(&ready, "INF", "Server is ready"), "{ready:?}");
}

#[test]
fn jetstream_starts_with_go_style_flags_and_prints_its_store() {
    let dir = std::env::temp_dir().join(format!("sluice-cli-js-{}", std::process::id()));
    let sd = format!("-sd={}", dir.display());
    let lines = serve_then_signal("TERM", &["-js", &sd, "--sync", "1s"]);
    let _ = std::fs::remove_dir_all(&dir);
    let all = lines.join("\n");
    assert!(all.contains("[INF] Starting JetStream"), "{all}");
    assert!(
        all.contains(&format!("Store Directory: \"{}\"", dir.display())),
        "{all}"
    );
    assert!(all.contains("Sync:            every 1s"), "{all}");
}

#[test]
fn a_bad_sync_value_is_a_usage_error() {
    let out = run(&["-js", "--sync", "sometimes", "-p", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("sometimes"),
        "{}",
        text(&out.stderr)
    );
}
