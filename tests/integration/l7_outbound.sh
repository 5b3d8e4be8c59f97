#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# L7 authorization on an outbound listener (issue 14), under load from wrk:
# plaintext HTTP from a local workload is checked request by request before
# it leaves as mTLS, and checked again by the inbound gateway.
#
#  mg-client2 198.18.3.2 --plain--> meshgw #2 outbound 198.18.3.1:80 ==mTLS==>
#  meshgw #1 inbound 198.18.1.1:8443 --plain--> nginx in mg-backend :80
#
# One snapshot on both gateways: client2 may GET /api/*, and /api/admin/* is
# denied. wrk keeps 4 connections alive and alternates an allowed and a denied
# path on each.
#
# Checked: wrk's requests half answered 403 (by gw2: gw1 never sees them)
# and none lost to socket errors; gw2's l7 counters match wrk's counts; curl
# through the chain gets an allowed path and a 403 for a denied one; a
# pipelined denied request between two allowed ones is answered in order.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/lib_policy.sh"
mg_test_setup mgt-l7o
trap mg_cleanup EXIT
mg_scratch mgt-l7o
PKI=$tmp/pki
"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
S=$PKI/svid
OUT=198.18.3.1

lp_echo_backend

cat >"$tmp/policy.conf" <<EOF
default_action = "deny";
trust_domains = ( { name = "example.org"; bundle_file = "$PKI/example.org/ca.pem"; } );
workloads = (
  { name = "client2"; spiffe_id = "spiffe://example.org/ns/prod/sa/client2"; addresses = [ "198.18.3.2" ]; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 80 ]; }
);
rules = (
  { name = "read-api"; action = "allow"; from = [ "spiffe://example.org/ns/prod/sa/client2" ];
    to = { workload = "backend"; }; http = { methods = [ "GET" ]; paths = [ "/api/*" ]; }; },
  { name = "no-admin"; action = "deny"; from = [ "spiffe://example.org/ns/prod/sa/client2" ];
    to = { workload = "backend"; }; http = { paths = [ "/api/admin/*" ]; }; }
);
EOF
lp_setup "$tmp/gw1"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base1.conf"
lp_conf "$tmp/base1.conf" "$tmp/gw1.conf" \
	"listeners = ( { name = \"api_tls\"; type = \"inbound\"; listen = \"$MG_GW_FABRIC_IP:8443\"; upstream = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"backend\"; cert = \"$S/backend.chain.pem\"; key = \"$S/backend.key\"; } );"
mg_start_gateway "$tmp/gw1.conf" "$MG_PREFIX"
mg_expect "gw1: the policy is accepted" lp_push "$tmp/policy.conf" 1
lp_setup "$tmp/gw2"
cp "$tmp/gw1/signer.pub" "$tmp/gw2/signer.pub" # one signer for both gateways
cp "$tmp/gw1/signer.key" "$tmp/gw2/signer.key"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway2.conf" >"$tmp/base2.conf"
lp_conf "$tmp/base2.conf" "$tmp/gw2.conf" "listeners = (
  { name = \"to_backend\"; type = \"outbound\"; listen = \"$OUT:80\";
    upstream = \"$MG_GW_FABRIC_IP:8443\"; service = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"client2\"; cert = \"$S/client2.chain.pem\"; key = \"$S/client2.key\"; } );"
mg_start_gateway "$tmp/gw2.conf" "$MG_PREFIX-2"
mg_expect "gw2: the same policy is accepted" lp_push "$tmp/policy.conf" 1

l7k() { mg_ctl "$1" l7 --json | mg_json_get "$2"; }
c2() { ip netns exec mg-client2 "$@"; }
code() { c2 timeout 10 curl -sS --max-time 8 -o /dev/null -w '%{http_code}' "http://$OUT$1" 2>>"$tmp/curl.err" || true; }
for _ in $(seq 50); do
	[ "$(code /api/x)" = 200 ] && break
	sleep 0.2
done
mg_expect_eq "curl through both gateways: GET /api/x" 200 "$(code /api/x)"
mg_expect_eq "curl through both gateways: GET /api/admin/x (refused by gw2)" 403 "$(code /api/admin/x)"
out=$(c2 timeout 20 "$MG_PYTHON" "$here/l7_raw.py" --plain --connect "$OUT:80" \
	'GET /api/a HTTP/1.1\r\nHost: b\r\n\r\nGET /api/admin/b HTTP/1.1\r\nHost: b\r\n\r\nGET /api/c HTTP/1.1\r\nHost: b\r\n\r\n')
mg_expect "pipelined allow, deny, allow through the outbound listener: 200 403 200 ($out)" \
	grep -q '"statuses": \[200, 403, 200\]' <<<"$out"

cat >"$tmp/alt.lua" <<'EOF'
local paths = { "/api/items", "/api/admin/keys" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % 2 + 1])
end
EOF
den0=$(l7k "$MG_PREFIX-2" denied)
req0=$(l7k "$MG_PREFIX-2" requests)
in_den0=$(l7k "$MG_PREFIX" denied)
c2 timeout 30 wrk -t1 -c4 -d3s -s "$tmp/alt.lua" "http://$OUT/" >"$tmp/wrk.txt" 2>&1 || true
sed 's/^/    wrk: /' "$tmp/wrk.txt" >&2
total=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$tmp/wrk.txt")
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$tmp/wrk.txt")
total=${total:-0}
non2xx=${non2xx:-0}
mg_expect "wrk completed requests (${total})" [ "$total" -ge 200 ]
mg_expect "about half were refused ($non2xx of $total)" \
	[ $((non2xx * 100)) -ge $((total * 45)) ] && [ $((non2xx * 100)) -le $((total * 55)) ]
mg_expect "no socket errors in wrk" bash -c "! grep -q 'Socket errors' '$tmp/wrk.txt'"
den=$(($(l7k "$MG_PREFIX-2" denied) - den0))
req=$(($(l7k "$MG_PREFIX-2" requests) - req0))
# wrk counts the requests answered; a few more may have been in flight at its end.
mg_expect "gw2 counted the denials ($den) as wrk saw them ($non2xx, + up to 4 in flight)" \
	[ "$den" -ge "$non2xx" ] && [ "$den" -le $((non2xx + 4)) ]
mg_expect "gw2 counted the requests ($req) as wrk did ($total, + up to 8)" \
	[ "$req" -ge "$total" ] && [ "$req" -le $((total + 8)) ]
mg_expect_eq "gw1 saw none of the denied requests (denied unchanged)" "$in_den0" \
	"$(l7k "$MG_PREFIX" denied)"
mg_ctl "$MG_PREFIX-2" l7 | grep -v ' 0$' | sed 's/^/    gw2 /' >&2 || true
mg_finish
