//! Tests of the configuration parser (every syntax form, every error with its line) and of
//! reading sluice's keys out of it.

use super::options::{from_map, parse_go_duration, FileOptions};
use super::parser::{parse_file, parse_str};
use super::value::{Kind, Map, Value};
use sluice_server::{Auth, Permissions, ResponsePermission, SubjectPermission, User};
use sluice_stream::SyncPolicy;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn parse(text: &str) -> Map {
    parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The error `text` gives, as `FILE:LINE: message`.
fn parse_err(text: &str) -> String {
    match parse_str(text, Path::new("t.conf")) {
        Ok(map) => panic!("{text:?} parsed: {map:?}"),
        Err(e) => e.to_string(),
    }
}

fn options(text: &str) -> FileOptions {
    from_map(&parse(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn options_err(text: &str) -> String {
    match from_map(&parse(text)) {
        Ok(o) => panic!("{text:?} read as {o:?}"),
        Err(e) => e.to_string(),
    }
}

fn get<'m>(map: &'m Map, key: &str) -> &'m Value {
    map.get(key)
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
}

fn kind<'m>(map: &'m Map, key: &str) -> &'m Kind {
    &get(map, key).kind
}

fn int(map: &Map, key: &str) -> i64 {
    match kind(map, key) {
        Kind::Int { value, .. } => *value,
        other => panic!("{key}: {other:?}"),
    }
}

fn string(map: &Map, key: &str) -> String {
    match kind(map, key) {
        Kind::Str(s) => s.clone(),
        other => panic!("{key}: {other:?}"),
    }
}

