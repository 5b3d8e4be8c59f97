#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/mtls.sh's report: reads the run's files in TMP, writes OUT (JSON) and
prints a table. Usage: mtls_report.py TMP OUT CLK_TCK IDLE_CONNS PEER_IDLE_CONNS"""

import glob
import json
import os
import re
import sys
import time

tmp, out = sys.argv[1], sys.argv[2]
hz = int(sys.argv[3])
GIB = 1 << 30


def snap(name):
    """The key -> value lines of a snap file, values of a repeated key summed."""
    d = {}
    for line in open("%s/%s.snap" % (tmp, name)):
        k, v = line.split()
        d[k] = d.get(k, 0) + int(v)
    return d


def delta(a, b, key):
    return snap(b).get(key, 0) - snap(a).get(key, 0)


def jload(path, cmd=None):
    d = json.load(open(path))
    return d[cmd] if cmd and cmd in d else d


def mg(name, kind, key):
    """One meshgw counter from a saved meshctl --json reply."""
    d = jload("%s/%s.%s.json" % (tmp, name, kind))
    for k in (key, key.replace("/", "."), key.replace("/", "_")):
        if k in d:
            return d[k]
    raise KeyError("%s: no %s (have %s...)" % (kind, key, sorted(d)[:10]))


def mgd(a, b, kind, key):
    return mg(b, kind, key) - mg(a, kind, key)


def stages(a, b, units):
    """The worker's busy cycles per unit of work by stage (/meshgw/cycles stages)."""
    try:
        return {s: r1(mgd(a, b, "stats", "worker/0/cycles_" + s) / units)
                for s in ("rx", "parse", "tcp_in", "proxy", "tls", "tcp_out", "tx", "other")}
    except (KeyError, ZeroDivisionError):  # a build before the stage counters
        return None


def hainfo(name):
    d = {}
    try:
        for line in open("%s/%s.hainfo" % (tmp, name)):
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip()] = v.strip()
    except OSError:
        pass
    return d


def hastat_ssl(name):
    """HAProxy's per-frontend SSL module counters, if `show stat` has them."""
    try:
        lines = open("%s/%s.hastat" % (tmp, name)).read().splitlines()
    except OSError:
        return {}
    if not lines or not lines[0].startswith("# "):
        return {}
    cols = lines[0][2:].split(",")
    res = {}
    for line in lines[1:]:
        row = dict(zip(cols, line.split(",")))
        if row.get("svname") != "FRONTEND" or row.get("pxname") != "echo":
            continue
        for k in ("ssl_sess", "ssl_failed_handshake", "ssl_reused_sess"):
            if row.get(k, "") != "":
                res[k] = int(row[k])
    return res


def r1(x, n=1):
    return None if x is None else round(x, n)


# ---- crypto bounds from openssl speed (core 1, this run) ----
pk = open(tmp + "/speed-pk.txt").read()
m = re.search(r"ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", pk)
sign, verify = float(m.group(1)), float(m.group(2))
x25519 = float(re.search(r"ecdh \(X25519\)\s+\S+\s+([\d.]+)", pk).group(1))
gcm_line = [l for l in open(tmp + "/speed-gcm.txt") if l.lower().startswith("aes-128-gcm")][-1]
gcm_bps = float(gcm_line.split()[-1].rstrip("k")) * 1000
bound_hs_us = 1e6 * (1 / sign + 2 / verify + 2 / x25519)
bound_gib_s = GIB / gcm_bps
try:
    engine = json.load(open(os.path.join(os.path.dirname(out), "tls_hs.json")))
except (OSError, ValueError):
    engine = {}

