//! The layer itself, for one account: opens the store directory, brings every stream back,
//! subscribes to `$JS.API.>` and to each stream's subjects through the server's in-process
//! client (in the account its `ServerHandle` acts in), and shuts it all down explicitly.
//! Several accounts' layers are started and answered for by `accounts.rs`.

use crate::api::deferred::{answer_stopping, read_stopping, Request};
use crate::api::errors::ApiError;
use crate::apply::ApplyCtx;
use crate::config::{DiscardPolicy, StorageType, StreamConfig};
use crate::consumer::restore::{restore_consumers, RestoreError};
use crate::consumer::set::Consumers;
use crate::deletion::{Deleting, Deletion};
use crate::inline::{Gate, Inline, PublishSink};
use crate::meta::{Meta, MetaError};
use crate::pool::Pool;
use crate::snapshot::{Snapshot, SnapshotCell};
use crate::store::file::{FileStore, FileStoreConfig};
use crate::store::memory::MemoryStore;
use crate::store::{MsgStore, StoreError};
use crate::stream::{Policy, Stream};
use crate::time::{now_ns, Timestamp};
use crate::writer::{Cmd, OwnerParts, StreamOwner, SyncPolicy, WriterTx};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sluice_server::{Backlog, InternalMsg, InternalSink, InternalSubscription, ServerHandle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use tracing::{info, warn};

/// How the layer is set up.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    /// Where streams and metadata live.
    pub store_dir: PathBuf,
    /// When a publish is acked.
    pub sync: SyncPolicy,
    /// Server name reported in stream info's cluster block.
    pub server_name: String,
    /// Bytes of messages, acks and pull requests that may wait for one stream's writer (and
    /// of requests for the API) before the client connections sending them stop being read.
    pub queue_bytes: usize,
    /// The account's JetStream limits (`limits.rs`; `Default`: none).
    pub limits: crate::api::types::AccountLimits,
    /// The server's `max_memory_store` / `max_file_store` and what streams reserve of them,
    /// shared by every account's JetStream.
    pub reservations: Arc<crate::limits::ServerReservations>,
    /// The JetStream domain (`jetstream { domain }`): the API also answers on
    /// `$JS.<domain>.API.>`, and account info and publish acks name it.
    pub domain: Option<String>,
}

/// The default [`JetStreamConfig::queue_bytes`].
pub const DEFAULT_QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// The default store directory when `-sd` is not given: `<temp dir>/sluice/jetstream`, as
/// nats-server uses `<temp dir>/nats/jetstream`.
pub fn default_store_dir() -> PathBuf {
    std::env::temp_dir().join("sluice").join("jetstream")
}

/// Why the layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("stream {name}: {source}")]
    Store {
        name: String,
        #[source]
        source: StoreError,
    },
    #[error("stream {name}: unreadable record in the metadata: {reason}")]
    Record { name: String, reason: String },
    #[error("subscribing: {0}")]
    Subscribe(String),
    #[error("account {0:?} has JetStream enabled but the server does not know it")]
    Account(String),
    /// nats-server's words when the accounts' limits do not fit the server's.
    #[error("Error enabling jetstream on configured accounts: {}", .0.api())]
    AccountLimits(crate::limits::LimitError),
}

/// What sled keeps per stream.
#[derive(Serialize, Deserialize)]
struct StreamRecord {
    config: StreamConfig,
    created: Timestamp,
}

/// One live stream.
pub(crate) struct Entry {
    pub(crate) config: StreamConfig,
    pub(crate) created: Timestamp,
    /// Also held by its owner, which locks it for each step; only inline stores (see
    /// `inline.rs`) and shutdown (closing its gate) lock it otherwise. Readers use `snapshot`.
    pub(crate) stream: Arc<Mutex<Stream>>,
    /// What its owner last published for readers.
    pub(crate) snapshot: Arc<SnapshotCell>,
    /// Its number of consumers.
    pub(crate) consumers: Arc<std::sync::atomic::AtomicU64>,
    /// Shared with its publish sinks and writer (see `inline.rs`).
    gate: Arc<Gate>,
    /// The stream's own publisher (acks, deliveries).
    server: ServerHandle,
    pub(crate) tx: Option<WriterTx>,
    subs: Vec<InternalSubscription>,
    /// Its Raft group, when replicated (`cluster/replica.rs`).
    pub(crate) replica: Option<Arc<crate::replication::Replica>>,
    /// What its `max_bytes` reserves of the server's limits (given back when dropped).
    pub(crate) reservation: Option<crate::limits::Reservation>,
}

