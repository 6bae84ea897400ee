//! The messages Raft nodes exchange, and their encoding: a request names the group it is for;
//! the answer is openraft's response or its error, or "no such group here" (the group is not
//! started on that node yet, or any more: the sender backs off and retries).
//!
//! Encoded with bincode (openraft's types are serde); a frame that does not decode is refused
//! with an error, never a panic.
//!
//! A leaf module: it names types and encodes them, nothing else.

use crate::types::{NodeId, TypeConfig};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

/// A request from one group member to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum Rpc {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Node to node, for no group: the sender is alive (`liveness.rs`).
    Beat {
        from: NodeId,
    },
    /// From a leader stepping down: start an election now.
    Elect {
        from: NodeId,
    },
}

/// A request and the group it is for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub group: String,
    pub rpc: Rpc,
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// The group is not running on the node asked.
    NoGroup,
    /// The answer to a beat.
    Beat,
    /// The election was started.
    Elect,
    /// The request did not decode.
    Malformed(String),
}

/// A frame that is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed raft frame: {0}")]
pub struct DecodeError(pub String);

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising these types into a vector cannot fail (no maps with non-string keys, no
        // sequences of unknown length).
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        bincode::deserialize(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Reply, DecodeError> {
        bincode::deserialize(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId, Vote};

    #[test]
    fn a_request_round_trips_and_garbage_is_an_error() {
        let req = Request {
            group: "S-orders".into(),
            rpc: Rpc::Vote(VoteRequest::new(
                Vote::new(3, 7),
                Some(LogId::new(CommittedLeaderId::new(2, 7), 41)),
            )),
        };
        let back = Request::decode(&req.encode()).unwrap();
        assert_eq!(back.group, "S-orders");
        match back.rpc {
            Rpc::Vote(v) => {
                assert_eq!(v.vote, Vote::new(3, 7));
                assert_eq!(v.last_log_id.unwrap().index, 41);
            }
            other => panic!("decoded as {other:?}"),
        }
        assert!(Request::decode(b"\xff\xff\xff").is_err());
        assert!(Reply::decode(b"").is_err());
    }
}
