# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
# Shared shell helpers for tests/*.sh, tests/integration/*.sh, bench/*.sh and the
# demo. Source it; it sets nothing but variables and functions.
#
# Environment it honours:
#   MG_BUILD     build directory with meshgw and meshctl (default: <repo>/build)
#   MESHGW       meshgw binary (default: $MG_BUILD/meshgw)
#   MESHCTL      meshctl binary (default: $MG_BUILD/meshctl)
#   MG_LOG_DIR   where gateway logs and exit codes go (default: /tmp/meshgw-logs)
#   MG_PYTHON    Python with scapy (default: /usr/bin/python3, Debian's, which has
#                python3-scapy; a pyenv python on PATH would not)

MG_ROOT=${MG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MG_BUILD=${MG_BUILD:-$MG_ROOT/build}
MESHGW=${MESHGW:-$MG_BUILD/meshgw}
MESHCTL=${MESHCTL:-$MG_BUILD/meshctl}
MG_LOG_DIR=${MG_LOG_DIR:-/tmp/meshgw-logs}
MG_PYTHON=${MG_PYTHON:-/usr/bin/python3}

# Addresses of the standard topology (DESIGN "The standard test topology").
MG_GW_FABRIC_IP=198.18.1.1
MG_GW2_FABRIC_IP=198.18.1.3
MG_CLIENT_IP=198.18.1.2
MG_GW_LOCAL_IP=198.18.2.1
MG_BACKEND_IP=198.18.2.2
MG_GW2_LOCAL_IP=198.18.3.1
MG_CLIENT2_IP=198.18.3.2

# One helper per namespace: `client ping ...` runs ping inside mg-client.
client() { ip netns exec mg-client "$@"; }
backend() { ip netns exec mg-backend "$@"; }
client2() { ip netns exec mg-client2 "$@"; }
gw() { ip netns exec mg-gw "$@"; }
gw2() { ip netns exec mg-gw2 "$@"; }
fabric() { ip netns exec mg-fabric "$@"; }

mg_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
mg_die() { mg_log "FAIL: $*"; exit 1; }

# mg_need_root: every netns script needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
mg_need_root() {
	[ "$(id -u)" = 0 ] || mg_die "must run as root (network namespaces)"
}

# mg_need_bins: meshgw and meshctl must be built.
mg_need_bins() {
	[ -x "$MESHGW" ] || mg_die "no meshgw at $MESHGW (run make build or set MG_BUILD)"
	[ -x "$MESHCTL" ] || mg_die "no meshctl at $MESHCTL (run make build or set MG_BUILD)"
}

# mg_mac NS IF: the MAC address of interface IF in namespace NS.
mg_mac() {
	ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# mg_neigh_mac NS IF IP: the MAC the kernel in NS has for IP on IF ("" if none).
mg_neigh_mac() {
	ip -n "$1" neigh show dev "$2" to "$3" | awk '/lladdr/ && !m { m = $3 } END { print m }'
}

# mg_ctl PREFIX ARGS...: meshctl against the gateway with EAL file prefix PREFIX.
mg_ctl() {
	local prefix=$1
	shift
	"$MESHCTL" -f "$prefix" "$@"
}

# mg_json_get KEY [DEFAULT]: read a JSON object on stdin, print the value of
# KEY. A missing key is an error (exit 1, naming the key and the keys that are
# there) unless a DEFAULT is given: a renamed counter must fail a check, not
# read as 0. Keys are written with dots ("port.fabric.rx_packets"); the same
# key with "/" or "_" between its parts is accepted too, since DPDK's telemetry
# allows only [A-Za-z0-9_/] in dictionary names.
mg_json_get() {
	"$MG_PYTHON" -c '
import json, sys
raw = sys.stdin.read()
try:
    d = json.loads(raw)
except ValueError:
    sys.exit("mg_json_get: %s: the reply is not JSON: %r" % (sys.argv[1], raw[:200]))
k = sys.argv[1]
for cand in (k, k.replace(".", "/"), k.replace(".", "_")):
    if cand in d:
        print(d[cand])
        break
else:
    if len(sys.argv) > 2:
        print(sys.argv[2])
    else:
        near = sorted(x for x in d if x.split("/")[-1] == k.replace("/", ".").split(".")[-1])
        sys.exit("mg_json_get: no key %r in the reply (%d keys%s)"
                 % (k, len(d), "; similar: " + ", ".join(near[:8]) if near else ""))' "$@"
}

# mg_stat PREFIX KEY: one counter from /meshgw/stats; a missing key (or a
# gateway that does not answer) prints a message and returns non-zero, which
# fails the calling script under set -e, and mg_expect_eq compares "" anyway.
mg_stat() { mg_ctl "$1" stats --json | mg_json_get "$2"; }

# mg_drop PREFIX REASON: one counter from /meshgw/drops (missing: as mg_stat).
mg_drop() { mg_ctl "$1" drops --json | mg_json_get "$2"; }

# mg_start_gateway CONF [PREFIX]: start meshgw through run-gateway.sh; sets
# MG_GW_PID and remembers the gateway for mg_cleanup. Without PREFIX the prefix
# is run-gateway.sh's default, meshgw-<node>; tests pass their own.
mg_start_gateway() {
	MG_GW_PID=$("$MG_ROOT/tests/run-gateway.sh" "$@") ||
		mg_die "gateway did not start from $1"
	MG_GATEWAYS+=("$MG_GW_PID:${2:-meshgw-gw1}")
	mg_log "meshgw pid $MG_GW_PID (prefix ${2:-meshgw-gw1}, log $MG_LOG_DIR/${2:-meshgw-gw1}.log)"
}

# mg_gateway_rc PREFIX: the exit code meshgw left (empty while it runs).
mg_gateway_rc() { cat "$MG_LOG_DIR/$1.rc" 2>/dev/null; }

# mg_wait_exit PREFIX SECONDS: wait for meshgw to leave its exit code; prints it.
mg_wait_exit() {
	local prefix=$1 deadline=$((SECONDS + $2)) rc
	while [ $SECONDS -lt "$deadline" ]; do
		rc=$(mg_gateway_rc "$prefix")
		if [ -n "$rc" ]; then
			echo "$rc"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# mg_stop_gateway PID PREFIX: SIGTERM, up to 10 s grace, then SIGKILL.
mg_stop_gateway() {
	local pid=$1 prefix=$2 i
	[ -n "$pid" ] || return 0
	[ -z "$(mg_gateway_rc "$prefix")" ] || return 0 # gone already
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		[ -z "$(mg_gateway_rc "$prefix")" ] || return 0
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	mg_log "meshgw $pid ignored SIGTERM for 10 s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	mg_wait_exit "$prefix" 5 >/dev/null || true
}

# mg_lock: one user of the topology and the cores at a time. Tests, the demo
# and the benchmarks of several people (or a CI run) on one machine would
# otherwise tear down each other's namespaces and skew each other's counters.
# Waits up to MG_LOCK_WAIT seconds (1800). Children inherit the lock: a script
# run by tests/run.sh does not take it again. Long-running children (meshgw,
# testpmd) must be started with 9>&- so they do not keep it.
MG_LOCK_FILE=${MG_LOCK_FILE:-/run/meshgw-tests.lock}
mg_lock() {
	[ -z "${MG_LOCK_HELD:-}" ] || return 0
	exec 9>>"$MG_LOCK_FILE"
	if ! flock -n 9; then
		mg_log "waiting for another test run, demo or benchmark to finish ($MG_LOCK_FILE)"
		flock -w "${MG_LOCK_WAIT:-1800}" 9 ||
			mg_die "still locked after ${MG_LOCK_WAIT:-1800} s: $MG_LOCK_FILE"
	fi
	export MG_LOCK_HELD=$$
}

# Test scaffolding. A test script does:
#   . "$(dirname "$0")/../lib.sh"
#   mg_test_setup mgt-NAME        # root, binaries, topology (made if absent)
#   trap mg_cleanup EXIT          # stops its gateways, removes a topology it made
#   mg_start_gateway "$MG_ROOT/conf/demo/gateway.conf" "$MG_PREFIX"
# and may define test_cleanup() for its own extra cleanup.
MG_OWN_TOPO=0
MG_GATEWAYS=()
mg_test_setup() {
	MG_PREFIX=$1
	# A timeout's SIGTERM must still run the EXIT trap (stop the gateways).
	trap 'exit 143' TERM
	trap 'exit 130' INT
	mg_need_root
	mg_need_bins
	mg_lock
	if ! mg_topo_is_up; then
		mg_topo_up
		MG_OWN_TOPO=1
	fi
}

# mg_scratch NAME: a scratch folder for the script in $tmp, removed by
# mg_cleanup. mg_bg CMD...: a background process of the script (its pid in
# MG_BG_LAST), ended by mg_cleanup before the gateways stop.
MG_SCRATCH=
MG_BG=()
mg_scratch() {
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	MG_SCRATCH=$tmp
}
mg_bg() {
	"$@" 9>&- &
	MG_BG_LAST=$!
	MG_BG+=("$MG_BG_LAST")
}

mg_cleanup() {
	local rc=$? g p
	if declare -F test_cleanup >/dev/null; then
		test_cleanup || true
	fi
	for p in "${MG_BG[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ ${#MG_BG[@]} -eq 0 ] || wait "${MG_BG[@]}" 2>/dev/null || true
	for g in "${MG_GATEWAYS[@]}"; do
		# A failed test leaves the gateway's own view in its log.
		if [ "$rc" -ne 0 ] && [ -z "$(mg_gateway_rc "${g#*:}")" ]; then
			mg_log "gateway ${g#*:} at failure:"
			mg_ctl "${g#*:}" stats 2>&1 | grep -v ' 0$' | sed 's/^/    /' >&2 || true
			mg_ctl "${g#*:}" drops 2>&1 | sed 's/^/    drop /' >&2 || true
		fi
		mg_stop_gateway "${g%%:*}" "${g#*:}"
	done
	if [ "$MG_OWN_TOPO" = 1 ]; then
		mg_topo_down || true
	fi
	[ -z "$MG_SCRATCH" ] || rm -rf "$MG_SCRATCH"
	exit "$rc"
}

# mg_ping NS DST COUNT [ping options]: ping DST from namespace NS COUNT times,
# 10 ms apart; true if every echo came back. Prints ping's summary lines.
mg_ping() {
	local ns=$1 dst=$2 count=$3 out
	shift 3
	out=$(ip netns exec "$ns" ping -n -q -c "$count" -i 0.01 -W 1 "$@" "$dst" 2>&1) || true
	tail -n 2 <<<"$out" | sed "s/^/  [$ns] /" >&2
	# A here-string, not a pipe: grep -q quits at the first match, and under
	# pipefail the writer's SIGPIPE would fail the check at random.
	grep -q " $count received, 0% packet loss" <<<"$out"
}

# mg_topo_up: bring the standard topology up (idempotent).
mg_topo_up() { "$MG_ROOT/tests/topo.sh" up >/dev/null; }

# mg_topo_down: remove the standard topology (idempotent).
mg_topo_down() { "$MG_ROOT/tests/topo.sh" down >/dev/null; }

# mg_topo_is_up: true if every namespace of the topology exists.
mg_topo_is_up() { "$MG_ROOT/tests/topo.sh" status >/dev/null 2>&1; }

# mg_wait_for SECS CMD...: run CMD every 0.1 s until it succeeds, at most SECS
# seconds; returns 1 if it never did. Instead of a fixed sleep before a check
# of something that becomes true (an audit record written, a counter moved):
# the check that follows still decides.
mg_wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# mg_expect_eq WHAT WANT GOT: compare, log, and count a failure in MG_FAILS.
MG_FAILS=0
mg_expect_eq() {
	if [ "$2" = "$3" ]; then
		mg_log "ok: $1 = $3"
	else
		mg_log "NOT OK: $1: want $2, got $3"
		MG_FAILS=$((MG_FAILS + 1))
	fi
}

# mg_expect WHAT CMD...: run CMD, count a failure if it fails.
mg_expect() {
	local what=$1
	shift
	if "$@"; then
		mg_log "ok: $what"
	else
		mg_log "NOT OK: $what"
		MG_FAILS=$((MG_FAILS + 1))
	fi
}

# mg_finish: exit 0 if no expectation failed, 1 otherwise.
mg_finish() {
	if [ "$MG_FAILS" -eq 0 ]; then
		mg_log "all checks passed"
		exit 0
	fi
	mg_log "$MG_FAILS check(s) failed"
	exit 1
}
