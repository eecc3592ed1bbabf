#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one at a time, in a single libFuzzer job under
# `nice -n 19`, and prints one summary line per target. See docs/fuzzing.md.
#
#   scripts/fuzz.sh                 every target (`cargo fuzz list`)
#   scripts/fuzz.sh redis_resp ...  only these
#
# Environment:
#   FUZZ_SECONDS    time per target (default 600)
#   FUZZ_SANITIZER  address (default) or none
#   FUZZ_MAX_LEN    largest input (default 65536)
#
# The committed seeds (fuzz/seeds/TARGET) are copied into a scratch corpus
# (fuzz/corpus/TARGET, git-ignored) that the fuzzer grows; the seed directory is never
# written. libFuzzer's log is fuzz/runs/TARGET/fuzz-0.log; crashes, timeouts and OOMs go
# to fuzz/artifacts/TARGET/. Exits non-zero when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

secs=${FUZZ_SECONDS:-600}
san=${FUZZ_SANITIZER:-address}
max_len=${FUZZ_MAX_LEN:-65536}
# cargo fuzz passes nightly-only flags to rustc; the stable toolchain accepts them so.
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cd fuzz
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

failed=0
summaries=()
for t in "${targets[@]}"; do
    [ -d "seeds/$t" ] || { echo "fuzz.sh: no seeds for $t (fuzz/seeds/$t)" >&2; exit 2; }
    corpus=$root/fuzz/corpus/$t
    run=$root/fuzz/runs/$t
    mkdir -p "$corpus" "$run" "$root/fuzz/artifacts/$t"
    cp -n "seeds/$t"/* "$corpus"/
    rm -f "$run/fuzz-0.log"
    before=$(find "$root/fuzz/artifacts/$t" -type f | wc -l)
    nice -n 19 cargo fuzz build -s "$san" "$t"
    echo "fuzz.sh: $t for ${secs}s (log: fuzz/runs/$t/fuzz-0.log)" >&2
    # -jobs=1 -workers=1: one fuzzing process; libFuzzer writes its log to ./fuzz-0.log.
    start=$SECONDS
    set +e
    (cd "$run" && nice -n 19 cargo fuzz run --fuzz-dir "$root/fuzz" -s "$san" "$t" "$corpus" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$max_len" \
        -jobs=1 -workers=1 -print_final_stats=1) > "$run/driver.log" 2>&1
    rc=$?
    set -e
    took=$((SECONDS - start))
    log=$run/fuzz-0.log
    [ -f "$log" ] || log=$run/driver.log
    execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
    rate=$(grep -a 'stat::average_exec_per_sec' "$log" | tail -1 | awk '{print $2}')
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -aoE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    # libFuzzer's own corpus count; the directory also keeps files of earlier runs.
    units=$(grep -aoE 'corp: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    found=$(grep -acE '^==[0-9]+== ERROR|panicked at|deadly signal|ERROR: libFuzzer' "$log" || true)
    artifacts=$(( $(find "$root/fuzz/artifacts/$t" -type f | wc -l) - before ))
    status=clean
    if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
        status="FOUND (rc=$rc, see $log and fuzz/artifacts/$t)"
        failed=1
    fi
    line="$t: ${took}s of ${secs}s execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${units:-?} new_artifacts=$artifacts $status"
    echo "$line"
    summaries+=("$line")
done

echo
echo "== summary ($(date -u +%Y-%m-%d), sanitizer $san)"
printf '%s\n' "${summaries[@]}"
exit "$failed"
