#!/usr/bin/env bash
# Starts a deliberately exposed ClickHouse on ADDR (default 127.0.42.100) with no password
# and fills app.log_stream with ROWS (default 1M) rows of synthetic chat logs, keys and
# backend details made up from the row number. Prints the server's PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ADDR=${ADDR:-127.0.42.100}
ROWS=${ROWS:-1000000}
dir=target/demo/clickhouse
rm -rf "$dir"
pid=$(scripts/servers/clickhouse.sh "$dir" "$ADDR" 8123 9000 open)
url="http://$ADDR:8123/?user=seed&password=lh-seed-9cQx"
q() { curl -fsS "$url" --data-binary "$1"; }
q "CREATE DATABASE app"
q "CREATE TABLE app.log_stream (ts DateTime, user_id UInt64, service String, level String, message String, meta String) ENGINE = MergeTree ORDER BY ts"
# The keys have real formats but are random; nothing here is a credential.
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
echo "$pid"
