#!/usr/bin/env python3
"""Many R3 streams on a 3-node cluster: sluice against nats-server, same run.

For each server: starts a fresh 3-node cluster on 127.0.0.1 (own client, route and monitor
ports, own store directories, -n n0..n2, --cluster_name many, full mesh of --routes, -js),
waits until an R3 stream can be created through node 0 (deleted again), then creates N R3
file streams (one subject each) through node 0, at most WINDOW create requests in flight,
and reports: the time to create them (first request to last answer), how many were created
and the first error; then, after SETTLE seconds, the CPU each node uses over IDLE seconds
of idleness (percent of one core), each node's RSS and thread count; then how many streams
do not answer STREAM.INFO with a leader within 1 s (unavailable) and how their leaders spread over the nodes, and how many of those
(the first 100) still do not RECHECK (default 10) seconds later (3 s each).

usage: scripts/many_streams_r3.py [N] [IDLE_SECS]     (defaults: 1000 streams, 30 s idle)
Environment: SERVERS=sluice (or nats-server) runs only that one; WINDOW (default 32) create
requests in flight; SETTLE (default 5) seconds between the last answer and the idle
measurement; TIMEOUT (default 60) seconds without any answer before the rest count as
failed; KEEP_LOGS=DIR keeps the nodes' logs in DIR/<server>/; DEBUG=1 starts them with -D;
PIN=0 to run the nodes unpinned (default: the 3 nodes on core 0, as bench_r3.sh);
SLUICE_BIN=path measures another sluice binary (default $CARGO_TARGET_DIR/release/sluice,
else target/release/sluice; build it first: cargo build --release -p sluice).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "sluice"
)
NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"
TICKS = os.sysconf("SC_CLK_TCK")


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Cluster:
    def __init__(self, binary, name, debug=False):
        self.dir = tempfile.mkdtemp(prefix=f"many-r3-{name}-")
        ports = free_ports(9)
        self.client, self.route, self.http = ports[0:3], ports[3:6], ports[6:9]
        pin = ["taskset", "-c", "0"] if os.environ.get("PIN", "1") != "0" and shutil.which("taskset") and os.cpu_count() >= 2 else []
        self.procs = []
        for i in range(3):
            routes = ",".join(f"nats://127.0.0.1:{self.route[j]}" for j in range(3) if j != i)
            args = pin + [binary, "-a", "127.0.0.1", "-p", str(self.client[i]), "-m", str(self.http[i]),
                          "-n", f"n{i}", "--cluster", f"nats://127.0.0.1:{self.route[i]}",
                          "--cluster_name", "many", "--routes", routes,
                          "-js", "-sd", os.path.join(self.dir, f"s{i}")]
            if debug:
                args.append("-D")
            log = open(os.path.join(self.dir, f"n{i}.log"), "w")
            self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def stop(self, keep_logs=None):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if keep_logs:
            os.makedirs(keep_logs, exist_ok=True)
            for i in range(3):
                shutil.copy(os.path.join(self.dir, f"n{i}.log"), keep_logs)
        shutil.rmtree(self.dir, ignore_errors=True)


class Conn:
    def __init__(self, port, wait=30):
        end = time.time() + wait
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.line()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.ms.* 1\r\nPING\r\n')
        assert self.line() == b"PONG"

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def msg(self, timeout):
        """(subject, payload) of the next message, or None after `timeout` s without one."""
        self.s.settimeout(timeout)
        try:
            while True:
                line = self.line()
                if line == b"PING":
                    self.s.sendall(b"PONG\r\n")
                    continue
                if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                    parts = line.split()
                    n = int(parts[-1])
                    while len(self.buf) < n + 2:
                        d = self.s.recv(1 << 16)
                        if not d:
                            raise EOFError("closed")
                        self.buf += d
                    data, self.buf = self.buf[:n], self.buf[n + 2:]
                    if line.startswith(b"HMSG "):
                        hlen = int(parts[-2])
                        data = data[:hlen]  # a status (503 no responders...): keep the header
                    return parts[1].decode(), data
        except socket.timeout:
            return None

    def send(self, subject, body, tag):
        b = body.encode()
        self.s.sendall(b"PUB %s _INBOX.ms.%s %d\r\n%s\r\n" % (subject.encode(), tag.encode(), len(b), b))

    def request(self, subject, body, timeout=5):
        self.send(subject, body, "req")
        end = time.time() + timeout
        while time.time() < end:
            m = self.msg(max(0.01, end - time.time()))
            if m is None:
                return None
            if m[0] == "_INBOX.ms.req":
                try:
                    return json.loads(m[1])
                except ValueError:
                    return {"error": {"description": m[1].decode(errors="replace").strip()}}
        return None


def config(name, subject):
    return json.dumps({"name": name, "subjects": [subject], "storage": "file", "num_replicas": 3})


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_ready(c, limit=60):
    t0 = time.time()
    last = None
    while time.time() - t0 < limit:
        r = c.request("$JS.API.STREAM.CREATE.READY", config("READY", "ready.x"), timeout=2)
        if r is not None and "error" not in r:
            c.request("$JS.API.STREAM.DELETE.READY", "", timeout=10)
            return time.time() - t0
        last = r
        time.sleep(0.2)
    raise RuntimeError(f"no R3 stream within {limit} s; last answer: {last}")


def run(name, binary, n, idle):
    window = int(os.environ.get("WINDOW", "32"))
    settle = float(os.environ.get("SETTLE", "5"))
    timeout = float(os.environ.get("TIMEOUT", "60"))
    cl = Cluster(binary, name, debug=os.environ.get("DEBUG") == "1")
    try:
        c = Conn(cl.client[0])
        ready_s = wait_ready(c)
        t0 = time.time()
        sent = done = failed = 0
        first_error = None
        while done < n:
            while sent < n and sent - done < window:
                c.send(f"$JS.API.STREAM.CREATE.S{sent}", config(f"S{sent}", f"many.{sent}"), str(sent))
                sent += 1
            m = c.msg(timeout)
            if m is None:
                failed += n - done
                first_error = first_error or f"{n - done} creates unanswered for {timeout:g} s"
                break
            done += 1
            try:
                answer = json.loads(m[1])
            except ValueError:
                answer = {"error": {"description": m[1].decode(errors="replace").strip()}}
            if "error" in answer:
                failed += 1
                first_error = first_error or answer["error"].get("description", str(answer["error"]))
        create_s = time.time() - t0
        time.sleep(settle)
        pids = [p.pid for p in cl.procs]  # taskset execs the server: same pid
        c0 = [cpu_ticks(p) for p in pids]
        time.sleep(idle)
        cpu = [(cpu_ticks(p) - a) / TICKS / idle * 100 for p, a in zip(pids, c0)]
        rss = [status(p, "VmRSS") / 1024 for p in pids]
        hwm = [status(p, "VmHWM") / 1024 for p in pids]
        threads = [status(p, "Threads") for p in pids]
        # Every stream must answer STREAM.INFO (through node 0) with a leader; the ones that
        # do not are asked again after RECHECK seconds.
        leaders = {}
        def unavailable(ids, wait):
            out = []
            leaders.clear()
            for i in ids:
                r = c.request(f"$JS.API.STREAM.INFO.S{i}", "", timeout=wait)
                if r is None:
                    out.append((i, f"no answer in {wait:g} s"))
                elif "error" in r:
                    out.append((i, r["error"].get("description")))
                elif not (r.get("cluster") or {}).get("leader"):
                    out.append((i, "no leader"))
                else:
                    l = r["cluster"]["leader"]
                    leaders[l] = leaders.get(l, 0) + 1
            return out
        bad = unavailable(range(n), 1)
        # How the stream leaders spread over the servers.
        spread = " / ".join(str(v) for _, v in sorted(leaders.items()))
        recheck = float(os.environ.get("RECHECK", "10"))
        time.sleep(recheck)
        still = unavailable([i for i, _ in bad[:100]], 3)
        if bad:
            print(f"  {name}: STREAM.INFO failed for {len(bad)}: "
                  + ", ".join(f"S{i} ({why})" for i, why in bad[:20])
                  + f"; {len(still)} of the first {min(len(bad), 100)} still {recheck:g} s later",
                  file=sys.stderr)
        alive = all(p.poll() is None for p in cl.procs)
        return {
            "server": name,
            "ready_s": round(ready_s, 1),
            "created": f"{n - failed} of {n}",
            "first_error": (first_error or "")[:120],
            "create_s": round(create_s, 2),
            "creates_per_s": round((n - failed) / create_s, 1) if create_s > 0 else 0,
            "idle_cpu_pct_per_node": " / ".join(f"{x:.1f}" for x in cpu),
            "rss_mib_per_node": " / ".join(f"{x:.0f}" for x in rss),
            "peak_rss_mib_per_node": " / ".join(f"{x:.0f}" for x in hwm),
            "threads_per_node": " / ".join(str(t) for t in threads),
            "leaders_per_node": spread,
            "unavailable": len(bad),
            "still_unavailable": f"{len(still)} of {min(len(bad), 100)}",
            "nodes_alive": "yes" if alive else "NO",
        }
    finally:
        keep = os.environ.get("KEEP_LOGS")
        cl.stop(os.path.join(keep, name) if keep else None)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    window = os.environ.get("WINDOW", "32")
    print(f"{n} R3 file streams on 3-node clusters, {window} creates in flight, idle {idle:g} s; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    header = False
    only = [s for s in os.environ.get("SERVERS", "sluice,nats-server").split(",") if s]
    for name, binary in [("sluice", SLUICE), ("nats-server", NATS)]:
        if name not in only:
            continue
        r = run(name, binary, n, idle)
        if not header:
            print("| " + " | ".join(r) + " |")
            print("|" + "---|" * len(r))
            header = True
        print("| " + " | ".join(str(v) for v in r.values()) + " |", flush=True)


if __name__ == "__main__":
    main()
