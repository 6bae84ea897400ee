//! Every `$JS.API` error path, both brokers: a table of requests (in [`cases`]), each sent to
//! Sluice and to nats-server v2.9.10 (the oracle), each started once with `-js -sd <fresh dir>`.
//!
//! A case is a name, optional setup requests (which must succeed), an API subject and a raw
//! request body, and the answer wanted: the `error` object's `code`, `err_code` and
//! `description` (or no error, or a direct get's status line, or no responders, or silence).
//! Normally both brokers must give the same answer ([`Want::Same`]). Where Sluice deliberately
//! answers otherwise (it follows nats-server v2.10/v2.11 there, or differs on purpose), the case
//! carries both answers and the documented difference ([`Want::Differs`]), so the test fails if
//! either side changes.
//!
//! The cases run in table order on one broker of each kind, the two side by side (state carries
//! over: the fixture streams first, then each case's setup); a case that crashes nats-server
//! ([`Case::alone`]) runs on fresh brokers of its own. Every mismatch is collected, and the test
//! fails listing them all. Without nats-server installed only the Sluice half runs.
//! `JS_API_ERRORS_PRINT=1` prints every case's answers. The case lists are one line per case
//! (`#[rustfmt::skip]`), to read as a table.

#[path = "js_api_errors/cases.rs"]
mod cases;
#[path = "js_api_errors/consumers.rs"]
mod consumers;
#[path = "js_api_errors/messages.rs"]
mod messages;

use async_nats::{Client, RequestErrorKind};
use bytes::Bytes;
use integration_tests::client;
use integration_tests::js::{start_js, StoreDir};
use integration_tests::Kind;
use serde_json::Value;
use std::time::Duration;

/// The longest an answer may take.
const STEP: Duration = Duration::from_secs(2);
/// How long to wait for an answer that must not come.
const QUIET: Duration = Duration::from_millis(200);
/// The longest the whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// What a broker answered to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An answer without an error: JSON without `error`, a pub ack, a direct-get message.
    Ok,
    /// A JSON answer's `error`: `code`, `err_code`, `description`.
    Err(u16, u16, String),
    /// A header-only status answer (direct get): the code and description of its status line.
    Status(u16, String),
    /// No responders (a 503 status: nobody serves the subject).
    NoResponders,
    /// No answer within [`QUIET`] (or [`STEP`] where one was expected).
    Silence,
    /// No answer, and the broker process exited (nats-server v2.9.10 panics on some requests).
    Crash,
    /// Anything else: not JSON, a failed request.
    Other(String),
}

/// `Answer::Err`.
pub fn err(code: u16, err_code: u16, description: impl Into<String>) -> Answer {
    Answer::Err(code, err_code, description.into())
}

/// `Answer::Status`.
pub fn status(code: u16, description: &str) -> Answer {
    Answer::Status(code, description.to_owned())
}

/// The answer a case wants.
#[derive(Debug, Clone)]
pub enum Want {
    /// Both brokers give this answer.
    Same(Answer),
    /// Sluice deliberately answers `sluice`, nats-server v2.9.10 `nats`; `why` names the
    /// documented difference.
    Differs {
        sluice: Answer,
        nats: Answer,
        why: &'static str,
    },
}

impl Want {
    fn for_kind(&self, kind: Kind) -> &Answer {
        match (self, kind) {
            (Want::Same(a), _) => a,
            (Want::Differs { sluice, .. }, Kind::Sluice) => sluice,
            (Want::Differs { nats, .. }, Kind::NatsServer) => nats,
        }
    }
}

/// `Want::Same`.
pub fn same(a: Answer) -> Want {
    Want::Same(a)
}

