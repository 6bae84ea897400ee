#!/usr/bin/env bash
# Replicated JetStream benchmark: R3 file streams on a 3-node sluice cluster against R3 file
# streams on a 3-node nats-server cluster, on this machine, in the same run, with the load
# generator `sluice bench --replicas 3` (which checks every workload's correctness as it
# measures) connected to node 0 of each cluster.
#
# Three clusters take turns in each round, each started fresh (own client, route and monitor
# ports, own store directories, -n n0..n2, --cluster_name r3bench, full mesh of --routes):
#   sluice          default durability: a publish is acked once a majority has fsynced it
#   sluice-2m       sluice --sync 2m: acked once a majority has written it to the OS, fsync
#                   every 2 minutes (nats-server's default; like for like)
#   nats            nats-server 2.9 with its defaults (acked once a majority has it written,
#                   fsync every 2 minutes)
# and the order of the three rotates from round to round. A cluster counts as ready when an
# R3 stream can be created through node 0 (retried until it succeeds; nats-server: after
# $JS.API.INFO answers); that probe stream is deleted, then the workloads run one after the
# other on the same cluster: js-pub with 1 publish in flight, js-pub with 256 in flight,
# js-consume (fill, then drain with a durable pull consumer, batch 100, explicit acks).
# Prints per workload the median msgs/s of each, the ratios against nats-server, and each
# cluster's peak RSS (VmHWM of the 3 nodes summed, the highest over the rounds), and writes
# the table to bench/R3.md.
# Pinning, with 2 or more cores (and taskset): the 3 nodes share core 0, the load generator
# runs on core 1.
#
# usage: scripts/bench_r3.sh [ROUNDS]     (default $ROUNDS, else 3)
# Message counts: $PUB1_MSGS (js-pub, 1 in flight; default 2000), $PUB256_MSGS (js-pub, 256 in
# flight; default 100000), $CONSUME_MSGS (js-consume; default 100000).
# $DEBUG=1 starts every node with -D; $KEEP_LOGS=DIR keeps every node's log there
# (round<R>-<mode>-n<I>.log; otherwise they are dropped).
# The sluice binary: $SLUICE_BIN if set (not rebuilt), else $CARGO_TARGET_DIR/release/sluice
# (default target/release/sluice), built first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-${ROUNDS:-3}}
COMMAND="scripts/bench_r3.sh $ROUNDS"
for v in PUB1_MSGS PUB256_MSGS CONSUME_MSGS; do
    [ -n "${!v:-}" ] && COMMAND="$v=${!v} $COMMAND"
done
PUB1_MSGS=${PUB1_MSGS:-2000}
PUB256_MSGS=${PUB256_MSGS:-100000}
CONSUME_MSGS=${CONSUME_MSGS:-100000}
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nats-server >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
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

# free_port: a TCP port on 127.0.0.1 nothing listens on, below Linux's ephemeral range;
# something may still take it before the node does: start_cluster then tries other ports.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "no free port found" >&2; exit 1
}

# start_cluster MODE: three nodes of sluice|sluice-2m|nats, each routed to the two others;
# waits until each listens for clients (the routes may still be forming). Sets PIDS and
# PORTS (client ports). Tries again with other ports (3 times) if a node does not start.
start_cluster() {
    local mode=$1 attempt i j pid
    local bin=$SLUICE extra=()
    [ "$mode" = nats ] && bin=$NATS
    [ "$mode" = sluice-2m ] && extra=(--sync 2m)
    [ "${DEBUG:-0}" = 1 ] && extra+=(-D)
    for attempt in 1 2 3; do
        local used=" " cports=() rports=() mports=() p
        for i in 0 1 2; do
            for kind in c r m; do
                p=$(free_port)
                while [[ "$used" == *" $p "* ]]; do p=$(free_port); done
                used+="$p "
                case $kind in c) cports+=("$p");; r) rports+=("$p");; m) mports+=("$p");; esac
            done
        done
        PIDS=(); PORTS=("${cports[@]}")
        local ok=1
        for i in 0 1 2; do
            local routes=()
            for j in 0 1 2; do [ "$j" != "$i" ] && routes+=("nats://127.0.0.1:${rports[$j]}"); done
            local store="$TMP/store-$mode-n$i"
            rm -rf "$store"
            "${SRV_PIN[@]}" "$bin" -a 127.0.0.1 -p "${cports[$i]}" -m "${mports[$i]}" -n "n$i" \
                --cluster "nats://127.0.0.1:${rports[$i]}" --cluster_name r3bench \
                --routes "$(IFS=,; echo "${routes[*]}")" -js -sd "$store" "${extra[@]}" \
                >"$TMP/$mode-n$i.log" 2>&1 &
            PIDS+=("$!")
        done
        for i in 0 1 2; do
            local up=0
            for _ in $(seq 200); do
                if (exec 3<>"/dev/tcp/127.0.0.1/${cports[$i]}") 2>/dev/null; then up=1; break; fi
                kill -0 "${PIDS[$i]}" 2>/dev/null || break
                sleep 0.05
            done
            if [ "$up" = 0 ]; then
                echo "$mode node n$i did not start:" >&2; tail -20 "$TMP/$mode-n$i.log" >&2
                ok=0; break
            fi
        done
        [ "$ok" = 1 ] && return 0
        for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
        PIDS=()
        [ "$attempt" = 3 ] && { echo "$mode: giving up after 3 attempts" >&2; exit 1; }
        echo "  ($mode: trying again with other ports)" >&2
    done
}