impl Entry {
    /// Whether this server answers for the stream: it holds the only copy, or leads the
    /// stream's group.
    pub(crate) fn serves(&self) -> bool {
        self.replica.as_ref().is_none_or(|r| r.is_leader())
    }
}

impl Entry {
    pub(crate) fn stop(&mut self) {
        self.subs.clear();
        {
            // Under the lock: an inline store in progress finishes first, later ones see it.
            let _s = self.stream.lock();
            self.gate
                .closed
                .store(true, std::sync::atomic::Ordering::Release);
        }
        if let Some(tx) = self.tx.take() {
            if tx.send(Cmd::Stop(None)) {
                tx.wait_done();
            }
        }
        // Publishers still waiting for room wait no more.
        self.gate.backlog.close();
    }
}

/// Hands API requests to the API thread (`None` tells it to stop), counted in its backlog
/// until handled.
struct ToApi(Sender<Option<InternalMsg>>, Arc<Backlog>);

/// The API under the domain's prefix: requests go on as `$JS.API.<rest>`.
struct DomainApi {
    prefix: String,
    api: Arc<ToApi>,
}

impl InternalSink for DomainApi {
    fn deliver(&self, mut msg: InternalMsg) {
        if let Some(rest) = msg.subject.strip_prefix(self.prefix.as_str()) {
            msg.subject = format!("$JS.API.{rest}").into();
        }
        self.api.deliver(msg);
    }

    fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.api.backlog()
    }
}

impl InternalSink for ToApi {
    fn deliver(&self, msg: InternalMsg) {
        let cost = Backlog::cost(&msg);
        self.1.add(cost);
        if self.0.send(Some(msg)).is_err() {
            self.1.release(cost);
        }
    }

    fn backlog(&self) -> Option<&Arc<Backlog>> {
        Some(&self.1)
    }
}

pub(crate) struct Inner {
    pub(crate) server: ServerHandle,
    pub(crate) config: JetStreamConfig,
    pub(crate) meta: Meta,
    pub(crate) streams: RwLock<BTreeMap<String, Entry>>,
    pub(crate) api_requests: AtomicU64,
    /// Shared with every stream's owner, which answers some requests itself.
    pub(crate) api_errors: Arc<AtomicU64>,
    /// Runs every stream's owner.
    pub(crate) pool: Pool<StreamOwner>,
    /// Streams whose owners are deleting them (`deletion.rs`).
    pub(crate) deleting: Deleting,
    /// The cluster's name, once this server runs clustered JetStream (stream info's
    /// `cluster.name`); shared with every owner.
    pub(crate) cluster_name: Arc<std::sync::OnceLock<String>>,
    /// Clustered JetStream, once started (`cluster/service.rs`).
    pub(crate) cluster: std::sync::OnceLock<Arc<crate::cluster::service::JsCluster>>,
    /// What the account's streams store, for its limits (`quota.rs`).
    pub(crate) stored: Arc<crate::quota::StoredBytes>,
}

/// The running stream layer.
pub struct JetStream {
    pub(crate) inner: Arc<Inner>,
    api_sub: Option<InternalSubscription>,
    /// The API under the domain's prefix (`jetstream { domain }`).
    domain_sub: Option<InternalSubscription>,
    api_stop: Sender<Option<InternalMsg>>,
    api_thread: Option<JoinHandle<()>>,
}

