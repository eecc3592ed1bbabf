#!/usr/bin/env bash
# The main job, end to end, on this machine only: start a deliberately exposed ClickHouse
# on loopback (no password, like the DeepSeek server), fill a `log_stream` table with 1M
# rows of synthetic chat logs, API keys and backend details, scan it with leakhound, and
# show the report. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${ADDR:-127.0.42.100}
ROWS=${ROWS:-1000000}

if [ ! -x /usr/sbin/clickhouse-server ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server curl >/dev/null
fi
cargo build --release -q -p leakhound-cli

dir=target/demo/clickhouse
rm -rf "$dir"
pid=$(scripts/servers/clickhouse.sh "$dir" "$ADDR" 8123 9000 open)
trap 'kill $pid 2>/dev/null || true' EXIT
url="http://$ADDR:8123/?user=seed&password=lh-seed-9cQx"
q() { curl -fsS "$url" --data-binary "$1"; }

echo "== seeding $ROWS rows of synthetic data into app.log_stream on $ADDR (takes a few seconds)"
q "CREATE DATABASE app"
q "CREATE TABLE app.log_stream (ts DateTime, user_id UInt64, service String, level String, message String, meta String) ENGINE = MergeTree ORDER BY ts"
# Every value below is made up from the row number: the keys have real formats but are random.
q "INSERT INTO app.log_stream
SELECT
  toDateTime('2025-01-29 00:00:00') + number AS ts,
  number % 50000 AS user_id,
  ['api-gateway', 'chat-backend', 'billing', 'inference-router'][number % 4 + 1] AS service,
  ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR'][number % 5 + 1] AS level,
  multiIf(
    number % 3 = 0, concat('{\"messages\":[{\"role\":\"user\",\"content\":\"',
        ['帮我写一封请假邮件', 'Summarise this contract for me', 'What is the weather tomorrow?', '我的手机号是13912345678，帮我查快递'][number % 4 + 1],
        '\"},{\"role\":\"assistant\",\"content\":\"Sure, here you go.\"}]}'),
    number % 1000 = 1, concat('auth ok key=sk-proj-', substring(hex(MD5(toString(number))), 1, 24), 'T3BlbkFJ', substring(hex(MD5(toString(number * 7))), 1, 24)),
    number % 997 = 2, concat('forwarding to http://inference-', toString(number % 8), '.ml.svc.cluster.local:8000/v1/chat, cwd /srv/deepthink/app'),
    concat('request ', toString(number), ' served in ', toString(number % 300), 'ms')
  ) AS message,
  if(number % 5000 = 3, concat('{\"email\":\"user', toString(number), '@mailbox.org\",\"card\":\"4111 1111 1111 1111\"}'), '') AS meta
FROM numbers($ROWS)"
q "SELECT count() FROM app.log_stream" | sed 's/^/rows in app.log_stream: /'

echo "== leakhound scan $ADDR -p 8123,9000"
/usr/bin/time -f 'scan wall time %e s, peak RSS %M KB' target/release/leakhound scan "$ADDR" -p 8123,9000 --fail-on critical || true
