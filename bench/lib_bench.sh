# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# What the benchmarks that put meshgw beside kernel proxies share (sourced by
# bench/l4.sh and bench/mtls.sh after tests/lib.sh): the kernel addresses the
# peers (nginx, HAProxy) listen on in mg-gw, background processes, waiting for
# a port. The caller sets BG=() and KADDR=0 and ends BG in its cleanup.

# kaddr_add / kaddr_del: meshgw's addresses on mg-gw's kernel, for the peers.
kaddr_add() {
	ip -n mg-gw addr add "$MG_GW_FABRIC_IP/24" dev fab0
	ip -n mg-gw addr add "$MG_GW_LOCAL_IP/24" dev loc0
	KADDR=1
	# The kernel proxies share mg-gw's TIME-WAIT table: without reuse and a
	# wide port range the second one pays for the first one's closed
	# connections in every connect().
	gw sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65535"
}
kaddr_del() {
	[ "$KADDR" = 1 ] || return 0
	ip -n mg-gw addr flush dev fab0 || true
	ip -n mg-gw addr flush dev loc0 || true
	KADDR=0
}

# bg NS CMD...: a background process in NS (its pid in BG and in $last).
bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" 9>&- &
	last=$!
	BG+=("$last")
}
# bg_end: end every background process bg started (SIGTERM, then reap).
bg_end() {
	local p
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
}
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_port IP PORT SECONDS: until a connect from mg-client succeeds.
wait_port() {
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt "$deadline" ]; do
		client timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
