//! Tests of the `cluster { ... }` block: every key, every error with its line.

use super::*;
use crate::conf::options::from_map;
use crate::conf::parser::parse_str;
use sluice_server::{RouteScheme, SubjectPermission};
use std::path::{Path, PathBuf};

fn cluster_of(text: &str) -> ClusterOptions {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    from_map(&map)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .cluster
        .expect("a cluster block")
}

fn err(text: &str) -> String {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match from_map(&map) {
        Ok(o) => panic!("{text:?} read as {:?}", o.cluster),
        Err(e) => e.to_string(),
    }
}

fn route(s: &str) -> RouteUrl {
    s.parse().unwrap()
}

#[test]
fn every_key() {
    let c = cluster_of(
        "cluster {\n\
           name: east\n\
           listen: 127.0.0.1:6222\n\
           routes: [\n\
             nats://127.0.0.1:6223\n\
             \"nats-route://ru:rp@seed.example.com:6224\"\n\
           ]\n\
           authorization { user: ru, password: rp, timeout: 0.5 }\n\
           permissions { import: \"a.>\", export: { allow: [\"b.>\"], deny: \"b.secret\" } }\n\
           no_advertise: true\n\
           connect_retries: 5\n\
           pool_size: 4\n\
           advertise: \"public.example.com:16222\"\n\
           tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, verify: true, timeout: 3 }\n\
         }",
    );
    assert_eq!(c.name.as_deref(), Some("east"));
    assert_eq!((c.host.as_deref(), c.port), (Some("127.0.0.1"), Some(6222)));
    let routes = c.routes.unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0], route("nats://127.0.0.1:6223"));
    assert_eq!(routes[1].scheme, RouteScheme::NatsRoute);
    assert_eq!(routes[1].user.as_deref(), Some("ru"));
    assert_eq!(routes[1].password.as_deref(), Some("rp"));
    assert_eq!(routes[1].host_port(), "seed.example.com:6224");
    assert_eq!(
        c.authorization,
        Some(ClusterAuthOptions {
            user: "ru".into(),
            password: "rp".into(),
            timeout: Some(Duration::from_millis(500)),
        })
    );
    assert_eq!(
        c.permissions,
        Some(RoutePermissions {
            import: Some(SubjectPermission {
                allow: vec!["a.>".into()],
                deny: vec![],
            }),
            export: Some(SubjectPermission {
                allow: vec!["b.>".into()],
                deny: vec!["b.secret".into()],
            }),
        })
    );
    assert_eq!(c.no_advertise, Some(true));
    assert_eq!(c.connect_retries, Some(5));
    assert_eq!(c.pool_size, Some(RoutePool::Size(4)));
    assert_eq!(c.advertise.as_deref(), Some("public.example.com:16222"));
    let tls = c.tls.unwrap();
    assert_eq!(tls.cert_file, Some(PathBuf::from("c.pem")));
    assert_eq!(tls.key_file, Some(PathBuf::from("k.pem")));
    assert_eq!(tls.ca_file, Some(PathBuf::from("ca.pem")));
    assert_eq!(tls.verify, Some(true));
    assert_eq!(tls.timeout, Some(Duration::from_secs(3)));
    assert_eq!(c.pos.line, 1);
}

#[test]
fn nothing_written_is_none() {
    let c = cluster_of("\ncluster {}");
    assert_eq!(c.pos.line, 2);
    assert_eq!(
        c,
        ClusterOptions {
            pos: c.pos.clone(),
            ..ClusterOptions::empty()
        }
    );
    assert!(
        from_map(&parse_str("port: 1", Path::new("t.conf")).unwrap())
            .unwrap()
            .cluster
            .is_none()
    );
}

#[test]
fn listen_host_and_port_forms() {
    let hp = |text: &str| {
        let c = cluster_of(text);
        (c.host, c.port)
    };
    assert_eq!(hp("cluster { listen: 6222 }"), (None, Some(6222)));
    assert_eq!(hp("cluster { listen: \":6222\" }"), (None, Some(6222)));
    assert_eq!(
        hp("cluster { listen: \"[::1]:6222\" }"),
        (Some("::1".into()), Some(6222))
    );
    assert_eq!(
        hp("cluster { listen: \"0.0.0.0:-1\" }"),
        (Some("0.0.0.0".into()), Some(-1))
    );
    assert_eq!(hp("cluster { listen: -1 }"), (None, Some(-1)));
    assert_eq!(
        hp("cluster { host: 10.0.0.1, port: 7000 }"),
        (Some("10.0.0.1".into()), Some(7000))
    );
    assert_eq!(
        hp("cluster { net: 10.0.0.2 }"),
        (Some("10.0.0.2".into()), None)
    );
    // Port 0 is read as written (nats-server: clustering off); resolution refuses it.
    assert_eq!(hp("cluster { port: 0 }"), (None, Some(0)));
    // The last one written wins, as everywhere; `listen` with a port only keeps the host.
    assert_eq!(
        hp("cluster { host: h1, listen: 6222, port: 6333 }"),
        (Some("h1".into()), Some(6333))
    );
    // nats-server lower-cases this block's keys.
    assert_eq!(hp("cluster { LISTEN: 6222, Name: x }"), (None, Some(6222)));
}