# wait_ready MODE: until an R3 stream can be created through node 0 (nats-server: once
# $JS.API.INFO answers, which needs a meta leader), at most 60 s; then deletes it. Sets
# READY_SECS (from the start of the cluster).
wait_ready() {
    local mode=$1 url="nats://127.0.0.1:${PORTS[0]}" deadline=$((SECONDS + 60)) err=""
    if [ "$mode" = nats ]; then
        until "$SLUICE" req '$JS.API.INFO' '' --server "$url" --timeout 1s 2>/dev/null | grep -q '"memory"'; do
            [ "$SECONDS" -ge "$deadline" ] && { echo "$mode: \$JS.API.INFO never answered" >&2; return 1; }
            sleep 0.2
        done
    fi
    until err=$("$SLUICE" stream add READY --subjects ready.x --replicas 3 --server "$url" \
        --timeout 2s --json 2>&1 >/dev/null); do
        [ "$SECONDS" -ge "$deadline" ] && { echo "$mode: no R3 stream within 60 s; last: $err" >&2; return 1; }
        sleep 0.2
    done
    "$SLUICE" stream rm READY --server "$url" --timeout 5s >/dev/null
}

# stop_cluster: records the cluster's peak RSS (KiB, sum of the 3 nodes) in RSS_KB, then
# stops the nodes.
stop_cluster() {
    local pid kb
    RSS_KB=0
    for pid in "${PIDS[@]}"; do
        kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        RSS_KB=$((RSS_KB + ${kb:-0}))
    done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# keep_logs ROUND MODE: copies the cluster's node logs to $KEEP_LOGS, or, when something
# failed on it, to bench/r3-failed-logs (named in the notes).
keep_logs() {
    local r=$1 mode=$2 keep=${KEEP_LOGS:-} i
    if [ "$(cat "$TMP/$mode.failed" 2>/dev/null)" = "$r" ]; then
        keep=${keep:-bench/r3-failed-logs}
        NOTES+=("- round $r, $mode: node logs kept in $keep/round$r-$mode-n*.log")
    fi
    [ -z "$keep" ] && return 0
    mkdir -p "$keep"
    for i in 0 1 2; do cp "$TMP/$mode-n$i.log" "$keep/round$r-$mode-n$i.log"; done
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "FAIL"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }
max_of() { sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN {if (k == "") print "-"; else printf "%.0f", k/1024}'; }
fmt() { awk -v x="$1" 'BEGIN {if (x == "FAIL") print x; else if (x >= 100) printf "%.0f", x; else printf "%.1f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "FAIL" || b == "FAIL" || b == 0) print "-"; else printf "%.2fx", a/b}'; }

MODES=(sluice sluice-2m nats)
WORKLOADS=(pub1 pub256 consume)
label() {
    case $1 in
        pub1) echo "js-pub 128 B, 1 in flight ($PUB1_MSGS msgs)";;
        pub256) echo "js-pub 128 B, 256 in flight ($PUB256_MSGS msgs)";;
        consume) echo "js-consume 128 B, pull batch 100 ($CONSUME_MSGS msgs)";;
    esac
}
bench_args() {
    case $1 in
        pub1) echo "js-pub --window 1 --msgs $PUB1_MSGS --size 128 --replicas 3";;
        pub256) echo "js-pub --window 256 --msgs $PUB256_MSGS --size 128 --replicas 3";;
        consume) echo "js-consume --msgs $CONSUME_MSGS --size 128 --replicas 3";;
    esac
}
NOTES=()
FAILURES=0
for m in "${MODES[@]}"; do
    : >"$TMP/$m.rss"; : >"$TMP/$m.ready"; : >"$TMP/$m.leader"
    for w in "${WORKLOADS[@]}"; do : >"$TMP/$m.$w.json"; done
