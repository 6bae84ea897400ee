//! The replay tests' harness: a file stream with its consumers and the owner's context, run
//! as the owner runs them (publish, API and tick ops, all through its one entry point,
//! `shell::run_op`) and restarted as
//! the server restarts (stop and save, reopen the store, restore the consumers from the
//! metadata store); a comparable view of everything observable; and the restart cases found
//! by the replay test (`replay_tests.rs`), pinned as plain tests.

use super::*;
use crate::shell::run_op;
use crate::store::file::{FileStore, FileStoreConfig};
use crate::store::StoreState;
use crate::stream::{PublishError, Stored};
use sluice_server::{Server, ServerConfig, ServerHandle};
use std::path::Path;

pub(super) const T0: i64 = 1_765_000_000_000_000_000;
pub(super) const MS: i64 = 1_000_000;
pub(super) const SEC: i64 = 1_000 * MS;
/// The stream's duplicate window (fixed; limits change, the window does not).
pub(super) const WINDOW: i64 = 2 * SEC;
pub(super) const SUBJECTS: [&str; 4] = ["s.a", "s.b", "s.c.d", "s.e"];

pub(super) fn base_config() -> StreamConfig {
    let raw: StreamConfig = serde_json::from_value(serde_json::json!({
        "name": "R",
        "subjects": ["s.>"],
        "storage": "file",
        "duplicate_window": WINDOW,
    }))
    .unwrap();
    raw.check_create("R").unwrap()
}

/// A stream with its consumers and the writer's context, as `start_stream` builds them.
pub(super) struct Machine {
    pub stream: Stream,
    pub consumers: Consumers,
    pub ctx: ApplyCtx,
    /// Keeps the consumers' writer channel open.
    _rx: crate::writer::WriterTx,
}

impl Machine {
    /// Opens (or creates) the file stream in `dir` with `cfg`, and its consumers from `meta`,
    /// as `start_stream` does, at `now_ns` (the time the duplicate window is rebuilt against).
    pub(super) fn open(
        server: &ServerHandle,
        dir: &Path,
        meta: &Meta,
        cfg: StreamConfig,
        now_ns: i64,
    ) -> Self {
        // Tiny segments, so that restarts recover from many files.
        let store = FileStore::open(dir, FileStoreConfig { segment_bytes: 400 }).unwrap();
        let (mut stream, mut consumers, ctx, rx) =
            super::tests::writer_parts(server, cfg, Box::new(store), Some(meta.clone()), now_ns);
        crate::consumer::restore::restore_consumers(
            meta,
            &ctx.config.name,
            &mut stream,
            &mut consumers,
            now_ns,
        )
        .unwrap();
        Machine {
            stream,
            consumers,
            ctx,
            _rx: rx,
        }
    }

    /// A clean shutdown, as the writer stops: the consumers stop and save their state, the
    /// stream syncs.
    pub(super) fn close(mut self) -> StreamConfig {
        self.consumers.stop();
        let meta = self.ctx.meta.as_ref();
        let mut saver = crate::shell::StateSaver::new();
        let name = self.ctx.config.name.clone();
        assert!(saver.save(&mut self.consumers, meta, &name, std::time::Duration::ZERO));
        self.stream.sync().unwrap();
        self.ctx.config
    }

    /// Applies `op` as the owner does, through its one entry point (`run_op`: apply, then
    /// the effects).
    fn run(&mut self, op: StreamOp) -> Outcome {
        run_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op)
    }

    /// What the owner does with one publish in a step (the batch is this one message): the
    /// publish op, then the step's tick at the same time.
    pub(super) fn publish(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        now: i64,
    ) -> Result<Stored, String> {
        let op = super::message_tests::publish_op(subject, headers, payload, now);
        let Outcome::Published { result, .. } = self.run(op) else {
            panic!("a publish op has a publish outcome");
        };
        self.tick(now);
        result.map_err(|e| match e {
            PublishError::Store(e) => panic!("store failure on publish: {e}"),
            e => format!("{e:?}"),
        })
    }

    /// What the owner does with an API op (apply, then the effects), then the step's tick.
    pub(super) fn apply(&mut self, op: StreamOp, now: i64) -> OpOutcome {
        let out = self.run(op).into_op();
        self.tick(now);
        out
    }

    /// The owner's tick op (as at the end of every step, and when it wakes for an expiry).
    pub(super) fn tick(&mut self, now: i64) {
        let out = self.run(StreamOp::Tick { now_ns: now });
        assert!(matches!(out, Outcome::Ticked { .. }), "{out:?}");
    }

    pub(super) fn has(&self, seq: u64) -> bool {
        self.stream.store().get(seq).unwrap().is_some()
    }
}

