#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/l7.sh's report: reads the run's files in TMP, writes OUT (JSON) and
prints the README's table rows.
Usage: l7_report.py TMP OUT CLK_TCK ROUNDS SECS CONNS "CASES"

Per round, server and case TMP holds NAME.load.json (bench/l7_client), the
server's snapshots at the window's ends NAME.{0,1}.snap (cpu_ticks) and, for
meshgw, NAME.{0,1}.stats.json; NAME = r<round>-<server>-<rules>."""

import json
import os
import statistics
import sys
import time

tmp, out = sys.argv[1], sys.argv[2]
hz, rounds, secs, conns = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
cases = [int(c) for c in sys.argv[7].split()]
SERVERS = ("nginx", "meshgw")
GOAL_L7_RATIO, GOAL_VS_NGINX = 0.9, 1.0


def r1(x, nd=1):
    return None if x is None else round(x, nd)


def ticks(name, key="cpu_ticks"):
    for line in open("%s/%s.snap" % (tmp, name)):
        k, v = line.split()
        if k == key:
            return int(v)
    raise KeyError("%s: %s" % (name, key))


def core1(name, key):
    """Seconds of core 1 (/proc/stat) in the window: key core1_softirq or core1_busy."""
    try:
        return r1((ticks(name + ".1", key) - ticks(name + ".0", key)) / hz, 3)
    except KeyError:
        return None


def stats(name):
    d = json.load(open("%s/%s.stats.json" % (tmp, name)))
    return d.get("stats", d)


def stat_delta(name, key):
    a, b = stats(name + ".0"), stats(name + ".1")
    for k in (key, key.replace("/", "."), key.replace("/", "_")):
        if k in b:
            return b[k] - a.get(k, 0)
    raise KeyError("%s: no %s in meshgw's stats" % (name, key))


STAGES = ("rx", "parse", "tcp_in", "proxy", "tls", "tcp_out", "tx", "other")


def stage_cycles(name, units):
    """The worker's busy cycles per unit of work by stage, over the window."""
    try:
        return {s: r1(stat_delta(name, "worker/0/cycles_" + s) / units) for s in STAGES}
    except KeyError:  # a build before the stage counters
        return None


def flat(d, pre=""):
    """A telemetry object's numbers as "a/b/c" -> value."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, pre + k + "/"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[pre + k] = v
    return out


def l7_json(name):
    try:
        return flat(json.load(open("%s/%s.l7.json" % (tmp, name))), "l7:")
    except (OSError, ValueError):
        return {}


def l7_counters(name):
    """Every meshgw counter about HTTP / L7 that moved in the window: the
    stats keys naming http or l7, and everything in meshctl l7 (/meshgw/l7),
    whatever the gate names them."""
    a, b = stats(name + ".0"), stats(name + ".1")
    a = {k: v for k, v in flat(a).items() if "http" in k or "l7" in k}
    b = {k: v for k, v in flat(b).items() if "http" in k or "l7" in k}
    a.update(l7_json(name + ".0"))
    b.update(l7_json(name + ".1"))
    return {k: b[k] - a.get(k, 0) for k in sorted(b) if b[k] != a.get(k, 0)}


def one(server, n, r, tsc):
    """One round's figures of SERVER with N rules, or None if not measured."""
    name = "r%d-%s-%d" % (r, server, n)
    path = "%s/%s.load.json" % (tmp, name)
    if not os.path.exists(path):
        return None
    ld = json.load(open(path))
    f = {"round": r, "rps": ld["rps"], "p50_us": ld["p50_us"], "p99_us": ld["p99_us"],
         "p999_us": ld["p999_us"], "requests": ld["requests"],
         "client_cpu_s": ld["client_cpu_s"], "errors": ld["errors"]}
    lat = "%s/%s.lat.json" % (tmp, name)
    if os.path.exists(lat):
        lt = json.load(open(lat))
        f.update({"lat_p50_us": lt["p50_us"], "lat_p99_us": lt["p99_us"], "lat_rps": lt["rps"]})
    f["core1_softirq_s"] = core1(name, "core1_softirq")
    f["core1_all_busy_s"] = core1(name, "core1_busy")
    if server == "nginx":
        busy_s = (ticks(name + ".1") - ticks(name + ".0")) / hz
        f["worker_cpu_s"] = r1(busy_s, 3)
        if tsc and ld["requests"]:  # the same unit as meshgw's busy cycles
            f["busy_cycles_per_request"] = r1(busy_s * tsc / ld["requests"])
    else:
        cyc = stat_delta(name, "worker/0/busy_cycles")
        busy_s = cyc / tsc
        f["worker_busy_s"] = r1(busy_s, 3)
        f["busy_cycles_per_request"] = r1(cyc / ld["requests"]) if ld["requests"] else None
        f["l7_counters"] = l7_counters(name)
        if ld["requests"]:  # where a request's busy cycles go (/meshgw/cycles stages)
            f["stage_cycles_per_request"] = stage_cycles(name, ld["requests"])
        # The hyperscan time per request, if the gate counts it (cycles or ns).
        ctr = {k: v for k, v in f["l7_counters"].items()
               if any(w in k for w in ("match", "scan", "hyperscan"))}
        ns = sum(v / tsc * 1e9 for k, v in ctr.items() if "cycles" in k) + \
            sum(v for k, v in ctr.items() if k.endswith("_ns"))
        if ns and ld["requests"]:
            f["match_ns_per_request"] = r1(ns / ld["requests"])
    f["core1_busy"] = r1(busy_s / secs, 3)
    f["rps_per_busy_core"] = r1(ld["rps"] / (busy_s / secs)) if busy_s > 0 else None
    # nginx's receive path runs partly in softirq on core 1, charged to no
    # process; meshgw's busy cycles are wall time and include it already.
    with_si = busy_s + (f["core1_softirq_s"] or 0) if server == "nginx" else busy_s
    f["rps_per_core_with_softirq"] = r1(ld["rps"] / (with_si / secs)) if with_si > 0 else None
    return f


