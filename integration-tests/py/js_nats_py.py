#!/usr/bin/env python3
"""nats-py's JetStream API (streams, consumers, key-value buckets), unchanged, against a broker:
the client an application would use.

Usage: js_nats_py.py NATS_URL

Run by tests/client_nats_py.rs against nats-server (which proves the expectations here are the
reference behaviour) and against Sluice. Prints one line per check; exits 0 only when every check
passed, 1 on the first failed check (with the expected and actual values), 2 on a bad invocation.
Every wait is bounded (asyncio.wait_for), and so is the whole run (TOTAL_LIMIT).
"""

import asyncio
import sys
import time
import traceback

import nats
import nats.errors
import nats.js.errors
from nats.js.api import StorageType

# The longest any single wait may take (seconds).
STEP = 5.0
# The longest the whole script may take (seconds).
TOTAL_LIMIT = 20.0

STREAM = "PYJS"
SUBJECTS = ["pyjs.a", "pyjs.b", "pyjs.q"]

CHECKS = 0


def check(cond, what, expected=None, actual=None):
    """Asserts `cond`; prints one line naming the check when it holds."""
    global CHECKS
    detail = "" if expected is None and actual is None else f": expected {expected!r}, got {actual!r}"
    assert cond, f"{what}{detail}"
    CHECKS += 1
    print(f"ok {CHECKS:2} - {what}", flush=True)


def check_eq(actual, expected, what):
    check(actual == expected, what, expected, actual)


async def within(what, aw, limit=STEP):
    """Awaits `aw` for at most `limit` seconds; fails the check named `what` if it takes longer."""
    try:
        return await asyncio.wait_for(aw, limit)
    except nats.errors.TimeoutError:
        # nats-py's own timeout (a subclass of asyncio.TimeoutError): for the caller to judge.
        raise
    except asyncio.TimeoutError as e:
        raise AssertionError(f"{what}: no answer within {limit} s") from e


