//! What a single-server owner does when a write or sync fails: the store is re-read so that
//! refused publishes are not kept, and the answers of the entries that did not reach the
//! promised durability become errors.

use super::HeldAck;
use crate::api::deferred::{Answer, OpAnswer};
use crate::consumer::set::Consumers;
use crate::oplog::Index;
use crate::store::StoreError;
use crate::stream::{PublishError, Stream};
use std::ops::RangeInclusive;
use tracing::{error, warn};

/// After a failed write or sync: drops what the store could not write, so that refused
/// publishes are not stored after all (nor delivered) once the disk has room again. True if
/// the store is back in step with its files (nothing left to sync).
pub(crate) fn forget_unwritten(
    s: &mut Stream,
    consumers: &mut Consumers,
    name: &str,
    now: i64,
) -> bool {
    match s.reload(now) {
        Ok(dropped) => {
            let st = s.state();
            warn!(
                stream = %name,
                dropped,
                last_seq = st.last_seq,
                messages = st.msgs,
                "dropped the messages that could not be written; the stream goes on from its last written message"
            );
            consumers.reconcile(s);
            true
        }
        Err(e) => {
            error!(stream = %name, error = %e, "the store could not be re-read after a failed write: it refuses writes until the server restarts");
            false
        }
    }
}

/// Turns every successful answer to a purge or message delete in `lost` into an error: the
/// change did not reach the disk (what was written is re-read, `forget_unwritten`), so its
/// success may not be reported.
pub(super) fn fail_answers(
    answers: &mut [(Index, Option<OpAnswer>, Answer)],
    lost: RangeInclusive<Index>,
    e: &StoreError,
) {
    for (_, kind, a) in answers.iter_mut().filter(|(i, _, _)| lost.contains(i)) {
        if let (Some(kind), false) = (kind, a.is_error) {
            let why = format!("store failure, the change may not be durable: {e}");
            a.payload = crate::api::deferred::answer_error(*kind, &why);
            a.is_error = true;
        }
    }
}

/// Turns every successful answer in `acks` to an entry in `lost` into a store failure: their
/// batch did not reach the promised durability, so none of it may be acked.
pub(super) fn fail_acks(
    acks: &mut [HeldAck],
    lost: RangeInclusive<Index>,
    name: &str,
    e: &StoreError,
) {
    for (_, _, r) in acks.iter_mut().filter(|(i, _, _)| lost.contains(i)) {
        if r.is_ok() {
            *r = Err(PublishError::Store(StoreError::Io {
                path: name.to_owned(),
                source: std::io::Error::other(e.to_string()),
            }));
        }
    }
}
