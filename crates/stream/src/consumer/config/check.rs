//! nats-server's checks of a consumer config: `checkConsumerCfg` ([`ConsumerConfig::check`])
//! and `checkNewConsumerConfig` ([`ConsumerConfig::check_update`]).

use super::*;

/// nats-server's `subjectIsLiteral`: no token is exactly `*` or `>`.
fn subject_is_literal(subject: &str) -> bool {
    subject.split('.').all(|t| t != "*" && t != ">")
}

/// Go's `strconv.Atoi` error text for `s` (`strconv.Atoi: parsing "abc": invalid syntax`).
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}

/// The sampling percentage of a `sample_freq` (`"50%"` or `"50"`), as nats-server reads it.
pub fn parse_sample_frequency(sample_freq: &str) -> Result<i64, ApiError> {
    let s = sample_freq.strip_suffix('%').unwrap_or(sample_freq);
    match atoi(s) {
        Ok(n) if n >= 0 => Ok(n),
        // A negative number is refused with Go's nil error, printed as `<nil>`.
        Ok(_) => Err(ApiError::consumer_invalid_sampling("<nil>")),
        Err(e) => Err(ApiError::consumer_invalid_sampling(e)),
    }
}

fn invalid_policy(text: String) -> ApiError {
    ApiError::consumer_invalid_policy(text)
}

fn bad_start(dp: &str, start: &str) -> ApiError {
    invalid_policy(format!(
        "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
    ))
}

fn not_set(dp: &str, what: &str) -> ApiError {
    invalid_policy(format!(
        "consumer delivery policy is deliver {dp}, but optional {what} is not set"
    ))
}

