#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Neighbours an operator can pin, and a table no one sender can drive.
# gateway.conf pins the local workload 198.18.2.2 to mg-backend's MAC; then,
# with scapy (send_frames.py arp):
#   1. spoofed ARP replies and requests from the local link claiming
#      198.18.2.2 is-at another MAC, in a burst and then steadily while the
#      proxy carries a transfer: dropped, counted
#      (slowpath.arp_pinned_refused), audited at most 5 records a second with
#      the rest summed in one neigh.pin_conflict_suppressed record; the table
#      keeps the pinned MAC and the L4 proxy still reaches the backend;
#   2. unsolicited ARP replies and gratuitous ARP from the fabric create no
#      entry (slowpath.arp_unsolicited_ignored, drops.arp_not_ours);
#   3. one MAC asking for the gateway from 40 addresses holds 4 entries
#      (slowpath.arp_sender_capped counts the rest); the client's own entry stays.
#
#  mg-client eth0 198.18.1.2 ── [br0 mg-fabric] ── fab0 ┐
#    (scapy: unsolicited replies, gratuitous, 40-address sweep)  meshgw (mg-gw)
#  mg-backend eth0 198.18.2.2 ─────────────────── loc0 ┘   listener web
#    (echo server :80; scapy: spoofed replies for 198.18.2.2)  198.18.1.1:8080
#                                                             -> 198.18.2.2:80
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_policy.sh"
mg_test_setup mgt-arppin
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-arppin.XXXXXX)
TOOL=$MG_ROOT/tests/integration/tcp_tool.py
FRAMES=$MG_ROOT/tests/integration/send_frames.py
ECHO_PID=
test_cleanup() {
	[ -z "$ECHO_PID" ] || kill -TERM "$ECHO_PID" 2>/dev/null || true
	# The gateway writes its last audit checkpoint into $tmp as it stops, so it
	# stops first (its counters go to the log first if a check failed).
	if [ -n "${MG_GW_PID:-}" ]; then
		[ "$MG_FAILS" = 0 ] || mg_ctl "$MG_PREFIX" stats 2>&1 | grep -v ' 0$' >&2 || true
		mg_stop_gateway "$MG_GW_PID" "$MG_PREFIX"
	fi
	rm -rf "$tmp"
}

fab_mac=$(mg_mac mg-gw fab0)
loc_mac=$(mg_mac mg-gw loc0)
client_mac=$(mg_mac mg-client eth0)
backend_mac=$(mg_mac mg-backend eth0)
FAKE=02:00:00:00:66:66

# The demo conf, its state in $tmp (a fresh audit log), 198.18.2.2 pinned on "local".
sed -e "s|/run/meshgw-test/gw1|$tmp/state|g" \
	-e "s|address = \"198.18.2.1/24\";|&\n    pinned_neighbours = ( { ip = \"$MG_BACKEND_IP\"; mac = \"$backend_mac\"; } );|" \
	"$MG_ROOT/conf/demo/gateway.conf" >"$tmp/gateway.base"
# Default deny: a snapshot lets mg-client through the listener (lib_policy.sh).
lp_setup "$tmp/lp"
lp_conf "$tmp/gateway.base" "$tmp/gateway.conf"
mg_expect "the conf pins 198.18.2.2" grep -q "pinned_neighbours" "$tmp/gateway.conf"
ip netns exec mg-backend "$MG_PYTHON" "$TOOL" echo-server --bind "$MG_BACKEND_IP" --port 80 9>&- &
ECHO_PID=$!
mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"
mg_expect "the L4 policy is accepted" lp_push "$MG_ROOT/tests/data/policy/l4.conf" 1
AUDIT=$tmp/lp/state/audit.log

