//! The claims common to every NATS JWT, and those of operators and users (accounts are in
//! `account.rs`), as nats-io/jwt v2 writes them. Field names are the JSON ones; a field Go
//! writes with `omitempty` may be absent, and then has Go's zero value (0, false, empty), not
//! "no limit": nats-server 2.9.10 enforces a user JWT without `subs` as a limit of 0 (it
//! reports "maximum subscriptions exceeded" right after the login and closes the connection)
//! and one without `payload` as a max payload of 0.
//! Unknown fields are ignored (newer writers add some).

use serde::Deserialize;

/// What a JWT's `nats.type` says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimType {
    Operator,
    Account,
    User,
    Activation,
    Authorization,
    #[serde(other)]
    Generic,
}

impl ClaimType {
    /// The name nats-io/jwt gives the type (`"operator"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimType::Operator => "operator",
            ClaimType::Account => "account",
            ClaimType::User => "user",
            ClaimType::Activation => "activation",
            ClaimType::Authorization => "authorization",
            ClaimType::Generic => "generic",
        }
    }
}

impl std::fmt::Display for ClaimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registered claims of every NATS JWT (nats-io/jwt's `ClaimsData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ClaimsData {
    /// `jti`: a hash of the claims (not checked by nats-server, nor here).
    #[serde(rename = "jti")]
    pub id: String,
    /// `iat`: issued at, seconds since the Unix epoch; revocations compare against it.
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// `iss`: the public nkey that signed the token.
    #[serde(rename = "iss")]
    pub issuer: String,
    /// `sub`: the public nkey the token is about (the operator, account or user).
    #[serde(rename = "sub")]
    pub subject: String,
    pub name: String,
    #[serde(rename = "aud")]
    pub audience: String,
    /// `exp`: 0 for never; expired once `now > exp`.
    #[serde(rename = "exp")]
    pub expires: i64,
    /// `nbf`: 0 for always; not yet valid while `now < nbf`.
    #[serde(rename = "nbf")]
    pub not_before: i64,
}

/// The `nats.type`, `nats.version` and `nats.tags` of a v2 token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct GenericFields {
    #[serde(rename = "type")]
    pub claim_type: Option<ClaimType>,
    pub version: i64,
    pub tags: Vec<String>,
}

/// An operator JWT's `nats` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Operator {
    /// Operator keys (`O...`) that may sign account JWTs besides the operator's own.
    pub signing_keys: Vec<String>,
    pub account_server_url: String,
    pub operator_service_urls: Vec<String>,
    /// The system account's public key, if the operator names one.
    pub system_account: String,
    pub assert_server_version: String,
    /// Accounts must be signed by a signing key, never by the operator's identity key.
    pub strict_signing_key_usage: bool,
}

/// A decoded operator JWT.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OperatorClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    #[serde(default)]
    pub nats: Operator,
}

impl OperatorClaims {
    /// The operator's public key (`sub`).
    pub fn public_key(&self) -> &str {
        &self.claims.subject
    }

    /// May `key` sign account JWTs for this operator? Its identity key (unless
    /// `strict_signing_key_usage`) or one of its signing keys.
    pub fn trusts(&self, key: &str) -> bool {
        (!self.nats.strict_signing_key_usage && key == self.claims.subject)
            || self.nats.signing_keys.iter().any(|k| k == key)
    }
}

/// Allow and deny lists of subjects (`{"allow": [...], "deny": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Permission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl Permission {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// `resp`: the user may publish to reply subjects of requests it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    /// `max`: replies per request; 0 is nats-server's default, 1.
    #[serde(rename = "max")]
    pub max_msgs: i64,
    /// `ttl`: a Go `time.Duration` in nanoseconds; 0 is nats-server's default, 2 minutes.
    #[serde(rename = "ttl")]
    pub ttl_nanos: i64,
}

/// `pub`, `sub` and `resp`: a user's permissions, an account's `default_permissions` and a
/// scoped signing key's template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Permissions {
    #[serde(rename = "pub")]
    pub publish: Permission,
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.subscribe.is_empty() && self.resp.is_none()
    }
}

/// `subs`, `data` and `payload`: -1 is no limit; absent is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct NatsLimits {
    /// Subscriptions a connection may hold.
    pub subs: i64,
    /// Bytes of messages (payload and headers) a connection may have in flight.
    pub data: i64,
    /// The largest message payload a connection may publish.
    pub payload: i64,
}

/// A time-of-day window (`"HH:MM:SS"`) in which a user may connect.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// A user's `src`, `times` and `times_location`, parsed but not checked by this module (the
/// caller knows the client's address and the time of day).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct UserLimits {
    /// CIDRs the user may connect from; empty: anywhere. Written as an array or as one
    /// comma-separated string.
    #[serde(deserialize_with = "string_or_list")]
    pub src: Vec<String>,
    pub times: Vec<TimeRange>,
    #[serde(rename = "times_location")]
    pub locale: String,
}

/// The permissions and limits of a user (also a scoped signing key's `template`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    #[serde(flatten)]
    pub user_limits: UserLimits,
    #[serde(flatten)]
    pub limits: NatsLimits,
    /// No nonce signature is asked of the client.
    pub bearer_token: bool,
    /// `STANDARD`, `WEBSOCKET`, `LEAFNODE`, `MQTT`...; empty: any.
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// Nothing set at all (what a user issued by a scoped signing key must carry).
    pub fn is_empty(&self) -> bool {
        *self == UserPermissionLimits::default()
    }
}

/// A user JWT's `nats` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// Set when an account signing key issued the user: the account's public key.
    pub issuer_account: String,
}

/// A decoded user JWT.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    #[serde(default)]
    pub nats: User,
}

impl UserClaims {
    /// The account the user belongs to: `issuer_account`, or else the issuer.
    pub fn account(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.claims.issuer
        } else {
            &self.nats.issuer_account
        }
    }
}

/// A JSON array of strings, or one string of comma-separated items (nats-io/jwt's
/// `TagList`/`CIDRList` read both).
pub(crate) fn string_or_list<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Either::Many(v) => v,
        Either::Null(()) => Vec::new(),
    })
}
