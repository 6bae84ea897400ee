//! Effects: what applying a [`crate::op::StreamOp`] asks the world to do, as data (issue 16,
//! step 4).
//!
//! Apply (`apply.rs`) changes the stream and its consumers in memory and returns the rest as
//! [`Effect`] values: consumer records to write to or remove from the metadata store,
//! subscriptions to make or drop, advisories to publish. Apply reads no clock and draws no
//! random numbers (the op carries its times and ids), so the same ops from the same start give
//! the same effects, byte for byte. One shell function (`shell::run_effects`) performs them.
//!
//! A leaf module: it names types and does nothing.

use serde::{Deserialize, Serialize};

/// Which of a consumer's messages a subscription hands to the stream's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inbox {
    /// Acks (and naks, terms, progress, next) on `$JS.ACK.<stream>.<consumer>.>`.
    Ack,
    /// Pull requests on `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`.
    Next,
    /// A push consumer's flow control answers on `$JS.FC.<stream>.<consumer>.*`.
    FlowControl,
}

/// One thing for the shell to do after an apply, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Write the record of durable consumer `name` of `stream` (the JSON of its config and
    /// creation time, `ConsumerRecord`) to the metadata store, flushed. A failure fails the op
    /// that asked for it.
    PutConsumerRecord {
        stream: String,
        name: String,
        record: Vec<u8>,
    },
    /// Remove the record and the saved state of consumer `name` of `stream` from the metadata
    /// store, flushed. A failure is logged: the consumer is gone either way.
    RemoveConsumerRecords { stream: String, name: String },
    /// Subscribe consumer `name` of this stream to `subjects`, each handing what arrives to
    /// the writer as the given kind of message.
    Subscribe {
        name: String,
        subjects: Vec<(String, Inbox)>,
    },
    /// Drop the subscriptions of consumer `name` of this stream.
    Unsubscribe { name: String },
    /// Publish an advisory (`$JS.EVENT.ADVISORY...`) with the stream's other messages after
    /// the batch.
    Advisory { subject: String, payload: Vec<u8> },
}
