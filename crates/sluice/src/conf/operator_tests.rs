//! Tests of operator mode's keys (`operator`, `system_account`, `resolver`,
//! `resolver_preload`): what the file gives and every refusal with its line, in nats-server
//! 2.9.10's words where it has them (checked with `nats-server -c FILE -t` and by starting it).

use crate::conf::operator::{operator_config, OperatorConfig, Resolver};
use crate::conf::parser::parse_str;
use sluice_jwt_fixtures::{AccountFixture, OperatorFixture};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An operator, its system account and an account `A`.
struct Keys {
    op: OperatorFixture,
    sys: AccountFixture,
    acc: AccountFixture,
}

fn keys() -> Keys {
    let op = OperatorFixture::new("OP");
    let sys = AccountFixture::new("SYS", &op.signing_key);
    let acc = AccountFixture::new("A", &op.signing_key);
    Keys { op, sys, acc }
}

fn read(text: &str) -> Result<Option<OperatorConfig>, String> {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    operator_config(&map).map_err(|e| e.to_string())
}

fn config(text: &str) -> OperatorConfig {
    read(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .expect("operator mode")
}

fn err(text: &str) -> String {
    match read(text) {
        Ok(c) => panic!("{text:?} read as {c:?}"),
        Err(e) => e,
    }
}

/// `operator`, `system_account`, MEMORY and the preload of both accounts.
fn memory_conf(k: &Keys) -> String {
    format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {}: \"{}\"\n  {}: \"{}\"\n}}\n",
        k.op.jwt,
        k.sys.public_key(),
        k.sys.public_key(),
        k.sys.jwt,
        k.acc.public_key(),
        k.acc.jwt
    )
}