KEYS = ("rps", "rps_per_busy_core", "rps_per_core_with_softirq")


def paired(a, b, keys):
    """Ratios a/b per key: the median of the ratios of the rounds that
    measured both (the two sides minutes apart, not a whole run apart: this
    machine's speed drifts), and the ratio of the medians."""
    out = {}
    for k in keys:
        by_round = {x["round"]: x.get(k) for x in b["rounds"] if x.get(k)}
        per = [x[k] / by_round[x["round"]] for x in a["rounds"]
               if x.get(k) is not None and x["round"] in by_round]
        out[k] = r1(statistics.median(per), 3) if per else None
        out[k + " (of medians)"] = r1(a[k] / b[k], 3) if a.get(k) and b.get(k) else None
    return out


def median_of(rs, key):
    v = [x[key] for x in rs if x.get(key) is not None]
    return r1(statistics.median(v), 3 if key == "core1_busy" else 1) if v else None


def main():
    try:
        tsc = json.load(open(tmp + "/meshgw-status.json"))["tsc_hz"]
    except (OSError, KeyError):
        tsc = None
    res = {}
    for s in SERVERS:
        for n in cases:
            rs = [x for x in (one(s, n, r, tsc) for r in range(1, rounds + 1)) if x]
            if not rs:
                continue
            m = {k: median_of(rs, k) for k in ("rps", "rps_per_busy_core", "rps_per_core_with_softirq", "p50_us", "p99_us",
                                                "p999_us", "lat_p50_us", "lat_p99_us", "lat_rps",
                                                "core1_softirq_s", "core1_all_busy_s", "core1_busy", "busy_cycles_per_request",
                                                "match_ns_per_request")}
            m = {k: v for k, v in m.items() if v is not None}
            m["rounds"] = rs
            res.setdefault(s, {})[str(n)] = m

    mg, ng = res.get("meshgw", {}), res.get("nginx", {})
    ratios = {}
    top = str(max(cases))
    if "0" in mg and top in mg and top != "0":
        ratios["meshgw_%s_over_0" % top] = paired(mg[top], mg["0"], KEYS)
        ratios["meshgw_l7_cycles_per_request_%s_minus_0" % top] = r1(
            mg[top]["busy_cycles_per_request"] - mg["0"]["busy_cycles_per_request"])
    for n in cases:
        k = str(n)
        if k in mg and k in ng:
            ratios["meshgw_over_nginx_%s" % k] = paired(
                mg[k], ng[k], KEYS + ("p99_us", "lat_p99_us", "busy_cycles_per_request"))
    status = None
    if os.path.exists(tmp + "/meshgw-l7.status"):
        status = open(tmp + "/meshgw-l7.status").read().strip()
    doc = {
        "results": res,
        "ratios": ratios,
        "goals": {"meshgw_10000_over_0 rps_per_busy_core": ">= %.1f" % GOAL_L7_RATIO,
                  "meshgw_over_nginx rps_per_busy_core (same rules)": "> %.1f" % GOAL_VS_NGINX},
        "meshgw_l7_status": status or "measured",
        "cases_rules": cases, "rounds": rounds, "window_s": secs, "conns": conns,
        "tsc_hz": tsc,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "loadavg_at_end": os.getloadavg()[0],
        "kernel": os.uname().release,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    table(doc, res)


def table(doc, res):
    print("| measured (median of %d rounds) | server | rules | req/s (%d conns) | core 1 busy "
          "| req/s per busy core (nginx + softirq) | p50 / p99 µs, 1 conn | p50 / p99 µs, %d conns "
          "| core-1 cycles/req |" % (doc["rounds"], doc["conns"], doc["conns"]))
    print("|---|---|---|---|---|---|---|---|---|")
    for s in SERVERS:
        for n in doc["cases_rules"]:
            m = res.get(s, {}).get(str(n))
            if not m:
                print("| %s | %s | %d | to be measured | | | | | |" % (doc["date"], s, n))
                continue
            print("| %s | %s | %d | %s | %s | %s%s | %s / %s | %s / %s | %s |" % (
                doc["date"], s, n, m.get("rps"), m.get("core1_busy"), m.get("rps_per_busy_core"),
                " (%s)" % m.get("rps_per_core_with_softirq") if s == "nginx" else "",
                m.get("lat_p50_us"), m.get("lat_p99_us"), m.get("p50_us"), m.get("p99_us"),
                m.get("busy_cycles_per_request", "")))
    print()
    print(json.dumps(doc["ratios"], sort_keys=True))
    print("meshgw L7:", doc["meshgw_l7_status"])


if __name__ == "__main__":
    main()
