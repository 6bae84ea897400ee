//! The [`Transport`] between the nodes of a cluster: Raft frames travel over the routes as
//! peer messages (`sluice_server::PeerHandler`: a route account of their own that no client can
//! reach). A call is a message to `raft.c` whose reply subject `raft.r.<n>` names it; the
//! answer comes back over the route the other way.
//!
//! Bounded both ways: a call waits for its answer at most its timeout (then it is forgotten);
//! at most [`MAX_SERVING`] requests from other nodes are being answered at once, and one more
//! is dropped (its sender times out and retries, as Raft does); a backed-up route refuses
//! messages rather than growing.

use crate::node::RaftNode;
use crate::transport::{CallFuture, Transport, Unreachable};
use crate::types::NodeId;
use bytes::Bytes;
use parking_lot::Mutex;
use sluice_server::{PeerHandler, ServerHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// Requests from other nodes answered at once, at most.
pub const MAX_SERVING: usize = 4096;

const CALL: &str = "raft.c";
const REPLY_PREFIX: &str = "raft.r.";

/// Raft traffic over the routes of a running server.
pub struct RouteTransport {
    server: ServerHandle,
    pending: Mutex<HashMap<u64, oneshot::Sender<Bytes>>>,
    next: AtomicU64,
    node: OnceLock<Weak<RaftNode>>,
    serving: Arc<Semaphore>,
}

impl RouteTransport {
    pub fn new(server: ServerHandle) -> Arc<RouteTransport> {
        Arc::new(RouteTransport {
            server,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            node: OnceLock::new(),
            serving: Arc::new(Semaphore::new(MAX_SERVING)),
        })
    }

    /// Answers other nodes' requests with `node`'s groups, and takes every peer message the
    /// routes bring ([`RouteTransport::install`] does both; a server whose peer messages
    /// also carry other traffic attaches and dispatches `raft.` subjects here itself).
    pub fn attach(&self, node: &Arc<RaftNode>) {
        let _ = self.node.set(Arc::downgrade(node));
    }

    /// Attaches `node` and takes every peer message the routes bring.
    pub fn install(self: &Arc<Self>, node: &Arc<RaftNode>) {
        self.attach(node);
        self.server.set_peer_handler(self.clone());
    }

    /// Whether a peer message's subject is Raft traffic (for a dispatcher in front).
    pub fn is_raft(subject: &str) -> bool {
        subject.starts_with("raft.")
    }

    /// Stops answering (requests that arrive are dropped) and fails the calls waiting.
    pub fn detach(&self) {
        self.server.clear_peer_handler();
        self.pending.lock().clear();
    }

    fn serve(&self, from: &str, reply: Option<&str>, payload: Bytes) {
        let (Some(reply), Some(node)) = (reply, self.node.get().and_then(Weak::upgrade)) else {
            return;
        };
        let Ok(permit) = self.serving.clone().try_acquire_owned() else {
            tracing::debug!(
                peer = from,
                "too many raft requests being answered: one dropped"
            );
            return;
        };
        let server = self.server.clone();
        let from = from.to_string();
        let reply = reply.to_string();
        tokio::spawn(async move {
            let answer = node.handle(&payload).await;
            drop(permit);
            if let Err(e) = server.send_to_peer(&from, &reply, None, Bytes::from(answer)) {
                tracing::debug!(peer = %from, error = %e, "raft answer not sent");
            }
        });
    }
}

impl PeerHandler for RouteTransport {
    fn on_message(&self, from: &str, subject: &str, reply: Option<&str>, payload: Bytes) {
        if subject == CALL {
            self.serve(from, reply, payload);
        } else if let Some(n) = subject.strip_prefix(REPLY_PREFIX) {
            let waiter = n
                .parse()
                .ok()
                .and_then(|n: u64| self.pending.lock().remove(&n));
            if let Some(tx) = waiter {
                let _ = tx.send(payload);
            }
        }
    }
}

/// Forgets a call when it ends, however it ends.
struct Forget<'a> {
    pending: &'a Mutex<HashMap<u64, oneshot::Sender<Bytes>>>,
    n: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.n);
    }
}

impl Transport for Arc<RouteTransport> {
    fn call(&self, _target: NodeId, name: &str, frame: Bytes, timeout: Duration) -> CallFuture {
        let this = self.clone();
        let name = name.to_string();
        Box::pin(async move {
            let n = this.next.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            this.pending.lock().insert(n, tx);
            let _forget = Forget {
                pending: &this.pending,
                n,
            };
            let reply = format!("{REPLY_PREFIX}{n}");
            this.server
                .send_to_peer(&name, CALL, Some(&reply), frame)
                .map_err(|e| Unreachable(e.to_string()))?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(_)) => Err(Unreachable(format!("{name}: transport detached"))),
                Err(_) => Err(Unreachable(format!("{name}: no answer in {timeout:?}"))),
            }
        })
    }
}
