//! verify_user / verify_account / verify_operator on the cases the nats-server differential
//! test (integration-tests/tests/jwt_nats_server.rs) puts to nats-server 2.9.10.

use super::*;
use sluice_jwt_fixtures::{
    now, swap_signature, AccountFixture, KeyPair, OperatorFixture, Permission, UserFixture,
};
use std::collections::HashMap;

const NONCE: &[u8] = b"nonce-from-info";

/// A trusted operator, account `A` signed by its signing key, and the resolver's map.
struct World {
    op: OperatorFixture,
    acc: AccountFixture,
    accounts: HashMap<String, String>,
    trusted: Vec<OperatorClaims>,
}

impl World {
    fn new() -> World {
        let op = OperatorFixture::new("OP");
        let acc = AccountFixture::new("A", &op.signing_key);
        World::with(op, acc)
    }

    fn with(op: OperatorFixture, acc: AccountFixture) -> World {
        let trusted = vec![verify_operator(&op.jwt).unwrap()];
        let accounts = [(acc.public_key(), acc.jwt.clone())].into_iter().collect();
        World {
            op,
            acc,
            accounts,
            trusted,
        }
    }

    fn login(&self, jwt: &str, sig: Option<&str>) -> Result<UserIdentity, JwtError> {
        self.login_at(jwt, sig, now())
    }

    fn login_at(&self, jwt: &str, sig: Option<&str>, at: i64) -> Result<UserIdentity, JwtError> {
        verify_user(
            Login {
                jwt,
                sig,
                nonce: NONCE,
            },
            |k| self.accounts.get(k).cloned(),
            &self.trusted,
            at,
        )
    }

    /// `user` logging in with its own key.
    fn user(&self, user: &UserFixture) -> Result<UserIdentity, JwtError> {
        self.login(&user.jwt, Some(&user.sign_nonce(NONCE)))
    }
}

#[test]
fn a_good_user_gets_its_account_and_permissions() {
    let w = World::new();
    let user = UserFixture::with("alice", &w.acc.key, |c| {
        c.nats.permissions.permissions.publish = Permission {
            allow: vec!["a.>".into()],
            deny: vec![],
        };
    });
    let id = w.user(&user).unwrap();
    assert_eq!(id.user, user.public_key());
    assert_eq!(id.account, w.acc.public_key());
    assert_eq!((id.name.as_str(), id.account_name.as_str()), ("alice", "A"));
    assert_eq!(id.signing_key, None);
    let perms = id.permissions.unwrap();
    assert_eq!(perms.publish.unwrap().allow, vec!["a.>"]);
    assert_eq!(perms.subscribe, None);
    assert_eq!((id.limits.subs, id.limits.payload), (-1, -1));
    assert!(!id.bearer_token);
    assert_eq!(id.expires, None);
}

#[test]
fn a_nonce_signed_by_another_key_or_not_at_all_is_refused() {
    let w = World::new();
    let user = UserFixture::new("u", &w.acc.key);
    let other = sluice_jwt_fixtures::sign_nonce(&KeyPair::new_user(), NONCE);
    let u = user.public_key();
    assert_eq!(
        w.login(&user.jwt, Some(&other)),
        Err(JwtError::NonceSignature(u.clone()))
    );
    let of_other_nonce = sluice_jwt_fixtures::sign_nonce(&user.key, b"another nonce");
    assert_eq!(
        w.login(&user.jwt, Some(&of_other_nonce)),
        Err(JwtError::NonceSignature(u.clone()))
    );
    assert_eq!(
        w.login(&user.jwt, None),
        Err(JwtError::SignatureMissing(u.clone()))
    );
    assert_eq!(
        w.login(&user.jwt, Some("not base64 at all!")),
        Err(JwtError::SignatureEncoding(u))
    );
}

#[test]
fn a_standard_base64_nonce_signature_is_accepted_as_nats_server_does() {
    use base64::Engine;
    let w = World::new();
    let user = UserFixture::new("u", &w.acc.key);
    let sig = base64::engine::general_purpose::STANDARD.encode(user.key.sign(NONCE).unwrap());
    assert!(w.login(&user.jwt, Some(&sig)).is_ok());
}

#[test]
fn a_jwt_with_a_signature_of_other_claims_is_refused() {
    let w = World::new();
    let user = UserFixture::new("u", &w.acc.key);
    let other = UserFixture::new("v", &w.acc.key);
    let forged = swap_signature(&user.jwt, &other.jwt);
    assert!(matches!(
        w.login(&forged, Some(&user.sign_nonce(NONCE))),
        Err(JwtError::Signature { .. })
    ));
}

