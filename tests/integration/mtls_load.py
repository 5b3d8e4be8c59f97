#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Peers for mtls_flood.sh: an echo backend, a kept-alive mTLS ping-pong and a
flood of full mTLS handshakes. Every mode is bounded in count and time and
prints one line of JSON on stdout.

  echo-server --bind IP --port P --secs S
        echo every byte on every connection (one thread, selectors), S seconds
  pingpong --connect IP:P --cert C --key K --ca CA --secs S --out FILE
        one mTLS connection, 64-byte request/echo round trips every --gap-us
        for S seconds or until the file --stop names exists; FILE gets "t_ns rtt_ns" per round trip (t: CLOCK_REALTIME
        at the start of the round trip)
  flood --connect IP:P --cert C --key K --ca CA --bind IP --count N --secs S
        N full mTLS handshakes one after another (no resumption: a fresh
        session each time), each proven complete by a 16-byte echo, stopping
        at N or after S seconds; counts successes and failures by kind
"""

import argparse
import json
import os
import selectors
import socket
import ssl
import sys
import time


def echo_server(a):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(1024)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ)
    conns = 0
    end = time.monotonic() + a.secs
    while time.monotonic() < end:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(c, selectors.EVENT_READ)
                conns += 1
                continue
            try:
                data = s.recv(65536)
                if data:
                    s.sendall(data)  # small echoes: the send buffer takes them
                    continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
    print(json.dumps({"mode": "echo-server", "conns": conns}))


def context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # an SVID names a SPIFFE ID, not a host
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    return ctx


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def pingpong(a):
    ctx = context(a)
    raw = socket.create_connection(hostport(a.connect), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw)
    msg = b"p" * 64
    out = []
    lost = 0
    end = time.monotonic() + a.secs
    gap = a.gap_us / 1e6
    while time.monotonic() < end and not (a.stop and os.path.exists(a.stop)):
        t = time.time_ns()
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = b""
        try:
            while len(got) < len(msg):
                chunk = s.recv(len(msg) - len(got))
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, OSError):
            lost += 1
            break
        if got != msg:
            lost += 1
            break
        out.append((t, time.perf_counter_ns() - t0))
        time.sleep(gap)
    with open(a.out, "w") as f:
        for t, rtt in out:
            f.write("%d %d\n" % (t, rtt))
    print(json.dumps({"mode": "pingpong", "rounds": len(out), "lost": lost}))
    return 0 if lost == 0 else 1


def flood(a):
    ctx = context(a)
    host, port = hostport(a.connect)
    ok = 0
    errors = {}
    end = time.monotonic() + a.secs
    for _ in range(a.count):
        if time.monotonic() >= end:
            break
        raw = socket.socket()
        raw.settimeout(a.timeout)
        try:
            raw.bind((a.bind, 0))
            raw.connect((host, port))
            s = ctx.wrap_socket(raw)  # a new SSL object: a full handshake
            s.sendall(b"h" * 16)
            got = b""
            while len(got) < 16:
                chunk = s.recv(16 - len(got))
                if not chunk:
                    raise ConnectionError("closed before the echo")
                got += chunk
            ok += 1
        except (OSError, ssl.SSLError) as e:
            kind = type(e).__name__
            errors[kind] = errors.get(kind, 0) + 1
        finally:
            raw.close()
    print(json.dumps({"mode": "flood", "bind": a.bind, "ok": ok, "errors": errors}))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["echo-server", "pingpong", "flood"])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--connect")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--secs", type=float, default=10)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=15)
    p.add_argument("--gap-us", type=int, default=1000)
    p.add_argument("--out")
    p.add_argument("--stop", help="pingpong: stop when this file exists")
    a = p.parse_args()
    fn = {"echo-server": echo_server, "pingpong": pingpong, "flood": flood}[a.mode]
    sys.exit(fn(a) or 0)


if __name__ == "__main__":
    main()
