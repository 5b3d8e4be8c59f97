#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The L4 proxy against Linux TCP on both sides (issue 5, "Interop"): curl in
# mg-client fetches a 1 MB and a 100 MB random file from a Python http.server
# in mg-backend through meshgw's `web` listener and the SHA-256 must match;
# iperf3 runs 5 s each way through the `iperf` listener; then the 1 MB fetch
# again with two workers, where steering keeps each pair on one worker.
# (iperf3 ran 10 s each way: what it checks is that it completes and moves
# bytes in each direction through the proxy, which 5 s of bulk TCP shows as
# well; the af_xdp buffer checks after it still follow the 100 MB fetch and
# iperf frames, far more than the ports' pools hold.)
#
#  netns mg-client              netns mg-gw (meshgw)                 netns mg-backend
#  curl / iperf3 -c       fab0 198.18.1.1:8080,5201 ==> loc0 198.18.2.1   http.server :80
#  198.18.1.2 --[br0]-->          (TCP stack + proxy)     ----------->  iperf3 -s :5201
#
# Environment: MG_L4_BIG_MB (default 100), MG_L4_IPERF_S (default 5).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_policy.sh"
mg_test_setup mgt-l4
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-l4.XXXXXX)
BIG_MB=${MG_L4_BIG_MB:-100}
IPERF_S=${MG_L4_IPERF_S:-5}
PIDS=()

test_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}

bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" 9>&- >>"$tmp/bg.log" 2>&1 &
	PIDS+=($!)
}

# fetch NAME PREFIX LIMIT_S: curl the file through the proxy; checks its hash.
fetch() {
	local name=$1 prefix=$2 limit=$3 out t0 t1 ms
	out=$tmp/got-$name-$prefix
	t0=$(date +%s%N)
	client timeout "$limit" curl -sS --max-time "$limit" -o "$out" \
		"http://$MG_GW_FABRIC_IP:8080/$name" || {
		mg_log "curl $name via $prefix failed"
		return 1
	}
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	mg_log "$name: $(stat -c %s "$out") bytes in $ms ms ($(( $(stat -c %s "$out") * 8 / (ms > 0 ? ms : 1) / 1000 )) Mbit/s)"
	[ "$(sha256sum <"$out")" = "$(sha256sum <"$tmp/www/$name")" ]
}

