#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# SIGTERM and SIGINT stop meshgw cleanly: exit 0 within 5 s, ports released, so
# a new meshgw takes the same veths at once and answers ping.
#
#  mg-client --ping--> [br0] --> fab0 (mg-gw): meshgw #a --SIGTERM--> exit 0
#                                             meshgw #b (same fab0) --SIGINT--> exit 0
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-life
trap mg_cleanup EXIT
conf=$MG_ROOT/conf/demo/gateway.conf

# stop_with SIG PREFIX PID: send SIG, expect exit code 0 within 5 s.
stop_with() {
	local t0=$SECONDS rc
	kill "-$1" "$3"
	rc=$(mg_wait_exit "$2" 5) || rc="none (still running after 5 s)"
	mg_expect_eq "meshgw exit code after SIG$1" 0 "$rc"
	mg_log "stopped in about $((SECONDS - t0)) s"
	mg_expect "meshgw logged its stop" grep -q "stopping" "$MG_LOG_DIR/$2.log"
}

mg_start_gateway "$conf" mgt-life-a
mg_expect "first meshgw answers ping" mg_ping mg-client "$MG_GW_FABRIC_IP" 5
stop_with TERM mgt-life-a "$MG_GW_PID"
mg_expect "nothing left in mg-gw" [ -z "$(ip netns pids mg-gw)" ]

mg_start_gateway "$conf" mgt-life-b
mg_expect "second meshgw on the same veths answers ping" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 5
mg_expect "and on the local port" mg_ping mg-backend "$MG_GW_LOCAL_IP" 5
stop_with INT mgt-life-b "$MG_GW_PID"
mg_finish
