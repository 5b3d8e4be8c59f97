#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Snapshot swap benchmark (issue 4): a policy of RULES rules and WORKLOADS
# workloads (bench/gen_policy.py), signed 2 of 3. Measures
#   - meshctl snapshot build, sign and verify times;
#   - the gateway's whole load path per push (round trip of `meshctl push`:
#     transfer, verify, parse, compile, seal, persist with fsync, audit,
#     publish), the same for an unchanged push (verify only), so their
#     difference is what compile + persist + publish cost, and the RCU grace
#     period of each swap (/meshgw/policy grace_last_ns);
#   - the worst worker loop gap while PUSHES swaps happen under the deny-path
#     load, against a window of the same length without swaps (the machine's
#     own noise), from /meshgw/stats worker/0/loop_hist_log2 (log2(cycles)
#     buckets) and loop_max_cycles, converted with /meshgw/status tsc_hz;
#   - rx_missed and rx_nombuf over the swaps (a packet dropped for lack of a
#     worker would show there).
#
#   core 0: control thread (verify, compile, publish), meshctl, this script
#   core 1: the worker                  host, no netns
#   +-------------------------------+        +-------------------------------+
#   | meshctl push vN (N = 2..21)   | -----> | meshgw                        |
#   | python: /meshgw/stats, policy | <----- |   p0 net_null0: an endless    |
#   +-------------------------------+ telem. |   stream the worker parses    |
#                                            |   and drops (the deny path)   |
#                                            +-------------------------------+
#
# Writes bench/results/swap.json and prints a table. Exit 0 on a completed
# measurement (whether or not the goal was met), 1 if something did not run.
#
# The machine may be shared: meshgw runs at nice NICE (default -20) and, with
# FIFO=1 (the default), its worker at SCHED_FIFO 1 (as snapshot_swaps_ping.sh
# does), so that other work on the worker's core moves to core 0; the kernel
# still lets ordinary tasks run there for up to 50 ms a second (RT throttling,
# the fair server), which the window without swaps shows. Production pins
# workers to isolated cores.
#
# Device interrupts: a swap persists the snapshot and the anti-rollback state
# (fsync), and the disk's completion interrupts land on whichever core its IRQ
# affinity names - on these VMs the worker's, and the kernel refuses to move
# it (EPERM). The table counts the interrupts the worker's core took.
#
# Environment: RULES (10000), WORKLOADS (1000), PUSHES (20), NICE (-20), FIFO (1),
# MG_BUILD / MESHGW / MESHCTL (tests/lib.sh), RESULT (bench/results/swap.json).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/integration/lib_snapshot.sh"
# This script and everything it starts (meshctl, python) stay on core 0, as the
# diagram says; EAL pins meshgw's own lcores itself (--lcores), so the worker
# keeps core 1 to itself as far as this benchmark is concerned.
taskset -cp 0 $$ >/dev/null

RULES=${RULES:-10000}
WORKLOADS=${WORKLOADS:-1000}
PUSHES=${PUSHES:-20}
NICE=${NICE:--20}
FIFO=${FIFO:-1}
RESULT=${RESULT:-$ROOT/bench/results/swap.json}
GOAL_GAP_US=50

[ "$(id -u)" = 0 ] || mg_die "must run as root (DPDK runtime dirs)"
mg_need_bins
# The cores are the machine's: a test run or another benchmark on them at the
# same time would skew the loop gaps both ways. Same lock as tests/run.sh.
mg_lock
ls_setup swap
trap ls_cleanup EXIT
trap 'exit 130' INT TERM
cd "$LS_DIR/snap"

# ms CMD...: run CMD (quietly, bounded to 120 s), print its wall time in ms.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	timeout 120 "$@" >/dev/null || mg_die "failed: $*"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
# median of the integers on stdin: the middle one, or the mean of the two
# middle ones for an even count (rounded down); fails on no input.
median() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR == 0) exit 1
		      if (NR % 2) print a[(NR + 1) / 2]
		      else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

mg_log "generating $RULES rules, $WORKLOADS workloads"
timeout 120 "$MG_PYTHON" "$ROOT/bench/gen_policy.py" --rules "$RULES" --workloads "$WORKLOADS" \
	--bundle "$ROOT/tests/data/policy/example.org.pem" -o policy.conf
src_bytes=$(stat -c %s policy.conf)

