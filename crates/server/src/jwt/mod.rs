//! NATS JWTs for operator mode (nats-server's `operator:` / `resolver:` configuration): decode
//! operator, account and user JWTs (v2) into typed claims, verify them (signature, key types,
//! `exp`/`nbf`, the issuer chain operator -> account -> user through signing keys, revocations,
//! the nonce signature or a bearer token), turn a verified user into a [`UserIdentity`] the
//! server can bind to an account, and read `.creds` text. Checked against nats-server 2.9.10
//! (integration-tests/tests/jwt_nats_server.rs; protocol-spec/jwt.md lists the fields, the
//! checks and the texts nats-server sends).
//!
//! Owns: the token format, the claim types, the verification rules, and the mapping of every
//! refusal to the text nats-server puts on the wire ([`JwtError::wire_text`]).
//!
//! Must never: do I/O (no files, no sockets; the caller reads the operator file and resolves
//! account JWTs and passes a lookup), read the clock (the caller passes `now`, Unix seconds),
//! or keep state: the same inputs give the same answer. Not wired into authentication yet.
//!
//! The call a login makes:
//!
//! ```ignore
//! let ops = vec![jwt::verify_operator(&operator_jwt)?];
//! let who = jwt::verify_user(
//!     jwt::Login { jwt: &connect.jwt, sig: connect.sig.as_deref(), nonce: nonce.as_bytes() },
//!     |account| resolver.get(account),
//!     &ops,
//!     now,
//! )?; // Err(e): send `-ERR '{e.wire_text()}'` and close; log `e`.
//! ```
//!
//! Files: `claims` (common, operator and user claims), `account` (account claims), `decode`
//! (token -> claims, signature), `verify` (times, chain, revocation, nonce), `identity`
//! (the result, permissions conversion), `creds` (.creds text), `error`.

mod account;
mod claims;
mod creds;
mod decode;
mod error;
mod identity;
mod served;
mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_verify;

pub use account::{
    Account, AccountClaims, AccountLimits, Export, Import, JetStreamLimits, SigningKey, UserScope,
    REVOKE_ALL,
};
pub use claims::{
    ClaimType, ClaimsData, GenericFields, NatsLimits, Operator, OperatorClaims, Permission,
    Permissions, ResponsePermission, TimeRange, User, UserClaims, UserLimits, UserPermissionLimits,
};
pub use creds::{parse_creds, parse_decorated_jwt, Creds};
pub use decode::{decode_account, decode_operator, decode_user};
pub use error::{
    JwtError, AUTHORIZATION_VIOLATION, USER_AUTHENTICATION_EXPIRED, USER_AUTHENTICATION_REVOKED,
};
pub use identity::{to_config_permissions, UserIdentity};
pub use served::{account_config, account_jetstream};
pub use verify::{
    check_nonce_signature, check_times, verify_account, verify_operator, verify_user, Login,
};

/// Is `key` a well-formed public account nkey (`A...`, checksum included)?
pub fn is_account_key(key: &str) -> bool {
    decode::KeyKind::Account.is_valid(key)
}
