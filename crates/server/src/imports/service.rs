//! A publish through a service import: the request goes on into the exporting account,
//! mapped, with a reply subject of the exporter's that brings the responses back.

use crate::config::ResponseType;
use crate::handle::Account;
use crate::route::Publisher;
use crate::shared::Shared;
use std::time::Instant;

/// The header nats-server adds to a request that crossed a service import.
const REQUEST_INFO: &str = "Nats-Request-Info";

/// `headers` (a `NATS/1.0` block, or none) with `Nats-Request-Info` naming `account` added.
pub(crate) fn with_request_info(headers: Option<&[u8]>, account: &str) -> Vec<u8> {
    let info = serde_json::json!({ "acc": account }).to_string();
    let line = format!("{REQUEST_INFO}: {info}\r\n");
    match headers {
        Some(h) if h.ends_with(b"\r\n\r\n") => {
            let mut out = Vec::with_capacity(h.len() + line.len());
            out.extend_from_slice(&h[..h.len() - 2]);
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            out
        }
        _ => format!("NATS/1.0\r\n{line}\r\n").into_bytes(),
    }
}

impl Publisher {
    /// Publishes a message of account `acc`'s on `subject` through each of its service
    /// imports that takes it. True if anyone received it.
    pub(crate) fn through_service_imports(
        &mut self,
        shared: &Shared,
        acc: &Account,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let Some(imports) = acc.service_imports() else {
            return false;
        };
        if self.import_depth >= super::MAX_DEPTH {
            return false;
        }
        let mut delivered = false;
        for import in imports {
            if !sluice_protocol::subject::subject_matches(&import.to, subject) {
                continue;
            }
            let (Some(exporter), Some(mapped)) =
                (import.exporter.upgrade(), import.mapping.q_to_f(subject))
            else {
                continue;
            };
            let responses = exporter.imports.get().and_then(|i| i.responses.as_ref());
            let new_reply = match (reply, responses) {
                (Some(reply), Some(responses)) => Some(responses.add(
                    import.importer.clone(),
                    reply,
                    import.response == ResponseType::Singleton,
                    import.threshold,
                    Instant::now(),
                )),
                _ => None,
            };
            let headers = with_request_info(headers, &acc.name);
            self.import_depth += 1;
            delivered |= self.publish(
                shared,
                &exporter,
                &mapped,
                new_reply.as_deref(),
                Some(&headers),
                payload,
            );
            self.import_depth -= 1;
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info_is_added_to_a_header_block_or_makes_one() {
        assert_eq!(
            with_request_info(None, "B"),
            b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\n"
        );
        assert_eq!(
            with_request_info(Some(b"NATS/1.0\r\nX: 1\r\n\r\n"), "B"),
            b"NATS/1.0\r\nX: 1\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\n"
        );
    }
}
