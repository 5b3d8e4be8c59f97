#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# L7 authorization inside mTLS (issue 14) on an inbound listener: every HTTP
# request is checked on its own against the snapshot's http rules.
#
#  netns mg-client 198.18.1.2              netns mg-gw (meshgw)              netns mg-backend
#  curl / l7_raw.py --cert client ==mTLS==> 198.18.1.1:8443 inbound ==plain==> 198.18.2.2:80 nginx
#
# nginx answers every request with the request-target it received
# ("uri=..."), so the checks see what went upstream: the normalized path.
# Policy v1 (client -> backend): GET/HEAD of /api/* and ~^/v1/users/[0-9]+$,
# POST /v1/charge for host ledger.example.org only, /api/admin/* denied.
#
# Checked: allowed and denied methods, paths and hosts with curl (403 with a
# request id); three requests on one kept-alive connection (allow, deny,
# allow); the same pipelined in one write, answered in order; a denied path
# reached through %2e%2e, /./, .., and an absolute-form URI with another host;
# %2F and other ambiguous paths refused; the normalized path is what the
# backend receives; every smuggling case of the issue sent raw gets a 400 and
# a close, each counted by reason; ALPN h2 refused, curl --http2 downgraded to
# HTTP/1.1; a push (v2) that drops the regex path and sets on_deny = "close"
# changes the next request's verdict on a live kept-alive connection and
# closes it; a regex hyperscan refuses makes the snapshot refused with the
# rule's name and line; per-rule counters and the audit records.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/lib_policy.sh"
mg_test_setup mgt-l7
trap mg_cleanup EXIT
mg_scratch mgt-l7
VIP=$MG_GW_FABRIC_IP:8443
PKI=$tmp/pki
"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
mkdir -p "$tmp/svid"
cp "$PKI/svid/backend.chain.pem" "$tmp/svid/backend.pem"
cp "$PKI/svid/backend.key" "$tmp/svid/backend.key"

lp_echo_backend

