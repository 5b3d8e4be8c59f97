#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 500 snapshot swaps while traffic flows: each push is a full verify, compile,
# persist and RCU publish, and the worker's loop must not stall for it. A swap
# costs a worker one pointer load (DESIGN "Publishing through RCU"). The
# worker's own log2(cycles) loop histogram (/meshgw/stats
# worker/0/loop_hist_log2) counts its loops of GAP_US (500 µs) or more during
# the swaps, and during UNCHANGED (200) pushes of the unchanged last snapshot (the same
# meshctl processes and signature checks, no compile and no publish): the
# rate during the swaps may exceed the unchanged pushes' rate by half, plus
# SWAPS/10 loops, and no more. A worker that waited 500 µs once per swap fails.
# SWAPS was 1000, which took 100 s to build and sign; the bound and the long
# loops a stalling worker adds both grow with SWAPS, so 500 fail a stall once
# per swap (500 against about 1.5 x 60 + 50) and one every third swap as 1000
# did, and the baseline keeps its 200 pushes (about 4 s of the machine's noise).
# The worker runs SCHED_FIFO on its core for the test, so that other work on a
# shared machine does not preempt it and the comparison is not noise.
# ICMP echo is answered by the control thread, not the worker, so the ping
# (every 10 ms, none lost) shows only that the control thread still serves the
# slow path between pushes.
#
#  mg-client 198.18.1.2 --ping (100/s)--> fab0 198.18.1.1  meshgw (mg-gw)
#                                                 ^   worker/0 loop histogram
#  host: meshctl push v1..v500 ----control.sock---+   (telemetry, before/after)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_snapshot.sh"
SWAPS=${SWAPS:-500}
UNCHANGED=${UNCHANGED:-200}
GAP_US=500

# loops_over FILE_A FILE_B: loops of GAP_US or more between two snapshots of
# the worker's counters (whole log2 buckets at or above the bound), the loops
# run and the longest loop seen, as "OVER LOOPS WORST_US".
loops_over() {
	"$MG_PYTHON" - "$1" "$2" "$GAP_US" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bound = float(sys.argv[3]) * 1e-6 * b["tsc_hz"]
hist = [y - x for x, y in zip(a["hist"], b["hist"])]
over = sum(n for i, n in enumerate(hist) if 2 ** i >= bound)
top = max((i for i, n in enumerate(hist) if n), default=0)
worst = b["max"] if b["max"] > a["max"] else 2 ** (top + 1) - 1
print(over, b["loops"] - a["loops"], round(worst / b["tsc_hz"] * 1e6))
PY
}
# loop_snap FILE: the worker's loop counters now (raw telemetry: meshctl's
# JSON has no arrays).
loop_snap() {
	"$MG_PYTHON" - "/var/run/dpdk/$MG_PREFIX/dpdk_telemetry.v2" >"$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(1 << 16)
def tel(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))[cmd]
st, hz = tel("/meshgw/stats"), tel("/meshgw/status")["tsc_hz"]
print(json.dumps({"hist": st["worker/0/loop_hist_log2"], "max": st["worker/0/loop_max_cycles"],
                  "loops": st["worker/0/loops"], "tsc_hz": hz}))
PY
}

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
# Every snapshot carries the same small policy; only the version moves. They
# are built before meshgw starts: its worker then spins on core 1, and the
# builds would have one core instead of two.
ls_policy "$LS_DIR/policy.conf"
t0=$SECONDS
export -f ls_snapshot mg_die mg_log
export MESHCTL LS_DIR LS_EXPIRES
seq 1 "$SWAPS" | xargs -P 2 -I{} bash -c \
	'ls_snapshot "$LS_DIR/policy.conf" {} "$LS_DIR/snap/{}.msnap" ab'
mg_log "built and signed $SWAPS snapshots in $((SECONDS - t0)) s"
mg_start_gateway "$conf" "$MG_PREFIX"
# The worker owns core 1 (DESIGN: dedicated cores): SCHED_FIFO keeps the
# machine's other work off it for this run, except the kernel's RT throttling
# (50 ms each second by default, one long loop per second), so long loops are
# the gateway's own. The other threads run at nice -20.
# A thread may end between the listing and its turn (seen once in CI): skip it.
for t in /proc/"$MG_GW_PID"/task/*; do
	comm=$(cat "$t/comm" 2>/dev/null) || continue
	case "$comm" in
	rte-worker-*) chrt -f -p 1 "${t##*/}" ;;
	*) renice -n -20 -p "${t##*/}" >/dev/null 2>&1 || true ;;
	esac
done

out=$LS_DIR/ping.out
ip netns exec mg-client ping -n -i 0.01 -W 1 "$MG_GW_FABRIC_IP" >"$out" 2>&1 &
ping_pid=$!
sleep 1
loop_snap "$LS_DIR/swaps0.json"
t0=$(date +%s%N)
accepted=0
for ((v = 1; v <= SWAPS; v++)); do
	reply=$(ls_push "$LS_DIR/snap/$v.msnap")
	case "$reply" in accepted*) accepted=$((accepted + 1)) ;; *) mg_log "v$v: $reply" ;; esac
done
loop_snap "$LS_DIR/swaps1.json"
ns=$(($(date +%s%N) - t0))
secs=$((ns / 1000000000))
# The same processes without a publish: the machine's own rate of long loops.
unchanged=$UNCHANGED
loop_snap "$LS_DIR/same0.json"
t1=$(date +%s%N)
for ((i = 0; i < unchanged; i++)); do
	reply=$(ls_push "$LS_DIR/snap/$SWAPS.msnap")
	case "$reply" in unchanged*) ;; *) mg_log "unchanged push $i: $reply" ;; esac
done
loop_snap "$LS_DIR/same1.json"
ns_same=$(($(date +%s%N) - t1))
read -r over_swaps loops_swaps worst_swaps < <(loops_over "$LS_DIR/swaps0.json" "$LS_DIR/swaps1.json")
read -r over_same loops_same worst_same < <(loops_over "$LS_DIR/same0.json" "$LS_DIR/same1.json")
noise=$((over_same * (ns / 1000000) / (ns_same / 1000000 + 1)))
mg_log "worker loops >= $GAP_US us: $over_swaps of $loops_swaps during $SWAPS swaps in $((ns / 1000000)) ms (worst $worst_swaps us); $over_same of $loops_same during $unchanged unchanged pushes in $((ns_same / 1000000)) ms (worst $worst_same us), $noise at the swaps' length"
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
mg_expect "the worker looped throughout ($loops_swaps loops >= 1000 per s)" \
	[ "$loops_swaps" -ge $((1000 * (secs + 1))) ]
mg_expect "worker loops >= $GAP_US us during swaps ($over_swaps) <= 1.5 x without a publish ($noise) + SWAPS/10" \
	[ "$over_swaps" -le $((noise * 3 / 2 + SWAPS / 10)) ]
mg_expect "pinged throughout (sent $sent >= 100)" [ "$sent" -ge 100 ]
mg_expect_eq "echo replies (control thread) lost during $SWAPS swaps" 0 "$((sent - got))"
mg_expect_eq "slowpath.reply_ring_full" 0 "$(mg_stat "$MG_PREFIX" slowpath.reply_ring_full)"
mg_expect "audit chain verifies" ls_audit_verify
mg_finish
