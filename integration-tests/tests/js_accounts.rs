//! JetStream per account, against both brokers with the same configuration file and the same
//! requests: each account's streams are its own (names, lists, messages), an account without
//! `jetstream` (and `$G` once accounts are configured) gets 10039, the account limits and the
//! server's `max_file_store` / `max_memory_store` refuse with nats-server's errors,
//! `$JS.API.INFO` reports them, and a restart brings each account's streams back.

use integration_tests::js::{error_json, StoreDir};
use integration_tests::raw::Raw;
use integration_tests::{both, Broker, Kind};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Accounts: A (JetStream, no limits), B (limits), C (no JetStream), E (max bytes rules),
/// F (200 bytes of file storage), and `g` in `$G`. Each user's password is `<user>pw`.
fn config_text(store: &StoreDir, server_js: &str) -> String {
    format!(
        r#"
jetstream {{ store_dir: {store:?}, {server_js} }}
accounts {{
  A: {{ users: [ {{user: a, password: apw}} ], jetstream: enabled }}
  B: {{
    users: [ {{user: b, password: bpw}} ]
    jetstream: {{ max_streams: 2, max_consumers: 1, max_file: 10000, max_mem: 5000 }}
  }}
  C: {{ users: [ {{user: c, password: cpw}} ] }}
  F: {{ users: [ {{user: f, password: fpw}} ], jetstream: {{ max_file: 200 }} }}
  E: {{
    users: [ {{user: e, password: epw}} ]
    jetstream: {{ max_bytes_required: true, store_max_stream_bytes: 4096, max_ack_pending: 100 }}
  }}
}}
authorization {{ users: [ {{user: g, password: gpw}} ] }}
"#,
        store = store.as_str()
    )
}

fn write_conf(store: &StoreDir, server_js: &str) -> PathBuf {
    let path = store.path().join("server.conf");
    std::fs::write(&path, config_text(store, server_js)).unwrap();
    path
}

fn start(kind: Kind, conf: &std::path::Path) -> Broker {
    Broker::start(kind, &["-c", conf.to_str().unwrap()])
}

/// One logged-in connection that makes requests.
struct User {
    raw: Raw,
    next: u64,
}

impl User {
    #[track_caller]
    fn login(addr: SocketAddr, user: &str) -> User {
        let connect = format!(r#"{{"user":"{user}","pass":"{user}pw","verbose":false}}"#);
        let mut raw = Raw::connected(addr, &connect);
        raw.send(b"SUB _r.* 1\r\n");
        User { raw, next: 0 }
    }

    /// Publishes `body` to `subject` with a reply subject and returns the JSON answer.
    #[track_caller]
    fn req(&mut self, subject: &str, body: &str) -> Value {
        self.next += 1;
        let reply = format!("_r.{}", self.next);
        self.raw
            .send(format!("PUB {subject} {reply} {}\r\n{body}\r\n", body.len()).as_bytes());
        let want = format!("MSG {reply} 1 ");
        let got = self.raw.read_until(Duration::from_secs(5), |t| {
            let t = String::from_utf8_lossy(t);
            t.find(&want)
                .is_some_and(|at| t[at..].matches("\r\n").count() >= 2)
        });
        let text = String::from_utf8_lossy(&got).into_owned();
        let at = text
            .find(&want)
            .unwrap_or_else(|| panic!("{subject}: no answer: {text:?}"));
        let body = text[at..].split("\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{subject}: {e}: {text:?}"))
    }

    fn create(&mut self, cfg: Value) -> Value {
        let name = cfg["name"].as_str().unwrap().to_owned();
        self.req(&format!("$JS.API.STREAM.CREATE.{name}"), &cfg.to_string())
    }

    fn names(&mut self) -> Value {
        self.req("$JS.API.STREAM.NAMES", "")["streams"].clone()
    }
}

#[track_caller]
fn assert_error(got: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        got["error"],
        error_json(code, err_code, description),
        "{got}"
    );
}

#[track_caller]
fn assert_ok(got: &Value) {
    assert!(got.get("error").is_none(), "{got}");
}

