#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Helpers for the snapshot scripts (snapshot_push, snapshot_crash,
# telemetry_readonly) and bench/swap.sh: a meshgw on net_null ports, no
# namespace, its own EAL file prefix and its own temporary directory; three
# trusted signing keys (threshold 2) and one untrusted; signed snapshots.
#
#   host (no netns)
#   +------------------------------------------------------------+
#   | meshgw --file-prefix=$LS_PREFIX  port p0: net_null0        |
#   |   control socket  $LS_DIR/run/control.sock  (meshctl push) |
#   |   state + audit   $LS_DIR/state/                           |
#   |   telemetry       /var/run/dpdk/$LS_PREFIX/ (meshctl -f)   |
#   +------------------------------------------------------------+
#
# Source it, then:  ls_setup NAME; trap ls_cleanup EXIT; ls_conf gw.conf; ls_start gw.conf
# Run directly, it checks its own fixtures offline (keys, builds, signatures)
# and exits 0 if they are sound. tests/run.sh does not run it (lib*.sh are
# helpers); the scripts that source it exercise the same fixtures.

LS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$LS_LIB_DIR/../lib.sh"

LS_EXPIRES=${LS_EXPIRES:-2099-01-01T00:00:00Z}
LS_PID=
LS_RUN=0 # instances started, for log names

# ls_setup NAME: a private directory, a unique prefix, keys a b c (trusted) and d.
ls_setup() {
	LS_NAME=$1
	LS_PREFIX=mgt-$1-$$
	LS_DIR=$(mktemp -d "/tmp/mgt-$1-$$.XXXXXX")
	# Traversable (not listable) by others, so the control socket's own mode is
	# what keeps a non-root uid out; state/ stays 0700.
	chmod 0711 "$LS_DIR"
	mkdir -m 0700 "$LS_DIR/state"
	mkdir -m 0755 "$LS_DIR/run" "$LS_DIR/keys" "$LS_DIR/snap"
	LS_STATE=$LS_DIR/state
	LS_SOCK=$LS_DIR/run/control.sock
	LS_AUDIT=$LS_STATE/audit.log
	local k
	for k in a b c d; do
		"$MESHCTL" keygen -o "$LS_DIR/keys/$k" >/dev/null 2>&1 || mg_die "keygen $k failed"
	done
}

# ls_cleanup: stop the gateway, remove the directory and the EAL runtime dir.
ls_cleanup() {
	local rc=$?
	if declare -F test_cleanup >/dev/null; then
		test_cleanup || true
	fi
	ls_stop 5 >/dev/null 2>&1 || true
	if [ "$rc" -ne 0 ] && [ -n "${LS_DIR:-}" ]; then
		local f
		for f in "$MG_LOG_DIR/$LS_PREFIX"-*.log; do
			[ -f "$f" ] || continue
			echo "---- tail of $f ----" >&2
			tail -n 15 "$f" >&2
		done
	fi
	[ -z "${LS_DIR:-}" ] || rm -rf "$LS_DIR"
	[ -z "${LS_PREFIX:-}" ] || rm -rf "/var/run/dpdk/$LS_PREFIX"
	exit "$rc"
}

# ls_conf FILE [EXTRA...]: gateway.conf with one net_null port, trust a b c
# (2 of 3), state, audit and socket in $LS_DIR; each EXTRA is a line appended.
ls_conf() {
	local f=$1 line
	shift
	cat >"$f" <<EOF
# Written by tests/integration/lib_snapshot.sh for $LS_NAME.
node = "$LS_NAME";
workers = { lcores = [1]; };
ports = ( { name = "p0"; device = "net_null0"; address = "198.18.5.1/24"; } );
state_dir = "$LS_STATE";
control = { socket = "$LS_SOCK"; ${LS_CONTROL_EXTRA:-} };
trust = {
  keys = [ "$LS_DIR/keys/a.pub", "$LS_DIR/keys/b.pub", "$LS_DIR/keys/c.pub" ];
  threshold = 2;
};
EOF
	for line in "$@"; do
		echo "$line" >>"$f"
	done
}

# ls_policy OUT [SOURCE]: a self-contained policy (CA inlined) to build from.
ls_policy() {
	cp "${2:-$MG_ROOT/tests/data/loader/policy-a.conf}" "$1"
}

