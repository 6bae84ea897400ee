//! Tests of the cluster's resolution: defaults, the file, the flags over it, the reload diff,
//! and the refusal while routes are not served.

use super::*;
use crate::conf::{options, parser};
use sluice_server::{RoutePermissions, RouteUrl, SubjectPermission};
use std::time::Duration;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
}

fn file(text: &str) -> FileOptions {
    options::from_map(&parser::parse_str(text, Path::new("t.conf")).unwrap()).unwrap()
}

fn cluster_of(args: &[&str], text: Option<&str>) -> Option<ClusterConfig> {
    let f = text.map(file);
    resolve(&cli(args), f.as_ref())
        .unwrap_or_else(|e| panic!("{args:?} {text:?}: {e}"))
        .server
        .cluster
}

fn cluster_err(args: &[&str], text: Option<&str>) -> String {
    let f = text.map(file);
    match resolve(&cli(args), f.as_ref()) {
        Ok(s) => panic!("{args:?} {text:?} resolved: {:?}", s.server.cluster),
        Err(e) => e,
    }
}

fn routes(list: &[&str]) -> Vec<RouteUrl> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

#[test]
fn no_cluster_by_default() {
    assert_eq!(cluster_of(&[], None), None);
    assert_eq!(cluster_of(&[], Some("port: 4333")), None);
}

#[test]
fn file_block_with_defaults() {
    let c = cluster_of(&[], Some("cluster { listen: 6222 }")).unwrap();
    assert_eq!(c, ClusterConfig::new("0.0.0.0", 6222));
    assert_eq!(c.pool_size, RoutePool::Size(3));
    let c = cluster_of(&[], Some("cluster { port: -1, host: 127.0.0.1 }")).unwrap();
    assert_eq!(
        (c.host.as_str(), c.port),
        ("127.0.0.1", 0),
        "-1: any free port"
    );
}

#[test]
fn file_block_every_key() {
    let c = cluster_of(
        &[],
        Some(
            "cluster {\n name: east\n listen: \"10.0.0.1:7222\"\n \
             routes: [nats://a:1, \"nats-route://u:p@b:2\"]\n \
             authorization { user: ru, password: rp }\n \
             permissions { import: x, export: y }\n no_advertise: true\n \
             connect_retries: 2\n pool_size: -1\n advertise: \"pub:1\"\n}",
        ),
    )
    .unwrap();
    assert_eq!(
        c,
        ClusterConfig {
            name: Some("east".into()),
            host: "10.0.0.1".into(),
            port: 7222,
            routes: routes(&["nats://a:1", "nats-route://u:p@b:2"]),
            authorization: Some(RouteAuth {
                user: "ru".into(),
                password: "rp".into(),
                timeout: Duration::from_secs(2),
            }),
            permissions: Some(RoutePermissions {
                import: Some(SubjectPermission {
                    allow: vec!["x".into()],
                    deny: vec![],
                }),
                export: Some(SubjectPermission {
                    allow: vec!["y".into()],
                    deny: vec![],
                }),
            }),
            no_advertise: true,
            connect_retries: 2,
            pool_size: RoutePool::Off,
            advertise: Some("pub:1".into()),
            tls: None,
        }
    );
}

#[test]
fn a_block_needs_a_port() {
    let e = cluster_err(&[], Some("\ncluster { name: x, host: h }"));
    assert_eq!(
        e,
        "cluster: the cluster block at t.conf:2 has no port (give listen or port; nats-server \
         has no default cluster port)"
    );
    let e = cluster_err(&[], Some("cluster { port: 0 }"));
    assert!(
        e.starts_with("cluster: port 0 in the cluster block at t.conf:1 turns clustering off"),
        "{e}"
    );
    // Routes in the file with no port: nats-server would ignore them without a word.
    let e = cluster_err(&[], Some("cluster { routes: [nats://a:1] }"));
    assert!(e.contains("has no port"), "{e}");
}

