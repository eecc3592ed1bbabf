#!/usr/bin/env bash
# Starts two PostgreSQL 15 clusters on loopback addresses for tests and demos.
#   postgres.sh start STATE_DIR ENV_FILE PIDS_FILE
#
#   127.0.42.8:5432  trust for every network connection (the exposure leakhound must find),
#                    seeded with planted synthetic secrets, chat and PII.
#   127.0.42.9:5432  scram-sha-256 (postgres has a password); ssl=on with the snakeoil
#                    certificate when it is readable, so the SSLRequest answer is 'S'.
#
# Both log every statement (log_statement=all) to STATE_DIR/postgres-*/postgres.log with
# the application name in each line prefix; tests read the trust cluster's log to prove
# that leakhound's sessions only ran allowlisted reads inside READ ONLY transactions.
# PostgreSQL refuses to run as root, so servers run as the `postgres` system user; unix
# sockets live in the cluster directory (seeding uses them, with local trust).
# Appends VAR=value lines to ENV_FILE and the postmasters' PIDs to PIDS_FILE.
set -euo pipefail
[ "${1:-}" = start ] || { echo "usage: postgres.sh start STATE_DIR ENV_FILE PIDS_FILE" >&2; exit 2; }
state=$2 env_file=$3 pids=$4
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/postgres" ] || { echo "postgres.sh: $bin/postgres not found" >&2; exit 1; }
mkdir -p "$state"
state=$(cd "$state" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# Runs a command as postgres (setpriv execs, so `$!` of a backgrounded call is the server).
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- "$@"; }

start_cluster() { # name addr auth
    local name=$1 addr=$2 auth=$3
    local dir=$state/postgres-$name
    rm -rf "$dir"
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    local pwfile=()
    if [ "$auth" = scram-sha-256 ]; then
        # A synthetic password the tests never give leakhound.
        printf '%s\n' 'lh-pg-Sc7mVx2q' > "$dir/pw"
        chown postgres "$dir/pw"
        pwfile=(--pwfile="$dir/pw")
    fi
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host="$auth" \
        --encoding=UTF8 --locale=C "${pwfile[@]}" > "$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2; return 1; }
    rm -f "$dir/pw"
    cat > "$dir/data/pg_hba.conf" <<HBA
local all all trust
host  all all 0.0.0.0/0 $auth
host  all all ::/0      $auth
HBA
    local ssl=off
    if [ "$auth" = scram-sha-256 ] && as_pg test -r /etc/ssl/private/ssl-cert-snakeoil.key; then
        ssl=on
    fi
    cat >> "$dir/data/postgresql.conf" <<CONF
password_encryption = scram-sha-256
log_statement = all
logging_collector = off
log_line_prefix = '%m [%p] app=%a user=%u db=%d '
log_connections = on
log_disconnections = on
shared_buffers = 16MB
max_connections = 60
ssl = $ssl
ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'
ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'
CONF
    # The shell (root) opens the log, so the file is readable to tests whoever they run as.
    : > "$dir/postgres.log"
    chmod 644 "$dir/postgres.log"
    setsid setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- \
        "$bin/postgres" -D "$dir/data" -c listen_addresses="$addr" -p 5432 -k "$dir" \
        >> "$dir/postgres.log" 2>&1 < /dev/null &
    local pid=$!
    echo "$pid" >> "$pids"
    # Ready when it accepts a query on its socket; give up after 30 s.
    for _ in $(seq 1 300); do
        if "$bin/psql" -h "$dir" -p 5432 -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "postgres.sh: cluster $name did not start" >&2
    tail -20 "$dir/postgres.log" >&2 || true
    return 1
}

start_cluster trust 127.0.42.8 trust
start_cluster scram 127.0.42.9 scram-sha-256

# Seed over the unix socket (local trust), as `psql`, so the seed statements are easy to
# tell apart from leakhound's (application_name=leakhound) in the log.
seed() { "$bin/psql" -h "$state/postgres-trust" -p 5432 -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
seed -d postgres -c 'CREATE DATABASE app' -c 'CREATE DATABASE analytics'
seed -d app -f "$here/seed_postgres_app.sql"
seed -d analytics <<'SQL'
CREATE TABLE public.events (id bigint, kind text, payload jsonb);
INSERT INTO public.events VALUES
 (1, 'error', '{"upstream": "http://inference.ml.svc.cluster.local:8000/v1", "status": 502}'),
 (2, 'signup', '{"email": "bob.smith@corp-mail.net", "plan": "pro"}');
ANALYZE;
SQL

cat >> "$env_file" <<ENV
LH_PG_TRUST=127.0.42.8
LH_PG_SCRAM=127.0.42.9
LH_PG_TRUST_LOG=$state/postgres-trust/postgres.log
ENV
