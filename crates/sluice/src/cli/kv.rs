//! `sluice kv add|ls|put|get|del|history|watch`: key-value buckets, kept as the clients keep
//! them (protocol-spec/kv.md): bucket `B` is stream `KV_B`, key `K` is subject `$KV.B.K`.

use super::client::{Client, Msg};
use super::stream::{list_all, Storage};
use super::{format, out, out_json, Global, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use sluice_protocol::headers::status;
use sluice_protocol::HeaderMap;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum KvCmd {
    /// Create a bucket
    Add {
        bucket: String,
        /// Revisions kept per key (1-64)
        #[arg(long, default_value_t = 1, value_name = "N")]
        history: i64,
        /// How long values live [default: forever]
        #[arg(long, value_parser = format::parse_duration, value_name = "DURATION")]
        ttl: Option<Duration>,
        /// Most bytes the bucket holds (-1: unlimited)
        #[arg(long, default_value = "-1", value_parser = format::parse_size,
              allow_negative_numbers = true, value_name = "SIZE")]
        max_bytes: i64,
        #[arg(long, value_enum, default_value = "file")]
        storage: Storage,
    },
    /// List buckets
    Ls,
    /// Set a key's value; prints the new revision
    Put {
        bucket: String,
        key: String,
        value: String,
    },
    /// Print a key's value
    Get { bucket: String, key: String },
    /// Delete a key (its history stays until it ages out)
    Del { bucket: String, key: String },
    /// Print every revision kept of a key
    History { bucket: String, key: String },
    /// Print the current values, then every update
    Watch {
        bucket: String,
        /// Keys to watch (`*` and `>` wildcards)
        #[arg(default_value = ">")]
        keys: String,
        /// Exit after this many updates
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
}

/// Checks a key as clients do: `[-/_=.a-zA-Z0-9]`, no empty tokens (leading, trailing or
/// double dots); `*` and `>` tokens only when `wildcards`.
pub fn check_key(key: &str, wildcards: bool) -> Result<()> {
    let tokens: Vec<&str> = key.split('.').collect();
    let ok = !key.is_empty()
        && tokens.iter().enumerate().all(|(i, t)| {
            let wild = wildcards && (*t == "*" || (*t == ">" && i == tokens.len() - 1));
            wild || (!t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-/_=".contains(c)))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid key \"{key}\""))
    }
}

/// Checks a bucket name: `[a-zA-Z0-9_-]+`.
pub fn check_bucket(b: &str) -> Result<()> {
    if !b.is_empty()
        && b.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!("invalid bucket name \"{b}\""))
    }
}

/// The sid of an ordered consumer's delivery subscription.
const DELIVER_SID: &str = "3";

fn missing(bucket: &str) -> impl Fn(u64) -> Option<String> + '_ {
    move |code| (code == 10059).then(|| format!("bucket \"{bucket}\" not found"))
}

/// The operation a stored entry records: PUT, DEL or PURGE.
fn operation(m: &Msg) -> String {
    m.headers
        .as_ref()
        .and_then(|h| h.get("KV-Operation"))
        .unwrap_or("PUT")
        .to_owned()
}

