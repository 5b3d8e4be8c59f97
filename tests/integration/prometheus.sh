#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# `meshctl stats --prometheus` (ctrl/meshctl_prometheus.c) against a running
# meshgw: the text exposition format (Prometheus 0.0.4) parsed strictly, and
# every number in it the gateway's own, typed as what it is. Format: each line a `# HELP`, a
# `# TYPE` or a sample; metric and label names well formed, label values
# quoted; per family one HELP and one TYPE before its samples, its samples
# together; no series twice; counters named *_total and never negative.
# Values: every numeric key of /meshgw/stats and /meshgw/tls and every reason of
# /meshgw/drops appears under its documented metric and labels, and each counter lies between
# the value read just before and just after (net_null0 feeds the worker an
# endless stream of zeroed frames, so the packet and drop counters move).
#
#   host (no netns)
#   +--------------------------------+   meshctl stats --json / drops --json (before)
#   | meshgw  p0: net_null0 -> drops | <- meshctl stats --prometheus
#   +--------------------------------+   meshctl stats --json / drops --json (after)
set -euo pipefail
. "$(dirname "$0")/lib_snapshot.sh"
mg_need_root
mg_need_bins
ls_setup prom
trap ls_cleanup EXIT
cd "$LS_DIR/snap"

ls_conf gw.conf
ls_start gw.conf || mg_die "meshgw did not start"
sleep 1 # let the counters move

"$MESHCTL" -f "$LS_PREFIX" stats --json >stats0.json
"$MESHCTL" -f "$LS_PREFIX" drops --json >drops0.json
"$MESHCTL" -f "$LS_PREFIX" tls --json >tls0.json
rc=0
"$MESHCTL" -f "$LS_PREFIX" stats --prometheus >prom.txt || rc=$?
"$MESHCTL" -f "$LS_PREFIX" stats --json >stats1.json
"$MESHCTL" -f "$LS_PREFIX" drops --json >drops1.json
"$MESHCTL" -f "$LS_PREFIX" tls --json >tls1.json
mg_expect_eq "meshctl stats --prometheus: exit status" 0 "$rc"
mg_log "$(wc -l <prom.txt) lines; e.g. $(grep -m 1 '^meshgw_port_rx_packets_total' prom.txt || true)"

mg_expect "the exposition parses strictly and every value is the gateway's" \
	"$MG_PYTHON" - prom.txt stats0.json stats1.json drops0.json drops1.json tls0.json tls1.json <<'PY'
import json, math, re, sys

text = open(sys.argv[1]).read()
s0, s1, d0, d1, t0, t1 = (json.load(open(p)) for p in sys.argv[2:8])
bad = []
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
help_of, type_of, series, order = {}, {}, {}, []

if not text.endswith("\n"):
    bad.append("the last line has no newline")
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        parts = line.split(" ", 3)
        if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
            bad.append("%d: malformed %r" % (n, line))
            continue
        table = help_of if parts[1] == "HELP" else type_of
        if parts[2] in table:
            bad.append("%d: second %s for %s" % (n, parts[1], parts[2]))
        if parts[2] in series:
            bad.append("%d: %s after samples of %s" % (n, parts[1], parts[2]))
        if parts[1] == "TYPE" and parts[3] not in ("counter", "gauge"):
            bad.append("%d: type %r" % (n, parts[3]))
        table[parts[2]] = parts[3]
        continue
    m = SAMPLE.match(line)
    if not m:
        bad.append("%d: not a sample: %r" % (n, line))
        continue
    name, labels, value = m.group(1), m.group(2) or "", m.group(3)
    try:
        v = float(value)
    except ValueError:
        bad.append("%d: value %r" % (n, value))
        continue
    if name not in type_of or name not in help_of:
        bad.append("%d: %s has no HELP/TYPE before it" % (n, name))
    if order and order[-1] != name and name in series:
        bad.append("%d: samples of %s are not together" % (n, name))
    if not order or order[-1] != name:
        order.append(name)
    key = (name, labels)
    if any(key in ss for ss in series.values()):
        bad.append("%d: series %s%s twice" % (n, name, labels))
    series.setdefault(name, {})[key] = v
    if type_of.get(name) == "counter" and (not name.endswith("_total") or v < 0 or math.isnan(v)):
        bad.append("%d: counter %s%s = %s" % (n, name, labels, value))
