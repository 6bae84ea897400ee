//! The server's errors and the one place they become `-ERR` text.
//!
//! `Display` is exactly what nats-server sends inside `-ERR '...'` for the same fault;
//! [`ServerError::encode`] is the only place that turns an error into those bytes, and
//! [`ServerError::is_fatal`] says whether the connection is closed after it (a connection's
//! `send_err` decides by it; see also `client/mod.rs`).

use bytes::BytesMut;
use sluice_protocol::{encode_err, ProtocolError};
use thiserror::Error;

/// Everything that makes the server send `-ERR` to a client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServerError {
    /// The client broke the wire protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// SUB with an invalid subject (or, in pedantic mode, PUB with one).
    #[error("Invalid Subject")]
    InvalidSubject,
    /// Pedantic PUB to a subject with wildcards or empty tokens.
    #[error("Invalid Publish Subject")]
    InvalidPublishSubject,
    /// SUB with an invalid queue group name.
    #[error("Invalid Queue Name")]
    InvalidQueue,
    /// Missing or wrong credentials, or an op before CONNECT on a server requiring auth.
    #[error("Authorization Violation")]
    AuthorizationViolation,
    /// An operator-mode user whose JWT expired while it was connected.
    #[error("User Authentication Expired")]
    AuthExpired,
    /// An operator-mode user revoked, while connected, by an update of its account's JWT.
    #[error("User Authentication Revoked")]
    AuthRevoked,
    /// No CONNECT within the auth timeout.
    #[error("Authentication Timeout")]
    AuthTimeout,
    /// SUB beyond the user JWT's `subs` limit (the SUB is refused, the connection goes on).
    #[error("maximum subscriptions exceeded")]
    TooManySubs,
    /// CONNECT as a user whose JWT allows no subscriptions at all (`subs` 0; nats-server
    /// sends this and closes the connection).
    #[error("maximum subscriptions exceeded")]
    NoSubsAllowed,
    /// Too many unanswered PINGs.
    #[error("Stale Connection")]
    StaleConnection,
    /// Pending outbound bytes over max_pending, or a write stuck past the write deadline.
    #[error("Slow Consumer")]
    SlowConsumer,
    /// A plaintext client on a server that requires TLS (sent before the connection is
    /// closed, instead of the TLS handshake it should have started).
    #[error("Secure Connection - TLS Required")]
    SecureConnectionRequired,
    /// max_connections reached.
    #[error("maximum connections exceeded")]
    MaxConnections,
    /// CONNECT with a protocol level other than 0 or 1.
    #[error("invalid client protocol")]
    InvalidClientProtocol,
    /// CONNECT asked for no_responders without headers.
    #[error("no responders requires headers support")]
    NoRespondersRequiresHeaders,
    /// PUB with a reply subject reserved for the server (`$JS.ACK.`, `_R_.`).
    #[error("Permissions Violation for Publish with Reply of \"{0}\"")]
    ReservedReply(String),
    /// PUB to a subject the user may not publish to (the message is dropped).
    #[error("Permissions Violation for Publish to {0:?}")]
    PublishViolation(String),
    /// SUB to a subject (or queue group) the user may not subscribe to.
    #[error(
        "Permissions Violation for Subscription to {subject:?}{}",
        queue.as_ref().map(|q| format!(" using queue {q:?}")).unwrap_or_default()
    )]
    SubscribeViolation {
        subject: String,
        queue: Option<String>,
    },
    /// A subscription removed because a reload of the authorization no longer allows it.
    #[error("Permissions Violation for Subscription to {subject:?} (sid {sid:?})")]
    SubscriptionRevoked { subject: String, sid: String },
    /// HPUB from a client that did not send `headers: true` (nats-server closes silently).
    #[error("Unknown Protocol Operation")]
    HeadersNotNegotiated,
}

