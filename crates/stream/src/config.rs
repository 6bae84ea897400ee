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
use crate::serde_util::{is_false, is_zero_i32, is_zero_i64, is_zero_u64, null_default};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

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
#[serde(default)]
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

/// A subject transform: `{"src": ..., "dest": ...}` (both always present).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectTransform {
    #[serde(rename = "src", deserialize_with = "null_default")]
    pub source: String,
    #[serde(rename = "dest", deserialize_with = "null_default")]
    pub destination: String,
}

/// Republish stored messages to another subject.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
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

/// Where a mirror or source stream lives when it is in another account or domain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalStream {
    #[serde(rename = "api", deserialize_with = "null_default")]
    pub api_prefix: String,
    #[serde(rename = "deliver", deserialize_with = "null_default")]
    pub deliver_prefix: String,
}

/// A mirror's or source's origin. Accepted, checked lightly and echoed; Sluice does not
/// replicate from it yet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
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
#[serde(default)]
pub struct ConsumerLimits {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub inactive_threshold: i64,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub max_ack_pending: i64,
}

/// A stream's configuration, field for field as nats-server's JSON.
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

/// nats-server's `isValidName`: non-empty, none of `' '`, `\t`, `\r`, `\n`, `\f`, `.`, `*`, `>`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>'))
}

/// nats-server's `IsValidSubject`: non-empty tokens without whitespace (space, tab, CR, LF,
/// FF), and `>` only as the last token.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for t in subject.split('.') {
        if t.is_empty() || seen_fwc {
            return false;
        }
        if t.contains([' ', '\t', '\n', '\r', '\x0c']) {
            return false;
        }
        if t == ">" {
            seen_fwc = true;
        }
    }
    true
}

/// A valid subject with no `*` or `>` token.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && subject.split('.').all(|t| t != "*" && t != ">")
}

fn analyze(tokens: &[&str]) -> (bool, bool) {
    let pwc = tokens.contains(&"*");
    let fwc = tokens.contains(&">");
    (pwc, fwc)
}

fn tokens_can_match(t1: &str, t2: &str) -> bool {
    match (t1.as_bytes().first(), t2.as_bytes().first()) {
        (Some(a), Some(b)) => matches!(a, b'*' | b'>') || matches!(b, b'*' | b'>') || t1 == t2,
        _ => false,
    }
}

fn is_subset_match_tokens(tokens: &[&str], test: &[&str]) -> bool {
    for (i, t2) in test.iter().enumerate() {
        let Some(t1) = tokens.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if *t2 == ">" {
            return true;
        }
        if t1.is_empty() || *t1 == ">" {
            return false;
        }
        if *t1 == "*" {
            if *t2 != "*" {
                return false;
            }
            continue;
        }
        if !t2.starts_with('*') && t1 != t2 {
            return false;
        }
    }
    tokens.len() == test.len()
}

/// nats-server's `subjectIsSubsetMatch`: every subject `subject` can match is matched by
/// `test` (e.g. `foo.*` is a subset of `>`, `*.*` and `foo.*`, not of `foo.bar`).
pub fn subject_is_subset_match(subject: &str, test: &str) -> bool {
    let a: Vec<&str> = subject.split('.').collect();
    let b: Vec<&str> = test.split('.').collect();
    is_subset_match_tokens(&a, &b)
}

/// nats-server's `SubjectsCollide`: could one literal subject match both? Used for "subjects
/// overlap with an existing stream" (10065) and a config's own subjects.
pub fn subjects_collide(subj1: &str, subj2: &str) -> bool {
    if subj1 == subj2 {
        return true;
    }
    let toks1: Vec<&str> = subj1.split('.').collect();
    let toks2: Vec<&str> = subj2.split('.').collect();
    let (pwc1, fwc1) = analyze(&toks1);
    let (pwc2, fwc2) = analyze(&toks2);
    let (l1, l2) = (!(pwc1 || fwc1), !(pwc2 || fwc2));
    if l1 && l2 {
        return false;
    }
    if l1 && !l2 {
        return is_subset_match_tokens(&toks1, &toks2);
    }
    if l2 && !l1 {
        return is_subset_match_tokens(&toks2, &toks1);
    }
    if !fwc1 && !fwc2 && toks1.len() != toks2.len() {
        return false;
    }
    let (n1, n2) = (toks1.len(), toks2.len());
    if n1 != n2 && ((n1 < n2 && !fwc1) || (n2 < n1 && !fwc2)) {
        return false;
    }
    toks1
        .iter()
        .zip(toks2.iter())
        .all(|(a, b)| tokens_can_match(a, b))
}

