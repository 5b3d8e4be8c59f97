/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Read-only meshgw commands on DPDK's telemetry socket: /meshgw/status,
 * /meshgw/stats, /meshgw/drops, /meshgw/neighbours, /meshgw/policy,
 * /meshgw/audit, /meshgw/faults and /meshgw/attest. None changes anything.
 * Only /meshgw/attest takes a parameter (a nonce); any other parameter is
 * refused.
 */
#ifndef MG_TELEMETRY_H
#define MG_TELEMETRY_H

#include "gateway.h"

/** Register the commands; they read @p gw from the telemetry thread. */
MG_RESULT mg_telemetry_register(struct mg_gateway *gw);

#endif /* MG_TELEMETRY_H */
