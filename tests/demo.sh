#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The demo (`make demo`): the standard topology, one gateway, pings from both
# sides, the gateway's own view of it through meshctl, a clean stop.
#
#  netns mg-client 198.18.1.2 --+
#                               +-- br0 (mg-fabric) -- fab0  meshgw (mg-gw)  198.18.1.1 "fabric"
#                                                      loc0  meshgw (mg-gw)  198.18.2.1 "local"
#  netns mg-backend 198.18.2.2 ----------------------- eth0
#
# Later issues extend it with mTLS between the gateways.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mg_need_root
mg_need_bins
mg_lock

PREFIX=meshgw-demo
CONF=$MG_ROOT/conf/demo/gateway.conf
export MG_LOG_DIR=${MG_LOG_DIR:-/tmp/meshgw-demo}

cleanup() {
	local rc=$?
	step "stop: SIGTERM to meshgw, topology down"
	mg_stop_gateway "${MG_GW_PID:-}" "$PREFIX"
	[ -z "$(mg_gateway_rc "$PREFIX")" ] || echo "meshgw exited with $(mg_gateway_rc "$PREFIX")"
	"$MG_ROOT/tests/topo.sh" down
	if [ "$rc" -eq 0 ]; then
		echo "demo: OK"
	else
		echo "demo: FAILED (gateway log: $MG_LOG_DIR/$PREFIX.log)"
	fi
	exit "$rc"
}
trap cleanup EXIT

n=0
step() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }

step "topology: tests/topo.sh up"
"$MG_ROOT/tests/topo.sh" down >/dev/null
"$MG_ROOT/tests/topo.sh" up

step "gateway: tests/run-gateway.sh ${CONF#"$MG_ROOT"/} $PREFIX"
MG_GW_PID=$("$MG_ROOT/tests/run-gateway.sh" "$CONF" "$PREFIX")
echo "meshgw pid $MG_GW_PID, EAL file prefix $PREFIX, log $MG_LOG_DIR/$PREFIX.log"

fail=0
step "ping the gateway's fabric address from mg-client"
ip netns exec mg-client ping -c 5 -i 0.2 -W 1 "$MG_GW_FABRIC_IP" || fail=1
step "ping the gateway's local address from mg-backend"
ip netns exec mg-backend ping -c 5 -i 0.2 -W 1 "$MG_GW_LOCAL_IP" || fail=1

step "meshctl -f $PREFIX status"
mg_ctl "$PREFIX" status
step "meshctl -f $PREFIX stats"
mg_ctl "$PREFIX" stats
step "meshctl -f $PREFIX drops"
drops=$(mg_ctl "$PREFIX" drops)
echo "${drops:-(nothing dropped)}"
step "meshctl -f $PREFIX neighbours"
mg_ctl "$PREFIX" neighbours
exit "$fail"
