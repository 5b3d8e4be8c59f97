#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Deny-path packet rate: how fast one meshgw worker takes in 64-byte frames,
# validates every header and drops them, against dpdk-testpmd in rxonly mode on
# the same link (receive, count, free) as the baseline.
#
#   core 0                                         core 1
#   +----------------------------+   net_memif    +-------------------------------+
#   | dpdk-testpmd txonly        |  (shared mem,  | run A: dpdk-testpmd rxonly    |
#   | memif server, 64-byte UDP  | ------------>  | run B: meshgw, 1 worker       |
#   | 198.18.0.1 -> 198.18.0.2:9 |  unix socket)  |   198.18.0.2/24, drops every  |
#   +----------------------------+                |   frame as udp_no_listener    |
#                                                 +-------------------------------+
#
# Runs A and B alternate, ROUNDS times, each with a fresh sender. In a run the
# receiver's counters are sampled every WINDOW seconds, RUNS windows after
# WARMUP seconds; the run's rate is its best window (other load only ever slows
# a window down). Each round gives a ratio B/A from two runs seconds apart; the
# result is the median over rounds (this machine's speed drifts by 2x and more
# between minutes, so only ratios of neighbouring runs mean something).
# meshgw's cycles per packet come from its worker's busy_cycles / busy_packets. The receivers are
# memif clients and connect to the sender's socket: with the roles the other way
# round (receiver as server), testpmd rxonly on DPDK 22.11 counted no packets at
# all here, so the baseline could not be measured that way.
#
# Writes bench/results/deny.json and the table in bench/README.md (between the
# deny markers), prints the table. Exit 0 on a completed measurement (whatever
# the ratio), 1 if something did not run.
#
# Environment: ROUNDS (3), WINDOW (3 s), RUNS (2 windows per run, the best
# counts), WARMUP (2 s), MG_BUILD / MESHGW / MESHCTL (tests/lib.sh),
# BENCH_DIR (/run/meshgw-bench: memif socket, state, logs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib.sh"

WINDOW=${WINDOW:-3}
RUNS=${RUNS:-2}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
BENCH_DIR=${BENCH_DIR:-/run/meshgw-bench}
SOCK=$BENCH_DIR/memif.sock
RX_MAC=02:00:c6:12:00:02   # the receiver's memif MAC; the sender aims at it
RESULT=$ROOT/bench/results/deny.json
README=$ROOT/bench/README.md
TESTPMD=${TESTPMD:-dpdk-testpmd}
PY=${MG_PYTHON:-/usr/bin/python3}

# Main lcore first, forwarding lcore second: each program's busy lcore gets
# its own core, its main lcore (idle: stats timer, telemetry, control thread)
# shares the other program's core.
SENDER_LCORES=0@1,1@0
RECEIVER_LCORES=0@0,1@1
EAL_COMMON=(--no-huge -m 512 --no-pci "--log-level=*:notice")

PIDS=()
cleanup() {
	local rc=$? pid i
	for pid in "${PIDS[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		local alive=0
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -f "$SOCK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "deny.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (DPDK runtime dirs, memif socket)"
command -v "$TESTPMD" >/dev/null || die "no $TESTPMD (Debian package dpdk)"
mg_need_bins
mg_lock # no test or other benchmark on these two cores meanwhile
mkdir -p -m 0700 "$BENCH_DIR" "$BENCH_DIR/state" "$(dirname "$RESULT")"
rm -f "$SOCK"

# measure PREFIX KIND WINDOW [RUNS]: sample the receiver's counters over its
# DPDK telemetry socket every WINDOW seconds, RUNS windows in a row, over one
# connection with no process start between samples; prints the best window
# as one JSON object. KIND testpmd reads
# /ethdev/stats,0; KIND meshgw reads /meshgw/stats and /meshgw/drops. With
# WINDOW 0 it only checks that the socket answers.
measure() {
	"$PY" - "$@" <<'PY'
import json, socket, sys, time
prefix, kind, window = sys.argv[1], sys.argv[2], float(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
s.recv(1 << 16)                      # the greeting: version, pid, max length
def query(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))[cmd.split(",")[0]]
def get(d, key):  # "a.b.c", or "a/b/c" as DPDK telemetry names allow
    for k in (key, key.replace(".", "/"), key.replace(".", "_")):
        if k in d:
            return d[k]
    raise KeyError(key)
def sample():
    if kind == "testpmd":
        st = query("/ethdev/stats,0")
        return time.monotonic(), {"packets": st["ipackets"]}, {}
    st = query("/meshgw/stats")
    t = time.monotonic()
    c = {"packets": get(st, "port.bench.rx_packets"),
         "busy_cycles": get(st, "worker.0.busy_cycles"),
         "busy_packets": get(st, "worker.0.busy_packets")}
    for stage in ("rx", "parse", "other"):  # the stages a deny-path turn runs
        try:
            c["cycles_" + stage] = get(st, "worker.0.cycles_" + stage)
        except KeyError:  # a meshgw from before stage accounting
            pass
    return t, c, query("/meshgw/drops")
t0, c0, d0 = sample()
if window <= 0:
    sys.exit(0)
# Consecutive windows; the best one is the result, as other load on the
# machine can only slow a window down, never speed it up.
wins = []
for _ in range(runs):
    time.sleep(window)
    t1, c1, d1 = sample()
    w = {k: c1[k] - c0[k] for k in c0}
    w["seconds"] = t1 - t0
    w["mpps"] = w["packets"] / w["seconds"] / 1e6
    w["drops"] = {k: v - d0.get(k, 0) for k, v in d1.items() if v != d0.get(k, 0)}
    wins.append(w)
    t0, c0, d0 = t1, c1, d1
best = max(wins, key=lambda w: w["mpps"])
best["windows_mpps"] = [round(w["mpps"], 3) for w in wins]
print(json.dumps(best))
PY
}

# wait_for WHAT SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "timed out waiting for $what"
		sleep 0.2
	done
}

