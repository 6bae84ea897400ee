//! [`decide`] on the cases nats-server 2.9.10 answers (jwt_login.rs puts the same requests
//! to both servers over the wire).

use super::*;
use sluice_jwt_fixtures::{AccountFixture, OperatorFixture};

fn trust(op: &OperatorFixture, accounts: &[&AccountFixture]) -> JwtAuth {
    JwtAuth {
        operators: vec![op.jwt.clone()],
        accounts: accounts
            .iter()
            .map(|a| (a.public_key(), a.jwt.clone()))
            .collect(),
        resolver_dir: None,
    }
}

fn now() -> i64 {
    sluice_jwt_fixtures::now()
}

fn subject(key: &str) -> String {
    format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE")
}

#[test]
fn a_new_jwt_of_a_known_account_from_a_trusted_key_is_an_update() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let t = trust(&op, &[&acc]);
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([("UABC".to_owned(), 5)].into_iter().collect());
    });
    let key = acc.public_key();
    let want = Verdict::Update {
        key: key.clone(),
        jwt: jwt.clone(),
    };
    assert_eq!(decide(&subject(&key), jwt.as_bytes(), &t, now()), want);
    // The older subject, and the full resolver's (the key from the JWT).
    let old = format!("$SYS.ACCOUNT.{key}.CLAIMS.UPDATE");
    assert_eq!(decide(&old, jwt.as_bytes(), &t, now()), want);
    assert_eq!(
        decide("$SYS.REQ.CLAIMS.UPDATE", jwt.as_bytes(), &t, now()),
        want
    );
}

#[test]
fn bad_requests_are_refused_with_nats_servers_messages() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let other = AccountFixture::new("B", &op.signing_key);
    let t = trust(&op, &[&acc]);
    let key = acc.public_key();
    let refused = |v: Verdict| match v {
        Verdict::Refused { key, message, .. } => (key, message),
        v => panic!("not refused: {v:?}"),
    };
    assert_eq!(
        refused(decide(&subject(&key), b"", &t, now())),
        (key.clone(), "jwt update error")
    );
    assert_eq!(
        refused(decide(&subject(&key), b"not a jwt", &t, now())),
        (key.clone(), "jwt update resulted in error")
    );
    // B's JWT sent to A's subject.
    let v = decide(&subject(&key), other.jwt.as_bytes(), &t, now());
    assert_eq!(
        v,
        Verdict::Refused {
            key: key.clone(),
            message: "jwt update resulted in error",
            error: "subject does not match jwt content".into(),
        }
    );
    // Signed by a key no trusted operator lists.
    let rogue = OperatorFixture::new("ROGUE");
    let forged = acc.reissue(&rogue.signing_key, |_| {});
    assert_eq!(
        refused(decide(&subject(&key), forged.as_bytes(), &t, now())).1,
        "jwt update resulted in error"
    );
}

#[test]
fn an_account_this_server_does_not_have_is_skipped() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let other = AccountFixture::new("B", &op.signing_key);
    let t = trust(&op, &[&acc]);
    let key = other.public_key();
    assert_eq!(
        decide(&subject(&key), other.jwt.as_bytes(), &t, now()),
        Verdict::Skipped { key }
    );
}

#[test]
fn what_sluice_does_not_serve_at_runtime_is_refused() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let t = trust(&op, &[&acc]);
    let key = acc.public_key();
    // Finite account limits: not served at startup either.
    let limited = acc.reissue(&op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.account.as_mut().unwrap().conn = Some(5);
    });
    match decide(&subject(&key), limited.as_bytes(), &t, now()) {
        Verdict::Refused { error, .. } => assert!(error.contains("conn 5"), "{error}"),
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_change_of_jetstream_limits_is_refused_at_runtime() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let t = trust(&op, &[&acc]);
    let key = acc.public_key();
    let with_js = acc.reissue(&op.signing_key, |c| {
        let limits = c.nats.limits.as_mut().unwrap();
        limits.jetstream = Some(sluice_jwt_fixtures::nats_jwt_rs::account::JetStreamLimits {
            disk_storage: Some(1 << 20),
            ..Default::default()
        });
    });
    match decide(&subject(&key), with_js.as_bytes(), &t, now()) {
        Verdict::Refused { error, .. } => assert!(error.contains("JetStream"), "{error}"),
        v => panic!("{v:?}"),
    }
}
