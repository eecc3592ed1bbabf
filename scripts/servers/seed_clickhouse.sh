#!/usr/bin/env bash
# Seeds a test ClickHouse with planted secrets, chat rows and PII (all synthetic), using
# the `seed` user over POST (tests never give leakhound these credentials).
#   seed_clickhouse.sh ADDR HTTP_PORT
set -euo pipefail
url="http://$1:$2/?user=seed&password=lh-seed-9cQx"
q() { curl -fsS "$url" --data-binary "$1" >/dev/null; }
q "CREATE DATABASE IF NOT EXISTS app"
q "DROP TABLE IF EXISTS app.log_stream"
q "CREATE TABLE app.log_stream (ts DateTime, user_id UInt64, level String, message String, api_key String, meta String) ENGINE = MergeTree ORDER BY ts"
q "INSERT INTO app.log_stream VALUES
 ('2025-01-29 10:00:00', 1, 'INFO', '{\"messages\":[{\"role\":\"user\",\"content\":\"帮我写一封邮件给 jane.roe@mailbox.org\"},{\"role\":\"assistant\",\"content\":\"好的\"}]}', 'sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx', 'card 4111 1111 1111 1111'),
 ('2025-01-29 10:00:01', 2, 'ERROR', 'upstream http://inference.ml.svc.cluster.local:8000/v1 failed', '', 'path /var/lib/clickhouse/user_files/export.csv'),
 ('2025-01-29 10:00:02', 3, 'INFO', 'User: what is my balance?\nAssistant: It is 231 dollars.', 'sk-ant-api03-Qm9vdGJhbGxDb2FjaGVzQXJlR3JlYXRBbmRUaGV5S25vd0l0V2VsbEJ1dEl0SXNOb3RBbHdheXNUcnVlT2tBeQ-AbCdEfAA', '')"
q "DROP TABLE IF EXISTS app.users"
q "CREATE TABLE app.users (id UInt64, email String, phone String, note String) ENGINE = TinyLog"
q "INSERT INTO app.users VALUES (1, 'wang.lei@qq.com', '+8613912345678', 'vip'), (2, 'bob.smith@corp-mail.net', '(415) 555-2671', '')"
