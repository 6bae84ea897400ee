//! Publish acks.

use super::*;

// --- Publish acks ----------------------------------------------------------------------------

/// The ack of a publish to a stream (Go's `PubAck`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PubAck {
    pub stream: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate: bool,
}

impl PubAck {
    pub fn new(stream: &str, seq: u64) -> Self {
        PubAck {
            stream: stream.to_owned(),
            seq,
            ..Default::default()
        }
    }

    /// The ack of a duplicate (`Nats-Msg-Id` seen within the window): `seq` is the original's.
    pub fn duplicate(stream: &str, seq: u64) -> Self {
        PubAck {
            duplicate: true,
            ..PubAck::new(stream, seq)
        }
    }

    /// The exact bytes nats-server sends, which it builds by hand, not with its JSON encoder:
    /// `{"stream":"S", "seq":1}`, `{"stream":"S", "domain":"D", "seq":1}`, and for a duplicate
    /// `{"stream":"S", "seq":2,"duplicate": true}` (spaces included).
    pub fn to_wire(&self) -> Vec<u8> {
        let q = |s: &str| serde_json::to_string(s).expect("strings always serialise");
        let mut out = format!("{{\"stream\":{}, ", q(&self.stream));
        if !self.domain.is_empty() {
            out.push_str(&format!("\"domain\":{}, ", q(&self.domain)));
        }
        out.push_str(&format!("\"seq\":{}", self.seq));
        if self.duplicate {
            out.push_str(",\"duplicate\": true");
        }
        out.push('}');
        out.into_bytes()
    }
}

/// A publish answer (Go's `JSPubAckResponse`): an ack, or `{"error":{..},"stream":"S","seq":0}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PubAckResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub ack: PubAck,
}

impl PubAckResponse {
    pub fn ok(ack: PubAck) -> Self {
        PubAckResponse { error: None, ack }
    }

    /// The failure answer: the error, the stream's name and `seq` 0.
    pub fn error(stream: &str, error: ApiError) -> Self {
        PubAckResponse {
            error: Some(error),
            ack: PubAck::new(stream, 0),
        }
    }

    /// The bytes to send: [`PubAck::to_wire`] for an ack, compact JSON for an error.
    pub fn to_wire(&self) -> Vec<u8> {
        match &self.error {
            None => self.ack.to_wire(),
            Some(_) => serde_json::to_vec(self).expect("pub acks always serialise"),
        }
    }
}