fn block<'m>(map: &'m Map, key: &str) -> &'m Map {
    match kind(map, key) {
        Kind::Map(m) => m,
        other => panic!("{key}: {other:?}"),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-conf-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- syntax ----

#[test]
fn three_separators() {
    let m = parse("a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6");
    for (key, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(int(&m, key), n, "{key}");
    }
}

#[test]
fn entries_separated_by_newlines_semicolons_and_commas() {
    let m = parse("a: 1; b: 2, c: 3\r\n\n\nd: 4;");
    assert_eq!(m.entries.len(), 4);
    assert_eq!(int(&m, "d"), 4);
}

#[test]
fn empty_and_comment_only_files() {
    assert!(parse("").entries.is_empty());
    assert!(parse("\n  \n# nothing\n// still nothing\n")
        .entries
        .is_empty());
}

#[test]
fn comments() {
    let m = parse(
        "# hash comment\n// slash comment\na: 1 # after a value\nb: 2 // after a value\n\
         c { # in a block\n  d: 3 // here too\n}\ne [ # in an array\n 1, # one\n 2\n]",
    );
    assert_eq!(int(&m, "a"), 1);
    assert_eq!(int(&m, "b"), 2);
    assert_eq!(int(block(&m, "c"), "d"), 3);
    assert!(matches!(kind(&m, "e"), Kind::Array(a) if a.len() == 2));
}

#[test]
fn comment_markers_inside_values_are_text() {
    let m = parse("url: nats://host:4222\ntag: a#b\nq: \"# not a comment\"");
    assert_eq!(string(&m, "url"), "nats://host:4222");
    assert_eq!(string(&m, "tag"), "a#b");
    assert_eq!(string(&m, "q"), "# not a comment");
}

#[test]
fn strings_quoted_and_bare() {
    let m = parse(
        "a: \"double quoted\"\nb: 'single quoted'\nc: bare_word\nd: 127.0.0.1:4222\n\
         e: \"esc \\\"q\\\" \\\\ \\t \\n \\u00e9\"\nf: 'raw \\n $x'\ng: \"\"\n\"quoted key\": 1\n\
         'other key' = 2",
    );
    assert_eq!(string(&m, "a"), "double quoted");
    assert_eq!(string(&m, "b"), "single quoted");
    assert_eq!(string(&m, "c"), "bare_word");
    assert_eq!(string(&m, "d"), "127.0.0.1:4222");
    assert_eq!(string(&m, "e"), "esc \"q\" \\ \t \n é");
    assert_eq!(string(&m, "f"), "raw \\n $x");
    assert_eq!(string(&m, "g"), "");
    assert_eq!(int(&m, "quoted key"), 1);
    assert_eq!(int(&m, "other key"), 2);
}

#[test]
fn integers_floats_and_booleans() {
    let m = parse("a: 42\nb: -1\nc: 1.5\nd: -0.25\ne: 0");
    assert_eq!(int(&m, "a"), 42);
    assert_eq!(int(&m, "b"), -1);
    assert_eq!(kind(&m, "c"), &Kind::Float(1.5));
    assert_eq!(kind(&m, "d"), &Kind::Float(-0.25));
    assert_eq!(int(&m, "e"), 0);
    for (word, b) in [
        ("true", true),
        ("TRUE", true),
        ("yes", true),
        ("on", true),
        ("On", true),
        ("false", false),
        ("no", false),
        ("off", false),
        ("OFF", false),
    ] {
        let m = parse(&format!("x: {word}"));
        assert_eq!(kind(&m, "x"), &Kind::Bool(b), "{word}");
    }
    // Quoted, or longer, they are strings.
    assert_eq!(string(&parse("x: \"true\""), "x"), "true");
    assert_eq!(string(&parse("x: trueish"), "x"), "trueish");
}

#[test]
fn sizes_as_nats_server() {
    for (text, n) in [
        ("1k", 1000),
        ("1K", 1000),
        ("1KB", 1024),
        ("64kb", 65536),
        ("1Ki", 1024),
        ("1KiB", 1024),
        ("1M", 1_000_000),
        ("1MB", 1 << 20),
        ("1MiB", 1 << 20),
        ("2GB", 2 << 30),
        ("1G", 1_000_000_000),
        ("1TB", 1 << 40),
        ("1PB", 1 << 50),
        ("1EB", 1 << 60),
    ] {
        let m = parse(&format!("x: {text}"));
        assert_eq!(int(&m, "x"), n, "{text}");
        assert!(matches!(kind(&m, "x"), Kind::Int { text: t, .. } if t == text));
    }
    // Not a size suffix: a string (a duration, maybe).
    assert_eq!(string(&parse("x: 1h30m"), "x"), "1h30m");
    assert_eq!(string(&parse("x: 500ms"), "x"), "500ms");
    assert_eq!(string(&parse("x: 10s"), "x"), "10s");
}

#[test]
fn nested_blocks() {
    let m =
        parse("outer {\n  inner: { deep { x: 1 } }\n  y = 2\n}\nflat {}\none_line { a: 1, b: 2 }");
    let outer = block(&m, "outer");
    assert_eq!(int(block(block(outer, "inner"), "deep"), "x"), 1);
    assert_eq!(int(outer, "y"), 2);
    assert!(block(&m, "flat").entries.is_empty());
    assert_eq!(int(block(&m, "one_line"), "b"), 2);
}

#[test]
fn arrays_comma_or_newline_separated() {
    let m = parse(
        "a: [1, 2, 3]\nb [\n  x\n  y\n]\nc = [ \"q\", 'r', s, ]\nd: []\n\
         e: [ { user: u1 }, { user: u2 } ]\nf: [[1, 2], [3]]",
    );
    let len = |key| match kind(&m, key) {
        Kind::Array(a) => a.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (len("a"), len("b"), len("c"), len("d"), len("e"), len("f")),
        (3, 2, 3, 0, 2, 2)
    );
    let Kind::Array(users) = kind(&m, "e") else {
        unreachable!()
    };
    let Kind::Map(second) = &users[1].kind else {
        panic!("{users:?}")
    };
    assert_eq!(string(second, "user"), "u2");
}

#[test]
fn every_value_keeps_its_line() {
    let m = parse("# header\n\na: 1\nb {\n  c: 2\n}\nd [\n  x,\n  y\n]");
    assert_eq!(get(&m, "a").pos.line, 3);
    assert_eq!(m.entries[1].pos.line, 4);
    assert_eq!(get(block(&m, "b"), "c").pos.line, 5);
    let Kind::Array(items) = kind(&m, "d") else {
        unreachable!()
    };
    assert_eq!((items[0].pos.line, items[1].pos.line), (8, 9));
    assert_eq!(get(&m, "a").pos.to_string(), "t.conf:3");
}

#[test]
fn repeated_keys_last_wins() {
    let m = parse("port: 1\nport: 2");
    assert_eq!(int(&m, "port"), 2);
    assert_eq!(options("port: 1\nport: 2").port, Some(2));
}

#[test]
fn variables_from_keys_and_the_environment() {
    let m = parse("size: 1MB\nname = 'x'\na: $size\nblk { inner: 5, b: $inner, c: $name }\n");
    assert_eq!(int(&m, "a"), 1 << 20);
    let blk = block(&m, "blk");
    assert_eq!(int(blk, "b"), 5);
    assert_eq!(string(blk, "c"), "x");
    // The referenced keys are marked, so they are not unknown keys.
    assert!(m.entries[0].used_as_variable && m.entries[1].used_as_variable);
    assert!(!m.entries[2].used_as_variable);
    // The value is where the reference is written.
    assert_eq!(get(&m, "a").pos.line, 3);

    std::env::set_var("SLUICE_CONF_TEST_PORT", "4333");
    std::env::set_var("SLUICE_CONF_TEST_NAME", "from env");
    let m = parse("p: $SLUICE_CONF_TEST_PORT\nn: $SLUICE_CONF_TEST_NAME");
    assert_eq!(int(&m, "p"), 4333);
    assert_eq!(string(&m, "n"), "from env");
    // A key wins over the environment.
    assert_eq!(
        int(
            &parse("SLUICE_CONF_TEST_PORT: 1\np: $SLUICE_CONF_TEST_PORT"),
            "p"
        ),
        1
    );
}

#[test]
fn unquoted_bcrypt_hashes_are_strings_not_variables() {
    let hash = "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG";
    let m = parse(&format!("password: {hash}\nother: $2b$10$abc"));
    assert_eq!(string(&m, "password"), hash);
    assert_eq!(string(&m, "other"), "$2b$10$abc");
}

#[test]
fn variables_in_arrays() {
    let m = parse("s: 'a.>'\nlist: [$s, b]");
    let Kind::Array(items) = kind(&m, "list") else {
        unreachable!()
    };
    assert_eq!(items[0].kind, Kind::Str("a.>".into()));
}

#[test]
fn include_is_relative_to_the_including_file() {
    let dir = temp_dir("include");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/auth.conf"),
        "user: a\npassword: b\ninner_var: 7\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/limits.conf"),
        "max_payload: 2KB\ninclude ./more.conf\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/more.conf"), "ping_max: 3\n").unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "include sub/limits.conf\nauthorization {\n  include \"sub/auth.conf\"\n}\nx: 1\n",
    )
    .unwrap();
    let m = parse_file(&dir.join("main.conf")).unwrap();
    assert_eq!(int(&m, "max_payload"), 2048);
    assert_eq!(int(&m, "ping_max"), 3);
    let auth = block(&m, "authorization");
    assert_eq!(string(auth, "user"), "a");
    // The included key keeps its own file and line.
    let pos = &get(auth, "password").pos;
    assert_eq!(pos.line, 2);
    assert!(pos.file.ends_with("sub/auth.conf"), "{pos}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn included_keys_are_variables_for_the_rest_of_the_file() {
    let dir = temp_dir("include-vars");
    std::fs::write(dir.join("vars.conf"), "PAYLOAD: 4KB\n").unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "include vars.conf\nmax_payload: $PAYLOAD\n",
    )
    .unwrap();
    let o = from_map(&parse_file(&dir.join("main.conf")).unwrap()).unwrap();
    assert_eq!(o.max_payload, Some(4096));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_as_a_key_with_a_separator_is_just_a_key() {
    let m = parse("include: 5");
    assert_eq!(int(&m, "include"), 5);
}

