#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A flood of full mTLS handshakes beside a live mTLS flow (issue 12, item 3):
# handshakes run on the handshake thread, never in the worker's loop, so an
# established flow on the same worker must not notice them.
#
#  netns mg-client 198.18.1.2                netns mg-gw (meshgw)                  netns mg-backend
#   pingpong (1 conn, 64 B every 1 ms) ==mTLS==> 198.18.1.1:8443 inbound ==plain==> 198.18.2.2:7 echo
#   flood from .2 and .4 (FLOOD_PROCS each) ==>     worker (core 1) <-> mg-hs-0 (core 0)
#
# One kept-alive mTLS connection does 64-byte request/echo round trips, first
# IDLE_S seconds alone, then FLOOD_S seconds while
# 2 x FLOOD_PROCS processes open fresh mTLS connections in a loop (a full
# handshake each, proven complete by an echo), from two source addresses,
# then IDLE_AFTER_S seconds alone again; "idle" below is both quiet windows.
# gateway.conf sets tls.max_handshakes = 4 and tls.peer_handshakes = 2, so the
# flood must wait for both caps.
#
# Checked:
# - the flow's p99 round trip during the flood is at most 2 x its idle p99
#   (issue 12), and its p50 too; no round trip lost;
# - the worker's loop gap (issue 12: "stays under 50 µs"). Two views:
#   * its own work: perf traces every system call of the worker thread for
#     TRACE_SYS_S in each window (cpu_trace.py syscalls); a stretch between
#     two system calls, less the interrupts and softirqs that ran on its time
#     meanwhile, is the worker's code alone (parse, TCP, TLS records, proxy,
#     handshake jobs in and out). Stretches of 50 µs or more during
#     the flood (not counting ones where the worker was switched out) may be
#     at most 2 x the idle window's + 2: the machine (a VM whose host takes
#     the vCPU now and then) gives a few at idle too, handshakes must add none.
#     The worker's minor page faults (/proc/.../stat) are counted too: a fault
#     costs about 75 µs on this VM, and the flood may add at most 10. Seen
#     on every run here: 336-352 in a flood of 450-800 connections against
#     2-4 at idle, at first touches of dataplane/tcp's rte_hash tables
#     (librte_hash lookups and adds: connection and TIME-WAIT hashes) and of
#     the TIME-WAIT records (tw_add), memory that EAL does not pre-fault
#     under --no-huge;
#   * whole loops: the worker's log2 loop histogram (worker/0/loop_hist_log2,
#     bucket b = [2^b, 2^(b+1)) TSC cycles) read at the edges of both windows.
#     On this topology a whole loop also holds the kernel's work inside the
#     worker's af_xdp system calls: a TX kick on a veth runs the peer
#     namespace's receive path (Linux TCP of mg-client or mg-backend) right
#     there, in the worker's time (cpu_trace.py core counts those NET_RX
#     softirqs). Both the loops from the 31-62 µs bucket up (the conservative
#     reading of 50 µs) and those of LONG_US (the 125-250 µs bucket) or more
#     may be at most 2 x the idle windows' count at the flood's length plus
#     one per ten handshakes. One full handshake's crypto alone is about 180 µs here
#     (MACHINE-NOTES), so a worker that ran handshakes inline would have one
#     such loop per handshake at least, and fails. The worker runs SCHED_FIFO
#     on its core (as in snapshot_swaps_ping.sh); the kernel's RT throttling
#     (50 ms of each second) still takes the core away once a second, in both
#     windows alike;
# - handshakes completed during the flood (proxy/tls_established grew by
#   every flood connection that got its echo) and none failed: every client
#   got its echo, nothing was reset at the deadline (proxy/tls_hs_timeout);
# - the caps bit and the capped handshakes waited rather than being reset
#   (proxy/tls_hs_capped and proxy/tls_peer_capped grew, and still no client
#   failed).
# The measuring client and the echo backend run SCHED_FIFO (below the
# worker's priority, so they never take its core) and the flood clients are
# pinned to core 0 at nice 19 (FLOOD_NICE): there they share the core with the
# handshake thread and the kernel's own packet work (ksoftirqd), and a flood
# from other hosts would take CPU from none of them; without it the test would
# measure the clients' scheduler. The pinning matters since Linux 6.12: its
# fair server runs runnable SCHED_OTHER tasks for up to 50 ms a second even on
# a core that a SCHED_FIFO task holds (a CI run saw 89 such preemptions of the
# worker by unpinned flood clients, and a flooded p99 of 875 µs against 263). Linux perf (linux-perf) is
# needed. MG_FLOOD_PROFILE=DIR adds a call-graph profile of the worker during
# the flood and keeps the traces there, for a person (the profile slows the
# worker in the flood window only: the loop checks may fail then).
#
# The timing checks (p99, p50, long stretches and loops) get a second run,
# from a fresh gateway, when the first misses one and every other check held:
# this VM's host takes the vCPU for hundreds of µs now and then (a profile of
# the long stretches puts most samples in pvm_irq_enable, the guest's return
# from the host), and a run where that lands in the flood window fails by
# chance. The second run's verdict is final; both are in the log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${MG_FLOOD_ATTEMPT:-}" ]; then
	rc=0
	MG_FLOOD_ATTEMPT=1 "$0" "$@" || rc=$?
	[ "$rc" -eq 3 ] || exit "$rc"
	echo "mtls_flood.sh: a timing check missed on the first run: the second run decides" >&2
	MG_FLOOD_ATTEMPT=2 exec "$0" "$@"
