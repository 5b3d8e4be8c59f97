#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Crash safety of the loader: 100 pushes of increasing versions while a
# background killer sends SIGKILL to meshgw at random points (KILLS times,
# some during start-up, most while pushes run). After every restart the active
# snapshot must be the last acknowledged one or the one in flight (never older,
# never a mix: its digest is that version's file's digest), the persisted
# anti-rollback state must name the same version and digest, and the audit
# chain must verify. Last, a torn final audit record (what a SIGKILL or a power
# cut in the middle of an append leaves) must not keep meshgw from starting.
#
#   host (no netns)
#   +-------------------+  push v1..v100   +--------------------------------+
#   | this script       | ---------------> | meshgw  p0: net_null0          |
#   |  (pusher, checks) |                  |   state/ active.msnap          |
#   +-------------------+                  |          antirollback audit.log|
#   | killer (background)| -- kill -9 ---> +--------------------------------+
#   +-------------------+     restart: this script, then check
#
# Environment: PUSHES (100), KILLS (20), DEADLINE_S (240).
set -euo pipefail
. "$(dirname "$0")/lib_snapshot.sh"
mg_need_root
mg_need_bins
PUSHES=${PUSHES:-100}
KILLS=${KILLS:-20}
DEADLINE_S=${DEADLINE_S:-240}
ls_setup crash
KILLER=
test_cleanup() {
	touch "$LS_DIR/stop"
	[ -z "$KILLER" ] || kill "$KILLER" 2>/dev/null || true
	[ -z "$KILLER" ] || wait "$KILLER" 2>/dev/null || true
}
trap ls_cleanup EXIT
cd "$LS_DIR/snap"
t_end=$((SECONDS + DEADLINE_S))

ls_policy a.conf
ls_policy b.conf "$MG_ROOT/tests/data/loader/policy-b.conf"
declare -A digest
for ((v = 1; v <= PUSHES; v++)); do
	# Two payloads in turn, so consecutive snapshots differ in content too.
	if ((v % 2)); then p=a.conf; else p=b.conf; fi
	ls_snapshot "$p" "$v" "v$v.msnap" ab
	digest[$v]=$(ls_digest "v$v.msnap")
done
ls_conf gw.conf
mg_log "built $PUSHES snapshots"

# killer: KILLS times, pick the running meshgw and SIGKILL it after a random
# delay: one time in four soon after it appears (start-up, boot), else once the
# pusher marked it live (pushes in progress).
killer() {
	local k pid delay t
	for ((k = 1; k <= KILLS; k++)); do
		pid=
		t=$((SECONDS + 60))
		while [ -z "$pid" ] && [ $SECONDS -lt $t ] && [ ! -e "$LS_DIR/stop" ]; do
			pid=$(cat "$LS_DIR/meshgw.pid" 2>/dev/null || true)
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then pid=; fi
			[ -n "$pid" ] || sleep 0.05
		done
		[ -n "$pid" ] && [ ! -e "$LS_DIR/stop" ] || break
		if ((RANDOM % 4 == 0)); then
			delay=$((RANDOM % 1500))
		else
			while [ ! -e "$LS_DIR/live.$pid" ] && kill -0 "$pid" 2>/dev/null &&
			      [ ! -e "$LS_DIR/stop" ]; do
				sleep 0.02
			done
			delay=$((RANDOM % 400))
		fi
		sleep "$(printf '0.%03d' "$delay")"
		[ ! -e "$LS_DIR/stop" ] || break
		kill -KILL "$pid" 2>/dev/null && echo "$k $pid $delay" >>"$LS_DIR/kills"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	done
}

ack=0       # highest version the gateway acknowledged (accepted or unchanged)
inflight=0  # a version pushed without a verdict since (0: none)
restarts=0
checks=0
early=0     # instances killed before their check finished
kept=0      # in-flight versions found active after the restart
lost=0      # in-flight versions not active after the restart (the old one was)

fail() { mg_die "$* (ack=$ack inflight=$inflight restarts=$restarts)"; }

