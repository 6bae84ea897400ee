#!/usr/bin/env python3
"""Captures how a 3-node nats-server cluster answers the clustered JetStream API.

Starts nats-server n1..n3 (cluster `c1`, JetStream, routes, monitoring) itself, sends the
requests below, kills/restarts nodes for the failover and quorum-loss cases, stops every
server it started, and writes:

  OUT/raw.json                      every exchange as captured (real leaders, times, ids)
  OUT/vectors/<kind>.json           one file per request kind, volatile fields replaced by
                                    placeholders ("<ts>", "<server>", ...), the format of
                                    protocol-spec/vectors/js-cluster/README.md
  OUT/timings.json                  failover timings

Usage (nats-server on PATH, nats-py 2.9.0):

    python3 scripts/capture_js_cluster.py [OUT]      # default OUT=/tmp/jsspec-out

The committed vectors (protocol-spec/vectors/js-cluster/) came from nats-server v2.9.10.
Ports 24001-24003 (clients), 24101-24103 (routes), 24201-24203 (monitoring); stores under
/tmp/jsspec-cluster (wiped at start).
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nats

NODES = ["n1", "n2", "n3"]
CPORT = {n: 24001 + i for i, n in enumerate(NODES)}
RPORT = {n: 24101 + i for i, n in enumerate(NODES)}
MPORT = {n: 24201 + i for i, n in enumerate(NODES)}
TAGS = {n: ["az:%d" % (i + 1)] for i, n in enumerate(NODES)}
BASE = "/tmp/jsspec-cluster"
OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/jsspec-out"

RAW = []          # every exchange
VEC = {}          # kind -> [case]
TIMINGS = {}
PROCS = {}        # node -> Popen
CONF_MODE = "plain"


def log(*a):
    print("[%7.2f]" % (time.monotonic() - T0), *a, flush=True)


T0 = time.monotonic()


# ---------------------------------------------------------------- servers

def write_conf(n, mode):
    routes = ", ".join("nats://127.0.0.1:%d" % RPORT[m] for m in NODES)
    accounts = ""
    if mode == "accounts":
        accounts = """
accounts {
  A: { jetstream: enabled, users: [ {user: a, password: a} ] }
  SYS: { users: [ {user: sys, password: sys} ] }
}
system_account: SYS
no_auth_user: a
"""
    conf = """server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
