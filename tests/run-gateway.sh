#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Start meshgw on the standard test topology (tests/topo.sh) in the background,
# wait until its telemetry answers, print its pid on stdout.
#
#   netns mg-gw  (or mg-gw2)                 host
#   +-----------------------------+          +------------------------------+
#   | meshgw  fab0  loc0          |  unix    | meshctl -f PREFIX status     |
#   |   /var/run/dpdk/PREFIX/     | <------- | (telemetry socket, any netns)|
#   +-----------------------------+          +------------------------------+
#
# Usage: tests/run-gateway.sh [--netns NS] [--timeout S] <gateway.conf> [prefix]
#   --netns NS   namespace to run in (default: mg-gw2 if the conf says
#                node = "gw2", mg-gw otherwise; "none": the caller's own, for
#                ports that need no topology, such as memif)
#   --timeout S  how long to wait for telemetry (default 20 s)
#   prefix       EAL --file-prefix (default meshgw-<node>); meshctl -f takes it
#
# Files, under $MG_LOG_DIR (default /tmp/meshgw-logs):
#   PREFIX.log  meshgw's stderr and stdout
#   PREFIX.pid  its pid
#   PREFIX.rc   its exit code, written when it exits (absent while it runs)
#
# Environment: MG_BUILD / MESHGW / MESHCTL (see tests/lib.sh), MG_LCORES (EAL
# --lcores, default 0@0,1@1: main lcore 0 on core 0, worker lcore 1 on core 1, to
# match workers.lcores = [1]), MG_EAL_EXTRA (more EAL arguments), MG_LOG_LEVEL
# (default *:notice).
#
# Exit: 0 with the pid printed; 1 if meshgw exited or did not answer in time (its
# log's tail goes to stderr; a meshgw that did not answer is killed); 64 usage.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: tests/run-gateway.sh [--netns NS] [--timeout S] <gateway.conf> [prefix]" >&2
	exit 64
}

ns=
timeout_s=20
while [ $# -gt 0 ]; do
	case "$1" in
	--netns) ns=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "run-gateway.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
conf=$(realpath "$1")
[ -r "$conf" ] || mg_die "cannot read $1"
mg_need_root
mg_need_bins

# conf_str KEY: the first `KEY = "value";` in the conf (libconfig is not parsed
# here; meshgw does that and reports its own errors).
conf_str() {
	sed -n "s/^[[:space:]]*$1[[:space:]]*[=:][[:space:]]*\"\([^\"]*\)\".*/\1/p" \
		"$conf" | head -n 1
}

node=$(conf_str node)
[ -n "$node" ] || node=gw
if [ -z "$ns" ]; then
	case "$node" in
	*gw2) ns=mg-gw2 ;;
	*) ns=mg-gw ;;
	esac
fi
prefix=${2:-meshgw-$node}
[ "$ns" = none ] || [ -e "/run/netns/$ns" ] || mg_die "no netns $ns (run tests/topo.sh up)"
netns_exec=(ip netns exec "$ns")
[ "$ns" != none ] || netns_exec=()

mkdir -p "$MG_LOG_DIR"
log=$MG_LOG_DIR/$prefix.log
pidfile=$MG_LOG_DIR/$prefix.pid
rcfile=$MG_LOG_DIR/$prefix.rc
if [ -s "$pidfile" ] && [ ! -e "$rcfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	mg_die "a meshgw with prefix $prefix runs already (pid $(cat "$pidfile"))"
fi
rm -f "$rcfile" "$pidfile"

# Directories the conf names, made the way systemd's StateDirectory= would:
# the state dir private to root, the socket's directory too.
for d in "$(conf_str state_dir)" "$(dirname "$(conf_str socket)")" \
	 "$(dirname "$(conf_str audit_log)")"; do
	case "$d" in
	/?*) mkdir -p -m 0700 "$d" ;;
	esac
done

eal=(--no-huge -m 512 "--file-prefix=$prefix" --no-pci
     "--lcores=${MG_LCORES:-0@0,1@1}" "--log-level=${MG_LOG_LEVEL:-*:notice}")
# shellcheck disable=SC2206 # MG_EAL_EXTRA is a list of words on purpose
[ -z "${MG_EAL_EXTRA:-}" ] || eal+=($MG_EAL_EXTRA)

{
	echo "# $(date -u +%FT%TZ) netns $ns"
	echo "# $MESHGW ${eal[*]} -- -c $conf"
} >"$log"

# The watcher subshell is meshgw's parent, so it can record the exit code for
# tests that check it (SIGTERM must give 0). `ip netns exec` execs meshgw, so $!
# is meshgw's own pid. The subshell holds none of our stdout, or a caller's
# $(run-gateway.sh ...) would wait for meshgw to exit.
exec 9>&- # the test lock (tests/lib.sh mg_lock) stays with the caller
(
	# The watcher outlives a signal to the caller's process group (a test's
	# timeout) so the exit code still lands; meshgw sets its own handlers
	# for SIGTERM and SIGINT over the ignored dispositions it inherits.
	trap '' TERM INT HUP
	"${netns_exec[@]}" "$MESHGW" "${eal[@]}" -- -c "$conf" >>"$log" 2>&1 9>&- &
	child=$!
	echo "$child" >"$pidfile"
	rc=0
	wait "$child" || rc=$?
	echo "$rc" >"$rcfile.tmp"
	mv "$rcfile.tmp" "$rcfile"
) </dev/null >/dev/null 2>&1 &

deadline=$((SECONDS + timeout_s))
pid=
while [ $SECONDS -lt $deadline ]; do
	[ -n "$pid" ] || pid=$(cat "$pidfile" 2>/dev/null || true)
	if [ -e "$rcfile" ]; then
		echo "run-gateway.sh: meshgw exited with $(cat "$rcfile") before answering; $log:" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
	if [ -n "$pid" ] && "$MESHCTL" -f "$prefix" status >/dev/null 2>&1; then
		echo "$pid"
		exit 0
	fi
	sleep 0.2
done
echo "run-gateway.sh: meshgw (pid ${pid:-?}) did not answer on telemetry within ${timeout_s} s; $log:" >&2
tail -n 30 "$log" >&2
[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
exit 1
