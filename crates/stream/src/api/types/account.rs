//! `$JS.API.INFO`: account information.

use super::*;

// --- $JS.API.INFO ----------------------------------------------------------------------------

/// An account's JetStream limits (-1 is unlimited; `Default` is all unlimited, as nats-server
/// reports an account without configured limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// API request counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiStats {
    pub total: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub inflight: u64,
}

/// Usage of one tier (Go's `JetStreamTier`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountTier {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: AccountLimits,
}

/// Go's `JetStreamAccountStats` (a `JetStreamTier` plus domain, api and tiers), flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountStats {
    pub memory: u64,
    pub storage: u64,
    /// v2.10.
    #[serde(default)]
    pub reserved_memory: u64,
    /// v2.10.
    #[serde(default)]
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    #[serde(default)]
    pub limits: AccountLimits,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default)]
    pub api: ApiStats,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tiers: BTreeMap<String, AccountTier>,
}

/// `$JS.API.INFO` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountInfoResponse {
    #[serde(rename = "type")]
    pub response_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub stats: Option<AccountStats>,
}

impl_response!(AccountInfoResponse, response_type::ACCOUNT_INFO);

impl AccountInfoResponse {
    pub fn new(stats: AccountStats) -> Self {
        AccountInfoResponse {
            response_type: Self::TYPE.to_owned(),
            error: None,
            stats: Some(stats),
        }
    }
}
