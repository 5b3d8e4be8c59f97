#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Send one hand-made TLS 1.3 ClientHello and say what the server answered, for
the checks a TLS library's own client cannot make (mtls_surface.sh): OpenSSL
3 as shipped by Debian has no compression, so no client offers it.

  tls_hello.py HOST PORT [--compression 1,0] [--timeout S]

The ClientHello offers TLS 1.3 only (supported_versions), every TLS 1.3
suite, the groups a policy may name (a key share for X25519 only), the
ECDSA, EdDSA and RSA-PSS signature algorithms, and the given
legacy_compression_methods (default
"0", the only list RFC 8446 4.1.2 allows). Prints one line: "server_hello",
"alert LEVEL DESCRIPTION" or "closed", and exits 0 whatever it was.
"""

import argparse
import os
import socket
import struct


def ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def vec8(b):
    return struct.pack("!B", len(b)) + b


def vec16(b):
    return struct.pack("!H", len(b)) + b


def client_hello(compression):
    suites = struct.pack("!5H", 0x1301, 0x1302, 0x1303, 0x1304, 0x1305)
    exts = b"".join([
        ext(43, vec8(struct.pack("!H", 0x0304))),              # supported_versions: 1.3
        # supported_groups: x25519, P-256, P-384, P-521, x448; a key share
        # for x25519 only (a server that takes another asks again: a
        # HelloRetryRequest, which is a ServerHello too)
        ext(10, vec16(struct.pack("!5H", 0x001D, 0x0017, 0x0018, 0x0019, 0x001E))),
        ext(13, vec16(struct.pack("!6H", 0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804))),
        ext(51, vec16(struct.pack("!HH", 0x001D, 32) + os.urandom(32))),     # key_share x25519
    ])
    body = (struct.pack("!H", 0x0303) + os.urandom(32) + vec8(os.urandom(32))
            + vec16(suites) + vec8(bytes(compression)) + vec16(exts))
    hs = struct.pack("!B", 1) + struct.pack("!I", len(body))[1:] + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--compression", default="0")
    p.add_argument("--timeout", type=float, default=5)
    a = p.parse_args()
    comp = [int(x) for x in a.compression.split(",")]
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(client_hello(comp))
    try:
        head = recv_exact(s, 5)
        if len(head) < 5:
            print("closed")
            return
        kind, _, length = struct.unpack("!BHH", head)
        body = recv_exact(s, length)
    except OSError:
        print("closed")
        return
    if kind == 22 and body[:1] == b"\x02":
        print("server_hello")
    elif kind == 21 and len(body) >= 2:
        print("alert", body[0], body[1])
    else:
        print("record", kind)


if __name__ == "__main__":
    main()
