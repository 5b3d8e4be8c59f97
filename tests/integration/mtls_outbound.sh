#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Outbound mTLS listeners (issue 12): plaintext from a local workload, known
# by its source address in the snapshot, leaves as mTLS presenting that
# workload's SVID and requiring the upstream workload's SPIFFE ID.
#
# Part 1, one gateway, real upstreams in mg-backend:
#  mg-client 198.18.1.2 --plain--> meshgw 198.18.1.1:9000 outbound ==mTLS==> openssl s_server -Verify :8443
#                                             198.18.1.1:9001 outbound ==mTLS==> nginx ssl_verify_client on :8444
#                                             198.18.1.1:9002 outbound ==mTLS==> s_server with web's SVID (wrong ID)
# Part 2, the chain of DESIGN's topology, one snapshot on both gateways:
#  mg-client2 --plain--> meshgw #2 outbound 198.18.3.1:80 ==mTLS over the fabric==> meshgw #1
#  inbound 198.18.1.1:8443 --plain--> http.server in mg-backend :80; a capture on
#  the fabric bridge sees only TLS records between the gateways.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_policy.sh"
mg_test_setup mgt-mtlso
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-mtlso.XXXXXX)
PIDS=()
test_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	ip -n mg-client addr del 198.18.1.9/24 dev eth0 2>/dev/null || true
	rm -rf "$tmp"
}
bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" 9>&- >>"$tmp/bg.log" 2>&1 &
	PIDS+=($!)
}
PKI=$tmp/pki
IMG=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
CA=$PKI/example.org/ca.pem
S=$PKI/svid

# The upstreams: s_server and nginx demand a client certificate from the CA.
bg mg-backend openssl s_server -accept 8443 -Verify 2 -verify_return_error -CAfile "$CA" \
	-cert "$S/backend.chain.pem" -key "$S/backend.key" -www -naccept 100
bg mg-backend openssl s_server -accept 8445 -Verify 2 -verify_return_error -CAfile "$CA" \
	-cert "$S/web.chain.pem" -key "$S/web.key" -www -naccept 100
cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	server {
		listen $MG_BACKEND_IP:8444 ssl;
		ssl_certificate $S/backend.chain.pem;
		ssl_certificate_key $S/backend.key;
		ssl_client_certificate $CA;
		ssl_verify_client on;
		ssl_protocols TLSv1.3;
		location / { return 200 "verify=\$ssl_client_verify client=\$ssl_client_s_dn\n"; }
	}
}
EOF
bg mg-backend nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log"

# One policy for every gateway here: the clients by address, the backend's ports.
cat >"$tmp/policy.conf" <<EOF
default_action = "deny";
trust_domains = ( { name = "example.org"; bundle_file = "$CA"; } );
workloads = (
  { name = "client"; spiffe_id = "spiffe://example.org/ns/prod/sa/client";
    addresses = [ "$MG_CLIENT_IP" ]; images = [ "$IMG" ]; },
  { name = "client2"; spiffe_id = "spiffe://example.org/ns/prod/sa/client2";
    addresses = [ "198.18.3.2" ]; images = [ "$IMG" ]; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 80, 8443, 8444, 8445 ]; }
);
rules = (
  { name = "clients-to-backend"; action = "allow";
    from = [ "spiffe://example.org/ns/prod/sa/client", "spiffe://example.org/ns/prod/sa/client2" ];
    to = { workload = "backend"; }; }
);
EOF

