#!/usr/bin/env bash
# Before/after benchmark of two sluice builds against nats-server, in the same run: for each
# workload, ROUNDS rounds of (before, after, nats-server), each server started fresh, pinned to
# core 0, with the load generator (`sluice bench`, from AFTER) on core 1. Prints per workload the
# median msgs/s of each and each sluice's ratio to nats-server. JetStream workloads run twice:
# sluice under --sync always and --sync 2m (nats-server's own default throughout).
#
# usage: BEFORE=path/to/old/sluice [AFTER=path/to/new/sluice] [ROUNDS=5] [WL="workload;..."] \
#        scripts/ab_bench.sh
# (build the old one with `git worktree add /tmp/old <commit>` and
#  `CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p sluice` there)
ROUNDS=${ROUNDS:-5}
if [ -z "${WL:-}" ]; then WORKLOADS=("pub --msgs 3000000 --size 16" "pubsub --msgs 2000000 --size 16" "js-pub --window 256 --msgs 200000 --size 128" "js-pub --window 1 --msgs 5000 --size 128" "js-consume --msgs 200000 --size 128"); else IFS=";" read -ra WORKLOADS <<< "$WL"; fi
set -u
export PATH="$PATH:/usr/sbin"
BEFORE=${BEFORE:?set BEFORE to the old sluice binary}
AFTER=${AFTER:-$(cd "$(dirname "$0")/.." && pwd)/target/release/sluice}
GEN=$AFTER
TMP=$(mktemp -d)
run_one() { # bin flags... -- bench args...
  local bin=$1; shift; local flags=(); while [ "$1" != "--" ]; do flags+=("$1"); shift; done; shift
  rm -rf $TMP/store; taskset -c 0 $bin -a 127.0.0.1 -p -1 -sd $TMP/store "${flags[@]}" > $TMP/log 2>&1 &
  local pid=$!; local port=""
  for _ in $(seq 200); do port=$(sed -n 's/.*Listening for client connections on .*:\([0-9]*\)$/\1/p' $TMP/log 2>/dev/null); [ -n "$port" ] && break; sleep 0.05; done
  local r=$(taskset -c 1 $GEN bench "$@" --server 127.0.0.1:$port --json 2>/dev/null | tail -1 | python3 -c 'import sys,json; print(int(json.loads(sys.stdin.read())["msgs_per_sec"]))' 2>/dev/null)
  kill $pid; wait $pid 2>/dev/null
  echo "$r"
}
for w in "${WORKLOADS[@]}"; do
  for sync in always 2m; do
    case "$w" in js-*) ;; *) [ $sync = 2m ] && continue;; esac
    case "$w" in js-consume*) [ $sync = 2m ] && continue;; esac
    b=(); a=(); n=()
    for r in $(seq $ROUNDS); do
      b+=($(run_one $BEFORE -js --sync $sync -- $w)); a+=($(run_one $AFTER -js --sync $sync -- $w)); n+=($(run_one nats-server -js -- $w))
    done
    med() { printf '%s\n' "$@" | sort -n | sed -n "$(( (ROUNDS+1)/2 ))p"; }
    mb=$(med "${b[@]}"); ma=$(med "${a[@]}"); mn=$(med "${n[@]}")
    echo "$w sync=$sync | before $mb ($(python3 -c "print(f'{$mb/$mn:.2f}x')")) | after $ma ($(python3 -c "print(f'{$ma/$mn:.2f}x')")) | nats $mn"
  done
done
rm -rf "$TMP"
