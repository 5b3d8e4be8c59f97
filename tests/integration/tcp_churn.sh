#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Connection churn through the L4 proxy (issue 11 item 6): short connections
# (connect, 64 B echo, close) as fast as the client goes for MG_CHURN_SECS
# (60) seconds, from MG_CHURN_PROCS client processes (a Python client is one
# core's worth of connections at most; the windows are summed). meshgw closes each upstream connection first, so every one
# leaves a TIME-WAIT tuple toward the backend for 60 s: more than the upstream
# source ports there are for that destination. Setup must cost the same
# throughout: meshgw's busy cycles per connection (sampled every MG_CHURN_WINDOW
# (5) s) in the last third of the run no more than MG_CHURN_TOL (20) % above the
# first third, no connection failed, no
# client refused for want of a source port, one source-port probe per connect.
# The clients' rate per window is printed; it is judged only with MG_L4=linux.
#
#  netns mg-client (core 0)        netns mg-gw (meshgw, core 1)          netns mg-backend (core 0)
#  tcp_tool.py connrate      fab0 198.18.1.1:8080   loc0 198.18.2.1      tcp_tool.py echo-server
#  198.18.1.2 --[br0]----------> listener "web" ===> ------------------> 198.18.2.2:80
#  2 x 16 at a time, tw_reuse=1    upstream TIME-WAIT piles up here
#
# The gateway runs with tcp.max_conns = MG_CHURN_MAX_CONNS (8192; 0: meshgw's
# default, 32768): a Python client makes a few hundred connections a second
# on a busy 2-core machine, and a TIME-WAIT that took a connection slot would
# take 32768 of them only after a minute and a half. The clients, the backend
# and meshgw run at nice -10, so that other work on the machine does not
# decide the windows' figures.
#
# MG_L4=linux: the same against mg-gw's kernel and tcp_tool.py's proxy.
# The measured run follows MG_CHURN_WARMUP (5) s of the same load, so that the
# first window is at the rate the client reaches, not at its ramp.
#
# Environment: MG_CHURN_SECS (60), MG_CHURN_WINDOW (5), MG_CHURN_CONC (16 per
# process), MG_CHURN_PROCS (2), MG_CHURN_TOL (20, percent), MG_CHURN_MAX_CONNS,
# MG_CHURN_WARMUP.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpchurn
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpchurn.XXXXXX)
SECS=${MG_CHURN_SECS:-60}
WINDOW=${MG_CHURN_WINDOW:-5}
CONC=${MG_CHURN_CONC:-16}
PROCS=${MG_CHURN_PROCS:-2}
MAX_CONNS=${MG_CHURN_MAX_CONNS:-8192}
WARMUP=${MG_CHURN_WARMUP:-5}
TOL=${MG_CHURN_TOL:-20}
# The L4 path under test (MG_L4=meshgw|linux): tests/integration/lib_l4.sh.
. "$MG_ROOT/tests/integration/lib_l4.sh"

test_cleanup() {
	l4_down
	rm -rf "$tmp"
}

# The client's own TIME-WAIT sockets must not be what runs out: it reuses
# them (its kernel checks timestamps) over the whole port range.
client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
backend sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
l4_bg mg-backend echo-server --bind "$MG_BACKEND_IP" --port 80
taskset -pc 0 "${L4_PIDS[0]}" >/dev/null
if [ "$MG_L4" = linux ]; then
	gw sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
fi
[ "$MAX_CONNS" = 0 ] || L4_TCP="{ max_conns = $MAX_CONNS; }"
L4_BACKLOG=4096 l4_up
# Every thread of the proxy and the backend (setpriority is per thread).
for p in "${L4_PROXY_PIDS[@]}" "${L4_PIDS[0]}"; do
	for t in /proc/"$p"/task/*; do
		renice -n -10 -p "${t##*/}" >/dev/null 2>&1 || true
	done
done

# churn SECS PREFIX: PROCS clients for SECS seconds, results in PREFIX-<i>.json.
churn() {
	local i p pids=()
	for ((i = 0; i < PROCS; i++)); do
		client nice -n -10 "$MG_PYTHON" "$TOOL" connrate --to "$L4_VIP" --secs "$1" \
			--window "$WINDOW" --conc "$CONC" --timeout $(($1 + 60)) >"$2-$i.json" 9>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
}
# sample_cost: every WINDOW s while the churn runs, meshgw's busy cycles and the
# connections it accepted (one telemetry read each), for the cost per connection.
sample_cost() {
	local end=$((SECONDS + SECS))
	while [ $SECONDS -lt "$end" ]; do
		printf '%s %s\n' "$(mg_ctl "$MG_PREFIX" stats --json | mg_json_get worker.0.busy_cycles)" \
			"$(l4_tcp accepted)" >>"$tmp/cost"
		sleep "$WINDOW"
	done
}
[ "$WARMUP" = 0 ] || churn "$WARMUP" "$tmp/warmup"
cost_pid=
if [ "$MG_L4" != linux ]; then
	sample_cost 9>&- &
	cost_pid=$!
