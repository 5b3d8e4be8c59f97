#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A few hostile peers must not exhaust a core's TCP memory (issue 11 item 1).
# 50 hostile connections hold what they can on the worker: 40 send one-byte
# segments each behind a hole (out-of-order data nobody can read), 10 request a
# big file and then keep their window shut, answering every probe; 20 more
# SYNs are never completed. Meanwhile curl in mg-client downloads 100 MB
# through the same worker's listener from mg-backend: the download must finish
# with its SHA-256 intact while every hostile peer still holds what it took (no
# timeout below has fired yet), and TCP mem_used, sampled several times a second, must stay
# below mem_max (by more than 64 KiB: a stack pressed against its bound sits
# within one buffer of it). Then the timeouts of gateway.conf's tcp group free what the
# hostile peers held: half-open handshakes (handshake_timeout_s), zero-window
# peers (zero_window_timeout_s, RST), pairs moving no byte (idle_timeout_s).
# The timeouts are short (20, 25, 30 s) so that the test waits for them
# briefly; the attack is in place and the download done within a few seconds
# (about 6 on a loaded machine), and the check that no timeout fired before the
# download ended keeps them from cutting the attack short.
#
#  netns mg-client                          netns mg-gw (meshgw, 1 worker)        netns mg-backend
#  tcp_oom.py (AF_PACKET, src 198.18.1.77)-+
#    40 ooo + 10 zero-window + 20 half-open |
#  curl 100 MB (198.18.1.2) ---------------+[br0]--> fab0 198.18.1.1:8080 ==> loc0 --> http.server :80
#                                                    mem_used / mem_max sampled
#
# Environment: MG_OOM_BIG_MB (100), MG_OOM_CURL_S (curl's limit, 120),
# MG_OOM_OLD=1 (for a build without the issue 11 settings: no tcp group, no
# timeout phase; MG_OOM_MEM_MAX then gives the bound its telemetry lacks).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpoom
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpoom.XXXXXX)
BIG_MB=${MG_OOM_BIG_MB:-100}
CURL_S=${MG_OOM_CURL_S:-120}
OLD=${MG_OOM_OLD:-}
# The zero-window peers shut their window about when the ooo pairs are up: the
# zero-window timeout must come before the idle one (5 s apart), or idle would
# close those pairs first and zero_window_timeout would not be shown.
IDLE_S=30 HANDSHAKE_S=20 ZWND_S=25
HOSTILE_S=$((IDLE_S + 40))
. "$MG_ROOT/tests/integration/lib_l4.sh"
PIDS=()
held_at= # "SECONDS: the three timeout counters" when the download ended

test_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	l4_down
	rm -rf "$tmp"
}

# sampler FILE: "seconds mem_used ooo_mem", one telemetry read each, as fast
# as meshctl answers (several a second) until killed.
sampler() {
	while :; do
		mg_ctl "$MG_PREFIX" tcp --json 2>/dev/null | "$MG_PYTHON" -c '
import json, sys, time
d = json.load(sys.stdin)
d = d.get("/meshgw/tcp", d)
print("%.1f %d %d" % (time.time(), d.get("mem_used", 0), d.get("ooo_mem", 0)))' >>"$1" || true
		sleep 0.1
	done
}

mkdir -p "$tmp/www"
head -c $((BIG_MB * 1048576)) /dev/urandom >"$tmp/www/big"
ip netns exec mg-backend "$MG_PYTHON" -m http.server 80 --bind "$MG_BACKEND_IP" \
	--directory "$tmp/www" 9>&- >"$tmp/http.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
	backend curl -s -o /dev/null -r 0-0 "http://$MG_BACKEND_IP/big" && break
	sleep 0.1
done
[ -n "$OLD" ] || L4_TCP="{ idle_timeout_s = $IDLE_S; handshake_timeout_s = $HANDSHAKE_S; zero_window_timeout_s = $ZWND_S; }"
l4_up
bound=$(l4_tcp mem_max)
[ "$bound" -gt 0 ] || bound=${MG_OOM_MEM_MAX:-0}
mg_expect "the gateway reports its per-core bound mem_max ($bound)" test "$bound" -gt 0
gw_mac=$(mg_mac mg-gw fab0)

sampler "$tmp/samples" &
PIDS+=($!)
t0=$SECONDS
client "$MG_PYTHON" "$MG_ROOT/tests/integration/tcp_oom.py" --iface eth0 --gw-mac "$gw_mac" \
	--dst "$L4_VIP" --src 198.18.1.77 --seconds "$HOSTILE_S" --ready-file "$tmp/ready" \
	9>&- >"$tmp/hostile.json" &
