//! A replicated stream's owner step ([`StreamOwner::step_replicated`]; see
//! `crate::replication` for the roles).
//!
//! The step does two things with what its mailbox brings:
//!
//! - entries the group committed ([`Cmd::Committed`]) are applied in log order through the
//!   one entry point (`shell::run_op`), on every replica alike; the leader then sends their
//!   PubAcks, API answers and the consumers' deliveries, a follower drops them. An ack
//!   therefore means the entry is in the write-ahead log of a majority (fsynced, unless the
//!   server runs with `--sync <interval>`): the stream's own files are the machine's state and
//!   are written to the OS, not synced, and are rebuilt from the log when the server starts.
//! - on the leader, everything else (publishes, acks, pull requests, flow control answers and
//!   API changes, stamped with the step's time as in a single-server step, plus the change of
//!   interest first and a tick last) becomes one entry, proposed to the group. Nothing is
//!   applied before it is committed. Only the leader listens on the stream's and its
//!   consumers' subjects ([`StreamOwner::serve`]); what still reaches a follower (sent before
//!   it learned it no longer leads) is dropped, its publishers retry, and an API request that
//!   lands here after leadership moved is answered with an error so its client can retry.
//!
//! Reads (message get, consumer info, ...) are answered by the leader at once, from what it
//! has applied: every acknowledged change has been applied there before its ack went out.

use super::*;
use crate::api::deferred::answer_error;
use crate::cluster::entry::StreamEntry;
use crate::replication::Replica;

/// How long a leader waits for a tick it proposed on its own (for a deadline) to be applied
/// before proposing another.
const TICK_RETRY_NS: i64 = 1_000_000_000;

/// What a replicated stream's owner keeps besides a single-server owner's state.
#[derive(Default)]
pub(super) struct ReplState {
    /// Client commands kept while the leader's proposals in flight are over their limit
    /// (their cost stays in the stream's backlog, so the publishers are paced).
    held: VecDeque<Cmd>,
    /// When a tick was last proposed and is not applied yet.
    tick_at: Option<i64>,
    /// A tick left more to deliver at once.
    more: bool,
    /// The last log index applied.
    applied: Index,
    /// Whether this replica listens (it leads): on the stream's subjects and its consumers'.
    serving: bool,
    /// The stream-subject subscriptions while serving, and their subjects.
    subject_subs: Vec<sluice_server::InternalSubscription>,
    subjects: Vec<String>,
}

impl ReplState {
    /// The last log index applied (a snapshot is as of it).
    pub(super) fn applied(&self) -> Index {
        self.applied
    }

    /// A snapshot installed: entries up to `index` are in it.
    pub(super) fn set_applied(&mut self, index: Index) {
        self.applied = index;
    }
}

