//! Applying a [`StreamOp`] to a stream and its consumers, on the stream's owner: a pure
//! function of the op and the state it applies to. [`apply_op`] is the one entry point, for
//! every op: API changes, publishes, acks, pull requests, flow control answers and ticks.
//!
//! Everything an apply needs comes from the op and from that state: nothing here reads the
//! clock, draws random numbers or does I/O beyond the stream's own store (the API task drew
//! the times, names and advisory ids when it made the op; the owner stamped a message op with
//! the time of its step). What the op asks of the world (consumer records to write to or remove
//! from the metadata store, subscriptions to make or drop, CREATED/DELETED advisories) is
//! returned as [`Effect`]s, which the shell (`shell.rs`) performs; what it has to say comes
//! back as its [`Outcome`] (an API answer, a publish's PubAck or error), and what the consumers
//! have to send (deliveries, statuses, their other advisories, double-ack replies) is collected
//! in the consumers' outbox. The owner sends both only once the op log says the op is
//! committed. The same ops from the same start give the same outcomes, state, effects and
//! outbox, byte for byte (`apply/tests.rs`, `apply/message_tests.rs`;
//! `apply/replay_tests.rs` restarts from the store).
//!
//! One input is not in the op yet: whether anybody listens on a subject (a pull request's
//! reply inbox, a push consumer's deliver subject), which the consumers ask the server while
//! they apply. It is the same within one process and is the one thing a replica would have
//! to be told (issue 18: the leader delivers; followers keep state only).

use crate::api::consumer_types::ConsumerInfo;
use crate::api::errors::ApiError;
use crate::config::{StorageType, StreamConfig};
use crate::consumer::advisory::Stamp;
use crate::consumer::config::{
    plan_create, ConsumerConfig, CreatePlan, ExistingConsumer, LimitOpts,
};
use crate::consumer::live::{policy_of, start_of, Consumer};
use crate::consumer::set::{ConsumerRecord, Consumers};
use crate::consumer::state::ConsumerState;
use crate::effect::Effect;
use crate::jetstream::policy;
use crate::meta::Meta;
use crate::op::{OpOutcome, StreamOp};
use crate::store::Purge;
use crate::stream::{PublishError, Stored, Stream};
use crate::time::Timestamp;
use sluice_protocol::ByteStr;

#[cfg(test)]
mod image_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod replay_machine;
#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod tests;

/// What the writer holds, besides the stream and its consumers, to apply ops.
pub(crate) struct ApplyCtx {
    /// The stream's config as of the last [`StreamOp::UpdateConfig`] (the API keeps its own
    /// copy for validating requests; both change together, in the same update request).
    pub(crate) config: StreamConfig,
    /// Where the records of persisted consumers go (`None` for a memory stream): the shell's,
    /// for the effects; apply does not touch it.
    pub(crate) meta: Option<Meta>,
    /// The account's limits on consumers (`max_consumers`, `max_ack_pending`).
    pub(crate) limits: LimitOpts,
}

/// What applying an op came to: the answer, and what the shell is to do, in order.
#[derive(Debug)]
pub(crate) struct Applied {
    pub outcome: Outcome,
    pub effects: Vec<Effect>,
}

/// What an op has to say, sent by the owner once the op is committed.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// An API change: the outcome its answer is made from.
    Op(OpOutcome),
    /// [`StreamOp::Publish`]: stored (at which sequence, or a duplicate of which), or why
    /// not; `reply` (the publish's own, moved out of the op) gets the PubAck or the error.
    Published {
        reply: Option<ByteStr>,
        result: Result<Stored, PublishError>,
    },
    /// [`StreamOp::Ack`], [`StreamOp::Next`], [`StreamOp::FlowControl`],
    /// [`StreamOp::Interest`]: what they have to send is in the consumers' outbox.
    Consumed,
    /// [`StreamOp::Tick`]: true if some consumer has more to deliver at once.
    Ticked { more: bool },
}

#[cfg(test)]
impl Outcome {
    /// The outcome of an API change (an [`OpOutcome::Failed`] naming the bug for another).
    pub(crate) fn into_op(self) -> OpOutcome {
        match self {
            Outcome::Op(o) => o,
            other => OpOutcome::Failed(ApiError::stream_general(format!(
                "unexpected outcome of a stream op: {other:?}"
            ))),
        }
    }
}

/// Applies `op` to `stream` and `consumers`: the one entry point for every op. After an API
/// change the consumers are reconciled with the stream (as after any change by other means).
///
/// The message ops are handled in small functions of their own and the API's changes in one
/// that is never inlined: the publish path then does not pay for the API ops' stack frame.
#[inline]
pub(crate) fn apply_op(
    stream: &mut Stream,
    consumers: &mut Consumers,
    ctx: &mut ApplyCtx,
    op: StreamOp,
) -> Applied {
    match op {
        StreamOp::Publish { msg, now_ns } => publish(stream, consumers, msg, now_ns),
        StreamOp::Ack { msg, now_ns } => {
            consumers.on_ack(&msg.0, stream, now_ns);
            consumed()
        }
        StreamOp::Next { msg, now_ns } => {
            consumers.on_next(&msg.0, stream, now_ns);
            consumed()
        }
        StreamOp::FlowControl { msg } => {
            consumers.on_fc(&msg.0);
            consumed()
        }
        StreamOp::Tick { now_ns } => tick(stream, consumers, ctx, now_ns),
        StreamOp::Interest {
            now_ns,
            replies,
            push,
        } => {
            consumers.on_interest(&replies, &push, now_ns);
            consumed()
        }
        op => apply_api(stream, consumers, ctx, op),
    }
}

