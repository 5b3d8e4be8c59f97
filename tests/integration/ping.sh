#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# meshgw answers ICMP echo on both its ports, 100 out of 100, and counts it.
#
#  mg-client 198.18.1.2 --ping--> [br0] --> fab0 198.18.1.1  meshgw (mg-gw)
#  mg-backend 198.18.2.2 --ping----------> loc0 198.18.2.1  meshgw (mg-gw)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-ping
trap mg_cleanup EXIT

mg_start_gateway "$MG_ROOT/conf/demo/gateway.conf" "$MG_PREFIX"

replied0=$(mg_stat "$MG_PREFIX" slowpath.icmp_echo_replied)
fab_tx0=$(mg_stat "$MG_PREFIX" port.fabric.tx_packets)
loc_tx0=$(mg_stat "$MG_PREFIX" port.local.tx_packets)

mg_expect "100/100 echo replies from 198.18.1.1 to mg-client" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 100
mg_expect "100/100 echo replies from 198.18.2.1 to mg-backend" \
	mg_ping mg-backend "$MG_GW_LOCAL_IP" 100
# Full-size frames (1500-byte IP packets) come back whole too.
mg_expect "10/10 full-MTU echo replies (1472-byte payload) to mg-client" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 10 -s 1472 -M do

replied=$(( $(mg_stat "$MG_PREFIX" slowpath.icmp_echo_replied) - replied0 ))
fab_tx=$(( $(mg_stat "$MG_PREFIX" port.fabric.tx_packets) - fab_tx0 ))
loc_tx=$(( $(mg_stat "$MG_PREFIX" port.local.tx_packets) - loc_tx0 ))
mg_expect_eq "slowpath.icmp_echo_replied increase" 210 "$replied"
mg_expect "port.fabric.tx_packets grew by >= 110 (got $fab_tx)" [ "$fab_tx" -ge 110 ]
mg_expect "port.local.tx_packets grew by >= 100 (got $loc_tx)" [ "$loc_tx" -ge 100 ]
mg_expect_eq "port.fabric.rx_missed" 0 "$(mg_stat "$MG_PREFIX" port.fabric.rx_missed)"
mg_finish
