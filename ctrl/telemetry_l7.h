/* SPDX-License-Identifier: BSD-3-Clause */
/** @file /meshgw/l7 (telemetry_l7.c), registered by telemetry.c. */
#ifndef MG_TELEMETRY_L7_H
#define MG_TELEMETRY_L7_H

#include <rte_telemetry.h>

struct mg_gateway;

/** The workers' HTTP gate: requests, verdicts, refusals by parser and path reason. */
int mg_tel_l7(struct mg_gateway *gw, const char *params, struct rte_tel_data *d);

#endif /* MG_TELEMETRY_L7_H */