impl StreamOwner {
    pub(super) fn step_replicated(&mut self, replica: &Arc<Replica>, batch: &mut Vec<Cmd>) -> Step {
        let leader = replica.is_leader();
        self.serve(leader);
        if leader {
            if let Some(reply) = replica.take_create_reply() {
                self.answer_create(&reply);
            }
        }
        let gate = self.parts.gate.clone();
        let stream = self.stream.clone();
        let mut s = stream.lock();
        let now = now_ns();
        let (mut released, mut publishes) = (0usize, 0u64);
        let (mut stop, mut deletion) = (false, None);
        let mut dones = Vec::new();
        let mut applied_any = false;
        if !batch.is_empty() {
            self.stats_dirty = true;
        }
        if leader {
            self.proposed.extend(self.consumers.observe_interest(now));
        }
        let mut routes: Vec<(u32, OpAnswer, String)> = Vec::new();
        let room = replica.has_room();
        let mut held = std::mem::take(&mut self.repl.held);
        let cmds = held.drain(..).chain(batch.drain(..));
        let mut keep = VecDeque::new();
        for cmd in cmds {
            let cost = cmd.cost();
            let op = match cmd {
                Cmd::Committed(c) => {
                    let CommittedEntries { entries, done } = *c;
                    for (index, entry) in entries {
                        self.apply_entry(&mut s, index, entry, leader);
                        applied_any = true;
                    }
                    dones.push(done);
                    continue;
                }
                Cmd::Image(c) => {
                    match *c {
                        ImageCmd::Take(tx) => {
                            let _ = tx.send(self.take_image(&s));
                        }
                        ImageCmd::Restore(bytes, tx) => {
                            let r = self.restore_image(&mut s, &bytes);
                            if let Err(e) = &r {
                                error!(stream = %self.name, error = %e, "installing a snapshot failed");
                            }
                            applied_any = true;
                            let _ = tx.send(r);
                        }
                    }
                    continue;
                }
                Cmd::Stop(d) => {
                    stop = true;
                    deletion = deletion.or(d);
                    continue;
                }
                cmd if leader && !room => {
                    keep.push_back(cmd);
                    continue;
                }
                Cmd::Publish(msg) => {
                    publishes += 1;
                    released += cost;
                    if !leader {
                        continue;
                    }
                    StreamOp::Publish {
                        msg: Message(msg),
                        now_ns: now,
                    }
                }
                Cmd::Ack(msg) | Cmd::Next(msg) | Cmd::FlowControl(msg) if !leader => {
                    drop(msg);
                    released += cost;
                    continue;
                }
                Cmd::Ack(msg) => {
                    released += cost;
                    StreamOp::Ack {
                        msg: Message(msg),
                        now_ns: now,
                    }
                }
                Cmd::Next(msg) => {
                    released += cost;
                    StreamOp::Next {
                        msg: Message(msg),
                        now_ns: now,
                    }
                }
                Cmd::FlowControl(msg) => {
                    released += cost;
                    StreamOp::FlowControl { msg: Message(msg) }
                }
                Cmd::Api(req) => match *req {
                    Request::Op { op, answer, reply } => {
                        if !leader {
                            self.answers.push((0, None, not_leader(answer, reply)));
                            continue;
                        }
                        routes.push((self.proposed.len() as u32, answer, reply));
                        op
                    }
                    Request::Read { read, reply } => {
                        let a = if leader {
                            self.consumers.cluster = self.cluster_block();
                            let info = matches!(read, Read::StreamInfoSubjects { .. }).then(|| {
                                let mut info = self.info(&s);
                                info.cluster = self.cluster_block();
                                info
                            });
                            answer_read(read, reply, &s, &mut self.consumers, info, now)
                        } else {
                            crate::api::deferred::read_stopping(read, reply)
                        };
                        self.answers.push((0, None, a));
                        continue;
                    }
                },
            };
            self.proposed.push(op);
        }
        self.repl.held = keep;
        if leader && !stop {
            let due = self.repl.more || self.timers_due(&s, now);
            let retry = self
                .repl
                .tick_at
                .is_none_or(|t| now.saturating_sub(t) >= TICK_RETRY_NS);
            if !self.proposed.is_empty() || (due && retry) {
                self.proposed.push(StreamOp::Tick { now_ns: now });
                self.repl.tick_at = Some(now);
                let entry = StreamEntry {
                    ops: std::mem::take(&mut self.proposed),
                    answers: routes,
                };
                replica.propose(entry.encode_to_bytes());
            }
        } else {
            self.proposed.clear();
        }
        if applied_any && self.repl.serving && self.repl.subjects != self.ctx.config.subjects {
            // An update changed the subjects.
            self.serve(false);
            self.serve(true);
        }
        if applied_any {
            // To the OS: the log is what survives a crash (the files are rebuilt from it).
            if let Err(e) = s.write_out() {
                error!(stream = %self.name, error = %e, "writing a replica's store failed");
            }
        }
        let now = now_ns();
        self.publish_snapshot(&s, now);
        let wake_at = self.wake_at_replicated(&s, leader, now);
        drop(s);
        self.send_replicated(leader);
        for done in dones {
            let _ = done.send(());
        }
        gate.backlog.release(released);
        if publishes > 0 {
            gate.queued
                .fetch_sub(publishes as _, AtomicOrdering::AcqRel);
        }
        if stop {
            self.finish(deletion);
            return Step {
                done: true,
                ..Step::default()
            };
        }
        Step {
            wake_at,
            again: leader && self.repl.more && self.repl.tick_at.is_none(),
            done: false,
        }
    }

