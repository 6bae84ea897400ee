//! `sluice-router`: subject routing for Sluice.
//!
//! **Owns** the subject trie (literal tokens, `*` and `>` wildcards), queue groups, the
//! subscription registry [`Sublist`] and its match-result cache. Given a literal subject it
//! answers "who is interested": plain subscribers plus one [`QueueGroup`] per queue name.
//!
//! **Must never** do I/O, spawn tasks, depend on tokio, or import the server/stream crates:
//! this is a lower layer, synchronous and generic over the subscription handle `T` (the
//! server uses `Arc<Subscription>`). Subject syntax lives in [`sluice_protocol::subject`].
//!
//! Subject rules: tokens are separated by `.`; a whole-token `*` matches exactly one token;
//! a whole-token `>` in last position matches one or more trailing tokens (`foo.>` does not
//! match `foo`).
//!
//! ```
//! use sluice_router::Sublist;
//! let subs = Sublist::new();
//! subs.insert("orders.*", None, 1u32).unwrap();
//! subs.insert("orders.>", Some("workers"), 2).unwrap();
//! let m = subs.matches("orders.new");
//! assert_eq!(m.plain, vec![1]);
//! assert_eq!(m.queue("workers").unwrap().members, vec![2]);
//! ```

mod cache;
mod error;
mod result;
mod sublist;
mod trie;

pub use error::RouterError;
pub use result::{MatchResult, QueueGroup};
pub use sublist::{Sublist, DEFAULT_CACHE_CAPACITY};