// ---- syntax errors, each with its line ----

#[test]
fn syntax_errors_name_file_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "a: 1\nb: \"open\n",
            "t.conf:2: unterminated string (no closing \")",
        ),
        (
            "a: 1\n\nb: 'open",
            "t.conf:3: unterminated string (no closing ')",
        ),
        ("a: \"bad \\q\"", "t.conf:1: invalid escape \\q in string"),
        (
            "a: \"bad \\u12\"",
            "t.conf:1: invalid escape \\u12\" in string",
        ),
        (
            "a: 1\nkey_alone\n",
            "t.conf:2: key \"key_alone\" has no value",
        ),
        ("a:\n", "t.conf:1: key \"a\" has no value"),
        ("a = ", "t.conf:1: key \"a\" has no value"),
        ("x {\n a: 1\n", "t.conf:1: this '{' is never closed"),
        ("x: 1\ny: [\n 1,\n", "t.conf:2: this '[' is never closed"),
        ("a: 1\n}\n", "t.conf:2: unexpected '}' (no block is open)"),
        ("a: 1\n]\n", "t.conf:2: unexpected ']' (no array is open)"),
        (
            "a: 1 2\n",
            "t.conf:1: unexpected '2' after the value of \"a\" (expected a newline, ';' or ',')",
        ),
        (
            "\na: \"x\"y\n",
            "t.conf:2: unexpected 'y' after the value of \"a\" (expected a newline, ';' or ',')",
        ),
        (
            "a: [1 2]",
            "t.conf:1: unexpected '2' after an array element (expected ',', a newline or ']')",
        ),
        ("a: [; 2]", "t.conf:1: unexpected ';' in an array"),
        (
            "a: [1; 2]",
            "t.conf:1: unexpected ';' after an array element (expected ',', a newline or ']')",
        ),
        ("a: [\n{ b: 1 }\n}", "t.conf:3: unexpected '}' in an array"),
        (":5", "t.conf:1: expected a key, got ':'"),
        ("a: 1\n= 5", "t.conf:2: expected a key, got '='"),
        ("a: $", "t.conf:1: '$' without a variable name"),
        (
            "a: 99999999999999999999",
            "t.conf:1: number 99999999999999999999 is too large",
        ),
        (
            "a: 9999999999999GB",
            "t.conf:1: number 9999999999999GB is too large",
        ),
        ("include\n", "t.conf:1: key \"include\" has no value"),
    ];
    for (text, expected) in cases {
        assert_eq!(&parse_err(text), expected, "{text:?}");
    }
}

