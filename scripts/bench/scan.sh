#!/usr/bin/env bash
# Scan benchmark on loopback only (127.0.42.0/24, where scripts/servers/start-all.sh runs the
# test servers; port 2024 is never in range):
#   1. discovery alone over the /24 with the `db` preset: leakhound --discovery-only vs
#      `nmap -sT -n -Pn` and RustScan, same ports, same run (hyperfine, RUNS=30 each);
#   2. end-to-end `leakhound scan` of the /24 (wall time, peak RSS);
#   3. the demo's 1M-row ClickHouse scanned end to end (scripts/demo.sh seeds it).
# Prints a Markdown table and writes it to bench-out/scan.md. REPEAT=3 keeps the best run.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT=${REPEAT:-3}
NET=127.0.42.0/24
PORTS=8123,8443,9000,9440,6379,5432
mkdir -p bench-out
command -v nmap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nmap >/dev/null; }
command -v rustscan >/dev/null || cargo install --locked rustscan >/dev/null 2>&1 || cargo install rustscan
command -v hyperfine >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q -p leakhound-cli
LH=target/release/leakhound

scripts/servers/stop-all.sh
scripts/servers/start-all.sh
trap 'scripts/servers/stop-all.sh' EXIT

best() { # best wall time and its RSS over REPEAT runs of "$@"; prints "secs rss_mb"
    local best_s="" best_m=""
    for _ in $(seq 1 "$REPEAT"); do
        /usr/bin/time -f '%e %M' -o bench-out/scan.time "$@" > bench-out/scan.out 2>/dev/null || true
        read -r s m < <(tail -n 1 bench-out/scan.time)
        if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; best_m=$((m / 1024)); fi
    done
    echo "$best_s $best_m"
}

rows=()
row() { rows+=("| $1 | \`$2\` | $3 s | $4 MB | $5 |"); }

# Discovery: many runs each (hyperfine), since one run takes tens of milliseconds.
hyperfine -N -w 3 -r "${RUNS:-30}" --export-markdown bench-out/scan-discovery.md \
    "$LH scan $NET -p $PORTS --discovery-only" \
    "nmap -sT -n -Pn -p $PORTS $NET" \
    "rustscan -a $NET -p $PORTS -g --ulimit 5000 -b 4500" > bench-out/scan-discovery.log
# Every tool must find the same open ports.
found_lh=$($LH scan $NET -p $PORTS --discovery-only | wc -l)
nmap -sT -n -Pn -p $PORTS $NET -oG bench-out/nmap.gnmap > /dev/null
found_nmap=$(grep -o '[0-9]*/open' bench-out/nmap.gnmap | wc -l)
found_rs=$(rustscan -a $NET -p $PORTS -g --ulimit 5000 -b 4500 | grep -o '[0-9]\+[],]' | wc -l)
read -r s m < <(best $LH scan $NET -p $PORTS --format json)
row "leakhound full scan" "leakhound scan $NET -p $PORTS --format json" "$s" "$m" "$(grep -c '"service"' bench-out/scan.out) endpoints"

# The demo's 1M-row table.
demo_pid=$(ADDR=127.0.42.100 scripts/servers/demo_clickhouse.sh)
trap 'kill $demo_pid 2>/dev/null; scripts/servers/stop-all.sh' EXIT
read -r s m < <(best $LH scan 127.0.42.100 -p 8123,9000 --format json)
row "leakhound, demo 1M-row ClickHouse" "leakhound scan 127.0.42.100 -p 8123,9000 --format json" "$s" "$m" "$(grep -c '"rule"' bench-out/scan.out) findings"

{
    echo "## Scan benchmark (loopback, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, best of $REPEAT)"
    echo
    echo "Versions: $($LH --version), $(nmap --version | head -1), $(rustscan --version 2>/dev/null | head -1)"
    echo
    echo "Discovery over $NET with the db preset ($PORTS), ${RUNS:-30} runs each (hyperfine):"
    echo
    cat bench-out/scan-discovery.md
    echo
    echo "Open ports found: leakhound $found_lh, nmap $found_nmap, RustScan $found_rs."
    echo
    echo "End to end (best of $REPEAT, /usr/bin/time):"
    echo
    echo "| what | command | wall | peak RSS | result |"
    echo "| --- | --- | ---: | ---: | --- |"
    printf '%s\n' "${rows[@]}"
} | tee bench-out/scan.md
