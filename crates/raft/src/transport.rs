//! How Raft messages travel: the [`Transport`] a node is given (over the cluster's routes in
//! the server, in memory in tests) and openraft's network traits on top of it.
//!
//! A transport moves opaque frames: [`Transport::call`] sends a request frame to a node and
//! returns its reply frame, or [`Unreachable`] when the node cannot be reached in time. The
//! group, the kind of RPC and the encoding are this module's and `rpc.rs`'s business.

use crate::rpc::{Reply, Request, Rpc};
use crate::types::{NodeId, TypeConfig};
use bytes::Bytes;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError,
    Unreachable as OrUnreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A future a transport returns.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Bytes, Unreachable>> + Send>>;

/// Moves request frames to other nodes and brings their replies back.
pub trait Transport: Send + Sync + 'static {
    /// Sends `frame` to node `target` (named `name`) and waits at most `timeout` for its reply.
    fn call(&self, target: NodeId, name: &str, frame: Bytes, timeout: Duration) -> CallFuture;
}

/// A node could not be reached (no route, cut, or no answer in time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("raft peer unreachable: {0}")]
pub struct Unreachable(pub String);

/// openraft's network factory for one group: a client per peer, all over one transport.
#[derive(Clone)]
pub struct Network {
    group: String,
    transport: Arc<dyn Transport>,
}

impl Network {
    pub fn new(group: &str, transport: Arc<dyn Transport>) -> Self {
        Network {
            group: group.to_string(),
            transport,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Client {
        Client {
            group: self.group.clone(),
            target,
            name: node.addr.clone(),
            transport: self.transport.clone(),
        }
    }
}

/// One group's link to one peer.
pub struct Client {
    group: String,
    target: NodeId,
    name: String,
    transport: Arc<dyn Transport>,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

impl Client {
    async fn call(&self, rpc: Rpc, timeout: Duration) -> Result<Reply, NetErr> {
        let frame = Request {
            group: self.group.clone(),
            rpc,
        }
        .encode();
        let reply = self
            .transport
            .call(self.target, &self.name, Bytes::from(frame), timeout)
            .await
            .map_err(NetErr::Unreachable)?;
        match Reply::decode(&reply) {
            Ok(Reply::NoGroup) => Err(NetErr::Unreachable(Unreachable(format!(
                "group {} is not running on {}",
                self.group, self.name
            )))),
            Ok(Reply::Malformed(e)) => Err(NetErr::Network(format!("peer refused frame: {e}"))),
            Ok(r) => Ok(r),
            Err(e) => Err(NetErr::Network(e.to_string())),
        }
    }

    fn remote<E: std::error::Error>(
        &self,
        e: RaftError<NodeId, E>,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            BasicNode::new(self.name.clone()),
            e,
        ))
    }
}

/// Why a call failed before an answer of the right kind came back.
enum NetErr {
    Unreachable(Unreachable),
    Network(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

impl NetErr {
    fn into_rpc<E: std::error::Error>(self) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        match self {
            NetErr::Unreachable(u) => RPCError::Unreachable(OrUnreachable::new(&u)),
            NetErr::Network(m) => RPCError::Network(NetworkError::new(&Msg(m))),
        }
    }
}

fn wrong_kind<E: std::error::Error>() -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
    RPCError::Network(NetworkError::new(&Msg("reply of the wrong kind".into())))
}

impl RaftNetwork<TypeConfig> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        match self.call(Rpc::AppendEntries(rpc), option.hard_ttl()).await {
            Ok(Reply::AppendEntries(Ok(r))) => Ok(r),
            Ok(Reply::AppendEntries(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(wrong_kind()),
            Err(e) => Err(e.into_rpc()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        match self
            .call(Rpc::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(Reply::InstallSnapshot(Ok(r))) => Ok(r),
            Ok(Reply::InstallSnapshot(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(wrong_kind()),
            Err(e) => Err(e.into_rpc()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        match self.call(Rpc::Vote(rpc), option.hard_ttl()).await {
            Ok(Reply::Vote(Ok(r))) => Ok(r),
            Ok(Reply::Vote(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(wrong_kind()),
            Err(e) => Err(e.into_rpc()),
        }
    }
}