#[test]
fn undefined_variable_names_its_line() {
    let err = parse_err("a: 1\n\nb: $SLUICE_CONF_TEST_SURELY_UNDEFINED\n");
    assert_eq!(
        err,
        "t.conf:3: variable $SLUICE_CONF_TEST_SURELY_UNDEFINED is not defined (no key \
         \"SLUICE_CONF_TEST_SURELY_UNDEFINED\" before it, and no environment variable \
         SLUICE_CONF_TEST_SURELY_UNDEFINED)"
    );
    // Defined later does not count.
    assert!(parse_err("a: $later\nlater: 1").starts_with("t.conf:1: variable $later"));
    // A key inside another block is not in scope.
    assert!(parse_err("x { inner: 1 }\na: $inner").starts_with("t.conf:2: variable $inner"));
}

#[test]
fn include_errors() {
    let dir = temp_dir("include-errors");
    std::fs::write(dir.join("main.conf"), "a: 1\n\ninclude missing.conf\n").unwrap();
    let err = parse_file(&dir.join("main.conf")).unwrap_err().to_string();
    let main = dir.join("main.conf");
    assert!(
        err.starts_with(&format!(
            "{}:3: cannot read include file \"missing.conf\" ({}): ",
            main.display(),
            dir.join("missing.conf").display()
        )),
        "{err}"
    );

    // An error inside an included file names that file and its line.
    std::fs::write(dir.join("bad.conf"), "ok: 1\nbroken: [\n").unwrap();
    std::fs::write(dir.join("main.conf"), "include bad.conf\n").unwrap();
    let err = parse_file(&dir.join("main.conf")).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:2: this '[' is never closed",
            dir.join("bad.conf").display()
        )
    );

    // A file that includes itself.
    std::fs::write(dir.join("loop.conf"), "a: 1\ninclude loop.conf\n").unwrap();
    let err = parse_file(&dir.join("loop.conf")).unwrap_err().to_string();
    assert!(err.contains("includes nest too deep"), "{err}");
    assert!(err.contains("loop.conf:2: "), "{err}");

    let err = parse_file(&dir.join("nope.conf")).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: cannot read the configuration file: ",
            dir.join("nope.conf").display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- sluice's keys ----

