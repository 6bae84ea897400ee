//! nkey users, against both brokers with one config file: INFO carries a nonce, the client
//! signs it with its seed, and the signature is checked. async-nats and nats-py log in with
//! a seed and land in their user's account; a wrong key, a signature of another nonce, or
//! no signature is refused with nats-server's `Authorization Violation`.

use async_nats::ConnectOptions;
use base64::Engine;
use integration_tests::py::{run_bounded, skip_without_nats_py};
use integration_tests::raw::Raw;
use integration_tests::{both, Broker, Kind};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// An nkey user in account A, a password user in A, and a password user in the global one.
struct Setup {
    broker: Broker,
    key: nkeys::KeyPair,
}

fn start(kind: Kind, tag: &str) -> Setup {
    let key = nkeys::KeyPair::new_user();
    let text = format!(
        r#"
accounts {{
  A: {{ users: [ {{nkey: {}}}, {{user: a, password: apw}} ] }}
}}
authorization {{ users: [ {{user: g, password: gpw}} ] }}
"#,
        key.public_key()
    );
    let dir = std::env::temp_dir().join(format!(
        "sluice-nkeys-{tag}-{kind:?}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("server.conf");
    std::fs::write(&conf, text).unwrap();
    let broker = Broker::start(kind, &["-c", conf.to_str().unwrap()]);
    Setup { broker, key }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

both!(
    fn a_client_with_the_seed_logs_in_to_its_users_account(kind) {
        let s = start(kind, "login");
        let url = s.broker.url();
        rt().block_on(async {
            let nk = ConnectOptions::new()
                .nkey(s.key.seed().unwrap())
                .connect(&url)
                .await
                .expect("the nkey user logs in");
            let mut sub = nk.subscribe("nk.x").await.unwrap();
            nk.flush().await.unwrap();
            for (user, pass) in [("g", "gpw"), ("a", "apw")] {
                let c = ConnectOptions::with_user_and_password(user.into(), pass.into())
                    .connect(&url)
                    .await
                    .unwrap();
                c.publish("nk.x", user.to_owned().into()).await.unwrap();
                c.flush().await.unwrap();
            }
            let got = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
                .await
                .expect("a message within 5 s")
                .unwrap();
            assert_eq!(&got.payload[..], b"a", "only account A's publish reaches it");
            let more = tokio::time::timeout(Duration::from_millis(300), futures::StreamExt::next(&mut sub)).await;
            assert!(more.is_err(), "the global account's publish does not reach A: {more:?}");

            // Another key is no user: refused.
            let other = nkeys::KeyPair::new_user();
            let refused = ConnectOptions::new()
                .nkey(other.seed().unwrap())
                .connect(&url);
            let refused = tokio::time::timeout(Duration::from_secs(10), refused)
                .await
                .expect("the connect attempt ends");
            let err = refused.expect_err("an unknown key logged in");
            assert!(
                err.to_string().to_lowercase().contains("authorization"),
                "{err}"
            );
        });
    }
);

both!(
    /// The nonce in INFO, and what a raw client gets for a signature of something else, no
    /// signature, and the right one.
    fn the_signature_must_be_of_this_connections_nonce(kind) {
        let s = start(kind, "raw");
        let sign = |what: &[u8]| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.key.sign(what).unwrap())
        };
        let pk = s.key.public_key();
        let cases: [(&str, Option<String>, bool); 3] = [
            ("another nonce", Some(sign(b"not the nonce")), false),
            ("no signature", None, false),
            ("the nonce", None, true),
        ];
        for (what, sig, good) in cases {
            let (mut raw, info) = Raw::connect(s.broker.addr);
            let nonce = info["nonce"].as_str().unwrap_or_else(|| panic!("no nonce in INFO: {info}"));
            assert!(nonce.len() >= 11, "{nonce:?}");
            let sig = if good { Some(sign(nonce.as_bytes())) } else { sig };
            let sig = sig.map(|s| format!(r#","sig":"{s}""#)).unwrap_or_default();
            raw.send(format!("CONNECT {{\"nkey\":\"{pk}\"{sig},\"verbose\":false}}\r\nPING\r\n").as_bytes());
            let got = String::from_utf8_lossy(&raw.read_until(Duration::from_secs(5), |b| {
                b.ends_with(b"PONG\r\n") || String::from_utf8_lossy(b).contains("-ERR")
            }))
            .into_owned();
            if good {
                assert_eq!(got, "PONG\r\n", "{what}");
            } else {
                assert!(got.contains("-ERR 'Authorization Violation'"), "{what}: {got:?}");
            }
        }
    }
);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/nkey_login.py")
}

both!(
    /// nats-py signs with `nkeys_seed_str` (it needs the `nkeys` Python package, which
    /// scripts/test.sh installs with nats-py).
    fn nats_py_logs_in_with_a_seed(kind) {
        if skip_without_nats_py("the nats-py nkey test") {
            return;
        }
        let s = start(kind, "py");
        let seed = s.key.seed().unwrap();
        let other = nkeys::KeyPair::new_user().seed().unwrap();
        for (seed, bad) in [(seed, false), (other, true)] {
            let mut cmd = Command::new("python3");
            cmd.arg(script()).arg(s.broker.url()).arg(&seed);
            if bad {
                cmd.arg("bad");
            }
            let (status, out) = run_bounded(cmd, Duration::from_secs(30));
            assert!(
                status.is_some_and(|s| s.success()),
                "{kind:?} (bad key: {bad}): {out}"
            );
        }
    }
);
