//! Users, bcrypt passwords, publish/subscribe permissions and reloading the authorization.
//! The expected bytes are what nats-server 2.9.10 sends for the same configuration and
//! script (checked against it by hand; see integration-tests/tests/permissions.rs).

mod common;

use common::*;
use sluice_server::{Auth, Permissions, ResponsePermission, ServerConfig, SubjectPermission, User};
use std::time::Duration;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(3);

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn subj(allow: &[&str], deny: &[&str]) -> Option<SubjectPermission> {
    Some(SubjectPermission {
        allow: list(allow),
        deny: list(deny),
    })
}

fn user(name: &str, password: &str, permissions: Option<Permissions>) -> User {
    User {
        user: name.into(),
        password: password.into(),
        permissions,
        account: None,
        nkey: None,
    }
}

/// The users of the nats-server configuration the expected texts come from.
fn users() -> Vec<User> {
    vec![
        user(
            "alice",
            "pw",
            Some(Permissions {
                publish: subj(&["foo.>", "req.*"], &["foo.secret"]),
                subscribe: subj(&["foo.>", "bar", "_INBOX.>"], &["foo.bar.*"]),
                allow_responses: None,
            }),
        ),
        user(
            "bob",
            "pw",
            Some(Permissions {
                publish: subj(&[], &[">"]),
                subscribe: subj(&["req.>"], &[]),
                allow_responses: Some(ResponsePermission {
                    max: 2,
                    expires: Duration::ZERO,
                }),
            }),
        ),
        user("carl", "pw", None),
        user(
            "dan",
            "pw",
            Some(Permissions {
                publish: subj(&["x"], &[]),
                subscribe: subj(&[], &["q.>"]),
                allow_responses: None,
            }),
        ),
        user(
            "eve",
            "pw",
            Some(Permissions {
                allow_responses: Some(ResponsePermission::default()),
                ..Permissions::default()
            }),
        ),
        user(
            "frank",
            "pw",
            Some(Permissions {
                subscribe: subj(&["foo v1", "bar", "w.*"], &["bar v2", "w.x"]),
                ..Permissions::default()
            }),
        ),
    ]
}

async fn start_users(users: Vec<User>) -> Running {
    start(ServerConfig {
        auth: Auth::Users(users),
        ..ServerConfig::default()
    })
    .await
}

/// Connects as `user` with `verbose`, sends `script` and a PING, and returns what came
/// back up to and including the PONG.
async fn session(
    srv: &Running,
    user: &str,
    pass: &str,
    verbose: bool,
    script: &str,
) -> (TcpStream, String) {
    let mut s = connect(srv.addr).await;
    let connect = format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{pass}\",\"verbose\":{verbose}}}\r\n{script}PING\r\n"
    );
    send(&mut s, connect.as_bytes()).await;
    let seen = read_until(&mut s, WAIT, |t| t.ends_with("PONG\r\n")).await;
    (s, seen.text)
}

/// The frames of `text` (a MSG line with its payload line, or a single line), sorted: for
/// deliveries to several subscriptions, whose order is not fixed.
fn sorted(text: &str) -> Vec<String> {
    let mut frames = Vec::new();
    let mut lines = text.split_terminator("\r\n");
    while let Some(line) = lines.next() {
        if line.starts_with("MSG ") {
            frames.push(format!("{line}|{}", lines.next().unwrap_or_default()));
        } else {
            frames.push(line.to_owned());
        }
    }
    frames.sort();
    frames
}

/// Sends `script` and a PING; what came back up to and including the PONG.
async fn exchange(s: &mut TcpStream, script: &str) -> String {
    send(s, format!("{script}PING\r\n").as_bytes()).await;
    read_until(s, WAIT, |t| t.ends_with("PONG\r\n")).await.text
}

