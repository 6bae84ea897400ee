//! Plain NATS: `pub`, `sub`, `req`, `reply`, and how a received message is printed (shared
//! with `consumer next`).

use super::client::Msg;
use super::{format, note, out, out_json, Global, Result};
use clap::Args;
use serde_json::{json, Map, Value};
use sluice_protocol::HeaderMap;
use std::io::IsTerminal;

#[derive(Debug, Args)]
pub struct PubArgs {
    /// Subject to publish to
    pub subject: String,
    /// Payload; with --count, {{Count}} is replaced by the message's 1-based index
    #[arg(default_value = "")]
    pub msg: String,
    /// Publish this many messages
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub count: u64,
    /// A header, KEY:VALUE (repeatable)
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    pub headers: Vec<String>,
    /// Reply subject to send with the message(s)
    #[arg(long, value_name = "SUBJECT")]
    pub reply: Option<String>,
}

#[derive(Debug, Args)]
pub struct SubArgs {
    /// Subject to subscribe to (wildcards allowed)
    pub subject: String,
    /// Join this queue group
    #[arg(long, value_name = "GROUP")]
    pub queue: Option<String>,
    /// Exit after this many messages
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Print the headers of each message
    #[arg(long)]
    pub headers: bool,
}

#[derive(Debug, Args)]
pub struct ReqArgs {
    /// Subject to send the request to
    pub subject: String,
    /// Request payload
    #[arg(default_value = "")]
    pub msg: String,
    /// A header, KEY:VALUE (repeatable)
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    pub headers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// Subject to answer requests on
    pub subject: String,
    /// The response; {{Request}} is replaced by the request's payload
    pub response: String,
    /// Join this queue group
    #[arg(long, value_name = "GROUP")]
    pub queue: Option<String>,
    /// Exit after answering this many requests
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// The sid of the command's own subscription (the inbox has sid 1).
const SID: &str = "2";

/// Builds a header block from `KEY:VALUE` arguments (`None` when there are none).
pub fn parse_headers(args: &[String]) -> Result<Option<HeaderMap>> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut h = HeaderMap::new();
    for a in args {
        let (k, v) = a
            .split_once(':')
            .ok_or_else(|| format!("invalid header {a:?} (want KEY:VALUE)"))?;
        h.append(k.trim(), v.trim())
            .map_err(|e| format!("invalid header {a:?}: {e}"))?;
    }
    Ok(Some(h))
}

