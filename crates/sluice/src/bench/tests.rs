//! Unit tests of `sluice bench`'s argument parsing and defaults.

use super::{parse_server, BenchCli, Settings, Workload};
use clap::Parser;

fn settings(args: &[&str]) -> Result<Settings, String> {
    let cli = BenchCli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.settings()
}

#[test]
fn workload_names_are_kebab_case() {
    for (name, w) in [
        ("pub", Workload::Pub),
        ("pubsub", Workload::Pubsub),
        ("fanout", Workload::Fanout),
        ("queue", Workload::Queue),
        ("reqrep", Workload::Reqrep),
        ("js-pub", Workload::JsPub),
        ("js-consume", Workload::JsConsume),
    ] {
        assert_eq!(settings(&[name]).unwrap().workload, w);
        assert_eq!(w.name(), name);
    }
    assert!(settings(&["jspub"]).is_err());
    assert!(settings(&[]).is_err(), "the workload is required");
}

#[test]
fn defaults_depend_on_the_workload() {
    let s = settings(&["pubsub"]).unwrap();
    assert_eq!(
        s,
        Settings {
            workload: Workload::Pubsub,
            server: "127.0.0.1:4222".into(),
            sub_server: None,
            msgs: 1_000_000,
            size: 16,
            subs: 1,
            window: 1,
            replicas: 1,
            in_flight: None,
        }
    );
    assert_eq!(settings(&["fanout"]).unwrap().subs, 4);
    assert_eq!(settings(&["queue"]).unwrap().subs, 4);
    let js = settings(&["js-pub"]).unwrap();
    assert_eq!((js.msgs, js.size, js.window), (20_000, 128, 1));
    assert_eq!(settings(&["js-consume"]).unwrap().msgs, 100_000);
    assert_eq!(
        (js.replicas, settings(&["js-consume"]).unwrap().replicas),
        (1, 1)
    );
    assert_eq!(settings(&["reqrep"]).unwrap().msgs, 20_000);
}

#[test]
fn options_override_defaults() {
    let s = settings(&[
        "fanout",
        "--server",
        "nats://10.0.0.1:4333",
        "--msgs",
        "10",
        "--size",
        "1024",
        "--subs",
        "8",
    ])
    .unwrap();
    assert_eq!(s.server, "10.0.0.1:4333");
    assert_eq!((s.msgs, s.size, s.subs), (10, 1024, 8));
    let s = settings(&[
        "js-pub",
        "-s",
        "localhost",
        "-n",
        "5",
        "--window=256",
        "--json",
    ])
    .unwrap();
    assert_eq!(
        (s.server.as_str(), s.msgs, s.window),
        ("localhost:4222", 5, 256)
    );
}

#[test]
fn options_that_do_not_apply_are_refused() {
    assert!(settings(&["pubsub", "--subs", "2"])
        .unwrap_err()
        .contains("--subs"));
    assert!(settings(&["pub", "--window", "2"])
        .unwrap_err()
        .contains("--window"));
    assert!(settings(&["js-consume", "--window", "2"]).is_err());
    assert!(settings(&["pub", "--msgs", "0"])
        .unwrap_err()
        .contains("at least 1"));
    assert!(settings(&["queue", "--subs", "0"]).is_err());
    assert!(settings(&["pub", "--msgs", "-3"]).is_err());
    assert!(settings(&["pub", "-js"]).is_err(), "no Go-style flags here");
}

#[test]
fn replicas_apply_to_the_jetstream_workloads() {
    assert_eq!(
        settings(&["js-pub", "--replicas", "3"]).unwrap().replicas,
        3
    );
    assert_eq!(
        settings(&["js-consume", "--replicas=5"]).unwrap().replicas,
        5
    );
    assert!(settings(&["pubsub", "--replicas", "3"])
        .unwrap_err()
        .contains("--replicas"));
    assert!(settings(&["js-pub", "--replicas", "0"])
        .unwrap_err()
        .contains("1 to 5"));
    assert!(settings(&["js-pub", "--replicas", "6"]).is_err());
}

#[test]
fn server_addresses() {
    assert_eq!(
        parse_server("nats://127.0.0.1:4222").unwrap(),
        "127.0.0.1:4222"
    );
    assert_eq!(parse_server("nats://host:1/").unwrap(), "host:1");
    assert_eq!(parse_server("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
    assert_eq!(parse_server("example.com").unwrap(), "example.com:4222");
    assert_eq!(parse_server("[::1]:4000").unwrap(), "[::1]:4000");
    assert_eq!(parse_server("[::1]").unwrap(), "[::1]:4222");
    assert_eq!(parse_server("::1").unwrap(), "[::1]:4222");
    assert!(parse_server("").is_err());
    assert!(parse_server("host:http").is_err());
    assert!(parse_server("tls://host:1").is_err());
    assert!(parse_server("host:99999").is_err());
}

#[test]
fn sub_server_places_the_receivers() {
    for w in ["pubsub", "fanout", "reqrep"] {
        let s = settings(&[w, "-s", "a:1", "--sub-server", "nats://b:2"]).unwrap();
        assert_eq!(s.sub_server.as_deref(), Some("b:2"));
        assert!((0..4).all(|i| s.receiver_server(i) == "b:2"), "{w}");
    }
    // queue: members 0, 2, 4... on --sub-server, the others with the publisher.
    let s = settings(&["queue", "-s", "a:1", "--sub-server", "b:2", "--subs", "5"]).unwrap();
    let placed: Vec<&str> = (0..5).map(|i| s.receiver_server(i)).collect();
    assert_eq!(placed, ["b:2", "a:1", "b:2", "a:1", "b:2"]);
    let remote = (0..5).filter(|&i| s.receiver_is_remote(i)).count();
    assert_eq!(remote, 3);
    // Without it, everything is on --server.
    let s = settings(&["queue", "-s", "a:1"]).unwrap();
    assert!((0..4).all(|i| s.receiver_server(i) == "a:1" && !s.receiver_is_remote(i)));
    for w in ["pub", "js-pub", "js-consume"] {
        let e = settings(&[w, "--sub-server", "b:2"]).unwrap_err();
        assert!(e.contains("--sub-server"), "{w}: {e}");
    }
    assert!(settings(&["pubsub", "--sub-server", "tls://b:2"]).is_err());
}

#[test]
fn in_flight_defaults_across_a_cluster_only() {
    let s = settings(&["pubsub", "--sub-server", "b:2"]).unwrap();
    assert_eq!(s.in_flight, Some(131_072));
    let s = settings(&["fanout", "--sub-server", "b:2", "--size", "1024"]).unwrap();
    assert_eq!(s.in_flight, Some(7825));
    let s = settings(&["queue", "--sub-server", "b:2", "--in-flight", "10"]).unwrap();
    assert_eq!(s.in_flight, Some(10));
    assert_eq!(settings(&["queue"]).unwrap().in_flight, None);
    assert_eq!(
        settings(&["reqrep", "--sub-server", "b:2"])
            .unwrap()
            .in_flight,
        None
    );
    assert_eq!(
        settings(&["pubsub", "--in-flight", "5"]).unwrap().in_flight,
        Some(5)
    );
    assert!(settings(&["pub", "--in-flight", "5"])
        .unwrap_err()
        .contains("--in-flight"));
    assert!(settings(&["reqrep", "--in-flight", "5"]).is_err());
    assert!(settings(&["pubsub", "--in-flight", "0"])
        .unwrap_err()
        .contains("at least 1"));
}