#[tokio::test]
async fn publish_and_subscribe_allow_and_deny() {
    let srv = start_users(users()).await;
    let (mut alice, got) = session(
        &srv,
        "alice",
        "pw",
        false,
        "PUB foo.secret 1\r\nx\r\nPUB bar 1\r\nx\r\nSUB foo.bar.x 1\r\nSUB foo.* 2\r\nSUB foo.> 3\r\n\
         SUB baz q 4\r\nSUB > 5\r\nSUB foo.bar.x q 6\r\nSUB foo.bar.* 7\r\n",
    )
    .await;
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo.bar.x\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"baz\" using queue \"q\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \">\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo.bar.x\" using queue \"q\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo.bar.*\"'\r\nPONG\r\n"
    );
    // The connection stays, and an allowed publish goes through.
    let got = exchange(&mut alice, "PUB foo.ok 2\r\nhi\r\n").await;
    assert_eq!(
        sorted(&got),
        sorted("MSG foo.ok 2 2\r\nhi\r\nMSG foo.ok 3 2\r\nhi\r\nPONG\r\n")
    );

    // foo.> overlaps the deny list (foo.bar.*): those subjects are not delivered to alice.
    let (mut carl, _) = session(&srv, "carl", "pw", false, "").await;
    exchange(
        &mut carl,
        "PUB foo.bar.x 1\r\n1\r\nPUB foo.baz 1\r\n2\r\nPUB foo.bar 1\r\n3\r\n",
    )
    .await;
    let got = exchange(&mut alice, "").await;
    assert_eq!(
        sorted(&got),
        sorted(
            "MSG foo.baz 2 1\r\n2\r\nMSG foo.baz 3 1\r\n2\r\n\
             MSG foo.bar 2 1\r\n3\r\nMSG foo.bar 3 1\r\n3\r\nPONG\r\n"
        )
    );
    srv.stop().await;
}

#[tokio::test]
async fn verbose_and_pedantic_order() {
    let srv = start_users(users()).await;
    let (_alice, got) = session(
        &srv,
        "alice",
        "pw",
        true,
        "SUB foo.> 1\r\nSUB foo..x 2\r\nSUB bar q 3\r\nPUB foo.* 1\r\nx\r\nPUB foo.secret 1\r\nx\r\n",
    )
    .await;
    // No +OK for a refused op; pedantic complaints come before the permission check.
    assert_eq!(
        got,
        "+OK\r\n+OK\r\n-ERR 'Permissions Violation for Subscription to \"foo..x\"'\r\n+OK\r\n\
         -ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 1\r\nx\r\n\
         -ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\nPONG\r\n"
    );
    srv.stop().await;
}

#[tokio::test]
async fn wildcard_subscription_over_a_deny_list_is_filtered() {
    let srv = start_users(users()).await;
    let (mut dan, got) = session(
        &srv,
        "dan",
        "pw",
        false,
        "PUB x 1\r\nx\r\nPUB y 1\r\nx\r\nSUB q.a 1\r\nSUB q.* 2\r\nSUB > 3\r\nSUB q 4\r\n",
    )
    .await;
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"y\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"q.a\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"q.*\"'\r\nPONG\r\n"
    );
    let (mut carl, _) = session(&srv, "carl", "pw", false, "").await;
    exchange(
        &mut carl,
        "PUB q.a 1\r\n1\r\nPUB x 1\r\n2\r\nPUB q 1\r\n3\r\n",
    )
    .await;
    let got = exchange(&mut dan, "").await;
    assert_eq!(
        sorted(&got),
        sorted("MSG x 3 1\r\n2\r\nMSG q 3 1\r\n3\r\nMSG q 4 1\r\n3\r\nPONG\r\n")
    );
    srv.stop().await;
}

