# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# What the benchmarks that put meshgw beside kernel proxies share (sourced by
# bench/l4.sh and bench/mtls.sh after tests/lib.sh): the kernel addresses the
# peers (nginx, HAProxy) listen on in mg-gw, background processes, waiting for
# a port. bench_begin NAME sets up the run and the cleanup that ends it all.

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

# bench_begin NAME: the global lock, the topology (brought up if it was not,
# and then taken down at the end), a scratch folder in $tmp (kept with
# MG_BENCH_KEEP=1) that holds the gateways' logs, and an EXIT trap that ends
# the background processes, the gateway in GW_PID, the kernel addresses and
# what else was set up.
bench_begin() {
	mg_lock
	own_topo=0
	if ! mg_topo_is_up; then
		mg_topo_up
		own_topo=1
	fi
	tmp=$(mktemp -d "/tmp/mgb-$1.XXXXXX")
	MG_LOG_DIR=$tmp # the gateway's log and exit code live with the run
	BG=()           # background processes to end (peers, proxies)
	GW_PID=
	KADDR=0
	trap bench_cleanup EXIT
}
bench_cleanup() {
	local rc=$?
	bg_end
	[ -z "$GW_PID" ] || mg_stop_gateway "$GW_PID" "$PREFIX"
	kaddr_del
	[ "$own_topo" = 0 ] || mg_topo_down || true
	[ -n "${MG_BENCH_KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
