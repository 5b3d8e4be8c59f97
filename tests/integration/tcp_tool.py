#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP peers for the L4 tests and the L4 benchmark (issue 5), in asyncio.

Run inside a namespace of the standard topology (tests/topo.sh). Every mode is
bounded in time (--timeout) and exits 0 on success, 1 on a failed check, with
one line of JSON on stdout for the caller.

Servers (mg-backend):
  echo-server  --bind IP --port P     echo every byte; on EOF flush and FIN back
  source-server --bind IP --port P    send an endless counter pattern (slow-reader test)
  proxy --listen IP:P --upstream IP:P a plain L4 proxy, the Linux stand-in for meshgw

Clients (mg-client):
  transfer   --size N                 stream N random bytes through an echo server,
                                      half-close, SHA-256 of sent == SHA-256 of echoed
  echo-many  --conns N --hold S       N concurrent connections, each echoes a unique
                                      payload, all held S seconds, each echoes again
  slow-reader --hold S                connect to source-server, read nothing for S
                                      seconds (zero window), then read and check the
                                      pattern continues without a gap
  pingpong   --rounds R --size B      request/response latency, p50/p99 in µs
  connrate   --secs S --conc C        short connections (connect, 64 B echo, close)/s;
             [--window W]             also counted per window of W seconds
"""

import argparse
import array
import asyncio
import hashlib
import json
import os
import resource
import socket
import struct
import sys
import time

CHUNK = 65536


def out(d, ok=True):
    print(json.dumps(d), flush=True)
    sys.exit(0 if ok else 1)


def raise_nofile():
    """10 000 proxied connections are 20 000 sockets in one process: root may
    raise the hard limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def pattern(off, n):
    """n bytes of the counter pattern starting at byte offset off: the big-endian
    32-bit word i sits at offset 4*i, so any gap or reordering shows."""
    first = off // 4
    words = (n + (off % 4) + 3) // 4 + 1
    a = array.array("I", range(first, first + words))
    if sys.byteorder == "little":
        a.byteswap()
    s = off % 4
    return a.tobytes()[s:s + n]


# ---- servers ----------------------------------------------------------------

async def echo_handler(r, w):
    try:
        while True:
            b = await r.read(CHUNK)
            if not b:
                break
            w.write(b)
            await w.drain()
        if w.can_write_eof():
            w.write_eof()
        await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()


async def source_handler(r, w):
    off = 0
    try:
        while True:
            w.write(pattern(off, CHUNK))
            off += CHUNK
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()


async def serve(args, handler):
    srv = await asyncio.start_server(handler, args.bind, args.port, backlog=65535,
                                     reuse_address=True, reuse_port=True)
    async with srv:
        await srv.serve_forever()


async def pipe(r, w):
    try:
        while True:
            b = await r.read(CHUNK)
            if not b:
                break
            w.write(b)
            await w.drain()
        if w.can_write_eof():
            w.write_eof()
    except (ConnectionError, OSError):
        w.transport.abort()


async def proxy(args):
    uh, up = hostport(args.upstream)

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(uh, up)
        except OSError as e:
            print("proxy: upstream connect: %s" % e, file=sys.stderr, flush=True)
            cw.transport.abort()
            return
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
        cw.close()
        uw.close()

    lh, lp = hostport(args.listen)
    # reuse_port: several proxy processes may share the listener (the file
    # limit of one process may be below 2 sockets x 10 000 connections).
    srv = await asyncio.start_server(handle, lh, lp, backlog=65535, reuse_address=True,
                                     reuse_port=True)
    async with srv:
        await srv.serve_forever()


# ---- clients ----------------------------------------------------------------

async def transfer(args):
    h, p = hostport(args.to)
    r, w = await asyncio.open_connection(h, p)
    sent, got = hashlib.sha256(), hashlib.sha256()
    nrecv = 0

    async def writer():
        off = 0
        while off < args.size:
            n = min(CHUNK, args.size - off)
            b = os.urandom(n)
            sent.update(b)
            w.write(b)
            off += n
            await w.drain()
        w.write_eof()

    async def reader():
        nonlocal nrecv
        while True:
            b = await r.read(CHUNK)
            if not b:
                return
            got.update(b)
            nrecv += len(b)

    t0 = time.monotonic()
    await asyncio.gather(writer(), reader())
    dt = time.monotonic() - t0
    w.close()
    ok = nrecv == args.size and sent.hexdigest() == got.hexdigest()
    return {"mode": "transfer", "bytes": args.size, "echoed": nrecv,
            "sha256_sent": sent.hexdigest(), "sha256_echoed": got.hexdigest(),
            "seconds": round(dt, 3), "ok": ok}