both!(
    /// A's streams are A's: B has its own of the same name, neither lists nor reads the
    /// other's; an account without JetStream, and `$G`, get 10039.
    fn each_account_has_its_own_streams(kind) {
        let store = StoreDir::new("jsacct-iso");
        let broker = start(kind, &write_conf(&store, ""));
        let mut a = User::login(broker.addr, "a");
        let mut b = User::login(broker.addr, "b");
        assert_ok(&a.create(json!({"name": "S", "subjects": ["s.>"]})));
        assert_ok(&a.create(json!({"name": "ONLY_A", "subjects": ["a.>"]})));
        // Same name and subjects in B: no clash.
        assert_ok(&b.create(json!({"name": "S", "subjects": ["s.>"]})));
        assert_eq!(a.names(), json!(["ONLY_A", "S"]));
        assert_eq!(b.names(), json!(["S"]));
        assert_error(
            &b.req("$JS.API.STREAM.INFO.ONLY_A", ""),
            404,
            10059,
            "stream not found",
        );
        // A publish in A is stored in A's S only.
        let ack = a.req("s.one", "hello");
        assert_eq!(ack["stream"], "S", "{ack}");
        assert_eq!(ack["seq"], 1, "{ack}");
        let a_info = a.req("$JS.API.STREAM.INFO.S", "");
        let b_info = b.req("$JS.API.STREAM.INFO.S", "");
        assert_eq!(a_info["state"]["messages"], 1, "{a_info}");
        assert_eq!(b_info["state"]["messages"], 0, "{b_info}");
        let list = b.req("$JS.API.STREAM.LIST", "");
        assert_eq!(list["total"], 1, "{list}");
        for user in ["c", "g"] {
            let mut u = User::login(broker.addr, user);
            for subject in ["$JS.API.INFO", "$JS.API.STREAM.NAMES"] {
                let got = u.req(subject, "");
                assert_error(&got, 503, 10039, "JetStream not enabled for account");
            }
        }
    }
);

both!(
    /// B's max_streams, max_consumers, max_file and max_mem, with nats-server's errors, and
    /// its `$JS.API.INFO` limits and usage.
    fn account_limits_refuse_with_nats_servers_errors(kind) {
        let store = StoreDir::new("jsacct-limits");
        let broker = start(kind, &write_conf(&store, ""));
        let mut b = User::login(broker.addr, "b");
        // max_file 10000: a stream reserves its max_bytes.
        assert_error(
            &b.create(json!({"name": "BIG", "subjects": ["big"], "max_bytes": 10001})),
            500,
            10047,
            "insufficient storage resources available",
        );
        assert_ok(&b.create(json!({"name": "S1", "subjects": ["s1"], "max_bytes": 6000})));
        assert_error(
            &b.create(json!({"name": "S2", "subjects": ["s2"], "max_bytes": 5000})),
            500,
            10047,
            "insufficient storage resources available",
        );
        // max_mem 5000, for memory streams.
        assert_error(
            &b.create(json!({"name": "M", "subjects": ["m"], "storage": "memory",
                "max_bytes": 5001})),
            500,
            10028,
            "insufficient memory resources available",
        );
        // A stream may not allow more consumers than the account.
        assert_error(
            &b.create(json!({"name": "S2", "subjects": ["s2"], "max_consumers": 2})),
            400,
            10026,
            "maximum consumers limit reached",
        );
        assert_ok(&b.create(json!({"name": "S2", "subjects": ["s2"], "max_bytes": 4000})));
        // max_streams 2.
        assert_error(
            &b.create(json!({"name": "S3", "subjects": ["s3"]})),
            400,
            10027,
            "maximum number of streams reached",
        );
        // At the limit, even creating an existing stream again is refused (nats-server checks
        // the limits before looking for it).
        assert_error(
            &b.create(json!({"name": "S1", "subjects": ["s1"], "max_bytes": 6000})),
            400,
            10027,
            "maximum number of streams reached",
        );
        // max_consumers 1 (per stream).
        let durable = |name: &str| {
            json!({"stream_name": "S1", "config": {"durable_name": name, "ack_policy": "explicit"}})
                .to_string()
        };
        assert_ok(&b.req("$JS.API.CONSUMER.DURABLE.CREATE.S1.D1", &durable("D1")));
        assert_error(
            &b.req("$JS.API.CONSUMER.DURABLE.CREATE.S1.D2", &durable("D2")),
            400,
            10026,
            "maximum consumers limit reached",
        );
        // Deleting a stream gives its reservation back.
        assert_ok(&b.req("$JS.API.STREAM.DELETE.S2", ""));
        assert_ok(&b.create(json!({"name": "S3", "subjects": ["s3"], "max_bytes": 4000})));
        let ack = b.req("s1", "x");
        assert_eq!(ack["seq"], 1, "{ack}");
        let info = b.req("$JS.API.INFO", "");
        assert_eq!(
            info["limits"],
            json!({"max_memory": 5000, "max_storage": 10000, "max_streams": 2,
                "max_consumers": 1, "max_ack_pending": -1, "memory_max_stream_bytes": -1,
                "storage_max_stream_bytes": -1, "max_bytes_required": false}),
            "{info}"
        );
        assert_eq!(info["streams"], 2, "{info}");
        assert_eq!(info["consumers"], 1, "{info}");
        assert_eq!(info["memory"], 0, "{info}");
        // One message of subject "s1" and payload "x": nats-server's 22 + 2 + 1 + 8 bytes.
        assert_eq!(info["storage"], 33, "{info}");
        // An update reserves the difference: S1 (6000) and S3 (4000) fill max_file.
        let update = |max_bytes: u64| {
            json!({"name": "S1", "subjects": ["s1"], "max_bytes": max_bytes}).to_string()
        };
        assert_error(
            &b.req("$JS.API.STREAM.UPDATE.S1", &update(6001)),
            500,
            10047,
            "insufficient storage resources available",
        );
        assert_ok(&b.req("$JS.API.STREAM.UPDATE.S1", &update(5000)));
        assert_ok(&b.req("$JS.API.STREAM.UPDATE.S3", &update(5000).replace("S1", "S3").replace("s1", "s3")));
        // A's limits are none.
        let mut a = User::login(broker.addr, "a");
        let info = a.req("$JS.API.INFO", "");
        assert_eq!(info["limits"]["max_streams"], -1, "{info}");
        assert_eq!(info["limits"]["max_storage"], -1, "{info}");
        assert_eq!(info["streams"], 0, "{info}");
    }
);

