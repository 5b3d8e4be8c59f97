#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""mTLS clients for bench/mtls.sh (issue 12, Benchmark), run in mg-client.

Every mode presents the client's X509-SVID (leaf only, P-256), speaks TLS 1.3
only, does not verify the server (the server's CPU is what is measured; the
client's checks would only slow the client on the shared core), is bounded in
count and time, and prints one line of JSON.

  hs     --secs S --threads T        full handshakes, each followed by one 64-byte
                                     request echoed back, then close; counted only
                                     when the reply came back intact
  bulk   --bytes N                   one connection to a source server: read N bytes
  ping   --rounds R --size B         one kept-alive connection: R echoes of B bytes,
                                     p50/p99 in microseconds
  idle   --conns N --conc C          N connections, each handshakes and echoes 16 B
         --status FILE --hold S      once, then stays open: FILE gets {"open": n,...}
                                     when all are up; held until SIGTERM or S seconds;
                                     on exit prints how many the server closed and
                                     when the last close arrived
  reauth --prefix P --target N       run CMD (a policy push), poll meshgw's telemetry
         --timeout S -- CMD...       socket every ms until proxy/reauth_closed has
                                     grown by N; prints the push's and the closes' times
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time


def out(d, ok=True):
    print(json.dumps(d), flush=True)
    sys.exit(0 if ok else 1)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


def connect(ctx, h, p, timeout):
    s = socket.create_connection((h, p), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s)


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            break
        buf += b
    return bytes(buf)


def hs(args):
    ctx = context(args)
    h, p = hostport(args.to)
    stop = time.monotonic() + args.secs
    res = {"ok": 0, "fails": 0}
    errors = {}
    lock = threading.Lock()
    data = os.urandom(64)

    def worker():
        while time.monotonic() < stop:
            ok, err = False, None
            try:
                s = connect(ctx, h, p, 10)
                s.sendall(data)
                ok = recv_exact(s, 64) == data
                err = None if ok else "short or wrong reply"
                s.close()
            except (OSError, ssl.SSLError) as e:
                err = type(e).__name__
            with lock:
                res["ok" if ok else "fails"] += 1
                if err:
                    errors[err] = errors.get(err, 0) + 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    res.update({"mode": "hs", "seconds": round(dt, 2), "per_s": round(res["ok"] / dt, 1),
                "errors": errors})
    out(res, res["ok"] > 0)


def bulk(args):
    ctx = context(args)
    h, p = hostport(args.to)
    t0 = time.monotonic()
    s = connect(ctx, h, p, 20)
    t1 = time.monotonic()
    buf = bytearray(1 << 20)
    got = 0
    deadline = t0 + args.timeout
    while got < args.bytes and time.monotonic() < deadline:
        n = s.recv_into(buf)
        if not n:
            break
        got += n
    dt = time.monotonic() - t1
    s.close()
    out({"mode": "bulk", "bytes": got, "seconds": round(dt, 3),
         "gbps": round(got * 8 / dt / 1e9, 3)}, got >= args.bytes)


def ping(args):
    ctx = context(args)
    h, p = hostport(args.to)
    s = connect(ctx, h, p, 10)
    data = os.urandom(args.size)
    for _ in range(20):  # warm-up: the first rounds include the record path's set-up
        s.sendall(data)
        recv_exact(s, len(data))
    lat = []
    for _ in range(args.rounds):
        t0 = time.perf_counter_ns()
        s.sendall(data)
        back = recv_exact(s, len(data))
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
        if back != data:
            out({"mode": "ping", "error": "payload mismatch"}, False)
    s.close()
    lat.sort()
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 1)
    out({"mode": "ping", "rounds": args.rounds, "size": args.size,
         "p50_us": q(0.50), "p99_us": q(0.99)})


def idle(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = context(args)
    h, p = hostport(args.to)
    conns, fails, closed, last = [], [0], [0], [None]
    errors = {}
    stop = asyncio.Event()

    async def watch(r):
        try:
            await r.read(1)  # an idle server sends nothing; EOF or error: closed
        except (OSError, ssl.SSLError):
            pass
        closed[0] += 1
        last[0] = time.time()

    async def opener(q):
        while q:
            q.pop()
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(h, p, ssl=ctx), 20)
                w.write(b"0123456789abcdef")
                if await asyncio.wait_for(r.readexactly(16), 20) != b"0123456789abcdef":
                    raise OSError("bad echo")
                conns.append((r, w))
            except (OSError, ssl.SSLError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError) as e:
                fails[0] += 1
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        t0 = time.monotonic()
        q = list(range(args.conns))
        await asyncio.wait_for(asyncio.gather(*(opener(q) for _ in range(args.conc))),
                               args.open_timeout)
        opened = time.monotonic() - t0
        watchers = [asyncio.ensure_future(watch(r)) for r, _ in conns]
        st = {"open": len(conns), "fails": fails[0], "errors": errors,
              "open_seconds": round(opened, 2)}
        with open(args.status + ".tmp", "w") as f:
            json.dump(st, f)
        os.rename(args.status + ".tmp", args.status)
        try:
            await asyncio.wait_for(stop.wait(), args.hold)
        except asyncio.TimeoutError:
            pass
        st["closed_by_server"] = closed[0]
        st["last_close_unix"] = last[0]
        for w in watchers:
            w.cancel()
        for _, w in conns:
            w.transport.abort()
        return st

    st = asyncio.run(main())
    st["mode"] = "idle"
    out(st, st["open"] == args.conns)


def tel_connect(prefix):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
    s.recv(65536)  # the greeting
    return s


def tel_get(s, cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20).decode())[cmd]


def reauth(args):
    s = tel_connect(args.prefix)
    key = "proxy/reauth_closed"
    base = tel_get(s, "/meshgw/tcp")[key]
    t0, t0_unix = time.monotonic(), time.time()
    push = subprocess.Popen(args.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t_push = t_first = t_all = None
    n = 0
    while time.monotonic() - t0 < args.timeout:
        n = tel_get(s, "/meshgw/tcp")[key] - base
        now = time.monotonic()
        if n > 0 and t_first is None:
            t_first = now
        if t_push is None and push.poll() is not None:
            t_push = now
        if n >= args.target:
            t_all = now
            break
        time.sleep(0.001)
    push_out = push.communicate(timeout=30)[0].decode(errors="replace").strip()
    if t_push is None:
        t_push = time.monotonic()
    ms = lambda t: round((t - t0) * 1e3, 1) if t is not None else None
    out({"mode": "reauth", "t0_unix": t0_unix, "target": args.target, "closed": n, "push_rc": push.returncode,
         "push_out": push_out[-300:], "push_ms": ms(t_push),
         "first_close_ms": ms(t_first), "all_closed_ms": ms(t_all),
         "all_closed_after_push_ms": round((t_all - t_push) * 1e3, 1)
         if t_all is not None and t_all > t_push else (0.0 if t_all else None)},
        t_all is not None and push.returncode == 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["hs", "bulk", "ping", "idle", "reauth"])
    ap.add_argument("--to", default="198.18.1.1:8443")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--conc", type=int, default=64)
    ap.add_argument("--open-timeout", type=float, default=120)
    ap.add_argument("--status")
    ap.add_argument("--hold", type=float, default=120)
    ap.add_argument("--prefix")
    ap.add_argument("--target", type=int, default=10000)
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:len(argv) - len(cmd) - (1 if cmd else 0)])
    args.cmd = cmd
    {"hs": hs, "bulk": bulk, "ping": ping, "idle": idle, "reauth": reauth}[args.mode](args)


if __name__ == "__main__":
    main()
