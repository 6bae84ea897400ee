//! Operator mode (NATS JWTs) against the reference, nats-server 2.9.10: an operator, a system
//! account, an account and users are made at test time (sluice-jwt-fixtures, written by a
//! third-party JWT writer), nats-server is started with `operator:`, `system_account:`,
//! `resolver: MEMORY` and `resolver_preload:`, and each case is put to it: a good user logs in
//! and is held to its permissions; a bad signature, an expired, not-yet-valid or revoked user,
//! a user of an untrusted key or an account of a foreign operator are refused. The exact texts
//! nats-server sends are asserted here and documented in protocol-spec/jwt.md; Sluice's
//! `sluice_server::jwt` is unit-tested on the same cases (crates/server/src/jwt/tests*.rs).
//! Sluice does not serve operator mode yet, so only the nats-server half runs.

use integration_tests::raw::Raw;
use integration_tests::{skip_without_nats_server, Broker};
use sluice_jwt_fixtures::{now, AccountFixture, KeyPair, OperatorFixture, Permission, UserFixture};
use std::path::PathBuf;
use std::time::Duration;

const VIOLATION: &str = "-ERR 'Authorization Violation'";

/// The operator, its system account and account `A` (signed by the operator's signing key),
/// and nats-server trusting them.
struct Setup {
    op: OperatorFixture,
    acc: AccountFixture,
    broker: Broker,
    dir: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts nats-server trusting `op`, with `accounts` (public key, JWT) preloaded besides the
/// system account; `acc` is the account the tests' users belong to.
fn start(tag: &str, op: OperatorFixture, acc: AccountFixture, extra: &[(String, String)]) -> Setup {
    let sys = AccountFixture::new("SYS", &op.signing_key);
    let dir = std::env::temp_dir().join(format!("sluice-jwt-{tag}-{}", std::process::id()));
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
    let conf = format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n",
        op_file.display(),
        sys.public_key()
    );
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let broker = Broker::nats_server(&["-c", path.to_str().unwrap()]);
    Setup {
        op,
        acc,
        broker,
        dir,
    }
}

fn setup(tag: &str) -> Setup {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    start(tag, op, acc, &[])
}

/// Sends CONNECT with `jwt` and `sig` (if any) and a PING; the first line answered.
fn login(
    addr: std::net::SocketAddr,
    jwt: &str,
    sig: impl FnOnce(&[u8]) -> Option<String>,
) -> (Raw, String) {
    let (mut raw, info) = Raw::connect(addr);
    let nonce = info["nonce"]
        .as_str()
        .expect("INFO has a nonce in operator mode");
    let mut connect = serde_json::json!({
        "verbose": false, "pedantic": false, "protocol": 1, "jwt": jwt,
    });
    if let Some(s) = sig(nonce.as_bytes()) {
        connect["sig"] = s.into();
    }
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let line = raw.read_line(Duration::from_secs(5)).unwrap_or_default();
    (raw, line)
}

/// The answer to a login as `user`, signing the nonce with its own key.
fn answer(s: &Setup, user: &UserFixture) -> String {
    login(s.broker.addr, &user.jwt, |n| Some(user.sign_nonce(n))).1
}

fn skip() -> bool {
    skip_without_nats_server()
}