/// True if any subject of `a` collides with any of `b`.
pub fn subjects_overlap(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.iter().any(|y| subjects_collide(x, y)))
}

/// A light version of nats-server's `NewSubjectTransform` check: both subjects valid (an empty
/// source is `>`), no `*` in the destination, `>` in both or neither, and mapping functions
/// (`{{wildcard(n)}}`, `$n`, ...) only when the source has `*` tokens, with wildcard indexes
/// in range. Returns the reason on failure.
pub fn check_subject_transform(src: &str, dest: &str) -> Result<(), String> {
    let src = if src.is_empty() { ">" } else { src };
    if !is_valid_subject(src) || !is_valid_subject(dest) {
        return Err("invalid subject".to_owned());
    }
    let stoks: Vec<&str> = src.split('.').collect();
    let dtoks: Vec<&str> = dest.split('.').collect();
    let npwcs = stoks.iter().filter(|t| **t == "*").count();
    let (_, sfwc) = analyze(&stoks);
    let (dpwc, dfwc) = analyze(&dtoks);
    if dpwc || sfwc != dfwc {
        return Err("invalid subject".to_owned());
    }
    for t in dtoks {
        let Some(indexes) = mapping_function_indexes(t) else {
            continue;
        };
        if npwcs == 0 || indexes.iter().any(|&i| i == 0 || i > npwcs) {
            return Err(format!(
                "invalid mapping destination: mapping destination index out of range in {t}"
            ));
        }
    }
    Ok(())
}

