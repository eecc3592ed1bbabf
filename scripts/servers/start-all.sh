#!/usr/bin/env bash
# Starts every server the tests need on 127.0.42.0/24 and writes their addresses to
# target/lh-servers.env (sourced by scripts/test.sh). PIDs go to target/lh-servers.pids so
# stop-all.sh can stop exactly what was started.
#
#   127.0.42.1  ClickHouse open            8123 9000
#   127.0.42.2  ClickHouse with password   8123 9000
#   127.0.42.3  ClickHouse, default user restricted by <networks>  8123 9000
#   127.0.42.4  ClickHouse open on non-standard ports  18123 19000, TLS 18443 19440
#   127.0.42.5  FAKE plain HTTP server answering `Ok.`  8123
#   127.0.42.6  Redis open                 6379
#   127.0.42.7  Redis with requirepass     6379
#   127.0.42.8  PostgreSQL, trust auth     5432
#   127.0.42.9  PostgreSQL, SCRAM          5432
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
state=$root/target/lh-servers
rm -rf "$state"
mkdir -p "$state"
env_file=$root/target/lh-servers.env
pids=$root/target/lh-servers.pids
: > "$pids"
: > "$env_file"
here=$root/scripts/servers

ch() { # name addr http tcp mode
    "$here/clickhouse.sh" "$state/$1" "$2" "$3" "$4" "$5" >> "$pids"
}
ch ch-open 127.0.42.1 8123 9000 open
ch ch-password 127.0.42.2 8123 9000 password
ch ch-restricted 127.0.42.3 8123 9000 restricted
HTTPS_PORT=18443 TLS_PORT=19440 ch ch-odd 127.0.42.4 18123 19000 open
"$here/seed_clickhouse.sh" 127.0.42.1 8123
"$here/seed_clickhouse.sh" 127.0.42.4 18123
cat >> "$env_file" <<ENV
LH_CH_OPEN=127.0.42.1
LH_CH_PASSWORD=127.0.42.2
LH_CH_RESTRICTED=127.0.42.3
LH_CH_ODD=127.0.42.4
LH_FAKE_OK=127.0.42.5
LH_CH_LOG_DIR=$state
ENV
setsid python3 "$here/fake_ok_http.py" 127.0.42.5 8123 > "$state/fake_ok.log" 2>&1 < /dev/null &
echo $! >> "$pids"

# Each further service has its own script; they append to the env and pid files.
for s in redis postgres; do
    if [ -x "$here/$s.sh" ]; then
        "$here/$s.sh" start "$state" "$env_file" "$pids"
    fi
done

# Wait for the fake server too (ClickHouse scripts already wait for /ping).
for _ in $(seq 1 50); do
    curl -fsS http://127.0.42.5:8123/ >/dev/null 2>&1 && break
    sleep 0.1
done
echo "LH_REQUIRE_SERVERS=1" >> "$env_file"
