#!/usr/bin/env bash
# Cluster benchmark: a 2-node sluice cluster against a 2-node nats-server cluster on this
# machine, same run, with the load generator `sluice bench --sub-server` (publisher on node A,
# receivers on node B; it checks every workload's correctness as it measures, and waits with
# probe messages until the receivers' interest has crossed the route before it starts the
# clock; and since nothing paces a publisher across a route, it keeps at most --in-flight
# messages published and not yet received, by default 8 MiB's worth).
#
# For each workload, ROUNDS rounds; in each round both clusters run it, alternating which goes
# first, each started fresh: node A with -p -1 and a cluster listener on a port of its own
# choosing (read from its log), node B routed to it, each with a free monitor port; the run
# starts once both nodes' /routez show num_routes 1. Prints per workload the median of each,
# the ratio, and each pair's peak RSS (VmHWM of A plus VmHWM of B, the highest over the rounds),
# and writes the table to bench/CLUSTER.md.
# Pinning, with 2 or more cores (and taskset): both nodes of a pair share core 0, the load
# generator runs on core 1 (so the two nodes compete for one core, as the single-node
# table's server does with itself).
#
# usage: scripts/bench_cluster.sh [ROUNDS]     (default $ROUNDS, else 3)
# The sluice binary: $SLUICE_BIN if set (not rebuilt), else $CARGO_TARGET_DIR/release/sluice
# (default target/release/sluice), built first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-${ROUNDS:-3}}
COMMAND="scripts/bench_cluster.sh $*"; [ $# -eq 0 ] && COMMAND="ROUNDS=$ROUNDS scripts/bench_cluster.sh"
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nats-server >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
command -v curl >/dev/null 2>&1 || { echo "bench_cluster.sh needs curl (to read /routez)" >&2; exit 1; }
if [ -n "${SLUICE_BIN:-}" ]; then
    SLUICE=$SLUICE_BIN
else
    cargo build -q --release -p sluice
    SLUICE=${CARGO_TARGET_DIR:-target}/release/sluice
fi
NATS=$(command -v nats-server)

SRV_PIN=(); GEN_PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SRV_PIN=(taskset -c 0); GEN_PIN=(taskset -c 1)
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port on 127.0.0.1 nothing listens on (nothing answers a connect), below
# Linux's ephemeral range (32768 and up, where -p -1 ports come from). Something may still
# take it before the node does: start_pair then tries again with other ports.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "no free port found" >&2; exit 1
}

# log_port LOG WHAT: the port of the log's "Listening for WHAT connections on HOST:PORT".
log_port() { sed -n "s/.*Listening for $2 connections on .*:\([0-9]*\)\$/\1/p" "$1" 2>/dev/null | head -1 || true; }