res = {}
for name in ("nginx", "haproxy", "meshgw"):
    if not os.path.exists("%s/%s.done" % (tmp, name)) or not os.path.exists(
            "%s/%s-hs.json" % (tmp, name)):
        res[name] = None
        continue
    r = {}
    a, b = snap(name + "-quiet0"), snap(name + "-quiet1")
    qsecs = float(sys.argv[6]) if len(sys.argv) > 6 else 3.0
    r["quiet_cpu_per_s"] = {k.split("/", 1)[1]: r1((b[k] - a.get(k, 0)) / hz / qsecs, 3)
                            for k in b if k.startswith("thread/") and b[k] > a.get(k, 0)}
    r["quiet_cpu_per_s"]["process"] = r1((b["proc"] - a["proc"]) / hz / qsecs, 3)
    hs = json.load(open("%s/%s-hs.json" % (tmp, name)))
    cpu_hs = delta(name + "-hs0", name + "-hs1", "proc") / hz
    r["hs_client_answered"] = hs["ok"]
    r["hs_client_failed"] = hs["fails"]
    r["hs_per_s"] = hs["per_s"]
    if name == "meshgw":
        done = mgd("meshgw-hs0", "meshgw-hs1", "tcp", "proxy/tls_established")
        r["hs_server_failed"] = mgd("meshgw-hs0", "meshgw-hs1", "tcp", "proxy/tls_failed")
        r["hs_counted_by"] = "proxy/tls_established"
    elif name == "haproxy":
        a, b = hainfo("haproxy-hs0"), hainfo("haproxy-hs1")
        done = int(b.get("CumSslConns", 0)) - int(a.get("CumSslConns", 0))
        sa, sb = hastat_ssl("haproxy-hs0"), hastat_ssl("haproxy-hs1")
        r["hs_counted_by"] = "show info CumSslConns"
        if "ssl_failed_handshake" in sb:
            r["hs_server_failed"] = sb["ssl_failed_handshake"] - sa.get("ssl_failed_handshake", 0)
            done -= r["hs_server_failed"]
            r["hs_counted_by"] += " - show stat ssl_failed_handshake"
    else:
        done = hs["ok"]
        r["hs_counted_by"] = "the client's answered requests"
    r["hs_completed"] = done
    r["hs_cpu_s"] = r1(cpu_hs, 3)
    r["cpu_us_per_hs"] = r1(cpu_hs * 1e6 / done) if done else None
    if name == "meshgw":
        tsc = jload(tmp + "/meshgw-status.json")["tsc_hz"]
        r["tsc_hz"] = tsc
        hsc = mgd("meshgw-hs0", "meshgw-hs1", "tls", "handshake_cycles") / tsc
        busy = mgd("meshgw-hs0", "meshgw-hs1", "stats", "worker/0/busy_cycles") / tsc
        a, b = snap("meshgw-hs0"), snap("meshgw-hs1")
        thr = {k.split("/", 1)[1]: r1((b[k] - a.get(k, 0)) / hz * 1e6 / done)
               for k in b if k.startswith("thread/")}
        r["split_us_per_hs"] = {
            "threads_cpu (/proc utime+stime per thread)": thr,
            "handshake_cycles (TSC wall time of the handshake thread's jobs, "
            "including preemption on the shared core 0)": r1(hsc * 1e6 / done),
            "worker busy_cycles (TSC of worker loops that did work)": r1(busy * 1e6 / done),
        }
        # Work: every thread's CPU except the worker's, whose idle polling
        # is replaced by its busy cycles.
        other = sum(v for k, v in thr.items() if not k.startswith("rte-worker"))
        r["cpu_us_per_hs_work"] = r1(other + busy * 1e6 / done)
        r["stage_cycles_per_hs"] = stages("meshgw-hs0", "meshgw-hs1", done)
        # The handshake thread also burns CPU between jobs (its naps): with
        # its quiet rate q, its job CPU J over a wall time W solves
        # T = J + q (W - J), T its measured CPU.
        q = r["quiet_cpu_per_s"].get("mg-hs-0", 0.0)
        wall = hs["seconds"]
        tot = (b["thread/mg-hs-0"] - a.get("thread/mg-hs-0", 0)) / hz
        if q < 1:
            r["hs_thread_us_per_hs_net_of_quiet_est"] = r1((tot - q * wall) / (1 - q) * 1e6 / done)
    # bulk
    bulk = json.load(open("%s/%s-bulk.json" % (tmp, name)))
    cpu_bulk = delta(name + "-bulk0", name + "-bulk1", "proc") / hz
    r["bulk_gbps"] = bulk["gbps"]
    r["bulk_cpu_s_per_gib"] = r1(cpu_bulk / (bulk["bytes"] / GIB), 3)
    if name == "meshgw":
        busy = mgd("meshgw-bulk0", "meshgw-bulk1", "stats", "worker/0/busy_cycles") / r["tsc_hz"]
        r["bulk_busy_s_per_gib"] = r1(busy / (bulk["bytes"] / GIB), 3)
        r["stage_cycles_per_kib"] = stages("meshgw-bulk0", "meshgw-bulk1", bulk["bytes"] / 1024)
    # ping
    ping = json.load(open("%s/%s-ping.json" % (tmp, name)))
    r["p50_us"], r["p99_us"] = ping["p50_us"], ping["p99_us"]
    # idle
    st = json.load(open("%s/%s-idle.status" % (tmp, name)))
    n = st["open"]
    r["idle_conns"] = n
    r["idle_open_failed"] = st["fails"]
    rss = delta(name + "-idle0", name + "-idle1", "rss_kb") * 1024
    r["idle_rss_delta_bytes"] = rss
    r["idle_bytes_per_conn_rss"] = r1(rss / n) if n else None
    r["idle_bytes_per_conn"] = r["idle_bytes_per_conn_rss"]
    if name == "meshgw" and n:
        sz = json.load(open(tmp + "/sizes.json"))
        r["idle_bytes_per_conn_preallocated"] = sz["proxy_pair"] + 2 * sz["tcp_conn"]
        r["idle_bytes_per_conn"] = r1(rss / n + r["idle_bytes_per_conn_preallocated"])
        r["struct_sizes"] = sz
    if name == "meshgw":
        r["idle_tcp_mem_used_delta_bytes"] = mgd("meshgw-idle0", "meshgw-idle1", "tcp", "mem_used")
        try:
            h0 = jload(tmp + "/meshgw-idle0.heap.json", "/eal/heap_info")
            h1 = jload(tmp + "/meshgw-idle1.heap.json", "/eal/heap_info")
            r["eal_heap_alloc_bytes"] = int(h1["Alloc_size"])
            r["idle_eal_heap_alloc_delta_bytes"] = int(h1["Alloc_size"]) - int(h0["Alloc_size"])
        except (OSError, ValueError, KeyError) as e:
            r["eal_heap"] = "not read: %s" % e
        try:
            r["reauth"] = json.load(open(tmp + "/meshgw-reauth.json"))
            fin = json.load(open(tmp + "/meshgw-idle.json"))
            r["reauth"]["client_saw_closes"] = fin.get("closed_by_server")
            if fin.get("last_close_unix") and r["reauth"].get("t0_unix"):
                r["reauth"]["client_last_close_ms"] = round(
                    (fin["last_close_unix"] - r["reauth"]["t0_unix"]) * 1e3, 1)
            a, b = (jload(tmp + "/meshgw-%s.tcp.json" % x, "/meshgw/tcp")
                    for x in ("idle1", "reauth1"))
            r["reauth"]["tcp_during"] = {k: b[k] - a.get(k, 0) for k in
                                         ("counter/tx_ring_full", "counter/alloc_failures",
                                          "counter/retransmits", "counter/rto_fires")
                                         if k in b}
        except (OSError, ValueError):
            r["reauth"] = r.get("reauth")
    res[name] = r

