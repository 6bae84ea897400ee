//! Restoring a stream's consumers from the metadata store: what the server does at startup,
//! and what the replay tests do on each restart (one copy, so the tests restart as the server
//! does).

use super::live::{policy_of, start_of, Consumer};
use super::set::{ConsumerRecord, Consumers};
use super::state::ConsumerState;
use crate::meta::{Meta, MetaError};
use crate::store::StoreError;
use crate::stream::Stream;
use thiserror::Error;
use tracing::warn;

/// Why a stream's consumers could not be restored.
#[derive(Debug, Error)]
pub(crate) enum RestoreError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("consumer {consumer}: unreadable record: {reason}")]
    Record { consumer: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("subscribing: {0}")]
    Subscribe(String),
}

/// Adds every consumer of `stream_name` recorded in `meta` to `consumers`, its state as last
/// saved (or from its start if none was, or it cannot be read: said in the log), reconciled
/// with what the store holds now. Restored consumers are not announced: their outbox is
/// dropped.
pub(crate) fn restore_consumers(
    meta: &Meta,
    stream_name: &str,
    stream: &mut Stream,
    consumers: &mut Consumers,
    now: i64,
) -> Result<(), RestoreError> {
    for (name, record, state) in meta.consumers_of(stream_name)? {
        let record: ConsumerRecord =
            serde_json::from_slice(&record).map_err(|e| RestoreError::Record {
                consumer: name.clone(),
                reason: e.to_string(),
            })?;
        let policy = policy_of(&record.config);
        let decoded = state.map(|b| ConsumerState::decode(policy.clone(), &b));
        let mut st = match decoded {
            Some(Ok(st)) => st,
            other => {
                if let Some(Err(e)) = other {
                    warn!(stream = %stream_name, consumer = %name, error = %e, "unreadable consumer state: starting over");
                }
                ConsumerState::new(policy, start_of(&record.config), stream.store())?
            }
        };
        st.reconcile(stream.store())?;
        let c = Consumer::new(
            stream_name,
            &name,
            record.config,
            record.created,
            st,
            true,
            now,
        );
        consumers.add(c).map_err(RestoreError::Subscribe)?;
    }
    consumers.discard_outbox();
    Ok(())
}
