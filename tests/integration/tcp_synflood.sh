#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# SYN-flood survival of the L4 proxy (issue 5, Tests): a flood of SYNs from many
# spoofed sources (bounded: MG_FLOOD_COUNT SYNs, at most MG_FLOOD_RATE per second,
# at most 30 s) hits the listener while 100 legitimate connections are made
# through it; every one of the 100 must complete and echo a checked payload,
# within a bound. SYN cookies must have been sent (the backlog overflowed) and
# connections made from valid ones.
#
#  netns mg-client                           netns mg-gw (meshgw)          netns mg-backend
#  tcp_synflood.py --AF_PACKET SYNs-->+
#    src 198.18.1.16-250 (spoofed)    |
#  tcp_tool.py echo-many 100 conns ---+[br0]--> fab0 198.18.1.1:8080 ==> loc0 --> eth0 198.18.2.2:80
#  eth0 198.18.1.2                                listener "web"              echo-server
#
# MG_L4=linux: the same against mg-gw's kernel (net.ipv4.tcp_syncookies=1) and
# tcp_tool.py's proxy.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpflood
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpflood.XXXXXX)
COUNT=${MG_FLOOD_COUNT:-100000}
RATE=${MG_FLOOD_RATE:-20000}
# The L4 path under test (MG_L4=meshgw|linux): tests/integration/lib_l4.sh.
. "$MG_ROOT/tests/integration/lib_l4.sh"

test_cleanup() {
	[ -z "${flood:-}" ] || kill -TERM "$flood" 2>/dev/null || true
	l4_down
	rm -rf "$tmp"
}

l4_bg mg-backend echo-server --bind "$MG_BACKEND_IP" --port 80
# A backlog small enough that the flood fills it (then SYN cookies).
L4_BACKLOG=256
[ "$MG_L4" != linux ] || gw sysctl -qw net.ipv4.tcp_syncookies=1
l4_up
mg_expect "a connection before the flood" \
	client "$MG_PYTHON" "$TOOL" echo-many --to "$L4_VIP" --conns 1 --timeout 10
gw_mac=$(mg_mac mg-gw fab0)
ck0=$(l4_tcp syncookies_sent TcpExtSyncookiesSent)
va0=$(l4_tcp syncookies_validated TcpExtSyncookiesRecv)

client "$MG_PYTHON" "$MG_ROOT/tests/integration/tcp_synflood.py" --iface eth0 \
	--gw-mac "$gw_mac" --dst "$L4_VIP" --count "$COUNT" --rate "$RATE" \
	--max-seconds 30 >"$tmp/flood.json" 9>&- &
flood=$!
sleep 1
t0=$SECONDS
mg_expect "100 legitimate connections complete and echo during the flood" \
	client "$MG_PYTHON" "$TOOL" echo-many --to "$L4_VIP" --conns 100 --open-conc 100 \
	--size 256 --timeout 60
mg_log "legitimate connections took $((SECONDS - t0)) s"
rc=0
wait "$flood" || rc=$?
flood=
mg_expect_eq "flood sender exit" 0 "$rc"
mg_log "flood: $(cat "$tmp/flood.json")"
ck1=$(l4_tcp syncookies_sent TcpExtSyncookiesSent)
mg_log "SYN cookies sent: $ck0 -> $ck1"
mg_expect "the listener answered the flood with SYN cookies" test "$ck1" -gt "$ck0"
if [ "$MG_L4" != linux ]; then
	mg_log "syncookies_validated $(l4_tcp syncookies_validated), syncookies_failed $(l4_tcp syncookies_failed), syncookies_ignored $(l4_tcp syncookies_ignored), backlog_bound_hits $(l4_tcp backlog_bound_hits), conn_bound_hits $(l4_tcp conn_bound_hits)"
fi
# The legitimate connections made while the backlog was full came back with
# their cookies: the overflow opened the window in which ACKs are tried.
va1=$(l4_tcp syncookies_validated TcpExtSyncookiesRecv)
mg_log "SYN cookies validated: $va0 -> $va1"
mg_expect "connections were made from valid SYN cookies" test "$va1" -gt "$va0"
mg_expect "the proxy still accepts after the flood" \
	client "$MG_PYTHON" "$TOOL" echo-many --to "$L4_VIP" --conns 10 --timeout 30
mg_finish
