# SPDX-License-Identifier: BSD-3-Clause
#
# The L4 path under test, shared by the tcp_*.sh scripts (sourced after
# tests/lib.sh, mg_test_setup and a `tmp` directory):
#   MG_L4=meshgw (default): meshgw's `tcp` listener web 198.18.1.1:8080 -> 198.18.2.2:80;
#   MG_L4=linux: the same addresses on mg-gw's kernel and tcp_tool.py's proxy there,
#   the reference the scripts were validated against before meshgw's proxy existed.
# Provides l4_bg, l4_up [FAULT_GROUP], l4_wait_port, l4_down and l4_tcp KEY.
# For meshgw: L4_BACKLOG (listener backlog), L4_TCP (a `tcp` group for
# gateway.conf), L4_AF_PACKET (non-empty: af_packet ports instead of af_xdp).
MG_L4=${MG_L4:-meshgw}
L4_VIP=$MG_GW_FABRIC_IP:8080
TOOL=$MG_ROOT/tests/integration/tcp_tool.py
# shellcheck source=lib_policy.sh
. "$MG_ROOT/tests/integration/lib_policy.sh"
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
			${L4_AF_PACKET:+-e 's/net_af_xdp\([01]\),/net_af_packet\1,/'} \
			"$MG_ROOT/conf/demo/gateway.conf" >"$tmp/gateway.base"
		lp_setup "$tmp/policy"
		lp_conf "$tmp/gateway.base" "$tmp/gateway.conf"
		cat >>"$tmp/gateway.conf" <<CONF
listeners = ( { name = "web"; type = "tcp"; listen = "$L4_VIP"; upstream = "$MG_BACKEND_IP:80";
                ${L4_BACKLOG:+backlog = $L4_BACKLOG;} } );
${L4_TCP:+tcp = $L4_TCP;}
CONF
		mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"
		L4_PROXY_PIDS=("$MG_GW_PID")
		# Default deny: the client's address must map to an allowed workload.
		lp_push "$MG_ROOT/tests/data/policy/l4.conf" 1 | grep -q '^accepted' ||
			mg_die "the L4 policy was not accepted"
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
