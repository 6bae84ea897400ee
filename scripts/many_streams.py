#!/usr/bin/env python3
"""Many streams on one server: sluice against nats-server, same run.

Creates N file streams (one subject each) over one connection, with the API requests
pipelined, then reports for each server: the time to create them, the server's RSS and thread
count with them idle, its CPU use over an idle period, and the time a restart takes until the
server answers `$JS.API.INFO` with all N streams.

usage: scripts/many_streams.py [N] [IDLE_SECS]     (defaults: 10000 streams, 10 s idle)
Needs target/release/sluice (cargo build --release -p sluice) and nats-server on PATH.
SERVERS=sluice (or nats-server) runs only that one; SLUICE_BIN=path measures another sluice
binary (a build of an earlier commit, for before/after).
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
SLUICE = os.environ.get("SLUICE_BIN") or os.path.join(ROOT, "target", "release", "sluice")
NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, port, store):
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc


class Conn:
    def __init__(self, port, wait=60):
        end = time.time() + wait
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.02)
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

    def msg(self):
        while True:
            line = self.line()
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"MSG "):
                n = int(line.split()[-1])
                while len(self.buf) < n + 2:
                    self.buf += self.s.recv(1 << 16)
                data, self.buf = self.buf[:n], self.buf[n + 2 :]
                return data

    def request(self, subject, body, tag):
        b = body.encode()
        self.s.sendall(b"PUB %s _INBOX.ms.%s %d\r\n%s\r\n" % (subject.encode(), tag.encode(), len(b), b))


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


def account_streams(c):
    c.request("$JS.API.INFO", "", "info")
    return json.loads(c.msg()).get("streams", 0)


def run(name, binary, n, idle):
    store = tempfile.mkdtemp(prefix=f"many-{name}-")
    port = free_port()
    proc = start(binary, port, store)
    try:
        c = Conn(port)
        t0 = time.time()
        window = 256
        sent = done = failed = 0
        first_error = None
        while done < n:
            while sent < n and sent - done < window:
                cfg = json.dumps({"name": f"S{sent}", "subjects": [f"many.{sent}"], "storage": "file"})
                c.request(f"$JS.API.STREAM.CREATE.S{sent}", cfg, str(sent))
                sent += 1
            answer = json.loads(c.msg())
            done += 1
            if "error" in answer:
                failed += 1
                first_error = first_error or answer["error"]["description"]
        create_s = time.time() - t0
        n_ok = n - failed
        time.sleep(1)
        c0 = cpu_ticks(proc.pid)
        time.sleep(idle)
        idle_cpu = (cpu_ticks(proc.pid) - c0) / TICKS / idle * 100
        rss = status(proc.pid, "VmRSS") / 1024
        threads = status(proc.pid, "Threads")
        proc.kill()
        proc.wait()
        t0 = time.time()
        proc = start(binary, port, store)
        c = Conn(port, wait=600)
        while account_streams(c) < n_ok:
            time.sleep(0.05)
        restart_s = time.time() - t0
        restart_rss = status(proc.pid, "VmRSS") / 1024
        return {
            "server": name,
            "created": n_ok,
            "first_error": first_error or "",
            "create_s": round(create_s, 2),
            "idle_cpu_pct": round(idle_cpu, 1),
            "rss_mib": round(rss, 1),
            "threads": threads,
            "restart_s": round(restart_s, 2),
            "rss_after_restart_mib": round(restart_rss, 1),
        }
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    print(f"{n} file streams asked for, idle {idle:g} s", flush=True)
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
