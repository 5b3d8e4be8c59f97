#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Telemetry is read-only: every registered /meshgw/* command, called with odd
# parameters over the raw telemetry socket (empty, commas, very long, binary
# junk, NUL, format strings, unicode, paths), answers null or a JSON object,
# and afterwards the active snapshot (version, digest, generation, loader
# counters), the audit head, the state files and the audit log are exactly as
# they were, and meshgw still runs and still takes pushes.
#
#   host (no netns)
#   +---------------------------+  SOCK_SEQPACKET  +----------------------+
#   | python3 (this script)     | ---------------> | meshgw  p0: net_null0|
#   |  "/meshgw/x,<odd params>" |   /var/run/dpdk/ |  telemetry thread    |
#   +---------------------------+   PREFIX/...v2   +----------------------+
set -euo pipefail
. "$(dirname "$0")/lib_snapshot.sh"
mg_need_root
mg_need_bins
ls_setup telro
trap ls_cleanup EXIT
cd "$LS_DIR/snap"

ls_policy a.conf
ls_snapshot a.conf 1 v1.msnap ab
ls_conf gw.conf
ls_start gw.conf || mg_die "meshgw did not start"
out=$(ls_push v1.msnap) || mg_die "push v1: $out"

# fingerprint: everything a write would change.
fingerprint() {
	local j
	j=$("$MESHCTL" -f "$LS_PREFIX" policy --json) || return 1
	printf '%s' "$j" | "$MG_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
keep = ["active", "version", "digest", "signers", "generation", "floor_version", "swaps",
        "accepted", "unchanged", "alarms", "not_before", "expires", "loaded_at"]
keep += sorted(k for k in d if k.startswith("refused/") or k.startswith("control_refused/"))
print(" ".join("%s=%s" % (k, d[k]) for k in keep))'
	echo "audit head $(ls_audit head_index) $(ls_audit head_hash)"
	sha256sum "$LS_STATE/active.msnap" "$LS_STATE/antirollback" "$LS_AUDIT" | cut -d' ' -f1
}
before=$(fingerprint)
mg_log "before: $(echo "$before" | head -n 1 | cut -c1-160)..."

"$MG_PYTHON" - "/var/run/dpdk/$LS_PREFIX/dpdk_telemetry.v2" <<'PY' || mg_die "odd telemetry calls failed"
import json, socket, sys

path = sys.argv[1]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    s.recv(1 << 16)  # greeting
    return s

s = connect()
def call(raw):
    """Send raw bytes as one message; return the decoded reply (reconnect if closed)."""
    global s, reconnects
    for attempt in range(2):
        try:
            s.send(raw)
            reply = s.recv(1 << 20)
            if reply:
                return reply
        except OSError:
            pass
        reconnects += 1
        s.close()
        s = connect()
    raise SystemExit("no reply to %r" % raw[:80])

reconnects = 0
listing = json.loads(call(b"/"))["/"]
cmds = sorted(c for c in listing if c.startswith("/meshgw/"))
want = {"/meshgw/status", "/meshgw/stats", "/meshgw/drops", "/meshgw/neighbours",
        "/meshgw/policy", "/meshgw/audit", "/meshgw/attest", "/meshgw/tls", "/meshgw/peers",
        "/meshgw/l7/rules"}
missing = want - set(cmds)
if missing:
    raise SystemExit("not registered: %s" % sorted(missing))

odd = [
    b"", b",", b",,,", b"a,b,c", b" ", b"\t\n", b"0", b"-1", b"18446744073709551616",
    b"x" * 200, b"y" * 1000, b"z" * 5000, bytes(range(1, 256)), b"ab\x00cd", b"\x00",
    b"\xff\xfe\xfd", "ü€😀".encode(), b"%s%n%x%p", b"../../../etc/passwd",
    b"{\"version\": 99}", b"version=99", b"/meshgw/policy", b"0" * 15, b"0" * 16,
    b"0" * 64, b"0" * 65, b"ABCDEF0123456789", b"abcdef0123456789" * 4,
    b"abcdef0123456789\n", b"abcdef0123456789,abcdef0123456789",
]
calls = objects = nulls = 0
attested = []
bad = []
for c in cmds:
    for p in [None] + odd:
        raw = c.encode() if p is None else c.encode() + b"," + p
        reply = call(raw)
        calls += 1
        try:
            d = json.loads(reply)
        except ValueError as e:
            bad.append("%s,%r: reply is not JSON (%s): %r" % (c, (p or b"")[:40], e, reply[:120]))
            continue
        if not isinstance(d, dict) or list(d) != [c]:
            bad.append("%s,%r: reply %r" % (c, (p or b"")[:40], reply[:120]))
            continue
        v = d[c]
        if v is None:
            nulls += 1
        elif isinstance(v, dict):
            objects += 1
            # Only "no parameters" (C sees none before a NUL) may answer, or
            # attest with a nonce: 16-64 lower-case hex digits, or peers with
            # how many to skip: 1-9 decimal digits without a leading zero.
            cstr = (p or b"").split(b"\x00")[0]
            if c in ("/meshgw/peers", "/meshgw/l7/rules") and cstr:
                if not (cstr.isdigit() and len(cstr) <= 9 and (cstr == b"0" or cstr[:1] != b"0")):
                    bad.append("%s answered a bad skip count %r" % (c, cstr[:80]))
            elif c == "/meshgw/attest":
                attested.append(cstr)
                if not (16 <= len(cstr) <= 64 and all(ch in b"0123456789abcdef" for ch in cstr)):
                    bad.append("attest answered a bad nonce %r" % cstr[:80])
            elif cstr != b"":
                bad.append("%s took parameters %r and answered" % (c, p[:40]))
        else:
            bad.append("%s,%r: neither null nor an object: %r" % (c, (p or b"")[:40], v))
# Junk in the command name itself, and an unregistered /meshgw/ command.
for raw in (b"/meshgw/", b"/meshgw/nosuch", b"/meshgw/policy/../audit", b"/meshgw/status\x00,x"):
    call(raw)
    calls += 1
print("attest answered the nonces: %s" % ", ".join(repr(n) for n in attested))
print("telemetry: %d commands, %d calls: %d objects, %d null, %d reconnects"
      % (len(cmds), calls, objects, nulls, reconnects))
for b in bad:
    print("BAD: " + b)
sys.exit(1 if bad else 0)
PY

after=$(fingerprint)
mg_expect_eq "policy, audit head, state files and audit log unchanged" "$before" "$after"
mg_expect_eq "meshgw still runs" "" "$(ls_rc)"
mg_expect "status still answers" "$MESHCTL" -f "$LS_PREFIX" status >/dev/null
mg_expect_eq "the control socket still works (unchanged)" \
	"unchanged version=1 digest=$(ls_digest v1.msnap)" "$(ls_push v1.msnap)"
mg_expect "audit verify" ls_audit_verify
# A clean stop, not only a live process: exit 0 on SIGTERM (a sanitizer
# finding, a crash or a hang at shutdown would show here).
ls_stop 10
mg_expect_eq "meshgw exits 0 on SIGTERM" 0 "$(ls_rc)"
mg_finish
