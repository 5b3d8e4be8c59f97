#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""RFC 9293 / RFC 5961 conformance cases against a TCP listener, with scapy.

Run in mg-client (tcp_conformance.sh sets it up; the client's kernel must not
answer for these hand-made connections: `iptables -A OUTPUT -p tcp --tcp-flags
RST RST -j DROP`). The listener is meshgw's L4 proxy (or the Linux reference)
in front of an echo server, so data sent is data echoed back.

  ip netns exec mg-client /usr/bin/python3 tcp_conformance.py \
      --gw-mac 02:00:c6:12:01:01 --dst 198.18.1.1:8080 [--case NAME]...

Each case is one named behaviour; the names are the ones docs/tcp.md's
"RFC 9293 conformance" table cites. Prints "ok NAME" or "NOT OK NAME: why" per
case and exits 1 if any failed. Every wait is bounded (a few seconds per case).
"""

import argparse
import random
import sys
import time

from scapy.config import conf
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.sendrecv import sniff

conf.verb = 0
A = None  # parsed arguments


class Fail(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise Fail(why)


class Conn:
    """One hand-made connection from a fresh source port."""

    def __init__(self, sock, dport=None, mss=1460):
        self.s = sock
        self.sport = random.randint(20000, 60000)
        self.dport = dport or A.dport
        self.seq = random.getrandbits(32)
        self.ack = 0
        self.mss = mss
        self.peer_isn = None

    def pkt(self, flags, seq=None, ack=None, data=b"", opts=None, win=65535, chksum=None):
        t = TCP(sport=self.sport, dport=self.dport, flags=flags,
                seq=self.seq if seq is None else seq,
                ack=self.ack if ack is None else ack, window=win,
                options=opts or [])
        if chksum is not None:
            t.chksum = chksum
        p = Ether(dst=A.gw_mac) / IP(src=A.src, dst=A.dst_ip, flags="DF") / t
        if data:
            p = p / Raw(data)
        return p

    def send(self, *a, **kw):
        self.s.send(self.pkt(*a, **kw))

    def recv(self, timeout=2.0, count=0, stop=None):
        """Segments of this connection from the listener, for up to timeout s."""
        def mine(p):
            return TCP in p and p[IP].src == A.dst_ip and p[TCP].dport == self.sport
        return sniff(opened_socket=self.s, timeout=timeout, count=count,
                     lfilter=mine, stop_filter=stop)

    def one(self, timeout=2.0):
        r = self.recv(timeout, count=1)
        return r[0][TCP] if r else None

    def handshake(self, opts=None):
        o = opts if opts is not None else [("MSS", self.mss)]
        self.send("S", opts=o)
        sa = self.one(3)
        expect(sa is not None, "no SYN-ACK")
        expect(sa.flags == "SA", "want SYN-ACK, got %s" % sa.flags)
        expect(sa.ack == (self.seq + 1) & 0xFFFFFFFF, "SYN-ACK acks %d, want ISN+1" % sa.ack)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.peer_isn = sa.seq
        self.ack = (sa.seq + 1) & 0xFFFFFFFF
        self.send("A")
        return sa

    def exchange(self, data, timeout=4.0, win=65535):
        """Send data (split at our MSS), ACK what comes back; return the echoed
        bytes and the segments that carried them."""
        for i in range(0, len(data), self.mss):
            chunk = data[i:i + self.mss]
            self.send("PA", data=chunk, win=win)
            self.seq = (self.seq + len(chunk)) & 0xFFFFFFFF
        got, segs = b"", []
        deadline = time.monotonic() + timeout
        while len(got) < len(data) and time.monotonic() < deadline:
            for p in self.recv(0.3):
                t = p[TCP]
                n = len(t.payload)
                expect(not t.flags.R, "RST while exchanging data")
                if n and t.seq == self.ack:
                    got += bytes(t.payload)
                    segs.append(t)
                    self.ack = (self.ack + n) & 0xFFFFFFFF
            self.send("A", win=win)
        return got, segs

    def alive(self):
        d = bytes(random.getrandbits(8) for _ in range(100))
        got, _ = self.exchange(d)
        return got == d

    def rst(self):
        self.send("R")


def opt(t, name):
    for o in t.options:
        if o[0] == name:
            return o[1]
    return None


# ---- cases ------------------------------------------------------------------
# Each takes the socket, raises Fail on a violation.

def syn_ack_carries_mss(s):
    c = Conn(s)
    sa = c.handshake()
    expect(opt(sa, "MSS") is not None, "SYN-ACK without MSS option")
    c.rst()


def unknown_option_is_ignored(s):
    c = Conn(s)
    c.handshake(opts=[("MSS", 1460), (99, b"\x01\x02"), ("NOP", None)])
    expect(c.alive(), "connection with an unknown SYN option does not carry data")
    c.rst()


def unaligned_options_are_parsed(s):
    c = Conn(s)
    sa = c.handshake(opts=[("NOP", None), ("NOP", None), ("NOP", None), ("MSS", 536)])
    expect(opt(sa, "MSS") is not None, "no MSS in SYN-ACK")
    _, segs = c.exchange(b"u" * 1500)
    expect(segs and max(len(t.payload) for t in segs) <= 536,
           "MSS 536 behind odd NOPs not applied")
    c.rst()


def peer_mss_is_respected(s):
    c = Conn(s, mss=536)
    c.handshake()
    data = bytes(random.getrandbits(8) for _ in range(4000))
    got, segs = c.exchange(data)
    expect(got == data, "echo of 4000 B incomplete (%d)" % len(got))
    big = max(len(t.payload) for t in segs)
    expect(big <= 536, "segment of %d B with peer MSS 536" % big)


def default_mss_is_536(s):
    c = Conn(s)
    c.handshake(opts=[])
    data = bytes(random.getrandbits(8) for _ in range(2000))
    c.mss = 536
    got, segs = c.exchange(data)
    expect(got == data, "echo incomplete (%d)" % len(got))
    big = max(len(t.payload) for t in segs)
    expect(big <= 536, "segment of %d B without MSS option (default 536)" % big)
    c.rst()


def no_mss_option_outside_syn(s):
    c = Conn(s)
    c.handshake()
    _, segs = c.exchange(b"m" * 1000)
    expect(segs, "no data back")
    expect(all(opt(t, "MSS") is None for t in segs), "MSS option on a non-SYN segment")
    c.rst()


def window_scale_and_timestamps_negotiated(s):
    c = Conn(s)
    sa = c.handshake(opts=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)),
                           ("NOP", None), ("WScale", 7)])
    expect(opt(sa, "WScale") is not None, "no window scale in SYN-ACK")
    expect(opt(sa, "Timestamp") is not None, "no timestamps in SYN-ACK")
    expect(opt(sa, "SAckOK") is not None, "no SACK-permitted in SYN-ACK")
    c.rst()


def no_options_offered_none_returned(s):
    c = Conn(s)
    sa = c.handshake(opts=[("MSS", 1460)])
    expect(opt(sa, "WScale") is None and opt(sa, "Timestamp") is None,
           "SYN-ACK carries WS/TS the SYN did not offer")
    c.rst()


def bad_checksum_is_dropped(s):
    c = Conn(s)
    c.send("S", opts=[("MSS", 1460)], chksum=0x1234)
    expect(c.one(1.5) is None, "answered a SYN with a bad checksum")


def syn_to_closed_port_gets_rst(s):
    c = Conn(s, dport=A.closed_port)
    c.send("S", opts=[("MSS", 1460)])
    r = c.one(2)
    expect(r is not None and r.flags.R, "no RST for a SYN to a closed port")
    expect(r.flags.A and r.ack == (c.seq + 1) & 0xFFFFFFFF, "RST must ACK SYN seq+1")


def ack_for_no_connection_gets_rst(s):
    c = Conn(s)
    c.send("A", ack=12345678)
    r = c.one(2)
    expect(r is not None and r.flags.R, "no RST for an ACK with no connection")
    expect(r.seq == 12345678, "RST seq %d, want the segment's ACK" % r.seq)


def rst_is_never_answered(s):
    c = Conn(s)
    c.send("R", ack=0)
    expect(c.one(1.5) is None, "answered a RST for no connection")


def bad_ack_in_syn_received_gets_rst(s):
    c = Conn(s)
    c.send("S", opts=[("MSS", 1460)])
    sa = c.one(3)
    expect(sa is not None and sa.flags == "SA", "no SYN-ACK")
    c.seq += 1
    bad = (sa.seq + 1000) & 0xFFFFFFFF
    c.send("A", ack=bad)
    r = c.one(2)
    expect(r is not None and r.flags.R and r.seq == bad,
           "unacceptable ACK in SYN-RECEIVED must get RST seq=SEG.ACK")


def rst_in_window_gets_challenge_ack(s):
    c = Conn(s)
    c.handshake()
    c.send("R", seq=(c.seq + 100) & 0xFFFFFFFF)
    r = c.one(2)
    expect(r is not None and r.flags == "A" and r.ack == c.seq,
           "in-window non-exact RST: want a challenge ACK acking %d" % c.seq)
    expect(c.alive(), "connection died on an in-window non-exact RST")
    c.rst()


def rst_out_of_window_is_ignored(s):
    c = Conn(s)
    c.handshake()
    c.send("R", seq=(c.seq + 0x40000000) & 0xFFFFFFFF)
    r = c.one(1)
    expect(r is None or not r.flags.R, "answered an out-of-window RST with RST")
    expect(c.alive(), "connection died on an out-of-window RST")
    c.rst()


def rst_at_rcv_nxt_resets(s):
    c = Conn(s)
    c.handshake()
    c.send("R")
    time.sleep(0.3)
    c.send("PA", data=b"after-reset")
    r = c.one(2)
    expect(r is not None and r.flags.R, "data after an exact RST did not get RST")


def syn_in_window_gets_challenge_ack(s):
    c = Conn(s)
    c.handshake()
    c.send("S", seq=(c.seq + 10) & 0xFFFFFFFF, opts=[("MSS", 1460)])
    r = c.one(2)
    expect(r is not None and r.flags == "A" and r.ack == c.seq,
           "SYN in ESTABLISHED: want a challenge ACK acking %d" % c.seq)
    expect(c.alive(), "connection died on a SYN in ESTABLISHED")
    c.rst()


def out_of_window_segment_gets_ack(s):
    c = Conn(s)
    c.handshake()
    c.send("PA", seq=(c.seq + 0x20000000) & 0xFFFFFFFF, data=b"far")
    r = c.one(2)
    expect(r is not None and r.flags == "A" and r.ack == c.seq,
           "out-of-window data: want an ACK acking %d" % c.seq)
    expect(c.alive(), "connection died on out-of-window data")
    c.rst()


def old_duplicate_data_gets_ack(s):
    c = Conn(s)
    c.handshake()
    expect(c.alive(), "no echo")
    c.send("PA", seq=(c.seq - 50) & 0xFFFFFFFF, data=b"d" * 50)
    r = c.one(2)
    expect(r is not None and r.flags.A and r.ack == c.seq and len(r.payload) == 0,
           "duplicate data: want a pure ACK acking %d" % c.seq)
    c.rst()


def bad_option_length_does_not_kill(s):
    c = Conn(s)
    c.handshake()
    # Option kind 8 (timestamps) claiming length 40: past the header end.
    # A pure ACK, so whether the stack drops it (meshgw) or reads up to the bad
    # option (Linux), the sequence space is the same afterwards.
    t = c.pkt("A")
    raw = bytes(t[TCP])
    hdr = raw[:20]
    o = bytes([8, 40, 0, 0])
    seg = bytearray(hdr[:12] + bytes([(24 // 4) << 4]) + hdr[13:] + o)
    seg[16:18] = b"\0\0"
    p = Ether(dst=A.gw_mac) / IP(src=A.src, dst=A.dst_ip, flags="DF", proto=6) / Raw(bytes(seg))
    p = Ether(bytes(p))
    p[TCP].chksum = None
    p = Ether(bytes(p))
    c.s.send(p)
    r = c.one(1)
    expect(r is None or not r.flags.R, "RST for a bad option length")
    expect(c.alive(), "connection died on a bad option length")
    c.rst()


def is_probe(t, una):
    """RFC 9293 3.8.6.1 (MUST-35/36): one byte of new data at SND.UNA, or the
    empty segment at SND.UNA - 1 that Linux sends; no SYN, FIN or RST."""
    if t.flags.S or t.flags.F or t.flags.R:
        return False
    n = len(t.payload)
    return (t.seq == una and n == 1) or (t.seq == (una - 1) & 0xFFFFFFFF and n == 0)


def zero_window_is_probed(s):
    c = Conn(s)
    c.handshake()
    data = b"z" * 1000
    c.send("PA", data=data, win=0)
    c.seq = (c.seq + len(data)) & 0xFFFFFFFF
    # The echo waits behind our zero window (SND.UNA = c.ack): everything that
    # comes must be a probe, and one must come.
    segs = [p[TCP] for p in c.recv(A.probe_wait)]
    bad = [(t.seq, len(t.payload), str(t.flags)) for t in segs
           if not is_probe(t, c.ack) and not (len(t.payload) == 0 and t.seq == c.ack)]
    expect(not bad, "into a zero window at SND.UNA %d came non-probes %s" % (c.ack, bad[:3]))
    probes = [t for t in segs if is_probe(t, c.ack)]
    expect(probes, "no zero-window probe (1 byte at SND.UNA or SND.UNA-1 empty) within %g s"
           % A.probe_wait)
    c.send("A", win=65535)
    got, _ = c.exchange(b"", timeout=3)
    # exchange sends nothing; collect the pending echo.
    deadline = time.monotonic() + 4
    while len(got) < len(data) and time.monotonic() < deadline:
        for p in c.recv(0.3):
            t = p[TCP]
            if len(t.payload) and t.seq == c.ack:
                got += bytes(t.payload)
                c.ack = (c.ack + len(t.payload)) & 0xFFFFFFFF
        c.send("A")
    expect(got == data, "echo after the window opened: %d of %d B" % (len(got), len(data)))
    c.rst()


def zero_window_peer_is_reset(s):
    """A peer that answers every probe and never opens its window is reset
    once the listener's zero-window timeout (--zero-window-timeout) passed."""
    if not A.zero_window_timeout:
        return
    c = Conn(s)
    c.handshake()
    data = b"z" * 1000
    c.send("PA", data=data, win=0)
    c.seq = (c.seq + len(data)) & 0xFFFFFFFF
    t0 = time.monotonic()
    probes, rst_at = 0, None
    while rst_at is None and time.monotonic() < t0 + A.zero_window_timeout + 5:
        for p in c.recv(0.5):
            t = p[TCP]
            if t.flags.R:
                rst_at = time.monotonic() - t0
                break
            if is_probe(t, c.ack):
                probes += 1
                c.send("A", win=0)  # the probe's byte not taken: still zero
    expect(probes >= 2, "only %d probes before the give-up" % probes)
    expect(rst_at is not None, "no RST within %g s of a shut window"
           % (A.zero_window_timeout + 5))
    expect(rst_at >= A.zero_window_timeout - 1, "RST after %.1f s, before the %g s timeout"
           % (rst_at, A.zero_window_timeout))


