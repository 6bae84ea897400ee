//! What can be wrong with a JWT, a `.creds` text or a login, and what nats-server 2.9.10 says
//! on the wire for each.

use super::claims::ClaimType;
use thiserror::Error;

/// Why a token, a `.creds` text or a login was refused. Messages name what failed, for logs;
/// clients get [`JwtError::wire_text`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    #[error("a JWT has 3 parts separated by '.', this has {0}")]
    Parts(usize),
    #[error("JWT {part} is not base64url")]
    Base64 { part: &'static str },
    #[error("JWT {part} is not valid JSON: {reason}")]
    Json { part: &'static str, reason: String },
    #[error("JWT header type {0:?} is not \"JWT\"")]
    HeaderType(String),
    #[error("JWT algorithm {0:?} is not \"ed25519-nkey\"")]
    Algorithm(String),
    #[error("JWT version {0} is not supported (only v2 tokens are)")]
    Version(i64),
    #[error("expected a {expected} JWT, got a {got} JWT")]
    ClaimType {
        expected: ClaimType,
        got: &'static str,
    },
    #[error("{what} {key:?} is not a valid {kind} public nkey")]
    KeyType {
        what: &'static str,
        key: String,
        kind: &'static str,
    },
    #[error("JWT signature does not verify against its issuer {issuer}")]
    Signature { issuer: String },
    #[error("{kind} JWT of {subject} expired at {expires} (now {now})")]
    Expired {
        kind: ClaimType,
        subject: String,
        expires: i64,
        now: i64,
    },
    #[error("{kind} JWT of {subject} is not valid before {not_before} (now {now})")]
    NotYetValid {
        kind: ClaimType,
        subject: String,
        not_before: i64,
        now: i64,
    },
    #[error("account {account} is signed by {issuer}, which no trusted operator lists")]
    UntrustedAccountIssuer { account: String, issuer: String },
    #[error("account {0} is not known (no account JWT for it)")]
    AccountNotFound(String),
    #[error("the account JWT looked up for {wanted} is about {got}")]
    AccountMismatch { wanted: String, got: String },
    #[error("user {user} is issued by {issuer}, which account {account} does not list")]
    UnknownUserIssuer {
        user: String,
        issuer: String,
        account: String,
    },
    #[error("user {user} is issued by scoped signing key {issuer} but sets its own permissions or limits")]
    ScopedUserHasPermissions { user: String, issuer: String },
    #[error("user {user} is a bearer token, which account {account} disallows")]
    BearerDisallowed { user: String, account: String },
    #[error("user {0} sent no nonce signature")]
    SignatureMissing(String),
    #[error("user {0}'s nonce signature is not base64")]
    SignatureEncoding(String),
    #[error("user {0}'s nonce signature does not verify")]
    NonceSignature(String),
    #[error("user {user} was revoked by account {account}")]
    Revoked { user: String, account: String },
    #[error("no user JWT")]
    MissingJwt,
    #[error(".creds text has no {0} block")]
    CredsBlock(&'static str),
    #[error(".creds seed is not a user nkey seed")]
    CredsSeed,
}

/// `-ERR 'Authorization Violation'`: what nats-server 2.9.10 answers every refused login in
/// operator mode (checked for each case in integration-tests/tests/jwt_nats_server.rs).
pub const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";
/// `-ERR 'User Authentication Expired'`: sent when a connected user's JWT reaches its `exp`,
/// before the connection is closed (a JWT already expired at CONNECT gets
/// [`AUTHORIZATION_VIOLATION`]).
pub const USER_AUTHENTICATION_EXPIRED: &str = "User Authentication Expired";
/// `-ERR 'User Authentication Revoked'`: sent to a connected user when an account update
/// revokes it, before the connection is closed (a revoked user logging in gets
/// [`AUTHORIZATION_VIOLATION`]).
pub const USER_AUTHENTICATION_REVOKED: &str = "User Authentication Revoked";

impl JwtError {
    /// The text inside `-ERR '...'` nats-server 2.9.10 sends for a login refused with this
    /// error: always `Authorization Violation` (the reason goes only to its debug log), then
    /// it closes the connection.
    pub fn wire_text(&self) -> &'static str {
        AUTHORIZATION_VIOLATION
    }
}