build_us=$(for i in 1 2 3; do
	rm -f v1.msnap
	ms "$MESHCTL" snapshot build policy.conf --version 1 --expires "$LS_EXPIRES" -o v1.msnap
done | median)
sign_us=$(for k in a b; do ms "$MESHCTL" snapshot sign v1.msnap --key "$LS_DIR/keys/$k.key"; done | median)
trust=(--trust "$LS_DIR/keys/a.pub" --trust "$LS_DIR/keys/b.pub" --trust "$LS_DIR/keys/c.pub")
verify_us=$(for i in 1 2 3 4 5; do
	ms "$MESHCTL" snapshot verify v1.msnap "${trust[@]}" --threshold 2
done | median)
snap_bytes=$(stat -c %s v1.msnap)
payload_bytes=$("$MESHCTL" snapshot inspect v1.msnap --no-payload |
	sed -n 's/^payload[^0-9]*\([0-9]*\) bytes.*/\1/p' | head -n 1)
for ((v = 2; v <= PUSHES + 1; v++)); do
	ls_snapshot policy.conf "$v" "v$v.msnap" ab
done
mg_log "built v1..v$((PUSHES + 1)) ($snap_bytes bytes each)"

ls_conf gw.conf
[ "$NICE" = 0 ] || LS_WRAP="nice -n $NICE"
ls_start gw.conf 60 || mg_die "meshgw did not start"
if [ "$FIFO" = 1 ]; then
	for t in /proc/"$LS_PID"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in
		rte-worker-*) chrt -f -p 1 "${t##*/}" || mg_die "chrt of the worker failed" ;;
		esac
	done
fi
t0=$(date +%s%N)
out=$(timeout 120 "$MESHCTL" push v1.msnap --socket "$LS_SOCK") || mg_die "push v1: $out"
first_push_us=$((($(date +%s%N) - t0) / 1000))
mg_log "v1 (first compile): $out"
sleep 2 # let the first swap's aftermath settle before measuring

timeout 600 "$MG_PYTHON" - "$LS_PREFIX" "$LS_SOCK" "$MESHCTL" "$PUSHES" >measure.json <<'PY' ||
import json, socket, statistics, subprocess, sys, time

prefix, sock, meshctl, pushes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
s.recv(1 << 16)

def tel(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))[cmd]

tsc_hz = tel("/meshgw/status")["tsc_hz"]

WORKER_CPU = 1  # --lcores 0@0,1@1: the worker runs on core 1

def irqs():
    """Interrupts taken by the worker's core so far: device IRQs (by name),
    IPIs (CAL function calls, TLB shootdowns, RES reschedules)."""
    out = {"device": 0, "ipi": 0, "devices": {}}
    with open("/proc/interrupts") as f:
        ncpu = len(f.readline().split())
        for line in f:
            cols = line.split()
            if len(cols) <= WORKER_CPU + 1 or not cols[WORKER_CPU + 1].isdigit():
                continue
            n, name = int(cols[WORKER_CPU + 1]), cols[0].rstrip(":")
            if name.isdigit():
                out["device"] += n
                out["devices"][cols[-1]] = n
            elif name in ("CAL", "TLB", "RES"):
                out["ipi"] += n
    return out

def snap():
    st = tel("/meshgw/stats")
    return {"t": time.monotonic(), "irq": irqs(), "hist": st["worker/0/loop_hist_log2"],
            "cycles": {k[len("worker/0/"):]: v for k, v in st.items()
                       if k.startswith(("worker/0/cycles_", "worker/0/busy_"))},
            "max": st["worker/0/loop_max_cycles"], "loops": st["worker/0/loops"],
            "rx": st["worker/0/rx_packets"], "missed": st["port/p0/rx_missed"],
            "nombuf": st["port/p0/rx_nombuf"]}

def per_packet(a, b):
    """The worker's busy cycles per packet in the window, in total and by
    stage (issue 13 item 1; empty with a meshgw that does not count them)."""
    pk = b.get("busy_packets", 0) - a.get("busy_packets", 0)
    if pk <= 0:
        return {}
    return {k[len("cycles_"):] if k.startswith("cycles_") else "busy": round((v - a[k]) / pk, 1)
            for k, v in b.items() if k.startswith("cycles_") or k == "busy_cycles"}