#[tokio::test]
async fn queue_group_entries() {
    let srv = start_users(users()).await;
    let (mut frank, got) = session(
        &srv,
        "frank",
        "pw",
        false,
        "SUB foo 1\r\nSUB foo v1 2\r\nSUB foo v2 3\r\nSUB bar 4\r\nSUB bar v1 5\r\nSUB bar v2 6\r\n\
         SUB w.> 7\r\nSUB w.* 8\r\nSUB w.x 9\r\n",
    )
    .await;
    // One deliberate difference from nats-server 2.9.10: it also accepts `SUB w.>` under
    // `allow: w.*` (see perms.rs); Sluice refuses it.
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Subscription to \"foo\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo\" using queue \"v2\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"bar\" using queue \"v2\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"w.>\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"w.x\"'\r\nPONG\r\n"
    );
    let (mut carl, _) = session(&srv, "carl", "pw", false, "").await;
    exchange(
        &mut carl,
        "PUB w.x 1\r\n1\r\nPUB w.y 1\r\n2\r\nPUB foo 1\r\n3\r\n",
    )
    .await;
    let got = exchange(&mut frank, "").await;
    assert_eq!(
        sorted(&got),
        sorted("MSG w.y 8 1\r\n2\r\nMSG foo 2 1\r\n3\r\nPONG\r\n")
    );
    srv.stop().await;
}

#[tokio::test]
async fn allow_responses_lets_a_user_answer_requests() {
    let srv = start_users(users()).await;
    let (mut bob, got) = session(
        &srv,
        "bob",
        "pw",
        true,
        "SUB req.> 1\r\nPUB anything 1\r\nx\r\n",
    )
    .await;
    assert_eq!(
        got,
        "+OK\r\n+OK\r\n-ERR 'Permissions Violation for Publish to \"anything\"'\r\nPONG\r\n"
    );
    let (mut carl, _) = session(
        &srv,
        "carl",
        "pw",
        false,
        "SUB rep.1 9\r\nPUB req.a rep.1 1\r\nq\r\n",
    )
    .await;
    let got = read_until(&mut bob, WAIT, |t| t.ends_with("q\r\n"))
        .await
        .text;
    assert_eq!(got, "MSG req.a 1 rep.1 1\r\nq\r\n");
    // max: 2 replies, then the reply subject is closed again.
    let got = exchange(
        &mut bob,
        "PUB rep.1 2\r\nr1\r\nPUB rep.1 2\r\nr2\r\nPUB rep.1 2\r\nr3\r\n",
    )
    .await;
    assert_eq!(
        got,
        "+OK\r\n+OK\r\n-ERR 'Permissions Violation for Publish to \"rep.1\"'\r\nPONG\r\n"
    );
    let got = exchange(&mut carl, "").await;
    assert_eq!(
        got,
        "MSG rep.1 9 2\r\nr1\r\nMSG rep.1 9 2\r\nr2\r\nPONG\r\n"
    );

    // allow_responses alone: publishing is off except for one reply per request.
    let (mut eve, got) = session(
        &srv,
        "eve",
        "pw",
        false,
        "SUB req 1\r\nPUB anything 1\r\nx\r\n",
    )
    .await;
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"anything\"'\r\nPONG\r\n"
    );
    exchange(&mut carl, "PUB req rep.1 1\r\nq\r\n").await;
    let got = exchange(&mut eve, "PUB rep.1 2\r\nr1\r\nPUB rep.1 2\r\nr2\r\n").await;
    assert_eq!(
        got,
        "MSG req 1 rep.1 1\r\nq\r\n-ERR 'Permissions Violation for Publish to \"rep.1\"'\r\nPONG\r\n"
    );
    let got = exchange(&mut carl, "").await;
    assert_eq!(got, "MSG rep.1 9 2\r\nr1\r\nPONG\r\n");
    srv.stop().await;
}