# iperf NAME ARGS: one bounded iperf3 run through the proxy; prints Mbit/s.
iperf() {
	local name=$1 bps
	shift
	client timeout $((IPERF_S + 20)) iperf3 -c "$MG_GW_FABRIC_IP" -p 5201 -t "$IPERF_S" \
		-J "$@" >"$tmp/iperf-$name.json" 2>&1 || {
		mg_log "iperf3 $name failed: $("$MG_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$tmp/iperf-$name.json" 2>/dev/null || head -c 400 "$tmp/iperf-$name.json")"
		return 1
	}
	bps=$("$MG_PYTHON" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(int(j["end"]["sum_received"]["bytes"]), int(j["end"]["sum_received"]["bits_per_second"]/1e6))' "$tmp/iperf-$name.json")
	mg_log "iperf3 $name: ${bps% *} bytes, ${bps#* } Mbit/s"
	[ "${bps% *}" -gt 0 ]
}

mkdir -p "$tmp/www"
head -c 1048576 /dev/urandom >"$tmp/www/1m"
head -c $((BIG_MB * 1048576)) /dev/urandom >"$tmp/www/big"
bg mg-backend "$MG_PYTHON" -m http.server 80 --bind "$MG_BACKEND_IP" --directory "$tmp/www"
bg mg-backend iperf3 -s -B "$MG_BACKEND_IP" -p 5201
for _ in $(seq 50); do
	backend curl -s -o /dev/null "http://$MG_BACKEND_IP/1m" && break
	sleep 0.1
done

# Default deny: a snapshot lets mg-client's address through (lib_policy.sh).
lp_setup "$tmp/policy"
lp_conf "$MG_ROOT/conf/demo/gateway.conf" "$tmp/gw1.conf"
mg_start_gateway "$tmp/gw1.conf" "$MG_PREFIX"
mg_expect "the L4 policy is accepted" lp_push "$MG_ROOT/tests/data/policy/l4.conf" 1
declare -A free0 # each port's free buffers before any traffic
for port in fabric local; do
	free0[$port]=$(mg_stat "$MG_PREFIX" "port.$port.mbufs_free")
done
mg_expect "1 MB through the proxy, SHA-256 intact" fetch 1m "$MG_PREFIX" 30
mg_expect "${BIG_MB} MB through the proxy, SHA-256 intact" fetch big "$MG_PREFIX" 300
mg_expect "iperf3 client -> backend ${IPERF_S} s through the proxy" iperf up
mg_expect "iperf3 backend -> client (-R) ${IPERF_S} s through the proxy" iperf down -R
# On af_xdp a frame is missed only when the fill ring is empty, which a
# healthy port never lets happen (it gives back a buffer for each frame). A
# buffer the kernel refused (outside the UMEM, drivers/port.c) was lost from
# the ring for good, and the port went deaf once all were.
for port in fabric local; do
	missed=$(mg_stat "$MG_PREFIX" "port.$port.rx_missed")
	mg_expect "$port: no frame missed for want of an af_xdp buffer ($missed)" [ "$missed" -eq 0 ]
done
sleep 1 # the last TX completions are reclaimed on the next wake-up
for port in fabric local; do
	free=$(mg_stat "$MG_PREFIX" "port.$port.mbufs_free")
	mg_expect "$port: the pool got its buffers back (free ${free0[$port]} at start, $free now)" \
		[ "$free" -ge $((free0[$port] - 64)) ]
done
mg_ctl "$MG_PREFIX" tcp 2>/dev/null | grep -v ' 0$' | sed 's/^/    /' >&2 || true
mg_ctl "$MG_PREFIX" conns 2>/dev/null | sed 's/^/    /' >&2 || true
# Where the worker's busy cycles went (issue 13): every stage of the L4 path
# did work, no TLS ran, and the stages add up to the busy cycles exactly.
mg_ctl "$MG_PREFIX" cycles 2>/dev/null | grep -v '^worker/' | sed 's/^/    /' >&2 || true
cycles_check() {
	mg_ctl "$MG_PREFIX" cycles --json | "$MG_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
st = {k.split("/")[1]: v for k, v in d.items() if k.startswith("stage/") and k.endswith("/cycles")}
busy = [k for k in ("rx", "parse", "tcp_in", "proxy", "tcp_out", "tx") if st[k] > 0]
print("stages %s, tls %d, sum %d of busy %d, %d cycles/KiB, %d cycles/connection"
      % (busy, st["tls"], sum(st.values()), d["busy_cycles"], d["per_kib"], d["per_connection"]),
      file=sys.stderr)
sys.exit(0 if len(busy) == 6 and st["tls"] == 0 and sum(st.values()) == d["busy_cycles"]
         and d["per_kib"] > 0 and d["connections"] >= 4 else 1)'
}
mg_expect "busy cycles: every L4 stage counted, no TLS, the stages sum to the whole" cycles_check
mg_stop_gateway "$MG_GW_PID" "$MG_PREFIX"

# Two workers on ports without RSS: steering puts both halves of a pair on one
# worker. The veths have one queue pair, so af_packet with two (a fanout group
# spreads frames by the kernel's hash) stands in for af_xdp.
sed -e 's/lcores = \[1\];/lcores = [1, 2];/' \
	-e 's/net_af_xdp\([01]\),iface=\([a-z0-9]*\)/net_af_packet\1,iface=\2,qpairs=2/' \
	"$tmp/gw1.conf" >"$tmp/gw2.conf"
MG_LCORES=0@0,1@1,2@1 mg_start_gateway "$tmp/gw2.conf" "$MG_PREFIX-w2"
mg_expect_eq "the same state directory: the policy is loaded at boot" 1 \
	"$(mg_ctl "$MG_PREFIX-w2" policy --json | mg_json_get version)"
for i in 1 2 3 4 5 6 7 8; do
	mg_expect "1 MB through the proxy with 2 workers (#$i)" fetch 1m "$MG_PREFIX-w2" 30
done
steered=$(mg_ctl "$MG_PREFIX-w2" tcp --json | mg_json_get steering.steered_in)
mg_log "2 workers: steered_in $steered"
mg_ctl "$MG_PREFIX-w2" conns 2>/dev/null | sed 's/^/    /' >&2 || true
mg_expect "some segments were steered to their owner worker ($steered)" [ "$steered" -gt 0 ]
mg_finish
