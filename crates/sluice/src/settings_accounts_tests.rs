//! Tests of what the server runs with from a file's `accounts { ... }` and `no_auth_user`
//! (read in conf/accounts.rs, tested there): the [`ServerConfig`] `load` makes, the
//! authentication flags in place of the file's authorization block, and the reload diff.

use super::*;
use crate::conf::{options, parser};
use sluice_server::{AccountConfig, User};

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
}

fn settings_of(args: &[&str], text: &str) -> Result<Settings, String> {
    let map = parser::parse_str(text, Path::new("t.conf")).unwrap();
    let file = options::from_map(&map).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    resolve(&cli(args), Some(&file))
}

fn user(name: &str, password: &str, account: Option<&str>) -> User {
    User {
        user: name.into(),
        password: password.into(),
        permissions: None,
        account: account.map(str::to_owned),
        nkey: None,
    }
}

fn accounts(names: &[&str]) -> Vec<AccountConfig> {
    names.iter().map(|n| AccountConfig::new(n)).collect()
}

const EXAMPLE: &str = "\
authorization {
  permissions { publish: \"g.>\" }
  users [ {user: g, password: pg} ]
}
accounts {
  A: { users: [ {user: a, password: pa, permissions: { publish: \"a.>\" }}, {user: a2, password: pa2} ] }
  B { users = [ {user: b, password: pb} ] }
  EMPTY: {}
}
no_auth_user: a
";

#[test]
fn settings_load_fills_the_server_config() {
    let dir = std::env::temp_dir().join(format!("sluice-accounts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("accounts.conf");
    std::fs::write(&path, EXAMPLE).unwrap();
    let s = load(&cli(&["-c", path.to_str().unwrap()])).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(s.server.accounts, accounts(&["A", "B", "EMPTY"]));
    assert_eq!(s.server.no_auth_user.as_deref(), Some("a"));
    let Auth::Users(users) = &s.server.auth else {
        panic!("{:?}", s.server.auth)
    };
    let names: Vec<(&str, Option<&str>)> = users
        .iter()
        .map(|u| (u.user.as_str(), u.account.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("g", None),
            ("a", Some("A")),
            ("a2", Some("A")),
            ("b", Some("B"))
        ]
    );
    // Without a file: no accounts, no no_auth_user.
    let s = resolve(&cli(&[]), None).unwrap();
    assert!(s.server.accounts.is_empty() && s.server.no_auth_user.is_none());
}

#[test]
fn flags_replace_the_authorization_block_and_keep_the_account_users() {
    let text = "authorization { users [ {user: g, password: pg} ] }\n\
                accounts { A { users [ {user: a, password: pa} ] } }";
    let s = settings_of(&["--user", "u", "--pass", "pu"], text).unwrap();
    let want = vec![user("u", "pu", None), user("a", "pa", Some("A"))];
    assert_eq!(s.server.auth, Auth::Users(want));
    assert_eq!(s.server.accounts, accounts(&["A"]));

    let e = settings_of(&["--auth", "t"], text).unwrap_err();
    assert_eq!(
        e,
        "--auth (a token) cannot be used with users in accounts (user \"a\" of account A in the \
         configuration file)"
    );
    let e = settings_of(&["--user", "a", "--pass", "x"], text).unwrap_err();
    assert_eq!(
        e,
        "--user \"a\" is also a user of account A in the configuration file"
    );
    // no_auth_user named a user of the block the flags replace.
    let e = settings_of(
        &["--user", "u", "--pass", "pu"],
        &format!("{text}\nno_auth_user: g"),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "no_auth_user: \"g\" not present as user or nkey in authorization block or account \
         configuration"
    );
    // Without account users, the flags' authentication is as before.
    let s = settings_of(&["--auth", "t"], "accounts [ A ]").unwrap();
    assert_eq!(s.server.auth, Auth::Token("t".into()));
}

#[test]
fn reload_refuses_account_changes_and_reloads_passwords() {
    let base = "accounts {\n A { users [ {user: a, password: pa} ] }\n B {}\n}\n\
                authorization { users [ {user: g, password: pg} ] }\nno_auth_user: a";
    let old = settings_of(&[], base).unwrap();
    let changed = |edits: &[(&str, &str)]| {
        let mut text = base.to_owned();
        for (from, to) in edits {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        diff(&old, &settings_of(&[], &text).unwrap())
    };
    assert!(diff(&old, &old).is_empty());
    // A new account, or one gone.
    assert_eq!(
        changed(&[(" B {}\n", " B {}\n C {}\n")]).fixed,
        ["accounts"]
    );
    assert_eq!(changed(&[(" B {}\n", "")]).fixed, ["accounts"]);
    assert_eq!(
        changed(&[("no_auth_user: a", "no_auth_user: g")]).fixed,
        ["no_auth_user"]
    );
    assert_eq!(changed(&[("no_auth_user: a", "")]).fixed, ["no_auth_user"]);
    // A user moving to another account (the accounts stay A and B), or out of $G.
    let a_in_a = "A { users [ {user: a, password: pa} ] }";
    let c = changed(&[
        (a_in_a, "A {}"),
        (" B {}", " B { users [ {user: a, password: pa} ] }"),
    ]);
    assert_eq!(c.fixed, ["accounts"]);
    let g_in_g = "{user: g, password: pg}";
    let c = changed(&[
        (g_in_g, ""),
        (" B {}", " B { users [ {user: g, password: pg} ] }"),
    ]);
    assert_eq!(c.fixed, ["accounts"]);
    // A user of $G added or removed: the authorization change the server reloads.
    let c = changed(&[(g_in_g, "")]);
    assert!(c.fixed.is_empty(), "{c:?}");
    assert_eq!(c.server, ["authorization"]);
    // Only a password or permissions of an account's user: the same.
    for to in [
        "password: other}",
        "password: pa, permissions { publish: x }}",
    ] {
        let c = changed(&[("password: pa}", to)]);
        assert!(c.fixed.is_empty(), "{to}: {c:?}");
        assert_eq!(c.server, ["authorization"], "{to}");
    }
}
