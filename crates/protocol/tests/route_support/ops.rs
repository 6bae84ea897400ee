//! proptest strategies for random route ops.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sluice_protocol::route::{QueueWeight, RouteConnect, RouteInfo, RouteOp, SubjectPermission};
use sluice_protocol::ByteStr;

/// An account/subject/reply/queue/origin token: never empty, never a space, tab, CR or LF.
/// Mostly plain, but also the marker characters, wildcards, non-ASCII and control bytes.
pub fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9_.$-]{1,24}",
        2 => "[a-z0-9.*>+|]{1,8}",
        1 => Just("+".to_string()),
        1 => Just("|".to_string()),
        2 => "[a-zé日本語🦀ü.]{1,10}",
        1 => "[a-z\x01\x7f.]{1,6}",
    ]
}

pub fn bstr() -> impl Strategy<Value = ByteStr> {
    word().prop_map(ByteStr::from)
}

pub fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    let byte = prop_oneof![4 => any::<u8>(), 1 => Just(b'\r'), 1 => Just(b'\n')];
    vec(byte, 0..max).prop_map(Bytes::from)
}

pub fn queue_weight() -> impl Strategy<Value = QueueWeight> {
    (bstr(), prop_oneof![1u32..10, 0u32..=999_999_999])
        .prop_map(|(queue, weight)| QueueWeight { queue, weight })
}

fn queues() -> impl Strategy<Value = Vec<ByteStr>> {
    prop_oneof![2 => Just(Vec::new()), 2 => vec(bstr(), 1..4), 1 => vec(bstr(), 4..24)]
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.:, -]{0,16}"
}

fn urls() -> impl Strategy<Value = Option<Vec<String>>> {
    option::of(vec("[a-z0-9.:]{1,20}", 0..3))
}

pub fn route_info() -> impl Strategy<Value = RouteInfo> {
    (
        (
            text(),
            text(),
            text(),
            0i64..4,
            text(),
            text(),
            any::<u16>(),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            0i64..(1 << 26),
            text(),
            text(),
            text(),
            any::<bool>(),
        ),
        (urls(), option::of(permission()), any::<bool>(), urls()),
        vec(("x_[a-z]{1,6}", text()), 0..3),
    )
        .prop_map(|(a, b, c, extra)| {
            let (server_id, server_name, version, proto, go, host, port, headers) = a;
            let (auth_required, max_payload, ip, nonce, cluster, ldm) = b;
            let (connect_urls, import, lnoc, leafnode_urls) = c;
            RouteInfo {
                server_id,
                server_name,
                version,
                proto,
                go,
                host,
                port,
                headers,
                auth_required,
                max_payload,
                ip,
                nonce,
                cluster,
                ldm,
                connect_urls,
                import,
                lnoc,
                leafnode_urls,
                extra: extra
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
                ..RouteInfo::default()
            }
        })
}

fn permission() -> impl Strategy<Value = SubjectPermission> {
    (option::of(vec(word(), 0..3)), option::of(vec(word(), 0..3)))
        .prop_map(|(allow, deny)| SubjectPermission { allow, deny })
}

pub fn route_connect() -> impl Strategy<Value = RouteConnect> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (text(), text(), text(), text()),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(|(a, b, c)| RouteConnect {
            echo: a.0,
            verbose: a.1,
            pedantic: a.2,
            tls_required: a.3,
            user: b.0,
            pass: b.1,
            name: b.2,
            cluster: b.3,
            headers: c.0,
            lnoc: c.1,
            ..RouteConnect::default()
        })
}

pub fn route_op() -> impl Strategy<Value = RouteOp> {
    prop_oneof![
        1 => route_info().prop_map(|i| RouteOp::Info(Box::new(i))),
        1 => route_connect().prop_map(|c| RouteOp::Connect(Box::new(c))),
        1 => Just(RouteOp::Ping),
        1 => Just(RouteOp::Pong),
        1 => Just(RouteOp::Ok),
        1 => "[ -~]{0,30}".prop_map(RouteOp::Err),
        3 => (bstr(), bstr(), option::of(queue_weight()))
            .prop_map(|(account, subject, queue)| RouteOp::Sub { account, subject, queue }),
        2 => (bstr(), bstr(), option::of(bstr()))
            .prop_map(|(account, subject, queue)| RouteOp::Unsub { account, subject, queue }),
        1 => (bstr(), bstr(), bstr(), option::of(queue_weight())).prop_map(
            |(origin, account, subject, queue)| RouteOp::LeafSub { origin, account, subject, queue }
        ),
        1 => (bstr(), bstr(), option::of(bstr())).prop_map(
            |(account, subject, queue)| RouteOp::LeafUnsub { account, subject, queue }
        ),
        5 => (bstr(), bstr(), option::of(bstr()), queues(), bytes(300)).prop_map(
            |(account, subject, reply, queues, payload)| RouteOp::Msg {
                account, subject, reply, queues, payload
            }
        ),
        3 => (bstr(), bstr(), option::of(bstr()), queues(), bytes(60), bytes(100)).prop_map(
            |(account, subject, reply, queues, headers, payload)| RouteOp::Hmsg {
                account, subject, reply, queues, headers, payload
            }
        ),
        2 => (bstr(), bstr(), bstr(), option::of(bstr()), queues(), bytes(60), bytes(100))
            .prop_map(|(origin, account, subject, reply, queues, headers, payload)| {
                RouteOp::Lmsg { origin, account, subject, reply, queues, headers, payload }
            }),
    ]
}
