//! Test fixtures for NATS operator mode: operator, account and user JWTs and `.creds` text,
//! made at test time with fresh nkeys.
//!
//! The JWTs are written by [`nats_jwt_rs`] (wasmCloud's port of nats-io/jwt's Go package), an
//! independent writer: the decoder in `sluice_server::jwt` is checked against tokens it did not
//! produce, and `integration-tests/tests/jwt_nats_server.rs` checks that nats-server 2.9.10
//! accepts them. That crate stamps `iat` with the current time and `iss` with the signing key,
//! as nsc does; everything else is set through the closures below ([`Claims`] is re-exported).
//!
//! A crate of its own rather than a module of sluice-server: the broker never depends on a JWT
//! writer, and the integration tests can use these without building sluice-server a second
//! time with a test feature on.
//!
//! Owns: making keys, claims and tokens for tests. Must never: be a dependency of a crate
//! that ships (it is `publish = false` and only ever a dev-dependency or a test crate's).

pub use nats_jwt_rs;
pub use nats_jwt_rs::account::Account;
pub use nats_jwt_rs::operator::Operator;
pub use nats_jwt_rs::types::{Permission, Permissions, ResponsePermission, SigningKey};
pub use nats_jwt_rs::user::User;
pub use nats_jwt_rs::Claims;
pub use nkeys::KeyPair;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Seconds since the Unix epoch, now (the time `iat` gets).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// An operator: its identity key, one signing key (listed in its JWT), and its self-signed JWT.
pub struct OperatorFixture {
    pub key: KeyPair,
    pub signing_key: KeyPair,
    pub jwt: String,
}

impl OperatorFixture {
    /// A self-signed operator JWT listing one fresh signing key.
    pub fn new(name: &str) -> OperatorFixture {
        OperatorFixture::with(name, |_| {})
    }

    /// Like [`OperatorFixture::new`], with `edit` applied to the claims before signing.
    pub fn with(name: &str, edit: impl FnOnce(&mut Claims<Operator>)) -> OperatorFixture {
        let key = KeyPair::new_operator();
        let signing_key = KeyPair::new_operator();
        let mut claims = Operator::new_claims(name.into(), key.public_key());
        claims.nats.signing_keys = Some(vec![signing_key.public_key()]);
        edit(&mut claims);
        let jwt = claims.encode(&key).expect("encode operator JWT");
        OperatorFixture {
            key,
            signing_key,
            jwt,
        }
    }

    /// The operator's public key (`O...`).
    pub fn public_key(&self) -> String {
        self.key.public_key()
    }
}

/// An account: its identity key, one signing key (listed in its JWT), and its JWT.
pub struct AccountFixture {
    pub key: KeyPair,
    pub signing_key: KeyPair,
    pub jwt: String,
}

impl AccountFixture {
    /// An account JWT signed by `signer` (an operator key), listing one fresh signing key,
    /// with nsc's default limits (all -1: unlimited).
    pub fn new(name: &str, signer: &KeyPair) -> AccountFixture {
        AccountFixture::with(name, signer, |_| {})
    }

    /// Like [`AccountFixture::new`], with `edit` applied to the claims before signing.
    pub fn with(
        name: &str,
        signer: &KeyPair,
        edit: impl FnOnce(&mut Claims<Account>),
    ) -> AccountFixture {
        let key = KeyPair::new_account();
        let signing_key = KeyPair::new_account();
        let claims = Account::new_claims(name.into(), key.public_key());
        let mut claims = claims;
        claims.nats.signing_keys = Some(
            [SigningKey {
                key: signing_key.public_key(),
                scope: None,
            }]
            .into_iter()
            .collect(),
        );
        edit(&mut claims);
        let jwt = claims.encode(signer).expect("encode account JWT");
        AccountFixture {
            key,
            signing_key,
            jwt,
        }
    }