#[test]
fn server_keys() {
    let o = options(
        "listen: 127.0.0.1:4333\nserver_name: \"srv\"\nmax_payload: 512KB\nmax_pending: 32MB\n\
         max_connections: 100\nmax_control_line: 2KB\nping_interval: \"30s\"\nping_max: 3\n\
         write_deadline: 2s\ndebug: true\ntrace: off\nlogfile: /tmp/sluice.log",
    );
    assert_eq!(o.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(o.port, Some(4333));
    assert_eq!(o.server_name.as_deref(), Some("srv"));
    assert_eq!(o.max_payload, Some(512 * 1024));
    assert_eq!(o.max_pending, Some(32 << 20));
    assert_eq!(o.max_connections, Some(100));
    assert_eq!(o.max_control_line, Some(2048));
    assert_eq!(o.ping_interval, Some(Duration::from_secs(30)));
    assert_eq!(o.ping_max, Some(3));
    assert_eq!(o.write_deadline, Some(Duration::from_secs(2)));
    assert_eq!((o.debug, o.trace), (Some(true), Some(false)));
    assert_eq!(o.logfile, Some(PathBuf::from("/tmp/sluice.log")));
    assert_eq!(o.monitoring, None);
}

#[test]
fn host_port_and_listen_forms() {
    assert_eq!(options("host: 10.0.0.1").host.as_deref(), Some("10.0.0.1"));
    assert_eq!(options("net: ::1").host.as_deref(), Some("::1"));
    assert_eq!(options("port: 4223").port, Some(4223));
    assert_eq!(options("port: -1").port, Some(0), "-1: any free port");
    assert_eq!(options("port: 0").port, Some(4222), "0: the default port");
    let o = options("listen: \"[::1]:4224\"");
    assert_eq!((o.host.as_deref(), o.port), (Some("::1"), Some(4224)));
    let o = options("listen: :4225");
    assert_eq!((o.host, o.port), (None, Some(4225)));
    let o = options("listen: 4226");
    assert_eq!((o.host, o.port), (None, Some(4226)));
    let o = options("listen: 0.0.0.0:-1");
    assert_eq!(o.port, Some(0));
}

#[test]
fn durations() {
    for (text, d) in [
        ("ping_interval: 2m", Duration::from_secs(120)),
        ("ping_interval: \"2m\"", Duration::from_secs(120)),
        ("ping_interval: 1h30m", Duration::from_secs(5400)),
        ("ping_interval: 500ms", Duration::from_millis(500)),
        ("ping_interval: 45", Duration::from_secs(45)),
        ("ping_interval: '1.5s'", Duration::from_millis(1500)),
    ] {
        assert_eq!(options(text).ping_interval, Some(d), "{text}");
    }
    assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
    assert_eq!(
        parse_go_duration("1h2m3s4ms5us6ns"),
        Some(Duration::new(3723, 4_005_006))
    );
    for bad in ["", "5", "1x", "m", "1.2.3s", "-1s"] {
        assert_eq!(parse_go_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn monitoring_keys_are_kept() {
    use super::options::HttpListen;
    let at = |host: Option<&str>, port| {
        Some(HttpListen {
            host: host.map(str::to_owned),
            port,
        })
    };
    assert_eq!(options("http_port: 8222").monitoring, at(None, 8222));
    assert_eq!(options("http_port: -1").monitoring, at(None, 0));
    assert_eq!(
        options("\nhttp: 127.0.0.1:8223").monitoring,
        at(Some("127.0.0.1"), 8223)
    );
    assert_eq!(options("http: 8224").monitoring, at(None, 8224));
    assert_eq!(options("http_port: 0").monitoring, None);
    assert_eq!(options("http: 1.2.3.4:1\nhttp_port: 0").monitoring, None);
}

#[test]
fn authorization_single_user_and_token() {
    let o = options("authorization {\n  user: alice\n  password: \"s3cret\"\n  timeout: 3\n}");
    assert_eq!(
        o.auth,
        Some(Auth::UserPass {
            user: "alice".into(),
            pass: "s3cret".into()
        })
    );
    assert_eq!(o.auth_timeout, Some(Duration::from_secs(3)));
    let o = options("authorization { token: \"t0k\", timeout: 0.5 }");
    assert_eq!(o.auth, Some(Auth::Token("t0k".into())));
    assert_eq!(o.auth_timeout, Some(Duration::from_millis(500)));
    assert_eq!(options("authorization {}").auth, Some(Auth::None));
}

#[test]
fn authorization_users_and_permissions() {
    let o = options(
        r#"
authorization {
  users = [
    { user: admin, password: "$2a$11$abcdefghijklmnopqrstuv" }
    { user: pub_only, password: p1, permissions: { publish: "orders.>", subscribe: [] } }
    {
      user: mixed
      password: p2
      permissions {
        publish { allow: ["a.*", "b"], deny: "a.secret" }
        subscribe { deny: ["x.>"] }
        allow_responses: true
      }
    }
    { user: svc, password: p3, permissions {
        subscribe: ["req.>", "ctl"], allow_responses { max: 5, expires: "1m" } } }
  ]
}
"#,
    );
    let Some(Auth::Users(users)) = o.auth else {
        panic!("{:?}", o.auth)
    };
    assert_eq!(users.len(), 4);
    assert_eq!(
        users[0],
        User {
            user: "admin".into(),
            password: "$2a$11$abcdefghijklmnopqrstuv".into(),
            permissions: None,
            account: None,
            nkey: None
        }
    );
    assert_eq!(
        users[1].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: vec!["orders.>".into()],
                deny: vec![]
            }),
            subscribe: Some(SubjectPermission::default()),
            allow_responses: None,
        })
    );
    assert_eq!(
        users[2].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: vec!["a.*".into(), "b".into()],
                deny: vec!["a.secret".into()]
            }),
            subscribe: Some(SubjectPermission {
                allow: vec![],
                deny: vec!["x.>".into()]
            }),
            allow_responses: Some(ResponsePermission::default()),
        })
    );
    let svc = users[3].permissions.clone().unwrap();
    assert_eq!(
        svc.subscribe.unwrap().allow,
        vec!["req.>".to_owned(), "ctl".into()]
    );
    assert_eq!(
        svc.allow_responses,
        Some(ResponsePermission {
            max: 5,
            expires: Duration::from_secs(60)
        })
    );
}

