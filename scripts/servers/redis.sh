#!/usr/bin/env bash
# Starts the Redis test servers and seeds them with synthetic planted data.
#   redis.sh start STATE_DIR ENV_FILE PIDS_FILE
#
#   127.0.42.6:6379  open: no password, protected mode off (what leaks in the wild)
#   127.0.42.7:6379  requirepass
#
# Both run in the foreground under setsid, persist nothing (--save '', no AOF), and log to
# STATE_DIR/redis-*/redis.log. Appends LH_REDIS_OPEN / LH_REDIS_AUTH to ENV_FILE and the
# two PIDs to PIDS_FILE. Every value planted below is synthetic.
set -euo pipefail
[ "${1:-}" = start ] || { echo "usage: redis.sh start STATE_DIR ENV_FILE PIDS_FILE" >&2; exit 2; }
state=$2 env_file=$3 pids=$4

open_addr=127.0.42.6
auth_addr=127.0.42.7
port=6379
password=lh-redis-Vd83qLx

start() { # name addr [extra args...]
    local name=$1 addr=$2
    shift 2
    local dir=$state/redis-$name
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    setsid redis-server --bind "$addr" --port "$port" --save '' --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log" --daemonize no "$@" \
        < /dev/null > "$dir/stdout.log" 2>&1 &
    echo $! >> "$pids"
}

wait_ready() { # addr [redis-cli auth args...]
    local addr=$1
    shift
    for _ in $(seq 1 100); do
        [ "$(redis-cli -h "$addr" -p "$port" "$@" PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "redis.sh: Redis on $addr:$port did not come up" >&2
    exit 1
}

start open "$open_addr" --protected-mode no
start auth "$auth_addr" --requirepass "$password"
wait_ready "$open_addr"
wait_ready "$auth_addr" -a "$password" --no-auth-warning

OPENAI_KEY='sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx'
JWT='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsaC1zeW50aGV0aWMtNzczMSIsImlhdCI6MTcxODAwMDAwMCwiZXhwIjoxNzE4MDAzNjAwfQ.yMhRKBLwMwA67gWgE2zJ1Yk1FkvCBYsJpNac6B_Feyk'

r() { redis-cli -h "$open_addr" -p "$port" "$@" > /dev/null; }

# --- open server, db0
r SET config:openai "OPENAI_API_KEY=$OPENAI_KEY"
r SET auth:session:8f3a9c2e11 "{\"access_token\": \"$JWT\", \"expires_in\": 3600}"
r HSET user:1001 name "Jane Roe" email jane.roe@mailbox.org phone "+1 415 555 2671" plan pro
r HSET user:1002 name "Sam Lee" email sam.lee@mailbox.org phone "+44 20 7946 0958" plan free
r RPUSH chat:history:42 \
    '[{"role":"user","content":"My card 4111 1111 1111 1111 was charged twice, can you check?"}]' \
    '[{"role":"assistant","content":"I can help with that. Which merchant shows the duplicate charge?"}]' \
    '[{"role":"user","content":"It was the annual plan renewal on May 2."}]'
r SADD admins:emails jane.roe@mailbox.org ops-oncall@mailbox.org
r ZADD leaderboard 10 jane.roe@mailbox.org 7 sam.lee@mailbox.org
r XADD payments:events '*' email jane.roe@mailbox.org card '4111 1111 1111 1111' amount 49.00
# Noise: many keys of one pattern (SCAN bounds, per-pattern aggregation) and a value larger
# than any sample cap.
for i in $(seq 1 300); do echo "SET session:$i ok"; done \
    | redis-cli -h "$open_addr" -p "$port" > /dev/null
head -c 2000000 /dev/zero | tr '\0' x | redis-cli -h "$open_addr" -p "$port" -x SET blob:big > /dev/null
# --- open server, db2: reached only through SELECT
r -n 2 SET svc:internal 'DATABASE_URL=postgres://app:S3cr3tPw9x@db.internal:5432/app'

# --- password server: the same kind of data, which must never be read without the password
ra() { redis-cli -h "$auth_addr" -p "$port" -a "$password" --no-auth-warning "$@" > /dev/null; }
ra SET config:openai "OPENAI_API_KEY=$OPENAI_KEY"
ra HSET user:1001 email jane.roe@mailbox.org phone "+1 415 555 2671"

cat >> "$env_file" <<ENV
LH_REDIS_OPEN=$open_addr
LH_REDIS_AUTH=$auth_addr
ENV
