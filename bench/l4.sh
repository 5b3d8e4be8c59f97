#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# L4 proxy benchmark (issue 5, Benchmark): meshgw's `tcp` listeners against nginx
# `stream` and HAProxy `mode tcp`, each the one proxy between mg-client and
# mg-backend, on one worker core (core 1), with the same clients in the same run.
#
#  netns mg-client (core 0)          netns mg-gw (proxy, core 1)          netns mg-backend (core 0)
#  iperf3 -c / tcp_tool.py           fab0 198.18.1.1            loc0      iperf3 -s :5201
#  eth0 198.18.1.2 --[br0]--> :5201 ==> -------------------> 198.18.2.1 -> eth0 198.18.2.2
#                             :8080 ==> (meshgw | nginx | haproxy)        tcp_tool.py echo-server :80
#
# meshgw owns fab0/loc0 through af_xdp (no kernel address). For nginx and HAProxy
# the script gives mg-gw's fab0/loc0 the same addresses in the kernel while meshgw
# is not running, and removes them afterwards.
#
# Figures, per proxy:
#   bulk_gbps        iperf3 10 s, client -> backend (and reverse, bulk_rev_gbps)
#   conns_per_s      tcp_tool.py connrate: 16 clients, connect / 64 B echo / close, 5 s
#   p50_us, p99_us   tcp_tool.py pingpong: 2000 rounds of 64 B on one connection
#   cpu_*            the proxy's utime+stime (/proc/PID/stat, all its processes)
#                    per GB bulk, per connection, per round trip; its user and
#                    system parts apart (user_*, sys_*: for nginx and HAProxy
#                    the system part is the kernel's TCP work for them)
#   meshgw only      per figure, the worker's busy cycles by stage (/meshgw/stats
#                    worker/0/cycles_<stage>) per KiB moved through the proxy
#                    (bulk) or per connection (connrate), and the worker
#                    thread's own utime/stime (/proc/PID/task/TID/stat): the
#                    kernel's share of its time (af_xdp copies, the peers'
#                    receive path run inside its sendto)
# Ratios meshgw/nginx and meshgw/haproxy go to bench/results/l4.json ("beats" says
# whether meshgw is better, taking each figure's direction into account). The goal:
# beat both on every figure.
#
# Every figure is measured in ROUNDS rounds (default 3), each running the three
# proxies one after the other in a rotated order; the JSON has each round's
# figures and their median, and the ratios are of the medians. This VM's speed
# drifts from minute to minute, so one round alone can mislead by 2x.
#
# Usage: bench/l4.sh [--out FILE] [--rounds N] [--skip-meshgw] [--only PROXY]
#                    [--profile DIR] [--peer-rps]
# (--only meshgw|nginx|haproxy: that proxy alone, e.g. an A/B of two meshgw
# builds with MG_BUILD and --out; its ratios are then null)
# (--profile DIR: perf record of core 1, where each proxy runs, for 4 s in the
# middle of each bulk upload, all processes and the kernel alike; DIR gets
# NAME-bulk.txt, the top symbols by binary, and NAME-bulk-dso.txt, the shares
# by binary. The sampling perturbs that run's figures: use it for profiles.)
# (--peer-rps: the peers' receive path runs on core 0 (RPS on mg-fabric's g1
# and mg-backend's eth0, reset at the end). On veth a sender's frame is
# received in the sender's own system call, so by default each proxy's core 1
# also runs the client's and the backend's TCP receive; with real hosts that
# work is theirs. Applies to all three proxies alike; "peer_rps" in the JSON.)
# Environment: MG_BUILD (meshgw, meshctl), MG_BENCH_REQUIRE_MESHGW=1 (fail if the
# meshgw proxy does not come up; otherwise the JSON says "meshgw L4 proxy not
# available" and the baselines are still measured).
# Exit: 0 measured; 1 a measurement or a proxy failed.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$MG_ROOT/tests/lib.sh"
. "$MG_ROOT/tests/integration/lib_policy.sh"
. "$MG_ROOT/bench/lib_bench.sh"

