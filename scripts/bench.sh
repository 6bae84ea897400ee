#!/usr/bin/env bash
# First-cut side-by-side benchmark: sluice against nats-server on this machine, same run.
# Each workload runs ROUNDS times against each server, alternating, each server started fresh
# on its own port and store directory; prints per workload the median of each and the ratio.
# (The full instrument, `sluice bench` with every workload, comes with the benchmark issue.)
#
# usage: scripts/bench.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nats-server >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
cargo build -q --release -p sluice
cargo build -q --release -p integration-tests --example pubsub --example jspub --example jsconsume
BIN=target/release
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# start SERVER DIR EXTRA...: starts sluice or nats-server on a port it picks itself (-p -1),
# waits until it listens, and sets PORT from its log.
start() {
    local which=$1 dir=$2; shift 2
    if [ "$which" = sluice ]; then
        "$BIN/sluice" -a 127.0.0.1 -p -1 -sd "$dir" "$@" >"$TMP/$which.log" 2>&1 &
    else
        nats-server -a 127.0.0.1 -p -1 -sd "$dir" "$@" >"$TMP/$which.log" 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*Listening for client connections on .*:\([0-9]*\)$/\1/p' "$TMP/$which.log")
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "$which did not start:" >&2; cat "$TMP/$which.log" >&2; return 1
}
stop() { kill "${PIDS[-1]}" 2>/dev/null || true; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run NAME SERVER_EXTRA_SLUICE SERVER_EXTRA_NATS -- CLIENT ARGS (with @ for the address)
run() {
    local name=$1 sl_extra=$2 ns_extra=$3; shift 3
    : >"$TMP/sl.rates"; : >"$TMP/ns.rates"
    for r in $(seq "$ROUNDS"); do
        for which in sluice nats; do
            local dir="$TMP/store-$which-$r-$RANDOM"
            if [ "$which" = sluice ]; then start sluice "$dir" $sl_extra; else start nats "$dir" $ns_extra; fi
            local args=("${@/@/127.0.0.1:$PORT}")
            local out; out=$("${args[@]}")
            stop
            echo "$out" | sed -n 's/.*rate=\([0-9]*\).*/\1/p' >>"$TMP/$([ "$which" = sluice ] && echo sl || echo ns).rates"
        done
    done
    local sl ns; sl=$(median <"$TMP/sl.rates"); ns=$(median <"$TMP/ns.rates")
    printf "%-34s %14s %14s %8s\n" "$name" "$sl" "$ns" "$(awk -v a="$sl" -v b="$ns" 'BEGIN {printf "%.2fx", a/b}')"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); rounds: $ROUNDS; $(date -u +%F)"
printf "%-34s %14s %14s %8s\n" "workload (msgs/s, median)" "sluice" "nats-server" "ratio"
run "pubsub 1->1, 16 B" "" "" "$BIN/examples/pubsub" @ 2000000 16
run "pubsub 1->1, 1 KiB" "" "" "$BIN/examples/pubsub" @ 300000 1024
run "js-pub 128 B, 1 in flight (sync always)" "-js" "-js" "$BIN/examples/jspub" @ 2000 128 1
run "js-pub 128 B, 1 in flight (sync 2m)" "-js --sync 2m" "-js" "$BIN/examples/jspub" @ 10000 128 1
run "js-pub 128 B, 256 in flight (sync always)" "-js" "-js" "$BIN/examples/jspub" @ 100000 128 256
run "js-pub 128 B, 256 in flight (sync 2m)" "-js --sync 2m" "-js" "$BIN/examples/jspub" @ 100000 128 256
run "js-consume pull batch 100, 128 B" "-js" "-js" "$BIN/examples/jsconsume" @ pull 100000 128
run "js-consume push, 128 B" "-js" "-js" "$BIN/examples/jsconsume" @ push 100000 128
