#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Dev PKI for meshgw: trust-domain CAs and X509-SVIDs, made with the openssl CLI
# only, for the demo and the tests. Never for production: keys are unencrypted
# and live in OUTDIR.
#
# Usage: conf/pki.sh [OUTDIR]     (default conf/demo/pki; idempotent: a CA that
#                                  exists is kept, SVIDs are minted again)
#
#   OUTDIR/example.org/ca.{key,pem}       trust domain example.org
#   OUTDIR/partner.org/ca.{key,pem}       trust domain partner.org (federation)
#   OUTDIR/unknown/ca.{key,pem}           a CA that no bundle lists
#   OUTDIR/svid/NAME.{key,pem}            good SVIDs (leaf only in NAME.pem,
#                                         NAME.chain.pem = leaf + its CA)
#   OUTDIR/bad/NAME.{key,pem}             the bad-certificate matrix (below)
#
# An SVID is a leaf: P-256 key, SHA-256 signature, basicConstraints CA:FALSE,
# keyUsage digitalSignature (critical), exactly one URI SAN spiffe://TD/PATH.
# "What it runs on": the image digest rides in a private extension,
#   OID 2.25.56958436065876609818236111392702871039 (a UUID OID, X.667),
#   value a UTF8String "sha256:<64 lower-case hex>", non-critical.
# The same OID is MG_SVID_IMAGE_OID in dataplane/svid.h.
set -euo pipefail

OUT=${1:-$(cd "$(dirname "$0")" && pwd)/demo/pki}
IMAGE_OID=2.25.56958436065876609818236111392702871039
# sha256 of "test" and of "other": the images the demo policy allows or not.
IMAGE_GOOD=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
IMAGE_OTHER=sha256:d9298a10d1b0735837dc4bd85dac641b0ee3a2d5b9b2c9d6a1b2b3b4b5b6b7b8

mkdir -p "$OUT/svid" "$OUT/bad"
umask 077
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

p256() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca TD: a self-signed trust-domain CA (10 years), kept if present.
ca() {
	local d=$OUT/$1
	mkdir -p "$d"
	[ -s "$d/ca.pem" ] && [ -s "$d/ca.key" ] && return 0
	p256 "$d/ca.key"
	openssl req -new -x509 -key "$d/ca.key" -sha256 -days 3650 -subj "/O=$1/CN=$1 CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$d/ca.pem"
}

# ext FILE LINE...: an extension section "v3" made of the given lines.
ext() {
	local f=$1
	shift
	printf '[v3]\n' >"$f"
	printf '%s\n' "$@" >>"$f"
}

# leaf DIR NAME CA KEYTYPE DIGEST EXTLINE...: a leaf signed by CA (a directory
# of OUTDIR, or "self"), with the extension lines given, valid 90 days.
leaf() {
	local dir=$1 name=$2 ca=$3 keytype=$4 digest=$5
	shift 5
	local key=$OUT/$dir/$name.key cert=$OUT/$dir/$name.pem
	case "$keytype" in
	p256) p256 "$key" ;;
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${keytype#rsa}" \
		-out "$key" 2>/dev/null ;;
	esac
	ext "$WORK/$name.cnf" "$@"
	openssl req -new -key "$key" -subj "/O=meshgw dev/CN=$name" -out "$WORK/$name.csr"
	if [ "$ca" = self ]; then
		openssl x509 -req -in "$WORK/$name.csr" -signkey "$key" "-$digest" -days 90 \
			-extfile "$WORK/$name.cnf" -extensions v3 -out "$cert" 2>/dev/null
	else
		openssl x509 -req -in "$WORK/$name.csr" -CA "$OUT/$ca/ca.pem" \
			-CAkey "$OUT/$ca/ca.key" -CAcreateserial "-$digest" -days 90 \
			-extfile "$WORK/$name.cnf" -extensions v3 -out "$cert" 2>/dev/null
		cat "$cert" "$OUT/$ca/ca.pem" >"$OUT/$dir/$name.chain.pem"
	fi
}

# dated NAME START END URI: a leaf of example.org with fixed validity times
# (openssl x509 cannot set them; openssl ca can, with a throwaway database).
dated() {
	local name=$1 start=$2 end=$3 uri=$4 db=$WORK/ca-$1
	mkdir -p "$db"
	: >"$db/index.txt"
	printf '1000\n' >"$db/serial"
	cat >"$db/ca.cnf" <<-EOF
	[ca]
	default_ca = dev
	[dev]
	database = $db/index.txt
	serial = $db/serial
	new_certs_dir = $db
	certificate = $OUT/example.org/ca.pem
	private_key = $OUT/example.org/ca.key
	default_md = sha256
	policy = any
	unique_subject = no
	[any]
	commonName = supplied
	[v3]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature
	subjectAltName = URI:$uri
	EOF
	p256 "$OUT/bad/$name.key"
	openssl req -new -key "$OUT/bad/$name.key" -subj "/CN=$name" -out "$db/req.csr"
	openssl ca -batch -config "$db/ca.cnf" -extensions v3 -notext -startdate "$start" \
		-enddate "$end" -in "$db/req.csr" -out "$OUT/bad/$name.pem" 2>/dev/null
	cat "$OUT/bad/$name.pem" "$OUT/example.org/ca.pem" >"$OUT/bad/$name.chain.pem"
}

