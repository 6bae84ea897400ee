//! PUB and HPUB: the checks (auth, headers, pedantic subject, permissions, reserved
//! replies), routing, and the no-responders reply to a request nobody got.

use super::Conn;
use crate::error::ServerError;
use bytes::BytesMut;
use sluice_protocol::encode_msg;
use sluice_protocol::headers::status;
use sluice_protocol::parse::Span;
use sluice_protocol::subject::is_valid_literal_subject;

/// Reply subjects a client may not use: nats-server reserves them for JetStream acks and
/// service imports.
fn is_reserved_reply(reply: &str) -> bool {
    reply.starts_with("$JS.ACK.") || reply.starts_with("_R_.")
}

impl Conn {
    /// PUB or HPUB, straight from the read buffer: `buf` as scanned, the op being its first
    /// `len` bytes (the caller then advances past them). Checked, then routed.
    #[inline]
    pub(super) fn handle_pub(
        &mut self,
        buf: &[u8],
        len: usize,
        subject: Span,
        reply: Option<Span>,
        headers: Option<Span>,
        payload: Span,
    ) -> Result<(), ServerError> {
        if self.publisher.trace {
            self.trace_in(&buf[..len]);
        }
        if !self.connected && self.shared.auth_required() {
            return Err(ServerError::AuthorizationViolation);
        }
        // As nats-server: payload and header bytes, before any permission check.
        let size = payload.get(buf).len() + headers.map_or(0, |h| h.get(buf).len());
        self.handle.stats.record_in(size);
        if headers.is_some() && !self.handle.headers() {
            return Err(ServerError::HeadersNotNegotiated);
        }
        let subject = subject.text_in(buf);
        let reply = reply.map(|r| r.text_in(buf));
        if self.pedantic && !is_valid_literal_subject(subject) {
            // As nats-server: complain, but still deliver.
            self.send_err(ServerError::InvalidPublishSubject)?;
        }
        let permitted = match self.perms.as_deref_mut() {
            None => true,
            Some(perms) => perms.can_publish(subject, &self.handle.perms),
        };
        if !permitted {
            // As nats-server: the message is dropped, the connection stays.
            self.send_err(ServerError::PublishViolation(subject.to_owned()))?;
        } else if reply.is_some_and(is_reserved_reply) {
            // nats-server drops these: such replies are the server's own.
            let reply = reply.unwrap_or_default();
            self.send_err(ServerError::ReservedReply(reply.to_owned()))?;
        } else {
            self.ok();
            // An empty header block is no header block (nats-server sends MSG).
            let headers = headers.map(|h| h.get(buf)).filter(|h| !h.is_empty());
            self.publish(subject, reply, headers, payload.get(buf));
        }
        Ok(())
    }

    /// Routes one message from this connection; answers "no responders" when asked to and
    /// nobody got it.
    #[inline]
    fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        // A subject with an empty token can match no subscription (nats-server delivers it
        // nowhere, not even to `>`).
        let routable =
            !(subject.starts_with('.') || subject.ends_with('.') || subject.contains(".."));
        let delivered = routable
            && self.publisher.publish(
                &self.shared,
                &self.account,
                subject,
                reply,
                headers,
                payload,
            );
        if !delivered && self.no_responders {
            if let Some(reply) = reply {
                self.no_responders(reply);
            }
        }
    }

    /// A request nobody listens to: tell the requester with a 503 status on its reply
    /// subscription, as nats-server does.
    fn no_responders(&mut self, reply: &str) {
        let matches = self.account.sublist.matches(reply);
        let me = self.handle.id;
        let own = matches.plain.iter().find(|s| s.owner.id() == me).cloned();
        if let Some(sub) = own {
            let mut hdr = BytesMut::new();
            sluice_protocol::HeaderMap::with_status(status::NO_RESPONDERS, None).encode(&mut hdr);
            self.push_own(|b| encode_msg(b, reply, &sub.sid, None, Some(&hdr), b""));
        }
    }
}
