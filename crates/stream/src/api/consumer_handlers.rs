//! `$JS.API.CONSUMER.*` request handling. Each request is served by the stream's writer
//! thread (in order with its publishes and acks), since that thread owns the consumers: a
//! create or delete as a [`StreamOp`] (the name of an unnamed ephemeral, the times and the
//! advisory ids drawn here, before the op is made), INFO, NAMES and LIST as reads on the writer.
//!
//! `CONSUMER.MSG.NEXT` is not handled here: each pull consumer subscribes to its own
//! subject and its requests go straight to the writer.

use crate::api::consumer_types::*;
use crate::api::errors::ApiError;
use crate::api::types::{is_empty_request, parse_optional_request, parse_request, ApiResponse};
use crate::consumer::advisory::advisory_id;
use crate::consumer::config::generate_consumer_name;
use crate::consumer::set::Consumers;
use crate::jetstream::{Entry, Inner};
use crate::op::{OpOutcome, StreamOp};
use crate::stream::Stream;
use crate::time::{now_ns, Timestamp};

/// Answers a `$JS.API.CONSUMER.<op>...` request; `None` when no consumer endpoint serves the
/// subject (the caller answers that as nats-server v2.10 does). Endpoints are matched token for
/// token, as nats-server's subscriptions (`$JS.API.CONSUMER.INFO.*.*`, ...) match.
pub(crate) fn handle(js: &Inner, subject: &str, body: &[u8]) -> Option<Vec<u8>> {
    let rest = subject.strip_prefix("$JS.API.CONSUMER.")?;
    let tokens: Vec<&str> = rest.split('.').collect();
    Some(match tokens[..] {
        ["CREATE", ..] | ["DURABLE", "CREATE", ..] => {
            respond(create(js, &ConsumerCreateSubject::parse(subject)?, body))
        }
        ["INFO", _, _] => respond(info(js, subject, body)),
        ["DELETE", _, _] => respond(delete(js, subject, body)),
        ["NAMES", _] => respond(names(js, subject, body)),
        ["LIST", _] => respond(list(js, subject, body)),
        _ => return None,
    })
}

fn respond<T: ApiResponse>(r: Result<T, ApiError>) -> Vec<u8> {
    match r {
        Ok(t) => t.to_json(),
        Err(e) => T::from_error(e).to_json(),
    }
}

fn stopping() -> ApiError {
    ApiError::consumer_create("stream is stopping")
}

/// Runs `f` (a read) on the writer of stream `name`.
fn on_stream<T: Send + 'static>(
    js: &Inner,
    name: &str,
    f: impl FnOnce(&mut Stream, &mut Consumers) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let streams = js.streams.read();
    let entry: &Entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    Inner::on_consumers(entry, f).ok_or_else(stopping)?
}

/// Applies `op` on the writer of stream `name`.
fn apply(js: &Inner, name: &str, op: StreamOp) -> Result<OpOutcome, ApiError> {
    let streams = js.streams.read();
    let entry: &Entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    Inner::apply(entry, op, stopping)
}

fn create(
    js: &Inner,
    target: &ConsumerCreateSubject,
    body: &[u8],
) -> Result<ConsumerCreateResponse, ApiError> {
    let req: CreateConsumerRequest = parse_request(body)?;
    let config = req.resolve(target)?;
    let now = now_ns();
    let op = StreamOp::CreateConsumer {
        config,
        action: req.action,
        generated_name: generate_consumer_name(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
        advisory_id: advisory_id(),
    };
    match apply(js, target.stream(), op)? {
        OpOutcome::Consumer(info) => Ok(ConsumerCreateResponse::new(*info)),
        other => Err(other.unexpected()),
    }
}

/// The stream (token 5) and consumer (token 6) of an INFO or DELETE subject.
fn names_in(subject: &str) -> (String, String) {
    (
        token_at(subject, 5).to_owned(),
        token_at(subject, 6).to_owned(),
    )
}

fn info(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerInfoResponse, ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::not_empty_request());
    }
    let (stream, consumer) = names_in(subject);
    on_stream(js, &stream, move |s, cs| {
        cs.info(&consumer, s, now_ns())
            .ok_or_else(ApiError::consumer_not_found)?
            .map(ConsumerInfoResponse::new)
            .map_err(ApiError::consumer_create)
    })
}

fn delete(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerDeleteResponse, ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::not_empty_request());
    }
    let (stream, name) = names_in(subject);
    let op = StreamOp::DeleteConsumer {
        name,
        now_ns: now_ns(),
        advisory_id: advisory_id(),
    };
    match apply(js, &stream, op)? {
        OpOutcome::ConsumerDeleted => Ok(ConsumerDeleteResponse::success()),
        other => Err(other.unexpected()),
    }
}

fn names(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerNamesResponse, ApiError> {
    let req: ConsumerNamesRequest = parse_optional_request(body)?;
    let stream = token_at(subject, 5).to_owned();
    on_stream(js, &stream, move |_, cs| {
        let all = cs
            .iter()
            .filter(|c| !c.config.direct)
            .map(|c| c.name.to_string())
            .collect();
        Ok(ConsumerNamesResponse::page(all, req.offset))
    })
}

fn list(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerListResponse, ApiError> {
    let req: ConsumerListRequest = parse_optional_request(body)?;
    let stream = token_at(subject, 5).to_owned();
    on_stream(js, &stream, move |s, cs| {
        let names: Vec<String> = cs
            .iter()
            .filter(|c| !c.config.direct)
            .map(|c| c.name.to_string())
            .collect();
        let now = now_ns();
        let mut all = Vec::new();
        for name in names {
            if let Some(info) = cs.info(&name, s, now) {
                all.push(info.map_err(ApiError::consumer_create)?);
            }
        }
        Ok(ConsumerListResponse::page(all, req.offset))
    })
}
