//! `sluice consumer ls|add|info|rm|next`: durable consumers through `$JS.API.CONSUMER.*`,
//! and pulling from them.

use super::client::Client;
use super::core::print_msg;
use super::stream::list_all;
use super::{format, note, out, out_json, Global, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use sluice_protocol::headers::status;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum ConsumerCmd {
    /// List a stream's consumers
    Ls { stream: String },
    /// Create a durable consumer
    Add(AddArgs),
    /// Show a consumer's configuration and state
    Info { stream: String, name: String },
    /// Delete a consumer
    Rm { stream: String, name: String },
    /// Pull messages from a pull consumer (and ack them)
    Next {
        stream: String,
        name: String,
        /// How many messages to fetch
        #[arg(long, default_value_t = 1, value_name = "N")]
        count: u64,
        /// Do not acknowledge the messages
        #[arg(long)]
        no_ack: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AckPolicy {
    Explicit,
    None,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeliverPolicy {
    All,
    Last,
    New,
    #[value(name = "by_start_sequence")]
    ByStartSequence,
    #[value(name = "last_per_subject")]
    LastPerSubject,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    stream: String,
    name: String,
    /// A pull consumer (the default)
    #[arg(long, conflicts_with = "deliver")]
    pull: bool,
    /// A push consumer delivering to this subject
    #[arg(long, value_name = "SUBJECT")]
    deliver: Option<String>,
    #[arg(long, value_enum, default_value = "explicit")]
    ack: AckPolicy,
    #[arg(long, value_enum, default_value = "all")]
    deliver_policy: DeliverPolicy,
    /// First stream sequence (with --deliver-policy by_start_sequence)
    #[arg(long, value_name = "SEQ")]
    start_seq: Option<u64>,
    /// Only messages on this subject
    #[arg(long, value_name = "SUBJECT")]
    filter: Option<String>,
    /// How long to wait for an ack before redelivering [default: 30s]
    #[arg(long, value_parser = format::parse_duration, value_name = "DURATION")]
    ack_wait: Option<Duration>,
    /// Most deliveries of one message (-1: unlimited)
    #[arg(long, default_value_t = -1, value_name = "N", allow_negative_numbers = true)]
    max_deliver: i64,
}

/// The error for a missing stream or consumer, naming it.
fn not_found<'a>(stream: &'a str, name: &'a str) -> impl Fn(u64) -> Option<String> + 'a {
    move |code| match code {
        10059 => Some(format!("stream \"{stream}\" not found")),
        10014 => Some(format!("consumer \"{name}\" not found")),
        _ => None,
    }
}

pub fn run(g: &Global, cmd: &ConsumerCmd) -> Result<()> {
    let mut c = g.connect()?;
    match cmd {
        ConsumerCmd::Ls { stream } => {
            let subject = format!("$JS.API.CONSUMER.LIST.{stream}");
            let list = list_all(&mut c, &subject, "consumers", &not_found(stream, ""))?;
            if g.json {
                return out_json(&Value::Array(list), false);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i["name"].as_str().unwrap_or("").to_owned(),
                        mode(&i["config"]).to_owned(),
                        num(&i["num_ack_pending"]),
                        num(&i["num_pending"]),
                        num(&i["delivered"]["consumer_seq"]),
                    ]
                })
                .collect();
            out(&format::table(
                &["NAME", "MODE", "ACK-PENDING", "PENDING", "DELIVERED"],
                &rows,
            ))
        }
        ConsumerCmd::Add(a) => add(g, &mut c, a),
        ConsumerCmd::Info { stream, name } => {
            let subject = format!("$JS.API.CONSUMER.INFO.{stream}.{name}");
            let info = c.api(&subject, &Value::Null, &not_found(stream, name))?;
            show_info(g, info)
        }
        ConsumerCmd::Rm { stream, name } => {
            let subject = format!("$JS.API.CONSUMER.DELETE.{stream}.{name}");
            c.api(&subject, &Value::Null, &not_found(stream, name))?;
            if g.json {
                out_json(&json!({ "deleted": name }), true)
            } else {
                out(&format!("Deleted consumer \"{name}\"\n"))
            }
        }
        ConsumerCmd::Next {
            stream,
            name,
            count,
            no_ack,
        } => next(g, &mut c, stream, name, *count, !*no_ack),
    }
}

fn num(v: &Value) -> String {
    v.as_u64().unwrap_or(0).to_string()
}

fn mode(config: &Value) -> &'static str {
    match config["deliver_subject"].as_str() {
        Some(s) if !s.is_empty() => "push",
        _ => "pull",
    }
}

fn add(g: &Global, c: &mut Client, a: &AddArgs) -> Result<()> {
    let mut config = json!({
        "durable_name": a.name,
        "ack_policy": match a.ack {
            AckPolicy::Explicit => "explicit",
            AckPolicy::None => "none",
            AckPolicy::All => "all",
        },
        "deliver_policy": match a.deliver_policy {
            DeliverPolicy::All => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence => "by_start_sequence",
            DeliverPolicy::LastPerSubject => "last_per_subject",
        },
        "max_deliver": a.max_deliver,
        "replay_policy": "instant",
    });
    if let Some(d) = &a.deliver {
        config["deliver_subject"] = d.as_str().into();
    }
    if let Some(s) = a.start_seq {
        config["opt_start_seq"] = s.into();
    }
    if let Some(f) = &a.filter {
        config["filter_subject"] = f.as_str().into();
    }
    if let Some(w) = a.ack_wait {
        config["ack_wait"] = (w.as_nanos() as u64).into();
    }
    let subject = format!("$JS.API.CONSUMER.DURABLE.CREATE.{}.{}", a.stream, a.name);
    let body = json!({ "stream_name": a.stream, "config": config });
    let info = c.api(&subject, &body, &not_found(&a.stream, &a.name))?;
    show_info(g, info)
}

fn show_info(g: &Global, mut info: Value) -> Result<()> {
    if let Value::Object(o) = &mut info {
        o.remove("type");
    }
    if g.json {
        return out_json(&info, false);
    }
    let cfg = &info["config"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut lines = vec![
        ("Name", text(&info["name"])),
        ("Stream", text(&info["stream_name"])),
        ("Mode", mode(cfg).to_owned()),
    ];
    if mode(cfg) == "push" {
        lines.push(("Deliver Subject", text(&cfg["deliver_subject"])));
    }
    let filter = match cfg["filter_subject"].as_str() {
        Some(f) if !f.is_empty() => f.to_owned(),
        _ => "-".to_owned(),
    };
    lines.extend([
        ("Filter", filter),
        ("Deliver Policy", text(&cfg["deliver_policy"])),
        ("Ack Policy", text(&cfg["ack_policy"])),
        (
            "Ack Wait",
            format::nanos(cfg["ack_wait"].as_i64().unwrap_or(0)),
        ),
        (
            "Max Deliver",
            match cfg["max_deliver"].as_i64() {
                Some(n) if n > 0 => n.to_string(),
                _ => "unlimited".into(),
            },
        ),
        (
            "Delivered",
            format!(
                "consumer seq {}, stream seq {}",
                num(&info["delivered"]["consumer_seq"]),
                num(&info["delivered"]["stream_seq"])
            ),
        ),
        (
            "Ack Floor",
            format!(
                "consumer seq {}, stream seq {}",
                num(&info["ack_floor"]["consumer_seq"]),
                num(&info["ack_floor"]["stream_seq"])
            ),
        ),
        ("Ack Pending", num(&info["num_ack_pending"])),
        ("Redelivered", num(&info["num_redelivered"])),
        ("Pending", num(&info["num_pending"])),
        ("Waiting Pulls", num(&info["num_waiting"])),
    ]);
    out(&format::key_values(&lines))
}

/// The sid of a pull's reply subscription.
const PULL_SID: &str = "3";

/// What a JetStream delivery's ack subject says about it.
#[derive(Debug, PartialEq, Eq)]
pub struct AckInfo {
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub pending: u64,
}

/// Reads `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (and the
/// longer form with a domain and account hash in front, and a random token after).
pub fn parse_ack(reply: &str) -> Option<AckInfo> {
    let t: Vec<&str> = reply.strip_prefix("$JS.ACK.")?.split('.').collect();
    let nums = match t.len() {
        7 => &t[2..],
        n if n >= 9 => &t[4..9],
        _ => return None,
    };
    let n = |i: usize| nums[i].parse::<u64>().ok();
    Some(AckInfo {
        delivered: n(0)?,
        stream_seq: n(1)?,
        consumer_seq: n(2)?,
        pending: n(4)?,
    })
}

fn next(g: &Global, c: &mut Client, stream: &str, name: &str, count: u64, ack: bool) -> Result<()> {
    // Ask first, so a missing stream or consumer is named (a pull to nothing gets no answer).
    let info_subject = format!("$JS.API.CONSUMER.INFO.{stream}.{name}");
    let info = c.api(&info_subject, &Value::Null, &not_found(stream, name))?;
    if mode(&info["config"]) == "push" {
        return Err(format!(
            "consumer \"{name}\" is a push consumer; `next` pulls"
        ));
    }
    let reply = c.sub_new_inbox(PULL_SID);
    let expires = c.timeout.as_nanos() as u64;
    let body = json!({ "batch": count, "expires": expires }).to_string();
    let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}");
    c.publish(&subject, Some(&reply), None, body.as_bytes())?;
    c.flush()?;
    // The server answers 408 when the pull expires; allow it a moment beyond.
    let deadline = Instant::now() + c.timeout + Duration::from_secs(1);
    let mut n = 0;
    while n < count {
        let Some(m) = c.next_where(Some(deadline), |m| m.sid == PULL_SID)? else {
            break;
        };
        match m.status() {
            Some(status::CONTROL) => continue,
            Some(s) if s == status::NO_RESPONDERS => {
                return Err(format!("consumer \"{name}\" not found"))
            }
            Some(_) => break, // 404 no messages, 408 expired, 409 ...
            None => {}
        }
        n += 1;
        let mut extra = Map::new();
        let ack_to = m.reply.clone();
        if let Some(a) = ack_to.as_deref().and_then(parse_ack) {
            extra.insert("stream_seq".into(), a.stream_seq.into());
            extra.insert("consumer_seq".into(), a.consumer_seq.into());
            extra.insert("delivered".into(), a.delivered.into());
            extra.insert("pending".into(), a.pending.into());
        }
        print_msg(g.json, n, &m, false, extra)?;
        if let (true, Some(to)) = (ack, ack_to) {
            c.request_raw(&to, None, b"+ACK")?; // a double ack: answered once it is recorded
        }
    }
    if n == 0 {
        note("No messages");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_parse_in_both_forms() {
        let a = parse_ack("$JS.ACK.ORDERS.C1.2.17.5.1700000000000000000.3").unwrap();
        assert_eq!(
            a,
            AckInfo {
                delivered: 2,
                stream_seq: 17,
                consumer_seq: 5,
                pending: 3
            }
        );
        let b = parse_ack("$JS.ACK.dom.hash.S.C.1.2.3.99.0.rand").unwrap();
        assert_eq!(
            (b.delivered, b.stream_seq, b.consumer_seq, b.pending),
            (1, 2, 3, 0)
        );
        assert_eq!(parse_ack("$JS.ACK.S.C.x.2.3.4.5"), None);
        assert_eq!(parse_ack("_INBOX.x"), None);
    }
}
