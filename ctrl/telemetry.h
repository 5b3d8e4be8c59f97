/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Read-only meshgw commands on DPDK's telemetry socket: /meshgw/status,
 * /meshgw/stats, /meshgw/drops, /meshgw/neighbours. None of them takes
 * parameters or changes anything; a request with parameters is refused.
 */
#ifndef MG_TELEMETRY_H
#define MG_TELEMETRY_H

#include "gateway.h"

/** Register the commands; they read @p gw from the telemetry thread. */
MG_RESULT mg_telemetry_register(struct mg_gateway *gw);

#endif /* MG_TELEMETRY_H */
