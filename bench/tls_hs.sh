#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Handshake engine benchmark (issue 12, first part): server CPU per full mTLS
# handshake, in memory on one core, without the network and the TCP stack.
#
#   core 1: bench/tls_hs_bench   OpenSSL client (leaf only) <-> server under test
#                                over memory BIOs; only the server's calls timed
#
# Server set-ups, in rotated order, ROUNDS rounds of HANDSHAKES each (medians):
#   openssl_default        SSL_CTX defaults (2 tickets, chain built per handshake)
#   openssl_tuned          OpenSSL's own floor: no tickets, no session cache,
#                          SSL_MODE_NO_AUTO_CHAIN + explicit (empty) chain
#   meshgw_engine_nocache  dataplane/tls_hs.c: tuned + X509-SVID verdict + keys
#                          handed to our record layer, SSL object freed
#   meshgw_engine          the same with the per-thread verified-chain cache
# and the crypto bound of one handshake from `openssl speed` on the same core:
# one ECDSA P-256 sign + two verifies + two X25519 operations.
# P-256 SVIDs from conf/pki.sh, TLS_AES_128_GCM_SHA256, X25519.
#
# Writes bench/results/tls_hs.json and prints it. Environment: HANDSHAKES (500),
# ROUNDS (3), MG_BUILD (build), RESULT (bench/results/tls_hs.json).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MG_BUILD:-$ROOT/build}
HANDSHAKES=${HANDSHAKES:-500}
ROUNDS=${ROUNDS:-3}
RESULT=${RESULT:-$ROOT/bench/results/tls_hs.json}
BENCH=$BUILD/bench/tls_hs_bench
[ -x "$BENCH" ] || { echo "tls_hs.sh: no $BENCH (make build)" >&2; exit 1; }

PKI=$(mktemp -d /tmp/meshgw-bench-pki.XXXXXX)
trap 'rm -rf "$PKI"' EXIT
"$ROOT/conf/pki.sh" "$PKI" >/dev/null

# openssl speed on core 1: signs/s and verifies/s for P-256, ops/s for X25519.
speed=$(taskset -c 1 openssl speed -seconds 2 -elapsed ecdsap256 ecdhx25519 2>/dev/null)
read -r sign verify < <(awk '/ecdsa \(nistp256\)/ { print $(NF-1), $NF }' <<<"$speed")
x25519=$(awk '/ecdh \(X25519\)/ { print $NF }' <<<"$speed")
engine=$(taskset -c 1 "$BENCH" "$PKI" "$HANDSHAKES" "$ROUNDS")

python3 - "$sign" "$verify" "$x25519" "$engine" "$RESULT" <<'PY'
import json, os, platform, sys, time
sign, verify, x25519 = (float(v) for v in sys.argv[1:4])
r = json.loads(sys.argv[4])
bound = 1e6 * (1 / sign + 2 / verify + 2 / x25519)
r.update({
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")), platform.processor()),
    "load_avg_end": os.getloadavg()[0],
    "openssl_speed": {"ecdsap256_sign_per_s": sign, "ecdsap256_verify_per_s": verify,
                      "x25519_op_per_s": x25519},
    "crypto_bound_us": round(bound, 1),
})
for k in ("openssl_default", "openssl_tuned", "meshgw_engine_nocache", "meshgw_engine"):
    r[k + "_x_bound"] = round(r[k + "_us"] / bound, 2)
r["meshgw_engine_x_openssl_tuned"] = round(r["meshgw_engine_us"] / r["openssl_tuned_us"], 2)
json.dump(r, open(sys.argv[5], "w"), indent=2)
open(sys.argv[5], "a").write("\n")
print(json.dumps(r, indent=2))
PY
