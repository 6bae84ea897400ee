#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target in fuzz/ for a bounded time, one after another,
# and prints per target: executions, seconds, corpus size and crashes found.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   default 60
#   scripts/fuzz.sh --smoke                10 seconds per target
#   FUZZ_TARGETS="client_parse headers" scripts/fuzz.sh 300   only these targets
#
# Needs the nightly toolchain (rustup) and cargo-fuzz (installed here if missing). Seeds: the
# corpora in fuzz/corpus/<target>/ (not committed) are seeded from protocol-spec/vectors/ and
# crates/stream/tests/golden/ (by the ignored `write_fuzz_seeds` tests) plus the committed
# fuzz/seeds/<target>/ and fuzz/regressions/<target>/. Each run is bounded by
# -max_total_time; an input running over 5 s is a hang (-timeout=5), over 2 GiB an OOM
# (-rss_limit_mb=2048). Crashing inputs land in fuzz/artifacts/<target>/. Exits 1 if any
# target crashed, hung or ran out of memory.
#
# A crash found here gets a regression test in the crate's own test suite (stable, run by
# `cargo test --workspace`) and its input copied into fuzz/regressions/<target>/, which
# crates/*/tests/fuzz_replay.rs replay through the same check.
set -euo pipefail

secs=60
case "${1:-}" in
    --smoke) secs=10 ;;
    -h | --help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    '') ;;
    *[!0-9]* | 0)
        echo "usage: $0 [SECONDS_PER_TARGET | --smoke]" >&2
        exit 2
        ;;
    *) secs=$1 ;;
esac

cd "$(dirname "$0")/.."
root=$PWD
all_targets="client_parse server_parse headers config_file js_api"
targets=${FUZZ_TARGETS:-$all_targets}

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

corpus=$root/fuzz/corpus
echo "== seeding fuzz/corpus/ from the test vectors and golden requests" >&2
SLUICE_FUZZ_CORPUS=$corpus cargo test -q -p sluice-protocol --test fuzz_replay \
    -- --ignored --exact write_fuzz_seeds >/dev/null
SLUICE_FUZZ_CORPUS=$corpus cargo test -q -p sluice-stream --test fuzz_replay \
    -- --ignored --exact write_fuzz_seeds >/dev/null
for t in $all_targets; do
    mkdir -p "$corpus/$t" "$root/fuzz/artifacts/$t"
    for d in seeds regressions; do
        if [ -d "fuzz/$d/$t" ]; then
            # Prefixed so that a committed input never overwrites a corpus entry.
            for f in "fuzz/$d/$t"/*; do
                [ -f "$f" ] && cp "$f" "$corpus/$t/$d-$(basename "$f")"
            done
        fi
    done
done

echo "== building the fuzz targets (nightly, ASan, debug assertions)" >&2
(cd fuzz && cargo +nightly fuzz build)

logs=$root/fuzz/artifacts/logs
mkdir -p "$logs"
failed=0
rows=()
for t in $targets; do
    log=$logs/$t.log
    before=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f | wc -l)
    echo "== $t: ${secs}s" >&2
    start=$(date +%s)
    set +e
    (cd fuzz && cargo +nightly fuzz run "$t" "$corpus/$t" -- \
        -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1) \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$execs" ]; then
        # A crash ends the run before the final stats: the last status line's count.
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    fi
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    # A crash ends the run without a "Done" line: wall-clock seconds, build included.
    took=${took:-~$(($(date +%s) - start))}
    size=$(find "$corpus/$t" -maxdepth 1 -type f | wc -l)
    after=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f | wc -l)
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # failed without leaving an input (build or harness error): see the log
    fi
    if [ "$crashes" -ne 0 ]; then
        failed=1
        echo "   $t FAILED (exit $rc): see $log and fuzz/artifacts/$t/" >&2
        grep -E '^(SUMMARY|==[0-9]+==ERROR|thread .* panicked)' "$log" | head -5 >&2 || true
    fi
    rows+=("$(printf '%-14s %12s %8s %8s %8s' "$t" "${execs:-?}" "${took:-?}" "$size" "$crashes")")
done

printf '%-14s %12s %8s %8s %8s\n' target executions seconds corpus crashes
printf '%s\n' "${rows[@]}"
exit "$failed"