def fin_is_acked_and_returned(s):
    """Half-close: our FIN is ACKed, the echo server then closes, and its FIN
    comes back through the proxy (FIN propagates as FIN)."""
    c = Conn(s)
    c.handshake()
    expect(c.alive(), "no echo")
    c.send("FA")
    fin_seq = c.seq
    c.seq = (c.seq + 1) & 0xFFFFFFFF
    acked = fin = False
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and not (acked and fin):
        for p in c.recv(0.3):
            t = p[TCP]
            expect(not t.flags.R, "RST after our FIN")
            if t.flags.A and t.ack == c.seq:
                acked = True
            if t.flags.F and t.seq == c.ack:
                fin = True
    expect(acked, "our FIN (seq %d) was not ACKed" % fin_seq)
    expect(fin, "no FIN came back after the half-close")
    c.ack = (c.ack + 1) & 0xFFFFFFFF
    c.send("A")


def fin_with_the_handshake_ack(s):
    c = Conn(s)
    c.send("S", opts=[("MSS", 1460)])
    sa = c.one(3)
    expect(sa is not None and sa.flags == "SA", "no SYN-ACK")
    c.seq = (c.seq + 1) & 0xFFFFFFFF
    c.ack = (sa.seq + 1) & 0xFFFFFFFF
    c.send("FA")
    c.seq = (c.seq + 1) & 0xFFFFFFFF
    acked = False
    for p in c.recv(3):
        t = p[TCP]
        expect(not t.flags.R, "RST after ACK+FIN in SYN-RECEIVED")
        acked |= bool(t.flags.A and t.ack == c.seq)
    expect(acked, "FIN carried on the handshake ACK was not ACKed")
    c.rst()


