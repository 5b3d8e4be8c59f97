#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The TLS surface equals the snapshot (issue 12, "Tests"; STYLE 18): sslscan
# in mg-client enumerates what meshgw's inbound listener offers under three
# policies with different `tls` settings, and its normalized output must equal
# a golden file per policy, tests/data/sslscan/<policy>.txt, line for line.
#
#  netns mg-client 198.18.1.2               netns mg-gw (meshgw)
#  sslscan (no client certificate) ======> 198.18.1.1:8443 inbound (backend's SVID)
#
# sslscan presents no client certificate, so every full handshake fails at the
# client-certificate step: enough to enumerate what the server offers
# (protocols, suites, groups, signature algorithms, its certificate).
#
# Normalized: no colour, no sslscan or OpenSSL version lines, and from the
# certificate only what the policy and the dev PKI fix (the validity dates
# change with every mint). sslscan sees only what the server signs with (its
# SVID's key), so the report ends with what the server's CertificateRequest
# asks of a client, as `openssl s_client` prints it: the acceptable CA names
# (the trust bundle) and the requested signature algorithms (the policy's
# signature_algorithms). MG_UPDATE_GOLDEN=1 rewrites the golden files from
# this run (tests/run.sh clears it); read the diff against the policy below
# before committing it.
#
# Checked besides the snapshots, on every policy: SSLv2, SSLv3, TLS 1.0, 1.1
# and 1.2 disabled and TLS 1.3 enabled; no renegotiation; the suites and groups
# sslscan accepted are exactly the policy's, the policy's first suite
# preferred; the signature algorithm sslscan finds is the SVID's
# (ecdsa_secp256r1_sha256: the server signs with its P-256 key whatever else a
# policy lists). No compression: Debian's sslscan
# cannot test it (its OpenSSL has no zlib; the report says so), so
# tls_hello.py sends a hand-made TLS 1.3 ClientHello whose compression methods
# are [DEFLATE, null] and then [DEFLATE] alone: each must get an alert
# (RFC 8446 4.1.2: anything but [null] is illegal_parameter), while the same
# ClientHello with [null] gets a ServerHello (so the probe itself works).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/lib_policy.sh"
GOLDEN=$MG_ROOT/tests/data/sslscan
mg_test_setup mgt-mtls-surface
tmp=$(mktemp -d /tmp/mgt-mtls-surface.XXXXXX)
test_cleanup() { rm -rf "$tmp"; }
trap mg_cleanup EXIT
VIP=$MG_GW_FABRIC_IP:8443
PKI=$tmp/pki
command -v sslscan >/dev/null || mg_die "sslscan is not installed (make deps: sslscan)"

"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
mkdir -p "$tmp/svid"
cp "$PKI/svid/backend.chain.pem" "$tmp/svid/backend.pem"
cp "$PKI/svid/backend.key" "$tmp/svid/backend.key"
lp_setup "$tmp/policy"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base.conf"
lp_conf "$tmp/base.conf" "$tmp/gateway.conf" \
	"listeners = ( { name = \"web_tls\"; type = \"inbound\"; listen = \"$VIP\"; upstream = \"$MG_BACKEND_IP:80\"; } );" \
	"svids = ( { name = \"backend\"; cert = \"$tmp/svid/backend.pem\"; key = \"$tmp/svid/backend.key\"; } );"
mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"

# The three `tls` settings (docs/policy.conf.md), and what each must offer:
# NAME|TLS GROUP|SUITES (in the policy's order: the first is "Preferred")|GROUPS
# (sslscan's names, sorted: sslscan lists them in its own order, not the server's).
POLICIES=(
	"default||TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256|secp256r1 x25519"
	'strict|tls = { ciphersuites = [ "TLS_AES_256_GCM_SHA384" ]; groups = [ "P-384" ]; signature_algorithms = [ "ecdsa_secp256r1_sha256" ]; };|TLS_AES_256_GCM_SHA384|secp384r1'
	'wide|tls = { ciphersuites = [ "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256" ]; groups = [ "X448", "P-521", "X25519" ]; signature_algorithms = [ "ecdsa_secp256r1_sha256", "ed25519", "rsa_pss_rsae_sha256" ]; };|TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_CCM_SHA256|secp521r1 x25519 x448'
)