fi
churn "$SECS" "$tmp/churn"
[ -z "$cost_pid" ] || wait "$cost_pid" || true
cat "$tmp"/churn-*.json >&2
# verdict: the processes' windows summed, one line each, then "fails N" and
# "worst PCT" (the largest fall of a window below the first, in percent). Only a
# fall counts: TIME-WAIT piling up can only slow setup down, and on a shared
# machine a window can run faster than the first when a neighbour goes quiet.
"$MG_PYTHON" - "$tmp"/churn-*.json >"$tmp/verdict" <<'PY'
import json, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
n = min(len(r.get("windows") or []) for r in runs)
w = [sum(r["windows"][i]["per_s"] for r in runs) for i in range(n)]
f = [sum(r["windows"][i]["fails"] for r in runs) for i in range(n)]
first = w[0] if n else 0
worst = 0.0
for i in range(n):
    dev = (w[i] - first) * 100.0 / first if first else -100.0
    worst = max(worst, -dev)
    print("window %2d  %7.1f conn/s  %5d fails  %+6.1f %%" % (i, w[i], f[i], dev))
print("fails %d" % (sum(r.get("fails", 1) for r in runs) if n else 1))
print("worst %d" % int(worst + 0.999 if n else 100))
PY
sed '/^fails\|^worst/d; s/^/    /' "$tmp/verdict" >&2
fails=$(sed -n 's/^fails //p' "$tmp/verdict")
worst=$(sed -n 's/^worst //p' "$tmp/verdict")
mg_expect_eq "connections failed in ${SECS} s of churn" 0 "$fails"
if [ "$MG_L4" != linux ]; then
	# What TIME-WAIT could make dear is meshgw's own setup: its busy cycles per
	# connection in the last third of the windows must not exceed the first
	# third's by TOL % (single windows swing by +-20 % with af_xdp's system
	# calls, which busy cycles include). The
	# clients' rate is reported, not judged: it falls as the Linux client's own
	# TIME-WAIT sockets pile up (25 000 -> 32 000 seen) while meshgw's cost per
	# connection stays flat.
	read -r cost_worst cost_line < <("$MG_PYTHON" - "$tmp/cost" <<'PY2'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
per = [(b1 - b0) / (a1 - a0) for (b0, a0), (b1, a1) in zip(rows, rows[1:]) if a1 > a0]
# A trend, not a window's noise: the last third of the windows against the first.
k = max(1, len(per) // 3)
first, last = sum(per[:k]) / k, sum(per[-k:]) / k
growth = (last - first) * 100.0 / first if len(per) >= 3 else 100.0
print("%d %s" % (int(growth + 0.999), " ".join("%.0f" % p for p in per)))
PY2
)
	mg_log "meshgw busy cycles per connection, window by window: ${cost_line:-none}"
	mg_expect "meshgw's cycles per connection, last third of the windows against the first: at most +${TOL} % (${cost_worst:-?} %)" \
		[ -n "$cost_line" -a "${cost_worst:-100}" -le "$TOL" ]
	mg_log "the clients' rate: worst fall below the first window ${worst} % (reported, not judged)"
else
	mg_expect "no ${WINDOW} s window more than ${TOL} % below the first (worst fall ${worst} %)" \
		[ "$worst" -le "$TOL" ]
fi
if [ "$MG_L4" != linux ]; then
	tw=$(mg_ctl "$MG_PREFIX" conns --json | mg_json_get total.time_wait)
	mg_log "TIME-WAIT at the end: $tw; taken over by a new connection: $(mg_ctl "$MG_PREFIX" tcp --json | mg_json_get counter.tw_recycled)"
	mg_expect_eq "clients refused for want of a source port" 0 "$(l4_tcp no_source_port)"
	mg_expect_eq "connections refused: table full" 0 "$(l4_tcp conn_bound_hits)"
	probes=$(l4_tcp source_port_probes)
	connects=$(l4_tcp upstream_connects)
	mg_expect "source-port probes per upstream connect stay O(1): $probes for $connects" \
		[ "$probes" -le $((2 * connects)) ]
	mg_ctl "$MG_PREFIX" tcp 2>/dev/null | grep -v ' 0$' | sed 's/^/    /' >&2 || true
fi
mg_finish
