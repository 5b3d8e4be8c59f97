#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The standard test topology (DESIGN "The standard test topology"): six network
# namespaces, one bridge, five veth pairs. Tests, the demo and the benchmarks use it.
#
#                            netns mg-fabric (no IP)
#                          +-----------------------+
#  netns mg-client         |         br0           |
#   eth0 198.18.1.2/24 ---------- c0 --+-- g1 ---------- fab0  netns mg-gw  (meshgw #1)
#                          |           +-- g2 ---------- fab0  netns mg-gw2 (meshgw #2)
#                          +-----------------------+
#
#  netns mg-gw   loc0 ---------------------- eth0 198.18.2.2/24  netns mg-backend
#  netns mg-gw2  loc0 ---------------------- eth0 198.18.3.2/24  netns mg-client2
#
#  meshgw #1 owns fab0 = 198.18.1.1 ("fabric") and loc0 = 198.18.2.1 ("local");
#  meshgw #2 owns fab0 = 198.18.1.3 and loc0 = 198.18.3.1. Those addresses live in
#  meshgw's gateway.conf only: mg-gw and mg-gw2 have no kernel IP (and no IPv6), so
#  the kernel never answers for a gateway; meshgw reaches fab0/loc0 through
#  af_xdp (or af_packet) vdevs.
#
#  All peers sit on the gateway's subnet, so issue 3's tests need no routes. A
#  later chained test (mg-client2 -> gw2 -> fabric -> gw -> backend) gives the
#  peers a default route through their gateway: `ip -n mg-client2 route add
#  default via 198.18.3.1` and `ip -n mg-backend route add default via 198.18.2.1`.
#
#  Offloads are off on both ends of every veth: the kernel then puts real
#  checksums in every frame, which meshgw checks in software, never hands
#  meshgw a TSO/GRO super-frame, and keeps VLAN tags inside the frame. The
#  bridge does not call netfilter (br_netfilter would drop malformed IPv4 and
#  reassemble fragments before the gateway saw them). IPv6 is off everywhere, so no router or MLD
#  chatter reaches the gateways and drop counters count only what a test sent.
#  MAC addresses are fixed (02:00:c6:12:<subnet>:<host>) so runs are reproducible.
#
# Usage: tests/topo.sh up|down|status
#   up      make the topology (idempotent: a complete one is left alone, a partial
#           one is removed and made again)
#   down    remove it: only the mg-* namespaces listed here, after ending the
#           processes still running inside them (SIGTERM, then SIGKILL after 5 s)
#   status  exit 0 if the topology is complete, print what is missing otherwise
set -euo pipefail

NAMESPACES=(mg-fabric mg-client mg-gw mg-backend mg-gw2 mg-client2)

# A helper for the fabric namespace, as in the tests.
fabric() { ip netns exec mg-fabric "$@"; }

die() { echo "topo.sh: $*" >&2; exit 1; }

ns_exists() { [ -e "/run/netns/$1" ]; }

# offloads_off NS IF: no checksum offload, no segmentation offload, no VLAN tag
# offload, either way. With VLAN offload on, a tag travels beside the frame in
# the skb, and an XDP program (af_xdp) on the far end would see the frame
# without it.
offloads_off() {
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off \
		rxvlan off txvlan off rx-vlan-stag-hw-parse off \
		tx-vlan-stag-hw-insert off \
		>/dev/null 2>&1 || echo "topo.sh: warning: ethtool -K $2 in $1 failed" >&2
}

missing() {
	local ns
	for ns in "${NAMESPACES[@]}"; do
		ns_exists "$ns" || echo "namespace $ns"
	done
	ns_exists mg-fabric && { ip -n mg-fabric link show br0 >/dev/null 2>&1 || echo "br0 in mg-fabric"; }
	ns_exists mg-gw && for l in fab0 loc0; do
		ip -n mg-gw link show "$l" >/dev/null 2>&1 || echo "$l in mg-gw"
	done
	ns_exists mg-gw2 && for l in fab0 loc0; do
		ip -n mg-gw2 link show "$l" >/dev/null 2>&1 || echo "$l in mg-gw2"
	done
	for ns in mg-client mg-backend mg-client2; do
		ns_exists "$ns" && { ip -n "$ns" link show eth0 >/dev/null 2>&1 || echo "eth0 in $ns"; }
	done
	return 0
}

