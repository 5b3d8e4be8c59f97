#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The demo (`make demo`): the standard topology with both gateways, the dev
# PKI (conf/pki.sh) and signed policy snapshots (conf/demo/policy.conf, 2 of 3
# signers). curl in mg-client presents its SVID to meshgw #1's inbound
# listener and reaches the backend; a wrong identity is refused with its
# reason; a policy push closes a live connection; mg-client2's plaintext leaves
# meshgw #2's outbound listener as mTLS to meshgw #1, and a capture on the
# fabric sees only TLS records; both gateways check client2's HTTP requests
# one by one (an allowed and a denied one on one kept-alive connection). Then
# rollback, tampering and an under-signed
# snapshot are refused, the audit chain verifies and the node attests.
#
#  netns mg-client 198.18.1.2 --+
#                               +-- br0 (mg-fabric) -- fab0  meshgw #1 (mg-gw)   198.18.1.1
#  meshgw #2 (mg-gw2) 198.18.1.3 fab0 -+              loc0  meshgw #1           198.18.2.1
#                 198.18.3.1 loc0 -- mg-client2 198.18.3.2     mg-backend 198.18.2.2:80
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mg_need_root
mg_need_bins
mg_lock

PREFIX=meshgw-demo
export MG_LOG_DIR=${MG_LOG_DIR:-/tmp/meshgw-demo}
WORK=/run/meshgw-demo
rm -rf "$WORK"
mkdir -p -m 0700 "$WORK/keys" "$WORK/state" "$WORK/state2" "$WORK/svid"
CONF=$WORK/gateway.conf
CONF2=$WORK/gateway2.conf
SOCK=$WORK/control.sock
SOCK2=$WORK/control2.sock
PKI=$WORK/pki
S=$PKI/svid
IMAGE=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

HTTP_PID=
GW2_PID=
cleanup() {
	local rc=$?
	[ -z "$HTTP_PID" ] || kill "$HTTP_PID" 2>/dev/null || true
	step "stop: SIGTERM to both gateways, topology down"
	mg_stop_gateway "${GW2_PID:-}" "$PREFIX-2"
	mg_stop_gateway "${MG_GW_PID:-}" "$PREFIX"
	[ -z "$(mg_gateway_rc "$PREFIX")" ] || echo "meshgw #1 exited with $(mg_gateway_rc "$PREFIX")"
	"$MG_ROOT/tests/topo.sh" down
	if [ "$rc" -eq 0 ]; then
		echo "demo: OK"
	else
		echo "demo: FAILED (gateway logs: $MG_LOG_DIR/$PREFIX.log, $MG_LOG_DIR/$PREFIX-2.log)"
	fi
	exit "$rc"
}
trap cleanup EXIT

n=0
step() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }
fail=0
check() { # WHAT COMMAND...: run it; a failure fails the demo, with WHAT.
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; fail=1; fi
}

step "topology: tests/topo.sh up"
"$MG_ROOT/tests/topo.sh" down >/dev/null
"$MG_ROOT/tests/topo.sh" up

step "dev PKI: conf/pki.sh $PKI (trust domain example.org, workload SVIDs)"
"$MG_ROOT/conf/pki.sh" "$PKI"
cp "$MG_ROOT/conf/demo/policy.conf" "$WORK/policy.conf" # bundle_file: pki/... next to it
openssl x509 -in "$S/client.pem" -noout -ext subjectAltName | tail -n 1

step "signers: meshctl keygen alice, bob, carol (any 2 of the 3 may sign policy)"
for k in alice bob carol; do
	printf '%-6s key id ' "$k"
	"$MESHCTL" keygen -o "$WORK/keys/$k" 2>/dev/null
