//! Tests of the write-ahead log: openraft's storage suite, a model-based property test,
//! group commit, backpressure, segment GC, corruption and shutdown.

/// Runs test `fn $name(base: WalOptions)` twice: with the default memory budget, and with
/// none (every entry is read back from the segments once written).
macro_rules! both_budgets {
    ($name:ident) => {
        mod $name {
            #[test]
            fn default_budget() {
                super::$name(crate::wal::WalOptions::default())
            }

            #[test]
            fn no_memory_budget() {
                super::$name(crate::wal::WalOptions {
                    memory_per_group: 0,
                    ..crate::wal::WalOptions::default()
                })
            }
        }
    };
}
mod behavior;
mod cluster;
mod evict;
mod model;
mod suite;

use bytes::Bytes;
use openraft::{CommittedLeaderId, EntryPayload};

use crate::types::{Entry, LogId};
use crate::wal::GroupLog;

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn entry(term: u64, index: u64, data: &str) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(Bytes::from(data.to_string())),
    }
}

/// Appends and waits until the writer reports the batch flushed.
pub(crate) async fn append_wait(log: &GroupLog, entries: Vec<Entry>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    log.append_with(
        entries,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    )
    .await
    .unwrap();
    rx.await.unwrap().unwrap();
}
