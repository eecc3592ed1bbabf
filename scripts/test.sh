#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing, starts the
# servers the tests need on loopback, runs every test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need_cmd() { # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

need_cmd cc gcc
need_cmd git git
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo is required" >&2; exit 2; }

# Servers started by this script are recorded here and stopped on exit, whatever happens.
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
# (The classifier needs no servers; the scanner's tests add theirs here.)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
