#!/usr/bin/env bash
# Peak memory of `leakhound classify` on one 2 GB line read from stdin, with a secret
# planted near the end: memory must stay bounded and the secret must still be found.
set -euo pipefail
cd "$(dirname "$0")/../.."
GB=${GB:-2}
cargo build --release -q -p leakhound-cli
key="sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx"
mkdir -p bench-out
# `yes` + `tr` produce the line without ever holding it; the key follows it on the same line.
{ yes 'lorem ipsum dolor sit amet ' | tr -d '\n' | head -c $((GB * 1000 * 1000 * 1000)); printf ' %s\n' "$key"; } |
    /usr/bin/time -f '%e %M' -o bench-out/huge_line.time \
        target/release/leakhound classify - --format jsonl > bench-out/huge_line.out || true
read -r secs rss_kb < <(tail -n 1 bench-out/huge_line.time)
found=$(grep -c 'lh.openai.project-key' bench-out/huge_line.out || true)
echo "| ${GB} GB single line (stdin) | ${secs} s | $((rss_kb / 1024)) MB peak RSS | planted key found: ${found} |"