#[inline]
fn publish(
    stream: &mut Stream,
    consumers: &mut Consumers,
    msg: crate::op::Message,
    now_ns: i64,
) -> Applied {
    let m = msg.0;
    let result = stream.publish(&m.subject, m.headers.as_deref(), &m.payload, now_ns);
    if let Ok(Stored::New(seq)) = result {
        consumers.on_stored(seq, &m.subject, stream);
    }
    Applied {
        outcome: Outcome::Published {
            reply: m.reply,
            result,
        },
        effects: Vec::new(),
    }
}

/// Applies a publish op on the publishing connection's task (`inline.rs`): the same op and
/// the same store change as [`apply_op`]'s, for a stream with no consumers to tell (inline
/// stores require none) whose log is the local one. Any other op is given back.
#[inline]
// The op goes back by value on the publish path: boxing it would allocate per publish.
#[allow(clippy::result_large_err)]
pub(crate) fn apply_inline(stream: &mut Stream, op: StreamOp) -> Result<Outcome, StreamOp> {
    match op {
        StreamOp::Publish { msg, now_ns } => {
            let m = msg.0;
            let result = stream.publish(&m.subject, m.headers.as_deref(), &m.payload, now_ns);
            Ok(Outcome::Published {
                reply: m.reply,
                result,
            })
        }
        op => Err(op),
    }
}

#[inline(never)]
fn tick(stream: &mut Stream, consumers: &mut Consumers, ctx: &ApplyCtx, now_ns: i64) -> Applied {
    if let Err(e) = stream.expire(now_ns) {
        tracing::warn!(stream = %ctx.config.name, error = %e, "expiring messages failed");
    }
    let mut fx = Vec::new();
    consumers.tick(stream, now_ns, &mut fx);
    let more = consumers.pump(stream, now_ns);
    Applied {
        outcome: Outcome::Ticked { more },
        effects: fx,
    }
}

/// The API's changes.
#[inline(never)]
fn apply_api(
    stream: &mut Stream,
    consumers: &mut Consumers,
    ctx: &mut ApplyCtx,
    op: StreamOp,
) -> Applied {
    let mut fx = Vec::new();
    let r = match op {
        StreamOp::Purge(p) => purge(stream, &p),
        StreamOp::DeleteMsg { seq } => delete_msg(stream, ctx.config.storage, seq),
        StreamOp::UpdateConfig { config, now_ns } => {
            update_config(stream, consumers, ctx, *config, now_ns)
        }
        StreamOp::CreateConsumer {
            config,
            action,
            generated_name,
            created,
            now_ns,
            advisory_id,
        } => {
            let stamp = Stamp::new(&advisory_id, now_ns);
            let plan = plan(
                consumers,
                &ctx.config,
                &ctx.limits,
                &config,
                action,
                &generated_name,
            );
            let new = New {
                created,
                now_ns,
                stamp: &stamp,
            };
            plan.and_then(|plan| create_consumer(stream, consumers, ctx, plan, new, &mut fx))
                .map(|info| OpOutcome::Consumer(Box::new(info)))
        }
        StreamOp::DeleteConsumer {
            name,
            now_ns,
            advisory_id,
        } => {
            let stamp = Stamp::new(&advisory_id, now_ns);
            consumers
                .remove(&name, stream, &stamp, &mut fx)
                .map(|_| OpOutcome::ConsumerDeleted)
                .ok_or_else(ApiError::consumer_not_found)
        }
        StreamOp::Publish { .. }
        | StreamOp::Ack { .. }
        | StreamOp::Next { .. }
        | StreamOp::FlowControl { .. }
        | StreamOp::Tick { .. }
        | StreamOp::Interest { .. } => unreachable!("message ops are applied by apply_op"),
    };
    consumers.reconcile(stream);
    Applied {
        outcome: Outcome::Op(r.unwrap_or_else(OpOutcome::Failed)),
        effects: fx,
    }
}

fn consumed() -> Applied {
    Applied {
        outcome: Outcome::Consumed,
        effects: Vec::new(),
    }
}

fn purge(stream: &mut Stream, p: &Purge) -> Result<OpOutcome, ApiError> {
    let purged = stream
        .store_mut()
        .purge(p)
        .map_err(ApiError::stream_purge_failed)?;
    Ok(OpOutcome::Purged { purged })
}

fn delete_msg(stream: &mut Stream, storage: StorageType, seq: u64) -> Result<OpOutcome, ApiError> {
    if let Some(e) = missing_for_delete(storage, seq, stream.state().last_seq) {
        return Err(e);
    }
    let removed = stream
        .store_mut()
        .delete(seq)
        .map_err(ApiError::stream_msg_delete_failed)?;
    Ok(OpOutcome::MsgDeleted { removed })
}