    /// Listens (the leader: on the stream's subjects and its consumers') or stops listening
    /// (a follower: the leader receives what clients send).
    pub(super) fn serve(&mut self, serving: bool) {
        if self.repl.serving == serving {
            return;
        }
        self.repl.serving = serving;
        self.consumers.set_serving(serving);
        self.repl.subject_subs.clear();
        self.repl.subjects.clear();
        if !serving {
            return;
        }
        for subject in &self.ctx.config.subjects {
            let sink = Arc::new(crate::inline::PublishSink {
                tx: self.consumers.tx().clone(),
                gate: self.parts.gate.clone(),
                inline: None,
            });
            match self.parts.server.subscribe(subject, None, sink) {
                Ok(sub) => self.repl.subject_subs.push(sub),
                Err(e) => {
                    error!(stream = %self.name, subject, error = %e, "subscribing a replicated stream's subject failed")
                }
            }
        }
        self.repl.subjects = self.ctx.config.subjects.clone();
    }

    /// Answers the STREAM.CREATE that made the stream (the leader, once it listens).
    fn answer_create(&mut self, reply: &str) {
        let mut info = self.info(&self.stream.lock());
        info.cluster = self.cluster_block();
        let a = crate::api::deferred::respond::<crate::api::types::StreamCreateResponse>(Ok(
            crate::api::types::StreamCreateResponse::new(info, true),
        ));
        self.answers
            .push((0, None, Answer::json(reply.to_owned(), a)));
    }

    /// Applies one committed entry (each index once), keeping the leader's answers.
    fn apply_entry(&mut self, s: &mut Stream, index: Index, entry: StreamEntry, leader: bool) {
        if index <= self.repl.applied {
            return;
        }
        self.repl.applied = index;
        let StreamEntry { ops, answers } = entry;
        let mut answers = answers.into_iter().peekable();
        for (pos, op) in ops.into_iter().enumerate() {
            if matches!(op, StreamOp::Tick { .. }) {
                self.repl.tick_at = None;
                self.repl.more = false;
            }
            match run_op(s, &mut self.consumers, &mut self.ctx, op) {
                Outcome::Published { reply, result } => {
                    if leader {
                        self.acks.push((index, reply, result));
                    }
                }
                Outcome::Op(outcome) => {
                    let Some((_, answer, reply)) = answers.next_if(|(p, _, _)| *p as usize == pos)
                    else {
                        continue;
                    };
                    if leader {
                        let json = self.op_answer(answer, outcome, s);
                        let a = Answer {
                            is_error: answer_is_error(&json),
                            reply,
                            headers: None,
                            payload: json,
                        };
                        self.answers.push((index, None, a));
                    }
                }
                Outcome::Consumed => {}
                Outcome::Ticked { more } => self.repl.more |= more,
            }
        }
    }

    /// Whether a consumer deadline or a message expiry is due.
    fn timers_due(&self, s: &Stream, now: i64) -> bool {
        self.consumers.next_wakeup().is_some_and(|t| t <= now)
            || s.next_expiry().is_some_and(|t| t <= now)
    }

    fn wake_at_replicated(&self, s: &Stream, leader: bool, now: i64) -> Option<i64> {
        let mut at: Option<i64> = None;
        let mut add = |t: i64| at = Some(at.map_or(t, |a| a.min(t)));
        if leader {
            match self.repl.tick_at {
                Some(t) => add(t.saturating_add(TICK_RETRY_NS)),
                None => {
                    if let Some(t) = self.consumers.next_wakeup() {
                        add(t);
                    }
                    if let Some(t) = s.next_expiry() {
                        add(t);
                    }
                }
            }
        }
        if self.stats_dirty && self.consumers.iter().next().is_some() {
            add(self.stats_at.saturating_add(STATS_EVERY_NS).max(now));
        }
        at
    }

    /// Sends (leader) or drops (follower) what the applied entries owe.
    fn send_replicated(&mut self, leader: bool) {
        if !leader {
            self.acks.clear();
            self.consumers.discard_outbox();
            self.consumers.send(false);
        }
        self.release(self.acks.len(), self.answers.len());
        if leader {
            self.consumers.send(true);
        }
    }
}

/// The answer to an API change that reached a replica that no longer leads its group.
fn not_leader(answer: OpAnswer, reply: String) -> Answer {
    Answer {
        reply,
        headers: None,
        payload: answer_error(
            answer,
            "this server no longer leads the stream's group; try again",
        ),
        is_error: true,
    }
}
