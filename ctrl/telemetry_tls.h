/* SPDX-License-Identifier: BSD-3-Clause */
/** @file /meshgw/tls and /meshgw/peers (telemetry_tls.c), registered by telemetry.c. */
#ifndef MG_TELEMETRY_TLS_H
#define MG_TELEMETRY_TLS_H

#include <rte_telemetry.h>

struct mg_gateway;

/** TLS counters by reason, verdicts, the node's SVIDs. No parameters. */
int mg_tel_tls(struct mg_gateway *gw, const char *params, struct rte_tel_data *d);
/** Proxied pairs: listener, client, peer ID, rule, generation; parameter: how many to skip. */
int mg_tel_peers(struct mg_gateway *gw, const char *params, struct rte_tel_data *d);

#endif /* MG_TELEMETRY_TLS_H */