# start_sender: testpmd txonly as memif server; returns once the socket exists.
start_sender() {
	local log=$BENCH_DIR/sender-$1.log
	"$TESTPMD" "${EAL_COMMON[@]}" --file-prefix=mgbench-tx "--lcores=$SENDER_LCORES" \
		--vdev "net_memif0,role=server,socket=$SOCK,socket-abstract=no" -- \
		--total-num-mbufs=8192 --nb-cores=1 --forward-mode=txonly --txpkts=64 \
		"--eth-peer=0,$RX_MAC" --auto-start --stats-period=1 \
		</dev/null >"$log" 2>&1 9>&- &
	# --stats-period keeps testpmd running without a terminal until SIGINT.
	SENDER=$!
	PIDS+=("$SENDER")
	wait_for "the sender's memif socket" 20 test -S "$SOCK"
}

stop() { # PID: SIGINT, wait up to 10 s, reap it (its exit status is not ours)
	local i
	kill -INT "$1" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
if "$PY" -c "import sys; sys.exit(0 if $LOAD_START > 1.0 else 1)"; then
	echo "deny.sh: warning: load average $LOAD_START before the run: other work shares these cores, expect lower and noisier numbers" >&2
fi

conf=$BENCH_DIR/gateway.conf
cat >"$conf" <<EOF
# Written by bench/deny.sh: one memif port whose address is txonly's destination,
# so every frame passes full validation and is dropped as udp_no_listener.
node = "bench";
workers = { lcores = [1]; };
ports = (
  {
    name = "bench";
    device = "net_memif0,role=client,socket=$SOCK,socket-abstract=no,mac=$RX_MAC";
    address = "198.18.0.2/24";
    mtu = 1500;
  }
);
state_dir = "$BENCH_DIR/state";
control = { socket = "$BENCH_DIR/state/control.sock"; };
EOF

# ipackets PREFIX: the port's received packets since start (testpmd's telemetry).
ipackets() {
	"$PY" - "$1" <<'PY' || echo 0
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % sys.argv[1])
s.recv(1 << 16)
s.send(b"/ethdev/stats,0")
print(json.loads(s.recv(1 << 20))["/ethdev/stats"]["ipackets"])
PY
}

# run_baseline ROUND: sender + testpmd rxonly; prints the best window as JSON.
run_baseline() {
	local rx out total
	start_sender "baseline-$1"
	"$TESTPMD" "${EAL_COMMON[@]}" --file-prefix=mgbench-rx "--lcores=$RECEIVER_LCORES" \
		--vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no,mac=$RX_MAC" -- \
		--total-num-mbufs=8192 --nb-cores=1 --forward-mode=rxonly --auto-start \
		--record-core-cycles \
		--stats-period=1 </dev/null >"$BENCH_DIR/receiver-testpmd-$1.log" 2>&1 9>&- &
	rx=$!
	PIDS+=("$rx")
	wait_for "testpmd rxonly telemetry" 20 measure mgbench-rx testpmd 0
	sleep "$WARMUP"
	out=$(measure mgbench-rx testpmd "$WINDOW" "$RUNS")
	# The sender frozen, not gone: testpmd may crash when its memif peer goes
	# away, before it prints its cycles.
	kill -STOP "$SENDER" 2>/dev/null || true
	sleep 0.5
	total=$(ipackets mgbench-rx)
	stop "$rx"
	kill -CONT "$SENDER" 2>/dev/null || true
	stop "$SENDER"
	rm -f "$SOCK"
	grep -q '"packets": [1-9]' <<<"$out" ||
		die "the baseline received nothing; logs in $BENCH_DIR"
	# testpmd's own busy cycles (--record-core-cycles: TSC of the bursts that
	# received something, over the run), printed when it stops, over every
	# packet of the run (its own packet count there wraps with memif): the
	# same measure as meshgw's busy_cycles / busy_packets.
	"$PY" - "$out" "$BENCH_DIR/receiver-testpmd-$1.log" "$total" <<'PY'
import json, re, sys
d = json.loads(sys.argv[1])
m = re.findall(r"total cycles=([0-9]+)", open(sys.argv[2], errors="replace").read())
n = int(sys.argv[3] or 0)
d["cycles_per_packet"] = round(int(m[-1]) / n, 1) if m and n else None
print(json.dumps(d))
PY
}

