//! `$JS.API` in the accounts JetStream does not serve (every account but the global one, so
//! far): each request is answered at once with nats-server's 503 10039 "JetStream not
//! enabled for account", in the response type of the request, as nats-server 2.9.10 answers
//! in an account without `jetstream: enabled`.

use crate::api::consumer_types::consumer_response_type as consumer;
use crate::api::errors::ApiError;
use crate::api::types::{response_type as stream, ErrorResponse};
use sluice_server::{InternalMsg, InternalSink, ServerHandle};

/// The response type of the request on `subject` (`$JS.API.<rest>`); nats-server's generic
/// one for anything else.
pub(crate) fn response_type_for(subject: &str) -> &'static str {
    let rest = subject.strip_prefix("$JS.API.").unwrap_or("");
    let tokens: Vec<&str> = rest.split('.').collect();
    match tokens[..] {
        ["INFO"] => stream::ACCOUNT_INFO,
        ["STREAM", "CREATE", _] => stream::STREAM_CREATE,
        ["STREAM", "UPDATE", _] => stream::STREAM_UPDATE,
        ["STREAM", "INFO", _] => stream::STREAM_INFO,
        ["STREAM", "DELETE", _] => stream::STREAM_DELETE,
        ["STREAM", "PURGE", _] => stream::STREAM_PURGE,
        ["STREAM", "NAMES"] => stream::STREAM_NAMES,
        ["STREAM", "LIST"] => stream::STREAM_LIST,
        ["STREAM", "MSG", "GET", _] => stream::STREAM_MSG_GET,
        ["STREAM", "MSG", "DELETE", _] => stream::STREAM_MSG_DELETE,
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
            consumer::CONSUMER_CREATE
        }
        ["CONSUMER", "INFO", ..] => consumer::CONSUMER_INFO,
        ["CONSUMER", "DELETE", ..] => consumer::CONSUMER_DELETE,
        ["CONSUMER", "NAMES", _] => consumer::CONSUMER_NAMES,
        ["CONSUMER", "LIST", _] => consumer::CONSUMER_LIST,
        _ => stream::SYSTEM,
    }
}

/// The answer to a request on `subject`.
pub(crate) fn answer(subject: &str) -> Vec<u8> {
    ErrorResponse::new(
        response_type_for(subject),
        ApiError::not_enabled_for_account(),
    )
    .to_json()
}

/// Answers every request of one account (through a handle in that account).
pub(crate) struct NotEnabled {
    pub(crate) server: ServerHandle,
}

impl InternalSink for NotEnabled {
    fn deliver(&self, msg: InternalMsg) {
        // Pull requests to a consumer (`CONSUMER.MSG.NEXT`) get no answer: there is no
        // consumer, as in nats-server.
        let (Some(reply), false) = (
            msg.reply.as_deref(),
            msg.subject.starts_with("$JS.API.CONSUMER.MSG.NEXT."),
        ) else {
            return;
        };
        self.server
            .publish(reply, None, None, &answer(&msg.subject));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_gets_its_own_response_type() {
        let cases = [
            ("$JS.API.INFO", "account_info_response"),
            ("$JS.API.STREAM.CREATE.S", "stream_create_response"),
            ("$JS.API.STREAM.NAMES", "stream_names_response"),
            ("$JS.API.STREAM.MSG.GET.S", "stream_msg_get_response"),
            ("$JS.API.CONSUMER.CREATE.S.C.f", "consumer_create_response"),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
                "consumer_create_response",
            ),
            ("$JS.API.CONSUMER.INFO.S.C", "consumer_info_response"),
            ("$JS.API.NOPE", "io.nats.jetstream.api.v1.system_response"),
        ];
        for (subject, want) in cases {
            let got: serde_json::Value = serde_json::from_slice(&answer(subject)).unwrap();
            let t = got["type"].as_str().unwrap();
            assert!(t.ends_with(want), "{subject}: {t}");
            assert_eq!(got["error"]["err_code"], 10039, "{subject}");
            assert_eq!(got["error"]["code"], 503);
            assert_eq!(
                got["error"]["description"],
                "JetStream not enabled for account"
            );
        }
    }
}
