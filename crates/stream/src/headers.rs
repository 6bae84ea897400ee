//! The JetStream headers a publish may carry, read once per message.

use sluice_protocol::HeaderMap;

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";
pub const TTL: &str = "Nats-TTL";

/// What `Nats-Rollup` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    /// Keep only this message for its subject.
    Subject,
    /// Keep only this message in the whole stream.
    All,
}

/// The JetStream-relevant headers of one publish. Missing headers are `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishHeaders {
    pub msg_id: Option<String>,
    pub expected_stream: Option<String>,
    pub expected_last_seq: Option<u64>,
    pub expected_last_subject_seq: Option<u64>,
    pub expected_last_msg_id: Option<String>,
    /// `Some(Err(value))` when the header holds something other than `sub` or `all`.
    pub rollup: Option<Result<Rollup, String>>,
    /// `Some(Err(value))` when the header does not parse as a TTL.
    pub ttl: Option<Result<Ttl, String>>,
}

/// A per-message TTL (`Nats-TTL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Expire this many nanoseconds after storing.
    After(i64),
    /// Never expire, even past the stream's max_age.
    Never,
}

/// Parses a TTL as nats-server 2.11 does: a Go-style duration (`500ms`, `1s`, `5m`, `1h`),
/// a bare number of seconds, or `never`.
pub fn parse_ttl(v: &str) -> Option<Ttl> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("never") {
        return Some(Ttl::Never);
    }
    if let Ok(secs) = v.parse::<i64>() {
        return (secs > 0).then(|| Ttl::After(secs.saturating_mul(1_000_000_000)));
    }
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    let ns = (num * mult) as i64;
    (ns > 0).then_some(Ttl::After(ns))
}

impl PublishHeaders {
    /// Reads the headers out of a raw header block; a block that does not parse is treated as
    /// having none of them.
    pub fn parse(block: Option<&[u8]>) -> PublishHeaders {
        let Some(map) = block.and_then(|b| HeaderMap::parse(b).ok()) else {
            return PublishHeaders::default();
        };
        let text = |k: &str| map.get(k).map(str::to_owned).filter(|v| !v.is_empty());
        let num = |k: &str| map.get(k).and_then(|v| v.trim().parse::<u64>().ok());
        PublishHeaders {
            msg_id: text(MSG_ID),
            expected_stream: text(EXPECTED_STREAM),
            expected_last_seq: num(EXPECTED_LAST_SEQ),
            expected_last_subject_seq: num(EXPECTED_LAST_SUBJECT_SEQ),
            expected_last_msg_id: text(EXPECTED_LAST_MSG_ID),
            rollup: text(ROLLUP).map(|v| match v.as_str() {
                "sub" => Ok(Rollup::Subject),
                "all" => Ok(Rollup::All),
                _ => Err(v),
            }),
            ttl: text(TTL).map(|v| parse_ttl(&v).ok_or(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_header() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Expected-Stream: S\r\nNats-Expected-Last-Sequence: 7\r\nNats-Expected-Last-Subject-Sequence: 3\r\nNats-Expected-Last-Msg-Id: m0\r\nNats-Rollup: sub\r\nNats-TTL: 2s\r\n\r\n";
        let h = PublishHeaders::parse(Some(block));
        assert_eq!(h.msg_id.as_deref(), Some("m1"));
        assert_eq!(h.expected_stream.as_deref(), Some("S"));
        assert_eq!(h.expected_last_seq, Some(7));
        assert_eq!(h.expected_last_subject_seq, Some(3));
        assert_eq!(h.expected_last_msg_id.as_deref(), Some("m0"));
        assert_eq!(h.rollup, Some(Ok(Rollup::Subject)));
        assert_eq!(h.ttl, Some(Ok(Ttl::After(2_000_000_000))));
    }

    #[test]
    fn no_block_means_no_headers() {
        assert_eq!(PublishHeaders::parse(None), PublishHeaders::default());
        assert_eq!(
            PublishHeaders::parse(Some(b"garbage")),
            PublishHeaders::default()
        );
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("never"), Some(Ttl::Never));
        assert_eq!(parse_ttl("10"), Some(Ttl::After(10_000_000_000)));
        assert_eq!(parse_ttl("1.5s"), Some(Ttl::After(1_500_000_000)));
        assert_eq!(parse_ttl("250ms"), Some(Ttl::After(250_000_000)));
        assert_eq!(parse_ttl("1h"), Some(Ttl::After(3_600_000_000_000)));
        assert_eq!(parse_ttl("0"), None);
        assert_eq!(parse_ttl("soon"), None);
        assert_eq!(parse_ttl("5x"), None);
    }
}