/// The parts of a config a stream's publish path needs.
pub(crate) fn policy(cfg: &StreamConfig) -> Policy {
    Policy {
        name: cfg.name.clone(),
        max_msgs: cfg.max_msgs,
        max_bytes: cfg.max_bytes,
        max_age_ns: cfg.max_age,
        max_msgs_per_subject: cfg.max_msgs_per_subject,
        max_msg_size: i64::from(cfg.max_msg_size),
        discard_new: cfg.discard == DiscardPolicy::New,
        discard_new_per_subject: cfg.discard_new_per_subject,
        duplicate_window_ns: cfg.duplicate_window,
        allow_rollup: cfg.allow_rollup_hdrs,
        deny_purge: cfg.deny_purge,
        sealed: cfg.sealed,
        allow_msg_ttl: cfg.allow_msg_ttl,
    }
}

impl Inner {
    pub(crate) fn stream_dir(&self, name: &str) -> PathBuf {
        self.config.store_dir.join("streams").join(name)
    }

    /// Where a replica of a replicated stream keeps its files (apart from single-server
    /// streams: nothing in the metadata store names them, they are rebuilt from the group's
    /// log).
    pub(crate) fn replica_dir(&self, name: &str) -> PathBuf {
        self.config
            .store_dir
            .join("_cluster")
            .join("replicas")
            .join(name)
    }

    fn open_store(
        &self,
        cfg: &StreamConfig,
        replica: bool,
    ) -> Result<Box<dyn MsgStore>, StoreError> {
        let dir = if replica {
            self.replica_dir(&cfg.name)
        } else {
            self.stream_dir(&cfg.name)
        };
        let store: Box<dyn MsgStore> = match cfg.storage {
            StorageType::File => Box::new(FileStore::open(&dir, FileStoreConfig::default())?),
            StorageType::Memory => Box::new(MemoryStore::new()),
        };
        #[cfg(test)]
        let store = match *slow_disk_tests::STORE_WRAP.lock() {
            Some(wrap) => wrap(&cfg.name, store),
            None => store,
        };
        Ok(store)
    }

    /// Opens (or creates) a stream's storage and starts its writer and subscriptions.
    pub(crate) fn start_stream(
        &self,
        cfg: StreamConfig,
        created: Timestamp,
    ) -> Result<Entry, StartError> {
        self.start_stream_with(cfg, created, None)
    }

    /// [`Inner::start_stream`], for a replica of a replicated stream when `replica` is given:
    /// then nothing of it is kept in the metadata store (its group's log is its truth, and its
    /// state is rebuilt from it), and no publish is stored inline.
    pub(crate) fn start_stream_with(
        &self,
        cfg: StreamConfig,
        created: Timestamp,
        replica: Option<Arc<crate::replication::Replica>>,
    ) -> Result<Entry, StartError> {
        let name = cfg.name.clone();
        let store_err = |source| StartError::Store {
            name: name.clone(),
            source,
        };
        let mut store = self
            .open_store(&cfg, replica.is_some())
            .map_err(store_err)?;
        if cfg.first_seq > 1 && store.state().last_seq == 0 {
            store.set_next_seq(cfg.first_seq).map_err(store_err)?;
        }
        let mut stream = Stream::open(policy(&cfg), store, now_ns()).map_err(store_err)?;
        if replica.is_none() {
            stream.set_quota(self.quota(cfg.storage));
        }
        let gate = Arc::new(Gate::new(self.config.queue_bytes));
        // Each stream publishes (acks, deliveries, answers) through a publisher of its own.
        let server = self.server.fork();
        let meta =
            (cfg.storage == StorageType::File && replica.is_none()).then(|| self.meta.clone());
        let ctx = ApplyCtx {
            config: cfg.clone(),
            meta: meta.clone(),
            limits: self.consumer_limits(),
        };
        // The mailbox exists before its owner (the consumers send to it), so the owner is
        // set once built.
        let mailbox = self.pool.add_empty();
        let tx = WriterTx::new(mailbox.clone(), gate.backlog.clone());
        let mut consumers = Consumers::new(
            &name,
            tx.clone(),
            server.clone(),
            meta.is_some(),
            cfg.retention,
        );
        if replica.is_none() {
            self.restore_consumers(&cfg, &mut stream, &mut consumers)?;
        }
        let consumer_count = consumers.counter();
        let stream = Arc::new(Mutex::new(stream));
        let snapshot = Arc::new(SnapshotCell::new(Snapshot::default()));
        let owner = StreamOwner::new(
            stream.clone(),
            consumers,
            ctx,
            OwnerParts {
                server: server.clone(),
                sync: self.config.sync,
                gate: gate.clone(),
                snapshot: snapshot.clone(),
                created,
                server_name: self.config.server_name.clone(),
                cluster_name: self.cluster_name.clone(),
                api_errors: self.api_errors.clone(),
                replica: replica.clone(),
                domain: self.config.domain.clone(),
            },
        );
        mailbox.set_owner(owner);
        let mut entry = Entry {
            config: cfg,
            created,
            stream,
            snapshot,
            consumers: consumer_count,
            gate,
            server,
            tx: Some(tx),
            subs: Vec::new(),
            replica,
            reservation: None,
        };
        self.subscribe_entry(&mut entry)?;
        Ok(entry)
    }

