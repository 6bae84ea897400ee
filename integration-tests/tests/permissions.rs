//! Users and permissions from a config file, differentially: the same configuration and the
//! same raw scripts against nats-server 2.9.10 and Sluice, with the exact bytes expected.

use integration_tests::raw::Raw;
use integration_tests::{both, Broker, Kind};
use std::path::PathBuf;

const CONF: &str = r#"
authorization {
  users [
    { user: alice, password: pw, permissions: {
        publish: { allow: ["foo.>", "req.*"], deny: ["foo.secret"] }
        subscribe: { allow: ["foo.>", "bar", "_INBOX.>"], deny: ["foo.bar.*"] } } }
    { user: bob, password: pw, permissions: {
        publish: { deny: ">" }, subscribe: { allow: ["req.>"] }, allow_responses: { max: 2 } } }
    { user: carl, password: pw }
    { user: dan, password: pw, permissions: { publish: "x", subscribe: { deny: ["q.>"] } } }
    { user: eve, password: pw, permissions: { allow_responses: true } }
    { user: frank, password: pw, permissions: {
        subscribe: { allow: ["foo v1", "bar"], deny: ["bar v2"] } } }
  ]
}
"#;

/// Writes the configuration to a file of its own and starts `kind` with `-c` on it.
fn broker(kind: Kind, name: &str) -> (Broker, PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "sluice-perms-{name}-{kind:?}-{}.conf",
        std::process::id()
    ));
    std::fs::write(&path, CONF).expect("write the config file");
    let broker = Broker::start(kind, &["-c", path.to_str().expect("utf-8 temp path")]);
    (broker, path)
}

fn login(b: &Broker, user: &str) -> Raw {
    Raw::connected(
        b.addr,
        &format!(r#"{{"user":"{user}","pass":"pw","verbose":false,"pedantic":false}}"#),
    )
}

both! {
    fn publish_and_subscribe_violations(kind) {
        let (b, path) = broker(kind, "violations");
        let mut alice = login(&b, "alice");
        alice.expect(
            b"PUB foo.secret 1\r\nx\r\nPUB bar 1\r\nx\r\nSUB foo.bar.x 1\r\nSUB foo.> 3\r\n\
              SUB baz q 4\r\nSUB > 5\r\nSUB foo.bar.x q 6\r\nSUB foo.bar.* 7\r\nPING\r\n",
            b"-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n\
              -ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"foo.bar.x\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"baz\" using queue \"q\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \">\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"foo.bar.x\" using queue \"q\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"foo.bar.*\"'\r\nPONG\r\n",
            false,
        );
        // foo.> overlaps the deny list: denied subjects are filtered out of its deliveries.
        let mut carl = login(&b, "carl");
        carl.expect(b"PUB foo.bar.x 1\r\n1\r\nPUB foo.baz 1\r\n2\r\nPING\r\n", b"PONG\r\n", false);
        alice.expect(b"PING\r\n", b"MSG foo.baz 3 1\r\n2\r\nPONG\r\n", false);

        let mut frank = login(&b, "frank");
        frank.expect(
            b"SUB foo 1\r\nSUB foo v1 2\r\nSUB foo v2 3\r\nSUB bar v1 5\r\nSUB bar v2 6\r\nPING\r\n",
            b"-ERR 'Permissions Violation for Subscription to \"foo\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"foo\" using queue \"v2\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"bar\" using queue \"v2\"'\r\n\
              PONG\r\n",
            false,
        );
        let mut dan = login(&b, "dan");
        dan.expect(
            b"SUB q.* 2\r\nSUB > 3\r\nPUB x 1\r\nx\r\nPUB y 1\r\nx\r\nPING\r\n",
            b"-ERR 'Permissions Violation for Subscription to \"q.*\"'\r\nMSG x 3 1\r\nx\r\n\
              -ERR 'Permissions Violation for Publish to \"y\"'\r\nPONG\r\n",
            false,
        );
        let _ = std::fs::remove_file(path);
    }
}

both! {
    fn allow_responses(kind) {
        let (b, path) = broker(kind, "responses");
        let mut bob = login(&b, "bob");
        let mut eve = login(&b, "eve");
        let mut carl = login(&b, "carl");
        bob.expect(
            b"SUB req.> 1\r\nPUB anything 1\r\nx\r\nPING\r\n",
            b"-ERR 'Permissions Violation for Publish to \"anything\"'\r\nPONG\r\n",
            false,
        );
        eve.expect(b"SUB req.b 1\r\nPING\r\n", b"PONG\r\n", false);
        carl.expect(
            b"SUB rep.1 9\r\nPUB req.a rep.1 1\r\nq\r\nPUB req.b rep.1 1\r\nq\r\nPING\r\n",
            b"PONG\r\n",
            false,
        );
        bob.expect(
            b"PUB rep.1 2\r\nr1\r\nPUB rep.1 2\r\nr2\r\nPUB rep.1 2\r\nr3\r\nPING\r\n",
            b"MSG req.a 1 rep.1 1\r\nq\r\nMSG req.b 1 rep.1 1\r\nq\r\n\
              -ERR 'Permissions Violation for Publish to \"rep.1\"'\r\nPONG\r\n",
            false,
        );
        eve.expect(
            b"PUB rep.1 2\r\ne1\r\nPUB rep.1 2\r\ne2\r\nPING\r\n",
            b"MSG req.b 1 rep.1 1\r\nq\r\n\
              -ERR 'Permissions Violation for Publish to \"rep.1\"'\r\nPONG\r\n",
            false,
        );
        carl.expect(
            b"PING\r\n",
            b"MSG rep.1 9 2\r\nr1\r\nMSG rep.1 9 2\r\nr2\r\nMSG rep.1 9 2\r\ne1\r\nPONG\r\n",
            false,
        );
        let _ = std::fs::remove_file(path);
    }
}