both!(
    /// `max_bytes_required` and the per-stream cap, and the account info after, in the steps
    /// of upstream nats.py's AccountLimitsTest (v2.9.0 tests/test_js.py; its config adds a
    /// JetStream domain and a user without password, which Sluice does not serve).
    fn max_bytes_required_and_stream_cap(kind) {
        let store = StoreDir::new("jsacct-maxbytes");
        let broker = start(kind, &write_conf(&store, ""));
        let mut e = User::login(broker.addr, "e");
        assert_error(
            &e.create(json!({"name": "limits", "subjects": ["limits"]})),
            400,
            10113,
            "account requires a stream config to have max bytes set",
        );
        assert_error(
            &e.create(json!({"name": "limits", "subjects": ["limits"], "max_bytes": 65536})),
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        );
        let si = e.create(json!({"name": "limits", "subjects": ["limits"], "max_bytes": 128}));
        assert_eq!(si["config"]["max_bytes"], 128, "{si}");
        // The rest of nats.py's test_account_limits: usage, limits and API counts.
        e.req("limits", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let si = e.req("$JS.API.STREAM.INFO.limits", "");
        assert_eq!(si["state"]["messages"], 1, "{si}");
        for _ in 0..5 {
            e.req("limits", "A");
        }
        let info = e.req("$JS.API.INFO", "");
        assert_eq!(
            info["limits"],
            json!({"max_memory": -1, "max_storage": -1, "max_streams": -1,
                "max_consumers": -1, "max_ack_pending": 100, "memory_max_stream_bytes": -1,
                "storage_max_stream_bytes": 4096, "max_bytes_required": true}),
            "{info}"
        );
        assert_eq!(info["storage"], 111, "{info}");
        assert_eq!(info["memory"], 0, "{info}");
        assert_eq!((&info["streams"], &info["consumers"]), (&json!(1), &json!(0)));
        assert_eq!(info["api"], json!({"total": 4, "errors": 2}), "{info}");
        let si = e.req("$JS.API.STREAM.INFO.limits", "");
        assert_eq!(si["state"]["messages"], 3, "{si}");
        // The account's max_ack_pending: a consumer's default, and its ceiling.
        let consumer = |name: &str, extra: Value| {
            let mut config = json!({"durable_name": name, "ack_policy": "explicit"});
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({"stream_name": "limits", "config": config}).to_string()
        };
        let c = e.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.limits.C1",
            &consumer("C1", json!({})),
        );
        assert_eq!(c["config"]["max_ack_pending"], 100, "{c}");
        let c = e.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.limits.C2",
            &consumer("C2", json!({"max_ack_pending": 200})),
        );
        assert_eq!(c["error"]["err_code"], 10121, "{c}");
    }
);

