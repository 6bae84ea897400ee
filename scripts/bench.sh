#!/usr/bin/env bash
# Side-by-side benchmark: sluice against nats-server on this machine, same run, with the load
# generator `sluice bench` (which checks every workload's correctness as it measures).
#
# For each workload, ROUNDS rounds; in each round both servers run it, alternating which goes
# first, each started fresh on its own port (-p -1, read from its log) and store directory.
# Prints per workload the median of each, the ratio, and each server's peak RSS (VmHWM, the
# highest over the rounds), and writes the table to bench/RESULTS.md.
# With 2 or more cores the server runs on core 0 and the load generator on core 1.
#
# usage: scripts/bench.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
COMMAND="scripts/bench.sh $*"
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nats-server >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
cargo build -q --release -p sluice
SLUICE=target/release/sluice
NATS=$(command -v nats-server)

SRV_PIN=(); GEN_PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SRV_PIN=(taskset -c 0); GEN_PIN=(taskset -c 1)
fi

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# start sluice|nats FLAGS...: starts the server on a port it picks itself (-p -1) with a fresh
# store directory, waits until it listens, and sets SERVER_PID and PORT.
start() {
    local which=$1; shift
    local bin=$SLUICE; [ "$which" = nats ] && bin=$NATS
    rm -rf "$TMP/store"
    "${SRV_PIN[@]}" "$bin" -a 127.0.0.1 -p -1 -sd "$TMP/store" "$@" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        # (The log may not exist yet: the background job opens it.)
        PORT=$(sed -n 's/.*Listening for client connections on .*:\([0-9]*\)$/\1/p' \
            "$TMP/server.log" 2>/dev/null || true)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$which did not start:" >&2; cat "$TMP/server.log" >&2; exit 1
}

# stop: records the server's peak RSS (KiB) in RSS_KB, then stops it.
stop() {
    RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    rm -rf "$TMP/store"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "FAIL"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }
