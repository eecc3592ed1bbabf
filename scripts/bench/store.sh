#!/usr/bin/env bash
# Store throughput and report generation for 100,000 synthetic findings (issue 4 targets:
# stored in under 2 s, HTML written in under 3 s). Prints Markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "| step | time | result |"
echo "| --- | ---: | --- |"
cargo run --release -q -p leakhound-report --example bench_100k
