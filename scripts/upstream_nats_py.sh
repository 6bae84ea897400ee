#!/usr/bin/env bash
# Runs the upstream nats.py client's cluster discovery tests (nats.py v2.9.0, the client version
# tests/client_nats_py.rs uses) against a server binary: Sluice by default.
#
#   scripts/upstream_nats_py.sh [SERVER_BINARY]
#
# SERVER_BINARY defaults to $SLUICE_BIN, else $CARGO_TARGET_DIR/debug/sluice (target/debug/sluice);
# `scripts/upstream_nats_py.sh /usr/sbin/nats-server` checks the harness against the reference.
#
# The tests are upstream's, unchanged: tests/__init__.py, tests/utils.py, tests/test_client.py,
# tests/test_js.py, tests/conf/no_auth_user.conf and tests/conf/js-limits.conf at the v2.9.0
# commit, checked against pinned SHA-256 sums. They come from, in order:
#   1. $NATS_PY_GIT, a git directory (a clone or mirror of nats-io/nats.py) holding the commit;
#   2. the cache, $SLUICE_UPSTREAM_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/sluice), filled by
#      an earlier run;
#   3. GitHub (raw.githubusercontent.com at the pinned commit), then cached.
# (The PyPI sdist of nats-py 2.9.0 ships no tests, so pip cannot supply them.)
#
# Upstream's launcher (tests/utils.py, class NATSD) runs the program `nats-server` with flags:
# a file of that name in the working directory, ~/nats-server/nats-server or tests/nats-server
# if one exists, else whatever `nats-server` is on PATH. This script puts a two-line wrapper
# named `nats-server` first on PATH that execs SERVER_BINARY with the same arguments, so the
# tests run exactly as upstream wrote them. The wrapper logs every command line and each
# server's output (upstream sends them to /dev/null); both are printed after the run.
#
# Selected: tests/test_client.py::ClusterDiscoveryTest (servers started with --cluster_listen,
# --routes, --cluster_name; connect_urls discovery on first connect and after),
# ::ClusterDiscoveryReconnectTest (the same with --user/--pass; reconnect to a discovered
# server, pending buffer limits; two are skipped by upstream itself, "flaky test") and
# ::NoAuthUserClientTest (tests/conf/no_auth_user.conf: two accounts with permissions and
# no_auth_user; a user of the other account is refused its subscription, the anonymous client
# is the no_auth_user) and tests/test_js.py::AccountLimitsTest (tests/conf/js-limits.conf: a
# JetStream domain, an account with JetStream limits, a user without a password as
# no_auth_user; the limit errors, account info and the domain's API). They use fixed ports:
# clients 4222-4225 and 4555, routes 6223-6225, monitoring 8222-8225.
#
# Needs python3 with nats-py (pip install nats-py==2.9.0); installs pytest if it is missing.
# Exit status: 0 all selected tests passed (or were skipped by upstream), 1 a test failed or the
# run did not finish within $UPSTREAM_NATS_PY_TIMEOUT seconds (default 120), 77 could not run:
# the upstream sources could not be had (no network, no cache, no $NATS_PY_GIT), or python3,
# nats-py or pytest is missing. With SLUICE_REQUIRE_NATS_PY set a missing python3/nats-py/pytest
# is an error (exit 1) rather than 77; with SLUICE_REQUIRE_UPSTREAM_NATS_PY set, so are missing
# sources.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