#[test]
fn auth_timeout_defaults_and_tls() {
    let c = cluster_of(
        &[],
        Some("cluster { port: 1, authorization { user: u, password: p, timeout: 0.25 } }"),
    )
    .unwrap();
    assert_eq!(c.authorization.unwrap().timeout, Duration::from_millis(250));
    let c = cluster_of(
        &[],
        Some(
            "cluster { port: 1, authorization { user: u, password: p }\n \
             tls { cert_file: c, key_file: k, ca_file: ca, timeout: 4 } }",
        ),
    )
    .unwrap();
    // nats-server's getDefaultAuthTimeout: the TLS timeout plus a second.
    assert_eq!(c.authorization.unwrap().timeout, Duration::from_secs(5));
    let tls = c.tls.unwrap();
    assert_eq!(
        tls,
        TlsConfig {
            cert_file: "c".into(),
            key_file: "k".into(),
            ca_file: Some("ca".into()),
            verify: true,
            timeout: Duration::from_secs(4),
            map: false,
            allow_non_tls: false,
            handshake_first: sluice_server::HandshakeFirst::Off,
        }
    );
    let c = cluster_of(
        &[],
        Some("cluster { port: 1, tls { cert_file: c, key_file: k, ca_file: ca } }"),
    )
    .unwrap();
    assert_eq!(c.tls.unwrap().timeout, TlsConfig::DEFAULT_TIMEOUT);
    // The client TLS flags do not touch the cluster's TLS.
    let c = cluster_of(&["--tls=false"], Some("cluster { port: 1 }")).unwrap();
    assert_eq!(c.tls, None);
}

#[test]
fn cluster_tls_needs_cert_key_and_ca() {
    for (block, want) in [
        (
            "tls { key_file: k, ca_file: ca }",
            "needs a certificate (cert_file",
        ),
        (
            "tls { cert_file: c, ca_file: ca }",
            "needs the certificate's private key (key_file",
        ),
        (
            "tls { cert_file: c, key_file: k }",
            "needs a CA to verify other routes' certificates",
        ),
    ] {
        let e = cluster_err(&[], Some(&format!("cluster {{ port: 1\n {block} }}")));
        assert!(e.starts_with("cluster tls: "), "{e}");
        assert!(e.contains(want), "{block}: {e}");
        assert!(e.contains("tls block at t.conf:2"), "{e}");
    }
}

