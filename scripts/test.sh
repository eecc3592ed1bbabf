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
need_cmd curl curl
need_cmd python3 python3
need_cmd ip iproute2       # SYN-mode tests run in a private network namespace
need_cmd gzip gzip         # the hostile-server suite builds a gzip bomb
[ -x /usr/sbin/clickhouse-server ] || apt_install clickhouse-server
need_cmd clickhouse-client clickhouse-client
need_cmd redis-server redis-server
need_cmd redis-cli redis-tools
[ -x /usr/bin/chromium ] || apt_install chromium
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_install postgresql
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo is required" >&2; exit 2; }

# Real servers on 127.0.42.0/24 (see scripts/servers/start-all.sh); stopped on exit,
# whatever happens. Their addresses reach the tests through the environment.
trap 'scripts/servers/stop-all.sh' EXIT
scripts/servers/stop-all.sh
scripts/servers/start-all.sh
set -a
. target/lh-servers.env
set +a

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