/// What a restart must keep of a consumer.
#[derive(Debug, PartialEq)]
pub(super) struct ConsumerView {
    name: String,
    config: ConsumerConfig,
    created: crate::time::Timestamp,
    persisted: bool,
    state: Vec<u8>,
}

/// Everything observable about a stream, in comparable form.
#[derive(Debug, PartialEq)]
pub(super) struct View {
    state: StoreState,
    msgs: Vec<crate::store::StoredMsg>,
    subjects: Vec<(String, u64)>,
    per_subject: Vec<(u64, Option<u64>, Option<u64>)>,
    next_expiry: Option<i64>,
    policy: crate::stream::Policy,
    consumers: Vec<ConsumerView>,
}

pub(super) fn view(m: &Machine) -> View {
    let s = m.stream.store();
    let state = s.state();
    let msgs = (state.first_seq.saturating_sub(2)..=state.last_seq + 2)
        .filter_map(|q| s.get(q).unwrap())
        .collect();
    let mut subjects: Vec<(String, u64)> = s
        .subjects()
        .into_iter()
        .map(|(n, c)| (n.to_string(), c))
        .collect();
    subjects.sort();
    let per_subject = SUBJECTS
        .iter()
        .map(|subj| {
            (
                s.subject_count(subj),
                s.first_seq_of_subject(subj),
                s.last_matching(subj).unwrap().map(|m| m.seq),
            )
        })
        .collect();
    View {
        state,
        msgs,
        subjects,
        per_subject,
        next_expiry: m.stream.next_expiry(),
        policy: m.stream.policy().clone(),
        consumers: m
            .consumers
            .iter()
            .map(|c| ConsumerView {
                name: c.name.to_string(),
                config: c.config.clone(),
                created: c.created,
                persisted: c.persisted,
                state: c.state.encode(),
            })
            .collect(),
    }
}

pub(super) fn tmp() -> tempfile::TempDir {
    // tmpfs when there is one: the file store fsyncs, and many cases on a disk are slow.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap()
}

pub(super) fn with_server<T>(f: impl FnOnce(&ServerHandle) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server: Server = rt
        .block_on(Server::bind(ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..ServerConfig::default()
        }))
        .unwrap();
    let handle = server.handle();
    let _guard = rt.enter();
    f(&handle)
}

/// A publish for the deterministic tests below: `Ok(seq)` if stored, `Err(seq)` for a
/// duplicate of `seq`, panics on a refusal.
pub(super) fn stored(m: &mut Machine, subject: &str, h: &str, now: i64) -> Result<u64, u64> {
    let h = (!h.is_empty()).then(|| format!("NATS/1.0\r\n{h}\r\n\r\n"));
    match m.publish(subject, h.as_deref().map(str::as_bytes), b"x", now) {
        Ok(Stored::New(seq)) => Ok(seq),
        Ok(Stored::Duplicate(seq)) => Err(seq),
        Err(e) => panic!("refused: {e}"),
    }
}

pub(super) fn restart(
    server: &ServerHandle,
    dir: &Path,
    meta: &Meta,
    m: Machine,
    now: i64,
) -> Machine {
    let cfg = m.close();
    Machine::open(server, dir, meta, cfg, now)
}

#[test]
fn the_duplicate_window_survives_a_restart() {
    with_server(|server| {
        let dir = tmp();
        let meta = Meta::open(&dir.path().join("meta")).unwrap();
        let mut m = Machine::open(server, dir.path(), &meta, base_config(), T0);
        assert_eq!(stored(&mut m, "s.a", "Nats-Msg-Id: one", T0), Ok(1));
        assert_eq!(stored(&mut m, "s.a", "", T0 + MS), Ok(2));
        let mut m = restart(server, dir.path(), &meta, m, T0 + 2 * MS);
        assert_eq!(
            stored(&mut m, "s.b", "Nats-Msg-Id: one", T0 + 3 * MS),
            Err(1)
        );
        // Past the window the id is new again, before and after a restart.
        let later = T0 + WINDOW + 10 * MS;
        let mut m = restart(server, dir.path(), &meta, m, later);
        assert_eq!(stored(&mut m, "s.b", "Nats-Msg-Id: one", later), Ok(3));
        assert_eq!(
            stored(&mut m, "s.b", "Nats-Msg-Id: one", later + MS),
            Err(3)
        );
    });
}