#[test]
fn default_permissions_apply_to_users_without_their_own() {
    let o = options(
        "authorization {\n permissions { publish: \"p.>\" }\n users [ {user: a, password: b}, \
         {user: c, password: d, permissions { subscribe: s } } ] }",
    );
    let Some(Auth::Users(users)) = o.auth else {
        panic!()
    };
    assert_eq!(
        users[0]
            .permissions
            .as_ref()
            .unwrap()
            .publish
            .as_ref()
            .unwrap()
            .allow,
        ["p.>"]
    );
    assert!(users[1].permissions.as_ref().unwrap().publish.is_none());
    // With a single user it becomes a one-user list carrying them.
    let o = options("authorization { user: a, password: b, permissions { publish: x } }");
    assert!(matches!(o.auth, Some(Auth::Users(u)) if u.len() == 1 && u[0].permissions.is_some()));
}

#[test]
fn allow_responses_false_is_none() {
    let o = options(
        "authorization { users [ {user: a, password: b, \
         permissions { allow_responses: false } } ] }",
    );
    let Some(Auth::Users(users)) = o.auth else {
        panic!()
    };
    assert_eq!(users[0].permissions.as_ref().unwrap().allow_responses, None);
}

#[test]
fn jetstream_forms() {
    let enabled = |text: &str| options(text).jetstream.unwrap().enabled;
    for on in [
        "jetstream: enabled",
        "jetstream: true",
        "jetstream: Enable",
        "jetstream {}",
    ] {
        assert!(enabled(on), "{on}");
    }
    for off in ["jetstream: disabled", "jetstream: false", "jetstream: off"] {
        assert!(!enabled(off), "{off}");
    }
    let js = options(
        "jetstream {\n store_dir: \"/data/js\"\n max_memory_store: 1GB\n max_file_store: 10GB\n \
         sync_interval: always\n}",
    )
    .jetstream
    .unwrap();
    assert!(js.enabled);
    assert_eq!(js.store_dir, Some(PathBuf::from("/data/js")));
    assert_eq!(js.max_memory_store, Some(1 << 30));
    assert_eq!(js.max_file_store, Some(10 << 30));
    assert_eq!(js.sync, Some(SyncPolicy::Always));
    let js = options("jetstream { enabled: false, sync_interval: 2m }")
        .jetstream
        .unwrap();
    assert!(!js.enabled);
    assert_eq!(js.sync, Some(SyncPolicy::Every(Duration::from_secs(120))));
    // A size may be quoted.
    let js = options("jetstream { max_file_store: \"2MB\" }")
        .jetstream
        .unwrap();
    assert_eq!(js.max_file_store, Some(2 << 20));
}

#[test]
fn jetstream_domain_in_nats_servers_words() {
    let js = options("jetstream { domain: hub-1 }").jetstream.unwrap();
    assert_eq!(js.domain.as_deref(), Some("hub-1"));
    assert_eq!(
        options("jetstream { domain: \"\" }")
            .jetstream
            .unwrap()
            .domain,
        None
    );
    for (bad, want) in [
        ("\"a.b\"", "invalid domain name: may not contain ., * or >"),
        ("\"a*\"", "invalid domain name: may not contain ., * or >"),
        (
            "\"a b\"",
            "invalid domain name: derived \"$JS.a b.API.>\" is not a valid subject",
        ),
    ] {
        let text = format!("jetstream {{ domain: {bad} }}");
        assert_eq!(options_err(&text), format!("t.conf:1: {want}"), "{bad}");
    }
}

#[test]
fn jetstream_max_queued_is_a_positive_size() {
    let js = options("jetstream { max_queued: 16MB }").jetstream.unwrap();
    assert_eq!(js.max_queued, Some(16 << 20));
    assert_eq!(options("jetstream {}").jetstream.unwrap().max_queued, None);
    for bad in ["0", "-1"] {
        let e = options_err(&format!("jetstream {{ max_queued: {bad} }}"));
        assert!(e.contains("max_queued: must be positive"), "{e}");
    }
}

