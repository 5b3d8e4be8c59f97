#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Craft frames for the gateway's deny path and send them from a raw socket.

Run inside a namespace of the standard topology (tests/topo.sh), normally
mg-client:

  ip netns exec mg-client /usr/bin/python3 tests/integration/send_frames.py \
      syn --count 10000 --gw-mac 02:00:c6:12:01:01 --expect /tmp/want.json
  ip netns exec mg-client /usr/bin/python3 tests/integration/send_frames.py \
      garbage --count 10000 --gw-mac 02:00:c6:12:01:01 --expect /tmp/want.json

`arp` sends --count ARP frames claiming --arp-psrc (the next address for each
frame with --arp-sweep) is at --arp-hwsrc (default: the interface's MAC, which
is also the Ethernet source): `--arp-op reply` unicast replies to the gateway
that it never asked for, `--arp-op request` broadcast requests for the
gateway's address, `--arp-op gratuitous` broadcast requests for the sender's
own address. It expects nothing (no --expect); the test reads the counters.

`syn` sends TCP SYNs to the gateway's address, half to 443 and half to other
ports, none of which has a listener. `garbage` sends frames made by category,
each broken in exactly one way (everything else in the frame is valid, checksums
included) so that the gateway must drop it under one known reason. Both write
{drop reason: frames sent} as JSON to --expect; the test compares that with the
gateway's /meshgw/drops.

Frames always carry the sending interface's own unicast source MAC (the fabric
bridge drops frames from a multicast source) and go to the gateway's MAC unless
the category is about the destination MAC. Sending is paced (--rate frames per
second) and, with --gateway-prefix, kept at most --inflight frames ahead of the
gateway's own receive counter, so the ring in front of the gateway never
overflows even when the machine is busy: a frame lost there would be missing
from every counter, not a counted drop.

Needs Debian's python3-scapy: run it with /usr/bin/python3.
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from rawframe import csum as csum16

# Ethertypes nobody handles; length-style values (< 0x0600) too.
UNKNOWN_ETHERTYPES = (0x88B5, 0x88B6, 0x1234, 0x0100, 0x9000)


def wrong(good):
    """A 16-bit checksum that differs from @good and is not 0 (0 means
    'no checksum' for UDP), nor its ones'-complement twin 0xffff."""
    while True:
        bad = random.randint(1, 0xFFFE)
        if bad != good:
            return bad


class GatewayRx:
    """The gateway's receive counter for one port, read from its DPDK
    telemetry socket (a path, so reachable from any network namespace)."""

    def __init__(self, prefix, port):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
        self.sock.recv(1 << 16)  # greeting
        self.keys = ["port.%s.rx_packets" % port, "port/%s/rx_packets" % port,
                     "port_%s_rx_packets" % port]

    def rx_packets(self):
        self.sock.send(b"/meshgw/stats")
        d = json.loads(self.sock.recv(1 << 20))["/meshgw/stats"]
        for k in self.keys:
            if k in d:
                return d[k]
        raise KeyError(self.keys[0])


