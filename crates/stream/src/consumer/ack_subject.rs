//! The reply subject of a delivered message, and the ack payloads clients send to it.
//!
//! nats-server (every version up to v2.11) delivers with the 9-token reply
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>`
//! ([`AckSubject::encode`]); clients read the message's metadata from it. ADR-15's newer form,
//! which clients also accept, adds the JetStream domain (`_` for none) and an account hash
//! after `$JS.ACK`, and may end with a random token:
//! `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>[.<token>...]`.
//! [`AckSubject::parse`] reads both. An ack is a message to that subject whose payload says
//! what to do ([`AckKind::parse`]).

use crate::api::consumer_types::{PullRequest, PullRequestError};
use crate::consumer::config::parse_go_duration;
use serde::Deserialize;
use std::fmt;

/// The fields of an ack reply subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckSubject<'a> {
    /// JetStream domain (long form only; `_` reads as `None`).
    pub domain: Option<&'a str>,
    /// Account hash (long form only).
    pub account_hash: Option<&'a str>,
    pub stream: &'a str,
    pub consumer: &'a str,
    /// How many times this message has been delivered to the consumer (1 the first time).
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    /// When the message was stored, Unix nanoseconds.
    pub timestamp: i64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
    /// The long form's trailing token, if any.
    pub token: Option<&'a str>,
}

/// Why a subject is not an ack reply subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckSubjectError {
    /// Does not start with `$JS.ACK.`.
    #[error("not a $JS.ACK subject")]
    NotAck,
    /// Neither 9 tokens nor 11 or more.
    #[error("wrong number of tokens in ack subject")]
    TokenCount,
    /// A count, sequence or timestamp token is not a plain decimal number.
    #[error("bad number in ack subject")]
    BadNumber,
}

fn num<T: std::str::FromStr>(token: &str) -> Result<T, AckSubjectError> {
    // nats-server's parseAckReplyNum: ASCII digits only (no sign, no empty token).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AckSubjectError::BadNumber);
    }
    token.parse().map_err(|_| AckSubjectError::BadNumber)
}

impl<'a> AckSubject<'a> {
    /// A short-form subject's fields.
    pub fn new(
        stream: &'a str,
        consumer: &'a str,
        delivered: u64,
        stream_seq: u64,
        consumer_seq: u64,
        timestamp: i64,
        pending: u64,
    ) -> Self {
        AckSubject {
            domain: None,
            account_hash: None,
            stream,
            consumer,
            delivered,
            stream_seq,
            consumer_seq,
            timestamp,
            pending,
            token: None,
        }
    }

    /// Parses the 9-token form, or the long form with 11 or more tokens (tokens after the
    /// 12th are ignored, as clients do).
    pub fn parse(subject: &'a str) -> Result<Self, AckSubjectError> {
        let rest = subject
            .strip_prefix("$JS.ACK.")
            .ok_or(AckSubjectError::NotAck)?;
        let t: Vec<&'a str> = rest.split('.').collect();
        let (domain, account_hash, f, token) = match t.len() {
            7 => (None, None, &t[..], None),
            n if n >= 9 => (
                Some(t[0]).filter(|d| *d != "_"),
                Some(t[1]),
                &t[2..9],
                t.get(9).copied(),
            ),
            _ => return Err(AckSubjectError::TokenCount),
        };
        Ok(AckSubject {
            domain,
            account_hash,
            stream: f[0],
            consumer: f[1],
            delivered: num(f[2])?,
            stream_seq: num(f[3])?,
            consumer_seq: num(f[4])?,
            timestamp: num(f[5])?,
            pending: num(f[6])?,
            token,
        })
    }

    /// The 9-token form nats-server sends (domain, account hash and token are left out).
    pub fn encode(&self) -> String {
        format!(
            "$JS.ACK.{}.{}.{}.{}.{}.{}.{}",
            self.stream,
            self.consumer,
            self.delivered,
            self.stream_seq,
            self.consumer_seq,
            self.timestamp,
            self.pending
        )
    }

    /// The subject a consumer subscribes to for all its acks, as nats-server does:
    /// `$JS.ACK.<stream>.<consumer>.*.*.*.*.*` (the short form's five numbers).
    pub fn subscription(stream: &str, consumer: &str) -> String {
        format!("$JS.ACK.{stream}.{consumer}.*.*.*.*.*")
    }
}

impl fmt::Display for AckSubject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// What an ack payload asks for (nats-server's `processAck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// `+ACK`, `+OK` or an empty payload: done with the message.
    Ack,
    /// `-NAK`: redeliver. `delay` (nanoseconds) from `-NAK {"delay": <ns>}` or `-NAK <Go
    /// duration>` (`-NAK 1.5s`); a delay that does not parse is a plain NAK (nats-server only
    /// logs it).
    Nak { delay: Option<i64> },
    /// `+WPI`: work in progress, restart the ack wait.
    Progress,
    /// `+NXT`: ack, and deliver more to the ack's reply subject; the rest of the payload is a
    /// pull request ([`PullRequest::parse`]; a bad one is answered `400 Bad Request - ...`).
    Next(Result<PullRequest, PullRequestError>),
    /// `+TERM`: stop redelivering without processing; the rest of the payload, trimmed, is the
    /// reason (for the advisory), `None` when empty.
    Term { reason: Option<String> },
    /// Anything else: ignored (nats-server still answers an ack that has a reply).
    Unknown,
}

