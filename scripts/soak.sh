#!/usr/bin/env bash
# Load and soak test (bounded; not run in CI), with the driver in
# integration-tests/examples/soak/ (built here in release mode, like the server).
#
# 1. conns: CONNS (default 10,000) concurrent client connections, each subscribed to its own
#    subject and a shared one, against sluice and then nats-server (same run, same machine,
#    both with -js): connect time, the server's RSS before and with the connections idle, RSS
#    per idle connection; then one message to each connection and one broadcast, checking
#    that every connection got both.
# 2. mixed: a mixed load against sluice -js for MINUTES (default 10): core pub/sub, a queue
#    group, request-reply, JetStream publishes with Nats-Msg-Id (PubAcks awaited) and a
#    durable pull consumer acking, at a moderate fixed rate (about 2,500 publishes/s). The
#    server's RSS every 10 s goes to OUT/RSS.csv and the screen; the summary gives counts per
#    kind, errors, losses and the RSS trend after warm-up.
#
# Exits non-zero if any connection was not served, or the soak saw an error, a lost message,
# or RSS growth over 20% after warm-up. Raises the fd limit to 65536 (run as root).
#
# usage: scripts/soak.sh [--minutes N] [--conns N] [--only conns|mixed] [--out DIR]
#        (defaults: 10 minutes, 10000 connections, both parts, target/soak)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

MINUTES=10
CONNS=10000
ONLY=""
OUT=target/soak
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) MINUTES=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        *) grep -A1 '^# usage:' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
case "$ONLY" in ""|conns|mixed) ;; *) echo "--only takes conns or mixed" >&2; exit 2 ;; esac

# Each connection is a socket on both sides (the driver and the server are children of this
# shell, so they inherit the limit). Where even root may not raise the hard limit (some
# containers), the hard limit will do if it has room for CONNS.
if ! ulimit -n 65536 2>/dev/null; then
    HARD=$(ulimit -Hn)
    if [ "$HARD" != unlimited ] && [ "$HARD" -lt $((CONNS + 1024)) ]; then
        echo "soak: cannot raise the open-file limit to $((CONNS + 1024)) (hard limit $HARD)" >&2
        exit 1
    fi
    ulimit -n "$HARD"
    echo "soak: open-file limit $HARD (the hard limit; 65536 was refused)"
fi

echo "== build"
cargo build -q --release -p sluice
# The driver is an example: it needs its own build step.
cargo build -q --release -p integration-tests --example soak
SLUICE=target/release/sluice
DRIVER=target/release/examples/soak
NATS=$(command -v nats-server || true)
mkdir -p "$OUT"

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start sluice|nats FLAGS...: starts the server on a free port (-p -1) with a fresh store
# directory, waits until it listens, and sets SERVER_PID and PORT.
start() {
    local which=$1; shift
    local bin=$SLUICE; [ "$which" = nats ] && bin=$NATS
    rm -rf "$TMP/store"
    "$bin" -a 127.0.0.1 -p -1 -js -sd "$TMP/store" "$@" >"$TMP/$which.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        # (The log may not exist yet.)
        PORT=$(sed -n 's/.*Listening for client connections on .*:\([0-9]*\)$/\1/p' \
            "$TMP/$which.log" 2>/dev/null || true)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$which did not start:" >&2; cat "$TMP/$which.log" >&2; exit 1
}

# stop: fails if the server died on its own meanwhile; stops it.
stop() {
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "soak: the server exited during the run; its log:" >&2
        tail -20 "$TMP"/*.log >&2
        SERVER_PID=""
        return 1
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

field() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }

FAILED=0

# conns_row sluice|nats: runs the connections part against one server; prints a table row.
conns_row() {
    local which=$1 line
    start "$which"
    if ! line=$("$DRIVER" conns "127.0.0.1:$PORT" "$SERVER_PID" "$CONNS"); then
        FAILED=1
    fi
    stop || FAILED=1
    echo "$which $line" >>"$OUT/conns.txt"
    printf "| %-11s | %6s | %8s s | %10s | %10s | %7s B | %6s |\n" "$which" "$CONNS" \
        "$(echo "$line" | field connect_s)" "$(mib "$(echo "$line" | field rss_before_kib)")" \
        "$(mib "$(echo "$line" | field rss_idle_kib)")" "$(echo "$line" | field per_conn_bytes)" \
        "$(echo "$line" | field served)"
}

if [ "$ONLY" != mixed ]; then
    echo "== $CONNS concurrent connections"
    : >"$OUT/conns.txt"
    echo "| server      |  conns | connect    | RSS before | RSS idle   | per conn  | served |"
    echo "|-------------|--------|------------|------------|------------|-----------|--------|"
    conns_row sluice
    if [ -n "$NATS" ]; then
        conns_row nats
    else
        echo "(nats-server is not installed: no comparison)"
    fi
fi

if [ "$ONLY" != conns ]; then
    echo "== mixed soak against sluice, $MINUTES minutes (RSS samples in $OUT/RSS.csv)"
    start sluice
    if ! "$DRIVER" mixed "127.0.0.1:$PORT" "$SERVER_PID" "$MINUTES" "$OUT/RSS.csv" \
        | tee "$OUT/mixed.log"; then
        FAILED=1
    fi
    stop || FAILED=1
fi

if [ "$FAILED" -ne 0 ]; then
    echo "soak: FAILED" >&2
    exit 1
fi
echo "soak: all checks passed"
