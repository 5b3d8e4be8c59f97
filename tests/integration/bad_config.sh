#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# gateway.conf problems stop meshgw before it touches a port: exit 78 and a
# message "FILE:LINE: FIELD: PROBLEM" naming the file and the line; --check says
# the same and accepts the good file; --help, --version and a bad option behave.
#
#  (no namespaces: meshgw reads the config before EAL starts)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_need_bins
tmp=$(mktemp -d /tmp/mgt-badconf.XXXXXX)
mkdir -p "$MG_LOG_DIR"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

good=$MG_ROOT/conf/demo/gateway.conf
line_of() { grep -n -m 1 -- "$1" "$good" | cut -d: -f1 || true; }

# run_meshgw OUT ARGS...: run meshgw with a 20 s bound; stderr to OUT; prints rc.
# Both outputs are also kept as $MG_LOG_DIR/bad_config-NAME.log, where
# tests/run.sh looks for sanitizer reports (a leak on the exit-78 path).
run_meshgw() {
	local out=$1 rc=0
	shift
	timeout 20 "$MESHGW" "$@" >"$out.stdout" 2>"$out" </dev/null || rc=$?
	cat "$out" "$out.stdout" >"$MG_LOG_DIR/bad_config-${out##*/}.log"
	echo "$rc"
}

rc=$(run_meshgw "$tmp/good.err" --check -c "$good")
mg_expect_eq "--check on $good: exit code" 0 "$rc"
mg_expect "--check on the good file says ok" grep -q "ok" "$tmp/good.err.stdout"

# bad NAME PATTERN REPLACEMENT WORD: copy the good file with the first line
# matching PATTERN replaced; meshgw --check and a full start must both exit 78
# and print FILE:LINE: with WORD in the message.
bad() {
	local name=$1 pat=$2 repl=$3 word=$4 line file rc
	line=$(line_of "$pat")
	[ -n "$line" ] || mg_die "pattern $pat not in $good"
	file=$tmp/$name.conf
	awk -v n="$line" -v r="$repl" 'NR == n { print r; next } { print }' "$good" >"$file"
	for mode in check start; do
		if [ $mode = check ]; then
			rc=$(run_meshgw "$tmp/$name.$mode" --check -c "$file")
		else
			rc=$(run_meshgw "$tmp/$name.$mode" --no-huge -m 64 \
				"--file-prefix=mgt-badconf" --no-pci -- -c "$file")
		fi
		mg_expect_eq "$name ($mode): exit code" 78 "$rc"
		mg_expect "$name ($mode): stderr names $file:$line: and '$word' ($(head -c 200 "$tmp/$name.$mode"))" \
			grep -q -- "$file:$line: .*$word" "$tmp/$name.$mode"
	done
}
bad syntax 'name = "fabric";' '    name = fabric";' ''
bad mtu_range 'mtu = 1500;' '    mtu = 99999;' 'mtu'
bad mtu_type 'mtu = 1500;' '    mtu = "big";' 'mtu'
bad address 'address = "198.18.1.1/24";' '    address = "198.18.1.300/24";' 'address'
bad prefix 'address = "198.18.2.1/24";' '    address = "198.18.2.1/33";' 'address'
bad unknown_field '^node = ' 'node = "gw1"; colour = "blue";' 'colour'
bad lcores 'lcores = \[1\];' '  lcores = [1, 1];' 'lcores'
bad device 'iface=loc0' '    device = "";' 'device'

# A file that is not there: refused, named.
# crypto.provider names QAT, which this machine lacks: a clear refusal before
# any port opens (exit 78: gateway.conf asks for what this node lacks), never a
# silent fall-back to software.
for prov in qat-provider qat-engine; do
	cat >"$tmp/$prov.conf" <<EOF
node = "qat"; workers = { lcores = [1]; };
ports = ( { name = "p0"; device = "net_null0"; address = "198.18.5.1/24"; } );
state_dir = "$tmp/state-$prov"; control = { socket = "$tmp/$prov.sock"; };
crypto = { provider = "$prov"; };
EOF
	rc=$(run_meshgw "$tmp/$prov.err" --check -c "$tmp/$prov.conf")
	mg_expect_eq "crypto.provider = $prov: --check accepts the file" 0 "$rc"
	rc=$(run_meshgw "$tmp/$prov.start" --no-huge -m 64 "--file-prefix=mgt-badconf" --no-pci \
		"--lcores=0@0,1@1" -- -c "$tmp/$prov.conf")
	mg_expect_eq "crypto.provider = $prov absent: exit code" 78 "$rc"
	mg_expect "crypto.provider = $prov absent: stderr says so ($(head -c 200 "$tmp/$prov.start"))" \
		grep -q "crypto.provider = \"$prov\": OpenSSL cannot load it" "$tmp/$prov.start"
done

rc=$(run_meshgw "$tmp/missing.err" --check -c "$tmp/nonexistent.conf")
mg_expect "missing file: non-zero exit (got $rc)" [ "$rc" -ne 0 ]
mg_expect "missing file: stderr names it" grep -q "nonexistent.conf" "$tmp/missing.err"

rc=$(run_meshgw "$tmp/help.err" --help)
mg_expect_eq "--help: exit code" 0 "$rc"
mg_expect "--help prints the usage" grep -q "Usage: meshgw" "$tmp/help.err.stdout"
rc=$(run_meshgw "$tmp/version.err" --version)
mg_expect_eq "--version: exit code" 0 "$rc"
mg_expect "--version prints the version" grep -Eq "^meshgw [0-9]+\.[0-9]+\.[0-9]+" "$tmp/version.err.stdout"
rc=$(run_meshgw "$tmp/usage.err" --no-such-option)
mg_expect_eq "unknown option: exit code" 64 "$rc"
rc=$(run_meshgw "$tmp/noconf.err" --check)
mg_expect_eq "no -c: exit code" 64 "$rc"
mg_finish