#[tokio::test]
async fn reply_permission_expires() {
    let srv = start_users(vec![
        user(
            "r",
            "pw",
            Some(Permissions {
                allow_responses: Some(ResponsePermission {
                    max: 0,
                    expires: Duration::from_millis(200),
                }),
                ..Permissions::default()
            }),
        ),
        user("c", "pw", None),
    ])
    .await;
    let (mut r, _) = session(&srv, "r", "pw", false, "SUB req 1\r\n").await;
    let (_c, _) = session(&srv, "c", "pw", false, "PUB req rep 1\r\nq\r\n").await;
    // max 0: any number of replies until it expires.
    let got = exchange(
        &mut r,
        "PUB rep 1\r\na\r\nPUB rep 1\r\nb\r\nPUB rep 1\r\nc\r\n",
    )
    .await;
    assert_eq!(got, "MSG req 1 rep 1\r\nq\r\nPONG\r\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = exchange(&mut r, "PUB rep 1\r\nd\r\n").await;
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"rep\"'\r\nPONG\r\n"
    );
    srv.stop().await;
}

#[tokio::test]
async fn bcrypt_passwords_and_tokens() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let srv = start_users(vec![user("h", &hash.replacen("$2b$", "$2a$", 1), None)]).await;
    let (_s, got) = session(&srv, "h", "s3cret", false, "").await;
    assert_eq!(got, "PONG\r\n");
    let mut s = connect(srv.addr).await;
    send(&mut s, b"CONNECT {\"user\":\"h\",\"pass\":\"nope\"}\r\n").await;
    let seen = read_until(&mut s, WAIT, |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authorization Violation'\r\n");
    assert!(seen.closed);
    // The hash itself is not the password.
    let mut s = connect(srv.addr).await;
    let c = format!("CONNECT {{\"user\":\"h\",\"pass\":\"{hash}\"}}\r\n");
    send(&mut s, c.as_bytes()).await;
    let seen = read_until(&mut s, WAIT, |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authorization Violation'\r\n");
    srv.stop().await;

    let srv = start(ServerConfig {
        auth: Auth::Token(hash.replacen("$2b$", "$2y$", 1)),
        ..ServerConfig::default()
    })
    .await;
    let mut s = connect(srv.addr).await;
    send(
        &mut s,
        b"CONNECT {\"auth_token\":\"s3cret\",\"verbose\":false}\r\nPING\r\n",
    )
    .await;
    let seen = read_until(&mut s, WAIT, |t| t.ends_with("PONG\r\n")).await;
    assert_eq!(seen.text, "PONG\r\n");
    srv.stop().await;

    let srv = start(ServerConfig {
        auth: Auth::UserPass {
            user: "u".into(),
            pass: hash,
        },
        ..ServerConfig::default()
    })
    .await;
    let (_s, got) = session(&srv, "u", "s3cret", false, "").await;
    assert_eq!(got, "PONG\r\n");
    srv.stop().await;
}

/// Starts a server and keeps its handle for reloading.
async fn start_reloadable(auth: Auth) -> (Running, sluice_server::ServerHandle) {
    let srv = start(ServerConfig {
        auth,
        ..ServerConfig::default()
    })
    .await;
    let handle = srv.handle.clone();
    (srv, handle)
}

#[tokio::test]
async fn reload_keeps_valid_connections_and_drops_the_others() {
    let hash = bcrypt::hash("pa", 4).unwrap();
    let (srv, handle) = start_reloadable(Auth::Users(vec![
        user(
            "a",
            &hash,
            Some(Permissions {
                subscribe: subj(&["foo.>", "bar"], &[]),
                ..Permissions::default()
            }),
        ),
        user("b", "pb", None),
        user("c", "pc", None),
    ]))
    .await;
    let (mut a, got) = session(
        &srv,
        "a",
        "pa",
        false,
        "SUB foo.x 1\r\nSUB bar 2\r\nSUB foo.> 3\r\n",
    )
    .await;
    assert_eq!(got, "PONG\r\n");
    let (mut b, _) = session(&srv, "b", "pb", false, "").await;
    let (mut c, _) = session(&srv, "c", "pc", false, "").await;

    handle.reload_auth(Auth::Users(vec![
        user(
            "a",
            &hash,
            Some(Permissions {
                subscribe: subj(&["foo.x"], &["foo.x.y"]),
                ..Permissions::default()
            }),
        ),
        user("b", "CHANGED", None),
    ]));

    // a stays, loses the subscriptions its new permissions do not allow.
    let got = read_until(&mut a, WAIT, |t| t.matches("\r\n").count() >= 2).await;
    assert_eq!(
        got.text,
        "-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'\r\n\
         -ERR 'Permissions Violation for Subscription to \"foo.>\" (sid \"3\")'\r\n"
    );
    // b's password changed: closed with an error; c was removed: closed silently.
    let seen = read_until(&mut b, WAIT, |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authorization Violation'\r\n");
    assert!(seen.closed);
    let seen = read_until(&mut c, WAIT, |_| false).await;
    assert_eq!(seen.text, "");
    assert!(seen.closed);

    let (mut pubr, _) = start_publisher(&srv).await;
    exchange(&mut pubr, "PUB foo.x 1\r\n1\r\nPUB bar 1\r\n2\r\n").await;
    let got = exchange(&mut a, "").await;
    assert_eq!(got, "MSG foo.x 1 1\r\n1\r\nPONG\r\n");

    // New connections use the new passwords.
    let (_b2, got) = session(&srv, "b", "CHANGED", false, "").await;
    assert_eq!(got, "PONG\r\n");
    let mut s = connect(srv.addr).await;
    send(&mut s, b"CONNECT {\"user\":\"c\",\"pass\":\"pc\"}\r\n").await;
    let seen = read_until(&mut s, WAIT, |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authorization Violation'\r\n");
    srv.stop().await;
}

/// A connection as "b" with the reloaded password, for publishing.
async fn start_publisher(srv: &Running) -> (TcpStream, String) {
    session(srv, "b", "CHANGED", false, "").await
}

#[tokio::test]
async fn reload_from_open_to_users_and_back() {
    let (srv, handle) = start_reloadable(Auth::None).await;
    let mut open = connect(srv.addr).await;
    send(&mut open, b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\n").await;
    let (mut s2, _) = session(&srv, "u", "p", false, "").await;

    // Auth turned on: connections without credentials are refused from now on, and the
    // ones already open without valid credentials are closed.
    handle.reload_auth(Auth::Users(vec![user(
        "u",
        "p",
        Some(Permissions {
            publish: subj(&["ok"], &[]),
            ..Permissions::default()
        }),
    )]));
    let seen = read_until(&mut open, WAIT, |_| false).await;
    assert_eq!(seen.text, "-ERR 'Authorization Violation'\r\n");
    assert!(seen.closed);
    let (_info, info) = {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        let seen = read_until(&mut s, WAIT, |t| t.ends_with("\r\n")).await;
        (s, seen.text)
    };
    assert!(info.contains("\"auth_required\":true"), "{info}");
    // s2 sent u/p all along: it stays, under the user's permissions.
    let got = exchange(&mut s2, "PUB no 1\r\nx\r\n").await;
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"no\"'\r\nPONG\r\n"
    );

    // And off again: no more restrictions.
    handle.reload_auth(Auth::None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = exchange(&mut s2, "SUB no 1\r\nPUB no 1\r\nx\r\n").await;
    assert_eq!(got, "MSG no 1 1\r\nx\r\nPONG\r\n");
    srv.stop().await;
}

#[tokio::test]
async fn users_without_permissions_are_unrestricted() {
    let srv = start_users(users()).await;
    let (_carl, got) = session(
        &srv,
        "carl",
        "pw",
        false,
        "SUB > 1\r\nSUB foo.bar.x q 2\r\nPUB foo.secret 1\r\nx\r\n",
    )
    .await;
    assert_eq!(got, "MSG foo.secret 1 1\r\nx\r\nPONG\r\n");
    srv.stop().await;
}
