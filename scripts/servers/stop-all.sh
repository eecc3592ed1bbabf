#!/usr/bin/env bash
# Stops what start-all.sh started.
cd "$(dirname "$0")/../.."
pids=target/lh-servers.pids
[ -f "$pids" ] || exit 0
while read -r p; do
    [ -n "$p" ] && kill "$p" 2>/dev/null
done < "$pids"
sleep 0.5
while read -r p; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
done < "$pids"
rm -f "$pids"
exit 0
