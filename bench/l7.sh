#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# L7 benchmark (issue 14, Benchmark): HTTP/1.1 requests over kept-alive mTLS
# through meshgw's inbound listener with 0, 100 and 10 000 path rules, against
# nginx `http` terminating the same mTLS with the equivalent location set, one
# server at a time between mg-client and mg-backend, the server on core 1.
#
#  netns mg-client (core 0)             netns mg-gw (server, core 1)           netns mg-backend (core 0)
#  bench/l7_client  ==mTLS, HTTP/1.1==> 198.18.1.1:8443 ==HTTP/1.1==> 198.18.2.2:80   nginx: 200 "ok\n"
#   (client SVID, CONNS kept-alive      (meshgw inbound + policy | nginx + locations)
#    connections, 1 request in flight each)
#
# The rule sets (bench/l7_rules.py) allow the client's SPIFFE ID one path per
# rule (exact and `/*` prefix paths; regex with L7_REGEX_EVERY); the request
# goes to an exact path of one of the last rules (by name, the order of the
# canonical policy), and a request that matches no rule gets 403 from both
# servers (checked before each case). With 0 rules the policy allows the
# connection with a plain rule (no per-request check) and nginx proxies every
# path.
#
# Figures per server and case: requests/s on CONNS connections and their
# p50/p99 latency (the client's, per request), p50/p99 on one connection
# (LAT_SECS), the server's core-1 time in the window (nginx: its worker's
# utime+stime, and core 1's softirq from /proc/stat; meshgw:
# worker/0/busy_cycles, its loops that did work) and from it requests/s per
# busy core, core-1 cycles per request, and meshgw's http/l7 counters. The
# ratios: meshgw 10 000 rules / 0 rules (goal >= 0.9) and meshgw / nginx per
# case (goal > 1), on requests/s per busy core (and requests/s, p99, cycles).
# Each of ROUNDS rounds runs both servers (in alternating order) through every
# case; every figure is the median over rounds, every ratio the median of the
# rounds' ratios. bench/README.md ("l7") has the details.
#
# Any measurement or check that fails makes it exit 1.
#
# Usage: bench/l7.sh [--out FILE]
# Environment: CASES ("0 100 10000"), ROUNDS (3), SECS (8: the measured window),
# WARMUP (2), LAT_SECS (4), CONNS (16), SERVERS ("nginx meshgw"), L7_REGEX_EVERY (0: every
# K-th rule a regex path), MG_BENCH_KEEP=1 (keep
# /tmp/mgb-l7.*), OUT (bench/results/l7.json), MG_BUILD.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$MG_ROOT/tests/lib.sh"
. "$MG_ROOT/tests/integration/lib_policy.sh"
. "$MG_ROOT/bench/lib_bench.sh"

out=${OUT:-$MG_ROOT/bench/results/l7.json}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?}; shift 2 ;;
	*) echo "usage: bench/l7.sh [--out FILE]" >&2; exit 64 ;;
	esac
done
CASES=${CASES:-0 100 10000}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
WARMUP=${WARMUP:-2}
LAT_SECS=${LAT_SECS:-4}
CONNS=${CONNS:-16}
SERVERS=${SERVERS:-nginx meshgw}
REGEX_EVERY=${L7_REGEX_EVERY:-0}
L7C=$MG_BUILD/bench/l7_client
VIP=$MG_GW_FABRIC_IP
PREFIX=mgb-l7
CLIENT_ID=spiffe://example.org/ns/prod/sa/client
trap 'exit 143' TERM
trap 'exit 130' INT
mg_need_root
mg_need_bins
[ -x "$L7C" ] || mg_die "no $L7C (ninja -C build)"
for b in nginx taskset; do
	command -v "$b" >/dev/null || mg_die "$b is not installed"
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then mg_die "ROUNDS: 1..20"; fi
bench_begin l7

blog() { mg_log "[${SECONDS}s] $*"; }

