//! The JetStream workloads: js-pub (acked publishes to a file stream) and js-consume (a
//! durable pull consumer draining a file stream, explicit acks).
//!
//! Both use one connection on the calling thread: with acks gating the publisher, a second
//! thread would only add a hand-off to every round trip.

use super::conn::{Conn, Result, INBOX_SID, STALL};
use super::core::Payload;
use super::progress::Counter;
use super::report::Report;
use super::Settings;
use std::time::{Duration, Instant};

/// Publishes in flight while js-consume fills its stream.
const FILL_WINDOW: usize = 256;
/// Messages per pull request.
const PULL_BATCH: usize = 100;

/// Fails unless `r` is a success or an error with one of the `allowed` err_codes.
fn check(what: &str, r: &serde_json::Value, allowed: &[u64]) -> Result<()> {
    match r["error"]["err_code"].as_u64() {
        Some(code) if !allowed.contains(&code) => Err(format!("{what}: {r}")),
        None if r.get("error").is_some() => Err(format!("{what}: {r}")),
        _ => Ok(()),
    }
}

/// The create request of file stream `name` on `subjects` with `replicas` replicas.
pub fn stream_config(name: &str, subjects: &str, replicas: usize) -> String {
    format!(
        r#"{{"name":"{name}","subjects":["{subjects}"],"storage":"file","num_replicas":{replicas}}}"#
    )
}

/// Creates (or reuses) file stream `name` on `subjects` with `replicas` replicas and purges it;
/// the sequence its next message will get.
fn fresh_stream(c: &mut Conn, name: &str, subjects: &str, replicas: usize) -> Result<u64> {
    let config = stream_config(name, subjects, replicas);
    let created = c.request(&format!("$JS.API.STREAM.CREATE.{name}"), config.as_bytes())?;
    check("create stream", &created, &[10058])?; // 10058: it exists; reused
    let purged = c.request(&format!("$JS.API.STREAM.PURGE.{name}"), b"")?;
    if purged["success"] != true {
        return Err(format!("purge stream {name}: {purged}"));
    }
    let info = c.request(&format!("$JS.API.STREAM.INFO.{name}"), b"")?;
    check("stream info", &info, &[])?;
    info["state"]["last_seq"]
        .as_u64()
        .map(|s| s + 1)
        .ok_or_else(|| format!("stream info without state.last_seq: {info}"))
}

