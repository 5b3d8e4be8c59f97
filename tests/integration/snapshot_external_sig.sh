#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# k-of-n snapshot signing with external signers: the openssl CLI (standing in
# for a KMS or an HSM) signs `meshctl snapshot signed-bytes`, `attach-sig`
# checks and adds the signatures, `verify` counts them. Also: deterministic
# build, key ids as openssl computes them, refusals and exit codes.
#
#  (no namespaces, no gateway: meshctl and openssl on files)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ -x "$MESHCTL" ] || mg_die "no meshctl at $MESHCTL (run make build or set MG_BUILD)"
command -v openssl >/dev/null || mg_die "openssl CLI not found"
tmp=$(mktemp -d /tmp/mgt-extsig.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

# rc CMD...: run CMD quietly (output to last.out / last.err), print its exit code.
rc() {
	local r=0
	"$@" >last.out 2>last.err || r=$?
	echo "$r"
}

# The least a policy can say: one trust domain with its bundle (build inlines it).
cp "$here/../data/policy/minimal.conf" policy.conf
cp "$here/../data/policy/example.org.pem" .

# Keys: two made by meshctl, two by openssl alone (an external signer's own).
"$MESHCTL" keygen -o a >a.id 2>/dev/null
"$MESHCTL" keygen --type p256 -o b >b.id 2>/dev/null
openssl genpkey -algorithm ed25519 -out ext.key 2>/dev/null
openssl pkey -in ext.key -pubout -out ext.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out extp.key 2>/dev/null
openssl pkey -in extp.key -pubout -out extp.pub
mg_expect_eq "a.key is private (0600)" 600 "$(stat -c %a a.key)"
mg_expect_eq "keygen prints the SPKI SHA-256 key id" \
	"$(openssl pkey -pubin -in b.pub -outform DER | sha256sum | cut -d' ' -f1)" "$(cat b.id)"

# Deterministic build: same policy, version and times, same bytes.
T="--not-before 2026-01-01T00:00:00Z --ttl 30d"
mg_expect_eq "build" 0 "$(rc "$MESHCTL" snapshot build policy.conf --version 5 $T -o s.msnap)"
"$MESHCTL" snapshot build policy.conf --version 5 --not-before 1767225600 --ttl 2592000 -o again.msnap >/dev/null
mg_expect "build is deterministic (RFC 3339 and seconds alike)" cmp -s s.msnap again.msnap
digest0=$("$MESHCTL" snapshot digest s.msnap)

# External Ed25519 signer: pure Ed25519 over the signed bytes.
"$MESHCTL" snapshot signed-bytes s.msnap -o s.bytes
openssl pkeyutl -sign -rawin -inkey ext.key -in s.bytes -out ext.sig
mg_expect_eq "attach-sig ed25519 (openssl pkeyutl -rawin)" 0 \
	"$(rc "$MESHCTL" snapshot attach-sig s.msnap --pubkey ext.pub --sig ext.sig)"
# External P-256 signer: ECDSA SHA-256, DER.
openssl dgst -sha256 -sign extp.key -out extp.sig s.bytes
mg_expect_eq "attach-sig p256 (openssl dgst -sha256 -sign)" 0 \
	"$(rc "$MESHCTL" snapshot attach-sig s.msnap --pubkey extp.pub --sig extp.sig)"
# The same P-256 signature shape from pkeyutl (OpenSSL 3: -rawin -digest sha256).
cp again.msnap alt.msnap
openssl pkeyutl -sign -rawin -digest sha256 -inkey extp.key -in s.bytes -out extp2.sig
mg_expect_eq "attach-sig p256 (openssl pkeyutl -rawin -digest sha256)" 0 \
	"$(rc "$MESHCTL" snapshot attach-sig alt.msnap --pubkey extp.pub --sig extp2.sig)"
# And one in-house signer.
mg_expect_eq "sign with a.key" 0 "$(rc "$MESHCTL" snapshot sign s.msnap --key a.key)"
mg_expect_eq "signing keeps the digest" "$digest0" "$("$MESHCTL" snapshot digest s.msnap)"

trust="--trust ext.pub --trust extp.pub --trust a.pub --trust b.pub"
now="--now 2026-01-15T00:00:00Z"
mg_expect_eq "verify 3 of 4 (threshold 3)" 0 \
	"$(rc "$MESHCTL" snapshot verify s.msnap $trust --threshold 3 $now)"
mg_expect "verify says OK" grep -q "OK: 3 of 3 required" last.out
mg_expect_eq "verify threshold 4 with 3 signers" 1 \
	"$(rc "$MESHCTL" snapshot verify s.msnap $trust --threshold 4 $now)"
mg_expect "refusal names the reason" grep -q "REFUSED (signature)" last.out
mg_expect_eq "verify with only 2 of the signers trusted, threshold 3" 1 \
	"$(rc "$MESHCTL" snapshot verify s.msnap --trust ext.pub --trust b.pub --trust a.pub --threshold 3 $now)"
mg_expect "the unknown signer is shown as such" grep -q "unknown_key" last.out

# Refusals leave the file as it was.
cp s.msnap before.msnap
mg_expect_eq "second signature by one key refused" 1 \
	"$(rc "$MESHCTL" snapshot sign s.msnap --key a.key)"
mg_expect "... and says so" grep -q "has signed this snapshot already" last.err
head -c 10 ext.sig >short.sig
cp extp.sig bad.sig
printf '\x01' | dd of=bad.sig bs=1 seek=20 conv=notrunc 2>/dev/null
mg_expect_eq "a corrupted signature is not attached" 1 \
	"$(rc "$MESHCTL" snapshot attach-sig s.msnap --pubkey b.pub --sig bad.sig)"
mg_expect_eq "a signature under the wrong public key is not attached" 1 \
	"$(rc "$MESHCTL" snapshot attach-sig s.msnap --pubkey b.pub --sig extp.sig)"
mg_expect_eq "a truncated Ed25519 signature is not attached" 1 \
	"$(rc "$MESHCTL" snapshot attach-sig s.msnap --pubkey ext.pub --sig short.sig)"
mg_expect "refusals left the file unchanged" cmp -s s.msnap before.msnap

# Time and tampering.
mg_expect_eq "expired" 1 "$(rc "$MESHCTL" snapshot verify s.msnap $trust --threshold 1 \
	--now 2026-03-01T00:00:00Z)"
mg_expect "... named" grep -q "REFUSED (expired)" last.out
mg_expect_eq "not yet valid" 1 "$(rc "$MESHCTL" snapshot verify s.msnap $trust --threshold 1 \
	--now 2025-12-31T23:59:59Z)"
mg_expect "... named" grep -q "REFUSED (not_yet_valid)" last.out
cp s.msnap tampered.msnap
printf '\x01' | dd of=tampered.msnap bs=1 seek=23 conv=notrunc 2>/dev/null
mg_expect_eq "a flipped header byte fails every signature" 1 \
	"$(rc "$MESHCTL" snapshot verify tampered.msnap $trust --threshold 1 $now)"
printf 'x' >>tampered.msnap
mg_expect_eq "trailing bytes" 1 "$(rc "$MESHCTL" snapshot verify tampered.msnap $trust --threshold 1 $now)"
mg_expect "... are a format refusal" grep -q "REFUSED (format)" last.out
mg_expect_eq "over --max-size" 1 "$(rc "$MESHCTL" snapshot verify s.msnap $trust --threshold 1 $now --max-size 200)"
mg_expect "... is a size_cap refusal" grep -q "REFUSED (size_cap)" last.out

# inspect shows what was signed and by whom.
"$MESHCTL" snapshot inspect s.msnap --trust a.pub >inspect.out
mg_expect "inspect shows the version" grep -q "^version: *5$" inspect.out
mg_expect "inspect shows a's key id as valid" grep -q "$(cat a.id) ed25519, 64 bytes: valid (a.pub)" inspect.out
mg_expect "inspect prints the normalized payload" grep -q 'name = "example.org";' inspect.out
mg_expect "the payload carries the bundle inline" grep -q 'bundle_pem' inspect.out

# Exit codes: usage 2, i/o 3.
mg_expect_eq "build without an end: usage" 2 "$(rc "$MESHCTL" snapshot build policy.conf --version 1 -o x.msnap)"
mg_expect_eq "verify without --threshold: usage" 2 "$(rc "$MESHCTL" snapshot verify s.msnap --trust a.pub)"
mg_expect_eq "unknown snapshot command: usage" 2 "$(rc "$MESHCTL" snapshot frobnicate)"
mg_expect_eq "missing file: i/o" 3 "$(rc "$MESHCTL" snapshot digest no-such.msnap)"
mg_expect_eq "keygen over an existing key: i/o" 3 "$(rc "$MESHCTL" keygen -o a)"
mg_expect_eq "snapshot --help" 0 "$(rc "$MESHCTL" snapshot --help)"
mg_finish
