//! Operator mode (NATS JWTs), Sluice against the reference, nats-server 2.9.10: an operator, a system
//! account, an account and users are made at test time (sluice-jwt-fixtures, written by a
//! third-party JWT writer), nats-server is started with `operator:`, `system_account:`,
//! `resolver: MEMORY` and `resolver_preload:`, and each case is put to it: a good user logs in
//! and is held to its permissions; a bad signature, an expired, not-yet-valid or revoked user,
//! a user of an untrusted key or an account of a foreign operator are refused; a connected user
//! is told when its JWT expires or it is revoked. The exact texts
//! nats-server sends are asserted here and documented in protocol-spec/jwt.md; Sluice's
//! `sluice_server::jwt` is unit-tested on the same cases (crates/server/src/jwt/tests*.rs).
//! Each case runs against both brokers, but for what Sluice refuses instead of ignoring (a
//! user JWT's `data` limit, which nats-server does not enforce).

use integration_tests::raw::Raw;
use integration_tests::{both, Broker, Kind};
use sluice_jwt_fixtures::{now, AccountFixture, KeyPair, OperatorFixture, Permission, UserFixture};
use sluice_server::jwt::{self, OperatorClaims};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const VIOLATION: &str = "-ERR 'Authorization Violation'";

/// The operator, its system account and account `A` (signed by the operator's signing key),
/// and nats-server trusting them.
struct Setup {
    op: OperatorFixture,
    sys: AccountFixture,
    acc: AccountFixture,
    broker: Broker,
    dir: PathBuf,
    /// What nats-server was given, for `sluice_server::jwt` to judge the same logins.
    accounts: HashMap<String, String>,
    trusted: Vec<OperatorClaims>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts nats-server trusting `op`, with `accounts` (public key, JWT) preloaded besides the
/// system account; `acc` is the account the tests' users belong to.
fn start(
    kind: Kind,
    tag: &str,
    op: OperatorFixture,
    acc: AccountFixture,
    extra: &[(String, String)],
) -> Setup {
    start_with(kind, tag, op, acc, extra, false)
}

/// [`start`], with JetStream enabled on the server when `jetstream`.
fn start_with(
    kind: Kind,
    tag: &str,
    op: OperatorFixture,
    acc: AccountFixture,
    extra: &[(String, String)],
    jetstream: bool,
) -> Setup {
    let sys = AccountFixture::new("SYS", &op.signing_key);
    let dir =
        std::env::temp_dir().join(format!("sluice-jwt-{tag}-{kind:?}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let op_file = dir.join("op.jwt");
    std::fs::write(&op_file, &op.jwt).unwrap();
    let mut preload = format!(
        "  {}: \"{}\"\n  {}: \"{}\"\n",
        sys.public_key(),
        sys.jwt,
        acc.public_key(),
        acc.jwt
    );
    for (k, jwt) in extra {
        preload.push_str(&format!("  {k}: \"{jwt}\"\n"));
    }
    let mut conf = format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n",
        op_file.display(),
        sys.public_key()
    );
    if jetstream {
        let store = dir.join("js");
        conf.push_str(&format!(
            "jetstream {{ store_dir: \"{}\" }}\n",
            store.display()
        ));
    }
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let broker = Broker::start(kind, &["-c", path.to_str().unwrap()]);
    let mut accounts: HashMap<String, String> = extra.iter().cloned().collect();
    accounts.insert(sys.public_key(), sys.jwt.clone());
    accounts.insert(acc.public_key(), acc.jwt.clone());
    let trusted =
        vec![jwt::verify_operator(&op.jwt).expect("sluice_server::jwt reads the operator")];
    Setup {
        op,
        sys,
        acc,
        broker,
        dir,
        accounts,
        trusted,
    }
}

fn setup(kind: Kind, tag: &str) -> Setup {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    start(kind, tag, op, acc, &[])
}

/// Sends CONNECT with `jwt` and `sig` (if any) and a PING; the first line answered. Also
/// asks `sluice_server::jwt::verify_user` about the same login (same nonce, signature,
/// accounts and operator) and asserts it decides as nats-server did, with the same text.
fn login(s: &Setup, jwt: &str, sig: impl FnOnce(&[u8]) -> Option<String>) -> (Raw, String) {
    let (mut raw, info) = Raw::connect(s.broker.addr);
    let nonce = info["nonce"]
        .as_str()
        .expect("INFO has a nonce in operator mode");
    let mut connect = serde_json::json!({
        "verbose": false, "pedantic": false, "protocol": 1, "jwt": jwt,
    });
    let sig = sig(nonce.as_bytes());
    if let Some(sig) = &sig {
        connect["sig"] = sig.clone().into();
    }
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let line = raw.read_line(Duration::from_secs(5)).unwrap_or_default();
    let login = jwt::Login {
        jwt,
        sig: sig.as_deref(),
        nonce: nonce.as_bytes(),
    };
    let verdict = jwt::verify_user(login, |k| s.accounts.get(k).cloned(), &s.trusted, now());
    match &verdict {
        Ok(_) => assert_eq!(
            line, "PONG",
            "sluice_server::jwt accepts, nats-server does not"
        ),
        Err(e) => assert_eq!(
            line,
            format!("-ERR '{}'", e.wire_text()),
            "sluice_server::jwt refuses ({e}), nats-server answers otherwise"
        ),
    }
    (raw, line)
}

/// The answer to a login as `user`, signing the nonce with its own key.
fn answer(s: &Setup, user: &UserFixture) -> String {
    login(s, &user.jwt, |n| Some(user.sign_nonce(n))).1
}

both!(
    fn a_good_user_logs_in_and_is_held_to_its_permissions(kind) {
    let s = setup(kind, "good");
    let user = UserFixture::with("alice", &s.acc.key, |c| {
        let p = &mut c.nats.permissions.permissions;
        p.publish = Permission {
            allow: vec!["a.>".into()],
            deny: vec!["a.secret".into()],
        };
        p.subscribe = Permission {
            allow: vec!["a.>".into()],
            deny: vec![],
        };
    });
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    raw.send(b"SUB a.x 1\r\nPUB a.x 2\r\nhi\r\nPING\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
    assert_eq!(
        got,
        b"MSG a.x 1 2\r\nhi\r\nPONG\r\n",
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        until_pong(&mut raw, b"PUB b.x 0\r\n\r\nPUB a.secret 0\r\n\r\nSUB b.> 2\r\nPING\r\n"),
        "-ERR 'Permissions Violation for Publish to \"b.x\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"a.secret\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"b.>\"'\r\nPONG\r\n"
    );

    // async-nats with the user's .creds text logs in too and gets its own messages.
    let url = s.broker.url();
    let creds = user.creds();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let client = async_nats::ConnectOptions::with_credentials(&creds)
                .unwrap()
                .connect(&url)
                .await
                .expect("async-nats logs in with the .creds");
            let mut sub = client.subscribe("a.y").await.unwrap();
            client.publish("a.y", "hello".into()).await.unwrap();
            let msg =
                tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
                    .await
                    .expect("a message within 5 s")
                    .unwrap();
            assert_eq!(&msg.payload[..], b"hello");
        });
    }
);

both!(
    fn a_signature_by_another_key_is_refused(kind) {
    let s = setup(kind, "badsig");
    let user = UserFixture::new("u", &s.acc.key);
    let other = KeyPair::new_user();
    let (_, line) = login(&s, &user.jwt, |n| {
        Some(sluice_jwt_fixtures::sign_nonce(&other, n))
    });
    assert_eq!(line, VIOLATION);
    let (_, line) = login(&s, &user.jwt, |_| None);
    assert_eq!(line, VIOLATION, "no signature at all");
    }
);

both!(
    fn a_jwt_whose_signature_does_not_match_is_refused(kind) {
    let s = setup(kind, "forged");
    let user = UserFixture::new("u", &s.acc.key);
    let other = UserFixture::new("v", &s.acc.key);
    let forged = sluice_jwt_fixtures::swap_signature(&user.jwt, &other.jwt);
    let (_, line) = login(&s, &forged, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, VIOLATION);
    }
);

both!(
    fn expired_and_not_yet_valid_users_are_refused(kind) {
    let s = setup(kind, "time");
    let expired = UserFixture::with("old", &s.acc.key, |c| c.exp = Some(now() - 10));
    assert_eq!(answer(&s, &expired), VIOLATION);
    let early = UserFixture::with("early", &s.acc.key, |c| c.nbf = Some(now() + 3600));
    assert_eq!(answer(&s, &early), VIOLATION);
    }
);

both!(
    fn a_user_whose_jwt_expires_while_connected_is_told_and_closed(kind) {
    let s = setup(kind, "expiring");
    let user = UserFixture::with("soon", &s.acc.key, |c| c.exp = Some(now() + 2));
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    // The server's first keepalive PING (about 2 s after CONNECT, both brokers) may come
    // first: only the other lines count.
    let got = raw.read_until(Duration::from_secs(6), |b| {
        String::from_utf8_lossy(b).contains("Expired'\r\n")
    });
    let got = String::from_utf8_lossy(&got).replace("PING\r\n", "");
    assert_eq!(got, "-ERR 'User Authentication Expired'\r\n");
    assert!(raw.is_closed(Duration::from_secs(2)));
    }
);

both!(
    fn a_revoked_user_is_refused(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let revoked = UserFixture::new("revoked", &acc.key);
    let kept = UserFixture::new("kept", &acc.key);
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([(revoked.public_key(), now() as u64)].into_iter().collect());
    });
    let acc = AccountFixture { jwt, ..acc };
    let s = start(kind, "revoked", op, acc, &[]);
    assert_eq!(answer(&s, &revoked), VIOLATION);
    assert_eq!(answer(&s, &kept), "PONG");
    }
);