pub fn publish(g: &Global, a: &PubArgs) -> Result<()> {
    let headers = parse_headers(&a.headers)?;
    let mut c = g.connect()?;
    let bar = (a.count >= 1000 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(a.count);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} msgs {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let templated = a.msg.contains("{{Count}}");
    for i in 1..=a.count {
        let payload = if templated {
            a.msg.replace("{{Count}}", &i.to_string())
        } else {
            a.msg.clone()
        };
        c.publish(
            &a.subject,
            a.reply.as_deref(),
            headers.as_ref(),
            payload.as_bytes(),
        )?;
        if let Some(b) = &bar {
            if i % 256 == 0 {
                b.set_position(i);
            }
        }
    }
    c.flush()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if g.json {
        out_json(&json!({"published": a.count, "subject": a.subject}), true)
    } else {
        // Worded as the interface spec has it, singular or plural alike.
        note(&format!(
            "Published {} message(s) to \"{}\"",
            a.count, a.subject
        ));
        Ok(())
    }
}

pub fn subscribe(g: &Global, a: &SubArgs) -> Result<()> {
    let mut c = g.connect()?;
    c.sub(&a.subject, a.queue.as_deref(), SID);
    c.flush()?;
    note(&format!("Listening on \"{}\"", a.subject));
    let mut n = 0;
    while a.count.is_none_or(|max| n < max) {
        let Some(m) = c.next_where(None, |m| m.sid == SID)? else {
            continue;
        };
        n += 1;
        print_msg(g.json, n, &m, a.headers, Map::new())?;
    }
    Ok(())
}

pub fn request(g: &Global, a: &ReqArgs) -> Result<()> {
    let headers = parse_headers(&a.headers)?;
    let mut c = g.connect()?;
    let m = c.request(&a.subject, headers.as_ref(), a.msg.as_bytes())?;
    if g.json {
        out_json(
            &json!({
                "subject": m.subject,
                "data": String::from_utf8_lossy(&m.payload),
                "headers": headers_json(m.headers.as_ref()),
            }),
            true,
        )
    } else {
        out(&format!("{}\n", String::from_utf8_lossy(&m.payload)))
    }
}

pub fn reply(g: &Global, a: &ReplyArgs) -> Result<()> {
    let mut c = g.connect()?;
    c.sub(&a.subject, a.queue.as_deref(), SID);
    c.flush()?;
    note(&format!("Listening on \"{}\"", a.subject));
    let mut n = 0;
    while a.count.is_none_or(|max| n < max) {
        let Some(m) = c.next_where(None, |m| m.sid == SID)? else {
            continue;
        };
        let Some(to) = &m.reply else {
            continue; // a plain publish: nobody to answer
        };
        n += 1;
        let body = a
            .response
            .replace("{{Request}}", &String::from_utf8_lossy(&m.payload));
        c.publish(to, None, None, body.as_bytes())?;
        c.flush()?;
    }
    Ok(())
}

/// `{"Key":["v1","v2"]}` or null.
pub fn headers_json(h: Option<&HeaderMap>) -> Value {
    match h {
        Some(h) if !h.is_empty() => {
            let mut map = Map::new();
            for (k, v) in h.iter() {
                let e = map.entry(k).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = e {
                    a.push(v.into());
                }
            }
            Value::Object(map)
        }
        _ => Value::Null,
    }
}

/// Prints message number `n`: a line with its time, subject and reply, its headers (when
/// asked), its payload and a blank line; or one JSON object with `extra` fields added.
/// Consumer deliveries (`extra` non-empty) show their sequence numbers instead of the
/// `$JS.ACK` reply subject.
pub fn print_msg(
    json: bool,
    n: u64,
    m: &Msg,
    show_headers: bool,
    extra: Map<String, Value>,
) -> Result<()> {
    let time = format::rfc3339(m.received);
    let data = String::from_utf8_lossy(&m.payload);
    if json {
        let mut o = json!({
            "subject": m.subject,
            "reply": m.reply,
            "headers": headers_json(m.headers.as_ref()),
            "data": data,
            "time": time,
        });
        if let Value::Object(obj) = &mut o {
            obj.extend(extra);
        }
        return out_json(&o, true);
    }
    let mut text = format!("[#{n}] {time} subject={}", m.subject);
    if extra.is_empty() {
        if let Some(r) = &m.reply {
            text.push_str(&format!(" reply={r}"));
        }
    }
    let first = ["stream_seq", "consumer_seq", "delivered", "pending"];
    let rest = extra.keys().filter(|k| !first.contains(&k.as_str()));
    for k in first.iter().copied().chain(rest.map(String::as_str)) {
        if let Some(v) = extra.get(k) {
            text.push_str(&format!(" {k}={v}"));
        }
    }
    text.push('\n');
    if show_headers {
        if let Some(h) = &m.headers {
            for (k, v) in h.iter() {
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
    }
    text.push_str(&data);
    text.push_str("\n\n");
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_from_arguments() {
        assert_eq!(parse_headers(&[]), Ok(None));
        let h = parse_headers(&["A:1".into(), "B: two".into(), "A:3".into()])
            .unwrap()
            .unwrap();
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h.get("B"), Some("two"));
        assert_eq!(
            headers_json(Some(&h)),
            json!({"A": ["1", "3"], "B": ["two"]})
        );
        assert_eq!(headers_json(None), Value::Null);
        assert!(parse_headers(&["novalue".into()]).is_err());
        assert!(parse_headers(&["bad key:v".into()]).is_err());
    }
}
