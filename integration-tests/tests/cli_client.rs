//! The `sluice` client subcommands (`sluice pub/sub/req/reply/stream/consumer/kv`), black-box:
//! a real broker process, and each subcommand run as a child process of the same binary with
//! `--server <url>`. Output (stdout, stderr) and exit codes are checked against the interface in
//! issue 10: 0 ok, 1 runtime error (one `sluice: error: ...` line), 2 usage error.
//!
//! Every child is killed after [`CHILD_LIMIT`]; background children (`sub`, `reply`, `kv watch`)
//! are read line by line so a test can wait for `Listening on "SUBJECT"` before publishing.

use integration_tests::js::StoreDir;
use integration_tests::{sluice_bin, Broker};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any client child may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(20);
/// The longest a test waits for a line from a background child.
const STEP: Duration = Duration::from_secs(5);

/// What a finished child left behind.
#[derive(Debug)]
struct Out {
    /// The exit code; `None` if it was killed (by a signal or by the time limit).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// True if it hit [`CHILD_LIMIT`] and was killed.
    timed_out: bool,
}

impl Out {
    /// Asserts exit 0 and returns stdout.
    fn ok(&self) -> &str {
        assert!(!self.timed_out, "killed after {CHILD_LIMIT:?}: {self:#?}");
        assert_eq!(self.code, Some(0), "expected exit 0: {self:#?}");
        &self.stdout
    }

    /// Asserts exit 1 with a `sluice: error:` line on stderr; returns stderr.
    fn fails(&self) -> &str {
        assert!(!self.timed_out, "killed after {CHILD_LIMIT:?}: {self:#?}");
        assert_eq!(self.code, Some(1), "expected exit 1: {self:#?}");
        assert!(
            self.stderr.contains("sluice: error: "),
            "expected a `sluice: error: ...` line: {self:#?}"
        );
        &self.stderr
    }

    /// Asserts exit 0 and returns stdout and stderr together (for messages the spec does not
    /// place on one of them).
    fn ok_all(&self) -> String {
        self.ok();
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Asserts exit 0 and parses stdout as one JSON value.
    fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:#?}"))
    }

    /// Asserts exit 0 and parses each non-empty stdout line as a JSON value.
    fn json_lines(&self) -> Vec<Value> {
        parse_lines(self.ok())
    }
}

