//! The checker: after the faults are healed and the cluster has settled, read the whole stream
//! back (STREAM.INFO for its bounds, then `$JS.API.STREAM.MSG.GET` for every sequence, which
//! the stream leader answers) and hold it against the workload's [`History`]:
//!
//! - lost: an id acked by the server and not in the stream; ack mismatch: an ack's sequence
//!   holds another message (or none);
//! - duplicates: an id stored more than once;
//! - redelivered after ack: a delivery of message `X` (by msg id) answering a NEXT request that
//!   was sent after the server confirmed an ack of `X` (each request has its own inbox, so the
//!   server sent that delivery after confirming: no timing guesswork); a sequence delivered as
//!   two different messages is noted too (the consumer read from logs that disagree);
//! - ghost deliveries: messages the consumer received that are not in the stream at the end
//!   (a read of something later lost: recorded, not a violation by itself);
//! - the stream and its consumer still exist; every replica's digest is the same.

use super::report::{DigestCheck, Outcome};
use super::workload::{History, PubResult, CONSUMER, STREAM};
use super::ChaosTarget;
use async_nats::Client;
use base64::Engine as _;
use futures::StreamExt;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The stream as read back: sequence -> msg id.
#[derive(Debug, Default)]
pub struct ReadBack {
    /// Every stored message.
    pub msgs: Vec<(u64, String)>,
    /// Whether the stream exists.
    pub stream_exists: bool,
    /// Whether the consumer exists.
    pub consumer_exists: bool,
    /// Problems while reading (sequences that could not be read, say).
    pub errors: Vec<String>,
}

/// A `$JS.API` request with a JSON reply; `Err` on timeout, no responders or bad JSON.
pub async fn api(client: &Client, subject: String, body: String) -> Result<Value, String> {
    let m = tokio::time::timeout(
        Duration::from_secs(3),
        client.request(subject.clone(), body.into()),
    )
    .await
    .map_err(|_| format!("{subject}: timeout"))?
    .map_err(|e| format!("{subject}: {e}"))?;
    serde_json::from_slice(&m.payload).map_err(|e| format!("{subject}: not JSON: {e}"))
}

