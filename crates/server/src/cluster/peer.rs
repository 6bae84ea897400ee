//! Messages between Sluice nodes for the layers above (the Raft groups' traffic): sent over
//! the routes as `RMSG` in a private route account, [`PEER_ACCOUNT`], that no client can
//! publish to or subscribe in (clients live in the global account; a routed message of this
//! account goes to the registered [`PeerHandler`], never to the subscription registry).
//!
//! Only sent to Sluice peers (their INFO says `sluice_version`): a nats-server in the same
//! cluster neither gets nor sends them. A message is dropped, with an error to the sender,
//! when the route to the peer is backed up past [`PEER_MAX_PENDING`] bytes: the layers above
//! retry (Raft does), and the route is not cut for it.

use bytes::Bytes;
use std::sync::Arc;

/// The route account peer messages travel in.
pub const PEER_ACCOUNT: &str = "$SLUICE";

/// Past this many bytes waiting on a route, peer messages to it are refused.
pub const PEER_MAX_PENDING: usize = 16 * 1024 * 1024;

/// Receives the peer messages that arrive over the routes. Called on the route's reading
/// task: it must not block (hand work to a task of its own).
pub trait PeerHandler: Send + Sync + 'static {
    fn on_message(&self, from: &str, subject: &str, reply: Option<&str>, payload: Bytes);
}

/// Why a peer message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("this server is not clustered")]
    NotClustered,
    #[error("no route to Sluice server {0}")]
    NoRoute(String),
    #[error("the route to {0} is backed up")]
    Busy(String),
}

/// A server at the other end of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: String,
    pub name: String,
    /// A Sluice node (peer messages reach it), not a nats-server.
    pub sluice: bool,
    /// Its route INFO says JetStream is enabled there.
    pub jetstream: bool,
}

pub(crate) type Handler = Arc<dyn PeerHandler>;

impl crate::internal::ServerHandle {
    /// Hands the peer messages routes bring to `handler` (replacing any earlier one).
    pub fn set_peer_handler(&self, handler: Arc<dyn PeerHandler>) {
        if let Some(c) = &self.shared.cluster {
            *c.peer_handler.write() = Some(handler);
        }
    }

    /// Stops handing peer messages to the handler (they are dropped).
    pub fn clear_peer_handler(&self) {
        if let Some(c) = &self.shared.cluster {
            *c.peer_handler.write() = None;
        }
    }

    /// This server's name (`server_name`, or its id when none is configured).
    pub fn server_name(&self) -> String {
        self.shared.server_name().to_string()
    }

    /// The servers this one has a route to.
    pub fn peers(&self) -> Vec<Peer> {
        let Some(c) = &self.shared.cluster else {
            return Vec::new();
        };
        c.links()
            .iter()
            .map(|l| Peer {
                id: l.remote_id.clone(),
                name: l.remote_name.clone(),
                sluice: l.sluice_peer,
                jetstream: l.jetstream,
            })
            .collect()
    }

    /// Sends a peer message to the Sluice server named `name`, over its route.
    pub fn send_to_peer(
        &self,
        name: &str,
        subject: &str,
        reply: Option<&str>,
        payload: Bytes,
    ) -> Result<(), PeerError> {
        let c = self
            .shared
            .cluster
            .as_ref()
            .ok_or(PeerError::NotClustered)?;
        let link = c
            .links()
            .into_iter()
            .find(|l| l.sluice_peer && l.remote_name == name)
            .ok_or_else(|| PeerError::NoRoute(name.to_string()))?;
        let out = &link.handle.out;
        if out.pending() > PEER_MAX_PENDING {
            return Err(PeerError::Busy(name.to_string()));
        }
        let len = payload.len();
        let op = sluice_protocol::route::RouteOp::Msg {
            account: PEER_ACCOUNT.into(),
            subject: subject.into(),
            reply: reply.map(Into::into),
            queues: Vec::new(),
            payload,
        };
        out.push_now(|b| op.encode(b));
        link.handle.stats.record_out(len);
        Ok(())
    }
}
