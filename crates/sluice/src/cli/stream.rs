//! `sluice stream ls|add|info|rm|purge|get`: streams through `$JS.API.STREAM.*`.

use super::client::Client;
use super::core::headers_json;
use super::{format, out, out_json, Global, Result};
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use sluice_protocol::HeaderMap;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum StreamCmd {
    /// List streams
    Ls,
    /// Create a stream
    Add(AddArgs),
    /// Show a stream's configuration and state
    Info { name: String },
    /// Delete a stream and its messages
    Rm { name: String },
    /// Remove messages from a stream
    Purge {
        name: String,
        /// Only messages on this subject
        #[arg(long, value_name = "SUBJECT")]
        subject: Option<String>,
        /// Keep this many of the newest messages
        #[arg(long, value_name = "N")]
        keep: Option<u64>,
        /// Remove messages below this sequence
        #[arg(long, value_name = "SEQ")]
        seq: Option<u64>,
    },
    /// Print one stored message
    Get {
        name: String,
        /// The message's sequence number
        #[arg(required_unless_present = "last_for", conflicts_with = "last_for")]
        seq: Option<u64>,
        /// Instead: the last message on this subject
        #[arg(long, value_name = "SUBJECT")]
        last_for: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Storage {
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Retention {
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    name: String,
    /// Subjects the stream stores, comma-separated [default: the stream's name]
    #[arg(long, value_delimiter = ',', value_name = "SUBJECTS")]
    subjects: Vec<String>,
    #[arg(long, value_enum, default_value = "file")]
    storage: Storage,
    #[arg(long, value_enum, default_value = "limits")]
    retention: Retention,
    /// Most messages kept (-1: unlimited)
    #[arg(long, default_value_t = -1, value_name = "N", allow_negative_numbers = true)]
    max_msgs: i64,
    /// Most bytes kept (1024, 64K, 10MiB, 1G; -1: unlimited)
    #[arg(long, default_value = "-1", value_parser = format::parse_size,
          allow_negative_numbers = true, value_name = "SIZE")]
    max_bytes: i64,
    /// Oldest message age kept (1h, 30m, 7d) [default: unlimited]
    #[arg(long, value_parser = format::parse_duration, value_name = "DURATION")]
    max_age: Option<Duration>,
    /// Most messages kept per subject (-1: unlimited)
    #[arg(long, default_value_t = -1, value_name = "N", allow_negative_numbers = true)]
    max_msgs_per_subject: i64,
    /// Replicas (sluice runs one server: 1)
    #[arg(long, default_value_t = 1, value_name = "N")]
    replicas: i64,
}

/// The error for a missing stream, naming it.
pub fn not_found(name: &str) -> impl Fn(u64) -> Option<String> + '_ {
    move |code| (code == 10059).then(|| format!("stream \"{name}\" not found"))
}

fn none(_: u64) -> Option<String> {
    None
}

pub fn run(g: &Global, cmd: &StreamCmd) -> Result<()> {
    let mut c = g.connect()?;
    match cmd {
        StreamCmd::Ls => ls(g, &mut c),
        StreamCmd::Add(a) => {
            let subjects = if a.subjects.is_empty() {
                vec![a.name.clone()]
            } else {
                a.subjects.clone()
            };
            let config = json!({
                "name": a.name,
                "subjects": subjects,
                "storage": match a.storage { Storage::File => "file", Storage::Memory => "memory" },
                "retention": match a.retention {
                    Retention::Limits => "limits",
                    Retention::Interest => "interest",
                    Retention::Workqueue => "workqueue",
                },
                "max_consumers": -1,
                "max_msgs": a.max_msgs,
                "max_bytes": a.max_bytes,
                "max_age": a.max_age.map_or(0, |d| d.as_nanos() as u64),
                "max_msgs_per_subject": a.max_msgs_per_subject,
                "discard": "old",
                "num_replicas": a.replicas,
            });
            let subject = format!("$JS.API.STREAM.CREATE.{}", a.name);
            let info = c.api(&subject, &config, &none)?;
            show_info(g, info)
        }
        StreamCmd::Info { name } => {
            let info = c.api(
                &format!("$JS.API.STREAM.INFO.{name}"),
                &Value::Null,
                &not_found(name),
            )?;
            show_info(g, info)
        }
        StreamCmd::Rm { name } => {
            let subject = format!("$JS.API.STREAM.DELETE.{name}");
            c.api(&subject, &Value::Null, &not_found(name))?;
            if g.json {
                out_json(&json!({ "deleted": name }), true)
            } else {
                out(&format!("Deleted stream \"{name}\"\n"))
            }
        }
        StreamCmd::Purge {
            name,
            subject,
            keep,
            seq,
        } => {
            let mut req = json!({});
            if let Some(s) = subject {
                req["filter"] = s.as_str().into();
            }
            if let Some(k) = keep {
                req["keep"] = (*k).into();
            }
            if let Some(s) = seq {
                req["seq"] = (*s).into();
            }
            let subj = format!("$JS.API.STREAM.PURGE.{name}");
            let r = c.api(&subj, &req, &not_found(name))?;
            let n = r["purged"].as_u64().unwrap_or(0);
            if g.json {
                out_json(&json!({ "purged": n }), true)
            } else {
                out(&format!("Purged {n} messages from \"{name}\"\n"))
            }
        }
        StreamCmd::Get {
            name,
            seq,
            last_for,
        } => get(g, &mut c, name, *seq, last_for.as_deref()),
    }
}

