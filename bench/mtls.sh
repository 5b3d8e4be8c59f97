#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# mTLS benchmark (issue 12, Benchmark): meshgw's `inbound` listeners against
# nginx `stream` and HAProxy terminating the same mTLS, one server at a time
# between mg-client and mg-backend, the server on core 1, in one run.
#
#  netns mg-client (core 0)              netns mg-gw (server, core 1)          netns mg-backend (core 0)
#  bench/mtls_client.py  ==mTLS==> 198.18.1.1:8443 ==plain==> 198.18.2.2:80   tcp_tool.py echo-server
#   (client SVID, leaf)  ==mTLS==> 198.18.1.1:8444 ==plain==> 198.18.2.2:5201 tcp_tool.py source-server
#                                  (meshgw | nginx | haproxy)
#
# Every server presents the backend's P-256 SVID (conf/pki.sh), speaks TLS 1.3
# only with X25519 and TLS_AES_128_GCM_SHA256, requires the client's SVID and
# verifies it against example.org's CA, issues no tickets and keeps no session
# cache. meshgw's handshake thread shares core 0 with its control thread and the
# clients (its design on this 2-core machine); nginx and HAProxy do everything
# on core 1.
#
# Figures, per server:
#   hs       full handshakes with one 64-byte request echoed per connection
#            (HS_SECS s, HS_THREADS client threads); completed handshakes from the
#            server's own counters (meshgw proxy/tls_established, HAProxy's stats
#            socket) and the client's answered requests (the count for nginx);
#            server CPU (utime+stime, /proc) per completed handshake. meshgw: the
#            whole process, each thread, handshake_cycles and the worker's
#            busy_cycles (TSC) per handshake.
#   bulk     one download of BULK_BYTES through the server (it seals, the client
#            opens): server CPU-s per GiB
#   ping     2000 echoes of 64 B on one kept-alive mTLS connection: p50/p99 µs
#   idle     IDLE_CONNS established, idle mTLS connections (PEER_IDLE_CONNS for
#            nginx and HAProxy: one process may open 20 000 files here, two per
#            proxied connection): RSS delta per connection; meshgw also tcp
#            mem_used, the EAL heap, and its per-connection slots allocated at
#            start (bench/mtls_sizes: a proxy pair and two TCP connections),
#            which no RSS delta shows
#   quiet    QUIET_SECS (3) with no traffic first: CPU the server burns idle
#   reauth   meshgw only, on those connections: push a policy that denies them,
#            time until proxy/reauth_closed has grown by IDLE_CONNS (the
#            worker's decisions), and until the client saw the last close
# and the crypto bounds from `openssl speed` on core 1 in the same run (one
# ECDSA P-256 sign + two verifies + two X25519 operations per handshake;
# AES-128-GCM 16 KB per GiB). No figure is asserted: the script exits 0 when
# everything was measured, 1 when a measurement failed.
#
# Usage: bench/mtls.sh [--out FILE]
# Environment: HS_SECS (10), HS_THREADS (4), BULK_BYTES (1 GiB), IDLE_CONNS
# (10000), PEER_IDLE_CONNS (9000), SERVERS ("nginx haproxy meshgw": which to
# run, in order), MG_BENCH_PERF=DIR (record `perf record -g` of the server
# during its handshake and download phases into DIR; this perturbs the
# figures: for profiles, not for results), MG_BENCH_KEEP=1 (keep the run's
# files in /tmp/mgb-mtls.*), MG_BUILD.
set -euo pipefail
MG_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$MG_ROOT/tests/lib.sh"
. "$MG_ROOT/tests/integration/lib_policy.sh"
. "$MG_ROOT/bench/lib_bench.sh"

out=${OUT:-$MG_ROOT/bench/results/mtls.json}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?}; shift 2 ;;
	*) echo "usage: bench/mtls.sh [--out FILE]" >&2; exit 64 ;;
	esac
done
HS_SECS=${HS_SECS:-10}
HS_THREADS=${HS_THREADS:-4}
BULK_BYTES=${BULK_BYTES:-1073741824}
IDLE_CONNS=${IDLE_CONNS:-10000}
PEER_IDLE_CONNS=${PEER_IDLE_CONNS:-9000}
QUIET_SECS=${QUIET_SECS:-3}
SERVERS=${SERVERS:-nginx haproxy meshgw}
PERF_DIR=${MG_BENCH_PERF:-}

