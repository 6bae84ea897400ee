//! The library half of the `sluice` crate: what the binary (src/main.rs, see its docs) shares
//! with the fuzz targets in `fuzz/`. Not an API for other crates.
//!
//! * [`conf`]: nats-server's configuration file format (`-c FILE`).
//! * [`fuzzing`]: the check behind the `config_file` fuzz target, which the stable test suite
//!   also runs on the committed inputs (`tests/fuzz_replay.rs`).

pub mod conf;
#[doc(hidden)]
pub mod fuzzing;

/// nats-server's default client port.
pub const DEFAULT_PORT: u16 = 4222;
