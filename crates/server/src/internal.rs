//! In-process clients: how a higher layer (the stream layer) subscribes and publishes like any
//! other client, without a socket and without the server knowing what it is.

use crate::error::ServerError;
use crate::route::Publisher;
use crate::shared::Shared;
use crate::sub::{Owner, SubRef, Subscription};
use bytes::Bytes;
use parking_lot::Mutex;
use sluice_protocol::ByteStr;
use std::sync::Arc;

/// A message delivered to an in-process subscriber. Everything is owned (copied out of the
/// publisher's read buffer), so the sink may keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct InternalMsg {
    pub subject: ByteStr,
    pub reply: Option<ByteStr>,
    /// The raw header block (`NATS/1.0 ...`), if the message had one.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// Where an in-process subscription's messages go. Called on the publisher's task, on the hot
/// path: it must not block (hand the message to a channel and return).
pub trait InternalSink: Send + Sync + 'static {
    /// Takes one message.
    fn deliver(&self, msg: InternalMsg);
}

/// The owner side of an in-process subscription.
pub(crate) struct InternalOwner {
    pub(crate) id: u64,
    pub(crate) sink: Arc<dyn InternalSink>,
}

/// A handle on the running server for in-process clients. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
    publisher: Arc<Mutex<Publisher>>,
}

/// An in-process subscription; removed by [`InternalSubscription::unsubscribe`] or on drop.
pub struct InternalSubscription {
    shared: Arc<Shared>,
    sub: Option<SubRef>,
}

impl InternalSubscription {
    /// Removes the subscription from the router.
    pub fn unsubscribe(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        if let Some(sub) = self.sub.take() {
            self.shared.remove_sub(&sub);
        }
    }
}

impl Drop for InternalSubscription {
    fn drop(&mut self) {
        self.remove();
    }
}

impl ServerHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let id = shared.next_id();
        ServerHandle {
            shared,
            publisher: Arc::new(Mutex::new(Publisher::new(id))),
        }
    }

    /// Subscribes `sink` to `subject` (wildcards allowed), optionally in a queue group.
    pub fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        sink: Arc<dyn InternalSink>,
    ) -> Result<InternalSubscription, ServerError> {
        let id = self.shared.next_id();
        let sid = ByteStr::from(id.to_string());
        let owner = Owner::Internal(Arc::new(InternalOwner { id, sink }));
        let sub = Arc::new(Subscription::new(
            owner,
            sid,
            ByteStr::from(subject),
            queue.map(ByteStr::from),
        ));
        self.shared
            .sublist
            .insert(subject, queue, sub.clone())
            .map_err(|e| match e {
                sluice_router::RouterError::InvalidQueue => ServerError::InvalidQueue,
                sluice_router::RouterError::InvalidSubject => ServerError::InvalidSubject,
            })?;
        Ok(InternalSubscription {
            shared: self.shared.clone(),
            sub: Some(sub),
        })
    }

    /// Publishes a message as an in-process client. True if anyone received it.
    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut publisher = self.publisher.lock();
        let delivered = publisher.publish(&self.shared, subject, reply, headers, payload);
        publisher.wake_all();
        delivered
    }

    /// True if any subscription matches `subject`.
    pub fn has_interest(&self, subject: &str) -> bool {
        self.shared.sublist.has_interest(subject)
    }
}
