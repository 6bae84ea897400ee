//! Tests of `accounts { ... }`, `no_auth_user` and their meeting with `authorization { ... }`:
//! what the file gives, and every refusal with its line. (What `settings` makes of them, with
//! the flags and on reload, is tested in the binary's settings_accounts_tests.rs.)

use crate::conf::options::{from_map, FileOptions};
use crate::conf::parser::parse_str;
use sluice_server::{AccountConfig, Auth, Permissions, SubjectPermission, User};
use std::path::Path;

fn options(text: &str) -> FileOptions {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    from_map(&map).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The error `text` gives, as `FILE:LINE: message`.
fn options_err(text: &str) -> String {
    let map = parse_str(text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match from_map(&map) {
        Ok(o) => panic!("{text:?} read as {o:?}"),
        Err(e) => e.to_string(),
    }
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

fn publish_only(subject: &str) -> Option<Permissions> {
    Some(Permissions {
        publish: Some(SubjectPermission {
            allow: vec![subject.into()],
            deny: vec![],
        }),
        ..Permissions::default()
    })
}

fn accounts(names: &[&str]) -> Option<Vec<AccountConfig>> {
    Some(names.iter().map(|n| AccountConfig::new(n)).collect())
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
fn account_users_join_the_users_list_naming_their_account() {
    let o = options(EXAMPLE);
    assert_eq!(o.accounts, accounts(&["A", "B", "EMPTY"]));
    assert_eq!(o.no_auth_user.as_deref(), Some("a"));
    let g = User {
        permissions: publish_only("g.>"),
        ..user("g", "pg", None)
    };
    let a = User {
        permissions: publish_only("a.>"),
        ..user("a", "pa", Some("A"))
    };
    // The authorization block's default permissions are not the accounts' users'.
    let want = vec![
        g,
        a,
        user("a2", "pa2", Some("A")),
        user("b", "pb", Some("B")),
    ];
    assert_eq!(o.auth, Some(Auth::Users(want)));
}

#[test]
fn accounts_alone_or_without_users() {
    // Users only in accounts: the list is theirs.
    let o = options("accounts { A { users [ {user: a, password: p} ] } }");
    assert_eq!(o.auth, Some(Auth::Users(vec![user("a", "p", Some("A"))])));
    // Accounts without users leave the authorization block as it is.
    let o = options("authorization { token: t }\naccounts { A {}, B: {} }");
    assert_eq!(o.auth, Some(Auth::Token("t".into())));
    assert_eq!(o.accounts, accounts(&["A", "B"]));
    let o = options("authorization { user: u, password: p }\naccounts [ A, B ]");
    let single = Auth::UserPass {
        user: "u".into(),
        pass: "p".into(),
    };
    assert_eq!(o.auth, Some(single));
    assert_eq!(o.accounts, accounts(&["A", "B"]));
    let o = options("port: 1");
    assert_eq!((o.auth, o.accounts, o.no_auth_user), (None, None, None));
}

/// nats-server 2.9.10 refuses both, in these words (and takes either with accounts that
/// have no users: `accounts_alone_or_without_users`).
#[test]
fn a_single_user_or_a_token_with_account_users_is_refused() {
    let e = options_err(
        "accounts { A { users [ {user: a, password: pa} ] } }\n\
         authorization { user: u, password: pu }",
    );
    assert_eq!(e, "t.conf:2: Can not have a single user/pass and accounts");
    let e = options_err(
        "\nauthorization {\n token: t\n}\naccounts {\n E {}\n A {\n  users [\n   {user: a, \
         password: pa}\n  ]\n }\n}",
    );
    assert_eq!(e, "t.conf:2: Can not have a token and accounts");
}

#[test]
fn a_user_name_is_listed_once_in_all_blocks() {
    let cases: &[(&str, &str)] = &[
        (
            "authorization { users [\n {user: x, password: p}\n] }\n\
             accounts { A { users [\n {user: x, password: q}\n] } }",
            "t.conf:5: users: user \"x\" is listed twice: in account A, and in the \
             authorization block at t.conf:2",
        ),
        (
            "accounts {\n A { users [ {user: x, password: p} ] }\n\
             B { users [\n\n {user: x, password: q} ] }\n}",
            "t.conf:5: users: user \"x\" is listed twice: in account B, and in account A at \
             t.conf:2",
        ),
        (
            "accounts {\n A { users [\n {user: x, password: p}\n {user: x, password: q}\n] }\n}",
            "t.conf:4: users: user \"x\" is listed twice in account A",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&options_err(text), want, "{text:?}");
    }
}

#[test]
fn account_names_global_and_twice_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "accounts {\n A {}\n $G {}\n}",
            "t.conf:3: accounts: \"$G\" is reserved for the global account",
        ),
        (
            "accounts [ A,\n \"$G\" ]",
            "t.conf:2: accounts: \"$G\" is reserved for the global account",
        ),
        (
            "accounts {\n A {}\n B {}\n A { users [ {user: a, password: p} ] }\n}",
            "t.conf:4: accounts: account \"A\" is listed twice (first at t.conf:2)",
        ),
        (
            "accounts [\n A\n A\n]",
            "t.conf:3: accounts: account \"A\" is listed twice (first at t.conf:2)",
        ),
        (
            "accounts [ A, \"\" ]",
            "t.conf:1: accounts: an account name cannot be empty",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&options_err(text), want, "{text:?}");
    }
}

#[test]
fn unserved_account_keys_are_refused_by_name() {
    for key in [
        "limits",
        "mappings",
        "default_permissions",
        "nkey",
        "Limits",
    ] {
        let text = format!(
            "accounts {{\n A {{\n  users [ {{user: a, password: p}} ]\n  {key}: x\n }}\n}}"
        );
        assert_eq!(
            options_err(&text),
            format!("t.conf:4: key {key:?} in account A is not served yet"),
            "{key}"
        );
    }
    assert_eq!(
        options_err("accounts {\n A {\n  bogus: 1\n }\n}"),
        "t.conf:3: unknown key \"bogus\" in account A"
    );
}

#[test]
fn nkey_users_in_accounts_and_authorization() {
    let (a, g) = (
        nkeys::KeyPair::new_user().public_key(),
        nkeys::KeyPair::new_user().public_key(),
    );
    let o = options(&format!(
        "accounts {{ A {{ users [ {{nkey: {a}}}, {{user: u, password: p}} ] }} }}\n\
         authorization {{ users [ {{nkey: {g}, permissions: {{publish: x}}}} ] }}\n\
         no_auth_user: {a}"
    ));
    let Some(Auth::Users(users)) = o.auth else {
        panic!("{:?}", o.auth)
    };
    let names: Vec<_> = users
        .iter()
        .map(|u| {
            (
                u.user.clone(),
                u.nkey.clone(),
                u.account.clone(),
                u.password.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (g.clone(), Some(g.clone()), None, String::new()),
            (
                a.clone(),
                Some(a.clone()),
                Some("A".to_owned()),
                String::new()
            ),
            ("u".to_owned(), None, Some("A".to_owned()), "p".to_owned()),
        ]
    );
    assert!(users[0].permissions.is_some());
    assert_eq!(o.no_auth_user.as_deref(), Some(a.as_str()));
}

/// nats-server 2.9.10's words for each.
#[test]
fn bad_nkey_users_are_refused() {
    let key = nkeys::KeyPair::new_user().public_key();
    let account_key = nkeys::KeyPair::new_account().public_key();
    let cases: Vec<(String, &str)> = vec![
        (
            "accounts { A { users [\n {nkey: UABC}\n] } }".into(),
            "t.conf:2: Not a valid public nkey for a user",
        ),
        (
            format!("authorization {{ users [\n {{nkey: {account_key}}}\n] }}"),
            "t.conf:2: Not a valid public nkey for a user",
        ),
        (
            format!("authorization {{ users [\n {{user: a, password: p, nkey: {key}}}\n] }}"),
            "t.conf:2: Nkey users do not take usernames or passwords",
        ),
        (
            format!("authorization {{ users [\n {{nkey: {key}}}\n {{nkey: {key}}}\n] }}"),
            "duplicate",
        ),
        (
            "accounts { A { users [\n {user: a, password: p, role: x}\n] } }".into(),
            "t.conf:2: unknown key \"role\" in a user of account A",
        ),
    ];
    for (text, want) in cases {
        let got = options_err(&text);
        if want == "duplicate" {
            assert_eq!(got, format!("t.conf:3: Duplicate nkey {key:?} detected"));
        } else {
            assert_eq!(got, want, "{text:?}");
        }
    }
}

#[test]
fn unserved_top_level_keys_are_refused_by_name() {
    for key in [
        "resolver_tls",
        "resolver_pinned_accounts",
        "trusted_keys",
        "trusted",
    ] {
        assert_eq!(
            options_err(&format!("port: 1\n{key}: x")),
            format!("t.conf:2: key {key:?} is not served yet"),
            "{key}"
        );
    }
}

#[test]
fn wrong_types_in_accounts() {
    let cases: &[(&str, &str)] = &[
        (
            "\naccounts: 5",
            "t.conf:2: accounts: expected a block { NAME { users [...] } } or an array of \
             account names, got the integer 5",
        ),
        (
            "accounts {\n A: 5\n}",
            "t.conf:2: account A: expected a block { ... }, got the integer 5",
        ),
        (
            "accounts { A { users: { user: a } } }",
            "t.conf:1: users: expected an array of { user, password } blocks, got a block",
        ),
        (
            "no_auth_user: 5",
            "t.conf:1: no_auth_user: expected a string, got the integer 5",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&options_err(text), want, "{text:?}");
    }
}

#[test]
fn an_entry_there_only_to_be_a_variable_is_no_account() {
    let o = options("accounts {\n PW: secret\n A { users [ {user: a, password: $PW} ] }\n}");
    assert_eq!(o.accounts, accounts(&["A"]));
    assert_eq!(
        o.auth,
        Some(Auth::Users(vec![user("a", "secret", Some("A"))]))
    );
}

#[test]
fn no_auth_user_names_a_configured_user() {
    let o = options("authorization { users [ {user: g, password: p} ] }\nno_auth_user: g");
    assert_eq!(o.no_auth_user.as_deref(), Some("g"));
    let o = options("no_auth_user: b\naccounts { B { users [ {user: b, password: p} ] } }");
    assert_eq!(o.no_auth_user.as_deref(), Some("b"));
    assert_eq!(options("no_auth_user: \"\"").no_auth_user, None);
    let cases: &[(&str, &str)] = &[
        (
            "port: 1\nno_auth_user: x",
            "t.conf:2: no_auth_user: \"x\" present, but users/nkeys are not defined",
        ),
        (
            "authorization { user: u, password: p }\nno_auth_user: u",
            "t.conf:2: no_auth_user: \"u\" present, but users/nkeys are not defined",
        ),
        (
            "\nno_auth_user: x\naccounts { A { users [ {user: a, password: p} ] } }",
            "t.conf:2: no_auth_user: \"x\" not present as user or nkey in authorization block \
             or account configuration",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&options_err(text), want, "{text:?}");
    }
}
