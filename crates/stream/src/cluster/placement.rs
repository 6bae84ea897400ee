//! Where a replicated stream's replicas go: nats-server 2.9.10's peer selection
//! (`selectPeerGroup`), as a pure function of what the meta group knows about its servers.
//!
//! A server is a candidate when it is in the stream's cluster, online, not tagged
//! `!jetstream`, carries every tag the placement asks for, has room for the stream's
//! `max_bytes` in the stream's storage kind, and (with `unique_tag` configured) has a tag with
//! that prefix no server already picked has. Candidates are taken most available first; ties
//! are broken by a hash of the op's seed and the name (nats-server shuffles at random: a seed
//! carried in the op keeps this deterministic, so every replica that replays it agrees).
//!
//! When fewer than needed qualify, the error says why the others did not, in nats-server's
//! words (`no suitable peers for placement, peer offline, tags not matched ['x']`).

use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// The tag that keeps a server out of every placement.
pub const EXCLUDE_TAG: &str = "!jetstream";

/// What the meta group knows about one JetStream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub name: String,
    pub cluster: String,
    pub tags: Vec<String>,
    pub offline: bool,
    /// Bytes still available for streams of the storage kind being placed.
    pub available: u64,
    /// Replicated assets (groups) it already holds.
    pub ha_assets: usize,
}

/// What to place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request<'a> {
    pub replicas: usize,
    pub cluster: &'a str,
    pub tags: &'a [String],
    /// The stream's `max_bytes` (0 or less: none).
    pub max_bytes: i64,
    /// `jetstream.unique_tag`: a prefix; servers sharing a tag with it never hold the same
    /// stream. Empty: no rule.
    pub unique_tag: &'a str,
    /// Servers already holding the stream (kept, and counted, when scaling up).
    pub existing: &'a [String],
    /// Servers not to pick (a peer being removed).
    pub ignore: &'a [String],
    /// Breaks ties among equally available servers.
    pub seed: u64,
}

/// Why no placement was found: nats-server's `selectPeerError`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoPeers {
    pub offline: bool,
    pub exclude_tag: bool,
    pub no_storage: bool,
    pub unique_tag: bool,
    pub misc: bool,
    pub no_jetstream: bool,
    pub unmatched_tags: BTreeSet<String>,
}

impl fmt::Display for NoPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no suitable peers for placement")?;
        for (on, why) in [
            (self.offline, "peer offline"),
            (self.exclude_tag, "exclude tag set"),
            (self.no_storage, "insufficient storage"),
            (self.unique_tag, "server tag not unique"),
            (self.misc, "miscellaneous issue"),
            (self.no_jetstream, "jetstream not enabled in cluster"),
        ] {
            if on {
                write!(f, ", {why}")?;
            }
        }
        if !self.unmatched_tags.is_empty() {
            let tags: Vec<String> = self
                .unmatched_tags
                .iter()
                .map(|t| format!("'{t}'"))
                .collect();
            write!(f, ", tags not matched [{}]", tags.join(", "))?;
        }
        Ok(())
    }
}

