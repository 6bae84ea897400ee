//! Stream configuration: nats-server's `StreamConfig` JSON, its defaults, and its checks.
//!
//! The JSON is nats-server's (v2.10 `server/stream.go`, plus v2.11's `allow_msg_ttl` and
//! `subject_delete_marker_ttl`): the same names, the same always-present fields and the same
//! `omitempty` ones, so a config round-trips through clients unchanged. Durations are integer
//! nanoseconds. Unknown fields are ignored, and `null` for any field leaves its default, as
//! Go's decoder does.
//!
//! A config as received is "raw" (Go zero values: `max_msgs: 0` means "unset"). What a stream
//! keeps and reports is the normalised form from [`StreamConfig::checked`] (nats-server's
//! `checkStreamCfg`): unset limits become -1, replicas 1, a default duplicate window, and a
//! stream without subjects gets its own name as its subject.
//!
//! Checks that need other streams (subject overlap between streams, a mirror's origin) or the
//! account (limits) are the caller's: see [`subjects_collide`].

use crate::api::errors::ApiError;
use crate::consumer::config::object_only_serde;
use crate::serde_util::{is_false, is_zero_i32, is_zero_i64, is_zero_u64, null_default};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

mod check;
mod cluster_check;
mod subjects;

pub use subjects::{
    check_subject_transform, is_valid_literal_subject, is_valid_name, is_valid_subject,
    subject_is_subset_match, subjects_collide, subjects_overlap,
};

/// Longest stream name (bytes): nats-server's `JSMaxNameLen`.
pub const MAX_NAME_LEN: usize = 255;
/// Longest description (bytes): `JSMaxDescriptionLen`.
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Largest metadata (sum of key and value bytes): `JSMaxMetadataLen`.
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Most replicas a stream may ask for: `StreamMaxReplicas`.
pub const MAX_REPLICAS: i64 = 5;
/// Default duplicate window, 2 minutes in ns: `StreamDefaultDuplicatesWindow`.
pub const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;
/// Smallest non-zero `max_age` and `duplicate_window`: 100ms in ns.
pub const MIN_AGE_NS: i64 = 100_000_000;
/// Smallest non-zero `subject_delete_marker_ttl`: 1s in ns (v2.11).
pub const MIN_SUBJECT_DELETE_MARKER_TTL_NS: i64 = 1_000_000_000;

/// How messages are retained: `"limits"`, `"interest"` or `"workqueue"` (exact, lower case:
/// nats-server answers "invalid JSON" to anything else, `"Interest"` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RetentionPolicy {
    #[default]
    #[serde(rename = "limits")]
    Limits,
    #[serde(rename = "interest")]
    Interest,
    #[serde(rename = "workqueue")]
    WorkQueue,
}

/// What to do when a limit is reached: `"old"` (drop oldest) or `"new"` (refuse the
/// publish). nats-server matches these case-insensitively on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DiscardPolicy {
    #[default]
    Old,
    New,
}

impl Serialize for DiscardPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            DiscardPolicy::Old => "old",
            DiscardPolicy::New => "new",
        })
    }
}

impl<'de> Deserialize<'de> for DiscardPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "old" => Ok(DiscardPolicy::Old),
            "new" => Ok(DiscardPolicy::New),
            _ => Err(serde::de::Error::custom(format!("can not unmarshal {s:?}"))),
        }
    }
}

/// Where messages are kept: `"file"` (default) or `"memory"` (exact, lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StorageType {
    #[default]
    #[serde(rename = "file")]
    File,
    #[serde(rename = "memory")]
    Memory,
}

/// Store compression (v2.10): `"none"` (default) or `"s2"`. Always present in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Compression {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "s2")]
    S2,
}

/// Cluster placement hints. Accepted and echoed; meaningless on a single server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct Placement {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub cluster: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
    /// v2.11.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub preferred: String,
}

object_only_serde!(Placement);

/// A subject transform: `{"src": ..., "dest": ...}` (both always present).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct SubjectTransform {
    #[serde(rename = "src", deserialize_with = "null_default")]
    pub source: String,
    #[serde(rename = "dest", deserialize_with = "null_default")]
    pub destination: String,
}

object_only_serde!(SubjectTransform);

/// Republish stored messages to another subject.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct RePublish {
    /// Which stored subjects to republish; empty means all (normalised to `>`).
    #[serde(
        rename = "src",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub source: String,
    #[serde(rename = "dest", deserialize_with = "null_default")]
    pub destination: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub headers_only: bool,
}

object_only_serde!(RePublish);

/// Where a mirror or source stream lives when it is in another account or domain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct ExternalStream {
    #[serde(rename = "api", deserialize_with = "null_default")]
    pub api_prefix: String,
    #[serde(rename = "deliver", deserialize_with = "null_default")]
    pub deliver_prefix: String,
}

object_only_serde!(ExternalStream);

/// A mirror's or source's origin. Accepted, checked lightly and echoed; Sluice does not
/// replicate from it yet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct StreamSource {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub filter_subject: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subject_transforms: Vec<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
}

object_only_serde!(StreamSource);

impl StreamSource {
    /// nats-server's `composeIName`, without hashing the external API prefix: two sources with
    /// the same key are duplicates.
    fn index_key(&self) -> String {
        let mut name = self.name.clone();
        if let Some(ext) = &self.external {
            name.push(':');
            name.push_str(&ext.api_prefix);
        }
        let (src, dest) = if self.subject_transforms.is_empty() {
            let src = if self.filter_subject.is_empty() {
                ">".to_owned()
            } else {
                self.filter_subject.clone()
            };
            (src, ">".to_owned())
        } else {
            let or_fwc = |s: &str| {
                if s.is_empty() {
                    ">".to_owned()
                } else {
                    s.to_owned()
                }
            };
            let srcs: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_fwc(&t.source))
                .collect();
            let dests: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_fwc(&t.destination))
                .collect();
            (srcs.join("\x0c"), dests.join("\x0c"))
        };
        format!("{name} {src} {dest}")
    }
}

