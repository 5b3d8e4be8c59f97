/* SPDX-License-Identifier: BSD-3-Clause */
/** @file /meshgw/l7/rules (telemetry_rules.c), registered by telemetry.c. */
#ifndef MG_TELEMETRY_RULES_H
#define MG_TELEMETRY_RULES_H

#include <rte_telemetry.h>

struct mg_gateway;

/**
 * The active generation and, for each rule with HTTP terms, its name and the
 * requests it allowed and denied (summed over the workers; they restart with
 * each generation). Parameter: how many such rules to skip.
 */
int mg_tel_l7_rules(struct mg_gateway *gw, const char *params, struct rte_tel_data *d);

#endif /* MG_TELEMETRY_RULES_H */