out=$MG_ROOT/bench/results/l4.json
skip_meshgw=0
only=
profile=
peer_rps=0
ROUNDS=3
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?}; shift 2 ;;
	--skip-meshgw) skip_meshgw=1; shift ;;
	--only) only=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--profile) profile=${2:?}; shift 2 ;;
	--peer-rps) peer_rps=1; shift ;;
	*) echo "usage: bench/l4.sh [--out FILE] [--rounds N] [--skip-meshgw] [--only PROXY] [--profile DIR] [--peer-rps]" >&2; exit 64 ;;
	esac
done

case "$only" in ''|meshgw|nginx|haproxy) ;; *) echo "l4.sh: --only meshgw|nginx|haproxy" >&2; exit 64 ;; esac
if [ -n "$profile" ]; then
	command -v perf >/dev/null || { echo "l4.sh: --profile needs perf (linux-perf)" >&2; exit 64; }
	mkdir -p "$profile"
fi
perf_pid=
case "$ROUNDS" in ''|*[!0-9]*|0) echo "l4.sh: --rounds wants a positive number" >&2; exit 64 ;; esac

TOOL=$MG_ROOT/tests/integration/tcp_tool.py
VIP=$MG_GW_FABRIC_IP
PREFIX=mgb-l4
trap 'exit 143' TERM
trap 'exit 130' INT
mg_need_root
for b in iperf3 nginx haproxy taskset; do
	command -v "$b" >/dev/null || mg_die "$b is not installed"
done
bench_begin l4

# rps_cpus MASK: where the frames the proxy sends to the peers are received
# (0: in the sending system call, the kernel's default; 1: core 0's backlog).
rps_cpus() {
	ip netns exec mg-fabric sh -c "echo $1 >/sys/class/net/g1/queues/rx-0/rps_cpus" &&
		ip netns exec mg-backend sh -c "echo $1 >/sys/class/net/eth0/queues/rx-0/rps_cpus"
}
if [ "$peer_rps" = 1 ]; then
	rps_cpus 1 || mg_die "--peer-rps: cannot set rps_cpus"
	trap 'rc=$?; rps_cpus 0 || true; (exit $rc); bench_cleanup' EXIT
fi