# run_meshgw ROUND: sender + meshgw; prints the best window as JSON.
run_meshgw() {
	local gw out
	start_sender "meshgw-$1"
	"$MESHGW" "${EAL_COMMON[@]}" --file-prefix=mgbench-gw "--lcores=$RECEIVER_LCORES" \
		-- -c "$conf" </dev/null >"$BENCH_DIR/receiver-meshgw-$1.log" 2>&1 9>&- &
	gw=$!
	PIDS+=("$gw")
	wait_for "meshgw telemetry" 30 mg_ctl mgbench-gw status
	kill -0 "$gw" 2>/dev/null || die "meshgw exited; see $BENCH_DIR/receiver-meshgw-$1.log"
	mg_ctl mgbench-gw status --json | mg_json_get tsc_hz >"$BENCH_DIR/tsc_hz"
	sleep "$WARMUP"
	out=$(measure mgbench-gw meshgw "$WINDOW" "$RUNS")
	stop "$SENDER"
	stop "$gw"
	rm -f "$SOCK"
	grep -q '"packets": [1-9]' <<<"$out" ||
		die "meshgw received nothing; logs in $BENCH_DIR"
	echo "$out"
}

# Baseline and meshgw alternate, ROUNDS times: each round's ratio compares two
# runs seconds apart, so a slow phase of the (shared, virtual) machine hits
# both sides of one ratio instead of one side of the whole result.
: >"$BENCH_DIR/rounds.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
	# Called with a redirection, not in $(...): a subshell would hide the
	# started processes from the cleanup trap.
	run_baseline "$r" >"$BENCH_DIR/baseline.json"
	run_meshgw "$r" >"$BENCH_DIR/meshgw.json"
	b=$(cat "$BENCH_DIR/baseline.json")
	g=$(cat "$BENCH_DIR/meshgw.json")
	echo "{\"baseline\": $b, \"meshgw\": $g}" >>"$BENCH_DIR/rounds.jsonl"
	"$PY" - "$b" "$g" "$r" "$BENCH_DIR/tsc_hz" <<'PY'
import json, sys
b, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
p = max(g["busy_packets"], 1)
tsc = float(open(sys.argv[4]).read())
busy = g["busy_cycles"] / (g["seconds"] * tsc)
stages = ", ".join("%s %.1f" % (k[7:], g[k] / p) for k in sorted(g) if k.startswith("cycles_"))
print("deny.sh: round %s: testpmd rxonly %.2f Mpps (%s cycles/packet), meshgw %.2f Mpps, "
      "ratio %.2f, %.1f cycles/packet%s, meshgw busy %.0f %% of the window, drops %s" % (
      sys.argv[3], b["mpps"], b.get("cycles_per_packet"), g["mpps"], g["mpps"] / b["mpps"],
      g["busy_cycles"] / p, " (" + stages + ")" if stages else "", 100 * busy, g["drops"]))
PY
done
TSC_HZ=$(cat "$BENCH_DIR/tsc_hz")

# --- results --------------------------------------------------------------------
export TSC_HZ RESULT WINDOW RUNS ROUNDS LOAD_START BENCH_DIR
"$PY" - <<'PY'
import json, os, platform, statistics, time
e = os.environ
rounds = [json.loads(l) for l in open(e["BENCH_DIR"] + "/rounds.jsonl")]
base = [r["baseline"]["mpps"] for r in rounds]
mesh = [r["meshgw"]["mpps"] for r in rounds]
ratios = [m / b for m, b in zip(mesh, base)]
# The share of the window meshgw's worker spent in busy turns. Well below 1,
# it waited for frames: the sender set the rate, not meshgw, and the ratio of
# two receivers that both keep up with it measures neither.
busy = [r["meshgw"]["busy_cycles"] / (r["meshgw"]["seconds"] * int(e["TSC_HZ"]))
        for r in rounds]
cpps = [r["meshgw"]["busy_cycles"] / r["meshgw"]["busy_packets"]
        for r in rounds if r["meshgw"]["busy_packets"]]