#[test]
fn expiry_and_not_before_are_checked_against_the_given_time() {
    let w = World::new();
    let t = now();
    let user = UserFixture::with("u", &w.acc.key, |c| {
        c.exp = Some(t + 100);
        c.nbf = Some(t - 100);
    });
    let sig = user.sign_nonce(NONCE);
    assert_eq!(
        w.login_at(&user.jwt, Some(&sig), t).unwrap().expires,
        Some(t + 100)
    );
    assert!(
        w.login_at(&user.jwt, Some(&sig), t + 100).is_ok(),
        "valid at exp itself"
    );
    assert!(matches!(
        w.login_at(&user.jwt, Some(&sig), t + 101),
        Err(JwtError::Expired {
            kind: ClaimType::User,
            ..
        })
    ));
    assert!(
        w.login_at(&user.jwt, Some(&sig), t - 100).is_ok(),
        "valid at nbf itself"
    );
    assert!(matches!(
        w.login_at(&user.jwt, Some(&sig), t - 101),
        Err(JwtError::NotYetValid {
            kind: ClaimType::User,
            ..
        })
    ));
}

#[test]
fn an_expired_account_refuses_its_users() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| c.exp = Some(now() - 1));
    let w = World::with(op, acc);
    let user = UserFixture::new("u", &w.acc.key);
    assert!(matches!(
        w.user(&user),
        Err(JwtError::Expired {
            kind: ClaimType::Account,
            ..
        })
    ));
}

#[test]
fn revoked_users_are_refused() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::new("A", &op.signing_key);
    let revoked = UserFixture::new("revoked", &acc.key);
    let kept = UserFixture::new("kept", &acc.key);
    let iat = decode_user(&revoked.jwt).unwrap().claims.issued_at;
    let jwt = acc.reissue(&op.signing_key, |c| {
        c.nats.revocations = Some([(revoked.public_key(), iat as u64)].into_iter().collect());
    });
    let w = World::with(op, AccountFixture { jwt, ..acc });
    assert_eq!(
        w.user(&revoked),
        Err(JwtError::Revoked {
            user: revoked.public_key(),
            account: w.acc.public_key()
        })
    );
    assert!(w.user(&kept).is_ok());

    // Revoked before it was issued: not revoked.
    let jwt = w.acc.reissue(&w.op.signing_key, |c| {
        c.nats.revocations = Some([(kept.public_key(), iat as u64 - 1)].into_iter().collect());
    });
    let w = World::with(w.op, AccountFixture { jwt, ..w.acc });
    assert!(w.user(&kept).is_ok());

    // "*" revokes everyone issued at or before its time.
    let jwt = w.acc.reissue(&w.op.signing_key, |c| {
        c.nats.revocations = Some([("*".to_string(), iat as u64)].into_iter().collect());
    });
    let w = World::with(w.op, AccountFixture { jwt, ..w.acc });
    assert!(matches!(w.user(&kept), Err(JwtError::Revoked { .. })));
}

#[test]
fn a_user_of_an_unknown_or_unlisted_key_is_refused() {
    let w = World::new();
    let stranger = KeyPair::new_account();
    let user = UserFixture::new("u", &stranger);
    assert_eq!(
        w.user(&user),
        Err(JwtError::AccountNotFound(stranger.public_key()))
    );
    let acc_pub = w.acc.public_key();
    let user = UserFixture::with("u", &stranger, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert!(matches!(
        w.user(&user),
        Err(JwtError::UnknownUserIssuer { .. })
    ));
}

#[test]
fn a_signing_key_user_names_its_account() {
    let w = World::new();
    let acc_pub = w.acc.public_key();
    let user = UserFixture::with("sk", &w.acc.signing_key, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    let id = w.user(&user).unwrap();
    assert_eq!(id.account, acc_pub);
    assert_eq!(id.signing_key, Some(w.acc.signing_key.public_key()));
    // Without issuer_account the signing key is taken for an account, which is not known.
    let unnamed = UserFixture::new("sk", &w.acc.signing_key);
    assert!(matches!(
        w.user(&unnamed),
        Err(JwtError::AccountNotFound(_))
    ));
    // The account's own key with issuer_account set: accepted, as nats-server 2.9.10 does.
    let own = UserFixture::with("own", &w.acc.key, |c| {
        c.nats.issuer_account = Some(acc_pub.clone())
    });
    assert_eq!(w.user(&own).unwrap().signing_key, None);
    // issuer_account must be an account key.
    let bad = UserFixture::with("bad", &w.acc.key, |c| {
        c.nats.issuer_account = Some(KeyPair::new_user().public_key())
    });
    assert!(matches!(
        w.user(&bad),
        Err(JwtError::KeyType {
            what: "issuer_account",
            ..
        })
    ));
}

#[test]
fn an_account_of_a_foreign_operator_is_refused() {
    let w = World::new();
    let foreign = OperatorFixture::new("FOREIGN");
    let b = AccountFixture::new("B", &foreign.signing_key);
    let mut w = w;
    w.accounts.insert(b.public_key(), b.jwt.clone());
    let user = UserFixture::new("u", &b.key);
    assert_eq!(
        w.user(&user),
        Err(JwtError::UntrustedAccountIssuer {
            account: b.public_key(),
            issuer: foreign.signing_key.public_key()
        })
    );
    // The lookup answering with another account's JWT is caught too.
    w.accounts.insert(b.public_key(), w.acc.jwt.clone());
    assert!(matches!(
        w.user(&user),
        Err(JwtError::AccountMismatch { .. })
    ));
}

#[test]
fn strict_signing_key_usage_refuses_accounts_signed_by_the_operator_identity() {
    let op = OperatorFixture::with("OP", |c| c.nats.strict_signing_key_usage = Some(true));
    let acc = AccountFixture::new("A", &op.key);
    let w = World::with(op, acc);
    let user = UserFixture::new("u", &w.acc.key);
    assert!(matches!(
        w.user(&user),
        Err(JwtError::UntrustedAccountIssuer { .. })
    ));
}

#[test]
fn a_bearer_token_user_needs_no_signature_unless_the_account_disallows_it() {
    let w = World::new();
    let bearer = UserFixture::with("b", &w.acc.key, |c| {
        c.nats.permissions.bearer_token = Some(true)
    });
    let id = w.login(&bearer.jwt, None).unwrap();
    assert!(id.bearer_token);
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        c.nats
            .limits
            .as_mut()
            .unwrap()
            .account
            .as_mut()
            .unwrap()
            .disallow_bearer = Some(true)
    });
    let w = World::with(op, acc);
    let bearer = UserFixture::with("b", &w.acc.key, |c| {
        c.nats.permissions.bearer_token = Some(true)
    });
    assert!(matches!(
        w.login(&bearer.jwt, None),
        Err(JwtError::BearerDisallowed { .. })
    ));
}