fi
. "$here/../lib.sh"
. "$here/lib_policy.sh"
IDLE_S=${IDLE_S:-4}
FLOOD_S=${FLOOD_S:-7}
FLOOD_PROCS=${FLOOD_PROCS:-4}
IDLE_AFTER_S=${IDLE_AFTER_S:-3}
GAP_US=50
LONG_US=100 # whole loops from the log2 bucket at or above this (125 µs at 2.1 GHz)
TRACE_S=2
TRACE_SYS_S=0.5
SRC2=198.18.1.4 # a second source address in mg-client (free on the topology)
mg_test_setup mgt-mtls-flood
tmp=$(mktemp -d /tmp/mgt-mtls-flood.XXXXXX)
PIDS=()
test_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	ip -n mg-client addr del "$SRC2/24" dev eth0 2>/dev/null || true
	rm -rf "$tmp"
}
trap mg_cleanup EXIT
VIP=$MG_GW_FABRIC_IP:8443
PKI=$tmp/pki
LOAD=$here/mtls_load.py

"$MG_ROOT/conf/pki.sh" "$PKI" >/dev/null
mkdir -p "$tmp/svid"
cp "$PKI/svid/backend.chain.pem" "$tmp/svid/backend.pem"
cp "$PKI/svid/backend.key" "$tmp/svid/backend.key"
cat >"$tmp/policy.conf" <<EOF
default_action = "deny";
trust_domains = ( { name = "example.org"; bundle_file = "$PKI/example.org/ca.pem"; } );
workloads = (
  { name = "client"; spiffe_id = "spiffe://example.org/ns/prod/sa/client"; addresses = [ "$MG_CLIENT_IP" ]; },
  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";
    addresses = [ "$MG_BACKEND_IP" ]; ports = [ 7 ]; }
);
rules = ( { name = "client-to-backend"; action = "allow";
            from = [ "spiffe://example.org/ns/prod/sa/client" ]; to = { workload = "backend"; }; } );
EOF
lp_setup "$tmp/policy"
sed -e '/^listeners[[:space:]]*=/,/^);/d' "$MG_ROOT/conf/demo/gateway.conf" >"$tmp/base.conf"
lp_conf "$tmp/base.conf" "$tmp/gateway.conf" \
	"listeners = ( { name = \"echo_tls\"; type = \"inbound\"; listen = \"$VIP\"; upstream = \"$MG_BACKEND_IP:7\"; } );" \
	"svids = ( { name = \"backend\"; cert = \"$tmp/svid/backend.pem\"; key = \"$tmp/svid/backend.key\"; } );" \
	"tls = { handshake_timeout_ms = 10000; max_handshakes = 4; peer_handshakes = 2; };"
mg_start_gateway "$tmp/gateway.conf" "$MG_PREFIX"
mg_expect "the policy (client may reach the echo backend) is accepted" \
	lp_push "$tmp/policy.conf" 1
