//! The create/update decision (`plan_create`): nats-server's `addConsumerWithAssignment`
//! with `updateConfig`, against the stream's other consumers.

use super::*;

/// True if every subject in `filters` is unique among the other consumers' filters (nats-server's
/// `partitionUnique`, for work-queue streams): no other consumer is unfiltered, and none of its
/// filters collides with one of these. Consumers named `name` are skipped. Trivially true for no
/// filters.
pub fn filters_unique(name: &str, filters: &[String], others: &[ExistingConsumer<'_>]) -> bool {
    filters.iter().all(|partition| {
        others.iter().filter(|o| o.name != name).all(|o| {
            let theirs = o.config.subject_filters();
            !theirs.is_empty() && !theirs.iter().any(|f| subjects_collide(partition, f))
        })
    })
}

/// A random consumer name for an unnamed ephemeral: 8 characters of `[A-Za-z0-9]` (nats-server
/// uses 8 characters of a hash; clients treat the name as opaque).
pub fn generate_consumer_name() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl ConsumerConfig {
    /// The config as stored for a consumer that is `durable` (nats-server's
    /// `updateInactiveThreshold`): a non-durable consumer with no positive
    /// `inactive_threshold` gets [`DEFAULT_INACTIVE_THRESHOLD_NS`].
    fn stamped(mut self, durable: bool) -> Self {
        if !durable && self.inactive_threshold <= 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD_NS;
        }
        self
    }
}

/// A consumer already on the stream, as [`plan_create`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ExistingConsumer<'a> {
    pub name: &'a str,
    /// Its config as stored (and reported).
    pub config: &'a ConsumerConfig,
    /// A push consumer's deliver subject has a subscriber now.
    pub deliver_subject_has_interest: bool,
}

/// What a consumer create request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatePlan {
    /// Make a new consumer `name` with `config` (normalised, as it will be stored and
    /// reported: a non-durable one has its `inactive_threshold` stamped).
    Create {
        name: String,
        config: ConsumerConfig,
    },
    /// Give the existing consumer `name` this `config` (possibly the one it has: then the
    /// answer is just its info).
    Update {
        name: String,
        config: ConsumerConfig,
    },
}

/// nats-server's consumer create/update decision (`addConsumerWithAssignment` with
/// `updateConfig`, single server), after the API subject checks
/// ([`crate::api::consumer_types::CreateConsumerRequest::resolve`]):
///
/// 1. [`ConsumerConfig::checked`] (defaults, then every config check), with an existing
///    consumer's `pause_until` kept (v2.11);
/// 2. if a consumer of that name (durable name, else name) exists: action `create` with a
///    different normalised config 10148; on a work-queue stream, filters colliding with
///    another consumer's 10100; then [`ConsumerConfig::check_update`] → `Update`;
/// 3. action `update` with no such consumer 10149;
/// 4. `max_consumers` of the stream (or the account's, if lower or the stream has none)
///    reached, counting non-`direct` consumers, 10026;
/// 5. on a work-queue stream (not `direct`): ack policy not explicit 10098; with other
///    consumers, no filter 10099, or filters colliding 10100; deliver policy not `all` 10101;
/// 6. a durable name over 255 bytes 10102; the name (durable, else `name`, else one from
///    `new_name`, drawn until unused) not a valid name 10103 → `Create`.
pub fn plan_create(
    request: &ConsumerConfig,
    action: ConsumerAction,
    stream: &StreamConfig,
    limits: &LimitOpts,
    existing: &[ExistingConsumer<'_>],
    mut new_name: impl FnMut() -> String,
) -> Result<CreatePlan, ApiError> {
    let request_name = if request.is_durable() {
        &request.durable_name
    } else {
        &request.name
    };
    let mut request = request.clone();
    if let Some(eo) = existing.iter().find(|e| e.name == request_name.as_str()) {
        // v2.11: a create or update keeps the consumer's pause (CONSUMER.PAUSE changes it).
        request.pause_until = eo.config.pause_until;
    }
    let cfg = request.checked(stream, limits)?;
    let wq = stream.retention == RetentionPolicy::WorkQueue;
    let filters = cfg.subject_filters();
    let cname = if cfg.is_durable() {
        &cfg.durable_name
    } else {
        &cfg.name
    };

    if !cname.is_empty() {
        if let Some(eo) = existing.iter().find(|e| e.name == cname.as_str()) {
            if action == ConsumerAction::Create && cfg != *eo.config {
                return Err(ApiError::consumer_already_exists());
            }
            if wq && !filters_unique(cname, &filters, existing) {
                return Err(ApiError::consumer_wq_consumer_not_unique());
            }
            eo.config
                .check_update(&cfg, eo.deliver_subject_has_interest)?;
            let name = cname.clone();
            let config = cfg.stamped(eo.config.is_durable());
            return Ok(CreatePlan::Update { name, config });
        }
    }
    if action == ConsumerAction::Update {
        return Err(ApiError::consumer_does_not_exist());
    }

    let mut max = stream.max_consumers;
    let acc = limits.account_max_consumers;
    if max <= 0 || (acc > 0 && acc < max) {
        max = acc;
    }
    let public = existing.iter().filter(|e| !e.config.direct).count() as i64;
    if max > 0 && public >= max {
        return Err(ApiError::maximum_consumers_limit());
    }

    if wq && !cfg.direct {
        if cfg.ack_policy != AckPolicy::Explicit {
            return Err(ApiError::consumer_wq_requires_explicit_ack());
        }
        if !existing.is_empty() {
            if filters.is_empty() {
                return Err(ApiError::consumer_wq_multiple_unfiltered());
            }
            if !filters_unique(cname, &filters, existing) {
                return Err(ApiError::consumer_wq_consumer_not_unique());
            }
        }
        if cfg.deliver_policy != DeliverPolicy::All {
            return Err(ApiError::consumer_wq_consumer_not_deliver_all());
        }
    }

    let name = if cfg.is_durable() {
        if cfg.durable_name.len() > MAX_NAME_LEN {
            return Err(ApiError::consumer_name_too_long(MAX_NAME_LEN));
        }
        cfg.durable_name.clone()
    } else if !cfg.name.is_empty() {
        cfg.name.clone()
    } else {
        loop {
            let n = new_name();
            if !existing.iter().any(|e| e.name == n) {
                break n;
            }
        }
    };
    if !is_valid_name(&name) {
        return Err(ApiError::consumer_bad_durable_name());
    }
    let durable = cfg.is_durable();
    Ok(CreatePlan::Create {
        name,
        config: cfg.stamped(durable),
    })
}
