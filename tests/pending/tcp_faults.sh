#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# PENDING (issue 5, open): runs through the L4 proxy, whose transfers can still
# stall for good (tests/pending/l4_proxy.sh); not in the suite until that is
# fixed. It passed by hand against meshgw during development. Run as root.
#
# TCP through the L4 proxy under a bad network (issue 5, Tests "Under faults"):
# MG_FAULT_BYTES (10 MB in the suite, 100 MB by hand) streamed through the proxy to
# an echo server and back, with 5% loss each
# way plus reordering and duplication, must arrive with the SHA-256 it left with,
# in bounded time, and the gateway's TCP counters must show the retransmissions.
#
#  netns mg-client                 netns mg-gw (meshgw)                    netns mg-backend
#  tcp_tool.py transfer           fabric             local               tcp_tool.py echo-server
#  eth0 198.18.1.2 --[br0]--> fab0 198.18.1.1:8080 ==> loc0 198.18.2.1 --> eth0 198.18.2.2:80
#                  fault on "fabric": rx loss 5%,       iptables statistic 5%
#                  reorder 2% depth 4, dup 1%; tx loss 5%   (OUTPUT and INPUT)
#
# So each of the proxy's two TCP connections loses 5% each way: the client's to
# the gateway's injector, the upstream one to iptables in mg-backend.
#
# MG_L4=linux runs the same against mg-gw's kernel and a Python proxy (the
# gateway's injector is then replaced by iptables statistic drops in mg-gw).
# Environment: MG_FAULT_BYTES (default 10000000 in the suite; the issue's figure is
# MG_FAULT_BYTES=100000000, about 400 s through meshgw today, over the suite's
# 300 s bound per script), MG_FAULT_TIMEOUT (s, default 600).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpfault
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpfault.XXXXXX)
BYTES=${MG_FAULT_BYTES:-10000000}
LIMIT=${MG_FAULT_TIMEOUT:-600}
# --- the L4 path under test (same block in every tcp_*.sh) -------------------
# MG_L4=meshgw (default): meshgw's `tcp` listener web 198.18.1.1:8080 -> 198.18.2.2:80.
# MG_L4=linux: the same addresses on mg-gw's kernel and tcp_tool.py's proxy there,
# the reference the script was validated against before meshgw's proxy existed.
MG_L4=${MG_L4:-meshgw}
L4_VIP=$MG_GW_FABRIC_IP:8080
TOOL=$MG_ROOT/tests/integration/tcp_tool.py
L4_PIDS=()
L4_PROXY_PIDS=()
L4_KADDR=0
# l4_bg NS ARGS...: run tcp_tool.py in namespace NS in the background.
l4_bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$MG_PYTHON" "$TOOL" "$@" 9>&- &
	L4_PIDS+=($!)
}
# l4_up [FAULT_GROUP]: backend echo (or source) server and the proxy.
l4_up() {
	local fault=${1:-}
	if [ "$MG_L4" = linux ]; then
		ip -n mg-gw addr add "$MG_GW_FABRIC_IP/24" dev fab0
		ip -n mg-gw addr add "$MG_GW_LOCAL_IP/24" dev loc0
		L4_KADDR=1
		gw sysctl -qw net.core.somaxconn="${L4_BACKLOG:-65535}" \
			net.ipv4.tcp_max_syn_backlog="${L4_BACKLOG:-65535}"
		# Two processes on one SO_REUSEPORT listener: one may not hold 20 000
		# sockets under this machine's file limit.
		l4_bg mg-gw proxy --listen "$L4_VIP" --upstream "$MG_BACKEND_IP:80"
		L4_PROXY_PIDS=("${L4_PIDS[-1]}")
		l4_bg mg-gw proxy --listen "$L4_VIP" --upstream "$MG_BACKEND_IP:80"
		L4_PROXY_PIDS+=("${L4_PIDS[-1]}")
	else
		# The demo conf with our listener instead of its own, and the
		# fault group (if any) in its first port, "fabric".
		sed -e '/^listeners[[:space:]]*=/,/^);/d' \
			-e "0,/^[[:space:]]*mtu = .*/s//&\\n    ${fault:+fault = $fault;}/" \
			"$MG_ROOT/conf/demo/gateway.conf" >"$tmp/gateway.conf"
		cat >>"$tmp/gateway.conf" <<CONF
listeners = ( { name = "web"; type = "tcp"; listen = "$L4_VIP"; upstream = "$MG_BACKEND_IP:80";
                ${L4_BACKLOG:+backlog = $L4_BACKLOG;} } );
CONF
		mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"
		L4_PROXY_PIDS=("$MG_GW_PID")
	fi
	l4_wait_port "$L4_VIP" 10 || mg_die "nothing accepts on $L4_VIP ($MG_L4)"
}
# l4_wait_port IP:PORT SECONDS: poll a connect from mg-client.
l4_wait_port() {
	local deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		client timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1#*:}" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
# l4_down: end what l4_up and l4_bg started, remove kernel addresses.
l4_down() {
	local p
	for p in "${L4_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${L4_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	L4_PIDS=()
	if [ "$L4_KADDR" = 1 ]; then
		ip -n mg-gw addr flush dev fab0 || true
		ip -n mg-gw addr flush dev loc0 || true
		L4_KADDR=0
	fi
}
# l4_tcp KEY: sum of every counter named KEY in /meshgw/tcp (any worker); the
# Linux stand-in reads the kernel's /proc/net/netstat + snmp names instead.
l4_tcp() {
	if [ "$MG_L4" = linux ]; then
		gw nstat -az 2>/dev/null | awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
		return 0
	fi
	mg_ctl "$MG_PREFIX" tcp --json | "$MG_PYTHON" -c '
import json, sys
k = sys.argv[1]
def walk(d, path=""):
    s = 0
    if isinstance(d, dict):
        for kk, v in d.items():
            s += walk(v, kk)
    elif isinstance(d, (int, float)) and path.replace("/", ".").split(".")[-1] == k:
        s += d
    return s
print(int(walk(json.load(sys.stdin))))' "$1"
}
# -----------------------------------------------------------------------------

RULE=(-m statistic --mode random --probability 0.05 -j DROP)
test_cleanup() {
	local ns
	for ns in mg-client mg-backend mg-gw; do
		ip netns exec "$ns" iptables -D OUTPUT "${RULE[@]}" 2>/dev/null || true
		ip netns exec "$ns" iptables -D INPUT "${RULE[@]}" 2>/dev/null || true
	done
	l4_down
	rm -rf "$tmp"
}

l4_bg mg-backend echo-server --bind "$MG_BACKEND_IP" --port 80
l4_up '{ seed = 1; rx = { loss = 0.05; reorder = 0.02; reorder_depth = 4; duplicate = 0.01; }; tx = { loss = 0.05; }; }'

# The injector alone first (peers clean): a failure here is not about iptables.
mg_expect "1 MB through the proxy with the injector alone, SHA-256 intact" \
	client "$MG_PYTHON" "$TOOL" transfer --to "$L4_VIP" --size 1000000 --timeout 30

backend iptables -A OUTPUT "${RULE[@]}"
backend iptables -A INPUT "${RULE[@]}"
if [ "$MG_L4" = linux ]; then # the injector's stand-in, on the client's hop
	client iptables -A OUTPUT "${RULE[@]}"
	client iptables -A INPUT "${RULE[@]}"
fi
rx0=$(l4_tcp retransmits TcpRetransSegs)

t0=$SECONDS
mg_expect "$BYTES bytes under loss, reordering and duplication: SHA-256 intact within $LIMIT s" \
	client "$MG_PYTHON" "$TOOL" transfer --to "$L4_VIP" --size "$BYTES" --timeout "$LIMIT"
mg_log "transfer took $((SECONDS - t0)) s"
rx1=$(l4_tcp retransmits TcpRetransSegs)
mg_log "proxy retransmits: $rx0 -> $rx1"
mg_expect "the proxy's counters show retransmissions" test "$rx1" -gt "$rx0"
if [ "$MG_L4" != linux ]; then
	for k in rto_fires fast_retransmits sack_rexmits ooo_bytes dup_bytes; do
		mg_log "  $k = $(l4_tcp "$k")"
	done
fi
mg_finish
