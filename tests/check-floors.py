#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Floors only point down (README "Layout").

base/ <- drivers/ <- dataplane/ <- ctrl/ <- ctrl/meshctl/: every `#include "x.h"`
in a C file of the floors must name a header on the includer's floor or a lower
one. Prints each include that climbs; exits 1 if there is any.

Usage: tests/check-floors.py [ROOT]       check a tree (default: this repository)
       tests/check-floors.py --self-test  plant climbing includes in copies of the
                                          tree; each must be caught
"""
import os
import re
import shutil
import sys
import tempfile

FLOORS = ["base", "drivers", "dataplane", "ctrl", "ctrl/meshctl"]
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def floor(path):
    """The floor of a path relative to the root: the deepest floor folder it is in."""
    best = None
    for i, f in enumerate(FLOORS):
        if path.startswith(f + "/"):
            best = i
    return best


def sources(root):
    for top in FLOORS[:4]:
        for d, _, files in os.walk(os.path.join(root, top)):
            for n in files:
                if n.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, n), root)


def check(root):
    files = sorted(set(sources(root)))
    headers, problems = {}, []
    for f in files:
        if f.endswith(".h"):
            n = os.path.basename(f)
            if n in headers:
                problems.append(f"two headers named {n}: {headers[n]} and {f}")
            headers[n] = f
    for f in files:
        with open(os.path.join(root, f), errors="replace") as fh:
            for inc in INCLUDE.findall(fh.read()):
                target = headers.get(os.path.basename(inc))
                if target and floor(target) > floor(f):
                    problems.append(f"{f} ({FLOORS[floor(f)]}/) includes {target} "
                                    f"({FLOORS[floor(target)]}/)")
    for p in problems:
        print("check-floors:", p)
    if not problems:
        print(f"check-floors: {len(files)} files, no include climbs a floor")
    return 1 if problems else 0


def self_test(here):
    plants = [("drivers/port.c", "worker.h"), ("dataplane/parse.c", "config.h"),
              ("base/mg_error.c", "port.h"), ("ctrl/loader.c", "meshctl_cmds.h"),
              ("dataplane/tcp/tcp_input.c", "gateway.h")]
    with tempfile.TemporaryDirectory() as tmp:
        def fresh():
            for f in FLOORS[:4]:
                shutil.rmtree(os.path.join(tmp, f), ignore_errors=True)
                shutil.copytree(os.path.join(here, f), os.path.join(tmp, f))
        fresh()
        if check(tmp) != 0:
            print("self-test: the clean tree already fails")
            return 1
        for path, inc in plants:
            fresh()
            with open(os.path.join(tmp, path), "a") as fh:
                fh.write(f'#include "{inc}"\n')
            if check(tmp) != 1:
                print(f"self-test: {path} including {inc} was not caught")
                return 1
    print(f"self-test: all {len(plants)} planted climbing includes caught")
    return 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test(here))
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else here))