both!(
    /// The server's max_file_store / max_memory_store bound the streams' reservations across
    /// accounts.
    fn server_limits_bound_every_account(kind) {
        let store = StoreDir::new("jsacct-server");
        let conf = write_conf(&store, "max_file_store: 20000, max_memory_store: 20000");
        let broker = start(kind, &conf);
        let mut a = User::login(broker.addr, "a");
        let mut b = User::login(broker.addr, "b");
        assert_ok(&a.create(json!({"name": "A1", "subjects": ["a1"], "max_bytes": 15000})));
        assert_error(
            &b.create(json!({"name": "B1", "subjects": ["b1"], "max_bytes": 6000})),
            500,
            10047,
            "insufficient storage resources available",
        );
        assert_ok(&b.create(json!({"name": "B1", "subjects": ["b1"], "max_bytes": 5000})));
        assert_ok(&a.create(json!({"name": "AM", "subjects": ["am"], "storage": "memory",
            "max_bytes": 19000})));
        assert_error(
            &a.create(json!({"name": "AM2", "subjects": ["am2"], "storage": "memory",
                "max_bytes": 1001})),
            500,
            10028,
            "insufficient memory resources available",
        );
        // The server is fully reserved (B's own limit would allow 5000 more) ...
        let b2 = json!({"name": "B2", "subjects": ["b2"], "max_bytes": 5000});
        assert_error(
            &b.create(b2.clone()),
            500,
            10047,
            "insufficient storage resources available",
        );
        // ... until a delete in another account frees some.
        assert_ok(&a.req("$JS.API.STREAM.DELETE.A1", ""));
        assert_ok(&b.create(b2));
    }
);

both!(
    /// Each account's file streams and messages come back after a restart, in that account.
    fn a_restart_keeps_each_accounts_streams(kind) {
        let store = StoreDir::new("jsacct-restart");
        let conf = write_conf(&store, "");
        let mut broker = start(kind, &conf);
        {
            let mut a = User::login(broker.addr, "a");
            let mut b = User::login(broker.addr, "b");
            assert_ok(&a.create(json!({"name": "S", "subjects": ["s"]})));
            assert_ok(&a.create(json!({"name": "A2", "subjects": ["a2"]})));
            assert_ok(&b.create(json!({"name": "S", "subjects": ["s"], "max_bytes": 1000})));
            for _ in 0..3 {
                assert_eq!(a.req("s", "x")["stream"], "S");
            }
            assert_eq!(b.req("s", "y")["stream"], "S");
        }
        assert!(broker.terminate(Duration::from_secs(10)).is_some());
        drop(broker);
        let broker = start(kind, &conf);
        let mut a = User::login(broker.addr, "a");
        let mut b = User::login(broker.addr, "b");
        assert_eq!(a.names(), json!(["A2", "S"]));
        assert_eq!(b.names(), json!(["S"]));
        let info = a.req("$JS.API.STREAM.INFO.S", "");
        assert_eq!(info["state"]["messages"], 3, "{info}");
        let info = b.req("$JS.API.STREAM.INFO.S", "");
        assert_eq!(info["state"]["messages"], 1, "{info}");
        // B's reservation came back with its stream: 10000 - 1000 left.
        assert_error(
            &b.create(json!({"name": "T", "subjects": ["t"], "max_bytes": 9001})),
            500,
            10047,
            "insufficient storage resources available",
        );
    }
);

/// A message of 50 bytes on subject `f`, as nats-server's file store counts it: 22 + 1 + 50 +
/// 8 = 81 bytes.
const FIFTY: &str = "01234567890123456789012345678901234567890123456789";

