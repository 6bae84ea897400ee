//! sluice-stream: the JetStream-compatible stream layer (streams, consumers, storage, `$JS.API`).
//!
//! Not built yet: this crate is a placeholder so the workspace has its final shape. It must never
//! be imported by the protocol, router or server crates (the dependency graph is one-way).
