//! In-process clusters over the memory transport, on tokio's paused clock: elections,
//! replication, failover, partitions, catch-up by snapshot and restarts, deterministic and
//! without real sleeps.

mod cluster;
mod routes;
