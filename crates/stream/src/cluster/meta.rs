//! The meta group's machine: which replicated streams exist, with which config, on which
//! servers and in which Raft group (nats-server's stream assignments). Every JetStream server
//! of the cluster applies the same [`MetaOp`]s in the same order and so holds the same
//! [`MetaState`]; what a server must run follows from it ([`MetaState::plan`]).
//!
//! Pure: no I/O, no clock, no randomness (times, group names and placement seeds are in the
//! ops, drawn by the meta leader when it proposes them). Ops are JSON in the log (stream
//! configs use serde features a compact binary encoding does not support), rare and small.
//! Consumers are not assigned here: they are ops of their stream's own group, replicated with
//! it.

use crate::api::errors::ApiError;
use crate::config::StreamConfig;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A replicated stream as the meta group placed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamAssignment {
    pub config: StreamConfig,
    /// Its Raft group's name (unique for the life of the cluster: a stream deleted and made
    /// again gets a new group, so a lagging server never mixes the two).
    pub group: String,
    /// The servers holding a replica, by name.
    pub peers: Vec<String>,
    /// When it was created (ns since the Unix epoch).
    pub created_ns: i64,
}

/// A change to the assignments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaOp {
    /// `STREAM.CREATE` placed by the meta leader.
    AddStream(Box<StreamAssignment>),
    /// `STREAM.UPDATE`: the checked config and the (possibly rescaled) replica set.
    UpdateStream {
        config: Box<StreamConfig>,
        peers: Vec<String>,
    },
    /// `STREAM.DELETE`.
    RemoveStream { name: String },
    /// `STREAM.PEER.REMOVE`: `peer` leaves the stream's group; `replacement` (when a server
    /// was free) joins it.
    RemovePeer {
        stream: String,
        peer: String,
        replacement: Option<String>,
    },
    /// `SERVER.REMOVE`: the server leaves the meta group and is not added back while it
    /// stays connected.
    RemoveServer { name: String },
}

/// What applying a [`MetaOp`] came to: the assignment it made or changed, or why not.
pub type MetaOutcome = Result<Option<StreamAssignment>, ApiError>;

/// Every replicated stream's assignment, by stream name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetaState {
    pub streams: BTreeMap<String, StreamAssignment>,
    /// Servers removed by `SERVER.REMOVE`.
    #[serde(default)]
    pub removed: BTreeSet<String>,
}

/// What one server must do to run what the assignments give it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start (or join) a stream's group.
    Start(Box<StreamAssignment>),
    /// Stop a group this server no longer holds a replica of (the stream is gone, or the
    /// server was removed from it).
    Stop { group: String },
}

impl MetaState {
    /// Applies one op. The meta leader checked it before proposing; it is checked again here
    /// against the state it lands on, as another op may have come first.
    pub fn apply(&mut self, op: MetaOp) -> MetaOutcome {
        match op {
            MetaOp::AddStream(sa) => {
                if let Some(have) = self.streams.get(&sa.config.name) {
                    return if have.config == sa.config {
                        Ok(Some(have.clone()))
                    } else {
                        Err(ApiError::stream_name_exist())
                    };
                }
                self.streams.insert(sa.config.name.clone(), (*sa).clone());
                Ok(Some(*sa))
            }
            MetaOp::UpdateStream { config, peers } => {
                let sa = self
                    .streams
                    .get_mut(&config.name)
                    .ok_or_else(ApiError::stream_not_found)?;
                sa.config = *config;
                sa.peers = peers;
                Ok(Some(sa.clone()))
            }
            MetaOp::RemoveStream { name } => match self.streams.remove(&name) {
                Some(sa) => Ok(Some(sa)),
                None => Err(ApiError::stream_not_found()),
            },
            MetaOp::RemovePeer {
                stream,
                peer,
                replacement,
            } => {
                let sa = self
                    .streams
                    .get_mut(&stream)
                    .ok_or_else(ApiError::stream_not_found)?;
                let Some(at) = sa.peers.iter().position(|p| *p == peer) else {
                    return Err(ApiError::cluster_peer_not_member());
                };
                match replacement {
                    Some(r) if !sa.peers.contains(&r) => sa.peers[at] = r,
                    _ => {
                        sa.peers.remove(at);
                    }
                }
                Ok(Some(sa.clone()))
            }
            MetaOp::RemoveServer { name } => {
                self.removed.insert(name);
                Ok(None)
            }
        }
    }

