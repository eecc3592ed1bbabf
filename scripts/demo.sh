#!/usr/bin/env bash
# The main job, end to end, on this machine only: start a deliberately exposed ClickHouse
# on loopback (no password, like the DeepSeek server), fill a `log_stream` table with 1M
# rows of synthetic chat logs, API keys and backend details, scan it with leakhound, and
# show the report. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export ADDR=${ADDR:-127.0.42.100}
export ROWS=${ROWS:-1000000}
if [ ! -x /usr/sbin/clickhouse-server ] || ! command -v curl >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server curl >/dev/null
fi
cargo build --release -q -p leakhound-cli
echo "== starting an exposed ClickHouse on $ADDR and seeding $ROWS synthetic rows into app.log_stream"
pid=$(scripts/servers/demo_clickhouse.sh)
trap 'kill $pid 2>/dev/null || true' EXIT
curl -fsS "http://$ADDR:8123/?query=SELECT+count()+FROM+app.log_stream" | sed 's/^/rows in app.log_stream: /'
echo "== leakhound scan $ADDR -p 8123,9000"
/usr/bin/time -f 'scan wall time %e s, peak RSS %M KB' target/release/leakhound scan "$ADDR" -p 8123,9000 || true
