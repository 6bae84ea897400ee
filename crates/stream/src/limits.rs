//! JetStream's account and server limits, as nats-server 2.9.10 enforces them: pure
//! decisions (usage and a request in, allow or a typed refusal out), no I/O and no locks.
//! The API calls [`check_stream`] before creating or updating a stream; [`ServerReservations`]
//! keeps the server-wide sum of reserved `max_bytes` across every account's JetStream.
//!
//! What nats-server does, and so this does:
//! - A stream with `max_bytes` set reserves it against its account's `max_memory` /
//!   `max_file` (by its storage) and against the server's `max_memory_store` /
//!   `max_file_store`; a stream without reserves 1 byte (`checkBytesLimits`).
//! - `max_streams` counts the account's streams (`jsNonClusteredStreamLimitsCheck`);
//!   a stream whose `max_consumers` is over the account's is refused with 10026.
//! - `max_bytes_required` and the per-stream byte caps are checked after those
//!   (`checkStreamCfg`), with 10113 and 10122.
//! - A consumer is refused once its stream has the lower of the stream's and the account's
//!   `max_consumers` (`consumer/config/plan.rs`).
//! - What is stored, as opposed to reserved, is counted in `quota.rs`: a publish after which
//!   the account stores more than its limit gets 10002, one while the server stores more
//!   than its limit 10023.

use crate::api::errors::ApiError;
use crate::api::types::AccountLimits;
use crate::config::{StorageType, StreamConfig};
use parking_lot::Mutex;
use std::sync::Arc;

/// Why a request is refused (mapped to nats-server's error in [`LimitError::api`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("maximum number of streams reached")]
    MaxStreams,
    #[error("maximum consumers limit reached")]
    MaxConsumers,
    #[error("insufficient memory resources available")]
    Memory,
    #[error("insufficient storage resources available")]
    Storage,
    #[error("account requires a stream config to have max bytes set")]
    MaxBytesRequired,
    #[error("stream max bytes exceeds account limit max stream bytes")]
    MaxStreamBytes,
}

impl LimitError {
    /// nats-server's API error.
    pub fn api(self) -> ApiError {
        match self {
            LimitError::MaxStreams => ApiError::maximum_streams_limit(),
            LimitError::MaxConsumers => ApiError::maximum_consumers_limit(),
            LimitError::Memory => ApiError::memory_resources_exceeded(),
            LimitError::Storage => ApiError::storage_resources_exceeded(),
            LimitError::MaxBytesRequired => ApiError::stream_max_bytes_required(),
            LimitError::MaxStreamBytes => ApiError::stream_max_stream_bytes_exceeded(),
        }
    }
}

/// The server's `max_memory_store` / `max_file_store` (-1: not limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_memory: i64,
    pub max_store: i64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_memory: -1,
            max_store: -1,
        }
    }
}

/// Bytes reserved by streams' `max_bytes`, per storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reserved {
    pub memory: i64,
    pub store: i64,
}

impl Reserved {
    fn of(&self, storage: StorageType) -> i64 {
        match storage {
            StorageType::Memory => self.memory,
            StorageType::File => self.store,
        }
    }

    /// `cfg`'s reservation added (`sign` 1) or taken away (-1).
    pub fn add(&mut self, stream: &StreamAsk, sign: i64) {
        let r = stream.reservation() * sign;
        match stream.storage {
            StorageType::Memory => self.memory += r,
            StorageType::File => self.store += r,
        }
    }
}

/// What of a stream's config the limits look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamAsk {
    pub storage: StorageType,
    /// -1 or 0: not set.
    pub max_bytes: i64,
    pub max_consumers: i64,
    pub replicas: i64,
}

impl From<&StreamConfig> for StreamAsk {
    fn from(cfg: &StreamConfig) -> StreamAsk {
        StreamAsk {
            storage: cfg.storage,
            max_bytes: cfg.max_bytes,
            max_consumers: cfg.max_consumers,
            replicas: cfg.num_replicas,
        }
    }
}

impl StreamAsk {
    /// What it reserves (nats-server's `reserveStreamResources`: `max_bytes`, when set).
    pub fn reservation(&self) -> i64 {
        if self.max_bytes > 0 {
            self.max_bytes.saturating_mul(self.replicas.max(1))
        } else {
            0
        }
    }
}

/// The account's usage a stream request is checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountUsage {
    /// Its streams (for a create: not counting the one asked for).
    pub streams: usize,
    /// What its other streams reserve.
    pub reserved: Reserved,
}

