//! A stream's consumers as data ([`ConsumersImage`]), and the set rebuilt from one: the
//! consumers' part of a replicated stream group's snapshot (the stream's part is
//! `stream/image.rs`; `writer/image.rs` puts both in one).
//!
//! Everything the log's ops change is carried, so that a replica rebuilt from an image then
//! applies the next entries as the others do: each consumer's config, creation time and
//! delivery state (`ConsumerState`'s codec: delivered, ack floor, pending with deliveries and
//! deadlines, redeliveries), its waiting pull requests (pull requests are log entries: every
//! replica delivers to them), its push target's binding and flow control, its replay pacing
//! and last activity; and the inboxes found unheard. Not carried: what the owner alone keeps
//! between steps (the outbox, double-ack replies, subscriptions, the interest generation it
//! last looked at), all empty or rebuilt between steps.

use super::config::ConsumerConfig;
use super::live::{policy_of, Consumer, Replay};
use super::pull::Request;
use super::push::PushTarget;
use super::set::Consumers;
use super::state::ConsumerState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One consumer as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConsumerImage {
    pub name: String,
    pub config: ConsumerConfig,
    pub created: Timestamp,
    /// `ConsumerState::encode`.
    pub state: Vec<u8>,
    pub persisted: bool,
    pub waiting: Vec<Request>,
    pub push: Option<PushTarget>,
    pub replay: Option<Replay>,
    pub paced_until: Option<i64>,
    pub last_active_ns: i64,
}

/// A stream's consumers as data, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConsumersImage {
    pub consumers: Vec<ConsumerImage>,
    pub unheard: Vec<String>,
}

impl Consumers {
    /// The consumers as data.
    pub(crate) fn image(&self) -> ConsumersImage {
        ConsumersImage {
            consumers: self
                .iter()
                .map(|c| ConsumerImage {
                    name: c.name.to_string(),
                    config: c.config.clone(),
                    created: c.created,
                    state: c.state.encode(),
                    persisted: c.persisted,
                    waiting: c.waiting.image(),
                    push: c.push.clone(),
                    replay: c.replay,
                    paced_until: c.paced_until,
                    last_active_ns: c.last_active_ns,
                })
                .collect(),
            unheard: self.unheard(),
        }
    }

    /// Replaces every consumer by the image's (no advisories, no answers to the requests
    /// dropped: the replicas that applied the log sent none). Fails if a consumer's state
    /// cannot be read or its subscriptions made; the set may then hold part of the image.
    pub(crate) fn restore_image(&mut self, image: &ConsumersImage) -> Result<(), String> {
        let names: Vec<String> = self.iter().map(|c| c.name.to_string()).collect();
        for name in names {
            self.forget(&name);
        }
        let stream = self.stream_name().to_owned();
        for ci in &image.consumers {
            let state = ConsumerState::decode(policy_of(&ci.config), &ci.state)
                .map_err(|e| format!("consumer {}: {e}", ci.name))?;
            let mut c = Consumer::new(
                &stream,
                &ci.name,
                ci.config.clone(),
                ci.created,
                state,
                ci.persisted,
                ci.last_active_ns,
            );
            c.waiting.restore_image(&ci.waiting);
            c.push = ci.push.clone();
            c.replay = ci.replay;
            c.paced_until = ci.paced_until;
            c.last_active_ns = ci.last_active_ns;
            c.dirty = false;
            self.add(c)?;
        }
        self.set_unheard(&image.unheard);
        self.discard_outbox();
        Ok(())
    }
}