# policy VERSION TLS: backend behind the listener, the given tls group.
policy() {
	cat >"$tmp/policy-$1.conf" <<EOF
default_action = "deny";
trust_domains = ( { name = "example.org"; bundle_file = "$PKI/example.org/ca.pem"; } );
$2
workloads = (
  { name = "client"; spiffe_id = "spiffe://example.org/ns/prod/sa/client"; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 80 ]; }
);
rules = ( { name = "client-to-backend"; action = "allow";
            from = [ "spiffe://example.org/ns/prod/sa/client" ]; to = { workload = "backend"; }; } );
EOF
	echo "$tmp/policy-$1.conf"
}

# normalize: sslscan's report without colour, versions and the certificate's dates.
normalize() {
	sed -e 's/\x1b\[[0-9;]*m//g' |
		grep -v -E '^[[:space:]]*(Version:|OpenSSL [0-9]|Not valid (before|after):)' |
		sed -e 's/[[:space:]]*$//' | cat -s
}
# accepted KIND FILE: the names sslscan accepted, one line: suites (KIND
# suites) or groups (KIND groups), from the normalized report.
accepted() {
	case "$1" in
	suites) awk '/^(Preferred|Accepted) +TLSv/ { printf "%s%s", s, $5; s = " " }' "$2" ;;
	groups) awk '/Server Key Exchange Group/ { on = 1; next } on && /^$/ { on = 0 }
		on && /^TLSv/ { print $4 }' "$2" | LC_ALL=C sort | paste -s -d ' ' ;;
	esac
}

declare -A hello
v=0
for entry in "${POLICIES[@]}"; do
	IFS='|' read -r name tls suites groups <<<"$entry"
	v=$((v + 1))
	mg_expect "policy $name (v$v) is accepted" lp_push "$(policy "$v" "$tls")" "$v"
	out=$tmp/$name.txt
	{
		client timeout 60 sslscan --no-colour --show-sigs "$VIP" 2>&1 | normalize
		# What the server asks of a client certificate (sslscan shows only what
		# it signs); with the client's SVID, so that the handshake completes.
		echo "  Certificate request (openssl s_client):"
		client timeout 10 openssl s_client -connect "$VIP" -cert "$PKI/svid/client.pem" \
			-key "$PKI/svid/client.key" </dev/null 2>/dev/null |
			sed -n '/client certificate CA names/,/^Requested Signature Algorithms/p'
	} >"$out" || true
	if [ "${MG_UPDATE_GOLDEN:-}" = 1 ]; then
		mkdir -p "$GOLDEN"
		cp "$out" "$GOLDEN/$name.txt"
		mg_log "wrote $GOLDEN/$name.txt"
	fi
	if ! diff -u "$GOLDEN/$name.txt" "$out" >"$tmp/$name.diff" 2>&1; then
		sed 's/^/    /' "$tmp/$name.diff" >&2
	fi
	mg_expect "$name: sslscan's report equals tests/data/sslscan/$name.txt" \
		[ ! -s "$tmp/$name.diff" ]
	for proto in SSLv2 SSLv3 TLSv1.0 TLSv1.1 TLSv1.2; do
		mg_expect "$name: $proto disabled" grep -q -E "^$proto +disabled$" "$out"
	done
	mg_expect "$name: TLSv1.3 enabled" grep -q -E '^TLSv1.3 +enabled$' "$out"
	mg_expect "$name: no renegotiation" grep -q -E '^Session renegotiation not supported$' "$out"
	mg_expect "$name: the server's certificate request is in the report" \
		grep -q '^Requested Signature Algorithms: ' "$out"
	mg_expect_eq "$name: suites offered" "$suites" "$(accepted suites "$out")"
	mg_expect_eq "$name: groups offered" "$groups" "$(accepted groups "$out")"
	for comp in 0 1,0 1; do
		hello[$comp]=$(client timeout 10 "$MG_PYTHON" "$here/tls_hello.py" \
			"$MG_GW_FABRIC_IP" 8443 --compression "$comp" 2>&1 || true)
	done
	mg_expect_eq "$name: a ClientHello with compression [null] is answered" server_hello \
		"${hello[0]}"
	mg_expect_eq "$name: compression [DEFLATE, null] refused (alert fatal illegal_parameter)" \
		"alert 2 47" "${hello[1,0]}"
	mg_expect "$name: compression [DEFLATE] refused (${hello[1]})" \
		grep -q "^alert 2 " <<<"${hello[1]}"
done
mg_finish