impl ConsumerConfig {
    /// nats-server's `checkConsumerCfg` on this (already defaulted) config for a consumer of
    /// `stream` (its normalised config): the first failure in nats-server's order (see the
    /// Consumers section of protocol-spec/jetstream-api.md for the list).
    pub fn check(&self, stream: &StreamConfig, limits: &LimitOpts) -> Result<(), ApiError> {
        let c = self;
        if c.num_replicas > 0 && c.num_replicas > stream.num_replicas {
            return Err(ApiError::consumer_replicas_exceeds_stream());
        }
        if c.num_replicas < 0 {
            return Err(ApiError::replicas_count_cannot_be_negative());
        }
        if matches!(
            stream.retention,
            RetentionPolicy::Interest | RetentionPolicy::WorkQueue
        ) && c.num_replicas != 0
            && c.num_replicas != stream.num_replicas
        {
            return Err(ApiError::consumer_replicas_should_match_stream());
        }
        let nbo = c.backoff.len() as i64;
        if nbo > 0 && c.max_deliver != -1 && nbo > c.max_deliver {
            return Err(ApiError::consumer_max_deliver_backoff());
        }
        if c.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::consumer_description_too_long(MAX_DESCRIPTION_LEN));
        }

        if c.is_push() {
            if !subject_is_literal(&c.deliver_subject) {
                return Err(ApiError::consumer_deliver_to_wildcards());
            }
            if !is_valid_subject(&c.deliver_subject) {
                return Err(ApiError::consumer_invalid_deliver_subject());
            }
            if stream
                .subjects
                .iter()
                .any(|s| subject_is_subset_match(&c.deliver_subject, s))
            {
                return Err(ApiError::consumer_deliver_cycle());
            }
            if c.max_waiting != 0 {
                return Err(ApiError::consumer_push_max_waiting());
            }
            if c.max_ack_pending > 0 && c.ack_policy == AckPolicy::None {
                return Err(ApiError::consumer_max_pending_ack_policy_required());
            }
            if c.idle_heartbeat > 0 && c.idle_heartbeat < MIN_IDLE_HEARTBEAT_NS {
                return Err(ApiError::consumer_small_heartbeat());
            }
        } else {
            if c.ack_policy == AckPolicy::None && stream.retention == RetentionPolicy::WorkQueue {
                return Err(ApiError::consumer_pull_requires_ack());
            }
            if c.rate_limit > 0 {
                return Err(ApiError::consumer_pull_with_rate_limit());
            }
            if c.max_waiting < 0 {
                return Err(ApiError::consumer_max_waiting_negative());
            }
            if c.idle_heartbeat > 0 {
                return Err(ApiError::consumer_hb_requires_push());
            }
            if c.flow_control {
                return Err(ApiError::consumer_fc_requires_push());
            }
            if c.max_batch < 0 {
                return Err(ApiError::consumer_max_request_batch_negative());
            }
            if c.max_expires != 0 && c.max_expires < MIN_MAX_EXPIRES_NS {
                return Err(ApiError::consumer_max_request_expires_too_small());
            }
            if limits.max_request_batch > 0 && c.max_batch > limits.max_request_batch {
                return Err(ApiError::consumer_max_request_batch_exceeded(
                    limits.max_request_batch,
                ));
            }
        }
        for lim in [
            limits.max_ack_pending,
            limits.account_max_ack_pending,
            stream.consumer_limits.max_ack_pending,
        ] {
            if lim > 0 && c.max_ack_pending > lim {
                return Err(ApiError::consumer_max_pending_ack_excess(lim));
            }
        }
        let it_limit = stream.consumer_limits.inactive_threshold;
        if it_limit > 0 && c.inactive_threshold > it_limit {
            return Err(ApiError::consumer_inactive_threshold_excess(GoDuration(
                it_limit,
            )));
        }

        if c.direct {
            if c.is_pull() {
                return Err(ApiError::consumer_direct_requires_push());
            }
            if c.is_durable() {
                return Err(ApiError::consumer_direct_requires_ephemeral());
            }
        }

        if !c.filter_subject.is_empty() && !c.filter_subjects.is_empty() {
            return Err(ApiError::consumer_duplicate_filter_subjects());
        }
        if !c.filter_subject.is_empty() && !is_valid_subject(&c.filter_subject) {
            return Err(ApiError::stream_invalid_config("invalid subject"));
        }
        if c.filter_subjects.iter().any(String::is_empty) {
            return Err(ApiError::consumer_empty_filter());
        }
        let filters = c.subject_filters();
        for (i, f) in filters.iter().enumerate() {
            if !is_valid_subject(f) {
                return Err(ApiError::stream_invalid_config("invalid subject"));
            }
            if filters
                .iter()
                .enumerate()
                .any(|(j, g)| i != j && subjects_collide(f, g))
            {
                return Err(ApiError::consumer_overlapping_subject_filters());
            }
        }

        let (seq, time) = (c.opt_start_seq > 0, c.opt_start_time.is_some());
        match c.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                let dp = match c.deliver_policy {
                    DeliverPolicy::All => "all",
                    DeliverPolicy::Last => "last",
                    _ => "new",
                };
                if seq {
                    return Err(bad_start(dp, "sequence"));
                }
                if time {
                    return Err(bad_start(dp, "time"));
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return Err(bad_start("last per subject", "sequence"));
                }
                if time {
                    return Err(bad_start("last per subject", "time"));
                }
                if filters.is_empty() {
                    return Err(not_set("last per subject", "filter subject"));
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return Err(not_set("by start sequence", "start sequence"));
                }
                if time {
                    return Err(bad_start("by start sequence", "time"));
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return Err(not_set("by start time", "start time"));
                }
                if c.opt_start_seq != 0 {
                    // (sic) nats-server's text says "start start sequence".
                    return Err(bad_start("by start time", "start sequence"));
                }
            }
        }

        if !c.sample_frequency.is_empty() {
            parse_sample_frequency(&c.sample_frequency)?;
        }
        if c.flow_control && c.idle_heartbeat == 0 {
            return Err(ApiError::consumer_with_flow_control_needs_heartbeats());
        }
        if !c.durable_name.is_empty() && !c.name.is_empty() && c.name != c.durable_name {
            return Err(ApiError::consumer_create_durable_and_name_mismatch());
        }
        let metadata_len: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(ApiError::consumer_metadata_length(format!(
                "{}KB",
                MAX_METADATA_LEN / 1024
            )));
        }
        Ok(())
    }

    /// [`with_defaults_limited`](Self::with_defaults_limited) then [`check`](Self::check): the
    /// normalised config, or the first error.
    pub fn checked(&self, stream: &StreamConfig, limits: &LimitOpts) -> Result<Self, ApiError> {
        let cfg = self.with_defaults_limited(stream, limits);
        cfg.check(stream, limits)?;
        Ok(cfg)
    }

    /// nats-server's `checkNewConsumerConfig`: may the consumer whose config is `self` (as
    /// stored) take the normalised config `new`? `deliver_subject_has_interest` says whether
    /// `self`'s deliver subject has a subscriber now (a push consumer still bound).
    ///
    /// Refused (all 10012, code 500, unless noted), in this order: a different
    /// `deliver_policy` ("deliver policy can not be updated"), `opt_start_seq` ("start
    /// sequence ..."), `opt_start_time` ("start time ..."), `ack_policy` ("ack policy ..."),
    /// `replay_policy` ("replay policy ..."), `idle_heartbeat` ("heart beats ..."),
    /// `flow_control` ("flow control ..."); pull to push ("can not update pull consumer to push
    /// based"), push to pull ("can not update push consumer to pull based"), another deliver
    /// subject while the old one has interest (10013); `max_waiting` ("max waiting ..."); a
    /// `backoff` longer than `max_deliver` (10116). Everything else may change.
    pub fn check_update(
        &self,
        new: &ConsumerConfig,
        deliver_subject_has_interest: bool,
    ) -> Result<(), ApiError> {
        let (old, new) = (self, new);
        if old == new {
            return Ok(());
        }
        let refuse = |what: &str| Err(ApiError::consumer_create(what));
        if old.deliver_policy != new.deliver_policy {
            return refuse("deliver policy can not be updated");
        }
        if old.opt_start_seq != new.opt_start_seq {
            return refuse("start sequence can not be updated");
        }
        if old.opt_start_time != new.opt_start_time {
            return refuse("start time can not be updated");
        }
        if old.ack_policy != new.ack_policy {
            return refuse("ack policy can not be updated");
        }
        if old.replay_policy != new.replay_policy {
            return refuse("replay policy can not be updated");
        }
        if old.idle_heartbeat != new.idle_heartbeat {
            return refuse("heart beats can not be updated");
        }
        if old.flow_control != new.flow_control {
            return refuse("flow control can not be updated");
        }
        if old.deliver_subject != new.deliver_subject {
            if old.deliver_subject.is_empty() {
                return refuse("can not update pull consumer to push based");
            }
            if new.deliver_subject.is_empty() {
                return refuse("can not update push consumer to pull based");
            }
            if deliver_subject_has_interest {
                return Err(ApiError::consumer_name_exist());
            }
        }
        if old.max_waiting != new.max_waiting {
            return refuse("max waiting can not be updated");
        }
        let nbo = new.backoff.len() as i64;
        if nbo > 0 && new.max_deliver != -1 && nbo > new.max_deliver {
            return Err(ApiError::consumer_max_deliver_backoff());
        }
        Ok(())
    }
}