both!(
    fn revoking_everyone_refuses_users_issued_before(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let user = UserFixture::new("u", &acc.key);
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([("*".to_string(), now() as u64)].into_iter().collect());
    });
    let acc = AccountFixture { jwt, ..acc };
    let s = start(kind, "revoke-all", op, acc, &[]);
    assert_eq!(answer(&s, &user), VIOLATION);
    }
);

both!(
    fn a_user_of_a_signing_key_names_its_account(kind) {
    let s = setup(kind, "signing-key");
    let acc_pub = s.acc.public_key();
    let good = UserFixture::with("sk", &s.acc.signing_key, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert_eq!(answer(&s, &good), "PONG");
    let unnamed = UserFixture::new("sk-no-account", &s.acc.signing_key);
    assert_eq!(answer(&s, &unnamed), VIOLATION, "issuer_account missing");
    let stranger = KeyPair::new_account();
    let unknown = UserFixture::with("stranger", &stranger, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert_eq!(
        answer(&s, &unknown),
        VIOLATION,
        "a key the account does not list"
    );
    let own = UserFixture::with("own", &s.acc.key, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert_eq!(
        answer(&s, &own),
        "PONG",
        "the account's own key with issuer_account set"
    );
    }
);

both!(
    fn a_user_of_an_unknown_account_is_refused(kind) {
    let s = setup(kind, "unknown-account");
    let stranger = KeyPair::new_account();
    let user = UserFixture::new("u", &stranger);
    assert_eq!(answer(&s, &user), VIOLATION);
    }
);

both!(
    fn an_account_of_a_foreign_operator_is_refused(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let foreign = OperatorFixture::new("FOREIGN");
    let b = AccountFixture::new("B", &foreign.signing_key);
    let user = UserFixture::new("u", &b.key);
    let s = start(kind, "foreign", op, acc, &[(b.public_key(), b.jwt.clone())]);
    assert_eq!(answer(&s, &user), VIOLATION);
    assert!(s.op.jwt != b.jwt);
    }
);

both!(
    fn a_bearer_token_user_needs_no_signature(kind) {
    let s = setup(kind, "bearer");
    let bearer = UserFixture::with("bearer", &s.acc.key, |c| {
        c.nats.permissions.bearer_token = Some(true)
    });
    let (_, line) = login(&s, &bearer.jwt, |_| None);
    assert_eq!(line, "PONG");
    }
);

both!(
    fn no_jwt_or_padded_base64_is_refused_and_a_standard_base64_nonce_signature_is_not(kind) {
    let s = setup(kind, "encoding");
    let (_, line) = login(&s, "", |_| None);
    assert_eq!(line, VIOLATION, "no jwt in CONNECT");
    let user = UserFixture::new("u", &s.acc.key);
    // The header segment is 46 characters: padded, it is 48, and the token is refused.
    let (header, rest) = user.jwt.split_once('.').unwrap();
    assert_eq!(header.len() % 4, 2);
    let padded = format!("{header}==.{rest}");
    let (_, line) = login(&s, &padded, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, VIOLATION, "padded base64url in the JWT");
    use base64::Engine;
    let (_, line) = login(&s, &user.jwt, |n| {
        Some(base64::engine::general_purpose::STANDARD.encode(user.key.sign(n).unwrap()))
    });
    assert_eq!(
        line, "PONG",
        "a padded standard-base64 nonce signature is accepted"
    );
    }
);

/// Sends `ops` (ending with a PING) and returns what came back up to the PONG.
fn until_pong(raw: &mut Raw, ops: &[u8]) -> String {
    raw.send(ops);
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends `publish`, one too large for the connection: it must be refused and closed.
fn too_large(raw: &mut Raw, publish: &[u8]) {
    raw.send(publish);
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"Violation'\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    assert!(raw.is_closed(Duration::from_secs(2)), "closed");
}

/// Sends `ops` after a login as `user` and returns what came back up to the PONG.
fn session(s: &Setup, user: &UserFixture, ops: &[u8]) -> (String, String) {
    let (mut raw, line) = login(s, &user.jwt, |n| Some(user.sign_nonce(n)));
    // One write: nats-server may close the connection on what `ops` does.
    raw.send(&[ops, b"PING\r\n"].concat());
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
    (line, String::from_utf8_lossy(&got).into_owned())
}

both!(
    /// As nats-server 2.9.10 reads a user JWT: an absent `subs` or `payload` is a limit of 0.
    /// (`data` is -1 here: Sluice refuses a finite one, nats-server ignores it.)
    fn absent_user_limits_are_zero_limits(kind) {
    let s = setup(kind, "zero-limits");
    let user = UserFixture::with("nolimits", &s.acc.key, |c| {
        let limits = c.nats.permissions.limits.as_mut().unwrap();
        let nats = limits.nats_limits.as_mut().unwrap();
        (nats.subs, nats.payload) = (None, None);
    });
    // The PING answered, a new INFO with max_payload 0, the subscription limit of 0
    // reported, and the connection closed, whatever the client does. (Not in a fixed order:
    // nats-server sends the error from another goroutine, which under load can beat the PONG
    // it answers at the same time, as CI saw.)
    for ops in [&b""[..], b"SUB x 1\r\n"] {
        let (mut raw, info) = Raw::connect(s.broker.addr);
        let nonce = info["nonce"].as_str().unwrap().to_owned();
        let connect = serde_json::json!({
            "verbose": false, "pedantic": false, "protocol": 1, "jwt": user.jwt,
            "sig": user.sign_nonce(nonce.as_bytes()),
        });
        raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        raw.send(ops);
        let got = raw.read_until(Duration::from_secs(5), |b| {
            let b = String::from_utf8_lossy(b);
            b.contains("PONG\r\n") && b.contains("exceeded'\r\n")
        });
        let got = String::from_utf8_lossy(&got);
        let lines: Vec<&str> = got.lines().collect();
        assert!(lines.contains(&"PONG"), "{got}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("INFO ") && l.contains(r#""max_payload":0"#)),
            "{got}"
        );
        assert!(
            lines.contains(&"-ERR 'maximum subscriptions exceeded'"),
            "{got}"
        );
        assert!(raw.is_closed(Duration::from_secs(2)), "closed after {got}");
    }
    // `payload` alone absent (subs and data -1): a payload of 2 bytes is too large.
    let user = UserFixture::with("nopayload", &s.acc.key, |c| {
        let limits = c.nats.permissions.limits.as_mut().unwrap();
        limits.nats_limits.as_mut().unwrap().payload = None;
    });
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    raw.send(b"PUB x 2\r\nhi\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"Violation'\r\n"));
    let got = String::from_utf8_lossy(&got);
    assert!(got.contains(r#""max_payload":0"#), "{got}");
    assert!(
        got.ends_with("-ERR 'Maximum Payload Violation'\r\n"),
        "{got}"
    );
    assert!(raw.is_closed(Duration::from_secs(2)), "closed after {got}");
    }
);

both!(
    /// A user JWT's `subs` and `payload` limits, as nats-server enforces them: a SUB beyond
    /// `subs` is refused and the connection goes on (an UNSUB makes room again); the INFO after
    /// the first PONG carries the user's `max_payload`; a larger publish closes the
    /// connection with `Maximum Payload Violation`.
    fn subs_and_payload_limits_are_enforced(kind) {
    let s = setup(kind, "limits");
    let user = UserFixture::with("limited", &s.acc.key, |c| {
        let limits = c.nats.permissions.limits.as_mut().unwrap();
        let nats = limits.nats_limits.as_mut().unwrap();
        (nats.subs, nats.payload) = (Some(2), Some(4));
    });
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let info = raw.read_line(Duration::from_secs(5)).unwrap_or_default();
    assert!(
        info.starts_with("INFO ") && info.contains(r#""max_payload":4"#),
        "{info}"
    );
    assert_eq!(
        until_pong(&mut raw, b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n"),
        "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
    );
    // Subscriptions 1 and 2 work; 3 was not made. Freed room takes a new one.
    assert_eq!(
        until_pong(&mut raw, b"PUB a 1\r\nx\r\nPUB b 1\r\ny\r\nPUB c 1\r\nz\r\nUNSUB 1\r\nSUB c 3\r\nPUB c 4\r\nabcd\r\nPING\r\n"),
        "MSG a 1 1\r\nx\r\nMSG b 2 1\r\ny\r\nMSG c 3 4\r\nabcd\r\nPONG\r\n"
    );
    too_large(&mut raw, b"PUB a 5\r\nhello\r\n");
    }
);

both!(
    fn users_without_permissions_get_the_accounts_default_permissions(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        c.nats.default_permissions.as_mut().unwrap().publish = Permission {
            allow: vec!["d.>".into()],
            deny: vec![],
        };
    });
    let s = start(kind, "defaults", op, acc, &[]);
    let plain = UserFixture::new("plain", &s.acc.key);
    let (line, got) = session(&s, &plain, b"PUB x 0\r\n\r\nPUB d.x 0\r\n\r\n");
    assert_eq!(line, "PONG");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"x\"'\r\nPONG\r\n"
    );
    }
);

both!(
    fn a_scoped_signing_key_gives_its_template_to_users_that_set_nothing(kind) {
    use sluice_jwt_fixtures::nats_jwt_rs::types::{ScopeType, SigningKey, UserScope};
    use sluice_jwt_fixtures::nats_jwt_rs::user::UserPermissionLimits;
    let op = OperatorFixture::new("OP");
    let scoped = KeyPair::new_account();
    let key = scoped.public_key();
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        let mut template = UserPermissionLimits::default();
        template.permissions.publish = Permission {
            allow: vec!["s.>".into()],
            deny: vec![],
        };
        let scope = UserScope {
            kind: ScopeType::UserScope,
            key: key.clone(),
            role: Some("r".into()),
            template: Some(template),
            description: None,
        };
        c.nats.signing_keys.as_mut().unwrap().insert(SigningKey {
            key: key.clone(),
            scope: Some(scope),
        });
    });
    let s = start(kind, "scoped", op, acc, &[]);
    let acc_pub = s.acc.public_key();
    let empty = UserFixture::with("empty", &scoped, |c| {
        c.nats.issuer_account = Some(acc_pub.clone());
        c.nats.permissions.limits = None;
    });
    let (line, got) = session(&s, &empty, b"PUB x 0\r\n\r\nPUB s.x 0\r\n\r\n");
    assert_eq!(line, "PONG");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"x\"'\r\nPONG\r\n"
    );
    // Limits of -1 (what nsc writes for a plain user) are "set": refused.
    let with_limits = UserFixture::with("limits", &scoped, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert_eq!(answer(&s, &with_limits), VIOLATION);
    let with_perms = UserFixture::with("perms", &scoped, |c| {
        c.nats.issuer_account = Some(acc_pub.clone());
        c.nats.permissions.limits = None;
        c.nats.permissions.permissions.publish.allow = vec!["z".into()];
    });
    assert_eq!(answer(&s, &with_perms), VIOLATION);
    }
);

both!(
    fn an_expired_or_not_yet_valid_account_refuses_its_users(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| c.exp = Some(now() - 10));
    let early = AccountFixture::with("E", &op.signing_key, |c| c.nbf = Some(now() + 3600));
    let user = UserFixture::new("u", &acc.key);
    let early_user = UserFixture::new("e", &early.key);
    let s = start(
            kind,
        "account-time",
        op,
        acc,
        &[(early.public_key(), early.jwt.clone())],
    );
    assert_eq!(answer(&s, &user), VIOLATION);
    assert_eq!(answer(&s, &early_user), VIOLATION);
    }
);

both!(
    fn an_operator_jwt_is_trusted_even_expired_or_signed_by_another_operator_key(kind) {
    let base = OperatorFixture::new("OP");
    let mut claims: sluice_jwt_fixtures::Claims<sluice_jwt_fixtures::Operator> =
        sluice_jwt_fixtures::Claims::decode(&base.jwt).unwrap();
    let not_self_signed = claims.encode(&KeyPair::new_operator()).unwrap();
    claims.exp = Some(now() - 10);
    let expired = claims.encode(&base.key).unwrap();
    for (what, jwt) in [("not self-signed", not_self_signed), ("expired", expired)] {
        let op = OperatorFixture {
            key: KeyPair::from_seed(&base.key.seed().unwrap()).unwrap(),
            signing_key: KeyPair::from_seed(&base.signing_key.seed().unwrap()).unwrap(),
            jwt,
        };
        let acc = AccountFixture::new("A", &op.signing_key);
        let s = start(kind, &format!("operator-{}", &what[..3]), op, acc, &[]);
        let user = UserFixture::new("u", &s.acc.key);
        assert_eq!(answer(&s, &user), "PONG", "operator JWT {what}");
    }
    }
);

/// A revocation pushed while the user is connected (the system account's
/// `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE` with the reissued account JWT, which the MEMORY
/// resolver takes): nats-server tells the user and closes the connection.
/// Revokes `user` of account `s.acc` through a system account user's update on `subject`
/// (`{key}` is replaced by the account's key); returns the update's reply and what the
/// connected user then got.
fn revoke_live(s: &Setup, subject: &str) -> (String, String, bool) {
    let user = UserFixture::new("u", &s.acc.key);
    let (mut raw, line) = login(s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let sys_user = UserFixture::new("s", &s.sys.key);
    let (mut sys, line) = login(s, &sys_user.jwt, |n| Some(sys_user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let jwt = s.acc.reissue(&s.op.signing_key, |c| {
        c.nats.revocations = Some([(user.public_key(), now() as u64)].into_iter().collect());
    });
    let subject = subject.replace("{key}", &s.acc.public_key());
    sys.send(format!("SUB r 1\r\nPUB {subject} r {}\r\n{jwt}\r\n", jwt.len()).as_bytes());
    let reply = sys.read_until(Duration::from_secs(5), |b| b.ends_with(b"}\r\n"));
    let reply = String::from_utf8_lossy(&reply).into_owned();
    // A keepalive PING may come first: only the other lines count.
    let got = raw.read_until(Duration::from_secs(5), |b| {
        String::from_utf8_lossy(b).contains("Revoked'\r\n")
    });
    let got = String::from_utf8_lossy(&got).replace("PING\r\n", "");
    (reply, got, raw.is_closed(Duration::from_secs(2)))
}

both!(
    /// An account update from a system account user (what `nsc push` sends) revokes a
    /// connected user: it is told and closed; the update is answered with code 200.
    fn a_user_revoked_while_connected_is_told_and_closed(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let s = start(kind, "revoke-live", op, acc, &[]);
    let (reply, got, closed) = revoke_live(&s, "$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE");
    assert!(
        reply.starts_with("MSG r 1 ") && reply.contains(r#""data":{"account":""#)
            && reply.contains(r#""code":200,"message":"jwt updated"}"#),
        "{reply}"
    );
    assert_eq!(got, "-ERR 'User Authentication Revoked'\r\n");
    assert!(closed);
    }
);

both!(
    /// Update requests that are not applied, as both servers answer them: an empty body, a
    /// JWT of another account than the subject names, and an account the server does not
    /// have.
    fn claim_updates_that_are_not_applied(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let stranger = AccountFixture::new("X", &op.signing_key);
    let s = start(kind, "claims-refused", op, acc, &[]);
    let sys_user = UserFixture::new("s", &s.sys.key);
    let (mut sys, line) = login(&s, &sys_user.jwt, |n| Some(sys_user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let key = s.acc.public_key();
    sys.send(b"SUB r 1\r\n");
    let mut ask = |subject: &str, body: &str| {
        sys.send(format!("PUB {subject} r {}\r\n{body}\r\n", body.len()).as_bytes());
        let reply = sys.read_until(Duration::from_secs(5), |b| b.ends_with(b"}\r\n"));
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let json = reply.lines().nth(1).unwrap_or_default().to_owned();
        serde_json::from_str::<serde_json::Value>(&json)
            .unwrap_or_else(|e| panic!("{e}: {reply}"))
    };
    let update = |k: &str| format!("$SYS.REQ.ACCOUNT.{k}.CLAIMS.UPDATE");
    let r = ask(&update(&key), "");
    assert_eq!(
        r["error"],
        serde_json::json!({"account": key, "code": 500,
            "description": "jwt update error - request body is empty"}),
        "{r}"
    );
    let r = ask(&update(&key), &stranger.jwt);
    assert_eq!(
        r["error"],
        serde_json::json!({"account": key, "code": 500,
            "description": "jwt update resulted in error - subject does not match jwt content"}),
        "{r}"
    );
    let x = stranger.public_key();
    let r = ask(&update(&x), &stranger.jwt);
    assert_eq!(
        r["data"],
        serde_json::json!({"account": x, "code": 200, "message": "jwt update skipped"}),
        "{r}"
    );
    assert!(r["server"]["id"].is_string(), "{r}");
    }
);

/// A full resolver (`resolver { type: full, dir }`) takes `$SYS.REQ.CLAIMS.UPDATE` (the key
/// from the JWT), stores the JWT in its directory, and applies it. Sluice only: nats-server's
/// full resolver answers the same but applies it through its directory watcher, after a
/// delay this test does not wait for.
#[test]
fn a_full_resolver_stores_and_applies_an_update() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let sys = AccountFixture::new("SYS", &op.signing_key);
    let dir = std::env::temp_dir().join(format!("sluice-jwt-full-{}", std::process::id()));
    let jwts = dir.join("jwt");
    std::fs::create_dir_all(&jwts).unwrap();
    for a in [&acc, &sys] {
        std::fs::write(jwts.join(format!("{}.jwt", a.public_key())), &a.jwt).unwrap();
    }
    let op_file = dir.join("op.jwt");
    std::fs::write(&op_file, &op.jwt).unwrap();
    let conf = format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: {{ type: full, dir: \"{}\" }}\n",
        op_file.display(),
        sys.public_key(),
        jwts.display()
    );
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let broker = Broker::start(Kind::Sluice, &["-c", path.to_str().unwrap()]);
    let mut accounts = HashMap::new();
    accounts.insert(sys.public_key(), sys.jwt.clone());
    accounts.insert(acc.public_key(), acc.jwt.clone());
    let trusted = vec![jwt::verify_operator(&op.jwt).unwrap()];
    let s = Setup {
        op,
        sys,
        acc,
        broker,
        dir,
        accounts,
        trusted,
    };
    let (reply, got, closed) = revoke_live(&s, "$SYS.REQ.CLAIMS.UPDATE");
    assert!(
        reply.contains(r#""code":200,"message":"jwt updated"}"#),
        "{reply}"
    );
    assert_eq!(got, "-ERR 'User Authentication Revoked'\r\n");
    assert!(closed);
    let stored = std::fs::read_to_string(jwts.join(format!("{}.jwt", s.acc.public_key())));
    let stored = stored.unwrap();
    assert_ne!(stored, s.acc.jwt, "the directory keeps the new JWT");
    let claims = jwt::decode_account(&stored).expect("the stored JWT decodes");
    assert_eq!(
        claims.nats.revocations.len(),
        1,
        "the update's revocation is stored"
    );
}

both!(
    /// nats-py logs in with a `.creds` file (its `user_credentials`), and a `.creds` whose
    /// seed is not the JWT's user is refused.
    fn nats_py_logs_in_with_a_creds_file(kind) {
        if integration_tests::py::skip_without_nats_py("the nats-py .creds test") {
            return;
        }
        let s = setup(kind, "py-creds");
        let user = UserFixture::new("py", &s.acc.key);
        let other = UserFixture::new("other", &s.acc.key);
        let good = s.dir.join("good.creds");
        std::fs::write(&good, user.creds()).unwrap();
        let bad = s.dir.join("bad.creds");
        std::fs::write(&bad, sluice_jwt_fixtures::creds(&user.jwt, &other.seed())).unwrap();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/creds_login.py");
        for (file, refused) in [(&good, false), (&bad, true)] {
            let mut cmd = std::process::Command::new("python3");
            cmd.arg(&script).arg(s.broker.url()).arg(file).arg("py.x");
            if refused {
                cmd.arg("bad");
            }
            let (status, out) =
                integration_tests::py::run_bounded(cmd, Duration::from_secs(30));
            assert!(
                status.is_some_and(|s| s.success()),
                "{kind:?} ({}): {out}",
                file.display()
            );
        }
    }
);

/// A user JWT's `data` limit: nats-server 2.9.10 accepts it and enforces nothing; Sluice
/// refuses the login rather than accept a limit it does not serve (differences.md 28).
#[test]
fn sluice_refuses_a_user_with_a_data_limit() {
    let s = setup(Kind::Sluice, "data-limit");
    let user = UserFixture::with("limited", &s.acc.key, |c| {
        let limits = c.nats.permissions.limits.as_mut().unwrap();
        limits.nats_limits.as_mut().unwrap().data = Some(5);
    });
    let (mut raw, info) = Raw::connect(s.broker.addr);
    let nonce = info["nonce"].as_str().unwrap().to_owned();
    let connect = serde_json::json!({
        "verbose": false, "jwt": user.jwt, "sig": user.sign_nonce(nonce.as_bytes()),
    });
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let line = raw.read_line(Duration::from_secs(5)).unwrap_or_default();
    assert_eq!(line, VIOLATION);
}

/// nats.c's example programs log in with a `.creds` file. nats.c is not packaged here:
/// `SLUICE_NATS_C_EXAMPLES` names a directory holding its `nats-replier` and
/// `nats-requestor` (built from nats.c's source, `make nats-replier nats-requestor`); without
/// it the test says so and passes.
fn nats_c_examples() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SLUICE_NATS_C_EXAMPLES")?);
    (dir.join("nats-replier").exists() && dir.join("nats-requestor").exists()).then_some(dir)
}

both!(
    fn nats_c_logs_in_with_a_creds_file(kind) {
        let Some(bin) = nats_c_examples() else {
            eprintln!("SLUICE_NATS_C_EXAMPLES not set: the nats.c .creds test is skipped");
            return;
        };
        let s = setup(kind, "nats-c");
        let user = UserFixture::new("c", &s.acc.key);
        let other = UserFixture::new("other", &s.acc.key);
        let good = s.dir.join("c.creds");
        std::fs::write(&good, user.creds()).unwrap();
        let bad = s.dir.join("bad.creds");
        std::fs::write(&bad, sluice_jwt_fixtures::creds(&user.jwt, &other.seed())).unwrap();
        let url = s.broker.url();
        let run = |prog: &str, creds: &std::path::Path| {
            let mut cmd = std::process::Command::new(bin.join(prog));
            cmd.args(["-s", &url, "-creds", creds.to_str().unwrap()])
                .args(["-subj", "c.req", "-print"]);
            // The replier answers until killed; the requestor sends one request.
            cmd.args(["-count", if prog == "nats-replier" { "1000" } else { "1" }]);
            cmd
        };
        let mut replier = run("nats-replier", &good)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("replier starts");
        // The replier's subscription is in place once a request gets an answer.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut out = String::new();
        while std::time::Instant::now() < deadline && !out.contains("Received reply") {
            let (_, o) = integration_tests::py::run_bounded(
                run("nats-requestor", &good),
                Duration::from_secs(10),
            );
            out = o;
        }
        let _ = replier.kill();
        let _ = replier.wait();
        assert!(out.contains("Received reply"), "{kind:?}: {out}");
        let (status, out) =
            integration_tests::py::run_bounded(run("nats-requestor", &bad), Duration::from_secs(10));
        assert!(
            !status.is_some_and(|s| s.success()) || out.contains("Authorization"),
            "{kind:?}: a bad .creds: {out}"
        );
        assert!(out.contains("Authorization Violation"), "{kind:?}: {out}");
    }
);

both!(
    /// JetStream in operator mode comes from the account JWT (`mem_storage`/`disk_storage`
    /// not 0), with its limits: here one stream at most. An account whose JWT does not enable
    /// it gets 10039.
    fn an_account_jwt_enables_jetstream_with_its_limits(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.jetstream = Some(sluice_jwt_fixtures::nats_jwt_rs::account::JetStreamLimits {
            memory_storage: Some(1 << 20),
            disk_storage: Some(1 << 20),
            streams: Some(1),
            consumer: Some(-1),
            ..Default::default()
        });
    });
    let plain = AccountFixture::new("B", &op.signing_key);
    let extra = [(plain.public_key(), plain.jwt.clone())];
    let s = start_with(kind, "js", op, acc, &extra, true);
    let request = |user: &UserFixture, subject: &str, body: &str| {
        let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
        assert_eq!(line, "PONG");
        raw.send(format!("SUB r 1\r\nPUB {subject} r {}\r\n{body}\r\n", body.len()).as_bytes());
        let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"}\r\n"));
        let got = String::from_utf8_lossy(&got).into_owned();
        let json = got.lines().nth(1).unwrap_or_default().to_owned();
        serde_json::from_str::<serde_json::Value>(&json).unwrap_or_else(|e| panic!("{e}: {got}"))
    };
    let alice = UserFixture::new("alice", &s.acc.key);
    let info = request(&alice, "$JS.API.INFO", "");
    assert_eq!(info["limits"]["max_streams"], 1, "{info}");
    assert_eq!(info["limits"]["max_memory"], 1 << 20, "{info}");
    let create = |name: &str| {
        let body = format!(r#"{{"name":"{name}","subjects":["{name}.>"],"storage":"memory"}}"#);
        request(&alice, &format!("$JS.API.STREAM.CREATE.{name}"), &body)
    };
    let first = create("S1");
    assert!(first["error"].is_null(), "{first}");
    let second = create("S2");
    assert_eq!(second["error"]["err_code"], 10027, "{second}");
    let bob = UserFixture::new("bob", &plain.key);
    let off = request(&bob, "$JS.API.INFO", "");
    assert_eq!(off["error"]["err_code"], 10039, "{off}");
    }
);

both!(
    /// An account JWT's `subs` and `payload` hold each connection of the account, the
    /// smaller of them and its user's winning (nats-server's `applyAccountLimits`): here the
    /// user sets none, the account 1 subscription and 8 bytes.
    fn account_subs_and_payload_limits_hold_each_connection(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        let nats = limits.nats.as_mut().unwrap();
        (nats.subs, nats.payload) = (Some(1), Some(8));
    });
    let s = start(kind, "acc-limits", op, acc, &[]);
    let user = UserFixture::new("u", &s.acc.key);
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let info = raw.read_line(Duration::from_secs(5)).unwrap_or_default();
    assert!(info.contains(r#""max_payload":8"#), "{info}");
    assert_eq!(
        until_pong(&mut raw, b"SUB a 1\r\nSUB b 2\r\nPUB a 8\r\n12345678\r\nPING\r\n"),
        "-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 8\r\n12345678\r\nPONG\r\n"
    );
    too_large(&mut raw, b"PUB a 9\r\n123456789\r\n");
    }
);

both!(
    /// An account JWT without `payload` (0, as both servers read it): its users may publish
    /// no payload at all.
    fn an_absent_account_payload_is_a_zero_limit(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.nats.as_mut().unwrap().payload = None;
    });
    let s = start(kind, "acc-zero-payload", op, acc, &[]);
    let user = UserFixture::new("u", &s.acc.key);
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    raw.send(b"PUB a 1\r\nx\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"Violation'\r\n"));
    let got = String::from_utf8_lossy(&got);
    assert!(got.contains(r#""max_payload":0"#), "{got}");
    assert!(got.ends_with("-ERR 'Maximum Payload Violation'\r\n"), "{got}");
    }
);

both!(
    /// An account update that lowers the account's `payload` holds the connections already
    /// open to it.
    fn an_account_update_lowers_the_payload_of_open_connections(kind) {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let s = start(kind, "acc-update-payload", op, acc, &[]);
    let user = UserFixture::new("u", &s.acc.key);
    let (mut raw, line) = login(&s, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let sys_user = UserFixture::new("s", &s.sys.key);
    let (mut sys, line) = login(&s, &sys_user.jwt, |n| Some(sys_user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let jwt = s.acc.reissue(&s.op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.nats.as_mut().unwrap().payload = Some(4);
    });
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", s.acc.public_key());
    sys.send(format!("SUB r 1\r\nPUB {subject} r {}\r\n{jwt}\r\n", jwt.len()).as_bytes());
    let reply = sys.read_until(Duration::from_secs(5), |b| b.ends_with(b"}\r\n"));
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.contains(r#""message":"jwt updated""#), "{reply}");
    // Up to 4 bytes still go; 5 do not.
    assert!(until_pong(&mut raw, b"PUB a 4\r\nabcd\r\nPING\r\n").ends_with("PONG\r\n"));
    raw.send(b"PUB a 5\r\nhello\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"Violation'\r\n"));
    let got = String::from_utf8_lossy(&got);
    assert!(got.ends_with("-ERR 'Maximum Payload Violation'\r\n"), "{got}");
    assert!(raw.is_closed(Duration::from_secs(2)), "closed");
    }
);
