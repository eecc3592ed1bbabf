#!/usr/bin/env bash
# Starts one ClickHouse 18.16 server on a loopback address for tests and demos.
#   clickhouse.sh DIR ADDR HTTP_PORT TCP_PORT MODE
# MODE: open (default user, no password), password (default user has a password),
#       restricted (default user only allowed from 10.255.0.1, so loopback is refused).
# Every query is logged to system.query_log (log_queries=1), which tests read to prove
# that leakhound only reads. With HTTPS_PORT and TLS_PORT set, it also serves HTTPS and
# native TLS with a throwaway self-signed certificate. Prints the server's PID.
set -euo pipefail
dir=$1 addr=$2 http=$3 tcp=$4 mode=${5:-open}
mkdir -p "$dir"/{data,tmp,user_files,log}
dir=$(cd "$dir" && pwd)
password=""
networks="<ip>::/0</ip>"
case "$mode" in
    open) ;;
    password) password="lh-test-Zq81vNw" ;;
    restricted) networks="<ip>10.255.0.1</ip>" ;;  # a bare address: 18.16 reads a v4 /mask as a v6 prefix
    *) echo "clickhouse.sh: unknown mode $mode" >&2; exit 2 ;;
esac
cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <log_queries>1</log_queries>
      <max_memory_usage>2000000000</max_memory_usage>
    </default>
  </profiles>
  <users>
    <default>
      <password>$password</password>
      <networks>$networks</networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <!-- Used by the test scripts to seed data and read the query log. -->
    <seed>
      <password>lh-seed-9cQx</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </seed>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
tls_xml=""
if [ -n "${HTTPS_PORT:-}" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
        -subj /CN=leakhound-test -days 2 >/dev/null 2>&1
    tls_xml="<https_port>$HTTPS_PORT</https_port><tcp_port_secure>${TLS_PORT:-9440}</tcp_port_secure>
  <openSSL><server><certificateFile>$dir/cert.pem</certificateFile><privateKeyFile>$dir/key.pem</privateKeyFile>
  <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
  <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>"
fi
cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  $tls_xml
  <listen_host>$addr</listen_host>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
  <mlock_executable>false</mlock_executable>
  <max_concurrent_queries>50</max_concurrent_queries>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <flush_interval_milliseconds>300</flush_interval_milliseconds>
  </query_log>
</yandex>
XML
setsid /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$dir/pid"
# Ready when /ping answers; give up after 20 s.
for _ in $(seq 1 200); do
    if curl -fsS "http://$addr:$http/ping" >/dev/null 2>&1; then
        echo "$pid"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
echo "clickhouse.sh: server in $dir did not start" >&2
tail -20 "$dir/log/error.log" "$dir/log/stdout.log" >&2 || true
exit 1