#[test]
fn a_good_user_logs_in_and_is_held_to_its_permissions() {
    if skip() {
        return;
    }
    let s = setup("good");
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
    let (mut raw, line) = login(s.broker.addr, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    raw.send(b"SUB a.x 1\r\nPUB a.x 2\r\nhi\r\nPING\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
    assert_eq!(
        got,
        b"MSG a.x 1 2\r\nhi\r\nPONG\r\n",
        "{}",
        String::from_utf8_lossy(&got)
    );
    raw.send(b"PUB b.x 0\r\n\r\nPUB a.secret 0\r\n\r\nSUB b.> 2\r\nPING\r\n");
    let got = raw.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
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

#[test]
fn a_signature_by_another_key_is_refused() {
    if skip() {
        return;
    }
    let s = setup("badsig");
    let user = UserFixture::new("u", &s.acc.key);
    let other = KeyPair::new_user();
    let (_, line) = login(s.broker.addr, &user.jwt, |n| {
        Some(sluice_jwt_fixtures::sign_nonce(&other, n))
    });
    assert_eq!(line, VIOLATION);
    let (_, line) = login(s.broker.addr, &user.jwt, |_| None);
    assert_eq!(line, VIOLATION, "no signature at all");
}

#[test]
fn a_jwt_whose_signature_does_not_match_is_refused() {
    if skip() {
        return;
    }
    let s = setup("forged");
    let user = UserFixture::new("u", &s.acc.key);
    let other = UserFixture::new("v", &s.acc.key);
    let forged = sluice_jwt_fixtures::swap_signature(&user.jwt, &other.jwt);
    let (_, line) = login(s.broker.addr, &forged, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, VIOLATION);
}

#[test]
fn expired_and_not_yet_valid_users_are_refused() {
    if skip() {
        return;
    }
    let s = setup("time");
    let expired = UserFixture::with("old", &s.acc.key, |c| c.exp = Some(now() - 10));
    assert_eq!(answer(&s, &expired), VIOLATION);
    let early = UserFixture::with("early", &s.acc.key, |c| c.nbf = Some(now() + 3600));
    assert_eq!(answer(&s, &early), VIOLATION);
}

#[test]
fn a_user_whose_jwt_expires_while_connected_is_told_and_closed() {
    if skip() {
        return;
    }
    let s = setup("expiring");
    let user = UserFixture::with("soon", &s.acc.key, |c| c.exp = Some(now() + 2));
    let (mut raw, line) = login(s.broker.addr, &user.jwt, |n| Some(user.sign_nonce(n)));
    assert_eq!(line, "PONG");
    let got = raw.read_until(Duration::from_secs(6), |b| b.ends_with(b"\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR 'User Authentication Expired'\r\n"
    );
    assert!(raw.is_closed(Duration::from_secs(2)));
}

#[test]
fn a_revoked_user_is_refused() {
    if skip() {
        return;
    }
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let revoked = UserFixture::new("revoked", &acc.key);
    let kept = UserFixture::new("kept", &acc.key);
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([(revoked.public_key(), now() as u64)].into_iter().collect());
    });
    let acc = AccountFixture { jwt, ..acc };
    let s = start("revoked", op, acc, &[]);
    assert_eq!(answer(&s, &revoked), VIOLATION);
    assert_eq!(answer(&s, &kept), "PONG");
}

#[test]
fn revoking_everyone_refuses_users_issued_before() {
    if skip() {
        return;
    }
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let user = UserFixture::new("u", &acc.key);
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([("*".to_string(), now() as u64)].into_iter().collect());
    });
    let acc = AccountFixture { jwt, ..acc };
    let s = start("revoke-all", op, acc, &[]);
    assert_eq!(answer(&s, &user), VIOLATION);
}

#[test]
fn a_user_of_a_signing_key_names_its_account() {
    if skip() {
        return;
    }
    let s = setup("signing-key");
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
    eprintln!("identity key with issuer_account: {}", answer(&s, &own));
}

#[test]
fn a_user_of_an_unknown_account_is_refused() {
    if skip() {
        return;
    }
    let s = setup("unknown-account");
    let stranger = KeyPair::new_account();
    let user = UserFixture::new("u", &stranger);
    assert_eq!(answer(&s, &user), VIOLATION);
}

#[test]
fn an_account_of_a_foreign_operator_is_refused() {
    if skip() {
        return;
    }
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let foreign = OperatorFixture::new("FOREIGN");
    let b = AccountFixture::new("B", &foreign.signing_key);
    let user = UserFixture::new("u", &b.key);
    let s = start("foreign", op, acc, &[(b.public_key(), b.jwt.clone())]);
    assert_eq!(answer(&s, &user), VIOLATION);
    let _ = &s.op;
}

#[test]
fn a_bearer_token_user_needs_no_signature() {
    if skip() {
        return;
    }
    let s = setup("bearer");
    let bearer = UserFixture::with("bearer", &s.acc.key, |c| {
        c.nats.permissions.bearer_token = Some(true)
    });
    let (_, line) = login(s.broker.addr, &bearer.jwt, |_| None);
    assert_eq!(line, "PONG");
}

#[test]
fn probe() {
    if skip() {
        return;
    }
    let s = setup("probe");
    let user = UserFixture::new("u", &s.acc.key);
    let (_, line) = login(s.broker.addr, "", |_| None);
    eprintln!("no jwt: {line}");
    let padded = {
        let mut p: Vec<String> = user.jwt.split('.').map(str::to_owned).collect();
        while p[1].len() % 4 != 0 {
            p[1].push('=');
        }
        p.join(".")
    };
    let (_, line) = login(s.broker.addr, &padded, |n| Some(user.sign_nonce(n)));
    eprintln!("padded claims: {line}");
    use base64::Engine;
    let (_, line) = login(s.broker.addr, &user.jwt, |n| {
        Some(base64::engine::general_purpose::STANDARD.encode(user.key.sign(n).unwrap()))
    });
    eprintln!("std base64 sig: {line}");
    let no_limits = UserFixture::with("nolimits", &s.acc.key, |c| c.nats.permissions.limits = None);
    let (mut raw, line) = login(s.broker.addr, &no_limits.jwt, |n| {
        Some(no_limits.sign_nonce(n))
    });
    raw.send(b"SUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n");
    let got = raw.read_until(Duration::from_secs(3), |b| b.ends_with(b"PONG\r\n"));
    eprintln!("no limits: {line} then {}", String::from_utf8_lossy(&got));
    let exp_acc_op = &s.op;
    let _ = exp_acc_op;
}
