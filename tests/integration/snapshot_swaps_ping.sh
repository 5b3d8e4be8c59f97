#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 1000 snapshot swaps while traffic flows: each push is a full verify, compile,
# persist and RCU publish, and the worker answering ping must not miss a beat.
# mg-client pings 198.18.1.1 every 10 ms for the whole run: no echo may be lost.
#
#  mg-client 198.18.1.2 --ping (100/s)--> fab0 198.18.1.1  meshgw (mg-gw)
#                                                 ^
#  host: meshctl push v1..v1000 ---control.sock---+  (2-of-3 signed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_snapshot.sh"
SWAPS=${SWAPS:-1000}

mg_test_setup mgt-swapping
ls_setup swapping
test_cleanup() {
	[ -z "${ping_pid:-}" ] || kill -INT "$ping_pid" 2>/dev/null || true
	rm -rf "$LS_DIR"
}
trap mg_cleanup EXIT

# The demo gateway with this test's state, socket and trust keys.
conf=$LS_DIR/gw.conf
sed -e "s|^state_dir = .*|state_dir = \"$LS_STATE\";|" \
    -e "s|socket = .*|socket = \"$LS_SOCK\";|" "$MG_ROOT/conf/demo/gateway.conf" >"$conf"
cat >>"$conf" <<CONF
trust = { keys = [ "$LS_DIR/keys/a.pub", "$LS_DIR/keys/b.pub", "$LS_DIR/keys/c.pub" ]; threshold = 2; };
CONF
mg_start_gateway "$conf" "$MG_PREFIX"

# Every snapshot carries the same small policy; only the version moves.
ls_policy "$LS_DIR/policy.conf"
t0=$SECONDS
export -f ls_snapshot mg_die mg_log
export MESHCTL LS_DIR LS_EXPIRES
seq 1 "$SWAPS" | xargs -P 2 -I{} bash -c \
	'ls_snapshot "$LS_DIR/policy.conf" {} "$LS_DIR/snap/{}.msnap" ab'
mg_log "built and signed $SWAPS snapshots in $((SECONDS - t0)) s"

out=$LS_DIR/ping.out
ip netns exec mg-client ping -n -i 0.01 -W 1 "$MG_GW_FABRIC_IP" >"$out" 2>&1 &
ping_pid=$!
sleep 1
t0=$SECONDS
accepted=0
for ((v = 1; v <= SWAPS; v++)); do
	reply=$(ls_push "$LS_DIR/snap/$v.msnap")
	case "$reply" in accepted*) accepted=$((accepted + 1)) ;; *) mg_log "v$v: $reply" ;; esac
done
secs=$((SECONDS - t0))
sleep 1
kill -INT "$ping_pid"
wait "$ping_pid" || true
ping_pid=
summary=$(grep -E 'packets transmitted' "$out")
mg_log "$SWAPS pushes in $secs s; ping: $summary"
sent=$(sed -E 's/^([0-9]+) packets transmitted.*/\1/' <<<"$summary")
got=$(sed -E 's/.* ([0-9]+) received.*/\1/' <<<"$summary")

mg_expect_eq "pushes accepted" "$SWAPS" "$accepted"
mg_expect_eq "active version" "$SWAPS" "$(mg_ctl "$MG_PREFIX" policy --json | mg_json_get version)"
mg_expect_eq "RCU generation (boot deny-all + every swap)" "$((SWAPS + 1))" \
	"$(mg_ctl "$MG_PREFIX" policy --json | mg_json_get generation)"
mg_expect "pinged throughout (sent $sent >= 100)" [ "$sent" -ge 100 ]
mg_expect_eq "echo replies lost during $SWAPS swaps" 0 "$((sent - got))"
mg_expect_eq "slowpath.reply_ring_full" 0 "$(mg_stat "$MG_PREFIX" slowpath.reply_ring_full)"
mg_expect "audit chain verifies" ls_audit_verify
mg_finish
