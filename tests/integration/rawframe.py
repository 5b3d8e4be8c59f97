# SPDX-License-Identifier: BSD-3-Clause
"""What the raw-socket senders (tcp_synflood.py, tcp_guard.py, tcp_oom.py) share
to build frames with struct instead of scapy: the Internet checksum and MAC text.
"""

import struct


def csum(data):
    """RFC 1071 Internet checksum of bytes."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(s):
    """'02:00:c6:12:01:01' as six bytes."""
    return bytes(int(x, 16) for x in s.split(":"))