BC="basicConstraints=critical,CA:FALSE"
KU="keyUsage=critical,digitalSignature"
svid_ext() { # URI [IMAGE]
	printf '%s\n' "$BC" "$KU" "subjectAltName=URI:$1"
	[ -z "${2:-}" ] || printf '%s\n' "$IMAGE_OID=ASN1:UTF8String:$2"
}

ca example.org
ca partner.org
ca unknown

# Good SVIDs: the demo's workloads, a federated peer, the gateways' own.
while read -r name td path image; do
	mapfile -t lines < <(svid_ext "spiffe://$td$path" "${image#-}")
	leaf svid "$name" "$td" p256 sha256 "${lines[@]}"
done <<EOF
client example.org /ns/prod/sa/client $IMAGE_GOOD
client2 example.org /ns/prod/sa/client2 $IMAGE_GOOD
backend example.org /ns/prod/sa/backend -
gateway example.org /node/gw1 -
gateway2 example.org /node/gw2 -
web example.org /ns/prod/sa/web -
partner partner.org /ns/pay/sa/ledger -
EOF
mapfile -t lines < <(svid_ext spiffe://example.org/ns/prod/sa/rsa)
leaf svid rsa2048 example.org rsa2048 sha256 "${lines[@]}"
# The same SPIFFE ID as client, a new key: a rotation.
mapfile -t lines < <(svid_ext spiffe://example.org/ns/prod/sa/client "$IMAGE_GOOD")
leaf svid client-rotated example.org p256 sha256 "${lines[@]}"

# The bad-certificate matrix: NAME, then the extension lines (each one field).
U=spiffe://example.org/ns/prod/sa/client
bad() { local name=$1 ca=$2 kt=$3 dg=$4; shift 4; leaf bad "$name" "$ca" "$kt" "$dg" "$@"; }
bad unknown-ca unknown p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org/ns/x"
bad other-td unknown p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://other.org/ns/x/sa/y"
bad wrong-td-signer partner.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U"
bad self-signed self p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U"
bad two-uri example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U,URI:spiffe://example.org/b"
bad no-uri example.org p256 sha256 "$BC" "$KU"
bad dns-only example.org p256 sha256 "$BC" "$KU" "subjectAltName=DNS:client.example.org"
bad ca-leaf example.org p256 sha256 "basicConstraints=critical,CA:TRUE" "$KU" "subjectAltName=URI:$U"
bad keycertsign example.org p256 sha256 "$BC" "keyUsage=critical,digitalSignature,keyCertSign" "subjectAltName=URI:$U"
bad crlsign example.org p256 sha256 "$BC" "keyUsage=critical,digitalSignature,cRLSign" "subjectAltName=URI:$U"
bad no-digsig example.org p256 sha256 "$BC" "keyUsage=critical,keyAgreement" "subjectAltName=URI:$U"
bad uppercase-td example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://Example.org/ns/prod/sa/client"
bad dotdot example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org/ns/../sa/client"
bad trailing-slash example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org/ns/prod/"
bad query example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org/ns/prod?x=1"
# "#" starts a comment in an openssl config file: escaped.
bad fragment example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org/ns/prod\\#x"
bad td-only example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:spiffe://example.org"
bad rsa1024 example.org rsa1024 sha256 "$BC" "$KU" "subjectAltName=URI:$U"
bad sha1 example.org p256 sha1 "$BC" "$KU" "subjectAltName=URI:$U"
bad wrong-image example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U" \
	"$IMAGE_OID=ASN1:UTF8String:$IMAGE_OTHER"
bad bad-image example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U" \
	"$IMAGE_OID=ASN1:UTF8String:md5:abc"
bad no-image example.org p256 sha256 "$BC" "$KU" "subjectAltName=URI:$U"
dated expired 20200101000000Z 20210101000000Z "$U"
dated not-yet-valid 20400101000000Z 20410101000000Z "$U"
# The backend's own ID, expired: a rotation the gateway must refuse.
dated backend-expired 20200101000000Z 20210101000000Z spiffe://example.org/ns/prod/sa/backend

# Bundles: what a policy's trust_domains list as bundle_file.
cp "$OUT/example.org/ca.pem" "$OUT/example.org-bundle.pem"
cp "$OUT/partner.org/ca.pem" "$OUT/partner.org-bundle.pem"
echo "pki.sh: trust domains example.org, partner.org (+ unknown CA);" \
	"$(find "$OUT/svid" -name '*.pem' ! -name '*.chain.pem' | wc -l) SVIDs," \
	"$(find "$OUT/bad" -name '*.pem' ! -name '*.chain.pem' | wc -l) bad certificates in $OUT"