#[test]
fn tls_block_and_lame_duck_keys() {
    let o = options(
        "tls {\n  cert_file: \"/c.pem\"\n  key_file: /k.pem\n  ca_file: /ca.pem\n  verify: true\n  \
         timeout: 0.5\n}\nlame_duck_duration: 30s\nlame_duck_grace_period: \"2s\"",
    );
    let tls = o.tls.unwrap();
    assert_eq!(
        tls.cert_file.as_deref(),
        Some(std::path::Path::new("/c.pem"))
    );
    assert_eq!(
        tls.key_file.as_deref(),
        Some(std::path::Path::new("/k.pem"))
    );
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    assert_eq!(tls.verify, Some(true));
    assert_eq!(tls.timeout, Some(Duration::from_millis(500)));
    assert_eq!(tls.pos.line, 1);
    assert_eq!(o.lame_duck_duration, Some(Duration::from_secs(30)));
    assert_eq!(o.lame_duck_grace_period, Some(Duration::from_secs(2)));
    assert_eq!(
        options_err("\ntls { verify: yes_please }"),
        "t.conf:2: verify: expected true or false, got the string \"yes_please\""
    );
    assert_eq!(
        options_err("tls: true"),
        "t.conf:1: tls: expected a block { ... }, got the boolean true"
    );
}

#[test]
fn a_key_used_only_as_a_variable_is_not_unknown() {
    let o = options("LIMIT: 1KB\nmax_payload: $LIMIT");
    assert_eq!(o.max_payload, Some(1024));
}

// ---- key errors, each with its line ----

#[test]
fn unknown_keys_name_their_line() {
    let cases: &[(&str, &str)] = &[
        ("port: 1\nbogus: 2", "t.conf:2: unknown key \"bogus\""),
        (
            "\n\ngateway { port: 1 }",
            "t.conf:3: unknown key \"gateway\"",
        ),
        (
            "cluster {\n  port: 1\n  pool: 3\n}",
            "t.conf:3: unknown key \"pool\" in cluster",
        ),
        (
            "tls {\n  cert_file: a\n  cipher_suites: []\n}",
            "t.conf:3: unknown key \"cipher_suites\" in tls",
        ),
        (
            "authorization {\n  user: a\n  passwd: b\n}",
            "t.conf:3: unknown key \"passwd\" in authorization",
        ),
        (
            "authorization { users [\n {user: a, password: b, role: x}\n] }",
            "t.conf:2: unknown key \"role\" in a user",
        ),
        (
            "authorization { users [ {user: a, password: b, permissions {\n  publish: x\n  \
             publsh: y\n} } ] }",
            "t.conf:3: unknown key \"publsh\" in permissions",
        ),
        (
            "authorization { users [ {user: a, password: b, permissions {\n publish { allow: x, \
             block: y }\n} } ] }",
            "t.conf:2: unknown key \"block\" in publish",
        ),
        (
            "authorization { users [ {user: a, password: b, permissions {\n allow_responses \
             { max: 1, when: 2 }\n} } ] }",
            "t.conf:2: unknown key \"when\" in allow_responses",
        ),
        (
            "jetstream {\n  store_dir: /x\n  max_streams: 5\n}",
            "t.conf:3: unknown key \"max_streams\" in jetstream",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&options_err(text), expected, "{text:?}");
    }
}