    /// What server `me`, running the groups `running`, must start and stop.
    pub fn plan(&self, me: &str, running: &BTreeSet<String>) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut wanted = BTreeSet::new();
        for sa in self.streams.values() {
            if sa.peers.iter().any(|p| p == me) {
                wanted.insert(sa.group.clone());
                if !running.contains(&sa.group) {
                    actions.push(Action::Start(Box::new(sa.clone())));
                }
            }
        }
        for g in running {
            if !wanted.contains(g) {
                actions.push(Action::Stop { group: g.clone() });
            }
        }
        actions
    }

    /// The state as bytes (a meta snapshot), and back.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<MetaState, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

impl MetaOp {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<MetaOp, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, replicas: i64) -> StreamConfig {
        let json =
            format!(r#"{{"name":"{name}","subjects":["{name}.>"],"num_replicas":{replicas}}}"#);
        serde_json::from_str(&json).unwrap()
    }

    fn add(name: &str, peers: &[&str]) -> MetaOp {
        MetaOp::AddStream(Box::new(StreamAssignment {
            config: config(name, peers.len() as i64),
            group: format!("S-{name}-1"),
            peers: peers.iter().map(|p| p.to_string()).collect(),
            created_ns: 1_700_000_000_000_000_000,
        }))
    }

    #[test]
    fn every_server_applying_the_same_ops_holds_the_same_state() {
        let ops = vec![
            add("a", &["n1", "n2", "n3"]),
            add("b", &["n2"]),
            MetaOp::RemovePeer {
                stream: "a".into(),
                peer: "n3".into(),
                replacement: Some("n4".into()),
            },
            MetaOp::RemoveStream { name: "b".into() },
            MetaOp::RemoveServer { name: "n9".into() },
        ];
        let mut one = MetaState::default();
        let mut two = MetaState::default();
        for op in &ops {
            let r1 = one.apply(op.clone());
            // Through the log's encoding, as a replica gets it.
            let r2 = two.apply(MetaOp::decode(&op.encode()).unwrap());
            assert_eq!(r1, r2);
        }
        assert_eq!(one, two);
        assert_eq!(one.streams["a"].peers, ["n1", "n2", "n4"]);
        assert!(!one.streams.contains_key("b"));
        assert!(one.removed.contains("n9"));
        assert_eq!(MetaState::decode(&one.encode()).unwrap(), one);
    }

    #[test]
    fn a_name_taken_with_another_config_is_10058_and_the_same_config_is_idempotent() {
        let mut s = MetaState::default();
        assert!(s.apply(add("a", &["n1", "n2", "n3"])).is_ok());
        assert!(s.apply(add("a", &["n1", "n2", "n3"])).is_ok());
        let other = MetaOp::AddStream(Box::new(StreamAssignment {
            config: config("a", 1),
            group: "S-a-2".into(),
            peers: vec!["n1".into()],
            created_ns: 0,
        }));
        assert_eq!(s.apply(other).unwrap_err().err_code, 10058);
        assert_eq!(s.streams["a"].group, "S-a-1");
        let gone = s
            .apply(MetaOp::RemoveStream { name: "zz".into() })
            .unwrap_err();
        assert_eq!(gone.err_code, 10059);
        let not_member = s
            .apply(MetaOp::RemovePeer {
                stream: "a".into(),
                peer: "n9".into(),
                replacement: None,
            })
            .unwrap_err();
        assert_eq!(not_member.err_code, 10040);
    }

    #[test]
    fn a_server_starts_the_groups_it_holds_and_stops_the_others() {
        let mut s = MetaState::default();
        s.apply(add("a", &["n1", "n2", "n3"])).unwrap();
        s.apply(add("b", &["n2", "n3", "n4"])).unwrap();
        let running: BTreeSet<String> = ["S-b-1".to_string(), "S-old-7".to_string()].into();
        let plan = s.plan("n1", &running);
        assert_eq!(plan.len(), 3);
        assert!(matches!(&plan[0], Action::Start(sa) if sa.group == "S-a-1"));
        assert!(plan.contains(&Action::Stop {
            group: "S-b-1".into()
        }));
        assert!(plan.contains(&Action::Stop {
            group: "S-old-7".into()
        }));
        let all: BTreeSet<String> = ["S-a-1".to_string(), "S-b-1".to_string()].into();
        assert!(s.plan("n2", &all).is_empty());
    }
}
