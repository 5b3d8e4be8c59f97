#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The TCP stack against blind attackers, over the wire (issue 11 items 2, 3):
#
# 1. Challenge ACKs are no side channel (CVE-2016-5696). An attacker with its
#    own connection counts the challenge ACKs it gets for its own in-window
#    RSTs (1000/s) while it sprays spoofed RSTs (5000/s) at a victim's tuple,
#    in the victim's window in some rounds and outside it in others. Its count
#    must be the per-connection limit (one per 500 ms) in every round, so it
#    says nothing about the victim's window; the victim really was challenged
#    in the "in" rounds, and the core's budget never ran out.
# 2. SYN cookies are tried only after the SYN queue overflowed. 300 000 bare
#    ACKs with random sources, ports and numbers (a blind cookie guesser) hit
#    the listener whose queue never filled: every one that reached the TCP
#    stack is ignored (none tried as a cookie), none opens a connection, and
#    at least half of them must have arrived (counted by the worker).
#    (It was a million: the checks are counters per ACK, ignored against
#    arrived, so a stack that tried a cookie would show it on the first few
#    thousand (syncookies_failed, not ignored); a guess that validated would
#    take millions of tries either way (a 21-bit MAC, tcp_isn.c); the million
#    against the stack itself is test_tcp_guard's a_million_random_acks_open_nothing.
#    The sender is one Python process capped at 100 000 a second, so the count
#    is its time: 10 s -> 3 s.)
#
#  netns mg-client                               netns mg-gw (meshgw)         netns mg-backend
#  tcp_guard.py (AF_PACKET on eth0)
#    attacker 198.18.1.2:2xxxx ---+
#    victim   198.18.1.2:3xxxx ---+-[br0]--> fab0 198.18.1.1:8080 ==> loc0 --> eth0 198.18.2.2:80
#    ACKs from 198.18.1.16-250 ---+           listener "web"                  echo-server
#  iptables: OUTPUT RST dropped (the client kernel must not reset the hand-made connections)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-tcpguard
trap mg_cleanup EXIT
tmp=$(mktemp -d /tmp/mgt-tcpguard.XXXXXX)
COUNT=${MG_GUARD_ACKS:-300000}
GUARD=$MG_ROOT/tests/integration/tcp_guard.py
# The L4 path under test: tests/integration/lib_l4.sh (meshgw only here: the
# counters checked are meshgw's).
. "$MG_ROOT/tests/integration/lib_l4.sh"
[ "$MG_L4" = meshgw ] || mg_die "tcp_guard.sh checks meshgw's counters (MG_L4=meshgw)"

RST_RULE=(-p tcp --tcp-flags RST RST -j DROP)
test_cleanup() {
	client iptables -D OUTPUT "${RST_RULE[@]}" 2>/dev/null || true
	l4_down
	rm -rf "$tmp"
}

# tcp_in_total: TCP segments the workers handed to their stacks (every worker).
tcp_in_total() {
	mg_ctl "$MG_PREFIX" stats --json | "$MG_PYTHON" -c '
import json, re, sys
print(sum(v for k, v in json.load(sys.stdin).items() if re.fullmatch(r"worker[/._]\d+[/._]tcp_in", k)))'
}

