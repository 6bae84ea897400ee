//! Verification: times against a given `now`, the issuer chain (operator -> account -> user,
//! directly or through signing keys), revocations and the nonce signature. Pure: the caller
//! passes the time, the trusted operators and a lookup of account JWTs.

use super::account::{AccountClaims, UserScope};
use super::claims::{ClaimType, ClaimsData, OperatorClaims, UserPermissionLimits};
use super::decode::{decode_account, decode_operator, decode_user, KeyKind};
use super::error::JwtError;
use super::identity::{to_config_permissions, UserIdentity};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Refuses claims expired at `now` (`now > exp`, `exp` 0 for never) or not valid yet
/// (`nbf > now`), as nats-io/jwt's `ClaimsData.Validate`.
pub fn check_times(kind: ClaimType, c: &ClaimsData, now: i64) -> Result<(), JwtError> {
    if c.expires > 0 && now > c.expires {
        return Err(JwtError::Expired {
            kind,
            subject: c.subject.clone(),
            expires: c.expires,
            now,
        });
    }
    if c.not_before > 0 && c.not_before > now {
        return Err(JwtError::NotYetValid {
            kind,
            subject: c.subject.clone(),
            not_before: c.not_before,
            now,
        });
    }
    Ok(())
}

/// Decodes a trusted operator's JWT (the config's `operator`): its signature by its `iss`
/// (an operator key) and its signing keys being operator keys. As nats-server 2.9.10, neither
/// self-signing (`iss == sub`) nor `exp`/`nbf` is required of it: the config trusts it.
pub fn verify_operator(token: &str) -> Result<OperatorClaims, JwtError> {
    let op = decode_operator(token)?;
    for k in &op.nats.signing_keys {
        KeyKind::Operator.check("operator signing key", k)?;
    }
    Ok(op)
}

/// Decodes an account JWT and checks it is signed by one of `trusted` (its identity key,
/// unless `strict_signing_key_usage`, or a signing key) and valid at `now`.
pub fn verify_account(
    token: &str,
    trusted: &[OperatorClaims],
    now: i64,
) -> Result<AccountClaims, JwtError> {
    let acc = decode_account(token)?;
    if !trusted.iter().any(|op| op.trusts(&acc.claims.issuer)) {
        return Err(JwtError::UntrustedAccountIssuer {
            account: acc.claims.subject.clone(),
            issuer: acc.claims.issuer.clone(),
        });
    }
    check_times(ClaimType::Account, &acc.claims, now)?;
    Ok(acc)
}

/// A login to check: what the client sent in CONNECT, and the nonce of the INFO it got.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// CONNECT's `jwt`.
    pub jwt: &'a str,
    /// CONNECT's `sig`: the nonce signed with the user's nkey, base64url (standard base64
    /// is accepted too, as nats-server does).
    pub sig: Option<&'a str>,
    /// The nonce the server sent in INFO, as bytes of its text.
    pub nonce: &'a [u8],
}

/// Checks a user's login in operator mode, in nats-server 2.9.10's order, and returns who
/// the user is. `account_jwt` looks up an account's JWT by public key (the resolver);
/// `trusted` are the configured operators ([`verify_operator`]); `now` is Unix seconds.
pub fn verify_user(
    login: Login<'_>,
    account_jwt: impl Fn(&str) -> Option<String>,
    trusted: &[OperatorClaims],
    now: i64,
) -> Result<UserIdentity, JwtError> {
    if login.jwt.trim().is_empty() {
        return Err(JwtError::MissingJwt);
    }
    let user = decode_user(login.jwt)?;
    check_times(ClaimType::User, &user.claims, now)?;
    if !user.nats.issuer_account.is_empty() {
        KeyKind::Account.check("issuer_account", &user.nats.issuer_account)?;
    }
    let account_key = user.account();
    let token =
        account_jwt(account_key).ok_or_else(|| JwtError::AccountNotFound(account_key.into()))?;
    let acc = verify_account(&token, trusted, now)?;
    if acc.public_key() != account_key {
        return Err(JwtError::AccountMismatch {
            wanted: account_key.into(),
            got: acc.public_key().into(),
        });
    }
    let user_pub = user.claims.subject.clone();
    let issuer = &user.claims.issuer;
    let scope = acc
        .issuer_scope(issuer)
        .ok_or_else(|| JwtError::UnknownUserIssuer {
            user: user_pub.clone(),
            issuer: issuer.clone(),
            account: account_key.into(),
        })?;
    let limits = effective_limits(&user.nats.limits, scope, &user_pub, issuer)?;
    if limits.bearer_token {
        if acc.nats.limits.disallow_bearer {
            return Err(JwtError::BearerDisallowed {
                user: user_pub,
                account: account_key.into(),
            });
        }
    } else {
        check_nonce_signature(&user_pub, login.sig, login.nonce)?;
    }
    if acc.is_revoked(&user_pub, user.claims.issued_at) {
        return Err(JwtError::Revoked {
            user: user_pub,
            account: account_key.into(),
        });
    }
    let permissions = to_config_permissions(&limits.permissions)
        .or_else(|| to_config_permissions(&acc.nats.default_permissions));
    let positive = |t: i64| (t > 0).then_some(t);
    Ok(UserIdentity {
        account: account_key.to_owned(),
        account_name: acc.claims.name.clone(),
        name: user.claims.name.clone(),
        signing_key: (issuer != account_key).then(|| issuer.clone()),
        permissions,
        limits: limits.limits,
        user_limits: limits.user_limits,
        account_subs: acc.nats.limits.subs,
        account_payload: acc.nats.limits.payload,
        allowed_connection_types: limits.allowed_connection_types,
        bearer_token: limits.bearer_token,
        expires: positive(user.claims.expires),
        account_expires: positive(acc.claims.expires),
        issued_at: user.claims.issued_at,
        user: user_pub,
    })
}

/// The user's own permissions and limits, or a scoped signing key's template (the user
/// itself must then set none, as nats-io/jwt's `ValidateScopedSigner`).
fn effective_limits(
    own: &UserPermissionLimits,
    scope: Option<&UserScope>,
    user: &str,
    issuer: &str,
) -> Result<UserPermissionLimits, JwtError> {
    match scope {
        None => Ok(own.clone()),
        Some(s) if own.is_empty() => Ok(s.template.clone()),
        Some(_) => Err(JwtError::ScopedUserHasPermissions {
            user: user.into(),
            issuer: issuer.into(),
        }),
    }
}

/// Checks `sig` (base64url, or standard base64) is `user`'s signature of `nonce`.
pub fn check_nonce_signature(user: &str, sig: Option<&str>, nonce: &[u8]) -> Result<(), JwtError> {
    let sig = sig
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JwtError::SignatureMissing(user.into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| STANDARD.decode(sig))
        .map_err(|_| JwtError::SignatureEncoding(user.into()))?;
    nkeys::KeyPair::from_public_key(user)
        .and_then(|k| k.verify(nonce, &bytes))
        .map_err(|_| JwtError::NonceSignature(user.into()))
}
