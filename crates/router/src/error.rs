//! Errors returned by the router.

/// Why a subscription could not be registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum RouterError {
    /// The subject is not a valid subscription subject (empty token, whitespace, `>` not last, ...).
    #[error("Invalid Subject")]
    InvalidSubject,
    /// The queue group name is empty or contains whitespace.
    #[error("Invalid Queue Name")]
    InvalidQueue,
}
