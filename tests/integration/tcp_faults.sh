#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# TCP through the L4 proxy under a bad network (issue 5, Tests "Under faults"):
# MG_FAULT_BYTES (100 MB) streamed through the proxy to an echo server and back,
# with 5% loss each
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
# meshgw runs with `tcp = { rto_min_ms = 20; }`, the floor an operator sets on a
# fabric whose RTT is well under a millisecond (Linux: `ip route ... rto_min`):
# with the default 200 ms floor the ~1500 timeouts of 100 MB at this loss rate
# take about 300 s, with 20 ms about 30 s.
# Environment: MG_FAULT_BYTES (default 100000000), MG_FAULT_TIMEOUT (s, default 240),
# MG_FAULT_RTO_MIN_MS (default 20), L4_AF_PACKET (non-empty: af_packet ports).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpfault
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpfault.XXXXXX)
BYTES=${MG_FAULT_BYTES:-100000000}
LIMIT=${MG_FAULT_TIMEOUT:-240}
L4_TCP="{ rto_min_ms = ${MG_FAULT_RTO_MIN_MS:-20}; }"
# The L4 path under test (MG_L4=meshgw|linux): tests/integration/lib_l4.sh.
. "$MG_ROOT/tests/integration/lib_l4.sh"

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