done
trust="trust = { keys = [ \"$WORK/keys/alice.pub\", \"$WORK/keys/bob.pub\", \"$WORK/keys/carol.pub\" ]; threshold = 2; };"
# gwconf IN OUT STATE SOCK LISTENERS SVIDS: a demo gateway.conf with our listeners and SVIDs.
gwconf() {
	sed -e '/^listeners[[:space:]]*=/,/^);/d' -e "s|^state_dir = .*|state_dir = \"$3\";|" \
	    -e "s|socket = .*|socket = \"$4\";|" "$1" >"$2"
	printf '%s\n%s\n%s\n' "$trust" "$5" "$6" >>"$2"
	"$MESHGW" --check -c "$2"
}
gwconf "$MG_ROOT/conf/demo/gateway.conf" "$CONF" "$WORK/state" "$SOCK" \
	"listeners = (
  { name = \"web\"; type = \"tcp\"; listen = \"$MG_GW_FABRIC_IP:8080\"; upstream = \"$MG_BACKEND_IP:80\"; },
  { name = \"web_tls\"; type = \"inbound\"; listen = \"$MG_GW_FABRIC_IP:8443\"; upstream = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"backend\"; cert = \"$S/backend.chain.pem\"; key = \"$S/backend.key\"; } );"
gwconf "$MG_ROOT/conf/demo/gateway2.conf" "$CONF2" "$WORK/state2" "$SOCK2" \
	"listeners = ( { name = \"to_backend\"; type = \"outbound\"; listen = \"198.18.3.1:80\";
                upstream = \"$MG_GW_FABRIC_IP:8443\"; service = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"client2\"; cert = \"$S/client2.chain.pem\"; key = \"$S/client2.key\"; } );"
grep -A3 '^listeners' "$CONF"

step "gateways: tests/run-gateway.sh for meshgw #1 (mg-gw) and meshgw #2 (mg-gw2)"
MG_GW_PID=$("$MG_ROOT/tests/run-gateway.sh" "$CONF" "$PREFIX")
GW2_PID=$("$MG_ROOT/tests/run-gateway.sh" "$CONF2" "$PREFIX-2")
echo "meshgw #1 pid $MG_GW_PID, meshgw #2 pid $GW2_PID, logs in $MG_LOG_DIR"

step "ping both of meshgw #1's addresses"
ip netns exec mg-client ping -c 3 -i 0.2 -W 1 "$MG_GW_FABRIC_IP" | tail -n 2 || fail=1
ip netns exec mg-backend ping -c 3 -i 0.2 -W 1 "$MG_GW_LOCAL_IP" | tail -n 2 || fail=1

step "meshctl -f $PREFIX status"
mg_ctl "$PREFIX" status

build() { # VERSION OUT POLICY SIGNER...
	local v=$1 out=$2 pol=$3 k
	shift 3
	"$MESHCTL" snapshot build "$pol" --version "$v" \
		--not-before "$(($(date +%s) - 60))" --ttl 30d -o "$out"
	for k in "$@"; do
		"$MESHCTL" snapshot sign "$out" --key "$WORK/keys/$k.key"
	done
}
expect_refusal() { # WHAT FILE: push FILE, which meshgw #1 must refuse.
	if "$MESHCTL" push "$2" --socket "$SOCK"; then
		echo "demo: $1 was NOT refused"
		fail=1
	fi
}

step "before any policy: default deny (curl through the tcp listener is reset)"
mkdir -p "$WORK/www"
head -c 10485760 /dev/urandom >"$WORK/www/10m"
mkdir -p "$WORK/www/admin"
echo "the admin page" >"$WORK/www/admin/index.html"
echo "hello" >"$WORK/www/hello.txt"
# HTTP/1.1: connections stay open between requests (the L7 step uses one).
ip netns exec mg-backend "$MG_PYTHON" -m http.server 80 --bind "$MG_BACKEND_IP" --protocol HTTP/1.1 \
	--directory "$WORK/www" 9>&- >/dev/null 2>&1 &
HTTP_PID=$!
for _ in $(seq 50); do
	ip netns exec mg-backend curl -s -o /dev/null "http://$MG_BACKEND_IP/10m" && break
	sleep 0.1
done
check "refused while no snapshot allows it" \
	bash -c "! ip netns exec mg-client curl -sS --max-time 5 -o /dev/null http://$MG_GW_FABRIC_IP:8080/10m"

step "policy v1: build conf/demo/policy.conf, sign by alice and bob, verify 2-of-3, push to both"
build 1 "$WORK/v1.msnap" "$WORK/policy.conf" alice bob
"$MESHCTL" snapshot verify "$WORK/v1.msnap" --threshold 2 --trust "$WORK/keys/alice.pub" \
	--trust "$WORK/keys/bob.pub" --trust "$WORK/keys/carol.pub" || fail=1
"$MESHCTL" push "$WORK/v1.msnap" --socket "$SOCK" || fail=1
"$MESHCTL" push "$WORK/v1.msnap" --socket "$SOCK2" || fail=1

step "L4: curl in mg-client (known by its address) fetches 10 MB through the tcp listener"
ip netns exec mg-client curl -sS --max-time 30 -o "$WORK/got-10m" \
	-w 'curl http://%{remote_ip}:%{remote_port}/10m: %{size_download} bytes in %{time_total} s\n' \
	"http://$MG_GW_FABRIC_IP:8080/10m" || fail=1
check "the 10 MB arrived intact" cmp -s "$WORK/got-10m" "$WORK/www/10m"

step "mTLS: curl in mg-client presents its SVID to the inbound listener (10 MB)"
ip netns exec mg-client curl -sS -k --max-time 30 --cert "$S/client.pem" --key "$S/client.key" \
	-o "$WORK/got-tls" -w 'curl https://%{remote_ip}:%{remote_port}/10m: %{size_download} bytes in %{time_total} s\n' \
	"https://$MG_GW_FABRIC_IP:8443/10m" || fail=1
check "the 10 MB arrived intact over mTLS" cmp -s "$WORK/got-tls" "$WORK/www/10m"
echo "the gateway presents: $(ip netns exec mg-client openssl s_client -connect "$MG_GW_FABRIC_IP:8443" \
	-CAfile "$PKI/example.org/ca.pem" -cert "$S/client.pem" -key "$S/client.key" </dev/null 2>/dev/null |
	openssl x509 -noout -ext subjectAltName | tail -n 1)"

step "a wrong identity: web's valid SVID (no rule), then an expired one, are refused"
check "web's SVID is refused" bash -c "! ip netns exec mg-client curl -sS -k --max-time 5 \
	--cert $S/web.pem --key $S/web.key -o /dev/null https://$MG_GW_FABRIC_IP:8443/10m"
check "an expired SVID is refused" bash -c "! ip netns exec mg-client curl -sS -k --max-time 5 \
	--cert $PKI/bad/expired.pem --key $PKI/bad/expired.key -o /dev/null https://$MG_GW_FABRIC_IP:8443/10m"
sleep 1.2 # the control thread writes the audit records
mg_ctl "$PREFIX" tls | grep -E '^(authz|svid_refused|handshake_error)/' | grep -v ' 0$'
grep -E ' (conn.denied|tls.handshake_failed) ' "$WORK/state/audit.log" | cut -d' ' -f3-9

step "a live connection, then policy v2 (without client-to-backend, signed by bob and carol)"
ip netns exec mg-client curl -sS -k --limit-rate 500k --max-time 30 --cert "$S/client.pem" \
	--key "$S/client.key" -o /dev/null "https://$MG_GW_FABRIC_IP:8443/10m" 2>"$WORK/slow.err" &
slow=$!
sleep 2
mg_ctl "$PREFIX" peers
sed '/name = "client-to-backend"/,+1d' "$WORK/policy.conf" >"$WORK/policy-v2.conf"
build 2 "$WORK/v2.msnap" "$WORK/policy-v2.conf" bob carol
"$MESHCTL" push "$WORK/v2.msnap" --socket "$SOCK" || fail=1
"$MESHCTL" push "$WORK/v2.msnap" --socket "$SOCK2" || fail=1
rc=0
wait "$slow" || rc=$?
echo "curl said: $(cat "$WORK/slow.err")"
check "the live download was closed by the push (curl exit $rc)" [ "$rc" -ne 0 ]
mg_ctl "$PREFIX" tcp | grep -E '^proxy/reauth_(checked|closed) '
sleep 1.2
grep ' conn.reauth_closed ' "$WORK/state/audit.log" | cut -d' ' -f3-9

step "the chain: mg-client2 -> meshgw #2 outbound -> mTLS on the fabric -> meshgw #1 inbound -> backend"
ip netns exec mg-fabric timeout 15 "$MG_PYTHON" "$MG_ROOT/tests/integration/capture_tls.py" \
	"$WORK/capture.txt" --seconds 8 9>&- &
cap=$!
sleep 2
ip netns exec mg-client2 curl -sS --max-time 30 -o "$WORK/got-chain" \
	-w 'curl http://%{remote_ip}:%{remote_port}/10m: %{size_download} bytes in %{time_total} s\n' \
	"http://198.18.3.1/10m" || fail=1
check "the 10 MB arrived intact through both gateways" cmp -s "$WORK/got-chain" "$WORK/www/10m"
wait "$cap" || true
read -r segs _ plain <"$WORK/capture.txt" || true
echo "capture on br0, port 8443: $segs TCP segments with payload, $plain with plaintext HTTP in them"
check "the fabric carried only TLS records" [ "${segs:-0}" -gt 10 ] && [ "${plain:-1}" -eq 0 ]
mg_ctl "$PREFIX-2" tls | grep -E '^authz/allow_l7 ' || true

step "L7: one kept-alive connection from mg-client2, an allowed request, then a denied one"
ip netns exec mg-client2 curl -sS --max-time 10 -o /dev/null -o /dev/null \
	-w 'GET %{url}: HTTP %{http_code}, new connections: %{num_connects}\n' \
	"http://198.18.3.1/hello.txt" "http://198.18.3.1/admin/" >"$WORK/l7.txt" 2>&1 || true
cat "$WORK/l7.txt"
check "allowed, then denied on the same connection" \
	grep -qz "hello.txt: HTTP 200, new connections: 1.*admin/: HTTP 403, new connections: 0" "$WORK/l7.txt"
echo "the 403 says: $(ip netns exec mg-client2 curl -sS --max-time 5 "http://198.18.3.1/admin/" 2>&1 | head -n 1)"
mg_ctl "$PREFIX-2" rules
sleep 1.2
grep ' http.denied ' "$WORK/state2/audit.log" | tail -n 1 | cut -d' ' -f3-10 || true

step "rollback: v1 again is refused"
expect_refusal "rollback to v1" "$WORK/v1.msnap"

step "tampered: v3 with one payload byte changed after signing is refused"
build 3 "$WORK/v3.msnap" "$WORK/policy-v2.conf" alice bob >/dev/null
cp "$WORK/v3.msnap" "$WORK/v3-tampered.msnap"
printf 'X' | dd of="$WORK/v3-tampered.msnap" bs=1 seek=200 conv=notrunc status=none
expect_refusal "tampered v3" "$WORK/v3-tampered.msnap"

step "one signature is not enough: v3 signed by carol alone is refused"
build 3 "$WORK/v3-one.msnap" "$WORK/policy-v2.conf" carol >/dev/null
expect_refusal "v3 with one signature" "$WORK/v3-one.msnap"

step "meshctl audit verify (every change and refusal is on the hash chain)"
tail -n 6 "$WORK/state/audit.log" | cut -c 1-150
"$MESHCTL" audit verify "$WORK/state/audit.log" --checkpoint-key "$WORK/state/node.key.pub" || fail=1

step "meshctl attest: a report signed by the node key, checked against v2's digest"
mg_ctl "$PREFIX" attest --node-key "$WORK/state/node.key.pub" \
	--expect-snapshot "$("$MESHCTL" snapshot digest "$WORK/v2.msnap")" || fail=1
exit "$fail"
