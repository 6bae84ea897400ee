#!/usr/bin/env python3
"""Many replicated streams on a 3-node cluster: sluice against nats-server, same run.

Starts a fresh 3-node cluster (each node its own ports and store), creates N R3 file streams
(one subject each) through node 1 with at most CONCURRENCY create requests in flight, then
reports: the time to create them all, each node's CPU use over IDLE_SECS with them idle (% of
one core), each node's RSS, and how many groups each node leads.

usage: scripts/many_r3.py [N] [IDLE_SECS]     (defaults: 1000 streams, 30 s idle)
Needs target/release/sluice (cargo build --release -p sluice), nats-server on PATH and nats-py.
SERVERS=sluice (or nats-server) runs only that one; SLUICE_BIN=path measures another binary;
CONCURRENCY (default 16).
"""
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import nats
from nats.js.api import StreamConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE_BIN") or os.path.join(ROOT, "target", "release", "sluice")
NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"
TICKS = os.sysconf("SC_CLK_TCK")
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_cluster(binary, tmp):
    client = [free_port() for _ in range(3)]
    route = [free_port() for _ in range(3)]
    procs = []
    for i in range(3):
        routes = ",".join(f"nats://127.0.0.1:{route[j]}" for j in range(3) if j != i)
        store = os.path.join(tmp, f"n{i + 1}")
        args = [binary, "-a", "127.0.0.1", "-p", str(client[i]), "-n", f"n{i + 1}",
                "--cluster", f"nats://127.0.0.1:{route[i]}", "--cluster_name", "many",
                "--routes", routes, "-js", "-sd", store]
        log = open(os.path.join(tmp, f"n{i + 1}.log"), "w")
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
    return procs, client


async def create_all(port, n):
    deadline = time.time() + 30
    while True:
        try:
            nc = await nats.connect(f"nats://127.0.0.1:{port}", connect_timeout=1,
                                    allow_reconnect=False)
            break
        except Exception:
            if time.time() > deadline:
                raise
            await asyncio.sleep(0.2)
    js = nc.jetstream(timeout=10)
    # Ready once an R3 stream can be created.
    deadline = time.time() + 60
    while True:
        try:
            await js.add_stream(StreamConfig(name="ready", subjects=["ready"], num_replicas=3))
            break
        except Exception:
            if time.time() > deadline:
                raise
            await asyncio.sleep(0.5)
    sem = asyncio.Semaphore(CONCURRENCY)
    failed = []

    async def one(k):
        async with sem:
            for _ in range(5):
                try:
                    await js.add_stream(StreamConfig(name=f"s{k}", subjects=[f"s.{k}"],
                                                     num_replicas=3))
                    return
                except Exception as e:  # noqa: BLE001
                    err = e
                    await asyncio.sleep(0.2)
            failed.append((k, str(err)))

    t = time.time()
    await asyncio.gather(*(one(k) for k in range(n)))
    took = time.time() - t
    count = -1
    for _ in range(5):
        try:
            count = (await js.account_info()).streams
            break
        except Exception as e:  # noqa: BLE001
            print(f"  account info: {e!r}; trying again")
    await nc.close()
    return took, failed, count


def measure(name, binary, n, idle):
    tmp = tempfile.mkdtemp(prefix="many-r3-")
    procs, ports = start_cluster(binary, tmp)
    try:
        took, failed, count = asyncio.run(create_all(ports[0], n))
        time.sleep(3)  # settle: the last creates' elections and first heartbeats
        before = [cpu_ticks(p.pid) for p in procs]
        time.sleep(idle)
        after = [cpu_ticks(p.pid) for p in procs]
        cpu = [100.0 * (a - b) / TICKS / idle for a, b in zip(after, before)]
        rss = [rss_mib(p.pid) for p in procs]
        print(f"{name}: {count} streams ({n} R3 + 1), created in {took:.1f} s "
              f"({n / took:.0f}/s), {len(failed)} failed"
              + (f" (first: {failed[0]})" if failed else ""))
        print(f"  idle CPU over {idle} s, % of a core: "
              + ", ".join(f"n{i + 1} {c:.1f}" for i, c in enumerate(cpu)))
        print("  RSS MiB: " + ", ".join(f"n{i + 1} {r:.0f}" for i, r in enumerate(rss))
              + f" (sum {sum(rss):.0f})")
        return took, cpu, rss
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()
        if os.environ.get("KEEP"):
            print(f"  logs and stores kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    idle = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    which = os.environ.get("SERVERS", "sluice,nats-server").split(",")
    print(f"== {n} R3 streams on 3 nodes, {idle} s idle, {CONCURRENCY} creates in flight, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if "sluice" in which:
        measure("sluice", SLUICE, n, idle)
    if "nats-server" in which:
        measure("nats-server", NATS, n, idle)


if __name__ == "__main__":
    main()