pub fn run(g: &Global, cmd: &KvCmd) -> Result<()> {
    // Validate before connecting: a bad key never reaches the server.
    match cmd {
        KvCmd::Add { bucket, .. } | KvCmd::Watch { bucket, .. } => check_bucket(bucket)?,
        KvCmd::Ls => {}
        KvCmd::Put { bucket, key, .. }
        | KvCmd::Get { bucket, key }
        | KvCmd::Del { bucket, key }
        | KvCmd::History { bucket, key } => {
            check_bucket(bucket)?;
            check_key(key, false)?;
        }
    }
    if let KvCmd::Watch { keys, .. } = cmd {
        check_key(keys, true)?;
    }
    let mut c = g.connect()?;
    match cmd {
        KvCmd::Add {
            bucket,
            history,
            ttl,
            max_bytes,
            storage,
        } => {
            if !(1..=64).contains(history) {
                return Err(format!("--history must be 1 to 64, not {history}"));
            }
            let ttl_ns = ttl.map_or(0, |d| d.as_nanos() as i64);
            let two_min = 120_000_000_000i64;
            let config = json!({
                "name": format!("KV_{bucket}"),
                "subjects": [format!("$KV.{bucket}.>")],
                "retention": "limits",
                "max_consumers": -1,
                "max_msgs": -1,
                "max_bytes": max_bytes,
                "max_age": ttl_ns,
                "max_msgs_per_subject": history,
                "max_msg_size": -1,
                "discard": "new",
                "storage": match storage { Storage::File => "file", Storage::Memory => "memory" },
                "num_replicas": 1,
                "duplicate_window": if ttl_ns > 0 && ttl_ns < two_min { ttl_ns } else { two_min },
                "allow_rollup_hdrs": true,
                "deny_delete": true,
                "deny_purge": false,
                "allow_direct": true,
                "mirror_direct": false,
            });
            let subject = format!("$JS.API.STREAM.CREATE.KV_{bucket}");
            c.api(&subject, &config, &|_| None)?;
            if g.json {
                out_json(&json!({ "bucket": bucket, "history": history }), true)
            } else {
                out(&format!("Created bucket \"{bucket}\"\n"))
            }
        }
        KvCmd::Ls => {
            let names = list_all(&mut c, "$JS.API.STREAM.NAMES", "streams", &|_| None)?;
            let buckets: Vec<String> = names
                .iter()
                .filter_map(|n| n.as_str()?.strip_prefix("KV_").map(str::to_owned))
                .collect();
            if g.json {
                out_json(&json!(buckets), true)
            } else {
                out(&buckets.iter().map(|b| format!("{b}\n")).collect::<String>())
            }
        }
        KvCmd::Put { bucket, key, value } => {
            let rev = store(&mut c, bucket, key, None, value.as_bytes())?;
            if g.json {
                out_json(&json!({ "revision": rev }), true)
            } else {
                out(&format!("{rev}\n"))
            }
        }
        KvCmd::Get { bucket, key } => get(g, &mut c, bucket, key),
        KvCmd::Del { bucket, key } => {
            let mut h = HeaderMap::new();
            h.append("KV-Operation", "DEL").map_err(|e| e.to_string())?;
            let rev = store(&mut c, bucket, key, Some(&h), b"")?;
            if g.json {
                out_json(&json!({ "deleted": key, "revision": rev }), true)
            } else {
                out(&format!("Deleted \"{key}\"\n"))
            }
        }
        KvCmd::History { bucket, key } => history(g, &mut c, bucket, key),
        KvCmd::Watch {
            bucket,
            keys,
            count,
        } => watch(g, &mut c, bucket, keys, *count),
    }
}

/// Publishes to the key's subject and returns the revision from the stream's ack.
fn store(c: &mut Client, bucket: &str, key: &str, h: Option<&HeaderMap>, v: &[u8]) -> Result<u64> {
    let m = c.request_raw(&format!("$KV.{bucket}.{key}"), h, v)?;
    if m.status() == Some(status::NO_RESPONDERS) {
        return Err(format!("bucket \"{bucket}\" not found"));
    }
    let ack: Value = serde_json::from_slice(&m.payload)
        .map_err(|e| format!("the publish ack is not JSON ({e})"))?;
    if let Some(err) = ack.get("error") {
        let desc = err["description"].as_str().unwrap_or("unknown error");
        return Err(format!("{desc} ({})", err["err_code"]));
    }
    Ok(ack["seq"].as_u64().unwrap_or(0))
}

fn get(g: &Global, c: &mut Client, bucket: &str, key: &str) -> Result<()> {
    let subject = format!("$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key}");
    let m = c.request_raw(&subject, None, b"")?;
    let op = operation(&m);
    match m.status() {
        Some(status::NO_RESPONDERS) => return Err(format!("bucket \"{bucket}\" not found")),
        Some(_) => return Err(format!("key \"{key}\" not found in bucket \"{bucket}\"")),
        None if op != "PUT" => {
            return Err(format!("key \"{key}\" not found in bucket \"{bucket}\""))
        }
        None => {}
    }
    let value = String::from_utf8_lossy(&m.payload);
    if g.json {
        let rev = m.headers.as_ref().and_then(|h| h.get("Nats-Sequence"));
        let rev: u64 = rev.and_then(|r| r.parse().ok()).unwrap_or(0);
        out_json(
            &json!({"key": key, "value": value, "revision": rev, "operation": op}),
            true,
        )
    } else {
        out(&format!("{value}\n"))
    }
}