TOOL=$MG_ROOT/tests/integration/tcp_tool.py
CLIENT=$MG_ROOT/bench/mtls_client.py
VIP=$MG_GW_FABRIC_IP
PREFIX=mgb-mtls
trap 'exit 143' TERM
trap 'exit 130' INT
mg_need_root
mg_need_bins
for b in nginx haproxy taskset socat openssl; do
	command -v "$b" >/dev/null || mg_die "$b is not installed"
done
bench_begin mtls

# blog MSG: mg_log with the seconds since the start (the bench's own clock).
blog() { mg_log "[${SECONDS}s] $*"; }


# snap NAME PIDS...: CPU ticks of the processes and of each thread (by name),
# and their VmRSS, into $tmp/NAME.snap as "key value" lines.
snap() {
	local name=$1 p t f
	shift
	{
		for p in "$@"; do
			f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
			echo "proc $((${f% *} + ${f#* }))"
			echo "rss_kb $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"
			for t in /proc/"$p"/task/*; do
				f=$(cut -d' ' -f14,15 "$t/stat" 2>/dev/null) || continue
				echo "thread/$(tr ' ' _ <"$t/comm") $((${f% *} + ${f#* }))"
			done
		done
	} >"$tmp/$name.snap"
	if [ -n "$GW_PID" ]; then
		mg_ctl "$PREFIX" tcp --json >"$tmp/$name.tcp.json"
		mg_ctl "$PREFIX" tls --json >"$tmp/$name.tls.json"
		mg_ctl "$PREFIX" stats --json >"$tmp/$name.stats.json"
		"$MG_PYTHON" - "$PREFIX" >"$tmp/$name.heap.json" <<-'PY' || true
		import json, socket, sys
		s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % sys.argv[1])
		s.recv(65536)
		s.send(b"/eal/heap_info,0")
		print(s.recv(65536).decode())
		PY
	fi
	if [ -S "$tmp/haproxy.sock" ]; then
		echo "show info" | socat - "UNIX-CONNECT:$tmp/haproxy.sock" >"$tmp/$name.hainfo" || true
		echo "show stat" | socat - "UNIX-CONNECT:$tmp/haproxy.sock" >"$tmp/$name.hastat" || true
	fi
}

# perf_start NAME PIDS: with MG_BENCH_PERF, perf record -g of PIDS (all threads).
PERF_PID=
perf_start() {
	local name=$1
	shift
	[ -n "$PERF_DIR" ] || return 0
	mkdir -p "$PERF_DIR"
	perf record -q -g -p "$(echo "$@" | tr ' ' ',' | sed 's/,*$//')" \
		-o "$PERF_DIR/$name.data" >/dev/null 2>&1 9>&- &
	PERF_PID=$!
	sleep 0.5
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
}

# cl TIMEOUT ARGS...: bench/mtls_client.py in mg-client on core 0.
cl() {
	local t=$1
	shift
	client taskset -c 0 timeout "$t" "$MG_PYTHON" "$CLIENT" --cert "$PKI/svid/client.pem" \
		--key "$PKI/svid/client.key" "$@"
}

# measure NAME PIDS: every figure against the server now listening.
measure() {
	local name=$1 pids=$2 n st
	# What the server burns with no traffic at all (meshgw's worker polls;
	# its handshake thread naps between polls).
	# shellcheck disable=SC2086
	snap "$name-quiet0" $pids
	sleep "$QUIET_SECS"
	# shellcheck disable=SC2086
	snap "$name-quiet1" $pids
	blog "$name: handshakes ($HS_SECS s, $HS_THREADS threads)"
	# shellcheck disable=SC2086
	snap "$name-hs0" $pids
	# shellcheck disable=SC2086
	perf_start "$name-hs" $pids
	cl $((HS_SECS + 30)) hs --to "$VIP:8443" --secs "$HS_SECS" --threads "$HS_THREADS" \
		>"$tmp/$name-hs.json" || mg_die "$name: hs failed: $(cat "$tmp/$name-hs.json")"
	perf_stop
	# shellcheck disable=SC2086
	snap "$name-hs1" $pids
	blog "$name: $(cat "$tmp/$name-hs.json")"

	blog "$name: download of $BULK_BYTES bytes"
	# shellcheck disable=SC2086
	snap "$name-bulk0" $pids
	# shellcheck disable=SC2086
	perf_start "$name-bulk" $pids
	cl 90 bulk --to "$VIP:8444" --bytes "$BULK_BYTES" --timeout 80 >"$tmp/$name-bulk.json" ||
		mg_die "$name: bulk failed: $(cat "$tmp/$name-bulk.json")"
	perf_stop
	# shellcheck disable=SC2086
	snap "$name-bulk1" $pids
	blog "$name: $(cat "$tmp/$name-bulk.json")"

	# shellcheck disable=SC2086
	snap "$name-ping0" $pids
	cl 60 ping --to "$VIP:8443" --rounds 2000 --size 64 >"$tmp/$name-ping.json" ||
		mg_die "$name: ping failed: $(cat "$tmp/$name-ping.json")"
	# shellcheck disable=SC2086
	snap "$name-ping1" $pids
	blog "$name: $(cat "$tmp/$name-ping.json")"

	n=$PEER_IDLE_CONNS
	[ "$name" != meshgw ] || n=$IDLE_CONNS
	blog "$name: $n idle connections"
	sleep 1
	# shellcheck disable=SC2086
	snap "$name-idle0" $pids
	st=$tmp/$name-idle.status
	ip netns exec mg-client taskset -c 0 "$MG_PYTHON" "$CLIENT" idle --cert "$PKI/svid/client.pem" \
		--key "$PKI/svid/client.key" --to "$VIP:8443" --conns "$n" --conc 64 \
		--status "$st" --open-timeout 150 --hold 200 >"$tmp/$name-idle.json" 9>&- &
	local idle_pid=$!
	BG+=("$idle_pid")
	local deadline=$((SECONDS + 160))
	while [ ! -e "$st" ] && [ $SECONDS -lt $deadline ] && kill -0 "$idle_pid" 2>/dev/null; do
		sleep 0.5
	done
	[ -e "$st" ] || mg_die "$name: the idle client did not report: $(cat "$tmp/$name-idle.json")"
	blog "$name: $(cat "$st")"
	sleep 2 # let the last handshakes' buffers go back
	# shellcheck disable=SC2086
	snap "$name-idle1" $pids
	if [ "$name" = meshgw ]; then
		blog "meshgw: pushing a policy that denies the $n connections"
		"$MESHCTL" snapshot build "$(policy deny)" --version 2 \
			--expires 2099-01-01T00:00:00Z -o "$tmp/policy/deny.msnap" >/dev/null
		"$MESHCTL" snapshot sign "$tmp/policy/deny.msnap" --key "$tmp/policy/signer.key" >/dev/null
		"$MG_PYTHON" "$CLIENT" reauth --prefix "$PREFIX" --target "$n" --timeout 30 -- \
			"$MESHCTL" push "$tmp/policy/deny.msnap" --socket "$LP_SOCK" \
			>"$tmp/meshgw-reauth.json" || blog "meshgw: reauth did not complete: $(cat "$tmp/meshgw-reauth.json")"
		blog "meshgw: $(cat "$tmp/meshgw-reauth.json")"
		sleep 3 # the client sees the closes (close_notify, FIN; retransmitted if lost)
		# shellcheck disable=SC2086
		snap meshgw-reauth1 $pids
	fi
	stop_pid "$idle_pid"
	echo ok >"$tmp/$name.done"
}

run_nginx() {
	sed -e "s|@TMP@|$tmp|g" -e "s|@PKI@|$PKI|g" "$MG_ROOT/bench/mtls-nginx.conf" >"$tmp/nginx.conf"
	kaddr_add
	bg mg-gw taskset -c 1 nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log"
	local pid=$last
	wait_port "$VIP" 8443 10 || mg_die "nginx did not listen: $(cat "$tmp/nginx-error.log" 2>/dev/null)"
	measure nginx "$pid $(pgrep -P "$pid" | tr '\n' ' ')"
	stop_pid "$pid"
	kaddr_del
}

run_haproxy() {
	cat "$PKI/svid/backend.chain.pem" "$PKI/svid/backend.key" >"$tmp/haproxy.pem"
	sed -e "s|@TMP@|$tmp|g" -e "s|@PKI@|$PKI|g" "$MG_ROOT/bench/mtls-haproxy.cfg" >"$tmp/haproxy.cfg"
	kaddr_add
	bg mg-gw taskset -c 1 haproxy -db -f "$tmp/haproxy.cfg"
	local pid=$last
	wait_port "$VIP" 8443 10 || mg_die "haproxy did not listen"
	measure haproxy "$pid"
	stop_pid "$pid"
	rm -f "$tmp/haproxy.sock"
	kaddr_del
}

# policy allow|deny: the client workload, the backend's ports 80 and 5201,
# TLS as the peers are set up; allow has the client -> backend rule.
policy() {
	local rules='{ name = "web-only"; action = "allow";
	  from = [ "spiffe://example.org/ns/prod/sa/web" ]; to = { workload = "backend"; }; }'
	[ "$1" = deny ] || rules='{ name = "client-to-backend"; action = "allow";
	  from = [ "spiffe://example.org/ns/prod/sa/client" ]; to = { workload = "backend"; }; }'
	cat >"$tmp/policy-$1.conf" <<EOF
default_action = "deny";
tls = { ciphersuites = [ "TLS_AES_128_GCM_SHA256" ]; groups = [ "X25519" ]; };
trust_domains = ( { name = "example.org"; bundle_file = "$PKI/example.org/ca.pem"; } );
workloads = (
  { name = "client"; spiffe_id = "spiffe://example.org/ns/prod/sa/client";
    addresses = [ "$MG_CLIENT_IP" ];
    images = [ "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" ]; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 80, 5201 ]; }
);
rules = ( $rules );
EOF
	echo "$tmp/policy-$1.conf"
}

run_meshgw() {
	lp_setup "$tmp/policy"
	sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base.conf"
	lp_conf "$tmp/base.conf" "$tmp/gateway.conf" \
		"listeners = (
  { name = \"echo_tls\"; type = \"inbound\"; listen = \"$VIP:8443\"; upstream = \"$MG_BACKEND_IP:80\"; backlog = 4096; },
  { name = \"source_tls\"; type = \"inbound\"; listen = \"$VIP:8444\"; upstream = \"$MG_BACKEND_IP:5201\"; }
);" \
		"svids = ( { name = \"backend\"; cert = \"$PKI/svid/backend.chain.pem\"; key = \"$PKI/svid/backend.key\"; } );" \
		"tcp = { max_conns = 32768; };" \
		"tls = { max_handshakes = 256; peer_handshakes = 256; };"
	GW_PID=$(MG_LOG_DIR=$MG_LOG_DIR MG_EAL_EXTRA="${MG_EAL_EXTRA:-}" \
		"$MG_ROOT/tests/run-gateway.sh" "$tmp/gateway.conf" "$PREFIX" 2>"$tmp/meshgw-start.err") ||
		{ GW_PID=; mg_die "meshgw did not start: $(tail -n 5 "$tmp/meshgw-start.err")"; }
	mg_ctl "$PREFIX" status --json >"$tmp/meshgw-status.json"
	lp_push "$(policy allow)" 1 >"$tmp/push1.out" || mg_die "policy push failed: $(cat "$tmp/push1.out")"
	wait_port "$VIP" 8443 10 || mg_die "nothing accepts on $VIP:8443"
	measure meshgw "$GW_PID"
	mg_stop_gateway "$GW_PID" "$PREFIX"
	GW_PID=
}

"$MG_BUILD/bench/mtls_sizes" >"$tmp/sizes.json" || mg_die "no $MG_BUILD/bench/mtls_sizes (ninja -C build)"
PKI=$tmp/pki
"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
chmod -R a+rX "$tmp" # nginx's and HAProxy's workers may drop privileges

# Crypto bounds on core 1 before any server runs.
blog "openssl speed on core 1"
taskset -c 1 openssl speed -seconds 2 -elapsed ecdsap256 ecdhx25519 >"$tmp/speed-pk.txt" 2>/dev/null
taskset -c 1 openssl speed -seconds 2 -elapsed -bytes 16384 -evp aes-128-gcm >"$tmp/speed-gcm.txt" 2>/dev/null

client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
bg mg-backend taskset -c 0 "$MG_PYTHON" "$TOOL" echo-server --bind "$MG_BACKEND_IP" --port 80
bg mg-backend taskset -c 0 "$MG_PYTHON" "$TOOL" source-server --bind "$MG_BACKEND_IP" --port 5201
sleep 0.5

for s in $SERVERS; do
	case "$s" in
	nginx|haproxy|meshgw) "run_$s" ;;
	*) mg_die "SERVERS: unknown server $s" ;;
	esac
done

mkdir -p "$(dirname "$out")"
"$MG_PYTHON" "$MG_ROOT/bench/mtls_report.py" "$tmp" "$out" "$(getconf CLK_TCK)" \
	"$IDLE_CONNS" "$PEER_IDLE_CONNS" "$QUIET_SECS"
mg_log "results in $out"
exit 0
