#!/usr/bin/env bash
# The long chaos run: every fault scenario of integration-tests/src/chaos/ against a cluster,
# then a table of scenarios and outcomes (lost acked publishes, duplicate msg ids, deliveries
# after a confirmed ack, replica digests, stream survival).
#
#   scripts/chaos.sh [--target nats-server|sluice] [--nodes 3|5] [--seconds N] [--seed S]
#                    [--scenarios a,b,...]
#
# --seconds: how long faults are injected in each scenario (default 30); a scenario takes
# about that plus 15-40 s of start, settle and read-back. Scenario k runs with seed S+k.
# --target sluice builds the sluice binary the tests start (debug, as every integration test
# does; $SLUICE_BIN overrides it) and keeps every node's whole log in a directory it prints
# (CHAOS_LOG_DIR: sluice-seed<S+k>-n<i>.log). CHAOS_SLUICE_ARGS adds arguments to every
# sluice node (-D: debug events); RUST_LOG reaches them too.
# Exit status: 0 if every scenario held every property, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

target=nats-server nodes=3 seconds=30 seed=1 scenarios=""
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --nodes) nodes="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --scenarios) scenarios="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$nodes" in 3|5) ;; *) echo "--nodes must be 3 or 5" >&2; exit 2 ;; esac
case "$target" in
    nats-server)
        if ! command -v nats-server >/dev/null 2>&1; then
            echo "nats-server is not installed (apt-get install -y nats-server)" >&2
            exit 2
        fi ;;
    sluice)
        if [ -z "${SLUICE_BIN:-}" ]; then
            echo "== building sluice (cargo build -p sluice)"
            cargo build -q -p sluice
        fi ;;
    *) echo "--target must be nats-server or sluice" >&2; exit 2 ;;
esac

log=$(mktemp /tmp/chaos-XXXXXX.log)
if [ "$target" = sluice ]; then
    # Absolute: the test runs in integration-tests/.
    CHAOS_LOG_DIR="$(realpath -m "${CHAOS_LOG_DIR:-${log%.log}-nodes}")"
    export CHAOS_LOG_DIR
fi
echo "== chaos: target=$target nodes=$nodes seconds=$seconds seed=$seed${scenarios:+ scenarios=$scenarios} (log: $log${CHAOS_LOG_DIR:+, node logs: $CHAOS_LOG_DIR})"
set +e
CHAOS_TARGET="$target" CHAOS_NODES="$nodes" CHAOS_SECONDS="$seconds" CHAOS_SEED="$seed" \
CHAOS_SCENARIOS="$scenarios" SLUICE_REQUIRE_NATS_SERVER=1 RUST_BACKTRACE=0 \
    cargo test -q -p integration-tests --test chaos_cluster chaos_long -- --ignored --nocapture \
    >"$log" 2>&1
status=$?
set -e
if grep -q CHAOS-TABLE-BEGIN "$log"; then
    sed -n '/CHAOS-TABLE-BEGIN/,/CHAOS-TABLE-END/p' "$log" | sed '1d;$d'
else
    echo "no table: the run failed before the end; last lines of $log:" >&2
    grep -v '^\[' "$log" | tail -20 >&2
fi
[ $status -eq 0 ] && echo "== all scenarios passed" || echo "== some scenario failed (exit $status)"
exit $([ $status -eq 0 ] && echo 0 || echo 1)
