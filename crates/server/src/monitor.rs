//! HTTP monitoring (`-m PORT`): nats-server's endpoints with its JSON field names, and
//! `/metrics` in Prometheus text format.
//!
//! Served by axum on the server's tokio runtime. Every handler reads counters and snapshots
//! taken under short locks (the connection registry, one connection's sid table); nothing
//! here touches the publish path. JetStream's numbers come from whatever the stream layer
//! registers through [`crate::ServerHandle::set_jetstream_monitor`]: this crate does not know
//! about streams.

use crate::handle::ClientHandle;
use crate::js_monitor::{JetStreamLimits, JetStreamStats};
use crate::shared::Shared;
use crate::stats::{unix_nanos, Totals};
use crate::{ServerHandle, NATS_COMPAT_VERSION};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A bound monitoring listener, ready to serve.
pub struct Monitor {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Monitor {
    /// Binds `host:port` (port 0 picks a free one).
    pub async fn bind(server: &ServerHandle, host: &str, port: u16) -> std::io::Result<Monitor> {
        let listener = TcpListener::bind((host, port)).await?;
        let _ = server.shared.http_addr.set(listener.local_addr()?);
        Ok(Monitor {
            listener,
            shared: server.shared.clone(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let app = Router::new()
            .route("/", get(root))
            .route("/varz", get(varz))
            .route("/connz", get(connz))
            .route("/subsz", get(subsz))
            .route("/subscriptionsz", get(subsz))
            .route("/routez", get(routez))
            .route("/accountz", get(accountz))
            .route("/jsz", get(jsz))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(self.shared);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

type St = State<Arc<Shared>>;
type Params = Query<HashMap<String, String>>;

/// Pretty JSON, as nats-server answers.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let text = serde_json::to_string_pretty(body).expect("monitoring JSON serializes");
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.Time` marshals.
pub(crate) fn rfc3339(unix_ns: u64) -> String {
    chrono::DateTime::from_timestamp_nanos(unix_ns as i64)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// nats-server's uptime format: `1d2h3m4s`, `5m0s`, `0s`.
fn uptime(ns: u64) -> String {
    let mut s = ns / 1_000_000_000;
    let days = s / 86_400;
    s %= 86_400;
    let (hours, mins, secs) = (s / 3600, s % 3600 / 60, s % 60);
    if days > 0 {
        format!("{days}d{hours}h{mins}m{secs}s")
    } else if hours > 0 {
        format!("{hours}h{mins}m{secs}s")
    } else if mins > 0 {
        format!("{mins}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// The JetStream stats, off the runtime (the stream layer may wait for its writers).
async fn js_stats(shared: &Arc<Shared>, detail: bool) -> Option<(JetStreamLimits, JetStreamStats)> {
    let (limits, source) = {
        let reg = shared.jetstream_monitor.read();
        let reg = reg.as_ref()?;
        (reg.limits.clone(), reg.source.clone())
    };
    let stats = tokio::task::spawn_blocking(move || source.stats(detail))
        .await
        .ok()?;
    Some((limits, stats))
}

/// Messages and bytes in and out since start: closed connections plus open ones.
pub(crate) fn totals(shared: &Shared, conns: &[Arc<ClientHandle>]) -> Totals {
    let mut t = shared.stats.closed_totals();
    for c in conns {
        t += c.stats.totals();
    }
    t
}

async fn root() -> Response {
    let body = "sluice monitoring: /varz /connz /subsz /routez /accountz /jsz /healthz /metrics\n";
    ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

#[derive(Serialize)]
struct JsConfigJson {
    max_memory: i64,
    max_storage: i64,
    store_dir: String,
}

#[derive(Serialize)]
struct ApiJson {
    total: u64,
    errors: u64,
}

#[derive(Serialize)]
struct JsVarzStats {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: ApiJson,
}

#[derive(Serialize)]
struct JsVarz {
    config: JsConfigJson,
    stats: JsVarzStats,
}

#[derive(Serialize)]
struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    sluice_version: &'static str,
    proto: u32,
    host: String,
    port: u16,
    max_connections: usize,
    ping_interval: u128,
    ping_max: u32,
    http_host: String,
    http_port: u16,
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    jetstream: Option<JsVarz>,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    connections: usize,
    total_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<serde_json::Value>,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
}

/// Resident set size in bytes (Linux: /proc/self/statm), 0 where unknown.
pub(crate) fn resident_memory() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn js_api(stats: &JetStreamStats) -> ApiJson {
    ApiJson {
        total: stats.api_total,
        errors: stats.api_errors,
    }
}

fn js_config(limits: &JetStreamLimits) -> JsConfigJson {
    JsConfigJson {
        max_memory: limits.max_memory,
        max_storage: limits.max_storage,
        store_dir: limits.store_dir.clone(),
    }
}

async fn varz(State(shared): St) -> Response {
    let conns = shared.connections();
    let t = totals(&shared, &conns);
    let now = unix_nanos();
    let js = js_stats(&shared, false).await.map(|(limits, s)| JsVarz {
        config: js_config(&limits),
        stats: JsVarzStats {
            memory: s.memory,
            storage: s.storage,
            reserved_memory: s.reserved_memory,
            reserved_storage: s.reserved_storage,
            accounts: s.accounts,
            ha_assets: 0,
            api: js_api(&s),
        },
    });
    let c = &shared.config;
    let http = shared.http_addr.get().copied();
    let body = Varz {
        server_id: shared.server_id.clone(),
        server_name: c
            .server_name
            .clone()
            .unwrap_or_else(|| shared.server_id.clone()),
        version: NATS_COMPAT_VERSION,
        sluice_version: crate::SLUICE_VERSION,
        proto: 1,
        host: c.host.clone(),
        port: shared.port,
        max_connections: shared.limits.max_connections(),
        ping_interval: shared.limits.ping_interval().as_nanos(),
        ping_max: shared.limits.max_pings_out(),
        http_host: http.map_or_else(String::new, |a| a.ip().to_string()),
        http_port: http.map_or(0, |a| a.port()),
        auth_timeout: shared.limits.auth_timeout().as_secs_f64(),
        max_control_line: shared.limits.max_control_line(),
        max_payload: shared.limits.max_payload(),
        max_pending: shared.limits.max_pending(),
        jetstream: js,
        write_deadline: shared.limits.write_deadline().as_nanos(),
        start: rfc3339(shared.start_ns),
        now: rfc3339(now),
        uptime: uptime(now.saturating_sub(shared.start_ns)),
        mem: resident_memory(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        connections: conns.len(),
        total_connections: shared
            .stats
            .total_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        cluster: crate::routez::varz_cluster(&shared),
        routes: crate::routez::num_routes(&shared),
        remotes: crate::routez::num_routes(&shared),
        leafnodes: 0,
        in_msgs: t.in_msgs,
        out_msgs: t.out_msgs,
        in_bytes: t.in_bytes,
        out_bytes: t.out_bytes,
        slow_consumers: shared
            .stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        subscriptions: shared.sub_count(),
    };
    json(StatusCode::OK, &body)
}

#[derive(Serialize)]
struct SubDetail {
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<String>,
    sid: String,
    msgs: u64,
    cid: u64,
}

#[derive(Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
}

#[derive(Serialize)]
struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

/// nats-server's default `limit` for /connz.
const DEFAULT_CONN_LIST: usize = 1024;

/// One connection's row, with the numbers sorting needs.
struct Row {
    handle: Arc<ClientHandle>,
    totals: Totals,
    subs: usize,
    pending: usize,
    last: u64,
}

fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "detail"))
}

fn number(params: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, String> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("Invalid {key}: {v}")),
    }
}

async fn connz(State(shared): St, Query(params): Params) -> Response {
    let subs_mode = params.get("subs").map(String::as_str);
    let (list, detail) = match subs_mode {
        Some("detail") => (false, true),
        _ => (flag(&params, "subs"), false),
    };
    let offset = match number(&params, "offset", 0) {
        Ok(n) => n,
        Err(e) => return bad_request(e),
    };
    let limit = match number(&params, "limit", DEFAULT_CONN_LIST) {
        Ok(0) => DEFAULT_CONN_LIST,
        Ok(n) => n,
        Err(e) => return bad_request(e),
    };
    let sort = params.get("sort").map_or("cid", String::as_str);
    let mut rows: Vec<Row> = shared
        .connections()
        .into_iter()
        .map(|handle| {
            let subs = handle.subs.lock().len();
            Row {
                totals: handle.stats.totals(),
                subs,
                pending: handle.out.pending(),
                last: handle
                    .stats
                    .last_activity_ns
                    .load(std::sync::atomic::Ordering::Relaxed),
                handle,
            }
        })
        .collect();
    // As nats-server: cid and start ascending, everything else descending (biggest first);
    // idle: longest idle first.
    let key: fn(&Row) -> u64 = match sort {
        "cid" | "start" | "uptime" => |r| r.handle.id,
        "subs" => |r| r.subs as u64,
        "pending" => |r| r.pending as u64,
        "msgs_to" => |r| r.totals.out_msgs,
        "msgs_from" => |r| r.totals.in_msgs,
        "bytes_to" => |r| r.totals.out_bytes,
        "bytes_from" => |r| r.totals.in_bytes,
        "last" => |r| r.last,
        "idle" => |r| u64::MAX - r.last,
        other => return bad_request(format!("Invalid sorting option: {other}")),
    };
    rows.sort_by_key(|r| r.handle.id);
    if !matches!(sort, "cid" | "start" | "uptime") {
        // Stable: ties stay in cid order. (Longest uptime first is cid order already.)
        rows.sort_by_key(|r| std::cmp::Reverse(key(r)));
    }
    let total = rows.len();
    let now = unix_nanos();
    let connections: Vec<ConnInfo> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            let s = &r.handle.stats;
            let meta = s.meta.lock().clone();
            let (subscriptions_list, subscriptions_list_detail) = if list || detail {
                let mut subs: Vec<_> = r.handle.subs.lock().values().cloned().collect();
                subs.sort_by(|a, b| a.sid.cmp(&b.sid));
                if detail {
                    let d = subs
                        .iter()
                        .map(|sub| SubDetail {
                            subject: sub.subject.to_string(),
                            qgroup: sub.queue.as_ref().map(|q| q.to_string()),
                            sid: sub.sid.to_string(),
                            msgs: sub.delivered(),
                            cid: r.handle.id,
                        })
                        .collect();
                    (None, Some(d))
                } else {
                    let l = subs.iter().map(|sub| sub.subject.to_string()).collect();
                    (Some(l), None)
                }
            } else {
                (None, None)
            };
            ConnInfo {
                cid: r.handle.id,
                kind: "Client",
                kind_type: "nats",
                ip: s.peer.ip().to_string(),
                port: s.peer.port(),
                start: rfc3339(s.start_ns),
                last_activity: rfc3339(r.last),
                uptime: uptime(now.saturating_sub(s.start_ns)),
                idle: uptime(now.saturating_sub(r.last)),
                pending_bytes: r.pending,
                in_msgs: r.totals.in_msgs,
                out_msgs: r.totals.out_msgs,
                in_bytes: r.totals.in_bytes,
                out_bytes: r.totals.out_bytes,
                subscriptions: r.subs,
                name: meta.name,
                lang: meta.lang,
                version: meta.version,
                account: meta.account,
                subscriptions_list,
                subscriptions_list_detail,
            }
        })
        .collect();
    let body = Connz {
        server_id: shared.server_id.clone(),
        now: rfc3339(now),
        num_connections: connections.len(),
        total,
        offset,
        limit,
        connections,
    };
    json(StatusCode::OK, &body)
}

#[derive(Serialize)]
struct Subsz {
    num_subscriptions: usize,
    num_cache: usize,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
}

async fn subsz(State(shared): St) -> Response {
    // Summed over the accounts' registries.
    let (mut count, mut cache, mut inserts, mut removes) = (0, 0, 0, 0);
    for a in shared.accounts() {
        let s = &a.sublist;
        count += s.count();
        cache += s.cached_subjects();
        inserts += s.inserts();
        removes += s.removes();
    }
    let body = Subsz {
        num_subscriptions: count,
        num_cache: cache,
        num_inserts: inserts,
        num_removes: removes,
        // Not counted: a shared counter per routed message would cost the hot path.
        num_matches: 0,
        cache_hit_rate: 0.0,
        max_fanout: 0,
        avg_fanout: 0.0,
    };
    json(StatusCode::OK, &body)
}

async fn accountz(State(shared): St, Query(q): Params) -> Response {
    let now = rfc3339(unix_nanos());
    match crate::accountz::accountz(&shared, now, q.get("acc").map(String::as_str)) {
        Ok(body) => json(StatusCode::OK, &body),
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": { "code": 400, "description": e } }),
        ),
    }
}

async fn routez(State(shared): St) -> Response {
    let body = crate::routez::routez(&shared, rfc3339(unix_nanos()), rfc3339);
    json(StatusCode::OK, &body)
}

#[derive(Serialize)]
struct Jsz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<JsConfigJson>,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: ApiJson,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta_cluster: Option<crate::js_monitor::MetaCluster>,
    /// This server's Raft groups (a Sluice extension, when clustered).
    #[serde(skip_serializing_if = "Option::is_none")]
    raft: Option<crate::js_monitor::RaftStats>,
}

async fn jsz(State(shared): St) -> Response {
    let now = rfc3339(unix_nanos());
    let body = match js_stats(&shared, false).await {
        Some((limits, s)) => Jsz {
            server_id: shared.server_id.clone(),
            now,
            disabled: false,
            config: Some(js_config(&limits)),
            memory: s.memory,
            storage: s.storage,
            reserved_memory: s.reserved_memory,
            reserved_storage: s.reserved_storage,
            accounts: s.accounts,
            ha_assets: s.raft.as_ref().map_or(0, |r| r.streams.len() as u64),
            api: js_api(&s),
            streams: s.streams,
            consumers: s.consumers,
            messages: s.messages,
            bytes: s.bytes,
            meta_cluster: s.meta.clone(),
            raft: s.raft.clone(),
        },
        // As nats-server without JetStream: `disabled: true` and zeros.
        None => Jsz {
            server_id: shared.server_id.clone(),
            now,
            disabled: true,
            config: None,
            memory: 0,
            storage: 0,
            reserved_memory: 0,
            reserved_storage: 0,
            accounts: 0,
            ha_assets: 0,
            api: ApiJson {
                total: 0,
                errors: 0,
            },
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            meta_cluster: None,
            raft: None,
        },
    };
    json(StatusCode::OK, &body)
}

async fn healthz(State(shared): St) -> Response {
    if shared.config.jetstream && shared.jetstream_monitor.read().is_none() {
        let body = serde_json::json!({
            "status": "unavailable",
            "error": "JetStream is enabled but not started yet",
        });
        return json(StatusCode::SERVICE_UNAVAILABLE, &body);
    }
    json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

type Labels = Vec<(String, String)>;

async fn metrics(State(shared): St) -> Response {
    let conns = shared.connections();
    let t = totals(&shared, &conns);
    let js = js_stats(&shared, true).await;
    let mut reg = Registry::with_prefix("sluice");
    let gauge = |reg: &mut Registry, name: &str, help: &str, v: u64| {
        let g = Gauge::<i64>::default();
        g.set(v as i64);
        reg.register(name, help, g);
    };
    let counter = |reg: &mut Registry, name: &str, help: &str, v: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        reg.register(name, help, c);
    };
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    gauge(
        &mut reg,
        "connections",
        "Open client connections",
        conns.len() as u64,
    );
    counter(
        &mut reg,
        "connections_accepted",
        "Client connections accepted since start",
        shared.stats.total_connections.load(relaxed),
    );
    gauge(
        &mut reg,
        "subscriptions",
        "Subscriptions in the router",
        shared.sub_count() as u64,
    );
    counter(
        &mut reg,
        "in_msgs",
        "Messages received from clients",
        t.in_msgs,
    );
    counter(
        &mut reg,
        "out_msgs",
        "Messages delivered to clients",
        t.out_msgs,
    );
    counter(
        &mut reg,
        "in_bytes",
        "Payload bytes received from clients",
        t.in_bytes,
    );
    counter(
        &mut reg,
        "out_bytes",
        "Payload bytes delivered to clients",
        t.out_bytes,
    );
    counter(
        &mut reg,
        "slow_consumers",
        "Connections closed as slow consumers",
        shared.stats.slow_consumers.load(relaxed),
    );
    if shared.cluster.is_some() {
        let (n, in_msgs, out_msgs, in_bytes, out_bytes) = crate::routez::route_totals(&shared);
        gauge(&mut reg, "routes", "Established routes to other servers", n);
        counter(
            &mut reg,
            "route_in_msgs",
            "Messages received from routes",
            in_msgs,
        );
        counter(
            &mut reg,
            "route_out_msgs",
            "Messages forwarded to routes",
            out_msgs,
        );
        counter(
            &mut reg,
            "route_in_bytes",
            "Bytes received from routes",
            in_bytes,
        );
        counter(
            &mut reg,
            "route_out_bytes",
            "Bytes forwarded to routes",
            out_bytes,
        );
    }
    if let Some((_, s)) = js {
        gauge(
            &mut reg,
            "jetstream_streams",
            "JetStream streams",
            s.streams,
        );
        gauge(
            &mut reg,
            "jetstream_consumers",
            "JetStream consumers",
            s.consumers,
        );
        counter(
            &mut reg,
            "jetstream_api_requests",
            "JetStream API requests",
            s.api_total,
        );
        counter(
            &mut reg,
            "jetstream_api_errors",
            "JetStream API requests that failed",
            s.api_errors,
        );
        let msgs = Family::<Labels, Gauge>::default();
        let bytes = Family::<Labels, Gauge>::default();
        let pending = Family::<Labels, Gauge>::default();
        let redelivered = Family::<Labels, Gauge>::default();
        let ack_pending = Family::<Labels, Gauge>::default();
        for st in &s.stream_list {
            let l = vec![("stream".to_owned(), st.name.clone())];
            msgs.get_or_create(&l).set(st.messages as i64);
            bytes.get_or_create(&l).set(st.bytes as i64);
            for c in &st.consumers {
                let l = vec![
                    ("stream".to_owned(), st.name.clone()),
                    ("consumer".to_owned(), c.name.clone()),
                ];
                pending.get_or_create(&l).set(c.num_pending as i64);
                redelivered.get_or_create(&l).set(c.num_redelivered as i64);
                ack_pending.get_or_create(&l).set(c.num_ack_pending as i64);
            }
        }
        if let Some(r) = &s.raft {
            gauge(
                &mut reg,
                "raft_groups",
                "Raft groups running here",
                r.groups,
            );
            gauge(&mut reg, "raft_leaders", "Raft groups led here", r.leaders);
            counter(
                &mut reg,
                "raft_wal_appends",
                "Append batches written to the Raft write-ahead log",
                r.wal_appends,
            );
            counter(
                &mut reg,
                "raft_wal_entries",
                "Entries written to the Raft write-ahead log",
                r.wal_entries,
            );
            counter(
                &mut reg,
                "raft_wal_bytes",
                "Bytes written to the Raft write-ahead log",
                r.wal_bytes,
            );
            counter(
                &mut reg,
                "raft_wal_fsyncs",
                "fdatasync calls of the Raft write-ahead log",
                r.wal_fsyncs,
            );
            let lag = Family::<Labels, Gauge>::default();
            for g in &r.streams {
                for p in &g.replicas {
                    let l = vec![
                        ("stream".to_owned(), g.stream.clone()),
                        ("peer".to_owned(), p.name.clone()),
                    ];
                    lag.get_or_create(&l).set(p.lag as i64);
                }
            }
            reg.register(
                "raft_replica_lag",
                "Entries a replica of a stream led here is behind",
                lag,
            );
        }
        reg.register("jetstream_stream_messages", "Messages in the stream", msgs);
        reg.register("jetstream_stream_bytes", "Bytes in the stream", bytes);
        reg.register(
            "jetstream_consumer_num_pending",
            "Messages the consumer has yet to deliver",
            pending,
        );
        reg.register(
            "jetstream_consumer_num_redelivered",
            "Messages the consumer redelivered",
            redelivered,
        );
        reg.register(
            "jetstream_consumer_num_ack_pending",
            "Messages delivered and awaiting an ack",
            ack_pending,
        );
    }
    let mut text = String::new();
    if encode(&mut text, &reg).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_nats_servers_format() {
        let s = 1_000_000_000;
        assert_eq!(uptime(0), "0s");
        assert_eq!(uptime(59 * s), "59s");
        assert_eq!(uptime(61 * s), "1m1s");
        assert_eq!(uptime(3600 * s), "1h0m0s");
        assert_eq!(uptime(90_061 * s), "1d1h1m1s");
    }

    #[test]
    fn times_are_rfc3339_utc_with_nanoseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_500_000_000_123_456_789),
            "2017-07-14T02:40:00.123456789Z"
        );
    }
}