server_tags: %s
jetstream { store_dir: "%s/%s" }
cluster {
  name: c1
  listen: 127.0.0.1:%d
  routes: [ %s ]
}
%s""" % (n, CPORT[n], MPORT[n], json.dumps(TAGS[n]), BASE, n, RPORT[n], routes, accounts)
    p = "%s/%s.conf" % (BASE, n)
    with open(p, "w") as f:
        f.write(conf)
    return p


def start(n):
    p = "%s/%s.conf" % (BASE, n)
    logf = open("%s/%s.log" % (BASE, n), "a")
    PROCS[n] = subprocess.Popen(["nats-server", "-c", p], stdout=logf, stderr=subprocess.STDOUT)
    log("started", n, "pid", PROCS[n].pid)


def kill(n, sig=signal.SIGKILL):
    pr = PROCS.pop(n, None)
    if pr is None:
        return
    pr.send_signal(sig)
    pr.wait()
    log("killed", n, "pid", pr.pid, "signal", sig)


def stop_all():
    for n in list(PROCS):
        kill(n, signal.SIGTERM)


def http(n, path, timeout=3.0):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (MPORT[n], path), timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body = e.read()
        status = e.code
    except Exception as e:  # refused / timeout
        return {"status": None, "error": repr(e), "elapsed_ms": round((time.monotonic() - t0) * 1000)}
    try:
        j = json.loads(body)
    except Exception:
        j = body.decode(errors="replace")
    return {"status": status, "body": j, "elapsed_ms": round((time.monotonic() - t0) * 1000)}


def meta_leader(n):
    r = http(n, "/jsz", 1.0)
    if r.get("status") != 200:
        return None
    return (r["body"].get("meta_cluster") or {}).get("leader")


async def wait_cluster(nodes=None, timeout=60):
    """Until every running node reports the same meta leader and /healthz ok."""
    nodes = nodes or list(PROCS)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        ls = [meta_leader(n) for n in nodes]
        hs = [http(n, "/healthz", 1.0).get("status") for n in nodes]
        if ls[0] and all(l == ls[0] for l in ls) and all(h == 200 for h in hs):
            return ls[0], time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise RuntimeError("cluster not ready: %r %r" % (ls, hs))


# ---------------------------------------------------------------- client

class Conn:
    def __init__(self, node, user=None):
        self.node, self.user = node, user
        self.futs = {}
        self.late = []
        self.n = 0

    async def open(self):
        url = "nats://%s127.0.0.1:%d" % ("%s:%s@" % (self.user, self.user) if self.user else "", CPORT[self.node])
        async def err_cb(e):
            pass
        self.nc = await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=err_cb,
                                     name="capture-%s" % self.node)
        self.prefix = "_INBOX.cap%s%s" % (self.node, os.getpid())
        await self.nc.subscribe(self.prefix + ".*", cb=self._cb)
        await self.nc.flush()
        return self

    async def _cb(self, msg):
        tok = msg.subject.rsplit(".", 1)[1]
        f = self.futs.pop(tok, None)
        if f is not None and not f.done():
            f.set_result((msg, time.monotonic()))
        else:
            self.late.append((tok, msg.subject, msg.data, time.monotonic()))

    async def req(self, subj, body=b"", timeout=5.0, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.n += 1
        tok = str(self.n)
        fut = asyncio.get_running_loop().create_future()
        self.futs[tok] = fut
        t0 = time.monotonic()
        await self.nc.publish(subj, body, reply=self.prefix + "." + tok, headers=headers)
        r = {"via": self.node, "subject": subj}
        try:
            r["request"] = json.loads(body) if body else None
        except Exception:
            r["request_raw"] = body.decode()
        try:
            msg, t1 = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            self.futs.pop(tok, None)
            r["timeout_ms"] = round(timeout * 1000)
            return r
        r["elapsed_ms"] = round((t1 - t0) * 1000, 1)
        if msg.headers:
            r["headers"] = dict(msg.headers)
        if msg.data:
            try:
                r["response"] = json.loads(msg.data)
            except Exception:
                r["response_raw"] = msg.data.decode(errors="replace")
        else:
            r["response"] = None
        return r

    async def close(self):
        try:
            await self.nc.close()
        except Exception:
            pass


# ---------------------------------------------------------------- recording

VOLATILE_TS = {"created", "ts", "first_ts", "last_ts", "last_active", "now", "start", "config_load_time",
               "last_ack", "time"}


def normalize(o, key=None):
    """Placeholders for the volatile fields (see protocol-spec/jetstream-cluster.md)."""
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k in VOLATILE_TS and isinstance(v, str):
                out[k] = "<ts>"
            elif k in ("leader", "server_name", "name") and isinstance(v, str) and v in NODES and key != "config":
                out[k] = "<server>"
            elif k == "active" and isinstance(v, (int, float)):
                out[k] = "<ns>"
            elif k in ("server_id", "id") and isinstance(v, str) and len(v) == 56:
                out[k] = "<server_id>"
            elif k == "peer" and isinstance(v, str) and len(v) == 8:
                out[k] = "<peer>"
            elif k == "store_dir":
                out[k] = "<dir>"
            elif k in ("max_memory", "max_storage") and key == "config" and isinstance(v, int) and v > 0:
                out[k] = "<bytes>"
            elif k in ("uptime",):
                out[k] = "<uptime>"
            elif k == "last_active" or k == "active":
                out[k] = "<ts>"
            elif k == "lag" and isinstance(v, int):
                out[k] = v
            else:
                out[k] = normalize(v, k)
        return out
    if isinstance(o, list):
        return [normalize(x, key) for x in o]
    return o


def record(kind, name, r, note=None):
    r = dict(r)
    r["name"] = name
    if note:
        r["note"] = note
    RAW.append(dict(r, kind=kind))
    v = {"name": name, "via": "<server>" if r.get("via") in NODES else r.get("via"), "subject": r["subject"]}
    for k in ("request", "request_raw"):
        if k in r:
            v[k] = r[k]
    if "timeout_ms" in r:
        v["response"] = None
        v["no_answer_within_ms"] = r["timeout_ms"]
    else:
        if "headers" in r:
            v["headers"] = r["headers"]
        for k in ("response", "response_raw"):
            if k in r:
                v[k] = normalize(r[k])
    if note:
        v["note"] = note
    VEC.setdefault(kind, []).append(v)
    short = json.dumps(r.get("response", r.get("headers", "TIMEOUT" if "timeout_ms" in r else None)))
    log(kind, name, "via", r.get("via"), r.get("elapsed_ms", r.get("timeout_ms")), short[:300])
    return r


def record_http(kind, name, node, path, r, note=None):
    RAW.append({"kind": kind, "name": name, "node": node, "path": path, **r})
    v = {"name": name, "node": "<server>", "path": path, "status": r.get("status")}
    if "body" in r:
        v["body"] = normalize(r["body"])
    if "error" in r:
        v["error"] = "connection failed"
    if note:
        v["note"] = note
    VEC.setdefault(kind, []).append(v)
    log(kind, name, node, path, r.get("status"), json.dumps(r.get("body"))[:200])


def stream_cfg(name, replicas, **kw):
    c = {"name": name, "subjects": [name.lower()], "retention": "limits", "storage": "file",
         "num_replicas": replicas}
    c.update(kw)
    return c


async def wait_stream_current(c, stream, replicas=3, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = await c.req("$JS.API.STREAM.INFO." + stream, timeout=2)
        cl = (r.get("response") or {}).get("cluster") or {}
        reps = cl.get("replicas") or []
        if cl.get("leader") and len(reps) == replicas - 1 and all(x.get("current") for x in reps):
            return r, time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise RuntimeError("stream %s not current: %r" % (stream, r))


async def stream_leader(c, stream):
    r = await c.req("$JS.API.STREAM.INFO." + stream, timeout=2)
    return ((r.get("response") or {}).get("cluster") or {}).get("leader")


async def conns(nodes=None, user=None):
    out = {}
    for n in nodes or list(PROCS):
        out[n] = await Conn(n, user).open()
    return out


async def close_all(cs):
    for c in cs.values():
        await c.close()


# ---------------------------------------------------------------- phases

async def phase_basic():
    leader, dt = await wait_cluster()
    TIMINGS["cold_start_meta_leader_s"] = round(dt, 2)
    cs = await conns()
    c1 = cs["n1"]

    record("account-info", "account info", await c1.req("$JS.API.INFO"))

    record("stream-create", "R1", await c1.req("$JS.API.STREAM.CREATE.R1S", stream_cfg("R1S", 1)))
    r = record("stream-create", "R3", await c1.req("$JS.API.STREAM.CREATE.R3S", stream_cfg("R3S", 3)))
    TIMINGS["stream_create_r3_ms"] = r.get("elapsed_ms")
    record("stream-create", "R5 on 3 nodes", await c1.req("$JS.API.STREAM.CREATE.R5S", stream_cfg("R5S", 5)))
    record("stream-create", "R0 (default 1)", await c1.req("$JS.API.STREAM.CREATE.R0S", stream_cfg("R0S", 0)))
    record("stream-create", "R-1", await c1.req("$JS.API.STREAM.CREATE.RNS", stream_cfg("RNS", -1)))
    record("stream-create", "placement unknown cluster",
           await c1.req("$JS.API.STREAM.CREATE.PCS", stream_cfg("PCS", 1, placement={"cluster": "nope"})))
    record("stream-create", "placement unknown tag",
           await c1.req("$JS.API.STREAM.CREATE.PTS", stream_cfg("PTS", 1, placement={"tags": ["az:9"]})))
    record("stream-create", "placement R3 with one tag (only one node has it)",
           await c1.req("$JS.API.STREAM.CREATE.PT3", stream_cfg("PT3", 3, placement={"tags": ["az:1"]})))
    record("stream-create", "placement cluster c1 + tag az:2, R1",
           await c1.req("$JS.API.STREAM.CREATE.ON2", stream_cfg("ON2", 1, placement={"cluster": "c1", "tags": ["az:2"]})))
    record("stream-create", "R3 again, same config",
           await c1.req("$JS.API.STREAM.CREATE.R3S", stream_cfg("R3S", 3)))
    record("stream-create", "R3 again, num_replicas 1 (different config)",
           await c1.req("$JS.API.STREAM.CREATE.R3S", stream_cfg("R3S", 1)))

    for i in range(3):
        r = await c1.req("r3s", b"hello %d" % i)
    record("publish", "publish to R3 stream", r)
    record("publish", "publish to R1 stream via another node", await cs["n3"].req("on2", b"x"),
           note="stream ON2 lives on n2 only")

    info, dt = await wait_stream_current(c1, "R3S")
    for n in NODES:
        record("stream-info", "R3 via %s" % n, await cs[n].req("$JS.API.STREAM.INFO.R3S"))
    record("stream-info", "R1 on n2 via n1", await c1.req("$JS.API.STREAM.INFO.ON2"),
           note="the answer comes from n2 (the only replica, so its leader); cluster has no replicas")
    record("stream-info", "unknown stream", await c1.req("$JS.API.STREAM.INFO.NOPE"))

    # Who answers: latency of STREAM.INFO via each node, and the API counters of /jsz?accounts.
    lat = {}
    sl = await stream_leader(c1, "R3S")
    for n in NODES:
        ts = []
        for _ in range(20):
            r = await cs[n].req("$JS.API.STREAM.INFO.R3S", timeout=2)
            ts.append(r.get("elapsed_ms", 9999))
        lat[n] = sorted(ts)[len(ts) // 2]
    TIMINGS["stream_info_median_ms_by_via"] = {"leader": sl, **lat}
    api_before = {n: api_count(n) for n in NODES}
    for _ in range(10):
        await c1.req("$JS.API.STREAM.INFO.R3S", timeout=2)
    api_after = {n: api_count(n) for n in NODES}
    TIMINGS["stream_info_x10_via_n1_api_total_delta"] = {
        "stream_leader": sl, "meta_leader": meta_leader("n1"),
        **{n: (api_after[n] - api_before[n]) if api_after[n] is not None and api_before[n] is not None else None
           for n in NODES}}

    # Consumers
    record("consumer-create", "durable on R3 stream", await c1.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.R3S.D1",
        {"stream_name": "R3S", "config": {"durable_name": "D1", "ack_policy": "explicit", "deliver_policy": "all"}}))
    record("consumer-create", "ephemeral on R3 stream", await c1.req(
        "$JS.API.CONSUMER.CREATE.R3S",
        {"stream_name": "R3S", "config": {"ack_policy": "explicit", "deliver_policy": "all"}}),
        note="ephemeral consumers of a clustered stream are R1 (on the stream leader)")
    record("consumer-create", "durable num_replicas 5 on R3 stream", await c1.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.R3S.D5",
        {"stream_name": "R3S", "config": {"durable_name": "D5", "ack_policy": "explicit", "num_replicas": 5}}))
    record("consumer-create", "durable num_replicas 1 on R3 stream", await c1.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.R3S.D1R",
        {"stream_name": "R3S", "config": {"durable_name": "D1R", "ack_policy": "explicit", "num_replicas": 1}}))
    await asyncio.sleep(1.0)
    for n in NODES:
        record("consumer-info", "durable D1 via %s" % n, await cs[n].req("$JS.API.CONSUMER.INFO.R3S.D1"))
    record("consumer-info", "durable D1R (R1)", await c1.req("$JS.API.CONSUMER.INFO.R3S.D1R"))
    record("consumer-info", "unknown consumer", await c1.req("$JS.API.CONSUMER.INFO.R3S.NOPE"))

    # Who answers what: the server API counter (/jsz `api.total`, bumped by the server that sends
    # the answer), 5 requests of each kind sent through n1.
    await asyncio.sleep(0.5)
    sl = await stream_leader(c1, "R3S")
    r = await c1.req("$JS.API.CONSUMER.INFO.R3S.D1")
    cl = ((r.get("response") or {}).get("cluster") or {}).get("leader")
    who = {"meta_leader": meta_leader("n1"), "R3S_leader": sl, "D1_leader": cl, "ON2_leader": "n2"}
    probes = [
        ("STREAM.INFO R3", "$JS.API.STREAM.INFO.R3S", b""),
        ("STREAM.INFO R1 on n2", "$JS.API.STREAM.INFO.ON2", b""),
        ("STREAM.INFO unknown", "$JS.API.STREAM.INFO.NOPE", b""),
        ("CONSUMER.INFO R3", "$JS.API.CONSUMER.INFO.R3S.D1", b""),
        ("STREAM.CREATE existing same config", "$JS.API.STREAM.CREATE.R3S", json.dumps(stream_cfg("R3S", 3)).encode()),
        ("STREAM.NAMES", "$JS.API.STREAM.NAMES", b""),
        ("STREAM.LIST", "$JS.API.STREAM.LIST", b""),
        ("CONSUMER.NAMES R3", "$JS.API.CONSUMER.NAMES.R3S", b""),
        ("$JS.API.INFO", "$JS.API.INFO", b""),
        ("STREAM.MSG.GET R3", "$JS.API.STREAM.MSG.GET.R3S", b'{"seq":1}'),
    ]
    for label, subj, body in probes:
        before = {n: api_count(n) for n in NODES}
        for _ in range(5):
            await c1.req(subj, body, timeout=2)
        after = {n: api_count(n) for n in NODES}
        who[label] = [n for n in NODES if after[n] - before[n] > 0]
    TIMINGS["who_answers_via_n1"] = who
    log("who answers", who)

    # Update num_replicas
    record("stream-update", "R1 -> R3", await c1.req("$JS.API.STREAM.UPDATE.R1S", stream_cfg("R1S", 3)))
    await asyncio.sleep(0.5)
    record("stream-info", "after update R1 -> R3 (0.5 s)", await c1.req("$JS.API.STREAM.INFO.R1S"))
    r, dt = await wait_stream_current(c1, "R1S")
    TIMINGS["update_1_to_3_all_current_s"] = round(dt + 0.5, 2)
    record("stream-info", "after update R1 -> R3 (all current)", r)
    record("stream-create", "R3 for scale-down", await c1.req("$JS.API.STREAM.CREATE.DOWN", stream_cfg("DOWN", 3)))
    await wait_stream_current(c1, "DOWN")
    record("stream-update", "R3 -> R1", await c1.req("$JS.API.STREAM.UPDATE.DOWN", stream_cfg("DOWN", 1)))
    await asyncio.sleep(1.0)
    record("stream-info", "after update R3 -> R1 (1 s)", await c1.req("$JS.API.STREAM.INFO.DOWN"))
    record("stream-update", "R3 -> R5", await c1.req("$JS.API.STREAM.UPDATE.R3S", stream_cfg("R3S", 5)))
    record("stream-update", "R1 -> R3 with unmet placement tag", await c1.req(
        "$JS.API.STREAM.UPDATE.ON2", stream_cfg("ON2", 3, placement={"cluster": "c1", "tags": ["az:2"]})))
    await close_all(cs)


def api_count(n):
    """The server's own API counter (/jsz top-level `api.total`: requests this server answered;
    the per-account counters are summed over the cluster by usage updates, so useless here)."""
    r = http(n, "/jsz", 2)
    if r.get("status") != 200:
        return None
    return (r["body"].get("api") or {}).get("total", 0)


async def poll_leader_change(c, stream, old, consumer=None, timeout=30):
    subj = ("$JS.API.CONSUMER.INFO.%s.%s" % (stream, consumer)) if consumer else "$JS.API.STREAM.INFO." + stream
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < timeout:
        r = await c.req(subj, timeout=0.5)
        resp = r.get("response") or {}
        l = (resp.get("cluster") or {}).get("leader")
        desc = "timeout" if "timeout_ms" in r else (json.dumps(resp.get("error")) if resp.get("error") else "leader=%s" % l)
        if not seen or seen[-1][1] != desc:
            seen.append((round(time.monotonic() - t0, 3), desc))
        if l and l != old:
            return round(time.monotonic() - t0, 3), l, seen
        await asyncio.sleep(0.02)
    return None, None, seen


async def phase_stepdown():
    cs = await conns()
    c1 = cs["n1"]
    old = await stream_leader(c1, "R3S")
    record("stream-leader-stepdown", "R3 stream", await c1.req("$JS.API.STREAM.LEADER.STEPDOWN.R3S"))
    record("stream-info", "R3 stream right after its leader stepped down", await c1.req("$JS.API.STREAM.INFO.R3S"))
    dt, new, seen = await poll_leader_change(c1, "R3S", old)
    TIMINGS["stream_stepdown_new_leader_in_info_s"] = {"s": dt, "old": old, "new": new, "seen": seen}
    await wait_stream_current(c1, "R3S")
    record("stream-leader-stepdown", "R1 stream", await c1.req("$JS.API.STREAM.LEADER.STEPDOWN.ON2"))
    record("stream-leader-stepdown", "unknown stream", await c1.req("$JS.API.STREAM.LEADER.STEPDOWN.NOPE"))
    record("stream-leader-stepdown", "R3 stream, body {}", await c1.req("$JS.API.STREAM.LEADER.STEPDOWN.R3S", {}))
    await poll_leader_change(c1, "R3S", await stream_leader(c1, "R3S"))
    await wait_stream_current(c1, "R3S")
    record("stream-leader-stepdown", "R3 stream, body with placement (2.10 form)",
           await c1.req("$JS.API.STREAM.LEADER.STEPDOWN.R3S", {"placement": {"cluster": "c1"}}))
    record("consumer-leader-stepdown", "R3 consumer, body {\"x\":1}",
           await c1.req("$JS.API.CONSUMER.LEADER.STEPDOWN.R3S.D1", {"x": 1}))

    r = await c1.req("$JS.API.CONSUMER.INFO.R3S.D1")
    oldc = (r["response"].get("cluster") or {}).get("leader")
    record("consumer-leader-stepdown", "R3 consumer", await c1.req("$JS.API.CONSUMER.LEADER.STEPDOWN.R3S.D1"))
    record("consumer-info", "R3 consumer right after its leader stepped down", await c1.req("$JS.API.CONSUMER.INFO.R3S.D1"))
    dt, new, seen = await poll_leader_change(c1, "R3S", oldc, consumer="D1")
    TIMINGS["consumer_stepdown_new_leader_in_info_s"] = {"s": dt, "old": oldc, "new": new, "seen": seen}
    record("consumer-leader-stepdown", "R1 consumer (D1R)", await c1.req("$JS.API.CONSUMER.LEADER.STEPDOWN.R3S.D1R"))
    record("consumer-leader-stepdown", "unknown consumer", await c1.req("$JS.API.CONSUMER.LEADER.STEPDOWN.R3S.NOPE"))
    record("consumer-leader-stepdown", "unknown stream", await c1.req("$JS.API.CONSUMER.LEADER.STEPDOWN.NOPE.D1"))

    # meta
    old = meta_leader("n1")
    t0 = time.monotonic()
    record("meta-leader-stepdown", "no body", await c1.req("$JS.API.META.LEADER.STEPDOWN"))
    seen = []
    new = None
    while time.monotonic() - t0 < 30:
        ls = {n: meta_leader(n) for n in NODES}
        d = json.dumps(ls)
        if not seen or seen[-1][1] != d:
            seen.append((round(time.monotonic() - t0, 3), d))
        if all(l and l != old for l in ls.values()) and len(set(ls.values())) == 1:
            new = ls["n1"]
            break
        await asyncio.sleep(0.02)
    TIMINGS["meta_stepdown_new_leader_in_jsz_s"] = {"s": round(time.monotonic() - t0, 3), "old": old, "new": new, "seen": seen}
    # and until a STREAM.CREATE works
    t0 = time.monotonic()
    record("meta-leader-stepdown", "again, right after (create probe below)", await c1.req("$JS.API.META.LEADER.STEPDOWN"))
    tries = []
    while True:
        r = await c1.req("$JS.API.STREAM.CREATE.AFTERMETA", stream_cfg("AFTERMETA", 1), timeout=1)
        d = "timeout" if "timeout_ms" in r else json.dumps((r.get("response") or {}).get("error"))
        if not tries or tries[-1][1] != d:
            tries.append((round(time.monotonic() - t0, 3), d))
        if (r.get("response") or {}).get("config"):
            break
        if time.monotonic() - t0 > 30:
            break
        await asyncio.sleep(0.05)
    TIMINGS["meta_stepdown_until_stream_create_s"] = {"s": round(time.monotonic() - t0, 3), "seen": tries}
    await wait_cluster()
    record("meta-leader-stepdown", "placement unknown cluster",
           await c1.req("$JS.API.META.LEADER.STEPDOWN", {"placement": {"cluster": "nope"}}))
    record("meta-leader-stepdown", "placement tags",
           await c1.req("$JS.API.META.LEADER.STEPDOWN", {"placement": {"tags": ["az:1"]}}))
    record("meta-leader-stepdown", "bad json", await c1.req("$JS.API.META.LEADER.STEPDOWN", b"{nope"))
    record("meta-leader-stepdown", "placement cluster c1",
           await c1.req("$JS.API.META.LEADER.STEPDOWN", {"placement": {"cluster": "c1"}}))
    await wait_cluster()

    # peer remove on a dedicated R3 stream
    record("stream-create", "R3 for peer remove", await c1.req("$JS.API.STREAM.CREATE.PR", stream_cfg("PR", 3)))
    await wait_stream_current(c1, "PR")
    record("stream-peer-remove", "unknown peer", await c1.req("$JS.API.STREAM.PEER.REMOVE.PR", {"peer": "zz"}))
    record("stream-peer-remove", "empty body", await c1.req("$JS.API.STREAM.PEER.REMOVE.PR"))
    record("stream-peer-remove", "{} body", await c1.req("$JS.API.STREAM.PEER.REMOVE.PR", {}))
    record("stream-peer-remove", "unknown stream", await c1.req("$JS.API.STREAM.PEER.REMOVE.NOPE", {"peer": "n2"}))
    record("stream-peer-remove", "peer not a replica (R1 on n2, remove n1)",
           await c1.req("$JS.API.STREAM.PEER.REMOVE.ON2", {"peer": "n1"}))
    record("stream-peer-remove", "n2 from R3 (no spare node)", await c1.req("$JS.API.STREAM.PEER.REMOVE.PR", {"peer": "n2"}))
    await asyncio.sleep(3)
    record("stream-info", "R3 after peer remove n2 (3 s)", await c1.req("$JS.API.STREAM.INFO.PR"))
    # with a spare server: R1 and R2 streams without placement
    record("stream-create", "R1 for peer remove", await c1.req("$JS.API.STREAM.CREATE.PR1", stream_cfg("PR1", 1)))
    record("publish", "R1 stream before its peer is removed", await c1.req("pr1", b"one"))
    l1 = await stream_leader(c1, "PR1")
    record("stream-peer-remove", "the only peer of an R1 stream, spare servers exist",
           await c1.req("$JS.API.STREAM.PEER.REMOVE.PR1", {"peer": l1}), note="the peer is the stream's leader")
    await asyncio.sleep(2)
    r = record("stream-info", "R1 after its peer was removed (2 s)", await c1.req("$JS.API.STREAM.INFO.PR1"))
    TIMINGS["peer_remove_r1"] = {"removed": l1, "leader_after_2s": ((r.get("response") or {}).get("cluster") or {}).get("leader")}
    record("stream-create", "R2 for peer remove", await c1.req("$JS.API.STREAM.CREATE.PR2", stream_cfg("PR2", 2)))
    await wait_stream_current(c1, "PR2", replicas=2)
    record("publish", "R2 stream before a follower is removed", await c1.req("pr2", b"two"))
    r = await c1.req("$JS.API.STREAM.INFO.PR2")
    rep = r["response"]["cluster"]["replicas"][0]["name"]
    record("stream-peer-remove", "a follower of an R2 stream, a spare server exists",
           await c1.req("$JS.API.STREAM.PEER.REMOVE.PR2", {"peer": rep}))
    await asyncio.sleep(2)
    r = record("stream-info", "R2 after a follower was removed (2 s)", await c1.req("$JS.API.STREAM.INFO.PR2"))
    cl = (r.get("response") or {}).get("cluster") or {}
    TIMINGS["peer_remove_r2"] = {"removed": rep, "after_2s": cl}
    record("stream-peer-remove", "only replica of R1 (n2 of ON2)",
           await c1.req("$JS.API.STREAM.PEER.REMOVE.ON2", {"peer": "n2"}))
    await asyncio.sleep(1)
    record("stream-info", "R1 after removing its only peer (1 s)", await c1.req("$JS.API.STREAM.INFO.ON2"))
    record("account-info", "account info, streams present", await c1.req("$JS.API.INFO"))
    await close_all(cs)


async def phase_monitoring(tag):
    for n in NODES:
        for path in ("/jsz", "/jsz?streams=true", "/jsz?accounts=true&streams=true&consumers=true&config=true",
                     "/jsz?leader-only=true", "/healthz", "/healthz?js-enabled-only=true"):
            record_http("monitoring", "%s %s" % (tag, path), n, path, http(n, path))
        r = http(n, "/varz")
        if r.get("status") == 200:
            r = dict(r, body={"jetstream": r["body"].get("jetstream"), "server_name": r["body"].get("server_name")})
        record_http("monitoring", "%s /varz (jetstream section)" % tag, n, "/varz", r)


async def publish_until_acked(c, subj, t_kill, deadline=40, per=0.25):
    seen = []
    while time.monotonic() - t_kill < deadline:
        r = await c.req(subj, b"failover", timeout=per)
        resp = r.get("response")
        if "timeout_ms" in r:
            d = "timeout"
        elif r.get("headers") and not resp:
            d = "status " + json.dumps(r["headers"])
        elif resp and resp.get("error"):
            d = json.dumps(resp["error"])
        else:
            d = "ack"
        if not seen or seen[-1][1] != d:
            seen.append((round(time.monotonic() - t_kill, 3), d))
        if d == "ack":
            return round(time.monotonic() - t_kill, 3), seen, r
        if d != "timeout":
            await asyncio.sleep(0.05)
    return None, seen, None


async def phase_failover():
    runs = []
    for i in range(3):
        await wait_cluster()
        cs = await conns()
        leader = await stream_leader(cs["n1"], "R3S")
        survivor = [n for n in NODES if n != leader][0]
        for n, c in cs.items():
            if n != survivor:
                await c.close()
        c = cs[survivor]
        r = await c.req("r3s", b"before")
        assert "response" in r, r
        t_kill = time.monotonic()
        kill(leader)
        dt, seen, ack = await publish_until_acked(c, "r3s", t_kill)
        new = await stream_leader(c, "R3S")
        runs.append({"killed": leader, "via": survivor, "ack_after_s": dt, "new_leader": new, "seen": seen,
                     "late_acks": len(c.late)})
        log("failover run", i, runs[-1])
        if i == 0 and ack:
            record("publish", "first ack after leader kill", ack)
        await c.close()
        start(leader)
        await wait_cluster()
        c = await Conn("n1").open()
        await wait_stream_current(c, "R3S")
        await c.close()
    TIMINGS["stream_leader_kill_until_publish_acked"] = runs

    # meta leader
    runs = []
    for i in range(3):
        ml, _ = await wait_cluster()
        survivor = [n for n in NODES if n != ml][0]
        c = await Conn(survivor).open()
        t_kill = time.monotonic()
        kill(ml)
        seen = []
        names = []
        k = 0
        ok = None
        while time.monotonic() - t_kill < 20:
            k += 1
            name = "AFTERKILL%d_%d" % (i, k)
            names.append(name)
            r = await c.req("$JS.API.STREAM.CREATE." + name, stream_cfg(name, 1), timeout=1)
            resp = r.get("response") or {}
            d = "timeout" if "timeout_ms" in r else (json.dumps(resp.get("error")) if resp.get("error") else "created")
            if not seen or seen[-1][1] != d:
                seen.append((round(time.monotonic() - t_kill, 3), d))
                if d not in ("timeout", "created"):
                    record("errors", "STREAM.CREATE while the meta leader is gone (%.1f s after kill)" % (time.monotonic() - t_kill), r)
            if d == "created":
                ok = round(time.monotonic() - t_kill, 3)
                break
            await asyncio.sleep(0.05)
        ml2 = meta_leader(survivor)
        if i == 0:
            name = "AFTERKILLR3"
            r = record("stream-create", "R3 while one node is killed (dead node still counted online)",
                       await c.req("$JS.API.STREAM.CREATE." + name, stream_cfg(name, 3), timeout=10))
            names.append(name)
        await c.close()
        start(ml)
        await wait_cluster()
        c = await Conn(survivor).open()
        placed = {}
        for name in names:
            placed[name] = await stream_leader(c, name)
        await c.close()
        runs.append({"killed": ml, "via": survivor, "create_ok_after_s": ok,
                     "new_meta_leader": ml2, "seen": seen, "creates_placed_on_after_restart": placed})
        log("meta failover run", i, runs[-1])
    TIMINGS["meta_leader_kill_until_stream_create"] = runs


async def phase_quorum():
    await wait_cluster()
    c = await Conn("n1").open()
    await wait_stream_current(c, "R3S")
    await c.close()
    ml, _ = await wait_cluster()
    c = await Conn("n1").open()
    sl = await stream_leader(c, "R3S")
    await c.close()
    # the survivor is neither the meta leader nor the R3S leader (if possible)
    survivor = ([n for n in NODES if n not in (ml, sl)] or [n for n in NODES if n != ml])[0]
    killed_first, other = [n for n in NODES if n != survivor]
    t_kill = time.monotonic()
    # one node down first: healthz/jsz on the others
    kill(killed_first)
    await asyncio.sleep(1)
    for n in (survivor, other):
        record_http("monitoring", "one node killed 1 s ago /healthz", n, "/healthz", http(n, "/healthz"))
    kill(other)
    t_kill = time.monotonic()
    c = await Conn(survivor).open()
    TIMINGS["quorum_loss_setup"] = {"meta_leader": ml, "r3s_leader": sl, "survivor": survivor,
                                    "killed": [killed_first, other]}

    async def probes(label, timeout=6):
        res = await asyncio.gather(
            c.req("$JS.API.STREAM.CREATE.QL", stream_cfg("QL", 1), timeout=timeout),
            c.req("$JS.API.STREAM.INFO.R3S", timeout=timeout),
            c.req("r3s", b"no quorum", timeout=timeout),
            c.req("$JS.API.INFO", timeout=timeout),
            c.req("$JS.API.CONSUMER.INFO.R3S.D1", timeout=timeout),
            c.req("$JS.API.STREAM.NAMES", timeout=timeout),
            c.req("$JS.API.STREAM.LEADER.STEPDOWN.R3S", timeout=timeout),
            c.req("$JS.API.META.LEADER.STEPDOWN", timeout=timeout),
            c.req("$JS.API.STREAM.INFO.R1S", timeout=timeout),
            c.req("$JS.API.STREAM.INFO.NOPE", timeout=timeout),
        )
        names = ["STREAM.CREATE", "STREAM.INFO R3", "publish to R3", "$JS.API.INFO", "CONSUMER.INFO R3",
                 "STREAM.NAMES", "STREAM.LEADER.STEPDOWN R3", "META.LEADER.STEPDOWN", "STREAM.INFO R1S (R3 now)",
                 "STREAM.INFO unknown"]
        for nm, r in zip(names, res):
            record("errors", "2 of 3 killed, %s: %s" % (label, nm), r)

    onset = {}
    while time.monotonic() - t_kill < 25:
        res = await asyncio.gather(
            c.req("$JS.API.STREAM.CREATE.QL", stream_cfg("QL", 1), timeout=1),
            c.req("$JS.API.STREAM.INFO.R3S", timeout=1),
            c.req("$JS.API.INFO", timeout=1),
            c.req("r3s", b"no quorum", timeout=1))
        h = http(survivor, "/healthz", 1)
        for nm, r in zip(["STREAM.CREATE", "STREAM.INFO R3", "$JS.API.INFO", "publish R3", "/healthz"], list(res) + [h]):
            if nm == "/healthz":
                d = "%s %s" % (h.get("status"), json.dumps(h.get("body")))
            elif "timeout_ms" in r:
                d = "timeout"
            elif r.get("headers") and not r.get("response"):
                d = "status " + json.dumps(r["headers"])
            else:
                resp = r.get("response") or {}
                d = json.dumps(resp["error"]) if resp.get("error") else "ok leader=%s" % (resp.get("cluster") or {}).get("leader")
                if d.startswith("{"):
                    d += " in %s ms" % r.get("elapsed_ms")
            lst = onset.setdefault(nm, [])
            if not lst or lst[-1][1].split(" in ")[0] != d.split(" in ")[0]:
                lst.append((round(time.monotonic() - t_kill, 3), d))
        await asyncio.sleep(0.3)
    TIMINGS["quorum_loss_transitions"] = onset
    log("quorum transitions", json.dumps(onset))
    for path in ("/healthz", "/jsz", "/jsz?streams=true", "/varz"):
        r = http(survivor, path)
        if path == "/varz" and r.get("status") == 200:
            r = dict(r, body={"jetstream": r["body"].get("jetstream")})
        record_http("monitoring", "2 of 3 killed, %.1f s after: %s" % (time.monotonic() - t_kill, path), survivor, path, r)
    await probes("%.1f s after" % (time.monotonic() - t_kill))
    for path in ("/healthz", "/jsz"):
        record_http("monitoring", "2 of 3 killed, %.1f s after: %s" % (time.monotonic() - t_kill, path), survivor, path, http(survivor, path))
    await c.close()
    start(killed_first)
    start(other)
    t0 = time.monotonic()
    _, dt = await wait_cluster()
    TIMINGS["quorum_restored_healthy_after_restart_s"] = round(time.monotonic() - t0, 2)


async def phase_server_remove(mode):
    cs = await conns(user=None)
    c1 = cs["n1"]
    suffix = "" if mode == "plain" else " (account A)"
    record("server-remove", "unknown server" + suffix, await c1.req("$JS.API.SERVER.REMOVE", {"peer": "zz"}))
    record("server-remove", "field `server` (not a field: ignored)" + suffix, await c1.req("$JS.API.SERVER.REMOVE", {"server": "n3"}))
    record("server-remove", "empty body" + suffix, await c1.req("$JS.API.SERVER.REMOVE"))
    record("server-remove", "peer id unknown" + suffix, await c1.req("$JS.API.SERVER.REMOVE", {"peer_id": "abcdefgh"}))
    if mode == "accounts":
        sysc = await Conn("n1", "sys").open()
        record("server-remove", "unknown server (system account)", await sysc.req("$JS.API.SERVER.REMOVE", {"peer": "zz"}))
        record("meta-leader-stepdown", "system account", await sysc.req("$JS.API.META.LEADER.STEPDOWN"))
        await wait_cluster()
        record("meta-leader-stepdown", "account A (not system)", await c1.req("$JS.API.META.LEADER.STEPDOWN"))
        await wait_cluster()
        record("account-info", "system account $JS.API.INFO", await sysc.req("$JS.API.INFO"))
        record("account-info", "account A $JS.API.INFO", await c1.req("$JS.API.INFO"))
    # a live server: n3 (destructive; last)
    victim = "n3"
    if mode == "accounts":
        r = record("server-remove", "live server n3 (account A)", await c1.req("$JS.API.SERVER.REMOVE", {"peer": victim}))
        if not (r.get("response") or {}).get("success"):
            record("server-remove", "live server n3 (system account)", await sysc.req("$JS.API.SERVER.REMOVE", {"peer": victim}))
        await sysc.close()
    else:
        record("server-remove", "live server n3", await c1.req("$JS.API.SERVER.REMOVE", {"peer": victim}))
    await asyncio.sleep(2)
    record_http("monitoring", "%s: 2 s after SERVER.REMOVE n3: /jsz" % mode, "n1", "/jsz", http("n1", "/jsz"))
    record_http("monitoring", "%s: 2 s after SERVER.REMOVE n3: /jsz on n3" % mode, "n3", "/jsz", http("n3", "/jsz"))
    record("account-info", "after SERVER.REMOVE n3" + suffix, await c1.req("$JS.API.INFO"))
    await close_all(cs)


def fresh(mode):
    stop_all()
    shutil.rmtree(BASE, ignore_errors=True)
    os.makedirs(BASE)
    for n in NODES:
        write_conf(n, mode)
    for n in NODES:
        start(n)


async def main():
    try:
        fresh("plain")
        await phase_basic()
        await phase_monitoring("healthy")
        await phase_stepdown()
        await phase_failover()
        await phase_quorum()
        await phase_server_remove("plain")
        fresh("accounts")
        await wait_cluster()
        await phase_server_remove("accounts")
    finally:
        stop_all()
        os.makedirs(OUT + "/vectors", exist_ok=True)
        with open(OUT + "/raw.json", "w") as f:
            json.dump(RAW, f, indent=1)
        with open(OUT + "/timings.json", "w") as f:
            json.dump(TIMINGS, f, indent=1)
        ver = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()
        for kind, cases in VEC.items():
            with open("%s/vectors/%s.json" % (OUT, kind), "w") as f:
                json.dump({"kind": kind, "server": ver, "cases": cases}, f, indent=1)
                f.write("\n")
        log("wrote", OUT)


if __name__ == "__main__":
    asyncio.run(main())