async def echo_many(args):
    h, p = hostport(args.to)
    sem = asyncio.Semaphore(args.open_conc)
    conns, fails = [], {"connect": 0, "echo1": 0, "echo2": 0}
    errors = {}

    def payload(i, rnd):
        return (b"%08d.%d." % (i, rnd)) + os.urandom(args.size)

    async def round_trip(r, w, data):
        w.write(data)
        await w.drain()
        return await r.readexactly(len(data)) == data

    async def opener(i):
        async with sem:
            try:
                r, w = await asyncio.open_connection(h, p)
            except OSError as e:
                fails["connect"] += 1
                errors[str(e)] = errors.get(str(e), 0) + 1
                return
            try:
                if not await round_trip(r, w, payload(i, 1)):
                    raise ValueError
            except (OSError, ValueError, asyncio.IncompleteReadError) as e:
                fails["echo1"] += 1
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                w.transport.abort()
                return
            conns.append((i, r, w))

    t0 = time.monotonic()
    await asyncio.gather(*(opener(i) for i in range(args.conns)))
    t_open = time.monotonic() - t0
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("%d\n" % len(conns))
    await asyncio.sleep(args.hold)

    async def second(c):
        i, r, w = c
        async with sem:
            try:
                if not await round_trip(r, w, payload(i, 2)):
                    raise ValueError
                w.write_eof()
                if await r.read(1) != b"":
                    raise ValueError
            except (OSError, ValueError, asyncio.IncompleteReadError) as e:
                fails["echo2"] += 1
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            finally:
                w.close()

    await asyncio.gather(*(second(c) for c in conns))
    ok = len(conns) == args.conns and not any(fails.values())
    return {"mode": "echo-many", "conns": args.conns, "held": len(conns),
            "open_seconds": round(t_open, 2), "fails": fails, "errors": errors, "ok": ok}


async def slow_reader(args):
    h, p = hostport(args.to)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, (h, p))
    r, w = await asyncio.open_connection(sock=s)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("connected\n")
    await asyncio.sleep(args.hold)
    off, want = 0, args.read_after
    while off < want:
        b = await r.read(min(CHUNK, want - off))
        if not b:
            break
        if b != pattern(off, len(b)):
            return {"mode": "slow-reader", "ok": False, "error": "pattern broken at %d" % off}
        off += len(b)
    w.transport.abort()
    return {"mode": "slow-reader", "held_s": args.hold, "read_after": off,
            "ok": off == want}


async def pingpong(args):
    h, p = hostport(args.to)
    r, w = await asyncio.open_connection(h, p)
    w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = os.urandom(args.size)
    lat = []
    for _ in range(args.rounds):
        t0 = time.perf_counter_ns()
        w.write(data)
        back = await r.readexactly(len(data))
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
        if back != data:
            return {"mode": "pingpong", "ok": False, "error": "payload mismatch"}
    w.close()
    lat.sort()
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 1)
    return {"mode": "pingpong", "rounds": args.rounds, "size": args.size,
            "p50_us": q(0.50), "p99_us": q(0.99), "ok": True}


async def connrate(args):
    h, p = hostport(args.to)
    done, fails = 0, 0
    t0 = time.monotonic()
    stop = t0 + args.secs
    data = b"x" * 64
    # Per window of --window seconds (0: one window), to see a rate that falls.
    nwin = max(1, int(args.secs / args.window + 0.5)) if args.window > 0 else 1
    win = [[0, 0] for _ in range(nwin)]
    errors = {}

    def count(ok, err=None):
        nonlocal done, fails
        i = int((time.monotonic() - t0) / args.window) if args.window > 0 else 0
        win[min(i, nwin - 1)][0 if ok else 1] += 1
        done += ok
        fails += not ok
        if err:
            errors[err] = errors.get(err, 0) + 1

    async def worker():
        while time.monotonic() < stop:
            try:
                r, w = await asyncio.open_connection(h, p)
                w.write(data)
                ok = await r.readexactly(64) == data
                w.transport.abort() if args.rst else w.close()
                count(ok, None if ok else "mismatch")
            except (OSError, asyncio.IncompleteReadError) as e:
                count(False, type(e).__name__)

    await asyncio.gather(*(worker() for _ in range(args.conc)))
    dt = time.monotonic() - t0
    res = {"mode": "connrate", "conns": done, "fails": fails, "seconds": round(dt, 2),
           "per_s": round(done / dt, 1), "ok": fails == 0 and done > 0}
    if args.window > 0:
        res["window_s"] = args.window
        res["windows"] = [{"conns": c, "fails": f, "per_s": round(c / args.window, 1)}
                          for c, f in win]
    if errors:
        res["errors"] = errors
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["echo-server", "source-server", "proxy", "transfer",
                                     "echo-many", "slow-reader", "pingpong", "connrate"])
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--listen")
    ap.add_argument("--upstream")
    ap.add_argument("--to", default="198.18.1.1:8080")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--open-conc", type=int, default=256)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--read-after", type=int, default=1 << 20)
    ap.add_argument("--ready-file")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--window", type=float, default=0)
    ap.add_argument("--rst", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    raise_nofile()

    servers = {"echo-server": lambda: serve(args, echo_handler),
               "source-server": lambda: serve(args, source_handler),
               "proxy": lambda: proxy(args)}
    if args.mode in servers:
        asyncio.run(servers[args.mode]())
        return
    clients = {"transfer": transfer, "echo-many": echo_many, "slow-reader": slow_reader,
               "pingpong": pingpong, "connrate": connrate}

    async def bounded():
        return await asyncio.wait_for(clients[args.mode](args), args.timeout)

    try:
        res = asyncio.run(bounded())
    except asyncio.TimeoutError:
        out({"mode": args.mode, "ok": False, "error": "timeout %g s" % args.timeout}, False)
    except (OSError, asyncio.IncompleteReadError) as e:
        out({"mode": args.mode, "ok": False, "error": repr(e)}, False)
    out(res, res["ok"])


if __name__ == "__main__":
    main()