/// Starts an ephemeral push consumer on `filter` delivering to a fresh inbox subject; returns
/// the consumer's name and how many stored entries it will deliver first.
fn ordered(c: &mut Client, bucket: &str, filter: &str, policy: &str) -> Result<(String, u64)> {
    let deliver = c.sub_new_inbox(DELIVER_SID);
    c.flush()?;
    let body = json!({
        "stream_name": format!("KV_{bucket}"),
        "config": {
            "deliver_subject": deliver,
            "deliver_policy": policy,
            "ack_policy": "none",
            "filter_subject": filter,
            "replay_policy": "instant",
            "max_deliver": 1,
            "mem_storage": true,
            "num_replicas": 1,
            "inactive_threshold": 5_000_000_000u64,
        }
    });
    let info = c.api(
        &format!("$JS.API.CONSUMER.CREATE.KV_{bucket}"),
        &body,
        &missing(bucket),
    )?;
    let initial = info["num_pending"].as_u64().unwrap_or(0)
        + info["delivered"]["consumer_seq"].as_u64().unwrap_or(0);
    let name = info["name"].as_str().unwrap_or("").to_owned();
    Ok((name, initial))
}

/// An entry delivered to an ordered consumer: (key, revision, operation, value, pending).
fn entry(bucket: &str, m: &Msg) -> (String, u64, String, String, u64) {
    let key = m
        .subject
        .strip_prefix(&format!("$KV.{bucket}."))
        .unwrap_or(&m.subject)
        .to_owned();
    let ack = m.reply.as_deref().and_then(super::consumer::parse_ack);
    let (rev, pending) = ack.map_or((0, 0), |a| (a.stream_seq, a.pending));
    let value = String::from_utf8_lossy(&m.payload).into_owned();
    (key, rev, operation(m), value, pending)
}

fn history(g: &Global, c: &mut Client, bucket: &str, key: &str) -> Result<()> {
    let filter = format!("$KV.{bucket}.{key}");
    let (name, mut left) = ordered(c, bucket, &filter, "all")?;
    let mut rows = Vec::new();
    let deadline = Instant::now() + c.timeout;
    while left > 0 {
        let Some(m) = c.next_where(Some(deadline), |m| m.sid == DELIVER_SID)? else {
            return Err(format!("timed out reading the history of \"{key}\""));
        };
        if m.status().is_some() {
            continue;
        }
        let (_, rev, op, value, pending) = entry(bucket, &m);
        rows.push((rev, op, value));
        left -= 1;
        if pending == 0 {
            break;
        }
    }
    let _ = c.api(
        &format!("$JS.API.CONSUMER.DELETE.KV_{bucket}.{name}"),
        &Value::Null,
        &|_| None,
    );
    if rows.is_empty() {
        return Err(format!("key \"{key}\" not found in bucket \"{bucket}\""));
    }
    if g.json {
        let a: Vec<Value> = rows
            .iter()
            .map(|(r, o, v)| json!({"revision": r, "operation": o, "value": v}))
            .collect();
        return out_json(&Value::Array(a), true);
    }
    out(&rows
        .iter()
        .map(|(r, o, v)| format!("{}\n", format!("{r} {o} {v}").trim_end()))
        .collect::<String>())
}

fn watch(g: &Global, c: &mut Client, bucket: &str, keys: &str, count: Option<u64>) -> Result<()> {
    let filter = format!("$KV.{bucket}.{keys}");
    ordered(c, bucket, &filter, "last_per_subject")?;
    super::note(&format!("Watching \"{bucket}\" keys \"{keys}\""));
    let mut n = 0;
    while count.is_none_or(|max| n < max) {
        let Some(m) = c.next_where(None, |m| m.sid == DELIVER_SID)? else {
            continue;
        };
        if m.status().is_some() {
            continue;
        }
        n += 1;
        let (key, rev, op, value, _) = entry(bucket, &m);
        if g.json {
            out_json(
                &json!({"key": key, "revision": rev, "operation": op, "value": value}),
                true,
            )?;
        } else {
            out(&format!(
                "{}\n",
                format!("{key} {rev} {op} {value}").trim_end()
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_like_clients_do() {
        for ok in ["a", "a.b", "A-b_c/d=e", "1.2.3"] {
            assert_eq!(check_key(ok, false), Ok(()), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a*", "*", ">", "a.>", "ä"] {
            assert_eq!(check_key(bad, false), Err(format!("invalid key \"{bad}\"")));
        }
        for ok in [">", "*", "a.*", "a.>", "*.b"] {
            assert_eq!(check_key(ok, true), Ok(()), "{ok}");
        }
        for bad in [">.a", "a*", "a..>"] {
            assert!(check_key(bad, true).is_err(), "{bad}");
        }
        assert!(check_bucket("my-bucket_1").is_ok());
        assert!(check_bucket("a.b").is_err() && check_bucket("").is_err());
    }
}