/// Waits (up to `timeout`) until the stream has a leader and every replica is current in
/// STREAM.INFO, or the stream is reported missing. Returns the last STREAM.INFO (or error).
pub async fn settle(client: &Client, timeout: Duration) -> Result<Value, String> {
    let start = Instant::now();
    let subject = format!("$JS.API.STREAM.INFO.{STREAM}");
    loop {
        let r = api(client, subject.clone(), String::new()).await;
        if let Ok(v) = &r {
            if v["error"]["err_code"] == 10059 {
                return r;
            }
            let c = &v["cluster"];
            let leader = c["leader"].as_str().is_some_and(|l| !l.is_empty());
            let current = c["replicas"].as_array().is_none_or(|rs| {
                rs.iter()
                    .all(|r| r["current"] == true && r["offline"] != true)
            });
            if v.get("error").is_none() && leader && current {
                return r;
            }
        }
        if start.elapsed() > timeout {
            return r.and_then(|v| Err(format!("not settled after {timeout:?}: {v}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads the whole stream back through `client`.
pub async fn read_back(client: &Client) -> ReadBack {
    let mut rb = ReadBack::default();
    let info = match settle(client, Duration::from_secs(20)).await {
        Ok(v) => v,
        Err(e) => {
            rb.errors.push(format!("settle: {e}"));
            match api(
                client,
                format!("$JS.API.STREAM.INFO.{STREAM}"),
                String::new(),
            )
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    rb.errors.push(format!("stream info: {e}"));
                    // Unknown: count it as existing, the read below will say more.
                    rb.stream_exists = true;
                    rb.consumer_exists = true;
                    return rb;
                }
            }
        }
    };
    rb.stream_exists = info["error"]["err_code"] != 10059;
    let ci = api(
        client,
        format!("$JS.API.CONSUMER.INFO.{STREAM}.{CONSUMER}"),
        String::new(),
    )
    .await;
    rb.consumer_exists = match &ci {
        Ok(v) => v["error"]["err_code"] != 10014,
        Err(e) => {
            rb.errors.push(format!("consumer info: {e}"));
            true
        }
    };
    if !rb.stream_exists {
        return rb;
    }
    let first = info["state"]["first_seq"].as_u64().unwrap_or(1).max(1);
    let last = info["state"]["last_seq"].as_u64().unwrap_or(0);
    let subject = format!("$JS.API.STREAM.MSG.GET.{STREAM}");
    let gets = futures::stream::iter(first..=last)
        .map(|seq| {
            let subject = subject.clone();
            async move {
                let body = serde_json::json!({ "seq": seq }).to_string();
                let mut last_err = String::new();
                for _ in 0..3 {
                    match api(client, subject.clone(), body.clone()).await {
                        Ok(v) if v["error"]["code"] == 404 => return (seq, Ok(None)),
                        Ok(v) if v.get("error").is_some() => last_err = v["error"].to_string(),
                        Ok(v) => {
                            let data = v["message"]["data"].as_str().unwrap_or("");
                            let id = base64::engine::general_purpose::STANDARD
                                .decode(data)
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                                .unwrap_or_default();
                            return (seq, Ok(Some(id)));
                        }
                        Err(e) => last_err = e,
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (seq, Err(last_err))
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
    for (seq, r) in gets {
        match r {
            Ok(Some(id)) => rb.msgs.push((seq, id)),
            Ok(None) => {}
            Err(e) => rb.errors.push(format!("seq {seq}: {e}")),
        }
    }
    let count = info["state"]["messages"].as_u64().unwrap_or(0);
    if count != rb.msgs.len() as u64 {
        rb.errors.push(format!(
            "STREAM.INFO says {count} messages in {first}..={last}, read {}",
            rb.msgs.len()
        ));
    }
    rb
}

/// Compares every running node's digest of the stream, polling up to `timeout` for them to
/// agree (a replica that was down catches up after the heal).
pub fn compare_digests<T: ChaosTarget>(target: &mut T, timeout: Duration) -> DigestCheck {
    let start = Instant::now();
    loop {
        let nodes: Vec<usize> = (0..target.len())
            .filter(|&i| target.is_running(i))
            .collect();
        let ds: Vec<_> = nodes
            .iter()
            .map(|&i| (i, target.replica_digest(i, STREAM)))
            .collect();
        if ds.iter().all(|(_, d)| d.is_none()) {
            return DigestCheck::NotAvailable;
        }
        let first = ds[0].1.clone();
        if first.is_some() && ds.iter().all(|(_, d)| *d == first) {
            return DigestCheck::Equal {
                full: first.is_some_and(|d| d.full),
            };
        }
        if start.elapsed() > timeout {
            return DigestCheck::Differ(
                ds.iter()
                    .map(|(i, d)| match d {
                        Some(d) => format!("n{i}: {}", d.value),
                        None => format!("n{i}: none"),
                    })
                    .collect(),
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Holds `rb` against `h` and fills the counts and notes of `out`.
pub fn check(h: &History, rb: &ReadBack, out: &mut Outcome) {
    let (ids, acked, refused, unknown) = super::workload::id_outcomes(h);
    out.published = ids;
    out.acked = acked;
    out.refused = refused;
    out.unknown = unknown;
    out.stored = rb.msgs.len();
    out.stream_ok = rb.stream_exists && rb.consumer_exists;
    if !rb.stream_exists {
        out.notes.push("the stream is gone".into());
    } else if !rb.consumer_exists {
        out.notes.push("the consumer is gone".into());
    }
    out.notes.extend(rb.errors.iter().take(5).cloned());

    let by_seq: HashMap<u64, &str> = rb.msgs.iter().map(|(s, id)| (*s, id.as_str())).collect();
    let mut copies: HashMap<&str, Vec<u64>> = HashMap::new();
    for (seq, id) in &rb.msgs {
        copies.entry(id.as_str()).or_default().push(*seq);
    }
    // Lost and mismatched acks.
    let mut lost: Vec<&str> = Vec::new();
    let mut mismatch = Vec::new();
    let mut seen_lost = HashSet::new();
    for a in &h.attempts {
        if let PubResult::Acked { seq, .. } = a.result {
            if !copies.contains_key(a.id.as_str()) {
                if seen_lost.insert(a.id.as_str()) {
                    lost.push(a.id.as_str());
                }
            } else if by_seq.get(&seq) != Some(&a.id.as_str()) {
                mismatch.push(format!(
                    "{} acked at seq {seq}, which holds {:?} (it is at {:?})",
                    a.id,
                    by_seq.get(&seq),
                    copies[a.id.as_str()]
                ));
            }
        }
    }
    out.lost = lost.len();
    out.ack_seq_mismatch = mismatch.len();
    if !lost.is_empty() {
        let ex: Vec<String> = lost
            .iter()
            .take(5)
            .map(|id| {
                let a: Vec<String> = h
                    .attempts
                    .iter()
                    .filter(|a| a.id == *id)
                    .map(|a| format!("{:?} at {:.2}s", a.result, a.sent.as_secs_f64()))
                    .collect();
                format!("{id}: {}", a.join(" / "))
            })
            .collect();
        out.notes.push(format!("lost, e.g. {}", ex.join("; ")));
    }
    out.notes.extend(mismatch.into_iter().take(3));
    // Why publishes were refused or went unanswered, most common first.
    let mut why: HashMap<String, usize> = HashMap::new();
    for a in &h.attempts {
        match &a.result {
            PubResult::Refused(r) => *why.entry(format!("refused: {r}")).or_default() += 1,
            PubResult::Unknown(r) => *why.entry(format!("unknown: {r}")).or_default() += 1,
            PubResult::Acked { .. } => {}
        }
    }
    let mut why: Vec<(String, usize)> = why.into_iter().collect();
    why.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if !why.is_empty() {
        let top: Vec<String> = why
            .iter()
            .take(4)
            .map(|(r, c)| format!("{c}x {r}"))
            .collect();
        out.notes
            .push(format!("attempts not acked: {}", top.join(", ")));
    }
    // Refused (never acked) yet stored: allowed, but worth knowing.
    let (mut refused_stored, mut best) = (0, HashMap::new());
    for a in &h.attempts {
        let acked = matches!(a.result, PubResult::Acked { .. });
        let refused = matches!(a.result, PubResult::Refused(_));
        let e = best.entry(a.id.as_str()).or_insert((false, false));
        e.0 |= acked;
        e.1 |= refused;
    }
    for (id, (acked, refused)) in &best {
        if !acked && *refused && copies.contains_key(id) {
            refused_stored += 1;
        }
    }
    if refused_stored > 0 {
        out.notes.push(format!(
            "{refused_stored} ids refused (never acked) are stored anyway"
        ));
    }
    // Duplicates.
    let dups: Vec<(&str, &Vec<u64>)> = copies
        .iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(id, s)| (*id, s))
        .collect();
    out.duplicates = dups.iter().map(|(_, s)| s.len() - 1).sum();
    if !dups.is_empty() {
        out.notes.push(format!(
            "stored twice, e.g. {:?}",
            dups.iter().take(5).collect::<Vec<_>>()
        ));
    }
    // Redelivery after a confirmed ack, by message (msg id): a delivery of id X answering a
    // NEXT request sent after an ack of X was confirmed.
    let mut confirmed: HashMap<&str, Duration> = HashMap::new();
    let mut delivered_as: HashMap<u64, &str> = HashMap::new();
    for (a, d) in h
        .acks
        .iter()
        .filter_map(|a| Some((a, h.deliveries.get(a.delivery)?)))
    {
        let e = confirmed.entry(d.id.as_str()).or_insert(a.at);
        *e = (*e).min(a.at);
    }
    let mut redeliv = Vec::new();
    let mut conflicts = Vec::new();
    for d in &h.deliveries {
        let sent = h.requests.get(d.request as usize).copied();
        if let (Some(&acked_at), Some(sent)) = (confirmed.get(d.id.as_str()), sent) {
            if sent > acked_at {
                redeliv.push(format!(
                    "{} (seq {}) ack confirmed at {:.2}s, delivered again (count {}) for a \
                     request sent at {:.2}s",
                    d.id,
                    d.seq,
                    acked_at.as_secs_f64(),
                    d.delivered,
                    sent.as_secs_f64()
                ));
            }
        }
        // One stream sequence delivered as two different messages: the consumer read from
        // logs that disagree.
        match delivered_as.get(&d.seq) {
            Some(&other) if other != d.id => {
                conflicts.push(format!("seq {}: {other} then {}", d.seq, d.id));
            }
            Some(_) => {}
            None => {
                delivered_as.insert(d.seq, d.id.as_str());
            }
        }
    }
    out.redelivered_after_ack = redeliv.len();
    out.notes.extend(redeliv.into_iter().take(3));
    if !conflicts.is_empty() {
        out.notes.push(format!(
            "{} sequences delivered as two different messages, e.g. {}",
            conflicts.len(),
            conflicts[..conflicts.len().min(4)].join(", ")
        ));
    }
    // Ghosts.
    let delivered_ids: HashSet<&str> = h.deliveries.iter().map(|d| d.id.as_str()).collect();
    let ghosts: Vec<&&str> = delivered_ids
        .iter()
        .filter(|id| !copies.contains_key(**id))
        .collect();
    out.ghost_deliveries = ghosts.len();
    if !ghosts.is_empty() {
        out.notes.push(format!(
            "delivered but not in the stream at the end, e.g. {:?}",
            ghosts.iter().take(5).collect::<Vec<_>>()
        ));
    }
    out.deliveries = h.deliveries.len();
    out.acks_confirmed = h.acks.len();
    if h.unconfirmed_acks > 0 {
        out.notes
            .push(format!("{} acks got no confirmation", h.unconfirmed_acks));
    }
}
