//! nats-server's stream config checks: `checkStreamCfg` ([`StreamConfig::checked`]) and what
//! create and update add to it.

use super::*;

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::stream_invalid_config(msg)
}

impl StreamConfig {
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