#[test]
fn users_without_permissions_get_the_accounts_defaults() {
    let op = OperatorFixture::new("OP");
    let acc = AccountFixture::with("A", &op.signing_key, |c| {
        c.nats.default_permissions.as_mut().unwrap().publish = Permission {
            allow: vec!["d.>".into()],
            deny: vec![],
        };
    });
    let w = World::with(op, acc);
    let plain = UserFixture::new("plain", &w.acc.key);
    let perms = w.user(&plain).unwrap().permissions.unwrap();
    assert_eq!(perms.publish.unwrap().allow, vec!["d.>"]);
    let own = UserFixture::with("own", &w.acc.key, |c| {
        c.nats.permissions.permissions.subscribe.allow = vec!["s".into()]
    });
    let perms = w.user(&own).unwrap().permissions.unwrap();
    assert_eq!(
        perms.publish, None,
        "the user's own permissions replace the defaults"
    );
}

#[test]
fn an_operator_jwt_is_trusted_even_expired_or_not_self_signed_as_nats_server_does() {
    let op = OperatorFixture::with("OP", |c| c.exp = Some(now() - 1));
    let claims = verify_operator(&op.jwt).unwrap();
    let mut edited: sluice_jwt_fixtures::Claims<sluice_jwt_fixtures::Operator> =
        sluice_jwt_fixtures::Claims::decode(&op.jwt).unwrap();
    edited.exp = None;
    let other = KeyPair::new_operator();
    let not_self = verify_operator(&edited.encode(&other).unwrap()).unwrap();
    assert_eq!(not_self.public_key(), claims.public_key());
    assert_eq!(not_self.claims.issuer, other.public_key());
    // Its accounts are trusted.
    let acc = AccountFixture::new("A", &op.signing_key);
    assert!(verify_account(&acc.jwt, &[not_self], now()).is_ok());
    // An account JWT is no operator JWT; a bad signing key is refused.
    let w = World::new();
    assert!(matches!(
        verify_operator(&w.acc.jwt),
        Err(JwtError::ClaimType { .. })
    ));
    let bad = OperatorFixture::with("B", |c| {
        c.nats.signing_keys = Some(vec!["ANOTANOPERATOR".into()])
    });
    assert!(matches!(
        verify_operator(&bad.jwt),
        Err(JwtError::KeyType {
            what: "operator signing key",
            ..
        })
    ));
}

#[test]
fn every_refusal_reads_authorization_violation_on_the_wire() {
    let w = World::new();
    let user = UserFixture::new("u", &w.acc.key);
    let err = w.login(&user.jwt, None).unwrap_err();
    assert_eq!(err.wire_text(), "Authorization Violation");
    assert_eq!(
        err.to_string(),
        format!("user {} sent no nonce signature", user.public_key())
    );
    assert_eq!(w.login("", None), Err(JwtError::MissingJwt));
}
