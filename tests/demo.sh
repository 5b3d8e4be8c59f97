#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The demo (`make demo`): the standard topology, one gateway, pings from both
# sides, the gateway's own view of it through meshctl; then signed policy
# snapshots: 2-of-3 signing, a push, a rollback and a tampered snapshot refused,
# the audit chain verified and the node attested; a 10 MB download through the
# L4 proxy (curl in mg-client, Python's http.server in mg-backend); a clean stop.
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
export MG_LOG_DIR=${MG_LOG_DIR:-/tmp/meshgw-demo}
# The demo's own copy of conf/demo/gateway.conf, trusting three signers it makes.
WORK=/run/meshgw-demo
rm -rf "$WORK"
mkdir -p -m 0700 "$WORK/keys" "$WORK/state"
CONF=$WORK/gateway.conf
SOCK=$WORK/control.sock

HTTP_PID=
cleanup() {
	local rc=$?
	[ -z "$HTTP_PID" ] || kill "$HTTP_PID" 2>/dev/null || true
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

step "signers: meshctl keygen alice, bob, carol (any 2 of the 3 may sign policy)"
for k in alice bob carol; do
	printf '%-6s key id ' "$k"
	"$MESHCTL" keygen -o "$WORK/keys/$k" 2>/dev/null
done
sed -e "s|^state_dir = .*|state_dir = \"$WORK/state\";|" \
    -e "s|socket = .*|socket = \"$SOCK\";|" "$MG_ROOT/conf/demo/gateway.conf" >"$CONF"
cat >>"$CONF" <<EOF
trust = { keys = [ "$WORK/keys/alice.pub", "$WORK/keys/bob.pub", "$WORK/keys/carol.pub" ];
          threshold = 2; };
EOF
"$MESHGW" --check -c "$CONF"

step "gateway: tests/run-gateway.sh $CONF $PREFIX"
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

step "L4 proxy: curl in mg-client fetches 10 MB from mg-backend through the web listener"
mkdir -p "$WORK/www"
head -c 10485760 /dev/urandom >"$WORK/www/10m"
ip netns exec mg-backend "$MG_PYTHON" -m http.server 80 --bind "$MG_BACKEND_IP" \
	--directory "$WORK/www" 9>&- >/dev/null 2>&1 &
HTTP_PID=$!
for _ in $(seq 50); do
	ip netns exec mg-backend curl -s -o /dev/null "http://$MG_BACKEND_IP/10m" && break
	sleep 0.1
done
ip netns exec mg-client curl -sS --max-time 30 -o "$WORK/got-10m" \
	-w 'curl http://%{remote_ip}:%{remote_port}/10m: %{size_download} bytes in %{time_total} s\n' \
	"http://$MG_GW_FABRIC_IP:8080/10m" || fail=1
if [ "$(sha256sum <"$WORK/got-10m")" = "$(sha256sum <"$WORK/www/10m")" ]; then
	echo "SHA-256 of what arrived matches what the backend served"
else
	echo "demo: the download through the proxy differs"
	fail=1
fi
mg_ctl "$PREFIX" tcp | grep -E '^proxy/(accepted|closed_normal|bytes_down)|^counter/(segs_in|segs_out) '

# expect_refusal WHAT FILE: push FILE, which the gateway must refuse.
expect_refusal() {
	if "$MESHCTL" push "$2" --socket "$SOCK"; then
		echo "demo: $1 was NOT refused"
		fail=1
	fi
}
build() { # VERSION OUT SIGNER...
	local v=$1 out=$2
	shift 2
	"$MESHCTL" snapshot build "$MG_ROOT/conf/policy.conf" --version "$v" \
		--not-before "$(($(date +%s) - 60))" --ttl 30d -o "$out"
	for k in "$@"; do
		"$MESHCTL" snapshot sign "$out" --key "$WORK/keys/$k.key"
	done
}

step "policy v1: build conf/policy.conf, sign by alice and bob, verify 2-of-3, push"
build 1 "$WORK/v1.msnap" alice bob
"$MESHCTL" snapshot verify "$WORK/v1.msnap" --threshold 2 --trust "$WORK/keys/alice.pub" \
	--trust "$WORK/keys/bob.pub" --trust "$WORK/keys/carol.pub" || fail=1
"$MESHCTL" push "$WORK/v1.msnap" --socket "$SOCK" || fail=1

step "policy v2: signed by bob and carol, pushed"
build 2 "$WORK/v2.msnap" bob carol
"$MESHCTL" push "$WORK/v2.msnap" --socket "$SOCK" || fail=1
mg_ctl "$PREFIX" policy | head -12

step "rollback: v1 again is refused"
expect_refusal "rollback to v1" "$WORK/v1.msnap"

step "tampered: v3 with one payload byte changed after signing is refused"
build 3 "$WORK/v3.msnap" alice bob >/dev/null
cp "$WORK/v3.msnap" "$WORK/v3-tampered.msnap"
printf 'X' | dd of="$WORK/v3-tampered.msnap" bs=1 seek=200 conv=notrunc status=none
expect_refusal "tampered v3" "$WORK/v3-tampered.msnap"

step "one signature is not enough: v3 signed by carol alone is refused"
build 3 "$WORK/v3-one.msnap" carol >/dev/null
expect_refusal "v3 with one signature" "$WORK/v3-one.msnap"

step "meshctl audit verify (every change and refusal is on the hash chain)"
tail -n 6 "$WORK/state/audit.log" | cut -c 1-150
"$MESHCTL" audit verify "$WORK/state/audit.log" --checkpoint-key "$WORK/state/node.key.pub" || fail=1

step "meshctl attest: a report signed by the node key, checked against v2's digest"
mg_ctl "$PREFIX" attest --node-key "$WORK/state/node.key.pub" \
	--expect-snapshot "$("$MESHCTL" snapshot digest "$WORK/v2.msnap")" || fail=1
exit "$fail"