# jget FILE KEY: one top-level field of a JSON file.
jget() { "$MG_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# lc ARGS...: bench/l7_client in mg-client on core 0 with the client's SVID.
lc() {
	client taskset -c 0 timeout $((SECS + WARMUP + 30)) "$L7C" --to "$VIP:8443" \
		--cert "$PKI/svid/client.pem" --key "$PKI/svid/client.key" "$@"
}

# probe NAME N: 3 requests on one connection to the case's target (expect 200
# each) and, with rules, 3 to a path no rule allows (expect 403 each).
# Returns 1 (with the reason in $tmp/NAME.why) when the target is not served.
probe() {
	local name=$1 n=$2 target
	target=$(jget "$tmp/rules-$n/meta.json" target)
	lc --conns 1 --warmup 0 --secs 10 --requests 3 --path "$target" \
		>"$tmp/$name.probe-allow.json" 2>"$tmp/$name.probe-allow.err" || true
	if ! "$MG_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["status"] != {"200": 3})' \
		"$tmp/$name.probe-allow.json" 2>/dev/null; then
		echo "the allowed path $target: $(cat "$tmp/$name.probe-allow.json" "$tmp/$name.probe-allow.err" 2>/dev/null | tr '\n' ' ')" \
			>"$tmp/$name.why"
		return 1
	fi
	[ "$n" != 0 ] || return 0
	lc --conns 1 --warmup 0 --secs 10 --requests 3 --path "$(jget "$tmp/rules-$n/meta.json" denied)" \
		>"$tmp/$name.probe-deny.json" 2>"$tmp/$name.probe-deny.err" || true
	"$MG_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["status"] != {"403": 3})' \
		"$tmp/$name.probe-deny.json" 2>/dev/null ||
		mg_die "$name: a path no rule allows was not refused with 403: $(cat "$tmp/$name.probe-deny.json")"
}

# snap NAME PIDS: the server's core-1 work now ("cpu_ticks" of the processes,
# core 1's irq+softirq and busy ticks from /proc/stat; meshgw also its stats
# and, when meshctl has it, its l7 telemetry).
snap() {
	local name=$1 p f ticks=0
	shift
	for p in "$@"; do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		ticks=$((ticks + ${f% *} + ${f#* }))
	done
	{
		echo "cpu_ticks $ticks"
		# Core 1 as a whole (user nice system idle iowait irq softirq steal):
		# the softirq work no process is charged for, and other tenants.
		awk '$1 == "cpu1" { print "core1_softirq " $7 + $8; print "core1_busy " $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
	} >"$tmp/$name.snap"
	[ -n "$GW_PID" ] || return 0
	mg_ctl "$PREFIX" stats --json >"$tmp/$name.stats.json"
	# The L7 gate's own counters (meshctl l7: /meshgw/l7), once it is in the build.
	mg_ctl "$PREFIX" l7 --json >"$tmp/$name.l7.json" 2>/dev/null || rm -f "$tmp/$name.l7.json"
}

# ok200 FILE: every request of the client's run FILE was answered 200, and no
# connection was lost on the way (a reconnect would put a handshake in the figures).
ok200() {
	"$MG_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["requests"] == 0 or set(d["status"]) != {"200"} or d["errors"] > 0)' \
		"$1" || mg_die "${1##*/}: not every request was answered 200 on its connection: $(cat "$1")"
}

# load NAME N PIDS: the measured run: CONNS connections for WARMUP + SECS,
# the server sampled at the window's ends.
load() {
	local name=$1 n=$2 pids=$3 pid
	ip netns exec mg-client taskset -c 0 timeout $((SECS + WARMUP + 30)) "$L7C" --to "$VIP:8443" \
		--cert "$PKI/svid/client.pem" --key "$PKI/svid/client.key" --conns "$CONNS" \
		--secs "$SECS" --warmup "$WARMUP" --path "$(jget "$tmp/rules-$n/meta.json" target)" \
		>"$tmp/$name.load.json" 2>"$tmp/$name.load.err" 9>&- &
	pid=$!
	BG+=("$pid")
	sleep "$WARMUP"
	# shellcheck disable=SC2086
	snap "$name.0" $pids
	sleep "$SECS"
	# shellcheck disable=SC2086
	snap "$name.1" $pids
	wait "$pid" || blog "$name: the client reported errors: $(cat "$tmp/$name.load.err")"
	blog "$name: $(cat "$tmp/$name.load.json")"
	ok200 "$tmp/$name.load.json"
	# Latency without queueing: one connection, one request at a time.
	lc --conns 1 --secs "$LAT_SECS" --warmup 0.5 --path "$(jget "$tmp/rules-$n/meta.json" target)" \
		>"$tmp/$name.lat.json" 2>"$tmp/$name.lat.err" || true
	blog "$name: $(cat "$tmp/$name.lat.json")"
	ok200 "$tmp/$name.lat.json"
}

run_nginx() {
	local r=$1 n pid
	kaddr_add
	for n in $CASES; do
		sed -e "s|@TMP@|$tmp|g" -e "s|@PKI@|$PKI|g" -e "s|@RULES@|$tmp/rules-$n/nginx.inc|g" \
			"$MG_ROOT/bench/l7-nginx.conf" >"$tmp/nginx-gw.conf"
		bg mg-gw taskset -c 1 nginx -c "$tmp/nginx-gw.conf" -e "$tmp/nginx-gw-error.log"
		pid=$last
		wait_port "$VIP" 8443 30 || mg_die "nginx did not listen: $(cat "$tmp/nginx-gw-error.log" 2>/dev/null)"
		probe "r$r-nginx-$n" "$n" || mg_die "nginx: $(cat "$tmp/r$r-nginx-$n.why")"
		load "r$r-nginx-$n" "$n" "$(pgrep -P "$pid" | tr '\n' ' ')"
		stop_pid "$pid"
	done
	kaddr_del
}

meshgw_start() {
	lp_setup "$tmp/policy-r$1" # a fresh state dir: versions restart at 1
	sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base.conf"
	lp_conf "$tmp/base.conf" "$tmp/gateway.conf" \
		"listeners = (
  { name = \"l7\"; type = \"inbound\"; listen = \"$VIP:8443\"; upstream = \"$MG_BACKEND_IP:80\"; backlog = 4096; }
);" \
		"svids = ( { name = \"backend\"; cert = \"$PKI/svid/backend.chain.pem\"; key = \"$PKI/svid/backend.key\"; } );"
	GW_PID=$(MG_LOG_DIR=$MG_LOG_DIR MG_EAL_EXTRA="${MG_EAL_EXTRA:-}" \
		"$MG_ROOT/tests/run-gateway.sh" "$tmp/gateway.conf" "$PREFIX" 2>"$tmp/meshgw-start.err") ||
		{ GW_PID=; mg_die "meshgw did not start: $(tail -n 5 "$tmp/meshgw-start.err")"; }
	mg_ctl "$PREFIX" status --json >"$tmp/meshgw-status.json"
}

run_meshgw() {
	local r=$1 n v=0
	meshgw_start "$r"
	for n in $CASES; do
		v=$((v + 1))
		lp_push "$tmp/rules-$n/policy.conf" "$v" >"$tmp/r$r-meshgw-$n.push" ||
			mg_die "meshgw: push of $n rules failed: $(cat "$tmp/r$r-meshgw-$n.push")"
		probe "r$r-meshgw-$n" "$n" ||
			mg_die "meshgw with $n path rules: $(cat "$tmp/r$r-meshgw-$n.why")"
		load "r$r-meshgw-$n" "$n" "$GW_PID"
	done
	mg_stop_gateway "$GW_PID" "$PREFIX"
	GW_PID=
}

PKI=$tmp/pki
"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
for n in $CASES; do
	mkdir -p "$tmp/rules-$n"
	"$MG_PYTHON" "$MG_ROOT/bench/l7_rules.py" --rules "$n" --client-id "$CLIENT_ID" \
		--client-ip "$MG_CLIENT_IP" --backend-ip "$MG_BACKEND_IP" --backend-port 80 \
		--ca "$PKI/example.org/ca.pem" --regex-every "$REGEX_EVERY" \
		--policy "$tmp/rules-$n/policy.conf" --nginx "$tmp/rules-$n/nginx.inc" \
		>"$tmp/rules-$n/meta.json"
done
chmod -R a+rX "$tmp" # nginx's workers may drop privileges

sed -e "s|@TMP@|$tmp|g" "$MG_ROOT/bench/l7-backend-nginx.conf" >"$tmp/nginx-be.conf"
bg mg-backend taskset -c 0 nginx -c "$tmp/nginx-be.conf" -e "$tmp/nginx-be-error.log"
for _ in $(seq 50); do
	backend timeout 2 bash -c "exec 3<>/dev/tcp/$MG_BACKEND_IP/80" 2>/dev/null && break
	sleep 0.2
done

order=$SERVERS
for r in $(seq "$ROUNDS"); do
	for s in $order; do
		case "$s" in
		nginx|meshgw) blog "round $r: $s"; "run_$s" "$r" ;;
		*) mg_die "SERVERS: unknown server $s" ;;
		esac
	done
	order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }')
done

mkdir -p "$(dirname "$out")"
"$MG_PYTHON" "$MG_ROOT/bench/l7_report.py" "$tmp" "$out" "$(getconf CLK_TCK)" \
	"$ROUNDS" "$SECS" "$CONNS" "$CASES"
mg_log "results in $out"
exit 0
