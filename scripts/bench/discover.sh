#!/usr/bin/env bash
# Discovery benchmark: leakhound --discovery-only vs nmap and RustScan, all in ONE run, on
# addresses that exist only inside network namespaces this script creates (nothing in the root
# namespace is ever scanned; port 2024 is never in any range):
#   (a) 127.0.0.1, ports 1-2023,2025-65535 (20 listeners): leakhound (connect and --syn), nmap -sT, nmap -sS
#       (raw packets, pinned to `-e lo` inside the namespace), RustScan. Short runs: hyperfine
#       (RUNS each) for the wall time, plus one /usr/bin/time run per tool for RSS and ports.
#   (b) 127.0.0.0/16 x 4 ports (listeners on a few addresses): leakhound, nmap -sT, RustScan.
#   (c) 127.0.0.0/8 x 1 port: leakhound alone, wall time and peak RSS (target: < 64 MB).
#   (d) two namespaces joined by a veth pair on 198.18.0.0/24 (RFC 2544 range), 50 ms delay and
#       1 % loss on BOTH directions (egress of each end), 30 listeners among 1-5000 on the
#       server address; scan 1-2023,2025-5000 from the client namespace: leakhound, nmap -sT.
#       Completion time and open ports missed per run. The impairment is `tc qdisc ... netem
#       delay 50ms loss 1%` on each veth end; on a kernel without sch_netem the script falls back
#       to the same impairment built from netfilter: iptables `statistic` drops 1 % of packets
#       in each direction and NFQUEUE hands the rest to a small userspace delay line (below) that
#       releases each packet 50 ms after it was queued. The table says which one ran.
# (b), (c), (d) keep the best of REPEAT runs (/usr/bin/time); every run's open-port count is
# compared with the listeners actually started (the truth): misses and extras are reported.
# Peak RSS is /usr/bin/time's maximum resident set size of the scanner process.
#
# Fairness (what each tool runs with, and why):
#   leakhound: defaults: concurrency sized from the open-files limit (5000 here), connect timeout
#     1500 ms, 1 retry of an unanswered connect (refused ports are not retried).
#   RustScan: -b 5000 (same connects in flight), -t 1500 (its default; same timeout),
#     --ulimit <raised limit>, -g (ports only, no nmap), --no-config. --tries stays at its
#     default 1: RustScan retries every failed connect, refused ones too, so --tries 2 would
#     double its work on closed ports, which leakhound does not do.
#   nmap: -n -Pn (no DNS, no host discovery: leakhound does neither), -T4, --max-retries 1
#     (leakhound's 1 retry) and --max-rtt-timeout 1500ms (leakhound's connect timeout);
#     parallelism left to nmap's own congestion control. nmap -sS additionally -e lo.
#
# Network safety: (a)-(c) run in `lhbench-$$`, a fresh namespace with only `lo` up; (d) runs in
# `lhbench-c-$$` / `lhbench-s-$$` with a veth pair created directly inside them, after
# `ip route add unreachable 198.18.0.0/24` in the root namespace (removed at exit). A trap kills
# every process in those namespaces, deletes them and the route on any exit. Listeners and the
# delay line exit by themselves after LISTEN_TTL seconds.
#
# Environment overrides:
#   CASES="a b c d"  cases to run        REPEAT=3  best-of count (QUICK: 1)
#   RUNS=10          hyperfine runs in (a) (QUICK: 3)
#   QUICK=1          smoke test: (b) scans 127.0.0.0/20, (c) scans 127.0.0.0/16
#   NOTE="..."       free text put in the report header (e.g. concurrent load on the machine)
#   SKIP_BUILD=1     use target/release/leakhound as it is
#   LISTEN_TTL=7200  lifetime bound of the listeners and the delay line, seconds
# Output: a Markdown report on stdout and in bench-out/discover.md; raw outputs in
# bench-out/discover/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

