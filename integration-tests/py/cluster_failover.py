#!/usr/bin/env python3
"""nats-py fails over inside a cluster: it connects to one node only, learns the others from
INFO (`connect_urls`), and when that node is killed it reconnects to a survivor, where its
subscription is restored and gets messages published on the other survivor.

Usage: cluster_failover.py URL0 URL1 URL2

Run by tests/cluster_clients.rs, which owns the cluster. A line protocol on stdin/stdout:
the script prints `READY` once subscribed (through node 0) and the subscription is known on
nodes 1 and 2; the test kills node 0 and writes `KILLED`; the script prints `OK ...` when done.
Exits 0 when every check passed, 1 on the first failure, 2 on a bad invocation. Every wait is
bounded, and so is the whole run (TOTAL_LIMIT).
"""

import asyncio
import sys
import time
from urllib.parse import urlparse

import nats

# The longest any single wait may take (seconds).
STEP = 10.0
# The longest the whole script may take (seconds).
TOTAL_LIMIT = 40.0
SUBJECT = "failover.py"


def port(url):
    return urlparse(url if "://" in url else "nats://" + url).port


async def main(urls):
    node_ports = [port(u) for u in urls]
    disconnected = asyncio.Event()
    reconnected = asyncio.Event()

    async def on_disconnect():
        disconnected.set()

    async def on_reconnect():
        reconnected.set()

    sub_nc = await nats.connect(
        servers=[urls[0]],
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        connect_timeout=2,
    )
    learned = sorted(port(u.netloc) for u in sub_nc.discovered_servers)
    assert learned == sorted(node_ports[1:]), f"discovered {learned}, nodes {node_ports}"
    print(f"discovered {learned}", flush=True)

    got = asyncio.Queue()

    async def cb(msg):
        await got.put(msg.data)

    await sub_nc.subscribe(SUBJECT, cb=cb)
    await sub_nc.flush()

    pubs = [await nats.connect(servers=[u], allow_reconnect=False) for u in urls[1:]]

    async def until_received(publishers, tag):
        """Publishes from each of `publishers` until one of its messages arrives."""
        for k, p in enumerate(publishers):
            deadline = time.monotonic() + STEP
            want = f"{tag}-{k}".encode()
            while True:
                assert time.monotonic() < deadline, f"nothing from publisher {k} ({tag})"
                await p.publish(SUBJECT, want)
                await p.flush()
                try:
                    while True:
                        data = await asyncio.wait_for(got.get(), 0.02)
                        if data == want:
                            break
                except asyncio.TimeoutError:
                    continue
                break
        # Let retries in flight arrive and drop them.
        await asyncio.sleep(0.2)
        while not got.empty():
            got.get_nowait()

    await until_received(pubs, "before")
    print("READY", flush=True)

    line = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline), STEP)
    assert line.strip() == "KILLED", f"expected KILLED, got {line!r}"
    t = time.monotonic()
    await asyncio.wait_for(disconnected.wait(), STEP)
    await asyncio.wait_for(reconnected.wait(), STEP)
    now = port(sub_nc.connected_url.netloc)
    assert now in node_ports[1:], f"reconnected to {now}, expected one of {node_ports[1:]}"
    took = time.monotonic() - t
    print(f"reconnected to node {node_ports.index(now)} in {took:.3f}s", flush=True)

    # The publisher on the other survivor (not the node the subscriber is on now).
    other = pubs[0] if now == node_ports[2] else pubs[1]
    await until_received([other], "after")
    for k in range(10):
        await other.publish(SUBJECT, f"m{k}".encode())
    await other.flush()
    for k in range(10):
        data = await asyncio.wait_for(got.get(), STEP)
        assert data == f"m{k}".encode(), f"message {k}: {data!r}"
    for p in pubs:
        await p.close()
    await sub_nc.close()
    print("OK failover", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1:]), TOTAL_LIMIT))
    except Exception as e:  # noqa: BLE001 - report any failure as the test's
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