lp_setup "$tmp/gw1"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base1.conf"
lp_conf "$tmp/base1.conf" "$tmp/gw1.conf" "listeners = (
  { name = \"to_sserver\"; type = \"outbound\"; listen = \"$MG_GW_FABRIC_IP:9000\"; upstream = \"$MG_BACKEND_IP:8443\"; },
  { name = \"to_nginx\"; type = \"outbound\"; listen = \"$MG_GW_FABRIC_IP:9001\"; upstream = \"$MG_BACKEND_IP:8444\"; },
  { name = \"to_impostor\"; type = \"outbound\"; listen = \"$MG_GW_FABRIC_IP:9002\"; upstream = \"$MG_BACKEND_IP:8445\"; },
  { name = \"in_web\"; type = \"inbound\"; listen = \"$MG_GW_FABRIC_IP:8443\"; upstream = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"client\"; cert = \"$S/client.chain.pem\"; key = \"$S/client.key\"; },
           { name = \"backend\"; cert = \"$S/backend.chain.pem\"; key = \"$S/backend.key\"; } );"
mg_start_gateway "$tmp/gw1.conf" "$MG_PREFIX"
mg_expect "gw1: the policy is accepted" lp_push "$tmp/policy.conf" 1
tls() { mg_ctl "$1" tls --json | mg_json_get "$2"; }
tcpk() { mg_ctl "$1" tcp --json | mg_json_get "$2"; }

# via PORT [SRC]: plaintext HTTP from mg-client through an outbound listener.
via() {
	client timeout 15 curl -sS --max-time 10 ${2:+--interface "$2"} \
		"http://$MG_GW_FABRIC_IP:$1/" 2>>"$tmp/curl.err" || true
}
for _ in $(seq 50); do
	via 9000 | grep -q "s_server" && break
	sleep 0.2
done
mg_expect "outbound to openssl s_server -Verify: its status page" grep -q "s_server" <<<"$(via 9000)"
out=$(via 9001)
mg_expect "outbound to nginx ssl_verify_client on: $out" grep -q "verify=SUCCESS" <<<"$out"
before=$(tls "$MG_PREFIX" handshake_error.wrong_peer_id)
out=$(via 9002)
mg_expect "an upstream proving another ID (web) gets nothing: '${out:0:40}'" [ -z "$out" ]
mg_expect_eq "counted as wrong_peer_id" $((before + 1)) \
	"$(tls "$MG_PREFIX" handshake_error.wrong_peer_id)"
ip -n mg-client addr add 198.18.1.9/24 dev eth0
before=$(tls "$MG_PREFIX" authz.deny_no_workload_at_source)
out=$(via 9000 198.18.1.9)
mg_expect "a source address the snapshot does not know is refused" [ -z "$out" ]
mg_expect_eq "counted as deny_no_workload_at_source" $((before + 1)) \
	"$(tls "$MG_PREFIX" authz.deny_no_workload_at_source)"

# Part 2: the chain through meshgw #2.
bg mg-backend "$MG_PYTHON" -m http.server 80 --bind "$MG_BACKEND_IP" --directory "$tmp"
head -c 1048576 /dev/urandom >"$tmp/1m"
lp_setup "$tmp/gw2"
cp "$tmp/gw1/signer.pub" "$tmp/gw2/signer.pub" # one signer for both gateways
cp "$tmp/gw1/signer.key" "$tmp/gw2/signer.key"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway2.conf" >"$tmp/base2.conf"
lp_conf "$tmp/base2.conf" "$tmp/gw2.conf" "listeners = (
  { name = \"to_backend\"; type = \"outbound\"; listen = \"198.18.3.1:80\";
    upstream = \"$MG_GW_FABRIC_IP:8443\"; service = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"client2\"; cert = \"$S/client2.chain.pem\"; key = \"$S/client2.key\"; } );"
mg_start_gateway "$tmp/gw2.conf" "$MG_PREFIX-2"
mg_expect "gw2: the same policy is accepted" lp_push "$tmp/policy.conf" 1
# Capture the fabric bridge while mg-client2 fetches through both gateways:
# from the moment the capture runs (ready file, at most 10 s) until 0.5 s
# after the fetch (the last segments), at most 12 s as before.
fabric timeout 20 "$MG_PYTHON" "$MG_ROOT/tests/integration/capture_tls.py" "$tmp/capture.txt" \
	--seconds 12 --ready "$tmp/cap.ready" --until "$tmp/cap.stop" 9>&- &
cap=$!
cap_ready() { [ -e "$tmp/cap.ready" ]; }
mg_wait_for 10 cap_ready || mg_log "capture_tls.py did not say it was ready"
want=$(sha256sum <"$tmp/1m" | cut -d' ' -f1)
got=
for _ in $(seq 30); do
	got=$(ip netns exec mg-client2 timeout 10 curl -sS --max-time 8 "http://198.18.3.1/1m" 2>>"$tmp/curl.err" |
		sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && break
	sleep 0.3
done
mg_expect_eq "mg-client2 -> gw2 outbound -> mTLS -> gw1 inbound -> backend: 1 MB intact" "$want" "$got"
sleep 0.5
touch "$tmp/cap.stop"
wait "$cap" || true
read -r segs tlsrec plain <"$tmp/capture.txt" || true
mg_expect "the fabric carried TLS records only ($segs segments with payload, $tlsrec starting a record, $plain with plaintext HTTP)" \
	[ "${segs:-0}" -gt 10 ] && [ "${plain:-1}" -eq 0 ]
mg_expect "gw1 authorized client2 by its SVID (inbound)" \
	[ "$(mg_ctl "$MG_PREFIX" tls --json | mg_json_get authz.allow)" -ge 1 ]
mg_ctl "$MG_PREFIX-2" tls | grep -v ' 0$' | sed 's/^/    gw2 /' >&2 || true
mg_ctl "$MG_PREFIX" tls | grep -v ' 0$' | sed 's/^/    gw1 /' >&2 || true
mg_finish