m = res.get("meshgw") or {}
ratios = {}
for base in ("nginx", "haproxy"):
    b = res.get(base)
    if not b or not m:
        continue
    q = lambda k, mk=None: r1(m[mk or k] / b[k], 2) if m.get(mk or k) and b.get(k) else None
    ratios["meshgw/" + base] = {
        "cpu_us_per_hs (whole process)": q("cpu_us_per_hs"),
        "cpu_us_per_hs (work: handshake + worker busy cycles)": q("cpu_us_per_hs", "cpu_us_per_hs_work"),
        "bulk_cpu_s_per_gib (whole process)": q("bulk_cpu_s_per_gib"),
        "bulk_cpu_s_per_gib (worker busy)": q("bulk_cpu_s_per_gib", "bulk_busy_s_per_gib"),
        "p50_us": q("p50_us"), "p99_us": q("p99_us"),
        "idle_bytes_per_conn": q("idle_bytes_per_conn"),
    }
doc = {
    "bench": "mtls",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "setup": "standard topology; the server in netns mg-gw on core 1 (meshgw: worker on "
             "core 1, handshake + control threads on core 0 with the clients); clients "
             "(bench/mtls_client.py, Python ssl, leaf-only client SVID, no server "
             "verification) and backends (tcp_tool.py echo/source) on core 0; TLS 1.3, "
             "X25519, TLS_AES_128_GCM_SHA256, P-256 SVIDs, no tickets, no session cache",
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")), "?"),
    "cores": os.cpu_count(),
    "loadavg_at_end": os.getloadavg()[0],
    "openssl_speed_core1": {"ecdsap256_sign_per_s": sign, "ecdsap256_verify_per_s": verify,
                            "x25519_op_per_s": x25519, "aes128gcm_16k_bytes_per_s": gcm_bps},
    "crypto_bound_us_per_hs": r1(bound_hs_us),
    "crypto_bound_s_per_gib": r1(bound_gib_s, 3),
    "engine_in_memory_us (bench/results/tls_hs.json)": engine.get("meshgw_engine_us"),
    "goals": {"cpu_us_per_hs": "<= 2.0x crypto bound and <= 0.5x each peer",
              "bulk_cpu_s_per_gib": "<= 0.33", "idle_bytes_per_conn": "<= 16384",
              "p99_us": "below both peers", "reauth_10000_ms": "< 100"},
    "results": res,
    "ratios": ratios,
}
if m.get("cpu_us_per_hs"):
    doc["meshgw_x_bound"] = {
        "whole process": r1(m["cpu_us_per_hs"] / bound_hs_us, 2),
        "work (handshake + worker busy cycles)": r1(m["cpu_us_per_hs_work"] / bound_hs_us, 2)}