    /// Brings back a file stream's consumers from the metadata store: config, and the state
    /// last saved (a consumer whose state is missing or unreadable starts over from its
    /// deliver policy, which may redeliver: never loses a message).
    fn restore_consumers(
        &self,
        cfg: &StreamConfig,
        stream: &mut Stream,
        consumers: &mut Consumers,
    ) -> Result<(), StartError> {
        if cfg.storage != StorageType::File {
            return Ok(());
        }
        restore_consumers(&self.meta, &cfg.name, stream, consumers, now_ns()).map_err(|e| match e {
            RestoreError::Meta(e) => StartError::Meta(e),
            RestoreError::Record { consumer, reason } => StartError::Record {
                name: format!("{}/{consumer}", cfg.name),
                reason,
            },
            RestoreError::Store(source) => StartError::Store {
                name: cfg.name.clone(),
                source,
            },
            RestoreError::Subscribe(e) => StartError::Subscribe(e),
        })
    }

    /// (Re)subscribes an entry to its config's subjects.
    pub(crate) fn subscribe_entry(&self, entry: &mut Entry) -> Result<(), StartError> {
        entry.subs.clear();
        if entry.replica.is_some() {
            // A replica's owner subscribes while it leads (`writer/replicated.rs`).
            return Ok(());
        }
        let Some(tx) = &entry.tx else { return Ok(()) };
        let inline_ok = matches!(self.config.sync, SyncPolicy::Every(_))
            && entry.replica.is_none()
            && entry.config.retention != crate::config::RetentionPolicy::Interest;
        for subject in &entry.config.subjects {
            let sink = Arc::new(PublishSink {
                tx: tx.clone(),
                gate: entry.gate.clone(),
                inline: inline_ok.then(|| Inline {
                    stream: Arc::downgrade(&entry.stream),
                    server: entry.server.clone(),
                    consumers: entry.consumers.clone(),
                    domain: self.config.domain.clone(),
                }),
            });
            let sub = self
                .server
                .subscribe(subject, None, sink)
                .map_err(|e| StartError::Subscribe(format!("{subject}: {e}")))?;
            entry.subs.push(sub);
        }
        Ok(())
    }

    /// Persists a stream's config (fsynced) before the API answers. Memory streams are not
    /// persisted: as in nats-server, they do not outlive the server.
    pub(crate) fn save(&self, cfg: &StreamConfig, created: Timestamp) -> Result<(), ApiError> {
        if cfg.storage == StorageType::Memory {
            return Ok(());
        }
        let record = StreamRecord {
            config: cfg.clone(),
            created,
        };
        let json = serde_json::to_vec(&record).expect("stream records serialise");
        self.meta
            .put_stream(&cfg.name, &json)
            .map_err(ApiError::stream_create)
    }

