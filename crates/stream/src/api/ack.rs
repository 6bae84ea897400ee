//! Publish answers: how a [`PublishError`] becomes nats-server's error, and the PubAck bytes.

use crate::api::errors::ApiError;
use crate::api::types::{PubAck, PubAckResponse};
use crate::stream::{PublishError, Stored};

impl PublishError {
    /// nats-server's error for this refusal; `None` where nats-server sends no answer at all
    /// (an invalid `Nats-Rollup` value).
    pub fn to_api_error(&self) -> Option<ApiError> {
        Some(match self {
            PublishError::Sealed => ApiError::stream_sealed(),
            PublishError::WrongStream => ApiError::stream_not_match(),
            PublishError::WrongLastSeq(seq) => ApiError::stream_wrong_last_sequence(*seq),
            PublishError::WrongLastMsgId(id) => ApiError::stream_wrong_last_msg_id(id),
            PublishError::TooLarge => ApiError::stream_message_exceeds_maximum(),
            PublishError::MaxMsgs => ApiError::maximum_messages_exceeded(),
            PublishError::MaxBytes => ApiError::maximum_bytes_exceeded(),
            PublishError::MaxMsgsPerSubject => ApiError::maximum_messages_per_subject_exceeded(),
            PublishError::RollupNotPermitted => ApiError::rollup_not_permitted(),
            PublishError::InvalidRollup(_) => return None,
            PublishError::TtlDisabled => ApiError::message_ttl_disabled(),
            PublishError::InvalidTtl(_) => ApiError::message_ttl_invalid(),
            PublishError::AccountLimits => ApiError::account_resources_exceeded(),
            PublishError::InsufficientResources => ApiError::insufficient_resources(),
            PublishError::Store(e) => ApiError::stream_store_failed(e),
        })
    }
}

/// The bytes to send to a publisher's reply subject, or `None` for no answer; an ack names
/// the JetStream `domain`, if there is one, as nats-server's does.
pub fn encode_ack(
    stream: &str,
    domain: Option<&str>,
    result: &Result<Stored, PublishError>,
) -> Option<Vec<u8>> {
    let with_domain = |mut ack: PubAck| {
        if let Some(d) = domain {
            ack.domain = d.to_owned();
        }
        ack
    };
    Some(match result {
        Ok(Stored::New(seq)) => {
            PubAckResponse::ok(with_domain(PubAck::new(stream, *seq))).to_wire()
        }
        Ok(Stored::Duplicate(seq)) => {
            PubAckResponse::ok(with_domain(PubAck::duplicate(stream, *seq))).to_wire()
        }
        Err(e) => PubAckResponse::error(stream, e.to_api_error()?).to_wire(),
    })
}