/// Defaults applied to consumers of this stream (v2.10). Always present in output, as `{}`
/// when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(remote = "Self", default)]
pub struct ConsumerLimits {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub inactive_threshold: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_ack_pending: i64,
}

object_only_serde!(ConsumerLimits);

/// A stream's configuration, field for field as nats-server's JSON. Its nested structs decode
/// only from JSON objects, as Go's do (serde would take an array for a struct, field by field);
/// a request's top level is checked by [`crate::api::types::parse_request`].
///
/// `Default` is the all-zero ("raw", as if `{}` was received) config, as in Go; use
/// [`StreamConfig::checked`] or [`StreamConfig::with_defaults`] for the normalised one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subjects: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub retention: RetentionPolicy,
    #[serde(deserialize_with = "null_default")]
    pub max_consumers: i64,
    #[serde(deserialize_with = "null_default")]
    pub max_msgs: i64,
    #[serde(deserialize_with = "null_default")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 is unlimited.
    #[serde(deserialize_with = "null_default")]
    pub max_age: i64,
    #[serde(deserialize_with = "null_default")]
    pub max_msgs_per_subject: i64,
    /// Go's int32, `omitempty` (but normalised to -1, so present in practice).
    #[serde(skip_serializing_if = "is_zero_i32", deserialize_with = "null_default")]
    pub max_msg_size: i32,
    #[serde(deserialize_with = "null_default")]
    pub discard: DiscardPolicy,
    #[serde(deserialize_with = "null_default")]
    pub storage: StorageType,
    #[serde(deserialize_with = "null_default")]
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub no_ack: bool,
    /// Legacy stream templates; only echoed.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub template_owner: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub sources: Vec<StreamSource>,
    /// v2.10, always present.
    #[serde(deserialize_with = "null_default")]
    pub compression: Compression,
    /// v2.10: the sequence the stream starts at.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "null_default")]
    pub first_seq: u64,
    /// v2.10: applied to every inbound subject before storing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    #[serde(deserialize_with = "null_default")]
    pub allow_direct: bool,
    #[serde(deserialize_with = "null_default")]
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub discard_new_per_subject: bool,
    #[serde(deserialize_with = "null_default")]
    pub sealed: bool,
    #[serde(deserialize_with = "null_default")]
    pub deny_delete: bool,
    #[serde(deserialize_with = "null_default")]
    pub deny_purge: bool,
    #[serde(deserialize_with = "null_default")]
    pub allow_rollup_hdrs: bool,
    /// v2.10, always present (`{}` when empty).
    #[serde(deserialize_with = "null_default")]
    pub consumer_limits: ConsumerLimits,
    /// v2.11 (`Nats-TTL` header honoured), always present.
    #[serde(deserialize_with = "null_default")]
    pub allow_msg_ttl: bool,
    /// v2.11, nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub subject_delete_marker_ttl: i64,
    /// v2.10: free-form; keys come out sorted, as Go writes maps.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub metadata: BTreeMap<String, String>,
}

impl StreamConfig {
    /// A raw config with just a name and subjects (everything else unset).
    pub fn new(name: impl Into<String>, subjects: &[&str]) -> Self {
        StreamConfig {
            name: name.into(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// The defaults nats-server fills in (`checkStreamCfg`), without any check: unset limits
    /// (`0`) become -1, replicas 1, the duplicate window 2 minutes (or `max_age` if shorter,
    /// none for a mirror), subjects `[name]` when there are none and no mirror or sources, and
    /// an empty republish source `>`. Idempotent.
    pub fn with_defaults(&self) -> StreamConfig {
        let mut cfg = self.clone();
        if cfg.num_replicas == 0 {
            cfg.num_replicas = 1;
        }
        for v in [
            &mut cfg.max_msgs,
            &mut cfg.max_msgs_per_subject,
            &mut cfg.max_bytes,
            &mut cfg.max_consumers,
        ] {
            if *v == 0 {
                *v = -1;
            }
        }
        if cfg.max_msg_size == 0 {
            cfg.max_msg_size = -1;
        }
        if cfg.duplicate_window == 0 && cfg.mirror.is_none() {
            cfg.duplicate_window = if cfg.max_age != 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW_NS
            {
                cfg.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW_NS
            };
        }
        if cfg.subjects.is_empty() && cfg.mirror.is_none() && cfg.sources.is_empty() {
            cfg.subjects.push(cfg.name.clone());
        }
        if let Some(rp) = &mut cfg.republish {
            if rp.source.is_empty() {
                rp.source = ">".to_owned();
            }
        }
        if cfg.subject_delete_marker_ttl > 0 && !cfg.allow_msg_ttl && cfg.mirror.is_none() {
            // v2.11: subject delete markers imply message TTLs.
            cfg.allow_msg_ttl = true;
        }
        cfg
    }
}

/// The names of the streams among `configs` whose subjects collide with `filter` (all of
/// them when it is empty): STREAM.NAMES and LIST's filter, on a server and in a cluster.
pub(crate) fn names_matching<'a>(
    configs: impl Iterator<Item = &'a StreamConfig>,
    filter: &str,
) -> Vec<String> {
    let filter = [filter.to_owned()];
    configs
        .filter(|c| filter[0].is_empty() || subjects_overlap(&c.subjects, &filter))
        .map(|c| c.name.clone())
        .collect()
}