for name in set(help_of) | set(type_of):
    if name not in series:
        bad.append("%s has HELP/TYPE but no sample" % name)

# Values that are not counts of events: a level (free mbufs, neighbours), a
# maximum, a generation number. Typed counter, rate() would read a fall as a
# reset; they are gauges, named without _total.
GAUGES = ("mbufs_free", "neighbours/count", "loop_max_cycles", "policy_generation",
          "wait_us_max", "neighbours/pinned")

def metric(key):
    """The documented mapping (meshctl_prometheus.c) of a /meshgw/stats key."""
    g = key.split("/")
    total = "" if key.endswith(GAUGES) else "_total"
    if key == "neighbours/count":
        return "meshgw_neighbours", ""
    if g[0] in ("port", "worker") and len(g) == 3:
        return "meshgw_%s_%s%s" % (g[0], g[2], total), '{%s="%s"}' % (g[0], g[1])
    if g[0] == "total" and len(g) == 2:
        return "meshgw_%s%s" % (g[1], total), ""
    return "meshgw_%s%s" % (key.replace("/", "_"), total), ""

flat = {}
for k, v in s1.items():
    if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "total/drops":
        flat[metric(k)] = (s0.get(k), v, k.endswith(GAUGES))
        want = "gauge" if k.endswith(GAUGES) else "counter"
        if type_of.get(metric(k)[0], want) != want:
            bad.append("%s (from %s) is typed %s, not %s" % (metric(k)[0], k, type_of[metric(k)[0]], want))
for r, v in d1.items():
    if isinstance(v, (int, float)) and r != "total":
        flat[("meshgw_drops_total", '{reason="%s"}' % r)] = (d0.get(r), v, False)
# /meshgw/tls (meshctl_prometheus.c to_tls_sample): labelled families, per-SVID
# gauges, the rest meshgw_tls_<key>; handshakes_active is a gauge.
LABELLED = {"authz": "verdict", "svid_refused": "reason", "handshake_error": "error",
            "record_error": "error"}

def tls_metric(key):
    g = key.split("/")
    if g[0] in LABELLED and len(g) == 2:
        return ("meshgw_tls_%s_total" % g[0], '{%s="%s"}' % (LABELLED[g[0]], g[1])), False
    if g[0] == "svid" and len(g) == 3:
        return ("meshgw_svid_%s%s" % (g[2], "_seconds" if g[2] == "not_after" else ""),
                '{svid="%s"}' % g[1]), True
    gauge = key == "handshakes_active"
    return ("meshgw_tls_%s%s" % (key.replace("/", "_"), "" if gauge else "_total"), ""), gauge

for k, v in t1.items():
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        m, gauge = tls_metric(k)
        flat[m] = (t0.get(k), v, gauge)
        if type_of.get(m[0], "gauge" if gauge else "counter") != ("gauge" if gauge else "counter"):
            bad.append("%s (from tls %s) is typed %s" % (m[0], k, type_of[m[0]]))
got = {key: v for ss in series.values() for key, v in ss.items()}
for key, (before, after, gauge) in sorted(flat.items()):
    if key not in got:
        bad.append("missing: %s%s" % key)
    elif before is None:
        bad.append("%s%s: not in the first read" % key)
    elif not gauge and not before <= got[key] <= after:
        bad.append("%s%s = %s, not between %s and %s" % (key + (got[key], before, after)))
for key in sorted(set(got) - set(flat)):
    bad.append("not from /meshgw/stats or /meshgw/drops: %s%s" % key)
moving = [k for k, (b, a, g) in flat.items() if not g and a > b]
print("%d families, %d series, %d checked against the JSON, %d moving; e.g. %s"
      % (len(series), len(got), len(flat), len(moving), sorted(moving)[:3]))
if len(moving) < 3:
    bad.append("fewer than 3 counters moved: is the gateway's worker running?")
for b in bad[:40]:
    print("BAD: " + b)
sys.exit(1 if bad else 0)
PY
mg_expect_eq "rx_packets of p0 moved (real values, not zeros)" 1 \
	"$(awk '$1 == "meshgw_port_rx_packets_total{port=\"p0\"}" { print ($2 > 0) }' prom.txt)"
mg_finish