/// How nats-server 2.9.10 refuses to delete a sequence that cannot be there, which depends
/// on the store: the memory store answers `sequence N not found` (400 10043) for sequence 0 and
/// for one past the end, as for any missing message; the file store reports its own errors
/// through JSStreamMsgDeleteFailedF (500 10057): "no message found" for 0, "stream store EOF"
/// past the end. `None`: look the sequence up.
fn missing_for_delete(storage: StorageType, seq: u64, last: u64) -> Option<ApiError> {
    match storage {
        StorageType::Memory if seq == 0 || seq > last => Some(ApiError::sequence_not_found(seq)),
        StorageType::File if seq == 0 => {
            Some(ApiError::stream_msg_delete_failed("no message found"))
        }
        StorageType::File if seq > last => {
            Some(ApiError::stream_msg_delete_failed("stream store EOF"))
        }
        _ => None,
    }
}

fn update_config(
    stream: &mut Stream,
    consumers: &mut Consumers,
    ctx: &mut ApplyCtx,
    config: StreamConfig,
    now_ns: i64,
) -> Result<OpOutcome, ApiError> {
    consumers.set_retention(config.retention);
    stream
        .set_policy(policy(&config), now_ns)
        .map_err(ApiError::stream_update)?;
    ctx.config = config;
    Ok(OpOutcome::ConfigUpdated)
}

/// nats-server's create/update decision against the stream's other consumers. An unnamed
/// ephemeral is named `generated`, or, if that name is taken, by the candidates
/// [`derived_names`] makes from it.
fn plan(
    consumers: &Consumers,
    scfg: &StreamConfig,
    limits: &LimitOpts,
    config: &ConsumerConfig,
    action: crate::consumer::config::ConsumerAction,
    generated: &str,
) -> Result<CreatePlan, ApiError> {
    let existing: Vec<ExistingConsumer<'_>> = consumers
        .iter()
        .map(|c| ExistingConsumer {
            name: &c.name,
            config: &c.config,
            deliver_subject_has_interest: c.push.as_ref().is_some_and(|p| p.bound),
        })
        .collect();
    plan_create(
        config,
        action,
        scfg,
        limits,
        &existing,
        derived_names(generated),
    )
}

/// `generated` first, then names derived from it (8 characters of `[A-Za-z0-9]`, like
/// `generate_consumer_name`'s): the same on every replay. `plan_create` asks until a name is
/// not taken; a taken random name is already a 1 in 62^8 event per consumer.
fn derived_names(generated: &str) -> impl FnMut() -> String + '_ {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a of the generated name seeds a splitmix64 sequence.
    let seed = generated.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut n = 0u64;
    move || {
        n += 1;
        if n == 1 {
            return generated.to_owned();
        }
        let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (0..8)
            .map(|i| CHARS[((z >> (i * 8)) % CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

/// What a consumer create takes from its op besides the config.
struct New<'a> {
    /// The new consumer's creation time.
    created: Timestamp,
    now_ns: i64,
    /// Its CREATED advisory's id and time.
    stamp: &'a Stamp,
}

/// The record of a durable consumer, for the metadata store.
fn put_record(stream: &str, name: &str, config: &ConsumerConfig, created: Timestamp) -> Effect {
    let record = ConsumerRecord {
        config: config.clone(),
        created,
    };
    Effect::PutConsumerRecord {
        stream: stream.to_owned(),
        name: name.to_owned(),
        record: serde_json::to_vec(&record).expect("consumer records serialise"),
    }
}

fn create_consumer(
    stream: &mut Stream,
    consumers: &mut Consumers,
    ctx: &ApplyCtx,
    plan: CreatePlan,
    new: New<'_>,
    fx: &mut Vec<Effect>,
) -> Result<ConsumerInfo, ApiError> {
    let stream_name = ctx.config.name.as_str();
    let now_ns = new.now_ns;
    let name = match plan {
        CreatePlan::Create { name, config } => {
            let state = ConsumerState::new(policy_of(&config), start_of(&config), stream.store())
                .map_err(ApiError::consumer_create)?;
            let persisted = consumers.persists() && config.is_durable();
            if persisted {
                fx.push(put_record(stream_name, &name, &config, new.created));
            }
            let c = Consumer::new(
                stream_name,
                &name,
                config,
                new.created,
                state,
                persisted,
                now_ns,
            );
            consumers.insert(c, new.stamp, fx);
            name
        }
        CreatePlan::Update { name, config } => {
            let c = consumers
                .get_mut(&name)
                .ok_or_else(ApiError::consumer_not_found)?;
            if c.config != config {
                if c.persisted {
                    fx.push(put_record(stream_name, &name, &config, c.created));
                }
                c.set_config(config, now_ns);
            }
            name
        }
    };
    let c = consumers
        .get(&name)
        .ok_or_else(ApiError::consumer_not_found)?;
    c.info(stream.store(), Timestamp::from_unix_nanos(now_ns))
        .map_err(ApiError::consumer_create)
}