#[test]
fn bad_listen_and_ports() {
    for (text, want) in [
        (
            "cluster {\n listen: \"127.0.0.1\" }",
            "t.conf:2: cluster listen: \"127.0.0.1\" has no port (expected HOST:PORT or a \
             port; nats-server has no default cluster port)",
        ),
        (
            "cluster {\n listen: \"h:port\" }",
            "t.conf:2: cluster listen: could not parse port \"port\"",
        ),
        (
            "cluster {\n listen: 70000 }",
            "t.conf:2: cluster listen: 70000 is not a port (use 1-65535, or -1 for a random port)",
        ),
        (
            "cluster {\n listen: \"h:65536\" }",
            "t.conf:2: cluster listen: 65536 is not a port",
        ),
        (
            "cluster {\n listen: \"::1:6222\" }",
            "t.conf:2: cluster listen: \"::1:6222\": too many colons",
        ),
        (
            "cluster {\n port: -2 }",
            "t.conf:2: cluster port: -2 is not a port",
        ),
        (
            "cluster {\n port: \"6222\" }",
            "t.conf:2: port: expected an integer, got the string \"6222\"",
        ),
        (
            "cluster {\n listen: true }",
            "t.conf:2: listen: expected HOST:PORT or a port, got the boolean true",
        ),
        (
            "cluster {\n host: 1 }",
            "t.conf:2: host: expected a string, got the integer 1",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
}

#[test]
fn routes_errors_name_the_element_line() {
    for (text, want) in [
        (
            "cluster {\n routes: [\n  nats://a:1\n  \"http://b:2\"\n ]\n}",
            "t.conf:4: cluster routes: bad route URL \"http://b:2\": scheme \"http\": expected \
             nats:// or nats-route://",
        ),
        (
            "cluster {\n routes: [\n  \"nats://b\"\n ]\n}",
            "t.conf:3: cluster routes: bad route URL \"nats://b\": no port",
        ),
        (
            "cluster {\n routes: [\"nats://b:99999\"]\n}",
            "t.conf:2: cluster routes: bad route URL \"nats://b:99999\": port \"99999\"",
        ),
        (
            "cluster {\n routes: [\"nats://u:secret@b\"]\n}",
            "t.conf:2: cluster routes: bad route URL \"nats://u:xxxxx@b\": no port",
        ),
        (
            "cluster {\n routes: [\n  nats://a:1\n  nats://a:1\n ]\n}",
            "t.conf:4: cluster routes: nats://a:1 is listed twice",
        ),
        (
            "cluster {\n routes: \"nats://a:1\"\n}",
            "t.conf:2: routes: expected an array of route URLs, got the string \"nats://a:1\"",
        ),
        (
            "cluster {\n routes: [\n  6222\n ]\n}",
            "t.conf:3: routes: expected a route URL (nats://host:port), got the integer 6222",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
    // An empty list is no routes (a seed server).
    assert_eq!(cluster_of("cluster { routes: [] }").routes, Some(vec![]));
}

#[test]
fn authorization_is_one_user() {
    let a = cluster_of("cluster { authorization { username: u, pass: p } }")
        .authorization
        .unwrap();
    assert_eq!(
        (a.user.as_str(), a.password.as_str(), a.timeout),
        ("u", "p", None)
    );
    for (text, want) in [
        (
            "cluster { authorization {\n token: t } }",
            "t.conf:2: cluster authorization does not support tokens",
        ),
        (
            "cluster { authorization {\n users: [{user: a, password: b}] } }",
            "t.conf:2: cluster authorization does not allow multiple users",
        ),
        (
            "cluster { authorization {\n user: a, password: b\n permissions { publish: x } } }",
            "t.conf:3: cluster authorization: permissions here are deprecated",
        ),
        (
            "cluster {\n authorization { user: a } }",
            "t.conf:2: cluster authorization: user without a password",
        ),
        (
            "cluster {\n authorization { password: a } }",
            "t.conf:2: cluster authorization: password without a user",
        ),
        (
            "cluster {\n authorization { timeout: 1 } }",
            "t.conf:2: cluster authorization: needs a user and a password",
        ),
        (
            "cluster { authorization { user: a, password: b\n passwd: c } }",
            "t.conf:2: unknown key \"passwd\" in cluster authorization",
        ),
        (
            "cluster { authorization { user: a, password: b\n timeout: 0 } }",
            "t.conf:2: timeout: must be more than 0",
        ),
        (
            "cluster {\n authorization: yes }",
            "t.conf:2: authorization: expected a block { ... }, got the boolean true",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
}

#[test]
fn permissions_import_export_and_aliases() {
    let p = cluster_of("cluster { permissions { publish: [\"a\", \"b\"], sub: c } }")
        .permissions
        .unwrap();
    assert_eq!(p.import.unwrap().allow, ["a", "b"]);
    assert_eq!(p.export.unwrap().allow, ["c"]);
    let p = cluster_of("cluster { permissions { export: { deny: x } } }")
        .permissions
        .unwrap();
    assert_eq!(p.import, None);
    assert_eq!(p.export.unwrap().deny, ["x"]);
    for (text, want) in [
        (
            "cluster { permissions {\n allow_responses: true } }",
            "t.conf:2: cluster permissions do not support dynamic responses",
        ),
        (
            "cluster { permissions {\n imports: x } }",
            "t.conf:2: unknown key \"imports\" in cluster permissions",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
}

#[test]
fn tls_block() {
    let t = cluster_of("cluster { tls { cert_file: c, key_file: k } }")
        .tls
        .unwrap();
    assert_eq!((t.ca_file, t.verify, t.timeout), (None, None, None));
    for (text, want) in [
        (
            "cluster {\n tls { cert_file: c, verify: false } }",
            "t.conf:2: cluster tls: routes always verify each other's certificates",
        ),
        (
            "cluster { tls {\n cert_file: c\n insecure: true } }",
            "t.conf:3: unknown key \"insecure\" in cluster tls",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
}

#[test]
fn advertise_name_flags_and_numbers() {
    assert_eq!(
        cluster_of("cluster { cluster_advertise: \"h:1\" }")
            .advertise
            .as_deref(),
        Some("h:1")
    );
    assert_eq!(
        cluster_of("cluster { advertise: h }").advertise.as_deref(),
        Some("h")
    );
    assert_eq!(
        cluster_of("cluster { no_advertise: false }").no_advertise,
        Some(false)
    );
    assert_eq!(
        cluster_of("cluster { connect_retries: 0 }").connect_retries,
        Some(0)
    );
    assert_eq!(
        cluster_of("cluster { pool_size: -1 }").pool_size,
        Some(RoutePool::Off)
    );
    assert_eq!(
        cluster_of("cluster { pool_size: 0 }").pool_size,
        Some(RoutePool::Size(3))
    );
    assert_eq!(
        cluster_of("cluster { pool_size: 1 }").pool_size,
        Some(RoutePool::Size(1))
    );
    for (text, want) in [
        (
            "cluster {\n advertise: \"x:y:z\" }",
            "t.conf:2: cluster advertise \"x:y:z\": too many colons",
        ),
        (
            "cluster {\n advertise: \"h:port\" }",
            "t.conf:2: cluster advertise \"h:port\": port \"port\" is not a number",
        ),
        (
            "cluster {\n no_advertise: 1 }",
            "t.conf:2: no_advertise: expected true or false, got the integer 1",
        ),
        (
            "cluster {\n connect_retries: -1 }",
            "t.conf:2: connect_retries: must be between 0 and 4294967295, got -1",
        ),
        (
            "cluster {\n pool_size: -2 }",
            "t.conf:2: pool_size: -2 (use a number of connections, 0 for the default 3, -1 for \
             no pooling)",
        ),
        (
            "cluster {\n name: \"a b\" }",
            "t.conf:2: cluster name \"a b\": cluster name cannot contain spaces",
        ),
        (
            "cluster {\n name: \"\" }",
            "t.conf:2: cluster name is empty",
        ),
        (
            "\ncluster: 6222",
            "t.conf:2: cluster: expected a block { ... }, got the integer 6222",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}: {e}");
    }
}

#[test]
fn unknown_keys_in_the_block_are_named() {
    // nats-server 2.10's other keys, and anything else, are refused by name.
    for key in [
        "accounts: [A]",
        "compression: s2_auto",
        "bogus: 1",
        "listen_port: 1",
    ] {
        let e = err(&format!("cluster {{\n  port: 6222\n  {key}\n}}"));
        let name = key.split(':').next().unwrap();
        assert_eq!(
            e,
            format!("t.conf:3: unknown key {name:?} in cluster"),
            "{key}"
        );
    }
    // A key there only to be a variable is not unknown.
    let c = cluster_of("cluster {\n  P: 6222\n  port: $P\n}");
    assert_eq!(c.port, Some(6222));
}