async def eventually(what, probe, limit=STEP):
    """Polls the async `probe` until it returns a truthy value (at most `limit` seconds)."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        last = await within(what, probe())
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: still false after {limit} s (last: {last!r})")


async def main(url):
    nc = await within("connect", nats.connect(url, connect_timeout=STEP, max_reconnect_attempts=0))
    check(nc.is_connected, "connect")
    js = nc.jetstream(timeout=STEP)

    # --- streams -----------------------------------------------------------------------------
    info = await within(
        "add_stream", js.add_stream(name=STREAM, subjects=SUBJECTS, storage=StorageType.FILE)
    )
    check_eq(info.config.name, STREAM, "add_stream: config.name")
    check_eq(list(info.config.subjects), SUBJECTS, "add_stream: config.subjects")
    check_eq(info.config.storage, StorageType.FILE, "add_stream: config.storage is file")
    check_eq(info.state.messages, 0, "add_stream: new stream is empty")

    # --- publish and dedup -------------------------------------------------------------------
    ack = await within("publish", js.publish("pyjs.a", b"a1"))
    check_eq((ack.stream, ack.seq), (STREAM, 1), "publish: ack names stream and seq 1")
    check(not ack.duplicate, "publish: a first publish is not a duplicate", False, ack.duplicate)

    hdr = {"Nats-Msg-Id": "py-id-1"}
    ack = await within("publish with id", js.publish("pyjs.a", b"a2", headers=dict(hdr)))
    check_eq(ack.seq, 2, "publish with Nats-Msg-Id: seq 2")
    check(not ack.duplicate, "publish with a new Nats-Msg-Id is not a duplicate", False, ack.duplicate)
    dup = await within("publish duplicate", js.publish("pyjs.a", b"a2-again", headers=dict(hdr)))
    check_eq(dup.duplicate, True, "publish with the same Nats-Msg-Id: duplicate=True")
    check_eq(dup.seq, 2, "publish duplicate: same seq as the original")

    for i, payload in enumerate([b"b1", b"b2"]):
        ack = await within("publish pyjs.b", js.publish("pyjs.b", payload, stream=STREAM))
        check_eq(ack.seq, 3 + i, f"publish pyjs.b (expected stream header): seq {3 + i}")

    si = await within("stream_info", js.stream_info(STREAM))
    check_eq(si.config.name, STREAM, "stream_info: config.name")
    check_eq(
        (si.state.messages, si.state.first_seq, si.state.last_seq),
        (4, 1, 4),
        "stream_info: messages, first_seq, last_seq (the duplicate is not stored)",
    )

    # --- pull consumer -----------------------------------------------------------------------
    psub = await within("pull_subscribe", js.pull_subscribe("pyjs.*", durable="PULL"))
    msgs = await within("fetch(10)", psub.fetch(10, timeout=2))
    check_eq([m.data for m in msgs], [b"a1", b"a2", b"b1", b"b2"], "fetch(10): the 4 stored messages")
    for i, m in enumerate(msgs):
        md = m.metadata
        check_eq(
            (md.sequence.stream, md.sequence.consumer, md.num_delivered, md.num_pending),
            (i + 1, i + 1, 1, 3 - i),
            f"fetch msg {i + 1}: metadata (stream seq, consumer seq, num_delivered, num_pending)",
        )
        check_eq((md.stream, md.consumer), (STREAM, "PULL"), f"fetch msg {i + 1}: metadata stream/consumer")
        check_eq(m.subject, "pyjs.a" if i < 2 else "pyjs.b", f"fetch msg {i + 1}: subject")
        await within("ack", m.ack())
    check_eq(msgs[1].headers.get("Nats-Msg-Id") if msgs[1].headers else None, "py-id-1",
             "fetch: the Nats-Msg-Id header is kept")

    async def acked_all():
        ci = await js.consumer_info(STREAM, "PULL")
        return ci if ci.num_ack_pending == 0 and ci.ack_floor.stream_seq == 4 else None

    ci = await eventually("consumer_info after acks", acked_all)
    check_eq((ci.num_pending, ci.num_ack_pending, ci.delivered.stream_seq), (0, 0, 4),
             "consumer_info after acks: num_pending, num_ack_pending, delivered.stream_seq")

    start = time.monotonic()
    try:
        got = await within("fetch on empty consumer", psub.fetch(10, timeout=1), limit=STEP)
        raise AssertionError(f"fetch on an empty consumer: expected TimeoutError, got {len(got)} msgs")
    except nats.errors.TimeoutError:
        pass
    elapsed = time.monotonic() - start
    check(0.8 <= elapsed <= 3.0, "fetch(10, timeout=1) on an empty consumer raises TimeoutError after ~1 s",
          "0.8..3.0 s", round(elapsed, 2))

    start = time.monotonic()
    try:
        got = await within("fetch(1) on empty consumer", psub.fetch(1, timeout=1), limit=STEP)
        raise AssertionError(f"fetch(1) on an empty consumer: expected TimeoutError, got {len(got)} msgs")
    except nats.errors.TimeoutError:
        pass
    elapsed = time.monotonic() - start
    check(0.8 <= elapsed <= 3.0, "fetch(1, timeout=1) on an empty consumer raises TimeoutError after ~1 s",
          "0.8..3.0 s", round(elapsed, 2))

    # nak -> redelivery
    ack = await within("publish for nak", js.publish("pyjs.b", b"nak-me"))
    check_eq(ack.seq, 5, "publish for nak: seq 5")
    [m] = await within("fetch(1) for nak", psub.fetch(1, timeout=2))
    check_eq((m.data, m.metadata.num_delivered), (b"nak-me", 1), "fetch(1): first delivery")
    await within("nak", m.nak())
    [m] = await within("fetch(1) after nak", psub.fetch(1, timeout=2))
    md = m.metadata
    check_eq(
        (m.data, md.sequence.stream, md.num_delivered),
        (b"nak-me", 5, 2),
        "after nak: redelivered, same stream seq, num_delivered 2",
    )
    check_eq(md.sequence.consumer, 6, "after nak: redelivery has a new consumer seq")

    # ack_sync: the server confirms the ack
    resp = await within("ack_sync", m.ack_sync(timeout=STEP))
    check(resp is not None, "ack_sync: the server answered the ack")
    ci = await within("consumer_info after ack_sync", js.consumer_info(STREAM, "PULL"))
    check_eq((ci.num_ack_pending, ci.ack_floor.stream_seq), (0, 5),
             "consumer_info right after ack_sync: nothing pending, ack floor 5")

    # term: no redelivery
    ack = await within("publish for term", js.publish("pyjs.b", b"term-me"))
    check_eq(ack.seq, 6, "publish for term: seq 6")
    [m] = await within("fetch(1) for term", psub.fetch(1, timeout=2))
    check_eq((m.data, m.metadata.sequence.stream), (b"term-me", 6), "fetch(1): the message to term")
    await within("term", m.term())
    try:
        got = await within("fetch after term", psub.fetch(1, timeout=1), limit=STEP)
        raise AssertionError(f"after term: expected TimeoutError (no redelivery), got {[g.data for g in got]}")
    except nats.errors.TimeoutError:
        pass
    check(True, "after term: the message is not redelivered")

    async def term_settled():
        ci = await js.consumer_info(STREAM, "PULL")
        return ci if ci.num_ack_pending == 0 else None

    ci = await eventually("consumer_info after term", term_settled)
    check_eq((ci.name, ci.stream_name), ("PULL", STREAM), "consumer_info: name and stream_name")
    check_eq(ci.config.durable_name, "PULL", "consumer_info: config.durable_name")
    check_eq((ci.num_pending, ci.num_ack_pending, ci.delivered.stream_seq), (0, 0, 6),
             "consumer_info after term: num_pending, num_ack_pending, delivered.stream_seq")
    pci = await within("PullSubscription.consumer_info", psub.consumer_info())
    check_eq(pci.name, "PULL", "PullSubscription.consumer_info names the consumer")
    await within("unsubscribe pull", psub.unsubscribe())

    # --- push consumer (durable, manual ack) -------------------------------------------------
    sub = await within("js.subscribe", js.subscribe("pyjs.a", durable="PUSH", manual_ack=True))
    got = []
    for _ in range(2):
        m = await within("push next_msg", sub.next_msg(timeout=STEP))
        got.append(m)
    check_eq([m.data for m in got], [b"a1", b"a2"], "push subscribe: receives pyjs.a's messages in order")
    check_eq([m.metadata.sequence.stream for m in got], [1, 2], "push subscribe: stream seqs 1, 2")
    check_eq((got[0].metadata.consumer, got[0].metadata.num_delivered), ("PUSH", 1),
             "push subscribe: metadata consumer and num_delivered")
    for m in got:
        await within("push ack", m.ack())
    ack = await within("publish to push", js.publish("pyjs.a", b"a3"))
    m = await within("push next_msg live", sub.next_msg(timeout=STEP))
    check_eq((m.data, m.metadata.sequence.stream), (b"a3", ack.seq), "push subscribe: receives a live publish")
    await within("ack_sync push", m.ack_sync(timeout=STEP))

    async def push_settled():
        ci = await sub.consumer_info()
        return ci if ci.num_ack_pending == 0 and ci.delivered.consumer_seq == 3 else None

    ci = await eventually("push consumer_info", push_settled)
    check_eq(ci.name, "PUSH", "push consumer_info: name")
    check(bool(ci.config.deliver_subject), "push consumer_info: has a deliver_subject", "non-empty",
          ci.config.deliver_subject)
    check_eq((ci.num_pending, ci.num_ack_pending, ci.ack_floor.stream_seq), (0, 0, ack.seq),
             "push consumer_info: all acked")
    await within("unsubscribe push", sub.unsubscribe())

    # --- queue-group push consumer -----------------------------------------------------------
    seen = {"one": [], "two": []}
    total = 20

    def collector(name):
        async def cb(msg):
            seen[name].append(msg.metadata.sequence.stream)
        return cb

    q1 = await within("queue subscribe 1", js.subscribe("pyjs.q", queue="q", durable="q", cb=collector("one")))
    q2 = await within("queue subscribe 2", js.subscribe("pyjs.q", queue="q", durable="q", cb=collector("two")))
    seqs = []
    for i in range(total):
        ack = await within("publish pyjs.q", js.publish("pyjs.q", f"q{i}".encode()))
        seqs.append(ack.seq)

    async def all_seen():
        return len(seen["one"]) + len(seen["two"]) >= total

    await eventually("queue subscribers receive all", all_seen)
    await asyncio.sleep(0.2)  # anything extra (a duplicate delivery) would arrive by now
    got = sorted(seen["one"] + seen["two"])
    check_eq(got, seqs, "queue group: every message delivered exactly once across the two subscribers")
    check(seen["one"] and seen["two"], "queue group: both subscribers got some messages",
          "both > 0", (len(seen["one"]), len(seen["two"])))

    async def queue_settled():
        ci = await js.consumer_info(STREAM, "q")
        return ci if ci.num_ack_pending == 0 and ci.delivered.consumer_seq == total else None

    ci = await eventually("queue consumer_info", queue_settled)
    check_eq(ci.config.deliver_group, "q", "queue consumer_info: deliver_group")
    check_eq((ci.num_pending, ci.num_ack_pending), (0, 0), "queue consumer_info: all auto-acked")
    await within("unsubscribe q1", q1.unsubscribe())
    await within("unsubscribe q2", q2.unsubscribe())

    # --- deletes -----------------------------------------------------------------------------
    check_eq(await within("delete_consumer", js.delete_consumer(STREAM, "PULL")), True, "delete_consumer")
    try:
        await within("consumer_info of deleted", js.consumer_info(STREAM, "PULL"))
        raise AssertionError("consumer_info of a deleted consumer: expected NotFoundError")
    except nats.js.errors.NotFoundError as e:
        check_eq(e.err_code, 10014, "consumer_info of a deleted consumer: NotFoundError 10014")
    check_eq(await within("delete_stream", js.delete_stream(STREAM)), True, "delete_stream")
    try:
        await within("stream_info of deleted", js.stream_info(STREAM))
        raise AssertionError("stream_info of a deleted stream: expected NotFoundError")
    except nats.js.errors.NotFoundError as e:
        check_eq(e.err_code, 10059, "stream_info of a deleted stream: NotFoundError 10059")

    await key_value(js)

    await within("close", nc.close())
    check(nc.is_closed, "close")


async def key_value(js):
    """nats-py's `js.create_key_value()` / `js.key_value()` buckets."""
    import nats.js.kv

    kv = await within("create_key_value", js.create_key_value(bucket="PYKV", history=3))
    status = await within("kv status", kv.status())
    check_eq((status.bucket, status.history, status.values), ("PYKV", 3, 0), "kv: new bucket status")
    kv = await within("key_value", js.key_value("PYKV"))
    r1 = await within("kv put", kv.put("color", b"red"))
    r2 = await within("kv put", kv.put("color", b"green"))
    check(r2 > r1, "kv: put revisions increase", f"> {r1}", r2)
    e = await within("kv get", kv.get("color"))
    check_eq((e.key, e.value, e.revision), ("color", b"green", r2), "kv: get gives the latest value")
    try:
        await within("kv create existing", kv.create("color", b"blue"))
        raise AssertionError("kv create of an existing key: expected an error")
    except nats.js.errors.KeyWrongLastSequenceError:
        check(True, "kv: create of an existing key fails")
    try:
        await within("kv stale update", kv.update("color", b"blue", last=r1))
        raise AssertionError("kv update with a stale revision: expected an error")
    except nats.js.errors.KeyWrongLastSequenceError:
        check(True, "kv: update with a stale revision fails")
    r3 = await within("kv update", kv.update("color", b"blue", last=r2))
    check(r3 > r2, "kv: update with the right revision succeeds", f"> {r2}", r3)
    await within("kv put", kv.put("size", b"L"))
    keys = await within("kv keys", kv.keys())
    check_eq(sorted(keys), ["color", "size"], "kv: keys")
    hist = await within("kv history", kv.history("color"))
    check_eq([h.value for h in hist], [b"red", b"green", b"blue"], "kv: history keeps 3 revisions")
    await within("kv delete", kv.delete("size"))
    try:
        await within("kv get deleted", kv.get("size"))
        raise AssertionError("kv get of a deleted key: expected KeyNotFoundError")
    except nats.js.errors.KeyNotFoundError as e:
        # nats-py 2.9 turns the delete marker it read into "not found", keeping the operation.
        check_eq(e.op, "DEL", "kv: get of a deleted key raises KeyNotFoundError with op DEL")
    try:
        await within("kv get missing", kv.get("nope"))
        raise AssertionError("kv get of a missing key: expected KeyNotFoundError")
    except nats.js.errors.KeyNotFoundError:
        check(True, "kv: get of a missing key raises KeyNotFoundError")
    await within("kv purge", kv.purge("color"))
    try:
        keys = await within("kv keys after purge", kv.keys())
    except nats.js.errors.NoKeysError:
        keys = []
    check_eq(keys, [], "kv: no live keys after delete and purge")
    w = await within("kv watchall", kv.watchall())
    first = await within("watch marker", w.updates(timeout=STEP))
    check(first is None or first.operation in ("DEL", "PURGE"), "kv: watchall starts with markers or the end-of-initial marker",
          "None or a marker", first)
    await within("kv put", kv.put("live", b"1"))
    seen = None
    for _ in range(5):
        upd = await within("watch update", w.updates(timeout=STEP))
        if upd is not None and upd.key == "live":
            seen = upd
            break
    check(seen is not None and seen.value == b"1", "kv: watchall sees a live put", b"1", seen)
    await within("watch stop", w.stop())
    check_eq(await within("delete_key_value", js.delete_key_value("PYKV")), True, "kv: delete bucket")


def run():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} NATS_URL", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1]), TOTAL_LIMIT))
    except AssertionError as e:
        print(f"FAIL after {CHECKS} checks: {e}", flush=True)
        traceback.print_exc()
        return 1
    except Exception as e:  # an unexpected error from nats-py is a failure too
        print(f"FAIL after {CHECKS} checks: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
        return 1
    print(f"all {CHECKS} checks passed in {time.monotonic() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
