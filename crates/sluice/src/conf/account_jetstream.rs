//! An account's `jetstream` key, as nats-server 2.9.10's `parseJetStreamForAccount` reads it:
//! `jetstream: enabled | disabled | true | false`, or a block of limits
//! `{ max_memory, max_store, max_streams, max_consumers, max_ack_pending, max_bytes_required,
//! memory_max_stream_bytes, store_max_stream_bytes }` (keys case-insensitive, with
//! nats-server's aliases). Enabled without a block: no limits (-1 each). An unknown key is an
//! error (nats-server collects it as one too).

use super::options::{boolean, integer, unknown, wrong_type};
use super::value::{ConfError, Kind, Value};
use sluice_stream::api::types::AccountLimits;

/// Parses the value of an account's `jetstream` key: `None` when JetStream is disabled in
/// the account, its limits when enabled.
pub(super) fn parse(account: &str, v: &Value) -> Result<Option<AccountLimits>, ConfError> {
    let expected = "enabled, disabled, true, false or a block of limits { ... }";
    let key = format!("jetstream (account {account})");
    let block = match &v.kind {
        Kind::Bool(b) => return Ok(b.then(AccountLimits::default)),
        Kind::Str(s) => {
            return match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Ok(Some(AccountLimits::default())),
                "disabled" | "disable" => Ok(None),
                _ => Err(wrong_type(&key, v, expected)),
            }
        }
        Kind::Map(block) => block,
        _ => return Err(wrong_type(&key, v, expected)),
    };
    let place = format!("the jetstream block of account {account}");
    let mut limits = AccountLimits::default();
    for entry in &block.entries {
        let (k, v) = (entry.key.as_str(), &entry.value);
        let count = |v: &Value| -> Result<i64, ConfError> { integer(k, v) };
        match k.to_ascii_lowercase().as_str() {
            "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = count(v)?,
            "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                limits.max_storage = count(v)?
            }
            "max_streams" | "streams" => limits.max_streams = count(v)?,
            "max_consumers" | "consumers" => limits.max_consumers = count(v)?,
            "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                limits.max_bytes_required = boolean(k, v)?
            }
            "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                limits.memory_max_stream_bytes = count(v)?
            }
            "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                limits.storage_max_stream_bytes = count(v)?
            }
            "max_ack_pending" => limits.max_ack_pending = count(v)?,
            _ => unknown(entry, Some(&place))?,
        }
    }
    Ok(Some(limits))
}

#[cfg(test)]
#[path = "account_jetstream_tests.rs"]
mod tests;
