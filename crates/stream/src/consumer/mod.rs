//! Consumers: nats-server's `ConsumerConfig` with its defaults and checks ([`config`]), the
//! `$JS.ACK.` reply subjects and ack payloads clients send back ([`ack_subject`]), the
//! delivery and ack state machine ([`state`]), the live consumers a stream's writer serves
//! ([`live`], [`pull`], [`push`], [`set`], `subs`), their restore at startup (`restore`), the
//! set as data for a stream group's snapshot ([`image`]) and their advisories ([`advisory`]).
//! The
//! `$JS.API.CONSUMER.*` request/response JSON is in [`crate::api::consumer_types`], its
//! handlers in `crate::api::consumer_handlers`.

pub mod ack_subject;
pub mod advisory;
pub mod config;
pub(crate) mod image;
pub mod live;
pub mod pull;
pub mod push;
pub(crate) mod restore;
pub mod set;
pub mod state;
mod subs;
