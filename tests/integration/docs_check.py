#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run the examples of README.md and docs/*.md, and compare the tables that
restate the code with the code, so that the documentation cannot rot.

Every fenced code block in those files carries a marker on the line before it,
and a table that is checked carries one too:

  <!-- test: gateway-conf -->           a whole gateway.conf: `meshgw --check` exits 0
  <!-- test: gateway-conf-refused -->   a gateway.conf whose first line is
                                        `# expect: LINE: FIELD: PROBLEM`: exit 78 and
                                        stderr holds FILE:LINE: FIELD: PROBLEM
  <!-- test: policy-conf -->            a whole policy.conf: built into a snapshot,
                                        signed with a fresh key, verified, inspected
  <!-- test: policy-conf-refused -->    a policy.conf with `# expect: ...` as above:
                                        `meshctl snapshot build` fails and says so
  <!-- test: sh [gateway [trust=A.pub,B.pub threshold=K]] -->
                                        run with bash -euo pipefail in the page's own
                                        scratch directory (blocks of a page share it,
                                        in order); with `gateway`, a meshgw runs on the
                                        standard topology (restarted when the trust
                                        differs), MESHGW_PREFIX and MESHGW_CONTROL name
                                        it and /var/lib/meshgw in the block is its
                                        state_dir
  <!-- test: xmacro FILE MACRO [except=a,b] [names] -->
                                        the table's first column is exactly the
                                        X-macro's names, in order, and its second the
                                        macro's descriptions where it has them (not
                                        with `names`: the page says more)
  <!-- test: telemetry-keys COMMAND --> every key of `meshctl COMMAND --json` from a
                                        running gateway matches a backquoted key of the
                                        table's first column (<...> = [a-z0-9_]+), and
                                        every one of those matches a key
  <!-- no-test: REASON -->              a synopsis, a picture or sample output