def window(a, b):
    """What the worker did between two snapshots of its counters."""
    hist = [y - x for x, y in zip(a["hist"], b["hist"])]
    top = max((i for i, n in enumerate(hist) if n), default=0)
    exact = b["max"] > a["max"]  # the all-time maximum was set inside the window
    worst = b["max"] if exact else 2 ** (top + 1) - 1
    goal_cycles = 50e-6 * tsc_hz
    over = sum(n for i, n in enumerate(hist) if 2 ** i >= goal_cycles)
    secs = b["t"] - a["t"]
    return {"seconds": round(secs, 3), "loops": b["loops"] - a["loops"],
            "worst_gap_us": round(worst / tsc_hz * 1e6, 1), "worst_gap_exact": exact,
            "worst_bucket_log2": top, "loops_over_goal": over,
            "loops_over_goal_per_s": round(over / secs, 1),
            "hist_log2_high": {str(i): n for i, n in enumerate(hist) if n and i >= 14},
            "mpps": round((b["rx"] - a["rx"]) / secs / 1e6, 3),
            "rx_missed": b["missed"] - a["missed"], "rx_nombuf": b["nombuf"] - a["nombuf"],
            "busy_cycles_per_packet": per_packet(a["cycles"], b["cycles"]),
            "worker_core_irqs": {"device": b["irq"]["device"] - a["irq"]["device"],
                                 "ipi": b["irq"]["ipi"] - a["irq"]["ipi"],
                                 "by_device": {k: v - a["irq"]["devices"].get(k, 0)
                                               for k, v in b["irq"]["devices"].items()
                                               if v > a["irq"]["devices"].get(k, 0)}}}

def push(v):
    t0 = time.monotonic()
    r = subprocess.run([meshctl, "push", "v%d.msnap" % v, "--socket", sock],
                       capture_output=True, text=True, timeout=120)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit("push v%d: exit %d: %s%s" % (v, r.returncode, r.stdout, r.stderr))
    return dt * 1e3, r.stdout.split()[0]

def arenas():
    pol = tel("/meshgw/policy")
    return {k: pol.get("arena_" + k, 0) for k in ("maps", "unmaps", "reuses")}

# Swaps under load.
ar0 = arenas()
a = snap()
lat, grace = [], []
for v in range(2, pushes + 2):
    ms, verdict = push(v)
    if verdict != "accepted":
        raise SystemExit("push v%d: %s" % (v, verdict))
    lat.append(ms)
    grace.append(tel("/meshgw/policy")["grace_last_ns"])
b = snap()
swaps = window(a, b)
ar1 = arenas()
swaps["arena"] = {k: ar1[k] - ar0[k] for k in ar0}
swaps["arena_bytes"] = tel("/meshgw/policy").get("arena_bytes", 0)
# Verify-only path: the last snapshot again (unchanged).
same = [push(pushes + 1)[0] for _ in range(5)]
# The same length of time without swaps: the machine's own noise.
time.sleep(1)
c = snap()
time.sleep(swaps["seconds"])
d = snap()
quiet = window(c, d)
pol = tel("/meshgw/policy")
print(json.dumps({
    "tsc_hz": tsc_hz,
    "push_ms": {"min": round(min(lat), 1), "median": round(statistics.median(lat), 1),
                "max": round(max(lat), 1)},
    "unchanged_push_ms_median": round(statistics.median(same), 1),
    "compile_persist_publish_ms_est": round(statistics.median(lat) - statistics.median(same), 1),
    "grace_us": {"min": round(min(grace) / 1e3, 1), "median": round(statistics.median(grace) / 1e3, 1),
                 "max": round(max(grace) / 1e3, 1)},
    "during_swaps": swaps, "without_swaps": quiet,
    "generation": pol["generation"], "version": pol["version"],
}))
PY
	mg_die "measurement failed: $(cat measure.json)"

