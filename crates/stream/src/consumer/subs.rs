//! The consumers' subscriptions: the subjects a consumer listens on (acks, pull requests,
//! flow control answers) and the sinks that hand what arrives to the stream's writer. Made and
//! dropped by the shell, for [`Effect::Subscribe`](crate::effect::Effect::Subscribe) and
//! `Unsubscribe`, and at startup for restored consumers.

use super::ack_subject::AckSubject;
use super::live::Consumer;
use crate::effect::Inbox;
use crate::writer::{Cmd, WriterTx};
use sluice_server::{Backlog, InternalMsg, InternalSink, InternalSubscription, ServerHandle};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hands what a consumer subscription receives to the stream's writer, as `Inbox` says.
struct ToWriter(WriterTx, Inbox);

impl InternalSink for ToWriter {
    fn deliver(&self, msg: InternalMsg) {
        self.0.send(match self.1 {
            Inbox::Ack => Cmd::Ack(msg),
            Inbox::Next => Cmd::Next(msg),
            Inbox::FlowControl => Cmd::FlowControl(msg),
        });
    }

    fn backlog(&self) -> Option<&Arc<Backlog>> {
        Some(&self.0.backlog)
    }
}

/// The subscriptions of one stream's consumers, by consumer name. While muted (a follower
/// replica of a replicated stream: its leader listens), the subjects are kept and nothing is
/// subscribed; unmuted, they are subscribed.
#[derive(Default)]
pub(crate) struct Subscriptions {
    live: BTreeMap<String, Vec<InternalSubscription>>,
    wanted: BTreeMap<String, Vec<(String, Inbox)>>,
    muted: bool,
}

impl Subscriptions {
    /// Subscribes consumer `name` to `subjects` through `server`, handing what arrives to the
    /// writer on `tx` (while muted, only keeps them). Nothing is kept if one of them fails.
    pub(crate) fn subscribe(
        &mut self,
        server: &ServerHandle,
        tx: &WriterTx,
        name: &str,
        subjects: &[(String, Inbox)],
    ) -> Result<(), String> {
        if !self.muted {
            let subs = make(server, tx, subjects)?;
            self.live.entry(name.to_owned()).or_default().extend(subs);
        }
        self.wanted
            .entry(name.to_owned())
            .or_default()
            .extend(subjects.iter().cloned());
        Ok(())
    }

    /// Drops (unsubscribes) the subscriptions of consumer `name`.
    pub(crate) fn drop_all(&mut self, name: &str) {
        self.live.remove(name);
        self.wanted.remove(name);
    }

    /// Mutes (drops every subscription, keeping the subjects) or unmutes (subscribes them).
    pub(crate) fn set_muted(&mut self, server: &ServerHandle, tx: &WriterTx, muted: bool) {
        if self.muted == muted {
            return;
        }
        self.muted = muted;
        if muted {
            self.live.clear();
            return;
        }
        for (name, subjects) in &self.wanted {
            match make(server, tx, subjects) {
                Ok(subs) => {
                    self.live.insert(name.clone(), subs);
                }
                Err(e) => {
                    tracing::error!(consumer = %name, error = %e, "subscribing a consumer failed")
                }
            }
        }
    }
}

fn make(
    server: &ServerHandle,
    tx: &WriterTx,
    subjects: &[(String, Inbox)],
) -> Result<Vec<InternalSubscription>, String> {
    let mut subs = Vec::with_capacity(subjects.len());
    for (subject, inbox) in subjects {
        let sink = Arc::new(ToWriter(tx.clone(), *inbox));
        let sub = server
            .subscribe(subject, None, sink)
            .map_err(|e| format!("subscribing to {subject}: {e}"))?;
        subs.push(sub);
    }
    Ok(subs)
}

/// What `c` subscribes to: its acks and pull requests (a push consumer listens for pull
/// requests too: they are answered `409 Consumer is push based`), and a push consumer's flow
/// control answers.
pub(super) fn subscriptions(c: &Consumer) -> Vec<(String, Inbox)> {
    let (s, n) = (&c.stream, &c.name);
    let mut subs = vec![
        (AckSubject::subscription(s, n), Inbox::Ack),
        (format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{n}"), Inbox::Next),
    ];
    if c.push.is_some() && c.config.flow_control {
        subs.push((format!("$JS.FC.{s}.{n}.*"), Inbox::FlowControl));
    }
    subs
}
