//! What a verified user is to the server: [`UserIdentity`], and the conversion of JWT
//! permissions into the server's [`crate::config::Permissions`], as nats-server's
//! `buildInternalNkeyUser` does it.

use super::claims::{self, NatsLimits, UserLimits};
use crate::config::{Permissions, ResponsePermission, SubjectPermission};
use std::time::Duration;

/// A user whose JWT, account and nonce signature passed [`super::verify_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    /// The user's public nkey (`U...`), the JWT's `sub`.
    pub user: String,
    /// The account's public nkey (`A...`): the account the connection is bound to.
    pub account: String,
    /// The account JWT's `name`.
    pub account_name: String,
    /// The user JWT's `name`.
    pub name: String,
    /// The account signing key that issued the user, when not the account's own key.
    pub signing_key: Option<String>,
    /// `None`: no restriction. The user's own permissions, or (scoped signing key) the
    /// key's template's, or else (none set) the account's `default_permissions`.
    pub permissions: Option<Permissions>,
    /// The user's `subs`, `data`, `payload` (-1: no limit; 0, also when absent: zero, as
    /// nats-server 2.9.10 enforces it).
    pub limits: NatsLimits,
    /// The account JWT's `subs` and `payload`: each connection of the account is held to
    /// the smaller of these and the user's (nats-server's `applyAccountLimits`).
    pub account_subs: i64,
    pub account_payload: i64,
    /// `src` CIDRs and `times` windows: parsed, not checked here (the caller knows the
    /// client's address and local time).
    pub user_limits: UserLimits,
    /// `allowed_connection_types` (`STANDARD`, `WEBSOCKET`...); empty: any.
    pub allowed_connection_types: Vec<String>,
    /// The user logged in without a nonce signature.
    pub bearer_token: bool,
    /// When the user JWT expires (Unix seconds): nats-server then sends
    /// `-ERR 'User Authentication Expired'` and closes the connection.
    pub expires: Option<i64>,
    /// When the account JWT expires (Unix seconds).
    pub account_expires: Option<i64>,
    /// The user JWT's `iat`, for revocations that arrive later.
    pub issued_at: i64,
}

/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`, for a `resp` whose `ttl` is 0.
const DEFAULT_RESPONSE_TTL: Duration = Duration::from_secs(120);

/// JWT permissions as the server's: a list is restricted only if it allows or denies
/// something; `resp` becomes `allow_responses` (max 0 -> 1, ttl 0 -> 2 minutes, as
/// nats-server's `validateResponsePermissions`). `None` if nothing is set at all.
pub fn to_config_permissions(p: &claims::Permissions) -> Option<Permissions> {
    if p.is_empty() {
        return None;
    }
    let list = |l: &claims::Permission| {
        (!l.is_empty()).then(|| SubjectPermission {
            allow: l.allow.clone(),
            deny: l.deny.clone(),
        })
    };
    let allow_responses = p.resp.map(|r| ResponsePermission {
        max: usize::try_from(r.max_msgs)
            .ok()
            .filter(|&m| m > 0)
            .unwrap_or(1),
        expires: u64::try_from(r.ttl_nanos)
            .ok()
            .filter(|&n| n > 0)
            .map_or(DEFAULT_RESPONSE_TTL, Duration::from_nanos),
    });
    Some(Permissions {
        publish: list(&p.publish),
        subscribe: list(&p.subscribe),
        allow_responses,
    })
}