    /// Deletes a stream (taken out of the map by the caller): its owner removes its records
    /// and files after what was queued before, and answers `reply` (`deletion.rs`). The
    /// caller does not wait.
    pub(crate) fn delete_stream(&self, mut entry: Entry, reply: &str) {
        entry.subs.clear();
        // Inline stores check this under the stream's lock, which the deletion takes.
        entry
            .gate
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        let deletion = Box::new(Deletion::new(
            &entry.config.name,
            reply,
            self.meta.clone(),
            &self.deleting,
            entry.server.clone(),
            self.api_errors.clone(),
        ));
        let unsent = match entry.tx.take() {
            Some(tx) => match tx.try_send(Cmd::Stop(Some(deletion))) {
                Ok(()) => None,
                Err(Cmd::Stop(d)) => d,
                Err(_) => unreachable!("try_send gives back what it was given"),
            },
            None => Some(deletion),
        };
        // The owner has finished already (it failed): nobody else holds the stream.
        if let Some(deletion) = unsent {
            deletion.run(&entry.stream);
        }
        // Publishers still waiting for room wait no more.
        entry.gate.backlog.close();
    }

    /// Hands an API request to the stream's owner, which answers it; if the stream is
    /// stopping, answers it here.
    pub(crate) fn defer(&self, entry: &Entry, request: Request) {
        let stopping = |request: Request| {
            let a = match request {
                Request::Op { answer, reply, .. } => crate::api::deferred::Answer {
                    reply,
                    headers: None,
                    payload: answer_stopping(answer),
                    is_error: true,
                },
                Request::Read { read, reply } => read_stopping(read, reply),
            };
            if a.is_error {
                self.api_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.server
                .publish(&a.reply, None, a.headers.as_deref(), &a.payload);
        };
        let Some(tx) = entry.tx.as_ref() else {
            return stopping(request);
        };
        if let Err(Cmd::Api(request)) = tx.try_send(Cmd::Api(Box::new(request))) {
            stopping(*request);
        }
    }
}

/// How many workers run the streams' owners: twice the cores, at least 4 and at most 16.
/// Owners block on fsync, so there are more workers than cores: a slow disk holds one.
fn pool_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16)
}

/// Says so in the log for every stream directory without a stream record: its data is not
/// served (nothing says what stream it is), and it is left as it is.
fn warn_orphans(store_dir: &Path, records: &[(String, Vec<u8>)]) {
    let dir = store_dir.join("streams");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.path().is_dir() && !records.iter().any(|(r, _)| *r == *name) {
            warn!(
                path = %entry.path().display(),
                "stream directory without a stream record (lost from the metadata database?): \
                 its messages are not served; left as it is"
            );
        }
    }
}

