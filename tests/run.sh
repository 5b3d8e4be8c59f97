#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The whole test suite, as `make test` and CI run it. Ends with the line
# "N passed, N failed", where N counts cmocka test cases, fuzz targets and
# integration scripts; exits 0 only when nothing failed.
#
# Usage: tests/run.sh [STEP...] [-- FILTER...]
#   STEP    static (tests/check-floors.py: no include climbs a floor, and its
#           self-test), unit (cmocka from build/), asan (cmocka from build-asan/, ASan+UBSan),
#           fuzz (libFuzzer targets from build-fuzz/), integration
#           (tests/integration/*.sh on the netns topology), sanitized (the
#           integration scripts of SANITIZED_SCRIPTS again, with build-asan's
#           meshgw: a sanitizer report in a gateway's log fails the script);
#           default: all six
#   FILTER  only items whose name contains one of these words, e.g.
#           `tests/run.sh integration -- ping arp` or `tests/run.sh unit -- config`
#
# Environment:
#   FUZZ_SECONDS          budget per fuzz target; unset, each target has its own
#                         (FUZZ_BUDGETS below: 15 s for the slow ones, 10 s for
#                         the wire's parsers, 5 s for the fast local ones)
#   UNIT_JOBS, FUZZ_JOBS  cmocka programs (unit, asan) and fuzz targets run at a
#                         time (default 2: the machine's two cores; each fuzz
#                         target is one process on one core); integration
#                         scripts always run one at a time
#   INTEGRATION_TIMEOUT   bound per integration script in seconds (default 300)
#   SANITIZED_SCRIPTS     integration scripts the sanitized step runs (default: those
#                         that feed the data path bad or lossy input, listed below)
#   MG_RUN_LOGS           where logs go (default /tmp/meshgw-run); one log per item
#   (cleared on start, so the environment cannot weaken a check: MG_L4,
#   MG_UPDATE_GOLDEN, ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS,
#   CMOCKA_TEST_FILTER, CMOCKA_TEST_ABORT)
#   MG_BUILD, MG_BUILD_ASAN, MG_BUILD_FUZZ
#                         build directories (default build, build-asan, build-fuzz
#                         in the repository); integration uses meshgw from MG_BUILD
#
# tests/expected.txt lists every unit program, fuzz target and integration
# script; one that is listed but not found, or found but not listed, is a FAIL
# line of its own.
#
# The build directories come from `make build` (build/, build-asan/, build-fuzz/);
# a missing one is a failure of its step, not a silent skip.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Variables that would turn checks into tautologies: MG_L4=linux tests the
# kernel instead of meshgw, MG_UPDATE_GOLDEN rewrites the golden files the
# policy test compares against, inherited sanitizer options could switch off
# leak detection or halting, a cmocka filter would skip cases. The steps set
# the sanitizer options they need themselves.
unset MG_L4 MG_UPDATE_GOLDEN ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS \
	CMOCKA_TEST_FILTER CMOCKA_TEST_ABORT
# Every unit program, fuzz target and integration script that must exist: one
# that stops being built or is deleted is a failure, not a smaller count.
EXPECTED=$ROOT/tests/expected.txt
FUZZ_SECONDS=${FUZZ_SECONDS:-}
# Seconds per fuzz target when FUZZ_SECONDS is not set (a target not named
# here gets 15). A 15 s run is mostly for the targets slow per input: config
# and policy (libconfig and the policy compiler; ~9 k and ~3 k inputs in 15 s
# in CI) still find coverage late. The parsers of attacker bytes from the wire
# (parse, tcp, tls, svid, http) keep 10 s. json (meshctl's tokenizer of the
# gateway's own replies) and snapshot (the envelope, behind the local control
# socket) run at 130-160 k inputs a second in CI and stop finding new edges
# after 70 k and 45 k inputs (measured on a loaded machine, 15 s each: json
# cov 393 from input 70 421 of 416 047, snapshot cov 300 from 45 164 of
# 257 106): 5 s is many times that, after the seed corpus has been replayed.
FUZZ_BUDGETS="config:15 policy:15 http:10 parse:10 svid:10 tcp:10 tls:10 json:5 snapshot:5"
UNIT_JOBS=${UNIT_JOBS:-2}
FUZZ_JOBS=${FUZZ_JOBS:-2}
for n in "$UNIT_JOBS" "$FUZZ_JOBS"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] ||
		{ echo "run.sh: UNIT_JOBS and FUZZ_JOBS must be positive integers" >&2; exit 64; }