    /// Re-signs this account's claims (same keys) with `edit` applied: a newer version of the
    /// account JWT, e.g. with a revocation added.
    pub fn reissue(&self, signer: &KeyPair, edit: impl FnOnce(&mut Claims<Account>)) -> String {
        let mut claims: Claims<Account> =
            Claims::decode(&self.jwt).expect("decode our own account JWT");
        edit(&mut claims);
        claims.encode(signer).expect("encode account JWT")
    }

    /// The account's public key (`A...`).
    pub fn public_key(&self) -> String {
        self.key.public_key()
    }
}

/// A user: its key and its JWT.
pub struct UserFixture {
    pub key: KeyPair,
    pub jwt: String,
}

impl UserFixture {
    /// A user JWT signed by `signer` (the account's identity key; for a signing key, set
    /// `issuer_account` with [`UserFixture::with`]), with nsc's default limits (-1).
    pub fn new(name: &str, signer: &KeyPair) -> UserFixture {
        UserFixture::with(name, signer, |_| {})
    }

    /// Like [`UserFixture::new`], with `edit` applied to the claims before signing.
    pub fn with(name: &str, signer: &KeyPair, edit: impl FnOnce(&mut Claims<User>)) -> UserFixture {
        let key = KeyPair::new_user();
        let mut claims = User::new_claims(name.into(), key.public_key());
        edit(&mut claims);
        let jwt = claims.encode(signer).expect("encode user JWT");
        UserFixture { key, jwt }
    }

    /// The user's public key (`U...`).
    pub fn public_key(&self) -> String {
        self.key.public_key()
    }

    /// The user's seed (`SU...`).
    pub fn seed(&self) -> String {
        self.key.seed().expect("a user key made here has its seed")
    }

    /// This user's `.creds` text.
    pub fn creds(&self) -> String {
        creds(&self.jwt, &self.seed())
    }

    /// The nonce signature a client sends in CONNECT's `sig`: base64url without padding.
    pub fn sign_nonce(&self, nonce: &[u8]) -> String {
        sign_nonce(&self.key, nonce)
    }
}

/// `nonce` signed with `key`, base64url without padding, as nats clients send it.
pub fn sign_nonce(key: &KeyPair, nonce: &[u8]) -> String {
    let sig = key.sign(nonce).expect("sign with a key that has its seed");
    base64url(&sig)
}

/// Base64url without padding (JWT segments and nonce signatures).
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `.creds` text as nsc writes it: the JWT block, then the seed block, with nsc's notice.
pub fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// `jwt` with the signature of `other` in place of its own: a token whose signature does not
/// match its header and claims.
pub fn swap_signature(jwt: &str, other: &str) -> String {
    let (signed, _) = jwt.rsplit_once('.').expect("a JWT has three parts");
    let (_, sig) = other.rsplit_once('.').expect("a JWT has three parts");
    format!("{signed}.{sig}")
}

/// `jwt` with its claims segment replaced by `claims` (JSON), base64url-encoded, and the
/// original signature kept: what a forger who edits claims produces.
pub fn replace_claims(jwt: &str, claims: &serde_json::Value) -> String {
    let mut parts = jwt.split('.');
    let header = parts.next().expect("header");
    let sig = parts.nth(1).expect("signature");
    let body = base64url(claims.to_string().as_bytes());
    format!("{header}.{body}.{sig}")
}

/// The claims of `jwt` as JSON (no verification).
pub fn claims_json(jwt: &str) -> serde_json::Value {
    let body = jwt.split('.').nth(1).expect("claims segment");
    let bytes = base64url_decode(body);
    serde_json::from_slice(&bytes).expect("claims JSON")
}

fn base64url_decode(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_jwt_names_its_key_and_issuer() {
        let op = OperatorFixture::new("op");
        let acc = AccountFixture::new("acc", &op.signing_key);
        let user = UserFixture::new("u", &acc.key);
        let claims = claims_json(&user.jwt);
        assert_eq!(claims["sub"], user.public_key());
        assert_eq!(claims["iss"], acc.public_key());
        assert_eq!(claims["nats"]["type"], "user");
        assert!(user.creds().contains(&user.seed()));
    }
}
