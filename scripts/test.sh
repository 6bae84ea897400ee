#!/usr/bin/env bash
# Runs every test Sluice has, installing what they need first (nats-server, the reference
# server the differential tests compare against). Safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian installs nats-server in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nats-server >/dev/null 2>&1; then
    echo "== installing nats-server (reference server for differential tests)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi
nats-server --version

# nats-py, the Python client tests/client_nats_py.rs drives; required there once installed here.
# With `nkeys` (nats-py signs the server's nonce with it: tests/nkeys.rs).
if ! python3 -c "import nats, nkeys" >/dev/null 2>&1; then
    echo "== installing nats-py and nkeys (Python client for tests/client_nats_py.rs, nkeys.rs)"
    python3 -m pip install -q nats-py==2.9.0 nkeys==0.2.1
fi
export SLUICE_REQUIRE_NATS_PY=1

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo build (the binary the integration tests start)"
cargo build -p sluice

echo "== cargo test"
cargo test --workspace -- --test-threads=4