"$MG_PYTHON" - "$RESULT" measure.json <<PY
import json, os, subprocess, sys, time
m = json.load(open(sys.argv[2]))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
r = {
    "bench": "snapshot swap",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "cpu": cpu, "cores": os.cpu_count(), "loadavg_at_end": os.getloadavg()[0],
    "rules": $RULES, "workloads": $WORKLOADS, "pushes": $PUSHES,
    "policy_source_bytes": $src_bytes, "payload_bytes": int("${payload_bytes:-0}" or 0),
    "snapshot_bytes": $snap_bytes,
    "build_ms": round($build_us / 1000, 1), "sign_ms": round($sign_us / 1000, 1),
    "verify_ms": round($verify_us / 1000, 1), "first_push_ms": round($first_push_us / 1000, 1),
    "goal_gap_us": $GOAL_GAP_US, "gateway_nice": $NICE, "worker_fifo": $FIFO == 1,
}
r.update(m)
w = m["during_swaps"]
r["goal_met"] = w["worst_gap_us"] < $GOAL_GAP_US
r["no_drop_for_lack_of_worker"] = w["rx_missed"] == 0 and w["rx_nombuf"] == 0
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
with open(sys.argv[1], "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")
q = m["without_swaps"]
rows = [
    ("policy", "%d rules, %d workloads; source %d B, snapshot %d B" % (r["rules"], r["workloads"], r["policy_source_bytes"], r["snapshot_bytes"])),
    ("meshctl snapshot build", "%.1f ms" % r["build_ms"]),
    ("meshctl snapshot sign (one key)", "%.1f ms" % r["sign_ms"]),
    ("meshctl snapshot verify (2 of 3)", "%.1f ms" % r["verify_ms"]),
    ("push, first (cold)", "%.1f ms" % r["first_push_ms"]),
    ("push accepted (min/median/max)", "%(min).1f / %(median).1f / %(max).1f ms" % m["push_ms"]),
    ("push unchanged (verify only), median", "%.1f ms" % m["unchanged_push_ms_median"]),
    ("compile+persist+publish (difference)", "%.1f ms" % m["compile_persist_publish_ms_est"]),
    ("RCU grace period (min/median/max)", "%(min).1f / %(median).1f / %(max).1f us" % m["grace_us"]),
    ("worst loop gap during %d swaps" % r["pushes"], "%.1f us%s (goal < %d us: %s)" % (w["worst_gap_us"], "" if w["worst_gap_exact"] else " (bucket bound)", r["goal_gap_us"], "met" if r["goal_met"] else "NOT met")),
    ("worst loop gap, same time, no swaps", "%.1f us%s" % (q["worst_gap_us"], "" if q["worst_gap_exact"] else " (bucket bound)")),
    ("loops over the goal per s: swaps / none", "%.1f / %.1f (of %d / %d loops)" % (w["loops_over_goal_per_s"], q["loops_over_goal_per_s"], w["loops"], q["loops"])),
    ("deny-path rate: swaps / no swaps", "%.2f / %.2f Mpps" % (w["mpps"], q["mpps"])),
    ("busy cycles/packet: swaps / none", "%s / %s" % (w["busy_cycles_per_packet"].get("busy", "-"), q["busy_cycles_per_packet"].get("busy", "-"))),
    ("  by stage (rx, parse, other)", "%s / %s" % (", ".join(str(w["busy_cycles_per_packet"].get(k, "-")) for k in ("rx", "parse", "other")), ", ".join(str(q["busy_cycles_per_packet"].get(k, "-")) for k in ("rx", "parse", "other")))),
    ("rx_missed / rx_nombuf during swaps", "%d / %d" % (w["rx_missed"], w["rx_nombuf"])),
    ("worker core: device IRQs swaps / none", "%d / %d (%s during the swaps)" % (w["worker_core_irqs"]["device"], q["worker_core_irqs"]["device"], ", ".join("%s %d" % kv for kv in sorted(w["worker_core_irqs"]["by_device"].items())) or "none")),
    ("worker core: IPIs (CAL+TLB+RES) swaps / none", "%d / %d" % (w["worker_core_irqs"]["ipi"], q["worker_core_irqs"]["ipi"])),
    ("arenas mapped / unmapped / reused", "%d / %d / %d during the swaps; %d bytes mapped after" % (w["arena"]["maps"], w["arena"]["unmaps"], w["arena"]["reuses"], w["arena_bytes"])),
    ("load average (1 min) at the end", "%.2f on %d cores (meshgw at nice %d, worker %s)" % (r["loadavg_at_end"], r["cores"], r["gateway_nice"], "SCHED_FIFO 1" if r["worker_fifo"] else "not FIFO")),
]
for k, v in rows:
    print("%-40s %s" % (k, v))
print("written: %s" % sys.argv[1])
PY
