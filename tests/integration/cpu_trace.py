#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Where a worker's time goes, from `perf script --ns -F tid,time,event,trace`
on stdin; prints one line of JSON. For mtls_flood.sh.

  cpu_trace.py core      of `perf record -C CPU -e sched:sched_switch -e
                         irq:softirq_entry -e irq:softirq_exit -e
                         irq:irq_handler_entry -e irq:irq_handler_exit`:
                         softirq and hard-irq runs on that core (count, total
                         µs, runs of at least --long µs, the longest) and the
                         times the worker (comm rte-worker-*) was switched out
  cpu_trace.py syscalls  of `perf record -t WORKER_TID -e raw_syscalls:sys_enter
                         -e raw_syscalls:sys_exit -e sched:sched_switch -e
                         irq:softirq_entry -e irq:softirq_exit -e
                         irq:irq_handler_entry -e irq:irq_handler_exit`: the
                         worker's own stretches of user-space work between two
                         system calls (its code: parse, TCP, TLS records,
                         proxy, handshake jobs; less the interrupts and
                         softirqs that ran on its time meanwhile) and its
                         system calls (the kernel's af_xdp and, on veth, the
                         peers' network stacks run inside them), each as
                         count, total µs, at least --long µs, longest; a
                         stretch during which the worker was switched out is
                         counted apart (off_cpu), interrupts too (irq); with
                         -e exceptions:page_fault_user, the page faults and
                         the long stretches that took one
  cpu_trace.py stretches of `perf record -t WORKER_TID -F 20000 -e cpu-clock -e
                         raw_syscalls:sys_enter -e raw_syscalls:sys_exit`, as
                         `perf script -F time,event,ip,sym`: the functions
                         sampled inside the stretches of --long µs or more
"""

import argparse
import json
import re
import sys

class Runs:
    def __init__(self, long_us):
        self.long_us, self.n, self.total, self.long, self.max = long_us, 0, 0.0, 0, 0.0

    def add(self, d):
        self.n += 1
        self.total += d
        self.long += d >= self.long_us
        self.max = max(self.max, d)

    def json(self):
        return {"n": self.n, "total_us": round(self.total, 1), "long": self.long,
                "max_us": round(self.max, 1)}


def syscalls(a):
    user, kern, off, irq = Runs(a.long), Runs(a.long), Runs(a.long), Runs(a.long)
    by_nr = {}
    last_exit, enter, enter_nr, switched = None, None, None, False
    irq_at, in_irq = None, 0.0  # an interrupt or softirq run on the worker's time
    faults, fault_in, long_with_fault = 0, 0, 0  # user page faults (kernel time, not syscalls)
    for line in sys.stdin:
        f = line.split(None, 3)
        if len(f) < 4:
            continue
        t, ev = float(f[1].rstrip(":")) * 1e6, f[2].rstrip(":")
        if ev == "sched:sched_switch":
            switched = True
        elif ev in ("irq:softirq_entry", "irq:irq_handler_entry"):
            irq_at = t if irq_at is None else irq_at
        elif ev in ("irq:softirq_exit", "irq:irq_handler_exit"):
            if irq_at is not None:
                irq.add(t - irq_at)
                if last_exit is not None:  # in a user stretch: not the worker's work
                    in_irq += t - irq_at
            irq_at = None
        elif ev.startswith("exceptions:page_fault"):
            faults += 1
            fault_in += last_exit is not None
        elif ev == "raw_syscalls:sys_enter":
            if last_exit is not None:
                d = t - last_exit - in_irq
                (off if switched else user).add(d)
                long_with_fault += not switched and d >= a.long and fault_in > 0
            enter, enter_nr, switched, last_exit = t, f[3].split()[1], False, None
        elif ev == "raw_syscalls:sys_exit":
            if enter is not None and f[3].split()[1] == enter_nr:
                d = t - enter
                (off if switched else kern).add(d)
                if not switched:
                    by_nr.setdefault(enter_nr, Runs(a.long)).add(d)
            last_exit, enter, switched, in_irq, fault_in = t, None, False, 0.0, 0
    print(json.dumps({"user": user.json(), "syscall": kern.json(), "off_cpu": off.json(),
                      "irq": irq.json(), "page_faults": faults,
                      "long_user_with_page_fault": long_with_fault,
                      "by_nr": {k: v.json() for k, v in sorted(by_nr.items())}}))


def stretches(a):
    """What the worker's code runs in its long stretches between system calls."""
    last_exit, samples, long_syms, all_syms, n_long = None, [], {}, {}, 0
    for line in sys.stdin:
        f = line.split()
        if len(f) < 3:
            continue
        t, ev = float(f[0].rstrip(":")) * 1e6, f[1].rstrip(":")
        if ev == "raw_syscalls:sys_enter":
            if last_exit is not None and t - last_exit >= a.long:
                n_long += 1
                for sym in samples:
                    long_syms[sym] = long_syms.get(sym, 0) + 1
            last_exit, samples = None, []
        elif ev == "raw_syscalls:sys_exit":
            last_exit, samples = t, []
        elif ev.startswith("cpu-clock"):
            sym = f[3] if len(f) > 3 else "?"
            all_syms[sym] = all_syms.get(sym, 0) + 1
            if last_exit is not None:
                samples.append(sym)
    top = lambda d: dict(sorted(d.items(), key=lambda kv: -kv[1])[:15])
    print(json.dumps({"long_stretches": n_long, "in_long": top(long_syms), "all": top(all_syms)}))


def core(a):
    open_sirq, open_irq = {}, None
    sirq = {}  # vec name -> [count, total_us, long, max_us]
    irq = [0, 0.0, 0, 0.0]
    out_at, outs, instead, states = None, [], {}, {}
    for line in sys.stdin:
        f = line.split(None, 3)
        if len(f) < 4:
            continue
        t, ev, rest = float(f[1].rstrip(":")) * 1e6, f[2].rstrip(":"), f[3]
        if ev == "irq:softirq_entry":
            open_sirq[re.search(r"action=(\w+)", rest).group(1)] = t
        elif ev == "irq:softirq_exit":
            name = re.search(r"action=(\w+)", rest).group(1)
            if name in open_sirq:
                d = t - open_sirq.pop(name)
                s = sirq.setdefault(name, [0, 0.0, 0, 0.0])
                s[0] += 1
                s[1] += d
                s[2] += d >= a.long
                s[3] = max(s[3], d)
        elif ev == "irq:irq_handler_entry":
            open_irq = t
        elif ev == "irq:irq_handler_exit" and open_irq is not None:
            d = t - open_irq
            irq[0] += 1
            irq[1] += d
            irq[2] += d >= a.long
            irq[3] = max(irq[3], d)
            open_irq = None
        elif ev == "sched:sched_switch":
            prev = re.search(r"prev_comm=(.*?) prev_pid=", rest).group(1)
            nxt = re.search(r"next_comm=(.*?) next_pid=", rest).group(1)
            if prev.startswith("rte-worker"):
                out_at = t
                instead[nxt] = instead.get(nxt, 0) + 1
                st = re.search(r"prev_state=(\S+)", rest).group(1)
                states[st] = states.get(st, 0) + 1
            elif nxt.startswith("rte-worker") and out_at is not None:
                outs.append(t - out_at)
                out_at = None
    r = lambda x: round(x, 1)
    print(json.dumps({
        "softirq": {k: {"runs": v[0], "total_us": r(v[1]), "long": v[2], "max_us": r(v[3])}
                    for k, v in sorted(sirq.items())},
        "hardirq": {"runs": irq[0], "total_us": r(irq[1]), "long": irq[2], "max_us": r(irq[3])},
        "worker_off_cpu": {"times": len(outs), "long": sum(d >= a.long for d in outs),
                           "total_us": r(sum(outs)), "max_us": r(max(outs, default=0)),
                           "instead": instead, "state": states},
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["core", "syscalls", "stretches"])
    p.add_argument("--long", type=float, default=31.0, help="µs")
    a = p.parse_args()
    {"core": core, "syscalls": syscalls, "stretches": stretches}[a.mode](a)


if __name__ == "__main__":
    main()
