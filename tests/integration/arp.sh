#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ARP: meshgw announces itself (gratuitous ARP at start), answers requests for
# its own addresses with its port's MAC, learns who asked, and ignores requests
# for addresses that are not its own.
#
#  mg-client eth0 198.18.1.2 --who-has 198.18.1.1--> [br0] --> fab0 meshgw (mg-gw)
#            <--------- 198.18.1.1 is-at <MAC of fab0> ------
#  mg-backend eth0 198.18.2.2 --who-has 198.18.2.1--------> loc0 meshgw (mg-gw)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-arp
trap mg_cleanup EXIT

# Linux creates a neighbour entry from an unsolicited (gratuitous) ARP only with
# arp_accept=1; by default it merely refreshes an existing one.
test_cleanup() {
	for ns in mg-client mg-backend; do
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_accept=0 \
			net.ipv4.conf.eth0.arp_accept=0 2>/dev/null || true
	done
}
for ns in mg-client mg-backend; do
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_accept=1 \
		net.ipv4.conf.eth0.arp_accept=1
	ip -n "$ns" neigh flush dev eth0
done

fab_mac=$(mg_mac mg-gw fab0)
loc_mac=$(mg_mac mg-gw loc0)
client_mac=$(mg_mac mg-client eth0)
backend_mac=$(mg_mac mg-backend eth0)

mg_start_gateway "$MG_ROOT/conf/demo/gateway.conf" "$MG_PREFIX"

# 1. Gratuitous ARP at start: the peers learn the gateway with no traffic of
#    their own.
wait_neigh() { # NS IP MAC: up to 5 s for the kernel in NS to map IP to MAC
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(mg_neigh_mac "$1" eth0 "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
mg_expect "mg-client learned 198.18.1.1 is-at $fab_mac from gratuitous ARP" \
	wait_neigh mg-client "$MG_GW_FABRIC_IP" "$fab_mac"
mg_expect "mg-backend learned 198.18.2.1 is-at $loc_mac from gratuitous ARP" \
	wait_neigh mg-backend "$MG_GW_LOCAL_IP" "$loc_mac"
garp=$(mg_stat "$MG_PREFIX" slowpath.arp_gratuitous_sent)
mg_expect "slowpath.arp_gratuitous_sent >= 2 (got $garp)" [ "$garp" -ge 2 ]

# 2. Resolution: after a flush, the peers ask and get the port's MAC.
answered0=$(mg_stat "$MG_PREFIX" slowpath.arp_requests_answered)
for ns in mg-client mg-backend; do
	ip -n "$ns" neigh flush dev eth0
done
# (200 ms apart, 3 s to answer: the first echo waits in the kernel's queue
# while ARP resolves.)
mg_expect "mg-client reaches 198.18.1.1 after a neighbour flush" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 3 -i 0.2 -W 3
mg_expect "mg-backend reaches 198.18.2.1 after a neighbour flush" \
	mg_ping mg-backend "$MG_GW_LOCAL_IP" 3 -i 0.2 -W 3
mg_expect_eq "mg-client's entry for 198.18.1.1" "$fab_mac" \
	"$(mg_neigh_mac mg-client eth0 "$MG_GW_FABRIC_IP")"
mg_expect_eq "mg-backend's entry for 198.18.2.1" "$loc_mac" \
	"$(mg_neigh_mac mg-backend eth0 "$MG_GW_LOCAL_IP")"
answered=$(( $(mg_stat "$MG_PREFIX" slowpath.arp_requests_answered) - answered0 ))
mg_expect "slowpath.arp_requests_answered grew by >= 2 (got $answered)" [ "$answered" -ge 2 ]

# 3. The gateway learned its peers (from their requests).
neigh=$(mg_ctl "$MG_PREFIX" neighbours --json | tr 'A-F' 'a-f')
mg_log "meshgw neighbours: $neigh"
mg_expect "meshgw's table maps 198.18.1.2 to $client_mac on fabric" \
	grep -q "198.18.1.2 $client_mac fabric" <<<"$neigh"
mg_expect "meshgw's table maps 198.18.2.2 to $backend_mac on local" \
	grep -q "198.18.2.2 $backend_mac local" <<<"$neigh"

# 4. A request for an address on the subnet that is not the gateway's is not
#    answered (the kernel's 3 broadcast probes are counted as arp_not_ours).
not_ours0=$(mg_drop "$MG_PREFIX" arp_not_ours)
if ip netns exec mg-client ping -n -q -c 1 -W 2 198.18.1.77 >/dev/null 2>&1; then
	mg_expect "nobody answers for 198.18.1.77" false
fi
mg_expect_eq "mg-client's entry for 198.18.1.77 (none)" "" \
	"$(mg_neigh_mac mg-client eth0 198.18.1.77)"
not_ours=$(( $(mg_drop "$MG_PREFIX" arp_not_ours) - not_ours0 ))
mg_expect "drops.arp_not_ours grew (got +$not_ours)" [ "$not_ours" -ge 1 ]
mg_finish
