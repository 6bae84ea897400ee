//! nats-server's route protocol (server <-> server links of a cluster), as nats-server 2.9.10
//! speaks it: the ops ([`RouteOp`]), their INFO/CONNECT bodies ([`RouteInfo`],
//! [`RouteConnect`]), the parser ([`parse_route`], zero-copy [`parse_route_bytes`]) and the
//! encoder ([`RouteOp::encode`], and [`encode_rmsg`] for the hot path). Pure: no I/O.
//!
//! The grammar, with lines captured between two nats-server 2.9.10 nodes, is in
//! protocol-spec/routes.md; the vectors in protocol-spec/vectors/route/.
//!
//! The ops: `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR` as in the client protocol;
//! `RS+ <account> <subject> [<queue> <weight>]` and `RS- <account> <subject> [<queue>]`
//! (interest); `RMSG <account> <subject> [<reply>] <size>` and, when the receiver's queue
//! groups are named, `RMSG <account> <subject> + <reply> <queue>... <size>` or
//! `RMSG <account> <subject> | <queue>... <size>`; `HMSG` likewise with a header size before
//! the total size; and the leafnode-origin forms `LS+`, `LS-`, `LMSG`, sent only to a peer
//! whose CONNECT said `lnoc: true`.

mod args;
mod encode;
mod info;
mod op;
mod parse;

pub use encode::{
    encode_lmsg, encode_ls_sub, encode_ls_unsub, encode_rmsg, encode_rs_sub, encode_rs_unsub,
};
pub use info::{RouteConnect, RouteInfo, SubjectPermission};
pub use op::{QueueWeight, RouteOp};
pub use parse::{parse_route, parse_route_bytes};
