#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""What crossed the fabric on a TCP port: run in netns mg-fabric on br0 for a
few seconds, then write "SEGMENTS TLS_STARTS PLAINTEXT" to OUT: the TCP
segments with payload to or from PORT, how many begin with a TLS record
header (content type 20-23, version 3.3), and how many carry plaintext HTTP
("GET /" or "HTTP/1"). Used by mtls_outbound.sh and the demo.

--ready FILE is created once the capture runs; with --until FILE it ends when
that file appears (or at --seconds, whichever comes first), so that a script
waits for the traffic it made instead of a fixed time.

Usage: capture_tls.py OUT [--port 8443] [--seconds 12] [--iface br0]
                          [--ready FILE] [--until FILE]
"""
import argparse
import os
import time

from scapy.all import IP, TCP, Raw, AsyncSniffer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--iface", default="br0")
    ap.add_argument("--ready")
    ap.add_argument("--until")
    a = ap.parse_args()
    seen = []

    def keep(p):
        if IP in p and TCP in p and Raw in p and a.port in (p[TCP].sport, p[TCP].dport):
            seen.append(bytes(p[Raw].load))

    def started():
        if a.ready:
            open(a.ready, "w").close()

    sn = AsyncSniffer(iface=a.iface, prn=keep, store=False, started_callback=started)
    sn.start()
    end = time.monotonic() + a.seconds
    while time.monotonic() < end and not (a.until and os.path.exists(a.until)):
        time.sleep(0.05)
    sn.stop()
    plain = sum(1 for b in seen if b"GET /" in b or b"HTTP/1" in b)
    tls = sum(1 for b in seen if b[:1] in (b"\x14", b"\x15", b"\x16", b"\x17") and b[1:3] == b"\x03\x03")
    with open(a.out, "w") as f:
        f.write(f"{len(seen)} {tls} {plain}\n")


if __name__ == "__main__":
    main()