max_of() { sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
fmt() { awk -v x="$1" 'BEGIN {if (x == "FAIL") print x; else if (x >= 100) printf "%.0f", x; else printf "%.1f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "FAIL" || b == "FAIL" || b == 0) print "-"; else printf "%.2fx", a/b}'; }

ROWS=()
WORKLOADS=()
row() {
    local line
    line=$(printf "| %s | %s | %s | %s | %s | %s |" "$@")
    ROWS+=("$line")
    echo "$line"
}

# run LABEL "SLUICE FLAGS" "NATS FLAGS" BENCH ARGS...: ROUNDS rounds of `sluice bench ARGS`
# against each server; prints the row(s).
run() {
    local label=$1 sl_flags=$2 ns_flags=$3; shift 3
    local base="-a 127.0.0.1 -p -1 -sd DIR"
    WORKLOADS+=("| $label | \`sluice $base${sl_flags:+ $sl_flags}\` | \`nats-server $base${ns_flags:+ $ns_flags}\` | \`sluice bench $* --server 127.0.0.1:PORT --json\` |")
    for which in sluice nats; do : >"$TMP/$which.json"; : >"$TMP/$which.rss"; done
    for r in $(seq "$ROUNDS"); do
        local order="sluice nats"; [ $((r % 2)) -eq 0 ] && order="nats sluice"
        for which in $order; do
            local flags=$sl_flags; [ "$which" = nats ] && flags=$ns_flags
            # shellcheck disable=SC2086 # flags are word lists
            start "$which" $flags
            local out
            if out=$("${GEN_PIN[@]}" "$SLUICE" bench "$@" --server "127.0.0.1:$PORT" --json); then
                echo "$out" >>"$TMP/$which.json"
                echo "  round $r/$ROUNDS $label, $which: $(echo "$out" | field msgs_per_sec) msgs/s" >&2
            else
                echo "  round $r/$ROUNDS $label, $which: FAILED (see above)" >&2
            fi
            stop
            echo "$RSS_KB" >>"$TMP/$which.rss"
        done
    done
    local sl_rss ns_rss
    sl_rss=$(mib "$(max_of <"$TMP/sluice.rss")"); ns_rss=$(mib "$(max_of <"$TMP/nats.rss")")
    if [ "$1" = reqrep ]; then
        local p sl ns
        for p in p50 p99; do
            sl=$(field "${p}_us" <"$TMP/sluice.json" | median); ns=$(field "${p}_us" <"$TMP/nats.json" | median)
            row "$label, $p latency µs (lower is better)" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$ns" "$sl")" "$sl_rss" "$ns_rss"
        done
        sl=$(field msgs_per_sec <"$TMP/sluice.json" | median); ns=$(field msgs_per_sec <"$TMP/nats.json" | median)
        row "$label, round trips/s" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$sl" "$ns")" "$sl_rss" "$ns_rss"
    else
        local sl ns
        sl=$(field msgs_per_sec <"$TMP/sluice.json" | median); ns=$(field msgs_per_sec <"$TMP/nats.json" | median)
        row "$label" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$sl" "$ns")" "$sl_rss" "$ns_rss"
    fi
}

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
PINNING="server on core 0, load generator on core 1 (taskset)"
[ ${#SRV_PIN[@]} -eq 0 ] && PINNING="none (fewer than 2 cores, or no taskset)"
HEADER="| workload (msgs/s unless noted; median of $ROUNDS) | sluice | nats-server | ratio | sluice peak RSS MiB | nats-server peak RSS MiB |"
RULE="|---|--:|--:|--:|--:|--:|"
echo "machine: $(nproc) cores, ${CPU:-unknown CPU}; rounds: $ROUNDS; pinning: $PINNING; $(date -u +%F)"
echo "$HEADER"; echo "$RULE"

run "pub 16 B"                  "" "" pub --msgs 5000000 --size 16
run "pub 1 KiB"                 "" "" pub --msgs 1000000 --size 1024
run "pubsub 1->1, 16 B"         "" "" pubsub --msgs 5000000 --size 16
run "pubsub 1->1, 1 KiB"        "" "" pubsub --msgs 1000000 --size 1024
run "fanout 1->4, 16 B"         "" "" fanout --subs 4 --msgs 2000000 --size 16
run "fanout 1->4, 1 KiB"        "" "" fanout --subs 4 --msgs 500000 --size 1024
run "queue 1->4, 16 B"          "" "" queue --subs 4 --msgs 5000000 --size 16
run "queue 1->4, 1 KiB"         "" "" queue --subs 4 --msgs 1000000 --size 1024
run "reqrep 16 B"               "" "" reqrep --msgs 20000 --size 16
run "js-pub 128 B, window 1, sluice --sync always (default)" "-js" "-js" js-pub --window 1 --msgs 5000 --size 128
run "js-pub 128 B, window 1, sluice --sync 2m (as nats-server)" "-js --sync 2m" "-js" js-pub --window 1 --msgs 20000 --size 128
run "js-pub 128 B, window 256, sluice --sync always (default)" "-js" "-js" js-pub --window 256 --msgs 200000 --size 128
run "js-pub 128 B, window 256, sluice --sync 2m (as nats-server)" "-js --sync 2m" "-js" js-pub --window 256 --msgs 200000 --size 128
run "js-consume pull batch 100, 128 B" "-js" "-js" js-consume --msgs 200000 --size 128

mkdir -p bench
{
    echo "# Sluice vs nats-server: benchmark results"
    echo
    echo "- date: $(date -u '+%F %H:%M UTC')"
    echo "- machine: $(nproc) cores, ${CPU:-unknown CPU}, $(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "- servers: $("$SLUICE" --version), $("$NATS" --version 2>&1 | head -1)"
    echo "- command: \`$COMMAND\` (rounds: $ROUNDS)"
    echo "- pinning: $PINNING"
    echo
    echo "$HEADER"; echo "$RULE"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "## How to read this"
    echo
    echo "Each number is the median over the rounds; in every round each server is started fresh (own"
    echo "port, own empty store directory) and runs the workload once, the two servers alternating"
    echo "which goes first. Throughput rows are messages per second as the load generator"
    echo "(\`sluice bench\`) measured them, and their ratio is sluice / nats-server: above 1.00x"
    echo "sluice is faster. Latency rows (reqrep p50, p99, in µs) are lower-is-better, so their ratio"
    echo "is nats-server / sluice: above 1.00x sluice is better there too. Peak RSS is the server's"
    echo "VmHWM just before it was stopped, the highest over the rounds. Fanout counts each published"
    echo "message once (each of the 4 subscribers receives all of them). js-consume measures the"
    echo "drain only (first pull request to last message acked), after filling the stream. nats-server"
    echo "acks a JetStream publish once written and fsyncs every 2 minutes; sluice's default"
    echo "(\`--sync always\`) acks only after fdatasync, so the js-pub rows are given twice: sluice's"
    echo "default against nats-server's, and \`--sync 2m\` (the same promise as nats-server)."
    echo "Every run checks its own correctness (all messages, in order, exactly once, every ack"
    echo "the right PubAck); a failed run is left out of the median, and FAIL means every round failed."
    echo
    echo "## Workloads"
    echo
    echo "| row | sluice | nats-server | load generator |"
    echo "|---|---|---|---|"
    printf '%s\n' "${WORKLOADS[@]}" | awk '!seen[$0]++'
} >bench/RESULTS.md
echo "wrote bench/RESULTS.md"
