//! `$JS.API.CONSUMER.*` request handling. The stream's owner holds its consumers, so it
//! answers every consumer request but NAMES: a create or delete is handed to it as a
//! [`StreamOp`] (the name of an unnamed ephemeral, the times and the advisory ids drawn here,
//! before the op is made), INFO and LIST as reads; NAMES is read from the snapshot the owner last published.
//!
//! `CONSUMER.MSG.NEXT` is not handled here: each pull consumer subscribes to its own
//! subject and its requests go straight to the owner.

use crate::api::consumer_types::*;
use crate::api::deferred::{respond, OpAnswer, Read, Request};
use crate::api::errors::ApiError;
use crate::api::handlers::{defer_to, Handled};
use crate::api::types::{is_empty_request, parse_optional_request, parse_request};
use crate::consumer::advisory::advisory_id;
use crate::consumer::config::generate_consumer_name;
use crate::jetstream::Inner;
use crate::op::StreamOp;
use crate::time::{now_ns, Timestamp};

/// Answers a `$JS.API.CONSUMER.<op>...` request (or hands it to the stream's owner); `None`
/// when no consumer endpoint serves the subject (the caller answers that as nats-server v2.10
/// does). Endpoints are matched token for token, as nats-server's subscriptions
/// (`$JS.API.CONSUMER.INFO.*.*`, ...) match.
pub(crate) fn handle(js: &Inner, reply: &str, subject: &str, body: &[u8]) -> Option<Handled> {
    let rest = subject.strip_prefix("$JS.API.CONSUMER.")?;
    let tokens: Vec<&str> = rest.split('.').collect();
    Some(match tokens[..] {
        ["CREATE", ..] | ["DURABLE", "CREATE", ..] => {
            create(js, reply, &ConsumerCreateSubject::parse(subject)?, body)
        }
        ["INFO", _, _] => info(js, reply, subject, body),
        ["DELETE", _, _] => delete(js, reply, subject, body),
        ["NAMES", _] => names(js, subject, body).into(),
        ["LIST", _] => list(js, reply, subject, body),
        _ => return None,
    })
}

fn create(js: &Inner, reply: &str, target: &ConsumerCreateSubject, body: &[u8]) -> Handled {
    let config = parse_request::<CreateConsumerRequest>(body)
        .and_then(|req| Ok((req.resolve(target)?, req.action)));
    let (config, action) = match config {
        Ok(c) => c,
        Err(e) => return Handled::Now(respond::<ConsumerCreateResponse>(Err(e))),
    };
    let now = now_ns();
    let op = StreamOp::CreateConsumer {
        config: Box::new(config),
        action,
        generated_name: generate_consumer_name(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
        advisory_id: advisory_id(),
    };
    defer_to::<ConsumerCreateResponse>(js, target.stream(), |_| {
        Ok(Request::Op {
            op,
            answer: OpAnswer::ConsumerCreate,
            reply: reply.to_owned(),
        })
    })
}

/// The stream (token 5) and consumer (token 6) of an INFO or DELETE subject.
fn names_in(subject: &str) -> (String, String) {
    (
        token_at(subject, 5).to_owned(),
        token_at(subject, 6).to_owned(),
    )
}

fn info(js: &Inner, reply: &str, subject: &str, body: &[u8]) -> Handled {
    if !is_empty_request(body) {
        return Handled::Now(respond::<ConsumerInfoResponse>(Err(
            ApiError::not_empty_request(),
        )));
    }
    let (stream, name) = names_in(subject);
    defer_to::<ConsumerInfoResponse>(js, &stream, |_| {
        Ok(Request::Read {
            read: Read::ConsumerInfo { name },
            reply: reply.to_owned(),
        })
    })
}

fn delete(js: &Inner, reply: &str, subject: &str, body: &[u8]) -> Handled {
    if !is_empty_request(body) {
        return Handled::Now(respond::<ConsumerDeleteResponse>(Err(
            ApiError::not_empty_request(),
        )));
    }
    let (stream, name) = names_in(subject);
    defer_to::<ConsumerDeleteResponse>(js, &stream, |_| {
        Ok(Request::Op {
            op: StreamOp::DeleteConsumer {
                name,
                now_ns: now_ns(),
                advisory_id: advisory_id(),
            },
            answer: OpAnswer::ConsumerDelete,
            reply: reply.to_owned(),
        })
    })
}

fn names(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerNamesResponse, ApiError> {
    let req: ConsumerNamesRequest = parse_optional_request(body)?;
    let stream = token_at(subject, 5);
    let streams = js.streams.read();
    let entry = streams.get(stream).ok_or_else(ApiError::stream_not_found)?;
    let all = entry.snapshot.get().consumer_names.clone();
    Ok(ConsumerNamesResponse::page(all, req.offset))
}

fn list(js: &Inner, reply: &str, subject: &str, body: &[u8]) -> Handled {
    let req: ConsumerListRequest = match parse_optional_request(body) {
        Ok(r) => r,
        Err(e) => return Handled::Now(respond::<ConsumerListResponse>(Err(e))),
    };
    let stream = token_at(subject, 5);
    defer_to::<ConsumerListResponse>(js, stream, |_| {
        Ok(Request::Read {
            read: Read::ConsumerList { offset: req.offset },
            reply: reply.to_owned(),
        })
    })
}