hostile=$!
PIDS+=($hostile)
for ((i = 0; i < 300; i++)); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
mg_expect "the hostile peers are in place" test -e "$tmp/ready"
mg_log "hostile: $(cat "$tmp/ready" 2>/dev/null) after $((SECONDS - t0)) s"
sleep 1
mg_log "before the download: mem_used $(l4_tcp mem_used) ooo_mem $(l4_tcp ooo_mem) of mem_max $bound"

fetch() {
	local t1 t2
	t1=$(date +%s%N)
	client timeout $((CURL_S + 5)) curl -sS --max-time "$CURL_S" -o "$tmp/got" \
		"http://$L4_VIP/big" || { mg_log "curl failed or stalled"; return 1; }
	t2=$(date +%s%N)
	[ -n "$OLD" ] || held_at="$((SECONDS - t0)) s: $(l4_tcp handshake_timeout) $(l4_tcp zero_window_timeout) $(l4_tcp closed_idle)"
	mg_log "download: $(stat -c %s "$tmp/got") bytes in $(((t2 - t1) / 1000000)) ms"
	[ "$(sha256sum <"$tmp/got" | cut -d' ' -f1)" = "$(sha256sum <"$tmp/www/big" | cut -d' ' -f1)" ]
}
mg_expect "${BIG_MB} MB through the same worker during the attack, SHA-256 intact" fetch
if [ -z "$OLD" ]; then
	mg_expect_eq "timeouts fired (handshake, zero window, idle) when the download ended (the attack held throughout), at" \
		"${held_at%%:*}: 0 0 0" "${held_at:-none}"
fi
max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$tmp/samples")
omax=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { print m }' "$tmp/samples")
mg_log "$(wc -l <"$tmp/samples") samples: mem_used max $max, ooo_mem max $omax, mem_max $bound"
# Below by more than one buffer's worth: the bound refuses what does not fit,
# so a stack pressed against it sits within a buffer of mem_max, never above.
mg_expect "mem_used stayed below mem_max throughout, never within 64 KiB of it ($max + 65536 < $bound)" \
	test $((max + 65536)) -lt "$bound"
mg_log "ooo_pruned $(l4_tcp ooo_pruned) ooo_share_hits $(l4_tcp ooo_share_hits) ooo_bound_hits $(l4_tcp ooo_bound_hits) mem_bound_hits $(l4_tcp mem_bound_hits) collapsed_segs $(l4_tcp collapsed_segs)"

if [ -z "$OLD" ]; then
	# What the hostile peers hold is freed by the timeouts, each counted.
	done_timeouts() {
		[ "$(l4_tcp handshake_timeout)" -ge 20 ] &&
			[ "$(l4_tcp zero_window_timeout)" -ge 1 ] &&
			[ "$(l4_tcp closed_idle)" -ge 40 ]
	}
	while [ $((SECONDS - t0)) -lt $((IDLE_S + 30)) ] && ! done_timeouts; do
		sleep 1
	done
	mg_log "after $((SECONDS - t0)) s: handshake_timeout $(l4_tcp handshake_timeout), zero_window_timeout $(l4_tcp zero_window_timeout), closed_idle $(l4_tcp closed_idle), persist_probes $(l4_tcp persist_probes)"
	mg_expect "the 20 half-open handshakes timed out" test "$(l4_tcp handshake_timeout)" -ge 20
	mg_expect "zero-window peers were reset after zero_window_timeout_s" \
		test "$(l4_tcp zero_window_timeout)" -ge 1
	mg_expect "the 40 out-of-order-only pairs were reset after idle_timeout_s" \
		test "$(l4_tcp closed_idle)" -ge 40
	# The peers' timers started over a few seconds, so their timeouts end
	# over a few seconds too: wait for the last (bounded).
	for _ in $(seq 20); do
		left=$(l4_tcp mem_used)
		[ "$left" -lt 1048576 ] && break
		sleep 0.5
	done
	mg_log "mem_used after the timeouts: $left (zero_window_timeout $(l4_tcp zero_window_timeout), closed_idle $(l4_tcp closed_idle))"
	mg_expect "what the hostile peers held is freed (mem_used $left < 1 MiB)" test "$left" -lt 1048576
	rc=0
	wait "$hostile" || rc=$?
	mg_log "hostile: $(cat "$tmp/hostile.json")"
	mg_expect_eq "hostile sender exit" 0 "$rc"
fi
mg_ctl "$MG_PREFIX" tcp 2>/dev/null | grep -v ' 0$' | sed 's/^/    /' >&2 || true
mg_finish