NATS_PY_TAG=v2.9.0
NATS_PY_COMMIT=6286035f2354f7bbd2799f98a7856049da36a6df # v2.9.0^{commit}
# path sha256 (of the file at NATS_PY_COMMIT)
UPSTREAM_FILES=(
    "tests/__init__.py e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    "tests/utils.py 318b5a7a20e762c5495af0eb7c32a41027b804423260d9833f937fd47e07c7f4"
    "tests/test_client.py c4febf147a19d3b69c08fdc9c3c639bc116aaaccb674e80d0ca38403a7b36575"
    "tests/conf/no_auth_user.conf 31e0e12a488d00e06bd472564a885158836e927969d82407cdeefa87b090576d"
    "tests/test_js.py f62e433cb7080a8514f12593a2f6990dabdb0d15cf6afb3030d0855ddcd9c2b0"
    "tests/conf/js-limits.conf 31a018a4dbe0040352a63248dc6b617aed0042086f90199962d620ca2c8c6f8f"
)
SELECTED=(
    "tests/test_client.py::ClusterDiscoveryTest"
    "tests/test_client.py::ClusterDiscoveryReconnectTest"
    "tests/test_client.py::NoAuthUserClientTest"
    "tests/test_js.py::AccountLimitsTest"
)
PORTS=(4222 4223 4224 4225 4555 6223 6224 6225 8222 8223 8224 8225)
TIME_LIMIT="${UPSTREAM_NATS_PY_TIMEOUT:-120}"

SERVER_BIN="${1:-${SLUICE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/sluice}}"

say() { echo "upstream_nats_py: $*" >&2; }
# Exit 77 (could not run) unless the variable named $1 is set, then exit 1.
cannot_run() {
    local required_by="$1"
    shift
    say "$*"
    if [ -n "${!required_by:-}" ]; then
        say "$required_by is set, so this is an error"
        exit 1
    fi
    say "skipping (exit 77)"
    exit 77
}