impl ServerError {
    /// True if nats-server closes the connection after sending this error. The others refuse
    /// one op (or, for [`ServerError::InvalidPublishSubject`], only complain about it) and the
    /// connection goes on.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ServerError::InvalidSubject
                | ServerError::InvalidPublishSubject
                | ServerError::InvalidQueue
                | ServerError::TooManySubs
                | ServerError::ReservedReply(_)
                | ServerError::PublishViolation(_)
                | ServerError::SubscribeViolation { .. }
                | ServerError::SubscriptionRevoked { .. }
        )
    }

    /// Appends `-ERR '<Display text>'\r\n` to `dst`: the only place a `ServerError` becomes
    /// protocol bytes.
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        encode_err(dst, &self.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::ServerError;
    use sluice_protocol::ProtocolError;

    /// Which errors close the connection: what Sluice does today, which the differential and
    /// black-box tests compare with nats-server 2.9.10 (`ReservedReply`: differential
    /// `reserved_reply_subjects`). The sites that send fatal errors outside a connection's
    /// read loop always close: slow consumer (outbound.rs), max connections (server.rs), TLS
    /// required (tls.rs).
    #[test]
    fn fatal_as_nats_server() {
        let s = String::new;
        let cases = [
            (ServerError::Protocol(ProtocolError::UnknownOp), true),
            (ServerError::Protocol(ProtocolError::PayloadTooLarge), true),
            (ServerError::InvalidSubject, false),
            (ServerError::InvalidPublishSubject, false),
            (ServerError::InvalidQueue, false),
            (ServerError::AuthorizationViolation, true),
            (ServerError::AuthTimeout, true),
            (ServerError::AuthExpired, true),
            (ServerError::AuthRevoked, true),
            (ServerError::TooManySubs, false),
            (ServerError::NoSubsAllowed, true),
            (ServerError::StaleConnection, true),
            (ServerError::SlowConsumer, true),
            (ServerError::SecureConnectionRequired, true),
            (ServerError::MaxConnections, true),
            (ServerError::InvalidClientProtocol, true),
            (ServerError::NoRespondersRequiresHeaders, true),
            // nats-server drops the message and keeps the connection.
            (ServerError::ReservedReply(s()), false),
            (ServerError::PublishViolation(s()), false),
            (
                ServerError::SubscribeViolation {
                    subject: s(),
                    queue: None,
                },
                false,
            ),
            (
                ServerError::SubscriptionRevoked {
                    subject: s(),
                    sid: s(),
                },
                false,
            ),
            (ServerError::HeadersNotNegotiated, true),
        ];
        for (err, fatal) in cases {
            assert_eq!(err.is_fatal(), fatal, "{err:?}");
        }
    }

    #[test]
    fn encode_is_the_err_line() {
        let mut b = bytes::BytesMut::new();
        ServerError::Protocol(ProtocolError::ControlLineTooLong).encode(&mut b);
        ServerError::ReservedReply("_R_.x".into()).encode(&mut b);
        assert_eq!(
            &b[..],
            b"-ERR 'maximum control line exceeded'\r\n-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n"
        );
    }

    /// The texts nats-server 2.9.10 sends (checked against it).
    #[test]
    fn permission_texts() {
        assert_eq!(
            ServerError::PublishViolation("foo.secret".into()).to_string(),
            r#"Permissions Violation for Publish to "foo.secret""#
        );
        assert_eq!(
            ServerError::SubscribeViolation {
                subject: "foo.bar.x".into(),
                queue: None
            }
            .to_string(),
            r#"Permissions Violation for Subscription to "foo.bar.x""#
        );
        assert_eq!(
            ServerError::SubscribeViolation {
                subject: "baz".into(),
                queue: Some("q".into())
            }
            .to_string(),
            r#"Permissions Violation for Subscription to "baz" using queue "q""#
        );
        assert_eq!(
            ServerError::SubscriptionRevoked {
                subject: "bar".into(),
                sid: "2".into()
            }
            .to_string(),
            r#"Permissions Violation for Subscription to "bar" (sid "2")"#
        );
    }
}