#[test]
fn flags_alone_make_a_cluster() {
    let c = cluster_of(
        &[
            "--cluster",
            "nats://ru:rp@127.0.0.1:6222",
            "--cluster_name",
            "c1",
            "--routes",
            "nats://a:1,nats://b:2",
            "--no_advertise",
            "--cluster_advertise",
            "pub:1",
            "--connect_retries",
            "3",
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        c,
        ClusterConfig {
            name: Some("c1".into()),
            routes: routes(&["nats://a:1", "nats://b:2"]),
            authorization: Some(RouteAuth {
                user: "ru".into(),
                password: "rp".into(),
                timeout: Duration::from_secs(2),
            }),
            no_advertise: true,
            connect_retries: 3,
            advertise: Some("pub:1".into()),
            ..ClusterConfig::new("127.0.0.1", 6222)
        }
    );
    let c = cluster_of(&["--cluster", "nats://0.0.0.0:-1"], None).unwrap();
    assert_eq!((c.port, c.authorization), (0, None));
}

#[test]
fn flags_override_the_file() {
    let f = "cluster {\n name: filed\n listen: \"10.0.0.1:7222\"\n routes: [nats://f:1]\n \
             authorization { user: fu, password: fp, timeout: 9 }\n no_advertise: true\n \
             connect_retries: 2\n advertise: \"filed:1\"\n pool_size: 5\n}";
    // Nothing given: the file.
    let c = cluster_of(&[], Some(f)).unwrap();
    assert_eq!(c.name.as_deref(), Some("filed"));
    assert_eq!(c.routes, routes(&["nats://f:1"]));
    // Each flag over its key; the rest stays the file's.
    let c = cluster_of(&["--cluster_name", "flagged"], Some(f)).unwrap();
    assert_eq!(c.name.as_deref(), Some("flagged"));
    assert_eq!(c.listen(), "10.0.0.1:7222");
    let c = cluster_of(&["--routes", "nats://g:1,nats://h:1"], Some(f)).unwrap();
    assert_eq!(c.routes, routes(&["nats://g:1", "nats://h:1"]));
    assert_eq!(c.name.as_deref(), Some("filed"));
    let c = cluster_of(&["--routes", ""], Some(f)).unwrap();
    assert!(
        c.routes.is_empty(),
        "--routes \"\" clears the file's routes"
    );
    let c = cluster_of(&["--no_advertise=false"], Some(f)).unwrap();
    assert!(!c.no_advertise);
    let c = cluster_of(&["--cluster_advertise", "flag:2"], Some(f)).unwrap();
    assert_eq!(c.advertise.as_deref(), Some("flag:2"));
    let c = cluster_of(&["--connect_retries", "0"], Some(f)).unwrap();
    assert_eq!(c.connect_retries, 0);
    assert_eq!(c.pool_size, RoutePool::Size(5), "no flag for pool_size");
    // --cluster replaces the listen address, and its user replaces the file's (the file's
    // timeout stays); without a user it clears the file's, as nats-server's overrideCluster.
    let c = cluster_of(&["--cluster", "nats://xu:xp@127.0.0.1:-1"], Some(f)).unwrap();
    assert_eq!(c.listen(), "127.0.0.1:0");
    assert_eq!(
        c.authorization,
        Some(RouteAuth {
            user: "xu".into(),
            password: "xp".into(),
            timeout: Duration::from_secs(9),
        })
    );
    assert_eq!(c.routes, routes(&["nats://f:1"]));
    let c = cluster_of(&["--cluster", "nats://127.0.0.1:7000"], Some(f)).unwrap();
    assert_eq!(c.authorization, None);
    // --cluster over a block with no port gives it one.
    let c = cluster_of(&["--cluster", "nats://h:1"], Some("cluster { name: n }")).unwrap();
    assert_eq!((c.listen(), c.name.as_deref()), ("h:1".into(), Some("n")));
}

#[test]
fn cluster_flag_empty_turns_the_file_off() {
    let f = "cluster { listen: 6222, routes: [nats://a:1] }";
    assert_eq!(cluster_of(&["--cluster", ""], Some(f)), None);
    assert_eq!(cluster_of(&["--cluster=", "--routes", ""], Some(f)), None);
    // Even a block that would be refused (no port) is off.
    assert_eq!(
        cluster_of(&["--cluster", ""], Some("cluster { name: n }")),
        None
    );
    let e = cluster_err(&["--cluster", "", "--routes", "nats://a:1"], Some(f));
    assert_eq!(
        e,
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
}

#[test]
fn cluster_flags_without_a_cluster_are_refused() {
    assert_eq!(
        cluster_err(&["--routes", "nats://a:1"], None),
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
    for (args, flag) in [
        (&["--cluster_name", "x"][..], "--cluster_name"),
        (&["--no_advertise"], "--no_advertise"),
        (&["--no_advertise=false"], "--no_advertise"),
        (&["--cluster_advertise", "h:1"], "--cluster_advertise"),
        (&["--connect_retries", "1"], "--connect_retries"),
    ] {
        assert_eq!(
            cluster_err(args, Some("port: 1")),
            format!("{flag} needs a cluster (--cluster URL, or a cluster block with a port)")
        );
    }
    // An empty --routes asks for nothing.
    assert_eq!(cluster_of(&["--routes", ""], None), None);
}

fn settings(text: &str) -> Settings {
    resolve(&cli(&[]), Some(&file(text))).unwrap()
}

#[test]
fn diff_reports_route_changes_as_nats_server_reloads_them() {
    let a = settings("cluster { listen: 6222, routes: [nats://a:1, nats://b:1] }");
    let b = settings("cluster { listen: 6222, routes: [nats://a:1, nats://c:1] }");
    let c = diff(&a, &b);
    assert_eq!(c.cluster, ["cluster routes"]);
    assert!(c.fixed.is_empty() && c.server.is_empty() && c.logging.is_empty());
    assert!(!c.is_empty());
    // Order does not matter (nats-server's diffRoutes).
    let b = settings("cluster { listen: 6222, routes: [nats://b:1, nats://a:1] }");
    assert!(diff(&a, &b).is_empty());
    // All routes gone is a change too.
    let b = settings("cluster { listen: 6222 }");
    assert_eq!(diff(&a, &b).cluster, ["cluster routes"]);
    // So is a route's credentials.
    let b = settings("cluster { listen: 6222, routes: [nats://u:p@a:1, nats://b:1] }");
    assert_eq!(diff(&a, &b).cluster, ["cluster routes"]);
}

#[test]
fn diff_refuses_cluster_host_and_port_and_reloads_the_rest() {
    let a = settings("cluster { listen: \"127.0.0.1:6222\", name: a }");
    let b = settings("cluster { listen: \"127.0.0.1:6333\", name: a }");
    assert_eq!(diff(&a, &b).fixed, ["cluster port"]);
    let b = settings("cluster { listen: \"0.0.0.0:6222\", name: a }");
    assert_eq!(diff(&a, &b).fixed, ["cluster host"]);
    // Turning clustering on or off.
    let none = settings("port: 4222");
    assert_eq!(diff(&none, &a).fixed, ["cluster"]);
    assert_eq!(diff(&a, &none).fixed, ["cluster"]);
    // What nats-server 2.9.10 reloads (clusterOption, routesOption), and 2.10's pool_size.
    let b = settings(
        "cluster { listen: \"127.0.0.1:6222\", name: b, authorization { user: u, password: p }\n\
         permissions { import: x }, no_advertise: true, advertise: \"h:1\", connect_retries: 4\n\
         pool_size: 8, tls { cert_file: c, key_file: k, ca_file: ca } }",
    );
    let c = diff(&a, &b);
    assert!(c.fixed.is_empty(), "{c:?}");
    assert_eq!(
        c.cluster,
        [
            "cluster name",
            "cluster authorization",
            "cluster permissions",
            "cluster tls",
            "cluster no_advertise",
            "cluster advertise",
            "cluster connect_retries",
            "cluster pool_size",
        ]
    );
    // A random port (-1) stays "any free port" across reloads: no change.
    let r = settings("cluster { listen: -1 }");
    assert!(diff(&r, &settings("cluster { listen: -1 }")).is_empty());
}

/// The startup (and reload) path: `load` reads the file, serves a cluster, and refuses the
/// parts of one that are not served, naming them.
#[test]
fn load_serves_a_cluster_and_refuses_what_is_not_served() {
    let dir = std::env::temp_dir().join(format!("sluice-cluster-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.conf");
    std::fs::write(
        &path,
        "port: -1\ncluster {\n  listen: 6222\n  routes: [nats://a:1]\n}\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let s = load(&cli(&["-c", p])).unwrap();
    assert_eq!(s.server.cluster.as_ref().unwrap().routes.len(), 1);
    assert!(load(&cli(&["--cluster", "nats://127.0.0.1:-1"])).is_ok());
    // JetStream in a cluster needs names, as nats-server's does.
    let e = load(&cli(&["-c", p, "--js"])).unwrap_err();
    assert_eq!(e, "jetstream cluster requires `server_name` to be set");
    let e = load(&cli(&["-c", p, "--js", "--name", "n1"])).unwrap_err();
    assert_eq!(e, "jetstream cluster requires `cluster.name` to be set");
    let named = load(&cli(&[
        "-c",
        p,
        "--js",
        "--name",
        "n1",
        "--cluster_name",
        "c1",
    ]))
    .unwrap();
    assert!(named.server.jetstream && named.server.cluster.is_some());
    std::fs::write(
        &path,
        "port: -1\ncluster {\n  listen: 6222\n  pool_size: 3\n}\n",
    )
    .unwrap();
    let e = load(&cli(&["-c", p])).unwrap_err();
    assert!(
        e.starts_with("cluster.pool_size: 3: route pooling is not served"),
        "{e}"
    );
    for served in [
        "pool_size: 1",
        "pool_size: -1",
        "permissions { import: [\"a.>\"], export: { deny: [\"b\"] } }",
    ] {
        std::fs::write(
            &path,
            format!("port: -1\ncluster {{\n  listen: 6222\n  {served}\n}}\n"),
        )
        .unwrap();
        assert!(load(&cli(&["-c", p])).is_ok(), "{served}");
    }
    std::fs::write(
        &path,
        "port: -1\ncluster {\n  listen: 6222\n  routes: [nats://a:1]\n}\n",
    )
    .unwrap();
    // `--cluster ""` turns the file's cluster off, and the server may start.
    let s = load(&cli(&["-c", p, "--cluster", ""])).unwrap();
    assert_eq!(s.server.cluster, None);
    // A bad cluster block is the file's error, with its line, before any refusal.
    std::fs::write(&path, "cluster {\n  listen: 6222\n  bogus: 1\n}\n").unwrap();
    let e = load(&cli(&["-c", p])).unwrap_err();
    assert_eq!(e, format!("{p}:3: unknown key \"bogus\" in cluster"));
    // Without a cluster, load is unchanged.
    std::fs::write(&path, "port: -1\n").unwrap();
    assert!(load(&cli(&["-c", p])).unwrap().server.cluster.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
