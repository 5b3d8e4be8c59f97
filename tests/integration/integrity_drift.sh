#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Drift end to end (README "Integrity, drift and attestation"): with
# integrity.interval_s = 1, a running meshgw whose gateway.conf changes on disk,
# or whose binary is replaced under it, writes an audit record
# `drift what=config` / `what=binary` and exits with status 100. Before that,
# two seconds of checks on untouched files (and a touch that changes only the
# mtime) must not be drift. The binary is a private copy, so replacing it
# touches nothing else.
#
#   host (no netns)
#   +------------------------------------------+
#   | $LS_DIR/bin/meshgw  (copy; p0 net_null0)  |  <- mv over it: binary drift
#   |   -c $LS_DIR/snap/gw.conf                 |  <- append a line: config drift
#   |   state/audit.log   drift what=...        |
#   +------------------------------------------+
set -euo pipefail
. "$(dirname "$0")/lib_snapshot.sh"
mg_need_root
mg_need_bins
ls_setup drift
trap ls_cleanup EXIT
cd "$LS_DIR/snap"
mkdir "$LS_DIR/bin"
cp "$MESHGW" "$LS_DIR/bin/meshgw"
MESHGW=$LS_DIR/bin/meshgw

audit_count() { grep -c -- " drift .* what=$1 " "$LS_AUDIT" || true; }

# start_clean WHAT: start meshgw and show it survives 2 s of checks untouched.
start_clean() {
	ls_start gw.conf || mg_die "meshgw did not start ($1)"
	touch gw.conf "$MESHGW" # the mtime alone is not drift: contents are hashed
	sleep 2.5
	mg_expect_eq "$1: still running after 2 integrity checks on untouched files" "" "$(ls_rc)"
}

ls_conf gw.conf 'integrity = { interval_s = 1; };'

# Config drift: one line appended to the file meshgw was started with.
start_clean config
echo "# edited in place" >>gw.conf
rc=$(ls_wait_exit 5) || rc="none (still running 5 s later)"
mg_expect_eq "gateway.conf changed on disk: exit status" 100 "$rc"
mg_expect_eq "audit: one drift what=config record" 1 "$(audit_count config)"
mg_expect_eq "audit: no drift what=binary record" 0 "$(audit_count binary)"
mg_expect "audit verify after config drift" ls_audit_verify

# Binary drift: a different file renamed over the path meshgw runs from (a
# running binary cannot be written in place: ETXTBSY).
ls_stop 5 # only if the config part failed and left it running
start_clean binary
cp "$MESHGW" "$MESHGW.new"
printf 'x' >>"$MESHGW.new"
mv -f "$MESHGW.new" "$MESHGW"
rc=$(ls_wait_exit 5) || rc="none (still running 5 s later)"
mg_expect_eq "binary replaced: exit status" 100 "$rc"
mg_expect_eq "audit: one drift what=binary record" 1 "$(audit_count binary)"
mg_expect_eq "audit: still one drift what=config record" 1 "$(audit_count config)"
mg_expect "audit verify after binary drift" ls_audit_verify
mg_finish
