#!/usr/bin/env python3
"""Failover of an R3 stream's leader: sluice against nats-server, same run.

For each run: a fresh 3-node cluster (as many_streams_r3.py starts it), one R3 file stream
with a message stored; the stream's leader is killed with SIGKILL, and a client on a surviving
node publishes (0.25 s per try, a new try as soon as one fails) until one is acknowledged.
Reports, per server, the time from the kill to that first ack for every run, and the median.
The brief asks for publishes to succeed again within 2 s of a leader's death (nats-server
2.9's elections take 4 to 9 s).

usage: scripts/failover_r3.py [RUNS]     (default 5)
Environment: SERVERS=sluice (or nats-server) runs only that one; PIN=0 runs the nodes
unpinned (default: all on core 0); SLUICE_BIN as for many_streams_r3.py (build first:
cargo build --release -p sluice).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import many_streams_r3 as ms  # noqa: E402  (the cluster and the raw client)

STREAM = '{"name":"F","subjects":["f.>"],"storage":"file","num_replicas":3}'
LIMIT = 30.0


def leader(c):
    r = c.request("$JS.API.STREAM.INFO.F", "", timeout=2)
    return ((r or {}).get("cluster") or {}).get("leader")


def one_run(binary, name):
    cl = ms.Cluster(binary, name)
    try:
        # One connection at a time: every raw client here listens on the same inbox.
        setup = ms.Conn(cl.client[0])
        ms.wait_ready(setup)
        r = setup.request("$JS.API.STREAM.CREATE.F", STREAM, timeout=10)
        if r is None or "error" in r:
            raise RuntimeError(f"create: {r}")
        end = time.time() + LIMIT
        while True:
            ack = setup.request("f.before", "x", timeout=1)
            who = leader(setup)
            if ack and "seq" in ack and who:
                break
            if time.time() > end:
                raise RuntimeError("no leader and no ack before the kill")
            time.sleep(0.1)
        setup.s.close()
        dead = int(who.lstrip("n"))
        survivor = ms.Conn(cl.client[(dead + 1) % 3])
        cl.procs[dead].kill()
        t0 = time.time()
        tries = 0
        while True:
            tries += 1
            ack = survivor.request("f.after", "y", timeout=0.25)
            if ack and "seq" in ack:
                return time.time() - t0, tries
            if time.time() - t0 > LIMIT:
                return None, tries
            time.sleep(0.01)
    finally:
        cl.stop()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = [s for s in os.environ.get("SERVERS", "sluice,nats-server").split(",") if s]
    print(f"kill -9 of an R3 stream's leader -> first ack through a survivor, {runs} runs; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    print("| server | runs (s) | median (s) | max (s) |")
    print("|---|---|---|---|")
    for name, binary in [("sluice", ms.SLUICE), ("nats-server", ms.NATS)]:
        if name not in only:
            continue
        times = []
        for _ in range(runs):
            t, _tries = one_run(binary, name)
            times.append(t if t is not None else float("inf"))
        shown = ", ".join("never" if t == float("inf") else f"{t:.2f}" for t in times)
        print(f"| {name} | {shown} | {statistics.median(times):.2f} | {max(times):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