# node sluice|nats NAME MONITOR_PORT [ROUTE_PORT]: starts one node (routed to ROUTE_PORT if
# given) and waits until it listens for clients and routes; sets NODE_PID, NODE_PORT and
# NODE_ROUTE_PORT. Fails (status 1, its log on stderr) if the node exits first.
node() {
    local which=$1 name=$2 mport=$3 route=${4:-}
    local bin=$SLUICE; [ "$which" = nats ] && bin=$NATS
    local log="$TMP/$name.log"
    local args=(-a 127.0.0.1 -p -1 -m "$mport" --cluster nats://127.0.0.1:-1 --cluster_name bench)
    [ -n "$route" ] && args+=(--routes "nats://127.0.0.1:$route")
    "${SRV_PIN[@]}" "$bin" "${args[@]}" >"$log" 2>&1 &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    for _ in $(seq 200); do
        NODE_PORT=$(log_port "$log" client); NODE_ROUTE_PORT=$(log_port "$log" route)
        [ -n "$NODE_PORT" ] && [ -n "$NODE_ROUTE_PORT" ] && return 0
        kill -0 "$NODE_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$which node $name did not start:" >&2; cat "$log" >&2
    kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true
    return 1
}

num_routes() { curl -s --max-time 1 "http://127.0.0.1:$1/routez" | sed -n 's/.*"num_routes": *\([0-9]*\).*/\1/p' | head -1; }

# start_pair sluice|nats: node A, then node B routed to A; waits until both see the route.
# Sets PID_A, PID_B, PORT_A, PORT_B. A node that fails to start (a monitor port taken
# meanwhile) is retried with other ports, 3 times.
start_pair() {
    local which=$1 ma mb attempt pid
    for attempt in 1 2 3; do
        ma=$(free_port); mb=$(free_port)
        while [ "$mb" = "$ma" ]; do mb=$(free_port); done
        PIDS=()
        if node "$which" A "$ma"; then
            PID_A=$NODE_PID; PORT_A=$NODE_PORT
            if node "$which" B "$mb" "$NODE_ROUTE_PORT"; then
                PID_B=$NODE_PID; PORT_B=$NODE_PORT
                break
            fi
        fi
        for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
        PIDS=()
        [ "$attempt" = 3 ] && { echo "$which: giving up after 3 attempts" >&2; exit 1; }
        echo "  ($which: trying again with other ports)" >&2
    done
    for _ in $(seq 200); do
        [ "$(num_routes "$ma")" = 1 ] && [ "$(num_routes "$mb")" = 1 ] && return 0
        sleep 0.05
    done
    echo "$which: the two nodes did not connect (num_routes: A $(num_routes "$ma"), B $(num_routes "$mb")):" >&2
    cat "$TMP/A.log" "$TMP/B.log" >&2; exit 1
}

# stop_pair: records the pair's peak RSS (KiB, A + B) in RSS_KB, then stops both nodes.
stop_pair() {
    local a b pid
    a=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID_A/status" 2>/dev/null || echo 0)
    b=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID_B/status" 2>/dev/null || echo 0)
    RSS_KB=$(( ${a:-0} + ${b:-0} ))
    for pid in "$PID_B" "$PID_A"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "FAIL"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }
max_of() { sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
fmt() { awk -v x="$1" 'BEGIN {if (x == "FAIL") print x; else if (x >= 100) printf "%.0f", x; else printf "%.1f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "FAIL" || b == "FAIL" || b == 0) print "-"; else printf "%.2fx", a/b}'; }
# share: "N%" of messages delivered on node B, from JSON lines with msgs and remote_msgs.
share() { awk -F'"remote_msgs":' 'NF > 1 {split($2, r, /[,}]/); match($0, /"msgs":[0-9]+/); m = substr($0, RSTART + 7, RLENGTH - 7); if (m > 0) print 100 * r[1] / m}' | median; }

ROWS=()
WORKLOADS=()
NOTES=()
FAILURES=0
row() {
    local line
    line=$(printf "| %s | %s | %s | %s | %s | %s |" "$@")
    ROWS+=("$line")
    echo "$line"
}

# run LABEL BENCH ARGS...: ROUNDS rounds of `sluice bench ARGS` with the publisher on node A
# and the receivers on node B of a fresh pair of each server; prints the row(s).
run() {
    local label=$1; shift
    WORKLOADS+=("| $label | \`sluice bench $* --server A --sub-server B --json\` |")
    for which in sluice nats; do : >"$TMP/$which.json"; : >"$TMP/$which.rss"; done
    for r in $(seq "$ROUNDS"); do
        local order="sluice nats"; [ $((r % 2)) -eq 0 ] && order="nats sluice"
        for which in $order; do
            start_pair "$which"
            local out
            if out=$("${GEN_PIN[@]}" "$SLUICE" bench "$@" --server "127.0.0.1:$PORT_A" \
                --sub-server "127.0.0.1:$PORT_B" --json 2>"$TMP/bench.err"); then
                echo "$out" >>"$TMP/$which.json"
                echo "  round $r/$ROUNDS $label, $which: $(echo "$out" | field msgs_per_sec) msgs/s, $(echo "$out" | field probes) probes" >&2
            else
                cat "$TMP/bench.err" >&2
                echo "  round $r/$ROUNDS $label, $which: FAILED (see above)" >&2
                NOTES+=("- $label, $which, round $r: FAILED: $(head -c 300 "$TMP/bench.err" | tr '\n' ' ')")
                FAILURES=$((FAILURES + 1))
            fi
            local cut
            cut=$(grep -h -i -E "route closed|slow consumer" "$TMP/A.log" "$TMP/B.log" | head -1 || true)
            if [ -n "$cut" ]; then
                echo "  ($which node log: $cut)" >&2
                NOTES+=("- $label, $which, round $r: node log: \`${cut:0:200}\`")
                FAILURES=$((FAILURES + 1))
            fi
            stop_pair
            echo "$RSS_KB" >>"$TMP/$which.rss"
        done
    done
    local sl_rss ns_rss
    sl_rss=$(mib "$(max_of <"$TMP/sluice.rss")"); ns_rss=$(mib "$(max_of <"$TMP/nats.rss")")
    local sl ns
    if [ "$1" = reqrep ]; then
        local p
        for p in p50 p99; do
            sl=$(field "${p}_us" <"$TMP/sluice.json" | median); ns=$(field "${p}_us" <"$TMP/nats.json" | median)
            row "$label, $p latency µs (lower is better)" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$ns" "$sl")" "$sl_rss" "$ns_rss"
        done
        sl=$(field msgs_per_sec <"$TMP/sluice.json" | median); ns=$(field msgs_per_sec <"$TMP/nats.json" | median)
        row "$label, round trips/s" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$sl" "$ns")" "$sl_rss" "$ns_rss"
    else
        sl=$(field msgs_per_sec <"$TMP/sluice.json" | median); ns=$(field msgs_per_sec <"$TMP/nats.json" | median)
        row "$label" "$(fmt "$sl")" "$(fmt "$ns")" "$(ratio "$sl" "$ns")" "$sl_rss" "$ns_rss"
    fi
    if [ "$1" = queue ]; then
        sl=$(share <"$TMP/sluice.json"); ns=$(share <"$TMP/nats.json")
        NOTES+=("- $label: share of the messages delivered to the members on node B (median): sluice $(fmt "$sl")%, nats-server $(fmt "$ns")%")
    fi
}

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
PINNING="both nodes of a pair on core 0, load generator on core 1 (taskset)"
[ ${#SRV_PIN[@]} -eq 0 ] && PINNING="none (fewer than 2 cores, or no taskset)"
HEADER="| workload, publisher on node A, receivers on node B (msgs/s unless noted; median of $ROUNDS) | sluice | nats-server | ratio | sluice pair peak RSS MiB (A+B) | nats-server pair peak RSS MiB (A+B) |"
RULE="|---|--:|--:|--:|--:|--:|"
echo "machine: $(nproc) cores, ${CPU:-unknown CPU}; rounds: $ROUNDS; pinning: $PINNING; $(date -u +%F)"
echo "$HEADER"; echo "$RULE"

run "pubsub A->B, 16 B"                            pubsub --msgs 5000000 --size 16
run "pubsub A->B, 1 KiB"                           pubsub --msgs 2000000 --size 1024
run "queue 1->4, 2 members on A and 2 on B, 16 B"  queue --subs 4 --msgs 5000000 --size 16
run "reqrep A->B, 16 B"                            reqrep --msgs 20000 --size 16

mkdir -p bench
{
    echo "# Sluice vs nats-server: 2-node cluster benchmark results"
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
    echo "Each number is the median over the rounds; in every round each server's pair is started"
    echo "fresh and runs the workload once, the two servers alternating which goes first. A pair is"
    echo "node A (\`-a 127.0.0.1 -p -1 -m PORT --cluster nats://127.0.0.1:-1 --cluster_name bench\`)"
    echo "and node B (the same plus \`--routes nats://127.0.0.1:<A's route port>\`), and the run"
    echo "starts once both nodes' /routez show the route. The publisher (or requester) connects to A,"
    echo "the subscriber (or responder) to B, so every message crosses the route once; in the queue"
    echo "row members 0 and 2 of the group are on B and members 1 and 3 on A, so a member is picked"
    echo "among all four cluster-wide (about half the messages cross). Before the clock starts the"
    echo "load generator publishes probe messages until every receiver on B has seen one (so the"
    echo "interest has crossed the route); probes are counted apart and never measured. The load"
    echo "generator paces itself: at most \`--in-flight\` messages published and not yet received, by"
    echo "default as many as fit in 8 MiB (16 B: 131072, 1 KiB: 7825), because nats-server does not"
    echo "pace a publisher by a route: unpaced, its pair failed the 1 KiB pubsub row (node B cut the"
    echo "subscriber: MaxPending of 64 MiB exceeded; messages lost). Sluice paces a publisher by a"
    echo "route that falls behind (unpaced, 3,000,000 1 KiB messages A->B all arrived, at 988k"
    echo "msgs/s, 8 MiB RSS per node; before that fix node A cut the route as a slow consumer), but"
    echo "both are measured paced, like for like. Ratios are"
    echo "sluice / nats-server for throughput and nats-server / sluice for latency: above 1.00x"
    echo "sluice is better. Peak RSS is the sum of the two nodes' VmHWM just before they were"
    echo "stopped, the highest over the rounds. Every run checks its own correctness (every message"
    echo "received exactly once, in order for pubsub); a failed run is left out of the median, and"
    echo "FAIL means every round failed."
    echo
    echo "## Notes"
    echo
    if [ "$FAILURES" -eq 0 ]; then
        echo "- no run failed, and no node logged a route closed or a slow consumer"
    fi
    if [ ${#NOTES[@]} -gt 0 ]; then printf '%s\n' "${NOTES[@]}"; fi
    echo
    echo "## Workloads"
    echo
    echo "| row | load generator |"
    echo "|---|---|"
    printf '%s\n' "${WORKLOADS[@]}" | awk '!seen[$0]++'
} >bench/CLUSTER.md
echo "wrote bench/CLUSTER.md"
