//! An account JWT's claims (nats-io/jwt v2's `Account`): limits, signing keys (plain or
//! scoped), revocations, default permissions, exports and imports. Absent numbers are 0, as
//! in Go; nsc writes -1 for "no limit".

use super::claims::{ClaimsData, Permissions, UserPermissionLimits};
use serde::Deserialize;
use std::collections::HashMap;

/// `nats-io/jwt`'s `All`: a revocation of every user issued at or before its time.
pub const REVOKE_ALL: &str = "*";

/// Limits on the account as a whole (`limits` in the account JWT).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    /// Subscriptions across the account's connections.
    pub subs: i64,
    /// Bytes of messages in flight.
    pub data: i64,
    /// The largest payload any connection of the account may publish.
    pub payload: i64,
    pub imports: i64,
    pub exports: i64,
    /// Exports may use wildcards.
    pub wildcards: bool,
    /// Bearer-token users of this account are refused.
    pub disallow_bearer: bool,
    /// Client connections of the account.
    pub conn: i64,
    /// Leaf node connections of the account.
    pub leaf: i64,
    /// The JetStream limits (`mem_storage` ...), absent fields 0 (JetStream off for the
    /// account when both storages are 0, as nats-server reads it).
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// Per-tier JetStream limits (`R1`, `R3`...), when the writer uses tiers.
    pub tiered_limits: HashMap<String, JetStreamLimits>,
}

/// An account's JetStream limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct JetStreamLimits {
    pub mem_storage: i64,
    pub disk_storage: i64,
    pub streams: i64,
    pub consumer: i64,
    pub max_ack_pending: i64,
    pub mem_max_stream_bytes: i64,
    pub disk_max_stream_bytes: i64,
    /// Streams must declare `max_bytes`.
    pub max_bytes_required: bool,
}

/// A signing key of an account: its public key, and for a scoped key the permissions and
/// limits every user it issues gets (`template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub key: String,
    /// `Some` for a scoped key (`{"kind":"user_scope","key":...,"template":{...}}`).
    pub scope: Option<UserScope>,
}

/// A scoped signing key's scope.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct UserScope {
    pub kind: String,
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
    pub description: String,
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum KeyOrScope {
            Key(String),
            Scope(Box<UserScope>),
        }
        Ok(match KeyOrScope::deserialize(d)? {
            KeyOrScope::Key(key) => SigningKey { key, scope: None },
            KeyOrScope::Scope(scope) => SigningKey {
                key: scope.key.clone(),
                scope: Some(*scope),
            },
        })
    }
}

/// An export: a stream or service of this account others may import.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Export {
    pub name: String,
    pub subject: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub export_type: String,
    /// Importers need an activation token.
    pub token_req: bool,
    /// `Singleton`, `Stream` or `Chunked` (services).
    pub response_type: String,
    /// Accounts whose activations are revoked: public key -> Unix time.
    pub revocations: HashMap<String, i64>,
    pub account_token_position: u32,
    pub advertise: bool,
    pub description: String,
}

/// An import of another account's export.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Import {
    pub name: String,
    pub subject: String,
    /// The exporting account's public key.
    pub account: String,
    /// An activation JWT, when the export requires one.
    pub token: String,
    /// Where the import lands locally (`local_subject`; older writers used `to`).
    pub local_subject: String,
    pub to: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub import_type: String,
    pub share: bool,
}

/// An account JWT's `nats` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Account {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub limits: AccountLimits,
    pub signing_keys: Vec<SigningKey>,
    /// Revoked users: public key (or [`REVOKE_ALL`]) -> Unix time; a user JWT issued at or
    /// before that time is refused.
    pub revocations: HashMap<String, i64>,
    /// Permissions of the account's users whose JWT sets none.
    pub default_permissions: Permissions,
    pub description: String,
    pub info_url: String,
}

/// A decoded account JWT.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    #[serde(default)]
    pub nats: Account,
}

impl AccountClaims {
    /// The account's public key (`sub`).
    pub fn public_key(&self) -> &str {
        &self.claims.subject
    }

    /// May `key` issue users of this account? The account's own key (`None` scope) or one
    /// of its signing keys (with its scope, if scoped). `None`: it may not.
    pub fn issuer_scope(&self, key: &str) -> Option<Option<&UserScope>> {
        if key == self.claims.subject {
            return Some(None);
        }
        self.nats
            .signing_keys
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.scope.as_ref())
    }

    /// Is a user with public key `user` issued at `issued_at` revoked? (Its own entry or
    /// [`REVOKE_ALL`] at or after `issued_at`, as nats-server's `isRevoked`.)
    pub fn is_revoked(&self, user: &str, issued_at: i64) -> bool {
        [user, REVOKE_ALL]
            .iter()
            .filter_map(|k| self.nats.revocations.get(*k))
            .any(|&t| t >= issued_at)
    }
}