fn temp_file(tag: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sluice-opconf-{tag}-{}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn no_operator_keys_is_not_operator_mode() {
    assert_eq!(read("port: 4222\nsystem_account: SYS\n"), Ok(None));
}

#[test]
fn an_inline_operator_with_memory_and_preload() {
    let k = keys();
    let c = config(&memory_conf(&k));
    assert_eq!(c.operators.len(), 1);
    assert_eq!(c.operators[0].file, None);
    assert_eq!(c.operators[0].jwt, k.op.jwt);
    assert_eq!(c.operators[0].claims.public_key(), k.op.public_key());
    assert_eq!(c.system_account, Some(k.sys.public_key()));
    assert_eq!(c.resolver, Resolver::Memory);
    assert_eq!(
        c.preload,
        vec![
            (k.sys.public_key(), k.sys.jwt.clone()),
            (k.acc.public_key(), k.acc.jwt.clone())
        ]
    );
}

#[test]
fn an_operator_file_bare_or_decorated_and_a_list() {
    let k = keys();
    let bare = temp_file("bare", &format!("{}\n", k.op.jwt));
    let other = OperatorFixture::new("OTHER");
    let decorated = temp_file(
        "decorated",
        &format!(
            "-----BEGIN NATS OPERATOR JWT-----\n{}\n------END NATS OPERATOR JWT------\n",
            other.jwt
        ),
    );
    let text = format!(
        "operators: [\"{}\", \"{}\"]\nresolver: mem\n",
        bare.display(),
        decorated.display()
    );
    let c = config(&text);
    assert_eq!(c.operators.len(), 2);
    assert_eq!(c.operators[0].file.as_deref(), Some(bare.as_path()));
    assert_eq!(c.operators[0].claims.public_key(), k.op.public_key());
    assert_eq!(c.operators[1].jwt, other.jwt);
    assert_eq!(c.system_account, None);
    let _ = std::fs::remove_file(bare);
    let _ = std::fs::remove_file(decorated);
}

#[test]
fn a_bad_operator_is_refused_in_nats_servers_words() {
    let k = keys();
    let e = err("operator: /no/such/op.jwt\nresolver: MEMORY\n");
    assert!(
        e.starts_with("t.conf:1: error parsing operator JWT: open /no/such/op.jwt: "),
        "{e}"
    );
    let e = err(&format!("operator: \"{}\"\nresolver: MEMORY\n", k.acc.jwt));
    assert!(
        e.starts_with("t.conf:1: error parsing operator JWT: "),
        "{e}"
    );
    assert_eq!(
        err("operator: 5\nresolver: MEMORY\n"),
        "t.conf:1: error parsing operators: unsupported type int64"
    );
}

#[test]
fn resolver_forms() {
    let k = keys();
    let op = format!(
        "operator: \"{}\"\nsystem_account: {}\n",
        k.op.jwt,
        k.sys.public_key()
    );
    let c = config(&format!(
        "{op}resolver: {{ type: full, dir: \"/var/jwt\", allow_delete: true, interval: \"2m\", \
         limit: 1000, timeout: \"1.5s\" }}\n"
    ));
    assert_eq!(
        c.resolver,
        Resolver::Full {
            dir: PathBuf::from("/var/jwt"),
            allow_delete: true,
            interval: Some(Duration::from_secs(120)),
            limit: Some(1000),
            timeout: Some(Duration::from_millis(1500)),
        }
    );
    let c = config(&format!("{op}resolver: {{ type: FULL, dir: jwt }}\n"));
    assert!(matches!(
        c.resolver,
        Resolver::Full {
            allow_delete: false,
            interval: None,
            ..
        }
    ));
    let shape = "error parsing account resolver, should be MEM or  URL(\"url\") or a map \
                 containing dir and type state=[FULL|CACHE])";
    let line3 = |msg: &str| format!("t.conf:3: {msg}");
    assert_eq!(err(&format!("{op}resolver: FOO\n")), line3(shape));
    assert_eq!(
        err(&format!("{op}resolver: {{ type: bogus, dir: x }}\n")),
        line3(shape)
    );
    assert_eq!(
        err(&format!("{op}resolver: {{ type: full }}\n")),
        line3("dir has no value and needs to point to a directory")
    );
    assert_eq!(
        err(&format!(
            "{op}resolver: {{ type: cache, dir: x, allow_delete: true }}\n"
        )),
        line3("CACHE does not accept allow_delete")
    );
    assert_eq!(
        err(&format!("{op}resolver: 5\n")),
        line3("error parsing operator resolver, wrong type int64")
    );
    assert_eq!(
        err(&format!(
            "{op}resolver: {{ type: full, dir: x, interval: \"abc\" }}\n"
        )),
        line3("time: invalid duration \"abc\"")
    );
    // Not served: URL and cache resolvers; unknown keys are refused.
    assert!(err(&format!(
        "{op}resolver: URL(http://localhost:9090/jwt/v1/accounts/)\n"
    ))
    .contains("resolver URL(...) is not served yet"));
    assert!(err(&format!("{op}resolver: {{ type: cache, dir: x }}\n"))
        .contains("resolver type cache is not served yet"));
    assert_eq!(
        err(&format!(
            "{op}resolver: {{ type: full, dir: x, bogus: 1 }}\n"
        )),
        line3("unknown key \"bogus\" in resolver")
    );
}

#[test]
fn a_full_resolver_needs_a_system_account() {
    let k = keys();
    assert_eq!(
        err(&format!(
            "operator: \"{}\"\nresolver: {{ type: full, dir: x }}\n",
            k.op.jwt
        )),
        "t.conf:1: using nats based account resolver - the system account needs to be \
         specified in configuration or the operator jwt"
    );
    let op = OperatorFixture::with("OP", |c| c.nats.system_account = Some("ASYS".into()));
    let c = config(&format!(
        "operator: \"{}\"\nresolver: {{ type: full, dir: x }}\n",
        op.jwt
    ));
    assert_eq!(c.operators[0].claims.nats.system_account, "ASYS");
}

#[test]
fn preload_entries_are_account_jwts_under_their_own_key() {
    let k = keys();
    let op = format!("operator: \"{}\"\nresolver: MEMORY\n", k.op.jwt);
    assert_eq!(
        err(&format!("{op}resolver_preload: \"{}\"\n", k.acc.jwt)),
        "t.conf:3: preload should be a map of account_public_key:account_jwt"
    );
    assert_eq!(
        err(&format!(
            "{op}resolver_preload: {{ {}: notajwt }}\n",
            k.acc.public_key()
        )),
        "t.conf:3: invalid account JWT"
    );
    assert_eq!(
        err(&format!(
            "{op}resolver_preload: {{ {}: \"{}\" }}\n",
            k.acc.public_key(),
            k.op.jwt
        )),
        "t.conf:3: invalid account JWT",
        "an operator JWT is no account JWT"
    );
    let e = err(&format!(
        "{op}resolver_preload: {{ {}: \"{}\" }}\n",
        k.sys.public_key(),
        k.acc.jwt
    ));
    assert_eq!(
        e,
        format!(
            "t.conf:3: resolver_preload: {} is given the account JWT of {}",
            k.sys.public_key(),
            k.acc.public_key()
        )
    );
}

#[test]
fn the_system_account_must_be_a_preloaded_account_key() {
    let k = keys();
    let op = format!("operator: \"{}\"\nresolver: MEMORY\n", k.op.jwt);
    assert_eq!(
        err(&format!("{op}system_account: NOTAKEY\n")),
        "t.conf:3: error resolving system account: will only fetch valid account keys"
    );
    assert_eq!(
        err(&format!("{op}system_account: {}\n", k.sys.public_key())),
        "t.conf:3: error resolving system account: account missing"
    );
}

#[test]
fn operator_and_resolver_go_together() {
    let k = keys();
    assert_eq!(
        err(&format!("operator: \"{}\"\n", k.op.jwt)),
        "t.conf:1: operator mode needs a resolver: MEMORY or { type: full, dir: ... }"
    );
    assert_eq!(
        err("resolver: MEMORY\n"),
        "t.conf:1: \"resolver\" needs an operator (operator mode)"
    );
    assert_eq!(
        err(&format!(
            "resolver_preload: {{ {}: \"{}\" }}\n",
            k.acc.public_key(),
            k.acc.jwt
        )),
        "t.conf:1: \"resolver_preload\" needs an operator (operator mode)"
    );
}

/// What the server is given: one account per account JWT (named by its key), the system
/// account, and the trust; the full resolver's directory is read at startup.
#[test]
fn server_accounts_from_preload_and_the_full_resolvers_directory() {
    use crate::conf::operator::{jetstream_accounts, server_accounts};
    let k = keys();
    let (auth, accounts, system) = server_accounts(&config(&memory_conf(&k))).unwrap();
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [k.sys.public_key(), k.acc.public_key()]);
    assert_eq!(system, Some(k.sys.public_key()));
    assert_eq!(auth.operators, std::slice::from_ref(&k.op.jwt));
    assert_eq!(auth.accounts.len(), 2);

    let dir = std::env::temp_dir().join(format!("sluice-opdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{}.jwt", k.acc.public_key())), &k.acc.jwt).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a JWT").unwrap();
    let text = format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: {{ type: full, dir: \"{}\" }}\n\
         resolver_preload: {{ {}: \"{}\" }}\n",
        k.op.jwt,
        k.sys.public_key(),
        dir.display(),
        k.sys.public_key(),
        k.sys.jwt,
    );
    let (_, accounts, _) = server_accounts(&config(&text)).unwrap();
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [k.sys.public_key(), k.acc.public_key()]);

    // An account JWT enabling JetStream: its limits, as nats-server reads them.
    let js = AccountFixture::with("JS", &k.op.signing_key, |c| {
        let l = c.nats.limits.get_or_insert_with(Default::default);
        l.jetstream
            .get_or_insert_with(Default::default)
            .disk_storage = Some(1 << 20);
    });
    std::fs::write(dir.join(format!("{}.jwt", js.public_key())), &js.jwt).unwrap();
    let (trust, _, _) = server_accounts(&config(&text)).unwrap();
    let enabled = jetstream_accounts(&trust).unwrap();
    assert_eq!(enabled.len(), 1, "{enabled:?}");
    assert_eq!(enabled[0].0, js.public_key());
    let l = &enabled[0].1;
    assert_eq!(
        (l.max_storage, l.max_memory, l.max_ack_pending),
        (1 << 20, 0, -1)
    );

    // An account JWT asking for what is not served yet is refused, naming the account.
    let limited = AccountFixture::with("LIM", &k.op.signing_key, |c| {
        let l = c.nats.limits.get_or_insert_with(Default::default);
        l.account.get_or_insert_with(Default::default).conn = Some(3);
    });
    std::fs::write(
        dir.join(format!("{}.jwt", limited.public_key())),
        &limited.jwt,
    )
    .unwrap();
    let e = server_accounts(&config(&text)).unwrap_err();
    assert!(
        e.contains(&limited.public_key()) && e.contains("conn 3"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn operator_mode_refuses_users_and_accounts_in_the_file() {
    let k = keys();
    for extra in [
        "authorization { users: [ {user: a, password: b} ] }",
        "accounts { X: {} }",
        "no_auth_user: a",
    ] {
        let text = format!("{}\n{extra}\n", memory_conf(&k));
        let map = parse_str(&text, Path::new("t.conf")).unwrap();
        let e = crate::conf::options::from_map(&map)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot be used with an operator"),
            "{extra}: {e}"
        );
    }
    let map = parse_str(&memory_conf(&k), Path::new("t.conf")).unwrap();
    let o = crate::conf::options::from_map(&map).unwrap();
    assert!(o.operator.is_some());
}

/// The full resolver's `allow_delete`, `interval`, `limit` and `timeout` act on claim updates
/// and lookups, which are not served: the server refuses them rather than ignore them.
#[test]
fn full_resolver_options_for_updates_are_refused_by_the_server() {
    use crate::conf::operator::server_accounts;
    let k = keys();
    for extra in [
        "allow_delete: true",
        "interval: \"2m\"",
        "limit: 10",
        "timeout: \"1s\"",
    ] {
        let text = format!(
            "operator: \"{}\"\nsystem_account: {}\nresolver: {{ type: full, dir: \"{}\", {extra} }}\n\
             resolver_preload: {{ {}: \"{}\" }}\n",
            k.op.jwt,
            k.sys.public_key(),
            std::env::temp_dir().join("sluice-opdir-unused").display(),
            k.sys.public_key(),
            k.sys.jwt,
        );
        let e = server_accounts(&config(&text)).unwrap_err();
        let key = extra.split(':').next().unwrap();
        assert!(e.contains(key) && e.contains("not served"), "{extra}: {e}");
    }
}