# check_instance: the invariants, on a freshly started meshgw. Returns 1 if
# meshgw died under the check (the killer); dies on a broken invariant.
check_instance() {
	local active ver dig state pol
	# One telemetry read for all three: the killer may strike between two reads.
	pol=$("$MESHCTL" -f "$LS_PREFIX" policy --json 2>/dev/null |
		"$MG_PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["active"], d["version"], d["digest"] or "-")' \
		2>/dev/null) || return 1
	read -r active ver dig <<<"$pol"
	[ "$dig" != - ] || dig=
	state=$(ls_state)
	[ -n "$active" ] && [ -n "$ver" ] || return 1
	if [ "$active" = deny_all ]; then
		# Only right if nothing was ever acknowledged: deny-all was the old state.
		[ "$ack" -eq 0 ] || fail "after restart: deny-all (cause $(ls_pol deny_all_cause))"
		[ -z "$state" ] || fail "deny-all, but an anti-rollback state '$state'"
		checks=$((checks + 1))
		inflight=0
		return 0
	fi
	[ "$active" = snapshot ] || fail "after restart: active is '$active'"
	if [ "$ver" -ne "$ack" ] && [ "$ver" -ne "$inflight" ]; then
		fail "after restart: version $ver is neither acknowledged ($ack) nor in flight ($inflight)"
	fi
	[ "$dig" = "${digest[$ver]}" ] || fail "after restart: version $ver has digest $dig, its file ${digest[$ver]}"
	[ "$state" = "$ver $dig" ] || fail "anti-rollback state '$state' disagrees with active '$ver $dig'"
	ls_audit_verify >"$LS_DIR/verify.out" 2>&1 ||
		fail "audit verify after restart: $(cat "$LS_DIR/verify.out")"
	checks=$((checks + 1))
	if [ "$inflight" -ne 0 ]; then
		if [ "$ver" -eq "$inflight" ]; then kept=$((kept + 1)); else lost=$((lost + 1)); fi
	fi
	# What the gateway holds now is acknowledged: the floor moved.
	ack=$ver
	inflight=0
	return 0
}

# restart: the previous meshgw must have died of SIGKILL; start a new one
# (again if the killer gets it during start-up) and check it.
restart() {
	local rc tries=0
	while :; do
		rc=$(ls_wait_exit 10) || fail "meshgw did not exit"
		[ "$rc" = 137 ] || fail "meshgw exited with $rc, not by SIGKILL; $(tail -n 3 "$LS_LOG")"
		[ $SECONDS -lt $t_end ] || fail "out of time"
		tries=$((tries + 1))
		[ $tries -le $((KILLS + 5)) ] || fail "too many failed starts"
		restarts=$((restarts + 1))
		if ls_start gw.conf 30 2>"$LS_DIR/start.err" && check_instance; then
			touch "$LS_DIR/live.$LS_PID"
			return 0
		fi
		! grep -q "did not answer" "$LS_DIR/start.err" || fail "$(cat "$LS_DIR/start.err")"
		# Anything but a kill during start-up is a failure (e.g. exit 100, drift).
		rc=$(ls_wait_exit 10) || fail "meshgw neither answers nor exits"
		[ "$rc" = 137 ] || fail "meshgw exited with $rc at start; $(cat "$LS_DIR/start.err")"
		early=$((early + 1))
		mg_log "killed during start-up or check (restart $restarts)"
	done
}

ls_start gw.conf || fail "first start"
touch "$LS_DIR/live.$LS_PID"
killer &
KILLER=$!

v=1
pushes=0
while [ "$v" -le "$PUSHES" ]; do
	[ $SECONDS -lt $t_end ] || fail "out of time at v$v"
	if [ -n "$(ls_rc)" ]; then
		restart
		continue
	fi
	rc=0
	out=$(ls_push "v$v.msnap") || rc=$?
	pushes=$((pushes + 1))
	case "$rc:$out" in
	"0:accepted version=$v "* | "0:unchanged version=$v "*)
		ack=$v
		inflight=0
		v=$((v + 1))
		;;
	3:*)
		# No verdict: the gateway died with v in flight, or was down already.
		inflight=$v
		ls_wait_exit 5 >/dev/null || fail "push of v$v got no verdict, meshgw still runs: $out"
		;;
	*) fail "push v$v: exit $rc: $out" ;;
	esac
	sleep "0.0$((RANDOM % 5))" # spread the pushes over the killer's window
done
touch "$LS_DIR/stop"
wait "$KILLER" || true
KILLER=
kills=$(wc -l <"$LS_DIR/kills" 2>/dev/null || echo 0)
[ -z "$(ls_rc)" ] || restart
mg_log "$pushes pushes, $kills kills, $restarts restarts: $checks checked, $early killed" \
	"before their check; versions in flight at a kill: $kept active after restart, $lost not"
mg_expect_eq "last version active" "$PUSHES ${digest[$PUSHES]}" "$(ls_pol version) $(ls_pol digest)"
mg_expect_eq "state file agrees" "$PUSHES ${digest[$PUSHES]}" "$(ls_state)"
mg_expect "every restart was checked or killed before its check" \
	[ $((checks + early)) -eq "$restarts" ]
mg_expect "at least one restart was checked" [ "$checks" -ge 1 ]
mg_expect "the killer got at least half its kills in" [ "$kills" -ge $((KILLS / 2)) ]
mg_expect "audit verify at the end" ls_audit_verify
# Temporary files a kill left in the middle of a write: nothing removes them (yet).
leftover=$(find "$LS_STATE" -name '*.tmp.*' -printf '%f ' | sed 's/ $//')
mg_log "left-over temporary files in state/: ${leftover:-none}"

# A torn final record: the head of a record, no newline (a SIGKILL between two
# pages of one write(2), or a power cut before fdatasync finished).
ls_stop
[ "$(ls_rc)" = 0 ] || fail "SIGTERM: exit $(ls_rc)"
head -n 1 "$LS_AUDIT" | head -c 60 >"$LS_DIR/torn"
next=$(($(tail -n 1 "$LS_AUDIT" | cut -d' ' -f1) + 1))
printf '%s %s' "$next" "$(cut -d' ' -f2- "$LS_DIR/torn")" >>"$LS_AUDIT"
if ls_start gw.conf 20; then
	mg_log "ok: meshgw starts after a torn final audit record"
	mg_expect_eq "... with the last version" "$PUSHES" "$(ls_pol version)"
	mg_expect "... and a log that verifies" ls_audit_verify
else
	mg_log "NOT OK: BUG: meshgw refuses to start (exit $(ls_rc)) after a torn final audit" \
		"record; a crash in the middle of an append would keep it down for good"
	MG_FAILS=$((MG_FAILS + 1))
fi
mg_finish