# When the sender sets the rate, the receivers' capacities are compared by
# their busy cycles per packet at that rate, each round's pair seconds apart:
# rxonly's / meshgw's is the rate ratio they would reach at a rate neither
# keeps up with.
base_cpp = [r["baseline"].get("cycles_per_packet") for r in rounds]
cycle_ratios = [b / (r["meshgw"]["busy_cycles"] / r["meshgw"]["busy_packets"])
                for b, r in zip(base_cpp, rounds) if b and r["meshgw"]["busy_packets"]]
# Stage cycles per packet (rx: the driver's receive; parse: validate, classify,
# drop; other: the loop around them), median over rounds.
stages = {}
for r in rounds:
    g = r["meshgw"]
    for k, v in g.items():
        if k.startswith("cycles_") and g["busy_packets"]:
            stages.setdefault(k[7:], []).append(v / g["busy_packets"])
drops = {}
for r in rounds:
    for k, v in r["meshgw"]["drops"].items():
        drops[k] = drops.get(k, 0) + v
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
med = statistics.median
res = {
    "meshgw_mpps": round(med(mesh), 3),
    "testpmd_rxonly_mpps": round(med(base), 3),
    "ratio": round(med(ratios), 3),
    "meshgw_busy_share": round(med(busy), 3),
    "sender_bound": med(busy) < 0.9,
    "goal_ratio": 0.8,
    "cycles_per_packet": round(med(cpps), 1) if cpps else None,
    "testpmd_rxonly_cycles_per_packet": round(med([b for b in base_cpp if b]), 1)
    if any(base_cpp) else None,
    "cycle_ratio": round(med(cycle_ratios), 3) if cycle_ratios else None,
    "stage_cycles_per_packet": {k: round(med(v), 1) for k, v in sorted(stages.items())},
    "tsc_hz": int(e["TSC_HZ"]),
    "rounds": [{"testpmd_rxonly_mpps": round(b, 3), "meshgw_mpps": round(m, 3),
                "ratio": round(m / b, 3), "testpmd_rxonly_cycles_per_packet": bc,
                "meshgw_cycles_per_packet": round(r["meshgw"]["busy_cycles"] /
                                                  max(r["meshgw"]["busy_packets"], 1), 1)}
               for b, m, bc, r in zip(base, mesh, base_cpp, rounds)],
    "window_s": int(e["WINDOW"]),
    "windows_per_run": int(e["RUNS"]),
    "frame_bytes": 64,
    "meshgw_drops_in_windows": drops,
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "cpu": cpu,
    "cores": os.cpu_count(),
    "loadavg_at_start": float(e["LOAD_START"]),
    "loadavg_at_end": round(os.getloadavg()[0], 2),
    "kernel": platform.release(),
}
with open(e["RESULT"], "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
PY
cat "$RESULT"

# The README table, between its markers.
table=$("$PY" - "$RESULT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = "met" if r["ratio"] is not None and r["ratio"] >= r["goal_ratio"] else "NOT met"
ratio = r["ratio"]
if r.get("cycle_ratio"):
    # Busy cycles per packet of both receivers behind the same sender: the
    # capacity ratio whether or not the sender saturated either of them.
    ratio = r["cycle_ratio"]
    ok = "%s: busy cycles/packet, rxonly %s / meshgw %s; Mpps ratio %.2f%s" % (
        "met" if ratio >= r["goal_ratio"] else "NOT met",
        r["testpmd_rxonly_cycles_per_packet"], r["cycles_per_packet"], r["ratio"],
        ", sender-bound" if r.get("sender_bound") else "")
elif r.get("sender_bound"):
    ok = "not measured: meshgw idle %.0f %%, the sender set the rate" % (
        100 - 100 * r["meshgw_busy_share"])
st = r.get("stage_cycles_per_packet") or {}
cyc = "%s" % r["cycles_per_packet"]
if st:
    cyc += " (" + ", ".join("%s %.1f" % (k, st[k]) for k in ("rx", "parse", "other") if k in st) + ")"
print("| measured | meshgw Mpps | testpmd rxonly Mpps | ratio (goal >= %.1f) | cycles/packet (by stage) | CPU |" % r["goal_ratio"])
print("|---|---|---|---|---|---|")
print("| %s | %.2f | %.2f | %.2f (%s) | %s | %s, %d cores, TSC %.2f GHz |" % (
    r["date"], r["meshgw_mpps"], r["testpmd_rxonly_mpps"], ratio, ok,
    cyc, r["cpu"], r["cores"], r["tsc_hz"] / 1e9))
PY
)
echo
echo "$table"
if [ -f "$README" ] && grep -q '<!-- deny:begin -->' "$README"; then
	"$PY" - "$README" "$table" <<'PY'
import re, sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"(<!-- deny:begin -->\n).*?(<!-- deny:end -->)",
              lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
open(path, "w").write(text)
PY
	echo "deny.sh: table updated in bench/README.md"
fi
