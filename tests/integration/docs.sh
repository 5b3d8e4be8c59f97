#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The documentation's examples, run: every fenced block of README.md and
# docs/*.md is either run (gateway.conf through `meshgw --check`, policy.conf
# through `meshctl snapshot build/sign/verify`, shell blocks in a scratch
# directory, some against a live gateway) or marked as not runnable, and the
# tables that restate the code (drop reasons, TCP counters, telemetry keys) are
# compared with it both ways. docs_check.py's header has the markers.
#
#  netns mg-client --+
#                    +-- br0 (mg-fabric) -- fab0  meshgw (mg-gw) "fabric"  <- meshctl (host):
#  netns mg-backend ----------------------- loc0  meshgw (mg-gw) "local"      telemetry, control
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mg_test_setup mgt-docs
trap mg_cleanup EXIT
test_cleanup() { rm -rf /run/meshgw-docs; }

mg_expect "every documentation example and code table checks out" \
	"$MG_PYTHON" "$MG_ROOT/tests/integration/docs_check.py"
mg_finish
