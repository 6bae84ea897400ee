//! An account's `exports` and `imports`, as nats-server's `parseExportStreamOrService` and
//! `parseImportStreamOrService` read them (texts in its words where it refuses the same
//! thing; whether they fit together across accounts is `sluice_server::imports`' check).
//!
//! Stricter than nats-server where it would accept something that does nothing: an export
//! with neither `stream` nor `service`, an import with neither, a service import's `prefix`
//! (nats-server ignores it), and an invalid subject are refused; `latency`, `share`,
//! `account_token_position`, `allow_trace` and `advertise` are refused as not served.

use super::accounts::not_served;
use super::options::{positive_duration, string, unknown, wrong_type};
use super::value::{ConfError, Kind, Value};
use sluice_protocol::subject::is_valid_subject;
use sluice_server::{Export, ExportKind, Import, ResponseType};
use std::time::Duration;

/// nats-server's default `response_threshold`.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

/// Keys of an export or import that Sluice does not serve.
const NOT_SERVED: &[&str] = &[
    "latency",
    "share",
    "account_token_position",
    "allow_trace",
    "advertise",
];

/// `exports` / `imports` must be arrays (`what` as nats-server names them).
fn items<'v>(v: &'v Value, what: &str) -> Result<&'v [Value], ConfError> {
    match &v.kind {
        Kind::Array(items) => Ok(items),
        other => Err(ConfError::at(
            &v.pos,
            format!("{what} should be an array, got {}", other.go_type()),
        )),
    }
}

fn subject(key: &str, v: &Value) -> Result<String, ConfError> {
    let s = string(key, v)?;
    if !is_valid_subject(&s) {
        return Err(ConfError::at(
            &v.pos,
            format!("{key}: invalid subject {s:?}"),
        ));
    }
    Ok(s)
}

/// `exports [ { stream: SUBJECT } | { service: SUBJECT, response, response_threshold },
/// with `accounts: [..]` to limit who may import ]`.
pub(super) fn exports(key: &str, v: &Value) -> Result<Vec<Export>, ConfError> {
    let mut out = Vec::new();
    for item in items(v, "Exports")? {
        let Kind::Map(block) = &item.kind else {
            return Err(wrong_type(
                key,
                item,
                "{ stream: ... } or { service: ... } blocks",
            ));
        };
        let (mut stream, mut service, mut accounts) = (None, None, None);
        let (mut response, mut threshold) = (None, None);
        for entry in &block.entries {
            let (k, v) = (entry.key.to_ascii_lowercase(), &entry.value);
            match k.as_str() {
                "stream" => {
                    let s = subject(&k, v)?;
                    if service.is_some() {
                        return Err(ConfError::at(
                            &entry.pos,
                            format!("Detected stream {s:?} but already saw a service"),
                        ));
                    }
                    stream = Some(s);
                }
                "service" => {
                    let s = subject(&k, v)?;
                    if stream.is_some() {
                        return Err(ConfError::at(
                            &entry.pos,
                            format!("Detected service {s:?} but already saw a stream"),
                        ));
                    }
                    service = Some(s);
                }
                "accounts" => {
                    let Kind::Array(names) = &v.kind else {
                        return Err(wrong_type(&k, v, "an array of account names"));
                    };
                    let names: Result<Vec<String>, _> =
                        names.iter().map(|n| string("accounts", n)).collect();
                    accounts = Some(names?);
                }
                "response" | "response_type" => {
                    let text = string(&k, v)?;
                    response = Some((
                        match text.to_ascii_lowercase().as_str() {
                            "singleton" | "single" => ResponseType::Singleton,
                            "stream" => ResponseType::Stream,
                            "chunked" => ResponseType::Chunked,
                            _ => {
                                return Err(ConfError::at(
                                    &v.pos,
                                    format!("Unknown response type: {text:?}"),
                                ))
                            }
                        },
                        entry.pos.clone(),
                    ));
                }
                "response_threshold" | "threshold" => {
                    threshold = Some((positive_duration(&k, v)?, entry.pos.clone()));
                }
                k if NOT_SERVED.contains(&k) => return Err(not_served(entry, Some("an export"))),
                _ => unknown(entry, Some("an export"))?,
            }
        }
        let kind = match (&stream, &service) {
            (Some(_), _) => {
                let directive = response.map(|r| r.1).or(threshold.map(|t| t.1));
                if let Some(pos) = directive {
                    return Err(ConfError::at(
                        &pos,
                        "Detected response directive on non-service",
                    ));
                }
                ExportKind::Stream
            }
            (None, Some(_)) => ExportKind::Service {
                response: response.map(|r| r.0).unwrap_or_default(),
                threshold: threshold.map_or(DEFAULT_THRESHOLD, |t| t.0),
            },
            (None, None) => {
                return Err(ConfError::at(
                    &item.pos,
                    "an export needs a stream or a service subject",
                ))
            }
        };
        out.push(Export {
            subject: stream.or(service).unwrap_or_default(),
            kind,
            accounts,
        });
    }
    Ok(out)
}