#[test]
fn wrong_types_name_their_line() {
    let cases: &[(&str, &str)] = &[
        (
            "port: \"4222\"",
            "t.conf:1: port: expected an integer, got the string \"4222\"",
        ),
        (
            "\nport: 70000",
            "t.conf:2: port: 70000 is not a port (use 0-65535, or -1 for a random port)",
        ),
        (
            "host: 5",
            "t.conf:1: host: expected a string, got the integer 5",
        ),
        (
            "server_name: [a]",
            "t.conf:1: server_name: expected a string, got an array",
        ),
        (
            "listen: localhost",
            "t.conf:1: listen: expected HOST:PORT or a port, got the string \"localhost\"",
        ),
        (
            "listen: a:b",
            "t.conf:1: listen: expected HOST:PORT or a port, got the string \"a:b\"",
        ),
        (
            "max_payload: lots",
            "t.conf:1: max_payload: expected a size (a number of bytes, or like 64KB, 1MB, 1GB), \
             got the string \"lots\"",
        ),
        (
            "max_payload: 0",
            "t.conf:1: max_payload: must be positive, got 0",
        ),
        (
            "max_connections: -5",
            "t.conf:1: max_connections: must be positive, got -5",
        ),
        (
            "max_payload: 128MB",
            "t.conf:1: max_payload (134217728) cannot be higher than max_pending (67108864)",
        ),
        (
            "ping_interval: soon",
            "t.conf:1: ping_interval: expected a duration (like 2m, 10s, 500ms, or a number of \
             seconds), got the string \"soon\"",
        ),
        (
            "ping_interval: 0",
            "t.conf:1: ping_interval: must be more than 0",
        ),
        (
            "write_deadline: true",
            "t.conf:1: write_deadline: expected a duration (like 2m, 10s, 500ms, or a number of \
             seconds), got the boolean true",
        ),
        (
            "ping_max: 0",
            "t.conf:1: ping_max: must be between 1 and 4294967295",
        ),
        (
            "ping_max: 1.5",
            "t.conf:1: ping_max: expected an integer, got the float 1.5",
        ),
        (
            "debug: \"yes\"",
            "t.conf:1: debug: expected true or false, got the string \"yes\"",
        ),
        (
            "trace: 1",
            "t.conf:1: trace: expected true or false, got the integer 1",
        ),
        (
            "logfile: {}",
            "t.conf:1: logfile: expected a string, got a block",
        ),
        (
            "http_port: x",
            "t.conf:1: http_port: expected an integer, got the string \"x\"",
        ),
        (
            "authorization: true",
            "t.conf:1: authorization: expected a block { ... }, got the boolean true",
        ),
        (
            "authorization {\n users: { user: a }\n}",
            "t.conf:2: users: expected an array of { user, password } blocks, got a block",
        ),
        (
            "authorization { users: [ a ] }",
            "t.conf:1: users: expected a block { ... }, got the string \"a\"",
        ),
        (
            "authorization { users: [\n { user: a, password: b, permissions { publish: 5 } }\n] }",
            "t.conf:2: publish: expected a subject or an array of subjects, got the integer 5",
        ),
        (
            "authorization { users: [\n { user: a, password: b, permissions { allow_responses: 3 \
             } }\n] }",
            "t.conf:2: allow_responses: expected true, false or { max, expires }, got the \
             integer 3",
        ),
        (
            "jetstream: maybe",
            "t.conf:1: jetstream: expected true, false, enabled, disabled or a block { ... }, got \
             the string \"maybe\"",
        ),
        (
            "jetstream { store_dir: 5 }",
            "t.conf:1: store_dir: expected a string, got the integer 5",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&options_err(text), expected, "{text:?}");
    }
}

#[test]
fn bad_authorization_combinations() {
    let cases: &[(&str, &str)] = &[
        (
            "\nauthorization { user: a }",
            "t.conf:2: authorization: user without a password",
        ),
        (
            "authorization { password: a }",
            "t.conf:1: authorization: password without a user",
        ),
        (
            "authorization { user: a, password: b, token: c }",
            "t.conf:1: authorization: cannot have both a user/password and a token",
        ),
        (
            "authorization { token: c, users: [] }",
            "t.conf:1: authorization: cannot have both a token and a users array",
        ),
        (
            "authorization { user: a, password: b, users: [] }",
            "t.conf:1: authorization: cannot have both a single user/password and a users array",
        ),
        (
            "authorization { users: [\n { password: b }\n] }",
            "t.conf:2: users: a user without \"user\"",
        ),
        (
            "authorization { users: [\n { user: a, password: b }\n { user: a, password: c }\n] }",
            "t.conf:3: users: user \"a\" is listed twice",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&options_err(text), expected, "{text:?}");
    }
}

#[test]
fn server_tags_and_unique_tag_for_placement() {
    let o = options("server_tags: [\"AZ:1\", \" ssd \", \"\"]\njetstream { unique_tag: \"AZ:\" }");
    assert_eq!(
        o.server_tags,
        Some(vec!["az:1".to_string(), "ssd".to_string()])
    );
    assert_eq!(o.jetstream.unwrap().unique_tag.as_deref(), Some("az:"));
    let o = options("server_tags: \"az:2, fast\"");
    assert_eq!(
        o.server_tags,
        Some(vec!["az:2".to_string(), "fast".to_string()])
    );
    let e = options_err("server_tags: 5");
    assert!(e.contains("server_tags"), "{e}");
}