# The worker owns core 1 (DESIGN: dedicated cores); see the header.
for t in /proc/"$MG_GW_PID"/task/*; do
	case "$(cat "$t/comm" 2>/dev/null)" in
	rte-worker-*)
		chrt -f -p 2 "${t##*/}"
		worker_tid=${t##*/}
		;;
	esac
done
ip -n mg-client addr add "$SRC2/24" dev eth0

tcpk() { mg_ctl "$MG_PREFIX" tcp --json | mg_json_get "$1"; }
# loop_snap FILE: the worker's loop counters now (raw telemetry: meshctl's
# JSON has no arrays), with the wall clock.
loop_snap() {
	"$MG_PYTHON" - "/var/run/dpdk/$MG_PREFIX/dpdk_telemetry.v2" \
		"/proc/$MG_GW_PID/task/$worker_tid/stat" >"$1" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(1 << 16)
def tel(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))[cmd]
st, hz = tel("/meshgw/stats"), tel("/meshgw/status")["tsc_hz"]
# the worker thread's minor page faults (field 10 of its stat)
minflt = int(open(sys.argv[2]).read().rsplit(")", 1)[1].split()[7])
print(json.dumps({"hist": st["worker/0/loop_hist_log2"], "loops": st["worker/0/loops"],
                  "tsc_hz": hz, "t_ns": time.time_ns(), "minflt": minflt}))
PY
}
# loops_over A B US [low]: loops between two snapshots in buckets whose upper
# edge is above US µs (with "low": whose lower edge is at least US µs), the
# loops run, the lowest loop length counted (µs) and the buckets that moved.
loops_over() {
	"$MG_PYTHON" - "$1" "$2" "$3" "${4:-}" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bound = float(sys.argv[3]) * 1e-6 * b["tsc_hz"]
hist = [y - x for x, y in zip(a["hist"], b["hist"])]
low = sys.argv[4] == "low"
first = min(i for i in range(len(hist)) if (2 ** i >= bound if low else 2 ** (i + 1) > bound))
print(sum(hist[first:]), b["loops"] - a["loops"], round(2 ** first / b["tsc_hz"] * 1e6),
      " ".join("%d:%d" % (i, n) for i, n in enumerate(hist) if n))
PY
}
# trace NAME: TRACE_S seconds of the worker's core (softirqs, irqs, switches)
# and, in the middle, TRACE_SYS_S of the worker's system calls (every one:
# about 2 a loop). Waits TRACE_S.
trace() {
	perf record -q -C 1 -e sched:sched_switch -e irq:softirq_entry -e irq:softirq_exit \
		-e irq:irq_handler_entry -e irq:irq_handler_exit -o "$tmp/$1-core.data" -- \
		sleep "$TRACE_S" 9>&- >/dev/null 2>&1 &
	local core=$!
	sleep 0.5
	perf record -q -m 8192 -t "$worker_tid" -e raw_syscalls:sys_enter \
		-e raw_syscalls:sys_exit -e sched:sched_switch -e irq:softirq_entry \
		-e irq:softirq_exit -e irq:irq_handler_entry -e irq:irq_handler_exit \
		-e exceptions:page_fault_user -o "$tmp/$1-sys.data" -- \
		sleep "$TRACE_SYS_S" 9>&- >/dev/null 2>&1 || true
	wait "$core" || true
}
# trace_sum NAME: the sums of trace NAME (after the flood: perf script takes a core).
trace_sum() {
	perf script -i "$tmp/$1-core.data" --ns -F tid,time,event,trace 2>/dev/null |
		"$MG_PYTHON" "$here/cpu_trace.py" core --long "$GAP_US" >"$tmp/$1-core.json"
	perf script -i "$tmp/$1-sys.data" --ns -F tid,time,event,trace 2>/dev/null |
		"$MG_PYTHON" "$here/cpu_trace.py" syscalls --long "$GAP_US" >"$tmp/$1-sys.json"
	mg_log "$1: worker's core $(cat "$tmp/$1-core.json")"
	mg_log "$1: worker's system calls $(cat "$tmp/$1-sys.json")"
}
# field FILE PATH...: one value of a JSON file.
field() {
	"$MG_PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$@"
}
# rtt FILE A B [C D]: "COUNT P50_US P99_US MAX_US" of the round trips started
# between two snapshots (or in either of two such windows).
rtt() {
	"$MG_PYTHON" - "$@" <<'PY'
import json, sys
ts = [json.load(open(p))["t_ns"] for p in sys.argv[2:]]
win = list(zip(ts[0::2], ts[1::2]))
r = sorted(int(l.split()[1]) for l in open(sys.argv[1])
           if any(a <= int(l.split()[0]) < b for a, b in win))
if not r:
    print(0, 0, 0, 0)
else:
    q = lambda f: r[min(len(r) - 1, int(f * len(r)))] // 1000
    print(len(r), q(0.50), q(0.99), r[-1] // 1000)
PY
}
# ms A B: milliseconds between two snapshots.
ms() { echo $((($(mg_json_get t_ns <"$2") - $(mg_json_get t_ns <"$1")) / 1000000)); }

ip netns exec mg-backend chrt -f 1 "$MG_PYTHON" "$LOAD" echo-server --bind "$MG_BACKEND_IP" \
	--port 7 --secs 50 9>&- >"$tmp/echo.out" 2>&1 &
PIDS+=($!)
sleep 0.5
client chrt -f 1 "$MG_PYTHON" "$LOAD" pingpong --connect "$VIP" --ca "$PKI/example.org/ca.pem" \
	--cert "$PKI/svid/client.pem" --key "$PKI/svid/client.key" --secs 50 \
	--stop "$tmp/stop" --out "$tmp/rtt.txt" 9>&- >"$tmp/pingpong.out" 2>&1 &
pp=$!
PIDS+=($pp)
sleep 1.5 # the flow's handshake, then steady round trips
loop_snap "$tmp/idle0.json"
trace idle
sleep $((IDLE_S - TRACE_S))
loop_snap "$tmp/idle1.json"
est0=$(tcpk proxy.tls_established)
hs_capped0=$(tcpk proxy.tls_hs_capped)
peer_capped0=$(tcpk proxy.tls_peer_capped)
timeout0=$(tcpk proxy.tls_hs_timeout)
loop_snap "$tmp/flood0.json"
fl=()
for src in "$MG_CLIENT_IP" "$SRC2"; do
	for ((i = 0; i < FLOOD_PROCS; i++)); do
		client taskset -c 0 nice -n "${FLOOD_NICE:-19}" "$MG_PYTHON" "$LOAD" flood --connect "$VIP" \
			--ca "$PKI/example.org/ca.pem" --cert "$PKI/svid/client.pem" \
			--key "$PKI/svid/client.key" --bind "$src" --count 5000 --secs "$FLOOD_S" \
			9>&- >"$tmp/flood-$src-$i.out" 2>&1 &
		fl+=($!)
		PIDS+=($!)
	done
done
sleep 1 # handshakes in full swing
trace flood
if [ -n "${MG_FLOOD_PROFILE:-}" ]; then
	# MG_FLOOD_PROFILE=DIR: for a person, the worker's samples beside its
	# system calls, the call chains of its page faults and futex calls, and
	# the threads' CPU shares during the flood.
	mkdir -p "$MG_FLOOD_PROFILE"
	perf record -q -m 8192 -F 20000 -e cpu-clock -e raw_syscalls:sys_enter \
		-e raw_syscalls:sys_exit -t "$worker_tid" -o "$MG_FLOOD_PROFILE/worker-mixed.data" -- \
		sleep 0.5 9>&- >/dev/null 2>&1 || true
	perf record -q --call-graph dwarf -e exceptions:page_fault_user -e syscalls:sys_enter_futex \
		-t "$worker_tid" -o "$MG_FLOOD_PROFILE/worker-faults.data" -- sleep 2 \
		9>&- >/dev/null 2>&1 &
	top -b -H -d 1 -n 2 9>&- >"$MG_FLOOD_PROFILE/top.txt" 2>&1 &
	cp "$tmp"/*.data "$MG_FLOOD_PROFILE/"
fi
for p in "${fl[@]}"; do
	wait "$p" || mg_log "a flood client exited $?"
done
loop_snap "$tmp/flood1.json"
sleep 0.5 # the last echoes' handshakes are counted
est1=$(tcpk proxy.tls_established)
hs_capped1=$(tcpk proxy.tls_hs_capped)
peer_capped1=$(tcpk proxy.tls_peer_capped)
# A second idle window after the flood: the baseline is both, so that what
# the rest of the shared machine does drifts into both sides alike.
loop_snap "$tmp/after0.json"
sleep "$IDLE_AFTER_S"
loop_snap "$tmp/after1.json"
touch "$tmp/stop"
rc=0
wait "$pp" || rc=$?
mg_log "pingpong: $(cat "$tmp/pingpong.out") (rc $rc)"
timeout2=$(tcpk proxy.tls_hs_timeout)
# Every counter is read: stop the gateway, so that its worker gives core 1
# back to the traces' post-processing (and the run stays short).
mg_stop_gateway "$MG_GW_PID" "$MG_PREFIX"

read -r ok failed < <(cat "$tmp"/flood-*.out | "$MG_PYTHON" -c '
import json, sys
ok = failed = 0
for line in sys.stdin:
    d = json.loads(line)
    ok += d["ok"]
    failed += sum(d["errors"].values())
    if d["errors"]:
        print("errors from", d["bind"], d["errors"], file=sys.stderr)
print(ok, failed)')
read -r n_i p50_i p99_i max_i < <(rtt "$tmp/rtt.txt" "$tmp/idle0.json" "$tmp/idle1.json" \
	"$tmp/after0.json" "$tmp/after1.json")
read -r n_f p50_f p99_f max_f < <(rtt "$tmp/rtt.txt" "$tmp/flood0.json" "$tmp/flood1.json")
read -r over_i loops_i from_us hist_i < <(loops_over "$tmp/idle0.json" "$tmp/idle1.json" "$GAP_US")
read -r over_a loops_a _ hist_a < <(loops_over "$tmp/after0.json" "$tmp/after1.json" "$GAP_US")
read -r over_f loops_f _ hist_f < <(loops_over "$tmp/flood0.json" "$tmp/flood1.json" "$GAP_US")
read -r long_i _ long_us _ < <(loops_over "$tmp/idle0.json" "$tmp/idle1.json" "$LONG_US" low)
read -r long_a _ _ _ < <(loops_over "$tmp/after0.json" "$tmp/after1.json" "$LONG_US" low)
read -r long_f _ _ _ < <(loops_over "$tmp/flood0.json" "$tmp/flood1.json" "$LONG_US" low)
flood_ms=$(ms "$tmp/flood0.json" "$tmp/flood1.json")
idle_ms=$(($(ms "$tmp/idle0.json" "$tmp/idle1.json") + $(ms "$tmp/after0.json" "$tmp/after1.json")))
over_i=$((over_i + over_a))
loops_i=$((loops_i + loops_a))
long_i=$((long_i + long_a))
trace_sum idle
trace_sum flood
mg_log "idle  $idle_ms ms: $n_i round trips, p50 $p50_i us, p99 $p99_i us, max $max_i us; worker loops >= $from_us us: $over_i of $loops_i, >= $long_us us: $long_i (log2 buckets before $hist_i; after $hist_a)"
mg_log "flood $flood_ms ms: $n_f round trips, p50 $p50_f us, p99 $p99_f us, max $max_f us; worker loops >= $from_us us: $over_f of $loops_f, >= $long_us us: $long_f (log2 buckets $hist_f)"
flt_i=$(($(mg_json_get minflt <"$tmp/idle1.json") - $(mg_json_get minflt <"$tmp/idle0.json")))
flt_f=$(($(mg_json_get minflt <"$tmp/flood1.json") - $(mg_json_get minflt <"$tmp/flood0.json")))
mg_log "flood: $ok handshakes with an echo, $failed failed; tls_established +$((est1 - est0)), tls_hs_capped +$((hs_capped1 - hs_capped0)), tls_peer_capped +$((peer_capped1 - peer_capped0))"
user_i=$(field "$tmp/idle-sys.json" user long)
user_f=$(field "$tmp/flood-sys.json" user long)
sys_f=$(field "$tmp/flood-sys.json" syscall long)
mg_log "worker's own work between system calls >= $GAP_US us: idle $user_i, flood $user_f (longest $(field "$tmp/flood-sys.json" user max_us) us); system calls >= $GAP_US us in the flood: $sys_f (longest $(field "$tmp/flood-sys.json" syscall max_us) us); NET_RX softirqs on its core >= $GAP_US us: idle $(field "$tmp/idle-core.json" softirq NET_RX long), flood $(field "$tmp/flood-core.json" softirq NET_RX long)"

# timed_expect WHAT CMD...: mg_expect for a timing check (see the header).
TIMED_FAILS=0
timed_expect() {
	local what=$1
	shift
	if "$@"; then
		mg_log "ok: $what"
	else
		mg_log "NOT OK (timing, run $MG_FLOOD_ATTEMPT): $what"
		TIMED_FAILS=$((TIMED_FAILS + 1))
	fi
}
mg_expect_eq "the kept-alive flow lost no round trip (pingpong rc)" 0 "$rc"
mg_expect "round trips measured in both windows (idle $n_i, flood $n_f; >= 100 a second)" \
	[ "$n_i" -ge $((IDLE_S * 100)) ] && [ "$n_f" -ge $((flood_ms / 10)) ]
timed_expect "flow p99 during the flood ($p99_f us) <= 2 x idle p99 ($p99_i us)" \
	[ "$p99_f" -le $((2 * p99_i)) ]
timed_expect "flow p50 during the flood ($p50_f us) <= 2 x idle p50 ($p50_i us)" \
	[ "$p50_f" -le $((2 * p50_i)) ]
mg_expect "system calls of the worker traced in both windows" \
	[ "$(field "$tmp/idle-sys.json" user n)" -ge 1000 ] && [ "$(field "$tmp/flood-sys.json" user n)" -ge 1000 ]
mg_expect "the worker's page faults during the flood ($flt_f, $(field "$tmp/flood-sys.json" long_user_with_page_fault) of its long stretches had one) <= idle's ($flt_i) + 10" \
	[ "$flt_f" -le $((flt_i + 10)) ]
timed_expect "the worker's own work between system calls: stretches >= $GAP_US us in the flood ($user_f) <= 2 x idle ($user_i) + 2" \
	[ "$user_f" -le $((2 * user_i + 2)) ]
gap_bound=$((2 * over_i * flood_ms / (idle_ms + 1) + ok / 10))
timed_expect "whole worker loops >= $from_us us (the bucket holding $GAP_US us) during the flood ($over_f) <= 2 x idle's at the flood's length + handshakes/10 ($gap_bound)" \
	[ "$over_f" -le "$gap_bound" ]
long_bound=$((2 * long_i * flood_ms / (idle_ms + 1) + ok / 10))
timed_expect "whole worker loops >= $long_us us during the flood ($long_f) <= 2 x idle's at the flood's length + handshakes/10 ($long_bound)" \
	[ "$long_f" -le "$long_bound" ]
mg_expect "the worker looped throughout ($loops_f loops, >= 10000 a second)" \
	[ "$loops_f" -ge $((flood_ms * 10)) ]
mg_expect "handshakes completed during the flood ($ok, >= $((FLOOD_S * 20)))" \
	[ "$ok" -ge $((FLOOD_S * 20)) ]
mg_expect_eq "flood connections that failed" 0 "$failed"
mg_expect_eq "proxy/tls_established grew by every flood handshake" "$ok" "$((est1 - est0))"
mg_expect "handshakes waited for tls.max_handshakes (proxy/tls_hs_capped +$((hs_capped1 - hs_capped0)))" \
	[ "$hs_capped1" -gt "$hs_capped0" ]
mg_expect "handshakes waited for tls.peer_handshakes (proxy/tls_peer_capped +$((peer_capped1 - peer_capped0)))" \
	[ "$peer_capped1" -gt "$peer_capped0" ]
mg_expect_eq "no handshake reset at the deadline (proxy/tls_hs_timeout, to the end)" "$timeout0" \
	"$timeout2"
if [ "$TIMED_FAILS" -gt 0 ] && [ "$MG_FAILS" -eq 0 ] && [ "$MG_FLOOD_ATTEMPT" = 1 ]; then
	exit 3
fi
MG_FAILS=$((MG_FAILS + TIMED_FAILS))
mg_finish