/// Go's `ConsumerNakOptions` (`null` or a missing delay is 0).
#[derive(Deserialize)]
struct NakOptions {
    #[serde(default)]
    delay: Option<i64>,
}

impl AckKind {
    /// Reads an ack payload (the message body, headers already split off), in nats-server's
    /// order: exactly empty, `+ACK` or `+OK`; starting with `+NXT`; starting with `-NAK`;
    /// exactly `+WPI`; starting with `+TERM`; else [`AckKind::Unknown`].
    pub fn parse(payload: &[u8]) -> AckKind {
        if payload.is_empty() || payload == b"+ACK" || payload == b"+OK" {
            return AckKind::Ack;
        }
        if let Some(rest) = payload.strip_prefix(b"+NXT") {
            return AckKind::Next(PullRequest::parse(rest));
        }
        if let Some(rest) = payload.strip_prefix(b"-NAK") {
            let arg = rest.trim_ascii();
            let delay = if arg.is_empty() {
                None
            } else if arg[0] == b'{' {
                serde_json::from_slice::<NakOptions>(arg)
                    .ok()
                    .map(|o| o.delay.unwrap_or(0))
            } else {
                std::str::from_utf8(arg).ok().and_then(parse_go_duration)
            };
            return AckKind::Nak { delay };
        }
        if payload == b"+WPI" {
            return AckKind::Progress;
        }
        if let Some(rest) = payload.strip_prefix(b"+TERM") {
            let reason = String::from_utf8_lossy(rest.trim_ascii()).into_owned();
            return AckKind::Term {
                reason: (!reason.is_empty()).then_some(reason),
            };
        }
        AckKind::Unknown
    }

    /// The payload a client sends for this kind (`+NXT` with the request's JSON, `-NAK` with
    /// `{"delay":<ns>}`, `+TERM <reason>`); `None` for [`AckKind::Unknown`] and a refused
    /// `+NXT` request, which have no payload of their own.
    pub fn to_payload(&self) -> Option<Vec<u8>> {
        Some(match self {
            AckKind::Ack => b"+ACK".to_vec(),
            AckKind::Nak { delay: None } => b"-NAK".to_vec(),
            AckKind::Nak { delay: Some(d) } => format!("-NAK {{\"delay\":{d}}}").into_bytes(),
            AckKind::Progress => b"+WPI".to_vec(),
            AckKind::Next(Ok(req)) => {
                let mut v = b"+NXT ".to_vec();
                v.extend_from_slice(&req.to_json());
                v
            }
            AckKind::Term { reason: None } => b"+TERM".to_vec(),
            AckKind::Term { reason: Some(r) } => format!("+TERM {r}").into_bytes(),
            AckKind::Next(Err(_)) | AckKind::Unknown => return None,
        })
    }
}
