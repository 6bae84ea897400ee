//! The `$JS.API` layer: request/response JSON ([`types`]) and errors ([`errors`]).

pub mod ack;
pub mod consumer_types;
pub mod errors;
pub(crate) mod handlers;
pub mod types;
