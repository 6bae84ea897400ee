//! Tests of the flag normalizer and the clap definitions.
use super::*;
use clap::error::ErrorKind;

fn norm(args: &[&str]) -> Vec<String> {
    normalize(std::iter::once("sluice").chain(args.iter().copied()))
        .into_iter()
        .skip(1)
        .map(|a| a.into_string().unwrap())
        .collect()
}

fn try_from_strs(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied()))
}

fn parse(args: &[&str]) -> Cli {
    try_from_strs(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn parse_err(args: &[&str]) -> clap::Error {
    match try_from_strs(args) {
        Ok(cli) => panic!("{args:?} parsed as {cli:?}"),
        Err(e) => e,
    }
}

// ---- normalize ----

#[test]
fn normalize_keeps_program_name_and_empty_args() {
    assert_eq!(normalize(["sluice"]), vec![OsString::from("sluice")]);
    assert!(norm(&[]).is_empty());
}

#[test]
fn normalize_single_dash_long_bools() {
    assert_eq!(norm(&["-js"]), ["--jetstream"]);
    assert_eq!(norm(&["--js"]), ["--jetstream"]);
    assert_eq!(norm(&["-jetstream"]), ["--jetstream"]);
    assert_eq!(norm(&["--jetstream"]), ["--jetstream"]);
}

#[test]
fn normalize_value_flags_every_spelling() {
    for args in [
        &["-sd=/x"][..],
        &["-sd", "/x"],
        &["--sd=/x"],
        &["--sd", "/x"],
        &["--store_dir=/x"],
        &["--store_dir", "/x"],
        &["-store_dir=/x"],
    ] {
        assert_eq!(norm(args), ["--store_dir=/x"], "{args:?}");
    }
    assert_eq!(norm(&["-p=4223"]), ["--port=4223"]);
    assert_eq!(norm(&["--port", "4223"]), ["--port=4223"]);
    assert_eq!(norm(&["-a=127.0.0.1"]), ["--addr=127.0.0.1"]);
    assert_eq!(norm(&["--net", "::1"]), ["--addr=::1"]);
    assert_eq!(norm(&["-server_name", "x"]), ["--name=x"]);
}

#[test]
fn normalize_value_takes_next_arg_whatever_it_looks_like() {
    assert_eq!(norm(&["-p", "-1"]), ["--port=-1"]);
    assert_eq!(norm(&["-n", "-js"]), ["--name=-js"]);
    assert_eq!(norm(&["--pass", "--"]), ["--pass=--"]);
}

#[test]
fn normalize_value_keeps_equals_and_empty_values() {
    assert_eq!(norm(&["--auth=a=b"]), ["--auth=a=b"]);
    assert_eq!(norm(&["--user="]), ["--user="]);
}

#[test]
fn normalize_missing_value_is_left_for_clap() {
    assert_eq!(norm(&["-p"]), ["--port"]);
}

#[test]
fn normalize_debug_trace_combinations() {
    assert_eq!(norm(&["-DV"]), ["--debug", "--trace"]);
    assert_eq!(norm(&["--DV"]), ["--debug", "--trace"]);
    assert_eq!(norm(&["-DVV"]), ["--debug", "--trace"]);
    assert_eq!(norm(&["-VV"]), ["--trace"]);
    assert_eq!(norm(&["-D", "-V"]), ["--debug", "--trace"]);
    assert_eq!(norm(&["-DV=false"]), ["--debug=false", "--trace=false"]);
}

#[test]
fn normalize_bool_values() {
    assert_eq!(norm(&["-D=true"]), ["--debug=true"]);
    assert_eq!(norm(&["--jetstream=false"]), ["--jetstream=false"]);
    // A bool flag never takes the next argument.
    assert_eq!(norm(&["-D", "false"]), ["--debug", "false"]);
}

#[test]
fn normalize_help_and_version() {
    assert_eq!(norm(&["-h"]), ["--help"]);
    assert_eq!(norm(&["-help"]), ["--help"]);
    assert_eq!(norm(&["-h=false"]), Vec::<String>::new());
    assert_eq!(norm(&["-v"]), ["--version"]);
    assert_eq!(norm(&["-version"]), ["--version"]);
}

#[test]
fn normalize_unknown_flags_pass_through() {
    assert_eq!(norm(&["--bogus"]), ["--bogus"]);
    assert_eq!(norm(&["-bogus"]), ["--bogus"]);
    assert_eq!(norm(&["-bogus=1"]), ["--bogus=1"]);
    assert_eq!(norm(&["-x"]), ["-x"]);
    assert_eq!(norm(&["--tlsx", "-p", "1"]), ["--tlsx", "--port=1"]);
}

#[test]
fn normalize_stops_at_first_non_flag_and_double_dash() {
    assert_eq!(
        norm(&["-js", "foo", "-p", "1"]),
        ["--jetstream", "foo", "-p", "1"]
    );
    assert_eq!(norm(&["--", "-js"]), ["--", "-js"]);
    assert_eq!(norm(&["-", "-js"]), ["-", "-js"]);
}

#[cfg(unix)]
#[test]
fn normalize_passes_non_utf8_values_through() {
    use std::os::unix::ffi::OsStringExt;
    let path = OsString::from_vec(b"/tmp/\xff.log".to_vec());
    let out = normalize([OsString::from("sluice"), "-l".into(), path.clone()]);
    let mut expected = OsString::from("--log=");
    expected.push(&path);
    assert_eq!(out, [OsString::from("sluice"), expected]);
}

// ---- parsing ----

#[test]
fn defaults_match_nats_server() {
    let cli = parse(&[]);
    assert_eq!(cli.addr, "0.0.0.0");
    assert_eq!(cli.port, 4222);
    assert!(!cli.debug && !cli.trace && !cli.jetstream && !cli.version);
    assert!(cli.name.is_none() && cli.log.is_none() && cli.unavailable().is_none());
}

#[test]
fn jetstream_spellings() {
    for args in [
        &["-js"][..],
        &["--jetstream"],
        &["--js"],
        &["-jetstream=true"],
    ] {
        assert!(parse(args).jetstream, "{args:?}");
    }
    assert!(!parse(&["--jetstream=false"]).jetstream);
    assert!(
        !parse(&["-js", "-js=false"]).jetstream,
        "last one wins, as in Go"
    );
}

#[test]
fn store_dir_spellings() {
    for args in [
        &["-sd=/x"][..],
        &["-sd", "/x"],
        &["--store_dir=/x"],
        &["--store_dir", "/x"],
    ] {
        assert_eq!(parse(args).store_dir.as_deref(), Some("/x"), "{args:?}");
    }
}

#[test]
fn port_spellings() {
    for args in [
        &["-p=4223"][..],
        &["-p", "4223"],
        &["--port", "4223"],
        &["--port=4223"],
    ] {
        assert_eq!(parse(args).port, 4223, "{args:?}");
    }
    assert_eq!(parse(&["-p", "-1"]).port, 0);
    assert_eq!(
        parse(&["-p", "0"]).port,
        DEFAULT_PORT,
        "0 is the default port, as nats-server"
    );
    assert_eq!(parse(&["-p=-1"]).port, 0);
    assert_eq!(parse(&["-p", "65535"]).port, 65535);
}

#[test]
fn bad_ports_are_rejected() {
    for bad in ["-2", "65536", "abc", ""] {
        assert_eq!(
            parse_err(&["-p", bad]).kind(),
            ErrorKind::ValueValidation,
            "{bad}"
        );
    }
}

#[test]
fn missing_value_is_rejected() {
    let err = parse_err(&["-p"]);
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
}

#[test]
fn debug_and_trace_spellings() {
    let both = |args: &[&str]| {
        let c = parse(args);
        (c.debug, c.trace)
    };
    assert_eq!(both(&["-DV"]), (true, true));
    assert_eq!(both(&["-D", "-V"]), (true, true));
    assert_eq!(both(&["--debug", "--trace"]), (true, true));
    assert_eq!(both(&["-D"]), (true, false));
    assert_eq!(both(&["-V"]), (false, true));
    assert_eq!(both(&["-VV"]), (false, true));
    assert_eq!(both(&["-DVV"]), (true, true));
    assert_eq!(both(&["-D=true"]), (true, false));
    assert_eq!(both(&["-D=1", "-V=F"]), (true, false));
    assert_eq!(both(&["-DV", "-V=false"]), (true, false));
}

#[test]
fn bad_bool_value_is_rejected() {
    assert_eq!(parse_err(&["-D=yes"]).kind(), ErrorKind::ValueValidation);
}

#[test]
fn addr_and_name_spellings() {
    for args in [
        &["-a=127.0.0.1"][..],
        &["-a", "127.0.0.1"],
        &["--addr", "127.0.0.1"],
        &["--net=127.0.0.1"],
        &["-net", "127.0.0.1"],
    ] {
        assert_eq!(parse(args).addr, "127.0.0.1", "{args:?}");
    }
    for args in [
        &["-n", "x"][..],
        &["--name=x"],
        &["--server_name", "x"],
        &["-server_name=x"],
    ] {
        assert_eq!(parse(args).name.as_deref(), Some("x"), "{args:?}");
    }
}

#[test]
fn log_version_http_config_spellings() {
    assert_eq!(
        parse(&["-l", "/tmp/s.log"]).log.unwrap(),
        std::path::Path::new("/tmp/s.log")
    );
    assert_eq!(
        parse(&["--log=/tmp/s.log"]).log.unwrap(),
        std::path::Path::new("/tmp/s.log")
    );
    assert!(parse(&["-v"]).version);
    assert!(parse(&["--version"]).version);
    assert_eq!(parse(&["-m", "8222"]).http_port, Some(8222));
    assert_eq!(parse(&["--http_port=-1"]).http_port, Some(-1));
    assert_eq!(parse(&["-c", "x.conf"]).config.as_deref(), Some("x.conf"));
}

#[test]
fn tls_flags_parse_in_go_spellings() {
    let c = parse(&[
        "-tls",
        "-tlscert",
        "c.pem",
        "--tlskey=k.pem",
        "-tlsverify=true",
        "--tlscacert",
        "ca.pem",
    ]);
    assert!(c.tls && c.tlsverify);
    assert_eq!(c.tlscert.as_deref(), Some(std::path::Path::new("c.pem")));
    assert_eq!(c.tlskey.as_deref(), Some(std::path::Path::new("k.pem")));
    assert_eq!(c.tlscacert.as_deref(), Some(std::path::Path::new("ca.pem")));
    let c = parse(&[]);
    assert!(!c.tls && !c.tlsverify && c.tlscert.is_none());
}

#[test]
fn repeated_flags_last_wins_as_in_go() {
    assert_eq!(parse(&["-p", "1", "-p", "2"]).port, 2);
    assert_eq!(parse(&["-a", "x", "--net", "y"]).addr, "y");
}

#[test]
fn unknown_flags_are_rejected() {
    for args in [
        &["--bogus"][..],
        &["-bogus"],
        &["-x"],
        &["--tlsx"],
        &["-p", "1", "--bogus=2"],
    ] {
        assert_eq!(
            parse_err(args).kind(),
            ErrorKind::UnknownArgument,
            "{args:?}"
        );
    }
    let msg = parse_err(&["-bogus"]).to_string();
    assert!(msg.contains("--bogus"), "{msg}");
}

#[test]
fn positional_arguments_are_rejected() {
    assert_eq!(parse_err(&["foo"]).kind(), ErrorKind::UnknownArgument);
    assert_eq!(parse_err(&["--", "-js"]).kind(), ErrorKind::UnknownArgument);
}

#[test]
fn help_is_displayed() {
    assert_eq!(parse_err(&["-h"]).kind(), ErrorKind::DisplayHelp);
    assert_eq!(parse_err(&["-help"]).kind(), ErrorKind::DisplayHelp);
    assert_eq!(parse_err(&["--help"]).kind(), ErrorKind::DisplayHelp);
}

#[test]
fn user_and_pass_go_together() {
    assert_eq!(
        parse_err(&["--user", "u"]).kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&["--pass", "p"]).kind(),
        ErrorKind::MissingRequiredArgument
    );
    let cli = parse(&["--user", "u", "--pass", "p"]);
    assert_eq!(
        cli.server_config().auth,
        Auth::UserPass {
            user: "u".into(),
            pass: "p".into()
        }
    );
}

#[test]
fn token_conflicts_with_user_pass() {
    let err = parse_err(&["--user", "u", "--pass", "p", "--auth", "t"]);
    assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
    assert_eq!(
        parse(&["--auth=t"]).server_config().auth,
        Auth::Token("t".into())
    );
}

// ---- what the flags mean ----

#[test]
fn jetstream_and_sync() {
    use sluice_stream::SyncPolicy;
    assert_eq!(parse(&[]).jetstream_config(), None);
    let (dir, sync) = parse(&["-js", "-sd=/data"]).jetstream_config().unwrap();
    assert_eq!((dir.to_str(), sync), (Some("/data"), SyncPolicy::Always));
    let (dir, _) = parse(&["-js"]).jetstream_config().unwrap();
    assert_eq!(dir, sluice_stream::default_store_dir());
    let (_, sync) = parse(&["-js", "--sync", "2m"]).jetstream_config().unwrap();
    assert_eq!(sync, SyncPolicy::Every(std::time::Duration::from_secs(120)));
    assert!(parse(&["-js"]).server_config().jetstream);
    assert!(parse_sync("sometimes").is_err());
}

#[test]
fn server_config_mapping() {
    let cfg = parse(&["-a", "127.0.0.1", "-p", "4333", "-n", "srv"]).server_config();
    assert_eq!(cfg.host, "127.0.0.1");
    assert_eq!(cfg.port, 4333);
    assert_eq!(cfg.server_name.as_deref(), Some("srv"));
    assert_eq!(cfg.auth, Auth::None);
    let d = ServerConfig::default();
    assert_eq!(cfg.max_payload, d.max_payload);
    assert_eq!(cfg.ping_interval, d.ping_interval);
    assert!(!cfg.jetstream);
}

#[test]
fn server_config_defaults_and_random_port() {
    let cfg = parse(&[]).server_config();
    assert_eq!((cfg.host.as_str(), cfg.port), ("0.0.0.0", 4222));
    assert_eq!(cfg.server_name, None);
    assert_eq!(parse(&["-p", "-1"]).server_config().port, 0);
    assert_eq!(parse(&["-n="]).server_config().server_name, None);
}

#[test]
fn unavailable_features_are_named() {
    let flag = |args: &[&str]| parse(args).unavailable().map(|u| u.flag);
    assert_eq!(flag(&["-js"]), None, "JetStream is built");
    assert_eq!(flag(&["-sd=/x"]), None);
    assert_eq!(flag(&["-m", "8222"]), None, "monitoring is built");
    assert_eq!(flag(&["-m", "0"]), None);
    assert_eq!(
        flag(&["-c", "x.conf"]),
        None,
        "configuration files are built"
    );
}

#[test]
fn given_flags_are_told_from_defaults() {
    let cli = parse(&["-p", "4333", "-DV", "-c", "x.conf"]);
    for id in ["port", "debug", "trace", "config"] {
        assert!(cli.given(id), "{id}");
    }
    for id in ["addr", "jetstream", "sync", "name"] {
        assert!(!cli.given(id), "{id} has a default but was not given");
    }
    assert!(parse(&["-D=false"]).given("debug"));
    assert!(parse(&["-a", "0.0.0.0"]).given("addr"));
}

#[test]
fn version_line_format() {
    let line = Cli::version_line();
    assert!(line.starts_with("sluice v"), "{line}");
    assert!(line.ends_with(&format!(
        "(nats-server compatible v{})",
        sluice_server::NATS_COMPAT_VERSION
    )));
}

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_spec_long_is_a_clap_flag() {
    let cmd = Cli::command();
    for spec in FLAGS {
        for long in spec.longs {
            let known = cmd.get_arguments().any(|a| a.get_long() == Some(*long));
            assert!(known, "--{long} is not defined in Cli");
        }
    }
}

#[test]
fn go_bools() {
    for t in ["1", "t", "T", "true", "TRUE", "True"] {
        assert_eq!(parse_go_bool(t), Ok(true));
    }
    for f in ["0", "f", "F", "false", "FALSE", "False"] {
        assert_eq!(parse_go_bool(f), Ok(false));
    }
    assert!(parse_go_bool("yes").is_err());
}
