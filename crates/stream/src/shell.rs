//! The shell around the pure apply: performs the [`Effect`]s an apply returns (issue 16,
//! step 4).
//!
//! [`run_effects`] is the one place where what an op asks of the world happens: consumer
//! records written to and removed from the metadata store (sled, flushed), subscriptions made
//! and dropped through the server handle, advisories handed to the batch's outbox. Consumer
//! state the ops changed is written by [`StateSaver`] after the step's sync. [`run_op`]
//! is what the owner does with every committed op (`oplog.rs`): apply, then the effects. The
//! shell, not apply, reads the clock: the owner stamps each op with its step's time when it
//! turns a mailbox command into an op.

use crate::api::errors::ApiError;
use crate::apply::{apply_op, Applied, ApplyCtx, Outcome};
use crate::consumer::config::ConsumerConfig;
use crate::consumer::set::Consumers;
use crate::effect::Effect;
use crate::meta::Meta;
use crate::op::{OpOutcome, StreamOp};
use crate::stream::Stream;
use tracing::warn;

/// Applies `op` and performs its effects: the one way the owner applies an op. If a
/// consumer's record cannot be written or its subscriptions cannot be made, the answer is that
/// failure and the create or update is undone (a new consumer forgotten, an updated one given
/// back its config), as when these were done inside the create: the consumer is then neither
/// served nor stored.
#[inline]
pub(crate) fn run_op(
    stream: &mut Stream,
    consumers: &mut Consumers,
    ctx: &mut ApplyCtx,
    op: StreamOp,
) -> Outcome {
    // What undoing a consumer create or update needs: the configs before it, and its time.
    let before = match &op {
        StreamOp::CreateConsumer { now_ns, .. } => Some(configs_before(consumers, *now_ns)),
        _ => None,
    };
    let Applied { outcome, effects } = apply_op(stream, consumers, ctx, op);
    if effects.is_empty() {
        return outcome;
    }
    perform(consumers, ctx, outcome, effects, before)
}

/// The time of a consumer create, and every consumer's config before it.
type Before = (i64, Vec<(String, ConsumerConfig)>);

#[cold]
fn configs_before(consumers: &Consumers, now_ns: i64) -> Before {
    let configs = consumers
        .iter()
        .map(|c| (c.name.to_string(), c.config.clone()))
        .collect();
    (now_ns, configs)
}

/// [`run_op`]'s part for an op with effects (never a publish), kept out of the publish path.
#[inline(never)]
fn perform(
    consumers: &mut Consumers,
    ctx: &mut ApplyCtx,
    outcome: Outcome,
    effects: Vec<Effect>,
    before: Option<Before>,
) -> Outcome {
    let Err(e) = run_effects(effects, ctx.meta.as_ref(), consumers) else {
        return outcome;
    };
    if !matches!(outcome, Outcome::Op(_)) {
        // A tick's deletion of an inactive consumer: gone either way.
        warn!(stream = %ctx.config.name, error = %e, "deleting an inactive consumer failed");
        return outcome;
    }
    if let (Outcome::Op(OpOutcome::Consumer(info)), Some((now_ns, before))) = (&outcome, before) {
        let name = info.name.as_str();
        match before.into_iter().find(|(n, _)| n == name) {
            Some((_, config)) => {
                if let Some(c) = consumers.get_mut(name) {
                    c.set_config(config, now_ns);
                }
            }
            None => {
                let persisted = consumers.get(name).is_some_and(|c| c.persisted);
                consumers.forget(name);
                if let Some(meta) = ctx.meta.as_ref().filter(|_| persisted) {
                    // Its record may have been written before a subscription failed.
                    let _ = meta.remove_consumer(&ctx.config.name, name);
                }
            }
        }
    }
    Outcome::Op(OpOutcome::Failed(ApiError::consumer_create(e)))
}

/// Performs `effects` in order: `meta` is the stream's metadata store (`None` for a memory
/// stream, whose effects never name it), `consumers` the set whose subscriptions and outbox
/// they concern. Stops at the first effect that fails the op (a record not written, a
/// subscription refused) and returns its error; a record that cannot be removed is logged and
/// passed over (its consumer is gone either way).
pub(crate) fn run_effects(
    effects: Vec<Effect>,
    meta: Option<&Meta>,
    consumers: &mut Consumers,
) -> Result<(), String> {
    for effect in effects {
        match effect {
            Effect::PutConsumerRecord {
                stream,
                name,
                record,
            } => {
                let meta = meta.ok_or("no metadata store for a consumer record")?;
                meta.put_consumer(&stream, &name, &record)
                    .map_err(|e| e.to_string())?;
            }
            Effect::RemoveConsumerRecords { stream, name } => {
                let Some(meta) = meta else { continue };
                if let Err(e) = meta.remove_consumer(&stream, &name) {
                    warn!(stream = %stream, consumer = %name, error = %e, "removing a consumer's records failed");
                }
            }
            Effect::Subscribe { name, subjects } => consumers.subscribe(&name, &subjects)?,
            Effect::Unsubscribe { name } => consumers.unsubscribe(&name),
            Effect::Advisory { subject, payload } => consumers.publish_advisory(&subject, payload),
        }
    }
    Ok(())
}

/// Writes consumers' changed state to the metadata store and flushes it (fsync): at once when
/// double acks wait for it, else once `every` has passed since the last flush, so that plain
/// acks and deliveries share one write and one flush per interval instead of paying for one
/// per batch. The consumer set only marks what changed; this is the I/O.
pub(crate) struct StateSaver {
    /// When consumer state was last flushed (or, after a failure, when to try again).
    last_flush: std::time::Instant,
}

impl StateSaver {
    pub(crate) fn new() -> Self {
        StateSaver {
            last_flush: std::time::Instant::now(),
        }
    }

    /// Saves what changed if it is due. False if that failed: the double acks then get no
    /// answer (their consumers stay marked changed, written on the next try).
    pub(crate) fn save(
        &mut self,
        consumers: &mut Consumers,
        meta: Option<&Meta>,
        stream: &str,
        every: std::time::Duration,
    ) -> bool {
        let Some(meta) = meta else {
            return true;
        };
        let due = consumers.has_double_acks() || self.last_flush.elapsed() >= every;
        if !due || !consumers.flush_pending() {
            return true;
        }
        let states = consumers.take_dirty_states();
        self.last_flush = std::time::Instant::now();
        if let Err(e) = meta.save_consumer_states(stream, &states) {
            tracing::warn!(stream, error = %e, "saving consumer state failed; will try again");
            // Not durable: written again on the next try, which (unless double acks wait for
            // it) is a second away, not one flush interval: the disk may be full for a while.
            self.last_flush = std::time::Instant::now() + std::time::Duration::from_secs(1);
            consumers.mark_dirty(states.iter().map(|(name, _)| name.as_str()));
            return false;
        }
        true
    }
}