/// Checks a stream create (`creating`) or update against the account's `limits`, the
/// server's, and what the server has reserved besides this stream (`server_reserved`), in
/// nats-server's order.
pub fn check_stream(
    limits: &AccountLimits,
    server: &ServerLimits,
    usage: &AccountUsage,
    server_reserved: &Reserved,
    ask: &StreamAsk,
    creating: bool,
) -> Result<(), LimitError> {
    if creating && limits.max_streams > 0 && usage.streams as i64 >= limits.max_streams {
        return Err(LimitError::MaxStreams);
    }
    if ask.max_consumers > 0 && limits.max_consumers > 0 && ask.max_consumers > limits.max_consumers
    {
        return Err(LimitError::MaxConsumers);
    }
    // checkBytesLimits, first on the request as sent (max_bytes unset adds nothing), then,
    // after checkStreamCfg's checks, on the config with defaults (unset adds 1 byte).
    bytes_fit(
        limits,
        server,
        usage,
        server_reserved,
        ask,
        ask.max_bytes.max(0),
    )?;
    if limits.max_bytes_required && ask.max_bytes <= 0 {
        return Err(LimitError::MaxBytesRequired);
    }
    let stream_cap = match ask.storage {
        StorageType::Memory => limits.memory_max_stream_bytes,
        StorageType::File => limits.storage_max_stream_bytes,
    };
    if stream_cap > 0 && ask.max_bytes > stream_cap {
        return Err(LimitError::MaxStreamBytes);
    }
    bytes_fit(
        limits,
        server,
        usage,
        server_reserved,
        ask,
        ask.max_bytes.max(1),
    )
}

/// nats-server's `checkBytesLimits`: `add` bytes (times the replicas, for the account) over
/// what is reserved must fit the account's and the server's limit of the stream's storage.
fn bytes_fit(
    limits: &AccountLimits,
    server: &ServerLimits,
    usage: &AccountUsage,
    server_reserved: &Reserved,
    ask: &StreamAsk,
    add: i64,
) -> Result<(), LimitError> {
    let total = add.saturating_mul(ask.replicas.max(1));
    let (account_max, server_max, refusal) = match ask.storage {
        StorageType::Memory => (limits.max_memory, server.max_memory, LimitError::Memory),
        StorageType::File => (limits.max_storage, server.max_store, LimitError::Storage),
    };
    if account_max >= 0 && usage.reserved.of(ask.storage).saturating_add(total) > account_max {
        return Err(refusal);
    }
    if server_max >= 0 && server_reserved.of(ask.storage).saturating_add(add) > server_max {
        return Err(refusal);
    }
    Ok(())
}

/// nats-server's `sufficientResources` when it enables JetStream in the accounts at
/// startup: the accounts' positive `max_memory` and `max_file`, summed, must fit the server's
/// limits (memory checked first).
pub fn accounts_fit<'a>(
    server: &ServerLimits,
    accounts: impl IntoIterator<Item = &'a AccountLimits>,
) -> Result<(), LimitError> {
    let (mut memory, mut store) = (0i64, 0i64);
    for limits in accounts {
        memory = memory.saturating_add(limits.max_memory.max(0));
        store = store.saturating_add(limits.max_storage.max(0));
        if server.max_memory >= 0 && memory > server.max_memory {
            return Err(LimitError::Memory);
        }
        if server.max_store >= 0 && store > server.max_store {
            return Err(LimitError::Storage);
        }
    }
    Ok(())
}

/// The server-wide reservations of every account's streams, checked and changed under one
/// lock (accounts create streams concurrently).
#[derive(Debug, Default)]
pub struct ServerReservations {
    pub limits: ServerLimits,
    reserved: Mutex<Reserved>,
    /// What every account's streams store (`quota.rs`).
    pub stored: Arc<crate::quota::StoredBytes>,
}

impl ServerReservations {
    pub fn new(limits: ServerLimits) -> ServerReservations {
        ServerReservations {
            limits,
            reserved: Mutex::new(Reserved::default()),
            stored: Arc::default(),
        }
    }

    /// Runs `check` with what is reserved; if it allows, replaces `old`'s reservation (a
    /// stream being updated; `None` for a create) by `new`'s.
    pub fn reserve<E>(
        &self,
        old: Option<&StreamAsk>,
        new: &StreamAsk,
        check: impl FnOnce(&Reserved) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = self.reserved.lock();
        let mut others = *r;
        if let Some(old) = old {
            others.add(old, -1);
        }
        check(&others)?;
        others.add(new, 1);
        *r = others;
        Ok(())
    }

    /// Gives back a stream's reservation (deleted, or stopped).
    pub fn release(&self, stream: &StreamAsk) {
        self.reserved.lock().add(stream, -1);
    }

    /// What is reserved now.
    pub fn reserved(&self) -> Reserved {
        *self.reserved.lock()
    }
}

/// A stream's part of [`ServerReservations`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<ServerReservations>,
    ask: StreamAsk,
}

impl Reservation {
    /// Reserves `ask` if `check` allows with what is reserved besides.
    pub fn take<E>(
        pool: &Arc<ServerReservations>,
        ask: StreamAsk,
        check: impl FnOnce(&Reserved) -> Result<(), E>,
    ) -> Result<Reservation, E> {
        pool.reserve(None, &ask, check)?;
        Ok(Reservation {
            pool: pool.clone(),
            ask,
        })
    }

    /// Reserves `ask` unchecked (a stream restored at startup is there already).
    pub fn force(pool: &Arc<ServerReservations>, ask: StreamAsk) -> Reservation {
        Reservation::take(pool, ask, |_| Ok::<(), std::convert::Infallible>(()))
            .unwrap_or_else(|never| match never {})
    }

    /// Replaces this reservation by `ask` if `check` allows with what is reserved besides.
    pub fn change<E>(
        &mut self,
        ask: StreamAsk,
        check: impl FnOnce(&Reserved) -> Result<(), E>,
    ) -> Result<(), E> {
        self.pool.reserve(Some(&self.ask), &ask, check)?;
        self.ask = ask;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.release(&self.ask);
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
