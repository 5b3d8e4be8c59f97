#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hand-made HTTP/1.1 over one mTLS connection, for the L7 checks that curl
cannot make (l7_inbound.sh): smuggling attempts, pipelining, paths curl
would normalize itself, and several requests on one connection around a
policy push.

  l7_raw.py --connect HOST:PORT --ca CA --cert CERT --key KEY [--plain]
            [--wait-file F --ready-file R] REQ [REQ ...]

Each REQ is sent as it is after C-style escapes are decoded ("\\r\\n",
"\\x00"); a REQ of "@pause" writes the ready file, then waits (10 s at most)
for the wait file before the next REQ goes. All REQs before a pause go in one
write (pipelined). Responses are read and framed (Content-Length, chunked,
or until close) until the server closes or 2 s pass without a byte. Prints
one JSON line: {"statuses": [...], "bodies": [...first 120 bytes...],
"closed": bool, "error": str|null}; exits 0 whatever happened.
"""

import argparse
import json
import os
import socket
import ssl
import time


def decode(req):
    return req.encode("latin-1").decode("unicode_escape").encode("latin-1")


class Reader:
    def __init__(self, sock):
        self.sock, self.buf, self.closed = sock, b"", False

    def fill(self, timeout):
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def until(self, token, timeout):
        while token not in self.buf:
            if not self.fill(timeout):
                return None
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exactly(self, n, timeout):
        while len(self.buf) < n:
            if not self.fill(timeout):
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, timeout):
        """(status, body) of the next response, or None."""
        head = self.until(b"\r\n\r\n", timeout)
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = self.until(b"\r\n", timeout)
                if size is None:
                    return status, body
                n = int(size.split(b";")[0], 16)
                if n == 0:
                    self.until(b"\r\n", timeout)  # the empty trailer section
                    return status, body
                chunk = self.exactly(n + 2, timeout)
                if chunk is None:
                    return status, body
                body += chunk[:-2]
        if "content-length" in fields:
            body = self.exactly(int(fields["content-length"]), timeout) or b""
            return status, body
        if 100 <= status < 200 or status in (204, 304):
            return status, b""
        while self.fill(timeout):
            pass
        body, self.buf = self.buf, b""
        return status, body


def connect(a):
    host, port = a.connect.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=5)
    if a.plain:
        return raw
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE if not a.ca else ssl.CERT_REQUIRED
    if a.ca:
        ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    return ctx.wrap_socket(raw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connect", required=True)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--wait-file")
    p.add_argument("--ready-file")
    p.add_argument("reqs", nargs="+")
    a = p.parse_args()
    out = {"statuses": [], "bodies": [], "closed": False, "error": None}
    try:
        s = connect(a)
        r = Reader(s)
        groups, cur = [], []
        for req in a.reqs:
            if req == "@pause":
                groups += [cur, None]
                cur = []
            else:
                cur.append(decode(req))
        groups.append(cur)
        for g in groups:
            if g is None:
                open(a.ready_file, "w").close()
                end = time.time() + 10
                while not os.path.exists(a.wait_file) and time.time() < end:
                    time.sleep(0.05)
                continue
            if not g:
                continue
            s.sendall(b"".join(g))
            # Read what these requests get; a later group waits for the pause.
            for _ in g:
                got = r.response(2.0)
                if got is None:
                    break
                out["statuses"].append(got[0])
                out["bodies"].append(got[1][:120].decode("latin-1"))
        # Whatever else comes, and whether the server closes.
        while True:
            got = r.response(1.0)
            if got is None:
                break
            out["statuses"].append(got[0])
            out["bodies"].append(got[1][:120].decode("latin-1"))
        if not r.closed:
            r.fill(1.0)
        out["closed"] = r.closed
    except (OSError, ssl.SSLError, ValueError, IndexError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