/// KNOWN BUG, found by the replay test: after a restart, `Nats-Expected-Last-Msg-Id` is
/// checked against the id of the last stored message *that has headers* (`Stream::rebuild`
/// skips messages without headers), instead of the last message's. nats-server
/// (`rebuildDedupe`) takes the id of the message at the stream's last sequence, "" if it has
/// none (or is gone, or is older than the duplicate window), as a server that did not restart
/// does when the last message had none. Here Sluice stores the publish after the restart; it
/// should refuse it (10071, wrong last msg ID ""), as it does without the restart.
#[test]
fn last_msg_id_after_restart() {
    with_server(|server| {
        let dir = tmp();
        let meta = Meta::open(&dir.path().join("meta")).unwrap();
        let mut m = Machine::open(server, dir.path(), &meta, base_config(), T0);
        assert_eq!(stored(&mut m, "s.a", "Nats-Msg-Id: one", T0), Ok(1));
        assert_eq!(stored(&mut m, "s.a", "", T0), Ok(2));
        let h = b"NATS/1.0\r\nNats-Expected-Last-Msg-Id: one\r\n\r\n";
        let before = m.publish("s.a", Some(h), b"x", T0);
        assert_eq!(before, Err("WrongLastMsgId(\"\")".to_owned()));
        let mut m = restart(server, dir.path(), &meta, m, T0);
        let after = m.publish("s.a", Some(h), b"x", T0);
        assert_eq!(after, before, "after a restart");
    });
}

/// Found by the replay test once it had consumers, and compared away there: when limits drop
/// messages on a publish, a consumer's next sequence stays where it was until the writer next
/// reconciles its consumers, after an op; a restart reconciles at once. So CONSUMER.INFO's
/// `delivered.stream_seq` of a consumer that delivered nothing yet reads 0 before a restart
/// and 3 after it (which of the two nats-server 2.9.10 reports is not checked). Both deliver
/// the same next message (the stream's first). Pinned as it is, to be changed on purpose.
#[test]
fn delivered_stream_seq_after_limits_and_a_restart() {
    with_server(|server| {
        let dir = tmp();
        let meta = Meta::open(&dir.path().join("meta")).unwrap();
        let mut cfg = base_config();
        cfg.max_msgs = 2;
        let mut m = Machine::open(server, dir.path(), &meta, cfg, T0);
        let op = StreamOp::CreateConsumer {
            config: Box::new(ConsumerConfig {
                durable_name: "C".into(),
                ack_policy: crate::consumer::config::AckPolicy::Explicit,
                ..ConsumerConfig::default()
            }),
            action: crate::consumer::config::ConsumerAction::CreateOrUpdate,
            generated_name: "unused".into(),
            created: Timestamp::from_unix_nanos(T0),
            now_ns: T0,
            advisory_id: "adv".into(),
        };
        assert!(matches!(m.apply(op, T0), OpOutcome::Consumer(_)));
        for i in 0..5 {
            assert_eq!(stored(&mut m, "s.a", "", T0 + i), Ok(i as u64 + 1));
        }
        let info = |m: &Machine| {
            let c = m.consumers.get("C").unwrap();
            let info = c.info(m.stream.store(), Timestamp::ZERO).unwrap();
            (info.delivered.stream_seq, info.num_pending)
        };
        let next = |m: &mut Machine| {
            let c = m.consumers.get_mut("C").unwrap();
            let msg = c.state.peek_next(m.stream.store(), T0 + 10).unwrap();
            msg.map(|msg| msg.seq)
        };
        assert_eq!(m.stream.state().first_seq, 4);
        assert_eq!(info(&m), (0, 2));
        assert_eq!(next(&mut m), Some(4));
        let mut m = restart(server, dir.path(), &meta, m, T0 + 10);
        assert_eq!(info(&m), (3, 2));
        assert_eq!(next(&mut m), Some(4));
    });
}