/// `Want::Differs`.
pub fn differs(sluice: Answer, nats: Answer, why: &'static str) -> Want {
    Want::Differs { sluice, nats, why }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Req {
    pub subject: String,
    pub body: Vec<u8>,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// Sent first, in order; each must be answered without an error.
    pub setup: Vec<Req>,
    pub req: Req,
    pub want: Want,
    /// Run on fresh brokers of its own, without the fixture (a request that crashes one).
    pub alone: bool,
}

/// A case without setup.
pub fn case(name: &str, subject: &str, body: impl AsRef<[u8]>, want: Want) -> Case {
    Case {
        name: name.to_owned(),
        setup: Vec::new(),
        req: Req {
            subject: subject.to_owned(),
            body: body.as_ref().to_vec(),
        },
        want,
        alone: false,
    }
}

impl Case {
    /// Runs the case on fresh brokers of its own, without the fixture.
    pub fn alone(mut self) -> Case {
        self.alone = true;
        self
    }

    /// Adds a setup request.
    pub fn after(mut self, subject: &str, body: impl AsRef<[u8]>) -> Case {
        self.setup.push(Req {
            subject: subject.to_owned(),
            body: body.as_ref().to_vec(),
        });
        self
    }
}

/// A request body for a report: lossy UTF-8, long ones cut.
fn show(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(100) {
        Some((i, _)) => format!("{:?}...({} bytes)", &text[..i], body.len()),
        None => format!("{text:?}"),
    }
}

/// Sends one request and classifies the answer; waits [`QUIET`] if `expect_silence`, else
/// [`STEP`].
async fn ask(client: &Client, req: &Req, expect_silence: bool) -> Answer {
    let wait = if expect_silence { QUIET } else { STEP };
    let sent = client.request(req.subject.clone(), Bytes::from(req.body.clone()));
    let msg = match tokio::time::timeout(wait, sent).await {
        Err(_) => return Answer::Silence,
        Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => return Answer::NoResponders,
        Ok(Err(e)) => return Answer::Other(format!("request failed: {e}")),
        Ok(Ok(m)) => m,
    };
    if let Some(s) = msg.status {
        return Answer::Status(s.as_u16(), msg.description.clone().unwrap_or_default());
    }
    if msg
        .headers
        .as_ref()
        .is_some_and(|h| h.get("Nats-Sequence").is_some())
    {
        return Answer::Ok; // a direct-get message
    }
    let Ok(v) = serde_json::from_slice::<Value>(&msg.payload) else {
        return Answer::Other(format!(
            "not JSON: {:?}",
            String::from_utf8_lossy(&msg.payload)
        ));
    };
    match v.get("error") {
        None => Answer::Ok,
        Some(e) => Answer::Err(
            e["code"].as_u64().unwrap_or(0) as u16,
            e["err_code"].as_u64().unwrap_or(0) as u16,
            e["description"].as_str().unwrap_or("").to_owned(),
        ),
    }
}

/// Runs `fixture` and then `cases` on a fresh broker of `kind`; the answer to each case. A
/// broker that exits ends the run: the request it died on is [`Answer::Crash`].
async fn run(
    kind: Kind,
    fixture: &[Req],
    cases: &[&Case],
    problems: &mut Vec<String>,
) -> Vec<Answer> {
    let store = StoreDir::new("api-errors");
    let mut broker = start_js(kind, &store);
    let client = client::connect(&broker.url()).await;
    for (i, req) in fixture.iter().enumerate() {
        let a = ask(&client, req, false).await;
        if a != Answer::Ok {
            problems.push(format!(
                "{kind:?}: fixture step {i} {} {}: {a:?}",
                req.subject,
                show(&req.body)
            ));
        }
    }
    let mut answers = Vec::with_capacity(cases.len());
    for c in cases {
        for req in &c.setup {
            let a = ask(&client, req, false).await;
            if a != Answer::Ok {
                problems.push(format!(
                    "{kind:?}: {}: setup {} {}: {a:?}",
                    c.name,
                    req.subject,
                    show(&req.body)
                ));
            }
        }
        let silent = matches!(c.want.for_kind(kind), Answer::Silence | Answer::Crash);
        let mut a = ask(&client, &c.req, silent).await;
        if a == Answer::Silence && broker.wait_exit(Duration::ZERO).is_some() {
            a = Answer::Crash;
        }
        answers.push(a);
        if answers.last() == Some(&Answer::Crash) {
            break;
        }
    }
    answers.resize(
        cases.len(),
        Answer::Other("not sent: the broker exited".into()),
    );
    drop(client);
    drop(broker);
    answers
}

/// Every case's answer from a broker of `kind`: the fixture and the cases on one broker, each
/// [`Case::alone`] case on a broker of its own.
async fn run_all(
    kind: Kind,
    fixture: &[Req],
    table: &[Case],
    problems: &mut Vec<String>,
) -> Vec<Answer> {
    let mut answers = vec![Answer::Other("not run".into()); table.len()];
    let together: Vec<usize> = (0..table.len()).filter(|&i| !table[i].alone).collect();
    let cases: Vec<&Case> = together.iter().map(|&i| &table[i]).collect();
    for (i, a) in together
        .iter()
        .zip(run(kind, fixture, &cases, problems).await)
    {
        answers[*i] = a;
    }
    for (i, c) in table.iter().enumerate().filter(|(_, c)| c.alone) {
        answers[i] = run(kind, &[], &[c], problems).await.remove(0);
    }
    answers
}

#[tokio::test]
async fn js_api_error_table() {
    client::bounded(TEST_LIMIT, async {
        let fixture = cases::fixture();
        let table = cases::table();
        let mut names = std::collections::HashSet::new();
        for c in &table {
            assert!(names.insert(&c.name), "duplicate case name {}", c.name);
        }
        // The two brokers run side by side.
        let (mut problems, mut nats_problems) = (Vec::new(), Vec::new());
        let (sluice, nats) = tokio::join!(
            run_all(Kind::Sluice, &fixture, &table, &mut problems),
            async {
                if integration_tests::skip_without_nats_server() {
                    return None;
                }
                Some(run_all(Kind::NatsServer, &fixture, &table, &mut nats_problems).await)
            }
        );
        problems.append(&mut nats_problems);
        let print = std::env::var_os("JS_API_ERRORS_PRINT").is_some();
        for (i, c) in table.iter().enumerate() {
            let body = show(&c.req.body);
            let mut check = |kind: Kind, got: &Answer| {
                let want = c.want.for_kind(kind);
                if got != want {
                    problems.push(format!(
                        "{}: {} {body}\n    {kind:?} answered {got:?}\n    wanted {want:?}",
                        c.name, c.req.subject
                    ));
                }
            };
            check(Kind::Sluice, &sluice[i]);
            if let Some(nats) = &nats {
                check(Kind::NatsServer, &nats[i]);
            }
            if print {
                eprintln!(
                    "{}: {} {body}\n    sluice: {:?}\n    nats:   {:?}",
                    c.name,
                    c.req.subject,
                    sluice[i],
                    nats.as_ref().map(|n| &n[i])
                );
            }
        }
        assert!(
            problems.is_empty(),
            "{} of {} cases (or their setup) do not answer as wanted:\n{}",
            problems.len(),
            table.len(),
            problems.join("\n")
        );
    })
    .await
}