done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
PINNING="the 3 nodes of a cluster on core 0, load generator on core 1 (taskset)"
[ ${#SRV_PIN[@]} -eq 0 ] && PINNING="none (fewer than 2 cores, or no taskset)"
echo "machine: $(nproc) cores, ${CPU:-unknown CPU}; rounds: $ROUNDS; pinning: $PINNING; $(date -u +%F)" >&2

for r in $(seq "$ROUNDS"); do
    # Rotate the order: round 1 sluice, sluice-2m, nats; round 2 sluice-2m, nats, sluice; ...
    order=()
    for k in 0 1 2; do order+=("${MODES[$(((r - 1 + k) % 3))]}"); done
    for mode in "${order[@]}"; do
        start0=$SECONDS
        start_cluster "$mode"
        if ! wait_ready "$mode"; then
            NOTES+=("- round $r, $mode: the cluster never got ready (see the message above); no workload ran")
            FAILURES=$((FAILURES + 1))
            echo "$r" >"$TMP/$mode.failed"
            stop_cluster
            keep_logs "$r" "$mode"
            continue
        fi
        echo "$((SECONDS - start0))" >>"$TMP/$mode.ready"
        for w in "${WORKLOADS[@]}"; do
            # A fresh stream (and Raft group) for each workload: sluice's stream groups stop
            # at 10,000 log entries (see bench/R3.md's notes), and a fresh one is fairer anyway.
            for st in BENCH BENCHC; do
                "$SLUICE" stream rm "$st" --server "nats://127.0.0.1:${PORTS[0]}" --timeout 5s >/dev/null 2>&1 || true
            done
            out=""
            # shellcheck disable=SC2046 # bench_args is a word list
            if out=$("${GEN_PIN[@]}" "$SLUICE" bench $(bench_args "$w") \
                --server "127.0.0.1:${PORTS[0]}" --json 2>"$TMP/bench.err"); then
                echo "$out" >>"$TMP/$mode.$w.json"
                echo "  round $r/$ROUNDS $mode $(label "$w"): $(echo "$out" | field msgs_per_sec) msgs/s" >&2
            else
                cat "$TMP/bench.err" >&2
                echo "  round $r/$ROUNDS $mode $(label "$w"): FAILED (see above)" >&2
                NOTES+=("- round $r, $mode, $(label "$w"): FAILED: $(head -c 400 "$TMP/bench.err" | tr '\n' ' ')")
                FAILURES=$((FAILURES + 1))
                echo "$r" >"$TMP/$mode.failed"
            fi
            # Where the stream's leader was (the generator is on n0).
            st=BENCH; [ "$w" = consume ] && st=BENCHC
            "$SLUICE" stream info "$st" --server "nats://127.0.0.1:${PORTS[0]}" --json --timeout 5s 2>/dev/null |
                sed -n 's/.*"leader": *"\([^"]*\)".*/\1/p' | head -1 >>"$TMP/$mode.leader" || true
        done
        stop_cluster
        echo "$RSS_KB" >>"$TMP/$mode.rss"
        keep_logs "$r" "$mode"
        rm -rf "$TMP"/store-"$mode"-n*
    done
done

HEADER="| workload, R3 file stream, generator on node 0 (msgs/s; median of $ROUNDS) | sluice | sluice --sync 2m | nats-server | sluice / nats | sluice --sync 2m / nats |"
RULE="|---|--:|--:|--:|--:|--:|"
ROWS=()
for w in "${WORKLOADS[@]}"; do
    declare -A med=()
    for m in "${MODES[@]}"; do med[$m]=$(field msgs_per_sec <"$TMP/$m.$w.json" | median); done
    ROWS+=("$(printf "| %s | %s | %s | %s | %s | %s |" "$(label "$w")" "$(fmt "${med[sluice]}")" \
        "$(fmt "${med[sluice-2m]}")" "$(fmt "${med[nats]}")" "$(ratio "${med[sluice]}" "${med[nats]}")" \
        "$(ratio "${med[sluice-2m]}" "${med[nats]}")")")
    unset med
done
rss=(); ready=(); leaders=()
for m in "${MODES[@]}"; do
    rss+=("$(mib "$(max_of <"$TMP/$m.rss")")")
    ready+=("$(median <"$TMP/$m.ready")")
    leaders+=("$(grep -c '^n0$' "$TMP/$m.leader" || true) of $(wc -l <"$TMP/$m.leader")")
done
ROWS+=("$(printf "| peak RSS MiB, 3 nodes summed (highest over the rounds) | %s | %s | %s | %s | %s |" \
    "${rss[0]}" "${rss[1]}" "${rss[2]}" "$(ratio "${rss[0]}" "${rss[2]}")" "$(ratio "${rss[1]}" "${rss[2]}")")")
ROWS+=("$(printf "| start to R3-ready, s (median; lower is better) | %s | %s | %s | | |" "${ready[@]}")")

echo "$HEADER"; echo "$RULE"; printf '%s\n' "${ROWS[@]}"

mkdir -p bench
{
    echo "# Sluice vs nats-server: R3 JetStream on 3-node clusters"
    echo
    echo "- date: $(date -u '+%F %H:%M UTC')"
    echo "- machine: $(nproc) cores, ${CPU:-unknown CPU}, $(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "- servers: $("$SLUICE" --version) (commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')), $("$NATS" --version 2>&1 | head -1)"
    echo "- command: \`$COMMAND\` (rounds: $ROUNDS)"
    echo "- pinning: $PINNING"
    echo
    echo "$HEADER"; echo "$RULE"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "## How to read this"
    echo
    echo "In every round three 3-node clusters run one after the other, each started fresh, the"
    echo "order rotating from round to round: sluice with its default durability (a publish is"
    echo "acked once a majority of the stream's group has the entry in its write-ahead log,"
    echo "fsynced), sluice with \`--sync 2m\` (acked once a majority has written it to the OS;"
    echo "fsync every 2 minutes), and nats-server with its defaults (acked once a majority has it"
    echo "written; fsync every 2 minutes), so the \`--sync 2m\` column is the like-for-like one."
    echo "Every node: \`-a 127.0.0.1 -p PORT -m PORT -n nI --cluster nats://127.0.0.1:PORT"
    echo "--cluster_name r3bench --routes <the two others> -js -sd DIR\` (the same flags for both"
    echo "servers). A cluster is ready once an R3 stream can be created through node 0; then the"
    echo "three workloads run on it in the order of the table, each on a fresh R3 stream (the"
    echo "previous one deleted), the load generator connected to node 0: when the stream's leader"
    echo "is elsewhere, each publish and its ack cross a route. The stream's leader, as each server"
    echo "placed it, was node 0 in ${leaders[0]:-?} runs (sluice), ${leaders[1]:-?} (sluice --sync"
    echo "2m), ${leaders[2]:-?} (nats-server). Numbers are messages per second as the load"
    echo "generator measured them, the median over the rounds; ratios are against nats-server, above"
    echo "1.00x sluice is faster (for RSS, above 1.00x sluice uses more). js-consume measures the"
    echo "drain only (first pull request to last message acked), after filling the stream with 256"
    echo "publishes in flight. Every run checks its own correctness (every ack the right PubAck;"
    echo "every message delivered exactly once; nothing pending at the end); a failed run is left"
    echo "out of the median, and FAIL means every round failed."
    echo
    echo "## Notes"
    echo
    [ "$FAILURES" -eq 0 ] && echo "- no run failed"
    echo "- each workload gets a fresh stream: sluice's stream groups (at dc0aaad) stop at their"
    echo "  10,000th Raft entry; see bench/R3-NOTES.md for that and the other failures seen"
    if [ ${#NOTES[@]} -gt 0 ]; then printf '%s\n' "${NOTES[@]}"; fi
    echo
    echo "## Workloads"
    echo
    echo "| row | load generator |"
    echo "|---|---|"
    for w in "${WORKLOADS[@]}"; do echo "| $(label "$w") | \`sluice bench $(bench_args "$w") --server NODE0 --json\` |"; done
} >bench/R3.md
echo "wrote bench/R3.md" >&2