/// Every item of a paged LIST answer (`key`: "streams" or "consumers").
pub fn list_all(
    c: &mut Client,
    subject: &str,
    key: &str,
    nf: &dyn Fn(u64) -> Option<String>,
) -> Result<Vec<Value>> {
    let mut all = Vec::new();
    loop {
        let page = c.api(subject, &json!({ "offset": all.len() }), nf)?;
        let items = page[key].as_array().cloned().unwrap_or_default();
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let empty = items.is_empty();
        all.extend(items);
        if empty || all.len() >= total {
            return Ok(all);
        }
    }
}

fn ls(g: &Global, c: &mut Client) -> Result<()> {
    let streams = list_all(c, "$JS.API.STREAM.LIST", "streams", &none)?;
    if g.json {
        return out_json(&Value::Array(streams), false);
    }
    let rows: Vec<Vec<String>> = streams
        .iter()
        .map(|s| {
            vec![
                s["config"]["name"].as_str().unwrap_or("").to_owned(),
                subjects(&s["config"]),
                s["state"]["messages"].as_u64().unwrap_or(0).to_string(),
                format::size(s["state"]["bytes"].as_u64().unwrap_or(0)),
                s["state"]["consumer_count"]
                    .as_u64()
                    .unwrap_or(0)
                    .to_string(),
            ]
        })
        .collect();
    out(&format::table(
        &["NAME", "SUBJECTS", "MESSAGES", "BYTES", "CONSUMERS"],
        &rows,
    ))
}

fn subjects(config: &Value) -> String {
    config["subjects"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn limit(v: &Value, show: impl Fn(u64) -> String) -> String {
    match v.as_i64() {
        Some(n) if n > 0 => show(n as u64),
        _ => "unlimited".into(),
    }
}

fn show_info(g: &Global, mut info: Value) -> Result<()> {
    if let Value::Object(o) = &mut info {
        o.remove("type");
    }
    if g.json {
        return out_json(&info, false);
    }
    let (cfg, st) = (&info["config"], &info["state"]);
    let num = |v: &Value| v.as_u64().unwrap_or(0).to_string();
    out(&format::key_values(&[
        ("Name", cfg["name"].as_str().unwrap_or("").to_owned()),
        ("Subjects", subjects(cfg)),
        ("Storage", cfg["storage"].as_str().unwrap_or("").to_owned()),
        (
            "Retention",
            cfg["retention"].as_str().unwrap_or("").to_owned(),
        ),
        ("Max Messages", limit(&cfg["max_msgs"], |n| n.to_string())),
        ("Max Bytes", limit(&cfg["max_bytes"], format::size)),
        (
            "Max Age",
            format::nanos(cfg["max_age"].as_i64().unwrap_or(0)),
        ),
        (
            "Max Msgs Per Subject",
            limit(&cfg["max_msgs_per_subject"], |n| n.to_string()),
        ),
        ("Messages", num(&st["messages"])),
        ("Bytes", format::size(st["bytes"].as_u64().unwrap_or(0))),
        ("First Sequence", num(&st["first_seq"])),
        ("Last Sequence", num(&st["last_seq"])),
        ("Consumers", num(&st["consumer_count"])),
    ]))
}

/// Decodes a base64 field of an API answer (absent: empty).
pub fn unbase64(v: &Value) -> Result<Vec<u8>> {
    let s = v.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("the server sent bad base64 ({e})"))
}

fn get(g: &Global, c: &mut Client, name: &str, seq: Option<u64>, last: Option<&str>) -> Result<()> {
    let req = match (seq, last) {
        (_, Some(s)) => json!({ "last_by_subj": s }),
        (Some(n), None) => json!({ "seq": n }),
        (None, None) => return Err("give a sequence number or --last-for SUBJECT".into()),
    };
    let subject = format!("$JS.API.STREAM.MSG.GET.{name}");
    let r = c.api(&subject, &req, &not_found(name))?;
    let mut msg = r["message"].clone();
    let data = unbase64(&msg["data"])?;
    let hdrs = unbase64(&msg["hdrs"])?;
    let headers = (!hdrs.is_empty())
        .then(|| HeaderMap::parse(&hdrs).ok())
        .flatten();
    let data = String::from_utf8_lossy(&data).into_owned();
    if g.json {
        msg["data"] = data.into();
        msg["headers"] = headers_json(headers.as_ref());
        return out_json(&msg, false);
    }
    let mut text = format::key_values(&[
        ("Subject", msg["subject"].as_str().unwrap_or("").to_owned()),
        ("Sequence", msg["seq"].as_u64().unwrap_or(0).to_string()),
        ("Time", msg["time"].as_str().unwrap_or("").to_owned()),
    ]);
    if let Some(h) = &headers {
        for (k, v) in h.iter() {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    text.push('\n');
    text.push_str(&data);
    text.push('\n');
    out(&text)
}