fn mix(seed: u64, name: &str) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in name.as_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The servers to hold `req.replicas` replicas: `existing` first (all of them, when they are
/// enough), then the best candidates. See the module doc.
pub fn place(req: &Request<'_>, peers: &[PeerInfo]) -> Result<Vec<String>, NoPeers> {
    if req.cluster.is_empty() {
        return Err(NoPeers {
            misc: true,
            ..NoPeers::default()
        });
    }
    if req.existing.len() >= req.replicas {
        return Ok(req.existing[..req.replicas].to_vec());
    }
    // A unique-tag prefix named in the placement's own tags switches the rule off.
    let unique = if req
        .tags
        .iter()
        .any(|t| !req.unique_tag.is_empty() && t.starts_with(req.unique_tag))
    {
        ""
    } else {
        req.unique_tag
    };
    let unique_of =
        |p: &PeerInfo| -> Option<String> { p.tags.iter().find(|t| t.starts_with(unique)).cloned() };
    let mut taken: HashSet<String> = HashSet::new();
    if !unique.is_empty() {
        for name in req.existing {
            if let Some(t) = peers.iter().find(|p| &p.name == name).and_then(unique_of) {
                taken.insert(t);
            }
        }
    }
    let mut err = NoPeers::default();
    let mut ordered: Vec<&PeerInfo> = peers.iter().collect();
    ordered.sort_by(|a, b| {
        b.available
            .cmp(&a.available)
            .then(a.ha_assets.cmp(&b.ha_assets))
            .then(mix(req.seed, &a.name).cmp(&mix(req.seed, &b.name)))
    });
    let mut picked: Vec<String> = req.existing.to_vec();
    for p in ordered {
        if picked.len() >= req.replicas {
            break;
        }
        if p.cluster != req.cluster {
            continue;
        }
        if p.offline {
            err.offline = true;
            continue;
        }
        if req.ignore.contains(&p.name) || picked.contains(&p.name) {
            continue;
        }
        if p.tags.iter().any(|t| t == EXCLUDE_TAG) {
            err.exclude_tag = true;
            continue;
        }
        if let Some(missing) = req.tags.iter().find(|t| !p.tags.contains(t)) {
            err.unmatched_tags.insert(missing.clone());
            continue;
        }
        if req.max_bytes > 0 && req.max_bytes as u64 > p.available {
            err.no_storage = true;
            continue;
        }
        if !unique.is_empty() {
            match unique_of(p) {
                Some(t) if taken.insert(t.clone()) => {}
                _ => {
                    err.unique_tag = true;
                    continue;
                }
            }
        }
        picked.push(p.name.clone());
    }
    if picked.len() < req.replicas {
        if peers.is_empty() {
            err.no_jetstream = true;
        }
        return Err(err);
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, tags: &[&str], available: u64) -> PeerInfo {
        PeerInfo {
            name: name.into(),
            cluster: "c1".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            offline: false,
            available,
            ha_assets: 0,
        }
    }

    fn req(replicas: usize) -> Request<'static> {
        Request {
            replicas,
            cluster: "c1",
            ..Request::default()
        }
    }

    #[test]
    fn the_most_available_servers_are_picked_and_the_same_seed_picks_the_same() {
        let peers = [
            peer("a", &[], 10),
            peer("b", &[], 30),
            peer("c", &[], 20),
            peer("d", &[], 5),
        ];
        assert_eq!(place(&req(3), &peers).unwrap(), ["b", "c", "a"]);
        let even = [
            peer("a", &[], 1),
            peer("b", &[], 1),
            peer("c", &[], 1),
            peer("d", &[], 1),
        ];
        let r = Request { seed: 7, ..req(2) };
        assert_eq!(place(&r, &even).unwrap(), place(&r, &even).unwrap());
        // Different seeds spread ties over different servers.
        let picks: HashSet<Vec<String>> = (0..32)
            .map(|seed| place(&Request { seed, ..req(1) }, &even).unwrap())
            .collect();
        assert!(picks.len() > 1);
    }

    #[test]
    fn too_few_servers_is_nats_servers_error_with_its_reasons() {
        let mut peers = vec![
            peer("a", &["ssd"], 10),
            peer("b", &[], 10),
            peer("c", &["ssd", EXCLUDE_TAG], 10),
        ];
        peers[1].offline = true;
        let tags = vec!["ssd".to_string(), "eu".to_string()];
        let e = place(
            &Request {
                tags: &tags,
                ..req(3)
            },
            &peers,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no suitable peers for placement, peer offline, exclude tag set, tags not matched ['eu']"
        );
        assert_eq!(
            place(&req(5), &[]).unwrap_err().to_string(),
            "no suitable peers for placement, jetstream not enabled in cluster"
        );
        let e = place(
            &Request {
                cluster: "other",
                ..req(1)
            },
            &peers,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "no suitable peers for placement");
    }

    #[test]
    fn max_bytes_needs_room_and_unique_tags_spread_replicas() {
        let peers = [
            peer("a", &["az:1"], 100),
            peer("b", &["az:1"], 90),
            peer("c", &["az:2"], 80),
            peer("d", &["az:3"], 10),
        ];
        let r = Request {
            max_bytes: 50,
            ..req(3)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["a", "b", "c"]);
        let r = Request {
            max_bytes: 50,
            ..req(4)
        };
        assert_eq!(
            place(&r, &peers).unwrap_err().to_string(),
            "no suitable peers for placement, insufficient storage"
        );
        let r = Request {
            unique_tag: "az:",
            ..req(3)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["a", "c", "d"]);
        let r = Request {
            unique_tag: "az:",
            ..req(4)
        };
        assert!(place(&r, &peers).unwrap_err().unique_tag);
        // Naming the prefix in the placement tags switches the rule off.
        let tags = vec!["az:1".to_string()];
        let r = Request {
            unique_tag: "az:",
            tags: &tags,
            ..req(2)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["a", "b"]);
    }

    #[test]
    fn scaling_up_keeps_the_existing_replicas_and_skips_ignored_ones() {
        let peers = [peer("a", &[], 10), peer("b", &[], 30), peer("c", &[], 20)];
        let existing = vec!["a".to_string()];
        let r = Request {
            existing: &existing,
            ..req(3)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["a", "b", "c"]);
        let r = Request {
            existing: &existing,
            ..req(1)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["a"]);
        let ignore = vec!["b".to_string()];
        let r = Request {
            ignore: &ignore,
            ..req(2)
        };
        assert_eq!(place(&r, &peers).unwrap(), ["c", "a"]);
    }
}