CASES=${CASES:-"a b c d"}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then REPEAT=${REPEAT:-1}; RUNS=${RUNS:-3}; else REPEAT=${REPEAT:-3}; RUNS=${RUNS:-10}; fi
LISTEN_TTL=${LISTEN_TTL:-7200}
NOTE=${NOTE:-}
OUT=$ROOT/bench-out/discover
REPORT=$ROOT/bench-out/discover.md
LH=target/release/leakhound
NS=lhbench-$$          # (a) (b) (c)
NSC=lhbench-c-$$       # (d) client
NSS=lhbench-s-$$       # (d) server
VC=lhc$$ VS=lhs$$      # (d) veth ends (client, server)
D_NET=198.18.0.0/24 D_CLIENT=198.18.0.1 D_SERVER=198.18.0.2
QNUM=7                 # (d) NFQUEUE number (fallback impairment only)

log() { printf '[discover.sh] %s\n' "$*" >&2; }
has() { [[ " $CASES " == *" $1 "* ]]; }
[ "$(id -u)" = 0 ] || { log "needs root (network namespaces)"; exit 1; }

# --- tools -------------------------------------------------------------------------------------
apt_install() { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
command -v nmap >/dev/null || apt_install nmap
command -v hyperfine >/dev/null || apt_install hyperfine
command -v ip >/dev/null || apt_install iproute2
[ -x /usr/bin/time ] || apt_install time
if has d && ! command -v iptables >/dev/null; then apt_install iptables; fi
export PATH=$HOME/.cargo/bin:$PATH
command -v rustscan >/dev/null || cargo install --locked rustscan >/dev/null 2>&1 || cargo install rustscan
PY=$(python3 -c 'import sys; print(sys.executable)')
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for try in 1 2 3 4 5; do   # another engineer may be mid-edit: wait and retry, bounded
        cargo build --release -q -p leakhound-cli && break
        [ "$try" = 5 ] && { log "build failed 5 times"; exit 1; }
        log "build failed (try $try); retrying in 60 s"; sleep 60
    done
fi
[ -x "$LH" ] || { log "no $LH"; exit 1; }

# Open-files limit: raised here, inherited through `ip netns exec`.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

rm -rf "$OUT"; mkdir -p "$OUT"

# --- helper (listeners, delay line, truth, output parsing) ---------------------------------------
HELPER=$OUT/helper.py
cat > "$HELPER" <<'PYEOF'
import ipaddress, os, re, select, signal, socket, struct, sys, time, collections, selectors

def listen(ttl, ready, eps):
    """Bind every ip:port, accept and close connections until ttl seconds have passed."""
    sel = selectors.DefaultSelector()
    for ep in eps:
        host, port = ep.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    with open(ready + ".tmp", "w") as f:
        f.write("\n".join(eps) + "\n")
    os.rename(ready + ".tmp", ready)
    deadline = time.monotonic() + ttl
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            for _ in range(1024):
                try:
                    c, _ = key.fileobj.accept()
                except OSError:
                    break
                c.close()

# Netlink NFQUEUE delay line: every packet queued on queue `qnum` is accepted `delay` seconds
# after it was received. Constant delay keeps FIFO order, so one batch verdict (all ids <= N)
# releases everything that is due. Raw netlink: no library needed.
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLMSG_ERROR = 1, 4, 2

def _attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * (-n % 4)

def _msg(mtype, qnum, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", qnum) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, seq, 0) + body

def _config(sock, qnum, attrs, seq):
    sock.send(_msg(NFQNL_MSG_CONFIG, qnum, attrs, NLM_F_REQUEST | NLM_F_ACK, seq))
    data = sock.recv(65536)
    ln, typ = struct.unpack_from("=IH", data)
    if typ == NLMSG_ERROR:
        err = struct.unpack_from("=i", data, 16)[0]
        if err != 0:
            raise OSError(-err, "nfqueue config: " + os.strerror(-err))

def nfqdelay(qnum, delay_ms, ttl, ready):
    delay = delay_ms / 1000.0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    sock.bind((0, 0))
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    sock.setsockopt(270, 5, 1)  # SOL_NETLINK, NETLINK_NO_ENOBUFS
    _config(sock, qnum, [_attr(1, struct.pack("!BxH", 1, 0))], 1)        # CMD_BIND
    _config(sock, qnum, [_attr(2, struct.pack("!IB", 0, 1))], 2)         # PARAMS: COPY_META
    _config(sock, qnum, [_attr(3, struct.pack("!I", 1 << 20))], 3)       # QUEUE_MAXLEN
    with open(ready, "w") as f:
        f.write("bound\n")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    pending = collections.deque()  # (due, packet_id)
    deadline = time.monotonic() + ttl
    sock.setblocking(False)
    _delay_loop(sock, qnum, delay, deadline, pending, ready + ".stats")

def _delay_loop(sock, qnum, delay, deadline, pending, statsfile):
    # Fidelity: packets held, the longest drain of the socket (a packet read late is released
    # late by up to that) and the latest release past the 50 ms; written whenever idle.
    n, max_drain, max_late, written = 0, 0.0, 0.0, None
    while time.monotonic() < deadline:
        timeout = 1.0
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        r, _, _ = select.select([sock], [], [], timeout)
        if not r and not pending and written != n:
            with open(statsfile, "w") as f:
                f.write("%d packets held; longest socket drain %.1f ms; latest release %.1f ms past the delay\n"
                        % (n, max_drain * 1000, max_late * 1000))
            written = n
        if r:
            t0 = time.monotonic()
            for _ in range(4096):
                try:
                    data = sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    break
                off = 0
                now = time.monotonic()
                while off + 16 <= len(data):
                    ln, typ = struct.unpack_from("=IH", data, off)
                    if ln < 16:
                        break
                    if typ == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                        a = off + 20
                        while a + 4 <= off + ln:
                            alen, atyp = struct.unpack_from("=HH", data, a)
                            if alen < 4:
                                break
                            if atyp & 0x7FFF == 1:  # NFQA_PACKET_HDR
                                pid = struct.unpack_from("!I", data, a + 4)[0]
                                pending.append((now + delay, pid))
                                n += 1
                                break
                            a += (alen + 3) & ~3
                    off += (ln + 3) & ~3
            max_drain = max(max_drain, time.monotonic() - t0)
        now = time.monotonic()
        last = None
        if pending and pending[0][0] <= now:
            max_late = max(max_late, now - pending[0][0])
        while pending and pending[0][0] <= now:
            last = pending.popleft()[1]
        if last is not None:
            sock.send(_msg(NFQNL_MSG_VERDICT_BATCH, qnum, [_attr(2, struct.pack("!II", 1, last))]))

def rtt(host, port, n):
    """Times n TCP connects to host:port (a listener this script started)."""
    ts = []
    for _ in range(int(n)):
        t = time.monotonic()
        socket.create_connection((host, int(port)), timeout=5).close()
        ts.append((time.monotonic() - t) * 1000)
        time.sleep(0.1)
    print("min/avg/max %.1f/%.1f/%.1f ms over %d" % (min(ts), sum(ts) / len(ts), max(ts), len(ts)))

def portset(spec):
    out = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out

def truth(listeners, targets, ports):
    nets = [ipaddress.ip_network(t, strict=False) for t in targets.split(",")]
    ps = portset(ports)
    for line in open(listeners):
        ip, port = line.strip().rsplit(":", 1)
        if int(port) in ps and any(ipaddress.ip_address(ip) in n for n in nets):
            print(f"{ip}:{port}")

def parse(tool, path):
    """Open ports found, one ip:port a line, from a tool's output file."""
    found = set()
    text = open(path, errors="replace").read()
    if tool == "leakhound":
        found = set(re.findall(r"^(\d+\.\d+\.\d+\.\d+:\d+)\s*$", text, re.M))
    elif tool == "nmap":
        for host, ports in re.findall(r"^Host: (\S+) .*?Ports: (.*?)(?:\t|$)", text, re.M):
            for p in ports.split(","):
                f = p.strip().split("/")
                if len(f) > 2 and f[1] == "open":
                    found.add(f"{host}:{f[0]}")
    elif tool == "rustscan":
        for host, ports in re.findall(r"^(\d+\.\d+\.\d+\.\d+) -> \[([\d,]*)\]", text, re.M):
            for p in ports.split(","):
                if p:
                    found.add(f"{host}:{p}")
    return found

def score(tool, path, truthfile):
    """Prints: found(true positives) missed extra."""
    t = set(l.strip() for l in open(truthfile) if l.strip())
    f = parse(tool, path)
    print(len(f & t), len(t - f), len(f - t))
    with open(path + ".missed", "w") as m:
        m.write("".join(x + "\n" for x in sorted(t - f)))
        m.write("".join("extra " + x + "\n" for x in sorted(f - t)))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "listen":
        listen(float(args[0]), args[1], args[2:])
    elif cmd == "nfqdelay":
        nfqdelay(int(args[0]), float(args[1]), float(args[2]), args[3])
    elif cmd == "rtt":
        rtt(*args)
    elif cmd == "truth":
        truth(*args)
    elif cmd == "score":
        score(*args)
PYEOF

# --- namespaces, cleanup -----------------------------------------------------------------------
ROUTE_ADDED=0
cleanup() {
    set +e
    for n in "$NS" "$NSC" "$NSS"; do
        if ip netns list | grep -qw "^$n"; then
            for pid in $(ip netns pids "$n" 2>/dev/null); do kill "$pid" 2>/dev/null; done
            sleep 0.3
            for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            ip netns del "$n" 2>/dev/null
        fi
    done
    [ "$ROUTE_ADDED" = 1 ] && ip route del unreachable "$D_NET" 2>/dev/null
    ROUTE_ADDED=0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

wait_file() { # bounded wait for a file written by a background helper
    for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
    log "timed out waiting for $1"; return 1
}

# --- measurement -------------------------------------------------------------------------------
rows=()     # Markdown table rows
notes=()    # lines printed under the table
LH_TIME=""  # the current case's leakhound time, for the ratio column

# The machine may be shared (e.g. a fuzzer under nice 19): record the load around each case.
loadmark() { notes+=("($1) load average (1/5/15 min) $2: $(cut -d' ' -f1-3 /proc/loadavg); busiest other process: $(ps -eo pcpu=,ni=,comm= --sort=-pcpu | awk 'NR==1{printf "%s (nice %s, %s%% CPU)", $3, $2, $1}')"); }

ratio() { awk -v t="$1" -v l="$LH_TIME" 'BEGIN{ if (l > 0) printf "%.2f×", t / l; else print "–" }'; }

# measure CASE LABEL TOOL NSNAME TRUTHFILE cmd...: REPEAT runs under /usr/bin/time; keeps the best
# wall time and its RSS; records every run's open-port score against the truth.
measure() {
    local case=$1 label=$2 tool=$3 ns=$4 truthf=$5; shift 5
    local best_s="" best_m="" counts="" all="" n_truth rc worst_missed=0 extra=0
    n_truth=$(wc -l < "$truthf")
    for i in $(seq 1 "$REPEAT"); do
        local base=$OUT/$case-$tool-$label-$i
        base=${base// /_}
        rc=0
        in_ns "$ns" /usr/bin/time -f '%e %M' -o "$base.time" "$@" > "$base.out" 2> "$base.err" || rc=$?
        local s m f mi ex
        read -r s m < <(tail -n 1 "$base.time")
        read -r f mi ex < <("$PY" "$HELPER" score "$tool" "$base.out" "$truthf")
        counts+="${counts:+, }$f"; all+="${all:+ }${s}s"
        [ "$mi" -gt "$worst_missed" ] && worst_missed=$mi
        [ "$ex" -gt "$extra" ] && extra=$ex
        [ "$rc" != 0 ] && notes+=("($case) $label run $i exited $rc: $(tail -n 2 "$base.err" | tr '\n' ' ')")
        if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; best_m=$((m / 1024)); fi
        log "($case) $label run $i: ${s}s, $((m / 1024)) MB, found $f/$n_truth (missed $mi, extra $ex)"
    done
    [ "$tool" = leakhound ] && [ "$label" = leakhound ] && LH_TIME=$best_s
    rows+=("| ($case) | $label | \`$*\` | $best_s s | $(ratio "$best_s") | $counts / $n_truth | $worst_missed | $extra | $best_m MB |")
    [ "$REPEAT" -gt 1 ] && notes+=("($case) $label: all runs $all")
    return 0
}

start_listeners() { # NSNAME NAME ENDPOINT...
    local ns=$1 name=$2; shift 2
    in_ns "$ns" "$PY" "$HELPER" listen "$LISTEN_TTL" "$OUT/$name.listeners" "$@" \
        > "$OUT/$name.listen.log" 2>&1 &
    wait_file "$OUT/$name.listeners"
}

SKIP=2024  # never scanned
LH_ARGS=(--discovery-only --no-store -q)
NMAP_ARGS=(-n -Pn -T4 --max-retries 1 --max-rtt-timeout 1500ms)
RS_ARGS=(--no-config -g -b 5000 -t 1500 --ulimit "$NOFILE")

# --- (a) (b) (c): one namespace, loopback only --------------------------------------------------
if has a || has b || has c; then
    ip netns add "$NS"
    in_ns "$NS" ip link set lo up
    # (a) 20 ports on 127.0.0.1, among them the neighbours of the excluded 2024 and both ends.
    A_PORTS="1 22 80 443 1433 2023 2025 3306 5432 6379 8080 8123 9000 9200 11211 27017 31337 45000 54321 65535"
    eps=()
    for p in $A_PORTS; do eps+=("127.0.0.1:$p"); done
    # (b) ports 80,443,5432,9000 on a few addresses of 127.0.0.0/16 (127.0.0.1 has all four).
    eps+=(127.0.1.10:80 127.0.1.10:5432 127.0.9.77:9000 127.0.200.3:80 127.0.200.3:443
          127.0.200.3:9000 127.0.255.254:443)
    # (c) port 8123 on a few addresses of 127.0.0.0/8 (127.0.0.1:8123 is in (a)'s list).
    eps+=(127.0.1.10:8123 127.3.2.1:8123 127.250.0.9:8123 127.255.255.254:8123)
    start_listeners "$NS" lo "${eps[@]}"
fi

if has a; then
    loadmark a before
    A_RANGE=1-2023,2025-65535
    A_TARGET=127.0.0.1
    "$PY" "$HELPER" truth "$OUT/lo.listeners" "$A_TARGET/32" "$A_RANGE" > "$OUT/a.truth"
    LH_A=("$LH" scan "$A_TARGET" -p "$A_RANGE" "${LH_ARGS[@]}")
    NT_A=(nmap -sT "${NMAP_ARGS[@]}" -p "$A_RANGE" "$A_TARGET")
    NS_A=(nmap -sS -e lo "${NMAP_ARGS[@]}" -p "$A_RANGE" "$A_TARGET")
    LS_A=("$LH" scan "$A_TARGET" -p "$A_RANGE" "${LH_ARGS[@]}" --syn --interface lo)
    RS_A=(rustscan -a "$A_TARGET" -r 1-65535 -e "$SKIP" "${RS_ARGS[@]}")
    log "(a) hyperfine, $RUNS runs each"
    in_ns "$NS" hyperfine -N -w 1 -r "$RUNS" --export-json "$OUT/a-hyperfine.json" \
        --export-markdown "$OUT/a-hyperfine.md" \
        "${LH_A[*]}" "${NT_A[*]}" "${NS_A[*]}" "${RS_A[*]}" "${LS_A[*]}" > "$OUT/a-hyperfine.log" 2>&1
    # One timed run each for peak RSS and the ports found.
    A_REPEAT=$REPEAT; REPEAT=1
    measure a leakhound leakhound "$NS" "$OUT/a.truth" "${LH_A[@]}"
    measure a "nmap -sT" nmap "$NS" "$OUT/a.truth" "${NT_A[@]}" -oG -
    measure a "nmap -sS" nmap "$NS" "$OUT/a.truth" "${NS_A[@]}" -oG -
    measure a RustScan rustscan "$NS" "$OUT/a.truth" "${RS_A[@]}"
    measure a "leakhound --syn" leakhound "$NS" "$OUT/a.truth" "${LS_A[@]}"
    REPEAT=$A_REPEAT
    # Replace the single-run wall time by hyperfine's mean ± σ (min) in (a)'s rows.
    mapfile -t HF < <("$PY" -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f %.3f %.3f" % (r["mean"], r["stddev"] or 0, r["min"]))' "$OUT/a-hyperfine.json")
    read -r lh_mean _ _ <<< "${HF[0]}"
    n=${#rows[@]}
    for k in 0 1 2 3 4; do
        read -r mean sd mn <<< "${HF[$k]}"
        r=${rows[$((n - 5 + k))]}
        IFS='|' read -r _ c l cmd _ _ found missed extra rss _ <<< "$r"
        rat=$(awk -v t="$mean" -v l="$lh_mean" 'BEGIN{printf "%.2f×", t / l}')
        rows[$((n - 5 + k))]="|$c|$l|$cmd| $mean s ± $sd (min $mn) | $rat |$found|$missed|$extra|$rss|"
    done
    notes+=("(a) wall: hyperfine mean ± σ (min) over $RUNS runs, 1 warm-up; found/missed/RSS: one /usr/bin/time run.")
    notes+=("(a) extra = reported open with no listener there (listed in bench-out/discover/*.missed). Scanning every port of the scanner's own address hits its own ephemeral range ($(in_ns "$NS" cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' '-')): two of its own in-flight sockets can connect to each other (TCP simultaneous open, A:x->y while B:y->x), which looks like an open port.")
fi

if has b; then
    loadmark b before
    if [ "$QUICK" = 1 ]; then B_NET=127.0.0.0/20; else B_NET=127.0.0.0/16; fi
    B_PORTS=80,443,5432,9000
    "$PY" "$HELPER" truth "$OUT/lo.listeners" "$B_NET" "$B_PORTS" > "$OUT/b.truth"
    measure b leakhound leakhound "$NS" "$OUT/b.truth" "$LH" scan "$B_NET" -p "$B_PORTS" "${LH_ARGS[@]}"
    measure b "nmap -sT" nmap "$NS" "$OUT/b.truth" nmap -sT "${NMAP_ARGS[@]}" -p "$B_PORTS" "$B_NET" -oG -
    measure b RustScan rustscan "$NS" "$OUT/b.truth" rustscan -a "$B_NET" -p "$B_PORTS" "${RS_ARGS[@]}"
fi

if has c; then
    loadmark c before
    if [ "$QUICK" = 1 ]; then C_NET=127.0.0.0/16; else C_NET=127.0.0.0/8; fi
    C_PORT=8123
    "$PY" "$HELPER" truth "$OUT/lo.listeners" "$C_NET" "$C_PORT" > "$OUT/c.truth"
    measure c leakhound leakhound "$NS" "$OUT/c.truth" "$LH" scan "$C_NET" -p "$C_PORT" "${LH_ARGS[@]}"
    notes+=("(c) target: peak RSS < 64 MB.")
fi

# --- (d): two namespaces, veth, 50 ms delay + 1 % loss each way ----------------------------------
if has d; then
    loadmark d before
    ip route add unreachable "$D_NET"   # first: nothing for 198.18.0.0/24 can leave the root ns
    ROUTE_ADDED=1
    ip netns add "$NSC"
    ip netns add "$NSS"
    for n in "$NSC" "$NSS"; do in_ns "$n" ip link set lo up; done
    # Created inside the client namespace, one end moved straight into the server namespace:
    # neither end ever exists in the root namespace.
    in_ns "$NSC" ip link add "$VC" type veth peer name "$VS" netns "$NSS"
    in_ns "$NSC" ip addr add "$D_CLIENT/24" dev "$VC"
    in_ns "$NSS" ip addr add "$D_SERVER/24" dev "$VS"
    in_ns "$NSC" ip link set "$VC" up
    in_ns "$NSS" ip link set "$VS" up
    if in_ns "$NSC" tc qdisc add dev "$VC" root netem delay 50ms loss 1% 2>/dev/null &&
       in_ns "$NSS" tc qdisc add dev "$VS" root netem delay 50ms loss 1% 2>/dev/null; then
        IMPAIR="tc netem delay 50ms loss 1% on the egress of both veth ends ($VC in the client ns, $VS in the server ns)"
    else
        # No sch_netem in this kernel: same impairment from netfilter in the client namespace.
        # Client egress (OUTPUT -o veth) and server egress (arriving: INPUT -i veth) each drop
        # 1 % at random, then wait 50 ms in the NFQUEUE delay line.
        in_ns "$NSC" "$PY" "$HELPER" nfqdelay "$QNUM" 50 "$LISTEN_TTL" "$OUT/d.nfq.ready" \
            > "$OUT/d.nfq.log" 2>&1 &
        wait_file "$OUT/d.nfq.ready"
        for rule in "OUTPUT -o $VC" "INPUT -i $VC"; do
            # shellcheck disable=SC2086
            in_ns "$NSC" iptables -w -A $rule -m statistic --mode random --probability 0.01 -j DROP
            # shellcheck disable=SC2086
            in_ns "$NSC" iptables -w -A $rule -j NFQUEUE --queue-num "$QNUM"
        done
        IMPAIR="no sch_netem in this kernel ($(uname -r)): emulated in the client ns with iptables, both directions: \`-m statistic --mode random --probability 0.01 -j DROP\` then \`-j NFQUEUE\` to a userspace delay line holding each packet 50 ms (bench-out/discover/helper.py nfqdelay), on OUTPUT -o $VC (client egress) and INPUT -i $VC (server egress)"
    fi
    D_PORTS="21 22 23 25 53 80 110 111 135 139 143 443 445 993 995 1433 1521 1723 2023 2025 2049 3000 3306 3389 4369 4444 4848 4900 4999 5000"
    eps=()
    for p in $D_PORTS; do eps+=("$D_SERVER:$p"); done
    start_listeners "$NSS" d "${eps[@]}"
    D_RANGE=1-2023,2025-5000
    "$PY" "$HELPER" truth "$OUT/d.listeners" "$D_SERVER/32" "$D_RANGE" > "$OUT/d.truth"
    # The link works and has the delay: 5 TCP connects to one listener, timed in userspace (ping
    # would under-report the fallback: its receive timestamp is taken before the INPUT hold).
    notes+=("(d) TCP connect time to $D_SERVER:${D_PORTS%% *} from the client ns: $(in_ns "$NSC" "$PY" "$HELPER" rtt "$D_SERVER" "${D_PORTS%% *}" 5)")
    measure d leakhound leakhound "$NSC" "$OUT/d.truth" "$LH" scan "$D_SERVER" -p "$D_RANGE" "${LH_ARGS[@]}"
    measure d "nmap -sT" nmap "$NSC" "$OUT/d.truth" nmap -sT "${NMAP_ARGS[@]}" -p "$D_RANGE" "$D_SERVER" -oG -
    # The same without the parity knobs: nmap's own -T4 retries (6) and RTT timeout cap.
    measure d "nmap -sT, -T4 defaults" nmap "$NSC" "$OUT/d.truth" nmap -sT -n -Pn -T4 -p "$D_RANGE" "$D_SERVER" -oG -
    notes+=("(d) impairment: $IMPAIR.")
    sleep 1.5  # the delay line writes its stats when idle
    [ -f "$OUT/d.nfq.ready.stats" ] && notes+=("(d) delay line: $(cat "$OUT/d.nfq.ready.stats")")
    [ -r /proc/net/netfilter/nfnetlink_queue ] && [ -f "$OUT/d.nfq.ready" ] &&
        notes+=("(d) NFQUEUE stats at the end (queue, portid, waiting, copy mode, copy range, dropped by the queue, dropped in userspace, last id): $(in_ns "$NSC" cat /proc/net/netfilter/nfnetlink_queue | tr -s ' \n' ' ')")
fi

loadmark end "after the last case"

# --- report ------------------------------------------------------------------------------------
{
    echo "## Discovery benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), best of $REPEAT$([ "$QUICK" = 1 ] && echo ', QUICK'))"
    echo
    [ -n "$NOTE" ] && { echo "Note: $NOTE"; echo; }
    echo "Versions: $("$LH" --version) (working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates 2>/dev/null || echo ', with uncommitted changes')), $(nmap --version | head -1), $(rustscan --version 2>/dev/null | head -1), $(hyperfine --version), kernel $(uname -r), open-files limit $NOFILE"
    echo
    echo "| case | tool | command | wall | vs leakhound | open found / truth (per run) | missed (worst run) | extra | peak RSS |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${rows[@]}"
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
} | tee "$REPORT"
