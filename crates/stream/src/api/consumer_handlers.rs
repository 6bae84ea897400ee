//! `$JS.API.CONSUMER.*` request handling. Each request runs on the stream's writer thread
//! (in order with its publishes and acks), since that thread owns the consumers.
//!
//! `CONSUMER.MSG.NEXT` is not handled here: each pull consumer subscribes to its own
//! subject and its requests go straight to the writer.

use crate::api::consumer_types::*;
use crate::api::errors::ApiError;
use crate::api::types::{is_empty_request, parse_optional_request, parse_request, ApiResponse};
use crate::config::StreamConfig;
use crate::consumer::config::{
    generate_consumer_name, plan_create, ConsumerAction, ConsumerConfig, CreatePlan,
    ExistingConsumer, LimitOpts,
};
use crate::consumer::live::{policy_of, start_of, Consumer};
use crate::consumer::set::{ConsumerRecord, Consumers};
use crate::consumer::state::ConsumerState;
use crate::jetstream::{Entry, Inner};
use crate::meta::Meta;
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

/// Runs `f` on the writer of stream `name`.
fn on_stream<T: Send + 'static>(
    js: &Inner,
    name: &str,
    f: impl FnOnce(&StreamConfig, &mut Stream, &mut Consumers) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let streams = js.streams.read();
    let entry: &Entry = streams.get(name).ok_or_else(ApiError::stream_not_found)?;
    let cfg = entry.config.clone();
    Inner::on_consumers(entry, move |s, cs| f(&cfg, s, cs)).ok_or_else(stopping)?
}

fn create(
    js: &Inner,
    target: &ConsumerCreateSubject,
    body: &[u8],
) -> Result<ConsumerCreateResponse, ApiError> {
    let req: CreateConsumerRequest = parse_request(body)?;
    let cfg = req.resolve(target)?;
    let action = req.action;
    let meta = js.meta.clone();
    on_stream(js, target.stream(), move |scfg, s, cs| {
        create_on_writer(scfg, cfg, action, s, cs, &meta).map(ConsumerCreateResponse::new)
    })
}

fn create_on_writer(
    scfg: &StreamConfig,
    cfg: ConsumerConfig,
    action: ConsumerAction,
    s: &mut Stream,
    cs: &mut Consumers,
    meta: &Meta,
) -> Result<ConsumerInfo, ApiError> {
    let existing: Vec<ExistingConsumer<'_>> = cs
        .iter()
        .map(|c| ExistingConsumer {
            name: &c.name,
            config: &c.config,
            deliver_subject_has_interest: c.push.as_ref().is_some_and(|p| p.bound),
        })
        .collect();
    let plan = plan_create(
        &cfg,
        action,
        scfg,
        &LimitOpts::default(),
        &existing,
        generate_consumer_name,
    )?;
    drop(existing);
    let now = now_ns();
    let save = |name: &str, config: &ConsumerConfig, created: Timestamp| {
        let record = ConsumerRecord {
            config: config.clone(),
            created,
        };
        let json = serde_json::to_vec(&record).expect("consumer records serialise");
        meta.put_consumer(&scfg.name, name, &json)
            .map_err(ApiError::consumer_create)
    };
    let name = match plan {
        CreatePlan::Create { name, config } => {
            let state = ConsumerState::new(policy_of(&config), start_of(&config), s.store())
                .map_err(ApiError::consumer_create)?;
            let persisted = cs.persists() && config.is_durable();
            let created = Timestamp::now();
            if persisted {
                save(&name, &config, created)?;
            }
            let c = Consumer::new(&scfg.name, &name, config, created, state, persisted, now);
            cs.add(c).map_err(ApiError::consumer_create)?;
            name
        }
        CreatePlan::Update { name, config } => {
            let c = cs.get_mut(&name).ok_or_else(ApiError::consumer_not_found)?;
            if c.config != config {
                if c.persisted {
                    save(&name, &config, c.created)?;
                }
                c.set_config(config, now);
            }
            name
        }
    };
    let c = cs.get(&name).ok_or_else(ApiError::consumer_not_found)?;
    c.info(s.store()).map_err(ApiError::consumer_create)
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
    on_stream(js, &stream, move |_, s, cs| {
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
    let (stream, consumer) = names_in(subject);
    on_stream(js, &stream, move |_, s, cs| {
        cs.remove(&consumer, s)
            .map(|_| ConsumerDeleteResponse::success())
            .ok_or_else(ApiError::consumer_not_found)
    })
}

fn names(js: &Inner, subject: &str, body: &[u8]) -> Result<ConsumerNamesResponse, ApiError> {
    let req: ConsumerNamesRequest = parse_optional_request(body)?;
    let stream = token_at(subject, 5).to_owned();
    on_stream(js, &stream, move |_, _, cs| {
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
    on_stream(js, &stream, move |_, s, cs| {
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
