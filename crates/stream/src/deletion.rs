//! Deleting a stream without the API waiting for it.
//!
//! STREAM.DELETE takes the stream out of the API's map at once (it is not found from then on)
//! and reserves its name ([`Deleting`]), then hands a [`Deletion`] to the stream's owner in
//! its [`crate::writer::Cmd::Stop`]. The owner finishes what was queued before it (so a
//! publish acked before the deletion is acked as usual), then removes the stream's records
//! (its consumers' first, then its own, so that a crash leaves at most files without a
//! record, which a restart reports and does not serve), then its files, frees the name, and
//! only then answers. A slow disk under that stream delays only its own deletion.
//!
//! While the name is reserved, STREAM.CREATE of it is refused: the new stream would open the
//! old one's directory, and the old owner's record removals would remove the new records.

use crate::api::errors::ApiError;
use crate::api::types::StreamDeleteResponse;
use crate::meta::Meta;
use crate::stream::Stream;
use parking_lot::Mutex;
use sluice_server::ServerHandle;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Names of streams being deleted: not free for a new stream until their files are gone.
#[derive(Default, Clone)]
pub(crate) struct Deleting(Arc<Mutex<HashSet<String>>>);

impl Deleting {
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.lock().contains(name)
    }

    fn reserve(&self, name: &str) {
        self.0.lock().insert(name.to_owned());
    }

    fn free(&self, name: &str) {
        self.0.lock().remove(name);
    }
}

/// A stream's deletion, carried out by its owner as its last step.
pub(crate) struct Deletion {
    name: String,
    /// Where the answer goes.
    reply: String,
    meta: Meta,
    deleting: Deleting,
    server: ServerHandle,
    api_errors: Arc<AtomicU64>,
}

impl Deletion {
    /// Reserves `name` until [`Deletion::run`] has removed the stream.
    pub(crate) fn new(
        name: &str,
        reply: &str,
        meta: Meta,
        deleting: &Deleting,
        server: ServerHandle,
        api_errors: Arc<AtomicU64>,
    ) -> Deletion {
        deleting.reserve(name);
        Deletion {
            name: name.to_owned(),
            reply: reply.to_owned(),
            meta,
            deleting: deleting.clone(),
            server,
            api_errors,
        }
    }

    /// Removes the stream's records and files, frees its name and answers.
    pub(crate) fn run(self, stream: &Mutex<Stream>) {
        let r = self.remove(stream);
        self.deleting.free(&self.name);
        if r.is_err() {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
        if self.reply.is_empty() {
            // A replica of a replicated stream: the meta leader answers.
            if let Err(e) = r {
                tracing::warn!(stream = %self.name, error = %e, "removing a replica failed");
            }
            return;
        }
        let json = crate::api::deferred::respond::<StreamDeleteResponse>(
            r.map(|()| StreamDeleteResponse::success()),
        );
        self.server.publish(&self.reply, None, None, &json);
    }

    fn remove(&self, stream: &Mutex<Stream>) -> Result<(), ApiError> {
        self.meta
            .remove_consumers_of(&self.name)
            .map_err(ApiError::stream_delete)?;
        self.meta
            .remove_stream(&self.name)
            .map_err(ApiError::stream_delete)?;
        // Under the lock: an inline store in progress finishes first; later ones see the
        // stream closed (the API closed it before handing the deletion over).
        stream
            .lock()
            .destroy_in_place()
            .map_err(ApiError::stream_delete)
    }
}