# ls_snapshot POLICY VERSION OUT SIGNERS: build, then sign with each key
# letter of SIGNERS ("ab"); expiry $LS_EXPIRES unless LS_BUILD_ARGS says otherwise.
ls_snapshot() {
	local policy=$1 version=$2 out=$3 signers=$4 i
	# shellcheck disable=SC2086 # LS_BUILD_ARGS is a list of words on purpose
	"$MESHCTL" snapshot build "$policy" --version "$version" \
		${LS_BUILD_ARGS:---expires $LS_EXPIRES} -o "$out" >/dev/null ||
		mg_die "snapshot build $policy v$version failed"
	for ((i = 0; i < ${#signers}; i++)); do
		"$MESHCTL" snapshot sign "$out" --key "$LS_DIR/keys/${signers:i:1}.key" >/dev/null ||
			mg_die "snapshot sign $out with ${signers:i:1} failed"
	done
}

# ls_digest FILE: the snapshot's digest.
ls_digest() { "$MESHCTL" snapshot digest "$1"; }

# ls_flip FILE OFFSET: xor the byte at OFFSET with 0x01 (negative: from the end).
ls_flip() {
	"$MG_PYTHON" - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] ^= 0x01
open(p, "wb").write(bytes(b))
PY
}

# ls_start CONF [TIMEOUT]: start meshgw in the background, wait until telemetry
# and the control socket answer; sets LS_PID. Its log is
# $MG_LOG_DIR/$LS_PREFIX-N.log (N counts starts; kept), its exit code lands in
# $LS_DIR/meshgw.rc; LS_WRAP prefixes the command (e.g. "nice -n -20").
# Returns 1 (log tail on stderr) if it exits or stays mute.
ls_start() {
	local conf=$1 timeout_s=${2:-30} deadline log
	LS_RUN=$((LS_RUN + 1))
	# The log outlives $LS_DIR: tests/run.sh scans $MG_LOG_DIR/*.log for
	# sanitizer reports after the script, and keeps it for a post-mortem.
	mkdir -p "$MG_LOG_DIR"
	log=$MG_LOG_DIR/$LS_PREFIX-$LS_RUN.log
	LS_LOG=$log
	rm -f "$LS_DIR/meshgw.rc" "$LS_DIR/meshgw.pid"
	# The watcher subshell is meshgw's parent and records its exit code.
	(
		# shellcheck disable=SC2086 # LS_WRAP is a command prefix ("nice -n -20")
		${LS_WRAP:-} "$MESHGW" --no-huge -m "${LS_MEM:-512}" "--file-prefix=$LS_PREFIX" --no-pci \
			"--lcores=${MG_LCORES:-0@0,1@1}" "--log-level=${MG_LOG_LEVEL:-*:notice}" \
			-- -c "$conf" >"$log" 2>&1 9>&- &
		echo $! >"$LS_DIR/meshgw.pid"
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$LS_DIR/meshgw.rc.tmp"
		mv "$LS_DIR/meshgw.rc.tmp" "$LS_DIR/meshgw.rc"
	) </dev/null >/dev/null 2>&1 &
	deadline=$((SECONDS + timeout_s))
	LS_PID=
	while [ $SECONDS -lt $deadline ]; do
		[ -n "$LS_PID" ] || LS_PID=$(cat "$LS_DIR/meshgw.pid" 2>/dev/null || true)
		if [ -e "$LS_DIR/meshgw.rc" ]; then
			mg_log "meshgw exited with $(cat "$LS_DIR/meshgw.rc") during start; $log:"
			tail -n 15 "$log" >&2
			return 1
		fi
		if [ -n "$LS_PID" ] && [ -S "$LS_SOCK" ] &&
		   "$MESHCTL" -f "$LS_PREFIX" status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	mg_log "meshgw (pid ${LS_PID:-?}) did not answer within $timeout_s s; $log:"
	tail -n 15 "$log" >&2
	[ -z "$LS_PID" ] || kill -KILL "$LS_PID" 2>/dev/null || true
	return 1
}

# ls_rc: meshgw's exit code (empty while it runs).
ls_rc() { cat "$LS_DIR/meshgw.rc" 2>/dev/null || true; }

# ls_wait_exit SECONDS: wait for meshgw to exit; prints its exit code.
ls_wait_exit() {
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt "$deadline" ]; do
		if [ -e "$LS_DIR/meshgw.rc" ]; then
			ls_rc
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# ls_stop [GRACE]: SIGTERM, GRACE seconds (default 10), then SIGKILL.
ls_stop() {
	[ -n "$LS_PID" ] || return 0
	if [ -z "$(ls_rc)" ]; then
		kill -TERM "$LS_PID" 2>/dev/null || true
		if ! ls_wait_exit "${1:-10}" >/dev/null; then
			kill -KILL "$LS_PID" 2>/dev/null || true
			ls_wait_exit 5 >/dev/null || true
		fi
	fi
	LS_PID=
}

# ls_push FILE [SOCKET]: push; prints the verdict line, returns meshctl's exit code.
ls_push() {
	"$MESHCTL" push "$1" --socket "${2:-$LS_SOCK}" 2>&1
}

# ls_pol KEY: one field of /meshgw/policy ("" if the gateway does not answer).
ls_pol() {
	local j
	j=$("$MESHCTL" -f "$LS_PREFIX" policy --json 2>/dev/null) || return 0
	printf '%s' "$j" | "$MG_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# ls_audit KEY: one field of /meshgw/audit.
ls_audit() {
	"$MESHCTL" -f "$LS_PREFIX" audit-status --json 2>/dev/null |
		"$MG_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# ls_audit_verify: the chain and its checkpoints (node key) verify.
ls_audit_verify() {
	"$MESHCTL" audit verify "$LS_AUDIT" --checkpoint-key "$LS_STATE/node.key.pub"
}

# ls_state: the persisted anti-rollback state as "VERSION DIGEST" ("" if none).
ls_state() {
	[ -e "$LS_STATE/antirollback" ] || return 0
	awk '$1 == "version" { v = $2 } $1 == "digest" { d = $2 } END { print v, d }' \
		"$LS_STATE/antirollback" 2>/dev/null
}

# ls_tel CMD[,PARAMS]: raw telemetry request; prints the JSON reply.
ls_tel() {
	"$MG_PYTHON" - "/var/run/dpdk/$LS_PREFIX/dpdk_telemetry.v2" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(1 << 16)
s.send(sys.argv[2].encode())
print(s.recv(1 << 20).decode())
PY
}

# ---- run directly: check the fixtures offline --------------------------------
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	[ -x "$MESHCTL" ] || mg_die "no meshctl at $MESHCTL (run make build or set MG_BUILD)"
	ls_setup libsnap
	trap ls_cleanup EXIT
	cd "$LS_DIR/snap"
	ls_policy p.conf
	ls_snapshot p.conf 1 ab.msnap ab
	ls_snapshot p.conf 1 a.msnap a
	ls_snapshot p.conf 1 ad.msnap ad
	trust=(--trust "$LS_DIR/keys/a.pub" --trust "$LS_DIR/keys/b.pub" --trust "$LS_DIR/keys/c.pub")
	mg_expect "2 of 3 verifies" "$MESHCTL" snapshot verify ab.msnap "${trust[@]}" --threshold 2
	mg_expect "1 of 3 does not" bash -c '! "$0" snapshot verify a.msnap "${@}" --threshold 2 >/dev/null' \
		"$MESHCTL" "${trust[@]}"
	mg_expect "an untrusted key does not count" \
		bash -c '! "$0" snapshot verify ad.msnap "${@}" --threshold 2 >/dev/null' "$MESHCTL" "${trust[@]}"
	mg_expect_eq "signers do not change the digest" "$(ls_digest a.msnap)" "$(ls_digest ab.msnap)"
	cp ab.msnap t.msnap
	ls_flip t.msnap -5
	mg_expect "a flipped signature byte fails" \
		bash -c '! "$0" snapshot verify t.msnap "${@}" --threshold 2 >/dev/null' "$MESHCTL" "${trust[@]}"
	ls_conf gw.conf 'integrity = { interval_s = 1; };'
	mg_expect "the generated gateway.conf is valid" "$MESHGW" --check -c gw.conf
	mg_finish
fi
