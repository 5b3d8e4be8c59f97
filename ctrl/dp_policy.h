/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The policy's answers for the workers (dp_policy.c): authorization, the
 * workload behind an address, the TLS state, the generation.
 *
 * Verdicts are the policy's (enum mg_authz) plus one of the data path's:
 * a plaintext client (tcp, outbound) whose source address maps to no
 * workload. A connection the policy admits only for per-request HTTP checks
 * is MG_PROXY_ALLOW_L7 with verdict allow_l7; each of its requests is then
 * decided by authorize_http (verdict allow, deny_rule, deny_no_rule...).
 * (Before the HTTP layer, such a connection was refused as deny_needs_l7;
 * audit records written then keep that name as text.)
 */
#ifndef MG_DP_POLICY_H
#define MG_DP_POLICY_H

#include <stdint.h>

#include "policy.h"
#include "proxy.h"

#define MG_DP_VERDICT_NO_WORKLOAD (MG_AUTHZ__COUNT)
#define MG_DP_VERDICTS (MG_AUTHZ__COUNT + 1)

_Static_assert(MG_DP_VERDICTS <= MG_PROXY_AUTHZ_MAX, "proxy counts too few verdicts");

extern const struct mg_proxy_env mg_dp_policy_env;

/** Name of a verdict as counted and audited ("deny_no_rule"). */
const char *mg_dp_verdict_name(uint16_t v);

#endif /* MG_DP_POLICY_H */
