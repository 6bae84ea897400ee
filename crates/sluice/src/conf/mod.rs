//! Configuration files in nats-server's format (`-c FILE`).
//!
//! [`parser`] (driving the character scanner in [`lexer`]) turns the text into a
//! [`value::Map`] whose every value remembers its file and line; [`options`] reads the
//! keys sluice supports out of it into [`FileOptions`] (the `cluster` block in [`cluster`];
//! the `tls` blocks in [`tls`];
//! `authorization`, `accounts` and `no_auth_user` in [`accounts`], an account's
//! `exports` and `imports` in `exports`; operator mode's `operator`, `resolver`,
//! `resolver_preload` in [`operator`]). Every error reads
//! `FILE:LINE: what`.

pub mod account_jetstream;
pub mod accounts;
pub mod cluster;
mod exports;
pub mod lexer;
pub mod operator;
pub mod options;
pub mod parser;
pub mod tls;
pub mod value;

pub use options::FileOptions;
pub use value::ConfError;

use std::path::Path;

/// Reads, parses and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<FileOptions, ConfError> {
    options::from_map(&parser::parse_file(path)?)
}

#[cfg(test)]
mod operator_tests;
#[cfg(test)]
mod tests;
