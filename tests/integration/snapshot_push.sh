#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Pushing snapshots to a running meshgw over its control socket: accepted,
# rollback, unchanged, tampered, too few signatures, 100 MB, uids refused; the
# audit log names every reason and verifies; attestation names the active
# digest; a tampered persisted snapshot is drift (exit 100).
#
#   host (no netns)
#   +-----------------------------------+        meshctl push (root, nobody)
#   | meshgw  p0: net_null0             | <----  $LS_DIR/run/control.sock (0600)
#   |   state/ active.msnap antirollback|        meshctl -f PREFIX policy/attest
#   |   state/ audit.log  node.key      | <----  /var/run/dpdk/PREFIX/ (telemetry)
#   +-----------------------------------+
set -euo pipefail
. "$(dirname "$0")/lib_snapshot.sh"
mg_need_root
mg_need_bins
ls_setup push
trap ls_cleanup EXIT
cd "$LS_DIR/snap"

# expect_push WHAT FILE RC PREFIX: push FILE, want exit RC and a reply starting PREFIX.
expect_push() {
	local what=$1 file=$2 want_rc=$3 want=$4 out rc=0
	out=$(ls_push "$file") || rc=$?
	mg_expect_eq "$what: exit code" "$want_rc" "$rc"
	case "$out" in
	"$want"*) mg_log "ok: $what: $out" ;;
	*) mg_log "NOT OK: $what: reply '$out', want '$want...'"; MG_FAILS=$((MG_FAILS + 1)) ;;
	esac
}

# expect_active WHAT VERSION DIGEST: /meshgw/policy names this snapshot.
expect_active() {
	mg_expect_eq "$1: active version" "$2" "$(ls_pol version)"
	mg_expect_eq "$1: active digest" "$3" "$(ls_pol digest)"
}

audit_has() { grep -q -- "$1" "$LS_AUDIT"; }

ls_policy a.conf
ls_policy b.conf "$MG_ROOT/tests/data/loader/policy-b.conf"
ls_snapshot a.conf 1 v1.msnap ab
ls_snapshot b.conf 2 v2.msnap bc
ls_snapshot a.conf 3 v3-one.msnap c
ls_snapshot a.conf 3 v3-payload.msnap ab
ls_snapshot a.conf 3 v3-sig.msnap ab
ls_snapshot a.conf 3 v3-unknown.msnap ad
ls_flip v3-payload.msnap 100 # inside the payload: its SHA-256 no longer matches
ls_flip v3-sig.msnap -7     # inside b's signature
d1=$(ls_digest v1.msnap)
d2=$(ls_digest v2.msnap)
# 100 MB: a v3 envelope padded with zeros (the cap must stop it unread).
cp v1.msnap big.msnap
truncate -s 100M big.msnap

ls_conf gw.conf 'integrity = { interval_s = 1; };'
ls_start gw.conf || mg_die "meshgw did not start"
mg_expect_eq "boots into deny-all" deny_all "$(ls_pol active)"
mg_expect_eq "socket mode" 600 "$(stat -c %a "$LS_SOCK")"

expect_push "v1" v1.msnap 0 "accepted version=1 digest=$d1"
expect_active "after v1" 1 "$d1"
expect_push "v2" v2.msnap 0 "accepted version=2 digest=$d2"
expect_active "after v2" 2 "$d2"
expect_push "v1 again" v1.msnap 1 "refused reason=rollback "
expect_active "after rollback" 2 "$d2"
expect_push "v2 again" v2.msnap 0 "unchanged version=2 digest=$d2"
expect_active "after unchanged" 2 "$d2"
expect_push "tampered payload" v3-payload.msnap 1 "refused reason=framing "
expect_active "after tampered payload" 2 "$d2"
expect_push "tampered signature" v3-sig.msnap 1 "refused reason=signatures "
expect_active "after tampered signature" 2 "$d2"
expect_push "one signature" v3-one.msnap 1 "refused reason=signatures "
expect_active "after one signature" 2 "$d2"
expect_push "untrusted co-signer" v3-unknown.msnap 1 "refused reason=signatures "
expect_active "after untrusted co-signer" 2 "$d2"
expect_push "100 MB" big.msnap 1 "refused reason=size_cap"
expect_active "after 100 MB" 2 "$d2"
mg_expect "telemetry still answers after 100 MB" "$MESHCTL" -f "$LS_PREFIX" status >/dev/null
mg_expect_eq "state file" "2 $d2" "$(ls_state)"
mg_expect_eq "generation: deny-all, v1, v2" 3 "$(ls_pol generation)"