# jq-less JSON checks: json_check FILE PYTHON-EXPRESSION over `d`.
json_check() {
	"$MG_PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

l4_bg mg-backend echo-server --bind "$MG_BACKEND_IP" --port 80
l4_up
client iptables -A OUTPUT "${RST_RULE[@]}"
gw_mac=$(mg_mac mg-gw fab0)

# ---- 1. challenge ACKs ---------------------------------------------------------
gl0=$(l4_tcp challenge_acks_global_limited)
ch0=$(l4_tcp challenge_acks)
mg_expect "side-channel probe ran" client timeout 60 "$MG_PYTHON" "$GUARD" sidechannel \
	--gw-mac "$gw_mac" --src "$MG_CLIENT_IP" --dst "$L4_VIP" --rounds 3 --secs 3 \
	--spray 5 >"$tmp/side.json"
mg_log "rounds: $(cat "$tmp/side.json")"
mg_log "challenge_acks $ch0 -> $(l4_tcp challenge_acks), conn_limited $(l4_tcp challenge_acks_conn_limited), global_limited $gl0 -> $(l4_tcp challenge_acks_global_limited)"
# 3 s at one per 500 ms: 6, or 7 when a round's edges fall just so.
mg_expect "the attacker's count is the per-connection limit in every round (1..7)" \
	json_check "$tmp/side.json" 'all(1 <= r["attacker_acks"] <= 7 for r in d["rounds"])'
mg_expect "the attacker's count is the same whether the victim's window was hit or not (max - min <= 1)" \
	json_check "$tmp/side.json" 'max(r["attacker_acks"] for r in d["rounds"]) - min(r["attacker_acks"] for r in d["rounds"]) <= 1'
mg_expect "the spoofed RSTs hit the victim's window in the 'in' rounds (it was challenged)" \
	json_check "$tmp/side.json" 'all(r["victim_acks"] >= 1 for r in d["rounds"] if r["victim_rsts"] == "in")'
mg_expect "and missed it in the 'out' rounds" \
	json_check "$tmp/side.json" 'all(r["victim_acks"] == 0 for r in d["rounds"] if r["victim_rsts"] == "out")'
mg_expect_eq "challenge ACKs refused by the core's budget" 0 \
	$(($(l4_tcp challenge_acks_global_limited) - gl0))

# ---- 2. COUNT (300 000) random ACKs, the SYN queue never full --------------------------
ig0=$(l4_tcp syncookies_ignored)
va0=$(l4_tcp syncookies_validated)
po0=$(l4_tcp passive_opens)
ck0=$(l4_tcp syncookies_sent)
bh0=$(l4_tcp backlog_bound_hits)
fa0=$(l4_tcp syncookies_failed)
in0=$(tcp_in_total)
# On core 0 with the control thread, not on the worker's core 1: the sender
# would take the worker's time and the frames would wait in the RX ring.
mg_expect "random ACK sender ran" client timeout 90 taskset -c 0 "$MG_PYTHON" "$GUARD" acks \
	--gw-mac "$gw_mac" --dst "$L4_VIP" --count "$COUNT" --rate 100000 \
	--max-seconds 55 >"$tmp/acks.json"
sleep 1 # the last frames through the worker
mg_log "sender: $(cat "$tmp/acks.json")"
sent=$("$MG_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sent"])' "$tmp/acks.json")
ignored=$(($(l4_tcp syncookies_ignored) - ig0))
arrived=$(($(tcp_in_total) - in0))
mg_log "syncookies_ignored +$ignored, syncookies_failed +$(($(l4_tcp syncookies_failed) - fa0)), rst_sent $(l4_tcp rst_sent), drop syncookie_no_overflow $(l4_tcp syncookie_no_overflow)"
mg_expect_eq "ACKs sent" "$COUNT" "$sent"
mg_expect_eq "every ACK that reached the TCP stack was ignored, none tried as a cookie" \
	"$arrived" "$ignored"
# Frames are lost before the port when this shared machine takes the
# worker's core for a while (80-85 % arrive here); half is plenty to show it.
mg_expect "a large part of them arrived: at least 50% ($arrived of $sent)" \
	test "$arrived" -ge $((sent / 2))
mg_expect_eq "cookies validated" 0 $(($(l4_tcp syncookies_validated) - va0))
mg_expect_eq "connections accepted" 0 $(($(l4_tcp passive_opens) - po0))
mg_expect_eq "SYN cookies sent (the queue never overflowed)" 0 $(($(l4_tcp syncookies_sent) - ck0))
mg_expect_eq "SYNs past the backlog" 0 $(($(l4_tcp backlog_bound_hits) - bh0))
mg_expect "the listener still accepts" \
	client "$MG_PYTHON" "$TOOL" echo-many --to "$L4_VIP" --conns 5 --timeout 10
mg_finish
