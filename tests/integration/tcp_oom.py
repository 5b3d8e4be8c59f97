#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile TCP peers for tcp_oom.sh (issue 11 item 1), from a raw AF_PACKET socket.

  ip netns exec mg-client /usr/bin/python3 tcp_oom.py --iface eth0 \
      --gw-mac 02:.. --dst 198.18.1.1:8080 --src 198.18.1.77 --ready-file F

From --src (an address no host owns: the client's kernel drops the replies
without answering, and a BPF filter hands this socket only frames for --src):
  --half-open SYNs never completed (half-open handshakes);
  --ooo-conns connections that each send --ooo-segs one-byte segments with a
     hole in front of every one (out-of-order data that can never be read);
  --zw-conns connections that send an HTTP request for --zw-path, take the
     first window's worth of the response and then advertise a zero window,
     answering every probe with window zero (zero-window peers that never open).
Writes --ready-file (JSON) once everything is sent, keeps answering until
--seconds or until the gateway has reset every connection it completed (then
there is nothing left to answer), and prints a JSON summary: what was sent and
how many RSTs came back.
Frames are built with struct, not scapy, for speed.
"""

import argparse
import ctypes
import json
import random
import select
import socket
import struct
import time

from rawframe import csum, mac

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SYN, RST, PSH, ACK, FIN = 0x02, 0x04, 0x08, 0x10, 0x01



class Wire:
    def __init__(self, iface, gw_mac, src, dst, dport):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((iface, 0))
        self.attach_filter(src)
        self.smac = open("/sys/class/net/%s/address" % iface).read().strip()
        self.smac, self.dmac = mac(self.smac), mac(gw_mac)
        self.src, self.dst, self.dport = src, dst, dport

    def attach_filter(self, src):
        # ld [30] (IPv4 destination); jeq src ? accept : drop
        ip = struct.unpack("!I", src)[0]
        prog = [(0x20, 0, 0, 30), (0x15, 0, 1, ip), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
        raw = b"".join(struct.pack("HBBI", *i) for i in prog)
        buf = ctypes.create_string_buffer(raw)
        fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
        self._keep = buf
        self.s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def send(self, sport, seq, ack, flags, win, payload=b"", opts=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, self.dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          (20 + len(opts)) // 4 << 4, flags, win, 0, 0) + opts + payload
        pseudo = self.src + self.dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16),
                         0x4000, 64, 6, 0, self.src, self.dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        self.s.send(self.dmac + self.smac + b"\x08\x00" + ip + tcp)

    def recv(self, timeout):
        """One TCP segment for us: (dport, seq, ack, flags, win, payload) or None."""
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return None
        f = self.s.recv(65535)
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            return None
        ihl = (f[14] & 0xF) * 4
        tot = struct.unpack("!H", f[16:18])[0]
        t = 14 + ihl
        sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", f[t:t + 16])
        if sport != self.dport:
            return None
        data = f[t + (off >> 4) * 4:14 + tot]
        return dport, seq, ack, flags, win, data


class Conn:
    def __init__(self, port, kind):
        self.port, self.kind = port, kind
        self.isn = random.getrandbits(32)
        self.srv = None        # server's ISN + 1 once the SYN-ACK came
        self.rcv_nxt = None    # next byte we expect from the server
        self.taken = 0         # response bytes accepted (zero-window peers)
        self.rst = False
        self.shut = False


def handshake(w, conns, win, deadline):
    mss = struct.pack("!BBH", 2, 4, 1460)
    for c in conns:
        w.send(c.port, c.isn, 0, SYN, win, opts=mss)
    by_port = {c.port: c for c in conns}
    while time.time() < deadline and any(c.srv is None for c in conns):
        seg = w.recv(0.2)
        if not seg:
            continue
        c = by_port.get(seg[0])
        if c and c.srv is None and seg[3] & (SYN | ACK) == SYN | ACK and seg[2] == c.isn + 1:
            c.srv = c.rcv_nxt = seg[1] + 1
            w.send(c.port, c.isn + 1, c.rcv_nxt, ACK, win)


def answer(w, by_port, seg, first_window):
    """Zero-window peers take first_window bytes in order, then shut the window."""
    c = by_port.get(seg[0])
    if not c or c.srv is None:
        return
    _, seq, _, flags, _, data = seg
    if flags & RST:
        c.rst = True
        return
    if c.kind != "zw":
        return
    if data and seq == c.rcv_nxt and not c.shut and c.taken + len(data) <= first_window:
        c.rcv_nxt = (c.rcv_nxt + len(data)) & 0xFFFFFFFF
        c.taken += len(data)
    win = 0 if c.taken >= first_window // 2 else first_window - c.taken
    c.shut = c.shut or win == 0    # and it never opens again, probes included
    if data or flags & FIN:
        w.send(c.port, c.isn + 1 + len(c.request), c.rcv_nxt, ACK, win)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--gw-mac", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--src", default="198.18.1.77")
    ap.add_argument("--half-open", type=int, default=20)
    ap.add_argument("--ooo-conns", type=int, default=40)
    ap.add_argument("--ooo-segs", type=int, default=600)
    ap.add_argument("--zw-conns", type=int, default=10)
    ap.add_argument("--zw-path", default="/big")
    ap.add_argument("--zw-window", type=int, default=8192)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    ip, port = a.dst.rsplit(":", 1)
    w = Wire(a.iface, a.gw_mac, socket.inet_aton(a.src), socket.inet_aton(ip), int(port))
    t0 = time.time()
    end = t0 + a.seconds
    base = random.randrange(20000, 40000)
    half = [Conn(base + i, "half") for i in range(a.half_open)]
    ooo = [Conn(base + 1000 + i, "ooo") for i in range(a.ooo_conns)]
    zw = [Conn(base + 2000 + i, "zw") for i in range(a.zw_conns)]
    for c in half:
        w.send(c.port, c.isn, 0, SYN, 65535, opts=struct.pack("!BBH", 2, 4, 1460))
    handshake(w, ooo, 65535, min(end, time.time() + 10))
    handshake(w, zw, a.zw_window, min(end, time.time() + 10))
    by_port = {c.port: c for c in ooo + zw}
    for c in zw:
        c.request = ("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % a.zw_path).encode()
        if c.srv is not None:
            w.send(c.port, c.isn + 1, c.rcv_nxt, PSH | ACK, a.zw_window, c.request)
    for c in ooo:
        c.request = b""
    sent = 0
    for k in range(a.ooo_segs):          # round robin: every conn grows together
        for c in ooo:
            if c.srv is not None:
                w.send(c.port, c.isn + 1 + 2 + 2 * k, c.srv, ACK, 65535, b"x")
                sent += 1
        while True:                      # keep the zero-window peers answered
            seg = w.recv(0)
            if not seg:
                break
            answer(w, by_port, seg, a.zw_window)
    summary = {
        "half_open": len(half),
        "ooo_conns": sum(c.srv is not None for c in ooo),
        "zw_conns": sum(c.srv is not None for c in zw),
        "ooo_segments": sent,
        "setup_seconds": round(time.time() - t0, 2),
    }
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            json.dump(summary, f)
    live = [c for c in ooo + zw if c.srv is not None]
    while time.time() < end and not all(c.rst for c in live):
        seg = w.recv(min(0.5, max(0.0, end - time.time())))
        if seg:
            answer(w, by_port, seg, a.zw_window)
    summary["zw_bytes_taken"] = sum(c.taken for c in zw)
    summary["rst_ooo"] = sum(c.rst for c in ooo)
    summary["rst_zw"] = sum(c.rst for c in zw)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