An unmarked block fails the check, so a new example cannot be left out by
accident. The scratch directory of a page holds the test CA bundles of
tests/data/policy/ and, as policy.conf, the first policy-conf example of
docs/policy.conf.md. README.md must also hold `make demo` and `make test` in its
first 40 lines, be at most 250 lines long and link every page of docs/; every
relative link must name a file that exists (and a heading of it, for #anchor).

Usage: docs_check.py [--no-gateway] [FILE...]   (default: README.md docs/*.md)
Environment: MG_BUILD (meshgw, meshctl), MG_LOG_DIR (gateway logs). Root and
the topology (tests/topo.sh) are needed for `gateway` blocks and key tables;
tests/integration/docs.sh provides both.
"""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.realpath(os.environ.get("MG_BUILD", os.path.join(ROOT, "build")))
MESHGW = os.environ.get("MESHGW", os.path.join(BUILD, "meshgw"))
MESHCTL = os.environ.get("MESHCTL", os.path.join(BUILD, "meshctl"))
LOG_DIR = os.environ.get("MG_LOG_DIR", "/tmp/meshgw-logs")
WORK = "/run/meshgw-docs"

MARK = re.compile(r"^\s*<!--\s*(test|no-test):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+)(.*)$")


class Failure(Exception):
    pass


def run(cmd, cwd=None, env=None, timeout=60, stdin=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def items(path):
    """(kind, line, marker or None, body) for each fenced block and each table
    right after a marker; a marker must sit on the line before its block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i, pending = [], 0, None
    while i < len(lines):
        m = MARK.match(lines[i])
        if m:
            pending = (m.group(1), m.group(2))
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f:
            indent, ticks = len(f.group(1)), f.group(2)
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(ticks):
                j += 1
            body = [l[indent:] if l[:indent].strip() == "" else l for l in lines[i + 1:j]]
            out.append(("code", i + 1, pending, body))
            pending, i = None, j + 1
            continue
        if pending and lines[i].lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            out.append(("table", i + 1, pending, lines[i:j]))
            pending, i = None, j
            continue
        if pending:
            out.append(("orphan", i, pending, []))
            pending = None
        i += 1
    return out


def table_rows(lines):
    """Cells of each row after the header and separator."""
    rows = []
    for l in lines[2:]:
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        rows.append(cells)
    return rows


def expect_line(body):
    if not body or not body[0].startswith("# expect: "):
        raise Failure("a refused example must start with '# expect: LINE: FIELD: PROBLEM'")
    return body[0][len("# expect: "):]


def check_gateway_conf(body, scratch, refused):
    path = os.path.join(scratch, "gateway.conf")
    open(path, "w").write("\n".join(body) + "\n")
    rc, out, err = run([MESHGW, "--check", "-c", path])
    if not refused:
        if rc != 0:
            raise Failure("meshgw --check exit %d: %s" % (rc, (err or out).strip()))
        return "meshgw --check: ok"
    want = path + ":" + expect_line(body)
    if rc != 78 or want not in err:
        raise Failure("meshgw --check exit %d (want 78), stderr %r, want %r"
                      % (rc, err.strip(), want))
    return "meshgw --check: exit 78, " + err.strip()


def policy_fixtures(scratch):
    for pem in glob.glob(os.path.join(ROOT, "tests", "data", "policy", "*.pem")):
        shutil.copy(pem, scratch)


def check_policy_conf(body, scratch, refused):
    d = tempfile.mkdtemp(dir=scratch)
    policy_fixtures(d)
    open(os.path.join(d, "policy.conf"), "w").write("\n".join(body) + "\n")
    build = [MESHCTL, "snapshot", "build", "policy.conf", "--version", "1",
             "--not-before", "now", "--ttl", "1d", "-o", "p.msnap"]
    rc, out, err = run(build, cwd=d)
    if refused:
        want = "policy.conf:" + expect_line(body)
        if rc == 0 or want not in err:
            raise Failure("snapshot build exit %d, stderr %r, want %r" % (rc, err.strip(), want))
        return "snapshot build refused: " + err.strip()
    if rc != 0:
        raise Failure("snapshot build exit %d: %s" % (rc, err.strip()))
    steps = [[MESHCTL, "keygen", "-o", "signer"],
             [MESHCTL, "snapshot", "sign", "p.msnap", "--key", "signer.key"],
             [MESHCTL, "snapshot", "verify", "p.msnap", "--trust", "signer.pub",
              "--threshold", "1"],
             [MESHCTL, "snapshot", "inspect", "p.msnap"]]
    for cmd in steps:
        rc, out, err = run(cmd, cwd=d)
        if rc != 0:
            raise Failure("%s: exit %d: %s" % (" ".join(cmd[1:3]), rc, (err or out).strip()))
    return "built, signed, verified, inspected"


def xmacro(path, name):
    """(name, description or None) of each entry of `#define name(_)`."""
    src = open(os.path.join(ROOT, path)).read()
    m = re.search(r"#define\s+" + re.escape(name) + r"\(_\)\s*\\\n((?:.*\\\n)*.*\n)", src)
    if not m:
        raise Failure("no X-macro %s in %s" % (name, path))
    # _(SYM, name, "desc"), _(name, "desc"), _(SYM, name), _(name), or _(SYM, "name")
    ent = re.compile(r'_\(\s*(?:([A-Z][A-Z0-9_]*)\s*,\s*)?(?:([a-z0-9_]+)|"([a-z0-9_]+)")\s*'
                     r'(?:,\s*"((?:[^"\\]|\\.)*)")?\s*\)')
    body = m.group(1).replace("\\\n", " ")  # an entry may continue on the next line
    return [(e.group(2) or e.group(3), e.group(4)) for e in ent.finditer(body)]


def check_xmacro(args, rows):
    path, name = args[0], args[1]
    skip = set()
    for a in args[2:]:
        if a.startswith("except="):
            skip |= set(a[len("except="):].split(","))
    code = [e for e in xmacro(path, name) if e[0] not in skip]
    doc = [(r[0].strip("`"), r[1] if len(r) > 1 else "") for r in rows]
    problems = []
    cn, dn = [c[0] for c in code], [d[0] for d in doc]
    for n in cn:
        if n not in dn:
            problems.append("%s is in %s but not in the table" % (n, name))
    for n in dn:
        if n not in cn:
            problems.append("%s is in the table but not in %s" % (n, name))
    if not problems and cn != dn:
        problems.append("the table's order differs from %s" % name)
    for (n, desc), (dname, ddesc) in zip(code, doc):
        if "names" not in args and desc is not None and n == dname and desc != ddesc:
            problems.append("%s: the table says %r, the code %r" % (n, ddesc, desc))
    if problems:
        raise Failure("; ".join(problems))
    return "%d entries of %s match" % (len(code), name)


class Gateway:
    """One meshgw at a time on the standard topology, with the docs' conf."""

    def __init__(self):
        self.pid, self.key, self.n = None, None, 0
        self.prefix = self.state = self.socket = None
        self.failures = []

    def ensure(self, trust, threshold):
        key = (tuple(trust), threshold)
        if self.pid and (not trust or key == self.key):
            return
        self.stop()
        self.n += 1
        self.key = key
        d = os.path.join(WORK, "gw%d" % self.n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "state"), mode=0o700)
        self.state, self.socket = os.path.join(d, "state"), os.path.join(d, "control.sock")
        self.prefix = "mgt-docs-%d" % self.n
        conf = open(os.path.join(ROOT, "conf", "demo", "gateway.conf")).read()
        conf = re.sub(r"(?m)^state_dir = .*$", 'state_dir = "%s";' % self.state, conf)
        conf = re.sub(r"(?m)^(\s*)socket = .*$", r'\1socket = "%s";' % self.socket, conf)
        # A fault group that injects nothing, so /meshgw/faults shows every key.
        conf = conf.replace('device = "net_af_xdp1,iface=loc0";',
                            'device = "net_af_xdp1,iface=loc0";\n'
                            '    fault = { seed = 1; rx = { loss = 0.0; }; tx = { loss = 0.0; }; };')
        if trust:
            conf += "trust = { keys = [ %s ]; threshold = %d; };\n" % (
                ", ".join('"%s"' % t for t in trust), threshold)
        path = os.path.join(d, "gateway.conf")
        open(path, "w").write(conf)
        rc, out, err = run([os.path.join(ROOT, "tests", "run-gateway.sh"), path, self.prefix],
                           timeout=60)
        if rc != 0:
            raise Failure("the docs gateway did not start: " + err.strip()[-600:])
        self.pid = int(out.strip())

    def stop(self):
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        rcfile = os.path.join(LOG_DIR, self.prefix + ".rc")
        for _ in range(100):
            if os.path.exists(rcfile):
                break
            time.sleep(0.1)
        rc = open(rcfile).read().strip() if os.path.exists(rcfile) else "none"
        if rc != "0":
            self.failures.append("gateway %s exited %s (log %s/%s.log)"
                                 % (self.prefix, rc, LOG_DIR, self.prefix))
            if rc == "none":
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.pid = None

    def env(self, base):
        e = dict(base)
        e["MESHGW_PREFIX"], e["MESHGW_CONTROL"] = self.prefix, self.socket
        return e


def marker_args(text):
    words = shlex.split(text)
    return words[0] if words else "", words[1:]


def check_sh(args, body, scratch, gw, env):
    opts = dict(a.split("=", 1) for a in args if "=" in a)
    script = "\n".join(body) + "\n"
    e = env
    if "gateway" in args:
        if gw is None:
            return None
        trust = [os.path.join(scratch, t) for t in opts.get("trust", "").split(",") if t]
        gw.ensure(trust, int(opts.get("threshold", "0")))
        e = gw.env(env)
        script = script.replace("/var/lib/meshgw", gw.state)
    rc, out, err = run(["bash", "-euo", "pipefail", "-c", script], cwd=scratch, env=e,
                       timeout=120, stdin="")
    if rc != 0:
        raise Failure("exit %d\n--- stdout\n%s--- stderr\n%s" % (rc, out[-1500:], err[-1500:]))
    return "ok (%d lines of output)" % len(out.splitlines())


def check_keys(args, rows, gw):
    if gw is None:
        return None
    gw.ensure([], 0)
    rc, out, err = run([MESHCTL, "-f", gw.prefix, args[0], "--json"])
    if rc != 0:
        raise Failure("meshctl %s --json: exit %d %s" % (args[0], rc, err.strip()))
    keys = list(json.loads(out).keys())
    pats = []
    for r in rows:
        for k in re.findall(r"`([^`]+)`", r[0]):
            rx = "".join("[a-z0-9_]+" if p.startswith("<") else re.escape(p)
                         for p in re.split(r"(<[^>]+>)", k))
            pats.append((k, re.compile(rx + r"\Z")))
    problems = ["%s: printed by the gateway, in no row" % k
                for k in keys if not any(p.match(k) for _, p in pats)]
    problems += ["%s: in the table, printed by no key" % k
                 for k, p in pats if not any(p.match(x) for x in keys)]
    if problems:
        raise Failure("; ".join(problems))
    return "%d keys, %d rows match both ways" % (len(keys), len(pats))


def slug(heading):
    """GitHub's anchor for a heading."""
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def link_checks(files):
    """Every relative link names a file that exists and, with #anchor, a heading of it."""
    problems, anchors = [], {}
    for path in files:
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"(?ms)^\s*```.*?^\s*```", "", text)  # not inside code blocks
        for m in re.finditer(r"\]\(([^)\s]+)\)", text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                if file_part else path
            if not os.path.exists(dest):
                problems.append("%s: link to %s: no such file" % (os.path.relpath(path, ROOT), target))
                continue
            if anchor and dest.endswith(".md"):
                if dest not in anchors:
                    body = re.sub(r"(?ms)^\s*```.*?^\s*```", "", open(dest, encoding="utf-8").read())
                    anchors[dest] = {slug(h) for h in re.findall(r"(?m)^#+ (.*)$", body)}
                if anchor not in anchors[dest]:
                    problems.append("%s: link to %s: no such heading" % (os.path.relpath(path, ROOT), target))
    return problems


def readme_checks():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    lines = text.split("\n")
    problems = []
    head = "\n".join(lines[:40])
    for cmd in ("make demo", "make test"):
        if cmd not in head:
            problems.append("README.md: '%s' is not in its first 40 lines" % cmd)
    if len(lines) - 1 > 250:
        problems.append("README.md: %d lines, more than 250" % (len(lines) - 1))
    for page in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        if "(docs/%s" % os.path.basename(page) not in text:
            problems.append("README.md does not link docs/%s" % os.path.basename(page))
    return problems


def main(argv):
    use_gateway = "--no-gateway" not in argv
    files = [a for a in argv if not a.startswith("--")]
    if not files:
        files = [os.path.join(ROOT, "README.md")] + sorted(
            glob.glob(os.path.join(ROOT, "docs", "*.md")))
    os.makedirs(WORK, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = BUILD + ":" + env.get("PATH", "")
    gw = Gateway() if use_gateway else None
    ran = skipped = 0
    failures = readme_checks() + link_checks(files)
    for msg in failures:
        print("FAIL " + msg)
    policy_example = None
    for kind, line, mark, body in items(os.path.join(ROOT, "docs", "policy.conf.md")):
        if mark and mark == ("test", "policy-conf"):
            policy_example = body
            break
    try:
        for path in files:
            rel = os.path.relpath(path, ROOT)
            scratch = tempfile.mkdtemp(prefix=os.path.basename(path) + ".", dir=WORK)
            policy_fixtures(scratch)
            if policy_example:
                open(os.path.join(scratch, "policy.conf"), "w").write(
                    "\n".join(policy_example) + "\n")
            page_skipped = False  # a later sh block may need what a skipped one made
            for kind, line, mark, body in items(path):
                where = "%s:%d" % (rel, line)
                if kind == "orphan":
                    failures.append("%s: marker not followed by a block or table" % where)
                    print("FAIL %s: marker not followed by a block or table" % where)
                    continue
                if mark is None:
                    if kind == "code":
                        failures.append("%s: code block without a test or no-test marker" % where)
                        print("FAIL %s: code block without a test or no-test marker" % where)
                    continue
                if mark[0] == "no-test":
                    skipped += 1
                    continue
                what, args = marker_args(mark[1])
                try:
                    if what in ("gateway-conf", "gateway-conf-refused") and kind == "code":
                        res = check_gateway_conf(body, scratch, what.endswith("refused"))
                    elif what in ("policy-conf", "policy-conf-refused") and kind == "code":
                        res = check_policy_conf(body, scratch, what.endswith("refused"))
                    elif what == "sh" and kind == "code":
                        res = None if page_skipped else check_sh(args, body, scratch, gw, env)
                        page_skipped = res is None
                    elif what == "xmacro" and kind == "table":
                        res = check_xmacro(args, table_rows(body))
                    elif what == "telemetry-keys" and kind == "table":
                        res = check_keys(args, table_rows(body), gw)
                    else:
                        raise Failure("unknown marker '%s' on a %s" % (mark[1], kind))
                    if res is None:
                        skipped += 1
                        print("skip %s %s (--no-gateway, or after such a block)"
                              % (where, mark[1]))
                        continue
                    ran += 1
                    print("ok   %s %s: %s" % (where, mark[1], res.splitlines()[0][:120]))
                except (Failure, subprocess.TimeoutExpired, OSError, ValueError) as e:
                    failures.append("%s %s" % (where, mark[1]))
                    print("FAIL %s %s: %s" % (where, mark[1], e))
    finally:
        if gw:
            gw.stop()
            for f in gw.failures:
                failures.append(f)
                print("FAIL " + f)
    print("docs: %d examples and tables checked, %d not run (no-test or skipped), %d failed"
          % (ran, skipped, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
