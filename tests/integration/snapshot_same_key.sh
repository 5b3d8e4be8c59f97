#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# One signer must never count twice. The openssl CLI makes one P-256 key and
# writes its public half twice, uncompressed and compressed
# (`openssl ec -conv_form compressed -pubout`); OpenSSL keeps the encoding it
# read, so an id hashed over i2d_PUBKEY gave the two files two ids. With both
# files trusted and threshold 2, one signature entered under both ids met the
# threshold. Now: one key has one id (canonical SPKI), and every place that
# takes a trust list refuses the same key twice:
#   - `meshctl snapshot verify` (and inspect): exit 2, "is the same key as";
#   - `meshctl snapshot sign` with the compressed private key, and
#     `attach-sig` with the compressed public key, after the key signed once:
#     exit 1, "has signed this snapshot already";
#   - meshgw with both files in trust.keys: exit 78 at start, with the message.
# Also: the id of the usual (uncompressed) file is still openssl's SPKI SHA-256.
#
#   host (no netns)
#   +------------------------------------------------------------+
#   | openssl: p.key -> p.pub (uncompressed), pc.pub, pc.key     |
#   | meshctl snapshot build/sign/attach-sig/verify on files     |
#   | meshgw --file-prefix=mgt-samekey-PID  port p0: net_null0   |
#   +------------------------------------------------------------+
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib_snapshot.sh
. "$here/lib_snapshot.sh"
[ -x "$MESHCTL" ] || mg_die "no meshctl at $MESHCTL (run make build or set MG_BUILD)"
[ -x "$MESHGW" ] || mg_die "no meshgw at $MESHGW (run make build or set MG_BUILD)"
command -v openssl >/dev/null || mg_die "openssl CLI not found"
ls_setup samekey
trap ls_cleanup EXIT
cd "$LS_DIR/snap"

# rc CMD...: run CMD quietly (output to last.out / last.err), print its exit code.
rc() {
	local r=0
	"$@" >last.out 2>last.err || r=$?
	echo "$r"
}

# One key, two encodings of its public (and private) half.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p.key 2>/dev/null
openssl pkey -in p.key -pubout -out p.pub
openssl ec -in p.key -pubout -conv_form compressed -out pc.pub 2>/dev/null
openssl ec -in p.key -conv_form compressed -out pc.key 2>/dev/null
id_p=$(openssl pkey -pubin -in p.pub -outform DER | sha256sum | cut -d' ' -f1)
id_pc=$(openssl pkey -pubin -in pc.pub -outform DER | sha256sum | cut -d' ' -f1)
mg_expect "openssl's DER of the two files differs (two naive ids)" [ "$id_p" != "$id_pc" ]

ls_policy p.conf
"$MESHCTL" snapshot build p.conf --version 1 --expires "$LS_EXPIRES" -o s.msnap >/dev/null
"$MESHCTL" snapshot signed-bytes s.msnap -o s.bytes
openssl dgst -sha256 -sign p.key -out p.sig s.bytes

# The one signer: attach its signature under the uncompressed file.
cp s.msnap one.msnap
mg_expect_eq "attach-sig with p.pub" 0 \
	"$(rc "$MESHCTL" snapshot attach-sig one.msnap --pubkey p.pub --sig p.sig)"
"$MESHCTL" snapshot inspect one.msnap --no-payload >inspect.out
mg_expect "the usual file's id is still openssl's SPKI SHA-256" \
	grep -q "signature 0: key $id_p p256" inspect.out

# The same signature again under the compressed file: one key, one id, refused.
cp one.msnap before.msnap
mg_expect_eq "attach-sig of the same signature with pc.pub" 1 \
	"$(rc "$MESHCTL" snapshot attach-sig one.msnap --pubkey pc.pub --sig p.sig)"
mg_expect "... says the key has signed already" grep -q "has signed this snapshot already" last.err
cat last.err >&2
mg_expect "... and left the file as it was" cmp -s one.msnap before.msnap
mg_expect_eq "sign with the compressed private key after p.pub's signature" 1 \
	"$(rc "$MESHCTL" snapshot sign one.msnap --key pc.key)"
mg_expect "... says the key has signed already" grep -q "has signed this snapshot already" last.err

# And sign in the other order: the compressed private key first, then attach.
cp s.msnap two.msnap
mg_expect_eq "sign with pc.key" 0 "$(rc "$MESHCTL" snapshot sign two.msnap --key pc.key)"
"$MESHCTL" snapshot inspect two.msnap --no-payload >inspect2.out
mg_expect "pc.key signs under the canonical id" grep -q "signature 0: key $id_p p256" inspect2.out
mg_expect_eq "attach-sig with p.pub after pc.key signed" 1 \
	"$(rc "$MESHCTL" snapshot attach-sig two.msnap --pubkey p.pub --sig p.sig)"

# verify: both files trusted is refused before any signature is looked at.
mg_expect_eq "verify --trust p.pub --trust pc.pub --threshold 2" 2 \
	"$(rc "$MESHCTL" snapshot verify one.msnap --trust p.pub --trust pc.pub --threshold 2)"
mg_expect "... names both files" grep -q "trust pc.pub is the same key as --trust p.pub" last.err
cat last.err >&2
mg_expect "... and prints no OK" bash -c '! grep -q OK last.out'
mg_expect_eq "verify with a third, distinct key in the list too" 2 \
	"$(rc "$MESHCTL" snapshot verify one.msnap --trust "$LS_DIR/keys/a.pub" --trust pc.pub \
		--trust p.pub --threshold 2)"
mg_expect_eq "inspect with both files" 2 \
	"$(rc "$MESHCTL" snapshot inspect one.msnap --trust p.pub --trust pc.pub)"
# Controls: either file alone verifies the one signature; two signers need two keys.
mg_expect_eq "verify --trust pc.pub --threshold 1" 0 \
	"$(rc "$MESHCTL" snapshot verify one.msnap --trust pc.pub --threshold 1)"
mg_expect_eq "verify --trust p.pub --trust a.pub --threshold 2 (one signer)" 1 \
	"$(rc "$MESHCTL" snapshot verify one.msnap --trust p.pub --trust "$LS_DIR/keys/a.pub" \
		--threshold 2)"
mg_expect "... refused for signatures" grep -q "REFUSED (signature)" last.out

# gateway.conf: both files in trust.keys, threshold 2: meshgw must not start.
ls_conf gw.conf
sed -i "s|keys = \[.*\];|keys = [ \"$PWD/p.pub\", \"$PWD/pc.pub\" ];|" gw.conf
mg_expect "gw.conf trusts p.pub and pc.pub" grep -q "pc.pub" gw.conf
r=0
ls_start gw.conf 30 2>/dev/null || r=$?
mg_expect_eq "meshgw with the same key twice does not start" 1 "$r"
mg_expect_eq "... exits 78 (configuration)" 78 "$(ls_rc)"
mg_expect "... and says why" grep -q "trust.keys\[1\]: $PWD/pc.pub is the same key as trust.keys\[0\] ($PWD/p.pub)" "$LS_LOG"
grep "same key" "$LS_LOG" >&2 || true
# Control: the same conf with a distinct second key starts.
ls_conf ok.conf
sed -i "s|keys = \[.*\];|keys = [ \"$PWD/p.pub\", \"$LS_DIR/keys/a.pub\" ];|" ok.conf
mg_expect "meshgw with two distinct keys starts" ls_start ok.conf 30
ls_stop 10
mg_finish
