//! proptest strategies for random ops of both directions.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sluice_protocol::{ByteStr, ClientOp, ConnectInfo, HeaderMap, ServerInfo, ServerOp};

/// One subject/reply/queue/sid token: never empty, never a blank, CR or LF (SUB, UNSUB, MSG
/// and HMSG split on CR too). Mostly plain ASCII, but also non-ASCII UTF-8, wildcards and
/// control bytes.
pub fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9_.$-]{1,24}",
        2 => "[a-z0-9.*>]{1,8}",
        2 => "[a-zé日本語🦀ü.]{1,10}",
        1 => "[a-z\x01\x7f.]{1,6}",
    ]
}

/// A PUB/HPUB subject or reply: as [`word`], but a CR may be part of it (PUB and HPUB split on
/// blanks only).
pub fn pub_word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => word(),
        1 => "[a-z\r.]{1,6}",
    ]
}

pub fn bstr() -> impl Strategy<Value = ByteStr> {
    word().prop_map(ByteStr::from)
}

pub fn pub_bstr() -> impl Strategy<Value = ByteStr> {
    pub_word().prop_map(ByteStr::from)
}

/// An UNSUB max that survives the wire: nats-server reads at most nine digits.
pub fn unsub_max() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..10, 0u64..=999_999_999]
}

/// Payload bytes, rich in CR and LF.
pub fn payload() -> impl Strategy<Value = Bytes> {
    let byte = prop_oneof![4 => any::<u8>(), 1 => Just(b'\r'), 1 => Just(b'\n')];
    prop_oneof![
        1 => Just(Vec::new()),
        6 => vec(byte.clone(), 0..64),
        1 => vec(byte, 64..2048),
    ]
    .prop_map(Bytes::from)
}

/// A header key: what `HeaderMap::append` accepts.
pub fn header_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z][A-Za-z0-9-]{0,20}",
        1 => "[!-9;-~é日]{1,8}",
    ]
}

/// A header value: no CR/LF, no blank at either end.
pub fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        4 => "[!-~]([ -~]{0,30}[!-~])?",
        1 => "[a-zé日\u{3000}:]([a-zé日 \t\u{3000}:]{0,8}[a-zé日\u{3000}:])?",
    ]
}

/// A random header map built through the public API.
pub fn header_map() -> impl Strategy<Value = HeaderMap> {
    (
        option::of((
            100u16..=999,
            option::of("[A-Za-z]([A-Za-z ]{0,20}[A-Za-z])?"),
        )),
        vec((header_key(), header_value()), 0..6),
    )
        .prop_map(|(status, entries)| {
            let mut h = match status {
                Some((code, desc)) => HeaderMap::with_status(code, desc.as_deref()),
                None => HeaderMap::new(),
            };
            for (k, v) in entries {
                h.append(&k, &v).expect("generated entries are valid");
            }
            h
        })
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    option::of(prop_oneof!["[ -~]{0,16}", "[a-zé日\"\\\\\n\t\u{0}🦀]{0,8}"])
}

pub fn connect_info() -> impl Strategy<Value = ConnectInfo> {
    (
        (
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            any::<bool>(),
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
        ),
        (
            opt_string(),
            option::of(any::<i64>()),
            option::of(any::<bool>()),
            opt_string(),
            opt_string(),
            opt_string(),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
        ),
        (opt_string(), option::of(any::<bool>())),
    )
        .prop_map(
            |(
                (verbose, pedantic, tls_required, auth_token, user, pass, name, lang),
                (version, protocol, echo, sig, jwt, nkey, headers, no_responders),
                (account, new_account),
            )| ConnectInfo {
                verbose,
                pedantic,
                tls_required,
                auth_token,
                user,
                pass,
                name,
                lang,
                version,
                protocol,
                echo,
                sig,
                jwt,
                nkey,
                headers,
                no_responders,
                account,
                new_account,
            },
        )
}

/// Keys that are not `ServerInfo` fields, so they land in `extra`.
fn extra_key() -> impl Strategy<Value = String> {
    "x_[a-z_]{1,10}"
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "[ -~é]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            vec(("[a-z]{1,4}", inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

pub fn server_info() -> impl Strategy<Value = ServerInfo> {
    (
        (
            "[A-Z0-9]{1,56}",
            "[a-z0-9-]{0,20}",
            "[0-9]\\.[0-9]{1,2}\\.[0-9]{1,2}",
            any::<i64>(),
            option::of("go1\\.[0-9]{2}"),
            "[a-z0-9.:]{0,15}",
            any::<u16>(),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
            any::<bool>(),
            option::of(any::<u64>()),
            option::of("[0-9.:]{1,15}"),
            option::of("[A-Za-z0-9_-]{1,22}"),
            option::of(vec("[a-z0-9.:]{1,20}", 0..3)),
        ),
        (
            any::<bool>(),
            option::of("[0-9.]{1,8}"),
            vec((extra_key(), json_value()), 0..3),
        ),
    )
        .prop_map(
            |(
                (server_id, server_name, version, proto, go, host, port, headers),
                (
                    auth_required,
                    tls_required,
                    max_payload,
                    jetstream,
                    client_id,
                    client_ip,
                    nonce,
                    connect_urls,
                ),
                (ldm, sluice_version, extra),
            )| ServerInfo {
                server_id,
                server_name,
                version,
                proto,
                go,
                host,
                port,
                headers,
                auth_required,
                tls_required,
                max_payload,
                jetstream,
                client_id,
                client_ip,
                nonce,
                connect_urls,
                ldm,
                sluice_version,
                extra: extra.into_iter().collect(),
            },
        )
}

pub fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        1 => connect_info().prop_map(|c| ClientOp::Connect(Box::new(c))),
        6 => (pub_bstr(), option::of(pub_bstr()), payload())
            .prop_map(|(subject, reply, payload)| ClientOp::Pub { subject, reply, payload }),
        3 => (pub_bstr(), option::of(pub_bstr()), header_map(), payload()).prop_map(
            |(subject, reply, h, payload)| ClientOp::Hpub {
                subject,
                reply,
                headers: h.to_bytes(),
                payload,
            }
        ),
        3 => (bstr(), option::of(bstr()), bstr())
            .prop_map(|(subject, queue, sid)| ClientOp::Sub { subject, queue, sid }),
        2 => (bstr(), option::of(unsub_max())).prop_map(|(sid, max)| ClientOp::Unsub { sid, max }),
        1 => Just(ClientOp::Ping),
        1 => Just(ClientOp::Pong),
    ]
}

/// An `-ERR` text: no CR or LF (the op is one line), anything else, quotes included.
pub fn err_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        "['\" \ta-zé日]{0,12}",
        Just("Permissions Violation for Publish to \"foo\"".to_string()),
    ]
}

pub fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        1 => server_info().prop_map(|i| ServerOp::Info(Box::new(i))),
        6 => (bstr(), bstr(), option::of(bstr()), payload())
            .prop_map(|(subject, sid, reply, payload)| ServerOp::Msg { subject, sid, reply, payload }),
        3 => (bstr(), bstr(), option::of(bstr()), header_map(), payload()).prop_map(
            |(subject, sid, reply, h, payload)| ServerOp::Hmsg {
                subject,
                sid,
                reply,
                headers: h.to_bytes(),
                payload,
            }
        ),
        1 => Just(ServerOp::Ok),
        1 => err_text().prop_map(ServerOp::Err),
        1 => Just(ServerOp::Ping),
        1 => Just(ServerOp::Pong),
    ]
}
