//! Consumers: nats-server's `ConsumerConfig` with its defaults and checks ([`config`]), and
//! the `$JS.ACK.` reply subjects and ack payloads clients send back ([`ack_subject`]). The
//! `$JS.API.CONSUMER.*` request/response JSON is in [`crate::api::consumer_types`].

pub mod ack_subject;
pub mod config;
pub mod state;