done
[ -z "$FUZZ_SECONDS" ] || [[ $FUZZ_SECONDS =~ ^[1-9][0-9]*$ ]] ||
	{ echo "run.sh: FUZZ_SECONDS must be a positive integer" >&2; exit 64; }
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-300}
LOGS=${MG_RUN_LOGS:-/tmp/meshgw-run}
MG_BUILD=$(realpath -m "${MG_BUILD:-$ROOT/build}")
export MG_BUILD
MG_BUILD_ASAN=$(realpath -m "${MG_BUILD_ASAN:-$ROOT/build-asan}")
MG_BUILD_FUZZ=$(realpath -m "${MG_BUILD_FUZZ:-$ROOT/build-fuzz}")
. "$ROOT/tests/lib.sh" # mg_lock

steps=()
filters=()
while [ $# -gt 0 ]; do
	case "$1" in
	static|unit|asan|fuzz|integration|sanitized) steps+=("$1") ;;
	--) shift; filters=("$@"); break ;;
	-h|--help) sed -n '3,/^set -uo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
	*) echo "run.sh: unknown step '$1' (static, unit, asan, fuzz, integration, sanitized)" >&2
	   exit 64 ;;
	esac
	shift
done
[ ${#steps[@]} -gt 0 ] || steps=(static unit asan fuzz integration sanitized)
SANITIZED_SCRIPTS=${SANITIZED_SCRIPTS:-bad_config l4_proxy l7_inbound memif_reconnect mtls_inbound mtls_outbound \
	mtls_surface \
	syn_flood_garbage \
	snapshot_push tcp_conformance tcp_faults tcp_synflood telemetry_readonly}

rm -rf "$LOGS"
mkdir -p "$LOGS"
PASSED=0
FAILED=0
T0=$SECONDS

# expected KIND: the names of KIND (unit, fuzz, integration) in tests/expected.txt.
expected() { sed -n "s|^$1/||p" "$EXPECTED" | sort -u; }

# check_expected STEP KIND FOUND...: a FAIL line for each name of KIND that
# tests/expected.txt lists but was not found, and for each one found but not
# listed (add it to the list in the same commit as the test).
check_expected() {
	local step=$1 kind=$2 name log
	shift 2
	log=$LOGS/${step}_expected.log
	printf 'names of kind %s in %s against those found by step %s\n' \
		"$kind" "$EXPECTED" "$step" >"$log"
	if [ ! -r "$EXPECTED" ]; then
		report FAIL "$step/expected" 0 1 "$log" "(no $EXPECTED)"
		return
	fi
	while read -r name; do
		selected "$step/$name" || continue
		echo "missing: $kind/$name is listed but step $step did not find it" >>"$log"
		report FAIL "$step/$name" 0 1 "$log" "(listed in tests/expected.txt, not found)"
	done < <(comm -23 <(expected "$kind") <(printf '%s\n' "$@" | sed '/^$/d' | sort -u))
	while read -r name; do
		selected "$step/$name" || continue
		echo "unlisted: step $step found $kind/$name; add it to $EXPECTED" >>"$log"
		report FAIL "$step/$name" 0 1 "$log" "(found, not listed in tests/expected.txt)"
	done < <(comm -13 <(expected "$kind") <(printf '%s\n' "$@" | sed '/^$/d' | sort -u))
}

selected() { # NAME: true if no filter, or NAME contains a filter word
	local f
	[ ${#filters[@]} -eq 0 ] && return 0
	for f in "${filters[@]}"; do
		case "$1" in *"$f"*) return 0 ;; esac
	done
	return 1
}

# report RESULT NAME PASSED FAILED LOG [NOTE]: one line per item, and for a
# failure the tail of its log.
report() {
	local result=$1 name=$2 p=$3 f=$4 log=$5 note=${6:-}
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	printf '%-4s %-40s %s\n' "$result" "$name" "$note"
	if [ "$result" = FAIL ]; then
		echo "---- last 30 lines of $log ----"
		tail -n 30 "$log" 2>/dev/null | sed 's/^/    /'
		echo "----"
	fi
}

# Sum cmocka's "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines
# (a program may run several groups).
cmocka_count() { # LOG WORD
	grep -E "^\[  $2  \] [0-9]+ test" "$1" | awk '{ n += $4 } END { print n + 0 }'
}

# throttle N: return once fewer than N of this shell's background jobs run.
throttle() {
	while [ "$(jobs -pr | wc -l)" -ge "$1" ]; do
		wait -n || true
	done
}

# cmocka_one BIN LOG: one program, from tests/unit as meson runs them (their
# data paths are relative); its exit code goes to LOG.rc.
cmocka_one() {
	local rc=0
	(cd "$ROOT/tests/unit" && timeout -k 5 300 "$1") >"$2" 2>&1 || rc=$?
	echo "$rc" >"$2.rc"
}

run_cmocka() { # STEP BUILD_DIR
	local step=$1 dir=$2 bin name log rc p f any=0
	if [ ! -d "$dir/tests/unit" ]; then
		echo "no $2/tests/unit: run make build" >"$LOGS/$step.log"
		report FAIL "$step" 0 1 "$LOGS/$step.log" "($2 missing)"
		return
	fi
	local found=()
	for bin in "$dir"/tests/unit/test_*; do
		[ -f "$bin" ] && [ -x "$bin" ] && found+=("${bin##*/}")
	done
	check_expected "$step" unit "${found[@]}"
	# UNIT_JOBS programs at a time, then the results in name order.
	local run=()
	for bin in "$dir"/tests/unit/test_*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		selected "$step/${bin##*/}" || continue
		run+=("$bin")
		throttle "$UNIT_JOBS"
		cmocka_one "$bin" "$LOGS/${step}_${bin##*/}.log" &
	done
	wait
	for bin in "${run[@]}"; do
		name=$step/${bin##*/}
		any=1
		log=$LOGS/${step}_${bin##*/}.log
		rc=$(cat "$log.rc" 2>/dev/null) || rc=125
		rm -f "$log.rc"
		p=$(cmocka_count "$log" PASSED)
		f=$(cmocka_count "$log" FAILED)
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed, sanitizer report, timeout or setup failure
		fi
		if [ "$f" -eq 0 ] && [ "$p" -gt 0 ]; then
			report PASS "$name" "$p" 0 "$log" "($p cases)"
		else
			[ "$p" -gt 0 ] || [ "$f" -gt 0 ] || f=1
			report FAIL "$name" "$p" "$f" "$log" "($p passed, $f failed, exit $rc)"
		fi
	done
	[ $any = 1 ] || [ ${#filters[@]} -gt 0 ] || echo "note: no unit test programs in $2"
}

# Checks of the tree itself: floors only point down, and the check can fail.
step_static() {
	local check name log rc
	for check in check-floors:"" check-floors-self-test:--self-test; do
		name=static/${check%%:*}
		selected "$name" || continue
		log=$LOGS/static_${check%%:*}.log
		rc=0
		"$ROOT/tests/check-floors.py" ${check#*:} >"$log" 2>&1 || rc=$?
		if [ $rc -eq 0 ]; then
			report PASS "$name" 1 0 "$log" "($(tail -n 1 "$log"))"
		else
			report FAIL "$name" 0 1 "$log" "(exit $rc)"
		fi
	done
}

step_unit() { run_cmocka unit "$MG_BUILD"; }

step_asan() {
	# Any sanitizer finding fails the program (UBSan only warns by default).
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_cmocka asan "$MG_BUILD_ASAN"
}

step_fuzz() {
	local dir=$MG_BUILD_FUZZ/tests/fuzz bin target name log seed rc execs
	if [ ! -d "$dir" ]; then
		echo "no $dir: run make build" >"$LOGS/fuzz.log"
		report FAIL fuzz 0 1 "$LOGS/fuzz.log" "(build-fuzz missing)"
		return
	fi
	local found=()
	for bin in "$dir"/fuzz_*; do
		[ -f "$bin" ] && [ -x "$bin" ] && found+=("${bin##*/fuzz_}")
	done
	check_expected fuzz fuzz "${found[@]}"
	# FUZZ_JOBS targets at a time (each one process, one core), the longest
	# budgets first so that the short ones fill the end, then the results in
	# name order.
	local run=()
	for bin in "$dir"/fuzz_*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		target=${bin##*/fuzz_}
		selected "fuzz/$target" || continue
		run+=("$target")
	done
	while read -r _ target; do
		throttle "$FUZZ_JOBS"
		fuzz_one "$dir/fuzz_$target" "$target" &
	done < <(for target in "${run[@]}"; do
		echo "$(fuzz_seconds "$target") $target"
	done | sort -k1,1nr -k2,2)
	wait
	for target in "${run[@]}"; do
		name=fuzz/$target
		log=$LOGS/fuzz_$target.log
		rc=$(cat "$log.rc" 2>/dev/null) || rc=125
		rm -f "$log.rc"
		seed=$ROOT/tests/fuzz/corpus/$target
		[ -d "$seed" ] || seed=
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		if [ "$rc" -eq 0 ]; then
			report PASS "$name" 1 0 "$log" "(${execs:-?} execs in $(fuzz_seconds "$target") s${seed:+, seeded})"
		else
			report FAIL "$name" 0 1 "$log" "(exit $rc; artifacts $LOGS/fuzz_$target-*)"
		fi
	done
}

# fuzz_seconds TARGET: its budget, FUZZ_SECONDS or its FUZZ_BUDGETS entry (15).
fuzz_seconds() {
	local e
	[ -z "$FUZZ_SECONDS" ] || { echo "$FUZZ_SECONDS"; return; }
	for e in $FUZZ_BUDGETS; do
		[ "${e%%:*}" != "$1" ] || { echo "${e#*:}"; return; }
	done
	echo 15
}

# fuzz_one BIN TARGET: its budget (fuzz_seconds) of libFuzzer on TARGET; log in
# $LOGS/fuzz_TARGET.log, its exit code in that log's .rc.
fuzz_one() {
	local bin=$1 target=$2 log=$LOGS/fuzz_$2.log work seed rc=0 secs
	secs=$(fuzz_seconds "$target")
	# New inputs go to a scratch directory; the seed corpus in the tree is
	# only read.
	work=$(mktemp -d /tmp/meshgw-fuzz-"$target".XXXXXX)
	seed=$ROOT/tests/fuzz/corpus/$target
	[ -d "$seed" ] || seed=
	timeout -k 10 $((secs + 120)) "$bin" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$LOGS/fuzz_$target-" \
		"$work" ${seed:+"$seed"} >"$log" 2>&1 || rc=$?
	rm -rf "$work"
	echo "$rc" >"$log.rc"
}

# Sanitizer reports in the gateways' logs of one script (ASan, LeakSanitizer,
# UBSan); prints the first lines of each.
sanitizer_reports() { # DIR
	local f r
	for f in "$1"/*.log; do
		[ -f "$f" ] || continue
		r=$(grep -m 1 -A 12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f") ||
			continue
		printf '%s:\n%s\n' "${f##*/}" "$r"
	done
}

# uses_topology SCRIPT: true if it runs on the standard topology, i.e. calls
# mg_test_setup (tests/README "Integration scripts"). A script that used the
# namespaces without it would fail for want of them, not pass unseen.
uses_topology() { grep -q '^[^#]*\bmg_test_setup\b' "$1"; }

# run_integration STEP MESHGW_BUILD [SCRIPT...]: the scripts (all without a
# list) with meshgw from MESHGW_BUILD; gateways log under $LOGS/gateways/STEP/SCRIPT.
run_integration() {
	local step=$1 build=$2 script base name log rc t0 gwlogs found
	shift 2
	if [ "$(id -u)" != 0 ]; then
		echo "integration tests need root (network namespaces)" >"$LOGS/$step.log"
		report FAIL "$step" 0 1 "$LOGS/$step.log" "(not root)"
		return
	fi
	# The namespaces are the machine's, not this run's: one run at a time.
	mg_lock
	local scripts=()
	for script in "$ROOT"/tests/integration/*.sh; do
		base=$(basename "$script" .sh)
		[ -f "$script" ] && [[ $base != lib* ]] && scripts+=("$base")
	done
	if [ $# -eq 0 ]; then
		check_expected "$step" integration "${scripts[@]}"
	else
		# A script the step names must exist and be listed.
		for base in "$@"; do
			[[ " ${scripts[*]} " == *" $base "* ]] &&
				expected integration | grep -qx "$base" && continue
			selected "$step/$base" || continue
			echo "$step: $base is not tests/integration/$base.sh in tests/expected.txt" \
				>"$LOGS/${step}_$base.log"
			report FAIL "$step/$base" 0 1 "$LOGS/${step}_$base.log" "(no such listed script)"
		done
	fi
	for script in "$ROOT"/tests/integration/*.sh; do
		[ -f "$script" ] || continue
		base=$(basename "$script" .sh)
		case "$base" in
		lib*) continue ;; # helpers that scripts source, not tests
		esac
		[ $# -eq 0 ] || [[ " $* " == *" $base "* ]] || continue
		name=$step/$base
		selected "$name" || continue
		log=$LOGS/${step}_$base.log
		gwlogs=$LOGS/gateways/$step/$base
		mkdir -p "$gwlogs"
		# Each script gets a fresh topology: no neighbour entry, bridge FDB
		# or left-over process from the one before. Only the scripts that use
		# it (they call mg_test_setup, which would make it itself) get one:
		# the others run meshgw on the host or with --netns none, and each
		# `topo.sh up` costs 1-2.5 s (13 of the 40 runs need none).
		"$ROOT/tests/topo.sh" down >/dev/null 2>&1
		: >"$log"
		if uses_topology "$script" && ! "$ROOT/tests/topo.sh" up >"$log" 2>&1; then
			report FAIL "$name" 0 1 "$log" "(topology did not come up)"
			continue
		fi
		t0=$SECONDS
		rc=0
		MG_BUILD=$build MESHGW=$build/meshgw MESHCTL=$build/meshctl MG_LOG_DIR=$gwlogs \
			timeout -k 10 "$INTEGRATION_TIMEOUT" bash "$script" >>"$log" 2>&1 </dev/null || rc=$?
		found=$(sanitizer_reports "$gwlogs")
		if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
			report PASS "$name" 1 0 "$log" "($((SECONDS - t0)) s)"
		elif [ -n "$found" ]; then
			printf 'run.sh: sanitizer reports in gateway logs:\n%s\n' "$found" >>"$log"
			report FAIL "$name" 0 1 "$log" "(sanitizer report; exit $rc after $((SECONDS - t0)) s)"
		else
			[ "$rc" -ne 124 ] || echo "run.sh: timed out after $INTEGRATION_TIMEOUT s" >>"$log"
			report FAIL "$name" 0 1 "$log" "(exit $rc after $((SECONDS - t0)) s)"
		fi
	done
	"$ROOT/tests/topo.sh" down >/dev/null 2>&1
	exec 9>&- # release the lock
	unset MG_LOCK_HELD
}

step_integration() { run_integration integration "$MG_BUILD"; }

# The data path under ASan+UBSan against real peers. libxdp's xsk_umem__create
# leaks its 80-byte handle per port when DPDK 22.11's af_xdp closes (not
# meshgw's memory): suppressed, like libconfig's scanner in the unit tests.
step_sanitized() {
	local supp=$LOGS/lsan-meshgw.supp
	if [ ! -x "$MG_BUILD_ASAN/meshgw" ]; then
		echo "no $MG_BUILD_ASAN/meshgw: run make build" >"$LOGS/sanitized.log"
		report FAIL sanitized 0 1 "$LOGS/sanitized.log" "(build-asan missing)"
		return
	fi
	printf 'leak:xsk_umem__create\n' >"$supp"
	# memif_reconnect: 3 peers here (ended by SIGKILL, SIGINT, SIGKILL: the
	# first connect and both kinds of reconnect), 6 in the integration step;
	# it keeps make test within its 20 minutes.
	# shellcheck disable=SC2086
	ROUNDS=3 \
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$supp \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_integration sanitized "$MG_BUILD_ASAN" $SANITIZED_SCRIPTS
}

for step in "${steps[@]}"; do
	echo "== $step"
	"step_$step"
done
echo "== done in $((SECONDS - T0)) s; logs in $LOGS"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