class Sender:
    """One AF_PACKET socket on @ifname, paced at @rate frames per second and,
    with @gw, never more than @inflight frames ahead of what the gateway has
    taken in: a worker that the scheduler parks for a while (the machine is
    shared) must not find its receive ring overflowed, as a frame lost there
    is never counted."""

    def __init__(self, ifname, rate, gw=None, inflight=256, stall=10.0):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((ifname, 0))
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.gw = gw
        self.inflight = inflight
        self.stall = stall
        self.sent = 0
        self.waited = 0.0
        self.unseen = None

    def wait_for_gateway(self, rx0, upto):
        """Wait (at most self.stall s) until the gateway counted @upto frames
        since @rx0; returns how many it has not seen."""
        t0 = time.monotonic()
        while True:
            missing = upto - (self.gw.rx_packets() - rx0)
            if missing <= 0 or time.monotonic() - t0 > self.stall:
                self.waited += time.monotonic() - t0
                return max(missing, 0)
            time.sleep(0.002)

    def send_all(self, frames):
        rx0 = self.gw.rx_packets() if self.gw else 0
        start = time.monotonic()
        for i, frame in enumerate(frames):
            if self.gw and i and i % self.inflight == 0:
                self.wait_for_gateway(rx0, i - self.inflight // 2)
            # Pace against the clock, in small bursts: sleep only when ahead.
            if self.gap and i % 32 == 0:
                ahead = start + i * self.gap - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            self.sock.send(frame)
            self.sent += 1
        if self.gw:
            self.unseen = self.wait_for_gateway(rx0, len(frames))
        return time.monotonic() - start


class Factory:
    """Builds frames from the client to the gateway."""

    def __init__(self, args, src_mac):
        self.src_mac = src_mac
        self.gw_mac = args.gw_mac
        self.src_ip = args.src
        self.dst_ip = args.dst
        self.other_mac = args.other_mac

    def eth(self, dst=None, etype=None):
        e = Ether(src=self.src_mac, dst=dst or self.gw_mac)
        if etype is not None:
            e.type = etype
        return e

    def ip(self, **kw):
        kw.setdefault("src", self.src_ip)
        kw.setdefault("dst", self.dst_ip)
        kw.setdefault("ttl", random.randint(2, 255))
        kw.setdefault("id", random.randint(0, 0xFFFF))
        return IP(**kw)

    @staticmethod
    def payload(lo=0, hi=48):
        return Raw(bytes(random.getrandbits(8) for _ in range(random.randint(lo, hi))))

    @staticmethod
    def sport():
        return random.randint(1024, 65535)

    def tcp_syn(self, dport):
        return self.eth() / self.ip() / TCP(sport=self.sport(), dport=dport,
                                            flags="S", seq=random.getrandbits(32),
                                            window=64240)

    def udp(self, dport=None, **ipkw):
        return (self.eth() / self.ip(**ipkw) /
                UDP(sport=self.sport(), dport=dport or random.randint(1, 65535)) /
                self.payload())

    # --- IPv4 header, patched after scapy built a valid frame ---------------

    @staticmethod
    def patch_ip(frame, fix_csum=True, **fields):
        """Rewrite IPv4 header fields of a built frame (bytes), optionally
        recomputing the header checksum over the (new) header length."""
        b = bytearray(frame)
        ip = 14
        if "ver_ihl" in fields:
            b[ip] = fields["ver_ihl"]
        if "tot_len" in fields:
            struct.pack_into("!H", b, ip + 2, fields["tot_len"])
        if fix_csum:
            ihl = max(5, b[ip] & 0x0F) * 4
            struct.pack_into("!H", b, ip + 10, 0)
            struct.pack_into("!H", b, ip + 10, csum16(bytes(b[ip:ip + ihl])))
        return bytes(b)

    # --- the categories: each returns one frame (bytes) ---------------------

    def ip_checksum(self):
        b = bytearray(bytes(self.udp()))
        good = struct.unpack_from("!H", b, 24)[0]
        struct.pack_into("!H", b, 24, wrong(good))
        return bytes(b)

    def ip_truncated(self):
        # Ethertype IPv4 and fewer than 20 bytes of IPv4 header after it.
        full = bytes(self.udp())
        return full[:14 + random.randint(0, 19)]

    def ip_version(self):
        frame = bytes(self.udp())
        ver = random.choice((0, 5, 6, 7, 15))
        return self.patch_ip(frame, ver_ihl=(ver << 4) | 5)

    def ip_hdr_len(self):
        frame = bytes(self.udp())
        return self.patch_ip(frame, ver_ihl=0x40 | random.randint(0, 4))

    def ip_total_len(self):
        frame = bytes(self.udp())
        have = len(frame) - 14
        return self.patch_ip(frame, tot_len=have + random.randint(1, 400))

    def ip_options(self):
        opts = random.choice((b"\x01\x01\x01\x00",          # NOP NOP NOP EOL
                              b"\x94\x04\x00\x00",          # router alert
                              b"\x07\x07\x04" + bytes(4) + b"\x00"))  # record route
        return bytes(self.eth() / self.ip(options=[Raw(opts)]) /
                     UDP(sport=self.sport(), dport=random.randint(1, 65535)) /
                     self.payload())

    def ip_fragment(self):
        if random.random() < 0.5:
            ip = self.ip(flags="MF", frag=0)          # first fragment
        else:
            ip = self.ip(frag=random.randint(1, 800))  # later fragment
        return bytes(self.eth() / ip / self.payload(16, 64))

    def ip_martian(self):
        # Martian anywhere (0/8, 127/8, multicast, broadcast), and martian on
        # this port: the gateway's own address and the subnet's broadcast.
        src = random.choice(("127.0.0.1", "0.0.0.7", "224.0.0.5",
                             "255.255.255.255", "239.1.2.3",
                             self.dst_ip, "198.18.1.255"))
        return bytes(self.udp(src=src))

    def not_ours(self):
        dst = "198.18.1.%d" % random.randint(4, 254)
        return bytes(self.udp(dst=dst))

    def l4_proto(self):
        proto = random.choice((47, 50, 132, 253))  # GRE, ESP, SCTP, experiment
        return bytes(self.eth() / self.ip(proto=proto) / self.payload(8, 40))

    def l2_not_ours(self):
        # A unicast MAC nobody has: the bridge floods it to every port.
        return bytes(self.eth(dst=self.other_mac) / self.ip() /
                     UDP(sport=self.sport(), dport=53) / self.payload())

    def ethertype(self):
        return bytes(self.eth(etype=random.choice(UNKNOWN_ETHERTYPES)) /
                     self.payload(46, 64))

    def vlan(self):
        return bytes(self.eth() / Dot1Q(vlan=random.randint(1, 4094)) /
                     self.ip() / UDP(sport=self.sport(), dport=53) / self.payload())

    def ipv6(self):
        return bytes(self.eth() / IPv6(src="2001:db8::2", dst="2001:db8::1") /
                     UDP(sport=self.sport(), dport=53) / self.payload())

    def tcp_checksum(self):
        b = bytearray(bytes(self.tcp_syn(443)))
        off = 14 + 20 + 16
        good = struct.unpack_from("!H", b, off)[0]
        struct.pack_into("!H", b, off, wrong(good))
        return bytes(b)

    def tcp_hdr_len(self):
        # Data offset below 5 words, checksum right for the bytes as sent.
        t = TCP(sport=self.sport(), dport=443, flags="S",
                seq=random.getrandbits(32), dataofs=random.randint(0, 4))
        return bytes(self.eth() / self.ip() / t)

    def tcp_flags(self):
        flags = random.choice(("SF", "SR", "", "SRF"))
        t = TCP(sport=self.sport(), dport=443, flags=flags,
                seq=random.getrandbits(32))
        return bytes(self.eth() / self.ip() / t)

    def tcp_truncated(self):
        # Fewer than 20 bytes of TCP inside a consistent IPv4 packet.
        return bytes(self.eth() / self.ip(proto=6) / self.payload(0, 19))

    def tcp_port_zero(self):
        return bytes(self.tcp_syn(0))

    def udp_checksum(self):
        b = bytearray(bytes(self.udp()))
        off = 14 + 20 + 6
        good = struct.unpack_from("!H", b, off)[0]
        struct.pack_into("!H", b, off, wrong(good))
        return bytes(b)

    def udp_len(self):
        # UDP length longer than the IPv4 payload (checksum zero: not used).
        b = bytearray(bytes(self.udp()))
        ulen = struct.unpack_from("!H", b, 14 + 20 + 4)[0]
        struct.pack_into("!HH", b, 14 + 20 + 4, ulen + random.randint(1, 100), 0)
        return bytes(b)

    def udp_truncated(self):
        return bytes(self.eth() / self.ip(proto=17) / self.payload(0, 7))

    def udp_no_listener(self):
        return bytes(self.udp())

    def icmp_checksum(self):
        b = bytearray(bytes(self.eth() / self.ip() /
                            ICMP(type=8, id=random.getrandbits(16), seq=1) /
                            self.payload(8, 32)))
        off = 14 + 20 + 2
        good = struct.unpack_from("!H", b, off)[0]
        struct.pack_into("!H", b, off, wrong(good))
        return bytes(b)

    def icmp_truncated(self):
        return bytes(self.eth() / self.ip(proto=1) / self.payload(0, 7))

    def icmp_unhandled(self):
        # Timestamp, information and address-mask requests, router solicit.
        icmp_type = random.choice((13, 15, 17, 10))
        return bytes(self.eth() / self.ip() / ICMP(type=icmp_type) /
                     self.payload(0, 24))

    def arp_malformed(self):
        arp = bytes(ARP(op=1, hwsrc=self.src_mac, psrc=self.src_ip,
                        pdst=self.dst_ip))
        how = random.randint(0, 2)
        if how == 0:    # truncated
            arp = arp[:random.randint(0, 27)]
        elif how == 1:  # hardware type 6 (IEEE 802), not Ethernet
            arp = b"\x00\x06" + arp[2:]
        else:           # an opcode that is neither request nor reply
            arp = arp[:6] + b"\x00\x05" + arp[8:]
        return bytes(self.eth(etype=0x0806) / Raw(arp))

    def arp_not_ours(self):
        tip = "198.18.1.%d" % random.randint(4, 254)
        return bytes(Ether(src=self.src_mac, dst="ff:ff:ff:ff:ff:ff") /
                     ARP(op=1, hwsrc=self.src_mac, psrc=self.src_ip, pdst=tip))


# Category -> the /meshgw/drops reason it must be counted under. Runts (frames
# shorter than an Ethernet header) are not here: Linux refuses to send a frame
# shorter than 14 bytes on a veth, so the unit tests cover them.
CATEGORIES = {
    "ip_checksum": "ip_checksum",
    "ip_truncated": "ip_truncated",
    "ip_version": "ip_version",
    "ip_hdr_len": "ip_hdr_len",
    "ip_total_len": "ip_total_len",
    "ip_options": "ip_options",
    "ip_fragment": "ip_fragment",
    "ip_martian": "ip_martian",
    "not_ours": "not_ours",
    "l4_proto": "l4_proto",
    "l2_not_ours": "l2_not_ours",
    "ethertype": "ethertype",
    "vlan": "vlan",
    "ipv6": "ipv6",
    "tcp_checksum": "tcp_checksum",
    "tcp_hdr_len": "tcp_hdr_len",
    "tcp_flags": "tcp_flags",
    "tcp_truncated": "tcp_truncated",
    "tcp_port_zero": "tcp_port_zero",
    "udp_checksum": "udp_checksum",
    "udp_len": "udp_len",
    "udp_truncated": "udp_truncated",
    "udp_no_listener": "udp_no_listener",
    "icmp_checksum": "icmp_checksum",
    "icmp_truncated": "icmp_truncated",
    "icmp_unhandled": "icmp_unhandled",
    "arp_malformed": "arp_malformed",
    "arp_not_ours": "arp_not_ours",
}


def build_syn(fac, count):
    frames = []
    for i in range(count):
        dport = 443 if i % 2 == 0 else random.choice(
            (80, 22, 8080, 8443, 15001, random.randint(1, 65535)))
        frames.append(bytes(fac.tcp_syn(dport)))
    random.shuffle(frames)
    return frames, {"tcp_no_listener": count}


def build_garbage(fac, count, only):
    names = only or list(CATEGORIES)
    per, extra = divmod(count, len(names))
    plan = []
    expect = {}
    for i, name in enumerate(names):
        n = per + (1 if i < extra else 0)
        plan += [name] * n
        reason = CATEGORIES[name]
        expect[reason] = expect.get(reason, 0) + n
    random.shuffle(plan)
    return [getattr(fac, name)() for name in plan], expect


def build_arp(fac, args):
    """ARP frames as the arp kind describes; no expectation file."""
    hw = args.arp_hwsrc or fac.src_mac
    base = struct.unpack("!I", socket.inet_aton(args.arp_psrc or args.src))[0]
    frames = []
    for i in range(args.count):
        psrc = socket.inet_ntoa(struct.pack("!I", base + (i if args.arp_sweep else 0)))
        if args.arp_op == "reply":
            eth_dst, op, hwdst, pdst = fac.gw_mac, 2, fac.gw_mac, args.dst
        else:
            eth_dst, op, hwdst = "ff:ff:ff:ff:ff:ff", 1, "00:00:00:00:00:00"
            pdst = psrc if args.arp_op == "gratuitous" else args.dst
        frames.append(bytes(Ether(src=hw, dst=eth_dst) /
                            ARP(op=op, hwsrc=hw, psrc=psrc, hwdst=hwdst, pdst=pdst)))
    return frames, {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("syn", "garbage", "arp", "list"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--gw-mac", required=False, help="the gateway port's MAC")
    ap.add_argument("--other-mac", default="02:00:00:00:99:99",
                    help="a unicast MAC nobody owns (l2_not_ours)")
    ap.add_argument("--src", default="198.18.1.2")
    ap.add_argument("--dst", default="198.18.1.1")
    ap.add_argument("--rate", type=float, default=20000.0, help="frames/s")
    ap.add_argument("--gateway-prefix",
                    help="EAL file prefix of the receiving meshgw: stay at most "
                         "--inflight frames ahead of its port counter")
    ap.add_argument("--gateway-port", default="fabric")
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--only", action="append", choices=sorted(CATEGORIES),
                    help="garbage: only these categories (repeatable)")
    ap.add_argument("--expect", help="write {reason: count} JSON here")
    ap.add_argument("--arp-op", choices=("reply", "request", "gratuitous"), default="reply")
    ap.add_argument("--arp-psrc", help="arp: the address claimed (default --src)")
    ap.add_argument("--arp-hwsrc", help="arp: the MAC claimed (default the interface's)")
    ap.add_argument("--arp-sweep", action="store_true",
                    help="arp: claim --arp-psrc, then the next address, ...")
    args = ap.parse_args()

    if args.kind == "list":
        for name, reason in CATEGORIES.items():
            print(name, reason)
        return 0
    if not args.gw_mac:
        ap.error("--gw-mac is required")
    random.seed(args.seed)
    with open("/sys/class/net/%s/address" % args.iface) as f:
        src_mac = f.read().strip()
    fac = Factory(args, src_mac)

    t0 = time.monotonic()
    if args.kind == "syn":
        frames, expect = build_syn(fac, args.count)
    elif args.kind == "arp":
        frames, expect = build_arp(fac, args)
    else:
        frames, expect = build_garbage(fac, args.count, args.only)
    built = time.monotonic() - t0

    gw = GatewayRx(args.gateway_prefix, args.gateway_port) if args.gateway_prefix else None
    sender = Sender(args.iface, args.rate, gw, args.inflight)
    took = sender.send_all(frames)
    print("%s: built %d frames in %.1f s, sent in %.2f s (%.0f/s, %.2f s waiting "
          "for the gateway)" % (args.kind, len(frames), built, took,
                                len(frames) / max(took, 1e-9), sender.waited),
          file=sys.stderr)
    if sender.unseen:
        print("%s: the gateway's port counter is %d frames short of what was "
              "sent: lost before the gateway (ring overflow?)" %
              (args.kind, sender.unseen), file=sys.stderr)
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump(expect, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
