#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The rule sets of bench/l7.sh: N path rules for meshgw's policy and the
equivalent nginx locations, from one list, so both servers hold the same set.

   l7_rules.py --rules N --client-id ID --backend-ip IP --backend-port PORT
               --ca FILE --policy OUT --nginx OUT [--regex-every K]

Rule i allows the client's SPIFFE ID to the backend with one path:
  i % 4 == 3           a prefix  "/api/v<i%3>/s<i>/*"   nginx: location ^~ /api/v<i%3>/s<i>/
  i % K == K-1 (K > 0) a regex   "~^/re/s<i>/[0-9]+$"  nginx: location ~ ^/re/s<i>/[0-9]+$
  otherwise            an exact  "/api/v<i%3>/s<i>/items"  nginx: location = ...
Rules are named l7-<i, 5 digits>; the policy's canonical form sorts rules by
name, so the target (an exact path of one of the last four rules) is "near the
end" for any matcher that walks the rules in order. Requests that match no rule
get 403 from both (meshgw: default deny; nginx: location / { return 403; }).
N = 0: one rule without http terms (the connection is allowed, nothing is
checked per request) and nginx proxies every path.

Prints one JSON object: {"rules": N, "target": PATH, "denied": PATH}.
Regex paths are off by default (K = 0): the policy language accepts them only
once the L7 gate lands (issue 14).
"""
import argparse
import json
import sys


def path_of(i, regex_every):
    if regex_every and i % regex_every == regex_every - 1:
        return "~^/re/s%d/[0-9]+$" % i, "location ~ ^/re/s%d/[0-9]+$" % i
    if i % 4 == 3:
        p = "/api/v%d/s%d/" % (i % 3, i)
        return p + "*", "location ^~ %s" % p
    p = "/api/v%d/s%d/items" % (i % 3, i)
    return p, "location = %s" % p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--backend-ip", required=True)
    ap.add_argument("--backend-port", type=int, default=80)
    ap.add_argument("--client-ip", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--regex-every", type=int, default=0)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--nginx", required=True)
    a = ap.parse_args()
    if not 0 <= a.rules <= 65536 or a.regex_every < 0:
        sys.exit("l7_rules.py: --rules 0..65536, --regex-every >= 0")

    rules, locs, target = [], [], None
    for i in range(a.rules):
        pat, loc = path_of(i, a.regex_every)
        rules.append('  { name = "l7-%05d"; action = "allow"; from = [ "%s" ];\n'
                     '    to = { workload = "backend"; ports = [ %d ]; };\n'
                     '    http = { paths = [ "%s" ]; }; }'
                     % (i, a.client_id, a.backend_port, pat.replace("\\", "\\\\")))
        locs.append("\t%s { proxy_pass http://l7_backend; }" % loc)
        if i >= a.rules - 4 and pat.startswith("/") and not pat.endswith("*"):
            target = pat
    if a.rules == 0:
        rules.append('  { name = "plain-allow"; action = "allow"; from = [ "%s" ];\n'
                     '    to = { workload = "backend"; ports = [ %d ]; }; }'
                     % (a.client_id, a.backend_port))
        locs.append("\tlocation / { proxy_pass http://l7_backend; }")
        target = "/api/v0/s0/items"
    else:
        locs.append("\tlocation / { return 403; }")

    with open(a.policy, "w") as f:
        f.write("# bench/l7_rules.py --rules %d\n" % a.rules)
        f.write('default_action = "deny";\n')
        f.write('tls = { ciphersuites = [ "TLS_AES_128_GCM_SHA256" ]; groups = [ "X25519" ]; };\n')
        f.write('trust_domains = ( { name = "example.org"; bundle_file = "%s"; } );\n' % a.ca)
        f.write("workloads = (\n"
                '  { name = "backend"; spiffe_id = "spiffe://example.org/ns/prod/sa/backend";\n'
                '    addresses = [ "%s" ]; ports = [ %d ]; },\n'
                '  { name = "client"; spiffe_id = "%s"; addresses = [ "%s" ]; }\n);\n'
                % (a.backend_ip, a.backend_port, a.client_id, a.client_ip))
        f.write("rules = (\n%s\n);\n" % ",\n".join(rules))
    with open(a.nginx, "w") as f:
        f.write("# bench/l7_rules.py --rules %d (included in the server block)\n" % a.rules)
        f.write("\n".join(locs) + "\n")
    json.dump({"rules": a.rules, "target": target, "denied": "/denied/by-every-rule-set"},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