# The links, one `ip -batch` per namespace: about 30 ms an ip process here,
# and the 45 commands of the topology made `up` take 1.5-2.5 s. Each batch
# stops at its first error (set -e then ends the script).
# batch NS: the commands on stdin in namespace NS.
batch() { ip -n "$1" -batch -; }

up() {
	if [ -z "$(missing)" ]; then
		echo "topology already up"
		return 0
	fi
	down
	local ns l
	printf 'netns add %s\n' "${NAMESPACES[@]}" | ip -batch -
	# IPv6 off before any link exists in a namespace, so new links inherit
	# it through "default".
	for ns in "${NAMESPACES[@]}"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
	# br_netfilter, where loaded, validates and defragments IPv4 on the
	# bridge: frames with a bad header checksum or length would never reach
	# the gateway and fragments would arrive reassembled. The gateway must
	# see the wire as sent.
	fabric sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-ip6tables=0 \
		net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true

	# A plain learning bridge: no STP (no BPDUs, no listening delay), no
	# multicast snooping; it floods unknown unicast, which the L2 tests rely
	# on. Veth pairs: mg-client, mg-gw and mg-gw2 on it.
	batch mg-fabric <<-EOF
		link set lo up
		link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
		link set br0 up
		link add c0 address 02:00:c6:12:fe:02 type veth peer name eth0 address 02:00:c6:12:01:02 netns mg-client
		link add g1 address 02:00:c6:12:fe:01 type veth peer name fab0 address 02:00:c6:12:01:01 netns mg-gw
		link add g2 address 02:00:c6:12:fe:03 type veth peer name fab0 address 02:00:c6:12:01:03 netns mg-gw2
		link set c0 up
		link set g1 up
		link set g2 up
		link set c0 master br0
		link set g1 master br0
		link set g2 master br0
	EOF
	# Each gateway's local side: mg-backend behind mg-gw, mg-client2 behind mg-gw2.
	batch mg-gw <<-EOF
		link set lo up
		link add loc0 address 02:00:c6:12:02:01 type veth peer name eth0 address 02:00:c6:12:02:02 netns mg-backend
		link set fab0 up
		link set loc0 up
	EOF
	batch mg-gw2 <<-EOF
		link set lo up
		link add loc0 address 02:00:c6:12:03:01 type veth peer name eth0 address 02:00:c6:12:03:02 netns mg-client2
		link set fab0 up
		link set loc0 up
	EOF
	# The peers and their addresses.
	printf 'link set lo up\nlink set eth0 up\naddr add 198.18.1.2/24 dev eth0\n' | batch mg-client
	printf 'link set lo up\nlink set eth0 up\naddr add 198.18.2.2/24 dev eth0\n' | batch mg-backend
	printf 'link set lo up\nlink set eth0 up\naddr add 198.18.3.2/24 dev eth0\n' | batch mg-client2
	# Offloads off on both ends of every veth (IPv6 is off: nothing is sent
	# on these links before a test does).
	for l in mg-fabric:c0 mg-fabric:g1 mg-fabric:g2 mg-client:eth0 mg-gw:fab0 mg-gw:loc0 \
		mg-gw2:fab0 mg-gw2:loc0 mg-backend:eth0 mg-client2:eth0; do
		offloads_off "${l%%:*}" "${l#*:}"
	done
	echo "topology up: ${NAMESPACES[*]}"
}

# end_processes NS: processes left in a namespace keep its links alive after
# `ip netns del`; end them by pid (only those inside our own namespaces).
end_processes() {
	local pids i
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	[ -n "$pids" ] || return 0
	echo "topo.sh: ending processes in $1: $pids" >&2
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pids=$(ip netns pids "$1" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	kill -KILL $pids 2>/dev/null || true
}

down() {
	local ns
	for ns in "${NAMESPACES[@]}"; do
		ns_exists "$ns" || continue
		end_processes "$ns"
		ip netns del "$ns"
	done
}

status() {
	local m
	m=$(missing)
	if [ -z "$m" ]; then
		echo "topology up"
		return 0
	fi
	echo "topology not complete; missing:"
	echo "$m" | sed 's/^/  /'
	return 1
}

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
case "${1:-}" in
up) up ;;
down) down; echo "topology down" ;;
status) status ;;
*) echo "usage: $0 up|down|status" >&2; exit 64 ;;
esac