/// Checks that an ack is a PubAck from `stream` for sequence `expect`.
pub fn check_puback(
    stream: &str,
    headers: Option<&[u8]>,
    payload: &[u8],
    expect: u64,
) -> Result<()> {
    let text = || String::from_utf8_lossy(payload).into_owned();
    if let Some(h) = headers {
        let status = String::from_utf8_lossy(h);
        let status = status.lines().next().unwrap_or_default().trim().to_owned();
        return Err(format!(
            "publish {expect} answered with status {status:?} instead of a PubAck"
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("publish {expect}: ack is not JSON ({e}): {:?}", text()))?;
    if v.get("error").is_some() {
        return Err(format!("publish {expect} rejected: {}", text()));
    }
    if v["stream"] != stream || v["seq"].as_u64() != Some(expect) || v["duplicate"] == true {
        return Err(format!(
            "expected a PubAck from {stream} with seq {expect}, got {}",
            text()
        ));
    }
    Ok(())
}

/// Publishes `msgs` messages to `subject`, each asking for an ack, at most `window`
/// unacknowledged; checks every ack is the PubAck for the next sequence from `first_seq`.
fn publish_acked(
    c: &mut Conn,
    s: &Settings,
    stream: &str,
    subject: &str,
    first_seq: u64,
    window: usize,
    progress: &Counter,
) -> Result<()> {
    let ack_inbox = format!("{}.ack", c.inbox);
    let mut payload = Payload::new(s.size, s.msgs)?;
    let (mut sent, mut acked, mut bad) = (0usize, 0usize, None);
    while acked < s.msgs {
        while sent < s.msgs && sent - acked < window {
            sluice_protocol::encode_pub(
                &mut c.out,
                subject,
                Some(&ack_inbox),
                None,
                payload.stamp(sent),
            );
            sent += 1;
        }
        c.flush()?;
        let got = c.read_some(|m, _| {
            if m.subject != ack_inbox || bad.is_some() {
                return;
            }
            let expect = first_seq + acked as u64;
            match check_puback(stream, m.headers, m.payload, expect) {
                Ok(()) => acked += 1,
                Err(e) => bad = Some(e),
            }
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        if !got {
            return Err(format!(
                "{acked} of {} publishes acked, then no ack for {STALL:?}",
                s.msgs
            ));
        }
        progress.set(acked as u64);
    }
    Ok(())
}

/// `js-pub`: acked publishes to file stream BENCH, `--window` in flight.
pub fn publish(s: &Settings, progress: &Counter) -> Result<Report> {
    let mut c = Conn::connect(&s.server)?;
    let first_seq = fresh_stream(&mut c, "BENCH", "bench.js", s.replicas)?;
    let start = Instant::now();
    publish_acked(
        &mut c, s, "BENCH", "bench.js", first_seq, s.window, progress,
    )?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Report {
        workload: s.workload.name(),
        msgs: s.msgs,
        size: s.size,
        secs,
        subs: None,
        window: Some(s.window),
        latency: None,
        in_flight: None,
        probes: None,
        remote_msgs: None,
    })
}

/// The stream sequence in an ack subject
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`, or
/// the longer form with domain and account hash, which has 12 or more tokens).
pub fn ack_stream_seq(reply: &str) -> Option<u64> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = if tokens.len() >= 12 { 7 } else { 5 };
    tokens[at].parse().ok()
}

/// `js-consume`: fills file stream BENCHC, then drains it through durable pull consumer
/// BENCHC_PULL (batch 100, explicit ack, each ack a plain publish). The clock covers the
/// drain: from the first pull request until the last message has arrived and its ack is
/// written. Checked: every sequence arrives exactly once, and then the consumer reports no
/// ack pending and nothing left.
pub fn consume(s: &Settings, progress: &Counter) -> Result<Report> {
    let (stream, consumer) = ("BENCHC", "BENCHC_PULL");
    let mut c = Conn::connect(&s.server)?;
    let first_seq = fresh_stream(&mut c, stream, "benchc.>", s.replicas)?;
    let r = c.request(&format!("$JS.API.CONSUMER.DELETE.{stream}.{consumer}"), b"")?;
    check("delete consumer", &r, &[10014])?; // 10014: not found
    progress.phase("fill");
    publish_acked(
        &mut c,
        s,
        stream,
        "benchc.x",
        first_seq,
        FILL_WINDOW,
        progress,
    )?;
    let config = format!(
        r#"{{"stream_name":"{stream}","config":{{"durable_name":"{consumer}","ack_policy":"explicit"}}}}"#
    );
    let created = c.request(
        &format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{consumer}"),
        config.as_bytes(),
    )?;
    check("create consumer", &created, &[])?;

    progress.phase("consume");
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
    let pull_inbox = format!("{}.pull", c.inbox);
    let mut seen = vec![false; s.msgs];
    let (mut count, mut bad) = (0usize, None);
    let start = Instant::now();
    while count < s.msgs {
        let want = PULL_BATCH.min(s.msgs - count);
        let body = format!("{{\"batch\":{want}}}");
        sluice_protocol::encode_pub(&mut c.out, &next, Some(&pull_inbox), None, body.as_bytes());
        c.flush()?;
        let (mut got, mut ended) = (0usize, false);
        while got < want && !ended {
            let read = c.read_some(|m, out| {
                if bad.is_some() || m.sid != INBOX_SID {
                    return;
                }
                match m.reply.filter(|r| r.starts_with("$JS.ACK.")) {
                    Some(reply) => {
                        match ack_stream_seq(reply)
                            .and_then(|q| q.checked_sub(first_seq))
                            .map(|i| i as usize)
                            .filter(|&i| i < seen.len())
                        {
                            Some(i) if !seen[i] && m.payload.len() == s.size => seen[i] = true,
                            Some(i) if seen[i] => {
                                bad = Some(format!(
                                    "stream sequence {} delivered twice",
                                    i as u64 + first_seq
                                ))
                            }
                            _ => {
                                bad = Some(format!(
                                    "unexpected message {reply} ({} bytes)",
                                    m.payload.len()
                                ))
                            }
                        }
                        sluice_protocol::encode_pub(out, reply, None, None, b"+ACK");
                        got += 1;
                    }
                    // A status ends this pull request early (404, 408); ask again.
                    None if m.subject == pull_inbox => {
                        let status = String::from_utf8_lossy(m.headers.unwrap_or_default());
                        if status.contains(" 409") {
                            bad = Some(format!("pull request refused: {:?}", status.trim()));
                        }
                        ended = true;
                    }
                    None => {}
                }
            })?;
            if let Some(e) = bad.take() {
                return Err(e);
            }
            if !read {
                return Err(format!(
                    "{} of {} messages consumed, then nothing for {STALL:?}",
                    count + got,
                    s.msgs
                ));
            }
            c.flush()?;
            progress.set((count + got) as u64);
        }
        count += got;
    }
    let secs = start.elapsed().as_secs_f64();
    wait_acks_applied(&mut c, stream, consumer)?;
    Ok(Report {
        workload: s.workload.name(),
        msgs: s.msgs,
        size: s.size,
        secs,
        subs: None,
        window: None,
        latency: None,
        in_flight: None,
        probes: None,
        remote_msgs: None,
    })
}

/// The acks were plain publishes: waits (bounded) until the server has applied them all.
fn wait_acks_applied(c: &mut Conn, stream: &str, consumer: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = c.request(&format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"), b"")?;
        check("consumer info", &info, &[])?;
        let pending = info["num_ack_pending"].as_u64();
        if pending == Some(0) {
            if info["num_pending"] != 0 {
                return Err(format!("messages left after consuming all: {info}"));
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("num_ack_pending never reached 0: {info}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::{ack_stream_seq, check_puback, stream_config};

    #[test]
    fn the_stream_has_the_replicas_asked_for() {
        for n in [1, 3] {
            let v: serde_json::Value =
                serde_json::from_str(&stream_config("BENCH", "bench.js", n)).unwrap();
            assert_eq!(v["num_replicas"], n);
            assert_eq!(v["storage"], "file");
            assert_eq!(v["subjects"][0], "bench.js");
        }
    }

    #[test]
    fn ack_subjects_give_the_stream_sequence() {
        assert_eq!(ack_stream_seq("$JS.ACK.S.C.1.42.7.1700000000.0"), Some(42));
        assert_eq!(
            ack_stream_seq("$JS.ACK.dom.hash.S.C.1.42.7.1700000000.0.tok"),
            Some(42)
        );
        assert_eq!(ack_stream_seq("_INBOX.x"), None);
        assert_eq!(ack_stream_seq("$JS.ACK.S.C.1.x.7.1.0"), None);
    }

    #[test]
    fn pubacks_are_checked() {
        let ok = br#"{"stream":"BENCH","seq":5}"#;
        assert!(check_puback("BENCH", None, ok, 5).is_ok());
        assert!(check_puback("BENCH", None, ok, 6)
            .unwrap_err()
            .contains("seq 6"));
        assert!(check_puback("OTHER", None, ok, 5).is_err());
        let dup = br#"{"stream":"BENCH","seq":5,"duplicate":true}"#;
        assert!(check_puback("BENCH", None, dup, 5).is_err());
        let err = br#"{"error":{"code":503,"description":"x"}}"#;
        assert!(check_puback("BENCH", None, err, 5)
            .unwrap_err()
            .contains("rejected"));
        let status = check_puback("BENCH", Some(b"NATS/1.0 503\r\n\r\n"), b"", 5);
        assert!(status.unwrap_err().contains("503"));
    }
}
