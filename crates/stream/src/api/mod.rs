//! The `$JS.API` layer: request/response JSON ([`types`], [`consumer_types`]), errors
//! ([`errors`]), and the request handlers (streams in `handlers`, consumers in
//! `consumer_handlers`).

pub mod ack;
pub(crate) mod consumer_handlers;
pub mod consumer_types;
pub(crate) mod deferred;
pub mod errors;
pub(crate) mod handlers;
pub(crate) mod not_enabled;
pub mod types;