json.dump(doc, open(out, "w"), indent=2)
open(out, "a").write("\n")

rows = [("completed handshakes", "hs_completed"), ("handshakes/s (client)", "hs_per_s"),
        ("CPU µs/handshake (process)", "cpu_us_per_hs"),
        ("CPU µs/handshake (work)", "cpu_us_per_hs_work"),
        ("download Gbit/s", "bulk_gbps"), ("CPU s/GiB (process)", "bulk_cpu_s_per_gib"),
        ("CPU s/GiB (worker busy)", "bulk_busy_s_per_gib"),
        ("p50 µs", "p50_us"), ("p99 µs", "p99_us"), ("idle conns", "idle_conns"),
        ("bytes/idle conn (RSS delta)", "idle_bytes_per_conn_rss"),
        ("bytes/idle conn (+ slots)", "idle_bytes_per_conn")]
print("%-30s %12s %12s %12s" % ("", "nginx", "haproxy", "meshgw"))
for label, k in rows:
    print("%-30s %12s %12s %12s" % (label, *[(res[n] or {}).get(k, "-") for n in
                                             ("nginx", "haproxy", "meshgw")]))
print("crypto bound: %.1f µs/handshake, %.3f s/GiB (AES-128-GCM)" % (bound_hs_us, bound_gib_s))
if m:
    print("meshgw split µs/handshake: %s" % json.dumps(m.get("split_us_per_hs")))
    print("meshgw handshake thread µs/handshake net of its quiet burn (estimate): %s"
          % m.get("hs_thread_us_per_hs_net_of_quiet_est"))
    print("quiet CPU per s: %s" % json.dumps({n: (res[n] or {}).get("quiet_cpu_per_s")
                                              for n in res}))
    print("meshgw idle: tcp mem_used delta %s B, EAL heap alloc delta %s B" %
          (m.get("idle_tcp_mem_used_delta_bytes"), m.get("idle_eal_heap_alloc_delta_bytes")))
    print("meshgw reauth: %s" % json.dumps(m.get("reauth")))