both!(
    /// A publish after which the account would store more than its max_file is refused with
    /// 10002 and not kept.
    fn a_full_account_refuses_publishes(kind) {
        let store = StoreDir::new("jsacct-full");
        let broker = start(kind, &write_conf(&store, ""));
        let mut f = User::login(broker.addr, "f");
        assert_ok(&f.create(json!({"name": "F", "subjects": ["f"]})));
        for seq in 1..=2 {
            assert_eq!(f.req("f", FIFTY)["seq"], seq);
        }
        let refused = f.req("f", FIFTY);
        assert_error(&refused, 400, 10002, "resource limits exceeded for account");
        assert_eq!(refused["stream"], "F", "{refused}");
        let info = f.req("$JS.API.STREAM.INFO.F", "");
        assert_eq!(info["state"]["messages"], 2, "{info}");
        assert_eq!(info["state"]["bytes"], 162, "{info}");
        let account = f.req("$JS.API.INFO", "");
        assert_eq!(account["storage"], 162, "{account}");
        // A smaller message still fits (162 + 22 + 1 + 1 + 8 = 194).
        let ack = f.req("f", "x");
        assert!(ack.get("error").is_none(), "{ack}");
        // Purged, the account has room again.
        assert_ok(&f.req("$JS.API.STREAM.PURGE.F", ""));
        let ack = f.req("f", FIFTY);
        assert!(ack.get("error").is_none(), "{ack}");
    }
);

both!(
    /// Once the server stores more than its max_file_store, publishes get 10023 (the one
    /// that goes over is stored: nats-server checks before storing).
    fn a_full_server_refuses_publishes(kind) {
        let store = StoreDir::new("jsacct-server-full");
        let conf = store.path().join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "jetstream {{ store_dir: {:?}, max_file_store: 200 }}\n\
                 accounts {{ A: {{ users: [ {{user: a, password: apw}} ], jetstream: enabled }} }}\n",
                store.as_str()
            ),
        )
        .unwrap();
        let broker = start(kind, &conf);
        let mut a = User::login(broker.addr, "a");
        assert_ok(&a.create(json!({"name": "S", "subjects": ["s"]})));
        for seq in 1..=3 {
            assert_eq!(a.req("s", FIFTY)["seq"], seq);
        }
        let refused = a.req("s", FIFTY);
        assert_error(&refused, 503, 10023, "insufficient resources");
        let info = a.req("$JS.API.STREAM.INFO.S", "");
        assert_eq!(info["state"]["messages"], 3, "{info}");
    }
);

both!(
    /// Accounts whose limits add up to more than the server's stop it at startup.
    fn accounts_over_the_server_limits_stop_startup(kind) {
        let store = StoreDir::new("jsacct-startup");
        let conf = write_conf(&store, "max_file_store: 5000");
        let out = integration_tests::command(kind, &["-c", conf.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(
                "Error enabling jetstream on configured accounts: insufficient storage resources \
                 available (10047)"
            ),
            "{log}"
        );
    }
);

both!(
    /// `jetstream { domain }`: the API answers under `$JS.<domain>.API` too, and account info
    /// and publish acks name the domain (nats.py's AccountLimitsTest uses both).
    fn a_domain_prefixes_the_api_and_is_named_in_acks_and_info(kind) {
        let store = StoreDir::new("jsacct-domain");
        let conf = store.path().join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "jetstream {{ store_dir: {:?}, domain: hub }}\n\
                 accounts {{ A: {{ users: [ {{user: a, password: apw}} ], jetstream: enabled }} }}\n",
                store.as_str()
            ),
        )
        .unwrap();
        let broker = start(kind, &conf);
        let mut a = User::login(broker.addr, "a");
        let info = a.req("$JS.hub.API.INFO", "");
        assert_eq!(info["domain"], "hub", "{info}");
        assert_eq!(a.req("$JS.API.INFO", "")["domain"], "hub");
        let created = a.req(
            "$JS.hub.API.STREAM.CREATE.S",
            &json!({"name": "S", "subjects": ["s.>"]}).to_string(),
        );
        assert_ok(&created);
        let ack = a.req("s.x", "hi");
        assert_eq!(ack, json!({"stream": "S", "domain": "hub", "seq": 1}), "{ack}");
        let si = a.req("$JS.hub.API.STREAM.INFO.S", "");
        assert_eq!(si["state"]["messages"], 1, "{si}");
        // Another domain's prefix is nobody's.
        let names = a.req("$JS.API.STREAM.NAMES", "");
        assert_eq!(names["streams"], json!(["S"]));
    }
);