/// `{ account: NAME, subject: SUBJECT }`, the source of an import.
fn source(key: &str, v: &Value) -> Result<(String, String), ConfError> {
    let Kind::Map(block) = &v.kind else {
        return Err(wrong_type(key, v, "a block { account, subject }"));
    };
    let (mut account, mut subj) = (None, None);
    for entry in &block.entries {
        match entry.key.to_ascii_lowercase().as_str() {
            "account" => account = Some(string("account", &entry.value)?),
            "subject" => subj = Some(subject("subject", &entry.value)?),
            _ => {
                return Err(ConfError::at(
                    &entry.pos,
                    format!("unknown field {:?}", entry.key),
                ))
            }
        }
    }
    match (account, subj) {
        (Some(a), Some(s)) => Ok((a, s)),
        _ => Err(ConfError::at(
            &v.pos,
            "Expect an account name and a subject",
        )),
    }
}

/// `imports [ { stream: { account, subject }, prefix | to } | { service: { account,
/// subject }, to } ]`.
pub(super) fn imports(key: &str, v: &Value) -> Result<Vec<Import>, ConfError> {
    let mut out = Vec::new();
    for item in items(v, "Imports")? {
        let Kind::Map(block) = &item.kind else {
            return Err(wrong_type(
                key,
                item,
                "{ stream: ... } or { service: ... } blocks",
            ));
        };
        let (mut stream, mut service, mut prefix, mut to) = (None, None, None, None);
        for entry in &block.entries {
            let (k, v) = (entry.key.to_ascii_lowercase(), &entry.value);
            match k.as_str() {
                "stream" => {
                    if service.is_some() {
                        return Err(ConfError::at(
                            &entry.pos,
                            "Detected stream but already saw a service",
                        ));
                    }
                    stream = Some(source(&k, v)?);
                }
                "service" => {
                    if stream.is_some() {
                        return Err(ConfError::at(
                            &entry.pos,
                            "Detected service but already saw a stream",
                        ));
                    }
                    service = Some(source(&k, v)?);
                }
                "prefix" => prefix = Some((string(&k, v)?, entry.pos.clone())),
                "to" => to = Some(subject(&k, v)?),
                k if NOT_SERVED.contains(&k) => return Err(not_served(entry, Some("an import"))),
                _ => unknown(entry, Some("an import"))?,
            }
        }
        let import = match (stream, service) {
            (Some((account, subject)), None) => {
                let to = match (prefix, to) {
                    (Some((_, pos)), Some(_)) => {
                        return Err(ConfError::at(
                            &pos,
                            "Stream import can not have a 'prefix' and a 'to' property",
                        ))
                    }
                    (Some((prefix, pos)), None) => {
                        if prefix.split('.').any(|t| t == "*" || t == ">") {
                            return Err(ConfError::at(
                                &pos,
                                format!(
                                    "Error adding stream import {subject:?}: stream import \
                                     prefix can not contain wildcard tokens"
                                ),
                            ));
                        }
                        let to = format!("{}.{subject}", prefix.trim_end_matches('.'));
                        if !is_valid_subject(&to) {
                            return Err(ConfError::at(
                                &pos,
                                format!("prefix: invalid subject prefix {prefix:?}"),
                            ));
                        }
                        to
                    }
                    (None, Some(to)) => to,
                    (None, None) => subject.clone(),
                };
                Import {
                    stream: true,
                    account,
                    subject,
                    to,
                }
            }
            (None, Some((account, subject))) => {
                if let Some((_, pos)) = prefix {
                    return Err(ConfError::at(
                        &pos,
                        "a service import takes `to`, not `prefix` (nats-server ignores it)",
                    ));
                }
                Import {
                    stream: false,
                    account,
                    to: to.unwrap_or_else(|| subject.clone()),
                    subject,
                }
            }
            _ => {
                return Err(ConfError::at(
                    &item.pos,
                    "an import needs a stream or a service: { account, subject }",
                ))
            }
        };
        out.push(import);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "exports_tests.rs"]
mod tests;
