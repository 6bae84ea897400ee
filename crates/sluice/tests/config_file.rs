//! Black-box tests of `sluice -c FILE`: the real binary with a configuration file.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-conf-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Connects and returns the stream and the server's INFO line.
fn connect(addr: SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let info = read_line(&mut stream);
    assert!(info.starts_with("INFO {"), "{info:?}");
    (stream, info)
}

/// INFO's JSON.
fn info_json(info: &str) -> serde_json::Value {
    serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap()
}

/// Sends CONNECT (with `fields` added to it) and PING; returns the server's answer.
fn connect_as(addr: SocketAddr, fields: &str) -> String {
    let (mut stream, _) = connect(addr);
    let connect = format!("CONNECT {{\"verbose\":false{fields}}}\r\nPING\r\n");
    stream.write_all(connect.as_bytes()).unwrap();
    read_line(&mut stream)
}

#[test]
fn file_sets_listen_limits_and_auth() {
    let dir = temp_dir("limits-auth");
    let conf = write(
        &dir,
        "server.conf",
        r#"
# a server for the test
listen: "127.0.0.1:-1"
server_name = conf-test
max_payload: 2KB
max_connections 100
ping_interval: "1m"
authorization {
  users = [
    { user: alice, password: "wonderland" }
    { user: bob,   password: builder, permissions: { publish: "bob.>", subscribe: "bob.>" } }
  ]
}
"#,
    );
    let mut sluice = Running::start(&["-c", conf.to_str().unwrap()]);
    let line = sluice.wait_for("Using configuration file");
    assert!(line.ends_with(&format!(
        "[INF] Using configuration file: {}",
        conf.display()
    )));
    let addr = sluice.client_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    sluice.wait_for("Server is ready");
    assert!(sluice
        .seen
        .iter()
        .any(|l| l.ends_with("Name:     conf-test")));

    let (_, info) = connect(addr);
    let info = info_json(&info);
    assert_eq!(info["max_payload"], 2048, "{info}");
    assert_eq!(info["auth_required"], true, "{info}");
    assert_eq!(info["server_name"], "conf-test", "{info}");

    let answer = connect_as(addr, "");
    assert!(
        answer.starts_with("-ERR 'Authorization Violation'"),
        "{answer:?}"
    );
    let answer = connect_as(addr, ",\"user\":\"alice\",\"pass\":\"wrong\"");
    assert!(
        answer.starts_with("-ERR 'Authorization Violation'"),
        "{answer:?}"
    );
    assert_eq!(
        connect_as(addr, ",\"user\":\"alice\",\"pass\":\"wonderland\""),
        "PONG\r\n"
    );
    assert_eq!(
        connect_as(addr, ",\"user\":\"bob\",\"pass\":\"builder\""),
        "PONG\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_override_the_file() {
    let dir = temp_dir("override");
    let conf = write(
        &dir,
        "server.conf",
        "host: 10.255.255.1\nport: 1\nserver_name: from-file\nmax_payload: 4KB\n\
         authorization { token: secret }\n",
    );
    // -a, -p, -n and --auth given: they win; max_payload is the file's.
    let mut sluice = Running::start(&[
        "-c",
        conf.to_str().unwrap(),
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-n",
        "from-flags",
        "--auth",
        "flagtoken",
    ]);
    let addr = sluice.client_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    let (_, info) = connect(addr);
    let info = info_json(&info);
    assert_eq!(info["server_name"], "from-flags");
    assert_eq!(info["max_payload"], 4096);
    let answer = connect_as(addr, ",\"auth_token\":\"secret\"");
    assert!(
        answer.starts_with("-ERR 'Authorization Violation'"),
        "{answer:?}"
    );
    assert_eq!(
        connect_as(addr, ",\"auth_token\":\"flagtoken\""),
        "PONG\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_files_exit_one_naming_file_and_line() {
    let dir = temp_dir("errors");
    let cases = [
        (
            "unknown.conf",
            "port: -1\n\nbogus_key: 5\n",
            ":3: unknown key \"bogus_key\"",
        ),
        (
            "syntax.conf",
            "port: -1\nauthorization {\n  user: a\n",
            ":2: this '{' is never closed",
        ),
        (
            "type.conf",
            "port: -1\nmax_payload: lots\n",
            ":2: max_payload: expected a size",
        ),
        (
            "include.conf",
            "port: -1\ninclude ./missing.conf\n",
            ":2: cannot read include file \"./missing.conf\"",
        ),
        (
            "variable.conf",
            "port: $SLUICE_IT_UNDEFINED_VARIABLE\n",
            ":1: variable $SLUICE_IT_UNDEFINED_VARIABLE is not defined",
        ),
        (
            "monitoring.conf",
            "port: -1\nhttp_port: 70000\n",
            ":2: http_port: 70000 is not a port",
        ),
    ];
    for (name, content, expected) in cases {
        let conf = write(&dir, name, content);
        let out = run(&["-c", conf.to_str().unwrap(), "-a", "127.0.0.1"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        let prefix = format!("sluice: error: {}{expected}", conf.display());
        assert!(stderr.starts_with(&prefix), "{name}: {stderr}");
        assert!(!stderr.contains(LISTENING), "{name} bound: {stderr}");
    }
    let missing = dir.join("nope.conf");
    let out = run(&["-c", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "sluice: error: {}: cannot read the configuration file",
            missing.display()
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A configured cluster is served (the route listener is bound); what of it is not served
/// stops the server before it binds, named, whether from the file or the flags.
#[test]
fn a_configured_cluster_is_served_and_its_unserved_parts_refused() {
    let dir = temp_dir("cluster");
    let conf = write(
        &dir,
        "cluster.conf",
        "port: -1\ncluster {\n  name: c1\n  listen: \"127.0.0.1:-1\"\n  pool_size: 3\n}\n",
    );
    let c = conf.to_str().unwrap();
    let out = run(&["-c", c, "-a", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("sluice: error: cluster.pool_size: 3: route pooling is not served"),
        "{stderr}"
    );
    let out = run(&[
        "-p",
        "-1",
        "-a",
        "127.0.0.1",
        "--js",
        "--cluster",
        "nats://127.0.0.1:-1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // As nats-server: JetStream in a cluster needs a server name (and a cluster name).
    assert!(
        stderr.starts_with("sluice: error: jetstream cluster requires `server_name` to be set"),
        "{stderr}"
    );
    assert!(!stderr.contains(LISTENING), "{stderr}");
    // A bad cluster block is refused as any bad file is, naming the line.
    let bad = write(
        &dir,
        "bad.conf",
        "cluster {\n  listen: 6222\n  pool: 3\n}\n",
    );
    let out = run(&["-c", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "sluice: error: {}:3: unknown key \"pool\" in cluster",
            bad.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_and_variables() {
    let dir = temp_dir("include-vars");
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    // An included file is parsed on its own (as in nats-server): it sees the environment,
    // not the including file's keys.
    write(
        &dir,
        "conf.d/auth.conf",
        "users = [ { user: app, password: $SLUICE_IT_PASSWORD } ]\n",
    );
    write(&dir, "conf.d/limits.conf", "PAYLOAD: 3KB\n");
    let conf = write(
        &dir,
        "main.conf",
        "include conf.d/limits.conf\nNAME: vars-test\nlisten: 127.0.0.1:-1\n\
         server_name: $NAME\nmax_payload: $PAYLOAD\n\
         authorization {\n  include 'conf.d/auth.conf'\n}\n",
    );
    // Run from elsewhere: includes resolve against the including file, not the cwd.
    let mut child = Command::new(BIN)
        .args(["-c", conf.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .env("SLUICE_IT_PASSWORD", "from-env")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut sluice = Running {
        child,
        lines,
        seen: Vec::new(),
    };
    let addr = sluice.client_addr();
    let (_, info) = connect(addr);
    let info = info_json(&info);
    assert_eq!(info["max_payload"], 3072);
    assert_eq!(info["server_name"], "vars-test");
    assert_eq!(
        connect_as(addr, ",\"user\":\"app\",\"pass\":\"from-env\""),
        "PONG\r\n"
    );
    let answer = connect_as(addr, ",\"user\":\"app\",\"pass\":\"x\"");
    assert!(
        answer.starts_with("-ERR 'Authorization Violation'"),
        "{answer:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jetstream_block_turns_jetstream_on() {
    let dir = temp_dir("jetstream");
    let store = dir.join("store");
    let conf = write(
        &dir,
        "js.conf",
        &format!(
            "listen: 127.0.0.1:-1\njetstream {{\n  store_dir: \"{}\"\n  max_file_store: 1GB\n  \
             sync_interval: 1s\n}}\n",
            store.display()
        ),
    );
    let mut sluice = Running::start(&["-c", conf.to_str().unwrap()]);
    sluice.wait_for("Starting JetStream");
    let line = sluice.wait_for("Store Directory");
    assert!(line.contains(&store.display().to_string()), "{line}");
    sluice.wait_for("Sync:            every 1s");
    let line = sluice.wait_for("Max Storage");
    assert!(line.contains("1073741824 bytes"), "{line}");
    let addr = sluice.client_addr();
    let (_, info) = connect(addr);
    assert_eq!(info_json(&info)["jetstream"], true);
    drop(sluice);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_reloads_and_keeps_the_old_config_when_the_file_is_broken() {
    let dir = temp_dir("reload");
    let auth = |a_password: &str| {
        format!(
            "authorization {{ users [ {{ user: a, password: {a_password} }}, \
             {{ user: b, password: bpass }} ] }}\n"
        )
    };
    let good = format!("listen: 127.0.0.1:-1\n{}", auth("old"));
    let conf = write(&dir, "server.conf", &good);
    let mut sluice = Running::start(&["-c", conf.to_str().unwrap()]);
    let addr = sluice.client_addr();
    sluice.wait_for("Server is ready");

    // An authorised connection that must survive the reloads.
    let (mut kept, _) = connect(addr);
    kept.write_all(b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"bpass\"}\r\nPING\r\n")
        .unwrap();
    assert_eq!(read_line(&mut kept), "PONG\r\n");
    let mut still_connected = || {
        kept.write_all(b"PING\r\n").unwrap();
        assert_eq!(read_line(&mut kept), "PONG\r\n");
    };

    // A broken file: logged, old config kept.
    write(
        &dir,
        "server.conf",
        "listen: 127.0.0.1:-1\nauthorization {\n",
    );
    sluice.signal("HUP");
    let line = sluice.wait_for("Failed to reload server configuration");
    assert!(line.contains("[ERR]"), "{line}");
    assert!(
        line.contains("server.conf:2: this '{' is never closed"),
        "{line}"
    );
    assert_eq!(
        connect_as(addr, ",\"user\":\"a\",\"pass\":\"old\""),
        "PONG\r\n"
    );

    // Changing the port cannot be done while running: refused.
    write(
        &dir,
        "server.conf",
        &format!("listen: 127.0.0.1:1\n{}", auth("old")),
    );
    sluice.signal("HUP");
    let line = sluice.wait_for("Failed to reload server configuration");
    assert!(
        line.contains("config reload not supported for port"),
        "{line}"
    );

    // Adding a cluster: refused on reload (as nats-server: clustering cannot be turned on
    // by a reload), the running configuration kept.
    write(
        &dir,
        "server.conf",
        &format!(
            "listen: 127.0.0.1:-1\n{}cluster {{ listen: \"127.0.0.1:-1\" }}\n",
            auth("changed")
        ),
    );
    sluice.signal("HUP");
    let line = sluice.wait_for("Failed to reload server configuration");
    assert!(
        line.contains("config reload not supported for cluster"),
        "{line}"
    );
    assert_eq!(
        connect_as(addr, ",\"user\":\"a\",\"pass\":\"old\""),
        "PONG\r\n"
    );

    // debug and a limit: both apply, and the open connection stays.
    write(
        &dir,
        "server.conf",
        &format!(
            "listen: 127.0.0.1:-1\ndebug: true\nmax_payload: 1KB\n{}",
            auth("old")
        ),
    );
    sluice.signal("HUP");
    let line = sluice.wait_for("Reload: max_payload: ");
    assert!(
        line.ends_with("[INF] Reload: max_payload: 1048576 -> 1024"),
        "{line}"
    );
    let line = sluice.wait_for("Reloaded: ");
    assert!(
        line.ends_with("[INF] Reloaded: debug, max_payload"),
        "{line}"
    );
    still_connected();
    // A new connection is told the new max_payload.
    let (_new, info) = connect(addr);
    assert_eq!(info_json(&info)["max_payload"], 1024, "{info}");

    // A new password for a: new connections need it; b's connection stays.
    write(
        &dir,
        "server.conf",
        &format!(
            "listen: 127.0.0.1:-1\ndebug: true\nmax_payload: 1KB\n{}",
            auth("new")
        ),
    );
    sluice.signal("HUP");
    let line = sluice.wait_for("Reloaded: ");
    assert!(line.ends_with("[INF] Reloaded: authorization"), "{line}");
    let answer = connect_as(addr, ",\"user\":\"a\",\"pass\":\"old\"");
    assert!(
        answer.starts_with("-ERR 'Authorization Violation'"),
        "{answer:?}"
    );
    assert_eq!(
        connect_as(addr, ",\"user\":\"a\",\"pass\":\"new\""),
        "PONG\r\n"
    );
    // b's connection was authorised and still is: it stays open.
    still_connected();

    sluice.signal("TERM");
    assert_eq!(sluice.wait_exit().code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