neigh() { mg_ctl "$MG_PREFIX" neighbours --json | tr 'A-F' 'a-f'; }
stat() { mg_stat "$MG_PREFIX" "$1"; }
# frames NS PORT ARGS...: send_frames.py arp from NS, paced against PORT's counter.
frames() {
	local ns=$1 port=$2
	shift 2
	ip netns exec "$ns" "$MG_PYTHON" "$FRAMES" arp --rate 1000 \
		--gateway-prefix "$MG_PREFIX" --gateway-port "$port" "$@"
}
proxy_ok() { # 64 KiB through the listener to the backend and back
	client "$MG_PYTHON" "$TOOL" transfer --to "$MG_GW_FABRIC_IP:8080" --size 65536 \
		--timeout 10 >"$tmp/transfer.json" 2>&1
}
# wait_stat KEY WANT: up to 5 s for a counter to reach WANT; prints its value.
wait_stat() {
	local i v
	for ((i = 0; i < 50; i++)); do
		v=$(stat "$1")
		[ "$v" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$v"
}

# 0. The pin is in the table from the start and the proxy uses it.
mg_expect "the table shows 198.18.2.2 pinned" grep -q "$MG_BACKEND_IP $backend_mac local pinned" <<<"$(neigh)"
mg_expect_eq "neighbours.pinned" 1 "$(stat neighbours.pinned)"
mg_expect "the proxy reaches the backend" proxy_ok

# 1. Spoofed claims for the pinned address, from the local link: a burst, then
#    steadily while the proxy carries transfers (a real host's own
#    ARP would repair a learned entry between two spoofs; a steady spoofer wins).
records0=$(grep -c ' neigh.pin_conflict ' "$AUDIT" || true)
spoof() { # OP COUNT [ARGS]: claims that 198.18.2.2 is at $FAKE
	local op=$1 count=$2
	shift 2
	frames mg-backend local --arp-op "$op" --arp-psrc "$MG_BACKEND_IP" --arp-hwsrc "$FAKE" \
		--gw-mac "$loc_mac" --src "$MG_BACKEND_IP" --dst "$MG_GW_LOCAL_IP" --count "$count" "$@"
}
spoof reply 20
spoof request 10
sleep 0.5
mg_expect "right after the burst, 198.18.2.2 is still at the pinned MAC" \
	grep -q "$MG_BACKEND_IP $backend_mac local pinned" <<<"$(neigh)"
# 20 rounds of 3 replies (each round a scapy start, a few a second).
(for ((i = 0; i < 20; i++)); do spoof reply 3 2>/dev/null; done) &
spoof_pid=$!
sleep 1
mg_expect "the proxy reaches the backend (pinned MAC) under steady spoofing" proxy_ok
sleep 1
mg_expect "... and again" proxy_ok
wait "$spoof_pid" || true
mg_expect_eq "slowpath.arp_pinned_refused" 90 "$(wait_stat slowpath.arp_pinned_refused 90)"
mg_expect "the table still maps 198.18.2.2 to the pinned MAC" \
	grep -q "$MG_BACKEND_IP $backend_mac local pinned" <<<"$(neigh)"
mg_expect "the spoofed MAC is nowhere in the table" bash -c "! grep -q $FAKE <<<'$(neigh)'"
sleep 2 # the summary of suppressed records is written once its second is over
records=$(( $(grep -c ' neigh.pin_conflict ' "$AUDIT" || true) - records0 ))
summed=$(sed -n 's/.* neigh.pin_conflict_suppressed .*count=\([0-9]*\).*/\1/p' "$AUDIT" |
	awk '{ s += $1 } END { print s + 0 }')
suppressed=$(stat slowpath.arp_pin_audit_suppressed)
mg_log "audit: $records pin_conflict records, $summed summed in suppressed records; counter $suppressed"
grep ' neigh.pin_conflict' "$AUDIT" | head -n 2 >&2 || true
mg_expect "some conflicts audited one by one (got $records)" [ "$records" -ge 5 ]
mg_expect "no more than 5 a second: fewer records than frames (got $records)" [ "$records" -lt 90 ]
mg_expect_eq "every conflict is a record or counted in a summary" 90 $((records + summed))
mg_expect_eq "slowpath.arp_pin_audit_suppressed matches the summaries" "$summed" "$suppressed"
mg_expect "a record names the port, the address and both MACs" \
	grep -qi "neigh.pin_conflict .*port=local ip=$MG_BACKEND_IP claimed_mac=$FAKE pinned_mac=$backend_mac" "$AUDIT"
mg_expect "the audit log verifies" "$MESHCTL" audit verify "$AUDIT"

# 2. Unsolicited replies and gratuitous ARP from the fabric create nothing.
unsol0=$(stat slowpath.arp_unsolicited_ignored)
notours0=$(mg_drop "$MG_PREFIX" arp_not_ours)
frames mg-client fabric --arp-op reply --arp-psrc 198.18.1.50 --arp-hwsrc 02:00:00:00:50:50 \
	--gw-mac "$fab_mac" --count 10
frames mg-client fabric --arp-op gratuitous --arp-psrc 198.18.1.51 --arp-hwsrc 02:00:00:00:51:51 \
	--gw-mac "$fab_mac" --count 10
mg_expect_eq "slowpath.arp_unsolicited_ignored grew by" 10 \
	$(( $(wait_stat slowpath.arp_unsolicited_ignored $((unsol0 + 10))) - unsol0 ))
mg_expect_eq "drops.arp_not_ours grew by (gratuitous)" 10 \
	$(( $(mg_drop "$MG_PREFIX" arp_not_ours) - notours0 ))
table=$(neigh)
mg_expect "no entry for 198.18.1.50 (unsolicited reply)" bash -c "! grep -q '198.18.1.50 ' <<<'$table'"
mg_expect "no entry for 198.18.1.51 (gratuitous)" bash -c "! grep -q '198.18.1.51 ' <<<'$table'"

# 3. One sender asking from 40 addresses: 4 entries, the client's own stays.
ip -n mg-client neigh flush dev eth0 # so that its kernel asks, and the gateway learns it
mg_expect "mg-client reaches 198.18.1.1 (the gateway learns it)" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 3 -i 0.2 -W 3
capped0=$(stat slowpath.arp_sender_capped)
frames mg-client fabric --arp-op request --arp-psrc 198.18.1.100 --arp-sweep \
	--arp-hwsrc 02:00:00:00:77:77 --gw-mac "$fab_mac" --count 40
mg_expect_eq "slowpath.arp_sender_capped grew by" 36 \
	$(( $(wait_stat slowpath.arp_sender_capped $((capped0 + 36))) - capped0 ))
table=$(neigh)
mg_log "meshgw neighbours: $table"
mg_expect_eq "entries held by 02:00:00:00:77:77" 4 "$(grep -o '02:00:00:00:77:77' <<<"$table" | wc -l)"
mg_expect "the client's own entry is still there" grep -q "198.18.1.2 $client_mac fabric" <<<"$table"
mg_expect "mg-client still reaches 198.18.1.1" mg_ping mg-client "$MG_GW_FABRIC_IP" 3 -i 0.2 -W 3
mg_finish