impl JetStream {
    /// Opens the store directory, restores every stream, and starts serving `$JS.API`.
    pub fn start(server: ServerHandle, config: JetStreamConfig) -> Result<JetStream, StartError> {
        let meta = Meta::open(&config.store_dir)?;
        let inner = Arc::new(Inner {
            server: server.clone(),
            config,
            meta,
            streams: RwLock::new(BTreeMap::new()),
            api_requests: Default::default(),
            api_errors: Default::default(),
            deleting: Deleting::default(),
            cluster_name: Default::default(),
            cluster: Default::default(),
            stored: Default::default(),
            pool: Pool::start("stream", pool_workers())
                .map_err(|e| StartError::Subscribe(e.to_string()))?,
        });
        let records = inner.meta.streams()?;
        warn_orphans(&inner.config.store_dir, &records);
        for (name, record) in records {
            let record: StreamRecord =
                serde_json::from_slice(&record).map_err(|e| StartError::Record {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
            let mut entry = inner.start_stream(record.config, record.created)?;
            entry.reservation = Some(crate::limits::Reservation::force(
                &inner.config.reservations,
                (&entry.config).into(),
            ));
            let state = entry.snapshot.get().state;
            info!(
                stream = %name,
                messages = state.msgs,
                bytes = state.bytes,
                first_seq = state.first_seq,
                last_seq = state.last_seq,
                "restored stream"
            );
            inner.streams.write().insert(name, entry);
        }
        let (tx, rx) = mpsc::channel::<Option<InternalMsg>>();
        let api_backlog = Arc::new(Backlog::new(inner.config.queue_bytes));
        let api_sink = Arc::new(ToApi(tx.clone(), api_backlog.clone()));
        let api_sub = server
            .subscribe("$JS.API.>", None, api_sink.clone())
            .map_err(|e| StartError::Subscribe(e.to_string()))?;
        // The domain's prefix: the same API, as nats-server maps `$JS.<domain>.API.>` onto
        // `$JS.API.>` in each account with JetStream.
        let domain_sub = match &inner.config.domain {
            None => None,
            Some(domain) => {
                let sink = Arc::new(DomainApi {
                    prefix: format!("$JS.{domain}.API."),
                    api: api_sink,
                });
                let subject = format!("$JS.{domain}.API.>");
                Some(
                    server
                        .subscribe(&subject, None, sink)
                        .map_err(|e| StartError::Subscribe(e.to_string()))?,
                )
            }
        };
        let api_inner = inner.clone();
        let api_thread = std::thread::Builder::new()
            .name("jetstream-api".into())
            .spawn(move || {
                while let Ok(Some(msg)) = rx.recv() {
                    let cost = Backlog::cost(&msg);
                    crate::api::handlers::handle(&api_inner, msg);
                    api_backlog.release(cost);
                }
                api_backlog.close();
            })
            .map_err(|e| StartError::Subscribe(e.to_string()))?;
        Ok(JetStream {
            inner,
            api_sub: Some(api_sub),
            domain_sub,
            api_stop: tx,
            api_thread: Some(api_thread),
        })
    }

    /// Runs JetStream clustered from now on: starts this server's Raft node and meta group
    /// (its log `log`, its snapshot under the store directory's `_cluster/meta`) over the
    /// server's routes. Streams are then created, changed and removed through the meta group
    /// (`cluster/`).
    pub async fn start_cluster(
        &self,
        settings: crate::cluster::service::ClusterSettings,
        logs: crate::cluster::logs::Logs,
    ) -> Result<(), String> {
        let dir = self.inner.config.store_dir.join("_cluster").join("meta");
        let _ = self.inner.cluster_name.set(settings.name.clone());
        let c =
            crate::cluster::service::JsCluster::start(&self.inner, settings, logs, &dir).await?;
        self.inner
            .cluster
            .set(c)
            .map_err(|_| "JetStream is already clustered".to_string())
    }

    /// Clustered JetStream, if started.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::service::JsCluster>> {
        self.inner.cluster.get()
    }

    /// Stops clustered JetStream's loops and groups (call before [`JetStream::shutdown`]).
    pub async fn stop_cluster(&self) {
        if let Some(c) = self.inner.cluster.get() {
            c.shutdown().await;
        }
    }

    /// The store directory in use.
    pub fn store_dir(&self) -> &Path {
        &self.inner.config.store_dir
    }

    /// Number of streams.
    pub fn stream_count(&self) -> usize {
        self.inner.streams.read().len()
    }

    /// Stops serving the API, stops every stream's writer (syncing what it stored) and
    /// closes the store. Explicit: dropping a `JetStream` does the same, but call this.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for sub in [self.api_sub.take(), self.domain_sub.take()]
            .into_iter()
            .flatten()
        {
            sub.unsubscribe();
        }
        let _ = self.api_stop.send(None);
        if let Some(t) = self.api_thread.take() {
            if t.join().is_err() {
                warn!("the JetStream API thread panicked");
            }
        }
        let mut streams = self.inner.streams.write();
        for entry in streams.values_mut() {
            entry.stop();
        }
        drop(streams);
        self.inner.pool.stop();
    }
}

impl Drop for JetStream {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod slow_disk_tests;
#[cfg(test)]
mod stopping_tests;
