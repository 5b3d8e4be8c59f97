/* SPDX-License-Identifier: BSD-3-Clause */
/** @file /meshgw/cycles (telemetry_cycles.c), registered by telemetry.c. */
#ifndef MG_TELEMETRY_CYCLES_H
#define MG_TELEMETRY_CYCLES_H

#include <rte_telemetry.h>

struct mg_gateway;

/** Where the workers' busy cycles went, by stage, and per packet, KiB, connection. */
int mg_tel_cycles(struct mg_gateway *gw, const char *params, struct rte_tel_data *d);

#endif /* MG_TELEMETRY_CYCLES_H */