def retransmitted_fin_is_acked_again(s):
    c = Conn(s)
    c.handshake()
    c.send("FA")
    c.seq = (c.seq + 1) & 0xFFFFFFFF
    first = [p[TCP] for p in c.recv(1.5)]
    expect(any(t.flags.A and t.ack == c.seq for t in first), "FIN not ACKed")
    fins = [t for t in first if t.flags.F]
    # Our FIN again, as if its ACK was lost, still not acking the peer's FIN
    # (the peer is in CLOSE-WAIT or LAST-ACK): it must be ACKed again.
    c.send("FA", seq=(c.seq - 1) & 0xFFFFFFFF)
    r = c.one(2)
    expect(r is not None and r.flags.A and r.ack == c.seq,
           "a retransmitted FIN must be ACKed again")
    if fins:
        c.ack = (fins[0].seq + len(fins[0].payload) + 1) & 0xFFFFFFFF
    c.send("A")


CASES = [syn_ack_carries_mss, unknown_option_is_ignored, unaligned_options_are_parsed,
         peer_mss_is_respected, default_mss_is_536, no_mss_option_outside_syn,
         window_scale_and_timestamps_negotiated, no_options_offered_none_returned,
         bad_checksum_is_dropped, syn_to_closed_port_gets_rst, ack_for_no_connection_gets_rst,
         rst_is_never_answered, bad_ack_in_syn_received_gets_rst,
         rst_in_window_gets_challenge_ack, rst_out_of_window_is_ignored,
         rst_at_rcv_nxt_resets, syn_in_window_gets_challenge_ack,
         out_of_window_segment_gets_ack, old_duplicate_data_gets_ack,
         bad_option_length_does_not_kill, zero_window_is_probed,
         zero_window_peer_is_reset,
         fin_is_acked_and_returned, fin_with_the_handshake_ack,
         retransmitted_fin_is_acked_again]


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--gw-mac", required=True)
    ap.add_argument("--src", default="198.18.1.2")
    ap.add_argument("--dst", default="198.18.1.1:8080")
    ap.add_argument("--closed-port", type=int, default=8099)
    ap.add_argument("--probe-wait", type=float, default=3.0)
    ap.add_argument("--zero-window-timeout", type=float, default=0,
                    help="the listener's zero_window_timeout_s (0: skip that case)")
    ap.add_argument("--case", action="append")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    A = ap.parse_args()
    if A.list:
        print("\n".join(f.__name__ for f in CASES))
        return 0
    random.seed(A.seed)
    A.dst_ip, A.dport = A.dst.rsplit(":", 1)[0], int(A.dst.rsplit(":", 1)[1])
    sock = conf.L2socket(iface=A.iface, filter="tcp and src host %s" % A.dst_ip)
    bad = 0
    for f in CASES:
        if A.case and f.__name__ not in A.case:
            continue
        try:
            f(sock)
            print("ok %s" % f.__name__, flush=True)
        except Fail as e:
            bad += 1
            print("NOT OK %s: %s" % (f.__name__, e), flush=True)
        time.sleep(0.1)
    sock.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
