#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 10 000 TCP SYNs to ports with no listener and 10 000 garbage frames, all sent
# from mg-client; each must be dropped under its own reason, counted exactly,
# and the gateway must still answer ping 100/100 afterwards. The gateway runs
# without listeners, so no TCP stack runs and the worker drops every SYN as
# tcp_no_listener (with listeners, the stack answers such a SYN with a RST:
# tests/integration/tcp_conformance.sh).
#
#  mg-client eth0 --raw AF_PACKET (send_frames.py)--> [br0] --> fab0 meshgw (mg-gw)
#                                                    meshctl drops --json: +N per reason
#
# send_frames.py writes what it sent as {reason: count}; the test compares that
# with the difference of /meshgw/drops and the TCP stack's drop reasons in
# /meshgw/tcp ("tcp:drop/<reason>") before and after. Every other reason must
# stay where it was: IPv6 is off in the topology and ARP is not a drop, so
# nothing but what we sent reaches the counters.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-flood
trap mg_cleanup EXIT

tmp=$(mktemp -d /tmp/mgt-flood.XXXXXX)
test_cleanup() { rm -rf "$tmp"; }

# The demo gateway without its listeners: every port here has none.
sed '/^listeners = (/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/gw.conf"
mg_start_gateway "$tmp/gw.conf" "$MG_PREFIX"
gw_mac=$(mg_mac mg-gw fab0)
# Resolve both ways first: the bridge learns the gateway's MAC and no ARP
# happens during the flood.
mg_expect "ping before the flood" mg_ping mg-client "$MG_GW_FABRIC_IP" 3

# drops_json: /meshgw/drops plus the TCP stack's drop reasons, as one object.
drops_json() {
	"$MG_PYTHON" -c '
import json, subprocess, sys
run = lambda *a: json.loads(subprocess.run([sys.argv[1], "-f", sys.argv[2], *a, "--json"],
                                           check=True, capture_output=True, text=True).stdout)
d = run("drops")
d.update({"tcp:" + k: v for k, v in run("tcp").items() if k.startswith("drop/")})
print(json.dumps(d))' "$MESHCTL" "$MG_PREFIX"
}
drops_json >"$tmp/before.json"
missed0=$(mg_stat "$MG_PREFIX" port.fabric.rx_missed)

send() { # KIND: 10 000 frames of that kind, at most 20 000/s and 256 ahead of the gateway
	ip netns exec mg-client "$MG_PYTHON" "$MG_ROOT/tests/integration/send_frames.py" \
		"$1" --count 10000 --rate 20000 --gw-mac "$gw_mac" \
		--gateway-prefix "$MG_PREFIX" --expect "$tmp/want-$1.json"
}
send syn
send garbage

# compare.py BEFORE WANT...: poll /meshgw/drops (up to 10 s, until no reason is
# short of what was sent, then 0.5 s more so that an over-count shows too) and
# exit 0 when every reason moved by exactly what was sent.
cat >"$tmp/compare.py" <<'PY'
import json, subprocess, sys, time
meshctl, prefix, before_path = sys.argv[1:4]
before = json.load(open(before_path))
want = {}
for p in sys.argv[4:]:
    for k, v in json.load(open(p)).items():
        want[k] = want.get(k, 0) + v
def drops():
    out = subprocess.run(["bash", "-c", "drops_json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)
deadline = time.monotonic() + 10
while True:
    after = drops()
    short = [k for k, v in want.items() if after.get(k, 0) - before.get(k, 0) < v]
    if not short or time.monotonic() > deadline:
        break
    time.sleep(0.1)
time.sleep(0.5)
after = drops()
bad = 0
for k in sorted(set(before) | set(after) | set(want)):
    got = after.get(k, 0) - before.get(k, 0)
    exp = want.get(k, 0)
    if k not in after:
        print("NOT OK: %-16s not reported by /meshgw/drops or /meshgw/tcp" % k); bad += 1
    elif got != exp:
        print("NOT OK: %-16s want +%d, got +%d" % (k, exp, got)); bad += 1
    elif exp:
        print("ok:     %-16s +%d" % (k, got))
sys.exit(1 if bad else 0)
PY
export -f drops_json
export MESHCTL MG_PREFIX MG_PYTHON
mg_expect "every drop reason moved by exactly what was sent" \
	"$MG_PYTHON" "$tmp/compare.py" "$MESHCTL" "$MG_PREFIX" "$tmp/before.json" \
	"$tmp"/want-*.json
mg_expect_eq "port.fabric.rx_missed increase (receive ring overflow)" 0 \
	$(( $(mg_stat "$MG_PREFIX" port.fabric.rx_missed) - missed0 ))

mg_expect "100/100 echo replies after the flood" \
	mg_ping mg-client "$MG_GW_FABRIC_IP" 100
mg_finish