case "$SERVER_BIN" in
*/*) ;;
*) SERVER_BIN="$(command -v "$SERVER_BIN" || echo "$SERVER_BIN")" ;;
esac
if [ ! -x "$SERVER_BIN" ]; then
    say "server binary $SERVER_BIN does not exist or is not executable (build it: cargo build -p sluice)"
    exit 1
fi
SERVER_BIN="$(cd "$(dirname "$SERVER_BIN")" && pwd)/$(basename "$SERVER_BIN")"

# --- python3, nats-py, pytest ---------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || cannot_run SLUICE_REQUIRE_NATS_PY "python3 is not installed"
NATS_PY_VERSION="$(python3 -c 'from nats.aio.client import __version__; print(__version__)' 2>/dev/null)" ||
    cannot_run SLUICE_REQUIRE_NATS_PY "nats-py is not installed (pip install nats-py==2.9.0)"
if [ "$NATS_PY_VERSION" != "${NATS_PY_TAG#v}" ]; then
    say "warning: installed nats-py is $NATS_PY_VERSION, the tests are from $NATS_PY_TAG"
fi
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    say "installing pytest (upstream runs its tests with pytest)"
    python3 -m pip install -q pytest >&2 ||
        cannot_run SLUICE_REQUIRE_NATS_PY "pytest is missing and pip could not install it"
fi

# --- the upstream sources -------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/upstream-nats-py.XXXXXX")"
CACHE="${SLUICE_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}/nats.py-$NATS_PY_TAG"
mkdir -p "$WORK/src/tests/conf" "$WORK/bin" "$WORK/logs"

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# Fills $WORK/src with every upstream file from one source (a function taking path and
# destination); returns non-zero (leaving nothing) if any file is missing or has the wrong sum.
fill_from() {
    local getter="$1" entry path sum
    for entry in "${UPSTREAM_FILES[@]}"; do
        path="${entry%% *}"
        sum="${entry##* }"
        if ! "$getter" "$path" "$WORK/src/$path" 2>/dev/null || ! sha_ok "$WORK/src/$path" "$sum"; then
            rm -rf "$WORK/src/tests" && mkdir -p "$WORK/src/tests/conf"
            return 1
        fi
    done
}
from_git() { git -C "$NATS_PY_GIT" show "$NATS_PY_COMMIT:$1" >"$2"; }
from_cache() { cp "$CACHE/$1" "$2"; }
from_github() {
    curl -fsSL --retry 2 --connect-timeout 10 --max-time 60 -o "$2" \
        "https://raw.githubusercontent.com/nats-io/nats.py/$NATS_PY_COMMIT/$1"
}

SOURCE=""
if [ -n "${NATS_PY_GIT:-}" ] && fill_from from_git; then
    SOURCE="git directory $NATS_PY_GIT"
elif [ -d "$CACHE" ] && fill_from from_cache; then
    SOURCE="cache $CACHE"
elif command -v curl >/dev/null 2>&1 && fill_from from_github; then
    SOURCE="github.com/nats-io/nats.py at $NATS_PY_COMMIT"
fi
if [ -z "$SOURCE" ]; then
    rm -rf "$WORK"
    cannot_run SLUICE_REQUIRE_UPSTREAM_NATS_PY \
        "cannot get nats.py $NATS_PY_TAG's tests: not in \$NATS_PY_GIT, not cached in $CACHE," \
        "and not downloadable from raw.githubusercontent.com (offline?)"
fi
if [ "$SOURCE" != "cache $CACHE" ] && mkdir -p "$CACHE/tests/conf" 2>/dev/null; then
    for entry in "${UPSTREAM_FILES[@]}"; do
        cp "$WORK/src/${entry%% *}" "$CACHE/${entry%% *}" 2>/dev/null || true
    done
fi
say "nats.py $NATS_PY_TAG tests from $SOURCE; server binary $SERVER_BIN; nats-py $NATS_PY_VERSION"

# --- the server wrapper ---------------------------------------------------------------------
# Upstream prefers ~/nats-server/nats-server over PATH; refuse to run the wrong server silently.
if [ -f "$HOME/nats-server/nats-server" ]; then
    say "$HOME/nats-server/nats-server exists and upstream's launcher would run it instead of" \
        "$SERVER_BIN; move it away"
    rm -rf "$WORK"
    exit 1
fi
# $$ is the shell's PID, which exec hands to the server: the PID upstream later SIGKILLs.
cat >"$WORK/bin/nats-server" <<EOF
#!/bin/sh
echo "\$\$ nats-server \$*" >>"$WORK/logs/commands.log"
exec "$SERVER_BIN" "\$@" >>"$WORK/logs/server-\$\$.log" 2>&1
EOF
chmod +x "$WORK/bin/nats-server"

# Kills, by PID, any server the wrapper started that is still running (upstream SIGKILLs its
# servers in tearDown; this is for a run cut short by the time limit).
cleanup() {
    local pid _
    if [ -f "$WORK/logs/commands.log" ]; then
        while read -r pid _; do
            if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$SERVER_BIN" ]; then
                kill -9 "$pid" 2>/dev/null || true
            fi
        done <"$WORK/logs/commands.log"
    fi
    if [ -z "${UPSTREAM_NATS_PY_KEEP:-}" ]; then rm -rf "$WORK"; else say "kept $WORK"; fi
}
trap cleanup EXIT

# --- the fixed ports must be free -----------------------------------------------------------
BUSY="$(python3 - "${PORTS[@]}" <<'EOF'
import socket, sys
busy = []
for port in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(port)))
    except OSError:
        busy.append(port)
    finally:
        s.close()
print(" ".join(busy))
EOF
)"
if [ -n "$BUSY" ]; then
    say "ports upstream's tests use are busy: $BUSY"
    exit 1
fi

# --- run ------------------------------------------------------------------------------------
set +e
(
    cd "$WORK/src" &&
        PATH="$WORK/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
            timeout -s INT -k 10 "$TIME_LIMIT" python3 -m pytest -v -rA -p no:cacheprovider \
            --rootdir="$WORK/src" -o addopts= "${SELECTED[@]}"
)
STATUS=$?
set -e

echo
echo "== server command lines (PID, then the command upstream's launcher ran)"
cat "$WORK/logs/commands.log" 2>/dev/null || echo "(no server was started)"
if [ "$STATUS" -ne 0 ]; then
    for log in "$WORK"/logs/server-*.log; do
        [ -f "$log" ] || continue
        echo "== $(basename "$log") (last 40 lines)"
        tail -n 40 "$log"
    done
fi
if [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 137 ]; then
    say "the tests did not finish within ${TIME_LIMIT}s"
    exit 1
fi
if [ "$STATUS" -ne 0 ]; then
    say "upstream tests failed (pytest exit $STATUS)"
    exit 1
fi
say "all selected upstream tests passed"