# policy VERSION L7 RULES...: client and backend workloads, the l7 group, the rules.
policy() {
	local v=$1 l7=$2
	shift 2
	cat >"$tmp/policy-$v.conf" <<EOF
default_action = "deny";
trust_domains = ( { name = "example.org"; bundle_file = "$PKI/example.org/ca.pem"; } );
workloads = (
  { name = "client"; spiffe_id = "spiffe://example.org/ns/prod/sa/client"; addresses = [ "$MG_CLIENT_IP" ]; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 80 ]; }
);
l7 = { $l7 };
rules = ( $* );
EOF
	echo "$tmp/policy-$v.conf"
}
FROM='from = [ "spiffe://example.org/ns/prod/sa/client" ]; to = { workload = "backend"; };'
READ="{ name = \"read-api\"; action = \"allow\"; $FROM
         http = { methods = [ \"GET\", \"HEAD\" ]; paths = [ \"/api/*\", \"~^/v1/users/[0-9]+\$\" ]; }; }"
READ2="{ name = \"read-api\"; action = \"allow\"; $FROM
         http = { methods = [ \"GET\", \"HEAD\" ]; paths = [ \"/api/*\" ]; }; }"
CHARGE="{ name = \"charge\"; action = \"allow\"; $FROM
         http = { methods = [ \"POST\" ]; paths = [ \"/v1/charge\" ]; hosts = [ \"ledger.example.org\" ]; }; }"
ADMIN="{ name = \"no-admin\"; action = \"deny\"; $FROM http = { paths = [ \"/api/admin/*\" ]; }; }"

lp_setup "$tmp/policy"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base.conf"
lp_conf "$tmp/base.conf" "$tmp/gateway.conf" \
	"listeners = ( { name = \"api_tls\"; type = \"inbound\"; listen = \"$VIP\"; upstream = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"backend\"; cert = \"$tmp/svid/backend.pem\"; key = \"$tmp/svid/backend.key\"; } );"
mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"
mg_expect "policy v1 (http rules: read-api, charge, no-admin) is accepted" \
	lp_push "$(policy 1 'on_deny = "keep"; h2 = "refuse";' "$READ, $CHARGE, $ADMIN")" 1

l7k() { mg_ctl "$MG_PREFIX" l7 --json | mg_json_get "$1"; }
rule_count() { # rule_count NAME allowed|denied
	mg_ctl "$MG_PREFIX" rules --json | "$MG_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
i = next((k.split("/")[0] for k, v in d.items() if k.endswith("/name") and v == sys.argv[1]), None)
print(d[i + "/" + sys.argv[2]] if i is not None else -1)' "$1" "$2"
}
CURL=(client timeout 20 curl -sS -k --max-time 15 --cert "$PKI/svid/client.pem" --key "$PKI/svid/client.key")
# code PATH [curl options]: the status curl got.
code() {
	local path=$1
	shift
	"${CURL[@]}" -o /dev/null -w '%{http_code}' "$@" "https://$VIP$path" 2>>"$tmp/curl.err" || true
}
# raw REQ...: l7_raw.py over one mTLS connection; prints its JSON.
raw() {
	client timeout 30 "$MG_PYTHON" "$here/l7_raw.py" --connect "$VIP" --cert "$PKI/svid/client.pem" \
		--key "$PKI/svid/client.key" "$@"
}
jget() { "$MG_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); v=d[sys.argv[2]]; print(" ".join(map(str,v)) if isinstance(v,list) else v)' "$1" "$2"; }
H='Host: backend.example.org\r\n'

for _ in $(seq 50); do
	[ "$(code /api/x)" = 200 ] && break
	sleep 0.2
done
body=$("${CURL[@]}" "https://$VIP/api/items?id=7" 2>>"$tmp/curl.err" || true)
mg_expect_eq "GET /api/items?id=7 reaches the backend unchanged" "uri=/api/items?id=7 host=$MG_GW_FABRIC_IP" "$body"
mg_expect_eq "GET /v1/users/42 (regex path)" 200 "$(code /v1/users/42)"
mg_expect_eq "GET /v1/users/4x (no rule matches)" 403 "$(code /v1/users/4x)"
mg_expect_eq "DELETE /api/x (method not allowed)" 403 "$(code /api/x -X DELETE)"
mg_expect_eq "GET /api/admin/keys (deny rule)" 403 "$(code /api/admin/keys)"
mg_expect_eq "POST /v1/charge to ledger.example.org" 200 \
	"$(code /v1/charge -H 'Host: ledger.example.org' -d amount=1)"
mg_expect_eq "POST /v1/charge to another host" 403 "$(code /v1/charge -d amount=1)"
denied=$("${CURL[@]}" "https://$VIP/api/admin/keys" 2>>"$tmp/curl.err" || true)
mg_expect "the 403 names a request id: '${denied//$'\n'/ }'" grep -qi "request" <<<"$denied"

# Three requests on one kept-alive connection: allow, deny, allow.
out=$("${CURL[@]}" -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' "https://$VIP/api/a" \
	"https://$VIP/api/admin/b" "https://$VIP/api/c" 2>>"$tmp/curl.err" || true)
mg_expect_eq "curl, 3 requests on one connection (status:new connections)" "200:1 403:0 200:0 " "$out"

# The same pipelined in one write: answered in order.
out=$(raw "GET /api/a HTTP/1.1\r\n$H\r\nGET /api/admin/b HTTP/1.1\r\n$H\r\nGET /api/c HTTP/1.1\r\n$H\r\n")
mg_expect_eq "pipelined allow, deny, allow: statuses in order" "200 403 200" "$(jget "$out" statuses)"
mg_expect_eq "and the connection stays open (on_deny = keep)" False "$(jget "$out" closed)"

# Denied paths reached another way, and what the backend receives.
for p in /api/public/%2e%2e/admin/keys /api/./admin/keys /api/x/../admin/keys /api/%2E%2E/api/admin/k; do
	out=$(raw "GET $p HTTP/1.1\r\n$H\r\n")
	mg_expect_eq "GET $p is the denied /api/admin/..." 403 "$(jget "$out" statuses)"
done
out=$(raw "GET /api/x/%2e%2e/%7Eme/./y HTTP/1.1\r\n$H\r\n")
mg_expect_eq "GET /api/x/%2e%2e/%7Eme/./y goes upstream normalized" "200 uri=/api/~me/y host=backend.example.org" \
	"$(jget "$out" statuses) $(jget "$out" bodies | head -n1)"
out=$(raw "GET https://other.example.org/api/x HTTP/1.1\r\n$H\r\n")
mg_expect_eq "absolute-form URI with another host than Host: 400, closed" "400 True" \
	"$(jget "$out" statuses) $(jget "$out" closed)"
for p in /api%2Fadmin/keys '/api/%5Cadmin' '/api/a%00' '/api/%zz' '/api\\admin'; do
	out=$(raw "GET $p HTTP/1.1\r\n$H\r\n")
	mg_expect_eq "ambiguous path $p: 400" 400 "$(jget "$out" statuses)"
done

# Smuggling, each sent raw: a 400 and the connection closed.
smuggle() {
	local what=$1 req=$2 out
	out=$(raw "$req")
	mg_expect_eq "smuggling, $what: 400 and closed ($(jget "$out" bodies | tr '\n' ' '))" "400 True" \
		"$(jget "$out" statuses) $(jget "$out" closed)"
}
# POSTs go where the policy allows them: the head passes, the body is framed.
P='POST /v1/charge HTTP/1.1\r\nHost: ledger.example.org\r\n'
smuggle "CL and TE" "${P}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
smuggle "two Content-Lengths" "${P}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"
smuggle "bad chunk size" "${P}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
smuggle "obs-fold" "GET /api/x HTTP/1.1\r\n${H}X-A: 1\r\n  folded\r\n\r\n"
smuggle "bare LF" "GET /api/x HTTP/1.1\n${H}\r\n"
smuggle "NUL in a field" "GET /api/x HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
smuggle "invalid method" "G@T /api/x HTTP/1.1\r\n$H\r\n"
smuggle "no Host" "GET /api/x HTTP/1.1\r\n\r\n"
smuggle "two Hosts" "GET /api/x HTTP/1.1\r\n${H}${H}\r\n"
smuggle "TE not chunked" "${P}Transfer-Encoding: gzip\r\n\r\n"
mg_expect "parser refusals counted by reason (cl_and_te, obs_fold, bare_lf, missing_host)" \
	[ "$(l7k http_error.cl_and_te)" -ge 1 ] && [ "$(l7k http_error.obs_fold)" -ge 1 ] &&
	[ "$(l7k http_error.bare_lf)" -ge 1 ] && [ "$(l7k http_error.missing_host)" -ge 1 ]
mg_expect "path refusals counted by reason (path_encoded_slash)" \
	[ "$(l7k path_error.path_encoded_slash)" -ge 1 ]

# ALPN: h2 alone is refused; curl offering h2 and http/1.1 gets http/1.1.
mg_expect "openssl s_client -alpn h2: refused" bash -c "! ip netns exec mg-client timeout 10 \
	openssl s_client -alpn h2 -connect $VIP -cert $PKI/svid/client.pem -key $PKI/svid/client.key \
	</dev/null 2>&1 | grep -q 'ALPN protocol: h2'"
out=$("${CURL[@]}" --http2 -o /dev/null -w '%{http_version} %{http_code}' "https://$VIP/api/x" \
	2>>"$tmp/curl.err" || true)
mg_expect_eq "curl --http2: HTTP/1.1, allowed" "1.1 200" "$out"

# Counted per rule in this generation (a push restarts the counts).
mg_ctl "$MG_PREFIX" rules | sed 's/^/    /' >&2 || true
mg_expect "v1's per-rule counters: read-api allowed >= 5, no-admin denied >= 4" \
	[ "$(rule_count read-api allowed)" -ge 5 ] && [ "$(rule_count no-admin denied)" -ge 4 ]

# A push on a live kept-alive connection: the next request meets v2.
rm -f "$tmp/ready" "$tmp/go"
raw --ready-file "$tmp/ready" --wait-file "$tmp/go" "GET /v1/users/1 HTTP/1.1\r\n$H\r\n" @pause \
	"GET /v1/users/1 HTTP/1.1\r\n$H\r\n" >"$tmp/swap.json" &
swap=$!
for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
conns=$(mg_ctl "$MG_PREFIX" peers 2>&1 || true)
mg_expect "meshctl peers shows the connection's requests: $(grep -m1 client <<<"$conns" || true)" \
	grep -qi "req" <<<"$conns"
mg_expect "policy v2 (no regex path, on_deny = close) is accepted" \
	lp_push "$(policy 2 'on_deny = "close";' "$READ2, $CHARGE, $ADMIN")" 2
touch "$tmp/go"
wait "$swap" || true
out=$(cat "$tmp/swap.json")
mg_expect_eq "one connection: /v1/users/1 under v1, then under v2 (statuses, closed)" "200 403 True" \
	"$(jget "$out" statuses) $(jget "$out" closed)"

# A regex hyperscan refuses: no snapshot is built of it, and the error names
# the rule and its line (the gateway's loader runs the same parser).
BAD="{ name = \"backref\"; action = \"allow\"; $FROM http = { paths = [ \"~^/(a)\\\\1\$\" ]; }; }"
out=$("$MESHCTL" snapshot build "$(policy 3 '' "$BAD")" --version 3 --expires 2099-01-01T00:00:00Z \
	-o "$tmp/bad.msnap" 2>&1 || true)
mg_expect "a back-reference regex is refused, naming the rule and line: $out" \
	grep -q 'policy-3.conf:[0-9]*:.*rule "backref".*hyperscan' <<<"$out"
mg_expect "the gateway still runs v2" [ "$(mg_ctl "$MG_PREFIX" policy --json | mg_json_get version)" = 2 ]

mg_expect "denied requests are on the audit chain" \
	grep -q "http.denied" "$tmp/policy/state/audit.log"
mg_ctl "$MG_PREFIX" l7 | grep -v ' 0$' | sed 's/^/    /' >&2 || true
mg_finish