fn parse_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// `sluice ARGS...` as a command, with `NATS_URL` cleared unless `env` sets it.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(sluice_bin());
    cmd.args(args)
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Reads all of `r` into a string on a thread.
fn slurp(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to [`CHILD_LIMIT`] (killing it then); its exit code and whether it
/// was killed for time.
fn wait_limited(child: &mut Child) -> (Option<i32>, bool) {
    let deadline = Instant::now() + CHILD_LIMIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return (status.code(), false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let status = child.wait().ok();
            return (status.and_then(|s| s.code()), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `sluice ARGS...` to completion (at most [`CHILD_LIMIT`]).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut child = command(args, env).spawn().expect("spawn sluice");
    let stdout = slurp(child.stdout.take().expect("stdout"));
    let stderr = slurp(child.stderr.take().expect("stderr"));
    let (code, timed_out) = wait_limited(&mut child);
    Out {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

/// A client child running in the background (`sub`, `reply`, `kv watch`), its output read as
/// it comes. Killed on drop.
struct Bg {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    args: Vec<String>,
}

impl Bg {
    fn spawn(args: &[&str]) -> Bg {
        let mut child = command(args, &[]).spawn().expect("spawn sluice");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        let stdout_thread = std::thread::spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match out.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => sink.lock().unwrap().push_str(&line),
                }
            }
        });
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bg {
            child,
            stdout,
            stdout_thread: Some(stdout_thread),
            stderr_lines: rx,
            stderr_seen: Vec::new(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Starts `sluice ARGS...` and waits for its `Listening on "SUBJECT"` stderr line.
    fn listening(args: &[&str], subject: &str) -> Bg {
        let mut bg = Bg::spawn(args);
        bg.wait_stderr(&format!("Listening on \"{subject}\""));
        bg
    }

    /// Waits (up to [`STEP`]) for a stderr line containing `needle`.
    fn wait_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + STEP;
        if self.stderr_seen.iter().any(|l| l.contains(needle)) {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.stderr_seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!(
                        "{:?}: no stderr line containing {needle:?} within {STEP:?} \
                         (status {status:?}); stderr so far: {:#?}; stdout so far: {:?}",
                        self.args,
                        self.stderr_seen,
                        self.stdout.lock().unwrap()
                    );
                }
            }
        }
    }

    /// The stdout printed so far.
    fn stdout_now(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits (up to [`STEP`]) until stdout holds at least `n` non-empty lines; returns it.
    fn wait_stdout_lines(&self, n: usize) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let now = self.stdout_now();
            if now.lines().filter(|l| !l.trim().is_empty()).count() >= n {
                return now;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{:?}: fewer than {n} stdout lines within {STEP:?} (is stdout flushed \
                     per message?); stdout so far: {now:?}",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the child to exit on its own (at most [`CHILD_LIMIT`]); what it printed.
    fn finish(mut self) -> Out {
        let (code, timed_out) = wait_limited(&mut self.child);
        if let Some(t) = self.stdout_thread.take() {
            let _ = t.join();
        }
        let mut stderr = std::mem::take(&mut self.stderr_seen);
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(line) = self
            .stderr_lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            stderr.push(line);
        }
        let out = Out {
            code,
            stdout: self.stdout_now(),
            stderr: stderr.join("\n"),
            timed_out,
        };
        assert!(!timed_out, "{:?} did not exit: {out:#?}", self.args);
        out
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A broker with JetStream, and its store (dropped after the broker).
struct Js {
    broker: Broker,
    _store: StoreDir,
}

impl Js {
    fn start(tag: &str) -> Js {
        let store = StoreDir::new(tag);
        let broker = Broker::sluice(&["-js", "-sd", store.as_str()]);
        Js {
            broker,
            _store: store,
        }
    }

    fn url(&self) -> String {
        self.broker.url()
    }
}

/// `[sub, "--server", url, rest...]` — the client arguments for one call.
fn with_server<'a>(url: &'a str, cmd: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = cmd.to_vec();
    v.push("--server");
    v.push(url);
    v.extend_from_slice(rest);
    v
}

/// Runs `sluice CMD... --server URL REST...`.
fn sl(url: &str, cmd: &[&str], rest: &[&str]) -> Out {
    run(&with_server(url, cmd, rest))
}

/// A 127.0.0.1 port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Non-empty lines of `s`, trimmed.
fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// Asserts `needles` occur in `hay` in this order.
fn assert_in_order(hay: &str, needles: &[&str]) {
    let mut from = 0;
    for n in needles {
        match hay[from..].find(n) {
            Some(i) => from += i + n.len(),
            None => panic!("{n:?} not found (in order {needles:?}) in:\n{hay}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Core: pub, sub, req, reply
// ---------------------------------------------------------------------------------------------

#[test]
fn pub_sub_human_three_messages_in_order() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let sub = Bg::listening(
        &with_server(&url, &["sub"], &["greet", "--count", "3"]),
        "greet",
    );
    let p = sl(
        &url,
        &["pub"],
        &["greet", "hello {{Count}}", "--count", "3"],
    );
    assert_eq!(p.ok(), "", "pub prints nothing on stdout: {p:#?}");
    assert!(
        p.stderr.contains("Published 3 message(s) to \"greet\""),
        "pub stderr: {p:#?}"
    );
    let out = sub.finish();
    let stdout = out.ok();
    assert_in_order(
        stdout,
        &[
            "[#1]",
            "subject=greet",
            "hello 1",
            "[#2]",
            "hello 2",
            "[#3]",
            "hello 3",
        ],
    );
    assert!(!stdout.contains("{{Count}}"), "{stdout}");
    assert!(!stdout.contains("hello 4"), "{stdout}");
    // `[#1] 2026-11-23T02:40:00.123Z subject=foo ...`: an RFC 3339 UTC timestamp after the index.
    let first = stdout.lines().find(|l| l.starts_with("[#1]")).unwrap();
    let ts = first.split_whitespace().nth(1).unwrap_or("");
    assert!(
        ts.len() >= 20 && ts.as_bytes()[4] == b'-' && ts.contains('T') && ts.ends_with('Z'),
        "timestamp in {first:?}"
    );
}

#[test]
fn pub_sub_json() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let sub = Bg::listening(
        &with_server(&url, &["sub"], &["js.on", "--count", "3", "--json"]),
        "js.on",
    );
    let p = sl(
        &url,
        &["pub"],
        &["js.on", "n={{Count}}", "--count", "3", "--json"],
    );
    assert_eq!(p.json(), json!({"published": 3, "subject": "js.on"}));
    let msgs = sub.finish().json_lines();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m["subject"], "js.on", "{m}");
        assert_eq!(m["data"], format!("n={}", i + 1), "{m}");
        assert_eq!(m["reply"], Value::Null, "{m}");
        assert_eq!(m["headers"], Value::Null, "{m}");
        let t = m["time"].as_str().unwrap_or_else(|| panic!("time: {m}"));
        assert!(t.contains('T') && t.len() >= 20, "time {t:?}");
    }
}

#[test]
fn sub_queue_group_splits_messages() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let args = with_server(&url, &["sub"], &["work", "--queue", "q", "--json"]);
    let s1 = Bg::listening(&args, "work");
    let s2 = Bg::listening(&args, "work");
    let p = sl(&url, &["pub"], &["work", "job {{Count}}", "--count", "40"]);
    p.ok();
    let deadline = Instant::now() + STEP;
    let (a, b2) = loop {
        let a = parse_lines(&s1.stdout_now());
        let b2 = parse_lines(&s2.stdout_now());
        if a.len() + b2.len() >= 40 || Instant::now() >= deadline {
            break (a, b2);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A little more time, to catch a duplicate delivery.
    std::thread::sleep(Duration::from_millis(200));
    let a_all = parse_lines(&s1.stdout_now());
    let b_all = parse_lines(&s2.stdout_now());
    assert_eq!(
        a.len() + b2.len(),
        40,
        "both queue subs together: {a:?} {b2:?}"
    );
    assert_eq!(a_all.len() + b_all.len(), 40, "no duplicates");
    assert!(
        !a_all.is_empty() && !b_all.is_empty(),
        "both members got some: {} and {}",
        a_all.len(),
        b_all.len()
    );
    let mut got: Vec<String> = a_all
        .iter()
        .chain(&b_all)
        .map(|m| m["data"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = (1..=40).map(|i| format!("job {i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn headers_and_reply_subject_shown() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let human = Bg::listening(
        &with_server(&url, &["sub"], &["hdr", "--count", "1", "--headers"]),
        "hdr",
    );
    let json_sub = Bg::listening(
        &with_server(&url, &["sub"], &["hdr", "--count", "1", "--json"]),
        "hdr",
    );
    sl(
        &url,
        &["pub"],
        &[
            "hdr",
            "body-text",
            "-H",
            "X-Trace:abc123",
            "--header",
            "X-Other:two",
            "--reply",
            "back.here",
        ],
    )
    .ok();
    let h = human.finish();
    let out = h.ok();
    assert!(out.contains("reply=back.here"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("X-Trace") && l.contains("abc123")),
        "a header line with X-Trace and abc123:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("X-Other") && l.contains("two")),
        "{out}"
    );
    assert!(out.contains("body-text"), "{out}");
    let msgs = json_sub.finish().json_lines();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["reply"], "back.here", "{m}");
    assert_eq!(m["data"], "body-text", "{m}");
    assert_eq!(m["headers"]["X-Trace"], json!(["abc123"]), "{m}");
    assert_eq!(m["headers"]["X-Other"], json!(["two"]), "{m}");
}

#[test]
fn req_reply_with_request_substitution() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let rep = Bg::listening(
        &with_server(
            &url,
            &["reply"],
            &["svc.echo", "echo: {{Request}}", "--count", "1"],
        ),
        "svc.echo",
    );
    let r = sl(&url, &["req"], &["svc.echo", "ping-42"]);
    assert_eq!(r.ok().trim(), "echo: ping-42", "{r:#?}");
    rep.finish().ok();

    // --json, and a responder serving two requests.
    let rep = Bg::listening(
        &with_server(
            &url,
            &["reply"],
            &["svc.two", "[{{Request}}]", "--count", "2"],
        ),
        "svc.two",
    );
    let r1 = sl(&url, &["req"], &["svc.two", "a", "--json"]).json();
    assert_eq!(r1["data"], "[a]", "{r1}");
    assert!(r1.get("subject").is_some(), "{r1}");
    let r2 = sl(&url, &["req"], &["svc.two", "b"]);
    assert_eq!(r2.ok().trim(), "[b]");
    rep.finish().ok();
}

#[test]
fn req_no_responders_fails_naming_subject() {
    let b = Broker::sluice(&[]);
    let r = sl(&b.url(), &["req"], &["nobody.home", "hi"]);
    let err = r.fails();
    assert!(err.contains("no responders on \"nobody.home\""), "{r:#?}");
    assert_eq!(r.stdout, "", "{r:#?}");
}

#[test]
fn req_timeout_when_subscriber_does_not_answer() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let _silent = Bg::listening(&with_server(&url, &["sub"], &["quiet"]), "quiet");
    let started = Instant::now();
    let r = sl(&url, &["req"], &["quiet", "hello?", "--timeout", "500ms"]);
    let err = r.fails();
    assert!(
        err.contains("timed out") && err.contains("\"quiet\""),
        "{r:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "--timeout 500ms honoured: took {:?}",
        started.elapsed()
    );
}

#[test]
fn connection_refused_names_url() {
    let port = dead_port();
    let url = format!("nats://127.0.0.1:{port}");
    let r = run(&["pub", "--server", &url, "foo", "x"]);
    let err = r.fails();
    assert!(err.contains(&url), "error names {url}: {r:#?}");
    assert_eq!(
        lines(err).len(),
        1,
        "one clear line on stderr: {:?}",
        r.stderr
    );
    // Same for a JetStream subcommand.
    let r = run(&["stream", "ls", "--server", &url]);
    assert!(r.fails().contains(&url), "{r:#?}");
}

#[test]
fn nats_url_env_used_without_server_flag() {
    let b = Broker::sluice(&[]);
    let url = b.url();
    let rep = Bg::listening(
        &with_server(&url, &["reply"], &["env.svc", "from-env", "--count", "1"]),
        "env.svc",
    );
    let r = run_env(&["req", "env.svc", "x"], &[("NATS_URL", &url)]);
    assert_eq!(r.ok().trim(), "from-env", "{r:#?}");
    rep.finish().ok();

    // NATS_URL pointing nowhere: the error names it (so it was read).
    let dead = format!("nats://127.0.0.1:{}", dead_port());
    let r = run_env(&["pub", "foo", "x"], &[("NATS_URL", &dead)]);
    assert!(r.fails().contains(&dead), "{r:#?}");

    // --server wins over NATS_URL.
    let r = run_env(
        &["pub", "--server", &url, "foo", "x"],
        &[("NATS_URL", &dead)],
    );
    r.ok();
}

#[test]
fn user_password_auth() {
    let b = Broker::sluice(&["--user", "a", "--pass", "b"]);
    let url = b.url();

    let bad = sl(
        &url,
        &["pub"],
        &["foo", "x", "--user", "a", "--password", "wrong"],
    );
    let err = bad.fails();
    assert!(
        err.to_lowercase().contains("authorization violation"),
        "{bad:#?}"
    );
    assert_eq!(lines(err).len(), 1, "one line: {:?}", bad.stderr);

    let none = sl(&url, &["pub"], &["foo", "x"]);
    assert!(
        none.fails()
            .to_lowercase()
            .contains("authorization violation"),
        "{none:#?}"
    );

    // Right credentials: a real round trip through sub and pub.
    let sub = Bg::listening(
        &with_server(
            &url,
            &["sub"],
            &["auth.ok", "--count", "1", "--user", "a", "--password", "b"],
        ),
        "auth.ok",
    );
    sl(
        &url,
        &["pub"],
        &["auth.ok", "secret-ok", "--user", "a", "--password", "b"],
    )
    .ok();
    assert!(sub.finish().ok().contains("secret-ok"));

    // Credentials in the URL.
    let with_creds = format!("nats://a:b@{}", b.addr);
    run(&["pub", "--server", &with_creds, "foo", "x"]).ok();
    let bad_creds = format!("nats://a:nope@{}", b.addr);
    run(&["pub", "--server", &bad_creds, "foo", "x"]).fails();
}

#[test]
fn token_auth() {
    let b = Broker::sluice(&["--auth", "s3cr3t"]);
    let url = b.url();
    sl(&url, &["pub"], &["foo", "x", "--token", "s3cr3t"]).ok();
    let bad = sl(&url, &["pub"], &["foo", "x", "--token", "nope"]);
    assert!(
        bad.fails()
            .to_lowercase()
            .contains("authorization violation"),
        "{bad:#?}"
    );
    let in_url = format!("nats://s3cr3t@{}", b.addr);
    run(&["pub", "--server", &in_url, "foo", "x"]).ok();
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["pub", "--no-such-flag", "foo"][..],
        &["sub"][..],
        &["sub", "foo", "--count", "many"][..],
        &["stream", "frobnicate"][..],
        &["kv", "put", "B"][..],
    ] {
        let r = run(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:#?}");
        assert!(!r.stderr.is_empty(), "{args:?}: usage on stderr");
    }
}

// ---------------------------------------------------------------------------------------------
// JetStream: streams
// ---------------------------------------------------------------------------------------------

#[test]
fn stream_add_info_ls_get_purge_rm() {
    let js = Js::start("cli-stream");
    let url = js.url();

    let add = sl(
        &url,
        &["stream", "add"],
        &["ORDERS", "--subjects", "orders.*,audit.orders"],
    );
    let out = add.ok();
    assert!(
        out.contains("ORDERS") && out.contains("orders.*"),
        "{add:#?}"
    );

    let info = sl(&url, &["stream", "info"], &["ORDERS", "--json"]).json();
    assert_eq!(info["config"]["name"], "ORDERS", "{info}");
    assert_eq!(
        info["config"]["subjects"],
        json!(["orders.*", "audit.orders"]),
        "{info}"
    );
    assert_eq!(info["state"]["messages"], 0, "{info}");
    assert!(
        info.get("type").is_none(),
        "the API `type` is dropped: {info}"
    );

    sl(
        &url,
        &["pub"],
        &["orders.new", "order-{{Count}}", "--count", "3"],
    )
    .ok();
    sl(&url, &["pub"], &["audit.orders", "audited"]).ok();

    let info = sl(&url, &["stream", "info"], &["ORDERS", "--json"]).json();
    assert_eq!(info["state"]["messages"], 4, "{info}");
    assert_eq!(info["state"]["first_seq"], 1, "{info}");
    assert_eq!(info["state"]["last_seq"], 4, "{info}");

    let human = sl(&url, &["stream", "info"], &["ORDERS"]);
    let h = human.ok();
    let field = |name: &str| -> String {
        h.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} line in:\n{h}"))
            .trim_start()[name.len()..]
            .trim()
            .to_string()
    };
    assert_eq!(field("Name:"), "ORDERS");
    assert!(field("Subjects:").contains("orders.*"), "{h}");
    assert!(field("Subjects:").contains("audit.orders"), "{h}");
    assert!(field("Storage:").to_lowercase().contains("file"), "{h}");
    assert!(field("Retention:").to_lowercase().contains("limits"), "{h}");
    assert_eq!(field("Messages:").replace(',', ""), "4");
    assert_eq!(field("First Sequence:").replace(',', ""), "1");
    assert_eq!(field("Last Sequence:").replace(',', ""), "4");
    assert_eq!(field("Consumers:"), "0");
    field("Bytes:");

    // ls: a table row for ORDERS with its subjects and message count; --json: StreamInfo array.
    sl(
        &url,
        &["stream", "add"],
        &["EVENTS", "--subjects", "events.>", "--storage", "memory"],
    )
    .ok();
    let ls = sl(&url, &["stream", "ls"], &[]);
    let ls_out = ls.ok();
    let header = ls_out.lines().next().unwrap_or("");
    for col in ["NAME", "SUBJECTS", "MESSAGES", "BYTES", "CONSUMERS"] {
        assert!(header.contains(col), "ls header has {col}:\n{ls_out}");
    }
    let row = ls_out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("ORDERS"))
        .unwrap_or_else(|| panic!("a row for ORDERS:\n{ls_out}"));
    assert!(row.contains("orders.*"), "{row}");
    assert!(
        row.split_whitespace().any(|w| w == "4"),
        "4 messages: {row}"
    );
    assert!(
        ls_out
            .lines()
            .any(|l| l.split_whitespace().next() == Some("EVENTS")),
        "{ls_out}"
    );
    let ls_json = sl(&url, &["stream", "ls"], &["--json"]).json();
    let arr = ls_json
        .as_array()
        .unwrap_or_else(|| panic!("array: {ls_json}"));
    assert_eq!(arr.len(), 2, "{ls_json}");
    let orders = arr
        .iter()
        .find(|s| s["config"]["name"] == "ORDERS")
        .unwrap_or_else(|| panic!("ORDERS in {ls_json}"));
    assert_eq!(orders["state"]["messages"], 4);
    let events = arr
        .iter()
        .find(|s| s["config"]["name"] == "EVENTS")
        .unwrap();
    assert_eq!(events["config"]["storage"], "memory", "{events}");

    // get by sequence and by last-for-subject.
    let g = sl(&url, &["stream", "get"], &["ORDERS", "2"]);
    let g_out = g.ok();
    assert!(
        g_out.contains("order-2") && g_out.contains("orders.new"),
        "{g:#?}"
    );
    let gj = sl(&url, &["stream", "get"], &["ORDERS", "2", "--json"]).json();
    assert_eq!(gj["data"], "order-2", "{gj}");
    assert_eq!(gj["seq"], 2, "{gj}");
    assert_eq!(gj["subject"], "orders.new", "{gj}");
    let last = sl(
        &url,
        &["stream", "get"],
        &["ORDERS", "--last-for", "orders.new", "--json"],
    )
    .json();
    assert_eq!(last["data"], "order-3", "{last}");
    assert_eq!(last["seq"], 3, "{last}");

    // purge --keep 1, then everything.
    let p = sl(
        &url,
        &["stream", "purge"],
        &["ORDERS", "--keep", "1", "--json"],
    )
    .json();
    assert_eq!(p, json!({"purged": 3}));
    let p = sl(&url, &["stream", "purge"], &["ORDERS"]);
    assert!(
        p.ok_all().contains("Purged 1 messages from \"ORDERS\""),
        "{p:#?}"
    );
    let info = sl(&url, &["stream", "info"], &["ORDERS", "--json"]).json();
    assert_eq!(info["state"]["messages"], 0, "{info}");

    // rm, then it is gone.
    let rm = sl(&url, &["stream", "rm"], &["ORDERS"]);
    assert!(rm.ok_all().contains("Deleted stream \"ORDERS\""), "{rm:#?}");
    let rm = sl(&url, &["stream", "rm"], &["EVENTS", "--json"]).json();
    assert_eq!(rm, json!({"deleted": "EVENTS"}));
    let gone = sl(&url, &["stream", "info"], &["ORDERS"]);
    assert!(
        gone.fails().contains("stream \"ORDERS\" not found"),
        "{gone:#?}"
    );
    assert_eq!(sl(&url, &["stream", "ls"], &["--json"]).json(), json!([]));
}

#[test]
fn stream_add_with_limits() {
    let js = Js::start("cli-stream-limits");
    let url = js.url();
    let info = sl(
        &url,
        &["stream", "add"],
        &[
            "LIM",
            "--subjects",
            "lim.>",
            "--storage",
            "memory",
            "--retention",
            "workqueue",
            "--max-msgs",
            "100",
            "--max-bytes",
            "1048576",
            "--max-age",
            "1h",
            "--max-msgs-per-subject",
            "5",
            "--json",
        ],
    )
    .json();
    let c = &info["config"];
    assert_eq!(c["name"], "LIM", "{info}");
    assert_eq!(c["storage"], "memory", "{info}");
    assert_eq!(c["retention"], "workqueue", "{info}");
    assert_eq!(c["max_msgs"], 100, "{info}");
    assert_eq!(c["max_bytes"], 1024 * 1024, "{info}");
    assert_eq!(c["max_age"], 3_600_000_000_000u64, "{info}");
    assert_eq!(c["max_msgs_per_subject"], 5, "{info}");
}

#[test]
fn missing_stream_names_it() {
    let js = Js::start("cli-stream-missing");
    let url = js.url();
    for (cmd, rest) in [
        (&["stream", "info"][..], &["NOPE"][..]),
        (&["stream", "rm"][..], &["NOPE"][..]),
        (&["stream", "purge"][..], &["NOPE"][..]),
        (&["stream", "get"][..], &["NOPE", "1"][..]),
        (&["consumer", "ls"][..], &["NOPE"][..]),
    ] {
        let r = sl(&url, cmd, rest);
        let err = r.fails();
        assert!(err.contains("stream \"NOPE\" not found"), "{cmd:?}: {r:#?}");
        assert_eq!(lines(err).len(), 1, "{cmd:?}: one line: {:?}", r.stderr);
    }
    // A message that is not there: exit 1 too.
    sl(&url, &["stream", "add"], &["S", "--subjects", "s"]).ok();
    sl(&url, &["stream", "get"], &["S", "7"]).fails();
}

// ---------------------------------------------------------------------------------------------
// JetStream: consumers
// ---------------------------------------------------------------------------------------------

#[test]
fn consumer_add_ls_info_next_rm() {
    let js = Js::start("cli-consumer");
    let url = js.url();
    sl(&url, &["stream", "add"], &["JOBS", "--subjects", "jobs.>"]).ok();
    sl(&url, &["pub"], &["jobs.a", "job-{{Count}}", "--count", "3"]).ok();

    let add = sl(&url, &["consumer", "add"], &["JOBS", "worker", "--pull"]);
    assert!(add.ok().contains("worker"), "{add:#?}");
    let add2 = sl(
        &url,
        &["consumer", "add"],
        &["JOBS", "other", "--pull", "--filter", "jobs.b", "--json"],
    )
    .json();
    assert_eq!(add2["name"], "other", "{add2}");
    assert_eq!(add2["stream_name"], "JOBS", "{add2}");
    assert_eq!(add2["config"]["durable_name"], "other", "{add2}");
    assert_eq!(add2["config"]["filter_subject"], "jobs.b", "{add2}");
    assert_eq!(add2["config"]["ack_policy"], "explicit", "{add2}");

    let ls = sl(&url, &["consumer", "ls"], &["JOBS"]);
    let ls_out = ls.ok();
    let row = ls_out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("worker"))
        .unwrap_or_else(|| panic!("row for worker:\n{ls_out}"));
    assert!(row.contains("pull"), "{row}");
    assert!(row.split_whitespace().any(|w| w == "3"), "3 pending: {row}");
    let ls_json = sl(&url, &["consumer", "ls"], &["JOBS", "--json"]).json();
    let mut names: Vec<&str> = ls_json
        .as_array()
        .unwrap_or_else(|| panic!("array: {ls_json}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["other", "worker"]);

    let info = sl(&url, &["consumer", "info"], &["JOBS", "worker", "--json"]).json();
    assert_eq!(info["num_pending"], 3, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 0, "{info}");
    let human = sl(&url, &["consumer", "info"], &["JOBS", "worker"]);
    assert!(human.ok().contains("worker"), "{human:#?}");

    // next --count 2: two messages, acked.
    let next = sl(
        &url,
        &["consumer", "next"],
        &["JOBS", "worker", "--count", "2"],
    );
    let out = next.ok();
    assert_in_order(out, &["job-1", "job-2"]);
    assert!(!out.contains("job-3"), "{out}");
    let info = sl(&url, &["consumer", "info"], &["JOBS", "worker", "--json"]).json();
    assert_eq!(info["ack_floor"]["consumer_seq"], 2, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 2, "{info}");
    assert_eq!(info["num_ack_pending"], 0, "{info}");
    assert_eq!(info["num_pending"], 1, "{info}");
    assert_eq!(info["delivered"]["stream_seq"], 2, "{info}");

    // next --json: the sub fields plus the ack-subject metadata.
    let msgs = sl(
        &url,
        &["consumer", "next"],
        &["JOBS", "worker", "--json", "--timeout", "2s"],
    )
    .json_lines();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let m = &msgs[0];
    assert_eq!(m["data"], "job-3", "{m}");
    assert_eq!(m["subject"], "jobs.a", "{m}");
    assert_eq!(m["stream_seq"], 3, "{m}");
    assert_eq!(m["consumer_seq"], 3, "{m}");
    assert_eq!(m["delivered"], 1, "{m}");
    assert_eq!(m["pending"], 0, "{m}");

    // Nothing left: no output, exit 0, `No messages`.
    let started = Instant::now();
    let empty = sl(
        &url,
        &["consumer", "next"],
        &["JOBS", "worker", "--timeout", "500ms"],
    );
    assert_eq!(empty.ok(), "", "{empty:#?}");
    assert!(empty.stderr.contains("No messages"), "{empty:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let info = sl(&url, &["consumer", "info"], &["JOBS", "worker", "--json"]).json();
    assert_eq!(info["ack_floor"]["stream_seq"], 3, "{info}");

    // rm.
    let rm = sl(&url, &["consumer", "rm"], &["JOBS", "other", "--json"]).json();
    assert_eq!(rm, json!({"deleted": "other"}));
    let rm = sl(&url, &["consumer", "rm"], &["JOBS", "worker"]);
    assert!(rm.ok_all().contains("worker"), "{rm:#?}");
    assert_eq!(
        sl(&url, &["consumer", "ls"], &["JOBS", "--json"]).json(),
        json!([])
    );
    let gone = sl(&url, &["consumer", "info"], &["JOBS", "worker"]);
    assert!(
        gone.fails().contains("\"worker\""),
        "names the consumer: {gone:#?}"
    );
}

#[test]
fn consumer_next_no_ack_leaves_messages_pending() {
    let js = Js::start("cli-consumer-noack");
    let url = js.url();
    sl(&url, &["stream", "add"], &["Q", "--subjects", "q"]).ok();
    sl(&url, &["pub"], &["q", "m{{Count}}", "--count", "2"]).ok();
    sl(
        &url,
        &["consumer", "add"],
        &["Q", "c", "--pull", "--ack-wait", "30s"],
    )
    .ok();
    let out = sl(
        &url,
        &["consumer", "next"],
        &["Q", "c", "--count", "2", "--no-ack"],
    );
    assert_in_order(out.ok(), &["m1", "m2"]);
    let info = sl(&url, &["consumer", "info"], &["Q", "c", "--json"]).json();
    assert_eq!(info["num_ack_pending"], 2, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 0, "{info}");
    assert_eq!(info["config"]["ack_wait"], 30_000_000_000u64, "{info}");
}

// ---------------------------------------------------------------------------------------------
// JetStream: key-value
// ---------------------------------------------------------------------------------------------

#[test]
fn kv_add_put_get_del_history_ls() {
    let js = Js::start("cli-kv");
    let url = js.url();

    let add = sl(&url, &["kv", "add"], &["CFG", "--history", "5"]);
    assert!(add.ok_all().contains("Created bucket \"CFG\""), "{add:#?}");
    let add2 = sl(&url, &["kv", "add"], &["OTHER", "--json"]).json();
    assert_eq!(add2["bucket"], "OTHER", "{add2}");
    assert_eq!(add2["history"], 1, "{add2}");

    // The backing stream, as async-nats creates it.
    let s = sl(&url, &["stream", "info"], &["KV_CFG", "--json"]).json();
    let c = &s["config"];
    assert_eq!(c["subjects"], json!(["$KV.CFG.>"]), "{s}");
    assert_eq!(c["max_msgs_per_subject"], 5, "{s}");
    assert_eq!(c["allow_rollup_hdrs"], true, "{s}");
    assert_eq!(c["deny_delete"], true, "{s}");
    assert_eq!(c["allow_direct"], true, "{s}");
    assert_eq!(c["discard"], "new", "{s}");

    let ls = sl(&url, &["kv", "ls"], &[]);
    let mut names = lines(ls.ok());
    names.sort();
    assert_eq!(names, ["CFG", "OTHER"], "{ls:#?}");
    let ls_json = sl(&url, &["kv", "ls"], &["--json"]).json();
    let mut arr: Vec<&str> = ls_json
        .as_array()
        .unwrap_or_else(|| panic!("array: {ls_json}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    arr.sort();
    assert_eq!(arr, ["CFG", "OTHER"]);

    assert_eq!(
        sl(&url, &["kv", "put"], &["CFG", "db.host", "alpha"])
            .ok()
            .trim(),
        "1"
    );
    assert_eq!(
        sl(&url, &["kv", "put"], &["CFG", "db.host", "beta", "--json"]).json(),
        json!({"revision": 2})
    );
    assert_eq!(
        sl(&url, &["kv", "put"], &["CFG", "other", "x"]).ok().trim(),
        "3"
    );

    assert_eq!(
        sl(&url, &["kv", "get"], &["CFG", "db.host"]).ok().trim(),
        "beta"
    );
    assert_eq!(
        sl(&url, &["kv", "get"], &["CFG", "db.host", "--json"]).json(),
        json!({"key": "db.host", "value": "beta", "revision": 2, "operation": "PUT"})
    );

    let del = sl(&url, &["kv", "del"], &["CFG", "db.host"]);
    assert!(del.ok_all().contains("Deleted \"db.host\""), "{del:#?}");
    let gone = sl(&url, &["kv", "get"], &["CFG", "db.host"]);
    assert!(
        gone.fails()
            .contains("key \"db.host\" not found in bucket \"CFG\""),
        "{gone:#?}"
    );

    let hist = sl(&url, &["kv", "history"], &["CFG", "db.host"]);
    let rows: Vec<Vec<&str>> = lines(hist.ok())
        .into_iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // Allow a header row; the data rows start with the revision.
    let rows: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r.first().is_some_and(|w| w.parse::<u64>().is_ok()))
        .collect();
    assert_eq!(rows.len(), 3, "{hist:#?}");
    assert_eq!(rows[0][..3], ["1", "PUT", "alpha"], "{hist:#?}");
    assert_eq!(rows[1][..3], ["2", "PUT", "beta"], "{hist:#?}");
    assert_eq!(rows[2][..2], ["4", "DEL"], "{hist:#?}");
    let hj = sl(&url, &["kv", "history"], &["CFG", "db.host", "--json"]).json();
    assert_eq!(
        hj,
        json!([
            {"revision": 1, "operation": "PUT", "value": "alpha"},
            {"revision": 2, "operation": "PUT", "value": "beta"},
            {"revision": 4, "operation": "DEL", "value": ""},
        ])
    );
}

#[test]
fn kv_invalid_and_missing_keys() {
    let js = Js::start("cli-kv-keys");
    let url = js.url();
    sl(&url, &["kv", "add"], &["B"]).ok();
    for key in ["bad key", ".lead", "trail.", "a..b", "a.*", "a.>"] {
        let r = sl(&url, &["kv", "put"], &["B", key, "v"]);
        let err = r.fails();
        assert!(
            err.contains(&format!("invalid key \"{key}\"")),
            "put {key:?}: {r:#?}"
        );
    }
    let r = sl(&url, &["kv", "get"], &["B", "a b"]);
    assert!(r.fails().contains("invalid key \"a b\""), "{r:#?}");
    let r = sl(&url, &["kv", "del"], &["B", "x.*"]);
    assert!(r.fails().contains("invalid key \"x.*\""), "{r:#?}");
    // Nothing was stored by the rejected puts.
    let s = sl(&url, &["stream", "info"], &["KV_B", "--json"]).json();
    assert_eq!(s["state"]["messages"], 0, "{s}");

    let r = sl(&url, &["kv", "get"], &["B", "never.set"]);
    assert!(
        r.fails()
            .contains("key \"never.set\" not found in bucket \"B\""),
        "{r:#?}"
    );
    assert_eq!(r.stdout, "");
    let r = sl(&url, &["kv", "get"], &["NOBUCKET", "k"]);
    assert!(r.fails().contains("NOBUCKET"), "names the bucket: {r:#?}");
}

#[test]
fn kv_watch_current_then_live() {
    let js = Js::start("cli-kv-watch");
    let url = js.url();
    sl(&url, &["kv", "add"], &["W", "--history", "3"]).ok();
    sl(&url, &["kv", "put"], &["W", "a", "1"]).ok();
    sl(&url, &["kv", "put"], &["W", "a", "2"]).ok();
    sl(&url, &["kv", "put"], &["W", "b", "bee"]).ok();

    // JSON: the current value of each key (a=2 at rev 2, b at rev 3), then a live update.
    let watch = Bg::spawn(&with_server(
        &url,
        &["kv", "watch"],
        &["W", "--count", "3", "--json"],
    ));
    let first = parse_lines(&watch.wait_stdout_lines(2));
    assert_eq!(first.len(), 2, "{first:#?}");
    assert_eq!(first[0]["key"], "a", "{first:#?}");
    assert_eq!(first[0]["value"], "2", "{first:#?}");
    assert_eq!(first[0]["revision"], 2, "{first:#?}");
    assert_eq!(first[0]["operation"], "PUT", "{first:#?}");
    assert_eq!(first[1]["key"], "b", "{first:#?}");
    assert_eq!(first[1]["revision"], 3, "{first:#?}");
    sl(&url, &["kv", "put"], &["W", "c", "sea"]).ok();
    let all = watch.finish().json_lines();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[2]["key"], "c");
    assert_eq!(all[2]["value"], "sea");
    assert_eq!(all[2]["revision"], 4);

    // Human, with a key pattern: `KEY REVISION OPERATION VALUE`.
    let watch = Bg::spawn(&with_server(
        &url,
        &["kv", "watch"],
        &["W", "b", "--count", "2"],
    ));
    watch.wait_stdout_lines(1);
    sl(&url, &["kv", "del"], &["W", "b"]).ok();
    let out = watch.finish();
    let rows: Vec<Vec<&str>> = lines(out.ok())
        .into_iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out:#?}");
    assert_eq!(rows[0], ["b", "3", "PUT", "bee"], "{out:#?}");
    assert_eq!(rows[1][..3], ["b", "5", "DEL"], "{out:#?}");
}

#[test]
fn global_options_before_nested_subcommand() {
    let js = Js::start("cli-global");
    let url = js.url();
    // `--json` and `--server` between `stream` and `add`/`ls`.
    run(&["stream", "--server", &url, "add", "G", "--subjects", "g"]).ok();
    let ls = run(&["stream", "--json", "--server", &url, "ls"]).json();
    assert_eq!(ls[0]["config"]["name"], "G", "{ls}");
}