# cpu_ticks PID...: "utime stime" of the processes (their threads are in the
# same /proc/PID/stat line for a process), in clock ticks.
cpu_ticks() {
	local p u=0 s=0 f
	for p in "$@"; do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		u=$((u + ${f% *}))
		s=$((s + ${f#* }))
	done
	echo "$u $s"
}

# worker_tid PID: meshgw's worker thread (rte-worker-N), if PID is meshgw.
worker_tid() {
	local t
	for t in /proc/"$1"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in rte-worker-*) echo "${t##*/}"; return 0 ;; esac
	done
}

# snap NAME FIG END: what a figure's window starts (END 0) or ends (END 1)
# with: the proxy's CPU ticks, and for meshgw its worker thread's ticks and
# its stats (busy cycles by stage).
snap() {
	# shellcheck disable=SC2086
	cpu_ticks $pids >"$tmp/$1-$2.cpu$3"
	[ -n "$wtid" ] || return 0
	cut -d' ' -f14,15 "/proc/$mpid/task/$wtid/stat" >"$tmp/$1-$2.wcpu$3" 2>/dev/null || true
	"$MESHCTL" -f "$PREFIX" stats --json >"$tmp/$1-$2.stats$3" 2>/dev/null || true
}
HZ=$(getconf CLK_TCK)

# profile_bulk NAME: with --profile, sample core 1 for 4 s from 3 s into the
# 10 s upload (in the background; profile_report waits for it).
profile_bulk() {
	[ -n "$profile" ] || return 0
	(sleep 3 && perf record -q -e cpu-clock -C 1 -g -o "$profile/$1-bulk.data" -- sleep 4 \
		>/dev/null 2>&1) &
	perf_pid=$!
}

profile_report() {
	[ -n "$profile" ] || return 0
	wait "$perf_pid" || mg_log "$1: perf record failed"
	perf report -i "$profile/$1-bulk.data" --no-children --sort dso,sym --stdio \
		--percent-limit 0.7 -g none 2>/dev/null | grep -v '^$' >"$profile/$1-bulk.txt" || true
	perf report -i "$profile/$1-bulk.data" --no-children --sort dso --stdio \
		--percent-limit 0.5 -g none 2>/dev/null | grep -v '^$' >"$profile/$1-bulk-dso.txt" || true
}

# proxy_pids MAINPID: the proxy's process and its direct children.
proxy_pids() { echo "$1" $(pgrep -P "$1" || true); }

# measure NAME MAINPID: run every figure against the proxy now listening; the
# files are NAME-rROUND-*.
measure() {
	local name=$1-r$round pids mpid=$2 wtid=
	pids=$(proxy_pids "$2")
	[ "$1" != meshgw ] || wtid=$(worker_tid "$2")
	mg_log "$name: measuring (pids $pids${wtid:+, worker tid $wtid})"
	snap "$name" bulk 0
	profile_bulk "$name"
	client taskset -c 0 timeout 30 iperf3 -c "$VIP" -p 5201 -t 10 -J >"$tmp/$name-bulk.json" ||
		mg_die "$name: iperf3 failed: $(tail -c 300 "$tmp/$name-bulk.json")"
	snap "$name" bulk 1
	profile_report "$name"
	snap "$name" bulkrev 0
	client taskset -c 0 timeout 30 iperf3 -c "$VIP" -p 5201 -t 10 -R -J >"$tmp/$name-bulkrev.json" ||
		mg_die "$name: iperf3 -R failed"
	snap "$name" bulkrev 1
	snap "$name" conn 0
	client taskset -c 0 "$MG_PYTHON" "$TOOL" connrate --to "$VIP:8080" --secs 5 \
		--conc 16 --timeout 40 >"$tmp/$name-conn.json" ||
		mg_die "$name: connrate failed: $(cat "$tmp/$name-conn.json")"
	snap "$name" conn 1
	snap "$name" ping 0
	client taskset -c 0 "$MG_PYTHON" "$TOOL" pingpong --to "$VIP:8080" --rounds 2000 \
		--size 64 --timeout 60 >"$tmp/$name-ping.json" ||
		mg_die "$name: pingpong failed: $(cat "$tmp/$name-ping.json")"
	snap "$name" ping 1
	echo ok >"$tmp/$name.done"
}

run_nginx() {
	sed "s|@TMP@|$tmp|g" "$MG_ROOT/bench/l4-nginx.conf" >"$tmp/nginx.conf"
	kaddr_add
	bg mg-gw taskset -c 1 nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log"
	local pid=$last
	wait_port "$VIP" 8080 10 || mg_die "nginx did not listen: $(cat "$tmp/nginx-error.log" 2>/dev/null)"
	measure nginx "$pid"
	stop_pid "$pid"
	kaddr_del
}

run_haproxy() {
	kaddr_add
	bg mg-gw taskset -c 1 haproxy -db -f "$MG_ROOT/bench/l4-haproxy.cfg"
	local pid=$last
	wait_port "$VIP" 8080 10 || mg_die "haproxy did not listen"
	measure haproxy "$pid"
	stop_pid "$pid"
	kaddr_del
}

run_meshgw() {
	if [ "$skip_meshgw" = 1 ]; then
		echo "skipped (--skip-meshgw)" >"$tmp/meshgw.na"
		return 0
	fi
	if [ ! -x "$MESHGW" ] || [ ! -x "$MESHCTL" ]; then
		echo "meshgw L4 proxy not available: no meshgw/meshctl in $MG_BUILD" >"$tmp/meshgw.na"
		return 0
	fi
	# The demo conf with these listeners instead of its own.
	sed '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/gateway.base"
	# A fresh signer and state folder per round: keygen does not overwrite a
	# key, and a state folder would hold the last round's policy version.
	lp_setup "$tmp/policy-r$round" # default deny: a snapshot lets mg-client through
	lp_conf "$tmp/gateway.base" "$tmp/gateway.conf"
	cat >>"$tmp/gateway.conf" <<EOF
listeners = (
  { name = "echo"; type = "tcp"; listen = "$VIP:8080"; upstream = "$MG_BACKEND_IP:80"; },
  { name = "iperf"; type = "tcp"; listen = "$VIP:5201"; upstream = "$MG_BACKEND_IP:5201"; }
);
EOF
	if ! GW_PID=$(MG_LOG_DIR=$MG_LOG_DIR "$MG_ROOT/tests/run-gateway.sh" "$tmp/gateway.conf" "$PREFIX" 2>"$tmp/meshgw-start.err"); then
		GW_PID=
		echo "meshgw L4 proxy not available: meshgw did not start with tcp listeners ($(tail -n 3 "$tmp/meshgw-start.err" | tr '\n' ' '))" >"$tmp/meshgw.na"
		return 0
	fi
	if ! lp_push "$MG_ROOT/tests/data/policy/l4.conf" 1 >/dev/null || ! wait_port "$VIP" 8080 10; then
		echo "meshgw L4 proxy not available: no policy, or nothing accepts on $VIP:8080" >"$tmp/meshgw.na"
		return 0
	fi
	"$MESHCTL" -f "$PREFIX" status --json >"$tmp/meshgw-status.json" 2>/dev/null || true
	measure meshgw "$GW_PID"
	"$MESHCTL" -f "$PREFIX" tcp --json >"$tmp/meshgw-tcp.json" 2>/dev/null || true
	mg_stop_gateway "$GW_PID" "$PREFIX"
	GW_PID=
}

# The clients' own TIME-WAIT sockets must not slow the later proxies' runs.
client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

# Backend peers (core 0, like the clients; the proxy alone has core 1).
bg mg-backend taskset -c 0 iperf3 -s -B "$MG_BACKEND_IP" -p 5201 >"$tmp/iperf3-server.log" 2>&1
bg mg-backend taskset -c 0 "$MG_PYTHON" "$TOOL" echo-server --bind "$MG_BACKEND_IP" --port 80
sleep 0.5

order=(run_nginx run_haproxy run_meshgw)
for round in $(seq 1 "$ROUNDS"); do
	for i in 0 1 2; do
		run=${order[$(((i + round - 1) % 3))]}
		[ -z "$only" ] || [ "$run" = "run_$only" ] || continue
		"$run"
	done
done

mkdir -p "$(dirname "$out")"
"$MG_PYTHON" - "$tmp" "$out" "$HZ" "$ROUNDS" "$peer_rps" <<'PY'
import json, os, sys, time
tmp, out, hz, nrounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
peer_rps = sys.argv[5] == "1"

def ticks(name, fig, kind):
    """(user, system) seconds over a figure's window from its two snapshots."""
    a, b = ([int(x) for x in open("%s/%s-%s.%s%d" % (tmp, name, fig, kind, i)).read().split()]
            for i in (0, 1))
    return (b[0] - a[0]) / hz, (b[1] - a[1]) / hz

STAGES = ("rx", "parse", "tcp_in", "proxy", "tls", "tcp_out", "tx", "other")
try:
    tsc_hz = json.load(open(tmp + "/meshgw-status.json")).get("tsc_hz")
except (OSError, ValueError):
    tsc_hz = None

def stage_cycles(name, fig, units):
    """meshgw's worker: busy cycles by stage per unit over a figure's window."""
    try:
        a, b = (json.load(open("%s/%s-%s.stats%d" % (tmp, name, fig, i))) for i in (0, 1))
        d = {s: b["worker/0/cycles_" + s] - a["worker/0/cycles_" + s] for s in STAGES}
        busy = b["worker/0/busy_cycles"] - a["worker/0/busy_cycles"]
    except (OSError, ValueError, KeyError):  # not meshgw, or a build before the stage counters
        return None
    r = {s: round(v / units, 2) for s, v in d.items()}
    r["busy"] = round(busy / units, 2)
    return r

def worker_split(name, fig):
    """meshgw's worker thread over a figure: user and system seconds, kernel share."""
    try:
        u, s = ticks(name, fig, "wcpu")
    except (OSError, ValueError):
        return None
    return {"user_s": round(u, 2), "sys_s": round(s, 2),
            "kernel_share": round(s / (u + s), 3) if u + s else None}

def load_round(name):
    if not os.path.exists("%s/%s.done" % (tmp, name)):
        return None
    j = lambda s: json.load(open("%s/%s-%s.json" % (tmp, name, s)))
    cpu = lambda s: sum(ticks(name, s, "cpu"))
    bulk, rev = j("bulk"), j("bulkrev")
    conn, ping = j("conn"), j("ping")
    gbps = bulk["end"]["sum_received"]["bits_per_second"] / 1e9
    gb = bulk["end"]["sum_received"]["bytes"] / 1e9
    kib = bulk["end"]["sum_received"]["bytes"] / 1024
    ub, sb = ticks(name, "bulk", "cpu")
    uc, sc = ticks(name, "conn", "cpu")
    extra = {
        "user_s_per_gb": round(ub / gb, 4) if gb else None,
        "sys_s_per_gb": round(sb / gb, 4) if gb else None,
        "user_us_per_conn": round(uc * 1e6 / max(1, conn["conns"]), 1),
        "sys_us_per_conn": round(sc * 1e6 / max(1, conn["conns"]), 1),
    }
    if name.startswith("meshgw"):
        extra["stage_cycles_per_kib"] = stage_cycles(name, "bulk", kib)
        rkib = rev["end"]["sum_received"]["bytes"] / 1024
        extra["stage_cycles_per_kib_rev"] = stage_cycles(name, "bulkrev", rkib)
        extra["stage_cycles_per_conn"] = stage_cycles(name, "conn", max(1, conn["conns"]))
        extra["stage_cycles_per_rtt"] = stage_cycles(name, "ping", ping["rounds"])
        extra["worker_thread"] = {f: worker_split(name, f)
                                  for f in ("bulk", "bulkrev", "conn", "ping")}
    return dict(extra, **{
        "bulk_gbps": round(gbps, 3),
        "bulk_rev_gbps": round(rev["end"]["sum_received"]["bits_per_second"] / 1e9, 3),
        "conns_per_s": conn["per_s"],
        "p50_us": ping["p50_us"],
        "p99_us": ping["p99_us"],
        "cpu_s_per_gb": round(cpu("bulk") / gb, 4) if gb else None,
        "cpu_us_per_conn": round(cpu("conn") * 1e6 / max(1, conn["conns"]), 1),
        "cpu_us_per_rtt": round(cpu("ping") * 1e6 / ping["rounds"], 1),
    })

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else round((xs[n // 2 - 1] + xs[n // 2]) / 2, 4)

# Each figure's median over the rounds, and the rounds themselves.
def load(name):
    rounds = [r for r in (load_round("%s-r%d" % (name, i)) for i in range(1, nrounds + 1)) if r]
    if not rounds:
        return None
    med = {k: median([r[k] for r in rounds]) for k in rounds[0]
           if k in DIR or isinstance(rounds[0][k], (int, float))}
    for k in ("stage_cycles_per_kib", "stage_cycles_per_kib_rev", "stage_cycles_per_conn",
              "stage_cycles_per_rtt"):
        if all(r.get(k) for r in rounds):
            med[k] = {s: median([r[k][s] for r in rounds]) for s in rounds[0][k]}
    if all(r.get("worker_thread") for r in rounds):
        med["worker_kernel_share"] = {
            f: median([(r["worker_thread"][f] or {}).get("kernel_share") for r in rounds])
            for f in rounds[0]["worker_thread"]}
    med["rounds"] = rounds
    return med

# Direction of each figure: +1 higher is better, -1 lower is better.
DIR = {"bulk_gbps": 1, "bulk_rev_gbps": 1, "conns_per_s": 1, "p50_us": -1, "p99_us": -1,
       "cpu_s_per_gb": -1, "cpu_us_per_conn": -1, "cpu_us_per_rtt": -1}
res = {n: load(n) for n in ("nginx", "haproxy", "meshgw")}
na = None
if os.path.exists(tmp + "/meshgw.na"):
    na = open(tmp + "/meshgw.na").read().strip()
doc = {
    "bench": "l4 proxy",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "goal": "beat both nginx stream and HAProxy mode tcp on every figure",
    "setup": "standard topology, proxy in netns mg-gw pinned to core 1 (one worker), "
             "clients (mg-client) and servers (mg-backend) on core 0; 2-core shared VM",
    "cores": os.cpu_count(),
    "peer_rps": peer_rps,
    "rounds": nrounds,
    "figure_is": "the median of the rounds; ratios are of the medians",
    "loadavg_at_end": os.getloadavg()[0],
    "figures": {k: ("higher is better" if v > 0 else "lower is better") for k, v in DIR.items()},
    "results": res,
    "ratios": {},
    "meshgw_status": na or "measured",
    "tsc_hz": tsc_hz,
}
m = res["meshgw"]
for base in ("nginx", "haproxy"):
    b = res[base]
    r = {}
    for k, d in DIR.items():
        if m is None or b is None or m.get(k) in (None, 0) or b.get(k) in (None, 0):
            r[k] = None
            continue
        ratio = m[k] / b[k]
        r[k] = {"ratio": round(ratio, 3), "beats": ratio > 1 if d > 0 else ratio < 1}
    doc["ratios"]["meshgw/" + base] = r
beats = [v["beats"] for r in doc["ratios"].values() for v in r.values() if v]
doc["goal_met"] = bool(beats) and all(beats) and len(beats) == 2 * len(DIR)
json.dump(doc, open(out, "w"), indent=2)
open(out, "a").write("\n")

cols = list(DIR)
print("%-10s" % "proxy" + "".join("%16s" % c for c in cols))
for n in ("nginx", "haproxy", "meshgw"):
    v = res[n]
    print("%-10s" % n + "".join("%16s" % (v[c] if v else "-") for c in cols))
for base, r in doc["ratios"].items():
    print("%-10s" % base.split("/")[1] + "".join(
        "%16s" % ("%.2f%s" % (r[c]["ratio"], "" if r[c]["beats"] else "!") if r[c] else "-")
        for c in cols) + "   (meshgw/" + base.split("/")[1] + "; ! = not beaten)")
if m and m.get("stage_cycles_per_kib"):
    for k, unit in (("stage_cycles_per_kib", "KiB up"), ("stage_cycles_per_kib_rev", "KiB down"),
                    ("stage_cycles_per_conn", "connection"), ("stage_cycles_per_rtt", "round trip")):
        v = m.get(k)
        if v:
            print("meshgw busy cycles per %s: %s (%s)" % (unit, v["busy"], ", ".join(
                "%s %s" % (s, v[s]) for s in STAGES if v[s])))
if m and m.get("worker_kernel_share"):
    print("meshgw worker thread, kernel share of its time: %s" % ", ".join(
        "%s %s" % kv for kv in m["worker_kernel_share"].items()))
for n in ("nginx", "haproxy", "meshgw"):
    v = res[n]
    if v:
        print("%s CPU user/sys: %s/%s s per GB, %s/%s us per connection" % (
            n, v.get("user_s_per_gb"), v.get("sys_s_per_gb"), v.get("user_us_per_conn"),
            v.get("sys_us_per_conn")))
if na:
    print("meshgw: " + na)
print("goal (beat both on every figure): %s" % ("met" if doc["goal_met"] else "NOT met"))
PY
mg_log "results in $out"
if [ -e "$tmp/meshgw.na" ] && [ "${MG_BENCH_REQUIRE_MESHGW:-0}" = 1 ]; then
	mg_die "$(cat "$tmp/meshgw.na")"
fi
exit 0
