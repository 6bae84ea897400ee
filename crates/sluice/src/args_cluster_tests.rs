//! Tests of the cluster flags: nats-server's spellings, values and refusals.
use super::*;
use clap::error::ErrorKind;

fn norm(args: &[&str]) -> Vec<String> {
    normalize(std::iter::once("sluice").chain(args.iter().copied()))
        .into_iter()
        .skip(1)
        .map(|a| a.into_string().unwrap())
        .collect()
}

fn try_parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied()))
}

fn parse(args: &[&str]) -> Cli {
    try_parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn parse_err(args: &[&str]) -> clap::Error {
    match try_parse(args) {
        Ok(cli) => panic!("{args:?} parsed as {cli:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_go_spelling_normalizes() {
    for args in [
        &["-cluster", "nats://h:1"][..],
        &["--cluster=nats://h:1"],
        &["-cluster_listen", "nats://h:1"],
        &["--cluster_listen=nats://h:1"],
    ] {
        assert_eq!(norm(args), ["--cluster=nats://h:1"], "{args:?}");
    }
    assert_eq!(norm(&["-cluster_name", "c"]), ["--cluster_name=c"]);
    assert_eq!(
        norm(&["-routes", "nats://a:1,nats://b:2"]),
        ["--routes=nats://a:1,nats://b:2"]
    );
    assert_eq!(norm(&["-no_advertise"]), ["--no_advertise"]);
    assert_eq!(norm(&["-no_advertise=false"]), ["--no_advertise=false"]);
    assert_eq!(
        norm(&["-cluster_advertise", "h:1"]),
        ["--cluster_advertise=h:1"]
    );
    assert_eq!(norm(&["-connect_retries", "3"]), ["--connect_retries=3"]);
    // A value flag takes the next argument whatever it looks like, as in Go.
    assert_eq!(norm(&["--routes", ""]), ["--routes="]);
}

#[test]
fn cluster_flag_values() {
    let cli = parse(&["--cluster", "nats://u:p@127.0.0.1:-1"]);
    assert!(cli.given("cluster"));
    let Some(ClusterFlag::Listen(url)) = cli.cluster else {
        panic!("{:?}", cli.cluster)
    };
    assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 0));
    assert_eq!(url.user, Some(("u".into(), "p".into())));
    assert_eq!(
        parse(&["-cluster_listen=nats-route://h:6222"])
            .cluster
            .unwrap(),
        { ClusterFlag::Listen("nats://h:6222".parse().unwrap()) }
    );
    assert_eq!(parse(&["--cluster", ""]).cluster, Some(ClusterFlag::Off));
    let cli = parse(&[]);
    assert_eq!(cli.cluster, None);
    assert!(!cli.given("cluster") && !cli.given("routes") && !cli.given("no_advertise"));
    assert!(!cli.no_advertise);
    assert_eq!(
        (
            cli.cluster_name,
            cli.routes,
            cli.cluster_advertise,
            cli.connect_retries
        ),
        (None, None, None, None)
    );
}

#[test]
fn other_cluster_flags() {
    let cli = parse(&[
        "-cluster_name",
        "east",
        "-routes",
        "nats://a:1, nats-route://u:p@b:2",
        "-no_advertise",
        "-cluster_advertise",
        "public:16222",
        "-connect_retries",
        "7",
    ]);
    assert_eq!(cli.cluster_name.as_deref(), Some("east"));
    let routes = cli.routes.clone().unwrap().0;
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].host_port(), "a:1");
    assert_eq!(routes[1].user.as_deref(), Some("u"));
    assert!(cli.no_advertise && cli.given("no_advertise"));
    assert_eq!(cli.cluster_advertise.as_deref(), Some("public:16222"));
    assert_eq!(cli.connect_retries, Some(7));
    assert_eq!(parse(&["--routes", ""]).routes, Some(RouteList(vec![])));
    let cli = parse(&["-no_advertise=false"]);
    assert!(!cli.no_advertise && cli.given("no_advertise"));
}

#[test]
fn bad_cluster_flag_values_are_usage_errors() {
    for (args, want) in [
        (
            &["--cluster", "127.0.0.1:6222"][..],
            "expected nats://host:port",
        ),
        (&["--cluster", "nats://h"], "no port"),
        (&["--cluster", "nats://h:0"], "port 0 turns clustering off"),
        (
            &["--cluster", "nats://u@h:1"],
            "expected cluster password to be set",
        ),
        (&["--cluster", "nats://h:99999"], "port \"99999\""),
        (&["--cluster", "http://h:1"], "scheme \"http\""),
        (
            &["--routes", "nats://a:1,nats://a:1"],
            "route nats://a:1 is listed twice",
        ),
        (
            &["--routes", "nats://a:1,,nats://b:1"],
            "bad route URL \"\": empty",
        ),
        (
            &["--routes", "nats://a"],
            "bad route URL \"nats://a\": no port",
        ),
        (&["--routes", "nats://u:pw@a"], "nats://u:xxxxx@a"),
        (
            &["--cluster_name", "a b"],
            "cluster name cannot contain spaces",
        ),
        (&["--cluster_name", ""], "cluster name is empty"),
        (&["--cluster_advertise", "x:y:z"], "too many colons"),
        (&["--connect_retries", "-1"], "-1"),
        (&["--connect_retries", "many"], "many"),
        (&["-no_advertise=maybe"], "invalid boolean value"),
    ] {
        let e = parse_err(args);
        assert_eq!(e.kind(), ErrorKind::ValueValidation, "{args:?}: {e}");
        let text = e.to_string();
        // (clap echoes the value as typed; our own part of the message redacts passwords)
        assert!(text.contains(want), "{args:?}: {text}");
    }
}

#[test]
fn help_lists_the_cluster_flags() {
    let help = Cli::command().render_help().to_string();
    for flag in [
        "Cluster Options",
        "--cluster <URL>",
        "--cluster_name <NAME>",
        "--routes <URL,...>",
        "--no_advertise",
        "--cluster_advertise <HOST:PORT>",
        "--connect_retries <N>",
    ] {
        assert!(help.contains(flag), "{flag} not in\n{help}");
    }
}