/// For a destination token that is a mapping function, the wildcard indexes it refers to
/// (possibly none); `None` for a plain token.
fn mapping_function_indexes(token: &str) -> Option<Vec<usize>> {
    if let Some(n) = token.strip_prefix('$') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Some(vec![n.parse().unwrap_or(usize::MAX)]);
        }
        return None;
    }
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let (func, args) = inner.split_once('(')?;
    let args = args.strip_suffix(')')?;
    let func = func.trim().to_ascii_lowercase();
    let nums = |list: &str| -> Vec<usize> {
        list.split(',')
            .map(str::trim)
            .filter_map(|a| a.parse::<usize>().ok())
            .collect()
    };
    Some(match func.as_str() {
        "wildcard" => nums(args),
        // partition(n, idx, idx...): the first argument is the partition count.
        "partition" => nums(args).into_iter().skip(1).collect(),
        // split(idx, sep), splitfromleft(idx, n), slicefromright(idx, n), ...: first argument.
        _ => nums(args).into_iter().take(1).collect(),
    })
}

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::stream_invalid_config(msg)
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

    /// nats-server's `checkStreamCfg` (the parts that need no other stream or account) followed
    /// by the single-server replica check: the normalised config, or the first error in
    /// nats-server's order. Errors are 10052 (stream config invalid) with nats-server's text
    /// unless noted: 10133 negative replicas, 10143/10034/10031/10142 mirror misuse,
    /// 10141/10140 bad or duplicate sources, 10155/10156 bad subject transform, 10074 replicas
    /// > 1 (Sluice is never clustered).
    pub fn checked(&self) -> Result<StreamConfig, ApiError> {
        if !is_valid_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(invalid(format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }

        let cfg = self.with_defaults();
        if cfg.num_replicas > MAX_REPLICAS {
            return Err(invalid(format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if cfg.num_replicas < 0 {
            return Err(ApiError::replicas_count_cannot_be_negative());
        }
        if cfg.max_age > 0 && cfg.max_age < MIN_AGE_NS {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        if cfg.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if cfg.max_age != 0 && cfg.duplicate_window > cfg.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if cfg.duplicate_window > 0 && cfg.duplicate_window < MIN_AGE_NS {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        if cfg.deny_purge && cfg.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        cfg.check_discard_new_per_subject()?;

        // v2.11 subject delete markers.
        if self.subject_delete_marker_ttl > 0 {
            if self.subject_delete_marker_ttl < MIN_SUBJECT_DELETE_MARKER_TTL_NS {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            if self.mirror.is_some() {
                return Err(invalid("subject delete markers forbidden on mirrors"));
            }
            if !cfg.allow_rollup_hdrs {
                return Err(invalid(
                    "subject delete marker cannot be set if roll-ups are disabled",
                ));
            }
        } else if self.subject_delete_marker_ttl < 0 {
            return Err(invalid("subject delete marker TTL must not be negative"));
        }

        if let Some(m) = &cfg.mirror {
            if cfg.first_seq > 0 {
                return Err(ApiError::mirror_with_first_seq());
            }
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !cfg.sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
            if m.external.is_none() && !is_valid_name(&m.name) {
                return Err(ApiError::mirror_invalid_stream_name());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for src in &cfg.sources {
            if !is_valid_name(&src.name) {
                return Err(ApiError::source_invalid_stream_name());
            }
            if !seen.insert(src.index_key()) {
                return Err(ApiError::source_duplicate_detected());
            }
        }

        let mut dset = std::collections::HashSet::new();
        for subj in &cfg.subjects {
            if !is_valid_subject(subj) {
                return Err(invalid("invalid subject"));
            }
            if !dset.insert(subj.as_str()) {
                return Err(invalid("duplicate subjects detected"));
            }
            if subj == ">" {
                if !cfg.no_ack {
                    return Err(invalid("capturing all subjects requires no-ack to be true"));
                }
                if cfg.num_replicas != 1 {
                    return Err(invalid("capturing all subjects requires replicas of 1"));
                }
            }
            if !cfg.no_ack {
                for ns in ["$JS.>", "$JSC.>", "$NRG.>"] {
                    if subjects_collide(subj, ns) && !subject_is_subset_match(subj, "$JS.EVENT.>") {
                        return Err(invalid(
                            "subjects that overlap with jetstream api require no-ack to be true",
                        ));
                    }
                }
                if subjects_collide(subj, "$SYS.>")
                    && !subject_is_subset_match(subj, "$SYS.ACCOUNT.>")
                {
                    return Err(invalid(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
            }
        }
        if cfg.subjects.is_empty() && cfg.sources.is_empty() && cfg.mirror.is_none() {
            return Err(invalid(
                "stream needs at least one configured subject or be a source/mirror",
            ));
        }
        if cfg.subjects.len() > 1 {
            for subj in &cfg.subjects {
                for tsubj in &cfg.subjects {
                    if tsubj != subj && subjects_collide(tsubj, subj) {
                        return Err(invalid(format!("subject {subj:?} overlaps with {tsubj:?}")));
                    }
                }
            }
        }

        if let Some(tr) = &cfg.subject_transform {
            if !tr.source.is_empty() && !is_valid_subject(&tr.source) {
                return Err(ApiError::stream_transform_invalid_source(format!(
                    "invalid subject {}",
                    tr.source
                )));
            }
            if !tr.destination.is_empty() {
                check_subject_transform(&tr.source, &tr.destination)
                    .map_err(ApiError::stream_transform_invalid_destination)?;
            }
        }

        if let Some(rp) = &cfg.republish {
            if cfg
                .subjects
                .iter()
                .any(|s| subjects_collide(&rp.destination, s))
            {
                return Err(invalid(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
            if !rp.destination.is_empty()
                && check_subject_transform(&rp.source, &rp.destination).is_err()
            {
                return Err(invalid(format!(
                    "stream configuration for republish with transform from '{}' to '{}' not valid",
                    rp.source, rp.destination
                )));
            }
        }

        if cfg.num_replicas > 1 {
            return Err(ApiError::stream_replicas_not_supported());
        }
        Ok(cfg)
    }

    fn check_discard_new_per_subject(&self) -> Result<(), ApiError> {
        if self.discard_new_per_subject {
            if self.discard != DiscardPolicy::New {
                return Err(invalid(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        Ok(())
    }

    /// All of [`checked`](Self::checked), discarding the normalised config.
    pub fn validate(&self) -> Result<(), ApiError> {
        self.checked().map(|_| ())
    }

    /// What `$JS.API.STREAM.CREATE.<subject_name>` checks before the stream registry, in
    /// nats-server's order: the name in the subject must equal the body's (10056), no path
    /// separators (10128), not sealed (10052 "stream configuration for create can not be
    /// sealed"), no `mirror_direct` without a mirror (10052), then [`checked`](Self::checked).
    /// The caller still checks an existing stream of that name (same normalised config: answer
    /// with it; otherwise 10058) and subject overlap with other streams (10065).
    pub fn check_create(&self, subject_name: &str) -> Result<StreamConfig, ApiError> {
        if subject_name != self.name {
            return Err(ApiError::stream_mismatch());
        }
        if self.name.contains(['/', '\\']) {
            return Err(ApiError::stream_name_contains_path_separators());
        }
        if self.sealed {
            return Err(invalid("stream configuration for create can not be sealed"));
        }
        if self.mirror_direct && self.mirror.is_none() {
            return Err(invalid("stream has no mirror but does have mirror direct"));
        }
        self.checked()
    }

    /// nats-server's `configUpdateCheck`: may the stream whose normalised config is `self`
    /// take the raw config `new`? Returns the normalised new config (with a sealed stream's
    /// adjustments: no max age, discard new, deny delete and purge, no rollups).
    ///
    /// Errors (all 10052 unless noted): whatever [`checked`](Self::checked) finds in `new`;
    /// name change; `max_consumers` change; storage change; retention change to or from
    /// workqueue (limits <-> interest is allowed, as in v2.10); template owner; unsealing;
    /// cancelling `deny_delete` or `deny_purge`; mirror change (10055); discard-new-per-subject
    /// rules; disabling `allow_msg_ttl` (v2.11). The caller checks, in this order, the API
    /// subject's name (10056, after `checked` but before the lookup), the stream's existence
    /// (10059), this, then overlap with other streams (10065).
    ///
    /// Unlike nats-server (which accepts it on a single server), `num_replicas` > 1 is refused
    /// with 10074.
    pub fn check_update(&self, new: &StreamConfig) -> Result<StreamConfig, ApiError> {
        let mut cfg = new.checked()?;
        let old = self;
        if cfg.name != old.name {
            return Err(invalid("stream configuration name must match original"));
        }
        if cfg.max_consumers != old.max_consumers {
            return Err(invalid(
                "stream configuration update can not change MaxConsumers",
            ));
        }
        if cfg.storage != old.storage {
            return Err(invalid(
                "stream configuration update can not change storage type",
            ));
        }
        if cfg.retention != old.retention
            && (old.retention == RetentionPolicy::WorkQueue
                || cfg.retention == RetentionPolicy::WorkQueue)
        {
            return Err(invalid(
                "stream configuration update can not change retention policy to/from workqueue",
            ));
        }
        if !old.template_owner.is_empty() {
            return Err(invalid(
                "stream configuration update not allowed on template owned stream",
            ));
        }
        if !cfg.template_owner.is_empty() {
            return Err(invalid(
                "stream configuration update can not be owned by a template",
            ));
        }
        if !cfg.sealed && old.sealed {
            return Err(invalid(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if !cfg.deny_delete && old.deny_delete {
            return Err(invalid(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if !cfg.deny_purge && old.deny_purge {
            return Err(invalid(
                "stream configuration update can not cancel deny purge",
            ));
        }
        if cfg.mirror != old.mirror {
            return Err(ApiError::stream_mirror_not_updatable());
        }
        cfg.check_discard_new_per_subject()?;
        if old.allow_msg_ttl && !cfg.allow_msg_ttl {
            return Err(invalid("message TTL status can not be disabled"));
        }
        if cfg.sealed {
            cfg.max_age = 0;
            cfg.discard = DiscardPolicy::New;
            cfg.deny_delete = true;
            cfg.deny_purge = true;
            cfg.allow_rollup_hdrs = false;
        }
        Ok(cfg)
    }
}