# Non-root: the socket's mode keeps uid 65534 out (connect fails: i/o, exit 3) ...
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$MESHCTL" push - --socket "$LS_SOCK" \
	<v1.msnap >nobody.out 2>&1 || rc=$?
mg_expect_eq "uid 65534 cannot connect (exit 3)" 3 "$rc"
mg_expect "... because of the socket's mode" grep -q "Permission denied" nobody.out
# ... and with the mode opened up, the gateway's own uid check still does.
chmod 0666 "$LS_SOCK"
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MESHCTL" push - --socket "$LS_SOCK" \
	<v1.msnap 2>&1) || rc=$?
chmod 0600 "$LS_SOCK"
mg_expect_eq "uid 65534 on an open socket: refused (exit 1)" 1 "$rc"
mg_expect_eq "... with the reason" "refused reason=uid_not_allowed" "$out"
expect_active "after uid 65534" 2 "$d2"

# Attestation names the active snapshot.
mg_expect "attest --expect-snapshot (active digest)" \
	"$MESHCTL" -f "$LS_PREFIX" attest --node-key "$LS_STATE/node.key.pub" --expect-snapshot "$d2"
rc=0
"$MESHCTL" -f "$LS_PREFIX" attest --node-key "$LS_STATE/node.key.pub" --expect-snapshot "$d1" \
	>attest.out 2>&1 || rc=$?
mg_expect_eq "attest --expect-snapshot (an older digest) fails" 1 "$rc"

# The audit log: every reason, and the chain with its signed checkpoints.
mg_expect "audit verify" ls_audit_verify
for r in rollback framing signatures; do
	mg_expect "audit names reason=$r" audit_has " snapshot.refused .* reason=$r "
done
mg_expect "audit: two accepted" [ "$(grep -c ' snapshot.accepted ' "$LS_AUDIT")" = 2 ]
mg_expect "audit: unchanged" audit_has " snapshot.unchanged .* version=2 "
mg_expect "audit: 100 MB (control, size_cap)" audit_has " control.refused .* reason=size_cap "
mg_expect "audit: uid 65534 refused" audit_has " control.refused .* reason=uid_not_allowed uid=65534 "
mg_expect_eq "counters: refused/rollback" 1 "$(ls_pol refused/rollback)"
mg_expect_eq "counters: refused/signatures" 3 "$(ls_pol refused/signatures)"
mg_expect_eq "counters: refused/framing" 1 "$(ls_pol refused/framing)"
mg_expect_eq "counters: control_refused/size_cap" 1 "$(ls_pol control_refused/size_cap)"
mg_expect_eq "counters: unchanged" 1 "$(ls_pol unchanged)"

# Drift: a flipped byte in the persisted snapshot; the integrity check runs each second.
ls_flip "$LS_STATE/active.msnap" 200
rc=$(ls_wait_exit 5) || rc="none (still running after 5 s)"
mg_expect_eq "tampered active.msnap: meshgw exits with 100 (drift)" 100 "$rc"
mg_expect "audit: drift what=snapshot_file" audit_has " drift .* what=snapshot_file "
mg_expect "audit verify after drift" ls_audit_verify

# A gateway that allows only uid 12345 refuses root.
rm -rf "$LS_STATE"
mkdir -m 0700 "$LS_STATE"
LS_CONTROL_EXTRA='allowed_uids = [ 12345 ];' ls_conf gw-12345.conf
ls_start gw-12345.conf || mg_die "meshgw (allowed_uids 12345) did not start"
expect_push "root when only uid 12345 may push" v1.msnap 1 "refused reason=uid_not_allowed"
mg_expect_eq "still deny-all" deny_all "$(ls_pol active)"
mg_expect "audit: uid 0 refused" audit_has " control.refused .* reason=uid_not_allowed uid=0 "
ls_stop
mg_expect_eq "SIGTERM: exit 0" 0 "$(ls_rc)"
mg_expect "audit verify after stop" ls_audit_verify
mg_finish
